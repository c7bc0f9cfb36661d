"""Live controls: one vocabulary for OSC (`/dancemuse/control/<name>`) and WebSocket JSON
(`{"type": "control", "name": <name>, "value": ...}`).

| name          | value                                   | effect                                   |
|---------------|-----------------------------------------|------------------------------------------|
| style         | (style name: str, weight: float 0..1)   | set one style's weight in the mix        |
| styles        | tuple of floats 0..1, one per style      | set the whole mix (renormalised)         |
| energy        | float 0..2                              | movement amplitude                       |
| variation     | float 0..1                              | improvisation (noise) amount             |
| style_strength | float 0..6                             | how pronounced the style is (1 = as learnt) |
| mirror        | bool                                    | mirror the dancer left/right             |
| hold          | bool                                    | freeze the current pose                  |
| reset         | None                                    | back to rest pose, fresh recurrent state |
| tempo/tap     | None                                    | a tap, timed on arrival                  |
| tempo/nudge   | float -0.5..0.5                         | shift beat phase by this many beats      |
| tempo/feel    | 0, 0.5, 1 or 2                          | auto (the style's own tempo), half time, the music's beat, double time |
| smoothing     | float 0..1                              | one-euro smoothing strength              |
| groove        | float 0..1                              | re-time each beat as the style's data    |
| dynamics      | float 0..1                              | how much quiet passages calm the dancer  |
| novelty       | float 0..1                              | mirror the dancer when it repeats what it danced in the last 90 s (0 = off) |
| root          | "center" or "follow"                    | keep the dancer centred or let it travel |

Nothing reaches the engine unvalidated: adapters build a `Control` only through the
validators in this module.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from model.errors import ConfigError, ProtocolError


@dataclass(frozen=True, slots=True)
class Control:
    """A validated control change. ``value`` has the type the table above gives."""

    name: str
    value: Any = None
    source: str = ""


NAMES: tuple[str, ...] = (
    "style",
    "styles",
    "energy",
    "variation",
    "style_strength",
    "mirror",
    "hold",
    "reset",
    "tempo/tap",
    "tempo/nudge",
    "tempo/feel",
    "smoothing",
    "root",
    "groove",
    "dynamics",
    "novelty",
)
"""Every control name, in the order of the table above."""

RANGES: dict[str, tuple[float, float]] = {
    "energy": (0.0, 2.0),
    "variation": (0.0, 1.0),
    "style_strength": (0.0, 6.0),
    "tempo/nudge": (-0.5, 0.5),
    "smoothing": (0.0, 1.0),
    "groove": (0.0, 1.0),
    "dynamics": (0.0, 1.0),
    "novelty": (0.0, 1.0),
}
"""Allowed closed ranges of the float controls."""

ROOT_MODES: tuple[str, ...] = ("center", "follow")
FEELS: tuple[float, ...] = (0.5, 1.0, 2.0)
"""The values of ``tempo/feel`` (live/feel.py) besides FEEL_AUTO."""
FEEL_AUTO = 0.0
"""``tempo/feel`` 0: half, double or the music's time, whichever brings the music's tempo nearest
the style mix's own (live/feel.py)."""
TRIGGERS: tuple[str, ...] = ("reset", "tempo/tap")
BOOLS: tuple[str, ...] = ("mirror", "hold")


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _float(name: str, v: Any, lo: float, hi: float) -> float:
    if not _is_number(v):
        raise ProtocolError(f"control '{name}' needs a number in {lo:g}..{hi:g}, got {_show(v)}")
    f = float(v)
    if not math.isfinite(f) or f < lo or f > hi:
        raise ProtocolError(f"control '{name}' must be in {lo:g}..{hi:g}, got {_show(v)}")
    return f


def _bool(name: str, v: Any) -> bool:
    if isinstance(v, bool):
        return v
    if _is_number(v) and math.isfinite(float(v)):
        return float(v) >= 0.5
    raise ProtocolError(f"control '{name}' needs true/false (or a number, >= 0.5 is on), got {_show(v)}")


def _show(v: Any, limit: int = 40) -> str:
    s = repr(v)
    return s if len(s) <= limit else s[: limit - 3] + "..."


def _style_name(v: Any, styles: Sequence[str]) -> str:
    if not isinstance(v, str):
        raise ProtocolError(f"control 'style' needs a style name first, got {_show(v)}")
    if v not in styles:
        raise ProtocolError(f"unknown style {_show(v)}; the model has {', '.join(styles) or 'no styles'}")
    return v


def _check_style(value: Any, styles: Sequence[str]) -> tuple[str, float]:
    if isinstance(value, str):
        return (_style_name(value, styles), 1.0)
    if isinstance(value, (list, tuple)) and len(value) in (1, 2):
        name = _style_name(value[0], styles)
        weight = _float("style", value[1], 0.0, 1.0) if len(value) == 2 else 1.0
        return (name, weight)
    raise ProtocolError(f"control 'style' needs [name, weight 0..1], got {_show(value)}")


