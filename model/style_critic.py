"""A frozen style critic for training: does a generated 4 s window move like its style?

The dance model is told its style as an input, but nothing in the energy-score loss asks the
*whole window* to read as that style: a sample that is plausible frame by frame but has
drifted towards a neighbouring style (locking that sways like house) costs little. The
critic is a small causal-agnostic 1D convolution net over a window of raw pose vectors,
trained on the training data's windows (every style equally often, mirrored at random, with
a little input noise so it is smooth) *before* the dance model's training starts and then
frozen. With ``[train] w_style`` > 0 the model pays ``w_style`` x the critic's cross-entropy
of its own samples against the style it was asked for.

It is deliberately a different kind of model from the evaluation's classifier
(``model.style_classifier``: logistic regression on summary statistics and a bag of poses),
so that a gain measured by ``dancemuse evaluate`` is not the model learning one judge's
blind spots.

Frame description (104 values): facing-normalised root-relative joints (51), their
velocities x VEL_SCALE (51), root height, horizontal root speed. Standardised with the
training windows' mean and std.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from model.skeleton import JOINT_INDEX, MIRROR

VEL_SCALE = 0.15
"""Weight of joint velocities (m/s) against joint positions (m)."""
CHANNELS = 96
STEPS = 700
BATCH = 48
LR = 2e-3
NOISE = 0.05
"""Gaussian noise (in standardised units) added to the critic's inputs while it trains."""

_LH, _RH = JOINT_INDEX["left_hip"], JOINT_INDEX["right_hip"]


def frame_features(vec: Tensor, fps: float) -> Tensor:
    """Raw pose vectors [N, T, 54] (51 root-relative joints, dx, dz, y) -> [N, T, 104]."""
    n, t, _ = vec.shape
    j = vec[..., :51].reshape(n, t, 17, 3)
    h = j[:, :, _LH] - j[:, :, _RH]
    ang = torch.atan2(h[..., 2], h[..., 0] + 1e-6)
    c, s = torch.cos(ang)[..., None], torch.sin(ang)[..., None]
    x, y, z = j[..., 0], j[..., 1], j[..., 2]
    q = torch.stack([c * x + s * z, y, c * z - s * x], dim=-1).reshape(n, t, 51)
    v = torch.zeros_like(q)
    v[:, 1:] = (q[:, 1:] - q[:, :-1]) * (fps * VEL_SCALE)
    v[:, 0] = v[:, 1] if t > 1 else 0.0
    speed = torch.sqrt(vec[..., 51] ** 2 + vec[..., 52] ** 2 + 1e-10) * fps
    return torch.cat([q, v, vec[..., 53:54], speed[..., None]], dim=-1)


def mirror_vec(vec: Tensor) -> Tensor:
    """Mirror raw pose vectors left/right (joints swapped, x and dx negated)."""
    n, t, _ = vec.shape
    j = vec[..., :51].reshape(n, t, 17, 3)[:, :, list(MIRROR)]
    sign = torch.tensor([-1.0, 1.0, 1.0], dtype=vec.dtype, device=vec.device)
    root = vec[..., 51:] * torch.tensor([-1.0, 1.0, 1.0], dtype=vec.dtype, device=vec.device)
    return torch.cat([(j * sign).reshape(n, t, 51), root], dim=-1)


