"""Checks that run before training starts, so that bad input ends in one line, not a
traceback an hour in or NaN weights at the end (numpy only; ``check_train_toml`` imports
the config classes of model/network.py and model/train.py).

- ``check_train_toml(path)``: the same on the raw TOML tables (before the dataclasses
  are built, whose constructors can crash on a zero or a string).
- ``check_train_config(net_cfg, train_cfg)``: every value of the [net] and [train] tables
  has the type of its default (an int where an int belongs, a finite number, ...) and a
  sensible range (counts and rates > 0, nothing negative). ConfigError naming the key.
- ``check_training_data(dirs)``: every clip's pose file can be read (not truncated), has
  shape (frames >= 2, 17, 3) and only finite numbers. DatasetError naming the clip.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any

import numpy as np

from model.errors import ConfigError, DatasetError

POSITIVE = frozenset({
    "steps", "batch", "seq_len", "lr", "grad_clip", "ckpt_every", "val_every", "val_windows",
    "val_seconds", "threads", "grow_every", "gt_span", "pred_max", "samples", "es_window",
    "d_model", "heads", "layers", "window", "ffn_dim", "lstm_hidden", "lstm_layers", "feature_dim",
    "n_styles", "pose_dim", "amp_max", "amp_min", "style_dim", "n_controls", "phrase_frames", "noise_tau",
    "tempo_min", "tempo_max",
})
"""Keys whose value must be above 0 (a count, a size or a rate)."""
UNIT = frozenset({"lr_min_ratio", "val_fraction", "dropout", "amp_aug", "tempo_aug", "mirror_aug"})
"""Keys whose value must lie in 0..1."""
SIGNED = frozenset({"lookahead_sign"})
"""Keys that may be negative (none today)."""


def _kind(default: Any) -> str | None:
    if isinstance(default, bool):
        return "bool"
    if isinstance(default, int):
        return "int"
    if isinstance(default, float):
        return "float"
    if isinstance(default, str):
        return "str"
    return None


def _check_value(table: str, key: str, value: Any, default: Any, where: str) -> None:
    name = f"[{table}] {key}"
    kind = _kind(default)
    if kind == "bool" and not isinstance(value, bool):
        raise ConfigError(f"{name}{where} must be true or false, got {value!r}")
    if kind == "str" and not isinstance(value, str):
        raise ConfigError(f"{name}{where} must be a string, got {value!r}")
    if kind == "int" and (isinstance(value, bool) or not isinstance(value, int)):
        raise ConfigError(f"{name}{where} must be a whole number, got {value!r}")
    if kind == "float" and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise ConfigError(f"{name}{where} must be a number, got {value!r}")
    if kind in ("int", "float"):
        v = float(value)
        if not math.isfinite(v):
            raise ConfigError(f"{name}{where} must be a finite number, got {value!r}")
        if key in POSITIVE and v <= 0:
            raise ConfigError(f"{name}{where} must be above 0, got {value!r}")
        if key in UNIT and not 0.0 <= v <= 1.0:
            raise ConfigError(f"{name}{where} must lie in 0..1, got {value!r}")
        if key not in SIGNED and v < 0:
            raise ConfigError(f"{name}{where} must not be negative, got {value!r}")


def check_config_object(table: str, obj: Any, *, where: str = "") -> None:
    """Check every field of the dataclass ``obj`` against the type of its default."""
    if not is_dataclass(obj) or isinstance(obj, type):
        return
    defaults: Any = type(obj)()
    for f in fields(obj):
        default = getattr(defaults, f.name)
        value = getattr(obj, f.name)
        if value is None and default is None:
            continue
        _check_value(table, f.name, value, default, where)


def check_table(table: str, cls: type, values: Any, *, where: str = "") -> None:
    """Check a raw TOML table (before the dataclass ``cls`` is built from it: a zero or a
    string can crash its constructor). Unknown keys are left to the loader."""
    if not isinstance(values, dict):
        raise ConfigError(f"[{table}]{where} must be a table of key = value lines")
    defaults: Any = cls()
    names = {f.name for f in fields(defaults)}
    for key, value in values.items():
        if key in names:
            _check_value(table, key, value, getattr(defaults, key), where)


def check_train_toml(path: str | Path) -> None:
    """Check the [net] and [train] tables of a training TOML file before it is loaded
    (a file that is missing or not TOML is left to the loader's own message)."""
    import sys

    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    from model.network import NetConfig
    from model.train import TrainConfig

    try:
        doc = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return
    where = f" in {path}"
    check_table("net", NetConfig, doc.get("net", {}), where=where)
    check_table("train", TrainConfig, doc.get("train", {}), where=where)


def check_train_config(net_cfg: Any, train_cfg: Any, *, where: str = "") -> None:
    """ConfigError (one line) for a wrong-typed, non-finite, zero or negative value in
    [net] or [train]; also the cross-field rules (amp_min <= amp_max, pred_start <= pred_max)."""
    check_config_object("net", net_cfg, where=where)
    check_config_object("train", train_cfg, where=where)
    lo, hi = getattr(train_cfg, "amp_min", None), getattr(train_cfg, "amp_max", None)
    if lo is not None and hi is not None and lo > hi:
        raise ConfigError(f"[train] amp_min {lo} must not exceed amp_max {hi}{where}")
    lo, hi = getattr(train_cfg, "tempo_min", None), getattr(train_cfg, "tempo_max", None)
    if lo is not None and hi is not None and lo > hi:
        raise ConfigError(f"[train] tempo_min {lo} must not exceed tempo_max {hi}{where}")
    ps, pm = getattr(train_cfg, "pred_start", None), getattr(train_cfg, "pred_max", None)
    if ps is not None and pm is not None and ps > pm:
        raise ConfigError(f"[train] pred_start {ps} must not exceed pred_max {pm}{where}")


def check_training_data(dirs: str | Path | Iterable[str | Path]) -> int:
    """Read every clip's poses of the dataset folder(s); DatasetError (one line naming the
    clip and the fix) for a truncated file, a wrong shape or NaN/inf. Returns the clip count."""
    from model.dataset_files import clip_records, load_poses
    from model.skeleton import NUM_JOINTS

    folders = [dirs] if isinstance(dirs, (str, Path)) else list(dirs)
    n = 0
    for d in folders:
        for rec in clip_records(d):
            if not rec.poses.is_file():
                raise DatasetError(f"clip {rec.id} in {d}: pose file {rec.poses} is missing; "
                                   f"run `dancemuse dataset check {d}`")
            arrays = load_poses(rec.poses)
            if "poses" not in arrays:
                raise DatasetError(f"clip {rec.id} in {d}: {rec.poses.name} has no 'poses' array; re-create the clip")
            p = arrays["poses"]
            if p.ndim != 3 or p.shape[1:] != (NUM_JOINTS, 3) or len(p) < 2:
                raise DatasetError(f"clip {rec.id} in {d}: poses have shape {tuple(p.shape)}, expected "
                                   f"(frames >= 2, {NUM_JOINTS}, 3) (COCO-17, metres); re-import the clip")
            if not np.issubdtype(p.dtype, np.number):
                raise DatasetError(f"clip {rec.id} in {d}: poses are not numbers ({p.dtype}); re-create the clip")
            finite = np.isfinite(p)
            if not finite.all():
                bad = int((~finite).any(axis=(1, 2)).sum())
                raise DatasetError(f"clip {rec.id} in {d}: {bad} frames hold NaN or infinite joint positions; "
                                   f"interpolate or cut them (see `dancemuse dataset check {d}`)")
            n += 1
    if n == 0:
        raise DatasetError(f"no clips in {', '.join(str(f) for f in folders)}; add some with `dancemuse dataset synth`")
    return n
