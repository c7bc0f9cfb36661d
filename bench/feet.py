"""The shipped dancer's feet and knees against the path before session 47 and the training data,
per style (printed side by side, nothing asserted).

    dancemuse bench feet [--model models/default.onnx] [--data data/synth_v5 data/mocap] [--songs midi:6]

Per style, every test song danced with seed 0 (the evaluation's songs), three columns each:

- *old*: the same model and post-processing with the feet stages of sessions 47, 57, 64, 66, 67 and 69 off
  (:func:`old_path`: the body shift shown as the locks need it, no step clearance, no knee turn
  limits, no steps where the locks would hold the body past their cap, no footwork steps where the
  model moves two planted feet apart, planted feet shown hovering as drawn, the stage's glides at a
  steady rate whatever the beat, planted legs solved at full length: session 69's soft knees off), which is what shipped
  in session 45 but for where a lifted foot lands (since session 57 where it is shown);
- *new*: as shipped;
- *data*: the style's training clips (where a figure exists for them).

The figures (``model.metrics`` and ``model.metrics_dancer``): jerk (m/s^3), foot sliding in
contact (m/s), the share of contact steps skating on the floor (``md.skating``), the share of
frames where a joint jumps over 6 m/s and 2.5x as fast as the model drew it (``md.made_pops``, the
post-processing's; no data column), the share of frames off the floor (``md.off_floor``), the feet's
speed over the hands' (``md.limb_speed_ratio``, the issue's leg / arm line) and how fast a standing
dancer moves its feet apart or together (``md.feet_apart_speed``, m/s: the footwork of session 64) and
how high a standing dancer's lower foot is over the floor (``md.floor_gap``, m, median: session 65;
planted feet set on it since session 66) and the share of leg-frames with a leg at 99 % of its
length or more (``md.straight_legs``: a knee locked straight, which the data's never is; session 69).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

STAGES = ("SHIFT_SMOOTH_S", "STEP_H", "KNEE_TURN_DEG_S", "KNEE_TURN_V", "STEP_TAKE", "STEP_SPREAD", "PIN_S",
          "GLIDES_ON_GROOVE", "SOFT_IK")
"""live.post's constants of session 47's three stages, session 57's two, session 64's footwork, session 66's
planted feet on the floor, session 67's glides on the groove's clock and session 69's soft knees (0 = off)."""
FIGURES = (("jerk", "jerk", "{:.0f}"), ("slide", "sliding", "{:.3f}"), ("skate", "skating", "{:.3f}"),
           ("pops", "jumps made", "{:.4f}"), ("air", "off floor", "{:.3f}"), ("legs", "foot/hand", "{:.3f}"),
           ("apart", "feet apart", "{:.3f}"), ("gap", "floor gap", "{:.3f}"), ("straight", "straight legs", "{:.3f}"))
"""(key, column title, format) of the table."""


@contextlib.contextmanager
def old_path() -> Iterator[None]:
    """The feet stages of sessions 47, 57, 64, 66 and 67 off (live.post's constants at 0) for post-processors
    made inside; restored on leaving."""
    import live.post as lp

    kept = {name: getattr(lp, name) for name in STAGES}
    try:
        for name in STAGES:
            setattr(lp, name, 0.0)
        yield
    finally:
        for name, value in kept.items():
            setattr(lp, name, value)


def figures(poses: np.ndarray, raw: np.ndarray | None, *, fps: float) -> dict[str, float]:
    """One dance's figures (``raw`` None: no post-made jumps)."""
    from model import metrics
    from model import metrics_dancer as md

    return {"jerk": metrics.jerk(poses, fps=fps), "slide": md.foot_sliding(poses, fps=fps)[0],
            "skate": md.skating(poses, fps=fps),
            "pops": md.made_pops(poses, raw, fps=fps) if raw is not None else float("nan"),
            "air": md.off_floor(poses), "legs": md.limb_speed_ratio(poses, fps=fps),
            "apart": md.feet_apart_speed(poses, fps=fps), "gap": md.floor_gap(poses),
            "straight": md.straight_legs(poses)}


