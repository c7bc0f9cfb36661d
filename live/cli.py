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
from typing import Any

from live import __version__
from model.errors import ConfigError, DanceMuseError

COMMANDS = (
    "live",
    "generate",
    "train",
    "export",
    "evaluate",
    "dataset",
    "features",
    "beats",
    "bench",
    "devices",
    "config",
)

log = logging.getLogger("dancemuse")


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
    p = argparse.ArgumentParser(add_help=False)
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
    parser = argparse.ArgumentParser(
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, args.log_level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
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
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
