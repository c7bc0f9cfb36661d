"""Evaluation: metric table of a model next to the data, oracle and frozen dancers, the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from model.config import defaults
from model.errors import DatasetError
from model.evaluate import Song, data_note, evaluate, find_songs, format_table
from model.skeleton import rest_pose
from model.train_data import load_clips
from tests.test_train import make_dataset, tiny_config


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("evdata") / "set", clips=4, seconds=6.0)


def test_an_oracle_dancer_matches_the_ground_truth(data: Path) -> None:
    clips = load_clips(data, feature_cfg=defaults()["features"])
    songs = find_songs([data], styles=["a", "b"])
    by_audio = {s.audio: s.poses for s in songs}
    current: dict[str, str] = {}

    def oracle(audio: np.ndarray, sr: int, *, style: str) -> tuple[np.ndarray, np.ndarray]:
        return by_audio[current["audio"]], np.zeros(0)

    def progress(i: int, n: int, name: str) -> None:
        current["audio"] = songs[i].audio

    rep = evaluate(oracle, songs, train_clips=clips, fps=30, progress=progress)
    s = rep["summary"]
    assert rep["reference"] == "heldout" and len(rep["songs"]) == 4
    for k in ("bas", "freeze_ratio", "bone_length_error", "diversity", "lag_ms"):
        assert s[k]["model"] == pytest.approx(s[k]["heldout"]), k
    assert rep["acceptance"]["bas_ratio"]["value"] == pytest.approx(1.0)
    assert rep["acceptance"]["freeze_ratio"]["pass"]
    assert "bas" in format_table(rep) and "PASS" in format_table(rep)


def test_a_frozen_dancer_fails(data: Path) -> None:
    clips = load_clips(data, feature_cfg=defaults()["features"])
    songs = find_songs([data], styles=["a", "b"])

    def statue(audio: np.ndarray, sr: int, *, style: str) -> tuple[np.ndarray, np.ndarray]:
        n = int(len(audio) / sr * 30)
        return np.tile(rest_pose(on_floor=True), (n, 1, 1)), np.zeros(0)

    rep = evaluate(statue, songs, train_clips=clips, fps=30)
    acc = rep["acceptance"]
    assert acc["freeze_ratio"]["value"] == 1.0 and not acc["freeze_ratio"]["pass"]
    assert not acc["bas_ratio"]["pass"] or not np.isfinite(acc["bas_ratio"]["value"])
    assert acc["bone_length_error"]["pass"]  # the rest pose has canonical bones


def test_plain_audio_files_get_styles_round_robin(data: Path, tmp_path: Path) -> None:
    wavs = sorted((data / "clips").glob("*.wav"))
    songs = find_songs([*wavs[:3]], styles=["a", "b"])
    assert [s.style for s in songs] == ["a", "b", "a"] and songs[0].beats is None
    with pytest.raises(DatasetError, match="neither an audio file"):
        find_songs([tmp_path / "nothing.wav"], styles=["a"])
    assert isinstance(Song(name="x", audio="y", style="a"), Song)


def test_cli_evaluates_a_checkpoint_and_writes_json(data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from live.cli import main
    from model.train import load_train_config, train

    net_cfg, tc, _ = load_train_config(tiny_config(tmp_path, steps=4, ckpt=4))
    tc.val_every = 100
    train(data=data, out=tmp_path / "run", feature_cfg=defaults()["features"], net_cfg=net_cfg, train_cfg=tc,
          progress=False)
    out = tmp_path / "ev.json"
    wavs = sorted((data / "clips").glob("*.wav"))
    assert main(["evaluate", "--model", str(tmp_path / "run" / "final.pt"), "--songs", str(wavs[0]), str(data),
                 "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "style_separability" in text and "acceptance" in text
    rep = json.loads(out.read_text())
    assert len(rep["songs"]) == 5 and rep["songs"][0]["model"]["freeze_ratio"] is not None
    assert main(["evaluate", "--model", str(tmp_path / "nope.pt"), "--songs", str(data)]) == 2
    assert "not found" in capsys.readouterr().err


def test_suite_options_carry_the_style_seeds_and_refuse_none() -> None:
    import argparse

    from live.commands.evaluate import add_suite_options, suite_config
    from model.errors import ConfigError

    p = argparse.ArgumentParser()
    add_suite_options(p)
    assert suite_config(p.parse_args([]), defaults()).style_seeds == 4
    assert suite_config(p.parse_args(["--style-seeds", "2"]), defaults()).style_seeds == 2
    with pytest.raises(ConfigError, match="--style-seeds >= 1"):
        suite_config(p.parse_args(["--style-seeds", "0"]), defaults())
    assert suite_config(p.parse_args([]), defaults()).long_seeds == 4
    assert suite_config(p.parse_args(["--long-seeds", "2"]), defaults()).long_seeds == 2
    with pytest.raises(ConfigError, match="--long-seeds >= 1"):
        suite_config(p.parse_args(["--long-seeds", "0"]), defaults())
    cfg = defaults()
    suite_config(p.parse_args(["--feel", "0.5"]), cfg)
    assert cfg["live"]["feel"] == 0.5  # the dancer reads it there
    with pytest.raises(ConfigError, match="live.feel"):
        suite_config(p.parse_args(["--feel", "0.7"]), defaults())


@pytest.mark.slow
def test_cli_measures_the_shipped_model_on_a_tiny_set_and_writes_json_and_sheets(
        data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("onnxruntime", reason="needs onnxruntime (the cpu extra): pip install -e \".[cpu]\"")
    from live.cli import main

    model = Path(__file__).resolve().parent.parent / "models" / "default.onnx"
    out = tmp_path / "ev.json"
    assert main(["evaluate", "--model", str(model), "--songs", str(data), "--data", str(data),
                 "--long-minutes", "0.2", "--long-seeds", "2", "--pair-songs", "1", "--styles-per-song", "1",
                 "--style-seeds", "1", "--recordings",
                 "--json", str(out), "--sheets", str(tmp_path / "sheets")]) == 0
    text = capsys.readouterr().out
    for row in ("beat-align score, exact beats", "seconds two seeds agree", "repetition ratio, min",
                "root radius max", "style recognised", "mirror flips per minute"):
        assert row in text, row
    assert "PASS" in text or "FAIL" in text
    assert "style strength 2 (hiphop x1.25, house x0.5, locking x2, popping x2.5)" in text  # the header names what the dances are fed
    assert "long test on test songs (seeds 0-1)" in text  # the long test names its seeds
    # the shipped model learnt synth_v5, synth_x5 and the motion capture, not this tiny set: said in one line
    assert f"note: the model learnt from data/synth_v5, data/synth_x5, data/mocap, not {data}:" in text
    rep = json.loads(out.read_text())
    f = rep["figures"]
    assert 0.0 <= f["bas"] <= 1.0 and 0.0 <= f["seed_agree"] <= 1.0 and f["freeze_long"] is not None
    assert 0.0 <= f["repetition_low"] <= 1.0 and (f["repetition_low"] > 0) == (f["repetition_min"] < 0.3)
    # the mirror flips per minute are reported (counted: the next test; 12 s of dance may hold no
    # repeat to flip since a new phrase no longer asks for a flip, session 63)
    assert isinstance(f["novelty_long"], float) and 0.0 <= f["novelty_long"] < 60.0
    assert rep["n_exact"] == 4 and set(rep["train_style"]) == {"a", "b"}
    assert len(rep["sheets"]) == 3 * len(rep["styles"]) and all(Path(p).is_file() for p in rep["sheets"])
    assert sum(p.endswith("_feet.png") for p in rep["sheets"]) == len(rep["styles"])
    assert main(["evaluate", "--songs", "midi:x", "--data", str(data)]) == 2  # no --model: the shipped one
    assert "midi:N" in capsys.readouterr().err


def test_evaluate_says_when_the_style_classifier_learns_other_data_than_the_model() -> None:
    learnt = ["data/synth_v9", "data/synth_x9", "data/mocap"]
    assert data_note(learnt, ["/work/main/data/synth_v9", "data/mocap"]) is None  # a subset, by folder name
    assert data_note(learnt, None) is None and data_note(None, ["data/synth_v5"]) is None
    note = data_note(learnt, ["data/synth_v5", "data/mocap"])
    assert note is not None and note.startswith("note: the model learnt from data/synth_v9, data/synth_x9, "
                                                "data/mocap, not data/synth_v5:")
    assert "pass --data with the model's own training folders" in note


def _demo_piece(seconds: float, seed: int) -> tuple[Any, Path]:
    """The demo song as an evaluation piece (a recording: tracked beats), and the shipped model."""
    from model.metrics_songs import TestSong as Piece
    from model.synth_music import demo_song

    s = demo_song(seconds=seconds, seed=seed)
    song = Piece("demo", np.asarray(s.audio, np.float32), int(s.sample_rate), "recording")
    return song, Path(__file__).resolve().parent.parent / "models" / "default.onnx"


def test_the_evaluation_dancer_without_post_processing_is_not_repelled() -> None:
    """`evaluate --post off` is the model's raw output: the repel stage (a post-processing stage,
    on by default) is off there, and named among the stages when the post-processing is on."""
    pytest.importorskip("onnxruntime", reason="needs onnxruntime (the cpu extra): pip install -e \".[cpu]\"")
    from model.config import load_config
    from model.metrics_gen import Dancer

    song, model = _demo_piece(30.0, 3)
    cfg = load_config(None)
    assert cfg["live"]["repel"] > 0
    bare = dict(cfg, live=dict(cfg["live"], repel=0.0))
    on, off = Dancer(str(model), cfg), Dancer(str(model), cfg, post="off")
    assert "repel 1.5" in on.post_stages and "repel 0," in Dancer(str(model), bare).post_stages
    dance = {k: d.dance(song, style="ballet", seed=1).poses for k, d in
             (("on", on), ("bare", Dancer(str(model), bare)), ("off", off), ("off bare", Dancer(str(model), bare, post="off")))}
    assert np.abs(dance["on"] - dance["bare"]).max() > 0.01  # the stage acts on this dance
    assert np.array_equal(dance["off"], dance["off bare"])  # but not on the raw output


def test_the_evaluation_dancer_and_generate_dance_the_same_half_time() -> None:
    pytest.importorskip("onnxruntime", reason="needs onnxruntime (the cpu extra): pip install -e \".[cpu]\"")
    from live.generate import apply_options, generate_dance
    from model.config import load_config
    from model.metrics_gen import Dancer

    song, model = _demo_piece(12.0, 5)
    cfg = load_config(None)
    cfg["live"]["feel"] = 0.5
    d = Dancer(str(model), cfg)
    assert d.post_stages.endswith("feel 0.5")
    g = d.dance(song, style=d.styles[0], seed=1)
    base = dict(d.cfg, live=dict(d.cfg["live"], feel=1.0))  # the dancer's own config, feel from --feel
    ref = generate_dance("demo", cfg=apply_options(base, style=d.styles[0], seed=1, feel=0.5),
                         generator=d.generator, audio=(song.audio, song.sr))
    assert np.array_equal(g.poses, ref.poses)
    plain = Dancer(str(model), load_config(None)).dance(song, style=d.styles[0], seed=1)
    assert np.abs(plain.poses - g.poses).mean() > 0.01  # half time is another dance


def test_the_evaluation_dancer_dances_the_configs_variation_and_energy_unless_told() -> None:
    """`bench repeats --variant ... live.variation=1` must dance variation 1 (it danced 0.5 until
    session 52, whatever the config said)."""
    pytest.importorskip("onnxruntime", reason="needs onnxruntime (the cpu extra): pip install -e \".[cpu]\"")
    from model.config import load_config
    from model.metrics_gen import Dancer

    song, model = _demo_piece(8.0, 5)
    cfg = load_config(None)
    assert (cfg["live"]["variation"], cfg["live"]["energy"]) == (0.5, 1.0)
    plain = Dancer(str(model), cfg)
    st = plain.styles[0]
    half = plain.dance(song, style=st, seed=1).poses
    assert np.array_equal(half, plain.dance(song, style=st, seed=1, variation=0.5, energy=1.0).poses)
    wild = Dancer(str(model), {**cfg, "live": {**cfg["live"], "variation": 1.0, "energy": 0.6}})
    mine = wild.dance(song, style=st, seed=1).poses
    assert np.abs(mine - half).mean() > 0.01
    assert np.array_equal(mine, plain.dance(song, style=st, seed=1, variation=1.0, energy=0.6).poses)
    assert np.array_equal(half, wild.dance(song, style=st, seed=1, variation=0.5, energy=1.0).poses)
    calm = wild.dance(song, style=st, seed=1, variation=1.0, energy=1.0).poses  # energy told, variation not
    assert np.abs(calm - mine).mean() > 0.01 and np.abs(calm - half).mean() > 0.01


def test_the_evaluation_dancer_makes_exactly_the_dance_of_the_live_generate_path() -> None:
    pytest.importorskip("onnxruntime", reason="needs onnxruntime (the cpu extra): pip install -e \".[cpu]\"")
    from live.generate import apply_options, generate_dance
    from model.config import load_config
    from model.metrics_gen import Dancer

    song, model = _demo_piece(36.0, 5)  # 1080 frames: more than the engine's ring of joint buffers
    d = Dancer(str(model), load_config(None))
    g = d.dance(song, style=d.styles[0], seed=1)
    ref = generate_dance("demo", cfg=apply_options(d.cfg, style=d.styles[0], seed=1), generator=d.generator,
                         audio=(song.audio, song.sr))
    assert g.poses.shape == ref.poses.shape and np.array_equal(g.poses, ref.poses)
    assert g.raw.shape == g.poses.shape and not np.array_equal(g.raw, g.poses)  # before post-processing


def test_the_evaluation_dancer_counts_the_novelty_flips_and_dances_as_generate() -> None:
    pytest.importorskip("onnxruntime", reason="needs onnxruntime (the cpu extra): pip install -e \".[cpu]\"")
    from live.generate import apply_options, generate_dance
    from model.config import load_config
    from model.metrics_gen import Dancer

    song, model = _demo_piece(40.0, 0)
    cfg = load_config(None)
    assert cfg["live"]["novelty"] == 0.35  # on by default since session 40
    off = {**cfg, "live": {**cfg["live"], "novelty": 0.0}}
    assert Dancer(str(model), off).dance(song, style="house", seed=2).novel == 0
    d = Dancer(str(model), cfg)
    g = d.dance(song, style="house", seed=2)
    ref = generate_dance("demo", cfg=apply_options(d.cfg, style="house", seed=2), generator=d.generator,
                         audio=(song.audio, song.sr))
    assert g.novel > 0 and np.array_equal(g.poses, ref.poses)
