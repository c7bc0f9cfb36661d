"""`dancemuse generate SONG -o OUT.{npz,json,csv,bvh} [--video OUT.mp4]`: a dance from a song."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any


def register(sub: Any) -> None:
    from live.cli import finite_float

    p = sub.add_parser(
        "generate",
        help="generate a dance from a song file (or 'demo') through the live streaming path",
        epilog="example: dancemuse generate demo -o dance.bvh -o dance.npz --video dance.mp4 --style house",
    )
    p.add_argument("song", metavar="SONG", help="audio file (wav, flac, ogg, mp3, ...) or 'demo' for the built-in music")
    p.add_argument("-o", "--output", action="append", default=[], metavar="OUT",
                   help="dance file to write: .npz, .json, .csv or .bvh (repeatable)")
    p.add_argument("--video", metavar="OUT.mp4", help="also render the dancer with the song to an MP4")
    p.add_argument("--model", metavar="MODEL.onnx", help="ONNX model (default: model.path of the config)")
    p.add_argument("--style", help="style name or mix such as 'house:0.7,ballet:0.3' (default: equal mix)")
    p.add_argument("--style-strength", type=finite_float, metavar="K", help="how pronounced the style is, 0..6 (1 = as the model learnt it; default live.style_strength, 2)")
    p.add_argument("--feel", type=finite_float, metavar="F", help="the beat danced to: 0.5 = half time, 1 = the music's "
                   "(default live.feel), 2 = double time, 0 = auto (nearest the style's own tempo)")
    p.add_argument("--seed", type=int, help="random seed (a different seed, a different dance)")
    p.add_argument("--energy", type=finite_float, help="movement amplitude 0..2 (default 1)")
    p.add_argument("--variation", type=finite_float, help="improvisation 0..1 (default 0.5)")
    p.add_argument("--demo-seconds", type=finite_float, default=30.0, metavar="S", help="length of the demo song (default 30)")
    p.add_argument("--size", default="640x480", metavar="WxH", help="video size (default 640x480)")
    p.set_defaults(func=run)


class _Bar:
    """A one-line progress bar on stderr (only redrawn when the percentage changes)."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.last = -1
        self.t0 = time.perf_counter()
        self.tty = sys.stderr.isatty()

    def __call__(self, frac: float) -> None:
        pct = int(frac * 100)
        if pct == self.last or (not self.tty and pct % 10 and pct != 100):
            return
        self.last = pct
        n = pct // 4
        end = "\n" if pct >= 100 else ("\r" if self.tty else "\n")
        sys.stderr.write(f"{self.label} [{'#' * n}{'.' * (25 - n)}] {pct:3d}% {time.perf_counter() - self.t0:5.1f}s{end}")
        sys.stderr.flush()


def run(args: argparse.Namespace, cfg: dict[str, Any]) -> int:
    from pathlib import Path

    from live.cli import check_output_path
    from live.dance_io import DANCE_FORMATS, write_dance, write_mp4
    from live.generate import apply_options, generate_dance
    from live.runtime import load_generator
    from model.errors import ConfigError

    outs = [Path(o) for o in args.output]
    if not outs and not args.video:
        raise ConfigError("nothing to write: pass -o OUT.npz|.json|.csv|.bvh and/or --video OUT.mp4")
    for o in outs:
        if o.is_dir():
            check_output_path(o, what="output")
        if o.suffix.lower() not in DANCE_FORMATS:
            raise ConfigError(f"cannot write {o}: use a .npz, .json, .csv or .bvh file name (and --video for .mp4)")
        check_output_path(o, what="output")
    if args.video and not args.video.lower().endswith(".mp4"):
        raise ConfigError(f"--video {args.video} must end in .mp4")
    if args.video:
        check_output_path(args.video, what="--video")
        from live.dance_io import ffmpeg_exe

        ffmpeg_exe()  # refuse now, not after the whole generation
    try:
        width, height = (int(x) for x in args.size.lower().split("x"))
    except ValueError:
        raise ConfigError(f"--size {args.size!r} must look like 640x480") from None
    if width % 2 or height % 2 or not (64 <= width <= 3840 and 64 <= height <= 2160):
        raise ConfigError(f"--size {args.size}: use even sizes between 64x64 and 3840x2160")
    if args.song != "demo" and not Path(args.song).is_file():
        raise ConfigError(f"song {args.song} not found; pass an audio file or 'demo'")

    cfg = apply_options(cfg, style=args.style, seed=args.seed, energy=args.energy, variation=args.variation,
                        style_strength=args.style_strength, feel=args.feel)
    gen = load_generator(cfg, path=args.model, offline=True)  # a block-N export beside the model, if any
    print(f"model {gen.describe()}", file=sys.stderr)
    dance = generate_dance(args.song, cfg=cfg, generator=gen, progress=_Bar("generate"),
                           demo_seconds=args.demo_seconds)
    print(f"{len(dance.poses)} frames ({dance.seconds:.1f} s of music, {len(dance.beats)} beats) in "
          f"{dance.elapsed:.1f} s: {dance.speed:.0f}x real time", file=sys.stderr)
    for o in outs:
        write_dance(o, dance.poses, fps=dance.fps, beats=dance.beats, beat_counts=dance.beat_counts, meta=dance.meta)
        print(f"wrote {o}")
    if args.video:
        audio: Any = dance.audio if dance.source == "demo" else Path(dance.source)
        write_mp4(args.video, dance.poses, fps=dance.fps, audio=audio, sample_rate=dance.sample_rate,
                  beats=dance.beats, beat_counts=dance.beat_counts, width=width, height=height,
                  progress=_Bar("video   "))
        print(f"wrote {args.video}")
    return 0
