"""`dancemuse export CHECKPOINT -o model.onnx`: a training checkpoint -> the live step model."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(sub: Any) -> None:
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
    p.add_argument("--tolerance", type=float, default=1e-4, help="largest accepted pose difference (default 1e-4)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, cfg: dict[str, Any]) -> int:
    import shlex
    from pathlib import Path

    from export.onnx_export import export_checkpoint
    from model.errors import ModelError

    out = Path(args.output)
    if out.suffix != ".onnx":
        raise ModelError(f"output {out} must end in .onnx; pass -o NAME.onnx")
    command = shlex.join(["dancemuse", *sys.argv[1:]]) if sys.argv and "dancemuse" in sys.argv[0] else None
    path, net, meta = export_checkpoint(args.checkpoint, out, block=args.block, command=command)
    size = path.stat().st_size / 1e6
    print(f"wrote {path} ({size:.2f} MB): {meta['fps']} fps, window {meta['window']}+{meta['lookahead']}, "
          f"block {meta['block']}, styles {', '.join(meta['styles'])}; onnx.checker passed")
    if args.parity_frames <= 0:
        return 0
    from export.parity import check_parity, demo_features

    seconds = args.parity_frames / meta["fps"] + 1.0
    feats = demo_features(seconds=seconds, fps=meta["fps"], feature_config=cfg["features"])[: args.parity_frames]
    res = check_parity(net, path, feats, block=args.block)
    if res.max_abs > args.tolerance:  # is it the export, or the model amplifying float32 rounding?
        res = check_parity(net, path, feats, block=args.block, floor=True)
    print(res.line("fp32"))
    status = 0
    if not res.ok(args.tolerance):
        floor = f", torch's own fp32-vs-fp64 drift {res.floor:.2e}" if res.floor is not None else ""
        print(f"dancemuse: error: parity {res.max_abs:.2e} (per-step {res.step_max_abs:.2e}{floor}) exceeds the "
              f"tolerance {args.tolerance:g}; the ONNX model does not reproduce the checkpoint", file=sys.stderr)
        status = 1
    elif res.max_abs > args.tolerance:
        print(f"note: the autoregressive difference {res.max_abs:.2e} exceeds {args.tolerance:g} but torch alone "
              f"drifts {res.floor:.2e} between fp32 and fp64 on this song: the model amplifies rounding there; "
              f"the per-step export error is {res.step_max_abs:.2e}")
    if args.quantize == "int8":
        from export.parity import time_session
        from export.quantize import quantize_int8

        qpath = quantize_int8(path, path.with_suffix(".int8.onnx"))
        qres = check_parity(net, qpath, feats, block=args.block)
        fp_ms, q_ms = time_session(path), time_session(qpath)
        print(f"wrote {qpath} ({qpath.stat().st_size / 1e6:.2f} MB)")
        print(qres.line("int8"))
        print(f"speed: fp32 {fp_ms:.3f} ms/step, int8 {q_ms:.3f} ms/step ({fp_ms / max(q_ms, 1e-9):.2f}x)")
    return status
