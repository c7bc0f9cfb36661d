"""Energy calibration per style (model/energy_calib.py, `dancemuse calibrate`): measured on a
real (tiny) trained model and dataset, stored in the checkpoint, exported into the model's
metadata, and applied by the live engine to the energy it feeds the model."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from live.control import Control
from live.engine import Engine
from model import metrics_dancer as md
from model.config import defaults
from model.energy_calib import (
    FAST_FLOW,
    FAST_HITS,
    GAIN_RANGE,
    GROOVE_DATA,
    GROOVE_FLOOR_DIP,
    GROOVE_HARMONICS,
    SCALE_RANGE,
    energy_calibration,
    gain_of,
    groove_profile,
    groove_profiles,
    limb_speed,
    scale_of,
    smoothing_calibration,
    smoothing_factor,
    smoothing_of,
    solve_scale,
    style_gains,
    style_tempi,
    style_tempo,
    tempo_of,
)
from model.errors import ConfigError, ModelError
from tests.test_engine import StubGenerator
from tests.test_train import TINY, make_dataset

torch.set_num_threads(1)


def test_solve_scale_finds_the_energy_where_the_model_moves_like_the_data() -> None:
    e = [1.0, 1.6, 2.2]
    assert solve_scale(e, [0.5 * x for x in e]) == pytest.approx(2.0, rel=1e-6)  # ratio = e / 2
    assert solve_scale(e, [0.8 * x**0.5 for x in e]) == pytest.approx(1.25**2, rel=1e-6)
    assert solve_scale(e, [1.2 * x for x in e]) == pytest.approx(1 / 1.2, rel=1e-6)  # moves too much: below 1
    assert solve_scale(e, [0.1 * x for x in e]) == SCALE_RANGE[1]  # clipped
    assert solve_scale(e, [0.5, 0.5, 0.5]) == 1.0  # energy does not move it: left alone
    assert solve_scale(e, [float("nan"), 0.5, float("nan")]) == 1.0


def test_scale_of_a_mix_is_the_weighted_geometric_mean() -> None:
    scales = np.array([2.0, 0.5, 1.0])
    assert scale_of(np.array([1.0, 0, 0]), scales) == pytest.approx(2.0)
    assert scale_of(np.array([0.5, 0.5, 0]), scales) == pytest.approx(1.0)
    assert scale_of(np.array([3.0, 0, 1.0]), scales) == pytest.approx(2.0**0.75)  # weights normalised
    assert scale_of(np.zeros(3), scales) == 1.0


def test_energy_calibration_reads_the_metadata_and_refuses_nonsense() -> None:
    assert energy_calibration({}, ["a"]) == (None, math.inf)
    s, top = energy_calibration({"energy_scale": {"b": 2.0}, "energy_max": 2.5}, ["a", "b"])
    assert s is not None and list(s) == [1.0, 2.0] and top == 2.5
    with pytest.raises(ModelError, match="energy_scale"):
        energy_calibration({"energy_scale": {"a": -1.0}}, ["a"])
    with pytest.raises(ModelError, match="energy_scale"):
        energy_calibration({"energy_scale": {"a": "lots"}}, ["a"])


def _arm_dance(kind: str, seconds: float = 12.0, fps: int = 30) -> np.ndarray:
    """A standing body whose right wrist sways (1 Hz sine) or hits (jumps to a new held place
    every 0.25 s): absolute poses [t, 17, 3]."""
    from model.skeleton import JOINT_INDEX, rest_pose

    t = np.arange(int(seconds * fps)) / fps
    p = np.repeat(np.asarray(rest_pose(), np.float32)[None], len(t), axis=0)
    w = JOINT_INDEX["right_wrist"]
    if kind == "sway":
        p[:, w, 1] += 0.3 * np.sin(2 * np.pi * t).astype(np.float32)
    else:
        rng = np.random.default_rng(0)
        held = rng.uniform(-0.3, 0.3, int(seconds * 4) + 1).astype(np.float32)
        p[:, w, 1] += held[(t * 4).astype(int)]
    return p


def test_fast_share_tells_hits_from_flow_and_sets_the_smoothing_factor() -> None:
    from model.metrics_dancer import fast_share

    flow, hits = fast_share(_arm_dance("sway"), fps=30), fast_share(_arm_dance("hits"), fps=30)
    assert flow < 0.02 and hits > 0.3, (flow, hits)
    assert smoothing_factor(flow) == 1.0 and smoothing_factor(hits) == 0.0
    assert smoothing_factor(FAST_FLOW) == 1.0 and smoothing_factor(FAST_HITS) == 0.0
    assert smoothing_factor(0.5 * (FAST_FLOW + FAST_HITS)) == pytest.approx(0.5)
    assert smoothing_factor(float("nan")) == 1.0
    assert math.isnan(fast_share(_arm_dance("sway")[:5], fps=30))
    still = np.repeat(_arm_dance("sway")[:1], 60, axis=0)
    assert math.isnan(fast_share(still, fps=30))


def test_smoothing_calibration_reads_the_metadata_and_refuses_nonsense() -> None:
    assert smoothing_calibration({}, ["a"]) is None
    f = smoothing_calibration({"smoothing_scale": {"b": 0.25}}, ["a", "b"])
    assert f is not None and list(f) == [1.0, 0.25]
    for bad in (1.5, -0.1, "some", float("nan")):
        with pytest.raises(ModelError, match="smoothing_scale"):
            smoothing_calibration({"smoothing_scale": {"a": bad}}, ["a"])
    assert smoothing_of(np.array([1.0, 3.0]), np.array([1.0, 0.0])) == pytest.approx(0.25)
    assert smoothing_of(np.zeros(2), np.array([1.0, 0.0])) == 1.0


def test_groove_profile_is_the_datas_mean_with_a_floor_on_the_dip_and_reads_back() -> None:
    n = 2 * GROOVE_HARMONICS
    house = np.array([-0.3, 0.05, -0.4, 0.0, 0.0, 0.0])[:n]
    got = groove_profile([house, house + 0.1, np.full(n, np.nan)])  # a clip without beats does not count
    np.testing.assert_allclose(got, np.where(np.arange(n) == 0, -GROOVE_FLOOR_DIP, house + 0.05), atol=1e-9)
    ballet = groove_profile([np.r_[-0.8, np.zeros(n - 1)]])
    assert ballet[0] == -0.8  # under the floor already: kept
    assert groove_profile([]) == [-GROOVE_DATA] + [0.0] * (n - 1)  # no beats: the plain cosine
    flat = np.r_[-0.01, 0.02, np.zeros(n - 2)]  # a style without pulse, given its own floor
    assert groove_profile([flat], floor=0.1)[:2] == [-0.1, 0.02]
    assert groove_profile([flat], floor=0.0)[0] == -0.01  # no floor: the data's own dip
    assert groove_profile([house], floor=0.1)[0] == -0.3  # deeper than the floor: the data's
    assert groove_profiles({"smoothing_scale": {"a": 0.5}}, ["a"]) is None
    f = groove_profiles({"groove_profile": {"b": house.tolist()}}, ["a", "b"])
    assert f is not None and f.shape == (2, n)
    np.testing.assert_allclose(f[0], [-GROOVE_DATA] + [0.0] * (n - 1))  # not listed: the cosine
    np.testing.assert_allclose(f[1], house)
    for bad in ([0.1] * (n - 1), [5.0] + [0.0] * (n - 1), ["x"] * n, [float("nan")] * n, 0.3):
        with pytest.raises(ModelError, match="groove_profile"):
            groove_profiles({"groove_profile": {"a": bad}}, ["a"])


def test_style_tempo_is_the_length_weighted_median_and_reads_back() -> None:
    grid = [np.arange(0, 30, 60.0 / bpm) for bpm in (90.0, 100.0, 160.0)]
    assert style_tempo(grid, [10.0, 10.0, 10.0]) == pytest.approx(100.0)
    assert style_tempo(grid, [10.0, 10.0, 30.0]) == pytest.approx(160.0)  # the long clip weighs more
    assert math.isnan(style_tempo([np.zeros(1)], [10.0]))  # no clip with two beats
    assert style_tempi({}, ["a"]) is None
    t = style_tempi({"style_tempo": {"b": 120.0}}, ["a", "b"])
    assert t is not None and math.isnan(t[0]) and t[1] == 120.0
    for bad in (10.0, 900.0, "fast"):
        with pytest.raises(ModelError, match="style_tempo"):
            style_tempi({"style_tempo": {"a": bad}}, ["a"])
    assert tempo_of(np.array([1.0, 1.0]), np.array([60.0, 240.0])) == pytest.approx(120.0)
    assert tempo_of(np.array([1.0, 1.0]), np.array([float("nan"), 240.0])) == pytest.approx(240.0)
    assert tempo_of(np.zeros(2), np.array([60.0, 240.0])) == 0.0


class _Calibrated(StubGenerator):
    meta = {"energy_scale": {"house": 2.0, "ballet": 0.5}, "energy_max": 2.5}


def test_engine_feeds_the_model_the_calibrated_energy_and_post_the_users() -> None:
    cfg = defaults()
    cfg["model"]["style"] = "house"
    gen = _Calibrated()
    eng = Engine(cfg, gen)
    i = eng.control_names.index("energy")
    assert eng._ctrl[i] == pytest.approx(2.0)  # user energy 1 x house's 2
    eng.apply(Control("energy", 0.5))
    assert eng._ctrl[i] == pytest.approx(1.0) and eng.controls["energy"] == 0.5
    eng.apply(Control("energy", 2.0))
    assert eng._ctrl[i] == pytest.approx(2.5)  # the ceiling
    eng.apply(Control("energy", 1.0))
    eng.apply(Control("styles", [0.5, 0.5]))
    assert eng._ctrl[i] == pytest.approx(1.0)  # sqrt(2 x 0.5)
    eng.apply(Control("styles", [0.0, 1.0]))
    assert eng._ctrl[i] == pytest.approx(0.5)
    plain = Engine(cfg, StubGenerator())  # no calibration: fed as given
    assert plain._ctrl[plain.control_names.index("energy")] == pytest.approx(1.0)


def test_engine_says_once_when_the_energy_asks_past_the_models_ceiling(caplog: pytest.LogCaptureFixture) -> None:
    """House x2 reaches the 2.5 ceiling at energy 1.25: energy 2 says so in one line naming house and
    1.25; more pushes (a fader swept, another engine in the process) say nothing more; ballet (x0.5)
    at energy 2 is far from it and says nothing; a mix past it says so once."""
    import logging

    from live import engine as engine_mod

    engine_mod.CEILING_SAID.clear()
    cfg = defaults()
    cfg["model"]["style"] = "house"
    eng = Engine(cfg, _Calibrated())
    caplog.set_level(logging.WARNING, logger="dancemuse.engine")

    def said() -> list[str]:
        out = [r.getMessage() for r in caplog.records if "ceiling" in r.getMessage()]
        caplog.clear()
        return out

    assert said() == []  # energy 1 x 2 is under 2.5
    eng.apply(Control("energy", 2.0))
    lines = said()
    assert len(lines) == 1 and "house" in lines[0] and "1.2" in lines[0] and "energy 2" in lines[0], lines
    eng.apply(Control("energy", 1.0))
    eng.apply(Control("energy", 1.9))
    Engine({**cfg, "live": {**cfg["live"], "energy": 2.0}}, _Calibrated())
    assert said() == []
    eng.apply(Control("styles", [0.0, 1.0]))  # ballet
    eng.apply(Control("energy", 2.0))
    assert said() == []
    eng.apply(Control("styles", [0.5, 0.5]))  # sqrt(2 x 0.5) = 1: at energy 2 fed 2, under 2.5
    assert said() == []
    eng.apply(Control("energy", 3.0))
    eng.apply(Control("styles", [1.0, 1.0]))  # the same mix, weighted alike
    lines = said()
    assert len(lines) == 1 and "this style mix" in lines[0], lines


class _Smoothed(StubGenerator):
    meta = {"smoothing_scale": {"house": 0.0, "ballet": 1.0}}


def test_engine_smooths_a_style_made_of_hits_less() -> None:
    cfg = defaults()
    cfg["model"]["style"] = "house"
    cfg["live"]["smoothing"] = 0.5
    eng = Engine(cfg, _Smoothed())
    assert eng.post.smoothing == 0.0 and eng.controls["smoothing"] == 0.5  # the user's value is kept
    assert eng.snapshot()["smoothing_applied"] == 0.0 and eng.snapshot()["controls"]["smoothing"] == 0.5
    eng.apply(Control("smoothing", 0.8))
    assert eng.post.smoothing == 0.0
    eng.apply(Control("styles", [0.5, 0.5]))
    assert eng.post.smoothing == pytest.approx(0.4)
    eng.apply(Control("style", ("house", 0.0)))
    assert eng.post.smoothing == pytest.approx(0.8)  # ballet alone: as the user asks
    plain = Engine(cfg, StubGenerator())  # a model calibrated before per-style smoothing
    assert plain.post.smoothing == 0.5
    with pytest.raises(ModelError, match="smoothing_scale"):
        Engine(cfg, type("Bad", (StubGenerator,), {"meta": {"smoothing_scale": {"house": 2.0}}})())


class _Grooved(StubGenerator):
    meta = {"groove_profile": {"house": [-0.4, 0.0, -0.4, 0.0, 0.0, 0.0], "ballet": [-0.8, 0.0, 0.0, 0.0, 0.0, 0.0]}}


def test_engine_gives_the_groove_the_style_mixs_profile_and_keeps_the_users_amount() -> None:
    cfg = defaults()
    cfg["model"]["style"] = "house"
    cfg["live"]["groove"] = 0.8
    eng = Engine(cfg, _Grooved())
    post = eng.post
    assert post.groove == 0.8 and eng.controls["groove"] == 0.8
    # at the default groove the speed through the beat is the profile: 1 - 0.4 cos - 0.4 cos(2x)
    for ph in (0.0, 0.25, 0.5, 0.6):
        want = 1.0 - 0.4 * np.cos(2 * np.pi * ph) - 0.4 * np.cos(4 * np.pi * ph)
        assert post._groove_speed(ph) == pytest.approx(want, abs=2e-3)
    assert post._groove_speed(0.5) == pytest.approx(1.0, abs=1e-3)  # house slows on the half beat as well
    eng.apply(Control("groove", 0.4))
    assert post._groove_speed(0.0) == pytest.approx(1.0 - 0.5 * 0.8, abs=1e-3)  # half the profile's depth
    eng.apply(Control("groove", 0.8))
    eng.apply(Control("styles", [0.5, 0.5]))  # a mix: the mean profile
    assert post._groove_speed(0.0) == pytest.approx(1.0 - 0.6 - 0.2, abs=2e-3)
    eng.apply(Control("style", ("house", 0.0)))  # ballet alone: its profile is the plain cosine
    assert post._groove_speed(0.3) == pytest.approx(1.0 - 0.8 * np.cos(2 * np.pi * 0.3), abs=2e-3)
    plain = Engine(cfg, StubGenerator())  # a model calibrated before groove profiles: the cosine
    assert plain.post._gshape is None and plain.post._groove_speed(0.0) == pytest.approx(0.2)
    with pytest.raises(ModelError, match="groove_profile"):
        Engine(cfg, type("Bad", (StubGenerator,), {"meta": {"groove_profile": {"house": [9.0] * 6}}})())


def ensemble_fed(gen: type[StubGenerator], energy: float) -> tuple[list[float], Engine]:
    """The energy each of three dancers of ``gen`` is fed at user ``energy``: dancer 0 follows
    the engine's mix (house), dancer 1 has ballet of its own, dancer 2 house; and the engine."""
    from live.ensemble import FanOutGenerator

    fed: list[float] = [0.0, 0.0, 0.0]

    def recording(i: int) -> StubGenerator:
        g = gen()
        step = g.step

        def rec(features: np.ndarray, *, style: np.ndarray, controls: np.ndarray) -> np.ndarray:
            fed[i] = float(controls[0])
            return step(features, style=style, controls=controls)

        g.step = rec  # type: ignore[method-assign]
        return g

    fan = FanOutGenerator([recording(i) for i in range(3)],
                          [None, np.array([0.0, 1.0], np.float32), np.array([1.0, 0.0], np.float32)])
    cfg = defaults()
    cfg["model"]["style"] = "house"
    eng = Engine(cfg, fan)
    eng.apply(Control("energy", energy))
    fan.step(np.zeros(4, np.float32), style=eng._style, controls=eng._ctrl)
    return fed, eng


