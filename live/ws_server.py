"""The web server: one TCP port for the visualizer, /status, the pose stream and control.

Built on websockets' asyncio server; plain HTTP requests are answered in
``process_request`` on the same port:

| path                        | what                                                       |
|-----------------------------|------------------------------------------------------------|
| GET / and static files      | files from visualizer/ only (html, js, css, svg, png, ...) |
| GET /status                 | JSON: fps, frames, latency, tempo, clients, dropped, ...   |
| WS  /ws?format=json|binary  | hello, then every frame; control messages in (wsproto.py)  |
| WS  /ws/upload              | song upload, handled by live/upload.py (if present)        |
| GET /api/dance/<id>.<ext>   | downloads, served by live/upload.py (if present)           |

Slow clients never stall the loop or other clients: ``publish(frame)`` encodes the frame
once per format and appends it to each client's bounded deque and returns at once. One
sender task per client writes its queue; control replies go first through a small queue
of their own. A sender writes everything queued in one go while the socket takes it (no
task or timer per message), so a client that reads keeps up even when the loop hands it
a burst of frames at once. The queue bound depends on whether the client reads:

- a client whose socket is backed up (bytes waiting in our write buffer: it is not reading,
  or reads slower than the stream) keeps at most ``queue`` frames; the newest replaces the
  oldest and the drop is counted;
- a client whose socket is empty is reading; frames pile up for it only when the loop
  itself was held up (a stall, then frames made back to back to catch up) and it keeps
  up to ``BURST_S`` seconds of them, so a short server stall costs it no frame.

A client that makes no progress for ``stall_timeout`` while it has something to receive is
closed (one watchdog task checks every client a few times per ``stall_timeout``; time the
loop itself was stalled does not count). Per client, memory is bounded by the queue (its
messages are shared with the other clients of the same format), websockets'
``write_limit`` and the socket send buffer.

Security: binds 127.0.0.1 by default. Any other bind needs a token (``websocket.token``,
or one generated with ``secrets`` and shown in ``url``). With a token set, /ws,
/ws/upload and /api/ need ``?token=...`` (or ``Authorization: Bearer ...``): missing ->
401, wrong -> 403. A request with an ``Origin`` header is refused (403) unless the origin
is this server's own host or listed in ``websocket.origins``. Static files come from
visualizer/ only: dot-files, ``..``, backslashes, NULs, symlinks out of the folder and
unknown file types are refused. /status is open (no secrets in it).

Interface (``cfg`` is the whole configuration or its ``[websocket]`` section)::

    server = WebServer(cfg, hello=lambda: {"fps": 30, "model": {...}, "controls": {...}},
                       status=app.status, apply=app.apply)
    await server.start(); print(server.url)
    server.publish(frame)            # from the event loop's thread, never blocks
    server.broadcast_state(controls)
    await server.stop()

``apply(control) -> dict`` receives every valid control from /ws and returns the new
controls; when it did not call ``broadcast_state`` itself, the server broadcasts the
returned state. The keywords ``sink`` (= apply), ``model``/``controls``/``fps`` (instead of
``hello``) and ``token`` (overrides the config) are accepted as well.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import http
import importlib
import ipaddress
import logging
import secrets
import socket
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from live import wsproto
from live.control import Control, RateLimitedLog, from_json
from live.frame import Frame
from model.errors import ConfigError, DanceMuseError, ProtocolError

log = logging.getLogger("dancemuse.web")

VISUALIZER_DIR = Path(__file__).resolve().parent.parent / "visualizer"
SEND_BUFFER = 32 * 1024
"""Kernel send buffer per WebSocket client, bytes (bounds memory; makes stalls visible)."""
WRITE_LIMIT = 8 * 1024
"""websockets' write buffer high-water mark per client, bytes: a send waits (and a stall can
be detected) once this much is buffered in user space."""
BURST_S = 2.0
"""Seconds of frames a client that reads may have queued (see the module docstring)."""
CONTROL_QUEUE = 64
"""Replies (hello, ack, error, state, pong) a client may have pending before it is closed."""
MAX_UPLOADS = 4


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Client:
    __slots__ = ("id", "conn", "fmt", "frames", "replies", "wake", "dropped", "sent", "task", "source",
                 "seen_sent", "progress_at")

    def __init__(self, cid: int, conn: ServerConnection, fmt: str, now: float) -> None:
        self.id = cid
        self.conn = conn
        self.fmt = fmt
        self.frames: collections.deque[str | bytes] = collections.deque()  # bounded in publish()
        self.replies: collections.deque[str] = collections.deque()
        self.wake = asyncio.Event()
        self.dropped = 0
        self.sent = 0
        self.seen_sent = 0  # the stall watchdog's last look: messages sent then, and when they last grew
        self.progress_at = now
        self.task: asyncio.Task[None] | None = None
        peer = conn.remote_address
        self.source = f"ws:{cid}@{peer[0]}" if peer else f"ws:{cid}"


class WebServer:
    """See the module docstring."""

    def __init__(
        self,
        cfg: Mapping[str, Any],
        *,
        hello: Callable[[], Mapping[str, Any]] | None = None,
        status: Callable[[], Mapping[str, Any]] | None = None,
        apply: Callable[[Control], Mapping[str, Any] | None] | None = None,
        upload: Any = None,
        sink: Callable[[Control], Mapping[str, Any] | None] | None = None,
        model: Mapping[str, Any] | None = None,
        controls: Callable[[], Mapping[str, Any]] | Mapping[str, Any] | None = None,
        fps: int | None = None,
        token: str | None = None,
        static_dir: Path = VISUALIZER_DIR,
    ) -> None:
        self.full_cfg: Mapping[str, Any] | None = cfg if "websocket" in cfg else None
        ws = dict(cfg["websocket"] if "websocket" in cfg else cfg)
        self.host = str(ws["host"])
        self.port = int(ws["port"])
        self.max_clients = int(ws["max_clients"])
        self.queue = int(ws["queue"])
        self.burst = self.queue  # frames a reading client may have queued; BURST_S of them once fps is known
        self.stall_timeout = float(ws["stall_timeout"])
        self.max_message = int(ws["max_message"])
        self.origins = {str(o).rstrip("/").lower() for o in ws.get("origins", [])}
        given = str(ws.get("token", "")) if token is None else str(token)
        self.token = given or ("" if is_loopback(self.host) else secrets.token_urlsafe(16))
        self._hello = hello
        self._model = dict(model or {})
        self._controls = controls
        self._fps = fps
        self._status = status
        self._apply = apply or sink
        self._upload_ctx = upload
        self._own_upload = upload is None  # made here on the first upload: stop() removes its dances
        self._upload_mod: Any = None
        self.static_dir = Path(static_dir).resolve()
        self._clients: dict[int, _Client] = {}
        self._next_id = 1
        self._uploads = 0
        self._state_seq = 0
        self._bin = wsproto.BinaryFrameEncoder()
        self._bin_rot = wsproto.BinaryFrameEncoder(rot=True)
        self.on_rotations: Callable[[], None] | None = None  # a client asked for rotations
        self._server: Server | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self.limiter = RateLimitedLog(log)
        self.dropped_total = 0
        self.stalled = 0
        self.frames_published = 0

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Bind the port. ConfigError (one line) when it cannot be bound."""
        self._load_upload()
        try:
            self._server = await serve(
                self._handler,
                self.host,
                self.port,
                process_request=self._process_request,
                compression=None,
                max_size=self.max_message,
                max_queue=16,
                write_limit=WRITE_LIMIT,
                ping_interval=20,
                ping_timeout=20,
                close_timeout=1,
                open_timeout=10,
                server_header="DanceMuse",
            )
        except OSError as e:
            raise ConfigError(
                f"web server cannot bind {self.host}:{self.port} ({e.strerror}); "
                "pick another port with --port or websocket.port"
            ) from None
        try:
            fps = int(self._hello_info().get("fps", 0)) or 60
        except Exception:  # a hello that cannot answer yet: assume the fastest rate
            fps = 60
        self.burst = max(self.queue, int(BURST_S * fps + 0.5))
        self._watchdog = asyncio.get_running_loop().create_task(self._watch_stalls(), name="ws-stall-watchdog")
        log.info("web server on %s", self.url)

    async def stop(self, *, flush: float = 0.25) -> None:
        """Give clients up to ``flush`` seconds to receive what is queued (so a show that ends
        delivers its last frames), then close every client (stuck ones are aborted) and the
        listening socket, and remove the uploaded songs' dances it kept (its own temporary folder;
        a store passed in as ``upload`` is its owner's to close)."""
        server, self._server = self._server, None
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + flush
        while loop.time() < deadline and any(self._unsent(c) for c in self._clients.values()):
            await asyncio.sleep(0.005)
        for c in list(self._clients.values()):
            if c.task is not None:
                c.task.cancel()
            transport = c.conn.transport
            if transport is not None and transport.get_write_buffer_size() > 0:
                transport.abort()
        if server is not None:
            server.close()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(server.wait_closed(), 2.0)
        if self._own_upload and self._upload_ctx is not None:
            # the uploaded songs' dances live in a temporary folder made on the first upload;
            # `dancemuse live` leaves with os._exit (live/commands/live.py), so no exit hook removes it
            self._upload_ctx.store.close()
            self._upload_ctx = None

    @staticmethod
    def _unsent(c: _Client) -> bool:
        """Whether a live client still has frames to receive: queued here, or already handed to
        its socket but not yet taken by the client (the transport's write buffer)."""
        if c.task is None or c.task.done():
            return False
        transport = c.conn.transport
        return bool(c.frames or c.replies) or (transport is not None and transport.get_write_buffer_size() > 0)

    @property
    def address(self) -> tuple[str, int]:
        """(host, port) bound (the real port when configured as 0)."""
        if self._server is not None:
            for s in self._server.sockets:
                name = s.getsockname()
                return str(name[0]), int(name[1])
        return self.host, self.port

    @property
    def url(self) -> str:
        """Ready-to-open visualizer URL, with the token when one is set."""
        host, port = self.address
        if host in ("0.0.0.0", "::", ""):
            host = socket.gethostname()
        elif ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{port}/" + (f"?token={self.token}" if self.token else "")

    @property
    def clients(self) -> int:
        return len(self._clients)

    def dropped(self) -> dict[str, int]:
        """Frames dropped so far per connected client id."""
        return {str(c.id): c.dropped for c in self._clients.values()}

    # ------------------------------------------------------------------ publishing
    def publish(self, frame: Frame) -> None:
        """Hand one frame to every client's queue. Never blocks; call it from the loop's thread."""
        self.frames_published += 1
        if not self._clients:
            return
        text: str | None = None
        data: bytes | None = None
        rot_msgs: dict[str, str | bytes] = {}
        for c in self._clients.values():
            msg: str | bytes
            if c.fmt == "binary":
                if data is None:
                    data = self._bin.encode(frame)
                msg = data
            elif c.fmt == "json":
                if text is None:
                    text = wsproto.frame_json(frame)
                msg = text
            else:  # with rotations (?rot=1)
                if c.fmt not in rot_msgs:
                    rot_msgs[c.fmt] = (self._bin_rot.encode(frame) if c.fmt.startswith("binary")
                                       else wsproto.frame_json(frame, rot=True))
                msg = rot_msgs[c.fmt]
            q = c.frames
            if len(q) >= self.queue and (len(q) >= self.burst or _backed_up(c)):
                q.popleft()
                c.dropped += 1
                self.dropped_total += 1
            q.append(msg)
            c.wake.set()

    broadcast = publish

    def broadcast_state(self, controls: Mapping[str, Any]) -> None:
        """Tell every client the current controls (``{"type": "state", ...}``)."""
        self._state_seq += 1
        if not self._clients:
            return
        msg = wsproto.state(controls)
        for c in list(self._clients.values()):
            self._reply(c, msg)

    def _reply(self, c: _Client, msg: str) -> None:
        if len(c.replies) >= CONTROL_QUEUE:
            self._abort(c, "not reading its replies")
            return
        c.replies.append(msg)
        c.wake.set()

    def _abort(self, c: _Client, why: str) -> None:
        log.warning("closing client %s: %s", c.source, why)
        self._clients.pop(c.id, None)
        transport = c.conn.transport
        if transport is not None:
            transport.abort()

    async def _sender(self, c: _Client) -> None:
        conn = c.conn
        try:
            while True:
                await c.wake.wait()
                c.wake.clear()
                while c.replies or c.frames:
                    msg = c.replies.popleft() if c.replies else c.frames.popleft()
                    # returns without yielding while the socket takes the data; waits (drain)
                    # when the client's write buffer is full: the watchdog ends a wait too long
                    await conn.send(msg)
                    c.sent += 1
        except ConnectionClosed:
            pass
        except Exception:  # never let a sender die silently with the client still listed
            log.exception("sending to %s failed", c.source)
            self._abort(c, "send failed")

    async def _watch_stalls(self) -> None:
        """Close clients that received nothing for ``stall_timeout`` while they had something
        to receive. Looks a few times per timeout; a look that comes late (the loop itself
        was held up) counts as progress for everyone."""
        loop = asyncio.get_running_loop()
        period = min(1.0, self.stall_timeout / 4)
        last = loop.time()
        while True:
            await asyncio.sleep(period)
            now = loop.time()
            late, last = now - last > 2 * period, now
            for c in list(self._clients.values()):
                if late or c.sent != c.seen_sent or not (c.frames or c.replies or _backed_up(c)):
                    c.seen_sent, c.progress_at = c.sent, now
                elif now - c.progress_at >= self.stall_timeout:
                    self.stalled += 1
                    self._abort(c, f"stalled for {self.stall_timeout:g} s (not reading)")

    # ------------------------------------------------------------------ WebSocket
    async def _handler(self, conn: ServerConnection) -> None:
        req = conn.request
        path, _, query = req.path.partition("?") if req is not None else ("", "", "")
        if path == "/ws/upload":
            await self._handle_upload(conn)
            return
        if len(self._clients) >= self.max_clients:
            await conn.close(1013, "too many clients; try again later")
            return
        qs = parse_qs(query)
        fmt = qs.get("format", ["json"])[0]
        if qs.get("rot", ["0"])[0].lower() in ("1", "true", "yes"):
            fmt += wsproto.ROT_SUFFIX
            if self.on_rotations is not None:
                self.on_rotations()
        with contextlib.suppress(OSError, AttributeError):
            sock = conn.transport.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
        c = _Client(self._next_id, conn, fmt, asyncio.get_running_loop().time())
        self._next_id += 1
        try:
            c.replies.append(self._hello_message(fmt))
        except Exception as e:  # a broken hello callback must not kill the server
            log.error("cannot build the hello: %s", e)
            await conn.close(1011, "server error building the hello")
            return
        c.wake.set()
        self._clients[c.id] = c
        c.task = asyncio.create_task(self._sender(c), name=f"ws-sender-{c.id}")
        log.info("client %s connected (%s)", c.source, fmt)
        try:
            async for message in conn:
                self._on_message(c, message)
        except ConnectionClosed:
            pass
        finally:
            self._clients.pop(c.id, None)
            if c.task is not None:
                c.task.cancel()
            log.info("client %s left (%d frames dropped)", c.source, c.dropped)

    def _hello_info(self) -> dict[str, Any]:
        if self._hello is not None:
            return dict(self._hello())
        ctl = self._controls() if callable(self._controls) else (self._controls or {})
        return {"fps": self._fps or 30, "model": self._model, "controls": ctl}

    def _hello_message(self, fmt: str) -> str:
        info = self._hello_info()
        return wsproto.hello(fps=int(info.get("fps", 30)), model=info.get("model", {}),
                             controls=info.get("controls", {}), fmt=fmt)

    def _styles(self) -> list[str]:
        info = self._hello_info()
        return list(info.get("model", {}).get("styles", []))

    def _on_message(self, c: _Client, message: str | bytes) -> None:
        msg_id: Any = None
        try:
            obj = wsproto.parse_client(message, max_size=self.max_message)
            msg_id = obj.get("id")
            kind = obj["type"]
            if kind == "ping":
                self._reply(c, wsproto.PONG)
                return
            if kind != "control":
                raise ProtocolError(f"unknown message type {str(kind)[:40]!r}; send control or ping")
            control = from_json(obj, styles=self._styles(), source=c.source)
            if self._apply is None:
                raise ProtocolError("this server takes no controls")
            seq = self._state_seq
            new_state = self._apply(control)
            self._reply(c, wsproto.ack(msg_id, control.name, control.value))
            if self._state_seq == seq and new_state is not None:
                self.broadcast_state(new_state)
        except DanceMuseError as e:
            self.limiter.warn(c.source, str(e))
            self._reply(c, wsproto.error(msg_id, str(e)))
        except Exception:  # a bug behind apply must not take the connection down
            log.exception("control from %s failed", c.source)
            self._reply(c, wsproto.error(msg_id, "internal error applying this control; see the server log"))

    async def _handle_upload(self, conn: ServerConnection) -> None:
        if self._upload_mod is None:
            await conn.close(1008, "uploads are not available on this server")
            return
        if self._uploads >= MAX_UPLOADS:
            await conn.close(1013, "too many uploads at once; try again later")
            return
        self._uploads += 1
        try:
            await self._upload_mod.handle_upload(conn, self._upload_context())
        except ConnectionClosed:
            pass
        finally:
            self._uploads -= 1

    # ------------------------------------------------------------------ upload glue
    def _load_upload(self) -> None:
        try:
            self._upload_mod = importlib.import_module("live.upload")
        except ModuleNotFoundError as e:
            if e.name != "live.upload":
                raise
            self._upload_mod = None

    def _upload_context(self) -> Any:
        if self._upload_ctx is None:
            cfg = self.full_cfg
            if cfg is None:  # only the [websocket] section was given: defaults for the rest
                from model.config import defaults

                cfg = defaults()
            self._upload_ctx = self._upload_mod.make_context(dict(cfg))
        return self._upload_ctx

    # ------------------------------------------------------------------ HTTP
    def _process_request(self, conn: ServerConnection, request: Request) -> Response | None:
        path, _, query = request.path.partition("?")
        params = parse_qs(query)
        if path in ("/ws", "/ws/upload"):
            refused = self._check_access(conn, request, params)
            if refused is not None:
                return refused
            if path == "/ws":
                fmt = params.get("format", ["json"])[0]
                if fmt not in wsproto.FORMATS:
                    return conn.respond(http.HTTPStatus.BAD_REQUEST, f"unknown format {fmt[:20]!r}; use json or binary\n")
                if len(self._clients) >= self.max_clients:
                    return conn.respond(http.HTTPStatus.SERVICE_UNAVAILABLE, "too many clients; try again later\n")
            elif self._upload_mod is None:
                return conn.respond(http.HTTPStatus.NOT_FOUND, "uploads are not available on this server\n")
            return None  # go on with the WebSocket handshake
        if path == "/status":
            return _response(200, "application/json", self._status_body())
        if path.startswith("/api/"):
            refused = self._check_access(conn, request, params)
            if refused is not None:
                return refused
            if self._upload_mod is not None:
                answer = self._upload_mod.serve_download(request.path, self._upload_context())
                if answer is not None:
                    status, headers, body = answer
                    return Response(status, http.HTTPStatus(status).phrase, Headers(headers), body)
            return conn.respond(http.HTTPStatus.NOT_FOUND, "not found\n")
        return self._static(conn, path)

    def _check_access(self, conn: ServerConnection, request: Request, params: dict[str, list[str]]) -> Response | None:
        refusal = wsproto.access_refusal(token=self.token, origins=self.origins, params=params,
                                         headers=request.headers)
        return None if refusal is None else conn.respond(refusal[0], refusal[1] + "\n")

    def _status_body(self) -> bytes:
        s: dict[str, Any] = {}
        if self._status is not None:
            try:
                s = dict(self._status())
            except Exception as e:  # /status must answer even when the app's callback fails
                s = {"error": f"status unavailable: {e}"}
        s["clients"] = len(self._clients)
        s["dropped"] = self.dropped()
        s["web"] = {"frames": self.frames_published, "dropped_total": self.dropped_total,
                    "stalled_closed": self.stalled, "max_clients": self.max_clients,
                    "token": bool(self.token)}
        return wsproto.dumps(s).encode()

    def _static(self, conn: ServerConnection, path: str) -> Response:
        status, file = wsproto.resolve_static(self.static_dir, path)
        if file is None:
            return conn.respond(status, "forbidden path\n" if status == 403 else "not found\n")
        try:
            body = file.read_bytes()
        except OSError:
            return conn.respond(http.HTTPStatus.NOT_FOUND, "not found\n")
        return _response(200, wsproto.CONTENT_TYPES[file.suffix.lower()], body)


def _backed_up(c: _Client) -> bool:
    """True when bytes wait in the client's write buffer (the socket takes no more: the client
    is not reading, or reads slower than the stream)."""
    transport = c.conn.transport
    return transport is None or transport.get_write_buffer_size() > 0


def _response(status: int, ctype: str, body: bytes) -> Response:
    headers = Headers([
        ("Content-Type", ctype),
        ("Content-Length", str(len(body))),
        ("Cache-Control", "no-cache"),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "no-referrer"),
        ("Connection", "close"),
    ])
    return Response(status, http.HTTPStatus(status).phrase, headers, body)
