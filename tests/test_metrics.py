"""Metrics on signals whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from model import metrics
from model.skeleton import mirror, rest_pose


def _swing(seconds: float, *, fps: int, bpm: float = 120.0, shift_s: float = 0.0, amp: float = 0.2) -> np.ndarray:
    """Every joint swings along x as cos(pi * (t - shift) / beat): the speed is zero on
    every beat (shifted by ``shift_s``) and largest between beats."""
    t = np.arange(int(seconds * fps)) / fps
    beat = 60.0 / bpm
    x = amp * np.cos(np.pi * (t - shift_s) / beat)
    poses = np.repeat(rest_pose(on_floor=True)[None], len(t), axis=0).astype(np.float64)
    poses[:, :, 0] += x[:, None]
    return poses


def _beats(seconds: float, bpm: float = 120.0) -> np.ndarray:
    beat = 60.0 / bpm
    return np.arange(1, int(seconds / beat)) * beat


@pytest.mark.parametrize("fps", [30, 60])
def test_motion_with_minima_on_the_beats_scores_one_and_has_no_lag(fps: int) -> None:
    poses = _swing(10, fps=fps)
    beats = _beats(10)
    assert metrics.beat_align_score(poses, beats, fps=fps) > 0.99
    assert abs(metrics.motion_beat_lag_ms(poses, beats, fps=fps)) < 3.0


@pytest.mark.parametrize("shift_ms", [-80.0, 40.0, 100.0])
def test_shifted_motion_gives_its_lag_and_a_lower_score(shift_ms: float) -> None:
    fps = 30
    poses = _swing(10, fps=fps, shift_s=shift_ms / 1000.0)
    beats = _beats(10)
    lag = metrics.motion_beat_lag_ms(poses, beats, fps=fps)
    assert lag == pytest.approx(shift_ms, abs=4.0)
    bas = metrics.beat_align_score(poses, beats, fps=fps)
    expect = np.exp(-((shift_ms / 1000.0) ** 2) / (2 * metrics.BEAT_SIGMA_S**2))
    assert bas == pytest.approx(expect, abs=0.03)


def test_off_beat_motion_scores_low() -> None:
    # Minima on the beats of a different tempo: most music beats are far from them.
    poses = _swing(20, fps=30, bpm=97.0)
    assert metrics.beat_align_score(poses, _beats(20, 120.0), fps=30) < 0.6


def test_beats_outside_the_dance_are_ignored() -> None:
    poses = _swing(5, fps=30)
    inside = _beats(5)
    assert metrics.beat_align_score(poses, np.r_[inside, 100.0, 200.0], fps=30) == pytest.approx(
        metrics.beat_align_score(poses, inside, fps=30)
    )
    assert metrics.beat_align_score(poses, [100.0], fps=30) == 0.0
    assert np.isnan(metrics.motion_beat_lag_ms(poses, [], fps=30))


def test_frozen_dance_is_all_frozen_and_a_moving_one_not() -> None:
    frozen = np.repeat(rest_pose(on_floor=True)[None], 300, axis=0)
    assert metrics.freeze_ratio(frozen, fps=30) == 1.0
    assert metrics.freeze_ratio(_swing(10, fps=30), fps=30) == 0.0
    half = np.concatenate([_swing(5, fps=30), np.repeat(_swing(5, fps=30)[-1:], 150, axis=0)])
    assert metrics.freeze_ratio(half, fps=30) == pytest.approx(0.5)
    # A tiny tremor (1 mm) stays frozen.
    rng = np.random.default_rng(0)
    tremor = frozen + rng.normal(0, 0.0005, frozen.shape)
    assert metrics.freeze_ratio(tremor, fps=30) == 1.0


def test_standing_still_in_a_silence_is_not_a_freeze() -> None:
    fps, sr = 30, 24000
    half = np.concatenate([_swing(5, fps=fps), np.repeat(_swing(5, fps=fps)[-1:], 150, axis=0)])  # still from 5 s
    t = np.arange(10 * sr) / sr
    music = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    gap = music.copy()
    gap[5 * sr :] *= 10 ** (-70 / 20)  # -80 dBFS: silent
    on = metrics.music_frames(music, sr, fps=fps, n=len(half))
    off = metrics.music_frames(gap, sr, fps=fps, n=len(half))
    assert on.all() and off[:149].all() and not off[151:].any()
    assert metrics.freeze_ratio(half, fps=fps, music=on) == pytest.approx(0.5)  # still during music: frozen
    assert metrics.freeze_ratio(half, fps=fps, music=off) == 0.0  # still during the silence: not counted
    assert metrics.freeze_ratio(half, fps=fps) == pytest.approx(0.5)  # without a mask every window counts
    quiet = gap.copy()
    quiet[5 * sr :] = music[5 * sr :] * 10 ** (-30 / 20)  # 30 dB quieter is still music
    assert metrics.freeze_ratio(half, fps=fps, music=metrics.music_frames(quiet, sr, fps=fps, n=len(half))) == pytest.approx(0.5)


def test_bone_length_error_is_relative() -> None:
    p = np.repeat(rest_pose()[None], 10, axis=0)
    assert metrics.bone_length_error(p) < 1e-6
    assert metrics.bone_length_error(p * 1.1) == pytest.approx(0.1, rel=1e-3)
    assert metrics.bone_length_error(p * 1.1, lengths="clip") < 1e-6


def test_jerk_is_zero_for_constant_velocity_and_known_for_a_cubic() -> None:
    fps = 30
    t = np.arange(60) / fps
    p = np.repeat(rest_pose()[None], 60, axis=0).astype(np.float64)
    lin = p.copy()
    lin[:, :, 0] += 0.5 * t[:, None]
    assert metrics.jerk(lin, fps=fps) < 1e-6
    cub = p.copy()
    cub[:, :, 0] += t[:, None] ** 3  # third derivative 6 m/s^3
    assert metrics.jerk(cub, fps=fps) == pytest.approx(6.0, rel=1e-3)


def test_foot_skating_counts_sliding_feet_on_the_floor_only() -> None:
    fps = 30
    t = np.arange(90) / fps
    p = np.repeat(rest_pose(on_floor=True)[None], 90, axis=0).astype(np.float64)
    assert metrics.foot_skating(p, fps=fps) == 0.0
    slide = p.copy()
    slide[:, :, 0] += 0.3 * t[:, None]  # the whole body glides at 0.3 m/s
    assert metrics.foot_skating(slide, fps=fps) == pytest.approx(0.3, rel=1e-3)
    # Feet moving only while lifted high do not count as skating.
    lifted = p.copy()
    moving = (t > 1.0) & (t < 2.0)
    lifted[moving, 15, 1] += 0.3
    lifted[moving, 15, 0] += 2.0 * (t[moving] - 1.0)
    assert metrics.foot_skating(lifted, fps=fps) < 0.05


def test_kinetic_features_shape_and_diversity() -> None:
    fps = 30
    slow = _swing(4, fps=fps, amp=0.05)
    fast = _swing(4, fps=fps, amp=0.3)
    f = metrics.kinetic_features(fast, fps=fps)
    assert f.shape == (51,)
    g = metrics.kinetic_features(slow, fps=fps)
    assert (f[0::3] > g[0::3]).all() and (f[2::3] > g[2::3]).all()  # horizontal, acceleration
    assert (f[1::3] == 0).all()  # no vertical motion
    same = metrics.diversity([slow, slow, slow], fps=fps, reference=[slow, fast])
    assert same == pytest.approx(0.0, abs=1e-9)
    varied = metrics.diversity([slow, fast], fps=fps, reference=[slow, fast])
    assert varied > 1.0
    assert metrics.diversity([slow], fps=fps) == 0.0


def test_style_separability_tells_distinct_styles_apart() -> None:
    fps = 30
    rng = np.random.default_rng(1)

    def style_a(seed: int) -> np.ndarray:  # arms low, swaying fast along x
        return _swing(8, fps=fps, amp=0.3, shift_s=seed * 0.01) + rng.normal(0, 0.002, (240, 17, 3))

    def style_b(seed: int) -> np.ndarray:  # bouncing slowly up and down, left arm raised
        p = _swing(8, fps=fps, amp=0.0) + rng.normal(0, 0.002, (240, 17, 3))
        t = np.arange(240) / fps
        p[:, :, 1] += 0.05 * np.sin(2 * np.pi * (t + seed * 0.01))[:, None]
        p[:, 9, 1] += 0.6
        return p

    train = {"a": [style_a(i) for i in range(3)], "b": [style_b(i) for i in range(3)]}
    good = {"a": [style_a(10)], "b": [style_b(10)]}
    assert metrics.style_separability(train, good, fps=fps) == 1.0
    swapped = {"a": [style_b(11)], "b": [style_a(11)]}
    assert metrics.style_separability(train, swapped, fps=fps) == 0.0
    # A mirrored style b (right arm raised) is still closer to b than to a.
    assert metrics.style_separability(train, {"b": [mirror(style_b(12))]}, fps=fps) == 1.0


def test_wrong_shape_is_refused() -> None:
    with pytest.raises(ValueError, match="shape"):
        metrics.jerk(np.zeros((10, 16, 3)), fps=30)
