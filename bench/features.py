"""Benchmark: streaming features + online beat tracking vs librosa's offline calls.

Prints (asserts nothing):
1. per-frame cost of ``StreamingFeatures.push`` fed one hop at a time (features + beat
   tracking), median and p99 in ms, at 30 and 60 fps, next to the per-frame cost of the
   same audio through librosa's offline calls (melspectrogram, onset_strength,
   chroma_stft, rms, beat_track);
2. beat F-measure (mir_eval, +-70 ms, after a 5 s warm-up) of our causal tracker vs
   librosa's offline ``beat.beat_track`` on synthesised songs with known beats.

Run: ``python bench/features.py [--seconds 30] [--quick]`` or ``dancemuse bench features``.
One thread (OMP_NUM_THREADS=1) is what the live server uses.

``--against REV`` prints only a side-by-side of ``model/features.py`` as of git revision REV
and as it is now: one hop per push at 24 kHz and 48 kHz input, the two streams pushed
alternately (same machine conditions), CPU (thread time) per push, median and p99, with
and without the beat tracker's ``step`` (timed inside the push and subtracted), and a
whole-song push per frame.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from model.config import defaults  # noqa: E402
from model.features import StreamingFeatures  # noqa: E402
from model.synth_music import render_song  # noqa: E402

SONGS = [
    ("house", 124), ("house", 100), ("hiphop", 90), ("hiphop", 80), ("waltz", 120),
    ("waltz", 150), ("breakbeat", 110), ("breakbeat", 140), ("breakbeat", 170),
]


def _old_factory() -> object:
    import importlib.util

    path = Path(__file__).resolve().parent / "_legacy.py"
    spec = importlib.util.spec_from_file_location("dancemuse_bench_legacy", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.OldFeatures


def time_ours(audio: np.ndarray, *, fps: int, sr: int = 24000, old: bool = False) -> tuple[float, float, float, float, int]:
    """Wall and CPU (this process only) ms per frame, median and p99, pushing one hop
    at a time: (wall median, wall p99, cpu median, cpu p99, frames). On a shared machine
    the wall p99 shows the scheduler; the CPU p99 shows our own work."""
    cfg = defaults()["features"]
    cfg["fps"] = fps
    sf = _old_factory()(cfg, input_sr=sr) if old else StreamingFeatures(cfg, input_sr=sr)  # type: ignore[operator]
    hop = sr // fps
    n = len(audio) // hop
    wall, cpu = np.empty(n), np.empty(n)
    for i in range(n):
        chunk = audio[i * hop: (i + 1) * hop]
        t0, c0 = time.perf_counter(), time.process_time()
        sf.push(chunk)
        wall[i], cpu[i] = time.perf_counter() - t0, time.process_time() - c0
    return (float(np.median(wall) * 1e3), float(np.percentile(wall, 99) * 1e3),
            float(np.median(cpu) * 1e3), float(np.percentile(cpu, 99) * 1e3), n)


def time_librosa(audio: np.ndarray, *, fps: int, sr: int = 24000) -> float:
    """Per-frame ms of librosa's offline features + beat tracking on the whole song."""
    import librosa

    hop = sr // fps
    t0 = time.perf_counter()
    mel = librosa.feature.melspectrogram(y=audio, sr=sr, n_fft=2048, hop_length=hop, n_mels=64,
                                         fmin=30.0, fmax=11000.0)
    s_db = librosa.power_to_db(mel, ref=1.0, top_db=None)
    onset = librosa.onset.onset_strength(S=s_db, sr=sr, hop_length=hop)
    librosa.feature.chroma_stft(y=audio, sr=sr, n_fft=2048, hop_length=hop, tuning=0.0)
    librosa.feature.rms(y=audio, frame_length=2048, hop_length=hop)
    librosa.beat.beat_track(onset_envelope=onset, sr=sr, hop_length=hop)
    return (time.perf_counter() - t0) * 1e3 / mel.shape[1]


def f_measures(feel: str, bpm: float, *, seconds: float, fps: int = 30) -> tuple[float, float, float, float]:
    """(ours F, librosa F, our tempo, librosa tempo) on one synthesised song."""
    import librosa
    import mir_eval

    song = render_song(feel=feel, bpm=bpm, seconds=seconds, seed=0)
    cfg = defaults()["features"]
    cfg["fps"] = fps
    cfg["beats_per_bar"] = song.beats_per_bar
    sf = StreamingFeatures(cfg, input_sr=song.sample_rate)
    sf.push(song.audio)
    info = sf.info
    ours = info.beat_time[info.is_beat]
    tempo_lr, frames = librosa.beat.beat_track(y=song.audio, sr=song.sample_rate, hop_length=512)
    theirs = librosa.frames_to_time(frames, sr=song.sample_rate, hop_length=512)
    ref = song.beats[song.beats >= 5.0]
    f_ours = mir_eval.beat.f_measure(ref, ours[ours >= 5.0])
    f_lr = mir_eval.beat.f_measure(ref, theirs[theirs >= 5.0])
    tempo_ours = float(np.median(info.tempo[info.time > 10.0]))
    return f_ours, f_lr, tempo_ours, float(np.atleast_1d(tempo_lr)[0])


