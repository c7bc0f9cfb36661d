"""Training DanceNet: curriculum, losses, checkpoints with resume, validation, fine-tuning, DDP.

``train(data=..., out=..., ...)`` is what `dancemuse train` runs. In short:

* Data: clips of a DanceMuse dataset with their features (model/train_data.py); a share
  of every style is held out for validation. Windows of ``seq_len`` frames are drawn in
  proportion to clip length.
* Data: one or several dataset folders (``data`` a path or a list); with
  ``data_weights`` (folder -> weight) a folder's windows are drawn with that share.
  Styles are the union of the folders' style labels.
* Loss (``samples`` >= 2, the default): the energy score, a proper scoring rule that is
  minimal only when the decoder's samples have the data's distribution. Per window the
  encoder runs once and the decoder ``samples`` times with independent noise; over chunks
  of ``es_window`` frames and per joint (3 x es_window numbers, normalised),
  ES = mean_s ||y_s - x|| - 1/2 mean_{s != s'} ||y_s - y_s'||, the same on frame-to-frame
  changes (weight ``w_vel``), plus ``w_bone`` x relative bone-length error. With
  ``samples`` = 1 it is the old L1 regression. ``w_speed`` > 0 adds a motion-amount
  term: per window and pose channel the mean absolute frame-to-frame change and the mean
  absolute second difference of every sample against the target's, as a share of the
  target's batch mean (so a decoder that covers the data's poses at half the data's speed
  pays for it, whatever the timing of its moves); ``speed_norm = "window"`` takes the share
  of each window's own target instead, so a slow style's shortfall costs as much as a fast
  one's. Adam with warm-up and cosine decay,
  gradient clipping. Teacher forcing follows DanceRevolution's curriculum
  (model/curriculum.py). ``amp_aug`` of the windows get their moves scaled (bones kept)
  and the energy control measured after, so energy learns the size of the moves.
* Device: ``auto`` takes CUDA when available; mixed precision (fp16 autocast + grad
  scaler) on CUDA. Deterministic for a seed on CPU. ``torch.set_num_threads(threads)``.
* Checkpoints ``RUN/last.pt`` every ``ckpt_every`` steps and at the end (also copied to
  ``RUN/final.pt``), ``RUN/best.pt`` at the best validation loss; written to a temporary
  file and renamed, so a kill never leaves a torn file. A checkpoint holds ``model,
  optim, scaler, step, best, config (NetConfig dict), train_config, feature_spec, styles,
  norm, data_summary, rng``. ``resume=True`` continues from ``RUN/last.pt`` with the same
  data stream (bit-exact on CPU).
* Validation every ``val_every`` epochs (an epoch = training frames / (batch x seq_len)
  steps): loss at the final curriculum on fixed held-out windows, and free-running dances
  of the held-out clips scored with model.metrics (BAS vs the data's, freeze ratio, bone
  error). ``RUN/log.csv`` gets a row per validation and ``RUN/curves.png`` is redrawn.
* Fine-tuning: ``init=CKPT`` starts from a trained model (its normalisation is kept);
  ``new_style=NAME`` appends a style vector; ``freeze_encoder`` trains only the decoder;
  ``fresh_decoder`` draws the decoder (style table, static and latent gates, LSTM, head) afresh,
  so that it is trained from scratch on the init's music encoder.
* DDP: under ``torchrun`` (WORLD_SIZE > 1) the model is wrapped in
  DistributedDataParallel (gloo on CPU, nccl on CUDA); each rank draws its own windows;
  rank 0 writes checkpoints and logs. Resume under DDP continues but is not bit-exact.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch

from model.curriculum import Curriculum
from model.errors import ConfigError, ModelError
from model.network import DanceNet, NetConfig, build
from model.skeleton import NECK, NUM_JOINTS, PARENTS, ROOT
from model.style_critic import StyleCritic, critic_from_state, critic_state, train_critic
from model.train_checks import check_train_config, check_training_data
from model.train_data import (
    TrainClip,
    WindowSampler,
    data_summary,
    load_folders,
    norm_stats,
    split_clips,
)
from model.train_report import plot_curves, validate, write_csv_row


@dataclass
class TrainConfig:
    """Training hyper-parameters ([train] table of a training TOML)."""

    steps: int = 3000
    batch: int = 16
    seq_len: int = 120
    lr: float = 1e-3
    lr_min_ratio: float = 0.1
    warmup: int = 100
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    w_vel: float = 1.0
    w_bone: float = 1.0
    w_speed: float = 0.0
    """Weight of the motion-amount term (mean speed and acceleration per window vs the
    target's; energy-score loss only). 0 = off."""
    speed_norm: str = "batch"
    """What the motion-amount term's mismatch is a share of: ``"batch"`` the batch's mean
    target motion, ``"window"`` each window's own (slow styles pay for moving too little as
    much as fast ones do)."""
    w_style: float = 0.0
    """Weight of the style critic's cross-entropy of the model's own samples against the
    style asked for (``model.style_critic``: trained on the training windows before the run,
    then frozen). 0 = off."""
    w_style_swap: float = 0.0
    """Weight of the style critic's cross-entropy of a second, free-running dance of every
    window's style to *another* window's music (the batch's music rolled by one; no
    ground-truth motion, only the critic judges it): the style must read as itself on any
    music, not only on the songs it was danced to. Needs ``w_style`` > 0 (the critic). 0 = off."""
    swap_strength: float = 1.0
    """Style strength of that second dance (``live.control.strengthen``: 1 = the style as
    learnt; the show feeds 2 by default, where v16 crouched deeper than its data)."""
    w_posture: float = 0.0
    """Weight of the posture term on that second dance: per window the distance (m, mean over
    joints) between its mean pose and the window's own data's, both root-relative and turned
    to face +z (:func:`posture`): the style keeps its stance on other music and at
    ``swap_strength``. Runs the second dance even without the critic. 0 = off."""
    posture_target: str = "window"
    """What that mean pose is held to: ``"window"`` the window's own data's; ``"style"`` the
    mean stance of all the training data of the window's style (the batch's dances of one style
    averaged first), so the moves may differ with the music while the stance stays the style's."""
    w_beat: float = 0.0
    """Weight of the beat-dip term: per window, how much the samples' joint speed dips on
    the beat the model hears (the ``beat_phase`` feature: speed ~ 1 - g cos(2 pi phase)),
    |g(sample) - g(target)| (:func:`beat_dip`). The energy score alone left v12 moving at
    the same speed on and off the beat (g ~0-0.27 raw, the synthetic data 0.2-0.76): the
    post-processing's groove did all the beat alignment. 0 = off."""
    w_diverse: float = 0.0
    """Weight of the diversity hinge: per window, every pair of the decoder's samples (the
    same music and history, other latent draws) is compared over 2-s stretches after the
    first second (root-relative joints every third frame, RMS distance, m); a pair nearer
    than ``diverse_m`` pays (diverse_m - d) / diverse_m. Tried against the repetition line
    (models/v30_diverse.toml; models/README.md, session 52): the samples moved apart, and the
    dance repeated itself *more* relative to its wider spread (2.6 % of windows under 0.3
    against 1.0 %), so no shipped model uses it. Needs ``samples`` >= 2. 0 = off."""
    diverse_m: float = 0.15
    move_tokens: int = 0
    """Move tokens (model/move_tokens.py): with k > 0, the held half of the latent names the
    data's next move (its code, the window's principal components at unit variance) in
    ``token_prob`` of the windows, and k k-means centres of the training windows become the
    tokens the latent pick draws from (exported as ``move_tokens``). Tried against the
    repetition line (models/v35_tokens.toml; models/README.md, session 55): no shipped model
    uses it. 0 = off (the held half is always a Gaussian draw)."""
    token_prob: float = 0.7
    """Share of the training windows whose held half names the data's next move."""
    """The distance (m) under which two samples' stretches count as the same move."""
    style_critic_steps: int = 700
    """Training steps of that critic (batches of 48 windows)."""
    samples: int = 2
    """Decoder samples per window (>= 2: energy-score loss; 1: L1 regression)."""
    es_window: int = 8
    """Frames per energy-score chunk."""
    amp_aug: float = 0.5
    """Share of windows whose move size is scaled (energy augmentation)."""
    amp_min: float = 0.3
    amp_max: float = 2.0
    mirror_aug: float = 0.0
    """Share of windows danced mirrored (left and right swapped, the travel too;
    model.train_data.mirror_vec): every move is then also seen on the other side. 0 = off."""
    tempo_aug: float = 0.0
    """Share of windows time-stretched (music and dance together, the rate log-uniform in
    tempo_min..tempo_max; model.train_data.stretch_window): each style heard at tempi its
    own songs lack, so the style input, not the tempo, tells the styles apart. 0 = off."""
    tempo_min: float = 0.75
    tempo_max: float = 1.33
    data_weights: dict[str, float] = field(default_factory=dict)
    """Sampling weight per data folder (as passed to --data; unlisted folders 1.0;
    empty: windows in proportion to frames)."""
    style_balance: float = 0.0
    """Within each data folder, a style's share of windows is proportional to its frames
    raised to (1 - style_balance): 0 = in proportion to frames, 1 = every style of a folder
    equally often, 0.5 = square root (a 1.8-minute style beside a 15-minute one is drawn
    twice as often as by frames, without being replayed as often as the big one)."""
    gt_span: int = 10
    pred_start: int = 1
    pred_max: int = 30
    grow_every: int = 50
    ckpt_every: int = 200
    val_every: int = 5
    """Validate every this many epochs (and at the end)."""
    val_fraction: float = 0.15
    val_windows: int = 24
    val_seconds: float = 20.0
    threads: int = 1
    seed: int = 0
    device: str = "auto"
    max_minutes: float = 0.0
    """Wall-clock budget (0 = none). With a budget the schedules (learning rate,
    curriculum) advance by max(step, elapsed share of the budget x steps) and training
    ends when either runs out: it finishes in time on a busy machine, at the price of
    bit-exact reproducibility."""

    @classmethod
    def from_dict(cls, d: dict[str, Any], *, where: str = "") -> TrainConfig:
        names = {f.name: f for f in fields(cls)}
        unknown = sorted(set(d) - set(names))
        if unknown:
            raise ConfigError(f"unknown [train] key(s) {', '.join(unknown)}{where}; known: {', '.join(names)}")
        tc = cls(**d)
        if tc.samples < 1 or tc.es_window < 1:
            raise ConfigError(f"[train] samples ({tc.samples}) and es_window ({tc.es_window}) must be >= 1{where}")
        if not isinstance(tc.data_weights, dict) or any(
                not isinstance(v, (int, float)) or v <= 0 for v in tc.data_weights.values()):
            raise ConfigError(f"[train] data_weights must map data folders to positive numbers{where}, "
                              'e.g. data_weights = { "data/synth_a" = 2.0, "data/mocap" = 1.0 }')
        if not isinstance(tc.w_speed, (int, float)) or not 0.0 <= float(tc.w_speed) < 100.0:
            raise ConfigError(f"[train] w_speed must be a number from 0 (off) to 100{where}, got {tc.w_speed!r}")
        if tc.speed_norm not in SPEED_NORMS:
            raise ConfigError(f"[train] speed_norm must be one of {', '.join(map(repr, SPEED_NORMS))}{where}, "
                              f"got {tc.speed_norm!r}")
        if not isinstance(tc.w_style, (int, float)) or not 0.0 <= float(tc.w_style) < 100.0:
            raise ConfigError(f"[train] w_style must be a number from 0 (off) to 100{where}, got {tc.w_style!r}")
        if not isinstance(tc.w_style_swap, (int, float)) or not 0.0 <= float(tc.w_style_swap) < 100.0:
            raise ConfigError(f"[train] w_style_swap must be a number from 0 (off) to 100{where}, "
                              f"got {tc.w_style_swap!r}")
        if not isinstance(tc.w_beat, (int, float)) or not 0.0 <= float(tc.w_beat) < 100.0:
            raise ConfigError(f"[train] w_beat must be a number from 0 (off) to 100{where}, got {tc.w_beat!r}")
        if not isinstance(tc.w_posture, (int, float)) or not 0.0 <= float(tc.w_posture) < 100.0:
            raise ConfigError(f"[train] w_posture must be a number from 0 (off) to 100{where}, got {tc.w_posture!r}")
        if tc.posture_target not in POSTURE_TARGETS:
            raise ConfigError(f"[train] posture_target must be one of {', '.join(map(repr, POSTURE_TARGETS))}{where}, "
                              f"got {tc.posture_target!r}")
        if not isinstance(tc.swap_strength, (int, float)) or not 0.0 < float(tc.swap_strength) <= 6.0:
            raise ConfigError(f"[train] swap_strength must be a number above 0, at most 6{where}, "
                              f"got {tc.swap_strength!r}")
        if not isinstance(tc.w_diverse, (int, float)) or not 0.0 <= float(tc.w_diverse) < 100.0:
            raise ConfigError(f"[train] w_diverse must be a number from 0 (off) to 100{where}, got {tc.w_diverse!r}")
        if not isinstance(tc.diverse_m, (int, float)) or not 0.0 < float(tc.diverse_m) <= 2.0:
            raise ConfigError(f"[train] diverse_m must be a distance in metres above 0, at most 2{where}, "
                              f"got {tc.diverse_m!r}")
        if not isinstance(tc.move_tokens, int) or isinstance(tc.move_tokens, bool) or not 0 <= tc.move_tokens <= 4096:
            raise ConfigError(f"[train] move_tokens must be a whole number from 0 (off) to 4096{where}, "
                              f"got {tc.move_tokens!r}")
        if not isinstance(tc.token_prob, (int, float)) or not 0.0 <= float(tc.token_prob) <= 1.0:
            raise ConfigError(f"[train] token_prob must be a share from 0 to 1{where}, got {tc.token_prob!r}")
        if tc.w_diverse > 0 and tc.samples < 2:
            raise ConfigError(f"[train] w_diverse compares the decoder's samples: set samples >= 2{where}")
        if tc.w_diverse > 0 and tc.seq_len < DIVERSE_SKIP + DIVERSE_SUB * DIVERSE_WIN:
            raise ConfigError(f"[train] w_diverse compares 2-s stretches after the first second: set seq_len >= "
                              f"{DIVERSE_SKIP + DIVERSE_SUB * DIVERSE_WIN}{where}, got {tc.seq_len}")
        if tc.w_style_swap > 0 and not tc.w_style > 0:
            raise ConfigError(f"[train] w_style_swap needs the style critic: set w_style > 0{where}")
        if not isinstance(tc.style_balance, (int, float)) or not 0.0 <= float(tc.style_balance) <= 1.0:
            raise ConfigError(f"[train] style_balance must be a number from 0 (by frames) to 1 (styles equal){where}, "
                              f"got {tc.style_balance!r}")
        return tc


def load_train_config(path: str | Path | None) -> tuple[NetConfig, TrainConfig, dict[str, Any]]:
    """Read a training TOML with [net] (NetConfig), [train] (TrainConfig) and optional
    [features] overrides. Missing file -> defaults. Raises ConfigError."""
    import tomllib

    if path is None:
        return NetConfig(), TrainConfig(), {}
    p = Path(path)
    try:
        doc = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"training config {p} not found; pass an existing --train-config file") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"training config {p} is not valid TOML: {e}") from None
    net_keys = {f.name for f in fields(NetConfig)}
    bad = sorted(set(doc.get("net", {})) - net_keys)
    if bad:
        raise ConfigError(f"unknown [net] key(s) {', '.join(bad)} in {p}; known: {', '.join(sorted(net_keys))}")
    extra = sorted(set(doc) - {"net", "train", "features", "command"})
    if extra:
        raise ConfigError(f"unknown table(s) {', '.join(extra)} in {p}; use [net], [train], [features]")
    return NetConfig(**doc.get("net", {})), TrainConfig.from_dict(doc.get("train", {}), where=f" in {p}"), dict(doc.get("features", {}))


