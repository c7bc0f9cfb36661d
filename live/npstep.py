"""The live step model in numpy: one frame per call, the same numbers as the ONNX step.

:class:`NumpyStep` runs the exported DanceNet frame by frame from the weights file that
``dancemuse export`` writes beside every block-1 model (``<model>_offline.npz``,
:mod:`export.offline`; used only beside the exact ``.onnx`` it was written with). It has
the interface of :class:`live.runtime.Generator` (``step``, ``reset``, ``fps``, ...) and
a test holds its poses within 1e-4 m of the ONNX step over minutes of a song. Why: the
ONNX step is ~140 small kernels a frame; here a frame is ~110 numpy calls on
preallocated buffers, most of them a few hundred floats, plus 14 BLAS products:
1.2-1.6x less CPU than the bound ONNX step (``python bench/step.py``, part 0b; the two
decoder products, 2 MB of weights each, are most of what is left).

How it is laid out (all buffers allocated once; a step allocates no array):

- attention keys and values of each encoder layer in rings ``[R, d]`` (R = window + 1
  slots, frame ``a`` in slot ``a % R``): a new frame's k and v are two row copies;
- per head scores in one product: the query is written on the diagonal blocks of a
  ``[d, heads]`` matrix, so ``ring_k @ Q`` gives ``[R, heads]``; the relative-offset
  bias (and, for the first R frames, the not-yet-filled slots' mask) is a table row
  picked by the ring position; the values product ``att.T @ ring_v`` keeps its diagonal
  blocks (a strided view) divided by the softmax sums;
- layer norms' gains and biases and every bias are folded into the next product's
  weights (a constant 1 at the end of each input vector picks the bias row);
- GELU as relu(x) plus a smooth even correction read from a table by linear
  interpolation (|error| < 1e-7), its 1/sqrt 2 folded into the weights around it;
- the decoder's inputs sit in one vector ``[prev pose | encoder | latent | style |
  energy | 1 | h0 | h1 | 1]``: layer 0 reads ``[prev .. h0]``, layer 1 ``[h0 h1 1]``,
  the head ``[h1 1]``, each one BLAS product; LSTM sigmoids as ``0.5 + 0.5 tanh(x / 2)``
  with the halving folded into the gate columns;
- noise comes from the same seeded generator in the same order as the ONNX runtime's.

No torch here.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

from live.control import parse_style
from live.offline import NetDims, read_weights
from live.runtime import ROOT_MODES, advance_root
from model import modelmeta
from model.errors import ModelError
from model.skeleton import NUM_JOINTS, STANDING_ROOT_HEIGHT

CONTROL_DEFAULTS = {"energy": 1.0, "variation": 0.5}
NEG = -1e9
"""The step graph's additive mask value (exp underflows to exactly 0)."""
GELU_TABLE = 8192
GELU_RANGE = 5.0
"""GELU's table: f(a) = -a erfc(a) / 2 at GELU_TABLE + 1 points on [0, GELU_RANGE]."""
F32 = np.float32
_SQRT2 = math.sqrt(2.0)


_BLAS_LIMIT: list[Any] = []


def one_blas_thread() -> None:
    """numpy's BLAS on the calling thread only, for the whole process (kept): the step's
    products are gemv of a few hundred by 1024 that OpenBLAS would split over threads
    which then wait for a busy core (5x the CPU per frame measured on 2 cores with the
    other one busy). A no-op without threadpoolctl (installed with librosa)."""
    if _BLAS_LIMIT:
        return
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - a dependency of librosa's scikit-learn
        return
    _BLAS_LIMIT.append(threadpool_limits(limits=1, user_api="blas"))


def _f32(a: Any) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float32)


