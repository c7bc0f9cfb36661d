"""The dancer's own pulse (model/kinbeats.py): tempo, phase and grid from motion alone."""

from __future__ import annotations

import numpy as np
import pytest

from model.kinbeats import beat_fit, find_pulse
from model.skeleton import JOINT_INDEX as J
from model.skeleton import rest_pose

FPS = 60.0


def _beat_times(bpm0: float, bpm1: float, seconds: float) -> np.ndarray:
    """Beats of a tempo that moves linearly from bpm0 to bpm1 over ``seconds``."""
    t = np.arange(0.0, seconds, 1e-3)
    phase = np.cumsum((bpm0 + (bpm1 - bpm0) * t / seconds) / 60.0) * 1e-3
    k = np.arange(1, int(phase[-1]))
    return np.interp(k, phase, t)


def _stepping_dance(beats: np.ndarray, seconds: float, *, skip_every: int = 0,
                    seed: int = 0) -> np.ndarray:
    """A figure that steps left, right, left, ... landing on ``beats``: each foot lifts
    between its landings (smooth arc, lands fast), the body drops on each landing and
    rises between, the arms swing and stop at the beats. ``skip_every`` = 4 leaves out
    every fourth step (a salsa pause)."""
    rng = np.random.default_rng(seed)
    t = np.arange(0.0, seconds, 1.0 / FPS)
    base = rest_pose(on_floor=True).astype(np.float64)
    p = np.repeat(base[None], len(t), axis=0)
    steps = [b for i, b in enumerate(beats) if not (skip_every and i % skip_every == skip_every - 1)]
    for foot, idx in ((0, [J["left_ankle"], J["left_knee"]]), (1, [J["right_ankle"], J["right_knee"]])):
        mine = steps[foot::2]
        lift = np.zeros(len(t))
        for a, b in zip(mine[:-1], mine[1:]):
            lo, hi = a + 0.1 * (b - a), b
            s = (t >= lo) & (t < hi)
            u = (t[s] - lo) / (hi - lo)
            lift[s] = 0.12 * np.sin(np.pi * u ** 2.5)  # slow rise, quick landing
        p[:, idx[0], 1] += lift
        p[:, idx[1], 1] += 0.5 * lift
        p[:, idx[0], 2] += 0.5 * lift
    bounce = np.zeros(len(t))
    per = np.median(np.diff(beats))
    for b in steps:
        d = t - b
        bounce += np.where((d > 0) & (d < per), -0.03 * np.sin(np.pi * d / per), 0.0)
    upper = [J[n] for n in ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder",
                            "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
                            "left_hip", "right_hip", "left_knee", "right_knee")]
    p[:, upper, 1] += bounce[:, None]
    beat_phase = np.interp(t, beats, np.arange(len(beats)))
    swing = 0.15 * np.abs(np.sin(np.pi * beat_phase)) ** 0.7
    p[:, J["left_wrist"], 2] += swing
    p[:, J["right_wrist"], 2] += swing
    p += rng.normal(0.0, 0.002, p.shape)  # marker noise
    return p.astype(np.float32)


@pytest.mark.parametrize("bpm", [96.0, 124.0])
def test_steady_stepping_gives_its_tempo_and_a_grid_on_the_steps(bpm: float) -> None:
    beats = _beat_times(bpm, bpm, 30.0)
    poses = _stepping_dance(beats, 30.0)
    pulse = find_pulse(poses, FPS, prior_bpm=110.0, bpm_range=(60.0, 200.0))
    assert pulse.tempo_bpm == pytest.approx(bpm, rel=0.03)
    assert pulse.step_fit >= 0.95 and pulse.fit >= 0.5  # arms also stop mid-beat
    # every true beat after the first second has a grid beat within 40 ms
    inner = beats[(beats > 1.0) & (beats < 29.0)]
    assert beat_fit(inner, pulse.beats, tol=0.04) >= 0.9
    assert pulse.beats[0] < 60.0 / bpm + 1e-6 and pulse.beats[-1] > 30.0 - 60.0 / bpm - 2 / FPS


def test_tempo_drift_is_followed_by_the_grid() -> None:
    beats = _beat_times(100.0, 130.0, 40.0)
    poses = _stepping_dance(beats, 40.0)
    pulse = find_pulse(poses, FPS, prior_bpm=110.0, bpm_range=(60.0, 200.0))
    inner = beats[(beats > 1.0) & (beats < 39.0)]
    assert beat_fit(inner, pulse.beats, tol=0.05) >= 0.85
    mid = 0.5 * (pulse.beats[1:] + pulse.beats[:-1])
    early = np.median(pulse.tempo_curve[(mid > 2.0) & (mid < 10.0)])
    late = np.median(pulse.tempo_curve[(mid > 30.0) & (mid < 38.0)])
    assert early == pytest.approx(104.5, rel=0.05)  # true tempo 101.5-107.5 there
    assert late == pytest.approx(125.5, rel=0.05)  # 122.5-128.5


def test_salsa_figure_keeps_the_pause_beats_and_counts_them_4_and_8() -> None:
    beats = _beat_times(170.0, 170.0, 30.0)
    poses = _stepping_dance(beats, 30.0, skip_every=4)
    pulse = find_pulse(poses, FPS, pattern=(1.0, 1.0, 1.0, 0.0), prior_bpm=170.0, bpm_range=(140.0, 200.0))
    assert pulse.tempo_bpm == pytest.approx(170.0, rel=0.03)
    inner = beats[(beats > 1.0) & (beats < 29.0)]
    assert beat_fit(inner, pulse.beats, tol=0.04) >= 0.9  # pauses included
    spc = pulse.steps_per_count
    assert spc[3] + spc[7] <= 0.05 * spc.sum()  # nobody steps on 4 and 8
    assert min(spc[[0, 1, 2, 4, 5, 6]]) > 0


def test_partners_read_together_share_one_grid() -> None:
    beats = _beat_times(120.0, 120.0, 20.0)
    a = _stepping_dance(beats, 20.0, seed=1)
    b = _stepping_dance(beats + 0.01, 20.0, seed=2)
    pulse = find_pulse([a, b], FPS)
    assert pulse.tempo_bpm == pytest.approx(120.0, rel=0.03)
    assert len(pulse.steps) > len(find_pulse(a, FPS).steps)


def test_beat_fit_counts_events_within_the_tolerance() -> None:
    grid = np.arange(0.0, 10.0, 0.5)
    assert beat_fit(np.array([0.5, 1.06, 1.3]), grid) == pytest.approx(2 / 3)
    assert beat_fit(np.zeros(0), grid) == 0.0
