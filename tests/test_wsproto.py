"""live/wsproto.py: server messages against literal text/bytes; client message parsing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from live import wsproto
from live.frame import Frame
from model.errors import ProtocolError
from model.skeleton import BONES, JOINT_NAMES


def make_frame(**kw: object) -> Frame:
    base: dict = dict(index=1, t=0.5, wall=1_700_000_000.25, joints=np.zeros((17, 3), np.float32), beat=True,
                      beat_in_bar=1, bar=2, tempo=100.0, confidence=1.0, latency_ms=2.0)
    base.update(kw)
    return Frame(**base)


def test_binary_frame_literal_bytes() -> None:
    joints = np.zeros((17, 3), np.float32)
    joints[0] = (1.0, -2.0, 0.5)
    data = wsproto.BinaryFrameEncoder().encode(make_frame(joints=joints))
    assert len(data) == wsproto.BINARY_BYTES == 236
    head = bytes.fromhex(
        "0000803f" "0000003f" "00000040" "0000c842"  # index 1, t 0.5, latency 2, tempo 100
        "0000803f" "0000803f" "00000040" "0000803f"  # beat 1, beat_in_bar 1, bar 2, confidence 1
        "0000803f" "000000c0" "0000003f"  # nose x, y, z = 1, -2, 0.5
    )
    assert data[:44] == head
    assert data[44:] == b"\x00" * (236 - 44)


def test_binary_round_trip_and_layout() -> None:
    rng = np.random.default_rng(0)
    joints = rng.normal(size=(17, 3)).astype(np.float32)
    enc = wsproto.BinaryFrameEncoder()
    d = wsproto.decode_binary(enc.encode(make_frame(index=12345, beat=False, joints=joints)))
    assert d["index"] == 12345 and d["beat"] is False and d["bar"] == 2
    np.testing.assert_array_equal(d["joints"], joints)
    assert wsproto.BINARY_LAYOUT[-1] == "joints*51" and len(wsproto.BINARY_LAYOUT) == 9
    with pytest.raises(ProtocolError, match="236"):
        wsproto.decode_binary(b"\x00" * 10)


def test_binary_encoder_reuses_one_buffer() -> None:
    enc = wsproto.BinaryFrameEncoder()
    buf = enc.buf
    a = enc.encode(make_frame(index=1))
    b = enc.encode(make_frame(index=2))
    assert enc.buf is buf and a != b  # returned bytes are copies, the buffer is reused


def test_frame_json_literal_text() -> None:
    joints = np.zeros((17, 3), np.float32)
    joints[16] = (0.123456789, 1.0, -0.5)
    text = wsproto.frame_json(make_frame(joints=joints, t=0.5))
    zeros = ",".join(["0.0"] * 48)
    assert text == (
        '{"type":"frame","i":1,"t":0.5,"wall":1700000000.25,"joints":[' + zeros + ',0.12346,1.0,-0.5],'
        '"beat":true,"beat_in_bar":1,"bar":2,"tempo":100.0,"confidence":1.0,"latency_ms":2.0}'
    )
    obj = json.loads(text)
    assert len(obj["joints"]) == 51


def test_frame_json_non_finite_become_null() -> None:
    obj = json.loads(wsproto.frame_json(make_frame(tempo=float("nan"), confidence=float("inf"))))
    assert obj["tempo"] is None and obj["confidence"] is None


def test_hello_has_everything_the_visualizer_needs() -> None:
    text = wsproto.hello(
        fps=30,
        model={"name": "default", "provider": "CPUExecutionProvider", "styles": ["house", "ballet"],
               "controls": ["energy"], "meta": {"window": np.int64(64)}},
        controls={"energy": np.float32(1.0), "styles": (0.5, 0.5), "mirror": False},
        fmt="binary",
    )
    h = json.loads(text)
    assert h["type"] == "hello" and h["version"] == 1 and h["fps"] == 30 and h["format"] == "binary"
    assert h["skeleton"]["joints"] == list(JOINT_NAMES)
    assert h["skeleton"]["bones"] == [list(b) for b in BONES]
    assert len(h["skeleton"]["parents"]) == 17
    assert h["model"]["styles"] == ["house", "ballet"] and h["model"]["meta"] == {"window": 64}
    assert h["controls"] == {"energy": 1.0, "styles": [0.5, 0.5], "mirror": False}
    assert h["binary_layout"] == list(wsproto.BINARY_LAYOUT)
    with pytest.raises(ProtocolError, match="format"):
        wsproto.hello(fps=30, model={}, controls={}, fmt="xml")


def test_state_ack_error_pong_literals() -> None:
    assert wsproto.state({"energy": 1.5}) == '{"type":"state","controls":{"energy":1.5}}'
    assert wsproto.ack(7, "style", ("house", 0.5)) == '{"type":"ack","id":7,"name":"style","value":["house",0.5]}'
    assert wsproto.error(None, "bad") == '{"type":"error","id":null,"message":"bad"}'
    assert json.loads(wsproto.PONG) == {"type": "pong"}


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b'{"type":"ping"}', "binary"),
        ("{nope", "not valid JSON"),
        ("[1,2]", "JSON object"),
        ('{"name":"energy"}', "type"),
        ('{"type":3}', "type"),
        ("x" * 2000, "limit 1000"),
        ("[" * 5000 + "]" * 5000, ""),
    ],
    ids=["binary", "bad-json", "array", "no-type", "int-type", "oversize", "deep-nesting"],
)
def test_parse_client_refusals(data: object, match: str) -> None:
    with pytest.raises(ProtocolError, match=match or None) as e:
        wsproto.parse_client(data, max_size=1000 if match == "limit 1000" else 100_000)  # type: ignore[arg-type]
    assert "\n" not in str(e.value)


def test_parse_client_accepts_control_and_ping() -> None:
    assert wsproto.parse_client('{"type":"ping"}', max_size=100) == {"type": "ping"}
    m = wsproto.parse_client('{"type":"control","id":"a","name":"energy","value":1}', max_size=100)
    assert m["name"] == "energy"


def test_dumps_survives_odd_values() -> None:
    from pathlib import Path

    assert json.loads(wsproto.dumps({"p": Path("/x"), "n": float("nan"), "a": np.arange(2)})) == {
        "p": "/x", "n": None, "a": [0, 1]}


# ----------------------------------------------------------------------------- HTTP rules


class H(dict):
    """Case-insensitive header lookup like websockets' Headers."""

    def get(self, k: str, default: object = None) -> object:  # type: ignore[override]
        for key, v in self.items():
            if key.lower() == k.lower():
                return v
        return default


