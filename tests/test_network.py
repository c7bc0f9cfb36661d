"""DanceNet: streaming step equals the full pass, seeds, variation, latent, styles, causality, ONNX parity."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from model.network import DanceNet, NetConfig, StepModule, build, variation_scale

torch.set_num_threads(1)


def _net(**kw: object) -> DanceNet:
    torch.manual_seed(0)
    net = DanceNet(NetConfig(**kw))  # type: ignore[arg-type]
    # Non-trivial normalisation so that the in-module normalisation is exercised.
    g = torch.Generator().manual_seed(1)
    net.set_normalization(
        feat_mean=torch.randn(84, generator=g), feat_std=torch.rand(84, generator=g) + 0.5,
        pose_mean=torch.randn(54, generator=g) * 0.1, pose_std=torch.rand(54, generator=g) + 0.1,
    )
    with torch.no_grad():
        for blk in net.blocks:
            blk.attn.rel_bias.normal_()
    return net.eval()


def _inputs(t: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    feat = torch.randn(1, t, 84, generator=g)
    prev = torch.randn(1, 54, generator=g) * 0.1
    style = torch.tensor([[0.6, 0.4, 0.0, 0.0]])
    controls = torch.tensor([[1.0, 0.7]])
    return feat, prev, style, controls


def _noise(net: DanceNet, t: int, seed: int) -> torch.Tensor:
    return net.make_noise(1, t, generator=torch.Generator().manual_seed(seed + 100))


def _run_steps(net: DanceNet, feat: torch.Tensor, prev: torch.Tensor, style: torch.Tensor,
               controls: torch.Tensor, *, seed: int, block: int = 1, noise: torch.Tensor | None = None) -> torch.Tensor:
    state = net.init_state(1, seed=seed, block=block)
    noise = _noise(net, feat.shape[1], seed) if noise is None else noise
    outs = []
    with torch.no_grad():
        for s in range(0, feat.shape[1] - feat.shape[1] % block, block):
            pose, state = net.step(feat[:, s:s + block], prev, state, style, controls, noise[:, s:s + block])
            prev = pose[:, -1]
            outs.append(pose)
    return torch.cat(outs, dim=1)


def test_step_by_step_equals_full_sequence_over_500_frames() -> None:
    net = _net(window=16)  # a short window so that 500 frames roll the ring many times
    feat, prev, style, controls = _inputs(500)
    noise = _noise(net, 500, 5)
    with torch.no_grad():
        full, _ = net(feat, prev, net.init_state(1, seed=5), style, controls, noise)
    stepped = _run_steps(net, feat, prev, style, controls, seed=5)
    assert full.shape == (1, 500, 54)
    assert (stepped - full).abs().max().item() < 1e-5
    blocks = _run_steps(net, feat, prev, style, controls, seed=5, block=7)  # odd blocks, ring of 16 + 7
    assert (blocks - full[:, :blocks.shape[1]]).abs().max().item() < 1e-5
    # the general path in uneven chunks (torch generation) equals it too
    state, p, outs = net.init_state(1, seed=5), prev, []
    with torch.no_grad():
        for s in range(0, 500, 37):
            y, state = net(feat[:, s:s + 37], p, state, style, controls, noise[:, s:s + 37])
            p = y[:, -1]
            outs.append(y)
    assert (torch.cat(outs, dim=1) - full).abs().max().item() < 1e-5


def test_same_seed_repeats_and_different_seeds_differ() -> None:
    net = _net()
    feat, prev, style, controls = _inputs(60)
    a = _run_steps(net, feat, prev, style, controls, seed=1)
    b = _run_steps(net, feat, prev, style, controls, seed=1)
    c = _run_steps(net, feat, prev, style, controls, seed=2)
    assert torch.equal(a, b)
    assert (a - c).abs().max().item() > 1e-3


def test_variation_zero_is_deterministic_per_seed_and_variation_changes_the_dance() -> None:
    net = _net()
    feat, prev, style, _ = _inputs(90)
    still = torch.tensor([[1.0, 0.0]])
    lively = torch.tensor([[1.0, 1.0]])
    n1, n2 = _noise(net, 90, 1), _noise(net, 90, 2)
    # variation 0: the noise has no effect; the dance depends on the seed's initial state only
    a0 = _run_steps(net, feat, prev, style, still, seed=1, noise=n1)
    b0 = _run_steps(net, feat, prev, style, still, seed=1, noise=n2)
    assert torch.allclose(a0, b0, atol=1e-6)
    a1 = _run_steps(net, feat, prev, style, lively, seed=1, noise=n1)
    b1 = _run_steps(net, feat, prev, style, lively, seed=1, noise=n2)
    assert (a1 - b1).abs().max().item() > 1e-3
    assert (a1 - a0).abs().max().item() > 1e-3
    assert variation_scale(torch.tensor([0.0, 0.5, 1.0])).tolist() == pytest.approx([0.0, 1.0, 1.4])


def test_latent_holds_a_phrase_and_drifts_slowly() -> None:
    net = _net(phrase_frames=10, noise_dim=4, noise_tau=30.0)
    z = torch.zeros(1, 8)
    noise = torch.randn(1, 35, 8, generator=torch.Generator().manual_seed(0))
    lats, _, phase = net.latent(z, torch.zeros(1, 1), noise, torch.tensor([[0.5]]))
    lat = torch.stack(lats, dim=1)[0]  # [35, 8]
    phrase, slow = lat[:, :4], lat[:, 4:]
    assert torch.equal(phrase[0], noise[0, 0, :4])  # redrawn at phase 0 ...
    assert torch.equal(phrase[9], phrase[0]) and torch.equal(phrase[10], noise[0, 10, :4])  # ... every 10 frames
    steps = (slow[1:] - slow[:-1]).abs().mean().item()
    assert steps < 0.3 * slow.abs().mean().item() + 0.3  # AR(1): small steps, not white noise
    assert float(phase) == 5.0


def test_style_mixing_changes_output_and_mixes_embeddings() -> None:
    net = _net()
    feat, prev, _, controls = _inputs(40)
    house = _run_steps(net, feat, prev, torch.tensor([[1.0, 0, 0, 0]]), controls, seed=0)
    ballet = _run_steps(net, feat, prev, torch.tensor([[0, 0, 1.0, 0]]), controls, seed=0)
    mix = _run_steps(net, feat, prev, torch.tensor([[0.5, 0, 0.5, 0]]), controls, seed=0)
    assert (house - ballet).abs().max().item() > 1e-3
    assert (mix - house).abs().max().item() > 1e-4 and (mix - ballet).abs().max().item() > 1e-4
    e = net.style_embedding(torch.tensor([[0.5, 0, 0.5, 0]]))
    assert torch.allclose(e, 0.5 * (net.style_table[0] + net.style_table[2]))


def test_encoder_is_causal_and_local() -> None:
    net = _net(window=8, layers=1)
    feat, *_ = _inputs(40)
    with torch.no_grad():
        enc = net.encode_seq(feat)
        later = feat.clone()
        later[:, 30:] += 5.0  # the future changes
        enc2 = net.encode_seq(later)
        earlier = feat.clone()
        earlier[:, :10] += 5.0  # frames more than k=8 before frame 20 change
        enc3 = net.encode_seq(earlier)
    assert torch.allclose(enc[:, :30], enc2[:, :30], atol=1e-6)
    assert not torch.allclose(enc[:, 30:], enc2[:, 30:], atol=1e-3)
    assert torch.allclose(enc[:, 18:], enc3[:, 18:], atol=1e-6)  # 18 - 8 = 10: unseen
    assert not torch.allclose(enc[:, 10:18], enc3[:, 10:18], atol=1e-3)


def test_teacher_forcing_uses_teacher_poses() -> None:
    net = _net()
    feat, prev, style, controls = _inputs(20)
    teacher = torch.randn(1, 20, 54)
    noise = _noise(net, 20, 0)
    with torch.no_grad():
        free, _ = net(feat, prev, net.init_state(1, seed=0), style, controls, noise)
        forced, _ = net(feat, prev, net.init_state(1, seed=0), style, controls, noise,
                        teacher=teacher, teacher_mask=[True] * 20)
        # Frame-by-frame with the teacher pose fed as prev equals the forced run.
        state = net.init_state(1, seed=0)
        p, outs = prev, []
        for t in range(20):
            o, state = net.step(feat[:, t:t + 1], p, state, style, controls, noise[:, t:t + 1])
            outs.append(o)
            p = teacher[:, t]
    assert torch.allclose(free[:, 0], forced[:, 0])
    assert not torch.allclose(free[:, 5:], forced[:, 5:], atol=1e-3)
    assert (torch.cat(outs, dim=1) - forced).abs().max().item() < 1e-5


def test_config_round_trips_through_a_checkpoint(tmp_path: Path) -> None:
    net = _net(d_model=64, heads=2, lstm_hidden=96, window=12)
    idx = net.add_style()
    assert idx == 4 and net.cfg.n_styles == 5
    path = tmp_path / "m.pt"
    torch.save({"config": net.cfg.to_dict(), "model": net.state_dict()}, path)
    ckpt = torch.load(path, weights_only=False)
    net2 = build(ckpt["config"]).eval()
    net2.load_state_dict(ckpt["model"])
    feat, prev, _, controls = _inputs(10)
    style = torch.tensor([[0, 0, 0, 0, 1.0]])
    assert torch.equal(_run_steps(net, feat, prev, style, controls, seed=3),
                       _run_steps(net2, feat, prev, style, controls, seed=3))


def test_step_module_exports_to_onnx_with_parity(tmp_path: Path) -> None:
    ort = pytest.importorskip("onnxruntime")
    net = _net()
    step = StepModule(net)
    feat, prev, style, controls = _inputs(80)
    noise = _noise(net, 80, 4)
    state = net.init_state(1, seed=4)
    names = ["feat", "prev_pose", "style_w", "controls", "noise", *net.state_names()]
    path = tmp_path / "step.onnx"
    torch.onnx.export(step, (feat[:, :1], prev, style, controls, noise[:, :1], *state), str(path),
                      input_names=names, output_names=["pose", *(f"{n}_out" for n in net.state_names())],
                      dynamo=False, opset_version=17)
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    ref = _run_steps(net, feat, prev, style, controls, seed=4).numpy()
    st = [s.numpy() for s in state]
    p = prev.numpy()
    worst = 0.0
    for t in range(80):  # past the 64-frame window: the ring wraps
        out = sess.run(None, dict(zip(names, [feat[:, t:t + 1].numpy(), p, style.numpy(),
                                              controls.numpy(), noise[:, t:t + 1].numpy(), *st])))
        worst = max(worst, float(np.abs(out[0][0, 0] - ref[0, t]).max()))
        p, st = out[0][:, -1], out[1:]
    assert worst < 1e-4


def test_energy_scales_the_size_of_the_moves() -> None:
    net = _net(energy_gain=0.6)
    feat, prev, style, _ = _inputs(200)
    def spread(energy: float) -> float:
        poses = _run_steps(net, feat, prev, style, torch.tensor([[energy, 0.5]]), seed=3)[0, 50:, :51]
        return float(poses.reshape(-1, 17, 3).var(0).sum(-1).mean().sqrt())
    assert spread(1.8) >= 2.0 * spread(0.3)
