"""Rig-ready rotations: per-bone local rotations (unit quaternions w x y z) from COCO-17.

The rig (``BONES``): a Mixamo/CMU-style humanoid whose joints sit on the COCO joints,
so that forward kinematics of the rotations reproduces the 17 joints.

    Hips (root, mid-hip)
      LeftUpLeg (hip) > LeftLeg (knee) > LeftFoot (ankle)                      and Right...
      Spine (mid-hip)
        Neck (mid-shoulder) > Head > Nose > LeftEyeLink > LeftEye > LeftEar      and Right...
        LeftShoulder (clavicle, from mid-shoulder) > LeftArm (shoulder) > LeftForeArm
          (elbow) > LeftHand (wrist)                                            and Right...

Axes and units: metres, y up, +z toward the audience, +x the dancer's left (as
``model.skeleton``). The rest pose is ``model.skeleton.rest_pose()`` (standing, arms
hanging, facing +z); every bone's rest rotation is the identity and its rest offset is
its rest position minus its parent's, in world axes (BVH convention). A local rotation
q of bone b turns b's offsets as seen from its parent: ``global[b] = global[parent] * q``.

Bone frames: the **Hips** frame has x along the hip line (right hip -> left hip) and y
toward mid-shoulder (orthogonalised), so the torso frame is stable whatever the limbs do;
**Spine** has y exactly toward mid-shoulder and x along the shoulder line (its local
rotation is the chest's twist and lean against the pelvis); **Neck** aims at the nose and
takes its roll from the ear line. Limbs are swing-twist: the upper bone swings from its
rest direction onto the posed one and twists about itself so that the joint below bends
in the bone's bend plane (elbows forward, knees backward: a hinge for rigs; the twist
fades out as the limb straightens, where it is undefined); the lower bone then only
swings. Feet keep the
pelvis orientation (COCO has no toes); hands keep the forearm's.

COCO-17's torso is not rigid (shoulder width and mid-hip to mid-shoulder distance vary a
little), so two per-frame *stretch* factors scale the rest offsets of the bones that span
it: ``stretch[0]`` (Neck and both clavicles, along the spine) and ``stretch[1]`` (LeftArm,
RightArm, along the clavicles). With them, forward kinematics is exact (micrometres) for
poses with canonical bone lengths; rigs that ignore them get the shoulders within about
a centimetre. Quaternions keep their sign from frame to frame (q and -q are the same
rotation: the one closer to the previous frame's is sent), so blending never flips.

``RigSolver.solve(joints)`` is the live per-frame path: scalar maths into preallocated
arrays, nothing allocated per frame. ``solve_rotations(poses)`` runs it over a dance;
``forward_kinematics`` and ``rig_to_coco`` go back; ``model.rig_bvh.write_rig_bvh``
writes the same rotations as a BVH file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from model.skeleton import JOINT_INDEX, NUM_JOINTS, rest_pose

_J = JOINT_INDEX
Vec = tuple[float, float, float]
Quat = tuple[float, float, float, float]

HEAD_UP = 0.06
"""Head joint height above mid-shoulder at rest (m); not a COCO joint."""
TWIST_FROM, TWIST_FULL = 0.2, 0.5
"""Sines of the bend (about 12 and 30 degrees) between which a limb's twist fades in: a
straight limb has no defined twist and gets none; the rest pose (elbows bent 6 degrees)
is the identity."""


@dataclass(frozen=True)
class Bone:
    name: str
    parent: int  # -1 for the root
    rule: str  # root, chest, head, aim, inherit, lock
    target: str = ""  # COCO joint the bone aims at (aim)
    bend: str = ""  # COCO joint below the target that sets the twist (aim, optional)
    stretch: int = -1  # which stretch factor scales the offset (-1: none)
    coco: str = ""  # the COCO joint that sits on this bone's head


def _bones() -> tuple[Bone, ...]:
    b: list[Bone] = [Bone("Hips", -1, "root")]

    def add(name: str, parent: str, rule: str, **kw: object) -> None:
        b.append(Bone(name, [x.name for x in b].index(parent), rule, **kw))  # type: ignore[arg-type]

    for s, S in (("left", "Left"), ("right", "Right")):
        add(f"{S}UpLeg", "Hips", "aim", target=f"{s}_knee", bend=f"{s}_ankle", coco=f"{s}_hip")
        add(f"{S}Leg", f"{S}UpLeg", "aim", target=f"{s}_ankle", coco=f"{s}_knee")
        add(f"{S}Foot", f"{S}Leg", "lock", coco=f"{s}_ankle")
    add("Spine", "Hips", "chest")
    add("Neck", "Spine", "head", stretch=0)
    add("Head", "Neck", "inherit")
    add("Nose", "Head", "inherit", coco="nose")
    for s, S in (("left", "Left"), ("right", "Right")):
        add(f"{S}EyeLink", "Nose", "aim", target=f"{s}_eye")
        add(f"{S}Eye", f"{S}EyeLink", "aim", target=f"{s}_ear", coco=f"{s}_eye")
        add(f"{S}Ear", f"{S}Eye", "inherit", coco=f"{s}_ear")
    for s, S in (("left", "Left"), ("right", "Right")):
        add(f"{S}Shoulder", "Spine", "aim", target=f"{s}_shoulder", stretch=0)
        add(f"{S}Arm", f"{S}Shoulder", "aim", target=f"{s}_elbow", bend=f"{s}_wrist", stretch=1,
            coco=f"{s}_shoulder")
        add(f"{S}ForeArm", f"{S}Arm", "aim", target=f"{s}_wrist", coco=f"{s}_elbow")
        add(f"{S}Hand", f"{S}ForeArm", "inherit", coco=f"{s}_wrist")
    return tuple(b)


BONES: tuple[Bone, ...] = _bones()
BONE_NAMES: tuple[str, ...] = tuple(b.name for b in BONES)
BONE_PARENTS: tuple[int, ...] = tuple(b.parent for b in BONES)
NUM_BONES = len(BONES)
COCO_BONE: tuple[int, ...] = tuple(next(i for i, b in enumerate(BONES) if b.coco == n) for n in JOINT_INDEX)
"""COCO_BONE[j]: the rig bone whose head sits on COCO joint j."""


def _rest_positions() -> np.ndarray:
    r = rest_pose().astype(np.float64)
    neck = 0.5 * (r[_J["left_shoulder"]] + r[_J["right_shoulder"]])
    pos = np.zeros((NUM_BONES, 3))
    for i, b in enumerate(BONES):
        if b.coco:
            pos[i] = r[_J[b.coco]]
        elif b.name in ("Neck", "LeftShoulder", "RightShoulder"):
            pos[i] = neck
        elif b.name == "Head":
            pos[i] = neck + (0.0, HEAD_UP, 0.0)
        elif b.name.endswith("EyeLink"):
            pos[i] = r[_J["nose"]]
        # Hips, Spine: mid-hip = origin
    return pos


REST_POSITIONS: np.ndarray = _rest_positions()
"""Rest position of every bone's head, metres, mid-hip at the origin [shape=(n_bones, 3)]."""
REST_OFFSETS: np.ndarray = np.array(
    [REST_POSITIONS[i] - (REST_POSITIONS[b.parent] if b.parent >= 0 else 0.0) for i, b in enumerate(BONES)]
)
"""Offset of each bone from its parent at rest (world axes, metres) [shape=(n_bones, 3)]."""
_STRETCH_REST = (float(np.linalg.norm(REST_OFFSETS[BONE_NAMES.index("Neck")])),
                 float(np.linalg.norm(REST_OFFSETS[BONE_NAMES.index("LeftArm")])))
