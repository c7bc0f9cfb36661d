"""Step benchmarks of the generator, printed side by side (nothing asserted).

    python bench/step.py [--model models/default.onnx] [--frames 300] [--seconds 60]
    python bench/step.py --against /tmp/base --skip stages,context,candidates,step,cache,generate
    dancemuse bench step

0a. (with ``--against DIR``) the live engine of this checkout and of another one (a git
   worktree of an earlier commit), each in its own process, taking turns: the per-stage
   CPU side by side with the ratio, the comparison that holds on a shared machine.

1. Per-frame step of the model in onnxruntime (the live runtime) vs torch eager. The
   shipped model carries its NetConfig; torch runs that architecture (random weights,
   same cost) unless ``--checkpoint`` gives the trained one. Target: ORT >= 5x torch.
2. Our cached step (attention keys/values kept in the state) vs recomputing the encoder
   over the whole window every frame, both exported to ONNX, for k = 32, 64, 128, 256.
   The cached cost should stay flat in k. Target: cached >= 5x recompute at k = 128.
3. Offline generation (``live.generate``, the live Engine in fast mode) of the demo song
   as a multiple of real time: as `dancemuse generate` runs it (the numpy weights exported
   beside the model, the encoder batched; target >= 100x) and, beside it, with the block-1
   ONNX step, with the per-frame cost of its parts.

One intra-op thread everywhere (the live default). Timings are medians.
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # before bench/ (whose live.py would shadow the package)

import numpy as np  # noqa: E402


def _median_ms(fn: Any, n: int, warm: int = 20) -> float:
    for _ in range(warm):
        fn()
    ts = np.empty(n)
    for i in range(n):
        t0 = time.perf_counter()
        fn()
        ts[i] = time.perf_counter() - t0
    return float(np.median(ts) * 1e3)


def _net_from_meta(meta: dict[str, Any], window: int | None = None) -> Any:
    import torch

    from model.network import NetConfig, build

    d = dict(meta["net_config"])
    if window is not None:
        d["window"] = window
    torch.manual_seed(0)
    net = build(NetConfig.from_dict(d)).eval()
    return net


def bench_step_candidates(model: Path, *, frames: int, feats: np.ndarray) -> list[dict[str, Any]]:
    """The live model step, each candidate on the same feature frames, interleaved in
    blocks of 50 frames (so machine load hits all alike): thread CPU per frame (median, p99)
    and the largest pose difference from the float ONNX step over ``frames`` frames."""
    import onnxruntime as ort

    from live.npstep import NumpyStep
    from live.runtime import Generator, step_weights

    cands: list[tuple[str, Any]] = []
    plain = Generator(model)
    plain._ios = None  # run() with the state through Python (the runtime before IO binding)
    cands.append(("onnx run()", plain))
    cands.append(("onnx bound (live before)", Generator(model)))
    with tempfile.TemporaryDirectory() as td:
        try:
            from export.quantize import quantize_int8

            q = quantize_int8(model, Path(td) / "int8.onnx")
            cands.append(("onnx int8 dynamic", Generator(q)))
        except Exception as e:  # noqa: BLE001 - the quantiser needs the train extra (onnx)
            print(f"   (int8: not measured: {type(e).__name__}: {str(e)[:80]})")
        # session settings: optimised graph saved and reloaded, no memory-pattern/arena
        try:
            opt = Path(td) / "opt.onnx"
            so = ort.SessionOptions()
            so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            so.optimized_model_filepath = str(opt)
            ort.InferenceSession(str(model), sess_options=so, providers=["CPUExecutionProvider"])
            g = Generator(opt)
            cands.append(("onnx saved-optimised", g))
        except Exception as e:  # noqa: BLE001
            print(f"   (saved-optimised graph: not measured: {type(e).__name__})")
        npz, why = step_weights(model)
        if npz is not None:
            cands.append(("numpy step (live now)", NumpyStep(npz, model_path=model)))
        else:
            print(f"   (numpy step: not measured: {why})")
        n = min(frames, len(feats))
        poses = {name: np.empty((n, 17, 3), np.float32) for name, _ in cands}
        cpu = {name: np.empty(n) for name, _ in cands}
        for _, g in cands:
            g.reset(seed=0)
        for b0 in range(0, n, 50):
            for name, g in cands:
                for i in range(b0, min(n, b0 + 50)):
                    c0 = time.thread_time()
                    g.step(feats[i], out=poses[name][i])
                    cpu[name][i] = time.thread_time() - c0
    ref = poses[cands[0][0]]

    def rel(p: np.ndarray) -> np.ndarray:  # joints about the mid-hip (the root trajectory aside)
        return p - p[:, 11:13].mean(axis=1, keepdims=True)

    return [{"name": name, "p50": float(np.median(cpu[name][20:]) * 1e3),
             "p99": float(np.percentile(cpu[name][20:], 99) * 1e3),
             "diff": float(np.abs(poses[name] - ref).max()),
             "rel": float(np.abs(rel(poses[name]) - rel(ref)).max()),
             "rel_mean": float(np.abs(rel(poses[name]) - rel(ref)).mean()), "n": n} for name, _ in cands]


def bench_ort_vs_torch(model: Path, *, checkpoint: str | None, frames: int, feats: np.ndarray) -> dict[str, float]:
    import torch

    from live.runtime import Generator

    torch.set_num_threads(1)
    gen = Generator(model)
    k = [0]

    def ort_step() -> None:
        gen.step(feats[k[0] % len(feats)])
        k[0] += 1

    ort_ms = _median_ms(ort_step, frames)
    if checkpoint:
        from export.onnx_export import load_checkpoint

        net, _ = load_checkpoint(checkpoint)
    else:
        net = _net_from_meta(gen.meta)
    state = [net.init_state(1, seed=0)]
    prev = [net.pose_mean.reshape(1, -1).clone()]
    style = torch.full((1, net.cfg.n_styles), 1.0 / net.cfg.n_styles)
    ctl = torch.tensor([[1.0, 0.5]])
    ft = torch.from_numpy(feats)

    def torch_step() -> None:
        with torch.no_grad():
            noise = net.make_noise(1, 1)
            pose, state[0] = net.step(ft[k[0] % len(ft)].reshape(1, 1, -1), prev[0], state[0], style, ctl, noise)
        prev[0] = pose[:, -1]
        k[0] += 1

    torch_ms = _median_ms(torch_step, frames)
    return {"ort_ms": ort_ms, "torch_ms": torch_ms}


class _Recompute:
    """Step that re-encodes the whole window (k+1 frames) from scratch every frame."""

    @staticmethod
    def module(net: Any) -> Any:
        import torch
        from torch import nn

        class Recompute(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.net = net

            def forward(self, window: torch.Tensor, prev: torch.Tensor, style: torch.Tensor, controls: torch.Tensor,
                        h: torch.Tensor, c: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, ...]:
                n = self.net
                cfg = n.cfg
                kv = torch.zeros(cfg.layers, 1, cfg.heads, cfg.window, cfg.d_model // cfg.heads)
                valid = torch.zeros(1, cfg.window)
                enc, _, _, _ = n.encode(window, kv, kv, valid)
                noise, z = n._noise_seq(z, 1)
                cond = torch.cat([n.style_embedding(style), controls], dim=-1)
                dec = torch.cat([enc[:, -1:], cond.unsqueeze(1), noise * controls[:, 1:2].unsqueeze(1)], dim=-1)
                y, (h, c) = n.lstm(torch.cat([dec, n.norm_pose(prev).unsqueeze(1)], dim=-1), (h, c))
                return n.denorm_pose(n.head(y)), h, c, z

        return Recompute().eval()


def bench_cached_vs_recompute(meta: dict[str, Any], *, frames: int, windows: tuple[int, ...]) -> list[dict[str, float]]:
    import torch

    from export.onnx_export import build_metadata, export_net
    from export.parity import open_session

    rows = []
    with tempfile.TemporaryDirectory() as td:
        for k in windows:
            net = _net_from_meta(meta, window=k)
            ck = {"styles": meta["styles"], "feature_spec": meta["feature_spec"]}
            cached = export_net(net, Path(td) / f"c{k}.onnx", meta=build_metadata(net, ck, block=1, command="bench"))
            s = net.init_state(1, seed=0)
            rec_path = Path(td) / f"r{k}.onnx"
            f = net.cfg.feature_dim
            args = (torch.zeros(1, k + 1, f), torch.zeros(1, 54), torch.full((1, net.cfg.n_styles), 0.25),
                    torch.tensor([[1.0, 0.5]]), s[3], s[4], s[5])
            with torch.no_grad(), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.onnx.export(_Recompute.module(net), args, str(rec_path), dynamo=False, opset_version=17,
                                  input_names=["window", "prev", "style", "controls", "h", "c", "z"],
                                  output_names=["pose", "h_out", "c_out", "z_out"])
            rng = np.random.default_rng(0)
            sc = open_session(cached)
            feed_c = {i.name: rng.standard_normal([d if isinstance(d, int) else 1 for d in i.shape]).astype(np.float32)
                      for i in sc.get_inputs()}
            feed_c["valid"][:] = 1.0
            sr = open_session(rec_path)
            feed_r = {i.name: rng.standard_normal(i.shape).astype(np.float32) for i in sr.get_inputs()}
            c_ms = _median_ms(lambda sc=sc, feed_c=feed_c: sc.run(None, feed_c), frames)
            r_ms = _median_ms(lambda sr=sr, feed_r=feed_r: sr.run(None, feed_r), frames)
            rows.append({"k": k, "cached_ms": c_ms, "recompute_ms": r_ms})
    return rows


def bench_generate(model: Path, *, seconds: float) -> dict[str, Any]:
    """The demo song generated as `dancemuse generate` does (``load_generator(offline=True)``:
    the numpy weights exported beside the model when they match it) and, beside it, with the
    block-1 ONNX step (the path before the offline runtimes), with that path's per-frame parts."""
    from live.generate import generate_dance, load_song
    from live.post import PostProcessor
    from live.runtime import Generator, load_generator
    from model.config import load_config
    from model.features import StreamingFeatures

    cfg = load_config()
    cfg["model"]["path"] = str(model)
    audio, sr, _ = load_song("demo", demo_seconds=seconds)
    default = load_generator(cfg, offline=True)
    generate_dance("demo", cfg=cfg, generator=default, audio=(audio[: sr * 2], sr))  # warm-up (imports, JIT)
    best = min((generate_dance("demo", cfg=cfg, generator=default, audio=(audio, sr)) for _ in range(3)),
               key=lambda d: d.elapsed)
    looked = copy.deepcopy(cfg)
    looked["live"]["pick_look"] = 0.5  # the pick's looks between redraws (live/pick.py; off by default)
    look = min((generate_dance("demo", cfg=looked, generator=default, audio=(audio, sr)) for _ in range(3)),
               key=lambda d: d.elapsed)
    gen = Generator(model, feature_config=cfg["features"])
    generate_dance("demo", cfg=cfg, generator=gen, audio=(audio[: sr * 2], sr))
    d = generate_dance("demo", cfg=cfg, generator=gen, audio=(audio, sr))
    n = len(d.poses)
    t0 = time.perf_counter()
    sf = StreamingFeatures(cfg["features"], input_sr=sr)
    feats = np.concatenate([sf.push(audio[i : i + 4096]) for i in range(0, len(audio), 4096)])
    feat_ms = (time.perf_counter() - t0) * 1e3 / max(len(feats), 1)
    gen.reset(seed=0)
    t0 = time.perf_counter()
    poses = [gen.step(f) for f in feats]
    step_ms = (time.perf_counter() - t0) * 1e3 / max(len(feats), 1)
    post = PostProcessor(fps=gen.fps, smoothing=0.5, mirror=False, root="center", project_bones=True)
    t0 = time.perf_counter()
    for p in poses:
        post.process(p)
    post_ms = (time.perf_counter() - t0) * 1e3 / max(len(poses), 1)
    return {"seconds": d.seconds, "frames": n, "elapsed": d.elapsed, "speed": d.speed,
            "feat_ms": feat_ms, "step_ms": step_ms, "post_ms": post_ms, "frame_ms": d.elapsed * 1e3 / n,
            "default_kind": type(default).__name__, "default_elapsed": best.elapsed, "default_speed": best.speed,
            "look_speed": look.speed}


