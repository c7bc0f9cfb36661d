"""The visualizer draws an ensemble: `dancemuse live --dancers 4` in headless Chromium shows
four figures, each in its colour, where the server puts them (starts a real server)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from vis_servers import chromium_page, get_json, start_live, stop_live


@pytest.fixture(scope="module")
def ensemble_server(model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    proc, url = start_live(model_path, tmp_path_factory.mktemp("ens") / "live.log",
                           "--dancers", "4", "--ensemble-mode", "canon", "--formation", "line")
    yield url
    stop_live(proc)


def test_page_shows_four_dancers_each_in_its_colour(ensemble_server: str, artifacts: Path) -> None:
    assert get_json(ensemble_server + "/status")["dancers"] == 4
    with chromium_page(ensemble_server + "/?panel=0") as pg:
        pg.wait_for_function("window.dancemuse && dancemuse.state === 'live' && dancemuse.frames > 30", timeout=20000)
        pg.wait_for_timeout(500)
        res = pg.evaluate(
            """() => {
            const S = dancemuse, r = S.renderer, c = r.canvas, g = c.getContext('2d');
            const cols = [[56, 225, 255], ...r.dancerColors.slice(1)];
            const ens = r.others, out = [];
            const p = [0, 0, 0], q = [0, 0, 0];
            for (let d = 0; d < r.dancers; d++) {
              let hit = 0, tried = 0;
              for (const [a, bb] of [[11, 13], [12, 14], [13, 15], [14, 16], [5, 7], [6, 8]]) {
                const o = d * 51;
                const x = 0.5 * (ens[o + a * 3] + ens[o + bb * 3]), y = 0.5 * (ens[o + a * 3 + 1] + ens[o + bb * 3 + 1]);
                const z = 0.5 * (ens[o + a * 3 + 2] + ens[o + bb * 3 + 2]);
                if (!r.cam.project(x, y, z, p)) continue;
                tried++;
                const px = g.getImageData(Math.round(p[0]) - 4, Math.round(p[1]) - 4, 9, 9).data;
                let best = 1e9;
                for (const col of (d === 0 ? [cols[0], [255, 79, 216]] : [cols[d]])) {
                  for (let i = 0; i < px.length; i += 4) {
                    best = Math.min(best, Math.hypot(px[i] - col[0], px[i + 1] - col[1], px[i + 2] - col[2]));
                  }
                }
                if (best < 60) hit++;
              }
              out.push({tried, hit});
            }
            return {dancers: S.dancers, others: ens ? ens.length : 0, figures: out,
                    layout: S.hello.binary_layout.slice(-1)[0]};
        }"""
        )
        pg.screenshot(path=str(artifacts / "visualizer_ensemble.png"))
    assert not pg.errors, pg.errors
    assert res["dancers"] == 4 and res["others"] == 204 and res["layout"] == "dancers*204", res
    for d, fig in enumerate(res["figures"]):
        assert fig["tried"] >= 4 and fig["hit"] >= fig["tried"] // 2, (d, res["figures"])
