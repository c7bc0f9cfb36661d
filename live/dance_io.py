"""Dance files: write and read .npz / .json / .csv / .bvh, and render .mp4 with the song.

All writers take absolute COCO-17 poses ``[shape=(t, 17, 3)]`` float32 (metres, y up) and
``fps``; frame ``i`` is stamped ``t = i / fps`` (the start of the audio hop it was made
from, which is also when a video shows it). ``beats`` are beat times in seconds on the
same clock. Files are written to a temporary name and renamed, so a failed write leaves
nothing half-written.

Formats:

- ``.npz``: ``poses`` [t, 17, 3] float32, ``fps``, ``joint_names``, ``beats`` [n] (s),
  ``beat_counts`` [n] (1..8 within two bars, 0 if unknown), ``meta`` (a JSON string).
- ``.json``: ``{"fps", "joint_names", "beats", "meta", "frames": [{"i", "t", "beat",
  "joints": {"nose": [x, y, z], ...}}]}``.
- ``.csv``: header ``frame,t,beat,nose_x,nose_y,nose_z,...``; one row per frame.
- ``.bvh``: :func:`model.rig_bvh.write_rig_bvh` (the rig's rest pose + its rotations).
- ``.mp4``: :func:`write_mp4`: the dancer drawn by :mod:`live.dance_render`, beat counts
  1-8, H.264 + AAC with the song muxed in by ffmpeg (imageio-ffmpeg's binary, or the
  system's).
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from model.errors import AudioError, ConfigError, DanceMuseError
from model.skeleton import JOINT_NAMES, NUM_JOINTS

DANCE_FORMATS = (".npz", ".json", ".csv", ".bvh")
Progress = Callable[[float], None]


def _check(poses: np.ndarray, fps: float) -> np.ndarray:
    p = np.asarray(poses, dtype=np.float32)
    if p.ndim != 3 or p.shape[1:] != (NUM_JOINTS, 3) or p.shape[0] < 1:
        raise ValueError(f"poses must have shape (t, 17, 3), got {p.shape}")
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    return p


@contextlib.contextmanager
def _atomic(path: Path) -> Iterator[Path]:
    """A temporary name beside ``path`` to write to: renamed to ``path`` when the block
    ends well, removed when it fails."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _beat_frames(beats: np.ndarray | None, n: int, fps: float) -> np.ndarray:
    flags = np.zeros(n, dtype=bool)
    if beats is not None and len(beats):
        idx = np.round(np.asarray(beats, np.float64) * fps).astype(int)
        flags[idx[(idx >= 0) & (idx < n)]] = True
    return flags


def write_npz(path: str | Path, poses: np.ndarray, *, fps: float, beats: np.ndarray | None = None,
              beat_counts: np.ndarray | None = None, meta: Mapping[str, Any] | None = None) -> Path:
    """Write ``poses`` [shape=(t, 17, 3)] and beats (s) as .npz; see the module docstring."""
    p = _check(poses, fps)
    path = Path(path)
    b = np.asarray(beats if beats is not None else [], np.float32)
    c = np.asarray(beat_counts if beat_counts is not None else np.zeros(len(b)), np.int16)
    with _atomic(path) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, poses=p, fps=np.int32(round(fps)), joint_names=np.array(JOINT_NAMES),
                            beats=b, beat_counts=c, meta=np.array(json.dumps(dict(meta or {}))))
    return path


def write_json(path: str | Path, poses: np.ndarray, *, fps: float, beats: np.ndarray | None = None,
               meta: Mapping[str, Any] | None = None, **_: Any) -> Path:
    """Write frames with named joints as JSON; see the module docstring."""
    p = np.round(_check(poses, fps).astype(np.float64), 5)
    path = Path(path)
    flags = _beat_frames(beats, len(p), fps)
    frames = [
        {"i": i, "t": round(i / fps, 5), "beat": bool(flags[i]),
         "joints": {name: p[i, j].tolist() for j, name in enumerate(JOINT_NAMES)}}
        for i in range(len(p))
    ]
    doc = {"fps": fps, "joint_names": list(JOINT_NAMES), "units": "metres, y up",
           "beats": [round(float(x), 5) for x in (beats if beats is not None else [])],
           "meta": dict(meta or {}), "frames": frames}
    with _atomic(path) as tmp:
        tmp.write_text(json.dumps(doc, separators=(",", ":")), encoding="utf-8")
    return path


