"""Helpers shared by the importers: frame-rate conversion, floor and centring, gap filling,
clip ids, and input checks that fail with one line before anything is written."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from model.errors import DatasetError
from model.skeleton import ANKLE_HEIGHT, FEET, JOINT_INDEX, NUM_JOINTS, root_of


def resample(values: np.ndarray, *, src_fps: float, dst_fps: float) -> np.ndarray:
    """Linear interpolation in time of [shape=(t, ...)] from ``src_fps`` to ``dst_fps``.

    Output frame k sits at time k / dst_fps; frames past the last input time are dropped.
    Equal rates return a copy; 60 -> 30 keeps every other frame exactly."""
    v = np.asarray(values)
    if abs(src_fps - dst_fps) < 1e-9:
        return v.copy()
    duration = (len(v) - 1) / src_fps
    n_out = int(np.floor(duration * dst_fps + 1e-9)) + 1
    pos = np.arange(n_out) * (src_fps / dst_fps)
    lo = np.minimum(np.floor(pos + 1e-9).astype(int), len(v) - 1)
    hi = np.minimum(lo + 1, len(v) - 1)
    w = (pos - lo).reshape(-1, *([1] * (v.ndim - 1)))
    w = np.where(w < 1e-9, 0.0, w)
    return ((1.0 - w) * v[lo] + w * v[hi]).astype(v.dtype)


def put_on_floor(poses: np.ndarray, *, center: bool = True) -> np.ndarray:
    """Shift poses [shape=(t, 17, 3)] so the feet stand on y = 0 (the low 2 % of ankle
    heights at ANKLE_HEIGHT) and, with ``center``, the mean root is at x = z = 0."""
    p = np.array(poses, dtype=np.float32)
    feet = p[:, list(FEET), 1].min(axis=1)
    p[..., 1] += ANKLE_HEIGHT - float(np.percentile(feet, 2))
    if center:
        mean = root_of(p).mean(axis=0)
        p[..., 0] -= mean[0]
        p[..., 2] -= mean[2]
    return p


def make_upright(poses: np.ndarray) -> np.ndarray:
    """Turn poses [shape=(t, 17, 3)] a half turn about x when the head is below the feet
    (a y-down source), which keeps left and right where they were."""
    p = np.asarray(poses, dtype=np.float32)
    head = p[:, JOINT_INDEX["nose"], 1]
    feet = p[:, list(FEET), 1].mean(axis=1)
    if np.nanmedian(head - feet) < 0:
        p = p * np.array([1.0, -1.0, -1.0], dtype=np.float32)
    return p


def fill_gaps(valid: np.ndarray, *, max_gap: int) -> list[tuple[int, int]]:
    """Segments [start, stop) to keep from a per-frame ``valid`` mask: runs of invalid
    frames up to ``max_gap`` long inside a segment are bridged (to be interpolated),
    longer runs split it; leading and trailing invalid frames are cut."""
    idx = np.flatnonzero(np.asarray(valid, dtype=bool))
    if idx.size == 0:
        return []
    segments = []
    start = prev = int(idx[0])
    for i in idx[1:]:
        i = int(i)
        if i - prev - 1 > max_gap:
            segments.append((start, prev + 1))
            start = i
        prev = i
    segments.append((start, prev + 1))
    return segments


def interpolate_missing(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Linear interpolation over time of the frames where ``valid`` is False
    ([shape=(t, ...)]; edges take the nearest valid frame)."""
    v = np.array(values, dtype=np.float32)
    ok = np.asarray(valid, dtype=bool)
    if ok.all() or not ok.any():
        return v
    t = np.arange(len(v))
    flat = v.reshape(len(v), -1)
    for c in range(flat.shape[1]):
        flat[~ok, c] = np.interp(t[~ok], t[ok], flat[ok, c])
    return flat.reshape(v.shape)


_BAD_ID = re.compile(r"[^A-Za-z0-9_.-]+")


def clip_id(name: str) -> str:
    """A dataset clip id from a file name (letters, digits, '_', '-', '.')."""
    cid = _BAD_ID.sub("_", name).strip("._-") or "clip"
    return cid[:128]


def existing_file(path: str | Path, what: str) -> Path:
    """``path`` as a Path when it is a readable file, else DatasetError in one line."""
    p = Path(path)
    if not p.is_file():
        raise DatasetError(f"{what} {p} does not exist; check the path")
    return p


def check_poses(poses: np.ndarray, what: str) -> np.ndarray:
    """float32 [shape=(t >= 2, 17, 3)] or DatasetError in one line naming ``what``."""
    p = np.asarray(poses)
    if p.ndim != 3 or p.shape[1:] != (NUM_JOINTS, 3) or len(p) < 2:
        raise DatasetError(f"{what}: poses have shape {tuple(p.shape)}, expected (frames >= 2, 17, 3)")
    return p.astype(np.float32)


def unique_ids(names: list[str]) -> list[str]:
    """Clip ids for ``names``, made unique with -2, -3, ... suffixes."""
    out: list[str] = []
    seen: dict[str, int] = {}
    for n in names:
        base = clip_id(n)
        k = seen.get(base, 0) + 1
        seen[base] = k
        out.append(base if k == 1 else f"{base}-{k}")
    return out
