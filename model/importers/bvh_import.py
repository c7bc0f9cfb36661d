"""BVH importer: motion-capture takes (Mixamo, CMU, Rokoko, our own writer, or any rig with
a joint map) plus the song they were danced to -> dataset clips.

Each file is parsed (`model.bvh.read_bvh`), run through forward kinematics, mapped to
COCO-17 by joint name (`model.importers.bvh_map`), scaled to metres (units guessed from
the figure's height unless given), set on the floor, centred, and resampled to the
configured fps. Every file is read and checked before the first clip is written, and a
failure while writing removes what this import wrote.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from model.bvh import read_bvh
from model.dataset import DatasetWriter, audio_seconds
from model.errors import DatasetError
from model.importers.bvh_map import bvh_to_coco, load_override, resolve_mapping
from model.importers.common import existing_file, put_on_floor, resample, unique_ids

UNITS = {"m": 1.0, "cm": 0.01, "mm": 0.001, "in": 0.0254}
"""Names accepted for ``unit`` (metres per file unit); None guesses."""


def import_bvh(
    files: Sequence[str | Path],
    *,
    audio: Sequence[str | Path],
    style: str,
    out: str | Path,
    fps: float,
    joint_map: str | Path | None = None,
    unit: str | None = None,
    licence: str = "unspecified: set --licence",
    ids: Sequence[str] | None = None,
    overwrite: bool = False,
    progress: Callable[[int, int, str], None] | None = None,
) -> list[dict[str, Any]]:
    """Import BVH ``files`` into the dataset at ``out``. ``audio`` holds one song for all
    files or one per file (same order). Returns the new manifest entries."""
    if not files:
        raise DatasetError("no BVH files given; pass one or more FILE.bvh")
    songs = [existing_file(a, "audio file") for a in audio]
    if len(songs) not in (1, len(files)):
        raise DatasetError(f"{len(files)} BVH files but {len(songs)} --audio files; give one song "
                           "for all or one per file")
    if unit is not None and unit not in UNITS:
        raise DatasetError(f"unit {unit!r} is unknown; use one of {', '.join(UNITS)} or leave it out to guess")
    for song in set(songs):
        audio_seconds(song)  # unreadable audio fails here, before anything is written
    override = load_override(joint_map) if joint_map else None
    prepared = []
    for k, f in enumerate(files):
        bvh = read_bvh(f)
        if bvh.n_frames < 2:
            raise DatasetError(f"{f}: holds {bvh.n_frames} frame(s); a clip needs at least 2")
        rig, _ = resolve_mapping(bvh, override)
        poses = bvh_to_coco(bvh, override=override, unit=None if unit is None else UNITS[unit])
        poses = resample(put_on_floor(poses), src_fps=bvh.fps, dst_fps=fps)
        prepared.append((Path(f), rig, bvh.fps, poses, songs[k if len(songs) > 1 else 0]))
        if progress:
            progress(k + 1, len(files), f"read {Path(f).name} ({rig} rig, {bvh.n_frames} frames)")
    names = list(ids) if ids else [p[0].stem for p in prepared]
    if len(names) != len(prepared):
        raise DatasetError(f"{len(names)} ids for {len(prepared)} files; give one id per file")
    entries = []
    with DatasetWriter(out, overwrite=overwrite) as w:
        for k, ((path, rig, src_fps, poses, song), cid) in enumerate(zip(prepared, unique_ids(names))):
            entries.append(w.add_clip(
                id=cid, poses=poses, fps=fps, style=style, source=f"bvh:{path.name}",
                licence=licence, audio_path=song,
                extra={"rig": rig, "source_fps": round(src_fps, 6), "original": path.name}))
            if progress:
                progress(k + 1, len(prepared), f"wrote {cid}")
    return entries
