"""Causal beat/downbeat activation at show time (numpy, or onnxruntime; no torch).

``BeatActivation().step(mel_db)`` takes one 30 fps log-mel frame (the features' ``mel``
block) and returns the network's probabilities ``[none, beat, downbeat]`` for that frame,
carrying the GRU state from call to call. ``run(mels)`` does the same for a block of
frames ``[T, 64]`` at once (offline feature extraction) and leaves the same state.

The network builds its inputs from the log-mel frame and the previous one (carried as
state like the GRU's): the 64 bands, their positive differences, the mean of those
differences (the onset strength) and the log of the bass (8 lowest bands) power flux;
then a linear layer, a two-layer GRU and a linear layer give the three logits. The network
and its training are in ``model.beat_train``; the shipped weights are ``models/beats.onnx``.

Two ways to run it, the same numbers (to about 1e-6):

- numpy (the default when ``models/beats.npz`` sits beside the ``.onnx`` and was made from
  that very file, checked by SHA-256): one streaming GRU step is about 30 numpy calls on
  preallocated float32 buffers (the normalisation folded into the first layer, each GRU
  layer's gates in one matrix product); about a fifth of the cost of one onnxruntime call,
  whose fixed per-call overhead dominates a net this small.
  ``python -m model.beat_train --npz models/beats.onnx`` writes the ``.npz``
  (``make beats-model`` does it after training).
- onnxruntime (when the ``.npz`` is missing or stale, or ``backend="onnxruntime"``): one
  call per frame, one intra-op thread, buffers bound once.
"""

from __future__ import annotations

import hashlib
import logging
import math
from pathlib import Path
from typing import Any

import numpy as np

from model.errors import ModelError

FPS_NET = 30
"""Frame rate the network runs at (at 60 fps the tracker feeds it every other frame)."""
LOW_BANDS = 8
"""Bass bands whose power flux is one input."""
MEL_FLOOR_DB = -100.0
"""Log-mel value of silence (the features' power floor)."""
DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "models" / "beats.onnx"
NPZ_VERSION = 1
"""Format of the numpy weights file (``model.beat_train.export_numpy`` writes it)."""
BACKENDS = ("auto", "numpy", "onnxruntime")

_log = logging.getLogger("dancemuse.beats")
_HALF = np.float32(0.5)
_ZERO = np.zeros((), np.float32)
"""0 as a 0-d float32 array: a ufunc call with it skips a Python float's scalar discovery
(same rounding)."""
_tanh, _mul, _add, _sub = np.tanh, np.multiply, np.add, np.subtract


def _fail(path: Path, why: str) -> ModelError:
    return ModelError(
        f"beat activation model {path} {why}; restore it (git checkout models/beats.onnx) "
        "or rebuild it with `make beats-model`"
    )


def numpy_weights_path(onnx_path: str | Path) -> Path:
    """Where the numpy weights of ``onnx_path`` live: beside it, ``.npz`` for ``.onnx``."""
    return Path(onnx_path).with_suffix(".npz")


