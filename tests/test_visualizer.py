"""The visualizer page in headless Chromium (playwright) against a live server.

The page must connect, receive frames, draw a figure (pixels differ from the background
where the dancer stands), send a control made by dragging a slider in the page that
the server applies (visible in /status), run the song upload flow, and leave a
screenshot of the live view in tests/artifacts/.

Server: the real ``dancemuse live`` (subprocess, demo input, real time, free port) when
live/ws_server.py and live/app.py are present; otherwise a small stand-in server in
this file (plain websockets, the same wire protocol, synthetic dancing frames) so the
page can be tested before the app is complete. ``PYTHONPATH=. python tests/test_visualizer.py`` runs
the stand-in on port 8899 for a look in a browser.
"""

from __future__ import annotations

import asyncio
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


def synthetic_pose(t: float) -> np.ndarray:
    """A dancing pose at time ``t`` s (120 BPM bounce, swinging arms, stepping)."""
    p = rest_pose(on_floor=True)
    beat = 2 * math.pi * 2.0 * t
    p[:, 1] -= 0.05 * (1 - math.cos(beat))
    p[:, 0] += 0.15 * math.sin(beat / 4)
    for j, sign in ((9, 1), (10, -1)):
        p[j] += (0.12 * sign, 0.55 + 0.25 * math.sin(beat / 2 * sign), 0.1)
        p[j - 2] += (0.1 * sign, 0.25, 0.05)
    p[13, 1] += 0.08 * max(0.0, math.sin(beat / 2))
    p[15, 1] += 0.12 * max(0.0, math.sin(beat / 2))
    return p.astype(np.float32)


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


