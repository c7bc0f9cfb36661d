"""The audio source interface: :class:`Block` and the :class:`Source` base class.

Kept apart from live/audio.py (file and demo sources, ``open_source``) and live/mic.py
(the microphone) so that both import it and neither imports the other at import time.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator
from dataclasses import dataclass

import numpy as np


@dataclass(slots=True)
class Block:
    """A block of audio: samples [shape=(n,)] float32 mono, wall time of its last sample,
    and ``hold`` (True while a lost device is replaced by silence: keep the pose)."""

    samples: np.ndarray
    arrival: float
    hold: bool = False


class Source(abc.ABC):
    """Base of all audio sources."""

    name = "source"
    sample_rate = 0
    finite = False
    overflows = 0

    @abc.abstractmethod
    def blocks(self) -> AsyncIterator[Block]:
        """Blocks of audio as they arrive (real time, or as fast as possible)."""

    def close(self) -> None:  # noqa: B027 - optional hook: most sources hold nothing
        """Release devices; safe to call twice."""

    def describe(self) -> str:
        return self.name
