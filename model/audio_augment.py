"""Audio augmentation that keeps beat truth exact: EQ, reverb, compression, noise, gain,
tempo (varispeed) and pitch shifts.

Everything but the pitch shift is numpy (+ soxr for resampling). EQ is applied as the
magnitude of RBJ-cookbook biquads in the frequency domain (zero phase, so no timing
shift); reverb convolves a synthetic impulse response (decaying noise after a dry direct
path, so onsets stay where they were); compression follows a block RMS envelope with
attack and release. The tempo shift resamples the audio (a turntable's pitch fader:
tempo and pitch move together) and scales the beat times by exactly the same factor. The
pitch shift without tempo change uses librosa (training-time only).

Usage::

    aug = augment(y, sr=24000, beats=beats, downbeats=downbeats, seed=7)
    aug.audio, aug.beats, aug.downbeats, aug.ops   # ops: what was applied, JSON-ready

Deterministic per seed. Offline / training-time only (never imported by ``live``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import soxr

__all__ = ["Augmented", "augment", "compress", "eq", "add_noise", "offbeat_percussion", "pitch_shift",
           "reverb", "tempo_shift"]


def _biquad_mag(kind: str, f0: float, gain_db: float, q: float, freqs: np.ndarray,
                sr: int) -> np.ndarray:
    """|H(f)| of an RBJ-cookbook peaking / low-shelf / high-shelf filter."""
    a_lin = 10.0 ** (gain_db / 40.0)
    w0 = 2.0 * np.pi * f0 / sr
    cw, sw = np.cos(w0), np.sin(w0)
    alpha = sw / (2.0 * q)
    if kind == "peak":
        b = [1 + alpha * a_lin, -2 * cw, 1 - alpha * a_lin]
        a = [1 + alpha / a_lin, -2 * cw, 1 - alpha / a_lin]
    else:
        sq = 2.0 * np.sqrt(a_lin) * alpha
        if kind == "low":
            b = [a_lin * ((a_lin + 1) - (a_lin - 1) * cw + sq), 2 * a_lin * ((a_lin - 1) - (a_lin + 1) * cw),
                 a_lin * ((a_lin + 1) - (a_lin - 1) * cw - sq)]
            a = [(a_lin + 1) + (a_lin - 1) * cw + sq, -2 * ((a_lin - 1) + (a_lin + 1) * cw),
                 (a_lin + 1) + (a_lin - 1) * cw - sq]
        else:
            b = [a_lin * ((a_lin + 1) + (a_lin - 1) * cw + sq), -2 * a_lin * ((a_lin - 1) + (a_lin + 1) * cw),
                 a_lin * ((a_lin + 1) + (a_lin - 1) * cw - sq)]
            a = [(a_lin + 1) - (a_lin - 1) * cw + sq, 2 * ((a_lin - 1) - (a_lin + 1) * cw),
                 (a_lin + 1) - (a_lin - 1) * cw - sq]
    z = np.exp(-1j * 2.0 * np.pi * freqs / sr)
    num = b[0] + b[1] * z + b[2] * z * z
    den = a[0] + a[1] * z + a[2] * z * z
    return np.abs(num / den)


def eq(y: np.ndarray, *, sr: int, bands: list[tuple[str, float, float, float]]) -> np.ndarray:
    """Zero-phase EQ. bands: (kind "low"|"high"|"peak", freq Hz, gain dB, Q)."""
    spec = np.fft.rfft(y.astype(np.float64))
    freqs = np.fft.rfftfreq(len(y), 1.0 / sr)
    mag = np.ones_like(freqs)
    for kind, f0, g, q in bands:
        mag *= _biquad_mag(kind, min(f0, 0.45 * sr), g, q, freqs, sr)
    return np.fft.irfft(spec * mag, n=len(y)).astype(np.float32)


def _fft_convolve(y: np.ndarray, h: np.ndarray) -> np.ndarray:
    n = len(y) + len(h) - 1
    nfft = 1 << (n - 1).bit_length()
    out = np.fft.irfft(np.fft.rfft(y, nfft) * np.fft.rfft(h, nfft), nfft)[: len(y)]
    return out.astype(np.float32)


def reverb(y: np.ndarray, *, sr: int, rt60: float, wet: float, seed: int,
           predelay: float = 0.01) -> np.ndarray:
    """Add a synthetic room: exponentially decaying (slightly low-passed) noise with a
    reverberation time ``rt60`` s after ``predelay`` s, mixed ``wet`` (0..1) under the dry
    signal (the direct path stays at t = 0, so onsets do not move)."""
    rng = np.random.default_rng(seed)
    n = int(sr * (predelay + rt60 * 1.2))
    t = np.arange(n) / sr
    env = np.where(t >= predelay, np.exp(-6.9078 * np.maximum(t - predelay, 0) / rt60), 0.0)
    noise = rng.standard_normal(n)
    noise = np.convolve(noise, np.ones(4) / 4.0, mode="same")  # darker tail
    h = noise * env
    h /= np.sqrt(np.sum(h * h)) + 1e-12
    wet_sig = _fft_convolve(y.astype(np.float64), h)
    return ((1.0 - 0.5 * wet) * y + wet * wet_sig).astype(np.float32)


def compress(y: np.ndarray, *, sr: int, threshold_db: float, ratio: float,
             attack: float = 0.005, release: float = 0.12, block: int = 128) -> np.ndarray:
    """Feed-forward compressor on a block-RMS level (dBFS) with attack/release smoothing and
    make-up gain restoring the original RMS."""
    n_blocks = int(np.ceil(len(y) / block))
    pad = np.pad(y, (0, n_blocks * block - len(y))).reshape(n_blocks, block)
    level = 10.0 * np.log10(np.mean(pad * pad, axis=1) + 1e-10)
    over = np.maximum(level - threshold_db, 0.0)
    target = -over * (1.0 - 1.0 / ratio)
    a_att = np.exp(-block / (attack * sr))
    a_rel = np.exp(-block / (release * sr))
    g = np.empty(n_blocks)
    cur = 0.0
    for i, tg in enumerate(target.tolist()):
        coef = a_att if tg < cur else a_rel
        cur = coef * cur + (1.0 - coef) * tg
        g[i] = cur
    centres = (np.arange(n_blocks) + 0.5) * block
    gain = 10.0 ** (np.interp(np.arange(len(y)), centres, g) / 20.0)
    out = y * gain
    rms_in = np.sqrt(np.mean(y * y)) + 1e-12
    rms_out = np.sqrt(np.mean(out * out)) + 1e-12
    return (out * (rms_in / rms_out)).astype(np.float32)


def add_noise(y: np.ndarray, *, snr_db: float, color: str, seed: int) -> np.ndarray:
    """Add white, pink or brown noise at ``snr_db`` below the signal's RMS."""
    rng = np.random.default_rng(seed)
    spec = np.fft.rfft(rng.standard_normal(len(y)))
    f = np.arange(len(spec), dtype=float) + 1.0
    shape = {"white": np.ones_like(f), "pink": 1.0 / np.sqrt(f), "brown": 1.0 / f}[color]
    spec = spec * shape
    noise = np.fft.irfft(spec, n=len(y))
    p_sig = float(np.mean(y.astype(np.float64) ** 2)) + 1e-12
    noise *= np.sqrt(p_sig / (np.mean(noise * noise) + 1e-20) / 10.0 ** (snr_db / 10.0))
    return (y + noise).astype(np.float32)