def _check_styles(value: Any, styles: Sequence[str]) -> tuple[float, ...]:
    if not isinstance(value, (list, tuple)):
        raise ProtocolError(f"control 'styles' needs a list of {len(styles)} weights 0..1, got {_show(value)}")
    if len(value) != len(styles):
        raise ProtocolError(
            f"control 'styles' needs {len(styles)} weights ({', '.join(styles)}), got {len(value)}"
        )
    weights = tuple(_float("styles", w, 0.0, 1.0) for w in value)
    if not any(w > 0.0 for w in weights):
        raise ProtocolError("control 'styles' needs at least one weight above 0")
    return weights


def check(name: Any, value: Any, *, styles: Sequence[str], source: str = "") -> Control:
    """Validate one control by name and value (the types of the table above) -> Control.

    Numbers may be ints or floats (never bools, NaN or infinities); ``mirror``/``hold``
    take a bool or a number (>= 0.5 is on); ``style`` takes ``[name, weight]`` or just a
    name (weight 1); ``reset``/``tempo/tap`` take ``None``. Raises ProtocolError (one line).
    """
    if not isinstance(name, str) or name not in NAMES:
        raise ProtocolError(f"unknown control {_show(name)}; known: {', '.join(NAMES)}")
    v: Any
    if name in RANGES:
        lo, hi = RANGES[name]
        v = _float(name, value, lo, hi)
    elif name in BOOLS:
        v = _bool(name, value)
    elif name in TRIGGERS:
        if value is not None:
            raise ProtocolError(f"control '{name}' takes no value (null), got {_show(value)}")
        v = None
    elif name == "tempo/feel":
        v = _float(name, value, 0.0, 2.0)
        if v not in FEELS and v != FEEL_AUTO:
            raise ProtocolError(f"control 'tempo/feel' must be 0 (auto), 0.5 (half time), 1 or 2 (double time), "
                                f"got {_show(value)}")
    elif name == "root":
        if value not in ROOT_MODES or not isinstance(value, str):
            raise ProtocolError(f"control 'root' must be 'center' or 'follow', got {_show(value)}")
        v = value
    elif name == "style":
        v = _check_style(value, styles)
    else:  # styles
        v = _check_styles(value, styles)
    return Control(name=name, value=v, source=source)


def from_json(obj: Any, *, styles: Sequence[str], source: str = "") -> Control:
    """A WebSocket control message ``{"type": "control", "id": any, "name": str, "value": ...}``
    (already decoded from JSON) -> Control. ``value`` may be left out for triggers.
    Raises ProtocolError with one line."""
    if not isinstance(obj, Mapping):
        raise ProtocolError(f"a control message must be a JSON object, got {_show(obj)}")
    if obj.get("type", "control") != "control":
        raise ProtocolError(f"not a control message: type {_show(obj.get('type'))}")
    if "name" not in obj:
        raise ProtocolError('a control message needs "name" (and "value")')
    return check(obj["name"], obj.get("value"), styles=styles, source=source)


def from_osc(
    address: str, args: Sequence[Any], *, prefix: str, styles: Sequence[str], source: str = ""
) -> Control | None:
    """An OSC control message ``<prefix>/control/<name> args...`` -> Control.

    Argument forms: ``style s f`` (or ``s`` alone, weight 1); ``styles f f ...`` one per
    style; the float controls one number; ``mirror``/``hold`` one of i, f, T or F;
    ``root s``; ``reset`` and ``tempo/tap`` no argument, or one number/bool as a button:
    non-zero fires, zero (a button's release) returns None (nothing to do).
    Raises ProtocolError with one line.
    """
    head = prefix.rstrip("/") + "/control/"
    if not address.startswith(head):
        raise ProtocolError(f"unknown OSC address {_show(address)}; controls live under {head}<name>")
    name = address[len(head):]
    if name not in NAMES:
        raise ProtocolError(f"unknown OSC control {_show(name)}; known: {', '.join(NAMES)}")
    args = list(args)
    if name in TRIGGERS:
        if not args:
            return Control(name=name, value=None, source=source)
        if len(args) == 1 and (isinstance(args[0], bool) or _is_number(args[0])):
            return Control(name=name, value=None, source=source) if args[0] else None
        raise ProtocolError(f"OSC {address} takes no argument (or one number as a button), got {_show(args)}")
    if name == "styles":
        return check(name, args, styles=styles, source=source)
    if name == "style":
        if len(args) not in (1, 2):
            raise ProtocolError(f"OSC {address} needs 's name f weight', got {_show(args)}")
        return check(name, args, styles=styles, source=source)
    if len(args) != 1:
        raise ProtocolError(f"OSC {address} needs exactly one argument, got {len(args)}")
    return check(name, args[0], styles=styles, source=source)


