"""BVH motion files: write COCO-17 poses as a rigged skeleton, read any BVH back.

Writing (`write_bvh`): the hierarchy below is a Mixamo/CMU-style rig built from the
canonical rest pose of `model.skeleton` (arms hanging, facing +z, y up):

    Hips (root: position + rotation channels, at mid-hip)
      LeftUpLeg > LeftLeg > LeftFoot > End Site (toe)          and Right...
      Spine (at mid-hip: the torso pivots there)
        LeftShoulder (clavicle) > LeftArm > LeftForeArm > LeftHand > End Site   and Right...
        Neck (mid-shoulder: the head pivots there) > Head > Nose
          Nose > LeftEye > LeftEar > End Site,  Nose > RightEye > RightEar > End Site

Units are **centimetres** (as Mixamo and most tools write). Blender imports BVH with the
units as given (File > Import > Motion Capture, Scale 1.0 gives a figure 160 units tall);
set Scale to 0.01 there to get metres; its default axes (Forward -Z, Up Y) stand the y-up
figure upright.
Every rotation channel is ``Zrotation Xrotation Yrotation`` in degrees (local matrix
Rz @ Rx @ Ry). Rotations are solved from joint positions: each limb bone gets the swing
that turns its rest direction (seen through its parent) onto the posed direction; the
pelvis frame comes from the hip line and the spine, the chest frame from the spine and the
shoulder line, the neck from a best fit (Kabsch) of the five face points. Offsets are the
canonical rest pose, so poses with canonical bones and a rigid torso come back exactly
(micrometres). COCO-17's torso is not rigid (shoulder width, spine length and face size
may vary); where a pose differs there, the shoulders and face come back off by that much,
and limbs keep their posed bone directions from where their shoulder landed.
`write_joints` writes the hierarchy and motion of any rig (`write_bvh` and
`model.rig_bvh.write_rig_bvh` both go through it; `check_poses` checks their input).

Reading (`read_bvh`): any channel order, any rotation order, position channels on any
joint (they replace the joint's offset, as Blender reads them), End Sites; `Bvh.positions`
runs forward kinematics; `model.importers.bvh_map.bvh_to_coco` maps joints to COCO-17.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from model.errors import DatasetError
from model.importers.rotations import axis_rotation, euler_zxy, frame_from, kabsch, swing, unit
from model.skeleton import JOINT_INDEX, NUM_JOINTS, rest_pose

__all__ = ["CM", "WRITER_NAMES", "Bvh", "BvhJoint", "axis_rotation", "check_poses", "guess_unit", "read_bvh",
           "solve_rotations", "write_bvh", "write_joints"]

CM = 100.0
"""File units per metre in the files `write_bvh` writes."""

ROTATION_ORDER: tuple[str, ...] = ("Zrotation", "Xrotation", "Yrotation")
_AXES = {"X": 0, "Y": 1, "Z": 2}


@dataclass
class Bvh:
    """A parsed BVH file. Joints are in file order (parents before children).

    names: joint names; parents: parent index (-1 for roots); offsets: [shape=(j, 3)] rest
    offsets in file units; channels: channel names per joint; end_sites: joint index ->
    End Site offset; motion: [shape=(t, n_channels)] raw channel values; frame_time: s.
    """

    names: list[str]
    parents: list[int]
    offsets: np.ndarray
    channels: list[tuple[str, ...]]
    end_sites: dict[int, np.ndarray] = field(default_factory=dict)
    motion: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    frame_time: float = 1.0 / 30.0

    @property
    def fps(self) -> float:
        return 1.0 / self.frame_time

    @property
    def n_frames(self) -> int:
        return int(self.motion.shape[0])

    def index(self, name: str) -> int:
        return self.names.index(name)

    def transforms(self) -> tuple[np.ndarray, np.ndarray]:
        """Forward kinematics in file units: global rotations [shape=(t, j, 3, 3)] and
        positions [shape=(t, j, 3)]."""
        t_count = self.n_frames
        n = len(self.names)
        rot = np.empty((t_count, n, 3, 3))
        pos = np.empty((t_count, n, 3))
        col = 0
        for j in range(n):
            chans = self.channels[j]
            values = self.motion[:, col:col + len(chans)]
            col += len(chans)
            local_r = np.broadcast_to(np.eye(3), (t_count, 3, 3)).copy()
            local_t = np.broadcast_to(self.offsets[j], (t_count, 3)).copy()
            for k, ch in enumerate(chans):
                axis = _AXES[ch[0].upper()]
                if ch.lower().endswith("position"):
                    local_t[:, axis] = values[:, k]
            for k, ch in enumerate(chans):
                if ch.lower().endswith("rotation"):
                    local_r = local_r @ axis_rotation(_AXES[ch[0].upper()], values[:, k])
            p = self.parents[j]
            if p < 0:
                rot[:, j] = local_r
                pos[:, j] = local_t
            else:
                rot[:, j] = rot[:, p] @ local_r
                pos[:, j] = pos[:, p] + np.einsum("tij,tj->ti", rot[:, p], local_t)
        return rot, pos

    def positions(self) -> np.ndarray:
        """Global joint positions in file units [shape=(t, j, 3)]."""
        return self.transforms()[1]

    def rest_height(self) -> float:
        """Vertical extent of the rest pose (joints and End Sites), file units."""
        n = len(self.names)
        world = np.zeros((n, 3))
        points = []
        for j in range(n):
            p = self.parents[j]
            world[j] = self.offsets[j] + (world[p] if p >= 0 else 0.0)
            points.append(world[j])
            if j in self.end_sites:
                points.append(world[j] + self.end_sites[j])
        ys = np.asarray(points)[:, 1]
        return float(ys.max() - ys.min())


def guess_unit(bvh: Bvh) -> float:
    """Metres per file unit, guessed from the rest height (m, cm, mm or inches: the one
    that makes the figure closest to 1.6 m tall)."""
    h = bvh.rest_height()
    if h <= 0:
        return 0.01
    candidates = (1.0, 0.01, 0.001, 0.0254)
    return min(candidates, key=lambda s: abs(np.log(h * s / 1.6)))


# ----------------------------------------------------------------------------- the rig

# name, parent, rule, targets. Rules: "root" (pelvis frame), "aim" (swing toward one
# COCO joint), "frame" (chest frame), "kabsch" (best fit to several COCO joints),
# "inherit" (no local rotation), "lock" (same global rotation as the Hips).
_RIG: tuple[tuple[str, str | None, str, tuple[str, ...]], ...] = (
    ("Hips", None, "root", ()),
    ("LeftUpLeg", "Hips", "aim", ("left_knee",)),
    ("LeftLeg", "LeftUpLeg", "aim", ("left_ankle",)),
    ("LeftFoot", "LeftLeg", "lock", ()),
    ("RightUpLeg", "Hips", "aim", ("right_knee",)),
    ("RightLeg", "RightUpLeg", "aim", ("right_ankle",)),
    ("RightFoot", "RightLeg", "lock", ()),
    ("Spine", "Hips", "frame", ()),
    ("LeftShoulder", "Spine", "aim", ("left_shoulder",)),
    ("LeftArm", "LeftShoulder", "aim", ("left_elbow",)),
    ("LeftForeArm", "LeftArm", "aim", ("left_wrist",)),
    ("LeftHand", "LeftForeArm", "inherit", ()),
    ("RightShoulder", "Spine", "aim", ("right_shoulder",)),
    ("RightArm", "RightShoulder", "aim", ("right_elbow",)),
    ("RightForeArm", "RightArm", "aim", ("right_wrist",)),
    ("RightHand", "RightForeArm", "inherit", ()),
    ("Neck", "Spine", "kabsch", ("nose", "left_eye", "right_eye", "left_ear", "right_ear")),
    ("Head", "Neck", "inherit", ()),
    ("Nose", "Head", "kabsch", ("left_eye", "right_eye")),
    ("LeftEye", "Nose", "aim", ("left_ear",)),
    ("LeftEar", "LeftEye", "inherit", ()),
    ("RightEye", "Nose", "aim", ("right_ear",)),
    ("RightEar", "RightEye", "inherit", ()),
)

WRITER_NAMES: dict[str, str] = {
    "nose": "Nose", "left_eye": "LeftEye", "right_eye": "RightEye", "left_ear": "LeftEar",
    "right_ear": "RightEar", "left_shoulder": "LeftArm", "right_shoulder": "RightArm",
    "left_elbow": "LeftForeArm", "right_elbow": "RightForeArm", "left_wrist": "LeftHand",
    "right_wrist": "RightHand", "left_hip": "LeftUpLeg", "right_hip": "RightUpLeg",
    "left_knee": "LeftLeg", "right_knee": "RightLeg", "left_ankle": "LeftFoot",
    "right_ankle": "RightFoot",
}
"""COCO-17 joint -> joint name in the files `write_bvh` writes."""

_CLAVICLE = 0.03  # clavicle joint distance from mid-shoulder
_HEAD_UP = 0.06  # Head joint height above mid-shoulder


def _rig_rest() -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Rest positions (metres, mid-hip at 0) of every rig joint, and End Site offsets."""
    r = rest_pose().astype(np.float64)
    c = {n: r[i] for n, i in JOINT_INDEX.items()}
    neck = 0.5 * (c["left_shoulder"] + c["right_shoulder"])
    pos = {name: c[coco] for coco, name in WRITER_NAMES.items()}
    pos["Hips"] = 0.5 * (c["left_hip"] + c["right_hip"])
    pos["Spine"] = pos["Hips"].copy()
    pos["Neck"] = neck
    pos["LeftShoulder"] = neck + _CLAVICLE * unit(c["left_shoulder"] - neck)
    pos["RightShoulder"] = neck + _CLAVICLE * unit(c["right_shoulder"] - neck)
    pos["Head"] = neck + np.array([0.0, _HEAD_UP, 0.0])
    ends = {
        "LeftFoot": np.array([0.0, -0.06, 0.14]),
        "RightFoot": np.array([0.0, -0.06, 0.14]),
        "LeftHand": 0.08 * unit(c["left_wrist"] - c["left_elbow"]),
        "RightHand": 0.08 * unit(c["right_wrist"] - c["right_elbow"]),
        "LeftEar": np.array([0.02, 0.0, -0.02]),
        "RightEar": np.array([-0.02, 0.0, -0.02]),
    }
    return pos, ends


