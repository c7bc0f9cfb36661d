"""A small style classifier for dance windows (numpy + scipy; no torch).

Fitted on the TRAINING data's dances, it tells which style a generated window looks like:
if the model's house looks like the data's house, the classifier says "house".

Window features (made left/right symmetric by averaging with the mirrored dance, so a move
danced on either side looks the same):

- 153 summary values: per joint the kinetic features of ``model.metrics`` (mean horizontal
  and vertical kinetic energy, mean acceleration), the mean root-relative position and the
  RMS spread of the root-relative position;
- a bag of poses (CODEBOOK values, when the classifier has a codebook): every frame is
  described by its facing-normalised root-relative joints, its joint velocities (scaled by
  VEL_SCALE) and its root height, softly assigned to the nearest of CODEBOOK pose centres
  (k-means on the training frames), and the window's mean assignment (square-rooted) is
  the feature: *which* poses and moves a window holds (joints moving together or against
  each other), not only how much each joint moves. On v5's training data (synthetic styles
  + mocap, 2-fold by dance, codebook fitted per fold) the cross-validated recognition went
  from mean 0.77 / worst 0.62 to mean 0.81 / worst 0.65; house, hip-hop and contemporary
  share moves in the synthetic choreography and stay the most confused.

- 65 timing values (TIMING_GAIN x): for five body parts (head, shoulders, arms, hips, legs)
  and the root's horizontal travel, the part's mean joint speed over the window: its log
  mean, its 10/50/90 % quantiles over the mean (hits and holds give a wide spread, smooth
  flow a narrow one), the share of still frames (under 0.3x the mean), its autocorrelation
  at 0.2-2 s (what pulse the part moves on) and its log mean |change| per second over the
  mean (sharpness). Left/right pooled, so mirror-symmetric as they stand. On v6's evaluation
  data (synth_v4 + mocap, 2-fold by dance) they lift the cross-validated recognition from
  mean 0.81 / worst 0.65 to mean 0.86 / worst 0.65 (contemporary 0.65 -> 0.94, locking
  0.85 -> 0.94; house 0.71 -> 0.77, hip-hop 0.69 and the heterogeneous freestyle 0.65 unchanged).

Features are standardised with the training windows' mean and std (floored at STD_FLOOR).

Tempo (session 33): every training dance is also seen played at the speeds TEMPO_STRETCH
(0.7x-1.4x: the same moves to slower and faster music, by resampling the poses in time). The
data ties style to tempo (synth_v5: contemporary's songs are 67-75 bpm, locking's 110-131,
salsa's 149-181), so a classifier that only saw the data at its own tempi partly reads the
tempo: the data's own dances (cross-validated by dance) played at 85, 100, 120 and 140 bpm
were recognised in mean 0.70 of their windows (contemporary 0.37, house 0.40, locking 0.62)
against 0.86 at their own tempi. Fitted with the stretched copies: 0.86 at those tempi
(contemporary 0.72, house 0.64, locking 0.89) and 0.89 at their own (freestyle 0.65 -> 0.85),
so it recognises the moves rather than the song's tempo. ``tempo_stretch=()`` fits the
classifier of sessions 13-32.

Classifiers: ``"logreg"`` (multinomial logistic regression, L2, class-balanced, fitted
with L-BFGS) or ``"knn"`` (k nearest neighbours, majority vote, ties to the nearest).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from model.metrics import kinetic_features
from model.skeleton import JOINT_INDEX, mirror, root_of

WINDOW_S = 4.0
"""Window length (s) the classifier sees."""
STD_FLOOR = 1e-3
L2 = 1e-2
"""L2 penalty of the logistic regression (per standardised feature)."""
CODEBOOK = 64
"""Pose centres of the bag-of-poses features (0: summary features only)."""
VEL_SCALE = 0.15
"""Weight of joint velocities (m/s) against joint positions (m) in a frame's description."""
BAG_GAIN = 3.0
"""Scale of the bag-of-poses values against the summary features (before standardising,
it only matters through STD_FLOOR)."""
TIMING_GAIN = 3.0
"""Scale of the timing values (as BAG_GAIN)."""
TIMING_PARTS: tuple[tuple[int, ...], ...] = ((0, 1, 2, 3, 4), (5, 6), (7, 8, 9, 10), (11, 12), (13, 14, 15, 16))
"""Joint groups of the timing values: head, shoulders, arms, hips, legs."""
TIMING_LAGS = (0.2, 0.33, 0.5, 0.67, 1.0, 1.5, 2.0)
"""Autocorrelation lags of the timing values (s)."""
N_TIMING = (len(TIMING_PARTS) + 1) * (6 + len(TIMING_LAGS))
N_SUMMARY = 153 + N_TIMING
KMEANS_FRAMES = 20000
KMEANS_ITERS = 15
TEMPO_STRETCH: tuple[float, ...] = (0.7, 0.85, 1.2, 1.4)
"""Speeds at which every training dance is also played when fitting (see the module docstring)."""
PROBE_BPM: tuple[float, ...] = (85.0, 100.0, 120.0, 140.0)
"""Tempi at which :func:`cross_validated_tempi` plays each held-out dance (the test songs' range)."""


