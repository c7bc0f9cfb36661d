"""Validation, the CSV log and the curves PNG of a training run (used by model/train.py).

``free_run`` is also the torch dance generator of `dancemuse evaluate` for checkpoints.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from model.energy_calib import limb_speed
from model.network import DanceNet
from model.skeleton import bone_lengths, rest_pose
from model.train_data import TrainClip, pose_to_vec, vec_to_pose


def rest_vec() -> np.ndarray:
    """The rest pose standing on the floor as a pose vector [shape=(54,)]."""
    return pose_to_vec(rest_pose(on_floor=True)[None])[0]


@torch.no_grad()
def free_run(net: DanceNet, feats: np.ndarray, *, style_w: np.ndarray, controls: np.ndarray,
             seed: int, prev: np.ndarray | None = None, chunk: int = 256,
             device: torch.device | str = "cpu") -> np.ndarray:
    """Generate a dance from features with no ground truth (free-running, as live).

    feats: [shape=(B, t, F)] raw features; style_w [B, S]; controls [B, 2]; prev: [B, 54]
    starting pose (default: the training data's mean pose, as the live runtime starts). Returns pose vectors [shape=(B, t, 54)]; with
    a look-ahead L the first L outputs are the poses of frames -L..-1.
    """
    was_training = net.training
    net.eval()
    b = feats.shape[0]
    if prev is None:
        p = net.pose_mean.detach().to(device).expand(b, -1).clone()
    else:
        p = torch.from_numpy(np.asarray(prev, np.float32)).to(device)
    sw = torch.from_numpy(np.asarray(style_w, np.float32)).to(device)
    ct = torch.from_numpy(np.asarray(controls, np.float32)).to(device)
    state = net.init_state(b, seed=seed, device=device)
    gen = torch.Generator().manual_seed(int(seed) + 7919)
    outs = []
    for s in range(0, feats.shape[1], chunk):
        f = torch.from_numpy(np.ascontiguousarray(feats[:, s:s + chunk], dtype=np.float32)).to(device)
        noise = net.make_noise(b, f.shape[1], generator=gen, device=device)
        y, state = net(f, p, state, sw, ct, noise)
        p = y[:, -1]
        outs.append(y.float().cpu().numpy())
    net.train(was_training)
    return np.concatenate(outs, axis=1)


def _nanmean(xs: Sequence[float]) -> float:
    v = [x for x in xs if x is not None and np.isfinite(x)]
    return float(np.mean(v)) if v else float("nan")


@torch.no_grad()
def validate(net: DanceNet, batch: dict[str, np.ndarray], clips: Sequence[TrainClip], *, styles: Sequence[str],
             tc: Any, curriculum: Any, device: torch.device, loss_fn: Callable[..., dict[str, torch.Tensor]]) -> dict[str, float]:
    """Validation loss at the final curriculum on fixed windows, and metrics of free-running
    dances of the held-out clips (first ``tc.val_seconds``) next to their ground truth."""
    from model import metrics

    net.eval()
    dev = device

    def t(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(a).to(dev)

    mask = curriculum.teacher_mask(10**9, tc.seq_len)
    ls = loss_fn(t(batch["feat"]), t(batch["prev"]), t(batch["style"]), t(batch["controls"]), t(batch["target"]),
                 mask, generator=torch.Generator().manual_seed(0))
    pred = ls["pred"]
    err_m = (pred[..., :51].float() - t(batch["target"])[..., :51]).abs().mean()  # metres, any normalisation
    row: dict[str, float] = {"val_loss": float(ls["loss"]), "val_l1": float(ls["l1"]), "val_l1_m": float(err_m),
                             "val_bone_loss": float(ls["bone"])}
    if "style" in ls:  # the style critic's cross-entropy of the model's samples
        row["val_style"] = float(ls["style"])
    if "beat" in ls:  # the beat-dip mismatch of the model's samples
        row["val_beat"] = float(ls["beat"])
    if "diverse" in ls:  # the mean distance between the decoder's samples' 2-s stretches (m)
        row["val_diverse"] = float(ls["diverse"])
    if "posture" in ls:  # the second dance's mean pose against the data's (m)
        row["val_posture"] = float(ls["posture"])
    if clips:
        lk = net.cfg.lookahead
        fps = clips[0].fps
        length = int(min(min(c.frames for c in clips), tc.val_seconds * fps))
        feats = np.stack([np.pad(c.feats, ((0, lk), (0, 0)), mode="edge")[lk:lk + length] for c in clips])
        sw = np.zeros((len(clips), len(styles)), np.float32)
        for i, c in enumerate(clips):
            sw[i, styles.index(c.style)] = 1.0
        ctl = np.tile(np.array([[1.0, 0.5]], np.float32), (len(clips), 1))
        vec = free_run(net, feats, style_w=sw, controls=ctl, seed=0, device=dev)
        bas, bas_gt, frz, bone, lag, amount = [], [], [], [], [], []
        for i, c in enumerate(clips):
            gen = vec_to_pose(vec[i])
            gt = c.poses[:length]
            frz.append(metrics.freeze_ratio(gen, fps=fps))
            amount.append(limb_speed(gen, fps) / max(limb_speed(gt, fps), 1e-6))
            bone.append(metrics.bone_length_error(gen, lengths=np.median(bone_lengths(gt), axis=0)))
            beats = c.beats[c.beats < length / fps]
            if len(beats) >= 2:
                bas.append(metrics.beat_align_score(gen, beats, fps=fps))
                bas_gt.append(metrics.beat_align_score(gt, beats, fps=fps))
                lag.append(metrics.motion_beat_lag_ms(gen, beats, fps=fps))
        row.update({"val_bas": _nanmean(bas), "val_bas_gt": _nanmean(bas_gt), "val_freeze": _nanmean(frz),
                    "val_bone_err": _nanmean(bone), "val_lag_ms": _nanmean(lag),
                    "val_amount": _nanmean(amount)})
        # per style (the mean over clips is mostly the style with the most clips; a slow style
        # that moves at half the data's speed hides in it), and the lowest style's
        per_style = {s: _nanmean([a for a, c in zip(amount, clips) if c.style == s]) for s in styles}
        row["val_amount_min"] = min((v for v in per_style.values() if np.isfinite(v)), default=float("nan"))
        row.update({f"val_amount_{s}": v for s, v in per_style.items()})
    net.train()
    return row


# --------------------------------------------------------------------------- CSV + PNG


def write_csv_row(path: Path, row: dict[str, Any]) -> None:
    """Append ``row`` to the CSV at ``path`` (header written with the first row). Columns go
    by the file's header: a row without one of them leaves it empty, and a row with a column
    the file lacks (a run resumed by a version that logs more) rewrites the file with the
    wider header first (atomically; the old rows get empty cells), so no row ever lands under
    the wrong heading."""
    vals = {k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()}
    header: list[str] = []
    if path.is_file() and path.stat().st_size > 0:
        with open(path, newline="", encoding="utf-8") as f:
            header = next(csv.reader(f), [])
    extra = [k for k in row if k not in header]
    if header and extra:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        _rewrite_csv(path, header + extra, [*rows, vals])
        return
    with open(path, "a", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=header or list(row), restval="")
        if not header:
            w.writeheader()
        w.writerow(vals)


def read_csv(path: Path) -> list[dict[str, float]]:
    with open(path, newline="", encoding="utf-8") as f:
        return [{k: float(v) if v not in ("", None) else math.nan for k, v in r.items()} for r in csv.DictReader(f)]


def truncate_csv(path: Path, step: int) -> None:
    """Drop rows after ``step`` (they belong to a run killed after its last checkpoint)."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
        header = rows[0].keys() if rows else None
    keep = [r for r in rows if float(r["step"]) <= step]
    _rewrite_csv(path, list(header) if header is not None else None, keep)


def _rewrite_csv(path: Path, fields: list[str] | None, rows: Sequence[dict[str, Any]]) -> None:
    """Write ``rows`` under ``fields`` (None: an empty file) to a temporary file beside
    ``path``, then rename it onto ``path`` (atomic)."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        if fields is not None:
            w = csv.DictWriter(f, fieldnames=fields, restval="")
            w.writeheader()
            w.writerows(rows)
    os.replace(tmp, path)


def plot_curves(csv_path: Path, png: Path) -> None:
    """Loss curves (train / validation) and validation metrics, one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_csv(csv_path)
    if not rows:
        return
    x = [r["step"] for r in rows]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    for key, label in (("train_loss", "train"), ("val_loss", "validation")):
        axes[0].plot(x, [r.get(key, math.nan) for r in rows], label=label)
    axes[0].set_title("loss")
    axes[0].set_yscale("log")
    for key, label in (("val_bas", "BAS model"), ("val_bas_gt", "BAS data"), ("val_freeze", "freeze ratio")):
        axes[1].plot(x, [r.get(key, math.nan) for r in rows], label=label)
    axes[1].set_title("validation metrics")
    axes[2].plot(x, [r.get("val_bone_err", math.nan) for r in rows], label="bone error")
    axes[2].set_title("bone-length error")
    for ax in axes:
        ax.set_xlabel("step")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    tmp = png.with_name(f".{png.stem}.tmp.png")
    fig.savefig(tmp, dpi=90)
    plt.close(fig)
    os.replace(tmp, png)
