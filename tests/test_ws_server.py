"""live/ws_server.py with real sockets and the real websockets client."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from live import ws_server, wsproto
from live.control import Control
from live.frame import Frame
from live.ws_server import VISUALIZER_DIR, WRITE_LIMIT, WebServer
from model.config import defaults
from model.errors import ConfigError, ProtocolError

STYLES = ["house", "hiphop", "ballet", "popping"]


class App:
    """A stand-in for the app: controls state, status, apply."""

    def __init__(self) -> None:
        self.controls: dict[str, Any] = {"energy": 1.0, "mirror": False}
        self.applied: list[Control] = []

    def hello(self) -> dict[str, Any]:
        return {"fps": 30, "model": {"name": "test", "provider": "cpu", "styles": STYLES}, "controls": self.controls}

    def status(self) -> dict[str, Any]:
        return {"fps": 30, "frames": 12, "latency_ms": {"p50": 1.0, "p99": 2.0}, "tempo": 120.0,
                "confidence": 0.9, "provider": "cpu", "model": "test", "controls": self.controls,
                "styles": STYLES}

    def apply(self, c: Control) -> dict[str, Any]:
        if c.name == "variation" and c.value == 0.0:
            raise ProtocolError("the engine refuses variation 0 in this test")
        self.applied.append(c)
        self.controls[c.name] = c.value
        return dict(self.controls)


def frame(i: int) -> Frame:
    j = np.full((17, 3), i / 1000.0, dtype=np.float32)
    return Frame(index=i, t=i / 30, wall=time.time(), joints=j, beat=i % 15 == 0, beat_in_bar=1, bar=i // 60,
                 tempo=120.0, confidence=0.9, latency_ms=1.5)


def make_server(app: App, *, static_dir: Path | None = None, **ws: Any) -> WebServer:
    cfg = defaults()
    cfg["websocket"].update(port=0, **ws)
    kw: dict[str, Any] = {"static_dir": static_dir} if static_dir else {}
    return WebServer(cfg, hello=app.hello, status=app.status, apply=app.apply, **kw)


def run(coro_fn: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(coro_fn(), 30))


async def until(cond: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.002)


class Reader:
    """A client that reads everything into a list."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.got: list[str | bytes] = []
        self.closed = False
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        try:
            async for m in self.ws:
                self.got.append(m)
        except ConnectionClosed:
            pass
        self.closed = True

    def frames(self) -> list[Any]:
        out = []
        for m in self.got:
            if isinstance(m, bytes):
                out.append(wsproto.decode_binary(m)["index"])
            else:
                o = json.loads(m)
                if o["type"] == "frame":
                    out.append(o["i"])
        return out

    def of_type(self, t: str) -> list[dict[str, Any]]:
        return [o for o in (json.loads(m) for m in self.got if isinstance(m, str)) if o["type"] == t]


async def raw_http(host: str, port: int, request: str) -> tuple[int, dict[str, str], bytes]:
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(request.encode("latin-1"))
    await writer.drain()
    data = await reader.read()
    writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
    return status, headers, body


