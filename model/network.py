"""DanceNet: the music-to-dance generator (DanceRevolution lineage), readable in one file.

Music encoder
    Input projection of the (internally normalised) feature frames, then ``layers`` pre-LN
    transformer blocks of *local causal* self-attention: encoder frame t attends to frames
    t-k..t (k = ``window``) with a learned per-head bias over the *relative* offset 0..k
    (no absolute position: a live stream never restarts), a feed-forward block and a final
    layer norm.
Decoder
    A stacked LSTM fed, per frame, the encoder output, the previous pose (normalised), a
    style embedding (``style_w @ style_table``, so weights can mix or morph styles), the
    live controls (energy, variation) and a noise vector scaled by the variation control.
    A linear head outputs the next pose vector, de-normalised with statistics kept in
    buffers. Callers feed raw features and raw poses and get raw poses back.
Pose vector (P = 54)
    51 root-relative joint coordinates (COCO-17, joint-major x, y, z, metres), then the
    root: horizontal velocity dx, dz (metres per frame) and root height y (metres).
Look-ahead
    The network itself is causal. A look-ahead of L frames is a *delay*: the pose emitted
    after feature frame s is the pose of frame s - L, so pose frame t sees the features of
    frames t+L-k..t+L. Training aligns targets that way; the runtime reports L*1000/fps ms
    of extra latency. L = 0 by default.
Variation
    ``init_state(batch, seed=...)`` draws the initial LSTM state and a noise vector z from a
    seeded generator. Every frame z turns by a fixed orthogonal matrix (a slow, deterministic
    wander, no random op in the graph) and ``z * variation`` enters the decoder. The same
    seed repeats exactly; different seeds differ.

Streaming step (for H5's ONNX export and live/runtime.py)
----------------------------------------------------------
``pose, state = net.step(feat, prev_pose, state, style_w, controls)``

=============  ==========================  ==========================================
argument       shape (float32)             meaning
=============  ==========================  ==========================================
feat           [B, n, F]                   n new raw feature frames (n = 1 live)
prev_pose      [B, P]                      raw pose of the frame before the first new one
style_w        [B, S]                      style weights (any non-negative mix, sum ~1)
controls       [B, C]                      (energy 0..2, variation 0..1)
pose (out)     [B, n, P]                   raw poses, one per new frame
=============  ==========================  ==========================================

``state`` is a tuple of six tensors of fixed shape (``STATE_NAMES``; shapes from
``net.state_shapes(B)``); a step returns the same six, updated:

=========  ==============================  ==============================================
name       shape                           content
=========  ==============================  ==============================================
k_cache    [layers, B, heads, k, d/heads]  attention keys of the last k frames per layer,
                                           oldest first (rolled: drop n oldest, append n)
v_cache    [layers, B, heads, k, d/heads]  attention values, same layout
valid      [B, k]                          1.0 where the cache slot holds a real frame
                                           (0.0 at stream start), same rolling
h          [lstm_layers, B, H]             LSTM hidden state
c          [lstm_layers, B, H]             LSTM cell state
z          [B, noise_dim]                  variation noise (turned every frame)
=========  ==============================  ==============================================

A step costs O(k): keys and values of past frames are never recomputed. There is no
data-dependent control flow, so ``StepModule`` (flat tensors in, flat tensors out:
``feat, prev_pose, style_w, controls, *state -> pose, *state``) traces to ONNX with
fixed shapes. ``net.forward`` over a whole sequence equals repeated steps (test: 1e-5
over 500 frames) and additionally takes teacher poses for curriculum training.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
from torch import Tensor, nn

STATE_NAMES: tuple[str, ...] = ("k_cache", "v_cache", "valid", "h", "c", "z")
State = tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]
CONTROL_NAMES: tuple[str, ...] = ("energy", "variation")
POSE_DIM = 54
ROOT_SLICE = slice(51, 54)


@dataclass
class NetConfig:
    """Dimensions of a DanceNet; saved in every checkpoint (``asdict``) and rebuilt from it."""

    feature_dim: int = 84
    d_model: int = 128
    heads: int = 4
    layers: int = 2
    window: int = 64
    """k: each encoder frame attends to itself and the k frames before it."""
    lookahead: int = 0
    """L: poses are delayed by L frames so pose t sees features up to t+L."""
    ffn_dim: int = 256
    lstm_hidden: int = 256
    lstm_layers: int = 2
    pose_dim: int = POSE_DIM
    n_styles: int = 4
    style_dim: int = 16
    n_controls: int = 2
    noise_dim: int = 8
    dropout: float = 0.1
    init_std: float = 0.3
    """Standard deviation of the seeded initial LSTM hidden state."""
    noise_turn: float = 0.05
    """Scale of the per-frame rotation of the variation noise (radians, roughly)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> NetConfig:
        """Rebuild from a dict; unknown keys are ignored, missing ones take defaults."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    def __post_init__(self) -> None:
        if self.d_model % self.heads:
            raise ValueError(f"d_model {self.d_model} must be a multiple of heads {self.heads}")


class LocalAttention(nn.Module):
    """Causal self-attention over a window of k past frames plus the frame itself."""

    def __init__(self, cfg: NetConfig) -> None:
        super().__init__()
        self.heads = cfg.heads
        self.dh = cfg.d_model // cfg.heads
        self.k = cfg.window
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model)
        self.out = nn.Linear(cfg.d_model, cfg.d_model)
        self.rel_bias = nn.Parameter(torch.zeros(cfg.heads, cfg.window + 1))
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: Tensor, kc: Tensor, vc: Tensor, valid: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """x [B, n, d]; kc, vc [B, h, k, dh]; valid [B, k] -> (y [B, n, d], kc', vc')."""
        b, n, d = x.shape
        q, kn, vn = (t.reshape(b, n, self.heads, self.dh).transpose(1, 2)
                     for t in self.qkv(x).chunk(3, dim=-1))  # [B, h, n, dh] each
        keys = torch.cat([kc, kn], dim=2)  # [B, h, k+n, dh]
        vals = torch.cat([vc, vn], dim=2)
        scores = torch.matmul(q, keys.transpose(-1, -2)) / math.sqrt(self.dh)  # [B, h, n, k+n]
        # Offset of key j from query i: the query sits at position k+i of the concatenation.
        qi = torch.arange(n, device=x.device).unsqueeze(1) + self.k
        kj = torch.arange(self.k + n, device=x.device).unsqueeze(0)
        rel = qi - kj  # [n, k+n]
        allowed = (rel >= 0) & (rel <= self.k)
        scores = scores + self.rel_bias[:, rel.clamp(0, self.k)].unsqueeze(0).to(scores.dtype)
        valid_all = torch.cat([valid, torch.ones(b, n, dtype=valid.dtype, device=valid.device)], dim=1)
        mask = allowed.unsqueeze(0).unsqueeze(0) & (valid_all > 0.5).unsqueeze(1).unsqueeze(1)
        scores = scores.masked_fill(~mask, float("-inf"))
        att = self.drop(torch.softmax(scores.float(), dim=-1).to(vals.dtype))
        y = torch.matmul(att, vals).transpose(1, 2).reshape(b, n, d)
        return self.out(y), keys[:, :, n:], vals[:, :, n:]


class EncoderBlock(nn.Module):
    """Pre-LN block: x + attn(LN(x)), then x + FFN(LN(x))."""

    def __init__(self, cfg: NetConfig) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.d_model)
        self.attn = LocalAttention(cfg)
        self.ln2 = nn.LayerNorm(cfg.d_model)
        self.ffn = nn.Sequential(
            nn.Linear(cfg.d_model, cfg.ffn_dim), nn.GELU(), nn.Linear(cfg.ffn_dim, cfg.d_model)
        )
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: Tensor, kc: Tensor, vc: Tensor, valid: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        a, kc, vc = self.attn(self.ln1(x), kc, vc, valid)
        x = x + self.drop(a)
        x = x + self.drop(self.ffn(self.ln2(x)))
        return x, kc, vc


def _turn_matrix(dim: int, scale: float) -> Tensor:
    """A fixed orthogonal matrix close to identity: exp of a small skew-symmetric matrix."""
    g = torch.Generator().manual_seed(1234)
    a = torch.randn(dim, dim, generator=g, dtype=torch.float64) * scale / math.sqrt(max(dim, 1))
    return torch.linalg.matrix_exp(a - a.T).float()


class DanceNet(nn.Module):
    """Music encoder + autoregressive LSTM decoder; see the module docstring."""

    feat_mean: Tensor
    feat_std: Tensor
    pose_mean: Tensor
    pose_std: Tensor
    noise_turn: Tensor

    def __init__(self, cfg: NetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        d, p = cfg.d_model, cfg.pose_dim
        self.inp = nn.Linear(cfg.feature_dim, d)
        self.blocks = nn.ModuleList(EncoderBlock(cfg) for _ in range(cfg.layers))
        self.ln_f = nn.LayerNorm(d)
        self.style_table = nn.Parameter(torch.randn(cfg.n_styles, cfg.style_dim) * 0.5)
        dec_in = d + p + cfg.style_dim + cfg.n_controls + cfg.noise_dim
        self.lstm = nn.LSTM(dec_in, cfg.lstm_hidden, num_layers=cfg.lstm_layers, batch_first=True)
        self.head = nn.Linear(cfg.lstm_hidden, p)
        self.register_buffer("feat_mean", torch.zeros(cfg.feature_dim))
        self.register_buffer("feat_std", torch.ones(cfg.feature_dim))
        self.register_buffer("pose_mean", torch.zeros(p))
        self.register_buffer("pose_std", torch.ones(p))
        self.register_buffer("noise_turn", _turn_matrix(cfg.noise_dim, cfg.noise_turn))

    # ----------------------------------------------------------------- normalisation
    def set_normalization(self, *, feat_mean: Any, feat_std: Any, pose_mean: Any, pose_std: Any) -> None:
        """Store the feature and pose statistics (arrays [F] and [P]); std is floored."""
        for name, v in (("feat_mean", feat_mean), ("feat_std", feat_std),
                        ("pose_mean", pose_mean), ("pose_std", pose_std)):
            t = torch.as_tensor(v, dtype=torch.float32).reshape(getattr(self, name).shape)
            if name.endswith("std"):
                t = t.clamp_min(1e-3)
            getattr(self, name).copy_(t)

    def norm_pose(self, pose: Tensor) -> Tensor:
        return (pose - self.pose_mean) / self.pose_std

    def denorm_pose(self, pose_n: Tensor) -> Tensor:
        return pose_n * self.pose_std + self.pose_mean

    # ----------------------------------------------------------------- state
    def state_shapes(self, batch: int) -> dict[str, tuple[int, ...]]:
        c = self.cfg
        kv = (c.layers, batch, c.heads, c.window, c.d_model // c.heads)
        hc = (c.lstm_layers, batch, c.lstm_hidden)
        return {"k_cache": kv, "v_cache": kv, "valid": (batch, c.window), "h": hc, "c": hc,
                "z": (batch, c.noise_dim)}

    def init_state(self, batch: int, *, seed: int, device: torch.device | str | None = None) -> State:
        """A fresh stream state: empty attention caches, seeded LSTM state and noise."""
        dev = torch.device(device) if device is not None else self.feat_mean.device
        shapes = self.state_shapes(batch)
        g = torch.Generator().manual_seed(int(seed))
        h = torch.randn(shapes["h"], generator=g) * self.cfg.init_std
        z = torch.randn(shapes["z"], generator=g)
        return (
            torch.zeros(shapes["k_cache"], device=dev),
            torch.zeros(shapes["v_cache"], device=dev),
            torch.zeros(shapes["valid"], device=dev),
            h.to(dev),
            torch.zeros(shapes["c"], device=dev),
            z.to(dev),
        )

    # ----------------------------------------------------------------- parts
    def encode(self, feat: Tensor, kc: Tensor, vc: Tensor, valid: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Raw features [B, n, F] -> encoder output [B, n, d] and rolled caches."""
        x = self.inp((feat - self.feat_mean) / self.feat_std)
        new_k, new_v = [], []
        for i, blk in enumerate(self.blocks):
            x, k_i, v_i = blk(x, kc[i], vc[i], valid)
            new_k.append(k_i)
            new_v.append(v_i)
        n = feat.shape[1]
        ones = torch.ones(valid.shape[0], n, dtype=valid.dtype, device=valid.device)
        valid = torch.cat([valid, ones], dim=1)[:, n:]
        return self.ln_f(x), torch.stack(new_k), torch.stack(new_v), valid

    def style_embedding(self, style_w: Tensor) -> Tensor:
        """Style weights [B, S] -> embedding [B, style_dim] (a weighted mix of learned vectors)."""
        return style_w @ self.style_table

    def _noise_seq(self, z: Tensor, n: int) -> tuple[Tensor, Tensor]:
        """z [B, N] -> the noise of the next n frames [B, n, N] and the final z."""
        out = []
        for _ in range(n):
            z = z @ self.noise_turn
            out.append(z)
        return torch.stack(out, dim=1), z

    def _lstm(self, x: Tensor, hc: tuple[Tensor, Tensor]) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """The stacked LSTM over x [B, n, I] from (h, c) [layers, B, H], layer by layer.

        Same maths and parameters as ``self.lstm`` (torch's gate order i, f, g, o), written
        out: for one frame it is ~3x faster than the fused CPU kernel's per-call overhead,
        the input projection of a whole run is one matrix product, and it exports to ONNX
        as plain MatMul/Sigmoid/Tanh.
        """
        h, c = hc
        inp = x
        hs, cs = [], []
        for layer in range(self.cfg.lstm_layers):
            w_ih = getattr(self.lstm, f"weight_ih_l{layer}")
            w_hh = getattr(self.lstm, f"weight_hh_l{layer}")
            bias = getattr(self.lstm, f"bias_ih_l{layer}") + getattr(self.lstm, f"bias_hh_l{layer}")
            gx = torch.matmul(inp, w_ih.t()) + bias  # [B, n, 4H]
            h_l, c_l = h[layer], c[layer]
            outs = []
            for t in range(inp.shape[1]):
                g = gx[:, t] + torch.matmul(h_l, w_hh.t())
                i, f, gg, o = g.chunk(4, dim=-1)
                c_l = torch.sigmoid(f) * c_l + torch.sigmoid(i) * torch.tanh(gg)
                h_l = torch.sigmoid(o) * torch.tanh(c_l)
                outs.append(h_l)
            inp = torch.stack(outs, dim=1)
            hs.append(h_l)
            cs.append(c_l)
        return inp, (torch.stack(hs), torch.stack(cs))

    # ----------------------------------------------------------------- forward / step
    def forward(
        self,
        feat: Tensor,
        prev_pose: Tensor,
        state: State,
        style_w: Tensor,
        controls: Tensor,
        *,
        teacher: Tensor | None = None,
        teacher_mask: list[bool] | None = None,
    ) -> tuple[Tensor, State]:
        """Generate poses for n frames.

        feat: [shape=(B, n, F)] raw features; prev_pose: [shape=(B, P)] raw pose before the
        first frame; style_w [B, S]; controls [B, C] (energy, variation).
        teacher: [shape=(B, n, P)] raw ground-truth poses and teacher_mask (n booleans):
        where teacher_mask[t] is True the pose fed back after frame t is teacher[:, t]
        instead of the network's own output (DanceRevolution's curriculum). Runs of
        teacher-forced frames go through the LSTM in one call.
        Returns raw poses [shape=(B, n, P)] and the new state.
        """
        kc, vc, valid, h, c, z = state
        n = feat.shape[1]
        enc, kc, vc, valid = self.encode(feat, kc, vc, valid)
        noise, z = self._noise_seq(z, n)
        b = feat.shape[0]
        cond = torch.cat([self.style_embedding(style_w), controls], dim=-1)  # [B, S' + C]
        variation = controls[:, 1:2].unsqueeze(1)  # [B, 1, 1]
        dec_in = torch.cat([enc, cond.unsqueeze(1).expand(b, n, cond.shape[-1]), noise * variation], dim=-1)
        prev_n = self.norm_pose(prev_pose)
        teach_n = self.norm_pose(teacher) if teacher is not None else None
        outs: list[Tensor] = []
        hc = (h, c)
        t = 0
        while t < n:
            forced = teach_n is not None and teacher_mask is not None and t > 0 and teacher_mask[t - 1]
            if forced:
                # Run of frames whose previous pose is given: one LSTM call.
                assert teach_n is not None and teacher_mask is not None
                e = t
                while e < n and teacher_mask[e - 1]:
                    e += 1
                prev_seq = teach_n[:, t - 1:e - 1]
                y, hc = self._lstm(torch.cat([dec_in[:, t:e], prev_seq], dim=-1), hc)
                out = self.head(y)
                outs.append(out)
                prev_n = out[:, -1]
                t = e
            else:
                y, hc = self._lstm(torch.cat([dec_in[:, t:t + 1], prev_n.unsqueeze(1)], dim=-1), hc)
                out = self.head(y)
                outs.append(out)
                prev_n = out[:, 0]
                t += 1
        poses = self.denorm_pose(torch.cat(outs, dim=1))
        return poses, (kc, vc, valid, hc[0], hc[1], z)

    def step(self, feat: Tensor, prev_pose: Tensor, state: State, style_w: Tensor,
             controls: Tensor) -> tuple[Tensor, State]:
        """Streaming step: n new frames -> n poses; see the module docstring."""
        return self.forward(feat, prev_pose, state, style_w, controls)

    # ----------------------------------------------------------------- fine-tuning
    def add_style(self) -> int:
        """Append a style vector (initialised to the mean of the others); returns its index."""
        with torch.no_grad():
            new = self.style_table.mean(dim=0, keepdim=True)
            self.style_table = nn.Parameter(torch.cat([self.style_table.data, new], dim=0))
        self.cfg.n_styles += 1
        return self.cfg.n_styles - 1


