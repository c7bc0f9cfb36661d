"""The generator runtime: an exported DanceMuse step model run with onnxruntime (no torch).

``Generator(path, *, provider="auto", threads=1, feature_config=cfg["features"])`` loads a
model, reads and validates its metadata (:mod:`model.modelmeta`), opens a low-latency
session and warms it up. ``step(features[F], style=[S], controls=[C])`` runs one frame
and returns the absolute pose ``[17, 3]`` (metres, y up): the model's root-relative joints
placed on the root trajectory that the runtime integrates from the model's root values.

The recurrent state (LSTM h/c, attention key/value caches) lives in the runtime between
calls: each call feeds back the state tensors the previous call returned. Input buffers
are allocated once; a step allocates nothing in Python beyond what onnxruntime returns
(pass ``out=`` to reuse the pose array too).

Providers: ``"auto"`` asks for CUDA when onnxruntime-gpu is installed and lists it, then
CPU; ``.provider`` reports what the session actually uses (``session.get_providers()[0]``),
which is CPU when the CUDA libraries or the GPU are missing.

Model inputs and outputs are named in the metadata (``inputs``, ``state``); the pose output
is called ``pose`` with shape ``[1, block, pose_dim]``. The last 3 pose values are the root
values, read as the metadata's ``root`` says:

- ``"dx_dz_y"``: per-frame root displacement along x and z (metres), then absolute root
  height y (DanceNet's layout);
- ``"dx_y_dz"``: the same values in x, y, z order;
- ``"absolute"``: absolute root position x, y, z;
- ``"none"``: no root motion (root at ``(0, standing height, 0)``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from live.control import parse_style
from live.phrase import REFRESH_FRAMES, REFRESH_KEEP, draw_memory, soften
from model import modelmeta
from model.errors import ConfigError, ModelError
from model.skeleton import NUM_JOINTS, STANDING_ROOT_HEIGHT

if TYPE_CHECKING:
    from live.npstep import NumpyStep
    from live.offline import NumpyGenerator

log = logging.getLogger("dancemuse.runtime")

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODEL = REPO_ROOT / "models" / "default.onnx"
ROOT_MODES = ("dx_dz_y", "dx_y_dz", "absolute", "none")


def advance_root(root: np.ndarray, r: np.ndarray, mode: str) -> None:
    """Integrate one frame's root values ``r`` into the root trajectory ``root`` [3] (in
    place, no allocation): steps in x and z, height as given ("dx_dz_y": r = dx, dz, y;
    "dx_y_dz": r = dx, y, dz), or the absolute position; "none" leaves it."""
    if mode == "dx_dz_y":
        root[0] += r[0]
        root[1] = r[2]
        root[2] += r[1]
    elif mode == "dx_y_dz":
        root[0] += r[0]
        root[1] = r[1]
        root[2] += r[2]
    elif mode == "absolute":
        root[:] = r


CONTROL_DEFAULTS = {"energy": 1.0, "variation": 0.5}


def resolve_model_path(path: str | Path | None) -> Path:
    """A model path as given, else relative to the repository; None or '' = the default."""
    if path is None or str(path) == "":
        return DEFAULT_MODEL
    p = Path(path).expanduser()
    if p.is_absolute() or p.exists():
        return p
    alt = REPO_ROOT / p
    return alt if alt.exists() else p


def at_model_rate(feature_config: Mapping[str, Any] | None, model_fps: int) -> Mapping[str, Any] | None:
    """``feature_config`` at the model's frame rate when the configured rate is a whole
    multiple of it (the engine then runs features and model at the model's rate and
    interpolates the poses in between: ``live.engine.output_fps``); else unchanged."""
    if feature_config is None or "fps" not in feature_config:
        return feature_config
    fps = int(feature_config["fps"])
    if model_fps > 0 and fps > model_fps and fps % model_fps == 0:
        return dict(feature_config, fps=model_fps)
    return feature_config


def _expected_spec(feature_config: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The feature spec the configuration makes, as JSON (None when the feature module is absent)."""
    if feature_config is None:
        return None
    try:
        from model.features import FeatureSpec
    except ImportError:  # pragma: no cover - the feature module ships with DanceMuse
        return None
    return dict(FeatureSpec.from_config(dict(feature_config)).to_dict())


