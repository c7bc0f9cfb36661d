"""Map the joints of a BVH rig to COCO-17 by name.

Default tables cover the files `model.bvh.write_bvh` writes ("dancemuse"), Mixamo
("mixamorig:LeftUpLeg"; any "namespace:" prefix is ignored), CMU (cgspeed's conversion:
"LHipJoint" > "LeftUpLeg" > "LeftLeg" > "LeftFoot") and Rokoko ("LeftThigh", "LeftShin").
The table that finds the most joints wins. An override JSON file maps COCO-17 names (and
"head") to joint names of the file and wins over the tables::

    {"left_hip": "L_Thigh", "left_knee": "L_Calf", "head": "HeadJoint"}

Rigs rarely have eyes, ears or a nose joint: those COCO-17 points are then placed on the
"head" joint, rotated with it, at typical offsets (the rig's rest pose is taken to face +z
with y up, which is what Mixamo, CMU, Rokoko and our writer use).
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
}
_PARTS = ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")


def _table(rig: str, head: str) -> dict[str, str]:
    t: dict[str, str] = {"head": head}
    for side, s in (("left", "Left"), ("right", "Right")):
        for part, pattern in zip(_PARTS, _LIMBS[rig]):
            t[f"{side}_{part}"] = pattern.format(s=s)
    if rig == "mixamo":
        t["left_eye"], t["right_eye"] = "mixamorig:LeftEye", "mixamorig:RightEye"
    return t


TABLES: dict[str, dict[str, str]] = {
    "dancemuse": {**WRITER_NAMES, "head": "Head"},
    "mixamo": _table("mixamo", "mixamorig:Head"),
    "cmu": _table("cmu", "Head"),
    "rokoko": _table("rokoko", "Head"),
}
"""Rig name -> {COCO-17 joint name or "head": BVH joint name}."""

FACE_OFFSETS: dict[str, tuple[float, float, float]] = {
    "nose": (0.0, 0.07, 0.10),
    "left_eye": (0.032, 0.10, 0.08),
    "right_eye": (-0.032, 0.10, 0.08),
    "left_ear": (0.075, 0.08, 0.0),
    "right_ear": (-0.075, 0.08, 0.0),
}
"""Where face points sit relative to a rig's head joint at rest (metres, facing +z)."""


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
    best_score = (0, 0)
    for rig, table in TABLES.items():
        hits = {c: find(n) for c, n in table.items()}
        found = {c: i for c, i in hits.items() if i is not None}
        score = (len(found), sum(bvh.names[i] == table[c] for c, i in found.items()))
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


def bvh_to_coco(bvh: Bvh, *, override: dict[str, str] | None = None,
                unit: float | None = None) -> np.ndarray:
    """COCO-17 positions [shape=(t, 17, 3)] float32 in metres (file axes, y up) from a BVH.

    ``unit`` is metres per file unit (None: guessed from the rest height, see
    `model.bvh.guess_unit`)."""
    _, mapping = resolve_mapping(bvh, override)
    scale = guess_unit(bvh) if unit is None else float(unit)
    rot, pos = bvh.transforms()
    pos = pos * scale
    out = np.empty((bvh.n_frames, NUM_JOINTS, 3), dtype=np.float32)
    for j, name in enumerate(JOINT_NAMES):
        if name in mapping:
            out[:, j] = pos[:, mapping[name]]
        else:
            h = mapping["head"]
            out[:, j] = pos[:, h] + rot[:, h] @ np.asarray(FACE_OFFSETS[name])
    return out