async def get(srv: WebServer, path: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    host, port = srv.address
    extra = "".join(f"{k.replace('_', '-')}: {v}\r\n" for k, v in headers.items())
    return await raw_http(host, port, f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n{extra}\r\n")


def ws_url(srv: WebServer, query: str = "") -> str:
    host, port = srv.address
    return f"ws://{host}:{port}/ws{query}"


# ---------------------------------------------------------------------------- streaming


def test_hello_then_every_frame_in_both_formats() -> None:
    async def main() -> None:
        app = App()
        srv = make_server(app)
        await srv.start()
        a = Reader(await connect(ws_url(srv)))
        b = Reader(await connect(ws_url(srv, "?format=binary")))
        await until(lambda: srv.clients == 2 and len(a.got) == 1 and len(b.got) == 1)
        for i in range(120):
            srv.publish(frame(i))
            await until(lambda i=i: min(len(a.got), len(b.got)) >= i - 3)  # healthy readers keep up
        await until(lambda: len(a.got) == 121 and len(b.got) == 121)
        for r, fmt in ((a, "json"), (b, "binary")):
            hello = json.loads(r.got[0])
            assert hello["type"] == "hello" and hello["format"] == fmt and hello["fps"] == 30
            assert hello["model"]["styles"] == STYLES and len(hello["skeleton"]["joints"]) == 17
            assert r.frames() == list(range(120))
        first = json.loads(a.got[1])
        assert len(first["joints"]) == 51 and first["beat"] is True and first["tempo"] == 120.0
        assert all(isinstance(m, bytes) and len(m) == 236 for m in b.got[1:])
        assert srv.dropped() == {"1": 0, "2": 0}
        await a.ws.close()
        await b.ws.close()
        await srv.stop()

    run(main)


def test_a_client_that_never_reads_does_not_delay_others_and_is_closed() -> None:
    async def main() -> None:
        app = App()
        srv = make_server(app, stall_timeout=0.5, queue=8)
        await srv.start()
        host, port = srv.address
        loop = asyncio.get_running_loop()
        stuck = socket.socket()
        stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stuck.setblocking(False)
        await loop.sock_connect(stuck, (host, port))
        await loop.sock_sendall(stuck, (
            f"GET /ws HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        await until(lambda: srv.clients == 1)
        stuck_client = next(iter(srv._clients.values()))
        healthy = [Reader(await connect(ws_url(srv, q))) for q in ("", "?format=binary", "")]
        await until(lambda: srv.clients == 4)
        max_queue = max_buffer = 0
        i = 0
        t0 = time.monotonic()
        while srv.stalled == 0 and time.monotonic() - t0 < 15:
            srv.publish(frame(i))
            i += 1
            await until(lambda i=i: all(len(h.got) >= i - 3 for h in healthy))
            max_queue = max(max_queue, len(stuck_client.frames))
            if stuck_client.conn.transport is not None:
                max_buffer = max(max_buffer, stuck_client.conn.transport.get_write_buffer_size())
        assert srv.stalled == 1, "the stuck client was never closed"
        assert stuck_client.id not in srv._clients and srv.clients == 3
        assert stuck_client.dropped > 0
        assert max_queue <= 8  # bounded: newest replaced oldest
        assert max_buffer <= WRITE_LIMIT + 4096  # websockets' write_limit + one frame
        for k in range(i, i + 30):  # the others go on
            srv.publish(frame(k))
            await until(lambda k=k: all(len(h.got) >= k - 3 for h in healthy))
        await until(lambda: all(len(h.got) == i + 31 for h in healthy))
        assert srv.dropped() == {"2": 0, "3": 0, "4": 0}
        for h in healthy:
            assert h.frames() == list(range(i + 30))
            await h.ws.close()
        stuck.close()
        await srv.stop()

    run(main)


def test_publish_without_clients_and_stop_is_quick() -> None:
    async def main() -> None:
        srv = make_server(App())
        await srv.start()
        srv.publish(frame(0))
        t = time.monotonic()
        await srv.stop()
        assert time.monotonic() - t < 1.0

    run(main)


# ---------------------------------------------------------------------------- control


def test_control_ack_and_state_to_every_client() -> None:
    async def main() -> None:
        app = App()
        srv = make_server(app)
        await srv.start()
        a = Reader(await connect(ws_url(srv)))
        b = Reader(await connect(ws_url(srv)))
        await until(lambda: len(a.got) == 1 and len(b.got) == 1)
        await a.ws.send(json.dumps({"type": "control", "id": "x1", "name": "style", "value": ["ballet", 0.5]}))
        await until(lambda: a.of_type("state") and b.of_type("state"))
        assert a.of_type("ack") == [{"type": "ack", "id": "x1", "name": "style", "value": ["ballet", 0.5]}]
        assert b.of_type("ack") == []
        assert b.of_type("state")[0]["controls"]["style"] == ["ballet", 0.5]
        assert app.applied == [Control("style", ("ballet", 0.5), app.applied[0].source)]
        assert app.applied[0].source.startswith("ws:1@")
        await a.ws.send('{"type":"ping"}')
        await until(lambda: bool(a.of_type("pong")))
        await a.ws.close()
        await b.ws.close()
        await srv.stop()

    run(main)


def test_bad_messages_get_error_replies_and_the_server_runs_on() -> None:
    async def main() -> None:
        app = App()
        srv = make_server(app, max_message=1024)
        await srv.start()
        a = Reader(await connect(ws_url(srv)))
        await until(lambda: len(a.got) == 1)
        bad = [
            "{not json",
            "[1, 2]",
            json.dumps({"type": "control", "id": 2, "name": "fly", "value": 1}),
            json.dumps({"type": "control", "id": 3, "name": "energy", "value": 9}),
            json.dumps({"type": "control", "id": 4, "name": "style", "value": ["salsa", 1]}),
            json.dumps({"type": "control", "id": 5, "name": "variation", "value": 0.0}),  # engine refuses
            json.dumps({"type": "dance"}),
            b"\x00\x01",
        ]
        for m in bad:
            await a.ws.send(m)
        await until(lambda: len(a.of_type("error")) == len(bad))
        errors = a.of_type("error")
        assert [e["id"] for e in errors] == [None, None, 2, 3, 4, 5, None, None]
        assert all("\n" not in e["message"] for e in errors)
        assert "unknown control 'fly'" in errors[2]["message"] and "salsa" in errors[4]["message"]
        assert app.applied == []
        # oversize: websockets closes this client with 1009; others and new clients are fine
        await a.ws.send(json.dumps({"type": "control", "name": "energy", "value": 1, "pad": "x" * 4000}))
        await until(lambda: a.closed)
        assert a.ws.close_code == 1009
        c = Reader(await connect(ws_url(srv)))
        await until(lambda: len(c.got) == 1)
        await c.ws.send(json.dumps({"type": "control", "id": 9, "name": "energy", "value": 1.5}))
        await until(lambda: bool(c.of_type("ack")))
        assert app.applied[-1].value == 1.5
        await c.ws.close()
        await srv.stop()

    run(main)


# ---------------------------------------------------------------------------- security


def test_token_required_when_set() -> None:
    async def main() -> None:
        srv = make_server(App(), token="s3cret-token")
        await srv.start()
        assert srv.url.endswith("/?token=s3cret-token")
        with pytest.raises(InvalidStatus) as e:
            await connect(ws_url(srv))
        assert e.value.response.status_code == 401
        with pytest.raises(InvalidStatus) as e:
            await connect(ws_url(srv, "?token=wrong"))
        assert e.value.response.status_code == 403
        ok = await connect(ws_url(srv, "?format=binary&token=s3cret-token"))
        assert json.loads(await ok.recv())["type"] == "hello"
        await ok.close()
        bearer = await connect(ws_url(srv), additional_headers={"Authorization": "Bearer s3cret-token"})
        await bearer.close()
        status, _, _ = await get(srv, "/api/dance/0123.json")
        assert status == 401
        await srv.stop()

    run(main)


def test_binding_beyond_loopback_generates_a_token() -> None:
    async def main() -> None:
        srv = make_server(App(), host="0.0.0.0")
        assert len(srv.token) >= 16
        await srv.start()
        assert f"?token={srv.token}" in srv.url and ":0/" not in srv.url
        port = srv.address[1]
        with pytest.raises(InvalidStatus) as e:
            await connect(f"ws://127.0.0.1:{port}/ws")
        assert e.value.response.status_code == 401
        ok = await connect(f"ws://127.0.0.1:{port}/ws?token={srv.token}")
        await ok.close()
        await srv.stop()
        assert make_server(App()).token == ""  # loopback: no token by default

    run(main)


def test_origin_checked() -> None:
    async def main() -> None:
        srv = make_server(App(), origins=["http://show.example:8000"])
        await srv.start()
        host, port = srv.address
        with pytest.raises(InvalidStatus) as e:
            await connect(ws_url(srv), origin="http://evil.example")  # type: ignore[arg-type]
        assert e.value.response.status_code == 403
        for origin in (f"http://{host}:{port}", "http://show.example:8000"):
            ws = await connect(ws_url(srv), origin=origin)  # type: ignore[arg-type]
            await ws.close()
        await srv.stop()

    run(main)


def test_max_clients_and_bad_format_refused() -> None:
    async def main() -> None:
        srv = make_server(App(), max_clients=1)
        await srv.start()
        one = await connect(ws_url(srv))
        await until(lambda: srv.clients == 1)
        with pytest.raises(InvalidStatus) as e:
            await connect(ws_url(srv))
        assert e.value.response.status_code == 503
        await one.close()
        with pytest.raises(InvalidStatus) as e:
            await connect(ws_url(srv, "?format=xml"))
        assert e.value.response.status_code == 400
        await srv.stop()

    run(main)


def test_bind_conflict_is_one_line() -> None:
    async def main() -> None:
        a = make_server(App())
        await a.start()
        cfg = defaults()
        cfg["websocket"]["port"] = a.address[1]
        with pytest.raises(ConfigError, match="cannot bind"):
            await WebServer(cfg).start()
        await a.stop()

    run(main)


# ---------------------------------------------------------------------------- HTTP


@pytest.fixture()
def site(tmp_path: Path) -> Path:
    root = tmp_path / "site"
    (root / "sub").mkdir(parents=True)
    (root / "index.html").write_text("<!doctype html><title>dm</title>")
    (root / "app.js").write_text("console.log(1)")
    (root / "style.css").write_text("body{}")
    (root / "sub" / "x.svg").write_text("<svg/>")
    (root / "secret.py").write_text("KEY = 1")
    (root / ".env").write_text("KEY=1")
    (tmp_path / "outside.txt").write_text("outside")
    (root / "link.txt").symlink_to(tmp_path / "outside.txt")
    return root


def test_static_files_with_content_types(site: Path) -> None:
    async def main() -> None:
        srv = make_server(App(), static_dir=site)
        await srv.start()
        for path, ctype, body in [
            ("/", "text/html; charset=utf-8", b"<!doctype html><title>dm</title>"),
            ("/index.html?token=abc", "text/html; charset=utf-8", b"<!doctype html><title>dm</title>"),
            ("/app.js", "text/javascript; charset=utf-8", b"console.log(1)"),
            ("/style.css", "text/css; charset=utf-8", b"body{}"),
            ("/sub/x.svg", "image/svg+xml", b"<svg/>"),
        ]:
            status, headers, got = await get(srv, path)
            assert (status, headers["content-type"], got) == (200, ctype, body), path
            assert headers["x-content-type-options"] == "nosniff"
        await srv.stop()

    run(main)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/../outside.txt", 403),
        ("/sub/../../outside.txt", 403),
        ("/%2e%2e/outside.txt", 403),
        ("/..%2foutside.txt", 403),
        ("/sub%2f..%2f..%2foutside.txt", 403),
        ("/..\\outside.txt", 403),
        ("/%5c..%5coutside.txt", 403),
        ("/.env", 403),
        ("/index.html%00.js", 403),
        ("//etc/passwd", 403),
        ("/link.txt", 404),  # symlink out of the folder
        ("/secret.py", 404),  # not a served file type
        ("/missing.js", 404),
        ("/sub", 404),
    ],
)
def test_traversal_and_unlisted_files_refused(site: Path, path: str, expected: int) -> None:
    async def main() -> None:
        srv = make_server(App(), static_dir=site)
        await srv.start()
        status, _, body = await get(srv, path)
        assert status == expected, (path, status, body)
        assert b"outside" not in body and b"KEY" not in body
        await srv.stop()

    run(main)


def test_default_folder_is_the_visualizer_and_python_is_never_served() -> None:
    async def main() -> None:
        srv = make_server(App())
        assert srv.static_dir == VISUALIZER_DIR.resolve()
        await srv.start()
        status, _, _ = await get(srv, "/__init__.py")
        assert status == 404
        status, _, _ = await get(srv, "/../live/ws_server.py")
        assert status == 403
        if (VISUALIZER_DIR / "index.html").exists():
            status, headers, body = await get(srv, "/")
            assert status == 200 and headers["content-type"].startswith("text/html") and body
        await srv.stop()

    run(main)


def test_status_json() -> None:
    async def main() -> None:
        srv = make_server(App(), queue=2)
        await srv.start()
        a = await connect(ws_url(srv))
        await until(lambda: srv.clients == 1)
        status, headers, body = await get(srv, "/status")
        assert status == 200 and headers["content-type"] == "application/json"
        s = json.loads(body)
        assert s["clients"] == 1 and s["dropped"] == {"1": 0}
        for key in ("fps", "frames", "latency_ms", "provider", "model", "tempo", "confidence", "controls", "styles"):
            assert key in s
        assert s["latency_ms"] == {"p50": 1.0, "p99": 2.0}
        await a.close()
        await srv.stop()

    run(main)


def test_plain_http_get_on_ws_is_refused_not_crashing() -> None:
    async def main() -> None:
        srv = make_server(App())
        await srv.start()
        status, _, _ = await get(srv, "/ws")
        assert status == 426  # Upgrade Required
        ws = await connect(ws_url(srv))  # still serving
        await ws.close()
        await srv.stop()

    run(main)


def test_app_style_keywords_and_no_double_state_when_apply_broadcasts() -> None:
    async def main() -> None:
        controls: dict[str, Any] = {"energy": 1.0}
        holder: dict[str, WebServer] = {}

        def sink(c: Control) -> dict[str, Any]:  # like the app: applies, then broadcasts itself
            controls[c.name] = c.value
            holder["srv"].broadcast_state(controls)
            return dict(controls)

        cfg = defaults()["websocket"]
        cfg["port"] = 0
        srv = WebServer(cfg, token="", status=lambda: {"fps": 60}, sink=sink,
                        model={"name": "m", "styles": STYLES}, controls=lambda: dict(controls), fps=60)
        holder["srv"] = srv
        await srv.start()
        a = Reader(await connect(ws_url(srv, "?format=binary")))
        await until(lambda: len(a.got) == 1)
        hello = json.loads(a.got[0])
        assert hello["fps"] == 60 and hello["model"]["styles"] == STYLES and hello["controls"] == {"energy": 1.0}
        await a.ws.send(json.dumps({"type": "control", "id": 1, "name": "energy", "value": 0.5}))
        await until(lambda: bool(a.of_type("ack")) and bool(a.of_type("state")))
        srv.broadcast(frame(0))  # the app's name for publish
        await until(lambda: a.frames() == [0])
        assert len(a.of_type("state")) == 1 and a.of_type("state")[0]["controls"] == {"energy": 0.5}
        await a.ws.close()
        await srv.stop()

    run(main)


def test_a_crashing_apply_answers_an_error_and_the_connection_lives() -> None:
    async def main() -> None:
        def broken(c: Control) -> dict[str, Any]:
            raise RuntimeError("bug")

        cfg = defaults()["websocket"]
        cfg["port"] = 0
        srv = WebServer(cfg, sink=broken, model={"styles": STYLES}, fps=30)
        await srv.start()
        a = Reader(await connect(ws_url(srv)))
        await a.ws.send(json.dumps({"type": "control", "id": 4, "name": "hold", "value": True}))
        await until(lambda: bool(a.of_type("error")))
        assert a.of_type("error")[0]["id"] == 4 and "internal error" in a.of_type("error")[0]["message"]
        srv.publish(frame(0))
        await until(lambda: a.frames() == [0])
        await a.ws.close()
        await srv.stop()

    run(main)


def test_upload_routes_reach_live_upload_with_the_token() -> None:
    upload = pytest.importorskip("live.upload")

    def generate(path: Path, *, cfg: dict[str, Any], progress: Any) -> Any:
        progress(1.0)
        return upload.Dance(poses=np.zeros((45, 17, 3), np.float32), fps=30, beats=np.zeros(0, np.float32))

    async def main() -> None:
        cfg = defaults()
        cfg["websocket"].update(port=0, token="tok")
        ctx = upload.make_context(cfg, generate=generate, make_video=False)
        srv = WebServer(cfg, hello=App().hello, upload=ctx)
        await srv.start()
        host, port = srv.address
        with pytest.raises(InvalidStatus) as e:
            await connect(f"ws://{host}:{port}/ws/upload")
        assert e.value.response.status_code == 401
        ws = await connect(f"ws://{host}:{port}/ws/upload?token=tok")
        body = b"\x00" * 5000
        await ws.send(json.dumps({"type": "upload", "name": "song.wav", "size": len(body)}))
        ready = json.loads(await ws.recv())
        assert ready["type"] == "ready" and ready["chunk"] <= srv.max_message
        for k in range(0, len(body), ready["chunk"]):
            await ws.send(body[k:k + ready["chunk"]])
        dance = None
        while dance is None:
            m = json.loads(await ws.recv())
            assert m["type"] != "error", m
            dance = m if m["type"] == "dance" else None
        await ws.close()
        url = dance["downloads"]["json"]
        status, _, _ = await get(srv, url)
        assert status == 401
        status, headers, got = await get(srv, url + "?token=tok")
        assert status == 200 and headers["content-type"] == "application/json" and got
        status, _, _ = await get(srv, "/api/dance/nothing.json?token=tok")
        assert status == 404
        await srv.stop()
        ctx.store.close()

    run(main)


def test_stop_delivers_the_queued_frames_first() -> None:
    async def main() -> None:
        srv = make_server(App(), queue=64)
        await srv.start()
        a = Reader(await connect(ws_url(srv)))
        await until(lambda: len(a.got) == 1)
        for i in range(40):  # a burst, then the show ends at once
            srv.publish(frame(i))
        await srv.stop()
        await until(lambda: a.closed)
        assert a.frames() == list(range(40))

    run(main)


# ---------------------------------------------------------------------------- bursts and stalls


def test_a_reading_client_gets_a_burst_longer_than_the_queue() -> None:
    """After the loop was held up it makes the missed frames back to back (a catch-up, or
    a microphone backlog in one block): a client that reads gets all of them."""
    async def main() -> None:
        srv = make_server(App(), queue=4)
        await srv.start()
        a = Reader(await connect(ws_url(srv, "?format=binary")))
        await until(lambda: len(a.got) == 1)
        for i in range(40):  # without yielding: the sender cannot run in between
            srv.publish(frame(i))
        assert len(srv._clients[1].frames) == 40
        await until(lambda: len(a.got) == 41)
        assert a.frames() == list(range(40))
        assert srv.dropped() == {"1": 0} and srv.dropped_total == 0
        await a.ws.close()
        await srv.stop()

    run(main)


def test_a_burst_beyond_burst_s_keeps_the_newest_frames() -> None:
    async def main() -> None:
        srv = make_server(App(), queue=4)  # App's hello says 30 fps
        await srv.start()
        assert srv.burst == int(ws_server.BURST_S * 30 + 0.5)
        a = Reader(await connect(ws_url(srv, "?format=binary")))
        await until(lambda: len(a.got) == 1)
        n = srv.burst + 10
        for i in range(n):
            srv.publish(frame(i))
        await until(lambda: len(a.got) == srv.burst + 1)
        assert a.frames() == list(range(10, n))
        assert srv.dropped() == {"1": 10}
        await a.ws.close()
        await srv.stop()

    run(main)


def test_a_loop_stall_longer_than_stall_timeout_closes_no_reading_client() -> None:
    async def main() -> None:
        srv = make_server(App(), stall_timeout=0.5)
        await srv.start()
        a = Reader(await connect(ws_url(srv, "?format=binary")))
        await until(lambda: len(a.got) == 1)
        for i in range(3):
            srv.publish(frame(2 * i))
            time.sleep(0.6)  # the whole loop blocked with frames queued (a blocking call, a stolen CPU)
            srv.publish(frame(2 * i + 1))
            await until(lambda i=i: len(a.got) == 2 * i + 3)
        await asyncio.sleep(0.3)  # the watchdog looks again
        assert srv.stalled == 0 and srv.clients == 1 and not a.closed
        assert a.frames() == list(range(6))
        await a.ws.close()
        await srv.stop()

    run(main)


def test_stop_lets_a_slow_client_take_the_frames_already_in_its_socket() -> None:
    """A show that ends (``stop``) first waits, up to its flush time, for what each live client
    has not taken yet: frames queued here and bytes already handed to the socket. A client
    with a small receive buffer that starts reading only as the show stops still gets every
    frame and a clean close (before, the wait ended when the queue here was empty and the
    client was cut off with its last frames in the socket's write buffer)."""
    from websockets.exceptions import ConnectionClosedOK

    async def main() -> None:
        app = App()
        srv = make_server(app, queue=4096)
        await srv.start()
        host, port = srv.address
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect((host, port))
        sock.setblocking(False)
        ws = await connect(f"ws://{host}:{port}/ws", sock=sock, max_queue=1)
        await until(lambda: srv.clients == 1)
        n = 600  # ~900 KB of JSON frames: far more than the socket buffers hold
        for i in range(n):
            srv.publish(frame(i))
        await asyncio.sleep(0.05)  # the sender fills the socket; this client reads nothing yet
        got: list[Any] = []
        closed_ok = False

        async def read() -> None:
            nonlocal closed_ok
            try:
                async for m in ws:
                    got.append(m)
                    await asyncio.sleep(0.001)  # a slow reader (a phone, a busy TouchDesigner)
            except ConnectionClosedOK:
                closed_ok = True
            else:
                closed_ok = True

        reader = asyncio.create_task(read())
        t0 = time.monotonic()
        await srv.stop(flush=5.0)
        await asyncio.wait_for(reader, 5)
        assert time.monotonic() - t0 < 5.0
        frames = [json.loads(m)["i"] for m in got if json.loads(m)["type"] == "frame"]
        assert frames == list(range(n)) and closed_ok

    run(main)
