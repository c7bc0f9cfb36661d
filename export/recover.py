"""A training checkpoint rebuilt from an exported model, so that a shipped model can be fine-tuned.

``dancemuse export`` writes, beside every ``X.onnx``, ``X_offline.npz``: the network's weights
with the feature and pose normalisation folded in (export/offline.py), the model's metadata,
and the SHA-256 of the ONNX file they were exported with. Every folding there is invertible
given the pose statistics (stored) and any choice of feature statistics, so the torch network
can be rebuilt exactly (to float32 rounding) from those arrays. That is what
``dancemuse train --init models/default.onnx`` uses: the user fine-tunes the shipped model on
their own data without the training run it came from.

The feature statistics are not stored (they are folded into the input layer), so the rebuilt
network starts with mean 0 and std 1 and ``input_norm`` False in the checkpoint; ``dancemuse
train`` then sets the statistics of its own training data with :func:`renormalise_input`,
which changes the input layer so that the network computes exactly the same function.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from model.errors import ModelError


def _offline_for(model_path: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The offline weights exported with ``model_path`` (found and checked as the live numpy
    step finds them: ``live.runtime.step_weights``) and their metadata."""
    from live.runtime import resolve_model_path, step_weights

    npz, why = step_weights(model_path)
    if npz is None:
        raise ModelError(f"cannot rebuild {model_path.name} for fine-tuning: {why}; "
                         "or pass the training checkpoint (.pt)")
    try:
        with np.load(npz, allow_pickle=False) as z:
            arrays = {k: np.asarray(z[k]) for k in z.files}
        meta = json.loads(str(arrays.pop("meta")))
    except Exception as e:  # a corrupt or foreign file: zipfile, numpy and json raise many kinds
        name = resolve_model_path(model_path).name
        raise ModelError(f"{npz} cannot be read ({type(e).__name__}); re-export {name}") from None
    return arrays, meta


