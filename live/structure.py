"""Structure: the dancer's latent drawn from the music it hears, so that the same music gets
the same move (``live.structure``, 0 = off, the default; models/README.md, session 48).

Why: the decoder's latent chooses the move (16 held dimensions redrawn every phrase of 60
frames, 16 following a random walk; session 39), and the runtimes draw it from a seeded random
stream, so which move comes back has nothing to do with the music: `dancemuse evaluate`'s
"nearest's music rank" reads 0.496 for the shipped model, 0.423 for its training data, whose
choreography comes back where its music does. A choreographer sets a song's chorus the same way
each time; with ``structure`` 1 the dancer does too.

How: every frame, the model's raw feature row is standardised and projected on the top
``RANK`` principal directions of 2-s means of music features, each scaled to unit variance
(:class:`KeyStats`, ``models/music_key.npz``, fitted on the training music with
``python -m live.structure --fit``). Two fixed projections of that, drawn from the seed (its own
stream: the dance's other draws stay as they were), give

- the held half's key: the mean over the last ``HELD_FRAMES`` frames, projected;
- the walk's key: the mean over the last ``WALK_FRAMES`` frames, projected; the walk's
  innovation is chosen so that the walk follows it (z = a z + k_t - a k_(t-1));

each standardised as it goes (a running mean and variance over ``RUN_FRAMES``), so that the
latent keeps unit variance in quiet and loud songs alike. The random draw is kept and mixed:
noise = sqrt(1 - s^2) draw + s key, s = ``structure``. Another seed, other projections: another
dance, tied to the music the same way.

What it costs (session 48, `dancemuse evaluate --set live.structure=1`): more near-repeats (the
same music gets the same move) and popping's hits, read less on the recordings; see
models/README.md.

Every runtime (live.npstep.NumpyStep, live.runtime.Generator, live.offline.NumpyGenerator) calls
:meth:`MusicKey.mix` with the same feature row after the same draw, so they dance the same.
No allocation per frame: two small products and a few in-place operations on 16-float buffers.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from model.errors import ConfigError, ModelError

RANK = 16
"""Principal directions of the music kept (each scaled to unit variance)."""
HELD_FRAMES = 60
"""Frames the held half's key averages (a phrase: 2 s at 30 fps)."""
WALK_FRAMES = 4
"""Frames the walk's key averages."""
RUN_FRAMES = 600
"""Frames of the running standardisation of the keys (20 s at 30 fps)."""
SEED_SALT = 48_000
"""Added to the dance's seed for the projections' stream (apart from the dance's own)."""
DEFAULT_STATS = Path(__file__).resolve().parent.parent / "models" / "music_key.npz"
F32 = np.float32


