"""Rebuild ``models/default.onnx`` from scratch: synthetic data -> training -> export.

    python -m export.default_model [--minutes 8] [--steps 600] [--out models/default.onnx]

(``make default-model`` runs this.) Steps: ``model.synth_dance.synthesize_dataset`` writes
``--minutes`` of songs and dances over the four styles into ``--work/data``;
``model.train.train`` trains a small DanceNet (:data:`NET`) for ``--steps`` steps on
the CPU into ``--work/run``; ``export.onnx_export.export_checkpoint`` writes the ONNX
step model and the parity check runs over 500 frames of the demo song. A README beside
the model records what it was trained on. Everything is seeded: the same command gives
the same data and (on CPU) the same weights.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path
from typing import Any

NET: dict[str, Any] = {
    "d_model": 64, "heads": 4, "layers": 2, "window": 64, "ffn_dim": 128,
    "lstm_hidden": 128, "lstm_layers": 2, "style_dim": 16, "noise_dim": 8, "dropout": 0.0,
}
"""The default model's NetConfig: small enough to ship (about 1 MB) and to step in well
under a millisecond on one CPU thread."""

TRAIN: dict[str, Any] = {"batch": 16, "seq_len": 90, "lr": 2e-3, "warmup": 50, "pred_max": 20,
                         "grow_every": 30, "ckpt_every": 200, "val_every": 50, "val_windows": 8,
                         "val_seconds": 10.0, "threads": 1, "seed": 0, "device": "cpu"}


def build_default_model(*, out: Path, work: Path, minutes: float, steps: int, seed: int = 0) -> dict[str, Any]:
    """Synthesize, train, export; returns a summary dict."""
    from export.onnx_export import export_checkpoint
    from export.parity import check_parity, demo_features
    from model.config import defaults
    from model.network import NetConfig
    from model.synth_dance import synthesize_dataset
    from model.train import TrainConfig, train

    t0 = time.perf_counter()
    data, run = work / "data", work / "run"
    if not (data / "manifest.json").exists():
        print(f"synthesising {minutes:g} minutes of dance data into {data} ...", file=sys.stderr)
        synthesize_dataset(data, minutes=minutes, seed=seed)
    feature_cfg = defaults()["features"]
    tc = TrainConfig(**{**TRAIN, "steps": steps, "seed": seed})
    res = train(data=data, out=run, feature_cfg=feature_cfg, net_cfg=NetConfig(**NET), train_cfg=tc,
                resume=(run / "last.pt").exists(), progress=True,
                command=f"python -m export.default_model --minutes {minutes:g} --steps {steps}")
    ckpt = Path(res["final"])
    command = shlex.join(["python", "-m", "export.default_model", *sys.argv[1:]])
    path, net, meta = export_checkpoint(ckpt, out, command=command)
    feats = demo_features(seconds=18.0, fps=meta["fps"])[:500]
    parity = check_parity(net, path, feats, floor=True)
    summary = {
        "model": str(out), "bytes": path.stat().st_size, "steps": res["step"], "seconds": round(time.perf_counter() - t0, 1),
        "val": {k: (round(v, 4) if isinstance(v, float) else v) for k, v in (res.get("val") or {}).items()},
        "parity": {"max_abs": parity.max_abs, "step_max_abs": parity.step_max_abs, "fp32_vs_fp64_floor": parity.floor},
        "train_data": meta["train_data"], "net": NET, "train": {**TRAIN, "steps": steps},
    }
    print(parity.line("fp32"), file=sys.stderr)
    return summary


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m export.default_model", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path("models/default.onnx"))
    ap.add_argument("--work", type=Path, default=Path("build/default-model"), help="data and run folder")
    ap.add_argument("--minutes", type=float, default=8.0, help="minutes of synthetic data (default 8)")
    ap.add_argument("--steps", type=int, default=600, help="training steps (default 600)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    summary = build_default_model(out=args.out, work=args.work, minutes=args.minutes, steps=args.steps, seed=args.seed)
    args.work.mkdir(parents=True, exist_ok=True)
    (args.work / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    print(json.dumps(summary, indent=2, default=str))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
