"""Benchmark: beat tracking on the exact-truth real-instrument corpus, side by side.

For every test track of ``data/beat_corpus/test`` (built by ``bench/beat_corpus.py``) it runs

- ours: causal, ``model.features.extract_features(y, sr=sr)`` -> FrameInfo ``is_beat`` /
  ``beat_time`` / ``beat_in_bar`` (downbeats: beats with ``beat_in_bar == 1``), default
  config, nothing told about metre or tempo; whatever tracker model.features uses is what
  is measured;
- librosa ``beat.beat_track`` (offline, whole file);
- essentia ``RhythmExtractor2013`` (offline, multifeature, at 44.1 kHz; no downbeats),

and prints mir_eval F-measure (+-70 ms), CMLt, AMLt, median timing offset of matched beats
(ms, + = late) and downbeat F, per genre group and overall (mean over tracks; beats before
5 s are ignored, as mir_eval does). For ours also: re-lock time after each tempo step or
ramp (s until 4 beats in a row are right: on time, no extra beats), the longest off-beat lock (s of
consecutive beats half a period off), and the per-frame cost of features + tracker.

It also prints the tracker's own cost per 30 fps frame on one thread (``time.thread_time``,
median and p99 over the frames of a few tracks): the activation network (numpy step and
onnxruntime call, side by side), the HMM step, the posterior summary (per call and per
frame: it runs every SUMMARY_EVERY-th HMM step) and the whole ``OnlineBeatTracker.step`` with each
(its per-frame figure, which the acceptance line uses: the median of COST_ROUNDS rounds' means).
At the end, issue 11's acceptance lines for ours, each PASS or FAIL with the measured figure.

Run: ``dancemuse bench beats [--tracks 'GLOB'] [--json] [--trackers ours,librosa]
[--reuse-peers]``. The peers' beats are cached in ``PEER_CACHE`` (per track file, size
and mtime); ``--reuse-peers`` reads them from there instead of running librosa and essentia
again (for fast iterations on ours; a full run without it refreshes the cache).
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "data" / "beat_corpus" / "test"
GROUPS = ("club", "rock/pop", "jazz/latin", "triple metre", "tempo change")
TRACKERS = ("ours", "librosa", "essentia")
WINDOW = 0.07
MIN_T = 5.0
PEER_CACHE = ROOT / "data" / "beat_corpus" / "peer_beats.json"
COST_TRACKS = 3
"""Tracks whose frames the per-frame cost is measured on."""
COST_ROUNDS = 3
"""Plain rounds over those frames; the whole step's per-frame figure is the median of the
rounds' means (one round on a shared machine moved it by +-20 %)."""


def run_ours(y: np.ndarray, sr: int) -> tuple[np.ndarray, np.ndarray, float, int]:
    """(beats, downbeats, CPU s, frames) of the causal tracker through model.features."""
    from model.features import extract_features

    c0 = time.process_time()
    _, info = extract_features(y, sr=sr)
    cpu = time.process_time() - c0
    beat = np.asarray(info.is_beat, bool)
    times = np.asarray(info.beat_time)[beat]
    bib = np.asarray(info.beat_in_bar)[beat]
    return times, times[bib == 1], cpu, len(info.time)


def run_librosa(y: np.ndarray, sr: int) -> tuple[np.ndarray, None, float]:
    import librosa

    c0 = time.process_time()
    _, beats = librosa.beat.beat_track(y=y, sr=sr, units="time")
    return np.asarray(beats, float), None, time.process_time() - c0


def run_essentia(y: np.ndarray, sr: int) -> tuple[np.ndarray, None, float]:
    import essentia.standard as es
    import soxr

    c0 = time.process_time()
    y44 = soxr.resample(y, sr, 44100).astype(np.float32)
    _, ticks, _, _, _ = es.RhythmExtractor2013(method="multifeature")(y44)
    return np.asarray(ticks, float), None, time.process_time() - c0


