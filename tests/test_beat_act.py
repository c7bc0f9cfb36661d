"""The beat activation network at show time (numpy or onnxruntime, no torch) and its export."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from model.beat_act import (
    DEFAULT_MODEL,
    MEL_FLOOR_DB,
    BeatActivation,
    numpy_weights_path,
    sha256_file,
)
from model.errors import ModelError

ROOT = Path(__file__).resolve().parent.parent


def test_shipped_model_runs_without_torch() -> None:
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "import numpy as np\n"
        "from model.beat_act import BeatActivation\n"
        "a = BeatActivation()\n"
        "p = a.step(np.full(64, -30.0))\n"
        "assert abs(float(p.sum()) - 1.0) < 1e-4, p\n"
        "assert 'torch' not in sys.modules or sys.modules['torch'] is None\n"
        "print('ok')\n"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok"


def test_missing_model_is_one_clear_line(tmp_path: Path) -> None:
    with pytest.raises(ModelError) as e:
        BeatActivation(tmp_path / "nope.onnx")
    msg = str(e.value)
    assert "\n" not in msg and "nope.onnx" in msg and "missing" in msg and "make beats-model" in msg


def test_corrupt_model_is_one_clear_line(tmp_path: Path) -> None:
    bad = tmp_path / "beats.onnx"
    bad.write_bytes(b"\x08\x01garbage" * 50)
    with pytest.raises(ModelError) as e:
        BeatActivation(bad)
    msg = str(e.value)
    assert "\n" not in msg and "cannot be loaded" in msg and "beats.onnx" in msg


def test_tracker_with_missing_model_raises_model_error(tmp_path: Path) -> None:
    from model.beats import OnlineBeatTracker

    with pytest.raises(ModelError):
        OnlineBeatTracker(fps=30, model_path=tmp_path / "gone.onnx")


def test_cli_reports_a_missing_model_in_one_line(tmp_path: Path) -> None:
    # the live server path: a missing model is a user error, printed without a traceback
    code = (
        "import model.beat_act as ba, pathlib, sys\n"
        f"ba.DEFAULT_MODEL = pathlib.Path({str(tmp_path / 'gone.onnx')!r})\n"
        "from live.cli import main\n"
        "sys.exit(main(['beats', 'demo', '--seconds', '2']))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode != 0
    lines = [ln for ln in r.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and "gone.onnx" in lines[0], r.stderr


def test_reset_replays_the_same_activations() -> None:
    a = BeatActivation()
    rng = np.random.default_rng(0)
    mel = rng.normal(-30.0, 10.0, (40, 64))
    first = np.array([a.step(m).copy() for m in mel])
    a.reset()
    again = np.array([a.step(m).copy() for m in mel])
    np.testing.assert_array_equal(first, again)
    assert np.allclose(first.sum(axis=1), 1.0, atol=1e-4)


def test_activation_peaks_on_beats_of_a_synthetic_song() -> None:
    from model.beat_train import mel_frames
    from model.synth_music import render_song

    song = render_song(feel="breakbeat", bpm=112, seconds=16, seed=7)
    mel = mel_frames(song.audio, song.sample_rate)
    a = BeatActivation()
    p = np.array([a.step(m).copy() for m in mel])
    beat = p[:, 1] + p[:, 2]
    on = np.zeros(len(mel), bool)
    for t in song.beats[(song.beats > 3.0) & (song.beats < 15.5)]:
        i = int(math.floor(t * 30))
        on[i: i + 2] = True
    late = np.arange(len(mel)) > 90
    assert beat[on & late].mean() > 5 * beat[~on & late].mean()


def test_silence_gives_a_low_beat_probability() -> None:
    a = BeatActivation()
    for _ in range(60):
        p = a.step(np.full(64, MEL_FLOOR_DB))
    assert float(p[1] + p[2]) < 0.3


def test_export_matches_torch_step_by_step(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch", reason="needs torch (the train extra): pip install torch==2.13.0 and -e \".[train]\"")
    from model.beat_train import _torch_net, export_onnx

    torch.manual_seed(0)
    net = _torch_net(64, 16).eval()
    out = tmp_path / "tiny.onnx"
    export_onnx(net, out, 16, 64)
    a = BeatActivation(out)
    rng = np.random.default_rng(1)
    mel = rng.normal(-30.0, 15.0, (25, 64)).astype(np.float32)
    ours = np.array([a.step(m).copy() for m in mel])
    with torch.no_grad():
        x = torch.from_numpy(mel[None])
        prev = torch.full((1, 64), MEL_FLOOR_DB)
        logits, _ = net(x, prev)
        ref = torch.softmax(logits, -1)[0].numpy()
    np.testing.assert_allclose(ours, ref, atol=2e-5)
    assert a.backend == "onnxruntime"  # no numpy weights beside it yet
    pytest.importorskip("onnx", reason="needs onnx (the train extra): pip install -e \".[train]\"")
    from model.beat_train import export_numpy

    export_numpy(out)
    b = BeatActivation(out)
    assert b.backend == "numpy"
    np.testing.assert_allclose(np.array([b.step(m).copy() for m in mel]), ref, atol=2e-5)


def test_default_model_is_the_shipped_file() -> None:
    assert DEFAULT_MODEL == ROOT / "models" / "beats.onnx"
    assert DEFAULT_MODEL.stat().st_size < 1_000_000  # small enough to ship


def _song_mels(seconds: float = 40.0) -> np.ndarray:
    from model.beat_train import mel_frames
    from model.synth_music import render_song

    song = render_song(feel="house", bpm=124, seconds=seconds, seed=3, break_at=(15.0, 4.0))
    return mel_frames(song.audio, song.sample_rate)


def test_shipped_numpy_weights_are_those_of_the_shipped_model() -> None:
    npz = numpy_weights_path(DEFAULT_MODEL)
    assert npz.is_file(), f"{npz} is missing: python -m model.beat_train --npz {DEFAULT_MODEL}"
    with np.load(npz) as d:
        assert str(d["source_sha256"]) == sha256_file(DEFAULT_MODEL), "remake it with --npz"
    assert BeatActivation().backend == "numpy"


def test_numpy_step_equals_onnxruntime_within_1e5() -> None:
    a, b = BeatActivation(backend="numpy"), BeatActivation(backend="onnxruntime")
    rng = np.random.default_rng(4)
    loud = rng.normal(-35.0, 15.0, (300, 64))
    for mel in (_song_mels(), loud, np.full((50, 64), MEL_FLOOR_DB)):
        pa = np.array([a.step(m).copy() for m in mel])
        pb = np.array([b.step(m).copy() for m in mel])
        np.testing.assert_allclose(pa, pb, atol=1e-5, rtol=0)
    assert float(np.abs(pa - pb).max()) >= 0.0
    np.testing.assert_allclose(a._h[a._cur], b._h[b._cur], atol=1e-5, rtol=0)


def test_run_equals_steps_and_leaves_the_same_state() -> None:
    mel = _song_mels(20.0)
    for backend in ("numpy", "onnxruntime"):
        a, b = BeatActivation(backend=backend), BeatActivation(backend=backend)
        steps = np.array([a.step(m).copy() for m in mel])
        cut = 137
        runs = np.concatenate([b.run(mel[:cut]), b.run(mel[cut: cut + 1]), b.run(mel[cut + 1:])])
        assert runs.shape == (len(mel), 3) and runs.dtype == np.float32
        np.testing.assert_allclose(runs, steps, atol=1e-5, rtol=0)
        nxt = np.full(64, -20.0)
        np.testing.assert_allclose(b.step(nxt), a.step(nxt), atol=1e-5, rtol=0)
        assert b.run(np.zeros((0, 64))).shape == (0, 3)
        with pytest.raises(ValueError):
            b.run(np.zeros((5, 32)))


def test_numpy_step_allocates_nothing_per_frame() -> None:
    import tracemalloc

    a = BeatActivation(backend="numpy")
    mel = _song_mels(10.0)
    for m in mel[:30]:
        a.step(m)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    for m in mel[30:]:
        a.step(m)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak - before < 2000  # a few Python floats and small lists, no arrays


def test_stale_numpy_weights_are_not_used(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    import shutil

    onnx_path = tmp_path / "beats.onnx"
    shutil.copy(DEFAULT_MODEL, onnx_path)
    with np.load(numpy_weights_path(DEFAULT_MODEL)) as d:
        w = {k: d[k] for k in d.files}
    w["source_sha256"] = np.str_("0" * 64)  # made from another model
    np.savez(tmp_path / "beats.npz", **w)
    with caplog.at_level("WARNING", logger="dancemuse.beats"):
        a = BeatActivation(onnx_path)
    assert a.backend == "onnxruntime"
    assert "beats.npz was not made from beats.onnx" in caplog.text
    with pytest.raises(ModelError) as e:
        BeatActivation(onnx_path, backend="numpy")
    assert "\n" not in str(e.value) and "--npz" in str(e.value)


def test_state_and_set_state_hand_the_net_over_between_runners() -> None:
    mel = _song_mels(12.0)
    cut = 150
    for src_backend, dst_backend in (("numpy", "numpy"), ("onnxruntime", "numpy"),
                                     ("numpy", "onnxruntime"), ("onnxruntime", "onnxruntime")):
        whole = BeatActivation(backend=src_backend)
        ref = np.array([whole.step(m).copy() for m in mel])
        first, second = BeatActivation(backend=src_backend), BeatActivation(backend=dst_backend)
        first.run(mel[:cut])
        h, prev = first.state()
        assert h.shape == (2, 1, first.hidden) and prev.shape == (64,) and h.dtype == np.float32
        np.testing.assert_array_equal(prev, mel[cut - 1].astype(np.float32))
        h_before = h.copy()
        first.step(mel[cut])  # the copies do not follow the runner
        np.testing.assert_array_equal(h, h_before)
        second.set_state(h, prev)
        rest = np.array([second.step(m).copy() for m in mel[cut:]])
        np.testing.assert_allclose(rest, ref[cut:], atol=1e-5, rtol=0)
        assert float(np.abs(ref[cut:, 1]).max()) > 0.1  # the comparison has beats in it
    fresh = BeatActivation(backend="numpy")
    cold = fresh.step(mel[cut]).copy()
    assert float(np.abs(cold - ref[cut]).max()) > 1e-3  # without the state the answer differs
    with pytest.raises(ValueError):
        fresh.set_state(np.zeros((2, 1, 3)), prev)
    with pytest.raises(ValueError):
        fresh.set_state(h, np.zeros(10))
