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
from model.skeleton import NUM_JOINTS, mirror

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


def mirror_vec(vec: np.ndarray) -> np.ndarray:
    """Pose vectors [shape=(t, 54)] of the dance mirrored left/right: the joints swapped and
    their x negated (model.skeleton.mirror about the root), the root's x travel negated; bone
    lengths, height and the z travel unchanged."""
    v = np.asarray(vec, dtype=np.float32)
    out = v.copy()
    out[:, :51] = mirror(v[:, :51].reshape(len(v), NUM_JOINTS, 3)).reshape(len(v), NUM_JOINTS * 3)
    out[:, 51] = -v[:, 51]
    return out


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
    folder: str = ""
    """The dataset folder the clip came from (as given to training)."""

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
                               poses=poses[:n], beats=beats[beats < n / fps], audio=str(r.audio),
                               folder=str(root)))
    return clips


def load_folders(roots: Sequence[str | Path], *, feature_cfg: dict[str, Any],
                 styles: Sequence[str] | None = None) -> list[TrainClip]:
    """Clips of several dataset folders (ids prefixed with the folder name when two
    folders are given); each clip's ``folder`` is its root as given."""
    clips: list[TrainClip] = []
    for root in roots:
        got = load_clips(root, feature_cfg=feature_cfg, styles=styles)
        if len(roots) > 1:
            for c in got:
                c.id = f"{Path(root).name}/{c.id}"
        clips += got
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


def data_summary(clips: Sequence[TrainClip], root: str | Path | Sequence[str | Path],
                 weights: dict[str, float] | None = None) -> dict[str, Any]:
    """What the model was trained on (goes into the checkpoint and the ONNX metadata)."""
    roots = [str(root)] if isinstance(root, (str, Path)) else [str(r) for r in root]
    per_style: dict[str, float] = {}
    per_folder: dict[str, dict[str, Any]] = {}
    for c in clips:
        m = c.frames / c.fps / 60.0
        per_style[c.style] = per_style.get(c.style, 0.0) + m
        f = per_folder.setdefault(c.folder or roots[0], {"minutes": 0.0, "styles": set()})
        f["minutes"] += m
        f["styles"].add(c.style)
    folders = {k: {"minutes": round(v["minutes"], 3), "styles": sorted(v["styles"]),
                   **({"weight": float((weights or {}).get(k, 1.0))} if weights else {})}
               for k, v in per_folder.items()}
    return {"path": roots[0] if len(roots) == 1 else roots, "clips": len(clips),
            "minutes": round(sum(per_style.values()), 3),
            "minutes_per_style": {k: round(v, 3) for k, v in sorted(per_style.items())},
            "folders": folders, "styles": sorted(per_style), "fps": sorted({c.fps for c in clips})}


def pose_spread(vec: np.ndarray) -> float:
    """Motion amplitude of pose vectors [t, 54]: RMS over joints of the temporal standard
    deviation of the root-relative joint positions plus the root height (metres)."""
    if len(vec) < 2:
        return 0.0
    j = vec[:, :51].reshape(len(vec), NUM_JOINTS, 3)
    var = j.var(axis=0).sum(-1).mean() + float(vec[:, 53].var())
    return float(np.sqrt(var))


