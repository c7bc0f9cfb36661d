"""The model metadata document: build, parse, version and feature checks."""

from __future__ import annotations

import json
from typing import Any

import pytest

from model import modelmeta
from model.errors import ModelError

SPEC = {"fps": 30, "sample_rate": 24000, "hop": 800, "n_mels": 64,
        "blocks": [{"name": "mel", "dim": 64}, {"name": "onset", "dim": 1}, {"name": "rms", "dim": 1}]}


def _meta(**over: Any) -> dict[str, Any]:
    meta = modelmeta.build_meta(
        fps=30, sample_rate=24000, feature_spec=SPEC, feature_dim=66,
        skeleton={"joints": ["nose"] * 17}, pose_dim=54, root="dx_y_dz", window=64, lookahead=0,
        block=1, styles=["house", "ballet"], controls=["energy", "variation"],
        inputs={"features": "features", "prev_pose": "prev_pose", "style": "style", "controls": "controls"},
        state=[{"name": "h", "output": "h_out", "shape": [2, 1, 8]}],
    )
    meta.update(over)
    return meta


def _props(meta: dict[str, Any]) -> dict[str, str]:
    return {modelmeta.META_KEY: modelmeta.dumps(meta)}


def test_round_trip_keeps_every_key() -> None:
    meta = _meta()
    back = modelmeta.parse_meta(_props(meta), name="m.onnx")
    assert back == json.loads(json.dumps(meta))
    assert back["format_version"] == modelmeta.FORMAT_VERSION and back["hop"] == 800
    assert "30 fps" in modelmeta.describe(back)


def test_missing_metadata_is_refused_with_the_fix() -> None:
    with pytest.raises(ModelError, match=r"m\.onnx has no DanceMuse metadata; re-export"):
        modelmeta.parse_meta({}, name="m.onnx")
    with pytest.raises(ModelError, match="corrupt metadata"):
        modelmeta.parse_meta({modelmeta.META_KEY: "{not json"}, name="m.onnx")


def test_other_format_version_is_refused() -> None:
    with pytest.raises(ModelError, match="format version 2 but this DanceMuse reads version 1; upgrade"):
        modelmeta.parse_meta(_props(_meta(format_version=2)), name="m.onnx")
    with pytest.raises(ModelError, match="format version 0 .* re-export"):
        modelmeta.parse_meta(_props(_meta(format_version=0)), name="m.onnx")


def test_missing_key_is_named() -> None:
    meta = _meta()
    del meta["window"]
    with pytest.raises(ModelError, match="lacks window"):
        modelmeta.parse_meta(_props(meta), name="m.onnx")


def test_fps_mismatch_says_both_rates_and_the_fix() -> None:
    meta = _meta(fps=60)
    with pytest.raises(ModelError) as e:
        modelmeta.validate_features(meta, name="models/x.onnx", feature_config={"fps": 30})
    msg = str(e.value)
    assert "\n" not in msg
    assert "trained at 60 fps but features.fps is 30" in msg and "--set features.fps=60" in msg


def test_feature_parameter_and_block_mismatches_are_refused() -> None:
    meta = _meta()
    with pytest.raises(ModelError, match="features.n_mels = 64 but the configuration has 128"):
        modelmeta.validate_features(meta, name="m", feature_config={"fps": 30, "n_mels": 128})
    other = dict(SPEC, blocks=[{"name": "mel", "dim": 128}, {"name": "onset", "dim": 1}, {"name": "rms", "dim": 1}])
    with pytest.raises(ModelError, match=r"\[mel:64 onset:1 rms:1\] but the configuration makes \[mel:128"):
        modelmeta.validate_features(meta, name="m", expected_spec=other)
    # the same spec passes, in either layout
    modelmeta.validate_features(meta, name="m", feature_config={"fps": 30, "n_mels": 64}, expected_spec=SPEC)
    alt = {"names": ["mel", "onset", "rms"], "dims": [64, 1, 1], "sample_rate": 24000}
    modelmeta.validate_features(meta, name="m", expected_spec=alt)
    with pytest.raises(ModelError, match="sample_rate 24000 but this DanceMuse computes 22050"):
        modelmeta.validate_features(meta, name="m", expected_spec=dict(alt, sample_rate=22050))
