"""live/osc.py: OSC encoding against literal bytes and python-osc's real decoder; strict parsing."""

from __future__ import annotations

import struct
import time
import timeit

import numpy as np
import pytest
from pythonosc.osc_bundle import OscBundle
from pythonosc.osc_bundle_builder import OscBundleBuilder
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.osc_packet import OscPacket

from live.frame import Frame
from live.osc import (
    FrameEncoder,
    encode_bundle,
    encode_frame,
    encode_message,
    ntp_timetag,
    osc_string,
    parse_datagram,
    timetag_to_unix,
)
from model.errors import ConfigError, ProtocolError
from model.skeleton import JOINT_NAMES

WALL = 1_700_000_000.5


def make_frame(*, beat: bool = False, index: int = 7, wall: float = WALL) -> Frame:
    joints = (np.arange(51, dtype=np.float32).reshape(17, 3) - 25.0) / 10.0
    return Frame(index=index, t=0.25, wall=wall, joints=joints, beat=beat, beat_in_bar=2, bar=3,
                 tempo=120.0, confidence=0.8, latency_ms=3.0)


def decode(datagrams: list[bytes]) -> list[tuple[float, str, list]]:
    out = []
    for d in datagrams:
        b = OscBundle(d)
        for m in b:
            assert isinstance(m, OscMessage)
            out.append((b.timestamp, m.address, list(m.params)))
    return out


def test_message_matches_the_osc_spec_example_bytes() -> None:
    # OSC 1.0 spec examples: "/oscillator/4/frequency" 440.0 is these 32 bytes.
    expected = bytes.fromhex("2f6f7363696c6c61746f722f342f6672657175656e6379002c66000043dc0000")
    assert encode_message("/oscillator/4/frequency", [440.0]) == expected
    assert osc_string("OSC") == b"OSC\x00"
    assert osc_string("data") == b"data\x00\x00\x00\x00"


def test_message_all_types_round_trip_through_python_osc() -> None:
    d = encode_message("/a", [1, -2.5, "hi", True, False, None, b"\x01\x02\x03"])
    m = OscMessage(d)
    assert m.params == [1, -2.5, "hi", True, False, None, b"\x01\x02\x03"]
    with pytest.raises(ProtocolError):
        encode_message("/a", [object()])
    with pytest.raises(ProtocolError, match="NUL"):
        osc_string("a\x00b")


def test_tempo_bundle_literal_bytes() -> None:
    # captured: one /dancemuse/tempo 120.0 0.8 message in a bundle timetagged WALL
    expected = bytes.fromhex(
        "2362756e646c6500e8fe6f8080000000000000202f64616e63656d7573652f74656d706f00000000"
        "2c66660042f000003f4ccccd"
    )
    assert encode_frame(make_frame(), messages=["tempo"]) == [expected]
    assert encode_bundle(ntp_timetag(WALL), [encode_message("/dancemuse/tempo", [120.0, 0.8])]) == expected


def test_timetag_round_trip() -> None:
    sec, frac = ntp_timetag(WALL)
    assert sec == 1_700_000_000 + 2_208_988_800 and frac == 2**31
    assert abs(timetag_to_unix(*ntp_timetag(1234.987654321)) - 1234.987654321) < 1e-9


def test_bundle_mode_frame_decodes_with_python_osc() -> None:
    f = make_frame(beat=True)
    (d,) = encode_frame(f)
    assert len(d) <= 1472
    msgs = decode([d])
    assert all(abs(ts - WALL) < 1e-6 for ts, _, _ in msgs)
    addrs = [a for _, a, _ in msgs]
    assert addrs == (["/dancemuse/pose"] + [f"/dancemuse/joint/{n}" for n in JOINT_NAMES]
                     + ["/dancemuse/beat", "/dancemuse/tempo", "/dancemuse/frame"])
    pose = msgs[0][2]
    assert pose[0] == 7 and isinstance(pose[0], int)
    np.testing.assert_allclose(pose[1:], f.joints.ravel(), atol=1e-6)
    np.testing.assert_allclose(msgs[1 + JOINT_NAMES.index("left_wrist")][2], f.joints[9], atol=1e-6)
    assert msgs[18][2] == [2, 3]
    assert msgs[19][2] == pytest.approx([120.0, 0.8])
    assert msgs[20][2][0] == 7 and msgs[20][2][1] == pytest.approx(0.25)


