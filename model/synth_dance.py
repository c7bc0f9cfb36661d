"""The synthetic choreographer: a dancer for every song of the music synthesiser.

No dance data can be downloaded here, so the shipped model and the tests train on data
made by this module. Four styles, each paired with a musical feel and a tempo range:

========  =========  ========  =============================================
style     feel       BPM       character
========  =========  ========  =============================================
house     house      115-132   bouncing jacks, step-touch, kicks, shuffles, spins
hiphop    hiphop      80-104   deep bounce down on the beat, rocks, two-steps
ballet    waltz       78-126   port de bras, balancé, arabesque, pirouette, plié
popping   breakbeat   90-120   hits that stop on the beat, then a pop: fresno, robot, waves
========  =========  ========  =============================================

How a dance is made (``render_dance``):

1. The song's beat grid gives every pose frame a fractional beat position.
2. Phrases of 4 or 8 bars each pick a move from the style's vocabulary
   (model/synth_moves.py), never the same twice in a row, mirrored left/right at
   random (travelling moves towards the centre of the stage), with per-phrase jitter of
   the key poses, amplitude and sometimes half-time, and a random facing.
3. Key poses are one per beat; between keys the style's easing curve runs (smoothstep
   for house and hip-hop, a flowing curve for ballet, a late hit and a chest pop for
   popping), so the
   motion slows to its minimum on every beat: the velocity minima land on the beats and
   the Beat Align Score is high. House and hip-hop add a knee bounce down on the beat.
4. The amplitude follows the song's per-beat energy (low in intros and breaks).
5. A new phrase crossfades from the old move over its first beat.
6. Poses come from the parameters by two-bone inverse kinematics for arms and legs and
   rigid rotations for torso and head, then model.skeleton.project_to_lengths: bone
   lengths are exact. Supporting feet stand on the floor (the hips drop when the feet
   are wide), stepping feet lift in an arc, so planted feet do not slide.

Usage::

    song = render_song(feel="waltz", bpm=96, seconds=60, seed=3)
    dance = render_dance(song, style="ballet", fps=30, seed=3)
    dance.poses  # float32 [shape=(t, 17, 3)], frame k at time k / fps
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from model.constants import SAMPLE_RATE
from model.errors import ConfigError
from model.skeleton import (
    ANKLE_HEIGHT,
    CANONICAL_BONE_LENGTHS,
    STANDING_ROOT_HEIGHT,
    project_to_lengths,
    rest_pose,
)
from model.synth_moves import NEUTRAL, VOCABULARY, Move, P, mirror_params


@dataclass(frozen=True)
class StyleSpec:
    feel: str
    bpm: tuple[float, float]
    ease: str  # "smooth", "flow" or "hit"
    bounce: float  # knee dip on the beat, metres
    nod: float  # head nod on the beat, radians
    halftime: float  # probability of a half-time phrase
    pop: float = 0.0  # chest pop (radians) flexed just after each beat


STYLES: dict[str, StyleSpec] = {
    "house": StyleSpec("house", (115.0, 132.0), "smooth", 0.03, 0.05, 0.2),
    "hiphop": StyleSpec("hiphop", (80.0, 104.0), "smooth", 0.045, 0.15, 0.2),
    "ballet": StyleSpec("waltz", (78.0, 126.0), "flow", 0.0, 0.0, 0.0),
    "popping": StyleSpec("breakbeat", (90.0, 120.0), "hit", 0.0, 0.0, 0.0, pop=0.12),
}

# Parameters scaled by the amplitude (the rest are positions that must stay consistent).
_AMP_IDX = np.r_[P.DY, P.PITCH, P.ROLL, P.TWIST, P.HPITCH, P.HYAW, P.HROLL, 10:18]
_JITTER = np.zeros(P.DIM)
_JITTER[[P.PITCH, P.ROLL, P.TWIST, P.HPITCH, P.HYAW, P.HROLL]] = 0.05
_JITTER[10:16] = 0.035
_JITTER[[P.LELB, P.RELB]] = 0.15
_JITTER[P.DY] = 0.01
KNEES = P.DIM  # extra column: knee flare of the move
_W = P.DIM + 1

_REST = rest_pose()
_ANKLE_REST = {"l": _REST[15, [0, 2]].astype(np.float64), "r": _REST[16, [0, 2]].astype(np.float64)}
_SHOULDER = _REST[5].astype(np.float64)  # left shoulder relative to the root
_NECK = 0.5 * (_REST[5] + _REST[6]).astype(np.float64)
_HEAD = (_REST[:5] - _NECK).astype(np.float64)  # nose, eyes, ears relative to the neck
L_THIGH, L_SHIN = float(CANONICAL_BONE_LENGTHS[13]), float(CANONICAL_BONE_LENGTHS[15])
L_UPPER, L_FORE = float(CANONICAL_BONE_LENGTHS[7]), float(CANONICAL_BONE_LENGTHS[9])
HIP_HALF = float(_REST[11, 0])
SUPPORT_LIFT = 0.03
"""A foot lifted less than this (m) carries weight: the hips stay low enough to reach it."""


@dataclass
class Dance:
    """A rendered dance: poses [shape=(t, 17, 3)] float32 at ``fps``, frame k at k / fps,
    and the phrase log (start time s, move name, mirrored)."""

    poses: np.ndarray
    fps: int
    style: str
    phrases: list[tuple[float, str, bool]] = field(default_factory=list)


# --------------------------------------------------------------------------- easing


def ease(phi: np.ndarray, kind: str) -> np.ndarray:
    """Progress 0..1 between two keys for beat fraction ``phi`` in [0, 1); the speed is
    lowest at phi = 0 (the beat) for every kind."""
    if kind == "smooth":
        return phi * phi * (3.0 - 2.0 * phi)
    if kind == "flow":
        return phi - 0.9 * np.sin(2.0 * np.pi * phi) / (2.0 * np.pi)
    if kind == "hit":  # hold around the beat, a fast hit that stops just before the next
        s = np.clip((phi - 0.5) / 0.38, 0.0, 1.0)
        return s * s * (3.0 - 2.0 * s)
    raise ValueError(f"unknown easing {kind!r}")


# --------------------------------------------------------------------------- rotations


def _rot(axis: str, a: np.ndarray) -> np.ndarray:
    """Rotation matrices [shape=(t, 3, 3)] about x, y or z by angles a [shape=(t,)]."""
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    if axis == "x":
        m = [[o, z, z], [z, c, -s], [z, s, c]]
    elif axis == "y":
        m = [[c, z, s], [z, o, z], [-s, z, c]]
    else:
        m = [[c, -s, z], [s, c, z], [z, z, o]]
    return np.moveaxis(np.array(m), (0, 1), (-2, -1))


def _apply(r: np.ndarray, v: np.ndarray) -> np.ndarray:
    return np.einsum("tij,tj->ti", r, np.broadcast_to(v, (len(r), 3)))


def _yaw_xz(yaw: np.ndarray, x: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    c, s = np.cos(yaw), np.sin(yaw)
    return x * c + z * s, -x * s + z * c


def two_bone_ik(a: np.ndarray, target: np.ndarray, l1: float, l2: float, pole: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Middle and end joint of a two-bone chain from ``a`` toward ``target``, bending
    toward ``pole``. All [shape=(t, 3)]; the end is the target when reachable, else the
    nearest reachable point on the line to it. Bone lengths are exact."""
    d_vec = target - a
    d = np.linalg.norm(d_vec, axis=-1, keepdims=True)
    u = d_vec / np.maximum(d, 1e-9)
    dc = np.clip(d, abs(l1 - l2) + 1e-4, (l1 + l2) * 0.9999)
    x = (l1 * l1 - l2 * l2 + dc * dc) / (2.0 * dc)
    h = np.sqrt(np.maximum(l1 * l1 - x * x, 0.0))
    pp = pole - np.sum(pole * u, axis=-1, keepdims=True) * u
    n = np.linalg.norm(pp, axis=-1, keepdims=True)
    alt = np.cross(u, np.array([1.0, 0.0, 0.0]))
    pp = np.where(n > 1e-6, pp / np.maximum(n, 1e-9), alt / np.maximum(np.linalg.norm(alt, axis=-1, keepdims=True), 1e-9))
    return a + x * u + h * pp, a + dc * u


