"""`dancemuse live` end to end, with real sockets and real clients, on the demo song in
fast mode: OSC out decoded by python-osc, WebSocket clients (one stalled), bad input
rejected while the loop runs on, tokens, and SIGTERM on a real subprocess."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from live.app import LiveApp, is_loopback
from live.audio import ArraySource
from model.config import defaults

REPO = Path(__file__).resolve().parent.parent
SONG_S = 4.0



@pytest.fixture(scope="module")
def song() -> np.ndarray:
    from model.synth_music import demo_song

    return demo_song(seconds=SONG_S, seed=1).audio


class UdpReceiver:
    """A real UDP socket; a thread stores every datagram (decoded afterwards)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.datagrams: list[bytes] = []
        self._run = True
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while self._run:
            try:
                self.datagrams.append(self.sock.recv(65536))
            except TimeoutError:
                continue
            except OSError:
                return

    def close(self) -> None:
        self._run = False
        self.thread.join(1.0)
        self.sock.close()


def _cfg(model: Path, *, osc_port: int | None = None, web: bool = False) -> dict[str, Any]:
    cfg = defaults()
    cfg["model"]["path"] = str(model)
    cfg["model"]["provider"] = "cpu"
    cfg["osc"]["targets"] = [f"127.0.0.1:{osc_port}"] if osc_port else []
    cfg["osc"]["enabled"] = osc_port is not None
    cfg["osc"]["listen"] = "127.0.0.1:0"
    cfg["websocket"]["enabled"] = web
    cfg["websocket"]["port"] = 0
    cfg["websocket"]["queue"] = 1024  # fast mode outruns real time: keep every frame for healthy clients
    return cfg


def _decode(datagrams: list[bytes]) -> list[tuple[float, list[tuple[str, list[Any]]]]]:
    from pythonosc.osc_bundle import OscBundle

    out = []
    for d in datagrams:
        assert OscBundle.dgram_is_bundle(d), "every datagram is a bundle"
        b = OscBundle(d)
        msgs = [(m.address, list(m.params)) for m in b]
        out.append((b.timestamp, msgs))
    return out


def test_osc_out_every_bundle_in_order(model_path: Path, song: np.ndarray, tmp_path: Path) -> None:
    rx = UdpReceiver()
    cfg = _cfg(model_path, osc_port=rx.port)
    cfg["live"]["record"] = str(tmp_path / "show.npz")
    sent: list[Any] = []
    src = ArraySource(song, sample_rate=24000, block=800, fast=True, name="demo")
    app = LiveApp(cfg, source=src, on_frame=lambda f: sent.append((f.index, f.wall, f.beat)))

    asyncio.run(app.run())
    time.sleep(0.2)
    rx.close()
    n = int(SONG_S * app.fps)
    assert [i for i, _, _ in sent] == list(range(n))
    bundles = _decode(rx.datagrams)
    frames: dict[int, list[tuple[str, list[Any]]]] = {}
    order = []
    for ts, msgs in bundles:
        for addr, args in msgs:
            if addr == "/dancemuse/frame":
                order.append(args[0])
                frames.setdefault(args[0], [])
        idx = [a for addr, a in msgs if addr == "/dancemuse/frame"]
        key = idx[0][0] if idx else order[-1]
        frames.setdefault(key, []).extend(msgs)
        assert abs(ts - sent[key][1]) < 1e-3  # timetag = frame wall time
    assert order == list(range(n)), "every frame's bundle arrived, in order"
    for i, beat in [(i, b) for i, _, b in sent]:
        msgs = frames[i]
        addrs = [a for a, _ in msgs]
        pose = [args for a, args in msgs if a == "/dancemuse/pose"][0]
        assert pose[0] == i and len(pose) == 52 and all(isinstance(x, float) for x in pose[1:])
        joints = [args for a, args in msgs if a.startswith("/dancemuse/joint/")]
        assert len(joints) == 17 and all(len(j) == 3 for j in joints)
        assert "/dancemuse/joint/left_ankle" in addrs and "/dancemuse/tempo" in addrs
        assert ("/dancemuse/beat" in addrs) == beat
    assert sum(b for _, _, b in sent) >= 4  # the demo's beats are tracked
    with np.load(tmp_path / "show.npz") as z:  # recording flushed at the end
        assert z["poses"].shape == (n, 17, 3)


