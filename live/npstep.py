"""The live step model in numpy: one frame per call, the same numbers as the ONNX step.

:class:`NumpyStep` runs the exported DanceNet frame by frame from the weights file that
``dancemuse export`` writes beside every block-1 model (``<model>_offline.npz``,
:mod:`export.offline`; used only beside the exact ``.onnx`` it was written with). It has
the interface of :class:`live.runtime.Generator` (``step``, ``reset``, ``fps``, ...) and
a test holds its poses within 1e-4 m of the ONNX step over minutes of a song. Why: the
ONNX step is ~140 small kernels a frame; here a frame is ~80 numpy calls on
preallocated buffers, most of them a few hundred floats, plus 14 BLAS products:
1.2-1.6x less CPU than the bound ONNX step (``python bench/step.py``, part 0b; the two
decoder products, 1.2 MB of weights each, read from L3 every frame, are most of what
is left).

How it is laid out (all buffers allocated once; a step allocates no array):

- q, k and v of each encoder layer in one ring ``[R, 3d + 1]`` (R = window + 1 slots,
  frame ``a`` in slot ``a % R``): the qkv product writes its output straight into the
  slot; the last column is a constant 1;
- per head scores in one product: the query is written on the diagonal blocks of a
  ``[heads, d]`` matrix, so ``Q @ ring_k.T`` gives ``[heads, R]``; the relative-offset
  bias (and, for the first R frames, the not-yet-filled slots' mask) is a table row
  picked by the ring position; the values product ``att @ ring_v`` (v and the column
  of ones) keeps its diagonal blocks (a strided view) divided by its last column, the
  softmax sums;
- the residual stream stays centred: every product that adds to it has centred columns
  (its outputs minus their mean), so a layer norm is a dot and a scale; the norms' gains
  and biases and every bias are folded into the next product's weights (a constant 1 at
  the end of each input vector picks the bias row), whose input rows are centred too;
- GELU linear between the integers of its scaled input (|error| < 1e-7): the line
  ``C + S u`` of u's unit segment from a complex64 table (one take, a product and a sum),
  its input scale folded into the weights around it;
- the decoder's inputs sit in one vector ``[prev pose | encoder | latent | style |
  energy | 1 | h0 | h1 | 1 | ema]``: layer 0 reads ``[prev .. h0]``, layer 1 ``[h0 h1 1]``,
  the head ``[h1 1 ema]``, each one BLAS product (the head's rows carry the energy gain,
  rewritten when the energy control changes, so it gives ema + gain (pose - ema)); LSTM sigmoids as ``0.5 + 0.5 tanh(x / 2)``
  with the halving folded into the gate columns, gates ordered o, i, f, g and followed by
  the cell, so that ``[i f] * [g c]`` is one product;
- noise comes from the same seeded generator in the same order as the ONNX runtime's.

No torch here.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

from live.control import parse_style
from live.offline import NetDims, read_weights
from live.phrase import REFRESH_FRAMES, REFRESH_KEEP, draw_memory, soften
from live.pick import DELAY, PRUNE_AT, LatentPick
from live.runtime import ROOT_MODES, advance_root
from model import modelmeta
from model.errors import ModelError
from model.skeleton import NUM_JOINTS, STANDING_ROOT_HEIGHT

CONTROL_DEFAULTS = {"energy": 1.0, "variation": 0.5}
NEG = -1e9
"""The step graph's additive mask value (exp underflows to exactly 0)."""
GELU_SCALE = 2048.0
GELU_RANGE = 6.0
"""GELU's table: G(n) = relu(n) - |n| erfc(|n| / GELU_SCALE) / 2 (GELU_SCALE / sqrt 2 times
GELU of n sqrt 2 / GELU_SCALE) at the integers |n| <= N = GELU_SCALE GELU_RANGE (erfc(6) ~
2e-17), as the line through G(n) and G(n + 1) per segment; the step reads it at
GELU_SCALE / sqrt 2 times the pre-activation (the scale folded into the weights around
GELU), so the index is the integer part of that plus N."""
F32 = np.float32
HUGE_PAGE = 2 << 20
"""Bytes of a transparent huge page (x86-64, arm64 with 4 KiB pages)."""
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


