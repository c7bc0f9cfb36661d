"""The style critic of training (model/style_critic.py) and its term in the training loss."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch

from model.config import defaults
from model.skeleton import mirror, rest_pose
from model.style_critic import frame_features, mirror_vec, train_critic
from model.train import load_checkpoint, load_train_config, train
from model.train_data import pose_to_vec
from tests.test_train import TINY, make_dataset


def _dance(n: int, *, style: int, seed: int) -> np.ndarray:
    """Style 0 swings the arms up and down, style 1 bends the knees (root drops)."""
    g = np.random.default_rng(seed)
    t = np.arange(n) / 30.0
    f = g.uniform(1.5, 2.5)
    p = np.tile(rest_pose(on_floor=True), (n, 1, 1)).astype(np.float64)
    s = np.sin(2 * np.pi * f * t + g.uniform(0, 6))
    if style == 0:
        p[:, 9, 1] += 0.3 * s
        p[:, 10, 1] -= 0.3 * s
    else:
        p[:, 5:, 1] += 0.12 * s[:, None]
        p[:, 5:, 1] -= 0.12 * s[:, None] * (p[:, 5:, 1] < 0.2)
    p += g.normal(0, 0.005, p.shape)
    return p.astype(np.float32)


def _sampler(seed0: int):
    def sample(rng: np.random.Generator, batch: int) -> dict[str, np.ndarray]:
        y = rng.integers(0, 2, batch)
        target = np.stack([pose_to_vec(_dance(60, style=int(s), seed=int(rng.integers(1 << 30)) + seed0)) for s in y])
        return {"target": target.astype(np.float32), "style": np.eye(2, dtype=np.float32)[y]}
    return sample


def test_mirror_of_pose_vectors_matches_the_skeleton_mirror() -> None:
    p = _dance(10, style=0, seed=1)
    p[:, :, 0] += 0.1 * np.arange(10)[:, None]  # travel in x: dx must change sign
    v = torch.from_numpy(pose_to_vec(p))[None]
    m = mirror_vec(v)[0].numpy()
    want = pose_to_vec(mirror(p))
    assert np.allclose(m[:, :51], want[:, :51], atol=1e-6)
    assert np.allclose(m[:, 51:], want[:, 51:], atol=1e-6) and abs(float(m[3, 51])) > 0.05


def test_frame_features_do_not_depend_on_which_way_the_dancer_faces() -> None:
    p = _dance(20, style=1, seed=2).astype(np.float64)
    a = 1.1
    r = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    turned = (p @ r.T).astype(np.float32)
    f0 = frame_features(torch.from_numpy(pose_to_vec(p.astype(np.float32)))[None], 30.0)
    f1 = frame_features(torch.from_numpy(pose_to_vec(turned))[None], 30.0)
    assert torch.allclose(f0, f1, atol=1e-4)


def test_critic_learns_two_styles_and_is_frozen() -> None:
    torch.manual_seed(0)
    held = _sampler(10_000)(np.random.default_rng(5), 64)
    critic, report = train_critic(_sampler(0), held, n_styles=2, fps=30.0, steps=60)
    assert report["val_acc"] >= 0.9, report
    assert not any(p.requires_grad for p in critic.parameters())
    # a window of style 0 mirrored is still style 0 (the critic averages both sides)
    x = torch.from_numpy(held["target"][:8])
    assert torch.allclose(critic(x), critic(mirror_vec(x)), atol=1e-5)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = make_dataset(tmp_path_factory.mktemp("critic") / "set", clips=4, seconds=8.0)
    return root


def test_training_with_the_style_term_saves_the_critic_and_resume_keeps_it(data: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "tiny.toml"
    cfg.write_text(TINY.format(steps=6, ckpt=3) + "w_style = 0.5\nstyle_critic_steps = 20\n", encoding="utf-8")
    net_cfg, tc, _ = load_train_config(cfg)
    feats = defaults()["features"]
    train(data=data, out=tmp_path / "run", feature_cfg=feats, net_cfg=net_cfg, train_cfg=tc, progress=False)
    a = load_checkpoint(tmp_path / "run" / "final.pt")
    assert a["style_critic"] is not None and 0.0 <= a["style_critic"]["report"]["val_acc"] <= 1.0
    log = list(csv.DictReader((tmp_path / "run" / "log.csv").open()))
    assert float(log[-1]["train_style"]) > 0 and float(log[-1]["val_style"]) > 0
    assert 0 < float(log[-1]["val_amount"]) < 10  # free-running limb speed over the data's
    train(data=data, out=tmp_path / "run", feature_cfg=feats, steps=9, resume=True, progress=False)
    b = load_checkpoint(tmp_path / "run" / "final.pt")
    assert b["step"] == 9
    sa, sb = a["style_critic"]["critic"]["state"], b["style_critic"]["critic"]["state"]
    assert all(torch.equal(sa[k], sb[k]) for k in sa)  # the same frozen judge after resume


def test_without_the_style_term_no_critic_is_trained(data: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "tiny.toml"
    cfg.write_text(TINY.format(steps=2, ckpt=2), encoding="utf-8")
    net_cfg, tc, _ = load_train_config(cfg)
    train(data=data, out=tmp_path / "run", feature_cfg=defaults()["features"], net_cfg=net_cfg, train_cfg=tc,
          progress=False)
    assert load_checkpoint(tmp_path / "run" / "final.pt")["style_critic"] is None


def test_the_swapped_music_term_is_trained_and_logged(data: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "tiny.toml"
    cfg.write_text(TINY.format(steps=4, ckpt=4) + "w_style = 0.5\nw_style_swap = 0.5\nstyle_critic_steps = 20\n",
                   encoding="utf-8")
    net_cfg, tc, _ = load_train_config(cfg)
    assert tc.w_style_swap == 0.5
    train(data=data, out=tmp_path / "run", feature_cfg=defaults()["features"], net_cfg=net_cfg, train_cfg=tc,
          progress=False)
    log = list(csv.DictReader((tmp_path / "run" / "log.csv").open()))
    assert float(log[-1]["train_style_swap"]) > 0  # the critic's cross-entropy of the swapped dances


def _refused(tmp_path: Path, extra: str, match: str) -> None:
    """A tiny training config with ``extra`` [train] lines is refused with ``match`` in the error."""
    bad = tmp_path / "bad.toml"
    bad.write_text(TINY.format(steps=2, ckpt=2) + extra, encoding="utf-8")
    with pytest.raises(Exception, match=match):
        load_train_config(bad)


def _tiny_window_inputs() -> tuple[torch.nn.Module, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor,
                                    torch.Generator]:
    """A tiny untrained network (evaluation mode) and one batch of 4 windows of 24 frames:
    (net, features, previous poses, styles 0 1 0 1, controls, the generator for more)."""
    from model.network import DanceNet, NetConfig

    torch.manual_seed(0)
    net = DanceNet(NetConfig(feature_dim=12, n_styles=2, lstm_hidden=16, d_model=16, layers=1, heads=2, ffn_dim=16,
                             noise_dim=4))
    net.eval()
    b, t = 4, 24
    g = torch.Generator().manual_seed(1)
    feat = torch.randn(b, t, 12, generator=g)
    prev = torch.randn(b, 54, generator=g) * 0.1
    return net, feat, prev, torch.eye(2)[[0, 1, 0, 1]], torch.tensor([[1.0, 0.5]] * b), g


def test_the_swapped_music_term_changes_the_loss_and_needs_the_critic(tmp_path: Path) -> None:
    from model.train import TrainConfig, WindowLoss

    _refused(tmp_path, "w_style_swap = 0.5\n", "w_style_swap needs the style critic")
    net, feat, prev, style, controls, g = _tiny_window_inputs()
    b, t = feat.shape[:2]
    target = torch.randn(b, t, 54, generator=g) * 0.1

    class Judge(torch.nn.Module):  # a stand-in critic: the mean vertical position says the style
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            m = x[..., 1::3].mean(dim=(1, 2))
            return torch.stack([m, -m], dim=1)

    out = {}
    for swap in (0.0, 0.5):
        wl = WindowLoss(net, TrainConfig(samples=2, w_style=0.5, w_style_swap=swap))
        wl.critic = Judge()
        out[swap] = wl(feat, prev, style, controls, target, [False] * t, generator=torch.Generator().manual_seed(2))
    assert "style_swap" not in out[0.0] and float(out[0.5]["style_swap"]) > 0
    with_swap, without = float(out[0.5]["loss"].detach()), float(out[0.0]["loss"].detach())
    assert with_swap == pytest.approx(without + 0.5 * float(out[0.5]["style_swap"]), rel=1e-5)


def test_posture_is_the_mean_stance_whatever_way_the_dancer_faces() -> None:
    from model.train import posture

    p = _dance(60, style=1, seed=3)  # knee bends
    vec = torch.from_numpy(pose_to_vec(p))
    ang = 1.1
    c, s = np.cos(ang), np.sin(ang)
    turned = p.copy()
    turned[..., 0], turned[..., 2] = c * p[..., 0] + s * p[..., 2], -s * p[..., 0] + c * p[..., 2]
    a, b = posture(vec), posture(torch.from_numpy(pose_to_vec(turned)))
    assert a.shape == (17, 3) and torch.allclose(a, b, atol=1e-5)
    crouch = p.copy()
    crouch[:, :15, 1] -= 0.15  # all but the ankles 15 cm lower: the hips (root) sink over the same feet
    gap = (posture(torch.from_numpy(pose_to_vec(crouch))) - a).norm(dim=-1)
    assert torch.allclose(gap[15:], torch.full((2,), 0.15), atol=1e-4)  # the ankles come up to the root
    assert float(gap[:15].max()) < 1e-4


def test_the_posture_term_judges_a_second_dance_at_the_swap_strength(tmp_path: Path) -> None:
    from model.train import TrainConfig, WindowLoss, posture

    for line, msg in (("w_posture = -1\n", "w_posture"), ("swap_strength = 0\n", "swap_strength")):
        _refused(tmp_path, line, msg)
    net, feat, prev, style, controls, g = _tiny_window_inputs()
    b, t = feat.shape[:2]
    target = torch.from_numpy(np.stack([pose_to_vec(_dance(t, style=i % 2, seed=i)) for i in range(b)]))
    out = {}
    for key, tc in (("off", TrainConfig(samples=2)), ("on", TrainConfig(samples=2, w_posture=2.0)),
                    ("strong", TrainConfig(samples=2, w_posture=2.0, swap_strength=2.0))):
        out[key] = WindowLoss(net, tc)(feat, prev, style, controls, target, [False] * t,
                                       generator=torch.Generator().manual_seed(2))
    assert "posture" not in out["off"] and "style_swap" not in out["on"]  # no critic needed
    gap = float(out["on"]["posture"])
    assert gap > 0
    assert float(out["on"]["loss"].detach()) == pytest.approx(float(out["off"]["loss"].detach()) + 2.0 * gap, rel=1e-5)
    assert float(out["strong"]["posture"]) != pytest.approx(gap, rel=1e-4)  # the strength reaches the decoder
    assert posture(target).shape == (b, 17, 3)


def test_the_posture_term_is_trained_and_logged(data: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "tiny.toml"
    cfg.write_text(TINY.format(steps=4, ckpt=4) + "w_posture = 1.0\nswap_strength = 2.0\n", encoding="utf-8")
    net_cfg, tc, _ = load_train_config(cfg)
    assert tc.w_posture == 1.0 and tc.swap_strength == 2.0
    train(data=data, out=tmp_path / "run", feature_cfg=defaults()["features"], net_cfg=net_cfg, train_cfg=tc,
          progress=False)
    log = list(csv.DictReader((tmp_path / "run" / "log.csv").open()))
    assert float(log[-1]["train_posture"]) > 0 and float(log[-1]["val_posture"]) > 0


def test_the_style_posture_target_compares_each_style_s_mean_stance(tmp_path: Path) -> None:
    from model.train import TrainConfig, WindowLoss, posture

    _refused(tmp_path, 'w_posture = 1.0\nposture_target = "song"\n', "posture_target")
    net, feat, prev, style, controls, _ = _tiny_window_inputs()
    b, t = feat.shape[:2]
    target = torch.from_numpy(np.stack([pose_to_vec(_dance(t, style=i % 2, seed=i)) for i in range(b)]))
    from types import SimpleNamespace

    from model.train import style_stances

    clips = [SimpleNamespace(style="ab"[i % 2], vec=target[i].numpy()) for i in range(b)]
    stance = style_stances(clips, ["a", "b", "c"])  # "c" has no clips: zeros
    assert torch.allclose(stance[0], posture(target[0::2].reshape(-1, 54)), atol=1e-6)
    assert float(stance[2].abs().max()) == 0.0
    stance = stance[:2]
    got = {}
    for where in ("window", "style"):
        wl = WindowLoss(net, TrainConfig(samples=2, w_posture=1.0, posture_target=where))
        wl.stance = stance
        got[where] = float(wl(feat, prev, style, controls, target, [False] * t,
                              generator=torch.Generator().manual_seed(2))["posture"])
    # the same second dance (same noise): by style its windows' stances are averaged before the distance
    assert got["style"] > 0 and got["style"] <= got["window"] + 1e-6
