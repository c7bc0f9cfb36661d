"""The dance styles of the synthetic choreographer: music pairing, feel and vocabulary.

========  ==================  ========  ======================================================
style     music (MIDI / synth)  BPM     character
========  ==================  ========  ======================================================
house     house, techno         118-128  jacks on the beat, step-touch, shuffles, kicks, spins, jumps
hiphop    boom-bap, trap        84-100   deep bounce, two-step, running man, walk-outs, spin drops
ballet    waltz, ballad         80-120   port de bras, balancé, arabesque, pirouette, jeté (3/4 and 4/4)
popping   funk, electro         92-112   hits: a fast tense-and-release on every beat; robot, waves
locking   funk, disco           100-120  points and locks (snap, freeze), scooby doo, knee drops
contemp.  ballad, 6/8           70-100   spirals, contractions, lunges, falls, leaps, floor level
========  ==================  ========  ======================================================
"""

from __future__ import annotations

from dataclasses import dataclass

from model.synth_moves import Move
from model.synth_vocab_a import ballet, hiphop, house
from model.synth_vocab_b import contemporary, locking, popping


@dataclass(frozen=True)
class StyleSpec:
    """feel: model.synth_music feel; genres: model.midi_music genres (first = main);
    bpm: tempo range; ease: default easing; bounce: knee dip on the beat (m); nod: head
    nod (rad); jack: torso jack on the beat (rad); pop: popping hit strength (rad)."""

    feel: str
    genres: tuple[str, ...]
    bpm: tuple[float, float]
    ease: str
    bounce: float = 0.0
    nod: float = 0.0
    jack: float = 0.0
    pop: float = 0.0
    arms: float = 0.75


STYLES: dict[str, StyleSpec] = {  # genres: model.midi_music genres; a clip picks one
    "house": StyleSpec("house", ("house", "techno", "dancepop"), (118.0, 128.0), "smooth", bounce=0.045, nod=0.06, jack=0.08, arms=0.66),
    "hiphop": StyleSpec("hiphop", ("hiphop", "trap", "rb", "reggaeton"), (84.0, 100.0), "smooth", bounce=0.055, nod=0.15, arms=0.68),
    "ballet": StyleSpec("waltz", ("waltz", "countrywaltz", "popballad", "softrock"), (80.0, 120.0), "flow", bounce=0.015),
    "popping": StyleSpec("breakbeat", ("funk", "bvfunk", "dancepop"), (92.0, 112.0), "hit", pop=0.14, arms=0.6),
    "locking": StyleSpec("breakbeat", ("funk", "disco", "boneym"), (100.0, 120.0), "snap", bounce=0.04, nod=0.08),
    "contemporary": StyleSpec("waltz", ("popballad", "ballad68", "arpeggio68", "softrock"), (70.0, 100.0), "flow", bounce=0.045, arms=0.58),
}

VOCABULARY: dict[str, tuple[Move, ...]] = {
    "house": house(),
    "hiphop": hiphop(),
    "ballet": ballet(),
    "popping": popping(),
    "locking": locking(),
    "contemporary": contemporary(),
}
