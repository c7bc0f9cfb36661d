"""Every mistake a user can make at the command line ends in one line and exit status 2
(argparse errors included), checked before any long work starts."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

from live.cli import main

REPO = Path(__file__).resolve().parent.parent


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of ``dancemuse ARGV`` run in this process."""
    try:
        rc = main(list(argv))
    except SystemExit as e:
        rc = int(e.code or 0) if isinstance(e.code, int) else 2
    out, err = capsys.readouterr()
    return rc, out, err


def error_line(err: str) -> str:
    """The one error line of stderr (progress and model lines before it are allowed)."""
    lines = [ln for ln in err.splitlines() if "error:" in ln]
    assert len(lines) == 1, err
    assert "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize("argv, needle", [
    (["--set", "live.energy=nan", "config", "show"], "live.energy"),
    (["--set", "live.variation=inf", "config", "show"], "live.variation"),
    (["--set", "audio.ring_seconds=-inf", "config", "show"], "audio.ring_seconds"),
    (["generate", "demo", "-o", "x.npz", "--energy", "nan"], "--energy"),
    (["generate", "demo", "-o", "x.npz", "--variation", "nan"], "--variation"),
    (["generate", "demo", "-o", "x.npz", "--energy", "inf"], "--energy"),
    (["generate", "demo", "-o", "x.npz", "--demo-seconds", "nan"], "--demo-seconds"),
    (["live", "--duration", "nan"], "--duration"),
    (["beats", "demo", "--seconds", "nan"], "--seconds"),
    (["features", "demo", "--seconds", "inf"], "--seconds"),
    (["dataset", "synth", "--out", "syn", "--minutes", "nan"], "--minutes"),
    (["export", "c.pt", "--tolerance", "nan"], "--tolerance"),
    (["evaluate", "--model", "m.onnx", "--songs", "s.wav", "--variation", "nan"], "--variation"),
    (["dataset", "extract", "v.mp4", "--out", "o", "--style", "house", "--max-gap", "inf"], "--max-gap"),
])
def test_nan_and_inf_are_refused_on_flags_and_set(capsys: pytest.CaptureFixture[str], argv: list[str],
                                                   needle: str, tmp_path: Path) -> None:
    os.chdir(tmp_path)
    rc, out, err = run_cli(capsys, *argv)
    assert rc == 2
    line = error_line(err)
    assert needle in line and ("finite" in line or "nan" in line.lower())
    assert not (tmp_path / "x.npz").exists()


def test_nan_in_a_config_file_is_refused_with_its_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    cfg = tmp_path / "show.toml"
    cfg.write_text("[live]\nenergy = nan\n")
    rc, _, err = run_cli(capsys, "--config", str(cfg), "config", "show")
    assert rc == 2
    assert f"{cfg}:2" in error_line(err) and "finite" in err


def test_all_zero_style_mix_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = tmp_path / "d.npz"
    rc, _, err = run_cli(capsys, "generate", "demo", "--demo-seconds", "2", "-o", str(out),
                         "--style", "house:0,ballet:0")
    assert rc == 2
    assert "no positive weight" in error_line(err)
    assert not out.exists()


def test_generate_into_a_folder_is_refused_before_generating(capsys: pytest.CaptureFixture[str],
                                                             tmp_path: Path) -> None:
    rc, _, err = run_cli(capsys, "generate", "demo", "-o", str(tmp_path))
    assert rc == 2
    assert "is a folder" in error_line(err)
    assert "generate [" not in err  # refused before the generation ran


@pytest.mark.parametrize("target", ["/proc/dancemuse-test.npz", "missing-folder/x.bvh"])
def test_generate_to_an_unwritable_path_is_refused_before_generating(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, target: str) -> None:
    path = target if target.startswith("/") else str(tmp_path / target)
    rc, _, err = run_cli(capsys, "generate", "demo", "-o", path)
    assert rc == 2
    assert "cannot write" in error_line(err)
    assert "generate [" not in err


def test_video_into_a_folder_is_refused_before_generating(capsys: pytest.CaptureFixture[str],
                                                          tmp_path: Path) -> None:
    (tmp_path / "v.mp4").mkdir()
    rc, _, err = run_cli(capsys, "generate", "demo", "--video", str(tmp_path / "v.mp4"))
    assert rc == 2
    assert "is a folder" in error_line(err)


def test_argparse_errors_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = run_cli(capsys, "generate")
    assert rc == 2
    assert len(err.strip().splitlines()) == 1 and "SONG" in err and "--help" in err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run_cli(capsys, "--version")
    assert rc == 0 and out.startswith("dancemuse 0.")