def solve_rotations(poses: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Root positions (metres) [shape=(t, 3)] and local rotations [shape=(t, n_rig, 3, 3)]
    of the writer's rig for COCO-17 poses [shape=(t, 17, 3)] (metres)."""
    p = np.asarray(poses, dtype=np.float64)
    t_count = p.shape[0]
    rest, _ = _rig_rest()
    names = [j[0] for j in _RIG]
    index = {n: i for i, n in enumerate(names)}
    coco = {n: p[:, i] for n, i in JOINT_INDEX.items()}
    root = 0.5 * (coco["left_hip"] + coco["right_hip"])
    neck = 0.5 * (coco["left_shoulder"] + coco["right_shoulder"])
    # where each rig joint is in the pose (clavicles are not: they aim from where they are)
    posed = {rig: coco[c] for c, rig in WRITER_NAMES.items()}
    posed.update(Hips=root, Spine=root, Neck=neck)
    glob = np.empty((t_count, len(_RIG), 3, 3))
    world = np.empty((t_count, len(_RIG), 3))
    local = np.empty_like(glob)
    for j, (name, parent, rule, targets) in enumerate(_RIG):
        if parent is None:
            world[:, j] = root
            pg = np.broadcast_to(np.eye(3), (t_count, 3, 3))
        else:
            pj = index[parent]
            pg = glob[:, pj]
            world[:, j] = world[:, pj] + pg @ (rest[name] - rest[parent])
        src = posed.get(name, world[:, j])
        if rule == "root":
            g = frame_from(coco["left_hip"] - coco["right_hip"], neck - root) @ frame_from(
                rest["LeftUpLeg"] - rest["RightUpLeg"], rest["Neck"] - rest["Hips"]).T
        elif rule == "frame":
            g = frame_from(neck - src, coco["left_shoulder"] - coco["right_shoulder"]) @ frame_from(
                rest["Neck"] - rest["Spine"], rest["LeftArm"] - rest["RightArm"]).T
        elif rule == "aim":
            child = WRITER_NAMES[targets[0]]
            d_rest = unit(pg @ (rest[child] - rest[name]))
            g = swing(d_rest, unit(coco[targets[0]] - src)) @ pg
        elif rule == "kabsch":
            ref = np.stack([rest[WRITER_NAMES[k]] - rest[name] for k in targets])
            g = kabsch(ref, np.stack([coco[k] - src for k in targets], axis=1))
        elif rule == "lock":
            g = glob[:, 0]
        else:  # inherit
            g = np.array(pg)
        glob[:, j] = g
        local[:, j] = np.transpose(pg, (0, 2, 1)) @ g
    return root, local


def write_bvh(path: str | Path, poses: np.ndarray, *, fps: float) -> Path:
    """Write COCO-17 poses [shape=(t, 17, 3)] (metres, y up) as a BVH file in centimetres
    that Blender, MotionBuilder or Maya open. Returns the path. The file is written to a
    temporary name first and renamed, so a failed write leaves nothing behind."""
    poses = check_poses(poses, fps=fps)
    rest, ends = _rig_rest()
    root, local = solve_rotations(poses)
    t_count = poses.shape[0]
    eul = euler_zxy(local.reshape(-1, 3, 3)).reshape(t_count, len(_RIG), 3)
    eul = np.unwrap(eul, axis=0, period=360.0)
    index = {name: i for i, (name, *_) in enumerate(_RIG)}
    joints = []
    motion = []
    for j, (name, parent, _, _) in enumerate(_RIG):
        if parent is None:
            joints.append(BvhJoint(name, -1, np.zeros(3), ("Xposition", "Yposition", "Zposition", *ROTATION_ORDER),
                                   _end(ends, name)))
            motion.append(np.concatenate([root * CM, eul[:, j]], axis=1))
        else:
            joints.append(BvhJoint(name, index[parent], (rest[name] - rest[parent]) * CM, ROTATION_ORDER,
                                   _end(ends, name)))
            motion.append(eul[:, j])
    return write_joints(path, joints, motion, fps=fps, decimals=5)


def _end(ends: dict[str, np.ndarray], name: str) -> np.ndarray | None:
    return ends[name] * CM if name in ends else None


# ----------------------------------------------------------------------------- writing any rig


@dataclass(frozen=True)
class BvhJoint:
    """One joint of a hierarchy that `write_joints` writes: its parent's index in the list
    (-1 for the root), offset from the parent and End Site offset (file units), channels."""

    name: str
    parent: int
    offset: np.ndarray
    channels: tuple[str, ...]
    end_site: np.ndarray | None = None


def check_poses(poses: np.ndarray, *, fps: float) -> np.ndarray:
    """COCO-17 poses [shape=(t, 17, 3)] as float64; ValueError if the shape, a value or
    ``fps`` is unusable."""
    p = np.asarray(poses, dtype=np.float64)
    if p.ndim != 3 or p.shape[1:] != (NUM_JOINTS, 3) or p.shape[0] < 1:
        raise ValueError(f"poses must have shape (t, {NUM_JOINTS}, 3), got {p.shape}")
    if not np.isfinite(p).all():
        raise ValueError("poses contain NaN or infinite values")
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    return p


def write_joints(path: str | Path, joints: list[BvhJoint], motion: list[np.ndarray], *, fps: float,
                 decimals: int) -> Path:
    """Write a BVH file of ``joints`` (the root first; children in list order) and their
    channel values ``motion[j]`` [shape=(t, len(joints[j].channels))], numbers with
    ``decimals`` digits after the point. Written to a temporary name first and renamed,
    so a failed write leaves nothing behind. Returns the path."""
    def fmt(v: np.ndarray) -> str:
        return " ".join(f"{x:.{decimals}f}" for x in v)

    lines = ["HIERARCHY"]
    cols: list[np.ndarray] = []
    children: dict[int, list[int]] = {}
    for i, jt in enumerate(joints):
        children.setdefault(jt.parent, []).append(i)

    def emit(i: int, depth: int) -> None:
        jt = joints[i]
        pad = "  " * depth
        lines.append(f"{pad}{'ROOT' if jt.parent < 0 else 'JOINT'} {jt.name}")
        lines.append(pad + "{")
        lines.append(f"{pad}  OFFSET {fmt(jt.offset)}")
        lines.append(f"{pad}  CHANNELS {len(jt.channels)} {' '.join(jt.channels)}")
        cols.append(motion[i])
        for c in children.get(i, []):
            emit(c, depth + 1)
        if jt.end_site is not None:
            lines.extend([f"{pad}  End Site", pad + "  {", f"{pad}    OFFSET {fmt(jt.end_site)}", pad + "  }"])
        lines.append(pad + "}")

    emit(0, 0)
    lines += ["MOTION", f"Frames: {len(cols[0])}", f"Frame Time: {1.0 / fps:.8f}"]
    values = np.concatenate(cols, axis=1)
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "w", encoding="ascii", newline="\n") as f:
            f.write("\n".join(lines) + "\n")
            np.savetxt(f, values, fmt=f"%.{decimals}f")
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


