"""The real microphone path on a virtual capture device: PulseAudio with a null sink,
a synthesised song played into it with paplay, `dancemuse live --input mic --device
pulse` capturing from its monitor; frames must come out over OSC and in the recording."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.mic


def _start_pulse(run: Path) -> dict[str, str]:
    """Start a private PulseAudio daemon (XDG_RUNTIME_DIR = ``run``) with a null sink
    'vsink' whose monitor is the default source. Returns the environment to reach it."""
    if not shutil.which("pulseaudio") or not shutil.which("paplay") or not shutil.which("pactl"):
        pytest.skip("pulseaudio / paplay / pactl are not installed (Debian: pulseaudio pulseaudio-utils)")
    env = dict(os.environ, XDG_RUNTIME_DIR=str(run), HOME=str(run), OMP_NUM_THREADS="1")
    env.pop("PULSE_SERVER", None)
    r = subprocess.run(
        ["pulseaudio", "--daemonize=yes", "--exit-idle-time=-1", "-n",
         "--load=module-null-sink sink_name=vsink", "--load=module-native-protocol-unix",
         "--load=module-always-sink"],
        env=env, capture_output=True, text=True, timeout=30,
    )
    if r.returncode != 0:
        pytest.skip(f"pulseaudio did not start: {r.stderr.strip().splitlines()[-1:]}")
    for _ in range(50):
        if subprocess.run(["pactl", "info"], env=env, capture_output=True).returncode == 0:
            break
        time.sleep(0.1)
    subprocess.run(["pactl", "set-default-source", "vsink.monitor"], env=env, check=True, timeout=10)
    return env


def _kill_pulse(env: dict[str, str]) -> None:
    subprocess.run(["pulseaudio", "--kill"], env=env, capture_output=True, timeout=10)


@pytest.fixture(scope="module")
def pulse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    env = _start_pulse(tmp_path_factory.mktemp("pulse"))
    try:
        yield env
    finally:
        _kill_pulse(env)



def test_mic_captures_a_song_played_into_a_virtual_device(
    pulse: dict[str, str], model_path: Path, tmp_path: Path
) -> None:
    import soundfile as sf

    from model.synth_music import demo_song

    song = demo_song(seconds=12.0, seed=3)
    wav = tmp_path / "song.wav"
    sf.write(wav, song.audio, song.sample_rate)
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(0.05)
    rec = tmp_path / "mic.npz"
    player = subprocess.Popen(["paplay", "--device=vsink", str(wav)], env=pulse)
    try:
        r = subprocess.Popen(
            [sys.executable, "-m", "live.cli", "live", "--model", str(model_path), "--input", "mic",
             "--device", "pulse", "--duration", "4", "--no-web", "--osc-listen", "",
             "--osc-target", f"127.0.0.1:{rx.getsockname()[1]}", "--record", str(rec)],
            cwd=REPO, env=pulse, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        datagrams = 0
        t0 = time.time()
        while r.poll() is None and time.time() - t0 < 120:
            try:
                rx.recv(65536)
                datagrams += 1
            except (TimeoutError, BlockingIOError):
                pass
        out, err = r.communicate(timeout=10)
    finally:
        player.kill()
        player.wait()
        rx.close()
    assert r.returncode == 0, err
    assert "input: mic 'pulse'" in out
    assert datagrams >= 100  # OSC bundles came out
    with np.load(rec) as z:
        assert len(z["poses"]) == 120
        assert z["beat"].sum() >= 3  # the song's beats were heard through the device
        assert float(np.max(z["confidence"])) > 0.3


def test_a_device_lost_mid_show_keeps_broadcasting_a_held_pose(model_path: Path, tmp_path: Path) -> None:
    import soundfile as sf

    from model.synth_music import demo_song

    env = _start_pulse(tmp_path / "run")
    song = demo_song(seconds=12.0, seed=4)
    wav = tmp_path / "song.wav"
    sf.write(wav, song.audio, song.sample_rate)
    rec = tmp_path / "lost.npz"
    player = subprocess.Popen(["paplay", "--device=vsink", str(wav)], env=env, stderr=subprocess.DEVNULL)
    proc = subprocess.Popen(
        [sys.executable, "-m", "live.cli", "live", "--model", str(model_path), "--input", "mic",
         "--device", "pulse", "--duration", "8", "--no-web", "--no-osc", "--osc-listen", "",
         "--record", str(rec)],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        while not proc.stdout.readline().startswith("input:"):
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        time.sleep(3.5)  # PulseAudio's first capture callback can take a while on a busy machine
        _kill_pulse(env)  # the sound server (and with it the device) disappears
        out, err = proc.communicate(timeout=60)
    finally:
        player.kill()
        player.wait()
        if proc.poll() is None:
            proc.kill()
        _kill_pulse(env)
    assert proc.returncode == 0, err
    assert "holding the pose" in err
    with np.load(rec) as z:
        poses = z["poses"]
    assert len(poses) == 240  # the clock kept running: every frame of the 8 s came out
    still = np.abs(np.diff(poses, axis=0)).max(axis=(1, 2)) == 0
    assert still[-30:].all()  # the last second is the held pose
    assert not still[:-30].all()  # it danced before the loss (the first frames may be held while
    # the device starts: the grace for the first callback)
