"""live/osc_io.py with real UDP sockets: frames out to several targets, control datagrams in."""

from __future__ import annotations

import asyncio
import socket
import time

import numpy as np
import pytest
from pythonosc.osc_packet import OscPacket
from pythonosc.udp_client import SimpleUDPClient

from live.control import Control
from live.frame import Frame
from live.osc import encode_bundle, encode_message
from live.osc_io import OscControlServer, OscOutput, parse_hostport, resolve_target
from model.errors import ConfigError, ProtocolError

STYLES = ("house", "hiphop", "ballet", "popping")


def frame(i: int, *, beat: bool = False) -> Frame:
    j = np.full((17, 3), i / 100.0, dtype=np.float32)
    return Frame(index=i, t=i / 30, wall=time.time(), joints=j, beat=beat, beat_in_bar=1 + i % 4,
                 bar=i // 4, tempo=124.0, confidence=0.9)


def receiver() -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    s.settimeout(2.0)
    return s


def free_udp_port() -> int:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_every_target_receives_every_frame_in_order() -> None:
    a, b = receiver(), receiver()
    targets = [f"127.0.0.1:{s.getsockname()[1]}" for s in (a, b)]
    with OscOutput(targets) as out:
        for i in range(60):
            assert out.send(frame(i, beat=i % 8 == 0)) == 2
        assert out.stats.frames == 60 and out.stats.datagrams == 120 and out.stats.errors == 0
    for s in (a, b):
        indices = []
        for _ in range(60):
            msgs = OscPacket(s.recv(65536)).messages
            by = {m.message.address: m.message.params for m in msgs}
            assert len(by["/dancemuse/pose"]) == 52
            assert len([a for a in by if a.startswith("/dancemuse/joint/")]) == 17
            indices.append(by["/dancemuse/frame"][0])
            assert ("/dancemuse/beat" in by) == (by["/dancemuse/frame"][0] % 8 == 0)
        assert indices == list(range(60))
        s.close()


def test_flat_mode_over_the_wire_respects_datagram_limit() -> None:
    r = receiver()
    out = OscOutput([f"127.0.0.1:{r.getsockname()[1]}"], mode="flat", max_datagram=1000)
    out.send(frame(3))
    sizes = []
    addrs = []
    r.settimeout(0.5)
    try:
        while True:
            d = r.recv(65536)
            sizes.append(len(d))
            addrs += [m.message.address for m in OscPacket(d).messages]
    except TimeoutError:
        pass
    assert max(sizes) <= 1000 and len(sizes) >= 3
    assert "/dancemuse/joint/left_wrist/y" in addrs and len(addrs) == 51 + 4
    out.close()
    r.close()


def test_a_target_with_no_listener_is_ignored_and_others_still_served() -> None:
    live = receiver()
    dead = free_udp_port()
    out = OscOutput([f"127.0.0.1:{dead}", f"127.0.0.1:{live.getsockname()[1]}"])
    for i in range(20):
        out.send(frame(i))  # must not raise even after ICMP port-unreachable
        time.sleep(0.001)
    got = [OscPacket(live.recv(65536)).messages for _ in range(20)]
    assert len(got) == 20
    assert out.stats.frames == 20
    out.close()
    assert out.send(frame(21)) == 0  # closed: silently nothing
    live.close()


def test_target_parsing() -> None:
    assert parse_hostport("127.0.0.1:7000", what="x") == ("127.0.0.1", 7000)
    assert parse_hostport("[::1]:9000", what="x") == ("::1", 9000)
    assert resolve_target("localhost:7000") == ("127.0.0.1", 7000)
    for bad in ("127.0.0.1", "host:port", ":7000", "1.2.3.4:99999"):
        with pytest.raises(ConfigError, match="HOST:PORT"):
            parse_hostport(bad, what="OSC target")
    with pytest.raises(ConfigError, match="cannot resolve"):
        resolve_target("no-such-host.invalid:7000")


def test_from_config_uses_the_osc_section() -> None:
    from model.config import defaults

    cfg = defaults()["osc"]
    out = OscOutput.from_config(cfg)
    assert out.targets == [("127.0.0.1", 7000)]
    assert out.encoder.mode == "bundle" and out.encoder.max_datagram == 1472
    out.close()


async def _control_roundtrip() -> tuple[list[Control], OscControlServer]:
    got: list[Control] = []

    def sink(c: Control) -> dict:
        if c.name == "variation" and c.value == 1.0:
            raise ProtocolError("engine refuses this one")
        got.append(c)
        return {}

    srv = OscControlServer("127.0.0.1:0", prefix="/dancemuse", styles=lambda: STYLES, sink=sink,
                           max_datagram=2048)
    await srv.start()
    host, port = srv.address
    client = SimpleUDPClient(host, port)
    raw = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client.send_message("/dancemuse/control/energy", 1.5)
    raw.sendto(b"garbage!", (host, port))  # malformed
    client.send_message("/dancemuse/control/jump", 1.0)  # unknown address
    client.send_message("/dancemuse/control/energy", 7.0)  # out of range
    raw.sendto(encode_message("/dancemuse/control/hold", [1.0] * 600), (host, port))  # oversize
    client.send_message("/dancemuse/control/variation", 1.0)  # sink refuses
    client.send_message("/dancemuse/control/style", ["ballet", 0.5])
    raw.sendto(encode_bundle((0, 1), [encode_message("/dancemuse/control/mirror", [True]),
                                      encode_message("/dancemuse/control/tempo/tap")]), (host, port))
    client.send_message("/dancemuse/control/tempo/tap", 0.0)  # button release: nothing
    client.send_message("/dancemuse/control/reset", [])
    deadline = time.monotonic() + 3.0
    while srv.received < 10 and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    await srv.stop()
    raw.close()
    return got, srv


def test_control_server_applies_valid_and_rejects_bad_datagrams() -> None:
    got, srv = asyncio.run(_control_roundtrip())
    assert srv.received == 10
    assert [(c.name, c.value) for c in got] == [
        ("energy", 1.5),
        ("style", ("ballet", 0.5)),
        ("mirror", True),
        ("tempo/tap", None),
        ("reset", None),
    ]
    assert all(c.source.startswith("osc:127.0.0.1:") for c in got)
    assert srv.rejected == 5 and srv.applied == 5


def test_control_server_bind_failure_is_one_line() -> None:
    async def main() -> None:
        blocker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        blocker.bind(("127.0.0.1", 0))
        port = blocker.getsockname()[1]
        srv = OscControlServer(f"127.0.0.1:{port}", prefix="/d", styles=STYLES, sink=lambda c: None)
        try:
            with pytest.raises(ConfigError, match="cannot bind"):
                await srv.start()
        finally:
            blocker.close()

    asyncio.run(main())


def test_rejections_are_logged_once_per_second_per_host_whatever_the_port(caplog: pytest.LogCaptureFixture) -> None:
    srv = OscControlServer("127.0.0.1:0", prefix="/dancemuse", styles=STYLES, sink=lambda c: None)
    with caplog.at_level("WARNING", logger="dancemuse.osc"):
        for port in range(40000, 40010):  # a new source port per datagram, like oscsend
            srv.handle_datagram(b"junk", ("10.1.2.3", port))
        srv.handle_datagram(b"junk", ("10.9.9.9", 5))
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2 and lines[0].startswith("osc:10.1.2.3:") and lines[1].startswith("osc:10.9.9.9:")
    assert srv.rejected == 11
