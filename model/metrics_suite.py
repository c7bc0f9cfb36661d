"""The dancer evaluation of issue 10: one report of how musical, varied and human a
model's dancing is on music it never trained on, next to the training data's own numbers.

Plan (every dance through the live path, ``model.metrics_gen.Dancer``; each song's
features are computed once and shared by all its dances):

* test songs (exact beats: MIDI songs, dataset clips): song i is danced in
  ``styles_per_song`` styles (round-robin, seed 0, energy 1) -> Beat Align Score against
  the exact beats and against the beats shifted half a beat, leg/arm speed, repetition,
  foot sliding, bones, jerk, and style recognition on test music (every style on every song,
  with ``style_seeds`` seeds); each again with seed 1
  (seconds where the two seeds agree within 3 cm: it varies a lot by style and song, so
  every dance counts); per style, over all its test-song dances, its dynamics and stance:
  the dip on the beat, the accent sharpness and the hip and nose heights
  (``metrics_dancer.beat_dip`` / ``accent_sharpness`` / ``stance``), its repetition (lowest
  ratio, share of windows under 0.3) and its foot sliding (no target: read beside the
  training data's own, style by style);
* the first ``pair_songs`` test songs again at energy 0.3 and 1.8 (pose spread); the first
  test song in every style at energy 1 and ``ENERGY_UP`` (does the control turn each style up?
  no target; ``spread_up`` per style in the report; with ``pair_songs`` 0 neither is danced);
* ``quiet_songs`` test songs with the passage ``QUIET_SECTION`` (fractions of the song)
  30 dB quieter: joint speed there over the speed elsewhere;
* ``long_minutes`` of music (real recordings when given, else the test songs one after
  another), danced continuously with the style switched live every 1/S of the time, once
  per seed of ``long_seeds`` (every seed's windows count; freeze and root: the worst seed's):
  freeze ratio (seconds where the music itself is silent, below ``metrics.SILENCE_DB``,
  such as the gap between two recordings, are not counted; ``freeze_long_all`` counts
  them too), root radius (post-processed and raw), style recognition per style on
  real music (windows from ``SETTLE_S`` after each switch), and repetition per style piece
  (each piece its own dance, as a test song is; windows holding silence left out; over the
  whole 10 minutes as one dance the mean pair distance is mostly the distance between
  styles, so that figure, ``repetition_long_whole_min``, is printed beside it only);
  ``repetition_low`` is the share of all those windows under ``md.REPEAT_RATIO`` (one
  window decides the minimum; this tells how much of the dance nearly repeats itself), also
  per style piece (``dynamics_long``).

The training data's column: the same metrics on its own dances and beats; its style
figure is the classifier's cross-validated accuracy (folded by dance), and beside it the same
with each held-out dance played at 85-140 bpm (``sc.PROBE_BPM``: does the classifier know the
moves, or the tempo of the style's songs?).

The style classifier is fitted with every training dance also played 0.7x-1.4x as fast
(``sc.TEMPO_STRETCH``, session 33); the figures of the classifier fitted without (sessions
13-32) are printed beside (``style_plain_*``, no target) so the two can be read together.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from model import metrics
from model import metrics_dancer as md
from model import style_classifier as sc
from model.errors import DatasetError
from model.metrics_songs import TestSong, long_music, with_quiet_section
from model.skeleton import root_of

STAGE_RADIUS = 1.5
ENERGY_UP = 2.0
"""The energy every style is danced at beside energy 1 on the first test song: the control's top
(live/control.py), where the model is fed up to each style's ceiling (model/energy_ceiling.py)."""
QUIET_SECTION = (0.4, 0.75)
SETTLE_S = 8.0
"""Seconds after a live style switch before its windows count for style recognition."""

Progress = Callable[[str], None]


@dataclass
class SuiteConfig:
    """How much music the suite dances (defaults: ~25 minutes of music per model)."""

    styles_per_song: int = 2
    style_every_song: bool = True
    """Style recognition on test music: every style danced on every test song, not only the
    ``styles_per_song`` dances (which give a style 1-2 dances, ~7 windows)."""
    style_seeds: int = 4
    """Seeds (0..n-1) every style is danced with for style recognition on test music (with
    ``style_every_song``; without it the ``styles_per_song`` dances count seeds 0 and 1). One
    seed decides little: the shipped v16's mean over the styles is 0.754 / 0.741 / 0.698 /
    0.751 with seeds 0 / 1 / 2 / 3, its hip-hop 0.81 / 0.60 / 0.45 / 0.71; nor do two: session
    40's model reads freestyle 0.857 / 0.750 / 0.869 with seeds 0-1 / 2-3 / 4-5 (2 until
    session 41; models/README.md, session 41)."""
    pair_songs: int = 3
    quiet_songs: int = 2
    long_minutes: float = 10.0
    long_seeds: int = 4
    """Seeds (0..n-1) the long music is danced with; style recognition there pools every seed's
    windows, repetition counts every seed's pieces, freeze and root radius are the worst seed's.
    One seed decides little: the shipped model's worst style on the recordings reads 0.857 /
    0.714 / 0.857 / 0.714 / 0.786 / 0.714 with seeds 0-5, its popping 0.857 / 0.714 / 1 / 0.714
    (models/README.md, session 39)."""
    stage_radius: float = STAGE_RADIUS
    energies: tuple[float, float] = (0.3, 1.8)


