"""`dancemuse phrases SONG|demo -n 12 --style S -o DIR`: a deck of 8-count phrases as prompts."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(sub: Any) -> None:
    from live.cli import finite_float

    p = sub.add_parser(
        "phrases",
        help="write a deck of 8-count phrases (MP4 + BVH each, one PNG contact sheet) as improvisation prompts",
        epilog="example: dancemuse phrases demo -n 12 --style house -o deck/",
    )
    p.add_argument("song", metavar="SONG", help="audio file or 'demo' for the built-in music")
    p.add_argument("-n", type=int, default=12, metavar="N", help="phrases in the deck (1..64, default 12)")
    p.add_argument("-o", "--out", default="phrases", metavar="DIR", help="output folder (default ./phrases)")
    p.add_argument("--model", metavar="MODEL.onnx", help="ONNX model (default: model.path of the config)")
    p.add_argument("--style", help="style name or mix such as 'house:0.7,ballet:0.3' (default: equal mix)")
    p.add_argument("--style-strength", type=finite_float, metavar="K", help="how pronounced the style is, 0..6 (1 = as the model learnt it; default live.style_strength, 2)")
    p.add_argument("--seed", type=int, help="random seed (a different seed, a different deck)")
    p.add_argument("--energy", type=finite_float, help="movement amplitude 0..2 (default 1)")
    p.add_argument("--variation", type=finite_float, help="improvisation 0..1 (default 0.5)")
    p.add_argument("--size", default="480x360", metavar="WxH", help="video size (default 480x360)")
    p.add_argument("--no-video", action="store_true", help="BVH and the sheet only (no MP4s)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, cfg: dict[str, Any]) -> int:
    from pathlib import Path

    from live.commands.generate import _Bar
    from live.generate import apply_options
    from live.phrases import make_deck
    from live.runtime import load_generator
    from model.errors import ConfigError

    if not 1 <= args.n <= 64:
        raise ConfigError(f"-n {args.n}: give 1..64 phrases")
    try:
        width, height = (int(x) for x in args.size.lower().split("x"))
    except ValueError:
        raise ConfigError(f"--size {args.size!r} must look like 480x360") from None
    if width % 2 or height % 2 or not (64 <= width <= 3840 and 64 <= height <= 2160):
        raise ConfigError(f"--size {args.size}: use even sizes between 64x64 and 3840x2160")
    if args.song != "demo" and not Path(args.song).is_file():
        raise ConfigError(f"song {args.song} not found; pass an audio file or 'demo'")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"-o {out} is a file; pass a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"cannot create folder {out} ({e.strerror}); pick another -o") from None
    if not args.no_video:
        from live.dance_io import ffmpeg_exe

        ffmpeg_exe()  # refuse now, not after the generation
    cfg = apply_options(cfg, style=args.style, seed=args.seed, energy=args.energy, variation=args.variation,
                        style_strength=args.style_strength)
    gen = load_generator(cfg, path=args.model, offline=True)
    print(f"model {gen.describe()}", file=sys.stderr)
    doc = make_deck(args.song, cfg=cfg, n=args.n, out=out, generator=gen, size=(width, height),
                    video=not args.no_video, report=print, progress=_Bar("generate"))
    print(f"wrote {len(doc['phrases'])} phrases, {out / 'sheet.png'} and {out / 'deck.json'}")
    return 0
