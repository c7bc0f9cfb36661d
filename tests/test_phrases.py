"""`dancemuse phrases`: 8-count phrases cut on the downbeats, one MP4 + BVH each, a contact sheet."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from live.cli import main
from live.phrases import (
    CELL_H,
    COUNTS,
    LABEL_H,
    Phrase,
    contact_sheet,
    find_phrases,
    pick,
    read_png,
    row_label,
    write_png,
)


def test_phrases_start_on_count_one_and_hold_eight_counts_in_order() -> None:
    fps = 30
    beats = np.arange(40) * 0.5 + 0.2  # 120 BPM
    counts = (np.arange(40) + 3) % 8 + 1  # starts on count 4
    counts[22] = 5  # a skipped count spoils the phrase that holds it
    ph = find_phrases(beats, counts, fps=fps, n_frames=int(20.5 * fps))
    starts = [p.start for p in ph]
    ones = [int(round(b * fps)) for b, c in zip(beats, counts, strict=True) if c == 1]
    assert all(s in ones for s in starts)
    for p in ph:
        assert len(p.beat_frames) == COUNTS and p.beat_frames[0] == 0
        assert p.stop - p.start == 8 * 15 and p.tempo == pytest.approx(120.0)
        i = int(np.flatnonzero(np.round(beats * fps).astype(int) == p.start)[0])
        assert 22 not in range(i, i + COUNTS)
    assert len(ph) == 3  # phrases at beats 5, 13 (spoilt: 21..28 holds beat 22), 29; the one at 37 runs past the end
    assert [p.start for p in pick(ph, 2)] == [p.start for p in ph[1:]]


def test_the_sheet_names_each_phrase_with_its_start_and_tempo() -> None:
    """Left of each row: the phrase number, where it starts in the song (m:ss) and its tempo,
    drawn as the renderer draws those strings, so a phrase on the sheet can be found in the music."""
    from live.dance_render import MID_COLOR, DancerRenderer

    fps = 30
    poses = np.zeros((4000, 17, 3), np.float32)
    poses[..., 1] = np.linspace(0.1, 1.7, 17)[None, :]  # something to draw
    phs = [Phrase(index=0, start=int(5.9 * fps), stop=int(5.9 * fps) + 120, beat_frames=list(range(0, 120, 15)), tempo=120.0),
           Phrase(index=11, start=66 * fps + 15, stop=66 * fps + 163, beat_frames=list(range(0, 144, 18)), tempo=97.6)]
    assert row_label(phs[0], fps=fps) == ("01", "0:05", "120")
    assert row_label(phs[1], fps=fps) == ("12", "1:06", "98")
    sheet = contact_sheet(poses, phs, fps=fps)
    h, mid = CELL_H + LABEL_H, (CELL_H + LABEL_H) // 2
    for r, ph in enumerate(phs):
        want = DancerRenderer(width=44, height=h, fps=fps)
        want.img[...] = 14
        num, at, bpm = row_label(ph, fps=fps)
        want.text(num, 4, mid - 20, px=2, color=MID_COLOR)
        want.text(at, 4, mid + 2, px=1, color=MID_COLOR * 0.6)
        want.text(bpm, 4, mid + 12, px=1, color=MID_COLOR * 0.6)
        got = sheet[r * h:(r + 1) * h, :44]
        assert np.array_equal(got, want.img.astype(np.uint8))
        assert (got[mid + 2: mid + 9] > 60).any()  # the time is drawn (the colon included: not only digits)
    assert not np.array_equal(sheet[:h, :44], sheet[h:2 * h, :44])


def test_png_writer_round_trips() -> None:
    img = (np.arange(7 * 5 * 3) % 256).astype(np.uint8).reshape(7, 5, 3)
    p = Path(__import__("tempfile").mkdtemp()) / "x.png"
    write_png(p, img)
    assert np.array_equal(read_png(p), img)


def test_phrases_demo_writes_four_mp4s_four_bvhs_and_a_sheet(
        model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import imageio_ffmpeg

    from live.dance_io import read_dance

    out = tmp_path / "deck"
    rc = main(["phrases", "demo", "-n", "4", "--model", str(model_path), "-o", str(out), "--size", "160x120"])
    assert rc == 0, capsys.readouterr()
    mp4s, bvhs = sorted(out.glob("*.mp4")), sorted(out.glob("*.bvh"))
    assert len(mp4s) == 4 and len(bvhs) == 4
    deck = json.loads((out / "deck.json").read_text())
    assert len(deck["phrases"]) == 4
    fps = deck["fps"]
    for entry, mp4, bvh in zip(deck["phrases"], mp4s, bvhs, strict=True):
        assert entry["mp4"] == mp4.name and entry["bvh"] == bvh.name
        d = read_dance(bvh)
        assert d["poses"].shape == (entry["frames"], 17, 3) and d["fps"] == pytest.approx(fps)
        assert np.isfinite(d["poses"]).all() and float(d["poses"][:, :, 1].max()) > 1.0  # a standing dancer
        n_frames, secs = imageio_ffmpeg.count_frames_and_secs(str(mp4))
        assert abs(n_frames - entry["frames"]) <= 1
        # eight counts, one beat apart, in a phrase of about eight beats
        bf = entry["beat_frames"]
        assert len(bf) == 8 and bf[0] == 0 and all(b > a for a, b in zip(bf, bf[1:], strict=False))
        assert entry["frames"] == pytest.approx(8 * 60 * fps / entry["tempo"], rel=0.1)
    sheet = read_png(out / "sheet.png")
    assert sheet.shape[0] == 4 * (CELL_H + LABEL_H) and sheet.shape[2] == 3
    assert sheet.std() > 10  # drawn, not blank


def test_phrases_refuses_a_bad_count_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["phrases", "demo", "-n", "0"]) == 2
    err = capsys.readouterr().err
    assert "-n 0" in err and len(err.strip().splitlines()) == 1
