"""bench/feet.py: the old path switches the stages of sessions 47, 57, 64, 66, 67 and 69 off only inside it (even when the
inside fails), and the table prints old / new / data with a dash where a figure is missing."""

from __future__ import annotations

import numpy as np
import pytest

import live.post as lp
from bench.feet import FIGURES, STAGES, figures, old_path, table
from live.post import PostProcessor
from model import skeleton as sk


def test_the_old_path_turns_the_stages_off_inside_and_restores_them() -> None:
    kept = {name: getattr(lp, name) for name in STAGES}
    assert all(v > 0 for v in kept.values())
    with old_path():
        assert all(getattr(lp, name) == 0.0 for name in STAGES)
        turn = PostProcessor(fps=30)._turn
        assert turn.max_turn == 0.0 and turn.max_step == 0.0  # built inside: no knee turn limits
        assert PostProcessor(fps=30).step_spread == 0.0  # nor footwork steps
        assert PostProcessor(fps=30)._pin_k == 0.0  # nor planted feet set on the floor
    assert {name: getattr(lp, name) for name in STAGES} == kept
    assert PostProcessor(fps=30)._turn.max_turn > 0.0 and PostProcessor(fps=30)._turn.max_step > 0.0
    with pytest.raises(RuntimeError), old_path():
        raise RuntimeError("a dance that failed")
    assert {name: getattr(lp, name) for name in STAGES} == kept


def test_the_table_reads_old_new_and_data_per_style_and_their_mean() -> None:
    still = np.repeat(sk.rest_pose(on_floor=True)[None], 60, axis=0).astype(np.float64)
    f = figures(still, still, fps=30)
    assert f["jerk"] == 0.0 and f["skate"] == 0.0 and f["pops"] == 0.0 and f["air"] == 0.0
    assert np.isnan(f["legs"]) and f["apart"] == 0.0  # the hands rest: no foot / hand ratio
    assert abs(f["gap"]) < 1e-6  # standing on the floor
    assert f["straight"] == 1.0  # the rest pose's legs are at 99.9 % of their length
    old = {"a": dict(f, jerk=400.0), "b": dict(f, jerk=200.0)}
    new = {"a": dict(f, jerk=300.0), "b": dict(f, jerk=100.0)}
    out = table(["a", "b"], old, new, {"a": figures(still, None, fps=30)})
    lines = out.splitlines()
    assert len(lines) == 4 and all(title in lines[0] for _, title, _ in FIGURES)
    assert "400 / 300 / 0" in lines[1] and "200 / 100 / -" in lines[2]  # b has no data
    assert lines[3].startswith("mean") and "300 / 200 / 0" in lines[3]
    assert "- / - / -" in lines[1]  # foot / hand of a dancer whose hands rest
