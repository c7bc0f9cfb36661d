"""Shared test fixtures."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

ARTIFACTS = REPO / "tests" / "artifacts"


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Folder for test artefacts (screenshots, plots) kept after the run."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(autouse=True, scope="session")
def _one_thread() -> None:
    # Two cores shared by everything: keep numeric libraries to one thread in tests.
    os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(autouse=True, scope="session")
def _own_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    # The rendered demo song is cached per user; tests (and the servers they start) keep theirs apart.
    os.environ["DANCEMUSE_CACHE"] = str(tmp_path_factory.mktemp("dancemuse-cache"))


DEFAULT_MODEL = REPO / "models" / "default.onnx"


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped model; a toy ONNX model with real metadata if it is missing."""
    if DEFAULT_MODEL.exists():
        return DEFAULT_MODEL
    from export.toy import build_toy_model
    from model.config import defaults
    from model.features import FeatureSpec

    spec = FeatureSpec.from_config(defaults()["features"])
    path = tmp_path_factory.mktemp("model") / "toy.onnx"
    build_toy_model(path, feature_spec=spec.to_dict(), feature_dim=spec.dim)
    return path