def sha256_file(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _load_numpy_weights(onnx_path: Path, n_mels: int) -> dict[str, np.ndarray] | None:
    """The numpy weights beside ``onnx_path`` when they were made from that file; else
    None (a stale file is logged once, the caller falls back to onnxruntime)."""
    npz = numpy_weights_path(onnx_path)
    if not npz.is_file():
        return None
    try:
        with np.load(npz, allow_pickle=False) as d:
            w = {k: d[k] for k in d.files}
        src = str(w["source_sha256"])
        ok = int(w["version"]) == NPZ_VERSION and int(w["n_mels"]) == n_mels
    except Exception as e:  # noqa: BLE001 - numpy raises several types for a bad file
        _log.warning("%s cannot be read (%s); the beat net runs in onnxruntime "
                     "(python -m model.beat_train --npz %s remakes it)", npz, type(e).__name__, onnx_path)
        return None
    if not ok or src != sha256_file(onnx_path):
        _log.warning("%s was not made from %s; the beat net runs in onnxruntime "
                     "(python -m model.beat_train --npz %s remakes it)", npz.name, onnx_path.name, onnx_path)
        return None
    return w


class BeatActivation:
    """The activation network, stepped one 30 fps frame at a time.

    ``step(mel_db)`` returns a view of the probabilities [none, beat, downbeat]
    (valid until the next call); ``run(mels)`` a block of them; ``reset()`` clears the
    recurrent state. ``backend`` is "numpy" or "onnxruntime" (chosen as described in the
    module docstring; ``backend=`` forces one). Raises ModelError (one line) when the model
    file is missing or unusable.
    """

    def __init__(self, path: str | Path | None = None, *, n_mels: int = 64, backend: str = "auto") -> None:
        p = Path(path) if path is not None else DEFAULT_MODEL
        self.path = p
        self._low_pow: list[float] | None = None
        self.n_mels = int(n_mels)
        if backend not in BACKENDS:
            raise ValueError(f"beat activation backend {backend!r}: choose one of {', '.join(BACKENDS)}")
        if not p.is_file():
            raise _fail(p, "is missing")
        w = None if backend == "onnxruntime" else _load_numpy_weights(p, self.n_mels)
        if backend == "numpy" and w is None:
            raise ModelError(f"beat activation model {p} has no current numpy weights "
                             f"{numpy_weights_path(p).name}; make them with "
                             f"`python -m model.beat_train --npz {p}`")
        self.backend = "numpy" if w is not None else "onnxruntime"
        if w is not None:
            self._init_numpy(w)
        else:
            self._init_ort(p)
        self.reset()
        try:
            self.step(np.full(self.n_mels, MEL_FLOOR_DB))
        except Exception as e:  # noqa: BLE001
            raise _fail(p, f"does not run ({type(e).__name__})") from None
        self.reset()

    # -- numpy backend -------------------------------------------------------------------
    def _init_numpy(self, w: dict[str, np.ndarray]) -> None:
        f32 = np.float32
        self._w_in = np.ascontiguousarray(w["w_in"], f32)  # [H, 2M + 2]: mel, diff, flux, 1
        self._g = (np.ascontiguousarray(w["g1"], f32), np.ascontiguousarray(w["g2"], f32))
        self._w_out = np.ascontiguousarray(w["w_out"], f32)  # [3, H + 1]: h2, 1
        hid = self._w_in.shape[0]
        m = self.n_mels
        if self._w_in.shape[1] != 2 * m + 2 or any(g.shape != (4 * hid, 2 * hid + 1) for g in self._g):
            raise _fail(self.path, "has numpy weights of the wrong shapes")
        self.hidden = hid
        # state vector [1, z, h1, h2, 1]: layer 1 reads [1, z, h1], layer 2 [h1, h2, 1]
        self._s = np.zeros(3 * hid + 2, f32)
        self._in1 = self._s[0: 2 * hid + 1]
        self._in2 = self._s[hid + 1: 3 * hid + 2]
        self._z = self._s[1: hid + 1]
        self._hs = (self._s[hid + 1: 2 * hid + 1], self._s[2 * hid + 1: 3 * hid + 1])
        self._in_out = self._s[2 * hid + 1:]
        # two input rows [mel, diff, flux, 1] used in turn: the previous frame's mel is the
        # other row's (no copy per frame); _cur is the row holding the last mel heard
        self._xs = np.zeros((2, 2 * m + 2), f32)
        self._xs[:, -1] = 1.0
        self._gates = np.zeros(4 * hid, f32)
        self._tmp = np.zeros(hid, f32)
        self._logits = np.zeros(3, f32)
        self._p = np.zeros((1, 1, 3), f32)
        self.probs = self._p[0, 0]
        # per row k: (x, its mel, diff, the other row's mel) -- views made once
        self._rows = tuple((self._xs[k], self._xs[k, :m], self._xs[k, m: 2 * m], self._xs[1 - k, :m])
                           for k in (0, 1))
        # per GRU layer: (gates matrix, its input, h, zr, z, r, n, hidden part of n) views
        g = self._gates
        self._layers = tuple((self._g[k], (self._in1, self._in2)[k], self._hs[k], g[: 2 * hid], g[:hid],
                              g[hid: 2 * hid], g[2 * hid: 3 * hid], g[3 * hid:]) for k in (0, 1))
        # the state in the layout the onnxruntime backend uses (state() / set_state() read
        # and write it): h [2, 1, H] is a view of the state vector, prev the two rows' mels
        h = self._s[hid + 1: 3 * hid + 1].reshape(2, 1, hid)
        self._h = [h, h]
        self._prev = [self._xs[0:1, :m], self._xs[1:2, :m]]
        self._cur = 0

    def _step_numpy(self, mel_db: np.ndarray) -> np.ndarray:
        # (ufuncs called with their output as a positional argument and bound to module
        # names: the same arithmetic as ``np.tanh(x, out=x)``, less call overhead)
        k = 1 - self._cur
        x, mel, d, prev = self._rows[k]
        mel[...] = mel_db
        _sub(mel, prev, d)
        np.maximum(d, _ZERO, out=d)
        # bass power flux; the previous frame's band powers are kept from its step
        pw = [10.0 ** (0.1 * a) for a in mel[:LOW_BANDS].tolist()]
        pw_prev = self._low_pow
        if pw_prev is None:
            pw_prev = [10.0 ** (0.1 * b) for b in prev[:LOW_BANDS].tolist()]
        flux = 0.0
        for a, b in zip(pw, pw_prev):
            if a > b:
                flux += a - b
        self._low_pow = pw
        x[-2] = math.log10(flux + 1e-6)
        self._cur = k
        z = self._z
        self._w_in.dot(x, z)  # (the array method: np.dot's dispatcher costs ~1.4 us a call)
        np.maximum(z, _ZERO, out=z)
        t = self._tmp
        gates = self._gates
        half = _HALF
        for g, inp, h, zr, zg, r, n, hn in self._layers:
            # gates z, r, input part of n, hidden part of n in one product; the z and r rows
            # are halved so sigmoid(x) = 0.5 + 0.5 tanh(x / 2)
            g.dot(inp, gates)
            _tanh(zr, zr)
            _mul(zr, half, zr)
            _add(zr, half, zr)
            _mul(r, hn, hn)
            _add(n, hn, n)
            _tanh(n, n)
            _sub(h, n, t)  # h' = n + z (h - n)
            _mul(t, zg, t)
            _add(n, t, h)
        lg0, lg1, lg2 = self._w_out.dot(self._in_out, self._logits).tolist()
        top = max(lg0, lg1, lg2)
        e0, e1, e2 = math.exp(lg0 - top), math.exp(lg1 - top), math.exp(lg2 - top)
        k_ = 1.0 / (e0 + e1 + e2)
        p = self.probs
        p[0] = e0 * k_
        p[1] = e1 * k_
        p[2] = e2 * k_
        return p

    def _run_numpy(self, mels: np.ndarray) -> np.ndarray:
        m, hid = self.n_mels, self.hidden
        n = len(mels)
        x = np.empty((n, 2 * m + 2), np.float32)
        x[:, :m] = mels
        prev = self._prev[self._cur]
        before = np.concatenate([prev, x[:-1, :m]])
        np.maximum(x[:, :m] - before, 0.0, out=x[:, m: 2 * m])
        lo = x[:, :LOW_BANDS].astype(np.float64)
        pw = np.power(10.0, 0.1 * lo) - np.power(10.0, 0.1 * before[:, :LOW_BANDS].astype(np.float64))
        x[:, 2 * m] = np.log10(np.maximum(pw, 0.0).sum(axis=1) + 1e-6)
        x[:, -1] = 1.0
        prev[0] = x[-1, :m]
        seq = np.maximum(x @ self._w_in.T, 0.0)
        for layer in range(2):
            g = self._g[layer]
            # the input columns of all frames in one product; the recurrent part frame by frame
            cin = g[:, 1: hid + 1] if layer == 0 else g[:, :hid]
            gi = seq @ cin.T
            gi += g[:, 0] if layer == 0 else g[:, -1]
            rec = np.ascontiguousarray(g[:, hid + 1:] if layer == 0 else g[:, hid: 2 * hid])
            h = self._hs[layer]
            out = np.empty((n, hid), np.float32)
            gr = self._gates
            zr, nn_, hn = gr[: 2 * hid], gr[2 * hid: 3 * hid], gr[3 * hid:]
            t = self._tmp
            for i in range(n):
                np.dot(rec, h, out=gr)
                gr += gi[i]
                np.tanh(zr, out=zr)
                zr *= 0.5
                zr += 0.5
                np.multiply(gr[hid: 2 * hid], hn, out=hn)
                nn_ += hn
                np.tanh(nn_, out=nn_)
                np.subtract(h, nn_, out=t)
                t *= gr[:hid]
                np.add(nn_, t, out=h)
                out[i] = h
            seq = out
        lg = seq @ self._w_out[:, :hid].T + self._w_out[:, hid]
        lg -= lg.max(axis=1, keepdims=True)
        e = np.exp(lg)
        return e / e.sum(axis=1, keepdims=True)

    # -- onnxruntime backend -------------------------------------------------------------
    def _init_ort(self, p: Path) -> None:
        n_mels = self.n_mels
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
        if n_in != n_mels:
            raise _fail(p, f"expects {n_in} mel bands, the features give {n_mels}")
        self.hidden = int(h_shape[-1])
        self._x = np.zeros((1, 1, n_mels), np.float32)
        self._h = [np.zeros(h_shape, np.float32), np.zeros(h_shape, np.float32)]
        self._prev = [np.zeros((1, n_mels), np.float32), np.zeros((1, n_mels), np.float32)]
        self._p = np.zeros((1, 1, 3), np.float32)
        self._cur = 0
        self._bind: list[Any] = []
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

    # -- public --------------------------------------------------------------------------
    def reset(self) -> None:
        for a in (*self._h, *self._prev):
            a[:] = 0.0
        self._prev[0][:] = MEL_FLOOR_DB
        self._cur = 0
        self._low_pow = None  # the last mel's bass band powers (numpy step; None: not known)
        if self.backend == "numpy":
            self._s[0] = self._s[-1] = 1.0

    def state(self) -> tuple[np.ndarray, np.ndarray]:
        """The recurrent state as copies: ``(h, prev_mel)``, ``h`` [shape=(2, 1, hidden)]
        the two GRU layers' states (the layout of ``models/beats_seq.onnx``'s ``h`` and
        ``h_out``), ``prev_mel`` [shape=(n_mels,)] the last log-mel frame heard (float32).
        With :meth:`set_state` it hands the state over to and from another runner of the
        same net (e.g. the sequence copy for whole songs)."""
        return self._h[self._cur].copy(), self._prev[self._cur][0].copy()

    def set_state(self, h: np.ndarray, prev_mel: np.ndarray) -> None:
        """Continue from the state ``(h, prev_mel)`` (as :meth:`state` returns it or the
        sequence net's ``h_out`` and the last mel frame it heard); the next :meth:`step`
        answers as the net would after those frames. Raises ValueError on wrong shapes."""
        h = np.asarray(h, np.float32)
        prev_mel = np.asarray(prev_mel, np.float32)
        want = self._h[self._cur].shape
        if h.size != int(np.prod(want)) or prev_mel.size != self.n_mels:
            raise ValueError(f"beat activation set_state: h of shape {h.shape} and prev_mel of "
                             f"shape {prev_mel.shape}; expected {want} and ({self.n_mels},)")
        self._h[self._cur][...] = h.reshape(want)
        self._prev[self._cur][...] = prev_mel.reshape(1, self.n_mels)
        self._low_pow = None

    def step(self, mel_db: np.ndarray) -> np.ndarray:
        """Probabilities [shape=(3,)] (none, beat, downbeat) of this 30 fps frame."""
        if self.backend == "numpy":
            return self._step_numpy(mel_db)
        self._x[0, 0] = mel_db
        self._sess.run_with_iobinding(self._bind[self._cur])
        self._cur = 1 - self._cur
        return self.probs

    def run(self, mels: np.ndarray) -> np.ndarray:
        """Probabilities [shape=(t, 3)] of the 30 fps frames ``mels`` [shape=(t, n_mels)],
        as ``t`` calls of :meth:`step` would give them (to about 1e-6), leaving the same
        state behind. A new array (for offline use; the live loop calls ``step``)."""
        mels = np.asarray(mels, np.float32)
        if mels.ndim != 2 or mels.shape[1] != self.n_mels:
            raise ValueError(f"beat activation run: mels of shape {mels.shape}; "
                             f"expected (frames, {self.n_mels})")
        if len(mels) == 0:
            return np.zeros((0, 3), np.float32)
        if self.backend == "numpy":
            self._low_pow = None
            return self._run_numpy(mels).astype(np.float32, copy=False)
        out = np.empty((len(mels), 3), np.float32)
        for i, m in enumerate(mels):
            out[i] = self.step(m)
        return out
