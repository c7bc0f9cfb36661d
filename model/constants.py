"""Audio and motion constants, in one place.

Frame rates are derived from the model sample rate with an exact-division check, so a
hop is always a whole number of samples and one audio clock drives every frame.
"""

from __future__ import annotations

from model.errors import ConfigError

SAMPLE_RATE = 24_000
"""Model sample rate in Hz: every audio source is resampled to this."""

SUPPORTED_FPS = (30, 60)
"""Pose frame rates a model may run at."""

N_FFT = 2048
"""STFT window in samples at SAMPLE_RATE (85 ms)."""

N_MELS = 64
"""Mel bands in the log-mel feature."""

N_CHROMA = 12

DB_REF = 1.0
"""Fixed reference for power_to_db (never per-block: streaming and offline must agree)."""

BEATS_PER_BAR = 4


def hop_length(fps: int, *, sample_rate: int = SAMPLE_RATE) -> int:
    """Samples per pose frame for ``fps`` at ``sample_rate``; refuses rates that do not divide."""
    if fps not in SUPPORTED_FPS:
        raise ConfigError(f"fps {fps} is not supported; use one of {SUPPORTED_FPS}")
    if sample_rate % fps:
        raise ConfigError(f"sample rate {sample_rate} Hz is not a whole multiple of fps {fps}")
    return sample_rate // fps
