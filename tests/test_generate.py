"""Offline generation: a song through the live streaming path into dance files and a video."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from live.cli import main
from live.generate import apply_options, generate_dance
from live.runtime import DEFAULT_MODEL, Generator
from model.config import load_config
from model.errors import ConfigError

FPS = 30


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny randomly initialised DanceNet exported to ONNX (real export, real runtime)."""
    sys.path.insert(0, str(Path(__file__).parent))
    from test_export import _checkpoint

    from export.onnx_export import export_checkpoint

    d = tmp_path_factory.mktemp("gen")
    path, _, _ = export_checkpoint(_checkpoint(d / "tiny.pt", window=32), d / "tiny.onnx", command="test")
    return path


@pytest.fixture(scope="module")
def cfg() -> dict:
    return load_config()


def test_demo_song_makes_one_frame_per_hop_with_beats(model_path: Path, cfg: dict) -> None:
    gen = Generator(model_path, feature_config=cfg["features"])
    progress: list[float] = []
    d = generate_dance("demo", cfg=cfg, generator=gen, demo_seconds=6.0, progress=progress.append)
    assert d.fps == FPS and d.sample_rate == 24000 and d.source == "demo"
    assert abs(len(d.poses) - 6.0 * FPS) <= 1
    assert d.poses.dtype == np.float32 and d.poses.shape[1:] == (17, 3) and np.isfinite(d.poses).all()
    assert progress[-1] == 1.0 and progress == sorted(progress)
    # a 122 BPM song: about 2 beats a second once the tracker has locked
    assert 6 <= len(d.beats) <= 14 and np.all(np.diff(d.beats) > 0.3)
    assert set(d.beat_counts.tolist()) <= set(range(1, 9))
    assert d.speed > 1.0 and d.meta["provider"] == "CPUExecutionProvider"


def test_seed_repeats_and_changes_the_dance(model_path: Path, cfg: dict) -> None:
    gen = Generator(model_path, feature_config=cfg["features"])
    a = generate_dance("demo", cfg=apply_options(cfg, seed=1), generator=gen, demo_seconds=3.0).poses
    b = generate_dance("demo", cfg=apply_options(cfg, seed=1), generator=gen, demo_seconds=3.0).poses
    c = generate_dance("demo", cfg=apply_options(cfg, seed=2), generator=gen, demo_seconds=3.0).poses
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).max() > 1e-3


def test_style_strength_changes_the_dance_and_zero_ignores_the_style(model_path: Path, cfg: dict) -> None:
    gen = Generator(model_path, feature_config=cfg["features"])
    styles = list(gen.style_names)
    assert len(styles) >= 2

    def dance(style: str, k: float) -> np.ndarray:
        c = apply_options(cfg, style=style, seed=1, style_strength=k)
        return generate_dance("demo", cfg=c, generator=gen, demo_seconds=3.0).poses

    a1, a2 = dance(styles[0], 1.0), dance(styles[0], 2.0)
    assert np.abs(a1 - a2).max() > 1e-3
    np.testing.assert_array_equal(dance(styles[0], 0.0), dance(styles[1], 0.0))  # the equal mix either way


def test_options_are_validated(cfg: dict) -> None:
    out = apply_options(cfg, style="house", seed=3, energy=1.5, style_strength=3.0)
    assert out["model"]["style"] == "house" and out["live"]["energy"] == 1.5 and cfg["live"]["energy"] == 1.0
    assert out["live"]["style_strength"] == 3.0 and cfg["live"]["style_strength"] == 2.0
    with pytest.raises(ConfigError, match="live.energy"):
        apply_options(cfg, energy=5.0)
    with pytest.raises(ConfigError, match="live.style_strength"):
        apply_options(cfg, style_strength=7.0)


def test_audio_file_input(model_path: Path, cfg: dict, tmp_path: Path) -> None:
    import soundfile as sf

    from model.synth_music import demo_song

    song = demo_song(seconds=3.0, seed=4)
    wav = tmp_path / "song.wav"
    stereo = np.stack([song.audio, song.audio], axis=1)
    sf.write(str(wav), stereo, song.sample_rate)
    d = generate_dance(wav, cfg=cfg, generator=Generator(model_path, feature_config=cfg["features"]))
    assert abs(len(d.poses) - 90) <= 1 and d.source == str(wav)


def test_cli_writes_all_five_outputs(model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    outs = [tmp_path / f"dance.{e}" for e in ("npz", "json", "csv", "bvh")]
    video = tmp_path / "dance.mp4"
    args = ["generate", "demo", "--demo-seconds", "4", "--model", str(model_path), "--style", "ballet",
            "--seed", "3", "--energy", "1.2", "--size", "320x240", "--video", str(video)]
    for o in outs:
        args += ["-o", str(o)]
    assert main(args) == 0
    for o in [*outs, video]:
        assert o.is_file() and o.stat().st_size > 1000, o
    err = capsys.readouterr().err
    assert "generate [" in err and "x real time" in err
    from live.dance_io import ffmpeg_exe, read_dance

    with np.load(outs[0]) as z:
        poses = z["poses"]
        assert poses.shape[1:] == (17, 3) and int(z["fps"]) == FPS and len(z["beats"]) > 3
        assert '"style": "ballet"' in str(z["meta"])
    assert read_dance(outs[3])["poses"].shape == poses.shape
    info = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(video)], capture_output=True, text=True).stderr
    assert "Video: h264" in info and "Audio: aac" in info