def stretch(poses: np.ndarray, speed: float) -> np.ndarray:
    """A dance played ``speed`` times as fast: [t, 17, 3] -> [about t / speed, 17, 3]
    (linear interpolation in time; at least two frames)."""
    p = np.asarray(poses, np.float32)
    n = len(p)
    if n < 2 or not speed > 0:
        return p.copy()
    t = np.minimum(np.arange(max(2, int(round((n - 1) / speed)) + 1)) * float(speed), n - 1)
    i0 = np.floor(t).astype(np.int64)
    i1 = np.minimum(i0 + 1, n - 1)
    a = (t - i0).astype(np.float32)[:, None, None]
    return p[i0] + a * (p[i1] - p[i0])


def _with_tempi(train: Mapping[str, Sequence[np.ndarray]], speeds: Sequence[float]
                ) -> dict[str, list[np.ndarray]]:
    """Every dance and its copies played at ``speeds``."""
    return {s: [q for d in ds for q in (d, *(stretch(d, f) for f in speeds))] for s, ds in train.items()}


def _one_side(p: np.ndarray, fps: float) -> np.ndarray:
    rel = p - root_of(p)[:, None, :]
    mean = rel.mean(axis=0)
    spread = np.sqrt(((rel - mean) ** 2).sum(-1).mean(axis=0))
    return np.concatenate([kinetic_features(p, fps=fps), mean.reshape(-1), spread])


def timing_features(poses: np.ndarray, *, fps: float) -> np.ndarray:
    """The timing values of a window [shape=(t, 17, 3)] -> [shape=(N_TIMING,)] (see the
    module docstring)."""
    p = np.asarray(poses, np.float64)
    if len(p) < 3:
        return np.zeros(N_TIMING)
    v = np.linalg.norm(np.diff(p, axis=0), axis=-1) * fps  # [t - 1, 17]
    r = root_of(p)
    travel = np.hypot(*np.diff(r[:, [0, 2]], axis=0).T) * fps
    out: list[float] = []
    for sp in [v[:, list(g)].mean(axis=1) for g in TIMING_PARTS] + [travel]:
        m = float(sp.mean()) + 1e-6
        x = sp - sp.mean()
        den = float(x @ x) + 1e-9
        ac = []
        for lag_s in TIMING_LAGS:
            lag = int(round(lag_s * fps))
            ac.append(float(x[lag:] @ x[: len(x) - lag]) / den if 0 < lag < len(x) else 0.0)
        sharp = float(np.abs(np.diff(sp)).mean()) * fps / m if len(sp) > 1 else 0.0
        out += [math.log(m), *(np.percentile(sp, [10, 50, 90]) / m), float((sp < 0.3 * m).mean()), *ac,
                math.log(sharp + 1e-6)]
    return np.asarray(out)


def frame_descriptors(poses: np.ndarray, *, fps: float) -> np.ndarray:
    """Per frame: joints relative to the root, turned about the vertical so the hip line
    points along +x (facing-normalised), their velocities times VEL_SCALE, and the root
    height: [shape=(t, 17 * 3 * 2 + 1)]."""
    p = np.asarray(poses, np.float64)
    h = p[:, JOINT_INDEX["left_hip"]] - p[:, JOINT_INDEX["right_hip"]]
    ang = np.arctan2(h[:, 2], h[:, 0])
    c, s = np.cos(ang)[:, None], np.sin(ang)[:, None]
    root = root_of(p)
    rel = p - root[:, None, :]
    q = rel.copy()
    q[..., 0] = c * rel[..., 0] + s * rel[..., 2]
    q[..., 2] = c * rel[..., 2] - s * rel[..., 0]
    v = np.gradient(q, axis=0) * (fps * VEL_SCALE) if len(q) > 1 else np.zeros_like(q)
    return np.concatenate([q.reshape(len(q), -1), v.reshape(len(v), -1), root[:, 1:2]], axis=1)


