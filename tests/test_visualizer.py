"""The visualizer page in headless Chromium (playwright) against a live server.

The page must connect, receive frames, draw a figure (pixels differ from the background
where the dancer stands), send a control made by dragging a slider in the page that
the server applies (visible in /status), run the song upload flow, and leave a
screenshot of the live view in tests/artifacts/.

Server: the real ``dancemuse live`` (subprocess, demo input, real time, free port) when
models/default.onnx exists; otherwise a small stand-in server (tests/vis_servers.py:
plain websockets, the same wire protocol, synthetic dancing frames) so the page can be
tested before the model is shipped. ``PYTHONPATH=. python tests/test_visualizer.py`` runs
the stand-in on port 8899 for a look in a browser.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from vis_servers import (
    DEFAULT_MODEL,
    LAUNCH_ARGS,
    VIS,
    StandInServer,
    WebServerThread,
    free_port,
    get_json,
    start_live,
    stop_live,
    wav_file,
)

from model.config import defaults


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The real ``dancemuse live`` with the shipped model; the stand-in until that model
    exists. DANCEMUSE_VIS_SERVER=real forces the real app (with a toy model if needed),
    =standin the stand-in."""
    mode = os.environ.get("DANCEMUSE_VIS_SERVER", "auto")
    if mode == "real" or (mode == "auto" and DEFAULT_MODEL.exists()):
        model = DEFAULT_MODEL
        tmp = tmp_path_factory.mktemp("live")
        if not model.exists():
            from export.toy import build_toy_model
            from model.features import FeatureSpec

            spec = FeatureSpec.from_config(defaults()["features"])
            model = tmp / "toy.onnx"
            build_toy_model(model, feature_spec=spec.to_dict(), feature_dim=spec.dim)
        proc, url = start_live(model, tmp / "live.log")
        yield url
        stop_live(proc)
        return
    port = free_port()
    srv = StandInServer(port=port).start()
    yield f"http://127.0.0.1:{port}"
    srv.stop()


@pytest.fixture(scope="module")
def browser() -> Any:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("Debian chromium is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install playwright)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, headless=True, args=LAUNCH_ARGS)
        yield b
        b.close()


@pytest.fixture()
def page(browser: Any) -> Any:
    ctx = browser.new_context(viewport={"width": 1280, "height": 720})
    pg = ctx.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.errors = errors
    yield pg
    ctx.close()
    assert not errors, f"JavaScript errors on the page: {errors}"

def figure_pixels(pg: Any) -> dict[str, float]:
    """Where the dancer's joints are projected, are the pixels bright (the glowing figure)?
    Returns the share of on-canvas joints with a bright pixel in a 5x5 patch, how many
    joints are on the canvas, and the share of bright pixels along the left edge."""
    return pg.evaluate(
        """() => {
        const r = dancemuse.renderer, c = r.canvas, g = c.getContext('2d');
        const bright = (x, y) => { const d = g.getImageData(x - 2, y - 2, 5, 5).data;
          for (let i = 0; i < d.length; i += 4) if (d[i] + d[i+1] + d[i+2] > 300) return true; return false; };
        let on = 0, lit = 0;
        for (let j = 0; j < 17; j++) {
          const x = Math.round(r.scr[j * 3]), y = Math.round(r.scr[j * 3 + 1]);
          if (!r.ok[j] || x < 2 || y < 2 || x > c.width - 3 || y > c.height - 3) continue;
          on++; if (bright(x, y)) lit++;
        }
        const e = g.getImageData(0, 0, Math.floor(c.width / 12), c.height).data; let n = 0;
        for (let i = 0; i < e.length; i += 4) if (e[i] + e[i+1] + e[i+2] > 300) n++;
        return {joints_on_canvas: on, lit: on ? lit / on : 0, edge: n / (e.length / 4)};
    }"""
    )


def assert_figure(pg: Any) -> None:
    px = figure_pixels(pg)
    assert px["joints_on_canvas"] >= 15, px   # the dancer is in view
    assert px["lit"] >= 0.8, px               # and drawn where its joints are
    assert px["edge"] < 0.01, px              # not everywhere


# ---------------------------------------------------------------------------------- tests


def test_page_connects_receives_frames_and_draws_a_dancer(server: str, page: Any, artifacts: Path) -> None:
    page.goto(server + "/?panel=1")
    page.wait_for_function("window.dancemuse && window.dancemuse.state === 'live' && window.dancemuse.frames > 20", timeout=15000)
    page.wait_for_timeout(500)
    s = page.evaluate("({frames: dancemuse.frames, drawn: dancemuse.drawn, fps: dancemuse.fps, "
                      "styles: dancemuse.hello.model.styles})")
    assert s["drawn"] > 10 and s["styles"]
    assert page.locator("#styles input[type=range]").count() == len(s["styles"])
    assert_figure(page)
    page.screenshot(path=str(artifacts / "visualizer_live.png"))


@pytest.mark.parametrize(("name", "above"), [("energy", 1.3), ("style_strength", 4.0)])
def test_dragging_a_slider_reaches_the_server(server: str, page: Any, name: str, above: float) -> None:
    page.goto(server + "/")
    page.wait_for_function("window.dancemuse && dancemuse.state === 'live'", timeout=15000)
    energy = page.locator("#ctl-" + name)
    box = energy.bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.5, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.85, y, steps=8)
    page.mouse.up()
    page.wait_for_function("document.getElementById('control-status').dataset.acks > 0", timeout=5000)
    want = float(energy.input_value())
    assert want > above
    deadline = time.time() + 5
    while time.time() < deadline:
        got = get_json(server + "/status")["controls"][name]
        if abs(got - want) < 0.011:
            break
        time.sleep(0.1)
    assert abs(got - want) < 0.011, (got, want)
    assert name in page.locator("#control-status").inner_text()