class Generator:
    """An exported step model, ready to dance.

    Attributes: ``meta`` (the metadata document), ``provider`` (the provider in use),
    ``style_names``, ``control_names``, ``fps``, ``feature_spec`` (FeatureSpec or its JSON),
    ``feature_dim``, ``window``, ``lookahead``, ``block``, ``path``, ``last_step_ms``.
    """

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        provider: str = "auto",
        threads: int = 1,
        feature_config: Mapping[str, Any] | None = None,
        expected_spec: Mapping[str, Any] | None = None,
        warmup: bool = True,
        seed: int = 0,
    ) -> None:
        self.path = resolve_model_path(path)
        name = str(path) if path else str(self.path)
        if not self.path.is_file():
            raise ModelError(f"model {name} not found; pass an existing .onnx file or run `make default-model`")
        try:
            import onnxruntime as ort
        except ImportError:  # pragma: no cover
            raise ModelError("onnxruntime is not installed; pip install 'dancemuse[cpu]' (or [gpu])") from None

        so = ort.SessionOptions()
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.intra_op_num_threads = int(threads)
        so.inter_op_num_threads = 1
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        so.add_session_config_entry("session.inter_op.allow_spinning", "0")
        so.log_severity_level = 3
        try:
            self._session = ort.InferenceSession(str(self.path), sess_options=so, providers=self._providers(ort, provider))
        except Exception as e:  # onnxruntime raises its own untyped errors for bad files
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise ModelError(f"model {name} cannot be loaded ({first[:160]}); re-export it or pick another file") from None
        self.provider: str = self._session.get_providers()[0]
        if provider == "cuda" and self.provider != "CUDAExecutionProvider":
            log.warning("CUDA was asked for but the model runs on %s (no GPU or CUDA libraries)", self.provider)

        props = self._session.get_modelmeta().custom_metadata_map
        self.meta: dict[str, Any] = modelmeta.parse_meta(props, name=name)
        feature_config = at_model_rate(feature_config, int(self.meta["fps"]))
        if expected_spec is None:
            expected_spec = _expected_spec(feature_config)
        modelmeta.validate_features(self.meta, name=name, feature_config=feature_config, expected_spec=expected_spec)
        self._bind(name)
        self.last_step_ms = 0.0
        self.reset(seed=seed)
        if warmup:  # the first run pays for memory planning; not the first live frame
            self.step_block(np.zeros((self.block, self.feature_dim), dtype=np.float32))
            self.reset(seed=seed)

    # -- set-up ------------------------------------------------------------------------
    @staticmethod
    def _providers(ort: Any, provider: str) -> list[str]:
        if provider not in ("auto", "cuda", "cpu"):
            raise ConfigError(f"model.provider {provider!r} must be auto, cuda or cpu")
        avail = ort.get_available_providers()
        if provider in ("auto", "cuda") and "CUDAExecutionProvider" in avail:
            return ["CUDAExecutionProvider", "CPUExecutionProvider"]
        if provider == "cuda":
            log.warning("CUDA was asked for but onnxruntime lists no CUDAExecutionProvider; using CPU")
        return ["CPUExecutionProvider"]

    def _bind(self, name: str) -> None:
        m = self.meta
        self.fps: int = m["fps"]
        self.sample_rate: int = m["sample_rate"]
        self.style_names: list[str] = list(m["styles"])
        self.control_names: list[str] = list(m["controls"])
        self.feature_dim: int = m["feature_dim"]
        self.pose_dim: int = m["pose_dim"]
        self.window: int = m["window"]
        self.lookahead: int = m["lookahead"]
        self.block: int = m["block"]
        self.noise_dim: int = int(m.get("noise_dim", 0))
        self.root_mode: str = str(m.get("root", "dx_y_dz"))
        if self.root_mode not in ROOT_MODES:
            raise ModelError(f"model {name} has root mode {self.root_mode!r}; this DanceMuse reads {', '.join(ROOT_MODES)}")
        if self.pose_dim != NUM_JOINTS * 3 + 3:
            raise ModelError(f"model {name} has pose_dim {self.pose_dim}, expected {NUM_JOINTS * 3 + 3} (17 joints + root)")
        self.feature_spec: Any = m["feature_spec"]
        try:
            from model.features import FeatureSpec

            self.feature_spec = FeatureSpec.from_dict(m["feature_spec"])
        except Exception:  # the JSON stays available when the feature module cannot read it
            pass

        names = m["inputs"]
        sess_inputs = {i.name for i in self._session.get_inputs()}
        sess_outputs = {o.name for o in self._session.get_outputs()}
        needed = [names.get(k) for k in ("features", "prev_pose", "style", "controls")]
        needed += [s["name"] for s in m["state"]] + ([names["noise"]] if names.get("noise") else [])
        missing = [n for n in needed if n and n not in sess_inputs]
        if missing or "pose" not in sess_outputs:
            what = ", ".join(missing) if missing else "output 'pose'"
            raise ModelError(f"model {name} metadata names inputs the graph lacks ({what}); re-export it")
        self._in = {k: names.get(k) for k in ("features", "prev_pose", "style", "controls", "noise")}
        self._state_in = [s["name"] for s in m["state"]]
        self._soft = 0
        self._keep = REFRESH_KEEP
        self._fresh: list[tuple[str, str, np.ndarray]] = []
        self._fresh_of: dict[str, np.ndarray] = {}
        self._state_out = [s["output"] for s in m["state"]]
        self._outputs = ["pose", *self._state_out]
        self._state_shapes = [tuple(int(d) for d in s["shape"]) for s in m["state"]]

        # Preallocated input buffers.
        self._feat = np.zeros((1, self.block, self.feature_dim), dtype=np.float32)
        self._prev = np.zeros((1, self.pose_dim), dtype=np.float32)
        self._style = np.zeros((1, len(self.style_names)), dtype=np.float32)
        self._controls = np.zeros((1, len(self.control_names)), dtype=np.float32)
        self._noise = np.zeros((1, self.block, self.noise_dim), dtype=np.float32) if self.noise_dim else None
        self._init_pose = np.asarray(m.get("init_pose", np.zeros(self.pose_dim)), dtype=np.float32).reshape(-1)
        if self._init_pose.shape[0] != self.pose_dim:
            raise ModelError(f"model {name} init_pose has {self._init_pose.shape[0]} values, expected {self.pose_dim}")
        self._root = np.zeros(3, dtype=np.float32)
        self._feed: dict[str, np.ndarray] = {}
        self.default_style = parse_style(None, self.style_names)
        defaults = m.get("control_defaults", {})
        self.default_controls = np.array(
            [float(defaults.get(c, CONTROL_DEFAULTS.get(c, 0.0))) for c in self.control_names], dtype=np.float32
        )

    # -- state ---------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None) -> None:
        """Fresh recurrent state, the initial pose, the root back at the origin."""
        if seed is not None or not hasattr(self, "_rng"):
            self._rng = np.random.default_rng(seed)
        self._feed = {}
        for entry, name, shape in zip(self.meta["state"], self._state_in, self._state_shapes):
            if entry.get("init") == "normal":  # seeded start (DanceNet: LSTM h and noise z)
                arr = self._rng.standard_normal(shape, dtype=np.float32)
                arr *= float(entry.get("std", 1.0))
            else:
                arr = np.zeros(shape, dtype=np.float32)
            self._feed[name] = arr
        self._prev[0] = self._init_pose
        self._root[:] = (0.0, STANDING_ROOT_HEIGHT, 0.0)
        self._soft = 0
        self._keep = REFRESH_KEEP
        self._feed[self._in["features"]] = self._feat
        self._feed[self._in["prev_pose"]] = self._prev
        self._feed[self._in["style"]] = self._style
        self._feed[self._in["controls"]] = self._controls
        if self._noise is not None and self._in["noise"]:
            self._feed[self._in["noise"]] = self._noise
        self.frames = 0
        self._bind_io()

    def refresh(self, keep: float = REFRESH_KEEP) -> None:
        """A new phrase: a new LSTM memory (``h*`` drawn as at a reset) pulled to over the
        next REFRESH_FRAMES steps (``c*`` to zero; live/phrase.py), in the state buffers the
        steps read; the pose, root, latent and attention carry on (the numpy runtimes draw and
        step the same numbers). A block-N model takes a block's steps before the block."""
        if not self._fresh:  # the (h, c, new h) buffers, made on the first refresh
            self._fresh = [(name, "c" + name[1:], np.zeros(self._feed[name].shape, np.float32))
                           for name in self._state_in
                           if name[:1] == "h" and name[1:].isdigit() and "c" + name[1:] in self._state_in]
            self._fresh_of = {name: t for name, _, t in self._fresh}
        draw_memory(self.meta["state"], self._rng, self._fresh_of)
        self._soft = REFRESH_FRAMES
        self._keep = float(keep)

    def _soften(self) -> None:
        """The refresh's steps for the frames of this call (a block or chunk takes its frames'
        steps at once, before it)."""
        for _ in range(min(self._soft, max(1, int(self._feat.shape[1])))):
            self._soft -= 1
            for h, c, t in self._fresh:
                soften(self._feed[h], t, self._feed[c], self._keep)

    def _bind_io(self) -> None:
        """Two IO bindings over preallocated buffers: state A in -> state B out, and back.
        Steps alternate between them, so a step copies no state in or out of Python (the
        inputs are bound by address: the preallocated feature/pose/style/control buffers).
        Left off (plain ``run``) when a shape is not fixed or the binding fails."""
        self._ios: tuple[Any, Any] | None = None
        try:
            outs = {o.name: o.shape for o in self._session.get_outputs()}
            pose_shape = (1, self.block, self.pose_dim)
            if tuple(outs.get("pose", ())) != pose_shape:
                return
            a = {n: self._feed[n] for n in self._state_in}
            b = {n: np.empty_like(v) for n, v in a.items()}
            for n, so in zip(self._state_in, self._state_out):
                if tuple(outs.get(so, ())) != a[n].shape:
                    return
            self._pose_buf = np.zeros(pose_shape, np.float32)
            fixed = {k: v for k, v in self._feed.items() if k not in a}

            def make(src: dict[str, np.ndarray], dst: dict[str, np.ndarray]) -> Any:
                io = self._session.io_binding()
                for k, v in fixed.items():
                    io.bind_input(k, "cpu", 0, v.dtype, list(v.shape), v.ctypes.data)
                for n, so in zip(self._state_in, self._state_out):
                    io.bind_input(n, "cpu", 0, src[n].dtype, list(src[n].shape), src[n].ctypes.data)
                    io.bind_output(so, "cpu", 0, dst[n].dtype, list(dst[n].shape), dst[n].ctypes.data)
                io.bind_output("pose", "cpu", 0, np.float32, list(pose_shape), self._pose_buf.ctypes.data)
                return io

            self._sets = (a, b)
            self._ios = (make(a, b), make(b, a))
            self._flip = 0
            # the C-level run of onnxruntime's Python wrapper, without its per-call WebGPU
            # capture bookkeeping (a few microseconds a frame); the wrapper when absent
            raw = getattr(getattr(self._session, "_sess", None), "run_with_iobinding", None)
            handles = [getattr(io, "_iobinding", None) for io in self._ios]
            if raw is not None and all(h is not None for h in handles):
                self._run_bound: Any = lambda i: raw(handles[i], None)
            else:
                self._run_bound = lambda i: self._session.run_with_iobinding(self._ios[i])  # type: ignore[index]
        except Exception as e:  # noqa: BLE001 - an unusual graph: plain run() still works
            log.debug("IO binding off (%s); using run()", e)
            self._ios = None

    @property
    def lookahead_ms(self) -> float:
        """Extra latency of the model's look-ahead (L frames), milliseconds."""
        return self.lookahead * 1000.0 / self.fps

    @property
    def root(self) -> np.ndarray:
        """The integrated root position [shape=(3,)] (a copy)."""
        return self._root.copy()

    # -- stepping ------------------------------------------------------------------------
    def _set_inputs(self, style: Any, controls: Any) -> None:
        self._style[0] = self.default_style if style is None else style
        self._controls[0] = self.default_controls if controls is None else controls
        if self._noise is not None:
            self._rng.standard_normal(out=self._noise, dtype=np.float32)

    def _run(self) -> np.ndarray:
        t0 = time.perf_counter()
        if self._soft:  # a phrase refresh under way (live/phrase.py)
            self._soften()
        if self._ios is not None and self._feed[self._in["features"]] is self._feat:
            self._run_bound(self._flip)
            self._flip ^= 1
            now = self._sets[self._flip]  # the set just written holds the new state
            for name in self._state_in:
                self._feed[name] = now[name]
            pose = self._pose_buf
        else:
            outs = self._session.run(self._outputs, self._feed)
            for name, value in zip(self._state_in, outs[1:]):
                self._feed[name] = value
            pose = outs[0]
            if self._ios is not None:  # back onto the bound buffers
                for name, value in zip(self._state_in, outs[1:]):
                    self._sets[self._flip][name][...] = value
                    self._feed[name] = self._sets[self._flip][name]
        self.last_step_ms = (time.perf_counter() - t0) * 1e3
        self._prev[0] = pose[0, -1]
        return pose[0]  # [block, P]

    def _place(self, vec: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Root-relative joints + root values -> absolute pose in ``out`` [17, 3]."""
        advance_root(self._root, vec[NUM_JOINTS * 3 :], self.root_mode)
        np.add(vec[: NUM_JOINTS * 3].reshape(NUM_JOINTS, 3), self._root, out=out)
        self.frames += 1
        return out

    def step(
        self,
        features: np.ndarray,
        *,
        style: np.ndarray | Sequence[float] | None = None,
        controls: np.ndarray | Sequence[float] | None = None,
        out: np.ndarray | None = None,
    ) -> np.ndarray:
        """One frame.

        features: [shape=(F,)] the newest feature frame (raw: the model normalises).
        style: [shape=(S,)] style weights (default an equal mix); controls: [shape=(C,)]
        in ``control_names`` order (default energy 1, variation 0.5).
        Returns the absolute pose [shape=(17, 3)] float32 (written into ``out`` if given).
        """
        if self.block != 1:
            raise ModelError(f"model {self.path} steps {self.block} frames per call; use step_block")
        self._feat[0, 0] = features
        self._set_inputs(style, controls)
        vec = self._run()[0]
        if out is None:
            out = np.empty((NUM_JOINTS, 3), dtype=np.float32)
        return self._place(vec, out)

    def step_block(
        self,
        features: np.ndarray,
        *,
        style: np.ndarray | Sequence[float] | None = None,
        controls: np.ndarray | Sequence[float] | None = None,
    ) -> np.ndarray:
        """``block`` frames in one call: features [shape=(block, F)] -> poses [shape=(block, 17, 3)]."""
        self._feat[0] = features
        self._set_inputs(style, controls)
        vecs = self._run()
        out = np.empty((vecs.shape[0], NUM_JOINTS, 3), dtype=np.float32)
        for i in range(vecs.shape[0]):
            self._place(vecs[i], out[i])
        return out

    @property
    def free_block(self) -> bool:
        """True when the graph's time axis is symbolic: any number of frames per call."""
        shape = next(i.shape for i in self._session.get_inputs() if i.name == self._in["features"])
        return len(shape) == 3 and not isinstance(shape[1], int)

    def step_frames(
        self,
        features: np.ndarray,
        *,
        style: np.ndarray | Sequence[float] | None = None,
        controls: np.ndarray | Sequence[float] | None = None,
        chunk: int = 64,
    ) -> np.ndarray:
        """n frames at once (offline): features [shape=(n, F)] -> absolute poses
        [shape=(n, 17, 3)], the poses n calls of :meth:`step` make.

        A model with a free time axis runs ``chunk`` frames per call, a ``--block N``
        model N per call (a last partial block is padded with its final frame and the
        padding's output dropped: the stream ends there), a block-1 model one per call.
        """
        feats = np.asarray(features, np.float32)
        n = len(feats)
        out = np.empty((n, NUM_JOINTS, 3), dtype=np.float32)
        if self.block == 1 and not self.free_block:
            for i in range(n):
                self.step(feats[i], style=style, controls=controls, out=out[i])
            return out
        size = max(1, int(chunk)) if self.free_block else self.block
        fixed_feat, fixed_noise = self._feat, self._noise
        try:
            for i in range(0, n, size):
                part = feats[i: i + size]
                m = len(part)
                if self.free_block:
                    self._feat = np.ascontiguousarray(part[None])
                    if fixed_noise is not None:
                        self._noise = np.empty((1, m, self.noise_dim), np.float32)
                else:
                    self._feat[0, :m] = part
                    self._feat[0, m:] = part[-1]
                self._feed[self._in["features"]] = self._feat
                if self._noise is not None and self._in["noise"]:
                    self._feed[self._in["noise"]] = self._noise
                self._set_inputs(style, controls)
                vecs = self._run()
                for j in range(m):
                    self._place(vecs[j], out[i + j])
        finally:
            self._feat, self._noise = fixed_feat, fixed_noise
            self._feed[self._in["features"]] = self._feat
            if self._noise is not None and self._in["noise"]:
                self._feed[self._in["noise"]] = self._noise
        return out

    def describe(self) -> str:
        """One line for logs: path, provider and what the model takes."""
        return f"{self.path.name} on {self.provider}: {modelmeta.describe(self.meta)}"


SAME_MODEL_KEYS = ("styles", "controls", "fps", "feature_spec", "window", "lookahead", "pose_dim", "net_config",
                   "train_config", "train_data", "init_pose", "control_defaults", "energy_scale", "energy_max",
                   "energy_ceiling", "smoothing_scale", "groove_profile", "style_tempo", "motion_spread",
                   "style_gain", "footwork")
"""Metadata that must agree for a block-N file to count as the same model as the block-1 one."""


def same_model(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether two step models' metadata describe the same trained weights (block aside)."""
    if any(a.get(k) != b.get(k) for k in SAME_MODEL_KEYS):
        return False
    return (a.get("created") or {}).get("train_step") == (b.get("created") or {}).get("train_step")


def offline_model_path(cfg: Mapping[str, Any], path: str | Path | None = None) -> Path | None:
    """The block-N export used by offline generation: ``model.offline_path`` if set (and no
    explicit ``path``), else a sibling ``<model>_b<N>.onnx`` of ``path`` or ``model.path``
    (largest N), else None."""
    mcfg = cfg["model"]
    given = str(mcfg.get("offline_path") or "")
    if given and path is None:
        return resolve_model_path(given)
    main = resolve_model_path(path if path is not None else mcfg.get("path") or None)
    found = []
    for p in main.parent.glob(f"{main.stem}_b*.onnx"):
        tail = p.stem[len(main.stem) + 2:]
        if tail.isdigit():
            found.append((int(tail), p))
    return max(found)[1] if found else None


def step_weights(main_path: str | Path | None) -> tuple[Path | None, str]:
    """``<model>_offline.npz`` beside the step model when it was written with that exact
    file (SHA-256 in its metadata; export/offline.py), else (None, why not)."""
    import hashlib

    from live.offline import read_meta

    main = resolve_model_path(main_path)
    npz = main.with_name(f"{main.stem}_offline.npz")
    if not main.is_file():
        return None, f"{main} not found"
    if not npz.is_file():
        return None, f"{npz.name} is not beside {main.name} (`dancemuse export` writes it)"
    meta = read_meta(npz) or {}
    if meta.get("step_model_sha256") != hashlib.sha256(main.read_bytes()).hexdigest():
        return None, f"{npz.name} was not exported with this {main.name} (re-export the model with `dancemuse export`)"
    return npz, ""


def _offline_weights(main_path: str | Path | None) -> Path | None:
    """``<model>_offline.npz`` for offline generation (see :func:`step_weights`), with a log
    line when a stale one is there."""
    npz, why = step_weights(main_path)
    if npz is None and "not exported with" in why:
        log.warning("%s; generating with the onnxruntime model", why)
    return npz


RUNTIMES = ("auto", "numpy", "onnx")


def load_generator(
    cfg: Mapping[str, Any], *, path: str | Path | None = None, warmup: bool = True, offline: bool = False
) -> Generator | NumpyGenerator | NumpyStep:
    """A Generator configured from ``cfg["model"]`` and checked against ``cfg["features"]``.

    Live (``offline`` False): the numpy step (:class:`live.npstep.NumpyStep`: the same
    poses as the ONNX step within 1e-4 m with 1.2-1.6x less CPU) when
    ``<model>_offline.npz`` was exported with that exact model file, ``model.runtime`` is
    ``auto`` (default) or ``numpy`` and ``model.provider`` is not ``cuda``; else the ONNX
    step, with one warning line saying why.

    offline: for offline generation, prefer the numpy weights exported beside the model
    (``<model>_offline.npz``, :class:`live.offline.NumpyGenerator`: the encoder batched, a
    lean decoder loop) when they were written with that exact model file; else the block-N
    export of the same model (:func:`offline_model_path`) that runs N frames per call, used
    only when its metadata shows the same trained model; else the block-1 model (with a
    log line saying why)."""
    mcfg = cfg["model"]
    main_path = path if path is not None else mcfg.get("path") or None

    def make(p: str | Path | None, warm: bool) -> Generator:
        return Generator(p, provider=mcfg.get("provider", "auto"), threads=int(mcfg.get("threads", 1)),
                         feature_config=cfg["features"], warmup=warm, seed=int(mcfg.get("seed", 0)))

    if not offline:
        runtime = str(mcfg.get("runtime", "auto"))
        if runtime not in RUNTIMES:
            raise ConfigError(f"model.runtime {runtime!r} must be one of {', '.join(RUNTIMES)}")
        if runtime != "onnx" and mcfg.get("provider", "auto") != "cuda" and resolve_model_path(main_path).is_file():
            npz, why = step_weights(main_path)
            if npz is not None:
                from live.npstep import NumpyStep

                try:
                    return NumpyStep(npz, model_path=resolve_model_path(main_path), feature_config=cfg["features"],
                                     seed=int(mcfg.get("seed", 0)), warmup=warmup)
                except ModelError as e:
                    why = str(e)
            log.warning("numpy step off: %s; stepping with onnxruntime (more CPU per frame)", why)
    if offline:
        npz = _offline_weights(main_path)
        if npz is not None:
            from live.offline import NumpyGenerator

            return NumpyGenerator(npz, feature_config=cfg["features"], seed=int(mcfg.get("seed", 0)))
        alt = offline_model_path(cfg, path)
        if alt is not None and alt.is_file():
            block_gen = make(alt, warmup)
            main_gen = make(main_path, False)
            if same_model(block_gen.meta, main_gen.meta):
                return block_gen
            log.warning("%s is not an export of %s (metadata differ); generating with the block-1 model",
                        alt.name, main_gen.path.name)
            return main_gen
    return make(main_path, warmup)
