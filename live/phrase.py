"""Phrases: the dancer's recurrent memory is refreshed on the downbeat of every
``live.phrase_bars``-th bar it hears (session 32).

Why: the model was trained on 4-second windows from a fresh decoder state, and over longer
dances its LSTM memory drifts away from that regime into a few of its styles' common moves.
Measured on the shipped model (six held-out songs, two seeds, the evaluation's classifier):
freestyle is recognised in all of its first 4-s windows and in none of those 12-16 s in; over
10 minutes of recordings freestyle, contemporary and popping were recognised in 0.43-0.71 of
their windows. Redrawing the memory (h as at a reset, c zero: what a new dance starts from)
every two bars keeps each style in the regime it was trained in: on the recordings every
style is then recognised in at least 0.86 of its windows (models/README.md, session 32).

The refresh starts before the model's step on the first frame of a bar (the bar phase of the
feature row the model hears, so in half time a bar is two music bars; a beat source without
bars, whose bar phase stays still, gets a bar every 4 beats after ``NO_BAR_BEATS``), at least
``MIN_PHRASE_S`` after the last one. The runtime draws the new memory at once and pulls its LSTM
state to it over ``REFRESH_FRAMES`` frames (:func:`soften`: h to the draw, c to zero, keeping
``REFRESH_KEEP`` of the old per frame), so the model itself dances the way from the old phrase
into the new one; what is left of a jump is faded out over ``BLEND_S`` (an inertial offset: the
difference of the two root-relative poses, faded with a smoothstep). The pose, root, latent,
attention and post-processing carry on; the root's travel is the model's own. (A hard redraw
with a 1-s fade, measured the same way, recognised as many styles but slid the feet more,
0.40 m/s against 0.33, and lowered the beat alignment to 0.57; models/README.md, session 32.)

The novelty guard (``live.novelty``, live/novelty.py) does not touch the memory: when the dance
repeats itself it asks :class:`MirrorFlip` to show the dance mirrored, from a near-symmetric pose if
one comes within ``FLIP_WAIT_S`` and else at once with a slower fade (the dancer takes its move to
the other side); only what is shown changes. A new phrase no longer asks for a flip by itself
(until session 63 it did: a flip at random, which showed a move on the side it had been danced
on as often as on the other; models/README.md, session 63).

Every runtime draws the new memory from its own seeded stream in the same order
(``refresh()`` of live.npstep.NumpyStep, live.runtime.Generator, live.offline.NumpyGenerator),
so the live loop, offline rendering and the ONNX runtime make the same dance. A block-N model
(offline, ``--block N``) refreshes on the first block boundary at or after the downbeat and
pulls its memory once per block.

No allocation per frame: two atan2 and a few comparisons; during a blend one multiply-add
into preallocated buffers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from live.feel import NO_BAR_BEATS, phase_at
from live.novelty import NoveltyGuard
from model import skeleton as sk

MIN_PHRASE_S = 3.0
"""Least time between two refreshes (s): fast music's two bars are not shorter than this."""
BLEND_S = 0.3
"""Time over which what is left of the jump at a refresh is faded out (s)."""
REFRESH_FRAMES = 20
"""Frames over which a runtime pulls its LSTM memory to the new draw (h) and to zero (c)."""
REFRESH_KEEP = 0.85
"""Share of the old memory kept per frame of a refresh (0.85 ** 20: 4 % left at its end)."""


def soften(h: np.ndarray, target: np.ndarray, c: np.ndarray, keep: float = REFRESH_KEEP) -> None:
    """One frame of a refresh, in place and in the same float32 steps in every runtime:
    h = target + keep (h - target), c = keep c (``keep``: REFRESH_KEEP)."""
    k = np.float32(keep)
    h -= target
    h *= k
    h += target
    c *= k


def draw_memory(state: Sequence[Mapping[str, Any]], rng: np.random.Generator,
                into: Mapping[str, np.ndarray]) -> None:
    """A refresh's new memory: for each state entry named in ``into`` (``h0``, ``h1``, ...), its
    buffer drawn as at a reset (normal times ``std``, or zeros), in the state's order, so every
    runtime takes the same numbers from its seeded stream."""
    for entry in state:
        t = into.get(str(entry["name"]))
        if t is None:
            continue
        if entry.get("init") == "normal":
            rng.standard_normal(out=t, dtype=np.float32)
            t *= np.float32(entry.get("std", 1.0))
        else:
            t.fill(0.0)


