"""How many moves a model offers its pick (issue 10, the repetition line), in under a minute a model.

    dancemuse bench moves                                       # the shipped model, seeds 0-3
    python bench/moves.py --model runs/v38/default.onnx models/default.onnx
    python bench/moves.py --seeds 1 --long-minutes 3            # a quick look

`dancemuse bench repeats` says whether a change to the dancer comes back less, but it needs 24 seeds
(6 minutes a model) to read a change of a few tenths of a point, and it measures the whole dancer: the
model, the pick, the guards. This bench asks the model alone what sessions 51-60 found the line needs:
does it offer other moves where it now comes back? At every decision of the latent pick
(live/pick.py: every latent redraw, the draws rolled out from the decoder's state with the music
held), it reads the draws' first second as the pick itself sees it (raw root-relative joints every
third frame) and records:

- **distinct draws**: how many of the draws are different moves in their first second, counted greedily (a draw joins the
  first earlier draw within ``--apart`` of the history's mean window pair distance, RMS per joint
  over the first second; otherwise it is a move of its own). 1 = every draw dances the same move;
  8 = eight moves;
- **the best draw's ratio**: the pick's own measure of the draw it takes, the distance of its windows
  (ending 0.5 and 1 s into the roll-out) to their nearest earlier window, as danced and mirrored,
  over the history's mean window pair distance: the repetition line's ratio as the pick sees it
  before it commits. Its low percentiles are the decisions where even the best draw comes back;
- the share of decisions whose best draw is under 0.3 and under 0.4.

The music is the recordings' long music danced in nine style pieces (as `dancemuse evaluate` and
`bench repeats` dance it; without the recordings the test songs), ``--seeds`` seeds each. Several
``--model`` paths are measured on the same music and seeds, side by side, with each style's distinct
draws. The numbers are the pick's, not the evaluation's: compare models with them, and confirm a
difference with `bench repeats` (session 61: the shipped model offers 2.8 distinct moves in 8
draws in their first second, the two fine-tunes of session 60 that came back more 2.6; models/README.md).
The first second is where the pick cuts its draws to four, so it is all every draw is rolled out for:
over the whole 2 s (every draw rolled on; a throw-away measurement) the shipped model's 8 draws are
4.4 moves. The count is coarse: two decoders trained afresh read 2.60 and 2.50 here where the 24-seed
bench told them apart by 1.2 points.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import live  # noqa: E402,F401 - the package, before bench/live.py can shadow it
from live import pick as lp  # noqa: E402
from model import skeleton as sk  # noqa: E402

APART = 0.3
"""Two draws are different moves when their first seconds lie this share of the history's mean
window pair distance apart (the repetition line's ratio)."""


@dataclass
class Offers:
    """One model's decisions: per decision its distinct draws, its best and median draw's ratio
    and the style it was danced in (the style weights' largest)."""

    distinct: list[int] = field(default_factory=list)
    best: list[float] = field(default_factory=list)
    median: list[float] = field(default_factory=list)
    style: list[int] = field(default_factory=list)
    seconds: float = 0.0


def distinct_moves(rolls: np.ndarray, scale: float, *, apart: float = APART) -> int:
    """Different moves among the draws' roll-outs ``rolls`` [shape=(draws, m, >= 51)] (raw pose
    vectors, joints first): greedily, each draw joins the first earlier move within ``apart`` x
    ``scale`` (RMS per joint over the m samples, root-relative) or starts one of its own."""
    k, m = rolls.shape[0], rolls.shape[1]
    r = rolls[:, :, : sk.NUM_JOINTS * 3].astype(np.float64).reshape(k, m, sk.NUM_JOINTS, 3)
    r = r - 0.5 * (r[:, :, 11:12] + r[:, :, 12:13])
    f = r.reshape(k, -1)
    sq = (f**2).sum(1)
    d = np.sqrt(np.maximum(sq[:, None] + sq[None, :] - 2.0 * f @ f.T, 0.0) / (m * sk.NUM_JOINTS))
    heads: list[int] = []
    for i in range(k):
        if not any(d[i, h] < apart * scale for h in heads):
            heads.append(i)
    return len(heads)


@contextlib.contextmanager
def watching(offers: Offers, *, apart: float = APART) -> Iterator[Offers]:
    """While open, every pick decision (its pruning step, where all the draws' first seconds are
    at hand) is recorded into ``offers``; the pick chooses as it would without the watch."""
    prune = lp.LatentPick.prune

    def watched(self: lp.LatentPick, rolls: np.ndarray) -> np.ndarray:
        spread = self.spread()
        if spread is not None and spread > 1e-9:
            near = self._nearest(rolls) / spread
            offers.distinct.append(distinct_moves(rolls, spread, apart=apart))
            offers.best.append(float(near.max()))
            offers.median.append(float(np.median(near)))
            offers.style.append(int(np.argmax(self.style)) if self.style is not None else -1)
        return prune(self, rolls)

    lp.LatentPick.prune = watched  # type: ignore[method-assign]
    try:
        yield offers
    finally:
        lp.LatentPick.prune = prune  # type: ignore[method-assign]


def measure(dancer: Any, long: Any, seeds: Sequence[int], *, apart: float = APART) -> Offers:
    """Dance ``long`` in the evaluation's nine style pieces with every seed, watching the pick."""
    styles = dancer.styles
    seg = long.seconds / len(styles)
    schedule = [(k * seg, s) for k, s in enumerate(styles)][1:]
    t0 = time.perf_counter()
    with watching(Offers(), apart=apart) as got:
        for seed in seeds:
            dancer.dance(long, style=styles[0], seed=seed, schedule=schedule)
    got.seconds = time.perf_counter() - t0
    return got


def _pct(x: Sequence[float], q: float) -> str:
    return f"{np.percentile(x, q):.3f}" if len(x) else "-"


def table(results: dict[str, Offers], styles: Sequence[str]) -> str:
    names = list(results)
    rows: list[tuple[str, list[str]]] = []
    vals = list(results.values())
    rows.append(("decisions", [str(len(o.best)) for o in vals]))
    rows.append(("distinct draws, mean", [f"{np.mean(o.distinct):.2f}" if o.distinct else "-" for o in vals]))
    rows.append(("... decisions with 1-2", [f"{np.mean(np.asarray(o.distinct) <= 2) * 100:.1f} %" if o.distinct else "-"
                                             for o in vals]))
    rows.append(("best draw's ratio, p5", [_pct(o.best, 5) for o in vals]))
    rows.append(("... p25", [_pct(o.best, 25) for o in vals]))
    rows.append(("... median", [_pct(o.best, 50) for o in vals]))
    rows.append(("median draw's ratio, median", [_pct(o.median, 50) for o in vals]))
    for line in (0.3, 0.4):
        rows.append((f"best draw under {line:g}", [f"{np.mean(np.asarray(o.best) < line) * 100:.1f} %" if o.best else "-"
                                                   for o in vals]))
    for i, st in enumerate(styles):
        cells = []
        for o in vals:
            d = np.asarray(o.distinct)[np.asarray(o.style) == i]
            cells.append(f"{d.mean():.2f}" if len(d) else "-")
        rows.append((f"  {st}, distinct draws", cells))
    rows.append(("seconds", [f"{o.seconds:.0f}" for o in vals]))
    width = max(12, *(len(n) + 2 for n in names), *(len(v) + 2 for _, vs in rows for v in vs))
    lw = max(len(lbl) for lbl, _ in rows) + 2
    head = " " * lw + "".join(n.rjust(width) for n in names)
    return "\n".join([head, "-" * len(head)] + [lbl.ljust(lw) + "".join(v.rjust(width) for v in vs) for lbl, vs in rows])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="dancemuse bench moves", description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", nargs="+", default=None, help="model(s) to measure side by side (default: model.path)")
    ap.add_argument("--set", dest="set_", action="append", default=[], metavar="SECTION.KEY=VALUE",
                    help="override a config key (repeatable)")
    ap.add_argument("--seeds", type=int, default=4, help="seeds the long music is danced with (default 4)")
    ap.add_argument("--first-seed", type=int, default=0, help="the first of them (default 0)")
    ap.add_argument("--long-minutes", type=float, default=10.0, help="minutes of the long music (default 10)")
    ap.add_argument("--apart", type=float, default=APART,
                    help=f"two draws are different moves this share of the mean pair distance apart (default {APART})")
    args = ap.parse_args(argv)

    from live.cli import parse_set
    from live.runtime import resolve_model_path
    from model import metrics_songs as ms
    from model.config import load_config
    from model.errors import ConfigError, DanceMuseError
    from model.metrics_gen import Dancer

    try:
        if args.seeds < 1 or args.long_minutes <= 0:
            raise ConfigError("--seeds must be 1 or more and --long-minutes over 0")
        cfg = load_config(None, overrides=parse_set(args.set_))
        if int(cfg["live"].get("pick", 1)) <= 1:
            raise ConfigError("live.pick is 1 (the pick is off), so there are no draws to count; leave it at its "
                              "default or set live.pick=8")
        models = [str(resolve_model_path(m)) for m in (args.model or [cfg["model"].get("path") or None])]
        recs = ms.recordings()
        long = ms.long_music(list(recs) or ms.find_songs(["midi:6"]), minutes=args.long_minutes)
        seeds = list(range(args.first_seed, args.first_seed + args.seeds))
        results: dict[str, Offers] = {}
        styles: list[str] = []
        for m in models:
            dancer = Dancer(m, cfg)
            if not hasattr(dancer.generator, "pick"):
                raise ConfigError(f"{m}: its runtime has no pick (the ONNX runtimes dance without it); "
                                  "measure a model with its numpy weights beside it (default_offline.npz)")
            styles = styles or dancer.styles
            results[Path(m).parent.name + "/" + Path(m).name] = measure(dancer, long, seeds, apart=args.apart)
            dancer.forget(long)
    except DanceMuseError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"long music: {'recordings' if recs else 'test songs'}, {args.long_minutes:g} min, seeds "
          f"{seeds[0]}-{seeds[-1]}; draws apart by {args.apart:g} of the mean pair distance count as two moves")
    print(table(results, styles))
    if not all(o.best for o in results.values()):
        print("(a model with no decisions danced too little to compare: lengthen --long-minutes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
