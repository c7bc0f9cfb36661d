"""Footwork (session 64): a planted foot the model slides away steps there (live/post.py,
``STEP_SPREAD``) in the styles whose training data moves its feet; the data's feet-apart speed
per style (``model.metrics_dancer.feet_apart_speed``, the model's ``footwork`` metadata) and the
engine's choice per style mix. The stepping itself: tests/test_post.py; the calibration that
writes the table into a real exported model: tests/test_energy_ceiling.py."""

from __future__ import annotations

import numpy as np
import pytest

from live import post as post_mod
from live.control import Control
from live.engine import Engine
from live.post import steps_of
from model import metrics_dancer as md
from model import skeleton as sk
from model.config import defaults
from model.energy_calib import footwork_table
from model.errors import ModelError
from tests.test_engine import StubGenerator


def test_feet_apart_speed_counts_the_feet_moving_apart_not_the_body_travelling() -> None:
    """The left ankle sliding out 0.3 m/s along x while standing reads 0.3; the whole body
    travelling and turning, its feet still relative to each other, reads 0; crouched (hips under
    ``STAND_HIP_M``) nothing is standing: NaN."""
    fps, n = 30, 90
    t = np.arange(n) / fps
    p = np.repeat(sk.rest_pose(on_floor=True)[None], n, axis=0).astype(np.float64)
    apart = p.copy()
    apart[:, sk.LEFT_FOOT, 0] += 0.3 * t
    assert md.feet_apart_speed(apart, fps=fps) == pytest.approx(0.3, rel=1e-6)
    travel = p.copy()
    travel[:, :, 0] += 0.8 * t[:, None]
    travel[:, :, 2] -= 0.5 * t[:, None]
    assert md.feet_apart_speed(travel, fps=fps) == pytest.approx(0.0, abs=1e-9)
    low = apart.copy()
    low[:, [11, 12], 1] = md.STAND_HIP_M - 0.1
    assert np.isnan(md.feet_apart_speed(low, fps=fps))


def test_footwork_table_reads_the_metadata_and_refuses_nonsense() -> None:
    assert footwork_table({}, ["a"]) is None
    got = footwork_table({"footwork": {"b": 0.3}}, ["a", "b"])
    assert got is not None and np.isnan(got[0]) and got[1] == 0.3
    for bad in ({"b": "x"}, {"b": -0.1}, {"b": 50.0}):
        with pytest.raises(ModelError, match="footwork"):
            footwork_table({"footwork": bad}, ["a", "b"])


def test_steps_of_a_style_mix() -> None:
    table = np.array([0.3, 0.05])
    assert steps_of(np.array([1.0, 0.0]), table) == post_mod.STEP_SPREAD
    assert steps_of(np.array([0.0, 1.0]), table) == 0.0  # a style that keeps its feet planted
    assert steps_of(np.array([0.5, 0.5]), table) == post_mod.STEP_SPREAD  # 0.175: the mix steps
    assert steps_of(np.array([0.2, 0.8]), table) == 0.0  # 0.1
    assert steps_of(np.array([1.0, 0.0]), None) == post_mod.STEP_SPREAD  # a model without the table
    assert steps_of(np.array([1.0, 0.0]), np.array([np.nan, 0.05])) == post_mod.STEP_SPREAD  # not listed


def test_steps_of_a_style_mix_with_measured_spreads() -> None:
    """A model calibrated with `calibrate --steps`: each style steps at its own spread, a mix at the
    weighted mean of the styles listed, never past ``STEP_SPREAD``; a style that keeps its feet
    planted keeps them so whatever its spread; ``STEP_SPREAD`` 0 turns the steps off."""
    foot = np.array([0.3, 0.3, 0.05])
    spreads = np.array([0.04, np.nan, 0.09])
    assert steps_of(np.array([1.0, 0.0, 0.0]), foot, spreads) == pytest.approx(0.04)
    assert steps_of(np.array([0.0, 1.0, 0.0]), foot, spreads) == post_mod.STEP_SPREAD  # not measured
    assert steps_of(np.array([0.5, 0.5, 0.0]), foot, spreads) == pytest.approx(0.04)  # the listed style's
    assert steps_of(np.array([0.0, 0.0, 1.0]), foot, spreads) == 0.0  # planted
    assert steps_of(np.array([0.75, 0.0, 0.25]), foot, spreads) == pytest.approx(0.75 * 0.04 + 0.25 * 0.09)
    assert steps_of(np.array([1.0, 0.0, 0.0]), None, np.array([0.3, 0.1, 0.1])) == post_mod.STEP_SPREAD  # capped
    assert steps_of(np.array([1.0, 0.0, 0.0]), None, spreads) == pytest.approx(0.04)  # no footwork table


