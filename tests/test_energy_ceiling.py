"""The measured energy ceiling per style (model/energy_ceiling.py, `dancemuse calibrate --ceiling`):
read from the metadata, applied by the engine, measured on a real (tiny) exported model and
written into it and its siblings, which the runtimes still load as the same model."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from pathlib import Path

import numpy as np
import pytest

from live.control import Control
from live.engine import Engine
from model.config import defaults
from model.energy_calib import SCALE_RANGE, energy_ceilings
from model.errors import ModelError
from tests.test_engine import StubGenerator


def test_energy_ceilings_read_the_metadata_and_refuse_nonsense() -> None:
    assert energy_ceilings({}, ["a"]) is None
    assert energy_ceilings({"energy_ceiling": {}}, ["a"]) is None
    got = energy_ceilings({"energy_ceiling": {"b": 4.5}, "energy_max": 2.5}, ["a", "b"])
    assert got is not None and got.tolist() == [2.5, 4.5]  # a style not listed keeps energy_max
    for bad in ({"b": "x"}, {"b": float("nan")}, {"b": 0.0}, {"b": None}):
        with pytest.raises(ModelError, match="energy_ceiling"):
            energy_ceilings({"energy_ceiling": bad}, ["a", "b"])


class _Measured(StubGenerator):
    meta = {"energy_scale": {"house": 2.0, "ballet": 2.5}, "energy_max": 2.5,
            "energy_ceiling": {"house": 4.0}}


def test_engine_feeds_each_style_up_to_its_measured_ceiling(caplog: pytest.LogCaptureFixture) -> None:
    """House x2 with a measured ceiling of 4 is fed 4 at energy 2 (2.5 before); ballet x2.5 with
    none stops at energy_max; a mix's ceiling is the weighted geometric mean of its styles'; the
    note names the ceiling it hit."""
    from live import engine as engine_mod

    engine_mod.CEILING_SAID.clear()
    cfg = defaults()
    cfg["model"]["style"] = "house"
    eng = Engine(cfg, _Measured())
    i = eng.control_names.index("energy")
    caplog.set_level(logging.WARNING, logger="dancemuse.engine")
    eng.apply(Control("energy", 1.5))
    assert eng._ctrl[i] == pytest.approx(3.0)  # past the old 2.5 cap, under house's 4
    eng.apply(Control("energy", 2.0))
    assert eng._ctrl[i] == pytest.approx(4.0)
    assert not [r for r in caplog.records if "ceiling" in r.getMessage()]  # it reached, not passed, 4
    eng.apply(Control("styles", [0.0, 1.0]))  # ballet: energy_max
    assert eng._ctrl[i] == pytest.approx(2.5)
    lines = [r.getMessage() for r in caplog.records if "ceiling" in r.getMessage()]
    assert len(lines) == 1 and "ballet" in lines[0] and "at energy 1 " in lines[0], lines
    eng.apply(Control("styles", [0.5, 0.5]))  # scale sqrt(2 x 2.5), ceiling sqrt(4 x 2.5)
    assert eng._ctrl[i] == pytest.approx(min(2.0 * np.sqrt(5.0), np.sqrt(10.0)))
    assert eng.energy_top(np.array([0.5, 0.5])) == pytest.approx(np.sqrt(10.0))
    lifted = Engine({**cfg, "live": {**cfg["live"], "energy": 2.0}}, _Measured(), energy_top=9.0)
    assert lifted._ctrl[i] == pytest.approx(4.0)  # 2 x 2, the measured 4 lifted
    lifted.apply(Control("styles", [0.0, 1.0]))
    assert lifted._ctrl[i] == pytest.approx(5.0)  # ballet 2 x 2.5, energy_max lifted


def test_status_tells_the_user_energy_past_which_the_mix_moves_no_bigger() -> None:
    """/status ``energy_reach``: house x2 with ceiling 4 reaches it at energy 2, ballet x2.5 at the
    2.5 cap at 1, the half mix at sqrt(10) / sqrt(5); a model fed as given has none."""
    cfg = defaults()
    cfg["model"]["style"] = "house"
    eng = Engine(cfg, _Measured())
    assert eng.snapshot()["energy_reach"] == pytest.approx(2.0)
    eng.apply(Control("styles", [0.0, 1.0]))
    assert eng.snapshot()["energy_reach"] == pytest.approx(1.0)
    eng.apply(Control("styles", [0.5, 0.5]))
    assert eng.snapshot()["energy_reach"] == pytest.approx(np.sqrt(2.0), rel=1e-3)
    assert Engine(cfg, StubGenerator()).snapshot()["energy_reach"] is None


def test_ensemble_dancers_with_their_own_style_stop_at_their_own_ceiling() -> None:
    from tests.test_energy_calib import ensemble_fed

    fed, _ = ensemble_fed(_Measured, 2.0)
    assert fed == pytest.approx([4.0, 2.5, 4.0])  # house x2 to its 4; ballet x2.5 at energy_max


# --------------------------------------------------------------------------- the real chain


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A tiny trained model with style a's scale set to 2.5 (measured up to user energy 2 = fed 5)
    and b's to 1 (its range ends at 2, under energy_max), exported with its block-4 sibling and
    offline weights."""
    import torch

    from live.cli import main
    from model.train import load_checkpoint, load_train_config, save_checkpoint, train
    from tests.test_train import TINY, make_dataset

    torch.set_num_threads(1)
    tmp = tmp_path_factory.mktemp("ceiling")
    data = make_dataset(tmp / "set", clips=4, seconds=8.0)
    cfg = tmp / "tiny.toml"
    cfg.write_text(TINY.format(steps=4, ckpt=4), encoding="utf-8")
    net_cfg, tc, _ = load_train_config(cfg)
    train(data=data, out=tmp / "run", feature_cfg=defaults()["features"], net_cfg=net_cfg, train_cfg=tc,
          progress=False)
    ck = load_checkpoint(tmp / "run" / "final.pt")
    ck["energy_calibration"] = {"scale": {"a": 2.5, "b": 1.0}, "energy_max": SCALE_RANGE[1]}
    save_checkpoint(tmp / "cal.pt", ck)
    onnx = tmp / "m.onnx"
    assert main(["export", str(tmp / "cal.pt"), "-o", str(onnx), "--parity-frames", "0"]) == 0
    assert main(["export", str(tmp / "cal.pt"), "-o", str(tmp / "m_b4.onnx"), "--block", "4",
                 "--parity-frames", "0"]) == 0
    return onnx, data


