"""`dancemuse evaluate`: generate a dance per song and compare its metrics with the data's.

``evaluate(dance_fn, songs, train_clips=..., fps=...)`` is the core: ``dance_fn(audio, sr,
style=NAME) -> (poses [t, 17, 3], beats_s)`` makes one dance (a torch checkpoint through
``checkpoint_dance_fn``, an ONNX model through H5's live/generate.py in the CLI), songs
are ``Song`` records (audio path, style, optional ground-truth beats and poses), and the
training clips give the reference numbers. Beats for the Beat Align Score and the lag are
the song's ground truth when known (dataset folders), else the ones ``dance_fn`` reports
(the online tracker's).

Columns of the table: ``model`` (generated dances), ``held-out`` (the songs' own
ground-truth dances, when the songs come from a dataset folder) and ``train`` (the
training clips). Acceptance ratios compare the model with the held-out ground truth (or
with the training data when the songs have no ground truth).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from model import metrics
from model.errors import DatasetError
from model.skeleton import bone_lengths

DanceFn = Callable[..., tuple[np.ndarray, np.ndarray]]
AUDIO_EXT = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif")

ACCEPTANCE = {
    "bas_ratio": (">=", 0.9),
    "freeze_ratio": ("<=", 0.01),
    "bone_length_error": ("<=", 0.02),
    "style_separability": (">=", 0.8),
    "diversity_ratio": (">=", 0.5),
    "abs_lag_ms": ("<=", 50.0),
}


@dataclass
class Song:
    """A song to dance to: audio file, the style to dance it in, optional ground truth."""

    name: str
    audio: str
    style: str
    beats: np.ndarray | None = None
    poses: np.ndarray | None = field(default=None, repr=False)


def find_songs(items: Sequence[str | Path], *, styles: Sequence[str]) -> list[Song]:
    """Songs from dataset folders (clip audio, style, beats and dance) and/or audio files
    and folders of audio files (styles assigned round-robin). Raises DatasetError."""
    songs: list[Song] = []
    plain: list[Path] = []
    for it in items:
        p = Path(it)
        if p.is_dir() and (p / "manifest.json").is_file():
            from model.dataset import clip_records, load_poses

            for r in clip_records(p):
                arr = load_poses(r.poses)
                beats = np.asarray(arr["beats"], np.float64) if "beats" in arr else None
                songs.append(Song(name=r.id, audio=str(r.audio), style=r.style, beats=beats,
                                  poses=np.asarray(arr["poses"], np.float32)))
        elif p.is_dir():
            plain += sorted(f for f in p.iterdir() if f.suffix.lower() in AUDIO_EXT)
        elif p.is_file():
            plain.append(p)
        else:
            raise DatasetError(f"--songs {p} is neither an audio file nor a folder; pass songs or a dataset folder")
    for i, f in enumerate(plain):
        songs.append(Song(name=f.stem, audio=str(f), style=styles[i % len(styles)] if styles else ""))
    if not songs:
        raise DatasetError(f"no songs found in {', '.join(map(str, items))}; pass audio files or a dataset folder")
    return songs


def _mean(xs: Sequence[float]) -> float:
    v = [float(x) for x in xs if x is not None and np.isfinite(x)]
    return float(np.mean(v)) if v else float("nan")


def dance_metrics(poses: np.ndarray, beats: np.ndarray | None, *, fps: int, lengths: np.ndarray) -> dict[str, float]:
    """Per-dance metrics of one dance [t, 17, 3] (beats in s, may be None)."""
    b = np.zeros(0) if beats is None else np.asarray(beats, np.float64)
    has_beats = len(b) >= 2
    return {
        "bas": metrics.beat_align_score(poses, b, fps=fps) if has_beats else float("nan"),
        "lag_ms": metrics.motion_beat_lag_ms(poses, b, fps=fps) if has_beats else float("nan"),
        "freeze_ratio": metrics.freeze_ratio(poses, fps=fps),
        "bone_length_error": metrics.bone_length_error(poses, lengths=lengths),
        "jerk": metrics.jerk(poses, fps=fps),
        "foot_skating": metrics.foot_skating(poses, fps=fps),
    }


def _summary(per: list[dict[str, float]], dances: dict[str, list[np.ndarray]], *, fps: int,
             reference: list[np.ndarray], train_by_style: dict[str, list[np.ndarray]]) -> dict[str, float]:
    out = {k: _mean([m[k] for m in per]) for k in per[0]} if per else {}
    allp = [d for ds in dances.values() for d in ds]
    out["diversity"] = metrics.diversity(allp, fps=fps, reference=reference) if len(allp) >= 2 else float("nan")
    styles_known = {s: v for s, v in dances.items() if s in train_by_style}
    out["style_separability"] = (metrics.style_separability(train_by_style, styles_known, fps=fps)
                                 if styles_known and len(train_by_style) >= 2 else float("nan"))
    return out


def evaluate(dance_fn: DanceFn, songs: Sequence[Song], *, train_clips: Sequence[Any], fps: int,
             progress: Callable[[int, int, str], None] | None = None) -> dict[str, Any]:
    """Generate a dance per song and score it; returns a JSON-able report with
    ``songs`` (per song), ``summary`` {metric: {model, heldout, train}} and ``acceptance``."""
    import soundfile as sf

    if not train_clips:
        raise DatasetError("evaluate needs training clips for the reference numbers; pass --data DIR")
    lengths = np.median(np.concatenate([bone_lengths(c.poses) for c in train_clips]), axis=0)
    train_by_style: dict[str, list[np.ndarray]] = {}
    for c in train_clips:
        train_by_style.setdefault(c.style, []).append(c.poses)
    reference = [c.poses for c in train_clips]
    per_model, per_gt, rows = [], [], []
    gen: dict[str, list[np.ndarray]] = {}
    gt: dict[str, list[np.ndarray]] = {}
    for i, s in enumerate(songs):
        if progress is not None:
            progress(i, len(songs), s.name)
        audio, sr = sf.read(s.audio, dtype="float32", always_2d=False)
        poses, tracked = dance_fn(audio, int(sr), style=s.style)
        beats = s.beats if s.beats is not None else np.asarray(tracked, np.float64)
        m = dance_metrics(poses, beats, fps=fps, lengths=lengths)
        per_model.append(m)
        gen.setdefault(s.style, []).append(poses)
        row: dict[str, Any] = {"song": s.name, "style": s.style, "seconds": round(len(poses) / fps, 2), "model": m}
        if s.poses is not None:
            g = dance_metrics(s.poses, beats, fps=fps, lengths=lengths)
            per_gt.append(g)
            gt.setdefault(s.style, []).append(s.poses)
            row["heldout"] = g
        rows.append(row)
    per_train = [dance_metrics(c.poses, c.beats, fps=fps, lengths=lengths) for c in train_clips]
    cols = {"model": _summary(per_model, gen, fps=fps, reference=reference, train_by_style=train_by_style),
            "train": _summary(per_train, train_by_style, fps=fps, reference=reference, train_by_style=train_by_style)}
    if per_gt:
        cols["heldout"] = _summary(per_gt, gt, fps=fps, reference=reference, train_by_style=train_by_style)
    summary = {k: {c: cols[c].get(k, float("nan")) for c in cols} for k in cols["model"]}
    ref = cols.get("heldout", cols["train"])
    mod = cols["model"]
    values = {
        "bas_ratio": mod["bas"] / ref["bas"] if ref["bas"] else float("nan"),
        "freeze_ratio": mod["freeze_ratio"],
        "bone_length_error": mod["bone_length_error"],
        "style_separability": mod["style_separability"],
        "diversity_ratio": mod["diversity"] / ref["diversity"] if ref["diversity"] else float("nan"),
        "abs_lag_ms": abs(mod["lag_ms"]),
    }
    acceptance = {}
    for k, (op, limit) in ACCEPTANCE.items():
        v = values[k]
        ok = bool(np.isfinite(v) and (v >= limit if op == ">=" else v <= limit))
        acceptance[k] = {"value": v, "limit": f"{op} {limit:g}", "pass": ok}
    return {"fps": fps, "songs": rows, "summary": summary, "acceptance": acceptance,
            "reference": "heldout" if per_gt else "train"}


def format_table(report: dict[str, Any]) -> str:
    """The summary as a text table, then the acceptance checks."""
    cols = ["model"] + (["heldout"] if report["reference"] == "heldout" else []) + ["train"]
    lines = [f"{'metric':<20}" + "".join(f"{c:>12}" for c in cols)]
    for k, v in report["summary"].items():
        lines.append(f"{k:<20}" + "".join(f"{_fmt(v.get(c)):>12}" for c in cols))
    lines.append("")
    lines.append(f"acceptance (vs {report['reference']}):")
    for k, a in report["acceptance"].items():
        lines.append(f"  {k:<20}{_fmt(a['value']):>10}  {a['limit']:<8} {'PASS' if a['pass'] else 'FAIL'}")
    return "\n".join(lines)


def _fmt(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return f"{v:.4g}"


def write_json(report: dict[str, Any], path: str | Path) -> None:
    def clean(o: Any) -> Any:
        if isinstance(o, dict):
            return {k: clean(v) for k, v in o.items()}
        if isinstance(o, list | tuple):
            return [clean(v) for v in o]
        if isinstance(o, float | np.floating):
            return None if not np.isfinite(o) else float(o)
        if isinstance(o, np.integer | np.bool_):
            return o.item()
        return o

    out = Path(path)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(json.dumps(clean(report), indent=2), encoding="utf-8")
    tmp.replace(out)


def checkpoint_dance_fn(path: str | Path, *, seed: int = 0, variation: float = 0.5, energy: float = 1.0,
                        device: str = "cpu") -> tuple[DanceFn, dict[str, Any]]:
    """A ``dance_fn`` running a torch checkpoint's streaming step over the song's features
    (the live feature extractor, no look-ahead beyond the model's own). Returns (fn, ckpt)."""
    import torch

    from model.features import extract_features
    from model.network import build
    from model.train import load_checkpoint
    from model.train_data import vec_to_pose
    from model.train_report import free_run

    ckpt = load_checkpoint(path)
    net = build(ckpt["config"])
    net.load_state_dict(ckpt["model"])
    net.eval().to(device)
    styles = list(ckpt["styles"])
    fcfg = ckpt["feature_cfg"]
    lk = net.cfg.lookahead
    fps = int(fcfg["fps"])

    def fn(audio: np.ndarray, sr: int, *, style: str) -> tuple[np.ndarray, np.ndarray]:
        feats, info = extract_features(audio, sr=sr, cfg=fcfg)
        sw = np.zeros((1, len(styles)), np.float32)
        if style in styles:
            sw[0, styles.index(style)] = 1.0
        else:
            sw[:] = 1.0 / len(styles)
        feats = np.pad(feats, ((0, lk), (0, 0)), mode="edge")
        with torch.no_grad():
            vec = free_run(net, feats[None], style_w=sw, controls=np.array([[energy, variation]], np.float32),
                           seed=seed, device=device)[0, lk:]
        is_beat = np.asarray(info.get("is_beat", np.zeros(0)), bool)
        return vec_to_pose(vec), np.nonzero(is_beat)[0] / fps

    return fn, ckpt


# -- the dancer evaluation of issue 10 (exported models through the live path) ------------

def data_note(learnt: str | Sequence[str] | None, given: Sequence[str | Path] | None) -> str | None:
    """One line when ``--data`` holds a folder the model did not learn from (its metadata's
    ``train_data.path``, compared by folder name): the issue's style line asks for a classifier
    trained on the model's own training data, and one that learnt another vocabulary reads the
    model's moves as other styles (session 62). None when it is a subset, or either is unknown."""
    if not learnt or not given:
        return None
    mine = [learnt] if isinstance(learnt, str) else list(learnt)
    names = {Path(p).name for p in mine}
    other = [str(p) for p in given if Path(p).name not in names]
    if not other:
        return None
    return (f"note: the model learnt from {', '.join(mine)}, not {', '.join(other)}: its styles are read by a "
            f"classifier of other data; pass --data with the model's own training folders")


def dancer_report(model: str | Path, cfg: dict[str, Any], *, songs: Sequence[str],
                  data: str | Sequence[str] | None = None,
                  recordings: Sequence[str] | None = None, post: str = "on", root: str = "follow",
                  suite: Any = None, sheets: str | Path | None = None, sheet_song: str | None = None,
                  train: Any = None, train_figs: tuple[dict[str, float], dict[str, float]] | None = None,
                  progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run ``model.metrics_suite`` for an .onnx model; returns the report with the
    training data's figures under ``train`` and ``train_style``. ``recordings``: real
    recordings for the long test (None: the Debian Frets on Fire songs when installed).
    ``train`` / ``train_figs``: pass them to reuse the training data between models."""
    from model import metrics_songs as ms
    from model import metrics_suite as mu
    from model.metrics_gen import Dancer

    say = progress or (lambda _m: None)
    dancer = Dancer(str(model), cfg, post=post, root=root)
    path = data or (dancer.generator.meta.get("train_data") or {}).get("path")
    paths = [path] if isinstance(path, str | Path) else list(path or [])
    if train is None:
        missing = [str(p) for p in paths if not Path(p).is_dir()]
        if not paths or missing:
            raise DatasetError(f"training data {', '.join(missing) or 'of the model'} for the reference numbers "
                               f"not found; pass --data TRAIN_DIR [TRAIN_DIR ...]")
        train = mu.load_train(paths, fps=dancer.fps)
    if train_figs is None:
        say("training data figures")
        train_figs = mu.train_figures(train)
    if "music_tie" not in train_figs[0] and paths:
        def feats(song: Any) -> np.ndarray:
            try:
                return dancer.features(song)[0]
            finally:
                dancer.forget(song)

        train_figs[0].update(mu.train_music_tie(paths, feats, fps=dancer.fps))
    test = ms.find_songs(list(songs), progress=True)
    if recordings is None:
        recs = ms.recordings()
        rec_note = f"{ms.FOF_DIR} ({len(recs)} songs)" if recs else f"none ({ms.FOF_DIR} absent: apt-get install fretsonfire-songs-muldjord)"
    else:
        recs = ms.find_songs(list(recordings)) if recordings else []
        rec_note = ", ".join(recordings) if recordings else "none"
    rep = mu.run_suite(dancer, test, train=train, recordings=recs, cfg=suite, progress=say)
    rep["data_note"] = data_note((dancer.generator.meta.get("train_data") or {}).get("path"), paths if data else None)
    rep.update({"train": train_figs[0], "train_style": train_figs[1], "train_data": train.path,
                "recordings": rec_note, "root_mode": root, "frames": dancer.frames,
                "post_stages": dancer.post_stages, "strength": dancer.strength,
                "generator": f"{Path(str(dancer.generator.path)).name} (block {dancer.block})"})
    if sheets:
        from model.contact_sheet import write_sheets

        pool = [s for s in (recs or test)]
        full = ms.find_songs([sheet_song])[0] if sheet_song else pool[0]
        song = ms.TestSong(full.name, full.audio[: int(30 * full.sr)], full.sr, full.kind, full.beats)
        written = []
        for st in dancer.styles:
            say(f"contact sheets: {st} on {song.name}")
            g = dancer.dance(song, style=st, seed=0)
            written += [str(p) for p in write_sheets(g.poses, Path(sheets) / f"{Path(str(model)).stem}_{st}",
                                                     fps=dancer.fps, title=f"{Path(str(model)).name}: {st} on {song.name}")]
        rep["sheets"] = written
    return rep