def start_live(model: Path, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """``dancemuse live`` on the demo song, real time, a free port, no OSC; waits for frames."""
    port = free_port()
    cmd = [sys.executable, "-m", "live.cli", "live", "--input", "demo", "--port", str(port),
           "--no-osc", "--osc-listen", "", "--model", str(model)]
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


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The real ``dancemuse live`` with the shipped model; the stand-in until that model
    exists. DANCEMUSE_VIS_SERVER=real forces the real app (with a toy model if needed),
    =standin the stand-in."""
    mode = os.environ.get("DANCEMUSE_VIS_SERVER", "auto")
    if mode == "real" or (mode == "auto" and DEFAULT_MODEL.exists()):
        model = DEFAULT_MODEL
        tmp = tmp_path_factory.mktemp("live")
        if not model.exists():
            from export.toy import build_toy_model
            from model.features import FeatureSpec

            spec = FeatureSpec.from_config(defaults()["features"])
            model = tmp / "toy.onnx"
            build_toy_model(model, feature_spec=spec.to_dict(), feature_dim=spec.dim)
        proc, url = start_live(model, tmp / "live.log")
        yield url
        stop_live(proc)
        return
    port = free_port()
    srv = StandInServer(port=port).start()
    yield f"http://127.0.0.1:{port}"
    srv.stop()


@pytest.fixture(scope="module")
def browser() -> Any:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("Debian chromium is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install playwright)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, headless=True, args=LAUNCH_ARGS)
        yield b
        b.close()


@pytest.fixture()
def page(browser: Any) -> Any:
    ctx = browser.new_context(viewport={"width": 1280, "height": 720})
    pg = ctx.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.errors = errors
    yield pg
    ctx.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def get_json(url: str) -> Any:
    from urllib.request import urlopen

    with urlopen(url, timeout=5) as r:
        return json.loads(r.read())


def figure_pixels(pg: Any) -> dict[str, float]:
    """Where the dancer's joints are projected, are the pixels bright (the glowing figure)?
    Returns the share of on-canvas joints with a bright pixel in a 5x5 patch, how many
    joints are on the canvas, and the share of bright pixels along the left edge."""
    return pg.evaluate(
        """() => {
        const r = dancemuse.renderer, c = r.canvas, g = c.getContext('2d');
        const bright = (x, y) => { const d = g.getImageData(x - 2, y - 2, 5, 5).data;
          for (let i = 0; i < d.length; i += 4) if (d[i] + d[i+1] + d[i+2] > 300) return true; return false; };
        let on = 0, lit = 0;
        for (let j = 0; j < 17; j++) {
          const x = Math.round(r.scr[j * 3]), y = Math.round(r.scr[j * 3 + 1]);
          if (!r.ok[j] || x < 2 || y < 2 || x > c.width - 3 || y > c.height - 3) continue;
          on++; if (bright(x, y)) lit++;
        }
        const e = g.getImageData(0, 0, Math.floor(c.width / 12), c.height).data; let n = 0;
        for (let i = 0; i < e.length; i += 4) if (e[i] + e[i+1] + e[i+2] > 300) n++;
        return {joints_on_canvas: on, lit: on ? lit / on : 0, edge: n / (e.length / 4)};
    }"""
    )


def assert_figure(pg: Any) -> None:
    px = figure_pixels(pg)
    assert px["joints_on_canvas"] >= 15, px   # the dancer is in view
    assert px["lit"] >= 0.8, px               # and drawn where its joints are
    assert px["edge"] < 0.01, px              # not everywhere


# ---------------------------------------------------------------------------------- tests


def test_page_connects_receives_frames_and_draws_a_dancer(server: str, page: Any, artifacts: Path) -> None:
    page.goto(server + "/?panel=1")
    page.wait_for_function("window.dancemuse && window.dancemuse.state === 'live' && window.dancemuse.frames > 20", timeout=15000)
    page.wait_for_timeout(500)
    s = page.evaluate("({frames: dancemuse.frames, drawn: dancemuse.drawn, fps: dancemuse.fps, "
                      "styles: dancemuse.hello.model.styles})")
    assert s["drawn"] > 10 and s["styles"]
    assert page.locator("#styles input[type=range]").count() == len(s["styles"])
    assert_figure(page)
    page.screenshot(path=str(artifacts / "visualizer_live.png"))


def test_dragging_a_slider_reaches_the_server(server: str, page: Any) -> None:
    page.goto(server + "/")
    page.wait_for_function("window.dancemuse && dancemuse.state === 'live'", timeout=15000)
    energy = page.locator("#ctl-energy")
    box = energy.bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.5, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.85, y, steps=8)
    page.mouse.up()
    page.wait_for_function("document.getElementById('control-status').dataset.acks > 0", timeout=5000)
    want = float(energy.input_value())
    assert want > 1.3
    deadline = time.time() + 5
    while time.time() < deadline:
        got = get_json(server + "/status")["controls"]["energy"]
        if abs(got - want) < 0.011:
            break
        time.sleep(0.1)
    assert abs(got - want) < 0.011, (got, want)
    assert "energy" in page.locator("#control-status").inner_text()


def test_upload_flow_returns_a_dance_that_plays(server: str, page: Any, tmp_path: Path) -> None:
    song = wav_file(tmp_path / "click.wav", seconds=4.0)
    page.goto(server + "/")
    page.wait_for_function("window.dancemuse && dancemuse.state === 'live'", timeout=15000)
    page.set_input_files("#upload-file", str(song))
    page.click("#upload-go")
    page.wait_for_function("document.getElementById('upload').dataset.danceId", timeout=30000)
    assert page.evaluate("dancemuse.mode") == "song"
    assert abs(page.evaluate("dancemuse.upload.dance.n") - 4 * 30) <= 3  # 4 s at 30 fps
    href = page.get_attribute("#dl-bvh", "href")
    assert href and href.endswith(".bvh")
    from urllib.request import urlopen

    with urlopen(server + href, timeout=5) as r:
        assert r.read(9) == b"HIERARCHY"
    assert_figure(page)
    page.click("#upload-live")
    assert page.evaluate("dancemuse.mode") == "live"


def test_projection_mode_hides_the_ui(server: str, page: Any, artifacts: Path) -> None:
    page.goto(server + "/")
    page.wait_for_function("window.dancemuse && dancemuse.frames > 5", timeout=15000)
    page.keyboard.press("p")
    assert page.locator("#panel").is_hidden() and page.locator("#hud").is_hidden()
    page.keyboard.press("t")
    page.wait_for_timeout(400)
    assert page.evaluate("dancemuse.renderer.options") == {"projection": True, "trails": True, "mirror": False}
    assert_figure(page)
    page.screenshot(path=str(artifacts / "visualizer_projection.png"))


def test_token_is_passed_on_errors_shown_and_the_page_reconnects(page: Any) -> None:
    pytest.importorskip("live.ws_server", reason="live/ws_server.py not present")
    port = free_port()
    srv = WebServerThread(port=port, token="s3cret").start()
    url = f"http://127.0.0.1:{port}/"
    try:
        page.goto(url + "?token=wrong")
        page.wait_for_timeout(1500)
        assert page.evaluate("dancemuse.frames") == 0
        assert page.evaluate("dancemuse.state") in ("reconnecting", "connecting")
        page.goto(url + "?token=s3cret")
        page.wait_for_function("dancemuse.state === 'live' && dancemuse.frames > 10", timeout=15000)
        # an out-of-range control: the server's one-line error shows in the panel
        page.evaluate("dancemuse.controls.sendNow('energy', 7)")
        page.wait_for_function("document.getElementById('control-status').dataset.errors > 0", timeout=5000)
        assert "energy" in page.locator("#control-status").inner_text()
        page.click("#ctl-tap")
        page.click("#ctl-reset")
        page.wait_for_function("document.getElementById('control-status').dataset.acks >= 2", timeout=5000)
        srv.stop()
        page.wait_for_function("dancemuse.state !== 'live'", timeout=10000)
        seen = page.evaluate("dancemuse.frames")
        srv = WebServerThread(port=port, token="s3cret").start()
        page.wait_for_function(f"dancemuse.state === 'live' && dancemuse.frames > {seen + 10}", timeout=20000)
    finally:
        srv.stop()


def test_binary_decoder_reads_the_layout(page: Any, server: str) -> None:
    page.goto(server + "/")
    vals = [7, 1.5, 12.0, 128.0, 1.0, 3, 2, 0.75] + [float(i) / 10 for i in range(51)]
    got = page.evaluate(
        """(vals) => { const b = new ArrayBuffer(vals.length * 4); const dv = new DataView(b);
        vals.forEach((v, i) => dv.setFloat32(i * 4, v, true));
        const f = new DM.net.FrameDecoder().decodeBinary(b);
        return [f.index, f.t, f.latency_ms, f.tempo, f.beat, f.beat_in_bar, f.bar, Array.from(f.joints)]; }""",
        vals,
    )
    assert got[:7] == [7, 1.5, 12.0, 128.0, True, 3, 2]
    assert np.allclose(got[7], vals[8:], atol=1e-6)


def take_screenshots(url: str, out: Path) -> list[Path]:
    """The README's pictures: live view with the controls, projection mode, the panel."""
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=shutil.which("chromium"), headless=True, args=LAUNCH_ARGS)
        pg = b.new_page(viewport={"width": 1280, "height": 720})
        pg.goto(url)
        pg.wait_for_function("window.dancemuse && dancemuse.frames > 60", timeout=20000)
        pg.locator("#ctl-energy").fill("1.3")
        pg.locator("#ctl-energy").dispatch_event("change")
        pg.wait_for_function("document.getElementById('control-status').dataset.acks > 0", timeout=5000)
        pg.wait_for_timeout(700)
        pg.screenshot(path=str(out / "live.png"))
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            song = wav_file(Path(tmp) / "my-song.wav", seconds=8.0)
            pg.set_input_files("#upload-file", str(song))
            pg.click("#upload-go")
            pg.wait_for_function("document.getElementById('upload').dataset.danceId", timeout=60000)
        pg.set_viewport_size({"width": 1280, "height": 1020})
        pg.wait_for_timeout(500)
        pg.locator("#panel").screenshot(path=str(out / "controls.png"))
        pg.set_viewport_size({"width": 1280, "height": 720})
        pg.click("#upload-live")
        pg.keyboard.press("p")
        pg.keyboard.press("t")
        pg.wait_for_timeout(1500)
        pg.screenshot(path=str(out / "projection.png"))
        b.close()
    return [out / n for n in ("live.png", "controls.png", "projection.png")]


if __name__ == "__main__":  # pragma: no cover - manual preview and README screenshots
    import sys

    if "--screenshots" in sys.argv:
        # PYTHONPATH=. python tests/test_visualizer.py --screenshots [URL of a running server]
        rest = [a for a in sys.argv[1:] if a != "--screenshots"]
        srv = None if rest else StandInServer(port=free_port()).start()
        target = rest[0] if rest else f"http://127.0.0.1:{srv.port}/"
        for f in take_screenshots(target, VIS / "screenshots"):
            print("wrote", f)
        if srv is not None:
            srv.stop()
        sys.exit(0)
    srv = StandInServer(port=8899).start()
    print("stand-in server on http://127.0.0.1:8899/ (Ctrl-C to stop)")
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        srv.stop()
