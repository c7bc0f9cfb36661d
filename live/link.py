"""Ableton Link as a clock source (the ``aalink`` package; install the ``sync`` extra).

``LinkSource(bpm, beats_per_bar)`` joins the Link session on the local network (Link
finds peers by UDP multicast) with quantum = beats per bar. It answers
``read(wall)`` only while at least one peer is present: Link's tempo and the beat at
``wall`` (Link's timeline is linear between tempo changes, so the beat at any nearby
time is ``beat_now + (wall - now) * tempo / 60``). It never changes the session's tempo
unless ``lead=True``; then ``lead_tempo(bpm, confidence)`` proposes the audio tracker's
tempo to the session: the median of its confident readings over the last ``LEAD_WINDOW_S``
seconds, at most every ``LEAD_EVERY_S`` and only when it differs from the session's by
``LEAD_STEP_BPM`` or more (a tracker's frame-to-frame wobble never reaches the session).

On joining, Link adopts the session that has been running longest, so a running
session keeps its tempo; DanceMuse's own starting tempo only matters when it is alone.
``aalink`` is built on asyncio; create the source inside the running event loop.
"""

from __future__ import annotations

import statistics
import time
from collections import deque
from typing import Any

from model.errors import ConfigError

LEAD_EVERY_S = 1.0
LEAD_WINDOW_S = 6.0
LEAD_STEP_BPM = 1.0
LEAD_MIN_CONFIDENCE = 0.5


class LinkSource:
    knows_bars = True

    def __init__(self, *, bpm: float = 120.0, beats_per_bar: int = 4, lead: bool = False) -> None:
        try:
            import aalink
        except ImportError:
            raise ConfigError("--link needs the aalink package; pip install 'dancemuse[sync]'") from None
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            self.link: Any = aalink.Link(float(bpm))
        self.link.quantum = int(beats_per_bar)
        self.link.enabled = True
        self.lead = bool(lead)
        self._lead_t = 0.0
        self._heard: deque[tuple[float, float]] = deque()

    @property
    def peers(self) -> int:
        return int(self.link.num_peers)

    @property
    def tempo(self) -> float:
        return float(self.link.tempo)

    def read(self, wall: float) -> tuple[float, float] | None:
        link = self.link
        if link.num_peers < 1:
            return None
        tempo = float(link.tempo)
        beat = float(link.beat)
        return tempo, beat + (wall - time.time()) * tempo / 60.0

    def lead_tempo(self, bpm: float, confidence: float = 1.0) -> None:
        """With ``lead``: feed the audio tracker's tempo (every block); proposes it to the
        session as described in the module docstring."""
        if not self.lead:
            return
        now = time.monotonic()
        heard = self._heard
        if bpm > 0 and confidence >= LEAD_MIN_CONFIDENCE:
            heard.append((now, float(bpm)))
        while heard and now - heard[0][0] > LEAD_WINDOW_S:
            heard.popleft()
        if now - self._lead_t < LEAD_EVERY_S or not heard or now - heard[0][0] < 0.5 * LEAD_WINDOW_S:
            return
        self._lead_t = now
        want = round(statistics.median(b for _, b in heard), 1)
        if abs(want - float(self.link.tempo)) >= LEAD_STEP_BPM:
            self.link.tempo = want

    def close(self) -> None:
        self.link.enabled = False