# --------------------------------------------------------------------------- pose builder


def build_poses(w: np.ndarray) -> np.ndarray:
    """Poses [shape=(t, 17, 3)] float32 from world parameters [shape=(t, P.DIM + 1)]
    (RX/RZ: root x, z on the stage; YAW: facing; LF/RF: foot x, lift, z on the stage;
    the rest as in model/synth_moves.py; last column: knee flare)."""
    t = len(w)
    yaw = w[:, P.YAW]
    ry = _rot("y", yaw)
    root = np.zeros((t, 3))
    root[:, 0], root[:, 2] = w[:, P.RX], w[:, P.RZ]
    feet = {"l": w[:, P.LF], "r": w[:, P.RF]}
    hips = {s: root + _apply(ry, np.array([sign * HIP_HALF, 0.0, 0.0])) for s, sign in (("l", 1.0), ("r", -1.0))}
    # Root height: as asked, but low enough for every supporting foot to reach the floor.
    y = STANDING_ROOT_HEIGHT + w[:, P.DY]
    reach = 0.985 * (L_THIGH + L_SHIN)
    for s in ("l", "r"):
        f = feet[s]
        horiz = np.hypot(f[:, 0] - hips[s][:, 0], f[:, 2] - hips[s][:, 2])
        ymax = ANKLE_HEIGHT + f[:, 1] + np.sqrt(np.maximum(reach**2 - np.minimum(horiz, reach * 0.999) ** 2, 0.0))
        y = np.where(f[:, 1] < SUPPORT_LIFT, np.minimum(y, ymax), y)
    root[:, 1] = y
    for s in ("l", "r"):
        hips[s][:, 1] = y
    out = np.zeros((t, 17, 3))
    out[:, 11], out[:, 12] = hips["l"], hips["r"]
    for s, sign, (kj, aj) in (("l", 1.0, (13, 15)), ("r", -1.0, (14, 16))):
        target = np.stack([feet[s][:, 0], ANKLE_HEIGHT + feet[s][:, 1], feet[s][:, 2]], axis=1)
        flare = w[:, KNEES][:, None]
        pole = _apply(ry, np.array([0.0, 0.0, 1.0])) + flare * _apply(ry, np.array([sign, 0.0, 0.0]))
        out[:, kj], out[:, aj] = two_bone_ik(hips[s], target, L_THIGH, L_SHIN, pole)
    rs = ry @ _rot("y", w[:, P.TWIST]) @ _rot("x", w[:, P.PITCH]) @ _rot("z", -w[:, P.ROLL])
    sh_l = root + _apply(rs, _SHOULDER)
    sh_r = root + _apply(rs, _SHOULDER * np.array([-1.0, 1.0, 1.0]))
    out[:, 5], out[:, 6] = sh_l, sh_r
    neck = root + _apply(rs, _NECK)
    rh = rs @ _rot("y", w[:, P.HYAW]) @ _rot("x", w[:, P.HPITCH]) @ _rot("z", -w[:, P.HROLL])
    out[:, :5] = neck[:, None, :] + np.einsum("tij,kj->tki", rh, _HEAD)
    for sh, hand, elb, sign, (ej, wj) in ((sh_l, P.LH, P.LELB, 1.0, (7, 9)), (sh_r, P.RH, P.RELB, -1.0, (8, 10))):
        target = sh + np.einsum("tij,tj->ti", rs, w[:, hand])
        pole_local = np.stack([sign * (0.25 + w[:, elb]), np.full(t, -0.5), np.full(t, -0.6)], axis=1)
        pole = np.einsum("tij,tj->ti", rs, pole_local)
        out[:, ej], out[:, wj] = two_bone_ik(sh, target, L_UPPER, L_FORE, pole)
    return project_to_lengths(out.astype(np.float32))


