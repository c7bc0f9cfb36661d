"""Ensemble: N dancers from one stream; canon exactly on the beat grid; formations; free dancers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from live.ensemble import (
    Ensemble,
    EnsembleRecorder,
    EnsembleSettings,
    FanOutGenerator,
    build,
    formation_positions,
    mirror_pose,
)
from model import skeleton as sk
from model.config import load_config
from model.errors import ConfigError


def _run(ens: Ensemble, seconds: float, rec: EnsembleRecorder | None = None) -> None:
    from live.generate import load_song

    audio, sr, _ = load_song("demo", demo_seconds=seconds)
    ens.engine.prepare(sr=sr, warmup=False)
    for s in range(0, len(audio), 2048):
        for f in ens.process(audio[s:s + 2048], sr=sr):
            if rec is not None:
                rec.add(f)


def test_four_dancers_in_canon_repeat_the_dancer_before_them_one_beat_later(model_path: Path, tmp_path: Path) -> None:
    from live.runtime import load_generator

    cfg = load_config(None)
    cfg["model"]["path"] = str(model_path)
    ens = build(cfg, load_generator(cfg), settings=EnsembleSettings(dancers=4, mode="canon", canon_beats=1))
    rec = EnsembleRecorder(tmp_path / "show.npz", ens)
    _run(ens, 12.0, rec)
    rec.flush()
    with np.load(tmp_path / "show.npz") as z:
        poses, pos, beats = z["poses"], z["positions"], z["beats"]
    assert poses.shape[1:] == (4, 17, 3) and len(beats) >= 12
    local = poses - pos[None, :, None, :]  # each dancer at its own stage position
    checked = 0
    for i in range(1, 4):
        for j in range(i, len(beats) - 1):  # dancer i has entered by beat j
            u_max = min(beats[j + 1] - beats[j], beats[j] - beats[j - 1])
            for u in range(u_max):
                err = np.abs(local[beats[j] + u, i] - local[beats[j - 1] + u, i - 1]).max()
                assert err <= 1e-5, (i, j, u, err)
                checked += 1
    assert checked > 600
    # and the canon is not trivially a frozen copy: dancers differ from each other at the same time
    assert np.abs(local[beats[-2], 1] - local[beats[-2], 0]).max() > 1e-3


def test_formations_place_dancers_apart_and_centred() -> None:
    for form in ("line", "arc", "v", "grid"):
        for n in range(1, 9):
            p = formation_positions(n, form, 1.2)
            assert p.shape == (n, 3) and np.all(p[:, 1] == 0)
            if n > 1:
                d = np.linalg.norm(p[:, None] - p[None], axis=-1) + np.eye(n) * 9
                assert d.min() >= 0.5, (form, n)
                assert abs(p[:, 0].mean()) < 1e-5, (form, n)
    assert formation_positions(1, "line")[0].tolist() == [0, 0, 0]


def test_mirror_swaps_left_and_right_about_the_centre() -> None:
    pose = sk.rest_pose().astype(np.float32) + np.asarray([0.3, 0, 0], np.float32)
    out = mirror_pose(pose, np.zeros_like(pose))
    li, ri = sk.JOINT_INDEX["left_wrist"], sk.JOINT_INDEX["right_wrist"]
    assert out[li, 0] == pytest.approx(-pose[ri, 0]) and out[li, 1] == pytest.approx(pose[ri, 1])


def test_bad_ensemble_settings_are_one_line_errors() -> None:
    with pytest.raises(ConfigError, match="1..8"):
        EnsembleSettings(dancers=9)
    with pytest.raises(ConfigError, match="one per dancer"):
        EnsembleSettings(dancers=3, mode="free", styles=("house", "ballet"))
    with pytest.raises(ConfigError, match="formation"):
        EnsembleSettings(dancers=2, formation="circle")


class _Stub:
    """A generator whose pose depends on its seed, its style and the features."""

    fps = 30
    style_names = ("a", "b")
    control_names = ("energy", "variation")

    def __init__(self) -> None:
        self.seed = 0

    def reset(self, *, seed: int | None = None) -> None:
        self.seed = int(seed or 0)

    def step(self, features: np.ndarray, *, style: object = None, controls: object = None) -> np.ndarray:
        p = sk.rest_pose().astype(np.float32).copy()
        st = np.asarray(style if style is not None else [0.5, 0.5], np.float32)
        p[9, 1] += 0.1 * self.seed + 0.3 * float(st[1]) + 0.01 * float(np.tanh(features[0]))
        return p


def test_free_dancers_have_their_own_seed_and_style() -> None:
    cfg = load_config(None)
    cfg["live"]["smoothing"] = 0.0
    gens = [_Stub() for _ in range(3)]
    s = EnsembleSettings(dancers=3, mode="free", styles=("a", "b", "a"))
    ens = build(cfg, gens[0], settings=s, load_more=iter(gens[1:]).__next__)
    assert isinstance(ens.engine.generator, FanOutGenerator)
    assert [g.seed for g in gens] == [0, 1, 2]
    _run(ens, 3.0)
    last = ens.dancers(ens.engine.frames - 1) - ens.positions[:, None, :]
    wrist = last[:, 9, 1] - last[:, 10, 1]
    assert len({round(float(w), 3) for w in wrist}) == 3  # three different dancers


def test_free_dancers_follow_the_live_post_controls_and_hear_the_beat() -> None:
    from live.control import Control

    cfg = load_config(None)
    gens = [_Stub() for _ in range(2)]
    ens = build(cfg, gens[0], settings=EnsembleSettings(dancers=2, mode="free", styles=("a", "b")),
                load_more=iter(gens[1:]).__next__)
    ens.engine.apply(Control("groove", 0.25))
    ens.engine.apply(Control("smoothing", 0.1))
    _run(ens, 2.0)
    other = ens.posts[0]
    assert (other.groove, other.smoothing) == (0.25, 0.1)
    cues = ens.engine.cues[: ens.engine.frames]
    assert cues[:, 1].max() > 0 and cues[:, 2].max() > 0  # tempo and loudness reached the cue ring
    assert other._g_primed  # the second dancer's groove stage ran on those cues


def test_free_dancers_with_their_own_style_are_grooved_and_smoothed_as_that_style() -> None:
    """With a calibrated model (smoothing factor and groove profile per style) a free dancer of
    style b is smoothed, grooved and stepped as b while the lead dances a; a dancer without a style of
    its own follows the lead's."""
    from live.control import Control

    class Calibrated(_Stub):
        style_names = ("a", "b")
        meta = {"smoothing_scale": {"a": 1.0, "b": 0.0},
                "groove_profile": {"a": [-0.8, 0.0, 0.0, 0.0, 0.0, 0.0], "b": [-0.4, 0.0, -0.4, 0.0, 0.0, 0.0]},
                "footwork": {"a": 0.3, "b": 0.05}}

    cfg = load_config(None)
    cfg["live"]["smoothing"] = 0.4
    gens = [Calibrated() for _ in range(3)]
    ens = build(cfg, gens[0], settings=EnsembleSettings(dancers=3, mode="free", styles=("a", "b", "")),
                load_more=iter(gens[1:]).__next__)
    ens.engine.apply(Control("smoothing", 0.6))
    _run(ens, 1.0)
    lead, own, plain = ens.engine.post, ens.posts[0], ens.posts[1]
    assert lead.smoothing == pytest.approx(0.6) and own.smoothing == 0.0 and plain.smoothing == pytest.approx(0.6)
    assert lead._groove_speed(0.5) == pytest.approx(1.8, abs=2e-3)  # a: 1 - 0.8 cos, fastest mid-beat
    assert own._groove_speed(0.5) == pytest.approx(1.0, abs=2e-3)  # b slows on the half beat too
    assert own._groove_speed(0.0) == pytest.approx(0.2, abs=2e-3)
    assert plain._groove_speed(0.5) == pytest.approx(1.8, abs=2e-3)  # no style of its own: the lead's
    assert own._g_primed
    from live.post import STEP_SPREAD  # and steps as its style: b's data keeps its feet planted

    assert lead.step_spread == STEP_SPREAD and own.step_spread == 0.0 and plain.step_spread == STEP_SPREAD


