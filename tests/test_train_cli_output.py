"""What `dancemuse train` prints: --resume says from which step, and only the first process
of a torchrun job prints the final line (once, not garbled by the others)."""

from __future__ import annotations

from pathlib import Path

import pytest

from live.cli import main
from tests.test_train import make_dataset, tiny_config


@pytest.mark.timeout(600)
def test_resume_names_its_step_and_only_rank_0_prints_the_final_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    data = make_dataset(tmp_path / "set", clips=4, seconds=6.0)
    cfg = tiny_config(tmp_path, steps=4, ckpt=2)
    run = tmp_path / "run"
    monkeypatch.delenv("RANK", raising=False)
    assert main(["train", "--data", str(data), "--out", str(run), "--train-config", str(cfg), "--quiet"]) == 0
    out, _ = capsys.readouterr()
    assert out.count("trained to step 4") == 1
    monkeypatch.setenv("RANK", "0")
    assert main(["train", "--data", str(data), "--out", str(run), "--train-config", str(cfg), "--resume",
                 "--steps", "6", "--quiet"]) == 0
    out, err = capsys.readouterr()
    assert f"resuming {run / 'last.pt'} from step 4" in err
    assert out.count("trained to step 6") == 1
    monkeypatch.setenv("RANK", "1")  # as torchrun sets it for the second process: it stays quiet
    assert main(["train", "--data", str(data), "--out", str(run), "--train-config", str(cfg), "--resume",
                 "--steps", "7", "--quiet"]) == 0
    out, err = capsys.readouterr()
    assert "trained to step" not in out and "resuming" not in err
