"""Microphone / line-in source (sounddevice, imported here only and lazily).

The PortAudio callback only copies into a preallocated ring, counts overflows and
signals the event loop; :meth:`MicSource.blocks` drains the ring into blocks. If the
device stops delivering (unplugged mid-show), ``blocks`` keeps yielding silence blocks
with ``hold=True`` at the device's pace, so the show keeps broadcasting a held pose, and
tries to reopen the device every second.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import numpy as np

from live.source import Block, Source
from model.errors import DeviceError

log = logging.getLogger("dancemuse.audio")

STALL_S = 0.5
"""A device silent this long (no callback) counts as lost."""
FIRST_STALL_S = 3.0
"""Grace for the first callback after a stream starts (PulseAudio can be slow to connect)."""
RETRY_S = 1.0
WATCH_S = 0.05
"""How often the loop checks for a stall (a stall is seen within STALL_S + WATCH_S)."""


def _sounddevice() -> Any:
    try:
        import sounddevice as sd
    except OSError:
        raise DeviceError("PortAudio library not found; install it (Debian: apt install libportaudio2) "
                          "or use --input demo / --input FILE") from None
    except ImportError:
        raise DeviceError("sounddevice is not installed; pip install sounddevice, "
                          "or use --input demo / --input FILE") from None
    return sd


def _rescan() -> None:
    """Make PortAudio enumerate devices again (it caches the list at initialisation)."""
    sd = _sounddevice()
    try:
        sd._terminate()
        sd._initialize()
    except Exception:  # pragma: no cover - private API; a stale list only delays recovery
        pass


def input_devices() -> list[tuple[int, str, int, float]]:
    """Input devices as (index, name, max input channels, default sample rate)."""
    sd = _sounddevice()
    try:
        devs = sd.query_devices()
    except Exception as e:
        raise DeviceError(f"cannot list audio devices ({e}); check PortAudio") from None
    return [
        (i, str(d["name"]), int(d["max_input_channels"]), float(d["default_samplerate"]))
        for i, d in enumerate(devs)
        if int(d["max_input_channels"]) > 0
    ]


def devices_line() -> str:
    """One line naming the input devices (for error messages)."""
    try:
        devs = input_devices()
    except DeviceError as e:
        return str(e)
    if not devs:
        return "no input devices found"
    return "input devices: " + "; ".join(f"{i} '{n}'" for i, n, _, _ in devs)


def resolve_device(device: str) -> int | str | None:
    """``--device`` value -> what sounddevice takes ('' = default, '3' = index 3)."""
    d = device.strip()
    if not d:
        return None
    return int(d) if d.lstrip("-").isdigit() else d


class MicSource(Source):
    """Live input from a sound device.

    device: name (substring match, as sounddevice does) or index; '' = the default input.
    sample_rate: 0 = the device's default rate. channels are mixed down to mono.
    """

    finite = False

    def __init__(
        self,
        *,
        device: str = "",
        sample_rate: int = 0,
        channels: int = 1,
        block_size: int = 256,
        ring_seconds: float = 2.0,
    ) -> None:
        self.device = device
        self.name = f"mic {device!r}" if device else "mic (default input)"
        self.channels = int(channels)
        self.block_size = int(block_size)
        self.ring_seconds = float(ring_seconds)
        self.overflows = 0
        self.lost = 0
        self._stream: Any = None
        self._closed = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event: asyncio.Event | None = None
        self._watch_handle: asyncio.TimerHandle | None = None
        self._flowing = self._stalled = False
        self._woke = 0.0
        self._lock = threading.Lock()
        self._last_callback = 0.0
        self.sample_rate = int(sample_rate)
        self._requested_rate = int(sample_rate)
        self._ring = np.zeros((0, self.channels), np.float32)
        self._out = np.zeros(0, np.float32)
        self._w = 0  # total frames written (monotonic)
        self._r = 0  # total frames read
        self.open()  # fail early, in one line, before the show starts

    # -- device --------------------------------------------------------------------------
    def open(self) -> None:
        sd = _sounddevice()
        if not input_devices():
            raise DeviceError("no audio input device on this machine (PortAudio lists none); "
                              "connect a sound card or use --input demo / --input FILE")
        dev = resolve_device(self.device)
        try:
            info = sd.query_devices(dev, "input")
        except Exception:
            raise DeviceError(f"audio input device {self.device!r} not found; {devices_line()}") from None
        rate = self._requested_rate or int(info["default_samplerate"])
        try:
            sd.check_input_settings(device=dev, channels=self.channels, samplerate=rate, dtype="float32")
        except Exception as e:
            raise DeviceError(
                f"audio input {info['name']!r} refuses {rate} Hz / {self.channels} ch ({str(e).splitlines()[0][:80]}); "
                f"set audio.sample_rate / audio.channels; {devices_line()}"
            ) from None
        self.sample_rate = rate
        n = max(int(rate * self.ring_seconds), 4 * self.block_size)
        if self._ring.shape[0] != n:
            self._ring = np.zeros((n, self.channels), np.float32)
            self._out = np.zeros(n, np.float32)
            with self._lock:
                self._w = self._r = 0
        try:
            self._stream = sd.InputStream(
                device=dev, channels=self.channels, samplerate=rate, blocksize=self.block_size,
                dtype="float32", callback=self._callback,
            )
        except Exception as e:
            raise DeviceError(f"cannot open audio input {info['name']!r} ({str(e).splitlines()[0][:100]}); "
                              f"{devices_line()}") from None
        self.name = f"mic '{info['name']}' @ {rate} Hz"

    def _callback(self, indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        # PortAudio thread: copy, count, signal. Nothing else.
        if status and status.input_overflow:
            self.overflows += 1
        ring = self._ring
        n = ring.shape[0]
        with self._lock:
            w = self._w % n
            k = min(frames, n - w)
            ring[w : w + k] = indata[:k]
            if k < frames:
                ring[: frames - k] = indata[k:frames]
            self._w += frames
            if self._w - self._r > n:  # consumer fell behind a whole ring
                self.overflows += 1
                self._r = self._w - n
        self._last_callback = time.time()
        loop, ev = self._loop, self._event
        if loop is not None and ev is not None:
            try:
                loop.call_soon_threadsafe(ev.set)
            except RuntimeError:  # loop closed during shutdown
                pass

    def _drain(self) -> np.ndarray:
        ring, out = self._ring, self._out
        n = ring.shape[0]
        with self._lock:
            avail = self._w - self._r
            r = self._r % n
            k = min(avail, n - r)
            if self.channels == 1:
                out[:k] = ring[r : r + k, 0]
                out[k:avail] = ring[: avail - k, 0]
            else:
                np.mean(ring[r : r + k], axis=1, out=out[:k])
                np.mean(ring[: avail - k], axis=1, out=out[k:avail])
            self._r += avail
        return out[:avail]

    # -- blocks --------------------------------------------------------------------------
    async def blocks(self) -> AsyncIterator[Block]:
        loop = self._loop = asyncio.get_running_loop()
        ev = self._event = asyncio.Event()
        self._start()
        silence = np.zeros(self.block_size, np.float32)
        self._flowing, self._stalled, self._woke = False, False, loop.time()
        self._watch()  # one repeating timer checks for a stall; nothing per block (wait_for made a Task a block)
        try:
            while True:
                await ev.wait()
                ev.clear()
                if self._stalled:
                    async for blk in self._hold_and_retry(silence):
                        yield blk
                    self._flowing, self._stalled, self._woke = False, False, loop.time()
                    ev.clear()  # the watch's wake-ups during recovery; data still waits in the ring
                    continue
                self._flowing, self._woke = True, loop.time()
                x = self._drain()
                if len(x):
                    yield Block(x, self._last_callback)
        finally:
            if self._watch_handle is not None:
                self._watch_handle.cancel()
                self._watch_handle = None

    def _watch(self) -> None:
        """Every WATCH_S on the loop: no callback for STALL_S (FIRST_STALL_S before the first
        one of a stream) since the last wake-up counts as a lost device."""
        loop = self._loop
        assert loop is not None and self._event is not None
        if not self._stalled and loop.time() - self._woke > (STALL_S if self._flowing else FIRST_STALL_S):
            self._stalled = True
            self._event.set()
        self._watch_handle = loop.call_later(WATCH_S, self._watch)

    def _start(self) -> None:
        self._stream.start()
        self._last_callback = time.time()

    async def _hold_and_retry(self, silence: np.ndarray) -> AsyncIterator[Block]:
        """Device lost: held-pose silence at the device pace while a worker thread closes
        the dead stream and tries to reopen the device every RETRY_S.

        PortAudio calls on a vanished device can block for ever (seen with the ALSA pulse
        plugin when the PulseAudio server dies: ``Pa_AbortStream`` never returns), so none
        of them runs on the event loop's thread."""
        self.lost += 1
        log.warning("audio input %s stopped delivering; holding the pose and retrying", self.name)
        dead, self._stream = self._stream, None
        result: dict[str, Any] = {}
        worker = threading.Thread(target=self._recover, args=(dead, result), daemon=True, name="mic-recover")
        worker.start()
        pace = self.block_size / self.sample_rate
        t = time.time()
        while True:
            if not worker.is_alive() and "stream" in result:
                self._stream = result["stream"]
                self._last_callback = time.time()
                log.warning("audio input back: %s", self.name)
                return
            t += pace
            await asyncio.sleep(max(0.0, t - time.time()))
            yield Block(silence, time.time(), hold=True)

    def _recover(self, dead: Any, result: dict[str, Any]) -> None:
        """Worker thread: close the dead stream, then reopen until it works."""
        _close_stream(dead)
        while not self._closed:
            try:
                _rescan()
                self.open()
                self._stream.start()
                result["stream"] = self._stream
                return
            except Exception as e:  # DeviceError or PortAudio errors: keep holding
                log.debug("reopen failed: %s", e)
                self._stream = None
                time.sleep(RETRY_S)

    def _stop_stream(self) -> None:
        s, self._stream = self._stream, None
        if s is not None:  # off the loop thread, and not waited for long (see above)
            t = threading.Thread(target=_close_stream, args=(s,), daemon=True, name="mic-close")
            t.start()
            t.join(0.2)

    def close(self) -> None:
        self._closed = True
        self._stop_stream()


def _close_stream(s: Any) -> None:
    if s is None:
        return
    try:
        s.abort()
        s.close()
    except Exception:  # the device may already be gone
        pass