def test_style_names_stay_clear_of_their_sliders(server: str, page: Any) -> None:
    """The shipped model's nine style names ("contemporary" ran over its slider in an 84-px
    column) each fit their cell left of the slider; a name too long for any cell is cut with an
    ellipsis, the whole name in its tooltip, and still ends before the slider."""
    page.goto(server + "/?panel=1")
    page.wait_for_function("window.dancemuse && dancemuse.state === 'live'", timeout=15000)
    names = ["ballet", "breaking", "contemporary", "freestyle", "hiphop", "house", "locking", "popping",
             "salsa", "contemporary_ballet_fusion"]
    rows = page.evaluate(
        """(names) => { dancemuse.controls.setHello({model: {styles: names}});
        return Array.from(document.querySelectorAll('#styles .style-row')).map((row) => {
          const n = row.querySelector('.name'), s = row.querySelector('input');
          return {text: n.textContent, title: n.title, right: n.getBoundingClientRect().right,
                  slider: s.getBoundingClientRect().left, cut: n.scrollWidth > n.clientWidth}; }); }""",
        names)
    assert [r["text"] for r in rows] == names
    for r in rows:
        assert r["right"] <= r["slider"], r  # the name's box ends before its slider begins
        assert r["title"] == r["text"]
        assert r["cut"] == (r["text"] == names[-1]), r  # only the over-long name is cut


@contextlib.contextmanager
def viewport_page(browser: Any, server: str, width: int, height: int) -> Any:
    """A page of the given size on the visualizer, drawing frames (its own context, closed after)."""
    ctx = browser.new_context(viewport={"width": width, "height": height})
    try:
        pg = ctx.new_page()
        pg.goto(server + "/")
        pg.wait_for_function("window.dancemuse && dancemuse.frames > 30", timeout=15000)
        pg.wait_for_timeout(300)
        yield pg
    finally:
        ctx.close()


def test_on_a_small_screen_the_dancer_is_framed_below_the_hud(server: str, browser: Any) -> None:
    """At 1024 x 600 the HUD spans over half the stage left of the panel, so the dancer is framed
    below it. The HUD reaches its size only after the hello (the model's line): the stage used to
    keep the first layout's full height there, and the HUD covered the dancer's head."""
    with viewport_page(browser, server, 1024, 600) as pg:
        hud = pg.evaluate("(() => { const b = document.getElementById('hud').getBoundingClientRect();"
                          " return [b.right, b.bottom]; })()")
        rect = pg.evaluate("dancemuse.renderer.stageRect")
        assert hud[0] > rect[2] * 0.5, (hud, rect)  # the case at hand: the HUD spans over half the stage
        assert rect[1] >= hud[1] - 0.5, (hud, rect)  # the stage begins below the HUD
        head_y = pg.evaluate("dancemuse.renderer.scr[1] / dancemuse.renderer.dpr")  # the nose, CSS px
        assert head_y > hud[1], (head_y, hud)


