"""A deck of 8-count phrases as improvisation prompts (`dancemuse phrases`).

``make_deck(song, cfg=cfg, n=12, out=DIR)`` generates the dance offline
(:func:`live.generate.generate_dance`, the live engine's batched path), cuts it at
8-count boundaries (a phrase runs from a beat counted 1 to the next beat counted 1, with
the eight counts 1..8 in between: the beat tracker's downbeats of two bars of 4/4),
picks ``n`` phrases spread over the song, and writes for each one
``phrase_KK.mp4`` (the dancer with its slice of the song, counts shown),
``phrase_KK.bvh`` (the rig's rotations) and, for the whole deck, ``sheet.png`` (one row
per phrase, one frame per count with the count under it) and ``deck.json`` (where each
phrase lies in the song: frames, seconds, tempo).
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from model.errors import AudioError

COUNTS = 8
CELL_W, CELL_H = 120, 150
LABEL_H = 30


@dataclass
class Phrase:
    """One 8-count phrase: frames [start, stop) of the dance; ``beat_frames`` the frame of
    each count 1..8 (relative to ``start``); ``tempo`` in BPM."""

    index: int
    start: int
    stop: int
    beat_frames: list[int]
    tempo: float


def find_phrases(beats: np.ndarray, counts: np.ndarray, *, fps: float, n_frames: int) -> list[Phrase]:
    """Every complete 8-count phrase in a dance.

    beats: [shape=(b,)] beat times (s); counts: [shape=(b,)] the count 1..8 of each beat.
    A phrase starts on a beat counted 1 and the next 8 beats count 1..8 in order (so a
    missed or doubled beat drops that phrase); it ends on the next beat counted 1 (or,
    for the last one, one beat period after count 8)."""
    frames = np.round(np.asarray(beats, np.float64) * fps).astype(int)
    c = np.asarray(counts, np.int64)
    out: list[Phrase] = []
    for i in range(len(c)):
        if c[i] != 1 or i + COUNTS > len(c):
            continue
        if not np.array_equal(c[i:i + COUNTS], np.arange(1, COUNTS + 1)):
            continue
        bf = frames[i:i + COUNTS]
        period = float(np.median(np.diff(bf))) if COUNTS > 1 else fps / 2.0
        stop = int(frames[i + COUNTS]) if i + COUNTS < len(c) else int(round(bf[-1] + period))
        if stop > n_frames or stop <= bf[-1]:
            continue
        out.append(Phrase(index=len(out), start=int(bf[0]), stop=stop, beat_frames=[int(f - bf[0]) for f in bf],
                          tempo=60.0 * fps / period if period > 0 else 0.0))
    return out


def pick(phrases: list[Phrase], n: int, *, skip_first: bool = True) -> list[Phrase]:
    """``n`` phrases spread evenly over the song (the first one, while the tracker locks
    on, only if there are not enough others)."""
    pool = phrases[1:] if skip_first and len(phrases) > n else phrases
    if len(pool) <= n:
        return list(pool)
    idx = np.round(np.linspace(0, len(pool) - 1, n)).astype(int)
    return [pool[i] for i in idx]


def demo_seconds_for(n: int, *, bpm: float = 100.0) -> float:
    """Demo song length that holds ``n`` phrases (plus a lead-in) at tempos of ``bpm`` and up."""
    return max(30.0, (n + 2) * COUNTS * 60.0 / bpm + 6.0)


# ----------------------------------------------------------------------------- pictures


def write_png(path: str | Path, img: np.ndarray) -> Path:
    """Write an RGB uint8 image [shape=(h, w, 3)] as PNG (zlib only), atomically."""
    a = np.ascontiguousarray(img, np.uint8)
    h, w = a.shape[:2]
    raw = np.concatenate([np.zeros((h, 1), np.uint8), a.reshape(h, w * 3)], axis=1).tobytes()

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(png)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def read_png(path: str | Path) -> np.ndarray:
    """Read back an 8-bit RGB, non-interlaced PNG as written by :func:`write_png`."""
    data = Path(path).read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path} is not a PNG")
    pos, idat, w, h = 8, b"", 0, 0
    while pos < len(data):
        (ln,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + ln]
        if kind == b"IHDR":
            w, h = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + ln
    raw = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(h, 1 + 3 * w)
    if np.any(raw[:, 0]):
        raise ValueError(f"{path}: only unfiltered PNG rows are read here")
    return raw[:, 1:].reshape(h, w, 3).copy()


def row_label(ph: Phrase, *, fps: float) -> tuple[str, str, str]:
    """What the contact sheet writes left of a phrase: its number, where it starts in the song
    (m:ss) and its tempo (BPM), so a phrase on the sheet can be found in the music."""
    sec = int(ph.start / fps)
    return f"{ph.index + 1:02d}", f"{sec // 60}:{sec % 60:02d}", f"{int(round(ph.tempo))}"


def contact_sheet(poses: np.ndarray, phrases: list[Phrase], *, fps: int) -> np.ndarray:
    """One row per phrase, one cell per count (the pose on that beat) with the count under
    it; on the left the phrase number, its start in the song (m:ss) and its tempo (BPM)
    (:func:`row_label`). Returns RGB uint8 [shape=(h, w, 3)]."""
    from live.dance_render import BEAT_COLOR, MID_COLOR, DancerRenderer

    margin = 44
    rows = max(1, len(phrases))
    sheet = np.full((rows * (CELL_H + LABEL_H), margin + COUNTS * CELL_W, 3), 14, np.uint8)
    label = DancerRenderer(width=margin, height=CELL_H + LABEL_H, fps=fps)
    dim = MID_COLOR * 0.6
    for r, ph in enumerate(phrases):
        y = r * (CELL_H + LABEL_H)
        label.img[...] = 14
        num, at, bpm = row_label(ph, fps=fps)
        mid = (CELL_H + LABEL_H) // 2
        label.text(num, 4, mid - 20, px=2, color=MID_COLOR)
        label.text(at, 4, mid + 2, px=1, color=dim)
        label.text(bpm, 4, mid + 12, px=1, color=dim)
        sheet[y:y + CELL_H + LABEL_H, :margin] = label.img.astype(np.uint8)
        for k, bf in enumerate(ph.beat_frames):
            cell = DancerRenderer(width=CELL_W, height=CELL_H, fps=fps)  # camera centred on this pose
            img = cell.render(poses[ph.start + bf], beat_count=0)
            x = margin + k * CELL_W
            sheet[y:y + CELL_H, x:x + CELL_W] = img
            sheet[y:y + CELL_H, x] = 60  # cell borders
            tag = DancerRenderer(width=CELL_W, height=LABEL_H, fps=fps)
            tag.img[...] = 14
            tag.text(str(k + 1), CELL_W // 2 - 5, 6, px=3, color=BEAT_COLOR)
            sheet[y + CELL_H:y + CELL_H + LABEL_H, x:x + CELL_W] = tag.img.astype(np.uint8)
    return sheet


# ----------------------------------------------------------------------------- the deck


def make_deck(
    song: str | Path,
    *,
    cfg: Mapping[str, Any],
    n: int,
    out: str | Path,
    generator: Any = None,
    size: tuple[int, int] = (480, 360),
    video: bool = True,
    report: Callable[[str], None] | None = None,
    progress: Callable[[float], None] | None = None,
) -> dict[str, Any]:
    """Generate the dance for ``song`` and write the deck of ``n`` phrases into ``out``;
    returns the deck document (also written as ``deck.json``)."""
    from live.dance_io import write_dance, write_mp4
    from live.generate import generate_dance

    out = Path(out)
    say = report or (lambda s: None)
    dance = generate_dance(song, cfg=cfg, generator=generator, progress=progress,
                           demo_seconds=demo_seconds_for(n))
    found = find_phrases(dance.beats, dance.beat_counts, fps=dance.fps, n_frames=len(dance.poses))
    if not found:
        raise AudioError(f"{dance.source}: no complete 8-count phrase found ({len(dance.beats)} beats); "
                         "use a longer song with a steady beat")
    chosen = pick(found, n)
    if len(chosen) < n:
        say(f"the song holds {len(found)} complete 8-count phrases; writing {len(chosen)} (asked {n})")
    for k, ph in enumerate(chosen):
        ph.index = k
    sr, fps = dance.sample_rate, dance.fps
    doc: dict[str, Any] = {"source": dance.source, "fps": fps, "meta": dance.meta, "phrases": []}
    for ph in chosen:
        stem = out / f"phrase_{ph.index + 1:02d}"
        poses = dance.poses[ph.start:ph.stop]
        beats = np.asarray(ph.beat_frames, np.float32) / fps
        counts = np.arange(1, COUNTS + 1, dtype=np.int16)
        write_dance(stem.with_suffix(".bvh"), poses, fps=fps, beats=beats, beat_counts=counts)
        entry = {"index": ph.index + 1, "bvh": stem.with_suffix(".bvh").name, "start_frame": ph.start,
                 "frames": ph.stop - ph.start, "start_s": round(ph.start / fps, 4),
                 "seconds": round((ph.stop - ph.start) / fps, 4), "tempo": round(ph.tempo, 2),
                 "beat_frames": ph.beat_frames}
        if video:
            clip = dance.audio[int(ph.start * sr / fps):int(ph.stop * sr / fps)]
            write_mp4(stem.with_suffix(".mp4"), poses, fps=fps, audio=clip, sample_rate=sr, beats=beats,
                      beat_counts=counts, width=size[0], height=size[1])
            entry["mp4"] = stem.with_suffix(".mp4").name
        doc["phrases"].append(entry)
        say(f"phrase {ph.index + 1:2d}: {ph.start / fps:6.1f} s, {ph.tempo:5.1f} BPM -> {stem.name}.*")
    write_png(out / "sheet.png", contact_sheet(dance.poses, chosen, fps=fps))
    doc["sheet"] = "sheet.png"
    tmp = out / f".deck.json.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    os.replace(tmp, out / "deck.json")
    return doc