def targets(stage_radius: float = STAGE_RADIUS) -> dict[str, tuple[str, float]]:
    """Acceptance targets of issue 10: metric -> (">=" or "<=", limit)."""
    return {
        "bas": (">=", 0.55), "bas_gain": (">=", 0.25), "quiet_speed_ratio": ("<=", 0.5),
        "spread_ratio": (">=", 2.0), "seed_agree": ("<=", 0.05), "leg_arm": (">=", 0.4),
        "repetition_min": (">=", 0.3), "repetition_median": (">=", 0.3), "style_min": (">=", 0.85),
        "style_real_min": (">=", 0.85), "freeze_long": ("<=", 0.0), "root_max": ("<=", stage_radius),
        "root_p95": ("<=", stage_radius), "bone_error": ("<=", 0.005),
    }


ROWS: tuple[tuple[str, str], ...] = (
    ("bas", "beat-align score, exact beats"), ("bas_off", "  ... beats shifted half a beat"),
    ("bas_gain", "  ... on-beat minus off-beat"), ("bas_tracked", "beat-align, recordings (tracked beats)"),
    ("quiet_speed_ratio", "speed in -30 dB passage / elsewhere"), ("spread_ratio", "pose spread energy 1.8 / 0.3"),
    ("spread_up_min", "pose spread energy 2 / 1, lowest style"), ("spread_up_mean", "  ... mean of the styles"),
    ("seed_agree", "seconds two seeds agree (3 cm)"), ("leg_arm", "foot speed / hand speed"),
    ("repetition_min", "repetition ratio, min"), ("repetition_median", "repetition ratio, median"),
    ("repetition_low", "  ... share of windows under 0.3"),
    ("music_tie", "  ... nearest's music rank (0 same, 0.5 any)"),
    ("repetition_long_whole_min", "  ... 10 min as one dance, min"),
    ("novelty_long", "  ... novelty's mirror flips per minute, long music"),
    ("style_min", "style recognised, test music, min"), ("style_mean", "  ... mean of the styles"),
    ("style_real_min", "style recognised, long music, min"), ("style_real_mean", "  ... mean of the styles"),
    ("style_real_seed_min", "  ... worst single seed, min"),
    ("style_tempi_min", "  ... data at 85-140 bpm (CV), min"), ("style_tempi_mean", "  ... mean of the styles"),
    ("style_plain_min", "classifier w/o tempo copies: test, min"), ("style_plain_mean", "  ... mean of the styles"),
    ("style_real_plain_min", "  ... long music, min"), ("style_real_plain_mean", "  ... mean of the styles"),
    ("style_plain_tempi_min", "  ... data at 85-140 bpm (CV), min"), ("style_plain_tempi_mean", "  ... mean"),
    ("freeze_long", "freeze ratio, long music"), ("freeze_long_all", "  ... silent seconds counted too"),
    ("silent_seconds_long", "  ... seconds of silence (< -50 dB)"), ("root_max", "root radius max (m)"), ("root_p95", "root radius p95 (m)"),
    ("root_raw_max", "raw root radius max (m), no post"), ("foot_slide", "foot sliding in contact (m/s)"),
    ("foot_slide_share", "contact steps sliding > 0.1 m/s"),
    ("skating", f"  ... skating on the floor (< {md.SKATE_M * 100:.0f} cm, > {md.SKATE_SPEED:g} m/s)"),
    ("made_pops", f"frames a joint jumps {md.POP_SPEED:g} m/s+ not drawn"),
    ("off_floor", f"frames with every joint {md.OFF_FLOOR_M * 100:.0f} cm+ off the floor"),
    ("under_floor", "frames with a joint under the floor"),
    ("floor_gap", "lower foot over the floor, standing (m)"),
    ("straight_legs", f"leg-frames locked straight ({md.STRAIGHT_LEG * 100:.0f} %+ of the leg)"),
    ("bone_error", "bone-length error"),
    ("jerk", "jerk (m/s^3)"), ("speed", "mean joint speed (m/s)"),
)


