"""Half time and double time (live/feel.py): what the model hears, when a change starts, and
that the groove and the frames keep the music's beat."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from live.control import Control, check
from live.engine import Engine
from live.feel import AUTO_MARGIN, NO_BAR_BEATS, TempoFeel, auto_feel, beat_columns
from model import skeleton as sk
from model.config import coerce, defaults
from model.errors import ConfigError, ProtocolError

FPS = 30
BEAT = 15  # frames per beat: 120 bpm at 30 fps
BAR = 4 * BEAT


def _cfg() -> dict[str, Any]:
    return dict(defaults()["features"], fps=FPS)


def _rows(n: int, start: int = 0) -> np.ndarray:
    """Feature rows of the real layout on an exact 120 bpm 4/4 grid (frame 0 a downbeat);
    the other columns hold the frame number."""
    at = beat_columns(_cfg())
    assert at is not None
    width = at + 6 + 4
    k = np.arange(start, start + n)
    ph, bar = (k % BEAT) / BEAT, (k % BAR) / BAR
    f = np.zeros((n, width), np.float32)
    f[:, 0] = k
    f[:, at] = 120.0 / 200.0
    f[:, at + 1], f[:, at + 2] = np.sin(2 * np.pi * ph), np.cos(2 * np.pi * ph)
    f[:, at + 3] = ((1 + np.cos(2 * np.pi * ph)) / 2) ** 4
    f[:, at + 4], f[:, at + 5] = np.sin(2 * np.pi * bar), np.cos(2 * np.pi * bar)
    return f


def _phase(rows: np.ndarray, col: int) -> np.ndarray:
    return (np.arctan2(rows[:, col], rows[:, col + 1]) / (2 * np.pi)) % 1.0


def test_feel_one_hands_the_row_through_untouched() -> None:
    feel = TempoFeel(_cfg(), 1.0)
    rows = _rows(100)
    assert not feel.active
    assert all(feel.row(r) is r for r in rows)
    assert feel.rows(rows) is rows


@pytest.mark.parametrize("f", [0.5, 2.0])
def test_the_model_hears_half_or_double_time_from_the_first_frame(f: float) -> None:
    at = beat_columns(_cfg())
    assert at is not None
    feel = TempoFeel(_cfg(), f)
    rows = _rows(8 * BAR)
    heard = np.stack([feel.row(r).copy() for r in rows])
    k = np.arange(len(rows))
    assert heard[:, at] * 200.0 == pytest.approx(120.0 * f)
    want = (k * f / BEAT) % 1.0  # the dancer's beat phase: every second beat, or every half beat
    got = _phase(heard, at + 1)
    assert np.abs((got - want + 0.5) % 1.0 - 0.5).max() < 1e-5
    assert heard[:, at + 3] == pytest.approx(((1 + np.cos(2 * np.pi * want)) / 2) ** 4, abs=1e-5)
    bar_want = (k * f / BAR) % 1.0  # its bar: two bars, or half a bar
    assert np.abs((_phase(heard, at + 4) - bar_want + 0.5) % 1.0 - 0.5).max() < 1e-5
    np.testing.assert_array_equal(heard[:, :at], rows[:, :at])  # the music's other columns as they are
    assert feel.rows(rows) is not rows  # a block is rewritten into a copy


def test_a_change_waits_for_the_music_beat_where_both_phases_agree() -> None:
    at = beat_columns(_cfg())
    assert at is not None
    feel = TempoFeel(_cfg(), 1.0)
    rows = _rows(6 * BAR)
    out = []
    for i, r in enumerate(rows):
        if i == 70:  # mid-bar (bar 1, beat 1 + 10 frames): half time waits for the downbeat at 120
            feel.set(0.5)
        if i == 200:  # in half time since 120: back to the music's beat at the next downbeat (240)
            feel.set(1.0)
        out.append(feel.row(r).copy())
    heard = np.stack(out)
    tempo = heard[:, at] * 200.0
    assert np.all(tempo[:120] == pytest.approx(120.0)) and np.all(tempo[120:240] == pytest.approx(60.0))
    assert np.all(tempo[240:] == pytest.approx(120.0))
    ph = _phase(heard, at + 1)
    assert ph[120] == pytest.approx(0.0, abs=1e-5) and ph[119] == pytest.approx(14 / 15, abs=1e-5)
    steps = (np.diff(ph) + 0.5) % 1.0 - 0.5  # no jump anywhere: each frame moves the phase forward
    assert steps.min() > 0 and steps.max() < 1.5 / BEAT
    r0 = rows[0]
    assert not feel.active and feel.row(r0) is r0
    # 1 -> 2 starts at the next beat (not the next downbeat)
    feel2 = TempoFeel(_cfg(), 1.0)
    got = []
    for i, r in enumerate(rows[:60]):
        if i == 20:
            feel2.set(2.0)
        got.append(float(feel2.row(r)[at]) * 200.0)
    assert got[29] == pytest.approx(120.0) and got[30] == pytest.approx(240.0)


def test_half_time_in_three_four_keeps_every_second_beat_across_bars() -> None:
    at = beat_columns(_cfg())
    assert at is not None
    rows = _rows(12 * BEAT)
    k = np.arange(len(rows))
    bar = (k % (3 * BEAT)) / (3 * BEAT)  # a waltz: three beats a bar
    rows[:, at + 4], rows[:, at + 5] = np.sin(2 * np.pi * bar), np.cos(2 * np.pi * bar)
    feel = TempoFeel(_cfg(), 0.5)
    heard = np.stack([feel.row(r).copy() for r in rows])
    want = (k / (2 * BEAT)) % 1.0  # a dancer's beat on music beats 0, 2, 4, 6, ... right across the bars
    assert np.abs((_phase(heard, at + 1) - want + 0.5) % 1.0 - 0.5).max() < 1e-5
    bar_want = (k / (6 * BEAT)) % 1.0  # its bar: two waltz bars, three of its beats
    assert np.abs((_phase(heard, at + 4) - bar_want + 0.5) % 1.0 - 0.5).max() < 1e-5
    # back to the music's beat from the middle of the first waltz bar: not on the second bar's
    # downbeat (a dancer's off-beat there) but the third's, with no jump in what the model hears
    out = []
    for i, r in enumerate(rows):
        if i == 20:
            feel.set(1.0)
        out.append(feel.row(r).copy())
    back = np.stack(out)
    tempo = back[:, at] * 200.0
    assert tempo[6 * BEAT - 1] == pytest.approx(60.0) and tempo[6 * BEAT] == pytest.approx(120.0)
    steps = (np.diff(_phase(back, at + 1)) + 0.5) % 1.0 - 0.5
    assert steps.min() > 0 and steps.max() < 1.5 / BEAT


def test_a_beat_source_without_bars_still_changes_to_half_time() -> None:
    at = beat_columns(_cfg())
    assert at is not None
    rows = _rows(20 * BEAT)
    rows[:, at + 4], rows[:, at + 5] = 0.0, 1.0  # a clock without bars: the bar phase stands still
    feel = TempoFeel(_cfg(), 1.0)
    feel.set(0.5)
    tempo = [float(feel.row(r)[at]) * 200.0 for r in rows]
    k = next(i for i, t in enumerate(tempo) if t < 90.0)  # on the NO_BAR_BEATS-th beat without a downbeat
    assert k == NO_BAR_BEATS * BEAT and all(t == pytest.approx(120.0) for t in tempo[:k])
    assert all(t == pytest.approx(60.0) for t in tempo[k:])


def test_the_row_buffer_is_reused_and_bad_feels_are_refused() -> None:
    feel = TempoFeel(_cfg(), 0.5)
    rows = _rows(40)
    bufs = {id(feel.row(r)) for r in rows}
    assert len(bufs) == 1  # one preallocated buffer, no array per frame
    for bad in (-1.0, 0.75, 1.5, 3.0):
        with pytest.raises(ConfigError, match="0.5 .half time.*2 .double time.*0 .auto"):
            feel.set(bad)
    blind = TempoFeel(_cfg(), 1.0)
    blind.at = None  # a feature layout without the beat columns
    with pytest.raises(ConfigError, match="no tempo and beat columns"):
        blind.set(0.5)
    r0 = rows[0]
    assert blind.row(r0) is r0


def test_control_and_config_take_only_the_three_feels_and_auto() -> None:
    assert check("tempo/feel", 0.5, styles=("a",)).value == 0.5
    assert check("tempo/feel", 2, styles=("a",)).value == 2.0
    assert check("tempo/feel", 0, styles=("a",)).value == 0.0
    assert coerce("live", "feel", 0) == 0.0
    for bad in (1.5, 0.25, -1, "half", "auto", None, float("nan"), True):
        with pytest.raises(ProtocolError, match="tempo/feel"):
            check("tempo/feel", bad, styles=("a",))
    assert coerce("live", "feel", 2) == 2.0
    with pytest.raises(ConfigError, match="feel"):
        coerce("live", "feel", 0.75)


class _Features:
    """StreamingFeatures stand-in: the real column layout on an exact 120 bpm grid."""

    def __init__(self, cfg: dict[str, Any], input_sr: int) -> None:
        self.hop = input_sr // FPS
        self.buf = 0
        self.count = 0
        self.info: dict[str, np.ndarray] = {}
        self.tracker = None

    def push(self, samples: np.ndarray) -> np.ndarray:
        self.buf += len(samples)
        n = self.buf // self.hop
        self.buf -= n * self.hop
        rows = _rows(n, self.count)
        k = np.arange(self.count, self.count + n)
        self.count += n
        self.info = {"tempo": np.full(n, 120.0), "is_beat": k % BEAT == 0, "beat_in_bar": (k // BEAT) % 4 + 1,
                     "bar": k // BAR, "confidence": np.ones(n)}
        return rows


class _Gen:
    fps = FPS
    style_names = ("a",)
    control_names = ("energy", "variation")

    def __init__(self) -> None:
        self.heard: list[np.ndarray] = []

    def reset(self, *, seed: int = 0) -> None:
        self.heard.clear()

    def step(self, features: np.ndarray, *, style: np.ndarray, controls: np.ndarray) -> np.ndarray:
        self.heard.append(np.array(features, copy=True))
        return sk.rest_pose(on_floor=True)


def _engine(feel: float = 1.0, out_fps: int = FPS) -> tuple[Engine, _Gen]:
    cfg = defaults()
    cfg["features"]["fps"] = out_fps  # 60: the 30 fps model's frames are interpolated (Engine._process_up)
    cfg["live"]["feel"] = feel
    gen = _Gen()
    return Engine(cfg, gen, features_factory=_Features), gen


@pytest.mark.parametrize("out_fps", [FPS, 2 * FPS])
def test_engine_half_time_reaches_the_model_not_the_groove_or_the_frames(out_fps: int) -> None:
    at = beat_columns(_cfg())
    assert at is not None
    eng, gen = _engine(out_fps=out_fps)
    up = out_fps // FPS
    sr, hop = 24000, 800 // up
    plain, _ = _engine(out_fps=out_fps)  # the same music at feel 1
    frames, plain_frames = [], []
    for i in range(300 * up):
        if i == 70 * up:
            assert eng.apply(check("tempo/feel", 0.5, styles=eng.style_names))["feel"] == 0.5
        frames += eng.process(np.zeros(hop, np.float32), sr=sr)
        plain_frames += plain.process(np.zeros(hop, np.float32), sr=sr)
    heard = np.stack(gen.heard)
    assert len(heard) == 300
    assert heard[:120, at] * 200.0 == pytest.approx(120.0) and heard[120:, at] * 200.0 == pytest.approx(60.0)
    # the post-processing's cue (phase, tempo, loudness) and the frames keep the music's beat
    n = len(frames)
    assert n == len(plain_frames) > 250 * up
    np.testing.assert_array_equal(eng.cues[:n], plain.cues[:n])
    assert eng.cues[:n, 1] == pytest.approx(120.0)
    assert [(f.index, f.beat, f.tempo) for f in frames] == [(f.index, f.beat, f.tempo) for f in plain_frames]
    assert [f.index for f in frames if f.beat] == list(range(0, n, BEAT * up))
    if up > 1:
        return
    # offline rendering hears the same rows as the live loop
    off, gen2 = _engine(0.5)
    live, gen3 = _engine(0.5)
    off.render(np.zeros(300 * hop, np.float32), sr=sr)
    for _ in range(300):
        live.process(np.zeros(hop, np.float32), sr=sr)
    np.testing.assert_array_equal(np.stack(gen2.heard), np.stack(gen3.heard))
    assert np.stack(gen3.heard)[:, at] * 200.0 == pytest.approx(60.0)  # configured: from the first frame


def test_engine_refuses_half_time_for_features_without_a_beat() -> None:
    eng, _ = _engine()
    eng.feel.at = None  # a feature layout without the beat columns
    with pytest.raises(ProtocolError, match="no tempo and beat columns"):
        eng.apply(Control("tempo/feel", 0.5))
    assert math.isclose(eng.controls["feel"], 1.0)


def test_auto_picks_the_feel_nearest_the_style_tempo_with_a_margin() -> None:
    # contemporary's own tempo 83 bpm: 142 -> half time (71), 114 stays (57 is farther), 60 -> double
    assert auto_feel(142.0, 83.0, 1.0) == 0.5
    assert auto_feel(114.0, 83.0, 1.0) == 1.0
    assert auto_feel(50.0, 83.0, 1.0) == 2.0
    assert auto_feel(82.0, 122.0, 1.0) == 2.0  # locking at 82 bpm: 164 is nearer 122 than 82 is
    # near the midpoint (83 * sqrt 2 = 117) it keeps what it dances: no flip-flop on a wobbling tempo
    mid = 83.0 * math.sqrt(2.0)
    assert auto_feel(mid * 1.02, 83.0, 1.0) == 1.0 and auto_feel(mid * 0.98, 83.0, 0.5) == 0.5
    assert auto_feel(mid * math.exp(AUTO_MARGIN), 83.0, 1.0) == 0.5
    assert auto_feel(0.0, 83.0, 0.5) == 0.5 and auto_feel(120.0, 0.0, 2.0) == 2.0  # a tempo unknown: stays


def test_auto_follows_the_music_tempo_and_changes_on_a_downbeat() -> None:
    at = beat_columns(_cfg())
    assert at is not None
    feel = TempoFeel(_cfg(), 0.0)
    assert feel.auto and feel.active and feel.mode == 0.0 and feel.feel == 1.0
    rows = _rows(4 * BAR)
    feel.centre = 120.0  # the music's own tempo: nothing changes, the rows go through untouched
    assert all(feel.row(r) is r for r in rows[:BAR + 10])
    feel.centre = 250.0  # a fast style: double time, from the music's next beat (frame BAR + BEAT)
    heard = np.stack([feel.row(r).copy() for r in rows[BAR + 10:]])
    k = np.arange(BAR + 10, 4 * BAR)
    assert heard[k < BAR + BEAT, at] * 200.0 == pytest.approx(120.0)
    assert heard[k >= BAR + BEAT, at] * 200.0 == pytest.approx(240.0)
    assert feel.mode == 0.0 and feel.feel == 2.0
    feel.set(1.0)  # the user takes over: auto off, back to the music's beat on the next beat
    assert not feel.auto and feel.mode == 1.0
    after = np.stack([feel.row(r).copy() for r in _rows(BEAT + 1, 4 * BAR)])
    assert after[-1, at] * 200.0 == pytest.approx(120.0)


def test_engine_auto_aims_at_the_style_mix_tempo_from_the_model() -> None:
    cfg = defaults()
    cfg["features"]["fps"] = FPS
    cfg["live"]["feel"] = 0.0
    gen = _Gen()
    gen.style_names = ("slow", "fast")  # type: ignore[assignment]
    gen.meta = {"style_tempo": {"slow": 60.0, "fast": 240.0}}  # type: ignore[attr-defined]
    cfg["model"]["style"] = "slow"
    eng = Engine(cfg, gen, features_factory=_Features)
    assert eng.snapshot()["controls"]["feel"] == 0.0 and eng.feel.centre == pytest.approx(60.0)
    at = beat_columns(_cfg())
    assert at is not None
    for _ in range(3 * BAR):
        eng.process(np.zeros(800, np.float32), sr=24000)
    assert np.stack(gen.heard)[-BEAT:, at] * 200.0 == pytest.approx(60.0)  # 120 bpm heard in half time
    assert eng.snapshot()["feel_now"] == 0.5
    eng.apply(Control("styles", [0.0, 1.0]))
    assert eng.feel.centre == pytest.approx(240.0)
    for _ in range(3 * BAR):
        eng.process(np.zeros(800, np.float32), sr=24000)
    assert np.stack(gen.heard)[-BEAT:, at] * 200.0 == pytest.approx(240.0)
    eng.apply(Control("styles", [0.5, 0.5]))
    assert eng.feel.centre == pytest.approx(120.0)  # a mix: the geometric mean


def test_engine_auto_without_style_tempi_keeps_the_music_beat(caplog: pytest.LogCaptureFixture) -> None:
    eng, gen = _engine(0.0)
    assert eng.style_tempi is None and "no tempo per style" in caplog.text
    at = beat_columns(_cfg())
    assert at is not None
    for _ in range(2 * BAR):
        eng.process(np.zeros(800, np.float32), sr=24000)
    assert np.stack(gen.heard)[:, at] * 200.0 == pytest.approx(120.0)