@dataclass
class PoseCodebook:
    """Pose centres and the soft-assignment temperature (squared distance units)."""

    centres: np.ndarray  # [K, D]
    temperature: float

    def bag(self, poses: np.ndarray, *, fps: float) -> np.ndarray:
        """Mean soft assignment of the frames of a window (and of its mirror), square-rooted:
        [shape=(K,)]."""
        c = self.centres
        cc = (c**2).sum(1)[None]
        out = np.zeros(len(c))
        for p in (poses, mirror(poses)):
            f = frame_descriptors(p, fps=fps)
            d = (f**2).sum(1)[:, None] + cc - 2.0 * f @ c.T
            d -= d.min(axis=1, keepdims=True)
            w = np.exp(-d / self.temperature)
            out += (w / w.sum(axis=1, keepdims=True)).mean(axis=0)
        return np.sqrt(0.5 * out)


def lloyd(x: np.ndarray, k: int, rng: np.random.Generator, iters: int) -> np.ndarray:
    """k-means centres [shape=(min(k, n), d)] of the rows of ``x`` [shape=(n, d)]: ``iters`` Lloyd
    rounds from ``k`` rows drawn by ``rng``; a centre no row is nearest to stays where it is."""
    k = max(1, min(int(k), len(x)))
    c = x[rng.choice(len(x), k, replace=False)].copy()
    for _ in range(iters):
        d = (x**2).sum(1)[:, None] + (c**2).sum(1)[None] - 2.0 * x @ c.T
        a = d.argmin(axis=1)
        for j in range(k):
            m = a == j
            if m.any():
                c[j] = x[m].mean(axis=0)
    return c


def fit_codebook(dances: Sequence[np.ndarray], *, fps: float, k: int = CODEBOOK, seed: int = 0) -> PoseCodebook:
    """k-means (KMEANS_ITERS Lloyd rounds, seeded) on up to KMEANS_FRAMES frames of the dances
    and their mirrors; the temperature is half the median positive gap between a frame's
    nearest centre and the others."""
    rng = np.random.default_rng(seed)
    x = np.concatenate([frame_descriptors(q, fps=fps) for d in dances for q in (d, mirror(np.asarray(d)))])
    if len(x) > KMEANS_FRAMES:
        x = x[rng.choice(len(x), KMEANS_FRAMES, replace=False)]
    c = lloyd(x, k, rng, KMEANS_ITERS)
    d = (x**2).sum(1)[:, None] + (c**2).sum(1)[None] - 2.0 * x @ c.T
    d -= d.min(axis=1, keepdims=True)
    pos = d[d > 0]
    return PoseCodebook(centres=c, temperature=0.5 * float(np.median(pos)) if len(pos) else 1.0)


def window_features(poses: np.ndarray, *, fps: float, codebook: PoseCodebook | None = None) -> np.ndarray:
    """Features of one window [shape=(t, 17, 3)] -> [shape=(N_SUMMARY [+ K],)] (mirror-symmetric)."""
    p = np.asarray(poses, np.float64)
    base = np.concatenate([0.5 * (_one_side(p, fps) + _one_side(mirror(p), fps)),
                           TIMING_GAIN * timing_features(p, fps=fps)])
    if codebook is None:
        return base
    return np.concatenate([base, BAG_GAIN * codebook.bag(p, fps=fps)])


def windows(poses: np.ndarray, *, fps: float, window_s: float = WINDOW_S,
            hop_s: float | None = None) -> list[np.ndarray]:
    """Windows of ``window_s`` every ``hop_s`` (default: no overlap); a dance shorter than
    one window is one window (if at least 3 frames)."""
    n = max(3, int(round(window_s * fps)))
    hop = n if hop_s is None else max(1, int(round(hop_s * fps)))
    p = np.asarray(poses)
    if len(p) < n:
        return [p] if len(p) >= 3 else []
    return [p[i : i + n] for i in range(0, len(p) - n + 1, hop)]


