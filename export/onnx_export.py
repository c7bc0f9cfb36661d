"""Export a trained DanceNet checkpoint to the streaming step model (one self-contained ONNX).

``export_checkpoint(ckpt_path, out_path, block=1)`` rebuilds the network from its
checkpoint, traces :class:`model.network.StepModule` with ``torch.onnx.export(dynamo=False)``
(one file, no external-data sidecar), writes the metadata document
(:mod:`model.modelmeta`) into ``metadata_props`` and runs ``onnx.checker``. Parity with
the torch step is checked by :mod:`export.parity`; int8 quantisation by
:mod:`export.quantize`.

Graph interface (fixed shapes, batch 1, ``n = block`` frames per call)::

    inputs   features [1, n, F], prev_pose [1, P], style [1, S], controls [1, C],
             noise [1, n, 2 * noise_dim] (standard normal, fresh every call),
             k0.., v0.., valid, pos, h0.., c0.., z, phase   (DanceNet.state_names())
    outputs  pose [1, n, P], k0_out, ..., phase_out

The attention caches are ring buffers of ``window + block`` slots addressed by ``pos``
(model/network.py). The runtime starts a stream with zero caches, pos and phase,
``h ~ N(0, init_std)`` and ``z ~ N(0, 1)`` (seeded), ``prev_pose`` = the training data's
mean pose, and fills ``noise`` from the same seeded generator every call; the metadata
says so (``state[*].init``, ``inputs.noise``, ``noise_dim``, ``init_pose``).

The traced graph is optimised by onnxruntime at export (``ORT_ENABLE_EXTENDED``: constant
folding, Gemm/LayerNorm/GELU fusions; portable across CPUs) and the optimised graph is
what is written, so a session spends no time on it at load.

``dancemuse export`` also writes ``<name>_offline.npz`` beside a block-1 export
(:func:`export.offline.write_offline`): the same weights for ``generate``'s batched numpy
path (live/offline.py).
"""

from __future__ import annotations

import io
import json
import shlex
import subprocess
import sys
import time
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from model import modelmeta
from model.errors import ModelError

INPUT_NAMES = ("features", "prev_pose", "style", "controls", "noise")
OPSET = 17


def git_revision() -> str:
    """``git rev-parse HEAD`` of the repository holding this file, or 'unknown'."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parent, capture_output=True,
            text=True, timeout=10, check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() or "unknown"


def skeleton_json() -> dict[str, Any]:
    """The skeleton section of the metadata: COCO-17 names, parents, bones."""
    from model.skeleton import BONES, CANONICAL_BONE_LENGTHS, JOINT_NAMES, PARENTS

    return {
        "name": "coco17",
        "joints": list(JOINT_NAMES),
        "parents": list(PARENTS),
        "bones": [list(b) for b in BONES],
        "bone_lengths": [round(float(x), 5) for x in CANONICAL_BONE_LENGTHS],
        "units": "metres",
        "up": "y",
    }


def _spec_json(spec: Any) -> dict[str, Any]:
    """A checkpoint's feature spec (FeatureSpec, JSON string or dict) as a dict."""
    if spec is None:
        return {}
    if hasattr(spec, "to_json"):
        spec = spec.to_json()
    if isinstance(spec, str):
        spec = json.loads(spec)
    return dict(spec)


def load_checkpoint(path: str | Path) -> tuple[Any, dict[str, Any]]:
    """(DanceNet in eval mode, checkpoint dict); ModelError when the file is unusable."""
    from model.network import load_checkpoint_model

    p = Path(path)
    if not p.is_file():
        raise ModelError(f"checkpoint {path} not found; pass a file written by `dancemuse train`")
    try:
        net, ckpt = load_checkpoint_model(str(p))
    except Exception as e:  # torch.load raises pickle, zip, key and runtime errors for bad files
        first = str(e).strip().splitlines()[0][:160] if str(e).strip() else type(e).__name__
        raise ModelError(f"checkpoint {path} cannot be read as a DanceNet checkpoint ({first})") from None
    return net, ckpt


