"""Training: losses, determinism, kill -9 + resume, fine-tuning, CLI errors, torchrun DDP."""

from __future__ import annotations

import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from model.config import defaults
from model.errors import ConfigError, ModelError
from model.skeleton import bone_lengths, rest_pose
from model.train import TrainConfig, bone_lengths_t, load_checkpoint, losses, train
from model.train_data import pose_to_vec

REPO = Path(__file__).resolve().parent.parent

TINY = """
[net]
d_model = 32
heads = 2
layers = 1
window = 16
ffn_dim = 64
lstm_hidden = 48
lstm_layers = 1
style_dim = 4
noise_dim = 4
[train]
steps = {steps}
batch = 4
seq_len = 40
ckpt_every = {ckpt}
val_every = 2
val_windows = 4
val_seconds = 5.0
warmup = 5
grow_every = 5
"""


def toy_dance(beats: np.ndarray, n: int, *, fps: int, amp: float, phase: float) -> np.ndarray:
    """A dance locked to the beat: a bounce that is slowest on beats, arms swinging."""
    t = np.arange(n) / fps
    ph = np.interp(t, beats, np.arange(len(beats)))
    p = np.tile(rest_pose(on_floor=True), (n, 1, 1))
    p[:, :, 1] += 0.04 * np.cos(2 * np.pi * ph)[:, None]
    arm = amp * np.sin(np.pi * ph + phase)
    p[:, 7, 1] += 0.5 * arm
    p[:, 9, 1] += arm
    p[:, 8, 0] -= 0.5 * arm
    p[:, 10, 0] -= arm
    return p.astype(np.float32)


def make_dataset(root: Path, *, clips: int = 6, seconds: float = 10.0, styles: tuple[str, ...] = ("a", "b"),
                 seed: int = 0) -> Path:
    """A small real dataset: synthesised songs with toy beat-locked dances, one style per clip."""
    from model.dataset import DatasetWriter
    from model.synth_music import render_song

    with DatasetWriter(root) as w:
        for i in range(clips):
            style = styles[i % len(styles)]
            song = render_song(feel=["house", "hiphop"][i % 2], bpm=100 + 7 * i, seconds=seconds, seed=seed + i)
            n = int(seconds * 30)
            poses = toy_dance(song.beats, n, fps=30, amp=0.15 + 0.15 * styles.index(style), phase=0.3 * i)
            w.add_clip(id=f"{style}{seed}_{i}", poses=poses, fps=30, style=style, source="test", licence="test",
                       audio=song.audio, sample_rate=song.sample_rate, beats=song.beats)
    return root


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = make_dataset(tmp_path_factory.mktemp("data") / "set")
    from model.train_data import load_clips

    load_clips(root, feature_cfg=defaults()["features"])  # fill the feature cache once
    return root


def tiny_config(tmp: Path, *, steps: int = 20, ckpt: int = 10) -> Path:
    p = tmp / "tiny.toml"
    p.write_text(TINY.format(steps=steps, ckpt=ckpt), encoding="utf-8")
    return p


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "live.cli", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=900)


def _tiny_cfgs(tmp: Path, steps: int):
    from model.train import load_train_config

    return load_train_config(tiny_config(tmp, steps=steps))


def test_bone_lengths_match_the_skeleton_module() -> None:
    g = np.random.default_rng(0)
    poses = rest_pose(on_floor=True)[None] + g.normal(0, 0.05, size=(5, 17, 3)).astype(np.float32)
    ours = bone_lengths_t(torch.from_numpy(pose_to_vec(poses))).numpy()
    assert np.allclose(ours, bone_lengths(poses), atol=1e-5)


def test_losses_are_zero_on_the_target_and_grow_with_error() -> None:
    from model.network import DanceNet, NetConfig

    net = DanceNet(NetConfig(d_model=16, heads=2, layers=1, window=4, lstm_hidden=8, lstm_layers=1))
    target = torch.from_numpy(pose_to_vec(np.tile(rest_pose(), (8, 1, 1))))[None]
    zero = losses(net, target, target, w_vel=1.0, w_bone=1.0)
    assert float(zero["loss"]) == 0.0
    bigger = target.clone()
    bigger[..., :51] *= 1.1  # every bone 10 % longer
    ls = losses(net, bigger, target, w_vel=1.0, w_bone=1.0)
    assert abs(float(ls["bone"]) - 0.1) < 1e-4 and float(ls["l1"]) > 0


