"""Dataset format: writer (atomic), check, info, and the feature-aligned loader."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from model.dataset import (
    MANIFEST,
    DatasetWriter,
    check_dataset,
    clip_records,
    dataset_info,
    load_poses,
    write_clip,
)
from model.errors import DatasetError
from model.skeleton import rest_pose

SR = 24000


def _poses(seconds: float, fps: int = 30) -> np.ndarray:
    t = np.arange(int(seconds * fps)) / fps
    p = np.repeat(rest_pose(on_floor=True)[None], len(t), axis=0)
    p[:, :, 0] += (0.1 * np.sin(2 * np.pi * t))[:, None].astype(np.float32)
    return p


def _audio(seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def _make(root: Path, n: int = 2, seconds: float = 2.0) -> None:
    with DatasetWriter(root) as w:
        for i in range(n):
            w.add_clip(id=f"c{i}", poses=_poses(seconds), fps=30, style=["house", "ballet"][i % 2],
                       source="test", licence="CC0", audio=_audio(seconds), sample_rate=SR,
                       beats=np.arange(0, seconds, 0.5))


def test_written_dataset_round_trips_and_checks_clean(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    _make(root)
    doc = json.loads((root / MANIFEST).read_text())
    assert doc["format_version"] == 1 and len(doc["clips"]) == 2
    c = doc["clips"][0]
    for key in ("id", "audio", "poses", "fps", "style", "source", "skeleton", "licence"):
        assert key in c
    assert c["skeleton"] == "coco17"
    z = load_poses(root / c["poses"])
    assert z["poses"].dtype == np.float32 and z["poses"].shape == (60, 17, 3)
    np.testing.assert_allclose(z["poses"], _poses(2.0))
    assert sf.info(str(root / c["audio"])).samplerate == SR
    assert check_dataset(root) == []
    info = dataset_info(root)
    assert info["clips"] == 2
    assert info["minutes_per_style"] == {"ballet": pytest.approx(2 / 60, abs=1e-3), "house": pytest.approx(2 / 60, abs=1e-3)}
    assert info["fps"] == [30.0]


def test_writer_appends_to_an_existing_dataset_and_refuses_duplicate_ids(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    _make(root)
    write_clip(root, id="extra", poses=_poses(1.0), fps=30, style="popping", source="t", licence="x",
               audio=_audio(1.0), sample_rate=SR)
    assert [r.id for r in clip_records(root)] == ["c0", "c1", "extra"]
    with pytest.raises(DatasetError, match="already exists"):
        write_clip(root, id="extra", poses=_poses(1.0), fps=30, style="popping", source="t", licence="x",
                   audio=_audio(1.0), sample_rate=SR)


def test_an_error_midway_leaves_nothing_partial(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    _make(root)
    before = (root / MANIFEST).read_text()
    files_before = sorted(p.name for p in (root / "clips").iterdir())
    bad = _poses(1.0)
    bad[3, 4, 1] = np.nan
    with pytest.raises(DatasetError, match="NaN"), DatasetWriter(root) as w:
        w.add_clip(id="ok", poses=_poses(1.0), fps=30, style="s", source="t", licence="x",
                   audio=_audio(1.0), sample_rate=SR)
        w.add_clip(id="bad", poses=bad, fps=30, style="s", source="t", licence="x",
                   audio=_audio(1.0), sample_rate=SR)
    assert (root / MANIFEST).read_text() == before
    assert sorted(p.name for p in (root / "clips").iterdir()) == files_before
    # A new dataset that fails leaves no folder at all.
    new = tmp_path / "new"
    with pytest.raises(DatasetError, match="shape"), DatasetWriter(new) as w:
        w.add_clip(id="x", poses=np.zeros((10, 16, 3)), fps=30, style="s", source="t", licence="x",
                   audio=_audio(1.0), sample_rate=SR)
    assert not new.exists()


def test_check_reports_each_problem_on_one_line(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    with DatasetWriter(root) as w:
        for cid in ("missing_audio", "nan", "short_audio", "fps", "bones", "shape", "fine"):
            seconds_audio = 0.5 if cid == "short_audio" else 2.0
            w.add_clip(id=cid, poses=_poses(2.0), fps=30, style="s", source="t", licence="x",
                       audio=_audio(seconds_audio), sample_rate=SR)
    (root / "clips" / "missing_audio.wav").unlink()
    z = load_poses(root / "clips/nan.npz")
    z["poses"][5, 3] = np.nan
    np.savez(root / "clips/nan.npz", **z)
    z = load_poses(root / "clips/fps.npz")
    z["fps"] = np.float64(60)
    np.savez(root / "clips/fps.npz", **z)
    z = load_poses(root / "clips/bones.npz")
    z["poses"] = z["poses"] * 10.0  # centimetres-ish by mistake
    np.savez(root / "clips/bones.npz", **z)
    z = load_poses(root / "clips/shape.npz")
    z["poses"] = z["poses"][:, :15]
    np.savez(root / "clips/shape.npz", **z)
    problems = check_dataset(root)
    text = "\n".join(problems)
    assert all("\n" not in p for p in problems)
    assert len(problems) == 6, text
    assert "missing_audio: audio file" in text
    assert "nan: 1 frames contain NaN" in text
    assert "short_audio: audio is 0.50 s but the poses last 2.00 s" in text
    assert "fps: fps mismatch" in text
    assert "bones: implausible bone lengths" in text
    assert "shape: poses have shape (60, 15, 3)" in text
    assert not any(p.startswith("fine") for p in problems)


def test_check_on_a_folder_that_is_not_a_dataset(tmp_path: Path) -> None:
    assert "does not exist" in check_dataset(tmp_path / "nope")[0]
    assert "manifest.json is missing" in check_dataset(tmp_path)[0]
    (tmp_path / MANIFEST).write_text("{not json")
    assert "not valid JSON" in check_dataset(tmp_path)[0]


def test_audio_path_is_copied_and_bad_ids_refused(tmp_path: Path) -> None:
    wav = tmp_path / "song.wav"
    sf.write(str(wav), _audio(2.0), SR)
    root = tmp_path / "ds"
    entry = write_clip(root, id="take-1", poses=_poses(2.0), fps=30, style="x", source="bvh:a.bvh",
                       licence="own", audio_path=wav, confidence=np.ones((60, 17)))
    assert entry["audio"] == "clips/take-1.wav" and (root / entry["audio"]).is_file()
    assert check_dataset(root) == []
    with pytest.raises(DatasetError, match="ids are"):
        write_clip(root, id="../evil", poses=_poses(1.0), fps=30, style="x", source="t", licence="x",
                   audio_path=wav)
    with pytest.raises(DatasetError, match="does not exist"):
        write_clip(root, id="y", poses=_poses(1.0), fps=30, style="x", source="t", licence="x",
                   audio_path=tmp_path / "nope.wav")


def test_cli_synth_check_info(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from live.cli import main

    out = tmp_path / "synth"
    assert main(["dataset", "synth", "--out", str(out), "--minutes", "0.4", "--styles", "house,ballet",
                 "--seed", "3", "--clip-seconds", "5,8"]) == 0
    assert "synth [" in capsys.readouterr().err  # progress line
    assert main(["dataset", "check", str(out)]) == 0
    assert "no problems" in capsys.readouterr().out
    clips = json.loads((out / "manifest.json").read_text())["clips"]
    assert clips and all(c["variety"] == 1.0 for c in clips)  # the varied choreography by default
    png = tmp_path / "summary.png"
    assert main(["dataset", "info", str(out), "--png", str(png), "--metrics"]) == 0
    text = capsys.readouterr().out
    assert "ballet" in text and "house" in text and "fps 30" in text
    assert "bas" in text and "diversity" in text and text.count("\nall ") == 1
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    (out / "clips" / sorted(p.name for p in (out / "clips").glob("*.wav"))[0]).unlink()
    assert main(["dataset", "check", str(out)]) == 1
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1 and "audio file" in lines[0]
    assert main(["dataset", "synth", "--out", str(tmp_path / "x"), "--styles", "tango"]) == 2
    assert "unknown tango" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


# --------------------------------------------------------------------------- loader


def _feature_cfg(**kw: object) -> dict:
    from model.config import defaults

    cfg = defaults()["features"]
    cfg.update(kw)
    return cfg


def test_resample_poses_keeps_the_clock() -> None:
    from model.dataset_load import resample_poses

    t60 = np.arange(120) / 60.0
    p = np.zeros((120, 17, 3), np.float32)
    p[:, :, 0] = t60[:, None]  # x = time
    r = resample_poses(p, src_fps=60, dst_fps=30)
    assert r.shape == (60, 17, 3)
    np.testing.assert_allclose(r[:, 0, 0], np.arange(60) / 30.0, atol=1e-6)
    up = resample_poses(p[::2], src_fps=30, dst_fps=60)
    np.testing.assert_allclose(up[:, 0, 0], np.arange(len(up)) / 60.0, atol=1e-6)


def test_loader_aligns_features_with_poses_and_caches(tmp_path: Path) -> None:
    from model.dataset_load import load_clips, windows
    from model.features import FeatureSpec

    root = tmp_path / "ds"
    seconds = 3.0
    with DatasetWriter(root) as w:  # a 60 fps clip: resampled to 30
        p60 = _poses(seconds, fps=60)
        w.add_clip(id="a", poses=p60, fps=60, style="house", source="t", licence="x",
                   audio=_audio(seconds), sample_rate=SR, beats=np.arange(0.5, seconds, 0.5))
    cfg = _feature_cfg(fps=30)
    clips = load_clips(root, cfg)
    c = clips[0]
    spec = FeatureSpec.from_config(cfg)
    assert c.features.shape[1] == spec.dim and c.features.dtype == np.float32
    assert len(c.features) == len(c.poses) >= 85 and c.fps == 30
    # poses[i] is the dataset pose at (i + 1) / 30 s = 60 fps frame 2 * (i + 1).
    np.testing.assert_allclose(c.poses[:10], p60[2:22:2], atol=1e-6)
    np.testing.assert_allclose(c.beats, np.arange(0.5, seconds, 0.5)[: len(c.beats)] - 1 / 30)
    cached = sorted((root / "cache").glob("a.*.npz"))
    assert len(cached) == 1
    mtime = cached[0].stat().st_mtime_ns
    again = load_clips(root, cfg)
    np.testing.assert_array_equal(again[0].features, c.features)
    assert cached[0].stat().st_mtime_ns == mtime  # served from the cache
    # A different feature spec recomputes and replaces the cache file.
    other = load_clips(root, _feature_cfg(fps=30, n_mels=32))
    assert other[0].features.shape[1] == spec.dim - 32
    assert len(list((root / "cache").glob("a.*.npz"))) == 1
    ws = list(windows(clips, seq_len=30, stride=15))
    # A different beat tracker (weights or inference code) names a different cache file: the
    # features are recomputed, so training hears the beat the show hears.
    import model.dataset_load as dl

    before = {q.name for q in (root / "cache").glob("a.*.npz")}
    monkey = dl._TRACKER_KEY[:]
    try:
        dl._TRACKER_KEY[:] = ["another-tracker"]
        load_clips(root, _feature_cfg(fps=30, n_mels=32))
        after = {q.name for q in (root / "cache").glob("a.*.npz")}
        assert len(after) == 1 and after != before
    finally:
        dl._TRACKER_KEY[:] = monkey
    assert len(ws) == (len(c.poses) - 30) // 15 + 1
    cl, start, f, p = ws[1]
    assert start == 15 and f.shape == (30, spec.dim) and p.shape == (30, 17, 3)
    np.testing.assert_array_equal(p, c.poses[15:45])


def test_dataset_metrics_tell_a_looping_dance_from_a_varied_one(tmp_path: Path) -> None:
    from model.dataset_stats import dataset_metrics, format_table

    fps, seconds = 30, 20.0
    t = np.arange(int(seconds * fps)) / fps
    loop = np.repeat(rest_pose(on_floor=True)[None], len(t), axis=0)
    loop[:, 9, 1] += (0.3 * np.sin(np.pi * t)).astype(np.float32)  # a wrist waving every 2 s, for 20 s
    rng = np.random.default_rng(0)
    walk = np.cumsum(rng.standard_normal((len(t), 17, 3)) * 0.01, axis=0)
    k = np.exp(-0.5 * (np.arange(-15, 16) / 5.0) ** 2)
    walk = np.apply_along_axis(lambda x: np.convolve(x, k / k.sum(), mode="same"), 0, walk)
    varied = (rest_pose(on_floor=True)[None] + walk).astype(np.float32)  # drifts, never comes back
    root = tmp_path / "ds"
    with DatasetWriter(root) as w:
        for name, p in (("loop", loop), ("varied", varied)):
            w.add_clip(id=name, poses=p, fps=fps, style=name, source="test", licence="CC0", audio=_audio(seconds),
                       sample_rate=SR)
    stats = dataset_metrics(root)
    assert stats["loop"]["repeating"] > 0.9 and stats["loop"]["rep_min"] < 0.05
    assert stats["varied"]["repeating"] < 0.1 and stats["varied"]["rep_min"] > 0.3
    assert stats["all"]["rep_min"] == stats["loop"]["rep_min"]
    assert "repeating" in format_table(stats).splitlines()[0]
