"""Servers for the visualizer's browser tests (tests/test_visualizer.py).

- StandInServer: the wire protocol of live/ws_server.py in plain websockets, with
  synthetic dancing frames and the real live/upload.py (synthetic generator);
- WebServerThread: H7's live.ws_server.WebServer in a thread, fed synthetic frames;
- start_live/stop_live: the real ``dancemuse live`` as a subprocess;
- chromium_page: a headless Chromium page with its JavaScript errors collected.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import mimetypes
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest

from live import upload
from model.config import defaults
from model.skeleton import BONES, JOINT_NAMES, PARENTS, rest_pose

REPO = Path(__file__).resolve().parent.parent
VIS = REPO / "visualizer"
STYLES = ["house", "hiphop", "ballet", "popping"]
BINARY_LAYOUT = ["index", "t", "latency_ms", "tempo", "beat", "beat_in_bar", "bar", "confidence", "joints*51"]
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _sine_pose(t: float) -> np.ndarray:
    p = rest_pose(on_floor=True)
    beat = 2 * math.pi * 2.0 * t
    p[:, 1] -= 0.05 * (1 - math.cos(beat))
    p[:, 0] += 0.15 * math.sin(beat / 4)
    for j, sign in ((9, 1), (10, -1)):
        p[j] += (0.12 * sign, 0.55 + 0.25 * math.sin(beat / 2 * sign), 0.1)
        p[j - 2] += (0.1 * sign, 0.25, 0.05)
    return p.astype(np.float32)


_CLIP: list[Any] = []
CLIP_FPS = 30
CLIP_BPM = 120.0


def _clip() -> Any:
    """32 s of H2's synthetic house choreography at 120 BPM (None if model/synth_dance.py
    is missing), made once."""
    if not _CLIP:
        try:
            from model.synth_dance import render_dance
            from model.synth_music import render_song

            song = render_song(feel="house", bpm=CLIP_BPM, seconds=32.0, seed=2)
            _CLIP.append(render_dance(song, style="house", fps=CLIP_FPS, seed=2).poses.astype(np.float32))
        except ImportError:
            _CLIP.append(None)
    return _CLIP[0]


def synthetic_pose(t: float) -> np.ndarray:
    """A dancing pose at time ``t`` s: the synthetic choreography (looped), on beats at 120 BPM."""
    clip = _clip()
    if clip is None:
        return _sine_pose(t)
    return clip[int(round(t * CLIP_FPS)) % len(clip)]


def synthetic_generate(path: Path, *, cfg: dict[str, Any], progress: Any) -> upload.Dance:
    """Stand-in offline generator: reads the WAV's length, dances the synthetic dance."""
    with wave.open(str(path), "rb") as w:
        seconds = w.getnframes() / w.getframerate()
    n = max(1, int(seconds * 30))
    poses = np.stack([synthetic_pose(i / 30) for i in range(n)])
    progress(1.0)
    return upload.Dance(poses=poses, fps=30, beats=np.arange(0, seconds, 0.5, dtype=np.float32))