def test_training_learns_and_is_deterministic(data: Path, tmp_path: Path) -> None:
    feats = defaults()["features"]
    runs = []
    for name in ("a", "b"):
        net_cfg, tc, _ = _tiny_cfgs(tmp_path, 24)
        runs.append(train(data=data, out=tmp_path / name, feature_cfg=feats, net_cfg=net_cfg, train_cfg=tc,
                          progress=False))
    a, b = (load_checkpoint(tmp_path / n / "final.pt") for n in ("a", "b"))
    assert a["step"] == 24 and set(a) >= {"model", "optim", "step", "best", "config", "train_config",
                                          "feature_spec", "styles", "norm", "data_summary", "rng"}
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    rows = (tmp_path / "a" / "log.csv").read_text().splitlines()
    assert len(rows) >= 3 and (tmp_path / "a" / "curves.png").stat().st_size > 1000
    import csv

    log = list(csv.DictReader((tmp_path / "a" / "log.csv").open()))
    # validation: fixed held-out windows, final curriculum, fixed noise (the training loss
    # itself rises while the curriculum lengthens the self-predicted spans)
    assert float(log[-1]["val_loss"]) < float(log[0]["val_loss"])
    assert a["styles"] == ["a", "b"] and a["data_summary"]["clips"] == 6


def test_kill_9_then_resume_continues_to_the_same_result(data: Path, tmp_path: Path) -> None:
    cfg = tiny_config(tmp_path, steps=60, ckpt=5)
    # Reference: the same run, uninterrupted (in this process: the result is the same).
    net_cfg, tc, _ = _tiny_cfgs(tmp_path, 60)
    train(data=data, out=tmp_path / "ref", feature_cfg=defaults()["features"], net_cfg=net_cfg, train_cfg=tc,
          progress=False)
    run = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "live.cli", "train", "--data", str(data), "--out", str(run),
                             "--train-config", str(cfg), "--quiet"], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 600  # a busy 2-core machine can be slow to start
        while not (run / "last.pt").exists():
            assert proc.poll() is None, "training ended before its first checkpoint"
            assert time.monotonic() < deadline
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    killed_at = load_checkpoint(run / "last.pt")["step"]
    assert proc.returncode == -signal.SIGKILL and killed_at < 60
    res = _cli("train", "--data", str(data), "--out", str(run), "--resume", "--quiet")
    assert res.returncode == 0, res.stderr
    assert "trained to step 60" in res.stdout
    a, b = load_checkpoint(run / "final.pt"), load_checkpoint(tmp_path / "ref" / "final.pt")
    assert a["step"] == 60
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"]), "resume is not bit-exact"


def test_fine_tune_adds_a_style_and_can_freeze_the_encoder(data: Path, tmp_path: Path) -> None:
    feats = defaults()["features"]
    net_cfg, tc, _ = _tiny_cfgs(tmp_path, 10)
    train(data=data, out=tmp_path / "base", feature_cfg=feats, net_cfg=net_cfg, train_cfg=tc, progress=False)
    new = make_dataset(tmp_path / "new", clips=2, seconds=6.0, styles=("c",), seed=7)
    _, tc2, _ = _tiny_cfgs(tmp_path, 6)
    train(data=new, out=tmp_path / "ft", feature_cfg=feats, train_cfg=tc2, init=tmp_path / "base" / "final.pt",
          new_style="c", freeze_encoder=True, progress=False)
    base, ft = load_checkpoint(tmp_path / "base" / "final.pt"), load_checkpoint(tmp_path / "ft" / "final.pt")
    assert ft["styles"] == ["a", "b", "c"] and ft["config"]["n_styles"] == 3
    assert ft["model"]["style_table"].shape[0] == 3
    enc = [k for k in base["model"] if k.startswith(("inp.", "blocks.", "ln_f."))]
    assert enc and all(torch.equal(base["model"][k], ft["model"][k]) for k in enc)
    assert not torch.equal(base["model"]["head.weight"], ft["model"]["head.weight"])
    assert torch.equal(base["model"]["pose_mean"], ft["model"]["pose_mean"])  # normalisation kept
    with pytest.raises(Exception, match="style 'c'"):
        train(data=new, out=tmp_path / "ft2", feature_cfg=feats, train_cfg=tc2,
              init=tmp_path / "base" / "final.pt", progress=False)