class StepModule(nn.Module):
    """Flat-tensor wrapper of ``DanceNet.step`` for ONNX export.

    forward(feat [1, n, F], prev_pose [1, P], style_w [1, S], controls [1, C],
    k_cache, v_cache, valid, h, c, z) -> (pose [1, n, P], k_cache, v_cache, valid, h, c, z).
    Built in eval mode (``torch.onnx.export`` puts a module back in its previous mode).
    """

    def __init__(self, net: DanceNet) -> None:
        super().__init__()
        self.net = net
        self.eval()  # export restores the wrapper's mode afterwards: keep dropout off

    def forward(self, feat: Tensor, prev_pose: Tensor, style_w: Tensor, controls: Tensor,
                k_cache: Tensor, v_cache: Tensor, valid: Tensor, h: Tensor, c: Tensor,
                z: Tensor) -> tuple[Tensor, ...]:
        pose, state = self.net.step(feat, prev_pose, (k_cache, v_cache, valid, h, c, z), style_w, controls)
        return (pose, *state)


def build(cfg: NetConfig | dict[str, Any]) -> DanceNet:
    """A DanceNet from a config or its dict (as stored in a checkpoint)."""
    return DanceNet(cfg if isinstance(cfg, NetConfig) else NetConfig.from_dict(cfg))


def load_checkpoint_model(path: str, *, map_location: str = "cpu") -> tuple[DanceNet, dict[str, Any]]:
    """Rebuild the model of a training checkpoint; returns (net in eval mode, checkpoint dict)."""
    ckpt = torch.load(path, map_location=map_location, weights_only=False)
    net = build(ckpt["config"])
    net.load_state_dict(ckpt["model"])
    net.eval()
    return net, ckpt


__all__ = ["NetConfig", "DanceNet", "StepModule", "STATE_NAMES", "CONTROL_NAMES", "POSE_DIM",
           "build", "load_checkpoint_model"]
