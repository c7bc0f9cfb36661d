"""`dancemuse dataset import bvh`: takes + song -> dataset clips; bad inputs -> one line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from test_bvh import _dance

from model.bvh import write_bvh
from model.dataset import check_dataset, load_poses, read_manifest
from model.errors import DatasetError
from model.importers.bvh_import import import_bvh
from model.skeleton import CANONICAL_BONE_LENGTHS, bone_lengths, root_of


def run_cli(argv: list[str]) -> int:
    """Run the real `dancemuse` entry point (errors -> one line on stderr, status 2)."""
    from live.cli import main

    return main(argv)


@pytest.fixture()
def song(tmp_path: Path) -> Path:
    path = tmp_path / "song.wav"
    t = np.arange(24000 * 4) / 24000
    sf.write(path, 0.2 * np.sin(2 * np.pi * 220 * t), 24000)
    return path


def test_bvh_take_becomes_a_clean_clip_at_the_configured_fps(tmp_path: Path, song: Path, capsys) -> None:
    poses = _dance(120)  # 2 s at 60 fps
    take = write_bvh(tmp_path / "take1.bvh", poses, fps=60)
    out = tmp_path / "ds"
    assert run_cli(["dataset", "import", "bvh", str(take), "--audio", str(song), "--style", "house",
                    "--out", str(out), "--licence", "own take"]) == 0
    assert "imported 1 clip" in capsys.readouterr().out
    assert check_dataset(out) == []
    (clip,) = read_manifest(out)["clips"]
    assert clip["style"] == "house" and clip["fps"] == 30 and clip["rig"] == "dancemuse"
    got = load_poses(out / clip["poses"])["poses"]
    assert got.shape == (60, 17, 3)
    # same dance, every other frame, shifted onto the floor and centred only
    want = poses[::2]
    rel_got = got - root_of(got)[:, None]
    rel_want = want - root_of(want)[:, None]
    assert np.abs(rel_got - rel_want).max() < 1e-3
    assert np.allclose(np.diff(root_of(got), axis=0), np.diff(root_of(want), axis=0), atol=1e-3)
    limbs = [7, 8, 9, 10, 13, 14, 15, 16]
    assert np.abs(bone_lengths(got)[:, limbs] - CANONICAL_BONE_LENGTHS[limbs]).max() < 1e-3


def test_two_takes_one_song_and_a_joint_map(tmp_path: Path, song: Path) -> None:
    poses = _dance(30)
    a = write_bvh(tmp_path / "a.bvh", poses, fps=30)
    text = a.read_text().replace("JOINT LeftUpLeg\n", "JOINT thigh_L\n")
    b = tmp_path / "b.bvh"
    b.write_text(text)
    jmap = tmp_path / "map.json"
    jmap.write_text(json.dumps({"left_hip": "thigh_L"}))
    entries = import_bvh([a, b], audio=[song], style="popping", out=tmp_path / "ds", fps=30,
                         joint_map=jmap, unit="cm")
    assert [e["id"] for e in entries] == ["a", "b"]
    pa, pb = (load_poses(tmp_path / "ds" / e["poses"])["poses"] for e in entries)
    assert np.abs(pa - pb).max() < 1e-5


@pytest.mark.parametrize("case", ["truncated", "missing", "no_audio", "rig"])
def test_bad_inputs_give_one_line_and_write_nothing(tmp_path: Path, song: Path, case: str, capsys) -> None:
    good = write_bvh(tmp_path / "good.bvh", _dance(30), fps=30)
    bad = tmp_path / "bad.bvh"
    audio = str(song)
    if case == "truncated":
        text = good.read_text()
        bad.write_text(text[: len(text) - 300])
        expect = "truncated"
    elif case == "missing":
        expect = "no such BVH file"
    elif case == "no_audio":
        bad.write_text(good.read_text())
        audio = str(tmp_path / "nosong.wav")
        expect = "audio file .*nosong.wav does not exist"
    else:
        bad.write_text(good.read_text().replace("JOINT LeftForeArm\n", "JOINT elbow_l\n"))
        expect = "left_elbow.*--map"
    out = tmp_path / "ds"
    rc = run_cli(["dataset", "import", "bvh", str(good), str(bad), "--audio", audio, "--style", "x",
                  "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert err[-1].startswith("dancemuse: error: ")
    assert __import__("re").search(expect, err[-1]), err[-1]
    assert not out.exists()


def test_import_into_an_existing_dataset_keeps_it_when_a_file_is_bad(tmp_path: Path, song: Path) -> None:
    out = tmp_path / "ds"
    good = write_bvh(tmp_path / "good.bvh", _dance(30), fps=30)
    import_bvh([good], audio=[song], style="house", out=out, fps=30)
    before = (out / "manifest.json").read_text()
    files_before = sorted(p.name for p in (out / "clips").iterdir())
    bad = tmp_path / "bad.bvh"
    bad.write_text(good.read_text()[:-500])
    with pytest.raises(DatasetError):
        import_bvh([good, bad], audio=[song], style="house", out=out, fps=30, ids=["again", "bad"])
    assert (out / "manifest.json").read_text() == before
    assert sorted(p.name for p in (out / "clips").iterdir()) == files_before
