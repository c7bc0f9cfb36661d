"""Half time and double time: the beat the dancer dances to (``live.feel``, the control
``tempo/feel``).

A style's dancers move to the tempi of its own music. Measured on the shipped model (six
held-out songs, two seeds, the evaluation's classifier): locking danced to 82-93 bpm is read
as locking in 14-21 % of windows (hip-hop and contemporary take the rest: those are their
tempi); danced in double time it is 50-57 %. Contemporary at 120-142 bpm is read as house in
up to 57 % of windows; in half time, 93 %. So a DJ or VJ can tell the dancer to hear every
other beat (``0.5``: half time, a dancer's beat on every second music beat, its bar two
bars) or every half beat (``2``: double time), as a VJ tool's BPM x1/2 and x2 do.

Only what the model hears changes: the feature row's tempo column is scaled and the beat
phase, beat pulse and bar phase columns are rewritten (model.features lays them out as
tempo, sin and cos of the beat phase, pulse, sin and cos of the bar phase). The music's own
beat still drives the groove of the post-processing (the dancer's accents stay on the music's
beats; with half time the beat-align score on those songs stayed 0.66-0.76 against 0.76-0.82)
and every beat, tempo and bar sent out over OSC and WebSocket.

Phases come from the row itself: a wrap of the beat phase is a music beat, a wrap of the bar
phase a downbeat. Half time counts the music beats since its dancer's bar began, so a change
of feel waits for the music's next downbeat (to or from half time; from a beat source without
bars, its ``NO_BAR_BEATS``-th beat) or next beat (1 <-> 2),
where the old and the new phases agree: the model never hears its beat jump.

**Auto** (``0``, session 32): the feel that brings the music's tempo nearest the style mix's
own (``centre``: the model's ``style_tempo``, each style's median training tempo, from
`dancemuse calibrate`; a mix's is the weighted geometric mean), i.e. the f in 0.5, 1, 2 with
the smallest |log(f x tempo / centre)|; it changes only when the new feel is nearer by
``AUTO_MARGIN`` (a tempo near the midpoint does not flip it back and forth), and like any
change at the music's next (down)beat. The music's tempo is the row's own tempo column (the
beat tracker's). On the shipped model's held-out songs: contemporary (83 bpm) at 142 bpm goes to
half time, locking and house (121-122 bpm) at 82 bpm and salsa (167 bpm) at 82-93 bpm to double
time; measured in models/README.md, session 32.

No allocation per frame: one preallocated row buffer, six scalar writes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from live.control import FEEL_AUTO, FEELS
from model.errors import ConfigError

TWO_PI = 2.0 * math.pi
NO_BAR_BEATS = 8
"""Music beats without a downbeat after which a change to or from half time takes a beat (a beat
clock without bars keeps its bar phase still)."""
AUTO_MARGIN = math.log(1.1)
"""Auto changes the feel only when the new one brings the tempo nearer the style's by this
much (log units: 10 %)."""


def phase_at(row: np.ndarray, col: int) -> float:
    """The phase (0..1) whose sine and cosine are ``row[col]`` and ``row[col + 1]``."""
    return math.atan2(row.item(col), row.item(col + 1)) / TWO_PI % 1.0


def auto_feel(bpm: float, centre: float, current: float) -> float:
    """The feel auto picks for the music's tempo ``bpm`` and the style's ``centre`` (BPM),
    staying at ``current`` unless another is nearer by AUTO_MARGIN; ``current`` when either
    tempo is unknown (0)."""
    if bpm <= 0.0 or centre <= 0.0:
        return current
    best, best_d = current, abs(math.log(current * bpm / centre))
    cur_d = best_d
    for f in FEELS:
        d = abs(math.log(f * bpm / centre))
        if d < best_d:
            best, best_d = f, d
    return best if best_d < cur_d - AUTO_MARGIN else current


def beat_columns(feature_cfg: Mapping[str, Any]) -> int | None:
    """Column of the tempo feature when the six beat columns follow it as model.features
    writes them (tempo, beat phase sin cos, pulse, bar phase sin cos); else None."""
    from model.features import FeatureSpec

    try:
        spec = FeatureSpec.from_config(dict(feature_cfg))
        t = spec.slice("tempo").start
        if (spec.slice("beat_phase").start, spec.slice("beat_pulse").start, spec.slice("bar_phase").start) != (
                t + 1, t + 3, t + 4):
            return None
    except (KeyError, ValueError, TypeError):
        return None
    return int(t)


def check_feel(value: float) -> float:
    """The feel as a float from FEELS or FEEL_AUTO; ConfigError (one line) otherwise."""
    v = float(value)
    if v not in FEELS and v != FEEL_AUTO:
        raise ConfigError(f"feel {value!r} must be 0.5 (half time), 1 (the music's beat), 2 (double time) or 0 (auto)")
    return v


class TempoFeel:
    """The features the model hears at a feel (see the module docstring).

    ``row(features)`` returns the row itself at feel 1 (nothing pending: no work at all) and
    otherwise a preallocated buffer holding the rewritten row (valid until the next call);
    ``rows(features)`` does the same for a block of frames (offline rendering). The beat
    and bar phases are tracked only while :attr:`active`: a change asked for at feel 1
    waits for the first (down)beat after it.
    """

    def __init__(self, feature_cfg: Mapping[str, Any], feel: float = 1.0) -> None:
        self.at = beat_columns(feature_cfg)
        self.feel = 1.0
        self.wanted = 1.0
        self.auto = False
        """Auto: the feel follows the music's tempo and :attr:`centre` (see the module docstring)."""
        self.centre = 0.0
        """The style mix's own tempo (BPM) auto aims at; 0: unknown (auto keeps its feel)."""
        self.active = False
        """True while the rows are rewritten or a change of feel waits for its beat."""
        self._buf: np.ndarray | None = None
        self._prev_ph = 0.0
        self._prev_bar = 0.0
        self._beats = 0  # music beats since the dancer's bar (two music bars) began: half time's count
        self._bars = 0  # music bars since then
        self._since_bar = 0  # music beats since the last downbeat
        self._fresh = True  # the next row starts the phase tracking (no beat read from it)
        self.set(feel)
        self.reset()  # the configured feel from the first frame

    def set(self, feel: float) -> None:
        """Ask for a feel (ConfigError for a value not in FEELS, or for a feature layout
        without beat columns); it starts at the music's next (down)beat."""
        f = check_feel(feel)
        if f != 1.0 and self.at is None:
            raise ConfigError("this model's features have no tempo and beat columns, so it cannot dance in half "
                              "or double time; keep feel 1")
        if not self.active:
            self._fresh = True
        self.auto = f == FEEL_AUTO
        if not self.auto:
            self.wanted = f
        self.active = self.auto or self.feel != 1.0 or self.wanted != self.feel

    @property
    def mode(self) -> float:
        """The feel asked for: FEEL_AUTO (0) while auto, else the wanted feel."""
        return FEEL_AUTO if self.auto else self.wanted

    def reset(self) -> None:
        """A new stream: the wanted feel from its first frame."""
        self.feel = self.wanted
        self._fresh = True
        self._beats = self._bars = self._since_bar = 0
        self.active = self.auto or self.feel != 1.0

    def row(self, features: np.ndarray) -> np.ndarray:
        """This frame's features as the model should hear them (see the class docstring)."""
        t = self.at
        if t is None or not self.active:  # feel 1, nothing pending: the row as it is
            return features
        ph = phase_at(features, t + 1)
        bar = phase_at(features, t + 4)
        if self._fresh:  # phases tracked from here (a change waits for the next beat)
            self._prev_ph, self._prev_bar, self._fresh = ph, bar, False
        if self.auto:  # the music's tempo (the tracker's, in the row) against the style's
            self.wanted = auto_feel(features.item(t) * 200.0, self.centre, self.wanted)
        beat = ph < self._prev_ph - 0.5
        downbeat = bar < self._prev_bar - 0.5
        self._prev_ph, self._prev_bar = ph, bar
        if beat:
            self._beats += 1
            self._since_bar += 1
        if downbeat:
            self._bars += 1
            self._since_bar = 0
            if self._bars % 2 == 0:  # the dancer's bar in half time is two music bars (any metre)
                self._beats = 0
        waits_for_bar = 0.5 in (self.wanted, self.feel) and self._since_bar < NO_BAR_BEATS
        on_time = downbeat if waits_for_bar else beat
        if self.feel == 0.5:  # half time is left on one of its own beats (a waltz bar has three)
            on_time = on_time and self._beats % 2 == 0
        if self.wanted != self.feel and on_time:
            self.feel = self.wanted
            self._beats = self._bars = self._since_bar = 0
            self.active = self.auto or self.feel != 1.0
        f = self.feel
        if f == 1.0:
            return features
        if self._buf is None or self._buf.shape != features.shape:
            self._buf = np.empty_like(features)
        buf = self._buf
        np.copyto(buf, features)
        if f == 0.5:  # a dancer's beat on every second music beat, its bar two bars
            p = ((self._beats % 2) + ph) * 0.5
            b = ((self._bars % 2) + bar) * 0.5
        else:  # a dancer's beat on every half beat, its bar half a bar
            p = 2.0 * ph % 1.0
            b = 2.0 * bar % 1.0
        c = math.cos(TWO_PI * p)
        buf[t] = features.item(t) * f
        buf[t + 1] = math.sin(TWO_PI * p)
        buf[t + 2] = c
        buf[t + 3] = ((1.0 + c) * 0.5) ** 4
        buf[t + 4] = math.sin(TWO_PI * b)
        buf[t + 5] = math.cos(TWO_PI * b)
        return buf

    def rows(self, features: np.ndarray) -> np.ndarray:
        """A block of frames [shape=(n, F)] as :meth:`row` gives them one by one: the block
        itself where every frame is unchanged, else a new array."""
        if self.at is None or not self.active:
            return features
        out = np.array(features, copy=True)
        for k in range(len(features)):
            out[k] = self.row(features[k])
        return out
