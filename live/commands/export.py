"""`dancemuse export CHECKPOINT -o model.onnx`: a training checkpoint -> the live step model."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(sub: Any) -> None:
    from live.cli import finite_float

    p = sub.add_parser(
        "export",
        help="export a training checkpoint to a self-contained ONNX step model (with parity check)",
    )
    p.add_argument("checkpoint", metavar="CHECKPOINT", help="checkpoint written by `dancemuse train` (.pt)")
    p.add_argument("-o", "--output", metavar="MODEL.onnx", default="model.onnx", help="ONNX file to write (default model.onnx)")
    p.add_argument("--block", type=int, default=1, metavar="N", help="frames per call (default 1: one call = one frame)")
    p.add_argument("--quantize", choices=["int8"], default=None,
                   help="also write MODEL.int8.onnx (dynamic int8) and report its parity and speed")
    p.add_argument("--parity-frames", type=int, default=500, metavar="N",
                   help="autoregressive frames of the parity check (default 500; 0 = skip)")
    p.add_argument("--tolerance", type=finite_float, default=1e-4, help="largest accepted pose difference (default 1e-4)")
    p.set_defaults(func=run)


class _Ticker:
    """Shows that a long step is running: elapsed seconds in place on a terminal, a line
    every 10 s otherwise (stderr), from a daemon thread."""

    def __init__(self, label: str) -> None:
        import threading

        self.label = label
        self.tty = sys.stderr.isatty()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import time

        t0 = time.perf_counter()
        sys.stderr.write(f"{self.label} ...\n" if not self.tty else f"{self.label} ...")
        sys.stderr.flush()
        while not self._stop.wait(1.0 if self.tty else 10.0):
            dt = time.perf_counter() - t0
            sys.stderr.write(f"\r{self.label} ... {dt:.0f} s" if self.tty else f"{self.label} ... {dt:.0f} s\n")
            sys.stderr.flush()
        if self.tty:
            sys.stderr.write("\n")
            sys.stderr.flush()

    def __enter__(self) -> _Ticker:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join(timeout=2.0)


def run(args: argparse.Namespace, cfg: dict[str, Any]) -> int:
    import shlex
    from pathlib import Path

    from export.atomic import CheckedOutput
    from model.errors import ModelError

    out = Path(args.output)
    if out.suffix != ".onnx":
        raise ModelError(f"output {out} must end in .onnx; pass -o NAME.onnx")
    if not Path(args.checkpoint).is_file():
        raise ModelError(f"checkpoint {args.checkpoint} not found; pass a file written by `dancemuse train`")
    import importlib.util

    if importlib.util.find_spec("torch") is None:  # named before anything is written (no torch import here)
        raise ModelError("export needs torch; install the train extra: pip install -e \".[train]\"")

    from export.onnx_export import export_checkpoint

    command = shlex.join(["dancemuse", *sys.argv[1:]]) if sys.argv and "dancemuse" in sys.argv[0] else None
    # Written beside the destination, checked, then renamed onto it: a failed check (or a
    # crash, or Ctrl-C) leaves an existing model untouched.
    with CheckedOutput(out) as target:
        with _Ticker(f"exporting {args.checkpoint}"):
            _, net, meta = export_checkpoint(args.checkpoint, target.tmp, block=args.block, command=command)
        size = target.tmp.stat().st_size / 1e6
        print(f"exported {args.checkpoint} ({size:.2f} MB): {meta['fps']} fps, window {meta['window']}+"
              f"{meta['lookahead']}, block {meta['block']}, styles {', '.join(meta['styles'])}; onnx.checker passed")
        status = 0
        res = None
        feats = None
        if args.parity_frames > 0:
            from export.parity import check_parity, demo_features

            seconds = args.parity_frames / meta["fps"] + 1.0
            feats = demo_features(seconds=seconds, fps=meta["fps"], feature_config=cfg["features"])[: args.parity_frames]
            with _Ticker(f"parity check: torch vs onnxruntime over {len(feats)} autoregressive frames"):
                res = check_parity(net, target.tmp, feats, block=args.block)
                if res.max_abs > args.tolerance:  # is it the export, or the model amplifying float32 rounding?
                    res = check_parity(net, target.tmp, feats, block=args.block, floor=True)
            print(res.line("fp32"))
            import math

            if not math.isfinite(res.max_abs):
                print(f"dancemuse: error: the exported model produces NaN or infinite poses; {out} was not "
                      "written (an existing file is unchanged)", file=sys.stderr)
                return 1
            if not res.ok(args.tolerance):
                floor = f", torch's own fp32-vs-fp64 drift {res.floor:.2e}" if res.floor is not None else ""
                print(f"dancemuse: error: parity {res.max_abs:.2e} (per-step {res.step_max_abs:.2e}{floor}) exceeds the "
                      f"tolerance {args.tolerance:g}; {out} was not written (an existing file is unchanged)",
                      file=sys.stderr)
                return 1
            if res.max_abs > args.tolerance:
                print(f"note: the autoregressive difference {res.max_abs:.2e} exceeds {args.tolerance:g} but torch alone "
                      f"drifts {res.floor:.2e} between fp32 and fp64 on this song: the model amplifies rounding there; "
                      f"the per-step export error is {res.step_max_abs:.2e}")
        path = target.commit()
    print(f"wrote {path}" + ("" if res is not None else " (parity check skipped: --parity-frames 0)"))
    if args.block == 1:  # the same weights for generate's batched numpy path, tied to this file by hash
        from export.offline import offline_path, write_offline

        print(f"wrote {write_offline(net, meta, offline_path(path), step_model=path)} (offline generation)")
    if args.quantize == "int8":
        from export.parity import check_parity, demo_features, time_session
        from export.quantize import quantize_int8

        if feats is None:
            feats = demo_features(seconds=500 / meta["fps"] + 1.0, fps=meta["fps"], feature_config=cfg["features"])[:500]
        qout = path.with_suffix(".int8.onnx")
        with CheckedOutput(qout) as qtarget:
            quantize_int8(path, qtarget.tmp)
            qres = check_parity(net, qtarget.tmp, feats, block=args.block)
            qpath = qtarget.commit()
        fp_ms, q_ms = time_session(path), time_session(qpath)
        print(f"wrote {qpath} ({qpath.stat().st_size / 1e6:.2f} MB)")
        print(qres.line("int8"))
        print(f"speed: fp32 {fp_ms:.3f} ms/step, int8 {q_ms:.3f} ms/step ({fp_ms / max(q_ms, 1e-9):.2f}x)")
    return status