def _mean(rows: Sequence[dict[str, float]]) -> dict[str, float]:
    out = {}
    for key, _, _ in FIGURES:
        v = [r[key] for r in rows if np.isfinite(r[key])]
        out[key] = float(np.mean(v)) if v else float("nan")
    return out


def model_figures(model: str, songs: Sequence[Any], *, old: bool
                  ) -> tuple[list[str], dict[str, dict[str, float]], int]:
    """(styles, style -> mean figures, fps) of every song danced in every style with seed 0."""
    from model.config import load_config
    from model.metrics_gen import Dancer

    with old_path() if old else contextlib.nullcontext():
        dancer = Dancer(model, load_config(None))
        out = {}
        for st in dancer.styles:
            rows = []
            for song in songs:
                g = dancer.dance(song, style=st, seed=0)
                rows.append(figures(g.poses, g.raw, fps=dancer.fps))
            out[st] = _mean(rows)
    return list(dancer.styles), out, int(dancer.fps)


def data_figures(paths: Sequence[str | Path], *, fps: int) -> dict[str, dict[str, float]]:
    """Style -> mean figures of the training clips (``model.metrics_suite.load_train``)."""
    from model.metrics_suite import load_train

    train = load_train(paths, fps=fps)
    return {st: _mean([figures(np.asarray(p, np.float64), None, fps=fps) for p in v]) for st, v in train.poses().items()}


def table(styles: Sequence[str], old: dict[str, dict[str, float]], new: dict[str, dict[str, float]],
          data: dict[str, dict[str, float]]) -> str:
    """The side-by-side table (old / new / data per figure, one row per style and the mean)."""
    nan = {key: float("nan") for key, _, _ in FIGURES}

    def cell(fmt: str, *v: float) -> str:
        return " / ".join("-" if not np.isfinite(x) else fmt.format(x) for x in v)

    head = f"{'style':13s}" + "".join(f"  {title + (' old / new' if key == 'pops' else ' old / new / data'):>30s}"
                                      for key, title, _ in FIGURES)
    lines = [head]
    for st in [*styles, "mean"]:
        if st == "mean":
            o, n = _mean(list(old.values())), _mean(list(new.values()))
            d = _mean([data[s] for s in styles if s in data])
        else:
            o, n, d = old[st], new[st], data.get(st, nan)
        parts = []
        for key, _, fmt in FIGURES:
            parts.append(f"  {cell(fmt, o[key], n[key]) if key == 'pops' else cell(fmt, o[key], n[key], d[key]):>30s}")
        lines.append(f"{st:13s}" + "".join(parts))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="dancemuse bench feet", description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="models/default.onnx", help="the model (default models/default.onnx)")
    ap.add_argument("--data", nargs="+", default=["data/synth_v5", "data/mocap"],
                    help="the training data (default data/synth_v5 data/mocap)")
    ap.add_argument("--songs", nargs="+", default=["midi:6"], help="test songs (default midi:6)")
    args = ap.parse_args(argv)

    from model import metrics_songs as ms
    from model.errors import DanceMuseError

    try:
        songs = ms.find_songs(args.songs)
        styles, new, fps = model_figures(args.model, songs, old=False)
        _, old, _ = model_figures(args.model, songs, old=True)
        data = data_figures(args.data, fps=fps)
    except DanceMuseError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"model {args.model} on {', '.join(args.songs)} (every style, seed 0) against {' + '.join(args.data)}; "
          "old = the feet stages of sessions 47, 57, 64, 66, 67 and 69 off (the body shift, the step clearance, the knee turn "
          "limits, the steps, the footwork steps, the feet set on the floor, the glides on the groove's clock, the soft knees)")
    print(table(styles, old, new, data))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
