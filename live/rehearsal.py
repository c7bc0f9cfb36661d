"""Rehearsal takes of a phrase (`dancemuse rehearse`): loop it, slow it down, count it big.

A phrase is a short dance ``[shape=(t, 17, 3)]`` with the frame of each count
(``beat_frames``, count 1 first). :func:`stretch` plays it at ``speed`` (1, 0.5, 0.25:
half and quarter tempo) ``loops`` times; :func:`write_rehearsal_mp4` draws it with the
count shown large and the music under it time-stretched without changing its pitch
(ffmpeg's ``atempo``), or a click track on the counts (accent on 1) when there is no music.

Sources: a phrase saved by the visualizer's rehearsal panel (dance JSON with ``beats``),
any dance file :func:`live.dance_io.read_dance` reads, or a song / ``demo`` whose K-th
8-count phrase is cut by :mod:`live.phrases`.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from model.errors import AudioError, ConfigError

SPEEDS = (1.0, 0.5, 0.25)
CLICK_SR = 24000


@dataclass
class Phrase:
    """poses [t, 17, 3]; fps; beat_frames: frame of each count (count 1 first); audio:
    the phrase's music (mono float32) or None; sample_rate."""

    poses: np.ndarray
    fps: float
    beat_frames: np.ndarray
    audio: np.ndarray | None = None
    sample_rate: int = CLICK_SR


def from_dance_file(path: str | Path) -> Phrase:
    """A phrase from a dance file; its beats are the counts (an even grid of 8 if it has none)."""
    from live.dance_io import read_dance

    d = read_dance(path)
    poses, fps = np.asarray(d["poses"], np.float32), float(d["fps"])
    beats = np.round(np.asarray(d.get("beats", []), np.float64) * fps).astype(np.int64)
    beats = beats[(beats >= 0) & (beats < len(poses))]
    if len(beats) == 0:
        beats = np.round(np.arange(8) * len(poses) / 8.0).astype(np.int64)
    return Phrase(poses=poses, fps=fps, beat_frames=beats)


def from_song(song: str, *, cfg: dict[str, Any], index: int, generator: Any = None,
              progress: Any = None) -> Phrase:
    """The ``index``-th (1-based) complete 8-count phrase of the dance generated for ``song``."""
    from live.generate import generate_dance
    from live.phrases import demo_seconds_for, find_phrases

    dance = generate_dance(song, cfg=cfg, generator=generator, progress=progress,
                           demo_seconds=demo_seconds_for(index + 1))
    found = find_phrases(dance.beats, dance.beat_counts, fps=dance.fps, n_frames=len(dance.poses))
    if not found:  # the same line as `dancemuse phrases`
        raise AudioError(f"{dance.source}: no complete 8-count phrase found ({len(dance.beats)} beats); "
                         "use a longer song with a steady beat")
    if not 1 <= index <= len(found):
        raise ConfigError(f"--phrase {index}: {dance.source} holds {len(found)} complete 8-count phrases; pick 1..{len(found)}")
    ph = found[index - 1]
    sr = dance.sample_rate
    audio = dance.audio[int(ph.start * sr / dance.fps):int(ph.stop * sr / dance.fps)]
    return Phrase(poses=dance.poses[ph.start:ph.stop].copy(), fps=float(dance.fps),
                  beat_frames=np.asarray(ph.beat_frames, np.int64), audio=np.asarray(audio, np.float32),
                  sample_rate=sr)


