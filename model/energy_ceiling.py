"""The energy ceiling per style: the highest energy an exported model is fed
(``dancemuse calibrate --ceiling MODEL.onnx --data DIR...``).

Why (session 53). The calibration (model/energy_calib.py) feeds the model the user's energy
times the style's scale, capped at ``energy_max``: 2.5, the top of the training windows'
amplitude range. In the shipped model ballet's and hip-hop's scale is 2.5 and locking's 2.42,
so they reach the cap at user energy 1 and dance the same frames at 1, 1.5 and 2: the energy
control could turn them down but not up. Fed past the cap the model still makes bigger, faster
moves (ballet on three test songs, spread / limb speed at user energy 1, 1.5, 2 with the cap
lifted to 5: 0.122 / 0.21, 0.174 / 0.35, 0.207 / 0.48 m and m/s), but far enough past it a
style stops reading as itself (ballet at 5: recognised in 0.71 of the windows, hip-hop at 3.75:
0.82). So the ceiling is measured, per style, where the style still reads as itself.

How. For each style whose user range reaches past ``energy_max`` (2 x its scale, the energy
control's top being 2), the live engine (post-processing as configured, the model's own
calibration, the ceiling lifted) dances music the style was never trained to (each other
style's clips in turn, ``energy_calib.other_music_clips``) for ``seconds``, with ``SEEDS``, at
the fed energies of ``GRID`` past ``energy_max`` up to 2 x its scale. A classifier trained on
the data (``evaluate``'s: model/style_classifier.py) reads every window of those dances. The
ceiling is the highest fed energy up to which every measured point is recognised in at least
``MIN_RECOGNISED`` of its windows (0.9: the issue's style line, 0.85, with a margin for other
music), and never under ``energy_max``.

Which data the classifier learns from matters: on the shipped model, trained on all of its
training data (synth_v5, synth_x5, mocap) it reads ballet at fed energy 5 as ballet in 0.91 of
the windows, trained on what `evaluate`'s learns from (synth_v5, mocap) in 0.74 at 4.5; the
shipped ceilings are measured with the latter (models/README.md, session 53).

It is written into the model's metadata as ``energy_ceiling`` (per style, fed energy) and into
its siblings: the block-N exports ``<stem>_b<N>.onnx`` and the int8 ``<stem>.int8.onnx`` of the
same weights, and the offline weights ``<stem>_offline.npz``, whose hash of the step model is
renewed. Every file is replaced atomically. `dancemuse export` writes a model without it:
measure again after exporting.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

GRID = (3.0, 3.5, 4.0, 4.5, 5.0, 5.5, 6.0)
"""Fed energies measured past ``energy_max`` (each style up to 2 x its scale)."""
MIN_RECOGNISED = 0.9
"""Share of a dance's windows the classifier must read as the style: the issue's style line
(0.85) with a margin for music the measurement did not dance to."""
SEEDS = (0, 1)
"""Seeds each piece of music is danced with at every point."""
USER_TOP = 2.0
"""The energy control's top (live/control.py)."""


@dataclass
class Ceilings:
    """Per style the measured ceiling and what each point read."""

    ceiling: dict[str, float]
    energy_max: float
    points: dict[str, list[tuple[float, float, float, float]]] = field(default_factory=dict)
    """Per style (fed energy, recognised share, limb speed m/s, pose spread m), from ``energy_max`` up."""
    clips: dict[str, int] = field(default_factory=dict)

    def table(self) -> str:
        rows = [f"style          ceiling   (the fed energy; per point fed energy: recognised, limb speed m/s, spread m; "
                f"ceiling = highest energy up to which every point is recognised >= {MIN_RECOGNISED:g}; "
                f"never under energy_max {self.energy_max:g})"]
        for st, top in self.ceiling.items():
            pts = "  ".join(f"{e:g}: {r:.2f} {v:.2f} {s:.3f}" for e, r, v, s in self.points.get(st, []))
            rows.append(f"{st:14s} {top:7.2f}   {pts or '(its range ends under energy_max)'}")
        return "\n".join(rows)


@dataclass
class _Clip:
    id: str
    style: str
    fps: float
    frames: int
    audio: Path
    beats: np.ndarray


