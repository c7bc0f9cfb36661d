"""bench/step.py's offline-generation figure measures the path `dancemuse generate` runs (the
numpy weights exported beside the shipped model), with the block-1 ONNX step beside it; real
model, real demo song, no timed assertions."""

from __future__ import annotations

from pathlib import Path

from bench import step as bench_step
from live.runtime import resolve_model_path


def test_the_offline_figure_is_the_generate_commands_path_with_the_onnx_step_beside() -> None:
    model = Path(resolve_model_path("models/default.onnx"))
    g = bench_step.bench_generate(model, seconds=4.0)
    assert g["default_kind"] == "NumpyGenerator"  # the exported numpy weights, as `generate` picks them
    assert g["frames"] == 120 and g["seconds"] == 4.0
    assert g["default_speed"] > 0 and g["speed"] > 0 and g["default_elapsed"] > 0 and g["look_speed"] > 0
    assert g["feat_ms"] > 0 and g["step_ms"] > 0 and g["post_ms"] > 0


def test_the_pick_figure_times_every_decision_of_the_live_step() -> None:
    model = Path(resolve_model_path("models/default.onnx"))
    p = bench_step.bench_pick(model, seconds=12.0)
    # decisions on the redraws at 6, 8 and 10 s (the first with 4.5 s of dance behind it)
    assert p["draws"] == 8 and p["decisions"] == 3 and p["frames"] == 360
    assert p["roll_ms"] > 0 and p["choose_ms"] > 0 and p["decision_ms"] >= p["roll_ms"]