def tracker_cost(wavs: list[Path]) -> dict[str, dict[str, Any]]:
    """Thread CPU time per 30 fps frame of the beat tracker's parts (us): median, p99, mean.

    The log-mel frames of ``wavs`` are computed first (model.features), then two fresh
    OnlineBeatTrackers run over them side by side, frame by frame (the same load on both):
    one with the activation in numpy (the default), one with it in onnxruntime (as before
    the numpy step). COST_ROUNDS plain rounds (whole step per frame; per frame: the median of
    the rounds' means, each round's in ``rounds_us``; median and p99 over all frames), then
    one with the activation, HMM step and summary timed separately."""
    import soundfile as sf

    from model.beat_act import BeatActivation
    from model.beats import OnlineBeatTracker
    from model.config import defaults
    from model.features import StreamingFeatures

    mels: list[np.ndarray] = []
    for w in wavs:
        y, sr = sf.read(str(w), dtype="float32", always_2d=False)
        if y.ndim == 2:
            y = y.mean(axis=1)
        feats = StreamingFeatures(defaults()["features"], input_sr=sr)
        orig = feats.tracker.step
        rec: list[np.ndarray] = []

        def record(onset: float = 0.0, low: float = 0.0, mel: np.ndarray | None = None,
                   rec: list[np.ndarray] = rec, orig: Any = orig) -> None:
            rec.append(np.array(mel))
            orig(onset, low, mel)

        setattr(feats.tracker, "step", record)  # noqa: B010 - a recorder for this bench
        feats.push(y)
        mels.append(np.asarray(rec))
    n_frames = sum(len(m) for m in mels)
    clock = time.thread_time_ns
    trs = {"numpy": OnlineBeatTracker(fps=30), "onnxruntime": OnlineBeatTracker(fps=30)}
    trs["onnxruntime"].act = BeatActivation(backend="onnxruntime")
    if trs["numpy"].act.backend != "numpy":
        print("note: models/beats.npz is missing or stale: both rows run onnxruntime "
              "(python -m model.beat_train --npz models/beats.onnx)", file=sys.stderr)
    total: dict[str, list[int]] = {k: [] for k in trs}
    rounds: dict[str, list[float]] = {k: [] for k in trs}
    parts: dict[str, list[int]] = {}

    def timed(f: Any, out: list[int]) -> Any:
        def g(*a: Any) -> Any:
            t0 = clock()
            r = f(*a)
            out.append(clock() - t0)
            return r
        return g

    for rnd in ("total",) * COST_ROUNDS + ("parts",):
        if rnd == "parts":
            for k, tr in trs.items():
                for name, obj, meth in (("activation", tr.act, "step"), ("hmm step", tr.hmm, "step"),
                                        ("summary", tr.hmm, "summary")):
                    out = parts.setdefault(f"{name} ({k})" if name == "activation" else f"{name}", [])
                    if name != "activation" and k != "numpy":
                        out = []  # the same HMM code on both: timed once
                    setattr(obj, meth, timed(getattr(obj, meth), out))
        for m in mels:
            for tr in trs.values():
                tr.reset_state()
            for row in m:
                for k, tr in trs.items():
                    t0 = clock()
                    tr.step(mel_db=row)
                    if rnd == "total":
                        total[k].append(clock() - t0)
        if rnd == "total":
            for k in trs:
                done = len(rounds[k])
                rounds[k].append(sum(total[k][done * n_frames:]) / 1e3 / n_frames)
    n = sum(len(m) for m in mels)
    res: dict[str, dict[str, Any]] = {}
    rows = [*parts.items()] + [(f"tracker step ({k} act.)", v) for k, v in total.items()]
    for name, v in rows:
        a = np.asarray(v, float) / 1e3
        res[name] = {"median_us": float(np.median(a)), "p99_us": float(np.percentile(a, 99)),
                     "per_frame_us": float(a.sum() / n), "calls": len(a)}
    for k, r in rounds.items():
        res[f"tracker step ({k} act.)"].update(per_frame_us=float(np.median(r)), rounds_us=r)
    return res


def offset_ms(ref: np.ndarray, est: np.ndarray) -> float:
    """Median (est - nearest ref) in ms over estimated beats within the window."""
    if len(ref) == 0 or len(est) == 0:
        return float("nan")
    idx = np.clip(np.searchsorted(ref, est), 1, len(ref) - 1)
    near = np.where(np.abs(est - ref[idx - 1]) < np.abs(est - ref[idx]), ref[idx - 1], ref[idx])
    d = est - near
    d = d[np.abs(d) <= WINDOW]
    return float(np.median(d) * 1e3) if len(d) else float("nan")


