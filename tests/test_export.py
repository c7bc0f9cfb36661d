"""ONNX export of a DanceNet checkpoint: one file, metadata, parity, refusal of mismatches."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
import torch

from export.onnx_export import export_checkpoint
from export.parity import check_parity
from live.runtime import Generator
from model import modelmeta
from model.errors import ModelError
from model.network import NetConfig, build

torch.set_num_threads(1)
STYLES = ["house", "hiphop", "ballet", "popping"]


def _spec(fps: int = 30, mel: int = 64) -> dict[str, Any]:
    try:
        from model.config import defaults
        from model.features import FeatureSpec

        fc = dict(defaults()["features"], fps=fps)
        spec = FeatureSpec.from_config(fc).to_json()
        return json.loads(spec) if isinstance(spec, str) else dict(spec)
    except ImportError:  # until the feature module exists: a spec of the documented layout
        blocks = [("mel", mel), ("onset", 1), ("chroma", 12), ("rms", 1), ("tempo", 1),
                  ("beat_phase", 2), ("beat_pulse", 1), ("bar_phase", 2)]
        return {"fps": fps, "sample_rate": 24000, "hop": 24000 // fps,
                "blocks": [{"name": n, "dim": d} for n, d in blocks]}


def _checkpoint(path: Path, *, fps: int = 30, window: int = 16) -> Path:
    torch.manual_seed(0)
    cfg = NetConfig(feature_dim=84, d_model=32, heads=2, layers=2, window=window, ffn_dim=64,
                    lstm_hidden=32, lstm_layers=2, noise_dim=4, dropout=0.0)
    net = build(cfg)
    g = torch.Generator().manual_seed(1)
    net.set_normalization(feat_mean=torch.randn(84, generator=g), feat_std=torch.rand(84, generator=g) + 0.5,
                          pose_mean=torch.randn(54, generator=g) * 0.1, pose_std=torch.rand(54, generator=g) + 0.1)
    with torch.no_grad():
        for blk in net.blocks:
            blk.attn.rel_bias.normal_()
    torch.save({"model": net.state_dict(), "config": cfg.to_dict(), "feature_spec": _spec(fps),
                "styles": STYLES, "data_summary": {"clips": 4, "seconds": 40.0, "source": "synthetic"},
                "step": 7, "train_config": {"lr": 1e-3}}, path)
    return path


def _features(n: int) -> np.ndarray:
    try:
        from export.parity import demo_features

        return demo_features(seconds=n / 30 + 1, fps=30)[:n]
    except ImportError:  # until model.features lands: feature-like noise
        return np.random.default_rng(0).standard_normal((n, 84)).astype(np.float32)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any, dict[str, Any]]:
    d = tmp_path_factory.mktemp("export")
    return export_checkpoint(_checkpoint(d / "tiny.pt"), d / "tiny.onnx", command="dancemuse export tiny.pt")


def test_export_writes_one_checked_file_with_metadata(exported: tuple[Path, Any, dict]) -> None:
    path, net, meta = exported
    assert sorted(p.name for p in path.parent.iterdir() if p.name.startswith("tiny.onnx")) == ["tiny.onnx"]
    model = onnx.load(str(path))
    onnx.checker.check_model(model)
    props = {p.key: p.value for p in model.metadata_props}
    doc = modelmeta.parse_meta(props, name=str(path))
    assert doc["fps"] == 30 and doc["window"] == 16 and doc["lookahead"] == 0 and doc["block"] == 1
    assert doc["styles"] == STYLES and doc["controls"] == ["energy", "variation"]
    assert doc["train_data"]["clips"] == 4 and doc["net_config"]["d_model"] == 32
    assert doc["created"]["command"] == "dancemuse export tiny.pt" and len(doc["created"]["git"]) >= 7
    assert [s["name"] for s in doc["state"]] == ["k0", "k1", "v0", "v1", "valid", "pos", "h0", "h1", "c0", "c1",
                                                  "z", "phase", "ema"]
    assert doc["inputs"]["noise"] == "noise" and doc["noise_dim"] == 8
    names = [i.name for i in model.graph.input]
    assert names[:5] == ["features", "prev_pose", "style", "controls", "noise"]


def test_step_graph_is_lean_ring_buffers_no_cache_concat(exported: tuple[Path, Any, dict]) -> None:
    path, _, _ = exported
    model = onnx.load(str(path))
    ops = [n.op_type for n in model.graph.node]
    cache_users = [n.op_type for n in model.graph.node if any(i in ("k0", "k1", "v0", "v1") for i in n.input)]
    assert set(cache_users) == {"Mul"}  # the ring is written in place by a mask, never sliced or concatenated
    assert len(ops) <= 140, len(ops)  # two layers each; the old concat-and-slice graph had 360 nodes
    assert ops.count("Unsqueeze") + ops.count("Squeeze") <= 2 and "Slice" not in ops
    assert "Constant" not in ops  # folded and optimised at export


def test_parity_with_torch_over_500_autoregressive_frames(exported: tuple[Path, Any, dict]) -> None:
    path, net, _ = exported
    res = check_parity(net, path, _features(500), seed=3, controls=(1.3, 0.8))
    assert res.frames == 500
    assert res.max_abs <= 1e-4, res.line()
    assert res.step_max_abs <= 1e-5 and res.ok(1e-4)


def test_parity_verdict_separates_export_error_from_model_sensitivity() -> None:
    from export.parity import ParityResult

    assert ParityResult(500, 5e-5, 1e-6, 1.0, 0.2, step_max_abs=1e-7).ok(1e-4)
    # drift beyond the tolerance that torch itself shows between fp32 and fp64: accepted
    assert ParityResult(500, 3e-3, 1e-5, 1.0, 0.2, step_max_abs=1e-7, floor=5e-3).ok(1e-4)
    # more drift than rounding explains, or a per-step error: refused
    assert not ParityResult(500, 3e-3, 1e-5, 1.0, 0.2, step_max_abs=1e-7, floor=1e-4).ok(1e-4)
    assert ParityResult(500, 3e-3, 1e-5, 1.0, 0.2, step_max_abs=1e-7, floor=1e-3).ok(1e-4)
    assert not ParityResult(500, 3e-3, 1e-5, 1.0, 0.2, step_max_abs=1e-7).ok(1e-4)
    assert not ParityResult(500, 5e-5, 1e-6, 1.0, 0.2, step_max_abs=2e-4).ok(1e-4)


def test_block_export_matches_single_frames(tmp_path: Path) -> None:
    path, net, meta = export_checkpoint(_checkpoint(tmp_path / "b.pt"), tmp_path / "b4.onnx", block=4)
    assert meta["block"] == 4
    res = check_parity(net, path, _features(120), block=4)
    assert res.frames == 120 and res.max_abs <= 1e-4


def test_runtime_runs_the_export_and_is_seeded(exported: tuple[Path, Any, dict]) -> None:
    path, _, _ = exported
    g = Generator(path, feature_config={"fps": 30}, seed=1)
    feats = _features(60)
    a = np.stack([g.step(f) for f in feats])
    g.reset(seed=1)
    b = np.stack([g.step(f) for f in feats])
    g.reset(seed=2)
    c = np.stack([g.step(f) for f in feats])
    assert np.isfinite(a).all() and a.shape == (60, 17, 3)
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).max() > 1e-4


def _rewrite_meta(src: Path, dst: Path, **changes: Any) -> Path:
    model = onnx.load(str(src))
    props = {p.key: p.value for p in model.metadata_props}
    meta = json.loads(props[modelmeta.META_KEY])
    meta.update(changes)
    del model.metadata_props[:]
    if changes.get("drop"):
        props = {}
    else:
        props[modelmeta.META_KEY] = json.dumps(meta)
    onnx.helper.set_model_props(model, props)
    onnx.save(model, str(dst))
    return dst


def test_mismatched_models_are_refused(exported: tuple[Path, Any, dict], tmp_path: Path) -> None:
    path, _, meta = exported
    with pytest.raises(ModelError, match="no DanceMuse metadata"):
        Generator(_rewrite_meta(path, tmp_path / "none.onnx", drop=True))
    with pytest.raises(ModelError, match="format version 2"):
        Generator(_rewrite_meta(path, tmp_path / "v2.onnx", format_version=2))
    p60 = _rewrite_meta(path, tmp_path / "fps60.onnx", fps=60, feature_spec=_spec(60))
    with pytest.raises(ModelError, match="trained at 60 fps but features.fps is 30; pass --set features.fps=60"):
        Generator(p60, feature_config={"fps": 30})
    other = dict(meta["feature_spec"])
    other["blocks"] = [{"name": "mel", "dim": 128}, {"name": "onset", "dim": 1}]
    other.pop("names", None)
    other.pop("dims", None)
    with pytest.raises(ModelError, match="trained on features"):
        Generator(path, expected_spec=other)
    # an export of the same weights with another energy calibration is not the same model
    # (generate would otherwise dance the block file with other energies than the show)
    from live.runtime import same_model

    cal = Generator(_rewrite_meta(path, tmp_path / "cal.onnx", energy_scale={s: 2.0 for s in meta["styles"]},
                                  energy_max=2.5))
    assert same_model(meta, meta) and not same_model(meta, cal.meta)
    assert "energy calibrated (house x2.00" in cal.describe()


def test_missing_checkpoint_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="checkpoint .*nope.pt not found"):
        export_checkpoint(tmp_path / "nope.pt", tmp_path / "x.onnx")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"garbage")
    with pytest.raises(ModelError, match="cannot be read"):
        export_checkpoint(bad, tmp_path / "x.onnx")


def test_cli_export_with_int8_reports_parity_and_speed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from live.cli import main

    ckpt = _checkpoint(tmp_path / "c.pt")
    out = tmp_path / "m.onnx"
    assert main(["export", str(ckpt), "-o", str(out), "--parity-frames", "120", "--quantize", "int8"]) == 0
    text = capsys.readouterr().out
    assert "onnx.checker passed" in text
    assert "fp32: parity over 120 autoregressive frames" in text and "int8: parity over 120" in text
    assert "speed: fp32" in text and "int8" in text
    q = Generator(tmp_path / "m.int8.onnx")
    assert q.meta["quantized"] == "int8-dynamic" and q.step(np.zeros(84, np.float32)).shape == (17, 3)
    assert main(["export", str(ckpt), "-o", str(tmp_path / "m.txt")]) == 2


def test_runtime_block_model_matches_single_frames(tmp_path: Path) -> None:
    ckpt = _checkpoint(tmp_path / "c.pt")
    export_checkpoint(ckpt, tmp_path / "one.onnx")
    export_checkpoint(ckpt, tmp_path / "four.onnx", block=4)
    one, four = Generator(tmp_path / "one.onnx", seed=5), Generator(tmp_path / "four.onnx", seed=5)
    feats = _features(40)
    a = np.stack([one.step(f) for f in feats])
    b = np.concatenate([four.step_block(feats[i : i + 4]) for i in range(0, 40, 4)])
    np.testing.assert_allclose(a, b, atol=1e-4)
    with pytest.raises(ModelError, match="steps 4 frames per call; use step_block"):
        four.step(feats[0])