def recover_checkpoint(model_path: str | Path) -> dict[str, Any]:
    """A checkpoint dict (``model``, ``config``, ``styles``, ``feature_cfg``, ...) of the network
    exported as ``model_path``, rebuilt from its offline weights. Raises ModelError naming the
    file when they are missing, stale or unreadable."""
    import torch

    from model.config import defaults
    from model.network import build

    p = Path(model_path)
    w, meta = _offline_for(p)
    try:
        net = build(meta["net_config"])
        cfg = net.cfg
        pm, ps = w["pose_mean"].astype(np.float64), w["pose_std"].astype(np.float64)
        p_dim, d = cfg.pose_dim, cfg.d_model
        dh = d // cfg.heads
        sd: dict[str, np.ndarray] = {
            "inp.weight": w["w_in"].T, "inp.bias": w["b_in"],
            "ln_f.weight": w["lnf_g"], "ln_f.bias": w["lnf_b"],
            "style_table": w["style_table"], "w_static": w["w_static"],
        }
        for i in range(cfg.layers):
            qw, qb = w[f"qkv{i}"].T.astype(np.float64).copy(), w[f"qkv_b{i}"].astype(np.float64).copy()
            qw[:d] *= math.sqrt(dh)
            qb[:d] *= math.sqrt(dh)
            b = f"blocks.{i}."
            sd.update({
                b + "attn.qkv.weight": qw, b + "attn.qkv.bias": qb,
                b + "attn.out.weight": w[f"out{i}"].T, b + "attn.out.bias": w[f"out_b{i}"],
                b + "attn.rel_bias": w[f"rel_bias{i}"],
                b + "ln1.weight": w[f"ln1_g{i}"], b + "ln1.bias": w[f"ln1_b{i}"],
                b + "ln2.weight": w[f"ln2_g{i}"], b + "ln2.bias": w[f"ln2_b{i}"],
                b + "ffn.0.weight": w[f"ffn0_{i}"].T, b + "ffn.0.bias": w[f"ffn0_b{i}"],
                b + "ffn.2.weight": w[f"ffn2_{i}"].T, b + "ffn.2.bias": w[f"ffn2_b{i}"],
            })
        w0 = w["w_rec0"].astype(np.float64).copy()
        w0[:p_dim] *= ps[:, None]
        gates = [w["b_gates0"].astype(np.float64) + (pm / ps) @ w0[:p_dim]]
        sd["w_rec.0"] = w0
        for layer in range(1, cfg.lstm_layers):
            sd[f"w_rec.{layer}"] = w[f"w_rec{layer}"]
            gates.append(w[f"b_gates{layer}"].astype(np.float64))
        sd["b_gates"] = np.stack(gates)
        sd["head.weight"] = (w["w_head"].astype(np.float64) / ps[None, :]).T
        sd["head.bias"] = (w["b_head"].astype(np.float64) - pm) / ps
        sd["feat_mean"] = np.zeros(cfg.feature_dim)
        sd["feat_std"] = np.ones(cfg.feature_dim)
        sd["pose_mean"], sd["pose_std"] = pm, ps
        state = net.state_dict()
        missing = sorted(set(state) - set(sd))
        if missing:
            raise KeyError(f"no weights for {', '.join(missing[:4])}")
        for k, v in sd.items():
            t = torch.as_tensor(np.ascontiguousarray(v), dtype=torch.float32)
            if tuple(t.shape) != tuple(state[k].shape):
                raise ValueError(f"{k} has shape {tuple(t.shape)}, the network wants {tuple(state[k].shape)}")
            state[k] = t
        net.load_state_dict(state)
    except (KeyError, ValueError, TypeError) as e:
        raise ModelError(f"{p.name}'s offline weights do not fit its network ({e}); "
                         "re-export it with this version of dancemuse") from None
    feature_cfg = dict(defaults()["features"])
    spec = meta.get("feature_spec") or {}
    for k in list(feature_cfg):
        if k in spec and spec[k] is not None:
            feature_cfg[k] = spec[k]
    return {
        "model": net.state_dict(), "config": cfg.to_dict(), "styles": list(meta["styles"]),
        "controls": list(meta.get("controls", ["energy", "variation"])),
        "feature_spec": spec, "feature_cfg": feature_cfg,
        "train_config": meta.get("train_config"), "energy_calibration": meta.get("energy_calibration"),
        "recovered_from": str(p), "input_norm": False,
        # what the model was trained on and for how long, so that exporting the rebuilt
        # checkpoint again (a new calibration, say) keeps them in the model's metadata
        "data_summary": dict(meta.get("train_data") or {}),
        "step": int((meta.get("created") or {}).get("train_step", 0) or 0),
    }


def renormalise_input(net: Any, feat_mean: Any, feat_std: Any) -> None:
    """Give ``net`` the feature statistics ``feat_mean``/``feat_std`` [shape=(F,)] while keeping
    the function it computes: its input layer absorbs the change (std floored as
    ``set_normalization`` floors it)."""
    import torch

    with torch.no_grad():
        fm0, fs0 = net.feat_mean.double(), net.feat_std.double()
        fm1 = torch.as_tensor(np.asarray(feat_mean), dtype=torch.float64).reshape(fm0.shape)
        fs1 = torch.as_tensor(np.asarray(feat_std), dtype=torch.float64).reshape(fs0.shape).clamp_min(1e-3)
        wt, b = net.inp.weight.double(), net.inp.bias.double()
        raw_w = wt / fs0[None, :]  # the layer on raw features: raw_w x + raw_b
        raw_b = b - raw_w @ fm0
        net.inp.weight.copy_((raw_w * fs1[None, :]).to(net.inp.weight.dtype))
        net.inp.bias.copy_((raw_b + raw_w @ fm1).to(net.inp.bias.dtype))
        net.feat_mean.copy_(fm1.to(net.feat_mean.dtype))
        net.feat_std.copy_(fs1.to(net.feat_std.dtype))
