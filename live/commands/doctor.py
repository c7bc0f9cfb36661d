"""`dancemuse doctor`: preflight checks before a show, one line each with OK/WARN/FAIL and the fix."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    from live.cli import finite_float

    p = sub.add_parser(
        "doctor",
        help="check audio input, model, timing, ports, OSC targets, disk and extras before a show",
        epilog="exit status 1 if any check FAILs; example: dancemuse doctor --input mic",
    )
    p.add_argument("--input", metavar="SRC", help="audio input to check: 'mic', 'demo' or a file (default: audio.input)")
    p.add_argument("--device", metavar="D", help="input device index or name (default: audio.device)")
    p.add_argument("--model", metavar="MODEL.onnx", help="model to check (default: model.path)")
    p.add_argument("--audio-seconds", type=finite_float, default=5.0, metavar="S",
                   help="seconds of input level to measure (default 5)")
    p.add_argument("--timing-seconds", type=finite_float, default=10.0, metavar="S",
                   help="seconds of the demo song run through the engine (default 10)")
    p.add_argument("--skip", action="append", default=[], metavar="CHECK",
                   help="skip a check: audio, model, timing, ports, osc, disk, extras (repeatable)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, cfg: dict[str, Any]) -> int:
    import copy

    from live.doctor import CHECKS, FAIL, WARN, Check, Options, run_checks
    from model.errors import ConfigError

    bad = [s for s in args.skip if s not in CHECKS]
    if bad:
        raise ConfigError(f"--skip {bad[0]!r} is not a check; use one of {', '.join(CHECKS)}")
    if not 0.1 <= args.audio_seconds <= 60 or not 1 <= args.timing_seconds <= 120:
        raise ConfigError("--audio-seconds must be 0.1..60 and --timing-seconds 1..120")
    cfg = copy.deepcopy(cfg)
    if args.input is not None:
        cfg["audio"]["input"] = args.input
    if args.device is not None:
        cfg["audio"]["device"] = args.device
    if args.model is not None:
        cfg["model"]["path"] = args.model

    def report(c: Check) -> None:
        print(c.line(), flush=True)

    res = run_checks(cfg, Options(audio_seconds=args.audio_seconds, timing_seconds=args.timing_seconds,
                                  skip=tuple(args.skip)), report)
    fails = sum(c.status == FAIL for c in res)
    warns = sum(c.status == WARN for c in res)
    print(f"doctor: {len(res)} checks, {fails} FAIL, {warns} WARN" + (" -- not ready for a show" if fails else ""))
    return 1 if fails else 0