def test_a_fresh_decoder_keeps_the_inits_music_encoder_and_learns_the_rest_from_scratch(data: Path, tmp_path: Path) -> None:
    feats = defaults()["features"]
    net_cfg, tc, _ = _tiny_cfgs(tmp_path, 10)
    train(data=data, out=tmp_path / "base", feature_cfg=feats, net_cfg=net_cfg, train_cfg=tc, progress=False)
    runs = {}
    for name, fresh in (("tuned", False), ("fresh", True)):
        _, tc2, _ = _tiny_cfgs(tmp_path, 2)
        tc2.seed = 3  # with the base's own seed the draw would be the one the base started from
        train(data=data, out=tmp_path / name, feature_cfg=feats, train_cfg=tc2, init=tmp_path / "base" / "final.pt",
              freeze_encoder=True, fresh_decoder=fresh, progress=False)
        runs[name] = load_checkpoint(tmp_path / name / "final.pt")
    base = load_checkpoint(tmp_path / "base" / "final.pt")
    enc = [k for k in base["model"] if k.startswith(("inp.", "blocks.", "ln_f."))]
    dec = [k for k in base["model"] if k.startswith(("style_table", "w_static", "w_rec.", "head.weight"))]
    assert len(dec) >= 4
    for ck in runs.values():
        assert all(torch.equal(base["model"][k], ck["model"][k]) for k in enc)
        assert torch.equal(base["model"]["pose_mean"], ck["model"]["pose_mean"])
    moved = {n: max(float((ck["model"][k] - base["model"][k]).abs().mean() / base["model"][k].abs().mean()) for k in dec)
             for n, ck in runs.items()}
    drawn = {n: min(float((ck["model"][k] - base["model"][k]).abs().mean() / base["model"][k].abs().mean()) for k in dec)
             for n, ck in runs.items()}
    assert moved["tuned"] < 0.1 and drawn["fresh"] > 0.5, (moved, drawn)  # two steps move little; a new draw all
    assert runs["fresh"]["fresh_decoder"] is True and runs["tuned"]["fresh_decoder"] is False