def test_free_dancers_with_their_own_style_step_at_its_measured_spread() -> None:
    """A model calibrated with `calibrate --steps`: a free dancer of style b steps at b's spread
    while the lead steps at a's; a dancer without a style of its own at the lead's."""

    class Measured(_Stub):
        style_names = ("a", "b")
        meta = {"footwork": {"a": 0.3, "b": 0.3}, "step_spread": {"a": 0.04, "b": 0.09}}

    cfg = load_config(None)
    gens = [Measured() for _ in range(3)]
    ens = build(cfg, gens[0], settings=EnsembleSettings(dancers=3, mode="free", styles=("a", "b", "")),
                load_more=iter(gens[1:]).__next__)
    _run(ens, 0.5)
    lead, own, plain = ens.engine.post, ens.posts[0], ens.posts[1]
    assert lead.step_spread == pytest.approx(0.04) and own.step_spread == pytest.approx(0.09)
    assert plain.step_spread == pytest.approx(0.04)


def test_live_app_with_four_dancers_sends_all_over_osc_and_websocket_and_records_them(
        model_path: Path, tmp_path: Path) -> None:
    import asyncio
    import json
    import socket
    import time

    from pythonosc.osc_bundle import OscBundle
    from websockets.asyncio.client import connect

    from live.app import LiveApp
    from live.audio import ArraySource
    from live.wsproto import decode_binary
    from model.config import defaults
    from model.synth_music import demo_song

    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    rx.bind(("127.0.0.1", 0))
    rx.setblocking(False)
    cfg = defaults()
    cfg["model"]["path"] = str(model_path)
    cfg["osc"]["targets"] = [f"127.0.0.1:{rx.getsockname()[1]}"]
    cfg["osc"]["listen"] = ""
    cfg["websocket"]["port"] = 0
    cfg["websocket"]["queue"] = 1024
    cfg["live"]["record"] = str(tmp_path / "show.npz")
    cfg["ensemble"].update(dancers=4, mode="canon", canon_beats=1, formation="arc")
    song = demo_song(seconds=3.0, seed=1).audio
    app = LiveApp(cfg, source=ArraySource(song, sample_rate=24000, block=800, fast=True, name="demo"))
    n = int(3.0 * app.fps)
    assert app.status()["dancers"] == 4

    async def read(conn: object, want: int) -> tuple[dict, list]:
        hello = json.loads(await asyncio.wait_for(conn.recv(), 20))  # type: ignore[attr-defined]
        got: list = []
        while len(got) < want:
            m = await asyncio.wait_for(conn.recv(), 20)  # type: ignore[attr-defined]
            if isinstance(m, bytes):
                got.append(decode_binary(m))
            elif json.loads(m)["type"] == "frame":
                got.append(json.loads(m))
        return hello, got

    async def main() -> tuple:
        await app.start()
        host, port = app.web.address
        url = f"ws://{host}:{port}/ws"
        async with connect(url) as a, connect(url + "?format=binary") as b:
            await asyncio.sleep(0.1)
            run = asyncio.create_task(app.run())
            res = await asyncio.gather(read(a, n), read(b, n))
            await run
        return res

    (hj, fj), (hb, fb) = asyncio.run(main())
    time.sleep(0.2)
    datagrams = []
    while True:
        try:
            datagrams.append(rx.recv(65536))
        except BlockingIOError:
            break
    rx.close()
    assert hj["dancers"] == 4 and hb["binary_layout"][-1] == "dancers*204"
    assert hj["model"]["ensemble"]["mode"] == "canon" and len(hj["model"]["ensemble"]["positions"]) == 4
    assert len(fj[-1]["dancers"]) == 204 and fb[-1]["dancers"].shape == (4, 17, 3)
    np.testing.assert_allclose(np.asarray(fj[-1]["dancers"][:51]), fj[-1]["joints"], atol=1e-6)
    poses: dict[str, dict[int, list]] = {}
    for d in datagrams:
        for m in OscBundle(d):
            if m.address.endswith("/pose"):
                poses.setdefault(m.address, {})[int(m.params[0])] = list(m.params[1:])
    assert set(poses) == {"/dancemuse/pose", "/dancemuse/1/pose", "/dancemuse/2/pose", "/dancemuse/3/pose"}
    assert all(len(v) == n for v in poses.values())
    with np.load(tmp_path / "show.ensemble.npz") as z:
        rec = z["poses"]
    with np.load(tmp_path / "show.npz") as z:
        solo = z["poses"]
    assert rec.shape == (n, 4, 17, 3) and solo.shape == (n, 17, 3)
    np.testing.assert_allclose(rec[:, 0], solo, atol=1e-6)  # the usual recording is dancer 0
    np.testing.assert_allclose(np.asarray(poses["/dancemuse/2/pose"][n - 1]), rec[n - 1, 2].ravel(), atol=1e-5)
    np.testing.assert_allclose(fb[-1]["dancers"], rec[n - 1], atol=1e-5)