@dataclass
class TrainData:
    """The training data's dances: style -> list of (poses [t, 17, 3], beats s or None)."""

    path: str
    fps: int
    dances: dict[str, list[tuple[np.ndarray, np.ndarray | None]]]

    def poses(self) -> dict[str, list[np.ndarray]]:
        return {s: [p for p, _ in v] for s, v in self.dances.items()}


def load_train(path: str | Path | Sequence[str | Path], *, fps: int) -> TrainData:
    """Poses and beats of one or more dataset folders (no audio features needed).
    Raises DatasetError."""
    from model.dataset import clip_records, load_poses

    paths = [Path(path)] if isinstance(path, str | Path) else [Path(p) for p in path]
    out: dict[str, list[tuple[np.ndarray, np.ndarray | None]]] = {}
    for p in paths:
        if not (p / "manifest.json").is_file():
            raise DatasetError(f"training data {p} is not a dataset folder (no manifest.json); pass --data DIR")
        for r in clip_records(p):
            if int(round(r.fps)) != fps:
                raise DatasetError(f"clip {r.id} in {p} is at {r.fps:g} fps but the model runs at {fps}; "
                                   f"pass the model's own training data with --data")
            a = load_poses(r.poses)
            beats = np.asarray(a["beats"], np.float64) if "beats" in a else None
            out.setdefault(r.style, []).append((np.asarray(a["poses"], np.float32), beats))
    if not out:
        raise DatasetError(f"training data {', '.join(map(str, paths))} has no clips; pass the model's training data with --data")
    return TrainData(path=" + ".join(map(str, paths)), fps=fps, dances=out)


STYLE_FIGURES = (("align", "beat-align score"), ("dip", "dip on the beat"), ("half", "dip on the half beat"),
                 ("sharp", "accent sharpness"), ("hip", "hip over lower ankle"), ("head", "nose over hips"),
                 ("rep_min", "repetition ratio, min"), ("rep_low", "repetition under 0.3"),
                 ("tie", "nearest's music rank"),
                 ("slide", "foot sliding in contact"), ("skate", "skating on the floor"), ("air", "off the floor"))
"""Per-style figures of the test-song dances (``style_dynamics``; no target: read beside
the training data's own, style by style): key in the report's ``dynamics``, row label."""


def _mean(xs: Sequence[float]) -> float:
    v = [float(x) for x in xs if x is not None and np.isfinite(x)]
    return float(np.mean(v)) if v else float("nan")


def _motion_figures(dances: Sequence[np.ndarray], *, fps: int) -> dict[str, float]:
    """Figures of plain dances: leg/arm, repetition, sliding, bones, jerk, speed."""
    reps = [md.repetition(d, fps=fps) for d in dances]
    rep = np.concatenate(reps) if reps else np.zeros(0)
    slides = [md.foot_sliding(d, fps=fps) for d in dances]
    return {
        "leg_arm": _mean([md.limb_speed_ratio(d, fps=fps) for d in dances]),
        "repetition_min": float(rep.min()) if len(rep) else float("nan"),
        "repetition_median": float(np.median(rep)) if len(rep) else float("nan"),
        "repetition_low": md.repeating_share(rep),
        "foot_slide": _mean([s[0] for s in slides]),
        "foot_slide_share": _mean([s[1] for s in slides]),
        "skating": _mean([md.skating(d, fps=fps) for d in dances]),
        "off_floor": _mean([md.off_floor(d) for d in dances]),
        "under_floor": _mean([md.under_floor(d) for d in dances]),
        "floor_gap": _mean([md.floor_gap(d) for d in dances]),
        "straight_legs": _mean([md.straight_legs(d) for d in dances]),
        "bone_error": _mean([metrics.bone_length_error(d) for d in dances]),
        "jerk": _mean([metrics.jerk(d, fps=fps) for d in dances]),
        "speed": _mean([float(metrics.joint_speed(d, fps=fps).mean()) for d in dances if len(d) > 1]),
    }


