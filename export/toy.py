"""A tiny hand-built step model (onnx.helper, no torch), for tests of the runtime.

Its maths is simple enough to check in numpy (:func:`toy_reference`)::

    pose[1, 1, P] = features @ W + 0.5 * prev_pose + style @ Ws + controls @ Wc + state @ Wst
    state_out     = state + 1                      (a frame counter, to see state fed back)

It carries a real metadata document, so the runtime's loading, validation, state
feedback and root integration are all exercised on a real ONNX file.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from model import modelmeta
from model.skeleton import BONES, JOINT_NAMES, PARENTS

POSE_DIM = 54
STATE_DIM = 4


def skeleton_json() -> dict[str, Any]:
    """The skeleton section of the metadata (COCO-17)."""
    return {"joints": list(JOINT_NAMES), "parents": list(PARENTS), "bones": [list(b) for b in BONES]}


def toy_weights(*, feature_dim: int, n_styles: int, n_controls: int, seed: int = 0) -> dict[str, np.ndarray]:
    """The toy model's weights (small, so poses stay bounded)."""
    rng = np.random.default_rng(seed)
    f32 = np.float32
    return {
        "W": (rng.standard_normal((feature_dim, POSE_DIM)) * 0.01).astype(f32),
        "Ws": (rng.standard_normal((n_styles, POSE_DIM)) * 0.1).astype(f32),
        "Wc": (rng.standard_normal((n_controls, POSE_DIM)) * 0.1).astype(f32),
        "Wst": (rng.standard_normal((STATE_DIM, POSE_DIM)) * 0.001).astype(f32),
    }


def toy_reference(
    w: Mapping[str, np.ndarray], features: np.ndarray, prev: np.ndarray, style: np.ndarray,
    controls: np.ndarray, state: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """numpy version of one toy step: ([P] pose vector, [STATE_DIM] new state)."""
    pose = features @ w["W"] + 0.5 * prev + style @ w["Ws"] + controls @ w["Wc"] + state @ w["Wst"]
    return pose.astype(np.float32), (state + 1).astype(np.float32)


def build_toy_model(
    path: str | Path,
    *,
    feature_spec: Mapping[str, Any],
    feature_dim: int,
    fps: int = 30,
    sample_rate: int = 24000,
    styles: tuple[str, ...] = ("house", "hiphop", "ballet", "popping"),
    controls: tuple[str, ...] = ("energy", "variation"),
    seed: int = 0,
    meta_overrides: Mapping[str, Any] | None = None,
    with_meta: bool = True,
) -> dict[str, np.ndarray]:
    """Write the toy model to ``path``; returns its weights. ``meta_overrides`` replaces
    metadata keys after building (to make mismatched models for tests)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = toy_weights(feature_dim=feature_dim, n_styles=len(styles), n_controls=len(controls), seed=seed)
    f = TensorProto.FLOAT
    inputs = [
        helper.make_tensor_value_info("features", f, [1, 1, feature_dim]),
        helper.make_tensor_value_info("prev_pose", f, [1, POSE_DIM]),
        helper.make_tensor_value_info("style", f, [1, len(styles)]),
        helper.make_tensor_value_info("controls", f, [1, len(controls)]),
        helper.make_tensor_value_info("state_0", f, [1, STATE_DIM]),
    ]
    outputs = [
        helper.make_tensor_value_info("pose", f, [1, 1, POSE_DIM]),
        helper.make_tensor_value_info("state_out_0", f, [1, STATE_DIM]),
    ]
    inits = [numpy_helper.from_array(v, k) for k, v in w.items()]
    inits += [
        numpy_helper.from_array(np.array([1, feature_dim], dtype=np.int64), "shape_f"),
        numpy_helper.from_array(np.array([1, 1, POSE_DIM], dtype=np.int64), "shape_p"),
        numpy_helper.from_array(np.array(0.5, dtype=np.float32), "half"),
        numpy_helper.from_array(np.array(1.0, dtype=np.float32), "one"),
    ]
    nodes = [
        helper.make_node("Reshape", ["features", "shape_f"], ["f2"]),
        helper.make_node("MatMul", ["f2", "W"], ["a"]),
        helper.make_node("Mul", ["prev_pose", "half"], ["b"]),
        helper.make_node("MatMul", ["style", "Ws"], ["c"]),
        helper.make_node("MatMul", ["controls", "Wc"], ["d"]),
        helper.make_node("MatMul", ["state_0", "Wst"], ["e"]),
        helper.make_node("Sum", ["a", "b", "c", "d", "e"], ["p2"]),
        helper.make_node("Reshape", ["p2", "shape_p"], ["pose"]),
        helper.make_node("Add", ["state_0", "one"], ["state_out_0"]),
    ]
    graph = helper.make_graph(nodes, "dancemuse_toy", inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    if with_meta:
        meta = modelmeta.build_meta(
            fps=fps,
            sample_rate=sample_rate,
            feature_spec=feature_spec,
            feature_dim=feature_dim,
            skeleton=skeleton_json(),
            pose_dim=POSE_DIM,
            root="dx_y_dz",
            window=1,
            lookahead=0,
            block=1,
            styles=styles,
            controls=controls,
            inputs={"features": "features", "prev_pose": "prev_pose", "style": "style", "controls": "controls", "noise": None},
            state=[{"name": "state_0", "output": "state_out_0", "shape": [1, STATE_DIM]}],
            train_data={"note": "toy model, untrained"},
        )
        meta.update(meta_overrides or {})
        helper.set_model_props(model, {modelmeta.META_KEY: modelmeta.dumps(meta)})
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return w