# --------------------------------------------------------------------------- phrases


@dataclass
class _Phrase:
    move: Move
    keys: np.ndarray  # [cycles, beats + 1, DIM] local params (see _phrase_keys)
    stretch: int  # beats per key (2 = half time)
    start: float  # beat index where the phrase starts
    length: int  # beats
    anchor: tuple[float, float, float]  # x, z, yaw at the phrase start
    mirrored: bool
    scale: float


def _phrase_keys(move: Move, *, mirrored: bool, cycles: int, rng: np.random.Generator) -> np.ndarray:
    """Key poses of every cycle [shape=(cycles, beats + 1, DIM)]: the move's keys
    (mirrored), the last one the first shifted by the travel, each key with its own
    jitter and amplitude so that no two cycles are the same; key 0 of a cycle equals
    the last key of the previous cycle except for the travel."""
    base = np.stack(move.keys)
    if mirrored:
        base = mirror_params(base)
    tx, tz, tyaw = move.travel
    if mirrored:
        tx, tyaw = -tx, -tyaw
    end = base[0].copy()
    end[P.RX] += tx
    end[P.RZ] += tz
    end[[18, 21]] += tx
    end[[20, 23]] += tz
    end[P.YAW] += tyaw
    end[P.FYAW] += tyaw
    base = np.vstack([base, end[None]])
    nb = move.beats
    flat = cycles * nb + 1
    jitter = rng.normal(0.0, 1.0, (flat, P.DIM)) * _JITTER
    scale = rng.uniform(0.85, 1.15, flat)
    out = np.empty((cycles, nb + 1, P.DIM))
    for c in range(cycles):
        j = c * nb + np.arange(nb + 1)
        keys = base.copy()
        keys[:, _AMP_IDX] = NEUTRAL[_AMP_IDX] + scale[j, None] * (keys[:, _AMP_IDX] - NEUTRAL[_AMP_IDX])
        out[c] = keys + jitter[j]
    return out