END_SITES: dict[str, tuple[float, float, float]] = {
    "LeftFoot": (0.0, -0.06, 0.14), "RightFoot": (0.0, -0.06, 0.14),
    "LeftHand": (0.0, -0.08, 0.0), "RightHand": (0.0, -0.08, 0.0),
    "LeftEar": (0.02, 0.0, -0.02), "RightEar": (-0.02, 0.0, -0.02),
}
"""Tips of the end bones at rest (m, for BVH End Sites and drawing)."""


# ------------------------------------------------------------------ scalar quaternion maths


def _qmul(a: Quat, b: Quat) -> Quat:
    aw, ax, ay, az = a
    bw, bx, by, bz = b
    return (aw * bw - ax * bx - ay * by - az * bz, aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx, aw * bz + ax * by - ay * bx + az * bw)


def _qconj(q: Quat) -> Quat:
    return (q[0], -q[1], -q[2], -q[3])


def _qrot(q: Quat, v: Vec) -> Vec:
    w, x, y, z = q
    vx, vy, vz = v
    # t = 2 * cross(q.xyz, v); v' = v + w t + cross(q.xyz, t)
    tx, ty, tz = 2.0 * (y * vz - z * vy), 2.0 * (z * vx - x * vz), 2.0 * (x * vy - y * vx)
    return (vx + w * tx + y * tz - z * ty, vy + w * ty + z * tx - x * tz, vz + w * tz + x * ty - y * tx)


def _unit(v: Vec) -> Vec | None:
    n = math.sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2])
    if not n > 1e-9:  # also catches NaN
        return None
    return (v[0] / n, v[1] / n, v[2] / n)


