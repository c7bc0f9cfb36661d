"""How far the novelty guard's mirror flips can lift the repetition line (issue 10), for a model:
its dances unguarded, as shown (the guard's flips, live.novelty), and with the best side chosen
greedily with hindsight every half second (printed side by side, nothing asserted).

    dancemuse bench flips [--model models/default.onnx] [--songs midi:6] [--long-seeds 2]
    python bench/flips.py --long-minutes 0          # the test songs only

The dances are the evaluation's: every test song in ``--styles-per-song`` styles (seed 0) and,
where the Debian ``fretsonfire-songs-muldjord`` recordings are installed, their 10 minutes with
the style switched every 1/9 (seeds 0..``--long-seeds``-1), each style's stretch a piece. The
repetition ratio is ``model.metrics_dancer.repetition`` per piece (2-s windows, silent ones left
out).

The greedy bound: the unguarded dance is cut into half-second blocks, and each block is shown on
the side (as danced, or mirrored about the mid-hip) that puts the 2-s window ending with it
farthest from every earlier window at least 2 s before it; it knows that half second, which no
causal rule does, and flips as often as it likes. Where its lowest window stays under 0.3, the
mirror alone cannot meet the line: session 41 found 0.211 for the shipped model (models/README.md).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

BLOCK_S = 0.5
"""The greedy bound's block: how often it may choose a side (s)."""


def greedy_sides(poses: np.ndarray, *, fps: float, window_s: float = 2.0, gap_s: float = 2.0,
                 block_s: float = BLOCK_S) -> tuple[np.ndarray, np.ndarray]:
    """(poses shown, side per block): ``poses`` [t, 17, 3] with each ``block_s`` shown as danced
    (0) or mirrored about the mid-hip (1), whichever puts the ``window_s`` window ending with the
    block farther from its nearest earlier window starting at least ``gap_s`` before it (RMS
    joint distance, root-relative, every 0.1 s; ties and blocks with no such window keep the
    previous side)."""
    from model.metrics_dancer import _relative
    from model.skeleton import mirror

    p = np.asarray(poses, np.float64)
    rel = _relative(p)
    root = p - rel
    views = (rel, mirror(rel))  # root-relative, so mirrored about the mid-hip
    sub = max(1, int(round(fps / 10.0)))
    w, gap, b = int(round(window_s * fps)), int(round(gap_s * fps)), max(1, int(round(block_s * fps)))
    shown = rel.copy()
    sides: list[int] = []
    for k in range(0, len(p), b):
        end = min(k + b, len(p))
        start = end - w
        best, side = -1.0, sides[-1] if sides else 0
        if start >= gap:
            past = shown[: start - gap + w]  # windows starting at least gap before this one
            hist = np.lib.stride_tricks.sliding_window_view(past[::sub], w // sub, axis=0)  # [n, 17, 3, m]
            for s in (0, 1):
                cand = shown[start:end].copy()
                cand[k - start:] = views[s][k:end]
                win = np.moveaxis(cand[::sub][: w // sub], 0, -1)  # [17, 3, m]
                d = np.sqrt(((hist - win) ** 2).sum(axis=2).mean(axis=(1, 2))).min() if len(hist) else np.inf
                if d > best + 1e-12:
                    best, side = float(d), s
        shown[k:end] = views[side][k:end]
        sides.append(side)
    return shown + root, np.asarray(sides, np.intp)


def _pieces(shown: Any, raw: Any, songs: Sequence[Any], *, per_song: int, long_seeds: int, minutes: float
            ) -> list[tuple[str, np.ndarray, np.ndarray | None, np.ndarray]]:
    """(name, poses as shown, music mask or None, the same dance unguarded) of the evaluation's
    dances: ``shown`` and ``raw`` are model.metrics_gen.Dancer with the guard on and off."""
    from model import metrics
    from model import metrics_songs as ms
    from model.metrics_suite import _round_robin

    styles, fps = shown.styles, shown.fps
    out = []
    for i, song in enumerate(songs):
        for st in _round_robin(i, per_song, styles):
            out.append((f"{song.name} as {st}", shown.dance(song, style=st, seed=0).poses, None,
                        raw.dance(song, style=st, seed=0).poses))
    recs = ms.recordings() if minutes > 0 else []
    if recs:
        long = ms.long_music(recs, minutes=minutes)
        seg = long.seconds / len(styles)
        sched = [(k * seg, s) for k, s in enumerate(styles)][1:]
        for seed in range(long_seeds):
            on = shown.dance(long, style=styles[0], seed=seed, schedule=sched).poses
            off = raw.dance(long, style=styles[0], seed=seed, schedule=sched).poses
            music = metrics.music_frames(long.audio, long.sr, fps=fps, n=len(on))
            for k, st in enumerate(styles):
                a, z = int(k * seg * fps), int((k + 1) * seg * fps)
                out.append((f"recordings, seed {seed}, {st}", on[a:z], music[a:z], off[a:z]))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="dancemuse bench flips", description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="models/default.onnx", help="the model (default models/default.onnx)")
    ap.add_argument("--songs", nargs="+", default=["midi:6"], help="test songs (default midi:6)")
    ap.add_argument("--styles-per-song", type=int, default=2, help="styles each test song is danced in (default 2)")
    ap.add_argument("--long-seeds", type=int, default=2, help="seeds the recordings are danced with (default 2)")
    ap.add_argument("--long-minutes", type=float, default=10.0, help="minutes of recordings (default 10; 0 = none)")
    args = ap.parse_args(argv)

    from model import metrics_dancer as md
    from model import metrics_songs as ms
    from model.config import load_config
    from model.errors import DanceMuseError
    from model.metrics_gen import Dancer

    cfg = load_config(None)
    try:
        dancer = Dancer(args.model, cfg)
        unguarded = Dancer(args.model, {**cfg, "live": {**cfg["live"], "novelty": 0.0, "repel": 0.0}})
        songs = ms.find_songs(args.songs)
        pieces = _pieces(dancer, unguarded, songs, per_song=args.styles_per_song, long_seeds=args.long_seeds,
                         minutes=args.long_minutes)
    except DanceMuseError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    fps = dancer.fps
    cols: dict[str, list[np.ndarray]] = {"unguarded": [], f"shown (novelty {cfg['live'].get('novelty', 0):g}, "
                                         f"repel {cfg['live'].get('repel', 0):g})": [],
                                         "greedy flips, hindsight": []}
    worst: list[tuple[float, str]] = []
    for name, shown, music, raw in pieces:
        bound, _ = greedy_sides(raw, fps=fps)
        for col, p in zip(cols, (raw, shown, bound)):
            cols[col].append(md.repetition(p, fps=fps, music=music))
        r = cols["greedy flips, hindsight"][-1]
        if len(r):
            worst.append((float(r.min()), name))
    print(f"model {args.model}: {len(pieces)} pieces ({', '.join(args.songs)}"
          + (f"; recordings with {args.long_seeds} seeds)" if any(n.startswith("recordings") for n, *_ in pieces)
             else "; no recordings)"))
    print(f"{'repetition ratio':28s}" + "".join(f"{c:>28s}" for c in cols))
    allr = {c: np.concatenate(v) if v else np.zeros(0) for c, v in cols.items()}
    for label, f in (("lowest window", np.min), ("median", np.median), (f"share under {md.REPEAT_RATIO:g}", md.repeating_share)):
        print(f"{label:28s}" + "".join(f"{f(v) if len(v) else float('nan'):28.3f}" for v in allr.values()))
    for v, name in sorted(worst)[:3]:
        print(f"  greedy bound's lowest pieces: {v:.3f} {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
