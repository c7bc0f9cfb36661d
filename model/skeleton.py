"""The COCO-17 skeleton: joint names and order, bones, canonical bone lengths, mirror map.

Conventions: 3D, metres, y up, +z toward the audience, +x to the dancer's left (so the
audience sees the dancer's left on screen right). Root = mid-hip (not a joint of its
own). Model space = joints relative to the root plus the root trajectory.

COCO-17 has no neck or pelvis joint, so the head hangs off a virtual *neck* (mid-point
of the shoulders) and hips and shoulders hang off the virtual *root* (mid-hip).
"""

from __future__ import annotations

import numpy as np

JOINT_NAMES: tuple[str, ...] = (
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
)
NUM_JOINTS = len(JOINT_NAMES)
JOINT_INDEX: dict[str, int] = {n: i for i, n in enumerate(JOINT_NAMES)}

ROOT = -1
"""Parent id of joints that hang off the virtual root (mid-hip)."""
NECK = -2
"""Parent id of joints that hang off the virtual neck (mid-shoulder)."""

# Parent of each joint, in a kinematic tree rooted at mid-hip.
PARENTS: tuple[int, ...] = (
    NECK,  # nose
    0,  # left_eye <- nose
    0,  # right_eye <- nose
    1,  # left_ear <- left_eye
    2,  # right_ear <- right_eye
    11,  # left_shoulder <- left_hip
    12,  # right_shoulder <- right_hip
    5,  # left_elbow
    6,  # right_elbow
    7,  # left_wrist
    8,  # right_wrist
    ROOT,  # left_hip
    ROOT,  # right_hip
    11,  # left_knee
    12,  # right_knee
    13,  # left_ankle
    14,  # right_ankle
)

# Order in which joints can be placed (parents first; the neck comes after both shoulders).
TOPOLOGICAL_ORDER: tuple[int, ...] = (11, 12, 13, 14, 15, 16, 5, 6, 7, 8, 9, 10, 0, 1, 2, 3, 4)

# Bones to draw (pairs of joint indices); includes the shoulder and hip lines.
BONES: tuple[tuple[int, int], ...] = (
    (5, 7), (7, 9), (6, 8), (8, 10),  # arms
    (11, 13), (13, 15), (12, 14), (14, 16),  # legs
    (5, 6), (11, 12), (5, 11), (6, 12),  # torso
    (0, 1), (0, 2), (1, 3), (2, 4),  # head
)

MIRROR: tuple[int, ...] = (0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15)
"""MIRROR[j] is the joint that j becomes when the pose is mirrored left/right."""

LEFT_FOOT = JOINT_INDEX["left_ankle"]
RIGHT_FOOT = JOINT_INDEX["right_ankle"]
FEET = (LEFT_FOOT, RIGHT_FOOT)

ANKLE_HEIGHT = 0.08
"""Height of the ankle joint above the floor when standing, metres."""

# A neutral standing pose, root-relative (mid-hip at the origin), metres.
_REST = np.array(
    [
        [0.00, 0.62, 0.10],  # nose
        [0.035, 0.66, 0.08],  # left_eye
        [-0.035, 0.66, 0.08],  # right_eye
        [0.08, 0.64, 0.02],  # left_ear
        [-0.08, 0.64, 0.02],  # right_ear
        [0.18, 0.50, 0.0],  # left_shoulder
        [-0.18, 0.50, 0.0],  # right_shoulder
        [0.22, 0.21, 0.0],  # left_elbow
        [-0.22, 0.21, 0.0],  # right_elbow
        [0.24, -0.06, 0.03],  # left_wrist
        [-0.24, -0.06, 0.03],  # right_wrist
        [0.10, 0.0, 0.0],  # left_hip
        [-0.10, 0.0, 0.0],  # right_hip
        [0.11, -0.45, 0.01],  # left_knee
        [-0.11, -0.45, 0.01],  # right_knee
        [0.11, -0.88, -0.02],  # left_ankle
        [-0.11, -0.88, -0.02],  # right_ankle
    ],
    dtype=np.float32,
)


