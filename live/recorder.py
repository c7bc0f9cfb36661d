"""Record the show as it happens: ``--record out.npz | .json | .csv | .bvh``.

Frames are appended into preallocated chunks (no per-frame allocation beyond a new
chunk every ``CHUNK`` frames). :meth:`Recorder.flush` rewrites the file atomically
(temporary file + rename) from everything recorded so far, so a crash or a kill leaves
the last flushed state on disk; the app flushes periodically in a worker thread and once
more on shutdown.

Files are those of :mod:`live.dance_io` (``read_dance`` reads them back; beats are the
times ``index / fps`` of the beat frames, counts 1..8 over two bars). The ``.npz`` also
keeps the live columns, each [shape=(T,)]: ``index``, ``t`` (end of the frame's hop, s),
``wall``, ``beat`` (bool), ``beat_in_bar``, ``bar``, ``tempo``, ``confidence``,
``latency_ms``; it is written uncompressed so that a flush stays cheap.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from live.frame import Frame
from model import skeleton as sk
from model.errors import ConfigError

FORMATS = (".npz", ".json", ".csv", ".bvh")
CHUNK = 4096
_SCALARS = ("t", "wall", "index", "beat", "beat_in_bar", "bar", "tempo", "confidence", "latency_ms")


class Recorder:
    """Collects frames; writes them to ``path`` on :meth:`flush`."""

    def __init__(
        self, path: str | Path, *, fps: int, meta: Mapping[str, Any] | None = None, beats_per_bar: int = 4
    ) -> None:
        self.path = Path(path)
        ext = self.path.suffix.lower()
        if ext not in FORMATS:
            raise ConfigError(f"cannot record to {self.path}: use a .npz, .json, .csv or .bvh file name")
        if not self.path.parent.exists():
            raise ConfigError(f"cannot record to {self.path}: folder {self.path.parent} does not exist")
        self.ext = ext
        self.fps = int(fps)
        self.meta = dict(meta or {})
        self.beats_per_bar = int(beats_per_bar)
        self._joints: list[np.ndarray] = []
        self._scalars: list[np.ndarray] = []
        self.count = 0
        self.flushed = 0
        self._lock = threading.Lock()

    def add(self, frame: Frame) -> None:
        """Append one frame (copies its joints)."""
        k = self.count % CHUNK
        if k == 0:
            self._joints.append(np.zeros((CHUNK, sk.NUM_JOINTS, 3), np.float32))
            self._scalars.append(np.zeros((CHUNK, len(_SCALARS)), np.float64))
        self._joints[-1][k] = frame.joints
        row = self._scalars[-1][k]
        row[0] = frame.t
        row[1] = frame.wall
        row[2] = frame.index
        row[3] = frame.beat
        row[4] = frame.beat_in_bar
        row[5] = frame.bar
        row[6] = frame.tempo
        row[7] = frame.confidence
        row[8] = frame.latency_ms
        self.count += 1

    def snapshot(self) -> tuple[np.ndarray, np.ndarray]:
        """Copies of what was recorded: joints [T, 17, 3] and scalars [T, 9]."""
        n = self.count
        if n == 0:
            return np.zeros((0, sk.NUM_JOINTS, 3), np.float32), np.zeros((0, len(_SCALARS)))
        chunks = (n + CHUNK - 1) // CHUNK
        j = np.concatenate(self._joints[:chunks])[:n]
        s = np.concatenate(self._scalars[:chunks])[:n]
        return j, s

    def flush(self) -> int:
        """Write everything recorded so far (atomically). Returns the frame count written."""
        with self._lock:
            joints, sc = self.snapshot()
            if len(joints) == 0 and self.ext == ".bvh":
                return 0
            if self.ext != ".npz":  # live.dance_io writes atomically itself
                self._write(self.path, joints, sc)
                self.flushed = len(joints)
                return self.flushed
            tmp = self.path.with_name(f".{self.path.name}.tmp{os.getpid()}{self.ext}")
            try:
                self._write(tmp, joints, sc)
                os.replace(tmp, self.path)
            finally:
                if tmp.exists():
                    tmp.unlink()
            self.flushed = len(joints)
            return self.flushed

    def _write(self, path: Path, joints: np.ndarray, sc: np.ndarray) -> None:
        cols = {name: sc[:, i] for i, name in enumerate(_SCALARS)}
        index = cols["index"].astype(np.int64)
        beat = cols["beat"] > 0.5
        beats = (index[beat] / self.fps).astype(np.float32)
        counts = ((cols["bar"][beat] % 2) * self.beats_per_bar + cols["beat_in_bar"][beat]).astype(np.int16)
        if self.ext != ".npz":
            from live.dance_io import write_dance

            write_dance(path, joints, fps=self.fps, beats=beats, beat_counts=counts, meta=self.meta)
            return
        cols["index"] = index
        cols["beat"] = beat
        cols["beat_in_bar"] = cols["beat_in_bar"].astype(np.int32)
        cols["bar"] = cols["bar"].astype(np.int32)
        arrays: dict[str, Any] = dict(
            poses=joints, fps=np.int32(self.fps), joint_names=np.asarray(sk.JOINT_NAMES),
            beats=beats, beat_counts=counts, meta=np.asarray(json.dumps(self.meta)), **cols,
        )
        with open(path, "wb") as f:
            np.savez(f, **arrays)
