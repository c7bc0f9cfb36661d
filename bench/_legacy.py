"""The previous (numpy per-frame) post-processing and spectral features, kept for the
side-by-side benchmarks only (``bench step|live|generate --path old``). Not used by DanceMuse.

``OldPostProcessor``: live/post.py as of commit 2cc22b6 (about 130 small numpy calls a
pose). ``OldFeatures``: model.features.StreamingFeatures with the previous per-frame
spectral code (librosa's filters, separate mel and chroma products, one frame at a time).
"""

from __future__ import annotations

import math

import numpy as np

from model import skeleton as sk
from model.errors import ConfigError

ROOT_MODES = ("center", "follow")

_D_CUTOFF_HZ = 3.0
"""Cut-off of the speed estimate that drives the one-euro filter."""
_BETA = 8.0
"""Speed coefficient: how fast the cut-off rises with joint speed (per m/s)."""


def min_cutoff_hz(smoothing: float) -> float:
    """Low-speed cut-off of the one-euro filter for a ``smoothing`` strength in (0, 1]."""
    s = min(max(float(smoothing), 0.0), 1.0)
    return 0.5 + 11.5 * (1.0 - s) ** 2


def _levels() -> list[tuple[np.ndarray, np.ndarray]]:
    """Joints grouped by depth in the kinematic tree: [(children, parents)], parents first.
    Parent ids ROOT (-1) and NECK (-2) are the virtual mid-hip and mid-shoulder."""
    depth: dict[int, int] = {}

    def d(j: int) -> int:
        if j not in depth:
            p = sk.PARENTS[j]
            depth[j] = 1 if p == sk.ROOT else 1 + (max(d(5), d(6)) if p == sk.NECK else d(p))
        return depth[j]

    out = []
    for level in sorted({d(j) for j in range(sk.NUM_JOINTS)}):
        for kind in (sk.ROOT, sk.NECK, 0):  # one group per kind of parent
            kids = [j for j in range(sk.NUM_JOINTS) if depth[j] == level
                    and (sk.PARENTS[j] == kind if kind < 0 else sk.PARENTS[j] >= 0)]
            if kids:
                out.append((np.asarray(kids, np.intp), np.asarray([sk.PARENTS[j] for j in kids], np.intp)))
    return out


class BoneProjector:
    """``model.skeleton.project_to_lengths`` for one pose, level by level in the tree with
    preallocated buffers (~2.5x faster than the per-joint reference; same result)."""

    def __init__(self, lengths: np.ndarray | None = None) -> None:
        ref = sk.CANONICAL_BONE_LENGTHS if lengths is None else np.asarray(lengths, np.float32)
        rest = sk.rest_pose()
        self.levels = []
        for kids, parents in _levels():
            lens = ref[kids].astype(np.float32)[:, None]
            rest_parent = np.stack([self._virtual(rest, int(p)) for p in parents])
            rd = rest[kids] - rest_parent
            rd /= np.linalg.norm(rd, axis=1, keepdims=True)
            n = len(kids)
            bufs = tuple(np.zeros((n, 3), np.float32) for _ in range(4)) + (np.zeros((n, 1), np.float32),)
            self.levels.append((kids, parents, lens, rd.astype(np.float32), bufs))
        self._root = np.zeros(3, np.float32)
        self._neck_old = np.zeros(3, np.float32)
        self._neck_new = np.zeros(3, np.float32)

    @staticmethod
    def _virtual(pose: np.ndarray, p: int) -> np.ndarray:
        if p == sk.ROOT:
            return 0.5 * (pose[11] + pose[12])
        if p == sk.NECK:
            return 0.5 * (pose[5] + pose[6])
        return pose[p]

    def __call__(self, pose: np.ndarray, out: np.ndarray) -> np.ndarray:
        """pose [shape=(17, 3)] -> ``out`` [shape=(17, 3)] (must not alias ``pose``)."""
        np.add(pose[11], pose[12], out=self._root)
        self._root *= 0.5
        for kids, parents, lens, rd, (child, pold, pnew, d, n) in self.levels:
            p0 = int(parents[0])
            if p0 == sk.ROOT:
                pold[:] = self._root
                pnew[:] = self._root
            elif p0 == sk.NECK:
                np.add(pose[5], pose[6], out=self._neck_old)
                np.add(out[5], out[6], out=self._neck_new)
                pold[:] = self._neck_old * 0.5
                pnew[:] = self._neck_new * 0.5
            else:
                np.take(pose, parents, axis=0, out=pold)
                np.take(out, parents, axis=0, out=pnew)
            np.take(pose, kids, axis=0, out=child)
            np.subtract(child, pold, out=d)
            np.multiply(d, d, out=child)
            np.sum(child, axis=1, keepdims=True, out=n)
            np.sqrt(n, out=n)
            if (n > 1e-8).all():
                d /= n
            else:
                ok = (n > 1e-8)[:, 0]
                d[ok] /= n[ok]
                d[~ok] = rd[~ok]
            d *= lens
            d += pnew
            out[kids] = d
        return out


