"""Song upload over WebSocket and downloads of the generated dance.

The live server (live/ws_server.py) routes two things here:

* WS ``/ws/upload`` -> :func:`handle_upload` ``(ws, ctx)``;
* GET ``/api/dance/<id>.<ext>`` -> :func:`serve_download` ``(path, ctx)``, which returns
  ``(status, headers, body)`` or None when the path is not ours.

Upload protocol (text JSON unless said otherwise)::

    client -> {"type": "upload", "name": "song.mp3", "size": 4123456}
    server -> {"type": "error", "message": ...}    size over websocket.max_upload_mb: refused
                                                   before one byte of the body is read
    server -> {"type": "ready", "chunk": N}
    client -> the file as binary message(s) of at most N bytes each, in order
              (one message when the file fits; N is the server's message size limit,
              which a single 50 MB message would exceed)
    server -> {"type": "progress", "stage": "upload"|"decode"|"generate"|"write"|"video",
               "done": 0..1}  (several)
    server -> {"type": "dance", "id", "name", "fps", "frames", "seconds",
               "downloads": {"bvh": url, "json": url, "mp4": url}, "mp4_ready": bool}
    server -> {"type": "file", "ext": "mp4", "url": url}   when the video is done
              (or {"type": "error", "stage": "video", "message": ...})

Generation runs in a worker thread (one job at a time, at a lower CPU priority on Linux)
so the live loop is never blocked. Dances live in a temporary folder under random ids;
only the newest ``keep`` are kept.

``ctx`` is :class:`UploadContext`, or any object with a ``cfg`` attribute (the
configuration dict), to which an UploadContext is attached on first use.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import queue
import re
import secrets
import shutil
import tempfile
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from model.errors import AudioError, DanceMuseError, ProtocolError

log = logging.getLogger("dancemuse.upload")

EXTENSIONS = ("bvh", "json", "mp4")
CONTENT_TYPES = {
    "bvh": "text/plain; charset=utf-8",
    "json": "application/json",
    "mp4": "video/mp4",
    "audio": "application/octet-stream",
}
_DOWNLOAD_RE = re.compile(r"^/api/dance/([0-9a-f]{24})\.(bvh|json|mp4)$")
_HEADER_TIMEOUT_S = 15.0
_CHUNK_TIMEOUT_S = 60.0
_MAX_CHUNK = 1 << 20

Progress = Callable[[float], None]


@dataclass
class Dance:
    """A generated dance.

    poses: [shape=(t, 17, 3)] float32, metres, y up (COCO-17 order).
    fps: frames per second. beats: [shape=(n_beats,)] beat times in seconds.
    beat_counts: [shape=(n_beats,)] the dancers' count 1..8 of each beat, or None.
    """

    poses: np.ndarray
    fps: int
    beats: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    beat_counts: np.ndarray | None = None


GenerateFn = Callable[..., Dance]
"""``generate(audio_path, *, cfg, progress) -> Dance``; may raise DanceMuseError."""


@dataclass
class Entry:
    """One stored dance: its folder, the song's stem, the files written so far."""

    id: str
    folder: Path
    stem: str
    files: dict[str, Path] = field(default_factory=dict)
    created: float = field(default_factory=time.time)


class DanceStore:
    """Generated dances in a temporary folder, newest ``keep`` kept, under random ids."""

    def __init__(self, *, root: Path | None = None, keep: int = 8) -> None:
        self.root = Path(root) if root is not None else Path(tempfile.mkdtemp(prefix="dancemuse-dances-"))
        self.root.mkdir(parents=True, exist_ok=True)
        if root is None:  # our own temporary folder: removed at exit at the latest
            weakref.finalize(self, shutil.rmtree, str(self.root), True)
        self.keep = keep
        self._entries: OrderedDict[str, Entry] = OrderedDict()
        self._lock = threading.Lock()

    def new(self, *, name: str) -> Entry:
        """A fresh entry (folder created), evicting the oldest beyond ``keep``."""
        dance_id = secrets.token_hex(12)
        folder = self.root / dance_id
        folder.mkdir()
        stem = re.sub(r"[^A-Za-z0-9_-]+", "_", Path(name).stem)[:60].strip("_") or "song"
        entry = Entry(id=dance_id, folder=folder, stem=stem)
        with self._lock:
            self._entries[dance_id] = entry
            while len(self._entries) > self.keep:
                _, old = self._entries.popitem(last=False)
                shutil.rmtree(old.folder, ignore_errors=True)
        return entry

    def get(self, dance_id: str) -> Entry | None:
        with self._lock:
            return self._entries.get(dance_id)

    def drop(self, dance_id: str) -> None:
        with self._lock:
            entry = self._entries.pop(dance_id, None)
        if entry is not None:
            shutil.rmtree(entry.folder, ignore_errors=True)

    def close(self) -> None:
        """Remove every stored dance and the folder."""
        with self._lock:
            self._entries.clear()
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class UploadContext:
    """What the upload handlers need: the configuration, the store, the generator
    (None = H5's offline generation in live/generate.py) and a one-job lock."""

    cfg: dict[str, Any]
    store: DanceStore = field(default_factory=DanceStore)
    generate: GenerateFn | None = None
    make_video: bool = True
    job_lock: asyncio.Lock | None = None


