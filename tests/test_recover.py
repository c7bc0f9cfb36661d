"""Fine-tuning the shipped model: a training checkpoint rebuilt from an exported .onnx
(export/recover.py) and `dancemuse train --init models/default.onnx`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from export.offline import offline_arrays
from export.recover import recover_checkpoint, renormalise_input
from model.config import defaults
from model.errors import ModelError
from model.network import build
from model.train import load_checkpoint, train
from tests.test_train import _tiny_cfgs, make_dataset

REPO = Path(__file__).resolve().parent.parent
DEFAULT = REPO / "models" / "default.onnx"


def _copy_model(tmp: Path) -> Path:
    dst = tmp / "m.onnx"
    shutil.copy(DEFAULT, dst)
    shutil.copy(DEFAULT.with_name("default_offline.npz"), tmp / "m_offline.npz")
    return dst


def test_the_rebuilt_network_folds_back_to_the_shipped_weights() -> None:
    ck = recover_checkpoint(DEFAULT)
    net = build(ck["config"])
    net.load_state_dict(ck["model"])
    again = offline_arrays(net)
    with np.load(DEFAULT.with_name("default_offline.npz")) as z:
        for k in again:
            ref = z[k]
            assert again[k].shape == ref.shape, k
            assert np.abs(again[k] - ref).max() <= 1e-5 * max(1.0, float(np.abs(ref).max())), k
    assert ck["styles"][0] == "ballet" and ck["input_norm"] is False
    assert ck["feature_cfg"]["fps"] == 30 and ck["feature_cfg"]["n_mels"] == 64
    # the training data's summary and step come back too, so a re-export keeps them
    from export.onnx_export import build_metadata

    meta = build_metadata(net, ck, block=1, command="test")
    with np.load(DEFAULT.with_name("default_offline.npz")) as z:
        shipped = json.loads(str(z["meta"]))
    assert ck["data_summary"]["clips"] > 0 and meta["train_data"] == shipped["train_data"]
    assert meta["created"]["train_step"] == shipped["created"]["train_step"]


def test_renormalising_the_input_keeps_the_function() -> None:
    net = build(recover_checkpoint(DEFAULT)["config"])
    net.load_state_dict(recover_checkpoint(DEFAULT)["model"])
    net.eval()
    g = torch.Generator().manual_seed(0)
    feat = torch.randn(1, 40, net.cfg.feature_dim, generator=g) * 20.0 - 30.0
    with torch.no_grad():
        before = net.encode_seq(feat)
        fm = np.linspace(-40.0, 1.0, net.cfg.feature_dim)
        fs = np.linspace(0.5, 15.0, net.cfg.feature_dim)
        renormalise_input(net, fm, fs)
        after = net.encode_seq(feat)
    assert torch.allclose(net.feat_mean, torch.as_tensor(fm, dtype=torch.float32))
    assert float((before - after).abs().max()) < 1e-4
    assert float(before.abs().max()) > 0.1  # (not a trivially zero output)


def test_missing_stale_or_corrupt_offline_weights_are_one_clear_error(tmp_path: Path) -> None:
    m = _copy_model(tmp_path)
    npz = tmp_path / "m_offline.npz"
    npz.write_bytes(b"not a zip")
    with pytest.raises(ModelError, match="m_offline.npz was not exported with this m.onnx"):  # unreadable
        recover_checkpoint(m)
    npz.unlink()
    with pytest.raises(ModelError, match="m_offline.npz is not beside m.onnx"):
        load_checkpoint(m)  # what `train --init` calls
    shutil.copy(DEFAULT.with_name("default_offline.npz"), npz)
    m.write_bytes(m.read_bytes() + b"\0")
    with pytest.raises(ModelError, match="m_offline.npz was not exported with this m.onnx"):
        recover_checkpoint(m)
    with pytest.raises(ModelError, match="nope.onnx not found"):
        recover_checkpoint(tmp_path / "nope.onnx")


def test_train_fine_tunes_the_shipped_model(tmp_path: Path) -> None:
    new = make_dataset(tmp_path / "new", clips=2, seconds=6.0, styles=("house",), seed=3)
    _, tc, _ = _tiny_cfgs(tmp_path, 2)
    tc.val_windows = 1
    train(data=new, out=tmp_path / "ft", feature_cfg=defaults()["features"], train_cfg=tc, init=DEFAULT,
          progress=False)
    ft = load_checkpoint(tmp_path / "ft" / "final.pt")
    base = recover_checkpoint(DEFAULT)
    assert ft["styles"] == base["styles"] and ft["config"] == base["config"]
    assert ft["init"] == str(DEFAULT)
    # the data's feature statistics were taken, not the rebuilt network's 0 and 1
    assert float(ft["model"]["feat_std"].std()) > 0.0 and float(ft["model"]["feat_mean"].abs().max()) > 1.0
    assert torch.equal(ft["model"]["pose_mean"], base["model"]["pose_mean"])
    assert not torch.equal(ft["model"]["head.weight"], base["model"]["head.weight"])
