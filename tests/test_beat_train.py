"""Training-side helpers of the beat activation: the off-beat percussion augmentation and the
off-beat frames whose loss can weigh more."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from model.audio_augment import offbeat_percussion
from model.beat_train import break_frames, break_spans, offbeat_frames, targets_of

FPS = 30.0
# mel band centres of the features (64 bands, 30 Hz - 11 kHz, Slaney scale), rounded
BAND_HZ = np.geomspace(80.0, 10440.0, 64)


def _song(n: int = 240, period: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Log-mel frames of a kick (low bands) and a ride (above 1.2 kHz, 20 dB under it) on every
    beat over a quiet floor, and its beats."""
    mel = np.full((n, 64), -60.0, np.float32)
    beats = np.arange(0.25, n / FPS, period)
    for b in beats:
        i = int(np.floor(b * FPS))
        mel[i: i + 2, :8] = 0.0
        mel[i: i + 2, 24:] = -20.0
    return mel, beats


def _onset(mel: np.ndarray, frames: np.ndarray, bands: slice) -> float:
    """Mean rise of a band group's level at ``frames`` over the two frames before."""
    rise = [mel[i: i + 2, bands].mean(axis=1).max() - mel[i - 2: i, bands].mean(axis=1).min()
            for i in frames if 2 <= i < len(mel) - 2]
    return float(np.mean(rise))


def test_offbeat_percussion_puts_onsets_between_the_beats_only() -> None:
    mel, beats = _song()
    start = 30
    x = mel[start:]
    on = np.floor(beats * FPS).astype(int) - start
    off = np.floor((beats[:-1] + 0.25) * FPS).astype(int) - start
    on, off = on[(on > 2) & (on < len(x) - 2)], off[(off > 2) & (off < len(x) - 2)]
    high = slice(24, 64)  # above 1.2 kHz: where hats and claps sound
    added_off, added_on = [], []
    for seed in range(8):
        y = offbeat_percussion(x, start=start, fps=FPS, beats=beats, band_hz=BAND_HZ,
                               rng=np.random.default_rng(seed))
        assert y.shape == x.shape and y.dtype == np.float32
        assert np.all(y >= -100.0)
        gain = (y - x)[:, high].mean(axis=1)
        added_off.append(np.mean([gain[i: i + 2].max() for i in off]))
        added_on.append(np.mean([gain[i: i + 2].max() for i in on]))
        assert _onset(y, off, high) > 3.0  # an onset between the beats, where the song has none
    assert _onset(x, off, high) == 0.0
    # the added sounds sit on the off-beats; on the beats hardly anything is added
    # (some calls add weaker on-beat eighths, under the song's own sound there)
    assert np.mean(added_off) > 20.0
    assert np.mean(added_on) < 6.0


def test_offbeat_percussion_is_deterministic_per_seed_and_leaves_its_input() -> None:
    mel, beats = _song()
    before = mel.copy()
    a = offbeat_percussion(mel, start=0, fps=FPS, beats=beats, band_hz=BAND_HZ, rng=np.random.default_rng(3))
    b = offbeat_percussion(mel, start=0, fps=FPS, beats=beats, band_hz=BAND_HZ, rng=np.random.default_rng(3))
    c = offbeat_percussion(mel, start=0, fps=FPS, beats=beats, band_hz=BAND_HZ, rng=np.random.default_rng(4))
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert np.array_equal(mel, before)


def test_offbeat_percussion_without_beats_in_reach_only_may_cut_the_bass() -> None:
    mel, _ = _song()
    for seed in range(6):
        y = offbeat_percussion(mel, start=0, fps=FPS, beats=np.array([100.0, 100.5]), band_hz=BAND_HZ,
                               rng=np.random.default_rng(seed))
        assert np.array_equal(y[:, 32:], mel[:, 32:])  # nothing added above the bass
        assert np.all(y[:, :8] <= mel[:, :8])


def test_offbeat_frames_mark_the_frame_half_a_beat_off_and_its_neighbours_only() -> None:
    beats = np.array([0.5, 1.0, 1.5, 2.1])
    w = offbeat_frames(beats, 90)
    # half-way points 0.75, 1.25, 1.8 s fall in frames 22, 37, 54 (frame i covers (i, i + 1] / 30 s)
    assert np.flatnonzero(w).tolist() == [21, 22, 23, 36, 37, 38, 53, 54, 55]
    # no frame is both a beat target and an off-beat frame
    y = targets_of(beats, beats[:1], 90)
    assert not np.any((w > 0) & (y[:, 0] < 1.0))