def scale_amplitude(vec: np.ndarray, s: float) -> np.ndarray:
    """Pose vectors [t, 54] with the size of the moves scaled by ``s``, bones kept: each
    bone's direction moves ``s`` times as far from its mean direction over the window
    (renormalised, its length per frame unchanged); root height deviation and travel are
    scaled by ``s`` too. The amplitude augmentation that teaches ``energy``."""
    from model.skeleton import NECK, PARENTS, ROOT, TOPOLOGICAL_ORDER

    v = np.asarray(vec, dtype=np.float64)
    t = len(v)
    j = v[:, :51].reshape(t, NUM_JOINTS, 3)
    out = np.zeros_like(j)
    for k in TOPOLOGICAL_ORDER:
        p = PARENTS[k]
        if p == ROOT:
            par_old = par_new = np.zeros((t, 3))
        elif p == NECK:
            par_old, par_new = 0.5 * (j[:, 5] + j[:, 6]), 0.5 * (out[:, 5] + out[:, 6])
        else:
            par_old, par_new = j[:, p], out[:, p]
        b = j[:, k] - par_old
        length = np.linalg.norm(b, axis=-1, keepdims=True)
        u = b / np.maximum(length, 1e-8)
        m = u.mean(0)
        m /= max(float(np.linalg.norm(m)), 1e-8)
        u2 = m + s * (u - m)
        u2 /= np.maximum(np.linalg.norm(u2, axis=-1, keepdims=True), 1e-8)
        out[:, k] = par_new + length * u2
    out -= 0.5 * (out[:, 11:12] + out[:, 12:13])
    res = v.copy()
    res[:, :51] = out.reshape(t, 51)
    res[:, 51:53] *= s
    res[:, 53] = v[:, 53].mean() + s * (v[:, 53] - v[:, 53].mean())
    return res.astype(np.float32)


