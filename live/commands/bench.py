"""`dancemuse bench NAME [ARGS...]`: run the benchmark bench/NAME.py (printed, nothing asserted)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent.parent.parent / "bench"


def available() -> list[str]:
    """Names of the benchmarks in bench/."""
    if not BENCH_DIR.is_dir():
        return []
    return sorted(p.stem for p in BENCH_DIR.glob("*.py") if not p.stem.startswith("_"))


def register(sub: Any) -> None:
    p = sub.add_parser(
        "bench",
        help="run a benchmark from bench/ (e.g. `dancemuse bench step`, `dancemuse bench live`)",
        epilog="arguments after NAME go to the benchmark; `dancemuse bench step -- --help` shows its options",
    )
    p.add_argument("name", metavar="NAME", nargs="?", help="benchmark name: a file bench/NAME.py")
    p.add_argument("bench_args", nargs=argparse.REMAINDER, help="options for the benchmark")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, cfg: dict[str, Any]) -> int:
    import runpy
    import sys

    from model.errors import ConfigError

    names = available()
    if not args.name:
        print("benchmarks: " + (", ".join(names) or "(none)"))
        return 0
    if args.name not in names:
        raise ConfigError(f"no benchmark {args.name!r}; available: {', '.join(names) or 'none'}")
    path = BENCH_DIR / f"{args.name}.py"
    extra = [a for a in args.bench_args if a != "--"]
    old = sys.argv
    sys.argv = [str(path), *extra]
    try:
        runpy.run_path(str(path), run_name="__main__")
    except SystemExit as e:
        return int(e.code or 0) if isinstance(e.code, int) else (0 if e.code is None else 1)
    finally:
        sys.argv = old
    return 0
