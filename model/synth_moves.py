"""Key poses and moves of the synthetic choreographer (model/synth_dance.py).

A move has two key tracks that run side by side over its cycle of ``beats`` beats:

* the **lower** track (``L``): level (``dy``, root height change), weight shift
  (``sh``: root offset from the stance centre), the feet, knee flare, travel of the
  stance centre (``go``, applied at the key) and turns (``turn``, radians, applied at
  the key), and ``air`` (1 at the top of a jump);
* the **upper** track (``U``): torso pitch/roll/twist, head pitch/yaw/roll, hand targets
  relative to the shoulders in the torso frame, elbow flare.

Keys sit at beat offsets inside the cycle (usually on beats and half beats); the
choreographer eases between keys so that the motion is slowest on every key. Feet are
``(dx, lift, dz)`` offsets from the rest ankle in the frame of the stance centre, or
``HOLD``: the foot stays exactly where it is on the floor (its world position does not
change, whatever the body does: that is how weight shifts, pivots and planted-foot
moves keep their feet still). x is the dancer's left, y up, z toward the audience.
Moves are written for one side; the choreographer mirrors them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

TAU = 2.0 * np.pi
HOLD = None


class LO:
    """Indices of a lower-track key vector."""

    DY, SHX, SHZ = 0, 1, 2
    LF = slice(3, 6)
    RF = slice(6, 9)
    KNEES, GOX, GOZ, TURN, AIR = 9, 10, 11, 12, 13
    DIM = 14


class UP:
    """Indices of an upper-track key vector."""

    PITCH, ROLL, TWIST, HPITCH, HYAW, HROLL = 0, 1, 2, 3, 4, 5
    LH = slice(6, 9)
    RH = slice(9, 12)
    LELB, RELB = 12, 13
    DIM = 14


U_NEUTRAL = np.zeros(UP.DIM)
U_NEUTRAL[UP.LH] = (0.05, -0.52, 0.08)
U_NEUTRAL[UP.RH] = (-0.05, -0.52, 0.08)
U_NEUTRAL[[UP.LELB, UP.RELB]] = 0.1

L_NEUTRAL = np.zeros(LO.DIM)
L_NEUTRAL[LO.LF] = np.nan  # HOLD
L_NEUTRAL[LO.RF] = np.nan
L_NEUTRAL[LO.KNEES] = 0.15

Foot = tuple[float, float, float] | None
Vec3 = tuple[float, float, float]


def L(*, dy: float = 0.0, sh: tuple[float, float] = (0.0, 0.0), lf: Foot = HOLD, rf: Foot = HOLD,
      knees: float = 0.15, go: tuple[float, float] = (0.0, 0.0), turn: float = 0.0, air: float = 0.0) -> np.ndarray:
    """A lower-track key (see the module docstring)."""
    k = L_NEUTRAL.copy()
    k[LO.DY], k[LO.SHX], k[LO.SHZ] = dy, sh[0], sh[1]
    if lf is not None:
        k[LO.LF] = lf
    if rf is not None:
        k[LO.RF] = rf
    k[LO.KNEES], k[LO.GOX], k[LO.GOZ], k[LO.TURN], k[LO.AIR] = knees, go[0], go[1], turn, air
    return k


def U(*, pitch: float = 0.0, roll: float = 0.0, twist: float = 0.0, hpitch: float = 0.0, hyaw: float = 0.0,
      hroll: float = 0.0, lh: Vec3 | None = None, rh: Vec3 | None = None, lelb: float = 0.1,
      relb: float = 0.1) -> np.ndarray:
    """An upper-track key: hands (x, y, z) from the shoulder (right hand outward is -x)."""
    k = U_NEUTRAL.copy()
    k[[UP.PITCH, UP.ROLL, UP.TWIST, UP.HPITCH, UP.HYAW, UP.HROLL]] = pitch, roll, twist, hpitch, hyaw, hroll
    if lh is not None:
        k[UP.LH] = lh
    if rh is not None:
        k[UP.RH] = rh
    k[UP.LELB], k[UP.RELB] = lelb, relb
    return k


def sym(x: float, y: float, z: float) -> dict[str, Any]:
    """Both hands at the same place, mirrored: ``lh=(x, y, z), rh=(-x, y, z)``."""
    return {"lh": (x, y, z), "rh": (-x, y, z)}


def stance(w: float = 0.0, lift: float = 0.0) -> dict[str, Any]:
    """Both feet placed ``w`` m wider than the rest stance on each side."""
    return {"lf": (w, lift, 0.0), "rf": (-w, lift, 0.0)}


# Mirror maps (swap sides, negate lateral quantities).
_L_PERM = np.arange(LO.DIM)
_L_PERM[LO.LF], _L_PERM[LO.RF] = np.arange(6, 9), np.arange(3, 6)
_L_SIGN = np.ones(LO.DIM)
_L_SIGN[[LO.SHX, 3, 6, LO.GOX, LO.TURN]] = -1.0
_U_PERM = np.arange(UP.DIM)
_U_PERM[UP.LH], _U_PERM[UP.RH] = np.arange(9, 12), np.arange(6, 9)
_U_PERM[UP.LELB], _U_PERM[UP.RELB] = UP.RELB, UP.LELB
_U_SIGN = np.ones(UP.DIM)
_U_SIGN[[UP.ROLL, UP.TWIST, UP.HYAW, UP.HROLL, 6, 9]] = -1.0


def mirror_lower(k: np.ndarray) -> np.ndarray:
    """Left/right mirror of lower keys [shape=(..., LO.DIM)] (HOLD stays HOLD)."""
    return k[..., _L_PERM] * _L_SIGN


def mirror_upper(k: np.ndarray) -> np.ndarray:
    """Left/right mirror of upper keys [shape=(..., UP.DIM)]."""
    return k[..., _U_PERM] * _U_SIGN


Track = tuple[tuple[float, np.ndarray], ...]


def seq(*keys: np.ndarray, step: float = 1.0, start: float = 0.0) -> Track:
    """Keys at ``start``, ``start + step``, ... beats."""
    return tuple((start + i * step, k) for i, k in enumerate(keys))


@dataclass(frozen=True)
class Move:
    """A cycle of ``beats`` beats: a lower and an upper key track.

    level: 0 calm (breaks, intros), 1 normal, 2 big (drops, fills). tags: any of
    "turn", "jump", "travel", "level", "kick", "accent". ease: easing of both tracks
    (None: the style's). Tracks shorter than the cycle repeat inside it.
    """

    name: str
    beats: float
    lower: Track
    upper: Track
    level: int = 1
    tags: frozenset[str] = field(default_factory=frozenset)
    ease: str | None = None
    uper: float = 0.0  # period of the upper track (0: the whole cycle)


def move(name: str, beats: float, lower: Track, upper: Track, *, level: int = 1, tags: Sequence[str] = (),
         ease: str | None = None, uper: float = 0.0) -> Move:
    """Build a Move, checking that the key times lie inside the cycle (the upper track's
    inside ``uper`` beats when given: it repeats)."""
    for tr, per in ((lower, beats), (upper, uper or beats)):
        if not tr or tr[0][0] != 0.0 or tr[-1][0] >= per:
            raise ValueError(f"move {name!r}: keys must start at 0 and stay below {per} beats")
    lower = _every_beat(lower, beats, lower=True)
    upper = _every_beat(upper, uper or beats, lower=False)
    return Move(name, float(beats), lower, upper, level, frozenset(tags), ease, float(uper))


def _every_beat(tr: Track, period: float, *, lower: bool) -> Track:
    """Insert a key on every beat left without one, so that the motion slows on every
    beat: between its neighbours, a little lower (lower track: feet held) or breathing
    in (upper track: chest and hands a little down)."""
    out: list[tuple[float, np.ndarray]] = []
    for n, (t, k) in enumerate(tr):
        out.append((t, k))
        t1, k1 = tr[n + 1] if n + 1 < len(tr) else (period, tr[0][1])
        for b in np.arange(np.floor(t) + 1.0, t1 - 1e-6, 1.0):
            f = (b - t) / (t1 - t)
            if lower:
                mid = L_NEUTRAL.copy()
                mid[[LO.DY, LO.SHX, LO.SHZ, LO.KNEES]] = (k + f * (k1 - k))[[LO.DY, LO.SHX, LO.SHZ, LO.KNEES]]
                mid[LO.DY] -= 0.04
            else:
                mid = k + f * (k1 - k)
                mid[UP.PITCH] += 0.06
                mid[[UP.LH.start + 1, UP.RH.start + 1]] -= 0.02
            out.append((float(b), mid))
    return tuple(out)


def expand(tr: Track, length: float, period: float) -> list[tuple[float, np.ndarray]]:
    """The keys of a track repeated every ``period`` beats over ``length`` beats."""
    out: list[tuple[float, np.ndarray]] = []
    c = 0.0
    while c < length - 1e-9:
        for t, k in tr:
            if c + t < length - 1e-9:
                out.append((c + t, k))
        c += period
    return out