def tempo_shift(y: np.ndarray, *, sr: int, factor: float,
                times: list[np.ndarray] | None = None) -> tuple[np.ndarray, list[np.ndarray]]:
    """Play ``factor`` times faster (varispeed: pitch moves with it). Returns the audio and
    every array of ``times`` divided by ``factor`` (exact: soxr keeps time zero aligned)."""
    out = soxr.resample(y.astype(np.float32), sr * factor, sr, quality="HQ")
    return np.asarray(out, dtype=np.float32), [np.asarray(t) / factor for t in (times or [])]


def pitch_shift(y: np.ndarray, *, sr: int, semitones: float) -> np.ndarray:
    """Shift pitch by ``semitones`` keeping the tempo (librosa's phase vocoder + resample)."""
    import librosa

    return np.asarray(librosa.effects.pitch_shift(y.astype(np.float32), sr=sr, n_steps=semitones,
                                                  res_type="soxr_hq"), dtype=np.float32)


@dataclass
class Augmented:
    """An augmented signal and its truth moved with it."""

    audio: np.ndarray
    beats: np.ndarray
    downbeats: np.ndarray
    tempo_factor: float = 1.0
    ops: list[dict[str, Any]] = field(default_factory=list)


def augment(y: np.ndarray, *, sr: int, beats: np.ndarray, downbeats: np.ndarray | None = None,
            seed: int, strength: float = 1.0, tempo_range: float = 0.06,
            pitch: bool = True) -> Augmented:
    """A random chain (deterministic per ``seed``): tempo shift (+-``tempo_range``), pitch
    shift (+-2 semitones), EQ, compression, reverb, noise, gain; each applied with some
    probability, sizes scaled by ``strength`` (0..1). The audio is peak-limited to 0.99."""
    rng = np.random.default_rng(seed)
    s = float(np.clip(strength, 0.0, 1.0))
    x = np.asarray(y, dtype=np.float32)
    b = np.asarray(beats, dtype=float)
    d = np.asarray(downbeats if downbeats is not None else [], dtype=float)
    ops: list[dict[str, Any]] = []
    factor = 1.0
    if rng.random() < 0.7 and tempo_range > 0:
        factor = float(1.0 + rng.uniform(-tempo_range, tempo_range) * s)
        x, (b, d) = tempo_shift(x, sr=sr, factor=factor, times=[b, d])
        ops.append({"op": "tempo", "factor": round(factor, 5)})
    if pitch and rng.random() < 0.3:
        st = float(rng.uniform(-2.0, 2.0) * s)
        x = pitch_shift(x, sr=sr, semitones=st)
        ops.append({"op": "pitch", "semitones": round(st, 3)})
    if rng.random() < 0.8:
        bands = [("low", float(rng.uniform(60, 250)), float(rng.uniform(-12, 9) * s), 0.7),
                 ("high", float(rng.uniform(2500, 9000)), float(rng.uniform(-15, 6) * s), 0.7),
                 ("peak", float(np.exp(rng.uniform(np.log(200), np.log(5000)))),
                  float(rng.uniform(-9, 9) * s), float(rng.uniform(0.5, 3.0)))]
        x = eq(x, sr=sr, bands=bands)
        ops.append({"op": "eq", "bands": [[k, round(f, 1), round(g, 2), round(q, 2)]
                                          for k, f, g, q in bands]})
    if rng.random() < 0.5:
        rms_db = 10 * np.log10(np.mean(x * x) + 1e-12)
        thr, ratio = float(rms_db + rng.uniform(-6, 3)), float(1 + rng.uniform(1, 7) * s)
        x = compress(x, sr=sr, threshold_db=thr, ratio=ratio)
        ops.append({"op": "compress", "threshold_db": round(thr, 2), "ratio": round(ratio, 2)})
    if rng.random() < 0.5:
        rt60, wet = float(rng.uniform(0.2, 2.0)), float(rng.uniform(0.1, 0.6) * s)
        x = reverb(x, sr=sr, rt60=rt60, wet=wet, seed=int(rng.integers(1 << 30)))
        ops.append({"op": "reverb", "rt60": round(rt60, 3), "wet": round(wet, 3)})
    if rng.random() < 0.5:
        snr = float(rng.uniform(10, 40) if s > 0 else 60.0)
        color = str(rng.choice(["white", "pink", "brown"]))
        x = add_noise(x, snr_db=snr + 20 * (1 - s), color=color, seed=int(rng.integers(1 << 30)))
        ops.append({"op": "noise", "snr_db": round(snr, 2), "color": color})
    g_db = float(rng.uniform(-18, 3) * s)
    x = x * np.float32(10 ** (g_db / 20.0))
    ops.append({"op": "gain", "db": round(g_db, 2)})
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    if peak > 0.99:
        x = x * np.float32(0.99 / peak)
    return Augmented(np.ascontiguousarray(x, dtype=np.float32), b, d, factor, ops)