def test_steps_of_turns_the_measured_spreads_off_with_step_spread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(post_mod, "STEP_SPREAD", 0.0)  # bench/feet.py's old path
    assert steps_of(np.array([1.0]), np.array([0.3]), np.array([0.04])) == 0.0


def test_step_spread_table_reads_the_metadata_and_refuses_nonsense() -> None:
    from model.energy_calib import step_spreads

    assert step_spreads({}, ["a"]) is None
    got = step_spreads({"step_spread": {"b": 0.06}}, ["a", "b"])
    assert got is not None and np.isnan(got[0]) and got[1] == 0.06
    for bad in ({"b": "x"}, {"b": 0.0}, {"b": 2.0}):
        with pytest.raises(ModelError, match="step_spread"):
            step_spreads({"step_spread": bad}, ["a", "b"])


def test_choose_takes_the_spread_whose_shown_footwork_is_nearest_the_datas() -> None:
    from model.step_calib import choose

    pts = [(0.16, 0.07), (0.12, 0.10), (0.09, 0.13), (0.06, 0.16), (0.04, 0.19)]
    assert choose(pts, 0.35) == 0.04  # never reaches the data: the smallest
    assert choose(pts, 0.125) == 0.09
    assert choose(pts, 0.05) == 0.16  # steps more than its data already: as before
    assert choose([(0.16, 0.10), (0.12, 0.20)], 0.15) == 0.16  # a tie: the larger spread
    assert choose([(0.16, float("nan")), (0.12, 0.2)], 0.0) == 0.12
    assert choose([(0.16, float("nan"))], 0.2) is None


class _Footwork(StubGenerator):
    meta = {"footwork": {"house": 0.34, "ballet": 0.08}}


class _Spreads(StubGenerator):
    meta = {"footwork": {"house": 0.34, "ballet": 0.30}, "step_spread": {"house": 0.04, "ballet": 0.09}}


def test_engine_steps_each_style_at_its_measured_spread() -> None:
    """House at 4 cm, ballet at 9, the mix between, switched live; ``step_spread`` (the
    calibration's own dances) overrides the table for every style."""
    cfg = defaults()
    cfg["model"]["style"] = "house"
    eng = Engine(cfg, _Spreads())
    assert eng.post.step_spread == pytest.approx(0.04)
    eng.apply(Control("styles", [0.0, 1.0]))
    assert eng.post.step_spread == pytest.approx(0.09)
    eng.apply(Control("styles", [0.5, 0.5]))
    assert eng.post.step_spread == pytest.approx(0.065)
    forced = Engine(cfg, _Spreads(), step_spread=0.12)
    assert forced.post.step_spread == pytest.approx(0.12)
    forced.apply(Control("styles", [0.0, 1.0]))
    assert forced.post.step_spread == pytest.approx(0.12)


def test_engine_lets_each_style_step_as_its_data_does() -> None:
    """House's data moves its feet (0.34 m/s): its post steps; a style at 0.08 keeps its feet
    planted, switched live; a model without the table steps in every style."""
    cfg = defaults()
    cfg["model"]["style"] = "house"
    eng = Engine(cfg, _Footwork())
    assert eng.post.step_spread == post_mod.STEP_SPREAD
    eng.apply(Control("styles", [0.0, 1.0]))
    assert eng.post.step_spread == 0.0
    eng.apply(Control("styles", [0.7, 0.3]))
    assert eng.post.step_spread == post_mod.STEP_SPREAD
    plain = Engine(cfg, StubGenerator())
    plain.apply(Control("styles", [0.0, 1.0]))
    assert plain.post.step_spread == post_mod.STEP_SPREAD
