"""A wider vocabulary for the synthetic choreographer (``dataset synth --wider K``).

Sessions 50-59 (models/README.md) found that the dancer comes back to a few moves per style
because its data holds few: 9-12 hand-written moves a style, and a pick among eight of the
model's own draws is about what eight candidates can give. ``widen`` adds ``K`` variants of
every normal and big move of a style (not its calm moves: session 54 found that more slow
moves make the dancer stall in loud music). A variant keeps the move's rhythm, its footwork
pattern, its turns, travel and jumps, and changes its shapes the way one dancer's move differs
from another's in the same style:

* the arms: both hands' targets moved by one offset for the whole move (higher, wider, more
  forward) and each key a little more; the elbows bent more or less; the torso leans and
  twists a little otherwise; in half of the variants the arm path runs backwards through its
  keys;
* the legs: the free foot placed a little wider or narrower and further forward or back,
  lifted higher or lower, the knees bent more or less, the weight shifts larger or smaller,
  the level a little lower or higher.

The variants of a style are the same in every clip (their generator is seeded by the style's
name), so a style's vocabulary is ``K + 1`` times as large, not a new move per clip.
"""

from __future__ import annotations

import zlib

import numpy as np

from model.synth_moves import LO, UP, Move, Track

HAND_SHIFT = 0.08
"""Standard deviation (m) of a variant's hand offset, per axis and hand, for the whole move."""
HAND_KEY = 0.04
"""Standard deviation (m) of each key's own hand offset on top of it."""
FOOT_SHIFT = 0.04
"""Standard deviation (m) of a variant's free-foot offset (sideways and forward)."""


def widen(style: str, vocab: tuple[Move, ...], k: int) -> tuple[Move, ...]:
    """``k`` variants of every move of ``vocab`` that is not calm (level 0) or slow; empty
    when ``k`` is 0. Seeded by ``style`` and ``k`` only: the same for every clip."""
    if k <= 0:
        return ()
    rng = np.random.default_rng([zlib.crc32(style.encode()), int(k)])
    out: list[Move] = []
    for m in vocab:
        if m.level == 0 or "slow" in m.tags:
            continue
        for i in range(int(k)):
            out.append(_variant(m, i + 1, rng))
    return tuple(out)


def _variant(m: Move, n: int, rng: np.random.Generator) -> Move:
    per = m.uper or m.beats
    return Move(f"{m.name}~{n}", m.beats, _lower(m.lower, rng), _upper(m.upper, per, rng), m.level,
                m.tags | {"wider"}, m.ease, m.uper)


def _upper(track: Track, period: float, rng: np.random.Generator) -> Track:
    hand = rng.normal(0.0, HAND_SHIFT, 6)
    torso = rng.normal(0.0, (0.07, 0.05, 0.1, 0.05, 0.08, 0.04))
    elbow = rng.normal(0.0, 0.2, 2)
    backwards = bool(rng.random() < 0.5)
    keys = []
    for t, k in track:
        k = k.copy()
        k[6:12] += hand + rng.normal(0.0, HAND_KEY, 6)
        k[6:12:3] = np.clip(k[6:12:3], -0.55, 0.6)  # x: across the body to out to the side
        k[7:12:3] = np.clip(k[7:12:3], -0.6, 0.55)  # y: down at the sides to overhead
        k[8:12:3] = np.clip(k[8:12:3], -0.3, 0.55)  # z: a little behind to reaching forward
        k[:6] += torso
        k[[UP.LELB, UP.RELB]] = np.clip(k[[UP.LELB, UP.RELB]] + elbow, 0.0, 1.2)
        keys.append((t, k))
    if backwards and len(keys) > 1:  # the arm path the other way round: key i at the time of key -i
        times = [t for t, _ in keys]
        keys = [(times[i], keys[-i][1]) for i in range(len(keys))]
    return tuple(keys)


def _lower(track: Track, rng: np.random.Generator) -> Track:
    foot = rng.normal(0.0, FOOT_SHIFT, 2)
    lift = float(rng.uniform(0.8, 1.3))
    knees = float(rng.normal(0.0, 0.08))
    shift = float(rng.uniform(0.7, 1.3))
    level = float(rng.normal(0.0, 0.02))
    keys = []
    for t, k in track:
        k = k.copy()
        for sl in (LO.LF, LO.RF):
            if not np.isnan(k[sl.start]):  # a placed foot (HOLD stays where it is)
                side = 1.0 if sl == LO.LF else -1.0  # wider is outward on each side
                k[sl.start] += side * foot[0]
                k[sl.start + 2] += foot[1]
                k[sl.start + 1] *= lift
        k[LO.KNEES] = max(0.0, k[LO.KNEES] + knees)
        k[[LO.SHX, LO.SHZ]] *= shift
        if k[LO.AIR] == 0.0:
            k[LO.DY] += level
        keys.append((t, k))
    return tuple(keys)