def test_on_an_800_wide_screen_the_view_bar_leaves_the_dancers_feet_clear(server: str, browser: Any) -> None:
    """At 800 x 600 the view bar wraps to two rows beside the panel, over half the stage's width:
    the stage ends above it, so the dancer's ankles are drawn above the buttons, not behind them."""
    with viewport_page(browser, server, 800, 600) as pg:
        bar = pg.evaluate("(() => { const b = document.getElementById('viewbar').getBoundingClientRect();"
                          " return [b.top, b.width, b.height]; })()")
        rect = pg.evaluate("dancemuse.renderer.stageRect")
        assert bar[2] > 60 and bar[1] > rect[2] * 0.5, (bar, rect)  # two rows, over half the stage wide
        assert rect[1] + rect[3] <= bar[0] + 0.5, (bar, rect)  # the stage ends above the bar
        low = pg.evaluate("(() => { const r = dancemuse.renderer; return Math.max(r.scr[15 * 3 + 1],"
                          " r.scr[16 * 3 + 1]) / r.dpr; })()")  # the lower ankle, CSS px
        assert low < bar[0], (low, bar)


def test_the_panel_shows_the_style_strength_a_style_is_fed(server: str, page: Any) -> None:
    """A model that feeds a style more strongly (style_gain: the shipped model's locking x2)
    shows the strength fed under the slider, from /status; a style fed as the slider says hides it."""
    page.goto(server + "/?panel=1")
    page.wait_for_function("window.dancemuse && dancemuse.state === 'live'", timeout=15000)
    styles = page.evaluate("dancemuse.hello.model.styles")
    page.evaluate("dancemuse.controls.sendNow('style_strength', 2)")
    gained = get_json(server + "/status").get("style_strength_applied") is not None and "locking" in styles
    for name, fed in (("locking", "fed 4.00 for this style mix"), ("ballet", None), ("", None)):
        w = [1.0 if s == name or not name else 0.0 for s in styles]  # "": the equal mix, fed 2.22 to no effect
        page.evaluate(f"dancemuse.controls.sendNow('styles', {w})")
        if gained and fed:
            page.wait_for_function(f"document.getElementById('fed-style_strength').textContent === '{fed}' "
                                   "&& !document.getElementById('fed-style_strength').hidden", timeout=8000)
            assert get_json(server + "/status")["style_strength_applied"] == 4.0
        else:  # fed as the slider says (or a server without the figure): nothing shown
            page.wait_for_timeout(2500)  # one /status poll
            assert page.locator("#fed-style_strength").is_hidden()


def test_the_panel_says_where_the_energy_stops_making_a_style_bigger(server: str, page: Any) -> None:
    """The shipped model's ballet reaches its measured energy ceiling at energy 1.6: with the slider
    at 2 the panel says so under it, from /status energy_reach; breaking (reached at 2.5, past the
    slider's top) and energy 1 show nothing."""
    page.goto(server + "/?panel=1")
    page.wait_for_function("window.dancemuse && dancemuse.state === 'live'", timeout=15000)
    styles = page.evaluate("dancemuse.hello.model.styles")
    page.evaluate("dancemuse.controls.sendNow('energy', 2)")
    page.locator("#ctl-energy").fill("2")
    reach = get_json(server + "/status").get("energy_reach")
    for name, energy, said in (("ballet", 2, True), ("breaking", 2, False), ("ballet", 1, False)):
        page.evaluate(f"dancemuse.controls.sendNow('energy', {energy})")
        page.locator("#ctl-energy").fill(str(energy))
        page.evaluate(f"dancemuse.controls.sendNow('styles', {[1.0 if s == name else 0.0 for s in styles]})")
        if reach is not None and "ballet" in styles and said:
            page.wait_for_function("!document.getElementById('fed-energy').hidden", timeout=8000)
            at = get_json(server + "/status")["energy_reach"]
            assert at < 2 and page.locator("#fed-energy").inner_text() == f"no bigger past {at:.2f} for this style mix"
        else:  # under the reach (or a server without the figure): nothing shown
            page.wait_for_timeout(2500)  # one /status poll
            assert page.locator("#fed-energy").is_hidden()
    page.evaluate("dancemuse.controls.sendNow('energy', 1)")
    page.evaluate(f"dancemuse.controls.sendNow('styles', {[1.0] * len(styles)})")


