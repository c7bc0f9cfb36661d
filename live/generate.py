"""Offline generation: a song file in, a dance out, batched, the same dance as live.

``generate_dance(song, cfg=cfg)`` reads the song (any file soundfile reads, others through
ffmpeg, or ``"demo"`` for the built-in demo music) and runs the live
:class:`live.engine.Engine`'s batched path (:meth:`~live.engine.Engine.render`): features
for the whole song in batches (the beat net over each batch in one call, the tracker's
inference frame by frame, causal), the model batched (``<model>_offline.npz`` in numpy:
the encoder over each batch at once, a lean decoder loop; else a block-N export, else
the step model), post-processing in one pass, numpy's BLAS on one thread; on two cores
the features run in a forked child process while this one runs the model. It is causal
all through, so the result is the live show's dance (a test holds them within 1e-4 m);
``streaming=True`` replays the live per-block path itself.

Frame ``i`` is stamped ``i / fps`` (the start of the hop it was made from); a beat frame
puts its time into ``beats`` and the dancers' count 1..8 (two bars) into ``beat_counts``.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from model.errors import AudioError

Progress = Callable[[float], None]
BLOCK = 4096
"""Samples per block fed to the engine (any size works; the engine is block-size agnostic)."""
DEMO_SECONDS = 30.0


@dataclass
class Dance:
    """A generated dance.

    poses: [shape=(t, 17, 3)] float32 absolute, metres, y up; fps; beats: [shape=(n,)]
    beat times (s); beat_counts: [shape=(n,)] 1..8; tempo: [shape=(t,)] BPM per frame;
    audio: the song as float32 mono at ``sample_rate``; source: the song's path or "demo";
    meta: model and settings; elapsed: seconds of compute.
    """

    poses: np.ndarray
    fps: int
    beats: np.ndarray
    beat_counts: np.ndarray
    tempo: np.ndarray
    audio: np.ndarray = field(repr=False)
    sample_rate: int
    source: str
    meta: dict[str, Any] = field(default_factory=dict)
    elapsed: float = 0.0

    @property
    def seconds(self) -> float:
        return len(self.audio) / float(self.sample_rate)

    @property
    def speed(self) -> float:
        """Song seconds generated per second of compute (x real time)."""
        return self.seconds / self.elapsed if self.elapsed > 0 else float("inf")


def load_song(song: str | Path, *, demo_seconds: float = DEMO_SECONDS, seed: int = 0) -> tuple[np.ndarray, int, str]:
    """(mono float32 samples, sample rate, source name) of a file or ``"demo"``."""
    if str(song) == "demo":
        from model.synth_music import demo_song

        s = demo_song(seconds=demo_seconds, seed=seed)
        return np.asarray(s.audio, np.float32), int(s.sample_rate), "demo"
    from model.audio_check import check_decoded, quiet_stderr
    from model.features import load_audio

    with quiet_stderr():  # C decoders print their complaints on fd 2; ours is one line
        audio, sr = load_audio(song)
    check_decoded(audio, sr, song)  # refused by content: duration, sample rate, finite samples
    return np.asarray(audio, np.float32), int(sr), str(song)


def apply_options(cfg: Mapping[str, Any], *, style: str | None = None, seed: int | None = None,
                  energy: float | None = None, variation: float | None = None,
                  style_strength: float | None = None, feel: float | None = None) -> dict[str, Any]:
    """A copy of ``cfg`` with the command-line options applied (validated by the schema)."""
    from model.config import coerce

    out = copy.deepcopy(dict(cfg))
    if style is not None:
        out["model"]["style"] = coerce("model", "style", style)
    if seed is not None:
        out["model"]["seed"] = coerce("model", "seed", int(seed))
    if energy is not None:
        out["live"]["energy"] = coerce("live", "energy", float(energy))
    if variation is not None:
        out["live"]["variation"] = coerce("live", "variation", float(variation))
    if style_strength is not None:
        out["live"]["style_strength"] = coerce("live", "style_strength", float(style_strength))
    if feel is not None:
        out["live"]["feel"] = coerce("live", "feel", float(feel))
    return out


def generate_dance(
    song: str | Path,
    *,
    cfg: Mapping[str, Any],
    generator: Any = None,
    audio: tuple[np.ndarray, int] | None = None,
    progress: Progress | None = None,
    block: int = BLOCK,
    demo_seconds: float = DEMO_SECONDS,
    streaming: bool = False,
    parallel: bool | None = None,
) -> Dance:
    """Generate a dance for ``song`` (a path or "demo") with the configuration ``cfg``.

    generator: a ``live.runtime.Generator`` (default: loaded from ``cfg["model"]``).
    audio: (samples, sample_rate) already decoded (then ``song`` only names it).
    progress: called with the fraction done (0..1) now and then.
    streaming: replay the live per-block path (``block`` samples at a time) instead of the
    batched one (:meth:`live.engine.Engine.render`); both give the same dance.
    parallel: the batched path's features (and beat tracker) in a forked child process
    while this one runs the model (:meth:`~live.engine.Engine.render`): the same dance,
    less wall clock on two cores; default on (render does it only where
    :func:`live.engine.can_fork`: a second CPU, no other thread, e.g. not inside the server).
    """
    from live.engine import Engine

    if audio is None:
        samples, sr, source = load_song(song, demo_seconds=demo_seconds, seed=int(cfg["model"].get("seed", 0)))
    else:
        samples, sr, source = np.asarray(audio[0], np.float32), int(audio[1]), str(song)
    if generator is None:
        from live.runtime import load_generator

        generator = load_generator(cfg, offline=not streaming)  # a block-N export if there is one
    engine = Engine(cfg, generator)
    engine.prepare(sr=sr, warmup=False)  # builds the filters and the resampler
    t0 = time.perf_counter()
    fps = engine.fps
    bpb = int(cfg["features"].get("beats_per_bar", 4))
    total = len(samples)
    with one_blas_thread():
        if streaming:
            poses, tempo, beat_idx, counts = _streaming(engine, samples, sr, block, bpb, progress)
        else:
            poses, info = engine.render(samples, sr=sr, progress=progress, parallel=parallel is not False)
            tempo = np.asarray(info["tempo"], np.float32)
            beat_idx = np.flatnonzero(info["is_beat"]).tolist()
            counts = [_count(int(info["bar"][i]), int(info["beat_in_bar"][i]), bpb) for i in beat_idx]
    n = len(poses)
    if n == 0:
        raise AudioError(f"{source}: the song is too short to make a single frame ({total / sr:.3f} s)")
    elapsed = time.perf_counter() - t0
    if progress is not None:
        progress(1.0)
    meta = {
        "source": source,
        "model": str(getattr(generator, "path", "")),
        "provider": getattr(generator, "provider", ""),
        "styles": list(getattr(generator, "style_names", [])),
        "style": str(cfg["model"].get("style", "")),
        "seed": int(cfg["model"].get("seed", 0)),
        "energy": float(cfg["live"]["energy"]),
        "variation": float(cfg["live"]["variation"]),
        "fps": fps,
    }
    return Dance(
        poses=poses,
        fps=fps,
        beats=np.asarray(beat_idx, np.float64).astype(np.float32) / fps,
        beat_counts=np.asarray(counts, np.int16),
        tempo=tempo,
        audio=samples,
        sample_rate=sr,
        source=source,
        meta=meta,
        elapsed=elapsed,
    )


def one_blas_thread() -> Any:
    """A context in which numpy's BLAS runs on the calling thread only: the products here
    are small (a gemv per frame, batches of a few hundred rows) and a second BLAS thread
    costs more than it gives (5x the CPU per frame measured with a busy second core).
    A no-op when threadpoolctl is not installed."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - installed with librosa's scikit-learn
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _count(bar: int, beat_in_bar: int, bpb: int) -> int:
    """The dancers' count 1..8 (two bars of four) of a beat; 1..bpb for longer bars."""
    bib = max(1, min(bpb, beat_in_bar or 1))
    return (bar % 2) * bpb + bib if bpb <= 4 else bib


def _streaming(
    engine: Any, samples: np.ndarray, sr: int, block: int, bpb: int, progress: Progress | None
) -> tuple[np.ndarray, np.ndarray, list[int], list[int]]:
    """The live path: ``block`` samples at a time through ``Engine.process``."""
    fps = engine.fps
    cap = int(len(samples) * fps / sr) + 2
    poses = np.zeros((cap, 17, 3), np.float32)
    tempo = np.zeros(cap, np.float32)
    beat_idx: list[int] = []
    counts: list[int] = []
    n = 0
    total = len(samples)
    next_report = 0.0
    for start in range(0, total, block):
        for fr in engine.process(samples[start : start + block], sr=sr):
            if n >= cap:
                break
            poses[n] = fr.joints
            tempo[n] = fr.tempo
            if fr.beat:
                beat_idx.append(n)
                counts.append(_count(fr.bar, fr.beat_in_bar, bpb))
            n += 1
        if progress is not None and (start + block) / total >= next_report:
            progress(min(1.0, (start + block) / total))
            next_report += 0.01
    return poses[:n].copy(), tempo[:n].copy(), beat_idx, counts
