"""`dancemuse dataset synth | check | info` (and `import` / `extract` when present).

    dancemuse dataset synth --out data/synth --minutes 30 --styles house,ballet --seed 1 [--music synth]
    dancemuse dataset check data/synth          # one line per problem, exit 1 if any
    dancemuse dataset info data/synth --png summary.png --metrics
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def register(sub: Any) -> None:
    from live.cli import common_parent, finite_float

    p = sub.add_parser("dataset", help="make, import, check and summarise dance datasets")
    dsub = p.add_subparsers(dest="dataset_cmd", metavar="ACTION", required=True)

    s = dsub.add_parser("synth", parents=[common_parent()],
                        help="render songs with a synthetic dancer for each (six styles)",
                        description="Render songs (real-instrument MIDI by default) with a synthetic "
                                    "dancer for each into a dataset folder (created or appended to).")
    s.add_argument("--out", required=True, metavar="DIR", help="dataset folder")
    s.add_argument("--minutes", type=finite_float, default=30.0, help="total minutes, split evenly over the styles (default 30)")
    s.add_argument("--styles", default="house,hiphop,ballet,popping,locking,contemporary",
                   help="comma-separated styles (default: all six: house,hiphop,ballet,popping,locking,contemporary)")
    s.add_argument("--seed", type=int, default=0, help="random seed (default 0); other seeds give other songs")
    s.add_argument("--clip-seconds", default="40,80", metavar="MIN,MAX",
                   help="length range of a clip in seconds (default 40,80)")
    s.add_argument("--music", default="midi", choices=("midi", "synth"),
                   help="midi: real-instrument songs rendered with fluidsynth, genres fitting each style "
                        "(default); synth: the built-in numpy synthesiser (fast)")
    s.add_argument("--augment", type=finite_float, default=None, metavar="SHARE",
                   help="share of MIDI clips whose audio is augmented (EQ, reverb, noise, tempo/pitch; default 0.4)")
    s.add_argument("--styles-per-song", type=int, default=1, metavar="K",
                   help="dance every song in K styles: its own and K-1 others, so a model learns the style from "
                        "its style input, not from the music (default 1)")
    s.add_argument("--variety", type=finite_float, default=1.0, metavar="P",
                   help="chance (0..1) that an 8-count unit varies its second half: other arms over the same "
                        "footwork, a little bigger or smaller, a level lower or higher (default 1; 0: one move "
                        "cycle per unit, the choreography of data sets made before it, such as data/synth_v4)")
    s.add_argument("--stance", type=int, choices=(0, 1), default=1,
                   help="1 (default): in quieter passages the moves get smaller around the style's own stance "
                        "(bent knees, its arms); 0: they straighten up toward a neutral standing pose, as in "
                        "data sets made before session 34 (data/synth_v4, data/synth_v5)")
    s.add_argument("--calm", type=finite_float, default=0.0, metavar="W",
                   help="weight (0..4) of the calm versions of a style's normal moves in calm passages (breaks, "
                        "intros), beside its own calm moves' 1, so a break does not alternate between two sways "
                        "(default 0: calm moves only; the data repeats less with it, but a model fine-tuned on it "
                        "repeated itself more: models/README.md, session 54)")
    s.add_argument("--wider", type=int, default=0, metavar="K",
                   help="K variants (0..8) of each normal and big move join a style's vocabulary: the same "
                        "rhythm and footwork pattern with other arm shapes and paths, stance and level, the same "
                        "in every clip (default 0: the hand-written moves only; models/README.md, session 60)")
    s.set_defaults(func=run_synth)

    c = dsub.add_parser("check", parents=[common_parent()],
                        help="validate a dataset: one line per problem, exit status 1 if any")
    c.add_argument("dir", metavar="DIR", help="dataset folder")
    c.set_defaults(func=run_check)

    i = dsub.add_parser("info", parents=[common_parent()],
                        help="clip count, minutes per style, fps; optional PNG summary")
    i.add_argument("dir", metavar="DIR", help="dataset folder")
    i.add_argument("--png", metavar="FILE", help="write a summary figure (minutes per style, stick figures, speeds)")
    i.add_argument("--metrics", action="store_true",
                   help="also compute the dance metrics of the data per style (BAS, lag, freeze, diversity, ...)")
    i.add_argument("--json", action="store_true", help="print the summary as JSON")
    i.set_defaults(func=run_info)

    try:
        from live.commands.dataset_import import register_into
    except ImportError:
        return
    register_into(dsub)


def _progress(done: int, total: int, elapsed: float) -> None:
    frac = done / total if total else 1.0
    eta = elapsed / frac - elapsed if frac > 0 else 0.0
    bar = "#" * int(30 * frac)
    sys.stderr.write(f"\rsynth [{bar:<30}] {done / 60:5.1f}/{total / 60:.1f} min  {elapsed:5.1f}s  eta {eta:4.0f}s")
    sys.stderr.flush()
    if done >= total:
        sys.stderr.write("\n")


def run_synth(args: argparse.Namespace, cfg: dict[str, Any]) -> int:
    from model.errors import ConfigError
    from model.synth_dance import STYLES, synthesize_dataset
    from model.synth_dataset import AUGMENT_SHARE

    styles = [s.strip() for s in args.styles.split(",") if s.strip()]
    unknown = [s for s in styles if s not in STYLES]
    if not styles or unknown:
        raise ConfigError(f"--styles {args.styles!r}: unknown {', '.join(unknown) or 'empty'}; use some of {','.join(STYLES)}")
    try:
        lo, hi = (float(x) for x in args.clip_seconds.split(","))
    except ValueError:
        raise ConfigError(f"--clip-seconds {args.clip_seconds!r} must look like 40,80") from None
    if not 2.0 <= lo <= hi:
        raise ConfigError(f"--clip-seconds {args.clip_seconds!r}: need 2 <= MIN <= MAX")
    fps = int(cfg["features"]["fps"])
    share = AUGMENT_SHARE if args.augment is None else float(args.augment)
    if not 0.0 <= share <= 1.0:
        raise ConfigError(f"--augment {args.augment!r} must be a share between 0 and 1")
    if not args.minutes > 0:
        raise ConfigError(f"--minutes {args.minutes:g} must be above 0")
    entries = synthesize_dataset(args.out, minutes=args.minutes, styles=styles, seed=args.seed, fps=fps,
                                 clip_seconds=(lo, hi), music=args.music, augment_share=share,
                                 styles_per_song=args.styles_per_song, variety=args.variety, stance=bool(args.stance),
                                 calm=args.calm, wider=args.wider, progress=_progress)
    per = f", each song danced in {args.styles_per_song} styles" if args.styles_per_song > 1 else ""
    print(f"wrote {len(entries)} clips ({args.minutes:g} min of music, {', '.join(styles)}, {args.music} music, "
          f"{fps} fps{per}) to {args.out}")
    return 0


def run_check(args: argparse.Namespace, cfg: dict[str, Any]) -> int:
    from model.dataset import check_dataset, clip_records

    problems = check_dataset(args.dir)
    for line in problems:
        print(line)
    if problems:
        print(f"{len(problems)} problem(s) in {args.dir}", file=sys.stderr)
        return 1
    print(f"{args.dir}: {len(clip_records(args.dir))} clips, no problems")
    return 0


def run_info(args: argparse.Namespace, cfg: dict[str, Any]) -> int:
    from model.dataset import dataset_info

    info = dataset_info(args.dir, png=args.png)
    if args.metrics:
        from model.dataset_stats import dataset_metrics, format_table

        info["metrics"] = dataset_metrics(args.dir)
    if args.json:
        print(json.dumps(info, indent=1))
        return 0
    print(f"{args.dir}: {info['clips']} clips, {info['minutes']:.1f} min, fps {', '.join(f'{f:g}' for f in info['fps'])}")
    for style, minutes in info["minutes_per_style"].items():
        print(f"  {style:<12} {minutes:6.1f} min  {info['clips_per_style'][style]:4d} clips")
    print(f"  sources: {', '.join(info['sources'])}; licences: {'; '.join(info['licences'])}")
    if info["png"]:
        print(f"summary figure: {info['png']}")
    if args.metrics:
        print(format_table(info["metrics"]))
    return 0
