"""`dancemuse dataset import mocap DIR`: a folder of real dance motion capture (the CMU
takes in ../shared/mocap) -> dataset clips with music made to fit each dance.

For every take: read the BVH (`model.bvh`), map it to COCO-17 (`bvh_map`, any rig it
knows: CMU 31/43-joint, Neo_ humanoid, Mixamo, ...), scale to metres from the figure,
turn it so it faces +z on average, put it on the floor (y = 0 under the feet) and centre
it, resample to the configured fps; find the dancer's pulse (`model.kinbeats`; the two
partners of a couple dance share one pulse, read from both), write an accompaniment whose
beats land on that grid (`mocap_music`) and render it with fluidsynth (`model.midi_render`).
The clip keeps the grid as its ``beats``/``downbeats`` and the manifest records where the
take came from (CMU trial and subject, source repository, commit and path) and the licence.

Styles: ``salsa`` (lead and follow), ``breaking``, and ``freestyle`` for the rest (modern,
Indian, whirl, Michael Jackson-styled steps: short takes meant as a prior for human motion).

The folder's ``manifest.json`` (list of {"folder", "file", "cmu_trial", "style",
"fps_true", "counted", "source_repo", ...}) is used when present; without it every
``*.bvh`` below DIR is taken with its header's frame rate and the style ``freestyle``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from model.errors import DatasetError

__all__ = ["CMU_CREDIT", "LICENCE", "Take", "find_takes", "import_mocap", "prepare_take", "retarget", "style_of"]

CMU_CREDIT = ("The data used in this project was obtained from mocap.cs.cmu.edu. The database was "
              "created with funding from NSF EIA-0196217.")
LICENCE = ("CMU Graphics Lab Motion Capture Database: free for research and commercial use, not for "
           "resale as such; " + CMU_CREDIT + " Music: generated accompaniment (DanceMuse, FluidR3 GM "
           "soundfont, MIT).")


@dataclass
class Take:
    """One BVH take and what its folder's manifest says about it."""

    path: Path
    style: str
    fps: float | None = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        from model.importers.common import clip_id

        return clip_id(f"cmu_{self.path.stem.replace('_scaled', '')}")

    @property
    def performance(self) -> str:
        """Key shared by the partners of one couple performance (e.g. '01' for 60_01/61_01)."""
        trial = str(self.info.get("cmu_trial", ""))
        m = re.match(r"^(60|61)_(\d+)$", trial)
        return f"couple_{m.group(2)}" if m else ""

    @property
    def role(self) -> str:
        s = str(self.info.get("style", ""))
        return "lead" if "lead" in s else "follow" if "follow" in s else ""


def style_of(description: str) -> str:
    """Our style label for a source style description."""
    d = description.lower()
    if "salsa" in d:
        return "salsa"
    if "break" in d:
        return "breaking"
    return "freestyle"


