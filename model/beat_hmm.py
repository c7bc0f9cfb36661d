"""Causal inference of tempo, beat phase and metre: a bar-pointer HMM forward pass (numpy).

State space (after Whiteley et al. and Krebs et al.'s efficient bar-pointer model): for
each metre ``m`` in ``metres`` (beats per bar) and each beat period ``T`` (whole ticks of
1/60 s between ``60/max_bpm`` and ``60/min_bpm`` seconds), the position in the bar
``0 .. m*T - 1`` ticks. Each 30 Hz step advances the position by ``ADV`` = 2 ticks. The
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

Everything is preallocated; ``step`` allocates nothing but scalars.
"""

from __future__ import annotations

import math

import numpy as np

TICKS = 60.0
"""Position ticks per second."""
ADV = 2
"""Ticks advanced per 30 Hz step."""
STEP_HZ = 30.0


class BarPointerHMM:
    """Forward filter over (metre, beat period, position in bar).

    Parameters
    ----------
    min_bpm, max_bpm: tempo range.
    metres: beats-per-bar hypotheses.
    prefer: the metre favoured a priori (its initial mass is doubled).
    """

    def __init__(self, *, min_bpm: float = 60.0, max_bpm: float = 190.0,
                 metres: tuple[int, ...] = (3, 4), prefer: int = 4) -> None:
        self.lam_tempo = 100.0
        self.jump = 1e-2  # probability of a tempo jump per beat (times the evidence weight)
        self.switch_metre = 1e-3  # probability of a metre change per bar
        self.lam_obs = 8.0
        self.g_cross = 0.4
        self.zone_floor = 0.4
        t_lo = int(math.ceil(60.0 * TICKS / max_bpm))
        t_hi = int(math.floor(60.0 * TICKS / min_bpm))
        self.periods = np.arange(t_lo, t_hi + 1)
        self.metres = tuple(sorted(set(int(m) for m in metres)))
        nt = len(self.periods)
        # flat state arrays
        met, per, pos, tix = [], [], [], []
        self._block: dict[tuple[int, int], int] = {}
        s = 0
        for mi, m in enumerate(self.metres):
            for ti, t in enumerate(self.periods):
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
        self.cls = np.where(w < ADV, np.where(self.beat_idx == 0, 2, 1), 0)
        self.beat_phase = w / self.period
        self.log_period = np.log(self.period)
        # transitions: plain moves (dest <- dest - ADV) for states outside the zones
        self._src = np.where(self.cls == 0, np.arange(s) - ADV, 0)
        # crossings: columns (metre, beat, overflow); rows tempo
        cols = []
        for mi, m in enumerate(self.metres):
            for b in range(m):
                for o in range(ADV):
                    cols.append((mi, b, o))
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
                self._cross_src[ti, c] = base + (b * tt + o - ADV) % (m * tt)
        self._cross_dst_flat = self._cross_dst.ravel()
        # downbeat columns per metre (for metre switching)
        self._down_cols = []  # slices: the ADV columns of each metre's downbeat
        for k in range(len(self.metres)):
            first = cols.index((k, 0, 0))
            self._down_cols.append(slice(first, first + ADV))
        self._colw = np.zeros(nc)
        ratio = self.periods[None, :] / self.periods[:, None]
        a = np.exp(-self.lam_tempo * np.abs(ratio - 1.0))
        a /= a.sum(axis=1, keepdims=True)
        self._at = np.ascontiguousarray(a.T)  # D = A^T C (the jumps are added per step)
        # prior over tempo: log-normal around 115 BPM; metre preference
        bpm = 60.0 * TICKS / self.period
        prior = np.exp(-0.5 * (np.log2(bpm / 115.0) / 0.6) ** 2)
        prior *= np.where(np.asarray(self.metres)[self.metre_idx] == prefer, 2.0, 1.0)
        prior /= self.period * np.asarray(self.metres)[self.metre_idx]  # per tempo, not per state
        self._init = prior / prior.sum()
        self._tempo_prior = np.ones(nt)
        # buffers
        self.alpha = np.zeros(s)
        self._new = np.zeros(s)
        self._obs = np.zeros(s)
        self._obs3 = np.zeros(3)
        self._c = np.zeros((nt, nc))
        self._d = np.zeros((nt, nc))
        self._d_flat = self._d.reshape(-1)
        self._colsum = np.zeros(nc)
        self._buf = np.zeros(s)
        self._buf2 = np.zeros(s)
        self._tmp = np.zeros((nt, ADV))
        self._mask = np.zeros(s, dtype=bool)
        self._mask2 = np.zeros(s, dtype=bool)
        self.reset()

    def reset(self) -> None:
        self.alpha[:] = self._init
        self._tempo_prior[:] = 1.0
        self.map_state = int(np.argmax(self.alpha))

    # -- forward step ------------------------------------------------------------------
    def step(self, p_none: float, p_beat: float, p_down: float, weight: float = 1.0) -> int:
        """Advance one 30 Hz step with the frame's activation; ``weight`` in [0, 1] scales
        the observation's influence (0: ignore it). Returns the MAP state."""
        a, new = self.alpha, self._new
        np.take(a, self._cross_src, out=self._c, mode="clip")
        np.dot(self._at, self._c, out=self._d)
        d = self._d
        j = self.jump * weight  # no tempo jumps without evidence (a break holds the tempo)
        if j > 0.0:
            np.sum(self._c, axis=0, out=self._colsum)
            d *= 1.0 - j
            self._colsum *= j / len(self.periods)
            d += self._colsum
        if len(self.metres) > 1:  # a small share of the downbeat mass changes metre
            s0 = d[:, self._down_cols[0]]
            s1 = d[:, self._down_cols[1]]
            tmp = self._tmp
            np.subtract(s1, s0, out=tmp)
            tmp *= self.switch_metre
            s0 += tmp
            s1 -= tmp
        d *= self._tempo_prior[:, None]
        o = self._obs3
        if weight > 0.0:
            o[0] = max(p_none, 1e-6) / (self.lam_obs - 1.0)
            floor = self.zone_floor * o[0]  # a missing beat costs at most this factor
            o[1] = max(p_beat + self.g_cross * p_down, floor)
            o[2] = max(p_down + self.g_cross * p_beat, floor)
            if weight < 1.0:
                np.power(o, weight, out=o)
            cw = self._colw
            cw[:] = o[1]
            for sl in self._down_cols:
                cw[sl] = o[2]
            d *= cw
        else:
            o[0] = 1.0
        # every other state moves ADV ticks on within its beat
        np.multiply(a[:-ADV], o[0], out=new[ADV:])
        new[self._cross_dst_flat] = self._d_flat
        tot = float(new.sum())
        if not tot > 0.0 or not math.isfinite(tot):
            new[:] = self._init
            tot = 1.0
        self.map_state = int(np.argmax(new))
        np.multiply(new, 1.0 / tot, out=a)
        return self.map_state

    # -- readouts ----------------------------------------------------------------------
    def summary(self, phase_tol: float = 0.08, tempo_tol: float = 0.06) -> tuple[float, float]:
        """(confidence, tempo in BPM): the posterior mass near the MAP state's beat phase
        and tempo, and the posterior mean tempo of the states near the MAP tempo."""
        s = self.map_state
        a, b, b2 = self.alpha, self._buf, self._buf2
        m1, m2 = self._mask, self._mask2
        np.subtract(self.log_period, self.log_period[s], out=b)
        np.abs(b, out=b)
        np.less(b, tempo_tol, out=m1)
        b.fill(0.0)
        np.copyto(b, a, where=m1)  # the mass near the MAP tempo
        mt = float(b.sum())
        mean_lp = float(np.dot(b, self.log_period)) / max(mt, 1e-300)
        np.subtract(self.beat_phase, self.beat_phase[s], out=b2)
        np.abs(b2, out=b2)
        np.greater(b2, phase_tol, out=m1)
        np.less(b2, 1.0 - phase_tol, out=m2)
        np.logical_and(m1, m2, out=m1)  # circular distance above phase_tol
        np.copyto(b, 0.0, where=m1)
        return float(b.sum()), 60.0 * TICKS / math.exp(mean_lp)

    # -- biasing (live controls) -------------------------------------------------------
    def bias(self, weights: np.ndarray) -> None:
        """Multiply the posterior by ``weights`` [shape=(n_states,)] and renormalise."""
        self.alpha *= weights
        tot = float(self.alpha.sum())
        if tot > 0 and math.isfinite(tot):
            self.alpha /= tot
        else:
            self.alpha[:] = self._init
        self.map_state = int(np.argmax(self.alpha))

    def set_tempo_prior(self, bpm: float | None, width: float = 0.04) -> None:
        """Favour tempi near ``bpm`` at every beat crossing (None: no preference)."""
        if bpm is None:
            self._tempo_prior[:] = 1.0
            return
        t = 60.0 * TICKS / bpm
        self._tempo_prior[:] = 0.05 + np.exp(-0.5 * (np.log(self.periods / t) / width) ** 2)

    def shift(self, ticks_of_period: float) -> None:
        """Move every state's position by ``ticks_of_period`` beat periods (a nudge)."""
        new = np.empty_like(self.alpha)
        per = self.period.astype(int)
        bar = per * np.asarray(self.metres)[self.metre_idx]
        sh = np.rint(ticks_of_period * per).astype(int)
        dst = (self.pos + sh) % bar + (np.arange(self.n_states) - self.pos)
        new[dst] = self.alpha
        self.alpha[:] = new
        self.map_state = int(np.argmax(self.alpha))
