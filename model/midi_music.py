"""Songs rendered from MIDI with real instrument samples, with exact beat and downbeat truth.

Two sources of grooves: club and pop styles written as step patterns
(``model.midi_grooves``: house, techno, trance, drum and bass, hip-hop, trap, funk, disco,
dance-pop, reggaeton, UK garage, metal) and Debian ``mma``'s groove library
(``model.midi_mma``: rock, pop, swing, latin, waltzes, 6/8). Both give a score in *felt
beats*; a ``TempoMap`` places beat k at an exact time, every note is mapped through it, the
MIDI is written with pretty_midi and rendered by fluidsynth (``model.midi_render``). The
beat truth is the grid itself, so it holds through ramps, steps, 3/4 and 6/8 (whose beat is
the dotted quarter).

Usage::

    song = make_song("house", bpm=124, seconds=60, seed=3)
    song.audio, song.sr          # float32 mono
    song.beats, song.downbeats   # seconds
    song.energy                  # [shape=(len(beats),)] 0..1 per beat: breaks low, drops 1
    song.sections                # [(start_s, end_s, label)]
    make_song("techno", bpm=128, seconds=60, seed=1, tempo_map=TempoMap.step(128, 140, 30))

Offline / training-time only (needs pretty_midi and fluidsynth; mma for mma styles).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from model.constants import SAMPLE_RATE
from model.errors import ConfigError
from model.midi_grooves import GROOVES, SECTION_ENERGY, Score, arrange
from model.midi_mma import MMA_STYLES, mma_beats_per_bar, mma_score
from model.midi_render import render_midi

__all__ = ["GENRES", "GENRE_GROUPS", "Song", "TempoMap", "beats_per_bar", "genre_group", "make_score",
           "make_song", "score_to_midi"]

#: Genre groups for reporting. Songs whose tempo map changes are reported as "tempo change"
#: whatever their genre (``Song.group``).
GENRE_GROUPS: dict[str, tuple[str, ...]] = {
    "club": ("house", "techno", "trance", "dnb", "hiphop", "trap", "funk", "disco", "dancepop",
             "reggaeton", "ukgarage", "boneym", "bvfunk"),
    "rock/pop": ("metal", "8beat", "50srock", "softrock", "folkrock", "popballad", "rb", "ska",
                 "blues", "countryswing", "polka", "march"),
    "jazz/latin": ("swing", "bigband", "jazzcombo", "bossanova", "salsa", "mambo", "chacha",
                   "samba", "merengue", "tango", "rhumba", "beguine"),
    "triple metre": ("waltz", "jazzwaltz", "countrywaltz", "vienesewaltz", "68march", "68swing",
                     "arpeggio68", "ballad68"),
    "tempo change": (),
}

#: Every genre -> its tempo range (BPM of the felt beat).
GENRES: dict[str, tuple[float, float]] = {
    **{k: g.bpm for k, g in GROOVES.items()}, **{k: s.bpm for k, s in MMA_STYLES.items()}}

_METER_NAME = {"68march": "6/8", "68swing": "6/8", "arpeggio68": "6/8", "ballad68": "12/8"}


def genre_group(genre: str) -> str:
    """The GENRE_GROUPS key of a genre."""
    for g, names in GENRE_GROUPS.items():
        if genre in names:
            return g
    raise ConfigError(f"unknown genre {genre!r}; choose one of {', '.join(sorted(GENRES))}")


@dataclass(frozen=True)
class TempoMap:
    """Tempo as anchor points ``(time_s, bpm)``; between anchors the tempo ramps linearly in
    time (``ramp=True``) or holds until the next anchor (steps). Beat k+1 follows beat k by
    60 / tempo(t_k), which defines the beat grid exactly."""

    points: tuple[tuple[float, float], ...]
    ramp: bool = False

    @staticmethod
    def constant(bpm: float) -> TempoMap:
        return TempoMap(((0.0, float(bpm)),))

    @staticmethod
    def step(bpm0: float, bpm1: float, at: float) -> TempoMap:
        """``bpm0`` until ``at`` seconds, then ``bpm1`` (from the first beat at or after it)."""
        return TempoMap(((0.0, float(bpm0)), (float(at), float(bpm1))))

    @staticmethod
    def ramp_between(bpm0: float, bpm1: float, start: float, end: float) -> TempoMap:
        """``bpm0`` until ``start``, a linear ramp to ``bpm1`` at ``end``, then ``bpm1``."""
        return TempoMap(((0.0, float(bpm0)), (float(start), float(bpm0)), (float(end), float(bpm1))),
                        ramp=True)

    @property
    def changes(self) -> bool:
        return len({p[1] for p in self.points}) > 1

    def tempo_at(self, t: float) -> float:
        ts = [p[0] for p in self.points]
        bs = [p[1] for p in self.points]
        if self.ramp:
            return float(np.interp(t, ts, bs))
        i = int(np.searchsorted(ts, t, side="right")) - 1
        return bs[max(0, i)]

    def beat_times(self, seconds: float) -> np.ndarray:
        """Beat times from 0 up to and including the first beat past ``seconds``."""
        out = [0.0]
        while out[-1] <= seconds:
            out.append(out[-1] + 60.0 / self.tempo_at(out[-1]))
        return np.array(out)

    def describe(self) -> dict[str, Any]:
        kind = "constant" if not self.changes else ("ramp" if self.ramp else "step")
        return {"kind": kind, "points": [list(p) for p in self.points]}


@dataclass
class Song:
    """A rendered song and its truth. beats/downbeats in seconds; energy per beat 0..1."""

    audio: np.ndarray
    sr: int
    beats: np.ndarray
    downbeats: np.ndarray
    genre: str
    group: str
    meter: int  # beats per bar
    meter_name: str  # "4/4", "3/4", "6/8", "12/8"
    bpm: float
    seed: int
    tempo_map: TempoMap
    energy: np.ndarray
    sections: list[tuple[float, float, str]] = field(default_factory=list)
    section_of_beat: list[str] = field(default_factory=list)

    def truth(self) -> dict[str, Any]:
        """JSON-ready description (everything but the audio)."""
        return {
            "beats": [round(float(b), 6) for b in self.beats],
            "downbeats": [round(float(b), 6) for b in self.downbeats],
            "genre": self.genre, "group": self.group, "meter": self.meter,
            "meter_name": self.meter_name, "bpm": self.bpm, "seed": self.seed,
            "tempo_map": self.tempo_map.describe(),
            "energy": [round(float(e), 3) for e in self.energy],
            "sections": [[round(a, 4), round(b, 4), lab] for a, b, lab in self.sections],
            "sr": self.sr, "seconds": round(len(self.audio) / self.sr, 4),
        }


def beats_per_bar(genre: str) -> int:
    """Felt beats per bar of a genre (4, 3, or 2 for 6/8 felt in two)."""
    if genre in MMA_STYLES:
        return mma_beats_per_bar(genre)
    return 4


def make_score(genre: str, n_bars: int, seed: int, *, breaks: bool = True) -> Score:
    """The beat-unit score of a genre (deterministic per seed)."""
    rng = np.random.default_rng([seed, sum(map(ord, genre))])
    if genre in GROOVES:
        return arrange(genre, n_bars, rng, breaks=breaks)
    if genre in MMA_STYLES:
        return mma_score(genre, n_bars, rng, breaks=breaks)
    raise ConfigError(f"unknown genre {genre!r}; choose one of {', '.join(sorted(GENRES))}")


def score_to_midi(score: Score, beat_times: np.ndarray, *, seed: int = 0,
                  jitter_ms: float = 2.0) -> Any:
    """A pretty_midi.PrettyMIDI of ``score`` with beat k at ``beat_times[k]`` (piecewise
    linear between beats). Notes are nudged by a little timing noise (``jitter_ms`` s.d.),
    drums half as much."""
    import pretty_midi

    rng = np.random.default_rng(seed + 7)
    pm = pretty_midi.PrettyMIDI(resolution=960, initial_tempo=120.0)
    idx = np.arange(len(beat_times), dtype=float)
    end = float(beat_times[-1])
    for (name, program, is_drum), notes in sorted(score.tracks.items(), key=lambda kv: kv[0][0]):
        inst = pretty_midi.Instrument(program=program, is_drum=is_drum, name=name)
        arr = np.array([(n[1], n[1] + n[2]) for n in notes])
        on = np.interp(arr[:, 0], idx, beat_times)
        off = np.interp(arr[:, 1], idx, beat_times)
        sd = jitter_ms * 1e-3 * (0.5 if is_drum else 1.0)
        on = on + rng.normal(0.0, sd, size=on.shape) if sd > 0 else on
        for (pitch, _s, _d, vel), a, b in zip(notes, on, off):
            a = max(0.0, float(a))
            if a >= end:
                continue
            inst.notes.append(pretty_midi.Note(velocity=vel, pitch=pitch, start=a,
                                               end=max(a + 0.03, float(b))))
        if inst.notes:
            pm.instruments.append(inst)
    return pm


def make_song(genre: str, *, bpm: float | None = None, seconds: float = 60.0, seed: int = 0,
              tempo_map: TempoMap | None = None, sr: int = SAMPLE_RATE, breaks: bool = True,
              soundfont: str | None = None, gain: float = 0.6) -> Song:
    """Render a song of ``genre`` (a key of GENRES) with exact beats.

    bpm: tempo of the felt beat (default: a seeded pick in the genre's range); ignored when
        ``tempo_map`` is given. seconds: length. seed: everything random (arrangement, key,
        instruments, humanising). breaks: include breaks (drums out) and builds.
    The metre comes from the genre (4/4, 3/4, 6/8 felt in 2, 12/8 felt in 4).
    """
    if genre not in GENRES:
        raise ConfigError(f"unknown genre {genre!r}; choose one of {', '.join(sorted(GENRES))}")
    if seconds <= 0 or seconds > 3600:
        raise ConfigError(f"song length {seconds} s must be in (0, 3600]")
    if tempo_map is None:
        if bpm is None:
            lo, hi = GENRES[genre]
            bpm = float(np.random.default_rng(seed).uniform(lo, hi))
        tempo_map = TempoMap.constant(bpm)
    for _, b in tempo_map.points:
        if not 40.0 <= b <= 260.0:
            raise ConfigError(f"tempo {b} BPM is outside 40..260")
    grid = tempo_map.beat_times(seconds + 2.0)
    bpm0 = tempo_map.points[0][1]
    # bars: enough to cover the grid
    bpb = beats_per_bar(genre)
    n_bars = int(np.ceil((len(grid) - 1) / bpb))
    score = make_score(genre, n_bars, seed, breaks=breaks)
    if score.beats_per_bar != bpb:
        raise ConfigError(f"genre {genre}: score has {score.beats_per_bar} beats a bar, "
                          f"expected {bpb}")
    need = n_bars * bpb + 1
    if len(grid) < need:  # extend the grid with the last tempo so every note has a time
        extra = grid[-1] + np.arange(1, need - len(grid) + 1) * 60.0 / tempo_map.tempo_at(grid[-1])
        grid = np.concatenate([grid, extra])
    pm = score_to_midi(score, grid, seed=seed)
    audio = render_midi(pm, sr=sr, soundfont=soundfont, gain=gain, tail=seconds)
    keep = grid <= seconds - 1e-9
    beats = grid[keep]
    downbeats = beats[::bpb]
    bar_label: list[str] = [""] * n_bars
    for b0, b1, lab in score.sections:
        bar_label[b0:b1] = [lab] * (b1 - b0)
    sec_beat = [bar_label[k // bpb] for k in range(len(beats))]
    energy = np.array([SECTION_ENERGY[lab] for lab in sec_beat], dtype=np.float32)
    for b0, b1, lab in score.sections:  # builds rise towards the drop
        if lab == "build":
            k0, k1 = b0 * bpb, min(len(beats), b1 * bpb)
            if k1 > k0:
                energy[k0:k1] = np.linspace(0.4, 0.85, k1 - k0)
    sections = [(float(grid[b0 * bpb]), float(min(seconds, grid[min(len(grid) - 1, b1 * bpb)])),
                 lab) for b0, b1, lab in score.sections if grid[b0 * bpb] < seconds]
    meter_name = _METER_NAME.get(genre, f"{bpb}/4")
    group = "tempo change" if tempo_map.changes else genre_group(genre)
    return Song(audio=audio, sr=sr, beats=beats, downbeats=downbeats, genre=genre, group=group,
                meter=bpb, meter_name=meter_name, bpm=float(bpm0), seed=seed,
                tempo_map=tempo_map, energy=energy, sections=sections, section_of_beat=sec_beat)
