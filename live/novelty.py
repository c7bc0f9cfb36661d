"""Novelty: when the dancer repeats something of its last minute and a half, it takes the move
to the other side (``live.novelty``, default 0.35; session 37, the mirror flip session 40, made
without a long wait session 63); and where what is shown comes near what was shown before, the
shown pose is pushed away from it (``live.repel``, default 1.5, session 71: :class:`Repel`).

Why: a music-driven model that hears a chorus again tends to dance it again, and the training
data repeats itself too (the evaluation's repetition ratio: a 2-s window's distance to the
nearest window at least 2 s away, over the dance's mean pair distance; 8.3 % of the training
data's windows come within 0.3 of another). On the recordings the shipped model's house held
one lean for six seconds and repeated it ten seconds later (ratio 0.10).

How it looks: the guard keeps the root-relative poses of the last ``HISTORY_S`` at
``SAMPLE_HZ`` (every ``sub``-th model frame) and, for each new sample, its squared distance to
every kept sample. Every ``HOP_FRAMES`` model frames it sums those rows into the distance
between the last ``WINDOW_S`` of dance and every earlier window that starts at least ``GAP_S``
before it (one sum over a preallocated table: each window pair's distance is the sum along the
rows at the same lag). When the nearest of them, as a root-mean-square joint distance, is under
``threshold`` times the dance's spread, the dance is repeating itself.

The spread is the mean distance of the last window to the earlier ones, and while the history
is shorter than ``WARM_S`` at least the style's own spread (``floor``: the mean window distance
of the model's dances in that style, which `dancemuse calibrate` measures and export stores as
``motion_spread``; the engine gives the style mix's weighted mean, times the square root of the
user's energy when it is under 1). Without the floor, the first seconds of a dance (a quiet
intro, its moves small) would set their own small spread and repeat unnoticed.

What it does (live/phrase.py, ``MirrorFlip``): the shown dance is mirrored left/right from the
next pose that is near its own mirror if one comes within 0.3 s (the jump small), else when the
0.3 s are over with a slower fade, and stays so until the next flip (at least 3 s later), as a
choreographer sets a phrase again to the other side. Only what is shown changes; the model dances
on from its own pose. The style classifier reads a mirrored dance exactly as the dance
(mirror-invariant features). Measured with ``dancemuse evaluate`` (models/README.md, session 40):
the windows under 0.3 fall from 4.9 % to 2.4 %, the lowest from 0.10 to 0.17, the styles, beat,
dynamics and feet as they were. The guard answers a repeat only once it has lasted about a
second, and a flip cannot undo a symmetric hold (the mirror of a pose held square is the same
pose). Until session 63 a flip waited for a near-symmetric pose for as long as the dance moved (a
second in a calm stretch), so most of a repeat the guard had seen was shown before its flip came,
and every new phrase asked for a flip as well, which showed a move on the side it had been danced
on as often as on the other; without both, over 24 seeds of the recordings, the windows under 0.3
fall from 0.79 % to 0.42 % (models/README.md, session 63).

Until session 40 the guard refreshed the decoder's memory instead. The memory hardly steers the
dance (forked, a memory redraw moves the next 2 s by 4-12 % of the mean pair distance), so the
guard fired every 1-1.5 s on the recordings, and the styles were recognised less (worst 0.857 ->
0.714; hip-hop redrawn that often reads as house); redrawing the latent as well met the
repetition line on the headline dances but read the recordings' hip-hop at 0.43-0.64.

The checks fall on every ``HOP_FRAMES``-th frame counted from the stream start, so the live loop,
offline rendering and every block-N file flip on the same frames. No allocation per frame: one
product and two in-place adds into preallocated buffers on a sampled frame (the squared distances
as |a|^2 + |b|^2 - 2 a.b), one column sum on a check (as a product with ones: numpy's reductions
and broadcasts take a 32-KB buffer per call).
"""

from __future__ import annotations

import math
import struct
from array import array

import numpy as np

from model import skeleton as sk

HISTORY_S = 90.0
"""How far back the guard remembers the dance (s)."""
SAMPLE_HZ = 10.0
"""Samples of the dance per second (every ``sub``-th model frame)."""
WINDOW_S = 1.0
"""Length of the stretch of dance compared with the past (s)."""
GAP_S = 2.0
"""Least time between the starts of two compared stretches (s; the evaluation's gap)."""
HOP_FRAMES = 16
"""Model frames between two checks (a multiple of every block size a model is exported with)."""
MIN_FRAMES = 16
"""Least model frames between two firings of the guard."""
WARM_S = 15.0
"""The style's spread is the least spread only until the history holds this much dance (s)."""
_HIPS = (sk.JOINT_INDEX["left_hip"], sk.JOINT_INDEX["right_hip"])