def test_osc_control_in_reaches_the_engine_and_bad_datagrams_are_rejected(model_path: Path, song: np.ndarray) -> None:
    from pythonosc.osc_message_builder import OscMessageBuilder

    cfg = _cfg(model_path)
    src = ArraySource(song, sample_rate=24000, block=800, fast=False, loop=True, name="demo")
    app = LiveApp(cfg, source=src, duration=1.0)

    async def main() -> None:
        await app.start()
        port = app.osc_in.address[1]
        tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

        def send(addr: str, *args: Any) -> None:
            b = OscMessageBuilder(address=addr)
            for a in args:
                b.add_arg(a)
            tx.sendto(b.build().dgram, ("127.0.0.1", port))

        run = asyncio.create_task(app.run())
        await asyncio.sleep(0.2)
        tx.sendto(b"\x00garbage\xff", ("127.0.0.1", port))  # malformed
        send("/dancemuse/control/nope", 1.0)  # unknown address
        send("/dancemuse/control/energy", 9.0)  # out of range
        tx.sendto(b"/x\x00\x00" + b"\x00" * 9000, ("127.0.0.1", port))  # oversize
        send("/dancemuse/control/energy", 1.5)
        send("/dancemuse/control/mirror", 1)
        send("/dancemuse/control/style", "house", 1.0)
        send("/dancemuse/control/tempo/feel", 0.5)
        send("/dancemuse/control/tempo/feel", 1.5)  # not a feel: refused, the half time stays
        await run
        tx.close()

    asyncio.run(main())
    c = app.engine.controls
    assert c["energy"] == 1.5 and c["mirror"] is True
    assert c["styles"][app.engine.style_names.index("house")] == 1.0
    assert c["feel"] == 0.5 and app.engine.feel.wanted == 0.5
    assert app.engine.frames == app.fps  # the loop ran on to the end of its second


def test_a_crash_mid_show_still_flushes_the_recording(model_path: Path, song: np.ndarray, tmp_path: Path) -> None:
    cfg = _cfg(model_path)
    cfg["live"]["record"] = str(tmp_path / "crash.npz")
    src = ArraySource(song, sample_rate=24000, block=800, fast=True, name="demo")
    app = LiveApp(cfg, source=src)
    real_step = app.generator.step
    calls = {"n": 0}

    def failing_step(*args: Any, **kw: Any) -> Any:
        calls["n"] += 1
        if calls["n"] > 40:
            raise RuntimeError("generator exploded")
        return real_step(*args, **kw)

    app.generator.step = failing_step
    with pytest.raises(RuntimeError, match="exploded"):
        asyncio.run(app.run())
    with np.load(tmp_path / "crash.npz") as z:
        assert len(z["poses"]) == 40
    assert app.osc_in is None and app.web is None  # sockets closed


def test_console_status_line_refreshes_in_place_only_on_a_tty() -> None:
    import io

    from live.console import Console, status_line

    snap = {"measured_fps": 30.0, "latency_ms": {"p50": 1.5, "p99": 4.0}, "tempo": 122.0,
            "confidence": 0.9, "clients": 3, "frames": 42}
    line = status_line(snap)
    assert "30.0 fps" in line and "122.0 BPM" in line and "clients 3" in line and "\n" not in line
    assert "time" not in line
    assert "122.0 BPM (0.90) half time" in status_line(dict(snap, controls={"feel": 0.5}))
    assert "double time" in status_line(dict(snap, controls={"feel": 2.0}))
    assert "BPM (0.90) auto half time" in status_line(dict(snap, controls={"feel": 0.0}, feel_now=0.5))
    assert "BPM (0.90) auto |" in status_line(dict(snap, controls={"feel": 0.0}, feel_now=1.0))
    buf = io.StringIO()
    con = Console(buf, interval=0.5, enabled=True)
    assert con.update(snap, now=10.0) and not con.update(snap, now=10.1) and con.update(snap, now=10.6)
    assert buf.getvalue().count("\r\x1b[K") == 2 and "\n" not in buf.getvalue()
    quiet = io.StringIO()  # not a TTY: silent
    assert not Console(quiet).update(snap) and quiet.getvalue() == ""


