"""Move tokens (model/move_tokens.py): a codebook of the data's 2-s moves whose vectors steer the
decoder's held latent in training (``[train] move_tokens``) and are the latent pick's draws at run
time (live/pick.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from live.pick import LatentPick, tokens_of
from model import move_tokens as mt
from model.network import DanceNet, NetConfig
from model.skeleton import rest_pose
from model.train import TrainConfig, WindowLoss
from model.train_data import pose_to_vec


def _clip(kind: str, seconds: float = 12.0, fps: int = 30) -> np.ndarray:
    """Pose vectors of a body that holds its left arm out and swings it a little ("swing") or
    crouches and bobs ("squat"), 1.5 s a cycle: two moves apart at any phase."""
    t = np.arange(int(seconds * fps)) / fps
    p = np.tile(rest_pose(on_floor=True).astype(np.float32), (len(t), 1, 1))
    w = np.sin(2 * np.pi * t / 1.5).astype(np.float32)
    if kind == "swing":
        p[:, [7, 9], 0] += 0.5 + 0.1 * w[:, None]
    else:
        p[:, :13, 1] -= 0.3 + 0.05 * w[:, None]
    return pose_to_vec(p)


def test_the_codebook_tells_two_moves_apart_and_counts_them_per_style() -> None:
    a, b = _clip("swing"), _clip("squat")
    cen = mt.fit([a, b], k=2, seed=0)
    assert cen.shape == (2, mt.WINDOW // mt.SUB, 51)
    ta, tb = mt.assign(cen, mt.windows(a)), mt.assign(cen, mt.windows(b))
    assert len(set(ta)) == 1 and len(set(tb)) == 1 and ta[0] != tb[0]
    # a window cut short (the end of a training window) is compared over what it has
    assert mt.assign(cen, mt.windows(a)[:, :7])[0] == ta[0]
    freq = mt.style_frequencies(cen, {"swing": [a], "squat": [b]}, ["squat", "swing"])
    assert np.allclose(freq.sum(1), 1.0)
    assert freq[0, tb[0]] == 1.0 and freq[1, ta[0]] == 1.0
    # a move's code: the window's principal components at unit variance over the data
    g = np.random.default_rng(0)
    data = [c + g.normal(0, 0.02, c.shape).astype(np.float32) for c in (_clip("swing", 20.0), _clip("squat", 20.0))]
    mean, comps, rest = mt.fit_codes(data, nd=8)
    code = mt.codes(mean, comps, np.concatenate([mt.windows(c) for c in data]))
    assert np.allclose(code.std(axis=0), 1.0, atol=0.05) and np.allclose(code.mean(axis=0), 0.0, atol=1e-3)
    # the first component tells the two moves apart
    ca, cb = mt.codes(mean, comps, mt.windows(a)), mt.codes(mean, comps, mt.windows(b))
    assert np.sign(ca[:, 0]).min() == np.sign(ca[:, 0]).max() != np.sign(cb[:, 0]).max() == np.sign(cb[:, 0]).min()
    # most of a window (17 of 20 samples) nearly gives its code
    whole = mt.codes(mean, comps, mt.windows(a)[:1])[0]
    part = mt.codes(mean, comps, mt.windows(a)[:1, :17], rest)[0]
    assert abs(part[0] - whole[0]) < 0.1 * abs(whole[0])


def test_training_names_the_data_s_next_move_in_the_held_latent() -> None:
    net = DanceNet(NetConfig(d_model=16, heads=2, layers=1, window=4, lstm_hidden=8, lstm_layers=1))
    nd, per = net.cfg.noise_dim, net.cfg.phrase_frames
    g = np.random.default_rng(0)
    mean, comps, rest = mt.fit_codes([c + g.normal(0, 0.02, c.shape).astype(np.float32)
                                      for c in (_clip("swing", 20.0), _clip("squat", 20.0))], nd=nd)
    a, b = _clip("swing", 4.0), _clip("squat", 4.0)
    loss = WindowLoss(net, TrainConfig(move_tokens=2, token_prob=1.0))
    loss.codes = (mean, comps, rest)
    t = 100
    # one window swings, then squats from frame 50; the other squats throughout
    target = torch.from_numpy(np.stack([np.concatenate([a[:50], b[:50]]), b[:t]]))
    z = torch.zeros(2, 2 * nd)
    phase = torch.tensor([[per - 50.0], [0.0]])  # the first window's redraw falls on frame 50
    noise = torch.zeros(2, t, 2 * nd)
    loss._apply_tokens(z, phase, noise, target, None)

    def code(x: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(mt.codes(mean, comps, x[:: mt.SUB, :51].numpy()[None], rest)[0])

    assert torch.allclose(z[0, :nd], code(target[0, :50]), atol=1e-5)  # frames 0-49: the swing
    assert torch.allclose(noise[0, 50, :nd], code(target[0, 50:]), atol=1e-5)  # the redraw at 50: the squat
    assert float(z[0, :nd] @ noise[0, 50, :nd]) < 0  # two moves, codes apart
    assert torch.allclose(noise[1, 0, :nd], code(target[1, :per]), atol=1e-5)
    assert float(noise[1, per, :nd].abs().sum()) == 0.0  # frames 60-99: 14 samples, too few to name
    assert float(noise[:, :, nd:].abs().sum()) == 0.0  # the walking half is left alone
    # and the network's latent holds the code from the redraw on
    lats, _, _ = net.latent(z.clone(), phase.clone(), noise, torch.full((2, 1), 0.5))
    scale = float(lats[0][1, 0] / noise[1, 0, 0])
    assert torch.allclose(lats[60][0, :nd], noise[0, 50, :nd] * scale, atol=1e-5)


def test_the_pick_draws_the_style_s_tokens(caplog: pytest.LogCaptureFixture) -> None:
    styles = ["ballet", "house"]
    k, nd = 6, 4
    vec = np.arange(k * nd, dtype=np.float32).reshape(k, nd)
    meta = {"styles": styles, "move_tokens": {"vectors": vec.tolist(),
                                              "freq": {"ballet": [0.5, 0.5, 0, 0, 0, 0], "house": [0, 0, 0.25, 0.25, 0.25, 0.25]}}}
    tok = tokens_of(meta)
    assert tok is not None
    pick = LatentPick(4, nd=nd, fps=30, seed=0)
    pick.tokens = tok
    pick.style = np.array([0.0, 1.0], np.float32)
    pick.draw()
    rows = {tuple(r) for r in pick.held[1:].tolist()}
    assert rows <= {tuple(v) for v in vec[2:].tolist()} and len(rows) == 3  # house's, none twice
    pick.style = np.array([1.0, 0.0], np.float32)
    pick.draw()  # ballet has two tokens: two rows are its, the third a Gaussian draw
    got = [tuple(r) for r in pick.held[1:].tolist()]
    assert set(got[:2]) == {tuple(vec[0]), tuple(vec[1])} and got[2] not in {tuple(v) for v in vec.tolist()}
    # a model without tokens, or with tokens that do not fit its styles, draws as before
    assert tokens_of({"styles": styles}) is None
    assert tokens_of({"styles": ["ballet", "salsa"], "move_tokens": meta["move_tokens"]}) is None
    assert "move tokens do not fit" in caplog.text  # one line says so (and the show goes on)
    assert tokens_of(meta, nd=nd + 1) is None and tokens_of(meta, nd=nd) is not None


def test_a_bad_token_setting_is_one_line() -> None:
    from model.errors import ConfigError

    for bad, word in (({"move_tokens": -3}, "move_tokens"), ({"move_tokens": 2.5}, "move_tokens"),
                      ({"token_prob": 1.5}, "token_prob"), ({"token_prob": "all"}, "token_prob")):
        with pytest.raises(ConfigError, match=word) as e:
            TrainConfig.from_dict(bad, where=" in mine.toml")
        assert "\n" not in str(e.value) and "mine.toml" in str(e.value)
    assert TrainConfig.from_dict({"move_tokens": 128, "token_prob": 0.7}).move_tokens == 128