class NumpyStep(NetDims):
    """The block-1 step model in numpy (see the module docstring).

    path: the ``<model>_offline.npz`` weights; ``model_path``: the ``.onnx`` they belong to
    (reported as ``path``, as the ONNX runtime does). Raises ModelError with one line when
    the file is missing, unreadable or not a DanceNet of the known layout.
    """

    provider = "numpy"
    block = 1
    free_block = False

    def __init__(
        self,
        path: str | Path,
        *,
        model_path: str | Path | None = None,
        feature_config: Mapping[str, Any] | None = None,
        expected_spec: Mapping[str, Any] | None = None,
        seed: int = 0,
        warmup: bool = True,
    ) -> None:
        self.weights_path = Path(path)
        self.path = Path(model_path) if model_path is not None else self.weights_path
        name = str(path)
        if not self.weights_path.is_file():
            raise ModelError(f"step weights {name} not found; re-export the model with `dancemuse export`")
        w, self.meta = read_weights(self.weights_path, name=name, what="step weights",
                                    feature_config=feature_config, expected_spec=expected_spec)
        m = self.meta
        nc = m.get("net_config") or {}
        try:
            self._set_dims(nc)
            self.ffn = int(nc["ffn_dim"])
            if self.lstm_layers != 2 or int(m.get("lookahead", 0)) != 0:
                raise ValueError("a 2-layer LSTM decoder with no look-ahead")
            self._fold(w)
        except (KeyError, TypeError, ValueError) as e:
            raise ModelError(f"step weights {name} are not a DanceNet this runtime steps ({e}); "
                             "re-export the model with `dancemuse export`") from None
        self.fps: int = m["fps"]
        self.sample_rate: int = m["sample_rate"]
        self.style_names: list[str] = list(m["styles"])
        self.control_names: list[str] = list(m["controls"])
        self.feature_dim: int = m["feature_dim"]
        self.pose_dim: int = m["pose_dim"]
        self.window: int = m["window"]
        self.lookahead: int = m["lookahead"]
        self.noise_dim: int = int(m.get("noise_dim", 2 * self.nd))
        self.root_mode = str(m.get("root", "dx_y_dz"))
        if self.root_mode not in ROOT_MODES:
            raise ModelError(f"step weights {name} have root mode {self.root_mode!r}; re-export the model")
        if self.pose_dim != NUM_JOINTS * 3 + 3:
            raise ModelError(f"step weights {name} have pose_dim {self.pose_dim}, expected {NUM_JOINTS * 3 + 3}")
        self.feature_spec: Any = m["feature_spec"]
        try:
            from model.features import FeatureSpec

            self.feature_spec = FeatureSpec.from_dict(m["feature_spec"])
        except Exception:  # noqa: BLE001 - the JSON stays available
            pass
        self.default_style = parse_style(None, self.style_names)
        defaults = m.get("control_defaults", {})
        self.default_controls = np.array(
            [float(defaults.get(c, CONTROL_DEFAULTS.get(c, 0.0))) for c in self.control_names], F32)
        self._init_pose = np.asarray(m.get("init_pose", np.zeros(self.pose_dim)), F32).reshape(-1)
        self._alloc()
        one_blas_thread()
        self.last_step_ms = 0.0
        self.reset(seed=seed)
        if warmup:  # first touches of the weights and buffers; not on the first live frame
            self.step(np.zeros(self.feature_dim, F32))
            self.reset(seed=seed)

    # -- set-up --------------------------------------------------------------------------
    def _fold(self, w: dict[str, np.ndarray]) -> None:
        """Weights as the step uses them: biases as a last row, LN gains/biases folded into
        the next product, GELU's 1/sqrt 2 folded around it, sigmoid halving in the gates."""
        d, hid, p_dim, nd2 = self.d, self.hid, int(w["w_head"].shape[1]), 2 * self.nd
        self.p_dim = p_dim
        f64 = np.float64

        def aug(wm: np.ndarray, b: np.ndarray) -> np.ndarray:
            return _f32(np.concatenate([wm.astype(f64), b.astype(f64)[None]], axis=0))

        def ln_fold(g: np.ndarray, b: np.ndarray, wm: np.ndarray, bias: np.ndarray) -> np.ndarray:
            g64, b64, w64 = g.astype(f64), b.astype(f64), wm.astype(f64)
            return aug(g64[:, None] * w64, b64 @ w64 + bias.astype(f64))

        self._w_in = aug(w["w_in"], w["b_in"])  # [F + 1, d]
        self._qkv, self._out, self._ffn0, self._ffn2, self._bias_tab, self._warm_tab = [], [], [], [], [], []
        r = self.k + 1
        ages = (np.arange(r)[:, None] - np.arange(r)[None, :]) % r  # [p, j]: age of slot j when the newest is p
        for i in range(self.layers):
            self._qkv.append(ln_fold(w[f"ln1_g{i}"], w[f"ln1_b{i}"], w[f"qkv{i}"], w[f"qkv_b{i}"]))  # [d + 1, 3d]
            self._out.append(aug(w[f"out{i}"], w[f"out_b{i}"]))  # [d + 1, d]
            s = 1.0 / _SQRT2  # the first product gives x / sqrt 2; GELU's sqrt 2 goes into the second
            f0 = ln_fold(w[f"ln2_g{i}"], w[f"ln2_b{i}"], w[f"ffn0_{i}"], w[f"ffn0_b{i}"])
            self._ffn0.append(_f32(f0.astype(f64) * s))
            f2 = w[f"ffn2_{i}"].astype(f64) * _SQRT2
            self._ffn2.append(aug(f2, w[f"ffn2_b{i}"]))  # [ffn + 1, d]
            rb = w[f"rel_bias{i}"].astype(F32)  # [h, k + 1] by age
            if rb.shape != (self.heads, r):
                raise ValueError(f"rel_bias{i} of shape {rb.shape}")
            tab = np.ascontiguousarray(rb[:, ages].transpose(1, 2, 0))  # [p, j, h]
            self._bias_tab.append(tab)
            warm = tab.copy()  # frames 0..R-1 after a reset: slots above p are empty
            warm[np.arange(r)[:, None] < np.arange(r)[None, :]] = NEG
            self._warm_tab.append(warm)
        # decoder layer 0: rows [prev P | encoder d | latent 2N | style S | energy | 1 | h0 H]
        ws = w["w_static"].astype(f64)  # rows [encoder d, style_dim, energy, latent 2N]
        sd = w["style_table"].shape[1]
        w_enc, w_sty, w_en, w_lat = ws[:d], ws[d: d + sd], ws[d + sd: d + sd + 1], ws[d + sd + 1:]
        if w_lat.shape[0] != nd2:
            raise ValueError(f"w_static has {ws.shape[0]} rows")
        w_rec0 = w["w_rec0"].astype(f64)  # [P + H, 4H]
        g, b = w["lnf_g"].astype(f64), w["lnf_b"].astype(f64)
        bias0 = w["b_gates0"].astype(f64) + b @ w_enc
        w0 = np.concatenate([w_rec0[:p_dim], g[:, None] * w_enc, w_lat, w["style_table"].astype(f64) @ w_sty, w_en,
                             bias0[None], w_rec0[p_dim:]], axis=0)
        w1 = np.concatenate([w["w_rec1"].astype(f64), w["b_gates1"].astype(f64)[None]], axis=0)
        half = np.ones(4 * hid)
        half[: 3 * hid] = 0.5
        self._w0, self._w1 = _f32(w0 * half), _f32(w1 * half)
        self._head = aug(w["w_head"], w["b_head"])  # [H + 1, P]
        self._pm, self._ps = _f32(w["pose_mean"]), _f32(w["pose_std"])
        a = math.exp(-1.0 / max(self.tau, 1e-3))
        ones, zeros = np.ones(self.nd), np.zeros(self.nd)
        c1 = np.concatenate([ones, np.full(self.nd, a)])
        c2 = np.concatenate([zeros, np.full(self.nd, math.sqrt(1.0 - a * a))])
        m = np.concatenate([ones, zeros])
        self._lat_keep = (_f32(c1), _f32(c1 - m))  # (held, redraw)
        self._lat_new = (_f32(c2), _f32(c2 + m))
        self._n_style = int(w["style_table"].shape[0])

    def _alloc(self) -> None:
        d, h, hid, p_dim, r = self.d, self.heads, self.hid, self.p_dim, self.k + 1
        dh = d // h
        nd2 = 2 * self.nd
        it = F32().itemsize
        self._feat = np.zeros(self.feature_dim + 1, F32)
        self._feat[-1] = 1.0
        self._x = np.zeros(d, F32)  # residual stream
        self._xn = np.zeros(d + 1, F32)  # centred, scaled; last = 1 (the bias row)
        self._xn[-1] = 1.0
        self._xc = self._xn[:d]
        self._ones = np.ones(d, F32)
        self._tmp = np.zeros(d, F32)
        self._qkv_buf = np.zeros(3 * d, F32)
        self._q = self._qkv_buf[:d].reshape(h, dh)
        self._k_new, self._v_new = self._qkv_buf[d: 2 * d], self._qkv_buf[2 * d:]
        self._ring_k = [np.zeros((r, d), F32) for _ in range(self.layers)]  # contiguous: BLAS reads them in place
        self._ring_v = [np.zeros((r, d), F32) for _ in range(self.layers)]
        self._ring = self._ring_k + self._ring_v
        self._k_rows = [[ring[j] for j in range(r)] for ring in self._ring_k]
        self._v_rows = [[ring[j] for j in range(r)] for ring in self._ring_v]
        self._qbd = np.zeros((d, h), F32)  # query on the diagonal blocks
        self._qbd_diag = as_strided(self._qbd, shape=(h, dh), strides=((dh * h + 1) * it, h * it))
        self._sc = np.zeros((r, h), F32)
        self._sc_t = self._sc.T
        self._mx = np.zeros(h, F32)
        self._sum = np.zeros((h, 1), F32)
        self._sum_row = self._sum.reshape(h)
        self._yfull = np.zeros((h, d), F32)
        self._ydiag = as_strided(self._yfull, shape=(h, dh), strides=((d + dh) * it, it))
        self._y = np.zeros(d + 1, F32)
        self._y[-1] = 1.0
        self._y_h = self._y[:d].reshape(h, dh)
        self._hf = np.zeros(self.ffn + 1, F32)
        self._hf[-1] = 1.0
        self._hv = self._hf[: self.ffn]
        self._ga, self._gt, self._gy, self._gv = (np.zeros(self.ffn, F32) for _ in range(4))
        self._gidx = np.zeros(self.ffn, np.intp)
        grid = np.linspace(0.0, GELU_RANGE, GELU_TABLE + 1)
        f = -grid * 0.5 * np.array([math.erfc(v) for v in grid])
        self._gelu_tab = _f32(f[:-1])
        self._gelu_slope = _f32(np.diff(f))
        # decoder vector [prev P | enc d | latent 2N | style S | energy | 1 | h0 H | h1 H | 1]
        o_enc = p_dim
        o_lat = o_enc + d
        o_sty = o_lat + nd2
        o_en = o_sty + self._n_style
        o_h0 = o_en + 2
        o_h1 = o_h0 + hid
        self._dv = np.zeros(o_h1 + hid + 1, F32)
        dv = self._dv
        dv[o_en + 1] = 1.0
        dv[-1] = 1.0
        self._prev, self._enc, self._lat = dv[:p_dim], dv[o_enc:o_lat], dv[o_lat:o_sty]
        self._sty, self._o_en = dv[o_sty:o_en], o_en
        self._in0, self._in1, self._in_head = dv[: o_h0 + hid], dv[o_h0:], dv[o_h1:]
        self._h = (dv[o_h0:o_h1], dv[o_h1: o_h1 + hid])
        self._c = (np.zeros(hid, F32), np.zeros(hid, F32))
        self._g = np.zeros(4 * hid, F32)
        g = self._g
        self._sig, self._gi, self._gf, self._go, self._gc = g[: 3 * hid], g[:hid], g[hid: 2 * hid], g[2 * hid: 3 * hid], g[3 * hid:]
        self._ctmp = np.zeros(hid, F32)
        self._noise = np.zeros(nd2, F32)
        self._ntmp = np.zeros(nd2, F32)
        self._z = np.zeros(nd2, F32)
        self._vec = self._prev
        self._alpha = 1.0 / max(self.ema_tau, 1.0)
        self._ema = np.zeros(p_dim, F32)
        self._dif = np.zeros(p_dim, F32)
        self._joints = self._vec[: NUM_JOINTS * 3].reshape(NUM_JOINTS, 3)
        self._root_vals = self._vec[NUM_JOINTS * 3:]
        self._root = np.zeros(3, F32)

    # -- state ---------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None) -> None:
        """Fresh recurrent state (seeded like the ONNX runtime's: the same draws in the same
        order), the initial pose, the root back at the origin."""
        if seed is not None or not hasattr(self, "_rng"):
            self._rng = np.random.default_rng(seed)
        st: dict[str, np.ndarray] = {}
        for entry in self.meta["state"]:
            shape = tuple(int(x) for x in entry["shape"])
            if entry.get("init") == "normal":
                arr = self._rng.standard_normal(shape, dtype=F32)
                arr *= float(entry.get("std", 1.0))
            else:
                arr = np.zeros(shape, F32)
            st[entry["name"]] = arr
        for ring in self._ring:
            ring[...] = 0.0
        self._h[0][...] = st["h0"].reshape(-1)
        self._h[1][...] = st["h1"].reshape(-1)
        self._c[0][...] = st["c0"].reshape(-1)
        self._c[1][...] = st["c1"].reshape(-1)
        self._z[...] = st["z"].reshape(-1)
        self._phase = int(round(float(st["phase"].reshape(-1)[0])))
        self._ema[...] = st["ema"].reshape(-1) * self._ps + self._pm
        self._prev[...] = self._init_pose
        self._root[:] = (0.0, STANDING_ROOT_HEIGHT, 0.0)
        self.frames = 0

    @property
    def root(self) -> np.ndarray:
        """The integrated root position [shape=(3,)] (a copy)."""
        return self._root.copy()

    @property
    def lookahead_ms(self) -> float:
        return self.lookahead * 1000.0 / self.fps

    # -- one frame -----------------------------------------------------------------------
    def _norm(self) -> None:
        """Layer norm of the residual stream without gain/bias (folded downstream) into
        ``self._xc`` (whose trailing 1 picks the bias row)."""
        x, xc = self._x, self._xc
        n = x.shape[0]
        mu = float(np.dot(x, self._ones)) / n
        np.subtract(x, mu, out=xc)
        var = float(np.dot(xc, xc)) / n
        xc *= 1.0 / math.sqrt(var + 1e-5)

    def _gelu(self) -> None:
        """GELU of ``sqrt 2 * u`` divided by sqrt 2, in place on u = ``self._hv``:
        relu(u) + f(|u|) with f(a) = -a erfc(a) / 2 read from a table by linear
        interpolation (|error| < 1e-7; f(5) ~ -4e-12, so |u| > 5 reads the end)."""
        u, a, pos, fr, v = self._hv, self._ga, self._gt, self._gy, self._gv
        idx = self._gidx
        np.abs(u, out=a)
        np.multiply(a, GELU_TABLE / GELU_RANGE, out=pos)
        np.minimum(pos, GELU_TABLE - 0.5, out=pos)
        np.floor(pos, out=fr)
        np.copyto(idx, fr, casting="unsafe")
        np.subtract(pos, fr, out=fr)
        np.take(self._gelu_slope, idx, out=v, mode="clip")
        fr *= v
        np.take(self._gelu_tab, idx, out=v, mode="clip")
        v += fr
        np.maximum(u, 0.0, out=u)
        u += v

    def _encode(self, features: np.ndarray) -> None:
        """One feature frame through the encoder; the (gain-less) final norm lands in the
        decoder vector."""
        self._feat[:-1] = features
        x = self._x
        np.dot(self._feat, self._w_in, out=x)
        p = self.frames % (self.k + 1)
        warm = self.frames <= self.k
        dot, xn = np.dot, self._xn
        for i in range(self.layers):
            self._norm()
            dot(xn, self._qkv[i], out=self._qkv_buf)
            np.copyto(self._k_rows[i][p], self._k_new)
            np.copyto(self._v_rows[i][p], self._v_new)
            np.copyto(self._qbd_diag, self._q)
            sc = self._sc
            dot(self._ring_k[i], self._qbd, out=sc)
            sc += (self._warm_tab if warm else self._bias_tab)[i][p]
            np.max(sc, axis=0, out=self._mx)
            sc -= self._mx
            np.exp(sc, out=sc)
            np.sum(sc, axis=0, out=self._sum_row)
            dot(self._sc_t, self._ring_v[i], out=self._yfull)
            np.divide(self._ydiag, self._sum, out=self._y_h)
            dot(self._y, self._out[i], out=self._tmp)
            x += self._tmp
            self._norm()
            dot(xn, self._ffn0[i], out=self._hv)
            self._gelu()
            dot(self._hf, self._ffn2[i], out=self._tmp)
            x += self._tmp
        self._norm()
        np.copyto(self._enc, self._xc)

    def _decode(self, style: np.ndarray, controls: np.ndarray) -> None:
        energy, var = float(controls[0]), float(controls[1])
        redraw = 1 if self._phase == 0 else 0
        self._rng.standard_normal(out=self._noise, dtype=F32)
        z = self._z
        z *= self._lat_keep[redraw]
        np.multiply(self._noise, self._lat_new[redraw], out=self._ntmp)
        z += self._ntmp
        self._phase = (self._phase + 1) % self.phrase
        scale = 2.0 * var - 1.2 * max(var - 0.5, 0.0)
        np.multiply(z, scale, out=self._lat)
        np.copyto(self._sty, style)
        self._dv[self._o_en] = energy
        g, gi, gf, go, gc, sig, tmp = self._g, self._gi, self._gf, self._go, self._gc, self._sig, self._ctmp
        for layer, (src, wl) in enumerate(((self._in0, self._w0), (self._in1, self._w1))):
            np.dot(src, wl, out=g)
            np.tanh(g, out=g)
            sig *= 0.5
            sig += 0.5
            c = self._c[layer]
            c *= gf
            np.multiply(gi, gc, out=tmp)
            c += tmp
            hv = self._h[layer]
            np.tanh(c, out=hv)
            hv *= go
        vec = self._prev  # the pose fed back next frame
        np.dot(self._in_head, self._head, out=vec)
        if self.energy_gain > 0:  # ema + gain (pose - ema); then the ema follows the emitted pose
            gain = max(energy, 0.05) ** self.energy_gain
            ema, dif = self._ema, self._dif
            np.subtract(vec, ema, out=dif)
            dif *= gain
            np.add(ema, dif, out=vec)
            dif *= self._alpha  # the emitted pose minus the ema is gain (pose - ema)
            ema += dif

    def _place(self, out: np.ndarray) -> np.ndarray:
        """Root values -> root trajectory (float32 sums like the ONNX runtime's) and the
        absolute joints in ``out`` [17, 3]."""
        advance_root(self._root, self._root_vals, self.root_mode)
        np.add(self._joints, self._root, out=out)
        return out

    def step(
        self,
        features: np.ndarray,
        *,
        style: np.ndarray | Sequence[float] | None = None,
        controls: np.ndarray | Sequence[float] | None = None,
        out: np.ndarray | None = None,
    ) -> np.ndarray:
        """One frame: raw features [shape=(F,)] -> absolute pose [shape=(17, 3)] float32
        (into ``out`` if given). style [shape=(S,)], controls [shape=(C,)] as
        :meth:`live.runtime.Generator.step`."""
        t0 = time.perf_counter()
        sty = self.default_style if style is None else style
        ctl = self.default_controls if controls is None else controls
        self._encode(features)
        self._decode(sty, ctl)  # type: ignore[arg-type]
        self.frames += 1
        if out is None:
            out = np.empty((NUM_JOINTS, 3), F32)
        self._place(out)
        self.last_step_ms = (time.perf_counter() - t0) * 1e3
        return out

    def step_block(self, features: np.ndarray, *, style: Any = None, controls: Any = None) -> np.ndarray:
        """``block`` (= 1) frames: features [shape=(1, F)] -> poses [shape=(1, 17, 3)]."""
        return self.step_frames(features, style=style, controls=controls)

    def step_frames(self, features: np.ndarray, *, style: Any = None, controls: Any = None,
                    chunk: int = 0) -> np.ndarray:
        """n frames one by one: features [shape=(n, F)] -> poses [shape=(n, 17, 3)]."""
        del chunk
        feats = np.asarray(features, F32)
        out = np.empty((len(feats), NUM_JOINTS, 3), F32)
        for i in range(len(feats)):
            self.step(feats[i], style=style, controls=controls, out=out[i])
        return out

    def describe(self) -> str:
        """One line for logs."""
        return f"{self.path.name} in numpy: {modelmeta.describe(self.meta)}"
