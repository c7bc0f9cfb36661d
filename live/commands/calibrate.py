"""`dancemuse calibrate CHECKPOINT --data DIR...`: per-style energy calibration of a trained
model (model/energy_calib.py), stored in the checkpoint for `dancemuse export`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    from live.cli import finite_float

    p = sub.add_parser(
        "calibrate",
        help="measure per style how much energy the model needs to move as much as its training data, "
             "and how much smoothing the style takes (less for styles made of hits); stored in the "
             "checkpoint, exported into the model",
    )
    p.add_argument("checkpoint", metavar="CHECKPOINT",
                   help="checkpoint written by `dancemuse train` (.pt); with --ceiling an exported model (.onnx)")
    p.add_argument("--data", required=True, nargs="+", action="extend", metavar="DIR",
                   help="the training dataset folder(s) (manifest.json + clips)")
    p.add_argument("-o", "--output", metavar="OUT.pt", default=None,
                   help="checkpoint to write (default: CHECKPOINT itself, replaced atomically)")
    p.add_argument("--seconds", type=finite_float, default=20.0, help="seconds danced per clip (default 20)")
    p.add_argument("--clips", type=int, default=8, help="clips per style (default 8)")
    p.add_argument("--style-strength", type=finite_float, default=None,
                   help="style strength to calibrate at (default: live.style_strength of the config)")
    p.add_argument("--groove-floor", action="append", default=[], metavar="STYLE=DIP",
                   help="the least beat dip of STYLE's groove (default 0.4 for every style; the groove follows "
                        "the data's dip where it is deeper); lower it for a style whose data has no pulse "
                        "(repeatable; a checkpoint calibrated again keeps the floors it was given; the shipped "
                        "model: freestyle=0.1)")
    p.add_argument("--style-gain", action="append", default=[], metavar="STYLE=K",
                   help="a factor on the user's style strength for STYLE (default 1 for every style; 0.25..3): "
                        "raise it for a style the model tells apart only when fed more strongly (repeatable; "
                        "STYLE=1 removes one; a checkpoint calibrated again keeps the factors it was given; the "
                        "shipped model: locking=2)")
    p.add_argument("--other-music", action="append", default=[], metavar="STYLE",
                   help="dance STYLE's live stage to the other styles' clips' music instead of its own, so it "
                        "moves as much as its data on music it was never trained to (for a style with little "
                        "data, danced to accompaniment made for it; repeatable; STYLE=0 removes it; a checkpoint "
                        "calibrated again keeps it; the shipped model: freestyle)")
    p.add_argument("--only", action="append", default=[], metavar="STYLE",
                   help="calibrate STYLE alone and keep every other style's figures from the checkpoint's "
                        "previous calibration, which must have been made the same way (style strength, seconds, "
                        "data, live stage); e.g. after giving one style a --style-gain (repeatable)")
    p.add_argument("--free-run-only", action="store_true",
                   help="skip the second stage, which exports the model to a temporary folder and dances the "
                        "clips again through the live engine (post-processing and phrases as configured) to "
                        "match the data's motion there")
    p.add_argument("--ceiling", action="store_true",
                   help="measure an exported model instead (CHECKPOINT is MODEL.onnx): per style the highest energy "
                        "it can be fed and still dance the style (recognised in 0.9 of its windows on the other "
                        "styles' music), so the energy control turns every style up to 2 as far as the model can; "
                        "written into the model and its _b<N>.onnx and _offline.npz siblings (run it after "
                        "`dancemuse export`, which writes a model without it)")
    p.add_argument("--footwork", action="store_true",
                   help="measure the training data instead (CHECKPOINT is MODEL.onnx): per style how fast a standing "
                        "dancer moves its feet apart or together (m/s), so the post-processing lets the feet step only "
                        "in styles that move them (popping's stay planted); written into the model and its "
                        "_b<N>.onnx and _offline.npz siblings (run it after `dancemuse export`)")
    p.add_argument("--steps", action="store_true",
                   help="measure an exported model that has its footwork (CHECKPOINT is MODEL.onnx; run --footwork "
                        "first): per style how far the model may move two planted feet apart or together before one "
                        "steps, the spread at which the shown feet move as much as the data's, so house and locking "
                        "step as often as their dancers do; written into the model and its _b<N>.onnx and "
                        "_offline.npz siblings")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, cfg: dict[str, Any]) -> int:
    import importlib.util
    from pathlib import Path

    from model.errors import ConfigError, ModelError

    runs = [f for f, on in (("--ceiling", args.ceiling), ("--footwork", args.footwork), ("--steps", args.steps)) if on]
    if len(runs) > 1:
        raise ConfigError(f"{' and '.join(runs)} are separate runs: give one of them")
    if args.ceiling:
        return _ceiling(args, cfg)
    if args.footwork:
        return _footwork(args)
    if args.steps:
        return _steps(args, cfg)
    if importlib.util.find_spec("torch") is None:
        raise ModelError("calibrate needs torch; install the train extra: pip install -e \".[train]\"")
    if args.seconds < 2 or args.clips < 1:
        raise ConfigError("--seconds must be at least 2 and --clips at least 1")
    floors = _per_style(args.groove_floor, "--groove-floor", "DIP", "freestyle=0.1")
    gains = _per_style(args.style_gain, "--style-gain", "K", "locking=2")
    others = _per_style([m if "=" in m else f"{m}=1" for m in args.other_music], "--other-music", "0 or 1",
                        "freestyle")
    if any(v not in (0.0, 1.0) for v in others.values()):
        raise ConfigError("--other-music takes a style name (or STYLE=0 to remove it), e.g. --other-music freestyle")
    src = Path(args.checkpoint)
    out = Path(args.output) if args.output else src
    if out.suffix != ".pt":
        raise ConfigError(f"output {out} must end in .pt")

    from model.energy_calib import calibrate_checkpoint

    strength = float(args.style_strength if args.style_strength is not None
                     else cfg["live"].get("style_strength", 1.0))
    cal = calibrate_checkpoint(src, args.data, out=out, seconds=args.seconds, per_style=args.clips,
                               style_strength=strength, progress=lambda m: print(m, file=sys.stderr, flush=True),
                               cfg=None if args.free_run_only else cfg, groove_floor=floors,
                               style_gain=gains, only=tuple(args.only), other_music=others)
    print(cal.table())
    print(f"wrote {out} (energy calibration at style strength {strength:g}; `dancemuse export` puts it in the model)")
    return 0


def _exported_model(args: argparse.Namespace, what: str, takes: str) -> Path:
    """The exported model a ``--ceiling``, ``--footwork`` or ``--steps`` run writes into (CHECKPOINT): an existing
    .onnx, and none of the checkpoint calibration's options. Raises ConfigError / ModelError (one line)."""
    from model.errors import ConfigError, ModelError

    src = Path(args.checkpoint)
    flag = what.split()[0]
    if src.suffix != ".onnx":
        raise ConfigError(f"{what} an exported model: pass MODEL.onnx, not {src.name} "
                          "(export the checkpoint first with `dancemuse export`)")
    if not src.is_file():
        raise ModelError(f"model {src} not found; pass the .onnx file `dancemuse export` wrote")
    extra = [f for f, v in (("--output", args.output), ("--style-strength", args.style_strength),
                            ("--groove-floor", args.groove_floor), ("--style-gain", args.style_gain),
                            ("--other-music", args.other_music), ("--only", args.only),
                            ("--free-run-only", args.free_run_only)) if v]
    if extra:
        raise ConfigError(f"{flag} writes into the model itself and takes only {takes}; leave out {', '.join(extra)}")
    return src