def _eval_phrase(ph: _Phrase, u: np.ndarray, kind: str) -> np.ndarray:
    """World parameters [shape=(n, _W)] of phrase ``ph`` at beats ``u`` since its start."""
    nk = ph.move.beats
    cyc_beats = nk * ph.stretch
    c = np.minimum(np.floor(u / cyc_beats).astype(int), len(ph.keys) - 1)
    v = np.minimum((u - c * cyc_beats) / ph.stretch, nk - 1e-9)
    i = np.minimum(np.floor(v).astype(int), nk - 1)
    phi = v - i
    e = ease(phi, kind)[:, None]
    k0, k1 = ph.keys[c, i], ph.keys[c, i + 1]
    loc = k0 + e * (k1 - k0)
    # Stepping feet lift in an arc; the lift is highest mid-step.
    arc = np.sin(np.pi * e[:, 0])
    for fs in (P.LF, P.RF):
        dx, dz = k1[:, fs.start] - k0[:, fs.start], k1[:, fs.start + 2] - k0[:, fs.start + 2]
        dyaw = k1[:, P.FYAW] - k0[:, P.FYAW]
        radius = np.hypot(k0[:, fs.start] + _ANKLE_REST["l" if fs == P.LF else "r"][0], k0[:, fs.start + 2])
        step = np.hypot(dx, dz) + np.abs(dyaw) * radius
        loc[:, fs.start + 1] += np.where(step > 0.01, np.minimum(0.1, 0.03 + 0.35 * step), 0.0) * arc
    # Amplitude (energy and per-phrase scale) around the neutral pose.
    amp = ph.scale
    loc[:, _AMP_IDX] = NEUTRAL[_AMP_IDX] + amp * (loc[:, _AMP_IDX] - NEUTRAL[_AMP_IDX])
    # Anchor of each cycle: the phrase anchor advanced by the travel of earlier cycles.
    k_first, k_last = ph.keys[0, 0], ph.keys[0, -1]
    tx, tz, tyaw = (k_last[P.RX] - k_first[P.RX], k_last[P.RZ] - k_first[P.RZ], k_last[P.YAW] - k_first[P.YAW])
    ax = np.empty(c.max() + 1 if len(c) else 1)
    az, ayaw = np.empty_like(ax), np.empty_like(ax)
    x, z, yaw = ph.anchor
    for k in range(len(ax)):
        ax[k], az[k], ayaw[k] = x, z, yaw
        dx, dz = _yaw_xz(np.array(yaw), np.array(tx), np.array(tz))
        x, z, yaw = x + float(dx), z + float(dz), yaw + tyaw
    x0, z0, y0 = ax[c], az[c], ayaw[c]
    out = np.zeros((len(u), _W))
    out[:, : P.DIM] = loc
    rx, rz = _yaw_xz(y0, loc[:, P.RX], loc[:, P.RZ])
    out[:, P.RX], out[:, P.RZ] = x0 + rx, z0 + rz
    out[:, P.YAW] = y0 + loc[:, P.YAW]
    for fs, side in ((P.LF, "l"), (P.RF, "r")):
        fx = _ANKLE_REST[side][0] + loc[:, fs.start]
        fz = _ANKLE_REST[side][1] + loc[:, fs.start + 2]
        fx, fz = _yaw_xz(loc[:, P.FYAW], fx, fz)
        fx, fz = _yaw_xz(y0, fx, fz)
        out[:, fs.start], out[:, fs.start + 2] = x0 + fx, z0 + fz
    out[:, P.FYAW] = y0 + loc[:, P.FYAW]
    out[:, KNEES] = ph.move.knees_out
    return out