def test_ensemble_dancers_with_their_own_style_get_their_own_scale() -> None:
    fed, eng = ensemble_fed(_Calibrated, 0.8)
    assert fed == pytest.approx([1.6, 0.4, 1.6])  # house x2, ballet x0.5, house x2
    assert eng._ctrl[0] == pytest.approx(1.6)  # the engine's own vector is untouched


class _Gained(StubGenerator):
    meta = {"style_gain": {"house": 2.0}}


def test_engine_feeds_a_style_with_a_gain_more_strongly_and_keeps_the_users_strength() -> None:
    """style_gain (calibrate --style-gain): the model is fed the mix moved the user's strength
    times the mix's factor away from the equal mix; a style without a factor counts 1."""
    cfg = defaults()
    cfg["model"]["style"] = "house"
    cfg["live"]["style_strength"] = 1.5
    gen = _Gained()
    eng = Engine(cfg, gen)
    assert eng._style == pytest.approx([0.5 + 3.0 * 0.5, 0.5 - 3.0 * 0.5])  # house at 1.5 x 2
    snap = eng.snapshot()
    assert snap["style_strength_applied"] == 3.0 and snap["controls"]["style_strength"] == 1.5
    eng.apply(Control("styles", [0.0, 1.0]))  # ballet has no factor: the user's strength
    assert eng._style == pytest.approx([0.5 - 1.5 * 0.5, 0.5 + 1.5 * 0.5]) and eng.strength_applied == 1.5
    eng.apply(Control("styles", [0.5, 0.5]))  # the equal mix stays the equal mix at any strength
    assert eng.strength_applied == pytest.approx(1.5 * 1.5) and eng._style == pytest.approx([0.5, 0.5])
    eng.apply(Control("styles", [0.75, 0.25]))
    k = 1.5 * (0.75 * 2.0 + 0.25)
    assert eng._style == pytest.approx([0.5 + k * 0.25, 0.5 - k * 0.25])
    eng.apply(Control("style_strength", 0.0))
    assert eng._style == pytest.approx([0.5, 0.5])
    eng.apply(Control("styles", [1.0, 0.0]))
    eng.apply(Control("style_strength", 5.0))  # house would be fed 10: no style is fed beyond the control's top
    assert eng.strength_applied == 6.0 and eng._style == pytest.approx([0.5 + 3.0, 0.5 - 3.0])
    plain = Engine(cfg, StubGenerator())  # a model without factors: the user's strength
    assert plain.style_gains is None and plain._style == pytest.approx([0.5 + 0.75, 0.5 - 0.75])
    assert gain_of(np.array([0.0, 0.0]), np.array([2.0, np.nan])) == 1.0
    assert style_gains({"style_gain": {"ballet": 0.5}}, ("house", "ballet")) == pytest.approx([np.nan, 0.5],
                                                                                              nan_ok=True)
    for bad in ({"house": 9.0}, {"house": 0.0}, {"house": "x"}):
        with pytest.raises(ModelError, match="the model.s style_gain metadata .*dancemuse"):
            Engine(cfg, type("Bad", (StubGenerator,), {"meta": {"style_gain": bad}})())


