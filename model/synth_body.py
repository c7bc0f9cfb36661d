"""Pose geometry of the synthetic choreographer: world-frame body parameters -> COCO-17.

``build_poses`` takes, per frame, the root (mid-hip) position on the stage, the facing,
torso and head angles, hand targets relative to the shoulders in the torso frame, elbow
flare, and the two ankle targets in world coordinates, and returns poses whose bones
have exactly the canonical lengths (model/skeleton.py). Legs and arms are solved by
two-bone inverse kinematics; an ankle target that the leg can reach is met exactly,
which is what keeps a planted foot still. x is the dancer's left at facing 0, y up,
z toward the audience, metres, radians.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model.skeleton import (
    ANKLE_HEIGHT,
    CANONICAL_BONE_LENGTHS,
    STANDING_ROOT_HEIGHT,
    project_to_lengths,
    rest_pose,
)

_REST = rest_pose()
SHOULDER = _REST[5].astype(np.float64)  # left shoulder relative to the root
NECK = 0.5 * (_REST[5] + _REST[6]).astype(np.float64)
HEAD = (_REST[:5] - NECK).astype(np.float64)  # nose, eyes, ears relative to the neck
ANKLE_REST = np.array([_REST[15, 0], _REST[15, 2]], dtype=np.float64)  # left ankle x, z at rest
L_THIGH, L_SHIN = float(CANONICAL_BONE_LENGTHS[13]), float(CANONICAL_BONE_LENGTHS[15])
L_UPPER, L_FORE = float(CANONICAL_BONE_LENGTHS[7]), float(CANONICAL_BONE_LENGTHS[9])
HIP_HALF = float(_REST[11, 0])
LEG_REACH = 0.985 * (L_THIGH + L_SHIN)
"""How far the hip may be from a supporting ankle (a leg is never locked quite straight)."""
STAND = STANDING_ROOT_HEIGHT
__all__ = ["ANKLE_HEIGHT", "Body", "build_poses", "hip_positions", "rot", "two_bone_ik", "yaw_xz"]


def rot(axis: str, a: np.ndarray) -> np.ndarray:
    """Rotation matrices [shape=(t, 3, 3)] about x, y or z by angles a [shape=(t,)]."""
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    if axis == "x":
        m = [[o, z, z], [z, c, -s], [z, s, c]]
    elif axis == "y":
        m = [[c, z, s], [z, o, z], [-s, z, c]]
    else:
        m = [[c, -s, z], [s, c, z], [z, z, o]]
    return np.moveaxis(np.array(m), (0, 1), (-2, -1))


def _apply(r: np.ndarray, v: np.ndarray) -> np.ndarray:
    return np.einsum("tij,tj->ti", r, np.broadcast_to(v, (len(r), 3)))


def yaw_xz(yaw: np.ndarray, x: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rotate stage vectors (x, z) by the facing ``yaw`` (about +y)."""
    c, s = np.cos(yaw), np.sin(yaw)
    return x * c + z * s, -x * s + z * c


def two_bone_ik(a: np.ndarray, target: np.ndarray, l1: float, l2: float,
                pole: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Middle and end joint of a two-bone chain from ``a`` toward ``target``, bending
    toward ``pole``. All [shape=(t, 3)]; the end is the target when reachable, else the
    nearest reachable point on the line to it. Bone lengths are exact."""
    d_vec = target - a
    d = np.linalg.norm(d_vec, axis=-1, keepdims=True)
    u = d_vec / np.maximum(d, 1e-9)
    dc = np.clip(d, abs(l1 - l2) + 1e-4, (l1 + l2) * 0.9999)
    x = (l1 * l1 - l2 * l2 + dc * dc) / (2.0 * dc)
    h = np.sqrt(np.maximum(l1 * l1 - x * x, 0.0))
    pp = pole - np.sum(pole * u, axis=-1, keepdims=True) * u
    n = np.linalg.norm(pp, axis=-1, keepdims=True)
    alt = np.cross(u, np.array([1.0, 0.0, 0.0]))
    alt = alt / np.maximum(np.linalg.norm(alt, axis=-1, keepdims=True), 1e-9)
    pp = np.where(n > 1e-6, pp / np.maximum(n, 1e-9), alt)
    return a + x * u + h * pp, a + dc * u


def hip_positions(root_xz: np.ndarray, yaw: np.ndarray) -> np.ndarray:
    """Left and right hip (x, z) [shape=(t, 2, 2)] for root (x, z) [shape=(t, 2)]."""
    hx, hz = yaw_xz(yaw, np.full_like(yaw, HIP_HALF), np.zeros_like(yaw))
    off = np.stack([hx, hz], axis=1)
    return np.stack([root_xz + off, root_xz - off], axis=1)


@dataclass
class Body:
    """Per-frame body parameters (t frames).

    root: [t, 3] mid-hip in the world; yaw: [t] facing; torso: [t, 3] pitch (forward),
    roll (toward the dancer's right), twist; head: [t, 3] pitch, yaw, roll relative to
    the torso; hands: [t, 2, 3] left/right hand targets from the shoulder in the torso
    frame; elbows: [t, 2] flare; feet: [t, 2, 3] left/right ankle targets in the world;
    knees: [t] knee flare (outward turn of the knees).
    """

    root: np.ndarray
    yaw: np.ndarray
    torso: np.ndarray
    head: np.ndarray
    hands: np.ndarray
    elbows: np.ndarray
    feet: np.ndarray
    knees: np.ndarray


def build_poses(b: Body) -> np.ndarray:
    """Poses [shape=(t, 17, 3)] float32 with exact bone lengths from body parameters."""
    t = len(b.yaw)
    ry = rot("y", b.yaw)
    root = b.root
    out = np.zeros((t, 17, 3))
    for j, sign in ((11, 1.0), (12, -1.0)):
        out[:, j] = root + _apply(ry, np.array([sign * HIP_HALF, 0.0, 0.0]))
    for k, (sign, kj, aj) in enumerate(((1.0, 13, 15), (-1.0, 14, 16))):
        flare = b.knees[:, None]
        pole = _apply(ry, np.array([0.0, 0.0, 1.0])) + flare * _apply(ry, np.array([sign, 0.0, 0.0]))
        out[:, kj], out[:, aj] = two_bone_ik(out[:, 11 + k], b.feet[:, k], L_THIGH, L_SHIN, pole)
    rs = ry @ rot("y", b.torso[:, 2]) @ rot("x", b.torso[:, 0]) @ rot("z", -b.torso[:, 1])
    sh_l = root + _apply(rs, SHOULDER)
    sh_r = root + _apply(rs, SHOULDER * np.array([-1.0, 1.0, 1.0]))
    out[:, 5], out[:, 6] = sh_l, sh_r
    neck = root + _apply(rs, NECK)
    rh = rs @ rot("y", b.head[:, 1]) @ rot("x", b.head[:, 0]) @ rot("z", -b.head[:, 2])
    out[:, :5] = neck[:, None, :] + np.einsum("tij,kj->tki", rh, HEAD)
    for k, (sh, sign, ej, wj) in enumerate(((sh_l, 1.0, 7, 9), (sh_r, -1.0, 8, 10))):
        target = sh + np.einsum("tij,tj->ti", rs, b.hands[:, k])
        pole_local = np.stack([sign * (0.25 + b.elbows[:, k]), np.full(t, -0.5), np.full(t, -0.6)], axis=1)
        pole = np.einsum("tij,tj->ti", rs, pole_local)
        out[:, ej], out[:, wj] = two_bone_ik(sh, target, L_UPPER, L_FORE, pole)
    return project_to_lengths(out.astype(np.float32))
