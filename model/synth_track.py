"""From planned key tracks to per-frame body parameters (model/synth_dance.py).

``solve_lower`` walks the lower keys in time and turns them into world positions: the
stance centre travels (bounded to ``BASE_RADIUS`` from the centre of the stage) and
turns; every foot is either placed (world position from the stance frame) or held, and a
held foot keeps its exact world position. ``frames`` interpolates both tracks at the
frames' beat positions with the keys' easing and returns a model.synth_body.Body: the
root height is capped so that every foot on the floor is reached (a planted ankle is met
exactly by the leg IK), stepping feet lift in an arc, jumps raise the root and the feet
hang from it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model.synth_body import ANKLE_HEIGHT, ANKLE_REST, HIP_HALF, LEG_REACH, STAND, Body, yaw_xz
from model.synth_moves import LO, UP

BASE_RADIUS = 1.0
"""The stance centre never travels further than this from the centre of the stage (m)."""
JUMP_HEIGHT = 0.16
"""Root rise at the top of a jump at amplitude 1 (m)."""
HIPS_BACK = 0.35
"""How far the hips move back per metre of knee bend."""
EASES = ("smooth", "flow", "hit", "snap", "smooth2", "flow2", "hit2", "snap2")
"""Easings; a "2" variant runs the easing twice between two keys (half-time dancing keeps a
slow point on every beat)."""


def ease(phi: np.ndarray, kind: str | np.ndarray) -> np.ndarray:
    """Progress 0..1 between two keys for the fraction ``phi`` in [0, 1] of the way; the
    speed is lowest at the keys. ``kind``: one of EASES or an array of their indices."""
    if not isinstance(kind, str):
        out = np.empty_like(phi)
        for i, name in enumerate(EASES):
            sel = kind == i
            if sel.any():
                out[sel] = ease(phi[sel], name)
        return out
    if kind.endswith("2"):
        w2 = 2.0 * phi
        k = np.minimum(np.floor(w2), 1.0)
        return 0.5 * (k + ease(w2 - k, kind[:-1]))
    if kind == "smooth":
        return phi * phi * (3.0 - 2.0 * phi)
    if kind == "flow":
        return phi - 0.9 * np.sin(2.0 * np.pi * phi) / (2.0 * np.pi)
    if kind in ("hit", "snap"):  # hold, then a fast move that stops just before the key
        a, w = (0.56, 0.4) if kind == "hit" else (0.3, 0.55)
        s = np.clip((phi - a) / w, 0.0, 1.0)
        return s * s * (3.0 - 2.0 * s)
    raise ValueError(f"unknown easing {kind!r}")


@dataclass
class LowerKeys:
    """Solved lower keys (K keys): times in beats, stance centre [K, 3] (x, z, yaw), feet
    [K, 2, 2] world (x, z), lift [K, 2], dy, shift [K, 2], knees, air, ease index."""

    t: np.ndarray
    base: np.ndarray
    feet: np.ndarray
    lift: np.ndarray
    dy: np.ndarray
    shift: np.ndarray
    knees: np.ndarray
    air: np.ndarray
    ease: np.ndarray


def _rest_foot(side: int) -> np.ndarray:
    return np.array([ANKLE_REST[0] * (1.0 if side == 0 else -1.0), ANKLE_REST[1]])


def solve_lower(times: np.ndarray, keys: np.ndarray, eases: np.ndarray) -> LowerKeys:
    """World positions of the lower keys [shape=(K, LO.DIM)] at ``times`` (beats)."""
    k_n = len(keys)
    base = np.zeros((k_n, 3))
    feet = np.zeros((k_n, 2, 2))
    lift = np.zeros((k_n, 2))
    x = z = yaw = 0.0
    cur = np.stack([_rest_foot(0), _rest_foot(1)])
    for i, k in enumerate(keys):
        gx, gz = yaw_xz(np.array(yaw), np.array(k[LO.GOX]), np.array(k[LO.GOZ]))
        nx, nz = x + float(gx), z + float(gz)
        if np.hypot(nx, nz) <= BASE_RADIUS or np.hypot(nx, nz) < np.hypot(x, z):
            x, z = nx, nz
        yaw += float(k[LO.TURN])
        for s, sl in ((0, LO.LF), (1, LO.RF)):
            f = k[sl]
            held = bool(np.isnan(f[0]))
            if held:
                # A held foot that the body has left behind, or that would cross the
                # other leg after a turn, steps back under its hip.
                bx, bz = yaw_xz(np.array(-yaw), np.array(cur[s, 0] - x), np.array(cur[s, 1] - z))
                lat = float(bx) * (1.0 if s == 0 else -1.0)
                dev = np.hypot(float(bx) - _rest_foot(s)[0], float(bz) - _rest_foot(s)[1])
                if lat < -0.04 or dev > 0.42:
                    f = np.zeros(3)
                    held = False
            if held:
                lift[i, s] = 0.0
            else:
                local = _rest_foot(s) + np.array([f[0], f[2]])
                wx, wz = yaw_xz(np.array(yaw), np.array(local[0]), np.array(local[1]))
                cur[s] = (x + float(wx), z + float(wz))
                lift[i, s] = max(0.0, float(f[1]))
            feet[i, s] = cur[s]
        base[i] = (x, z, yaw)
    return LowerKeys(t=np.asarray(times, np.float64), base=base, feet=feet, lift=lift, dy=keys[:, LO.DY].copy(),
                     shift=keys[:, [LO.SHX, LO.SHZ]].copy(), knees=keys[:, LO.KNEES].copy(),
                     air=keys[:, LO.AIR].copy(), ease=np.asarray(eases))


def _segments(t: np.ndarray, b: np.ndarray, eases: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Key index i (segment i -> i + 1) and eased progress for frame beat positions b."""
    i = np.clip(np.searchsorted(t, b, side="right") - 1, 0, max(len(t) - 2, 0))
    if len(t) < 2:
        return i, np.zeros_like(b)
    phi = np.clip((b - t[i]) / np.maximum(t[i + 1] - t[i], 1e-9), 0.0, 1.0)
    return i, ease(phi, eases[i + 1])


