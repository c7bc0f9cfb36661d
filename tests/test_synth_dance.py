"""The synthetic choreographer: exact bones, feet on the floor, on the beat, varied."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from model import metrics
from model.dataset import check_dataset, clip_records, load_poses
from model.errors import ConfigError
from model.skeleton import ANKLE_HEIGHT, bone_length_error
from model.synth_dance import STYLES, render_dance, synthesize_dataset, two_bone_ik
from model.synth_music import render_song

FPS = 30


def _dance(style: str, *, seconds: float = 60.0, seed: int = 3, **song_kw: object):
    spec = STYLES[style]
    bpm = float(np.mean(spec.bpm))
    song = render_song(feel=spec.feel, bpm=bpm, seconds=seconds, seed=seed, **song_kw)  # type: ignore[arg-type]
    return song, render_dance(song, style=style, fps=FPS, seed=seed)


@pytest.mark.parametrize("style", list(STYLES))
def test_every_style_is_exact_grounded_and_on_the_beat(style: str) -> None:
    song, dance = _dance(style)
    p = dance.poses
    assert p.dtype == np.float32 and p.shape == (int(song.seconds * FPS), 17, 3)
    assert np.isfinite(p).all()
    assert bone_length_error(p) < 1e-4
    lowest = p[:, 15:17, 1].min(axis=1)
    assert lowest.min() > ANKLE_HEIGHT - 2e-3  # never through the floor
    # Standing on a foot most of the time (ballet's arabesques and house's spin hops less).
    assert np.mean(lowest < ANKLE_HEIGHT + 0.02) > 0.6
    assert metrics.beat_align_score(p, song.beats, fps=FPS) > 0.65
    assert abs(metrics.motion_beat_lag_ms(p, song.beats, fps=FPS)) < 30.0
    assert metrics.freeze_ratio(p, fps=FPS) == 0.0
    assert metrics.foot_skating(p, fps=FPS) < 0.1
    assert len({m for _, m, _ in dance.phrases}) >= 2


def test_same_seed_same_dance_other_seed_other_dance() -> None:
    song = render_song(feel="house", bpm=124.0, seconds=20.0, seed=1)
    a = render_dance(song, style="house", fps=FPS, seed=5).poses
    b = render_dance(song, style="house", fps=FPS, seed=5).poses
    c = render_dance(song, style="house", fps=FPS, seed=6).poses
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).mean() > 0.01


def test_a_dance_is_not_one_loop() -> None:
    song, dance = _dance("hiphop", seconds=120.0)
    p = dance.poses
    bar = int(round(4 * 60.0 / song.bpm * FPS))
    # Compare every 4-bar window with every later one: none repeats (an exact loop would
    # differ by < 0.001 m; the same move in the same phrase differs by its per-cycle jitter).
    w = 4 * bar
    wins = [p[i : i + w] - p[i : i + w, 11:13].mean(axis=(0, 1)) for i in range(0, len(p) - w, w)]
    d = [np.abs(wins[i] - wins[j]).mean() for i in range(len(wins)) for j in range(i + 1, len(wins))]
    assert min(d) > 0.01
    assert np.median(d) > 0.04
    assert {m for _, _, m in dance.phrases} == {True, False}  # both sides


def test_amplitude_follows_the_energy_of_the_song() -> None:
    song, dance = _dance("house", seconds=60.0, break_at=(30.0, 8.0))
    speed = metrics.joint_speed(dance.poses, fps=FPS)
    t = np.arange(len(speed)) / FPS
    in_break = speed[(t > 31) & (t < 37)].mean()
    drop = speed[(t > 20) & (t < 29)].mean()  # bars 8-15 are the loudest section at 124 BPM
    assert in_break < 0.85 * drop


def test_two_bone_ik_keeps_lengths_and_reaches() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(0, 0.1, (200, 3))
    target = a + rng.normal(0, 0.4, (200, 3))
    pole = rng.normal(0, 1, (200, 3))
    mid, end = two_bone_ik(a, target, 0.3, 0.25, pole)
    np.testing.assert_allclose(np.linalg.norm(mid - a, axis=1), 0.3, atol=1e-9)
    np.testing.assert_allclose(np.linalg.norm(end - mid, axis=1), 0.25, atol=1e-9)
    reachable = np.linalg.norm(target - a, axis=1) < 0.54
    np.testing.assert_allclose(end[reachable], target[reachable], atol=1e-9)


def test_synthesized_dataset_checks_clean(tmp_path: Path) -> None:
    out = tmp_path / "synth"
    seen: list[tuple[int, int]] = []
    entries = synthesize_dataset(out, minutes=0.5, styles=["ballet", "popping"], seed=2,
                                 clip_seconds=(6.0, 10.0), progress=lambda d, t, e: seen.append((d, t)))
    assert check_dataset(out) == []
    recs = clip_records(out)
    assert len(recs) == len(entries) >= 4
    assert {r.style for r in recs} == {"ballet", "popping"}
    assert sum(r.entry["seconds"] for r in recs) == pytest.approx(30.0, abs=0.2)
    z = load_poses(recs[0].poses)
    assert len(z["beats"]) > 5 and float(z["fps"]) == FPS
    assert seen[-1] == (30, 30)


def test_unknown_style_is_refused() -> None:
    song = render_song(feel="house", bpm=120.0, seconds=5.0, seed=0)
    with pytest.raises(ConfigError, match="unknown dance style 'tango'"):
        render_dance(song, style="tango", fps=FPS, seed=0)


@pytest.mark.slow
def test_thirty_minutes_render_in_under_five_minutes(tmp_path: Path) -> None:
    t0 = time.perf_counter()
    synthesize_dataset(tmp_path / "big", minutes=30.0, seed=0)
    assert time.perf_counter() - t0 < 300.0
    assert check_dataset(tmp_path / "big") == []
