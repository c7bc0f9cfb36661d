"""OSC transport: a non-blocking UDP sender for frames and an asyncio control listener.

The codec lives in live/osc.py; this module only moves bytes.

``OscOutput`` owns one non-blocking UDP socket and sends each frame's datagrams to every
target. Sending never raises and never blocks: a full socket buffer drops the datagram
and counts it; ``ECONNREFUSED`` (Linux reports an ICMP 'port unreachable' from a target
with no listener on the next send) is counted and ignored, so a show can start before
TouchDesigner does.

``OscControlServer`` listens on ``osc.listen`` (``HOST:PORT``) with an asyncio datagram
endpoint, parses each datagram strictly, validates every message with
``live.control.from_osc`` and hands each Control to ``sink``. Bad input is logged at most
once per source per second and changes nothing.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from live.control import Control, RateLimitedLog, from_osc
from live.frame import Frame
from live.osc import DEFAULT_MESSAGES, FrameEncoder, parse_datagram
from model.errors import ConfigError, DanceMuseError, ProtocolError

log = logging.getLogger("dancemuse.osc")

MAX_CONTROL_DATAGRAM = 8192
"""Largest control datagram accepted, bytes (bigger ones are refused unread)."""


def parse_hostport(text: str, *, what: str) -> tuple[str, int]:
    """``"HOST:PORT"`` (``[v6]:PORT`` too) -> (host, port); ConfigError naming ``what``."""
    host, sep, port_s = text.strip().rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port_s.isdigit() or not 0 <= int(port_s) <= 65535:
        raise ConfigError(f"{what} {text!r} must look like HOST:PORT, e.g. 127.0.0.1:7000")
    return host, int(port_s)


def resolve_target(text: str) -> tuple[str, int]:
    """``HOST:PORT`` -> an IPv4 socket address for ``sendto`` (ConfigError if unknown)."""
    host, port = parse_hostport(text, what="OSC target")
    if port == 0:
        raise ConfigError(f"OSC target {text!r} needs a port other than 0")
    try:
        infos = socket.getaddrinfo(host, port, socket.AF_INET, socket.SOCK_DGRAM)
    except socket.gaierror:
        raise ConfigError(f"OSC target {text!r}: cannot resolve host {host!r} to an IPv4 address") from None
    addr = infos[0][4]
    return str(addr[0]), int(addr[1])


def _is_loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass
class OscStats:
    """Counters of an OscOutput (read them for /status)."""

    frames: int = 0
    datagrams: int = 0
    bytes: int = 0
    dropped: int = 0  # socket buffer full
    refused: int = 0  # ECONNREFUSED: nobody listening at a target
    errors: int = 0  # any other OSError


class OscOutput:
    """Send every frame as OSC bundles to each of ``targets`` over one non-blocking UDP socket.

    Parameters
    ----------
    targets : list of "HOST:PORT" strings (IPv4 or names resolving to IPv4).
    prefix, mode, messages, max_datagram : as in config ``[osc]``; see live/osc.py.
    """

    def __init__(
        self,
        targets: Sequence[str],
        *,
        prefix: str = "/dancemuse",
        mode: str = "bundle",
        messages: Sequence[str] = DEFAULT_MESSAGES,
        max_datagram: int = 1472,
    ) -> None:
        self.targets = [resolve_target(t) for t in targets]
        self.encoder = FrameEncoder(prefix=prefix, mode=mode, messages=messages, max_datagram=max_datagram)
        self.stats = OscStats()
        self._sock: socket.socket | None = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.setblocking(False)

    @classmethod
    def from_config(cls, osc_cfg: Mapping[str, Any]) -> OscOutput:
        """Build from ``cfg["osc"]``."""
        return cls(
            osc_cfg["targets"],
            prefix=osc_cfg["prefix"],
            mode=osc_cfg["mode"],
            messages=osc_cfg["messages"],
            max_datagram=osc_cfg["max_datagram"],
        )

    def send(self, frame: Frame) -> int:
        """Encode ``frame`` once and send it to every target; returns datagrams sent. Never raises
        for network trouble (counted in ``stats``) and never blocks."""
        sock = self._sock
        if sock is None:
            return 0
        sent = 0
        datagrams = self.encoder.encode(frame)
        st = self.stats
        st.frames += 1
        for target in self.targets:
            for d in datagrams:
                try:
                    st.bytes += sock.sendto(d, target)
                    sent += 1
                except BlockingIOError:
                    st.dropped += 1
                except ConnectionRefusedError:
                    st.refused += 1
                except OSError as e:
                    st.errors += 1
                    if st.errors == 1:  # once: a dead route would otherwise flood the log
                        log.warning("OSC send to %s:%d failed: %s (further failures only counted)",
                                    target[0], target[1], e.strerror)
        st.datagrams += sent
        return sent

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> OscOutput:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _ControlProtocol(asyncio.DatagramProtocol):
    def __init__(self, server: OscControlServer) -> None:
        self.server = server

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.server.handle_datagram(data, addr)

    def error_received(self, exc: Exception) -> None:  # pragma: no cover - OS dependent
        log.debug("OSC control socket error: %s", exc)


class OscControlServer:
    """Listen for OSC control datagrams and hand validated Controls to ``sink``.

    Parameters
    ----------
    listen : "HOST:PORT" to bind (port 0 picks a free port; see ``address`` after start).
    prefix : OSC address prefix (controls are ``<prefix>/control/<name>``).
    styles : the model's style names (for ``style``/``styles``); a callable is asked on
        every message, so the list may change when a model is swapped.
    sink : called with each valid Control (e.g. the app's ``apply``); a DanceMuseError it
        raises is logged like a validation error.
    max_datagram : larger datagrams are refused unread.
    """

    def __init__(
        self,
        listen: str,
        *,
        prefix: str,
        styles: Sequence[str] | Callable[[], Sequence[str]],
        sink: Callable[[Control], Any],
        max_datagram: int = MAX_CONTROL_DATAGRAM,
    ) -> None:
        self.host, self.port = parse_hostport(listen, what="osc.listen")
        self.prefix = prefix
        self._styles = styles
        self.sink = sink
        self.max_datagram = max_datagram
        self.received = 0
        self.applied = 0
        self.rejected = 0
        self.limiter = RateLimitedLog(log)
        self._transport: asyncio.DatagramTransport | None = None

    @property
    def styles(self) -> Sequence[str]:
        return self._styles() if callable(self._styles) else self._styles

    @property
    def address(self) -> tuple[str, int]:
        """(host, port) actually bound."""
        if self._transport is None:
            return self.host, self.port
        name = self._transport.get_extra_info("sockname")
        return str(name[0]), int(name[1])

    async def start(self) -> None:
        """Bind the UDP socket. ConfigError (one line) if the address cannot be bound."""
        loop = asyncio.get_running_loop()
        try:
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _ControlProtocol(self), local_addr=(self.host, self.port)
            )
        except OSError as e:
            raise ConfigError(
                f"osc.listen {self.host}:{self.port}: cannot bind ({e.strerror}); "
                "pick another port or set osc.listen = '' to turn control over OSC off"
            ) from None
        self._transport = transport  # type: ignore[assignment]
        log.info("OSC control listening on %s:%d", *self.address)
        if not _is_loopback(self.host):
            log.warning("OSC control on %s:%d takes controls from anyone who can reach it "
                        "(OSC has no token); keep it on a trusted network", *self.address)

    def handle_datagram(self, data: bytes, addr: Any) -> list[Control]:
        """Parse, validate and apply one datagram; returns the Controls applied."""
        self.received += 1
        source = f"osc:{addr[0]}:{addr[1]}" if isinstance(addr, tuple) else f"osc:{addr}"
        # log budget per sending host: tools like oscsend use a new port for every message
        host = f"osc:{addr[0]}" if isinstance(addr, tuple) else source
        if len(data) > self.max_datagram:
            self._reject(host, f"datagram of {len(data)} bytes refused (limit {self.max_datagram})")
            return []
        try:
            messages = parse_datagram(data)
        except ProtocolError as e:
            self._reject(host, str(e))
            return []
        applied: list[Control] = []
        styles = self.styles
        for address, args in messages:
            try:
                control = from_osc(address, args, prefix=self.prefix, styles=styles, source=source)
                if control is None:
                    continue
                self.sink(control)
            except DanceMuseError as e:
                self._reject(host, str(e))
                continue
            self.applied += 1
            applied.append(control)
        return applied

    def _reject(self, source: str, message: str) -> None:
        self.rejected += 1
        self.limiter.warn(source, message)

    async def stop(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None
