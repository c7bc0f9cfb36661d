"""The move vocabularies of the synthetic choreographer (model/synth_dance.py).

A move is a cycle of key poses, one per beat (key k at beat k of the cycle), in a small
parameter space (see ``P``): root offset and dip, facing, torso and head angles, hand
targets relative to the shoulders in the body frame, elbow flare, foot targets (offset
from the rest ankle, lift above the floor) in the stage frame. The choreographer eases
between keys so that the motion slows to its minimum on every beat. x is the dancer's
left, y up, z toward the audience; angles in radians.

Moves that travel end their cycle displaced by ``travel`` (dx, dz, dyaw): the last key
wraps onto the first key shifted by it. Every move is written for one side; the
choreographer mirrors it for the other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class P:
    """Indices into a parameter vector."""

    RX, DY, RZ, YAW = 0, 1, 2, 3
    PITCH, ROLL, TWIST = 4, 5, 6
    HPITCH, HYAW, HROLL = 7, 8, 9
    LH = slice(10, 13)
    RH = slice(13, 16)
    LELB, RELB = 16, 17
    LF = slice(18, 21)  # dx, lift, dz
    RF = slice(21, 24)
    FYAW = 24
    DIM = 25


NEUTRAL = np.zeros(P.DIM)
NEUTRAL[P.LH] = (0.05, -0.52, 0.08)
NEUTRAL[P.RH] = (-0.05, -0.52, 0.08)
NEUTRAL[P.LELB] = NEUTRAL[P.RELB] = 0.1

# Sign of each parameter under a left/right mirror (after swapping the sides).
MIRROR_SIGN = np.ones(P.DIM)
for _i in (P.RX, P.YAW, P.ROLL, P.TWIST, P.HYAW, P.HROLL, P.FYAW, 10, 13, 18, 21):
    MIRROR_SIGN[_i] = -1.0
MIRROR_PERM = np.arange(P.DIM)
MIRROR_PERM[P.LH], MIRROR_PERM[P.RH] = np.arange(13, 16), np.arange(10, 13)
MIRROR_PERM[P.LF], MIRROR_PERM[P.RF] = np.arange(21, 24), np.arange(18, 21)
MIRROR_PERM[P.LELB], MIRROR_PERM[P.RELB] = P.RELB, P.LELB


def mirror_params(x: np.ndarray) -> np.ndarray:
    """Left/right mirror of parameter vectors [shape=(..., P.DIM)]."""
    return x[..., MIRROR_PERM] * MIRROR_SIGN


_NAMES = {"rx": P.RX, "dy": P.DY, "rz": P.RZ, "yaw": P.YAW, "pitch": P.PITCH, "roll": P.ROLL,
          "twist": P.TWIST, "hpitch": P.HPITCH, "hyaw": P.HYAW, "hroll": P.HROLL, "lh": P.LH,
          "rh": P.RH, "lelb": P.LELB, "relb": P.RELB, "lf": P.LF, "rf": P.RF, "fyaw": P.FYAW}


def K(**kw: float | tuple[float, float, float]) -> np.ndarray:
    """A key pose: NEUTRAL with the named parameters replaced. Hands are (x, y, z) from
    the shoulder (right hand outward is -x); feet are (dx, lift, dz)."""
    k = NEUTRAL.copy()
    for name, v in kw.items():
        k[_NAMES[name]] = v
    return k


def sym(x: float, y: float, z: float) -> dict[str, tuple[float, float, float]]:
    """Both hands at the same place, mirrored: ``lh=(x, y, z), rh=(-x, y, z)``."""
    return {"lh": (x, y, z), "rh": (-x, y, z)}


@dataclass(frozen=True)
class Move:
    """A cycle of key poses (one per beat) and how the cycle travels."""

    name: str
    keys: tuple[np.ndarray, ...]
    travel: tuple[float, float, float] = (0.0, 0.0, 0.0)
    knees_out: float = 0.15

    @property
    def beats(self) -> int:
        return len(self.keys)


def _m(name: str, *keys: np.ndarray, travel: tuple[float, float, float] = (0.0, 0.0, 0.0),
       knees_out: float = 0.15) -> Move:
    return Move(name, tuple(keys), travel, knees_out)


TAU = 2.0 * np.pi

HOUSE: tuple[Move, ...] = (
    _m("jack",
       K(pitch=0.28, dy=-0.07, hpitch=0.15, **sym(0.12, -0.42, 0.22), lelb=0.4, relb=0.4),
       K(pitch=-0.08, dy=-0.01, hpitch=-0.05, **sym(0.06, -0.5, 0.02))),
    _m("step_touch",
       K(dy=-0.03),
       K(rx=-0.13, dy=-0.06, rf=(-0.26, 0.0, 0.0), roll=-0.1, lh=(0.0, -0.3, 0.3), rh=(-0.25, -0.35, -0.1)),
       K(rx=-0.22, dy=-0.02, rf=(-0.26, 0.0, 0.0), lf=(-0.15, 0.05, 0.02), roll=-0.05, twist=-0.2),
       K(rx=-0.13, dy=-0.06, rf=(-0.26, 0.0, 0.0), roll=0.08, rh=(-0.05, -0.3, 0.3), lh=(0.25, -0.35, -0.1))),
    _m("kick_change",
       K(dy=-0.05, pitch=0.1),
       K(dy=-0.02, lf=(0.04, 0.16, 0.32), pitch=-0.12, lh=(0.1, -0.45, -0.15), rh=(-0.05, -0.2, 0.35), relb=0.5),
       K(dy=-0.06, pitch=0.1),
       K(dy=-0.02, rf=(-0.04, 0.16, 0.32), pitch=-0.12, rh=(-0.1, -0.45, -0.15), lh=(0.05, -0.2, 0.35), lelb=0.5)),
    _m("arm_pump",
       K(dy=-0.02, **sym(0.18, 0.5, 0.12), hpitch=-0.2, pitch=-0.05),
       K(dy=-0.09, **sym(0.12, -0.2, 0.28), lelb=0.8, relb=0.8, pitch=0.18, hpitch=0.15)),
    _m("shuffle_travel",
       K(dy=-0.04),
       K(rx=0.13, dy=-0.07, lf=(0.26, 0.0, 0.0), roll=0.12, lh=(0.35, -0.2, 0.15), rh=(0.1, -0.35, 0.25)),
       K(rx=0.26, dy=-0.04, lf=(0.26, 0.0, 0.0), rf=(0.26, 0.0, 0.0), roll=0.0),
       K(rx=0.39, dy=-0.07, lf=(0.52, 0.0, 0.0), rf=(0.26, 0.0, 0.0), roll=0.12, lh=(0.35, -0.2, 0.15), rh=(0.1, -0.35, 0.25)),
       travel=(0.52, 0.0, 0.0)),
    _m("spin",
       K(dy=-0.06, **sym(0.1, -0.3, 0.25)),
       K(dy=-0.03, yaw=TAU / 4, fyaw=TAU / 4, **sym(0.3, -0.1, 0.1), lf=(0.0, 0.06, 0.0)),
       K(dy=-0.06, yaw=TAU / 2, fyaw=TAU / 2, **sym(0.3, -0.1, 0.1)),
       K(dy=-0.03, yaw=3 * TAU / 4, fyaw=3 * TAU / 4, **sym(0.3, -0.1, 0.1), rf=(0.0, 0.06, 0.0)),
       travel=(0.0, 0.0, TAU)),
)

HIPHOP: tuple[Move, ...] = (
    _m("bounce_rock",
       K(dy=-0.1, rx=0.06, roll=0.16, hpitch=0.25, **sym(0.15, -0.25, 0.25), lelb=0.7, relb=0.7),
       K(dy=-0.03, rx=-0.06, roll=-0.16, hpitch=-0.05, **sym(0.12, -0.3, 0.22), lelb=0.7, relb=0.7)),
    _m("two_step",
       K(dy=-0.1, hpitch=0.2),
       K(dy=-0.04, rx=-0.1, rf=(-0.2, 0.0, 0.05), twist=0.35, lh=(-0.15, -0.2, 0.35), rh=(-0.2, -0.45, -0.1)),
       K(dy=-0.1, hpitch=0.2),
       K(dy=-0.04, rx=0.1, lf=(0.2, 0.0, 0.05), twist=-0.35, rh=(0.15, -0.2, 0.35), lh=(0.2, -0.45, -0.1))),
    _m("arm_swing",
       K(dy=-0.1, twist=-0.4, lh=(-0.25, -0.15, 0.35), rh=(-0.15, -0.45, -0.2), hyaw=-0.3, lelb=0.6),
       K(dy=-0.03, pitch=0.1, **sym(0.1, -0.35, 0.15)),
       K(dy=-0.1, twist=0.4, rh=(0.25, -0.15, 0.35), lh=(0.15, -0.45, -0.2), hyaw=0.3, relb=0.6),
       K(dy=-0.03, pitch=0.1, **sym(0.1, -0.35, 0.15))),
    _m("shoulder_bounce",
       K(dy=-0.12, pitch=0.25, hpitch=0.3, **sym(0.05, -0.15, 0.25), lelb=1.0, relb=1.0),
       K(dy=-0.04, pitch=0.05, hpitch=0.0, **sym(0.08, -0.05, 0.2), lelb=1.0, relb=1.0)),
    _m("kick_out",
       K(dy=-0.1, hpitch=0.2, **sym(0.12, -0.3, 0.2)),
       K(dy=-0.05, lf=(0.3, 0.15, 0.05), rx=-0.04, roll=-0.15, lh=(0.5, -0.05, 0.1), rh=(-0.1, -0.25, 0.3)),
       K(dy=-0.1, hpitch=0.2, **sym(0.12, -0.3, 0.2)),
       K(dy=-0.05, rf=(-0.3, 0.15, 0.05), rx=0.04, roll=0.15, rh=(-0.5, -0.05, 0.1), lh=(0.1, -0.25, 0.3))),
    _m("walk_it_out",
       K(dy=-0.09, hpitch=0.2, **sym(0.15, -0.35, 0.1)),
       K(dy=-0.04, rz=0.1, lf=(0.0, 0.0, 0.2), twist=-0.2, rh=(-0.1, -0.3, 0.3), lh=(0.15, -0.4, -0.2)),
       K(dy=-0.09, rz=0.2, lf=(0.0, 0.0, 0.2), rf=(0.0, 0.0, 0.2), hpitch=0.2),
       K(dy=-0.04, rz=0.1, lf=(0.0, 0.0, 0.2), twist=0.2, lh=(0.1, -0.3, 0.3), rh=(-0.15, -0.4, -0.2))),
)

BALLET: tuple[Move, ...] = (
    _m("port_de_bras",
       K(**sym(0.1, -0.45, 0.15), lelb=0.5, relb=0.5, hpitch=0.15, dy=-0.07),
       K(**sym(0.12, -0.22, 0.32), lelb=0.6, relb=0.6, hpitch=0.05, pitch=0.12),
       K(**sym(0.5, -0.05, 0.08), lelb=0.3, relb=0.3, hyaw=0.35, rx=0.05, roll=0.12),
       K(**sym(0.1, 0.5, 0.08), lelb=0.5, relb=0.5, hpitch=-0.3, pitch=-0.15, dy=0.01),
       K(**sym(0.5, 0.0, 0.05), lelb=0.3, relb=0.3, hyaw=-0.35, rx=-0.05, roll=-0.14),
       K(**sym(0.14, -0.35, 0.2), lelb=0.5, relb=0.5, pitch=0.25, hpitch=0.2, dy=-0.05),
       knees_out=0.5),
    _m("balance",
       K(rx=0.1, dy=-0.08, lf=(0.2, 0.0, 0.0), roll=0.12, lh=(0.5, -0.05, 0.1), rh=(-0.12, -0.25, 0.3), hyaw=0.35),
       K(rx=0.08, dy=0.0, lf=(0.2, 0.0, 0.0), rf=(0.12, 0.04, -0.05), roll=0.08, lh=(0.5, 0.05, 0.1), rh=(-0.12, -0.2, 0.3)),
       K(rx=0.1, dy=-0.02, lf=(0.2, 0.0, 0.0), rf=(0.05, 0.0, 0.0), roll=0.05, lh=(0.45, 0.0, 0.1), rh=(-0.15, -0.25, 0.28)),
       K(rx=-0.1, dy=-0.08, rf=(-0.2, 0.0, 0.0), roll=-0.12, rh=(-0.5, -0.05, 0.1), lh=(0.12, -0.25, 0.3), hyaw=-0.35),
       K(rx=-0.08, dy=0.0, rf=(-0.2, 0.0, 0.0), lf=(-0.12, 0.04, -0.05), roll=-0.08, rh=(-0.5, 0.05, 0.1), lh=(0.12, -0.2, 0.3)),
       K(rx=-0.1, dy=-0.02, rf=(-0.2, 0.0, 0.0), lf=(-0.05, 0.0, 0.0), roll=-0.05, rh=(-0.45, 0.0, 0.1), lh=(0.15, -0.25, 0.28)),
       knees_out=0.5),
    _m("arabesque",
       K(rx=0.06, **sym(0.12, -0.25, 0.3), lelb=0.5, relb=0.5),
       K(rx=0.1, rf=(0.0, 0.12, -0.25), pitch=0.15, lh=(0.05, 0.1, 0.45), rh=(-0.45, 0.0, 0.0)),
       K(rx=0.11, rf=(0.02, 0.35, -0.45), pitch=0.38, lh=(0.05, 0.25, 0.5), rh=(-0.5, 0.05, -0.1), hpitch=-0.3),
       K(rx=0.11, rf=(0.02, 0.4, -0.45), pitch=0.42, lh=(0.05, 0.3, 0.5), rh=(-0.5, 0.1, -0.1), hpitch=-0.35),
       K(rx=0.1, rf=(0.0, 0.15, -0.2), pitch=0.15, lh=(0.3, -0.05, 0.3), rh=(-0.35, -0.1, 0.1)),
       K(rx=0.05, dy=-0.06, **sym(0.12, -0.35, 0.22), lelb=0.5, relb=0.5),
       knees_out=0.4),
    _m("pirouette",
       K(rx=0.0, dy=-0.1, lf=(-0.11, 0.0, 0.02), **sym(0.12, -0.22, 0.32), lelb=0.6, relb=0.6),
       K(rx=0.0, dy=0.0, lf=(-0.11, 0.04, 0.02), rf=(0.12, 0.38, 0.08), yaw=TAU / 2, fyaw=TAU / 2,
         **sym(0.1, -0.15, 0.3), lelb=0.8, relb=0.8),
       K(rx=0.0, dy=-0.05, lf=(-0.11, 0.0, 0.02), rf=(0.0, 0.06, 0.02), yaw=TAU, fyaw=TAU,
         **sym(0.5, 0.0, 0.05), hpitch=-0.1),
       travel=(0.0, 0.0, TAU), knees_out=0.6),
    _m("tendu",
       K(**sym(0.5, -0.02, 0.05), lelb=0.3, relb=0.3),
       K(rx=0.04, rf=(0.0, 0.06, 0.38), **sym(0.5, 0.0, 0.05), hyaw=-0.2),
       K(**sym(0.5, -0.02, 0.05), lelb=0.3, relb=0.3, dy=-0.06),
       K(rx=0.05, rf=(-0.35, 0.06, 0.0), roll=0.08, **sym(0.5, 0.0, 0.05), hyaw=-0.4),
       K(**sym(0.5, -0.02, 0.05), lelb=0.3, relb=0.3, dy=-0.06),
       K(rx=0.05, rf=(0.0, 0.08, -0.38), pitch=0.1, lh=(0.1, 0.5, 0.08), rh=(-0.5, 0.0, 0.05)),
       knees_out=0.5),
    _m("plie_releve",
       K(dy=-0.16, **sym(0.14, -0.25, 0.3), lelb=0.6, relb=0.6, hpitch=0.15),
       K(dy=0.03, lf=(0.0, 0.06, 0.0), rf=(0.0, 0.06, 0.0), **sym(0.1, 0.5, 0.06), hpitch=-0.2),
       K(dy=-0.02, **sym(0.5, -0.02, 0.05), lelb=0.3, relb=0.3),
       knees_out=0.7),
)

POPPING: tuple[Move, ...] = (
    _m("fresno",
       K(rx=0.06, lf=(0.12, 0.0, 0.0), roll=-0.12, lh=(0.3, 0.26, 0.0), lelb=1.3, rh=(-0.12, -0.3, 0.18), hyaw=0.4),
       K(dy=-0.05, **sym(0.12, -0.3, 0.18), pitch=0.08),
       K(rx=-0.06, rf=(-0.12, 0.0, 0.0), roll=0.12, rh=(-0.3, 0.26, 0.0), relb=1.3, lh=(0.12, -0.3, 0.18), hyaw=-0.4),
       K(dy=-0.05, **sym(0.12, -0.3, 0.18), pitch=0.08)),
    _m("robot",
       K(lh=(0.12, -0.28, 0.28), rh=(-0.2, 0.08, 0.18), relb=1.2, twist=0.3, hyaw=0.5),
       K(dy=-0.04, lh=(0.12, -0.28, 0.28), rh=(-0.12, -0.28, 0.28), twist=0.0, hyaw=0.0, pitch=0.1),
       K(rh=(-0.12, -0.28, 0.28), lh=(0.2, 0.08, 0.18), lelb=1.2, twist=-0.3, hyaw=-0.5),
       K(dy=-0.04, **sym(0.12, -0.28, 0.28), pitch=0.1)),
    _m("arm_wave",
       K(lh=(0.52, 0.08, 0.0), rh=(-0.12, 0.0, 0.15), relb=1.2, roll=0.1, hroll=0.2),
       K(lh=(0.45, 0.0, 0.1), rh=(-0.45, 0.0, 0.1), lelb=0.6, relb=0.6, dy=-0.03),
       K(rh=(-0.52, 0.08, 0.0), lh=(0.12, 0.0, 0.15), lelb=1.2, roll=-0.1, hroll=-0.2),
       K(lh=(0.45, 0.0, 0.1), rh=(-0.45, 0.0, 0.1), lelb=0.6, relb=0.6, dy=-0.03)),
    _m("dime_stop",
       K(**sym(0.15, -0.25, 0.2)),
       K(rx=0.06, lf=(0.25, 0.0, 0.0), lh=(0.45, -0.1, 0.1), rh=(0.1, -0.2, 0.3), twist=-0.2, hyaw=0.6),
       K(rx=0.25, lf=(0.25, 0.0, 0.0), rf=(0.25, 0.0, 0.0), dy=-0.04, **sym(0.15, -0.25, 0.2), pitch=0.18),
       K(rx=0.25, lf=(0.25, 0.0, 0.0), rf=(0.25, 0.0, 0.0), dy=-0.02, **sym(0.1, -0.35, 0.25), pitch=-0.05,
         hpitch=0.2),
       travel=(0.25, 0.0, 0.0)),
    _m("tick_hits",
       K(dy=-0.07, rf=(0.0, 0.06, 0.08), pitch=0.14, **sym(0.1, -0.2, 0.3), lelb=0.9, relb=0.9),
       K(dy=-0.01, **sym(0.16, -0.36, 0.14), pitch=-0.04, hpitch=0.15)),
    _m("boogaloo",
       K(rx=0.06, dy=-0.05, roll=0.15, **sym(0.2, -0.3, 0.12)),
       K(rz=0.05, dy=-0.08, pitch=0.12, **sym(0.15, -0.25, 0.2), hroll=0.2),
       K(rx=-0.06, dy=-0.05, roll=-0.15, **sym(0.2, -0.3, 0.12)),
       K(rz=-0.05, dy=-0.02, pitch=-0.12, **sym(0.15, -0.35, 0.05), hroll=-0.2)),
)

VOCABULARY: dict[str, tuple[Move, ...]] = {
    "house": HOUSE,
    "hiphop": HIPHOP,
    "ballet": BALLET,
    "popping": POPPING,
}
