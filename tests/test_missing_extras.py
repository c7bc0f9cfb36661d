"""A quick-start install (`.[cpu]`: no torch, onnx or matplotlib) gets one line naming the
extra to install for the commands that need more, never a ModuleNotFoundError traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

BLOCKER = """
import importlib.abc, sys
class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {blocked!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None
sys.meta_path.insert(0, Blocker())
from live.cli import main
sys.exit(main(sys.argv[1:]))
"""


def run_without(blocked: set[str], args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-c", BLOCKER.format(blocked=blocked), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("args, extra", [
    (["features", "demo", "--seconds", "3", "--plot", "f.png"], "video"),
    (["export", "c.pt", "-o", "m.onnx"], "train"),
    (["evaluate", "--model", "c.pt", "--songs", "demo"], "train"),
    (["train", "--data", "set", "--out", "run"], "train"),
    (["bench", "step"], "train"),
])
def test_missing_optional_package_names_the_extra(tmp_path: Path, args: list[str], extra: str) -> None:
    (tmp_path / "c.pt").write_bytes(b"not really a checkpoint")
    (tmp_path / "set").mkdir()
    r = run_without({"torch", "onnx", "matplotlib"}, args, tmp_path)
    assert r.returncode == 2, r.stderr[-2000:]
    assert "Traceback" not in r.stderr, r.stderr[-2000:]
    errors = [ln for ln in r.stderr.splitlines() if "error:" in ln]
    assert len(errors) == 1 and f'pip install "dancemuse[{extra}]"' in errors[0], r.stderr[-2000:]
    assert not (tmp_path / "m.onnx").exists() and not (tmp_path / "f.png").exists()


def test_mp4_without_any_ffmpeg_names_the_video_extra(tmp_path: Path) -> None:
    env_path = str(tmp_path)  # no ffmpeg on PATH either
    code = BLOCKER.format(blocked={"imageio_ffmpeg"}).replace(
        "from live.cli import main", f"import os; os.environ['PATH'] = {env_path!r}\nfrom live.cli import main")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    r = subprocess.run([sys.executable, "-c", code, "generate", "demo", "--video", "d.mp4"], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 2, r.stderr[-2000:]
    errors = [ln for ln in r.stderr.splitlines() if "error:" in ln]
    assert len(errors) == 1 and "dancemuse[video]" in errors[0]
    assert "generate [" not in r.stderr  # refused before the generation ran
