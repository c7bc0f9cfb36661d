"""Phrase refreshes (live/phrase.py): the decoder's memory is redrawn on the downbeat of every
``live.phrase_bars``-th bar heard, the jump faded out; the same draws in every runtime."""

from __future__ import annotations

import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from export.parity import demo_features
from live.control import Control
from live.engine import Engine
from live.feel import beat_columns
from live.npstep import NumpyStep
from live.offline import NumpyGenerator
from live.phrase import BLEND_S, MIN_PHRASE_S, REFRESH_KEEP, PhraseRefresh
from live.runtime import Generator
from model import skeleton as sk
from model.config import defaults
from tests.test_feel import BAR, FPS, _cfg, _Features, _rows

REPO = Path(__file__).resolve().parent.parent
MODEL = REPO / "models" / "default.onnx"
WEIGHTS = REPO / "models" / "default_offline.npz"
HAND = sk.JOINT_INDEX["left_wrist"]


class _Gen:
    """A generator whose memory is a counter: every refresh moves the left hand 0.5 m and the
    whole body (hips too: travel) 1 m along x, so the emitted pose shows the jump."""

    fps = FPS
    style_names = ("a",)
    control_names = ("energy", "variation")
    block = 1

    def __init__(self) -> None:
        self.refreshes: list[int] = []
        self.frames = 0

    def reset(self, *, seed: int = 0) -> None:
        self.refreshes.clear()
        self.frames = 0

    def refresh(self, keep: float = REFRESH_KEEP) -> None:
        self.refreshes.append(self.frames)

    def _pose(self) -> np.ndarray:
        p = sk.rest_pose(on_floor=True).astype(np.float32)
        p[HAND, 0] += 0.5 * len(self.refreshes)
        p[:, 0] += 1.0 * len(self.refreshes) + 0.01 * self.frames  # travel, and a jump of the root
        return p

    def step(self, features: np.ndarray, *, style: Any = None, controls: Any = None) -> np.ndarray:
        p = self._pose()
        self.frames += 1
        return p

    def step_frames(self, features: np.ndarray, *, style: Any = None, controls: Any = None) -> np.ndarray:
        return np.stack([self.step(f) for f in features])


def _phrase(bars: int = 2) -> tuple[PhraseRefresh, _Gen]:
    gen = _Gen()
    return PhraseRefresh(gen, at=beat_columns(_cfg()), bars=bars, fps=FPS), gen


def _run(ph: PhraseRefresh, gen: Any, rows: np.ndarray) -> np.ndarray:
    out = []
    for r in rows:
        ph.before(r)
        p = gen.step(r)
        ph.after(p)
        out.append(p)
    return np.stack(out)


def test_refresh_on_every_second_downbeat_at_least_min_phrase_apart() -> None:
    ph, gen = _phrase(2)
    _run(ph, gen, _rows(8 * BAR))  # 120 bpm 4/4: a bar is 60 frames (2 s)
    assert gen.refreshes == [2 * BAR, 4 * BAR, 6 * BAR] and ph.count == 3
    fast, g2 = _phrase(1)  # every bar (2 s) asked for: no closer than MIN_PHRASE_S (3 s)
    _run(fast, g2, _rows(8 * BAR))
    assert g2.refreshes == [2 * BAR, 4 * BAR, 6 * BAR]
    assert np.diff(g2.refreshes).min() > MIN_PHRASE_S * FPS
    off, g3 = _phrase(0)
    assert not off.on
    blind = PhraseRefresh(_Gen(), at=None, bars=2, fps=FPS)  # no bar phase in the features
    assert not blind.on


def test_a_beat_source_without_bars_gets_a_bar_every_four_beats() -> None:
    at = beat_columns(_cfg())
    assert at is not None
    rows = _rows(12 * BAR)
    rows[:, at + 4], rows[:, at + 5] = 0.0, 1.0  # the bar phase stands still
    ph, gen = _phrase(2)
    _run(ph, gen, rows)
    # bars from the 8th beat on (frame 120), every 4 beats: refreshes on every second one
    assert gen.refreshes == [180, 300, 420, 540, 660]


def test_the_jump_is_faded_out_and_the_travel_kept() -> None:
    ph, gen = _phrase(2)
    poses = _run(ph, gen, _rows(3 * BAR))
    k = 2 * BAR  # the refresh: the raw hand jumps 0.5 m there, the body 1 m (the model's travel)
    rel = poses - sk.root_of(poses)[:, None, :]
    step = np.abs(np.diff(rel[:, HAND, 0]))
    assert step[k - 1] < 1e-6  # no jump of the hand relative to the body at the refresh
    n = int(round(BLEND_S * FPS))
    assert rel[k + n, HAND, 0] - rel[k - 1, HAND, 0] == pytest.approx(0.5, abs=1e-6)  # then the new pose
    assert step[k: k + n].max() < 0.5 / n * 1.6  # on the way: a smoothstep, no step over 1.6x the mean
    root = sk.root_of(poses)[:, 0]
    assert root[k] - root[k - 1] == pytest.approx(1.01, abs=1e-5)  # the root's own motion is not faded