def test_same_bytes_as_python_osc_builder_apart_from_timetag_rounding() -> None:
    f = make_frame()
    b = OscBundleBuilder(f.wall)
    m = OscMessageBuilder("/dancemuse/pose")
    m.add_arg(f.index)
    for v in f.joints.ravel().tolist():
        m.add_arg(v, "f")
    b.add_content(m.build())
    theirs = b.build().dgram
    (ours,) = encode_frame(f, messages=["pose"])
    assert ours[:8] == theirs[:8] and ours[16:] == theirs[16:]


def test_beat_message_only_on_beat_frames() -> None:
    on = [a for _, a, _ in decode(encode_frame(make_frame(beat=True)))]
    off = [a for _, a, _ in decode(encode_frame(make_frame(beat=False)))]
    assert "/dancemuse/beat" in on and "/dancemuse/beat" not in off
    assert len(on) == len(off) + 1


def test_flat_mode_one_float_per_address_split_under_limit() -> None:
    f = make_frame(beat=True)
    ds = encode_frame(f, mode="flat")
    assert len(ds) == 2 and all(len(d) <= 1472 for d in ds)
    msgs = decode(ds)
    assert all(len(args) == 1 and isinstance(args[0], float) for _, _, args in msgs)
    values = {a: args[0] for _, a, args in msgs}
    assert values["/dancemuse/joint/right_ankle/z"] == pytest.approx(float(f.joints[16, 2]))
    assert values["/dancemuse/joint/nose/x"] == pytest.approx(float(f.joints[0, 0]))
    assert values["/dancemuse/beat"] == 2.0 and values["/dancemuse/bar"] == 3.0
    assert values["/dancemuse/tempo"] == 120.0 and values["/dancemuse/frame"] == 7.0
    assert "/dancemuse/pose" not in values
    assert len(msgs) == 51 + 2 + 2 + 2


@pytest.mark.parametrize("limit", [300, 512, 1024, 1472])
def test_split_keeps_every_message_once_in_order_with_same_timetag(limit: int) -> None:
    f = make_frame(beat=True)
    ds = encode_frame(f, max_datagram=limit)
    assert all(len(d) <= limit for d in ds)
    assert len(ds) >= (2 if limit < 1304 else 1)
    msgs = decode(ds)
    assert [a for _, a, _ in msgs] == FrameEncoder(max_datagram=limit).addresses(beat=True)
    assert {ts for ts, _, _ in msgs} == {WALL}


def test_too_small_datagram_limit_is_a_config_error_naming_the_message() -> None:
    with pytest.raises(ConfigError, match="/dancemuse/pose"):
        FrameEncoder(max_datagram=256)


def test_prefix_and_message_set() -> None:
    ds = encode_frame(make_frame(), prefix="/show/", messages=["joints"])
    addrs = [a for _, a, _ in decode(ds)]
    assert addrs == [f"/show/joint/{n}" for n in JOINT_NAMES]
    assert encode_frame(make_frame(), messages=[]) == []
    with pytest.raises(ConfigError, match="unknown"):
        FrameEncoder(messages=["pose", "skeleton"])
    with pytest.raises(ConfigError, match="prefix"):
        FrameEncoder(prefix="dancemuse")
    with pytest.raises(ConfigError, match="mode"):
        FrameEncoder(mode="loose")


def test_encoder_reuses_its_buffers_and_updates_values() -> None:
    enc = FrameEncoder(messages=["frame"])
    a = enc.encode(make_frame(index=1))[0]
    first = bytes(a)
    b = enc.encode(make_frame(index=2, wall=WALL + 1))[0]
    assert a.obj is b.obj  # same preallocated buffer
    assert bytes(b) != first
    assert decode([bytes(b)])[0][2][0] == 2