def _phrase_end_anchor(ph: _Phrase) -> tuple[float, float, float]:
    w = _eval_phrase(ph, np.array([float(ph.length)]), "smooth")
    k = ph.keys[0, 0]
    yaw = float(w[0, P.YAW] - k[P.YAW])
    rx, rz = _yaw_xz(np.array(yaw), np.array(k[P.RX]), np.array(k[P.RZ]))
    return float(w[0, P.RX] - rx), float(w[0, P.RZ] - rz), float(np.angle(np.exp(1j * yaw)))


def beat_position(t: np.ndarray, beats: np.ndarray) -> np.ndarray:
    """Fractional beat index at times ``t`` (s) on a beat grid (extrapolated at both ends)."""
    b = np.asarray(beats, dtype=np.float64)
    if len(b) < 2:
        raise ConfigError("a song needs at least two beats to dance to")
    d0, d1 = b[1] - b[0], b[-1] - b[-2]
    ext = np.concatenate([[b[0] - 64 * d0], b, [b[-1] + 4096 * d1]])
    idx = np.concatenate([[-64.0], np.arange(len(b), dtype=np.float64), [len(b) - 1 + 4096.0]])
    return np.interp(t, ext, idx)


def render_dance(song: object, *, style: str, fps: int, seed: int) -> Dance:
    """Choreograph ``song`` (a model.synth_music.Song, or anything with ``beats``,
    ``beats_per_bar``, ``energy`` and ``seconds``) in ``style`` at ``fps``."""
    if style not in STYLES:
        raise ConfigError(f"unknown dance style {style!r}; use one of {', '.join(STYLES)}")
    spec = STYLES[style]
    vocab = VOCABULARY[style]
    rng = np.random.default_rng(seed)
    beats = np.asarray(song.beats, dtype=np.float64)  # type: ignore[attr-defined]
    bpb = int(song.beats_per_bar)  # type: ignore[attr-defined]
    energy = np.asarray(song.energy, dtype=np.float64)  # type: ignore[attr-defined]
    n = int(np.floor(float(song.seconds) * fps))  # type: ignore[attr-defined]
    t = np.arange(n) / fps
    b = beat_position(t, beats)
    # Phrases from beat 0 to the end of the song.
    phrases: list[_Phrase] = []
    start, anchor, last = 0.0, (0.0, 0.0, 0.0), ""
    end_beat = float(b[-1]) + 2.0 if n else 0.0
    while start < end_beat:
        length = bpb * int(rng.choice([4, 8]))
        choices = [m for m in vocab if m.name != last]
        move = choices[int(rng.integers(len(choices)))]
        stretch = 2 if rng.random() < spec.halftime and length % (2 * move.beats) == 0 else 1
        if move.travel[0]:  # travel back toward the centre of the stage
            mirrored = (anchor[0] > 0) == (move.travel[0] > 0) if abs(anchor[0]) > 0.3 else bool(rng.random() < 0.5)
        else:
            mirrored = bool(rng.random() < 0.5)
        facing = float(rng.uniform(-0.35, 0.35))
        cycles = length // (move.beats * stretch) + 2  # one more for the crossfade after the phrase
        ph = _Phrase(move, _phrase_keys(move, mirrored=mirrored, cycles=cycles, rng=rng), stretch, start, length,
                     (anchor[0], anchor[1], facing), mirrored, float(rng.uniform(0.85, 1.15)))
        phrases.append(ph)
        anchor = _phrase_end_anchor(ph)
        last = move.name
        start += length
    w = np.zeros((n, _W))
    for k, ph in enumerate(phrases):
        sel = (b >= ph.start) & (b < ph.start + ph.length)
        if not sel.any():
            continue
        u = b[sel] - ph.start
        cur = _eval_phrase(ph, u, spec.ease)
        if k > 0:  # crossfade from the previous move over the first beat
            fade = u < 1.0
            if fade.any():
                prev = _eval_phrase(phrases[k - 1], phrases[k - 1].length + u[fade], spec.ease)
                a = ease(u[fade], "smooth")[:, None]
                d_yaw = np.angle(np.exp(1j * (cur[fade][:, [P.YAW, P.FYAW]] - prev[:, [P.YAW, P.FYAW]])))
                mix = prev + a * (cur[fade] - prev)
                mix[:, [P.YAW, P.FYAW]] = prev[:, [P.YAW, P.FYAW]] + a * d_yaw
                cur[fade] = mix
        w[sel] = cur
    # Energy follows the music beat by beat; bounce and nod land on the beat.
    e_beat = np.interp(b, np.arange(len(energy)), energy) if len(energy) else np.ones(n)
    amp = 0.55 + 0.6 * np.clip(e_beat, 0.0, 1.0)
    w[:, _AMP_IDX] = NEUTRAL[_AMP_IDX] + amp[:, None] * (w[:, _AMP_IDX] - NEUTRAL[_AMP_IDX])
    pulse = 0.5 + 0.5 * np.cos(2.0 * np.pi * (b - np.floor(b)))
    w[:, P.DY] -= spec.bounce * amp * pulse
    w[:, P.HPITCH] += spec.nod * amp * pulse
    if spec.pop:  # a pop (chest out, shoulders up) after the hold that the beat centres
        frac = b - np.floor(b)
        bump = np.where((frac > 0.12) & (frac < 0.42), np.sin(np.pi * (frac - 0.12) / 0.3) ** 2, 0.0) * amp
        w[:, P.PITCH] -= spec.pop * bump
        w[:, P.DY] += 0.02 * bump
        w[:, 11] += 0.04 * bump
        w[:, 14] += 0.04 * bump
    poses = build_poses(w) if n else np.zeros((0, 17, 3), np.float32)
    log = [(float(np.interp(ph.start, np.arange(len(beats)), beats)), ph.move.name, ph.mirrored) for ph in phrases]
    return Dance(poses=poses, fps=fps, style=style, phrases=log)


