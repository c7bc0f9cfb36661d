"""A small music synthesiser with exact beat and downbeat ground truth.

It renders songs (drums, bass, chords following a progression, a pluck arpeggio in the
loudest sections) in four feels, and serves both as test data for the beat tracker and
as the built-in demo music of the live server:

- ``"house"``: four-on-the-floor kick, clap on 2 and 4, off-beat open hats, 16th hats,
  off-beat bass.
- ``"hiphop"``: half-time groove with swung 8th hats, snare on beat 3 of each bar.
- ``"waltz"``: 3/4 (``beats_per_bar=3``), "oom-pah-pah": bass and kick on 1, chord stabs
  on 2 and 3.
- ``"breakbeat"``: broken beat with syncopated kicks, snares on 2 and 4, ghost notes.

Everything is numpy: drum one-shots are rendered once per song and added at event
positions, tonal notes are cached by (pitch, length). Thirty minutes render in a few
seconds.

Usage::

    song = render_song(feel="house", bpm=124, seconds=30, seed=1)
    song.audio          # float32 mono [shape=(n,)] at song.sample_rate
    song.beats          # beat times in seconds; song.downbeats the first beat of each bar
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model.constants import SAMPLE_RATE
from model.errors import ConfigError

FEELS: tuple[str, ...] = ("house", "hiphop", "waltz", "breakbeat")
MIN_BPM, MAX_BPM = 60.0, 200.0

# Chord progressions as scale-degree roots in semitones above the key's tonic, with
# chord quality: minor-key loops that sound good repeated.
_PROGRESSIONS: tuple[tuple[tuple[int, str], ...], ...] = (
    ((0, "m"), (8, "M"), (3, "M"), (10, "M")),  # i VI III VII
    ((0, "m"), (5, "m"), (8, "M"), (7, "M")),  # i iv VI V
    ((0, "m"), (10, "M"), (8, "M"), (10, "M")),  # i VII VI VII
    ((0, "m"), (3, "M"), (10, "M"), (5, "m")),  # i III VII iv
)
_QUALITY = {"m": (0, 3, 7), "M": (0, 4, 7)}

# Drum patterns: per feel, per instrument, (position in beats within the bar, gain).
_Pattern = dict[str, list[tuple[float, float]]]
_PATTERNS: dict[str, _Pattern] = {
    "house": {
        "kick": [(0, 1.0), (1, 1.0), (2, 1.0), (3, 1.0)],
        "clap": [(1, 0.7), (3, 0.7)],
        "ohat": [(0.5, 0.35), (1.5, 0.35), (2.5, 0.35), (3.5, 0.35)],
        "chat": [(i / 4, 0.22 if i % 2 else 0.12) for i in range(16) if i % 4],
    },
    "hiphop": {
        "kick": [(0, 1.0), (1.75, 0.4), (2.5, 0.45)],
        "snare": [(2, 1.0)],
        "chat": [(i / 2 + (0.08 if i % 2 else 0.0), 0.45 if i % 2 == 0 else 0.15) for i in range(8)],
    },
    "waltz": {
        "kick": [(0, 1.0)],
        "snare": [(1, 0.35), (2, 0.35)],
        "chat": [(i / 2, 0.25 if i % 2 == 0 else 0.12) for i in range(6)],
    },
    "breakbeat": {
        "kick": [(0, 1.0), (2, 0.8), (2.5, 0.5)],
        "snare": [(1, 1.0), (3, 1.0), (1.75, 0.2), (3.25, 0.2)],
        "chat": [(i / 2, 0.4 if i % 2 == 0 else 0.15) for i in range(8)],
    },
}
_BEATS_PER_BAR = {"house": 4, "hiphop": 4, "waltz": 3, "breakbeat": 4}
# Bass notes: (position in beats, length in beats, octave offset in semitones).
_BASS: dict[str, list[tuple[float, float, int]]] = {
    "house": [(0.5, 0.35, 0), (1.5, 0.35, 0), (2.5, 0.35, 0), (3.5, 0.35, 12)],
    "hiphop": [(0, 1.5, 0), (1.75, 0.6, 0), (2.5, 1.2, 0)],
    "waltz": [(0, 0.9, 0)],
    "breakbeat": [(0, 0.7, 0), (1.5, 0.4, 0), (2.5, 0.4, 12), (3.0, 0.8, 0)],
}
# Chord hits: (position in beats, length in beats); None = one pad over the whole bar.
_CHORDS: dict[str, list[tuple[float, float]] | None] = {
    "house": [(0, 0.3), (1.5, 0.3), (3, 0.8)],
    "hiphop": None,
    "waltz": [(1, 0.8), (2, 0.8)],
    "breakbeat": None,
}


@dataclass
class Song:
    """A rendered song with its ground truth.

    audio: [shape=(n,)] float32 mono in [-1, 1].
    beats, downbeats: beat and bar-start times in seconds (every beat of the grid,
    breaks included: the tempo holds through a break).
    energy: [shape=(len(beats),)] 0..1, the arrangement's loudness per beat (low in a
    break).
    """

    audio: np.ndarray
    sample_rate: int
    beats: np.ndarray
    downbeats: np.ndarray
    beats_per_bar: int
    feel: str
    bpm: float
    energy: np.ndarray
    tempo_change: tuple[float, float] | None = None
    break_at: tuple[float, float] | None = None

    @property
    def seconds(self) -> float:
        return len(self.audio) / self.sample_rate


def _midi_hz(m: float) -> float:
    return 440.0 * 2.0 ** ((m - 69.0) / 12.0)


class _Drums:
    """Drum one-shots rendered once at ``sr``."""

    def __init__(self, *, sr: int, rng: np.random.Generator) -> None:
        def t(sec: float) -> np.ndarray:
            return np.arange(int(sec * sr)) / sr

        tk = t(0.4)
        f = 48.0 + 110.0 * np.exp(-tk / 0.035)
        kick = np.sin(2 * np.pi * np.cumsum(f) / sr) * np.exp(-tk / 0.22)
        kick[: int(0.003 * sr)] += 0.3 * rng.standard_normal(int(0.003 * sr))
        ts = t(0.25)
        noise = rng.standard_normal(len(ts))
        hp = np.diff(noise, prepend=0.0)
        snare = 0.5 * hp * np.exp(-ts / 0.07) + 0.6 * np.sin(2 * np.pi * 185 * ts) * np.exp(-ts / 0.045)
        tc = t(0.3)
        n2 = np.diff(rng.standard_normal(len(tc)), prepend=0.0)
        env = sum(np.exp(-np.maximum(tc - d, 0) / 0.012) * (tc >= d) for d in (0.0, 0.011, 0.022))
        clap = 0.35 * n2 * (env + 0.6 * np.exp(-tc / 0.09))
        th = t(0.06)
        hat = np.diff(np.diff(rng.standard_normal(len(th) + 2)))[: len(th)]
        chat = 0.3 * hat * np.exp(-th / 0.014)
        to = t(0.35)
        hat2 = np.diff(np.diff(rng.standard_normal(len(to) + 2)))[: len(to)]
        ohat = 0.22 * hat2 * np.exp(-to / 0.11)
        self.shots = {
            name: (x / np.max(np.abs(x))).astype(np.float32) * g
            for name, x, g in (
                ("kick", kick, 0.9), ("snare", snare, 0.55), ("clap", clap, 0.45),
                ("chat", chat, 0.18), ("ohat", ohat, 0.16),
            )
        }


class _Notes:
    """Tonal notes cached by (kind, midi, length in samples)."""

    def __init__(self, *, sr: int) -> None:
        self.sr = sr
        self.cache: dict[tuple[str, int, int], np.ndarray] = {}

    def get(self, kind: str, midi: int, n: int) -> np.ndarray:
        key = (kind, midi, n)
        x = self.cache.get(key)
        if x is None:
            x = self._render(kind, midi, n)
            self.cache[key] = x
        return x

    def _render(self, kind: str, midi: int, n: int) -> np.ndarray:
        sr = self.sr
        t = np.arange(n) / sr
        f = _midi_hz(midi)
        rel = np.clip((n - np.arange(n)) / (0.02 * sr), 0.0, 1.0)  # 20 ms release
        if kind == "bass":
            w = sum(np.sin(2 * np.pi * f * k * t) / k**1.6 for k in range(1, 5))
            env = np.minimum(t / 0.015, 1.0) * np.exp(-t / 0.45)
        elif kind == "pad":
            w = sum(
                np.sin(2 * np.pi * f * d * t) + 0.3 * np.sin(2 * np.pi * 2 * f * d * t)
                for d in (0.997, 1.0, 1.003)
            ) / 3
            env = np.minimum(t / 0.12, 1.0) * (0.8 + 0.2 * np.exp(-t / 0.5))
            rel = np.clip((n - np.arange(n)) / (0.15 * sr), 0.0, 1.0)
        elif kind == "stab":
            w = sum(np.sin(2 * np.pi * f * k * t) * (0.7**k) for k in range(1, 6))
            env = np.minimum(t / 0.004, 1.0) * np.exp(-t / 0.12)
        else:  # pluck
            w = np.sin(2 * np.pi * f * t) + 0.4 * np.sin(4 * np.pi * f * t)
            env = np.minimum(t / 0.002, 1.0) * np.exp(-t / 0.09)
        return (w * env * rel).astype(np.float32)


def _beat_grid(
    *, bpm: float, seconds: float, tempo_change: tuple[float, float] | None
) -> np.ndarray:
    """Beat times from 0 until one beat past ``seconds`` (tempo switches at the change)."""
    out = []
    t = 0.0
    while t < seconds + 12 * 60.0 / MIN_BPM:
        out.append(t)
        b = bpm if tempo_change is None or t < tempo_change[0] else tempo_change[1]
        t += 60.0 / b
    return np.asarray(out)


def _check(feel: str, bpm: float, seconds: float, tempo_change: tuple[float, float] | None) -> None:
    if feel not in FEELS:
        raise ConfigError(f"unknown feel {feel!r}; use one of {', '.join(FEELS)}")
    for b in (bpm, *(() if tempo_change is None else (tempo_change[1],))):
        if not MIN_BPM <= b <= MAX_BPM:
            raise ConfigError(f"tempo {b} BPM is out of range; use {MIN_BPM:g}..{MAX_BPM:g} BPM")
    if seconds <= 0:
        raise ConfigError(f"song length {seconds} s must be positive")


def render_song(
    *,
    feel: str,
    bpm: float,
    seconds: float,
    seed: int,
    sample_rate: int = SAMPLE_RATE,
    tempo_change: tuple[float, float] | None = None,
    break_at: tuple[float, float] | None = None,
) -> Song:
    """Render a song with drums, bass and chords and return it with its beat grid.

    Parameters
    ----------
    feel: one of FEELS.
    bpm: tempo in beats per minute (60..200).
    seconds: length of the song.
    seed: random seed (key, progression, drum noise, fills).
    sample_rate: output rate in Hz.
    tempo_change: ``(time_s, new_bpm)``: from the first beat at or after ``time_s`` on,
        beats are spaced at ``new_bpm``.
    break_at: ``(start_s, dur_s)``: drums and bass stop, a quiet pad holds (the beat grid
        continues through it).
    """
    _check(feel, bpm, seconds, tempo_change)
    sr = int(sample_rate)
    rng = np.random.default_rng(seed)
    n = int(round(seconds * sr))
    grid = _beat_grid(bpm=bpm, seconds=seconds, tempo_change=tempo_change)
    bpb = _BEATS_PER_BAR[feel]
    key = 33 + int(rng.integers(0, 12))  # A1..G#2 bass tonic
    prog = _PROGRESSIONS[int(rng.integers(0, len(_PROGRESSIONS)))]
    drums = _Drums(sr=sr, rng=rng)
    notes = _Notes(sr=sr)

    def when(beat_pos: float) -> int:
        """Sample index of fractional beat position ``beat_pos`` on the grid."""
        k = int(np.floor(beat_pos))
        frac = beat_pos - k
        return int(round((grid[k] + frac * (grid[k + 1] - grid[k])) * sr))

    def beat_len(k: int) -> float:
        return float(grid[k + 1] - grid[k])

    def in_break(ts: float) -> bool:
        return break_at is not None and break_at[0] <= ts < break_at[0] + break_at[1]

    n_beats = int(np.searchsorted(grid, seconds, side="left"))
    n_bars = (n_beats + bpb - 1) // bpb
    # Section energy per 8 bars: intro, verse, drop, verse, ... ; the first bars are an intro.
    section_energy = (0.55, 0.8, 1.0, 0.8)
    bar_energy = np.array([section_energy[(b // 8) % 4] if b >= 4 else 0.45 for b in range(n_bars)])
    beat_energy = np.repeat(bar_energy, bpb)[:n_beats].copy()
    for k in range(n_beats):
        if in_break(grid[k]):
            beat_energy[k] = 0.1

    tracks = {name: np.zeros(n + sr, np.float32) for name in ("drums", "bass", "chords", "lead")}

    def add(track: str, x: np.ndarray, pos: int, gain: float) -> None:
        if pos >= n or pos < 0:
            return
        end = min(pos + len(x), len(tracks[track]))
        tracks[track][pos:end] += gain * x[: end - pos]

    pattern = _PATTERNS[feel]
    for bar in range(n_bars):
        b0 = bar * bpb
        e = bar_energy[bar]
        chord_root, quality = prog[bar % len(prog)]
        last_bar_of_phrase = bar % 8 == 7
        for inst, hits in pattern.items():
            if inst == "ohat" and e < 0.5:
                continue
            for pos, g in hits:
                if b0 + pos >= n_beats + 1:
                    continue
                ts = grid[b0] + pos * beat_len(b0)
                if in_break(ts):
                    continue
                add("drums", drums.shots[inst], when(b0 + pos), g * (0.6 + 0.4 * e))
        if last_bar_of_phrase and e >= 0.8 and "snare" in drums.shots:  # a small fill
            for j in range(4):
                pos = bpb - 1 + j / 4
                if not in_break(grid[b0] + pos * beat_len(b0)):
                    add("drums", drums.shots["snare"], when(b0 + pos), 0.25 + 0.1 * j)
        for pos, length, octave in _BASS[feel]:
            ts = grid[b0] + pos * beat_len(b0)
            if in_break(ts) or e < 0.5:
                continue
            m = key + chord_root + octave
            add("bass", notes.get("bass", m, int(length * beat_len(b0) * sr)), when(b0 + pos), 0.55)
        chord = [key + 24 + chord_root + iv for iv in _QUALITY[quality]]
        hits_c = _CHORDS[feel]
        if hits_c is None or in_break(grid[b0]):
            length_s = bpb * beat_len(b0)
            for m in chord:
                add("chords", notes.get("pad", m, int(length_s * sr)), when(b0), 0.12)
        else:
            for pos, length in hits_c:
                for m in chord:
                    add("chords", notes.get("stab", m, int(length * beat_len(b0) * sr)),
                        when(b0 + pos), 0.12)
        if e >= 1.0:  # arpeggio in the drop
            arp = [chord[0] + 12, chord[1] + 12, chord[2] + 12, chord[1] + 24]
            for j in range(bpb * 2):
                ts = grid[b0] + j / 2 * beat_len(b0)
                if in_break(ts):
                    continue
                add("lead", notes.get("pluck", arp[j % 4], int(0.5 * beat_len(b0) * sr)),
                    when(b0 + j / 2), 0.09)

    mix = tracks["drums"] + tracks["bass"] + tracks["chords"] + tracks["lead"]
    mix = mix[:n]
    peak = float(np.max(np.abs(mix))) if n else 0.0
    if peak > 0:
        mix = np.tanh(1.2 * mix / peak) / np.tanh(1.2) * 0.89
    beats = grid[:n_beats]
    downbeats = beats[::bpb]
    return Song(
        audio=mix.astype(np.float32),
        sample_rate=sr,
        beats=beats.copy(),
        downbeats=downbeats.copy(),
        beats_per_bar=bpb,
        feel=feel,
        bpm=float(bpm),
        energy=beat_energy.astype(np.float32),
        tempo_change=tempo_change,
        break_at=break_at,
    )


def demo_song(*, seconds: float = 60.0, seed: int = 0, sample_rate: int = SAMPLE_RATE) -> Song:
    """The built-in demo: a 122 BPM house track (seed picks key and progression)."""
    return render_song(feel="house", bpm=122.0, seconds=seconds, seed=seed, sample_rate=sample_rate)


if __name__ == "__main__":  # pragma: no cover
    import sys

    import soundfile as sf

    feel = sys.argv[1] if len(sys.argv) > 1 else "house"
    bpm = float(sys.argv[2]) if len(sys.argv) > 2 else 124.0
    s = render_song(feel=feel, bpm=bpm, seconds=30.0, seed=0)
    sf.write(f"/tmp/{feel}_{bpm:g}.wav", s.audio, s.sample_rate)
    print(f"/tmp/{feel}_{bpm:g}.wav", len(s.beats), "beats")
