"""`dancemuse features SONG [--plot out.png] [--out feats.npy]`: the model's music features
for a song (the streaming extractor over the file), with an optional picture."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

PLOT_FORMATS = (".png", ".svg", ".pdf", ".jpg", ".jpeg")


def register(sub: Any) -> None:
    from live.cli import finite_float

    p = sub.add_parser(
        "features",
        help="compute the music features of a song (SONG may be 'demo'); --plot draws them",
    )
    p.add_argument("song", metavar="SONG", help="audio file, or 'demo' for the built-in song")
    p.add_argument("--plot", metavar="PNG", help="write a picture: waveform with beats, mel, onset, tempo")
    p.add_argument("--out", metavar="NPY", help="save the features [frames, dim] as .npy")
    p.add_argument("--seconds", type=finite_float, default=30.0, help="length of the demo song (default 30)")
    p.set_defaults(func=run)


def load_song(song: str, cfg: dict[str, Any], *, seconds: float) -> tuple[Any, int, Any]:
    """(samples, sample_rate, ground-truth beats or None) for a path or 'demo'."""
    if song == "demo":
        from model.synth_music import demo_song

        s = demo_song(seconds=seconds, seed=int(cfg["model"]["seed"]))
        return s.audio, s.sample_rate, s.beats
    from model.audio_check import check_decoded, quiet_stderr
    from model.features import load_audio

    with quiet_stderr():
        y, sr = load_audio(song)
    return check_decoded(y, sr, song), sr, None


def run(args: argparse.Namespace, cfg: dict[str, Any]) -> int:
    import time

    import numpy as np

    from live.cli import check_output_path
    from model.errors import ConfigError
    from model.features import StreamingFeatures

    if args.plot:
        if Path(args.plot).suffix.lower() not in PLOT_FORMATS:
            raise ConfigError(f"--plot {args.plot}: pass a picture file name ending in "
                              f"{', '.join(PLOT_FORMATS)} (e.g. features.png)")
        check_output_path(args.plot, what="--plot")
        import matplotlib  # noqa: F401  # a missing extra is named now, not after the features
    if args.out:
        check_output_path(args.out, what="--out")
    y, sr, _ = load_song(args.song, cfg, seconds=args.seconds)
    sf = StreamingFeatures(cfg["features"], input_sr=sr)
    t0 = time.perf_counter()
    step = sr * 10
    feats, infos = [], []
    for i in range(0, len(y), step):
        feats.append(sf.push(y[i: i + step]))
        infos.append(sf.info)
        print(f"\rfeatures: {min(i + step, len(y)) / sr:6.1f} / {len(y) / sr:.1f} s", end="", file=sys.stderr)
    print(file=sys.stderr)
    from model.features import FrameInfo

    f = np.concatenate(feats) if feats else np.zeros((0, sf.dim), np.float32)
    info = FrameInfo.concat(infos) if infos else sf.info
    dt = time.perf_counter() - t0
    spec = sf.spec
    nb = int(info.is_beat.sum())
    tempo = float(np.median(info.tempo[info.tempo > 0])) if np.any(info.tempo > 0) else 0.0
    print(f"{len(f)} frames x {spec.dim} features at {spec.fps} fps "
          f"({', '.join(f'{n} {d}' for n, d in zip(spec.names, spec.dims))})")
    print(f"tempo {tempo:.1f} BPM, {nb} beats, {1000 * dt / max(len(f), 1):.3f} ms/frame")
    if sf.nan_count:
        print(f"replaced {sf.nan_count} non-finite samples")
    if args.out:
        import os

        tmp = f"{args.out}.tmp{os.getpid()}.npy"  # atomic: an old file survives a failure
        np.save(tmp, f)
        os.replace(tmp, args.out)
        print(f"features -> {args.out}")
    if args.plot:
        plot_features(args.plot, y=y, sr=sr, feats=f, info=info, spec=spec, title=str(args.song))
        print(f"plot -> {args.plot}")
    return 0


def plot_features(path: str, *, y: Any, sr: int, feats: Any, info: Any, spec: Any, title: str) -> None:
    """Waveform with detected beats, log-mel, onset envelope and tempo, one above the other."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from model.errors import ConfigError

    t = info.time
    beats = info.beat_time[info.is_beat]
    downs = info.beat_time[info.is_beat & (info.beat_in_bar == 1)]
    fig, ax = plt.subplots(4, 1, figsize=(14, 9), sharex=True,
                           gridspec_kw={"height_ratios": [1.2, 2, 1, 1]})
    step = max(1, len(y) // 200_000)
    ax[0].plot(np.arange(0, len(y), step) / sr, y[::step], lw=0.3, color="0.4")
    ax[0].vlines(beats, -1, 1, color="tab:red", lw=0.8, label="beats")
    ax[0].vlines(downs, -1, 1, color="tab:blue", lw=1.6, label="downbeats")
    ax[0].set_ylim(-1, 1)
    ax[0].set_ylabel("waveform")
    ax[0].legend(loc="upper right", fontsize=8)
    ax[0].set_title(title)
    mel = feats[:, spec.slice("mel")].T
    end = float(t[-1]) if len(t) else 1.0
    ax[1].imshow(mel, origin="lower", aspect="auto", extent=(0.0, end, 0, mel.shape[0]), cmap="magma")
    ax[1].set_ylabel("log-mel band")
    ax[2].plot(t, info.onset, lw=0.7, color="tab:green")
    ax[2].vlines(beats, 0, float(np.max(info.onset)) if len(t) else 1, color="tab:red", lw=0.5, alpha=0.5)
    ax[2].set_ylabel("onset")
    ax[3].plot(t, info.tempo, color="tab:purple", label="tempo")
    ax3b = ax[3].twinx()
    ax3b.plot(t, info.confidence, color="0.6", lw=0.8)
    ax3b.set_ylim(0, 1.05)
    ax3b.set_ylabel("confidence")
    ax[3].set_ylabel("BPM")
    ax[3].set_xlabel("time (s)")
    fig.tight_layout()
    try:
        fig.savefig(path, dpi=100)
    except OSError as e:
        raise ConfigError(f"cannot write plot {path}: {e.strerror}; pass a writable --plot path") from None
    finally:
        plt.close(fig)
