"""Causal online beat tracking on an onset envelope (numpy only).

``OnlineBeatTracker.step(onset, low_onset)`` is called once per feature frame with that
frame's onset strength (and the onset strength of the bass bands, for downbeats). It
uses only the past and raises ``is_beat`` on the frame in which a *predicted* beat falls,
so motion can land on the beat with zero look-ahead.

How it works
------------
1. Novelty: each onset stream (full band, bass energy flux) in units of its recent
   mean, minus its local mean, half-wave rectified, then mixed (``w_tempo``, ``w_phase``).
2. Tempo: an exponentially weighted autocorrelation of the novelty (O(lags) per frame,
   unbiased while it fills) read through a comb of beat/bar multiples of every candidate
   period (0.5 % grid) and a log-normal prior around 110 BPM; the current tempo gets a
   bonus and a jump must win for ``switch_s`` (hysteresis). Quiet (a break): tempo held.
3. Phase: a causal cumulative score (Ellis's dynamic-programming recursion run forward
   only, as Stark et al. do in real time): ``C[n] = (1-a) nov[n] + a max_v W(v) C[n-v]``
   with ``v`` around one period. Half a beat after each beat the score is projected one
   period ahead (past values only) and the next beat is predicted at its maximum,
   weighted by a Gaussian around last beat + period.
4. Re-lock: when the onsets near three beats in a row arrive early (or late), the
   period they show is taken at once (moderate tempo changes); on a larger jump found by
   the tempo search the beat score is re-run over the remembered past with the new
   period and the next phase is chosen freely; the hysteresis bonus and the confidence
   scale with ``fit``, the share of recent beats that land on an onset. When every
   other beat is much weaker above ``metre_min_bpm`` the tempo is halved (8th notes).
5. The onset detector answers late (the window must see the attack), so predictions are
   shifted earlier by ``delay_s`` to land on the true beat.
6. Bars: the beat slot with the most bass onset energy is the downbeat.

Live controls: ``tap(time_s)`` (tap tempo: two or more taps set tempo and phase and bias
the tempo search toward the tapped tempo) and ``nudge(beats)`` (shift the beat grid;
whole beats move the bar count, fractions move the phase).

Times are seconds of audio since the stream started; frame ``n`` ends at
``(n + 1) / fps``.
"""

from __future__ import annotations

import math

import numpy as np

from model.tempo import TEMPO_STEP, TempoComb

DELAY_S = {30: 0.035, 60: 0.018}
"""Latency of the onset detector's response to an attack, per fps (measured against the
synthesiser's ground truth with n_fft 2048 at 24 kHz; other rates use 0.03 s)."""


