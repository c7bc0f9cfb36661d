"""The music synthesiser: ground truth, feels, tempo change, break, speed."""

from __future__ import annotations

import time

import numpy as np
import pytest

from model.errors import ConfigError
from model.synth_music import FEELS, demo_song, render_song


@pytest.mark.parametrize("feel", FEELS)
def test_beats_are_evenly_spaced_at_the_requested_tempo(feel: str) -> None:
    song = render_song(feel=feel, bpm=120, seconds=10, seed=0)
    assert song.audio.dtype == np.float32 and song.audio.ndim == 1
    assert len(song.audio) == 10 * song.sample_rate
    np.testing.assert_allclose(np.diff(song.beats), 0.5, atol=1e-9)
    assert song.beats[-1] < 10.0
    assert len(song.energy) == len(song.beats)
    assert np.max(np.abs(song.audio)) <= 1.0
    np.testing.assert_allclose(song.downbeats, song.beats[:: song.beats_per_bar])


def test_waltz_has_three_beats_per_bar() -> None:
    song = render_song(feel="waltz", bpm=150, seconds=8, seed=0)
    assert song.beats_per_bar == 3
    np.testing.assert_allclose(np.diff(song.downbeats), 3 * 0.4, atol=1e-9)


def test_kick_onsets_fall_on_the_ground_truth_beats() -> None:
    song = render_song(feel="house", bpm=125, seconds=6, seed=3)
    sr = song.sample_rate
    env = np.abs(song.audio)
    for t in song.beats[1:8]:
        i = int(round(t * sr))
        before = env[i - int(0.03 * sr): i - int(0.005 * sr)].max()
        after = env[i: i + int(0.02 * sr)].max()
        assert after > 1.5 * before, f"no attack at beat {t:.3f} s"


def test_tempo_change_switches_beat_spacing() -> None:
    song = render_song(feel="breakbeat", bpm=100, seconds=20, seed=1, tempo_change=(10.0, 140.0))
    d = np.diff(song.beats)
    assert np.allclose(d[song.beats[:-1] < 9.9], 0.6)
    assert np.allclose(d[song.beats[:-1] >= 10.0], 60 / 140)


def test_break_is_quiet_and_has_low_energy() -> None:
    song = render_song(feel="house", bpm=120, seconds=30, seed=2, break_at=(12.0, 4.0))
    sr = song.sample_rate
    rms_break = np.sqrt(np.mean(song.audio[13 * sr: 15 * sr] ** 2))
    rms_play = np.sqrt(np.mean(song.audio[17 * sr: 19 * sr] ** 2))
    assert rms_break < 0.5 * rms_play
    in_break = (song.beats >= 12.0) & (song.beats < 16.0)
    assert np.all(song.energy[in_break] <= 0.1 + 1e-6)
    assert np.all(song.energy[~in_break] >= 0.4)


def test_same_seed_same_audio_other_seed_differs() -> None:
    a = render_song(feel="hiphop", bpm=90, seconds=4, seed=5)
    b = render_song(feel="hiphop", bpm=90, seconds=4, seed=5)
    c = render_song(feel="hiphop", bpm=90, seconds=4, seed=6)
    assert np.array_equal(a.audio, b.audio)
    assert not np.array_equal(a.audio, c.audio)


def test_bad_feel_and_tempo_are_refused() -> None:
    with pytest.raises(ConfigError, match="feel"):
        render_song(feel="polka", bpm=120, seconds=4, seed=0)
    with pytest.raises(ConfigError, match="BPM"):
        render_song(feel="house", bpm=400, seconds=4, seed=0)


def test_ten_minutes_render_in_a_few_seconds() -> None:
    t0 = time.perf_counter()
    song = demo_song(seconds=600, seed=0)
    assert time.perf_counter() - t0 < 10.0
    assert abs(len(song.beats) - 600 * 122 / 60) <= 1