def test_ensemble_dancers_with_their_own_style_get_their_own_strength() -> None:
    from live.ensemble import EnsembleSettings, build

    cfg = defaults()
    cfg["model"]["style"] = "ballet"
    made = []

    def more() -> StubGenerator:
        made.append(_Gained())
        return made[-1]

    s = EnsembleSettings(dancers=3, mode="free", styles=("", "house", "ballet"))
    ens = build(cfg, _Gained(), settings=s, load_more=more)
    fan = ens.engine.generator
    assert fan.styles[1] == pytest.approx([0.5 + 4.0 * 0.5, 0.5 - 4.0 * 0.5])  # house: strength 2 x 2
    assert fan.styles[2] == pytest.approx([0.5 - 2.0 * 0.5, 0.5 + 2.0 * 0.5])  # ballet: 2


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from model.train import load_train_config, train

    tmp = tmp_path_factory.mktemp("calib")
    data = make_dataset(tmp / "set", clips=4, seconds=8.0)
    cfg = tmp / "tiny.toml"
    cfg.write_text(TINY.format(steps=4, ckpt=4), encoding="utf-8")
    net_cfg, tc, _ = load_train_config(cfg)
    train(data=data, out=tmp / "run", feature_cfg=defaults()["features"], net_cfg=net_cfg, train_cfg=tc,
          progress=False)
    return tmp / "run" / "final.pt", data