def applied_strength(strength: float, gain: float) -> float:
    """The style strength fed to the model: the user's times the style mix's factor (a model's
    ``style_gain``, `dancemuse calibrate --style-gain`), at most the control's top (6), which
    is as far as any style is ever fed."""
    return min(float(strength) * float(gain), RANGES["style_strength"][1])


def strengthen(weights: np.ndarray, strength: float, *, out: np.ndarray | None = None) -> np.ndarray:
    """Style weights (summing to 1) moved ``strength`` times as far from the equal mix: what
    the model is fed. 1 = as learnt; above 1 the style is more pronounced (the weights may
    leave 0..1); 0 = the equal mix whatever the weights. Mixes stay linear in the weights.
    ``out`` may be ``weights`` itself (no allocation)."""
    w = np.asarray(weights, np.float32)
    dst = np.empty_like(w) if out is None else out
    if len(w):
        mean = 1.0 / len(w)
        np.subtract(w, mean, out=dst)
        dst *= float(strength)
        dst += mean
    return dst


def parse_style(
    text: str | Sequence[float] | None, names: Sequence[str], *, normalize: bool = True
) -> np.ndarray:
    """Style weights [shape=(len(names),)] float32 from ``"house"``, ``"house:0.7,ballet:0.3"``,
    a list of floats (one per style) or ''/None (an equal mix). The one parser of a style
    mix for the config, the command line, the engine and the runtime.

    Weights must be finite and >= 0, at least one above 0. ``normalize`` scales them to sum
    to 1 (otherwise the raw weights come back). Raises ConfigError (one line).
    """
    n = len(names)
    w = np.zeros(n, dtype=np.float32)
    if text is None or (isinstance(text, str) and not text.strip()):
        w[:] = 1.0 / max(n, 1)
        return w
    if isinstance(text, str):
        for part in text.split(","):
            name, _, val = part.strip().partition(":")
            name = name.strip()
            if name not in names:
                raise ConfigError(f"unknown style {name!r}: not in the model; use one of {', '.join(names)}")
            try:
                f = float(val) if val.strip() else 1.0
            except ValueError:
                raise ConfigError(f"style weight {val!r} for {name!r} is not a number; write e.g. {name}:0.5") from None
            if not math.isfinite(f) or f < 0:
                raise ConfigError(f"style weight {val.strip()!r} for {name!r} must be a finite number >= 0")
            w[list(names).index(name)] = f
    else:
        try:
            arr = np.asarray(text, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError):
            raise ConfigError(f"style weights {_show(text)} must be numbers, one per style {list(names)}") from None
        if arr.shape[0] != n:
            raise ConfigError(f"style weights {_show(list(arr))} must have {n} values, one per style {list(names)}")
        if not np.all(np.isfinite(arr)) or np.any(arr < 0):
            raise ConfigError(f"style weights {_show(list(arr))} must be finite numbers >= 0")
        w[:] = arr
    total = float(w.sum())
    if not total > 0:
        raise ConfigError(f"style mix {text!r} has no positive weight; give at least one style a weight > 0")
    if normalize:
        w /= total
    return w


class RateLimitedLog:
    """Log at most once per ``interval`` seconds per source; count what was held back.

    ``warn(source, message)`` returns True when the line was written. The table of sources
    is bounded (``max_sources``), so a flood of spoofed addresses cannot grow memory.
    """

    def __init__(
        self,
        logger: logging.Logger,
        *,
        interval: float = 1.0,
        max_sources: int = 256,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger = logger
        self.interval = interval
        self.max_sources = max_sources
        self.clock = clock
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}
        self.suppressed = 0

    def warn(self, source: str, message: str) -> bool:
        """Log a refusal at WARNING (rate-limited per source); True when written."""
        return self.log(source, message, level=logging.WARNING)

    def log(self, source: str, message: str, *, level: int = logging.WARNING) -> bool:
        """Log ``message`` at ``level`` unless ``source`` logged less than ``interval`` ago
        (warnings and applied controls of one sender share the budget); True when written."""
        now = self.clock()
        last = self._last.get(source)
        if last is not None and now - last < self.interval:
            self._held[source] = self._held.get(source, 0) + 1
            self.suppressed += 1
            return False
        if last is None and len(self._last) >= self.max_sources:
            oldest = min(self._last, key=self._last.__getitem__)
            del self._last[oldest]
            self._held.pop(oldest, None)
        self._last[source] = now
        held = self._held.pop(source, 0)
        more = f" ({held} more from this source held back)" if held else ""
        self.logger.log(level, "%s: %s%s", source or "control", message, more)
        return True