_HIPS = (sk.JOINT_INDEX["left_hip"], sk.JOINT_INDEX["right_hip"])


class JumpFade:
    """What is left of a jump in the model's poses after a refresh, faded out over ``seconds``
    (``BLEND_S``; an inertial offset: the last pose minus the new one, root-relative so the
    root's own travel stays, faded with a smoothstep). :meth:`arm` before the first new pose
    (``slow``: over ``slow_seconds`` instead); every pose then goes through :meth:`apply` (in
    place, no allocation) or, offline, a run of poses through :meth:`apply_block`."""

    def __init__(self, fps: int, seconds: float = BLEND_S, *, slow_seconds: float | None = None) -> None:
        self._fast = _smooth_down(seconds * fps)
        self._slow = self._fast if slow_seconds is None else _smooth_down(slow_seconds * fps)
        self._w = self._fast
        self._off = np.zeros((sk.NUM_JOINTS, 3), np.float32)
        self._tmp = np.zeros((sk.NUM_JOINTS, 3), np.float32)
        self._last = np.zeros((sk.NUM_JOINTS, 3), np.float32)
        self.reset()

    def reset(self) -> None:
        self._left = 0  # blend frames left
        self._pending = False  # the next pose starts a blend
        self._have_last = False

    @property
    def active(self) -> bool:
        """A blend is armed or under way."""
        return self._pending or self._left > 0

    def arm(self, *, slow: bool = False) -> None:
        """A refresh: the next pose starts a fade (when there was a pose before it)."""
        self._pending = self._have_last
        self._w = self._slow if slow else self._fast

    def _offset(self, pose: np.ndarray) -> None:
        self._pending = False
        off = self._off
        np.subtract(self._last, pose, out=off)
        dx = 0.5 * (off.item(_HIPS[0], 0) + off.item(_HIPS[1], 0))
        dz = 0.5 * (off.item(_HIPS[0], 2) + off.item(_HIPS[1], 2))
        off[:, 0] -= dx
        off[:, 2] -= dz
        self._left = len(self._w)

    def apply(self, pose: np.ndarray) -> None:
        """One pose [17, 3], blended in place."""
        if self._pending:
            self._offset(pose)
        if self._left:
            np.multiply(self._off, self._w[len(self._w) - self._left], out=self._tmp)
            pose += self._tmp
            self._left -= 1
        np.copyto(self._last, pose)
        self._have_last = True

    def apply_block(self, poses: np.ndarray) -> None:
        """A run of poses [n, 17, 3] (float32), blended in place as :meth:`apply` would."""
        if not len(poses):
            return
        if self._pending:
            self._offset(poses[0])
        m = min(self._left, len(poses))
        if m:
            i0 = len(self._w) - self._left
            poses[:m] += self._w[i0: i0 + m, None, None] * self._off
            self._left -= m
        np.copyto(self._last, poses[-1])
        self._have_last = True


FLIP_SYMMETRY = 0.06
"""A mirror flip waits for a pose this near its own mirror (m, the root-relative RMS joint
distance; the median pose of the shipped model's dances is 0.23 m from its mirror)."""
FLIP_FADE_S = 0.5
"""Time over which what is left of a flip's jump is faded out (s)."""
FLIP_GAP_S = 3.0
"""Least time between two mirror flips (s)."""
FLIP_WAIT_S = 0.3
"""After this long without a near-symmetric pose a flip is made anyway (s). Until session 63 a
flip waited for one for as long as the dance moved (and 1 s in a calm stretch), so a repeat the
guard had seen was mostly shown before the flip came: 24 seeds of the recordings, windows under
0.3 0.79 % as then, 0.42 % with this wait (models/README.md, session 63)."""
FLIP_FADE_LATE_S = 1.0
"""Time over which such a flip's larger jump is faded out (s): a shift of the body to the other side."""


def _smooth_down(frames: float) -> np.ndarray:
    """Fade weights from 1 down over ``frames`` frames (a smoothstep), float32."""
    n = max(1, int(round(frames)))
    u = 1.0 - np.arange(n, dtype=np.float64) / n
    return (u * u * (3.0 - 2.0 * u)).astype(np.float32)