def stretch(ph: Phrase, *, speed: float = 1.0, loops: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The phrase ``loops`` times at ``speed``: (poses [t', 17, 3], beat frames [n*loops],
    counts [n*loops] 1..n). Frames are linearly interpolated between the phrase's frames."""
    if speed not in SPEEDS:
        raise ConfigError(f"--speed {speed:g}: use 1, 0.5 or 0.25")
    if loops < 1:
        raise ConfigError(f"--loops {loops}: give 1 or more")
    n = len(ph.poses)
    m = int(round(n / speed))
    src = np.arange(m, dtype=np.float64) * speed
    i0 = np.minimum(np.floor(src).astype(np.int64), n - 1)
    i1 = np.minimum(i0 + 1, n - 1)
    t = (src - i0)[:, None, None].astype(np.float32)
    one = ph.poses[i0] + (ph.poses[i1] - ph.poses[i0]) * t
    poses = np.concatenate([one] * loops).astype(np.float32)
    bf = np.round(np.asarray(ph.beat_frames, np.float64) / speed).astype(np.int64)
    beats = np.concatenate([bf + k * m for k in range(loops)])
    counts = np.tile(np.arange(1, len(bf) + 1), loops).astype(np.int16)
    return poses, beats, counts


def click_track(beats: np.ndarray, counts: np.ndarray, *, fps: float, frames: int, sr: int = CLICK_SR) -> np.ndarray:
    """A click on every count (higher and louder on count 1), mono float32 at ``sr``."""
    out = np.zeros(int(round(frames / fps * sr)) + 1, np.float32)
    t = np.arange(int(0.05 * sr)) / sr
    env = np.exp(-t * 60.0).astype(np.float32)
    for b, c in zip(beats, counts, strict=False):
        f = 1760.0 if c == 1 else 1320.0
        click = (0.6 if c == 1 else 0.35) * env * np.sin(2 * np.pi * f * t).astype(np.float32)
        s = int(round(b / fps * sr))
        e = min(len(out), s + len(click))
        if s < e:
            out[s:e] += click[: e - s]
    return out


def atempo_filter(speed: float) -> str:
    """ffmpeg audio filter that plays at ``speed`` (0.5..1 per stage) keeping the pitch."""
    stages, s = [], speed
    while s < 0.5 - 1e-9:
        stages.append("atempo=0.5")
        s /= 0.5
    stages.append(f"atempo={s:g}")
    return ",".join(stages)


def write_rehearsal_mp4(path: str | Path, ph: Phrase, *, speed: float, loops: int,
                        width: int = 640, height: int = 480) -> Path:
    """The looped, stretched phrase as H.264 + AAC: the dancer, the count large in the
    corner for the whole count, the music time-stretched (pitch kept) or clicks."""
    import soundfile as sf

    from live.dance_io import encode_mp4
    from live.dance_render import BEAT_COLOR, DancerRenderer

    poses, beats, counts = stretch(ph, speed=speed, loops=loops)
    path = Path(path)
    if path.suffix.lower() != ".mp4":
        raise ConfigError(f"--video {path} must end in .mp4")
    fps = ph.fps
    per_frame = np.zeros(len(poses), np.int16)  # the count each frame belongs to
    for b, c in zip(beats, counts, strict=False):
        per_frame[b:] = c
    with tempfile.TemporaryDirectory(prefix="dancemuse-rehearse-") as td:
        wav = Path(td) / "audio.wav"
        if ph.audio is not None:
            sf.write(str(wav), np.tile(ph.audio, loops), ph.sample_rate, subtype="PCM_16")
            af = atempo_filter(speed) if speed != 1.0 else None
        else:
            sf.write(str(wav), click_track(beats, counts, fps=fps, frames=len(poses)), CLICK_SR, subtype="PCM_16")
            af = None
        r = DancerRenderer(width=width, height=height, fps=int(round(fps)))
        px = max(4, height // 14)
        beat_set = set(int(b) for b in beats)

        def frames() -> Iterator[bytes]:
            for i in range(len(poses)):
                r.render(poses[i], beat_count=0)
                c = int(per_frame[i])
                if c:
                    r.text(str(c), 16, 16, px=px, color=BEAT_COLOR, alpha=1.0 if i in beat_set else 0.85)
                yield r.img.astype(np.uint8).tobytes()

        encode_mp4(path, frames(), width=width, height=height, fps=fps, audio=wav, audio_filter=af, workdir=Path(td))
    return path
