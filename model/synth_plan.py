"""Phrase-level choreography: which move, where, on which side (model/synth_dance.py).

The song is cut into phrases of 4 or 8 bars (cut again where the song's sections
change), each made of 8-count units (two bars). A phrase states a move A, repeats it on
the other side (A'), contrasts it with a move B and comes back: A A' B A'' or
A A' B B' (8 bars), A A' or A B (4 bars); the move changes on phrase boundaries. The
phrase's loudness picks the kind of move: calm moves in breaks and intros (and in any
quiet unit), big moves (jumps, turns, kicks) in drops, and a fill (a turn or a jump)
in the last unit before a louder phrase. Keys are scaled by the music's energy at
their beat. Travelling moves head back toward the centre, and a facing is chosen per
phrase (front, or turned a little), reached by a turn on the unit's first key.

Variety (``variety``, the chance per unit; ``dataset synth --variety``): a unit of one
move cycle repeated for 8 counts makes every 2-second window repeat one a few seconds
away (in v4's data 25-38 % of the windows, against 2 % in the salsa motion capture). A
varied unit is an 8-count combination: the first half dances the move, the second half
keeps its footwork under the arms of another move of the style (bigger or smaller; a calm
move only another calm move's) and a level a little lower or higher; a unit that repeats a move of its phrase (A' and A'') is
always varied, its first half at another size and level too, and a calm passage does not
pick the same calm move twice in a row. Moves tagged "variety" join the vocabulary only
then, so ``variety`` 0 plans exactly as before it.

Stance (``stance``, session 34; ``dataset synth --stance``): a quieter passage makes the moves
smaller. Without it they shrink toward the neutral standing pose, so in a break every style
straightens up and lowers its arms (the data's locking: hip over the lower ankle 0.77 m
elsewhere, 0.83 m in its breaks, where ballet stands at 0.82), and a model trained on it does
the same on real music with its drums out, where it reads as ballet. With ``stance`` a move
smaller than full size (energy under ~0.8) shrinks around its own centre instead (the
level of its lower keys, the mean of the unit's arm and torso keys): the calm version of the
style keeps its bent knees and its arms. Full-size and bigger moves are as before, and no
random number is drawn for it, so ``stance`` False plans exactly as before it.

Calm variety (``calm``, session 54; ``dataset synth --calm``): a style has two or three calm
moves, so its breaks and intros alternate between them, and most of the data's repeats are
there (danced to songs with calm sections at variety 1, ballet: 44 % of its calm 2-second
windows come within 0.3 of another, 1.2 % elsewhere; house 75 % and 4 %). With ``calm`` the
style's normal moves that stay in place (no travel, turn or jump) join the calm vocabulary at
half their tempo (``CALM_TEMPO``) and 1.4x their size (``SLOW_SIZE``), each drawn with weight
``calm`` beside a calm move's 1: a break dances a slow développé or a slow step-touch, not the
same sway again. They are never drawn outside calm passages, and no random number is drawn for
them when ``calm`` is 0, so ``calm`` 0 plans exactly as before it. Measured in session 54
(models/README.md): the data repeats less with it, but v29 fine-tuned on it repeated itself
more, so ``dataset synth`` leaves it off unless asked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from model.synth_moves import LO, U_NEUTRAL, UP, Move, expand, mirror_lower, mirror_upper
from model.synth_styles import STYLES, VOCABULARY
from model.synth_track import EASES
from model.synth_wider import widen

SLOW_NOT = frozenset({"travel", "turn", "jump"})
"""Tags of the moves that have no half-time calm version (``calm``): they leave their place."""

CALM_TEMPO = 2.0
"""How many times slower a normal move is danced as a calm one (``calm``): 2, half time (data/synth_v7;
session 54's data/synth_v8 was made with 1, and ``SLOW_SIZE`` 1)."""
SLOW_SIZE = 1.4
"""How much bigger a half-time move is danced than the music's energy would size a move: at half
its tempo it is still as slow as a calm move, and its shape stays apart from the others'."""

CALM, BIG, QUIET = 0.4, 0.8, 0.3
"""Energy under which a unit is calm; above which a phrase is big; under which a beat is
so quiet (a break) that the feet hold still."""


@dataclass
class Plan:
    """Keys of both tracks (times in beats) and the phrase log."""

    lt: list[float] = field(default_factory=list)
    lk: list[np.ndarray] = field(default_factory=list)
    le: list[int] = field(default_factory=list)
    ut: list[float] = field(default_factory=list)
    uk: list[np.ndarray] = field(default_factory=list)
    ue: list[int] = field(default_factory=list)
    log: list[tuple[float, str, bool]] = field(default_factory=list)


class Variation(NamedTuple):
    """A unit's variation (see ``_Planner._variation``): the move whose arms the second half
    takes, their size factor and the second half's level change; the first half's size factor
    and level change (1 and 0 unless the unit repeats a move of its phrase)."""

    arms: Move
    size: float
    level: float
    size1: float
    level1: float


def amplitude(energy: np.ndarray | float) -> np.ndarray:
    """Size of the moves for a music energy 0..1: 0.35 in a break, 1.15 in a drop."""
    return np.clip(0.3 + 0.85 * np.asarray(energy, dtype=np.float64), 0.3, 1.15)


def half_time(m: Move, slow: float) -> Move:
    """``m`` as a calm move, its keys ``slow`` times further apart (``CALM_TEMPO``: 2, half time;
    ``calm``, see the module docstring)."""
    return Move(f"{m.name}_slow", slow * m.beats, tuple((slow * t, k) for t, k in m.lower),
                tuple((slow * t, k) for t, k in m.upper), 0, m.tags | {"slow"}, m.ease, slow * m.uper)


def _pick(vocab: tuple[Move, ...], level: int, rng: np.random.Generator, unit: int,
          exclude: set[str], want: tuple[str, ...] = (), slow: float = 0.0) -> Move:
    w = []
    for m in vocab:
        x = 1.0 if m.level == level else (0.35 if abs(m.level - level) == 1 and level > 0 else 0.0)
        if "slow" in m.tags:  # a half-time calm version: calm passages only, at its own weight
            x = slow if level == 0 else 0.0
        if level > 0 and m.tags & {"turn", "jump"}:
            x *= 1.5
        if want and not (m.tags & set(want)):
            x *= 0.05
        if m.name in exclude:
            x *= 0.02
        x *= 1.0 if unit % m.beats == 0 or m.beats % unit == 0 else 0.35
        w.append(x)
    p = np.asarray(w)
    if p.sum() <= 0:
        p = np.ones(len(vocab))
    return vocab[int(rng.choice(len(vocab), p=p / p.sum()))]


def _wrap(a: float) -> float:
    return float(np.angle(np.exp(1j * a)))


class _Planner:
    def __init__(self, style: str, energy: np.ndarray, rng: np.random.Generator, variety: float = 0.0,
                 stance: bool = False, calm: float = 0.0, wider: int = 0) -> None:
        self.variety = float(variety)
        self.calm = float(calm)
        self.stance = bool(stance)
        self.spec = STYLES[style]
        # moves tagged "variety" came with it: without it the vocabulary (and so a seed's
        # plan) is the one data sets were made with before
        self.vocab = tuple(m for m in VOCABULARY[style] if self.variety > 0 or "variety" not in m.tags)
        self.vocab += widen(style, self.vocab, wider)  # () when 0: the vocabulary as before it
        if self.calm > 0:  # the normal moves that stay in place, at half tempo, for calm passages
            self.vocab += tuple(half_time(m, CALM_TEMPO) for m in self.vocab if m.level == 1 and not m.tags & SLOW_NOT)
        self.energy = energy
        self.rng = rng
        self.plan = Plan()
        self.yaw = 0.0
        self.pos = np.zeros(2)

    def e_at(self, beat: float) -> float:
        if len(self.energy) == 0:
            return 0.8
        return float(self.energy[int(np.clip(np.floor(beat), 0, len(self.energy) - 1))])

    def e_mean(self, a: float, b: float) -> float:
        if len(self.energy) == 0:
            return 0.8
        lo, hi = int(np.clip(a, 0, len(self.energy) - 1)), int(np.clip(b, 1, len(self.energy)))
        return float(np.mean(self.energy[lo:max(hi, lo + 1)]))

    def unit(self, m: Move, start: float, length: float, *, mirrored: bool, facing: float, scale: float,
             repeat: bool = False) -> None:
        rng, p = self.rng, self.plan
        vary = self._variation(m, length, repeat)
        half = float(np.ceil(length / 2.0))
        if "travel" in m.tags and np.hypot(*self.pos) > 0.3:  # head back toward the centre
            net = sum(k[LO.GOX] for _, k in m.lower)
            c, s = np.cos(self.yaw), np.sin(self.yaw)
            world_x = net * c
            mirrored = bool((world_x > 0) == (self.pos[0] > 0)) if abs(world_x) > 1e-6 else mirrored
        ease_i = EASES.index(m.ease or self.spec.ease)
        first = True
        turning = bool(m.tags & {"turn"})
        level_c = float(np.mean([k[LO.DY] for _, k in m.lower])) if self.stance else 0.0  # the move's level
        for t, k in expand(m.lower, length, m.beats):
            k = mirror_lower(k) if mirrored else k.copy()
            a = float(np.clip(amplitude(self.e_at(start + t)) * scale, 0.25, 1.25))
            c = level_c if a < 1.0 else 0.0  # smaller: around its own level (stance), not upright
            k[LO.DY] = c + (k[LO.DY] - c) * a + rng.normal(0.0, 0.008)
            if vary is not None:  # a level lower or higher (the first half only in a repeat)
                k[LO.DY] += vary.level if t >= half else vary.level1
            k[[LO.SHX, LO.SHZ]] = k[[LO.SHX, LO.SHZ]] * a + rng.normal(0.0, 0.008, 2)
            if self.e_at(start + t) < QUIET:  # the music drops out: feet stay put
                k[[LO.LF.start, LO.RF.start, LO.GOX, LO.GOZ, LO.TURN, LO.AIR]] = (np.nan, np.nan, 0.0, 0.0, 0.0, 0.0)
            k[[LO.GOX, LO.GOZ]] *= 0.7 + 0.3 * min(a, 1.0)
            for sl in (LO.LF, LO.RF):
                if not np.isnan(k[sl.start]):
                    k[sl.start + 1] *= 0.5 + 0.5 * min(a, 1.15)
                    if not turning:
                        k[[sl.start, sl.start + 2]] *= 0.75 + 0.25 * min(a, 1.15)
            if first:
                corr = _wrap(facing - self.yaw)
                if abs(corr) > 0.05:
                    k[LO.TURN] += corr
                first = False
            c, s = np.cos(self.yaw), np.sin(self.yaw)
            self.pos += (k[LO.GOX] * c + k[LO.GOZ] * s, -k[LO.GOX] * s + k[LO.GOZ] * c)
            self.yaw += float(k[LO.TURN])
            p.lt.append(start + t)
            p.lk.append(k)
            p.le.append(ease_i)
        ups = [(t, mirror_upper(k) if mirrored else k.copy(), a2) for t, k, a2 in self._upper_keys(m, length, half, vary)]
        centre = np.mean([k for _, k, _ in ups], axis=0) if self.stance and ups else U_NEUTRAL
        for t, k, a2 in ups:
            a = float(np.clip(amplitude(self.e_at(start + t)) * scale * a2, 0.25, 1.25))
            c = centre if a < 1.0 else U_NEUTRAL  # smaller: around the unit's own arms and torso
            k = c + a * (k - c)
            k[6:14] = U_NEUTRAL[6:14] + self.spec.arms * (k[6:14] - U_NEUTRAL[6:14])
            k[[UP.PITCH, UP.ROLL, UP.TWIST, UP.HPITCH, UP.HYAW, UP.HROLL]] += rng.normal(0.0, 0.03, 6)
            k[6:12] += rng.normal(0.0, 0.012, 6)
            p.ut.append(start + t)
            p.uk.append(k)
            p.ue.append(ease_i)
        p.log.append((start, m.name, mirrored))

    def _variation(self, m: Move, length: float, repeat: bool) -> Variation | None:
        """Whether this unit varies (``variety``: the chance per unit; every unit that
        repeats an earlier move of its phrase) and how; None: the move's cycle repeated.
        Draws nothing when ``variety`` is 0, so a seed plans as before it."""
        if self.variety <= 0.0 or length < 4.0:
            return None
        if self.rng.random() >= self.variety and not repeat:
            return None
        # a calm move borrows calm arms only (a break stays calm); others any of a level near theirs
        near = 0 if m.level == 0 else 1
        others = [o for o in self.vocab if o.name != m.name and abs(o.level - m.level) <= near
                  and ("slow" not in o.tags or m.level == 0)] or [m]
        o = others[int(self.rng.integers(len(others)))]
        size = float(self.rng.choice((0.8, 1.15)))
        still = bool(m.tags & {"jump", "level"})
        level = 0.0 if still else float(self.rng.choice((-0.07, 0.0, 0.03)))
        size1, level1 = 1.0, 0.0
        if repeat:
            size1 = float(self.rng.choice((0.85, 1.12)))
            level1 = 0.0 if still else float(self.rng.choice((-0.05, 0.02)))
        return Variation(o, size, level, size1, level1)

    def _upper_keys(self, m: Move, length: float, half: float, vary: Variation | None
                    ) -> list[tuple[float, np.ndarray, float]]:
        """The unit's arm/torso keys with their size factor: the move's own cycle over the
        unit, or with a variation (:meth:`_variation`) the move's own in the first half and
        the other move's arms, bigger or smaller, in the second (an 8-count combination
        rather than one cycle repeated)."""
        if vary is None:
            return [(t, k, 1.0) for t, k in expand(m.upper, length, m.uper or m.beats)]
        o = vary.arms
        keys = [(t, k, vary.size1) for t, k in expand(m.upper, half, m.uper or m.beats)]
        keys += [(half + t, k, vary.size) for t, k in expand(o.upper, length - half, o.uper or o.beats)]
        return keys


def plan_dance(*, n_beats: int, first_downbeat: int, bpb: int, energy: np.ndarray, sections: np.ndarray | None,
               style: str, rng: np.random.Generator, variety: float = 0.0, stance: bool = False,
               calm: float = 0.0, wider: int = 0) -> Plan:
    """Plan a dance over ``n_beats`` beats (see the module docstring). ``energy``: per
    beat 0..1; ``sections``: optional per-beat section labels (phrases break where they
    change); ``variety``: the chance that a unit varies its second half (see
    ``_Planner._upper_keys``; 0 draws nothing more, so a seed plans as before); ``stance``:
    smaller moves keep the move's own level and arms; ``calm``: the weight of the half-time
    versions of the normal moves in calm passages (see the module docstring; 0: none); ``wider``:
    how many variants of each normal and big move join the vocabulary (model/synth_wider.py; 0:
    none, a seed plans as before)."""
    pl = _Planner(style, np.asarray(energy, dtype=np.float64), rng, variety, stance, calm, wider)
    unit = 2 * bpb
    start = float(first_downbeat % bpb - bpb if first_downbeat % bpb else 0)
    if start < 0:  # a pickup: sway in place until the first full bar
        calm_moves = [m for m in pl.vocab if m.level == 0]
        pl.unit(calm_moves[0], start, -start, mirrored=False, facing=0.0, scale=0.6)
        start = 0.0
    end = n_beats + 2.0
    last: set[str] = set()
    calm_last: set[str] = set()
    while start < end:
        n_units = 4 if rng.random() < 0.65 else 2
        if sections is not None and len(sections):
            s0 = sections[int(np.clip(start, 0, len(sections) - 1))]
            for u in range(1, n_units):
                b = int(np.clip(start + u * unit, 0, len(sections) - 1))
                if sections[b] != s0:
                    n_units = u
                    break
        length = n_units * unit
        e = pl.e_mean(start, start + length)
        e_next = pl.e_mean(start + length, start + length + 4 * unit)
        level = 0 if e < CALM else (2 if e > BIG else 1)
        a = _pick(pl.vocab, level, rng, unit, last, slow=pl.calm)
        bm = _pick(pl.vocab, max(level, 1) if level else 0, rng, unit, last | {a.name}, slow=pl.calm)
        structure: list[tuple[Move, bool]] = [(a, False), (a, True), (bm, False),
                                              (a, True) if rng.random() < 0.5 else (bm, True)]
        if n_units == 2:
            structure = [(a, False), (a, True)] if rng.random() < 0.6 else [(a, False), (bm, False)]
        structure = structure[:n_units]
        if e_next > e + 0.12 and e_next > 0.7:  # a fill into the louder phrase
            fill = _pick(pl.vocab, 2, rng, unit, {a.name, bm.name}, want=("turn", "jump"))
            structure[-1] = (fill, False)
        flip = bool(rng.random() < 0.5)
        facing = 0.0 if rng.random() < 0.5 else float(rng.uniform(-0.7, 0.7))
        scale = float(rng.uniform(0.9, 1.1))
        seen: set[str] = set()
        for u, (m, mir) in enumerate(structure):
            u0 = start + u * unit
            if pl.e_mean(u0, u0 + unit) < CALM and m.level > 0:
                m = _pick(pl.vocab, 0, rng, unit, calm_last if variety > 0 else set(), slow=pl.calm)
            pl.unit(m, u0, unit, mirrored=mir != flip, facing=-facing if mir else facing,
                    scale=scale * float(rng.uniform(0.92, 1.08)) * (SLOW_SIZE if "slow" in m.tags else 1.0),
                    repeat=m.name in seen)
            seen.add(m.name)
            if m.level == 0:
                calm_last = {m.name}
        last = {a.name, bm.name}
        start += length
    return pl.plan
