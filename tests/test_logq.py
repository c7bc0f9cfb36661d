"""Logging never blocks the caller: a bounded queue, a writer thread, dropped lines counted;
and a live show keeps sending frames while its stderr is a pipe that nobody reads."""

from __future__ import annotations

import asyncio
import fcntl
import json
import logging
import os
import socket
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

import pytest

from live.logq import DroppingQueueHandler, install

REPO = Path(__file__).resolve().parent.parent


class BlockedStream:
    """A stream whose write blocks until released (a pipe nobody reads)."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.lines: list[str] = []

    def write(self, s: str) -> int:
        self.release.wait()
        self.lines.append(s)
        return len(s)

    def flush(self) -> None:
        pass


def test_emit_never_waits_on_a_blocked_stream_and_counts_drops() -> None:
    stream = BlockedStream()
    h = DroppingQueueHandler(stream=stream, maxsize=50, close_timeout=2.0)  # type: ignore[arg-type]
    logger = logging.getLogger("test.logq.blocked")
    logger.propagate = False
    logger.addHandler(h)
    try:
        t0 = time.perf_counter()
        for i in range(5000):
            logger.warning("flood %d", i)
        took = time.perf_counter() - t0
        assert took < 1.0, f"5000 log calls took {took:.2f} s with the stream blocked"
        assert h.dropped >= 5000 - 52  # the queue holds 50 (+1 in the writer's hands)
        stream.release.set()
        h.flush()
        text = "".join(stream.lines)
        assert "flood 0" in text
        import re

        noted = sum(int(n) for n in re.findall(r"(\d+) log lines dropped", text))
        assert noted == h.dropped
    finally:
        stream.release.set()
        logger.removeHandler(h)
        h.close()


def test_records_are_formatted_and_written_in_order() -> None:
    import io

    buf = io.StringIO()
    h = DroppingQueueHandler(stream=buf)
    logger = logging.getLogger("test.logq.order")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(h)
    try:
        for i in range(100):
            logger.info("line %d of %s", i, "many")
        h.flush()
        lines = buf.getvalue().splitlines()
        assert len(lines) == 100 and h.dropped == 0
        assert lines[7].endswith("INFO test.logq.order: line 7 of many")
    finally:
        logger.removeHandler(h)
        h.close()


def test_install_keeps_an_existing_handler_unless_forced() -> None:
    root = logging.getLogger()
    if not root.handlers:
        pytest.skip("pytest's capture handler is expected on the root logger")
    assert install(logging.INFO) is None  # like basicConfig: someone configured logging already


def _pipe_bytes(fd: int) -> int:
    buf = fcntl.ioctl(fd, termios.FIONREAD, struct.pack("i", 0))
    return int(struct.unpack("i", buf)[0])


@pytest.mark.timeout(180)
def test_live_keeps_sending_frames_while_stderr_is_a_full_pipe(model_path: Path, tmp_path: Path) -> None:
    from websockets.asyncio.client import connect

    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1", DANCEMUSE_NO_FAST_EXIT="1")
    out = open(tmp_path / "stdout.txt", "w")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "live.cli", "live", "--model", str(model_path), "--input", "demo",
         "--no-osc", "--osc-listen", "127.0.0.1:0", "--port", "0"],
        cwd=REPO, env=env, stdout=out, stderr=subprocess.PIPE,  # stderr: read by nobody
    )
    try:
        url = osc = None
        t0 = time.time()
        while time.time() - t0 < 90 and (url is None or osc is None):
            text = (tmp_path / "stdout.txt").read_text()
            for line in text.splitlines():
                if line.startswith("DanceMuse live: open "):
                    url = line.split("open ", 1)[1].strip()
                if line.startswith("OSC control in: "):
                    host, port = line.split(": ", 1)[1].rsplit(":", 1)
                    osc = (host, int(port))
            time.sleep(0.2)
        assert url and osc, text
        ws_url = url.replace("http://", "ws://").rstrip("/") + "/ws"

        def flood(stop: threading.Event) -> None:
            # garbage from ever new loopback addresses (127.0.x.y): the log budget is per sending
            # host, so every new host gets its warning line -- a flood of warnings
            k = 0
            while not stop.is_set():
                for _ in range(40):
                    k += 1
                    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                        s.bind((f"127.0.{1 + (k // 250) % 200}.{1 + k % 250}", 0))
                        s.sendto(b"/dancemuse/control/" + b"x" * (100 + k % 50) + b"\x00" * 4, osc)
                time.sleep(0.01)

        async def watch() -> tuple[int, int, float]:
            async with connect(ws_url, max_size=2**22) as ws:
                hello = json.loads(await ws.recv())
                assert hello["type"] == "hello"
                stop = threading.Event()
                th = threading.Thread(target=flood, args=(stop,), daemon=True)
                th.start()
                try:
                    # until the pipe is full, then 4 more seconds of frames
                    t_full = None
                    n_after = 0
                    t_end = time.monotonic() + 60
                    assert proc.stderr is not None
                    while time.monotonic() < t_end:
                        msg = await asyncio.wait_for(ws.recv(), timeout=2.0)  # a stall fails here
                        if isinstance(msg, str) and json.loads(msg).get("type") != "frame":
                            continue
                        if t_full is None:
                            if _pipe_bytes(proc.stderr.fileno()) >= 60_000:
                                t_full = time.monotonic()
                                t_end = t_full + 4.0
                        else:
                            n_after += 1
                    assert t_full is not None, f"stderr pipe holds only {_pipe_bytes(proc.stderr.fileno())} bytes"
                    return n_after, _pipe_bytes(proc.stderr.fileno()), 4.0
                finally:
                    stop.set()
                    th.join()

        n_after, in_pipe, seconds = asyncio.run(watch())
        assert in_pipe >= 60_000
        fps = 30
        assert n_after >= 0.9 * fps * seconds, f"{n_after} frames in {seconds} s after stderr filled"
        # the server still answers HTTP, too
        import urllib.request

        with urllib.request.urlopen(url.rstrip("/") + "/status", timeout=5) as r:
            assert r.status == 200
    finally:
        proc.kill()
        proc.wait(timeout=10)
        out.close()


def test_http_requests_during_a_show_log_no_websockets_info_lines(model_path: Path, tmp_path: Path) -> None:
    import urllib.request

    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "live.cli", "live", "--model", str(model_path), "--input", "demo", "--no-osc",
         "--osc-listen", "", "--port", "0", "--duration", "6"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        url = ""
        for line in proc.stdout:
            if line.startswith("DanceMuse live: open "):
                url = line.split("open ", 1)[1].strip()
                break
        assert url
        for _ in range(5):
            with urllib.request.urlopen(url.rstrip("/") + "/status", timeout=10) as r:
                assert r.status == 200
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert not [ln for ln in err.splitlines() if " websockets" in ln], err


def test_websockets_logger_is_quiet_unless_debug() -> None:
    from live.cli import setup_logging

    setup_logging("info")
    assert logging.getLogger("websockets").getEffectiveLevel() == logging.WARNING
    setup_logging("debug")
    assert logging.getLogger("websockets").getEffectiveLevel() == logging.DEBUG
    setup_logging("info")
