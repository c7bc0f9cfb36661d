"""BVH files of the rig in model/rotations.py, carrying exactly the rotations it sends."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from model.rotations import (
    BONES,
    END_SITES,
    NUM_BONES,
    REST_OFFSETS,
    quat_to_matrix,
    solve_rotations,
)
from model.skeleton import NUM_JOINTS

BVH_CM = 100.0
"""File units per metre in the BVH files written here (centimetres, as Mixamo/Blender)."""


def write_rig_bvh(path: str | Path, poses: np.ndarray, *, fps: float) -> Path:
    """Write COCO-17 poses [shape=(t, 17, 3)] (metres, y up) as a BVH of this rig, in
    centimetres, with the same local rotations ``RigSolver`` sends over OSC/WebSocket
    (as ``Zrotation Xrotation Yrotation`` degrees, local matrix Rz @ Rx @ Ry). The five
    joints the torso stretch moves (Neck, the clavicles, LeftArm, RightArm) also carry
    position channels (their stretched offsets), so that any BVH reader that honours
    them (Blender does; ``model.bvh.read_bvh`` does) gets the joints back exactly.
    Written to a temporary name first and renamed."""
    from model.importers.rotations import euler_zxy

    p = np.asarray(poses, dtype=np.float64)
    if p.ndim != 3 or p.shape[1:] != (NUM_JOINTS, 3) or p.shape[0] < 1:
        raise ValueError(f"poses must have shape (t, {NUM_JOINTS}, 3), got {p.shape}")
    if not np.isfinite(p).all():
        raise ValueError("poses contain NaN or infinite values")
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    m = solve_rotations(p)
    t = p.shape[0]
    eul = euler_zxy(quat_to_matrix(m.quats).reshape(-1, 3, 3)).reshape(t, NUM_BONES, 3)
    eul = np.unwrap(eul, axis=0, period=360.0)
    cols: list[np.ndarray] = []
    lines = ["HIERARCHY"]
    children: dict[int, list[int]] = {}
    for i, b in enumerate(BONES):
        children.setdefault(b.parent, []).append(i)
    rot_chans = "Zrotation Xrotation Yrotation"

    def emit(i: int, depth: int) -> None:
        b = BONES[i]
        pad = "  " * depth
        lines.append(f"{pad}{'ROOT' if b.parent < 0 else 'JOINT'} {b.name}")
        lines.append(pad + "{")
        lines.append(f"{pad}  OFFSET {_fmt(REST_OFFSETS[i] * BVH_CM)}")
        if b.parent < 0:
            lines.append(f"{pad}  CHANNELS 6 Xposition Yposition Zposition {rot_chans}")
            cols.append(m.root * BVH_CM)
        elif b.stretch >= 0:
            lines.append(f"{pad}  CHANNELS 6 Xposition Yposition Zposition {rot_chans}")
            cols.append(REST_OFFSETS[i] * BVH_CM * m.stretch[:, b.stretch: b.stretch + 1])
        else:
            lines.append(f"{pad}  CHANNELS 3 {rot_chans}")
        cols.append(eul[:, i])
        for c in children.get(i, []):
            emit(c, depth + 1)
        if b.name in END_SITES:
            lines.extend([f"{pad}  End Site", pad + "  {",
                          f"{pad}    OFFSET {_fmt(np.asarray(END_SITES[b.name]) * BVH_CM)}", pad + "  }"])
        lines.append(pad + "}")

    emit(0, 0)
    lines += ["MOTION", f"Frames: {t}", f"Frame Time: {1.0 / fps:.8f}"]
    motion = np.concatenate(cols, axis=1)
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "w", encoding="ascii", newline="\n") as f:
            f.write("\n".join(lines) + "\n")
            np.savetxt(f, motion, fmt="%.6f")
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _fmt(v: np.ndarray) -> str:
    return " ".join(f"{x:.6f}" for x in v)
