"""Training DanceNet: curriculum, losses, checkpoints with resume, validation, fine-tuning, DDP.

``train(data=..., out=..., ...)`` is what `dancemuse train` runs. In short:

* Data: clips of a DanceMuse dataset with their features (model/train_data.py); a share
  of every style is held out for validation. Windows of ``seq_len`` frames are drawn in
  proportion to clip length.
* Loss: L1 on normalised pose vectors + ``w_vel`` x L1 on their frame-to-frame change +
  ``w_bone`` x relative bone-length error (metres, against the target's bones). Adam with
  warm-up and cosine decay, gradient clipping. Teacher forcing follows DanceRevolution's
  curriculum (model/curriculum.py).
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
  ``new_style=NAME`` appends a style vector; ``freeze_encoder`` trains only the decoder.
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
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch

from model.curriculum import Curriculum
from model.errors import ConfigError, ModelError
from model.network import DanceNet, NetConfig, build
from model.skeleton import NECK, NUM_JOINTS, PARENTS, ROOT
from model.train_data import (
    TrainClip,
    WindowSampler,
    data_summary,
    load_clips,
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
        return cls(**d)


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
    """pred, target: raw pose vectors [B, T, P] -> {"loss", "l1", "vel", "bone"}."""
    pn, tn = net.norm_pose(pred.float()), net.norm_pose(target.float())
    l1 = (pn - tn).abs().mean()
    vel = ((pn[:, 1:] - pn[:, :-1]) - (tn[:, 1:] - tn[:, :-1])).abs().mean()
    lb_t = bone_lengths_t(target.float())
    bone = ((bone_lengths_t(pred.float()) - lb_t).abs() / lb_t.clamp_min(1e-3)).mean()
    return {"loss": l1 + w_vel * vel + w_bone * bone, "l1": l1, "vel": vel, "bone": bone}


# --------------------------------------------------------------------------- checkpoints


def save_checkpoint(path: Path, ckpt: dict[str, Any]) -> None:
    """torch.save to a temporary file in the same folder, then rename (atomic)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save(ckpt, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint. Raises ModelError naming the file."""
    p = Path(path)
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

    def update(self, step: int, text: str, *, force: bool = False) -> None:
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


def train(
    *,
    data: str | Path,
    out: str | Path,
    feature_cfg: dict[str, Any],
    net_cfg: NetConfig | None = None,
    train_cfg: TrainConfig | None = None,
    steps: int | None = None,
    resume: bool = False,
    init: str | Path | None = None,
    new_style: str | None = None,
    freeze_encoder: bool = False,
    seed: int | None = None,
    device: str | None = None,
    progress: bool = True,
    command: str = "",
) -> dict[str, Any]:
    """Train (or resume, or fine-tune) a DanceNet; returns a summary dict
    {"step", "best", "last", "final", "val": last validation row, "seconds"}."""
    tc = train_cfg or TrainConfig()
    if steps is not None:
        tc.steps = int(steps)
    if seed is not None:
        tc.seed = int(seed)
    if device is not None:
        tc.device = device
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
    clips: list[TrainClip] = load_clips(data, feature_cfg=feature_cfg, styles=styles or None)
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
    if ckpt is None and base is None and net.cfg.feature_dim != clips[0].feats.shape[1]:
        raise ConfigError(f"[net] feature_dim {net.cfg.feature_dim} != features of {data} ({clips[0].feats.shape[1]})")
    net.to(dev)
    if freeze_encoder or (ckpt is not None and ckpt.get("freeze_encoder")):
        freeze_encoder = True
        for mod in (net.inp, net.blocks, net.ln_f):
            for p in mod.parameters():
                p.requires_grad_(False)
    params = [p for p in net.parameters() if p.requires_grad]
    optim = torch.optim.Adam(params, lr=tc.lr, weight_decay=tc.weight_decay)
    use_amp = dev.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    model: torch.nn.Module = net
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel

        model = DistributedDataParallel(net, device_ids=[dev.index] if dev.type == "cuda" else None)

    sampler = WindowSampler(train_clips, styles=styles, seq_len=tc.seq_len, lookahead=net.cfg.lookahead)
    rng = np.random.default_rng(tc.seed + 1000 * rank)
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
                              lookahead=net.cfg.lookahead).sample(val_rng, tc.val_windows) if rank == 0 else None
    summary = data_summary(clips, data)
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
            "freeze_encoder": freeze_encoder, "init": str(init) if init else None,
            "rng": _rng_state(rng, dev), "command": command,
            "elapsed": elapsed0 + time.perf_counter() - t_start,
        }

    def to_t(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(a).to(dev)

    prog = _Progress(tc.steps, step, progress and lead)
    t_start = time.perf_counter()
    run_sum = {"loss": 0.0, "l1": 0.0, "vel": 0.0, "bone": 0.0}
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
        state = net.init_state(tc.batch, seed=int(b["seeds"][0]), device=dev)
        for g in optim.param_groups:
            g["lr"] = _lr_at(vstep, tc)
        with torch.autocast(device_type="cuda", dtype=torch.float16, enabled=use_amp):
            pred, _ = model(to_t(b["feat"]), to_t(b["prev"]), state, to_t(b["style"]), to_t(b["controls"]),
                            teacher=to_t(b["target"]), teacher_mask=mask)
        ls = losses(net, pred, to_t(b["target"]), w_vel=tc.w_vel, w_bone=tc.w_bone)
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
        prog.update(vstep, f"loss {run_sum['loss'] / run_n:.4f} pred {cur.pred_span(vstep)}")
        if not lead:
            continue
        done = vstep >= tc.steps
        if step % val_every == 0 or done:
            assert val_batch is not None
            row = {"step": step, "epoch": round(step / epoch_steps, 2), "seconds": round(time.perf_counter() - t_start, 1),
                   "lr": _lr_at(vstep - 1, tc), "pred_span": cur.pred_span(vstep), "sched_step": vstep,
                   **{f"train_{k}": v / max(1, run_n) for k, v in run_sum.items()}}
            row.update(validate(net, val_batch, val_clips, styles=styles, tc=tc, curriculum=cur,
                                device=dev, losses_fn=losses))
            run_sum = dict.fromkeys(run_sum, 0.0)
            run_n = 0
            write_csv_row(csv_path, row)
            with contextlib.suppress(Exception):  # a plotting failure must not stop training
                plot_curves(csv_path, out / "curves.png")
            last_val = row
            if row["val_loss"] < best:
                best = float(row["val_loss"])
                save_checkpoint(out / "best.pt", make_ckpt())
            prog.update(vstep, f"val {row['val_loss']:.4f} bas {row.get('val_bas', float('nan')):.3f}", force=True)
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
