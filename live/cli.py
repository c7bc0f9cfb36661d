"""The `dancemuse` command line.

Each command lives in `live/commands/<name>.py` with ``register(subparsers)`` that adds
its parser (importing nothing heavy) and sets ``func=run``; ``run(args, cfg) -> int``
does the work and imports what it needs inside. User errors (DanceMuseError) end in one
line on stderr and exit status 2; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from live import __version__
from model.errors import ConfigError, DanceMuseError

COMMANDS = (
    "live",
    "generate",
    "train",
    "export",
    "calibrate",
    "evaluate",
    "dataset",
    "features",
    "beats",
    "bench",
    "devices",
    "config",
    "doctor",
    "phrases",
    "rehearse",
)

log = logging.getLogger("dancemuse")

EXTRAS: dict[str, tuple[str, str]] = {
    "torch": ("train", "training, export and .pt checkpoints"),
    "onnx": ("train", "export"),
    "pretty_midi": ("train", "MIDI rendering"),
    "matplotlib": ("video", "plots and pictures; the train extra has it too"),
    "imageio_ffmpeg": ("video", "MP4 video"),
    "onnxruntime": ("cpu", "running a model (or the gpu extra)"),
    "mediapipe": ("extract", "pose extraction from video (own venv: .ci/extract_venv.sh)"),
    "mir_eval": ("dev", "beat-tracking benchmarks"),
    "essentia": ("dev", "beat-tracking benchmarks"),
    "skimage": ("dev", "image comparisons"),
    "playwright": ("dev", "browser tests"),
}
"""Top-level module -> (the pip extra that brings it, what it is for)."""


def missing_dependency_line(err: ModuleNotFoundError) -> str | None:
    """One line naming the extra to install for a missing optional module (None: not ours)."""
    name = (err.name or "").split(".")[0]
    if name not in EXTRAS:
        return None
    extra, what = EXTRAS[name]
    return (f"this needs the optional package '{name}' ({what}), which is not installed: "
            f"pip install \"dancemuse[{extra}]\" (in a checkout: pip install -e \".[{extra}]\")")


def finite_float(text: str) -> float:
    """argparse type: a float that is neither NaN nor infinite."""
    import math

    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(v):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number; give a plain number")
    return v


def check_output_path(path: str | Path, *, what: str) -> Path:
    """Refuse, before any long work, an output path that is a folder, lies in a missing
    folder or cannot be written (tried with a temporary file beside it). Raises ConfigError."""
    import os
    import tempfile

    p = Path(path)
    if p.is_dir():
        raise ConfigError(f"{what} {p} is a folder; pass a file name, e.g. {p / ('out' + (p.suffix or '.npz'))}")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise ConfigError(f"cannot write {what} {p}: folder {parent} does not exist; create it or pick another path")
    if p.exists() and not os.access(p, os.W_OK):
        raise ConfigError(f"cannot write {what} {p}: the file is read-only; pick another path")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".check", dir=parent)
    except OSError as e:
        raise ConfigError(f"cannot write {what} {p}: {e.strerror or e}; pick a writable folder") from None
    os.close(fd)
    os.unlink(tmp)
    return p


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (no usage block), exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}; see `{self.prog} --help`\n")


def parse_set(items: Sequence[str]) -> dict[str, Any]:
    """``["osc.port=7000", ...]`` -> ``{"osc.port": 7000}`` typed by the schema."""
    from model.config import parse_value

    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        section, dot, name = key.strip().partition(".")
        if not sep or not dot:
            raise ConfigError(f"--set {item!r} must look like section.key=value")
        out[f"{section}.{name}"] = parse_value(section, name, value.strip())
    return out


def _add_common(parser: argparse.ArgumentParser, *, sub: bool) -> None:
    # On subcommands the defaults are SUPPRESS so that they do not undo a value given
    # before the command name: `dancemuse --debug live` and `dancemuse live --debug` agree.
    d = argparse.SUPPRESS
    parser.add_argument("--config", metavar="FILE", default=d if sub else None,
                        help="configuration file (default: config.toml)")
    parser.add_argument("--set", metavar="SECTION.KEY=VALUE", action="append",
                        default=d if sub else [], dest="set_",
                        help="override one config key (repeatable)")
    parser.add_argument("--debug", action="store_true", default=d if sub else False,
                        help="show tracebacks for errors")
    parser.add_argument("--log-level", default=d if sub else "info",
                        choices=["debug", "info", "warning", "error"],
                        help="logging level (default info)")


def common_parent() -> argparse.ArgumentParser:
    """Parent parser with --config/--set/--debug/--log-level, for nested subcommands:
    ``sub.add_parser("synth", parents=[common_parent()], ...)``."""
    p = OneLineParser(add_help=False)
    _add_common(p, sub=True)
    return p


class _Subparsers:
    """Wraps argparse's subparsers so every command accepts the common options too."""

    def __init__(self, action: Any) -> None:
        self._action = action

    def add_parser(self, name: str, **kw: Any) -> argparse.ArgumentParser:
        kw.setdefault("parents", [])
        kw["parents"] = [*kw["parents"], common_parent()]
        if "help" in kw and "description" not in kw:
            kw["description"] = kw["help"]
        return self._action.add_parser(name, **kw)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="dancemuse",
        description="DanceMuse: live music in, a learned dancer out over OSC and WebSocket.",
    )
    parser.add_argument("--version", action="version", version=f"dancemuse {__version__}")
    _add_common(parser, sub=False)
    sub = _Subparsers(parser.add_subparsers(dest="command", metavar="COMMAND"))
    for name in COMMANDS:
        try:
            mod = importlib.import_module(f"live.commands.{name}")
        except ModuleNotFoundError as e:
            if e.name == f"live.commands.{name}":
                continue
            raise
        mod.register(sub)
    return parser


def setup_logging(level_name: str) -> None:
    """Log through a bounded queue to a writer thread (live/logq.py): a slow or blocked
    stderr never stops the caller. websockets' per-connection INFO lines only at debug."""
    from live.logq import install

    level = getattr(logging, level_name.upper())
    install(level)
    logging.getLogger("websockets").setLevel(logging.DEBUG if level <= logging.DEBUG else logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args.log_level)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        from model.config import load_config

        cfg = load_config(args.config, overrides=parse_set(args.set_))
        return int(args.func(args, cfg) or 0)
    except DanceMuseError as e:
        if args.debug:
            raise
        print(f"dancemuse: error: {e}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as e:
        line = missing_dependency_line(e)
        if line is None or args.debug:
            raise
        print(f"dancemuse: error: {line}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