class MirrorFlip:
    """The novelty guard's answer to a repeat (live/novelty.py): the shown dance is mirrored
    left/right about the mid-hip (joints swapped, x reflected through the hips' centre, so the
    root and its travel stay), from the first frame whose pose is within ``FLIP_SYMMETRY`` of
    its own mirror, and stays mirrored until the next flip: the dancer takes its move to the
    other side, as a choreographer sets a phrase again to the left. A near-symmetric pose within
    ``FLIP_WAIT_S`` of the request keeps the jump small (what is left is faded over
    ``FLIP_FADE_S``); without one (a lean, a lunge) the flip is made when the wait is over and
    faded over ``FLIP_FADE_LATE_S``, a shift of the body to the other side. A request made within
    ``FLIP_GAP_S`` of the last flip is dropped. Only what is shown changes: the model hears its
    own pose back, its memory and latent are untouched.

    :meth:`request` when the guard fires; every pose then goes through :meth:`apply` (in place,
    no allocation) or, offline, a run of poses through :meth:`apply_block` (the same frames)."""

    def __init__(self, fps: int) -> None:
        self.fade = JumpFade(fps, FLIP_FADE_S, slow_seconds=FLIP_FADE_LATE_S)
        self._gap = int(round(FLIP_GAP_S * fps))
        self._wait = int(round(FLIP_WAIT_S * fps))
        self._sym2 = np.float32(FLIP_SYMMETRY * FLIP_SYMMETRY * sk.NUM_JOINTS)
        self._idx = np.asarray(sk.MIRROR, np.intp)
        self._m = np.zeros((sk.NUM_JOINTS, 3), np.float32)
        self._d = np.zeros((sk.NUM_JOINTS, 3), np.float32)
        self.reset()

    def reset(self) -> None:
        self.mirrored = False
        """Whether the shown dance is the model's mirrored."""
        self.count = 0
        """Flips since the last reset."""
        self.late_count = 0
        """Of them, flips made when ``FLIP_WAIT_S`` had passed without a near-symmetric pose."""
        self._want = False
        self._waited = 0  # frames since the request
        self._since = self._gap  # frames since the last flip
        self.fade.reset()

    def request(self) -> None:
        """The dance repeats itself: flip on the next near-symmetric pose, or when ``FLIP_WAIT_S``
        has passed without one (dropped within ``FLIP_GAP_S`` of the last flip)."""
        if self._since >= self._gap and not self._want:
            self._want = True
            self._waited = 0

    def _mirror(self, pose: np.ndarray) -> None:
        """``self._m`` = the pose mirrored about its mid-hip."""
        m = self._m
        np.take(pose, self._idx, axis=0, out=m)
        cx = pose.item(_HIPS[0], 0) + pose.item(_HIPS[1], 0)
        col = m[:, 0]
        np.negative(col, out=col)
        col += np.float32(cx)

    def apply(self, pose: np.ndarray) -> None:
        """One pose [17, 3] (float32), shown mirrored or not, in place."""
        self._since += 1
        if self._want or self.mirrored:
            self._mirror(pose)
        if self._want:
            self._waited += 1
            d = self._d
            np.subtract(pose, self._m, out=d)
            np.multiply(d, d, out=d)
            near = float(d.sum()) < self._sym2
            if near or self._waited > self._wait:  # near its own mirror, or waited long enough: flip here
                self._want = False
                self.mirrored = not self.mirrored
                self._since = 0
                self.count += 1
                self.late_count += int(not near)
                self.fade.arm(slow=not near)  # the jump, faded from the last pose shown
        if self.mirrored:
            np.copyto(pose, self._m)
        self.fade.apply(pose)

    def apply_block(self, poses: np.ndarray) -> None:
        """A run of poses [n, 17, 3] (float32), in place as :meth:`apply` would."""
        for p in poses:
            self.apply(p)