def write_csv(path: str | Path, poses: np.ndarray, *, fps: float, beats: np.ndarray | None = None, **_: Any) -> Path:
    """One row per frame: frame, t, beat (0/1), then x, y, z of every joint."""
    p = _check(poses, fps)
    path = Path(path)
    flags = _beat_frames(beats, len(p), fps)
    header = ["frame", "t", "beat"] + [f"{n}_{a}" for n in JOINT_NAMES for a in "xyz"]
    with _atomic(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        flat = p.reshape(len(p), -1)
        for i in range(len(p)):
            w.writerow([i, f"{i / fps:.5f}", int(flags[i]), *(f"{v:.5f}" for v in flat[i])])
    return path


def write_bvh(path: str | Path, poses: np.ndarray, *, fps: float, **_: Any) -> Path:
    """BVH of the rig in model/rotations.py: the same per-bone rotations that OSC ``rot``
    and WebSocket rotations carry (joints come back exactly through read_bvh)."""
    from model.rig_bvh import write_rig_bvh

    return write_rig_bvh(path, _check(poses, fps), fps=fps)


_WRITERS: dict[str, Callable[..., Path]] = {
    ".npz": write_npz, ".json": write_json, ".csv": write_csv, ".bvh": write_bvh,
}


def write_dance(path: str | Path, poses: np.ndarray, *, fps: float, beats: np.ndarray | None = None,
                beat_counts: np.ndarray | None = None, meta: Mapping[str, Any] | None = None) -> Path:
    """Write a dance in the format its extension names (.npz, .json, .csv, .bvh)."""
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in _WRITERS:
        raise ConfigError(f"cannot write {path}: use a .npz, .json, .csv or .bvh file name (and --video for .mp4)")
    if not path.parent.exists():
        raise ConfigError(f"cannot write {path}: folder {path.parent} does not exist")
    # atomic: written beside the destination, then renamed (an old file survives a failure)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}{ext}")
    try:
        _WRITERS[ext](tmp, poses, fps=fps, beats=beats, beat_counts=beat_counts, meta=meta)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return path


def read_dance(path: str | Path) -> dict[str, Any]:
    """Read a dance written by this module: {"poses" [t, 17, 3], "fps", "beats" (s)}.
    BVH files go through the BVH importer (COCO-17 positions in metres)."""
    path = Path(path)
    ext = path.suffix.lower()
    if ext == ".npz":
        with np.load(path) as z:
            return {"poses": z["poses"], "fps": float(z["fps"]), "beats": z["beats"],
                    "joint_names": [str(s) for s in z["joint_names"]], "meta": json.loads(str(z["meta"]))}
    if ext == ".json":
        doc = json.loads(path.read_text(encoding="utf-8"))
        poses = np.array([[f["joints"][n] for n in doc["joint_names"]] for f in doc["frames"]], np.float32)
        return {"poses": poses, "fps": float(doc["fps"]), "beats": np.array(doc["beats"], np.float32),
                "joint_names": doc["joint_names"], "meta": doc.get("meta", {})}
    if ext == ".csv":
        data = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float64, ndmin=2)
        fps = 1.0 / float(data[1, 1] - data[0, 1]) if len(data) > 1 else 0.0
        beats = data[data[:, 2] > 0, 1]
        return {"poses": data[:, 3:].reshape(len(data), NUM_JOINTS, 3).astype(np.float32), "fps": fps,
                "beats": beats.astype(np.float32), "joint_names": list(JOINT_NAMES), "meta": {}}
    if ext == ".bvh":
        from model.bvh import read_bvh
        from model.importers.bvh_map import bvh_to_coco

        bvh = read_bvh(path)
        return {"poses": np.asarray(bvh_to_coco(bvh), np.float32), "fps": bvh.fps, "beats": np.zeros(0, np.float32),
                "joint_names": list(JOINT_NAMES), "meta": {}}
    raise ConfigError(f"cannot read {path}: use a .npz, .json, .csv or .bvh file")


# ----------------------------------------------------------------------------- video


def ffmpeg_exe() -> str:
    """imageio-ffmpeg's ffmpeg binary, else ``ffmpeg`` on PATH; DanceMuseError if neither."""
    try:
        import imageio_ffmpeg

        return str(imageio_ffmpeg.get_ffmpeg_exe())
    except Exception:  # noqa: BLE001 - not installed, or no binary for this platform
        exe = shutil.which("ffmpeg")
        if exe:
            return exe
    raise DanceMuseError('MP4 export needs ffmpeg: pip install "dancemuse[video]" (brings imageio-ffmpeg) or install ffmpeg')


