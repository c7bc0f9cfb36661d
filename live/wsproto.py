"""WebSocket wire protocol, pure: server messages built as str/bytes, client messages parsed.
No sockets here (live/ws_server.py moves the bytes).

Server -> client, in order:

1. ``hello`` (text JSON)::

    {"type": "hello", "version": 1, "fps": 30,
     "skeleton": {"joints": [17 names], "bones": [[a, b], ...], "parents": [17 ints]},
     "model": {"name", "provider", "styles": [...], "controls": [...], "meta": {...}},
     "controls": {current values}, "format": "json" | "binary",
     "binary_layout": ["index", "t", "latency_ms", "tempo", "beat", "beat_in_bar", "bar",
                       "confidence", "joints*51"]}

   ``parents`` uses -1 for the virtual root (mid-hip) and -2 for the virtual neck
   (mid-shoulder), as model/skeleton.py does.
2. per frame, either JSON text::

    {"type": "frame", "i": 12, "t": 0.4, "wall": 1700000000.1, "joints": [51 floats],
     "beat": false, "beat_in_bar": 1, "bar": 0, "tempo": 120.0, "confidence": 0.8,
     "latency_ms": 2.1}

   or one binary message of 59 little-endian float32 in ``binary_layout`` order (236
   bytes; beat as 0/1; joints joint-major x, y, z). Indices are exact up to 2**24 frames
   (155 h at 30 fps).

   Rotations are opt-in at connect (``/ws?rot=1``): the hello then also carries
   ``"rotations": {"bones", "parents", "rest_offsets", "order": "wxyz"}`` (the rig of
   model/rotations.py), JSON frames a ``"rot"`` list (4 floats per bone, local unit
   quaternions w x y z) and binary frames 100 more float32 (``binary_layout`` ends with
   ``rot*100``; 636 bytes).
3. ``{"type": "state", "controls": {...}}`` to every client when a control changes;
   ``{"type": "ack", "id", "name", "value"}`` or ``{"type": "error", "id", "message"}``
   to the sender of a control; ``{"type": "pong"}`` for a ping.

Client -> server: text JSON, ``{"type": "control", "id": any, "name": str, "value": ...}``
(see live/control.py) or ``{"type": "ping"}``.

The HTTP side's rules are here too, as pure functions: :func:`access_refusal` (token and
Origin checks) and :func:`resolve_static` (which file, if any, a URL path may serve).
"""

from __future__ import annotations

import json
import math
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import numpy as np

from live.frame import Frame
from model.errors import ProtocolError
from model.skeleton import BONES, JOINT_NAMES, PARENTS

VERSION = 1
FORMATS: tuple[str, ...] = ("json", "binary")
BINARY_LAYOUT: tuple[str, ...] = (
    "index", "t", "latency_ms", "tempo", "beat", "beat_in_bar", "bar", "confidence", "joints*51",
)
BINARY_FLOATS = 8 + 3 * len(JOINT_NAMES)  # 59
BINARY_BYTES = 4 * BINARY_FLOATS  # 236
ROT_FLOATS = 100  # 25 rig bones x (w, x, y, z)
ROT_SUFFIX = "+rot"
"""A client's format with rotations: 'json+rot' or 'binary+rot' (see ``split_format``)."""


def split_format(fmt: str) -> tuple[str, bool]:
    """'binary+rot' -> ('binary', True)."""
    return (fmt[: -len(ROT_SUFFIX)], True) if fmt.endswith(ROT_SUFFIX) else (fmt, False)


def rotations_info() -> dict[str, Any]:
    """The rig of the rotations (hello, with ?rot=1)."""
    from model.rotations import BONE_NAMES, BONE_PARENTS, REST_OFFSETS

    return {"bones": list(BONE_NAMES), "parents": list(BONE_PARENTS), "order": "wxyz",
            "rest_offsets": np.round(REST_OFFSETS, 6).tolist(), "units": "metres, y up, +z to the audience"}
JSON_DIGITS = 5
"""Decimals kept for joint coordinates in JSON frames (10 micrometres)."""


def _jsonable(v: Any) -> Any:
    if isinstance(v, (np.floating, float)):
        f = float(v)
        return f if math.isfinite(f) else None
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.bool_,)):
        return bool(v)
    if isinstance(v, np.ndarray):
        return [_jsonable(x) for x in v.tolist()]
    if isinstance(v, Mapping):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return v


def dumps(obj: Any) -> str:
    """Compact JSON; numpy scalars/arrays and tuples become JSON, non-finite floats null,
    anything else its ``str``."""
    return json.dumps(_jsonable(obj), separators=(",", ":"), allow_nan=False, default=str)


def skeleton_info() -> dict[str, Any]:
    """The skeleton part of the hello."""
    return {"joints": list(JOINT_NAMES), "bones": [list(b) for b in BONES], "parents": list(PARENTS)}


