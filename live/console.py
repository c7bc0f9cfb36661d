"""One-line console status, refreshed in place on a TTY (stderr by default)."""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from typing import Any, TextIO

_FEELS = {0.5: " half time", 2.0: " double time"}
"""How the status line names a feel other than the music's beat (live/feel.py)."""


def _feel(s: Mapping[str, Any]) -> str:
    """The status line's words for the feel: '' at the music's beat, else ' half time' or
    ' double time'; with feel auto ' auto' and what it dances now."""
    asked = (s.get("controls") or {}).get("feel", 1.0)
    if asked == 0.0:
        return " auto" + _FEELS.get(s.get("feel_now", 1.0), "")
    return _FEELS.get(asked, "")


def status_line(s: Mapping[str, Any]) -> str:
    """``snapshot``-like dict -> one short line: fps, latency, tempo (and the feel when it is
    half or double time, or auto), clients, frames."""
    lat = s.get("latency_ms", {}) or {}
    parts = [
        f"{s.get('measured_fps', 0.0):5.1f} fps",
        f"latency p50 {lat.get('p50', 0.0):5.1f} ms p99 {lat.get('p99', 0.0):5.1f} ms",
        f"tempo {s.get('tempo', 0.0):5.1f} BPM ({s.get('confidence', 0.0):.2f})"
        + _feel(s),
        f"clients {s.get('clients', 0)}",
        f"frame {s.get('frames', 0)}",
    ]
    if s.get("overflows"):
        parts.append(f"overflows {s['overflows']}")
    if s.get("holding"):
        parts.append("HOLD (input lost)")
    return " | ".join(parts)


class Console:
    """Rewrites one status line in place when ``stream`` is a TTY; silent otherwise."""

    def __init__(self, stream: TextIO | None = None, *, interval: float = 0.5, enabled: bool | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        isatty = getattr(self.stream, "isatty", lambda: False)
        self.enabled = bool(isatty()) if enabled is None else enabled
        self.interval = float(interval)
        self._next = 0.0
        self._shown = False

    def update(self, snapshot: Mapping[str, Any], *, now: float | None = None) -> bool:
        """Refresh the line if ``interval`` passed; returns True when it wrote."""
        if not self.enabled:
            return False
        now = time.monotonic() if now is None else now
        if now < self._next:
            return False
        self._next = now + self.interval
        self.stream.write("\r\x1b[K" + status_line(snapshot))
        self.stream.flush()
        self._shown = True
        return True

    def clear(self) -> None:
        """End the status line (before other output or at exit)."""
        if self.enabled and self._shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._shown = False