def test_calibrate_ceiling_measures_and_writes_it_into_the_model_and_its_siblings(
        exported: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    from live.cli import main
    from live.runtime import Generator, load_generator, same_model
    from model.energy_ceiling import MIN_RECOGNISED
    from model.modelmeta import describe

    onnx, data = exported
    off = onnx.with_name("m_offline.npz")
    assert off.is_file()
    before = Generator(onnx).meta
    assert main(["calibrate", "--ceiling", str(onnx), "--data", str(data), "--seconds", "4", "--clips", "2"]) == 0
    out = capsys.readouterr()
    assert "m_b4.onnx" in out.out and "m_offline.npz" in out.out
    meta = Generator(onnx).meta
    top = meta["energy_ceiling"]
    assert top["b"] == SCALE_RANGE[1]  # b's range (2 x 1) ends under energy_max: not measured
    assert "b " in out.out and "its range ends under energy_max" in out.out
    # a was measured from energy_max up to 5 (user energy 2); its ceiling follows the rule
    points = [(float(m[1]), float(m[2])) for m in re.finditer(r"^a: fed ([\d.]+) .*recognised ([\d.]+)", out.err, re.M)]
    assert points and points[0][0] == SCALE_RANGE[1] and all(e <= 5.0 for e, _ in points), out.err
    assert not re.search(r"^b: fed", out.err, re.M)
    want = SCALE_RANGE[1]
    for e, r in points[1:]:
        if r < MIN_RECOGNISED:
            break
        want = e
    assert top["a"] == pytest.approx(want), (points, top)
    assert points[-1][0] == 5.0 or points[-1][1] < MIN_RECOGNISED  # it stopped at the control's top or a failure
    # nothing else in the metadata changed; the siblings carry the same table and still count as this model
    assert {k: v for k, v in meta.items() if k != "energy_ceiling"} == before
    assert "energy ceiling (a " in describe(meta)
    b4 = Generator(onnx.with_name("m_b4.onnx")).meta
    assert b4["energy_ceiling"] == top and same_model(b4, meta)
    with np.load(off) as z:
        doc = json.loads(str(z["meta"]))
    assert doc["energy_ceiling"] == top
    assert doc["step_model_sha256"] == hashlib.sha256(onnx.read_bytes()).hexdigest()
    cfg = defaults()
    gen = load_generator(cfg, path=onnx, offline=True)  # the offline weights still belong to the step model
    assert type(gen).__name__ == "NumpyGenerator" and gen.meta["energy_ceiling"] == top
    # the engine feeds a up to its ceiling
    cfg["model"]["style"] = "a"
    cfg["live"]["energy"] = 2.0
    eng = Engine(cfg, Generator(onnx))
    assert eng._ctrl[eng.control_names.index("energy")] == pytest.approx(min(5.0, top["a"]))


def test_calibrate_ceiling_refuses_a_checkpoint_other_options_and_a_missing_model(
        exported: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from live.cli import main

    onnx, data = exported
    assert main(["calibrate", "--ceiling", str(tmp_path / "x.pt"), "--data", str(data)]) != 0
    assert "pass MODEL.onnx" in capsys.readouterr().err
    assert main(["calibrate", "--ceiling", str(tmp_path / "gone.onnx"), "--data", str(data)]) != 0
    assert "gone.onnx not found" in capsys.readouterr().err
    assert main(["calibrate", "--ceiling", str(onnx), "--data", str(data), "-o", str(tmp_path / "y.pt")]) != 0
    err = capsys.readouterr().err
    assert "--output" in err and len(err.strip().splitlines()) == 1


def test_write_refuses_a_bad_table_and_a_file_that_is_not_a_model(tmp_path: Path) -> None:
    from model.energy_ceiling import write

    with pytest.raises(ModelError, match="not an exported model"):
        write(tmp_path / "m.pt", {"a": 3.0})
    fake = tmp_path / "m.onnx"
    fake.write_bytes(b"")
    with pytest.raises(ModelError, match="at least 0.1"):
        write(fake, {"a": float("nan")})


def test_the_ceiling_is_the_last_point_before_the_first_style_miss(
        exported: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """A classifier that reads a's dances 1.0, 0.95, 0.8, then 1.0 again at energy_max, 3, 3.5, 4:
    the ceiling is 3 and nothing past the miss is danced; an energy_max that a style never passes
    stays its ceiling."""
    from model import style_classifier as sc
    from model.energy_ceiling import measure

    onnx, data = exported
    reads = iter([1.0, 0.95, 0.8, 1.0, 1.0])
    calls: list[int] = []

    class Fake:
        def accuracy(self, dances: dict[str, list[np.ndarray]]) -> dict[str, float]:
            calls.append(len(dances["a"]))
            return {k: next(reads) for k in dances}

    monkeypatch.setattr(sc, "fit", lambda *a, **k: Fake())
    got = measure(onnx, [data], defaults(), per_style=2, seconds=3.0)
    assert got.ceiling["a"] == 3.0 and got.ceiling["b"] == SCALE_RANGE[1]
    assert [e for e, *_ in got.points["a"]] == [2.5, 3.0, 3.5] and len(calls) == 3
    assert calls[0] == 2 * 2  # two pieces of music (the other style's clips) x two seeds
    assert "b" not in got.points


def _siblings_carry(onnx: Path, key: str, table: dict[str, float], meta: dict[str, object]) -> None:
    """The block-4 sibling and the offline weights carry ``key``'s table as the model does, and
    still load as the same model."""
    from live.runtime import Generator, load_generator, same_model

    b4 = Generator(onnx.with_name("m_b4.onnx")).meta
    assert b4[key] == table and same_model(b4, meta)
    gen = load_generator(defaults(), path=onnx, offline=True)
    assert type(gen).__name__ == "NumpyGenerator" and gen.meta[key] == table


def test_calibrate_footwork_writes_the_datas_feet_speed_into_the_model_and_its_siblings(
        exported: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`calibrate --footwork MODEL.onnx`: per style the training data's feet-apart speed (the clips'
    mean weighted by their length), written into the model, its block-4 sibling and its offline
    weights, which still load as the same model; the engine then lets a style under
    ``FOOTWORK_MIN`` keep its feet planted. A checkpoint or a stray option is one error line."""
    from live import post as post_mod
    from live.cli import main
    from live.runtime import Generator
    from model import metrics_dancer as md
    from model.metrics_suite import load_train

    onnx, data = exported
    before = Generator(onnx).meta
    assert main(["calibrate", "--footwork", str(onnx), "--data", str(data)]) == 0
    out = capsys.readouterr().out
    assert "m_b4.onnx" in out and "m_offline.npz" in out
    meta = Generator(onnx).meta
    table = meta["footwork"]
    clips = load_train([data], fps=int(meta["fps"])).poses()
    for st in ("a", "b"):
        got = [(md.feet_apart_speed(p, fps=int(meta["fps"])), len(p)) for p in clips[st]]
        want = np.average([v for v, _ in got], weights=[n for _, n in got])
        assert table[st] == pytest.approx(want, abs=1e-4)
    assert {k: v for k, v in meta.items() if k != "footwork"} == {k: v for k, v in before.items() if k != "footwork"}
    _siblings_carry(onnx, "footwork", table, meta)
    cfg = defaults()
    cfg["model"]["style"] = "a"
    eng = Engine(cfg, Generator(onnx))
    want_a = 0.0 if table["a"] < post_mod.FOOTWORK_MIN else post_mod.STEP_SPREAD
    assert eng.post.step_spread == want_a
    assert main(["calibrate", "--footwork", str(tmp_path / "x.pt"), "--data", str(data)]) != 0
    assert "pass MODEL.onnx" in capsys.readouterr().err
    assert main(["calibrate", "--footwork", str(onnx), "--data", str(data), "--clips", "2", "--only", "a"]) != 0
    err = capsys.readouterr().err
    assert "--only" in err and len(err.strip().splitlines()) == 1
    assert main(["calibrate", "--footwork", "--ceiling", str(onnx), "--data", str(data)]) != 0
    assert "separate runs" in capsys.readouterr().err


def test_calibrate_steps_measures_each_styles_spread_and_writes_it_into_the_model(
        exported: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`calibrate --steps MODEL.onnx`: the real model dances the other style's music at every spread
    of the grid; a style that steps (footwork 0.3 m/s) gets the spread whose shown feet-apart speed
    comes nearest its data's, a planted style none; written into the model and its siblings, which
    still load as the same model, and the engine steps the style at it. Without a footwork table,
    or with another run's flag, it is one error line."""
    from live import post as post_mod
    from live.cli import main
    from live.runtime import Generator, load_generator
    from model.energy_ceiling import rewrite_meta
    from model.modelmeta import describe
    from model.step_calib import GRID, choose

    onnx, data = exported
    copy = tmp_path / "m.onnx"
    copy.write_bytes(onnx.read_bytes())
    rewrite_meta(copy, {"footwork": None})  # (the footwork test may have written one into the shared model)
    assert main(["calibrate", "--steps", str(copy), "--data", str(data), "--seconds", "3", "--clips", "1"]) != 0
    err = capsys.readouterr().err
    assert "no footwork table" in err and "--footwork" in err and len(err.strip().splitlines()) == 1
    assert main(["calibrate", "--steps", "--footwork", str(copy), "--data", str(data)]) != 0
    assert "separate runs" in capsys.readouterr().err

    rewrite_meta(onnx, {"footwork": {"a": 0.3, "b": 0.05}})
    before = Generator(onnx).meta
    assert main(["calibrate", "--steps", str(onnx), "--data", str(data), "--seconds", "3", "--clips", "1"]) == 0
    out = capsys.readouterr()
    points = [(float(m[1]), float(m[2])) for m in re.finditer(r"^a: spread ([\d.]+) m: the shown feet move apart at "
                                                               r"([\d.na]+) m/s", out.err, re.M)]
    assert [g for g, _ in points] == list(GRID), out.err
    assert not re.search(r"^b: spread", out.err, re.M)  # planted: not danced
    meta = Generator(onnx).meta
    table = meta["step_spread"]
    assert set(table) == {"a"} and table["a"] == choose(points, 0.3), (points, table)
    assert {k: v for k, v in meta.items() if k != "step_spread"} == before
    assert "steps at (a " in describe(meta)
    _siblings_carry(onnx, "step_spread", table, meta)
    cfg = defaults()
    cfg["model"]["style"] = "a"
    assert Engine(cfg, Generator(onnx)).post.step_spread == pytest.approx(min(table["a"], post_mod.STEP_SPREAD))
    # (the tiny model hardly moves its feet, so its measured spread is the grid's top: the engine's
    # reading of a smaller one, from the same real file)
    rewrite_meta(onnx, {"step_spread": {"a": 0.05}})
    assert Engine(cfg, Generator(onnx)).post.step_spread == pytest.approx(0.05)
    assert Engine(cfg, load_generator(defaults(), path=onnx, offline=True)).post.step_spread == pytest.approx(0.05)
    cfg["model"]["style"] = "b"
    assert Engine(cfg, Generator(onnx)).post.step_spread == 0.0