def hello(
    *,
    fps: int,
    model: Mapping[str, Any],
    controls: Mapping[str, Any],
    fmt: str = "json",
) -> str:
    """The hello message. ``model`` holds name, provider, styles, controls, meta."""
    fmt, rot = split_format(fmt)
    if fmt not in FORMATS:
        raise ProtocolError(f"unknown frame format {fmt!r}; use ?format=json or ?format=binary")
    m = {"name": "", "provider": "", "styles": [], "controls": [], "meta": {}}
    m.update(model)
    out: dict[str, Any] = {
        "type": "hello",
        "version": VERSION,
        "fps": int(fps),
        "skeleton": skeleton_info(),
        "model": m,
        "controls": dict(controls),
        "format": fmt,
        "binary_layout": list(BINARY_LAYOUT) + (["rot*100"] if rot else []),
        "dancers": 1,
    }
    ens: Any = model.get("ensemble") if isinstance(model.get("ensemble"), Mapping) else None
    if ens and int(ens.get("dancers", 1)) > 1:  # an ensemble (live/ensemble.py): all dancers per frame
        out["dancers"] = int(ens["dancers"])
        out["binary_layout"].append(f"dancers*{3 * len(JOINT_NAMES) * out['dancers']}")
    if rot:
        out["rotations"] = rotations_info()
    return dumps(out)


def frame_json(frame: Frame, *, rot: bool = False) -> str:
    """One frame as JSON text (joints rounded to JSON_DIGITS decimals; with ``rot`` and
    rotations on the frame, a "rot" list of 4 floats per rig bone)."""
    joints = np.round(np.asarray(frame.joints, dtype=np.float64).reshape(-1), JSON_DIGITS).tolist()
    tail = ""
    if rot and frame.rot is not None:
        q = np.round(np.asarray(frame.rot, dtype=np.float64).reshape(-1), JSON_DIGITS + 1).tolist()
        tail = f',"rot":{json.dumps(q, separators=(",", ":"))}'
    if frame.dancers is not None:  # ensemble: every dancer's joints, dancer-major
        d = np.round(np.asarray(frame.dancers, dtype=np.float64).reshape(-1), JSON_DIGITS).tolist()
        tail += f',"dancers":{json.dumps(d, separators=(",", ":"))}'
    return (
        f'{{"type":"frame","i":{int(frame.index)},"t":{_num(frame.t)},"wall":{_num(frame.wall, 6)},'
        f'"joints":{json.dumps(joints, separators=(",", ":"))},'
        f'"beat":{"true" if frame.beat else "false"},"beat_in_bar":{int(frame.beat_in_bar)},'
        f'"bar":{int(frame.bar)},"tempo":{_num(frame.tempo)},"confidence":{_num(frame.confidence)},'
        f'"latency_ms":{_num(frame.latency_ms)}{tail}}}'
    )


def _num(v: float, digits: int = 4) -> str:
    f = float(v)
    if not math.isfinite(f):
        return "null"
    return repr(round(f, digits))


class BinaryFrameEncoder:
    """Frames -> 59 little-endian float32 (``BINARY_LAYOUT``) through one preallocated buffer."""

    def __init__(self, *, rot: bool = False) -> None:
        self.rot = rot
        self.buf = np.zeros(BINARY_FLOATS + (ROT_FLOATS if rot else 0), dtype="<f4")
        self._ens = np.zeros(0, dtype="<f4")  # base + every dancer's joints (ensemble frames)

    def encode(self, frame: Frame) -> bytes:
        b = self.buf
        b[0] = frame.index
        b[1] = frame.t
        b[2] = frame.latency_ms
        b[3] = frame.tempo
        b[4] = 1.0 if frame.beat else 0.0
        b[5] = frame.beat_in_bar
        b[6] = frame.bar
        b[7] = frame.confidence
        b[8:BINARY_FLOATS] = np.asarray(frame.joints).reshape(-1)
        if self.rot:
            if frame.rot is None:
                b[BINARY_FLOATS:] = 0.0
                b[BINARY_FLOATS::4] = 1.0  # identity until rotations are computed
            else:
                b[BINARY_FLOATS:] = np.asarray(frame.rot).reshape(-1)
        if frame.dancers is not None:  # ensemble: all dancers after the rest (layout "dancers*K")
            d = np.asarray(frame.dancers).reshape(-1)
            base = len(self.buf)
            if self._ens.size != base + d.size:
                self._ens = np.zeros(base + d.size, dtype="<f4")
            self._ens[:base] = b
            self._ens[base:] = d
            return self._ens.tobytes()
        return b.tobytes()


