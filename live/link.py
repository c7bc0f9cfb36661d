"""Ableton Link as a clock source (the ``aalink`` package; install the ``sync`` extra).

``LinkSource(bpm, beats_per_bar)`` joins the Link session on the local network (Link
finds peers by UDP multicast) with quantum = beats per bar. It answers
``read(wall)`` only while at least one peer is present: Link's tempo and the beat at
``wall`` (Link's timeline is linear between tempo changes, so the beat at any nearby
time is ``beat_now + (wall - now) * tempo / 60``). It never changes the session's tempo
unless ``lead=True``; then ``lead_tempo(bpm)`` proposes the audio tracker's tempo to the
session (at most every ``LEAD_EVERY_S`` and only on a change of 0.5 BPM or more).

On joining, Link adopts the session that has been running longest, so a running
session keeps its tempo; DanceMuse's own starting tempo only matters when it is alone.
``aalink`` is built on asyncio; create the source inside the running event loop.
"""

from __future__ import annotations

import time
from typing import Any

from model.errors import ConfigError

LEAD_EVERY_S = 1.0


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
        self._lead_bpm = 0.0

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

    def lead_tempo(self, bpm: float) -> None:
        """With ``lead``: propose ``bpm`` (the audio tracker's tempo) to the session."""
        now = time.monotonic()
        if not self.lead or bpm <= 0 or now - self._lead_t < LEAD_EVERY_S or abs(bpm - self._lead_bpm) < 0.5:
            return
        self._lead_t, self._lead_bpm = now, bpm
        self.link.tempo = float(bpm)

    def close(self) -> None:
        self.link.enabled = False
