"""bench/live.py's diagnostics (bench/_livewatch.py, the drop watch, the timeline) with a real
event loop, a real web server and a real WebSocket client; no timed assertions."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from websockets.asyncio.client import connect

from bench import live as bench_live
from bench._livewatch import LoopWatch, stall_line, verdict
from tests.test_ws_server import App, Reader, frame, make_server, until, ws_url


def test_loop_watch_sees_a_blocking_call_and_where_it_was() -> None:
    async def main() -> LoopWatch:
        watch = LoopWatch(threshold=0.05)
        watch.start()
        await asyncio.sleep(0.05)
        time.sleep(0.3)  # a blocking call on the loop
        await asyncio.sleep(0.05)
        watch.stop()
        return watch

    watch = asyncio.run(main())
    big = [s for s in watch.stalls if s["wall_ms"] >= 250]
    assert big
    s = big[-1]
    assert verdict(s) == "thread blocked/sleeping"  # neither its own CPU nor a wait for a core
    assert any("test_bench_live.py" in w for w in s["where"])  # the watchdog caught the caller
    assert "thread blocked/sleeping" in stall_line(s)
    assert watch.summary()["stalls"] == len(watch.stalls) and watch.summary()["lag_max_ms"] >= 250


def test_verdicts() -> None:
    base = {"gc_ms": 0.0, "other_cpu_ms": 0.0}
    assert verdict({**base, "wall_ms": 100, "cpu_ms": 90, "runq_ms": 5}) == "loop busy"
    assert verdict({**base, "wall_ms": 100, "cpu_ms": 90, "runq_ms": 5, "gc_ms": 80}) == "loop busy in GC"
    assert verdict({**base, "wall_ms": 100, "cpu_ms": 10, "runq_ms": 80}) == "machine busy (waited for a core)"
    assert verdict({**base, "wall_ms": 100, "cpu_ms": 10, "runq_ms": 0, "steal_ms": 80}) == "vCPU stolen by the host"
    assert verdict({**base, "wall_ms": 100, "cpu_ms": 10, "runq_ms": 85, "steal_ms": 80}) == "vCPU stolen by the host"
    assert verdict({**base, "wall_ms": 100, "cpu_ms": 10, "runq_ms": 10}) == "thread blocked/sleeping"


def test_drop_watch_says_which_clients_dropped_and_why() -> None:
    """A reading client handed more frames at once than it may queue: its socket is empty,
    so the drop is the server's (the sender did not get the loop), not the client's."""
    async def main() -> list[dict[str, Any]]:
        srv = make_server(App(), queue=4)
        await srv.start()
        a = Reader(await connect(ws_url(srv, "?format=binary")))
        await until(lambda: len(a.got) == 1)

        class _App:
            web = srv

        drops = bench_live._DropWatch(_App(), stalled=0)
        for i in range(srv.burst + 3):
            srv.publish(frame(i))
        drops.tick(time.monotonic())
        drops.tick(time.monotonic())  # nothing new: no second event
        await until(lambda: len(a.got) == srv.burst + 1)
        await a.ws.close()
        await srv.stop()
        return drops.events

    events = asyncio.run(main())
    assert len(events) == 1
    assert events[0]["clients"] == 1 and events[0]["frames"] == 3 and events[0]["socket"] == 0


def test_timeline_orders_groups_and_summarises() -> None:
    class _Watch:
        stalls = [
            {"t": 100.0, "wall_ms": 40.0, "lag_ms": 35.0, "cpu_ms": 5.0, "other_cpu_ms": 0.0, "runq_ms": 30.0,
             "gc_ms": 0.0},  # small, far from any drop: only counted
            {"t": 104.9, "wall_ms": 40.0, "lag_ms": 35.0, "cpu_ms": 30.0, "other_cpu_ms": 0.0, "runq_ms": 5.0,
             "gc_ms": 0.0},  # small, but just before a drop: listed
            {"t": 110.0, "wall_ms": 400.0, "lag_ms": 395.0, "cpu_ms": 390.0, "other_cpu_ms": 0.0, "runq_ms": 0.0,
             "gc_ms": 380.0, "gcs": [(2, 380.0)]},
        ]

    class _Drops:
        events = [{"t": 105.0, "clients": 45, "frames": 90, "socket": 0, "queue_max": 16}]
        aborted = [101.0, 101.0, 101.0]

    published = 99.0 + (1 + __import__("numpy").arange(1000)) / 60.0  # frame i out at 99 + (i+1)/60
    gaps = [(105.01 + 0.001 * k, k, 300, 2) for k in range(45)]
    out = {"gap_events": gaps, "stalls": []}
    lines = bench_live._timeline(_Watch(), _Drops(), out, published, 5, [(99.5, "numpy.ma")])
    text = "\n".join(lines)
    assert lines[0].startswith("t=   0.483 server process imports numpy.ma")
    assert "server closed 3 stalled client(s)" in lines[1]
    assert "loop busy" in lines[2] and "server dropped 90 frames for 45 healthy clients" in lines[3]
    assert "sender starved" in lines[3]
    assert "clients: 45 healthy clients missed 90 frames (frames 300-301, published at t=5.000)" in lines[4]
    assert "loop busy in GC" in lines[5] and "collections [(2, 380.0)]" in lines[5]
    assert lines[-1] == "stalls under 100 ms not listed: server loop: machine busy (waited for a core) x1"
    assert text.count("clients:") == 1