# --------------------------------------------------------------------------- losses


def _parent_matrix() -> torch.Tensor:
    """M [17, 17] with (M @ joints)[j] = position of j's parent (virtual root/neck averaged)."""
    m = torch.zeros(NUM_JOINTS, NUM_JOINTS)
    for j, p in enumerate(PARENTS):
        if p == ROOT:
            m[j, 11] = m[j, 12] = 0.5
        elif p == NECK:
            m[j, 5] = m[j, 6] = 0.5
        else:
            m[j, p] = 1.0
    return m


_PARENT_M = _parent_matrix()


def bone_lengths_t(vec: torch.Tensor) -> torch.Tensor:
    """Pose vectors [..., 54] -> bone lengths [..., 17] (torch)."""
    j = vec[..., :51].reshape(*vec.shape[:-1], NUM_JOINTS, 3)
    parent = torch.einsum("ij,...jc->...ic", _PARENT_M.to(j.device, j.dtype), j)
    return (j - parent).norm(dim=-1)


def losses(net: DanceNet, pred: torch.Tensor, target: torch.Tensor, *, w_vel: float,
           w_bone: float) -> dict[str, torch.Tensor]:
    """pred, target: raw pose vectors [B, T, P] -> {"loss", "l1", "vel", "bone"} (L1 regression)."""
    pn, tn = net.norm_pose(pred.float()), net.norm_pose(target.float())
    l1 = (pn - tn).abs().mean()
    vel = ((pn[:, 1:] - pn[:, :-1]) - (tn[:, 1:] - tn[:, :-1])).abs().mean()
    lb_t = bone_lengths_t(target.float())
    bone = ((bone_lengths_t(pred.float()) - lb_t).abs() / lb_t.clamp_min(1e-3)).mean()
    return {"loss": l1 + w_vel * vel + w_bone * bone, "l1": l1, "vel": vel, "bone": bone}


