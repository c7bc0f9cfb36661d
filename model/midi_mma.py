"""Grooves from Debian ``mma`` (Musical MIDI Accompaniment) turned into a beat-unit score.

mma writes a groove from a few lines of text (a tempo, a groove name, one chord line per
bar). We run it at a fixed 120 quarter notes per minute, read its notes with pretty_midi,
convert each note's position to *felt beats* (``quarters_per_beat`` quarters per beat: 1 for
4/4 and 3/4, 3 for mma's 6/8 styles written six quarters to the bar) and return a
``Score``; ``model.midi_music`` then places the beats on any tempo map, so beat and
downbeat truth is exact and independent of mma's own tempo. mma's humanising (random
timing of a few ticks) stays in, as real players would have it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from model.errors import AudioError
from model.midi_grooves import Score, plan_sections

__all__ = ["MMA_STYLES", "MmaStyle", "have_mma", "mma_beats_per_bar", "mma_score"]

STDLIB = Path("/usr/share/mma/lib/stdlib")
_MMA_TEMPO = 120.0  # quarters per minute used for rendering before the remap


@dataclass(frozen=True)
class MmaStyle:
    """An mma library style: file stem, groove, felt beat size and tempo range."""

    groove: str
    bpm: tuple[float, float]
    quarters_per_beat: int = 1
    harmony: str = "pop"  # pop | minor | jazz | blues


MMA_STYLES: dict[str, MmaStyle] = {
    # rock / pop
    "8beat": MmaStyle("8Beat", (96, 140)),
    "50srock": MmaStyle("50sRock", (140, 180)),
    "softrock": MmaStyle("SoftRock", (80, 115)),
    "folkrock": MmaStyle("FolkRock", (100, 140)),
    "popballad": MmaStyle("PopBallad", (66, 86)),
    "rb": MmaStyle("R&B", (80, 100), harmony="minor"),
    "ska": MmaStyle("Ska", (140, 175)),
    "blues": MmaStyle("Blues", (80, 120), harmony="blues"),
    "bvfunk": MmaStyle("BVFunk", (95, 115), harmony="minor"),
    "boneym": MmaStyle("BoneyM", (118, 132), harmony="minor"),
    "countryswing": MmaStyle("CountrySwing", (140, 190)),
    "polka": MmaStyle("Polka", (110, 140)),
    "march": MmaStyle("March", (104, 124)),
    # jazz / latin
    "swing": MmaStyle("Swing", (120, 190), harmony="jazz"),
    "bigband": MmaStyle("BigBand", (130, 200), harmony="jazz"),
    "jazzcombo": MmaStyle("JazzCombo", (110, 180), harmony="jazz"),
    "bossanova": MmaStyle("BossaNova", (120, 150), harmony="jazz"),
    "salsa": MmaStyle("Salsa", (150, 200), harmony="minor"),
    "mambo": MmaStyle("Mambo", (170, 200), harmony="minor"),
    "chacha": MmaStyle("ChaCha", (110, 130), harmony="minor"),
    "samba": MmaStyle("Samba", (90, 110)),
    "merengue": MmaStyle("Merengue", (120, 160)),
    "tango": MmaStyle("Tango", (116, 130), harmony="minor"),
    "rhumba": MmaStyle("Rhumba", (96, 120), harmony="minor"),
    "beguine": MmaStyle("Beguine", (110, 130)),
    # triple metre and compound time
    "waltz": MmaStyle("Waltz", (84, 100)),
    "jazzwaltz": MmaStyle("JazzWaltz", (110, 170), harmony="jazz"),
    "countrywaltz": MmaStyle("CountryWaltz", (90, 130)),
    "vienesewaltz": MmaStyle("VieneseWaltz", (160, 190)),
    "68march": MmaStyle("68March", (100, 130)),  # mma: 2 quarters a bar, one per dotted quarter
    "68swing": MmaStyle("68Swing", (60, 90), quarters_per_beat=3),  # 6 quarters = 6 eighths
    "arpeggio68": MmaStyle("Arpeggio68", (60, 84), quarters_per_beat=3),
    "ballad68": MmaStyle("Ballad68", (60, 80)),  # 12/8 feel, 4 dotted quarters a bar
}

_NAMES = ["C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B"]
_HARMONY: dict[str, tuple[tuple[tuple[int, str], ...], ...]] = {
    "pop": (((0, ""), (7, ""), (9, "m"), (5, "")), ((0, ""), (5, ""), (7, ""), (0, "")),
            ((0, ""), (9, "m"), (5, ""), (7, "7"))),
    "minor": (((0, "m"), (8, ""), (3, ""), (10, "")), ((0, "m"), (5, "m"), (7, "7"), (0, "m"))),
    "jazz": (((2, "m7"), (7, "7"), (0, "maj7"), (9, "7")), ((0, "maj7"), (9, "m7"), (2, "m7"), (7, "7"))),
    "blues": (((0, "7"),) * 4 + ((5, "7"),) * 2 + ((0, "7"),) * 2 + ((7, "7"), (5, "7"), (0, "7"),
                                                                     (7, "7")),),
}


def have_mma() -> bool:
    """True when the Debian ``mma`` program and its groove library are installed."""
    return shutil.which("mma") is not None and STDLIB.is_dir()


@cache
def _style_info(stem: str) -> tuple[int, frozenset[str]]:
    """(quarters per bar, groove names) parsed from the library file of a style."""
    text = (STDLIB / f"{stem}.mma").read_text(errors="replace")
    m = re.search(r"^\s*Time\s+(\d+)", text, flags=re.M | re.I)
    grooves = frozenset(g.lower() for g in re.findall(r"^\s*DefGroove\s+(\S+)", text,
                                                        flags=re.M | re.I))
    return (int(m.group(1)) if m else 4), grooves


def mma_beats_per_bar(name: str) -> int:
    """Felt beats per bar of an mma style (its quarters a bar over quarters a beat)."""
    return _style_info(name)[0] // MMA_STYLES[name].quarters_per_beat


def _variant(stem: str, base: str, suffix: str) -> str:
    _, grooves = _style_info(stem)
    name = base + suffix
    return name if name.lower() in grooves else base


def mma_score(name: str, n_bars: int, rng: np.random.Generator, *, breaks: bool = True) -> Score:
    """Score of ``n_bars`` bars of the mma style ``name`` (a key of MMA_STYLES), in felt beats."""
    import pretty_midi

    if not have_mma():
        raise AudioError("mma not found: install Debian mma (groove library in "
                         f"{STDLIB})")
    st = MMA_STYLES[name]
    quarters_per_bar, _ = _style_info(name)
    qpb = st.quarters_per_beat
    if quarters_per_bar % qpb:
        raise AudioError(f"mma style {name}: {quarters_per_bar} quarters a bar do not split "
                         f"into beats of {qpb}")
    bpb = quarters_per_bar // qpb
    sections = plan_sections(n_bars, rng, breaks=breaks)
    key = int(rng.integers(0, 12))
    progs = _HARMONY[st.harmony]
    prog = progs[int(rng.integers(0, len(progs)))]
    lines = [f"RndSeed {int(rng.integers(1, 1 << 30))}", f"Tempo {_MMA_TEMPO:g}"]
    current = ""
    label_of: list[str] = []
    for b0, b1, lab in sections:
        suffix = {"intro": "Intro", "drop": "Plus", "build": "Sus"}.get(lab, "")
        for bar in range(b0, b1):
            label_of.append(lab)
            groove = _variant(name, st.groove, suffix)
            if lab in ("groove", "drop") and (bar + 1) % 8 == 0:
                groove = _variant(name, st.groove, "Fill")
            if groove != current:
                lines.append(f"Groove {groove}")
                current = groove
            root, qual = prog[bar % len(prog)]
            lines.append(f"{bar + 1} {_NAMES[(key + root) % 12]}{qual}")
    with tempfile.TemporaryDirectory(prefix="dm_mma_") as tmp:
        src = Path(tmp) / "song.mma"
        src.write_text("\n".join(lines) + "\n")
        proc = subprocess.run(["mma", "-0", str(src)], cwd=tmp, capture_output=True, text=True,
                              timeout=120, check=False)
        out = Path(tmp) / "song.mid"
        if proc.returncode != 0 or not out.is_file():
            err = [ln for ln in (proc.stdout + proc.stderr).splitlines() if "Error" in ln]
            raise AudioError(f"mma failed on style {name}: {err[0] if err else proc.returncode}")
        pm = pretty_midi.PrettyMIDI(str(out))
    sc = Score(beats_per_bar=bpb, n_bars=n_bars, sections=sections)
    q_per_s = _MMA_TEMPO / 60.0
    for inst in pm.instruments:
        is_bass = not inst.is_drum and 32 <= inst.program <= 39
        track = (inst.name or ("drums" if inst.is_drum else "inst"), int(inst.program), inst.is_drum)
        for n in inst.notes:
            beat = n.start * q_per_s / qpb
            bar = int(beat // bpb)
            if bar >= n_bars:
                continue
            if label_of[bar] == "break" and (inst.is_drum or is_bass):
                continue
            dur = max(0.02, (n.end - n.start) * q_per_s / qpb)
            sc.add(track, n.pitch, beat, dur, n.velocity)
    return sc