def _sub(a: Vec, b: Vec) -> Vec:
    return (a[0] - b[0], a[1] - b[1], a[2] - b[2])


def _dot(a: Vec, b: Vec) -> float:
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


def _cross(a: Vec, b: Vec) -> Vec:
    return (a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0])


def _swing(a: Vec, b: Vec) -> Quat:
    """Smallest rotation turning unit vector a onto unit vector b."""
    c = _dot(a, b)
    if c < -1.0 + 1e-9:  # opposite: half turn about any perpendicular axis
        ax = _unit(_cross(a, (1.0, 0.0, 0.0))) or _unit(_cross(a, (0.0, 1.0, 0.0)))
        assert ax is not None
        return (0.0, ax[0], ax[1], ax[2])
    x = _cross(a, b)
    w = 1.0 + c
    n = math.sqrt(w * w + _dot(x, x))
    return (w / n, x[0] / n, x[1] / n, x[2] / n)


def _quat_of_axes(x: Vec, y: Vec, z: Vec) -> Quat:
    """The rotation whose matrix has columns x, y, z (orthonormal, right-handed)."""
    m00, m11, m22 = x[0], y[1], z[2]
    tr = m00 + m11 + m22
    if tr > 0.0:
        s = 2.0 * math.sqrt(tr + 1.0)
        return (0.25 * s, (y[2] - z[1]) / s, (z[0] - x[2]) / s, (x[1] - y[0]) / s)
    if m00 > m11 and m00 > m22:
        s = 2.0 * math.sqrt(1.0 + m00 - m11 - m22)
        return ((y[2] - z[1]) / s, 0.25 * s, (y[0] + x[1]) / s, (z[0] + x[2]) / s)
    if m11 > m22:
        s = 2.0 * math.sqrt(1.0 + m11 - m00 - m22)
        return ((z[0] - x[2]) / s, (y[0] + x[1]) / s, 0.25 * s, (z[1] + y[2]) / s)
    s = 2.0 * math.sqrt(1.0 + m22 - m00 - m11)
    return ((x[1] - y[0]) / s, (z[0] + x[2]) / s, (z[1] + y[2]) / s, 0.25 * s)


def _frame(primary: Vec, secondary: Vec, order: str) -> Quat | None:
    """Frame with ``primary`` exactly along axis order[0] and ``secondary`` in the plane of
    order[0], order[1] (order 'xy': x primary, y secondary; 'yx': y primary, x secondary)."""
    p = _unit(primary)
    if p is None:
        return None
    d = _dot(secondary, p)
    s = _unit((secondary[0] - d * p[0], secondary[1] - d * p[1], secondary[2] - d * p[2]))
    if s is None:
        return None
    if order == "xy":
        return _quat_of_axes(p, s, _cross(p, s))
    return _quat_of_axes(s, p, _cross(s, p))


def _v(a: np.ndarray, i: int) -> Vec:
    return (float(a[i, 0]), float(a[i, 1]), float(a[i, 2]))


# ------------------------------------------------------------------------------ the solver

_IDENTITY: Quat = (1.0, 0.0, 0.0, 0.0)


def _bend_rest(b: Bone) -> tuple[Vec, Vec]:
    """Rest direction of an aim bone and, for bones with a joint below (``bend``), the
    direction that joint bends toward: forward (+z) for elbows, backward (-z) for knees,
    made perpendicular to the bone."""
    r = rest_pose().astype(np.float64)
    start = REST_POSITIONS[BONES.index(b)]
    d = _unit(tuple(r[_J[b.target]] - start))  # type: ignore[arg-type]
    assert d is not None
    if not b.bend:
        return d, (0.0, 0.0, 0.0)
    fz = 1.0 if "elbow" in b.target else -1.0
    perp = _unit((-fz * d[2] * d[0], -fz * d[2] * d[1], fz * (1.0 - d[2] * d[2])))
    assert perp is not None
    return d, perp