def features_of(dances: Sequence[np.ndarray], *, fps: float, window_s: float = WINDOW_S,
                hop_s: float | None = None, codebook: PoseCodebook | None = None) -> np.ndarray:
    """Stacked window features of several dances: [shape=(n_windows, N_SUMMARY [+ K])]."""
    rows = [window_features(w, fps=fps, codebook=codebook)
            for d in dances for w in windows(d, fps=fps, window_s=window_s, hop_s=hop_s)]
    width = N_SUMMARY + (len(codebook.centres) if codebook is not None else 0)
    return np.stack(rows) if rows else np.zeros((0, width))


@dataclass
class StyleClassifier:
    """Fitted style classifier; build it with :func:`fit`."""

    styles: list[str]
    fps: float
    kind: str
    mean: np.ndarray
    std: np.ndarray
    window_s: float = WINDOW_S
    weights: np.ndarray | None = field(default=None, repr=False)  # [D + 1, S] (logreg)
    train_z: np.ndarray | None = field(default=None, repr=False)  # [N, D] (knn)
    train_y: np.ndarray | None = field(default=None, repr=False)
    k: int = 5
    codebook: PoseCodebook | None = field(default=None, repr=False)

    def _z(self, x: np.ndarray) -> np.ndarray:
        return (x - self.mean) / np.maximum(self.std, STD_FLOOR)

    def predict_features(self, x: np.ndarray) -> np.ndarray:
        """Style index per row of window features [shape=(n, N_SUMMARY [+ K])] -> [shape=(n,)]."""
        if len(x) == 0:
            return np.zeros(0, np.int64)
        z = self._z(x)
        if self.kind == "logreg":
            assert self.weights is not None
            return np.argmax(z @ self.weights[:-1] + self.weights[-1], axis=1)
        assert self.train_z is not None and self.train_y is not None
        d = (z**2).sum(1)[:, None] + (self.train_z**2).sum(1)[None, :] - 2.0 * z @ self.train_z.T
        kk = max(1, min(self.k, len(self.train_z)))
        near = np.argsort(d, axis=1)[:, :kk]
        out = np.empty(len(z), np.int64)
        for i, row in enumerate(near):
            ys = self.train_y[row]
            votes = np.bincount(ys, minlength=len(self.styles))
            best = np.flatnonzero(votes == votes.max())
            out[i] = best[0] if len(best) == 1 else next(int(y) for y in ys if y in best)
        return out

    def predict(self, poses: np.ndarray, *, hop_s: float | None = None) -> list[str]:
        """Predicted style of each window of one dance."""
        x = features_of([poses], fps=self.fps, window_s=self.window_s, hop_s=hop_s, codebook=self.codebook)
        return [self.styles[int(i)] for i in self.predict_features(x)]

    def accuracy(self, dances: Mapping[str, Sequence[np.ndarray]], *, hop_s: float | None = None) -> dict[str, float]:
        """Share of windows recognised as their style, per style (NaN: no windows; a style
        the classifier does not know scores 0)."""
        out: dict[str, float] = {}
        for s, ds in dances.items():
            x = features_of(list(ds), fps=self.fps, window_s=self.window_s, hop_s=hop_s, codebook=self.codebook)
            if len(x) == 0:
                out[s] = float("nan")
                continue
            pred = self.predict_features(x)
            out[s] = float(np.mean([self.styles[int(i)] == s for i in pred]))
        return out


def _fit_logreg(z: np.ndarray, y: np.ndarray, n_classes: int, l2: float) -> np.ndarray:
    from scipy.optimize import minimize

    n, d = z.shape
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    sw = (n / (n_classes * np.maximum(counts, 1.0)))[y]  # class-balanced sample weights
    onehot = np.zeros((n, n_classes))
    onehot[np.arange(n), y] = 1.0
    zb = np.hstack([z, np.ones((n, 1))])

    def loss(wflat: np.ndarray) -> tuple[float, np.ndarray]:
        w = wflat.reshape(d + 1, n_classes)
        logits = zb @ w
        logits -= logits.max(axis=1, keepdims=True)
        lp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        f = -float((sw * (onehot * lp).sum(1)).sum()) / n + 0.5 * l2 * float((w[:-1] ** 2).sum())
        g = zb.T @ ((np.exp(lp) - onehot) * sw[:, None]) / n
        g[:-1] += l2 * w[:-1]
        return f, g.reshape(-1)

    res = minimize(loss, np.zeros((d + 1) * n_classes), jac=True, method="L-BFGS-B", options={"maxiter": 500})
    return np.asarray(res.x).reshape(d + 1, n_classes)