def style_dynamics(dances: Mapping[str, Sequence[tuple[np.ndarray, np.ndarray | None]]], *, fps: int
                   ) -> dict[str, dict[str, float]]:
    """Per style the mean beat-align score, beat dip and half-beat dip (-a2 of ``beat_profile``;
    these three over dances with exact beats only), accent sharpness, stance, repetition and
    foot sliding (``model.metrics_dancer``): {"align": {style: bas}, "dip": {style: g},
    "half": {style: g}, "sharp": {style: x}, "hip": {style: m}, "head": {style: m},
    "rep_min": {style: r}, "rep_low": {style: share}, "slide": {style: m/s}, "skate": {style: share}, "air": {style: share}}. The headline
    beat-align score is one mean over a few dances; this one shows which styles land on the
    beat (the training data's freestyle, salsa and breaking barely dip on it). The repetition rows are each dance's own windows (as the
    headline's), pooled per style: its lowest ratio and its share under ``md.REPEAT_RATIO``,
    so a low headline minimum is read beside the style's own data (the synthetic ballet,
    house and locking repeat a move for bars: 16-18 % of their windows are under 0.3). The
    foot sliding (mean horizontal ankle speed in contact) likewise shows which style's feet
    move along the floor (breaking's floor work sweeps them by design), ``skate`` the share of
    contact steps skating on the floor (``md.skating``), and ``air`` the share
    of frames with the whole body off the floor (``md.off_floor``: jumps, or hovering feet)."""
    out: dict[str, dict[str, float]] = {part: {} for part, _ in STYLE_FIGURES}
    for st, items in dances.items():
        timed = [(p, b) for p, b in items if b is not None and len(b) >= 2]
        out["align"][st] = _mean([metrics.beat_align_score(p, b, fps=fps) for p, b in timed])
        prof = [md.beat_profile(p, b, fps=fps, harmonics=2) for p, b in timed]
        out["dip"][st] = _mean([-float(x[0]) for x in prof])
        out["half"][st] = _mean([-float(x[2]) for x in prof])
        out["sharp"][st] = _mean([md.accent_sharpness(p, fps=fps) for p, _ in items])
        stances = [md.stance(p) for p, _ in items]
        out["hip"][st] = _mean([s[0] for s in stances])
        out["head"][st] = _mean([s[1] for s in stances])
        reps = [md.repetition(p, fps=fps) for p, _ in items]
        rep = np.concatenate(reps) if reps else np.zeros(0)
        out["rep_min"][st] = float(rep.min()) if len(rep) else float("nan")
        out["rep_low"][st] = md.repeating_share(rep)
        out["slide"][st] = _mean([md.foot_sliding(p, fps=fps)[0] for p, _ in items])
        out["skate"][st] = _mean([md.skating(p, fps=fps) for p, _ in items])
        out["air"][st] = _mean([md.off_floor(p) for p, _ in items])
    return out


def _bas(pairs: Sequence[tuple[np.ndarray, np.ndarray]], *, fps: int) -> dict[str, float]:
    on = [metrics.beat_align_score(p, b, fps=fps) for p, b in pairs if len(b) >= 2]
    off = [metrics.beat_align_score(p, md.off_beats(b), fps=fps) for p, b in pairs if len(b) >= 2]
    return {"bas": _mean(on), "bas_off": _mean(off), "bas_gain": _mean(on) - _mean(off)}


def train_figures(train: TrainData, *, classifier_kind: str = "logreg") -> tuple[dict[str, float], dict[str, float]]:
    """(figures, cross-validated style accuracy per style) of the training data."""
    fps = train.fps
    allp = [p for v in train.dances.values() for p, _ in v]
    fig = _motion_figures(allp, fps=fps)
    fig.update(_bas([(p, b) for v in train.dances.values() for p, b in v if b is not None], fps=fps))
    for part, per in style_dynamics(train.dances, fps=fps).items():
        fig.update({f"{part}_{st}": v for st, v in per.items()})
    fig["freeze_long"] = _mean([metrics.freeze_ratio(p, fps=fps) for p in allp])
    radii = [md.root_radius(p) for p in allp]
    fig["root_max"] = max(r[0] for r in radii)
    fig["root_p95"] = float(np.percentile(np.concatenate(
        [np.hypot(*(root_of(p)[:, [0, 2]].T)) for p in allp]), 95))
    tempi = {s: [60.0 / float(np.median(np.diff(b))) if b is not None and len(b) >= 3 else None for _, b in v]
             for s, v in train.dances.items()}
    cv: dict[str, float] = {}
    for tag, speeds in (("", sc.TEMPO_STRETCH), ("_plain", ())):
        own, moved = sc.cross_validated_tempi(train.poses(), fps=fps, kind=classifier_kind, tempo_stretch=speeds,
                                              tempi=tempi)
        cv = cv or own
        for key, per in ((f"style{tag}", own), (f"style{tag}_tempi", moved)):
            vals = [v for v in per.values() if math.isfinite(v)]
            fig[f"{key}_min"] = min(vals) if vals else float("nan")
            fig[f"{key}_mean"] = _mean(vals)
    return fig, cv


