"""Causal beat/downbeat activation at show time (numpy + onnxruntime, no torch).

``BeatActivation().step(mel_db)`` takes one 30 fps log-mel frame (the features' ``mel``
block) and returns the network's probabilities ``[none, beat, downbeat]`` for that frame,
carrying the GRU state from call to call (one onnxruntime call per frame, one intra-op
thread, sequential execution, preallocated buffers bound once).

The graph builds its inputs from the log-mel frame and the previous one (carried as state
like the GRU's): the 64 bands, their positive differences, the mean of those differences
(the onset strength) and the log of the bass (8 lowest bands) power flux. The network and
its training are in ``model.beat_train``; the shipped weights are ``models/beats.onnx``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from model.errors import ModelError

FPS_NET = 30
"""Frame rate the network runs at (at 60 fps the tracker feeds it every other frame)."""
LOW_BANDS = 8
"""Bass bands whose power flux is one input."""
MEL_FLOOR_DB = -100.0
"""Log-mel value of silence (the features' power floor)."""
DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "models" / "beats.onnx"


def _fail(path: Path, why: str) -> ModelError:
    return ModelError(
        f"beat activation model {path} {why}; restore it (git checkout models/beats.onnx) "
        "or rebuild it with `make beats-model`"
    )


class BeatActivation:
    """The activation network in onnxruntime, stepped one 30 fps frame at a time.

    ``step(mel_db)`` returns a view of the probabilities [none, beat, downbeat]
    (valid until the next call). ``reset()`` clears the recurrent state.
    Raises ModelError (one line) when the model file is missing or unusable.
    """

    def __init__(self, path: str | Path | None = None, *, n_mels: int = 64) -> None:
        p = Path(path) if path is not None else DEFAULT_MODEL
        self.n_mels = int(n_mels)
        if not p.is_file():
            raise _fail(p, "is missing")
        try:
            import onnxruntime as ort

            so = ort.SessionOptions()
            so.intra_op_num_threads = 1
            so.inter_op_num_threads = 1
            so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
            so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            so.log_severity_level = 3
            self._sess = ort.InferenceSession(str(p), so, providers=["CPUExecutionProvider"])
            ins = {i.name: i.shape for i in self._sess.get_inputs()}
            n_in = int(ins["mel"][2])
            h_shape = tuple(int(d) for d in ins["h"])
        except Exception as e:  # noqa: BLE001 - onnxruntime and onnx raise several types
            raise _fail(p, f"cannot be loaded ({type(e).__name__})") from None
        if n_in != self.n_mels:
            raise _fail(p, f"expects {n_in} mel bands, the features give {self.n_mels}")
        self._x = np.zeros((1, 1, n_mels), np.float32)
        self._h = [np.zeros(h_shape, np.float32), np.zeros(h_shape, np.float32)]
        self._prev = [np.zeros((1, n_mels), np.float32), np.zeros((1, n_mels), np.float32)]
        self._p = np.zeros((1, 1, 3), np.float32)
        self._cur = 0
        self._bind = []
        for k in range(2):  # two bindings: the states ping-pong between two buffers
            b = self._sess.io_binding()
            b.bind_cpu_input("mel", self._x)
            b.bind_cpu_input("h", self._h[k])
            b.bind_cpu_input("prev", self._prev[k])
            b.bind_output("p", "cpu", 0, np.float32, list(self._p.shape), self._p.ctypes.data)
            b.bind_output("h_out", "cpu", 0, np.float32, list(h_shape), self._h[1 - k].ctypes.data)
            b.bind_output("prev_out", "cpu", 0, np.float32, [1, n_mels],
                          self._prev[1 - k].ctypes.data)
            self._bind.append(b)
        self.probs = self._p[0, 0]
        try:
            self.step(np.full(n_mels, MEL_FLOOR_DB))
        except Exception as e:  # noqa: BLE001
            raise _fail(p, f"does not run ({type(e).__name__})") from None
        self.reset()

    def reset(self) -> None:
        for a in (*self._h, *self._prev):
            a[:] = 0.0
        self._prev[0][:] = MEL_FLOOR_DB
        self._cur = 0

    def step(self, mel_db: np.ndarray) -> np.ndarray:
        """Probabilities [shape=(3,)] (none, beat, downbeat) of this 30 fps frame."""
        self._x[0, 0] = mel_db
        self._sess.run_with_iobinding(self._bind[self._cur])
        self._cur = 1 - self._cur
        return self.probs
