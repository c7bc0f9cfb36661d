"""The asyncio main of `dancemuse live`: source -> engine -> OSC / WebSocket / recorder.

One audio clock is the master: the source yields blocks as audio arrives (a device
callback, or a file paced on the wall clock), each block goes through
``Engine.process`` and every frame it makes is sent at once: OSC datagrams on a
non-blocking UDP socket, a non-blocking hand-off to the WebSocket server's per-client
queues, a copy into the recorder. Nothing in that path awaits the network.

Lifecycle: ``LiveApp(cfg)`` loads the model and opens the source (errors are one line);
``await app.start()`` binds the sockets; ``await app.run()`` pumps until the source ends
(a file without ``--loop``), ``duration`` seconds of audio were played, or ``stop()``
(SIGINT/SIGTERM) is called; it then closes the sockets and flushes the recording, in well
under a second. The recording is also flushed every ``FLUSH_S`` seconds in a worker
thread, and in ``finally`` if anything crashes. After the warm-up ``start()`` moves every
object alive then out of the garbage collector's sight (``gc.freeze``; ``close()`` undoes
it), so that a full collection during the show does not scan the model and the modules.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import ipaddress
import logging
import secrets
import signal
import time
from collections.abc import Callable
from typing import Any

from live.audio import Source, open_source
from live.console import Console
from live.control import Control
from live.engine import Engine
from live.frame import Frame

log = logging.getLogger("dancemuse.live")

FLUSH_S = 2.0
"""Seconds between periodic flushes of the recording."""
CLOSE_TIMEOUT_S = 0.4
DRAIN_S = 2.0
STUCK_S = 0.25
"""Longest wait for WebSocket clients to receive their queued frames when the input ends."""


def is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return host == "localhost"
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class LiveApp:
    """Wires a source, the engine and the outputs. See the module docstring.

    Parameters
    ----------
    cfg : configuration (model.config).
    generator : a loaded generator (default: ``live.runtime.load_generator(cfg)``).
    source : an audio source (default: ``live.audio.open_source(cfg["audio"])``).
    duration : stop after this many seconds of audio (None = until the source ends).
    console : status line writer (default: stderr when it is a TTY).
    on_frame : optional callback for every frame sent (tests, benchmarks).
    """

    def __init__(
        self,
        cfg: dict[str, Any],
        *,
        generator: Any = None,
        source: Source | None = None,
        duration: float | None = None,
        console: Console | None = None,
        on_frame: Callable[[Frame], None] | None = None,
    ) -> None:
        self.cfg = cfg
        if generator is None:
            from live.runtime import load_generator

            generator = load_generator(cfg)
        self.generator = generator
        from live.ensemble import maybe_build

        self.ensemble = maybe_build(cfg, generator)  # --dancers N > 1: live/ensemble.py wraps the engine
        self.engine = self.ensemble.engine if self.ensemble is not None else Engine(cfg, generator)
        self.fps = self.engine.fps
        self.source = source if source is not None else open_source(cfg["audio"], fps=self.fps)
        self.duration = duration
        self.console = console if console is not None else Console(interval=cfg["live"]["status_interval"])
        self.on_frame = on_frame
        ws = cfg["websocket"]
        self.token = str(ws.get("token", ""))
        if ws["enabled"] and not self.token and not is_loopback(str(ws["host"])):
            self.token = secrets.token_urlsafe(12)
        self.recorder: Any = None
        if cfg["live"].get("record"):
            from live.recorder import Recorder

            self.recorder = Recorder(cfg["live"]["record"], fps=self.fps, meta=self._model_info())
        self.osc_out: Any = None
        self.osc_in: Any = None
        self.web: Any = None
        self._stop = asyncio.Event() if _has_loop() else None
        self._flushing: asyncio.Future[Any] | None = None
        self._last_flush = 0.0
        self._fps_t = time.monotonic()
        self._fps_n = 0
        self.measured_fps = 0.0
        self.holding = False
        self.started = False
        self.finished_reason = ""
        self.link: Any = None
        self.midi: Any = None
        self._froze = False
        if "rot" in cfg["osc"].get("messages", ()):
            self.engine.enable_rotations()

    # -- model/status ------------------------------------------------------------------
    def _model_info(self) -> dict[str, Any]:
        g = self.generator
        path = getattr(g, "path", None)
        return {
            "name": getattr(path, "name", None) or str(self.cfg["model"].get("path", "")),
            "provider": str(getattr(g, "provider", "")),
            "styles": list(self.engine.style_names),
            "controls": list(self.engine.control_names),
            "fps": self.fps,
            **({"ensemble": self.ensemble.status()} if self.ensemble is not None else {}),
        }

    def status(self) -> dict[str, Any]:
        """The app's side of /status (the server adds clients and dropped counts)."""
        s = self.engine.snapshot()
        info = self._model_info()
        s.update(
            provider=info["provider"], model=info["name"], measured_fps=round(self.measured_fps, 2),
            input=self.source.describe(), overflows=int(getattr(self.source, "overflows", 0)),
            holding=self.holding, dancers=self.ensemble.n if self.ensemble is not None else 1,
        )
        if self.osc_out is not None:
            st = self.osc_out.stats
            s["osc"] = {"frames": st.frames, "datagrams": st.datagrams, "dropped": st.dropped, "refused": st.refused}
        if self.osc_in is not None:
            ci = self.osc_in
            s["osc_in"] = {"received": ci.received, "applied": ci.applied, "rejected": ci.rejected}
        if self.recorder is not None:
            s["recorded"] = self.recorder.count
        if self.web is not None:
            s["clients"] = _clients(self.web)
        s["clock"] = self._clock_status()
        return s

    def _clock_status(self) -> dict[str, Any]:
        tr: Any = getattr(self.engine.features, "tracker", None)
        st = tr.status() if hasattr(tr, "status") else {"source": "audio", "tempo": round(self.engine.tempo, 2)}
        st["peers"] = int(self.link.peers) if self.link is not None else 0
        return st

    def _start_clock(self) -> None:
        """Join Link / open the MIDI clock port (clock.*) and let them drive the beat."""
        c = self.cfg.get("clock", {})
        if not (c.get("link") or c.get("midi")):
            return
        from live.clock import ClockMixer, TapSource

        bpb = int(self.cfg["features"].get("beats_per_bar", 4))
        sources: dict[str, Any] = {"tap": TapSource(hold_s=float(c.get("tap_hold_s", 30.0)))}
        if c.get("midi"):
            from live.midi_port import MidiClockSource

            self.midi = sources["midi"] = MidiClockSource(str(c["midi"]), beats_per_bar=bpb)
        if c.get("link"):
            from live.link import LinkSource

            self.link = sources["link"] = LinkSource(beats_per_bar=bpb, lead=bool(c.get("link_lead")))
        self.engine.use_clock(ClockMixer(sources, priority=c.get("priority", ("link", "midi", "tap", "audio"))))

    # -- controls ----------------------------------------------------------------------
    def apply(self, control: Control) -> dict[str, Any]:
        """The sink for every control adapter: apply to the engine, tell every client."""
        state = self.engine.apply(control)
        osc = control.source.startswith("osc:")
        limiter = getattr(self.osc_in if osc else self.web, "limiter", None)
        if limiter is not None:  # at most one line a second per sender, refusals included
            sender = control.source.rsplit(":", 1)[0] if osc else control.source  # OSC: per host
            limiter.log(sender, f"control {control.name} = {control.value!r}", level=logging.INFO)
        else:
            log.info("control %s = %r (from %s)", control.name, control.value, control.source or "?")
        if self.web is not None:
            with contextlib.suppress(Exception):
                self.web.broadcast_state(state)
        return state

    # -- lifecycle ---------------------------------------------------------------------
    async def start(self) -> None:
        """Bind OSC out/in and the web server."""
        if self._stop is None:
            self._stop = asyncio.Event()
        cfg = self.cfg
        self._start_clock()
        osc = cfg["osc"]
        if osc["enabled"] and osc["targets"]:
            from live.osc_io import OscOutput

            self.osc_out = OscOutput.from_config(osc)
            if self.ensemble is not None:  # dancers 1..N-1 under <prefix>/<i>/... (live/ensemble.py)
                from live.ensemble import EnsembleOscEncoder

                self.osc_out.encoder = EnsembleOscEncoder(self.osc_out.encoder, self.ensemble)
        if osc.get("listen"):
            from live.osc_io import OscControlServer

            self.osc_in = OscControlServer(
                osc["listen"], prefix=osc["prefix"], styles=lambda: self.engine.style_names, sink=self.apply
            )
            await self.osc_in.start()
        if cfg["websocket"]["enabled"] and self.web is None:
            self.web = await _start_web(self)
        if self.web is not None:  # rotations start with the first client that asks (?rot=1)
            self.web.on_rotations = self.engine.enable_rotations
            if any(str(getattr(c, "fmt", "")).endswith("+rot") for c in getattr(self.web, "_clients", {}).values()):
                self.engine.enable_rotations()
        # feature set-up and warm-up run in a thread: the page and /status answer meanwhile,
        # and stop() (SIGTERM) is heard at once
        sr = self.source.sample_rate
        if not await _off_loop(lambda: self.engine.prepare(sr=sr), self._stop):
            return
        # everything alive now (modules, model, buffers) lives for the whole show: out of the
        # collector's sight, a full collection during the show takes ~0.01 ms instead of ~23 ms
        gc.collect()
        gc.freeze()
        self._froze = True
        self.started = True

    @property
    def url(self) -> str:
        """The visualizer URL (with the token when one is needed)."""
        return str(self.web.url) if self.web is not None else ""

    def stop(self, reason: str = "stopped") -> None:
        if not self.finished_reason:
            self.finished_reason = reason
        if self._stop is not None:
            self._stop.set()

    async def run(self) -> int:
        """Pump audio to frames until the source ends, the duration passes or stop()."""
        if not self.started:
            await self.start()
        assert self._stop is not None
        if not self.started:  # stopped during warm-up
            await self.close()
            return 0
        pump = asyncio.create_task(self._pump(), name="dancemuse-pump")
        stopper = asyncio.create_task(self._stop.wait())
        try:
            done, _ = await asyncio.wait({pump, stopper}, return_when=asyncio.FIRST_COMPLETED)
            if pump in done:
                pump.result()  # re-raise a crash of the pump
                await self._drain_web()  # the input ended: let clients get the last frames
            else:
                pump.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await pump
        finally:
            stopper.cancel()
            await self.close()
        return 0

    async def _pump(self) -> None:
        eng, src = self.engine, self.source
        sr = src.sample_rate
        max_frames = int(round(self.duration * self.fps)) if self.duration else 0
        osc, web, rec, cb = self.osc_out, self.web, self.recorder, self.on_frame
        process = self.ensemble.process if self.ensemble is not None else eng.process
        async for blk in src.blocks():
            if self.holding != blk.hold:
                self.holding = blk.hold
            if src.sample_rate != sr:  # a device reopened at another rate
                sr = src.sample_rate
            for f in process(blk.samples, sr=sr, arrival=blk.arrival, hold=blk.hold):
                if osc is not None:
                    osc.send(f)
                if web is not None:
                    web.publish(f)
                if rec is not None:
                    rec.add(f)
                if cb is not None:
                    cb(f)
                self._fps_n += 1
                if max_frames and f.index + 1 >= max_frames:
                    self.finished_reason = self.finished_reason or "duration reached"
                    return
            if self.link is not None and self.link.lead:
                tr = eng.features.tracker
                self.link.lead_tempo(getattr(tr, "audio_tempo", 0.0), getattr(tr, "audio_confidence", 0.0))
            self._housekeeping()
        self.finished_reason = self.finished_reason or "input ended"

    def _housekeeping(self) -> None:
        now = time.monotonic()
        dt = now - self._fps_t
        if dt >= 0.5:
            self.measured_fps = self._fps_n / dt
            self._fps_t, self._fps_n = now, 0
        if self.console.enabled:
            self.console.update(self.status(), now=now)
        rec = self.recorder
        if rec is not None and now - self._last_flush >= FLUSH_S and rec.count > rec.flushed:
            if self._flushing is None or self._flushing.done():
                self._last_flush = now
                self._flushing = asyncio.get_running_loop().run_in_executor(None, rec.flush)

    async def _drain_web(self, timeout: float = DRAIN_S) -> None:
        """Wait (bounded) until every WebSocket client that is still reading got its queued
        frames, so that a file show that ends by itself delivers its last frames before the
        sockets close. A client that sent nothing for ``STUCK_S`` is not waited for."""
        clients = getattr(self.web, "_clients", None)
        if not clients:
            return
        deadline = time.monotonic() + timeout
        progress: dict[int, tuple[int, float]] = {}
        while time.monotonic() < deadline and not self._stop.is_set():  # type: ignore[union-attr]
            now = time.monotonic()
            waiting = False
            for cid, c in list(clients.items()):
                if not (c.frames or c.replies):
                    continue
                sent, since = progress.get(cid, (-1, now))
                if c.sent != sent:
                    progress[cid] = (c.sent, now)
                    waiting = True
                elif now - since < STUCK_S:
                    waiting = True
            if not waiting:
                return
            await asyncio.sleep(0.01)

    async def close(self) -> None:
        """Close sockets and devices, flush the recording. Idempotent."""
        self.console.clear()
        with contextlib.suppress(Exception):
            self.source.close()
        for clk in (self.link, self.midi):
            if clk is not None:
                with contextlib.suppress(Exception):
                    clk.close()
        self.link = self.midi = None
        if self.osc_in is not None:
            with contextlib.suppress(Exception):
                await self.osc_in.stop()
            self.osc_in = None
        if self.web is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(_stop_web(self.web), CLOSE_TIMEOUT_S)
            self.web = None
        if self.osc_out is not None:
            self.osc_out.close()
            self.osc_out = None
        if self.recorder is not None:
            if self._flushing is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(asyncio.shield(self._flushing), CLOSE_TIMEOUT_S)
            if self.recorder.count > self.recorder.flushed or not self.recorder.path.exists():
                n = self.recorder.flush()
                log.info("recording flushed: %d frames to %s", n, self.recorder.path)
        er = self.ensemble.recorder if self.ensemble is not None else None
        if er is not None and (er.count > er.flushed or not er.path.exists()):
            n = er.flush()
            log.info("ensemble recording flushed: %d frames to %s", n, er.path)
        if self._froze:  # the show is over: what start() froze may become garbage now
            self._froze = False
            gc.unfreeze()