def train_music_tie(paths: Sequence[str | Path], features: Callable[[Any], np.ndarray], *, fps: int
                    ) -> dict[str, float]:
    """The training data's ``md.music_tie`` rank, mean over every clip's windows (``music_tie``;
    NaN when no clip at ``fps`` has two windows 2 s apart) and per style (``tie_<style>``, the
    styles with such clips): each clip danced to its own music, that music through ``features``
    (song with ``audio`` and ``sr`` -> the model's feature rows)."""
    from types import SimpleNamespace

    from model.audio_check import read_checked
    from model.dataset import clip_records, load_poses

    ranks: dict[str, list[np.ndarray]] = {}
    for p in paths:
        for r in clip_records(p):
            if int(round(r.fps)) != fps:
                continue
            audio, sr = read_checked(r.audio)
            poses = np.asarray(load_poses(r.poses)["poses"], np.float64)
            ranks.setdefault(r.style, []).append(
                md.music_tie(poses, features(SimpleNamespace(audio=audio, sr=sr)), fps=fps)[1])
    per = {st: np.concatenate(v) for st, v in ranks.items()}
    got = np.concatenate(list(per.values())) if per else np.zeros(0)
    out = {f"tie_{st}": float(v.mean()) for st, v in per.items() if len(v)}
    out["music_tie"] = float(got.mean()) if len(got) else float("nan")
    return out


def _round_robin(i: int, k: int, styles: Sequence[str]) -> list[str]:
    return [styles[(i * k + j) % len(styles)] for j in range(min(k, len(styles)))]