def _alpha(cutoff_hz: float | np.ndarray, fps: float) -> float | np.ndarray:
    tau = 1.0 / (2.0 * math.pi * cutoff_hz)
    return 1.0 / (1.0 + tau * fps)


class OldPostProcessor:
    """Per-frame post-processing with live switches.

    Parameters
    ----------
    fps : frames per second of the stream (sets the filter's time step).
    smoothing : one-euro strength 0..1 (0 = off).
    mirror : mirror the dancer left/right.
    root : "center" keeps the mid-hip at x = z = 0 (height kept, so floor contact stays);
        "follow" keeps the generated trajectory.
    project_bones : snap every pose onto the canonical bone lengths.
    """

    def __init__(
        self,
        *,
        fps: float,
        smoothing: float = 0.5,
        mirror: bool = False,
        root: str = "center",
        project_bones: bool = True,
    ) -> None:
        if fps <= 0:
            raise ConfigError(f"fps must be positive, got {fps}")
        self.fps = float(fps)
        self.smoothing = float(smoothing)
        self.mirror = bool(mirror)
        self.root = root
        self.project_bones = bool(project_bones)
        self.hold = False
        self.set_root(root)
        shape = (sk.NUM_JOINTS, 3)
        self._mir = np.zeros(shape, np.float32)
        self._x = np.zeros(shape, np.float32)  # filtered position
        self._dx = np.zeros(shape, np.float32)  # filtered velocity, m/s
        self._tmp = np.zeros(shape, np.float32)
        self._speed = np.zeros((sk.NUM_JOINTS, 1), np.float32)
        self._a = np.zeros((sk.NUM_JOINTS, 1), np.float32)
        self._out = np.zeros(shape, np.float32)
        self._held = np.zeros(shape, np.float32)
        self._mirror_idx = np.asarray(sk.MIRROR, dtype=np.intp)
        self._project = BoneProjector()
        self._primed = False
        self._have_output = False

    def set_root(self, mode: str) -> None:
        if mode not in ROOT_MODES:
            raise ConfigError(f"root mode {mode!r} is unknown; use one of {list(ROOT_MODES)}")
        self.root = mode

    def reset(self) -> None:
        """Forget the filter state (the next pose passes unfiltered) and release hold."""
        self._primed = False
        self._have_output = False
        self.hold = False

    def cue(self, phase: float, tempo: float, rms: float) -> None:
        """The engine's per-frame music cue (for the groove stage added since): the old
        post-processing had no such stage and ignores it."""

    def process(self, pose: np.ndarray) -> np.ndarray:
        """Post-process one pose.

        pose: [shape=(17, 3)] absolute joints, metres, y up. Returns an internal buffer
        [shape=(17, 3)] float32 that the next call overwrites: copy what you keep.
        """
        if self.hold and self._have_output:
            return self._held
        src = np.asarray(pose, dtype=np.float32)
        x = self._mir
        if self.mirror:
            np.take(src, self._mirror_idx, axis=0, out=x)
            x[:, 0] *= -1.0
        else:
            x[...] = src
        if self.root == "center":
            rx = 0.5 * (x[11, 0] + x[12, 0])
            rz = 0.5 * (x[11, 2] + x[12, 2])
            x[:, 0] -= rx
            x[:, 2] -= rz
        self._smooth(x)
        if self.project_bones:
            self._project(self._x, self._out)
        else:
            self._out[...] = self._x
        self._held[...] = self._out
        self._have_output = True
        return self._out

    def _smooth(self, x: np.ndarray) -> None:
        if self.smoothing <= 0.0 or not self._primed:
            self._x[...] = x
            self._dx[...] = 0.0
            self._primed = True
            return
        fps = self.fps
        # velocity estimate, low-passed at a fixed cut-off
        np.subtract(x, self._x, out=self._tmp)
        self._tmp *= fps
        ad = _alpha(_D_CUTOFF_HZ, fps)
        self._dx *= 1.0 - ad
        self._dx += ad * self._tmp
        # per-joint speed -> adaptive cut-off -> alpha
        np.multiply(self._dx, self._dx, out=self._tmp)
        np.sum(self._tmp, axis=1, keepdims=True, out=self._speed)
        np.sqrt(self._speed, out=self._speed)
        self._speed *= _BETA
        self._speed += min_cutoff_hz(self.smoothing)
        # alpha = 1 / (1 + fps / (2 pi fc))
        np.reciprocal(self._speed, out=self._a)
        self._a *= fps / (2.0 * math.pi)
        self._a += 1.0
        np.reciprocal(self._a, out=self._a)
        # x_hat += alpha * (x - x_hat)
        np.subtract(x, self._x, out=self._tmp)
        self._tmp *= self._a
        self._x += self._tmp


