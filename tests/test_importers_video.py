"""`dancemuse dataset extract`: a real photograph of a person as a video, with a tone as its
audio, through MediaPipe (in its own venv) into a dataset; bad inputs give one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_importers_bvh import run_cli

from model.dataset import check_dataset, load_poses, read_manifest
from model.errors import DatasetError
from model.importers.common import fill_gaps, interpolate_missing
from model.importers.video import ffmpeg, find_python, has_audio, landmarks_to_poses, video_clips
from model.skeleton import JOINT_INDEX


def make_video(path: Path, frames: np.ndarray, *, fps: int = 15, tone: bool = True) -> Path:
    """Encode RGB frames [n, h, w, 3] as H.264, with a 440 Hz tone as AAC audio."""
    n, h, w, _ = frames.shape
    cmd = [ffmpeg(), "-y", "-v", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}",
           "-r", str(fps), "-i", "-"]
    if tone:
        cmd += ["-f", "lavfi", "-i", f"sine=frequency=440:duration={n / fps}", "-c:a", "aac", "-shortest"]
    cmd += ["-c:v", "libx264", "-pix_fmt", "yuv420p", str(path)]
    subprocess.run(cmd, input=np.ascontiguousarray(frames, np.uint8).tobytes(), check=True)
    return path


def _astronaut_video(path: Path, *, tone: bool = True) -> Path:
    skimage_data = pytest.importorskip("skimage.data", reason="scikit-image (dev extra) makes the test video")
    img = skimage_data.astronaut()
    return make_video(path, np.stack([np.roll(img, 2 * i, axis=1) for i in range(30)]), tone=tone)


def _extract_python() -> str:
    try:
        return find_python()
    except DatasetError:
        pytest.skip("the extract venv is absent (mediapipe 0.10.21): create it with `bash .ci/extract_venv.sh`")


def test_astronaut_video_becomes_a_clip_with_confidence_audio_and_overlay(tmp_path: Path, capsys) -> None:
    python = _extract_python()
    video = _astronaut_video(tmp_path / "astronaut.mp4")
    out, overlay = tmp_path / "ds", tmp_path / "debug.mp4"
    rc = run_cli(["dataset", "extract", str(video), "--out", str(out), "--style", "portrait",
                  "--overlay", str(overlay), "--python", python])
    assert rc == 0, capsys.readouterr().err
    assert "30/30" in capsys.readouterr().err  # the progress bar reached the end
    assert check_dataset(out) == []
    (clip,) = read_manifest(out)["clips"]
    assert clip["style"] == "portrait" and clip["fps"] == 30 and clip["estimator"] == "mediapipe-pose-1"
    z = load_poses(out / clip["poses"])
    p, conf = z["poses"], z["confidence"]
    assert p.shape == (59, 17, 3) and conf.shape == (59, 17)  # 2 s of 15 fps video at 30 fps
    assert conf[:, :7].min() > 0.9  # face and shoulders are in the picture
    j = JOINT_INDEX
    # her left shoulder is on the image's right: +x; the nose is in front of the face: +z; head up
    assert np.all(p[:, j["left_shoulder"], 0] > p[:, j["right_shoulder"], 0])
    assert np.all(p[:, j["nose"], 2] > p[:, j["left_ear"], 2])
    assert np.all(p[:, j["nose"], 1] > p[:, j["left_hip"], 1])
    assert clip["audio_seconds"] == pytest.approx(2.0, abs=0.05)
    assert overlay.is_file() and has_audio(overlay)


def test_video_without_audio_track_gives_one_line_and_writes_nothing(tmp_path: Path, capsys) -> None:
    video = make_video(tmp_path / "silent.mp4", np.zeros((10, 64, 64, 3), np.uint8), tone=False)
    out = tmp_path / "ds"
    assert run_cli(["dataset", "extract", str(video), "--out", str(out)]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "silent.mp4: the video has no audio track; pass the song with --audio SONG" in line
    assert not out.exists()


def test_missing_video_and_missing_mediapipe_say_what_to_do(tmp_path: Path, capsys) -> None:
    out = tmp_path / "ds"
    assert run_cli(["dataset", "extract", str(tmp_path / "none.mp4"), "--out", str(out)]) == 2
    assert "none.mp4: no such video file" in capsys.readouterr().err
    video = make_video(tmp_path / "v.mp4", np.zeros((10, 64, 64, 3), np.uint8))
    assert run_cli(["dataset", "extract", str(video), "--out", str(out), "--python", sys.executable]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "mediapipe is not installed" in line and "bash .ci/extract_venv.sh" in line
    assert not out.exists()


def test_short_gaps_are_bridged_and_long_ones_split() -> None:
    valid = np.ones(100, bool)
    valid[:3] = False  # leading: cut
    valid[20:24] = False  # 4 frames: bridged
    valid[50:70] = False  # 20 frames: split
    valid[95:] = False  # trailing: cut
    assert fill_gaps(valid, max_gap=5) == [(3, 50), (70, 95)]
    x = np.arange(10, dtype=np.float32)
    ok = np.ones(10, bool)
    ok[4:7] = False
    assert np.allclose(interpolate_missing(np.where(ok, x, 0.0), ok), x)


def _fake_landmarks(n: int, present: np.ndarray) -> dict[str, np.ndarray]:
    """MediaPipe-like arrays: y down, z away from the camera, a person facing the camera."""
    world = np.zeros((n, 33, 3), np.float32)
    image = np.zeros((n, 33, 3), np.float32)
    for mp_i, (x, y, z) in {0: (0, -0.6, -0.1), 11: (0.18, -0.5, 0), 12: (-0.18, -0.5, 0),
                            23: (0.1, 0, 0), 24: (-0.1, 0, 0), 27: (0.1, 0.88, 0), 28: (-0.1, 0.88, 0)}.items():
        world[:, mp_i] = (x, y, z)
        image[:, mp_i] = (0.5 + x / 4, 0.5 + y / 4, 0)
    image[:, :, 0] += np.linspace(0, 0.25, n)[:, None]  # walks to the image's right
    return {"world": world, "image": image, "visibility": np.full((n, 33), 0.9, np.float32),
            "present": present, "fps": np.float64(30.0), "width": np.int64(400), "height": np.int64(400)}


def test_landmarks_become_y_up_poses_that_travel_with_the_hips() -> None:
    present = np.ones(90, bool)
    present[40:43] = False
    lm = _fake_landmarks(90, present)
    poses, conf = landmarks_to_poses(lm)
    j = JOINT_INDEX
    assert poses[0, j["nose"], 1] > poses[0, j["left_hip"], 1] > poses[0, j["left_ankle"], 1]  # y up
    assert poses[0, j["nose"], 2] > 0  # toward the camera
    assert conf[41].max() == 0 and conf[0, 0] == pytest.approx(0.9)
    (clip,) = video_clips(lm, fps=30, max_gap_s=0.5, min_clip_s=1.0)
    start, stop, p, c = clip
    assert (start, stop) == (0, 90) and p.shape == (90, 17, 3)
    hips = p[:, [j["left_hip"], j["right_hip"]]].mean(1)
    # 0.25 of a 400 px image at 1 m per 100 px (torso 0.5 m = 50 px) is 1 m of travel
    assert hips[-1, 0] - hips[0, 0] == pytest.approx(1.0, rel=0.02)
    assert np.all(np.isfinite(p)) and abs(hips[41, 0] - (hips[39, 0] + hips[43, 0]) / 2) < 0.01
    pieces = video_clips(lm, fps=30, max_gap_s=0.05, min_clip_s=0.5)
    assert [(a, b) for a, b, _, _ in pieces] == [(0, 40), (43, 90)]
