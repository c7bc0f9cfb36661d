"""Parity of an exported step model with the torch step, over an autoregressive run.

Both sides start from the same state (``net.init_state(1, seed=...)``) and the same
previous pose and then feed *their own* outputs back for ``frames`` steps, so errors
that compound through the recurrence show up. Features are real: the built-in demo song
run through the streaming feature extractor.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

FLOOR_FACTOR = 10.0
"""How far beyond torch's own fp32-vs-fp64 drift an autoregressive run may go."""


@dataclass
class ParityResult:
    """Pose differences (metres) and median step times.

    max_abs / mean_abs: each side feeding its own outputs back (autoregressive).
    step_max_abs: the largest one-step difference when onnxruntime is given torch's own
    inputs and state every frame (the export error alone, nothing compounded).
    floor: torch fp32 vs torch fp64 over the same autoregressive run (None if not
    measured): how much the model's own dynamics amplify float32 rounding.
    """

    frames: int
    max_abs: float
    mean_abs: float
    torch_ms: float
    ort_ms: float
    step_max_abs: float = 0.0
    floor: float | None = None

    def ok(self, tol: float) -> bool:
        """Per-step parity within ``tol``, and the autoregressive run within ``tol`` or
        within the order of magnitude that float32 rounding alone gives the torch model
        (``FLOOR_FACTOR`` x ``floor``: where a model amplifies rounding, which run drifts
        how far is itself a matter of rounding)."""
        if self.step_max_abs > tol:
            return False
        return self.max_abs <= tol or (self.floor is not None and self.max_abs <= FLOOR_FACTOR * self.floor)

    def line(self, label: str = "fp32") -> str:
        text = (
            f"{label}: parity over {self.frames} autoregressive frames: max abs pose diff {self.max_abs:.2e} "
            f"(mean {self.mean_abs:.2e}), per-step {self.step_max_abs:.2e}"
        )
        if self.floor is not None:
            text += f", torch fp32-vs-fp64 floor {self.floor:.2e}"
        return text + f"; step {self.ort_ms:.3f} ms onnxruntime vs {self.torch_ms:.3f} ms torch"


def demo_features(*, seconds: float, fps: int = 30, feature_config: Mapping[str, Any] | None = None,
                  seed: int = 0) -> np.ndarray:
    """Real feature frames [shape=(t, F)] of the built-in demo song via StreamingFeatures."""
    from model.config import defaults
    from model.features import StreamingFeatures
    from model.synth_music import demo_song

    fc = dict(feature_config if feature_config is not None else defaults()["features"])
    fc["fps"] = fps
    song = demo_song(seconds=seconds, seed=seed)
    sf = StreamingFeatures(fc, input_sr=song.sample_rate)
    return np.asarray(sf.push(song.audio), dtype=np.float32)