# --------------------------------------------------------------------------- data sets


def synthesize_dataset(
    out: str | Path,
    *,
    minutes: float,
    styles: Sequence[str] = tuple(STYLES),
    seed: int = 0,
    fps: int = 30,
    sample_rate: int = SAMPLE_RATE,
    clip_seconds: tuple[float, float] = (40.0, 80.0),
    progress: Callable[[int, int, float], None] | None = None,
) -> list[dict[str, Any]]:
    """Render ``minutes`` of songs and dances, split evenly over ``styles``, into the
    dataset folder ``out`` (model/dataset.py format; appends when it exists).

    Each clip: a song of the style's feel at a random tempo in its range (some with a
    tempo change or a break), 40-80 s, its dance, and the ground-truth beats. Clip ids
    are ``<style>_s<seed>_<n>``. ``progress(done_s, total_s, elapsed_s)`` is called
    after every clip. Returns the new manifest entries.
    """
    from model.dataset import DatasetWriter
    from model.synth_music import render_song

    for s in styles:
        if s not in STYLES:
            raise ConfigError(f"unknown dance style {s!r}; use some of {', '.join(STYLES)}")
    if minutes <= 0:
        raise ConfigError(f"--minutes must be positive, got {minutes:g}")
    total = minutes * 60.0
    per_style = total / len(styles)
    plan: list[tuple[str, float]] = []
    rng = np.random.default_rng(seed)
    for s in styles:
        left = per_style
        while left > 1e-6:
            length = float(rng.uniform(*clip_seconds))
            if left - length < clip_seconds[0] * 0.5:
                length = left if left < clip_seconds[1] * 1.5 else length
            length = min(length, left)
            plan.append((s, length))
            left -= length
    order = rng.permutation(len(plan))
    entries: list[dict[str, Any]] = []
    done = 0.0
    t0 = time.perf_counter()
    with DatasetWriter(out) as w:
        for n, k in enumerate(order):
            style, seconds = plan[int(k)]
            spec = STYLES[style]
            crng = np.random.default_rng([seed, n])
            bpm = round(float(crng.uniform(*spec.bpm)), 1)
            change = None
            brk = None
            if seconds > 30 and crng.random() < 0.15:
                new = float(np.clip(bpm + crng.choice([-1, 1]) * crng.uniform(4, 10), *spec.bpm))
                change = (round(float(crng.uniform(0.4, 0.7) * seconds), 2), round(new, 1))
            if seconds > 30 and crng.random() < 0.15:
                brk = (round(float(crng.uniform(0.3, 0.6) * seconds), 2), round(float(crng.uniform(3.0, 7.0)), 2))
            song_seed = int(crng.integers(2**31 - 1))
            song = render_song(feel=spec.feel, bpm=bpm, seconds=seconds, seed=song_seed,
                               sample_rate=sample_rate, tempo_change=change, break_at=brk)
            dance = render_dance(song, style=style, fps=fps, seed=song_seed)
            entry = w.add_clip(
                id=f"{style}_s{seed}_{n:04d}", poses=dance.poses, fps=fps, style=style,
                source="synthetic:model.synth_dance", licence="CC0: generated by DanceMuse",
                audio=song.audio, sample_rate=song.sample_rate, beats=song.beats, downbeats=song.downbeats,
                extra={"feel": spec.feel, "bpm": bpm, "song_seed": song_seed, "tempo_change": change,
                       "break_at": brk, "moves": [m for _, m, _ in dance.phrases]},
            )
            entries.append(entry)
            done += seconds
            if progress is not None:
                progress(int(done), int(total), time.perf_counter() - t0)
    return entries
