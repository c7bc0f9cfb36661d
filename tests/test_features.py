"""Streaming features: chunking invariance, rates, input kinds, bad samples, the spec."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from model.config import defaults
from model.errors import AudioError, ConfigError
from model.features import FeatureSpec, StreamingFeatures, extract_features, extract_file
from model.synth_music import render_song


def _cfg(fps: int = 30) -> dict:
    c = defaults()["features"]
    c["fps"] = fps
    return c


@pytest.fixture(scope="module")
def song48() -> np.ndarray:
    s = render_song(feel="breakbeat", bpm=128, seconds=6, seed=4, sample_rate=48000)
    return s.audio


def _song(sr: int, seconds: float = 6.0) -> np.ndarray:
    return render_song(feel="house", bpm=124, seconds=seconds, seed=2, sample_rate=sr).audio


def _chunked(x: np.ndarray, sizes: list[int] | np.ndarray, *, sr: int, fps: int) -> np.ndarray:
    sfe = StreamingFeatures(_cfg(fps), input_sr=sr)
    out, i, k = [], 0, 0
    while i < len(x):
        n = int(sizes[k % len(sizes)])
        out.append(sfe.push(x[i: i + n]))
        i += n
        k += 1
    return np.concatenate(out)


@pytest.mark.parametrize("fps", [30, 60])
@pytest.mark.parametrize("sr", [22050, 44100, 48000, 24000])
def test_random_chunks_equal_one_chunk(sr: int, fps: int) -> None:
    x = _song(sr, 4.0)
    whole, _ = extract_features(x, sr=sr, cfg=_cfg(fps))
    rng = np.random.default_rng(sr + fps)
    sizes = rng.integers(1, 2 * sr, size=64)
    sizes[::3] = rng.integers(1, 300, size=len(sizes[::3]))  # many small ones too
    parts = _chunked(x, sizes, sr=sr, fps=fps)
    assert parts.shape == whole.shape
    assert np.max(np.abs(parts - whole)) <= 1e-5


@pytest.mark.parametrize("size", [1, 64, 65, 128, 8192, 8193])
def test_odd_fixed_block_sizes_equal_one_chunk(size: int) -> None:
    sr = 44100
    x = _song(sr, 2.0 if size == 1 else 4.0)
    whole, _ = extract_features(x, sr=sr, cfg=_cfg(30))
    parts = _chunked(x, [size], sr=sr, fps=30)
    assert parts.shape == whole.shape
    assert np.max(np.abs(parts - whole)) <= 1e-5


def test_one_frame_per_hop_at_model_rate() -> None:
    sfe = StreamingFeatures(_cfg(30), input_sr=24000)
    assert len(sfe.push(np.zeros(799, np.float32))) == 0
    assert len(sfe.push(np.zeros(1, np.float32))) == 1
    assert len(sfe.push(np.zeros(8000, np.float32))) == 10
    assert sfe.frames == 11
    np.testing.assert_allclose(sfe.info.time, np.arange(2, 12) * 800 / 24000)
    assert sfe.samples == 8800
    sfe.push(np.zeros(333, np.float32))
    assert sfe.samples == 9133 and sfe.frames == 11


def test_frame_count_follows_the_input_clock(song48: np.ndarray) -> None:
    f, info = extract_features(song48, sr=48000, cfg=_cfg(60))
    expected = 6 * 60
    assert expected - 3 <= len(f) <= expected  # the resampler holds back a few ms
    assert f.dtype == np.float32 and f.shape[1] == FeatureSpec.from_config(_cfg(60)).dim
    assert len(info.tempo) == len(f)


def test_stereo_int16_and_float_agree() -> None:
    x = _song(44100, 3.0)
    i16 = np.round(x * 32767).astype(np.int16)
    stereo = np.stack([i16, i16], axis=1)
    a, _ = extract_features(stereo, sr=44100)
    b, _ = extract_features(i16, sr=44100)
    c, _ = extract_features(i16.astype(np.float32) / 32768.0, sr=44100)
    np.testing.assert_allclose(a, b, atol=1e-5)
    np.testing.assert_allclose(b, c, atol=1e-5)


def test_channels_first_stereo_is_understood() -> None:
    x = _song(24000, 2.0)
    a, _ = extract_features(np.stack([x, x]), sr=24000)
    b, _ = extract_features(x, sr=24000)
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_silence_gives_floor_values_and_no_beats() -> None:
    f, info = extract_features(np.zeros(24000 * 3, np.float32), sr=24000)
    spec = FeatureSpec.from_config(_cfg())
    assert np.all(np.isfinite(f))
    np.testing.assert_allclose(f[:, spec.slice("mel")], -100.0)
    assert np.all(f[:, spec.slice("onset")] == 0)
    assert np.all(f[:, spec.slice("rms")] == 0)
    assert not info.is_beat.any()


def test_nan_and_inf_are_replaced_and_counted() -> None:
    x = _song(24000, 3.0).copy()
    x[1000:1010] = np.nan
    x[5000] = np.inf
    x[7000] = -np.inf
    sfe = StreamingFeatures(_cfg(), input_sr=24000)
    f = sfe.push(x)
    assert np.all(np.isfinite(f))
    assert sfe.nan_count == 12


def test_clipping_and_dc_offset_stay_finite_and_bounded() -> None:
    x = _song(24000, 4.0)
    f_clip, _ = extract_features(np.clip(x * 50, -1, 1), sr=24000)
    f_loud, _ = extract_features(x * 50, sr=24000)  # over full scale: clipped at +-1
    f_dc, _ = extract_features(x * 0.5 + 0.3, sr=24000)
    spec = FeatureSpec.from_config(_cfg())
    for f in (f_clip, f_loud, f_dc):
        assert np.all(np.isfinite(f))
        assert np.all(f[:, spec.slice("rms")] <= 1.0 + 1e-6)
        assert np.all(f[:, spec.slice("mel")] < 100.0)
    np.testing.assert_allclose(f_clip, f_loud, atol=1e-5)


def test_feature_blocks_have_the_declared_meaning() -> None:
    sr = 24000
    t = np.arange(sr * 2) / sr
    tone = (0.5 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32)  # A4
    f, _ = extract_features(tone, sr=sr)
    spec = FeatureSpec.from_config(_cfg())
    chroma = f[10:, spec.slice("chroma")]
    assert np.all(np.argmax(chroma, axis=1) == 9)  # C=0 ... A=9
    rms = f[10:, spec.slice("rms")]
    np.testing.assert_allclose(rms, 0.5 / np.sqrt(2), rtol=1e-2)
    ph = f[:, spec.slice("beat_phase")]
    np.testing.assert_allclose(np.sum(ph**2, axis=1), 1.0, atol=1e-5)


def test_spec_dims_json_round_trip_and_slices() -> None:
    spec = FeatureSpec.from_config(_cfg())
    assert spec.dim == 84 and spec.hop == 800
    assert spec.slice("mel") == slice(0, 64)
    assert spec.slice("bar_phase") == slice(82, 84)
    spec.mean = [0.0] * 84
    spec.std = [1.0] * 84
    again = FeatureSpec.from_json(spec.to_json())
    assert again == spec
    assert FeatureSpec.from_config({"features": _cfg(60)}).hop == 400
    with pytest.raises(KeyError):
        spec.slice("nope")
    with pytest.raises(ConfigError):
        FeatureSpec.from_json("{not json")
    other = FeatureSpec.from_config(_cfg(60))
    assert any(d.startswith("fps") for d in spec.differences(other))


def test_extract_file_reads_audio_and_refuses_bad_files(tmp_path) -> None:
    x = _song(22050, 2.0)
    wav = tmp_path / "song.wav"
    sf.write(wav, x, 22050, subtype="FLOAT")
    f, info = extract_file(wav, defaults())
    g, _ = extract_features(x, sr=22050)
    np.testing.assert_allclose(f, g, atol=1e-5)
    with pytest.raises(AudioError, match="not found"):
        extract_file(tmp_path / "missing.wav")
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"this is not audio")
    with pytest.raises(AudioError, match="cannot read"):
        extract_file(junk)


def test_cli_features_writes_plot_and_npy(tmp_path, capsys) -> None:
    from live.cli import main

    png, npy = tmp_path / "f.png", tmp_path / "f.npy"
    assert main(["features", "demo", "--seconds", "6", "--plot", str(png), "--out", str(npy)]) == 0
    assert png.read_bytes()[:4] == b"\x89PNG" and png.stat().st_size > 20_000
    f = np.load(npy)
    assert f.shape == (180, 84)
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"junk")
    assert main(["features", str(junk)]) == 2
    assert "cannot read audio file" in capsys.readouterr().err


@pytest.mark.parametrize("fps", [30, 60])
@pytest.mark.parametrize("n_fft,n_mels,fmin,fmax,tuning", [
    (2048, 64, 30.0, 11000.0, 0.0), (1024, 128, 0.0, 12000.0, 0.25), (4096, 40, 100.0, 8000.0, -0.5)])
def test_numpy_filterbanks_equal_librosa(fps: int, n_fft: int, n_mels: int, fmin: float, fmax: float,
                                         tuning: float) -> None:
    librosa = pytest.importorskip("librosa", reason="librosa (a dev dependency) is the reference: pip install -e \".[dev]\"")
    from model.filterbanks import chroma_filterbank, mel_filterbank

    sr = FeatureSpec.from_config(_cfg(fps)).sample_rate
    mel = mel_filterbank(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
    ref = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
    assert mel.shape == ref.shape and mel.dtype == ref.dtype
    assert np.max(np.abs(mel - ref)) <= 1e-6
    chroma = chroma_filterbank(sr=sr, n_fft=n_fft, n_chroma=12, tuning=tuning)
    ref = librosa.filters.chroma(sr=sr, n_fft=n_fft, n_chroma=12, tuning=tuning)
    assert chroma.shape == ref.shape and np.max(np.abs(chroma - ref)) <= 1e-6


@pytest.mark.parametrize("fps", [30, 60])
def test_spectral_blocks_equal_a_librosa_reference(fps: int) -> None:
    """mel dB, onset, chroma and RMS equal the same maths done with librosa's STFT and
    filters on the zero-primed stream (frame i ends at sample (i + 1) * hop)."""
    librosa = pytest.importorskip("librosa", reason="librosa (a dev dependency) is the reference: pip install -e \".[dev]\"")
    cfg = _cfg(fps)
    spec = FeatureSpec.from_config(cfg)
    x = _song(24000, 4.0)
    f, _ = extract_features(x, sr=24000, cfg=cfg)
    y = np.concatenate([np.zeros(spec.n_fft - spec.hop, np.float32), x])
    power = np.abs(librosa.stft(y, n_fft=spec.n_fft, hop_length=spec.hop, center=False, window="hann")) ** 2
    mel = librosa.filters.mel(sr=24000, n_fft=spec.n_fft, n_mels=spec.n_mels, fmin=spec.fmin,
                              fmax=spec.fmax).astype(np.float64) @ power
    db = 10.0 * np.log10(np.maximum(mel, 1e-10)).T
    onset = np.concatenate([[0.0], np.maximum(np.diff(db, axis=0), 0.0).mean(axis=1)])
    chroma = (librosa.filters.chroma(sr=24000, n_fft=spec.n_fft, tuning=spec.tuning).astype(np.float64) @ power).T
    chroma /= chroma.max(axis=1, keepdims=True)
    frames = librosa.util.frame(y, frame_length=spec.n_fft, hop_length=spec.hop).T.astype(np.float64)
    rms = np.sqrt(np.mean(frames**2, axis=1))
    n = len(f)
    assert n == len(db)
    np.testing.assert_allclose(f[:, spec.slice("mel")], db, atol=1e-4)
    np.testing.assert_allclose(f[:, spec.slice("onset")][:, 0], onset, atol=1e-4)
    np.testing.assert_allclose(f[:, spec.slice("chroma")], chroma, atol=1e-5)
    np.testing.assert_allclose(f[:, spec.slice("rms")][:, 0], rms, atol=1e-6)


def test_live_sized_pushes_reuse_buffers_and_match_one_push() -> None:
    """One hop per push (the live path) goes through preallocated buffers and gives the
    frames of one big push; a push without a whole hop returns an empty array."""
    sr = 24000
    x = _song(sr, 3.0)
    whole, info = extract_features(x, sr=sr, cfg=_cfg(60))
    sfe = StreamingFeatures(_cfg(60), input_sr=sr)
    work = sfe._work
    rows = [sfe.push(x[i: i + 400]) for i in range(0, len(x), 400)]
    assert sfe._work is work
    assert sfe.push(np.zeros(10, np.float32)).shape == (0, whole.shape[1])
    np.testing.assert_allclose(np.concatenate(rows), whole, atol=1e-5)


def test_features_do_not_import_librosa_scipy_or_numba() -> None:
    import subprocess
    import sys

    code = ("import sys, numpy as np\nfrom model.features import extract_features\n"
            "extract_features(np.zeros(30000, np.float32), sr=44100)\n"
            "bad = [m for m in sys.modules if m.split('.')[0] in ('librosa', 'scipy', 'numba')]\n"
            "assert not bad, bad\nprint('ok')\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       cwd=str(__import__("pathlib").Path(__file__).resolve().parent.parent))
    assert r.returncode == 0 and "ok" in r.stdout, r.stderr[-2000:]


GOLDEN = __import__("pathlib").Path(__file__).resolve().parent / "golden" / "features_spectral.npz"


def _golden_signal(sr: int = 24000, seconds: float = 3.0) -> np.ndarray:
    """Two tones, noise, a kick every half second and a silent gap (numpy only, so the
    signal stays the same whatever happens to the music synthesiser)."""
    t = np.arange(int(sr * seconds)) / sr
    rng = np.random.default_rng(12)
    x = 0.2 * np.sin(2 * np.pi * 220.0 * t) + 0.1 * np.sin(2 * np.pi * 329.6 * t + 1.0)
    x += 0.05 * rng.standard_normal(len(t))
    x += 0.5 * np.exp(-30.0 * (t % 0.5)) * np.sin(2 * np.pi * 55.0 * t)
    x[int(1.2 * sr): int(1.4 * sr)] = 0.0
    return x.astype(np.float32)


@pytest.mark.parametrize("fps", [30, 60])
@pytest.mark.parametrize("chunk", ["hop", "whole"])
def test_spectral_columns_equal_the_recorded_ones(fps: int, chunk: str) -> None:
    """mel, onset, chroma and RMS equal those the features gave before the one-frame path
    was rewritten (tests/golden/features_spectral.npz, commit 3094e8b) within 1e-6, hop by
    hop (the live path) and in one push (the batched path). The beat columns depend on the
    beat tracker and are not recorded."""
    want = np.load(GOLDEN)[f"fps{fps}"]
    x = _golden_signal()
    sfe = StreamingFeatures(_cfg(fps), input_sr=24000)
    hop = sfe.hop if chunk == "hop" else len(x)
    got = np.concatenate([sfe.push(x[i: i + hop]) for i in range(0, len(x), hop)])
    assert got.shape[0] == want.shape[0]
    np.testing.assert_allclose(got[:, : want.shape[1]], want, rtol=0, atol=1e-6)


@pytest.mark.parametrize("n_mels,fmin,fmax", [(64, 30.0, 11000.0), (128, 0.0, 12000.0), (40, 20.0, 8000.0)])
def test_sparse_mel_bands_equal_the_dense_filterbank_product(n_mels: int, fmin: float, fmax: float) -> None:
    from model.features import _SparseMel, _stacked_filters

    fb = _stacked_filters(24000, 2048, n_mels, fmin, fmax, 0.0)[:, :n_mels]
    sparse = _SparseMel.build(fb)
    assert sparse is not None, "the live path fell back to the dense mel product"
    power = np.random.default_rng(n_mels).random((5, fb.shape[0])) * np.logspace(-8, 2, 5)[:, None]
    out = np.zeros(n_mels)
    for p in power:
        sparse.apply(p, out)
        ref = p @ fb
        np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-300)


def test_sparse_mel_refuses_filters_that_are_not_neighbouring_triangles() -> None:
    from model.features import _SparseMel

    fb = np.zeros((20, 3))
    fb[2:10, 0] = 1.0
    fb[4:12, 2] = 1.0  # band 2 overlaps band 0: not the mel layout
    assert _SparseMel.build(fb) is None


def test_one_hop_pushes_hand_out_rows_and_info_that_later_pushes_never_overwrite() -> None:
    from model.features import POOL

    sf = StreamingFeatures(defaults()["features"], input_sr=24000)
    hop = sf.hop
    x = np.random.default_rng(3).standard_normal(hop * (POOL + 40)).astype(np.float32) * 0.1
    kept = []
    for i in range(0, len(x), hop):  # one frame a push after the first few: past a pool's end
        f = sf.push(x[i: i + hop])
        if len(f):
            kept.append((f, sf.info, f.copy(), sf.info.tempo.copy(), sf.info.time.copy()))
    assert len(kept) > POOL
    times = [t[4][0] for t in kept]
    assert np.all(np.diff(times) > 0)
    for f, info, f0, tempo0, time0 in kept:
        assert len(f) == 1 and len(info) == 1
        np.testing.assert_array_equal(f, f0)
        np.testing.assert_array_equal(info.tempo, tempo0)
        np.testing.assert_array_equal(info.time, time0)
