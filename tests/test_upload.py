"""live/upload.py: the song upload over a real WebSocket and the downloads of the dance."""

from __future__ import annotations

import asyncio
import io
import json
import time
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve

from live import upload
from model.config import defaults
from model.errors import AudioError, ProtocolError
from model.skeleton import rest_pose


def wav_bytes(seconds: float, *, sr: int = 16000) -> bytes:
    """A short mono 16-bit WAV of a 220 Hz tone."""
    t = np.arange(int(seconds * sr)) / sr
    pcm = (0.3 * np.sin(2 * np.pi * 220 * t) * 32767).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes(pcm.tobytes())
    return buf.getvalue()


def fake_generate_poses(n: int) -> np.ndarray:
    poses = np.repeat(rest_pose(on_floor=True)[None], n, axis=0)
    poses[:, 9, 1] += 0.3 * np.sin(np.arange(n) / 5)
    return poses


def fake_generate(path: Path, *, cfg: dict[str, Any], progress: Any) -> upload.Dance:
    """A stand-in generator: one frame per 1/30 s of the WAV, arms swinging."""
    with wave.open(str(path), "rb") as w:
        seconds = w.getnframes() / w.getframerate()
    poses = fake_generate_poses(int(seconds * 30))
    for k in range(4):
        progress((k + 1) / 4)
    return upload.Dance(poses=poses, fps=30, beats=np.arange(0, seconds, 0.5, dtype=np.float32))


def broken_generate(path: Path, *, cfg: dict[str, Any], progress: Any) -> upload.Dance:
    raise AudioError(f"cannot read audio file {path}; upload wav, flac, ogg or mp3")


async def _with_server(ctx: upload.UploadContext, client: Any, *, max_size: int = 65536) -> Any:
    async def handler(ws: Any) -> None:
        await upload.handle_upload(ws, ctx)

    async with serve(handler, "127.0.0.1", 0, max_size=max_size, compression=None) as server:
        port = server.sockets[0].getsockname()[1]
        async with connect(f"ws://127.0.0.1:{port}/ws/upload", max_size=None) as ws:
            return await client(ws)


async def _upload(ws: Any, data: bytes, *, name: str = "song.wav") -> list[dict[str, Any]]:
    await ws.send(json.dumps({"type": "upload", "name": name, "size": len(data)}))
    msgs: list[dict[str, Any]] = []
    async for raw in ws:
        msg = json.loads(raw)
        msgs.append(msg)
        if msg["type"] == "ready":
            for off in range(0, len(data), msg["chunk"]):
                await ws.send(data[off:off + msg["chunk"]])
        if msg["type"] in ("file", "error") or (msg["type"] == "dance" and not msg.get("video")):
            break
    return msgs


def make_ctx(tmp_path: Path, **kw: Any) -> upload.UploadContext:
    kw.setdefault("generate", fake_generate)
    kw.setdefault("make_video", False)
    return upload.make_context(defaults(), store=upload.DanceStore(root=tmp_path / "store", keep=2), **kw)


