"""The latent pick (live/pick.py): the draw whose roll-out lies farthest from the dance so far,
as danced and mirrored; the same choices in the numpy step and the offline generator; one
draw is the dance as before; wired from ``live.pick``."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from export.parity import demo_features
from live.engine import Engine
from live.npstep import NumpyStep
from live.offline import NumpyGenerator
from live.pick import SUB, LatentPick
from live.runtime import Generator
from model import skeleton as sk
from model.config import defaults
from tests.test_npstep import traced_steps

REPO = Path(__file__).resolve().parent.parent
MODEL = REPO / "models" / "default.onnx"
WEIGHTS = REPO / "models" / "default_offline.npz"


def _body(t: float, lift: float = 0.0) -> np.ndarray:
    """A standing body [17, 3] whose left wrist and elbow swing with t (asymmetric on purpose,
    so that its mirror is another pose); ``lift`` raises both hands."""
    p = sk.rest_pose(on_floor=True).astype(np.float32)
    p[7, 0] += 0.3 * np.sin(t)  # left elbow and wrist (COCO 7, 9) swing sideways
    p[9, 0] += 0.5 * np.sin(t)
    p[9, 1] += 0.2 * np.cos(t)
    p[9, 1] += lift
    p[10, 1] += lift
    return p


def test_the_pick_takes_the_draw_that_does_not_come_back() -> None:
    fps = 30
    pick = LatentPick(4, nd=16, fps=fps, seed=0)
    period = 1.3  # s: the left arm swings, and swung so for 40 s
    for f in range(40 * fps):
        pick.push(_body(2 * np.pi * f / fps / period))
    assert pick.ready()
    steps = list(pick.sample_steps())
    f0 = 40 * fps
    same = np.stack([_body(2 * np.pi * (f0 + h) / fps / period).reshape(-1) for h in steps])
    mirrored = np.stack([sk.mirror(_body(2 * np.pi * (f0 + h) / fps / period)).reshape(-1) for h in steps])
    new = np.stack([_body(2 * np.pi * (f0 + h) / fps / period, lift=0.6).reshape(-1) for h in steps])
    # the repeat first, its mirror (a flip of the guard would show it as the repeat), then the
    # new move, then the repeat again: the new move is taken
    rolls = np.stack([same, mirrored, new, same])
    assert pick.choose(rolls) == 2
    # without the new move, nothing beats the first draw by more than rounding
    assert pick.choose(np.stack([same, same, same, same])) == 0
    assert pick.picks == 2 and pick.changed == 1


def test_the_pick_compares_mirrored_too() -> None:
    fps = 30
    pick = LatentPick(2, nd=16, fps=fps, seed=0)
    rest = sk.rest_pose(on_floor=True).astype(np.float32)  # left-right symmetric

    def swing(f: int, lift: float = 0.0) -> np.ndarray:
        return _body(2 * np.pi * f / fps / 1.3, lift=lift)

    for _ in range(3):  # stand 2 s, then swing the left arm 8 s; three times; then stand again
        for _ in range(2 * fps):
            pick.push(rest)
        for f in range(8 * fps):
            pick.push(swing(f))
    for _ in range(2 * fps):
        pick.push(rest)
    steps = list(pick.sample_steps())
    # from standing, the same swing with the right arm: the mirror of what was danced, and no
    # new move; the left arm's swing with both hands higher is one
    mirrored = np.stack([sk.mirror(swing(h)).reshape(-1) for h in steps])
    other = np.stack([swing(h, lift=0.3).reshape(-1) for h in steps])
    assert pick.choose(np.stack([mirrored, other])) == 1


def test_between_redraws_the_pick_looks_again_only_where_the_dance_comes_back() -> None:
    fps = 30
    pick = LatentPick(4, nd=16, fps=fps, seed=0, look=0.5)
    # looks every 0.5 s after a redraw, none on it and none too near the next one
    assert [ph for ph in range(60) if pick.checks(ph, 60)] == [15, 30, 45]
    assert [ph for ph in range(60) if LatentPick(4, nd=16, fps=fps, look=1.0).checks(ph, 60)] == [30]
    assert not any(LatentPick(4, nd=16, fps=fps).checks(ph, 60) for ph in range(60))  # off by default
    assert not LatentPick(1, nd=16, fps=fps, look=0.5).checks(15, 60)  # no pick, no look

    def arm(f: int, lift: float) -> np.ndarray:
        return _body(2 * np.pi * f / fps / 1.3, lift=lift)

    def history(p: LatentPick) -> None:  # 30 s of the swing, the hands at one of four heights
        for f in range(30 * fps):
            p.push(arm(f, lift=0.15 * ((f // (2 * fps)) % 4)))

    history(pick)
    for f in range(2 * fps):  # both hands higher than ever: a new move
        pick.push(arm(f, lift=1.2))
    assert not pick.repeating()
    again = LatentPick(4, nd=16, fps=fps, seed=0)
    history(again)
    for f in range(2 * fps):  # the first two seconds again: it comes back
        again.push(arm(f, lift=0.0))
    assert again.repeating()
    mirrored = LatentPick(4, nd=16, fps=fps, seed=0)
    history(mirrored)
    for f in range(2 * fps):  # ...and so does their mirror
        mirrored.push(sk.mirror(arm(f, lift=0.0)))
    assert mirrored.repeating()


def test_one_draw_is_the_dance_as_before() -> None:
    feats = demo_features(seconds=20.0, fps=30)
    plain = NumpyStep(WEIGHTS, model_path=MODEL)
    one = NumpyStep(WEIGHTS, model_path=MODEL)
    one.set_pick(1)
    for g in (plain, one):
        g.reset(seed=3)
    assert np.array_equal(plain.step_frames(feats), one.step_frames(feats))
    off = NumpyGenerator(WEIGHTS, seed=3)
    off1 = NumpyGenerator(WEIGHTS, seed=3)
    off1.set_pick(1)
    off1.reset(seed=3)
    assert np.array_equal(off.step_frames(feats), off1.step_frames(feats))


def test_the_numpy_step_and_the_offline_generator_pick_alike() -> None:
    feats = demo_features(seconds=45.0, fps=30)
    step = NumpyStep(WEIGHTS, model_path=MODEL)
    off = NumpyGenerator(WEIGHTS)
    plain = NumpyGenerator(WEIGHTS)
    for g in (step, off):
        g.set_pick(8, 0.5)  # with looks between redraws (live.pick_look 0.5)
    for g in (step, off, plain):
        g.reset(seed=4)
    a = step.step_frames(feats)
    b = np.concatenate([off.step_frames(feats[i: i + 250]) for i in range(0, len(feats), 250)])  # chunks as render
    c = plain.step_frames(feats)
    assert step.pick.picks == off.pick.picks > 10  # a decision every 2 s once 4.5 s are danced
    assert step.pick.changed == off.pick.changed > 0
    assert step.pick.looks == off.pick.looks > 0  # decisions between redraws where the dance came back
    assert np.abs(a - b).max() < 1e-4
    # the first decision falls at 6 s (the first redraw with 4.5 s behind it): the same dance up to it
    assert np.abs(a[:180] - c[:180]).max() < 1e-4
    assert np.abs(a[240:] - c[240:]).max() > 0.1
    # the same seed, the same dance; another seed, other choices
    step.reset(seed=4)
    assert np.array_equal(step.step_frames(feats), a)


def test_no_array_is_allocated_between_decisions() -> None:
    feats = demo_features(seconds=10.0, fps=30)
    step = NumpyStep(WEIGHTS, model_path=MODEL)
    step.set_pick(8)
    step.reset(seed=0)
    # traced past the first decision at frame 180 and its choice taken (186), up to the pick's
    # first look between redraws (195: every 0.5 s it may decide again, and a decision copies the
    # decoder's state for its worker)
    kept, peak = traced_steps(step, feats[:195], 187)
    assert step.pick.picks == 1
    assert kept < 2048, f"{kept} bytes kept over 8 frames"
    assert peak < 4096, f"a frame allocates {peak} bytes at its peak"
    assert SUB == 3


def test_the_engine_sets_the_pick_from_the_config(caplog: object) -> None:
    cfg = defaults()
    step = NumpyStep(WEIGHTS, model_path=MODEL)
    Engine(cfg, step)
    assert step.pick.count == cfg["live"]["pick"] == 8
    assert step.pick.look == cfg["live"]["pick_look"] == 0.0  # no looks between redraws by default
    cfg["live"]["pick_look"] = 0.5
    Engine(cfg, step)
    assert step.pick.look == 0.5
    cfg["live"]["pick"] = 1
    Engine(cfg, step)
    assert step.pick.count == 1
    cfg["live"]["pick"] = 8
    with caplog.at_level(logging.INFO, logger="dancemuse.engine"):  # type: ignore[attr-defined]
        Engine(cfg, Generator(MODEL))
    assert "the ONNX runtime rolls out no draws" in caplog.text  # type: ignore[attr-defined]


def test_free_ensemble_dancers_each_pick(caplog: object) -> None:
    from live.ensemble import FanOutGenerator

    cfg = defaults()
    gens = [NumpyStep(WEIGHTS, model_path=MODEL) for _ in range(2)]
    fan = FanOutGenerator(gens, [None, None])
    with caplog.at_level(logging.INFO, logger="dancemuse.engine"):  # type: ignore[attr-defined]
        Engine(cfg, fan)
    assert [g.pick.count for g in gens] == [8, 8]
    assert "rolls out no draws" not in caplog.text  # type: ignore[attr-defined]
