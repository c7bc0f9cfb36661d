"""AIST++ importer: keypoints3d pickles (cm, 60 fps) + music -> metres, y up, 30 fps clips."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from test_importers_bvh import run_cli

from model.dataset import check_dataset, load_poses, read_manifest
from model.errors import DatasetError
from model.importers.aist import import_aist, load_keypoints
from model.skeleton import ANKLE_HEIGHT, CANONICAL_BONE_LENGTHS, FEET, bone_lengths, rest_pose


def _keypoints(n: int = 120) -> np.ndarray:
    """An AIST++-like sequence: centimetres, 60 fps, standing 30 cm off the capture floor,
    bouncing and travelling."""
    t = np.arange(n) / 60.0
    p = rest_pose(on_floor=True)[None].repeat(n, 0).astype(np.float64)
    p[..., 1] += 0.3 + 0.05 * np.sin(2 * np.pi * 2 * t)[:, None]
    p[..., 0] += 1.5 + 0.3 * t[:, None]
    p[:, 9, 1] += 0.4 * np.sin(2 * np.pi * t)  # left wrist waves
    return (p * 100.0).astype(np.float32)


def _write_pkl(path: Path, doc: object) -> Path:
    with open(path, "wb") as f:
        pickle.dump(doc, f)
    return path


@pytest.fixture()
def aist(tmp_path: Path) -> tuple[Path, Path]:
    kp = tmp_path / "keypoints3d"
    music = tmp_path / "music"
    kp.mkdir()
    music.mkdir()
    for name in ("mHO1", "mBR0"):
        sf.write(music / f"{name}.wav", np.zeros(24000 * 3, dtype=np.float32), 24000)
    k = _keypoints()
    _write_pkl(kp / "gHO_sBM_cAll_d19_mHO1_ch02.pkl", {"keypoints3d_optim": k, "keypoints3d": k + 1.0})
    _write_pkl(kp / "gBR_sFM_cAll_d04_mBR0_ch01.pkl", {"keypoints3d": k[:, :, :] * np.array([1, -1, -1], np.float32)})
    return kp, music


def test_keypoint_folder_imports_as_metres_y_up_30fps_with_genre_styles(tmp_path: Path, aist, capsys) -> None:
    kp, music = aist
    out = tmp_path / "ds"
    assert run_cli(["dataset", "import", "aist", str(kp), "--music", str(music), "--out", str(out)]) == 0
    assert check_dataset(out) == []
    clips = {c["genre"]: c for c in read_manifest(out)["clips"]}
    assert clips["gHO"]["style"] == "house" and clips["gBR"]["style"] == "breaking"
    assert clips["gHO"]["music"] == "mHO1" and clips["gHO"]["fps"] == 30
    src = _keypoints() / 100.0
    for genre in ("gHO", "gBR"):  # gBR was stored y-down: it comes back upright
        p = load_poses(out / clips[genre]["poses"])["poses"]
        assert p.shape == (60, 17, 3)
        still = [j for j in range(17) if j != 9]  # the waving wrist changes its bone
        assert np.abs(bone_lengths(p)[:, still] - CANONICAL_BONE_LENGTHS[still]).max() < 1e-4
        assert np.percentile(p[:, list(FEET), 1].min(1), 2) == pytest.approx(ANKLE_HEIGHT, abs=1e-4)
        # every other frame of the source (keypoints3d_optim preferred), shifted only
        shift = p[0, 0] - src[0, 0] if genre == "gHO" else None
        if shift is not None:
            assert np.abs(p - (src[::2] + shift)).max() < 1e-4
    assert (out / clips["gHO"]["audio"]).is_file()


@pytest.mark.parametrize(
    ("doc", "message"),
    [({"keypoints3d": np.zeros((50, 24, 3), np.float32)}, r"shape \(50, 24, 3\), expected \(frames, 17, 3\)"),
     ({"smpl_poses": np.zeros((50, 72))}, "no 'keypoints3d'"),
     ([1, 2, 3], "expected a dict"),
     ({"keypoints3d": Path("x")}, "not allowed")],
)
def test_bad_pickles_give_one_line_and_write_nothing(tmp_path: Path, aist, doc, message: str, capsys) -> None:
    kp, music = aist
    _write_pkl(kp / "gPO_sBM_cAll_d10_mPO1_ch01.pkl", doc)
    out = tmp_path / "ds"
    rc = run_cli(["dataset", "import", "aist", str(kp), "--music", str(music), "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and __import__("re").search(message, err[-1]), err
    assert "gPO_sBM_cAll_d10_mPO1_ch01.pkl" in err[-1]
    assert not out.exists()


def test_keypoints_already_in_metres_are_recognised(tmp_path: Path, aist) -> None:
    kp, music = aist
    for f in kp.glob("*.pkl"):
        f.unlink()
    _write_pkl(kp / "gHO_sBM_cAll_d19_mHO1_ch02.pkl", {"keypoints3d": _keypoints() / 100.0})
    (entry,) = import_aist([kp], music_dir=music, out=tmp_path / "ds", fps=60)
    p = load_poses(tmp_path / "ds" / entry["poses"])["poses"]
    assert p.shape == (120, 17, 3)
    assert np.abs(bone_lengths(p)[:, :9] - CANONICAL_BONE_LENGTHS[:9]).max() < 1e-4


def test_a_pickle_cannot_run_code(tmp_path: Path) -> None:
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    path = _write_pkl(tmp_path / "gBR_sBM_cAll_d04_mBR0_ch01.pkl", {"keypoints3d": Evil()})
    with pytest.raises(DatasetError, match="not allowed"):
        load_keypoints(path)


def test_missing_music_names_the_song(tmp_path: Path, aist) -> None:
    kp, music = aist
    (music / "mHO1.wav").unlink()
    with pytest.raises(DatasetError, match="no audio for mHO1"):
        import_aist([kp], music_dir=music, out=tmp_path / "ds", fps=30)
    assert not (tmp_path / "ds").exists()
    with pytest.raises(DatasetError, match="no such file or folder"):
        import_aist([tmp_path / "nope.pkl"], music_dir=music, out=tmp_path / "ds", fps=30)
