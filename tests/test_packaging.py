"""The wheel installs whole: it carries the default model, the beat model and the default
configuration, `dancemuse --version` works, and `dancemuse generate demo` runs from any
folder with nothing of the checkout on the path."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from model.config import tomllib

REPO = Path(__file__).resolve().parent.parent


def _tree_files() -> list[str]:
    out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, capture_output=True,
                         text=True, check=True).stdout.split("\n")
    return [f for f in out if f and (REPO / f).is_file() and not f.startswith(("tests/", "bench/", "data/", "runs/"))]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the wheel from a copy of the working tree (the shared checkout gets no build/)."""
    src = tmp_path_factory.mktemp("src")
    for f in _tree_files():
        (src / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / f, src / f)
    dist = tmp_path_factory.mktemp("dist")
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "--no-build-isolation",
                        "-q", "-w", str(dist)], cwd=src, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    (whl,) = dist.glob("dancemuse-*.whl")
    return whl


def test_pyproject_lists_the_package_data() -> None:
    doc = tomllib.loads((REPO / "pyproject.toml").read_text())
    data = doc["tool"]["setuptools"]["package-data"]
    assert "*.onnx" in data["models"] and "../config.toml" in data["models"]
    for extra in ("cpu", "gpu", "video"):
        assert any(d.startswith("imageio-ffmpeg") for d in doc["project"]["optional-dependencies"][extra]), extra


@pytest.mark.slow
def test_wheel_carries_model_and_configuration(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"models/default.onnx", "models/default_offline.npz", "config.toml", "live/cli.py", "visualizer/index.html"} <= names
    for extra in ("beats.onnx", "beats.npz", "beats_seq.onnx"):  # the beat tracker's net, its numpy weights, batched net
        if (REPO / "models" / extra).exists():
            assert f"models/{extra}" in names


@pytest.mark.slow
def test_installed_wheel_generates_the_demo_from_another_folder(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    r = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-compile", "-q",
                        "--target", str(target), str(wheel)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(target), "OMP_NUM_THREADS": "1"}
    where = subprocess.run([sys.executable, "-c", "import live, model.config as c; print(live.__file__); "
                            "print(c.config_file())"], cwd=elsewhere, env=env, capture_output=True, text=True)
    assert where.returncode == 0, where.stderr
    assert where.stdout.splitlines() == [str(target / "live" / "__init__.py"), str(target / "config.toml")]
    script = target / "bin" / "dancemuse"
    assert script.is_file()
    ver = subprocess.run([sys.executable, str(script), "--version"], cwd=elsewhere, env=env,
                         capture_output=True, text=True)
    assert ver.returncode == 0 and ver.stdout.startswith("dancemuse 0.")
    gen = subprocess.run([sys.executable, str(script), "generate", "demo", "--demo-seconds", "3", "-o", "d.npz"],
                         cwd=elsewhere, env=env, capture_output=True, text=True, timeout=600)
    assert gen.returncode == 0, gen.stderr[-2000:]
    assert (elsewhere / "d.npz").stat().st_size > 1000
    # the installed default model (offline generation runs its block-16 export beside it)
    assert any(f"model {m}" in gen.stderr for m in ("default.onnx", "default_b16.onnx", "default_offline.npz"))