def make_context(cfg: dict[str, Any], **kw: Any) -> UploadContext:
    """An UploadContext for ``cfg`` (keyword arguments as for UploadContext)."""
    return UploadContext(cfg=cfg, **kw)


def _resolve(ctx: Any) -> UploadContext:
    if isinstance(ctx, UploadContext):
        return ctx
    found = getattr(ctx, "upload", None)
    if isinstance(found, UploadContext):
        return found
    cfg = getattr(ctx, "cfg", None)
    if cfg is None and isinstance(ctx, dict):
        cfg = ctx.get("cfg", ctx)
    if cfg is None:
        raise TypeError("upload ctx must be an UploadContext or carry a cfg attribute")
    made = UploadContext(cfg=cfg)
    try:
        ctx.upload = made
    except AttributeError:
        pass
    return made


def max_upload_bytes(cfg: dict[str, Any]) -> int:
    """The upload limit in bytes, from ``websocket.max_upload_mb`` (MiB)."""
    return int(float(cfg["websocket"]["max_upload_mb"]) * (1 << 20))


def check_header(msg: Any, *, limit: int) -> tuple[str, int]:
    """Validate an upload header; returns (name, size). Raises ProtocolError (one line)."""
    if isinstance(msg, bytes):
        raise ProtocolError('upload must start with a JSON header {"type": "upload", "name": ..., "size": ...}')
    try:
        head = json.loads(msg)
    except ValueError:
        raise ProtocolError("upload header is not valid JSON; send {\"type\": \"upload\", \"name\": ..., \"size\": ...}") from None
    if not isinstance(head, dict) or head.get("type") != "upload":
        raise ProtocolError('upload header must have "type": "upload"')
    name, size = head.get("name"), head.get("size")
    if not isinstance(name, str) or not name or len(name) > 255:
        raise ProtocolError('upload header needs "name": the file name (1..255 characters)')
    if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
        raise ProtocolError(f'upload header needs "size": the file size in bytes (a positive integer), got {size!r}')
    if size > limit:
        raise ProtocolError(
            f"{name} is {size / (1 << 20):.1f} MiB, over the {limit / (1 << 20):.0f} MiB upload limit; "
            "upload a shorter or compressed file or raise websocket.max_upload_mb"
        )
    return name, size


def _url(dance_id: str, ext: str) -> str:
    return f"/api/dance/{dance_id}.{ext}"


async def _send(ws: Any, obj: dict[str, Any]) -> None:
    await ws.send(json.dumps(obj))


async def _receive_body(ws: Any, *, size: int, name: str, chunk: int) -> bytes:
    buf = bytearray()
    last = -1.0
    while len(buf) < size:
        try:
            msg = await asyncio.wait_for(ws.recv(), _CHUNK_TIMEOUT_S)
        except asyncio.TimeoutError:
            raise ProtocolError(f"upload of {name} stalled ({len(buf)} of {size} bytes); try again") from None
        if isinstance(msg, str):
            raise ProtocolError(f"upload of {name}: expected binary data, got text after {len(buf)} bytes")
        if len(buf) + len(msg) > size:
            raise ProtocolError(f"upload of {name} is longer than the announced {size} bytes")
        buf += msg
        done = len(buf) / size
        if done - last >= 0.1 or len(buf) == size:
            last = done
            await _send(ws, {"type": "progress", "stage": "upload", "done": round(done, 3)})
    return bytes(buf)


class UploadCancelled(DanceMuseError):
    """The client closed its connection: the job stops at its next progress report."""