# -- log-mel domain: off-beat percussion -------------------------------------------------

WINDOW_S = 2048 / 24_000
"""Analysis window of a log-mel frame (the features' n_fft at 24 kHz)."""
_KINDS = {  # spectral shape: (low corner Hz, high corner Hz, slope dB per octave outside)
    "hat": (6000.0, 20000.0, 18.0), "open_hat": (5000.0, 20000.0, 15.0),
    "clap": (1000.0, 3500.0, 12.0)}
_DECAY_S = {"hat": (0.015, 0.05), "open_hat": (0.12, 0.3), "clap": (0.04, 0.1)}


def _burst_energy(t_rel: np.ndarray, decay: np.ndarray, fps: float, n_frames: int) -> np.ndarray:
    """Energy [shape=(bursts, n_frames)] that frames 0, 1, ... after each burst's first
    frame see of an exponentially decaying burst starting ``t_rel`` s into that frame
    (Hann^2-weighted window of WINDOW_S ending at the frame's end; a steady unit power
    gives 1)."""
    n = 48
    u = (np.arange(n) + 0.5) / n
    w = np.sin(np.pi * u) ** 2
    w = w * w
    w /= w.sum()
    # sample times relative to the burst onset, per (burst, frame, sample)
    ends = (np.arange(n_frames) + 1.0) / fps
    tau = ends[None, :, None] - WINDOW_S + u[None, None, :] * WINDOW_S - t_rel[:, None, None]
    env = np.where(tau >= 0.0, np.exp(-np.maximum(tau, 0.0) / decay[:, None, None]), 0.0)
    return (env * w).sum(axis=2)


