"""`dancemuse beats SONG [--json]`: tempo and beat times found by the online tracker."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    from live.cli import finite_float

    p = sub.add_parser(
        "beats",
        help="print the tempo and beat times (s, one per line) of a song (SONG may be 'demo')",
    )
    p.add_argument("song", metavar="SONG", help="audio file, or 'demo' for the built-in song")
    p.add_argument("--json", action="store_true", help='print {"tempo": ..., "beats": [...]} instead')
    p.add_argument("--downbeats", action="store_true", help="also print each beat's position in the bar")
    p.add_argument("--seconds", type=finite_float, default=30.0, help="length of the demo song (default 30)")
    p.set_defaults(func=run)


def bar_counts(tracker_pos: Any, beats_per_bar: int) -> list[int]:
    """Each beat's count in its bar, 1..beats_per_bar: one more than the beat before,
    back to 1 on a beat the tracker marks as a downbeat (or after a full bar).

    The tracker's own per-beat position can repeat or skip while its phase re-settles
    (``1 2 2 2 3 2 3 4``); counting keeps the printed bar readable (``1 2 3 4 1 2 3 4``)
    and still follows the downbeats it finds.
    """
    out: list[int] = []
    c = 0
    for p in tracker_pos:
        p = int(p)
        if p == 1:
            c = 1
        elif c == 0:
            c = p if 1 <= p <= beats_per_bar else 1
        else:
            c = c % beats_per_bar + 1
        out.append(c)
    return out


def run(args: argparse.Namespace, cfg: dict[str, Any]) -> int:
    import json

    import numpy as np

    from live.commands.features import load_song
    from model.features import extract_features

    y, sr, _ = load_song(args.song, cfg, seconds=args.seconds)
    _, info = extract_features(y, sr=sr, cfg=cfg["features"])
    beats = info.beat_time[info.is_beat]
    pos = bar_counts(info.beat_in_bar[info.is_beat], int(cfg["features"]["beats_per_bar"]))
    settled = info.tempo[info.time > min(5.0, float(info.time[-1]) / 2)] if len(info.time) else info.tempo
    settled = settled[settled > 0]
    tempo = round(float(np.median(settled)), 2) if len(settled) and len(beats) else 0.0  # no beat, no tempo
    if args.json:
        doc: dict[str, Any] = {"tempo": tempo, "beats": [round(float(b), 4) for b in beats]}
        if args.downbeats:
            doc["beat_in_bar"] = [int(p) for p in pos]
        print(json.dumps(doc))
        return 0
    print(f"# tempo {tempo:.2f} BPM, {len(beats)} beats" if len(beats) else
          "# no steady beat found (0 beats): the audio has no pulse the tracker could lock onto")
    for b, p in zip(beats, pos):
        print(f"{b:.4f}\t{int(p)}" if args.downbeats else f"{b:.4f}")
    return 0
