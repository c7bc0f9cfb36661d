"""MIDI songs rendered with real instrument samples: the audio lands on the beat truth.

Rendering needs Debian fluidsynth + fluid-soundfont-gm, mma styles need Debian mma; the
tests that need them skip with the reason when they are missing.
"""

from __future__ import annotations

import numpy as np
import pytest

from model.errors import ConfigError
from model.midi_mma import have_mma
from model.midi_render import RenderError, have_fluidsynth, render_midi

pretty_midi = pytest.importorskip("pretty_midi", reason="pretty_midi not installed (train extra)")

from model.midi_music import (  # noqa: E402
    GENRE_GROUPS,
    GENRES,
    TempoMap,
    beats_per_bar,
    genre_group,
    make_score,
    make_song,
)

SR = 24_000
needs_fluidsynth = pytest.mark.skipif(
    not have_fluidsynth(), reason="install Debian fluidsynth and fluid-soundfont-gm")
needs_mma = pytest.mark.skipif(not have_mma(), reason="install Debian mma")


def flux_env(y: np.ndarray, hop: int = 240) -> np.ndarray:
    """Onset strength (librosa's log-mel spectral flux, 21 ms windows starting at each hop);
    value i belongs to time i * hop / SR."""
    import librosa

    return np.asarray(librosa.onset.onset_strength(y=y, sr=SR, hop_length=hop, n_fft=512,
                                                   center=False))


def best_lag_ms(y: np.ndarray, beats: np.ndarray, hop: int = 48, search: int = 20) -> float:
    """Lag (ms) at which the onset envelope correlates best with the beat impulses."""
    env = flux_env(y, hop)
    idx = np.round(beats * SR / hop).astype(int)
    idx = idx[(idx >= search) & (idx < len(env) - search)]
    lags = np.arange(-search, search + 1)
    vals = [env[idx + lag].mean() for lag in lags]
    return float(lags[int(np.argmax(vals))] * hop / SR * 1e3)


@needs_fluidsynth
def test_render_midi_puts_onsets_at_the_note_times() -> None:
    pm = pretty_midi.PrettyMIDI()
    drums = pretty_midi.Instrument(0, is_drum=True)
    hits = np.array([0.3, 0.9, 1.35, 2.0, 2.8])
    for t in hits:
        drums.notes.append(pretty_midi.Note(110, 38, float(t), float(t) + 0.1))
    pm.instruments.append(drums)
    y = render_midi(pm, sr=SR, tail=3.5)
    assert y.dtype == np.float32 and y.ndim == 1 and len(y) == int(3.5 * SR)
    env = flux_env(y, hop=48)  # 2 ms
    peaks = np.argsort(env)[::-1]
    found: list[int] = []
    for p in peaks:
        if all(abs(p - q) > 25 for q in found):
            found.append(int(p))
        if len(found) == len(hits):
            break
    np.testing.assert_allclose(np.sort(found) * 48 / SR, hits, atol=0.012)


def test_render_midi_names_the_missing_soundfont() -> None:
    with pytest.raises(RenderError, match="fluid-soundfont-gm"):
        render_midi(pretty_midi.PrettyMIDI(), sr=SR, soundfont="/nonexistent/x.sf2")


def test_step_and_ramp_tempo_maps_give_monotone_beats_that_follow_the_map() -> None:
    step = TempoMap.step(100, 140, 10.0).beat_times(20.0)
    d = np.diff(step)
    assert np.all(d > 0)
    np.testing.assert_allclose(d[step[:-1] < 10.0 - 1e-9], 0.6)
    np.testing.assert_allclose(d[step[:-1] >= 10.0], 60 / 140)
    ramp = TempoMap.ramp_between(100, 140, 5.0, 15.0)
    b = ramp.beat_times(20.0)
    ib = np.diff(b)
    assert np.all(ib > 0)
    np.testing.assert_allclose(ib, [60 / ramp.tempo_at(t) for t in b[:-1]])
    inside = (b[:-1] > 5.0) & (b[:-1] < 15.0)
    assert np.all(np.diff(ib[inside]) < 0)  # speeding up through the ramp
    np.testing.assert_allclose(ib[b[:-1] >= 15.0], 60 / 140)


