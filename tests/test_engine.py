"""The engine core: blocks of any size in, exactly one frame per hop out, live controls."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from live.control import Control
from live.engine import JOINT_RING, Engine, parse_style
from model import skeleton as sk
from model.config import defaults
from model.errors import ConfigError, ProtocolError

REPO = Path(__file__).resolve().parent.parent


class StubGenerator:
    """Stand-in with the interface of live.runtime.Generator: the pose moves with the
    mean of the features times the energy control, plus the style mix."""

    fps = 30
    style_names = ("house", "ballet")
    control_names = ("energy", "variation")

    def __init__(self) -> None:
        self.calls: list[tuple[np.ndarray, np.ndarray]] = []
        self.resets = 0

    def reset(self, *, seed: int = 0) -> None:
        self.resets += 1

    def step(self, features: np.ndarray, *, style: np.ndarray, controls: np.ndarray) -> np.ndarray:
        self.calls.append((style.copy(), controls.copy()))
        pose = sk.rest_pose(on_floor=True)
        pose[9, 1] += float(np.mean(features)) * float(controls[0]) + 0.1 * float(style[0])
        return pose


class StubTracker:
    def __init__(self) -> None:
        self.taps: list[float] = []
        self.nudges: list[float] = []

    def tap(self, time_s: float) -> None:
        self.taps.append(time_s)

    def nudge(self, beats: float) -> None:
        self.nudges.append(beats)


class StubFeatures:
    """Stand-in for StreamingFeatures: one frame (the hop's mean |x|) per hop of input."""

    def __init__(self, cfg: dict[str, Any], input_sr: int) -> None:
        self.hop = input_sr // cfg["fps"]
        self.buf = np.zeros(0, np.float32)
        self.count = 0
        self.info: dict[str, np.ndarray] = {}
        self.tracker = StubTracker()

    def push(self, samples: np.ndarray) -> np.ndarray:
        x = np.asarray(samples, np.float32)
        if x.ndim == 2:
            x = x.mean(axis=1)
        self.buf = np.concatenate([self.buf, x])
        n = len(self.buf) // self.hop
        frames = np.abs(self.buf[: n * self.hop]).reshape(n, self.hop).mean(axis=1, keepdims=True)
        self.buf = self.buf[n * self.hop :]
        idx = np.arange(self.count, self.count + n)
        self.count += n
        self.info = {
            "tempo": np.full(n, 120.0),
            "is_beat": idx % 15 == 0,
            "beat_in_bar": (idx // 15) % 4 + 1,
            "bar": idx // 60,
            "confidence": np.full(n, 0.8),
        }
        return frames.astype(np.float32)


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def _engine(**live: Any) -> tuple[Engine, StubGenerator]:
    cfg = defaults()
    cfg["live"].update(live)
    gen = StubGenerator()
    return Engine(cfg, gen, features_factory=StubFeatures, clock=Clock()), gen


@pytest.mark.parametrize("block", [1, 64, 65, 128, 800, 8192, 8193])
def test_exactly_one_frame_per_hop_for_any_block_size(block: int) -> None:
    eng, _ = _engine()
    sr = 24000
    audio = np.random.default_rng(0).normal(scale=0.1, size=sr * 2 + 123).astype(np.float32)
    frames = []
    for s in range(0, len(audio), block):
        frames += eng.process(audio[s : s + block], sr=sr)
    assert [f.index for f in frames] == list(range(len(audio) // 800))
    assert frames[-1].t == pytest.approx(len(frames) / 30)
    assert all(f.joints.shape == (17, 3) and f.joints.dtype == np.float32 for f in frames)


def test_chunking_does_not_change_the_poses() -> None:
    audio = np.random.default_rng(1).normal(scale=0.2, size=24000).astype(np.float32)
    a, _ = _engine()
    one = [f.joints.copy() for f in a.process(audio, sr=24000)]
    b, _ = _engine()
    many = []
    for s in range(0, len(audio), 333):
        many += [f.joints.copy() for f in b.process(audio[s : s + 333], sr=24000)]
    np.testing.assert_array_equal(np.asarray(one), np.asarray(many))


def test_frames_carry_beat_tempo_and_latency() -> None:
    eng, _ = _engine()
    clock = eng._clock
    clock.t = 1000.010  # type: ignore[attr-defined]
    frames = eng.process(np.zeros(24000, np.float32), sr=24000, arrival=1000.0)
    assert frames[0].beat and frames[15].beat and not frames[1].beat
    assert frames[15].beat_in_bar == 2 and frames[0].bar == 0 and frames[29].bar == 0
    assert frames[0].tempo == 120.0 and frames[0].confidence == pytest.approx(0.8)
    assert frames[0].latency_ms == pytest.approx(10.0)
    snap = eng.snapshot()
    assert snap["frames"] == 30 and snap["latency_ms"]["p50"] == pytest.approx(10.0)
    assert snap["tempo"] == 120.0 and snap["styles"] == ["house", "ballet"]


def test_controls_reach_generator_and_post() -> None:
    eng, gen = _engine()
    assert eng.controls["style_strength"] == 2.0  # the config default
    eng.apply(Control("style_strength", 1.0))  # the mix as given
    assert eng.post.energy == 1.0
    state = eng.apply(Control("energy", 2.0))
    assert state["energy"] == 2.0 and eng.post.energy == 2.0  # post shrinks moves below 1
    eng.apply(Control("style", ("house", 1.0)))
    eng.apply(Control("style", ("ballet", 0.0)))
    eng.process(np.zeros(800, np.float32), sr=24000)
    style, ctrl = gen.calls[-1]
    np.testing.assert_allclose(style, [1.0, 0.0])
    np.testing.assert_allclose(ctrl, [2.0, 0.5])
    state = eng.apply(Control("styles", (0.2, 0.6)))
    assert state["styles"] == pytest.approx([0.2, 0.6])
    eng.process(np.zeros(800, np.float32), sr=24000)
    np.testing.assert_allclose(gen.calls[-1][0], [0.25, 0.75])
    state = eng.apply(Control("style_strength", 3.0))  # three times as far from the equal mix
    assert state["style_strength"] == 3.0
    eng.process(np.zeros(800, np.float32), sr=24000)
    np.testing.assert_allclose(gen.calls[-1][0], [-0.25, 1.25])
    eng.apply(Control("style_strength", 0.0))  # the equal mix whatever the weights
    eng.process(np.zeros(800, np.float32), sr=24000)
    np.testing.assert_allclose(gen.calls[-1][0], [0.5, 0.5])
    state = eng.apply(Control("mirror", True))
    assert state["mirror"] and eng.post.mirror
    eng.apply(Control("root", "follow"))
    assert eng.post.root == "follow"
    eng.apply(Control("smoothing", 0.0))
    assert eng.post.smoothing == 0.0
    state = eng.apply(Control("groove", 0.3))
    assert state["groove"] == 0.3 and eng.post.groove == 0.3
    state = eng.apply(Control("dynamics", 0.0))
    assert state["dynamics"] == 0.0 and eng.post.dynamics == 0.0
    eng.apply(Control("reset", None))
    assert gen.resets == 2
    eng.apply(Control("tempo/tap", None))
    eng.apply(Control("tempo/nudge", 0.25))
    assert eng.features.tracker.taps and eng.features.tracker.nudges == [0.25]


def test_bad_model_controls_are_refused_and_change_nothing() -> None:
    eng, _ = _engine()
    before = dict(eng.controls)
    with pytest.raises(ProtocolError, match="not in the model"):
        eng.apply(Control("style", ("tango", 0.5)))
    with pytest.raises(ProtocolError, match="needs 2 weights"):
        eng.apply(Control("styles", (0.1, 0.2, 0.3)))
    with pytest.raises(ProtocolError, match="unknown control"):
        eng.apply(Control("bogus", 1))
    assert eng.controls == before


def test_hold_freezes_frames() -> None:
    eng, _ = _engine(smoothing=0.0)
    rng = np.random.default_rng(2)
    eng.process(rng.normal(size=800).astype(np.float32), sr=24000)
    eng.apply(Control("hold", True))
    f = eng.process(rng.normal(size=1600).astype(np.float32), sr=24000)
    np.testing.assert_array_equal(f[0].joints, f[1].joints)
    eng.apply(Control("hold", False))
    g = eng.process(5 * rng.normal(size=1600).astype(np.float32), sr=24000, hold=True)
    np.testing.assert_array_equal(g[0].joints, f[1].joints)  # forced hold (lost device)
    h = eng.process(5 * rng.normal(size=800).astype(np.float32), sr=24000)
    assert not np.array_equal(h[0].joints, f[1].joints)


def test_joint_ring_keeps_recent_frames_intact() -> None:
    eng, _ = _engine()
    rng = np.random.default_rng(3)
    frames = eng.process(rng.normal(size=800 * 40).astype(np.float32), sr=24000)
    kept = [f.joints.copy() for f in frames]
    eng.process(rng.normal(size=800 * (JOINT_RING - 41)).astype(np.float32), sr=24000)
    np.testing.assert_array_equal(np.asarray([f.joints for f in frames]), np.asarray(kept))


def test_parse_style() -> None:
    names = ("house", "hiphop", "ballet")
    np.testing.assert_allclose(parse_style("", names), [1 / 3] * 3)
    np.testing.assert_allclose(parse_style("ballet", names), [0, 0, 1])
    np.testing.assert_allclose(parse_style("house:0.5, ballet:0.25", names, normalize=False), [0.5, 0, 0.25])
    with pytest.raises(ConfigError, match="not in the model"):
        parse_style("tango", names)


def test_real_features_and_model_make_one_frame_per_hop(tmp_path: Path) -> None:
    from live.runtime import Generator

    cfg = defaults()
    model = REPO / "models" / "default.onnx"
    if not model.exists():  # the toy model: real ONNX file, real metadata
        from export.toy import build_toy_model
        from model.features import FeatureSpec

        spec = FeatureSpec.from_config(cfg["features"])
        model = tmp_path / "toy.onnx"
        build_toy_model(model, feature_spec=spec.to_dict(), feature_dim=spec.dim)
    gen = Generator(str(model), provider="cpu", threads=1, feature_config=cfg["features"])
    eng = Engine(cfg, gen)
    sr = 44100
    audio = np.random.default_rng(4).normal(scale=0.1, size=(sr * 2, 2)).astype(np.float32)
    frames = []
    for s in range(0, len(audio), 441):
        frames += eng.process(audio[s : s + 441], sr=sr)
    assert [f.index for f in frames] == list(range(len(frames)))
    assert abs(len(frames) - 2 * eng.fps) <= 1
    assert sk.bone_length_error(np.asarray([f.joints for f in frames])) < 1e-4
    assert np.isfinite(np.asarray([f.joints for f in frames])).all()
    assert eng.snapshot()["cpu_ms"] > 0


class RecordingGenerator:
    """A real generator whose raw poses (before post-processing) are kept."""

    def __init__(self, gen: Any) -> None:
        self.gen = gen
        self.fps, self.style_names, self.control_names = gen.fps, gen.style_names, gen.control_names
        self.poses: list[np.ndarray] = []

    def reset(self, *, seed: int = 0) -> None:
        self.gen.reset(seed=seed)

    def step(self, features: np.ndarray, **kw: Any) -> np.ndarray:
        pose = self.gen.step(features, **kw)
        self.poses.append(pose.copy())
        return pose


class PassPost:
    """Post-processing that changes nothing (the interpolation is seen as it is)."""

    hold = False

    def process(self, pose: np.ndarray) -> np.ndarray:
        return pose

    def cue(self, *_: float) -> None:
        pass


def _real_engine(fps: int, phrase_bars: int | None = None) -> Engine:
    from live.runtime import load_generator

    cfg = defaults()
    cfg["features"]["fps"] = fps
    if phrase_bars is not None:
        cfg["live"]["phrase_bars"] = phrase_bars
    return Engine(cfg, load_generator(cfg))


def test_a_30_fps_model_serves_60_fps_one_interpolated_frame_per_hop() -> None:
    assert (REPO / "models" / "default.onnx").is_file(), "models/default.onnx is missing; rebuild it with `make default-model`"
    from model.synth_music import demo_song

    eng = _real_engine(60, phrase_bars=0)  # the model's own poses (no phrase blend) between the frames
    assert (eng.fps, eng.model_fps, eng.upsample) == (60, 30, 2)
    rec = RecordingGenerator(eng.generator)
    eng.generator = rec
    eng.post = PassPost()  # type: ignore[assignment]
    song = demo_song(seconds=8, seed=2)
    assert song.sample_rate == 24000
    frames, per_hop = [], []
    for s in range(0, len(song.audio) - 400 + 1, 400):  # one 60 fps hop per block
        made = eng.process(song.audio[s: s + 400], sr=24000)
        per_hop.append(len(made))
        frames += [(f.index, f.t, f.beat, f.joints.copy()) for f in made]
    # one frame per hop once the first model frame is there (the first hop waits for it)
    assert per_hop[0] == 0 and set(per_hop[1:]) == {1}
    assert [f[0] for f in frames] == list(range(len(frames)))
    assert frames[9][1] == pytest.approx(10 / 60)
    p = np.asarray(rec.poses)
    got = np.asarray([f[3] for f in frames])
    np.testing.assert_array_equal(got[1::2], p[: len(got[1::2])])  # odd frames: the model's poses
    mid = 0.5 * (p[:-1] + p[1:])  # even frames: halfway from the model frame before
    np.testing.assert_allclose(got[2::2], mid[: len(got[2::2])], atol=1e-6)
    beats = [f[0] for f in frames if f[2]]
    assert beats and all(i % 2 == 0 for i in beats)  # on the hop that completes the model frame
    # the same dance offline (render) as live, post-processing and phrase refreshes included
    live_eng = _real_engine(60)
    live = []
    for s in range(0, len(song.audio), 400):
        live += [f.joints.copy() for f in live_eng.process(song.audio[s: s + 400], sr=24000)]
    offline = _real_engine(60)
    off, info = offline.render(song.audio, sr=24000)
    assert live_eng.phrase.count == offline.phrase.count >= 1
    assert len(off) >= len(live) > 400
    np.testing.assert_allclose(off[: len(live)], np.asarray(live), atol=1e-4)
    assert len(info["is_beat"]) == len(off)


def test_parallel_render_makes_the_same_dance_bit_for_bit_with_features_in_a_child() -> None:
    """render(parallel=True) runs the features in a forked child process and feeds the
    model push by push: the same poses and beat information as the serial render, exactly;
    the child's CPU is reported and the child is gone afterwards."""
    import os
    import threading

    from live.engine import can_fork
    from live.runtime import load_generator
    from model.synth_music import demo_song

    song = demo_song(seconds=25, seed=4)
    cfg = defaults()
    gen = load_generator(cfg, offline=True)
    fork_ok = can_fork()  # Linux with a second CPU (CI): the child does the features

    def render(parallel: bool) -> tuple[np.ndarray, dict[str, np.ndarray], float]:
        eng = Engine(cfg, gen)
        eng.prepare(sr=song.sample_rate, warmup=False)
        poses, info = eng.render(song.audio, sr=song.sample_rate, parallel=parallel, push_seconds=7.0,
                                 model_frames=200)
        return poses, info, eng.render_stats["producer_cpu"]

    (a, ia, ca), (b, ib, cb) = render(False), render(True)
    assert len(a) > 700
    np.testing.assert_array_equal(a, b)
    for k in ("tempo", "is_beat", "beat_in_bar", "bar", "confidence"):
        np.testing.assert_array_equal(ia[k], ib[k])
    assert ca == 0.0 and (cb > 0.0) == fork_ok  # where a fork is not safe it renders here
    if fork_ok:
        with pytest.raises(ChildProcessError):
            os.wait()  # no child left behind
    # beside another thread (as in the server) a fork is not safe: the same dance, in-process
    stop = threading.Event()
    other = threading.Thread(target=stop.wait, daemon=True)
    other.start()
    try:
        c, _, cc = render(True)
    finally:
        stop.set()
        other.join()
    assert cc == 0.0
    np.testing.assert_array_equal(a, c)


def test_parallel_render_raises_the_childs_error_here() -> None:
    import os

    from live.engine import forked

    def items() -> Any:
        yield 1
        raise ConfigError("features.fmax 20000 Hz is above the Nyquist frequency")

    got = forked(items())
    if not hasattr(os, "fork"):  # no fork on this system: one clear error, nothing started
        with pytest.raises(RuntimeError, match="os.fork"):
            next(got)
        return
    assert next(got) == 1
    with pytest.raises(ConfigError, match="Nyquist"):
        next(got)
    stop_early = forked(iter(range(10**9)))  # the caller stops: the child is killed, not waited for forever
    assert next(stop_early) == 0
    stop_early.close()
    with pytest.raises(ChildProcessError):
        os.wait()


def test_can_fork_accepts_only_the_log_writer_thread_beside_the_main_one() -> None:
    """A fork copies only the calling thread: render(parallel) is allowed beside live.logq's
    writer (the child logs straight to stderr) but not beside any other thread."""
    import os
    import sys
    import threading

    from live.engine import can_fork
    from live.logq import DroppingQueueHandler

    if not sys.platform.startswith("linux") or len(os.sched_getaffinity(0)) < 2:
        assert not can_fork()  # no second CPU or not Linux: never forks
        return
    handler = DroppingQueueHandler()
    try:
        assert can_fork()
        stop = threading.Event()
        other = threading.Thread(target=stop.wait, daemon=True)
        other.start()
        try:
            assert not can_fork()
        finally:
            stop.set()
            other.join()
        assert can_fork()
    finally:
        handler.close()


def _drone(seconds: float = 6.0, sr: int = 24000) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def _groove_engine(fps: int, groove: float) -> Engine:
    from live.runtime import load_generator

    cfg = defaults()
    cfg["features"]["fps"] = fps
    cfg["live"]["groove"] = groove
    return Engine(cfg, load_generator(cfg))


@pytest.mark.parametrize("fps", [30, 60])
def test_no_groove_before_the_tracker_finds_a_pulse(fps: int) -> None:
    """A held drone has no beat, but the tracker's phase runs on at some tempo: the groove
    must not pump the dancer to it (it did: 41 % of the dancer's 1-6 Hz speed modulation at
    a phantom 183 BPM). Live and offline, at the model's rate and upsampled: the drone is
    danced the same with the groove on as off; music gets its groove once the beat is found."""
    from model.synth_music import demo_song

    drone = _drone()
    for how in ("live", "render"):
        got = []
        for groove in (0.8, 0.0):
            eng = _groove_engine(fps, groove)
            if how == "render":
                poses, info = eng.render(drone, sr=24000, parallel=False)
                tempo = np.asarray(info["tempo"])
            else:
                frames = [f for s in range(0, len(drone), 800) for f in eng.process(drone[s: s + 800], sr=24000)]
                poses = np.asarray([f.joints for f in frames])
                tempo = np.asarray([f.tempo for f in frames])
            got.append(poses)
            assert not tempo.any()  # no tempo to show either (the tracker's own drifts to 183 BPM)
        assert len(got[0]) > 5 * fps
        np.testing.assert_array_equal(got[0], got[1])
        assert not eng._pulse
    song = demo_song(seconds=8, seed=2).audio
    eng = _groove_engine(fps, 0.8)
    on, info = eng.render(song, sr=24000, parallel=False)
    off = _groove_engine(fps, 0.0).render(song, sr=24000, parallel=False)[0]
    moved = np.abs(on - off).max(axis=(1, 2))
    assert moved[-2 * fps:].max() > 0.01  # the groove re-times the music's dance
    tempo = np.asarray(info["tempo"])
    assert tempo[-fps:].min() > 60 and not tempo[: fps // 2].any()  # a tempo once the beat is found
