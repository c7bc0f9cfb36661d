"""`dancemuse evaluate`: dance to songs with a model and compare the metrics with the data's."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("evaluate", help="generate a dance per song and print its metrics next to the training data's")
    p.add_argument("--model", required=True, metavar="M", help="a checkpoint (.pt from `dancemuse train`) or an .onnx model")
    p.add_argument("--songs", required=True, nargs="+", metavar="DIR_OR_FILES",
                   help="audio files, folders of audio files, or dataset folders (ground-truth beats and dances)")
    p.add_argument("--data", metavar="TRAIN_DIR", default=None,
                   help="training dataset for the reference numbers (default: the one recorded in the model)")
    p.add_argument("--json", metavar="OUT", default=None, help="also write the full report as JSON here")
    p.add_argument("--seed", type=int, default=0, help="variation seed (default 0)")
    p.add_argument("--variation", type=float, default=0.5, help="variation control 0..1 (default 0.5)")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu", help="torch device for checkpoints")
    p.set_defaults(func=run)


def _onnx_dance_fn(path: str, cfg: dict[str, Any], *, seed: int, variation: float):  # type: ignore[no-untyped-def]
    """dance_fn through the live path (live/generate.py) with post-processing that changes
    the pose switched off (no bone projection, no smoothing), root following the model."""
    import numpy as np

    from live.generate import apply_options, generate_dance
    from live.runtime import load_generator

    base = apply_options(cfg, seed=seed, variation=variation)
    base["live"].update({"project_bones": False, "smoothing": 0.0, "root": "follow", "mirror": False})
    gen = load_generator(base, path=path)

    def fn(audio: np.ndarray, sr: int, *, style: str) -> tuple[np.ndarray, np.ndarray]:
        c = apply_options(base, style=style if style in gen.style_names else None)
        d = generate_dance(path, cfg=c, generator=gen, audio=(audio, sr))
        return d.poses, d.beats

    return fn, gen


def run(args: argparse.Namespace, cfg: dict[str, Any]) -> int:
    from model.errors import ConfigError, ModelError
    from model.evaluate import checkpoint_dance_fn, evaluate, find_songs, format_table, write_json
    from model.train_data import load_clips

    model = Path(args.model)
    if not model.is_file():
        raise ModelError(f"model {model} not found; pass a .pt checkpoint or an .onnx file")
    if not 0.0 <= args.variation <= 1.0:
        raise ConfigError(f"--variation {args.variation} must be within 0..1")
    if model.suffix == ".onnx":
        fn, gen = _onnx_dance_fn(str(model), cfg, seed=args.seed, variation=args.variation)
        styles = list(gen.style_names)
        fps = int(gen.fps)
        data = args.data or (gen.meta.get("train_data") or {}).get("path")
        feature_cfg = dict(cfg["features"])
    else:
        fn, ckpt = checkpoint_dance_fn(model, seed=args.seed, variation=args.variation, device=args.device)
        styles = list(ckpt["styles"])
        feature_cfg = dict(ckpt["feature_cfg"])
        fps = int(feature_cfg["fps"])
        data = args.data or ckpt.get("data_summary", {}).get("path")
    if not data or not Path(data).is_dir():
        raise ConfigError(f"training data {data!r} for the reference numbers not found; pass --data TRAIN_DIR")
    train_clips = load_clips(data, feature_cfg=feature_cfg)
    songs = find_songs(args.songs, styles=styles)

    def progress(i: int, n: int, name: str) -> None:
        print(f"\rdancing {i + 1}/{n}: {name[:40]:<40}", end="", file=sys.stderr, flush=True)

    report = evaluate(fn, songs, train_clips=train_clips, fps=fps, progress=progress)
    print(file=sys.stderr)
    report["model"] = str(model)
    print(format_table(report))
    if args.json:
        write_json(report, args.json)
        print(f"report written to {args.json}")
    return 0