def test_upload_in_chunks_returns_a_dance_and_files_download(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    data = wav_bytes(3.0)  # 96 kB: more than one 64 KiB message
    msgs = asyncio.run(_with_server(ctx, lambda ws: _upload(ws, data)))
    types = [m["type"] for m in msgs]
    assert types[0] == "ready" and msgs[0]["chunk"] == 65536
    assert "progress" in types
    assert {m["stage"] for m in msgs if m["type"] == "progress"} >= {"upload", "generate"}
    dance = msgs[-1]
    assert dance["type"] == "dance" and dance["fps"] == 30 and dance["frames"] == 90
    assert set(dance["downloads"]) == {"bvh", "json", "mp4"}
    status, headers, body = upload.serve_download(dance["downloads"]["json"], ctx)
    assert status == 200 and ("Content-Type", "application/json") in headers
    doc = json.loads(body)
    assert doc["fps"] == 30 and len(doc["frames"]) == 90
    assert doc["frames"][5]["joints"]["left_wrist"] == pytest.approx(
        fake_generate_poses(90)[5, 9].tolist(), abs=1e-4)
    status, headers, body = upload.serve_download(dance["downloads"]["bvh"], ctx)
    assert status == 200 and body.startswith(b"HIERARCHY")
    assert any(h == "Content-Disposition" and "song-dance.bvh" in v for h, v in headers)
    # the video was not asked for: not ready
    assert upload.serve_download(dance["downloads"]["mp4"], ctx)[0] == 409


def test_oversize_upload_refused_before_the_body(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    ctx.cfg["websocket"]["max_upload_mb"] = 1.0

    msgs = asyncio.run(_with_server(ctx, _collect))
    assert len(msgs) == 1 and msgs[0]["type"] == "error"
    assert "big.mp3 is 3.0 MiB, over the 1 MiB upload limit" in msgs[0]["message"]
    assert not any((tmp_path / "store").iterdir())


async def _collect(ws: Any) -> list[dict[str, Any]]:
    await ws.send(json.dumps({"type": "upload", "name": "big.mp3", "size": 3 << 20}))
    out = []
    async for m in ws:
        out.append(json.loads(m))
    return out


def test_generation_error_reaches_the_client_in_one_line(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, generate=broken_generate)
    msgs = asyncio.run(_with_server(ctx, lambda ws: _upload(ws, b"not audio at all", name="notes.txt")))
    assert msgs[-1]["type"] == "error"
    # the user's file name, not the server's temporary path
    assert msgs[-1]["message"] == "cannot read audio file notes.txt; upload wav, flac, ogg or mp3"
    assert not any((tmp_path / "store").iterdir())


def test_longer_body_than_announced_is_refused(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)

    async def client(ws: Any) -> dict[str, Any]:
        await ws.send(json.dumps({"type": "upload", "name": "a.wav", "size": 10}))
        assert json.loads(await ws.recv())["type"] == "ready"
        await ws.send(b"x" * 11)
        while True:
            msg = json.loads(await ws.recv())
            if msg["type"] == "error":
                return msg

    msg = asyncio.run(_with_server(ctx, client))
    assert "longer than the announced 10 bytes" in msg["message"]


@pytest.mark.parametrize(
    ("header", "fragment"),
    [
        (b"\x00\x01", "must start with a JSON header"),
        ("nope", "not valid JSON"),
        ('{"type": "play"}', '"type": "upload"'),
        ('{"type": "upload", "size": 5}', '"name"'),
        ('{"type": "upload", "name": "a.wav", "size": -1}', '"size"'),
        ('{"type": "upload", "name": "a.wav", "size": true}', '"size"'),
    ],
)
def test_bad_headers_are_refused(header: Any, fragment: str) -> None:
    with pytest.raises(ProtocolError, match=None) as e:
        upload.check_header(header, limit=1 << 20)
    assert fragment in str(e.value) and "\n" not in str(e.value)


def test_store_keeps_only_the_newest_and_ids_are_random(tmp_path: Path) -> None:
    store = upload.DanceStore(root=tmp_path, keep=2)
    a, b, c = (store.new(name=f"../../{n}.mp3") for n in "abc")
    assert store.get(a.id) is None and not a.folder.exists()
    assert store.get(b.id) is b and store.get(c.id) is c
    assert len({a.id, b.id, c.id}) == 3 and all(len(e.id) == 24 for e in (a, b, c))
    assert c.stem == "c" and c.folder.parent == tmp_path


def test_serve_download_paths(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    assert upload.serve_download("/status", ctx) is None
    assert upload.serve_download("/api/dance/../../etc/passwd.json", ctx)[0] == 404
    assert upload.serve_download("/api/dance/" + "0" * 24 + ".json", ctx)[0] == 404
    assert upload.serve_download("/api/dance/" + "0" * 24 + ".exe", ctx)[0] == 404


def test_context_attaches_to_a_server_object(tmp_path: Path) -> None:
    class Server:
        cfg = defaults()

    srv = Server()
    assert upload.serve_download("/api/dance/" + "a" * 24 + ".bvh", srv)[0] == 404
    assert isinstance(srv.upload, upload.UploadContext)  # type: ignore[attr-defined]
    srv.upload.store.close()  # type: ignore[attr-defined]


def test_video_is_rendered_after_the_dance_and_downloads(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, make_video=True)
    msgs = asyncio.run(_with_server(ctx, lambda ws: _upload(ws, wav_bytes(2.0))))
    types = [m["type"] for m in msgs]
    assert types.index("dance") < types.index("file"), msgs[-1]
    assert any(m["type"] == "progress" and m["stage"] == "video" for m in msgs)
    status, headers, body = upload.serve_download(msgs[-1]["url"], ctx)
    assert status == 200 and ("Content-Type", "video/mp4") in headers
    assert body[4:8] == b"ftyp" and len(body) > 1000


def test_a_client_that_leaves_stops_its_generation(tmp_path: Path) -> None:
    steps: list[int] = []

    def slow_generate(path: Path, *, cfg: dict[str, Any], progress: Any) -> upload.Dance:
        for k in range(100):
            time.sleep(0.02)
            steps.append(k)
            progress(k / 100)
        return fake_generate(path, cfg=cfg, progress=progress)

    ctx = make_ctx(tmp_path, generate=slow_generate)
    data = wav_bytes(1.0)

    async def client(ws: Any) -> None:
        await ws.send(json.dumps({"type": "upload", "name": "a.wav", "size": len(data)}))
        async for raw in ws:
            msg = json.loads(raw)
            if msg["type"] == "ready":
                await ws.send(data)
            if msg.get("stage") == "generate":
                return  # leave mid-generation (the context manager closes the socket)

    async def run() -> None:
        await _with_server(ctx, client)
        await asyncio.sleep(0.5)

    asyncio.run(run())
    assert 0 < len(steps) < 60, len(steps)
    assert not any((tmp_path / "store").iterdir())
    assert upload._WORKER._thread is not None and upload._WORKER._thread.daemon