def _groups(x: torch.Tensor, w: int) -> torch.Tensor:
    """[S, B, T, 54] -> [S, B, T // w, 18, 3 * w]: chunks of w frames per joint (root = 18th)."""
    s, b, t, p = x.shape
    t = (t // w) * w
    x = x[:, :, :t].reshape(s, b, t // w, w, p // 3, 3)
    return x.permute(0, 1, 2, 4, 3, 5).reshape(s, b, t // w, p // 3, 3 * w)


def energy_score(samples: torch.Tensor, target: torch.Tensor, *, window: int) -> torch.Tensor:
    """Energy score of ``samples`` [S, B, T, P] against ``target`` [B, T, P] (both
    normalised): over chunks of ``window`` frames per joint, mean_s ||y_s - x|| -
    1/2 mean_{s != s'} ||y_s - y_s'||; averaged over chunks, joints and batch."""
    ys = _groups(samples, window)
    x = _groups(target.unsqueeze(0), window)

    def norm(a: torch.Tensor) -> torch.Tensor:
        return (a.pow(2).sum(-1) + 1e-8).sqrt()

    fit = norm(ys - x).mean()
    n = ys.shape[0]
    if n < 2:
        return fit
    spread = torch.stack([norm(ys[i] - ys[j]).mean() for i in range(n) for j in range(i + 1, n)]).mean()
    return fit - 0.5 * spread


SPEED_NORMS = ("batch", "window")
WINDOW_FLOOR = 0.1
"""``speed_norm = "window"``: a window's target motion counts as at least this share of the
batch's mean (a window held still in silence would otherwise make any motion infinitely dear)."""


DIVERSE_SKIP = 30
"""Frames at the start of a window the diversity hinge leaves out (the samples start from the
same pose and the teacher-forced span)."""
DIVERSE_SUB = 3
"""The hinge compares every DIVERSE_SUB-th frame (10 Hz at 30 fps, as the repetition line)."""
DIVERSE_WIN = 20
"""Compared samples per stretch (2 s at 10 Hz); stretches every DIVERSE_WIN // 2 samples."""


def sample_distances(preds: torch.Tensor) -> torch.Tensor:
    """RMS joint distance (m) between every pair of samples ``preds`` [S, B, T, P] (raw pose
    vectors, the first 51 values root-relative joints) over 2-s stretches after the first
    DIVERSE_SKIP frames: [pairs, B, stretches]; empty when the window is too short."""
    j = preds[:, :, DIVERSE_SKIP::DIVERSE_SUB, :51]  # [S, B, n, 51]
    n, hop = j.shape[2], DIVERSE_WIN // 2
    starts = list(range(0, n - DIVERSE_WIN + 1, hop))
    s = j.shape[0]
    if not starts or s < 2:
        return preds.new_zeros((0,))
    out = []
    for a in range(s):
        for b in range(a + 1, s):
            d2 = (j[a] - j[b]).unflatten(-1, (17, 3)).pow(2).sum(-1)  # [B, n, 17]
            out.append(torch.stack([d2[:, k: k + DIVERSE_WIN].mean((1, 2)) for k in starts], -1))
    return (torch.stack(out) + 1e-10).sqrt()


def diverse_hinge(preds: torch.Tensor, margin: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(hinge, mean distance): mean of relu(margin - d) / margin over :func:`sample_distances`."""
    d = sample_distances(preds.float())
    if d.numel() == 0:
        z = preds.new_zeros(())
        return z, z
    return (torch.relu(margin - d) / margin).mean(), d.mean()


def beat_dip(poses: torch.Tensor, cos_phase: torch.Tensor) -> torch.Tensor:
    """How much motion dips on the beat: ``poses`` [..., T, P] (raw pose vectors, the first
    51 values root-relative joints; T >= 2), ``cos_phase`` [..., T] the cosine of the beat
    phase at each frame (1 on the beat). Per window the root-relative joint speed over its
    window mean, s_t, fitted as s ~ 1 - g cos: g = -2 mean(s_t cos_t) (the speed from frame
    t-1 to t goes with frame t). -> g [...]; 0 for a window that moves evenly or has no
    beat, ~0.5-0.8 for the synthetic styles that slow on the beat."""
    j = poses[..., :51].unflatten(-1, (17, 3))
    v = (j[..., 1:, :, :] - j[..., :-1, :, :]).norm(dim=-1).mean(-1)  # [..., T-1]
    s = v / v.mean(-1, keepdim=True).clamp_min(1e-6)
    return -2.0 * (s * cos_phase[..., 1:]).mean(-1)


POSTURE_TARGETS = ("window", "style")


def posture(poses: torch.Tensor) -> torch.Tensor:
    """Mean pose of each window: pose vectors [..., T, P] (the first 51 values root-relative
    joints) -> [..., 17, 3], every frame turned about the vertical so that the hip line points
    along +x (the facing the style classifier's pose descriptors use), then averaged over T."""
    from model.skeleton import JOINT_INDEX

    j = poses[..., :51].unflatten(-1, (17, 3))
    h = j[..., JOINT_INDEX["left_hip"], :] - j[..., JOINT_INDEX["right_hip"], :]
    n = torch.sqrt(h[..., 0] ** 2 + h[..., 2] ** 2).clamp_min(1e-6)
    c, s = (h[..., 0] / n).unsqueeze(-1), (h[..., 2] / n).unsqueeze(-1)
    x, y, z = j[..., 0], j[..., 1], j[..., 2]
    turned = torch.stack([c * x + s * z, y, c * z - s * x], dim=-1)
    return turned.mean(dim=-3)


def style_stances(clips: Sequence[Any], styles: Sequence[str]) -> torch.Tensor:
    """Every style's mean stance (:func:`posture`) over all frames of its clips: [n_styles, 17, 3]
    (zeros for a style without clips)."""
    out = []
    for s in styles:
        vecs = [c.vec for c in clips if c.style == s]
        out.append(posture(torch.from_numpy(np.concatenate(vecs)).float()) if vecs else torch.zeros(17, 3))
    return torch.stack(out)


def motion_amount(pn: torch.Tensor, tn: torch.Tensor, *, norm: str = "batch") -> torch.Tensor:
    """Motion-amount mismatch of samples ``pn`` [S, B, T, P] against ``tn`` [B, T, P]
    (normalised poses): per window and channel the mean |first difference| and mean
    |second difference| over time, |sample - target| summed over channels as a share of
    the target's; averaged. 0 when every sample moves exactly as much as the data.

    ``norm`` says what the share is of: ``"batch"`` the target's mean over the whole batch
    (a slow window's shortfall is small against the batch's fast ones, so a slow style can
    move at half the data's speed for little cost), ``"window"`` each window's own target
    (half the speed costs 0.5 in every window, slow or fast)."""
    if norm not in SPEED_NORMS:
        raise ValueError(f"norm must be one of {SPEED_NORMS}, got {norm!r}")
    out = pn.new_zeros(())
    dp, dt = pn, tn
    for _ in range(2):
        dp, dt = dp[:, :, 1:] - dp[:, :, :-1], dt[:, 1:] - dt[:, :-1]
        mp, mt = dp.abs().mean(2), dt.abs().mean(1)  # [S, B, P], [B, P]
        if norm == "window":  # floored at WINDOW_FLOOR x the batch's mean (a still window is no 1/0)
            tot = mt.sum(-1)
            out = out + ((mp - mt).abs().sum(-1) / torch.maximum(tot, WINDOW_FLOOR * tot.mean()).clamp_min(1e-6)).mean()
        else:
            out = out + ((mp - mt).abs().mean() / mt.mean().clamp_min(1e-6))
    return 0.5 * out


def es_losses(net: DanceNet, preds: torch.Tensor, target: torch.Tensor, *, w_vel: float, w_bone: float,
              window: int, w_speed: float = 0.0, speed_norm: str = "batch") -> dict[str, torch.Tensor]:
    """preds [S, B, T, P] raw samples, target [B, T, P] raw -> {"loss", "l1", "vel", "bone", "es",
    "speed"}."""
    pn, tn = net.norm_pose(preds.float()), net.norm_pose(target.float())
    es = energy_score(pn, tn, window=window)
    vel = energy_score(pn[:, :, 1:] - pn[:, :, :-1], tn[:, 1:] - tn[:, :-1], window=window)
    lb_t = bone_lengths_t(target.float())
    bone = ((bone_lengths_t(preds.float()) - lb_t).abs() / lb_t.clamp_min(1e-3)).mean()
    l1 = (pn[0] - tn).abs().mean().detach()
    speed = motion_amount(pn, tn, norm=speed_norm)
    loss = es + w_vel * vel + w_bone * bone + (w_speed * speed if w_speed > 0 else 0.0)
    return {"loss": loss, "l1": l1, "vel": vel, "bone": bone, "es": es, "speed": speed.detach()}


CODE_MIN = 15
"""Samples (of model/move_tokens.py's 20 per 2 s) a held stretch needs inside the training window for
its move's code to be told (fewer: its code is barely known, and the held half stays a Gaussian draw)."""


class WindowLoss(torch.nn.Module):
    """The training computation of one batch (a module, so that DDP can wrap it): the
    encoder once, the decoder ``samples`` times with independent noise and random
    phrase phases, teacher-forced by the curriculum mask; returns the loss dict."""

    def __init__(self, net: DanceNet, tc: TrainConfig) -> None:
        super().__init__()
        self.net = net
        self.tc = tc
        self.critic: StyleCritic | None = None  # frozen style critic (w_style > 0)
        self.beat_cos: int | None = None  # feature column of cos(beat phase) (w_beat > 0)
        self.stance: torch.Tensor | None = None  # [n_styles, 17, 3] data stance per style (posture_target "style")
        self.codes: tuple[np.ndarray, np.ndarray, float] | None = None  # move codes: mean, components, rest
        self._solvers: dict[int, np.ndarray] = {}  # move_tokens.solver per window length, once

    def _apply_tokens(self, z: torch.Tensor, phase: torch.Tensor, noise: torch.Tensor, target: torch.Tensor,
                      generator: torch.Generator | None) -> None:
        """Held halves that name the data's next move (``[train] move_tokens``), in place: at each
        redraw (and for the held value the window starts with) the code of the target's frames
        that the held value covers (model/move_tokens.py), for ``token_prob`` of the rows; a
        stretch with fewer than CODE_MIN samples in the window keeps its Gaussian draw."""
        from model import move_tokens as mt

        assert self.codes is not None
        mean, comps, rest = self.codes
        nd, per = comps.shape[0], int(self.net.cfg.phrase_frames)
        bs, t, _ = target.shape
        use = (torch.rand(bs, generator=generator) < float(self.tc.token_prob)).nonzero().flatten().tolist()
        ph = phase[:, 0].long().tolist()
        joints = target[..., :51].detach().cpu().numpy()
        for i in use:
            first = (per - ph[i]) % per
            for a in ([0] if first else []) + list(range(first, t, per)):
                end = first if a == 0 and first else a + mt.WINDOW  # the frames this held value covers
                seg = joints[i, a:end: mt.SUB]
                if len(seg) < CODE_MIN:
                    continue
                if len(seg) not in self._solvers:
                    self._solvers[len(seg)] = mt.solver(comps, len(seg), rest)
                got = torch.from_numpy(mt.codes(mean, comps, seg[None], solve=self._solvers[len(seg)])[0]).to(z)
                if a == 0 and first:
                    z[i, :nd] = got
                else:
                    noise[i, a, :nd] = got

    def forward(self, feat: torch.Tensor, prev: torch.Tensor, style: torch.Tensor, controls: torch.Tensor,
                target: torch.Tensor, mask: list[bool], generator: torch.Generator | None = None
                ) -> dict[str, torch.Tensor]:
        net, tc = self.net, self.tc
        cfg = net.cfg
        s = max(1, tc.samples)
        b, t, _ = feat.shape
        dev = feat.device
        enc = net.encode_seq(feat)

        def rep(x: torch.Tensor) -> torch.Tensor:
            return x.repeat(s, *([1] * (x.dim() - 1)))

        bs = b * s
        h = torch.randn(cfg.lstm_layers, bs, cfg.lstm_hidden, generator=generator).to(dev) * cfg.init_std
        c = torch.zeros(cfg.lstm_layers, bs, cfg.lstm_hidden, device=dev)
        z = torch.randn(bs, 2 * cfg.noise_dim, generator=generator).to(dev)
        phase = torch.randint(0, cfg.phrase_frames, (bs, 1), generator=generator).float().to(dev)
        noise = torch.randn(bs, t, 2 * cfg.noise_dim, generator=generator).to(dev)
        if self.codes is not None:
            self._apply_tokens(z, phase, noise, rep(target), generator)
        ema = net.norm_pose(rep(prev))  # the recent mean starts at the pose before the window
        pred, _ = net.decode(rep(enc), rep(prev), (list(h.unbind(0)), list(c.unbind(0)), z, phase, ema), rep(style),
                             rep(controls), noise,
                             teacher=rep(target), teacher_mask=mask)
        preds = pred.reshape(s, b, t, -1)
        if s == 1:
            out = losses(net, preds[0], target, w_vel=tc.w_vel, w_bone=tc.w_bone)
        else:
            out = es_losses(net, preds, target, w_vel=tc.w_vel, w_bone=tc.w_bone, window=tc.es_window,
                            w_speed=tc.w_speed, speed_norm=tc.speed_norm)
        if tc.w_diverse > 0 and s > 1:
            hinge, dist = diverse_hinge(preds, tc.diverse_m)
            out["loss"] = out["loss"] + tc.w_diverse * hinge
            out["diverse"] = dist.detach()
        if tc.w_beat > 0 and self.beat_cos is not None:
            cosp = feat[..., self.beat_cos].float()  # [B, T]: the phase the model hears
            dip = (beat_dip(preds.float(), cosp) - beat_dip(target.float(), cosp)).abs().mean()
            out["loss"] = out["loss"] + tc.w_beat * dip
            out["beat"] = dip.detach()
        if self.critic is not None and tc.w_style > 0:
            logits = self.critic(pred.float())  # [S * B, n_styles]: every sample judged
            ce = torch.nn.functional.cross_entropy(logits, rep(style.argmax(1)))
            out["loss"] = out["loss"] + tc.w_style * ce
            out["style"] = ce.detach()
        swap_ce = tc.w_style_swap > 0 and self.critic is not None
        if (swap_ce or tc.w_posture > 0) and b > 1:
            # the same styles (at swap_strength) danced to the next window's music, free-running
            # from the window's own previous pose: the critic judges it, its stance is the data's
            st = (list(h[:, :b].unbind(0)), list(c[:, :b].unbind(0)), z[:b], phase[:b], ema[:b])
            k = float(tc.swap_strength)
            sty = style if k == 1.0 else (style - 1.0 / style.shape[1]) * k + 1.0 / style.shape[1]
            swap, _ = net.decode(enc.roll(1, 0), prev, st, sty, controls, noise[:b])
            if swap_ce:
                assert self.critic is not None
                ce2 = torch.nn.functional.cross_entropy(self.critic(swap.float()), style.argmax(1))
                out["loss"] = out["loss"] + tc.w_style_swap * ce2
                out["style_swap"] = ce2.detach()
            if tc.w_posture > 0:
                mine = posture(swap.float())
                if tc.posture_target == "style" and self.stance is not None:
                    one = style / style.sum(1, keepdim=True).clamp_min(1e-6)  # [B, S] weights per window
                    n = one.sum(0)  # windows per style
                    got = torch.einsum("bs,bjc->sjc", one, mine) / n.clamp_min(1e-6)[:, None, None]
                    d = (got - self.stance.to(got)).norm(dim=-1).mean(-1)  # [S]
                    gap = (d * (n > 0)).sum() / (n > 0).sum().clamp_min(1)
                else:
                    gap = (mine - posture(target.float())).norm(dim=-1).mean()
                out["loss"] = out["loss"] + tc.w_posture * gap
                out["posture"] = gap.detach()
        out["pred"] = preds[0].detach()
        return out


# --------------------------------------------------------------------------- checkpoints


def save_checkpoint(path: Path, ckpt: dict[str, Any]) -> None:
    """torch.save to a temporary file in the same folder, then rename (atomic)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save(ckpt, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint (or rebuild one from an exported ``.onnx`` with its offline weights
    beside it: export/recover.py). Raises ModelError naming the file."""
    p = Path(path)
    if p.suffix.lower() == ".onnx":
        from export.recover import recover_checkpoint

        return recover_checkpoint(p)
    if not p.is_file():
        raise ModelError(f"checkpoint {p} not found; pass a .pt written by `dancemuse train`")
    try:
        ckpt = torch.load(p, map_location="cpu", weights_only=False)
    except Exception as e:  # torch raises many kinds on a corrupt file
        raise ModelError(f"checkpoint {p} cannot be read ({type(e).__name__}); re-create it with `dancemuse train`") from None
    if not isinstance(ckpt, dict) or "model" not in ckpt or "config" not in ckpt:
        raise ModelError(f"{p} is not a DanceMuse checkpoint (no model/config); pass one written by `dancemuse train`")
    return ckpt


# --------------------------------------------------------------------------- helpers


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda was asked for but torch sees no CUDA device; use --device cpu or auto")
    if name not in ("cpu", "cuda"):
        raise ConfigError(f"--device {name!r} is not one of auto, cpu, cuda")
    return torch.device(name)


def _lr_at(step: int, tc: TrainConfig) -> float:
    if step < tc.warmup:
        return tc.lr * (step + 1) / tc.warmup
    frac = (step - tc.warmup) / max(1, tc.steps - tc.warmup)
    cos = 0.5 * (1.0 + np.cos(np.pi * min(1.0, frac)))
    return tc.lr * (tc.lr_min_ratio + (1.0 - tc.lr_min_ratio) * cos)


def _fmt_time(s: float) -> str:
    s = max(0, int(s))
    return f"{s // 3600}h{s // 60 % 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


class _Progress:
    """A progress line on stderr: '\\r' updates on a terminal, a line every 10 s otherwise."""

    def __init__(self, total: int, start: int, enabled: bool) -> None:
        self.total, self.start, self.enabled = total, start, enabled
        self.t0 = self.last = time.perf_counter()
        self.tty = sys.stderr.isatty()

    def update(self, step: int, text: str, *, sched: int | None = None, force: bool = False) -> None:
        """``step``: optimiser steps done; ``sched``: where the schedules are (ahead of
        ``step`` when a time budget runs late); the ETA follows the schedule."""
        if not self.enabled:
            return
        now = time.perf_counter()
        if not force and now - self.last < (0.5 if self.tty else 10.0):
            return
        self.last = now
        done = step - self.start
        rate = done / max(1e-9, now - self.t0)
        eta = (self.total - step) / rate if rate > 0 else 0.0
        line = f"step {step}/{self.total} {text} {rate:.2f} step/s ETA {_fmt_time(eta)}"
        if sched is not None and sched != step:
            left = (self.total - sched) / rate if rate > 0 else 0.0
            line = (f"step {step} (schedule {sched})/{self.total} {text} {rate:.2f} step/s "
                    f"ETA {_fmt_time(left)}")
        print(("\r" + line.ljust(100)) if self.tty else line, end="" if self.tty else "\n",
              file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.enabled and self.tty:
            print(file=sys.stderr, flush=True)


def _rng_state(rng: np.random.Generator, device: torch.device) -> dict[str, Any]:
    st: dict[str, Any] = {"numpy": rng.bit_generator.state, "torch": torch.get_rng_state()}
    if device.type == "cuda":
        st["cuda"] = torch.cuda.get_rng_state(device)
    return st


def _set_rng_state(rng: np.random.Generator, st: dict[str, Any], device: torch.device) -> None:
    rng.bit_generator.state = st["numpy"]
    torch.set_rng_state(st["torch"])
    if device.type == "cuda" and "cuda" in st:
        torch.cuda.set_rng_state(st["cuda"], device)


def _dist_info() -> tuple[int, int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return world, int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))


# --------------------------------------------------------------------------- training


def _folder_weights(roots: Sequence[str | Path], weights: dict[str, float]) -> dict[str, float]:
    """``data_weights`` keyed by the folders as given (keys may be the path as written,
    any path to the same folder, or its name). Raises ConfigError for a key that names
    no --data folder."""
    out: dict[str, float] = {}
    for key, w in weights.items():
        hits = [str(r) for r in roots if key in (str(r), Path(r).name) or Path(key).resolve() == Path(r).resolve()]
        if not hits:
            raise ConfigError(f"[train] data_weights names {key!r}, which is not one of the --data folders "
                              f"({', '.join(str(r) for r in roots)}); fix the key or add the folder")
        for h in hits:
            out[h] = float(w)
    return out


def _loud_index(feature_cfg: dict[str, Any]) -> int | None:
    """Column of the RMS feature (loudness), or None when the feature set has none."""
    try:
        from model.features import FeatureSpec

        return int(FeatureSpec.from_config(feature_cfg).slice("rms").start)
    except (KeyError, ImportError, ValueError, TypeError):
        return None


def _tempo_index(feature_cfg: dict[str, Any]) -> int:
    """Column of the tempo feature, which the beat phase, pulse and bar phase follow (the
    layout model.features checks). Raises ConfigError."""
    from model.features import FeatureSpec

    try:
        return int(FeatureSpec.from_config(feature_cfg).slice("tempo").start)
    except (KeyError, ValueError, TypeError):
        raise ConfigError("[train] tempo_aug needs the tempo and beat features; set tempo_aug = 0 for this feature set") from None


def _beat_cos_index(feature_cfg: dict[str, Any]) -> int:
    """Column of cos(beat phase) (the second of the ``beat_phase`` block). Raises ConfigError."""
    from model.features import FeatureSpec

    try:
        return int(FeatureSpec.from_config(feature_cfg).slice("beat_phase").start) + 1
    except (KeyError, ValueError, TypeError):
        raise ConfigError("[train] w_beat needs the beat_phase feature; set w_beat = 0 for this feature set") from None


def train(
    *,
    data: str | Path | Sequence[str | Path],
    out: str | Path,
    feature_cfg: dict[str, Any],
    net_cfg: NetConfig | None = None,
    train_cfg: TrainConfig | None = None,
    steps: int | None = None,
    resume: bool = False,
    init: str | Path | None = None,
    new_style: str | None = None,
    freeze_encoder: bool = False,
    fresh_decoder: bool = False,
    seed: int | None = None,
    device: str | None = None,
    progress: bool = True,
    command: str = "",
) -> dict[str, Any]:
    """Train (or resume, or fine-tune) a DanceNet; returns a summary dict
    {"step", "best", "last", "final", "val": last validation row, "seconds"}."""
    roots: list[str | Path] = [data] if isinstance(data, (str, Path)) else list(data)
    if not roots:
        raise ConfigError("no --data folder given; pass one or more dataset folders")
    tc = train_cfg or TrainConfig()
    if steps is not None:
        tc.steps = int(steps)
    if seed is not None:
        tc.seed = int(seed)
    if device is not None:
        tc.device = device
    check_train_config(net_cfg or NetConfig(), tc)  # one line, before training (model/train_checks.py)
    check_training_data(roots)  # NaN poses, truncated or wrong-shaped clips
    out = Path(out)
    world, rank, local_rank = _dist_info()
    dev = pick_device(tc.device)
    if dev.type == "cuda" and world > 1:
        dev = torch.device("cuda", local_rank)
        torch.cuda.set_device(dev)
    torch.set_num_threads(max(1, tc.threads))
    torch.manual_seed(tc.seed)
    if dev.type == "cpu":
        torch.use_deterministic_algorithms(True, warn_only=True)
    if world > 1:
        import torch.distributed as dist

        if not dist.is_initialized():
            dist.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo")

    last_path = out / "last.pt"
    ckpt: dict[str, Any] | None = None
    if resume:
        if not last_path.is_file():
            raise ModelError(f"--resume: {last_path} does not exist; start without --resume")
        ckpt = load_checkpoint(last_path)
        tc = TrainConfig.from_dict(ckpt["train_config"])
        if steps is not None:
            tc.steps = int(steps)
        feature_cfg = ckpt.get("feature_cfg", feature_cfg)
    elif last_path.is_file() and init is None:
        raise ModelError(f"{out} already holds a training run (last.pt); pass --resume or another --out")
    base = load_checkpoint(init) if init is not None and ckpt is None else None

    # ---- model and data
    if ckpt is not None:
        net = build(ckpt["config"])
        styles = list(ckpt["styles"])
    elif base is not None:
        net = build(base["config"])
        net.load_state_dict(base["model"])
        if fresh_decoder:  # the init's music encoder, the decoder drawn afresh (session 61)
            torch.manual_seed(tc.seed)
            drawn = build(base["config"])
            with torch.no_grad():
                for mine, new in zip(net.decoder_parameters(), drawn.decoder_parameters()):
                    mine.copy_(new)
            torch.manual_seed(tc.seed)
        styles = list(base["styles"])
        if new_style:
            if new_style in styles:
                raise ConfigError(f"--new-style {new_style!r} is already a style of {init}; drop the flag")
            net.add_style()
            styles.append(new_style)
        feature_cfg = base.get("feature_cfg", feature_cfg)
    else:
        net = None  # type: ignore[assignment]
        styles = []
    clips: list[TrainClip] = load_folders(roots, feature_cfg=feature_cfg, styles=styles or None)
    weights = _folder_weights(roots, tc.data_weights)
    train_clips, val_clips = split_clips(clips, val_fraction=tc.val_fraction, seed=tc.seed)
    if not styles:
        styles = sorted({c.style for c in clips})
    if net is None:
        nc = net_cfg or NetConfig()
        nc.feature_dim = clips[0].feats.shape[1]
        nc.n_styles = len(styles)
        net = build(nc)
        st = norm_stats(train_clips)
        net.set_normalization(**st)
    if ckpt is not None:
        net.load_state_dict(ckpt["model"])
    if base is not None and base.get("input_norm") is False:
        # rebuilt from an exported model: its feature statistics were folded away; take this
        # data's, with the input layer changed so that the network computes the same function
        from export.recover import renormalise_input

        st = norm_stats(train_clips)
        renormalise_input(net, st["feat_mean"], st["feat_std"])
    if ckpt is None and base is None and net.cfg.feature_dim != clips[0].feats.shape[1]:
        raise ConfigError(f"[net] feature_dim {net.cfg.feature_dim} != features of {data} ({clips[0].feats.shape[1]})")
    net.to(dev)
    if freeze_encoder or (ckpt is not None and ckpt.get("freeze_encoder")):
        freeze_encoder = True
        for mod in (net.inp, net.blocks, net.ln_f):
            for p in mod.parameters():
                p.requires_grad_(False)
    params = [p for p in net.parameters() if p.requires_grad]
    groups: list[dict[str, Any]] = [{"params": params}]
    if tc.move_tokens > 0 and net.w_static.requires_grad:  # the latent's input learns its new meaning faster
        groups = [{"params": [p for p in params if p is not net.w_static]}, {"params": [net.w_static], "lr_scale": 10.0}]
    optim = torch.optim.Adam(groups, lr=tc.lr, weight_decay=tc.weight_decay)
    use_amp = dev.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    loss_mod = WindowLoss(net, tc)
    if tc.w_posture > 0 and tc.posture_target == "style":
        loss_mod.stance = style_stances(train_clips, styles).to(dev)
    if tc.w_beat > 0:
        loss_mod.beat_cos = _beat_cos_index(feature_cfg)
    tokens: dict[str, Any] | None = None
    if tc.move_tokens > 0:
        from model import move_tokens as mt

        if ckpt is not None and ckpt.get("move_tokens"):
            tokens = ckpt["move_tokens"]
        else:
            vecs = [c.vec for c in train_clips]
            cen = mt.fit(vecs, k=tc.move_tokens, seed=tc.seed)
            mean, comps, rest = mt.fit_codes(vecs, nd=net.cfg.noise_dim)
            by_style: dict[str, list[np.ndarray]] = {}
            for c in train_clips:
                by_style.setdefault(c.style, []).append(c.vec)
            tokens = {"centres": cen, "vectors": mt.codes(mean, comps, cen), "mean": mean, "comps": comps, "rest": rest,
                      "freq": mt.style_frequencies(cen, by_style, styles), "styles": list(styles)}
        assert tokens is not None
        loss_mod.codes = (tokens["mean"], tokens["comps"], float(tokens["rest"]))
    model: torch.nn.Module = loss_mod
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel

        model = DistributedDataParallel(loss_mod, device_ids=[dev.index] if dev.type == "cuda" else None)

    loud = _loud_index(feature_cfg)
    sampler = WindowSampler(train_clips, styles=styles, seq_len=tc.seq_len, lookahead=net.cfg.lookahead,
                            folder_weights=weights, style_balance=tc.style_balance, loud_index=loud, amp_aug=tc.amp_aug,
                            amp_range=(tc.amp_min, tc.amp_max), tempo_aug=tc.tempo_aug,
                            tempo_range=(tc.tempo_min, tc.tempo_max), mirror_aug=tc.mirror_aug,
                            beat_at=_tempo_index(feature_cfg) if tc.tempo_aug > 0 else None)
    rng = np.random.default_rng(tc.seed + 1000 * rank)
    critic_report: dict[str, Any] = {}
    if tc.w_style > 0:
        if ckpt is not None and ckpt.get("style_critic"):
            loss_mod.critic = critic_from_state(ckpt["style_critic"]["critic"]).to(dev)
            critic_report = ckpt["style_critic"]["report"]
        else:  # every style equally often; judged on held-out clips
            even = WindowSampler(train_clips, styles=styles, seq_len=tc.seq_len, lookahead=net.cfg.lookahead,
                                 style_balance=1.0, amp_aug=tc.amp_aug, amp_range=(tc.amp_min, tc.amp_max))
            held = WindowSampler(val_clips or train_clips, styles=styles, seq_len=tc.seq_len,
                                 lookahead=net.cfg.lookahead, style_balance=1.0).sample(np.random.default_rng(99), 256)
            critic, critic_report = train_critic(even.sample, held, n_styles=len(styles),
                                                 fps=float(feature_cfg["fps"]), seed=tc.seed, steps=tc.style_critic_steps,
                                                 log=(lambda m: print(m, flush=True)) if progress and rank == 0 else None)
            loss_mod.critic = critic.to(dev)
        if progress and rank == 0:
            print(f"style critic: held-out window accuracy {critic_report.get('val_acc')} "
                  f"{critic_report.get('val_acc_style')}", flush=True)
    step, best = 0, float("inf")
    if ckpt is not None:
        optim.load_state_dict(ckpt["optim"])
        if use_amp and ckpt.get("scaler"):
            scaler.load_state_dict(ckpt["scaler"])
        step, best = int(ckpt["step"]), float(ckpt["best"])
        if rank == 0:
            _set_rng_state(rng, ckpt["rng"], dev)
        else:
            rng = np.random.default_rng(tc.seed + 1000 * rank + step)
    cur = Curriculum(gt_span=tc.gt_span, pred_start=tc.pred_start, pred_max=tc.pred_max, grow_every=tc.grow_every)
    train_frames = sum(c.frames for c in sampler.clips)
    epoch_steps = max(1, train_frames // (tc.batch * tc.seq_len))
    val_every = max(1, tc.val_every * epoch_steps)
    val_rng = np.random.default_rng(12345)
    val_batch = WindowSampler(val_clips or train_clips, styles=styles, seq_len=tc.seq_len,
                              lookahead=net.cfg.lookahead, loud_index=loud).sample(val_rng, tc.val_windows) if rank == 0 else None
    summary = data_summary(clips, roots, weights)
    summary["energy_fit"] = {k: [round(a, 4), round(b, 4)] for k, (a, b) in sampler.energy_fit.items()}
    lead = rank == 0
    if lead:
        out.mkdir(parents=True, exist_ok=True)

    def make_ckpt() -> dict[str, Any]:
        from model.features import FeatureSpec

        return {
            "model": net.state_dict(), "optim": optim.state_dict(),
            "scaler": scaler.state_dict() if use_amp else None,
            "step": step, "best": best, "config": net.cfg.to_dict(), "train_config": asdict(tc),
            "feature_spec": FeatureSpec.from_config(feature_cfg).to_dict(), "feature_cfg": dict(feature_cfg),
            "styles": styles, "controls": ["energy", "variation"],
            "norm": {k: getattr(net, k).detach().cpu().numpy() for k in ("feat_mean", "feat_std", "pose_mean", "pose_std")},
            "data_summary": summary, "val_clips": [c.id for c in val_clips],
            "freeze_encoder": freeze_encoder, "fresh_decoder": bool(fresh_decoder if ckpt is None else ckpt.get("fresh_decoder")),
            "init": str(init) if init else None, "move_tokens": tokens,
            "rng": _rng_state(rng, dev), "command": command,
            "elapsed": elapsed0 + time.perf_counter() - t_start,
            "style_critic": ({"critic": critic_state(loss_mod.critic), "report": critic_report}
                             if loss_mod.critic is not None else None),
        }

    def to_t(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(a).to(dev)

    prog = _Progress(tc.steps, step, progress and lead)
    t_start = time.perf_counter()
    run_sum = {"loss": 0.0, "l1": 0.0, "vel": 0.0, "bone": 0.0}
    if loss_mod.beat_cos is not None:
        run_sum["beat"] = 0.0
    if tc.w_diverse > 0 and tc.samples > 1:
        run_sum["diverse"] = 0.0
    if loss_mod.critic is not None:
        run_sum["style"] = 0.0
        if tc.w_style_swap > 0 and tc.batch > 1:
            run_sum["style_swap"] = 0.0
    if tc.w_posture > 0 and tc.batch > 1:
        run_sum["posture"] = 0.0
    run_n = 0
    last_val: dict[str, Any] = {}
    csv_path = out / "log.csv"
    if lead and ckpt is not None and csv_path.is_file():  # drop rows written after the checkpoint
        from model.train_report import truncate_csv

        truncate_csv(csv_path, step)
    elapsed0 = float(ckpt.get("elapsed", 0.0)) if ckpt is not None else 0.0

    def sched_step() -> int:
        """The step the schedules are at (ahead of ``step`` when a time budget runs out first)."""
        if tc.max_minutes <= 0:
            return step
        frac = (elapsed0 + time.perf_counter() - t_start) / (60.0 * tc.max_minutes)
        v = max(step, int(frac * tc.steps))
        if world > 1:  # every rank must agree on when to stop
            import torch.distributed as dist

            t = torch.tensor([v], dtype=torch.long, device=dev)
            dist.broadcast(t, 0)
            v = int(t.item())
        return v

    vstep = sched_step()
    while vstep < tc.steps:
        net.train()
        b = sampler.sample(rng, tc.batch)
        mask = cur.teacher_mask(vstep, tc.seq_len)
        for g in optim.param_groups:
            g["lr"] = _lr_at(vstep, tc) * float(g.get("lr_scale", 1.0))
        with torch.autocast(device_type="cuda", dtype=torch.float16, enabled=use_amp):
            ls = model(to_t(b["feat"]), to_t(b["prev"]), to_t(b["style"]), to_t(b["controls"]),
                       to_t(b["target"]), mask)
        optim.zero_grad(set_to_none=True)
        scaler.scale(ls["loss"]).backward()
        scaler.unscale_(optim)
        torch.nn.utils.clip_grad_norm_(params, tc.grad_clip)
        scaler.step(optim)
        scaler.update()
        step += 1
        vstep = max(step, sched_step())
        for k in run_sum:
            run_sum[k] += float(ls[k].detach())
        run_n += 1
        div = f" diverse {run_sum['diverse'] / run_n:.3f} m" if "diverse" in run_sum else ""
        prog.update(step, f"loss {run_sum['loss'] / run_n:.4f}{div} pred {cur.pred_span(vstep)}", sched=vstep)
        if not lead:
            continue
        done = vstep >= tc.steps
        if step % val_every == 0 or done:
            assert val_batch is not None
            row = {"step": step, "epoch": round(step / epoch_steps, 2), "seconds": round(time.perf_counter() - t_start, 1),
                   "lr": _lr_at(vstep - 1, tc), "pred_span": cur.pred_span(vstep), "sched_step": vstep,
                   **{f"train_{k}": v / max(1, run_n) for k, v in run_sum.items()}}
            row.update(validate(net, val_batch, val_clips, styles=styles, tc=tc, curriculum=cur,
                                device=dev, loss_fn=loss_mod))
            run_sum = dict.fromkeys(run_sum, 0.0)
            run_n = 0
            write_csv_row(csv_path, row)
            with contextlib.suppress(Exception):  # a plotting failure must not stop training
                plot_curves(csv_path, out / "curves.png")
            last_val = row
            if row["val_loss"] < best:
                best = float(row["val_loss"])
                save_checkpoint(out / "best.pt", make_ckpt())
            prog.update(step, f"val {row['val_loss']:.4f} bas {row.get('val_bas', float('nan')):.3f}", sched=vstep,
                        force=True)
        if step % tc.ckpt_every == 0 or done:
            save_checkpoint(last_path, make_ckpt())
    prog.close()
    if lead:
        if not last_path.is_file() or load_checkpoint(last_path)["step"] != step:
            save_checkpoint(last_path, make_ckpt())
        shutil.copyfile(last_path, out / "final.pt")
    if world > 1:
        import torch.distributed as dist

        dist.barrier()
        dist.destroy_process_group()
    return {"step": step, "best": best, "last": str(last_path), "final": str(out / "final.pt"),
            "val": last_val, "seconds": time.perf_counter() - t_start}