def test_user_errors_are_one_line(data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from live.cli import main

    feats = defaults()["features"]
    with pytest.raises(ModelError, match="start without --resume"):
        train(data=data, out=tmp_path / "none", feature_cfg=feats, resume=True, progress=False)
    with pytest.raises(ConfigError, match="unknown \\[train\\] key"):
        TrainConfig.from_dict({"stepz": 3})
    assert main(["train", "--data", str(tmp_path / "missing"), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "does not exist" in err
    assert main(["train", "--data", str(data), "--out", str(tmp_path / "r"), "--new-style", "x"]) == 2
    assert "--init" in capsys.readouterr().err
    assert main(["train", "--data", str(data), "--out", str(tmp_path / "r"), "--fresh-decoder"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--fresh-decoder" in err and "--init" in err


@pytest.mark.slow
def test_torchrun_ddp_two_processes_on_cpu(data: Path, tmp_path: Path) -> None:
    torchrun = shutil.which("torchrun")
    if torchrun is None:
        pytest.skip("torchrun not on PATH")
    cfg = tiny_config(tmp_path, steps=6, ckpt=3)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}

    def run(out: Path) -> subprocess.CompletedProcess[str]:
        with socket.socket() as s:  # a free port for the rendezvous, not a fixed one
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        cmd = [torchrun, "--nproc_per_node=2", f"--master_port={port}", "-m", "live.cli", "train",
               "--data", str(data), "--out", str(out), "--train-config", str(cfg), "--device", "cpu", "--quiet"]
        with subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              start_new_session=True) as p:
            try:
                so, se = p.communicate(timeout=150)
            except subprocess.TimeoutExpired as e:  # torchrun and its workers, none left behind
                os.killpg(p.pid, signal.SIGKILL)
                so, se = p.communicate()
                raise subprocess.TimeoutExpired(cmd, 150, output=so, stderr=se) from e
        return subprocess.CompletedProcess(cmd, p.returncode, so, se)

    try:
        res = run(tmp_path / "ddp")
    except subprocess.TimeoutExpired as e:
        # torch.distributed's teardown can hang now and then once the run is done (CI, session 37:
        # "trained to step 6" printed, final.pt written, the processes never exited; upstream
        # pytorch#75097); only then is the run tried once more, in a fresh folder
        assert "trained to step 6" in str(e.stdout or ""), f"the DDP run itself hung: {e.stderr!r}"[-2000:]
        res = run(tmp_path / "ddp2")
        (tmp_path / "ddp").rename(tmp_path / "ddp_hung")
        (tmp_path / "ddp2").rename(tmp_path / "ddp")
    assert res.returncode == 0, res.stderr[-2000:]
    ck = load_checkpoint(tmp_path / "ddp" / "final.pt")
    assert ck["step"] == 6


def test_energy_score_prefers_the_data_spread_over_the_mean() -> None:
    from model.train import energy_score

    g = torch.Generator().manual_seed(0)
    target = torch.randn(64, 16, 54, generator=g)
    matched = torch.randn(2, 64, 16, 54, generator=g)  # two samples from the data's distribution
    mean = torch.zeros(2, 64, 16, 54)  # the regression answer: the mean, twice
    assert float(energy_score(matched, target, window=8)) < 0.8 * float(energy_score(mean, target, window=8))
    assert float(energy_score(target.unsqueeze(0).repeat(2, 1, 1, 1), target, window=8)) == pytest.approx(0.0, abs=1e-3)


def _swinging_arms(n: int) -> np.ndarray:
    """Poses [n, 17, 3] with rigid bones: both arms swing about the shoulders, knees bend."""
    p = np.tile(rest_pose(on_floor=True), (n, 1, 1)).astype(np.float64)
    t = np.arange(n) / 30.0
    for joint, parent, amp in ((7, 5, 0.8), (9, 7, 1.0), (8, 6, 0.6), (10, 8, 0.9), (13, 11, 0.3), (15, 13, 0.4)):
        ang = amp * np.sin(2 * np.pi * 0.7 * t + joint)
        c, s = np.cos(ang), np.sin(ang)
        base = p[:, joint] - p[:, parent]
        rot = np.stack([c * base[:, 0] - s * base[:, 1], s * base[:, 0] + c * base[:, 1], base[:, 2]], axis=-1)
        delta = p[:, parent] + rot - p[:, joint]
        kids = {7: (7, 9), 9: (9,), 8: (8, 10), 10: (10,), 13: (13, 15), 15: (15,)}[joint]
        for k in kids:
            p[:, k] += delta
    return p.astype(np.float32)


def test_scale_amplitude_keeps_bones_and_scales_the_moves() -> None:
    from model.train_data import pose_spread, pose_to_vec, scale_amplitude, vec_to_pose

    win = pose_to_vec(_swinging_arms(120))
    for s in (0.3, 2.0):
        out = scale_amplitude(win, s)
        ratio = pose_spread(out) / pose_spread(win)
        assert (0.2 < ratio < 0.45) if s < 1 else (1.4 < ratio < 2.3), (s, ratio)
        assert np.abs(bone_lengths(vec_to_pose(out)) - bone_lengths(vec_to_pose(win))).max() < 1e-4
    np.testing.assert_allclose(scale_amplitude(win, 1.0), win, atol=1e-5)


def _beat_clip(n: int = 400, *, fps: int = 30, bpm: float = 100.0) -> tuple[object, int]:
    """A clip whose features hold a tempo and beat / bar phases on an exact grid (the layout
    model.features uses: tempo, sin, cos, pulse, bar sin, bar cos) and whose dancer travels
    along x at a constant speed while the arms swing; (clip, tempo column)."""
    from model.train_data import TrainClip

    t = np.arange(n) / fps
    beat = t * bpm / 60.0
    at = 3
    f = np.zeros((n, at + 6), np.float32)
    f[:, 0] = np.sin(t)  # a spectral-like column, interpolated as it is
    f[:, at] = bpm / 200.0
    f[:, at + 1], f[:, at + 2] = np.sin(2 * np.pi * beat), np.cos(2 * np.pi * beat)
    f[:, at + 3] = ((1 + np.cos(2 * np.pi * beat)) / 2) ** 4
    f[:, at + 4], f[:, at + 5] = np.sin(2 * np.pi * beat / 4), np.cos(2 * np.pi * beat / 4)
    poses = _swinging_arms(n)
    poses[:, :, 0] += 0.01 * np.arange(n)[:, None]  # 0.3 m/s along x
    return TrainClip("c", "a", fps, f, pose_to_vec(poses), poses), at


def test_stretch_window_plays_music_and_dance_faster_or_slower_together() -> None:
    from model.train_data import stretch_window, vec_to_pose

    clip, at = _beat_clip()
    f1, w1 = stretch_window(clip, 50, 120, 1.0, beat_at=at)  # rate 1: the plain window
    np.testing.assert_allclose(f1, clip.feats[50:170], atol=1e-6)
    np.testing.assert_allclose(w1, clip.vec[49:170], atol=1e-6)
    for rate in (0.75, 1.3):
        f, w = stretch_window(clip, 50, 120, rate, beat_at=at)
        assert f.shape == (120, at + 6) and w.shape == (121, 54)
        assert f[:, at] * 200.0 == pytest.approx(100.0 * rate, rel=1e-5)  # the tempo it hears
        src = (50 + rate * np.arange(120)) / 30.0  # source times of the features
        beat = src * 100.0 / 60.0
        np.testing.assert_allclose(f[:, at + 1], np.sin(2 * np.pi * beat), atol=1e-4)
        np.testing.assert_allclose(f[:, at + 2], np.cos(2 * np.pi * beat), atol=1e-4)
        np.testing.assert_allclose(f[:, at + 4], np.sin(2 * np.pi * beat / 4), atol=1e-4)
        np.testing.assert_allclose(f[:, 0], np.sin(src), atol=2e-3)  # other columns interpolated
        assert w[1:, 51] == pytest.approx(0.01 * rate, rel=1e-4)  # travel per frame scales too
        np.testing.assert_allclose(w[:, :51], np.stack(  # joints read at the source positions
            [np.interp(50 + rate * np.arange(-1, 120), np.arange(400), clip.vec[:, j]) for j in range(51)], 1),
            atol=1e-5)
        bl, b0 = bone_lengths(vec_to_pose(w)), bone_lengths(clip.poses)
        assert np.abs(bl / b0.mean(0) - 1).max() < 0.01  # linear interpolation keeps bones within 1 %


def test_tempo_augmentation_draws_rates_in_its_range_and_is_checked() -> None:
    from model.train_checks import check_train_config
    from model.train_data import WindowSampler

    clip, at = _beat_clip(600)
    plain = WindowSampler([clip], styles=["a"], seq_len=60, lookahead=0)
    assert np.all(plain.sample(np.random.default_rng(0), 32)["feat"][:, :, at] == np.float32(0.5))
    aug = WindowSampler([clip], styles=["a"], seq_len=60, lookahead=0, tempo_aug=0.5,
                        tempo_range=(0.7, 1.4), beat_at=at)
    rates = aug.sample(np.random.default_rng(0), 200)["feat"][:, 0, at] * 200.0 / 100.0
    stretched = np.abs(rates - 1.0) > 1e-6
    assert 0.35 < stretched.mean() < 0.65  # about half the windows
    assert rates.min() >= 0.7 - 1e-5 and rates.max() <= 1.4 + 1e-5
    assert rates[stretched].min() < 0.85 and rates[stretched].max() > 1.2
    with pytest.raises(ConfigError, match="tempo_min"):
        check_train_config(None, TrainConfig.from_dict({"tempo_min": 1.5, "tempo_max": 1.2}))
    with pytest.raises(ConfigError, match="tempo_aug"):
        check_train_config(None, TrainConfig.from_dict({"tempo_aug": 1.5}))


def test_mirror_augmentation_dances_a_share_of_windows_on_the_other_side() -> None:
    """mirror_vec: the right arm's swing becomes the left arm's, x and the x travel flip, the
    bones, heights and z travel stay; twice is the window itself. mirror_aug 0.5 mirrors about
    half the windows (each a window of the clip or its mirror), 0 none, and 1.5 is refused."""
    from model.skeleton import JOINT_INDEX
    from model.train_checks import check_train_config
    from model.train_data import WindowSampler, mirror_vec, vec_to_pose

    clip, _ = _beat_clip(600)
    win = clip.vec[100:221]
    m = mirror_vec(win)
    lw, rw = JOINT_INDEX["left_wrist"], JOINT_INDEX["right_wrist"]
    np.testing.assert_allclose(m[:, 3 * lw: 3 * lw + 3] * [-1, 1, 1], win[:, 3 * rw: 3 * rw + 3], atol=1e-6)
    np.testing.assert_allclose(m[:, 51], -win[:, 51])
    np.testing.assert_allclose(m[:, 52:], win[:, 52:])
    np.testing.assert_allclose(bone_lengths(vec_to_pose(m)), bone_lengths(vec_to_pose(win)), atol=1e-5)
    np.testing.assert_allclose(mirror_vec(m), win, atol=1e-6)
    assert np.abs(m - win).max() > 0.1  # the swinging arms are not symmetric
    def travel(sampler: WindowSampler) -> np.ndarray:  # the clip travels +x: mirrored windows -x
        return sampler.sample(np.random.default_rng(0), 64)["target"][:, :, 51].mean(axis=1)

    assert (travel(WindowSampler([clip], styles=["a"], seq_len=60, lookahead=0)) > 0).all()
    aug = WindowSampler([clip], styles=["a"], seq_len=60, lookahead=0, mirror_aug=0.5)
    assert 0.3 < np.mean(travel(aug) < 0) < 0.7
    for t in aug.sample(np.random.default_rng(1), 16)["target"]:  # each a window of the clip, or its mirror
        u = t if t[0, 51] > 0 else mirror_vec(t)
        s0 = int(np.argmin(np.abs(clip.vec[:, :51] - u[0, :51]).sum(axis=1)))
        np.testing.assert_allclose(clip.vec[s0: s0 + 60], u, atol=1e-6)
    with pytest.raises(ConfigError, match="mirror_aug"):
        check_train_config(None, TrainConfig.from_dict({"mirror_aug": 1.5}))


def test_energy_control_is_amplitude_relative_to_style_and_loudness(data: Path) -> None:
    from model.train import _loud_index
    from model.train_data import WindowSampler, load_clips

    feats = defaults()["features"]
    clips = load_clips(data, feature_cfg=feats)
    plain = WindowSampler(clips, styles=["a", "b"], seq_len=60, lookahead=0, loud_index=_loud_index(feats))
    energies = plain.sample(np.random.default_rng(0), 64)["controls"][:, 0]
    assert 0.6 < float(np.median(energies)) < 1.6  # typical windows sit near 1 in every style
    # energy measures the window's move size: scaled moves give proportionally scaled energy
    from model.train_data import pose_spread, scale_amplitude

    clip = clips[0]
    win = clip.vec[20:80]
    e = [plain.energy_at(clip, 20, scale_amplitude(win, k)) for k in (0.5, 1.0, 1.5)]
    assert e[0] < e[1] < e[2]
    ratio = pose_spread(scale_amplitude(win, 1.5)) / pose_spread(scale_amplitude(win, 0.5))
    assert e[2] / e[0] == pytest.approx(ratio, rel=1e-3)
    aug = WindowSampler(clips, styles=["a", "b"], seq_len=60, lookahead=0, loud_index=_loud_index(feats),
                        amp_aug=1.0, amp_range=(0.3, 2.0))
    ea = aug.sample(np.random.default_rng(0), 64)["controls"][:, 0]
    assert ea.max() / ea.min() > 2.0  # augmented windows span small to big moves


def test_motion_amount_charges_a_decoder_that_moves_less_than_the_data() -> None:
    import torch

    from model.train import motion_amount

    g = torch.Generator().manual_seed(0)
    target = torch.randn(4, 30, 54, generator=g).cumsum(1)
    same = target[None].repeat(2, 1, 1, 1)
    assert float(motion_amount(same, target)) == pytest.approx(0.0, abs=1e-6)
    assert float(motion_amount(0.5 * same, target)) == pytest.approx(0.5, abs=1e-5)  # half the speed
    still = target.mean(1, keepdim=True).expand_as(target)[None].repeat(2, 1, 1, 1)
    assert float(motion_amount(still, target)) == pytest.approx(1.0, abs=1e-5)
    jitter = same + 0.3 * torch.randn(same.shape, generator=g)  # moving more (jitter) costs too
    assert float(motion_amount(jitter, target)) > 0.1
    with pytest.raises(ConfigError, match="w_speed"):
        TrainConfig.from_dict({"w_speed": -1.0})


def test_beat_dip_reads_how_much_motion_slows_on_the_beat() -> None:
    """Joints moving at speed 1 - g cos(2 pi phase): beat_dip gives g back; an even speed
    gives ~0, a dancer slowing half a beat late a negative g."""
    from model.train import beat_dip

    t = 240
    phase = np.arange(t) / 15.0  # a beat every 15 frames (120 BPM at 30 fps)
    cosp = torch.from_numpy(np.cos(2 * np.pi * phase)).float()

    def moving(g: float, shift: float = 0.0) -> torch.Tensor:
        speed = 1.0 - g * np.cos(2 * np.pi * (phase - shift))
        x = np.concatenate([[0.0], np.cumsum(speed[1:])]) * 0.01  # speed from frame t-1 to t at t
        v = np.zeros((t, 54), np.float32)
        v[:, :51] = np.tile(np.asarray(rest_pose()).reshape(-1), (t, 1))
        v[:, 0:51:3] += x[:, None]
        return torch.from_numpy(v)

    for g in (0.0, 0.3, 0.7):
        assert float(beat_dip(moving(g), cosp)) == pytest.approx(g, abs=0.02)
    assert float(beat_dip(moving(0.6, shift=0.5), cosp)) == pytest.approx(-0.6, abs=0.02)
    batch = torch.stack([moving(0.2), moving(0.5)])[None]  # [S=1, B=2, T, P] against [B, T]
    assert beat_dip(batch, cosp.expand(2, t)).shape == (1, 2)
    with pytest.raises(ConfigError, match="w_beat"):
        TrainConfig.from_dict({"w_beat": -1.0})


def test_training_with_the_beat_dip_term_logs_it(data: Path, tmp_path: Path) -> None:
    net_cfg, tc, _ = _tiny_cfgs(tmp_path, 4)
    tc.w_beat = 2.0
    train(data=data, out=tmp_path / "beat", feature_cfg=defaults()["features"], net_cfg=net_cfg, train_cfg=tc,
          progress=False)
    import csv

    log = list(csv.DictReader((tmp_path / "beat" / "log.csv").open()))
    assert log and float(log[-1]["train_beat"]) > 0.0 and float(log[-1]["val_beat"]) > 0.0


def test_diversity_hinge_charges_samples_that_dance_the_same_move() -> None:
    """Two samples the same after the first second pay the whole hinge, two a known distance
    apart pay its share under the margin, and the first DIVERSE_SKIP frames are not compared;
    the gradient pushes the samples apart; a bad key is one line."""
    from model.train import DIVERSE_SKIP, diverse_hinge, sample_distances

    t = 120
    base = np.tile(np.asarray(rest_pose(), np.float32).reshape(-1), (t, 1))
    v = np.zeros((2, 1, t, 54), np.float32)
    v[:, 0, :, :51] = base
    v[1, 0, :DIVERSE_SKIP, :51] += 5.0  # apart only where the hinge does not look
    same = torch.from_numpy(v.copy())
    d = sample_distances(same)
    assert d.shape == (1, 1, 2)  # one pair, one window, two 2-s stretches in 90 frames
    assert float(d.max()) < 1e-4
    hinge, mean = diverse_hinge(same, 0.2)
    assert float(hinge) == pytest.approx(1.0, abs=1e-3) and float(mean) < 1e-4
    v[1, 0, DIVERSE_SKIP:, 1:51:3] += 0.1  # every joint 0.1 m higher in sample 1: RMS distance 0.1
    apart = torch.from_numpy(v.copy())
    assert sample_distances(apart).numpy() == pytest.approx(0.1, abs=1e-4)
    assert float(diverse_hinge(apart, 0.2)[0]) == pytest.approx(0.5, abs=1e-3)
    assert float(diverse_hinge(apart, 0.05)[0]) == 0.0  # beyond the margin: free
    x = apart.clone().requires_grad_(True)
    diverse_hinge(x, 0.2)[0].backward()
    g = x.grad[:, 0, DIVERSE_SKIP:, 1:51:3].sum(dim=(1, 2))
    assert float(g[1]) < 0.0 < float(g[0])  # descending moves sample 1 up and sample 0 down
    assert float(x.grad[:, :, :DIVERSE_SKIP].abs().sum()) == 0.0
    with pytest.raises(ConfigError, match="samples"):
        TrainConfig.from_dict({"w_diverse": 1.0, "samples": 1})
    with pytest.raises(ConfigError, match="diverse_m"):
        TrainConfig.from_dict({"w_diverse": 1.0, "diverse_m": 0.0})
    with pytest.raises(ConfigError, match="seq_len >= 90"):
        TrainConfig.from_dict({"w_diverse": 1.0, "seq_len": 60})


def test_training_with_the_diversity_hinge_logs_the_samples_distance(data: Path, tmp_path: Path) -> None:
    net_cfg, tc, _ = _tiny_cfgs(tmp_path, 4)
    tc.w_diverse, tc.samples, tc.seq_len = 1.0, 2, 96
    train(data=data, out=tmp_path / "div", feature_cfg=defaults()["features"], net_cfg=net_cfg, train_cfg=tc,
          progress=False)
    import csv

    log = list(csv.DictReader((tmp_path / "div" / "log.csv").open()))
    assert log and float(log[-1]["train_diverse"]) > 0.0 and float(log[-1]["val_diverse"]) > 0.0


def test_motion_amount_per_window_charges_a_slow_window_moving_at_half_speed() -> None:
    """A batch of one fast and one slow window; the decoder gets the fast one exactly and
    moves at half speed in the slow one. Against the batch's mean the shortfall is small;
    against each window's own motion it costs half of that window's motion."""
    import torch

    from model.train import motion_amount

    g = torch.Generator().manual_seed(1)
    walk = torch.randn(2, 40, 54, generator=g).cumsum(1)
    target = walk * torch.tensor([1.0, 0.1])[:, None, None]  # window 0 fast, window 1 slow
    pred = (target * torch.tensor([1.0, 0.5])[:, None, None])[None].repeat(2, 1, 1, 1)
    by_batch = float(motion_amount(pred, target))
    by_window = float(motion_amount(pred, target, norm="window"))
    assert by_batch < 0.05
    assert by_window == pytest.approx(0.25, abs=1e-4)  # (0 + 0.5) / 2 windows
    same = target[None].repeat(2, 1, 1, 1)
    assert float(motion_amount(same, target, norm="window")) == pytest.approx(0.0, abs=1e-6)
    still = target.clone()
    still[1] = walk[1, :1] * 0.1  # the slow window held still: its floor keeps the cost finite
    assert float(motion_amount(pred, still, norm="window")) < 10.0
    with pytest.raises(ValueError, match="norm"):
        motion_amount(pred, target, norm="clip")
    with pytest.raises(ConfigError, match="speed_norm"):
        TrainConfig.from_dict({"speed_norm": "song"})
    assert TrainConfig.from_dict({"speed_norm": "window"}).speed_norm == "window"


def test_style_balance_evens_out_styles_within_a_folder(tmp_path: Path) -> None:
    from model.train_data import WindowSampler, load_folders

    feats = defaults()["features"]
    big = make_dataset(tmp_path / "big", clips=4, seconds=6.0, styles=("a", "a", "a", "b"), seed=7)
    other = make_dataset(tmp_path / "other", clips=1, seconds=6.0, styles=("c",), seed=9)
    clips = load_folders([big, other], feature_cfg=feats)

    def shares(balance: float) -> np.ndarray:
        smp = WindowSampler(clips, styles=["a", "b", "c"], seq_len=40, lookahead=0, style_balance=balance)
        return np.bincount(smp.sample(np.random.default_rng(1), 2000)["style"].argmax(1), minlength=3) / 2000

    by_frames, half, even = shares(0.0), shares(0.5), shares(1.0)
    assert by_frames[0] == pytest.approx(0.6, abs=0.05) and by_frames[1] == pytest.approx(0.2, abs=0.04)
    assert even[0] == pytest.approx(0.4, abs=0.04) and even[1] == pytest.approx(0.4, abs=0.04)
    assert by_frames[1] < half[1] < even[1]  # square root: between the two
    for s in (by_frames, half, even):  # the folders keep their shares (4 clips : 1 clip)
        assert s[2] == pytest.approx(0.2, abs=0.04)
    with pytest.raises(ConfigError, match="style_balance"):
        TrainConfig.from_dict({"style_balance": 2.0})


def test_several_data_folders_union_styles_and_weights(data: Path, tmp_path: Path) -> None:
    from model.train_data import WindowSampler, load_folders

    feats = defaults()["features"]
    other = make_dataset(tmp_path / "other", clips=2, seconds=6.0, styles=("c",), seed=5)
    clips = load_folders([data, other], feature_cfg=feats)
    smp = WindowSampler(clips, styles=["a", "b", "c"], seq_len=40, lookahead=0,
                        folder_weights={str(data): 1.0, str(other): 3.0})
    styles = smp.sample(np.random.default_rng(0), 400)["style"].argmax(1)
    assert 0.65 < float(np.mean(styles == 2)) < 0.85  # folder weights 1:3, whatever the folder sizes
    net_cfg, tc, _ = _tiny_cfgs(tmp_path, 3)
    tc.data_weights = {"other": 2.0}
    train(data=[data, other], out=tmp_path / "multi", feature_cfg=feats, net_cfg=net_cfg, train_cfg=tc,
          progress=False)
    ck = load_checkpoint(tmp_path / "multi" / "final.pt")
    assert ck["styles"] == ["a", "b", "c"] and ck["config"]["n_styles"] == 3
    summ = ck["data_summary"]
    assert summ["styles"] == ["a", "b", "c"] and set(summ["folders"]) == {str(data), str(other)}
    assert summ["folders"][str(other)]["weight"] == 2.0
    tc.data_weights = {"nowhere": 1.0}
    with pytest.raises(ConfigError, match="not one of the --data folders"):
        train(data=[data, other], out=tmp_path / "bad", feature_cfg=feats, net_cfg=net_cfg, train_cfg=tc,
              progress=False)


def test_csv_log_keeps_columns_under_their_headings_when_a_resumed_run_logs_more(tmp_path: Path) -> None:
    """A run written by a version that logged fewer columns, resumed by one that logs more
    (e.g. val_amount per style): every value stays under its own heading."""
    from model.train_report import read_csv, write_csv_row

    log = tmp_path / "log.csv"
    write_csv_row(log, {"step": 8, "val_loss": 1.5})
    write_csv_row(log, {"step": 16, "val_loss": 1.25})
    write_csv_row(log, {"step": 24, "val_loss": 1.0, "val_amount_min": 0.75})  # a newer version
    write_csv_row(log, {"step": 32, "val_amount_min": 0.5})  # a column missing: left empty
    rows = read_csv(log)
    assert [r["step"] for r in rows] == [8, 16, 24, 32]
    assert [r["val_loss"] for r in rows[:3]] == [1.5, 1.25, 1.0] and math.isnan(rows[3]["val_loss"])
    assert math.isnan(rows[0]["val_amount_min"]) and rows[2]["val_amount_min"] == 0.75
    assert rows[3]["val_amount_min"] == 0.5
    assert not list(tmp_path.glob(".*tmp"))  # the rewrite left no temporary file


def test_training_with_move_tokens_exports_them_to_the_pick(data: Path, tmp_path: Path) -> None:
    from export.offline import write_offline
    from export.onnx_export import export_checkpoint
    from live.npstep import NumpyStep
    from live.offline import NumpyGenerator
    from live.pick import tokens_of

    net_cfg, tc, _ = _tiny_cfgs(tmp_path, 3)
    tc.move_tokens, tc.seq_len = 4, 80
    net_cfg.lstm_layers = 2  # the numpy step runs a two-layer decoder
    train(data=data, out=tmp_path / "tok", feature_cfg=defaults()["features"], net_cfg=net_cfg, train_cfg=tc,
          progress=False)
    ck = torch.load(tmp_path / "tok" / "final.pt", weights_only=False)
    tok = ck["move_tokens"]
    assert tok["centres"].shape[0] == 4 and tok["vectors"].shape == (4, net_cfg.noise_dim)
    assert np.allclose(tok["freq"].sum(axis=1), 1.0)  # every style's windows counted
    onnx_path, net, meta = export_checkpoint(tmp_path / "tok" / "final.pt", tmp_path / "tok.onnx")
    write_offline(net, meta, tmp_path / "tok_offline.npz", step_model=onnx_path)
    got = tokens_of(meta, nd=net_cfg.noise_dim)
    assert got is not None and np.allclose(got[0], tok["vectors"], atol=1e-5)
    for gen in (NumpyGenerator(tmp_path / "tok_offline.npz"), NumpyStep(tmp_path / "tok_offline.npz")):
        gen.set_pick(4)
        assert gen.pick.tokens is not None and np.allclose(gen.pick.tokens[0], got[0])