def _legacy() -> Any:
    """bench/_legacy.py (the old per-frame paths), loaded by file path."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("dancemuse_bench_legacy", ROOT / "bench" / "_legacy.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class _Timed:
    """Wraps a callable; records wall and thread-CPU seconds per call."""

    def __init__(self, fn: Any) -> None:
        self.fn = fn
        self.wall: list[float] = []
        self.cpu: list[float] = []

    def __call__(self, *a: Any, **kw: Any) -> Any:
        w0, c0 = time.perf_counter(), time.thread_time()
        r = self.fn(*a, **kw)
        self.cpu.append(time.thread_time() - c0)
        self.wall.append(time.perf_counter() - w0)
        return r


def bench_stages(model: Path, *, seconds: float, sr: int = 48000, fps: int = 30
                 ) -> dict[str, dict[str, np.ndarray]]:
    """The live engine per stage, old path vs new, one hop per block at ``sr`` (a device rate).

    old: per-frame numpy post, per-frame features with librosa filters, onnxruntime run()
    without IO binding, and at 60 fps a 60-fps toy model (no 60 fps default model existed);
    new: what ``dancemuse live`` runs now (``load_generator``: the numpy step; at 60 fps the
    30 fps model with interpolated frames; the novelty guard and its mirror flips on, as by default).
    novelty: new with ``live.novelty`` 0 (the guard off, live/novelty.py).
    pick: new with ``live.pick`` 1 (the latent pick off, live/pick.py; its roll-outs run on a
    worker thread, whose CPU the main thread's figures leave out: ``bench_pick``).
    Returns {path: {stage: [frames, 2] (wall, cpu) seconds per output frame}} for stages
    features, beat tracker, model step, post, frame (the rest of Engine.process), OSC
    (encoding), total. A block's stage times are spread over the frames it made (a block
    that made none hands its time to the next one).
    """
    legacy = _legacy()
    OldPostProcessor, old_features_factory = legacy.OldPostProcessor, legacy.old_features_factory  # noqa: N806

    from live.engine import Engine
    from live.osc import FrameEncoder
    from live.runtime import Generator, load_generator
    from model.config import load_config
    from model.synth_music import demo_song

    cfg = load_config()
    cfg["model"]["path"] = str(model)
    cfg["features"]["fps"] = fps
    song = demo_song(seconds=seconds, seed=0)
    import soxr

    audio = soxr.resample(song.audio, song.sample_rate, sr).astype(np.float32)
    enc = FrameEncoder()
    out: dict[str, dict[str, np.ndarray]] = {}
    names = ("features", "beat tracker", "model step", "post", "OSC")
    for path in ("old", "new", "novelty", "pick"):
        if path == "old":
            old_model = _toy_at(fps) if fps != 30 else model
            gen: Any = Generator(old_model, feature_config=dict(cfg["features"], fps=fps))
            gen._ios = None  # the old runtime: state through Python on every run()
            eng = Engine(cfg, gen, features_factory=old_features_factory)
            live = cfg["live"]
            eng.post = OldPostProcessor(fps=eng.fps, smoothing=live["smoothing"], mirror=live["mirror"],
                                        root=live["root"], project_bones=live["project_bones"])
        else:  # "novelty" / "pick": the same with the novelty guard / the latent pick off
            c = {**cfg, "live": {**cfg["live"], "novelty": 0.0 if path == "novelty" else cfg["live"]["novelty"],
                                 "pick": 1 if path == "pick" else cfg["live"]["pick"]}}
            gen = load_generator(c)
            eng = Engine(c, gen)
        eng.prepare(sr=sr)
        acc = {k: np.zeros(2) for k in names}

        def timed(fn: Any, key: str, acc: dict[str, np.ndarray] = acc) -> Any:
            def run(*a: Any, **kw: Any) -> Any:
                w0, c0 = time.perf_counter(), time.thread_time()
                r = fn(*a, **kw)
                acc[key] += (time.perf_counter() - w0, time.thread_time() - c0)
                return r
            return run

        eng.features.push = timed(eng.features.push, "features")
        eng.features.tracker.step = timed(eng.features.tracker.step, "beat tracker")
        gen.step = timed(gen.step, "model step")
        eng.post.process = timed(eng.post.process, "post")  # type: ignore[method-assign]
        osc = timed(enc.encode, "OSC")
        hop = sr // eng.fps
        rows: dict[str, list[np.ndarray]] = {k: [] for k in (*names, "frame", "engine total")}
        carry = np.zeros(2)
        for i in range(0, len(audio) - hop, hop):
            w0, c0 = time.perf_counter(), time.thread_time()
            frames = eng.process(audio[i: i + hop], sr=sr)
            carry += (time.perf_counter() - w0, time.thread_time() - c0)
            for f in frames:
                osc(f)
            if not frames:
                continue
            k = len(frames)
            tot = carry / k
            inner = np.zeros(2)
            acc["features"] -= acc["beat tracker"]  # the tracker runs inside push
            for key in names:
                v = acc[key] / k
                rows[key] += [v] * k
                if key != "OSC":
                    inner += v
            rows["frame"] += [np.maximum(tot - inner, 0.0)] * k
            rows["engine total"] += [tot] * k
            for key in names:
                acc[key][:] = 0.0
            carry[:] = 0.0
        del gen.step
        skip = 2 * eng.fps  # the first two seconds (ring warm-up, first touches)
        st = {key: np.asarray(v[skip:]) for key, v in rows.items()}
        out[path] = {k: st[k] for k in ("features", "beat tracker", "model step", "post", "frame", "OSC",
                                         "engine total")}
        out[path]["_label"] = np.array([f"{getattr(gen, 'provider', '')} {Path(str(getattr(gen, 'path', ''))).name}"
                                        f" {eng.model_fps}->{eng.fps} fps"])
    return out


def bench_step_context(model: Path, *, seconds: float, sr: int = 48000, block: int = 40,
                       rounds: int = 12) -> dict[str, np.ndarray]:
    """Why the live model step costs more inside the engine than alone: the numpy step's thread
    CPU per frame when, before each step, nothing else ran (alone), or the engine's other work
    for that frame ran (features with the beat tracker, post + OSC, the whole rest of
    ``Engine.process``), or a plain memory sweep of 1/4/16 MB (evicting caches), or a burst of
    Python object churn (no big arrays). Modes are interleaved in blocks of ``block`` frames
    (machine load hits all alike). Returns {mode: CPU seconds per step}."""
    from live.engine import Engine
    from live.osc import FrameEncoder
    from live.runtime import load_generator
    from model.config import load_config
    from model.synth_music import demo_song

    cfg = load_config()
    cfg["model"]["path"] = str(model)
    cfg["features"]["fps"] = 30
    song = demo_song(seconds=seconds, seed=0)
    import soxr

    audio = soxr.resample(song.audio, song.sample_rate, sr).astype(np.float32)
    hop = sr // 30
    gen = load_generator(cfg)
    eng = Engine(cfg, gen)
    eng.prepare(sr=sr)
    enc = FrameEncoder()
    sweeps = {f"sweep {m} MB": np.ones((m << 20) // 8) for m in (1, 4, 16)}
    times: dict[str, list[float]] = {m: [] for m in ("alone", "features+tracker", "post+OSC", "engine (all)",
                                                     *sweeps, "python churn")}
    inner = gen.step
    cur = {"mode": "alone"}

    def step(*a: Any, **kw: Any) -> Any:
        c0 = time.thread_time()
        r = inner(*a, **kw)
        if cur["mode"] == "engine (all)":
            times["engine (all)"].append(time.thread_time() - c0)
        return r

    gen.step = step  # type: ignore[method-assign]
    pos = 0
    frames = eng.process(audio[: 90 * hop], sr=sr)
    pos = 90 * hop
    last = frames[-1]
    feat = np.zeros(gen.feature_dim, np.float32)
    style, ctrl = eng._style, eng._ctrl

    def churn() -> int:
        d = {str(i): [i, i * 0.5, (i,)] for i in range(2000)}
        return len(d)

    for _ in range(rounds):
        for mode in times:
            cur["mode"] = mode
            for _k in range(block):
                if pos + hop > len(audio):
                    pos = 0
                if mode == "engine (all)":
                    for f in eng.process(audio[pos: pos + hop], sr=sr):
                        enc.encode(f)
                    pos += hop
                    continue
                if mode == "features+tracker":
                    got = eng.features.push(audio[pos: pos + hop])
                    pos += hop
                    if len(got):
                        feat[:] = got[0]
                elif mode == "post+OSC":
                    eng.post.process(last.joints)
                    enc.encode(last)
                elif mode in sweeps:
                    sweeps[mode].sum()
                elif mode == "python churn":
                    churn()
                c0 = time.thread_time()
                inner(feat, style=style, controls=ctrl)
                times[mode].append(time.thread_time() - c0)
    del gen.step
    return {m: np.asarray(v) for m, v in times.items()}


_AB_WORKER = r"""
import json, sys, time
root, fps, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
sys.path.insert(0, root)
import numpy as np, soxr
from live.engine import Engine
from live.osc import FrameEncoder
from live.runtime import load_generator
from model.config import load_config
from model.synth_music import demo_song
cfg = load_config()
cfg["model"]["path"] = root + "/models/default.onnx"
cfg["features"]["fps"] = fps
song = demo_song(seconds=seconds, seed=0)
sr = 48000
audio = soxr.resample(song.audio, song.sample_rate, sr).astype(np.float32)
gen = load_generator(cfg)
eng = Engine(cfg, gen)
eng.prepare(sr=sr)
enc = FrameEncoder()
acc = {}
def timed(obj, name, key):
    fn = getattr(obj, name)
    def run(*a, **kw):
        c0 = time.thread_time()
        r = fn(*a, **kw)
        acc[key] = acc.get(key, 0.0) + time.thread_time() - c0
        return r
    setattr(obj, name, run)
