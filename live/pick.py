"""The latent pick: at each latent redraw the dancer tries a few draws and takes the one
whose next two seconds lie farthest from what it has danced (``live.pick``, default 8; 1 = off;
session 50, models/README.md).

Why: the decoder's latent has a held half, redrawn every ``phrase`` frames (2 s), that steers
the move more than anything else the runtime controls (session 39), and a random draw often
leads back to a move of the last minute: the evaluation's repetition line (a 2-s window's
distance to the nearest window at least 2 s away, over the dance's mean pair distance) found
2.2 % of the shipped dancer's windows under 0.3 (a held house lean danced again 7.5 s later).
The draws are the model's own, in its own style, so the choice changes which of its moves
comes next, not what the moves look like.

How: at a redraw frame the runtime hands :meth:`LatentPick.choose` its decoder rolled out
``HORIZON`` frames from its current state for each of ``count`` held halves (draw 0 is the one
it would have made without the pick, so ``count`` 1 is the dance as before to the bit); the
music is taken as it is now for the whole roll-out (zero look-ahead), and the walking half of
the latent follows the same fresh noise for every draw. The pick keeps the dance's root-relative
raw poses (before post-processing) every third frame for ``HISTORY_S``, and for each roll-out
the 2-s windows ending 0.5, 1, 1.5 and 2 s into it are compared with every earlier window that
starts at least 2 s before them, as danced and mirrored (the novelty guard may show either
side, live/novelty.py): the draw whose nearest such window is farthest is taken. After the first
second (``PRUNE_AT``) only the ``KEEP`` draws whose windows so far lie farthest are rolled on, so
that offline generation stays over 100x real time.

Between redraws (``live.pick_look`` seconds, 0 = never, off by default; session 59) the pick can
also look again: every ``look`` seconds it measures whether the dance's last 2-s window lies within
``REPEAT_AT`` of the history's mean window pair distance from an earlier one (:meth:`LatentPick.
repeating`, as danced and mirrored), and only then decides as at a redraw, its draw 0 being the
held half as it is. A move that is not coming back is kept; one that is can be left after half a
second instead of at the next redraw. Each look that decides costs a decision's roll-outs: with
looks every 0.5 s most of them decide, the dancer repeats itself half as often (24 seeds: windows
under 0.3 0.79 % -> 0.38 %) and offline generation runs at 40-45 % of its speed, under its 100x
target, hence off by default (models/README.md, "Session 59").

A model trained with move tokens (``[train] move_tokens``, model/move_tokens.py; none shipped)
carries them in its metadata, and then the draws after the first are the style's tokens (the
codes of its moves, drawn by how often the style's data dances each, none twice) instead of
Gaussian vectors.

The draws and the walk noise come from the pick's own generator, seeded from the dance's seed,
so every runtime that picks (the numpy step live, the offline numpy generator) takes the same
draws and the same choices: the choice takes effect ``DELAY`` frames after the redraw in both,
the live step rolling the draws out on a short-lived worker thread meanwhile (so its frames stay
as cheap as before) and waiting for it only if it has not finished by then. The ONNX runtimes
have no roll-out and dance without the pick (one log line says so).

Cost (``python bench/step.py``, part 0p): one decision every 2 s, about 290 decoder steps batched
over the draws (the first ``DELAY`` once for all, then 8, then 4) and two comparisons with the
history, 10-15 ms of CPU with 8 draws on this 2-core machine, none of it in the live loop's
frames; offline (`generate`, `evaluate`) it is done in line.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import numpy as np
from numpy.lib.stride_tricks import as_strided

from model import skeleton as sk

HORIZON = 60
"""Frames each draw is rolled out (2 s at 30 fps)."""
HISTORY_S = 90.0
"""How far back the pick compares (s)."""
SUB = 3
"""Every SUB-th frame of the dance is kept (10 Hz at 30 fps)."""
WINDOW = 20
"""A compared window, in kept samples (2 s)."""
GAP = 20
"""Earlier windows start at least this many samples before the compared one (2 s)."""
ENDS = (5, 10, 15, 20)
"""The compared windows end this many samples into the roll-out (0.5, 1, 1.5, 2 s)."""
SEED_SALT = 0x5049434B
"""Mixed into the dance's seed for the pick's own generator."""
PRUNE_AT = 30
"""The roll-out step at which the draws are cut to ``KEEP`` (1 s)."""
REPEAT_AT = 0.7
"""The last window comes back when its nearest earlier window lies within this share of the
history's mean window pair distance (the evaluation's line is 0.3; the roll-outs' guess of what
follows is rough, so the pick looks again well before the dance reaches it: at 0.45 the looks
halved neither the repeats nor the cost; session 59)."""
KEEP = 4
"""The draws rolled out past ``PRUNE_AT``: those whose windows so far come back least."""
DELAY = 6
"""Frames from a redraw to the pick taking effect (0.2 s at 30 fps): the live step rolls the
draws out on a worker thread meanwhile, and every runtime takes the choice on the same frame."""

log = logging.getLogger("dancemuse.pick")


def tokens_of(meta: object, *, nd: int | None = None) -> tuple[np.ndarray, np.ndarray] | None:
    """A model's move tokens from its metadata (``move_tokens``: ``vectors`` [K, nd] and ``freq``
    per style, in the model's style order; `dancemuse export` of a model trained with
    ``[train] move_tokens``); None when it has none or they do not fit (its styles, or a held
    half of ``nd`` values)."""
    mt = meta.get("move_tokens") if isinstance(meta, dict) else None
    styles = meta.get("styles") if isinstance(meta, dict) else None
    if not isinstance(mt, dict) or not isinstance(styles, list):
        return None
    try:
        vec = np.asarray(mt["vectors"], np.float32)
        freq = np.asarray([mt["freq"][s] for s in styles], np.float64)
        ok = vec.ndim == 2 and freq.shape == (len(styles), len(vec)) and bool(np.isfinite(vec).all()) and (
            nd is None or vec.shape[1] == nd)
    except (KeyError, TypeError, ValueError):
        ok = False
    if not ok:
        log.warning("live.pick: this model's move tokens do not fit its styles or its latent, so the pick "
                    "draws Gaussian vectors; re-export the model with `dancemuse export`")
        return None
    return vec, freq


class LatentPick:
    """History and choice of the latent pick (see the module docstring). ``count`` draws per
    redraw (1 = off), ``nd`` the held half's size, ``fps`` the model's frame rate."""

    def __init__(self, count: int, *, nd: int, fps: int, seed: int | None = 0, look: float = 0.0) -> None:
        self.count = max(1, int(count))
        self.look = max(0.0, float(look))
        """Between two latent redraws the pick looks again every ``look`` seconds (``live.pick_look``;
        0 = never; session 59): when the dance's last 2-s window comes back (:meth:`repeating`), it
        decides again, its draw 0 being the held half as it is (so a dance that is not coming back
        keeps its move)."""
        self.nd = int(nd)
        self.fps = int(fps)
        self.horizon = HORIZON
        self.size = max(WINDOW + GAP + 1, int(round(HISTORY_S * fps / SUB)))
        self._ring = np.zeros((2 * self.size, sk.NUM_JOINTS, 3), np.float32)  # the history, twice over
        self.held = np.zeros((self.count, self.nd), np.float32)
        """The draws' held halves; row 0 is set by the runtime to its own draw."""
        self.walk = np.zeros((HORIZON, self.nd), np.float32)
        """The walking half's noise for the roll-outs' frames after the first."""
        self._mid = np.zeros(3, np.float32)
        self.tokens: tuple[np.ndarray, np.ndarray] | None = None
        """The model's move tokens (model/move_tokens.py): their held-latent vectors [K, nd] and
        how often each style dances each [S, K]; None: the draws are Gaussian."""
        self.style: np.ndarray | None = None
        """The style weights of the frame a decision is asked on (set by the runtime)."""
        self.picks = 0
        self.changed = 0
        self.looks = 0
        """Decisions made between redraws (the dance came back at a look; counted in ``picks`` too)."""
        self.reset(seed=seed)

    def reset(self, *, seed: int | None = None) -> None:
        s = 0 if seed is None else int(seed)
        self._rng = np.random.default_rng([s & 0xFFFFFFFF, SEED_SALT])
        self._n = 0  # samples kept
        self._frames = 0  # frames seen since the reset
        self.picks = self.changed = self.looks = 0
        self._worker: threading.Thread | None = None
        self._launch = False
        self._got: list[object] = [0, None]  # the worker's choice and its error, if any
        self._choice = 0
        self._due = -1  # the frame the pending choice takes effect on (-1: none)
        self._upto: int | None = None  # the samples kept when the pending decision was asked

    def checks(self, phase: int, phrase: int) -> bool:
        """Whether frame ``phase`` of a ``phrase``-frame latent phrase is one where the pick looks
        again (every ``look`` seconds after the redraw, not on it, nor within half a look of the
        next redraw)."""
        if self.look <= 0:
            return False
        every = max(1, int(round(self.look * self.fps)))
        return self.on and phase > 0 and phase % every == 0 and phrase - phase >= every // 2

    def start(self, roll_out: Callable[[], tuple[np.ndarray, np.ndarray]], *, threaded: bool,
              gate: bool = False) -> None:
        """A decision on this frame: ``roll_out()`` gives the roll-outs and which draws they
        are (:meth:`prune`; from a snapshot of the decoder, so that it may run on a worker
        thread: ``threaded``; one short-lived thread per decision, so none is left running
        between them, e.g. when `generate` forks its feature producer); the choice takes effect
        DELAY frames later (:meth:`due`, :meth:`take`)."""
        self._due = self._frames + DELAY
        self._upto = self._n  # the history as it is now (the frames to come write past it)

        def decide() -> int:  # a look between redraws rolls out only when the dance comes back
            if gate:
                if not self.repeating():
                    return 0
                self.looks += 1
            return self.choose(*roll_out())

        if not threaded:
            self._worker, self._choice = None, decide()
            return
        got: list[object] = [0, None]

        def work() -> None:
            try:
                got[0] = decide()
            except Exception as e:  # noqa: BLE001 - the show goes on with the first draw
                got[1] = e

        self._got = got
        self._worker = threading.Thread(target=work, name="dancemuse-pick", daemon=True)
        self._launch = True  # started by launch(), once the runtime has made this frame's pose

    def launch(self) -> None:
        """Start the worker of a decision asked on this frame, after the frame's own work (so that
        it runs while the show waits for the next audio, not while the frame is still made: it
        holds the interpreter lock between its products)."""
        if self._launch and self._worker is not None:
            self._launch = False
            self._worker.start()

    def due(self) -> bool:
        """Whether a pending choice takes effect on this frame."""
        return self._due == self._frames

    def take(self) -> int:
        """The pending choice (waits for the worker if it has not finished, so that the live
        dance is the offline one)."""
        self._due = -1
        if self._worker is not None:
            self.launch()  # not started yet (a runtime that never launched): started and waited for
            self._worker.join()
            self._worker = None
            if self._got[1] is not None:
                log.warning("live.pick: a roll-out failed (%s); the dancer takes its first draw", self._got[1])
                return 0
            self._choice = int(self._got[0])  # type: ignore[call-overload]
        return self._choice

    @property
    def on(self) -> bool:
        return self.count > 1

    def push(self, joints: np.ndarray) -> None:
        """The frame's raw joints [shape=(17, 3)] (the model's output before post-processing):
        kept every SUB-th frame, relative to the mid-hip. No allocation."""
        if self._frames % SUB == 0:
            i = self._n % self.size
            row, mid = self._ring[i], self._mid
            np.add(joints[11], joints[12], out=mid)
            mid *= 0.5
            np.subtract(joints, mid, out=row)
            self._ring[i + self.size] = row
            self._n += 1
        self._frames += 1

    def draw(self) -> None:
        """New draws for a decision: the held halves of rows 1.. and the walk noise."""
        if self.count > 1:
            self._rng.standard_normal(out=self.held[1:], dtype=np.float32)
            if self.tokens is not None and self.style is not None:
                vec, freq = self.tokens
                p = np.maximum(np.asarray(self.style, np.float64).reshape(-1) @ freq, 0.0)
                if p.sum() > 0:
                    k = min(self.count - 1, int((p > 0).sum()))
                    idx = self._rng.choice(len(vec), k, replace=False, p=p / p.sum())
                    self.held[1: 1 + k] = vec[idx]
        self._rng.standard_normal(out=self.walk, dtype=np.float32)

    def sample_steps(self) -> range:
        """Which roll-out steps are kept (those that fall on a kept frame of the dance)."""
        first = (-self._frames) % SUB
        return range(first, HORIZON, SUB)

    def ready(self) -> bool:
        """Whether the history holds enough to compare (more than 4.5 s)."""
        return self.on and self._n >= WINDOW + GAP + 5

    def prune(self, rolls: np.ndarray) -> np.ndarray:
        """Which draws to roll out past step PRUNE_AT, given the roll-outs so far: the KEEP whose
        windows lie farthest from the history, in draw order (ties to the lower draw)."""
        near = self._nearest(rolls)
        return np.sort(np.argsort(-near, kind="stable")[:KEEP])

    def choose(self, rolls: np.ndarray, index: np.ndarray | None = None) -> int:
        """The draw to take, given the roll-outs of the draws ``index`` (all when None) at the
        kept steps (raw pose vectors [shape=(draws, m, >= 51)], m = len(:meth:`sample_steps`)):
        the one whose nearest earlier window is farthest (ties to the lower draw)."""
        near = self._nearest(rolls)
        best, pick = -1.0, 0
        for c in range(len(near)):
            if near[c] > best + 1e-9:
                best, pick = float(near[c]), c
        pick = int(index[pick]) if index is not None else pick
        self.picks += 1
        self.changed += pick != 0
        return pick

    def _history(self) -> np.ndarray | None:
        """The kept samples as they were at :meth:`start` (less the oldest few, which the frames
        since overwrite), oldest first, as float64 rows [m, 51]; None when too short to compare."""
        n = self._n if self._upto is None else self._upto
        m = min(n, self.size - DELAY)
        if m < WINDOW + GAP + 5:
            return None
        a = n % self.size
        return self._ring[a + self.size - m: a + self.size].reshape(m, -1).astype(np.float64)

    def spread(self) -> float | None:
        """The history's mean distance between two 2-s windows at least GAP samples apart (windows
        every 2 s, the last one ending now; RMS per joint, m), as :meth:`repeating` measures against
        it; None while the history is too short (bench/moves.py reads it)."""
        hist = self._history()
        return None if hist is None else self._spread(hist)

    @staticmethod
    def _spread(hist: np.ndarray) -> float | None:
        starts = np.arange(len(hist) - WINDOW, -1, -WINDOW)[::-1]  # windows every 2 s, the last one ending now
        x = np.stack([hist[b: b + WINDOW].reshape(-1) for b in starts])
        sq = (x**2).sum(1)
        d2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * x @ x.T, 0.0)
        far = np.abs(starts[:, None] - starts[None, :]) >= GAP
        if not far.any():
            return None
        return float(np.sqrt(d2[far] / float(WINDOW * sk.NUM_JOINTS)).mean())

    def repeating(self) -> bool:
        """Whether the dance's last 2-s window (as the history was at :meth:`start`) lies within
        REPEAT_AT of the history's mean window pair distance from an earlier window starting at
        least GAP samples before it, as danced or mirrored. The mean pair distance is taken over
        windows every WINDOW samples (2 s) at least GAP apart."""
        hist = self._history()
        if hist is None:
            return False
        mean = self._spread(hist)
        if mean is None:
            return False
        m = len(hist)
        per = float(WINDOW * sk.NUM_JOINTS)
        last = hist[m - WINDOW:]
        nb = m - WINDOW - GAP + 1  # earlier windows: starts 0 .. nb - 1
        near = np.inf
        hq = (hist**2).sum(1)[None, :]
        # the mirrored history's distance to the last window is the history's to the mirrored last window
        for mine in (last, sk.mirror(last.reshape(WINDOW, sk.NUM_JOINTS, 3)).reshape(WINDOW, -1)):
            # dd[j, b] between the last window's sample j and history sample b; window pair (b):
            # the sum over j of dd[j, b + j], a diagonal
            dd = (mine**2).sum(1)[:, None] + hq - 2.0 * mine @ hist.T
            st = dd.strides
            diag = as_strided(dd, shape=(nb, WINDOW), strides=(st[1], st[0] + st[1]), writeable=False)
            near = min(near, float(np.sqrt(max(float(diag.sum(axis=1).min()), 0.0) / per)))
        return near < REPEAT_AT * mean

    def _nearest(self, rolls: np.ndarray) -> np.ndarray:
        """Per roll-out the distance of its windows that end in it (ENDS, as far as it reaches)
        to their nearest earlier window, as danced and mirrored (-inf for all when the history
        is short). Also runs on the worker thread: it reads the history only as it was at
        :meth:`start` (the samples kept then less the oldest few, which the frames since
        overwrite)."""
        k = len(rolls)
        hist = self._history()
        if hist is None:
            return np.full(k, -np.inf)
        m = len(hist)
        r = rolls.shape[1]
        roll = rolls[:, :, : sk.NUM_JOINTS * 3].reshape(k, r, sk.NUM_JOINTS, 3).astype(np.float64)
        roll = roll - 0.5 * (roll[:, :, 11:12] + roll[:, :, 12:13])
        mir = sk.mirror(hist.reshape(m, sk.NUM_JOINTS, 3)).reshape(m, -1)
        # every draw's last WINDOW samples of history and its roll-out: [k, WINDOW + r, 51]
        seqs = np.concatenate([np.broadcast_to(hist[m - WINDOW:], (k, WINDOW, hist.shape[1])),
                               roll.reshape(k, r, -1)], axis=1)
        span = seqs.shape[1]
        flat = seqs.reshape(k * span, -1)
        sq = (flat**2).sum(1)
        per = float(WINDOW * sk.NUM_JOINTS)
        near = np.full(k, np.inf)
        for view in (hist, mir):
            d2 = (sq[:, None] + (view**2).sum(1)[None, :] - 2.0 * flat @ view.T).reshape(k, span, m)
            st = d2.strides
            for e in ENDS:  # the window ending e samples into the roll-out starts at m - WINDOW + e
                nb = m - WINDOW + e - GAP + 1  # earlier windows: starts 0 .. nb - 1
                if e > r or nb <= 0:
                    continue
                # window pair (b, e): the sum over j of d2[., e + j, b + j], a diagonal of d2
                diag = as_strided(d2[:, e:, :], shape=(k, nb, WINDOW), strides=(st[0], st[2], st[1] + st[2]),
                                  writeable=False)
                near = np.minimum(near, np.sqrt(np.maximum(diag.sum(axis=2).min(axis=1), 0.0) / per))
        return near
