"""Map the joints of a BVH rig to COCO-17 by name.

Default tables cover the files `model.bvh.write_bvh` writes ("dancemuse"), Mixamo
("mixamorig:LeftUpLeg"; any "namespace:" prefix is ignored), CMU 31-joint rigs in both
common conversions (cgspeed: "LHipJoint" > "LeftUpLeg" > "LeftLeg" > "LeftFoot", and the
ASF-named one: "LHipJoint" > "LeftHip" > "LeftKnee" > "LeftAnkle"), the CMU 43-joint
Poser/DAZ rig ("hip", "lThigh" > "lShin" > "lFoot", "lShldr" > "lForeArm" > "lHand"),
humanoid rigs with a "Neo_" prefix ("Neo_LeftUpLeg") and Rokoko ("LeftThigh", "LeftShin").
The table that finds the most joints wins. An override JSON file maps COCO-17 names (and
"head") to joint names of the file and wins over the tables::

    {"left_hip": "L_Thigh", "left_knee": "L_Calf", "head": "HeadJoint"}

Rigs rarely have eyes, ears or a nose joint: those COCO-17 points are then fixed to the
"head" joint and turn with it, placed so that in the rig's rest pose they sit where the
canonical skeleton has them relative to the mid-shoulder point. The rig's rest pose (all rotations
zero) is taken to be upright with y up; which way it faces is read from its hip line
(Mixamo, CMU and our writer face +z, the Neo rig faces -z).

Units: `figure_unit` finds metres per file unit from the figure itself (the length of the
ankle-knee-hip-shoulder-head chain against the canonical skeleton's), since mocap files come
in metres, centimetres, inches and the CMU's own 1/0.45-inch scale, or rescaled.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from model.bvh import WRITER_NAMES, Bvh, guess_unit
from model.errors import DatasetError
from model.skeleton import JOINT_NAMES, NUM_JOINTS

FACE = ("nose", "left_eye", "right_eye", "left_ear", "right_ear")
BODY = tuple(n for n in JOINT_NAMES if n not in FACE)

_LIMBS = {
    "mixamo": ("mixamorig:{s}Arm", "mixamorig:{s}ForeArm", "mixamorig:{s}Hand",
               "mixamorig:{s}UpLeg", "mixamorig:{s}Leg", "mixamorig:{s}Foot"),
    "cmu": ("{s}Arm", "{s}ForeArm", "{s}Hand", "{s}UpLeg", "{s}Leg", "{s}Foot"),
    "rokoko": ("{s}Arm", "{s}ForeArm", "{s}Hand", "{s}Thigh", "{s}Shin", "{s}Foot"),
    "cmu31": ("{s}Shoulder", "{s}Elbow", "{s}Wrist", "{s}Hip", "{s}Knee", "{s}Ankle"),
    "cmu43": ("{c}Shldr", "{c}ForeArm", "{c}Hand", "{c}Thigh", "{c}Shin", "{c}Foot"),
    "neo": ("Neo_{s}Arm", "Neo_{s}ForeArm", "Neo_{s}Hand", "Neo_{s}UpLeg", "Neo_{s}Leg", "Neo_{s}Foot"),
}
_PARTS = ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")


def _table(rig: str, head: str) -> dict[str, str]:
    t: dict[str, str] = {"head": head}
    for side, s in (("left", "Left"), ("right", "Right")):
        for part, pattern in zip(_PARTS, _LIMBS[rig]):
            t[f"{side}_{part}"] = pattern.format(s=s, c=s[0].lower())
    if rig == "mixamo":
        t["left_eye"], t["right_eye"] = "mixamorig:LeftEye", "mixamorig:RightEye"
    return t


TABLES: dict[str, dict[str, str]] = {
    "dancemuse": {**WRITER_NAMES, "head": "Head"},
    "mixamo": _table("mixamo", "mixamorig:Head"),
    "cmu": _table("cmu", "Head"),
    "rokoko": _table("rokoko", "Head"),
    "cmu31": _table("cmu31", "Head"),
    "cmu43": _table("cmu43", "head"),
    "neo": _table("neo", "Neo_Head"),
}
"""Rig name -> {COCO-17 joint name or "head": BVH joint name}."""

def _key(name: str) -> str:
    return name.rsplit(":", 1)[-1].lower()


def load_override(path: str | Path) -> dict[str, str]:
    """Read a JSON mapping {COCO-17 name or "head": BVH joint name}."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DatasetError(f"{path}: no such joint map file; check the --map path") from None
    except (OSError, ValueError) as e:
        raise DatasetError(f"{path}: not valid JSON ({e}); fix the joint map file") from None
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise DatasetError(f"{path}: the joint map must be a JSON object of strings "
                           '{"left_hip": "MyLeftThigh", ...}')
    unknown = sorted(set(data) - set(JOINT_NAMES) - {"head"})
    if unknown:
        raise DatasetError(f"{path}: unknown keys {unknown}; use COCO-17 names "
                           f"({', '.join(JOINT_NAMES)}) or 'head'")
    return dict(data)


