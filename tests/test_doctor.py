"""`dancemuse doctor`: every check prints its line; missing model and busy ports FAIL."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from live.cli import main
from live.doctor import FAIL, OK, WARN, Options, check_ports, port_free, run_checks
from model.config import load_config

LINES = ("audio input", "model", "provider", "timing", "http port", "osc listen", "osc target", "disk",
         "extra train", "extra video", "extra sync")


def _free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ports_args() -> list[str]:
    return ["--set", f"websocket.port={_free_port(socket.SOCK_STREAM)}",
            "--set", f"osc.listen=127.0.0.1:{_free_port(socket.SOCK_DGRAM)}"]


def test_doctor_prints_one_line_per_check_and_passes_on_a_good_setup(
        model_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["doctor", "--model", str(model_path), "--timing-seconds", "2", *_ports_args()])
    out = capsys.readouterr().out
    lines = out.strip().splitlines()
    for name in LINES:
        assert any(ln[6:].startswith(name) for ln in lines), f"no '{name}' line in:\n{out}"
    for ln in lines[:-1]:
        assert ln.split()[0] in (OK, WARN, FAIL), ln
        if not ln.startswith(OK):
            assert " -> " in ln, f"a WARN/FAIL line without its fix: {ln}"
    assert "p99" in out and "budget" in out
    # no sound card or a busy CI machine may WARN, but nothing here may FAIL except timing on a
    # machine too slow for the model (then the exit status says so)
    fails = [ln for ln in lines if ln.startswith(FAIL)]
    assert all("timing" in ln for ln in fails), fails
    assert rc == (1 if fails else 0)
    assert lines[-1].startswith("doctor: ")


def test_doctor_fails_for_a_missing_model_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["doctor", "--model", str(tmp_path / "nope.onnx"), "--skip", "audio", "--skip", "extras",
               *_ports_args()])
    out = capsys.readouterr().out
    model_line = next(ln for ln in out.splitlines() if ln[6:].startswith("model"))
    assert model_line.startswith(FAIL) and "nope.onnx" in model_line and " -> " in model_line
    assert any(ln[6:].startswith("timing") and "skipped" in ln for ln in out.splitlines())
    assert rc == 1


def test_doctor_fails_for_a_busy_http_port(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        rc = main(["doctor", "--skip", "audio", "--skip", "model", "--skip", "timing", "--skip", "extras",
                   "--set", f"websocket.port={port}", "--set", "osc.listen="])
        out = capsys.readouterr().out
    line = next(ln for ln in out.splitlines() if ln[6:].startswith("http port"))
    assert line.startswith(FAIL) and str(port) in line and "websocket.port" in line
    assert rc == 1


def test_doctor_fails_for_a_busy_osc_listen_port() -> None:
    cfg = load_config(None)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        cfg["osc"]["listen"] = f"127.0.0.1:{port}"
        cfg["websocket"]["port"] = _free_port(socket.SOCK_STREAM)
        assert port_free("127.0.0.1", port, udp=True) is not None
        res = {c.name: c for c in check_ports(cfg, Options())}
    assert res["osc listen"].status == FAIL and str(port) in res["osc listen"].detail
    assert res["http port"].status == OK


def test_doctor_fails_for_an_unresolvable_osc_target_and_a_missing_audio_file(tmp_path: Path) -> None:
    cfg = load_config(None)
    cfg["osc"]["targets"] = ["no-such-host.invalid:7000"]
    cfg["audio"]["input"] = str(tmp_path / "missing.wav")
    res = run_checks(cfg, Options(skip=("model", "timing", "ports", "disk", "extras")))
    st = {c.name: c.status for c in res}
    assert st["osc target"] == FAIL and st["audio input"] == FAIL


def test_a_bad_skip_name_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor", "--skip", "nonsense"]) == 2
    err = capsys.readouterr().err
    assert "nonsense" in err and len(err.strip().splitlines()) == 1


def test_doctor_names_a_damaged_audio_file_and_what_to_do(tmp_path: Path) -> None:
    """A WAV header with no sound: the reader's own line, split into what was found and the fix
    (it was cut at 120 characters inside a second "cannot read")."""
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunk")
    cfg = load_config(None)
    cfg["audio"]["input"] = str(bad)
    res = {c.name: c for c in run_checks(cfg, Options(skip=("model", "timing", "ports", "disk", "extras")))}
    c = res["audio input"]
    assert c.status == FAIL and c.detail.startswith(f"cannot read audio file {bad} (")
    assert c.fix.endswith("convert it to WAV or FLAC") and "damaged" in c.fix and "\n" not in c.line()
