"""Dance files: every format written and read back; the MP4 has video and audio and shows a dancer."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from live.dance_io import counts_from_beats, ffmpeg_exe, read_dance, write_dance, write_mp4
from model.errors import ConfigError
from model.skeleton import JOINT_NAMES

FPS = 30


@pytest.fixture(scope="module")
def dance() -> tuple[np.ndarray, np.ndarray]:
    """A real synthetic dance (house, 4 s) and its beat times."""
    from model.synth_dance import render_dance
    from model.synth_music import render_song

    song = render_song(feel="house", bpm=120, seconds=4.0, seed=1)
    d = render_dance(song, style="house", fps=FPS, seed=1)
    return np.asarray(d.poses, np.float32), np.asarray(song.beats, np.float32)


@pytest.mark.parametrize("ext", [".npz", ".json", ".csv"])
def test_round_trip_keeps_poses_fps_and_beats(tmp_path: Path, dance: tuple[np.ndarray, np.ndarray], ext: str) -> None:
    poses, beats = dance
    beats = np.round(beats * FPS) / FPS  # beats on frame times, as generate makes them
    path = write_dance(tmp_path / f"d{ext}", poses, fps=FPS, beats=beats, meta={"style": "house"})
    back = read_dance(path)
    assert back["poses"].shape == poses.shape and back["joint_names"] == list(JOINT_NAMES)
    np.testing.assert_allclose(back["poses"], poses, atol=1e-5)
    assert back["fps"] == pytest.approx(FPS, rel=1e-3)
    np.testing.assert_allclose(back["beats"], beats, atol=1e-4)
    if ext != ".csv":
        assert back["meta"]["style"] == "house"
    assert not list(tmp_path.glob(".*.tmp"))  # atomic write leaves no temporary file


def test_json_frames_name_their_joints(tmp_path: Path, dance: tuple[np.ndarray, np.ndarray]) -> None:
    import json

    poses, beats = dance
    doc = json.loads(write_dance(tmp_path / "d.json", poses, fps=FPS, beats=beats).read_text())
    f0 = doc["frames"][0]
    assert set(f0) == {"i", "t", "beat", "joints"} and list(f0["joints"]) == list(JOINT_NAMES)
    assert sum(f["beat"] for f in doc["frames"]) == len(beats)


def test_csv_has_a_row_per_frame(tmp_path: Path, dance: tuple[np.ndarray, np.ndarray]) -> None:
    poses, _ = dance
    lines = write_dance(tmp_path / "d.csv", poses, fps=FPS).read_text().splitlines()
    assert len(lines) == len(poses) + 1
    assert lines[0].startswith("frame,t,beat,nose_x,nose_y,nose_z,left_eye_x")
    assert len(lines[1].split(",")) == 3 + 51


def test_bvh_read_back_through_our_importer_gives_the_positions(tmp_path: Path, dance: tuple[np.ndarray, np.ndarray]) -> None:
    poses, _ = dance
    back = read_dance(write_dance(tmp_path / "d.bvh", poses, fps=FPS))
    assert back["poses"].shape == poses.shape and back["fps"] == pytest.approx(FPS)
    err = np.linalg.norm(back["poses"] - poses, axis=-1)
    assert float(np.median(err)) < 0.01 and float(err.max()) < 0.05, (np.median(err), err.max())


def test_unknown_extension_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"d\.txt: use a \.npz, \.json, \.csv or \.bvh"):
        write_dance(tmp_path / "d.txt", np.zeros((2, 17, 3), np.float32), fps=FPS)
    with pytest.raises(ConfigError, match="does not exist"):
        write_dance(tmp_path / "nope" / "d.npz", np.zeros((2, 17, 3), np.float32), fps=FPS)


def test_counts_run_one_to_eight_over_two_bars() -> None:
    np.testing.assert_array_equal(counts_from_beats(10), [1, 2, 3, 4, 5, 6, 7, 8, 1, 2])
    bib = np.array([1, 2, 3, 4, 1, 2, 3, 4, 1])
    bar = np.array([0, 0, 0, 0, 1, 1, 1, 1, 2])
    np.testing.assert_array_equal(counts_from_beats(9, beat_in_bar=bib, bar=bar), [1, 2, 3, 4, 5, 6, 7, 8, 1])


def test_mp4_has_video_and_audio_and_shows_the_dancer(
    tmp_path: Path, dance: tuple[np.ndarray, np.ndarray], artifacts: Path
) -> None:
    from model.synth_music import render_song

    poses, beats = dance
    song = render_song(feel="house", bpm=120, seconds=4.0, seed=1)
    out = write_mp4(tmp_path / "d.mp4", poses, fps=FPS, audio=song.audio, sample_rate=song.sample_rate,
                    beats=beats, width=320, height=240)
    probe = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(out)], capture_output=True, text=True)
    info = probe.stderr
    assert re.search(r"Stream #0:\d+.*: Video: h264", info), info
    assert re.search(r"Stream #0:\d+.*: Audio: aac", info), info
    dur = re.search(r"Duration: (\d+):(\d+):([\d.]+)", info)
    assert dur and abs(float(dur.group(3)) - len(poses) / FPS) < 0.3
    png = artifacts / "dance_io_frame.png"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-ss", "1.0", "-i", str(out), "-frames:v", "1", str(png)], check=True)
    raw = subprocess.run([ffmpeg_exe(), "-v", "error", "-ss", "1.0", "-i", str(out), "-frames:v", "1",
                          "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], capture_output=True, check=True).stdout
    img = np.frombuffer(raw, np.uint8).reshape(240, 320, 3).astype(int)
    orange = (img[..., 0] > 180) & (img[..., 1] > 90) & (img[..., 2] < 120)  # the dancer's left limbs
    blue = (img[..., 2] > 180) & (img[..., 0] < 140)  # right limbs
    assert orange.sum() > 80 and blue.sum() > 80
    cols = np.nonzero(orange | blue)[1]
    assert 60 < cols.mean() < 260  # the dancer is in the middle of the frame


def test_silent_mp4_without_audio(tmp_path: Path, dance: tuple[np.ndarray, np.ndarray]) -> None:
    poses, _ = dance
    out = write_mp4(tmp_path / "s.mp4", poses[:30], fps=FPS, width=160, height=120)
    info = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(out)], capture_output=True, text=True).stderr
    assert "Video: h264" in info and "Audio:" not in info
