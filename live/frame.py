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
    beat_wall: on a beat frame driven by an external clock (Link, MIDI), the wall time of
    the beat itself (the OSC bundle with /beat carries it as its timetag); else 0.
    rot: [shape=(n_bones, 4)] per-bone local rotations w x y z (model/rotations.py) when
    they were asked for (OSC ``rot``, WebSocket ``rot``), else None.
    dancers: [shape=(N, 17, 3)] every dancer's placed pose in an ensemble show
    (``--dancers N``, live/ensemble.py; ``joints`` is dancer 0), else None.
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
    beat_wall: float = 0.0
    rot: np.ndarray | None = field(default=None, repr=False)
    dancers: np.ndarray | None = field(default=None, repr=False)  # [N, 17, 3] ensemble (live/ensemble.py)