class RigSolver:
    """COCO-17 joints -> rig rotations, one frame at a time (see the module docstring).

    After ``solve(joints)``: ``quats`` [shape=(n_bones, 4)] float64 local rotations
    (w, x, y, z), ``root`` [shape=(3,)] the Hips position, ``stretch`` [shape=(2,)].
    The arrays are preallocated and overwritten by each call.
    """

    def __init__(self) -> None:
        self.quats = np.zeros((NUM_BONES, 4))
        self.quats[:, 0] = 1.0
        self.root = np.zeros(3)
        self.stretch = np.ones(2)
        self._glob: list[Quat] = [_IDENTITY] * NUM_BONES
        self._prev: list[Quat] = [_IDENTITY] * NUM_BONES
        self._offs: list[Vec] = [_v(REST_OFFSETS, i) for i in range(NUM_BONES)]
        self._aim: list[tuple[Vec, Vec]] = [_bend_rest(b) if b.rule == "aim" else ((0, 0, 0), (0, 0, 0))
                                            for b in BONES]  # type: ignore[misc]
        r = rest_pose().astype(np.float64)
        nose_rest = _sub(_v(r, _J["nose"]), _v(REST_POSITIONS, BONE_NAMES.index("Neck")))
        ears_rest = _sub(_v(r, _J["left_ear"]), _v(r, _J["right_ear"]))
        head_rest = _frame(nose_rest, ears_rest, "yx")
        assert head_rest is not None
        self._head_rest_inv = _qconj(head_rest)
        self._targets = [(_J[b.target] if b.target else -1, _J[b.bend] if b.bend else -1) for b in BONES]
        self._pos: list[Vec] = [(0.0, 0.0, 0.0)] * NUM_BONES

    def reset(self) -> None:
        """Forget the previous frame (sign continuity starts again)."""
        self._prev = [_IDENTITY] * NUM_BONES
        self._glob = [_IDENTITY] * NUM_BONES

    def solve(self, joints: np.ndarray) -> np.ndarray:
        """joints: [shape=(17, 3)] metres. Returns ``quats`` (the preallocated array)."""
        j = joints
        lh, rh = _v(j, _J["left_hip"]), _v(j, _J["right_hip"])
        ls, rs = _v(j, _J["left_shoulder"]), _v(j, _J["right_shoulder"])
        root = (0.5 * (lh[0] + rh[0]), 0.5 * (lh[1] + rh[1]), 0.5 * (lh[2] + rh[2]))
        neck = (0.5 * (ls[0] + rs[0]), 0.5 * (ls[1] + rs[1]), 0.5 * (ls[2] + rs[2]))
        spine = _sub(neck, root)
        half = _sub(ls, neck)
        if all(math.isfinite(c) for c in root):
            self.root[0], self.root[1], self.root[2] = root
        s0 = math.sqrt(_dot(spine, spine)) / _STRETCH_REST[0]
        s1 = math.sqrt(_dot(half, half)) / _STRETCH_REST[1]
        if math.isfinite(s0) and math.isfinite(s1) and s0 > 1e-6 and s1 > 1e-6:
            self.stretch[0], self.stretch[1] = s0, s1
        glob, prev, pos, offs, q_out = self._glob, self._prev, self._pos, self._offs, self.quats
        stretch = (float(self.stretch[0]), float(self.stretch[1]))
        for i, b in enumerate(BONES):
            p = b.parent
            gp = glob[p] if p >= 0 else _IDENTITY
            if p < 0:
                here = (float(self.root[0]), float(self.root[1]), float(self.root[2]))
            else:
                o = offs[i]
                if b.stretch >= 0:
                    k = stretch[b.stretch]
                    o = (o[0] * k, o[1] * k, o[2] * k)
                ro = _qrot(gp, o)
                pp = pos[p]
                here = (pp[0] + ro[0], pp[1] + ro[1], pp[2] + ro[2])
            pos[i] = here
            g: Quat | None
            rule = b.rule
            if rule == "root":
                g = _frame(_sub(lh, rh), spine, "xy")
            elif rule == "chest":
                g = _frame(spine, _sub(ls, rs), "yx")
            elif rule == "head":
                f = _frame(_sub(_v(j, _J["nose"]), neck),
                           _sub(_v(j, _J["left_ear"]), _v(j, _J["right_ear"])), "yx")
                g = None if f is None else _qmul(f, self._head_rest_inv)
            elif rule == "aim":
                g = self._aim_global(i, gp, here, j)
            elif rule == "lock":
                g = glob[0]
            else:
                g = gp
            if g is None or not all(math.isfinite(c) for c in g):
                g = _qmul(gp, prev[i])  # degenerate: keep last frame's local rotation
            glob[i] = g
            local = _qmul(_qconj(gp), g)
            n = math.sqrt(_dot(local[1:], local[1:]) + local[0] * local[0])
            last = prev[i]
            if local[0] * last[0] + local[1] * last[1] + local[2] * last[2] + local[3] * last[3] < 0.0:
                n = -n
            local = (local[0] / n, local[1] / n, local[2] / n, local[3] / n)
            prev[i] = local
            q_out[i, 0], q_out[i, 1], q_out[i, 2], q_out[i, 3] = local
        return q_out

    def _aim_global(self, i: int, gp: Quat, here: Vec, j: np.ndarray) -> Quat | None:
        ti, bi = self._targets[i]
        d_rest, bend_rest = self._aim[i]
        d = _unit(_sub(_v(j, ti), here))
        cur = _unit(_qrot(gp, d_rest))
        if d is None or cur is None:
            return None
        g = _qmul(_swing(cur, d), gp)
        if bi < 0:
            return g
        lower = _unit(_sub(_v(j, bi), _v(j, ti)))
        if lower is None:
            return g
        k = _dot(lower, d)
        p = (lower[0] - k * d[0], lower[1] - k * d[1], lower[2] - k * d[2])
        bent = math.sqrt(_dot(p, p))  # sine of the bend angle
        if bent <= TWIST_FROM:
            return g  # (nearly) straight: twist undefined, none
        b = _qrot(g, bend_rest)  # where the bend direction points after the swing
        theta = math.atan2(_dot(d, _cross(b, p)), _dot(b, p))
        theta *= min(1.0, (bent - TWIST_FROM) / (TWIST_FULL - TWIST_FROM))
        sh, ch = math.sin(0.5 * theta), math.cos(0.5 * theta)
        return _qmul((ch, d[0] * sh, d[1] * sh, d[2] * sh), g)


