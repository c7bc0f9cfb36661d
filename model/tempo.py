"""Tempo salience for the online beat tracker (numpy only).

``TempoComb`` keeps an exponentially weighted autocorrelation of a novelty signal,
updated in O(lags) per frame, and reads it through a comb of beat and bar multiples of
every candidate period on a log grid of tempi. While the autocorrelation is still
filling (the first seconds of a stream) each lag is unbiased by its number of products
and each candidate is judged only on the multiples seen so far, so the first estimate
does not lean toward fast tempi. ``model.beats.OnlineBeatTracker`` adds the prior,
hysteresis and live controls on top.
"""

from __future__ import annotations

import math

import numpy as np

PRIOR_BPM = 110.0
PRIOR_OCTAVES = 0.55
"""Log-normal tempo prior: centre and width (octaves)."""

TEMPO_STEP = 1.005
"""Ratio between neighbouring candidate tempi (0.5 % steps)."""

AC_SECONDS = 2.5
"""Time constant of the autocorrelation's memory."""


def comb_multiples(beats_per_bar: int) -> tuple[tuple[int, float], ...]:
    """(multiple of the beat period, weight) read from the autocorrelation for each
    candidate tempo: the beat, two beats, and the bar (and two bars in short metres)."""
    if beats_per_bar == 4:
        return ((1, 1.0), (2, 1.0), (3, 0.8), (4, 0.8))
    if beats_per_bar <= 3:
        return ((1, 1.0), (2, 0.8), (beats_per_bar, 1.0), (2 * beats_per_bar, 0.8))
    return ((1, 1.0), (2, 1.0), (beats_per_bar, 0.8))


class TempoComb:
    """Autocorrelation of a novelty signal and its comb salience per candidate tempo.

    Attributes: ``cand_bpm`` [shape=(n_cand,)], ``prior`` [shape=(n_cand,)] (log-normal
    around PRIOR_BPM), ``frames`` (novelty values accumulated), ``lag_max`` (longest
    beat period in frames).
    """

    def __init__(self, *, fps: int, beats_per_bar: int, min_bpm: float, max_bpm: float) -> None:
        f = float(fps)
        self.lag_max = int(math.ceil(60.0 * f / min_bpm))
        self.n_lags = max(h for h, _ in comb_multiples(beats_per_bar)) * self.lag_max + 2
        n_cand = int(math.ceil(math.log(max_bpm / min_bpm) / math.log(TEMPO_STEP))) + 1
        cand = min_bpm * TEMPO_STEP ** np.arange(n_cand)
        self.cand_bpm = cand[cand <= max_bpm * 1.0001]
        comb = np.zeros((len(self.cand_bpm), self.n_lags))
        for i, p in enumerate(60.0 * f / self.cand_bpm):
            for h, w in comb_multiples(beats_per_bar):
                x = h * p
                j = int(x)
                if j + 1 < self.n_lags:  # linear interpolation between lags
                    comb[i, j] += w * (1 - (x - j))
                    comb[i, j + 1] += w * (x - j)
        self._comb = comb
        self._total = comb.sum(axis=1)
        self._lags = np.arange(self.n_lags)
        self.prior = np.exp(-0.5 * (np.log2(self.cand_bpm / PRIOR_BPM) / PRIOR_OCTAVES) ** 2)
        self._hist = np.zeros(self.n_lags)  # newest last
        self._ac = np.zeros(self.n_lags)
        self._tmp = np.zeros(self.n_lags)
        self._decay = math.exp(-1.0 / (AC_SECONDS * f))
        k = np.arange(3 * self.n_lags + 1)
        self._pow = (1.0 - self._decay ** k) / (1.0 - self._decay)  # sum of d**j, j < k
        self._pow[0] = 1.0
        self._comb_cum = np.cumsum(comb, axis=1)
        self._acu = np.zeros(self.n_lags)
        self.frames = 0

    def reset(self) -> None:
        self._hist[:] = 0.0
        self._ac[:] = 0.0
        self.frames = 0

    def push(self, nov: float, *, accumulate: bool = True) -> None:
        """Add one novelty value (``accumulate=False``: history only, e.g. in a break)."""
        h = self._hist
        h[:-1] = h[1:]
        h[-1] = nov
        if accumulate:
            np.multiply(h[::-1], nov, out=self._tmp)
            self._ac *= self._decay
            self._ac += self._tmp
            self.frames += 1

    def salience(self, out: np.ndarray) -> np.ndarray:
        """Comb salience of every candidate into ``out`` [shape=(n_cand,)]."""
        m = self.frames
        if m < 3 * self.n_lags:
            # lag l has summed min(m - l, ...) decayed products: divide them out
            cnt = np.clip(m - self._lags, 0, len(self._pow) - 1)
            norm = self._pow[cnt]
            np.divide(self._ac, norm, out=self._acu, where=cnt > 0)
            self._acu[cnt <= 0] = 0.0
            used = self._comb_cum[:, min(m, self.n_lags) - 1] if m > 0 else self._total * 0.0
            np.dot(self._comb, self._acu, out=out)
            out *= self._total / np.maximum(used, 1e-9)
            out[used < 0.5 * self._total] = 0.0
        else:
            np.dot(self._comb, self._ac, out=out)
        return out
