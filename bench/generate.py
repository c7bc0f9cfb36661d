"""Offline generation benchmark, side by side on one song: old (the live per-block Engine
loop with the old per-frame features and post), b16 (the batched path with the block-16
onnxruntime export and the beat net frame by frame: what generate ran before the numpy
offline model and the batched beat net), postloop (serial, but post-processing frame by
frame: what ``process_many`` did before it ran stage by stage), serial (the batched path in
one process: the beat net per batch, ``<model>_offline.npz`` in numpy, BLAS on one thread;
what generate ran before the parallel render), new (what `generate` runs now on two cores:
serial's work, with the features and beat tracker in a forked child process that hands
them over push by push while this process runs the model, ``Engine.render(parallel=True)``).

    python bench/generate.py [--seconds 200] [--model models/default.onnx]
    dancemuse bench generate

Prints per stage (features incl. beat tracker, model, post) in CPU seconds (thread time:
other processes on the machine do not inflate it; for new, features is the child process's
whole CPU and the loop's CPU is this thread's plus the child's), the frame loop as x real
time by CPU and by wall clock (wall is what parallel gains; it is inflated when the machine
is busy), then the whole process (`python -m live.cli generate SONG.wav -o
out.npz` in a fresh process, the song written to a temporary WAV) by CPU (user + system of
the child) and wall, with Python's bytecode cache on (as in an installed package; the
session environment sets PYTHONDONTWRITEBYTECODE, which made every child compile ~0.2 s
of modules). The old whole process imports librosa and builds its filters (the old
start-up) and runs the old per-block loop. Asserts nothing.
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


def frame_loop(model: str, audio: np.ndarray, sr: int, *, path: str) -> dict[str, float]:
    """CPU seconds per stage of one generation and the loop's CPU and wall seconds.
    path: old (per-block live path with the old parts), b16, postloop, new."""
    import model.features as mf
    from live.engine import Engine
    from live.generate import one_blas_thread
    from live.runtime import Generator, load_generator
    from model.config import load_config

    cfg = load_config()
    mf._SEQ.clear()
    if path in ("old", "b16"):
        mf._SEQ["s"] = None  # the beat net frame by frame
    if path == "old":
        gen: Any = Generator(model, feature_config=cfg["features"])
        lg: Any = _legacy()
        eng = Engine(cfg, gen, features_factory=lg.old_features_factory)
        live = cfg["live"]
        eng.post = lg.OldPostProcessor(fps=eng.fps, smoothing=live["smoothing"],
                                       mirror=live["mirror"], root=live["root"], project_bones=live["project_bones"])
    elif path == "b16":
        import live.runtime as rt

        keep = rt._offline_weights
        rt._offline_weights = lambda _p: None  # type: ignore[assignment]
        try:
            gen = load_generator(cfg, path=model, offline=True)
        finally:
            rt._offline_weights = keep  # type: ignore[assignment]
        eng = Engine(cfg, gen)
    else:
        gen = load_generator(cfg, path=model, offline=True)
        eng = Engine(cfg, gen)
    if path == "postloop":  # serial, but post frame by frame (what process_many did before)
        _post_frame_by_frame(eng.post)
    eng.prepare(sr=sr, warmup=False)
    if path == "old":
        gen._ios = None  # the old runtime: state through Python on every run()
    times = {"features": 0.0, "model": 0.0, "post": 0.0}

    def timed(name: str, fn: Any) -> Any:
        def run(*a: Any, **kw: Any) -> Any:
            t0 = time.thread_time()
            r = fn(*a, **kw)
            times[name] += time.thread_time() - t0
            return r
        return run

    eng.features.push = timed("features", eng.features.push)
    if path == "old":
        gen.step = timed("model", gen.step)
    else:
        gen.step_frames = timed("model", gen.step_frames)
    eng.post.process = timed("post", eng.post.process)  # type: ignore[method-assign]
    if hasattr(eng.post, "process_many"):
        eng.post.process_many = timed("post", eng.post.process_many)  # type: ignore[method-assign]
    c0, t0 = time.thread_time(), time.perf_counter()
    with one_blas_thread():
        if path == "old":
            n = 0
            for i in range(0, len(audio), 4096):
                n += len(eng.process(audio[i: i + 4096], sr=sr))
        else:
            poses, _ = eng.render(audio, sr=sr, parallel=path == "new")
            n = len(poses)
    times["loop_cpu"] = time.thread_time() - c0
    times["loop_wall"] = time.perf_counter() - t0
    if path == "new":  # the features ran in the child: its CPU is theirs (and counts in the loop)
        times["features"] = eng.render_stats["producer_cpu"]
        times["loop_cpu"] += times["features"]
    times["frames"] = float(n)
    times["kind"] = str(getattr(gen, "provider", ""))  # type: ignore[assignment]
    mf._SEQ.clear()
    return times


def _post_frame_by_frame(post: Any) -> None:
    """Make ``post.process_many`` the frame-by-frame loop (``PostProcessor._process_loop``)."""
    post.process_many = lambda poses, cues=None: post._process_loop(
        poses, None if cues is None else np.asarray(cues, np.float64).reshape(len(poses), 3))


def whole_process(model: str, wav: Path, out: Path, *, path: str) -> tuple[float, float]:
    """(CPU s, wall s) for a fresh process (and its children) to turn the WAV into a dance
    file. new: `dancemuse generate`; serial: the same with the parallel render turned off;
    b16: serial with the numpy weights and the batched beat net turned off;
    old: librosa imported and its filters built (as the old start-up did), the old
    per-block loop (``--child-old``), the poses written with numpy."""
    cli = ["generate", str(wav), "--model", model, "-o", str(out)]
    if path == "old":
        cmd = [sys.executable, str(Path(__file__).resolve()), "--child-old", str(wav), model, str(out)]
    elif path in ("b16", "serial", "postloop"):
        serial = "import live.engine as le; le.can_fork = lambda: False; "
        code = {"b16": ("import sys, model.features as mf, live.runtime as rt; mf._SEQ['s'] = None; "
                        "rt._offline_weights = lambda p: None; "),
                "serial": "import sys; ",
                "postloop": ("import sys, numpy as np, live.post as lp; lp.PostProcessor.process_many = "
                             "lambda self, p, c=None: self._process_loop(p, None if c is None else "
                             "np.asarray(c, np.float64).reshape(len(p), 3)); ")}[path]
        cmd = [sys.executable, "-c", code + serial + "from live.cli import main; sys.exit(main(sys.argv[1:]))", *cli]
    else:
        cmd = [sys.executable, "-m", "live.cli", *cli]
    import resource

    env = dict(os.environ, OMP_NUM_THREADS="1")
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # modules load from cached bytecode, as in an installed package
    warm = ("import live.cli, live.commands.generate, live.generate, live.offline, live.runtime, live.engine, "
            "live.post, live.dance_io, model.features, model.beats, model.synth_music")
    subprocess.run([sys.executable, "-c", warm], cwd=ROOT, check=True, capture_output=True, env=env)  # caches it once
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, env=env)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime), wall


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
    ap.add_argument("--paths", default="old,b16,serial,new", help="comma list of old, b16, postloop, serial, new")
    a = ap.parse_args(argv)
    import soundfile as sf
    import soxr

    from model.synth_music import demo_song

    song = demo_song(seconds=a.seconds, seed=0)
    audio = soxr.resample(song.audio, song.sample_rate, a.sr).astype(np.float32)
    print(f"song: {a.seconds:g} s demo at {a.sr} Hz; model {Path(a.model).name}; stage and loop columns: CPU s")
    print(f"{'path':>8} {'model runs on':>20} {'features':>8} {'model':>7} {'post':>6} {'loop':>6} {'loop xRT cpu':>12} "
          f"{'wall':>6} {'process cpu s':>13} {'xRT cpu':>8} {'wall s':>7} {'xRT wall':>8}")
    with tempfile.TemporaryDirectory() as td:
        wav = Path(td) / "song.wav"
        sf.write(str(wav), audio, a.sr, subtype="PCM_16")
        got: dict[str, tuple[float, float, float, float]] = {}
        for path in a.paths.split(","):
            t = frame_loop(a.model, audio, a.sr, path=path)
            pc, pw = whole_process(a.model, wav, Path(td) / "out.npz", path=path)
            got[path] = (a.seconds / t["loop_cpu"], a.seconds / t["loop_wall"], a.seconds / pc, a.seconds / pw)
            print(f"{path:>8} {t['kind']:>20} {t['features']:>8.2f} {t['model']:>7.2f} {t['post']:>6.2f} "
                  f"{t['loop_cpu']:>6.2f} {a.seconds / t['loop_cpu']:>12.1f} {a.seconds / t['loop_wall']:>6.1f} "
                  f"{pc:>13.2f} {a.seconds / pc:>8.1f} {pw:>7.2f} {a.seconds / pw:>8.1f}", flush=True)
    print("old = the live per-block Engine loop with per-frame numpy post and librosa-filter features; b16 = the "
          "batched path with the block-16 onnxruntime export and the beat net per frame; postloop = new with "
          "post-processing frame by frame (process_many before it ran stage by stage); serial = the batched path in one "
          "process; new = what generate runs now (serial's work with the features in a forked child). "
          "features include the beat tracker. xRT = song seconds per second (CPU: thread or process CPU time, both "
          "processes for new; wall: clock time, inflated when the machine is busy). Targets: loop >= 100x, "
          "process >= 40x.")
    for path, (lc, lw, pc, pw) in got.items():
        if path in ("serial", "new"):
            print(f"acceptance, {path}: frame loop {lc:.1f}x by CPU, {lw:.1f}x by wall (target >= 100x: "
                  f"{'PASS' if max(lc, lw) >= 100 else 'FAIL'} by {'wall' if lw >= lc else 'CPU'}); whole process "
                  f"{pc:.1f}x by CPU, {pw:.1f}x by wall (target >= 40x: {'PASS' if pc >= 40 else 'FAIL'} by CPU)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
