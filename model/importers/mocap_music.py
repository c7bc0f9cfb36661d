"""Accompaniment for a mocap take: General MIDI music whose beats land exactly on the
dancer's beat grid (`model.kinbeats.Pulse`), rendered with fluidsynth (`model.midi_render`).

Every note is placed at an absolute time on the grid: a position ``i + f`` (beat ``i``, a
fraction ``f`` of the way to the next) sits at ``beats[i] + f * (beats[i+1] - beats[i])``,
so the music's tempo map is the dancer's, drift included. Drums are on MIDI channel 10.
Grooves (seeded, so each take sounds different but the same take renders the same):

- ``salsa``: 2-3 son clave, conga tumbao, bongo/cowbell on the beats, piano montuno on
  the off-beats, bass tumbao (the "and" of 2 and the 4, anticipating the next chord),
  I-IV-V7-IV; counts from the grid (count 1 = the first step after the pause).
- ``breaking``: break-beat drums (kick, snare on 2 and 4, sixteenth hats with swing and
  open hats), funk bass riff, clavinet/e-piano/brass stabs on a minor vamp.
- anything else: a mid-tempo funk/pop groove with bass and chords.

Instruments (GM programs), key, drum kit variant and velocities vary with the seed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pretty_midi

__all__ = ["accompaniment", "grid_time", "note_onsets"]

_DRUM = {"kick": 36, "snare": 38, "snare2": 40, "rim": 37, "clap": 39, "hat": 42, "hat_open": 46,
         "ride": 51, "crash": 49, "cowbell": 56, "bongo_hi": 60, "bongo_lo": 61, "conga_mute": 62,
         "conga_open": 63, "conga_lo": 64, "timbale_hi": 65, "clave": 75, "guiro": 73, "maracas": 70}


def grid_time(beats: np.ndarray, pos: float) -> float:
    """Absolute time (s) of grid position ``pos`` (beat index + fraction); outside the
    grid the edge intervals are extended."""
    b = np.asarray(beats, dtype=np.float64)
    n = len(b)
    i = int(np.floor(pos))
    f = pos - i
    if i < 0:
        return float(b[0] + pos * (b[1] - b[0]))
    if i >= n - 1:
        return float(b[-1] + (pos - (n - 1)) * (b[-1] - b[-2]))
    return float(b[i] + f * (b[i + 1] - b[i]))


class _Song:
    def __init__(self, beats: np.ndarray, end: float, seed: int) -> None:
        import pretty_midi

        self.pm = pretty_midi.PrettyMIDI(resolution=960, initial_tempo=120.0)
        self.beats = np.asarray(beats, dtype=np.float64)
        self.end = end
        self.rng = np.random.default_rng(seed)
        self.drums = pretty_midi.Instrument(program=0, is_drum=True, name="drums")
        self.pm.instruments.append(self.drums)

    def inst(self, program: int, name: str) -> pretty_midi.Instrument:
        import pretty_midi

        inst = pretty_midi.Instrument(program=int(program), name=name)
        self.pm.instruments.append(inst)
        return inst

    def note(self, inst: pretty_midi.Instrument, pitch: int, pos: float, length: float,
             vel: float) -> None:
        import pretty_midi

        start = grid_time(self.beats, pos)
        stop = grid_time(self.beats, pos + length)
        if start < 0 or start >= self.end:
            return
        v = int(np.clip(vel + self.rng.normal(0, 4), 20, 127))
        inst.notes.append(pretty_midi.Note(velocity=v, pitch=int(pitch), start=start,
                                           end=min(max(stop, start + 0.03), self.end + 1.0)))

    def hit(self, name: str, pos: float, vel: float) -> None:
        self.note(self.drums, _DRUM[name], pos, 0.25, vel)


def _chord(root: int, quality: str) -> list[int]:
    steps = {"maj": (0, 4, 7), "min": (0, 3, 7), "7": (0, 4, 7, 10), "min7": (0, 3, 7, 10)}[quality]
    return [root + s for s in steps]


def _salsa(s: _Song, counts: np.ndarray) -> None:
    rng = s.rng
    key = 48 + int(rng.integers(0, 12))
    prog_piano = int(rng.choice([0, 1, 2, 4]))
    prog_bass = int(rng.choice([32, 33, 35, 43]))
    piano, bass = s.inst(prog_piano, "montuno"), s.inst(prog_bass, "tumbao")
    horns = s.inst(int(rng.choice([56, 57, 61, 65])), "horns") if rng.random() < 0.6 else None
    bongo = bool(rng.random() < 0.6)
    prog = [(0, "maj"), (5, "maj"), (7, "7"), (5, "maj")]
    clave = (1.0, 2.0, 4.0, 5.5, 7.0)  # 2-3 son clave, in beats from count 1
    ones = np.flatnonzero(counts == 1)
    start = int(ones[0]) - 8 if ones.size else 0
    n = len(s.beats)
    for cyc in range(start, n + 8, 8):
        bar_chords = [prog[((cyc - start) // 4 + k) % 4] for k in range(2)]
        for c in clave:
            s.hit("clave", cyc + c, 92)
        for half in range(2):
            b0 = cyc + 4 * half
            root, q = bar_chords[half]
            nxt = prog[((cyc - start) // 4 + half + 1) % 4]
            s.hit("cowbell" if not bongo else "bongo_hi", b0, 70)
            for k in range(4):
                s.hit("maracas", b0 + k, 45)
                s.hit("maracas", b0 + k + 0.5, 35)
            # conga tumbao: slap on 2, open tones on 4 and the "and" of 4
            s.hit("conga_mute", b0 + 1.0, 80)
            s.hit("conga_open", b0 + 3.0, 90)
            s.hit("conga_open", b0 + 3.5, 85)
            s.hit("conga_lo", b0 + 2.5, 60)
            if bongo:
                for k in range(4):
                    s.hit("bongo_hi" if k % 2 == 0 else "bongo_lo", b0 + k + 0.5, 55)
            # bass tumbao: the "and" of 2 and the 4 (anticipating the next chord)
            s.note(bass, key - 12 + root + 7, b0 + 1.5, 1.4, 95)
            s.note(bass, key - 12 + nxt[0], b0 + 3.0, 1.0, 100)
            # piano montuno: chord tones on the off-beats, octave doubled
            tones = _chord(key + 12 + root, q)
            for k, pos in enumerate((0.5, 1.5, 2.0, 2.5, 3.5)):
                p = tones[(k + half) % len(tones)]
                s.note(piano, p, b0 + pos, 0.4, 72)
                s.note(piano, p + 12, b0 + pos, 0.4, 60)
            if horns is not None and (cyc // 8) % 4 == 3 and half == 1:
                for pos in (0.0, 1.5, 3.0):
                    for p in _chord(key + root, q)[:3]:
                        s.note(horns, p + 12, b0 + pos, 0.45, 85)


def _breaking(s: _Song, counts: np.ndarray) -> None:
    rng = s.rng
    key = 40 + int(rng.integers(0, 8))
    bass = s.inst(int(rng.choice([33, 34, 36, 38, 39])), "bass")
    keys = s.inst(int(rng.choice([7, 4, 5, 61, 62, 17])), "stabs")
    swing = float(rng.uniform(0.0, 0.12))
    variant = int(rng.integers(0, 3))
    kicks = [(0.0, 0.75, 2.5), (0.0, 1.75, 2.5, 2.75), (0.0, 0.5, 2.25, 3.25)][variant]
    riff = [(0.0, 0, 0.5), (0.75, 0, 0.25), (1.5, 7, 0.5), (2.5, 10, 0.25), (2.75, 12, 0.5), (3.5, 7, 0.5)]
    vamp = [(0, "min7"), (0, "min7"), (5, "7"), (3, "maj")]
    n = len(s.beats)
    for bar in range(0, n + 4, 4):
        for k in kicks:
            s.hit("kick", bar + k, 110)
        s.hit("snare", bar + 1.0, 105)
        s.hit("snare", bar + 3.0, 105)
        if rng.random() < 0.4:
            s.hit("snare2", bar + 3.75, 60)
        for h in range(8):
            pos = bar + h * 0.5 + (swing if h % 2 else 0.0)
            s.hit("hat_open" if h == 7 and variant == 1 else "hat", pos, 80 if h % 2 == 0 else 60)
        if (bar // 4) % 8 == 0:
            s.hit("crash", bar, 90)
        root, q = vamp[(bar // 4) % 4]
        for pos, interval, length in riff:
            s.note(bass, key - 12 + root + interval, bar + pos, length, 100)
        for pos in (0.0, 1.5) if variant != 2 else (0.5, 2.5):
            for p in _chord(key + 12 + root, q):
                s.note(keys, p, bar + pos, 0.3, 80)


def _groove(s: _Song, counts: np.ndarray) -> None:
    rng = s.rng
    key = 45 + int(rng.integers(0, 10))
    bass = s.inst(int(rng.choice([32, 33, 34, 38])), "bass")
    pad = s.inst(int(rng.choice([0, 4, 24, 48, 50, 89])), "chords")
    prog = [(0, "maj"), (9, "min"), (5, "maj"), (7, "maj")]
    n = len(s.beats)
    for bar in range(0, n + 4, 4):
        for k in (0.0, 2.0):
            s.hit("kick", bar + k, 105)
        for k in (1.0, 3.0):
            s.hit("snare" if rng.random() < 0.8 else "clap", bar + k, 95)
        for h in range(8):
            s.hit("hat", bar + 0.5 * h, 75 if h % 2 == 0 else 55)
        root, q = prog[(bar // 4) % 4]
        for pos in (0.0, 1.0, 2.0, 2.5, 3.0):
            s.note(bass, key - 12 + root + (7 if pos == 2.5 else 0), bar + pos, 0.45, 95)
        for p in _chord(key + 12 + root, q):
            s.note(pad, p, bar, 3.9, 60)


def accompaniment(beats: np.ndarray, counts: np.ndarray, *, style: str, seed: int,
                  seconds: float) -> pretty_midi.PrettyMIDI:
    """MIDI for a take: every grid beat at its time in ``beats`` (s); ``counts`` (1..8)
    sets the bar phase (count 1 = downbeat); grooves by ``style`` (see the module doc);
    notes after ``seconds`` are dropped."""
    b = np.asarray(beats, dtype=np.float64)
    if len(b) < 2:
        raise ValueError("a beat grid needs at least two beats")
    c = np.asarray(counts, dtype=int)
    ones = np.flatnonzero((c - 1) % 4 == 0)
    shift = int(ones[0]) if ones.size else 0
    # positions are relative to the grid index; bars start on count 1 (shift), and the
    # lead-in before the first count 1 is covered by starting a bar earlier
    song = _Song(b, seconds, seed)
    fn = {"salsa": _salsa, "breaking": _breaking}.get(style, _groove)
    if fn is _salsa:
        _salsa(song, c)
    else:
        _shifted(song, fn, c, shift)
    for inst in song.pm.instruments:
        inst.notes.sort(key=lambda nt: nt.start)
    return song.pm


def _shifted(song: _Song, fn: object, counts: np.ndarray, shift: int) -> None:
    """Run a 4/4 groove with bar lines at beats ``shift + 4k`` (one bar of lead-in)."""
    orig = song.note

    def note(inst: pretty_midi.Instrument, pitch: int, pos: float, length: float, vel: float) -> None:
        orig(inst, pitch, pos + shift - 4, length, vel)

    song.note = note  # type: ignore[method-assign]
    fn(song, counts)  # type: ignore[operator]
    song.note = orig  # type: ignore[method-assign]


def note_onsets(pm: pretty_midi.PrettyMIDI, *, drums_only: bool = False) -> np.ndarray:
    """Sorted unique note start times (s) of ``pm``."""
    starts = [n.start for inst in pm.instruments if inst.is_drum or not drums_only for n in inst.notes]
    return np.unique(np.round(np.asarray(starts, dtype=np.float64), 6))