def _danced_model(args: argparse.Namespace, flag: str) -> Path:
    """The exported model a run that dances it (``--ceiling``, ``--steps``) measures: as
    :func:`_exported_model`, with ``--seconds`` and ``--clips`` checked and the onnx package there
    (to write the metadata). Raises ConfigError / ModelError (one line)."""
    import importlib.util

    from model.errors import ConfigError, ModelError

    src = _exported_model(args, f"{flag} measures", "--data, --seconds and --clips")
    if args.seconds < 2 or args.clips < 1:
        raise ConfigError("--seconds must be at least 2 and --clips at least 1")
    if importlib.util.find_spec("onnx") is None:
        raise ModelError(f"calibrate {flag} needs the onnx package; install the train extra: pip install -e \".[train]\"")
    return src


def _ceiling(args: argparse.Namespace, cfg: dict[str, Any]) -> int:
    """``calibrate --ceiling MODEL.onnx``: measure and write the energy ceilings
    (model/energy_ceiling.py)."""
    src = _danced_model(args, "--ceiling")
    from model.energy_ceiling import measure, write

    got = measure(src, args.data, cfg, per_style=args.clips, seconds=args.seconds,
                  progress=lambda m: print(m, file=sys.stderr, flush=True))
    print(got.table())
    files = write(src, got.ceiling)
    print(f"wrote the energy ceiling into {', '.join(map(str, files))}")
    return 0