def _huge_page_floats(n: int) -> np.ndarray:
    """n zero float32 in private anonymous memory the kernel is asked to back with
    transparent huge pages (madvise; Linux), else an ordinary numpy array."""
    import mmap

    flags = getattr(mmap, "MAP_PRIVATE", 0) | getattr(mmap, "MAP_ANONYMOUS", 0)
    if not flags or not hasattr(mmap, "MADV_HUGEPAGE"):
        return np.zeros(n, F32)
    try:
        mm = mmap.mmap(-1, 4 * n, flags=flags)
        mm.madvise(mmap.MADV_HUGEPAGE)
    except (OSError, ValueError):
        return np.zeros(n, F32)
    return np.frombuffer(mm, F32)  # the array keeps the mapping alive


def _f32(a: Any) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float32)


def _centred(w: np.ndarray) -> np.ndarray:
    """[rows | bias row] with the rows (not the bias) minus their mean per column: a product
    that reads a centred vector gives the same, and a vector off-centre by c gives the
    same too (its c times the rows' column sums is 0)."""
    out = w.copy()
    out[:-1] -= out[:-1].mean(axis=0)
    return out


def _centred_out(w: np.ndarray) -> np.ndarray:
    """``w`` [n, d] minus the mean of its d columns (per row): the product gives its d
    outputs minus their mean, so a stream that only such products add to stays centred."""
    return w - w.mean(axis=1, keepdims=True)


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
        self.pick = LatentPick(1, nd=self.nd, fps=self.fps, seed=seed)
        """The latent pick (live/pick.py; ``live.pick``, set by the engine with :meth:`set_pick`)."""
        one_blas_thread()
        self.last_step_ms = 0.0
        self.reset(seed=seed)
        if warmup:  # first touches of the weights and buffers; not on the first live frame
            self.step(np.zeros(self.feature_dim, F32))
            self.reset(seed=seed)

    # -- set-up --------------------------------------------------------------------------
    def _fold(self, w: dict[str, np.ndarray]) -> None:
        """Weights as the step uses them (folded in float64, stored float32 contiguous):
        biases as a last row; LN gains/biases folded into the next product and its input
        rows centred (column sums 0, so what is left of the stream's mean by rounding adds
        nothing); products that add to the residual stream get centred columns (the stream
        stays centred); GELU's input scale (GELU_SCALE / sqrt 2)
        and its inverse folded around it; sigmoid halving in the gates, gate columns in
        the order o, i, f, g."""
        d, hid, p_dim = self.d, self.hid, int(w["w_head"].shape[1])
        nd2 = 2 * self.nd
        self.p_dim = p_dim
        f64 = np.float64

        def aug(wm: np.ndarray, b: np.ndarray) -> np.ndarray:
            return np.concatenate([wm.astype(f64), b.astype(f64)[None]], axis=0)

        def ln_fold(g: np.ndarray, b: np.ndarray, wm: np.ndarray, bias: np.ndarray) -> np.ndarray:
            g64, b64, w64 = g.astype(f64), b.astype(f64), wm.astype(f64)
            return _centred(aug(g64[:, None] * w64, b64 @ w64 + bias.astype(f64)))

        self._w_in = _f32(_centred_out(aug(w["w_in"], w["b_in"])))  # [F + 1, d]
        self._qkv, self._out, self._ffn0, self._ffn2, self._bias_tab, self._warm_tab = [], [], [], [], [], []
        r = self.k + 1
        ages = (np.arange(r)[:, None] - np.arange(r)[None, :]) % r  # [p, j]: age of slot j when the newest is p
        for i in range(self.layers):
            self._qkv.append(_f32(ln_fold(w[f"ln1_g{i}"], w[f"ln1_b{i}"], w[f"qkv{i}"], w[f"qkv_b{i}"])))  # [d + 1, 3d]
            self._out.append(_f32(_centred_out(aug(w[f"out{i}"], w[f"out_b{i}"]))))  # [d + 1, d]
            f0 = ln_fold(w[f"ln2_g{i}"], w[f"ln2_b{i}"], w[f"ffn0_{i}"], w[f"ffn0_b{i}"])
            self._ffn0.append(_f32(f0 * (GELU_SCALE / _SQRT2)))  # [d + 1, ffn]
            f2 = w[f"ffn2_{i}"].astype(f64) * (_SQRT2 / GELU_SCALE)
            self._ffn2.append(_f32(_centred_out(aug(f2, w[f"ffn2_b{i}"]))))  # [ffn + 1, d]
            rb = w[f"rel_bias{i}"].astype(F32)  # [h, k + 1] by age
            if rb.shape != (self.heads, r):
                raise ValueError(f"rel_bias{i} of shape {rb.shape}")
            tab = np.ascontiguousarray(rb[:, ages].transpose(1, 0, 2))  # [p, h, j]
            self._bias_tab.append(tab)
            warm = tab.copy()  # frames 0..R-1 after a reset: slots above p are empty
            empty = np.arange(r)[:, None] < np.arange(r)[None, :]  # [p, j]
            warm[np.broadcast_to(empty[:, None, :], warm.shape)] = NEG
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
        genc = g[:, None] * w_enc
        genc -= genc.mean(axis=0)
        w0 = np.concatenate([w_rec0[:p_dim], genc, w_lat, w["style_table"].astype(f64) @ w_sty, w_en,
                             bias0[None], w_rec0[p_dim:]], axis=0)
        w1 = np.concatenate([w["w_rec1"].astype(f64), w["b_gates1"].astype(f64)[None]], axis=0)
        half = np.ones(4 * hid)
        half[: 3 * hid] = 0.5
        order = np.r_[2 * hid: 3 * hid, 0: 2 * hid, 3 * hid: 4 * hid]  # i f o g -> o i f g
        self._w0, self._w1 = _f32((w0 * half)[:, order]), _f32((w1 * half)[:, order])
        self._head_aug = aug(w["w_head"], w["b_head"])  # [H + 1, P] float64
        if self.energy_gain > 0:  # [h1 | 1 | ema] -> ema + gain (pose - ema): _set_gain writes it
            self._head = np.zeros((hid + 1 + p_dim, p_dim), F32)
        else:
            self._head = _f32(self._head_aug)  # [H + 1, P]
        self._gain_energy: float | None = None
        self._pm, self._ps = _f32(w["pose_mean"]), _f32(w["pose_std"])
        a = math.exp(-1.0 / max(self.tau, 1e-3))
        ones, zeros = np.ones(self.nd), np.zeros(self.nd)
        c1 = np.concatenate([ones, np.full(self.nd, a)])
        c2 = np.concatenate([zeros, np.full(self.nd, math.sqrt(1.0 - a * a))])
        m = np.concatenate([ones, zeros])
        # rows (z's factor, the fresh noise's factor): held, redraw
        self._lat_mix = (_f32(np.stack([c1, c2])), _f32(np.stack([c1 - m, c2 + m])))
        self._n_style = int(w["style_table"].shape[0])

    def _pack_weights(self) -> None:
        """All products' weights, in the order a frame reads them, moved into one buffer
        aligned to 2 MiB and at least 4 MiB long (numpy asks the kernel for transparent huge
        pages there): the ~3.6 MB a frame streams from L3 or memory then needs two TLB
        entries instead of ~900 (where the kernel gives no huge pages, the same numbers in
        ordinary pages)."""
        mats = [self._w_in]
        for i in range(self.layers):
            mats += [self._qkv[i], self._out[i], self._ffn0[i], self._ffn2[i]]
        mats += [self._w0, self._w1, self._head]
        align = 16  # floats (64 bytes) between matrices
        sizes = [-(-m.size // align) * align for m in mats]
        huge = HUGE_PAGE // 4
        arena = _huge_page_floats(sum(sizes) + huge)
        at = (-arena.ctypes.data // 4) % huge  # first float on a 2 MiB boundary
        moved: list[np.ndarray] = []
        for m, n in zip(mats, sizes):
            v = arena[at: at + m.size].reshape(m.shape)
            v[...] = m
            moved.append(v)
            at += n
        self._arena = arena
        self._w_in = moved[0]
        for i in range(self.layers):
            self._qkv[i], self._out[i], self._ffn0[i], self._ffn2[i] = moved[1 + 4 * i: 5 + 4 * i]
        self._w0, self._w1, self._head = moved[-3:]

    def _alloc(self) -> None:
        self._pack_weights()
        d, h, hid, p_dim, r = self.d, self.heads, self.hid, self.p_dim, self.k + 1
        dh = d // h
        nd2 = 2 * self.nd
        it = F32().itemsize
        self._feat = np.zeros(self.feature_dim + 1, F32)
        self._feat[-1] = 1.0
        self._x = np.zeros(d, F32)  # the residual stream, centred (mean 0 up to rounding)
        self._xn = np.zeros(d + 1, F32)  # scaled to unit variance; last = 1 (the bias row)
        self._xn[-1] = 1.0
        self._xc = self._xn[:d]
        self._tmp = np.zeros(d, F32)  # a product added to the stream
        # per layer one ring [R, 3d + 1] of q k v rows (frame a in slot a % R; the qkv
        # product writes its row) and a constant 1 that gives the softmax sums as the last
        # column of the values product
        self._ring = [np.zeros((r, 3 * d + 1), F32) for _ in range(self.layers)]
        for ring in self._ring:
            ring[:, -1] = 1.0
        self._ring_k = [ring[:, d: 2 * d] for ring in self._ring]
        self._ring_v = [ring[:, 2 * d:] for ring in self._ring]  # [R, d + 1]
        self._qkv_rows = [[ring[j, : 3 * d] for j in range(r)] for ring in self._ring]
        self._q_rows = [[ring[j, :d].reshape(h, dh) for j in range(r)] for ring in self._ring]
        self._qbd = np.zeros((h, d), F32)  # head j's query in row j, columns of head j
        self._qbd_diag = as_strided(self._qbd, shape=(h, dh), strides=((d + dh) * it, it))
        self._ring_kt = [rk.T for rk in self._ring_k]  # [d, R]
        self._sc = np.zeros((h, r), F32)  # scores per head and ring slot
        self._mx = np.zeros((h, 1), F32)
        self._mx_row = self._mx.reshape(h)
        self._yfull = np.zeros((h, d + 1), F32)
        self._ydiag = as_strided(self._yfull, shape=(h, dh), strides=((d + 1 + dh) * it, it))
        self._ysum = self._yfull[:, d:]  # [h, 1] the softmax sums
        self._y = np.zeros(d + 1, F32)
        self._y[-1] = 1.0
        self._y_h = self._y[:d].reshape(h, dh)
        self._hf = np.zeros(self.ffn + 1, F32)
        self._hf[-1] = 1.0
        self._hv = self._hf[: self.ffn]
        self._ga = np.zeros(self.ffn, F32)
        self._gidx = np.zeros(self.ffn, np.intp)
        # G(u) = relu(u) + F(|u|) at the integers -N..N, per unit segment [n, n + 1) the line
        # C + S u through its ends, as complex64 C + i S (index n + N); beyond the ends the
        # lines 0 and u (|F| < 1e-13 there), which the index clipping picks
        n = int(GELU_SCALE * GELU_RANGE)
        grid = np.arange(-n, n + 2, dtype=np.float64)
        g = np.maximum(grid, 0.0) - np.abs(grid) * 0.5 * np.array([math.erfc(abs(v) / GELU_SCALE) for v in grid])
        slope = np.diff(g)
        icpt = g[:-1] - grid[:-1] * slope
        slope[0] = icpt[0] = 0.0
        slope[-1], icpt[-1] = 1.0, 0.0
        self._gelu_n = float(n)
        self._gelu_n0 = np.array(n, F32)
        self._gelu_c = np.zeros(2 * n + 1, np.complex64)  # [2N + 1]
        self._gelu_c.real, self._gelu_c.imag = icpt, slope
        self._grow = np.zeros(self.ffn, np.complex64)
        self._grow_re, self._grow_im = self._grow.real, self._grow.imag
        # decoder vector [prev P | enc d | latent 2N | style S | energy | 1 | h0 H | h1 H | 1
        # | ema P (with an energy gain)]
        o_enc = p_dim
        o_lat = o_enc + d
        o_sty = o_lat + nd2
        o_en = o_sty + self._n_style
        o_h0 = o_en + 2
        o_h1 = o_h0 + hid
        o_ema = o_h1 + hid + 1
        self._offs = (o_lat, o_sty, o_h0, o_h1, o_ema)
        self._dv = np.zeros(o_ema + (p_dim if self.energy_gain > 0 else 0), F32)
        dv = self._dv
        dv[o_en + 1] = 1.0
        dv[o_ema - 1] = 1.0
        self._prev, self._enc, self._lat = dv[:p_dim], dv[o_enc:o_lat], dv[o_lat:o_sty]
        self._sty, self._o_en = dv[o_sty:o_en], o_en
        self._in0, self._in1, self._in_head = dv[: o_h0 + hid], dv[o_h0:o_ema], dv[o_h1:]
        self._h = (dv[o_h0:o_h1], dv[o_h1: o_h1 + hid])
        # per LSTM layer [o | i | f | g | c]: the gates (tanh, then sigmoid on o i f), then
        # the cell, so that [i f] * [g c] is one product whose halves sum to the new cell
        self._gates = (np.zeros(5 * hid, F32), np.zeros(5 * hid, F32))
        self._c = (self._gates[0][4 * hid:], self._gates[1][4 * hid:])
        self._pair = np.zeros(2 * hid, F32)
        pair = (self._pair, self._pair[:hid], self._pair[hid:])
        self._lstm = tuple(
            (src, wl, gb[: 4 * hid], gb[: 3 * hid], gb[:hid], gb[hid: 3 * hid], gb[3 * hid:], gb[4 * hid:], hv, *pair)
            for src, wl, gb, hv in ((self._in0, self._w0, self._gates[0], self._h[0]),
                                    (self._in1, self._w1, self._gates[1], self._h[1])))
        self._fresh = np.zeros((2, hid), F32)  # a phrase refresh's new h per layer (live/phrase.py)
        self._fresh_of = {"h0": self._fresh[0], "h1": self._fresh[1]}
        self._soft = 0
        self._keep = REFRESH_KEEP
        self._zn = np.zeros((2, nd2), F32)  # [z; fresh noise]
        self._z, self._noise = self._zn[0], self._zn[1]
        self._zn_tmp = np.zeros((2, nd2), F32)
        self._zt0, self._zt1 = self._zn_tmp[0], self._zn_tmp[1]
        self._vec = self._prev
        self._alpha = 1.0 / max(self.ema_tau, 1.0)
        # scalars of the per-frame ufunc calls as 0-d float32 arrays (see _encode)
        self._alpha0 = np.array(self._alpha, F32)
        self._half0 = np.array(0.5, F32)
        self._s0 = np.array(0.0, F32)
        self._scale0 = np.array(1.0, F32)
        self._var: float | None = None
        self._ema = dv[o_ema:] if self.energy_gain > 0 else np.zeros(p_dim, F32)
        self._dif = np.zeros(p_dim, F32)
        self._joints = self._vec[: NUM_JOINTS * 3].reshape(NUM_JOINTS, 3)
        self._root_vals = self._vec[NUM_JOINTS * 3:]
        self._root = np.zeros(3, F32)
        self._root_xz = self._root[0::2]
        # the root values' (dx, dz) as a view, and where the height is, for the step modes
        rv = self._root_vals
        modes: dict[str, tuple[np.ndarray | None, int]] = {"dx_y_dz": (rv[0::2], 1), "dx_dz_y": (rv[0:2], 2)}
        self._root_steps, self._root_y = modes.get(self.root_mode, (None, 0))
        self._layer_bufs = tuple(
            (self._qkv[i], self._qkv_rows[i], self._q_rows[i], self._ring_kt[i], self._ring_v[i],
             list(self._bias_tab[i]), list(self._warm_tab[i]), self._out[i], self._ffn0[i], self._ffn2[i])
            for i in range(self.layers))

    # -- state ---------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None) -> None:
        """Fresh recurrent state (seeded like the ONNX runtime's: the same draws in the same
        order), the initial pose, the root back at the origin."""
        if seed is not None or not hasattr(self, "_rng"):
            self._rng = np.random.default_rng(seed)
            self._seed = seed
        if hasattr(self, "pick"):
            self.pick.reset(seed=self._seed)
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
            ring[:, :-1] = 0.0  # the last column stays 1
        self._h[0][...] = st["h0"].reshape(-1)
        self._h[1][...] = st["h1"].reshape(-1)
        self._c[0][...] = st["c0"].reshape(-1)
        self._c[1][...] = st["c1"].reshape(-1)
        self._z[...] = st["z"].reshape(-1)
        self._phase = int(round(float(st["phase"].reshape(-1)[0])))
        self._ema[...] = st["ema"].reshape(-1) * self._ps + self._pm
        self._prev[...] = self._init_pose
        self._root[:] = (0.0, STANDING_ROOT_HEIGHT, 0.0)
        self._soft = 0
        self._keep = REFRESH_KEEP
        self.frames = 0

    def refresh(self, keep: float = REFRESH_KEEP) -> None:
        """A new phrase: a new LSTM memory drawn as at a reset (h ~ N(0, std) in the state's
        order, the other runtimes' draws) and pulled to over the next REFRESH_FRAMES steps
        (live/phrase.py); the pose, root, latent and encoder carry on."""
        draw_memory(self.meta["state"], self._rng, self._fresh_of)
        self._soft = REFRESH_FRAMES
        self._keep = float(keep)

    @property
    def root(self) -> np.ndarray:
        """The integrated root position [shape=(3,)] (a copy)."""
        return self._root.copy()

    @property
    def lookahead_ms(self) -> float:
        return self.lookahead * 1000.0 / self.fps

    # -- one frame -----------------------------------------------------------------------
    def _gelu(self) -> None:
        """GELU in place on u = ``self._hv`` (which holds GELU_SCALE / sqrt 2 times the
        pre-activation; the result is GELU_SCALE / sqrt 2 times GELU): G(u) = relu(u) + F(|u|)
        with F(a) = -a erfc(a / GELU_SCALE) / 2, linear between the integers (|error| < 1e-7
        GELU_SCALE): the line C + S u of u's unit segment, read from a complex64 table at the
        integer part of u + N (the cast truncates; the take clips, so below -N the line 0 and
        above N the line u, no clamp needed). Five calls."""
        u, a, idx, row = self._hv, self._ga, self._gidx, self._grow
        np.add(u, self._gelu_n0, a)  # N as a 0-d float32 array (no Python-scalar discovery)
        idx[...] = a  # the assignment's cast truncates, as copyto(casting="unsafe") does
        self._gelu_c.take(idx, None, row, "clip")  # the method: np.take's wrapper costs ~1 us
        np.multiply(u, self._grow_im, u)
        np.add(u, self._grow_re, u)

    def _encode(self, features: np.ndarray) -> None:
        """One feature frame through the encoder; the (gain-less) final norm lands in the
        decoder vector. The residual stream ``x`` stays centred (every product that adds to
        it has centred columns), so a layer norm is a dot and a scale."""
        self._feat[:-1] = features
        x, xn, xc, tmp, sc, mx, mx_row = self._x, self._xn, self._xc, self._tmp, self._sc, self._mx, self._mx_row
        # products by the array method (np.dot's dispatcher costs ~0.8 us a call); each norm's
        # scale goes in through a 0-d float32 array (a Python float argument costs a ufunc
        # ~0.8 us of scalar discovery; the array gets the same float32 rounding of it)
        xdot, mul, sqrt, d, s0 = x.dot, np.multiply, math.sqrt, float(self.d), self._s0
        qbd_diag = self._qbd_diag
        self._feat.dot(self._w_in, x)
        p = self.frames % (self.k + 1)
        warm = self.frames <= self.k
        for w_qkv, qkv_rows, q_rows, ring_kt, ring_v, tab, warm_tab, w_out, w_f0, w_f2 in self._layer_bufs:
            s0[()] = 1.0 / sqrt(float(xdot(x)) / d + 1e-5)
            mul(x, s0, xc)  # layer norm (gain, bias folded on)
            xn.dot(w_qkv, qkv_rows[p])  # q k v of this frame into its ring slot
            qbd_diag[...] = q_rows[p]
            np.matmul(self._qbd, ring_kt, sc)  # [h, R]
            np.add(sc, (warm_tab if warm else tab)[p], sc)
            np.maximum.reduce(sc, axis=1, out=mx_row)
            np.subtract(sc, mx, sc)
            np.exp(sc, sc)
            np.matmul(sc, ring_v, self._yfull)  # [h, d + 1]: weighted values, sums
            np.divide(self._ydiag, self._ysum, self._y_h)
            self._y.dot(w_out, tmp)
            np.add(x, tmp, x)
            s0[()] = 1.0 / sqrt(float(xdot(x)) / d + 1e-5)
            mul(x, s0, xc)
            xn.dot(w_f0, self._hv)
            self._gelu()
            self._hf.dot(w_f2, tmp)
            np.add(x, tmp, x)
        s0[()] = 1.0 / sqrt(float(xdot(x)) / d + 1e-5)
        mul(x, s0, self._enc)

    def _decode(self, style: np.ndarray, controls: np.ndarray) -> None:
        if type(controls) is np.ndarray:
            energy, var = controls.item(0), controls.item(1)
        else:
            energy, var = float(controls[0]), float(controls[1])
        phase = self._phase
        redraw = 1 if phase == 0 else 0
        self._rng.standard_normal(out=self._noise, dtype=F32)
        zt = self._zn_tmp
        np.multiply(self._zn, self._lat_mix[redraw], zt)
        np.add(self._zt0, self._zt1, self._z)
        self._phase = (self._phase + 1) % self.phrase
        if var != self._var:  # the latent's scale as a 0-d float32 array, set when it changes
            self._var = var
            self._scale0[()] = 2.0 * var - 1.2 * max(var - 0.5, 0.0)
        np.multiply(self._z, self._scale0, self._lat)
        self._sty[...] = style
        self._dv[self._o_en] = energy
        pick = self.pick
        if pick.count > 1:  # the latent pick (live/pick.py): the draws rolled out on the worker
            look = not redraw and pick.checks(phase, self.phrase)
            if (redraw or look) and pick.ready():  # a redraw, or a look between two
                pick.held[0] = self._z[: self.nd]
                pick.style = style
                pick.draw()
                pick.start(self._roll_out_job(energy), threaded=True, gate=look)
            elif pick.due():
                i = pick.take()
                if i:
                    self._z[: self.nd] = pick.held[i]
                    np.multiply(self._z, self._scale0, self._lat)
        tanh, mul, add, half = np.tanh, np.multiply, np.add, self._half0
        for src, wl, g4, sig, go, g_if, g_gc, c, hv, pair, p_ig, p_fc in self._lstm:
            src.dot(wl, g4)
            tanh(g4, g4)
            mul(sig, half, sig)
            add(sig, half, sig)
            mul(g_if, g_gc, pair)  # [i g, f c]
            add(p_ig, p_fc, c)
            tanh(c, hv)
            mul(hv, go, hv)
        vec = self._prev  # the pose fed back next frame
        if self.energy_gain > 0:  # ema + gain (pose - ema) in the head product; then the ema
            if energy != self._gain_energy:  # follows the emitted pose
                self._set_gain(energy)
            self._in_head.dot(self._head, vec)
            ema, dif = self._ema, self._dif
            np.subtract(vec, ema, dif)
            mul(dif, self._alpha0, dif)
            add(ema, dif, ema)
        else:
            self._in_head.dot(self._head, vec)

    def _roll_out_job(self, energy: float) -> Callable[[], tuple[np.ndarray, np.ndarray]]:
        """The decoder rolled out ``pick.horizon`` frames from this frame's state (the layers
        not yet run) for each of the pick's held halves, batched: the encoder's output held, the
        walking half on the pick's walk noise. The state is copied here; the returned function
        (run on the pick's worker thread) gives the pose vectors at the kept steps
        [shape=(draws, m, P)] and which draws they are (cut at ``PRUNE_AT``, live/pick.py). Once per redraw, so it may allocate."""
        pick, nd, hid, p_dim = self.pick, self.nd, self.hid, self.p_dim
        o_lat, o_sty, o_h0, o_h1, o_ema = self._offs
        k = pick.count
        if self.energy_gain > 0 and energy != self._gain_energy:
            self._set_gain(energy)
        # one row until the choice takes effect (DELAY frames: every draw dances draw 0), then k
        dv, cs, z = self._dv[None].copy(), [c[None].copy() for c in self._c], self._z[None].copy()
        head, scale, w0, w1 = self._head.copy(), F32(self._scale0), self._w0, self._w1
        a, b = self._lat_mix[0][0, nd:], self._lat_mix[0][1, nd:]
        steps = list(pick.sample_steps())
        walk, held, alpha, gain = pick.walk, pick.held, self._alpha0, self.energy_gain > 0

        def run() -> tuple[np.ndarray, np.ndarray]:
            nonlocal dv, cs, z
            out = np.empty((k, len(steps), p_dim), F32)
            index = np.arange(k)
            j = 0
            for h in range(pick.horizon):
                if h == DELAY:
                    dv, z = np.repeat(dv, k, axis=0), np.repeat(z, k, axis=0)
                    cs = [np.repeat(c, k, axis=0) for c in cs]
                    z[:, :nd] = held
                elif h == PRUNE_AT:  # the draws whose first second comes back least go on
                    index = pick.prune(out[:, :j])
                    dv, z, out = dv[index], z[index], out[index]
                    cs = [c[index] for c in cs]
                if h:
                    z[:, nd:] *= a
                    z[:, nd:] += walk[h] * b
                np.multiply(z, scale, out=dv[:, o_lat:o_sty])
                for (lo, hi, hs), wl, c in (((0, o_h0 + hid, o_h0), w0, cs[0]), ((o_h0, o_ema, o_h1), w1, cs[1])):
                    g = np.tanh(dv[:, lo:hi] @ wl)
                    g[:, : 3 * hid] *= 0.5
                    g[:, : 3 * hid] += 0.5
                    c *= g[:, 2 * hid: 3 * hid]
                    c += g[:, hid: 2 * hid] * g[:, 3 * hid: 4 * hid]
                    np.multiply(np.tanh(c), g[:, :hid], out=dv[:, hs: hs + hid])
                vec = dv[:, o_h1:] @ head
                if gain:
                    ema = dv[:, o_ema:]
                    ema += (vec - ema) * alpha
                dv[:, :p_dim] = vec
                if j < len(steps) and h == steps[j]:
                    out[:, j] = vec
                    j += 1
            return out, index

        return run

    def _set_gain(self, energy: float) -> None:
        """The head product for an energy control value: rows [gain head; gain bias;
        (1 - gain) I] read [h1 | 1 | ema], so it gives ema + gain (pose - ema), with gain =
        max(energy, 0.05) ** energy_gain (done when the energy changes, not per frame)."""
        gain = max(energy, 0.05) ** self.energy_gain
        rows = self._head_aug.shape[0]
        self._head[:rows] = self._head_aug * gain
        self._head[rows:] = np.eye(self.p_dim) * (1.0 - gain)
        self._gain_energy = energy

    def _place(self, out: np.ndarray) -> np.ndarray:
        """Root values -> root trajectory (float32 sums like the ONNX runtime's) and the
        absolute joints in ``out`` [17, 3]."""
        steps = self._root_steps
        if steps is None:
            advance_root(self._root, self._root_vals, self.root_mode)
        else:  # advance_root's float32 sums in one call: x and z step, the height is set
            np.add(self._root_xz, steps, self._root_xz)
            self._root[1] = self._root_vals[self._root_y]
        np.add(self._joints, self._root, out)
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
        if self._soft:  # a phrase refresh under way (live/phrase.py)
            self._soft -= 1
            soften(self._h[0], self._fresh[0], self._c[0], self._keep)
            soften(self._h[1], self._fresh[1], self._c[1], self._keep)
        self._encode(features)
        self._decode(sty, ctl)  # type: ignore[arg-type]
        if self.pick.count > 1:
            self.pick.push(self._joints)
            self.pick.launch()  # a decision asked on this frame: its roll-outs start now
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
