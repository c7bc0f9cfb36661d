"""Rotation helpers for the BVH writer and reader (numpy, batched over frames)."""

from __future__ import annotations

import numpy as np


def axis_rotation(axis: int, degrees: np.ndarray) -> np.ndarray:
    """Rotation matrices about x (0), y (1) or z (2): [shape=(t,)] degrees -> [shape=(t, 3, 3)]."""
    a = np.radians(np.asarray(degrees, dtype=np.float64))
    c, s = np.cos(a), np.sin(a)
    out = np.zeros((a.shape[0], 3, 3))
    i, k = [(1, 2), (2, 0), (0, 1)][axis]
    out[:, axis, axis] = 1.0
    out[:, i, i] = c
    out[:, k, k] = c
    out[:, i, k] = -s
    out[:, k, i] = s
    return out


def unit(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.maximum(n, 1e-12)


def least_aligned_axis(v: np.ndarray) -> np.ndarray:
    out = np.zeros_like(v)
    out[np.arange(v.shape[0]), np.argmin(np.abs(v), axis=-1)] = 1.0
    return out


def swing(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Smallest rotations turning unit vectors ``a`` onto ``b``: [shape=(t, 3)] x2 ->
    [shape=(t, 3, 3)] (a half turn about a perpendicular axis when they are opposite)."""
    v = np.cross(a, b)
    c = np.sum(a * b, axis=-1)
    k = np.zeros((a.shape[0], 3, 3))
    k[:, 0, 1], k[:, 0, 2], k[:, 1, 2] = -v[:, 2], v[:, 1], -v[:, 0]
    k[:, 1, 0], k[:, 2, 0], k[:, 2, 1] = v[:, 2], -v[:, 1], v[:, 0]
    opposite = c < -1.0 + 1e-9
    denom = np.where(opposite, 1.0, 1.0 + c)[:, None, None]
    r = np.eye(3) + k + (k @ k) / denom
    if opposite.any():
        ao = a[opposite]
        u = unit(np.cross(ao, least_aligned_axis(ao)))
        r[opposite] = 2.0 * u[:, :, None] * u[:, None, :] - np.eye(3)
    return r


def frame_from(primary: np.ndarray, secondary: np.ndarray) -> np.ndarray:
    """Orthonormal frames [shape=(t, 3, 3)] whose first column is along ``primary`` and
    second column toward ``secondary`` (a fallback axis where the two are parallel)."""
    x = unit(primary)
    y = secondary - np.sum(secondary * x, axis=-1, keepdims=True) * x
    weak = np.linalg.norm(y, axis=-1) < 1e-6 * np.maximum(np.linalg.norm(secondary, axis=-1), 1e-12)
    if weak.any():
        alt = least_aligned_axis(x[weak])
        y[weak] = alt - np.sum(alt * x[weak], axis=-1, keepdims=True) * x[weak]
    y = unit(y)
    return np.stack([x, y, np.cross(x, y)], axis=-1)


def kabsch(rest: np.ndarray, posed: np.ndarray) -> np.ndarray:
    """Rotations best mapping rest vectors [shape=(k, 3)] onto posed [shape=(t, k, 3)]."""
    h = np.einsum("ki,tkj->tij", rest, posed)
    u, _, vt = np.linalg.svd(h)
    d = np.sign(np.linalg.det(np.transpose(vt, (0, 2, 1)) @ np.transpose(u, (0, 2, 1))))
    d = np.where(d == 0, 1.0, d)
    fix = np.broadcast_to(np.eye(3), h.shape).copy()
    fix[:, 2, 2] = d
    return np.transpose(vt, (0, 2, 1)) @ fix @ np.transpose(u, (0, 2, 1))


def euler_zxy(m: np.ndarray) -> np.ndarray:
    """Degrees (z, x, y) with m = Rz @ Rx @ Ry: [shape=(t, 3, 3)] -> [shape=(t, 3)]."""
    x = np.arcsin(np.clip(m[:, 2, 1], -1.0, 1.0))
    z = np.arctan2(-m[:, 0, 1], m[:, 1, 1])
    y = np.arctan2(-m[:, 2, 0], m[:, 2, 2])
    return np.degrees(np.stack([z, x, y], axis=-1))