def test_is_loopback() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5")


def _spawn(args: list[str], tmp_path: Path, **env_extra: str) -> subprocess.Popen[str]:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1", **env_extra)
    return subprocess.Popen(
        [sys.executable, "-m", "live.cli", "live", *args], cwd=REPO, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )


def _wait_line(proc: subprocess.Popen[str], prefix: str, timeout: float = 60.0) -> list[str]:
    lines: list[str] = []
    t0 = time.time()
    assert proc.stdout is not None
    while time.time() - t0 < timeout:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip())
        if line.startswith(prefix):
            return lines
    raise AssertionError(f"no {prefix!r} line: {lines}; stderr: {proc.stderr.read() if proc.stderr else ''}")


def test_sigterm_stops_a_real_server_quickly_with_the_recording_flushed(model_path: Path, tmp_path: Path) -> None:
    rec = tmp_path / "show.npz"
    proc = _spawn(["--model", str(model_path), "--input", "demo", "--record", str(rec),
                   "--osc-target", "127.0.0.1:9", "--osc-listen", "127.0.0.1:0", "--port", "0"], tmp_path)
    try:
        lines = _wait_line(proc, "input:")
        url = [ln for ln in lines if ln.startswith("DanceMuse live: open http://127.0.0.1:")][0]
        port = int(url.rsplit(":", 1)[1].strip("/"))
        time.sleep(1.5)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=5)
        took = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert rc == 0, proc.stderr.read() if proc.stderr else ""
    assert took < 1.0, f"SIGTERM took {took:.2f} s"
    with pytest.raises(OSError):  # the web port is closed
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    with np.load(rec) as z:
        n = len(z["poses"])
        assert n >= 20, n  # ~1.5 s at 30 fps, every frame up to the signal
        assert list(z["index"]) == list(range(n))


def test_sigterm_removes_the_uploaded_songs_and_their_dances(model_path: Path, song: np.ndarray, tmp_path: Path) -> None:
    """A song uploaded from the page is kept with its dance in a temporary folder; the server
    leaves with os._exit (no exit hooks), so its stop must remove that folder itself."""
    import soundfile as sf
    from websockets.sync.client import connect

    tmp = tmp_path / "tmp"
    tmp.mkdir()
    wav = tmp_path / "my song.wav"
    sf.write(wav, song[: 2 * 22050], 22050)
    body = wav.read_bytes()
    proc = _spawn(["--model", str(model_path), "--input", "demo", "--no-osc", "--osc-listen", "", "--port", "0"],
                  tmp_path, TMPDIR=str(tmp))
    try:
        lines = _wait_line(proc, "input:")
        url = [ln for ln in lines if ln.startswith("DanceMuse live: open http://127.0.0.1:")][0]
        port = int(url.rsplit(":", 1)[1].strip("/"))
        with connect(f"ws://127.0.0.1:{port}/ws/upload", open_timeout=10) as ws:
            ws.send(json.dumps({"type": "upload", "name": wav.name, "size": len(body)}))
            chunk = int(json.loads(ws.recv(timeout=10))["chunk"])
            for k in range(0, len(body), chunk):
                ws.send(body[k:k + chunk])
            kinds: list[str] = []
            while not kinds or kinds[-1] not in ("file", "error"):  # the dance, then its video
                kinds.append(json.loads(ws.recv(timeout=60))["type"])
        assert "dance" in kinds and kinds[-1] == "file", kinds
        kept = list(tmp.glob("dancemuse-dances-*/*/my_song.wav"))
        assert len(kept) == 1 and kept[0].read_bytes() == body  # the song is kept while the show runs
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=5)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert rc == 0, proc.stderr.read() if proc.stderr else ""
    assert not list(tmp.glob("dancemuse-dances-*")), sorted(str(p) for p in tmp.rglob("*"))