def scores(ref: np.ndarray, est: np.ndarray, ref_db: np.ndarray,
           est_db: np.ndarray | None) -> dict[str, float]:
    import mir_eval

    warnings.filterwarnings("ignore", message="Estimated beats are empty", category=UserWarning)
    r, e = mir_eval.beat.trim_beats(ref, MIN_T), mir_eval.beat.trim_beats(np.sort(est), MIN_T)
    _, cmlt, _, amlt = mir_eval.beat.continuity(r, e)
    out = {"F": float(mir_eval.beat.f_measure(r, e, WINDOW)), "CMLt": float(cmlt),
           "AMLt": float(amlt), "offset_ms": offset_ms(r, e)}
    if est_db is not None:
        out["downbeat_F"] = float(mir_eval.beat.f_measure(
            mir_eval.beat.trim_beats(ref_db, MIN_T), mir_eval.beat.trim_beats(np.sort(est_db), MIN_T),
            WINDOW))
    return out


def right_beats(ref: np.ndarray, est: np.ndarray) -> np.ndarray:
    """For each reference beat but the last: exactly one estimated beat falls in its slot
    [ref[k] - w, ref[k+1] - w) and that one is within w of ref[k] (right phase and tempo)."""
    e = np.sort(est)
    lo = np.searchsorted(e, ref[:-1] - WINDOW)
    hi = np.searchsorted(e, ref[1:] - WINDOW)
    one = (hi - lo) == 1
    first = e[np.minimum(lo, max(0, len(e) - 1))] if len(e) else np.zeros(len(lo))
    return one & (np.abs(first - ref[:-1]) <= WINDOW)


def relock_s(ref: np.ndarray, est: np.ndarray, t_change: float, run: int = 4) -> float:
    """Seconds from ``t_change`` until the first of ``run`` consecutive right reference beats
    (``right_beats``: hit, no extra beats between; inf if never)."""
    ok = right_beats(ref, est)
    for k in np.nonzero(ref[:-1] >= t_change)[0]:
        if k + run <= len(ok) and ok[k:k + run].all():
            return float(max(0.0, ref[k] - t_change))
    return float("inf")


def offbeat_stretch_s(ref: np.ndarray, est: np.ndarray) -> float:
    """Longest span (s) of consecutive estimated beats (after 5 s) that sit half a beat off
    the reference grid (phase within 0.5 +- 0.15 of the local beat period)."""
    e = np.sort(est[est >= MIN_T])
    if len(e) < 2 or len(ref) < 2:
        return 0.0
    k = np.clip(np.searchsorted(ref, e, side="right") - 1, 0, len(ref) - 2)
    phase = (e - ref[k]) / (ref[k + 1] - ref[k])
    off = np.abs(phase - 0.5) < 0.15
    best, start = 0.0, None
    for i, o in enumerate(off):
        if o and start is None:
            start = i
        if (not o or i == len(off) - 1) and start is not None:
            end = i if o else i - 1
            best = max(best, float(e[end] - e[start]))
            start = None
    return best


def change_time(meta: dict[str, Any]) -> float | None:
    """When the beat is 'new' after a tempo change: the step time, or the end of a ramp."""
    tm = meta.get("tempo_map", {})
    pts = tm.get("points", [])
    if tm.get("kind") == "step" and len(pts) >= 2:
        return float(pts[1][0])
    if tm.get("kind") == "ramp" and len(pts) >= 3:
        return float(pts[2][0])
    return None


def _peer_key(wav: Path, name: str) -> str:
    st = wav.stat()
    return f"{name}:{wav.name}:{st.st_size}:{int(st.st_mtime)}"


def groove_back(meta: dict[str, Any], t_change: float) -> float | None:
    """When the tempo change falls in a break (the corpus's sections): the end of that break,
    i.e. when beats return; None otherwise."""
    for start, end, label in meta.get("sections", []):
        if label == "break" and float(start) <= t_change < float(end):
            return float(end)
    return None


