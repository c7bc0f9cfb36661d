"""Live controls: one vocabulary for OSC (`/dancemuse/control/<name>`) and WebSocket JSON
(`{"type": "control", "name": <name>, "value": ...}`).

| name          | value                                   | effect                                   |
|---------------|-----------------------------------------|------------------------------------------|
| style         | (style name: str, weight: float 0..1)   | set one style's weight in the mix        |
| styles        | tuple of floats 0..1, one per style      | set the whole mix (renormalised)         |
| energy        | float 0..2                              | movement amplitude                       |
| variation     | float 0..1                              | improvisation (noise) amount             |
| mirror        | bool                                    | mirror the dancer left/right             |
| hold          | bool                                    | freeze the current pose                  |
| reset         | None                                    | back to rest pose, fresh recurrent state |
| tempo/tap     | None                                    | a tap, timed on arrival                  |
| tempo/nudge   | float -0.5..0.5                         | shift beat phase by this many beats      |
| smoothing     | float 0..1                              | one-euro smoothing strength              |
| root          | "center" or "follow"                    | keep the dancer centred or let it travel |

Nothing reaches the engine unvalidated: adapters build a `Control` only through the
validators in this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Control:
    """A validated control change. ``value`` has the type the table above gives."""

    name: str
    value: Any = None
    source: str = ""
