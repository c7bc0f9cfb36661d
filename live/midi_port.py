"""MIDI clock from a port: mido + python-rtmidi feeding ``live.midiclock`` (install the
``sync`` extra). The port callback runs on rtmidi's thread; the decoder is guarded by a
lock, so ``read`` from the event loop is safe."""

from __future__ import annotations

import threading
import time
from typing import Any

from live.midiclock import MidiClockDecoder
from model.errors import ConfigError


def list_ports() -> list[str]:
    """MIDI input port names ([] where the machine has none or no MIDI backend)."""
    try:
        import mido

        return list(mido.get_input_names())
    except Exception:  # noqa: BLE001 - no backend, no ALSA sequencer: no ports
        return []


class MidiClockSource:
    """A clock source (see live/clock.py) reading MIDI clock from input port ``name``."""

    knows_bars = True

    def __init__(self, name: str, *, beats_per_bar: int = 4) -> None:
        ports = list_ports()
        if name not in ports:
            have = ", ".join(ports) if ports else "none on this machine"
            raise ConfigError(f"MIDI port {name!r} not found (ports: {have}); pass one of them to --midi-clock")
        import mido

        self.decoder = MidiClockDecoder()
        self.beats_per_bar = int(beats_per_bar)
        self._lock = threading.Lock()
        self.port: Any = mido.open_input(name, callback=self._on_message)

    def _on_message(self, msg: Any) -> None:
        t = time.time()
        with self._lock:
            self.decoder.feed(bytes(msg.bytes()), t)
            self.decoder.events_received()

    def read(self, wall: float) -> tuple[float, float] | None:
        with self._lock:
            pos = self.decoder.beat_at(wall)
            return None if pos is None else (self.decoder.tempo, pos)

    def close(self) -> None:
        self.port.close()
