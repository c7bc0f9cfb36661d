"""COCO-17 skeleton helpers."""

from __future__ import annotations

import numpy as np

from model import skeleton as sk


def test_names_and_tables_agree() -> None:
    assert sk.NUM_JOINTS == 17 and len(sk.PARENTS) == 17 and len(sk.MIRROR) == 17
    assert sk.JOINT_NAMES[0] == "nose" and sk.JOINT_NAMES[16] == "right_ankle"
    for j, m in enumerate(sk.MIRROR):
        assert sk.MIRROR[m] == j
        a, b = sk.JOINT_NAMES[j], sk.JOINT_NAMES[m]
        assert a.replace("left", "X").replace("right", "X") == b.replace("left", "X").replace("right", "X")


def test_mirror_is_an_involution_and_rest_pose_is_symmetric() -> None:
    rng = np.random.default_rng(0)
    p = rng.normal(size=(5, 17, 3)).astype(np.float32)
    np.testing.assert_allclose(sk.mirror(sk.mirror(p)), p)
    np.testing.assert_allclose(sk.mirror(sk.rest_pose()), sk.rest_pose(), atol=1e-7)


def test_canonical_lengths_are_human() -> None:
    L = dict(zip(sk.JOINT_NAMES, sk.CANONICAL_BONE_LENGTHS))
    assert 0.35 < L["left_knee"] < 0.55 and 0.2 < L["left_elbow"] < 0.4
    assert 0.85 < sk.STANDING_ROOT_HEIGHT < 1.1
    assert abs(sk.rest_pose(on_floor=True)[sk.FEET, 1] - sk.ANKLE_HEIGHT).max() < 1e-6


def test_projection_fixes_lengths_keeps_directions_and_root() -> None:
    rng = np.random.default_rng(1)
    p = sk.rest_pose()[None] + rng.normal(scale=0.05, size=(20, 17, 3)).astype(np.float32)
    q = sk.project_to_lengths(p)
    assert sk.bone_length_error(p) > 0.05
    assert sk.bone_length_error(q) < 1e-5
    np.testing.assert_allclose(sk.root_of(q), sk.root_of(p), atol=1e-6)
    # direction of the left shin is kept
    d0 = p[:, 15] - p[:, 13]
    d1 = q[:, 15] - q[:, 13]
    cos = (d0 * d1).sum(-1) / np.linalg.norm(d0, axis=-1) / np.linalg.norm(d1, axis=-1)
    assert cos.min() > 0.9999


def test_projection_into_preallocated_out_and_degenerate_bones() -> None:
    p = np.zeros((17, 3), np.float32)
    out = np.empty_like(p)
    q = sk.project_to_lengths(p, out=out)
    assert q is out and np.isfinite(q).all()
    assert sk.bone_length_error(q) < 1e-5