def test_file_input_without_loop_exits_by_itself(model_path: Path, song: np.ndarray, tmp_path: Path) -> None:
    import soundfile as sf

    wav = tmp_path / "song.wav"
    sf.write(wav, song[: 24000 * 2], 24000)
    rec = tmp_path / "out.json"
    r = subprocess.run(
        [sys.executable, "-m", "live.cli", "live", "--model", str(model_path), "--input", str(wav), "--fast",
         "--no-web", "--no-osc", "--osc-listen", "", "--record", str(rec)],
        cwd=REPO, env=dict(os.environ, OMP_NUM_THREADS="1"), capture_output=True, text=True, timeout=120,
    )
    assert r.returncode == 0, r.stderr
    doc = json.loads(rec.read_text())
    assert len(doc["frames"]) == 60 and doc["frames"][-1]["i"] == 59


def test_mic_without_a_sound_card_is_one_line(model_path: Path) -> None:
    import sounddevice as sd

    if any(d["max_input_channels"] > 0 for d in sd.query_devices()):
        pytest.skip("this machine has an input device")
    r = subprocess.run(
        [sys.executable, "-m", "live.cli", "live", "--model", str(model_path), "--input", "mic"],
        cwd=REPO, env=dict(os.environ, OMP_NUM_THREADS="1"), capture_output=True, text=True, timeout=120,
    )
    assert r.returncode == 2
    err = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(err) == 1 and "no audio input device" in err[0], r.stderr


# -- WebSocket ------------------------------------------------------------------------


def _ws_url(app: LiveApp, query: str = "") -> str:
    host, port = app.web.address
    return f"ws://{host}:{port}/ws{query}"


async def _read_frames(conn: Any, n: int, *, timeout: float = 60.0) -> tuple[Any, list[Any]]:
    """Read the hello and then messages until frame n-1 (or the timeout)."""
    hello = json.loads(await asyncio.wait_for(conn.recv(), timeout))
    frames: list[Any] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            msg = await asyncio.wait_for(conn.recv(), deadline - time.monotonic())
        except Exception as e:
            last = frames[-1] if frames else None
            raise AssertionError(f"closed after {last if not isinstance(last, dict) else last['i']} of {n}") from e
        if isinstance(msg, bytes):
            frames.append(np.frombuffer(msg, "<f4"))
            last = int(frames[-1][0])
        else:
            obj = json.loads(msg)
            if obj["type"] != "frame":
                continue
            frames.append(obj)
            last = obj["i"]
        if last >= n - 1:
            break
    return hello, frames


def test_websocket_clients_get_hello_then_every_frame(model_path: Path, song: np.ndarray) -> None:
    from websockets.asyncio.client import connect

    cfg = _cfg(model_path, web=True)
    src = ArraySource(song, sample_rate=24000, block=800, fast=True, name="demo")
    app = LiveApp(cfg, source=src)
    n = int(SONG_S * app.fps)

    async def main() -> tuple[Any, ...]:
        await app.start()
        async with connect(_ws_url(app)) as a, connect(_ws_url(app, "?format=binary")) as b:
            await asyncio.sleep(0.1)  # both registered before the first frame
            run = asyncio.create_task(app.run())
            ra, rb = await asyncio.gather(_read_frames(a, n), _read_frames(b, n))
            await run
        return ra, rb

    (hello_a, fa), (hello_b, fb) = asyncio.run(main())
    assert hello_a["type"] == "hello" and hello_a["format"] == "json" and hello_b["format"] == "binary"
    assert hello_a["skeleton"]["joints"][0] == "nose" and len(hello_a["skeleton"]["joints"]) == 17
    assert hello_a["model"]["styles"] == list(app.engine.style_names)
    assert hello_a["controls"]["energy"] == 1.0
    assert [f["i"] for f in fa] == list(range(n))
    assert all(len(f["joints"]) == 51 for f in fa)
    assert [int(f[0]) for f in fb] == list(range(n)) and all(len(f) == 59 for f in fb)
    np.testing.assert_allclose(fb[-1][8:], fa[-1]["joints"], atol=1e-4)


