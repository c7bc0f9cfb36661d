"""live/control.py: every control name, its accepted forms, and one-line refusals."""

from __future__ import annotations

import logging
import math

import pytest

from live.control import NAMES, Control, RateLimitedLog, check, from_json, from_osc
from model.errors import ProtocolError

STYLES = ("house", "hiphop", "ballet", "popping")
P = "/dancemuse"


def osc(name: str, *args: object) -> Control | None:
    return from_osc(f"{P}/control/{name}", list(args), prefix=P, styles=STYLES, source="osc:test")


def js(name: object, value: object = None, **extra: object) -> Control:
    return from_json({"type": "control", "id": 1, "name": name, "value": value, **extra}, styles=STYLES)


def refused(fn, *args, match: str | None = None) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(ProtocolError, match=match) as e:
        fn(*args)
    msg = str(e.value)
    assert "\n" not in msg and len(msg) < 200
    return msg


def test_every_name_in_the_docstring_table_is_known() -> None:
    import live.control as c

    for name in NAMES:
        assert f"| {name} " in (c.__doc__ or "")


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("energy", 1.5, 1.5),
        ("energy", 2, 2.0),
        ("variation", 0, 0.0),
        ("smoothing", 0.25, 0.25),
        ("groove", 0, 0.0),
        ("dynamics", 0.5, 0.5),
        ("tempo/nudge", -0.5, -0.5),
        ("mirror", True, True),
        ("mirror", 0, False),
        ("hold", 1.0, True),
        ("hold", 0.2, False),
        ("root", "follow", "follow"),
        ("reset", None, None),
        ("tempo/tap", None, None),
        ("style", ["ballet", 0.7], ("ballet", 0.7)),
        ("style", "popping", ("popping", 1.0)),
        ("styles", [1, 0, 0.5, 0], (1.0, 0.0, 0.5, 0.0)),
    ],
)
def test_json_accepts_valid_values(name: str, value: object, expected: object) -> None:
    c = js(name, value)
    assert c == Control(name=name, value=expected, source="")
    assert type(c.value) is type(expected)


@pytest.mark.parametrize(
    ("name", "value", "match"),
    [
        ("energy", 2.01, "0..2"),
        ("energy", "1", "number"),
        ("energy", True, "number"),
        ("energy", math.nan, "0..2"),
        ("energy", math.inf, "0..2"),
        ("variation", -0.1, "0..1"),
        ("tempo/nudge", 0.6, "-0.5..0.5"),
        ("mirror", "yes", "true/false"),
        ("root", "left", "center"),
        ("reset", 1, "no value"),
        ("style", ["salsa", 0.5], "unknown style 'salsa'"),
        ("style", ["house", 1.5], "0..1"),
        ("style", 3, r"\[name, weight"),
        ("styles", [1, 0, 0], "4 weights"),
        ("styles", [0, 0, 0, 0], "above 0"),
        ("styles", "1 0 0 0", "list"),
        ("dance", 1, "unknown control 'dance'"),
        (None, 1, "unknown control"),
    ],
)
def test_json_refuses_bad_values_in_one_line(name: object, value: object, match: str) -> None:
    refused(js, name, value, match=match)


def test_json_refuses_non_objects_and_other_types() -> None:
    refused(lambda: from_json([1, 2], styles=STYLES), match="JSON object")
    refused(lambda: from_json({"type": "hello"}, styles=STYLES), match="not a control")
    refused(lambda: from_json({"type": "control"}, styles=STYLES), match="name")


def test_json_trigger_may_leave_value_out_and_keeps_source() -> None:
    c = from_json({"type": "control", "name": "reset"}, styles=STYLES, source="ws:3")
    assert c == Control("reset", None, "ws:3")


def test_osc_forms() -> None:
    assert osc("style", "hiphop", 0.25) == Control("style", ("hiphop", 0.25), "osc:test")
    assert osc("style", "hiphop") == Control("style", ("hiphop", 1.0), "osc:test")
    assert osc("styles", 0.1, 0.2, 0.3, 0.4).value == (0.1, 0.2, 0.3, 0.4)  # type: ignore[union-attr]
    assert osc("energy", 1).value == 1.0  # type: ignore[union-attr]
    assert osc("mirror", True).value is True  # type: ignore[union-attr]
    assert osc("hold", 1).value is True  # type: ignore[union-attr]
    assert osc("hold", 0.0).value is False  # type: ignore[union-attr]
    assert osc("root", "center").value == "center"  # type: ignore[union-attr]
    assert osc("tempo/nudge", -0.25).value == -0.25  # type: ignore[union-attr]


def test_osc_triggers_fire_without_args_or_on_a_button_press_only() -> None:
    assert osc("reset") == Control("reset", None, "osc:test")
    assert osc("tempo/tap", 1.0) == Control("tempo/tap", None, "osc:test")
    assert osc("tempo/tap", True) is not None
    assert osc("tempo/tap", 0.0) is None  # button release
    refused(osc, "reset", "now", match="no argument")
    refused(osc, "reset", 1, 2, match="no argument")


def test_osc_refusals() -> None:
    refused(osc, "energy", match="exactly one")
    refused(osc, "energy", 1.0, 2.0, match="exactly one")
    refused(osc, "energy", "loud", match="number")
    refused(osc, "style", "house", 0.5, 1, match="name")
    refused(osc, "style", 0.5, match="style name")
    refused(osc, "styles", 1.0, match="4 weights")
    refused(osc, "jump", match="unknown OSC control")
    refused(lambda: from_osc("/other/control/energy", [1.0], prefix=P, styles=STYLES), match="/dancemuse/control/")
    refused(lambda: from_osc("/dancemuse/energy", [1.0], prefix=P, styles=STYLES), match="unknown OSC address")


def test_osc_prefix_is_configurable_and_trailing_slash_tolerated() -> None:
    c = from_osc("/show/control/energy", [0.5], prefix="/show/", styles=STYLES)
    assert c == Control("energy", 0.5, "")


def test_check_with_no_styles_names_the_fact() -> None:
    msg = refused(lambda: check("style", ["house", 1], styles=()))
    assert "no styles" in msg


class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_rate_limited_log_once_per_source_per_second(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    rl = RateLimitedLog(logging.getLogger("test.control"), interval=1.0, clock=clock)
    with caplog.at_level(logging.WARNING, logger="test.control"):
        assert rl.warn("a", "bad 1")
        assert not rl.warn("a", "bad 2")
        assert not rl.warn("a", "bad 3")
        assert rl.warn("b", "bad b")  # other source: its own budget
        clock.t += 1.01
        assert rl.warn("a", "bad 4")
    lines = [r.getMessage() for r in caplog.records]
    assert lines == ["a: bad 1", "b: bad b", "a: bad 4 (2 more from this source held back)"]
    assert rl.suppressed == 2


def test_rate_limited_log_table_is_bounded() -> None:
    clock = FakeClock()
    rl = RateLimitedLog(logging.getLogger("test.control.bounded"), max_sources=8, clock=clock)
    for i in range(100):
        clock.t += 0.001
        rl.warn(f"src{i}", "x")
    assert len(rl._last) <= 8
