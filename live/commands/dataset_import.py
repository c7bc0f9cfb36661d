"""`dancemuse dataset import bvh|aist|mocap` and `dancemuse dataset extract`: bring your own
dancers into a dataset. live/commands/dataset.py calls ``register_into`` with its
subparsers; this module imports nothing heavy until a command runs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register_into(dsub: Any) -> None:
    """Add ``import`` (with ``bvh``, ``aist`` and ``mocap``) and ``extract`` to the ``dataset``
    subparsers ``dsub``."""
    from live.cli import common_parent, finite_float

    imp = dsub.add_parser("import", parents=[common_parent()],
                          help="import motion capture (BVH) or AIST++ keypoints into a dataset",
                          description="import motion capture (BVH) or AIST++ keypoints into a dataset")
    isub = imp.add_subparsers(dest="import_kind", metavar="KIND", required=True)

    b = isub.add_parser("bvh", parents=[common_parent()], help="BVH takes + the song they were danced to",
                        description="Import BVH files (Mixamo, CMU, Rokoko or any rig with --map) "
                                    "with the song they were danced to.")
    b.add_argument("files", nargs="+", metavar="FILE", help="BVH files")
    b.add_argument("--audio", action="append", required=True, metavar="SONG",
                   help="the song: once for all files, or once per file in the same order")
    b.add_argument("--style", required=True, help="style label for these clips, e.g. house")
    b.add_argument("--out", required=True, metavar="DIR", help="dataset folder (created or appended to)")
    b.add_argument("--map", metavar="JSON", dest="joint_map",
                   help='joint map {"left_hip": "MyThigh_L", ..., "head": "MyHead"} for unusual rigs')
    b.add_argument("--unit", choices=["m", "cm", "mm", "in"],
                   help="file units (default: guessed from the figure's height)")
    b.add_argument("--id", action="append", dest="ids", metavar="ID", help="clip id per file (default: file name)")
    _common_out(b)
    b.set_defaults(func=_guarded(run_bvh))

    a = isub.add_parser("aist", parents=[common_parent()], help="AIST++ keypoints3d pickles + their music",
                        description="Import AIST++ keypoints3d/*.pkl (COCO-17, cm, 60 fps) with the "
                                    "AIST Dance DB music; the genre code in each name becomes the style.")
    a.add_argument("inputs", nargs="+", metavar="PKL_OR_DIR", help="keypoint files or the keypoints3d folder")
    a.add_argument("--music", required=True, metavar="DIR", help="folder with mBR0.wav, mPO1.mp3, ...")
    a.add_argument("--out", required=True, metavar="DIR", help="dataset folder (created or appended to)")
    a.add_argument("--style", help="one style label for all clips (default: from the genre code)")
    _common_out(a, licence="AIST++ CC BY 4.0 annotations; AIST Dance DB music, see its terms")
    a.set_defaults(func=_guarded(run_aist))

    m = isub.add_parser("mocap", parents=[common_parent()],
                        help="a folder of real dance mocap (CMU BVH takes) + generated music on the dancer's beat",
                        description="Import every BVH take in a folder (e.g. ../shared/mocap, with its "
                                    "manifest.json), find each dancer's own pulse in the motion and render an "
                                    "accompaniment whose beats land on it. Styles: salsa, breaking, freestyle.")
    m.add_argument("folder", metavar="DIR", help="folder with the BVH takes (and manifest.json)")
    m.add_argument("--out", required=True, metavar="DIR", help="dataset folder (created or appended to)")
    m.add_argument("--seed", type=int, default=0, help="seed for the accompaniment's instruments and grooves")
    m.add_argument("--limit", type=int, metavar="N", help="import only the first N takes (a quick look)")
    m.add_argument("--keep-build", action="store_true",
                   help="keep each performer's own bone lengths (default: retarget every take to the show's "
                        "skeleton, travel scaled by leg length, feet kept on the floor)")
    m.add_argument("--overwrite", action="store_true", help="replace clips whose id already exists")
    m.set_defaults(func=_guarded(run_mocap))

    x = dsub.add_parser("extract", parents=[common_parent()], help="poses and audio from dance videos (MediaPipe)",
                        description="Pull the audio (ffmpeg) and 3D poses (MediaPipe Pose world landmarks) "
                                    "out of dance videos. MediaPipe lives in its own environment: "
                                    "create it with `bash .ci/extract_venv.sh`.")
    x.add_argument("videos", nargs="+", metavar="VIDEO", help="video files")
    x.add_argument("--out", required=True, metavar="DIR", help="dataset folder (created or appended to)")
    x.add_argument("--style", default="video", help="style label for these clips (default: video)")
    x.add_argument("--audio", metavar="SONG", help="use this song instead of the video's own audio track")
    x.add_argument("--overlay", metavar="MP4", help="also write a debug video with the detected skeleton "
                                                    "(one video: this path; several: VIDEO-stem added)")
    x.add_argument("--max-gap", type=finite_float, default=0.5, metavar="S",
                   help="bridge gaps with no person up to this many seconds; longer gaps split the clip")
    x.add_argument("--min-clip", type=finite_float, default=1.0, metavar="S", help="drop pieces shorter than this")
    x.add_argument("--python", metavar="PATH",
                   help="python that has mediapipe (default: $DANCEMUSE_EXTRACT_PYTHON or .venv-extract)")
    _common_out(x)
    x.set_defaults(func=_guarded(run_extract))


def _common_out(p: argparse.ArgumentParser, *, licence: str = "") -> None:
    p.add_argument("--licence", default=licence or "unspecified",
                   help="licence or credit note stored with every clip")
    p.add_argument("--overwrite", action="store_true", help="replace clips whose id already exists")


_open_line = False


def progress(k: int, n: int, msg: str) -> None:
    """A stderr progress bar: redrawn in place on a terminal, one line per step otherwise."""
    global _open_line
    width = 24
    fill = int(width * k / max(n, 1))
    line = f"  [{'#' * fill}{'.' * (width - fill)}] {k}/{n} {msg[:60]}"
    if sys.stderr.isatty():
        done = k >= n
        print(f"\r{line:<100}", end="\n" if done else "", file=sys.stderr, flush=True)
        _open_line = not done
    else:
        print(line, file=sys.stderr, flush=True)


def _end_progress() -> None:
    global _open_line
    if _open_line:
        print(file=sys.stderr, flush=True)
        _open_line = False


def _guarded(fn: Any) -> Any:
    """End an unfinished progress line before an error message is printed."""
    def wrapper(args: argparse.Namespace, cfg: dict[str, Any]) -> int:
        try:
            return int(fn(args, cfg))
        finally:
            _end_progress()

    wrapper.__doc__ = fn.__doc__
    return wrapper


def _report(entries: list[dict[str, Any]], out: str) -> int:
    minutes = sum(float(e.get("seconds", 0.0)) for e in entries) / 60.0
    print(f"imported {len(entries)} clip(s), {minutes:.2f} min, into {out}")
    for e in entries:
        print(f"  {e['id']}: style {e['style']}, {e['frames']} frames at {e['fps']:g} fps")
    print(f"check it with: dancemuse dataset check {out}")
    return 0


def run_bvh(args: argparse.Namespace, cfg: dict[str, Any]) -> int:
    from model.importers.bvh_import import import_bvh

    entries = import_bvh(args.files, audio=args.audio, style=args.style, out=args.out,
                         fps=cfg["features"]["fps"], joint_map=args.joint_map, unit=args.unit,
                         licence=args.licence, ids=args.ids, overwrite=args.overwrite, progress=progress)
    return _report(entries, args.out)


def run_aist(args: argparse.Namespace, cfg: dict[str, Any]) -> int:
    from model.importers.aist import import_aist

    entries = import_aist(args.inputs, music_dir=args.music, out=args.out, fps=cfg["features"]["fps"],
                          style=args.style, licence=args.licence, overwrite=args.overwrite,
                          progress=progress)
    return _report(entries, args.out)


def run_mocap(args: argparse.Namespace, cfg: dict[str, Any]) -> int:
    from model.constants import SAMPLE_RATE
    from model.importers.mocap import import_mocap

    entries = import_mocap(args.folder, out=args.out, fps=cfg["features"]["fps"], sample_rate=SAMPLE_RATE,
                           seed=args.seed, overwrite=args.overwrite, limit=args.limit,
                           keep_build=args.keep_build, progress=progress)
    _report(entries, args.out)
    print("pulse per take: tempo bpm (5-95 % of beat intervals), fit = share of kinematic beats within "
          "70 ms of the grid (chance level), steps landing on counts 1-8:")
    for e in entries:
        pulse = e.get("pulse", {})
        print(f"  {e['id']}: {pulse.get('tempo_bpm')} bpm ({pulse.get('tempo_p5')}-{pulse.get('tempo_p95')}), "
              f"fit {pulse.get('fit_70ms')} ({pulse.get('chance_70ms')}), steps {pulse.get('steps_per_count')}")
    return 0


def run_extract(args: argparse.Namespace, cfg: dict[str, Any]) -> int:
    from model.importers.video import extract_videos

    entries = extract_videos(
        [Path(v) for v in args.videos], out=args.out, fps=cfg["features"]["fps"], style=args.style,
        audio=args.audio, overlay=args.overlay, max_gap_s=args.max_gap, min_clip_s=args.min_clip,
        python=args.python, licence=args.licence, overwrite=args.overwrite, progress=progress)
    return _report(entries, args.out)
