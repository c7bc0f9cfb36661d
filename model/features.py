"""Streaming music features, the same for training and live (numpy only at run time).

``StreamingFeatures(cfg["features"], input_sr=SR).push(samples)`` accepts chunks of any
size at any input rate (mono or stereo, int or float), resamples them to 24 kHz with a
soxr stream, and returns one feature frame per hop (800 samples at 30 fps, 400 at 60).
Offline extraction (``extract_features``, ``extract_file``) is the same class fed the
whole file, so a model sees the same numbers in training and on stage.

Framing: frame ``i`` is the ``n_fft`` window that *ends* at sample ``(i + 1) * hop``
(``center=False`` framing over a ring primed with ``n_fft - hop`` zeros), so every hop of
audio that arrives makes exactly one frame and nothing waits for future samples.

Per frame, in ``FeatureSpec`` order:

===========  ===  =====================================================================
mel          64   log-mel power in dB against a fixed reference (``DB_REF``), no top_db
onset         1   mean over mel bands of the positive dB difference to the previous frame
chroma       12   chroma of the power spectrum with a fixed tuning, max-normalised
rms           1   RMS of the window
tempo         1   tracker tempo / 200
beat_phase    2   sin, cos of the phase within the beat (0 on the beat)
beat_pulse    1   ((1 + cos(2 pi phase)) / 2) ** 4: 1 on the beat, 0 between beats
bar_phase     2   sin, cos of the phase within the bar (0 on the downbeat)
===========  ===  =====================================================================

NaN and inf input samples are replaced by 0 and counted in ``nan_count``; samples are
clipped to [-1, 1]. soxr's stream gives the same output values for any chunking (checked
by the tests), only the number of samples returned per call varies.
"""

from __future__ import annotations

import functools
import json
import math
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from model.beat_act import FPS_NET
from model.beats import OnlineBeatTracker
from model.constants import DB_REF, N_CHROMA, SAMPLE_RATE, hop_length
from model.errors import AudioError, ConfigError
from model.filterbanks import chroma_filterbank, mel_filterbank

AMIN = 1e-10
"""Power floor before the log (-100 dB)."""
LOW_BANDS = 8
"""Lowest mel bands (30..~430 Hz) whose energy flux the beat tracker weighs most (kick)."""
BEAT_MEL = (64, 30.0, 11000.0)
"""Mel bands (count, fmin, fmax) the beat activation net hears: the default features' bands."""
FORMAT_VERSION = 1
SMALL = 4
"""Frames per push handled in preallocated buffers (the live path: a hop or a few)."""
CHUNK = 256
"""Frames per batch of the offline path (one big push: the whole song)."""
CLIP_BUF = 8192
"""Input samples per push clipped in a preallocated buffer (larger pushes get a new one)."""


class _NoFrames(dict):  # type: ignore[type-arg]
    """Read-only empty [0, F] float32 arrays, one per F (what a push with no frame returns)."""

    def __missing__(self, dim: int) -> np.ndarray:
        a = np.empty((0, dim), np.float32)
        a.flags.writeable = False
        self[dim] = a
        return a


