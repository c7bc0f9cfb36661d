"""The dance styles of the synthetic choreographer: music pairing, feel and vocabulary.

=============  ===============================  ==============================================
style          MIDI genres (synth feel)         character
=============  ===============================  ==============================================
house          house, techno, dancepop (house)  jacks, step-touch, shuffles, kicks, spins, jumps
hiphop         hiphop, trap, rb, reggaeton      deep bounce, two-step, running man, walk-outs,
               (hiphop)                         spin drops, hop squats
ballet         waltz, countrywaltz, popballad,  port de bras, balance, arabesque, pirouette,
               softrock (waltz)                 grand jete, developpe (3/4 and 4/4)
popping        funk, bvfunk, dancepop           hits (a fast tense-and-release after every
               (breakbeat)                      beat's stop), robot, waves, knee pops
locking        funk, disco, boneym (breakbeat)  points and locks (snap, freeze), scooby doo,
                                                knee drops, skeeter rabbit
contemporary   popballad, ballad68, arpeggio68, spirals, contractions, lunges, falls, leaps,
               softrock (waltz)                 low level
=============  ===============================  ==============================================

Music much faster than a style's tempo range (trap's felt beat at 140) is danced in
half time, with a slow point still on every beat.
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