def test_features_plot_to_a_text_file_name_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    rc, _, err = run_cli(capsys, "features", "demo", "--seconds", "3", "--plot", str(tmp_path / "x.txt"))
    assert rc == 2
    assert "--plot" in error_line(err) and ".png" in err
    assert not (tmp_path / "x.txt").exists()


def test_config_show_names_the_file_it_loaded(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    cfg = tmp_path / "show.toml"
    cfg.write_text("[live]\nenergy = 1.5\n")
    rc, out, _ = run_cli(capsys, "--config", str(cfg), "config", "show")
    assert rc == 0
    assert out.splitlines()[0] == f"# loaded from {cfg}"
    assert "energy = 1.5" in out


def test_beats_downbeats_count_through_the_bar() -> None:
    from live.commands.beats import bar_counts

    # what the issue saw on real music: the tracker's position repeats while its phase settles
    assert bar_counts([1, 2, 2, 2, 3, 2, 3, 4, 1], 4) == [1, 2, 3, 4, 1, 2, 3, 4, 1]
    assert bar_counts([3, 4, 1, 2, 3], 4) == [3, 4, 1, 2, 3]        # starts mid-bar
    assert bar_counts([2, 2, 2, 1, 3, 3], 3) == [2, 3, 1, 1, 2, 3]  # a found downbeat restarts the bar
    assert bar_counts([], 4) == []


def test_non_audio_file_named_mp3_is_refused_by_content(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    fake = tmp_path / "song.mp3"
    fake.write_bytes(Path(sys.executable).read_bytes()[:200_000])
    rc, _, err = run_cli(capsys, "generate", str(fake), "-o", str(tmp_path / "d.npz"))
    assert rc == 2
    line = error_line(err)
    assert str(fake) in line and "audio" in line
    assert not (tmp_path / "d.npz").exists()


def test_empty_wav_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    import soundfile as sf

    wav = tmp_path / "empty.wav"
    sf.write(str(wav), np.zeros(0, np.float32), 24000)
    rc, _, err = run_cli(capsys, "beats", str(wav))
    assert rc == 2
    assert str(wav) in error_line(err)


def test_text_file_named_wav_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    wav = tmp_path / "text.wav"
    wav.write_text("this is not audio\n" * 100)
    rc, _, err = run_cli(capsys, "features", str(wav))
    assert rc == 2
    assert str(wav) in error_line(err)


@pytest.mark.parametrize("name, content", [("text.wav", b"not audio at all\n" * 50), ("empty.wav", None)])
def test_evaluate_refuses_a_song_that_is_not_audio(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                   name: str, content: bytes | None) -> None:
    import soundfile as sf

    song = tmp_path / name
    if content is None:
        sf.write(str(song), np.zeros(0, np.float32), 24000)
    else:
        song.write_bytes(content)
    model = REPO / "models" / "default.onnx"
    rc, _, err = run_cli(capsys, "evaluate", "--model", str(model), "--songs", str(song), "--data", str(tmp_path))
    assert rc == 2
    assert name in error_line(err)


def test_dataset_writer_hint_names_the_overwrite_flag(tmp_path: Path) -> None:
    from model.dataset import DatasetWriter
    from model.errors import DatasetError
    from model.skeleton import rest_pose

    poses = np.repeat(rest_pose(on_floor=True)[None], 10, axis=0)
    clip = dict(id="take1", poses=poses, fps=30, style="house", source="t", licence="t",
                audio=np.zeros(8000, np.float32), sample_rate=24000)
    with DatasetWriter(tmp_path / "set") as w:
        w.add_clip(**clip)
    with pytest.raises(DatasetError, match="pass --overwrite"), DatasetWriter(tmp_path / "set") as w:
        w.add_clip(**clip)


@pytest.mark.parametrize("ext", [".npz", ".json", ".csv", ".bvh"])
def test_a_failed_dance_write_leaves_the_old_file(tmp_path: Path, ext: str) -> None:
    from live.dance_io import write_dance

    out = tmp_path / f"dance{ext}"
    out.write_bytes(b"the old dance")
    with pytest.raises(Exception):  # noqa: B017 - whatever the writer raises on garbage
        write_dance(out, np.zeros((5, 3), np.float32), fps=30)  # not [t, 17, 3]
    assert out.read_bytes() == b"the old dance"
    assert [p.name for p in tmp_path.iterdir()] == [out.name]
