"""Dancer metrics of issue 10 (numpy and scipy, no torch): how musical, varied and human a dance
is. Joint speeds and the pose check are model.metrics' (``joint_speeds`` is re-exported here).

Every function takes absolute poses ``[shape=(t, 17, 3)]`` in metres, y up (COCO-17, see
model.skeleton) and the frame rate explicitly; times are in seconds.

Definitions
-----------
off_beats
    The midpoints between consecutive beats (the same beats shifted half a beat). The
    Beat Align Score against them, next to the score against the beats themselves, says
    whether a dance hears the beat or merely moves often.
limb_speed_ratio
    Mean world-space speed of the feet (ankles) over the mean speed of the hands (wrists):
    the ends of the legs and arms. A dancer with planted feet and pumping arms scores
    ~0.2; dance data with footwork 0.4-1.
section_speed_ratio
    Mean joint speed (all 17 joints, world space) inside a time section over the mean
    speed outside it. The first ``settle_s`` after each edge of the section is skipped on
    both sides (a causal dancer needs a moment to react).
pose_spread
    Size of the moves: per joint the RMS distance of its root-relative position from its
    mean position over the dance, averaged over joints (m).
seed_agreement
    Share of whole seconds in which two dances of the same music are within ``tol`` of
    each other: mean distance over the second's frames and the 17 joints, root-relative
    (m). Two seeds (or two variations) should give different dances.
repetition
    Cut the dance into windows of ``window_s`` (hop ``hop_s``), root-relative and
    subsampled to ~10 fps; distance = RMS joint distance between two windows frame by
    frame. Per window: distance to the nearest other window starting at least ``gap_s``
    away, over the mean distance of all window pairs at least ``gap_s`` apart. 0 = the
    same 2 s repeat; ~1 = never comes back to the same motion. Min and median over windows.
beat_dip
    How much the dance slows on the beat: the root-relative mean joint speed over its mean,
    s_t, fitted as s ~ 1 - g cos(2 pi phase) against the beats: g = -2 mean(s_t cos).
    0 = the same speed on and off the beat; the synthetic styles' data 0.2-0.8 (ballet
    slows most), the mocap takes on their fitted beat grids ~0. The training term
    ``[train] w_beat`` uses the same fit (against the beat the model hears).
beat_profile
    The shape of the same normalised speed s_t through the beat: its Fourier coefficients
    (a1, b1, a2, b2, ...) against the beat phase, a_k = 2 mean(s_t cos(2 pi k phase)),
    b_k = 2 mean(s_t sin(2 pi k phase)); so a1 = -beat_dip. A second harmonic is a dancer
    slowing on the half beat too (the synthetic house 0.40, hip-hop 0.26), a sine term one
    whose slowest moment is off the beat (locking's late point), popping's hits several.
    ``dancemuse calibrate`` gives the groove each style's profile (model.energy_calib).
accent_sharpness
    How abruptly the dance speeds up and stops: per window of ``window_s``, the mean
    |change| per second of the root-relative mean joint speed over that speed's mean;
    median over windows. Smooth flow scores low (salsa's data ~1), hits high (popping's).
fast_share
    Share of the power of the root-relative mean joint speed (mean removed) at ``lo_hz`` and
    above (to the Nyquist frequency): the hits. Popping's data ~0.4, a flowing style's ~0.01.
    The one-euro smoothing of the post-processing lowers it; ``dancemuse calibrate`` uses it
    to choose how much each style is smoothed (model.energy_calib).
stance
    How the dancer stands, two heights (m): the root (mid-hip) over the lower ankle (a knee
    bend or a crouch lowers it; a standing adult ~0.8-0.85, the synthetic hip-hop's data 0.77,
    breaking's ~0.55) and the nose over the root (a torso bent or leaning lowers it; upright
    ~0.6). Means over the dance. They tell apart two stances the style classifier reads from
    its mean joint positions: bent knees under an upright torso, or straight legs under a
    bent one.
root_radius
    Horizontal distance of the root (mid-hip) from the stage centre x = z = 0: max and
    95th percentile (m).
foot_sliding
    Mean horizontal speed (m/s) of an ankle while it is in contact with the floor:
    within ``FOOT_MARGIN`` of the floor height (the 2nd percentile of the lower ankle's
    height over the dance) in both frames of a step and moving vertically slower than
    ``CONTACT_VSPEED``. Also the share of contact steps that slide faster than
    ``SLIDE_SPEED``.
off_floor
    Share of frames in which no joint comes within ``OFF_FLOOR_M`` of standing on the floor:
    the lowest joint is more than that above a standing ankle's height (``ANKLE_HEIGHT`` over
    y = 0, the floor of the skeleton, the importers and the post-processing). A jump counts
    while it is in the air; a dancer whose feet hover over the floor counts all the time
    (the training data: 0-5 % per style).
under_floor
    Share of frames in which some joint is under the floor (y < 0): a hand or knee through it.
floor_gap
    How high a standing dancer's lower foot is over the floor (m, median): the lower ankle's
    height over ``ANKLE_HEIGHT`` in the frames where the hips stand (over ``STAND_HIP_M``) and
    that ankle is within ``OFF_FLOOR_M`` of it (a jump left out). A dancer standing on the floor
    reads 0; one that hovers a few centimetres over it reads that (the synthetic data 0, the
    motion capture about 0.02: its ankle markers sit higher than the skeleton's ankle).
skating
    Share of ``foot_sliding``'s contact steps in which the ankle is within ``SKATE_M`` of the
    floor height and moves faster than ``SKATE_SPEED`` along it: a foot skating on the floor
    where a dancer would lift it to step (the training data: freestyle 1.1 %, salsa 0.7 %,
    breaking's floor sweeps 7.2 %).
straight_legs
    Share of leg-frames (each leg in each frame) in which the hip-ankle distance is at least
    ``STRAIGHT_LEG`` of the thigh and shin together: a knee locked straight. The synthetic styles'
    training legs never are (ballet's 90th percentile 0.985), the motion capture's in 1-7 % (kicks,
    floor work); IK that reaches for a planted foot at full length is, and there its knee snaps.
made_pops
    Share of frames in which some joint moves over ``POP_SPEED`` (20 cm in a frame at 30 fps)
    and ``POP_RATIO`` times as fast as in the generator's raw output: a jump the
    post-processing made (a knee swapping sides about a folded leg, a body lifted off the floor
    at once), not one the model drew.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from model.metrics import _poses, joint_speeds
from model.skeleton import ANKLE_HEIGHT, FEET, JOINT_INDEX, root_of

LEGS = (JOINT_INDEX["left_ankle"], JOINT_INDEX["right_ankle"])
ARMS = (JOINT_INDEX["left_wrist"], JOINT_INDEX["right_wrist"])
FOOT_MARGIN = 0.05
"""An ankle within this many metres of the floor height may be in contact."""
CONTACT_VSPEED = 0.15
"""An ankle in contact moves vertically slower than this (m/s)."""
SLIDE_SPEED = 0.10
"""A contact step whose horizontal ankle speed exceeds this (m/s) counts as sliding."""
SKATE_M = 0.01
"""A contact step this close to the floor height (m) and faster than ``SKATE_SPEED`` skates."""
SKATE_SPEED = 0.5
STRAIGHT_LEG = 0.99
"""Share of its full length at which ``straight_legs`` counts a leg as locked straight."""
POP_SPEED = 6.0
"""A joint moving faster than this (m/s) and ``POP_RATIO`` times its raw speed has popped."""
POP_RATIO = 2.5


def _relative(poses: np.ndarray) -> np.ndarray:
    p = _poses(poses)
    return p - root_of(p)[:, None, :]


def off_beats(beats: Sequence[float] | np.ndarray) -> np.ndarray:
    """Midpoints between consecutive beats (s): the beats shifted half a beat."""
    b = np.sort(np.asarray(beats, np.float64).ravel())
    return 0.5 * (b[1:] + b[:-1]) if len(b) >= 2 else np.zeros(0)


STAND_HIP_M = 0.7
"""Hips over this height (m) count as standing (live/post.py's ``SUPPORT_FROM``; under it floor work)."""


def feet_apart_speed(poses: np.ndarray, *, fps: float) -> float:
    """How fast a standing dancer moves its feet apart, together or round each other: the mean
    horizontal speed (m/s) of the vector from the right ankle to the left while the hips are over
    ``STAND_HIP_M``; NaN when the dancer never stands. Travel and turns of the whole body do not
    count, steps do (the synthetic popping's data 0.10, its hip-hop 0.23, house 0.32; the motion
    capture 1.2-1.9). ``dancemuse calibrate --footwork`` stores it per style of the training data
    as ``footwork``: the post-processing lets the feet step only in styles that move them."""
    p = _poses(poses)
    if len(p) < 2:
        return float("nan")
    rel = p[:, LEGS[0], :] - p[:, LEGS[1], :]
    v = np.hypot(np.diff(rel[:, 0]), np.diff(rel[:, 2])) * float(fps)
    hips = 0.5 * (p[:, JOINT_INDEX["left_hip"], 1] + p[:, JOINT_INDEX["right_hip"], 1])
    stand = (hips[1:] > STAND_HIP_M) & (hips[:-1] > STAND_HIP_M)
    return float(v[stand].mean()) if stand.any() else float("nan")


def limb_speed_ratio(poses: np.ndarray, *, fps: float) -> float:
    """Mean foot (ankle) speed over mean hand (wrist) speed, world space. NaN if the hands rest."""
    s = joint_speeds(poses, fps=fps)
    if len(s) == 0:
        return float("nan")
    arms = float(s[:, ARMS].mean())
    return float(s[:, LEGS].mean() / arms) if arms > 1e-9 else float("nan")


def section_speed_ratio(poses: np.ndarray, *, fps: float, section: tuple[float, float],
                        settle_s: float = 1.0) -> float:
    """Mean joint speed inside ``section`` (t0, t1) s over the speed outside it, skipping
    ``settle_s`` after each edge. NaN when either side is empty or the outside is still."""
    s = joint_speeds(poses, fps=fps).mean(axis=1)
    t = (np.arange(len(s)) + 0.5) / fps
    t0, t1 = section
    inside = (t >= t0 + settle_s) & (t < t1)
    outside = ((t < t0) | (t >= t1 + settle_s)) & (t >= settle_s)
    if not inside.any() or not outside.any():
        return float("nan")
    out = float(s[outside].mean())
    return float(s[inside].mean() / out) if out > 1e-9 else float("nan")


def pose_spread(poses: np.ndarray) -> float:
    """Mean over joints of the RMS distance of the root-relative joint from its mean (m)."""
    r = _relative(poses)
    if len(r) < 2:
        return 0.0
    dev = r - r.mean(axis=0, keepdims=True)
    return float(np.sqrt((dev**2).sum(-1).mean(axis=0)).mean())


def seed_agreement(a: np.ndarray, b: np.ndarray, *, fps: float, tol: float = 0.03) -> float:
    """Share of whole seconds where the two dances' root-relative joints are on average
    within ``tol`` metres (over the second's frames and the 17 joints). Uses the shorter
    length; a dance shorter than a second is one second."""
    ra, rb = _relative(a), _relative(b)
    n = min(len(ra), len(rb))
    if n == 0:
        return float("nan")
    d = np.linalg.norm(ra[:n] - rb[:n], axis=-1).mean(axis=1)
    w = max(1, int(round(fps)))
    secs = [d[i : i + w].mean() for i in range(0, max(1, n - w + 1), w)]
    return float(np.mean(np.asarray(secs) < tol))


REPEAT_RATIO = 0.3
"""Repetition ratio under which a window counts as nearly repeating another (issue 10's line)."""


def repeating_share(ratios: np.ndarray) -> float:
    """Share of :func:`repetition` windows under ``REPEAT_RATIO``; NaN when there are none."""
    return float(np.mean(np.asarray(ratios) < REPEAT_RATIO)) if len(ratios) else float("nan")


def window_starts(n: int, *, fps: float, window_s: float = 2.0, hop_s: float = 0.5,
                  music: np.ndarray | None = None) -> tuple[np.ndarray, int]:
    """(first frames, length in frames) of :func:`repetition`'s windows in ``n`` frames: every
    ``hop_s``, those holding a silent frame of ``music`` (bool per frame) left out."""
    w = max(2, int(round(window_s * fps)))
    hop = max(1, int(round(hop_s * fps)))
    starts = np.arange(0, n - w + 1, hop)
    if music is not None:
        silent = np.concatenate([[0], np.cumsum(~np.asarray(music, bool)[:n])])
        starts = starts[silent[starts + w] - silent[starts] == 0]
    return starts, w


def _window_distances(poses: np.ndarray, *, fps: float, window_s: float, gap_s: float, hop_s: float,
                      music: np.ndarray | None) -> tuple[np.ndarray, np.ndarray] | None:
    """(distances [w, w], far [w, w]) between the dance's windows (root-relative joint positions
    every 0.1 s, RMS per joint, windows every ``hop_s``; ``far``: starts at least ``gap_s``
    apart); None when fewer than two windows, or no two far apart."""
    r = _relative(poses)
    starts, w = window_starts(len(r), fps=fps, window_s=window_s, hop_s=hop_s, music=music)
    sub = max(1, int(round(fps / 10.0)))
    if len(starts) < 2:
        return None
    x = np.stack([r[s : s + w : sub].reshape(-1) for s in starts])
    per = x.shape[1] / 3.0  # joint positions per window
    sq = (x**2).sum(1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * x @ x.T, 0.0) / per
    far = np.abs(starts[:, None] - starts[None, :]) >= int(round(gap_s * fps))
    if not far.any():
        return None
    return np.sqrt(d2), far


def repetition(poses: np.ndarray, *, fps: float, window_s: float = 2.0, gap_s: float = 2.0,
               hop_s: float = 0.5, music: np.ndarray | None = None) -> np.ndarray:
    """Per-window repetition ratio (see the module docstring): [shape=(n_windows,)].
    Empty when the dance is too short to hold two windows ``gap_s`` apart. ``music``
    (bool per frame, ``model.metrics.music_frames``): windows that hold a silent frame are
    left out (as the freeze ratio leaves silent seconds out: holding still in silence is
    not the dancer repeating itself)."""
    got = _window_distances(poses, fps=fps, window_s=window_s, gap_s=gap_s, hop_s=hop_s, music=music)
    if got is None:
        return np.zeros(0)
    d, far = got
    mean_pair = float(d[far].mean())
    if mean_pair <= 1e-12:
        return np.zeros(int(far.any(axis=1).sum()))
    nearest = np.where(far, d, np.inf).min(axis=1)
    return nearest[np.isfinite(nearest)] / mean_pair


MUSIC_COLS = slice(0, 65)
"""What a window's music is compared by in :func:`music_tie`: the model's 64 mel bands and its
onset column (live.features' first 65 columns)."""


def music_tie(poses: np.ndarray, feats: np.ndarray, *, fps: float, music: np.ndarray | None = None
              ) -> tuple[np.ndarray, np.ndarray]:
    """(repetition ratio, music rank of the nearest) per :func:`repetition` window: the rank is
    the share of the window's partners (starts at least 2 s away) whose music (``feats[:,
    MUSIC_COLS]`` z-scored over the dance, every 0.1 s, RMS) is nearer to the window's than its
    nearest dance partner's. 0 when the dance repeats where the music does; ~0.5 when which
    move comes back has nothing to do with the music. ``feats``: the model's features of the
    dance's music, one row per frame (bench/holds.py, `dancemuse evaluate`)."""
    n = min(len(poses), len(feats))
    got = _window_distances(np.asarray(poses[:n], np.float64), fps=fps, window_s=2.0, gap_s=2.0, hop_s=0.5,
                            music=music)
    starts, w = window_starts(n, fps=fps, music=music)
    if got is None or len(got[0]) != len(starts):
        return np.zeros(0), np.zeros(0)
    dp, far = got  # the dance's window distances, as the repetition line measures them
    f = np.asarray(feats[:n, MUSIC_COLS], np.float64)
    f = (f - f.mean(axis=0)) / (f.std(axis=0) + 1e-6)
    sub = max(1, int(round(fps / 10.0)))
    v = np.stack([f[a: a + w: sub].reshape(-1) for a in starts])
    sq = (v**2).sum(axis=1)
    dm = np.sqrt(np.maximum(sq[:, None] + sq[None, :] - 2.0 * v @ v.T, 0.0) / v.shape[1])
    mean_pair = float(dp[far].mean())
    ratio, rank = [], []
    for i in range(len(starts)):
        cand = np.nonzero(far[i])[0]
        if not len(cand):
            continue
        j = cand[np.argmin(dp[i, cand])]
        ratio.append(dp[i, j] / mean_pair if mean_pair > 1e-12 else 0.0)
        rank.append(float((dm[i, cand] < dm[i, j]).mean()))
    return np.asarray(ratio), np.asarray(rank)


def motion_spread(poses: np.ndarray, *, fps: float, window_s: float = 1.0, gap_s: float = 2.0,
                  hop_s: float = 0.5) -> float:
    """The dance's spread (m): the mean RMS joint distance between two of its ``window_s``
    windows at least ``gap_s`` apart (:func:`repetition`'s denominator); NaN when the dance is
    too short. `dancemuse calibrate` stores it per style for the novelty guard (live/novelty.py)."""
    got = _window_distances(poses, fps=fps, window_s=window_s, gap_s=gap_s, hop_s=hop_s, music=None)
    return float("nan") if got is None else float(got[0][got[1]].mean())


def _body_speed(poses: np.ndarray, fps: float) -> np.ndarray:
    """Root-relative mean joint speed from frame t to t+1 (m/s): [shape=(t - 1,)]."""
    r = _relative(poses)
    return np.linalg.norm(np.diff(r, axis=0), axis=-1).mean(axis=1) * fps


def _beat_phases(poses: np.ndarray, beats: Sequence[float] | np.ndarray, fps: float
                 ) -> tuple[np.ndarray, np.ndarray] | None:
    """(normalised body speed s_t, beat phase) of the frames between the first and last beat;
    None with fewer than two beats, no frame between them or no motion."""
    b = np.sort(np.asarray(beats, np.float64).ravel())
    if len(b) < 2 or len(poses) < 3:
        return None
    v = _body_speed(poses, fps)
    t = (np.arange(len(v)) + 0.5) / fps  # the speed from frame i to i + 1 belongs between them
    ok = (t >= b[0]) & (t < b[-1])
    if not ok.any() or float(v[ok].mean()) <= 1e-9:
        return None
    k = np.searchsorted(b, t[ok], side="right") - 1
    return v[ok] / v[ok].mean(), (t[ok] - b[k]) / (b[k + 1] - b[k])


def beat_dip(poses: np.ndarray, beats: Sequence[float] | np.ndarray, *, fps: float) -> float:
    """The beat dip g (see the module docstring); only frames between the first and last
    beat count. NaN with fewer than two beats, no frame between them or no motion."""
    sp = _beat_phases(poses, beats, fps)
    if sp is None:
        return float("nan")
    return float(-2.0 * np.mean(sp[0] * np.cos(2.0 * np.pi * sp[1])))


def beat_profile(poses: np.ndarray, beats: Sequence[float] | np.ndarray, *, fps: float,
                 harmonics: int = 3) -> np.ndarray:
    """The beat profile (a1, b1, .. a_K, b_K) (see the module docstring): [shape=(2K,)], NaN
    where :func:`beat_dip` is NaN."""
    sp = _beat_phases(poses, beats, fps)
    if sp is None:
        return np.full(2 * harmonics, np.nan)
    s, ph = sp
    out = np.empty(2 * harmonics)
    for k in range(harmonics):
        w = 2.0 * np.pi * (k + 1) * ph
        out[2 * k], out[2 * k + 1] = 2.0 * np.mean(s * np.cos(w)), 2.0 * np.mean(s * np.sin(w))
    return out


def accent_sharpness(poses: np.ndarray, *, fps: float, window_s: float = 4.0) -> float:
    """The accent sharpness (see the module docstring). NaN when no window moves."""
    v = _body_speed(poses, fps)
    n = max(3, int(round(window_s * fps)))
    vals = []
    for i in range(0, max(1, len(v) - n + 1), n):
        w = v[i : i + n]
        m = float(w.mean()) if len(w) else 0.0
        if len(w) >= 3 and m > 1e-9:
            vals.append(float(np.abs(np.diff(w)).mean()) * fps / m)
    return float(np.median(vals)) if vals else float("nan")


FAST_HZ = 5.0
"""Lower edge (Hz) of the band :func:`fast_share` measures."""


def fast_share(poses: np.ndarray, *, fps: float, lo_hz: float = FAST_HZ) -> float:
    """The fast share (see the module docstring). NaN under 8 frames or with no motion."""
    v = _body_speed(poses, fps)
    if len(v) < 8:
        return float("nan")
    pw = np.abs(np.fft.rfft(v - v.mean())) ** 2
    f = np.fft.rfftfreq(len(v), 1.0 / fps)
    total = float(pw[1:].sum())
    return float(pw[f >= lo_hz].sum()) / total if total > 1e-18 else float("nan")


def stance(poses: np.ndarray) -> tuple[float, float]:
    """(root over the lower ankle, nose over the root), means in metres (see the module
    docstring); NaN for an empty dance."""
    p = _poses(poses)
    if len(p) == 0:
        return float("nan"), float("nan")
    root_y = root_of(p)[:, 1]
    ankle_y = np.minimum(p[:, LEGS[0], 1], p[:, LEGS[1], 1])
    return float(np.mean(root_y - ankle_y)), float(np.mean(p[:, JOINT_INDEX["nose"], 1] - root_y))


def root_radius(poses: np.ndarray) -> tuple[float, float]:
    """(max, 95th percentile) horizontal distance of the root from x = z = 0 (m)."""
    root = root_of(_poses(poses))
    r = np.hypot(root[:, 0], root[:, 2])
    if len(r) == 0:
        return 0.0, 0.0
    return float(r.max()), float(np.percentile(r, 95))


OFF_FLOOR_M = 0.12
"""A frame is off the floor when its lowest joint is this much above a standing ankle's height (m)."""


def off_floor(poses: np.ndarray, *, margin: float = OFF_FLOOR_M) -> float:
    """Share of frames whose lowest joint is more than ``margin`` above ``ANKLE_HEIGHT`` (see
    the module docstring); NaN for an empty dance."""
    p = _poses(poses)
    if len(p) == 0:
        return float("nan")
    return float(np.mean(p[:, :, 1].min(axis=1) > ANKLE_HEIGHT + margin))


def floor_gap(poses: np.ndarray) -> float:
    """Median height (m) of the lower ankle over ``ANKLE_HEIGHT`` while standing (see the module
    docstring); NaN when the dancer never stands on the floor."""
    p = _poses(poses)
    if len(p) == 0:
        return float("nan")
    low = p[:, FEET, 1].min(axis=1) - ANKLE_HEIGHT
    hips = p[:, [JOINT_INDEX["left_hip"], JOINT_INDEX["right_hip"]], 1].mean(axis=1)
    keep = (hips > STAND_HIP_M) & (low < OFF_FLOOR_M)
    return float(np.median(low[keep])) if keep.any() else float("nan")


def straight_legs(poses: np.ndarray, *, at: float = STRAIGHT_LEG) -> float:
    """Share of leg-frames with the leg at least ``at`` of its length (see the module docstring);
    NaN for an empty dance."""
    p = _poses(poses)
    if len(p) == 0:
        return float("nan")
    out = []
    for hip, knee, ankle in (("left_hip", "left_knee", "left_ankle"), ("right_hip", "right_knee", "right_ankle")):
        h, k, a = p[:, JOINT_INDEX[hip]], p[:, JOINT_INDEX[knee]], p[:, JOINT_INDEX[ankle]]
        full = np.linalg.norm(k - h, axis=-1) + np.linalg.norm(a - k, axis=-1)
        out.append(np.linalg.norm(a - h, axis=-1) >= at * np.maximum(full, 1e-9))
    return float(np.mean(out))


def under_floor(poses: np.ndarray) -> float:
    """Share of frames with a joint under y = 0 (see the module docstring); NaN for an empty dance."""
    p = _poses(poses)
    if len(p) == 0:
        return float("nan")
    return float(np.mean(p[:, :, 1].min(axis=1) < 0.0))


def contact_steps(p: np.ndarray, fps: float, *, margin: float = FOOT_MARGIN, vspeed: float = CONTACT_VSPEED,
                  floor: float | None = None) -> tuple[np.ndarray, np.ndarray, float]:
    """Which frame steps each foot is in contact (see ``foot_sliding``) and its horizontal speed
    (m/s) over them, both [shape=(t - 1, 2)] in ``FEET`` order, and the floor height (m: the 2nd
    percentile of the lower ankle's, unless given). ``p`` [t, 17, 3] (t >= 2)."""
    if floor is None:
        floor = float(np.percentile(p[:, FEET, 1].min(axis=1), 2.0))
    y = p[:, FEET, 1]
    low = y <= floor + margin
    contact = low[1:] & low[:-1] & (np.abs(np.diff(y, axis=0)) * fps < vspeed)
    speed = np.linalg.norm(np.diff(p[:, FEET][:, :, [0, 2]], axis=0), axis=-1) * fps
    return contact, speed, floor


def _contact_steps(p: np.ndarray, fps: float, margin: float, vspeed: float) -> tuple[np.ndarray, np.ndarray]:
    """(horizontal ankle speed m/s, mean height over the floor height m) of every contact step of
    both feet (see ``foot_sliding``)."""
    contact, speed, floor = contact_steps(p, fps, margin=margin, vspeed=vspeed)
    y = p[:, FEET, 1]
    height = 0.5 * (y[1:] + y[:-1]) - floor
    return np.concatenate([speed[:, k][contact[:, k]] for k in range(len(FEET))]), \
        np.concatenate([height[:, k][contact[:, k]] for k in range(len(FEET))])


def skating(poses: np.ndarray, *, fps: float) -> float:
    """Share of contact steps skating on the floor (see the module docstring); NaN when no
    foot is ever in contact."""
    p = _poses(poses)
    if len(p) < 2:
        return float("nan")
    v, h = _contact_steps(p, fps, FOOT_MARGIN, CONTACT_VSPEED)
    return float(np.mean((h < SKATE_M) & (v > SKATE_SPEED))) if len(v) else float("nan")


def made_pops(poses: np.ndarray, raw: np.ndarray, *, fps: float) -> float:
    """Share of frame steps in which the post-processing made a joint jump (see the module
    docstring): ``poses`` shown and ``raw`` the generator's [t, 17, 3]; NaN under two frames."""
    p, r = _poses(poses), _poses(raw)
    n = min(len(p), len(r))
    if n < 2:
        return float("nan")
    sp = np.linalg.norm(np.diff(p[:n], axis=0), axis=-1) * fps
    sr = np.linalg.norm(np.diff(r[:n], axis=0), axis=-1) * fps
    return float(np.mean(((sp > POP_SPEED) & (sp > POP_RATIO * sr)).any(axis=1)))


def foot_sliding(poses: np.ndarray, *, fps: float, margin: float = FOOT_MARGIN,
                 vspeed: float = CONTACT_VSPEED) -> tuple[float, float]:
    """(mean horizontal ankle speed in contact m/s, share of contact steps sliding faster
    than SLIDE_SPEED). (0, 0) when no foot is ever in contact."""
    p = _poses(poses)
    if len(p) < 2:
        return 0.0, 0.0
    allv, _ = _contact_steps(p, fps, margin, vspeed)
    if len(allv) == 0:
        return 0.0, 0.0
    return float(allv.mean()), float(np.mean(allv > SLIDE_SPEED))