def music_clips(data: Sequence[str | Path]) -> list[_Clip]:
    """The clips of the dataset folders ``data`` that have music (their audio file present), with
    their exact beats; ``measure`` and model/step_calib.py dance to them."""
    from model.dataset import clip_records, load_poses

    out = []
    for d in data:
        for r in clip_records(d):
            if not r.audio or not Path(r.audio).is_file():
                continue
            a = load_poses(r.poses)
            beats = np.asarray(a["beats"], np.float64) if "beats" in a else np.zeros(0)
            out.append(_Clip(r.id, r.style, float(r.fps), int(len(a["poses"])), Path(r.audio), beats))
    return out


def measure(model_path: str | Path, data: Sequence[str | Path], cfg: Any, *, per_style: int = 8,
            seconds: float = 20.0, seeds: Sequence[int] = SEEDS, grid: Sequence[float] = GRID,
            songs: Sequence[Any] | None = None, progress: Callable[[str], None] | None = None) -> Ceilings:
    """Measure the ceilings of the exported model ``model_path`` on the dataset folders ``data``
    (its training data) with the config ``cfg`` (see the module docstring); ``songs``: pieces
    (model.metrics_songs.TestSong) every style dances instead of the other styles' clips. Raises ModelError for
    a model without an energy calibration, DatasetError for data without music."""
    from model import style_classifier as sc
    from model.energy_calib import energy_calibration, limb_speed
    from model.errors import DatasetError, ModelError
    from model.metrics_dancer import pose_spread
    from model.metrics_gen import Dancer
    from model.metrics_suite import load_train

    say = progress or (lambda _m: None)
    dancer = Dancer(str(model_path), cfg)
    meta = getattr(dancer.generator, "meta", None) or {}
    scales, top = energy_calibration(meta, dancer.styles)
    if scales is None:
        raise ModelError(f"model {model_path} has no energy calibration; run `dancemuse calibrate CHECKPOINT "
                         "--data DIR...` and export it before measuring its ceiling")
    clips = [c for c in music_clips(data) if c.frames >= 2 * c.fps]
    if not clips:
        raise DatasetError(f"{' '.join(map(str, data))} has no clips with music; pass the model's training data")
    clf = sc.fit(load_train(list(data), fps=dancer.fps).poses(), fps=dancer.fps)
    dancer.energy_top = max(max(grid), float(top), USER_TOP * float(np.max(scales)))  # every point below it
    out = Ceilings(ceiling={}, energy_max=float(top))
    for st, scale in zip(dancer.styles, scales):
        reach = USER_TOP * float(scale)
        pts = [g for g in grid if top < g <= reach + 1e-9]
        if reach > top + 1e-9 and (not pts or pts[-1] < reach - 1e-9):
            pts.append(round(reach, 4))  # the control's top itself
        out.ceiling[st] = float(top)
        if not pts:
            continue
        pieces = list(songs or []) or other_music(clips, st, dancer.styles, per_style, seconds)
        if not pieces:
            say(f"{st}: no other style's clips with music; its ceiling stays {top:g}")
            continue
        out.clips[st] = len(pieces)
        rows: list[tuple[float, float, float, float]] = []
        ok = True
        for fed in [float(top)] + pts:
            dances = [dancer.dance(s, style=st, seed=sd, energy=fed / float(scale)).poses for s in pieces for sd in seeds]
            rec = float(clf.accuracy({st: dances})[st])
            speed = float(np.mean([limb_speed(p, dancer.fps) for p in dances]))
            spread = float(np.mean([pose_spread(p) for p in dances]))
            rows.append((fed, rec, speed, spread))
            say(f"{st}: fed {fed:g} (user energy {fed / float(scale):.2f}): recognised {rec:.2f}, "
                f"limb speed {speed:.2f} m/s, spread {spread:.3f} m")
            if fed > top:
                if rec < MIN_RECOGNISED:
                    ok = False
                if ok:
                    out.ceiling[st] = fed
            if not ok:
                break
        out.points[st] = rows
        if not songs:
            for s in pieces:
                dancer.forget(s)
    return out


