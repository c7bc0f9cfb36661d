"""Where the dancer calms down (issue 10's repetition line): its still stretches per style beside
the training data's, how loud the music is there, what the model hears there, and how many of
the windows under the repetition line lie in them (printed side by side, nothing asserted).

    dancemuse bench holds [--model models/default.onnx] [--data data/synth_v5 data/mocap]
    python bench/holds.py --long-seeds 4 --long-minutes 10      # the recordings as evaluate dances them

A calm block is ``BLOCK_S`` of dance whose root-relative mean joint speed is under ``CALM`` times
the piece's mean; a still stretch is ``MIN_STILL_S`` or more of such blocks in a row (a held pose,
a slow sway on the spot). Per style:

- *still*: the share of the dance's time in still stretches, and the longest stretch;
- *still when loud*: the share of the loud blocks (audio RMS at or above the piece's median
  block) that lie in still stretches: calm in a break is the music's dynamics, calm while the
  music plays on at full level is the dancer stalling;
- for the model only, *heard in them*: the model's onset feature and its top eight mel bands
  (the cymbals and hi-hats, ~6-11 kHz) in its still blocks against its other blocks of the same
  pieces (a ratio and a dB difference): what tells it the music has gone calm;
- *windows under 0.3 in them*: of the dance's repetition windows under ``REPEAT_RATIO`` (as
  `dancemuse evaluate` counts them), the share that overlap a still stretch by at least half;
- *music of the nearest*: is a repeat danced to repeated music? For every window, its nearest
  dance window (at least 2 s away, the repetition line's partner) ranked by how near its music
  is (the model's mel bands and onset, ``model.metrics_dancer.MUSIC_COLS``, z-scored over the piece) among all the
  window's partners: 0 = the most similar music of all, 0.5 = as any. The median over the
  windows under 0.3 and over all windows, model and data (the data's clips through the model's
  own feature extraction).

The model's dances are the evaluation's: every test song in ``--styles-per-song`` styles (seed 0)
and, where the Debian ``fretsonfire-songs-muldjord`` recordings are installed, their
``--long-minutes`` with the style switched every 1/9 (seeds 0..``--long-seeds``-1), each style's
stretch a piece. The training data's are its clips with their own music.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

BLOCK_S = 0.5
"""Length of a block (s)."""
CALM = 0.5
"""Share of the piece's mean root-relative joint speed under which a block is calm (the styles
move at 0.2-1.3 m/s on average, so a fixed speed would call a whole ballet calm)."""
MIN_STILL_S = 2.0
"""Least length of a still stretch (s): the repetition line's window."""
TOP_BANDS = slice(56, 64)
"""The model's top eight mel bands (of 64, 30 Hz - 11 kHz)."""
ONSET = 64
"""The model's onset column (model.features)."""


def still_blocks(poses: np.ndarray, *, fps: float, block_s: float = BLOCK_S, calm: float = CALM,
                 min_s: float = MIN_STILL_S) -> np.ndarray:
    """Per block of ``block_s`` (the dance's whole blocks): True where it lies in a calm stretch
    (at least ``min_s`` of blocks whose root-relative mean joint speed is under ``calm`` times
    the dance's mean)."""
    from model.metrics_dancer import _relative

    r = _relative(np.asarray(poses, np.float64))
    b = max(1, int(round(block_s * fps)))
    n = (len(r) - 1) // b
    if n <= 0:
        return np.zeros(0, bool)
    v = np.linalg.norm(np.diff(r, axis=0), axis=-1).mean(axis=1) * fps
    blk = v[: n * b].reshape(n, b).mean(axis=1)
    slow = blk < calm * float(v.mean())
    need = max(1, int(round(min_s / block_s)))
    out = np.zeros(n, bool)
    i = 0
    while i < n:
        if not slow[i]:
            i += 1
            continue
        j = i
        while j < n and slow[j]:
            j += 1
        if j - i >= need:
            out[i:j] = True
        i = j
    return out


def longest_s(still: np.ndarray, block_s: float = BLOCK_S) -> float:
    """The longest run of True in ``still`` (s)."""
    best = run = 0
    for x in still:
        run = run + 1 if x else 0
        best = max(best, run)
    return best * block_s