class _ProgressRelay:
    """Thread-safe progress callback that forwards to the websocket at most ~10 times a second."""

    def __init__(self, ws: Any, loop: asyncio.AbstractEventLoop, stage: str) -> None:
        self.ws, self.loop, self.stage = ws, loop, stage
        self._last = 0.0

    def __call__(self, done: float) -> None:
        if getattr(self.ws, "close_code", None) is not None:
            raise UploadCancelled("the uploader went away; generation stopped")
        now = time.monotonic()
        if now - self._last < 0.1 and done < 1.0:
            return
        self._last = now
        msg = json.dumps({"type": "progress", "stage": self.stage, "done": round(float(done), 3)})
        asyncio.run_coroutine_threadsafe(self._safe_send(msg), self.loop)

    async def _safe_send(self, msg: str) -> None:
        try:
            await self.ws.send(msg)
        except Exception:  # noqa: BLE001 - a gone client must not break the job
            pass


async def handle_upload(ws: Any, ctx: Any) -> None:
    """Serve one ``/ws/upload`` connection (see the module docstring for the protocol)."""
    uc = _resolve(ctx)
    if uc.job_lock is None:
        uc.job_lock = asyncio.Lock()
    loop = asyncio.get_running_loop()
    entry: Entry | None = None
    name = "the upload"
    try:
        try:
            header = await asyncio.wait_for(ws.recv(), _HEADER_TIMEOUT_S)
        except asyncio.TimeoutError:
            raise ProtocolError("no upload header within 15 s; send the JSON header first") from None
        name, size = check_header(header, limit=max_upload_bytes(uc.cfg))
        limit = getattr(getattr(ws, "protocol", None), "max_message_size", None)
        chunk = int(min(limit or _MAX_CHUNK, _MAX_CHUNK))
        await _send(ws, {"type": "ready", "chunk": chunk, "size": size})
        body = await _receive_body(ws, size=size, name=name, chunk=chunk)
        entry = uc.store.new(name=name)
        suffix = Path(name).suffix.lower()
        suffix = suffix if re.fullmatch(r"\.[a-z0-9]{1,5}", suffix) else ".bin"
        audio_path = entry.folder / f"{entry.stem}{suffix}"
        audio_path.write_bytes(body)
        del body
        entry.files["audio"] = audio_path
        if uc.job_lock.locked():
            await _send(ws, {"type": "progress", "stage": "queued", "done": 0.0})
        async with uc.job_lock:
            gen = _ProgressRelay(ws, loop, "generate")
            dance = await _in_worker(_run_generate, uc, audio_path, gen)
            await _send(ws, {"type": "progress", "stage": "write", "done": 0.0})
            await _in_worker(write_outputs, entry, dance, ("json", "bvh"))
            video_wanted = uc.make_video
            await _send(ws, {
                "type": "dance",
                "id": entry.id,
                "name": name,
                "fps": int(dance.fps),
                "frames": int(dance.poses.shape[0]),
                "seconds": round(dance.poses.shape[0] / dance.fps, 3),
                "downloads": {ext: _url(entry.id, ext) for ext in EXTENSIONS},
                "mp4_ready": False,
                "video": video_wanted,
            })
            if video_wanted:
                vid = _ProgressRelay(ws, loop, "video")
                try:
                    await _in_worker(_write_video, entry, dance, vid)
                except DanceMuseError as e:
                    await _send(ws, {"type": "error", "stage": "video", "message": _public(str(e), entry, name)})
                else:
                    await _send(ws, {"type": "file", "ext": "mp4", "url": _url(entry.id, "mp4")})
    except DanceMuseError as e:
        log.info("upload refused: %s", e)
        message = _public(str(e), entry, name)
        if entry is not None and "json" not in entry.files:
            uc.store.drop(entry.id)
        await _send_error_and_close(ws, message)
        return
    except Exception as e:  # the connection is gone, or a bug: keep the server alive
        if entry is not None and "json" not in entry.files:
            uc.store.drop(entry.id)
        if type(e).__name__.startswith("ConnectionClosed"):
            return
        log.exception("upload failed")
        await _send_error_and_close(ws, f"upload failed: {type(e).__name__}: {e}")
        return
    try:
        await ws.close()
    except Exception:  # noqa: BLE001
        pass


def _public(message: str, entry: Entry | None, name: str) -> str:
    """The message with the server's temporary paths replaced by the user's file name."""
    if entry is not None:
        for path in entry.files.values():
            message = message.replace(str(path), name)
        message = message.replace(str(entry.folder) + "/", "")
    return message


async def _send_error_and_close(ws: Any, message: str) -> None:
    try:
        await _send(ws, {"type": "error", "message": message})
        await ws.close()
    except Exception:  # noqa: BLE001 - already closed
        pass


