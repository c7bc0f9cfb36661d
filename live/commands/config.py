"""`dancemuse config show`: print the configuration in effect."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("config", help="show the configuration in effect")
    from live.cli import common_parent

    csub = p.add_subparsers(dest="config_cmd", metavar="ACTION", required=True)
    show = csub.add_parser("show", parents=[common_parent()], help="print the effective configuration as TOML")
    show.add_argument("--no-comments", action="store_true", help="omit the help comments")
    show.set_defaults(func=run)


def run(args: argparse.Namespace, cfg: dict[str, Any]) -> int:
    from model.config import config_file, to_toml

    file = config_file(getattr(args, "config", None))
    print(f"# loaded from {file}" if file is not None else "# no config file found: the built-in defaults")
    if args.set_:
        print(f"# with --set {' '.join(args.set_)}")
    print(to_toml(cfg, comments=not args.no_comments), end="")
    return 0
