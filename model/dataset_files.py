"""The dataset's files: layout constants, atomic writes, the manifest, clip records and
pose files (numpy only). model/dataset.py (writer, check, info), model/dataset_load.py
(features + poses) and model/dataset_plot.py build on this module and import nothing
from each other at import time, so there is no import circle. See model/dataset.py for
the format.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from model.errors import DatasetError

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SKELETON = "coco17"
CLIP_DIR = "clips"
CACHE_DIR = "cache"
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif")
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
REQUIRED_CLIP_KEYS = ("id", "audio", "poses", "fps", "style", "source", "skeleton", "licence")


# --------------------------------------------------------------------------- atomic files


def _atomic_write(path: Path, write: Any, *, suffix: str) -> None:
    """Call ``write(tmp_path)`` then rename the temporary file onto ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _write_npz(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    def w(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)  # type: ignore[arg-type]

    _atomic_write(path, w, suffix=".npz")


def _write_json(path: Path, doc: Any) -> None:
    _atomic_write(path, lambda tmp: tmp.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8"), suffix=".json")


# --------------------------------------------------------------------------- manifest


def read_manifest(root: str | Path) -> dict[str, Any]:
    """Read and minimally validate DIR/manifest.json. Raises DatasetError."""
    root = Path(root)
    path = root / MANIFEST
    if not root.is_dir():
        raise DatasetError(f"dataset folder {root} does not exist; create one with `dancemuse dataset synth --out {root}`")
    if not path.is_file():
        raise DatasetError(f"{path} is missing; {root} is not a DanceMuse dataset (make one with `dancemuse dataset synth` or `import`)")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DatasetError(f"{path} is not valid JSON ({e}); restore it or re-create the dataset") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("clips"), list):
        raise DatasetError(f"{path} has no 'clips' list; re-create the dataset")
    version = doc.get("format_version")
    if version != FORMAT_VERSION:
        raise DatasetError(f"{path} has format_version {version!r}, this DanceMuse reads {FORMAT_VERSION}; re-create the dataset")
    return doc


@dataclass(frozen=True)
class ClipRecord:
    """One manifest entry with its paths resolved."""

    id: str
    style: str
    fps: float
    audio: Path
    poses: Path
    source: str
    licence: str
    entry: dict[str, Any]


def clip_records(root: str | Path) -> list[ClipRecord]:
    """The manifest's clips with absolute paths. Raises DatasetError on a malformed entry."""
    root = Path(root)
    out = []
    for i, c in enumerate(read_manifest(root)["clips"]):
        missing = [k for k in REQUIRED_CLIP_KEYS if not isinstance(c, dict) or k not in c]
        if missing:
            raise DatasetError(f"{root / MANIFEST}: clip #{i} lacks {', '.join(missing)}; run `dancemuse dataset check {root}`")
        out.append(ClipRecord(id=str(c["id"]), style=str(c["style"]), fps=float(c["fps"]),
                              audio=root / c["audio"], poses=root / c["poses"], source=str(c["source"]),
                              licence=str(c["licence"]), entry=dict(c)))
    return out


def audio_seconds(path: str | Path) -> float:
    """Duration of an audio file in seconds. Raises DatasetError if unreadable."""
    import soundfile as sf

    try:
        info = sf.info(str(path))
    except Exception as e:  # soundfile raises RuntimeError/LibsndfileError
        raise DatasetError(f"cannot read audio file {path} ({e}); convert it to WAV") from None
    return float(info.frames) / float(info.samplerate)


def load_poses(path: str | Path) -> dict[str, np.ndarray]:
    """The arrays of a clip's .npz (poses, fps, optional confidence/beats/downbeats)."""
    try:
        with np.load(str(path), allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as e:
        why = str(e).splitlines()[0][:120] if str(e) else type(e).__name__
        raise DatasetError(f"cannot read pose file {path}: truncated or damaged ({why}); "
                           "re-create the clip or remove it from the manifest") from None
