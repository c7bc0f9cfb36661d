"""The unit of output: one pose frame, made by the engine for every hop of audio."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(slots=True)
class Frame:
    """One pose frame.

    index: frame number since the start of the stream (one per hop of audio).
    t: audio time of the end of the hop that made it, seconds since the stream started.
    wall: wall-clock time (``time.time()``) when the frame was emitted.
    joints: [shape=(17, 3)] float32, metres, y up, +z toward the audience (COCO-17 order).
    beat: True on the frame where a beat falls; beat_in_bar counts 1..beats_per_bar, bar
    counts bars from 0; tempo in BPM; confidence 0..1 of the beat tracker.
    latency_ms: from the hop's last sample arriving to the frame's emission.
    """

    index: int
    t: float
    wall: float
    joints: np.ndarray = field(repr=False)
    beat: bool = False
    beat_in_bar: int = 0
    bar: int = 0
    tempo: float = 0.0
    confidence: float = 0.0
    latency_ms: float = 0.0
