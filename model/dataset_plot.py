"""The PNG summary of a dataset (``dancemuse dataset info DIR --png out.png``).

Three panels: minutes of dance per style (bars), the distribution of the mean joint
speed per frame for each style (m/s), and a row of stick-figure snapshots per style
(front view as the audience sees it: the dancer's left on screen right, floor at y = 0).
Needs matplotlib (the ``train`` or ``dev`` extra).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from model.errors import DatasetError
from model.skeleton import BONES

SNAPSHOTS = 5
"""Stick figures drawn per style."""


def _draw_figure(ax: object, pose: np.ndarray, color: str) -> None:
    # Front view seen from the audience (+z toward them): screen x = -x.
    for a, b in BONES:
        ax.plot([-pose[a, 0], -pose[b, 0]], [pose[a, 1], pose[b, 1]], color=color, lw=2)  # type: ignore[attr-defined]
    ax.scatter(-pose[:, 0], pose[:, 1], s=6, color="k", zorder=3)  # type: ignore[attr-defined]


def plot_dataset(root: Path, records: Sequence[object], png: Path) -> None:
    """Draw the summary of the clips ``records`` (model.dataset.ClipRecord) into ``png``."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise DatasetError("the PNG summary needs matplotlib; pip install 'dancemuse[train]' or drop --png") from None
    from model.dataset_files import load_poses
    from model.metrics import joint_speed

    by_style: dict[str, list[tuple[str, np.ndarray, float]]] = {}
    for r in records:
        if not r.poses.is_file():  # type: ignore[attr-defined]
            continue
        p = load_poses(r.poses)["poses"]  # type: ignore[attr-defined]
        if p.ndim != 3 or p.shape[1:] != (17, 3) or len(p) < 2 or not np.isfinite(p).all():
            continue  # `dataset check` reports these
        by_style.setdefault(r.style, []).append((r.id, p, r.fps))  # type: ignore[attr-defined]
    styles = sorted(by_style)
    if not styles:
        raise DatasetError(f"no readable clips in {root} to plot; run `dancemuse dataset check {root}`")
    colors = {s: f"C{i}" for i, s in enumerate(styles)}
    rows = len(styles)
    fig = plt.figure(figsize=(2.4 * SNAPSHOTS, 3.2 + 2.6 * rows))
    gs = fig.add_gridspec(1 + rows, SNAPSHOTS, height_ratios=[1.3] + [1.0] * rows, hspace=0.5)
    ax_min = fig.add_subplot(gs[0, :2])
    minutes = [sum(len(p) / fps for _, p, fps in by_style[s]) / 60.0 for s in styles]
    ax_min.bar(styles, minutes, color=[colors[s] for s in styles])
    for i, m in enumerate(minutes):
        ax_min.text(i, m, f"{m:.1f}", ha="center", va="bottom", fontsize=8)
    ax_min.set_ylabel("minutes")
    ax_min.set_title(f"{root.name}: {sum(minutes):.1f} min, {len(records)} clips")
    ax_sp = fig.add_subplot(gs[0, 2:])
    for s in styles:
        sp = np.concatenate([joint_speed(p, fps=fps) for _, p, fps in by_style[s]])
        ax_sp.hist(np.clip(sp, 0, 3.0), bins=60, range=(0, 3.0), density=True, histtype="step", lw=1.5,
                   color=colors[s], label=f"{s} (mean {sp.mean():.2f})")
    ax_sp.set_xlabel("mean joint speed per frame (m/s)")
    ax_sp.set_ylabel("density")
    ax_sp.set_title("pose speed distribution")
    ax_sp.legend(fontsize=8)
    rng = np.random.default_rng(0)
    for row, s in enumerate(styles):
        clips = by_style[s]
        for col in range(SNAPSHOTS):
            cid, p, fps = clips[col % len(clips)]
            k = int(rng.integers(len(p)))
            pose = p[k] - np.array([p[k, 11:13, 0].mean(), 0.0, 0.0])
            ax = fig.add_subplot(gs[1 + row, col])
            ax.axhline(0.0, color="0.6", lw=1)
            _draw_figure(ax, pose, colors[s])
            ax.set_xlim(-1.0, 1.0)
            ax.set_ylim(-0.05, 2.0)
            ax.set_aspect("equal")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"{s}: {cid} @ {k / fps:.1f}s", fontsize=7)
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=80)
    plt.close(fig)