def test_cli_errors_are_one_line(model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate", str(tmp_path / "missing.wav"), "-o", str(tmp_path / "d.npz")]) == 2
    assert "song" in capsys.readouterr().err
    assert main(["generate", "demo", "-o", str(tmp_path / "d.txt")]) == 2
    err = capsys.readouterr().err
    assert "use a .npz, .json, .csv or .bvh" in err and err.count("\n") == 1
    assert main(["generate", "demo", "--model", str(tmp_path / "none.onnx"), "-o", str(tmp_path / "d.npz")]) == 2
    assert "not found" in capsys.readouterr().err


@pytest.mark.slow
def test_ten_minute_song_keeps_dancing(cfg: dict) -> None:
    """The shipped model over a 10-minute song: no freezing, no drift, faster than real time."""
    from model.metrics import freeze_ratio

    # The shipped model is committed: its absence is a defect, not a reason to skip.
    assert DEFAULT_MODEL.is_file(), "models/default.onnx is missing; rebuild it with `make default-model`"
    d = generate_dance("demo", cfg=cfg, demo_seconds=600.0)
    fr = freeze_ratio(d.poses, fps=d.fps)
    root = 0.5 * (d.poses[:, 11] + d.poses[:, 12])
    print(f"10-minute song: {len(d.poses)} frames, freeze ratio {fr:.3f}, {d.speed:.1f}x real time, "
          f"root range x {np.ptp(root[:, 0]):.2f} m z {np.ptp(root[:, 2]):.2f} m")
    assert len(d.poses) == 600 * FPS
    assert np.isfinite(d.poses).all()
    assert fr < 0.1
    last = d.poses[-30 * FPS:]
    assert float(np.abs(np.diff(last, axis=0)).mean()) > 1e-4  # still moving at the end


def test_batched_path_equals_the_live_streaming_path(model_path: Path, cfg: dict) -> None:
    """The batched offline path (features per batch, post over the dance) makes the live
    per-block path's dance to 1e-4 m, with travel (root follow) and planted feet on."""
    c = apply_options(cfg, seed=3)
    c["live"]["root"] = "follow"
    gen = Generator(model_path, feature_config=cfg["features"])
    live = generate_dance("demo", cfg=c, generator=gen, demo_seconds=8.0, streaming=True, block=777)
    fast = generate_dance("demo", cfg=c, generator=gen, demo_seconds=8.0)
    assert fast.poses.shape == live.poses.shape
    assert np.abs(fast.poses - live.poses).max() <= 1e-4
    np.testing.assert_array_equal(fast.beats, live.beats)
    np.testing.assert_array_equal(fast.beat_counts, live.beat_counts)
    np.testing.assert_allclose(fast.tempo, live.tempo, atol=1e-3)


def test_block_model_runs_many_frames_per_call_with_the_same_dance(
    model_path: Path, cfg: dict, tmp_path: Path
) -> None:
    """The same weights exported with --block 8 give the block-1 model's poses, frame for
    frame, in an eighth of the calls (a last partial block is padded)."""
    sys.path.insert(0, str(Path(__file__).parent))
    from test_export import _checkpoint

    from export.onnx_export import export_checkpoint

    ckpt = _checkpoint(tmp_path / "t.pt", window=32)  # the weights of the model_path fixture
    path8, _, _ = export_checkpoint(ckpt, tmp_path / "b8.onnx", block=8, command="test")
    one = Generator(model_path, feature_config=cfg["features"])
    eight = Generator(path8, feature_config=cfg["features"])
    assert eight.block == 8
    feats = np.random.default_rng(0).standard_normal((61, eight.feature_dim)).astype(np.float32)
    one.reset(seed=5)
    eight.reset(seed=5)
    a = np.stack([one.step(f) for f in feats])
    b = eight.step_frames(feats)
    assert b.shape == a.shape
    assert np.abs(a - b).max() <= 1e-4


def test_generate_imports_no_librosa_scipy_or_numba(model_path: Path, tmp_path: Path) -> None:
    code = ("import sys\nfrom live.cli import main\n"
            f"rc = main(['generate', 'demo', '--demo-seconds', '3', '--model', {str(model_path)!r}, "
            f"'-o', {str(tmp_path / 'd.npz')!r}])\n"
            "bad = [m for m in sys.modules if m.split('.')[0] in ('librosa', 'scipy', 'numba')]\n"
            "assert rc == 0 and not bad, (rc, bad)\nprint('ok')\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                       cwd=str(Path(__file__).resolve().parent.parent))
    assert r.returncode == 0 and "ok" in r.stdout, r.stderr[-2000:]


def test_generate_picks_the_block_export_beside_the_model(model_path: Path, cfg: dict, tmp_path: Path) -> None:
    """`<model>_b8.onnx` beside the model (same weights) is what offline generation runs; the
    dance equals the block-1 live path's. A block file of other weights is not used."""
    import shutil

    from export.onnx_export import export_checkpoint
    from live.runtime import load_generator

    sys.path.insert(0, str(Path(__file__).parent))
    from test_export import _checkpoint

    ckpt = _checkpoint(tmp_path / "t.pt", window=32)
    main_path = tmp_path / "m.onnx"
    shutil.copy(model_path, main_path)
    export_checkpoint(ckpt, tmp_path / "m_b8.onnx", block=8, command="test")
    c = dict(cfg, model=dict(cfg["model"], path=str(main_path)))
    gen = load_generator(c, offline=True)
    assert gen.block == 8 and gen.path.name == "m_b8.onnx"
    assert load_generator(c).block == 1
    live = generate_dance("demo", cfg=c, demo_seconds=5.0, streaming=True)
    fast = generate_dance("demo", cfg=c, demo_seconds=5.0)
    assert fast.meta["model"].endswith("m_b8.onnx") and fast.poses.shape == live.poses.shape
    # a phrase refresh (live/phrase.py) comes on the block model's next block boundary, up to
    # 7 frames after the live loop's: the dances agree until the first one
    first = next(i for i in range(len(live.poses)) if np.abs(fast.poses[i] - live.poses[i]).max() > 1e-4)
    assert first >= 90  # not before the first refresh (at least MIN_PHRASE_S in)
    c0 = dict(c, live=dict(c["live"], phrase_bars=0))  # without refreshes: the same dance throughout
    live = generate_dance("demo", cfg=c0, demo_seconds=5.0, streaming=True)
    fast = generate_dance("demo", cfg=c0, demo_seconds=5.0)
    assert np.abs(fast.poses - live.poses).max() <= 1e-4
    other = _checkpoint(tmp_path / "o.pt", window=16)  # different weights and window
    export_checkpoint(other, tmp_path / "m_b16.onnx", block=16, command="test")
    assert load_generator(c, offline=True).block == 1  # the largest N is refused: falls back


def test_offline_numpy_weights_make_the_live_dance(model_path: Path, cfg: dict, tmp_path: Path) -> None:
    """`<model>_offline.npz` (written by `dancemuse export` beside a block-1 model) is what
    offline generation runs, in numpy, batched; the dance equals the live per-block path's
    (block-1 onnxruntime model) to 1e-4 m, beats and counts exactly. Weights written with
    another model file (hash differs) are not used."""
    import shutil

    from export.offline import offline_path, write_offline
    from export.onnx_export import export_checkpoint, load_checkpoint
    from live.offline import NumpyGenerator
    from live.runtime import load_generator

    sys.path.insert(0, str(Path(__file__).parent))
    from test_export import _checkpoint

    ckpt = _checkpoint(tmp_path / "t.pt", window=32)  # the weights of the model_path fixture
    main_path = tmp_path / "m.onnx"
    shutil.copy(model_path, main_path)
    net, _ = load_checkpoint(ckpt)
    meta = Generator(main_path, feature_config=cfg["features"], warmup=False).meta
    write_offline(net, meta, offline_path(main_path), step_model=main_path)
    c = apply_options(cfg, seed=4)
    c["live"]["root"] = "follow"
    c["live"]["pick"] = 1  # the ONNX step rolls out no draws (tests/test_pick.py: the numpy runtimes pick alike)
    c["model"] = dict(c["model"], path=str(main_path))
    gen = load_generator(c, offline=True)
    assert isinstance(gen, NumpyGenerator) and gen.path.name == "m_offline.npz"
    on_ort = dict(c, model=dict(c["model"], runtime="onnx"))  # the live path on the ONNX contract itself
    live = generate_dance("demo", cfg=on_ort, demo_seconds=12.0, streaming=True, block=513)
    fast = generate_dance("demo", cfg=c, demo_seconds=12.0)
    assert fast.meta["provider"] == "numpy" and live.meta["provider"] == "CPUExecutionProvider"
    assert fast.poses.shape == live.poses.shape
    assert np.abs(fast.poses - live.poses).max() <= 1e-4
    np.testing.assert_array_equal(fast.beats, live.beats)
    np.testing.assert_array_equal(fast.beat_counts, live.beat_counts)
    # a re-export (other bytes) beside stale offline weights: the onnxruntime model is used
    shutil.copy(offline_path(main_path), tmp_path / "keep.npz")
    export_checkpoint(ckpt, main_path, command="test again")
    shutil.copy(tmp_path / "keep.npz", offline_path(main_path))
    assert not isinstance(load_generator(c, offline=True), NumpyGenerator)