# ------------------------------------------------------------------------- whole dances


@dataclass
class RigMotion:
    """A dance on the rig: root [shape=(t, 3)] m, quats [shape=(t, n_bones, 4)] local
    (w, x, y, z), stretch [shape=(t, 2)]."""

    root: np.ndarray
    quats: np.ndarray
    stretch: np.ndarray


def solve_rotations(poses: np.ndarray) -> RigMotion:
    """Rig rotations of a dance: poses [shape=(t, 17, 3)] metres -> RigMotion."""
    p = np.asarray(poses, dtype=np.float64)
    if p.ndim != 3 or p.shape[1:] != (NUM_JOINTS, 3):
        raise ValueError(f"poses must have shape (t, {NUM_JOINTS}, 3), got {p.shape}")
    t = p.shape[0]
    out = RigMotion(np.empty((t, 3)), np.empty((t, NUM_BONES, 4)), np.empty((t, 2)))
    s = RigSolver()
    for k in range(t):
        out.quats[k] = s.solve(p[k])
        out.root[k] = s.root
        out.stretch[k] = s.stretch
    return out


def quat_to_matrix(q: np.ndarray) -> np.ndarray:
    """Unit quaternions [shape=(..., 4)] (w x y z) -> rotation matrices [shape=(..., 3, 3)]."""
    q = np.asarray(q, dtype=np.float64)
    w, x, y, z = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    m = np.empty(q.shape[:-1] + (3, 3))
    m[..., 0, 0] = 1 - 2 * (y * y + z * z)
    m[..., 0, 1] = 2 * (x * y - w * z)
    m[..., 0, 2] = 2 * (x * z + w * y)
    m[..., 1, 0] = 2 * (x * y + w * z)
    m[..., 1, 1] = 1 - 2 * (x * x + z * z)
    m[..., 1, 2] = 2 * (y * z - w * x)
    m[..., 2, 0] = 2 * (x * z - w * y)
    m[..., 2, 1] = 2 * (y * z + w * x)
    m[..., 2, 2] = 1 - 2 * (x * x + y * y)
    return m


def forward_kinematics(motion: RigMotion, *, stretch: bool = True) -> np.ndarray:
    """World positions of every bone's head [shape=(t, n_bones, 3)] from the rotations on
    the rest skeleton (``stretch=False`` ignores the torso stretch factors)."""
    rot = quat_to_matrix(motion.quats)
    t = rot.shape[0]
    glob = np.empty_like(rot)
    pos = np.empty((t, NUM_BONES, 3))
    for i, b in enumerate(BONES):
        if b.parent < 0:
            glob[:, i] = rot[:, i]
            pos[:, i] = motion.root
            continue
        off = np.broadcast_to(REST_OFFSETS[i], (t, 3))
        if stretch and b.stretch >= 0:
            off = off * motion.stretch[:, b.stretch: b.stretch + 1]
        glob[:, i] = glob[:, b.parent] @ rot[:, i]
        pos[:, i] = pos[:, b.parent] + np.einsum("tij,tj->ti", glob[:, b.parent], off)
    return pos


def rig_to_coco(positions: np.ndarray) -> np.ndarray:
    """Bone positions [shape=(t, n_bones, 3)] -> COCO-17 joints [shape=(t, 17, 3)]."""
    return np.asarray(positions)[:, list(COCO_BONE)]