class KeyStats:
    """Feature mean and scale and the whitening of their 2-s means: ``[F]``, ``[F]``, ``[F, R]``."""

    def __init__(self, mean: np.ndarray, scale: np.ndarray, whiten: np.ndarray, feature_dim: int) -> None:
        self.mean = np.asarray(mean, np.float64)
        self.scale = np.asarray(scale, np.float64)
        self.whiten = np.asarray(whiten, np.float64)
        self.feature_dim = int(feature_dim)

    @classmethod
    def fit(cls, features: Sequence[np.ndarray], *, window: int = HELD_FRAMES, rank: int = RANK) -> KeyStats:
        """From feature rows [t, F] of several songs: the rows' mean and scale, and the top
        ``rank`` principal directions of the standardised ``window``-frame means (every half
        window), each divided by the square root of its variance."""
        rows = np.concatenate([np.asarray(f, np.float64) for f in features])
        mean, scale = rows.mean(axis=0), rows.std(axis=0) + 1e-6
        means = [((f[a: a + window] - mean) / scale).mean(axis=0)
                 for f in features for a in range(0, len(f) - window + 1, max(1, window // 2))]
        if len(means) <= rank:
            raise ConfigError(f"music key: {len(means)} stretches of {window} frames are too few to fit {rank} "
                              f"directions; give it more music")
        ev, vec = np.linalg.eigh(np.cov(np.stack(means).T))
        top = np.argsort(ev)[::-1][:rank]
        return cls(mean, scale, vec[:, top] / np.sqrt(np.maximum(ev[top], 1e-9)), rows.shape[1])

    def save(self, path: str | Path) -> None:
        """Written atomically (a temporary file renamed over ``path``)."""
        p = Path(path)
        tmp = p.with_name(p.name + ".tmp.npz")
        np.savez(tmp, mean=self.mean, scale=self.scale, whiten=self.whiten, feature_dim=self.feature_dim)
        tmp.replace(p)

    @classmethod
    def load(cls, path: str | Path = DEFAULT_STATS) -> KeyStats:
        """Raises ModelError with one line when the file is missing or not a music key."""
        p = Path(path)
        try:
            with np.load(p) as z:
                return cls(z["mean"], z["scale"], z["whiten"], int(z["feature_dim"]))
        except FileNotFoundError:
            raise ModelError(f"music key {p} not found: live.structure needs it; run `python -m live.structure "
                             f"--fit DATA_DIR ...` or set live.structure = 0") from None
        except (OSError, KeyError, ValueError) as e:
            raise ModelError(f"music key {p} is not readable ({e}); fit it again with `python -m live.structure "
                             f"--fit DATA_DIR ...` or set live.structure = 0") from None


class _Running:
    """A running mean and variance over ~``n`` samples, in place (prior: mean 0, variance 1)."""

    def __init__(self, dim: int, n: int) -> None:
        self.a = np.array(1.0 / max(n, 1), F32)  # 0-d arrays: no scalar made per call
        self.eps = np.array(1e-3, F32)
        self.m = np.zeros(dim, F32)
        self.v = np.ones(dim, F32)
        self._d = np.zeros(dim, F32)

    def reset(self) -> None:
        self.m[...] = 0.0
        self.v[...] = 1.0

    def __call__(self, x: np.ndarray) -> None:
        """x standardised in place."""
        d = self._d
        np.subtract(x, self.m, d)
        d *= self.a
        self.m += d
        np.subtract(x, self.m, d)
        d *= d
        d -= self.v
        d *= self.a
        self.v += d
        x -= self.m
        np.sqrt(self.v, d)
        d += self.eps
        x /= d


class MusicKey:
    """The latent's key for one dancer (see the module docstring). ``amount``: live.structure."""

    def __init__(self, stats: KeyStats, amount: float) -> None:
        if not 0.0 <= float(amount) <= 1.0 or not math.isfinite(float(amount)):
            raise ConfigError(f"live.structure {amount!r} must be between 0 and 1")
        self.stats = stats
        self.amount = float(amount)
        self.nd = 0

    def bind(self, *, noise_dim: int, tau: float, feature_dim: int) -> None:
        """Size the buffers for a model: its latent half ``noise_dim``, walk time constant ``tau``
        (frames) and feature width. Raises ModelError when the key was fitted on other features."""
        if feature_dim != self.stats.feature_dim:
            raise ModelError(f"music key fitted on {self.stats.feature_dim} features, the model hears {feature_dim}; "
                             f"fit it again with `python -m live.structure --fit DATA_DIR ...` or set live.structure = 0")
        if noise_dim <= 0:
            raise ModelError("live.structure: this model has no latent to draw from the music; set live.structure = 0")
        nd, r = int(noise_dim), self.stats.whiten.shape[1]
        self.nd = nd
        w = self.stats.whiten / self.stats.scale[:, None]  # y = f W' + b: standardised, then whitened
        self._w = np.ascontiguousarray(w, F32)
        self._b = (-(self.stats.mean / self.stats.scale) @ self.stats.whiten).astype(F32)
        a = math.exp(-1.0 / max(float(tau), 1e-3))
        self._a, self._neg_a = np.array(a, F32), np.array(-a, F32)
        self._c = np.array(math.sqrt(1.0 - a * a), F32)
        self._keep = np.array(math.sqrt(max(0.0, 1.0 - self.amount**2)), F32)
        self._s = np.array(self.amount, F32)
        self._inv_held = [np.array(1.0 / k, F32) for k in range(1, HELD_FRAMES + 1)]
        self._inv_walk = [np.array(1.0 / k, F32) for k in range(1, WALK_FRAMES + 1)]
        self._y = np.zeros(r, F32)
        self._held = np.zeros((HELD_FRAMES, r), F32)
        self._walk = np.zeros((WALK_FRAMES, r), F32)
        self._hsum, self._wsum = np.zeros(r, F32), np.zeros(r, F32)
        self._k1, self._k2, self._prev = np.zeros(nd, F32), np.zeros(nd, F32), np.zeros(nd, F32)
        self._run1, self._run2 = _Running(nd, RUN_FRAMES), _Running(nd, RUN_FRAMES)
        self._p1 = np.zeros((r, nd), F32)
        self._p2 = np.zeros((r, nd), F32)
        self.reset(0)

    def reset(self, seed: int | None) -> None:
        """A new dance: empty windows, the projections drawn from ``seed`` (0 when None)."""
        if not self.nd:
            return
        r = self._held.shape[1]
        rng = np.random.default_rng(SEED_SALT + int(seed or 0))
        self._p1[...] = rng.standard_normal((r, self.nd)) / math.sqrt(r)
        self._p2[...] = rng.standard_normal((r, self.nd)) / math.sqrt(r)
        for buf in (self._held, self._walk, self._hsum, self._wsum, self._prev):
            buf[...] = 0.0
        self._run1.reset()
        self._run2.reset()
        self._n = 0

    def mix(self, feats: np.ndarray, noise: np.ndarray) -> None:
        """One frame: ``feats`` [F] the model's raw feature row, ``noise`` [2 nd] the runtime's
        draw for it, mixed with the keys in place."""
        nd, n, y = self.nd, self._n, self._y
        np.dot(feats, self._w, y)
        y += self._b
        i, j = n % HELD_FRAMES, n % WALK_FRAMES
        self._hsum -= self._held[i]
        self._hsum += y
        self._held[i] = y
        self._wsum -= self._walk[j]
        self._wsum += y
        self._walk[j] = y
        self._n = n + 1
        k1, k2 = self._k1, self._k2
        np.dot(self._hsum, self._p1, k1)
        k1 *= self._inv_held[min(n, HELD_FRAMES - 1)]
        self._run1(k1)
        np.dot(self._wsum, self._p2, k2)
        k2 *= self._inv_walk[min(n, WALK_FRAMES - 1)]
        self._run2(k2)
        held, walk = noise[:nd], noise[nd: 2 * nd]
        held *= self._keep
        k1 *= self._s
        held += k1
        prev = self._prev  # the walk's innovation: z = a z + c e follows k2 when c e = k2 - a k2_prev
        if n == 0:
            np.multiply(k2, self._a, prev)
        prev *= self._neg_a
        prev += k2
        prev /= self._c
        walk *= self._keep
        prev *= self._s
        walk += prev
        prev[...] = k2

    def mix_rows(self, feats: np.ndarray, noise: np.ndarray) -> None:
        """:meth:`mix` frame by frame: ``feats`` [n, F], ``noise`` [n, 2 nd]."""
        for t in range(len(noise)):
            self.mix(feats[t], noise[t])


class KeyedNoise:
    """What a runtime needs for ``live.structure``: ``set_structure`` (the engine calls it) and
    ``_key_reset`` (from the runtime's ``reset``); the runtime then calls ``self.structure.mix``
    after each noise draw. Reads the runtime's ``meta``, ``noise_dim`` (the whole latent, both
    halves) and ``feature_dim``."""

    structure: MusicKey | None = None
    _key_seed: int = 0

    def set_structure(self, key: MusicKey | None) -> None:
        """Draw the latent from the music with ``key`` (None: from the random stream only)."""
        if key is not None:
            meta: Any = getattr(self, "meta", {}) or {}
            tau = float((meta.get("net_config") or {}).get("noise_tau", 30.0))
            key.bind(noise_dim=int(getattr(self, "noise_dim", 0) or 2 * getattr(self, "nd", 0)) // 2, tau=tau,
                     feature_dim=int(getattr(self, "feature_dim", 0)))
            key.reset(self._key_seed)
        self.structure = key

    def _key_reset(self, seed: int | None) -> None:
        if seed is not None:
            self._key_seed = int(seed)
        if self.structure is not None:
            self.structure.reset(self._key_seed)


def for_config(live: dict[str, Any] | Any) -> MusicKey | None:
    """The key ``live.structure`` asks for (None at 0); raises ModelError / ConfigError."""
    amount = float(live.get("structure", 0.0) or 0.0)
    if amount == 0.0:
        return None
    return MusicKey(KeyStats.load(DEFAULT_STATS), amount)


def fit_main(argv: list[str] | None = None, *, features: Callable[[np.ndarray, int], np.ndarray] | None = None) -> int:
    """``python -m live.structure --fit DATA_DIR ... [--out models/music_key.npz]``: the key's
    statistics from the music of dataset folders (each clip's audio through the model's
    feature extraction at the configuration's settings)."""
    ap = argparse.ArgumentParser(prog="python -m live.structure", description="Fit the music key of live.structure.")
    ap.add_argument("--fit", nargs="+", required=True, metavar="DATA_DIR", help="dataset folders whose music to use")
    ap.add_argument("--out", default=str(DEFAULT_STATS), help=f"where to write it (default {DEFAULT_STATS})")
    ap.add_argument("--fps", type=int, default=30, help="the model's frame rate (default 30)")
    args = ap.parse_args(argv)
    from live.audio import load_file
    from model.config import load_config
    from model.dataset import clip_records
    from model.errors import DanceMuseError

    if features is None:
        from model.features import extract_features

        cfg = dict(load_config(None)["features"], fps=args.fps)

        def features(audio: np.ndarray, sr: int) -> np.ndarray:
            return extract_features(audio, sr=sr, cfg=cfg)[0]

    try:
        rows = []
        for d in args.fit:
            if not (Path(d) / "manifest.json").is_file():
                raise ConfigError(f"{d} is not a dataset folder (no manifest.json); pass dataset folders to --fit")
            for r in clip_records(d):
                if r.audio:
                    audio, sr = load_file(r.audio)
                    rows.append(np.asarray(features(audio, sr), np.float64))
        stats = KeyStats.fit(rows)
        stats.save(args.out)
    except DanceMuseError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"music key: {sum(map(len, rows))} frames of {len(rows)} clips, {stats.feature_dim} features, "
          f"{stats.whiten.shape[1]} directions -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(fit_main())
