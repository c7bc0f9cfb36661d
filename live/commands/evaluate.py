"""`dancemuse evaluate`: measure a model's dancing (model/metrics_suite.py for .onnx models; the
older per-song table of model/evaluate.py for .pt checkpoints)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    from live.cli import finite_float

    p = sub.add_parser(
        "evaluate",
        help="measure a model's dancing on music it never trained on, next to the training data's numbers",
        description="For an .onnx model: beat alignment against exact beats and half a beat off, speed in a "
        "passage 30 dB quieter, pose spread at low and high energy, seed agreement, leg vs arm speed, "
        "repetition, style recognition by a classifier trained on the training data, freeze ratio and root "
        "radius over 10 minutes, foot sliding, bones; a table with the targets of issue 10 (PASS/FAIL). "
        "A .pt checkpoint gets the older per-song table.",
    )
    p.add_argument("--model", default=None, metavar="M",
                   help="an .onnx model (or a .pt checkpoint: older table; default: model.path, the shipped model)")
    add_suite_options(p)
    p.add_argument("--data", metavar="TRAIN_DIR", nargs="+", default=None,
                   help="training dataset folder(s) for the reference numbers (default: those recorded in the model)")
    p.add_argument("--json", metavar="OUT", default=None, help="also write the full report as JSON here")
    p.add_argument("--sheets", metavar="DIR", default=None, help="write front and side contact sheets per style here")
    p.add_argument("--sheet-song", metavar="AUDIO", default=None, help="song for the contact sheets (default: first recording)")
    p.add_argument("--seed", type=int, default=0, help="variation seed (checkpoints only)")
    p.add_argument("--variation", type=finite_float, default=0.5, help="variation control 0..1 (checkpoints only)")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu", help="torch device for checkpoints")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, cfg: dict[str, Any]) -> int:
    from model.errors import ConfigError, ModelError
    from model.evaluate import checkpoint_dance_fn, evaluate, find_songs, format_table, write_json
    from model.train_data import load_clips

    if args.model is None:  # the model the show runs (config model.path, else the shipped default)
        from live.runtime import resolve_model_path

        args.model = str(resolve_model_path(cfg["model"].get("path") or None))
    model = Path(args.model)
    if not model.is_file():
        raise ModelError(f"model {model} not found; pass a .pt checkpoint or an .onnx file")
    if not 0.0 <= args.variation <= 1.0:
        raise ConfigError(f"--variation {args.variation} must be within 0..1")
    from model.audio_check import check_audio_files

    # a text file or an empty wav named in --songs: one line, before any dancing
    check_audio_files([p for p in args.songs if Path(p).is_file()])
    if model.suffix == ".onnx":
        return _run_dancer(args, cfg)
    fn, ckpt = checkpoint_dance_fn(model, seed=args.seed, variation=args.variation, device=args.device)
    styles = list(ckpt["styles"])
    feature_cfg = dict(ckpt["feature_cfg"])
    fps = int(feature_cfg["fps"])
    data = (args.data[0] if args.data else None) or ckpt.get("data_summary", {}).get("path")
    if isinstance(data, list):  # trained on several folders: the first gives the reference numbers
        data = data[0] if data else None
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


def add_suite_options(p: argparse.ArgumentParser) -> None:
    """The options of the dancer suite (songs, recordings, post-processing, root, the long
    test, styles, pairs, stage radius), shared with bench/dancer.py; see suite_config."""
    from live.cli import finite_float

    p.add_argument("--songs", nargs="+", metavar="SONGS", default=["midi:6"],
                   help="midi:N (N held-out real-instrument songs with exact beats, cached in data/eval_songs), "
                   "audio files, folders, or dataset folders (default midi:6)")
    p.add_argument("--recordings", nargs="*", metavar="AUDIO", default=None,
                   help="real recordings for the long test (default: the Debian fretsonfire songs when installed; "
                   "pass nothing to use the test songs)")
    p.add_argument("--post", choices=["on", "off"], default="on",
                   help="post-processing of [live] on (default; root from --root) or off (raw model output)")
    p.add_argument("--root", default="follow", help="root mode while evaluating (default follow: travel kept)")
    p.add_argument("--long-minutes", type=finite_float, default=10.0, help="minutes of the long test (default 10; 0 = skip)")
    p.add_argument("--styles-per-song", type=int, default=2, help="styles each test song is danced in (default 2)")
    p.add_argument("--pair-songs", type=int, default=3, help="songs danced again for seeds and energy (default 3)")
    p.add_argument("--style-seeds", type=int, default=4,
                   help="seeds every style is danced with on every test song for style recognition (default 4)")
    p.add_argument("--long-seeds", type=int, default=4,
                   help="seeds the long music is danced with; style, repetition, freeze and root count every seed "
                   "(default 4)")
    p.add_argument("--stage-radius", type=finite_float, default=None,
                   help="stage radius target in metres (default: live.stage_radius, else 1.5)")
    p.add_argument("--feel", type=finite_float, default=None,
                   help="dance every song in half (0.5) or double (2) time, or 0: auto, each style nearest its own "
                   "tempo (default live.feel, 1)")


def print_columns(reports: dict[str, dict[str, Any]]) -> None:
    """The suite's table of one or more models' reports beside the last one's training data,
    then the contact sheets written (shared with bench/dancer.py)."""
    from model.metrics_suite import format_columns

    last = list(reports.values())[-1]
    print(format_columns(reports, last["train"], last["train_style"]))
    for r in reports.values():
        for p in r.get("sheets", []):
            print(f"contact sheet {p}")


def suite_config(args: argparse.Namespace, cfg: dict[str, Any]) -> Any:
    """SuiteConfig from the options of add_suite_options (shared with bench/dancer.py);
    ``--feel`` goes into ``cfg["live"]``, where the dancer reads it."""
    from model.errors import ConfigError
    from model.metrics_suite import SuiteConfig

    if args.stage_radius is None:
        args.stage_radius = float(cfg["live"].get("stage_radius", 1.5))
    if getattr(args, "feel", None) is not None:  # the dancer reads it from [live] (live/feel.py)
        from model.config import coerce

        cfg["live"]["feel"] = coerce("live", "feel", float(args.feel))
    if (args.long_minutes < 0 or args.styles_per_song < 1 or args.pair_songs < 0 or args.stage_radius <= 0
            or args.style_seeds < 1 or args.long_seeds < 1):
        raise ConfigError("--long-minutes >= 0, --styles-per-song >= 1, --pair-songs >= 0, --style-seeds >= 1, "
                          "--long-seeds >= 1 and --stage-radius > 0 please")
    return SuiteConfig(styles_per_song=args.styles_per_song, pair_songs=args.pair_songs,
                       long_minutes=args.long_minutes, stage_radius=args.stage_radius, style_seeds=args.style_seeds,
                       long_seeds=args.long_seeds)


def _seeds(rep: dict[str, Any]) -> str:
    """" (seeds 0-3)" when the long test was danced with more than one seed."""
    n = max((int(r.get("seeds", 1)) for r in rep.get("songs", []) if "seeds" in r), default=1)
    return f" (seeds 0-{n - 1})" if n > 1 else ""


def _say(msg: str) -> None:
    print(f"  {msg}", file=sys.stderr, flush=True)


def _run_dancer(args: argparse.Namespace, cfg: dict[str, Any]) -> int:
    from model.evaluate import dancer_report, write_json

    rep = dancer_report(args.model, cfg, songs=args.songs, data=args.data, recordings=args.recordings,
                        post=args.post, root=args.root, suite=suite_config(args, cfg), sheets=args.sheets,
                        sheet_song=args.sheet_song, progress=_say)
    print(f"model {args.model} (runs as {rep['generator']}; {rep.get('strength', '')}; post {args.post} "
          f"({rep.get('post_stages', '')}), root {args.root}); "
          f"training data {rep['train_data']}; "
          f"{rep['n_test_songs']} test songs ({rep['n_exact']} with exact beats); long test on {rep['long_source']}{_seeds(rep)}; "
          f"recordings: {rep['recordings']}")
    if rep.get("data_note"):
        print(rep["data_note"])
    print_columns({Path(args.model).stem: rep})
    if args.json:
        write_json(rep, args.json)
        print(f"report written to {args.json}")
    return 0
