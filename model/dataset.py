"""The dance dataset on disk: format, writer, validation, summary (numpy only, no torch).

A dataset is a folder::

    DIR/manifest.json          format_version, name, clips (below)
    DIR/clips/<id>.npz         poses [T, 17, 3] float32 metres y-up (COCO-17), fps,
                               optional confidence [T, 17], beats [n] s, downbeats [n] s
    DIR/clips/<id>.wav         the clip's audio (any file soundfile reads)
    DIR/cache/                 feature cache of the loader (model/dataset_load.py)

Each manifest clip is ``{"id", "audio", "poses", "fps", "style", "source", "skeleton":
"coco17", "licence", "frames", "seconds", "dims": 3 | 2, ...}`` with paths relative to
the folder; ``dims`` 2 marks 2D sources whose z is 0. Extra keys are kept (importers may
record e.g. ``"bpm"`` or ``"original": "gBR_sBM_c01_d04_mBR0_ch01"``).

Writing is atomic: every file is written to a temporary name and renamed, the manifest
last, so an error (or a kill) leaves the previous dataset untouched and no clip listed
that is not complete. Usage::

    with DatasetWriter("data/mine") as w:            # appends to an existing dataset
        w.add_clip(id="take1", poses=p, fps=30, style="house", source="bvh:take1.bvh",
                   licence="own recording", audio_path="take1.wav")

``check_dataset(dir)`` lists problems as one line each; ``dataset_info(dir)`` summarises.
The loader that pairs poses with music features (``load_clips``, ``Clip``, ``windows``) is in
model/dataset_load.py and re-exported here.
"""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from model.dataset_files import (
    _ID_RE,
    AUDIO_EXTENSIONS,
    CACHE_DIR,
    CLIP_DIR,
    FORMAT_VERSION,
    MANIFEST,
    REQUIRED_CLIP_KEYS,
    SKELETON,
    ClipRecord,
    _atomic_write,
    _write_json,
    _write_npz,
    audio_seconds,
    clip_records,
    load_poses,
    read_manifest,
)

# The loader lives in model/dataset_load.py (kept apart for size); re-exported here.
from model.dataset_load import Clip, load_clips, windows
from model.errors import DatasetError
from model.skeleton import CANONICAL_BONE_LENGTHS, NUM_JOINTS, bone_lengths

BONE_RATIO_RANGE = (0.4, 2.5)
"""A clip's median bone length divided by the canonical one must lie in this range."""
AUDIO_SLACK_S = 0.1
"""Audio may be this much shorter than the poses before `check_dataset` complains."""


# --------------------------------------------------------------------------- writer


def _check_poses(poses: np.ndarray, what: str) -> np.ndarray:
    p = np.asarray(poses, dtype=np.float32)
    if p.ndim != 3 or p.shape[1:] != (NUM_JOINTS, 3) or len(p) < 2:
        raise DatasetError(f"{what}: poses must have shape (frames >= 2, 17, 3), got {tuple(p.shape)}")
    if not np.isfinite(p).all():
        raise DatasetError(f"{what}: poses contain NaN or infinite values; interpolate or cut those frames")
    return p