class _Counting(_Stub):
    """A _Stub whose nose x counts its steps (in mm): which step a pose came from."""

    def reset(self, *, seed: int | None = None) -> None:
        super().reset(seed=seed)
        self.n = 0

    def step(self, features: np.ndarray, *, style: object = None, controls: object = None) -> np.ndarray:
        p = super().step(features, style=style, controls=controls)
        p[0, 0] = 1e-3 * self.n
        self.n += 1
        return p


@pytest.mark.parametrize("fps", [30, 60])
def test_free_dancers_take_each_frames_own_step(fps: int) -> None:
    """Blocks of several frames: every frame's free dancers come from that frame's model
    step (not the block's newest); a 30 fps model at 60 fps: halfway between two steps."""
    cfg = load_config(None)
    cfg["features"]["fps"] = fps
    gens = [_Counting() for _ in range(2)]
    ens = build(cfg, gens[0], settings=EnsembleSettings(dancers=2, mode="free", styles=("a", "b")),
                load_more=iter(gens[1:]).__next__)
    assert ens.engine.fps == fps and ens.engine.model_fps == 30
    _run(ens, 3.0)
    n = ens.engine.frames
    assert n > 80
    got = np.array([ens._raw_of(t, 1)[0, 0] for t in range(n)])
    t = np.arange(n)
    want = 1e-3 * (t if fps == 30 else np.maximum(t - 1, 0) / 2.0)
    np.testing.assert_allclose(got, want, atol=1e-6)