def find_takes(root: str | Path) -> list[Take]:
    """The takes under ``root`` (see the module doc). Raises DatasetError in one line."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"mocap folder {root} does not exist; pass the folder with the BVH takes "
                           "(e.g. ../shared/mocap)")
    man = root / "manifest.json"
    takes: list[Take] = []
    if man.is_file():
        try:
            entries = json.loads(man.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise DatasetError(f"{man} is not valid JSON ({err}); fix or remove it") from None
        if not isinstance(entries, list):
            raise DatasetError(f"{man} must hold a list of takes; fix or remove it")
        for e in entries:
            if not isinstance(e, dict) or not e.get("counted", True):
                continue
            path = root / str(e.get("folder", "")) / str(e.get("file", ""))
            if not path.is_file():
                continue  # listed duplicates that were not kept
            fps = e.get("fps_true")
            takes.append(Take(path, style_of(str(e.get("style", ""))),
                              float(fps) if fps else None, dict(e)))
    else:
        takes = [Take(p, "freestyle") for p in sorted(root.rglob("*.bvh"))]
    if not takes:
        raise DatasetError(f"no BVH takes found in {root}; pass the folder that holds the .bvh files")
    return takes


def _facing_angle(poses: np.ndarray) -> float:
    """Mean facing direction (radians about y, 0 = +z) from the hip and shoulder lines."""
    from model.skeleton import JOINT_INDEX as J

    left = (poses[:, J["left_hip"]] - poses[:, J["right_hip"]]
            + poses[:, J["left_shoulder"]] - poses[:, J["right_shoulder"]])
    fwd = np.stack([-left[:, 2], left[:, 0]], axis=1)  # forward = left x up, as (x, z)
    fwd /= np.linalg.norm(fwd, axis=1, keepdims=True) + 1e-9
    m = fwd.mean(axis=0)
    return float(np.arctan2(m[0], m[1]))


def face_audience(poses: np.ndarray) -> np.ndarray:
    """Turn poses about the vertical axis so the take faces +z on average."""
    a = -_facing_angle(poses)
    c, s = np.cos(a), np.sin(a)
    rot = np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]], dtype=np.float32)
    return np.asarray(poses, dtype=np.float32) @ rot.T


def prepare_take(take: Take, fps: float) -> tuple[np.ndarray, str, float]:
    """COCO-17 poses [shape=(t, 17, 3)] metres, y up, on the floor, facing +z, at ``fps``;
    the rig name and the take's own frame rate."""
    from model.bvh import read_bvh
    from model.importers.bvh_map import bvh_to_coco, resolve_mapping
    from model.importers.common import put_on_floor, resample

    bvh = read_bvh(take.path)
    if bvh.n_frames < 2:
        raise DatasetError(f"{take.path}: holds {bvh.n_frames} frame(s); a take needs at least 2")
    src_fps = take.fps or bvh.fps
    rig, _ = resolve_mapping(bvh)
    poses = face_audience(bvh_to_coco(bvh))
    poses = resample(put_on_floor(poses), src_fps=src_fps, dst_fps=fps)
    return poses, rig, src_fps


def retarget(poses: np.ndarray) -> tuple[np.ndarray, dict[str, float]]:
    """The take danced by the show's skeleton: every bone given its canonical length
    (``skeleton.project_to_lengths``: directions kept), the travel on the floor scaled by
    the canonical leg over the performer's (so steps cover the ground the shorter or longer
    legs would), and each frame raised or lowered so its lower ankle keeps its height (feet
    on the floor stay on it, jumps stay in the air). Returns (poses [shape=(t, 17, 3)], the
    performer's build: median thigh, shin, torso and leg over the canonical ones)."""
    from model import skeleton as sk

    p = np.asarray(poses, dtype=np.float32)
    lengths = sk.bone_lengths(p)  # [t, 17]
    ref = sk.CANONICAL_BONE_LENGTHS
    j = sk.JOINT_INDEX
    thigh = np.median(lengths[:, [j["left_knee"], j["right_knee"]]], axis=0).mean()
    shin = np.median(lengths[:, [j["left_ankle"], j["right_ankle"]]], axis=0).mean()
    torso = np.median(lengths[:, [j["left_shoulder"], j["right_shoulder"]]], axis=0).mean()
    r_thigh, r_shin = ref[j["left_knee"]], ref[j["left_ankle"]]
    leg = (thigh + shin) / (r_thigh + r_shin)
    root = sk.root_of(p)
    centre = root[:, [0, 2]].mean(axis=0)
    shift = np.zeros_like(root)
    shift[:, [0, 2]] = (root[:, [0, 2]] - centre) * (1.0 / leg - 1.0)
    out = sk.project_to_lengths(p + shift[:, None, :])
    feet = [j["left_ankle"], j["right_ankle"]]
    out[..., 1] += (p[:, feet, 1].min(axis=1) - out[:, feet, 1].min(axis=1))[:, None]
    build = {"thigh": float(thigh / r_thigh), "shin": float(shin / r_shin),
             "torso": float(torso / ref[j["left_shoulder"]]), "leg": float(leg)}
    return out.astype(np.float32), build


_PULSE = {"salsa": {"pattern": (1.0, 1.0, 1.0, 0.0), "prior_bpm": 170.0, "bpm_range": (140.0, 200.0)},
          "breaking": {"prior_bpm": 110.0, "bpm_range": (80.0, 150.0)},
          "freestyle": {"prior_bpm": 110.0, "bpm_range": (60.0, 180.0)}}