def _reference_datagrams(enc: FrameEncoder, f: Frame) -> list[bytes]:
    """The frame's datagrams built message by message with the pure codec
    (encode_message/encode_bundle) from the encoder's message list."""
    from live.osc import ROT_BASE, _messages, _pack

    flat = np.asarray(f.joints, np.float32).ravel()
    rot = None if f.rot is None else np.asarray(f.rot, np.float32).ravel()
    out = []
    for group in _pack(_messages(enc.prefix, enc.mode, enc.messages, bool(f.beat)), enc.max_datagram):
        elements = []
        for m in group:
            args: list[int | float] = []
            for tag, src in zip(m.tags, m.sources):
                if isinstance(src, str):
                    v = getattr(f, src)
                elif src >= ROT_BASE:
                    k = src - ROT_BASE
                    v = (1.0 if k % 4 == 0 else 0.0) if rot is None else rot[k]
                else:
                    v = flat[src]
                args.append(int(v) if tag == "i" else float(v))
            elements.append(encode_message(m.address, args))
        beat_tag = f.beat and f.beat_wall > 0 and any(m.address.endswith("/beat") for m in group)
        out.append(encode_bundle(ntp_timetag(f.beat_wall if beat_tag else f.wall), elements))
    return out


@pytest.mark.parametrize("mode", ["bundle", "flat"])
@pytest.mark.parametrize("messages", [("pose", "joints", "beat", "tempo", "frame"), ("joints", "rot"),
                                      ("pose", "beat", "rot"), ("tempo", "frame"), ("joints",)])
@pytest.mark.parametrize("limit", [1472, 300])
def test_encoder_bytes_equal_the_message_by_message_codec(mode: str, messages: tuple[str, ...], limit: int) -> None:
    """The encoder writes slices, one scatter and one struct per run of scalars into its
    preallocated bundles: the bytes equal those built message by message, for beat frames
    (with a clock's beat time), rotations or none, float64 joints, and numbers of other
    types (numpy scalars, an integral float where an int goes)."""
    rng = np.random.default_rng(3)
    try:
        enc = FrameEncoder(mode=mode, messages=messages, max_datagram=limit, prefix="/show/a")
    except ConfigError:
        assert limit == 300 and "pose" in messages and mode == "bundle"  # /pose does not fit 300 bytes
        return
    for k in range(8):
        f = make_frame(beat=k % 2 == 0, index=int(rng.integers(0, 1 << 30)), wall=WALL + float(rng.random()) * 1e3)
        f.joints = rng.standard_normal((17, 3)).astype(np.float64 if k == 5 else np.float32) * 3.0
        f.rot = rng.standard_normal((25, 4)).astype(np.float32) if k % 3 == 1 else None
        f.tempo, f.confidence, f.t = float(rng.random() * 200), float(rng.random()), float(rng.random() * 900)
        f.beat_wall = WALL + 0.25 if k == 2 else 0.0
        if k == 6:
            f.index, f.bar, f.tempo, f.beat_in_bar = np.int64(99), 4.0, np.float32(97.5), np.int32(3)  # type: ignore[assignment]
        assert [bytes(d) for d in enc.encode(f)] == _reference_datagrams(enc, f), f"frame {k}"


def test_encoder_refuses_wrong_joint_count() -> None:
    f = make_frame()
    f.joints = np.zeros((16, 3), np.float32)
    with pytest.raises(ProtocolError, match="48 joint values"):
        FrameEncoder().encode(f)


def test_encoder_is_faster_than_python_osc() -> None:
    f = make_frame(beat=True)
    enc = FrameEncoder()

    def theirs() -> bytes:
        b = OscBundleBuilder(f.wall)
        j = f.joints.ravel().tolist()
        m = OscMessageBuilder("/dancemuse/pose")
        m.add_arg(f.index)
        for v in j:
            m.add_arg(v, "f")
        b.add_content(m.build())
        for k, n in enumerate(JOINT_NAMES):
            m = OscMessageBuilder("/dancemuse/joint/" + n)
            for v in j[3 * k:3 * k + 3]:
                m.add_arg(v, "f")
            b.add_content(m.build())
        return b.build().dgram

    ours = min(timeit.repeat(lambda: enc.encode(f), number=50, repeat=3)) / 50
    py = min(timeit.repeat(theirs, number=20, repeat=3)) / 20
    print(f"frame encode: ours {ours * 1e6:.1f} us, python-osc builder {py * 1e6:.1f} us")
    assert ours < py / 3


