"""The dancer evaluation of issue 10 for two models side by side (printed, nothing asserted).

    dancemuse bench dancer [--old models/default.onnx] [--new models/new.onnx] [--songs midi:6]
    python bench/dancer.py --new runs/x.onnx --json out.json --sheets out/sheets

Each model is measured by ``model.metrics_suite`` through the live path on the same
held-out real-instrument test songs (``midi:N``: exact beats from the MIDI tempo map,
seeds 900000+, cached in data/eval_songs) and, for the long test (10 minutes: freeze
ratio, root radius, style recognition on real music), on real recordings: the Debian
``fretsonfire-songs-muldjord`` songs when installed (skipped with the reason otherwise;
``--recordings FILES`` to use others). Each model's style classifier is trained on its own
training data (recorded in the model, or ``--old-data`` / ``--new-data``); the ``train``
column is the new model's training data (the old one's without ``--new``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    from live.commands.evaluate import add_suite_options, print_columns, suite_config

    ap = argparse.ArgumentParser(prog="dancemuse bench dancer", description=__doc__.split("\n\n")[0])
    ap.add_argument("--old", default="models/default.onnx", help="first model (default models/default.onnx)")
    ap.add_argument("--new", default=None, help="second model (.onnx)")
    ap.add_argument("--old-data", nargs="+", default=None, help="training data of --old (default: recorded in the model)")
    ap.add_argument("--new-data", nargs="+", default=None, help="training data of --new (default: recorded in the model)")
    add_suite_options(ap)
    ap.add_argument("--quick", action="store_true", help="a small run (midi:2, 1 minute long test) to try it out")
    ap.add_argument("--json", default=None, help="write both reports here")
    ap.add_argument("--sheets", default=None, help="write contact sheets of both models here")
    args = ap.parse_args(argv)
    if args.quick:
        args.songs, args.long_minutes, args.pair_songs, args.styles_per_song = ["midi:2"], 1.0, 1, 1

    from model.config import load_config
    from model.errors import DanceMuseError
    from model.evaluate import dancer_report, write_json
    from model.metrics_songs import FOF_DIR, recordings

    cfg = load_config(None)
    models = [(Path(args.old).stem, args.old, args.old_data)]
    if args.new:
        name = Path(args.new).stem
        models.append((name if name != models[0][0] else name + "(new)", args.new, args.new_data))
    if args.recordings is None and not recordings():
        print(f"real recordings: none ({FOF_DIR} absent; apt-get install fretsonfire-songs-muldjord); "
              "the long test and style-on-real-music use the test songs instead")
    reports = {}
    try:
        for name, path, data in models:
            t0 = time.perf_counter()
            print(f"== {name}: {path}", flush=True)
            reports[name] = dancer_report(path, cfg, songs=args.songs, data=data, recordings=args.recordings,
                                          post=args.post, root=args.root, suite=suite_config(args, cfg),
                                          sheets=args.sheets, progress=lambda m: print(f"  {m}", flush=True))
            print(f"   {reports[name]['frames']} frames in {time.perf_counter() - t0:.0f} s "
                  f"(runs as {reports[name]['generator']})", flush=True)
    except DanceMuseError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    last = list(reports.values())[-1]
    print()
    print(f"test songs: {' '.join(args.songs)} ({last['n_exact']} with exact beats); long test on "
          f"{last['long_source']}; recordings: {last['recordings']}; post {args.post} ({last.get('post_stages', '')}), root {args.root}; "
          f"train column: {last['train_data']}")
    print_columns(reports)
    if args.json:
        write_json(reports, args.json)
        print(f"reports written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
