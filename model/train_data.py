"""Training data for DanceNet: pose vectors, clips with features, held-out split, sampling.

Pose vector (P = 54, see model/network.py): 51 root-relative joint coordinates, then the
root's horizontal displacement dx, dz since the previous frame and its height y, all in
metres ("dx_dz_y" in the model metadata). ``pose_to_vec`` / ``vec_to_pose`` convert.

Clips come from a DanceMuse dataset folder (model/dataset.py). Features are computed
with H1's ``model.features.extract_file`` (the same streaming class the live server runs)
and cached in ``DIR/cache/`` keyed by the feature configuration. Poses and features are
cut to a common length; a clip whose fps differs from ``features.fps`` is refused.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from model.errors import DatasetError
from model.skeleton import NUM_JOINTS

POSE_DIM = NUM_JOINTS * 3 + 3


# --------------------------------------------------------------------------- pose vectors


def pose_to_vec(poses: np.ndarray) -> np.ndarray:
    """Absolute poses [shape=(t, 17, 3)] -> pose vectors [shape=(t, 54)].

    The first frame's root displacement is 0.
    """
    p = np.asarray(poses, dtype=np.float32)
    root = 0.5 * (p[:, 11] + p[:, 12])  # [t, 3]
    rel = (p - root[:, None, :]).reshape(len(p), NUM_JOINTS * 3)
    d = np.zeros((len(p), 2), dtype=np.float32)
    d[1:, 0] = np.diff(root[:, 0])
    d[1:, 1] = np.diff(root[:, 2])
    return np.concatenate([rel, d, root[:, 1:2]], axis=1).astype(np.float32)


def vec_to_pose(vec: np.ndarray, *, start_xz: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """Pose vectors [shape=(t, 54)] -> absolute poses [shape=(t, 17, 3)], integrating the
    root displacement from ``start_xz`` (the root x, z before the first frame)."""
    v = np.asarray(vec, dtype=np.float32)
    t = len(v)
    root = np.zeros((t, 3), dtype=np.float32)
    root[:, 0] = start_xz[0] + np.cumsum(v[:, 51])
    root[:, 2] = start_xz[1] + np.cumsum(v[:, 52])
    root[:, 1] = v[:, 53]
    return v[:, :51].reshape(t, NUM_JOINTS, 3) + root[:, None, :]


# --------------------------------------------------------------------------- clips


@dataclass
class TrainClip:
    """One clip ready for training.

    feats: [shape=(t, F)] raw features; vec: [shape=(t, 54)] pose vectors;
    poses: [shape=(t, 17, 3)] absolute poses; beats: music beat times (s) or empty.
    """

    id: str
    style: str
    fps: int
    feats: np.ndarray
    vec: np.ndarray
    poses: np.ndarray
    beats: np.ndarray = field(default_factory=lambda: np.zeros(0))
    audio: str = ""

    @property
    def frames(self) -> int:
        return len(self.vec)


def feature_key(feature_cfg: dict[str, Any]) -> str:
    """Short hash of a feature configuration (cache key)."""
    blob = json.dumps(feature_cfg, sort_keys=True).encode()
    return hashlib.sha1(blob).hexdigest()[:12]


FEATURE_SOURCES = ("features.py", "beats.py", "tempo.py", "constants.py", "beat_act.py",
                   "beat_hmm.py", "../models/beats.onnx")
"""Sources of the feature extractor (in model/): a change to any invalidates the cache."""


def _code_version() -> str:
    """Hash of the feature, beat-tracker and tempo source files."""
    here = Path(__file__).resolve().parent
    h = hashlib.sha1()
    for name in FEATURE_SOURCES:
        f = here / name
        if f.is_file():
            h.update(name.encode() + f.read_bytes())
    return h.hexdigest()[:12]


def _cached_features(audio: Path, cache: Path, feature_cfg: dict[str, Any]) -> np.ndarray:
    from model.features import extract_file

    st = audio.stat()
    key = feature_key({**feature_cfg, "_file": str(audio.name), "_size": st.st_size, "_mtime": int(st.st_mtime),
                       "_code": _code_version()})
    path = cache / f"feat_{audio.stem}_{key}.npy"
    if path.is_file():
        try:
            return np.load(path)
        except (OSError, ValueError):
            pass
    feats = np.asarray(extract_file(str(audio), feature_cfg)[0], dtype=np.float32)
    try:
        cache.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")
        np.save(tmp, feats)
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only dataset still trains, just without a cache
    return feats


def load_clips(root: str | Path, *, feature_cfg: dict[str, Any],
               styles: Sequence[str] | None = None) -> list[TrainClip]:
    """All clips of the dataset at ``root`` with features computed (cached).

    styles: when given, refuse clips whose style is not in it. Raises DatasetError.
    """
    from model.dataset import clip_records, load_poses

    root = Path(root)
    fps = int(feature_cfg["fps"])
    recs = clip_records(root)
    if not recs:
        raise DatasetError(f"dataset {root} has no clips; add some with `dancemuse dataset synth` or `import`")
    clips = []
    for r in recs:
        if int(round(r.fps)) != fps:
            raise DatasetError(f"clip {r.id} in {root} is at {r.fps:g} fps but features.fps is {fps}; "
                               f"pass --set features.fps={int(r.fps)} or resample the dataset")
        if styles is not None and r.style not in styles:
            raise DatasetError(f"clip {r.id} in {root} has style {r.style!r} the model does not know "
                               f"({', '.join(styles)}); pass --new-style {r.style}")
        arrays = load_poses(r.poses)
        poses = np.asarray(arrays["poses"], dtype=np.float32)
        if not r.audio.is_file():
            raise DatasetError(f"audio {r.audio} of clip {r.id} is missing; run `dancemuse dataset check {root}`")
        feats = _cached_features(r.audio, root / "cache", feature_cfg)
        n = min(len(feats), len(poses))
        if n < 8:
            raise DatasetError(f"clip {r.id} in {root} has only {n} frames of poses and audio; remove it")
        beats = np.asarray(arrays.get("beats", np.zeros(0)), dtype=np.float64)
        clips.append(TrainClip(id=r.id, style=r.style, fps=fps, feats=feats[:n], vec=pose_to_vec(poses[:n]),
                               poses=poses[:n], beats=beats[beats < n / fps], audio=str(r.audio)))
    return clips


def split_clips(clips: Sequence[TrainClip], *, val_fraction: float, seed: int) -> tuple[list[TrainClip], list[TrainClip]]:
    """Hold out about ``val_fraction`` of the clips of every style (at least one per style
    with two or more clips); returns (train, val). Deterministic in ``seed``."""
    rng = np.random.default_rng(seed)
    train: list[TrainClip] = []
    val: list[TrainClip] = []
    for style in sorted({c.style for c in clips}):
        group = [c for c in clips if c.style == style]
        order = rng.permutation(len(group))
        n_val = 0 if len(group) < 2 or val_fraction <= 0 else max(1, int(round(val_fraction * len(group))))
        val += [group[i] for i in order[:n_val]]
        train += [group[i] for i in order[n_val:]]
    return train, val


def norm_stats(clips: Sequence[TrainClip]) -> dict[str, np.ndarray]:
    """Mean/std of features and pose vectors over all frames of ``clips``."""
    f = np.concatenate([c.feats for c in clips]).astype(np.float64)
    v = np.concatenate([c.vec for c in clips]).astype(np.float64)
    return {"feat_mean": f.mean(0).astype(np.float32), "feat_std": f.std(0).astype(np.float32),
            "pose_mean": v.mean(0).astype(np.float32), "pose_std": v.std(0).astype(np.float32)}


def motion_speed(vec: np.ndarray) -> float:
    """Mean root-relative joint speed (metres per frame) of pose vectors [t, 54]."""
    if len(vec) < 2:
        return 0.0
    j = vec[:, :51].reshape(len(vec), NUM_JOINTS, 3)
    return float(np.linalg.norm(np.diff(j, axis=0), axis=-1).mean())


def data_summary(clips: Sequence[TrainClip], root: str | Path) -> dict[str, Any]:
    """What the model was trained on (goes into the checkpoint and the ONNX metadata)."""
    per_style: dict[str, float] = {}
    for c in clips:
        per_style[c.style] = per_style.get(c.style, 0.0) + c.frames / c.fps / 60.0
    return {"path": str(root), "clips": len(clips), "minutes": round(sum(per_style.values()), 3),
            "minutes_per_style": {k: round(v, 3) for k, v in sorted(per_style.items())},
            "fps": sorted({c.fps for c in clips})}


class WindowSampler:
    """Draws training windows: features, previous pose, target poses, style and controls.

    A window of ``seq_len`` pose frames starting at s (s >= 1, so the pose before it is
    known) pairs with features s+L .. s+L+seq_len-1 (L = look-ahead). Clips are drawn in
    proportion to their usable length. The energy control of a window is its motion speed
    over the mean speed of the training set (clipped to 0..2); variation is uniform 0..1.
    """

    def __init__(self, clips: Sequence[TrainClip], *, styles: Sequence[str], seq_len: int,
                 lookahead: int) -> None:
        self.clips = [c for c in clips if c.frames >= seq_len + lookahead + 2]
        if not self.clips:
            longest = max((c.frames for c in clips), default=0)
            raise DatasetError(f"no clip is longer than seq_len {seq_len} + look-ahead {lookahead} frames "
                               f"(longest {longest}); lower train.seq_len or add longer clips")
        self.styles = list(styles)
        self.seq_len = seq_len
        self.lookahead = lookahead
        usable = np.array([c.frames - seq_len - lookahead - 1 for c in self.clips], dtype=np.float64)
        self.p = usable / usable.sum()
        self.mean_speed = float(np.mean([motion_speed(c.vec) for c in self.clips])) or 1.0

    def energy_of(self, vec: np.ndarray) -> float:
        return float(np.clip(motion_speed(vec) / self.mean_speed, 0.0, 2.0))

    def sample(self, rng: np.random.Generator, batch: int) -> dict[str, np.ndarray]:
        """One batch of numpy arrays: feat [B,T,F], prev [B,P], target [B,T,P], style [B,S],
        controls [B,2], seeds [B]."""
        t, lk = self.seq_len, self.lookahead
        f_dim = self.clips[0].feats.shape[1]
        out: dict[str, np.ndarray] = {
            "feat": np.empty((batch, t, f_dim), np.float32),
            "prev": np.empty((batch, POSE_DIM), np.float32),
            "target": np.empty((batch, t, POSE_DIM), np.float32),
            "style": np.zeros((batch, len(self.styles)), np.float32),
            "controls": np.empty((batch, 2), np.float32),
            "seeds": rng.integers(0, 2**31 - 1, size=batch),
        }
        for b in range(batch):
            c = self.clips[int(rng.choice(len(self.clips), p=self.p))]
            s = int(rng.integers(1, c.frames - t - lk))
            out["feat"][b] = c.feats[s + lk:s + lk + t]
            out["prev"][b] = c.vec[s - 1]
            out["target"][b] = c.vec[s:s + t]
            out["style"][b, self.styles.index(c.style)] = 1.0
            out["controls"][b] = (self.energy_of(c.vec[s:s + t]), rng.uniform(0.0, 1.0))
        return out
