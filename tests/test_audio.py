"""Audio sources: pacing, fast mode, loop, files, and one-line device errors."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from live.audio import ArraySource, Block, demo_audio, load_file, open_source
from model.errors import AudioError, DeviceError


async def _collect(src: ArraySource, limit: int = 10_000) -> list[Block]:
    out = []
    async for b in src.blocks():
        out.append(b)
        if len(out) >= limit:
            break
    return out


def test_fast_source_sends_every_sample_once_in_order() -> None:
    audio = np.arange(10_001, dtype=np.float32)
    src = ArraySource(audio, sample_rate=24000, block=800, fast=True)
    blocks = asyncio.run(_collect(src))
    np.testing.assert_array_equal(np.concatenate([b.samples for b in blocks]), audio)
    assert src.finite and not any(b.hold for b in blocks)


def test_real_time_source_is_paced_by_the_clock() -> None:
    audio = np.zeros(4800, np.float32)  # 0.2 s at 24 kHz
    src = ArraySource(audio, sample_rate=24000, block=800)
    t0 = time.time()
    blocks = asyncio.run(_collect(src))
    took = time.time() - t0
    assert took > 0.18  # paced: not faster than real time (no upper bound: a loaded machine may be late)
    gaps = np.diff([b.arrival for b in blocks])
    np.testing.assert_allclose(gaps, 800 / 24000, atol=1e-6)


def test_loop_repeats_the_signal() -> None:
    audio = np.arange(1000, dtype=np.float32)
    src = ArraySource(audio, sample_rate=24000, block=300, fast=True, loop=True)
    blocks = asyncio.run(_collect(src, limit=8))
    x = np.concatenate([b.samples for b in blocks])
    np.testing.assert_array_equal(x[:2000], np.concatenate([audio, audio]))


def test_file_source_reads_stereo_files_as_mono(tmp_path: Path) -> None:
    t = np.arange(44100) / 44100
    stereo = np.stack([np.sin(2 * np.pi * 440 * t), np.zeros_like(t)], axis=1) * 0.5
    sf.write(tmp_path / "a.wav", stereo, 44100)
    audio, sr = load_file(tmp_path / "a.wav")
    assert sr == 44100 and audio.shape == (44100,)
    src = open_source({"input": str(tmp_path / "a.wav"), "fast": True}, fps=30)
    assert src.sample_rate == 44100 and src.block == 1470 and src.finite


def test_missing_and_bad_files_fail_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="not found"):
        load_file(tmp_path / "nope.wav")
    (tmp_path / "bad.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunk")  # a WAV header, no sound
    with pytest.raises(AudioError, match="cannot read audio file") as e:
        load_file(tmp_path / "bad.wav")
    assert "\n" not in str(e.value) and "bad.wav" in str(e.value) and "convert it to WAV or FLAC" in str(e.value)


def test_file_source_reads_what_generate_reads_through_ffmpeg(tmp_path: Path) -> None:
    """An AAC file (.m4a, what a music library exports) plays live as `dancemuse generate` reads
    it: soundfile cannot open it, the file source decodes it with ffmpeg."""
    import subprocess

    from live.dance_io import ffmpeg_exe

    sr = 24000
    t = np.arange(3 * sr) / sr
    tone = (0.3 * np.sin(2 * np.pi * 440 * t) * (np.sin(2 * np.pi * 2 * t) > 0)).astype(np.float32)
    sf.write(tmp_path / "a.wav", tone, sr)
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-i", str(tmp_path / "a.wav"), str(tmp_path / "a.m4a")],
                   check=True)
    with pytest.raises(Exception):  # noqa: B017 - soundfile's own error type varies by version
        sf.read(str(tmp_path / "a.m4a"))
    audio, got_sr = load_file(tmp_path / "a.m4a")
    assert got_sr == sr and abs(len(audio) - len(tone)) < 0.1 * sr  # AAC pads a few frames
    # the same sound: its loudness envelope (10 ms blocks) follows the tone's gating
    n = min(len(audio), len(tone)) // 240 * 240
    env = lambda x: np.sqrt((x[:n].reshape(-1, 240) ** 2).mean(axis=1))  # noqa: E731
    lag = int(np.argmax(np.correlate(env(audio), env(tone)[20:-20], "valid")))  # encoder delay, in blocks
    assert np.corrcoef(env(audio)[lag:lag + len(env(tone)) - 40], env(tone)[20:-20])[0, 1] > 0.95
    src = open_source({"input": str(tmp_path / "a.m4a"), "fast": True}, fps=30)
    assert src.sample_rate == sr and src.block == 800 and src.finite


def test_demo_source_loops_in_real_time() -> None:
    src = open_source({"input": "demo"}, fps=60, demo_seconds=2.0)
    assert src.loop and not src.finite and src.sample_rate == 24000 and src.block == 400


def test_mic_without_sound_card_says_so_in_one_line() -> None:
    pytest.importorskip("sounddevice", exc_type=OSError)
    import sounddevice as sd

    if any(d["max_input_channels"] > 0 for d in sd.query_devices()):
        pytest.skip("this machine has an input device")
    with pytest.raises(DeviceError, match="no audio input device") as e:
        open_source({"input": "mic"}, fps=30)
    assert "\n" not in str(e.value)


def test_devices_command_lists_inputs_or_says_there_are_none(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("sounddevice", exc_type=OSError)
    from live.cli import main

    rc = main(["devices"])
    out = capsys.readouterr().out
    if rc == 0:
        assert "index" in out and "use: dancemuse live --input mic --device" in out
    else:
        assert rc == 1 and out.count("\n") == 1 and "no audio input devices" in out


def test_demo_song_is_rendered_once_then_read_from_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from model.synth_music import demo_song

    monkeypatch.setenv("DANCEMUSE_CACHE", str(tmp_path / "cache"))
    first, sr = demo_audio(seconds=3.0, seed=2)
    files = list((tmp_path / "cache").glob("demo-*.npy"))
    assert len(files) == 1 and not list((tmp_path / "cache").glob(".*tmp"))  # written atomically
    np.testing.assert_array_equal(first, demo_song(seconds=3.0, seed=2).audio.astype(np.float32))
    import model.synth_music as sm

    monkeypatch.setattr(sm, "demo_song", lambda **kw: pytest.fail("rendered again instead of read from the cache"))
    again, sr2 = demo_audio(seconds=3.0, seed=2)
    np.testing.assert_array_equal(again, first)
    assert sr2 == sr and again.dtype == np.float32
    monkeypatch.undo()
    monkeypatch.setenv("DANCEMUSE_CACHE", str(tmp_path / "cache"))
    assert demo_audio(seconds=3.0, seed=3)[0].shape == first.shape  # another seed: its own file
    assert len(list((tmp_path / "cache").glob("demo-*.npy"))) == 2


def test_a_broken_or_unwritable_demo_cache_is_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv("DANCEMUSE_CACHE", str(cache))
    good, _ = demo_audio(seconds=2.0)
    (f,) = cache.glob("demo-*.npy")
    f.write_bytes(b"not numpy")  # a torn or foreign file: rendered again and rewritten
    np.testing.assert_array_equal(demo_audio(seconds=2.0)[0], good)
    assert np.array_equal(np.load(f), good)
    blocked = tmp_path / "file"
    blocked.write_text("x")  # the cache folder cannot be made: the demo still plays
    monkeypatch.setenv("DANCEMUSE_CACHE", str(blocked / "sub"))
    np.testing.assert_array_equal(demo_audio(seconds=2.0)[0], good)
