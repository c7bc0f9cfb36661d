"""`dancemuse export` never overwrites a model unless the new one passed its checks:
written beside the destination, checked, renamed; a NaN checkpoint is refused."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from export.atomic import CheckedOutput
from live.cli import main
from tests.test_export import _checkpoint

OLD = b"the previous model, which must survive"


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_failed_parity_leaves_the_existing_model_intact(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ckpt = _checkpoint(tmp_path / "c.pt")
    out = tmp_path / "default.onnx"
    out.write_bytes(OLD)
    # a tolerance nothing can meet makes the parity check fail
    rc = main(["export", str(ckpt), "-o", str(out), "--parity-frames", "40", "--tolerance", "-1"])
    err = capsys.readouterr().err
    assert rc == 1
    lines = [ln for ln in err.splitlines() if "error:" in ln]
    assert len(lines) == 1 and "was not written" in lines[0] and "Traceback" not in err
    assert out.read_bytes() == OLD
    assert _leftovers(tmp_path) == []


def test_nan_checkpoint_is_refused_and_the_old_model_kept(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ckpt = _checkpoint(tmp_path / "c.pt")
    doc = torch.load(ckpt, weights_only=False)
    key = next(k for k, v in doc["model"].items() if v.is_floating_point() and v.numel() > 1)
    doc["model"][key] = torch.full_like(doc["model"][key], float("nan"))
    torch.save(doc, ckpt)
    out = tmp_path / "default.onnx"
    out.write_bytes(OLD)
    rc = main(["export", str(ckpt), "-o", str(out), "--parity-frames", "20"])
    err = capsys.readouterr().err
    assert rc == 2
    lines = [ln for ln in err.splitlines() if "error:" in ln]
    assert len(lines) == 1 and "NaN" in lines[0] and str(ckpt) in lines[0]
    assert out.read_bytes() == OLD
    assert _leftovers(tmp_path) == []


def test_passing_export_replaces_the_model_and_shows_parity_progress(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ckpt = _checkpoint(tmp_path / "c.pt")
    out = tmp_path / "default.onnx"
    out.write_bytes(OLD)
    assert main(["export", str(ckpt), "-o", str(out), "--parity-frames", "40"]) == 0
    captured = capsys.readouterr()
    assert out.read_bytes() != OLD and out.stat().st_size > 10_000
    assert "parity check: torch vs onnxruntime over 40" in captured.err
    assert f"wrote {out}" in captured.out
    assert _leftovers(tmp_path) == []


def test_checked_output_removes_its_temporary_file_on_error(tmp_path: Path) -> None:
    out = tmp_path / "m.onnx"
    out.write_bytes(OLD)
    with pytest.raises(RuntimeError), CheckedOutput(out) as o:
        o.tmp.write_bytes(b"half a model")
        raise RuntimeError("crash mid-export")
    assert out.read_bytes() == OLD and _leftovers(tmp_path) == []
