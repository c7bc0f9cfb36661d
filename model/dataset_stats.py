"""The dance metrics of a dataset's own poses, per style (``dancemuse dataset info --metrics``).

These are the ground-truth numbers a trained model is compared with. Beats are the
clip's ground-truth beats when it has them (synthetic clips do); clips without beats
count for every metric but BAS and lag.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from model import metrics
from model import metrics_dancer as md
from model.dataset import clip_records, load_poses

COLUMNS = ("clips", "minutes", "bas", "lag_ms", "freeze", "diversity", "rep_min", "repeating", "bone_err", "foot_skate",
           "jerk", "speed")


def dataset_metrics(root: str | Path) -> dict[str, dict[str, float]]:
    """Per style (and "all"): clip count, minutes, mean Beat Align Score, median
    motion-to-beat lag (ms), mean freeze ratio, diversity (kinetic features standardised
    over the whole dataset), the repetition ratio of its 2-second windows
    (``model.metrics_dancer.repetition``, each clip against itself): the lowest, and the
    share under ``model.metrics_dancer.REPEAT_RATIO`` (windows that nearly repeat one 2 s or more away: a move
    cycled for bars on end), mean relative bone-length error, foot skating (m/s), jerk
    (m/s^3), mean joint speed (m/s). Metrics without data are NaN."""
    by: dict[str, list[tuple[np.ndarray, np.ndarray | None, float]]] = {}
    for r in clip_records(root):
        z = load_poses(r.poses)
        p = z.get("poses")
        if p is None or p.ndim != 3 or p.shape[1:] != (17, 3) or len(p) < 4 or not np.isfinite(p).all():
            continue
        by.setdefault(r.style, []).append((p, z.get("beats"), r.fps))
    every = [p for v in by.values() for p, _, _ in v]
    out: dict[str, dict[str, float]] = {}
    groups = {**{s: by[s] for s in sorted(by)}, "all": [c for s in sorted(by) for c in by[s]]}
    for style, clips in groups.items():
        if not clips:
            continue
        row: dict[str, Any] = {"clips": len(clips), "minutes": sum(len(p) / f for p, _, f in clips) / 60.0}
        with_beats = [(p, b, f) for p, b, f in clips if b is not None and len(b) > 1]
        row["bas"] = float(np.mean([metrics.beat_align_score(p, b, fps=f) for p, b, f in with_beats])) if with_beats else float("nan")
        lags = [metrics.motion_beat_lag_ms(p, b, fps=f) for p, b, f in with_beats]
        lags = [x for x in lags if np.isfinite(x)]
        row["lag_ms"] = float(np.median(lags)) if lags else float("nan")
        row["freeze"] = float(np.mean([metrics.freeze_ratio(p, fps=f) for p, _, f in clips]))
        fps = clips[0][2]
        row["diversity"] = metrics.diversity([p for p, _, _ in clips], fps=fps, reference=every) if len(clips) > 1 else float("nan")
        reps = [md.repetition(p, fps=f) for p, _, f in clips]
        rep = np.concatenate(reps) if reps else np.zeros(0)
        row["rep_min"] = float(rep.min()) if len(rep) else float("nan")
        row["repeating"] = md.repeating_share(rep)
        row["bone_err"] = float(np.mean([metrics.bone_length_error(p) for p, _, _ in clips]))
        row["foot_skate"] = float(np.mean([metrics.foot_skating(p, fps=f) for p, _, f in clips]))
        row["jerk"] = float(np.mean([metrics.jerk(p, fps=f) for p, _, f in clips]))
        row["speed"] = float(np.mean(np.concatenate([metrics.joint_speed(p, fps=f) for p, _, f in clips])))
        out[style] = row
    return out


def format_table(stats: dict[str, dict[str, float]]) -> str:
    """A fixed-width table of ``dataset_metrics`` output."""
    lines = [f"{'style':<10}" + "".join(f"{c:>11}" for c in COLUMNS)]
    for style, row in stats.items():
        cells = []
        for c in COLUMNS:
            v = row[c]
            cells.append(f"{int(v):>11d}" if c == "clips" else f"{v:>11.4f}" if c in ("bas", "freeze", "bone_err", "rep_min", "repeating") else f"{v:>11.2f}")
        lines.append(f"{style:<10}" + "".join(cells))
    return "\n".join(lines)
