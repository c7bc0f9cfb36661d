"""AIST++ importer: ``keypoints3d/*.pkl`` plus the AIST Dance DB music -> a dataset.

AIST++ keypoint files are pickled dicts holding ``keypoints3d_optim`` (preferred) and/or
``keypoints3d``, [shape=(n, 17, 3)] COCO-17 order, centimetres, 60 fps. File names carry
the genre and the song: ``gBR_sBM_cAll_d04_mBR0_ch01.pkl`` is breaking (gBR) danced to
``mBR0``, whose audio is ``mBR0.wav`` (or .mp3 ...) in the music folder. The import:
centimetres -> metres (a file already in metres or millimetres is recognised by its thigh
length); y up (AIST++ is y up already; a y-down file is turned upright);
feet on y = 0 and the mean root at x = z = 0; 60 fps -> the configured fps (linear
interpolation; 60 -> 30 keeps every other frame); the genre code -> a style label
(``--style`` overrides it). Frames with NaN are interpolated when they are few.

Pickles can run code when loaded: this module unpickles with an allow-list that admits
only numpy arrays and plain containers, so a crafted file fails instead of executing.
"""

from __future__ import annotations

import pickle
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from model.dataset import AUDIO_EXTENSIONS, DatasetWriter
from model.errors import DatasetError
from model.importers.common import (
    interpolate_missing,
    make_upright,
    put_on_floor,
    resample,
    unique_ids,
)
from model.skeleton import CANONICAL_BONE_LENGTHS, NUM_JOINTS

AIST_FPS = 60.0
AIST_UNIT = 0.01  # metres per AIST++ keypoint unit (centimetres)

GENRES: dict[str, str] = {
    "gBR": "breaking",
    "gPO": "popping",
    "gLO": "locking",
    "gMH": "hiphop",
    "gLH": "la_hiphop",
    "gHO": "house",
    "gWA": "waacking",
    "gKR": "krump",
    "gJS": "street_jazz",
    "gJB": "ballet_jazz",
}
"""AIST++ genre code -> style label (middle hip-hop is plain "hiphop", as in our synth)."""

LICENCE = ("AIST++ annotations CC BY 4.0 (Li et al. 2021); music from the AIST Dance DB, "
           "see its terms of use")

_NAME = re.compile(r"^(g[A-Z]{2})_s[A-Za-z]+_c[A-Za-z0-9]+_d\d+_(m[A-Z]{2}\d+)_ch\d+")


def parse_name(stem: str) -> tuple[str, str]:
    """(genre code, music id) from an AIST++ sequence name, or DatasetError."""
    m = _NAME.match(stem)
    if not m:
        raise DatasetError(f"{stem}: not an AIST++ sequence name like gBR_sBM_cAll_d04_mBR0_ch01; "
                           "rename the file or import it with --style and --audio as BVH/NPZ")
    return m.group(1), m.group(2)


class _SafeUnpickler(pickle.Unpickler):
    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
        ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"), ("collections", "OrderedDict"),
    }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a keypoint file")


