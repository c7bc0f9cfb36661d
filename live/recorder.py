"""Record the show as it happens: ``--record out.npz | out.bvh | out.json``.

Frames are appended into preallocated chunks (no per-frame allocation beyond a new
chunk every ``CHUNK`` frames). :meth:`Recorder.flush` rewrites the file atomically
(temporary file + rename) from everything recorded so far, so a crash or a kill leaves
the last flushed state on disk; the app flushes periodically in a worker thread and once
more on shutdown.

Formats:
- ``.npz``: ``joints`` [shape=(T, 17, 3)] float32, ``t``, ``wall``, ``index``,
  ``beat`` (bool), ``beat_in_bar``, ``bar``, ``tempo``, ``confidence``, ``latency_ms``
  (each [shape=(T,)]), and ``fps``, ``joint_names``, ``meta`` (JSON string).
- ``.json``: {"fps", "joint_names", "meta", "frames": [{"i", "t", "joints": [51],
  "beat", "beat_in_bar", "bar", "tempo", "confidence"}]}.
- ``.bvh``: ``model.bvh.write_bvh`` (rotations solved from positions; opens in Blender).
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

FORMATS = (".npz", ".bvh", ".json")
CHUNK = 4096
_SCALARS = ("t", "wall", "index", "beat", "beat_in_bar", "bar", "tempo", "confidence", "latency_ms")


class Recorder:
    """Collects frames; writes them to ``path`` on :meth:`flush`."""

    def __init__(self, path: str | Path, *, fps: int, meta: Mapping[str, Any] | None = None) -> None:
        self.path = Path(path)
        ext = self.path.suffix.lower()
        if ext not in FORMATS:
            raise ConfigError(f"cannot record to {self.path}: use a .npz, .bvh or .json file name")
        if not self.path.parent.exists():
            raise ConfigError(f"cannot record to {self.path}: folder {self.path.parent} does not exist")
        self.ext = ext
        self.fps = int(fps)
        self.meta = dict(meta or {})
        self._joints: list[np.ndarray] = []
        self._scalars: list[np.ndarray] = []
        self.count = 0
        self.flushed = 0
        self._lock = threading.Lock()
        if ext == ".bvh":
            try:
                from model.bvh import write_bvh  # noqa: F401
            except ImportError:
                raise ConfigError("BVH recording needs model/bvh.py; record to .npz or .json instead") from None

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
        meta = json.dumps(self.meta)
        if self.ext == ".npz":
            cols = {name: sc[:, i] for i, name in enumerate(_SCALARS)}
            cols["index"] = cols["index"].astype(np.int64)
            cols["beat"] = cols["beat"].astype(bool)
            cols["beat_in_bar"] = cols["beat_in_bar"].astype(np.int32)
            cols["bar"] = cols["bar"].astype(np.int32)
            with open(path, "wb") as f:
                np.savez(f, joints=joints, fps=np.int32(self.fps),
                         joint_names=np.asarray(sk.JOINT_NAMES), meta=np.asarray(meta), **cols)
        elif self.ext == ".json":
            frames = [
                {
                    "i": int(s[2]), "t": round(float(s[0]), 5),
                    "joints": [round(float(v), 5) for v in j.reshape(-1)],
                    "beat": bool(s[3]), "beat_in_bar": int(s[4]), "bar": int(s[5]),
                    "tempo": round(float(s[6]), 3), "confidence": round(float(s[7]), 4),
                }
                for j, s in zip(joints, sc)
            ]
            doc = {"fps": self.fps, "joint_names": list(sk.JOINT_NAMES), "meta": self.meta, "frames": frames}
            path.write_text(json.dumps(doc), encoding="utf-8")
        else:
            from model.bvh import write_bvh

            write_bvh(path, joints, fps=self.fps)