def evaluate_track(wav: Path, trackers: tuple[str, ...],
                   peers: dict[str, Any] | None = None, reuse: bool = False) -> dict[str, Any]:
    """Scores of each tracker on one track; ``peers`` (a dict) caches the peers' beats:
    read when ``reuse``, always written."""
    import soundfile as sf

    meta = json.loads(wav.with_suffix(".json").read_text())
    y, sr = sf.read(str(wav), dtype="float32", always_2d=False)
    if y.ndim == 2:
        y = y.mean(axis=1)
    ref, ref_db = np.asarray(meta["beats"], float), np.asarray(meta["downbeats"], float)
    row: dict[str, Any] = {"track": wav.stem, "genre": meta["genre"], "group": meta["group"],
                           "meter": meta["meter"], "seconds": len(y) / sr}
    for name in trackers:
        if name == "ours":
            est, est_db, cpu, frames = run_ours(y, sr)
            res = scores(ref, est, ref_db, est_db)
            res["cpu_ms_per_frame"] = cpu * 1e3 / max(1, frames)
            res["offbeat_s"] = offbeat_stretch_s(ref, est)
            tc = change_time(meta)
            if tc is not None:
                res["relock_s"] = relock_s(ref, est, tc)
                res["change"] = meta["tempo_map"]["kind"]
                back = groove_back(meta, tc)
                if back is not None:
                    res["break_end_s"] = back - tc
                    res["relock_after_break_s"] = relock_s(ref, est, back)
        else:
            key = _peer_key(wav, name)
            if reuse and peers is not None and key in peers:
                est, cpu = np.asarray(peers[key]["beats"], float), float(peers[key]["cpu_s"])
            else:
                est, _, cpu = (run_librosa if name == "librosa" else run_essentia)(y, sr)
                if peers is not None:
                    peers[key] = {"beats": [round(float(t), 5) for t in est], "cpu_s": cpu}
            res = scores(ref, est, ref_db, None)
            res["cpu_s"] = cpu
        row[name] = res
    return row


def _mean(vals: list[float]) -> float:
    v = [x for x in vals if np.isfinite(x)]
    return float(np.mean(v)) if v else float("nan")


