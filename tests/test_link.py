"""Ableton Link end to end, inside a private network namespace.

Link finds peers by UDP multicast, so nothing here may run on the host's network: the
test starts `unshare -n` (a namespace with only loopback, multicast routed to it) and,
inside it, this file's ``inside()``: a second Link peer at 97 BPM and
``dancemuse live --input demo --loop --link`` with OSC to 127.0.0.1. It reports /status
and every OSC beat message (bundle timetag, arrival, beat-in-bar) against the peer's own
Link timeline; for the last seconds the peer leaves and /status must fall back to the
audio tracker. Skipped with the reason only where `unshare -n` is not permitted or
aalink is missing.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
BPM = 97.0
LEAVE_S = 5.0
NS_SETUP = "ip link set lo up && ip link set lo multicast on && ip route add 224.0.0.0/4 dev lo"


def _can_unshare() -> str:
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return "unshare or ip (iproute2) is not installed"
    try:
        r = subprocess.run(["unshare", "-n", "sh", "-c", NS_SETUP], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"unshare -n failed: {e}"
    if r.returncode != 0:
        return f"unshare -n is not permitted here: {r.stderr.strip()[:120]}"
    return ""


def _free_port(kind: int) -> int:
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    port = int(s.getsockname()[1])
    s.close()
    return port


def inside(seconds: float) -> dict[str, Any]:
    """Runs inside the namespace only (see the module docstring)."""
    import asyncio

    import aalink

    from live.osc import parse_datagram, timetag_to_unix

    async def main() -> dict[str, Any]:
        peer = aalink.Link(BPM)
        peer.quantum = 4
        peer.enabled = True
        await asyncio.sleep(1.5)  # the longest-running session wins when sessions meet
        osc_port, web_port = _free_port(socket.SOCK_DGRAM), _free_port(socket.SOCK_STREAM)
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", osc_port))
        sock.setblocking(False)
        cmd = [sys.executable, "-m", "live.cli", "live", "--input", "demo", "--loop", "--link",
               "--osc-target", f"127.0.0.1:{osc_port}", "--osc-listen", "", "--port", str(web_port)]
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        beats: list[dict[str, float]] = []
        statuses: list[dict[str, Any]] = []
        loop = asyncio.get_running_loop()
        t_end = time.time() + seconds
        t_leave = t_end - LEAVE_S  # the peer leaves the session for the last seconds
        next_status = 0.0
        try:
            while time.time() < t_end and proc.poll() is None:
                if peer.enabled and time.time() >= t_leave:
                    peer.enabled = False
                try:
                    data = sock.recv(65536)
                except BlockingIOError:
                    await asyncio.sleep(0.001)
                else:
                    now = time.time()
                    link_now, tempo = float(peer.beat), float(peer.tempo)
                    if data.startswith(b"#bundle"):
                        for addr, args in parse_datagram(data):
                            if addr.endswith("/beat"):
                                tt = timetag_to_unix(*struct.unpack(">II", data[8:16]))
                                if not peer.enabled:
                                    continue
                                beats.append({"timetag": tt, "arrival": now, "beat_in_bar": float(args[0]),
                                              "link_beat": link_now + (tt - now) * tempo / 60.0,
                                              "link_beat_arrival": link_now, "tempo": tempo})
                if time.time() >= next_status:
                    next_status = time.time() + 0.5
                    try:
                        raw = await loop.run_in_executor(None, lambda: urllib.request.urlopen(
                            f"http://127.0.0.1:{web_port}/status", timeout=2).read())
                        st = json.loads(raw)
                        statuses.append({"t": time.time(), "clock": st.get("clock"), "frames": st.get("frames"),
                                         "peer": bool(peer.enabled)})
                    except OSError:
                        pass
        finally:
            proc.terminate()
            try:
                _, err = proc.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                _, err = proc.communicate()
            peer.enabled = False
        return {"beats": beats, "statuses": statuses, "peer_tempo": float(peer.tempo),
                "rc": proc.returncode, "stderr": (err or "")[-2000:]}

    return asyncio.run(main())


def _run_in_namespace(seconds: float) -> dict[str, Any]:
    code = f"import json, tests.test_link as t; print('RESULT ' + json.dumps(t.inside({seconds})))"
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONWARNINGS="ignore")
    r = subprocess.run(["unshare", "-n", "sh", "-c", f'{NS_SETUP} && exec "{sys.executable}" -c "$0"', code],
                       cwd=ROOT, capture_output=True, text=True, timeout=seconds + 120, env=env)
    line = next((x for x in r.stdout.splitlines() if x.startswith("RESULT ")), None)
    assert line is not None, f"no result from the namespace (rc {r.returncode}): {r.stderr[-2000:]}"
    out: dict[str, Any] = json.loads(line[7:])
    return out


@pytest.mark.slow
def test_link_session_drives_status_tempo_and_beats_in_a_private_namespace() -> None:
    why = _can_unshare()
    if why:
        pytest.skip(why)
    pytest.importorskip("aalink", reason="aalink (the sync extra) is not installed")
    res = _run_in_namespace(30.0 + LEAVE_S)
    linked = [s for s in res["statuses"] if (s["clock"] or {}).get("source") == "link" and s["peer"]]
    assert linked, f"/status never reported source link: {res['statuses'][-3:]} {res['stderr']}"
    last = linked[-1]["clock"]
    assert abs(last["tempo"] - BPM) <= 0.1, last
    assert last["peers"] >= 1
    assert abs(res["peer_tempo"] - BPM) < 1e-6, "DanceMuse changed the session's tempo"
    # beats after the clock took over (and a settling second) fall on Link's beats
    t0 = linked[0]["t"] + 1.0
    beats = [b for b in res["beats"] if b["arrival"] >= t0]
    assert len(beats) >= 15, f"only {len(beats)} beats after Link took over"
    err_ms = [abs(b["link_beat"] - round(b["link_beat"])) * 60.0 / b["tempo"] * 1000.0 for b in beats]
    assert max(err_ms) <= 10.0, f"beat timetags off Link's beats by up to {max(err_ms):.1f} ms"
    bars = [int(round(b["link_beat"])) % 4 + 1 for b in beats]
    assert [int(b["beat_in_bar"]) for b in beats] == bars, "beat-in-bar differs from Link's quantum"
    # the last peer left: the audio tracker takes over again
    after = [s for s in res["statuses"] if not s["peer"]]
    assert after and after[-1]["clock"]["source"] == "audio" and after[-1]["clock"]["peers"] == 0, after[-2:]
    late = sorted((b["arrival"] - b["timetag"]) * 1000.0 for b in beats)
    assert abs(late[len(late) // 2]) <= 25.0, f"beat messages arrive {late[len(late) // 2]:.1f} ms from their beat"
    print(f"link: {len(beats)} beats, timetag error max {max(err_ms):.2f} ms, "
          f"arrival - beat {min(late):.1f}..{max(late):.1f} ms, tempo {last['tempo']}")


class _FakeLink:
    """Stands in for aalink.Link (no network): tempo, beat now, peers."""

    def __init__(self, tempo: float, peers: int = 1, beat: float = 10.0) -> None:
        self.tempo, self.num_peers, self.beat = tempo, peers, beat
        self.sets: list[float] = []

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "tempo" and hasattr(self, "sets"):
            self.sets.append(float(value))
        object.__setattr__(self, name, value)


def _source(fake: _FakeLink, *, lead: bool) -> Any:
    from collections import deque

    from live.link import LinkSource

    src = LinkSource.__new__(LinkSource)  # no aalink.Link: nothing joins any network here
    src.link, src.lead, src._lead_t, src._heard = fake, lead, 0.0, deque()
    return src


def test_link_source_answers_only_with_peers_and_extrapolates_the_beat(monkeypatch: pytest.MonkeyPatch) -> None:
    import live.link as link_mod

    monkeypatch.setattr(link_mod.time, "time", lambda: 500.0)
    fake = _FakeLink(120.0, peers=0)
    src = _source(fake, lead=False)
    assert src.read(500.0) is None
    fake.num_peers = 2
    tempo, beat = src.read(500.25)
    assert tempo == 120.0 and beat == pytest.approx(10.5)


def test_lead_proposes_a_steady_median_and_never_chases_wobble(monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np

    import live.link as link_mod

    now = [100.0]
    monkeypatch.setattr(link_mod.time, "monotonic", lambda: now[0])
    rng = np.random.default_rng(0)
    follower = _source(_FakeLink(97.0), lead=False)
    leader_link = _FakeLink(97.0)
    leader = _source(leader_link, lead=True)
    for k in range(30 * 12):  # 12 s of blocks: the tracker wobbles 122 +- 1.5 BPM
        now[0] += 1 / 30
        bpm = 122.0 + rng.uniform(-1.5, 1.5)
        conf = 0.2 if k < 60 else 0.9  # not confident for the first 2 s
        for src in (follower, leader):
            src.lead_tempo(bpm if k >= 60 else 150.0, conf)
    assert follower.link.sets == [], "without --link-lead the session tempo is never touched"
    assert len(leader_link.sets) == 1 and abs(leader_link.sets[0] - 122.0) < 0.5, leader_link.sets