def decode_binary(data: bytes) -> dict[str, Any]:
    """The inverse of BinaryFrameEncoder.encode (for tests and Python clients)."""
    nj = 3 * len(JOINT_NAMES)
    extra = len(data) // 4 - BINARY_FLOATS
    rot_n = ROT_FLOATS if extra >= ROT_FLOATS and (extra - ROT_FLOATS) % nj == 0 else 0
    if len(data) % 4 or extra < 0 or (extra - rot_n) % nj or (extra - rot_n) // nj == 1:
        raise ProtocolError(f"binary frame of {len(data)} bytes; expected {BINARY_BYTES}")
    a = np.frombuffer(data, dtype="<f4")
    if extra - rot_n:
        out_d = a[BINARY_FLOATS + rot_n:].reshape(-1, len(JOINT_NAMES), 3).copy()
        a = a[:BINARY_FLOATS + rot_n]
    out: dict[str, Any] = {k: float(a[i]) for i, k in enumerate(BINARY_LAYOUT[:-1])}
    for k in ("index", "beat_in_bar", "bar"):
        out[k] = int(out[k])
    out["beat"] = bool(out["beat"])
    out["joints"] = a[8:BINARY_FLOATS].reshape(len(JOINT_NAMES), 3).copy()
    if len(a) > BINARY_FLOATS:
        out["rot"] = a[BINARY_FLOATS:].reshape(-1, 4).copy()
    if extra - rot_n:
        out["dancers"] = out_d
    return out


def state(controls: Mapping[str, Any]) -> str:
    return dumps({"type": "state", "controls": dict(controls)})


def ack(msg_id: Any, name: str, value: Any) -> str:
    return dumps({"type": "ack", "id": msg_id, "name": name, "value": value})


def error(msg_id: Any, message: str) -> str:
    return dumps({"type": "error", "id": msg_id, "message": message})


PONG = '{"type":"pong"}'


def parse_client(data: str | bytes, *, max_size: int) -> dict[str, Any]:
    """A client message (text JSON object with a string ``type``) -> dict; ProtocolError
    (one line) for binary, oversize, invalid JSON, non-objects or a missing type."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        raise ProtocolError("binary messages are not accepted on /ws; send JSON text")
    if len(data) > max_size:
        raise ProtocolError(f"message of {len(data)} characters refused (limit {max_size})")
    try:
        obj = json.loads(data)
    except (json.JSONDecodeError, RecursionError):
        raise ProtocolError("message is not valid JSON; send {\"type\": \"control\", ...}") from None
    if not isinstance(obj, dict):
        raise ProtocolError("message must be a JSON object with a \"type\"")
    t = obj.get("type")
    if not isinstance(t, str):
        raise ProtocolError("message needs a string \"type\" (control or ping)")
    return obj


# ----------------------------------------------------------------------------- HTTP rules

CONTENT_TYPES: dict[str, str] = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
}
"""The only file types served as static files."""


def origin_ok(origin: str, *, host: str, allowed: set[str] | frozenset[str] = frozenset()) -> bool:
    """An ``Origin`` header is fine when it is listed in ``allowed`` (lower case, no trailing
    slash) or is http(s) on this very ``Host``."""
    o = origin.rstrip("/").lower()
    if o in allowed:
        return True
    parts = urlsplit(o)
    return parts.scheme in ("http", "https") and bool(host) and parts.netloc == host.lower()


def access_refusal(
    *, token: str, origins: set[str] | frozenset[str], params: Mapping[str, list[str]], headers: Any
) -> tuple[int, str] | None:
    """(HTTP status, one-line reason) when a request to a protected path must be refused,
    else None. ``headers`` has ``.get(name)`` (case-insensitive); ``params`` is the parsed
    query string. The token may come as ``?token=`` or ``Authorization: Bearer``."""
    origin = headers.get("Origin")
    if origin is not None and not origin_ok(origin, host=headers.get("Host") or "", allowed=origins):
        return 403, "origin not allowed; add it to websocket.origins"
    if not token:
        return None
    given = params.get("token", [""])[0]
    auth = headers.get("Authorization") or ""
    if not given and auth.lower().startswith("bearer "):
        given = auth[7:].strip()
    if not given:
        return 401, "this server needs ?token=...; use the URL it printed"
    if not secrets.compare_digest(given.encode(), token.encode()):
        return 403, "wrong token; use the URL the server printed"
    return None


def resolve_static(root: Path, path: str) -> tuple[int, Path | None]:
    """URL path (no query) -> (200, file inside ``root``) or (403 | 404, None).

    Refused (403): paths not starting with '/', empty, '.' or '..' segments, dot-files,
    backslashes, NULs (also percent-encoded). Not found (404): missing files, folders,
    files whose real path (symlinks resolved) leaves ``root``, types not in CONTENT_TYPES.
    ``/`` is ``index.html``. ``root`` must be resolved already.
    """
    if not path.startswith("/"):
        return 403, None
    rel = unquote(path[1:]) or "index.html"
    if "\\" in rel or "\x00" in rel or any(s in ("", ".", "..") or s.startswith(".") for s in rel.split("/")):
        return 403, None
    file = (root / rel).resolve()
    if not file.is_relative_to(root) or not file.is_file() or file.suffix.lower() not in CONTENT_TYPES:
        return 404, None
    return 200, file