def other_music(clips: Sequence[_Clip], style: str, styles: Sequence[str], count: int, seconds: float) -> list[Any]:
    """Up to ``count`` pieces of music ``style`` was never trained to (model.metrics_songs.TestSong,
    the first ``seconds`` of other styles' clips with their exact beats;
    ``energy_calib.other_music_clips``)."""
    from model.energy_calib import other_music_clips
    from model.features import load_audio
    from model.metrics_songs import TestSong

    pieces = []
    for c in other_music_clips(clips, style, styles, count):
        audio, sr = load_audio(c.audio)
        n = int(min(c.frames, seconds * c.fps))
        pieces.append(TestSong(c.id, np.asarray(audio, np.float32)[: int(n / c.fps * sr)], int(sr), "dataset",
                               c.beats[c.beats < n / c.fps] if len(c.beats) else None))
    return pieces


def _with_meta_onnx(path: Path, update: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Rewrite the DanceMuse metadata document of the ONNX file ``path`` with ``update``
    (atomically); returns (metadata before, after)."""
    import onnx

    from model import modelmeta
    from model.dataset_files import _atomic_write
    from model.errors import ModelError

    model = onnx.load(str(path))
    props = {p.key: p.value for p in model.metadata_props}
    if modelmeta.META_KEY not in props:
        raise ModelError(f"model {path} has no DanceMuse metadata; re-export it with `dancemuse export`")
    before = json.loads(props[modelmeta.META_KEY])
    after = dict(before, **update)
    props[modelmeta.META_KEY] = modelmeta.dumps(after)
    del model.metadata_props[:]
    onnx.helper.set_model_props(model, props)
    _atomic_write(path, lambda tmp: onnx.save(model, str(tmp)), suffix=".onnx")
    return before, after


def write(model_path: str | Path, ceiling: dict[str, float]) -> list[Path]:
    """Write ``ceiling`` (per style, fed energy) into the model's metadata as ``energy_ceiling``
    and into its siblings of the same weights (see the module docstring); returns the files
    written. Raises ModelError (one line)."""
    from model.errors import ModelError

    path = Path(model_path)
    if path.suffix != ".onnx" or not path.is_file():
        raise ModelError(f"{path} is not an exported model (.onnx); pass the file `dancemuse export` wrote")
    bad = [s for s, v in ceiling.items() if not (math.isfinite(v) and v >= 0.1)]
    if bad:
        raise ModelError(f"energy ceiling of {', '.join(bad)} is not a number of at least 0.1")
    return rewrite_meta(path, {"energy_ceiling": {s: round(float(v), 4) for s, v in ceiling.items()}})


def onnx_meta(path: str | Path) -> dict[str, Any] | None:
    """The DanceMuse metadata document of an exported model (.onnx, read without its weights' external
    data); ``{}`` when it has none, None when it is not readable JSON. Needs the onnx package."""
    import onnx

    from model import modelmeta

    props = {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
    try:
        doc = json.loads(props.get(modelmeta.META_KEY, "{}"))
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def rewrite_meta(model_path: str | Path, update: dict[str, Any]) -> list[Path]:
    """Set the metadata keys ``update`` in the exported model ``model_path`` and in its siblings
    of the same weights (block-N, int8, the offline weights with their hash of the step model
    renewed), each file replaced atomically; returns the files written. Raises ModelError."""
    import hashlib

    from export.offline import offline_path
    from live.runtime import same_model
    from model.dataset_files import _atomic_write

    path = Path(model_path)
    old_sha = hashlib.sha256(path.read_bytes()).hexdigest()
    before, _ = _with_meta_onnx(path, update)
    done = [path]
    quantized = path.with_suffix(".int8.onnx")  # `export --quantize int8`
    for sib in sorted(set(path.parent.glob(f"{path.stem}_b*.onnx")) | ({quantized} if quantized.is_file() else set())):
        meta = onnx_meta(sib)
        if meta is None:
            continue
        if same_model({k: v for k, v in meta.items() if k not in update},
                      {k: v for k, v in before.items() if k not in update}):
            _with_meta_onnx(sib, update)
            done.append(sib)
    off = offline_path(path)
    if off.is_file():
        with np.load(off, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        doc = json.loads(str(arrays["meta"]))
        if doc.get("step_model_sha256") == old_sha:  # the weights of this very step model
            doc.update(update)
            doc["step_model_sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
            arrays["meta"] = np.array(json.dumps(doc))

            def w(tmp: Path) -> None:
                with open(tmp, "wb") as f:
                    np.savez(f, **arrays)  # type: ignore[arg-type]

            _atomic_write(off, w, suffix=".npz")
            done.append(off)
    return done
