"""Validate the synthetic choreographer: metrics per style and front/side contact sheets.

    python3 bench/synth_check.py [--music synth|midi] [--seconds 60] [--songs 3]
                                 [--sheets data/choreo_sheets] [--dataset DIR]

Per style: Beat Align Score, leg/arm speed ratio (ankles+knees vs wrists+elbows, world
frame), largest root distance from the stage centre, foot slide while planted (world
ankle speed over the frames the choreographer holds a foot), model.metrics foot skating,
share of frames turning (facing speed > 1.5 rad/s) and airborne (both ankles off the
floor), quiet/loud speed ratio (mean joint speed on beats of energy < 0.35 over beats of
energy > 0.8), jerk, and the 5-NN style separability of half the clips against the other.
With --dataset the same figures (but foot slide) come from a data set folder.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from model import metrics  # noqa: E402
from model.skeleton import ANKLE_HEIGHT, BONES, root_of  # noqa: E402

FPS = 30


def _speed(p: np.ndarray, joints: list[int]) -> float:
    return float(np.linalg.norm(np.diff(p[:, joints], axis=0), axis=-1).mean() * FPS)


def _facing(p: np.ndarray) -> np.ndarray:
    d = p[:, 11] - p[:, 12]
    return np.unwrap(np.arctan2(-d[:, 2], d[:, 0]))


def clip_stats(p: np.ndarray, beats: np.ndarray, energy: np.ndarray | None, planted: np.ndarray | None) -> dict[str, float]:
    legs, arms = _speed(p, [13, 14, 15, 16]), _speed(p, [7, 8, 9, 10])
    r = root_of(p)
    yaw_v = np.abs(np.diff(_facing(p))) * FPS
    air = (p[:, 15, 1] > ANKLE_HEIGHT + 0.03) & (p[:, 16, 1] > ANKLE_HEIGHT + 0.03)
    out = {"bas": metrics.beat_align_score(p, beats, fps=FPS), "leg_arm": legs / max(arms, 1e-9),
           "root_r": float(np.hypot(r[:, 0], r[:, 2]).max()), "skate": metrics.foot_skating(p, fps=FPS),
           "turn": float(np.mean(yaw_v > 1.5)), "air": float(np.mean(air)), "jerk": metrics.jerk(p, fps=FPS),
           "speed": float(metrics.joint_speed(p, fps=FPS).mean())}
    if planted is not None:
        v = np.linalg.norm(np.diff(p[:, 15:17], axis=0), axis=-1) * FPS
        both = planted[1:] & planted[:-1]
        out["slide"] = float(v[both].max()) if both.any() else 0.0
        out["planted"] = float(planted.mean())
    if energy is not None and len(energy) > 4:
        sp = metrics.joint_speed(p, fps=FPS)
        t = (np.arange(len(sp)) + 0.5) / FPS
        k = np.clip(np.searchsorted(beats, t) - 1, 0, len(energy) - 1)
        e = np.asarray(energy)[k]
        q, loud = sp[e < 0.35], sp[e > 0.8]
        if len(q) > FPS and len(loud) > FPS:
            out["quiet_loud"] = float(q.mean() / loud.mean())
    return out


def contact_sheet(p: np.ndarray, style: str, png: Path, *, start_s: float = 4.0, rows: int = 4,
                  cols: int = 10, step_s: float = 0.2) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2 * rows, cols, figsize=(1.5 * cols, 1.75 * 2 * rows))
    fig.subplots_adjust(left=0.03, right=0.99, top=0.95, bottom=0.01, wspace=0.02, hspace=0.12)
    span = cols * step_s
    for r in range(rows):
        t0 = start_s + r * (len(p) / FPS - start_s - span) / max(rows - 1, 1)
        for c in range(cols):
            k = min(len(p) - 1, int(round((t0 + c * step_s) * FPS)))
            pose = p[k]
            rt = root_of(pose[None])[0]
            for view, ax in ((0, axes[2 * r, c]), (1, axes[2 * r + 1, c])):
                h = -(pose[:, 0] - rt[0]) if view == 0 else pose[:, 2] - rt[2]
                for a, b in BONES:
                    col = "C1" if a in (5, 7, 9, 11, 13, 15) and b in (5, 7, 9, 11, 13, 15) else (
                        "C0" if a in (6, 8, 10, 12, 14, 16) and b in (6, 8, 10, 12, 14, 16) else "0.3")
                    ax.plot([h[a], h[b]], [pose[a, 1], pose[b, 1]], color=col, lw=1.6)
                ax.axhline(0.0, color="0.7", lw=0.8)
                ax.set_xlim(-0.85, 0.85)
                ax.set_ylim(-0.05, 1.95)
                ax.set_aspect("equal")
                ax.set_xticks([])
                ax.set_yticks([])
                if c == 0:
                    ax.set_ylabel(f"{'front' if view == 0 else 'side'} {t0:.1f}s", fontsize=7)
                if view == 0:
                    ax.set_title(f"{k / FPS:.1f}", fontsize=6)
    fig.suptitle(f"{style}: rows of {span:.1f} s, a frame every {step_s:.1f} s (front: audience view; side: "
                 f"+z to the right); orange = left, blue = right", fontsize=9)
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=75)
    plt.close(fig)


def dataset_report(root: Path) -> int:
    """The figures of a data set's clips per style (no foot slide: the set has no contact truth)."""
    from model.dataset import clip_records, load_poses

    by: dict[str, list[dict[str, float]]] = {}
    dances: dict[str, list[np.ndarray]] = {}
    for rec in clip_records(root):
        z = load_poses(rec.poses)
        p = z["poses"].astype(np.float64)
        by.setdefault(rec.style, []).append(clip_stats(p, z.get("beats", np.zeros(0)), None, None))
        dances.setdefault(rec.style, []).append(p)
    keys = ("bas", "leg_arm", "root_r", "skate", "turn", "air", "jerk", "speed")
    print(f"{'style':<13}" + "".join(f"{k:>9}" for k in keys))
    for style, rows in sorted(by.items()):
        agg = {k: (np.max if k == "root_r" else np.mean)([r[k] for r in rows]) for k in keys}
        print(f"{style:<13}" + "".join(f"{agg[k]:>9.3f}" for k in keys))
    train = {s: v[0::2] for s, v in dances.items()}
    test = {s: v[1::2] for s, v in dances.items() if len(v) > 1}
    print("separability (5-NN, 4 s windows, even clips vs odd clips):",
          round(metrics.style_separability(train, test, fps=FPS), 3))
    for name in sorted(test):
        print(f"  {name}: {metrics.style_separability(train, {name: test[name]}, fps=FPS):.3f}")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--music", default="synth", choices=("synth", "midi"))
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--songs", type=int, default=3)
    ap.add_argument("--sheets", default="")
    ap.add_argument("--styles", default="")
    ap.add_argument("--dataset", default="", help="measure a data set folder instead of fresh dances")
    args = ap.parse_args()
    if args.dataset:
        return dataset_report(Path(args.dataset))
    from model.synth_dance import STYLES, render_dance
    from model.synth_dataset import _midi_track, _synth_track

    styles = [s for s in (args.styles.split(",") if args.styles else STYLES)]
    dances: dict[str, list[np.ndarray]] = {}
    keys = ("bas", "leg_arm", "root_r", "slide", "skate", "turn", "air", "quiet_loud", "jerk", "speed")
    print(f"{'style':<13}" + "".join(f"{k:>11}" for k in keys))
    for style in styles:
        rows = []
        for s in range(args.songs):
            crng = np.random.default_rng([77, s, list(STYLES).index(style)])
            tr = (_midi_track(style, args.seconds, crng, 22050, 0.0) if args.music == "midi"
                  else _synth_track(style, args.seconds, crng, 22050))
            d = render_dance(tr, style=style, fps=FPS, seed=s)
            rows.append(clip_stats(d.poses, tr.beats, tr.energy, d.planted))
            dances.setdefault(style, []).append(d.poses)
            if s == 0 and args.sheets:
                contact_sheet(d.poses, style, Path(args.sheets) / f"{style}.png")
        agg = {k: (np.max if k in ("root_r", "slide") else np.mean)([r[k] for r in rows if k in r]) if any(k in r for r in rows)
               else float("nan") for k in keys}
        print(f"{style:<13}" + "".join(f"{agg[k]:>11.3f}" for k in keys))
    if all(len(v) >= 2 for v in dances.values()):
        train = {s: v[: len(v) // 2] for s, v in dances.items()}
        test = {s: v[len(v) // 2:] for s, v in dances.items()}
        print("separability (5-NN, 4 s windows, half the songs vs the other):",
              round(metrics.style_separability(train, test, fps=FPS), 3))
        for name in dances:
            print(f"  {name}: {metrics.style_separability(train, {name: test[name]}, fps=FPS):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