def load_keypoints(path: str | Path, *, prefer_optim: bool = True) -> np.ndarray:
    """AIST++ keypoints [shape=(n, 17, 3)] float32 in the file's units (centimetres)."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: no such keypoint file; check the path")
    try:
        with open(path, "rb") as f:
            doc = _SafeUnpickler(f).load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
            IndexError, ImportError) as e:
        raise DatasetError(f"{path}: not a readable AIST++ keypoint pickle ({e}); re-download it") from None
    if not isinstance(doc, dict):
        raise DatasetError(f"{path}: expected a dict with 'keypoints3d', got {type(doc).__name__}")
    keys = ("keypoints3d_optim", "keypoints3d") if prefer_optim else ("keypoints3d", "keypoints3d_optim")
    key = next((k for k in keys if k in doc), None)
    if key is None:
        raise DatasetError(f"{path}: no 'keypoints3d' or 'keypoints3d_optim' entry "
                           f"(keys: {', '.join(map(str, doc))}); is this an AIST++ keypoints3d file?")
    kp = np.asarray(doc[key])
    if kp.ndim != 3 or kp.shape[1:] != (NUM_JOINTS, 3) or kp.shape[0] < 2 or not np.issubdtype(kp.dtype, np.number):
        raise DatasetError(f"{path}: '{key}' has shape {tuple(kp.shape)}, expected (frames, 17, 3) "
                           "COCO-17 keypoints; use the keypoints3d files, not SMPL or 2D keypoints")
    return kp.astype(np.float32)


def guess_unit(keypoints: np.ndarray) -> float:
    """Metres per unit: centimetres as AIST++ ships them, unless the thigh length says the
    file was already converted to metres (or millimetres)."""
    thigh = np.linalg.norm(keypoints[:, 13] - keypoints[:, 11], axis=-1)
    thigh = thigh[np.isfinite(thigh) & (thigh > 0)]
    if thigh.size == 0:
        return AIST_UNIT
    ratio = float(np.median(thigh)) / float(CANONICAL_BONE_LENGTHS[13])
    return min((AIST_UNIT, 1.0, 0.001), key=lambda s: abs(np.log(ratio * s)))


def convert(keypoints: np.ndarray, *, fps: float, what: str = "keypoints") -> np.ndarray:
    """AIST++ keypoints (cm, 60 fps) -> poses [shape=(t, 17, 3)] metres, y up, on the
    floor, centred, at ``fps``."""
    p = keypoints.astype(np.float32) * guess_unit(keypoints)
    bad = ~np.isfinite(p).all(axis=(1, 2))
    if bad.mean() > 0.2:
        raise DatasetError(f"{what}: {int(bad.sum())} of {len(p)} frames hold NaN; the file is damaged")
    p = interpolate_missing(p, ~bad)
    p = put_on_floor(make_upright(p))
    return resample(p, src_fps=AIST_FPS, dst_fps=fps)


def find_music(music_dir: Path, music_id: str) -> Path:
    for ext in AUDIO_EXTENSIONS:
        cand = music_dir / f"{music_id}{ext}"
        if cand.is_file():
            return cand
    raise DatasetError(f"no audio for {music_id} in {music_dir} (looked for {music_id}.wav/.mp3/...); "
                       "pass the AIST++ music folder with --music")


def expand_inputs(inputs: Sequence[str | Path]) -> list[Path]:
    """Files and folders (their *.pkl) -> sorted list of keypoint files."""
    out: list[Path] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            found = sorted(p.glob("*.pkl"))
            if not found:
                raise DatasetError(f"{p}: folder holds no *.pkl keypoint files; pass the keypoints3d folder")
            out.extend(found)
        elif p.is_file():
            out.append(p)
        else:
            raise DatasetError(f"{p}: no such file or folder; check the path")
    return out


def import_aist(
    inputs: Sequence[str | Path],
    *,
    music_dir: str | Path,
    out: str | Path,
    fps: float,
    style: str | None = None,
    licence: str = LICENCE,
    overwrite: bool = False,
    progress: Callable[[int, int, str], None] | None = None,
) -> list[dict[str, Any]]:
    """Import AIST++ keypoint files into the dataset at ``out``. Every input is read and
    checked before the first file is written; a failure while writing removes what this
    import wrote. Returns the new manifest entries."""
    files = expand_inputs(inputs)
    music = Path(music_dir)
    if not music.is_dir():
        raise DatasetError(f"music folder {music} does not exist; pass the AIST++ music folder with --music")
    prepared = []
    for k, path in enumerate(files):
        genre, music_id = parse_name(path.stem)
        label = style or GENRES.get(genre, genre[1:].lower())
        poses = convert(load_keypoints(path), fps=fps, what=str(path))
        prepared.append((path, genre, music_id, label, poses, find_music(music, music_id)))
        if progress:
            progress(k + 1, len(files), f"read {path.name}")
    ids = unique_ids([p[0].stem for p in prepared])
    entries = []
    with DatasetWriter(out, overwrite=overwrite) as w:
        for k, ((path, genre, music_id, label, poses, audio), cid) in enumerate(zip(prepared, ids)):
            entries.append(w.add_clip(
                id=cid, poses=poses, fps=fps, style=label, source=f"aist:{path.stem}",
                licence=licence, audio_path=audio,
                extra={"original": path.stem, "genre": genre, "music": music_id, "source_fps": AIST_FPS}))
            if progress:
                progress(k + 1, len(prepared), f"wrote {cid}")
    return entries
