"""Torch-free loader: dataset clips as aligned (music feature frames, poses) sequences.

``load_clips(dir, feature_cfg)`` reads every clip of a dataset (model/dataset.py),
computes its music features with model.features (the same streaming class the live
server runs, so there is no train/serve skew), resamples the poses to the feature frame
rate and aligns the two frame by frame.

Alignment. Feature frame i is made when hop i has arrived, i.e. from the audio up to
time (i + 1) / fps; live, its pose is shown at that moment. So feature frame i is paired
with the pose at time (i + 1) / fps: ``Clip.poses[i]`` is the dataset pose at that time
and ``Clip.t0 = 1 / fps`` is the time of ``Clip.poses[0]``. ``Clip.beats`` are on the
same clock (music beat time - t0), so ``metrics.beat_align_score(clip.poses,
clip.beats, fps=clip.fps)`` is right as it stands.

Cache. Features are stored in ``DIR/cache/<id>.<key>.npz``, where the key hashes the
feature spec (FeatureSpec.to_json without normalisation), the beat tracker (its activation
weights and the code of its inference, :func:`tracker_key`) and the audio file's size and
modification time: changing the feature configuration, the tracker or the audio recomputes
them (so training hears the beat the show hears); older cache files of the clip are removed. A read-only dataset still loads, uncached.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from model.dataset_files import CACHE_DIR, ClipRecord, _write_npz, clip_records, load_poses
from model.errors import DatasetError


@dataclass
class Clip:
    """One clip, features and poses aligned frame by frame.

    features: [shape=(t, F)] float32 raw (unnormalised) features; poses: [shape=(t, 17, 3)]
    float32 metres at ``fps``; beats: music beats (s) on the pose clock (see module doc);
    confidence: [shape=(t, 17)] or None.
    """

    id: str
    style: str
    features: np.ndarray
    poses: np.ndarray
    beats: np.ndarray
    fps: int
    source: str
    t0: float
    confidence: np.ndarray | None = None

    @property
    def frames(self) -> int:
        return len(self.poses)

    def windows(self, seq_len: int, stride: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(features [seq_len, F], poses [seq_len, 17, 3]) views every ``stride`` frames."""
        if seq_len < 1 or stride < 1:
            raise ValueError("seq_len and stride must be >= 1")
        for s in range(0, self.frames - seq_len + 1, stride):
            yield self.features[s : s + seq_len], self.poses[s : s + seq_len]


def windows(clips: Sequence[Clip], *, seq_len: int, stride: int) -> Iterator[tuple[Clip, int, np.ndarray, np.ndarray]]:
    """(clip, start frame, features, poses) for every window of every clip."""
    for c in clips:
        for k, (f, p) in enumerate(c.windows(seq_len, stride)):
            yield c, k * stride, f, p


_TRACKER_KEY: list[str] = []


def tracker_key() -> str:
    """Hash of what decides the beat features: the activation weights (models/beats.onnx)
    and the source of the tracker's modules (activation, HMM, tracker), read once per
    process. A change to any of them gives every clip new cached features."""
    if not _TRACKER_KEY:
        from model import beat_act, beat_hmm, beats

        h = hashlib.sha1()
        for f in (beat_act.DEFAULT_MODEL, Path(beat_act.__file__), Path(beat_hmm.__file__), Path(beats.__file__)):
            with contextlib.suppress(OSError):
                h.update(f.read_bytes())
        _TRACKER_KEY.append(h.hexdigest()[:12])
    return _TRACKER_KEY[0]


def spec_key(feature_cfg: Mapping[str, Any]) -> str:
    """Hash of the feature spec (without normalisation) that names cache files."""
    from model.features import FeatureSpec

    d = FeatureSpec.from_config(feature_cfg).to_dict()
    d.pop("mean", None)
    d.pop("std", None)
    return hashlib.sha1(json.dumps(d, sort_keys=True).encode()).hexdigest()[:12]