def block_db(audio: np.ndarray, sr: int, n: int, *, block_s: float = BLOCK_S) -> np.ndarray:
    """RMS level of each of the first ``n`` blocks of ``audio`` in dB (-inf-safe: floor -120)."""
    x = np.asarray(audio, np.float64)
    if x.ndim > 1:
        x = x.mean(axis=1)
    b = int(round(block_s * sr))
    m = min(n, len(x) // b)
    rms = np.sqrt((x[: m * b].reshape(m, b) ** 2).mean(axis=1)) if m else np.zeros(0)
    out = np.full(n, -120.0)
    out[:m] = 20.0 * np.log10(np.maximum(rms, 1e-6))
    return out


def low_windows_in_still(poses: np.ndarray, still: np.ndarray, *, fps: float, music: np.ndarray | None = None,
                         block_s: float = BLOCK_S) -> tuple[int, int]:
    """(windows under the repetition line, of them those overlapping still blocks by at least
    half): the windows of ``model.metrics_dancer.repetition`` (2 s, hop 0.5 s, silent ones left
    out as there)."""
    from model import metrics_dancer as md

    r = md.repetition(poses, fps=fps, music=music)
    starts, w = md.window_starts(len(poses), fps=fps, music=music)
    if len(r) != len(starts):  # too short for two windows apart: nothing to count
        return 0, 0
    b = max(1, int(round(block_s * fps)))
    low, held = 0, 0
    for s, ratio in zip(starts, r, strict=True):
        if ratio >= md.REPEAT_RATIO:
            continue
        low += 1
        blocks = still[s // b: (s + w) // b]
        if len(blocks) and blocks.mean() >= 0.5:
            held += 1
    return low, held


@dataclass
class Tally:
    """One style's sums over its pieces."""

    blocks: int = 0
    still: int = 0
    loud: int = 0
    loud_still: int = 0
    longest: float = 0.0
    low: int = 0
    low_held: int = 0
    heard: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)  # (features, still) per piece
    rank_low: list[float] = field(default_factory=list)  # music rank of the nearest, windows under 0.3
    rank_all: list[float] = field(default_factory=list)  # the same, every window

    def add(self, poses: np.ndarray, audio: np.ndarray, sr: int, *, fps: float, music: np.ndarray | None = None,
            feats: np.ndarray | None = None, hear: bool = True) -> None:
        """One piece: its poses, its audio, and the model's features of that audio (``hear``:
        also count what the model hears in the still blocks; the data's clips only rank music)."""
        from model import metrics_dancer as md
        from model.metrics_dancer import REPEAT_RATIO

        st = still_blocks(poses, fps=fps)
        db = block_db(audio, sr, len(st))
        ok = db > -100.0  # blocks with sound
        loud = ok & (db >= np.median(db[ok])) if ok.any() else ok
        self.blocks += len(st)
        self.still += int(st.sum())
        self.loud += int(loud.sum())
        self.loud_still += int((loud & st).sum())
        self.longest = max(self.longest, longest_s(st))
        lo, held = low_windows_in_still(poses, st, fps=fps, music=music)
        self.low += lo
        self.low_held += held
        if feats is not None:
            if hear:
                self.heard.append((feats, st))
            ratio, rank = md.music_tie(poses, feats, fps=fps, music=music)
            self.rank_low += list(rank[ratio < REPEAT_RATIO])
            self.rank_all += list(rank)

    def figures(self, fps: float) -> dict[str, float]:
        out = {"still": self.still / self.blocks if self.blocks else np.nan,
               "longest": self.longest,
               "loud": self.loud_still / self.loud if self.loud else np.nan,
               "low": float(self.low), "low_held": self.low_held / self.low if self.low else np.nan}
        out["rank_low"] = float(np.median(self.rank_low)) if self.rank_low else np.nan
        out["rank_all"] = float(np.median(self.rank_all)) if self.rank_all else np.nan
        if self.heard:
            b = max(1, int(round(BLOCK_S * fps)))
            on_s, on_m, top_s, top_m = [], [], [], []
            for f, st in self.heard:
                n = min(len(st), len(f) // b)
                blk = f[: n * b].reshape(n, b, -1).mean(axis=1)
                s = st[:n]
                on_s += list(blk[s, ONSET])
                on_m += list(blk[~s, ONSET])
                top_s += list(blk[s, TOP_BANDS].mean(axis=1))
                top_m += list(blk[~s, TOP_BANDS].mean(axis=1))
            if on_s and on_m:
                out["onset"] = float(np.mean(on_s) / max(np.mean(on_m), 1e-9))
                out["top_db"] = float(np.mean(top_s) - np.mean(top_m))
        return out


def data_tallies(paths: Sequence[str | Path], *, fps: int, dancer: Any = None) -> dict[str, Tally]:
    """Each style's tally over the training clips (their own audio; with ``dancer``, its features
    of that audio rank the repeats' music)."""
    from types import SimpleNamespace

    from live.audio import load_file
    from model.dataset import clip_records, load_poses

    out: dict[str, Tally] = {}
    for p in paths:
        for r in clip_records(p):
            if int(round(r.fps)) != fps:
                continue
            poses = np.asarray(load_poses(r.poses)["poses"], np.float64)
            audio, sr = load_file(r.audio)
            feats = None
            if dancer is not None:
                song = SimpleNamespace(audio=audio, sr=sr)
                feats = dancer.features(song)[0]
                dancer.forget(song)
            out.setdefault(r.style, Tally()).add(poses, audio, sr, fps=fps, feats=feats, hear=False)
    return out


def model_tallies(dancer: Any, songs: Sequence[Any], *, per_song: int, long_seeds: int, minutes: float
                  ) -> dict[str, Tally]:
    """Each style's tally over the evaluation's dances (see the module docstring)."""
    from model import metrics
    from model import metrics_songs as ms
    from model.metrics_suite import _round_robin

    styles, fps = dancer.styles, dancer.fps
    out: dict[str, Tally] = {s: Tally() for s in styles}
    for i, song in enumerate(songs):
        feats = dancer.features(song)[0]
        for st in _round_robin(i, per_song, styles):
            g = dancer.dance(song, style=st, seed=0)
            out[st].add(g.poses, song.audio, song.sr, fps=fps, feats=feats[: len(g.poses)])
    recs = ms.recordings() if minutes > 0 else []
    if recs:
        long = ms.long_music(recs, minutes=minutes)
        feats = dancer.features(long)[0]
        seg = long.seconds / len(styles)
        sched = [(k * seg, s) for k, s in enumerate(styles)][1:]
        for seed in range(long_seeds):
            poses = dancer.dance(long, style=styles[0], seed=seed, schedule=sched).poses
            music = metrics.music_frames(long.audio, long.sr, fps=fps, n=len(poses))
            for k, st in enumerate(styles):
                a, z = int(k * seg * fps), int((k + 1) * seg * fps)
                out[st].add(poses[a:z], long.audio[int(a * long.sr / fps): int(z * long.sr / fps)], long.sr,
                            fps=fps, music=music[a:z], feats=feats[a:z])
    return out


def _pair(m: dict[str, float], d: dict[str, float], key: str, fmt: str) -> str:
    return f"{m[key]:{fmt}} / {d[key]:{fmt}}"


def table(model: dict[str, Tally], data: dict[str, Tally], *, fps: float) -> str:
    """The side-by-side table: per style the model's figures and the data's."""
    head = (f"{'style':13s} {'still':>13s} {'longest s':>11s} {'still when loud':>17s} "
            f"{'under 0.3: n, in stills':>25s} {'heard in stills: onset, top dB':>32s} "
            f"{'music of the nearest: low, all':>31s}")
    lines = [head, f"{'':13s} {'model / data':>13s} {'model / data':>11s} {'model / data':>17s} "
                   f"{'model / data':>25s} {'model':>32s} {'model / data':>31s}"]
    for st in sorted(set(model) | set(data)):
        m = model.get(st, Tally()).figures(fps)
        d = data.get(st, Tally()).figures(fps)

        low = f"{int(m['low'])}, {m['low_held']:.2f} / {int(d['low'])}, {d['low_held']:.2f}"
        heard = f"x{m['onset']:.2f}, {m['top_db']:+.1f} dB" if "onset" in m else "-"
        rank = f"{m['rank_low']:.2f}, {m['rank_all']:.2f} / {d['rank_low']:.2f}, {d['rank_all']:.2f}"
        lines.append(f"{st:13s} {_pair(m, d, 'still', '.3f'):>13s} {_pair(m, d, 'longest', '.1f'):>11s} "
                     f"{_pair(m, d, 'loud', '.3f'):>17s} {low:>25s} {heard:>32s} {rank:>31s}")

    def pooled(t: dict[str, Tally]) -> str:
        lo = [x for v in t.values() for x in v.rank_low]
        al = [x for v in t.values() for x in v.rank_all]
        return (f"{np.median(lo) if lo else np.nan:.2f} under 0.3 ({len(lo)} windows), "
                f"{np.median(al) if al else np.nan:.2f} all")

    lines.append(f"music of the nearest, every style: model {pooled(model)}; data {pooled(data)} "
                 "(0 = danced again where the music repeats, 0.5 = to any music)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="dancemuse bench holds", description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="models/default.onnx", help="the model (default models/default.onnx)")
    ap.add_argument("--data", nargs="+", default=["data/synth_v5", "data/mocap"],
                    help="the training data (default data/synth_v5 data/mocap)")
    ap.add_argument("--songs", nargs="+", default=["midi:6"], help="test songs (default midi:6)")
    ap.add_argument("--styles-per-song", type=int, default=2, help="styles each test song is danced in (default 2)")
    ap.add_argument("--long-seeds", type=int, default=2, help="seeds the recordings are danced with (default 2)")
    ap.add_argument("--long-minutes", type=float, default=10.0, help="minutes of recordings (default 10; 0 = none)")
    args = ap.parse_args(argv)

    from model import metrics_songs as ms
    from model.config import load_config
    from model.errors import DanceMuseError
    from model.metrics_gen import Dancer

    try:
        dancer = Dancer(args.model, load_config(None))
        data = data_tallies(args.data, fps=dancer.fps, dancer=dancer)
        songs = ms.find_songs(args.songs)
        model = model_tallies(dancer, songs, per_song=args.styles_per_song, long_seeds=args.long_seeds,
                              minutes=args.long_minutes)
    except DanceMuseError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    rec = bool(args.long_minutes > 0 and ms.recordings())
    print(f"model {args.model} ({', '.join(args.songs)}"
          + (f"; {args.long_minutes:g} min of recordings with {args.long_seeds} seeds)" if rec else "; no recordings)")
          + f" against {' + '.join(args.data)}")
    print(f"still: {MIN_STILL_S:g} s or more under {CALM:g}x the piece's mean speed (root-relative mean joint "
          f"speed per {BLOCK_S:g} s); loud: at or above the piece's median level")
    print(table(model, data, fps=dancer.fps))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