def _lower_priority() -> None:
    """Run upload jobs at a lower CPU priority than the live loop (Linux: per thread)."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
    except (AttributeError, OSError):  # not Linux, or not allowed: run at normal priority
        pass


class _Worker:
    """One daemon thread for generation and files, shared by all uploads, niced. A daemon
    so that a video still rendering never holds up the server's shutdown (a
    ThreadPoolExecutor's threads are joined at exit)."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[tuple[Future[Any], Callable[..., Any], tuple[Any, ...]]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        fut: Future[Any] = Future()
        self._jobs.put((fut, fn, args))
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="dancemuse-upload", daemon=True)
                self._thread.start()
        return fut

    def _run(self) -> None:
        _lower_priority()
        while True:
            fut, fn, args = self._jobs.get()
            if not fut.set_running_or_notify_cancel():
                continue
            try:
                fut.set_result(fn(*args))
            except BaseException as e:  # noqa: BLE001 - handed to the awaiting coroutine
                fut.set_exception(e)


_WORKER = _Worker()


async def _in_worker(fn: Callable[..., Any], *args: Any) -> Any:
    return await asyncio.wrap_future(_WORKER.submit(fn, *args))


def _run_generate(uc: UploadContext, audio_path: Path, progress: Progress) -> Dance:
    fn = uc.generate or default_generate
    dance = fn(audio_path, cfg=uc.cfg, progress=progress)
    poses = np.asarray(dance.poses, dtype=np.float32)
    if poses.ndim != 3 or poses.shape[1:] != (17, 3) or poses.shape[0] == 0:
        raise AudioError(f"{audio_path.name}: generation produced no frames; is the song long enough?")
    dance.poses = poses
    return dance


def default_generate(audio_path: Path, *, cfg: dict[str, Any], progress: Progress) -> Dance:
    """Offline generation with live/generate.py (the live streaming path, as fast as the
    CPU allows), with the server's configuration and model."""
    from live.generate import generate_dance  # noqa: PLC0415 - heavy, only when used

    result = generate_dance(audio_path, cfg=cfg, progress=progress)
    return Dance(
        poses=np.asarray(result.poses, np.float32),
        fps=int(result.fps),
        beats=np.asarray(result.beats, np.float32),
        beat_counts=getattr(result, "beat_counts", None),
    )


def write_outputs(entry: Entry, dance: Dance, exts: tuple[str, ...]) -> None:
    """Write the dance as JSON and/or BVH into the entry's folder."""
    for ext in exts:
        path = entry.folder / f"dance.{ext}"
        if ext == "json":
            _write_json(path, dance)
        elif ext == "bvh":
            _write_bvh(path, dance)
        entry.files[ext] = path


def _write_json(path: Path, dance: Dance) -> None:
    from live.dance_io import write_json  # noqa: PLC0415

    write_json(path, dance.poses, fps=dance.fps, beats=dance.beats)


def _write_bvh(path: Path, dance: Dance) -> None:
    from live.dance_io import write_bvh  # noqa: PLC0415

    write_bvh(path, dance.poses, fps=dance.fps)


def _write_video(entry: Entry, dance: Dance, progress: Progress) -> None:
    from live.dance_io import write_mp4  # noqa: PLC0415

    path = entry.folder / "dance.mp4"
    write_mp4(path, dance.poses, fps=dance.fps, audio=entry.files.get("audio"), beats=dance.beats,
              beat_counts=dance.beat_counts, progress=progress)
    entry.files["mp4"] = path


def serve_download(path: str, ctx: Any) -> tuple[int, list[tuple[str, str]], bytes] | None:
    """Answer ``GET /api/dance/<id>.<ext>``: (status, headers, body), or None if ``path``
    is not under /api/dance/. Unknown or expired ids give 404; a video still rendering 409."""
    if not path.startswith("/api/dance/"):
        return None
    clean = path.split("?", 1)[0]
    m = _DOWNLOAD_RE.match(clean)
    if m is None:
        return _text(404, "no such dance file; ids look like /api/dance/<24 hex>.<bvh|json|mp4>")
    entry = _resolve(ctx).store.get(m.group(1))
    ext = m.group(2)
    if entry is None:
        return _text(404, "this dance is gone (only the newest few are kept); upload the song again")
    file = entry.files.get(ext)
    if file is None:
        return _text(409, f"the {ext} file is not ready yet; try again in a moment")
    try:
        body = file.read_bytes()
    except OSError:
        return _text(404, "this dance file is gone; upload the song again")
    headers = [
        ("Content-Type", CONTENT_TYPES[ext]),
        ("Content-Length", str(len(body))),
        ("Content-Disposition", f'attachment; filename="{entry.stem}-dance.{ext}"'),
        ("Cache-Control", "no-store"),
    ]
    return 200, headers, body


def _text(status: int, message: str) -> tuple[int, list[tuple[str, str]], bytes]:
    body = (message + "\n").encode()
    return status, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))], body