def fit(train: Mapping[str, Sequence[np.ndarray]], *, fps: float, kind: str = "logreg",
        window_s: float = WINDOW_S, hop_s: float | None = 1.0, k: int = 5, l2: float = L2,
        codebook: int = CODEBOOK, tempo_stretch: Sequence[float] = TEMPO_STRETCH) -> StyleClassifier:
    """Fit on training dances (style -> list of [t, 17, 3]) cut into windows every ``hop_s``;
    ``codebook`` pose centres for the bag-of-poses features (0: none); every dance also
    played at the speeds ``tempo_stretch`` (() for none)."""
    if kind not in ("logreg", "knn"):
        raise ValueError(f"classifier kind must be 'logreg' or 'knn', got {kind!r}")
    if tempo_stretch:
        train = _with_tempi(train, tempo_stretch)
    styles = sorted(s for s, ds in train.items() if ds)
    if len(styles) < 2:
        raise ValueError("a style classifier needs dances of at least two styles")
    book = fit_codebook([d for s in styles for d in train[s]], fps=fps, k=codebook) if codebook > 0 else None
    xs, ys = [], []
    for i, s in enumerate(styles):
        x = features_of(list(train[s]), fps=fps, window_s=window_s, hop_s=hop_s, codebook=book)
        xs.append(x)
        ys.append(np.full(len(x), i))
    x, y = np.concatenate(xs), np.concatenate(ys).astype(np.int64)
    clf = StyleClassifier(styles=styles, fps=fps, kind=kind, mean=x.mean(axis=0), std=x.std(axis=0),
                          window_s=window_s, k=k, codebook=book)
    z = clf._z(x)
    if kind == "logreg":
        clf.weights = _fit_logreg(z, y, len(styles), l2)
    else:
        clf.train_z, clf.train_y = z, y
    return clf


def cross_validated(train: Mapping[str, Sequence[np.ndarray]], *, fps: float, kind: str = "logreg",
                    folds: int = 2, codebook: int = CODEBOOK,
                    tempo_stretch: Sequence[float] = TEMPO_STRETCH) -> dict[str, float]:
    """Per-style accuracy on the training data itself, fold by dance (each dance is tested
    by a classifier that never saw it): how well the styles of the data separate."""
    return cross_validated_tempi(train, fps=fps, kind=kind, folds=folds, codebook=codebook,
                                 tempo_stretch=tempo_stretch)[0]


def cross_validated_tempi(train: Mapping[str, Sequence[np.ndarray]], *, fps: float, kind: str = "logreg",
                          folds: int = 2, codebook: int = CODEBOOK, tempo_stretch: Sequence[float] = TEMPO_STRETCH,
                          tempi: Mapping[str, Sequence[float | None]] | None = None,
                          at_bpm: Sequence[float] = PROBE_BPM) -> tuple[dict[str, float], dict[str, float]]:
    """(:func:`cross_validated`, the same with each held-out dance played at the tempi
    ``at_bpm`` instead of its own ``tempi[style][i]`` (bpm; None or a missing entry: the
    dance is not played at other tempi; NaN for a style without such windows))."""
    correct: dict[str, list[float]] = {s: [] for s in train}
    moved: dict[str, list[float]] = {s: [] for s in train}
    for f in range(folds):
        fit_part = {s: [d for i, d in enumerate(ds) if i % folds != f] for s, ds in train.items()}
        if sum(1 for ds in fit_part.values() if ds) < 2:
            continue
        clf = fit(fit_part, fps=fps, kind=kind, codebook=codebook,  # codebook too: per fold
                  tempo_stretch=tempo_stretch)
        for s, ds in train.items():
            own = list((tempi or {}).get(s, ()))
            for i in range(f, len(ds), folds):
                correct[s] += [float(p == s) for p in clf.predict(ds[i])]
                bpm = own[i] if i < len(own) else None
                if bpm:
                    for b in at_bpm:
                        moved[s] += [float(p == s) for p in clf.predict(stretch(ds[i], b / bpm))]
    return ({s: float(np.mean(v)) if v else float("nan") for s, v in correct.items()},
            {s: float(np.mean(v)) if v else float("nan") for s, v in moved.items()})