class DatasetWriter:
    """Adds clips to a dataset folder (created if needed) and writes the manifest on close.

    Use it as a context manager: on a clean exit the manifest (old clips plus the new
    ones) is written atomically; when the block raises, the files written by this writer
    are removed and the manifest stays as it was. ``overwrite=True`` lets a new clip
    replace an existing one with the same id.
    """

    def __init__(self, root: str | Path, *, name: str | None = None, overwrite: bool = False) -> None:
        self.root = Path(root)
        if self.root.exists() and not self.root.is_dir():
            raise DatasetError(f"{self.root} exists and is not a folder; choose another --out")
        self.overwrite = overwrite
        self._written: list[Path] = []
        self._created_root = not self.root.exists()
        if (self.root / MANIFEST).exists():
            self.doc = read_manifest(self.root)
        else:
            if self.root.is_dir() and any(p.name != CACHE_DIR for p in self.root.iterdir()):
                raise DatasetError(f"{self.root} is a non-empty folder without {MANIFEST}; choose an empty or new --out")
            self.doc = {"format_version": FORMAT_VERSION, "name": name or self.root.name, "skeleton": SKELETON,
                        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "clips": []}
        self._ids = {c.get("id") for c in self.doc["clips"]}

    # ------------------------------------------------------------------ context manager
    def __enter__(self) -> DatasetWriter:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()

    @property
    def clips(self) -> list[dict[str, Any]]:
        """The manifest clip entries (old and new)."""
        return list(self.doc["clips"])

    def add_clip(
        self,
        *,
        id: str,
        poses: np.ndarray,
        fps: float,
        style: str,
        source: str,
        licence: str,
        audio: np.ndarray | None = None,
        sample_rate: int | None = None,
        audio_path: str | Path | None = None,
        confidence: np.ndarray | None = None,
        beats: np.ndarray | None = None,
        downbeats: np.ndarray | None = None,
        dims: int = 3,
        extra: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Write one clip (poses npz and audio) and queue its manifest entry.

        poses: [shape=(t, 17, 3)] metres, y up. Audio is either ``audio`` (float mono
        [shape=(n,)] or [shape=(n, c)]) with its ``sample_rate`` (written as 16-bit WAV)
        or ``audio_path``, an existing file that is copied. confidence: optional
        [shape=(t, 17)] 0..1; beats/downbeats: optional ground-truth times in seconds.
        Returns the manifest entry. Raises DatasetError naming the clip.
        """
        what = f"clip {id!r}"
        if not isinstance(id, str) or not _ID_RE.match(id):
            raise DatasetError(f"{what}: ids are letters, digits, '_', '-', '.' (up to 128); rename it")
        if id in self._ids and not self.overwrite:
            raise DatasetError(f"{what} already exists in {self.root}; pick another id or pass --overwrite to replace it")
        if not style or not isinstance(style, str):
            raise DatasetError(f"{what}: style label must be a non-empty string")
        if not fps or fps <= 0:
            raise DatasetError(f"{what}: fps must be positive, got {fps!r}")
        if dims not in (2, 3):
            raise DatasetError(f"{what}: dims must be 2 or 3, got {dims!r}")
        p = _check_poses(poses, what)
        arrays: dict[str, np.ndarray] = {"poses": p, "fps": np.float64(fps)}
        if confidence is not None:
            conf = np.asarray(confidence, dtype=np.float32)
            if conf.shape != p.shape[:2]:
                raise DatasetError(f"{what}: confidence must have shape {p.shape[:2]}, got {conf.shape}")
            arrays["confidence"] = conf
        for key, val in (("beats", beats), ("downbeats", downbeats)):
            if val is not None:
                arrays[key] = np.asarray(val, dtype=np.float64).ravel()
        if (audio is None) == (audio_path is None):
            raise DatasetError(f"{what}: give either audio samples with sample_rate or an audio_path")
        pose_rel = f"{CLIP_DIR}/{id}.npz"
        if audio is not None:
            if not sample_rate:
                raise DatasetError(f"{what}: audio samples need their sample_rate")
            audio_rel = f"{CLIP_DIR}/{id}.wav"
            seconds = len(audio) / float(sample_rate)
            self._write_audio(self.root / audio_rel, np.asarray(audio), int(sample_rate))
        else:
            src = Path(audio_path)  # type: ignore[arg-type]
            if not src.is_file():
                raise DatasetError(f"{what}: audio file {src} does not exist; pass an existing audio file")
            ext = src.suffix.lower() or ".wav"
            audio_rel = f"{CLIP_DIR}/{id}{ext}"
            seconds = audio_seconds(src)
            dst = self.root / audio_rel
            _atomic_write(dst, lambda tmp: shutil.copyfile(src, tmp), suffix=ext)
            self._written.append(dst)
        _write_npz(self.root / pose_rel, arrays)
        self._written.append(self.root / pose_rel)
        entry: dict[str, Any] = {
            "id": id, "audio": audio_rel, "poses": pose_rel, "fps": fps, "style": style,
            "source": source, "skeleton": SKELETON, "licence": licence, "frames": int(len(p)),
            "seconds": round(len(p) / fps, 3), "audio_seconds": round(seconds, 3), "dims": dims,
        }
        entry.update(extra or {})
        self.doc["clips"] = [c for c in self.doc["clips"] if c.get("id") != id] + [entry]
        self._ids.add(id)
        return entry

    def _write_audio(self, path: Path, audio: np.ndarray, sr: int) -> None:
        import soundfile as sf

        def w(tmp: Path) -> None:
            sf.write(str(tmp), np.clip(audio, -1.0, 1.0), sr, subtype="PCM_16", format="WAV")

        _atomic_write(path, w, suffix=".wav")
        self._written.append(path)

    def commit(self) -> None:
        """Write the manifest (atomically)."""
        self.root.mkdir(parents=True, exist_ok=True)
        _write_json(self.root / MANIFEST, self.doc)
        self._written = []

    def abort(self) -> None:
        """Remove the files this writer wrote; leave the manifest untouched."""
        for path in self._written:
            with contextlib.suppress(OSError):
                path.unlink()
        self._written = []
        if self._created_root:
            with contextlib.suppress(OSError):
                (self.root / CLIP_DIR).rmdir()
            with contextlib.suppress(OSError):
                self.root.rmdir()


def write_clip(root: str | Path, **clip: Any) -> dict[str, Any]:
    """Add one clip to the dataset at ``root`` (see DatasetWriter.add_clip) and commit."""
    with DatasetWriter(root, overwrite=bool(clip.pop("overwrite", False))) as w:
        return w.add_clip(**clip)


# --------------------------------------------------------------------------- check


def _check_clip(rec: ClipRecord) -> Iterator[str]:
    cid = rec.id
    e = rec.entry
    if e.get("skeleton") != SKELETON:
        yield f"{cid}: skeleton is {e.get('skeleton')!r}, expected {SKELETON!r}; convert the poses to COCO-17"
    if not rec.fps > 0:
        yield f"{cid}: fps {e.get('fps')!r} must be positive"
        return
    audio_s: float | None = None
    if not rec.audio.is_file():
        yield f"{cid}: audio file {rec.audio} is missing; restore it or remove the clip from the manifest"
    else:
        try:
            audio_s = audio_seconds(rec.audio)
        except DatasetError as err:
            yield f"{cid}: {err}"
    if not rec.poses.is_file():
        yield f"{cid}: pose file {rec.poses} is missing; restore it or remove the clip from the manifest"
        return
    try:
        z = load_poses(rec.poses)
    except DatasetError as err:
        yield f"{cid}: {err}"
        return
    if "poses" not in z:
        yield f"{cid}: {rec.poses} has no 'poses' array; re-create the clip"
        return
    p = z["poses"]
    if p.ndim != 3 or p.shape[1:] != (NUM_JOINTS, 3) or len(p) < 2:
        yield f"{cid}: poses have shape {tuple(p.shape)}, expected (frames, 17, 3); re-create the clip"
        return
    if not np.isfinite(p).all():
        bad = int((~np.isfinite(p)).any(axis=(1, 2)).sum())
        yield f"{cid}: {bad} frames contain NaN or infinite joint positions; interpolate or cut them"
        p = np.nan_to_num(p)
    if "fps" in z and abs(float(z["fps"]) - rec.fps) > 1e-6:
        yield f"{cid}: fps mismatch: manifest says {rec.fps:g}, {rec.poses.name} says {float(z['fps']):g}; fix the manifest"
    if e.get("frames") is not None and int(e["frames"]) != len(p):
        yield f"{cid}: manifest says {e['frames']} frames, {rec.poses.name} has {len(p)}; fix the manifest"
    if "confidence" in z and z["confidence"].shape != p.shape[:2]:
        yield f"{cid}: confidence has shape {z['confidence'].shape}, expected {p.shape[:2]}"
    pose_s = len(p) / rec.fps
    if audio_s is not None and audio_s + AUDIO_SLACK_S < pose_s:
        yield f"{cid}: audio is {audio_s:.2f} s but the poses last {pose_s:.2f} s; trim the poses or supply the full audio"
    if int(e.get("dims", 3)) == 3:
        med = np.median(bone_lengths(p), axis=0)
        ratio = med / CANONICAL_BONE_LENGTHS
        lo, hi = BONE_RATIO_RANGE
        bad_j = np.nonzero((ratio < lo) | (ratio > hi))[0]
        if len(bad_j):
            from model.skeleton import JOINT_NAMES

            names = ", ".join(f"{JOINT_NAMES[j]} {med[j]:.3f} m" for j in bad_j[:4])
            yield (f"{cid}: implausible bone lengths ({names}; canonical x{lo}..x{hi}); "
                   "check the units (metres) and the joint mapping")


def check_dataset(root: str | Path) -> list[str]:
    """Every problem of the dataset at ``root``, one line each (empty list: all good)."""
    root = Path(root)
    try:
        doc = read_manifest(root)
    except DatasetError as e:
        return [str(e)]
    problems: list[str] = []
    seen: set[str] = set()
    if not doc["clips"]:
        problems.append(f"{root / MANIFEST}: no clips; add some with `dancemuse dataset synth` or `import`")
    for i, c in enumerate(doc["clips"]):
        missing = [k for k in REQUIRED_CLIP_KEYS if not isinstance(c, dict) or k not in c]
        if missing:
            problems.append(f"clip #{i}: manifest entry lacks {', '.join(missing)}; re-create the clip")
            continue
        if c["id"] in seen:
            problems.append(f"{c['id']}: id appears twice in the manifest; remove one entry")
        seen.add(c["id"])
        try:
            rec = ClipRecord(id=str(c["id"]), style=str(c["style"]), fps=float(c["fps"]), audio=root / c["audio"],
                             poses=root / c["poses"], source=str(c["source"]), licence=str(c["licence"]), entry=c)
        except (TypeError, ValueError):
            problems.append(f"{c['id']}: fps {c['fps']!r} is not a number; fix the manifest")
            continue
        problems.extend(_check_clip(rec))
    return problems


# --------------------------------------------------------------------------- info


def dataset_info(root: str | Path, *, png: str | Path | None = None) -> dict[str, Any]:
    """Summary of a dataset: clip count, minutes per style, frame rates, sources.

    With ``png`` also draws a summary figure there (model/dataset_plot.py). Returns
    ``{"clips", "minutes", "minutes_per_style", "clips_per_style", "fps", "sources",
    "licences", "png"}``.
    """
    root = Path(root)
    recs = clip_records(root)
    per_style: dict[str, float] = {}
    count: dict[str, int] = {}
    for r in recs:
        secs = float(r.entry.get("seconds") or 0.0)
        if not secs and r.poses.is_file():
            secs = len(load_poses(r.poses)["poses"]) / r.fps
        per_style[r.style] = per_style.get(r.style, 0.0) + secs / 60.0
        count[r.style] = count.get(r.style, 0) + 1
    info: dict[str, Any] = {
        "clips": len(recs),
        "minutes": round(sum(per_style.values()), 3),
        "minutes_per_style": {k: round(v, 3) for k, v in sorted(per_style.items())},
        "clips_per_style": dict(sorted(count.items())),
        "fps": sorted({r.fps for r in recs}),
        "sources": sorted({r.source.split(":")[0] for r in recs}),
        "licences": sorted({r.licence for r in recs}),
        "png": None,
    }
    if png is not None:
        from model.dataset_plot import plot_dataset

        plot_dataset(root, recs, Path(png))
        info["png"] = str(png)
    return info


def style_names(records: Sequence[ClipRecord]) -> list[str]:
    """Sorted unique style labels."""
    return sorted({r.style for r in records})



__all__ = [
    "AUDIO_EXTENSIONS", "CACHE_DIR", "CLIP_DIR", "FORMAT_VERSION", "MANIFEST", "REQUIRED_CLIP_KEYS", "SKELETON", "Clip", "ClipRecord", "DatasetWriter", "audio_seconds", "check_dataset",
    "clip_records", "dataset_info", "load_clips", "load_poses", "read_manifest", "style_names", "windows",
    "write_clip",
]