def open_session(path: str | Path, *, threads: int = 1) -> Any:
    """A CPU onnxruntime session with the runtime's low-latency options."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    so.log_severity_level = 3
    return ort.InferenceSession(str(path), sess_options=so, providers=["CPUExecutionProvider"])


def check_parity(
    net: Any,
    onnx_path: str | Path,
    features: np.ndarray,
    *,
    block: int = 1,
    seed: int = 0,
    style: np.ndarray | None = None,
    controls: tuple[float, float] = (1.0, 0.5),
    threads: int = 1,
    floor: bool = False,
) -> ParityResult:
    """Run torch and onnxruntime side by side over ``features`` [shape=(t, F)].

    ``t`` is cut to a multiple of ``block``. Returns the pose differences and timings;
    with ``floor`` also the torch fp32-vs-fp64 difference over the same run.
    """
    import torch

    sess = open_session(onnx_path, threads=threads)
    n_styles = net.cfg.n_styles
    sw = np.full((1, n_styles), 1.0 / n_styles, np.float32) if style is None else np.asarray(style, np.float32).reshape(1, -1)
    ctl = np.asarray(controls, np.float32).reshape(1, -1)
    t_total = (features.shape[0] // block) * block
    names = net.state_names()
    state_t = net.init_state(1, seed=seed, block=block)
    state_o = {n: s.numpy().copy() for n, s in zip(names, state_t)}
    rng = np.random.default_rng(seed)
    nd = 2 * int(net.cfg.noise_dim)
    prev_t = net.pose_mean.detach().reshape(1, -1).clone()
    prev_o = prev_t.numpy().copy()
    sw_t, ctl_t = torch.from_numpy(sw), torch.from_numpy(ctl)
    outs = ["pose", *(f"{n}_out" for n in names)]
    diffs = np.zeros(t_total // block, np.float64)
    sums = 0.0
    step_max = 0.0
    t_ms: list[float] = []
    o_ms: list[float] = []
    with torch.no_grad():
        for i in range(0, t_total, block):
            f = features[None, i : i + block].astype(np.float32)
            noise = rng.standard_normal((1, block, nd), dtype=np.float32)
            state_before = state_t
            t0 = time.perf_counter()
            pose_t, state_t = net.step(torch.from_numpy(f), prev_t, state_t, sw_t, ctl_t, torch.from_numpy(noise))
            t1 = time.perf_counter()
            feed = {"features": f, "prev_pose": prev_o, "style": sw, "controls": ctl, "noise": noise, **state_o}
            res = sess.run(outs, feed)
            t2 = time.perf_counter()
            t_ms.append((t1 - t0) * 1e3)
            o_ms.append((t2 - t1) * 1e3)
            # the same step with torch's own inputs: the export error alone
            same = {"features": f, "prev_pose": prev_t.numpy(), "style": sw, "controls": ctl, "noise": noise,
                    **{n: x.numpy() for n, x in zip(names, state_before)}}
            step_max = max(step_max, float(np.abs(sess.run(["pose"], same)[0] - pose_t.numpy()).max()))
            prev_t = pose_t[:, -1]
            prev_o = res[0][:, -1]
            state_o = dict(zip(names, res[1:]))
            d = np.abs(pose_t.numpy() - res[0])
            diffs[i // block] = d.max()
            sums += float(d.mean())
    steps = max(len(diffs), 1)
    return ParityResult(
        frames=t_total,
        max_abs=float(diffs.max()) if len(diffs) else 0.0,
        mean_abs=sums / steps,
        torch_ms=float(np.median(t_ms)) if t_ms else 0.0,
        ort_ms=float(np.median(o_ms)) if o_ms else 0.0,
        step_max_abs=step_max,
        floor=float_floor(net, features[:t_total], block=block, seed=seed, style=sw, controls=ctl) if floor else None,
    )


def float_floor(net: Any, features: np.ndarray, *, block: int, seed: int, style: np.ndarray,
                controls: np.ndarray) -> float:
    """Max abs pose difference of the torch model run in fp32 vs fp64 (autoregressive)."""
    import copy

    import torch

    net64 = copy.deepcopy(net).double()
    st32 = net.init_state(1, seed=seed, block=block)
    st64 = tuple(x.double() for x in st32)
    rng = np.random.default_rng(seed)
    nd = 2 * int(net.cfg.noise_dim)
    p32 = net.pose_mean.detach().reshape(1, -1).clone()
    p64 = p32.double()
    sw32, c32 = torch.from_numpy(style), torch.from_numpy(controls)
    sw64, c64 = sw32.double(), c32.double()
    worst = 0.0
    with torch.no_grad():
        for i in range(0, len(features) - len(features) % block, block):
            f = torch.from_numpy(np.ascontiguousarray(features[None, i : i + block], dtype=np.float32))
            nz = torch.from_numpy(rng.standard_normal((1, block, nd), dtype=np.float32))
            a, st32 = net.step(f, p32, st32, sw32, c32, nz)
            b, st64 = net64.step(f.double(), p64, st64, sw64, c64, nz.double())
            p32, p64 = a[:, -1], b[:, -1]
            worst = max(worst, float((a.double() - b).abs().max()))
    return worst


def time_session(path: str | Path, *, steps: int = 300, threads: int = 1, seed: int = 0) -> float:
    """Median ms of one autoregressive step of an exported model (its state fed back)."""
    sess = open_session(path, threads=threads)
    rng = np.random.default_rng(seed)
    feed: dict[str, np.ndarray] = {}
    for i in sess.get_inputs():
        shape = [d if isinstance(d, int) else 1 for d in i.shape]
        zero = i.name in ("valid", "pos", "phase") or i.name[:1] in ("k", "v") and i.name[1:].isdigit()
        feed[i.name] = rng.standard_normal(shape).astype(np.float32) * (0.0 if zero else 1.0)
    names = [o.name for o in sess.get_outputs()]
    state_pairs = [(n[: -len("_out")], k) for k, n in enumerate(names) if n.endswith("_out")]
    ms = []
    for _ in range(steps):
        t0 = time.perf_counter()
        res = sess.run(names, feed)
        ms.append((time.perf_counter() - t0) * 1e3)
        for inp, k in state_pairs:
            feed[inp] = res[k]
        feed["prev_pose"] = res[0][:, -1]
    return float(np.median(ms))
