"""Is a decoded file music? Refuse non-audio input by its content, not its extension.

Decoders are lenient: ffmpeg or mpg123 turn an executable renamed ``.mp3`` into a few
milliseconds of noise, and a text file into nothing. ``check_decoded`` looks at what came
out (duration, sample rate, finite samples) and raises AudioError with one line naming
the file. ``quiet_stderr`` keeps a C decoder's own complaints (written straight to file
descriptor 2) off the terminal while it runs, so the user sees our one line only.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from model.errors import AudioError

MIN_SECONDS = 0.5
"""Shortest file accepted as a song (one bar of music is longer)."""
SAMPLE_RATE_RANGE = (4000, 384000)
"""Sample rates a real recording has."""


def check_decoded(samples: np.ndarray, sample_rate: int, path: str | Path, *,
                  min_seconds: float = MIN_SECONDS) -> np.ndarray:
    """Return ``samples`` if they look like audio, else raise AudioError (one line).

    samples: [shape=(n,)] or [shape=(n, channels)] decoded from ``path``.
    """
    a = np.asarray(samples)
    lo, hi = SAMPLE_RATE_RANGE
    if not lo <= int(sample_rate) <= hi:
        raise AudioError(f"{path} decodes at {sample_rate} Hz, not an audio sample rate ({lo}..{hi} Hz); "
                         "is it really an audio file? convert it to WAV or FLAC")
    if a.size == 0:
        raise AudioError(f"audio file {path} holds no samples; pass a file with sound")
    seconds = a.shape[0] / float(sample_rate)
    if seconds < min_seconds:
        raise AudioError(f"{path} decodes to {1000 * seconds:.0f} ms of audio (under {min_seconds:g} s); "
                         "it is not a song or it is damaged; pass a real audio file")
    if not np.issubdtype(a.dtype, np.number):
        raise AudioError(f"{path} does not decode to audio samples; pass a real audio file")
    finite = np.isfinite(a)
    if not finite.all():
        share = 1.0 - float(finite.mean())
        raise AudioError(f"{path} decodes to {100 * share:.1f}% NaN or infinite samples; it is damaged or not audio")
    return samples


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """Point file descriptor 2 at /dev/null for the duration (C decoders print there)."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no real fd 2 (embedded, captured)
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def read_checked(path: str | Path, *, min_seconds: float = MIN_SECONDS) -> tuple[np.ndarray, int]:
    """An audio file as float32 mono and its rate, through ``model.features.load_audio``
    (soundfile, then ffmpeg; the decoders' own complaints kept off the terminal) and checked
    (``check_decoded``): the one reader of `live --input`, `generate` checks and the evaluation."""
    from model.features import load_audio

    with quiet_stderr():
        y, sr = load_audio(path)
    check_decoded(y, int(sr), path, min_seconds=min_seconds)
    return y, int(sr)


def check_audio_files(paths: list[str | Path], *, min_seconds: float = MIN_SECONDS) -> None:
    """Decode each file and check it (``check_decoded``) before any long work starts.
    Raises AudioError (one line) naming the first file that is not usable audio."""
    for p in paths:
        read_checked(p, min_seconds=min_seconds)