def _footwork(args: argparse.Namespace) -> int:
    """``calibrate --footwork MODEL.onnx``: per style of the training data how fast a standing dancer
    moves its feet apart or together (``model.metrics_dancer.feet_apart_speed``, the clips' mean
    weighted by their length), written into the model's metadata as ``footwork``."""
    import importlib.util
    import math

    import numpy as np

    from model.errors import ConfigError, ModelError

    src = _exported_model(args, "--footwork writes into", "--data")
    if importlib.util.find_spec("onnx") is None:
        raise ModelError("calibrate --footwork needs the onnx package; install the train extra: pip install -e \".[train]\"")
    from live.post import FOOTWORK_MIN
    from model import metrics_dancer as md
    from model.energy_ceiling import onnx_meta, rewrite_meta
    from model.metrics_suite import load_train

    meta = onnx_meta(src)
    if meta is None:
        raise ModelError(f"{src} has no readable DanceMuse metadata; export it again with `dancemuse export`")
    styles = [str(s) for s in meta.get("styles") or []]
    fps = int(meta.get("fps") or 30)
    clips = load_train(args.data, fps=fps).poses()
    table: dict[str, float] = {}
    print(f"{'style':14s}{'clips':>6s}{'footwork m/s':>14s}  steps")
    for st in styles:
        got = [(md.feet_apart_speed(p, fps=fps), len(p)) for p in clips.get(st, [])]
        got = [(v, n) for v, n in got if math.isfinite(v)]
        if not got:
            print(f"{st:14s}{0:6d}{'-':>14s}  (no standing clip: steps)")
            continue
        v = float(np.average([g[0] for g in got], weights=[g[1] for g in got]))
        table[st] = round(v, 4)
        print(f"{st:14s}{len(got):6d}{v:14.3f}  {'yes' if v >= FOOTWORK_MIN else 'no, planted'}")
    if not table:
        raise ConfigError(f"no clip of the model's styles ({', '.join(styles)}) in {', '.join(args.data)}; "
                          "pass the folders the model was trained on")
    files = rewrite_meta(src, {"footwork": table})
    print(f"wrote the footwork into {', '.join(map(str, files))}")
    return 0


def _steps(args: argparse.Namespace, cfg: dict[str, Any]) -> int:
    """``calibrate --steps MODEL.onnx``: measure and write each style's footwork step spread
    (model/step_calib.py)."""
    from model.errors import ConfigError

    src = _danced_model(args, "--steps")
    from model.energy_ceiling import rewrite_meta
    from model.step_calib import measure

    got = measure(src, args.data, cfg, per_style=args.clips, seconds=args.seconds,
                  progress=lambda m: print(m, file=sys.stderr, flush=True))
    print(got.table())
    if not got.spread:
        raise ConfigError(f"no style of {src.name} steps in {', '.join(args.data)} (each keeps its feet planted or "
                          "never stands); nothing written")
    files = rewrite_meta(src, {"step_spread": {k: round(v, 4) for k, v in got.spread.items()}})
    print(f"wrote the step spreads into {', '.join(map(str, files))}")
    return 0


def _per_style(items: list[str], flag: str, what: str, example: str) -> dict[str, float]:
    """``STYLE=NUMBER`` options -> {style: number}. Raises ConfigError (one line)."""
    import math

    from model.errors import ConfigError

    out: dict[str, float] = {}
    for item in items:
        name, sep, value = item.partition("=")
        try:
            x = float(value) if sep and name.strip() else math.nan
        except ValueError:
            x = math.nan
        if not math.isfinite(x):
            raise ConfigError(f"{flag} {item}: write STYLE={what}, e.g. {flag} {example}")
        out[name.strip()] = x
    return out
