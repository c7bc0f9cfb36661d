"""live/app.py: the objects alive after start-up are frozen out of the garbage collector's
sight for the show (a full collection then skips the model and the modules) and given back
when the show closes. A real app on the demo song, fast mode."""

from __future__ import annotations

import asyncio
import gc
from pathlib import Path

from live.app import LiveApp
from live.audio import ArraySource
from model.config import defaults


def test_start_up_objects_are_frozen_for_the_show_and_unfrozen_at_close(model_path: Path) -> None:
    from model.synth_music import demo_song

    cfg = defaults()
    cfg["model"].update(path=str(model_path), provider="cpu")
    cfg["osc"]["enabled"] = False
    cfg["websocket"]["enabled"] = False
    song = demo_song(seconds=1.0, seed=1).audio
    app = LiveApp(cfg, source=ArraySource(song, sample_rate=24000, block=800, fast=True, name="demo"))
    seen: list[int] = []
    app.on_frame = lambda f: seen.append(gc.get_freeze_count()) if not seen else None
    assert gc.get_freeze_count() == 0

    asyncio.run(app.run())

    assert app.engine.frames > 0
    assert seen and seen[0] > 1000  # frozen while the frames flowed: the model, modules, buffers
    assert gc.get_freeze_count() == 0  # close() gave them back to the collector