def _interp_rows(x: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Rows of ``x`` [t, D] at fractional frame positions ``pos`` (linear), float64."""
    i0 = np.clip(np.floor(pos).astype(np.int64), 0, len(x) - 2)
    w = (pos - i0)[:, None]
    return (1.0 - w) * x[i0].astype(np.float64) + w * x[i0 + 1].astype(np.float64)


def _phase_at(sin_cos: np.ndarray, lo: int, pos: np.ndarray) -> np.ndarray:
    """A phase column pair (sin, cos of 2 pi phase, rows ``lo`` onwards) read at fractional
    frame positions ``pos``: the angle unwrapped over the rows, interpolated (radians)."""
    ang = np.unwrap(np.arctan2(sin_cos[:, 0], sin_cos[:, 1]).astype(np.float64))
    return np.interp(pos, lo + np.arange(len(ang)), ang)


def stretch_window(clip: TrainClip, s: int, t: int, rate: float, *, lookahead: int = 0,
                   beat_at: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The training window at ``rate`` times the clip's tempo (time-stretch augmentation):
    ``t`` pose frames read every ``rate`` source frames from frame ``s`` (the previous pose
    ``rate`` frames before), linearly interpolated, and their features likewise (from
    ``s + lookahead``). The music keeps its pitch and the dance its moves; only time runs
    faster (rate > 1) or slower. Root travel per frame is measured on the interpolated root
    path; with ``beat_at`` (the feature column of ``tempo``, followed by the beat phase
    (sin, cos), beat pulse and bar phase (sin, cos) as model.features lays them out) the
    tempo is scaled by ``rate`` and the phases are re-read at the new positions (unwrapped),
    so the beat the model hears is exactly the stretched music's. Needs
    ``s - rate >= 0`` and ``s + lookahead + rate (t - 1) + 1 <= clip.frames - 1``.
    Returns (features [t, F] float32, pose vectors [t + 1, 54] float32)."""
    pos = s + rate * np.arange(-1, t, dtype=np.float64)  # prev pose, then the t targets
    v = clip.vec
    root = np.zeros((len(v), 2))
    root[1:] = np.cumsum(v[1:, 51:53].astype(np.float64), axis=0)
    win = _interp_rows(v, pos)
    path = _interp_rows(root, np.concatenate([[pos[0] - rate], pos]))
    win[:, 51:53] = np.diff(path, axis=0)
    fpos = pos[1:] + lookahead
    feat = _interp_rows(clip.feats, fpos)
    if beat_at is not None:
        lo = max(int(np.floor(fpos[0])), 0)
        hi = min(int(np.floor(fpos[-1])) + 2, len(clip.feats))
        rows = clip.feats[lo:hi]
        feat[:, beat_at] *= rate
        ph = _phase_at(rows[:, beat_at + 1: beat_at + 3], lo, fpos)
        feat[:, beat_at + 1] = np.sin(ph)
        feat[:, beat_at + 2] = np.cos(ph)
        feat[:, beat_at + 3] = ((1.0 + np.cos(ph)) * 0.5) ** 4
        bar = _phase_at(rows[:, beat_at + 4: beat_at + 6], lo, fpos)
        feat[:, beat_at + 4] = np.sin(bar)
        feat[:, beat_at + 5] = np.cos(bar)
    return feat.astype(np.float32), win.astype(np.float32)


ENERGY_RANGE = (0.2, 2.5)
"""Clip range of the energy control measured on training windows."""


class WindowSampler:
    """Draws training windows: features, previous pose, target poses, style and controls.

    A window of ``seq_len`` pose frames starting at s (s >= 1, so the pose before it is
    known) pairs with features s+L .. s+L+seq_len-1 (L = look-ahead). Clips are drawn in
    proportion to their usable length; with ``folder_weights`` (folder -> weight) a
    folder's windows come with probability weight / sum of weights (unlisted folders 1.0).
    With ``style_balance`` b > 0 the styles of a folder share its windows in proportion to
    their usable frames ** (1 - b) (1: equally), the folder's own share unchanged.

    The energy control of a window is its motion amplitude (:func:`pose_spread`) over
    what its style does at that loudness: per style, log amplitude is fitted linearly on
    log RMS (feature column ``loud_index``) over all windows, and energy is
    exp(residual), clipped to ``ENERGY_RANGE``. So energy 1 lets the music set the size
    (quiet passages stay small), and energy scales moves beyond it. Variation is 0.5
    (the latent at its trained scale). With ``amp_aug`` > 0 that share of windows has
    its moves scaled (:func:`scale_amplitude`, log-uniform in ``amp_range``) before the
    energy is measured, which widens the energy range the model learns. With ``tempo_aug``
    > 0 that share of windows is time-stretched (:func:`stretch_window`, the rate
    log-uniform in ``tempo_range``; ``beat_at``: the tempo feature's column): every style
    is then heard at tempi its own songs do not have, so the style input, not the tempo,
    has to say which style it is. With ``mirror_aug`` > 0 that share of windows is danced
    mirrored (:func:`mirror_vec`).
    """

    def __init__(self, clips: Sequence[TrainClip], *, styles: Sequence[str], seq_len: int,
                 lookahead: int, folder_weights: dict[str, float] | None = None,
                 style_balance: float = 0.0, loud_index: int | None = None, amp_aug: float = 0.0,
                 amp_range: tuple[float, float] = (0.35, 1.5), tempo_aug: float = 0.0,
                 tempo_range: tuple[float, float] = (0.75, 1.33), beat_at: int | None = None,
                 mirror_aug: float = 0.0) -> None:
        self.clips = [c for c in clips if c.frames >= seq_len + lookahead + 2]
        if not self.clips:
            longest = max((c.frames for c in clips), default=0)
            raise DatasetError(f"no clip is longer than seq_len {seq_len} + look-ahead {lookahead} frames "
                               f"(longest {longest}); lower train.seq_len or add longer clips")
        self.styles = list(styles)
        self.seq_len = seq_len
        self.lookahead = lookahead
        usable = np.array([c.frames - seq_len - lookahead - 1 for c in self.clips], dtype=np.float64)
        if style_balance > 0:  # a style's share of its folder ~ frames ** (1 - style_balance)
            keys = [(c.folder, c.style) for c in self.clips]
            for k in set(keys):
                sel = np.array([x == k for x in keys])
                tot = usable[sel].sum()
                usable[sel] *= tot ** (1.0 - style_balance) / tot
            if not folder_weights:  # keep each folder's share by frames, as without balance
                folder_weights = {}
                for c in self.clips:
                    folder_weights[c.folder] = folder_weights.get(c.folder, 0.0) + c.frames - seq_len - lookahead - 1
        if folder_weights:
            folders = [c.folder for c in self.clips]
            for f in set(folders):
                sel = np.array([x == f for x in folders])
                usable[sel] *= float(folder_weights.get(f, 1.0)) / usable[sel].sum()
        self.p = usable / usable.sum()
        self.loud_index = loud_index
        self.amp_aug = float(amp_aug)
        self.amp_range = amp_range
        self.tempo_aug = float(tempo_aug)
        self.tempo_range = tempo_range
        self.beat_at = beat_at
        self.mirror_aug = float(mirror_aug)
        self.energy_fit = self._fit_energy()

    def _loudness(self, c: TrainClip, s: int, feat: np.ndarray | None = None) -> float:
        if self.loud_index is None:
            return 0.0
        if feat is None:
            feat = c.feats[s + self.lookahead:s + self.lookahead + self.seq_len]
        return float(np.log(max(float(np.mean(feat[:, self.loud_index])), 1e-4)))

    def _fit_energy(self) -> dict[str, tuple[float, float]]:
        """Per style (a, b) of log amplitude ~ a + b * log loudness, over strided windows."""
        fit: dict[str, tuple[float, float]] = {}
        t = self.seq_len
        for style in sorted({c.style for c in self.clips}):
            xs, ys = [], []
            for c in self.clips:
                if c.style != style:
                    continue
                for s in range(1, c.frames - t - self.lookahead, max(1, t // 2)):
                    xs.append(self._loudness(c, s))
                    ys.append(np.log(max(pose_spread(c.vec[s:s + t]), 1e-4)))
            x, y = np.asarray(xs), np.asarray(ys)
            if len(x) >= 4 and x.std() > 1e-6:
                b, a = np.polyfit(x, y, 1)
                b = float(np.clip(b, 0.0, 1.0))  # louder -> bigger, at most in proportion
                a = float(np.mean(y) - b * np.mean(x))
            else:
                b, a = 0.0, float(np.mean(y)) if len(y) else 0.0
            fit[style] = (a, b)
        return fit

    def energy_at(self, c: TrainClip, s: int, target: np.ndarray | None = None,
                  feat: np.ndarray | None = None) -> float:
        a, b = self.energy_fit.get(c.style, (0.0, 0.0))
        amp = max(pose_spread(c.vec[s:s + self.seq_len] if target is None else target), 1e-4)
        return float(np.clip(np.exp(np.log(amp) - a - b * self._loudness(c, s, feat)), *ENERGY_RANGE))

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
            rate = 1.0
            if self.tempo_aug > 0 and rng.uniform() < self.tempo_aug:  # faster or slower music and dance
                lo, hi = np.log(self.tempo_range[0]), np.log(self.tempo_range[1])
                rate = float(np.exp(rng.uniform(lo, hi)))
                if c.frames - 2 - lk - rate * (t - 1) <= rate:  # too short for this rate
                    rate = 1.0
            if rate != 1.0:
                s = int(rng.integers(int(np.ceil(rate)), int(c.frames - 2 - lk - rate * (t - 1))))
                out["feat"][b], win = stretch_window(c, s, t, rate, lookahead=lk, beat_at=self.beat_at)
            else:
                s = int(rng.integers(1, c.frames - t - lk))
                out["feat"][b] = c.feats[s + lk:s + lk + t]
                win = c.vec[s - 1:s + t]
            if self.amp_aug > 0 and rng.uniform() < self.amp_aug:  # bigger or smaller moves
                lo, hi = np.log(self.amp_range[0]), np.log(self.amp_range[1])
                win = scale_amplitude(win, float(np.exp(rng.uniform(lo, hi))))
            if self.mirror_aug > 0 and rng.uniform() < self.mirror_aug:  # the move on the other side
                win = mirror_vec(win)
            out["prev"][b] = win[0]
            out["target"][b] = win[1:]
            out["style"][b, self.styles.index(c.style)] = 1.0
            out["controls"][b] = (self.energy_at(c, s, win[1:], out["feat"][b]), 0.5)
        return out