class NoveltyGuard:
    """See the module docstring. :meth:`push` every model pose [17, 3] (after any jump fade);
    True when the dance repeats itself (the phrase layer then flips the dance, live/phrase.py).
    ``threshold``: the ratio under which a stretch counts as repeated (0: off, :meth:`push`
    does nothing; :attr:`threshold` can be changed live, and turning it on starts a new history)."""

    def __init__(self, fps: float, *, threshold: float, history_s: float = HISTORY_S,
                 window_s: float = WINDOW_S) -> None:
        self._threshold = max(0.0, float(threshold))
        self.sub = max(1, int(round(float(fps) / SAMPLE_HZ)))
        rate = float(fps) / self.sub
        self.w = max(2, int(round(window_s * rate)))
        self.gap = max(1, int(round(GAP_S * rate)))
        self.h = max(self.w + self.gap + 1, int(round(history_s * rate)))
        dim = sk.NUM_JOINTS * 3
        self._buf = np.zeros((2 * self.h, dim), np.float64)  # each sample twice: a time-ordered view
        self._norm = np.zeros(2 * self.h, np.float64)  # each sample's squared norm, likewise
        self._rows = np.zeros((self.w, self.h), np.float64)  # per recent sample its distances (time order)
        self._sum = np.zeros(self.h, np.float64)
        self._sq = np.zeros(self.h, np.float64)
        self._ones_w = np.ones(self.w, np.float64)  # a column sum as a product (a reduction takes a buffer)
        self._rel = np.zeros((sk.NUM_JOINTS, 3), np.float64)
        self._root = np.zeros(3, np.float64)
        self._scale = 1.0 / (self.w * sk.NUM_JOINTS)
        self._warm = int(round(WARM_S * rate))
        self.floor = 0.0
        """The least spread (m, the style's own; 0: none)."""
        self.count = 0
        """Firings since the last reset (each asks for a mirror flip)."""
        self.last_ratio = float("nan")
        """The ratio at the last check (nearest past stretch over the spread)."""
        self.last_lag = 0
        """Model frames from the nearest past stretch's start to the last stretch's, at the last check."""
        self.reset()

    @property
    def threshold(self) -> float:
        return self._threshold

    @threshold.setter
    def threshold(self, value: float) -> None:
        v = max(0.0, float(value))
        if v > 0 and self._threshold <= 0:  # what was danced while it was off is not in the history
            self.reset()
        self._threshold = v

    @property
    def active(self) -> bool:
        return self._threshold > 0

    def reset(self) -> None:
        """A new stream: the history is forgotten."""
        self._frames = 0
        self._n = 0  # samples taken
        self._since = MIN_FRAMES  # frames since the last firing
        self.count = 0
        self.last_ratio = float("nan")
        self.last_lag = 0

    def tick(self) -> bool:
        """Count one pose without the firing logic of :meth:`push`; True when that pose is one to
        sample (then pass it to :meth:`sample`, and :meth:`nearest` has a new answer)."""
        f = self._frames
        self._frames = f + 1
        return f % self.sub == 0

    def sample(self, pose: np.ndarray) -> None:
        """A pose [17, 3] into the history (after :meth:`tick` said so)."""
        self._sample(pose)

    def push(self, pose: np.ndarray) -> bool:
        """One model pose [17, 3]; True on a check frame where the last stretch repeats one of
        the history."""
        if self._threshold <= 0:
            return False
        f = self._frames
        self._frames = f + 1
        self._since += 1
        if f % self.sub == 0:
            self._sample(pose)
        if self._frames % HOP_FRAMES or self._since < MIN_FRAMES:
            return False
        if self._repeats():
            self._since = 0
            self.count += 1
            return True
        return False

    def _sample(self, pose: np.ndarray) -> None:
        rel, root = self._rel, self._root
        np.add(pose[_HIPS[0]], pose[_HIPS[1]], out=root)
        root *= 0.5
        np.subtract(pose, root, out=rel)
        h, n = self.h, self._n
        p = n % h
        flat = rel.reshape(-1)
        nrm = float(np.dot(flat, flat))
        self._buf[p] = flat
        self._buf[p + h] = flat
        self._norm[p] = self._norm[p + h] = nrm
        self._n = n + 1
        # this sample's squared distance to each of the time-ordered samples n - h + 1 .. n (oldest
        # first): |a|^2 + |b|^2 - 2 a.b (products and in-place adds; no broadcast, which takes a buffer)
        row = self._rows[n % self.w]
        np.dot(self._buf[p + 1: p + 1 + h], flat, out=row)
        row *= -2.0
        row += self._norm[p + 1: p + 1 + h]
        row += nrm

    def _repeats(self) -> bool:
        """Whether the last stretch repeats one of the history (:meth:`nearest` under the threshold)."""
        return self.nearest() < self._threshold

    def nearest(self) -> float:
        """The last ``w`` samples against every earlier stretch at least ``gap`` before them: the
        nearest one's RMS joint distance over the spread (also :attr:`last_ratio`, its lag in
        :attr:`last_lag`); NaN while the history is too short or holds no motion."""
        n, w, h = self._n, self.w, self.h
        top = min(n - w, h - 1)  # the largest lag whose stretch lies inside what was sampled
        if top < self.gap:
            return math.nan
        np.dot(self._ones_w, self._rows, out=self._sum)  # index i: lag h - 1 - i
        seg = self._sum[h - 1 - top: h - self.gap]
        sq = self._sq[: len(seg)]
        np.multiply(seg, self._scale, out=sq)  # squared RMS joint distance per window pair
        np.maximum(sq, 0.0, out=sq)
        np.sqrt(sq, out=sq)
        spread = float(sq.mean())
        if n < self._warm:  # the first seconds (a quiet intro) do not set the spread alone
            spread = max(spread, self.floor)
        if spread <= 1e-9:
            return math.nan
        i = int(sq.argmin())  # seg's index i: lag top - i samples
        self.last_lag = (top - i) * self.sub
        self.last_ratio = float(sq[i]) / spread
        return self.last_ratio


