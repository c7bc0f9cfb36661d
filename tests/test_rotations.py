"""Rig rotations (model/rotations.py): rest pose, FK round trip, no sign flips, swing-twist,
the BVH that carries them, and the OSC /rot messages."""

from __future__ import annotations

import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from live.frame import Frame
from live.osc import FrameEncoder, parse_datagram, timetag_to_unix
from model import rotations as rot
from model.bvh import read_bvh
from model.importers.bvh_map import bvh_to_coco
from model.rig_bvh import write_rig_bvh
from model.skeleton import JOINT_INDEX, project_to_lengths, rest_pose

J = JOINT_INDEX
ROOT = Path(__file__).resolve().parents[1]


def _axis(axis: int, deg: float) -> np.ndarray:
    a = np.radians(deg)
    c, s = np.cos(a), np.sin(a)
    i, k = [(1, 2), (2, 0), (0, 1)][axis]
    m = np.eye(3)
    m[i, i] = m[k, k] = c
    m[i, k], m[k, i] = -s, s
    return m


def _turn(p: np.ndarray, joints: list[str], pivot: np.ndarray, r: np.ndarray) -> None:
    idx = [J[n] for n in joints]
    p[idx] = (p[idx] - pivot) @ r.T + pivot


def _dance(t_count: int = 240, seed: int = 0) -> np.ndarray:
    """Canonical bones, a torso that is not rigid, two full turns, limbs and head moving."""
    rng = np.random.default_rng(seed)
    out = np.empty((t_count, 17, 3))
    wobble = rng.normal(0, 0.02, (17, 3))
    for t in range(t_count):
        a = 2 * np.pi * t / t_count
        p = rest_pose(on_floor=True).astype(np.float64) + np.sin(3 * a) * wobble
        p = project_to_lengths(p.astype(np.float32)).astype(np.float64)
        _turn(p, ["left_elbow", "left_wrist"], p[J["left_shoulder"]], _axis(0, -150 * np.sin(a)))
        _turn(p, ["left_wrist"], p[J["left_elbow"]], _axis(0, -100 * np.sin(2 * a) ** 2))
        _turn(p, ["right_elbow", "right_wrist"], p[J["right_shoulder"]], _axis(2, -170 * np.sin(a) ** 2))
        _turn(p, ["left_knee", "left_ankle"], p[J["left_hip"]], _axis(0, -80 * np.sin(a) ** 2))
        _turn(p, ["left_ankle"], p[J["left_knee"]], _axis(0, 120 * np.sin(a) ** 2))
        neck = 0.5 * (p[J["left_shoulder"]] + p[J["right_shoulder"]])
        face = ["nose", "left_eye", "right_eye", "left_ear", "right_ear"]
        _turn(p, face, neck, _axis(1, 60 * np.sin(3 * a)) @ _axis(0, 25 * np.cos(a)))
        root = 0.5 * (p[J["left_hip"]] + p[J["right_hip"]])
        _turn(p, list(J), root, _axis(1, 720.0 * t / t_count) @ _axis(0, 20 * np.sin(a)))
        out[t] = p + [0.4 * np.sin(a), 0.0, 0.3 * np.cos(a)]
    return out


def _check_motion(poses: np.ndarray, m: rot.RigMotion) -> tuple[float, float]:
    back = rot.rig_to_coco(rot.forward_kinematics(m))
    err = float(np.linalg.norm(back - poses, axis=-1).max())
    norms = np.linalg.norm(m.quats, axis=-1)
    assert np.abs(norms - 1.0).max() < 1e-9
    dots = np.sum(m.quats[1:] * m.quats[:-1], axis=-1)
    return err, float(dots.min())


def test_rest_pose_is_identity_rotations_and_unit_stretch() -> None:
    s = rot.RigSolver()
    q = s.solve(rest_pose())
    assert np.abs(q - [1.0, 0.0, 0.0, 0.0]).max() < 1e-9
    assert np.allclose(s.stretch, 1.0) and np.allclose(s.root, 0.0, atol=1e-7)
    assert len(rot.BONE_NAMES) == rot.NUM_BONES == 25 and rot.BONE_PARENTS[0] == -1
    assert all(p < i for i, p in enumerate(rot.BONE_PARENTS))  # parents first
    assert np.allclose(rot.rig_to_coco(rot.REST_POSITIONS[None])[0], rest_pose(), atol=1e-7)