# ------------------------------------------------------------------------- parsing


def test_parse_message_and_nested_bundle() -> None:
    m1 = encode_message("/dancemuse/control/energy", [1.5])
    m2 = encode_message("/dancemuse/control/style", ["house", 0.5])
    inner = encode_bundle((0, 1), [m2])
    d = encode_bundle(ntp_timetag(time.time()), [m1, inner])
    assert parse_datagram(d) == [("/dancemuse/control/energy", [1.5]), ("/dancemuse/control/style", ["house", 0.5])]
    assert parse_datagram(encode_message("/x/reset")) == [("/x/reset", [])]
    h = osc_string("/h") + osc_string(",hdTFN") + struct.pack(">qd", -5, 2.5)
    assert parse_datagram(h) == [("/h", [-5, 2.5, True, False, None])]


def test_parse_accepts_what_python_osc_builds() -> None:
    m = OscMessageBuilder("/dancemuse/control/styles")
    for w in (0.1, 0.2, 0.7):
        m.add_arg(w, "f")
    got = parse_datagram(m.build().dgram)
    assert got[0][0] == "/dancemuse/control/styles"
    assert got[0][1] == pytest.approx([0.1, 0.2, 0.7])


GOOD = encode_message("/dancemuse/control/energy", [1.0])


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"", "multiple of 4"),
        (b"/ab", "multiple of 4"),
        (GOOD[:-4], "truncated"),
        (GOOD + b"\x00\x00\x00\x00", "stray"),
        (b"/abc", "NUL"),
        (b"abc\x00", "neither"),
        (osc_string("/a") + osc_string("ff"), "','"),
        (osc_string("/a") + osc_string(",x"), "not supported"),
        (osc_string("/a") + osc_string(",s") + b"abcd", "NUL"),
        (osc_string("/a") + osc_string(",b") + struct.pack(">i", 100), "truncated"),
        (osc_string("/a") + osc_string(",b") + struct.pack(">i", -4), "truncated"),
        (b"/a\x00\x01" + osc_string(",i") + b"\x00" * 4, "padding"),
        (b"/\xff\x00\x00" + osc_string(","), "UTF-8"),
        (b"#bundle\x00" + b"\x00" * 4, "header"),
        (b"#bundle\x00" + b"\x00" * 8 + struct.pack(">i", 64) + GOOD, "does not fit"),
        (b"#bundle\x00" + b"\x00" * 8 + struct.pack(">i", 0), "does not fit"),
        (b"#bundle\x00" + b"\x00" * 8 + struct.pack(">i", 6) + b"\x00" * 8, "does not fit"),
        (b"\xff\xfe\x80\x00", "neither"),
    ],
)
def test_parse_refuses_malformed_datagrams(data: bytes, match: str) -> None:
    with pytest.raises(ProtocolError, match=match or None) as e:
        parse_datagram(data)
    assert "\n" not in str(e.value)


def test_parse_limits_nesting_messages_and_arguments() -> None:
    d = GOOD
    for _ in range(6):
        d = encode_bundle((0, 1), [d])
    with pytest.raises(ProtocolError, match="nested"):
        parse_datagram(d)
    many = encode_bundle((0, 1), [GOOD] * 100)
    with pytest.raises(ProtocolError, match="more than 64"):
        parse_datagram(many)
    big = encode_message("/a", [1.0] * 300)
    with pytest.raises(ProtocolError, match="at most 256"):
        parse_datagram(big)


def test_our_frame_datagrams_parse_back() -> None:
    for d in encode_frame(make_frame(beat=True), mode="flat"):
        for address, args in parse_datagram(d):
            assert address.startswith("/dancemuse/") and len(args) == 1
    assert OscPacket(encode_frame(make_frame())[0]).messages