# ----------------------------------------------------------------------------- reading

_TOKEN = re.compile(r"\{|\}|[^\s{}]+")


def read_bvh(path: str | Path) -> Bvh:
    """Parse a BVH file. Raises DatasetError (one line naming the file) when it is
    missing, malformed or truncated."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: no such BVH file; check the path")
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        raise DatasetError(f"{path}: cannot read ({e.strerror}); check permissions") from None
    head, sep, body = text.partition("MOTION")
    if not sep:
        raise DatasetError(f"{path}: no MOTION section (truncated or not a BVH file); re-export it")
    bvh = _parse_hierarchy(path, head)
    m = re.match(r"\s*Frames:\s*(\d+)\s*Frame\s+Time:\s*([0-9.eE+-]+)", body)
    if not m:
        raise DatasetError(f"{path}: MOTION header needs 'Frames: N' and 'Frame Time: S'; re-export it")
    n_frames, frame_time = int(m.group(1)), float(m.group(2))
    if not frame_time > 0:
        raise DatasetError(f"{path}: Frame Time must be positive, got {frame_time}")
    n_ch = sum(len(c) for c in bvh.channels)
    try:
        values = np.array(body[m.end():].split(), dtype=np.float64)
    except ValueError:
        raise DatasetError(f"{path}: MOTION data holds a non-number; re-export the file") from None
    lines = [ln for ln in body[m.end():].splitlines() if ln.strip()]
    if values.size < n_frames * n_ch:
        got = len(lines) if values.size % max(n_ch, 1) else values.size // max(n_ch, 1)
        raise DatasetError(f"{path}: truncated: header says {n_frames} frames of {n_ch} channels "
                           f"but only {got} are complete; re-export or re-copy the file")
    if values.size > n_frames * n_ch:
        raise DatasetError(f"{path}: {values.size - n_frames * n_ch} extra values after "
                           f"{n_frames} frames of {n_ch} channels; the header or the data is wrong")
    if not np.isfinite(values).all():
        raise DatasetError(f"{path}: MOTION data holds NaN or infinite values; re-export it")
    bvh.motion = values.reshape(n_frames, n_ch)
    bvh.frame_time = frame_time
    return bvh


def _parse_hierarchy(path: Path, text: str) -> Bvh:
    toks = _TOKEN.findall(text)
    bvh = Bvh(names=[], parents=[], offsets=np.zeros((0, 3)), channels=[])
    offsets: list[np.ndarray] = []
    stack: list[int] = []  # joint indices; -2 marks an End Site block
    i = 0

    def bad(msg: str) -> DatasetError:
        return DatasetError(f"{path}: bad HIERARCHY: {msg}; re-export the file")

    def floats(k: int, n: int) -> np.ndarray:
        try:
            return np.array([float(x) for x in toks[k:k + n]], dtype=np.float64).reshape(n)
        except (ValueError, IndexError):
            raise bad(f"expected {n} numbers after token {k}") from None

    if not toks or toks[0].upper() != "HIERARCHY":
        raise DatasetError(f"{path}: not a BVH file (it does not start with HIERARCHY)")
    i = 1
    pending: str | None = None
    while i < len(toks):
        tok = toks[i]
        up = tok.upper()
        if up in ("ROOT", "JOINT"):
            if i + 1 >= len(toks):
                raise bad(f"{tok} without a name")
            pending = toks[i + 1]
            i += 2
        elif up == "END":
            pending = "\0end"
            i += 2 if i + 1 < len(toks) and toks[i + 1].upper() == "SITE" else 1
        elif tok == "{":
            if pending is None:
                raise bad("'{' without ROOT/JOINT/End Site")
            if pending == "\0end":
                if not stack or stack[-1] < 0:
                    raise bad("End Site outside a joint")
                stack.append(-2)
            else:
                parent = next((s for s in reversed(stack) if s >= 0), -1)
                bvh.names.append(pending)
                bvh.parents.append(parent)
                bvh.channels.append(())
                offsets.append(np.zeros(3))
                stack.append(len(bvh.names) - 1)
            pending = None
            i += 1
        elif tok == "}":
            if not stack:
                raise bad("unbalanced '}'")
            stack.pop()
            i += 1
        elif up == "OFFSET":
            if not stack:
                raise bad("OFFSET outside a joint")
            off = floats(i + 1, 3)
            if stack[-1] == -2:
                owner = next(s for s in reversed(stack) if s >= 0)
                bvh.end_sites[owner] = off
            else:
                offsets[stack[-1]] = off
            i += 4
        elif up == "CHANNELS":
            if not stack or stack[-1] < 0:
                raise bad("CHANNELS outside a joint")
            try:
                n = int(toks[i + 1])
            except (ValueError, IndexError):
                raise bad("CHANNELS needs a count") from None
            chans = tuple(toks[i + 2:i + 2 + n])
            for ch in chans:
                if ch.lower() not in {a + b for a in "xyz" for b in ("position", "rotation")}:
                    raise bad(f"unknown channel {ch!r}")
            if len(chans) != n:
                raise bad("CHANNELS list is cut short")
            bvh.channels[stack[-1]] = chans
            i += 2 + n
        else:
            raise bad(f"unexpected token {tok!r}")
    if stack:
        raise bad("unclosed '{' (truncated file)")
    if not bvh.names:
        raise bad("no joints")
    bvh.offsets = np.asarray(offsets, dtype=np.float64).reshape(-1, 3)
    return bvh
