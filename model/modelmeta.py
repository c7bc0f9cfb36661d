"""The metadata document every exported DanceMuse model carries (numpy-free, torch-free).

The export writes one JSON document into the ONNX file's ``metadata_props`` under the key
:data:`META_KEY`; the live runtime reads it back, checks it with :func:`parse_meta` and
:func:`validate_features` and
configures itself from it (fps, feature spec, styles, controls, state tensors). Export and
runtime share this module so the two sides cannot disagree about the format.

The document (``FORMAT_VERSION`` 1)::

    {
      "format": "dancemuse-step",          # what kind of model this is
      "format_version": 1,
      "fps": 30, "sample_rate": 24000, "hop": 800,
      "feature_spec": {...},                # FeatureSpec.to_json(): blocks, normalisation
      "feature_dim": 84,
      "skeleton": {"joints": [17 names], "parents": [...], "bones": [[a, b], ...]},
      "pose_dim": 54,                       # 51 root-relative joint coords + 3 root values
      "root": "...",                        # how the 3 root values are to be read
      "window": 64, "lookahead": 0, "block": 1,
      "styles": ["house", ...], "controls": ["energy", "variation"],
      "inputs": {"features": "features", "prev_pose": "prev_pose", "style": "style",
                 "controls": "controls", "noise": "noise" | null},
      "state": [{"name": "h", "output": "h_out", "shape": [...],
                 "init": "zeros" | "normal", "std": 0.3}, ...],   # seeded start values
      "init_pose": [P floats],              # prev_pose of a fresh stream (optional)
      "control_defaults": {"energy": 1.0, "variation": 0.5},   # optional
      "noise_dim": 0,                       # >0: a noise input the runtime fills each call
      "net_config": {...}, "train_data": {...},
      "created": {"command": "...", "git": "...", "time": "..."}
    }

Every check raises :class:`model.errors.ModelError` with one line that names the model and
what differs, e.g. ``model models/x.onnx was trained at 60 fps but features.fps is 30;
pass --set features.fps=60 or use a 30 fps model``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from model.errors import ModelError

FORMAT = "dancemuse-step"
FORMAT_VERSION = 1
META_KEY = "dancemuse"
"""Key of the JSON document in the ONNX model's ``metadata_props``."""

REQUIRED_KEYS = (
    "format",
    "format_version",
    "fps",
    "sample_rate",
    "feature_spec",
    "feature_dim",
    "skeleton",
    "pose_dim",
    "window",
    "lookahead",
    "block",
    "styles",
    "controls",
    "inputs",
    "state",
)

# Feature-config keys that change the features a model was trained on (compared when the
# model's spec records them). ``features.fps`` is checked on its own with a clearer message.
_FEATURE_PARAMS = ("n_mels", "n_fft", "fmin", "fmax", "tuning", "beats_per_bar", "min_bpm", "max_bpm")


