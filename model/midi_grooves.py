"""Club and pop grooves written as step patterns, arranged into a beat-unit score.

Each ``Groove`` is a small table: General MIDI drum patterns (one string per drum, one
character per step, steps evenly spread over the bar), a bass line, a chord rhythm, a lead
rhythm and the GM programs to pick from. ``arrange`` turns a groove and a section plan into
a ``Score`` whose note positions are in *beats* (floats); ``model.midi_music`` maps beats to
seconds through the tempo map, so beat truth is exact by construction.

Step characters. Drums: ``X`` 122, ``x`` 104, ``o`` 84, ``g`` 46 (ghost), ``.`` rest.
Bass: ``R`` root, ``O`` octave, ``F`` fifth, ``T`` third, ``S`` minor seventh, ``-`` hold,
``.`` rest. Chords and lead: ``x`` hit, ``-`` hold, ``.`` rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["GROOVES", "Groove", "Score", "SECTION_ENERGY", "arrange", "plan_sections"]

# General MIDI percussion keys (channel 10)
KICK, RIM, SNARE, CLAP, SNARE2, TOM_LO, HH_C, TOM_M, HH_P, TOM_H, HH_O = (
    36, 37, 38, 39, 40, 41, 42, 45, 44, 48, 46)
CRASH, RIDE, CHINA, TAMB, COWBELL, SHAKER, CONGA_H, CONGA_L, CLAVES = (
    49, 51, 52, 54, 56, 70, 62, 64, 75)

_DRUM_VEL = {"X": 122, "x": 104, "o": 84, "g": 46}
_BASS_INT = {"R": 0, "O": 12, "F": 7, "S": 10}

#: Energy of each section label, 0..1 (the dance-data engineers read it per beat).
SECTION_ENERGY: dict[str, float] = {
    "intro": 0.35, "groove": 0.65, "break": 0.15, "build": 0.5, "drop": 1.0, "outro": 0.4,
}


@dataclass(frozen=True)
class Groove:
    """One style: patterns per bar (all 4/4 here) and instrument choices."""

    bpm: tuple[float, float]
    drums: tuple[dict[int, str], ...]
    bass: tuple[str, ...]
    chords: tuple[str, ...]
    lead: tuple[str, ...]
    bass_programs: tuple[int, ...] = (38, 39)
    chord_programs: tuple[int, ...] = (4, 5, 90)
    pad_programs: tuple[int, ...] = (88, 89, 48)
    lead_programs: tuple[int, ...] = (80, 81)
    swing: float = 0.0  # odd steps delayed by this fraction of a step
    chord_every: int = 1  # bars per chord
    minor: bool = True


def _g(bpm: tuple[float, float], drums: tuple[dict[int, str], ...], bass: tuple[str, ...],
       chords: tuple[str, ...], lead: tuple[str, ...], **kw: object) -> Groove:
    return Groove(bpm, drums, bass, chords, lead, **kw)  # type: ignore[arg-type]


FOUR = "x...x...x...x..."
OFF8 = "..x...x...x...x."
BACK = "....x.......x..."
H16 = "xgogxgogxgogxgog"
H8 = "x.o.x.o.x.o.x.o."

GROOVES: dict[str, Groove] = {
    "house": _g((118, 128), (
        {KICK: FOUR, CLAP: BACK, HH_O: OFF8, HH_C: "g.g.g.g.g.g.g.g."},
        {KICK: FOUR, CLAP: BACK, HH_O: OFF8, SHAKER: "gogxgogxgogxgogx"},
    ), ("..R-..R-..R-..R-", "..R...O...R..FR."), ("..x-..x...x-..x.", "x---..x-x---..x."),
        ("x.x.x..xx.x.x...", "x..x..x...x.x..."), bass_programs=(38, 39, 33),
        chord_programs=(4, 0, 16, 90)),
    "techno": _g((125, 140), (
        {KICK: FOUR, HH_O: OFF8, HH_C: H16, RIM: "......x......x.."},
        {KICK: FOUR, HH_O: OFF8, CLAP: BACK, HH_C: "gogogogogogogogo", TAMB: OFF8},
    ), (".RR..RR..RR..RR.", "..R...R...R...R."), ("..x.....x..x....", "x..x..x..x..x..."),
        ("x.xxx.xxx.xxx.xx", "x..x..x..x..x.x."), chord_programs=(81, 87, 90),
        pad_programs=(89, 95, 91)),
    "trance": _g((132, 142), (
        {KICK: FOUR, HH_O: OFF8, CLAP: BACK, HH_C: "g.g.g.g.g.g.g.g."},
        {KICK: FOUR, HH_O: OFF8, CLAP: BACK, SHAKER: "gogogogogogogogo"},
    ), (".RRR.RRR.RRR.RRR", ".ROR.ROR.ROR.ROR"), ("x---------------",),
        ("xxxxxxxxxxxxxxxx", "x.xx.xx.x.xx.xx."), chord_programs=(81, 62),
        pad_programs=(89, 90, 50), lead_programs=(81, 80, 84), chord_every=2),
    "dnb": _g((165, 178), (
        {KICK: "x.........x.....", SNARE: "....x.......x...", HH_C: "x.x.x.x.x.x.x.x.",
         RIDE: "..o...o...o...o."},
        {KICK: "x.........x..x..", SNARE: "....x..g....x..g", HH_C: "xoxoxoxoxoxoxoxo"},
    ), ("R---------F-----", "R-------R.....F."), ("x---------------",),
        ("x..x..x.x..x..x.", "x.......x...x..."), bass_programs=(38, 39),
        pad_programs=(89, 91, 50), chord_programs=(88, 89), chord_every=2),
    "hiphop": _g((82, 98), (
        {KICK: "x.....x...x.....", SNARE: "....x.......x...", HH_C: "x.x.x.x.x.x.x.xo"},
        {KICK: "x..x......x..x..", SNARE: "....x.......x..g", HH_C: "xoxoxoxoxoxoxoxo"},
    ), ("R-----R-..F-....", "R-....R...R-F-.."), ("x-------x-------", "x-----x-----x---"),
        ("x...x.x.........", "..x.x...x...x..."), bass_programs=(33, 34, 38),
        chord_programs=(4, 0, 11), lead_programs=(11, 73, 80), swing=0.3),
    "trap": _g((130, 150), (
        {KICK: "x......x..x.....", CLAP: "........x.......", HH_C: "x.x.x.x.x.x.xxxx"},
        {KICK: "x.....x...x..x..", CLAP: "........x.......", HH_C: "x.x.xxx.x.x.x.xx",
         HH_O: "..............x."},
    ), ("R------R--R-----", "R-----R---R--F--"), ("x---------------",),
        ("x..x..x.........", "x.x.x...x......."), bass_programs=(38, 87),
        chord_programs=(0, 46, 88), lead_programs=(80, 11, 46), chord_every=2),
    "funk": _g((95, 115), (
        {KICK: "x..x..x...x..x..", SNARE: "....x..g.g..x..g", HH_C: "xgxgxgxgxgxgxgxg"},
        {KICK: "x.x...x...x.x...", SNARE: "....x.g..g..x.g.", HH_C: "xoxoxoxoxoxoxoxo",
         HH_O: "..............x."},
    ), ("R..O..R.F.R..O.R", "R.R...O.R..F..R."), ("..x..x.x..x..x.x", ".x.x.x..x.x..x.x"),
        ("....x.x.....x.x.", "x.x...x.x.x....."), bass_programs=(36, 37, 33),
        chord_programs=(7, 28, 17), lead_programs=(61, 62, 56), minor=False),
    "disco": _g((110, 126), (
        {KICK: FOUR, SNARE: BACK, HH_O: OFF8, HH_C: "x.x.x.x.x.x.x.x."},
        {KICK: FOUR, CLAP: BACK, HH_O: OFF8, TAMB: "gxgxgxgxgxgxgxgx"},
    ), ("R.O.R.O.R.O.R.O.", "R.O.R.O.F.O.F.O."), ("x.xxx.xxx.xxx.xx", "x---x---x---x---"),
        ("x.x.x...x.x.x...", "x---x---x.x.x---"), bass_programs=(33, 38, 36),
        chord_programs=(28, 48, 4), pad_programs=(48, 49, 50), lead_programs=(48, 61, 81)),
    "dancepop": _g((100, 128), (
        {KICK: FOUR, CLAP: BACK, HH_C: H8},
        {KICK: "x.....x.x.......", CLAP: BACK, HH_C: "xoxoxoxoxoxoxoxo"},
    ), ("R.R.R.R.R.R.R.R.", "R..R..R.R..R..F."), ("x..x..x.........", "x.x.x.x.x.x.x.x."),
        ("x.x.x..x..x.....", "x..x..x.x.x.x..."), chord_programs=(90, 0, 5),
        lead_programs=(80, 81, 73), minor=False),
    "reggaeton": _g((88, 100), (
        {KICK: FOUR, SNARE: "...x..x....x..x.", HH_C: H8},
        {KICK: FOUR, RIM: "...x..x....x..x.", SHAKER: "gogogogogogogogo"},
    ), ("R...R...R...R...", "R..RR...R..RR..."), ("...x..x....x..x.", "x---..x-x---..x-"),
        ("x.x.x.x.x.......", "..x..x..x.x.x..."), bass_programs=(38, 39),
        chord_programs=(4, 24, 90), lead_programs=(80, 73, 11)),
    "ukgarage": _g((128, 136), (
        {KICK: "x.........x.....", SNARE: "....x.......x...", HH_C: "..x...x...x...x.",
         SHAKER: "gxgxgxgxgxgxgxgx"},
        {KICK: "x......x..x.....", RIM: "....x.......x...", HH_O: OFF8, HH_C: "g.g.g.g.g.g.g.g."},
    ), ("R-..R-.R..F-....", "R--.R--.F--.R--."), ("x-.x-...x-.x-...", "..x-..x-..x-..x-"),
        ("x..x..x...x.....", "x.x..x..x..x...."), chord_programs=(4, 16, 90),
        lead_programs=(81, 52, 80), swing=0.25),
    "metal": _g((140, 190), (
        {KICK: "x.x.x.x.x.x.x.x.", SNARE: BACK, HH_C: "..x...x...x...x.", CRASH: "x..............."},
        {KICK: "x.xx..x.x.xx..x.", SNARE: BACK, CHINA: "..x...x...x...x."},
    ), ("R.R.R.R.R.R.R.R.", "R.R.F.R.R.R.O.R."), ("x.x.x.x.x.x.x.x.", "x-x-x-..x-x-x-.."),
        ("x---x---x---x---", "x.x.x.x.x---x---"), bass_programs=(33, 34),
        chord_programs=(30, 29), pad_programs=(48, 52), lead_programs=(30, 29)),
}

_PROGRESSIONS_MINOR = (((0, "m"), (8, "M"), (3, "M"), (10, "M")), ((0, "m"), (5, "m"), (10, "M"), (3, "M")),
                       ((0, "m"), (0, "m"), (8, "M"), (10, "M")), ((0, "m"), (7, "m"), (8, "M"), (5, "m")))
_PROGRESSIONS_MAJOR = (((0, "M"), (7, "M"), (9, "m"), (5, "M")), ((0, "M"), (5, "M"), (7, "M"), (5, "M")),
                       ((0, "M"), (9, "m"), (5, "M"), (7, "M")), ((2, "m"), (7, "M"), (0, "M"), (0, "M")))


@dataclass
class Score:
    """Notes in beat units. tracks: (name, program, is_drum) -> [(pitch, start, dur, vel)]."""

    beats_per_bar: int
    n_bars: int
    tracks: dict[tuple[str, int, bool], list[tuple[int, float, float, int]]] = field(
        default_factory=dict)
    sections: list[tuple[int, int, str]] = field(default_factory=list)  # (bar0, bar1, label)

    def add(self, track: tuple[str, int, bool], pitch: int, start: float, dur: float,
            vel: int) -> None:
        self.tracks.setdefault(track, []).append((int(pitch), float(start), float(dur),
                                                  int(np.clip(vel, 1, 127))))


def plan_sections(n_bars: int, rng: np.random.Generator, *, breaks: bool = True,
                  phrase: int = 8) -> list[tuple[int, int, str]]:
    """A club-style arrangement over ``n_bars``: intro, groove, break, build, drop, ...

    With ``breaks`` False only intro/groove/drop alternate (drums never stop)."""
    out: list[tuple[int, int, str]] = []
    b = 0
    intro = int(rng.choice([4, 8])) if n_bars > 40 else min(int(rng.choice([2, 4])), n_bars)
    out.append((0, intro, "intro"))
    b = intro
    cycle = ["groove", "break", "build", "drop"] if breaks else ["groove", "drop"]
    k = 0
    while b < n_bars:
        label = cycle[k % len(cycle)]
        length = {"break": int(rng.choice([4, 8])), "build": 4}.get(
            label, phrase * int(rng.choice([1, 2])))
        out.append((b, min(n_bars, b + length), label))
        b += length
        k += 1
    return out


def _chord_tones(root: int, quality: str) -> list[int]:
    return [root, root + (3 if quality == "m" else 4), root + 7]


def _steps(pattern: str, bar: int, bpb: int, swing: float) -> list[tuple[float, str, int]]:
    """(beat position, char, step index) for every non-rest step of a one-bar pattern."""
    n = len(pattern)
    step = bpb / n
    out = []
    for i, ch in enumerate(pattern):
        if ch in ".-":
            continue
        pos = bar * bpb + i * step + (swing * step if i % 2 else 0.0)
        out.append((pos, ch, i))
    return out


def _held(pattern: str, i: int) -> int:
    """Steps a note at step i lasts (itself plus following '-')."""
    j = i + 1
    while j < len(pattern) and pattern[j] == "-":
        j += 1
    return j - i


_PERC_LAYERS: tuple[tuple[int, str], ...] = (
    (SHAKER, "gogogogogogogogo"), (TAMB, "..o...o...o...o."), (CONGA_H, "...o..o....o.o.."),
    (CONGA_L, "o.....o...o....."), (COWBELL, "o.....o.....o..."), (CLAVES, "x..x..x...x.x..."),
    (RIDE, "o.o.o.o.o.o.o.o."),
)


def _vary_drums(pats: dict[int, str], rng: np.random.Generator) -> dict[int, str]:
    """This song's variant of a drum pattern set: ghost notes added or dropped at random,
    sometimes a percussion layer on top. The main hits (X, x) are never removed, so the
    style stays recognisable while no two seeds play exactly the same groove."""
    out: dict[int, str] = {}
    for pitch, pat in pats.items():
        chars = list(pat)
        p_add = 0.03 if pitch == KICK else 0.07
        for i, ch in enumerate(chars):
            r = rng.random()
            if ch == "." and r < p_add:
                chars[i] = "o" if pitch == KICK else "g"
            elif ch in "og" and r < 0.12:
                chars[i] = "."
        out[pitch] = "".join(chars)
    if rng.random() < 0.5:
        pitch, pat = _PERC_LAYERS[int(rng.integers(0, len(_PERC_LAYERS)))]
        if pitch not in out:
            out[pitch] = pat
    return out


def arrange(name: str, n_bars: int, rng: np.random.Generator, *, breaks: bool = True) -> Score:
    """Score of ``n_bars`` 4/4 bars of groove ``name`` with sections, fills and a lead."""
    gv = GROOVES[name]
    bpb = 4
    sc = Score(beats_per_bar=bpb, n_bars=n_bars, sections=plan_sections(n_bars, rng, breaks=breaks))
    key = int(rng.integers(0, 12))
    prog = (_PROGRESSIONS_MINOR if gv.minor else _PROGRESSIONS_MAJOR)[int(rng.integers(0, 4))]
    drums_v = int(rng.integers(0, len(gv.drums)))
    song_drums = _vary_drums(gv.drums[drums_v], rng)
    bass_p = gv.bass[int(rng.integers(0, len(gv.bass)))]
    chord_p = gv.chords[int(rng.integers(0, len(gv.chords)))]
    lead_p = gv.lead[int(rng.integers(0, len(gv.lead)))]
    t_drum = ("drums", 0, True)
    t_bass = ("bass", int(rng.choice(gv.bass_programs)), False)
    t_chord = ("chords", int(rng.choice(gv.chord_programs)), False)
    t_pad = ("pad", int(rng.choice(gv.pad_programs)), False)
    t_lead = ("lead", int(rng.choice(gv.lead_programs)), False)
    # a two-bar lead motif (scale degrees over chord tones), varied every 8 bars
    motif = rng.integers(0, 5, size=64)
    scale = np.array([0, 2, 3, 5, 7, 8, 10] if gv.minor else [0, 2, 4, 5, 7, 9, 11])
    label_of = np.empty(n_bars, dtype=object)
    for b0, b1, lab in sc.sections:
        label_of[b0:b1] = lab
    for bar in range(n_bars):
        lab = str(label_of[bar])
        sec_start = next(s for s in sc.sections if s[0] <= bar < s[1])
        root_deg, qual = prog[(bar // gv.chord_every) % len(prog)]
        root = key + root_deg
        phrase_end = (bar + 1) % 8 == 0 or bar == sec_start[1] - 1
        # ---- drums
        if lab != "break":
            pats = dict(song_drums)
            if lab in ("intro", "outro"):
                pats = {p: s for p, s in pats.items() if p in (KICK, HH_C, HH_O, SHAKER, RIDE)}
            if lab == "build":
                frac = (bar - sec_start[0]) / max(1, sec_start[1] - sec_start[0])
                pats = {KICK: FOUR, SNARE: "x.x.x.x.x.x.x.x." if frac < 0.5 else "xxxxxxxxxxxxxxxx"}
            fill = phrase_end and lab in ("groove", "drop") and rng.random() < 0.8
            short = (not fill and (bar + 1) % 4 == 0 and lab in ("groove", "drop")
                     and rng.random() < 0.35)
            for pitch, pat in pats.items():
                use = pat
                if fill and pitch != KICK:
                    use = pat[: len(pat) // 2] + "." * (len(pat) - len(pat) // 2)
                elif short and pitch != KICK:
                    use = pat[: 3 * len(pat) // 4] + "." * (len(pat) - 3 * len(pat) // 4)
                for pos, ch, _ in _steps(use, bar, bpb, gv.swing):
                    vel = _DRUM_VEL.get(ch, 90)
                    if lab == "build":
                        vel = int(50 + 70 * (pos - sec_start[0] * bpb) / (4 * bpb * 1.0))
                    sc.add(t_drum, pitch, pos, 0.2, vel + int(rng.integers(-6, 7)))
            if fill:
                toms = [SNARE, SNARE, TOM_H, TOM_M, TOM_LO] if rng.random() < 0.6 else [SNARE]
                for i in range(8):
                    pos = bar * bpb + 2 + i * 0.25
                    sc.add(t_drum, toms[min(len(toms) - 1, i * len(toms) // 8)], pos, 0.2,
                           70 + 6 * i)
            if short:
                for i in range(4):
                    sc.add(t_drum, SNARE if i < 3 else TOM_M, bar * bpb + 3 + i * 0.25, 0.2,
                           62 + 12 * i)
            if bar == sec_start[0] and lab in ("drop", "groove") and bar > 0:
                sc.add(t_drum, CRASH, bar * bpb, 1.0, 115)
        # ---- bass
        if lab not in ("break", "intro", "build"):
            third = 3 if qual == "m" else 4
            for pos, ch, i in _steps(bass_p, bar, bpb, gv.swing):
                iv = third if ch == "T" else _BASS_INT.get(ch, 0)
                pitch = 36 + (root % 12) + iv
                dur = _held(bass_p, i) * bpb / len(bass_p) * 0.9
                sc.add(t_bass, pitch, pos, dur, (100 if i % 4 == 0 else 88) + int(rng.integers(-5, 6)))
        # ---- chords (stabs) and pad
        tones = [60 + (root % 12) + iv for iv in (_chord_tones(0, qual))]
        if lab in ("groove", "drop", "outro"):
            for pos, _ch, i in _steps(chord_p, bar, bpb, gv.swing):
                dur = _held(chord_p, i) * bpb / len(chord_p) * 0.85
                for p in tones:
                    sc.add(t_chord, p - 12 * (p > 71), pos, dur, 78 + int(rng.integers(-6, 7)))
        if lab in ("break", "build", "drop", "intro") and bar % gv.chord_every == 0:
            for p in tones:
                sc.add(t_pad, p - 12, bar * bpb, bpb * gv.chord_every * 0.98,
                       70 if lab != "drop" else 62)
        # ---- lead in drops and the second half of breaks
        if lab == "drop" or (lab == "break" and bar >= (sec_start[0] + sec_start[1]) // 2):
            vary = (bar // 8) * 7
            for n_i, (pos, _ch, i) in enumerate(_steps(lead_p, bar, bpb, gv.swing)):
                deg = int(motif[(n_i + (bar % 2) * 8 + vary) % 64])
                pitch = 72 + (key % 12) + int(scale[(deg + root_deg // 2) % 7])
                dur = max(1, _held(lead_p, i)) * bpb / len(lead_p) * 0.8
                sc.add(t_lead, pitch, pos, dur, 92 + int(rng.integers(-8, 9)))
    return sc
