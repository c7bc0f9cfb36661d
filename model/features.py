"""Streaming music features, the same for training and live (numpy + librosa filters).

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

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from model.beats import OnlineBeatTracker
from model.constants import DB_REF, N_CHROMA, SAMPLE_RATE, hop_length
from model.errors import AudioError, ConfigError

AMIN = 1e-10
"""Power floor before the log (-100 dB)."""
LOW_BANDS = 8
"""Lowest mel bands (30..~430 Hz) whose energy flux the beat tracker weighs most (kick)."""
FORMAT_VERSION = 1


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
    return FrameInfo(
        time=np.empty(n), tempo=np.empty(n, np.float32), is_beat=np.zeros(n, bool),
        beat_in_bar=np.zeros(n, np.int32), bar=np.zeros(n, np.int32),
        confidence=np.empty(n, np.float32), next_beat_time=np.empty(n),
        beat_time=np.full(n, np.nan), onset=np.empty(n, np.float32),
    )


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
        import librosa  # filters only

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
        self._mel_fb = librosa.filters.mel(
            sr=self.sr, n_fft=self.n_fft, n_mels=s.n_mels, fmin=s.fmin, fmax=s.fmax
        ).astype(np.float64)
        self._chroma_fb = librosa.filters.chroma(
            sr=self.sr, n_fft=self.n_fft, n_chroma=N_CHROMA, tuning=s.tuning
        ).astype(np.float64)
        self._window = np.hanning(self.n_fft + 1)[:-1]  # periodic Hann, as librosa's 'hann'
        self._resampler: Any = None
        if self.input_sr != self.sr:
            import soxr

            self._resampler = soxr.ResampleStream(self.input_sr, self.sr, 1, dtype="float32", quality="HQ")
        # per-frame buffers (no allocation in the frame loop)
        nb = self.n_fft // 2 + 1
        self._ring = np.zeros(self.n_fft)
        self._fill = self.n_fft - self.hop  # samples of the current hop still missing -> start
        self._pos = self.n_fft - self.hop
        self._xw = np.zeros(self.n_fft)
        self._spec = np.zeros(nb, np.complex128)
        self._pow = np.zeros(nb)
        self._tmp = np.zeros(nb)
        self._mel = np.zeros(s.n_mels)
        self._db = np.zeros(s.n_mels)
        self._prev_db = np.zeros(s.n_mels)
        self._diff = np.zeros(s.n_mels)
        self._chroma = np.zeros(N_CHROMA)
        self._low = np.zeros(LOW_BANDS)
        self._prev_low = np.zeros(LOW_BANDS)
        self._have_prev = False
        self._sl = {name: s.slice(name) for name in s.names}
        self.tracker = OnlineBeatTracker(
            fps=s.fps, beats_per_bar=s.beats_per_bar, min_bpm=s.min_bpm, max_bpm=s.max_bpm
        )
        self.frames = 0
        self.nan_count = 0
        self.info = _empty_info(0)

    @property
    def dim(self) -> int:
        return self.spec.dim

    def reset(self) -> None:
        """Start a new stream (same configuration)."""
        self.__init__(self._cfg, input_sr=self.input_sr)  # type: ignore[misc]

    def push(self, samples: Any) -> np.ndarray:
        """Feed a chunk of audio at ``input_sr``; return the frames it completed.

        samples: [shape=(n,)] or [shape=(n, channels)], int or float; any n >= 0.
        Returns float32 [shape=(k, dim)] (k may be 0); ``info`` describes those frames.
        """
        x = to_mono_float(samples)
        bad = ~np.isfinite(x)
        nbad = int(np.count_nonzero(bad))
        if nbad:
            self.nan_count += nbad
            x = np.where(bad, np.float32(0.0), x)
        x = np.clip(x, -1.0, 1.0)
        if self._resampler is not None:
            x = self._resampler.resample_chunk(x)
        return self._push_model_rate(x)

    def _push_model_rate(self, x: np.ndarray) -> np.ndarray:
        hop = self.hop
        k_max = (len(x) + (self._pos - (self.n_fft - self.hop))) // hop + 1
        out = np.empty((k_max, self.spec.dim), np.float32)
        info = _empty_info(k_max)
        k = 0
        i = 0
        ring = self._ring
        n = len(x)
        while i < n:
            take = min(self.n_fft - self._pos, n - i)
            ring[self._pos: self._pos + take] = x[i: i + take]
            self._pos += take
            i += take
            if self._pos == self.n_fft:
                self._frame(out[k], info, k)
                k += 1
                ring[: self.n_fft - hop] = ring[hop:]
                self._pos = self.n_fft - hop
        self.info = FrameInfo(**{f: getattr(info, f)[:k] for f in FrameInfo.__dataclass_fields__})
        return out[:k]

    def _frame(self, row: np.ndarray, info: FrameInfo, k: int) -> None:
        """Compute one frame from the ring into ``row`` (no allocation)."""
        s = self._sl
        np.multiply(self._ring, self._window, out=self._xw)
        np.fft.rfft(self._xw, out=self._spec)
        np.abs(self._spec, out=self._tmp)
        np.multiply(self._tmp, self._tmp, out=self._pow)
        np.dot(self._mel_fb, self._pow, out=self._mel)
        np.maximum(self._mel, AMIN, out=self._mel)
        np.log10(self._mel, out=self._db)
        self._db *= 10.0
        self._db -= 10.0 * math.log10(DB_REF)
        if self._have_prev:
            np.subtract(self._db, self._prev_db, out=self._diff)
            np.maximum(self._diff, 0.0, out=self._diff)
            onset = float(self._diff.mean())
            np.subtract(self._mel[:LOW_BANDS], self._prev_low, out=self._low)
            np.maximum(self._low, 0.0, out=self._low)
            low = math.sqrt(float(self._low.sum()))
        else:
            onset = low = 0.0
            self._have_prev = True
        self._prev_db[:] = self._db
        self._prev_low[:] = self._mel[:LOW_BANDS]
        np.dot(self._chroma_fb, self._pow, out=self._chroma)
        cmax = float(self._chroma.max())
        if cmax > AMIN:
            self._chroma /= cmax
        else:
            self._chroma[:] = 0.0
        rms = math.sqrt(float(np.dot(self._ring, self._ring)) / self.n_fft)
        tr = self.tracker
        tr.step(onset, low)
        row[s["mel"]] = self._db
        row[s["onset"]] = onset
        row[s["chroma"]] = self._chroma
        row[s["rms"]] = rms
        row[s["tempo"]] = tr.tempo / 200.0
        ph = 2.0 * math.pi * tr.phase
        row[s["beat_phase"]] = (math.sin(ph), math.cos(ph))
        row[s["beat_pulse"]] = ((1.0 + math.cos(ph)) * 0.5) ** 4
        bpb = tr.beats_per_bar
        bar_ph = 2.0 * math.pi * ((max(tr.beat_in_bar, 1) - 1 + tr.phase) / bpb)
        row[s["bar_phase"]] = (math.sin(bar_ph), math.cos(bar_ph))
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
        try:
            import warnings

            import librosa

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                y, sr = librosa.load(str(p), sr=None, mono=True)
            return np.asarray(y, np.float32), int(sr)
        except Exception:  # noqa: BLE001
            raise AudioError(
                f"cannot read audio file {p} ({type(first).__name__}); convert it to WAV or FLAC"
            ) from None


def extract_file(path: str | Path, cfg: Mapping[str, Any] | None = None) -> tuple[np.ndarray, FrameInfo]:
    """Features of an audio file (``cfg``: the config or its ``[features]`` section)."""
    y, sr = load_audio(path)
    if len(y) == 0:
        raise AudioError(f"audio file {path} holds no samples; pass a file with sound")
    return extract_features(y, sr=sr, cfg=None if cfg is None else _features_section(cfg))