def build_meta(
    *,
    fps: int,
    sample_rate: int,
    feature_spec: Mapping[str, Any],
    feature_dim: int,
    skeleton: Mapping[str, Any],
    pose_dim: int,
    root: str,
    window: int,
    lookahead: int,
    block: int,
    styles: Sequence[str],
    controls: Sequence[str],
    inputs: Mapping[str, str | None],
    state: Sequence[Mapping[str, Any]],
    noise_dim: int = 0,
    hop: int | None = None,
    net_config: Mapping[str, Any] | None = None,
    train_data: Mapping[str, Any] | None = None,
    created: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Assemble the metadata document (a plain JSON-able dict) and check it."""
    meta: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "fps": int(fps),
        "sample_rate": int(sample_rate),
        "hop": int(hop if hop is not None else sample_rate // fps),
        "feature_spec": dict(feature_spec),
        "feature_dim": int(feature_dim),
        "skeleton": dict(skeleton),
        "pose_dim": int(pose_dim),
        "root": root,
        "window": int(window),
        "lookahead": int(lookahead),
        "block": int(block),
        "styles": list(styles),
        "controls": list(controls),
        "inputs": dict(inputs),
        "state": [dict(s) for s in state],
        "noise_dim": int(noise_dim),
        "net_config": dict(net_config or {}),
        "train_data": dict(train_data or {}),
        "created": dict(created or {}),
    }
    check_meta(meta, name="(new model)")
    return meta


def dumps(meta: Mapping[str, Any]) -> str:
    """Serialise the document for ``metadata_props`` (stable key order)."""
    return json.dumps(meta, sort_keys=True, separators=(",", ":"))


def parse_meta(props: Mapping[str, str] | None, *, name: str) -> dict[str, Any]:
    """Read the document from a model's metadata map (``{key: str}``) and check its shape.

    ``name`` is the model path, used in messages. Raises ModelError when the metadata is
    missing, not JSON, of another format or version, or lacks a key.
    """
    text = (props or {}).get(META_KEY)
    if text is None:
        raise ModelError(
            f"model {name} has no DanceMuse metadata; re-export it with `dancemuse export CHECKPOINT -o {name}`"
        )
    try:
        meta = json.loads(text)
    except json.JSONDecodeError:
        raise ModelError(f"model {name} has corrupt metadata (not JSON); re-export it with `dancemuse export`") from None
    if not isinstance(meta, dict):
        raise ModelError(f"model {name} has corrupt metadata (not a JSON object); re-export it with `dancemuse export`")
    check_meta(meta, name=name)
    return meta


def check_meta(meta: Mapping[str, Any], *, name: str) -> None:
    """Check format, version and the presence and basic types of every key."""
    if meta.get("format") != FORMAT:
        raise ModelError(f"model {name} is not a DanceMuse step model (format {meta.get('format')!r}, expected {FORMAT!r})")
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        hint = "upgrade DanceMuse" if isinstance(version, int) and version > FORMAT_VERSION else "re-export it"
        raise ModelError(
            f"model {name} has metadata format version {version} but this DanceMuse reads version "
            f"{FORMAT_VERSION}; {hint}"
        )
    missing = [k for k in REQUIRED_KEYS if k not in meta]
    if missing:
        raise ModelError(f"model {name} metadata lacks {', '.join(missing)}; re-export it with `dancemuse export`")
    for key in ("fps", "sample_rate", "feature_dim", "pose_dim", "window", "lookahead", "block"):
        if not isinstance(meta[key], int) or isinstance(meta[key], bool) or meta[key] < 0:
            raise ModelError(f"model {name} metadata key {key!r} must be a non-negative integer, got {meta[key]!r}")
    if meta["block"] < 1 or meta["fps"] < 1 or meta["sample_rate"] < 1:
        raise ModelError(f"model {name} metadata has a zero fps, sample_rate or block; re-export it")
    for key in ("styles", "controls"):
        if not isinstance(meta[key], list) or not all(isinstance(s, str) for s in meta[key]):
            raise ModelError(f"model {name} metadata key {key!r} must be a list of names")
    if not meta["styles"]:
        raise ModelError(f"model {name} metadata lists no styles; re-export it")
    if not isinstance(meta["state"], list) or not all(
        isinstance(s, Mapping) and {"name", "output", "shape"} <= set(s) for s in meta["state"]
    ):
        raise ModelError(f"model {name} metadata 'state' must list {{name, output, shape}} entries")
    if not isinstance(meta["feature_spec"], Mapping):
        raise ModelError(f"model {name} metadata 'feature_spec' must be an object")


def spec_blocks(spec: Mapping[str, Any]) -> list[tuple[str, int]]:
    """The ``(name, dim)`` blocks of a feature-spec JSON document, in order.

    Accepts the layouts ``{"blocks": [{"name", "dim"}, ...]}``,
    ``{"blocks": [[name, dim], ...]}`` and ``{"names": [...], "dims": [...]}``.
    """
    blocks = spec.get("blocks")
    if blocks is not None:
        out = []
        for b in blocks:
            if isinstance(b, Mapping):
                out.append((str(b["name"]), int(b["dim"])))
            else:
                out.append((str(b[0]), int(b[1])))
        return out
    if "names" in spec and "dims" in spec:
        return [(str(n), int(d)) for n, d in zip(spec["names"], spec["dims"])]
    return []


def _fmt_blocks(blocks: Sequence[tuple[str, int]]) -> str:
    return " ".join(f"{n}:{d}" for n, d in blocks)


def validate_features(
    meta: Mapping[str, Any],
    *,
    name: str,
    feature_config: Mapping[str, Any] | None = None,
    expected_spec: Mapping[str, Any] | None = None,
) -> None:
    """Refuse a model whose features differ from the configuration.

    feature_config: ``cfg["features"]`` (fps and feature parameters).
    expected_spec: the feature spec the configuration produces
        (``FeatureSpec.from_config(cfg["features"]).to_json()``); compared block by block.
    Raises ModelError naming the first thing that differs and how to fix it.
    """
    fps = meta["fps"]
    if feature_config is not None and "fps" in feature_config and int(feature_config["fps"]) != fps:
        cfg_fps = int(feature_config["fps"])
        raise ModelError(
            f"model {name} was trained at {fps} fps but features.fps is {cfg_fps}; "
            f"pass --set features.fps={fps} or use a {cfg_fps} fps model"
        )
    spec = meta["feature_spec"]
    if feature_config is not None:
        for key in _FEATURE_PARAMS:
            if key in spec and key in feature_config and not _same(spec[key], feature_config[key]):
                raise ModelError(
                    f"model {name} was trained with features.{key} = {spec[key]} but the configuration has "
                    f"{feature_config[key]}; pass --set features.{key}={spec[key]} or use a matching model"
                )
    if expected_spec is None:
        return
    for key in ("sample_rate", "fps", "hop"):
        if key in expected_spec and key in meta and not _same(meta[key], expected_spec[key]):
            raise ModelError(
                f"model {name} expects features.{key} {meta[key]} but this DanceMuse computes {expected_spec[key]}; "
                "use a model exported for this version"
            )
    if "version" in spec and "version" in expected_spec and spec["version"] != expected_spec["version"]:
        raise ModelError(
            f"model {name} was trained on feature version {spec['version']} but this DanceMuse computes "
            f"version {expected_spec['version']}; retrain or re-export the model with this version"
        )
    got, want = spec_blocks(spec), spec_blocks(expected_spec)
    if want and got != want:
        raise ModelError(
            f"model {name} was trained on features [{_fmt_blocks(got)}] but the configuration makes "
            f"[{_fmt_blocks(want)}]; use a model trained with these features or change [features] to match"
        )
    want_dim = sum(d for _, d in want) if want else None
    if want_dim is not None and meta["feature_dim"] != want_dim:
        raise ModelError(
            f"model {name} takes {meta['feature_dim']} feature dims but the configuration makes {want_dim}; "
            "use a matching model"
        )


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return abs(float(a) - float(b)) <= 1e-9 * max(1.0, abs(float(a)))
    return bool(a == b)


def describe(meta: Mapping[str, Any]) -> str:
    """One line describing the model for logs and status pages."""
    line = (
        f"{meta['fps']} fps, {meta['feature_dim']} features, window {meta['window']}+{meta['lookahead']}, "
        f"styles {','.join(meta['styles'])}, controls {','.join(meta['controls']) or '-'}"
    )
    scale = meta.get("energy_scale")
    if isinstance(scale, Mapping) and scale:  # `dancemuse calibrate`
        line += ", energy calibrated (" + ",".join(f"{s} x{float(k):.2f}" for s, k in scale.items()) + ")"
    ceiling = meta.get("energy_ceiling")
    if isinstance(ceiling, Mapping) and ceiling:  # `dancemuse calibrate --ceiling`: the fed energy's top per style
        try:
            line += ", energy ceiling (" + ",".join(f"{s} {float(k):.2g}" for s, k in ceiling.items()) + ")"
        except (TypeError, ValueError):
            line += ", energy ceiling (unreadable)"
    smooth = meta.get("smoothing_scale")
    if isinstance(smooth, Mapping) and any(float(k) != 1.0 for k in smooth.values()):
        line += ", smoothing per style (" + ",".join(f"{s} x{float(k):.2f}" for s, k in smooth.items()
                                                    if float(k) != 1.0) + ")"
    groove = meta.get("groove_profile")
    if isinstance(groove, Mapping) and groove:  # the beat dip of each style's groove (a1 = -dip)
        try:
            line += ", groove per style (dip " + ",".join(f"{s} {-float(k[0]):.2f}" for s, k in groove.items()) + ")"
        except (TypeError, ValueError, IndexError, KeyError):
            line += ", groove per style (unreadable)"
    tempo = meta.get("style_tempo")
    if isinstance(tempo, Mapping) and tempo:  # each style's own tempo (feel auto)
        try:
            line += ", tempo per style (" + ",".join(f"{s} {float(k):.0f}" for s, k in tempo.items()) + " bpm)"
        except (TypeError, ValueError):
            line += ", tempo per style (unreadable)"
    if isinstance(meta.get("motion_spread"), Mapping) and meta["motion_spread"]:  # the novelty guard's floor
        line += ", spread per style"
    foot = meta.get("footwork")
    if isinstance(foot, Mapping) and foot:  # `dancemuse calibrate --footwork`: the data's feet-apart speed
        try:
            line += ", footwork (" + ",".join(f"{s} {float(k):.2f}" for s, k in foot.items()) + " m/s)"
        except (TypeError, ValueError):
            line += ", footwork (unreadable)"
    steps = meta.get("step_spread")
    if isinstance(steps, Mapping) and steps:  # `dancemuse calibrate --steps`: the footwork steps' spread
        try:
            line += ", steps at (" + ",".join(f"{s} {100 * float(k):.0f}" for s, k in steps.items()) + " cm)"
        except (TypeError, ValueError):
            line += ", steps at (unreadable)"
    gain = meta.get("style_gain")
    if isinstance(gain, Mapping) and gain:  # a factor on the style strength for some styles
        try:
            line += ", style strength " + ",".join(f"x{float(k):g} for {s}" for s, k in gain.items())
        except (TypeError, ValueError):
            line += ", style strength per style (unreadable)"
    return line