def resample_poses(poses: np.ndarray, *, src_fps: float, dst_fps: float, n: int | None = None) -> np.ndarray:
    """Linear resampling in time: frame k of the result is the pose at k / dst_fps.

    poses: [shape=(t, ...)]; ``n`` frames (default: as many as the clip covers).
    """
    p = np.asarray(poses, dtype=np.float32)
    if abs(src_fps - dst_fps) < 1e-9 and (n is None or n <= len(p)):
        return p[: n if n is not None else len(p)]
    if n is None:
        n = int(np.floor((len(p) - 1) / src_fps * dst_fps)) + 1
    src = np.arange(n) / dst_fps * src_fps
    i = np.clip(np.floor(src).astype(int), 0, len(p) - 2)
    a = np.clip(src - i, 0.0, 1.0).reshape((-1,) + (1,) * (p.ndim - 1)).astype(np.float32)
    return (p[i] * (1.0 - a) + p[i + 1] * a).astype(np.float32)


def clip_features(rec: ClipRecord, root: Path, feature_cfg: Mapping[str, Any], *, cache: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(features [t, F] float32, tracker beat times s) of a clip's audio, cached."""
    from model.features import extract_file

    if not rec.audio.is_file():
        raise DatasetError(f"audio {rec.audio} of clip {rec.id} is missing; run `dancemuse dataset check {root}`")
    st = rec.audio.stat()
    key = hashlib.sha1(f"{spec_key(feature_cfg)}:{tracker_key()}:{st.st_size}:{st.st_mtime_ns}".encode()).hexdigest()[:16]
    cdir = root / CACHE_DIR
    path = cdir / f"{rec.id}.{key}.npz"
    if cache and path.is_file():
        with contextlib.suppress(OSError, ValueError, KeyError, DatasetError):
            z = load_poses(path)
            return z["features"].astype(np.float32), z["beats"]
    feats, info = extract_file(rec.audio, feature_cfg)
    is_beat = np.asarray(info["is_beat"], dtype=bool)
    bt = np.asarray(info["beat_time"], dtype=np.float64)[is_beat]
    tt = np.asarray(info["time"], dtype=np.float64)[is_beat]
    beats = np.where(np.isfinite(bt), bt, tt)
    feats = np.asarray(feats, dtype=np.float32)
    if cache:
        with contextlib.suppress(OSError):
            for old in cdir.glob(f"{rec.id}.*.npz"):
                old.unlink()
            _write_npz(path, {"features": feats, "beats": beats})
    return feats, beats


def load_clips(
    root: str | Path,
    feature_cfg: Mapping[str, Any],
    *,
    cache: bool = True,
    styles: Sequence[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[Clip]:
    """Every clip of the dataset at ``root`` with aligned features (see module doc).

    feature_cfg: the ``[features]`` config section (fps, mels, ...). styles: keep only
    these styles. Ground-truth beats from the clip file are used when present, else the
    beat tracker's. ``progress(done, total)`` after each clip. Raises DatasetError.
    """
    root = Path(root)
    fps = int(feature_cfg["fps"])
    recs = [r for r in clip_records(root) if styles is None or r.style in styles]
    if not recs:
        raise DatasetError(f"dataset {root} has no clips{' of those styles' if styles else ''}; "
                           "add some with `dancemuse dataset synth` or `import`")
    t0 = 1.0 / fps
    out = []
    for k, r in enumerate(recs):
        z = load_poses(r.poses)
        if "poses" not in z or z["poses"].ndim != 3 or not np.isfinite(z["poses"]).all():
            raise DatasetError(f"clip {r.id} in {root} has bad poses; run `dancemuse dataset check {root}`")
        feats, tracked = clip_features(r, root, feature_cfg, cache=cache)
        poses = resample_poses(z["poses"], src_fps=r.fps, dst_fps=fps)
        n = min(len(feats), len(poses) - 1)
        if n < 2:
            raise DatasetError(f"clip {r.id} in {root} is shorter than two frames; remove it")
        conf = None
        if "confidence" in z:
            conf = resample_poses(z["confidence"], src_fps=r.fps, dst_fps=fps)[1 : n + 1]
        beats = np.asarray(z["beats"], dtype=np.float64) if "beats" in z else np.asarray(tracked)
        beats = beats - t0
        beats = beats[(beats >= 0.0) & (beats < n / fps)]
        out.append(Clip(id=r.id, style=r.style, features=feats[:n], poses=poses[1 : n + 1], beats=beats,
                        fps=fps, source=r.source, t0=t0, confidence=conf))
        if progress is not None:
            progress(k + 1, len(recs))
    return out
