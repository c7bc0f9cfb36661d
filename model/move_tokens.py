"""Move tokens: the training data's 2-s moves named in the decoder's held latent (``[train]
move_tokens``; session 55, models/README.md; measured, no shipped model uses them).

Why: the latent pick (live/pick.py) chooses the dancer's next move among eight of the decoder's
draws of its held latent, and in about one decision in twenty every draw dances the same move
(sessions 50-52). Strung together from the training data's own windows by a chooser that sees 64
of them at each 2-s decision, a dancer of the same styles leaves 0.4 % of its windows under the
repetition line's 0.3 (8 of them: 1.3 %, as the shipped dancer; session 55's bound). A Gaussian
draw of the held half names no move; a move's code does.

How: a window's code is its first ``nd`` principal components over the training data's windows
(``WINDOW`` frames, every ``SUB``-th kept, the pose vector's 51 root-relative joint coordinates),
each scaled to unit variance, so that the data's codes are distributed as the Gaussian draws the
decoder was trained on (:func:`fit_codes`, :func:`codes`). In training, with probability
``token_prob`` a window's held half at each redraw is the code of what the data dances until the
next redraw, otherwise the usual Gaussian draw, so the decoder learns to dance the move a code
names and still dances an unnamed draw. k-means centres of the windows (:func:`fit`) are the
tokens: their codes and how often each style's windows are nearest to each
(:func:`style_frequencies`) go into the exported metadata (``move_tokens``), and the pick of the
numpy runtimes draws the style's tokens, by those frequencies, instead of Gaussian vectors.

Measured (v29 fine-tuned with 128 tokens, models/v35_tokens.toml): the decoder dances a named move
(free-running error against the data 0.154 m with the data's own code, 0.18 m with a Gaussian
draw), but a style's codes lie closer together than Gaussian draws, and over 24 seeds the dancer
came back 3.3 % of its windows under 0.3 against the shipped 1.0 %. No shipped model has tokens.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from model.style_classifier import lloyd

WINDOW = 60
"""Frames a token describes (2 s at 30 fps; the decoder's phrase)."""
SUB = 3
"""Every SUB-th frame of a window is compared."""
STRIDE = 10
"""Training windows for the k-means start every STRIDE frames."""
ITERS = 25
"""Lloyd rounds of the k-means."""
SALT = 0x544F4B
"""Mixed into the seed of the k-means."""


def windows(vec: np.ndarray) -> np.ndarray:
    """A clip's pose vectors [shape=(t, >=51)] -> windows [shape=(n, WINDOW // SUB, 51)]."""
    v = np.asarray(vec, np.float32)[:, :51]
    starts = range(0, len(v) - WINDOW + 1, STRIDE)
    return np.stack([v[s : s + WINDOW : SUB] for s in starts]) if len(v) >= WINDOW else np.zeros((0, WINDOW // SUB, 51), np.float32)


def fit(vecs: Sequence[np.ndarray], *, k: int, seed: int = 0) -> np.ndarray:
    """k-means centres [shape=(k, WINDOW // SUB, 51)] of the clips' windows."""
    x = np.concatenate([windows(v) for v in vecs]).reshape(-1, (WINDOW // SUB) * 51)
    c = lloyd(x, k, np.random.default_rng([seed, SALT]), ITERS)
    return c.reshape(len(c), WINDOW // SUB, 51).astype(np.float32)


def fit_codes(vecs: Sequence[np.ndarray], *, nd: int) -> tuple[np.ndarray, np.ndarray, float]:
    """A move's code: its window's first ``nd`` principal components over the clips' windows,
    each scaled to unit variance, so that the codes of the data are distributed as the Gaussian
    draws the decoder was trained on. Returns (mean [shape=(WINDOW // SUB * 51,)], components
    [shape=(nd, WINDOW // SUB * 51)], the variance per coordinate the components leave out):
    code = components @ (window - mean)."""
    x = np.concatenate([windows(v) for v in vecs]).reshape(-1, (WINDOW // SUB) * 51).astype(np.float64)
    mean = x.mean(axis=0)
    _, sv, vt = np.linalg.svd(x - mean, full_matrices=False)
    var = sv**2 / max(len(x) - 1, 1)
    sd = np.sqrt(var[:nd])
    rest = float(var[nd:].sum() / x.shape[1])
    return mean.astype(np.float32), (vt[:nd] / np.maximum(sd, 1e-6)[:, None]).astype(np.float32), rest


def solver(comps: np.ndarray, m: int, rest: float = 0.0) -> np.ndarray:
    """The matrix [shape=(nd, m * 51)] that gives the code of a window's first m samples (minus
    the mean's): the components for a whole window; for a window cut short the code most likely
    given what it holds (the codes' N(0, I) prior, the left-out variance ``rest`` per coordinate:
    a ridge fit)."""
    if m == WINDOW // SUB:
        return comps
    basis = np.linalg.pinv(comps.astype(np.float64))[: m * 51]  # [m*51, nd]: a code's samples
    lhs = basis.T @ basis + max(rest, 1e-9) * np.eye(comps.shape[0])
    return np.linalg.solve(lhs, basis.T).astype(np.float32)


def codes(mean: np.ndarray, comps: np.ndarray, x: np.ndarray, rest: float = 0.0,
          solve: np.ndarray | None = None) -> np.ndarray:
    """Codes [shape=(n, nd)] of windows ``x`` [shape=(n, m, 51)], m <= WINDOW // SUB (a window cut
    short: see :func:`solver`; ``solve``: its matrix for this m, if the caller keeps it)."""
    n, m = x.shape[0], x.shape[1]
    d = x.reshape(n, -1) - mean[: m * 51]
    a = solver(comps, m, rest) if solve is None else solve
    return (d @ a.T).astype(np.float32)


def style_frequencies(centres: np.ndarray, clips: Mapping[str, Sequence[np.ndarray]],
                      styles: Sequence[str]) -> np.ndarray:
    """[shape=(len(styles), k)]: how often each token is the nearest of a style's windows."""
    out = np.zeros((len(styles), len(centres)), np.float32)
    for i, s in enumerate(styles):
        w = [windows(v) for v in clips.get(s, [])]
        w = [a for a in w if len(a)]
        if w:
            a = assign(centres, np.concatenate(w))
            out[i] = np.bincount(a, minlength=len(centres)) / len(a)
    return out


def assign(centres: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Nearest centre of each (possibly shorter) window ``x`` [shape=(n, m, 51)], m <= WINDOW // SUB:
    compared over its first m samples."""
    m = x.shape[1]
    c = centres[:, :m].reshape(len(centres), -1)
    xf = x.reshape(len(x), -1)
    return np.argmin((c**2).sum(1)[None] - 2.0 * xf @ c.T, axis=1)
