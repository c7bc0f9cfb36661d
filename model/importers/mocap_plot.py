"""Look at an imported mocap clip: front and side contact sheets (model/contact_sheet.py)
and a pulse plot: both feet's speed and height, the root's height, the kinematic novelty,
the clip's beat grid (counts 1 and 5 marked) and the onset strength of its rendered music,
so one can see whether the steps and the music's beats fall on the grid.

    python3 -m model.importers.mocap_plot data/mocap cmu_60_07 --out runs/mocap_look
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

from model.dataset import clip_records, load_poses
from model.errors import DatasetError

__all__ = ["audio_onsets", "look", "plot_pulse"]


def audio_onsets(path: str | Path, fps: float) -> np.ndarray:
    """Spectral-flux onset strength of an audio file at ``fps`` frames per second (0..1)."""
    import soundfile as sf

    y, sr = sf.read(str(path), dtype="float32", always_2d=True)
    y = y.mean(axis=1)
    hop = int(round(sr / fps))
    n_fft = 1024
    n = max(0, (len(y) - n_fft) // hop + 1)
    frames = np.stack([y[i * hop:i * hop + n_fft] for i in range(n)]) * np.hanning(n_fft)
    mag = np.log1p(100.0 * np.abs(np.fft.rfft(frames, axis=1)))
    flux = np.maximum(np.diff(mag, axis=0), 0.0).sum(axis=1)
    flux = np.concatenate([[0.0], flux])
    # frame k covers [k*hop, k*hop + n_fft): its onset is near the window's centre
    shift = int(round(0.5 * n_fft / hop))
    flux = np.concatenate([np.zeros(shift), flux])[:n]
    return flux / (flux.max() + 1e-9)


def plot_pulse(poses: np.ndarray, fps: float, beats: np.ndarray, downbeats: np.ndarray,
               onsets: np.ndarray | None, png: Path, *, title: str, start_s: float = 8.0,
               seconds: float = 10.0) -> Path:
    """Foot speed/height, root height, novelty and music onsets over the beat grid."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from model.kinbeats import _smooth, _speed, kinematic_novelty
    from model.skeleton import JOINT_INDEX as J

    p = np.asarray(poses, dtype=np.float64)
    t = np.arange(len(p)) / fps
    start = min(start_s, max(0.0, t[-1] - seconds))
    sel = (t >= start) & (t <= start + seconds)
    ank = _smooth(p[:, [J["left_ankle"], J["right_ankle"]]], 0.02 * fps)
    speed = _speed(ank, fps)
    nov, _ = kinematic_novelty(p, fps)
    root_y = p[:, [J["left_hip"], J["right_hip"]], 1].mean(axis=1)
    rows = 4 if onsets is not None else 3
    fig, ax = plt.subplots(rows, 1, figsize=(14, 2.2 * rows), sharex=True)
    ax[0].plot(t[sel], speed[sel, 0], color="#e07020", label="left ankle speed (m/s)")
    ax[0].plot(t[sel], speed[sel, 1], color="#2080e0", label="right ankle speed (m/s)")
    ax[1].plot(t[sel], ank[sel, 0, 1], color="#e07020", label="left ankle height (m)")
    ax[1].plot(t[sel], ank[sel, 1, 1], color="#2080e0", label="right ankle height (m)")
    ax[1].plot(t[sel], root_y[sel] - root_y[sel].mean() + 0.15, color="#555555", label="root height (shifted)")
    ax[2].plot(t[sel], nov[sel], color="#303030", label="kinematic novelty")
    if onsets is not None:
        to = np.arange(len(onsets)) / fps
        so = (to >= start) & (to <= start + seconds)
        ax[3].plot(to[so], onsets[so], color="#208040", label="music onset strength")
    down = set(np.round(np.asarray(downbeats), 4))
    for a in ax:
        for b in beats[(beats >= start) & (beats <= start + seconds)]:
            is_down = round(float(b), 4) in down
            a.axvline(b, color="#c00000" if is_down else "#999999", lw=1.4 if is_down else 0.7, alpha=0.8)
        a.legend(loc="upper right", fontsize=7)
    ax[0].set_title(f"{title}: beat grid (grey), downbeats count 1/5 (red)")
    ax[-1].set_xlabel("s")
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    tmp = png.with_name(png.stem + f".tmp{os.getpid()}.png")
    fig.savefig(tmp, dpi=70)
    plt.close(fig)
    os.replace(tmp, png)
    return png


def look(root: str | Path, clip: str, out: str | Path) -> list[Path]:
    """Contact sheets and the pulse plot of ``clip`` in the dataset at ``root``."""
    from model.contact_sheet import write_sheets

    recs = {r.id: r for r in clip_records(root)}
    if clip not in recs:
        raise DatasetError(f"no clip {clip!r} in {root}; its clips are {', '.join(sorted(recs)[:10])}, ...")
    r = recs[clip]
    z = load_poses(r.poses)
    poses = z["poses"]
    out = Path(out)
    paths = write_sheets(poses, out / clip, fps=r.fps, title=f"{clip} ({r.style})")
    onsets = audio_onsets(r.audio, r.fps)
    paths.append(plot_pulse(poses, r.fps, z.get("beats", np.zeros(0)), z.get("downbeats", np.zeros(0)),
                            onsets, out / f"{clip}_pulse.png", title=f"{clip} ({r.style})"))
    return paths


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dataset")
    ap.add_argument("clips", nargs="+")
    ap.add_argument("--out", default="runs/mocap_look")
    args = ap.parse_args()
    for c in args.clips:
        for p in look(args.dataset, c, args.out):
            print(p)


if __name__ == "__main__":
    main()
