"""BVH files of the rig in model/rotations.py, carrying exactly the rotations it sends."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from model.bvh import CM, ROTATION_ORDER, BvhJoint, check_poses, write_joints
from model.rotations import (
    BONES,
    END_SITES,
    NUM_BONES,
    REST_OFFSETS,
    quat_to_matrix,
    solve_rotations,
)

BVH_CM = CM
"""File units per metre in the BVH files written here (centimetres, as Mixamo/Blender)."""


def write_rig_bvh(path: str | Path, poses: np.ndarray, *, fps: float) -> Path:
    """Write COCO-17 poses [shape=(t, 17, 3)] (metres, y up) as a BVH of this rig, in
    centimetres, with the same local rotations ``RigSolver`` sends over OSC/WebSocket
    (as ``Zrotation Xrotation Yrotation`` degrees, local matrix Rz @ Rx @ Ry). The five
    joints the torso stretch moves (Neck, the clavicles, LeftArm, RightArm) also carry
    position channels (their stretched offsets), so that any BVH reader that honours
    them (Blender does; ``model.bvh.read_bvh`` does) gets the joints back exactly.
    Written to a temporary name first and renamed (``model.bvh.write_joints``)."""
    from model.importers.rotations import euler_zxy

    p = check_poses(poses, fps=fps)
    m = solve_rotations(p)
    t = p.shape[0]
    eul = euler_zxy(quat_to_matrix(m.quats).reshape(-1, 3, 3)).reshape(t, NUM_BONES, 3)
    eul = np.unwrap(eul, axis=0, period=360.0)
    with_position = ("Xposition", "Yposition", "Zposition", *ROTATION_ORDER)
    joints: list[BvhJoint] = []
    motion: list[np.ndarray] = []
    for i, b in enumerate(BONES):
        end = np.asarray(END_SITES[b.name]) * BVH_CM if b.name in END_SITES else None
        offset = REST_OFFSETS[i] * BVH_CM
        if b.parent < 0:
            position: np.ndarray | None = m.root * BVH_CM
        elif b.stretch >= 0:
            position = offset * m.stretch[:, b.stretch: b.stretch + 1]
        else:
            position = None
        joints.append(BvhJoint(b.name, b.parent, offset, ROTATION_ORDER if position is None else with_position, end))
        motion.append(eul[:, i] if position is None else np.concatenate([position, eul[:, i]], axis=1))
    return write_joints(path, joints, motion, fps=fps, decimals=6)