def resolve_mapping(bvh: Bvh, override: dict[str, str] | None = None) -> tuple[str, dict[str, int]]:
    """Pick the best default table for ``bvh`` and apply ``override``. Returns the table
    name and {COCO-17 name or "head": joint index}. Raises DatasetError naming what is
    missing when a body joint, or both the face and a head joint, cannot be found."""
    by_key: dict[str, int] = {}
    for i, n in enumerate(bvh.names):
        by_key.setdefault(_key(n), i)
        by_key.setdefault(n.lower(), i)

    def find(name: str) -> int | None:
        hit = by_key.get(name.lower())
        return hit if hit is not None else by_key.get(_key(name))

    best_name: str = ""
    best: dict[str, int] = {}
    best_score = (0, 0, -99)
    for rig, table in TABLES.items():
        hits = {c: find(n) for c, n in table.items()}
        found = {c: i for c, i in hits.items() if i is not None}
        score = (len(found), sum(bvh.names[i] == table[c] for c, i in found.items()),
                 len(found) - len(table))
        if score > best_score:
            best_name, best, best_score = rig, found, score
    mapping = dict(best)
    unresolved: dict[str, str] = {}
    for coco, name in (override or {}).items():
        hit = find(name)
        if hit is None:  # a map shared by several files may name joints this rig lacks
            unresolved[coco] = name
        else:
            mapping[coco] = hit
    missing = [c for c in BODY if c not in mapping]
    if not all(f in mapping for f in FACE) and "head" not in mapping:
        missing.append("head")
    if missing:
        named = [f"{unresolved[c]!r}" for c in missing if c in unresolved]
        hint = (f"the joint map names {', '.join(named)} but the file has no such joint; its joints are "
                f"{', '.join(bvh.names[:40])}") if named else \
            'give them with --map map.json, {"left_hip": "JointName", ...}'
        raise DatasetError(f"cannot find BVH joints for {', '.join(missing)} (rig looks like "
                           f"{best_name or 'none'}); {hint}")
    return best_name or "override", mapping


def rest_positions(bvh: Bvh) -> np.ndarray:
    """Joint positions [shape=(j, 3)] of the rest pose (all channels zero), file units."""
    world = np.zeros((len(bvh.names), 3))
    for j, p in enumerate(bvh.parents):
        world[j] = bvh.offsets[j] + (world[p] if p >= 0 else 0.0)
    return world


def rest_basis(bvh: Bvh, mapping: dict[str, int]) -> np.ndarray:
    """[shape=(3, 3)] columns: the rest pose's left, up and forward directions in file axes
    (up is +y; left from the hip line, or the shoulders when the hips coincide)."""
    rest = rest_positions(bvh)
    up = np.array([0.0, 1.0, 0.0])
    left = np.zeros(3)
    for a, b in (("left_hip", "right_hip"), ("left_shoulder", "right_shoulder")):
        if a in mapping and b in mapping:
            left = rest[mapping[a]] - rest[mapping[b]]
            left[1] = 0.0
            if np.linalg.norm(left) > 1e-9:
                break
    if np.linalg.norm(left) < 1e-9:
        left = np.array([1.0, 0.0, 0.0])
    left /= np.linalg.norm(left)
    forward = np.cross(left, up)
    return np.stack([left, up, forward], axis=1)


