"""Clock sources by priority and the no-jump hand-over (live/clock.py), with no I/O."""

from __future__ import annotations

import math

import numpy as np
import pytest

from live.clock import ClockedTracker, ClockMixer, TapSource, check_priority
from model.errors import ConfigError

FPS = 30


class FakeTracker:
    """A steady audio tracker: ``tempo`` BPM, beat 0 at audio time ``offset``."""

    def __init__(self, tempo: float = 120.0, offset: float = 0.0, confidence: float = 0.9) -> None:
        self.beats_per_bar = 4
        self.tempo, self.offset, self.confidence = tempo, offset, confidence
        self.n = 0
        self.phase, self.is_beat, self.beat_in_bar, self.bar = 0.0, False, 0, 0
        self.next_beat_time = self.beat_time = 0.0
        self._b = -1

    def step(self, onset: float, low: float = 0.0, mel: object = None) -> None:
        self.n += 1
        x = (self.n / FPS - self.offset) * self.tempo / 60.0
        b = math.floor(x)
        self.is_beat = b > self._b and self.n > 1
        self._b = b
        self.phase = x - b
        self.beat_in_bar = b % 4 + 1
        self.bar = max(0, b // 4)
        if self.is_beat:
            self.beat_time = self.offset + b * 60.0 / self.tempo

    def tap(self, t: float) -> None:
        pass

    def nudge(self, beats: float) -> None:
        pass


class Grid:
    """A clock source: ``tempo`` BPM, beat 0 at wall ``t0``; answers while ``on``."""

    knows_bars = True

    def __init__(self, tempo: float, t0: float = 0.0) -> None:
        self.tempo, self.t0, self.on = tempo, t0, True

    def read(self, wall: float) -> tuple[float, float] | None:
        return (self.tempo, (wall - self.t0) * self.tempo / 60.0) if self.on else None


def _run(tr: ClockedTracker, frames: int) -> dict[str, np.ndarray]:
    out: dict[str, list[float]] = {k: [] for k in ("phase", "tempo", "beat", "bib", "src", "beat_time")}
    for _ in range(frames):
        tr.step(0.0)
        out["phase"].append(tr.phase)
        out["tempo"].append(tr.tempo)
        out["beat"].append(float(tr.is_beat))
        out["bib"].append(float(tr.beat_in_bar))
        out["src"].append(float(tr.source != "audio"))
        out["beat_time"].append(tr.beat_time if tr.is_beat else np.nan)
    return {k: np.asarray(v) for k, v in out.items()}


def test_audio_only_is_a_pure_pass_through_of_the_tracker() -> None:
    inner, ref = FakeTracker(118.0, 0.13), FakeTracker(118.0, 0.13)
    tr = ClockedTracker(inner, ClockMixer({}), fps=FPS)
    tr.wall_offset = 1000.0
    for _ in range(300):
        tr.step(0.0)
        ref.step(0.0)
        assert (tr.tempo, tr.phase, tr.is_beat, tr.beat_in_bar, tr.bar) == (
            ref.tempo, ref.phase, ref.is_beat, ref.beat_in_bar, ref.bar)


def test_pass_through_follows_the_trackers_metre_changes() -> None:
    inner = FakeTracker(118.0)
    tr = ClockedTracker(inner, ClockMixer({}), fps=FPS)
    tr.step(0.0)
    inner.beats_per_bar = 3  # the audio tracker hears 3/4
    tr.step(0.0)
    assert tr.beats_per_bar == 3


def test_external_clock_sets_tempo_phase_bar_and_exact_beat_times() -> None:
    link = Grid(97.0, t0=1000.0 + 0.05)
    tr = ClockedTracker(FakeTracker(120.0, confidence=0.1), ClockMixer({"link": link}), fps=FPS)
    tr.wall_offset = 1000.0  # wall = audio time + 1000
    r = _run(tr, 20 * FPS)
    assert r["src"].all() and np.allclose(r["tempo"], 97.0)
    beats = np.flatnonzero(r["beat"])
    # the beat flag sits on the frame nearest each beat, its beat_time is exact
    bt = r["beat_time"][beats]
    k = np.round((bt + 1000.0 - link.t0) * 97.0 / 60.0)
    assert np.abs((bt + 1000.0 - link.t0) - k * 60.0 / 97.0).max() < 1e-9
    assert np.abs((beats + 1) / FPS - bt).max() <= 0.5 / FPS + 1e-9
    assert np.all(np.diff(k) == 1), "a beat was skipped or doubled"
    # beat-in-bar follows the clock's bar (quantum = beats per bar)
    assert np.array_equal(r["bib"][beats], k % 4 + 1)


def test_hand_over_from_audio_to_link_and_back_never_jumps() -> None:
    inner = FakeTracker(120.0, offset=0.2, confidence=0.9)
    link = Grid(126.0, t0=1000.0 + 0.31)
    link.on = False
    tr = ClockedTracker(inner, ClockMixer({"link": link}), fps=FPS)
    tr.wall_offset = 1000.0
    a = _run(tr, 10 * FPS)  # audio drives
    link.on = True
    b = _run(tr, 40 * FPS)  # Link joins mid-show
    link.on = False
    c = _run(tr, 40 * FPS)  # the last peer leaves
    phase = np.concatenate([a["phase"], b["phase"], c["phase"]])
    tempo = np.concatenate([a["tempo"], b["tempo"], c["tempo"]])
    step = np.diff(phase) % 1.0  # beats advanced per frame
    nominal = tempo[1:] / 60.0 / FPS
    assert np.all(np.abs(step - nominal) <= 0.1 * nominal + 1e-6), "the beat phase jumped"
    assert np.abs(np.diff(tempo)).max() < 1.0, "the tempo jumped"
    # a beat is never doubled: beat frames at least 0.8 beat apart
    beats = np.flatnonzero(np.concatenate([a["beat"], b["beat"], c["beat"]]))
    beat_pos = np.cumsum(np.concatenate([[0.0], step]))[beats]
    assert np.diff(beat_pos).min() > 0.8
    # after the glide, the dancer is on Link's grid, bars included ...
    end_b = slice(-5 * FPS, None)
    wall = (np.arange(50 * FPS - 5 * FPS, 50 * FPS) + 1) / FPS + 1000.0
    x = (wall - link.t0) * 126.0 / 60.0
    assert np.allclose(b["phase"][end_b], x % 1.0, atol=1e-6)
    assert np.array_equal(b["bib"][end_b], np.floor(x + 0.5 * 126 / 60 / FPS) % 4 + 1)
    # ... and back on the tracker's own (pass-through) once the audio grid is reached
    assert tr._through and tr.source == "audio"
    assert tr.phase == inner.phase and tr.beat_in_bar == inner.beat_in_bar


def test_priority_order_is_configurable_and_audio_is_last() -> None:
    link, midi = Grid(100.0), Grid(140.0)
    m = ClockMixer({"link": link, "midi": midi})
    assert m.pick(5.0)[0] == "link"  # type: ignore[index]
    link.on = False
    assert m.pick(5.0)[0] == "midi"  # type: ignore[index]
    midi.on = False
    assert m.pick(5.0) is None
    link.on = midi.on = True
    m2 = ClockMixer({"link": link, "midi": midi}, priority=["midi", "link"])
    assert m2.pick(5.0)[0] == "midi"  # type: ignore[index]
    assert check_priority(["link", "tap"]) == ("link", "tap", "audio")
    with pytest.raises(ConfigError, match="clock.priority"):
        check_priority(["link", "ableton"])


def test_tap_tempo_drives_for_its_hold_time_then_lets_go() -> None:
    tap = TapSource(hold_s=5.0)
    for k in range(4):
        tap.tap(10.0 + 0.6 * k)  # 100 BPM
    r = tap.read(12.0)
    assert r is not None and r[0] == pytest.approx(100.0)
    assert r[1] == pytest.approx(3.0 + 0.2 * 100.0 / 60.0)
    assert tap.read(12.0 + 5.5) is None
    mixer = ClockMixer({"tap": tap})
    tr = ClockedTracker(FakeTracker(120.0, confidence=0.1), mixer, fps=FPS)
    tr.wall_offset = 0.0
    tr.tap(20.0)
    tr.tap(20.5)  # 120 BPM from the taps, through the engine's tap control
    tr.wall_offset = 20.5 - 1.0 / FPS
    tr.step(0.0)
    assert tr.source == "tap" and tr.tempo == pytest.approx(120.0)


def test_real_features_are_identical_with_the_clock_installed_and_no_clock_driving() -> None:
    from model.config import load_config
    from model.features import StreamingFeatures

    cfg = load_config()["features"]
    sr = 24000
    t = np.arange(int(6 * sr)) / sr
    x = (0.5 * np.sin(2 * np.pi * 60 * t) * (np.mod(t, 0.5) < 0.05)).astype(np.float32)
    x += 0.01 * np.random.default_rng(0).standard_normal(len(x)).astype(np.float32)
    plain = StreamingFeatures(cfg, input_sr=sr)
    clocked = StreamingFeatures(cfg, input_sr=sr)
    clocked.tracker = ClockedTracker(clocked.tracker, ClockMixer({}),  # type: ignore[assignment]
                                     fps=int(cfg["fps"]))
    for i in range(0, len(x), 800):
        a, b = plain.push(x[i: i + 800]), clocked.push(x[i: i + 800])
        assert np.array_equal(a, b)
        assert np.array_equal(plain.info.is_beat, clocked.info.is_beat)