def _has_loop() -> bool:
    try:
        asyncio.get_running_loop()
        return True
    except RuntimeError:
        return False


# -- the web server (live/ws_server.py) -----------------------------------------------
HELLO_META_SKIP = ("feature_spec", "init_pose", "state", "inputs", "control_defaults")


def _hello_of(app: LiveApp) -> Callable[[], dict[str, Any]]:
    meta = getattr(app.generator, "meta", {}) or {}
    model = dict(app._model_info(), meta={k: v for k, v in meta.items() if k not in HELLO_META_SKIP})

    def hello() -> dict[str, Any]:
        return {"fps": app.fps, "model": model, "controls": dict(app.engine.controls)}

    return hello


async def _start_web(app: LiveApp) -> Any:
    from live.ws_server import WebServer

    server = WebServer(app.cfg, hello=_hello_of(app), status=app.status, apply=app.apply, token=app.token)
    await server.start()
    return server


class _Warming:
    """What the web server talks to while the model loads and warms up (``serve``): the
    page and /status answer at once; hello and controls reach the app once it is there."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        self.cfg = cfg
        self.app: LiveApp | None = None
        self.t0 = time.monotonic()
        self._hello: Callable[[], dict[str, Any]] | None = None

    def ready(self, app: LiveApp) -> None:
        self._hello = _hello_of(app)
        self.app = app

    def hello(self) -> dict[str, Any]:
        if self._hello is not None:
            return self._hello()
        name = str(self.cfg["model"].get("path", ""))
        return {"fps": int(self.cfg["features"]["fps"]), "model": {"name": name, "warming_up": True},
                "controls": {}}

    def status(self) -> dict[str, Any]:
        if self.app is not None and self.app.started:
            return self.app.status()
        return {"state": "warming up", "warming_up_s": round(time.monotonic() - self.t0, 2),
                "fps": int(self.cfg["features"]["fps"]), "frames": 0, "model": str(self.cfg["model"].get("path", ""))}

    def apply(self, control: Control) -> dict[str, Any]:
        if self.app is None or not self.app.started:
            from model.errors import ProtocolError

            raise ProtocolError("the model is still warming up; send the control again in a moment")
        return self.app.apply(control)


async def _off_loop(fn: Callable[[], Any], stop: asyncio.Event | None) -> Any:
    """Run ``fn`` in a daemon thread (so that exit never waits for it) while the loop keeps
    serving; return its result, or None at once when ``stop`` is set first."""
    import threading

    loop = asyncio.get_running_loop()
    fut: asyncio.Future[Any] = loop.create_future()

    def work() -> None:
        try:
            res = fn()
            ok = True
        except BaseException as e:  # noqa: BLE001 - handed to the loop
            res, ok = e, False

        def deliver() -> None:
            if fut.done():
                return
            if ok:
                fut.set_result(True if res is None else res)
            else:
                fut.set_exception(res)

        with contextlib.suppress(RuntimeError):  # the loop is already closed: nobody waits
            loop.call_soon_threadsafe(deliver)

    threading.Thread(target=work, name="dancemuse-warmup", daemon=True).start()
    if stop is None:
        return await fut
    waiter = asyncio.ensure_future(stop.wait())
    try:
        done, _ = await asyncio.wait({fut, waiter}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
    if fut in done:
        return fut.result()
    return None


async def _stop_web(web: Any) -> None:
    await web.stop()


def _clients(web: Any) -> int:
    n = getattr(web, "clients", 0)
    return len(n) if hasattr(n, "__len__") else int(n)


# -- the command -----------------------------------------------------------------------
async def serve(cfg: dict[str, Any], *, duration: float | None = None, print_fn: Callable[[str], None] = print) -> int:
    """Run a show until it ends or a signal arrives; returns the exit status."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    holder: dict[str, LiveApp] = {}

    def on_signal(name: str) -> None:
        stop.set()
        if "app" in holder:
            holder["app"].stop(f"signal {name}")

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, on_signal, sig.name)
    ws = cfg["websocket"]
    if ws["enabled"] and not ws.get("token") and not is_loopback(str(ws["host"])):
        ws["token"] = secrets.token_urlsafe(12)  # the early server and the app share it
    warming = _Warming(cfg)
    web: Any = None
    app: LiveApp | None = None
    model_task: asyncio.Future[Any] | None = None
    try:
        # the model loads in one thread while the input opens in another; the input is
        # awaited first (a missing device or file is one line, before any server starts)
        from live.runtime import load_generator, resolve_model_path

        given = str(cfg["model"].get("path") or "")
        if not resolve_model_path(given or None).is_file():  # the commonest mistake, before any server
            from model.errors import ModelError

            raise ModelError(f"model {given} not found; pass an existing .onnx file or run `make default-model`")
        source_task = asyncio.ensure_future(
            _off_loop(lambda: open_source(cfg["audio"], fps=int(cfg["features"]["fps"])), stop))
        if str(cfg["audio"].get("input", "")) == "mic":  # a missing sound card: one line, no server
            await asyncio.wait({source_task})
            source_task.result()
        model_task = asyncio.ensure_future(_off_loop(lambda: load_generator(cfg), stop))
        if ws["enabled"]:  # the page and /status answer while the model loads
            from live.ws_server import WebServer

            web = WebServer(cfg, hello=warming.hello, status=warming.status, apply=warming.apply,
                            token=str(ws.get("token", "")))
            await web.start()
            print_fn(f"DanceMuse live: open {web.url}")
        source = await source_task
        if source is None:
            return 0
        generator = await model_task
        app = None if generator is None else LiveApp(cfg, generator=generator, source=source, duration=duration)
        if app is None:
            log.info("stopped during start-up")
            return 0
        app._stop = asyncio.Event()
        holder["app"] = app
        app.web = web
        warming.ready(app)
        if stop.is_set():
            app.stop("signal")
        await app.start()
        if web is not None:  # clients that connected during warm-up learn the controls now
            with contextlib.suppress(Exception):
                web.broadcast_state(dict(app.engine.controls))
        info = app._model_info()
        print_fn(f"model: {info['name']} on {info['provider']} ({app.fps} fps; styles: {', '.join(info['styles'])})")
        print_fn(f"input: {app.source.describe()}")
        osc = cfg["osc"]
        if app.osc_out is not None:
            print_fn(f"OSC out: {', '.join(osc['targets'])} ({osc['mode']}, prefix {osc['prefix']})")
        if app.osc_in is not None:
            host, port = app.osc_in.address
            print_fn(f"OSC control in: {host}:{port}")
        if app.recorder is not None:
            print_fn(f"recording to {app.recorder.path}")
        rc = await app.run()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
        if model_task is not None and not model_task.done():  # an error elsewhere: let the
            await asyncio.wait({model_task}, timeout=30.0)  # loader finish (no abort at exit)
        if app is not None:
            await app.close()
        elif web is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(_stop_web(web), CLOSE_TIMEOUT_S)
    log.info("stopped: %s after %d frames", app.finished_reason or "stopped", app.engine.frames)
    return rc
