"""`dancemuse dataset import bvh`: takes + song -> dataset clips; bad inputs -> one line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from test_bvh import _dance

from model.bvh import write_bvh
from model.dataset import check_dataset, load_poses, read_manifest
from model.errors import DatasetError
from model.importers.bvh_import import import_bvh
from model.skeleton import CANONICAL_BONE_LENGTHS, bone_lengths, root_of


def run_cli(argv: list[str]) -> int:
    """Run the real `dancemuse` entry point (errors -> one line on stderr, status 2)."""
    from live.cli import main

    return main(argv)


@pytest.fixture()
def song(tmp_path: Path) -> Path:
    path = tmp_path / "song.wav"
    t = np.arange(24000 * 4) / 24000
    sf.write(path, 0.2 * np.sin(2 * np.pi * 220 * t), 24000)
    return path


def test_bvh_take_becomes_a_clean_clip_at_the_configured_fps(tmp_path: Path, song: Path, capsys) -> None:
    poses = _dance(120)  # 2 s at 60 fps
    take = write_bvh(tmp_path / "take1.bvh", poses, fps=60)
    out = tmp_path / "ds"
    assert run_cli(["dataset", "import", "bvh", str(take), "--audio", str(song), "--style", "house",
                    "--out", str(out), "--licence", "own take"]) == 0
    assert "imported 1 clip" in capsys.readouterr().out
    assert check_dataset(out) == []
    (clip,) = read_manifest(out)["clips"]
    assert clip["style"] == "house" and clip["fps"] == 30 and clip["rig"] == "dancemuse"
    got = load_poses(out / clip["poses"])["poses"]
    assert got.shape == (60, 17, 3)
    # same dance, every other frame, shifted onto the floor and centred only
    want = poses[::2]
    rel_got = got - root_of(got)[:, None]
    rel_want = want - root_of(want)[:, None]
    assert np.abs(rel_got - rel_want).max() < 1e-3
    assert np.allclose(np.diff(root_of(got), axis=0), np.diff(root_of(want), axis=0), atol=1e-3)
    limbs = [7, 8, 9, 10, 13, 14, 15, 16]
    assert np.abs(bone_lengths(got)[:, limbs] - CANONICAL_BONE_LENGTHS[limbs]).max() < 1e-3


def test_two_takes_one_song_and_a_joint_map(tmp_path: Path, song: Path) -> None:
    poses = _dance(30)
    a = write_bvh(tmp_path / "a.bvh", poses, fps=30)
    text = a.read_text().replace("JOINT LeftUpLeg\n", "JOINT thigh_L\n")
    b = tmp_path / "b.bvh"
    b.write_text(text)
    jmap = tmp_path / "map.json"
    jmap.write_text(json.dumps({"left_hip": "thigh_L"}))
    entries = import_bvh([a, b], audio=[song], style="popping", out=tmp_path / "ds", fps=30,
                         joint_map=jmap, unit="cm")
    assert [e["id"] for e in entries] == ["a", "b"]
    pa, pb = (load_poses(tmp_path / "ds" / e["poses"])["poses"] for e in entries)
    assert np.abs(pa - pb).max() < 1e-5


@pytest.mark.parametrize("case", ["truncated", "missing", "no_audio", "rig"])
def test_bad_inputs_give_one_line_and_write_nothing(tmp_path: Path, song: Path, case: str, capsys) -> None:
    good = write_bvh(tmp_path / "good.bvh", _dance(30), fps=30)
    bad = tmp_path / "bad.bvh"
    audio = str(song)
    if case == "truncated":
        text = good.read_text()
        bad.write_text(text[: len(text) - 300])
        expect = "truncated"
    elif case == "missing":
        expect = "no such BVH file"
    elif case == "no_audio":
        bad.write_text(good.read_text())
        audio = str(tmp_path / "nosong.wav")
        expect = "audio file .*nosong.wav does not exist"
    else:
        bad.write_text(good.read_text().replace("JOINT LeftForeArm\n", "JOINT elbow_l\n"))
        expect = "left_elbow.*--map"
    out = tmp_path / "ds"
    rc = run_cli(["dataset", "import", "bvh", str(good), str(bad), "--audio", audio, "--style", "x",
                  "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert err[-1].startswith("dancemuse: error: ")
    assert __import__("re").search(expect, err[-1]), err[-1]
    assert not out.exists()


def test_import_into_an_existing_dataset_keeps_it_when_a_file_is_bad(tmp_path: Path, song: Path) -> None:
    out = tmp_path / "ds"
    good = write_bvh(tmp_path / "good.bvh", _dance(30), fps=30)
    import_bvh([good], audio=[song], style="house", out=out, fps=30)
    before = (out / "manifest.json").read_text()
    files_before = sorted(p.name for p in (out / "clips").iterdir())
    bad = tmp_path / "bad.bvh"
    bad.write_text(good.read_text()[:-500])
    with pytest.raises(DatasetError):
        import_bvh([good, bad], audio=[song], style="house", out=out, fps=30, ids=["again", "bad"])
    assert (out / "manifest.json").read_text() == before
    assert sorted(p.name for p in (out / "clips").iterdir()) == files_before


# --------------------------------------------------------------------------- rig families

SHARED_MOCAP = Path(__file__).resolve().parents[2] / "shared" / "mocap"


def _rename(src: Path, dst: Path, renames: dict[str, str]) -> Path:
    """Copy a BVH file with joints renamed (all at once, so names may swap)."""
    import re

    text = re.sub(r"^(\s*(?:ROOT|JOINT) )(\S+)$", lambda m: m.group(1) + renames.get(m.group(2), m.group(2)),
                  src.read_text(), flags=re.M)
    dst.write_text(text)
    return dst


def _family_names(family: str) -> dict[str, str]:
    """Writer joint name -> the name a rig family uses (face joints get names no table knows)."""
    face = {"Nose": "nz", "LeftEye": "le", "RightEye": "re", "LeftEar": "lr", "RightEar": "rr"}
    if family == "cmu43":
        names = {"Hips": "hip", "Spine": "abdomen", "Neck": "neck", "Head": "head"}
        for side, s in (("Left", "l"), ("Right", "r")):
            names |= {f"{side}UpLeg": f"{s}Thigh", f"{side}Leg": f"{s}Shin", f"{side}Foot": f"{s}Foot",
                      f"{side}Shoulder": f"{s}Collar", f"{side}Arm": f"{s}Shldr",
                      f"{side}ForeArm": f"{s}ForeArm", f"{side}Hand": f"{s}Hand"}
    elif family == "cmu31":
        names = {"Spine": "lowerback"}
        for side in ("Left", "Right"):
            names |= {f"{side}UpLeg": f"{side}Hip", f"{side}Leg": f"{side}Knee", f"{side}Foot": f"{side}Ankle",
                      f"{side}Shoulder": f"{side}Collar", f"{side}Arm": f"{side}Shoulder",
                      f"{side}ForeArm": f"{side}Elbow", f"{side}Hand": f"{side}Wrist"}
    elif family == "neo":
        names = {n: f"Neo_{n}" for n in ("Hips", "Spine", "Neck", "Head") + tuple(
            f"{s}{p}" for s in ("Left", "Right") for p in ("UpLeg", "Leg", "Foot", "Shoulder", "Arm",
                                                           "ForeArm", "Hand"))}
    else:  # cgspeed's CMU names are our writer's limb names
        names = {"Spine": "LowerBack"}
    return names | face


@pytest.mark.parametrize("family", ["cmu", "cmu31", "cmu43", "neo"])
def test_cmu_and_neo_rigs_are_recognised_and_map_every_joint(tmp_path: Path, family: str) -> None:
    from model.bvh import read_bvh
    from model.importers.bvh_map import bvh_to_coco, resolve_mapping
    from model.skeleton import JOINT_INDEX

    poses = _dance(30)
    ours = write_bvh(tmp_path / "ours.bvh", poses, fps=30)
    take = _rename(ours, tmp_path / f"{family}.bvh", _family_names(family))
    bvh = read_bvh(take)
    rig, mapping = resolve_mapping(bvh)
    assert rig == family
    assert "nose" not in mapping and "head" in mapping
    got = bvh_to_coco(bvh)
    body = [i for n, i in JOINT_INDEX.items() if "eye" not in n and "ear" not in n and n != "nose"]
    assert np.abs(got[:, body] - poses[:, body]).max() < 1e-3
    # face points come from the head joint: near the true face, in front of the head
    assert np.linalg.norm(got[:, :5] - poses[:, :5], axis=-1).max() < 0.05


def _turned_half_round(bvh):  # type: ignore[no-untyped-def]
    """The same take on a rig whose rest pose faces -z: every offset and root position
    turned 180 degrees about y, every local rotation conjugated by that turn."""
    import copy

    b = copy.deepcopy(bvh)
    b.offsets[:, [0, 2]] *= -1.0
    for j in b.end_sites:
        b.end_sites[j] = b.end_sites[j] * np.array([-1.0, 1.0, -1.0])
    col = 0
    for chans in b.channels:
        for ch in chans:
            if ch[0].upper() in "XZ":
                b.motion[:, col] *= -1.0
            col += 1
    return b


def test_a_rig_that_faces_away_at_rest_keeps_its_face_in_front(tmp_path: Path) -> None:
    from model.bvh import read_bvh
    from model.importers.bvh_map import bvh_to_coco

    poses = _dance(30)
    bvh = read_bvh(_rename(write_bvh(tmp_path / "a.bvh", poses, fps=30), tmp_path / "neo.bvh",
                           _family_names("neo")))
    turned = bvh_to_coco(_turned_half_round(bvh))
    want = poses * np.array([-1.0, 1.0, -1.0])  # the figure turned 180 degrees about y
    assert np.abs(turned[:, 5:] - want[:, 5:]).max() < 1e-3
    assert np.linalg.norm(turned[:, :5] - want[:, :5], axis=-1).max() < 0.05


def test_odd_units_are_found_from_the_figure(tmp_path: Path) -> None:
    from model.bvh import read_bvh
    from model.importers.bvh_map import bvh_to_coco

    poses = _dance(30)
    bvh = read_bvh(write_bvh(tmp_path / "a.bvh", poses, fps=30))
    k = 1.0 / (2.54 / 0.45)  # cm -> the CMU ASF unit (1/0.45 inch), no standard unit fits
    bvh.offsets *= k
    col = 0
    for chans in bvh.channels:
        for ch in chans:
            if ch.lower().endswith("position"):
                bvh.motion[:, col] *= k
            col += 1
    got = bvh_to_coco(bvh)
    limbs = [7, 8, 9, 10, 13, 14, 15, 16]
    assert np.abs(bone_lengths(got)[:, limbs] - CANONICAL_BONE_LENGTHS[limbs]).max() < 1e-3


_REAL = [("beemsoft-webxr-handtracking-playground/60_01_scaled.bvh", "cmu43"),
         ("TMoCo-InverseKinematics/05_06.bvh", "cmu"),
         ("yuki-koyama-bvh11/131_01.bvh", "cmu31"),
         ("keijiro-CMUMocap/85_03.bvh", "neo")]


@pytest.mark.parametrize(("name", "family"), _REAL)
def test_real_cmu_takes_stand_upright_facing_forward_with_plausible_bones(name: str, family: str) -> None:
    from model.bvh import read_bvh
    from model.importers.bvh_map import bvh_to_coco, resolve_mapping
    from model.importers.common import put_on_floor
    from model.skeleton import JOINT_INDEX as JI

    path = SHARED_MOCAP / name
    if not path.is_file():
        pytest.skip(f"{path} not here: the CMU mocap takes live in ../shared/mocap beside the checkout")
    bvh = read_bvh(path)
    assert resolve_mapping(bvh)[0] == family
    p = put_on_floor(bvh_to_coco(bvh))
    ankles = p[:, [JI["left_ankle"], JI["right_ankle"]], 1]
    hips = p[:, [JI["left_hip"], JI["right_hip"]], 1].mean(axis=1)
    assert np.mean(p[:, JI["nose"], 1] > hips + 0.4) > 0.75  # upright, y up (05_06 bows deeply)
    assert np.median(p[:, JI["nose"], 1]) > 1.3
    assert 0.0 < np.percentile(ankles.min(axis=1), 5) < 0.15  # feet on the floor
    ratio = np.median(bone_lengths(p), axis=0) / CANONICAL_BONE_LENGTHS
    assert np.all((ratio[5:] > 0.55) & (ratio[5:] < 1.6)), ratio
    # left and right not swapped: with forward = left x up from the hip line, knees bend
    # forward and the nose sits in front of the neck
    left = p[:, JI["left_hip"]] - p[:, JI["right_hip"]]
    fwd = np.stack([-left[:, 2], np.zeros(len(p)), left[:, 0]], axis=1)
    fwd /= np.linalg.norm(fwd, axis=1, keepdims=True)
    for h, k, a in (("left_hip", "left_knee", "left_ankle"), ("right_hip", "right_knee", "right_ankle")):
        d = p[:, JI[k]] - 0.5 * (p[:, JI[h]] + p[:, JI[a]])
        bent = np.linalg.norm(d, axis=1) > 0.03
        assert np.mean((d * fwd).sum(axis=1)[bent] > 0) > 0.85
    neck = 0.5 * (p[:, JI["left_shoulder"]] + p[:, JI["right_shoulder"]])
    assert np.mean(((p[:, JI["nose"]] - neck) * fwd).sum(axis=1) > 0) > 0.7