def _parent_positions(pose: np.ndarray, j: int) -> np.ndarray:
    p = PARENTS[j]
    if p == ROOT:
        return 0.5 * (pose[..., 11, :] + pose[..., 12, :])
    if p == NECK:
        return 0.5 * (pose[..., 5, :] + pose[..., 6, :])
    return pose[..., p, :]


def bone_lengths(poses: np.ndarray) -> np.ndarray:
    """Length of each joint's bone to its parent.

    poses: [shape=(..., 17, 3)] -> [shape=(..., 17)] metres.
    """
    poses = np.asarray(poses, dtype=np.float32)
    out = np.empty(poses.shape[:-1], dtype=np.float32)
    for j in range(NUM_JOINTS):
        out[..., j] = np.linalg.norm(poses[..., j, :] - _parent_positions(poses, j), axis=-1)
    return out


CANONICAL_BONE_LENGTHS: np.ndarray = bone_lengths(_REST)
"""Canonical length of each joint's bone to its parent (metres), from the rest pose."""

STANDING_ROOT_HEIGHT = float(-_REST[LEFT_FOOT, 1] + ANKLE_HEIGHT)
"""Height of the mid-hip above the floor in the rest pose, metres."""


def rest_pose(*, on_floor: bool = False) -> np.ndarray:
    """The neutral standing pose [shape=(17, 3)], root at the origin or, with
    ``on_floor=True``, lifted so that the ankles stand ANKLE_HEIGHT above y = 0."""
    pose = _REST.copy()
    if on_floor:
        pose[:, 1] += STANDING_ROOT_HEIGHT
    return pose


def root_of(poses: np.ndarray) -> np.ndarray:
    """Mid-hip position: [shape=(..., 17, 3)] -> [shape=(..., 3)]."""
    poses = np.asarray(poses)
    return 0.5 * (poses[..., 11, :] + poses[..., 12, :])


def mirror(poses: np.ndarray) -> np.ndarray:
    """Mirror left/right: swap left and right joints and negate x. [shape=(..., 17, 3)]."""
    poses = np.asarray(poses)
    out = poses[..., MIRROR, :].copy()
    out[..., 0] *= -1.0
    return out


def bone_length_error(poses: np.ndarray, lengths: np.ndarray | None = None) -> float:
    """Mean relative bone-length error against ``lengths`` (default canonical)."""
    ref = CANONICAL_BONE_LENGTHS if lengths is None else np.asarray(lengths)
    measured = bone_lengths(poses)
    return float(np.mean(np.abs(measured - ref) / ref))


def project_to_lengths(
    poses: np.ndarray, lengths: np.ndarray | None = None, *, out: np.ndarray | None = None
) -> np.ndarray:
    """Put each bone back to its canonical length while keeping its direction.

    Joints are placed parents first from the mid-hip root, so the root stays where it
    was. poses: [shape=(..., 17, 3)]; ``out`` may be a preallocated array of that shape
    (it may not alias ``poses``). Degenerate (zero-length) bones keep the rest direction.
    """
    poses = np.asarray(poses, dtype=np.float32)
    ref = CANONICAL_BONE_LENGTHS if lengths is None else np.asarray(lengths, dtype=np.float32)
    if out is None:
        out = np.empty_like(poses)
    root = root_of(poses)
    for j in TOPOLOGICAL_ORDER:
        p = PARENTS[j]
        if p == ROOT:
            parent_new = root
            parent_old = root
        elif p == NECK:
            parent_new = 0.5 * (out[..., 5, :] + out[..., 6, :])
            parent_old = 0.5 * (poses[..., 5, :] + poses[..., 6, :])
        else:
            parent_new = out[..., p, :]
            parent_old = poses[..., p, :]
        d = poses[..., j, :] - parent_old
        n = np.linalg.norm(d, axis=-1, keepdims=True)
        rest_d = _REST[j] - _parent_positions(_REST, j)
        rest_d = rest_d / np.linalg.norm(rest_d)
        unit = np.where(n > 1e-8, d / np.maximum(n, 1e-8), rest_d)
        out[..., j, :] = parent_new + unit * ref[j]
    return out