class PhraseRefresh:
    """See the module docstring. ``on`` is False (and every method a no-op) when the generator
    has no ``refresh()`` or ``bars`` is 0 or the features have no bar phase (``at`` None), and
    the novelty guard is off and the dance is not shown mirrored."""

    def __init__(self, generator: Any, *, at: int | None, bars: int, fps: int, novelty: float = 0.0) -> None:
        self.bars = max(0, int(bars))
        self._refresh: Callable[..., None] | None = getattr(generator, "refresh", None)
        self.at = at
        self._bars_on = self.bars > 0 and at is not None and callable(self._refresh)
        self.guard = NoveltyGuard(fps, threshold=novelty)
        """The novelty guard (live/novelty.py; ``live.novelty``, 0 = off): a mirror flip when the
        dance repeats itself."""
        self.flip = MirrorFlip(fps)
        """What the guard asks for: the shown dance mirrored from the next near-symmetric pose."""
        self.on = False
        self.set_novelty(novelty)
        self.block = int(getattr(generator, "block", 1) or 1)
        self.min_frames = int(round(MIN_PHRASE_S * fps))
        self.fade = JumpFade(fps)
        self.count = 0
        """Refreshes since the last reset (the novelty guard's among them)."""
        self.reset()

    def set_novelty(self, threshold: float) -> None:
        """``live.novelty`` (the control of that name): the guard's threshold, 0 = off."""
        self.guard.threshold = threshold
        self._guard_on = self.guard.active
        self._sync_on()

    def _sync_on(self) -> None:
        # a mirrored dance stays mirrored (and shown so) when the guard is turned off
        self.on = self._bars_on or self._guard_on or self.flip.mirrored

    def reset(self) -> None:
        """A new stream (the generator was reset)."""
        self._prev = -1.0
        self._prev_ph = -1.0
        self._no_bar = 0  # music beats since the last downbeat
        self._heard = 0  # bars heard since the last refresh
        self._since = 0  # frames since the last refresh (or the stream start)
        self.fade.reset()
        self._deferred = False  # a block-N model refreshes on its next block
        self.guard.reset()
        self.flip.reset()
        self.count = 0
        self._sync_on()

    def _due(self, row: np.ndarray) -> bool:
        """Bookkeeping of one heard feature row; True when the memory is refreshed before it."""
        t = self.at
        assert t is not None
        bar = phase_at(row, t + 4)
        ph = phase_at(row, t + 1)
        downbeat = bar < self._prev - 0.5
        beat = ph < self._prev_ph - 0.5
        self._prev, self._prev_ph = bar, ph
        self._since += 1
        if downbeat:
            self._no_bar = 0
        elif beat:  # a beat source without bars: a bar every 4 beats once NO_BAR_BEATS passed
            self._no_bar += 1
            downbeat = self._no_bar >= NO_BAR_BEATS and self._no_bar % 4 == 0
        if not downbeat:
            return False
        self._heard += 1
        if self._heard < self.bars or self._since <= self.min_frames:
            return False
        self._heard = 0
        self._since = 1
        return True

    def _start(self) -> None:
        assert self._refresh is not None
        self._refresh(keep=REFRESH_KEEP)
        self.count += 1
        self.fade.arm()

    def before(self, row: np.ndarray) -> None:
        """Before the model's step on ``row`` (the features as the model hears them)."""
        if self._bars_on and self._due(row):
            self._start()

    def after(self, pose: np.ndarray) -> None:
        """The model's pose [17, 3] of this frame, in place: blended after a refresh, mirrored
        while the dance is (:class:`MirrorFlip`); the novelty guard sees what is shown."""
        self.fade.apply(pose)
        self.flip.apply(pose)
        if self._guard_on and self.guard.push(pose):
            self.flip.request()

    def frames(self, rows: np.ndarray, model: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """Offline: the poses of ``rows`` [n, F] (heard features) from ``model`` (the
        generator's batched call), with the refreshes, blends and flips :meth:`before` and
        :meth:`after` make frame by frame: the model runs up to each bar's refresh; the flips
        and the guard, which change only what is shown, go over its poses one by one."""
        cuts: list[int] = []
        b = self.block
        if self._deferred:
            cuts.append(0)
            self._deferred = False
        if self._bars_on:
            for i in range(len(rows)):
                if self._due(rows[i]):
                    k = -(-i // b) * b  # a block-N model: its next block boundary
                    if k < len(rows):
                        if not cuts or cuts[-1] != k:
                            cuts.append(k)
                    else:
                        self._deferred = True
        guard = self.guard if self._guard_on else None
        show = guard is not None or self.flip.mirrored
        parts = []
        start, c, n = 0, 0, len(rows)
        while start < n:
            if c < len(cuts) and cuts[c] == start:
                c += 1
                self._start()
            end = cuts[c] if c < len(cuts) else n
            o = np.asarray(model(rows[start:end]), np.float32)
            self.fade.apply_block(o)  # the fade over this part's first frames, as after() does
            if show:
                for p in o:
                    self.flip.apply(p)
                    if guard is not None and guard.push(p):
                        self.flip.request()
            parts.append(o)
            start = end
        if not parts:
            return np.zeros((0, sk.NUM_JOINTS, 3), np.float32)
        return parts[0] if len(parts) == 1 else np.concatenate(parts)