"""Pulse search per style: salsa steps on 3 of every 4 beats (pause on 4 and 8) at
140-200 bpm (the clear takes sit at 155-180); breaking and the rest: any beat in range."""
ANALYSIS_FPS = 60.0
"""The pulse is read at this rate (or the configured one if higher): at 30 fps a frame is
33 ms, half the 70 ms tolerance the fit is measured with."""


def import_mocap(root: str | Path, *, out: str | Path, fps: float, sample_rate: int = 24_000,
                 seed: int = 0, overwrite: bool = False, limit: int | None = None, keep_build: bool = False,
                 progress: Callable[[int, int, str], None] | None = None) -> list[dict[str, Any]]:
    """Import every take under ``root`` into the dataset at ``out``; returns the new
    manifest entries (each with its pulse summary and the performer's build). Each take is
    :func:`retarget` -ed to the show's skeleton unless ``keep_build`` (the pulse is read
    from the motion as captured)."""
    from model.dataset import DatasetWriter
    from model.importers.common import resample
    from model.importers.mocap_music import accompaniment
    from model.kinbeats import find_pulse
    from model.midi_render import render_midi

    takes = find_takes(root)[:limit]
    n = len(takes)
    prepared: dict[str, tuple[np.ndarray, str, float]] = {}
    a_fps = max(fps, ANALYSIS_FPS)
    for k, t in enumerate(takes):
        prepared[t.id] = prepare_take(t, a_fps)
        if progress:
            progress(k + 1, n, f"read {t.path.name} ({prepared[t.id][1]} rig)")
    # one pulse per performance: partners of a couple share it
    groups: dict[str, list[Take]] = {}
    for t in takes:
        groups.setdefault(t.performance or t.id, []).append(t)
    entries: list[dict[str, Any]] = []
    with DatasetWriter(out, overwrite=overwrite) as w:
        done = 0
        for _key, members in groups.items():
            poses = [prepared[t.id][0] for t in members]
            length = min(len(p) for p in poses)
            pulse = find_pulse([p[:length] for p in poses], a_fps,
                               **_PULSE.get(members[0].style, {}))  # type: ignore[arg-type]
            for t in members:
                p, rig, src_fps = prepared[t.id]
                p = resample(p[:length], src_fps=a_fps, dst_fps=fps)
                build: dict[str, float] = {}
                if not keep_build:
                    p, build = retarget(p)
                seconds = len(p) / fps
                tseed = seed * 1000 + int.from_bytes(t.id.encode()[-4:].rjust(4, b"\0"), "big") % 100_000
                midi = accompaniment(pulse.beats, pulse.counts, style=t.style, seed=tseed, seconds=seconds)
                audio = render_midi(midi, sr=sample_rate, tail=seconds + 0.05, normalize=0.9)
                info = t.info
                trial = str(info.get("cmu_trial", ""))
                extra = {
                    "cmu_trial": trial, "cmu_subject": trial.split("_")[0] if "_" in trial else "",
                    "cmu_description": info.get("cmu_description", ""), "source_style": info.get("style", ""),
                    "source_repo": info.get("source_repo", ""), "source_commit": info.get("source_commit", ""),
                    "source_path": info.get("source_path", ""), "original": t.path.name, "rig": rig,
                    "source_fps": round(src_fps, 6), "role": t.role,
                    "partner": [m.id for m in members if m is not t],
                    "music": f"accompaniment on the dancer's beat grid, seed {tseed}",
                    "bpm": round(pulse.tempo_bpm, 2), "pulse": pulse.summary(),
                    "credit": CMU_CREDIT,
                    "retargeted": not keep_build,
                    "build": {k: round(v, 4) for k, v in build.items()},
                }
                entries.append(w.add_clip(
                    id=t.id, poses=p, fps=fps, style=t.style, source=f"cmu:{trial or t.path.stem}",
                    licence=LICENCE, audio=audio, sample_rate=sample_rate, beats=pulse.beats,
                    downbeats=pulse.downbeats, extra=extra))
                done += 1
                if progress:
                    progress(done, n, f"wrote {t.id} ({t.style}, {pulse.tempo_bpm:.0f} bpm, "
                                      f"fit {pulse.fit:.2f})")
    return entries
