"""Live loop benchmark: the demo song in real time through `dancemuse live`'s app.

For 0, 10 and 50 WebSocket clients (5 of them stalled: they never read) and two OSC targets
(``--osc-targets``; received in their own process), at 30 and 60 fps,
old path (per-frame numpy features and post) and new, prints:
hop arrival -> OSC datagram sent latency p50/p99 (ms), the engine's CPU time per frame
(features + generator + post, median/p99 ms), frames dropped for healthy clients and for
the stalled ones. The clients run in a separate process so that they do not share the
server's event loop. Prints; asserts nothing.

To explain missed frames it also prints, per row: the server process's and the client
process's CPU share and event-loop lag (a 5 ms sleep-drift probe, bench/_livewatch.py), GC
collections, modules imported while frames flowed, and a timeline: the loops' stalls (wall
time against the loop thread's CPU, its run-queue wait, host steal, GC, where the thread
was), when the server dropped frames for healthy clients and why ('socket full': the
client is not reading; 'queue full, socket empty': the server's sender did not get the
loop), the gaps the clients saw, and stalled clients closed. ``--stall T:MS`` blocks the
server's loop for MS ms at T s, to see how the outputs ride through a stall.

    python bench/live.py                    # 30 and 60 fps, old and new, 10 s per scenario
    python bench/live.py --seconds 5 --fps 30 --model models/default.onnx
    python bench/live.py --fps 60 --clients 50 --path new --seconds 600   # the 10-minute acceptance run
    python bench/live.py --fps 60 --clients 50 --path new --seconds 20 --stall 10:500
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # before bench/ (this file's own name would shadow the package)


def _model_for(fps: int, path: str | None, *, old: bool = False) -> tuple[str, str]:
    """A model at ``fps``: the given/default one if it runs at that rate or (new path) at a
    rate that divides it (the engine interpolates: a 30 fps model serves 60 fps), else a toy
    (the old path at 60 fps: the engine could not serve 60 fps frames from a 30 fps model)."""
    from model.config import defaults
    from model.modelmeta import parse_meta

    candidate = Path(path) if path else REPO / "models" / "default.onnx"
    if candidate.exists():
        import onnxruntime as ort

        sess = ort.InferenceSession(str(candidate), providers=["CPUExecutionProvider"])
        meta = parse_meta(sess.get_modelmeta().custom_metadata_map, name=str(candidate))
        mfps = int(meta["fps"])
        if mfps == fps:
            return str(candidate), candidate.name
        if not old and fps % mfps == 0:
            return str(candidate), f"{candidate.name} ({mfps} fps model, frames in between interpolated)"
        note = f"{candidate.name} runs at {meta['fps']} fps"
    else:
        note = f"{candidate} not found"
    from export.toy import build_toy_model
    from model.features import FeatureSpec

    cfg = defaults()
    cfg["features"]["fps"] = fps
    spec = FeatureSpec.from_config(cfg["features"])
    out = Path(tempfile.mkdtemp()) / f"toy{fps}.onnx"
    build_toy_model(out, feature_spec=spec.to_dict(), feature_dim=spec.dim, fps=fps)
    return str(out), f"toy {fps}-fps model ({note})"


# -- the client process ----------------------------------------------------------------
async def _clients_main(url: str, n: int, stalled: int) -> None:
    from websockets.asyncio.client import connect

    from bench._livewatch import LoopWatch

    watch = LoopWatch()
    gap_events: list[tuple[float, int, int, int]] = []  # (monotonic time, client, first missing frame, count)
    counts = [0] * n
    gaps = [0] * n
    first = [-1] * n
    lastseen = [-1] * n
    conns = []

    async def reader(k: int, conn: Any) -> None:
        last = -1
        try:
            async for msg in conn:
                if isinstance(msg, bytes):
                    i = int(np.frombuffer(msg[:4], "<f4")[0])
                else:
                    continue  # hello / state
                counts[k] += 1
                if last >= 0 and i != last + 1:
                    gaps[k] += i - last - 1
                    if len(gap_events) < 5000:
                        gap_events.append((time.monotonic(), k, last + 1, i - last - 1))
                if first[k] < 0:
                    first[k] = i
                last = lastseen[k] = i
        except Exception:
            pass

    tasks = []
    for k in range(n):
        if k < stalled:
            raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            host, port = url.split("//")[1].split("/")[0].rsplit(":", 1)
            raw.connect((host, int(port)))
            c = await connect(url, sock=raw, max_queue=1, compression=None)
            c.transport.pause_reading()
        else:
            c = await connect(url, compression=None)
            tasks.append(asyncio.create_task(reader(k, c)))
        conns.append(c)
    print("ready", flush=True)
    loop = asyncio.get_running_loop()
    watch.start()
    t0, c0 = time.monotonic(), time.process_time()
    await loop.run_in_executor(None, sys.stdin.readline)  # until the parent says stop
    watch.stop()
    print(json.dumps({"counts": counts[stalled:], "gaps": gaps[stalled:], "first": first[stalled:],
                      "last": lastseen[stalled:], "gap_events": gap_events, "stalls": watch.stalls,
                      "watch": watch.summary(),
                      "cpu_share": (time.process_time() - c0) / max(1e-9, time.monotonic() - t0)}), flush=True)
    for c in conns:
        c.transport.abort()
    for t in tasks:
        t.cancel()


def _osc_main(n: int) -> None:
    """Receive the server's OSC datagrams on ``n`` UDP ports (printed first), count them per
    port until stdin says stop, then print the counts as JSON."""
    import selectors
    import threading

    socks = []
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
        s.bind(("127.0.0.1", 0))
        s.setblocking(False)
        socks.append(s)
    counts = [0] * n
    stop = threading.Event()

    def drain() -> None:
        sel = selectors.DefaultSelector()
        for k, s in enumerate(socks):
            sel.register(s, selectors.EVENT_READ, k)
        while not stop.is_set():
            for key, _ in sel.select(timeout=0.2):
                sock = socks[key.data]
                while True:
                    try:
                        sock.recv(65536)
                    except BlockingIOError:
                        break
                    counts[key.data] += 1

    t = threading.Thread(target=drain, daemon=True)
    t.start()
    print(json.dumps([s.getsockname()[1] for s in socks]), flush=True)
    sys.stdin.readline()
    time.sleep(0.3)  # the last datagrams in flight
    stop.set()
    t.join(timeout=2)
    print(json.dumps(counts), flush=True)


# -- one scenario ----------------------------------------------------------------------
def _legacy() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location("dancemuse_bench_legacy", REPO / "bench" / "_legacy.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


async def _scenario(model: str, fps: int, seconds: float, n_clients: int, stalled: int,
                    old: bool = False, osc_targets: int = 2,
                    inject: list[tuple[float, float]] | None = None) -> dict[str, Any]:
    from bench._livewatch import LoopWatch
    from live.app import LiveApp
    from live.audio import ArraySource
    from live.console import Console
    from model.config import defaults
    from model.synth_music import demo_song

    osc = subprocess.Popen([sys.executable, __file__, "--osc-worker", str(osc_targets)], stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE, text=True)
    assert osc.stdout is not None and osc.stdin is not None
    ports = json.loads(osc.stdout.readline())
    cfg = defaults()
    cfg["features"]["fps"] = fps
    cfg["model"].update(path=model, provider="cpu")
    if old:  # the onnxruntime step (the numpy step came later)
        cfg["model"]["runtime"] = "onnx"
    cfg["osc"].update(targets=[f"127.0.0.1:{p}" for p in ports], listen="")
    cfg["websocket"].update(port=0, max_clients=64)
    song = demo_song(seconds=seconds + 2, seed=0)
    src = ArraySource(song.audio, sample_rate=song.sample_rate, block=song.sample_rate // fps, name="demo")
    lat: list[float] = []
    started = {"frame": -1}
    published = np.zeros(int(seconds * fps) + 64)  # monotonic time each frame went out

    def on_frame(f: Any) -> None:  # called right after the OSC datagrams were sent
        lat.append(f.latency_ms + (time.time() - f.wall) * 1000.0)
        if f.index < len(published):
            published[f.index] = time.monotonic()
        if started["frame"] < 0:
            started["frame"] = f.index

    app = LiveApp(cfg, source=src, duration=seconds, console=Console(enabled=False), on_frame=on_frame)
    if old:  # the previous per-frame numpy features and post-processing
        lg = _legacy()
        eng = app.engine
        eng._factory = lg.old_features_factory
        lv = cfg["live"]
        eng.post = lg.OldPostProcessor(fps=eng.fps, smoothing=lv["smoothing"], mirror=lv["mirror"],
                                       root=lv["root"], project_bones=lv["project_bones"])
        if hasattr(app.generator, "_ios"):
            app.generator._ios = None  # the old runtime: state through Python on every run()
    await app.start()
    mods_before = set(sys.modules)
    finder = _ImportLog()  # (time, module) of first imports while frames flow; costs nothing per frame
    sys.meta_path.insert(0, finder)
    drops = _DropWatch(app, stalled)
    watch = LoopWatch(on_tick=drops.tick)
    watch.start()
    run_t0, run_c0 = time.monotonic(), time.process_time()
    proc = None
    if n_clients:
        proc = subprocess.Popen(
            [sys.executable, __file__, "--clients-worker", app.web.url.replace("http", "ws").split("?")[0] + "ws?format=binary",
             str(n_clients), str(stalled)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=dict(os.environ, OMP_NUM_THREADS="1"),
        )
        assert proc.stdout is not None
        loop = asyncio.get_running_loop()
        line = await loop.run_in_executor(None, proc.stdout.readline)
        assert line.strip() == "ready", line
    for at, ms in inject or []:  # a blocking call on the loop (what a GC pause or a stolen vCPU looks like)
        asyncio.get_running_loop().call_later(at, time.sleep, ms / 1000.0)
    await app.run()
    server_share = (time.process_time() - run_c0) / max(1e-9, time.monotonic() - run_t0)
    watch.stop()
    imported = sorted(set(sys.modules) - mods_before)  # imported while frames flowed
    sys.meta_path.remove(finder)
    import_events = finder.seen
    frames = app.engine.frames
    cpu = app.engine._cpu[: min(frames, len(app.engine._cpu))] * 1000.0
    res: dict[str, Any] = {
        "clients": n_clients, "frames": frames,
        "lat_p50": float(np.percentile(lat, 50)), "lat_p99": float(np.percentile(lat, 99)),
        "cpu_p50": float(np.median(cpu)), "cpu_p99": float(np.percentile(cpu, 99)), "cpu_mean": float(np.mean(cpu)),
        "delay_ms": float(getattr(app.engine, "delay_ms", 0.0)),
        "osc_dropped": 0, "healthy_missed": 0, "stalled": stalled if n_clients else 0,
    }
    osc.stdin.write("stop\n")
    osc.stdin.flush()
    per_target = json.loads(osc.stdout.readline())
    osc.wait(timeout=10)
    res["osc_datagrams"] = min(per_target) if per_target else 0  # the target that got fewest
    res["osc_targets"] = len(per_target)
    if proc is not None:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write("stop\n")
        proc.stdin.flush()
        out = json.loads(proc.stdout.readline())
        proc.wait(timeout=10)
        res["healthy_missed"] = int(sum(out["gaps"])) + sum(max(0, frames - c - g) for c, g in zip(out["counts"], out["gaps"]))
        res["healthy_min_frames"] = min(out["counts"]) if out["counts"] else 0
        # where the missing frames are: inside the stream (gaps), before a client's first frame,
        # or after its last one (frames still queued when the server shut down)
        res["healthy_gaps"] = int(sum(out["gaps"]))
        res["healthy_head"] = int(sum(max(0, f) for f in out["first"]))
        res["healthy_tail"] = int(sum(max(0, frames - 1 - last) for last in out["last"]))
        res["client_watch"] = out["watch"]
        res["client_cpu_share"] = out["cpu_share"]
    else:
        out = {"gap_events": [], "stalls": []}
    res["server_watch"] = watch.summary()
    res["server_cpu_share"] = server_share
    res["imported"] = imported
    res["timeline"] = _timeline(watch, drops, out, published[:frames], stalled, import_events)
    return res


class _ImportLog:
    """A meta path entry that finds nothing and notes when each module was first imported."""

    def __init__(self) -> None:
        self.seen: list[tuple[float, str]] = []

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        self.seen.append((time.monotonic(), name))


class _DropWatch:
    """Looks at the web server's drop counters on every LoopWatch tick (a few integer
    reads; the clients are walked only when a drop happened): when, which clients (healthy
    or stalled) and why: 'socket' when the client's TCP/WebSocket write buffer is not
    empty (the client is not reading fast enough), 'queue' when it is empty (the sender
    task did not get the loop in time)."""

    def __init__(self, app: Any, stalled: int) -> None:
        self.app = app
        self.stalled = stalled
        self.total = 0
        self.seen: dict[int, int] = {}
        self.events: list[dict[str, Any]] = []  # healthy clients' drops only
        self.stalled_drops = 0
        self.aborted: list[float] = []
        self._aborted_n = 0

    def tick(self, now: float) -> None:
        web = self.app.web
        if web is None:
            return
        if web.stalled != self._aborted_n:
            self.aborted.extend([now] * (web.stalled - self._aborted_n))
            self._aborted_n = web.stalled
        if web.dropped_total == self.total:
            return
        self.total = web.dropped_total
        n = frames = sock = 0
        qmax = 0
        for c in web._clients.values():
            d = c.dropped - self.seen.get(c.id, 0)
            if not d:
                continue
            self.seen[c.id] = c.dropped
            if c.id <= self.stalled:
                self.stalled_drops += d
                continue
            n += 1
            frames += d
            qmax = max(qmax, len(c.frames))
            tr = c.conn.transport
            if (tr is not None and tr.get_write_buffer_size() > 0) or getattr(c.conn, "paused", False):
                sock += 1
        if n:
            self.events.append({"t": now, "clients": n, "frames": frames, "socket": sock, "queue_max": qmax})


def _timeline(watch: Any, drops: _DropWatch, out: dict[str, Any], published: np.ndarray, stalled: int,
              imports: list[tuple[float, str]], limit: int = 40, big_ms: float = 100.0) -> list[str]:
    """Healthy clients' drops, the gaps the clients saw, first imports, stalled clients
    closed and the loops' stalls of ``big_ms`` or more (smaller ones too when they precede a
    drop or gap by under a second; the rest counted by verdict), in time order (t = seconds
    since the first frame went out)."""
    from bench._livewatch import stall_line, verdict

    t0 = float(published[0]) if len(published) and published[0] else 0.0
    ev: list[tuple[float, str]] = []
    for d in drops.events:
        why = "socket full (client not reading)" if d["socket"] == d["clients"] else (
            "queue full, socket empty (sender starved)" if d["socket"] == 0 else f"{d['socket']} socket full")
        ev.append((d["t"], f"server dropped {d['frames']} frames for {d['clients']} healthy clients "
                           f"(queue up to {d['queue_max']}): {why}"))
    for t in sorted(set(drops.aborted)):
        ev.append((t, f"server closed {drops.aborted.count(t)} stalled client(s) (stall_timeout)"))
    for t, name in imports:
        ev.append((t, f"server process imports {name}"))
    groups: list[list[Any]] = []  # client gaps seen within 0.25 s of each other
    for tg, k, i, n in sorted(out.get("gap_events", [])):
        if groups and tg - groups[-1][0] < 0.25:
            g = groups[-1]
            g[1].add(k)
            g[2], g[3], g[4] = g[2] + n, min(g[3], i), max(g[4], i + n - 1)
        else:
            groups.append([tg, {k}, n, i, i + n - 1])
    for tg, ks, n, lo, hi in groups:
        pub = f", published at t={published[lo] - t0:.3f}" if lo < len(published) and published[lo] else ""
        ev.append((tg, f"clients: {len(ks)} healthy clients missed {n} frames (frames {lo}-{hi}{pub})"))
    marks = [d["t"] for d in drops.events] + [g[0] for g in groups]  # small stalls shown only before these
    small: dict[str, int] = {}
    for who, stalls in (("server loop", watch.stalls), ("client process", out.get("stalls", []))):
        for st in stalls:
            if st["wall_ms"] >= big_ms or any(0.0 <= m - st["t"] <= 1.0 for m in marks):
                ev.append((st["t"], f"{who} {stall_line(st)}"))
            else:
                key = f"{who}: {verdict(st)}"
                small[key] = small.get(key, 0) + 1
    ev.sort()
    lines = [f"t={t - t0:8.3f} {txt}" for t, txt in ev[:limit]]
    if len(ev) > limit:
        lines.append(f"... {len(ev) - limit} more events")
    if small:
        lines.append(f"stalls under {big_ms:g} ms not listed: " + "; ".join(f"{k} x{v}" for k, v in sorted(small.items())))
    return lines


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--clients-worker":
        asyncio.run(_clients_main(sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--osc-worker":
        _osc_main(int(sys.argv[2]))
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fps", default="30,60", help="comma list of 30 and/or 60")
    ap.add_argument("--path", default="old,new", help="comma list: old (per-frame numpy parts), new")
    ap.add_argument("--stalled", type=int, default=5, help="clients that never read (of each client count)")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--model", default=None)
    ap.add_argument("--clients", default="0,10,50")
    ap.add_argument("--osc-targets", type=int, default=2, help="OSC targets the server sends every frame to")
    ap.add_argument("--stall", action="append", default=[], metavar="T:MS",
                    help="block the server's loop for MS ms at T s into the run (repeatable): how it rides through "
                         "a stall")
    a = ap.parse_args()
    inject = [(float(x.split(":")[0]), float(x.split(":")[1])) for x in a.stall]
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    for fps in [int(x) for x in a.fps.split(",")]:
        hop_ms = 1000.0 / fps
        print(f"{fps} fps (hop {hop_ms:.2f} ms); {a.seconds:g} s of the demo song per row")
        print(f"{'path':>4} {'clients':>8} {'frames':>7} {'lat p50':>8} {'lat p99':>8} {'cpu p50':>8} {'cpu p99':>8} "
              f"{'cpu mean':>8} {'osc dgrams':>10} {'healthy missed':>15}  ({a.osc_targets} OSC targets; osc dgrams: "
              "the fewest any got)")
        for path in a.path.split(","):
            model, label = _model_for(fps, a.model, old=path == "old")
            print(f"     {path}: model {label}")
            for n in [int(x) for x in a.clients.split(",")]:
                st = min(a.stalled, n)
                r = asyncio.run(_scenario(model, fps, a.seconds, n, st, old=path == "old", osc_targets=a.osc_targets,
                                           inject=inject))
                print(f"{path:>4} {n:>8} {r['frames']:>7} {r['lat_p50']:>8.2f} {r['lat_p99']:>8.2f} "
                      f"{r['cpu_p50']:>8.3f} {r['cpu_p99']:>8.3f} {r['cpu_mean']:>8.3f} {r['osc_datagrams']:>10} "
                      f"{r['healthy_missed']:>15}", flush=True)
                if r.get("delay_ms"):
                    print(f"     (poses go out {r['delay_ms']:.1f} ms after their time: interpolated between model "
                          "frames; beat events are not delayed; not in the latency columns)", flush=True)
                sw = r["server_watch"]
                print(f"     server process: {r['server_cpu_share'] * 100:.0f} % of a core, loop lag p50/p99/max "
                      f"{sw['lag_p50_ms']:.1f}/{sw['lag_p99_ms']:.1f}/{sw['lag_max_ms']:.0f} ms, {sw['stalls']} stalls >= 30 ms ({sw['stall_ms']:.0f} ms); GC "
                      f"{sw['gc_n']} collections, {sw['gc_ms']:.0f} ms, longest {sw['gc_max_ms']:.1f} ms", flush=True)
                if "client_watch" in r:
                    cw = r["client_watch"]
                    print(f"     client process: {r['client_cpu_share'] * 100:.0f} % of a core, loop lag p50/p99/max "
                          f"{cw['lag_p50_ms']:.1f}/{cw['lag_p99_ms']:.1f}/{cw['lag_max_ms']:.0f} ms, {cw['stalls']} "
                          f"stalls >= 30 ms", flush=True)
                if r["imported"]:
                    print(f"     imported during the run: {', '.join(r['imported'][:12])}"
                          f"{' ...' if len(r['imported']) > 12 else ''}", flush=True)
                if r["timeline"]:
                    print("     timeline (t = s since the first frame):", flush=True)
                    for line in r["timeline"]:
                        print("       " + line, flush=True)
                if r.get("healthy_missed"):
                    print(f"     missed by healthy clients: {r['healthy_gaps']} inside the stream, "
                          f"{r['healthy_head']} before their first frame, {r['healthy_tail']} after their last "
                          f"(still queued at shutdown)", flush=True)
        print(f"latency = hop's last sample due -> OSC datagrams sent (ms); target p99 <= {hop_ms + 5:.1f} ms. "
              "cpu = engine thread CPU per frame (features + model step + post, ms); target median "
              f"<= {1.0 if fps <= 30 else 1.5:g} ms (issue 12: 1 ms at 30 fps, 1.5 ms at 60). "
              f"{a.stalled} of the clients are stalled (never read); 'healthy missed' counts frames the others "
              "did not get. Peak RSS of `dancemuse live`: bench startup.")


if __name__ == "__main__":
    main()