def run_suite(dancer: Any, songs: Sequence[TestSong], *, train: TrainData, recordings: Sequence[TestSong] = (),
              cfg: SuiteConfig | None = None, classifier: sc.StyleClassifier | None = None,
              progress: Progress | None = None) -> dict[str, Any]:
    """Dance and measure (see the module docstring). ``dancer``: a metrics_gen.Dancer (or
    anything with ``styles``, ``fps``, ``dance(song, style=, seed=, energy=, schedule=)``).
    Returns the JSON-able report: ``figures`` {metric: value}, ``style`` {set: {style: acc}},
    ``songs`` (per-dance rows)."""
    cfg = cfg or SuiteConfig()
    say = progress or (lambda _m: None)
    fps, styles = int(dancer.fps), list(dancer.styles)
    exact = [s for s in songs if s.beats is not None and len(s.beats) >= 2]
    if not songs:
        raise DatasetError("no test songs; pass --songs midi:N or audio files")
    clf = classifier or sc.fit(train.poses(), fps=fps)
    clf_plain = None if classifier is not None else sc.fit(train.poses(), fps=fps, tempo_stretch=())
    rows: list[dict[str, Any]] = []
    agree: list[float] = []
    plain: list[np.ndarray] = []
    pops: list[float] = []  # post-made joint jumps per plain dance (model.metrics_dancer.made_pops)
    ties: list[np.ndarray] = []  # music rank of each window's nearest (model.metrics_dancer.music_tie)
    tie_style: dict[str, list[np.ndarray]] = {}  # the same per style, every test song's seed-0 dance (as dyn)
    tie_long: dict[str, list[np.ndarray]] = {}  # the long dance's pieces per style
    by_style: dict[str, list[np.ndarray]] = {}
    dyn: dict[str, list[tuple[np.ndarray, np.ndarray | None]]] = {}  # style -> (dance, exact beats)
    bas_pairs: list[tuple[np.ndarray, np.ndarray]] = []
    tracked_pairs: list[tuple[np.ndarray, np.ndarray]] = []
    first: dict[int, tuple[str, np.ndarray]] = {}
    for i, song in enumerate(songs):
        for st in _round_robin(i, cfg.styles_per_song, styles):
            say(f"{song.name} as {st} (seeds 0 and 1)")
            g = dancer.dance(song, style=st, seed=0)
            g1 = dancer.dance(song, style=st, seed=1).poses
            agree.append(md.seed_agreement(g.poses, g1, fps=fps))
            plain.append(g.poses)
            pops.append(md.made_pops(g.poses, g.raw, fps=fps))
            if hasattr(dancer, "features"):  # which move comes back: where the music does, or anywhere
                ties.append(md.music_tie(g.poses, dancer.features(song)[0], fps=fps)[1])
                tie_style.setdefault(st, []).append(ties[-1])
            by_style.setdefault(st, []).append(g.poses)
            if cfg.style_seeds > 1:
                by_style[st].append(g1)
            dyn.setdefault(st, []).append((g.poses, song.beats))
            first.setdefault(i, (st, g.poses))
            row: dict[str, Any] = {"song": song.name, "style": st, "seconds": round(len(g.poses) / fps, 1)}
            if song.beats is not None and len(song.beats) >= 2:
                bas_pairs.append((g.poses, song.beats))
                row.update(_bas([(g.poses, song.beats)], fps=fps))
            else:
                tracked_pairs.append((g.poses, g.beats))
                row["bas_tracked"] = _bas([(g.poses, g.beats)], fps=fps)["bas"]
            rows.append(row)
    fig = _motion_figures(plain, fps=fps)
    fig["made_pops"] = _mean(pops)
    fig.update(_bas(bas_pairs, fps=fps) if bas_pairs else {"bas": math.nan, "bas_off": math.nan, "bas_gain": math.nan})
    if cfg.style_every_song:
        for i, song in enumerate(songs):
            done = set(_round_robin(i, cfg.styles_per_song, styles))  # seeds 0 and 1 danced above
            for st in styles:
                seeds = range(2 if st in done else 0, max(1, cfg.style_seeds))
                if len(seeds):
                    say(f"{song.name} as {st} (style recognition, seed{'s' if len(seeds) > 1 else ''} "
                        f"{', '.join(map(str, seeds))})")
                for seed in seeds:
                    p = dancer.dance(song, style=st, seed=seed).poses
                    by_style.setdefault(st, []).append(p)
                    if seed == 0:
                        dyn.setdefault(st, []).append((p, song.beats))
                        if hasattr(dancer, "features"):
                            tie_style.setdefault(st, []).append(md.music_tie(p, dancer.features(song)[0], fps=fps)[1])
    style_test = clf.accuracy(by_style)
    style_plain = {"test": clf_plain.accuracy(by_style) if clf_plain is not None else {}, "long": {}}

    spread = []
    for i, song in enumerate(songs[: cfg.pair_songs]):
        st, _ = first[i]
        say(f"{song.name}: energy {cfg.energies[0]:g} and {cfg.energies[1]:g}")
        lo = md.pose_spread(dancer.dance(song, style=st, seed=0, energy=cfg.energies[0]).poses)
        hi = md.pose_spread(dancer.dance(song, style=st, seed=0, energy=cfg.energies[1]).poses)
        spread.append(hi / lo if lo > 1e-9 else math.inf)
    fig["seed_agree"] = _mean(agree)
    fig["spread_ratio"] = _mean(spread)
    up: dict[str, float] = {}
    if songs and cfg.pair_songs:  # does the energy control turn every style up? (session 53: ballet and hip-hop did not)
        song = songs[0]
        say(f"{song.name}: every style at energy 1 and {ENERGY_UP:g}")
        for st in styles:
            one = md.pose_spread(dancer.dance(song, style=st, seed=0, energy=1.0).poses)
            two = md.pose_spread(dancer.dance(song, style=st, seed=0, energy=ENERGY_UP).poses)
            up[st] = round(two / one, 4) if one > 1e-9 else math.inf
        fig["spread_up_min"] = min(up.values()) if up else math.nan
        fig["spread_up_mean"] = _mean(list(up.values()))

    quiet = []
    for i, song in enumerate((exact or list(songs))[: cfg.quiet_songs]):
        sec = (QUIET_SECTION[0] * song.seconds, QUIET_SECTION[1] * song.seconds)
        q = with_quiet_section(song, sec)
        say(f"{q.name} ({sec[0]:.0f}-{sec[1]:.0f} s at -30 dB)")
        g = dancer.dance(q, style=styles[i % len(styles)], seed=0)
        if hasattr(dancer, "forget"):
            dancer.forget(q)
        quiet.append(md.section_speed_ratio(g.poses, fps=fps, section=sec))
    fig["quiet_speed_ratio"] = _mean(quiet)

    style_long: dict[str, float] = {}
    dyn_long: dict[str, dict[str, float]] = {}
    if cfg.long_minutes > 0:
        src = list(recordings) or list(songs)
        long = long_music(src, minutes=cfg.long_minutes)
        seg = long.seconds / len(styles)
        schedule = [(k * seg, s) for k, s in enumerate(styles)][1:]
        long_seeds = list(range(max(1, cfg.long_seeds)))
        say(f"{cfg.long_minutes:g} min of {'recordings' if recordings else 'test songs'}, styles switched every "
            f"{seg:.0f} s (seed{'s 0-' + str(long_seeds[-1]) if len(long_seeds) > 1 else ' 0'})")
        music: np.ndarray | None = None
        pieces: list[np.ndarray] = []  # every seed's repetition per style piece, seed by seed
        parts: dict[str, list[np.ndarray]] = {s: [] for s in styles}
        per_seed: list[dict[str, float]] = []
        freeze, freeze_all, roots, raws, whole_min, tracked_bas = [], [], [], [], [], []
        novel, n_frames = 0, 0
        for seed in long_seeds:
            g = dancer.dance(long, style=styles[0], seed=seed, schedule=schedule)
            if music is None:
                music = metrics.music_frames(long.audio, long.sr, fps=fps, n=len(g.poses))
            freeze.append(metrics.freeze_ratio(g.poses, fps=fps, music=music))
            freeze_all.append(metrics.freeze_ratio(g.poses, fps=fps))  # silent seconds counted too
            roots.append(md.root_radius(g.poses))
            raws.append(md.root_radius(g.raw)[0])
            if long.beats is None:
                tracked_bas.append(_bas([(g.poses, g.beats)], fps=fps)["bas"])
            # the long dance's repetition per style piece (each its own dance, as the test songs'
            # are; over the whole 10 minutes the mean pair distance is mostly between styles),
            # silent windows left out; the whole-dance figure is kept beside it
            pieces += [md.repetition(g.poses[int(k * seg * fps): int((k + 1) * seg * fps)], fps=fps,
                                     music=music[int(k * seg * fps): int((k + 1) * seg * fps)]) for k in range(len(styles))]
            if hasattr(dancer, "features"):
                lf = dancer.features(long)[0]
                for k, s in enumerate(styles):
                    a, z = int(k * seg * fps), int((k + 1) * seg * fps)
                    ties.append(md.music_tie(g.poses[a:z], lf[a:z], fps=fps, music=music[a:z])[1])
                    tie_long.setdefault(s, []).append(ties[-1])
            novel += g.novel  # live.novelty's guard (0: off)
            n_frames += len(g.poses)
            whole = md.repetition(g.poses, fps=fps)
            if len(whole):
                whole_min.append(float(whole.min()))
            mine = {}
            for k, s in enumerate(styles):
                i0, i1 = int((k * seg + SETTLE_S) * fps), int((k + 1) * seg * fps)
                if i1 - i0 >= int(sc.WINDOW_S * fps):
                    parts[s].append(g.poses[i0:i1])
                    mine[s] = [g.poses[i0:i1]]
            if len(long_seeds) > 1:
                per_seed.append(clf.accuracy(mine))
            del g
        if hasattr(dancer, "forget"):
            dancer.forget(long)
        assert music is not None
        fig["freeze_long"], fig["freeze_long_all"] = max(freeze), max(freeze_all)  # the worst seed's
        fig["silent_seconds_long"] = float((~music).sum() / fps)
        fig["root_max"], fig["root_p95"] = max(r[0] for r in roots), max(r[1] for r in roots)
        fig["root_raw_max"] = max(raws)
        if tracked_bas:
            fig["bas_tracked"] = _mean(tracked_bas)
        by_piece = [np.concatenate(pieces[k::len(styles)]) for k in range(len(styles))]  # each style, every seed
        rep = np.concatenate([md.repetition(d, fps=fps) for d in plain] + by_piece)
        dyn_long = {"rep_min": {s: float(r.min()) if len(r) else math.nan for s, r in zip(styles, by_piece, strict=True)},
                    "rep_low": {s: md.repeating_share(r) for s, r in zip(styles, by_piece, strict=True)}}
        if len(rep):
            fig["repetition_min"], fig["repetition_median"] = float(rep.min()), float(np.median(rep))
            fig["repetition_low"] = md.repeating_share(rep)
        fig["novelty_long"] = novel / max(n_frames / fps / 60.0, 1e-9)
        if whole_min:
            fig["repetition_long_whole_min"] = min(whole_min)
        parts = {s: v for s, v in parts.items() if v}
        style_long = clf.accuracy(parts)  # every seed's windows pooled
        seed_mins = [min(a.values()) for a in per_seed if a and all(map(math.isfinite, a.values()))]
        if seed_mins:
            fig["style_real_seed_min"] = min(seed_mins)
        if clf_plain is not None:
            style_plain["long"] = clf_plain.accuracy(parts)
        rows.append({"song": long.name, "style": "all (switched live)", "seconds": round(n_frames / len(long_seeds) / fps, 1),
                     "seeds": len(long_seeds), "freeze": fig["freeze_long"], "root_max": fig["root_max"], "kind": long.kind})
    elif tracked_pairs:
        fig["bas_tracked"] = _bas(tracked_pairs, fps=fps)["bas"]
    if ties and sum(map(len, ties)):
        fig["music_tie"] = float(np.mean(np.concatenate(ties)))
    dynamics = style_dynamics(dyn, fps=fps)
    for by, into in ((tie_style, dynamics), (tie_long, dyn_long)):
        got = {st: float(np.mean(np.concatenate(v))) for st, v in by.items() if sum(map(len, v))}
        if got:
            into["tie"] = got
    for s in styles:  # a style no test song was danced in cannot pass "every style"
        style_test.setdefault(s, math.nan)
    fig["style_min"] = min(style_test.values()) if style_test and all(map(math.isfinite, style_test.values())) else math.nan
    fig["style_real_min"] = min(style_long.values()) if style_long else math.nan
    fig["style_mean"] = _mean(list(style_test.values())) if style_test else math.nan
    fig["style_real_mean"] = _mean(list(style_long.values())) if style_long else math.nan
    for key, per in (("style_plain", style_plain["test"]), ("style_real_plain", style_plain["long"])):
        if per:
            fig[f"{key}_min"], fig[f"{key}_mean"] = min(per.values()), _mean(list(per.values()))
    return {"model": getattr(dancer, "path", ""), "post": getattr(dancer, "post", ""), "fps": fps,
            "styles": styles, "figures": fig, "style": {"test": style_test, "long": style_long},
            "style_plain": style_plain,
            "style_dances": {s: len(v) for s, v in by_style.items()},
            "spread_up": up,
            "dynamics": dynamics, "dynamics_long": dyn_long,
            "long_source": ("recordings" if recordings else "test songs") if cfg.long_minutes > 0 else "",
            "songs": rows, "n_test_songs": len(songs), "n_exact": len(exact), "stage_radius": cfg.stage_radius}


