"""Video importer: dance videos -> audio (ffmpeg) + 3D poses (MediaPipe Pose) -> clips.

MediaPipe 0.10.21 (the last release whose wheel ships its pose models, so it works
offline) pins protobuf<5 while onnx needs protobuf>=6, so it lives in its own environment:
`bash .ci/extract_venv.sh` creates .venv-extract, and `model/importers/video_worker.py`
runs there as a subprocess that writes landmarks to an .npz. This module (main
environment) turns that into dataset clips:

* 3D from MediaPipe's world landmarks (metres, hip-centred), 33 -> COCO-17, axes to ours
  (x = image right = the dancer's left when facing the camera, y up, +z toward the
  camera); the root's travel and jumps come from the hips' image track scaled by the
  torso (this assumes a still camera; depth travel is not recovered, root z stays 0).
* Per-frame confidence is MediaPipe's visibility (0 on frames with no person).
* Runs of frames with no person up to ``max_gap_s`` are interpolated; longer ones split
  the video into separate clips (each with its own slice of the audio); pieces shorter
  than ``min_clip_s`` are dropped.
* The audio track is read with the ffmpeg that the imageio-ffmpeg wheel ships; a video
  without one is refused before any pose work unless ``audio`` gives the song.
"""

from __future__ import annotations

import collections
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from model.constants import SAMPLE_RATE
from model.dataset import DatasetWriter
from model.errors import DatasetError
from model.importers.common import (
    fill_gaps,
    interpolate_missing,
    put_on_floor,
    resample,
    unique_ids,
)

MP_TO_COCO = (0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28)
"""MediaPipe Pose landmark index of each COCO-17 joint."""

WORKER = Path(__file__).with_name("video_worker.py")
REPO = Path(__file__).resolve().parents[2]
INSTALL_HINT = ("mediapipe is not installed for `dataset extract`: run `bash .ci/extract_venv.sh` "
                "(creates .venv-extract with mediapipe 0.10.21, which cannot share onnx's environment), "
                "or pass --python /path/to/python-with-mediapipe")

Progress = Callable[[int, int, str], None]


def ffmpeg() -> str:
    """Path of the ffmpeg binary shipped by imageio-ffmpeg (or on PATH)."""
    try:
        import imageio_ffmpeg

        return str(imageio_ffmpeg.get_ffmpeg_exe())
    except (ImportError, RuntimeError):
        exe = shutil.which("ffmpeg")
        if exe:
            return exe
        raise DatasetError("ffmpeg not found: pip install imageio-ffmpeg") from None


def has_audio(path: Path) -> bool:
    """Whether the media file has an audio stream (ffmpeg's stream listing)."""
    r = subprocess.run([ffmpeg(), "-hide_banner", "-i", str(path)], capture_output=True, text=True,
                       errors="replace", check=False)
    streams = [ln for ln in r.stderr.splitlines() if ln.strip().startswith("Stream #")]
    if not streams:
        raise DatasetError(f"{path}: ffmpeg finds no streams in it; is it a video file?")
    return any(" Audio:" in ln for ln in streams)