timed(eng.features, "push", "features")
timed(eng.features.tracker, "step", "beat tracker")
timed(gen, "step", "model step")
timed(eng.post, "process", "post")
keys = ("features", "beat tracker", "model step", "post")
rows = {k: [] for k in (*keys, "frame", "engine total", "OSC", "engine + OSC")}
hop = sr // eng.fps
pos = 0
carry = osc = 0.0
print(gen.__class__.__name__, flush=True)
for line in sys.stdin:
    n = int(line)
    if n == 0:
        break
    for _ in range(n):
        if pos + hop > len(audio):
            pos = 0
        c0 = time.thread_time()
        frames = eng.process(audio[pos: pos + hop], sr=sr)
        c1 = time.thread_time()
        carry += c1 - c0
        pos += hop
        for f in frames:
            enc.encode(f)
        osc += time.thread_time() - c1
        if not frames:
            continue
        k = len(frames)
        acc["features"] = acc.get("features", 0.0) - acc.get("beat tracker", 0.0)
        inner = 0.0
        for key in keys:
            rows[key] += [acc.get(key, 0.0) / k] * k
            inner += acc.get(key, 0.0) / k
        rows["frame"] += [carry / k - inner] * k
        rows["engine total"] += [carry / k] * k
        rows["OSC"] += [osc / k] * k
        rows["engine + OSC"] += [(carry + osc) / k] * k
        acc.clear()
        carry = osc = 0.0
    print("done", flush=True)
