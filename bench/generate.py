"""Offline generation benchmark: old path (the live per-block Engine loop with the old
per-frame features and post) against the new batched path, on one song.

    python bench/generate.py [--seconds 200] [--model models/default.onnx]
    dancemuse bench generate

Prints per stage (features incl. beat tracker, model, post) and the frame loop as x real
time, then the whole process (`python -m live.cli generate SONG.wav -o out.npz` in a fresh
process, the song written to a temporary WAV) for the new path; the old whole process is
a fresh process that imports librosa and builds its filters (the old start-up) and runs the
old per-block loop. Asserts nothing.
Targets (issue 12): frame loop >= 100x real time, whole process >= 40x.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

OLD_PRELUDE = ("import librosa, librosa.filters; librosa.filters.mel(sr=24000, n_fft=2048, n_mels=64, "
               "fmin=30.0, fmax=11000.0); librosa.filters.chroma(sr=24000, n_fft=2048); ")


def _legacy() -> object:
    import importlib.util

    spec = importlib.util.spec_from_file_location("dancemuse_bench_legacy", ROOT / "bench" / "_legacy.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def frame_loop(model: str, audio: np.ndarray, sr: int, *, old: bool) -> dict[str, float]:
    """Seconds per stage of one generation (old: per-block live path with the old parts)."""
    from live.engine import Engine
    from live.runtime import Generator
    from model.config import load_config

    cfg = load_config()
    if old:
        gen = Generator(model, feature_config=cfg["features"])
    else:  # a block-N export beside the model (<model>_b<N>.onnx) when there is one
        from live.runtime import load_generator

        gen = load_generator(cfg, path=model, offline=True)
    times_block = gen.block
    if old:
        lg: object = _legacy()
        eng = Engine(cfg, gen, features_factory=lg.old_features_factory)  # type: ignore[attr-defined]
        live = cfg["live"]
        eng.post = lg.OldPostProcessor(fps=eng.fps, smoothing=live["smoothing"],  # type: ignore[attr-defined]
                                       mirror=live["mirror"], root=live["root"], project_bones=live["project_bones"])
    else:
        eng = Engine(cfg, gen)
    eng.prepare(sr=sr, warmup=False)
    if old:
        gen._ios = None  # the old runtime: state through Python on every run()
    times = {"features": 0.0, "model": 0.0, "post": 0.0}
    push, step, post = eng.features.push, gen.step, eng.post.process

    def timed(name: str, fn: Any) -> Any:
        def run(*a: Any, **kw: Any) -> Any:
            t0 = time.perf_counter()
            r = fn(*a, **kw)  # type: ignore[operator]
            times[name] += time.perf_counter() - t0
            return r
        return run

    eng.features.push = timed("features", push)
    gen.step = timed("model", step)  # type: ignore[method-assign]
    if not old:
        gen.step_frames = timed("model", gen.step_frames)  # type: ignore[method-assign]
        gen.step = step  # type: ignore[method-assign]  # step_frames's own per-frame calls: not twice
    eng.post.process = timed("post", post)  # type: ignore[method-assign]
    if hasattr(eng.post, "process_many"):
        eng.post.process_many = timed("post", eng.post.process_many)  # type: ignore[method-assign]
    t0 = time.perf_counter()
    if old:
        n = 0
        for i in range(0, len(audio), 4096):
            n += len(eng.process(audio[i: i + 4096], sr=sr))
    else:
        poses, _ = eng.render(audio, sr=sr)
        n = len(poses)
    times["loop"] = time.perf_counter() - t0
    times["frames"] = float(n)
    times["block"] = float(times_block)
    return times


def whole_process(model: str, wav: Path, out: Path, *, old: bool) -> float:
    """Seconds for a fresh process to turn the WAV into a dance file. New: `dancemuse
    generate`. Old: librosa imported and its filters built (as the old start-up did), the
    old per-block loop (``--child-old``), the poses written with numpy."""
    if old:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--child-old", str(wav), model, str(out)]
    else:
        cmd = [sys.executable, "-m", "live.cli", "generate", str(wav), "--model", model, "-o", str(out)]
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, env=dict(os.environ, OMP_NUM_THREADS="1"))
    return time.perf_counter() - t0


def _child_old(wav: str, model: str, out: str) -> int:
    import librosa  # noqa: F401 - the old start-up cost
    import librosa.filters
    import soundfile as sf

    librosa.filters.mel(sr=24000, n_fft=2048, n_mels=64, fmin=30.0, fmax=11000.0)
    audio, sr = sf.read(wav, dtype="float32")
    poses = _frame_loop_poses(model, audio, int(sr))
    np.savez(out, poses=poses)
    return 0


def _frame_loop_poses(model: str, audio: np.ndarray, sr: int) -> np.ndarray:
    from live.engine import Engine
    from live.runtime import Generator
    from model.config import load_config

    cfg = load_config()
    gen = Generator(model, feature_config=cfg["features"])
    lg: object = _legacy()
    eng = Engine(cfg, gen, features_factory=lg.old_features_factory)  # type: ignore[attr-defined]
    live = cfg["live"]
    eng.post = lg.OldPostProcessor(fps=eng.fps, smoothing=live["smoothing"],  # type: ignore[attr-defined]
                                   mirror=live["mirror"], root=live["root"], project_bones=live["project_bones"])
    gen._ios = None
    eng.prepare(sr=sr, warmup=False)
    frames = [f.joints.copy() for i in range(0, len(audio), 4096) for f in eng.process(audio[i: i + 4096], sr=sr)]
    return np.stack(frames)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--child-old"]:
        return _child_old(*args[1:4])
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=200.0)
    ap.add_argument("--model", default=str(ROOT / "models" / "default.onnx"))
    ap.add_argument("--sr", type=int, default=44100, help="song sample rate (a CD-rate file)")
    a = ap.parse_args(argv)
    import soundfile as sf
    import soxr

    from model.synth_music import demo_song

    song = demo_song(seconds=a.seconds, seed=0)
    audio = soxr.resample(song.audio, song.sample_rate, a.sr).astype(np.float32)
    print(f"song: {a.seconds:g} s demo at {a.sr} Hz; model {Path(a.model).name}")
    print(f"{'path':>4} {'block':>5} {'features s':>10} {'model s':>8} {'post s':>7} {'loop s':>7} {'loop x RT':>9} "
          f"{'process s':>9} {'process x RT':>12}")
    with tempfile.TemporaryDirectory() as td:
        wav = Path(td) / "song.wav"
        sf.write(str(wav), audio, a.sr, subtype="PCM_16")
        for old in (True, False):
            t = frame_loop(a.model, audio, a.sr, old=old)
            whole = whole_process(a.model, wav, Path(td) / "out.npz", old=old)
            print(f"{'old' if old else 'new':>4} {int(t['block']):>5} {t['features']:>10.2f} {t['model']:>8.2f} {t['post']:>7.2f} "
                  f"{t['loop']:>7.2f} {a.seconds / t['loop']:>9.1f} {whole:>9.2f} {a.seconds / whole:>12.1f}")
    print("old = the live per-block Engine loop with per-frame numpy post and librosa-filter features "
          "(what generate ran before); features include the beat tracker. Targets: loop >= 100x, process >= 40x.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