_CHAIN = (("ankle", "knee"), ("knee", "hip"))


def figure_unit(bvh: Bvh, mapping: dict[str, int]) -> float:
    """Metres per file unit that give the figure the canonical skeleton's size: the
    ankle-knee-hip chain plus hip-to-shoulder and shoulder-to-head distances of the rest
    pose (rigid bones, so any pose would do), against the canonical rest pose's."""
    from model.skeleton import JOINT_INDEX, rest_pose

    rest = rest_positions(bvh)
    canon = rest_pose().astype(np.float64)

    def length(pts: dict[str, np.ndarray]) -> float:
        total = 0.0
        for side in ("left", "right"):
            for a, b in _CHAIN:
                total += float(np.linalg.norm(pts[f"{side}_{a}"] - pts[f"{side}_{b}"]))
        mid_hip = 0.5 * (pts["left_hip"] + pts["right_hip"])
        mid_sh = 0.5 * (pts["left_shoulder"] + pts["right_shoulder"])
        return total / 2.0 + float(np.linalg.norm(mid_sh - mid_hip))

    names = [f"{s}_{p}" for s in ("left", "right") for p in ("ankle", "knee", "hip", "shoulder")]
    got = length({n: rest[mapping[n]] for n in names})
    want = length({n: canon[JOINT_INDEX[n]] for n in names})
    return want / got if got > 1e-9 else 0.01


def bvh_to_coco(bvh: Bvh, *, override: dict[str, str] | None = None,
                unit: float | None = None) -> np.ndarray:
    """COCO-17 positions [shape=(t, 17, 3)] float32 in metres (file axes, y up) from a BVH.

    ``unit`` is metres per file unit (None: a standard unit, m, cm, mm or inch, when the
    figure comes out within 25 % of the canonical size with it (`model.bvh.guess_unit`),
    else `figure_unit`)."""
    _, mapping = resolve_mapping(bvh, override)
    if unit is None:
        scale = guess_unit(bvh)
        fitted = figure_unit(bvh, mapping)
        if abs(np.log(scale / fitted)) > np.log(1.25):
            scale = fitted
    else:
        scale = float(unit)
    rot, pos = bvh.transforms()
    pos = pos * scale
    face = _face_offsets(bvh, mapping, rot, pos)
    out = np.empty((bvh.n_frames, NUM_JOINTS, 3), dtype=np.float32)
    for j, name in enumerate(JOINT_NAMES):
        if name in mapping:
            out[:, j] = pos[:, mapping[name]]
        else:
            h = mapping["head"]
            out[:, j] = pos[:, h] + rot[:, h] @ face[name]
    return out


def _face_offsets(bvh: Bvh, mapping: dict[str, int], rot: np.ndarray,
                  pos: np.ndarray) -> dict[str, np.ndarray]:
    """Face points missing from the rig as offsets (metres) from the head joint in its own
    frame: where the canonical skeleton has them relative to the mid-shoulder point, taking
    the mid-shoulder point where it typically is in the head's frame (median over frames;
    shoulders rise when the arms go up, so the rest pose alone would not do)."""
    from model.skeleton import JOINT_INDEX, rest_pose

    missing = [f for f in FACE if f not in mapping]
    if not missing:
        return {}
    h = mapping["head"]
    neck = 0.5 * (pos[:, mapping["left_shoulder"]] + pos[:, mapping["right_shoulder"]])
    local = np.einsum("tji,tj->ti", rot[:, h], neck - pos[:, h])
    neck_local = np.median(local, axis=0)
    basis = rest_basis(bvh, mapping)
    canon = rest_pose().astype(np.float64)
    canon_neck = 0.5 * (canon[JOINT_INDEX["left_shoulder"]] + canon[JOINT_INDEX["right_shoulder"]])
    return {f: neck_local + basis @ (canon[JOINT_INDEX[f]] - canon_neck) for f in missing}