REPEL_WINDOW_S = 1.5
"""Length of the stretch the repel stage compares with the past (s)."""
REPEL_FROM = 0.45
"""Ratio (nearest past stretch over the spread) under which the repel stage begins to push."""
REPEL_FULL = 0.33
"""Ratio at and under which it pushes with its whole gain (a little over the evaluation's line,
0.3: the guard's stretches are shorter than the evaluation's windows and its spread is another)."""
REPEL_GAIN_S = 0.3
"""Time constant (s) with which the push's gain follows the ratio."""
REPEL_OFFSET_S = 0.2
"""Time constant (s) with which the shown offset follows the push (no jump where the nearest
past stretch changes)."""
REPEL_LEGS = 0.5
"""The push on the knees and ankles, as a share of the rest of the body's: half (session 71, 24 seeds
of the recordings: the styles' worst 0.890 -> 0.902 and hip-hop 0.890 -> 0.929 against the whole
push, the lowest window the same; without any push on the legs ballet's repeats, in its legs, stay)."""
_N = sk.NUM_JOINTS * 3
_RH = 3 * sk.JOINT_INDEX["left_hip"], 3 * sk.JOINT_INDEX["right_hip"]
_KNEES = 3 * min(sk.JOINT_INDEX["left_knee"], sk.JOINT_INDEX["right_knee"])  # knees and ankles: the last four joints
assert sorted(sk.JOINT_INDEX[j] for j in ("left_knee", "right_knee", "left_ankle", "right_ankle")) == list(range(13, 17))
assert [sk.JOINT_INDEX[j] for j in ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder",
                                    "right_shoulder", "left_hip", "right_hip")] == [0, 1, 2, 3, 4, 5, 6, 11, 12]