def build_metadata(net: Any, ckpt: Mapping[str, Any], *, block: int, command: str | None = None) -> dict[str, Any]:
    """The metadata document of an exported checkpoint."""
    from model.network import CONTROL_NAMES

    cfg = net.cfg
    spec = _spec_json(ckpt.get("feature_spec"))
    if not spec:
        raise ModelError("checkpoint has no feature_spec; it was not written by `dancemuse train`")
    if spec.get("mean") is None or spec.get("std") is None:  # the normalisation the network applies inside
        spec["mean"] = [round(float(x), 6) for x in net.feat_mean.detach().cpu().numpy()]
        spec["std"] = [round(float(x), 6) for x in net.feat_std.detach().cpu().numpy()]
    fps = int(spec.get("fps", 30))
    sample_rate = int(spec.get("sample_rate", 24000))
    shapes = net.state_shapes(1, block=block)
    state = []
    for name in net.state_names():
        entry: dict[str, Any] = {"name": name, "output": f"{name}_out", "shape": list(shapes[name]), "init": "zeros"}
        if name.startswith("h"):
            entry.update(init="normal", std=float(cfg.init_std))
        elif name == "z":
            entry.update(init="normal", std=1.0)
        state.append(entry)
    styles = list(ckpt.get("styles") or [f"style{i}" for i in range(cfg.n_styles)])
    if len(styles) != cfg.n_styles:
        raise ModelError(f"checkpoint lists {len(styles)} style names for {cfg.n_styles} style vectors; retrain or fix it")
    meta = modelmeta.build_meta(
        fps=fps,
        sample_rate=sample_rate,
        hop=int(spec.get("hop", sample_rate // fps)),
        feature_spec=spec,
        feature_dim=int(cfg.feature_dim),
        skeleton=skeleton_json(),
        pose_dim=int(cfg.pose_dim),
        root="dx_dz_y",
        window=int(cfg.window),
        lookahead=int(cfg.lookahead),
        block=int(block),
        styles=styles,
        controls=list(CONTROL_NAMES),
        inputs={"features": "features", "prev_pose": "prev_pose", "style": "style", "controls": "controls",
                "noise": "noise"},
        state=state,
        noise_dim=2 * int(cfg.noise_dim),  # standard normal, [1, block, noise_dim], every call
        net_config=cfg.to_dict(),
        train_data=dict(ckpt.get("data_summary") or {}),
        created={
            "command": command if command is not None else shlex.join(["dancemuse", *sys.argv[1:]]),
            "git": git_revision(),
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "train_step": int(ckpt.get("step", 0) or 0),
        },
    )
    meta["init_pose"] = [round(float(x), 6) for x in net.pose_mean.detach().cpu().numpy()]
    meta["control_defaults"] = {"energy": 1.0, "variation": 0.5}
    meta["train_config"] = _jsonable(ckpt.get("train_config") or {})
    tok = ckpt.get("move_tokens")
    if isinstance(tok, dict) and tok.get("vectors") is not None:  # [train] move_tokens (model/move_tokens.py)
        meta["move_tokens"] = {"vectors": [[round(float(x), 6) for x in row] for row in tok["vectors"]],
                               "freq": {s: [round(float(x), 6) for x in row] for s, row in zip(tok["styles"], tok["freq"])
                                        if s in styles}}
    cal = ckpt.get("energy_calibration")
    if isinstance(cal, dict) and isinstance(cal.get("scale"), dict):  # `dancemuse calibrate` (model/energy_calib.py)
        meta["energy_scale"] = {s: float(cal["scale"].get(s, 1.0)) for s in styles}
        meta["energy_max"] = float(cal.get("energy_max", 2.5))
        if isinstance(cal.get("smoothing"), dict) and cal["smoothing"]:  # calibrated since session 28
            meta["smoothing_scale"] = {s: float(cal["smoothing"].get(s, 1.0)) for s in styles}
        if isinstance(cal.get("groove_profile"), dict) and cal["groove_profile"]:  # calibrated since session 30
            meta["groove_profile"] = {s: [float(x) for x in cal["groove_profile"][s]]
                                      for s in styles if s in cal["groove_profile"]}
        if isinstance(cal.get("style_tempo"), dict) and cal["style_tempo"]:  # calibrated since session 32
            meta["style_tempo"] = {s: float(cal["style_tempo"][s]) for s in styles if s in cal["style_tempo"]}
        if isinstance(cal.get("motion_spread"), dict) and cal["motion_spread"]:  # calibrated since session 37
            meta["motion_spread"] = {s: float(cal["motion_spread"][s]) for s in styles if s in cal["motion_spread"]}
        if isinstance(cal.get("style_gain"), dict) and cal["style_gain"]:  # calibrated since session 38
            meta["style_gain"] = {s: float(cal["style_gain"][s]) for s in styles if s in cal["style_gain"]}
        meta["energy_calibration"] = _jsonable(cal)
    return meta


def _jsonable(obj: Any) -> Any:
    """Drop what JSON cannot hold (tensors, paths become strings)."""
    return json.loads(json.dumps(obj, default=str))


def example_inputs(net: Any, *, block: int, seed: int = 0) -> tuple[Any, ...]:
    """Tracing inputs: features, prev_pose, style, controls, then the state tensors."""
    import torch

    cfg = net.cfg
    feat = net.feat_mean.detach().reshape(1, 1, -1).repeat(1, block, 1).clone()
    prev = net.pose_mean.detach().reshape(1, -1).clone()
    style = torch.full((1, cfg.n_styles), 1.0 / cfg.n_styles)
    controls = torch.tensor([[1.0, 0.5]])
    noise = net.make_noise(1, block, generator=torch.Generator().manual_seed(seed))
    return (feat, prev, style, controls, noise, *net.init_state(1, seed=seed, block=block))


def export_net(net: Any, out_path: str | Path, *, meta: Mapping[str, Any], block: int = 1) -> Path:
    """Trace ``net``'s step to ``out_path`` (one self-contained file) with ``meta``; checks it."""
    import onnx
    import torch

    from model.network import StepModule

    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    step = StepModule(net).eval()
    args = example_inputs(net, block=block)
    buf = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            step,
            args,
            buf,  # type: ignore[arg-type]  # a file object works with dynamo=False
            dynamo=False,
            input_names=[*INPUT_NAMES, *net.state_names()],
            output_names=["pose", *(f"{n}_out" for n in net.state_names())],
            opset_version=OPSET,
            do_constant_folding=True,
        )
    model = onnx.load_from_string(buf.getvalue())
    onnx.checker.check_model(model)
    model = optimize(model)
    onnx.helper.set_model_props(model, {modelmeta.META_KEY: modelmeta.dumps(meta)})
    model.doc_string = "DanceMuse streaming step model; metadata_props['dancemuse'] holds the metadata JSON"
    write_model(model, out)
    return out


def optimize(model: Any) -> Any:
    """The graph after onnxruntime's portable optimisations (ORT_ENABLE_EXTENDED), as an
    onnx ModelProto; the input model when onnxruntime is missing."""
    import os
    import tempfile

    import onnx

    try:
        import onnxruntime as ort
    except ImportError:  # pragma: no cover - onnxruntime is a dependency of [cpu]
        return model
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = os.path.join(tmp, "in.onnx"), os.path.join(tmp, "opt.onnx")
        onnx.save(model, src)
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
        so.optimized_model_filepath = dst
        so.log_severity_level = 3
        ort.InferenceSession(src, sess_options=so, providers=["CPUExecutionProvider"])
        return onnx.load(dst)


def write_model(model: Any, out: Path) -> None:
    """Write the model to a temporary file beside ``out``, then rename (atomic)."""
    import os

    import onnx

    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        onnx.save(model, str(tmp))
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()


def export_checkpoint(
    ckpt_path: str | Path, out_path: str | Path, *, block: int = 1, command: str | None = None
) -> tuple[Path, Any, dict[str, Any]]:
    """Checkpoint -> ONNX step model. Returns (path, net, metadata)."""
    if block < 1:
        raise ModelError(f"--block {block} must be at least 1")
    net, ckpt = load_checkpoint(ckpt_path)
    from export.atomic import check_finite_weights

    check_finite_weights(net, ckpt_path)  # a diverged (NaN) checkpoint is refused, not exported
    meta = build_metadata(net, ckpt, block=block, command=command)
    path = export_net(net, out_path, meta=meta, block=block)
    return path, net, meta
