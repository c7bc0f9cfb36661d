"""CPU per frame of an ensemble against one dancer (issue 15: 4 dancers <= 2x one).

``python3 bench/ensemble.py [--seconds 10] [--dancers 4]`` runs the demo song through the
real Engine alone, then wrapped in live.ensemble.Ensemble in each mode, and prints thread
CPU ms per frame side by side (ratios, not absolute promises: the machine is shared)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--dancers", type=int, default=4)
    a = ap.parse_args()
    from live.engine import Engine
    from live.ensemble import EnsembleSettings, build
    from live.generate import load_song
    from live.runtime import load_generator
    from model.config import load_config

    cfg = load_config(None)
    audio, sr, _ = load_song("demo", demo_seconds=a.seconds)
    hop = sr // 30

    def run(proc: object, prepare: object) -> float:
        prepare(sr=sr)  # type: ignore[operator]
        c0, n = time.thread_time(), 0
        for s in range(0, len(audio), hop):
            n += len(proc(audio[s:s + hop], sr=sr))  # type: ignore[operator]
        return (time.thread_time() - c0) * 1000 / max(1, n)

    eng = Engine(cfg, load_generator(cfg))
    one = run(eng.process, eng.prepare)
    print(f"{'setup':<22}{'cpu ms/frame':>14}{'x one':>8}")
    print(f"{'1 dancer':<22}{one:>14.2f}{1.0:>8.2f}")
    for mode in ("unison", "canon", "mirror", "free"):
        ens = build(cfg, load_generator(cfg), settings=EnsembleSettings(dancers=a.dancers, mode=mode))
        ms = run(ens.process, ens.engine.prepare)
        print(f"{f'{a.dancers} dancers {mode}':<22}{ms:>14.2f}{ms / one:>8.2f}")


if __name__ == "__main__":
    main()