def _add_bursts(add: np.ndarray, *, start: int, fps: float, times: np.ndarray, levels_db: np.ndarray,
                shape_db: np.ndarray, decay: float, rng: np.random.Generator) -> None:
    """Add decaying noise bursts (onsets ``times`` s, peak band levels ``levels_db`` plus
    ``shape_db`` per band) to the band powers ``add`` of frames ``start ..``."""
    if len(times) == 0:
        return
    t = len(add)
    first = np.floor(times * fps).astype(int)
    n_after = int(np.ceil((WINDOW_S + 6 * decay) * fps)) + 1
    e = _burst_energy(times - first / fps, np.full(len(times), decay), fps, n_after)
    for k in range(len(times)):
        i0 = first[k] - start
        lo_i, hi_i = max(i0, 0), min(i0 + n_after, t)
        if hi_i <= lo_i:
            continue
        spec = 10.0 ** (0.1 * (levels_db[k] + shape_db + rng.normal(0.0, 1.0, len(shape_db))))
        add[lo_i:hi_i] += e[k, lo_i - i0: hi_i - i0, None] * spec[None, :]


def offbeat_percussion(mel_db: np.ndarray, *, start: int, fps: float, beats: np.ndarray,
                       band_hz: np.ndarray, rng: np.random.Generator,
                       floor_db: float = -100.0) -> np.ndarray:
    """Mix synthetic off-beat percussion and bass into log-mel frames (training augmentation).

    ``mel_db`` [shape=(t, n_mels)] are the frames ``start .. start + t - 1`` of a song
    (frame ``i`` covers ``(i/fps, (i+1)/fps]``) whose beats (s) are ``beats``; ``band_hz``
    the mel bands' centre frequencies. At the midpoint between each two beats a hi-hat,
    open hi-hat or clap (one kind per call; a decaying noise burst with its own spectrum,
    added in power) at a random level relative to the loudest frames; sometimes the
    on-beat eighths get a weaker one too; sometimes a bass note on the off-beat (and on
    the sixteenths around it, as techno and trance basslines roll), often louder in the
    low bands than the kick; sometimes the kick is cut (a low shelf of 6-18 dB). The
    groove then has its strongest onsets off the beat, as the grooves the tracker locks
    off-beat on; the beat truth does not change (the off-beats are "no beat"). Returns a
    new array.
    """
    t = len(mel_db)
    b = np.asarray(beats, float)
    t0, t1 = start / fps, (start + t) / fps
    keep = (b[:-1] > t0 - 1.0) & (b[:-1] < t1)
    on, per = b[:-1][keep], np.diff(b)[keep]
    out = np.asarray(mel_db, np.float64)
    if rng.random() < 0.3:  # kick weakened (low shelf)
        cut = rng.uniform(6.0, 18.0)
        shelf = np.clip(np.log2(400.0 / np.maximum(band_hz, 1.0)) / 1.5, 0.0, 1.0)
        out = np.maximum(out - cut * shelf, floor_db)
    if len(on) == 0:
        return out.astype(np.float32)
    add = np.zeros_like(out)

    def ref_db(shape: np.ndarray) -> float:
        """The song's loud level in the bands where a sound's spectrum peaks."""
        return float(np.percentile(out[:, shape > -6.0].mean(axis=1), 95))

    # percussion on the off-beats
    kind = str(rng.choice(list(_KINDS), p=[0.5, 0.3, 0.2]))
    lo, hi, slope = _KINDS[kind]
    octs = np.where(band_hz < lo, np.log2(lo / band_hz), np.where(band_hz > hi, np.log2(band_hz / hi), 0.0))
    times = on + 0.5 * per
    levels = np.zeros(len(times))
    if rng.random() < 0.3:  # eighth-note hats with the off-beat accented
        times = np.concatenate([times, on])
        levels = np.concatenate([levels, np.full(len(on), -rng.uniform(4.0, 12.0))])
    shape = -slope * octs
    levels = levels + ref_db(shape) + rng.uniform(-10.0, 8.0) + rng.normal(0.0, 1.5, len(times))
    d_lo, d_hi = _DECAY_S[kind]
    _add_bursts(add, start=start, fps=fps, times=times + rng.normal(0.0, 0.004, len(times)),
                levels_db=levels, shape_db=shape, decay=float(rng.uniform(d_lo, d_hi)), rng=rng)
    if rng.random() < 0.5:  # an off-beat bassline: the "and", sometimes the sixteenths around it
        steps = [0.5] + [f for f in (0.25, 0.75) if rng.random() < 0.4]
        bt = np.concatenate([on + f * per for f in steps])
        bass_shape = -12.0 * np.log2(np.maximum(band_hz, 150.0) / 150.0)
        bl = ref_db(bass_shape) + rng.uniform(-6.0, 6.0) + rng.normal(0.0, 1.5, len(bt))
        _add_bursts(add, start=start, fps=fps, times=bt + rng.normal(0.0, 0.004, len(bt)), levels_db=bl,
                    shape_db=bass_shape, decay=float(rng.uniform(0.06, 0.2)), rng=rng)
    res = 10.0 * np.log10(10.0 ** (0.1 * out) + add)
    return np.maximum(res, floor_db).astype(np.float32)
