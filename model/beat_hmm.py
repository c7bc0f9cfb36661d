"""Causal inference of tempo, beat phase and metre: a bar-pointer HMM forward pass (numpy).

State space (after Whiteley et al. and Krebs et al.'s efficient bar-pointer model): for
each metre ``m`` in ``metres`` (beats per bar) and each beat period ``T`` (whole ticks of
1/TICKS s, 1/90 s by default, between ``60/max_bpm`` and ``60/min_bpm`` seconds), the position in the bar
``0 .. m*T - 1`` ticks. Each 30 Hz step advances the position by ``ADV`` = 3 ticks. The
tempo can change only when the pointer crosses a beat boundary (probability
``exp(-lam * |T'/T - 1|)``, plus a small jump probability spread over all tempi, scaled
by the observation weight, so that an abrupt tempo change is re-found within a few beats
while a break holds the tempo); the metre can change only at a bar boundary. The states
whose position lies in the first ``ADV`` ticks of a beat form the beat zone (one 30 Hz
frame per beat), the first beat of the bar the downbeat zone.

Observation: the activation network's probabilities ``(none, beat, downbeat)`` of the
frame. Beat-zone states see ``beat + g * downbeat``, downbeat-zone states
``downbeat + g * beat``, the others ``none / (lam_obs - 1)``; a zone value is never below
``zone_floor`` times the other (an absent beat is weak evidence: without this floor a quiet
passage drags the tempo toward the slowest hypothesis, which crosses the fewest empty beat
zones). The three values are
raised to a power that goes to 0 when the recent activation is weak (a break or silence),
so the posterior then coasts on the transition model and the tempo holds.

Half-tempo, double-tempo, off-beat and 3:2 readings are all states of this one model;
they compete through the same forward pass (no separate checks). 6/8 is tracked as two
dotted-quarter beats per bar counted as a bar of 4 (two bars of 6/8) or, when its
eighth-note pulse is strong, as 3/4 at the eighth-note-triplet level -- whichever the
activation supports; both are consistent beat grids for dancing.

Cost: the plain move of every state by ADV ticks is not done state by state: the
posterior sits unnormalised in a window of a preallocated ring buffer, and the window slides
ADV slots per step (a copy back every RING_SLACK / ADV steps). A step touches only the
crossing states (gather, one tempo-transition matrix product, one metre-switching product,
the likelihoods folded into the metre-switching product, scatter) and finds the MAP state
among them (the argmax over all states only when the MAP state itself crosses a beat
boundary); the normalisation is implicit, its sum kept up to date from the crossing states'
mass before and after the step (one small product; summed afresh at each ring wrap).
``summary`` reads only the blocks of the tempi near the MAP tempo, which the tempo-major
layout keeps contiguous: one sum per tempo, one lookup of "near the MAP phase" per state. Everything is preallocated; ``step`` allocates
nothing but scalars and views.
"""

from __future__ import annotations

import bisect
import math

import numpy as np

STEP_HZ = 30.0
"""Forward steps per second (the activation's frame rate)."""
TICKS = 90.0
"""Position ticks per second (default; ``BarPointerHMM(ticks=...)``, a multiple of STEP_HZ):
the beat periods are whole ticks, so this sets the tempo resolution: 1.5 % steps at 134 BPM
(60 ticks: 3.7 %, between which a 134 BPM track flipped and drifted off the beat). Chosen on
the corpus train split: 90 over 60 raised F, AMLt, downbeat F and club F and removed the
long off-beat locks there (CMLt -0.015 without the tempo memory of model.beats)."""
ADV = int(TICKS / STEP_HZ)
"""Ticks advanced per step at the default resolution."""
RING_SLACK = 1024
"""Spare slots in front of the posterior window: the window slides ADV per step and is
copied back (one pass) every RING_SLACK / ADV steps."""


