"""`dancemuse dataset import mocap DIR`: mocap takes -> clips with music on the dancer's beat,
provenance and licence in the manifest; bad input -> one line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_kinbeats import _beat_times, _stepping_dance

from model.bvh import write_bvh
from model.dataset import check_dataset, load_poses, read_manifest
from model.importers.mocap import CMU_CREDIT, retarget
from model.importers.mocap_music import accompaniment, note_onsets
from model.midi_render import have_fluidsynth

SHARED_MOCAP = Path(__file__).resolve().parents[2] / "shared" / "mocap"
needs_fluidsynth = pytest.mark.skipif(not have_fluidsynth(), reason="Debian fluidsynth + fluid-soundfont-gm")


def run_cli(argv: list[str]) -> int:
    from live.cli import main

    return main(argv)


def _entry(folder: str, file: str, trial: str, style: str, **kw: object) -> dict[str, object]:
    return {"folder": folder, "file": file, "source_path": f"bvh/{file}", "cmu_trial": trial,
            "cmu_description": f"Subject #{trial.split('_')[0]}: {style}", "style": style, "fps_true": 60.0,
            "counted": True, "source_repo": f"someone/{folder}", "source_commit": "c0ffee" * 6 + "beef", **kw}


@pytest.fixture()
def mocap_dir(tmp_path: Path) -> Path:
    """A folder like ../shared/mocap: a salsa couple (lead and follow of one performance),
    a breakdance take and a listed duplicate that is not counted."""
    root = tmp_path / "mocap"
    salsa = _beat_times(170.0, 170.0, 10.0)
    (root / "couple").mkdir(parents=True)
    (root / "breaks").mkdir()
    write_bvh(root / "couple" / "60_01_scaled.bvh", _stepping_dance(salsa, 10.0, skip_every=4, seed=1), fps=60)
    write_bvh(root / "couple" / "61_01_scaled.bvh", _stepping_dance(salsa, 10.0, skip_every=4, seed=2), fps=60)
    write_bvh(root / "breaks" / "85_03.bvh", _stepping_dance(_beat_times(120.0, 120.0, 8.0), 8.0), fps=60)
    entries = [_entry("couple", "60_01_scaled.bvh", "60_01", "salsa (couple, lead)"),
               _entry("couple", "61_01_scaled.bvh", "61_01", "salsa (couple, follow)"),
               _entry("breaks", "85_03.bvh", "85_03", "breakdance"),
               _entry("breaks", "scaled_85_03.bvh", "85_03", "breakdance", counted=False)]
    (root / "manifest.json").write_text(json.dumps(entries))
    return root


@needs_fluidsynth
def test_takes_become_clips_with_music_on_their_grid_and_provenance(tmp_path: Path, mocap_dir: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "ds"
    assert run_cli(["dataset", "import", "mocap", str(mocap_dir), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "imported 3 clip(s)" in printed and "bpm" in printed and "fit" in printed
    assert check_dataset(out) == []
    clips = {c["id"]: c for c in read_manifest(out)["clips"]}
    assert sorted(clips) == ["cmu_60_01", "cmu_61_01", "cmu_85_03"]
    lead, follow, brk = clips["cmu_60_01"], clips["cmu_61_01"], clips["cmu_85_03"]
    assert (lead["style"], follow["style"], brk["style"]) == ("salsa", "salsa", "breaking")
    assert (lead["role"], follow["role"]) == ("lead", "follow")
    assert lead["partner"] == ["cmu_61_01"] and follow["partner"] == ["cmu_60_01"]
    assert lead["source"] == "cmu:60_01" and lead["cmu_subject"] == "60" and lead["cmu_trial"] == "60_01"
    assert lead["source_repo"] == "someone/couple" and lead["source_commit"].startswith("c0ffee")
    assert lead["source_path"] == "bvh/60_01_scaled.bvh" and lead["original"] == "60_01_scaled.bvh"
    assert CMU_CREDIT in lead["licence"] and lead["credit"] == CMU_CREDIT
    assert lead["fps"] == 30 and lead["source_fps"] == 60.0
    assert lead["bpm"] == pytest.approx(170.0, rel=0.03)
    assert brk["bpm"] == pytest.approx(120.0, rel=0.03)
    za, zb = (load_poses(out / c["poses"]) for c in (lead, follow))
    assert np.array_equal(za["beats"], zb["beats"])  # partners share one grid
    assert len(za["downbeats"]) >= 2 and set(np.round(za["downbeats"], 6)) <= set(np.round(za["beats"], 6))
    # the music's onsets fall on the grid: each beat has an audio onset within 25 ms
    from model.importers.mocap_plot import audio_onsets

    fps = 200.0
    on = audio_onsets(out / lead["audio"], fps)
    peaks = np.flatnonzero((on[1:-1] > on[:-2]) & (on[1:-1] >= on[2:]) & (on[1:-1] > 0.2)) + 1
    beats = za["beats"][(za["beats"] > 0.5) & (za["beats"] < lead["seconds"] - 0.5)]
    near = np.min(np.abs(beats[:, None] - peaks[None, :] / fps), axis=1)
    assert np.mean(near < 0.025) > 0.9
    # feet on the floor, figure facing +z on average
    p = za["poses"]
    assert 0.0 < np.percentile(p[:, [15, 16], 1].min(axis=1), 5) < 0.15
    assert np.mean(p[:, 11, 0] - p[:, 12, 0]) > 0  # left hip on +x: facing the audience
    # danced by the show's skeleton; the performer's build is kept in the manifest
    from model.skeleton import bone_length_error

    assert lead["retargeted"] is True and set(lead["build"]) == {"thigh", "shin", "torso", "leg"}
    assert bone_length_error(p) < 1e-4


def test_retarget_gives_the_show_skeleton_keeps_the_floor_and_scales_travel() -> None:
    """A performer 1.2x the canonical build who walks 1 m and jumps: canonical bones, the lower
    ankle's height frame by frame (planted feet stay on the floor, the jump stays in the air),
    the walk 1 / 1.2 m long (the strides the shorter legs make)."""
    from model.skeleton import bone_length_error, bone_lengths, rest_pose, root_of

    t = 60
    base = rest_pose(on_floor=True) * 1.2
    base[..., 1] -= base[[15, 16], 1].min() - 0.08  # feet on the floor
    p = np.repeat(base[None], t, axis=0).astype(np.float32)
    p[:, :, 0] += np.linspace(0.0, 1.0, t)[:, None]  # walks 1 m along x
    p[40:50, :, 1] += 0.2  # a jump
    p[:, 9, 1] += 0.1 * np.sin(np.linspace(0.0, 6.0, t))  # a moving wrist (its bone stretches)
    q, build = retarget(p)
    assert build["leg"] == pytest.approx(1.2, rel=1e-3) and build["thigh"] == pytest.approx(1.2, rel=1e-3)
    assert bone_length_error(q) < 1e-5 and bone_length_error(p) > 0.1
    assert np.allclose(q[:, [15, 16], 1].min(axis=1), p[:, [15, 16], 1].min(axis=1), atol=1e-5)
    walk = root_of(q)[:, 0]
    assert walk[-1] - walk[0] == pytest.approx(1.0 / 1.2, rel=1e-3)
    assert np.allclose(bone_lengths(q)[0], bone_lengths(q)[-1], atol=1e-5)


@pytest.mark.parametrize("style", ["salsa", "breaking", "freestyle"])
def test_accompaniment_puts_a_drum_note_on_every_grid_beat(style: str) -> None:
    rng = np.random.default_rng(0)
    beats = np.cumsum(0.35 + 0.02 * rng.standard_normal(60))  # a drifting, uneven grid
    counts = (np.arange(60) + 5) % 8 + 1
    pm = accompaniment(beats, counts, style=style, seed=7, seconds=float(beats[-1]) + 0.2)
    drums = note_onsets(pm, drums_only=True)
    gap = np.min(np.abs(beats[:, None] - drums[None, :]), axis=1)
    assert gap.max() < 1e-3
    assert any(i.is_drum for i in pm.instruments) and len(pm.instruments) >= 3  # drums, bass, chords
    everything = note_onsets(pm)
    assert everything.min() >= 0.0 and everything.max() <= beats[-1] + 0.2
    # seeded: the same take sounds the same, another seed changes the instruments or notes
    again = accompaniment(beats, counts, style=style, seed=7, seconds=float(beats[-1]) + 0.2)
    other = accompaniment(beats, counts, style=style, seed=8, seconds=float(beats[-1]) + 0.2)
    def sig(m):  # type: ignore[no-untyped-def]
        return [(i.program, len(i.notes)) for i in m.instruments]
    assert sig(again) == sig(pm) and sig(other) != sig(pm)


def test_salsa_clave_follows_the_counts() -> None:
    beats = np.arange(1, 33) * 0.36
    counts = (np.arange(32) + 2) % 8 + 1  # the grid starts on count 3
    pm = accompaniment(beats, counts, style="salsa", seed=1, seconds=float(beats[-1]))
    drums = next(i for i in pm.instruments if i.is_drum)
    clave = np.array(sorted(n.start for n in drums.notes if n.pitch == 75))
    one = beats[counts == 1][0]
    want = one + 0.36 * np.array([1.0, 2.0, 4.0, 5.5, 7.0])  # 2-3 son clave from count 1
    assert np.all(np.min(np.abs(clave[:, None] - want[None, :]), axis=0) < 1e-3)


@pytest.mark.parametrize("case", ["missing", "bad_bvh", "empty"])
def test_bad_input_gives_one_line(tmp_path: Path, mocap_dir: Path, case: str,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    folder = mocap_dir
    if case == "missing":
        folder, expect = tmp_path / "nowhere", "mocap folder .*nowhere does not exist"
    elif case == "bad_bvh":
        take = mocap_dir / "breaks" / "85_03.bvh"
        take.write_text(take.read_text()[:-400])
        expect = "85_03.bvh"
    else:
        folder = tmp_path / "empty"
        folder.mkdir()
        expect = "no BVH takes found"
    out = tmp_path / "ds"
    rc = run_cli(["dataset", "import", "mocap", str(folder), "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and err[-1].startswith("dancemuse: error: ")
    assert __import__("re").search(expect, err[-1]), err[-1]
    assert not out.exists()


@needs_fluidsynth
def test_a_real_cmu_take_imports_with_its_source(tmp_path: Path) -> None:
    if not (SHARED_MOCAP / "manifest.json").is_file():
        pytest.skip("../shared/mocap (the CMU takes) is not beside this checkout; put the shared folder next to it")
    out = tmp_path / "ds"
    assert run_cli(["dataset", "import", "mocap", str(SHARED_MOCAP), "--out", str(out), "--limit", "1"]) == 0
    (clip,) = read_manifest(out)["clips"]
    assert clip["cmu_trial"] == "60_01" and clip["rig"] == "cmu43" and clip["style"] == "salsa"
    assert clip["source_repo"] == "beemsoft/webxr-handtracking-playground" and len(clip["source_commit"]) == 40
    assert 140.0 <= clip["bpm"] <= 200.0 and clip["pulse"]["fit_70ms"] > 0.35
    assert check_dataset(out) == []