def test_offbeat_frames_stay_inside_the_song() -> None:
    w = offbeat_frames(np.array([0.0, 0.02, 2.9, 3.1]), 90)
    assert len(w) == 90 and w[0] == 1.0 and w[-1] == 1.0


def test_extra_corpus_renders_only_the_genres_asked_for_and_resumes(tmp_path, monkeypatch) -> None:
    """``extra_corpus(genres=...)`` draws every song from that list (a stand-in renderer, no
    fluidsynth needed), writes a plain and an augmented copy per seed from ``start`` on, and a
    second run over the same seeds renders nothing again."""
    import types

    import model.audio_augment as aa
    import model.beat_train as bt
    import model.midi_music as mm

    made: list[tuple[str, int]] = []

    def fake_song(genre: str, *, bpm: float, seconds: float, seed: int, tempo_map: object,
                  sr: int, breaks: bool) -> object:
        made.append((genre, seed))
        beats = np.arange(0.0, 2.0, 60.0 / bpm)
        return types.SimpleNamespace(audio=np.zeros(2 * sr, np.float32), beats=beats, downbeats=beats[::4],
                                     sections=[(0.0, 0.5, "groove"), (0.5, 1.5, "break"), (1.5, 2.0, "drop")])

    def fake_aug(y: np.ndarray, *, sr: int, beats: np.ndarray, downbeats: np.ndarray, seed: int) -> object:
        # a copy 25 % faster: its beats and breaks come 1.25x earlier
        return types.SimpleNamespace(audio=y, beats=beats / 1.25, downbeats=downbeats / 1.25, tempo_factor=1.25)

    monkeypatch.setattr(mm, "make_song", fake_song)
    monkeypatch.setattr(aa, "augment", fake_aug)
    monkeypatch.setattr(bt, "mel_frames", lambda y, sr: np.zeros((len(y) * 30 // sr, 64), np.float32))
    bt.extra_corpus(tmp_path, 5000, 12, minutes=5.0, genres=("techno", "salsa"))
    assert [s for _, s in made] == list(range(5000, 5012))
    assert {g for g, _ in made} == {"techno", "salsa"}
    files = sorted(p.name for p in tmp_path.glob("*.npz"))
    assert len(files) == 24 and all(f.startswith("extra050") for f in files)
    assert {f.split("_")[1] for f in files} == {"techno", "salsa"}
    # the breaks travel with each copy (for --break-weight), scaled as the augmented copy's beats
    plain = np.load(tmp_path / files[0])["breaks"]
    faster = np.load(tmp_path / files[1])["breaks"]
    assert files[0].endswith("_0.npz") and files[1].endswith("_1.npz")
    assert np.allclose(plain, [[0.5, 1.5]]) and np.allclose(faster, [[0.4, 1.2]])
    bt.extra_corpus(tmp_path, 5000, 12, minutes=5.0, genres=("techno", "salsa"))
    assert len(made) == 12  # resumed: every seed was there


def test_extra_corpus_refuses_an_unknown_genre_before_rendering(tmp_path) -> None:
    import pytest

    from model.beat_train import extra_corpus

    with pytest.raises(ValueError, match="unknown genre.*technoo"):
        extra_corpus(tmp_path, 5000, 3, minutes=1.0, genres=("technoo",))
    assert not list(tmp_path.glob("*.npz"))


def test_fine_tuning_a_beat_net_of_another_width_is_one_clear_error(tmp_path) -> None:
    import pytest

    torch = pytest.importorskip("torch", reason="needs torch (the train extra): pip install torch==2.13.0")
    from model.beat_train import _torch_net, targets_of, train_and_export

    ckpt = tmp_path / "h16.pt"
    torch.save(_torch_net(64, 16).state_dict(), ckpt)
    mel = np.full((260, 64), -40.0, np.float32)
    beats = np.arange(0.5, 8.0, 0.5)
    items = [{"mel": mel, "y": targets_of(beats, beats[::4], len(mel)), "beats": beats,
              "downbeats": beats[::4], "name": f"song{i}"} for i in range(3)]
    with pytest.raises(ValueError, match="not a beat net of 48 units.*--hidden"):
        train_and_export(items, out=tmp_path, export=tmp_path / "x.onnx", minutes=0.01, seed=0,
                         init=ckpt, hidden=48)
    assert not (tmp_path / "x.onnx").exists()


def test_break_frames_mark_the_frames_inside_breaks_only() -> None:
    spans = break_spans([[0.0, 1.0, "intro"], [1.0, 2.0, "break"], [2.0, 3.0, "groove"], [3.5, 9.0, "break"]])
    assert np.allclose(spans, [[1.0, 2.0], [3.5, 9.0]])
    w = break_frames(spans, 120)  # 4 s at 30 fps: the second break runs past the end
    assert w[:30].sum() == 0 and w[30:60].all() and w[60:105].sum() == 0 and w[105:].all()
    assert len(w) == 120 and break_frames(break_spans([]), 10).sum() == 0


def test_the_shipped_beat_net_rebuilt_from_its_onnx_gives_the_same_activations() -> None:
    """``--init models/beats.onnx`` fine-tunes the shipped net without its training run:
    the torch net rebuilt from the ONNX file (GRU gates reordered) answers as the file does."""
    import pytest

    torch = pytest.importorskip("torch", reason="needs torch (the train extra): pip install torch==2.13.0")
    ort = pytest.importorskip("onnxruntime")
    from model.beat_train import _torch_net, state_from_onnx

    models = Path(__file__).resolve().parent.parent / "models"
    net = _torch_net(64, 48)
    net.load_state_dict(state_from_onnx(models / "beats.onnx"))
    net.eval()
    rng = np.random.default_rng(0)
    mel = rng.normal(-40.0, 15.0, (1, 150, 64)).astype(np.float32)
    mel[0, ::15, :20] += 25.0  # a kick every half second
    with torch.no_grad():
        lg, _ = net(torch.from_numpy(mel), torch.from_numpy(mel[:, 0]))
        ours = torch.softmax(lg, -1).numpy()[0]
    sess = ort.InferenceSession(str(models / "beats_seq.onnx"), providers=["CPUExecutionProvider"])
    ref = sess.run(["p"], {"mel": mel, "prev": mel[:, 0], "h": np.zeros((2, 1, 48), np.float32)})[0][0]
    assert np.abs(ours - ref).max() < 1e-5
    assert ref[:, 1:].max() > 0.3  # (the kicks are heard: not a trivially equal silence)


def test_a_foreign_onnx_as_beat_net_init_is_one_clear_error(tmp_path) -> None:
    import pytest

    pytest.importorskip("onnx")
    from model.beat_train import state_from_onnx

    bad = tmp_path / "x.onnx"
    bad.write_bytes(b"junk")
    with pytest.raises(ValueError, match="x.onnx cannot be read as ONNX"):
        state_from_onnx(bad)
    models = Path(__file__).resolve().parent.parent / "models"
    with pytest.raises(ValueError, match="not a DanceMuse beat activation model"):
        state_from_onnx(models / "default.onnx")


def test_break_weight_says_which_songs_carry_no_break_labels(tmp_path, capsys) -> None:
    import pytest

    pytest.importorskip("torch", reason="needs torch (the train extra): pip install torch==2.13.0")
    pytest.importorskip("onnx")
    from model.beat_train import targets_of, train_and_export

    mel = np.full((260, 64), -40.0, np.float32)
    beats = np.arange(0.5, 8.0, 0.5)
    items = [{"mel": mel, "y": targets_of(beats, beats[::4], len(mel)), "beats": beats,
              "downbeats": beats[::4], "name": f"song{i}", "brk": np.zeros(len(mel), np.float32),
              "has_sections": False} for i in range(4)]  # e.g. caches written before the labels
    train_and_export(items, out=tmp_path, export=tmp_path / "x.onnx", minutes=0.0, seed=0, break_weight=2.0)
    said = capsys.readouterr().out
    assert "2 of 2 training songs have no break labels" in said and (tmp_path / "x.onnx").exists()
    for it in items:
        it["has_sections"] = True
    train_and_export(items, out=tmp_path, export=tmp_path / "y.onnx", minutes=0.0, seed=0, break_weight=2.0)
    assert "have no break labels" not in capsys.readouterr().out