def test_access_refusal_token_and_origin() -> None:
    def ref(token: str, query: dict, headers: dict, origins: frozenset = frozenset()) -> object:
        return wsproto.access_refusal(token=token, origins=origins, params=query, headers=H(headers))

    host = {"Host": "10.0.0.2:8765"}
    assert ref("", {}, host) is None
    assert ref("t0k", {}, host)[0] == 401  # type: ignore[index]
    assert ref("t0k", {"token": ["nope"]}, host)[0] == 403  # type: ignore[index]
    assert ref("t0k", {"token": ["t0k"]}, host) is None
    assert ref("t0k", {}, {**host, "authorization": "Bearer t0k"}) is None
    assert ref("", {}, {**host, "Origin": "http://10.0.0.2:8765"}) is None
    assert ref("", {}, {**host, "Origin": "https://10.0.0.2:8765/"}) is None
    assert ref("", {}, {**host, "Origin": "http://evil.example"})[0] == 403  # type: ignore[index]
    assert ref("", {}, {**host, "Origin": "null"})[0] == 403  # type: ignore[index]
    assert ref("", {}, {**host, "Origin": "http://Show.Example:9"}, frozenset({"http://show.example:9"})) is None
    # origin is checked before the token: a foreign page cannot use a stolen token
    assert ref("t0k", {"token": ["t0k"]}, {**host, "Origin": "http://evil.example"})[0] == 403  # type: ignore[index]


def test_resolve_static_without_sockets(tmp_path: Path) -> None:
    root = tmp_path / "v"
    root.mkdir()
    (root / "index.html").write_text("x")
    (root / "a.js").write_text("x")
    (root / "b.py").write_text("x")
    root = root.resolve()
    assert wsproto.resolve_static(root, "/") == (200, root / "index.html")
    assert wsproto.resolve_static(root, "/a.js") == (200, root / "a.js")
    assert wsproto.resolve_static(root, "/%61.js") == (200, root / "a.js")
    for bad in ("a.js", "/../v/a.js", "/%2e%2e/v/a.js", "/./a.js", "/.git", "//a.js", "/a\\b.js", "/a.js%00"):
        assert wsproto.resolve_static(root, bad) == (403, None), bad
    for missing in ("/b.py", "/nope.js", "/v"):
        assert wsproto.resolve_static(root, missing) == (404, None), missing