def test_calibrate_stores_scales_that_make_the_model_move_like_the_data(
        ckpt: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from live.cli import main
    from live.runtime import Generator
    from model.metrics_dancer import beat_profile
    from model.network import load_checkpoint_model
    from model.train import load_checkpoint
    from model.train_data import load_folders, vec_to_pose
    from model.train_report import free_run

    src, data = ckpt
    out = tmp_path / "cal.pt"
    assert main(["calibrate", str(src), "--data", str(data), "-o", str(out), "--seconds", "6", "--clips", "2",
                 "--style-strength", "1", "--free-run-only"]) == 0
    text = capsys.readouterr().out
    assert "scale" in text and f"wrote {out}" in text
    cal = load_checkpoint(out)["energy_calibration"]
    assert "free_run_scale" not in cal  # --free-run-only: no live stage
    assert set(cal["scale"]) == {"a", "b"} and cal["style_strength"] == 1.0
    assert set(cal["smoothing"]) == {"a", "b"} and all(0.0 <= f <= 1.0 for f in cal["smoothing"].values())
    assert set(cal["fast_share"]) == {"a", "b"}
    assert "energy_calibration" not in load_checkpoint(src)  # -o: the source is left alone
    # at the stored scale the model moves as much as the data (unless the scale hit its clip)
    net, ck = load_checkpoint_model(str(out))
    clips = load_folders([data], feature_cfg=ck["feature_cfg"], styles=ck["styles"])
    assert set(cal["groove_profile"]) == {"a", "b"}
    for st, prof in cal["groove_profile"].items():  # the data's own beat profile, the dip floored
        mine = [c for c in clips if c.style == st and len(c.beats) >= 2]
        assert mine and len(prof) == 2 * GROOVE_HARMONICS and prof[0] <= -GROOVE_FLOOR_DIP
        want = groove_profile([beat_profile(c.poses, c.beats, fps=c.fps, harmonics=GROOVE_HARMONICS) for c in mine])
        np.testing.assert_allclose(prof, want, atol=1e-4)
        bpm = style_tempo([c.beats for c in mine], [c.frames / c.fps for c in mine])
        assert cal["style_tempo"][st] == pytest.approx(bpm, abs=0.01) and 40 < bpm < 250
    for si, st in enumerate(ck["styles"]):
        k = cal["scale"][st]
        mine = [c for c in clips if c.style == st][:2]
        n = 6 * 30
        sw = np.zeros((len(mine), len(ck["styles"])), np.float32)
        sw[:, si] = 1.0
        ctl = np.tile(np.array([[k, 0.5]], np.float32), (len(mine), 1))
        vec = free_run(net, np.stack([c.feats[:n] for c in mine]), style_w=sw, controls=ctl, seed=0)
        r = np.mean([limb_speed(vec_to_pose(vec[i]), 30) / limb_speed(c.poses[:n], 30) for i, c in enumerate(mine)])
        if SCALE_RANGE[0] < k < SCALE_RANGE[1]:
            assert r == pytest.approx(1.0, rel=0.25), (st, k, r)
        elif k == SCALE_RANGE[1]:
            assert r < 1.0
        else:
            assert r > 1.0
    # export carries it into the model's metadata; the engine applies it
    onnx = tmp_path / "cal.onnx"
    assert main(["export", str(out), "-o", str(onnx), "--parity-frames", "30"]) == 0
    gen = Generator(onnx)
    assert gen.meta["energy_scale"] == cal["scale"] and gen.meta["energy_max"] == SCALE_RANGE[1]
    assert gen.meta["smoothing_scale"] == cal["smoothing"] and gen.meta["groove_profile"] == cal["groove_profile"]
    assert gen.meta["style_tempo"] == cal["style_tempo"]
    cfg = defaults()
    cfg["model"]["style"] = "b"
    eng = Engine(cfg, gen)
    assert eng.post._groove_speed(0.0) == pytest.approx(1.0 + sum(cal["groove_profile"]["b"][0::2]) * cfg["live"]["groove"]
                                                        / GROOVE_DATA, abs=2e-3)
    assert eng.feel.centre == pytest.approx(cal["style_tempo"]["b"])  # what feel auto aims at
    fed = float(eng._ctrl[eng.control_names.index("energy")])
    assert fed == pytest.approx(min(cal["scale"]["b"], SCALE_RANGE[1]), rel=1e-5)
    assert main(["calibrate", str(tmp_path / "missing.pt"), "--data", str(data)]) != 0
    bare = load_checkpoint(src)
    bare.pop("feature_cfg")
    torch.save(bare, tmp_path / "bare.pt")
    assert main(["calibrate", str(tmp_path / "bare.pt"), "--data", str(data)]) != 0
    assert "has no feature settings" in capsys.readouterr().err
    assert main(["calibrate", str(src), "--data", str(tmp_path / "nowhere")]) != 0
    assert "nowhere" in capsys.readouterr().err


def test_calibrate_groove_floor_lowers_one_styles_dip_and_refuses_nonsense(
        ckpt: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from live.cli import main
    from model.metrics_dancer import beat_profile
    from model.train import load_checkpoint
    from model.train_data import load_folders

    src, data = ckpt
    out = tmp_path / "floor.pt"
    assert main(["calibrate", str(src), "--data", str(data), "-o", str(out), "--seconds", "4", "--clips", "1",
                 "--style-strength", "1", "--free-run-only", "--groove-floor", "b=0.05"]) == 0
    cal = load_checkpoint(out)["energy_calibration"]
    assert cal["groove_floor"] == {"b": 0.05}
    styles = load_checkpoint(src)["styles"]
    clips = load_folders([data], feature_cfg=load_checkpoint(src)["feature_cfg"], styles=styles)
    rows = {st: [beat_profile(c.poses, c.beats, fps=c.fps, harmonics=GROOVE_HARMONICS)
                 for c in clips if c.style == st and len(c.beats) >= 2] for st in ("a", "b")}
    want_b = groove_profile(rows["b"], floor=0.05)
    assert want_b[0] > -GROOVE_FLOOR_DIP  # the data's b dips less than the default floor: the option shows
    np.testing.assert_allclose(cal["groove_profile"]["b"], want_b, atol=1e-4)
    np.testing.assert_allclose(cal["groove_profile"]["a"], groove_profile(rows["a"]), atol=1e-4)  # a keeps 0.4
    assert f"{-want_b[0]:5.2f}" in capsys.readouterr().out  # the table's dip column
    # calibrated again without the option, the checkpoint keeps the floor it was given
    assert main(["calibrate", str(out), "--data", str(data), "--seconds", "4", "--clips", "1",
                 "--style-strength", "1", "--free-run-only"]) == 0
    again = load_checkpoint(out)["energy_calibration"]
    assert again["groove_floor"] == {"b": 0.05} and again["groove_profile"]["b"] == cal["groove_profile"]["b"]
    capsys.readouterr()
    for bad, says in (("zumba=0.1", "does not dance"), ("b", "STYLE=DIP"), ("b=x", "STYLE=DIP"),
                      ("b=1.5", "0..1"), ("=0.1", "STYLE=DIP")):
        assert main(["calibrate", str(src), "--data", str(data), "-o", str(tmp_path / "x.pt"),
                     "--free-run-only", "--groove-floor", bad]) != 0
        assert says in capsys.readouterr().err, bad
    assert not (tmp_path / "x.pt").exists()


def test_calibrate_style_gain_measures_a_style_at_its_own_strength_and_exports_it(
        ckpt: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    import model.train_report as tr
    from live.cli import main
    from live.runtime import Generator
    from model.modelmeta import describe
    from model.train import load_checkpoint

    src, data = ckpt
    fed: list[np.ndarray] = []
    real = tr.free_run

    def spy(net, feats, *, style_w, **kw):  # noqa: ANN001, ANN202
        fed.append(np.asarray(style_w[0]).copy())
        return real(net, feats, style_w=style_w, **kw)

    monkeypatch.setattr(tr, "free_run", spy)
    out = tmp_path / "gain.pt"
    assert main(["calibrate", str(src), "--data", str(data), "-o", str(out), "--seconds", "4", "--clips", "1",
                 "--style-strength", "1.5", "--free-run-only", "--style-gain", "b=2"]) == 0
    cal = load_checkpoint(out)["energy_calibration"]
    assert cal["style_gain"] == {"b": 2.0} and cal["style_strength"] == 1.5
    by = {round(float(w[0]), 4): w for w in fed}  # style a at 1.5, style b at 1.5 x 2
    assert sorted(by) == [0.5 - 3.0 * 0.5, 0.5 + 1.5 * 0.5]
    table = capsys.readouterr().out
    assert "gain" in table and " 2.00" in table
    onnx = tmp_path / "gain.onnx"
    assert main(["export", str(out), "-o", str(onnx), "--parity-frames", "0"]) == 0
    meta = Generator(onnx).meta
    assert meta["style_gain"] == {"b": 2.0} and "style strength x2 for b" in describe(meta)
    assert "style strength x2 for locking,x1.5 for popping" in describe(  # each factor with its x
        {**meta, "style_gain": {"locking": 2.0, "popping": 1.5}})
    # calibrated again without the option, the checkpoint keeps its factor; b=1 removes it
    assert main(["calibrate", str(out), "--data", str(data), "--seconds", "4", "--clips", "1",
                 "--style-strength", "1.5", "--free-run-only"]) == 0
    assert load_checkpoint(out)["energy_calibration"]["style_gain"] == {"b": 2.0}
    assert main(["calibrate", str(out), "--data", str(data), "--seconds", "4", "--clips", "1",
                 "--style-strength", "1.5", "--free-run-only", "--style-gain", "b=1"]) == 0
    assert "style_gain" not in load_checkpoint(out)["energy_calibration"]
    capsys.readouterr()
    for bad, says in (("zumba=2", "does not dance"), ("b", "STYLE=K"), ("b=x", "STYLE=K"),
                      (f"b={GAIN_RANGE[1] + 1:g}", f"{GAIN_RANGE[0]:g}..{GAIN_RANGE[1]:g}"), ("b=0", "..")):
        assert main(["calibrate", str(src), "--data", str(data), "-o", str(tmp_path / "x.pt"),
                     "--free-run-only", "--style-gain", bad]) != 0
        assert says in capsys.readouterr().err, bad
    assert not (tmp_path / "x.pt").exists()


def test_calibrate_only_recalibrates_one_style_and_keeps_the_others(
        ckpt: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from live.cli import main
    from model.train import load_checkpoint

    src, data = ckpt
    base = tmp_path / "base.pt"
    common = ["--data", str(data), "--seconds", "4", "--clips", "1", "--style-strength", "1", "--free-run-only"]
    assert main(["calibrate", str(src), "-o", str(base), *common]) == 0
    before = load_checkpoint(base)["energy_calibration"]
    out = tmp_path / "only.pt"
    assert main(["calibrate", str(base), "-o", str(out), *common, "--only", "b", "--style-gain", "b=2.5"]) == 0
    table = capsys.readouterr().out
    after = load_checkpoint(out)["energy_calibration"]
    for key in ("scale", "ratios", "clips", "smoothing", "fast_share", "groove_profile"):
        assert after[key]["a"] == before[key]["a"], key  # a kept as it was
        assert list(after[key]) == list(before[key]), key  # every style, in the model's order
    assert after["ratios"]["b"] != before["ratios"]["b"]  # b danced again, at its new strength
    assert after["style_gain"] == {"b": 2.5} and table.count("\n") >= 3  # the table lists both styles
    # without a previous calibration, or one made another way, it says what to do
    capsys.readouterr()
    for ck, extra, says in ((src, [], "has none"), (base, ["--style-strength", "2"], "style strength 1"),
                            (base, ["--only", "zumba"], "does not dance")):
        args = ["calibrate", str(ck), "-o", str(tmp_path / "x.pt"), *common, "--only", "b", *extra]
        assert main(args) != 0
        err = capsys.readouterr().err
        assert says in err and err.count("\n") == 1, err
    assert not (tmp_path / "x.pt").exists()


def test_calibrate_measures_and_solves_per_style(ckpt: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """With a stand-in decoder whose limbs move energy / 2 (style a) or energy / 1.25 (style b)
    as much as the data's, the scales come out as 2 and 1.25."""
    import model.train_report as tr
    from model.energy_calib import calibrate
    from model.network import load_checkpoint_model
    from model.train_data import load_folders

    src, data = ckpt
    net, ck = load_checkpoint_model(str(src))
    clips = load_folders([data], feature_cfg=ck["feature_cfg"], styles=ck["styles"])
    by_feats = {c.feats[:5].tobytes(): c for c in clips}

    def fake(_net, feats, *, style_w, controls, seed, **_kw):  # the data's own dance, moves scaled
        out = []
        for i in range(len(feats)):
            c = by_feats[feats[i, :5].tobytes()]
            v = c.vec[: feats.shape[1]].copy()
            f = float(controls[i, 0]) / (2.0 if c.style == "a" else 1.25)
            mean = v[:, :51].mean(0)
            v[:, :51] = mean + f * (v[:, :51] - mean)
            out.append(v)
        return np.stack(out)

    monkeypatch.setattr(tr, "free_run", fake)
    cal = calibrate(net, clips, styles=ck["styles"], seconds=6, per_style=2)
    assert cal.scale["a"] == pytest.approx(2.0, rel=0.02) and cal.scale["b"] == pytest.approx(1.25, rel=0.02)
    assert cal.ratios["a"][0] == pytest.approx(0.5, rel=0.02) and cal.clips == {"a": 2, "b": 2}
    assert "scale" in cal.table()


class ScaledDancer:
    """A stand-in for model.metrics_gen.Dancer: dances each clip's own motion (the song's
    name is the clip's id), its moves scaled by the energy it is fed (the user's energy times
    the style's scale) over ``need[style]``: the live stage must find scale = need."""

    fps = 30

    def __init__(self, clips: list, scale: dict[str, float], need: dict[str, float]) -> None:
        self.styles = sorted(scale)
        self.by_id = {c.id: c for c in clips}
        self.scale, self.need = scale, need
        self.danced: list[tuple[str, float]] = []
        self.forgotten: set[str] = set()

    def dance(self, song, *, style, seed=0, energy=1.0, variation=None):  # noqa: ANN001, ANN201 - the Dancer's signature
        from model.energy_calib import USER_ENERGY_MAX
        from model.metrics_gen import Generated

        if energy > USER_ENERGY_MAX:  # as the real Dancer's config check refuses it
            raise ConfigError(f"config key 'live.energy' must be <= {USER_ENERGY_MAX}, got {energy}")
        c = self.by_id[song.name]
        n = int(round(song.seconds * self.fps))
        p = c.poses[:n].astype(np.float64)
        mean = p.mean(axis=0)
        f = min(energy * self.scale[style], SCALE_RANGE[1]) / self.need[style]
        self.danced.append((style, energy))
        return Generated(poses=mean + f * (p - mean), raw=p, beats=np.zeros(0))

    def forget(self, song) -> None:  # noqa: ANN001
        self.forgotten.add(song.name)


def test_the_live_stage_rescales_each_style_to_move_like_its_data_through_the_engine(
        ckpt: tuple[Path, Path]) -> None:
    from model.energy_calib import LIVE_ENERGIES, Calibration, calibrate_live
    from model.network import load_checkpoint_model
    from model.train_data import load_folders

    src, data = ckpt
    _, ck = load_checkpoint_model(str(src))
    clips = load_folders([data], feature_cfg=ck["feature_cfg"], styles=ck["styles"])
    cal = Calibration(scale={"a": 1.2, "b": 2.0}, ratios={}, energies=[1.0], clips={}, seconds=6.0, style_strength=1.0)
    dancer = ScaledDancer(clips, dict(cal.scale), need={"a": 1.8, "b": 1.5})
    calibrate_live(dancer, clips, cal, per_style=2, seconds=6.0)  # type: ignore[arg-type]
    assert cal.free_run_scale == {"a": 1.2, "b": 2.0}
    assert cal.scale["a"] == pytest.approx(1.8, rel=0.01) and cal.scale["b"] == pytest.approx(1.5, rel=0.01)
    assert cal.live_ratios["a"] == pytest.approx([1.2 / 1.8 * e for e in LIVE_ENERGIES], rel=0.01)
    assert cal.live_ratio == pytest.approx({"a": 1.0, "b": 1.0}, rel=0.01)  # danced again at the new scale
    assert len(dancer.danced) == 2 * 2 * (len(LIVE_ENERGIES) + 1) and dancer.forgotten  # 2 clips per style
    for st in ("a", "b"):  # at the new scale the stand-in dances its clips' own motion: their spread
        mine = [c for c in clips if c.style == st][:2]
        want = np.mean([md.motion_spread(c.poses[: int(6.0 * c.fps)], fps=c.fps) for c in mine])
        assert cal.spread[st] == pytest.approx(want, rel=0.01) and cal.spread[st] > 0.01
    d = cal.to_dict()
    assert d["free_run_scale"] == {"a": 1.2, "b": 2.0} and d["live_energies"] == list(LIVE_ENERGIES)
    assert d["motion_spread"] == cal.spread
    assert "through the live engine" in cal.table() and "spread" in cal.table()
    # a style that needs more than the ceiling stops there
    cal2 = Calibration(scale={"a": 1.5, "b": 1.0}, ratios={}, energies=[1.0], clips={}, seconds=6.0,
                       style_strength=1.0)
    calibrate_live(ScaledDancer(clips, dict(cal2.scale), need={"a": 4.0, "b": 1.0}), clips, cal2,  # type: ignore[arg-type]
                   per_style=2, seconds=6.0)
    assert cal2.scale["a"] == SCALE_RANGE[1] and cal2.scale["b"] == pytest.approx(1.0, rel=0.01)
    # ... and one whose free run left it low stops where the user's energy can take it (2x), not
    # with a config error (session 61: freestyle's free-run scale 0.86, the secant asked for 2.01)
    cal3 = Calibration(scale={"a": 0.8, "b": 1.0}, ratios={}, energies=[1.0], clips={}, seconds=6.0,
                       style_strength=1.0)
    calibrate_live(ScaledDancer(clips, dict(cal3.scale), need={"a": 2.4, "b": 1.0}), clips, cal3,  # type: ignore[arg-type]
                   per_style=2, seconds=6.0)
    assert cal3.scale["a"] == pytest.approx(1.6) and cal3.live_ratio["a"] == pytest.approx(1.6 / 2.4, rel=0.01)


def test_the_live_stage_dances_a_style_to_the_other_styles_music_when_asked(ckpt: tuple[Path, Path]) -> None:
    """other_music: style a's live stage dances to b's clips (the stand-in dances the clip it is
    given), held to the mean limb speed of a's own clips; b dances to its own."""
    from model.energy_calib import Calibration, calibrate_live, limb_speed, other_music_clips
    from model.network import load_checkpoint_model
    from model.train_data import load_folders

    src, data = ckpt
    _, ck = load_checkpoint_model(str(src))
    clips = load_folders([data], feature_cfg=ck["feature_cfg"], styles=ck["styles"])

    class Heard(ScaledDancer):
        def dance(self, song, *, style, seed=0, energy=1.0, variation=None):  # noqa: ANN001, ANN201
            self.heard.append((style, self.by_id[song.name].style))
            return super().dance(song, style=style, seed=seed, energy=energy)

    cal = Calibration(scale={"a": 1.2, "b": 2.0}, ratios={}, energies=[1.0], clips={}, seconds=6.0,
                      style_strength=1.0, other_music={"a": 1.0})
    dancer = Heard(clips, dict(cal.scale), need={"a": 1.8, "b": 1.5})
    dancer.heard = []
    calibrate_live(dancer, clips, cal, per_style=2, seconds=6.0)  # type: ignore[arg-type]
    assert {h for h in dancer.heard if h[0] == "a"} == {("a", "b")}  # a danced to b's music only
    assert {h for h in dancer.heard if h[0] == "b"} == {("b", "b")}
    n = int(6.0 * 30)
    own = np.mean([limb_speed(c.poses[:n], 30) for c in clips if c.style == "a"][:2])
    other = np.mean([limb_speed(c.poses[:n], 30) for c in other_music_clips(clips, "a", ["a", "b"], 2)])
    assert cal.scale["a"] == pytest.approx(1.8 * own / other, rel=0.02)  # b's motion, held to a's speed
    assert cal.scale["b"] == pytest.approx(1.5, rel=0.01)
    assert cal.to_dict()["other_music"] == {"a": 1.0} and "->  1.00*" in cal.table()
    # the other styles' clips in turn, each style's first before any second
    assert [c.style for c in other_music_clips(clips, "b", ["a", "b", "c"], 3)] == ["a", "a"]
    # a model of one style has no other music: its own, and it says so
    alone = Heard(clips, {"a": 1.2}, need={"a": 1.8})
    alone.heard, said = [], []
    one = Calibration(scale={"a": 1.2}, ratios={}, energies=[1.0], clips={}, seconds=6.0, style_strength=1.0,
                      other_music={"a": 1.0})
    calibrate_live(alone, clips, one, per_style=2, seconds=6.0, progress=said.append)  # type: ignore[arg-type]
    assert set(alone.heard) == {("a", "a")} and one.scale["a"] == pytest.approx(1.8, rel=0.01)
    assert any("its own" in m for m in said)


def test_calibrate_other_music_is_stored_kept_and_removed(
        ckpt: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from live.cli import main
    from model.train import load_checkpoint

    src, data = ckpt
    out = tmp_path / "other.pt"
    common = ["--data", str(data), "--seconds", "4", "--clips", "1", "--free-run-only"]
    assert main(["calibrate", str(src), "-o", str(out), *common, "--other-music", "a"]) == 0
    assert load_checkpoint(out)["energy_calibration"]["other_music"] == {"a": 1.0}
    assert main(["calibrate", str(out), *common]) == 0  # calibrated again: kept
    assert load_checkpoint(out)["energy_calibration"]["other_music"] == {"a": 1.0}
    assert main(["calibrate", str(out), *common, "--other-music", "a=0"]) == 0
    assert "other_music" not in load_checkpoint(out)["energy_calibration"]
    capsys.readouterr()
    for bad, says in (("zumba", "does not dance"), ("a=2", "a style name"), ("a=x", "--other-music")):
        assert main(["calibrate", str(src), "-o", str(tmp_path / "x.pt"), *common, "--other-music", bad]) != 0
        err = capsys.readouterr().err
        assert says in err and err.count("\n") == 1, (bad, err)
    assert not (tmp_path / "x.pt").exists()


def test_calibrate_runs_the_live_stage_on_the_exported_model(ckpt: tuple[Path, Path], tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    """The real chain: calibrate (free run, then a temporary export danced through the live
    engine) -> the checkpoint holds both stages -> export carries the live scale."""
    from live.cli import main
    from live.runtime import Generator
    from model.modelmeta import describe
    from model.train import load_checkpoint

    src, data = ckpt
    out = tmp_path / "live.pt"
    assert main(["calibrate", str(src), "--data", str(data), "-o", str(out), "--seconds", "6", "--clips", "2"]) == 0
    captured = capsys.readouterr()
    assert "through the live engine" in captured.err and "through the live engine" in captured.out
    cal = load_checkpoint(out)["energy_calibration"]
    assert set(cal["free_run_scale"]) == set(cal["scale"]) == set(cal["live_ratio"]) == {"a", "b"}
    for st, k in cal["scale"].items():
        assert SCALE_RANGE[0] <= k <= SCALE_RANGE[1]
        if SCALE_RANGE[0] < k < SCALE_RANGE[1]:  # through the engine the model now moves like its data
            assert cal["live_ratio"][st] == pytest.approx(1.0, rel=0.25), (st, cal)
    onnx = tmp_path / "live.onnx"
    assert main(["export", str(out), "-o", str(onnx), "--parity-frames", "0"]) == 0
    meta = Generator(onnx).meta
    assert meta["energy_scale"] == cal["scale"]
    # the spread of each style's dances, for the novelty guard (live/novelty.py), exported and read
    assert set(cal["motion_spread"]) == {"a", "b"} and all(0 < v < 5 for v in cal["motion_spread"].values())
    assert meta["motion_spread"] == cal["motion_spread"] and "spread per style" in describe(meta)
    eng = Engine(defaults(), Generator(onnx))
    assert eng.phrase.guard is not None and eng.phrase.guard.floor == pytest.approx(
        0.5 * (cal["motion_spread"]["a"] + cal["motion_spread"]["b"]))