class StandInServer:
    """The wire protocol of live/ws_server.py with synthetic frames, in a thread."""

    def __init__(self, *, port: int, fps: int = 30) -> None:
        self.port, self.fps = port, fps
        self.controls: dict[str, Any] = {"styles": [0.25] * 4, "energy": 1.0, "variation": 0.5,
                                         "smoothing": 0.5, "mirror": False, "hold": False, "root": "center"}
        self.frames = 0
        self.clients: set[Any] = set()
        self.upload_ctx = upload.make_context(defaults(), generate=synthetic_generate, make_video=False)
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> StandInServer:
        self.thread.start()
        assert self.ready.wait(10)
        return self

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self._stop.set)
        self.thread.join(5)
        self.upload_ctx.store.close()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._main())

    async def _main(self) -> None:
        from websockets.asyncio.server import serve

        self._stop = asyncio.Event()
        async with serve(self._handler, "127.0.0.1", self.port, process_request=self._http,
                         compression=None, max_size=65536):
            ticker = asyncio.create_task(self._tick())
            self.ready.set()
            await self._stop.wait()
            ticker.cancel()

    def _status(self) -> dict[str, Any]:
        return {"fps": self.fps, "frames": self.frames, "clients": len(self.clients),
                "controls": self.controls, "styles": STYLES, "provider": "stand-in", "model": "synthetic"}

    def _http(self, connection: Any, request: Any) -> Any:
        from websockets.datastructures import Headers
        from websockets.http11 import Response

        path = urlsplit(request.path).path
        if path in ("/ws", "/ws/upload"):
            return None
        if path == "/status":
            body = json.dumps(self._status()).encode()
            return Response(200, "OK", Headers([("Content-Type", "application/json")]), body)
        got = upload.serve_download(path, self.upload_ctx)
        if got is not None:
            return Response(got[0], "", Headers(got[1]), got[2])
        name = "index.html" if path == "/" else path.lstrip("/")
        file = (VIS / name).resolve()
        if VIS.resolve() not in file.parents or not file.is_file():
            return Response(404, "Not Found", Headers([("Content-Type", "text/plain")]), b"not found\n")
        ctype = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        return Response(200, "OK", Headers([("Content-Type", ctype)]), file.read_bytes())

    async def _handler(self, ws: Any) -> None:
        url = urlsplit(ws.request.path)
        if url.path == "/ws/upload":
            await upload.handle_upload(ws, self.upload_ctx)
            return
        fmt = parse_qs(url.query).get("format", ["json"])[0]
        ws.fmt = fmt
        hello = {
            "type": "hello", "version": 1, "fps": self.fps,
            "skeleton": {"joints": list(JOINT_NAMES), "bones": [list(b) for b in BONES], "parents": list(PARENTS)},
            "model": {"name": "synthetic", "provider": "stand-in", "styles": STYLES,
                      "controls": ["energy", "variation"], "meta": {}},
            "controls": self.controls, "format": fmt, "binary_layout": BINARY_LAYOUT,
        }
        await ws.send(json.dumps(hello))
        self.clients.add(ws)
        try:
            async for raw in ws:
                msg = json.loads(raw)
                if msg.get("type") == "ping":
                    await ws.send('{"type": "pong"}')
                elif msg.get("type") == "control":
                    await self._control(ws, msg)
        finally:
            self.clients.discard(ws)

    async def _control(self, ws: Any, msg: dict[str, Any]) -> None:
        name, value = msg.get("name"), msg.get("value")
        if name == "style" and isinstance(value, list) and len(value) == 2 and value[0] in STYLES:
            self.controls["styles"][STYLES.index(value[0])] = float(value[1])
        elif name in ("energy", "variation", "smoothing") and isinstance(value, (int, float)):
            self.controls[name] = float(value)
        elif name in ("mirror", "hold") and isinstance(value, bool):
            self.controls[name] = value
        elif name == "root" and value in ("center", "follow"):
            self.controls[name] = value
        elif name not in ("reset", "tempo/tap"):
            await ws.send(json.dumps({"type": "error", "id": msg.get("id"), "message": f"unknown control {name!r}"}))
            return
        await ws.send(json.dumps({"type": "ack", "id": msg.get("id"), "name": name, "value": value}))
        state = json.dumps({"type": "state", "controls": self.controls})
        for c in list(self.clients):
            await c.send(state)

    async def _tick(self) -> None:
        t0 = time.perf_counter()
        while True:
            i = self.frames
            t = i / self.fps
            pose = synthetic_pose(t)
            beat_n = int(t * 2)
            beat = int((t - 1 / self.fps) * 2) != beat_n
            vals = [i, t, 3.0, 120.0, float(beat), beat_n % 4 + 1, beat_n // 4, 0.9]
            binary = struct.pack("<59f", *vals, *pose.reshape(-1))
            text = json.dumps({"type": "frame", "i": i, "t": t, "wall": time.time(),
                               "joints": pose.reshape(-1).tolist(), "beat": beat,
                               "beat_in_bar": beat_n % 4 + 1, "bar": beat_n // 4,
                               "tempo": 120.0, "confidence": 0.9, "latency_ms": 3.0})
            for c in list(self.clients):
                try:
                    await c.send(binary if c.fmt == "binary" else text)
                except Exception:  # noqa: BLE001 - a closed client
                    self.clients.discard(c)
            self.frames += 1
            ahead = t0 + self.frames / self.fps - time.perf_counter()
            if ahead < -0.5:  # fell far behind (a busy machine): skip ahead, like audio would
                t0 -= ahead
                ahead = 0.0
            await asyncio.sleep(max(0.0, ahead))


class WebServerThread:
    """H7's live.ws_server.WebServer in a thread, fed synthetic frames (token, reconnects)."""

    def __init__(self, *, port: int, token: str) -> None:
        self.cfg = defaults()
        self.cfg["websocket"].update(port=port, token=token)
        self.controls: dict[str, Any] = {"styles": [0.25] * 4, "energy": 1.0, "variation": 0.5}
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=lambda: self.loop.run_until_complete(self._main()), daemon=True)

    def start(self) -> WebServerThread:
        self.thread.start()
        assert self.ready.wait(15), "WebServer did not start"
        return self

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self._stop.set)
        self.thread.join(10)

    def _apply(self, control: Any) -> dict[str, Any]:
        if control.name in ("energy", "variation"):
            self.controls[control.name] = float(control.value)
        return dict(self.controls)

    async def _main(self) -> None:
        from live.frame import Frame
        from live.ws_server import WebServer

        self._stop = asyncio.Event()
        hello = {"fps": 30, "controls": self.controls,
                 "model": {"name": "synthetic", "provider": "none", "styles": STYLES,
                           "controls": ["energy", "variation"], "meta": {}}}
        server = WebServer(self.cfg, hello=lambda: hello, status=lambda: {"controls": self.controls},
                           apply=self._apply)
        await server.start()
        self.ready.set()
        i = 0
        while not self._stop.is_set():
            t = i / 30
            server.publish(Frame(index=i, t=t, wall=time.time(), joints=synthetic_pose(t),
                                 beat=i % 15 == 0, beat_in_bar=(i // 15) % 4 + 1, bar=i // 60, tempo=120.0))
            i += 1
            await asyncio.sleep(1 / 30)
        await server.stop()


def wav_file(path: Path, *, seconds: float, sr: int = 22050) -> Path:
    """A click track with a bass tone at 120 BPM, as a 16-bit WAV."""
    t = np.arange(int(seconds * sr)) / sr
    sig = 0.2 * np.sin(2 * np.pi * 110 * t) + 0.5 * np.exp(-((t % 0.5) * 40)) * np.sin(2 * np.pi * 60 * t)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes((np.clip(sig, -1, 1) * 32767).astype("<i2").tobytes())
    return path


# ---------------------------------------------------------------------------------- fixtures


DEFAULT_MODEL = REPO / "models" / "default.onnx"


def start_live(model: Path, log: Path, *extra: str) -> tuple[subprocess.Popen[bytes], str]:
    """``dancemuse live`` on the demo song, real time, a free port, no OSC, with ``extra``
    options; waits for frames."""
    port = free_port()
    cmd = [sys.executable, "-m", "live.cli", "live", "--input", "demo", "--port", str(port),
           "--no-osc", "--osc-listen", "", "--model", str(model), *extra]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"dancemuse live exited ({proc.returncode}): {log.read_text()[-2000:]}")
        try:
            if get_json(url + "/status").get("frames", 0) > 0:
                return proc, url
        except OSError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise RuntimeError(f"dancemuse live made no frames in 90 s: {log.read_text()[-2000:]}")


def stop_live(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def get_json(url: str) -> Any:
    from urllib.request import urlopen

    with urlopen(url, timeout=5) as r:
        return json.loads(r.read())


@contextlib.contextmanager
def chromium_page(url: str) -> Iterator[Any]:
    """A 1280x720 page of headless Debian Chromium (playwright) opened at ``url``; the page's
    JavaScript errors collect in ``page.errors``. Skips the test when chromium or playwright
    is missing. The browser closes when the block ends."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("Debian chromium is not installed (apt-get install chromium)")
    pw = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e \".[dev]\")")
    with pw.sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, headless=True, args=LAUNCH_ARGS)
        try:
            pg = b.new_page(viewport={"width": 1280, "height": 720})
            errors: list[str] = []
            pg.on("pageerror", lambda e: errors.append(str(e)))
            pg.errors = errors
            pg.goto(url)
            yield pg
        finally:
            b.close()
