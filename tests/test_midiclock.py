"""MIDI clock decoder fed literal byte streams (no ports), and the port adapter."""

from __future__ import annotations

import numpy as np
import pytest

from live.midi_port import list_ports
from live.midiclock import PPQN, MidiClockDecoder

CLOCK, START, CONT, STOP = b"\xf8", b"\xfa", b"\xfb", b"\xfc"


def _pulses(segments: list[tuple[float, int]], *, jitter: float, seed: int = 0,
            t0: float = 10.0) -> tuple[np.ndarray, np.ndarray]:
    """True and jittered arrival times of the pulses of (bpm, beats) segments."""
    rng = np.random.default_rng(seed)
    true: list[float] = []
    t = t0
    for bpm, beats in segments:
        for _ in range(beats * PPQN):
            true.append(t)
            t += 60.0 / bpm / PPQN
    tt = np.asarray(true)
    return tt, tt + rng.uniform(-jitter, jitter, len(tt))


def _play(dec: MidiClockDecoder, times: np.ndarray, *, drop: set[int] = frozenset(),  # type: ignore[assignment]
          probe: int = -1) -> tuple[list[tuple[float, float]], float]:
    dec.feed(START, float(times[0]) - 0.01)
    beats: list[tuple[float, float]] = []
    tempo_at_probe = 0.0
    for k, t in enumerate(times):
        if k not in drop:
            dec.feed(CLOCK, float(t))
        for name, when, value in dec.events_received():
            if name == "beat":
                beats.append((value, when))
        if k == probe:
            tempo_at_probe = dec.tempo
    return beats, tempo_at_probe


@pytest.mark.parametrize(("bpm", "step_to"), [(120.0, 132.0), (174.0, 160.0), (120.0, 123.0), (140.0, 138.0)])
def test_tempo_settles_within_half_a_bpm_one_beat_after_a_step_with_jitter(bpm: float, step_to: float) -> None:
    true, jittered = _pulses([(bpm, 8), (step_to, 8)], jitter=0.001, seed=int(bpm))
    dec = MidiClockDecoder()
    beats, tempo = _play(dec, jittered, probe=9 * PPQN)  # one beat after the step
    assert abs(tempo - step_to) <= 0.5, f"{tempo:.2f} BPM one beat after {bpm} -> {step_to}"
    # beat times within 5 ms of the true beats (every beat after the first)
    truth = true[::PPQN]
    err = [abs(when - truth[int(i)]) for i, when in beats if i >= 1]
    assert len(err) == 15 and max(err) < 0.005, f"beat times off by up to {max(err) * 1000:.2f} ms"
    print(f"{bpm} -> {step_to} BPM: {tempo:.2f} one beat after the step, beat error max {max(err) * 1000:.2f} ms")


@pytest.mark.parametrize("bpm", [120.0, 174.0])
def test_steady_clock_reads_its_tempo_and_beats_despite_two_ms_jitter(bpm: float) -> None:
    true, jittered = _pulses([(bpm, 16)], jitter=0.002, seed=7)
    dec = MidiClockDecoder()
    beats, _ = _play(dec, jittered)
    assert abs(dec.tempo - bpm) < 0.5
    truth = true[::PPQN]
    err = [abs(when - truth[int(i)]) for i, when in beats if i >= 1]
    assert max(err) < 0.005
    assert [int(i) for i, _ in beats] == list(range(16))


def test_dropped_pulses_keep_the_position_on_the_grid() -> None:
    true, jittered = _pulses([(128.0, 12)], jitter=0.0005, seed=3)
    dec = MidiClockDecoder()
    beats, _ = _play(dec, jittered, drop={100, 101, 150, 200, 230})
    assert [int(i) for i, _ in beats] == list(range(12))
    t = float(true[-1]) + 0.001
    assert dec.beat_at(t) == pytest.approx((len(true) - 1) / PPQN + 0.001 * 128.0 / 60.0, abs=0.01)


def test_start_stop_continue_and_song_position_pointer() -> None:
    dec = MidiClockDecoder()
    per = 60.0 / 120.0 / PPQN
    t = 1.0
    dec.feed(START, t)
    for _ in range(2 * PPQN):
        t += per
        dec.feed(CLOCK, t)
    assert dec.playing and dec.beat_at(t) == pytest.approx((2 * PPQN - 1) / PPQN, abs=1e-6)
    dec.feed(STOP, t + 0.001)
    assert dec.beat_at(t + 0.01) is None and not dec.playing
    # Song Position Pointer to bar 3 (16 sixteenths = 4 beats... here 32 = 8 beats), split
    # across two feeds with a clock byte in the middle (real-time bytes may interleave)
    dec.feed(b"\xf2\x20", t + 0.002)
    dec.feed(CLOCK + b"\x00", t + per)
    t += per
    dec.feed(CONT, t + 0.001)
    t += per
    dec.feed(CLOCK, t)
    assert dec.beat_at(t) == pytest.approx(8.0, abs=1e-6)  # the first pulse after Continue
    names = [e[0] for e in dec.events_received()]
    assert names[0] == "start" and "stop" in names and "position" in names and "continue" in names
    # running status note messages and SysEx between pulses change nothing
    dec.feed(b"\x90\x40\x7f\x41\x7f\xf0\x01\x02\xf8\x03\xf7", t + per)
    assert dec.beat_at(t + per) == pytest.approx(8.0 + 1 / PPQN, abs=1e-6)


def test_clock_that_stops_arriving_is_gone_after_half_a_second() -> None:
    dec = MidiClockDecoder()
    dec.feed(START, 0.0)
    t = 0.0
    for _ in range(30):
        t += 0.02
        dec.feed(CLOCK, t)
    assert dec.beat_at(t + 0.1) is not None
    assert dec.beat_at(t + 0.6) is None


def test_port_adapter_opens_a_real_port_or_skips_with_the_reason() -> None:
    ports = list_ports()
    if not ports:
        pytest.skip("this machine has no MIDI input ports (no ALSA sequencer / no MIDI device)")
    from live.midi_port import MidiClockSource

    src = MidiClockSource(ports[0])
    try:
        assert src.read(0.0) is None  # no clock yet
    finally:
        src.close()


def test_unknown_port_is_one_clear_line() -> None:
    from live.midi_port import MidiClockSource
    from model.errors import ConfigError

    with pytest.raises(ConfigError, match="MIDI port 'nope' not found"):
        MidiClockSource("nope")