def lower_frames(lk: LowerKeys, b: np.ndarray, amp: np.ndarray, *, extra_dy: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Root [n, 3], yaw [n], feet [n, 2, 3] (ankle targets), knees [n] and planted [n, 2]
    (the ankle is held on the floor) at beats b; ``extra_dy`` is added to the level."""
    i, e = _segments(lk.t, b, lk.ease)
    j = np.minimum(i + 1, len(lk.t) - 1)
    e1 = e[:, None]

    def lerp(a: np.ndarray) -> np.ndarray:
        return a[i] + e.reshape(-1, *([1] * (a.ndim - 1))) * (a[j] - a[i])

    base = lerp(lk.base)
    dy, shift, knees, air = lerp(lk.dy), lerp(lk.shift), lerp(lk.knees), lerp(lk.air)
    yaw = base[:, 2]
    sx, sz = yaw_xz(yaw, shift[:, 0], shift[:, 1])
    root = np.stack([base[:, 0] + sx, np.zeros_like(yaw), base[:, 1] + sz], axis=1)
    feet = np.zeros((len(b), 2, 3))
    lift = np.zeros((len(b), 2))
    planted = np.zeros((len(b), 2), bool)
    for s in (0, 1):
        w0, w1 = lk.feet[i, s], lk.feet[j, s]
        planted[:, s] = (np.abs(w1 - w0).max(axis=1) == 0.0) & (lk.lift[i, s] == 0.0) & (lk.lift[j, s] == 0.0)
        xz = w0 + e1 * (w1 - w0)
        dist = np.hypot(*(w1 - w0).T)
        clear = np.where(dist > 0.005, np.minimum(0.13, 0.04 + 0.3 * dist), 0.0)
        lift[:, s] = lk.lift[i, s] + e * (lk.lift[j, s] - lk.lift[i, s]) + clear * np.sin(np.pi * e)
        feet[:, s, 0], feet[:, s, 2] = xz[:, 0], xz[:, 1]
    airborne = (lk.air[i] > 0) | (lk.air[j] > 0)
    level = dy + (0.0 if extra_dy is None else extra_dy)
    depth = np.maximum(-level, 0.0)
    bx, bz = yaw_xz(yaw, np.zeros_like(yaw), -HIPS_BACK * depth)  # hips sit back in a knee bend
    root[:, 0] += bx
    root[:, 2] += bz
    y = STAND + level + JUMP_HEIGHT * amp * air
    hx, hz = yaw_xz(yaw, np.full_like(yaw, HIP_HALF), np.zeros_like(yaw))
    for s, sign in ((0, 1.0), (1, -1.0)):
        horiz = np.hypot(feet[:, s, 0] - (root[:, 0] + sign * hx), feet[:, s, 2] - (root[:, 2] + sign * hz))
        reach_y = np.sqrt(np.maximum(LEG_REACH**2 - np.minimum(horiz, LEG_REACH * 0.999) ** 2, 0.0))
        ymax = ANKLE_HEIGHT + lift[:, s] + reach_y
        y = np.where(airborne, y, np.minimum(y, ymax))
    for s, sign in ((0, 1.0), (1, -1.0)):  # in a jump the feet hang from the hips
        horiz = np.hypot(feet[:, s, 0] - (root[:, 0] + sign * hx), feet[:, s, 2] - (root[:, 2] + sign * hz))
        reach_y = np.sqrt(np.maximum(LEG_REACH**2 - np.minimum(horiz, LEG_REACH * 0.999) ** 2, 0.0))
        lift[:, s] = np.where(airborne, np.maximum(lift[:, s], y - ANKLE_HEIGHT - reach_y), lift[:, s])
    root[:, 1] = y
    feet[:, :, 1] = ANKLE_HEIGHT + lift
    planted &= lift == 0.0
    return {"root": root, "yaw": yaw, "feet": feet, "knees": knees, "planted": planted, "depth": depth}


def upper_frames(t: np.ndarray, keys: np.ndarray, eases: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Upper parameters [shape=(n, UP.DIM)] at beats b."""
    i, e = _segments(t, b, eases)
    j = np.minimum(i + 1, len(t) - 1)
    return keys[i] + e[:, None] * (keys[j] - keys[i])


def body(lower: dict[str, np.ndarray], up: np.ndarray) -> Body:
    """Assemble the Body of model.synth_body from the two tracks' frames."""
    return Body(root=lower["root"], yaw=lower["yaw"], torso=up[:, [UP.PITCH, UP.ROLL, UP.TWIST]],
                head=up[:, [UP.HPITCH, UP.HYAW, UP.HROLL]], hands=np.stack([up[:, UP.LH], up[:, UP.RH]], axis=1),
                elbows=up[:, [UP.LELB, UP.RELB]], feet=lower["feet"], knees=lower["knees"])
