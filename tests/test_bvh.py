"""BVH writer and reader: round trips, rotation orders, rigs by name, bad files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from model.bvh import axis_rotation, guess_unit, read_bvh, write_bvh
from model.errors import DatasetError
from model.importers.bvh_map import bvh_to_coco, load_override, resolve_mapping
from model.skeleton import JOINT_INDEX, project_to_lengths, rest_pose

J = JOINT_INDEX


def _rot(axis: int, deg: float) -> np.ndarray:
    return axis_rotation(axis, np.array([deg]))[0]


def _rotate(pose: np.ndarray, joints: list[str], pivot: np.ndarray, r: np.ndarray) -> None:
    idx = [J[n] for n in joints]
    pose[idx] = (pose[idx] - pivot) @ r.T + pivot


def _dance(t_count: int = 90) -> np.ndarray:
    """Known poses: a rigid torso that turns, bends and travels; arms, legs and head swing."""
    out = np.empty((t_count, 17, 3), dtype=np.float64)
    for t in range(t_count):
        a = 2 * np.pi * t / t_count
        p = rest_pose(on_floor=True).astype(np.float64)
        # left arm up and forward, elbow bending; right arm out to the side
        _rotate(p, ["left_elbow", "left_wrist"], p[J["left_shoulder"]], _rot(0, -120 * np.sin(a)))
        _rotate(p, ["left_wrist"], p[J["left_elbow"]], _rot(0, -70 * (1 + np.sin(2 * a)) / 2))
        _rotate(p, ["right_elbow", "right_wrist"], p[J["right_shoulder"]], _rot(2, -80 * np.sin(a) ** 2))
        # knee lift and bend on the left, a kick on the right
        _rotate(p, ["left_knee", "left_ankle"], p[J["left_hip"]], _rot(0, -60 * np.sin(a) ** 2))
        _rotate(p, ["left_ankle"], p[J["left_knee"]], _rot(0, 90 * np.sin(a) ** 2))
        _rotate(p, ["right_knee", "right_ankle"], p[J["right_hip"]], _rot(0, 30 * np.cos(a)))
        # head turns and nods around the neck
        neck = 0.5 * (p[J["left_shoulder"]] + p[J["right_shoulder"]])
        face = ["nose", "left_eye", "right_eye", "left_ear", "right_ear"]
        _rotate(p, face, neck, _rot(1, 50 * np.sin(3 * a)) @ _rot(0, 20 * np.cos(a)))
        # the whole upper body leans over the hips
        root = 0.5 * (p[J["left_hip"]] + p[J["right_hip"]])
        upper = ["left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist",
                 "right_wrist", *face]
        _rotate(p, upper, root, _rot(2, 25 * np.sin(a)) @ _rot(0, 15 * np.cos(2 * a)))
        # the whole body turns more than a full circle, tilts and travels
        all_joints = list(J)
        _rotate(p, all_joints, root, _rot(1, 400 * t / t_count) @ _rot(2, 10 * np.sin(a)))
        p += np.array([0.5 * np.sin(a), 0.1 * np.sin(4 * a), 2.0 * t / t_count])
        out[t] = p
    return out


def test_known_poses_round_trip_to_the_same_coco_positions(tmp_path: Path) -> None:
    poses = _dance()
    path = write_bvh(tmp_path / "dance.bvh", poses, fps=30)
    bvh = read_bvh(path)
    assert bvh.n_frames == len(poses) and bvh.fps == pytest.approx(30.0)
    back = bvh_to_coco(bvh)
    err = np.linalg.norm(back - poses, axis=-1)
    assert err.max() < 1e-3, f"max error {err.max() * 1000:.3f} mm at joint {err.max(0).argmax()}"


def test_any_canonical_pose_keeps_exact_legs_and_posed_arm_directions(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    noisy = rest_pose(on_floor=True)[None] + rng.normal(0, 0.05, (40, 17, 3)).astype(np.float32)
    poses = project_to_lengths(noisy)  # canonical bones, but a torso that is not rigid
    back = bvh_to_coco(read_bvh(write_bvh(tmp_path / "a.bvh", poses, fps=60)))
    legs = [J[n] for n in ("left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle")]
    assert np.abs(back[:, legs] - poses[:, legs]).max() < 1e-3
    for side in ("left", "right"):
        s, e, w = (J[f"{side}_{n}"] for n in ("shoulder", "elbow", "wrist"))
        for a, b in ((s, e), (e, w)):
            want = poses[:, b] - poses[:, a]
            got = back[:, b] - back[:, a]
            cos = np.sum(want * got, -1) / np.linalg.norm(want, axis=-1) / np.linalg.norm(got, axis=-1)
            assert cos.min() > 1 - 1e-6
        # the wrist is off by no more than the shoulder is (errors do not pile up)
        err_s = np.linalg.norm(back[:, s] - poses[:, s], axis=-1)
        err_w = np.linalg.norm(back[:, w] - poses[:, w], axis=-1)
        assert np.all(err_w <= err_s + 1e-3)
        assert err_s.max() < 0.15


def test_written_file_is_a_well_formed_centimetre_rig(tmp_path: Path) -> None:
    path = write_bvh(tmp_path / "r.bvh", np.repeat(rest_pose(on_floor=True)[None], 3, 0), fps=30)
    text = path.read_text()
    assert text.startswith("HIERARCHY\nROOT Hips\n")
    assert "CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation" in text
    assert "Frames: 3" in text and "Frame Time: 0.03333333" in text
    bvh = read_bvh(path)
    assert len(bvh.names) == 23 and bvh.parents[0] == -1
    assert np.allclose(bvh.offsets[bvh.index("LeftUpLeg")], [10.0, 0.0, 0.0])
    assert set(bvh.end_sites) == {bvh.index(n) for n in ("LeftFoot", "RightFoot", "LeftHand",
                                                           "RightHand", "LeftEar", "RightEar")}
    assert bvh.motion.shape == (3, 6 + 22 * 3)
    assert guess_unit(bvh) == 0.01
    assert not list(tmp_path.glob(".*.tmp"))


def test_write_refuses_bad_shapes_and_nan(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="shape"):
        write_bvh(tmp_path / "x.bvh", np.zeros((4, 16, 3)), fps=30)
    bad = np.repeat(rest_pose()[None], 2, 0)
    bad[1, 3, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        write_bvh(tmp_path / "x.bvh", bad, fps=30)
    for fps in (0.0, float("nan")):  # a NaN frame rate would write "Frame Time: nan"
        with pytest.raises(ValueError, match="fps"):
            write_bvh(tmp_path / "x.bvh", bad[:1], fps=fps)
    assert not (tmp_path / "x.bvh").exists()


_TWO_JOINTS = """HIERARCHY
ROOT base
{{
  OFFSET 0 0 0
  CHANNELS 5 Zposition Xposition Yposition {order}
  JOINT tip
  {{
    OFFSET 0 0 10
    CHANNELS 3 Xposition Yposition Zposition
    End Site
    {{
      OFFSET 0 5 0
    }}
  }}
}}
MOTION
Frames: 2
Frame Time: 0.0166667
3 1 2 90 90 0 0 10
3 1 2 0 0 1 2 3
"""


@pytest.mark.parametrize(
    ("order", "expected"),
    [("Yrotation Xrotation", [1.0, -8.0, 3.0]),  # Ry(90) @ Rx(90) @ (0,0,10) = (0,-10,0)
     ("Xrotation Yrotation", [11.0, 2.0, 3.0])],  # Rx(90) @ Ry(90) @ (0,0,10) = (10,0,0)
)
def test_reader_applies_channels_in_file_order(tmp_path: Path, order: str, expected: list[float]) -> None:
    path = tmp_path / "two.bvh"
    path.write_text(_TWO_JOINTS.format(order=order))
    bvh = read_bvh(path)
    assert bvh.fps == pytest.approx(60.0, rel=1e-4)
    assert bvh.end_sites[1] == pytest.approx([0, 5, 0])
    pos = bvh.positions()
    assert pos[0, 0] == pytest.approx([1.0, 2.0, 3.0])  # Zposition first in the channel list
    assert pos[0, 1] == pytest.approx(expected, abs=1e-9)  # position channels replace OFFSET
    assert pos[1, 1] == pytest.approx([2.0, 4.0, 6.0])


def _renamed(src: Path, dst: Path, renames: list[tuple[str, str]]) -> Path:
    text = src.read_text()
    for a, b in renames:
        text = text.replace(f"JOINT {a}\n", f"JOINT {b}\n").replace(f"ROOT {a}\n", f"ROOT {b}\n")
    dst.write_text(text)
    return dst


def test_mixamo_rokoko_and_override_rigs_map_by_name(tmp_path: Path) -> None:
    poses = _dance(30)
    ours = write_bvh(tmp_path / "ours.bvh", poses, fps=30)
    names = [n for n in read_bvh(ours).names]
    face = {"Nose": "Face", "LeftEar": "A", "RightEar": "B"}
    mixamo = _renamed(ours, tmp_path / "mixamo.bvh",
                      [(n, face.get(n, f"mixamorig:{n}")) for n in names])
    rig, _ = resolve_mapping(read_bvh(mixamo))
    assert rig == "mixamo"
    got = bvh_to_coco(read_bvh(mixamo))
    body = [J[n] for n in J if n not in ("nose", "left_eye", "right_eye", "left_ear", "right_ear")]
    assert np.abs(got[:, body] - poses[:, body]).max() < 1e-3
    # Mixamo's eyes map by name; nose and ears are placed on the head joint
    assert np.abs(got[:, J["left_eye"]] - poses[:, J["left_eye"]]).max() < 1e-3
    assert np.linalg.norm(got[:, J["nose"]] - poses[:, J["nose"]], axis=-1).max() < 0.1

    rokoko = _renamed(ours, tmp_path / "rokoko.bvh", [
        ("LeftLeg", "LeftShin"), ("RightLeg", "RightShin"),
        ("LeftUpLeg", "LeftThigh"), ("RightUpLeg", "RightThigh"),
        ("Nose", "Face"), ("LeftEye", "A"), ("RightEye", "B"), ("LeftEar", "C"), ("RightEar", "D")])
    rig, _ = resolve_mapping(read_bvh(rokoko))
    assert rig == "rokoko"
    assert np.abs(bvh_to_coco(read_bvh(rokoko))[:, body] - poses[:, body]).max() < 1e-3

    odd = _renamed(ours, tmp_path / "odd.bvh", [("LeftUpLeg", "thigh_L"), ("LeftLeg", "calf_L")])
    with pytest.raises(DatasetError, match=r"left_hip, left_knee.*--map"):
        bvh_to_coco(read_bvh(odd))
    map_file = tmp_path / "map.json"
    map_file.write_text(json.dumps({"left_hip": "thigh_L", "left_knee": "calf_L"}))
    fixed = bvh_to_coco(read_bvh(odd), override=load_override(map_file))
    assert np.abs(fixed - poses).max() < 1e-3


def test_bad_joint_map_files_say_what_to_fix(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="no such joint map"):
        load_override(tmp_path / "none.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"left_hipp": "X"}')
    with pytest.raises(DatasetError, match="unknown keys"):
        load_override(bad)


def test_unit_is_guessed_from_the_rest_height(tmp_path: Path) -> None:
    path = tmp_path / "m.bvh"
    path.write_text(_TWO_JOINTS.format(order="Xrotation Yrotation").replace("OFFSET 0 0 10", "OFFSET 0 1.7 0"))
    assert guess_unit(read_bvh(path)) == 1.0


@pytest.mark.parametrize(
    ("cut", "message"),
    [(0.9, "truncated"), (0.2, "no MOTION section"), (0.05, "no MOTION section")],
)
def test_truncated_files_give_one_clear_line(tmp_path: Path, cut: float, message: str) -> None:
    full = write_bvh(tmp_path / "full.bvh", _dance(20), fps=30).read_text()
    path = tmp_path / "cut.bvh"
    path.write_text(full[: int(len(full) * cut)])
    with pytest.raises(DatasetError, match=message) as e:
        read_bvh(path)
    assert "\n" not in str(e.value) and "cut.bvh" in str(e.value)


def test_unbalanced_hierarchy_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "h.bvh"
    path.write_text(_TWO_JOINTS.format(order="Xrotation Yrotation").replace("  }\n}\nMOTION", "MOTION"))
    with pytest.raises(DatasetError, match="unclosed"):
        read_bvh(path)
    with pytest.raises(DatasetError, match="no such BVH file"):
        read_bvh(tmp_path / "missing.bvh")
