"""bench/moves.py: draws that dance one move count as one and draws far apart as many; watching the
shipped model's pick records its decisions without changing the dance, and leaves the pick as it was;
a configuration without the pick is refused with one line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench.moves import Offers, distinct_moves, main, measure, watching
from live import pick as lp
from model import skeleton as sk

MODEL = Path(__file__).resolve().parent.parent / "models" / "default.onnx"


def _rolls(offsets: list[float], m: int = 10) -> np.ndarray:
    """Roll-outs [draws, m, 54] of the rest pose with the left wrist moved sideways by each offset."""
    p = np.repeat(sk.rest_pose()[None, None], len(offsets), axis=0).repeat(m, axis=1).astype(np.float32)
    for i, off in enumerate(offsets):
        p[i, :, 9, 0] += off
    out = np.zeros((len(offsets), m, 54), np.float32)
    out[:, :, :51] = p.reshape(len(offsets), m, 51)
    return out


def test_draws_of_one_move_count_once_and_draws_far_apart_each() -> None:
    # the wrist alone moved by d gives an RMS per joint of d / sqrt(17)
    step = 0.3 * np.sqrt(sk.NUM_JOINTS) * 1.5  # 1.5 x the threshold at scale 1
    assert distinct_moves(_rolls([0.0] * 8), 1.0) == 1
    assert distinct_moves(_rolls([i * step for i in range(8)]), 1.0) == 8
    assert distinct_moves(_rolls([0.0, 0.01, 0.0, 0.02, step, step + 0.01, step, step]), 1.0) == 2
    # the same draws are one move where the dance's own spread is large
    assert distinct_moves(_rolls([i * step for i in range(8)]), 100.0) == 1
    # the hips' midpoint is taken out: a draw shifted as a whole is the same move
    shifted = _rolls([0.0, 0.0])
    shifted[1, :, :51] += np.tile(np.float32([0.5, 0.0, 0.2]), 17)
    assert distinct_moves(shifted, 1.0) == 1


def test_watching_the_shipped_pick_records_decisions_and_leaves_the_dance_as_it_was() -> None:
    pytest.importorskip("onnxruntime", reason="needs onnxruntime (the cpu extra): pip install -e \".[cpu]\"")
    from model.config import load_config
    from model.metrics_gen import Dancer
    from model.metrics_songs import TestSong
    from model.synth_music import demo_song

    s = demo_song(seconds=24.0, seed=3)
    song = TestSong("demo", np.asarray(s.audio, np.float32), int(s.sample_rate), "recording")
    d = Dancer(str(MODEL), load_config(None))
    assert hasattr(d.generator, "pick"), "the shipped model dances with the numpy runtime and its pick"
    before = d.dance(song, style="house", seed=2).poses
    prune = lp.LatentPick.prune
    got = measure(d, song, [2])
    assert lp.LatentPick.prune is prune  # the watch is taken off
    n = len(got.best)
    assert n >= 5, n  # a decision every 2 s once 4.5 s of history are kept
    assert len(got.distinct) == len(got.median) == len(got.style) == n
    assert all(1 <= k <= 8 for k in got.distinct)
    assert np.isfinite(got.best).all() and (np.asarray(got.best) >= np.asarray(got.median)).all()
    assert set(got.style) <= set(range(len(d.styles)))
    # the watched dance is the dance: the schedule of nine pieces starts in the first style, so dance
    # that one without and with the watch
    plain = d.dance(song, style=d.styles[0], seed=2, schedule=[(song.seconds, "house")]).poses
    with watching(Offers()) as again:
        watched = d.dance(song, style=d.styles[0], seed=2, schedule=[(song.seconds, "house")]).poses
    assert len(again.best) > 0 and np.array_equal(plain, watched)
    assert not np.array_equal(before[: len(plain)], plain)  # another style is another dance


def test_a_dancer_without_the_pick_is_refused_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--set", "live.pick=1", "--seeds", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "live.pick" in err[0] and "live.pick=8" in err[0]
    assert main(["--seeds", "0"]) == 2
    assert "--seeds" in capsys.readouterr().err
