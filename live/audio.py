"""Audio sources: every input reaches the engine through one path, ``Source.blocks()``.

A source is an async iterator of :class:`Block` (samples at ``source.sample_rate``, the
wall time its last sample arrived, and a ``hold`` flag). The app feeds each block to
``Engine.process`` and sends the frames; it does not care where audio comes from:

- ``demo``: the built-in synthesised song (``model.synth_music.demo_song``), looped;
- ``FILE``: any file soundfile reads, in real time (or ``fast``: as fast as the loop
  runs, for tests and offline renders), ``loop`` to repeat, ``playback`` to also play it
  to the default output device so the DJ hears it;
- ``mic``: a sounddevice input stream (see :mod:`live.mic`; sounddevice is imported only
  there, lazily, so the demo and files run without PortAudio).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import time
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from live.source import Block, Source
from model.errors import AudioError

__all__ = ["DEMO_SECONDS", "ArraySource", "Block", "Source", "demo_audio", "load_file", "open_source"]

log = logging.getLogger("dancemuse.audio")

DEMO_SECONDS = 64.0


class ArraySource(Source):
    """Replays an in-memory signal in real time (or as fast as possible).

    audio: [shape=(n,)] float32 mono at ``sample_rate``. ``block``: samples per block.
    Real time (times ``speed``) is paced on the wall clock from the first block; a block's ``arrival`` is
    the instant its last sample would have arrived from a device, so latency measured
    against it includes any lateness of the loop. In ``fast`` mode each block yields to
    the event loop (so outputs keep up) and arrives "now".
    """

    def __init__(
        self,
        audio: np.ndarray,
        *,
        sample_rate: int,
        block: int = 512,
        fast: bool = False,
        loop: bool = False,
        playback: bool = False,
        name: str = "array",
        speed: float = 1.0,
    ) -> None:
        a = np.asarray(audio, dtype=np.float32)
        if a.ndim == 2:
            a = a.mean(axis=1).astype(np.float32)
        if a.ndim != 1 or len(a) == 0:
            raise AudioError(f"{name} holds no audio; pick another file")
        self.audio = np.ascontiguousarray(a)
        self.sample_rate = int(sample_rate)
        self.block = int(block)
        self.fast = bool(fast)
        self.speed = float(speed)
        if self.speed <= 0:
            raise AudioError(f"replay speed {speed} must be positive")
        self.loop = bool(loop)
        self.playback = bool(playback)
        self.name = name
        self.finite = not self.loop
        self._play_stream: Any = None

    def describe(self) -> str:
        mode = "fast" if self.fast else "real time"
        return f"{self.name} ({len(self.audio) / self.sample_rate:.1f} s, {mode}{', loop' if self.loop else ''})"

    async def blocks(self) -> AsyncIterator[Block]:
        a, sr, b = self.audio, self.sample_rate, self.block
        if self.playback and not self.fast:
            self._start_playback()
        sent = 0  # samples sent since the start (keeps counting across loops)
        pos = 0
        start = time.time()
        while True:
            end = min(pos + b, len(a))
            chunk = a[pos:end]
            sent += len(chunk)
            if self.fast:
                await asyncio.sleep(0)
                arrival = time.time()
            else:
                arrival = start + sent / (sr * self.speed)
                # always yield, even when late: outputs must run between blocks
                await asyncio.sleep(max(0.0, arrival - time.time()))
            yield Block(chunk, arrival)
            pos = end
            if pos >= len(a):
                if not self.loop:
                    return
                pos = 0

    def _start_playback(self) -> None:
        try:
            import sounddevice as sd

            sd.play(self.audio, self.sample_rate, loop=self.loop)
            self._play_stream = sd
        except Exception as e:  # PortAudio missing or no output device: keep dancing
            log.warning("cannot play %s to the output device (%s); continuing without playback",
                        self.name, str(e).splitlines()[0] if str(e) else type(e).__name__)

    def close(self) -> None:
        if self._play_stream is not None:
            try:
                self._play_stream.stop()
            except Exception:  # pragma: no cover
                pass
            self._play_stream = None


def load_file(path: str | Path) -> tuple[np.ndarray, int]:
    """Read an audio file to float32 mono. Returns (samples [shape=(n,)], sample rate)."""
    p = Path(path)
    if not p.is_file():
        raise AudioError(f"audio file {p} not found; pass an existing file, 'demo' or 'mic' to --input")
    from model.audio_check import read_checked

    # the same reader as `dancemuse generate`: soundfile, then ffmpeg for what it cannot read
    # (m4a/AAC, the sound of a video)
    return read_checked(p)


def demo_cache_dir() -> Path:
    """Where the rendered demo song is kept between starts: ``$DANCEMUSE_CACHE``, else
    ``$XDG_CACHE_HOME/dancemuse``, else ``~/.cache/dancemuse``."""
    env = os.environ.get("DANCEMUSE_CACHE")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "dancemuse"


def _demo_key(seconds: float, seed: int) -> str:
    """The synthesiser's source (model/synth_music.py, model/constants.py), the length and
    the seed: a change to any of them renders the demo afresh."""
    import model

    h = hashlib.sha256(f"{seconds!r}:{seed}:{np.__version__}".encode())
    for name in ("synth_music.py", "constants.py"):
        h.update((Path(model.__file__).parent / name).read_bytes())
    return h.hexdigest()[:20]


def demo_audio(*, seconds: float = DEMO_SECONDS, seed: int = 0, cache: bool = True) -> tuple[np.ndarray, int]:
    """The built-in demo song. Returns (samples [shape=(n,)], sample rate).

    Rendering it takes about half a second of CPU, so with ``cache`` the samples are kept
    in :func:`demo_cache_dir` (written atomically; an unreadable or unwritable cache is
    skipped) and later starts read them in a few milliseconds."""
    from model.constants import SAMPLE_RATE

    path = demo_cache_dir() / f"demo-{_demo_key(float(seconds), int(seed))}.npy" if cache else None
    if path is not None and path.is_file():
        try:
            audio = np.load(path, allow_pickle=False)
            if audio.dtype == np.float32 and audio.ndim == 1 and np.isfinite(audio).all():
                return audio, int(SAMPLE_RATE)
        except (OSError, ValueError) as e:
            log.debug("demo cache %s unreadable (%s); rendering the demo", path, e)
    from model.synth_music import demo_song

    song = demo_song(seconds=seconds, seed=seed, sample_rate=SAMPLE_RATE)
    audio = song.audio.astype(np.float32)
    if path is not None:
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as f:
                np.save(f, audio, allow_pickle=False)
            os.replace(tmp, path)
        except OSError as e:
            log.debug("demo cache %s not written (%s)", path, e)
            with contextlib.suppress(OSError):
                tmp.unlink()
    return audio, int(song.sample_rate)


def open_source(audio_cfg: Mapping[str, Any], *, fps: int, demo_seconds: float = DEMO_SECONDS) -> Source:
    """The source named by ``audio_cfg["input"]``: "demo", "mic" or a file path."""
    what = str(audio_cfg.get("input", "demo")) or "demo"
    fast = bool(audio_cfg.get("fast", False))
    if what == "mic":
        from live.mic import MicSource

        return MicSource(
            device=str(audio_cfg.get("device", "")),
            sample_rate=int(audio_cfg.get("sample_rate", 0)),
            channels=int(audio_cfg.get("channels", 1)),
            block_size=int(audio_cfg.get("block_size", 256)),
            ring_seconds=float(audio_cfg.get("ring_seconds", 2.0)),
        )
    if what == "demo":
        audio, sr = demo_audio(seconds=demo_seconds)
        loop = True if not fast else bool(audio_cfg.get("loop", False))
        name = "demo song"
    else:
        audio, sr = load_file(what)
        loop = bool(audio_cfg.get("loop", False))
        name = Path(what).name
    # one block = one hop (at the source rate): each block makes one frame in real time
    block = max(1, round(sr / fps))
    return ArraySource(
        audio, sample_rate=sr, block=block, fast=fast, loop=loop,
        playback=bool(audio_cfg.get("playback", False)), name=name,
    )