class StyleCritic(nn.Module):
    """Conv1d x 3 (stride 1, 2, 2) -> mean and std over time -> logits per style."""

    mean: Tensor
    std: Tensor

    def __init__(self, n_styles: int, *, fps: float, channels: int = CHANNELS) -> None:
        super().__init__()
        self.fps = float(fps)
        self.n_styles = int(n_styles)
        self.register_buffer("mean", torch.zeros(104))
        self.register_buffer("std", torch.ones(104))
        c = channels
        self.conv = nn.Sequential(
            nn.Conv1d(104, c, 5, padding=2), nn.GELU(),
            nn.Conv1d(c, c, 5, stride=2, padding=2), nn.GELU(),
            nn.Conv1d(c, c, 5, stride=2, padding=2), nn.GELU(),
        )
        self.head = nn.Linear(2 * c, n_styles)

    def _one(self, vec: Tensor, noise: float = 0.0) -> Tensor:
        f = (frame_features(vec, self.fps) - self.mean) / self.std
        if noise > 0:
            f = f + noise * torch.randn_like(f)
        h = self.conv(f.transpose(1, 2))
        return self.head(torch.cat([h.mean(-1), h.std(-1)], dim=-1))

    def forward(self, vec: Tensor) -> Tensor:
        """Raw pose windows [N, T, 54] -> logits [N, n_styles] (the mean of the window's and
        its mirror's, so a move danced on either side reads the same)."""
        return 0.5 * (self._one(vec) + self._one(mirror_vec(vec)))


def train_critic(sample: Callable[[np.random.Generator, int], dict[str, np.ndarray]],
                 val: dict[str, np.ndarray] | None, *, n_styles: int, fps: float, seed: int = 0,
                 steps: int = STEPS, log: Callable[[str], None] | None = None) -> tuple[StyleCritic, dict[str, Any]]:
    """Fit a critic on windows from ``sample(rng, batch)`` (dicts with "target" raw poses
    [B, T, 54] and "style" one-hot [B, S], as ``model.train_data.WindowSampler.sample``);
    ``val`` a held-out batch of the same form. Returns the frozen critic (eval mode) and a
    report {"val_acc", "val_acc_style", "seconds", "steps"}."""
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed + 777)
    torch.manual_seed(seed + 777)
    critic = StyleCritic(n_styles, fps=fps)
    with torch.no_grad():  # input standardisation from a few batches
        feats = torch.cat([frame_features(torch.from_numpy(sample(rng, BATCH)["target"]).float(), fps)
                           for _ in range(4)]).reshape(-1, 104)
        critic.mean.copy_(feats.mean(0))
        critic.std.copy_(feats.std(0).clamp_min(1e-3))
    opt = torch.optim.Adam(critic.parameters(), lr=LR, weight_decay=1e-4)
    critic.train()
    for i in range(steps):
        b = sample(rng, BATCH)
        x = torch.from_numpy(b["target"]).float()
        y = torch.from_numpy(b["style"]).argmax(1)
        flip = torch.from_numpy(rng.random(len(x)) < 0.5)
        x = torch.where(flip[:, None, None], mirror_vec(x), x)
        for g in opt.param_groups:
            g["lr"] = LR * 0.5 * (1.0 + math.cos(math.pi * i / steps))
        loss = nn.functional.cross_entropy(critic._one(x, NOISE), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if log is not None and (i + 1) % 100 == 0:
            log(f"style critic step {i + 1}/{steps}: loss {float(loss.detach()):.3f}")
    critic.eval()
    for p in critic.parameters():
        p.requires_grad_(False)
    report: dict[str, Any] = {"steps": steps, "seconds": round(time.perf_counter() - t0, 1)}
    if val is not None and len(val["target"]):
        with torch.no_grad():
            pred = critic(torch.from_numpy(val["target"]).float()).argmax(1).numpy()
        y = val["style"].argmax(1)
        report["val_acc"] = round(float((pred == y).mean()), 3)
        report["val_acc_style"] = {int(s): round(float((pred[y == s] == s).mean()), 3)
                                   for s in np.unique(y)}
    return critic, report


def critic_from_state(d: dict[str, Any]) -> StyleCritic:
    """The critic saved in a checkpoint (``{"n_styles", "fps", "state"}``), frozen."""
    c = StyleCritic(int(d["n_styles"]), fps=float(d["fps"]))
    c.load_state_dict(d["state"])
    c.eval()
    for p in c.parameters():
        p.requires_grad_(False)
    return c


def critic_state(c: StyleCritic) -> dict[str, Any]:
    return {"n_styles": c.n_styles, "fps": c.fps, "state": c.state_dict()}
