"""`dancemuse rehearse`: a phrase looped exactly, at half/quarter tempo, music stretched with
its pitch kept, counts big; BVH/JSON back from disk."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from live.cli import main
from live.dance_io import ffmpeg_exe, read_dance, write_dance
from live.rehearsal import Phrase, atempo_filter, stretch, write_rehearsal_mp4
from model import skeleton as sk


def _phrase(n: int = 120, fps: float = 30.0) -> Phrase:
    t = np.arange(n, dtype=np.float32) / fps
    poses = np.repeat(sk.rest_pose().astype(np.float32)[None], n, axis=0)
    poses[:, 9, 1] += 0.3 * np.sin(2 * np.pi * t)  # a waving wrist
    return Phrase(poses=poses, fps=fps, beat_frames=np.arange(8) * (n // 8))


def test_a_slow_loop_plays_each_count_twice_as_long_and_repeats_exactly() -> None:
    ph = _phrase()
    poses, beats, counts = stretch(ph, speed=0.5, loops=3)
    n = len(ph.poses)
    assert poses.shape == (3 * 2 * n, 17, 3)
    np.testing.assert_array_equal(poses[: 2 * n], poses[2 * n: 4 * n])  # every loop the same
    np.testing.assert_allclose(poses[0: 2 * n: 2], ph.poses, atol=1e-6)  # even frames = the phrase's frames
    assert beats.tolist()[:9] == [0, 30, 60, 90, 120, 150, 180, 210, 240]
    assert counts.tolist() == list(range(1, 9)) * 3
    q, qb, _ = stretch(ph, speed=0.25, loops=1)
    assert len(q) == 4 * n and qb[1] == 60
    with pytest.raises(Exception, match="speed"):
        stretch(ph, speed=0.3)


def test_atempo_chain_reaches_quarter_speed() -> None:
    assert atempo_filter(0.5) == "atempo=0.5"
    assert atempo_filter(0.25) == "atempo=0.5,atempo=0.5"


def test_half_speed_video_stretches_the_music_without_changing_its_pitch(tmp_path: Path) -> None:
    import imageio_ffmpeg

    ph = _phrase(n=60)
    sr = 24000
    t = np.arange(int(2.0 * sr)) / sr
    ph.audio, ph.sample_rate = (0.3 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32), sr
    out = write_rehearsal_mp4(tmp_path / "slow.mp4", ph, speed=0.5, loops=1, width=160, height=120)
    frames, secs = imageio_ffmpeg.count_frames_and_secs(str(out))
    assert abs(frames - 120) <= 1 and secs == pytest.approx(4.0, abs=0.1)
    raw = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(out), "-vn", "-ac", "1", "-ar", str(sr), "-f", "f32le",
                          "-"], capture_output=True, check=True).stdout
    a = np.frombuffer(raw, np.float32)
    assert len(a) / sr == pytest.approx(4.0, abs=0.15)  # twice as long
    seg = a[sr // 2: sr // 2 + sr]
    spec = np.abs(np.fft.rfft(seg * np.hanning(len(seg))))
    assert np.fft.rfftfreq(len(seg), 1 / sr)[int(np.argmax(spec))] == pytest.approx(440.0, abs=3.0)  # same pitch


def test_rehearse_a_saved_phrase_writes_bvh_json_and_a_counted_video(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    import imageio_ffmpeg

    ph = _phrase()
    src = write_dance(tmp_path / "phrase.json", ph.poses, fps=ph.fps, beats=ph.beat_frames / ph.fps)
    rc = main(["rehearse", str(src), "--speed", "0.5", "--loops", "2", "-o", str(tmp_path / "take.bvh"),
               "-o", str(tmp_path / "take.json"), "--video", str(tmp_path / "take.mp4"), "--size", "160x120"])
    assert rc == 0, capsys.readouterr()
    n = 2 * 2 * len(ph.poses)
    j = read_dance(tmp_path / "take.json")
    b = read_dance(tmp_path / "take.bvh")
    assert j["poses"].shape == (n, 17, 3) and b["poses"].shape == (n, 17, 3)
    assert len(j["beats"]) == 16 and j["beats"][1] == pytest.approx(1.0, abs=1e-4)
    np.testing.assert_allclose(b["poses"][: n // 2], b["poses"][n // 2:], atol=1e-5)
    frames, _ = imageio_ffmpeg.count_frames_and_secs(str(tmp_path / "take.mp4"))
    assert abs(frames - n) <= 1
    probe = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(tmp_path / "take.mp4")], capture_output=True, text=True)
    assert "Audio: aac" in probe.stderr  # the click track


def test_rehearse_refuses_a_bad_speed_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rehearse", "demo", "--speed", "0.3", "-o", str(tmp_path / "x.bvh")]) == 2
    err = capsys.readouterr().err
    assert "--speed" in err and len(err.strip().splitlines()) == 1


def test_rehearse_a_song_without_a_beat_says_so_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A drone has no beat to count 8-count phrases in: one line that says so (not "pick 1..0")."""
    import soundfile as sf

    t = np.arange(24000 * 12) / 24000
    sf.write(tmp_path / "drone.wav", (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 24000)
    assert main(["rehearse", str(tmp_path / "drone.wav"), "-o", str(tmp_path / "x.bvh")]) == 2
    errors = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("dancemuse: error")]
    assert len(errors) == 1 and "no complete 8-count phrase" in errors[0] and "steady beat" in errors[0]
    assert not (tmp_path / "x.bvh").exists()
