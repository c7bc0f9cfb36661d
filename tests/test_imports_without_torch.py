"""The live server and the numpy-only model modules import with torch blocked."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

NUMPY_ONLY_MODEL = ["model.config", "model.constants", "model.errors", "model.skeleton",
                    "model.features", "model.beats", "model.tempo", "model.synth_music"]

BLOCKER = """
import importlib.abc, sys

class _NoTorch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError(f"torch is blocked in this test (import of {name!r})")
        return None

sys.meta_path.insert(0, _NoTorch())
for m in [m for m in sys.modules if m == "torch" or m.startswith("torch.")]:
    del sys.modules[m]
"""


def _live_modules() -> list[str]:
    mods = ["live", "live.cli"]
    for p in sorted((REPO / "live").glob("*.py")):
        if p.stem != "__init__":
            mods.append(f"live.{p.stem}")
    for p in sorted((REPO / "live" / "commands").glob("*.py")):
        if p.stem != "__init__":
            mods.append(f"live.commands.{p.stem}")
    return mods


def _import_blocked(modules: list[str]) -> subprocess.CompletedProcess[str]:
    code = BLOCKER + "\nimport importlib\n" + "".join(
        f"importlib.import_module({m!r})\n" for m in modules
    ) + "assert 'torch' not in sys.modules\nprint('ok')\n"
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, timeout=120)


def test_the_blocker_really_blocks_torch() -> None:
    r = _import_blocked(["torch"])
    assert r.returncode != 0 and "torch is blocked" in r.stderr


def test_live_and_every_live_module_import_without_torch() -> None:
    mods = _live_modules()
    assert "live.cli" in mods and len(mods) >= 3
    r = _import_blocked(mods)
    assert r.returncode == 0, r.stderr[-2000:]


def test_numpy_only_model_modules_import_without_torch() -> None:
    mods = [m for m in NUMPY_ONLY_MODEL if (REPO / (m.replace(".", "/") + ".py")).exists()]
    r = _import_blocked(mods)
    assert r.returncode == 0, r.stderr[-2000:]


def test_cli_help_runs_without_torch() -> None:
    code = BLOCKER + "\nfrom live.cli import build_parser\nbuild_parser().format_help()\nprint('ok')\n"
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]


def test_live_show_runs_without_librosa_scipy_or_numba() -> None:
    """`dancemuse live` on the demo for a second (features, beat tracker, model, post) loads
    none of librosa, scipy or numba: filterbanks are numpy, audio is soundfile/ffmpeg."""
    model = REPO / "models" / "default.onnx"
    code = ("import sys\nfrom live.cli import main\n"
            f"rc = main(['live', '--input', 'demo', '--duration', '1', '--no-osc', '--osc-listen', '', "
            f"'--no-web', '--model', {str(model)!r}])\n"
            "bad = sorted({m.split('.')[0] for m in sys.modules} & {'librosa', 'scipy', 'numba', 'torch'})\n"
            "assert rc == 0 and not bad, (rc, bad)\nprint('ok')\n")
    env = dict(__import__("os").environ, DANCEMUSE_NO_FAST_EXIT="1", OMP_NUM_THREADS="1")
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=180, env=env)
    assert r.returncode == 0 and "ok" in r.stdout, r.stderr[-2000:]
