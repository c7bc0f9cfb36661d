"""`dancemuse train`: train, resume or fine-tune a DanceNet on a dataset folder.

The training configuration (network size, steps, curriculum) is a TOML file with [net],
[train] and optional [features] tables, given with ``--train-config`` (``--config`` is the
global DanceMuse configuration every command takes). See models/default_train.toml.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("train", help="train a dance model on a dataset (resume, fine-tune, torchrun DDP)")
    p.add_argument("--data", required=True, nargs="+", action="extend", metavar="DIR",
                   help="dataset folder(s) (manifest.json + clips); weights: [train] data_weights")
    p.add_argument("--out", required=True, metavar="RUN_DIR", help="run folder for checkpoints, log.csv, curves.png")
    p.add_argument("--train-config", metavar="TOML", default=None,
                   help="training config with [net] [train] [features] (default: built-in defaults)")
    p.add_argument("--steps", type=int, default=None, help="total training steps (overrides the config)")
    p.add_argument("--resume", action="store_true", help="continue from RUN_DIR/last.pt")
    p.add_argument("--init", metavar="CKPT", default=None,
                   help="start from this checkpoint or exported model, e.g. models/default.onnx (fine-tuning)")
    p.add_argument("--new-style", metavar="NAME", default=None, help="with --init: add a style label for the new data")
    p.add_argument("--freeze-encoder", action="store_true", help="with --init: train only the decoder")
    p.add_argument("--fresh-decoder", action="store_true",
                   help="with --init: draw the decoder (styles, gates, LSTM, head) afresh and train it from scratch "
                   "on the init's music encoder (with --freeze-encoder, the encoder stays as it is)")
    p.add_argument("--seed", type=int, default=None, help="random seed (overrides the config)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default=None, help="device (default from config: auto)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (overrides the config)")
    p.add_argument("--quiet", action="store_true", help="no progress line")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, cfg: dict[str, Any]) -> int:
    from model.config import coerce
    from model.errors import ConfigError
    from model.train import load_train_config, train

    if (args.new_style or args.freeze_encoder or args.fresh_decoder) and not args.init:
        raise ConfigError("--new-style, --freeze-encoder and --fresh-decoder need --init CKPT (a model to start from)")
    if args.init and args.resume:
        raise ConfigError("--init and --resume exclude each other; --resume alone continues a run")
    from model.train_checks import check_train_config, check_train_toml

    if args.train_config:
        check_train_toml(args.train_config)
    net_cfg, train_cfg, feat_over = load_train_config(args.train_config)
    features = dict(cfg["features"])
    for k, v in feat_over.items():
        features[k] = coerce("features", k, v, where=f" ({args.train_config} [features])")
    if args.threads is not None:
        train_cfg.threads = args.threads
    # Everything a user can get wrong is refused here, in one line, before training starts.
    for flag, value in (("--steps", args.steps), ("--threads", args.threads), ("--seed", args.seed)):
        if value is not None and (value < 0 or (value == 0 and flag != "--seed")):
            raise ConfigError(f"{flag} {value} must be {'>= 0' if flag == '--seed' else 'above 0'}")
    check_train_config(net_cfg, train_cfg, where=f" in {args.train_config}" if args.train_config else "")
    # the data itself (NaN poses, truncated or wrong-shaped clips) is checked by train() first thing
    rank = int(os.environ.get("RANK", "0") or 0)
    if args.resume and rank == 0:
        from pathlib import Path

        from model.train import load_checkpoint

        last = Path(args.out) / "last.pt"
        if last.is_file():
            ck = load_checkpoint(last)
            print(f"resuming {last} from step {int(ck.get('step', 0))} "
                  f"(of {int((ck.get('train_config') or {}).get('steps', 0)) or '?'})", file=sys.stderr, flush=True)
    res = train(data=args.data, out=args.out, feature_cfg=features, net_cfg=net_cfg, train_cfg=train_cfg,
                steps=args.steps, resume=args.resume, init=args.init, new_style=args.new_style,
                freeze_encoder=args.freeze_encoder, fresh_decoder=args.fresh_decoder, seed=args.seed, device=args.device,
                progress=not args.quiet, command=shlex.join(["dancemuse", *sys.argv[1:]]))
    if rank != 0:  # under torchrun only the first process reports (one final line, not garbled)
        return 0
    val = res.get("val") or {}
    extra = "".join(f" {k} {val[k]:.4g}" for k in ("val_loss", "val_bas", "val_bas_gt", "val_freeze", "val_bone_err")
                    if k in val)
    print(f"trained to step {res['step']} in {res['seconds']:.0f} s;{extra}; checkpoint {res['final']}")
    return 0
