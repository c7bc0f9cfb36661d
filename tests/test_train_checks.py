"""Bad training input is refused in one line before training starts: NaN poses, truncated
or wrong-shaped clips, wrong-typed / zero / negative train-config values."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from live.cli import main
from model.dataset import DatasetWriter, check_dataset
from model.errors import DatasetError
from model.train_checks import check_train_config, check_train_toml, check_training_data


def small_set(root: Path, *, clips: int = 2, frames: int = 60) -> Path:
    """A tiny valid dataset (silent audio) -- enough for checks that never reach training."""
    from model.skeleton import rest_pose

    rest = rest_pose(on_floor=True).astype(np.float32)
    with DatasetWriter(root) as w:
        for i in range(clips):
            poses = np.repeat(rest[None], frames, axis=0) + 0.01 * i
            w.add_clip(id=f"c{i}", poses=poses, fps=30, style="house", source="test", licence="test",
                       audio=np.zeros(frames * 800, np.float32), sample_rate=24000)
    return root


@pytest.fixture()
def data(tmp_path: Path) -> Path:
    """A fresh small valid dataset in tmp_path/set."""
    return small_set(tmp_path / "set")


def _error_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if "error:" in ln]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def _train(capsys: pytest.CaptureFixture[str], data: Path, out: Path, *extra: str) -> tuple[int, str]:
    try:
        rc = main(["train", "--data", str(data), "--out", str(out), "--quiet", *extra])
    except SystemExit as e:
        rc = int(e.code or 0)
    return rc, capsys.readouterr().err


def test_truncated_clip_is_one_line_in_dataset_check_and_train(data: Path, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    npz = data / "clips" / "c1.npz"
    npz.write_bytes(npz.read_bytes()[: npz.stat().st_size // 2])
    problems = check_dataset(data)
    assert len(problems) == 1 and "c1" in problems[0] and "truncated" in problems[0]
    assert main(["dataset", "check", str(data)]) == 1
    out, err = capsys.readouterr()
    assert "truncated" in out and "Traceback" not in out + err
    rc, err = _train(capsys, data, tmp_path / "run")
    assert rc == 2
    assert "c1" in _error_line(err) and "truncated" in err
    assert not (tmp_path / "run").exists()


def test_nan_poses_refuse_training_before_it_starts(data: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    npz = data / "clips" / "c0.npz"
    with np.load(npz) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["poses"][5:8, 3, 1] = np.nan
    np.savez(npz, **arrays)
    rc, err = _train(capsys, data, tmp_path / "run")
    assert rc == 2
    line = _error_line(err)
    assert "c0" in line and "NaN" in line and "3 frames" in line
    assert not (tmp_path / "run").exists()


def test_wrong_clip_shape_refuses_training(data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    npz = data / "clips" / "c1.npz"
    np.savez(npz, poses=np.zeros((60, 16, 3), np.float32), fps=np.float64(30))
    rc, err = _train(capsys, data, tmp_path / "run")
    assert rc == 2
    assert "(60, 16, 3)" in _error_line(err) and "c1" in err


@pytest.mark.parametrize("body, needle", [
    ('[train]\nsteps = "abc"\n', "[train] steps"),
    ("[train]\nbatch = 0\n", "[train] batch"),
    ("[train]\nlr = -1\n", "[train] lr"),
    ("[train]\nlr = nan\n", "[train] lr"),
    ("[train]\nseq_len = 2.5\n", "[train] seq_len"),
    ("[train]\nval_fraction = 3.0\n", "[train] val_fraction"),
    ("[net]\nheads = 0\n", "[net] heads"),
    ('[net]\nd_model = "big"\n', "[net] d_model"),
    ("[net]\ndropout = 2.0\n", "[net] dropout"),
])
def test_bad_train_or_net_config_value_is_one_line_naming_it_and_the_file(
        data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], body: str, needle: str) -> None:
    cfg = tmp_path / "t.toml"
    cfg.write_text(body)
    rc, err = _train(capsys, data, tmp_path / "run", "--train-config", str(cfg))
    assert rc == 2
    got = _error_line(err)
    assert needle in got and str(cfg) in got


def test_default_train_config_passes_the_checks() -> None:
    from model.network import NetConfig
    from model.train import TrainConfig

    check_train_config(NetConfig(), TrainConfig())
    for name in ("default_train.toml", "v5_train.toml", "v5_finetune.toml", "style_stage.toml"):
        check_train_toml(Path(__file__).resolve().parent.parent / "models" / name)


@pytest.mark.parametrize("flag", ["--steps", "--threads"])
def test_zero_or_negative_step_and_thread_flags(data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                flag: str) -> None:
    for v in ("0", "-5"):
        rc, err = _train(capsys, data, tmp_path / "run", flag, v)
        assert rc == 2 and flag in _error_line(err)


def test_check_training_data_counts_good_clips(tmp_path: Path) -> None:
    assert check_training_data(small_set(tmp_path / "set", clips=3)) == 3
    with pytest.raises(DatasetError, match="does not exist"):
        check_training_data(tmp_path / "nowhere")