class OnlineBeatTracker:
    """Causal tempo, beat phase, beat events, bar counting and confidence.

    Parameters
    ----------
    fps: feature frames per second.
    beats_per_bar: beats counted per bar.
    min_bpm, max_bpm: tempo search range.
    delay_s: onset-detector latency to compensate (default: DELAY_S for the fps).

    State after each ``step`` (attributes): ``tempo`` (BPM), ``phase`` (0..1 of the
    current beat), ``is_beat``, ``beat_in_bar`` (1..beats_per_bar), ``bar`` (bars since
    start), ``confidence`` (0..1), ``next_beat_time`` (s), ``beat_time`` (s, of the beat
    raised on this frame).
    """

    def __init__(
        self,
        *,
        fps: int,
        beats_per_bar: int = 4,
        min_bpm: float = 60.0,
        max_bpm: float = 190.0,
        delay_s: float | None = None,
    ) -> None:
        self.fps = int(fps)
        self.beats_per_bar = int(beats_per_bar)
        self.min_bpm = float(min_bpm)
        self.max_bpm = float(max_bpm)
        if delay_s is None:
            delay_s = DELAY_S.get(self.fps, 0.03)
        self.delay = delay_s * self.fps  # frames
        # weights of the (full-band, bass) onset streams for tempo and for phase
        self.w_tempo = (1.0, 1.0)
        self.w_phase = (1.0, 0.5)
        self.sigma = 0.5  # width of the next-beat expectation, in periods
        self.metre_min_bpm = 150.0  # the 8th-note check runs above this tempo
        self.switch_s = 0.5  # a tempo jump must win this long before it is taken
        self.alpha = 0.8  # memory of the cumulative beat score
        self.stay_bonus = 0.4  # salience bonus for the current tempo (hysteresis)
        self.rescore_on_jump = True  # rebuild the beat score from the past on tempo jumps
        f = float(self.fps)
        self._tc = TempoComb(fps=self.fps, beats_per_bar=self.beats_per_bar,
                             min_bpm=self.min_bpm, max_bpm=self.max_bpm)
        self.cand_bpm = self._tc.cand_bpm
        self.lag_max = self._tc.lag_max
        self._prior = self._tc.prior
        self._log_cand = np.log2(self.cand_bpm)
        self._sal = np.zeros(len(self.cand_bpm))
        self._score = np.zeros(len(self.cand_bpm))
        # Rings (linear arrays shifted by one per frame; newest value last).
        self._cum = np.zeros(3 * self.lag_max + 2)
        self._mean = 0.0
        self._mean_a = 1.0 / (0.5 * f)
        self._m_a = 1.0 / (4.0 * f)
        self._level = 0.0  # recent novelty level (break detection)
        self._level_a = 1.0 / (0.75 * f)
        self._level_long = 0.0
        self._level_long_a = 1.0 / (8.0 * f)
        self._tempo_every = max(1, self.fps // 15)
        self._r1 = max(1, round(0.035 * self.fps))  # +-frames around a half-beat
        self._r2 = max(2, round(0.065 * self.fps))  # +-frames around a beat
        self._bar_energy = np.zeros(self.beats_per_bar)
        self._tap_times: list[float] = []
        self._tap_bpm = 0.0
        self._tap_until = -1.0
        self._w_period = -1.0
        self._proj_key: tuple[float, int] = (-1.0, 0)
        self._ph_hist = np.zeros(3 * self.lag_max + 8)
        self._par = np.zeros((2, 2))  # [stream, beat parity] strength
        self._mid = np.zeros(2)  # [stream] strength half-way between beats
        self._low_hist = np.zeros(3 * self.lag_max + 8)
        self.reset_state()

    # -- state ---------------------------------------------------------------------------
    def reset_state(self) -> None:
        """Forget everything (a new stream)."""
        self.n = -1  # index of the last frame processed
        self._tc.reset()
        self._cum[:] = 0.0
        self._sal[:] = 0.0
        self._mean = 0.0
        self._m_full = 0.0
        self._m_low = 0.0
        self._mean_low = 0.0
        self._level = 0.0
        self._level_long = 0.0
        self._bar_energy[:] = 0.0
        self.period = 60.0 * self.fps / 120.0  # frames
        self.tempo = 0.0
        self.confidence = 0.0
        self.phase = 0.0
        self.is_beat = False
        self.beat_in_bar = 0
        self.bar = 0
        self.beat_count = -1
        self.beat_time = 0.0
        self._last_beat = -1e9  # onset-frame units (frames, fractional)
        self._next_beat = math.inf
        self._predicted_for = -1e9  # last beat for which the next one was predicted
        self.next_beat_time = 0.0
        self._bar_offset = 0
        self._par_n = 0
        self._drift: list[tuple[float, float, float]] = []
        self._cand_bpm = 0.0
        self._cand_count = 0
        self._free_phase = False
        self.fit = 0.0
        self._bias_bpm = 0.0
        self._bias_until = -1.0

    def _frame_time(self, x: float) -> float:
        """Audio time (s) of onset-frame position ``x`` after delay compensation."""
        return (x + 1.0 - self.delay) / self.fps

    # -- per frame -------------------------------------------------------------------------
    def step(self, onset: float, low_onset: float = 0.0) -> None:
        """Advance one frame with this frame's onset strength (and bass onset strength)."""
        self.n += 1
        n = self.n
        f = self.fps
        o = float(onset) if math.isfinite(onset) else 0.0
        lo = float(low_onset) if math.isfinite(low_onset) else 0.0
        # each onset stream in units of its own recent mean, minus its local mean
        self._m_full += self._m_a * (o - self._m_full)
        self._m_low += self._m_a * (lo - self._m_low)
        o /= self._m_full + 1e-9
        lo /= self._m_low + 1e-9
        self._mean += self._mean_a * (o - self._mean)
        self._mean_low += self._mean_a * (lo - self._mean_low)
        nf = max(o - self._mean, 0.0)
        nl = max(lo - self._mean_low, 0.0)
        nov = self.w_tempo[0] * nf + self.w_tempo[1] * nl  # tempo novelty
        nph = self.w_phase[0] * nf + self.w_phase[1] * nl  # phase novelty
        self._level += self._level_a * (nov - self._level)
        self._level_long += self._level_long_a * (nov - self._level_long)
        quiet = self._level < 0.25 * self._level_long or self._level < 1e-3
        self._tc.push(nov, accumulate=not quiet)
        if n % self._tempo_every == 0 and not quiet and n > f:
            self._update_tempo()
        # cumulative score
        c = self._cum
        p = self.period
        if p != self._w_period:  # transition weights, rebuilt only when the tempo moves
            vmin = max(1, int(round(0.5 * p)))
            vmax = min(len(c) - 1, int(round(2.0 * p)))
            self._v = np.arange(vmin, vmax + 1)
            self._w = np.exp(-0.5 * (5.0 * np.log(self._v / p)) ** 2)
            self._cidx = len(c) - self._v
            self._wbuf = np.empty(len(self._v))
            self._w_period = p
        v, w = self._v, self._w
        np.take(c, self._cidx, out=self._wbuf)
        self._wbuf *= w
        best = float(self._wbuf.max())
        c[:-1] = c[1:]
        c[-1] = (1.0 - self.alpha) * nph + self.alpha * best
        ph_h = self._ph_hist
        ph_h[:-1] = ph_h[1:]
        ph_h[-1] = nf
        lo_h = self._low_hist
        lo_h[:-1] = lo_h[1:]
        lo_h[-1] = nl
        # prediction half a beat after the last beat (or at start-up)
        if self.tempo > 0.0 and self._predicted_for != self._last_beat and n >= self._last_beat + 0.5 * p:
            self._predict(v, w)
        elif self.tempo > 0.0 and not math.isfinite(self._next_beat):
            self._predict(v, w)
        # beat event when the predicted (delay-compensated) beat falls in this frame
        self.is_beat = False
        nb = self._next_beat - self.delay
        if math.isfinite(nb) and nb <= n:  # the beat falls in this frame's hop
            self._emit_beat()
        # phase within the beat
        if self._last_beat > -1e8:
            ph = (n - (self._last_beat - self.delay)) / p
            self.phase = ph - math.floor(ph) if ph >= 1.0 else max(ph, 0.0)
        if math.isfinite(self._next_beat):
            self.next_beat_time = self._frame_time(self._next_beat)
        else:
            self.next_beat_time = self._frame_time(n + p)
        self._update_confidence(quiet)

    def _update_tempo(self) -> None:
        self._tc.salience(self._sal)
        np.multiply(self._sal, self._prior, out=self._score)
        if self.tempo > 0.0:  # hysteresis: a bonus near the current tempo
            self._bump(60.0 * self.fps / self.period, 0.02, self.stay_bonus * self.fit, 1.0)
        if self._tap_until > self.n / self.fps and self._tap_bpm > 0:
            self._bump(self._tap_bpm, 0.04, 1.0, 0.3)
        elif self._bias_until > self.n / self.fps and self._bias_bpm > 0:
            self._bump(self._bias_bpm, 0.04, 1.0, 0.3)
        i = int(np.argmax(self._score))
        if self._score[i] <= 0.0:
            return
        # parabolic refinement on the log grid
        bpm = float(self.cand_bpm[i])
        if 0 < i < len(self._score) - 1:
            a, b, cc = self._score[i - 1], self._score[i], self._score[i + 1]
            den = a - 2 * b + cc
            if den < 0:
                off = 0.5 * (a - cc) / den
                bpm *= TEMPO_STEP ** float(np.clip(off, -0.5, 0.5))
        s = self._sal
        self._tempo_peak = float(s[i] / (np.mean(s) + 1e-12))
        if self.tempo > 0.0 and abs(math.log(bpm / self.tempo)) > 0.04:
            # a jump: only once the same new tempo has won for `switch_s` seconds
            if self._cand_bpm > 0.0 and abs(math.log(bpm / self._cand_bpm)) < 0.04:
                self._cand_count += 1
            else:
                self._cand_bpm, self._cand_count = bpm, 1
            if self._cand_count * self._tempo_every < self.switch_s * self.fps:
                return
            self._par_n = 0  # a new tempo: start the metre check again
            jump = True
        else:
            jump = False
        self._cand_bpm, self._cand_count = 0.0, 0
        self.tempo = bpm
        self.period = 60.0 * self.fps / bpm
        if jump and self.rescore_on_jump:
            self._rescore()

    def _rescore(self) -> None:
        """Re-run the cumulative score over the remembered past with the new period and
        let the next prediction choose its phase freely (after a tempo jump)."""
        p = self.period
        c = self._cum
        k = len(c)
        nph = self.w_phase[0] * self._ph_hist[-k:] + self.w_phase[1] * self._low_hist[-k:]
        v = np.arange(max(1, int(round(0.5 * p))), min(k - 1, int(round(2.0 * p))) + 1)
        w = np.exp(-0.5 * (5.0 * np.log(v / p)) ** 2)
        c[:] = 0.0
        for t in range(k):
            ok = v <= t
            best = float(np.max(w[ok] * c[t - v[ok]])) if ok.any() else 0.0
            c[t] = (1.0 - self.alpha) * nph[t] + self.alpha * best
        self._free_phase = True

    def _bump(self, bpm: float, width: float, gain: float, floor: float) -> None:
        """Multiply the tempo scores by ``floor + gain * gauss(log2 distance / width)``
        (evaluated only within 4 widths of ``bpm``; ``floor`` applies elsewhere)."""
        c = math.log2(bpm)
        lo, hi = np.searchsorted(self._log_cand, (c - 4 * width, c + 4 * width))
        if floor != 1.0:
            self._score *= floor
        if hi > lo:
            d = (self._log_cand[lo:hi] - c) / width
            self._score[lo:hi] *= (floor + gain * np.exp(-0.5 * d * d)) / floor

    def _check_metre(self) -> None:
        """Halve the tempo when every other beat is much weaker in both onset streams
        (full band and bass): we are counting 8th notes. Even metres only."""
        n = self.n
        ago = n - int(round(self._last_beat))
        if ago < 0 or ago + self._r2 + 1 >= len(self._ph_hist):
            return
        par = self.beat_count % 2
        r1, r2 = self._r1, self._r2
        mid = ago + int(round(0.5 * self.period))  # the half-beat before the last beat
        if mid + r1 + 1 >= len(self._ph_hist):
            return
        for row, h in enumerate((self._ph_hist, self._low_hist)):
            strength = float(h[len(h) - 1 - ago - r2: len(h) - ago + r2].max())
            between = float(h[len(h) - 1 - mid - r1: len(h) - mid + r1].max())
            if self._par_n < 2:
                self._par[row, par] = strength
                self._mid[row] = between
            else:
                self._par[row, par] += 0.3 * (strength - self._par[row, par])
                self._mid[row] += 0.3 * (between - self._mid[row])
        self._par_n += 1
        if self._par_n < 8 or self.tempo / 2.0 < self.min_bpm or self.beats_per_bar % 2:
            return
        hi = self._par.max(axis=1)
        ratio = self._par.min(axis=1) / (hi + 1e-9)
        strong = int(np.argmax(self._par[0]))
        in_phase = bool(self._par[0, strong] > self._mid[0] and self._par[1, strong] > 0.5 * self._mid[1])
        if (
            in_phase
            and self.tempo >= self.metre_min_bpm
            and ratio[0] < 0.3
            and ratio[1] < 0.5
            and int(np.argmax(self._par[1])) == strong
        ):
            old = self.period
            self.tempo /= 2.0
            self.period *= 2.0
            self._bias_bpm = self.tempo
            self._bias_until = n / self.fps + 20.0
            if strong != par:  # the beat before the last one was the strong one
                self._last_beat -= old
            self._par_n = 0

    def _follow_drift(self) -> None:
        """Follow a tempo change fast: when the onsets near the last beats keep arriving
        early (or late) by a growing amount, take the period they show."""
        n = self.n
        p = self.period
        ago = n - self._last_beat
        half = 0.3 * p
        lo = int(math.floor(ago + half))  # frames ago of the window start
        hi = int(math.ceil(ago - half))
        h1, h2 = self._ph_hist, self._low_hist
        if hi < 0 or lo + 2 >= len(h1):
            return
        a, b = len(h1) - 1 - lo, len(h1) - hi  # window [a, b) in ring coordinates
        seg = self.w_phase[0] * h1[a:b] + self.w_phase[1] * h2[a:b]
        k = int(np.argmax(seg))
        strength = float(seg[k])
        mean = float(np.mean(seg)) + 1e-9
        peak = float(n - (len(h1) - 1 - (a + k)))  # frame index of the peak
        if 0 < k < len(seg) - 1:
            y0, y1, y2 = seg[k - 1], seg[k], seg[k + 1]
            den = y0 - 2 * y1 + y2
            if den < 0:
                peak += float(np.clip(0.5 * (y0 - y2) / den, -0.5, 0.5))
        err = peak - self._last_beat
        self._drift.append((self._last_beat, float(err), strength / mean))
        hit = 1.0 if abs(err) < 0.12 * p and strength / mean >= 2.0 else 0.0
        self.fit += 0.25 * (hit - self.fit)  # share of recent beats with an onset on them
        del self._drift[:-4]
        if len(self._drift) < 3:
            return
        errs = np.array([e for _, e, _ in self._drift[-3:]])
        sharp = min(q for _, _, q in self._drift[-3:])
        if sharp < 2.0 or not (np.all(errs > 0.07 * p) or np.all(errs < -0.07 * p)):
            return
        peaks = np.array([t + e for t, e, _ in self._drift[-3:]])
        iv = np.diff(peaks)
        if np.any(iv <= 0) or np.ptp(iv) > 0.15 * np.mean(iv):
            return
        new_p = float(np.mean(iv))
        bpm = 60.0 * self.fps / new_p
        if not self.min_bpm <= bpm <= self.max_bpm:
            return
        self.period = new_p
        self.tempo = bpm
        self._bias_bpm = bpm
        self._bias_until = n / self.fps + 4.0
        self._last_beat = float(peaks[-1])
        self._drift.clear()
        self._par_n = 0

    def _predict(self, v: np.ndarray, w: np.ndarray) -> None:
        """Project the cumulative score one period ahead and pick the next beat."""
        n = self.n
        if self._last_beat > -1e8:
            p0 = self.period
            self._measure_bar_slot()
            self._check_metre()
            if self.period == p0:
                self._follow_drift()
            if self.period != p0:
                return  # re-predict on the next frame with the new period
        p = self.period
        c = self._cum
        horizon = int(math.ceil(1.5 * p))
        last = self._last_beat if self._last_beat > -1e8 else n
        center = last + p
        while center <= n:
            center += p
        if self._proj_key != (p, horizon):  # projection indices, rebuilt per tempo
            j = np.arange(horizon)[:, None]
            vv = v[None, :]
            self._proj_valid = vv >= j + 1  # only past scores (m - v <= n)
            self._proj_idx = np.clip(len(c) - vv + j, 0, len(c) - 1)
            self._proj_w = np.where(self._proj_valid, w[None, :], 0.0)
            self._proj_key = (p, horizon)
        proj = c[self._proj_idx]
        proj *= self._proj_w
        scores = proj.max(axis=1)
        if self._last_beat > -1e8 and not self._free_phase:
            m = np.arange(horizon, dtype=float) + (n + 1 - center)
            scores *= np.exp(-0.5 * (m / (self.sigma * p)) ** 2)
        self._free_phase = False
        best_m = int(np.argmax(scores))
        best_s = float(scores[best_m])
        if best_s <= 1e-12:  # no evidence (silence): keep the grid
            self._next_beat = center
            self._predicted_for = self._last_beat
            return
        x = float(best_m)
        if 0 < best_m < horizon - 1:
            a, b, cc = scores[best_m - 1], scores[best_m], scores[best_m + 1]
            den = a - 2 * b + cc
            if den < 0:
                x += float(np.clip(0.5 * (a - cc) / den, -0.5, 0.5))
        self._next_beat = n + 1 + x
        self._predicted_for = self._last_beat

    def _emit_beat(self) -> None:
        self.is_beat = True
        self.beat_time = self._frame_time(self._next_beat)
        self.beat_count += 1
        slot = self.beat_count % self.beats_per_bar
        e = self._bar_energy
        down = int(np.argmax(e)) if e.max() > 0 else 0
        k = (slot - down + self._bar_offset) % self.beats_per_bar
        if k == 0 and self.beat_count > 0:
            self.bar += 1
        self.beat_in_bar = k + 1
        self._last_beat = self._next_beat
        self._next_beat = self._last_beat + self.period  # provisional until predicted

    def _measure_bar_slot(self) -> None:
        """Add the bass onset strength around the last beat to its slot in the bar (the
        slot with the most bass is the downbeat)."""
        h = self._low_hist
        ago = self.n - int(round(self._last_beat))
        if ago < 0 or ago + self._r2 + 1 >= len(h) or self.beat_count < 0:
            return
        r = self._r2
        strength = float(h[len(h) - 1 - ago - r: len(h) - ago + r].max())
        e = self._bar_energy
        e *= 0.95
        e[self.beat_count % self.beats_per_bar] += strength

    def _update_confidence(self, quiet: bool) -> None:
        if quiet or self.tempo <= 0.0:
            target = 0.0
        else:
            peak = getattr(self, "_tempo_peak", 1.0)
            target = float(np.clip((peak - 1.0) / 2.0, 0.0, 1.0)) * (0.3 + 0.7 * self.fit)
        self.confidence += (target - self.confidence) / (1.0 * self.fps)

    # -- live controls -------------------------------------------------------------------
    def tap(self, time_s: float) -> None:
        """Tap tempo: call on each tap with its audio time (s). Two or more taps set the
        tempo (median interval) and put a beat on the last tap."""
        t = float(time_s)
        if self._tap_times and (t - self._tap_times[-1] > 2.0 or t <= self._tap_times[-1]):
            self._tap_times.clear()
        self._tap_times.append(t)
        del self._tap_times[:-8]
        if len(self._tap_times) < 2:
            return
        iv = float(np.median(np.diff(self._tap_times)))
        bpm = float(np.clip(60.0 / iv, self.min_bpm, self.max_bpm))
        self._tap_bpm = bpm
        self._tap_until = t + 30.0
        self.tempo = bpm
        self.period = 60.0 * self.fps / bpm
        tap_frame = t * self.fps - 1.0 + self.delay
        self._last_beat = tap_frame
        self._predicted_for = tap_frame
        nb = tap_frame + self.period
        while nb - self.delay < self.n + 0.5:
            nb += self.period
        self._next_beat = nb
        self.next_beat_time = self._frame_time(nb)
        self.confidence = max(self.confidence, 0.5)

    def nudge(self, beats: float) -> None:
        """Shift the beat grid by ``beats`` beats (whole beats move the bar count,
        fractions move the phase; negative is earlier)."""
        whole = int(math.floor(beats))
        frac = float(beats) - whole
        self._bar_offset = (self._bar_offset - whole) % self.beats_per_bar
        if frac and math.isfinite(self._next_beat):
            self._next_beat += frac * self.period
            self._last_beat += frac * self.period
            self._predicted_for = self._last_beat
            self.next_beat_time = self._frame_time(self._next_beat)