def verdict(key: str, value: float, stage_radius: float = STAGE_RADIUS) -> tuple[str, bool | None]:
    """(target text, pass?) of a figure; ('', None) when it has no target."""
    t = targets(stage_radius).get(key)
    if t is None:
        return "", None
    op, lim = t
    ok = bool(np.isfinite(value) and (value >= lim if op == ">=" else value <= lim))
    return f"{op} {lim:g}", ok


def _fmt(v: Any) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    return f"{v:.3g}" if abs(v) < 1000 else f"{v:.0f}"


def format_columns(reports: Mapping[str, Mapping[str, Any]], train: Mapping[str, Any] | None,
                   train_style: Mapping[str, float] | None = None) -> str:
    """A text table: one column per report (name -> run_suite report), the training
    data's column, the target and PASS/FAIL per report."""
    names = list(reports)
    first = next(iter(reports.values()))
    stage = float(first.get("stage_radius", STAGE_RADIUS))
    dyn_styles = {s for r in reports.values() for per in r.get("dynamics", {}).values() for s in per}
    # the label column fits the longest per-style label ("  hip over lower ankle S (test music)")
    longest = max(len(label) for _, label in STYLE_FIGURES)
    w = max([38] + [longest + len(f"   {s} (test music)") + 1 for s in dyn_styles])
    head = f"{'metric':<{w}}" + "".join(f"{n[:12]:>13}" for n in names) + f"{'train':>10}{'target':>10}  result"
    lines = [head, "-" * len(head)]

    def line(label: str, vals: list[Any], tr: Any, key: str | None) -> None:
        tgt, oks = "", []
        if key is not None:
            for v in vals:
                tgt, ok = verdict(key, float(v) if v is not None else math.nan, stage)
                oks.append(ok)
        res = " ".join("-" if ok is None else ("PASS" if ok else "FAIL") for ok in oks) if tgt else ""
        lines.append(f"{label:<{w}}" + "".join(f"{_fmt(v):>13}" for v in vals) + f"{_fmt(tr):>10}{tgt:>10}  {res}")

    for key, label in ROWS:
        vals = [r["figures"].get(key) for r in reports.values()]
        if all(v is None for v in vals) and (train or {}).get(key) is None:
            continue
        line(label, vals, (train or {}).get(key), key)
    for part, label in (("test", "test music"), ("long", "long music")):
        styles = sorted({s for r in reports.values() for s in r["style"].get(part, {})})
        for s in styles:
            vals = [r["style"].get(part, {}).get(s) for r in reports.values()]
            tr = (train_style or {}).get(s) if part == "test" else None
            line(f"  style {s} ({label})", vals, tr, "style_min")
    for part, label in STYLE_FIGURES:
        # the test songs' dances (the data's figure beside), then the long dance's piece per style
        # (repetition only: where the headline minimum often is)
        for key, music in (("dynamics", "test music"), ("dynamics_long", "long music")):
            styles = sorted({s for r in reports.values() for s in r.get(key, {}).get(part, {})})
            for s in styles:
                vals = [r.get(key, {}).get(part, {}).get(s) for r in reports.values()]
                tr = (train or {}).get(f"{part}_{s}") if key == "dynamics" else None
                line(f"  {label} {s} ({music})", vals, tr, None)
    return "\n".join(lines)