def test_fk_round_trip_is_exact_and_quaternions_never_flip_through_turns() -> None:
    poses = _dance()
    m = rot.solve_rotations(poses)
    err, min_dot = _check_motion(poses, m)
    assert err < 1e-3, f"FK off by {err * 1000:.3f} mm"
    assert min_dot > 0.0, "a quaternion flipped sign between frames"
    # without the torso stretch a rig still lands within a couple of centimetres
    loose = rot.rig_to_coco(rot.forward_kinematics(m, stretch=False))
    assert np.linalg.norm(loose - poses, axis=-1).max() < 0.03


def test_limbs_are_swing_twist_the_elbow_stays_a_hinge() -> None:
    s = rot.RigSolver()
    arm, fore = rot.BONE_NAMES.index("LeftArm"), rot.BONE_NAMES.index("LeftForeArm")
    for twist in (0.0, 40.0, 80.0):
        p = rest_pose().astype(np.float64)
        sh = p[J["left_shoulder"]].copy()
        _turn(p, ["left_wrist"], p[J["left_elbow"]], _axis(0, -90.0))  # bend the elbow forward
        axis_dir = (p[J["left_elbow"]] - sh) / np.linalg.norm(p[J["left_elbow"]] - sh)
        k = np.array([[0, -axis_dir[2], axis_dir[1]], [axis_dir[2], 0, -axis_dir[0]],
                      [-axis_dir[1], axis_dir[0], 0]])
        a = np.radians(twist)
        r = np.eye(3) + np.sin(a) * k + (1 - np.cos(a)) * k @ k  # turn the arm about itself
        _turn(p, ["left_elbow", "left_wrist"], sh, r)
        q = s.solve(p.astype(np.float32))
        # the upper arm takes the twist, the forearm turns about one fixed hinge axis
        angle = 2 * np.degrees(np.arctan2(float(q[arm, 1:] @ axis_dir), float(q[arm, 0])))
        v = q[fore, 1:] / np.linalg.norm(q[fore, 1:])
        if twist == 0.0:
            hinge, base = v, angle
            assert abs(angle) < 10.0
        else:
            assert angle == pytest.approx(twist + base, abs=6.0)
        assert abs(float(v @ hinge)) > 0.99
        assert abs(float(v[0])) > 0.95  # about the arm's sideways (x) axis


def test_solver_reuses_its_buffers_per_frame() -> None:
    s = rot.RigSolver()
    poses = _dance(40).astype(np.float32)
    q0 = s.solve(poses[0])
    tracemalloc.start()
    for p in poses:
        assert s.solve(p) is q0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 64 * 1024, f"{peak} bytes allocated at peak while solving"


def test_bvh_carries_the_same_rotations_and_reimports_within_a_millimetre(tmp_path: Path) -> None:
    poses = _dance(120, seed=1)
    path = write_rig_bvh(tmp_path / "d.bvh", poses, fps=30)
    bvh = read_bvh(path)
    assert bvh.names == list(rot.BONE_NAMES) and bvh.fps == pytest.approx(30.0)
    back = bvh_to_coco(bvh)
    assert np.linalg.norm(back - poses, axis=-1).max() < 1e-3
    # the file's local rotations are the solver's quaternions
    from model.importers.rotations import axis_rotation

    m = rot.solve_rotations(poses)
    col = 6
    for i, b in enumerate(rot.BONES[1:], 1):
        col += 3 if len(bvh.channels[i]) == 6 else 0
        z, x, y = (bvh.motion[:, col + k] for k in range(3))
        col += 3
        mat = axis_rotation(2, z) @ axis_rotation(0, x) @ axis_rotation(1, y)
        assert np.abs(mat - rot.quat_to_matrix(m.quats[:, i])).max() < 1e-4, b.name
    assert not list(tmp_path.glob(".*.tmp"))


