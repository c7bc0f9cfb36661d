"""The offline weights file: what ``generate`` needs to run a DanceNet in numpy, batched.

``write_offline(net, meta, path)`` saves, beside a step model ``<name>.onnx``, the file
``<name>_offline.npz``: the network's weights with the normalisations folded in (the same
folding as ``DanceNet.step``) and the model's metadata document (``offline_format`` and the
SHA-256 of the step model file added).
:mod:`live.offline` runs the encoder over a whole batch of frames at once (it is causal,
so each frame sees what it sees live) and the decoder frame by frame with a handful of
numpy calls, instead of the step graph's ~50 onnxruntime nodes per frame. The live
server never reads this file; ``generate`` uses it when its metadata shows the same
trained model as the step model (``live.runtime.same_model``), else the block export or
the step model itself.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

FORMAT = 1


def offline_path(model_path: str | Path) -> Path:
    """``models/x.onnx`` -> ``models/x_offline.npz``."""
    p = Path(model_path)
    return p.with_name(f"{p.stem}_offline.npz")


def _a(t: Any) -> np.ndarray:
    return np.ascontiguousarray(t.detach().cpu().double().numpy())


def offline_arrays(net: Any) -> dict[str, np.ndarray]:
    """The folded weights of ``net`` (a DanceNet) as float32 arrays, keyed by role."""
    import torch

    cfg = net.cfg
    p_dim, hid = cfg.pose_dim, cfg.lstm_hidden
    out: dict[str, np.ndarray] = {}
    with torch.no_grad():
        fm, fs = _a(net.feat_mean), _a(net.feat_std)
        pm, ps = _a(net.pose_mean), _a(net.pose_std)
        w_in = _a(net.inp.weight)
        out["w_in"] = (w_in / fs[None, :]).T  # [F, d]
        out["b_in"] = _a(net.inp.bias) - (fm / fs) @ w_in.T
        dh = cfg.d_model // cfg.heads
        for i, blk in enumerate(net.blocks):
            att = blk.attn
            w = _a(att.qkv.weight).copy()
            b = _a(att.qkv.bias).copy()
            w[: cfg.d_model] *= 1.0 / math.sqrt(dh)
            b[: cfg.d_model] *= 1.0 / math.sqrt(dh)
            out[f"qkv{i}"], out[f"qkv_b{i}"] = w.T, b
            out[f"out{i}"], out[f"out_b{i}"] = _a(att.out.weight).T, _a(att.out.bias)
            out[f"rel_bias{i}"] = _a(att.rel_bias)  # [h, k + 1], by offset 0..k
            out[f"ln1_g{i}"], out[f"ln1_b{i}"] = _a(blk.ln1.weight), _a(blk.ln1.bias)
            out[f"ln2_g{i}"], out[f"ln2_b{i}"] = _a(blk.ln2.weight), _a(blk.ln2.bias)
            out[f"ffn0_{i}"], out[f"ffn0_b{i}"] = _a(blk.ffn[0].weight).T, _a(blk.ffn[0].bias)
            out[f"ffn2_{i}"], out[f"ffn2_b{i}"] = _a(blk.ffn[2].weight).T, _a(blk.ffn[2].bias)
        out["lnf_g"], out["lnf_b"] = _a(net.ln_f.weight), _a(net.ln_f.bias)
        out["style_table"] = _a(net.style_table)
        out["w_static"] = _a(net.w_static)  # rows: [encoder d, style_dim + energy, latent 2N]
        w0 = _a(net.w_rec[0])
        out["w_rec0"] = np.concatenate([w0[:p_dim] / ps[:, None], w0[p_dim:]])  # [P + H, 4H] raw pose in
        out["b_gates0"] = _a(net.b_gates[0]) - (pm / ps) @ w0[:p_dim]
        for layer in range(1, cfg.lstm_layers):
            out[f"w_rec{layer}"] = _a(net.w_rec[layer])
            out[f"b_gates{layer}"] = _a(net.b_gates[layer])
        out["w_head"] = _a(net.head.weight).T * ps[None, :]
        out["b_head"] = _a(net.head.bias) * ps + pm
        out["pose_mean"], out["pose_std"] = pm, ps
        assert out["w_rec0"].shape == (p_dim + hid, 4 * hid)
    return {k: np.ascontiguousarray(v, np.float32) for k, v in out.items()}


def write_offline(net: Any, meta: dict[str, Any], path: str | Path, *, step_model: str | Path) -> Path:
    """Write the offline weights of ``net`` with ``meta`` (its step model's metadata) to
    ``path`` (atomic: a temporary file beside it, then rename). ``step_model``: the ONNX
    file exported from the same weights; its SHA-256 goes into the metadata, and
    ``generate`` uses these weights only beside that exact file."""
    import hashlib
    import os

    dst = Path(path)
    sha = hashlib.sha256(Path(step_model).read_bytes()).hexdigest()
    doc = dict(meta, block=1, offline_format=FORMAT, step_model_sha256=sha)
    arrays = offline_arrays(net)
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp.npz")
    try:
        np.savez(tmp, meta=np.array(json.dumps(doc)), **arrays)  # type: ignore[arg-type]
        os.replace(tmp, dst)
    finally:
        if tmp.exists():
            tmp.unlink()
    return dst