def read_audio(path: Path, *, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Mono float32 [shape=(n,)] at ``sample_rate`` from any file ffmpeg reads."""
    r = subprocess.run([ffmpeg(), "-v", "error", "-i", str(path), "-vn", "-ac", "1", "-ar",
                        str(sample_rate), "-f", "f32le", "-"], capture_output=True, check=False)
    if r.returncode != 0:
        msg = r.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["unknown error"]
        raise DatasetError(f"{path}: ffmpeg cannot read its audio ({msg[0]}); convert it to WAV")
    return np.frombuffer(r.stdout, dtype=np.float32).copy()


def find_python(explicit: str | None = None) -> str:
    """A python that can import mediapipe and cv2: ``explicit``, $DANCEMUSE_EXTRACT_PYTHON,
    .venv-extract at the repository root, or this interpreter. DatasetError with the
    install instruction when there is none."""
    if explicit or os.environ.get("DANCEMUSE_EXTRACT_PYTHON"):
        cands = [explicit or os.environ["DANCEMUSE_EXTRACT_PYTHON"]]
    else:
        cands = [str(REPO / ".venv-extract" / "bin" / "python")]
        if importlib.util.find_spec("mediapipe") is not None:
            return sys.executable
    for cand in cands:
        if Path(cand).is_file() and subprocess.run(
                [cand, "-c", "import mediapipe, cv2, numpy"], capture_output=True, check=False).returncode == 0:
            return cand
    raise DatasetError(INSTALL_HINT)


def run_worker(python: str, video: Path, out_npz: Path, *, overlay: Path | None,
               progress: Progress | None) -> dict[str, np.ndarray]:
    """Run the MediaPipe worker on ``video``; returns its arrays."""
    cmd = [python, str(WORKER), str(video), str(out_npz)] + (["--overlay", str(overlay)] if overlay else [])
    env = dict(os.environ, GLOG_minloglevel="2", TF_CPP_MIN_LOG_LEVEL="3", PYTHONNOUSERSITE="1")
    tail: collections.deque[str] = collections.deque(maxlen=5)
    error = ""
    with subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                          errors="replace", env=env) as proc:
        assert proc.stderr is not None
        for line in proc.stderr:
            line = line.strip()
            if line.startswith("progress "):
                _, i, n = line.split()
                if progress:
                    progress(int(i), int(n), f"poses {video.name}")
            elif line.startswith("error: "):
                error = line[7:]
            elif line:
                tail.append(line)
    if proc.returncode != 0 or not out_npz.is_file():
        why = error or (tail[-1] if tail else f"exit status {proc.returncode}")
        raise DatasetError(f"{video}: pose extraction failed: {why}")
    with np.load(out_npz) as z:
        return {k: z[k] for k in z.files}


def landmarks_to_poses(lm: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Worker arrays -> COCO-17 poses [shape=(n, 17, 3)] (metres, our axes, root travel
    from the image) and confidence [shape=(n, 17)]. Frames without a person are left as
    they are (zeros) for the caller to bridge or cut."""
    present = lm["present"].astype(bool)
    world = lm["world"][:, MP_TO_COCO].astype(np.float32) * np.array([1.0, -1.0, -1.0], np.float32)
    conf = lm["visibility"][:, MP_TO_COCO].astype(np.float32) * present[:, None]
    px = lm["image"][:, :, :2].astype(np.float64) * np.array([float(lm["width"]), float(lm["height"])])
    hip_px = 0.5 * (px[:, 23] + px[:, 24])
    torso_px = np.linalg.norm(0.5 * (px[:, 11] + px[:, 12]) - hip_px, axis=-1)
    w = lm["world"].astype(np.float64)
    torso_m = np.linalg.norm(0.5 * (w[:, 11] + w[:, 12]) - 0.5 * (w[:, 23] + w[:, 24]), axis=-1)
    good = present & (torso_px > 1.0)
    if good.any():
        m_per_px = float(np.median(torso_m[good] / torso_px[good]))
        ref = np.median(hip_px[good], axis=0)
        travel = (hip_px - ref) * m_per_px
        world[:, :, 0] += travel[:, 0, None].astype(np.float32)
        world[:, :, 1] -= travel[:, 1, None].astype(np.float32)
    world[~present] = 0.0
    return world, conf


def video_clips(lm: dict[str, np.ndarray], *, fps: float, max_gap_s: float,
                min_clip_s: float) -> list[tuple[int, int, np.ndarray, np.ndarray]]:
    """Cut and bridge: [(start frame, stop frame, poses at ``fps``, confidence at ``fps``)]
    in video frames, for each piece of the video that holds a dancer."""
    vfps = float(lm["fps"])
    poses, conf = landmarks_to_poses(lm)
    present = lm["present"].astype(bool)
    out = []
    for a, b in fill_gaps(present, max_gap=int(round(max_gap_s * vfps))):
        if (b - a) / vfps < min_clip_s or b - a < 2:
            continue
        p = interpolate_missing(poses[a:b], present[a:b])
        p = put_on_floor(p)
        out.append((a, b, resample(p, src_fps=vfps, dst_fps=fps),
                    resample(conf[a:b], src_fps=vfps, dst_fps=fps)))
    return out


def extract_videos(
    videos: Sequence[Path],
    *,
    out: str | Path,
    fps: float,
    style: str = "video",
    audio: str | Path | None = None,
    overlay: str | Path | None = None,
    max_gap_s: float = 0.5,
    min_clip_s: float = 1.0,
    python: str | None = None,
    licence: str = "unspecified",
    overwrite: bool = False,
    progress: Progress | None = None,
) -> list[dict[str, Any]]:
    """Extract clips from ``videos`` into the dataset at ``out``; returns the new manifest
    entries. Inputs, audio tracks and the MediaPipe environment are checked before the
    slow part; nothing is written unless every video succeeds."""
    videos = [Path(v) for v in videos]
    for v in videos:
        if not v.is_file():
            raise DatasetError(f"{v}: no such video file; check the path")
    song = Path(audio) if audio else None
    if song is not None and not song.is_file():
        raise DatasetError(f"audio file {song} does not exist; check the --audio path")
    if song is None:
        for v in videos:
            if not has_audio(v):
                raise DatasetError(f"{v}: the video has no audio track; pass the song with --audio SONG")
    py = find_python(python)
    DatasetWriter(out, overwrite=overwrite)  # refuses a bad --out now, writes nothing
    pieces = []
    with tempfile.TemporaryDirectory(prefix="dancemuse-extract-") as tmp:
        for k, v in enumerate(videos):
            ov = Path(tmp) / f"overlay{k}.mp4" if overlay else None
            lm = run_worker(py, v, Path(tmp) / f"poses{k}.npz", overlay=ov, progress=progress)
            sound = read_audio(song or v)
            clips = video_clips(lm, fps=fps, max_gap_s=max_gap_s, min_clip_s=min_clip_s)
            if not clips:
                raise DatasetError(f"{v}: no dancer found for {min_clip_s:g} s or more "
                                   f"({int(lm['present'].sum())} of {len(lm['present'])} frames); "
                                   "use a video where the whole body is visible")
            vfps = float(lm["fps"])
            for n, (a, b, p, c) in enumerate(clips):
                snd = sound[int(a / vfps * SAMPLE_RATE):int(b / vfps * SAMPLE_RATE)]
                name = v.stem if len(clips) == 1 else f"{v.stem}-p{n + 1}"
                pieces.append((name, v, a / vfps, p, c, snd))
            if ov is not None and overlay:
                dst = Path(overlay)
                if len(videos) > 1:
                    dst = dst.with_name(f"{dst.stem}-{v.stem}{dst.suffix or '.mp4'}")
                mux_overlay(ov, song or v, dst)
        ids = unique_ids([p[0] for p in pieces])
        entries = []
        with DatasetWriter(out, overwrite=overwrite) as w:
            for cid, (_, v, start, p, c, snd) in zip(ids, pieces):
                entries.append(w.add_clip(
                    id=cid, poses=p, fps=fps, style=style, source=f"video:{v.name}", licence=licence,
                    audio=snd, sample_rate=SAMPLE_RATE, confidence=c,
                    extra={"original": v.name, "start_s": round(start, 3), "estimator": "mediapipe-pose-1"}))
    return entries


def mux_overlay(video: Path, audio_src: Path, dst: Path) -> None:
    """Re-encode the worker's overlay to H.264 with the audio; keep it as is if that fails."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.part{dst.suffix or '.mp4'}")
    r = subprocess.run([ffmpeg(), "-y", "-v", "error", "-i", str(video), "-i", str(audio_src),
                        "-map", "0:v:0", "-map", "1:a:0?", "-c:v", "libx264", "-pix_fmt", "yuv420p",
                        "-c:a", "aac", "-shortest", str(tmp)], capture_output=True, check=False)
    if r.returncode == 0:
        os.replace(tmp, dst)
    else:
        tmp.unlink(missing_ok=True)
        shutil.copyfile(video, dst)