def test_stalled_client_does_not_stop_the_others_and_memory_stays_bounded(
    model_path: Path, song: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    from websockets.asyncio.client import connect

    import live.ws_server

    # small kernel buffers so that the stalled client fills them within a second
    monkeypatch.setattr(live.ws_server, "SEND_BUFFER", 4096)
    cfg = _cfg(model_path, web=True)
    cfg["websocket"]["queue"] = 32  # slack for healthy clients on a loaded CI machine
    seconds = 5.0
    src = ArraySource(song, sample_rate=24000, block=800, loop=True, name="demo")
    app = LiveApp(cfg, source=src, duration=seconds)
    n = int(seconds * app.fps)
    peak = {"queue": 0, "buffer": 0}

    def watch(_: Any) -> None:
        for c in list(app.web._clients.values()):
            peak["queue"] = max(peak["queue"], len(c.frames))
            t = c.conn.transport
            if t is not None:
                peak["buffer"] = max(peak["buffer"], t.get_write_buffer_size())

    app.on_frame = watch

    async def main() -> tuple[Any, ...]:
        await app.start()
        # the stalled client: tiny receive buffer, handshake done, then it never reads
        raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        raw.connect(app.web.address)
        stalled = await connect(_ws_url(app), sock=raw, max_queue=1, compression=None)
        stalled.transport.pause_reading()
        async with connect(_ws_url(app)) as a, connect(_ws_url(app)) as b:
            await asyncio.sleep(0.1)
            run = asyncio.create_task(app.run())
            # meanwhile: bad input on a's socket is answered with errors; the loop runs on
            await a.send("{not json")
            await a.send(json.dumps({"type": "control", "id": 7, "name": "bogus", "value": 1}))
            await a.send(json.dumps({"type": "control", "id": 8, "name": "energy", "value": 1.7}))
            replies: list[Any] = []

            async def read_a() -> tuple[Any, list[Any]]:
                hello = json.loads(await a.recv())
                frames: list[Any] = []
                while True:
                    try:
                        raw = await asyncio.wait_for(a.recv(), 30)
                    except Exception as e:
                        raise AssertionError(f"a closed after {frames[-1]['i'] if frames else None}: {app.web.dropped() if app.web else None}") from e
                    obj = json.loads(raw)
                    if obj["type"] == "frame":
                        frames.append(obj)
                        if obj["i"] >= n - 1:
                            return hello, frames
                    else:
                        replies.append(obj)

            ra, rb = await asyncio.gather(read_a(), _read_frames(b, n))
            stats = app.web.dropped()
            await run
        stalled.transport.abort()
        return ra, rb, replies, stats

    (_, fa), (_, fb), replies, dropped = asyncio.run(main())
    assert [f["i"] for f in fa] == list(range(n)), (dropped, peak, app.engine.snapshot())
    assert [f["i"] for f in fb] == list(range(n))
    errors = [r for r in replies if r["type"] == "error"]
    assert len(errors) == 2 and any(r.get("id") == 7 for r in errors)
    assert any(r["type"] == "ack" and r["id"] == 8 for r in replies)
    assert app.engine.controls["energy"] == 1.7
    assert peak["queue"] <= 32 and peak["buffer"] < 512 * 1024, peak
    assert max(dropped.values()) > 0, (peak, dropped)  # the stalled one dropped frames, reported per client


def test_oversize_message_closes_only_that_client(model_path: Path, song: np.ndarray) -> None:
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    cfg = _cfg(model_path, web=True)
    cfg["websocket"]["max_message"] = 1024
    src = ArraySource(song, sample_rate=24000, block=800, fast=False, name="demo")
    app = LiveApp(cfg, source=src, duration=1.0)
    n = app.fps

    async def main() -> tuple[Any, ...]:
        await app.start()
        async with connect(_ws_url(app)) as big, connect(_ws_url(app)) as ok:
            await asyncio.sleep(0.1)
            run = asyncio.create_task(app.run())
            await big.send(json.dumps({"type": "control", "name": "energy", "value": 1.0, "pad": "x" * 5000}))
            closed = None
            try:
                while True:
                    await asyncio.wait_for(big.recv(), 10)
            except ConnectionClosed as e:
                closed = e.rcvd.code if e.rcvd else None
            res = await _read_frames(ok, n)
            await run
        return closed, res

    code, (_, frames) = asyncio.run(main())
    assert code == 1009  # message too big
    assert [f["i"] for f in frames] == list(range(n))


def test_token_protected_server_refuses_clients_without_it(model_path: Path, song: np.ndarray) -> None:
    from websockets.asyncio.client import connect
    from websockets.exceptions import InvalidStatus

    cfg = _cfg(model_path, web=True)
    cfg["websocket"]["host"] = "0.0.0.0"  # beyond loopback: a token is generated
    src = ArraySource(song, sample_rate=24000, block=800, fast=False, name="demo")
    app = LiveApp(cfg, source=src, duration=0.5)
    assert app.token and len(app.token) >= 12

    async def main() -> tuple[Any, ...]:
        await app.start()
        port = app.web.address[1]
        codes = []
        for q in ("", "?token=wrong"):
            try:
                async with connect(f"ws://127.0.0.1:{port}/ws{q}"):
                    codes.append(101)
            except InvalidStatus as e:
                codes.append(e.response.status_code)
        async with connect(f"ws://127.0.0.1:{port}/ws?token={app.token}") as c:
            hello = json.loads(await c.recv())
        await app.close()
        return codes, hello

    codes, hello = asyncio.run(main())
    assert codes == [401, 403]
    assert hello["type"] == "hello"
    assert f"token={app.token}" in app.url or app.url == ""


def test_page_and_status_answer_during_warm_up_and_sigterm_stops_it_at_once(
    model_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`serve` binds the web server before the model has loaded: / and /status answer while
    it warms up (status says so), and SIGTERM then ends the server in well under a second."""
    import urllib.request

    import live.app as app_mod
    import live.runtime as runtime

    real = runtime.load_generator

    def slow_load(cfg: dict[str, Any], **kw: Any) -> Any:
        time.sleep(3.0)  # a slow first start (cold disk, big model)
        return real(cfg, **kw)

    monkeypatch.setattr(runtime, "load_generator", slow_load)
    cfg = _cfg(model_path, web=True)
    cfg["audio"]["input"] = "demo"
    seen: dict[str, Any] = {}

    async def main() -> int:
        task = asyncio.create_task(app_mod.serve(cfg, print_fn=lambda line: seen.setdefault("url", line.split()[-1])))
        loop = asyncio.get_running_loop()
        deadline = time.monotonic() + 20
        while "url" not in seen and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        base = seen["url"].split("?")[0].rstrip("/")

        def get(path: str) -> str:
            with urllib.request.urlopen(base + path, timeout=2) as r:
                return str(r.read().decode())

        seen["status"] = json.loads(await loop.run_in_executor(None, get, "/status"))
        seen["page"] = await loop.run_in_executor(None, get, "/")
        t0 = time.monotonic()
        os.kill(os.getpid(), signal.SIGTERM)
        rc = await asyncio.wait_for(task, 5)
        seen["stop_s"] = time.monotonic() - t0
        return rc

    assert asyncio.run(main()) == 0
    for t in threading.enumerate():  # the loader thread outlives the server: let it end here
        if t.name == "dancemuse-warmup":
            t.join(30)
    assert seen["status"]["state"] == "warming up"
    assert "<html" in seen["page"].lower()
    assert seen["stop_s"] < 1.0