def counts_from_beats(n_beats: int, *, beat_in_bar: np.ndarray | None = None, bar: np.ndarray | None = None,
                      beats_per_bar: int = 4) -> np.ndarray:
    """Dancers' counts 1..8 per beat: two bars of 4/4 (or 1..2*beats_per_bar); cyclic if
    the tracker's bar positions are unknown."""
    if beat_in_bar is None or bar is None:
        return (np.arange(n_beats) % 8 + 1).astype(np.int16)
    bib = np.asarray(beat_in_bar, np.int64)
    return ((np.asarray(bar, np.int64) % 2) * beats_per_bar + np.clip(bib, 1, beats_per_bar)).astype(np.int16)


def write_mp4(
    path: str | Path,
    poses: np.ndarray,
    *,
    fps: float,
    audio: str | Path | np.ndarray | None = None,
    sample_rate: int | None = None,
    beats: np.ndarray | None = None,
    beat_counts: np.ndarray | None = None,
    width: int = 640,
    height: int = 480,
    progress: Progress | None = None,
) -> Path:
    """Render the dance to an H.264 MP4 with the song as AAC audio.

    audio: an audio file path, or samples [shape=(n,)] with ``sample_rate``; None = silent.
    beats: beat times (s); beat_counts: the count 1..8 shown on each beat (default cyclic).
    progress: called with 0..1 as frames are rendered.
    """
    from live.dance_render import DancerRenderer

    p = _check(poses, fps)
    path = Path(path)
    if path.suffix.lower() != ".mp4":
        raise ConfigError(f"video {path} must end in .mp4")
    if not path.parent.exists():
        raise ConfigError(f"cannot write {path}: folder {path.parent} does not exist")
    b = np.asarray(beats if beats is not None else [], np.float64)
    counts = counts_from_beats(len(b))
    if beat_counts is not None and len(beat_counts) == len(b):
        counts = np.asarray(beat_counts, np.int16)
    frame_count = np.zeros(len(p), np.int16)
    idx = np.round(b * fps).astype(int)
    ok = (idx >= 0) & (idx < len(p))
    frame_count[idx[ok]] = counts[ok]
    with tempfile.TemporaryDirectory(prefix="dancemuse-mp4-") as td:
        audio_path: Path | None = None
        if isinstance(audio, np.ndarray):
            if not sample_rate:
                raise ValueError("audio samples need sample_rate")
            import soundfile as sf

            audio_path = Path(td) / "song.wav"
            sf.write(str(audio_path), np.asarray(audio, np.float32), int(sample_rate), subtype="PCM_16")
        elif audio is not None:
            audio_path = Path(audio)
            if not audio_path.is_file():
                raise AudioError(f"audio file {audio_path} for the video not found")
        renderer = DancerRenderer(width=width, height=height, fps=int(round(fps)))
        step = max(1, len(p) // 100)

        def frames() -> Iterator[bytes]:
            for i in range(len(p)):
                yield renderer.render(p[i], beat_count=int(frame_count[i])).tobytes()
                if progress is not None and (i % step == 0 or i == len(p) - 1):
                    progress((i + 1) / len(p))

        encode_mp4(path, frames(), width=width, height=height, fps=fps, audio=audio_path, workdir=Path(td))
    return path


def encode_mp4(path: Path, frames: Iterable[bytes], *, width: int, height: int, fps: float,
               audio: Path | None, audio_filter: str | None = None, workdir: Path) -> None:
    """Pipe ``frames`` (rgb24 images [shape=(height, width, 3)] as bytes) through ffmpeg to an
    H.264 MP4 in ``workdir``, with ``audio`` (a file, through the ffmpeg ``audio_filter``) as
    AAC cut to the shorter of the two, then move it to ``path``. DanceMuseError naming
    ``path`` with ffmpeg's last line when ffmpeg fails."""
    tmp = workdir / "out.mp4"
    cmd = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
           "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-r", f"{fps:g}", "-i", "-"]
    if audio is not None:
        af = ["-af", audio_filter] if audio_filter else []
        cmd += ["-i", str(audio), "-map", "0:v:0", "-map", "1:a:0", *af,
                "-c:a", "aac", "-b:a", "128k", "-shortest"]
    cmd += ["-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p",
            "-movflags", "+faststart", str(tmp)]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdin is not None
    try:
        for frame in frames:
            proc.stdin.write(frame)
        proc.stdin.close()
    except BrokenPipeError:
        pass
    err = proc.stderr.read().decode("utf-8", "replace") if proc.stderr else ""
    if proc.wait() != 0 or not tmp.exists():
        last = (err.strip().splitlines() or ["unknown error"])[-1]
        raise DanceMuseError(f"ffmpeg could not write {path} ({last[:200]})")
    shutil.move(str(tmp), str(path))
