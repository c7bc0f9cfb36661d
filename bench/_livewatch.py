"""Why frames are missed in `bench live`: event-loop lag, GC, run-queue wait, drops, gaps.

Used by bench/live.py in both processes (the server's and the clients'); not a benchmark.

- :class:`LoopWatch` runs a task that sleeps ``period`` seconds and measures how late it
  wakes (sleep drift = how long the loop did not run). A wake-up later than ``threshold``
  is a *stall*; for each it keeps the wall time, the CPU time of the loop's thread in that
  window (``time.thread_time``), its run-queue wait (``/proc/thread-self/schedstat``: the
  thread was ready but another process had the core = machine contention), the rest of the
  process's CPU (other threads), time spent in garbage collection (``gc.callbacks``) and
  where the loop's thread was (a watchdog thread samples its stack while it is stalled).
  Reading a stall: wall ~= cpu (+ gc) -> the loop was busy computing (a server defect);
  wall ~= run-queue -> the machine was busy (with host steal: the hypervisor ran another
  VM); neither -> the thread was blocked (a lock, a blocking call, the GIL held by another
  thread).
- ``on_tick`` lets the caller look at its own counters on every wake-up (drops per client).

All per-tick state is a few floats; stalls and GC events are appended only when they
happen. Times are ``time.monotonic()`` (system-wide, so comparable across processes).
"""

from __future__ import annotations

import asyncio
import gc
import os
import resource
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

GC_KEEP_MS = 5.0
"""Garbage collections longer than this (or of generation 2) are listed."""


def _sched_reader() -> Callable[[], tuple[float, float]]:
    """(on-CPU s, run-queue wait s) of the calling thread, from /proc (zeros where absent)."""
    try:
        fd = os.open("/proc/thread-self/schedstat", os.O_RDONLY)
    except OSError:
        return lambda: (0.0, 0.0)

    def read() -> tuple[float, float]:
        parts = os.pread(fd, 100, 0).split()
        return int(parts[0]) * 1e-9, int(parts[1]) * 1e-9

    return read


def _stat_reader() -> Callable[[], tuple[float, float]]:
    """(busy s, stolen s) of the whole machine, all CPUs summed, from /proc/stat (10 ms ticks):
    busy = user+nice+system+irq+softirq; stolen = time the hypervisor ran someone else."""
    tick = 1.0 / os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 0.01
    try:
        fd = os.open("/proc/stat", os.O_RDONLY)
    except OSError:
        return lambda: (0.0, 0.0)

    def read() -> tuple[float, float]:
        f = os.pread(fd, 160, 0).split(b"\n", 1)[0].split()
        return (int(f[1]) + int(f[2]) + int(f[3]) + int(f[6]) + int(f[7])) * tick, int(f[8]) * tick

    return read


def _faults() -> int:
    """Major page faults of the calling thread so far (a page read from disk)."""
    try:
        return int(resource.getrusage(resource.RUSAGE_THREAD).ru_majflt)
    except (AttributeError, OSError):
        return 0


