"""DanceNet: the music-to-dance generator (DanceRevolution lineage), readable in one file.

Music encoder
    Input projection of the (internally normalised) feature frames, then ``layers`` pre-LN
    transformer blocks of *local causal* self-attention: encoder frame t attends to frames
    t-k..t (k = ``window``) with a learned per-head bias over the *relative* offset 0..k
    (no absolute position: a live stream never restarts), a feed-forward block and a final
    layer norm.
Decoder (noise-conditioned, trained with a distribution-matching loss)
    A stacked LSTM with fused gates fed, per frame, the encoder output, the previous pose
    (normalised), a style embedding (``style_w @ style_table``, so weights can mix or morph
    styles), the energy control and a latent ``[zp, zs] * scale(variation)``. A linear head
    outputs the next pose vector, de-normalised with statistics kept in buffers. It is
    trained with the energy score (model/train.py): two noise draws per window, so the
    latent picks *which* plausible move is danced instead of the decoder averaging them.
Latent (temporally structured noise)
    ``zp`` is a phrase latent, redrawn every ``phrase_frames`` frames (2 s at 30 fps) from
    the noise input, held in between; ``zs`` is slow noise, an AR(1) process with time
    constant ``noise_tau`` frames. Both come from a standard-normal ``noise`` input
    ``[B, n, 2 * noise_dim]`` (the runtime fills it from its seeded generator), so the same
    seed repeats exactly and different seeds dance differently.
    ``scale(v) = 2 v`` for v <= 0.5 and ``1 + 0.8 (v - 0.5)`` above: variation 0 gives a
    deterministic dance per seed, 0.5 the trained distribution, 1 a wider one.
Energy
    ``energy`` is the motion amplitude the dance should have relative to what the style
    does at this loudness (training conditions on the measured amplitude of the target
    window; model/train_data.py), so energy scales the size of the moves.
Pose vector (P = 54)
    51 root-relative joint coordinates (COCO-17, joint-major x, y, z, metres), then the
    root: horizontal velocity dx, dz (metres per frame) and root height y (metres).
Look-ahead
    The network itself is causal. A look-ahead of L frames is a *delay*: the pose emitted
    after feature frame s is the pose of frame s - L. L = 0 by default.

Streaming step (ONNX export and live/runtime.py)
------------------------------------------------
``pose, state = net.step(feat, prev_pose, state, style_w, controls, noise)``

=============  ==========================  ==========================================
argument       shape (float32)             meaning
=============  ==========================  ==========================================
feat           [B, n, F]                   n new raw feature frames (n = block)
prev_pose      [B, P]                      raw pose of the frame before the first new one
style_w        [B, S]                      style weights (any non-negative mix, sum ~1)
controls       [B, C]                      (energy 0..2, variation 0..1)
noise          [B, n, 2 * noise_dim]       standard normal, fresh every call
pose (out)     [B, n, P]                   raw poses, one per new frame
=============  ==========================  ==========================================

``state`` is a tuple in ``net.state_names()`` order (shapes from ``net.state_shapes(B, block=n)``):

=========  ==============================  ==============================================
name       shape                           content
=========  ==============================  ==============================================
k0, k1..   [B, heads, d/heads, R]          attention keys per layer (transposed), a ring
                                           buffer of R = window + block slots: frame a
                                           sits in slot a % R
v0, v1..   [B, heads, R, d/heads]          attention values per layer, same ring
valid      [B, R]                          1.0 where the slot holds a real frame
pos        [1]                             slot of the next frame (frames seen mod R)
h0, h1..   [B, H]                          LSTM hidden state per layer (seeded normal)
c0, c1..   [B, H]                          LSTM cell state per layer
z          [B, 2 * noise_dim]              latent: phrase part zp, slow part zs
phase      [B, 1]                          frames since the last phrase redraw
ema        [B, P]                          recent mean pose (normalised; energy gain)
=========  ==============================  ==============================================

One tensor per layer (no stacking, so the graph has no split/squeeze/concat chains).
``net.step`` is the lean ring-buffer path that is exported: new keys are written into
their slots with a one-hot product, the relative-offset bias and the window mask are one
table lookup by ``pos``; no concat-and-slice of the caches. ``net.forward`` (any n, any
ring size: training, torch generation) unrolls the ring and equals repeated steps
(tests: 1e-5 over 500 frames); ``encode_seq`` + ``decode`` are the training path with
teacher poses (DanceRevolution's curriculum) and several samples per window.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
from torch import Tensor, nn

State = tuple[Tensor, ...]
DecState = tuple[list[Tensor], list[Tensor], Tensor, Tensor, Tensor]
"""Decoder state: LSTM h per layer, c per layer, latent z, phase, pose EMA (normalised)."""
CONTROL_NAMES: tuple[str, ...] = ("energy", "variation")
POSE_DIM = 54
ROOT_SLICE = slice(51, 54)
NEG = -1e9
"""Additive mask value (exp underflows to exactly 0)."""


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
    noise_dim: int = 16
    """Size of each latent part (phrase, slow); the noise input has twice this."""
    phrase_frames: int = 60
    """The phrase latent is redrawn every this many frames."""
    noise_tau: float = 30.0
    """Time constant (frames) of the slow AR(1) latent."""
    dropout: float = 0.1
    init_std: float = 0.3
    energy_gain: float = 0.6
    """The emitted pose is ema + energy ** energy_gain * (output - ema): energy scales the
    moves around their recent mean (0 = off)."""
    ema_tau: float = 30.0
    """Time constant (frames) of that pose mean."""
    """Standard deviation of the seeded initial LSTM hidden state."""

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


def state_names(cfg: NetConfig) -> tuple[str, ...]:
    """State tensor names: k0.., v0.. (attention rings per layer), valid, pos, h0.., c0..
    (LSTM per layer), z, phase."""
    return (*(f"k{i}" for i in range(cfg.layers)), *(f"v{i}" for i in range(cfg.layers)), "valid", "pos",
            *(f"h{i}" for i in range(cfg.lstm_layers)), *(f"c{i}" for i in range(cfg.lstm_layers)), "z", "phase",
            "ema")


def variation_scale(v: Tensor) -> Tensor:
    """Latent scale of the variation control: 2v up to 0.5, then 1 + 0.8 (v - 0.5)."""
    return 2.0 * v - 1.2 * torch.relu(v - 0.5)


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

    def _qkv(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        b, n, _ = x.shape
        q, kn, vn = (t.reshape(b, n, self.heads, self.dh).transpose(1, 2)
                     for t in self.qkv(x).chunk(3, dim=-1))  # [B, h, n, dh] each
        return q, kn, vn

    def forward(self, x: Tensor, kc: Tensor, vc: Tensor, valid: Tensor, pos: Tensor
                ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """General path, any n and ring size R. x [B, n, d]; kc [B, h, dh, R]; vc [B, h, R, dh];
        valid [B, R]; pos [1] -> (y [B, n, d], kc', vc', valid')."""
        b, n, d = x.shape
        r = kc.shape[-1]
        q, kn, vn = self._qkv(x)
        p = int(pos.reshape(-1)[0].item()) % r if r else 0
        order = [(p + m) % r for m in range(r)]  # ring slots, oldest first
        keys = torch.cat([kc[..., order].transpose(-1, -2), kn], dim=2)  # [B, h, R+n, dh]
        vals = torch.cat([vc[:, :, order], vn], dim=2)
        ok = torch.cat([valid[:, order], torch.ones(b, n, dtype=valid.dtype, device=valid.device)], dim=1)
        qi = torch.arange(n, device=x.device).unsqueeze(1) + r
        kj = torch.arange(r + n, device=x.device).unsqueeze(0)
        rel = qi - kj  # [n, R+n]: offset of key j from query i
        allowed = (rel >= 0) & (rel <= self.k)
        scores = torch.matmul(q, keys.transpose(-1, -2)) / math.sqrt(self.dh)  # [B, h, n, R+n]
        scores = scores + self.rel_bias[:, rel.clamp(0, self.k)].unsqueeze(0).to(scores.dtype)
        mask = allowed.unsqueeze(0).unsqueeze(0) & (ok > 0.5).unsqueeze(1).unsqueeze(1)
        scores = scores.masked_fill(~mask, NEG)
        att = self.drop(torch.softmax(scores.float(), dim=-1).to(vals.dtype))
        y = torch.matmul(att, vals).transpose(1, 2).reshape(b, n, d)
        # new ring: the last R frames, frame at concatenated index j goes to slot (p + j) % R
        inv = [(m - p - n) % r + n for m in range(r)]
        return self.out(y), keys[:, :, inv].transpose(-1, -2), vals[:, :, inv], ok[:, inv]

    def ring_step(self, x: Tensor, kc: Tensor, vc: Tensor, ring: dict[str, Tensor], bias: Tensor, b: int,
                  n: int) -> tuple[Tensor, Tensor, Tensor]:
        """Exported path, 2-D: x [B*n, d]; kc [B, h, dh, R]; vc [B, h, R, dh]; ``ring``: the
        per-position tables looked up by ``pos`` (DanceNet.step), ``bias`` [1, h, n, R] this
        layer's relative bias and window mask. Returns
        (y [B*n, d], kc', vc')."""
        d = x.shape[-1]
        q, kn, vn = self.qkv(x).chunk(3, dim=-1)
        q = (q * (1.0 / math.sqrt(self.dh))).reshape(b, n, self.heads, self.dh).transpose(1, 2)  # [B, h, n, dh]
        kn = kn.reshape(b, n, self.heads, self.dh).permute(0, 2, 3, 1)  # [B, h, dh, n]
        vn = vn.reshape(b, n, self.heads, self.dh).transpose(1, 2)  # [B, h, n, dh]
        kc = kc * ring["keep_k"] + torch.matmul(kn, ring["write"])  # [B, h, dh, R]
        vc = vc * ring["keep_v"] + torch.matmul(ring["write_t"], vn)  # [B, h, R, dh]
        scores = torch.matmul(q, kc) + bias + ring["mask"]
        att = torch.softmax(scores, dim=-1)
        y = torch.matmul(att, vc).transpose(1, 2).reshape(b * n, d)
        return self.out(y), kc, vc

    def bias_table(self, n: int, r: int) -> Tensor:
        """Relative bias with the window mask per ring position p: [R, h, n, R]."""
        age = ring_ages(n, r)
        bias = self.rel_bias[:, age.clamp(max=self.k)]  # [h, R, n, R]
        return torch.where(age <= self.k, bias, torch.full_like(bias, NEG)).permute(1, 0, 2, 3)


def ring_ages(n: int, r: int) -> Tensor:
    """Age of slot j for new frame i when the block starts at ring position p: [R, n, R]."""
    p = torch.arange(r).reshape(r, 1, 1)
    i = torch.arange(n).reshape(1, n, 1)
    j = torch.arange(r).reshape(1, 1, r)
    return (p + i - j) % r


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

    def forward(self, x: Tensor, kc: Tensor, vc: Tensor, valid: Tensor, pos: Tensor
                ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        a, kc, vc, valid = self.attn(self.ln1(x), kc, vc, valid, pos)
        x = x + self.drop(a)
        x = x + self.drop(self.ffn(self.ln2(x)))
        return x, kc, vc, valid

    def ring_step(self, x: Tensor, kc: Tensor, vc: Tensor, ring: dict[str, Tensor], bias: Tensor, b: int,
                  n: int) -> tuple[Tensor, Tensor, Tensor]:
        a, kc, vc = self.attn.ring_step(self.ln1(x), kc, vc, ring, bias, b, n)
        x = x + a
        return x + self.ffn(self.ln2(x)), kc, vc


class DanceNet(nn.Module):
    """Music encoder + noise-conditioned autoregressive LSTM decoder; see the module docstring."""

    feat_mean: Tensor
    feat_std: Tensor
    pose_mean: Tensor
    pose_std: Tensor

    def __init__(self, cfg: NetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        d, p, hid = cfg.d_model, cfg.pose_dim, cfg.lstm_hidden
        self.inp = nn.Linear(cfg.feature_dim, d)
        self.blocks = nn.ModuleList(EncoderBlock(cfg) for _ in range(cfg.layers))
        self.ln_f = nn.LayerNorm(d)
        self.style_table = nn.Parameter(torch.randn(cfg.n_styles, cfg.style_dim) * 0.5)
        self.static_dim = d + cfg.style_dim + 1 + 2 * cfg.noise_dim
        # Fused LSTM gates, order (i, f, o, g): layer 0 = static part (all frames at once)
        # + [prev pose, h]; layer l > 0 = [h_{l-1}, h_l].
        bound = 1.0 / math.sqrt(hid)
        self.w_static = nn.Parameter(torch.empty(self.static_dim, 4 * hid).uniform_(-bound, bound))
        self.w_rec = nn.ParameterList(
            nn.Parameter(torch.empty((p if i == 0 else hid) + hid, 4 * hid).uniform_(-bound, bound))
            for i in range(cfg.lstm_layers)
        )
        b = torch.zeros(cfg.lstm_layers, 4 * hid)
        b[:, hid:2 * hid] = 1.0  # forget gate bias
        self.b_gates = nn.Parameter(b)
        self.head = nn.Linear(hid, p)
        self.register_buffer("feat_mean", torch.zeros(cfg.feature_dim))
        self.register_buffer("feat_std", torch.ones(cfg.feature_dim))
        self.register_buffer("pose_mean", torch.zeros(p))
        self.register_buffer("pose_std", torch.ones(p))

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
    def state_names(self) -> tuple[str, ...]:
        """Names of the state tensors, in the order of a State tuple."""
        return state_names(self.cfg)

    def state_shapes(self, batch: int, *, block: int = 1) -> dict[str, tuple[int, ...]]:
        c = self.cfg
        r = c.window + block
        dh = c.d_model // c.heads
        out: dict[str, tuple[int, ...]] = {}
        for i in range(c.layers):
            out[f"k{i}"] = (batch, c.heads, dh, r)
        for i in range(c.layers):
            out[f"v{i}"] = (batch, c.heads, r, dh)
        out["valid"] = (batch, r)
        out["pos"] = (1,)
        for i in range(c.lstm_layers):
            out[f"h{i}"] = (batch, c.lstm_hidden)
        for i in range(c.lstm_layers):
            out[f"c{i}"] = (batch, c.lstm_hidden)
        out["z"] = (batch, 2 * c.noise_dim)
        out["phase"] = (batch, 1)
        out["ema"] = (batch, c.pose_dim)
        return out

    def init_state(self, batch: int, *, seed: int, block: int = 1,
                   device: torch.device | str | None = None) -> State:
        """A fresh stream state: empty caches, seeded LSTM h and latent z, pos and phase 0."""
        dev = torch.device(device) if device is not None else self.feat_mean.device
        shapes = self.state_shapes(batch, block=block)
        g = torch.Generator().manual_seed(int(seed))
        out = []
        for name in self.state_names():
            if name.startswith("h"):
                out.append((torch.randn(shapes[name], generator=g) * self.cfg.init_std).to(dev))
            elif name == "z":
                out.append(torch.randn(shapes[name], generator=g).to(dev))
            else:
                out.append(torch.zeros(shapes[name], device=dev))
        return tuple(out)

    def _split_state(self, state: State) -> tuple[list[Tensor], list[Tensor], Tensor, Tensor, DecState]:
        nl, nd = self.cfg.layers, self.cfg.lstm_layers
        st = list(state)
        ks, vs = st[:nl], st[nl:2 * nl]
        valid, pos = st[2 * nl], st[2 * nl + 1]
        hs, cs = st[2 * nl + 2:2 * nl + 2 + nd], st[2 * nl + 2 + nd:2 * nl + 2 + 2 * nd]
        z, phase, ema = st[-3], st[-2], st[-1]
        return ks, vs, valid, pos, (hs, cs, z, phase, ema)

    @staticmethod
    def _join_state(ks: list[Tensor], vs: list[Tensor], valid: Tensor, pos: Tensor, dec: DecState) -> State:
        hs, cs, z, phase, ema = dec
        return (*ks, *vs, valid, pos, *hs, *cs, z, phase, ema)

    def make_noise(self, batch: int, n: int, *, generator: torch.Generator | None = None,
                   device: torch.device | str | None = None) -> Tensor:
        """Standard-normal noise input [batch, n, 2 * noise_dim]."""
        dev = torch.device(device) if device is not None else self.feat_mean.device
        return torch.randn(batch, n, 2 * self.cfg.noise_dim, generator=generator).to(dev)

    # ----------------------------------------------------------------- encoder
    def encode(self, feat: Tensor, ks: list[Tensor], vs: list[Tensor], valid: Tensor, pos: Tensor
               ) -> tuple[Tensor, list[Tensor], list[Tensor], Tensor, Tensor]:
        """General path: raw features [B, n, F] -> encoder output [B, n, d] and the new ring."""
        x = self.inp((feat - self.feat_mean) / self.feat_std)
        nk, nv = [], []
        new_valid = valid
        for i, blk in enumerate(self.blocks):
            x, k_i, v_i, new_valid = blk(x, ks[i], vs[i], valid, pos)
            nk.append(k_i)
            nv.append(v_i)
        r = valid.shape[-1]
        pos = torch.remainder(pos + feat.shape[1], r) if r else pos
        return self.ln_f(x), nk, nv, new_valid, pos

    def encode_seq(self, feat: Tensor) -> Tensor:
        """Encoder output [B, n, d] of a sequence from an empty cache (training)."""
        st = self.state_shapes(feat.shape[0], block=1)
        dev = feat.device
        nl = self.cfg.layers
        ks = [torch.zeros(st[f"k{i}"], device=dev) for i in range(nl)]
        vs = [torch.zeros(st[f"v{i}"], device=dev) for i in range(nl)]
        return self.encode(feat, ks, vs, torch.zeros(st["valid"], device=dev), torch.zeros(1, device=dev))[0]

    def style_embedding(self, style_w: Tensor) -> Tensor:
        """Style weights [B, S] -> embedding [B, style_dim] (a weighted mix of learned vectors)."""
        return style_w @ self.style_table

    # ----------------------------------------------------------------- decoder
    def _latent_consts(self, ref: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        nd = self.cfg.noise_dim
        a = math.exp(-1.0 / max(self.cfg.noise_tau, 1e-3))
        m = torch.cat([torch.ones(nd), torch.zeros(nd)])  # phrase part
        c1 = torch.cat([torch.ones(nd), torch.full((nd,), a)])
        c2 = torch.cat([torch.zeros(nd), torch.full((nd,), math.sqrt(1.0 - a * a))])
        return m.to(ref), c1.to(ref), c2.to(ref)

    def latent(self, z: Tensor, phase: Tensor, noise: Tensor, variation: Tensor) -> tuple[list[Tensor], Tensor, Tensor]:
        """The latents of the next n frames (n x [B, 2N], scaled by variation), final z and phase."""
        m, c1, c2 = self._latent_consts(z)
        scale = variation_scale(variation)  # [B, 1]
        outs = []
        for eps in noise.unbind(1):  # unbind: its backward is one stack, not a zero-fill per frame
            rm = (phase < 0.5).to(z.dtype) * m  # [B, 2N]: 1 on the phrase part at a redraw
            z = z * (c1 - rm) + eps * (c2 + rm)
            phase = torch.fmod(phase + 1.0, float(self.cfg.phrase_frames))
            outs.append(z * scale)
        return outs, z, phase

    def _cell(self, g: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
        hid = self.cfg.lstm_hidden
        s, gg = g.split([3 * hid, hid], dim=-1)
        i, f, o = torch.sigmoid(s).chunk(3, dim=-1)
        c = f * c + i * torch.tanh(gg)
        return o * torch.tanh(c), c

    def decode(self, enc: Tensor, prev_pose: Tensor, dec_state: DecState, style_w: Tensor, controls: Tensor,
               noise: Tensor, *, teacher: Tensor | None = None, teacher_mask: list[bool] | None = None
               ) -> tuple[Tensor, DecState]:
        """Decoder over n frames: enc [B, n, d], prev_pose [B, P] raw, dec_state (h list, c list,
        z, phase), noise [B, n, 2N]. teacher [B, n, P] raw with teacher_mask (n booleans):
        where teacher_mask[t] the pose fed back after frame t is teacher[:, t] (curriculum).
        Returns raw poses [B, n, P] and the new decoder state."""
        hs, cs, z, phase, ema = dec_state
        hs, cs = list(hs), list(cs)
        b, n, _ = enc.shape
        gain, alpha = self._gain(controls)
        lats, z, phase = self.latent(z, phase, noise, controls[:, 1:2])
        cond = torch.cat([self.style_embedding(style_w), controls[:, 0:1]], dim=-1)
        static = torch.cat([enc, cond.unsqueeze(1).expand(b, n, cond.shape[-1]), torch.stack(lats, 1)], dim=-1)
        gs = (torch.matmul(static, self.w_static) + self.b_gates[0]).unbind(1)  # n x [B, 4H]
        prev_n = self.norm_pose(prev_pose)
        teach_n = self.norm_pose(teacher).unbind(1) if teacher is not None else None
        outs: list[Tensor] = []
        for t in range(n):
            if teach_n is not None and teacher_mask is not None and t > 0 and teacher_mask[t - 1]:
                prev_n = teach_n[t - 1]
            x = prev_n
            for layer in range(self.cfg.lstm_layers):
                g = torch.matmul(torch.cat([x, hs[layer]], dim=-1), self.w_rec[layer])
                g = g + (gs[t] if layer == 0 else self.b_gates[layer])
                hs[layer], cs[layer] = self._cell(g, cs[layer])
                x = hs[layer]
            prev_n = self.head(x)
            if gain is not None:
                prev_n = ema + gain * (prev_n - ema)
                ema = ema + alpha * (prev_n - ema)
            outs.append(prev_n)
        poses = self.denorm_pose(torch.stack(outs, dim=1))
        return poses, (hs, cs, z, phase, ema)

    def _gain(self, controls: Tensor) -> tuple[Tensor | None, float]:
        """Energy gain [B, 1] (None when energy_gain is 0) and the EMA rate."""
        if self.cfg.energy_gain <= 0:
            return None, 0.0
        gain = torch.pow(controls[:, 0:1].clamp_min(0.05), self.cfg.energy_gain)
        return gain, 1.0 / max(self.cfg.ema_tau, 1.0)

    # ----------------------------------------------------------------- forward / step
    def forward(self, feat: Tensor, prev_pose: Tensor, state: State, style_w: Tensor, controls: Tensor,
                noise: Tensor, *, teacher: Tensor | None = None, teacher_mask: list[bool] | None = None
                ) -> tuple[Tensor, State]:
        """Generate poses for n frames (general path; see ``decode`` for teacher forcing).

        feat [B, n, F] raw; prev_pose [B, P] raw; style_w [B, S]; controls [B, C];
        noise [B, n, 2N]. Returns raw poses [B, n, P] and the new state.
        """
        ks, vs, valid, pos, dec = self._split_state(state)
        enc, ks, vs, valid, pos = self.encode(feat, ks, vs, valid, pos)
        poses, dec = self.decode(enc, prev_pose, dec, style_w, controls, noise,
                                 teacher=teacher, teacher_mask=teacher_mask)
        return poses, self._join_state(ks, vs, valid, pos, dec)

    def step(self, feat: Tensor, prev_pose: Tensor, state: State, style_w: Tensor, controls: Tensor,
             noise: Tensor) -> tuple[Tensor, State]:
        """Streaming step, the exported graph: n = block new frames into a ring of
        R = window + block slots; 2-D matrix products, normalisations folded into weights,
        one table lookup per ring quantity. Same result as ``forward``."""
        ks, vs, valid, pos, (hs, cs, z, phase, ema) = self._split_state(state)
        hs, cs = list(hs), list(cs)
        cfg = self.cfg
        b, n, _ = feat.shape
        r = valid.shape[-1]
        if r < cfg.window + n:
            raise ValueError(f"ring of {r} slots is too small for window {cfg.window} + block {n}")
        # ring tables per position (constants after export folding), looked up by pos
        pi = pos.long()
        pp = torch.arange(r).reshape(r, 1, 1)
        write = (((pp + torch.arange(n).reshape(1, n, 1)) % r) == torch.arange(r).reshape(1, 1, r)).to(feat.dtype)
        keep = 1.0 - write.sum(1)  # [R, R]
        ring = {
            "write": write[pi],  # [1, n, R]
            "write_t": write.transpose(1, 2)[pi],  # [1, R, n]
            "keep_k": keep.reshape(r, 1, 1, r)[pi],  # [1, 1, 1, R]
            "keep_v": keep.reshape(r, 1, r, 1)[pi],  # [1, 1, R, 1]
        }
        valid = valid * keep[pi] + (1.0 - keep)[pi]
        ring["mask"] = ((valid - 1.0) * -NEG).reshape(b, 1, 1, r)
        # encoder, input normalisation folded into the projection
        w_in = (self.inp.weight / self.feat_std).t()
        b_in = self.inp.bias - (self.feat_mean / self.feat_std) @ self.inp.weight.t()
        x = torch.matmul(feat.reshape(b * n, -1), w_in) + b_in  # [B*n, d]
        nk, nv = [], []
        for i, mod in enumerate(self.blocks):
            blk: EncoderBlock = mod  # type: ignore[assignment]
            bias = blk.attn.bias_table(n, r)[pi]  # [1, h, n, R]
            x, k_i, v_i = blk.ring_step(x, ks[i], vs[i], ring, bias, b, n)
            nk.append(k_i)
            nv.append(v_i)
        enc = self.ln_f(x)  # [B*n, d]
        pos = torch.fmod(pos + float(n), float(r))
        # decoder: pose normalisation folded into the first layer's weights and the head
        lats, z, phase = self.latent(z, phase, noise, controls[:, 1:2])
        cond = torch.cat([self.style_embedding(style_w), controls[:, 0:1]], dim=-1)  # [B, S'+1]
        lat = lats[0] if n == 1 else torch.stack(lats, 1).reshape(b * n, -1)
        cond_n = cond if n == 1 else cond.unsqueeze(1).expand(b, n, cond.shape[-1]).reshape(b * n, -1)
        p_dim = cfg.pose_dim
        w0 = self.w_rec[0]
        w0_raw = torch.cat([w0[:p_dim] / self.pose_std.unsqueeze(1), w0[p_dim:]], dim=0)
        b0 = self.b_gates[0] - (self.pose_mean / self.pose_std) @ w0[:p_dim]
        gs = torch.matmul(torch.cat([enc, cond_n, lat], dim=-1), self.w_static) + b0  # [B*n, 4H]
        gs_t = [gs] if n == 1 else list(gs.reshape(b, n, -1).unbind(1))
        w_head = self.head.weight.t() * self.pose_std
        b_head = self.head.bias * self.pose_std + self.pose_mean
        prev = prev_pose
        gain, alpha = self._gain(controls)
        ema_raw = ema * self.pose_std + self.pose_mean
        outs: list[Tensor] = []
        for t in range(n):
            x_t = prev
            for layer in range(cfg.lstm_layers):
                wl = w0_raw if layer == 0 else self.w_rec[layer]
                g = torch.matmul(torch.cat([x_t, hs[layer]], dim=-1), wl) + (gs_t[t] if layer == 0 else self.b_gates[layer])
                hs[layer], cs[layer] = self._cell(g, cs[layer])
                x_t = hs[layer]
            prev = torch.matmul(x_t, w_head) + b_head
            if gain is not None:  # the same affine map in raw units
                prev = ema_raw + gain * (prev - ema_raw)
                ema_raw = ema_raw + alpha * (prev - ema_raw)
            outs.append(prev)
        poses = outs[0].unsqueeze(1) if n == 1 else torch.stack(outs, dim=1)
        ema = (ema_raw - self.pose_mean) / self.pose_std
        return poses, self._join_state(nk, nv, valid, pos, (hs, cs, z, phase, ema))

    # ----------------------------------------------------------------- fine-tuning
    def add_style(self) -> int:
        """Append a style vector (initialised to the mean of the others); returns its index."""
        with torch.no_grad():
            new = self.style_table.mean(dim=0, keepdim=True)
            self.style_table = nn.Parameter(torch.cat([self.style_table.data, new], dim=0))
        self.cfg.n_styles += 1
        return self.cfg.n_styles - 1

    def decoder_parameters(self) -> list[nn.Parameter]:
        return [self.style_table, self.w_static, *self.w_rec, self.b_gates, *self.head.parameters()]

    def encoder_modules(self) -> tuple[nn.Module, ...]:
        return (self.inp, self.blocks, self.ln_f)


class StepModule(nn.Module):
    """Flat-tensor wrapper of ``DanceNet.step`` for ONNX export.

    forward(feat [1, n, F], prev_pose [1, P], style_w [1, S], controls [1, C], noise [1, n, 2N],
    *state) -> (pose [1, n, P], *state). Built in eval mode.
    """

    def __init__(self, net: DanceNet) -> None:
        super().__init__()
        self.net = net
        self.eval()  # export restores the wrapper's mode afterwards: keep dropout off

    def forward(self, feat: Tensor, prev_pose: Tensor, style_w: Tensor, controls: Tensor, noise: Tensor,
                *state: Tensor) -> tuple[Tensor, ...]:  # state in net.state_names() order
        pose, new = self.net.step(feat, prev_pose, tuple(state), style_w, controls, noise)
        return (pose, *new)


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


__all__ = ["NetConfig", "DanceNet", "StepModule", "CONTROL_NAMES", "POSE_DIM",
           "build", "load_checkpoint_model", "state_names", "variation_scale"]
