"""The onnxruntime generator: loading, refusal of bad models, state feedback, root."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from export.toy import build_toy_model, toy_reference
from live.runtime import Generator, parse_style, resolve_model_path
from model.errors import ConfigError, ModelError
from model.skeleton import STANDING_ROOT_HEIGHT

F = 10
SPEC: dict[str, Any] = {"fps": 30, "sample_rate": 24000, "blocks": [{"name": "mel", "dim": 8}, {"name": "beat_phase", "dim": 2}]}


@pytest.fixture()
def toy(tmp_path: Path) -> tuple[Path, dict[str, np.ndarray]]:
    path = tmp_path / "toy.onnx"
    w = build_toy_model(path, feature_spec=SPEC, feature_dim=F)
    return path, w


def test_loads_reports_provider_and_metadata(toy: tuple[Path, dict]) -> None:
    path, _ = toy
    g = Generator(path, feature_config={"fps": 30}, expected_spec=SPEC)
    assert g.provider == "CPUExecutionProvider"  # what the session uses, not the available list
    assert g._session.get_providers()[0] == g.provider
    assert g.style_names == ["house", "hiphop", "ballet", "popping"]
    assert g.control_names == ["energy", "variation"] and g.fps == 30 and g.feature_dim == F
    assert "toy.onnx on CPUExecutionProvider" in g.describe()


def test_step_feeds_state_back_and_matches_numpy(toy: tuple[Path, dict]) -> None:
    path, w = toy
    g = Generator(path, expected_spec=SPEC)
    rng = np.random.default_rng(3)
    style = np.array([0.0, 1.0, 0.0, 0.0], np.float32)
    ctl = np.array([1.5, 0.2], np.float32)
    prev = np.zeros(54, np.float32)
    state = np.zeros(4, np.float32)
    root = np.array([0.0, STANDING_ROOT_HEIGHT, 0.0], np.float32)
    for _ in range(20):
        feat = rng.standard_normal(F).astype(np.float32)
        pose = g.step(feat, style=style, controls=ctl)
        vec, state = toy_reference(w, feat, prev, style, ctl, state)
        prev = vec
        root[0] += vec[51]
        root[1] = vec[52]
        root[2] += vec[53]
        want = vec[:51].reshape(17, 3) + root
        assert pose.shape == (17, 3) and pose.dtype == np.float32
        np.testing.assert_allclose(pose, want, atol=1e-5)
    np.testing.assert_allclose(g._feed["state_0"], np.full((1, 4), 20.0))  # 20 steps counted
    np.testing.assert_allclose(g.root, root, atol=1e-5)
    g.reset()
    assert float(g._feed["state_0"].max()) == 0.0 and g.frames == 0
    np.testing.assert_allclose(g.root, [0.0, STANDING_ROOT_HEIGHT, 0.0])


def test_step_reuses_out_buffer_and_default_inputs(toy: tuple[Path, dict]) -> None:
    path, _ = toy
    g = Generator(path)
    out = np.empty((17, 3), np.float32)
    r = g.step(np.zeros(F, np.float32), out=out)
    assert r is out
    np.testing.assert_allclose(g._style[0], 0.25)
    np.testing.assert_allclose(g._controls[0], [1.0, 0.5])


def test_missing_and_corrupt_files_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"nope\.onnx not found"):
        Generator(tmp_path / "nope.onnx")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"this is not a model")
    with pytest.raises(ModelError) as e:
        Generator(bad)
    assert "cannot be loaded" in str(e.value) and "\n" not in str(e.value)


def test_refuses_missing_metadata_version_and_mismatch(tmp_path: Path) -> None:
    p = tmp_path / "nometa.onnx"
    build_toy_model(p, feature_spec=SPEC, feature_dim=F, with_meta=False)
    with pytest.raises(ModelError, match="no DanceMuse metadata"):
        Generator(p)
    p = tmp_path / "v9.onnx"
    build_toy_model(p, feature_spec=SPEC, feature_dim=F, meta_overrides={"format_version": 9})
    with pytest.raises(ModelError, match="format version 9"):
        Generator(p)
    p = tmp_path / "fps60.onnx"
    build_toy_model(p, feature_spec=SPEC, feature_dim=F, fps=60)
    with pytest.raises(ModelError, match="trained at 60 fps but features.fps is 30"):
        Generator(p, feature_config={"fps": 30})
    other = {"fps": 30, "sample_rate": 24000, "blocks": [{"name": "mel", "dim": 64}, {"name": "beat_phase", "dim": 2}]}
    with pytest.raises(ModelError, match="trained on features"):
        Generator(_ok(tmp_path), expected_spec=other)
    p = tmp_path / "badname.onnx"
    build_toy_model(p, feature_spec=SPEC, feature_dim=F, meta_overrides={"inputs": {
        "features": "feats", "prev_pose": "prev_pose", "style": "style", "controls": "controls"}})
    with pytest.raises(ModelError, match="inputs the graph lacks \\(feats\\)"):
        Generator(p)


def _ok(tmp_path: Path) -> Path:
    p = tmp_path / "ok.onnx"
    build_toy_model(p, feature_spec=SPEC, feature_dim=F)
    return p


def test_parse_style() -> None:
    names = ["house", "hiphop", "ballet", "popping"]
    np.testing.assert_allclose(parse_style("", names), 0.25)
    np.testing.assert_allclose(parse_style("ballet", names), [0, 0, 1, 0])
    np.testing.assert_allclose(parse_style("house:1,popping:3", names), [0.25, 0, 0, 0.75])
    with pytest.raises(ConfigError, match="unknown style 'tango'"):
        parse_style("tango", names)


def test_resolve_model_path_default() -> None:
    assert resolve_model_path(None).name == "default.onnx"
    assert resolve_model_path("models/default.onnx").parent.name == "models"


def test_checks_the_configured_features(tmp_path: Path) -> None:
    features = pytest.importorskip("model.features")
    from model.config import defaults

    fc = defaults()["features"]
    spec = features.FeatureSpec.from_config(fc).to_dict()
    p = tmp_path / "real.onnx"
    build_toy_model(p, feature_spec=spec, feature_dim=int(sum(spec["dims"])))
    g = Generator(p, feature_config=fc)
    assert g.feature_dim == 84 and g.feature_spec.dim == 84
    with pytest.raises(ModelError, match="features.n_mels = 64 but the configuration has 32"):
        Generator(p, feature_config=dict(fc, n_mels=32))


def test_the_shipped_default_model_loads_and_dances() -> None:
    from live.runtime import DEFAULT_MODEL
    from model.config import load_config

    # The shipped model is committed: its absence is a defect, not a reason to skip.
    assert DEFAULT_MODEL.is_file(), "models/default.onnx is missing; rebuild it with `make default-model`"
    cfg = load_config()
    g = Generator(None, feature_config=cfg["features"])
    assert g.path == DEFAULT_MODEL and g.fps == cfg["features"]["fps"]
    # six synthetic choreography styles and three from real motion capture (CMU)
    assert sorted(g.style_names) == ["ballet", "breaking", "contemporary", "freestyle", "hiphop",
                                     "house", "locking", "popping", "salsa"]
    assert g.meta["created"]["git"] and g.meta["train_data"]["clips"] > 0
    assert DEFAULT_MODEL.stat().st_size < 8_000_000
    rng = np.random.default_rng(0)
    poses = np.stack([g.step(rng.standard_normal(g.feature_dim).astype(np.float32)) for _ in range(60)])
    assert np.isfinite(poses).all() and float(np.ptp(poses[:, 9, 1])) > 0.01  # the wrist moves