class LoopWatch:
    """See the module docstring. ``start()`` inside the loop to watch; ``stop()`` at the end."""

    def __init__(self, *, period: float = 0.005, threshold: float = 0.030, stacks: bool = True,
                 on_tick: Callable[[float], None] | None = None) -> None:
        self.period = period
        self.threshold = threshold
        self.on_tick = on_tick
        self.stalls: list[dict[str, Any]] = []
        self.gcs: list[tuple[float, int, float, int]] = []  # (t, generation, ms, collected)
        self.gc_s = 0.0
        self.gc_n = [0, 0, 0]
        self.lags: list[float] = []  # every wake-up's lag (s), for percentiles
        self.heartbeat = time.monotonic()
        self._gc_t0 = 0.0
        self._stacks = stacks
        self._samples: list[tuple[float, str]] = []
        self._task: asyncio.Task[None] | None = None
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        self._ident = threading.get_ident()

    # -- garbage collector ------------------------------------------------------------
    def _gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._gc_t0 = time.perf_counter()
            return
        ms = (time.perf_counter() - self._gc_t0) * 1000.0
        self.gc_s += ms / 1000.0
        gen = int(info.get("generation", 0))
        self.gc_n[gen] += 1
        if ms >= GC_KEEP_MS or gen == 2:
            self.gcs.append((time.monotonic(), gen, ms, int(info.get("collected", 0))))

    # -- watchdog: where the loop's thread is while it is late --------------------------
    def _watch(self) -> None:
        last = -1.0
        while not self._done.wait(0.01):
            hb = self.heartbeat
            if time.monotonic() - hb > max(self.threshold, 0.02) and hb != last:
                last = hb
                frame = sys._current_frames().get(self._ident)
                if frame is not None:
                    self._samples.append((time.monotonic(), _where(frame)))

    # -- the probe ----------------------------------------------------------------------
    def start(self) -> None:
        self._ident = threading.get_ident()
        gc.callbacks.append(self._gc)
        self._task = asyncio.get_running_loop().create_task(self._probe(), name="bench-loopwatch")
        if self._stacks:
            self._thread = threading.Thread(target=self._watch, name="bench-loopwatch", daemon=True)
            self._thread.start()

    async def _probe(self) -> None:
        sched, stat = _sched_reader(), _stat_reader()
        period, thr = self.period, self.threshold
        prev = self.heartbeat = time.monotonic()
        tcpu, pcpu, (_, rq), gcs, (busy, steal), mf = (time.thread_time(), time.process_time(), sched(), self.gc_s,
                                                      stat(), _faults())
        while True:
            await asyncio.sleep(period)
            now = time.monotonic()
            lag = now - prev - period
            self.lags.append(lag)
            tcpu2, pcpu2, (_, rq2), gcs2, (busy2, steal2) = (time.thread_time(), time.process_time(), sched(),
                                                            self.gc_s, stat())
            if lag > thr:
                mf2 = _faults()
                self.stalls.append({
                    "t": prev, "wall_ms": (now - prev) * 1000.0, "lag_ms": lag * 1000.0,
                    "cpu_ms": (tcpu2 - tcpu) * 1000.0, "other_cpu_ms": ((pcpu2 - pcpu) - (tcpu2 - tcpu)) * 1000.0,
                    "runq_ms": (rq2 - rq) * 1000.0, "gc_ms": (gcs2 - gcs) * 1000.0,
                    "steal_ms": (steal2 - steal) * 1000.0,
                    "others_ms": max(0.0, (busy2 - busy) - (pcpu2 - pcpu)) * 1000.0, "majflt": mf2 - mf,
                })
                mf = mf2
            if self.on_tick is not None:
                self.on_tick(now)
            prev = self.heartbeat = now
            tcpu, pcpu, rq, gcs, busy, steal = tcpu2, pcpu2, rq2, gcs2, busy2, steal2

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        self._done.set()
        if self._thread is not None:
            self._thread.join(timeout=1)
        if self._gc in gc.callbacks:
            gc.callbacks.remove(self._gc)
        for s in self.stalls:  # attach the watchdog's stack samples and the GCs inside each stall
            t0, t1 = s["t"], s["t"] + s["wall_ms"] / 1000.0
            s["where"] = sorted({w for t, w in self._samples if t0 <= t <= t1})[:2]
            s["gcs"] = [(g, round(ms, 1)) for t, g, ms, _ in self.gcs if t0 <= t <= t1 + 0.001]

    def summary(self) -> dict[str, Any]:
        lags = sorted(self.lags) or [0.0]
        n = len(lags)
        return {
            "ticks": n, "lag_p50_ms": lags[n // 2] * 1000.0, "lag_p99_ms": lags[min(n - 1, int(n * 0.99))] * 1000.0,
            "lag_max_ms": lags[-1] * 1000.0, "stalls": len(self.stalls),
            "stall_ms": sum(s["wall_ms"] for s in self.stalls), "gc_ms": self.gc_s * 1000.0, "gc_n": list(self.gc_n),
            "gc_max_ms": max((g[2] for g in self.gcs), default=0.0),
        }


def _where(frame: Any) -> str:
    """The innermost two frames outside asyncio/selectors, as 'file:line fn < file:line fn'."""
    out = []
    stack = traceback.extract_stack(frame, limit=40)
    if stack and stack[-1].filename.endswith("selectors.py"):
        return "waiting in select (the loop had nothing to run)"
    inner = stack[-1] if stack else None
    if inner is not None:
        out.append(f"{inner.filename.rsplit('/', 1)[-1]}:{inner.lineno} {inner.name}")
    for fs in reversed(stack[:-1]):  # then the innermost frames of the project (live/, model/, bench/)
        name = fs.filename.replace("\\", "/")
        if any(f"/{d}/" in name for d in ("live", "model", "bench")) and not name.endswith("_livewatch.py"):
            out.append(f"{name.rsplit('/', 2)[-2]}/{name.rsplit('/', 1)[-1]}:{fs.lineno} {fs.name}")
            if len(out) == 3:
                break
    return " < ".join(out) or "?"


def verdict(s: dict[str, Any]) -> str:
    """What the stall's wall time mostly went to: the loop's own CPU (busy; in GC when the
    collector took most of it), or not running: the host ran another VM on our vCPUs
    (/proc/stat's steal, summed over CPUs, covers half the time; in a VM that time also
    counts as run-queue wait), another process had the core (run-queue wait), or the thread
    was blocked or sleeping."""
    wall, cpu, rq, gcm = s["wall_ms"], s["cpu_ms"], s["runq_ms"], s["gc_ms"]
    off = max(0.0, wall - cpu - rq)
    if cpu >= max(rq, off):
        return "loop busy" + (" in GC" if gcm >= 0.5 * cpu else "")
    if s.get("steal_ms", 0.0) >= 0.5 * (wall - cpu):
        return "vCPU stolen by the host"
    return "machine busy (waited for a core)" if rq >= off else "thread blocked/sleeping"


def stall_line(s: dict[str, Any]) -> str:
    """One stall as text, ending in its verdict."""
    wall, cpu, rq, gcm, steal = s["wall_ms"], s["cpu_ms"], s["runq_ms"], s["gc_ms"], s.get("steal_ms", 0.0)
    txt = (f"{wall:6.0f} ms without the loop: cpu {cpu:.0f}, run-queue {rq:.0f}, gc {gcm:.0f}, "
           f"other threads' cpu {s['other_cpu_ms']:.0f}, other processes' cpu {s.get('others_ms', 0):.0f}, "
           f"host steal {steal:.0f}, major faults {s.get('majflt', 0)} -> {verdict(s)}")
    if s.get("gcs"):
        txt += f"; collections {s['gcs'][:3]}"
    if s.get("where"):
        txt += f"; at {' | '.join(s['where'])}"
    return txt
