"""The offline (one big push) feature path runs the beat net over whole batches of frames
(models/beats_seq.onnx) and gives the frame-by-frame net's features."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import model.features as mf
from model.beat_act import DEFAULT_MODEL
from model.config import load_config
from model.synth_music import demo_song

SEQ = DEFAULT_MODEL.with_name("beats_seq.onnx")


@pytest.fixture(autouse=True)
def _fresh_session_cache() -> None:
    mf._SEQ.clear()
    yield
    mf._SEQ.clear()


@pytest.mark.parametrize("fps", [30, 60])
def test_batched_beat_net_gives_the_frame_by_frame_features(fps: int) -> None:
    assert SEQ.is_file(), f"{SEQ} is missing; make it with `python -m export.beats_seq`"
    fc = dict(load_config()["features"], fps=fps)
    song = demo_song(seconds=40.0, seed=2)
    mf._SEQ["s"] = None  # frame by frame
    ref = mf.StreamingFeatures(fc, input_sr=song.sample_rate)
    a = ref.push(song.audio)
    mf._SEQ.clear()
    assert mf._sequence_session() is not None  # the shipped copy matches the shipped net
    new = mf.StreamingFeatures(fc, input_sr=song.sample_rate)
    b = new.push(song.audio)
    assert a.shape == b.shape
    assert np.abs(a - b).max() <= 1e-6
    np.testing.assert_array_equal(ref.info.is_beat, new.info.is_beat)
    # the live path after the batch continues from the same beat-net state
    tail = demo_song(seconds=4.0, seed=5).audio
    la = np.concatenate([ref.push(tail[i: i + 777]) for i in range(0, len(tail), 777)])
    lb = np.concatenate([new.push(tail[i: i + 777]) for i in range(0, len(tail), 777)])
    assert np.abs(la - lb).max() <= 1e-6


def test_a_stale_sequence_copy_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A beats_seq.onnx made from another beats.onnx is not used (frame by frame instead)."""
    import shutil

    import model.beat_act as ba

    other = tmp_path / "beats.onnx"
    shutil.copy(DEFAULT_MODEL, other)
    shutil.copy(SEQ, tmp_path / "beats_seq.onnx")
    with open(other, "ab") as f:  # different bytes, so a different hash
        f.write(b"\0")
    monkeypatch.setattr(ba, "DEFAULT_MODEL", other)
    assert mf._sequence_session() is None
    mf._SEQ.clear()
    shutil.copy(DEFAULT_MODEL, other)
    assert mf._sequence_session() is not None
