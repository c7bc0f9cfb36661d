"""Contact sheets: a strip of stick figures over a few seconds of a dance, front and side view.

``write_sheets(poses, path_stem, fps=..., title=...)`` writes ``<stem>_front.png`` (seen
from the audience: x right, y up), ``<stem>_side.png`` (seen from the dancer's left:
z right, y up) and ``<stem>_feet.png`` (:func:`write_feet`: both ankles' paths seen from above
over the same seconds, thick where a foot is in contact as ``dancemuse evaluate`` counts it, so
a planted foot is a dot and a sliding one a stroke). Figures are sampled every ``step_s`` over ``seconds`` from ``start_s`` and
placed side by side; each figure is drawn about its own root, so travel shows as the
small number under it (root x/z in m). The dancer's left side is orange, the right blue.
matplotlib (Agg) draws them; writes are atomic.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from model.skeleton import BONES, FEET, root_of

LEFT = {1, 3, 5, 7, 9, 11, 13, 15}
RIGHT = {2, 4, 6, 8, 10, 12, 14, 16}
SPACING = 0.9
"""Metres between neighbouring figures on the strip."""


def _colour(a: int, b: int) -> str:
    if a in LEFT and b in LEFT:
        return "#ff9640"
    if a in RIGHT and b in RIGHT:
        return "#46beff"
    return "#dddddd"


def _save(fig: Any, path: Path) -> None:
    """Write ``fig`` to ``path`` atomically (a temporary file, then a rename) and close it."""
    import matplotlib.pyplot as plt

    tmp = path.with_name(path.stem + f".tmp{os.getpid()}.png")
    fig.savefig(tmp, facecolor=fig.get_facecolor())
    plt.close(fig)
    os.replace(tmp, path)


def _strip(poses: np.ndarray, frames: np.ndarray, axis: int, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(frames)
    fig, ax = plt.subplots(figsize=(max(6.0, 0.75 * n), 2.6), dpi=100)
    fig.patch.set_facecolor("#15171c")
    ax.set_facecolor("#15171c")
    roots = root_of(poses)
    for k, f in enumerate(frames):
        p = poses[f]
        h = p[:, axis] - roots[f, axis] + k * SPACING
        for a, b in BONES:
            ax.plot([h[a], h[b]], [p[a, 1], p[b, 1]], color=_colour(a, b), lw=2.0, solid_capstyle="round")
        ax.text(k * SPACING, -0.12, f"{roots[f, axis]:+.2f}", color="#888888", fontsize=6, ha="center")
    ax.axhline(0.0, color="#555555", lw=0.8)
    ax.set_xlim(-0.6, (n - 1) * SPACING + 0.6)
    ax.set_ylim(-0.2, 2.0)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title, color="#dddddd", fontsize=9)
    fig.tight_layout()
    _save(fig, path)


def write_sheets(poses: np.ndarray, stem: str | Path, *, fps: float, title: str, start_s: float = 10.0,
                 seconds: float = 8.0, step_s: float = 0.5) -> list[Path]:
    """Front and side contact sheets of ``poses`` [t, 17, 3] and the feet seen from above
    (:func:`write_feet`); returns the three PNG paths."""
    p = np.asarray(poses, np.float64)
    if len(p) == 0:
        raise ValueError("no poses to draw")
    start = start_s if len(p) / fps >= start_s + seconds else max(0.0, len(p) / fps - seconds)
    frames = np.arange(start, start + seconds, step_s) * fps
    frames = np.clip(np.round(frames).astype(int), 0, len(p) - 1)
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    out = []
    for axis, view in ((0, "front"), (2, "side")):
        path = stem.with_name(f"{stem.name}_{view}.png")
        _strip(p, frames, axis, path, f"{title} - {view}, {start:.0f}-{start + seconds:.0f} s every {step_s:g} s")
        out.append(path)
    out.append(write_feet(p, stem.with_name(f"{stem.name}_feet.png"), fps=fps, title=title, start_s=start,
                          seconds=seconds))
    return out


def write_feet(poses: np.ndarray, path: str | Path, *, fps: float, title: str, start_s: float = 10.0,
               seconds: float = 8.0) -> Path:
    """Both ankles' horizontal paths over ``seconds`` from ``start_s`` seen from above (x right,
    z up; the left foot orange, the right blue), thick on every step a foot is in contact as
    ``model.metrics_dancer.foot_sliding`` counts it (low and not rising or falling), with the
    mean speed of those steps in the title: a planted foot shows as a dot, a sliding one as a
    stroke. Returns the PNG path (written atomically)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from model import metrics_dancer as md

    p = np.asarray(poses, np.float64)
    if len(p) < 2:
        raise ValueError("no feet to draw: fewer than two poses")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    a = int(round(start_s * fps)) if len(p) / fps >= start_s + seconds else max(0, len(p) - int(round(seconds * fps)))
    q = p[a: a + int(round(seconds * fps)) + 1]
    contact, speed, _ = md.contact_steps(p, fps)  # the floor as the metric takes it, over the dance
    contact, speed = contact[a: a + len(q) - 1], speed[a: a + len(q) - 1]
    fig, ax = plt.subplots(figsize=(5.2, 5.2), dpi=100)
    fig.patch.set_facecolor("#15171c")
    ax.set_facecolor("#15171c")
    for k, (j, colour) in enumerate(zip(FEET, ("#ff9640", "#46beff"), strict=True)):
        x, z = q[:, j, 0], q[:, j, 2]
        ax.plot(x, z, color=colour, lw=0.8, alpha=0.5)
        for i in np.nonzero(contact[:, k])[0]:
            ax.plot(x[i: i + 2], z[i: i + 2], color=colour, lw=3.5, solid_capstyle="round")
    steps = int(contact.sum())
    ax.set_aspect("equal", adjustable="datalim")
    ax.tick_params(colors="#888888", labelsize=7)
    for spine in ax.spines.values():
        spine.set_color("#555555")
    ax.set_xlabel("x (m)", color="#888888", fontsize=8)
    ax.set_ylabel("z (m)", color="#888888", fontsize=8)
    end = (a + len(q) - 1) / fps
    slide = f"thick: in contact, sliding {float(speed[contact].mean()):.2f} m/s there" if steps else "never in contact"
    ax.set_title(f"{title} - feet from above, {a / fps:.0f}-{end:.0f} s\n{slide}",
                 color="#dddddd", fontsize=9)
    fig.tight_layout()
    _save(fig, path)
    return path
