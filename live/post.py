"""Post-processing of generated poses, switchable live: mirror, root handling, one-euro
smoothing, projection onto the skeleton's bone lengths, hold.

Order per frame: mirror -> root (center/follow) -> one-euro smoothing -> bone-length
projection -> hold. Smoothing comes before projection so the output always has the
canonical bone lengths; root handling comes before smoothing so a switch between
``center`` and ``follow`` glides instead of jumping.

The one-euro filter (Casiez et al., 2012) adapts its cut-off to the speed of each joint:
slow jitter is smoothed hard, a fast movement (a hit on the beat) passes with almost no
lag. ``smoothing`` in 0..1 sets the low-speed cut-off (0 = filter off).

All buffers are preallocated: :meth:`PostProcessor.process` allocates nothing but the
small temporaries of ``model.skeleton.project_to_lengths``.
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


def _alpha(cutoff_hz: float | np.ndarray, fps: float) -> float | np.ndarray:
    tau = 1.0 / (2.0 * math.pi * cutoff_hz)
    return 1.0 / (1.0 + tau * fps)


class PostProcessor:
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
            sk.project_to_lengths(self._x, out=self._out)
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
