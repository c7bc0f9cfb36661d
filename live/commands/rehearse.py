"""`dancemuse rehearse PHRASE.json|DANCE|SONG|demo -o OUT.bvh|.json|.npz [--video OUT.mp4]`:
a phrase looped, slowed down (half or quarter tempo, music time-stretched without a pitch
change) and counted large, for learning it."""

from __future__ import annotations

import argparse
import sys
from typing import Any

DANCE_EXTS = (".json", ".npz", ".bvh", ".csv")


def register(sub: Any) -> None:
    from live.cli import finite_float

    p = sub.add_parser(
        "rehearse",
        help="loop a phrase at 1, 1/2 or 1/4 tempo with big counts: BVH/JSON/NPZ and MP4",
        epilog="examples: dancemuse rehearse phrase.json --speed 0.5 --loops 4 --video learn.mp4 ; "
               "dancemuse rehearse demo --phrase 3 -o p3.bvh --video p3.mp4",
    )
    p.add_argument("source", metavar="PHRASE|SONG",
                   help="a phrase saved by the visualizer (phrase.json), any dance file, an audio file or 'demo'")
    p.add_argument("-o", "--output", action="append", default=[], metavar="OUT",
                   help="dance file to write: .npz, .json, .csv or .bvh (repeatable)")
    p.add_argument("--video", metavar="OUT.mp4", help="render the take to an MP4 with big counts")
    p.add_argument("--speed", type=finite_float, default=1.0, help="1, 0.5 or 0.25 (half or quarter tempo)")
    p.add_argument("--loops", type=int, default=1, help="times the phrase repeats (default 1)")
    p.add_argument("--phrase", type=int, default=1, metavar="K", help="for a song: its K-th 8-count phrase (default 1)")
    p.add_argument("--model", metavar="MODEL.onnx", help="for a song: ONNX model (default: model.path)")
    p.add_argument("--style", help="for a song: style name or mix")
    p.add_argument("--seed", type=int, help="for a song: random seed")
    p.add_argument("--size", default="640x480", metavar="WxH", help="video size (default 640x480)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, cfg: dict[str, Any]) -> int:
    from pathlib import Path

    from live.cli import check_output_path
    from live.dance_io import DANCE_FORMATS, write_dance
    from live.rehearsal import SPEEDS, from_dance_file, from_song, stretch, write_rehearsal_mp4
    from model.errors import ConfigError

    if args.speed not in SPEEDS:
        raise ConfigError(f"--speed {args.speed:g}: use 1, 0.5 or 0.25")
    if not 1 <= args.loops <= 64:
        raise ConfigError(f"--loops {args.loops}: give 1..64")
    outs = [Path(o) for o in args.output]
    if not outs and not args.video:
        raise ConfigError("nothing to write: pass -o OUT.bvh|.json|.npz|.csv and/or --video OUT.mp4")
    for o in outs:
        if o.suffix.lower() not in DANCE_FORMATS:
            raise ConfigError(f"cannot write {o}: use a .npz, .json, .csv or .bvh file name (and --video for .mp4)")
        check_output_path(o, what="output")
    try:
        width, height = (int(x) for x in args.size.lower().split("x"))
    except ValueError:
        raise ConfigError(f"--size {args.size!r} must look like 640x480") from None
    if width % 2 or height % 2 or not (64 <= width <= 3840 and 64 <= height <= 2160):
        raise ConfigError(f"--size {args.size}: use even sizes between 64x64 and 3840x2160")
    if args.video:
        if not args.video.lower().endswith(".mp4"):
            raise ConfigError(f"--video {args.video} must end in .mp4")
        check_output_path(args.video, what="--video")
        from live.dance_io import ffmpeg_exe

        ffmpeg_exe()
    src = args.source
    if src != "demo" and not Path(src).is_file():
        raise ConfigError(f"{src} not found; pass a phrase/dance file, an audio file or 'demo'")
    if src != "demo" and Path(src).suffix.lower() in DANCE_EXTS:
        ph = from_dance_file(src)
    else:
        from live.commands.generate import _Bar
        from live.generate import apply_options
        from live.runtime import load_generator

        cfg = apply_options(cfg, style=args.style, seed=args.seed)
        gen = load_generator(cfg, path=args.model, offline=True)
        ph = from_song(src, cfg=cfg, index=args.phrase, generator=gen, progress=_Bar("generate"))
    poses, beats, counts = stretch(ph, speed=args.speed, loops=args.loops)
    print(f"phrase: {len(ph.poses)} frames, {len(ph.beat_frames)} counts; take: {len(poses)} frames "
          f"({len(poses) / ph.fps:.1f} s) at speed {args.speed:g} x {args.loops}", file=sys.stderr)
    for o in outs:
        write_dance(o, poses, fps=ph.fps, beats=beats / ph.fps,
                    beat_counts=counts, meta={"rehearsal": {"speed": args.speed, "loops": args.loops,
                                                            "source": str(src)}})
        print(f"wrote {o}")
    if args.video:
        write_rehearsal_mp4(args.video, ph, speed=args.speed, loops=args.loops, width=width, height=height)
        print(f"wrote {args.video}")
    return 0
