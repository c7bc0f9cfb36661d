"""The rehearsal room in headless Chromium against the real `dancemuse live` (demo song):
the last 8 counts loop in sync with the live beat and repeat exactly; half speed takes two
live beats per count; stepping moves count by count; the phrase saves as dance JSON."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from vis_servers import chromium_page, start_live, stop_live


@pytest.fixture(scope="module")
def live_url(model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    proc, url = start_live(model_path, tmp_path_factory.mktemp("rh") / "live.log")
    yield url
    stop_live(proc)


def test_phrase_loop_repeats_exactly_in_sync_with_the_live_beat(live_url: str, artifacts: Path) -> None:
    with chromium_page(live_url + "/?panel=1") as pg:
        pg.wait_for_function("window.dancemuse && dancemuse.state === 'live' && dancemuse.rehearsal", timeout=20000)
        # enough music for 8 counts that end on a live 1
        pg.wait_for_function("dancemuse.rehearsal.capture(8)", timeout=30000, polling=250)
        ph = pg.evaluate("({counts: dancemuse.rehearsal.phrase.counts, frames: dancemuse.rehearsal.phrase.frames,"
                         " beats: dancemuse.rehearsal.phrase.beatIdx})")
        assert ph["counts"] == 8 and len(ph["beats"]) == 9 and ph["beats"][0] == 0 and ph["beats"][-1] == ph["frames"]
        pg.wait_for_function("dancemuse.rehearsal.log.some((e) => e.loop >= 2)", timeout=30000, polling=200)
        log = pg.evaluate("dancemuse.rehearsal.log")
        big = pg.evaluate("document.querySelector('#rh-count').textContent")
        pg.screenshot(path=str(artifacts / "visualizer_rehearsal.png"))
        # half speed: one phrase count per two live beats
        pg.evaluate("dancemuse.rehearsal.setSpeed(0.5); dancemuse.rehearsal.log = []")
        pg.wait_for_function("dancemuse.rehearsal.log.length >= 5", timeout=30000, polling=200)
        slow = pg.evaluate("dancemuse.rehearsal.log")
        pg.evaluate("dancemuse.rehearsal.step(1)")
        p1 = pg.evaluate("dancemuse.rehearsal.positionAt(performance.now())")
        pg.keyboard.press("ArrowRight")
        p2 = pg.evaluate("dancemuse.rehearsal.positionAt(performance.now())")
        doc = pg.evaluate("dancemuse.rehearsal.toJson()")
    assert not pg.errors, pg.errors
    # every live beat moves the loop one count on, 1..8 then 1 again
    counts = [e["count"] for e in log]
    assert all((b_ - a) % 8 == 1 for a, b_ in zip(counts, counts[1:], strict=False)), counts
    assert log[0]["count"] == 1  # the phrase's 1 lands on the live 1
    # the same count of different loops shows exactly the same pose
    by_count: dict[int, set[float]] = {}
    for e in log:
        by_count.setdefault(e["count"], set()).add(e["sum"])
    assert len(by_count) == 8 and all(len(v) == 1 for v in by_count.values()), by_count
    assert len({e["loop"] for e in log}) >= 2
    assert big in {str(c) for c in range(1, 9)}
    steps = [round(b_["pos"] - a["pos"], 6) % 8 for a, b_ in zip(slow, slow[1:], strict=False)]
    assert all(s == 0.5 for s in steps), slow
    assert p1 == int(p1) and (p2 - p1) % 8 == 1
    assert len(doc["frames"]) == ph["frames"] and len(doc["beats"]) == 8 and doc["meta"]["counts"] == 8
    assert set(doc["frames"][0]["joints"]) >= {"nose", "left_ankle"}