class Repel:
    """The repel stage (``live.repel``, session 71): where the shown dance comes near what it
    showed before, the shown pose is pushed away from the pose shown then.

    Every shown pose (after the feet stage, root-relative) goes into a history of ``HISTORY_S``
    and into a :class:`NoveltyGuard` of ``REPEL_WINDOW_S`` stretches, checked on each of its
    samples (every 0.1 s). Its ratio sets the push's gain: 0 over ``REPEL_FROM``, ``gain`` at
    ``REPEL_FULL`` and under (linear between, followed over ``REPEL_GAIN_S``). The push on a
    frame is the gain times the difference between the pose as it comes (root-relative) and the
    pose shown at the same moment of the nearest past stretch, followed over ``REPEL_OFFSET_S``;
    the post-processor adds it before the bone projection and the feet stage, so bones stay
    exact and planted feet stay planted. Where the dance does not come back, nothing is
    added. A pose the model draws nearer the past is drawn further from it: the same move, done
    a little otherwise, as a dancer varies a phrase she repeats.

    No allocation per frame: the history is a preallocated array of doubles, the offset and the
    pushed pose preallocated lists, the guard's samples packed into its buffer (struct).
    """

    def __init__(self, fps: float, *, gain: float, history_s: float = HISTORY_S) -> None:
        self.gain = max(0.0, float(gain))
        self.guard = NoveltyGuard(fps, threshold=1.0, history_s=history_s, window_s=REPEL_WINDOW_S)
        self._n = max(2, int(round(history_s * float(fps))) + 1)
        self._ring = array("d", bytes(8 * _N * self._n))  # shown poses, root-relative, one after another
        self._kg = 1.0 - math.exp(-1.0 / (REPEL_GAIN_S * float(fps)))
        self._ko = 1.0 - math.exp(-1.0 / (REPEL_OFFSET_S * float(fps)))
        self._off = [0.0] * _N
        self._y = [0.0] * _N  # the pushed pose (a buffer of ours: the input may be a filter's state)
        self._d = [0.0] * _N  # this frame's difference to the pose shown then
        self._pose = np.zeros((sk.NUM_JOINTS, 3), np.float64)
        self._pack = struct.Struct(f"={_N}d").pack_into
        self.reset()

    def reset(self) -> None:
        """A new stream: the history is forgotten and nothing is pushed."""
        self.guard.reset()
        self._t = 0  # poses recorded
        self._g = 0.0
        self._target = 0.0
        self._lag = 0
        self._on = False  # an offset is being shown
        for i in range(_N):
            self._off[i] = 0.0
        self.pushed = 0.0
        """The last frame's push (m, the largest joint offset)."""

    def apply(self, x: list[float]) -> list[float]:
        """The pose as it comes to the bone projection (absolute, 51 floats): itself when nothing
        is pushed, else a buffer of this stage holding it pushed (overwritten next frame)."""
        g = self._g + self._kg * (self._target - self._g)
        self._g = g
        lag = self._lag
        if g < 1e-4 and not self._on:
            return x
        off, ko, y = self._off, self._ko, self._y
        have = 0 < lag <= self._t  # this frame will be the (t + 1)-th shown; the past one lag before it
        q, at = self._ring, _N * ((self._t + 1 - lag) % self._n)
        a, b = _RH
        rx, ry, rz = 0.5 * (x[a] + x[b]), 0.5 * (x[a + 1] + x[b + 1]), 0.5 * (x[a + 2] + x[b + 2])
        big = 0.0
        d = self._d
        if have:  # the difference to the pose shown then, root-relative
            for i in range(0, _N, 3):
                d[i] = x[i] - rx - q[at + i]
                d[i + 1] = x[i + 1] - ry - q[at + i + 1]
                d[i + 2] = x[i + 2] - rz - q[at + i + 2]
            for c in range(3):  # the head and the chest are pushed whole (a lean, never a twisted face or
                # a narrowed chest), the hips not at all (the pelvis's turn is the model's), the legs by half
                h = 0.2 * (d[c] + d[3 + c] + d[6 + c] + d[9 + c] + d[12 + c])
                d[c] = d[3 + c] = d[6 + c] = d[9 + c] = d[12 + c] = h
                m = 0.5 * (d[15 + c] + d[18 + c])
                d[15 + c] = d[18 + c] = m
                d[33 + c] = d[36 + c] = 0.0
            for i in range(_KNEES, _N):
                d[i] *= REPEL_LEGS
        gd = g if have else 0.0
        for i in range(0, _N, 3):
            ox = off[i] + ko * (gd * d[i] - off[i])
            oy = off[i + 1] + ko * (gd * d[i + 1] - off[i + 1])
            oz = off[i + 2] + ko * (gd * d[i + 2] - off[i + 2])
            off[i], off[i + 1], off[i + 2] = ox, oy, oz
            y[i], y[i + 1], y[i + 2] = x[i] + ox, x[i + 1] + oy, x[i + 2] + oz
            m = abs(ox) + abs(oy) + abs(oz)
            if m > big:
                big = m
        self.pushed = big
        self._on = big > 1e-6 or g >= 1e-4
        return y

    def record(self, y: list[float]) -> None:
        """The pose shown (absolute, 51 floats, after every stage); on a check, the next push's
        gain and the nearest past stretch."""
        a, b = _RH
        rx, ry, rz = 0.5 * (y[a] + y[b]), 0.5 * (y[a + 1] + y[b + 1]), 0.5 * (y[a + 2] + y[b + 2])
        self._t += 1
        row, at = self._ring, _N * (self._t % self._n)
        for i in range(0, _N, 3):
            row[at + i], row[at + i + 1], row[at + i + 2] = y[i] - rx, y[i + 1] - ry, y[i + 2] - rz
        if not self.guard.tick():  # the guard samples every ``sub``-th pose
            return
        self._pack(self._pose, 0, *y)  # type: ignore[arg-type]  # an ndarray is a writable buffer
        self.guard.sample(self._pose)
        r = self.guard.nearest()
        if r != r:  # NaN: too little history
            self._target, self._lag = 0.0, 0
            return
        self._lag = self.guard.last_lag
        u = (REPEL_FROM - r) / (REPEL_FROM - REPEL_FULL)
        self._target = self.gain * (0.0 if u <= 0.0 else 1.0 if u >= 1.0 else u)