@needs_fluidsynth
def test_club_song_audio_is_on_its_beats() -> None:
    song = make_song("house", bpm=124, seconds=14, seed=1, breaks=False)
    assert song.sr == SR and song.audio.dtype == np.float32
    np.testing.assert_allclose(np.diff(song.beats), 60 / 124)
    np.testing.assert_allclose(song.downbeats, song.beats[::4])
    assert abs(best_lag_ms(song.audio, song.beats)) <= 6.0
    env = flux_env(song.audio)
    on = env[np.round(song.beats * 100).astype(int)[1:-1]].mean()
    # between the 16th notes (an eighth of a beat late) nothing starts
    between = env[np.round((song.beats[:-1] + 7.5 / 124) * 100).astype(int)[1:-1]].mean()
    assert on > 2.0 * between


@needs_fluidsynth
def test_tempo_step_song_follows_the_new_tempo() -> None:
    song = make_song("techno", seconds=16, seed=2, tempo_map=TempoMap.step(100, 140, 8.0),
                     breaks=False)
    assert song.group == "tempo change"
    before, after = song.beats[song.beats < 7.5], song.beats[song.beats > 8.5]
    assert abs(best_lag_ms(song.audio, before)) <= 6.0
    assert abs(best_lag_ms(song.audio, after)) <= 6.0
    np.testing.assert_allclose(np.diff(after), 60 / 140)


@needs_fluidsynth
@needs_mma
def test_six_eight_beats_are_dotted_quarters() -> None:
    assert beats_per_bar("68swing") == 2 and beats_per_bar("jazzwaltz") == 3
    score = make_score("68swing", 4, seed=0)
    starts = np.array([n[1] for notes in score.tracks.values() for n in notes])
    # mma's eighths fall on thirds of our beat (humanising moves them a few ticks)
    frac = (starts * 3) % 1.0
    assert np.mean(np.minimum(frac, 1 - frac) < 0.1) > 0.9
    song = make_song("68swing", bpm=70, seconds=12, seed=0, breaks=False)
    np.testing.assert_allclose(np.diff(song.beats), 60 / 70)
    np.testing.assert_allclose(song.downbeats, song.beats[::2])
    assert song.meter_name == "6/8"
    assert abs(best_lag_ms(song.audio, song.beats)) <= 20.0


@needs_fluidsynth
def test_songs_are_deterministic_per_seed() -> None:
    a = make_song("funk", bpm=104, seconds=6, seed=5)
    b = make_song("funk", bpm=104, seconds=6, seed=5)
    c = make_song("funk", bpm=104, seconds=6, seed=6)
    np.testing.assert_array_equal(a.audio, b.audio)
    assert a.truth() == b.truth()
    assert not np.array_equal(a.audio, c.audio)


@needs_fluidsynth
def test_breaks_are_quiet_and_drops_are_big() -> None:
    song = make_song("trance", bpm=138, seconds=75, seed=3)
    labels = [s[2] for s in song.sections]
    assert "break" in labels and "drop" in labels
    assert len(song.energy) == len(song.beats)

    def rms(label: str) -> float:
        parts = [song.audio[int(a * SR): int(b * SR)] for a, b, lab in song.sections if lab == label]
        return float(np.sqrt(np.mean(np.concatenate(parts) ** 2)))

    assert rms("drop") > 1.5 * rms("break")
    e = dict(zip(song.section_of_beat, song.energy))
    assert e["drop"] == 1.0 and e["break"] < 0.3


def test_unknown_genre_is_one_clear_error() -> None:
    with pytest.raises(ConfigError, match="unknown genre 'polka2'"):
        make_song("polka2", seconds=5)


def test_every_genre_has_a_group_and_a_tempo_range() -> None:
    for g, (lo, hi) in GENRES.items():
        assert genre_group(g) in GENRE_GROUPS
        assert 60 <= lo < hi <= 200
    assert len(GENRE_GROUPS["club"]) >= 8


@pytest.mark.slow
@needs_mma
def test_every_genre_makes_a_score_with_drums_and_whole_bars() -> None:
    for g in GENRES:
        sc = make_score(g, 8, seed=1, breaks=False)
        assert sc.beats_per_bar == beats_per_bar(g)
        notes = [n for notes in sc.tracks.values() for n in notes]
        assert len(notes) > 20, g
        assert max(n[1] for n in notes) < 8 * sc.beats_per_bar