# -- the previous per-frame spectral features --------------------------------------------
def old_features_factory(feature_cfg: dict, input_sr: int):  # type: ignore[no-untyped-def]
    """``Engine(features_factory=...)`` for the old feature path."""
    return OldFeatures(feature_cfg, input_sr=input_sr)


def _old_features_class():  # type: ignore[no-untyped-def]
    import librosa

    from model.constants import DB_REF, N_CHROMA
    from model.features import AMIN, LOW_BANDS, StreamingFeatures

    class _OldFeatures(StreamingFeatures):
        """Per-frame spectral path with librosa's filters (what features.py did before)."""

        def __init__(self, cfg, *, input_sr):  # type: ignore[no-untyped-def]
            super().__init__(cfg, input_sr=input_sr)
            s = self.spec
            self._mel_fb = librosa.filters.mel(sr=self.sr, n_fft=self.n_fft, n_mels=s.n_mels, fmin=s.fmin,
                                               fmax=s.fmax).astype(np.float64)
            self._chroma_fb = librosa.filters.chroma(sr=self.sr, n_fft=self.n_fft, n_chroma=N_CHROMA,
                                                     tuning=s.tuning).astype(np.float64)
            nb = self.n_fft // 2 + 1
            self._o = {k: np.zeros(n) for k, n in (("xw", self.n_fft), ("pow", nb), ("tmp", nb), ("mel", s.n_mels),
                                                    ("db", s.n_mels), ("prev_db", s.n_mels), ("diff", s.n_mels),
                                                    ("chroma", N_CHROMA), ("low", LOW_BANDS), ("prev_low", LOW_BANDS))}
            self._o["spec"] = np.zeros(nb, np.complex128)
            self._old_have_prev = False

        def _spectral(self, frames, out, w):  # type: ignore[no-untyped-def]
            o, sl = self._o, self._sl
            for j in range(len(frames)):
                ring = frames[j]
                np.multiply(ring, self._window, out=o["xw"])
                np.fft.rfft(o["xw"], out=o["spec"])
                np.abs(o["spec"], out=o["tmp"])
                np.multiply(o["tmp"], o["tmp"], out=o["pow"])
                np.dot(self._mel_fb, o["pow"], out=o["mel"])
                np.maximum(o["mel"], AMIN, out=o["mel"])
                np.log10(o["mel"], out=o["db"])
                o["db"] *= 10.0
                o["db"] -= 10.0 * math.log10(DB_REF)
                if self._old_have_prev:
                    np.subtract(o["db"], o["prev_db"], out=o["diff"])
                    np.maximum(o["diff"], 0.0, out=o["diff"])
                    onset = float(o["diff"].mean())
                    np.subtract(o["mel"][:LOW_BANDS], o["prev_low"], out=o["low"])
                    np.maximum(o["low"], 0.0, out=o["low"])
                    low = math.sqrt(float(o["low"].sum()))
                else:
                    onset = low = 0.0
                    self._old_have_prev = True
                o["prev_db"][:] = o["db"]
                o["prev_low"][:] = o["mel"][:LOW_BANDS]
                np.dot(self._chroma_fb, o["pow"], out=o["chroma"])
                cmax = float(o["chroma"].max())
                if cmax > AMIN:
                    o["chroma"] /= cmax
                else:
                    o["chroma"][:] = 0.0
                rms = math.sqrt(float(np.dot(ring, ring)) / self.n_fft)
                row = out[j]
                row[sl["mel"]] = o["db"]
                row[sl["onset"]] = onset
                row[sl["chroma"]] = o["chroma"]
                row[sl["rms"]] = rms
                w.onset[j] = onset
                w.low[j] = low
                w.db[j] = o["db"]
                w.pw[j + 1, : self.spec.n_mels] = o["mel"]

        def _spectral_one(self, frame, row, w):  # type: ignore[no-untyped-def]
            # a one-hop push goes through _spectral_one in today's class: the old per-frame code here too
            self._spectral(frame[None], row[None], w)
            return float(w.onset[0]), float(w.low[0])

    return _OldFeatures


class _Lazy:
    cls = None


def OldFeatures(cfg, *, input_sr):  # type: ignore[no-untyped-def]  # noqa: N802 - a class factory
    if _Lazy.cls is None:
        _Lazy.cls = _old_features_class()
    return _Lazy.cls(cfg, input_sr=input_sr)