print(json.dumps({k: v[2 * eng.fps:] for k, v in rows.items()}), flush=True)
"""


def bench_against(base: Path, *, fps: int, rounds: int, block: int = 45, seconds: float = 60.0
                  ) -> dict[str, dict[str, np.ndarray]]:
    """The live engine as ``dancemuse live`` runs it (``load_generator``, default features,
    one hop of 48 kHz audio per block, OSC encoding after it) in this checkout and in
    ``base`` (another checkout, e.g. ``git worktree add /tmp/base <commit>``), each in its own
    process, taking turns in blocks of ``block`` frames (so machine load hits both alike).
    Returns {"base"|"this": {stage: thread CPU seconds per output frame}} (the first two
    seconds dropped); stages features, beat tracker, model step, post, frame (the rest of
    Engine.process), engine total (Engine.process, what ``snapshot()["cpu_ms"]`` counts),
    OSC (encoding the frame's bundles) and engine + OSC."""
    import json
    import subprocess

    env = dict(os.environ, OMP_NUM_THREADS="1")
    procs = {name: subprocess.Popen([sys.executable, "-c", _AB_WORKER, str(root), str(fps), str(seconds)],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
             for name, root in (("base", base.resolve()), ("this", ROOT))}
    try:
        kinds = {name: p.stdout.readline().strip() for name, p in procs.items()}  # type: ignore[union-attr]
        for r in range(rounds):
            for name in (("base", "this") if r % 2 else ("this", "base")):
                p = procs[name]
                p.stdin.write(f"{block}\n")  # type: ignore[union-attr]
                p.stdin.flush()  # type: ignore[union-attr]
                if p.stdout.readline().strip() != "done":  # type: ignore[union-attr]
                    raise RuntimeError(f"the {name} engine process failed (run it alone to see why)")
        out: dict[str, dict[str, np.ndarray]] = {}
        for name, p in procs.items():
            p.stdin.write("0\n")  # type: ignore[union-attr]
            p.stdin.flush()  # type: ignore[union-attr]
            res = json.loads(p.stdout.readline())  # type: ignore[union-attr]
            out[name] = {k: np.asarray(v) for k, v in res.items()}
            out[name]["_label"] = np.array([kinds[name]])
        return out
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
            p.wait()


def print_against(res: dict[str, dict[str, np.ndarray]], base: Path) -> None:
    print(f"   base = {base} ({res['base']['_label'][0]}), this = {ROOT} ({res['this']['_label'][0]})")
    print(f"   {'stage':<13} {'base CPU p50/p99':>17} {'this CPU p50/p99':>17} {'this/base p50':>14}  (ms per frame)")
    for stage in ("features", "beat tracker", "model step", "post", "frame", "engine total", "OSC", "engine + OSC"):
        b, t = res["base"][stage] * 1e3, res["this"][stage] * 1e3
        ratio = np.median(t) / max(np.median(b), 1e-12)
        print(f"   {stage:<13} {np.median(b):7.3f}/{np.percentile(b, 99):7.3f}   {np.median(t):7.3f}/"
              f"{np.percentile(t, 99):7.3f}   {ratio:12.3f}")


def _toy_at(fps: int) -> Path:
    """A toy model at ``fps`` (what bench live ran at 60 fps before a 30 fps model served it)."""
    from export.toy import build_toy_model
    from model.config import defaults
    from model.features import FeatureSpec

    cfg = defaults()
    cfg["features"]["fps"] = fps
    spec = FeatureSpec.from_config(cfg["features"])
    dst = Path(tempfile.mkdtemp()) / f"toy{fps}.onnx"
    build_toy_model(dst, feature_spec=spec.to_dict(), feature_dim=spec.dim, fps=fps)
    return dst


def print_stages(res: dict[str, dict[str, np.ndarray]]) -> None:
    for path in ("old", "new"):
        print(f"   {path}: {res[path]['_label'][0]}")
    print(f"   {'stage':<13} {'old wall p50/p99':>17} {'new wall p50/p99':>17} {'old CPU p50/p99':>17} "
          f"{'new CPU p50/p99':>17} {'CPU mean old/new':>17}  (ms per frame)")
    for stage in res["old"]:
        if stage.startswith("_"):
            continue
        cells = []
        for col in (0, 1):
            for path in ("old", "new"):
                x = res[path][stage][:, col] * 1e3
                cells.append(f"{np.median(x):7.3f}/{np.percentile(x, 99):7.3f}")
        mean = "/".join(f"{np.mean(res[p][stage][:, 1]) * 1e3:7.3f}" for p in ("old", "new"))
        print(f"   {stage:<13} {cells[0]:>17} {cells[1]:>17} {cells[2]:>17} {cells[3]:>17} {mean:>17}")
    if "novelty" in res:
        x = res["novelty"]["engine total"][:, 1] * 1e3
        print(f"   new with live.novelty 0 (the novelty guard off): engine total CPU p50/p99 "
              f"{np.median(x):.3f}/{np.percentile(x, 99):.3f}, mean {np.mean(x):.3f} ms per frame")
    if "pick" in res:
        x = res["pick"]["engine total"][:, 1] * 1e3
        print(f"   new with live.pick 1 (the latent pick off): engine total CPU p50/p99 "
              f"{np.median(x):.3f}/{np.percentile(x, 99):.3f}, mean {np.mean(x):.3f} ms per frame")


def bench_pick(model: Path, *, seconds: float = 60.0) -> dict[str, float]:
    """The latent pick's work per decision (live/pick.py), which the live step hands to a worker
    thread: the roll-out of its draws and their comparison with the history, timed here in this
    thread (CPU), on the demo song with the numpy step; and the frames' own CPU beside it."""
    from export.parity import demo_features
    from live.npstep import NumpyStep
    from live.runtime import step_weights
    from model.config import load_config

    npz, why = step_weights(model)
    if npz is None:
        raise SystemExit(f"bench pick: {why}")
    cfg = load_config()
    feats = demo_features(seconds=seconds, fps=30)
    step = NumpyStep(npz, model_path=model)
    step.set_pick(int(cfg["live"]["pick"]))
    step.reset(seed=0)
    pick = step.pick
    roll, choose = [], []
    start = pick.start

    def timed_start(roll_out: Any, *, threaded: bool, gate: bool = False) -> None:
        def run() -> Any:
            c0 = time.thread_time()
            r = roll_out()
            roll.append(time.thread_time() - c0)
            return r

        orig = pick.choose

        def timed_choose(*a: Any) -> int:
            c0 = time.thread_time()
            i = orig(*a)
            choose.append(time.thread_time() - c0)
            return i

        pick.choose = timed_choose  # type: ignore[method-assign,assignment]
        start(run, threaded=False, gate=gate)
        pick.choose = orig  # type: ignore[method-assign]

    pick.start = timed_start  # type: ignore[method-assign]
    frame = []
    out = np.empty((17, 3), np.float32)
    for f in feats:
        c0 = time.thread_time()
        step.step(f, out=out)
        frame.append(time.thread_time() - c0)
    per = np.asarray(roll) + np.asarray(choose)
    return {"draws": pick.count, "decisions": len(per), "roll_ms": float(np.median(roll) * 1e3),
            "choose_ms": float(np.median(choose) * 1e3), "decision_ms": float(np.median(per) * 1e3),
            "per_frame_ms": float(per.sum() / len(feats) * 1e3), "frames": len(feats)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="bench/step.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, default=ROOT / "models" / "default.onnx")
    ap.add_argument("--checkpoint", default=None, help="trained checkpoint for the torch side (default: same architecture)")
    ap.add_argument("--frames", type=int, default=300, help="timed steps per measurement")
    ap.add_argument("--seconds", type=float, default=60.0, help="demo song length for the generate benchmark")
    ap.add_argument("--windows", default="32,64,128,256")
    ap.add_argument("--skip", default="", help="comma list of parts to skip: stages,pick,context,candidates,step,cache,generate")
    ap.add_argument("--fps", default="30,60", help="frame rates of the per-stage table")
    ap.add_argument("--stage-seconds", type=float, default=30.0, help="demo audio for the per-stage table")
    ap.add_argument("--against", type=Path, default=None,
                    help="another checkout (git worktree add DIR COMMIT): part 0a runs its live engine and this one's "
                         "side by side, interleaved")
    ap.add_argument("--rounds", type=int, default=20, help="turns of 45 frames per engine in part 0a")
    args = ap.parse_args(argv)
    skip = set(filter(None, args.skip.split(",")))
    from live.runtime import Generator
    from model.skeleton import NUM_JOINTS  # noqa: F401  (import check)

    gen = Generator(args.model)
    meta = gen.meta
    from live.npstep import one_blas_thread

    one_blas_thread()  # as the live server runs (the numpy step sets it on load)
    print(f"model {args.model} ({args.model.stat().st_size / 1e6:.2f} MB): {gen.describe()}")
    print(f"net {meta['net_config']}")
    import platform

    print(f"cpu: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, 1 intra-op thread")
    if args.against is not None:
        for fps in (int(x) for x in args.fps.split(",")):
            print(f"\n0a. the live engine at {fps} fps, this checkout vs {args.against}, each in its own process, "
                  f"taking turns in blocks of 45 frames ({args.rounds} turns each); thread CPU per frame")
            print_against(bench_against(args.against, fps=fps, rounds=args.rounds), args.against)
    if "stages" not in skip:
        for fps in (int(x) for x in args.fps.split(",")):
            print(f"\n0. live engine per stage at {fps} fps, {args.stage_seconds:g} s of the demo at 48 kHz, one hop "
                  "per block; old = numpy per-frame post + per-frame features with librosa filters + onnxruntime "
                  "run() without IO binding (a toy model at 60 fps); new = `dancemuse live` now")
            res = bench_stages(args.model, seconds=args.stage_seconds, fps=fps)
            print_stages(res)
            tot = float(np.median(res["new"]["engine total"][:, 1]) * 1e3)
            target = 1.0 if fps <= 30 else 1.5
            print(f"   acceptance at {fps} fps: new engine total CPU p50 {tot:.3f} ms (target <= {target}): "
                  f"{'PASS' if tot <= target else 'FAIL'}")
    if "pick" not in skip:
        pk = bench_pick(args.model)
        print(f"\n0p. the latent pick (live.pick {pk['draws']}): {pk['decisions']} decisions in {pk['frames'] / 30:.0f} s "
              f"of the demo; per decision {pk['decision_ms']:.1f} ms CPU (roll-out {pk['roll_ms']:.1f}, comparison "
              f"{pk['choose_ms']:.1f}) on its worker thread, {pk['per_frame_ms']:.3f} ms per frame on average; "
              "the live loop takes the choice 6 frames later")
    if "context" not in skip:
        ctx = bench_step_context(args.model, seconds=args.stage_seconds)
        print("\n0c. the live model step (numpy) alone vs after other work, 30 fps, thread CPU per step, modes "
              "interleaved in blocks of 40 frames")
        base = float(np.median(ctx["alone"]))
        print(f"   {'before each step':<20} {'p50 ms':>8} {'p99 ms':>8} {'p50 / alone':>12}")
        for mode, v in ctx.items():
            print(f"   {mode:<20} {np.median(v) * 1e3:8.3f} {np.percentile(v, 99) * 1e3:8.3f} "
                  f"{np.median(v) / base:12.2f}")
    if "candidates" not in skip:
        from export.parity import demo_features

        n = max(args.frames, 300)
        feats = demo_features(seconds=n / 30 + 2, fps=meta["fps"])
        print(f"\n0b. live model step candidates, {n} frames of the demo, interleaved in blocks of 50; thread CPU "
              "per frame; pose difference from `onnx run()` (float32) over all frames")
        print(f"   {'candidate':<26} {'CPU p50':>8} {'CPU p99':>8} {'max |pose diff| m':>18} "
              f"{'about mid-hip max/mean':>23}")
        for r in bench_step_candidates(args.model, frames=n, feats=feats):
            print(f"   {r['name']:<26} {r['p50']:8.3f} {r['p99']:8.3f} {r['diff']:18.2e} "
                  f"{r['rel']:12.2e}/{r['rel_mean']:.2e}")
    if "step" not in skip:
        from export.parity import demo_features

        feats = demo_features(seconds=max(12.0, args.frames / 30 + 2), fps=meta["fps"])
        r = bench_ort_vs_torch(args.model, checkpoint=args.checkpoint, frames=args.frames, feats=feats)
        print("\n1. per-frame step, default model")
        print(f"   onnxruntime {r['ort_ms']:.3f} ms | torch eager {r['torch_ms']:.3f} ms | "
              f"ORT is {r['torch_ms'] / r['ort_ms']:.1f}x faster (target >= 5x)")
    if "cache" not in skip and not hasattr(_net_from_meta(meta), "_noise_seq"):
        print("\n2. cached step vs recomputing the window: not available for the noise-conditioned"
              " decoder (its recompute graph is not written yet; the ring-buffer step is measured above)")
    elif "cache" not in skip:
        windows = tuple(int(x) for x in args.windows.split(","))
        rows = bench_cached_vs_recompute(meta, frames=args.frames, windows=windows)
        print("\n2. cached step vs recomputing the encoder over the window (both ONNX)")
        print("   k     cached ms   recompute ms   ratio")
        for row in rows:
            print(f"   {row['k']:<5d} {row['cached_ms']:9.3f}   {row['recompute_ms']:12.3f}   "
                  f"{row['recompute_ms'] / row['cached_ms']:5.1f}x")
        print("   (target: cached >= 5x faster at k = 128; cached cost flat in k)")
    if "generate" not in skip:
        g = bench_generate(args.model, seconds=args.seconds)
        print(f"\n3. offline generate, demo song {g['seconds']:.0f} s ({g['frames']} frames)")
        print(f"   as `dancemuse generate` runs it ({g['default_kind']}, best of 3): {g['default_elapsed']:.2f} s = "
              f"{g['default_speed']:.0f}x real time (target >= 100x)")
        print(f"   ... with live.pick_look 0.5 (off by default): {g['look_speed']:.0f}x real time")
        print(f"   block-1 ONNX step: {g['elapsed']:.2f} s = {g['speed']:.0f}x real time; {g['frame_ms']:.3f} ms/frame: "
              f"features {g['feat_ms']:.3f} + step {g['step_ms']:.3f} + post {g['post_ms']:.3f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