class BarPointerHMM:
    """Forward filter over (metre, beat period, position in bar).

    Parameters
    ----------
    min_bpm, max_bpm: tempo range.
    metres: beats-per-bar hypotheses.
    prefer: the metre favoured a priori (its initial mass is doubled).
    """

    def __init__(self, *, min_bpm: float = 60.0, max_bpm: float = 190.0,
                 metres: tuple[int, ...] = (3, 4), prefer: int = 4, ticks: float = TICKS) -> None:
        self.ticks = float(ticks)
        self.adv = int(round(self.ticks / STEP_HZ))
        if abs(self.adv * STEP_HZ - self.ticks) > 1e-9:
            raise ValueError(f"beat HMM ticks {ticks} per second must be a multiple of {STEP_HZ:g}")
        self.lam_tempo = 100.0
        self.jump = 1e-2  # probability of a tempo jump per beat (times the evidence weight)
        self.switch_metre = 1e-3  # probability of a metre change per bar
        self.lam_obs = 8.0
        self.g_cross = 0.4
        self.zone_floor = 0.4
        t_lo = int(math.ceil(60.0 * self.ticks / max_bpm))
        t_hi = int(math.floor(60.0 * self.ticks / min_bpm))
        self.periods = np.arange(t_lo, t_hi + 1)
        self.metres = tuple(sorted(set(int(m) for m in metres)))
        nt = len(self.periods)
        # flat state arrays: blocks (tempo, metre) in tempo order, so the states of the tempi
        # near a given one form one contiguous range
        met, per, pos, tix = [], [], [], []
        self._block: dict[tuple[int, int], int] = {}
        s = 0
        for ti, t in enumerate(self.periods):
            for mi, m in enumerate(self.metres):
                n = m * int(t)
                self._block[(mi, ti)] = s
                met.append(np.full(n, mi))
                per.append(np.full(n, t))
                tix.append(np.full(n, ti))
                pos.append(np.arange(n))
                s += n
        self.n_states = s
        self.metre_idx = np.concatenate(met)
        self.period = np.concatenate(per).astype(float)
        self.tempo_idx = np.concatenate(tix)
        self.pos = np.concatenate(pos)
        w = self.pos % self.period.astype(int)
        self.within = w  # ticks since the last beat boundary
        self.beat_idx = self.pos // self.period.astype(int)
        self.cls = np.where(w < self.adv, np.where(self.beat_idx == 0, 2, 1), 0)
        self.beat_phase = w / self.period
        self.log_period = np.log(self.period)
        # crossings: columns (metre, beat, overflow); rows tempo
        # (the downbeat columns of all metres first, so that they form one slice)
        cols = [(mi, 0, o) for mi in range(len(self.metres)) for o in range(self.adv)]
        cols += [(mi, b, o) for mi, m in enumerate(self.metres) for b in range(1, m)
                 for o in range(self.adv)]
        self._cols = cols
        nc = len(cols)
        self._cross_src = np.zeros((nt, nc), dtype=np.intp)
        self._cross_dst = np.zeros((nt, nc), dtype=np.intp)
        for ti, tp in enumerate(self.periods):
            tt = int(tp)
            for c, (mi, b, o) in enumerate(cols):
                m = self.metres[mi]
                base = self._block[(mi, ti)]
                self._cross_dst[ti, c] = base + b * tt + o
                self._cross_src[ti, c] = base + (b * tt + o - self.adv) % (m * tt)
        self._cross_dst_flat = self._cross_dst.ravel()
        # downbeat columns per metre (for metre switching)
        self._down_cols = []  # slices: the self.adv columns of each metre's downbeat
        for k in range(len(self.metres)):
            first = cols.index((k, 0, 0))
            self._down_cols.append(slice(first, first + self.adv))
        self._n_down = self.adv * len(self.metres)  # columns 0 .. _n_down - 1 are downbeats
        self._sw = np.eye(nc)
        self._at = np.zeros((nt, nt))
        self._m_key = (-1.0, -1)
        self.rebuild()
        # the tempo transition of one step, D = M C: prior rows x ((1 - j) A^T + j / nt),
        # rebuilt only when the jump share j or the tempo prior changes
        self._m = np.zeros((nt, nt))
        self._m_key = (-1.0, -1)
        self._prior_version = 0
        # prior over tempo: log-normal around 115 BPM; metre preference
        bpm = 60.0 * self.ticks / self.period
        prior = np.exp(-0.5 * (np.log2(bpm / 115.0) / 0.6) ** 2)
        prior *= np.where(np.asarray(self.metres)[self.metre_idx] == prefer, 2.0, 1.0)
        prior /= self.period * np.asarray(self.metres)[self.metre_idx]  # per tempo, not per state
        self._init = prior / prior.sum()
        self._tempo_prior = np.ones(nt)
        # the posterior lives unnormalised in a sliding window of one of two ring buffers:
        # the plain move (every state self.adv ticks on) is a shift of the window start by self.adv,
        # free; only the crossing states are written, and the sum is kept incrementally
        self._ring = (np.zeros(s + RING_SLACK), np.zeros(s + RING_SLACK))
        self._r = 0  # which ring holds the window
        self._off = RING_SLACK  # window start
        self._u = self._ring[0][RING_SLACK:]
        self._su = 1.0  # sum of the window (the posterior is _u / _su); -1: not known
        # per tempo: the first state of its blocks and the end of its last block
        self._t_start = [self._block[(0, ti)] for ti in range(nt)]
        self._t_end = [self._block[(0, ti)] + sum(self.metres) * int(t)
                       for ti, t in enumerate(self.periods)]
        # summary: per state its tempo (a list) and its key tempo * wmax + ticks since the
        # beat into a table of the beat phases of all (tempo, ticks) pairs
        self._tempo_of = self.tempo_idx.tolist()
        self._phase_list = self.beat_phase.tolist()
        self._wmax = int(self.periods.max())
        wm = self._wmax
        self._key = (self.tempo_idx * wm + self.within).astype(np.intp)
        self._ph_tbl = np.full(nt * wm, 2.0)  # (unused pairs: never near)
        for ti, t in enumerate(self.periods):
            self._ph_tbl[ti * wm: ti * wm + int(t)] = np.arange(int(t)) / float(t)
        self._ok_tbl = np.zeros(nt * wm)
        self._bs_tbl = np.zeros(nt * wm)
        # row lo: each tempo's first state relative to tempo lo's (reduceat's offsets)
        t_start = np.asarray(self._t_start, dtype=np.intp)
        self._rel_tbl = t_start[None, :] - t_start[:, None]
        self._mass = np.zeros(nt)
        self._lp_arr = np.log(self.periods.astype(float))
        self._lp_list = [float(x) for x in np.log(self.periods.astype(float))]
        # the crossing states' mass before (c) and after (d2) the step side by side, so that
        # one product with [-1.., 1..] gives the change of the window's sum
        self._cd = np.zeros((2, nt, nc))
        self._c, self._d2 = self._cd[0], self._cd[1]
        self._cd_flat = self._cd.reshape(-1)
        self._pm = np.concatenate([-np.ones(nt * nc), np.ones(nt * nc)])
        self._d = np.zeros((nt, nc))
        self._d_flat = self._d2.reshape(-1)
        self._swc = np.zeros((nc, nc))  # metre switching times the column likelihoods
        nd = self._n_down
        self._swc_beat_diag = self._swc.reshape(-1)[nd * (nc + 1)::nc + 1]
        self._swc_down_parts = self._down_parts()
        # a state whose value the next step overwrites (last self.adv ticks of a beat: it
        # crosses); while the MAP state is not one, the next MAP is it (moved on) or a
        # crossing state, and the full argmax is not needed
        self._crosses = (self.within >= self.period.astype(int) - self.adv).tolist()
        self._info = list(zip(self.period.astype(int).tolist(), self.within.tolist(),
                              self.beat_idx.tolist(),
                              np.asarray(self.metres)[self.metre_idx].tolist()))
        self._buf = np.zeros(s)
        self._map_stale = True
        self.reset()

    def rebuild(self) -> None:
        """Recompute the transition matrices from ``lam_tempo`` and ``switch_metre`` (after
        changing them)."""
        nc = self._sw.shape[0]
        # metre switching mixes the downbeat columns of the two metres: D <- D S
        self._sw[:] = np.eye(nc)
        if len(self.metres) > 1:
            sw = self.switch_metre
            for o in range(self.adv):
                c0, c1 = self._down_cols[0].start + o, self._down_cols[1].start + o
                self._sw[c0, c0] = self._sw[c1, c1] = 1.0 - sw
                self._sw[c0, c1] = self._sw[c1, c0] = sw
        if hasattr(self, "_swc_down_parts"):
            self._swc_down_parts = self._down_parts()
        ratio = self.periods[None, :] / self.periods[:, None]
        a = np.exp(-self.lam_tempo * np.abs(ratio - 1.0))
        a /= a.sum(axis=1, keepdims=True)
        self._at[:] = a.T
        self._m_key = (-1.0, -1)

    def _down_parts(self) -> list[tuple[np.ndarray, float]]:
        """S's downbeat block as (view of the same places in the step's matrix, value)
        pairs, one per distinct value along each diagonal of the block (strided views: a
        few scalar fills per step instead of a product over the block)."""
        nd = self._n_down
        nc = self._sw.shape[0]
        flat = self._swc.reshape(-1)
        parts: list[tuple[np.ndarray, float]] = []
        for off in range(-(nd - 1), nd):
            rows = [r for r in range(nd) if 0 <= r + off < nd]
            vals = [float(self._sw[r, r + off]) for r in rows]
            start = rows[0] * nc + rows[0] + off
            # split the diagonal into runs of one value
            i = 0
            while i < len(rows):
                j = i
                while j + 1 < len(rows) and vals[j + 1] == vals[i]:
                    j += 1
                v = start + i * (nc + 1)
                parts.append((flat[v: v + (j - i) * (nc + 1) + 1: nc + 1], vals[i]))
                i = j + 1
        self._swc[:nd, :nd] = 0.0  # S's zeros stay zero: only the other runs are filled
        return [(view, value) for view, value in parts if value != 0.0]

    # -- posterior storage -------------------------------------------------------------
    @property
    def alpha(self) -> np.ndarray:
        """The posterior [shape=(n_states,)], normalised (a view; writing it changes the
        posterior, so the next step finds the MAP state over all states). Not for the
        per-frame path: it rescales the window."""
        self._map_stale = True
        su = self._sum()
        if su != 1.0:
            self._u *= 1.0 / su
        self._su = -1.0  # the caller may write it: summed afresh when next needed
        return self._u

    def posterior(self) -> np.ndarray:
        """A normalised copy of the posterior [shape=(n_states,)] (allocates; for tests and
        diagnostics)."""
        return self._u / self._sum()

    def _sum(self) -> float:
        if self._su < 0.0:
            self._su = float(self._u.sum())
        return self._su

    def _set(self, values: np.ndarray) -> None:
        """Replace the posterior by ``values`` (normalised by the caller)."""
        self._u[:] = values
        self._su = float(self._u.sum())

    def reset(self) -> None:
        self._r = 0
        self._off = RING_SLACK
        self._u = self._ring[0][RING_SLACK:]
        self._set(self._init)
        self._tempo_prior[:] = 1.0
        self._prior_version += 1
        self.map_state = int(np.argmax(self._u))

    # -- forward step ------------------------------------------------------------------
    def _transition(self, j: float) -> np.ndarray:
        key = (j, self._prior_version)
        if key != self._m_key:
            m = self._m
            np.multiply(self._at, 1.0 - j, out=m)
            m += j / len(self.periods)
            m *= self._tempo_prior[:, None]
            self._m_key = key
        return self._m

    def step(self, p_none: float, p_beat: float, p_down: float, weight: float = 1.0) -> int:
        """Advance one 30 Hz step with the frame's activation; ``weight`` in [0, 1] scales
        the observation's influence (0: ignore it). Returns the MAP state.

        About eight numpy calls on small arrays: gather the crossing mass, tempo transition
        (one matrix product), metre switching (one), the beat and downbeat likelihoods (one
        column scaling, relative to the plain states' factor, which is left out), scatter,
        and the MAP state: while the last one does not cross a beat boundary it has only
        moved on with its value unchanged, so the new one is it or the best crossing state
        (an argmax over those); the argmax over all states runs only when the MAP state
        crosses (about once per beat) or without evidence (where ties are broken as argmax
        breaks them)."""
        u = self._u
        c, d, d2 = self._c, self._d, self._d2
        u.take(self._cross_src, out=c, mode="clip")  # the indices are valid: no checks
        # no tempo jumps without evidence (a break holds the tempo)
        self._transition(self.jump * weight).dot(c, d)  # (array methods: no np.dot dispatcher)
        if weight > 0.0:
            o0 = max(p_none, 1e-6) / (self.lam_obs - 1.0)
            floor = self.zone_floor * o0  # a missing beat costs at most this factor
            o1 = max(p_beat + self.g_cross * p_down, floor)
            o2 = max(p_down + self.g_cross * p_beat, floor)
            if weight < 1.0:
                o0, o1, o2 = o0 ** weight, o1 ** weight, o2 ** weight
            # metre switching and the column likelihoods in one small matrix: D <- D S diag(cs)
            # (S is the identity but for the downbeat block: the beat columns' diagonal is
            # o1 / o0, the downbeat block S's times o2 / o0)
            self._swc_beat_diag[...] = o1 / o0
            k2 = o2 / o0
            for view, value in self._swc_down_parts:  # S's downbeat block times o2 / o0
                view[...] = value * k2
            d.dot(self._swc, d2)
        else:
            d.dot(self._sw, d2)
        # every other state moves self.adv ticks on within its beat: slide the window
        su = self._su
        if self._off < self.adv:  # wrap: copy the window to the end of the other ring (rare)
            nxt = self._ring[1 - self._r]
            nxt[RING_SLACK:] = u
            self._r = 1 - self._r
            self._off = RING_SLACK
            su = -1.0  # summed afresh now and then (no drift)
        self._off -= self.adv
        u = self._u = self._ring[self._r][self._off:self._off + self.n_states]
        u[self._cross_dst_flat] = self._d_flat
        # the window's sum: the crossing states' mass left (c) and came back (d2); the
        # others only moved
        if su >= 0.0:
            su += float(self._cd_flat.dot(self._pm))
        old = self.map_state
        if self._crosses[old] or weight <= 0.0 or self._map_stale:
            ms = int(u.argmax())  # (no evidence: ties, broken as argmax breaks them)
            self._map_stale = False
        else:  # the old MAP moved on unchanged; every state that changed is a crossing one
            k = int(self._d_flat.argmax())
            ms = old + self.adv
            if self._d_flat[k] > u[ms]:
                ms = int(self._cross_dst_flat[k])
        self.map_state = ms
        top = float(u[ms])
        if not (1e-100 < top < 1e100):  # rescale (rare), or start again if lost
            if top > 0.0 and math.isfinite(top):
                u *= 1.0 / top
            else:
                u[:] = self._init
                self.map_state = int(np.argmax(u))
            su = -1.0
        self._su = su if su > 0.0 else -1.0  # (-1: unknown until read)
        return self.map_state

    # -- readouts ----------------------------------------------------------------------
    def state_info(self, state: int) -> tuple[int, int, int, int]:
        """(beat period in ticks, ticks since the last beat boundary, beat in the bar from
        0, beats per bar) of ``state``, as Python ints (no numpy scalars)."""
        return self._info[state]

    def summary(self, phase_tol: float = 0.08, tempo_tol: float = 0.06) -> tuple[float, float]:
        """(confidence, tempo in BPM): the posterior mass near the MAP state's beat phase
        and tempo, and the posterior mean tempo of the states near the MAP tempo.

        Only the blocks of the tempi within ``tempo_tol`` (log period) of the MAP tempo are
        read: one contiguous range of states, a few percent of the posterior. The mass of
        each tempo there comes from one sum per tempo (``reduceat``), the mean tempo from
        those; "near the MAP phase" is decided once per (tempo, ticks since the beat) pair of
        those tempi and looked up per state."""
        st = self.map_state
        lp = self._lp_list
        ti = self._tempo_of[st]
        lo = bisect.bisect_right(lp, lp[ti] - tempo_tol)
        hi = bisect.bisect_left(lp, lp[ti] + tempo_tol)
        s0, s1 = self._t_start[lo], self._t_end[hi - 1]
        us = self._u[s0:s1]
        mass = self._mass[: hi - lo]
        np.add.reduceat(us, self._rel_tbl[lo, lo:hi], out=mass)
        mt = float(np.add.reduce(mass))  # (as mass.sum(), without its Python wrapper)
        mean_lp = float(np.dot(mass, self._lp_arr[lo:hi])) / max(mt, 1e-300)
        # "near the MAP phase", exactly as | |phase - ph0| - 1/2 | >= 1/2 - phase_tol, for
        # the (tempo, ticks since the beat) pairs of the window's tempi, then looked up
        ph = self._ph_tbl[lo * self._wmax: hi * self._wmax]
        ok = self._ok_tbl[lo * self._wmax: hi * self._wmax]
        bs = self._bs_tbl[: len(ph)]
        np.subtract(ph, self._phase_list[st], out=bs)
        np.abs(bs, out=bs)
        bs -= 0.5
        np.abs(bs, out=bs)
        np.greater_equal(bs, 0.5 - phase_tol, out=ok, casting="unsafe")
        inc = self._buf[s0:s1]
        self._ok_tbl.take(self._key[s0:s1], out=inc, mode="clip")  # valid keys: no checks
        near = float(np.dot(us, inc))
        return near / self._sum(), 60.0 * self.ticks / math.exp(mean_lp)

    # -- biasing (live controls) -------------------------------------------------------
    def bias(self, weights: np.ndarray) -> None:
        """Multiply the posterior by ``weights`` [shape=(n_states,)] and renormalise."""
        a = self.alpha
        a *= weights
        tot = float(a.sum())
        if tot > 0 and math.isfinite(tot):
            a /= tot
        else:
            a[:] = self._init
        self._su = 1.0
        self.map_state = int(np.argmax(a))

    def set_tempo_prior(self, bpm: float | None, width: float = 0.04, floor: float = 0.05) -> None:
        """Favour tempi near ``bpm`` at every beat crossing: the others' mass is multiplied by
        down to ``floor`` per beat (None: no preference)."""
        self._prior_version += 1
        if bpm is None:
            self._tempo_prior[:] = 1.0
            return
        t = 60.0 * self.ticks / bpm
        self._tempo_prior[:] = floor + (1.0 - floor) * np.exp(
            -0.5 * (np.log(self.periods / t) / width) ** 2)

    def shift(self, ticks_of_period: float) -> None:
        """Move every state's position by ``ticks_of_period`` beat periods (a nudge)."""
        a = self.alpha
        new = np.empty_like(a)
        per = self.period.astype(int)
        bar = per * np.asarray(self.metres)[self.metre_idx]
        sh = np.rint(ticks_of_period * per).astype(int)
        dst = (self.pos + sh) % bar + (np.arange(self.n_states) - self.pos)
        new[dst] = a
        a[:] = new
        self.map_state = int(np.argmax(a))
