"""MIDI clock in, sans-I/O: feed timestamped bytes, read tempo, beat position and events.

``MidiClockDecoder.feed(data, t)`` takes raw MIDI bytes (any chunking, running status,
real-time bytes interleaved anywhere, SysEx skipped) that arrived at time ``t`` (seconds,
any monotonic clock). It understands

- Timing Clock 0xF8: 24 pulses per quarter note (``PPQN``);
- Start 0xFA (the next pulse is beat 0), Continue 0xFB (resume at the song position),
  Stop 0xFC (position frozen; the tempo keeps following the pulses);
- Song Position Pointer 0xF2 lsb msb (in MIDI beats = sixteenth notes = 6 pulses).

Tempo: a least-squares line through the pulse times since the last tempo change (at most
``window`` pulses), so single-pulse jitter averages out. A tempo step is seen when
``run`` pulses in a row all arrive on the same side of the line (as it was when the run
began) by more on average than the jitter explains; the line then restarts from those pulses, so the tempo settles within a beat
of a step instead of lagging for the whole window. A gap of 2-4 pulse periods after a
regular interval counts as dropped pulses (the position stays on the grid).

Beat events (``events_received()``): ("start" | "stop" | "continue", t, pulses),
("position", t, pulses) and ("beat", t_beat, beat_index) where t_beat is the fitted
(jitter-free) time of the pulse that starts the beat. ``beat_at(t)`` gives the beat
position at any time (extrapolated from the line, at most ``HOLD_PULSES`` past the last
pulse), for the clock mixer in ``live.clock``.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

PPQN = 24
"""MIDI clock pulses per quarter note."""
CLOCK, START, CONTINUE, STOP, SPP = 0xF8, 0xFA, 0xFB, 0xFC, 0xF2
HOLD_PULSES = 3.0
"""How far past the last pulse ``beat_at`` extrapolates (pulses)."""
TIMEOUT_S = 0.5
"""No pulse for this long: the clock is gone."""

_DATA_LEN = {0x80: 2, 0x90: 2, 0xA0: 2, 0xB0: 2, 0xC0: 1, 0xD0: 1, 0xE0: 2}
_COMMON_LEN = {0xF1: 1, 0xF2: 2, 0xF3: 1, 0xF6: 0}


class MidiClockDecoder:
    """See the module docstring.

    Parameters
    ----------
    window : most pulses in the tempo line (48 = two beats).
    run : pulses in a row on one side of the line that mean a tempo change.
    min_bpm, max_bpm : tempo range believed (pulses outside it restart the line).
    """

    def __init__(self, *, window: int = 48, run: int = 8, min_bpm: float = 20.0, max_bpm: float = 400.0) -> None:
        self.window = int(window)
        self.run = int(run)
        self.min_period = 60.0 / (max_bpm * PPQN)
        self.max_period = 60.0 / (min_bpm * PPQN)
        self.playing = False
        self.pulses = 0  # song position of the next pulse, in pulses
        self.tempo = 0.0
        self.last_pulse_t = -math.inf
        self._n: deque[float] = deque(maxlen=self.window)
        self._t: deque[float] = deque(maxlen=self.window)
        self._a = 0.0  # line: t = a + b * n (n: running pulse count)
        self._b = 0.0
        self._count = -1  # running pulse count (never reset, drops included)
        self._song_at_count = 0  # song position (pulses) at running count 0 offset
        self._gap_before = False
        self._side = 0
        self._side_run = 0
        self._run_sum = 0.0
        self._ref = (0.0, 0.0)
        self._ref_m = 2
        self._sigma = 0.0
        self._status = 0
        self._need = 0
        self._data: list[int] = []
        self._sysex = False
        self._events: list[tuple[str, float, float]] = []

    # -- bytes in -------------------------------------------------------------------
    def feed(self, data: bytes | bytearray | memoryview, t: float) -> None:
        """Raw MIDI bytes that arrived at time ``t`` (s)."""
        for byte in bytes(data):
            if byte >= 0xF8:
                self._realtime(byte, t)
            elif byte >= 0x80:
                self._sysex = byte == 0xF0
                self._status = byte if byte < 0xF0 or byte in _COMMON_LEN else 0
                self._need = _DATA_LEN.get(byte & 0xF0, 0) if byte < 0xF0 else _COMMON_LEN.get(byte, 0)
                self._data.clear()
                if self._status == 0xF6:
                    self._status = 0
            elif self._sysex or not self._status:
                continue
            else:
                self._data.append(byte)
                if len(self._data) == self._need:
                    if self._status == SPP:
                        self._song_position((self._data[0] | (self._data[1] << 7)) * 6, t)
                    if self._status >= 0xF0:  # no running status for system common
                        self._status = 0
                    self._data.clear()

    def events_received(self) -> list[tuple[str, float, float]]:
        """Events since the last call (see the module docstring)."""
        ev, self._events = self._events, []
        return ev

    # -- state out ------------------------------------------------------------------
    @property
    def period(self) -> float:
        """Seconds per pulse (0 while unknown)."""
        return self._b

    def alive(self, t: float) -> bool:
        """Pulses arrive (the last one less than TIMEOUT_S before ``t``)."""
        return t - self.last_pulse_t < TIMEOUT_S and self._b > 0.0

    def beat_at(self, t: float) -> float | None:
        """Beat position (quarter notes since song position 0) at time ``t``; None while
        stopped, before the tempo is known or when the clock is gone."""
        if not self.playing or not self.alive(t) or self._count < 0:
            return None
        n = (t - self._a) / self._b
        n = min(n, self._count + HOLD_PULSES)
        return (n - self._count + self.pulses - 1) / PPQN

    # -- internals ------------------------------------------------------------------
    def _realtime(self, byte: int, t: float) -> None:
        if byte == CLOCK:
            self._pulse(t)
        elif byte == START:
            self.playing = True
            self.pulses = 0
            self._events.append(("start", t, 0.0))
        elif byte == CONTINUE:
            self.playing = True
            self._events.append(("continue", t, float(self.pulses)))
        elif byte == STOP:
            self.playing = False
            self._events.append(("stop", t, float(self.pulses)))

    def _song_position(self, pulses: int, t: float) -> None:
        self.pulses = int(pulses)
        self._events.append(("position", t, float(pulses)))

    def _pulse(self, t: float) -> None:
        steps = 1
        if self._count >= 0:
            dt = t - self.last_pulse_t
            if self._b > 0.0 and len(self._n) >= 8:
                k = round(dt / self._b)
                if 2 <= k <= 4 and not self._gap_before and abs(dt - k * self._b) < 0.3 * self._b:
                    steps = k
                self._gap_before = steps > 1
            if dt < 0.3 * self.min_period or dt > 4.5 * self.max_period:  # nonsense or a long pause
                self._restart()
        self._count += steps
        self.last_pulse_t = t
        if self.playing:
            self.pulses += steps
        self._add(float(self._count), t)
        if self.playing and (self.pulses - 1) % PPQN < steps and self.pulses >= 1:
            beat_pulse = self.pulses - 1 - (self.pulses - 1) % PPQN
            n_at = self._count - (self.pulses - 1 - beat_pulse)
            t_beat = self._a + self._b * n_at if self._b > 0.0 else t
            self._events.append(("beat", t_beat, float(beat_pulse // PPQN)))

    def _restart(self) -> None:
        self._n.clear()
        self._t.clear()
        self._b = 0.0
        self._side_run = 0
        self._sigma = 0.0

    def _add(self, n: float, t: float) -> None:
        if self._b > 0.0 and len(self._n) >= 2 * self.run:  # a line good enough to judge by
            # residuals against the line as it was when the current one-sided run began
            if self._side_run == 0 or self._side_run >= 3 * self.run:  # stale: judge afresh
                self._ref, self._ref_m, self._side_run = (self._a, self._b), len(self._n), 0
            r = t - (self._ref[0] + self._ref[1] * n)
            side = 1 if r > 0 else -1
            if side == self._side and self._side_run > 0:
                self._side_run += 1
                self._run_sum += r
            else:
                self._ref, self._ref_m = (self._a, self._b), len(self._n)
                self._side, self._side_run, self._run_sum = side, 1, t - (self._a + self._b * n)
            k = self._side_run
            # the run's mean residual against the jitter of k pulses plus the old line's own
            # uncertainty where the run is (least squares: 1/m + x^2 / sum of squares)
            m = self._ref_m
            x = 0.5 * m + 0.5 * k
            spread = 1.0 / k + 1.0 / m + x * x / (m * (m * m - 1) / 12.0)
            limit = 4.0 * self._sigma * math.sqrt(spread)
            if k >= self.run and abs(self._run_sum / k) > max(limit, 0.01 * self._b):
                # a tempo change: restart the line from the run
                # keep the run's latest pulses that are off the old line by themselves (its
                # first ones may predate the change), at least 3
                a0, b0 = self._ref
                ns, ts = [n], [t]
                for n_i, t_i in zip(reversed(self._n), reversed(self._t)):
                    if len(ns) >= k or (len(ns) >= 3 and side * (t_i - (a0 + b0 * n_i)) < 2.0 * self._sigma):
                        break
                    ns.insert(0, n_i)
                    ts.insert(0, t_i)
                ns.pop()
                ts.pop()
                sigma = self._sigma
                self._restart()
                self._sigma = sigma
                self._n.extend(ns)
                self._t.extend(ts)
        self._n.append(n)
        self._t.append(t)
        self._fit()

    def _fit(self) -> None:
        m = len(self._n)
        if m < 2:
            return
        n = np.fromiter(self._n, float, m)
        t = np.fromiter(self._t, float, m)
        nm, tm = n.mean(), t.mean()
        dn = n - nm
        den = float(dn @ dn)
        if den <= 0.0:
            return
        b = float(dn @ (t - tm)) / den
        if not (self.min_period <= b <= self.max_period):
            return
        self._b, self._a = b, float(tm - b * nm)
        if m >= 4:
            res = t - (self._a + self._b * n)
            self._sigma = float(np.sqrt(res @ res / (m - 2)))
        self.tempo = 60.0 / (b * PPQN)