@dataclass
class FeatureSpec:
    """Names and sizes of the feature blocks, the framing, and optional normalisation.

    It travels inside every checkpoint and exported model (``to_json``) so the live
    server computes exactly the features the model was trained on.
    """

    names: tuple[str, ...]
    dims: tuple[int, ...]
    fps: int
    sample_rate: int = SAMPLE_RATE
    hop: int = 800
    n_fft: int = 2048
    n_mels: int = 64
    fmin: float = 30.0
    fmax: float = 11000.0
    tuning: float = 0.0
    beats_per_bar: int = 4
    min_bpm: float = 60.0
    max_bpm: float = 190.0
    mean: list[float] | None = None
    std: list[float] | None = None
    version: int = FORMAT_VERSION
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> FeatureSpec:
        """Build from the ``[features]`` section (or a whole config holding one)."""
        c = _features_section(cfg)
        fps = int(c.get("fps", 30))
        n_mels = int(c.get("n_mels", 64))
        names = ("mel", "onset", "chroma", "rms", "tempo", "beat_phase", "beat_pulse", "bar_phase")
        dims = (n_mels, 1, N_CHROMA, 1, 1, 2, 1, 2)
        return cls(
            names=names,
            dims=dims,
            fps=fps,
            sample_rate=SAMPLE_RATE,
            hop=hop_length(fps),
            n_fft=int(c.get("n_fft", 2048)),
            n_mels=n_mels,
            fmin=float(c.get("fmin", 30.0)),
            fmax=float(c.get("fmax", 11000.0)),
            tuning=float(c.get("tuning", 0.0)),
            beats_per_bar=int(c.get("beats_per_bar", 4)),
            min_bpm=float(c.get("min_bpm", 60.0)),
            max_bpm=float(c.get("max_bpm", 190.0)),
        )

    @property
    def dim(self) -> int:
        """Total feature width F."""
        return int(sum(self.dims))

    def slice(self, name: str) -> slice:
        """Columns of block ``name`` in a frame."""
        start = 0
        for nm, d in zip(self.names, self.dims):
            if nm == name:
                return slice(start, start + d)
            start += d
        raise KeyError(f"no feature block {name!r}; blocks: {', '.join(self.names)}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version, "names": list(self.names), "dims": list(self.dims),
            "fps": self.fps, "sample_rate": self.sample_rate, "hop": self.hop,
            "n_fft": self.n_fft, "n_mels": self.n_mels, "fmin": self.fmin, "fmax": self.fmax,
            "tuning": self.tuning, "beats_per_bar": self.beats_per_bar,
            "min_bpm": self.min_bpm, "max_bpm": self.max_bpm,
            "mean": None if self.mean is None else [float(x) for x in self.mean],
            "std": None if self.std is None else [float(x) for x in self.std],
            "extra": dict(self.extra),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FeatureSpec:
        try:
            spec = cls(
                names=tuple(d["names"]), dims=tuple(int(x) for x in d["dims"]), fps=int(d["fps"]),
                sample_rate=int(d.get("sample_rate", SAMPLE_RATE)), hop=int(d["hop"]),
                n_fft=int(d.get("n_fft", 2048)), n_mels=int(d.get("n_mels", 64)),
                fmin=float(d.get("fmin", 30.0)), fmax=float(d.get("fmax", 11000.0)),
                tuning=float(d.get("tuning", 0.0)), beats_per_bar=int(d.get("beats_per_bar", 4)),
                min_bpm=float(d.get("min_bpm", 60.0)), max_bpm=float(d.get("max_bpm", 190.0)),
                mean=None if d.get("mean") is None else [float(x) for x in d["mean"]],
                std=None if d.get("std") is None else [float(x) for x in d["std"]],
                version=int(d.get("version", FORMAT_VERSION)), extra=dict(d.get("extra") or {}),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise ConfigError(f"feature spec is malformed ({e!r}); re-export the model") from None
        if len(spec.names) != len(spec.dims):
            raise ConfigError("feature spec has different numbers of names and dims; re-export the model")
        for arr in (spec.mean, spec.std):
            if arr is not None and len(arr) != spec.dim:
                raise ConfigError(f"feature spec normalisation has {len(arr)} values for {spec.dim} features")
        return spec

    @classmethod
    def from_json(cls, text: str) -> FeatureSpec:
        try:
            return cls.from_dict(json.loads(text))
        except json.JSONDecodeError as e:
            raise ConfigError(f"feature spec is not valid JSON ({e.msg}); re-export the model") from None

    def differences(self, other: FeatureSpec) -> list[str]:
        """Human-readable list of what differs in the computation (normalisation ignored)."""
        keys = ("names", "dims", "fps", "sample_rate", "hop", "n_fft", "n_mels", "fmin",
                "fmax", "tuning", "beats_per_bar")
        a, b = self.to_dict(), other.to_dict()
        return [f"{k}: {a[k]} vs {b[k]}" for k in keys if a[k] != b[k]]


def _features_section(cfg: Mapping[str, Any]) -> Mapping[str, Any]:
    if "features" in cfg and isinstance(cfg["features"], Mapping):
        return cfg["features"]
    return cfg


@dataclass
class FrameInfo:
    """Per-frame tracker outputs for the frames returned by the last ``push``.

    All arrays have shape [shape=(n,)]. Readable as attributes or as ``info["tempo"]``.
    """

    time: np.ndarray  # end of each frame's hop, s (model timeline)
    tempo: np.ndarray  # BPM
    is_beat: np.ndarray  # bool
    beat_in_bar: np.ndarray  # 1..beats_per_bar
    bar: np.ndarray
    confidence: np.ndarray
    next_beat_time: np.ndarray  # s
    beat_time: np.ndarray  # s, exact predicted time of the beat raised (NaN when none)
    onset: np.ndarray

    def __getitem__(self, key: str) -> np.ndarray:
        return getattr(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key, default)

    def __len__(self) -> int:
        return len(self.time)

    @staticmethod
    def concat(parts: list[FrameInfo]) -> FrameInfo:
        names = FrameInfo.__dataclass_fields__
        return FrameInfo(**{k: np.concatenate([getattr(p, k) for p in parts]) for k in names})


def _empty_info(n: int) -> FrameInfo:
    """FrameInfo for n frames (beat_time NaN, is_beat False; the rest is filled per frame)."""
    return FrameInfo(
        time=np.empty(n), tempo=np.empty(n, np.float32), is_beat=np.zeros(n, bool),
        beat_in_bar=np.zeros(n, np.int32), bar=np.zeros(n, np.int32),
        confidence=np.empty(n, np.float32), next_beat_time=np.empty(n),
        beat_time=np.full(n, np.nan), onset=np.empty(n, np.float32),
    )


POOL = 1024
"""Frames of one-frame pushes handed out from one allocation (FrameInfo fields, feature rows)."""


class _OnePool:
    """One-frame pushes' FrameInfo and feature row as views of arrays allocated once per
    POOL frames: nothing is allocated per frame, and a view handed out is never written
    again by the pool (a caller may keep it, as with a fresh array). The views and
    FrameInfo objects are made BATCH at a time (slicing in C)."""

    BATCH = 32

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self._i = self._made = POOL
        self._at = 0
        self._infos: list[FrameInfo] = []
        self._row_views: list[np.ndarray] = []

    def take(self) -> tuple[FrameInfo, np.ndarray]:
        i = self._i
        if i == POOL:
            self._info = _empty_info(POOL)
            self._fields = tuple(getattr(self._info, k) for k in FrameInfo.__dataclass_fields__)
            self._rows = np.empty((POOL, self.dim), np.float32)
            i = self._made = 0
        if i == self._made:
            j = min(POOL, i + self.BATCH)
            n = j - i
            self._infos = list(map(FrameInfo, *[list(a[i:j].reshape(n, 1)) for a in self._fields]))
            self._row_views = list(self._rows[i:j].reshape(n, 1, self.dim))
            self._at, self._made = i, j
        self._i = i + 1
        return self._infos[i - self._at], self._row_views[i - self._at]


def to_mono_float(samples: Any) -> np.ndarray:
    """Any of mono [n], frames x channels [n, c] (or [c, n] with c <= 8), int or float ->
    float32 mono [shape=(n,)] in [-1, 1] (integers scaled by their full range)."""
    x = np.asarray(samples)
    if x.dtype.kind == "i":
        x = x.astype(np.float32) / float(2 ** (8 * x.dtype.itemsize - 1))
    elif x.dtype.kind == "u":
        half = float(2 ** (8 * x.dtype.itemsize - 1))
        x = (x.astype(np.float32) - half) / half
    elif x.dtype.kind == "b":
        x = x.astype(np.float32)
    elif x.dtype.kind != "f":
        raise AudioError(f"audio samples of dtype {x.dtype} are not numbers; pass int16 or float arrays")
    if x.ndim == 2:
        if x.shape[1] <= 8 or x.shape[0] > 8:
            x = x.mean(axis=1, dtype=np.float32) if x.shape[1] > 1 else x[:, 0]
        else:
            x = x.mean(axis=0, dtype=np.float32)
    elif x.ndim != 1:
        raise AudioError(f"audio array of shape {x.shape} is not mono [n] or [n, channels]")
    return np.asarray(x, dtype=np.float32)


class StreamingFeatures:
    """Push audio, get feature frames (see the module docstring).

    Parameters
    ----------
    cfg: the ``[features]`` config section (a whole config also works).
    input_sr: sample rate of the pushed audio in Hz.

    Attributes: ``spec`` (FeatureSpec), ``tracker`` (OnlineBeatTracker), ``info``
    (FrameInfo of the last push), ``frames`` (frames made so far), ``nan_count``
    (non-finite input samples replaced so far).
    """

    def __init__(self, cfg: Mapping[str, Any], *, input_sr: int) -> None:
        if int(input_sr) <= 0:
            raise AudioError(f"input sample rate {input_sr} Hz is invalid; pass the device or file rate")
        self._cfg = dict(_features_section(cfg))
        self.spec = FeatureSpec.from_config(cfg)
        s = self.spec
        self.input_sr = int(input_sr)
        self.sr = s.sample_rate
        self.hop = s.hop
        self.n_fft = s.n_fft
        if s.fmax > self.sr / 2:
            raise ConfigError(f"features.fmax {s.fmax} Hz is above the Nyquist frequency {self.sr / 2} Hz")
        # The beat activation net hears the default 64-band mel; a configuration with other
        # mel bands gets those 64 bands as extra columns of the same matrix product.
        self._beat_extra = 0 if (s.n_mels, s.fmin, s.fmax) == BEAT_MEL else BEAT_MEL[0]
        self._fb, sparse, self._chroma_fb = _live_filters(self.sr, self.n_fft, s.n_mels, s.fmin, s.fmax,
                                                          s.tuning, beat_mel=self._beat_extra > 0)
        self._window = np.hanning(self.n_fft + 1)[:-1]  # periodic Hann, as librosa's 'hann'
        self._rfft = _RFFT if self.n_fft % 2 == 0 else _rfft_plain
        # the live path's filters: the mel bands as two weights per FFT bin (each bin lies in
        # at most two neighbouring triangles) summed per band segment, and the dense chroma
        # columns: ~120 kB read a frame instead of the whole stacked matrix (~620 kB)
        self._mel_sparse = None if sparse is None or self._beat_extra else _SparseMel(*sparse)
        self._resampler: Any = None
        if self.input_sr != self.sr:
            import soxr

            self._resampler = soxr.ResampleStream(self.input_sr, self.sr, 1, dtype="float32", quality="HQ")
            # [n, 1] float32 -> [m, 1]: the stream's own processing call (what resample_chunk
            # calls after checking the type and shape of an array that is always ours here)
            self._resample_col = getattr(self._resampler, "_process", self._resampler.resample_chunk)
        # stream state: the samples not yet consumed by a whole frame (primed with zeros)
        self._ring = np.zeros(self.n_fft + SMALL * self.hop)
        self._ring_frame = self._ring[: self.n_fft]
        self._clip_buf = np.zeros(CLIP_BUF, np.float32)
        self._clip_col = self._clip_buf.reshape(CLIP_BUF, 1)
        self._pos = self.n_fft - self.hop
        self._have_prev = False
        self._work = _Work(SMALL, self.n_fft, s.n_mels, self._beat_extra)  # live (few frames) path
        self._beat_db = np.zeros(max(self._beat_extra, 1))
        self._pw_row = self._work.pw[1]
        self._no_info = _empty_info(0)
        self._one = _OnePool(s.dim)
        self._sl = {name: s.slice(name) for name in s.names}
        tail = [self._sl[n] for n in ("tempo", "beat_phase", "beat_pulse", "bar_phase")]
        if [t.start for t in tail] != [tail[0].start, tail[0].start + 1, tail[0].start + 3, tail[0].start + 4]:
            raise ConfigError("feature layout: tempo, beat_phase, beat_pulse, bar_phase must be adjacent")
        self._beat_cols = slice(tail[0].start, tail[-1].stop)
        self._beat_at = 4 * tail[0].start  # byte offset of the beat columns in a float32 row
        self._mel_cols = self._sl["mel"]
        self._db_ref = 10.0 * math.log10(DB_REF)
        self.tracker = OnlineBeatTracker(
            fps=s.fps, beats_per_bar=s.beats_per_bar, min_bpm=s.min_bpm, max_bpm=s.max_bpm
        )
        self.frames = 0
        self.nan_count = 0
        self.info = _empty_info(0)
        spectral = [self._sl[n] for n in ("mel", "onset", "chroma", "rms")]
        self._flat_ok = spectral[0].start == 0 and all(a.stop == b.start for a, b in zip(spectral, spectral[1:]))
        # differences of [mel dB | onset | chroma | RMS | bass band powers] -> (onset, bass
        # flux) in one product
        self._sum2 = np.zeros((len(self._work.cur), 2))
        self._sum2[: s.n_mels, 0] = 1.0 / s.n_mels
        self._sum2[self._work.low_at:, 1] = 1.0

    @property
    def dim(self) -> int:
        return self.spec.dim

    @property
    def samples(self) -> int:
        """Samples at the model rate taken in so far (after resampling; those of a partial
        hop included)."""
        return self.frames * self.hop + self._pos - (self.n_fft - self.hop)

    def reset(self) -> None:
        """Start a new stream (same configuration)."""
        self.__init__(self._cfg, input_sr=self.input_sr)  # type: ignore[misc]

    def push(self, samples: Any) -> np.ndarray:
        """Feed a chunk of audio at ``input_sr``; return the frames it completed.

        samples: [shape=(n,)] or [shape=(n, channels)], int or float; any n >= 0.
        Returns float32 [shape=(k, dim)] (k may be 0); ``info`` describes those frames.
        """
        if type(samples) is np.ndarray and samples.dtype == np.float32 and samples.ndim == 1:
            x = samples  # what to_mono_float gives back for it, without its checks
        else:
            x = to_mono_float(samples)
        if not math.isfinite(float(x.dot(x))) and not np.isfinite(x).all():  # rare: NaN/inf inside
            bad = ~np.isfinite(x)
            self.nan_count += int(np.count_nonzero(bad))
            x = np.where(bad, np.float32(0.0), x)
        # clipped into a buffer of ours (the caller's samples stay intact); a live block
        # fits the preallocated one, whose contents are copied on before push returns
        n = len(x)
        if n <= CLIP_BUF:
            clipped = self._clip_buf[:n]
            _clip(x, _LO, _HI, out=clipped)
            if self._resampler is not None:  # [n, 1] in, [m, 1] out: soxr's own call without its reshapes
                clipped = self._resample_col(self._clip_col[:n], False)[:, 0]
        else:
            clipped = np.empty(n, np.float32)
            _clip(x, _LO, _HI, out=clipped)
            if self._resampler is not None:
                clipped = self._resampler.resample_chunk(clipped)
        return self._push_model_rate(clipped)

    def _push_model_rate(self, x: np.ndarray) -> np.ndarray:
        n_fft, hop, pos = self.n_fft, self.hop, self._pos
        total = pos + len(x)
        k = (total - n_fft) // hop + 1 if total >= n_fft else 0
        if k == 0:
            self._ring[pos:total] = x
            self._pos = total
            self.info = self._no_info
            return _NO_FRAMES[self.spec.dim]
        if k <= SMALL and total <= len(self._ring):  # the live path: a few hops, no big allocation
            stream = self._ring
            stream[pos:total] = x
            w = self._work
        else:  # one big push (a whole song): batches of CHUNK frames
            stream = np.empty(total)
            stream[:pos] = self._ring[:pos]
            stream[pos:] = x
            w = _Work(min(k, CHUNK), n_fft, self.spec.n_mels, self._beat_extra)
            w.prev[:] = self._work.prev
        if k == 1 and w is self._work:  # the usual live push: one hop, one frame
            info, out = self._one.take()
            row = out[0]
            onset, low = self._spectral_one(self._ring_frame, row, w)  # the ring's first n_fft samples
            self._pw_row = w.one[3]
            self._frame(row, info, 0, onset, low)
            k = 0  # done
        else:
            out = np.empty((k, self.spec.dim), np.float32)
            info = _empty_info(k)
        for c0 in range(0, k, CHUNK):
            c1 = min(k, c0 + CHUNK)
            frames = np.ndarray((c1 - c0, n_fft), np.float64, stream, c0 * hop * 8, (hop * 8, 8))
            self._spectral(frames, out[c0:c1], w)
            if c1 - c0 <= SMALL:
                for j in range(c1 - c0):
                    self._pw_row = w.pw[j + 1]
                    self._frame(out[c0 + j], info, c0 + j, float(w.onset[j]), float(w.low[j]))
                continue
            replay = self._batch_activation(out[c0:c1])
            try:
                self._track_batch(out[c0:c1], info, c0, w)
            finally:
                if replay is not None:
                    replay.finish()
        k = len(out)
        rest = total - k * hop
        self._ring[:rest] = stream[k * hop: total]
        self._pos = rest
        if w is not self._work:
            self._work.prev[:] = w.prev
        self.info = info
        return out

    def _batch_activation(self, rows: np.ndarray) -> _Replay | None:
        """The beat net over the mel frames of ``rows`` that the tracker will hear, in one
        onnxruntime call of the sequence copy of the net (``models/beats_seq.onnx``, made
        by ``python -m export.beats_seq``); the tracker then replays those probabilities
        instead of running the net frame by frame (the same numbers to about 1e-6, same
        features to 1e-7). None (frame by frame) when the copy is missing or stale, the
        tracker is not the plain OnlineBeatTracker or the net hears its own mel bands."""
        tr = self.tracker
        if self._beat_extra or type(tr) is not OnlineBeatTracker:
            return None
        act = tr.act
        seq = _sequence_session()
        if seq is None or not hasattr(act, "state"):
            return None
        sub = tr.fps // FPS_NET
        first = (-(tr.n + 2)) % sub  # rows j with (tr.n + 1 + j + 1) % sub == 0 are heard
        mels = np.ascontiguousarray(rows[first::sub, self._sl["mel"]], np.float32)
        if len(mels) == 0:
            return None
        h, prev = act.state()
        probs, h_out = seq.run(["p", "h_out"], {"mel": mels[None], "prev": prev[None], "h": h})
        return _Replay(tr, act, probs[0], h_out, mels[-1])

    def _spectral(self, frames: np.ndarray, out: np.ndarray, w: _Work) -> None:
        """Mel dB, onset, chroma and RMS of ``frames`` [shape=(k, n_fft)] into ``out``'s
        columns: one FFT call and one stacked mel+chroma matrix product for all k frames.
        ``w.prev`` holds the previous frame's mel dB and bass band powers (and gets this
        batch's last)."""
        k = len(frames)
        nm = self.spec.n_mels
        xw, spec, mag, pw, db, diff = w.xw[:k], w.spec[:k], w.mag[:k], w.pw[: k + 1], w.db[:k], w.diff[:k]
        pw[0, :LOW_BANDS] = w.prev[w.low_at:]
        onset, low, rms, cmax = w.onset[:k], w.low[:k], w.rms[:k], w.cmax[:k]
        np.multiply(frames, self._window, out=xw)
        np.fft.rfft(xw, axis=1, out=spec)
        np.abs(spec, out=mag)
        np.multiply(mag, mag, out=mag)
        np.matmul(mag, self._fb, out=pw[1:])
        mel = pw[:, :nm]
        np.maximum(mel[1:], AMIN, out=db)
        np.log10(db, out=db)
        np.multiply(db, 10.0, out=db)
        if DB_REF != 1.0:
            db -= 10.0 * math.log10(DB_REF)
        # onset: mean positive dB change to the previous frame; low: root of the bass power rise
        if k > 1:
            np.subtract(db[1:], db[:-1], out=diff[1:])
        np.subtract(db[0], w.prev_db, out=diff[0])
        np.maximum(diff, 0.0, out=diff)
        np.add.reduce(diff, axis=1, out=onset)
        np.multiply(onset, 1.0 / nm, out=onset)
        lowd = w.lowd[:k]
        np.subtract(mel[1:, :LOW_BANDS], mel[:-1, :LOW_BANDS], out=lowd)
        np.maximum(lowd, 0.0, out=lowd)
        np.add.reduce(lowd, axis=1, out=low)
        np.sqrt(low, out=low)
        if not self._have_prev:
            onset[0] = low[0] = 0.0
            self._have_prev = True
        w.prev_db[:] = db[k - 1]
        w.prev[w.low_at:] = pw[k, :LOW_BANDS]
        chroma = w.chroma[:k]
        cpw = pw[1:, nm: nm + N_CHROMA]
        np.maximum.reduce(cpw, axis=1, out=cmax)
        np.maximum(cmax, AMIN, out=w.cdiv[:k])
        np.divide(cpw, w.cdiv[:k, None], out=chroma)
        if k == 1:
            rms[0] = np.dot(frames[0], frames[0])
            if cmax[0] <= AMIN:
                chroma[0] = 0.0
        else:
            np.einsum("ij,ij->i", frames, frames, out=rms)
            chroma[cmax <= AMIN] = 0.0
        np.multiply(rms, 1.0 / self.n_fft, out=rms)
        np.sqrt(rms, out=rms)
        sl = self._sl
        out[:, sl["mel"]] = db
        out[:, sl["onset"].start] = onset
        out[:, sl["chroma"]] = chroma
        out[:, sl["rms"].start] = rms

    def _spectral_one(self, frame: np.ndarray, row: np.ndarray, w: _Work) -> tuple[float, float]:
        """:meth:`_spectral` for one frame in preallocated buffers with few numpy calls (the
        same maths; a test holds it to the batched path). ``w.cur`` holds this frame's
        [mel dB | onset | chroma | RMS | bass band powers] in float64, ``w.prev`` the
        previous frame's: the onset and the bass flux come from one product over their
        difference, and the spectral columns go into ``row`` in one copy. Returns (onset,
        bass flux)."""
        nm = self.spec.n_mels
        # the buffers' views made once (_Work.one); scalars as 0-d float64 arrays (a Python
        # float argument costs each ufunc call ~0.8 us of scalar discovery, same numbers)
        xw, spec, mag, pw, cur, diff, db, pw_mel, pw_chroma, cur_low, chroma, cur_spectral, pw_low = w.one
        np.multiply(frame, self._window, xw)
        self._rfft(xw, spec)
        np.abs(spec, mag)
        np.multiply(mag, mag, mag)
        sparse = self._mel_sparse
        if sparse is None:
            mag.dot(self._fb, pw)
        else:
            sparse.apply(mag, pw_mel)
            mag.dot(self._chroma_fb, pw_chroma)
        np.maximum(pw_mel, _AMIN0, db)
        np.log10(db, db)
        np.multiply(db, _TEN0, db)
        if DB_REF != 1.0:
            np.subtract(db, self._db_ref, db)
        cur_low[...] = pw_low
        if self._have_prev:
            np.subtract(cur, w.prev, diff)
            np.maximum(diff, _ZERO0, diff)
            diff.dot(self._sum2, w.two)
            onset, low = w.two.tolist()
            low = math.sqrt(low)
        else:
            onset = low = 0.0
            self._have_prev = True
        cur[nm] = onset
        cmax = max(pw_chroma.tolist())
        if cmax > AMIN:
            c0 = w.c0
            c0[()] = cmax
            np.divide(pw_chroma, c0, chroma)
        else:
            chroma[:] = 0.0
        cur[nm + 1 + N_CHROMA] = math.sqrt(float(frame.dot(frame)) / self.n_fft)
        w.prev[...] = cur
        if self._flat_ok:
            row[: w.low_at] = cur_spectral
        else:
            sl = self._sl
            row[sl["mel"]] = db
            row[sl["onset"].start] = onset
            row[sl["chroma"]] = chroma
            row[sl["rms"].start] = cur[nm + 1 + N_CHROMA]
        return onset, low

    def _frame(self, row: np.ndarray, info: FrameInfo, k: int, onset: float, low: float) -> None:
        """The beat-tracker part of one frame: step the tracker, write its columns of ``row``
        and ``info[k]`` (the spectral columns are already in ``row``)."""
        tr = self.tracker
        if self._beat_extra:  # the beat net's own 64 bands (a non-default mel configuration)
            bdb = self._beat_db
            np.maximum(self._pw_row[self.spec.n_mels + N_CHROMA:], AMIN, out=bdb)
            np.log10(bdb, out=bdb)
            bdb *= 10.0
            bdb -= self._db_ref
            tr.step(onset, low, bdb)
        else:
            tr.step(onset, low, row[self._mel_cols])
        ph = 2.0 * math.pi * tr.phase
        cos_ph = math.cos(ph)
        bar_ph = 2.0 * math.pi * ((max(tr.beat_in_bar, 1) - 1 + tr.phase) / tr.beats_per_bar)
        # the six beat columns as float32 straight into the row (the cast numpy's assignment does)
        _PACK6(row, self._beat_at, tr.tempo / 200.0, math.sin(ph), cos_ph,  # type: ignore[arg-type]
               ((1.0 + cos_ph) * 0.5) ** 4, math.sin(bar_ph), math.cos(bar_ph))
        self.frames += 1
        info.time[k] = self.frames * self.hop / self.sr
        info.tempo[k] = tr.tempo
        info.is_beat[k] = tr.is_beat
        info.beat_in_bar[k] = tr.beat_in_bar
        info.bar[k] = tr.bar
        info.confidence[k] = tr.confidence
        info.next_beat_time[k] = tr.next_beat_time
        if tr.is_beat:
            info.beat_time[k] = tr.beat_time
        info.onset[k] = onset

    def _track_batch(self, rows: np.ndarray, info: FrameInfo, at: int, w: _Work) -> None:
        """:meth:`_frame` for a batch of frames [shape=(n, dim)] (their spectral columns
        already there, onset and bass flux in ``w``): the tracker steps frame by frame and
        its readings are collected in lists; the beat columns of ``rows`` and ``info[at:at
        + n]`` are then written with a few array operations (the same values as
        :meth:`_frame` to float rounding)."""
        tr = self.tracker
        step = tr.step
        n = len(rows)
        if self._beat_extra:  # the beat net's own 64 bands (a non-default mel configuration)
            nb = self.spec.n_mels + N_CHROMA
            mel = np.maximum(w.pw[1: n + 1, nb:], AMIN)
            np.log10(mel, out=mel)
            mel *= 10.0
            mel -= self._db_ref
        else:
            mel = rows[:, self._sl["mel"]]
        mels = list(mel)
        onsets, lows = w.onset[:n].tolist(), w.low[:n].tolist()
        tempo: list[float] = []
        phase: list[float] = []
        bib: list[int] = []
        bpb: list[int] = []
        bar: list[int] = []
        conf: list[float] = []
        nxt: list[float] = []
        beats: list[int] = []
        beat_t: list[float] = []
        for j in range(n):
            step(onsets[j], lows[j], mels[j])
            tempo.append(tr.tempo)
            phase.append(tr.phase)
            bib.append(tr.beat_in_bar)
            bpb.append(tr.beats_per_bar)
            bar.append(tr.bar)
            conf.append(tr.confidence)
            nxt.append(tr.next_beat_time)
            if tr.is_beat:
                beats.append(j)
                beat_t.append(tr.beat_time)
        ph = np.asarray(phase)
        a = ph * (2.0 * math.pi)
        cos_ph = np.cos(a)
        tempo_a = np.asarray(tempo)
        b = np.maximum(np.asarray(bib, np.float64), 1.0)
        b -= 1.0
        b += ph
        b /= np.asarray(bpb, np.float64)
        b *= 2.0 * math.pi
        cols = rows[:, self._beat_cols]
        cols[:, 0] = tempo_a / 200.0
        cols[:, 1] = np.sin(a)
        cols[:, 2] = cos_ph
        cols[:, 3] = ((1.0 + cos_ph) * 0.5) ** 4
        cols[:, 4] = np.sin(b)
        cols[:, 5] = np.cos(b)
        sl = slice(at, at + n)
        info.time[sl] = np.arange(self.frames + 1, self.frames + n + 1) * self.hop / self.sr
        self.frames += n
        info.tempo[sl] = tempo_a
        info.beat_in_bar[sl] = bib
        info.bar[sl] = bar
        info.confidence[sl] = conf
        info.next_beat_time[sl] = nxt
        info.onset[sl] = onsets
        if beats:
            idx = np.asarray(beats) + at
            info.is_beat[idx] = True
            info.beat_time[idx] = beat_t


class _Replay:
    """Stands in for the tracker's BeatActivation during a batch: ``step`` hands back the
    precomputed probabilities in order; ``finish`` puts the real net back with the state it
    would have after those steps (GRU state, previous mel frame)."""

    def __init__(self, tracker: Any, act: Any, probs: np.ndarray, h_out: np.ndarray, last_mel: np.ndarray) -> None:
        self._tracker, self._act = tracker, act
        self._rows = probs
        self._h_out, self._last = h_out, last_mel
        self._i = 0
        self.n_mels = act.n_mels
        tracker.act = self

    def step(self, mel_db: np.ndarray) -> np.ndarray:
        row = self._rows[self._i]
        self._i += 1
        return row

    def finish(self) -> None:
        act = self._act
        self._tracker.act = act
        if self._i == len(self._rows):  # else the push failed part way: it raises its own error
            act.set_state(self._h_out, self._last)


_LO, _HI = np.array(-1.0, np.float32), np.array(1.0, np.float32)
_AMIN0, _TEN0, _ZERO0 = np.array(AMIN), np.array(10.0), np.array(0.0)
"""The one-frame path's ufunc scalars as 0-d float64 arrays (read-only)."""
for _a in (_AMIN0, _TEN0, _ZERO0):
    _a.flags.writeable = False
_PACK6 = struct.Struct("=6f").pack_into


def _clip_ufunc() -> Any:
    """``f(x, lo, hi, out=)``: numpy's clip ufunc (one call, ~0.3x the CPU of maximum then
    minimum on a live block) when this numpy has it and it gives their numbers, else those two."""

    def two(x: np.ndarray, lo: np.ndarray, hi: np.ndarray, *, out: np.ndarray) -> None:
        np.maximum(x, lo, out=out)
        np.minimum(out, hi, out=out)

    try:
        from numpy._core import umath

        ufunc = umath.clip  # type: ignore[attr-defined]
        x = np.array([-3.0, -1.0, -0.5, 0.0, 0.25, 1.0, 2.0, np.inf, -np.inf], np.float32)
        got, want = np.zeros_like(x), np.zeros_like(x)
        ufunc(x, _LO, _HI, out=got)
        two(x, _LO, _HI, out=want)
        if np.array_equal(got, want):
            return ufunc
    except Exception:  # noqa: BLE001 - a numpy without it (private module): the public calls
        pass
    return two


_clip = _clip_ufunc()


def _rfft_plain(x: np.ndarray, out: np.ndarray) -> None:
    np.fft.rfft(x, out=out)


def _rfft_into() -> Any:
    """``f(x, out)``: the real FFT of float64 ``x`` (even length) into complex128 ``out``,
    without ``np.fft.rfft``'s argument handling (~5 us a call): numpy's pocketfft ufunc
    when this numpy has it and it gives np.fft.rfft's numbers bit for bit, else rfft."""
    plain = _rfft_plain
    try:
        from numpy.fft import _pocketfft_umath as pfu  # type: ignore[attr-defined]

        ufunc = pfu.rfft_n_even

        def direct(x: np.ndarray, out: np.ndarray) -> None:
            ufunc(x, 1.0, out=out)

        x = np.random.default_rng(0).standard_normal(64)
        got = np.zeros(33, np.complex128)
        direct(x, got)
        if np.array_equal(got, np.fft.rfft(x)):
            return direct
    except Exception:  # noqa: BLE001 - a numpy without it (private module): the public call
        pass
    return plain


_RFFT = _rfft_into()
_SEQ: dict[str, Any] = {}


def _sequence_session() -> Any:
    """The onnxruntime session of ``models/beats_seq.onnx`` when it is the sequence copy of
    the current ``models/beats.onnx`` (checked by hash once per process), else None."""
    if "s" in _SEQ:
        return _SEQ["s"]
    _SEQ["s"] = None
    import hashlib
    import logging

    from model.beat_act import DEFAULT_MODEL

    path = DEFAULT_MODEL.with_name("beats_seq.onnx")
    if not path.is_file():
        return None
    try:
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        so.inter_op_num_threads = 1
        so.log_severity_level = 3
        sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        want = sess.get_modelmeta().custom_metadata_map.get("dancemuse_beats_source_sha256")
        if want != hashlib.sha256(DEFAULT_MODEL.read_bytes()).hexdigest():
            logging.getLogger("dancemuse.features").warning(
                "%s was not made from the current %s; the beat net runs frame by frame "
                "(python -m export.beats_seq remakes it)", path.name, DEFAULT_MODEL.name)
            return None
    except Exception:  # noqa: BLE001 - onnxruntime raises its own types; frame by frame works
        return None
    _SEQ["s"] = sess
    return sess


class _SparseMel:
    """Mel band powers from a power spectrum with a triangular filterbank stored as two
    weights per FFT bin: bin ``k`` (of those with any weight) belongs to segment ``j(k)``
    (non-decreasing in k), with weight ``b[k]`` in band ``j`` and ``a[k]`` in band ``j - 1``;
    band ``m`` = (sum of b p over segment m) + (sum of a p over segment m + 1). Two ufunc
    calls and an add on preallocated buffers (the same sums as the dense product up to
    float64 rounding)."""

    def __init__(self, k0: int, k1: int, weights: np.ndarray, starts: np.ndarray) -> None:
        self.k0, self.k1 = k0, k1
        self.weights = weights  # [2, k1 - k0]: rows b, a
        self.starts = starts  # [n_mels + 1] first bin (from k0) of each segment
        self.n_mels = len(starts) - 1
        self._t = np.zeros_like(weights)
        self._s = np.zeros((2, len(starts)))
        self._s_lo, self._s_hi = self._s[0, : self.n_mels], self._s[1, 1:]

    @classmethod
    def build(cls, fb: np.ndarray) -> _SparseMel | None:
        """From the dense filters [shape=(n_bins, n_mels)]; None when they are not
        triangles of that kind (then the caller keeps the dense product)."""
        n_mels = fb.shape[1]
        nz = fb != 0.0
        used = np.nonzero(nz.any(axis=1))[0]
        if len(used) == 0 or n_mels < 2:
            return None
        k0, k1 = int(used[0]), int(used[-1]) + 1
        sub, nzs = fb[k0:k1], nz[k0:k1]
        count = nzs.sum(axis=1)
        if count.max() > 2:
            return None
        first = np.argmax(nzs, axis=1)  # lowest band of each bin (0 where none)
        bins = np.arange(k0, k1)
        # a bin in two bands (b, b + 1) is in segment b + 1; in one band b, segment b on
        # its rising side (up to the band's peak) and b + 1 on its falling side
        rising = bins <= np.argmax(fb, axis=0)[first]
        seg = np.where(count == 2, first + 1, np.where(rising, first, first + 1))
        seg = np.where(count == 0, 0, seg)
        seg = np.maximum.accumulate(seg)  # a bin in no band joins the segment before it
        steps = np.diff(seg)
        if seg[0] != 0 or seg[-1] != n_mels or steps.min(initial=0) < 0 or steps.max(initial=0) > 1:
            return None  # every segment 0..n_mels must hold at least one bin
        rows = np.arange(k1 - k0)
        w = np.zeros((2, k1 - k0))
        w[0] = np.where(seg < n_mels, sub[rows, np.minimum(seg, n_mels - 1)], 0.0)
        w[1] = np.where(seg > 0, sub[rows, np.maximum(seg - 1, 0)], 0.0)
        dense = np.zeros_like(sub)
        top, low = seg < n_mels, seg > 0
        dense[rows[top], seg[top]] = w[0, top]
        dense[rows[low], seg[low] - 1] = w[1, low]
        if not np.array_equal(dense, sub):
            return None
        starts = np.searchsorted(seg, np.arange(n_mels + 1)).astype(np.intp)
        return cls(k0, k1, w, starts)

    def layout(self) -> tuple[int, int, np.ndarray, np.ndarray]:
        """What the constructor takes (shared between extractors; the buffers are not)."""
        return self.k0, self.k1, self.weights, self.starts

    def apply(self, power: np.ndarray, out: np.ndarray) -> None:
        """power [shape=(n_bins,)] float64 -> band powers into ``out`` [shape=(n_mels,)]."""
        t, s = self._t, self._s
        np.multiply(power[self.k0: self.k1], self.weights, t)  # outputs positional: no keyword parsing
        np.add.reduceat(t, self.starts, 1, None, s)
        np.add(self._s_lo, self._s_hi, out)


class _Work:
    """Preallocated buffers for ``k`` frames of :meth:`StreamingFeatures._spectral`."""

    def __init__(self, k: int, n_fft: int, n_mels: int, extra: int = 0) -> None:
        nb = n_fft // 2 + 1
        self.xw = np.zeros((k, n_fft))
        self.spec = np.zeros((k, nb), np.complex128)
        self.mag = np.zeros((k, nb))
        self.pw = np.zeros((k + 1, n_mels + N_CHROMA + extra))
        self.db = np.zeros((k, n_mels))
        self.diff = np.zeros((k, n_mels))
        # the previous frame's [mel dB | onset | chroma | RMS | bass band powers] (the
        # stream state that both paths carry: mel dB and bass powers) and this frame's
        self.low_at = n_mels + 1 + N_CHROMA + 1
        self.prev = np.zeros(self.low_at + LOW_BANDS)
        self.prev_db = self.prev[:n_mels]
        self.cur = np.zeros_like(self.prev)
        self.cur_diff = np.zeros_like(self.prev)
        self.two = np.zeros(2)
        self.chroma = np.zeros((k, N_CHROMA))
        self.lowd = np.zeros((k, LOW_BANDS))
        self.onset, self.low, self.rms, self.cmax, self.cdiv = (np.zeros(k) for _ in range(5))
        self.c0 = np.zeros(())  # a frame's chroma maximum, as a 0-d array
        # the one-frame path's views (StreamingFeatures._spectral_one)
        self.one = (self.xw[0], self.spec[0], self.mag[0], self.pw[1], self.cur, self.cur_diff,
                    self.cur[:n_mels], self.pw[1, :n_mels], self.pw[1, n_mels: n_mels + N_CHROMA],
                    self.cur[self.low_at:], self.cur[n_mels + 1: n_mels + 1 + N_CHROMA], self.cur[: self.low_at],
                    self.pw[1, :LOW_BANDS])


@functools.lru_cache(maxsize=8)
def _live_filters(sr: int, n_fft: int, n_mels: int, fmin: float, fmax: float, tuning: float, *, beat_mel: bool
                  ) -> tuple[np.ndarray, tuple[int, int, np.ndarray, np.ndarray] | None, np.ndarray]:
    """:func:`_stacked_filters`, the sparse layout of its mel columns (:class:`_SparseMel`,
    None without one) and its chroma columns, made once per configuration per process
    (read-only: extractors share them)."""
    fb = _stacked_filters(sr, n_fft, n_mels, fmin, fmax, tuning, beat_mel=beat_mel)
    sparse = _SparseMel.build(fb[:, :n_mels])
    layout = None if sparse is None else sparse.layout()
    chroma = np.ascontiguousarray(fb[:, n_mels: n_mels + N_CHROMA])
    for a in (fb, chroma, *(layout[2:] if layout else ())):
        a.flags.writeable = False
    return fb, layout, chroma


def _stacked_filters(
    sr: int, n_fft: int, n_mels: int, fmin: float, fmax: float, tuning: float, *, beat_mel: bool = False
) -> np.ndarray:
    """[mel; chroma] (plus, with ``beat_mel``, the beat net's default mel bands) as one
    float64 matrix, transposed for ``power @ fb`` [shape=(1 + n_fft // 2, n_mels + 12 [+ 64])]."""
    parts = [mel_filterbank(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax),
             chroma_filterbank(sr=sr, n_fft=n_fft, n_chroma=N_CHROMA, tuning=tuning)]
    if beat_mel:
        nb, lo, hi = BEAT_MEL
        parts.append(mel_filterbank(sr=sr, n_fft=n_fft, n_mels=nb, fmin=lo, fmax=hi))
    return np.ascontiguousarray(np.concatenate(parts).astype(np.float64).T)


_NO_FRAMES: dict[int, np.ndarray] = _NoFrames()  # type: ignore[assignment]


def extract_features(
    samples: Any, *, sr: int, cfg: Mapping[str, Any] | None = None
) -> tuple[np.ndarray, FrameInfo]:
    """Features of a whole recording: the streaming class fed it in one go.

    samples: [shape=(n,)] or [shape=(n, channels)] at ``sr`` Hz.
    cfg: ``[features]`` section (default: the schema defaults).
    Returns features float32 [shape=(t, dim)] and the FrameInfo of all frames.
    """
    if cfg is None:
        from model.config import defaults

        cfg = defaults()["features"]
    sf = StreamingFeatures(cfg, input_sr=sr)
    feats = sf.push(samples)
    return feats, sf.info


def load_audio(path: str | Path) -> tuple[np.ndarray, int]:
    """Read an audio file as float32 mono; AudioError with one line if it cannot be read."""
    p = Path(path)
    if not p.exists():
        raise AudioError(f"audio file {p} not found; pass an existing .wav/.flac/.ogg/.mp3 file")
    if p.is_dir():
        raise AudioError(f"{p} is a folder; pass an audio file")
    try:
        import soundfile as sf

        data, sr = sf.read(str(p), dtype="float32", always_2d=True)
        return to_mono_float(data), int(sr)
    except Exception as first:  # noqa: BLE001 - soundfile raises several types
        decoded = _ffmpeg_decode(p)
        if decoded is None:
            why = (str(first).splitlines() or [""])[0][:120] or type(first).__name__
            raise AudioError(
                f"cannot read audio file {p} ({why}); it is damaged or in a format neither soundfile nor "
                "ffmpeg decodes: check that it plays, or convert it to WAV or FLAC"
            ) from None
        return decoded


def _ffmpeg_exe() -> str | None:
    """imageio-ffmpeg's ffmpeg if installed, else ``ffmpeg`` on PATH, else None."""
    try:
        import imageio_ffmpeg

        return str(imageio_ffmpeg.get_ffmpeg_exe())
    except Exception:  # noqa: BLE001 - not installed, or its binary is missing
        import shutil

        return shutil.which("ffmpeg")


def _ffmpeg_decode(p: Path) -> tuple[np.ndarray, int] | None:
    """Decode what soundfile cannot (mp3, m4a, ...) with ffmpeg at the file's own rate, as
    float32 mono; None when there is no ffmpeg or it cannot read the file."""
    import re
    import subprocess

    exe = _ffmpeg_exe()
    if exe is None:
        return None
    try:
        probe = subprocess.run([exe, "-hide_banner", "-i", str(p)], capture_output=True, text=True, timeout=60)
        m = re.search(r"Audio:.*?(\d+) Hz", probe.stderr)
        if m is None:
            return None
        sr = int(m.group(1))
        run = subprocess.run([exe, "-hide_banner", "-loglevel", "error", "-i", str(p), "-vn", "-ac", "1",
                              "-ar", str(sr), "-f", "f32le", "pipe:1"], capture_output=True, timeout=600)
    except (OSError, subprocess.SubprocessError):
        return None
    if run.returncode != 0 or len(run.stdout) < 4:
        return None
    return np.frombuffer(run.stdout, np.float32, len(run.stdout) // 4).copy(), sr


def extract_file(path: str | Path, cfg: Mapping[str, Any] | None = None) -> tuple[np.ndarray, FrameInfo]:
    """Features of an audio file (``cfg``: the config or its ``[features]`` section)."""
    y, sr = load_audio(path)
    if len(y) == 0:
        raise AudioError(f"audio file {path} holds no samples; pass a file with sound")
    return extract_features(y, sr=sr, cfg=None if cfg is None else _features_section(cfg))
