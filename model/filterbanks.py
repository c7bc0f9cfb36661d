"""Mel and chroma filterbanks in plain numpy (no librosa, scipy or numba at show time).

The maths is the published one that librosa also implements: Slaney's mel scale (linear
below 1 kHz, logarithmic above) with triangular, area-normalised filters, and Ellis'
chroma filterbank (Gaussian bumps in octave space around each pitch class, each FFT bin
column L2-normalised, weighted by a Gaussian dominance window over octaves centred on
``ctroct``). ``tests/test_features.py`` checks both against ``librosa.filters.mel`` /
``librosa.filters.chroma`` to 1e-6 for the configured parameters.

Both return float32 (librosa's default dtype), so features computed with these filters
are the features computed with librosa's.
"""

from __future__ import annotations

import numpy as np

_F_SP = 200.0 / 3.0  # Hz per mel in the linear part
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOGSTEP = np.log(6.4) / 27.0


def hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney mel of frequencies in Hz [shape=(n,)] (float64)."""
    f = np.asarray(hz, np.float64)
    mel = f / _F_SP
    log_part = f >= _MIN_LOG_HZ
    mel = np.where(log_part, _MIN_LOG_MEL + np.log(np.maximum(f, 1e-300) / _MIN_LOG_HZ) / _LOGSTEP, mel)
    return np.asarray(mel, np.float64)


def mel_to_hz(mel: np.ndarray) -> np.ndarray:
    """Inverse of :func:`hz_to_mel` (float64)."""
    m = np.asarray(mel, np.float64)
    hz = _F_SP * m
    return np.asarray(np.where(m >= _MIN_LOG_MEL, _MIN_LOG_HZ * np.exp(_LOGSTEP * (m - _MIN_LOG_MEL)), hz))


def mel_filterbank(*, sr: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    """Triangular Slaney mel filters, area-normalised: float32 [shape=(n_mels, 1 + n_fft // 2)]."""
    fft_hz = np.linspace(0.0, sr / 2.0, 1 + n_fft // 2)
    edges = mel_to_hz(np.linspace(hz_to_mel(np.array([fmin]))[0], hz_to_mel(np.array([fmax]))[0], n_mels + 2))
    widths = np.diff(edges)
    ramps = edges[:, None] - fft_hz[None, :]
    rising = -ramps[:-2] / widths[:-1, None]
    falling = ramps[2:] / widths[1:, None]
    w = np.maximum(0.0, np.minimum(rising, falling))
    w *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return np.ascontiguousarray(w, dtype=np.float32)


def chroma_filterbank(
    *, sr: int, n_fft: int, n_chroma: int = 12, tuning: float = 0.0, ctroct: float = 5.0,
    octwidth: float = 2.0,
) -> np.ndarray:
    """Chroma filters starting at C: float32 [shape=(n_chroma, 1 + n_fft // 2)]."""
    freqs = np.linspace(0.0, float(sr), n_fft, endpoint=False)[1:]
    a440 = 440.0 * 2.0 ** (tuning / n_chroma)
    bins = n_chroma * np.log2(freqs / (a440 / 16.0))
    bins = np.concatenate(([bins[0] - 1.5 * n_chroma], bins))
    widths = np.concatenate((np.maximum(bins[1:] - bins[:-1], 1.0), [1.0]))
    d = bins[None, :] - np.arange(n_chroma, dtype=np.float64)[:, None]
    half = round(n_chroma / 2)
    d = np.remainder(d + half + 10 * n_chroma, n_chroma) - half
    w = np.exp(-0.5 * (2.0 * d / widths[None, :]) ** 2)
    norms = np.sqrt(np.sum(w * w, axis=0, keepdims=True))
    tiny = np.finfo(np.float64).tiny
    w = np.where(norms < tiny, w, w / np.where(norms < tiny, 1.0, norms))
    w *= np.exp(-0.5 * ((bins / n_chroma - ctroct) / octwidth) ** 2)[None, :]
    w = np.roll(w, -3 * (n_chroma // 12), axis=0)
    return np.ascontiguousarray(w[:, : 1 + n_fft // 2], dtype=np.float32)
