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
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=30.0, help="song length (default 30)")
    ap.add_argument("--quick", action="store_true", help="three songs only")
    args = ap.parse_args(argv)
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