def test_the_feel_selector_reaches_the_server_and_follows_its_state(server: str, page: Any) -> None:
    page.goto(server + "/")
    page.wait_for_function("window.dancemuse && dancemuse.state === 'live'", timeout=15000)
    assert page.locator("#ctl-feel").input_value() == "1"
    page.select_option("#ctl-feel", "0.5")
    page.wait_for_function("document.getElementById('control-status').dataset.acks > 0", timeout=5000)
    assert "tempo/feel" in page.locator("#control-status").inner_text()
    deadline = time.time() + 5
    while time.time() < deadline and get_json(server + "/status")["controls"]["feel"] != 0.5:
        time.sleep(0.1)
    assert get_json(server + "/status")["controls"]["feel"] == 0.5
    # a change from elsewhere (another client, OSC) moves the selector
    page.evaluate("dancemuse.controls.sendNow('tempo/feel', 2)")
    page.wait_for_function("document.getElementById('ctl-feel').value === '2'", timeout=5000)
    page.select_option("#ctl-feel", "0")  # auto: each style nearest its own tempo
    deadline = time.time() + 5
    while time.time() < deadline and get_json(server + "/status")["controls"]["feel"] != 0.0:
        time.sleep(0.1)
    assert get_json(server + "/status")["controls"]["feel"] == 0.0


def test_upload_flow_returns_a_dance_that_plays(server: str, page: Any, tmp_path: Path) -> None:
    song = wav_file(tmp_path / "click.wav", seconds=4.0)
    page.goto(server + "/")
    page.wait_for_function("window.dancemuse && dancemuse.state === 'live'", timeout=15000)
    page.set_input_files("#upload-file", str(song))
    page.click("#upload-go")
    page.wait_for_function("document.getElementById('upload').dataset.danceId", timeout=30000)
    assert page.evaluate("dancemuse.mode") == "song"
    # the song plays from the page and the dancer follows its clock
    page.wait_for_function("document.getElementById('upload-audio').currentTime > 0.5", timeout=10000)
    assert abs(page.evaluate("dancemuse.upload.dance.n") - 4 * 30) <= 3  # 4 s at 30 fps
    href = page.get_attribute("#dl-bvh", "href")
    assert href and href.endswith(".bvh")
    from urllib.request import urlopen

    with urlopen(server + href, timeout=5) as r:
        assert r.read(9) == b"HIERARCHY"
    assert_figure(page)
    page.click("#upload-live")
    assert page.evaluate("dancemuse.mode") == "live"


def test_projection_mode_hides_the_ui(server: str, page: Any, artifacts: Path) -> None:
    page.goto(server + "/")
    page.wait_for_function("window.dancemuse && dancemuse.frames > 5", timeout=15000)
    page.keyboard.press("p")
    assert page.locator("#panel").is_hidden() and page.locator("#hud").is_hidden()
    page.keyboard.press("t")
    page.wait_for_timeout(400)
    assert page.evaluate("dancemuse.renderer.options") == {"projection": True, "trails": True, "mirror": False}
    assert_figure(page)
    page.screenshot(path=str(artifacts / "visualizer_projection.png"))


def test_token_is_passed_on_errors_shown_and_the_page_reconnects(page: Any) -> None:
    pytest.importorskip("live.ws_server", reason="live/ws_server.py not present")
    port = free_port()
    srv = WebServerThread(port=port, token="s3cret").start()
    url = f"http://127.0.0.1:{port}/"
    try:
        page.goto(url + "?token=wrong")
        page.wait_for_timeout(1500)
        assert page.evaluate("dancemuse.frames") == 0
        assert page.evaluate("dancemuse.state") in ("reconnecting", "connecting")
        page.goto(url + "?token=s3cret")
        page.wait_for_function("dancemuse.state === 'live' && dancemuse.frames > 10", timeout=15000)
        # an out-of-range control: the server's one-line error shows in the panel
        page.evaluate("dancemuse.controls.sendNow('energy', 7)")
        page.wait_for_function("document.getElementById('control-status').dataset.errors > 0", timeout=5000)
        assert "energy" in page.locator("#control-status").inner_text()
        page.click("#ctl-tap")
        page.click("#ctl-reset")
        page.wait_for_function("document.getElementById('control-status').dataset.acks >= 2", timeout=5000)
        srv.stop()
        page.wait_for_function("dancemuse.state !== 'live'", timeout=10000)
        seen = page.evaluate("dancemuse.frames")
        srv = WebServerThread(port=port, token="s3cret").start()
        page.wait_for_function(f"dancemuse.state === 'live' && dancemuse.frames > {seen + 10}", timeout=20000)
    finally:
        srv.stop()


