"""bench/holds.py: a pose held twice is a still stretch that holds the dance's repeats; a move
danced twice is a repeat outside any still stretch; loud and quiet blocks are told apart by the
music written to a WAV file and read back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from bench.holds import (
    Tally,
    block_db,
    longest_s,
    low_windows_in_still,
    still_blocks,
)
from model import metrics_dancer as md
from model import skeleton as sk

FPS = 30


def _move(seed: int, seconds: float = 4.0, size: float = 0.35) -> np.ndarray:
    """``seconds`` of the rest pose with both wrists and the left ankle swinging (own phases)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * FPS)) / FPS
    p = np.repeat(sk.rest_pose()[None], len(t), axis=0).astype(np.float64)
    for j in (sk.JOINT_INDEX["left_wrist"], sk.JOINT_INDEX["right_wrist"], sk.JOINT_INDEX["left_ankle"]):
        f = 0.4 + rng.random() * 0.5  # under one cycle per 2 s: each stretch of the move is its own
        p[:, j] += np.sin(2 * np.pi * f * t + rng.random() * 6)[:, None] * rng.normal(0, size, 3)
    return p


def _hold(pose: np.ndarray, seconds: float = 4.0) -> np.ndarray:
    return np.repeat(pose[None], int(seconds * FPS), axis=0)


def test_a_pose_held_twice_is_where_the_repeats_are() -> None:
    a, b, c = _move(1), _move(2), _move(3)
    held = a[-1]
    p = np.concatenate([a, _hold(held), b, _hold(held), c])
    st = still_blocks(p, fps=FPS)
    assert len(st) == (len(p) - 1) // 15
    # the two holds (4-8 s and 12-16 s) are still, the moves are not
    assert st[9:15].all() and st[25:31].all()
    assert not st[:6].any() and not st[18:22].any() and not st[34:].any()
    assert 3.5 <= longest_s(st) <= 4.0  # the block that jumps into the next move is not still
    low, held_low = low_windows_in_still(p, st, fps=FPS)
    assert low > 0 and held_low / low > 0.7, (low, held_low)


def test_a_move_danced_again_is_a_repeat_outside_the_stills() -> None:
    a, b = _move(4), _move(5)
    p = np.concatenate([a, b, a])  # no hold anywhere
    st = still_blocks(p, fps=FPS)
    assert not st.any()
    low, held_low = low_windows_in_still(p, st, fps=FPS)
    assert low > 0 and held_low == 0


def test_loud_blocks_read_from_a_wav_and_the_tally(tmp_path: Path) -> None:
    sr = 16000
    t = np.arange(16 * sr) / sr
    x = 0.5 * np.sin(2 * np.pi * 220 * t)
    x[4 * sr: 8 * sr] *= 0.01  # a break 40 dB down at 4-8 s
    x[12 * sr: 16 * sr] *= 0.01  # and at 12-16 s
    f = tmp_path / "song.wav"
    sf.write(f, x.astype(np.float32), sr)
    y, r = sf.read(f)
    db = block_db(y, r, 32)
    assert np.allclose(db[:8], db[0], atol=0.1) and np.allclose(db[8:16], db[0] - 40.0, atol=0.2)
    a, b = _move(6), _move(7)
    # the dancer calms down in the first break only and holds on through the loud 8-12 s
    p = np.concatenate([a, _hold(a[-1]), _hold(a[-1]), b])
    tally = Tally()
    tally.add(p, y, r, fps=FPS)
    fig = tally.figures(FPS)
    assert 0.4 < fig["still"] < 0.6
    # loud blocks: 0-4 s and 8-12 s; the hold covers 8-12 s of them
    assert 0.4 < fig["loud"] < 0.6
    assert fig["longest"] >= 7.5
    assert "onset" not in fig  # no features given: nothing heard to report


def _music(seed: int, seconds: float = 4.0) -> np.ndarray:
    """``seconds`` of made-up model features [t, 84]: a slowly wandering sound of its own."""
    rng = np.random.default_rng(seed)
    n = int(seconds * FPS)
    steps = rng.normal(0.0, 1.0, (n, 84))
    return np.cumsum(steps, axis=0) / np.sqrt(np.arange(1, n + 1))[:, None]


def test_a_repeat_danced_to_the_same_music_ranks_its_music_nearest() -> None:
    """A move danced again where the music repeats: its nearest dance partner has the nearest
    music of all (rank 0). The same move danced again to new music: the partner's music is no
    nearer than the rest (rank well above 0). The tally reports both, and hear=False leaves the
    heard column out."""
    a, b, c = _move(8), _move(9), _move(10)
    p = np.concatenate([a, b, a, c])
    ma, mb, mc, md_ = _music(1), _music(2), _music(3), _music(4)
    same = np.concatenate([ma, mb, ma, mc])  # the music repeats with the move
    other = np.concatenate([ma, mb, md_, mc])  # the move comes back to new music
    r_same, k_same = md.music_tie(p, same, fps=FPS)
    r_other, k_other = md.music_tie(p, other, fps=FPS)
    assert np.allclose(r_same, r_other)  # the dance is the same
    low = r_same < 0.3
    assert low.sum() >= 4
    assert np.all(k_same[low] == 0.0)
    assert np.median(k_other[low]) > 0.2
    tally = Tally()
    tally.add(p, np.zeros(len(p) * 100, np.float32), 3000, fps=FPS, feats=same, hear=False)
    fig = tally.figures(FPS)
    assert fig["rank_low"] == 0.0 and 0.0 <= fig["rank_all"] <= 1.0
    assert "onset" not in fig
