"""Novelty: the dancer steers away from what it danced in the last minute and a half
(``live.novelty``, session 37).

Why: a music-driven model that hears a chorus again tends to dance it again. Measured on the
shipped model (six held-out songs, every style, two seeds; the evaluation's repetition ratio:
a 2-s window's distance to the nearest window at least 2 s away, over the dance's mean pair
distance), 3.5 % of the windows came within 0.3 of another (house 8.8 %, hip-hop 7.7 %), and on
the recordings the ballet piece repeated a 2-s passage 16 s later at 0.2. The phrase refreshes
(live/phrase.py) redraw the memory every two bars whether or not the dance repeats; they do
not look at what was danced.

How: the guard keeps the root-relative poses of the last ``HISTORY_S`` at ``SAMPLE_HZ`` (every
``sub``-th model frame) and, for each new sample, its squared distance to every kept sample.
Every ``HOP_FRAMES`` model frames it sums those rows into the distance between the last
``WINDOW_S`` of dance and every earlier window that starts at least ``GAP_S`` before it (one
sum over a preallocated table: each window pair's distance is the sum along the rows at the
same lag). When the nearest of them, as a root-mean-square joint distance, is under
``threshold`` times the dance's spread, the dance is repeating itself: the phrase refresh
redraws the decoder's memory before the next frame, pulled to harder than a bar's refresh
(``REFRESH_KEEP_NOVEL`` of the old memory kept per frame instead of 0.85), so the dance turns
away within a few frames rather than over two thirds of a second; the jump is faded as any
refresh's (``phrase.JumpFade``).

The spread is the mean distance of the last window to the earlier ones, and while the history
is shorter than ``WARM_S`` at least the style's own spread (``floor``: the mean window distance
of the model's dances in that style,
which `dancemuse calibrate` measures and export stores as ``motion_spread``; the engine gives
the style mix's weighted mean, times the square root of the user's energy when it is under 1).
Without the floor, the first seconds of a dance (a quiet intro, its moves small) would set
their own small spread and repeat unnoticed, as they did in the first measurements; kept on for
good, a floor above what the music draws from the dancer made the guard fire up to 1.4 times a
second (contemporary on the recordings).

Off by default (``live.novelty`` 0): measured with ``dancemuse evaluate`` at 0.35, the windows
under 0.3 fall from 6.0 % to 0.4 %, but on the recordings, whose songs repeat long sections, the
guard fires every 1-1.5 s and the styles are recognised less (worst 0.857 -> 0.714; hip-hop
redrawn that often reads as house); models/README.md, session 37, has the variants tried.

What its refresh turns (session 39, models/README.md): forking the dancer and redrawing the
memory moves the next 2 s by 4-12 % of the dance's mean pair distance, a new latent by 28-74 %,
a new noise stream for the next phrase latents by 91-138 % over 2-4 s; the latent chooses the move.
A guard that redrew memory and latent met the repetition line on the evaluation's headline dances
(worst window 0.300) but the recordings' hip-hop fell to 0.643, so the refresh stays as it is.

The checks fall on every ``HOP_FRAMES``-th frame counted from the stream start (16: a multiple
of every block size), so the live loop, offline rendering and every block-N file refresh on the
same frames. No allocation per frame: one product and two in-place adds into preallocated
buffers on a sampled frame (the squared distances as |a|^2 + |b|^2 - 2 a.b), one column sum on a
check (as a product with ones: numpy's reductions and broadcasts take a 32-KB buffer per call).
"""

from __future__ import annotations

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
"""Least model frames between two novelty refreshes."""
WARM_S = 15.0
"""The style's spread is the least spread only until the history holds this much dance (s)."""
REFRESH_KEEP_NOVEL = 0.5
"""Share of the old memory a novelty refresh keeps per frame (a bar's refresh keeps 0.85)."""
_HIPS = (sk.JOINT_INDEX["left_hip"], sk.JOINT_INDEX["right_hip"])


class NoveltyGuard:
    """See the module docstring. :meth:`push` every model pose [17, 3] (after any jump fade);
    True when the dance repeats itself and the memory should be refreshed before the next frame.
    ``threshold``: the ratio under which a stretch counts as repeated (0: off, :meth:`push`
    does nothing; :attr:`threshold` can be changed live, and turning it on starts a new history)."""

    def __init__(self, fps: float, *, threshold: float, history_s: float = HISTORY_S) -> None:
        self._threshold = max(0.0, float(threshold))
        self.sub = max(1, int(round(float(fps) / SAMPLE_HZ)))
        rate = float(fps) / self.sub
        self.w = max(2, int(round(WINDOW_S * rate)))
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
        """Novelty refreshes asked for since the last reset."""
        self.last_ratio = float("nan")
        """The ratio at the last check (nearest past stretch over the spread)."""
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
        self._since = MIN_FRAMES  # frames since the last novelty refresh
        self.count = 0
        self.last_ratio = float("nan")

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

    def push_block(self, poses: np.ndarray) -> bool:
        """A run of poses [n, 17, 3] as :meth:`push` takes them one by one; True when the check
        on the last of them asks for a refresh (an offline caller cuts its runs at the check
        frames, :meth:`to_check`)."""
        fired = False
        for p in poses:
            fired = self.push(p)
        return fired

    def to_check(self) -> int:
        """Frames until the next check frame (1..HOP_FRAMES)."""
        return HOP_FRAMES - self._frames % HOP_FRAMES

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
        """The last ``w`` samples against every earlier stretch at least ``gap`` before them."""
        n, w, h = self._n, self.w, self.h
        top = min(n - w, h - 1)  # the largest lag whose stretch lies inside what was sampled
        if top < self.gap:
            return False
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
            return False
        self.last_ratio = float(sq.min()) / spread
        return self.last_ratio < self._threshold