def test_osc_rot_messages_carry_the_quaternions_in_whole_messages_under_1472_bytes() -> None:
    enc = FrameEncoder(messages=("pose", "joints", "beat", "tempo", "frame", "rot"), max_datagram=1472)
    s = rot.RigSolver()
    joints = _dance(8)[5].astype(np.float32)
    q = s.solve(joints).astype(np.float32)
    f = Frame(index=5, t=0.2, wall=1_700_000_000.25, joints=joints, beat=True, beat_in_bar=2,
              bar=1, tempo=97.0, beat_wall=1_700_000_000.26, rot=q)
    grams = [bytes(g) for g in enc.encode(f)]
    assert all(len(g) <= 1472 for g in grams) and len(grams) >= 2
    got: dict[str, list[float]] = {}
    for g in grams:
        msgs = parse_datagram(g, max_messages=128)
        tt = timetag_to_unix(*np.frombuffer(g[8:16], ">u4").tolist())
        addrs = [a for a, _ in msgs]
        want = f.beat_wall if "/dancemuse/beat" in addrs else f.wall
        assert tt == pytest.approx(want, abs=1e-6)  # the beat's bundle is stamped with the beat
        got.update({a: v for a, v in msgs})
    for i, name in enumerate(rot.BONE_NAMES):
        assert np.allclose(got[f"/dancemuse/rot/{name}"], q[i], atol=1e-7)
    assert "/dancemuse/rot/Hips" not in FrameEncoder().addresses()  # opt-in


@pytest.mark.slow
def test_ten_minutes_of_generated_dance_round_trip_through_fk_and_bvh(tmp_path: Path) -> None:
    npz, bvh = tmp_path / "d.npz", tmp_path / "d.bvh"
    r = subprocess.run([sys.executable, "-m", "live.cli", "generate", "demo", "--demo-seconds", "600",
                        "-o", str(npz), "-o", str(bvh)], cwd=ROOT, capture_output=True, text=True, timeout=1200)
    assert r.returncode == 0, r.stderr[-2000:]
    poses = np.load(npz)["poses"].astype(np.float64)
    assert len(poses) >= 600 * 30
    m = rot.solve_rotations(poses)
    err, min_dot = _check_motion(poses, m)
    back = bvh_to_coco(read_bvh(bvh))
    bvh_err = float(np.linalg.norm(back - poses, axis=-1).max())
    print(f"{len(poses)} frames: FK max error {err * 1000:.4f} mm, BVH re-import max error "
          f"{bvh_err * 1000:.4f} mm, min quaternion dot between frames {min_dot:.4f}")
    assert err < 1e-3 and bvh_err < 1e-3 and min_dot > 0.0


def test_websocket_rotations_are_opt_in_at_connect_in_json_and_binary() -> None:
    import json

    from live import wsproto

    plain = json.loads(wsproto.hello(fps=30, model={}, controls={}, fmt="json"))
    assert "rotations" not in plain and plain["binary_layout"][-1] == "joints*51"
    h = json.loads(wsproto.hello(fps=30, model={}, controls={}, fmt="binary+rot"))
    assert h["format"] == "binary" and h["binary_layout"][-1] == "rot*100"
    assert h["rotations"]["bones"] == list(rot.BONE_NAMES) and h["rotations"]["order"] == "wxyz"
    joints = _dance(8)[3].astype(np.float32)
    q = rot.RigSolver().solve(joints).astype(np.float32)
    f = Frame(index=3, t=0.1, wall=1.0, joints=joints, rot=q)
    assert "rot" not in json.loads(wsproto.frame_json(f))
    assert np.allclose(json.loads(wsproto.frame_json(f, rot=True))["rot"], q.reshape(-1), atol=1e-6)
    data = wsproto.BinaryFrameEncoder(rot=True).encode(f)
    assert len(data) == 636
    back = wsproto.decode_binary(data)
    assert np.array_equal(back["rot"], q) and np.allclose(back["joints"], joints)