def test_orbit_zoom_and_camera_presets(server: str, page: Any) -> None:
    page.goto(server + "/?panel=0")
    page.wait_for_function("window.dancemuse && dancemuse.frames > 5", timeout=15000)
    cam = "({yaw: dancemuse.renderer.cam.yaw, pitch: dancemuse.renderer.cam.pitch, dist: dancemuse.renderer.cam.dist})"
    before = page.evaluate(cam)
    page.mouse.move(640, 360)
    page.mouse.down()
    page.mouse.move(520, 300, steps=6)
    page.mouse.up()
    page.mouse.wheel(0, -400)
    after = page.evaluate(cam)
    assert after["yaw"] > before["yaw"] + 0.5 and after["pitch"] < before["pitch"]
    assert after["dist"] < before["dist"] * 0.8
    page.keyboard.press("2")  # side view
    page.wait_for_function("Math.abs(Math.abs(dancemuse.renderer.cam.yaw) - Math.PI / 2) < 0.05", timeout=5000)


def test_binary_decoder_reads_the_layout(page: Any, server: str) -> None:
    page.goto(server + "/")
    vals = [7, 1.5, 12.0, 128.0, 1.0, 3, 2, 0.75] + [float(i) / 10 for i in range(51)]
    got = page.evaluate(
        """(vals) => { const b = new ArrayBuffer(vals.length * 4); const dv = new DataView(b);
        vals.forEach((v, i) => dv.setFloat32(i * 4, v, true));
        const f = new DM.net.FrameDecoder().decodeBinary(b);
        return [f.index, f.t, f.latency_ms, f.tempo, f.beat, f.beat_in_bar, f.bar, Array.from(f.joints)]; }""",
        vals,
    )
    assert got[:7] == [7, 1.5, 12.0, 128.0, True, 3, 2]
    assert np.allclose(got[7], vals[8:], atol=1e-6)


def take_screenshots(url: str, out: Path) -> list[Path]:
    """The README's pictures: live view with the controls, projection mode, the panel."""
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=shutil.which("chromium"), headless=True, args=LAUNCH_ARGS)
        pg = b.new_page(viewport={"width": 1280, "height": 720})
        pg.goto(url)
        pg.wait_for_function("window.dancemuse && dancemuse.frames > 60", timeout=20000)
        pg.locator("#ctl-energy").fill("1.3")
        pg.locator("#ctl-energy").dispatch_event("change")
        pg.wait_for_function("document.getElementById('control-status').dataset.acks > 0", timeout=5000)
        pg.wait_for_timeout(700)
        pg.screenshot(path=str(out / "live.png"))
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            song = wav_file(Path(tmp) / "my-song.wav", seconds=8.0)
            pg.set_input_files("#upload-file", str(song))
            pg.click("#upload-go")
            pg.wait_for_function("document.getElementById('upload').dataset.danceId", timeout=60000)
        with contextlib.suppress(Exception):  # a server without MP4 support: picture without it
            pg.wait_for_selector("#dl-mp4:not(.disabled)", timeout=60000)
        pg.set_viewport_size({"width": 1280, "height": 1060})
        pg.wait_for_timeout(1500)
        pg.evaluate("document.getElementById('panel').scrollTop = 0")  # from the top, whatever took focus
        pg.locator("#panel").screenshot(path=str(out / "controls.png"))
        pg.set_viewport_size({"width": 1280, "height": 720})
        pg.click("#upload-live")
        pg.keyboard.press("p")
        pg.keyboard.press("t")
        pg.wait_for_timeout(1500)
        pg.screenshot(path=str(out / "projection.png"))
        b.close()
    return [out / n for n in ("live.png", "controls.png", "projection.png")]


if __name__ == "__main__":  # pragma: no cover - manual preview and README screenshots
    import sys

    if "--screenshots" in sys.argv:
        # PYTHONPATH=. python tests/test_visualizer.py --screenshots [URL of a running server]: the README's
        # come from `dancemuse live --loop` (the shipped model); without a URL, the four-style stand-in
        rest = [a for a in sys.argv[1:] if a != "--screenshots"]
        srv = None if rest else StandInServer(port=free_port()).start()
        target = rest[0] if rest else f"http://127.0.0.1:{srv.port}/"
        for f in take_screenshots(target, VIS / "screenshots"):
            print("wrote", f)
        if srv is not None:
            srv.stop()
        sys.exit(0)
    srv = StandInServer(port=8899).start()
    print("stand-in server on http://127.0.0.1:8899/ (Ctrl-C to stop)")
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        srv.stop()
