"""Beat clock sources and their priority: Link > MIDI clock > tap tempo > audio tracker.

A *source* answers ``read(wall) -> (tempo_bpm, beat_position) | None``: the beat position
(beats, float; ``beat_position % beats_per_bar`` is the place in the bar when the source
knows bars) at wall time ``wall`` (``time.time()`` seconds), or None while it has nothing
to say (no Link peer, MIDI clock stopped, no recent taps). ``ClockMixer`` picks the first
source in ``priority`` that answers; the audio tracker is the last resort and always there.

``ClockedTracker`` stands in for the feature extractor's ``OnlineBeatTracker``
(``StreamingFeatures.tracker``): every frame it steps the audio tracker (which keeps
running, so its disagreement with the clock is known), asks the mixer, and exposes the
same attributes the features read (tempo, phase, is_beat, beat_in_bar, bar, confidence,
next_beat_time, beat_time). While the audio tracker drives and always has, it is a pure
pass-through (features identical to running without it).

No jumps on a change of source: the output beat position X keeps advancing at the
tempo; on a change it continues where it was and then closes the gap to B + o, where B is
the active source's position and o the nearest whole number of bars (or beats, for
sources without bars) to the gap, moving at most ``glide`` (10 %) faster or slower than
the tempo; from then on beat phase and beat-in-bar are the source's. The tempo steps of a change glide out
with a time constant ``tempo_tau_s``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from model.errors import ConfigError

SOURCES: tuple[str, ...] = ("link", "midi", "tap", "audio")
DEFAULT_PRIORITY: tuple[str, ...] = SOURCES


class Source(Protocol):
    knows_bars: bool

    def read(self, wall: float) -> tuple[float, float] | None: ...


def check_priority(priority: Sequence[str]) -> tuple[str, ...]:
    """Refuse a bad ``clock.priority`` with one line; 'audio' is appended when missing."""
    bad = [p for p in priority if p not in SOURCES]
    if bad or len(set(priority)) != len(priority):
        raise ConfigError(f"clock.priority {list(priority)} must list distinct names from {list(SOURCES)}")
    out = tuple(priority)
    return out if "audio" in out else out + ("audio",)


class TapSource:
    """Tap tempo as a source: two or more taps (wall times) set tempo and beat grid; it
    answers for ``hold_s`` seconds after the last tap."""

    knows_bars = False

    def __init__(self, *, hold_s: float = 30.0, min_bpm: float = 40.0, max_bpm: float = 240.0) -> None:
        self.hold_s = float(hold_s)
        self.min_bpm, self.max_bpm = float(min_bpm), float(max_bpm)
        self._taps: list[float] = []
        self._count = 0
        self._tempo = 0.0

    def tap(self, wall: float) -> None:
        if self._taps and (wall - self._taps[-1] > 2.0 or wall <= self._taps[-1]):
            self._taps.clear()
        self._taps.append(wall)
        del self._taps[:-8]
        self._count += 1
        if len(self._taps) >= 2:
            iv = sorted(b - a for a, b in zip(self._taps, self._taps[1:]))[(len(self._taps) - 2) // 2]
            self._tempo = min(self.max_bpm, max(self.min_bpm, 60.0 / iv))

    def read(self, wall: float) -> tuple[float, float] | None:
        if len(self._taps) < 2 or wall - self._taps[-1] > self.hold_s:
            return None
        return self._tempo, self._count - 1 + (wall - self._taps[-1]) * self._tempo / 60.0


class ClockMixer:
    """Sources by priority (see the module docstring). ``sources`` maps names from
    SOURCES (except 'audio') to sources; ``priority`` orders them."""

    def __init__(self, sources: Mapping[str, Source], *, priority: Sequence[str] = DEFAULT_PRIORITY) -> None:
        self.sources = dict(sources)
        self.priority = check_priority(priority)
        self.peers: Callable[[], int] = lambda: 0

    def pick(self, wall: float) -> tuple[str, float, float, bool] | None:
        """(name, tempo, beat position, knows_bars) of the first source that answers, or
        None when only the audio tracker is left."""
        for name in self.priority:
            src = self.sources.get(name)
            if src is None:
                continue
            r = src.read(wall)
            if r is not None and r[0] > 0.0 and math.isfinite(r[1]):
                return name, r[0], r[1], src.knows_bars
        return None


class ClockedTracker:
    """The beat tracker the features see (see the module docstring).

    inner : the audio ``OnlineBeatTracker`` (stepped every frame).
    mixer : the ClockMixer.
    fps : frames per second.
    wall_offset : wall time minus audio time (set by the engine before every push).
    """

    def __init__(self, inner: Any, mixer: ClockMixer, *, fps: int, glide: float = 0.1,
                 tempo_tau_s: float = 1.0) -> None:
        self.inner = inner
        self.mixer = mixer
        self.fps = int(fps)
        self.bar_beats = int(inner.beats_per_bar)  # the clocks' bar (Link quantum)
        self.beats_per_bar = self.bar_beats
        self.glide = float(glide)
        self.snap_below = 0.3
        self._tempo_a = 1.0 - math.exp(-1.0 / (max(tempo_tau_s, 1e-3) * self.fps))
        self.wall_offset = time.time()
        self.source = "audio"
        self.tempo = 0.0
        self._n = 0
        self._through = True
        self._x = 0.0  # output beat position
        self._o_target = 0.0
        self._g = 0.0  # tempo glide (BPM)
        self._copy_inner()
        self.audio_tempo = 0.0
        self.audio_confidence = 0.0
        self.audio_offset_ms = 0.0

    # the tracker interface the features and the engine use --------------------------
    def __getattr__(self, name: str) -> Any:  # anything else: the audio tracker's
        return getattr(self.inner, name)

    def tap(self, time_s: float) -> None:
        self.inner.tap(time_s)
        tap = self.mixer.sources.get("tap")
        if isinstance(tap, TapSource):
            tap.tap(time_s + self.wall_offset)

    def nudge(self, beats: float) -> None:
        self.inner.nudge(beats)
        if not self._through:
            self._o_target += float(beats)

    def step(self, onset: float, low_onset: float = 0.0, mel_db: object = None) -> None:
        tr = self.inner
        tr.step(onset, low_onset, mel_db)
        self._n += 1
        t_audio = self._n / self.fps
        wall = t_audio + self.wall_offset
        b_audio = tr.bar * tr.beats_per_bar + max(tr.beat_in_bar - 1, 0) + tr.phase
        bpb = self.bar_beats
        self.audio_tempo = float(tr.tempo)
        self.audio_confidence = float(tr.confidence)
        picked = self.mixer.pick(wall)
        name = "audio" if picked is None else picked[0]
        if picked is None:
            tempo, pos, bars, conf = float(tr.tempo), b_audio, True, float(tr.confidence)
        else:
            _, tempo, pos, bars = picked
            conf = 1.0
        prev_out_tempo = float(self.tempo)
        if name != self.source:  # hand over: continue where the output was
            adv = (prev_out_tempo if prev_out_tempo > 0 else tempo) / 60.0 / self.fps
            o = self._x + adv - pos
            unit = bpb if bars else 1
            self._o_target = unit * round(o / unit)
            self._g = (prev_out_tempo - tempo) if prev_out_tempo > 0 else 0.0
            if self.source == "audio" and (tr.confidence < self.snap_below or self._n <= self.fps):
                self._x, self._g = pos + self._o_target - tempo / 60.0 / self.fps, 0.0  # no grip yet
            self.source = name
            self._through = False
        if self._through:
            self._copy_inner()
            self._x = b_audio
            self.audio_offset_ms = 0.0
            return
        self._g *= 1.0 - self._tempo_a
        out_tempo = max(tempo + self._g, 1.0)
        adv = out_tempo / 60.0 / self.fps
        # close the gap to the source's grid (plus the whole-bar offset) at most `glide`
        # faster or slower than the tempo, spread over at least a beat
        err = pos + self._o_target - (self._x + adv)
        corr = max(-self.glide, min(self.glide, err))
        x_prev = self._x
        x = x_prev + adv * (1.0 + corr)
        if abs(pos + self._o_target - x) < 1e-9 * max(1.0, abs(x)) or abs(err) <= abs(adv * corr) + 1e-12:
            x = pos + self._o_target  # on the grid
        self._x = x
        half = 0.5 * adv
        beat_now = math.floor(x + half) > math.floor(x_prev + half) and self._n > 1
        self.tempo = out_tempo
        self.beats_per_bar = bpb
        self.phase = x - math.floor(x)
        # an external clock is a pulse; the audio tracker's own grid only once it found one (SURE_CONF)
        self.is_beat = beat_now and (picked is not None or bool(getattr(tr, "sure", True)))
        lab = math.floor(x + half)
        self.beat_in_bar = int(lab % bpb) + 1
        self.bar = max(0, int(lab // bpb))
        self.confidence = conf
        bps = out_tempo / 60.0
        if beat_now:
            self.beat_time = t_audio + (lab - x) / bps
        self.next_beat_time = t_audio + (math.floor(x) + 1 - x) / bps
        off = (b_audio - x + 0.5) % 1.0 - 0.5
        self.audio_offset_ms = off / bps * 1000.0 if tr.tempo > 0 else 0.0
        if (name == "audio" and x == pos + self._o_target and abs(self._g) < 0.01
                and self._o_target % bpb == 0 and tr.beats_per_bar == bpb):
            self._through = True  # back on the tracker's own grid

    def _copy_inner(self) -> None:
        tr = self.inner
        self.beats_per_bar = int(tr.beats_per_bar)  # the tracker may change metre (3/4)
        self.tempo = float(tr.tempo)
        self.phase = float(tr.phase)
        self.is_beat = bool(tr.is_beat)
        self.beat_in_bar = int(tr.beat_in_bar)
        self.bar = int(tr.bar)
        self.confidence = float(tr.confidence)
        self.next_beat_time = float(tr.next_beat_time)
        self.beat_time = float(tr.beat_time)

    def status(self) -> dict[str, Any]:
        """The /status ``clock`` block (without peers)."""
        return {"source": self.source, "tempo": round(float(self.tempo), 2),
                "audio_tempo": round(self.audio_tempo, 2), "audio_offset_ms": round(self.audio_offset_ms, 1)}
