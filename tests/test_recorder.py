"""Recorder: npz/json/bvh files written atomically from the frames of a show."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from live.frame import Frame
from live.recorder import CHUNK, Recorder
from model import skeleton as sk
from model.errors import ConfigError


def _frames(n: int) -> list[Frame]:
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        j = sk.rest_pose(on_floor=True) + rng.normal(scale=0.01, size=(17, 3)).astype(np.float32)
        out.append(Frame(index=i, t=(i + 1) / 30, wall=1000 + i / 30, joints=j, beat=i % 15 == 0,
                         beat_in_bar=(i // 15) % 4 + 1, bar=i // 60, tempo=120.0, confidence=0.9,
                         latency_ms=3.0))
    return out


def test_npz_holds_every_frame_across_chunks(tmp_path: Path) -> None:
    frames = _frames(CHUNK + 10)
    rec = Recorder(tmp_path / "show.npz", fps=30, meta={"model": "x"})
    for f in frames[:100]:
        rec.add(f)
    assert rec.flush() == 100
    with np.load(tmp_path / "show.npz") as z:
        assert z["poses"].shape == (100, 17, 3)
    for f in frames[100:]:
        rec.add(f)
    rec.flush()
    with np.load(tmp_path / "show.npz") as z:
        np.testing.assert_array_equal(z["poses"], np.asarray([f.joints for f in frames]))
        assert list(z["index"]) == list(range(len(frames)))
        assert z["beat"][0] and not z["beat"][1] and z["beat_in_bar"][15] == 2
        assert int(z["fps"]) == 30 and json.loads(str(z["meta"]))["model"] == "x"
    assert not list(tmp_path.glob(".*tmp*"))


@pytest.mark.parametrize("ext", [".npz", ".json", ".csv", ".bvh"])
def test_every_format_reads_back_with_dance_io(tmp_path: Path, ext: str) -> None:
    from live.dance_io import read_dance

    frames = _frames(40)
    rec = Recorder(tmp_path / f"show{ext}", fps=30)
    for f in frames:
        rec.add(f)
    assert rec.flush() == 40
    d = read_dance(tmp_path / f"show{ext}")
    assert d["poses"].shape == (40, 17, 3) and d["fps"] == pytest.approx(30, rel=1e-3)
    if ext != ".bvh":
        np.testing.assert_allclose(d["poses"], np.asarray([f.joints for f in frames]), atol=1e-4)
        np.testing.assert_allclose(d["beats"], [0.0, 0.5, 1.0], atol=1e-4)


def test_bad_paths_are_refused_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\.npz, \.json, \.csv or \.bvh"):
        Recorder(tmp_path / "show.mp3", fps=30)
    with pytest.raises(ConfigError, match="does not exist"):
        Recorder(tmp_path / "nope" / "show.npz", fps=30)