def summarise(rows: list[dict[str, Any]], trackers: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for group in (*GROUPS, "overall"):
        sel = [r for r in rows if group == "overall" or r["group"] == group]
        if not sel:
            continue
        out[group] = {"n": len(sel)}
        for t in trackers:
            keys = ("F", "CMLt", "AMLt", "offset_ms") + (("downbeat_F",) if t == "ours" else ())
            out[group][t] = {k: _mean([r[t][k] for r in sel]) for k in keys}
            offs = [r[t]["offset_ms"] for r in sel if np.isfinite(r[t]["offset_ms"])]
            out[group][t]["offset_ms"] = float(np.median(offs)) if offs else float("nan")
    return out


def _load() -> str:
    """The machine's 1-minute load average and its CPU count (cost figures depend on both)."""
    try:
        return f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    except OSError:
        return "unknown"


def _fmt(x: float, spec: str = ".3f") -> str:
    return "n/a" if not np.isfinite(x) else format(x, spec)


def _relock(x: float) -> str:
    return "never" if np.isinf(x) else f"{x:.2f} s"


def print_report(rows: list[dict[str, Any]], summ: dict[str, Any], trackers: tuple[str, ...],
                 corpus: Path, cost: dict[str, dict[str, Any]] | None = None) -> None:
    print(f"beat tracking on {len(rows)} tracks of {corpus} (mir_eval, +-{WINDOW * 1e3:.0f} ms, "
          f"beats before {MIN_T:g} s ignored; mean over tracks, offset: median of track medians)")
    print("ours is causal (model.features); librosa and essentia see the whole file")
    print(f"{'group':<14}{'n':>4}  {'tracker':<9}{'F':>7}{'CMLt':>7}{'AMLt':>7}{'offset ms':>11}"
          f"{'downbeat F':>12}")
    for group, g in summ.items():
        for i, t in enumerate(trackers):
            m = g[t]
            print(f"{group if i == 0 else '':<14}{g['n'] if i == 0 else '':>4}  {t:<9}"
                  f"{_fmt(m['F']):>7}{_fmt(m['CMLt']):>7}{_fmt(m['AMLt']):>7}"
                  f"{_fmt(m['offset_ms'], '+.1f'):>11}{_fmt(m.get('downbeat_F', float('nan'))):>12}")
    if "ours" not in trackers:
        return
    changes = [r for r in rows if "relock_s" in r["ours"]]
    if changes:
        print("\nours after tempo changes (re-lock: s from the step / ramp end until 4 beats in a row "
              "are right: on time, no extra beats)")
        for r in changes:
            o = r["ours"]
            extra = ""
            if "relock_after_break_s" in o:
                extra = (f"   (the change falls in a break that ends {o['break_end_s']:.1f} s later; "
                         f"re-lock {_relock(o['relock_after_break_s'])} after its end)")
            print(f"  {r['track']:<32} {o['change']:<5} re-lock {_relock(o['relock_s'])}"
                  f"   F {o['F']:.3f}{extra}")
    worst = sorted(rows, key=lambda r: -r["ours"]["offbeat_s"])[:6]
    over = sum(r["ours"]["offbeat_s"] > 4.0 for r in rows)
    print(f"\nours longest off-beat lock: {worst[0]['ours']['offbeat_s']:.1f} s; "
          f"{over}/{len(rows)} tracks have one over 4 s. Worst:")
    for r in worst:
        print(f"  {r['track']:<32} {r['ours']['offbeat_s']:5.1f} s   F {r['ours']['F']:.3f}")
    low = sorted(rows, key=lambda r: r["ours"]["F"])[:8]
    print("\nours lowest F: " + ", ".join(f"{r['track']} {r['ours']['F']:.2f}" for r in low))
    cpu = [r["ours"]["cpu_ms_per_frame"] for r in rows]
    line = f"\nours CPU per frame (features + tracker, offline push): median {np.median(cpu):.3f} ms"
    for t in trackers:
        if t != "ours":
            per = np.median([r[t]["cpu_s"] * 1e3 / (r["seconds"] * 30) for r in rows])
            line += f"; {t} (offline, per 1/30 s of audio) {per:.3f} ms"
    print(line)
    if cost:
        print(f"\nours tracker cost per 30 fps frame, one thread (thread CPU time, us; "
              f"{COST_TRACKS} tracks; the activation in numpy and in onnxruntime side by side, "
              "frame by frame; the machine's load inflates both; whole step: per frame is the median "
              f"of {COST_ROUNDS} rounds' means, listed after it; load average {_load()})")
        print(f"  {'part':<34}{'calls':>7}{'median':>9}{'p99':>9}{'per frame':>11}")
        for name, c in cost.items():
            each = " (" + ", ".join(f"{r:.1f}" for r in c["rounds_us"]) + ")" if "rounds_us" in c else ""
            print(f"  {name:<34}{c['calls']:>7}{c['median_us']:>9.1f}{c['p99_us']:>9.1f}"
                  f"{c['per_frame_us']:>11.1f}{each}")
        a, b = cost.get("tracker step (numpy act.)"), cost.get("tracker step (onnxruntime act.)")
        if a and b:
            print(f"  whole step, numpy / onnxruntime activation: {a['per_frame_us'] / b['per_frame_us']:.2f} "
                  f"per frame, {a['median_us'] / b['median_us']:.2f} median")
    print("\nacceptance (issue 11), ours:")
    for what, val, ok in acceptance(rows, summ, cost):
        print(f"  {'PASS' if ok else 'n/a ' if ok is None else 'FAIL'}  {what}: {val}")


def acceptance(rows: list[dict[str, Any]], summ: dict[str, Any],
               cost: dict[str, dict[str, Any]] | None) -> list[tuple[str, str, bool | None]]:
    """Issue 11's acceptance lines for ours: (what, measured, met; None: not measured)."""
    o = summ["overall"]["ours"]
    club = summ.get("club", {}).get("ours", {}).get("F", float("nan"))
    out: list[tuple[str, str, bool | None]] = [
        ("F >= 0.85", f"{o['F']:.3f}", o["F"] >= 0.85),
        ("CMLt >= 0.80", f"{o['CMLt']:.3f}", o["CMLt"] >= 0.80),
        ("AMLt >= 0.90", f"{o['AMLt']:.3f}", o["AMLt"] >= 0.90),
        ("club F >= 0.90", _fmt(club), bool(club >= 0.90) if np.isfinite(club) else None),
        ("median offset within +-15 ms", f"{o['offset_ms']:+.1f} ms", abs(o["offset_ms"]) <= 15.0),
        ("downbeat F >= 0.70", f"{o['downbeat_F']:.3f}", o["downbeat_F"] >= 0.70),
    ]
    # re-lock: from the change, or from the end of the break the change falls in
    rel = [(r["track"], r["ours"].get("relock_after_break_s", r["ours"]["relock_s"]))
           for r in rows if "relock_s" in r["ours"]]
    if rel:
        worst = max(rel, key=lambda x: x[1])
        n_ok = sum(x[1] <= 2.0 for x in rel)
        out.append(("re-lock after a tempo change <= 2 s (after the break where the change is in one)",
                    f"worst {_relock(worst[1])} ({worst[0]}), {n_ok}/{len(rel)} within 2 s", n_ok == len(rel)))
    ob = max(rows, key=lambda r: r["ours"]["offbeat_s"])
    n_ob = sum(r["ours"]["offbeat_s"] > 4.0 for r in rows)
    out.append(("no off-beat lock over 4 s", f"longest {ob['ours']['offbeat_s']:.1f} s ({ob['track']}), "
                f"{n_ob}/{len(rows)} tracks over 4 s", n_ob == 0))
    c = (cost or {}).get("tracker step (numpy act.)")
    rounds = "/".join(f"{r / 1e3:.3f}" for r in (c or {}).get("rounds_us", []))
    out.append(("activation + inference <= 0.2 ms per 30 fps frame, one thread",
                f"{c['per_frame_us'] / 1e3:.3f} ms (median of rounds {rounds}; frames: median "
                f"{c['median_us'] / 1e3:.3f}, p99 {c['p99_us'] / 1e3:.3f})"
                if c else "not measured (--no-cost)", None if not c else c["per_frame_us"] <= 200.0))
    return out


def _save_peers(peers: dict[str, Any]) -> None:
    try:
        tmp = PEER_CACHE.with_suffix(".tmp")
        tmp.write_text(json.dumps(peers))
        tmp.replace(PEER_CACHE)
    except OSError as e:
        print(f"could not write the peer cache {PEER_CACHE} ({e}); continuing", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=CORPUS, help="folder of .wav + .json tracks")
    ap.add_argument("--tracks", default="*", help="glob on track names (e.g. '*house*')")
    ap.add_argument("--trackers", default=",".join(TRACKERS),
                    help="comma list of ours,librosa,essentia (default all)")
    ap.add_argument("--json", action="store_true", help="print JSON (per track + summary)")
    ap.add_argument("--reuse-peers", action="store_true",
                    help=f"take librosa's and essentia's beats from {PEER_CACHE.name} when there")
    ap.add_argument("--no-cost", action="store_true", help="skip the per-frame cost measurement")
    args = ap.parse_args(argv)
    trackers = tuple(t.strip() for t in args.trackers.split(",") if t.strip())
    bad = [t for t in trackers if t not in TRACKERS]
    if bad:
        print(f"error: unknown tracker {bad[0]!r}; choose from {', '.join(TRACKERS)}", file=sys.stderr)
        return 2
    wavs = sorted(p for p in args.corpus.glob("*.wav")
                  if fnmatch.fnmatch(p.stem, args.tracks) and p.with_suffix(".json").exists())
    if not wavs:
        print(f"error: no tracks matching {args.tracks!r} in {args.corpus}; build the corpus "
              "with `nice -n 10 python bench/beat_corpus.py --test-only`", file=sys.stderr)
        return 2
    if "essentia" in trackers:
        try:
            import essentia

            essentia.log.infoActive = False
        except ImportError:
            print("essentia not installed (pip install essentia); skipping it", file=sys.stderr)
            trackers = tuple(t for t in trackers if t != "essentia")
    peers: dict[str, Any] = {}
    if PEER_CACHE.exists():
        try:
            peers = json.loads(PEER_CACHE.read_text())
        except (OSError, ValueError):
            peers = {}
    rows = []
    for i, w in enumerate(wavs):
        n_peers = len(peers)
        rows.append(evaluate_track(w, trackers, peers, args.reuse_peers))
        if len(peers) > n_peers:  # new peer results: keep them even if the run is cut short
            _save_peers(peers)
        if not args.json:
            r = rows[-1]
            print(f"[{i + 1}/{len(wavs)}] {w.stem:<32} " + "  ".join(
                f"{t} {r[t]['F']:.2f}" for t in trackers), file=sys.stderr, flush=True)
    summ = summarise(rows, trackers)
    cost = tracker_cost(wavs[:COST_TRACKS]) if "ours" in trackers and not args.no_cost else None
    if args.json:
        acc = ([{"criterion": w, "measured": v, "met": ok} for w, v, ok in acceptance(rows, summ, cost)]
               if "ours" in trackers else [])
        print(json.dumps({"corpus": str(args.corpus), "summary": summ, "tracks": rows,
                          "cost_us": cost, "acceptance": acc}, indent=1, default=lambda x: None))
    else:
        print_report(rows, summ, trackers, args.corpus, cost)
    return 0


if __name__ == "__main__":
    sys.exit(main())