def test_offline_frames_equal_the_live_loop_and_a_block_model_waits_for_its_block() -> None:
    rows = _rows(7 * BAR + 7)
    live, g1 = _phrase(2)
    a = _run(live, g1, rows)
    off, g2 = _phrase(2)
    b = np.concatenate([off.frames(rows[i: i + 50], g2.step_frames) for i in range(0, len(rows), 50)])
    np.testing.assert_array_equal(a, b)
    assert g1.refreshes == g2.refreshes
    blk, g3 = _phrase(2)
    g3.block = blk.block = 16
    c = np.concatenate([blk.frames(rows[i: i + 64], g3.step_frames) for i in range(0, len(rows), 64)])
    assert len(c) == len(rows)
    assert g3.refreshes == [-(-r // 16) * 16 for r in g1.refreshes]  # the next block boundary


def test_the_engine_refreshes_live_and_offline_alike() -> None:
    cfg = defaults()
    cfg["features"]["fps"] = FPS
    live = Engine(cfg, _Gen(), features_factory=_Features)
    assert live.phrase.on and live.phrase.bars == cfg["live"]["phrase_bars"] == 2
    frames = []
    for _ in range(3 * BAR + 5):
        frames += [f.joints.copy() for f in live.process(np.zeros(800, np.float32), sr=24000)]
    assert live.phrase.count == 1
    off = Engine(cfg, _Gen(), features_factory=_Features)
    poses, _ = off.render(np.zeros((3 * BAR + 5) * 800, np.float32), sr=24000)
    assert off.phrase.count == 1
    np.testing.assert_allclose(poses[: len(frames)], np.stack(frames), atol=1e-6)
    live.apply(Control("reset", None))
    assert live.phrase.count == 0


def test_a_refresh_and_its_blend_allocate_nothing_per_frame() -> None:
    class Quiet(_Gen):
        def refresh(self, keep: float = REFRESH_KEEP) -> None:  # nothing kept per refresh (the stub's list would grow)
            pass

    gen = Quiet()
    ph = PhraseRefresh(gen, at=beat_columns(_cfg()), bars=2, fps=FPS)
    rows = _rows(4 * BAR)
    pose = sk.rest_pose(on_floor=True).astype(np.float32)
    for r in rows[: 2 * BAR - 5]:
        ph.before(r)
        ph.after(pose)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        for r in rows[2 * BAR - 5: 3 * BAR]:  # the refresh at 2 BAR and its whole blend
            ph.before(r)
            ph.after(pose)
        grown, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert ph.count == 1
    assert grown - base < 1024, f"{grown - base} bytes kept"
    assert peak - base < 4096, f"a frame allocates {peak - base} bytes at its peak"


def test_every_runtime_draws_the_same_new_memory() -> None:
    assert MODEL.is_file() and WEIGHTS.is_file(), "models/default.onnx or default_offline.npz is missing"
    feats = demo_features(seconds=4.0, fps=30)[:100]
    style = np.full(9, 1.0 / 9, np.float32)

    def dance(gen: Any, batched: bool) -> np.ndarray:
        gen.reset(seed=3)
        if batched:
            a = gen.step_frames(feats[:40], style=style)
            gen.refresh()
            return np.concatenate([a, gen.step_frames(feats[40:], style=style)])
        out = []
        for i, f in enumerate(feats):
            if i == 40:
                gen.refresh()
            out.append(gen.step(f, style=style).copy())
        return np.stack(out)

    onnx = dance(Generator(MODEL), False)
    step = dance(NumpyStep(WEIGHTS, model_path=MODEL), False)
    offline = dance(NumpyGenerator(WEIGHTS), True)
    assert np.abs(step - onnx).max() <= 1e-4 and np.abs(offline - onnx).max() <= 1e-4
    plain = Generator(MODEL)
    plain.reset(seed=3)
    kept = np.stack([plain.step(f, style=style).copy() for f in feats])
    assert np.abs(kept[:40] - onnx[:40]).max() == 0.0
    assert np.abs(kept[41:] - onnx[41:]).max() > 0.05  # the refresh changed the dance


def test_an_ensemble_refreshes_every_dancer() -> None:
    from live.ensemble import FanOutGenerator

    gens = [_Gen(), _Gen()]
    fan = FanOutGenerator(gens, [None, None])
    ph = PhraseRefresh(fan, at=beat_columns(_cfg()), bars=2, fps=FPS)
    assert ph.on
    for r in _rows(2 * BAR + 1):
        ph.before(r)
        ph.after(fan.step(r))
    assert [g.refreshes for g in gens] == [[2 * BAR], [2 * BAR]]


def test_an_ensembles_other_dancers_fade_their_jump_too() -> None:
    """The engine fades dancer 0's jump (PhraseRefresh.after); the fan-out fades the others'
    itself, the same way: no jump of the hand relative to the body, the travel kept."""
    from live.ensemble import FanOutGenerator

    gens = [_Gen(), _Gen(), _Gen()]
    fan = FanOutGenerator(gens, [None, None, None])
    ph = PhraseRefresh(fan, at=beat_columns(_cfg()), bars=2, fps=FPS)
    raws = []
    for r in _rows(3 * BAR):
        ph.before(r)
        ph.after(fan.step(r))
        raws.append(fan.raw[(fan.steps - 1) % len(fan.raw)].copy())
    dancers = np.stack(raws)  # [t, 3, 17, 3]
    k = 2 * BAR
    for i in range(3):
        rel = dancers[:, i] - sk.root_of(dancers[:, i])[:, None, :]
        assert abs(rel[k, HAND, 0] - rel[k - 1, HAND, 0]) < 1e-6, i  # faded, as dancer 0
        n = int(round(BLEND_S * FPS))
        assert rel[k + n, HAND, 0] - rel[k - 1, HAND, 0] == pytest.approx(0.5, abs=1e-6)
        root = sk.root_of(dancers[:, i])[:, 0]
        assert root[k] - root[k - 1] == pytest.approx(1.01, abs=1e-5)
    fan.reset(seed=0)
    assert not any(f.active for f in fan._fades)