def _features_at(rev: str) -> Any:
    """``model/features.py`` as of git revision ``rev``, loaded as its own module."""
    import subprocess
    import types

    src = subprocess.run(["git", "show", f"{rev}:model/features.py"], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    name = f"dancemuse_features_{rev}"
    mod = types.ModuleType(name)
    sys.modules[name] = mod
    exec(compile(src, f"{rev}:model/features.py", "exec"), mod.__dict__)  # noqa: S102 - our own file
    return mod


def side_by_side(rev: str, *, seconds: float) -> None:
    """Print the ``--against`` table (see the module docstring)."""
    import soxr

    import model.features as now

    then = _features_at(rev)
    song = render_song(feel="house", bpm=124, seconds=seconds, seed=0)
    print(f"model/features.py at {rev} vs now, {seconds:g} s of music, one hop per push, pushed alternately; "
          "CPU ms per push (thread time)")
    print(f"{'fps':>4} {'input':>6} {'path':>8} {'p50':>7} {'p99':>7} {'p50 w/o tracker':>16} "
          f"{'p99 w/o tracker':>16} {'whole song':>11}")
    for fps in (30, 60):
        cfg = defaults()["features"]
        cfg["fps"] = fps
        for sr in (24000, 48000):
            audio = song.audio if sr == song.sample_rate else soxr.resample(song.audio, song.sample_rate, sr)
            audio = np.asarray(audio, np.float32)
            hop = sr // fps
            rows = {}
            sfs = {rev: then.StreamingFeatures(cfg, input_sr=sr), "now": now.StreamingFeatures(cfg, input_sr=sr)}
            tracked = {k: [0.0] for k in sfs}
            for k, sf in sfs.items():
                inner = sf.tracker.step

                def step(*a: Any, _inner: Any = inner, _acc: list[float] = tracked[k], **kw: Any) -> Any:
                    t = time.thread_time()
                    r = _inner(*a, **kw)
                    _acc[0] += time.thread_time() - t
                    return r
                sf.tracker.step = step
            cpu: dict[str, list[float]] = {k: [] for k in sfs}
            bare: dict[str, list[float]] = {k: [] for k in sfs}
            for i in range(len(audio) // hop):
                chunk = audio[i * hop: (i + 1) * hop]
                for k, sf in sfs.items():
                    tracked[k][0] = 0.0
                    c0 = time.thread_time()
                    sf.push(chunk)
                    dt = time.thread_time() - c0
                    cpu[k].append(dt)
                    bare[k].append(dt - tracked[k][0])
            for k in sfs:
                mod = then if k == rev else now
                sf = mod.StreamingFeatures(cfg, input_sr=sr)
                c0 = time.thread_time()
                n = len(sf.push(audio))
                rows[k] = (time.thread_time() - c0) * 1e3 / max(n, 1)
                c, b = np.asarray(cpu[k]) * 1e3, np.asarray(bare[k]) * 1e3
                print(f"{fps:>4} {sr:>6} {k:>8} {np.median(c):>7.3f} {np.percentile(c, 99):>7.3f} "
                      f"{np.median(b):>16.3f} {np.percentile(b, 99):>16.3f} {rows[k]:>11.3f}", flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=30.0, help="song length (default 30)")
    ap.add_argument("--quick", action="store_true", help="three songs only")
    ap.add_argument("--against", metavar="REV", help="only: model/features.py at git revision REV vs now")
    args = ap.parse_args(argv)
    if args.against:
        side_by_side(args.against, seconds=args.seconds)
        return 0
    import librosa

    # warm librosa's numba-compiled paths so the timing below is steady-state
    warm = render_song(feel="house", bpm=120, seconds=4, seed=0).audio
    librosa.beat.beat_track(y=warm, sr=24000)

    audio = render_song(feel="house", bpm=124, seconds=args.seconds, seed=0).audio
    print(f"per-frame cost, {args.seconds:g} s of audio, one thread")
    print(f"{'fps':>4} {'path':>4} {'wall median':>12} {'wall p99':>9} {'cpu median':>11} {'cpu p99':>8} "
          f"{'whole song':>11} {'librosa offline':>16} {'frames':>7}   (ms per frame)")
    for fps in (30, 60):
        lr = time_librosa(audio, fps=fps)
        for old in (True, False):
            med, p99, cmed, cp99, n = time_ours(audio, fps=fps, old=old)
            cfg = defaults()["features"]
            cfg["fps"] = fps
            sf = _old_factory()(cfg, input_sr=24000) if old else StreamingFeatures(cfg, input_sr=24000)  # type: ignore[operator]
            t0 = time.perf_counter()
            sf.push(audio)
            whole = (time.perf_counter() - t0) * 1e3 / max(n, 1)
            print(f"{fps:>4} {'old' if old else 'new':>4} {med:>12.3f} {p99:>9.3f} {cmed:>11.3f} {cp99:>8.3f} "
                  f"{whole:>11.3f} {lr:>16.3f} {n:>7}")
    print("old = per-frame spectral code with librosa's filters; new = numpy filters, batched spectral part; "
          "both include the beat tracker. 'whole song' = one push of the whole song (the offline path).")
    print()
    print("beat F-measure after 5 s (mir_eval, +-70 ms); ours is causal, librosa sees the whole song")
    print(f"{'feel':>10} {'BPM':>5} {'ours F':>7} {'librosa F':>10} {'ours BPM':>9} {'librosa BPM':>12}")
    songs = SONGS[::3] if args.quick else SONGS
    fo, fl = [], []
    for feel, bpm in songs:
        a, b, ta, tb = f_measures(feel, bpm, seconds=args.seconds)
        fo.append(a)
        fl.append(b)
        print(f"{feel:>10} {bpm:>5} {a:>7.3f} {b:>10.3f} {ta:>9.1f} {tb:>12.1f}")
    print(f"{'mean':>10} {'':>5} {np.mean(fo):>7.3f} {np.mean(fl):>10.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
