"""Offline generation in numpy: a DanceNet from its ``<model>_offline.npz`` weights, batched.

:class:`NumpyGenerator` has the interface of :class:`live.runtime.Generator` that
``Engine.render`` and ``generate`` use (``step_frames``, ``step``, ``reset``, ``fps``,
``style_names``, ``control_names``, ``block``, ``meta``, ``path``, ``provider``) and makes
the same poses as the step model frame by frame (a test holds them within 1e-4 m), but:

- the encoder runs over a whole batch of frames at once: each frame attends to itself and
  the ``window`` frames before it (from the stream start), so the batch carries the last
  ``layers * window`` raw feature frames as context and the result is exactly causal;
- the decoder's static gate part (encoder output, style, energy, latent) is one matrix
  product for the batch; the recurrent part is ~30 numpy calls per frame (two LSTM layers
  with the sigmoid written as ``0.5 + 0.5 tanh(x / 2)``, the head, the energy gain)
  instead of the step graph's ~50 onnxruntime nodes;
- noise comes from the same seeded generator in the same order as the step model's, so
  a seed gives the same dance.

The weights file is written by ``dancemuse export`` beside every block-1 export
(:mod:`export.offline`); its metadata must show the same trained model as the step model
(``live.runtime.same_model``), else it is not used. No torch here.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from live.control import parse_style
from live.phrase import REFRESH_FRAMES, REFRESH_KEEP, draw_memory, soften
from live.pick import DELAY, PRUNE_AT, LatentPick, tokens_of
from model import modelmeta
from model.errors import ModelError
from model.skeleton import NUM_JOINTS, STANDING_ROOT_HEIGHT

CONTROL_DEFAULTS = {"energy": 1.0, "variation": 0.5}


def _gelu_(x: np.ndarray) -> np.ndarray:
    """Exact GELU ``x * 0.5 * (1 + erf(x / sqrt 2))`` in place on float32 ``x``; erf by
    Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7, the order of float32 rounding)."""
    u = x * np.float32(1.0 / math.sqrt(2.0))
    a = np.abs(u)
    t = a * np.float32(0.3275911)
    t += np.float32(1.0)
    np.reciprocal(t, out=t)
    y = t * np.float32(1.061405429)
    for c in (-1.453152027, 1.421413741, -0.284496736, 0.254829592):
        y += np.float32(c)
        y *= t
    np.multiply(a, a, out=a)
    np.negative(a, out=a)
    np.exp(a, out=a)
    y *= a  # 1 - erf(|u|)
    np.copysign(y, u, out=y)  # sign(u) (1 - erf|u|) = sign(u) - erf(u)
    np.sign(u, out=u)
    u -= y  # erf(u)
    u += np.float32(1.0)
    u *= np.float32(0.5)
    x *= u
    return x


def _layer_norm(x: np.ndarray, g: np.ndarray, b: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    mu = x.mean(axis=-1, keepdims=True)
    xc = x - mu
    var = np.mean(xc * xc, axis=-1, keepdims=True)
    return (xc / np.sqrt(var + eps) * g + b).astype(np.float32)


def read_weights(path: Path, *, name: str, what: str, feature_config: Mapping[str, Any] | None,
                 expected_spec: Mapping[str, Any] | None = None) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The arrays and the checked metadata of a ``<model>_offline.npz`` (shared by the offline
    runner and the live numpy step). The features are checked against ``feature_config`` at the
    model's own rate (a 30 fps model may serve 60 fps). Raises ModelError (one line)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            w = {k: z[k] for k in z.files if k != "meta"}
            doc = str(z["meta"])
    except Exception as e:  # noqa: BLE001 - numpy/zipfile raise several types
        raise ModelError(f"{what} {name} cannot be read ({type(e).__name__}); re-export the model") from None
    meta: dict[str, Any] = modelmeta.parse_meta({modelmeta.META_KEY: doc}, name=name)
    from live.runtime import _expected_spec, at_model_rate

    feature_config = at_model_rate(feature_config, int(meta["fps"]))
    if expected_spec is None:
        expected_spec = _expected_spec(feature_config)
    modelmeta.validate_features(meta, name=name, feature_config=feature_config, expected_spec=expected_spec)
    return w, meta


class NetDims:
    """The network sizes of a model's ``net_config`` and the latent pick's setting (a base of the two
    numpy runners)."""

    d: int
    heads: int
    layers: int
    k: int
    hid: int
    lstm_layers: int
    nd: int
    phrase: int
    tau: float
    energy_gain: float
    ema_tau: float
    fps: int
    meta: dict[str, Any]
    pick: LatentPick
    _seed: int | None

    def _set_dims(self, nc: Mapping[str, Any]) -> None:
        """Read them from ``nc``. Raises KeyError, TypeError or ValueError on a missing or
        malformed entry."""
        self.d = int(nc["d_model"])
        self.heads = int(nc["heads"])
        self.layers = int(nc["layers"])
        self.k = int(nc["window"])
        self.hid = int(nc["lstm_hidden"])
        self.lstm_layers = int(nc["lstm_layers"])
        self.nd = int(nc["noise_dim"])
        self.phrase = int(nc["phrase_frames"])
        self.tau = float(nc["noise_tau"])
        self.energy_gain = float(nc.get("energy_gain", 0.0))
        self.ema_tau = float(nc.get("ema_tau", 30.0))

    def set_pick(self, count: int, look: float = 0.0) -> None:
        """The latent pick's draws per redraw (``live.pick``; 1 = off) and how often it looks again
        between redraws (``live.pick_look`` seconds; 0 = never; live/pick.py)."""
        if int(count) != self.pick.count:
            self.pick = LatentPick(count, nd=self.nd, fps=self.fps, seed=self._seed)
            self.pick.tokens = tokens_of(self.meta, nd=self.nd)
        self.pick.look = max(0.0, float(look))


class NumpyGenerator(NetDims):
    """A DanceNet run in numpy from its offline weights file (see the module docstring).

    Raises ModelError with one line when the file is missing, unreadable or not a
    DanceNet of the known layout.
    """

    def __init__(self, path: str | Path, *, feature_config: Mapping[str, Any] | None = None, seed: int = 0) -> None:
        self.path = Path(path)
        name = str(path)
        if not self.path.is_file():
            raise ModelError(f"offline weights {name} not found; re-export the model with `dancemuse export`")
        self._w, self.meta = read_weights(self.path, name=name, what="offline weights", feature_config=feature_config)
        m = self.meta
        nc = m.get("net_config") or {}
        try:
            self._set_dims(nc)
            for key in ("w_in", "b_in", "w_static", "w_head", "b_head", "style_table", "lnf_g", "lnf_b"):
                self._w[key]  # noqa: B018 - presence check
        except (KeyError, TypeError, ValueError) as e:
            raise ModelError(f"offline weights {name} lack {e}; re-export the model with `dancemuse export`") from None
        self.provider = "numpy"
        self.fps: int = m["fps"]
        self.sample_rate: int = m["sample_rate"]
        self.style_names: list[str] = list(m["styles"])
        self.control_names: list[str] = list(m["controls"])
        self.feature_dim: int = m["feature_dim"]
        self.pose_dim: int = m["pose_dim"]
        self.window: int = m["window"]
        self.lookahead: int = m["lookahead"]
        self.block = 1
        self.root_mode = str(m.get("root", "dx_y_dz"))
        if self.pose_dim != NUM_JOINTS * 3 + 3:
            raise ModelError(f"offline weights {name} have pose_dim {self.pose_dim}, expected {NUM_JOINTS * 3 + 3}")
        self.default_style = parse_style(None, self.style_names)
        defaults = m.get("control_defaults", {})
        self.default_controls = np.array(
            [float(defaults.get(c, CONTROL_DEFAULTS.get(c, 0.0))) for c in self.control_names], dtype=np.float32)
        self._init_pose = np.asarray(m.get("init_pose", np.zeros(self.pose_dim)), np.float32).reshape(-1)
        self._prepare_weights()
        self.last_step_ms = 0.0
        self.pick = LatentPick(1, nd=self.nd, fps=self.fps, seed=seed)
        """The latent pick (live/pick.py; ``live.pick``, set by the engine with :meth:`set_pick`)."""
        self._wz_scale: float | None = None
        self._w_roll0 = self._w_rec[0]
        """The roll-outs' first product [latent x scale | prev | h0], made for the latent's scale
        ``_wz_scale`` (:meth:`_roll_out`)."""
        self.reset(seed=seed)

    # -- set-up --------------------------------------------------------------------------
    def _prepare_weights(self) -> None:
        """The LSTM weights with the sigmoid gates' columns halved (exact: a power of two),
        so that one tanh over all four gates gives the sigmoids as 0.5 + 0.5 tanh."""
        w, hid = self._w, self.hid
        half = np.ones(4 * hid, np.float32)
        half[: 3 * hid] = 0.5
        nl = self.lstm_layers
        self._w_rec = [np.ascontiguousarray(w[f"w_rec{i}"] * half) for i in range(nl)]
        self._b_rec: list[np.ndarray | None] = [np.ascontiguousarray(w[f"b_gates{i}"] * half) for i in range(nl)]
        b0 = self._b_rec[0]
        assert b0 is not None
        self._b0: np.ndarray = b0
        self._b_rec[0] = None  # layer 0's bias goes with the static gates
        if nl > 1:  # the last layer reads [h_prev_layer | h | 1]: its bias is a last row of its weights
            last = self._b_rec[-1]
            assert last is not None
            self._w_rec[-1] = np.ascontiguousarray(np.concatenate([self._w_rec[-1], last[None]]))
            self._b_rec[-1] = None
        self._w_head = np.ascontiguousarray(np.concatenate([w["w_head"], w["b_head"][None]]))  # reads [h | 1]
        self._w_static = np.ascontiguousarray(w["w_static"] * half)
        nd = self.nd
        a = math.exp(-1.0 / max(self.tau, 1e-3))
        self._m = np.concatenate([np.ones(nd), np.zeros(nd)]).astype(np.float32)
        self._c1 = np.concatenate([np.ones(nd), np.full(nd, a)]).astype(np.float32)
        self._c2 = np.concatenate([np.zeros(nd), np.full(nd, math.sqrt(1.0 - a * a))]).astype(np.float32)
        self._ctx_len = self.layers * self.k

    def reset(self, *, seed: int | None = None) -> None:
        """Fresh state (seeded like the step model's: the same draws in the same order)."""
        if seed is not None or not hasattr(self, "_rng"):
            self._rng = np.random.default_rng(seed)
            self._seed = seed
        if hasattr(self, "pick"):
            self.pick.reset(seed=self._seed)
        st: dict[str, np.ndarray] = {}
        for entry in self.meta["state"]:
            shape = tuple(int(d) for d in entry["shape"])
            if entry.get("init") == "normal":
                arr = self._rng.standard_normal(shape, dtype=np.float32)
                arr *= float(entry.get("std", 1.0))
            else:
                arr = np.zeros(shape, dtype=np.float32)
            st[entry["name"]] = arr
        hid, p_dim, nl = self.hid, self.pose_dim, self.lstm_layers
        # the decoder's vector [prev pose | h0 | h1 .. | 1]: each layer reads its slice of it
        # (layer 0 [prev | h0], layer i [h(i-1) | h(i)], the last one and the head with the 1)
        self._dv = np.zeros(p_dim + nl * hid + 1, np.float32)
        self._dv[-1] = 1.0
        self._dv[:p_dim] = self._init_pose
        for i in range(nl):
            self._dv[p_dim + i * hid: p_dim + (i + 1) * hid] = st[f"h{i}"].reshape(-1)
        self._c = [st[f"c{i}"].reshape(-1).copy() for i in range(self.lstm_layers)]
        self._z = st["z"].reshape(-1).copy()
        self._phase = int(round(float(st["phase"].reshape(-1)[0])))
        pm, ps = self._w["pose_mean"], self._w["pose_std"]
        self._ema = (st["ema"].reshape(-1) * ps + pm).astype(np.float32)
        self._ctx = np.zeros((0, self.feature_dim), np.float32)
        self._seen = 0
        self._root = np.array([0.0, STANDING_ROOT_HEIGHT, 0.0], np.float32)
        self._soft = 0
        self._keep = REFRESH_KEEP
        self._fresh: list[np.ndarray] = []
        self.frames = 0

    def refresh(self, keep: float = REFRESH_KEEP) -> None:
        """A new phrase: a new LSTM memory drawn as at a reset and pulled to over the next
        REFRESH_FRAMES frames (the step runtimes' draws and steps; live/phrase.py)."""
        if not self._fresh:  # the new h per layer, made on the first refresh
            self._fresh = [np.zeros(self.hid, np.float32) for _ in range(self.lstm_layers)]
        draw_memory(self.meta["state"], self._rng, {f"h{i}": t for i, t in enumerate(self._fresh)})
        self._soft = REFRESH_FRAMES
        self._keep = float(keep)

    def _soften(self) -> None:
        hid, p_dim = self.hid, self.pose_dim
        self._soft -= 1
        for i, t in enumerate(self._fresh):
            soften(self._dv[p_dim + i * hid: p_dim + (i + 1) * hid], t, self._c[i], self._keep)

    @property
    def root(self) -> np.ndarray:
        return self._root.copy()

    # -- encoder -------------------------------------------------------------------------
    def _encode(self, feats: np.ndarray) -> np.ndarray:
        """Encoder output [shape=(n, d)] of the n new raw feature frames (with the carried
        context of earlier frames; frames before the stream start do not exist)."""
        w, k, nh = self._w, self.k, self.heads
        dh = self.d // nh
        x_in = np.concatenate([self._ctx, feats]) if len(self._ctx) else feats
        m = len(x_in)
        x = x_in @ w["w_in"]
        x += w["b_in"]
        # rows in blocks of k: block rows [r0, r1) attend key rows [r0 - k, r1) (those that
        # exist: row 0 is the first frame of the batch, the context carries the earlier
        # ones); offset row - key in 0..k gets the learned bias, others are masked
        bk = max(k, 1)
        off = np.arange(bk)[:, None] + k - np.arange(k + bk)[None, :]  # [bk, k + bk]
        band = (off >= 0) & (off <= k)
        for i in range(self.layers):
            xl = _layer_norm(x, w[f"ln1_g{i}"], w[f"ln1_b{i}"])
            qkv = (xl @ w[f"qkv{i}"] + w[f"qkv_b{i}"]).astype(np.float32)
            q = qkv[:, : self.d].reshape(m, nh, dh).transpose(1, 0, 2)  # [h, m, dh]
            kk = qkv[:, self.d: 2 * self.d].reshape(m, nh, dh).transpose(1, 2, 0)  # [h, dh, m]
            vv = qkv[:, 2 * self.d:].reshape(m, nh, dh).transpose(1, 0, 2)  # [h, m, dh]
            table = np.where(band[None], w[f"rel_bias{i}"][:, np.clip(off, 0, k)], -np.inf).astype(np.float32)
            y = np.empty((nh, m, dh), np.float32)
            for r0 in range(0, m, bk):
                r1 = min(m, r0 + bk)
                j0 = max(0, r0 - k)
                sc = np.matmul(q[:, r0:r1], kk[:, :, j0:r1])  # [h, rows, keys]
                sc += table[:, : r1 - r0, k + j0 - r0: k + r1 - r0]  # template keys start at r0 - k
                sc -= sc.max(axis=-1, keepdims=True)
                np.exp(sc, out=sc)
                sc /= sc.sum(axis=-1, keepdims=True)
                np.matmul(sc, vv[:, j0:r1], out=y[:, r0:r1])
            y = y.transpose(1, 0, 2).reshape(m, self.d)
            x += y @ w[f"out{i}"]
            x += w[f"out_b{i}"]
            xl = _layer_norm(x, w[f"ln2_g{i}"], w[f"ln2_b{i}"])
            hdn = xl @ w[f"ffn0_{i}"]
            hdn += w[f"ffn0_b{i}"]
            x += _gelu_(hdn) @ w[f"ffn2_{i}"]
            x += w[f"ffn2_b{i}"]
        enc = _layer_norm(x, w["lnf_g"], w["lnf_b"])
        self._seen += len(feats)
        self._ctx = x_in[-self._ctx_len:].copy() if self._ctx_len else self._ctx
        return enc[m - len(feats):]

    # -- stepping ------------------------------------------------------------------------
    def step_frames(
        self,
        features: np.ndarray,
        *,
        style: np.ndarray | Sequence[float] | None = None,
        controls: np.ndarray | Sequence[float] | None = None,
        chunk: int = 0,
    ) -> np.ndarray:
        """n frames: raw features [shape=(n, F)] -> absolute poses [shape=(n, 17, 3)]."""
        del chunk
        feats = np.ascontiguousarray(features, np.float32)
        n = len(feats)
        out = np.empty((n, NUM_JOINTS, 3), np.float32)
        if n == 0:
            return out
        w, hid, p_dim = self._w, self.hid, self.pose_dim
        sty = np.asarray(self.default_style if style is None else style, np.float32).reshape(1, -1)
        ctl = np.asarray(self.default_controls if controls is None else controls, np.float32).reshape(-1)
        energy, var = np.float32(ctl[0]), np.float32(ctl[1])
        enc = self._encode(feats)
        # latent: the step model's per-frame recursion, vectorised where it is elementwise
        noise = self._rng.standard_normal((n, 2 * self.nd), dtype=np.float32)
        scale = np.float32(2.0) * var - np.float32(1.2) * np.maximum(var - np.float32(0.5), np.float32(0.0))
        redraw = ((self._phase + np.arange(n)) % self.phrase == 0)[:, None].astype(np.float32)
        rm = redraw * self._m
        f1 = self._c1 - rm
        e = noise * (self._c2 + rm)
        zs = np.empty((n, 2 * self.nd), np.float32)
        z = self._z
        for t in range(n):
            np.multiply(z, f1[t], out=z)
            z += e[t]
            zs[t] = z
        self._phase = (self._phase + n) % self.phrase
        cond = np.concatenate([sty @ w["style_table"], [[energy]]], axis=1).astype(np.float32)
        pick = self.pick
        if pick.count > 1:  # the latent's gates apart, so that a pick can change them (live/pick.py)
            nz = len(self._w_static) - 2 * self.nd
            ge = np.concatenate([enc, np.broadcast_to(cond, (n, cond.shape[1]))], axis=1) @ self._w_static[:nz]
            ge += self._b0
            gs = (zs * scale) @ self._w_static[nz:]
            gs += ge
        else:
            static = np.concatenate([enc, np.broadcast_to(cond, (n, cond.shape[1])), zs * scale], axis=1)
            gs = static @ self._w_static
            gs += self._b0
        redraws = np.nonzero(redraw[:, 0])[0]
        phase0 = (self._phase - n) % self.phrase  # this call's first frame in its latent phrase
        # decoder, frame by frame
        vecs = np.empty((n, p_dim), np.float32)
        gain = np.float32(max(float(energy), 0.05) ** self.energy_gain) if self.energy_gain > 0 else None
        alpha = np.float32(1.0 / max(self.ema_tau, 1.0))
        cs, ws, bs = self._c, self._w_rec, self._b_rec
        g = np.empty(4 * hid, np.float32)
        tmp = np.empty(hid, np.float32)
        d = np.empty(p_dim, np.float32)
        ema = self._ema
        dv = self._dv
        nl = self.lstm_layers
        prev, wh = dv[:p_dim], self._w_head
        # views made once: gates i, f, o (sigmoids), candidate; per layer its input slice,
        # weights, bias (None: folded or static), cell and hidden slot in the vector
        sig, gi, gf, go, gc = g[: 3 * hid], g[:hid], g[hid: 2 * hid], g[2 * hid: 3 * hid], g[3 * hid:]
        layers = []
        for i in range(nl):
            lo = 0 if i == 0 else p_dim + (i - 1) * hid
            hi = p_dim + (i + 1) * hid + (1 if i == nl - 1 and i > 0 else 0)
            layers.append((dv[lo:hi], ws[i], bs[i], cs[i], dv[p_dim + i * hid: p_dim + (i + 1) * hid]))
        head_in = dv[p_dim + (nl - 1) * hid:]
        first = layers[0]
        dot, tanh, mul, sub, add = np.dot, np.tanh, np.multiply, np.subtract, np.add
        soft = min(self._soft, n)  # frames of a phrase refresh under way (live/phrase.py)
        nd = self.nd
        for t in range(n):
            if t < soft:
                self._soften()
            if pick.count > 1:  # the latent pick (live/pick.py), as the numpy step takes it
                look = not redraw[t, 0] and pick.checks((phase0 + t) % self.phrase, self.phrase)
                if (redraw[t, 0] or look) and pick.ready():  # a redraw, or a look between two
                    pick.held[0] = zs[t, :nd]
                    pick.style = sty
                    pick.draw()
                    pick.start(partial(self._roll_out, ge[t].copy(), zs[t].copy(), scale, gain, alpha), threaded=False,
                               gate=look)
                elif pick.due() and (i := pick.take()):
                    end = int(redraws[redraws > t][0]) if (redraws > t).any() else n
                    delta = (pick.held[i] - zs[t, :nd]) * scale
                    zs[t:end, :nd] = pick.held[i]
                    gs[t:end] += delta @ self._w_static[len(self._w_static) - 2 * nd: len(self._w_static) - nd]
            for layer in layers:
                src, wl, bl, c, hv = layer
                dot(src, wl, out=g)
                if layer is first:
                    g += gs[t]
                elif bl is not None:
                    g += bl
                tanh(g, out=g)
                sig *= 0.5
                sig += 0.5
                c *= gf
                mul(gi, gc, out=tmp)
                c += tmp
                tanh(c, out=hv)
                hv *= go
            dot(head_in, wh, out=prev)
            if gain is not None:  # ema + gain (p - ema); the emitted pose minus the ema is that gain term
                sub(prev, ema, out=d)
                d *= gain
                add(ema, d, out=prev)
                d *= alpha
                ema += d
            vecs[t] = prev
            if pick.count > 1:
                pick.push(vecs[t, : NUM_JOINTS * 3].reshape(NUM_JOINTS, 3))
        if pick.count > 1:
            self._z[:nd] = zs[-1, :nd]  # the held half the last pick took
        self.frames += n
        return self._place_all(vecs, out)

    def _roll_out(self, ge: np.ndarray, z0: np.ndarray, scale: np.float32, gain: np.float32 | None,
                  alpha: np.float32) -> tuple[np.ndarray, np.ndarray]:
        """The decoder rolled out ``pick.horizon`` frames from this frame's state for each of
        the pick's held halves, batched (live/npstep.py's ``_roll_out_job`` in this runtime's
        layout): ``ge`` the frame's gates from the encoder and the conditioning (held), ``z0``
        the frame's latent. Returns the pose vectors at the kept steps [shape=(draws, m, P)] and
        which draws they are (cut to ``KEEP`` at ``PRUNE_AT``: :meth:`live.pick.LatentPick.prune`)."""
        pick, nd, hid, p_dim = self.pick, self.nd, self.hid, self.pose_dim
        k, n2 = pick.count, 2 * nd
        if self._wz_scale != float(scale):  # [latent x scale | prev | h0] in one product
            self._wz_scale = float(scale)
            self._w_roll0 = np.ascontiguousarray(np.concatenate([self._w_static[len(self._w_static) - n2:] * scale,
                                                                  self._w_rec[0]]))
        w0, w1, wh = self._w_roll0, self._w_rec[1], self._w_head
        # rows [z | prev | h0 | h1 | 1], one until the choice takes effect (DELAY frames: every
        # draw dances draw 0), then k, then KEEP; the buffers are made once per roll-out and
        # every product and gate is written into them (the same operations, in the same order,
        # as one array per step: the same bits)
        o = n2 + p_dim  # h0 in the rows
        dv = np.empty((k, o + 2 * hid + 1), np.float32)
        dv[0, :n2] = z0
        dv[0, n2:] = self._dv
        cs = [np.empty((k, hid), np.float32) for _ in self._c]
        for c, c0 in zip(cs, self._c):
            c[0] = c0
        ema = np.empty((k, p_dim), np.float32)
        ema[0] = self._ema
        gb = np.empty((k, 4 * hid), np.float32)
        tb = np.empty((k, hid), np.float32)
        pb = np.empty((k, p_dim), np.float32)
        walk = pick.walk * self._c2[nd:]  # the walking half's fresh term per step
        a = self._c1[nd:]
        steps = pick.sample_steps()
        out = np.empty((k, len(steps), p_dim), np.float32)
        index = np.arange(k)
        j, r = 0, 1
        dot, tanh, mul, add, sub = np.matmul, np.tanh, np.multiply, np.add, np.subtract
        layers = ((0, o + hid, w0, 0), (o, o + 2 * hid + 1, w1, 1))
        for h in range(pick.horizon):
            if h == DELAY:
                r = k
                dv[1:] = dv[0]
                ema[1:] = ema[0]
                for c in cs:
                    c[1:] = c[0]
                dv[:, :nd] = pick.held
            elif h == PRUNE_AT:  # the draws whose first second comes back least go on
                index = pick.prune(out[:, :j])
                r = len(index)
                dv[:r], ema[:r], out = dv[index], ema[index], out[index]
                for c in cs:
                    c[:r] = c[index]
            rows, g, t = dv[:r], gb[:r], tb[:r]
            if h:
                rows[:, nd:n2] *= a
                rows[:, nd:n2] += walk[h]
            for lo, hi, wl, i in layers:
                dot(rows[:, lo:hi], wl, out=g)
                if i == 0:
                    g += ge
                tanh(g, out=g)
                sig = g[:, : 3 * hid]
                sig *= 0.5
                sig += 0.5
                c = cs[i][:r]
                c *= g[:, hid: 2 * hid]
                mul(g[:, :hid], g[:, 3 * hid:], out=t)
                c += t
                tanh(c, out=t)
                mul(t, g[:, 2 * hid: 3 * hid], out=rows[:, o + i * hid: o + (i + 1) * hid])
            pose = rows[:, n2:o]
            if gain is not None:
                p, e = pb[:r], ema[:r]
                dot(rows[:, o + hid:], wh, out=p)
                sub(p, e, out=p)
                p *= gain  # d
                add(e, p, out=pose)
                p *= alpha
                e += p
            else:
                dot(rows[:, o + hid:], wh, out=pose)
            if j < len(steps) and h == steps[j]:
                out[:, j] = pose
                j += 1
        return out, index

    def _place_all(self, vecs: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Root values -> root trajectory (the step runtime's float32 sums, in order) and
        absolute joints."""
        r = vecs[:, NUM_JOINTS * 3:]
        root = np.empty((len(vecs), 3), np.float32)
        mode = self.root_mode
        if mode in ("dx_dz_y", "dx_y_dz"):
            ix, iy, iz = (0, 2, 1) if mode == "dx_dz_y" else (0, 1, 2)
            root[:, 0] = np.cumsum(np.concatenate([self._root[:1], r[:, ix]]), dtype=np.float32)[1:]
            root[:, 2] = np.cumsum(np.concatenate([self._root[2:], r[:, iz]]), dtype=np.float32)[1:]
            root[:, 1] = r[:, iy]
        elif mode == "absolute":
            root[:] = r
        else:
            root[:] = self._root
        self._root[:] = root[-1]
        np.add(vecs[:, : NUM_JOINTS * 3].reshape(-1, NUM_JOINTS, 3), root[:, None, :], out=out)
        return out

    def step(
        self,
        features: np.ndarray,
        *,
        style: np.ndarray | Sequence[float] | None = None,
        controls: np.ndarray | Sequence[float] | None = None,
        out: np.ndarray | None = None,
    ) -> np.ndarray:
        """One frame (for interface parity; offline code calls :meth:`step_frames`)."""
        pose = self.step_frames(np.asarray(features, np.float32).reshape(1, -1), style=style, controls=controls)[0]
        if out is not None:
            out[...] = pose
            return out
        return pose

    def describe(self) -> str:
        return f"{self.path.name} in numpy: {modelmeta.describe(self.meta)}"


def read_meta(path: str | Path) -> dict[str, Any] | None:
    """The metadata document of an offline weights file (None when it cannot be read)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            doc: dict[str, Any] = json.loads(str(z["meta"]))
            return doc
    except Exception:  # noqa: BLE001
        return None
