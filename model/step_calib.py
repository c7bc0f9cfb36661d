"""The footwork steps' spread per style: how far the model may move two planted feet apart or
together before one of them steps (``dancemuse calibrate --steps MODEL.onnx --data DIR...``;
session 68).

Why. Since session 64 the feet stage (live/post.py, "Footwork") lets a planted foot step to where
the model draws it once the model has moved the two feet ``STEP_SPREAD`` (16 cm) apart or together
from where they were locked. One spread for every style gave the styles very different footwork:
on the six test songs the shown dance moved house's feet apart at 0.07 m/s against its data's
0.35 and locking's at 0.06 against 0.33, while ballet (0.20 / 0.29), hip-hop (0.15 / 0.18) and
contemporary (0.25 / 0.18) came near their data's. The model draws house's and locking's footwork
as many short skates, most of them under 16 cm, which the locks held planted.

How. For each style whose training data moves its feet (the model's ``footwork``, `dancemuse
calibrate --footwork`, at least ``FOOTWORK_MIN``), the live engine (post-processing as configured,
the model's own calibration) dances music the style was never trained to (other styles' clips,
as the energy ceiling does: model/energy_ceiling.py) for ``seconds`` with ``SEEDS``, at each
spread of ``GRID``. The shown dances' feet-apart speed (model.metrics_dancer.feet_apart_speed,
the mean over the dances in which the dancer stands) is compared with the style's data's (its
``footwork``). The style's spread is the point of the grid whose shown footwork comes nearest the
data's (the larger spread on a tie): a style that already steps as much as its data keeps
``STEP_SPREAD``, the largest point, and none steps less than before.

It is written into the model's metadata as ``step_spread`` (per style, m) and into its siblings
(``energy_ceiling.rewrite_meta``: the block-N and int8 exports, the offline weights); the weights
are untouched. The engine gives the post-processing the style mix's weighted mean
(``live.post.steps_of``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

GRID = (0.16, 0.12, 0.09, 0.06, 0.04)
"""The spreads measured (m), from ``live.post.STEP_SPREAD`` down."""
SEEDS = (0, 1)
"""Seeds each piece of music is danced with at every spread."""


@dataclass
class StepSpreads:
    """Per style the chosen spread and what each point read."""

    spread: dict[str, float]
    data: dict[str, float]
    """Per style the training data's feet-apart speed (m/s; the model's ``footwork``)."""
    points: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    """Per style (spread m, the shown dances' feet-apart speed m/s), in ``GRID`` order."""
    clips: dict[str, int] = field(default_factory=dict)

    def table(self) -> str:
        rows = ["style          spread   data m/s   (per spread m: the shown feet-apart speed m/s; the spread "
                "whose shown footwork comes nearest the data's)"]
        for st, v in self.data.items():
            pts = "  ".join(f"{g:g}: {s:.3f}" for g, s in self.points.get(st, []))
            got = self.spread.get(st)
            rows.append(f"{st:14s} {'-' if got is None else f'{got:.2f}':>6s}   {v:8.3f}   "
                        f"{pts or '(keeps its feet planted, or the dancer never stands: not measured)'}")
        return "\n".join(rows)


def choose(points: Sequence[tuple[float, float]], want: float) -> float | None:
    """The spread of ``points`` ((spread, shown footwork) pairs) whose shown footwork lies nearest
    ``want`` (the larger spread on a tie); None when no point has a finite figure."""
    best: tuple[float, float] | None = None
    for g, v in points:
        if not math.isfinite(v):
            continue
        key = (abs(v - want), -g)
        if best is None or key < best:
            best = key
    return None if best is None else -best[1]


def measure(model_path: str | Path, data: Sequence[str | Path], cfg: Any, *, per_style: int = 8,
            seconds: float = 20.0, seeds: Sequence[int] = SEEDS, grid: Sequence[float] = GRID,
            progress: Callable[[str], None] | None = None) -> StepSpreads:
    """Measure the step spreads of the exported model ``model_path`` on the dataset folders
    ``data`` (its training data, for their music) with the config ``cfg`` (see the module
    docstring). Raises ModelError for a model without a ``footwork`` table, DatasetError for data
    without music."""
    from live.post import FOOTWORK_MIN
    from model.energy_calib import footwork_table
    from model.energy_ceiling import music_clips, other_music
    from model.errors import DatasetError, ModelError
    from model.metrics_dancer import feet_apart_speed
    from model.metrics_gen import Dancer

    say = progress or (lambda _m: None)
    dancer = Dancer(str(model_path), cfg)
    meta = getattr(dancer.generator, "meta", None) or {}
    foot = footwork_table(meta, dancer.styles)
    if foot is None:
        raise ModelError(f"model {model_path} has no footwork table; run `dancemuse calibrate --footwork "
                         f"{model_path} --data DIR...` first")
    clips = [c for c in music_clips(data) if c.frames >= 2 * c.fps]
    if not clips:
        raise DatasetError(f"{' '.join(map(str, data))} has no clips with music; pass the model's training data")
    out = StepSpreads(spread={}, data={st: float(f) for st, f in zip(dancer.styles, foot) if math.isfinite(f)})
    for st, want in zip(dancer.styles, foot):
        if not math.isfinite(want) or want < FOOTWORK_MIN:
            continue
        pieces = other_music(clips, st, dancer.styles, per_style, seconds)
        if not pieces:
            say(f"{st}: no other style's clips with music; not measured")
            continue
        out.clips[st] = len(pieces)
        rows = []
        for g in grid:
            dancer.step_spread = float(g)
            got = [feet_apart_speed(dancer.dance(s, style=st, seed=sd).poses, fps=dancer.fps)
                   for s in pieces for sd in seeds]
            got = [v for v in got if math.isfinite(v)]
            v = float(np.mean(got)) if got else float("nan")
            rows.append((float(g), v))
            say(f"{st}: spread {g:g} m: the shown feet move apart at {v:.3f} m/s (data {want:.3f})")
        dancer.step_spread = None
        out.points[st] = rows
        best = choose(rows, float(want))
        if best is not None:
            out.spread[st] = best
        for s in pieces:
            dancer.forget(s)
    return out
