"""Energy calibration per style: what the ``energy`` control must be for the model's limbs to
move as much as the training data's (``dancemuse calibrate``; torch only inside :func:`calibrate`,
so the live engine can use :func:`scale_of`).

Why: ``energy`` 1 is meant to be "as much motion as the style has at this loudness" (the
training windows' own measured amplitude; model/train_data.py). A decoder trained with the
energy score can under-deliver in some styles: free-running from its own training songs'
features, v7's limbs moved at 0.5-0.6x the data's root-relative speed in ballet,
contemporary, hip-hop and house and at 0.9-1.0x in popping and locking. Raising the energy
input brings them up (v7, ballet at energy 1 / 1.6 / 2.2: 0.50 / 0.70 / 0.95x).

How: for every style of the model, up to ``clips`` clips of that style from the given
dataset folders are danced free-running (``model.train_report.free_run``: the training
data's mean pose to start, a fixed seed, variation 0.5, the style vector as the live engine
feeds it at ``style_strength``) for their first ``seconds`` at each energy in ``energies``;
the ratio of the dance's mean root-relative limb speed to the data's is fitted as
``log ratio = a + b log energy`` and solved for ratio 1. The scale is that energy, clipped to
``SCALE_RANGE`` (1 when energy does not move the speed). The live engine feeds the model
``min(user energy x scale(style mix), max_energy)`` (geometric mean of the scales for a mix);
post-processing keeps the user's value.

**Through the show's path** (session 33). The free-running raw model is not what the show
plays: post-processing (smoothing, the groove's re-timing), phrases and the live feature
extraction come between. Measured through the live engine on the same clips, the shipped v16
moved at 0.77-1.11x its data's limb speed (freestyle 0.83, hip-hop 0.82, ballet 0.77 at the
ceiling; popping 1.11), and on the held-out test songs freestyle at 0.67x, where its data's
moves are recognised in 0.45 of the windows (0.94 at twice the energy). So after the free run
``calibrate_checkpoint`` exports the model with those scales to a temporary folder and dances
the same clips through the live engine (``model.metrics_gen.Dancer``: the features from the
clip's audio, post-processing and phrases as configured) at the user energies
``LIVE_ENERGIES``; a log-log secant through the two measurements nearest ratio 1 (the ratio
against the energy the model was fed) gives a new scale, where the clips are danced again,
up to ``LIVE_ROUNDS`` times until the ratio is within ``LIVE_TOLERANCE`` (the speed does not
follow a power of the energy exactly). The scale stays in ``SCALE_RANGE`` and under the ceiling;
a style whose energies all hit the ceiling, or whose speed does not follow the energy, keeps
its scale; the free-run scale is kept as ``free_run_scale``, the ratio reached as
``live_ratio``.

**Smoothing per style.** The post-processing's one-euro smoothing takes the jitter out of the
model's motion; in a style made of hits it also takes the style: v16 at smoothing 0.5 /
0 is recognised as popping in 0.19 / 0.57 of its test-song windows (house otherwise). So
each style's smoothing follows its data: the share of the data's body-speed power at 5 Hz and
above (``model.metrics_dancer.fast_share``; popping ~0.4, freestyle ~0.2, salsa ~0.13, the
flowing synthetic styles 0.01-0.03) sets a factor on the user's ``smoothing`` that falls from
1 at ``FAST_FLOW`` to 0 at ``FAST_HITS``. The live engine multiplies the user's ``smoothing`` by
the factor of the style mix (the mix's weighted mean).

**Groove per style.** The groove stage (live/post.py) re-times the model's motion inside each
beat: it is what lands the accents on the beat (v16 on the test songs: beat-align 0.72 with
groove 0.8, 0.29 without). As one cosine for every style (slow on the beat, fast between) it
also gave every style the same bounce: v16 dipped 0.64-0.85 on the beat in all nine styles,
where the data's salsa, breaking and freestyle do not dip (``beat_dip`` ~0), house and hip-hop
slow on the half beat too and popping's hits come off the beat. So each style's groove follows
its data's beat profile (``model.metrics_dancer.beat_profile``: the body speed's first
``GROOVE_HARMONICS`` Fourier terms through the beat, averaged over the style's clips), with
at least ``GROOVE_FLOOR_DIP`` of dip (a1 <= -GROOVE_FLOOR_DIP, so every style still accents
the beat). A style can be given its own floor (``calibrate --groove-floor STYLE=DIP``): a
style whose data has no pulse at all reads as another style once the groove beats time into
it. The shipped model's freestyle (1.6 minutes of motion capture: beat dip 0.01, beat-align
0.19 against its accompaniment) is recognised in 0.655 of its test-song windows at the floor
0.4 and 0.857 at 0.1 (0.655 -> 0.798 on six other songs), where it still lands on the beat
more than off it (0.31 against 0.13); models/README.md, session 36. The live engine gives the post-processor the style mix's profile (the weighted
mean); at the default ``live.groove`` (``GROOVE_DATA``, 0.8) the groove's speed through the
beat is the profile, at other settings in proportion. A model without profiles (or a style
without beats in its data) keeps the cosine, which is the synthetic ballet's own profile
(a1 = -0.81).

**Tempo per style** (session 32). A style's dancers move to the tempi of its own music, and
the model learned the style partly from them (live/feel.py): each style's tempo is the median
of its clips' tempi (60 / the median beat interval of a clip), weighted by the clips'
lengths. ``live.feel`` 0 (auto) then dances in half or double time where that brings the
music's tempo nearer the style mix's (:func:`tempo_of`).

**Spread per style** (session 37). The novelty guard (live/novelty.py) mirrors the shown
dance when its last second comes too near something it danced before, "near" measured against
the dance's spread; at the start of a dance (a quiet intro) the spread seen so far is small, so
the guard takes at least the style's own: the live stage measures it at the final scale
(``model.metrics_dancer.motion_spread`` of each clip's dance, averaged), and the engine gives
the guard the style mix's weighted mean.

**Style strength per style** (session 38). The live engine feeds the model the style mix moved
``live.style_strength`` times as far from the equal mix (live/control.py ``strengthen``); one
strength does not suit every style: the shipped model's locking is read as ballet in 0.15 / 0.18
of its test-song windows at the default 2 / at 3 (recognised 0.81 at both), in 0.06 at 4 (0.93), while
freestyle falls from 0.86 at 2 to 0.48 at 4. ``calibrate --style-gain STYLE=K`` gives one style
a factor on the user's strength (the shipped model: locking=2); both stages measure that style
at the strength it will be fed, and the engine multiplies the user's strength by the style mix's
weighted mean of the factors (1 for a style without one).

**Other music per style** (session 41). The live stage dances each style to its own clips'
music, where the model is at home. A style with little data danced to accompaniment made for
it moves less on music it never heard: the shipped model's freestyle (1.6 minutes of motion
capture, its accompaniment rendered on the dancers' own beat) moved at 1.0x its data's limb
speed on its clips and 0.86x on the six held-out test songs, where it was read as ballet in
11 % of its windows (four seeds; 0.804 recognised). ``calibrate --other-music STYLE`` dances
that style's live stage to the other styles' clips' music instead (:func:`other_music_clips`:
each other style's first clip, then its second, up to ``per_style``), its limb speed held to
the mean of its own clips': the shipped freestyle's scale 1.39 -> 1.63, recognised 0.893 on
the test songs (models/README.md, session 41).

The result goes into the checkpoint (``ckpt["energy_calibration"]``), and ``dancemuse export``
copies it into the model's metadata (``energy_scale``, ``smoothing_scale``,
``groove_profile``, ``style_tempo``, ``motion_spread`` and ``style_gain`` per style, ``energy_max``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from model.config import SCHEMA

ENERGIES = (1.0, 1.6, 2.2)
"""Energies the speed is measured at."""
LIVE_ENERGIES = (0.75, 1.25)
"""User energies the live stage dances each style's clips at (the model is fed them times the
free run's scale, up to the ceiling)."""
LIVE_ROUNDS = 3
"""At most this many secant steps of the live stage (each dances the style's clips once)."""
LIVE_TOLERANCE = 1.05
"""The live stage stops when the limb speed is within this factor of the data's."""
SCALE_RANGE = (0.5, 2.5)
"""Clip range of a style's scale (the top is the training windows' energy range)."""
USER_ENERGY_MAX = float(SCHEMA["live"]["energy"].max or 2.0)
"""The most user energy (``live.energy``) the live stage can feed: a style whose free-run scale is
under 1.25 cannot be set past 2x it there (session 61: freestyle's secant asked for 2.01 on a
decoder trained afresh, and the config refused it)."""
MIN_SLOPE = 0.05
"""Below this log-log slope energy does not change the speed; the scale stays 1."""
FAST_FLOW = 0.1
"""A style whose data's fast share is at most this is smoothed as the user asks (factor 1)."""
FAST_HITS = 0.3
"""A style whose data's fast share is at least this is not smoothed (factor 0)."""
GROOVE_DATA = 0.8
"""The groove setting (the default ``live.groove``) at which the groove's speed through the beat
is a style's profile; the plain cosine at this setting is the synthetic ballet's profile."""
GROOVE_HARMONICS = 3
"""Fourier terms of a style's groove profile."""
GROOVE_FLOOR_DIP = 0.4
"""Least beat dip of a groove profile (a1 <= -GROOVE_FLOOR_DIP): every style accents the beat
(the beat-align target is 0.55; v16 with its data's profiles and this floor: 0.62). ``dancemuse
calibrate --groove-floor STYLE=DIP`` sets another floor for one style (the shipped model:
freestyle 0.1, see the module docstring)."""
GAIN_RANGE = (0.25, 3.0)
"""The factors ``calibrate --style-gain STYLE=K`` accepts on a style's strength."""


@dataclass
class Calibration:
    """Per style: the scale, and the measured speed ratios at each energy."""

    scale: dict[str, float]
    ratios: dict[str, list[float]]
    energies: list[float]
    clips: dict[str, int]
    seconds: float
    style_strength: float
    data: list[str] = field(default_factory=list)
    energy_max: float = SCALE_RANGE[1]
    smoothing: dict[str, float] = field(default_factory=dict)
    """Per style the factor on the user's smoothing (see the module docstring)."""
    fast: dict[str, float] = field(default_factory=dict)
    """Per style the data's fast share the smoothing factor comes from."""
    groove: dict[str, list[float]] = field(default_factory=dict)
    """Per style the groove profile (see the module docstring)."""
    groove_floor: dict[str, float] = field(default_factory=dict)
    """Per style the groove's least dip where it is not GROOVE_FLOOR_DIP (``--groove-floor``)."""
    tempo: dict[str, float] = field(default_factory=dict)
    """Per style the median tempo of its clips (BPM; see the module docstring)."""
    free_run_scale: dict[str, float] = field(default_factory=dict)
    """Per style the free run's scale, before the live stage (empty: no live stage)."""
    live_ratios: dict[str, list[float]] = field(default_factory=dict)
    """Per style the live engine's model/data limb speed at the user energies LIVE_ENERGIES."""
    live_ratio: dict[str, float] = field(default_factory=dict)
    """Per style the live engine's model/data limb speed at the final scale."""
    spread: dict[str, float] = field(default_factory=dict)
    """Per style the spread of the live engine's dances at the final scale (m; the novelty
    guard's floor, live/novelty.py; empty: no live stage)."""
    style_gain: dict[str, float] = field(default_factory=dict)
    """Per style the factor on the user's style strength where it is not 1 (``--style-gain``)."""
    other_music: dict[str, float] = field(default_factory=dict)
    """Styles (value 1) whose live stage dances to the other styles' clips' music, not their own
    (``--other-music``; see the module docstring)."""

    def to_dict(self) -> dict[str, Any]:
        out = {"scale": self.scale, "ratios": self.ratios, "energies": self.energies, "clips": self.clips,
               "seconds": self.seconds, "style_strength": self.style_strength, "data": self.data,
               "energy_max": self.energy_max, "smoothing": self.smoothing, "fast_share": self.fast,
               "groove_profile": self.groove, "style_tempo": self.tempo}
        if self.groove_floor:
            out["groove_floor"] = self.groove_floor
        if self.spread:
            out["motion_spread"] = self.spread
        if self.style_gain:
            out["style_gain"] = self.style_gain
        if self.other_music:
            out["other_music"] = self.other_music
        if self.free_run_scale:
            out.update({"free_run_scale": self.free_run_scale, "live_energies": list(LIVE_ENERGIES),
                        "live_ratios": self.live_ratios, "live_ratio": self.live_ratio})
        return out

    def table(self) -> str:
        live = bool(self.free_run_scale)
        head = ("style          clips  " + "  ".join(f"e={e:g}" for e in self.energies)
                + ("  free  live " + "  ".join(f"e={e:g}" for e in LIVE_ENERGIES) + " -> at scale" if live else "")
                + "   scale  smooth  dip    bpm" + ("  spread" if self.spread else "") + ("  gain" if self.style_gain else "")
                + "  (model/data limb speed"
                + (", free run then through the live engine" if live else "")
                + "; smoothing factor; the groove's beat dip; the style's tempo"
                + ("; its dances' spread, m" if self.spread else "")
                + ("; the factor on the style strength" if self.style_gain else "")
                + ("; * the live stage danced to the other styles' music" if self.other_music else "") + ")")
        rows = [head]
        for s, k in self.scale.items():
            r = self.ratios.get(s, [])
            lv = ""
            if live:
                lr = self.live_ratios.get(s, [])
                lv = (f"  {self.free_run_scale.get(s, float('nan')):5.2f}  " + "  ".join(f"{x:5.2f}" for x in lr)
                      + f"  -> {self.live_ratio.get(s, float('nan')):5.2f}" + ("*" if s in self.other_music else " "))
            rows.append(f"{s:14s} {self.clips.get(s, 0):5d}  " + "  ".join(f"{x:5.2f}" for x in r) + lv
                        + f"   {k:5.2f}  {self.smoothing.get(s, 1.0):5.2f}  {-self.groove.get(s, [-GROOVE_DATA])[0]:5.2f}"
                        + f"  {self.tempo.get(s, float('nan')):5.1f}"
                        + (f"  {self.spread.get(s, float('nan')):6.3f}" if self.spread else "")
                        + (f"  {self.style_gain.get(s, 1.0):4.2f}" if self.style_gain else ""))
        return "\n".join(rows)


def solve_scale(energies: Sequence[float], ratios: Sequence[float]) -> float:
    """The energy at which the fitted ``log ratio = a + b log energy`` reaches ratio 1,
    clipped to SCALE_RANGE; 1 when the fit is flat or the ratios are not finite."""
    e = np.log(np.asarray(energies, np.float64))
    r = np.asarray(ratios, np.float64)
    ok = np.isfinite(r) & (r > 0)
    if ok.sum() < 2:
        return 1.0
    b, a = np.polyfit(e[ok], np.log(r[ok]), 1)
    if not math.isfinite(b) or b < MIN_SLOPE:
        return 1.0
    return float(np.clip(math.exp(-a / b), *SCALE_RANGE))


def limb_speed(poses: np.ndarray, fps: float) -> float:
    """Mean speed of the joints relative to the root (m/s) of absolute poses [t, 17, 3]: how
    much the limbs move, travel left out (also training's ``val_amount``); NaN under 2 frames."""
    from model.skeleton import root_of

    p = np.asarray(poses, np.float64)
    if len(p) < 2:
        return float("nan")
    rel = p - root_of(p)[:, None, :]
    return float(np.linalg.norm(np.diff(rel, axis=0), axis=-1).mean() * fps)


def smoothing_factor(fast: float) -> float:
    """The factor on the user's smoothing for a style whose data has the fast share ``fast``:
    1 up to FAST_FLOW, 0 from FAST_HITS, linear between; 1 when ``fast`` is not finite."""
    if not math.isfinite(fast):
        return 1.0
    return float(np.clip((FAST_HITS - fast) / (FAST_HITS - FAST_FLOW), 0.0, 1.0))


def groove_profile(profiles: Sequence[np.ndarray], *, floor: float = GROOVE_FLOOR_DIP) -> list[float]:
    """A style's groove profile from its clips' beat profiles (``beat_profile``; NaN rows are
    clips without beats): their mean with a1 at most -``floor``; the cosine (a1 =
    -GROOVE_DATA) when no clip has beats."""
    rows = [np.asarray(p, np.float64) for p in profiles if np.all(np.isfinite(p))]
    if not rows:
        return [-GROOVE_DATA] + [0.0] * (2 * GROOVE_HARMONICS - 1)
    c = np.mean(rows, axis=0)
    c[0] = min(float(c[0]), -float(floor))
    return [round(float(x), 4) for x in c]


def clip_tempo(beats: np.ndarray) -> float:
    """A clip's tempo (BPM): 60 over the median interval of its beat times; NaN with fewer
    than two beats."""
    b = np.sort(np.asarray(beats, np.float64).ravel())
    d = np.diff(b)
    d = d[d > 0]
    return 60.0 / float(np.median(d)) if len(d) else float("nan")


def style_tempo(beats: Sequence[np.ndarray], seconds: Sequence[float]) -> float:
    """A style's tempo: the median of its clips' tempi weighted by their lengths (s); NaN
    when no clip has two beats."""
    t = np.array([clip_tempo(b) for b in beats], np.float64)
    w = np.asarray(seconds, np.float64)
    ok = np.isfinite(t) & (w > 0)
    if not ok.any():
        return float("nan")
    t, w = t[ok], w[ok]
    o = np.argsort(t)
    cw = np.cumsum(w[o])
    return float(t[o][int(np.searchsorted(cw, 0.5 * cw[-1]))])


def calibrate(net: Any, clips: Sequence[Any], *, styles: Sequence[str], seconds: float = 20.0,
              per_style: int = 8, energies: Sequence[float] = ENERGIES, style_strength: float = 1.0,
              seed: int = 0, progress: Any = None, groove_floor: Mapping[str, float] | None = None,
              style_gain: Mapping[str, float] | None = None, only: Sequence[str] = ()) -> Calibration:
    """Measure and solve (see the module docstring). ``clips``: TrainClips (feats, poses,
    style, fps); a style with no clip of at least 2 s keeps scale 1. ``groove_floor``: per
    style the groove's least dip where it is not GROOVE_FLOOR_DIP; ``style_gain``: per style
    the factor on ``style_strength`` where it is not 1 (the style is danced at the product);
    ``only``: calibrate these styles alone (default every style)."""
    import torch

    from live.control import strengthen
    from model.metrics_dancer import beat_profile, fast_share
    from model.train_data import vec_to_pose
    from model.train_report import free_run

    say = progress or (lambda _m: None)
    scale: dict[str, float] = {}
    ratios: dict[str, list[float]] = {}
    counts: dict[str, int] = {}
    smooth: dict[str, float] = {}
    fast: dict[str, float] = {}
    groove: dict[str, list[float]] = {}
    tempo: dict[str, float] = {}
    floors = {k: float(v) for k, v in (groove_floor or {}).items()}
    gains = {k: float(v) for k, v in (style_gain or {}).items() if float(v) != 1.0}
    for si, st in enumerate(styles):
        if only and st not in only:
            continue
        beaten = [c for c in clips if c.style == st and len(c.beats) >= 2]  # clips with a beat
        bpm = style_tempo([c.beats for c in beaten], [c.frames / c.fps for c in beaten])
        if math.isfinite(bpm):
            tempo[st] = round(bpm, 2)
        groove[st] = groove_profile([beat_profile(c.poses, c.beats, fps=c.fps, harmonics=GROOVE_HARMONICS)
                                     for c in beaten], floor=floors.get(st, GROOVE_FLOOR_DIP))
        mine = [c for c in clips if c.style == st and c.frames >= 2 * c.fps][:per_style]
        counts[st] = len(mine)
        if not mine:
            scale[st] = smooth[st] = 1.0
            continue
        fast[st] = round(float(np.nanmean([fast_share(c.poses, fps=c.fps) for c in mine])), 4)
        smooth[st] = round(smoothing_factor(fast[st]), 4)
        fps = mine[0].fps
        n = int(min(min(c.frames for c in mine), seconds * fps))
        feats = np.stack([c.feats[:n] for c in mine]).astype(np.float32)
        onehot = np.zeros(len(styles), np.float32)
        onehot[si] = 1.0
        sw = np.tile(strengthen(onehot, style_strength * gains.get(st, 1.0)), (len(mine), 1)).astype(np.float32)
        data_speed = [limb_speed(c.poses[:n], fps) for c in mine]
        got = []
        for e in energies:
            ctl = np.tile(np.array([[float(e), 0.5]], np.float32), (len(mine), 1))
            vec = free_run(net, feats, style_w=sw, controls=ctl, seed=seed, device=torch.device("cpu"))
            r = [limb_speed(vec_to_pose(vec[i]), fps) / max(d, 1e-6) for i, d in enumerate(data_speed)]
            got.append(float(np.mean(r)))
        ratios[st] = [round(x, 4) for x in got]
        scale[st] = round(solve_scale(energies, got), 4)
        say(f"{st}: {len(mine)} clips, model/data limb speed " + ", ".join(
            f"{x:.2f} at energy {e:g}" for x, e in zip(got, energies)) + f" -> scale {scale[st]:.2f}; "
            f"the data's fast share {fast[st]:.2f} -> smoothing x{smooth[st]:.2f}; "
            "the groove's profile " + " ".join(f"{x:+.2f}" for x in groove[st]))
    return Calibration(scale=scale, ratios=ratios, energies=[float(e) for e in energies], clips=counts,
                       seconds=float(seconds), style_strength=float(style_strength), smoothing=smooth,
                       fast=fast, groove=groove, tempo=tempo, groove_floor=floors, style_gain=gains)


def _secant_scale(ratio: Any, old: float, got: Sequence[float], *, top: float
                  ) -> tuple[float, float, list[tuple[float, float]]]:
    """(new scale, the ratio there, every (energy fed, ratio) measured): ``got`` are the ratios
    at the user energies LIVE_ENERGIES on a model whose scale is ``old``; ``ratio(user energy)``
    dances and measures once more. A log-log secant through the two measurements nearest
    ratio 1, up to LIVE_ROUNDS times (see the module docstring). The last ``ratio`` call is
    always at the new scale (user energy new / old)."""
    pts = [(min(e * old, top), r) for e, r in zip(LIVE_ENERGIES, got)]
    new, reached = old, float("nan")
    for _ in range(LIVE_ROUNDS):
        near = sorted(pts, key=lambda q: abs(math.log(max(q[1], 1e-6))))
        pair = [near[0]] + [q for q in near[1:] if abs(q[0] - near[0][0]) > 0.01 * near[0][0]][:1]
        if len(pair) < 2:
            break
        b, a = np.polyfit(np.log([q[0] for q in pair]), np.log([max(q[1], 1e-6) for q in pair]), 1)
        if not math.isfinite(b) or b < MIN_SLOPE:
            break
        new = float(np.clip(math.exp(-a / b), SCALE_RANGE[0], top))
        reached = ratio(new / old)
        pts.append((new, reached))
        if abs(math.log(max(reached, 1e-6))) < math.log(LIVE_TOLERANCE) or (new >= top and reached < 1.0):
            break
    if not math.isfinite(reached):
        new, reached = old, ratio(1.0)
    return new, reached, pts


def _live_ratio(dancer: Any, songs: Sequence[Any], data_speed: Sequence[float], style: str, last: list[np.ndarray],
                energy: float) -> float:
    """The mean over ``songs`` of the live engine's limb speed over the data's, at user ``energy``;
    ``last`` is given the dances (poses per song) of this call."""
    last[:] = [dancer.dance(s, style=style, seed=0, energy=energy, variation=0.5).poses for s in songs]
    r = [limb_speed(p, dancer.fps) / max(d, 1e-6) for p, d in zip(last, data_speed)]
    return float(np.mean(r))


def other_music_clips(clips: Sequence[Any], style: str, styles: Sequence[str], count: int) -> list[Any]:
    """Up to ``count`` clips (with audio, at least 2 s) of the styles other than ``style``, one
    per style in turn (in ``styles`` order: each style's first clip, then its second, ...):
    music ``style`` was never trained to."""
    pools = [[c for c in clips if c.style == s and c.frames >= 2 * c.fps and c.audio] for s in styles if s != style]
    out: list[Any] = []
    for i in range(max((len(p) for p in pools), default=0)):
        out += [p[i] for p in pools if i < len(p)]
    return out[:count]


def calibrate_live(dancer: Any, clips: Sequence[Any], cal: Calibration, *, per_style: int = 8,
                   seconds: float = 20.0, progress: Any = None) -> None:
    """The live stage (see the module docstring), in place on ``cal``: ``dancer`` (a
    model.metrics_gen.Dancer) runs the model exported with ``cal.scale``; each style's clips
    (the free run's, with their audio) are danced at LIVE_ENERGIES, the scale set where the
    limb speed meets the data's, and danced again to report the ratio; the spread of those last
    dances is the style's ``spread``. A style in ``cal.other_music`` dances to the music of
    :func:`other_music_clips` instead, its limb speed held to the mean of its own clips'."""
    from model.features import load_audio
    from model.metrics_dancer import motion_spread
    from model.metrics_songs import TestSong

    say = progress or (lambda _m: None)
    cal.free_run_scale = dict(cal.scale)
    for st in dancer.styles:
        mine = [c for c in clips if c.style == st and c.frames >= 2 * c.fps and c.audio][:per_style]
        if not mine or st not in cal.scale:
            continue
        own = [limb_speed(c.poses[: int(min(c.frames, seconds * c.fps))], c.fps) for c in mine]
        music = other_music_clips(clips, st, dancer.styles, per_style) if st in cal.other_music else mine
        if not music:  # no other style has clips with audio: its own music it is
            say(f"{st}: no other style's clips to dance to; the live stage dances to its own")
            music = mine
        songs: list[Any] = []
        for c in music:
            audio, sr = load_audio(c.audio)
            n = int(min(c.frames, seconds * c.fps))
            songs.append(TestSong(c.id, np.asarray(audio, np.float32)[: int(n / c.fps * sr)], int(sr), "dataset",
                                  c.beats[c.beats < n / c.fps] if len(c.beats) else None))
        # against each clip's own data, or (other music) the mean of the style's own clips
        data_speed: list[float] = own if music is mine else [float(np.mean(own))] * len(music)
        if music is not mine:
            say(f"{st}: the live stage dances to {len(music)} clips of the other styles' music")

        last: list[np.ndarray] = []  # the latest dances: _secant_scale's last are at the final scale
        ratio = partial(_live_ratio, dancer, songs, data_speed, st, last)
        old = cal.scale[st]
        got = [ratio(e) for e in LIVE_ENERGIES]
        # the dances are fed user energy (new / old): never past what `live.energy` accepts
        top = min(SCALE_RANGE[1], cal.energy_max, old * USER_ENERGY_MAX)
        new, reached, pts = _secant_scale(ratio, old, got, top=top)
        cal.live_ratios[st] = [round(x, 4) for x in got]
        cal.live_ratio[st] = round(reached, 4)
        say(f"{st}: through the live engine, model/data limb speed " + ", ".join(
            f"{r:.2f} at energy {f:.2f}" for f, r in pts) + f" -> scale {old:.2f} -> {new:.2f}")
        cal.scale[st] = round(new, 4)
        # the spread at the final scale, from the dances that measured the ratio there
        spreads = [motion_spread(p, fps=dancer.fps) for p in last]
        if np.isfinite(spreads).any():
            cal.spread[st] = round(float(np.nanmean(spreads)), 4)
            say(f"{st}: spread of its dances {cal.spread[st]:.3f} m (the novelty guard's floor)")
        for s in songs:
            dancer.forget(s)


def _live_stage(ckpt: dict[str, Any], clips: Sequence[Any], cal: Calibration, cfg: Any, *, per_style: int,
                seconds: float, progress: Any) -> None:
    """Export the checkpoint with the free run's calibration to a temporary folder (ONNX step
    model and the offline numpy weights) and run :func:`calibrate_live` on it."""
    import tempfile

    from export.offline import offline_path, write_offline
    from export.onnx_export import export_checkpoint
    from model.metrics_gen import Dancer
    from model.train import save_checkpoint

    with tempfile.TemporaryDirectory(prefix="dancemuse-calibrate-") as tmp:
        ck = Path(tmp) / "free_run.pt"
        save_checkpoint(ck, {**ckpt, "energy_calibration": cal.to_dict()})
        model = Path(tmp) / "free_run.onnx"
        _, net, meta = export_checkpoint(ck, model)
        write_offline(net, meta, offline_path(model), step_model=model)
        calibrate_live(Dancer(str(model), cfg), clips, cal, per_style=per_style, seconds=seconds, progress=progress)


def calibrate_checkpoint(src: Path, data: Sequence[str | Path], *, out: Path | None = None, seconds: float = 20.0,
                         per_style: int = 8, style_strength: float = 1.0, progress: Any = None,
                         cfg: Any = None, groove_floor: Mapping[str, float] | None = None,
                         style_gain: Mapping[str, float] | None = None, only: Sequence[str] = (),
                         other_music: Mapping[str, float] | None = None) -> Calibration:
    """``dancemuse calibrate``: read the checkpoint ``src`` once, calibrate it on the clips of
    the dataset folders ``data`` (one torch thread, so the figures do not depend on the
    machine), with ``cfg`` (the config) also through the live engine (see the module
    docstring), store the result as ``ckpt["energy_calibration"]`` in ``out`` (default ``src``;
    written atomically) and return it. ``groove_floor``: per style the groove's least dip where it
    is not GROOVE_FLOOR_DIP, and ``style_gain``: per style the factor on the style strength, each
    on top of those of the checkpoint's previous calibration (a style the checkpoint does not
    have, a dip outside 0..1 or a factor outside GAIN_RANGE raises ConfigError; a factor of 1
    removes one); ``other_music``: per style 1 to dance the live stage to the other styles' music
    (0 removes it; kept likewise). ``only``: recalibrate these styles and keep the others' figures from the
    checkpoint's previous calibration, which must have been made the same way (see
    :func:`_keep_others`). Raises ModelError / DatasetError / ConfigError (one line)."""
    import torch

    from model.errors import ConfigError, ModelError
    from model.network import build
    from model.train import load_checkpoint, save_checkpoint
    from model.train_data import load_folders

    torch.set_num_threads(1)
    ckpt = load_checkpoint(src)
    styles = list(ckpt.get("styles") or [])
    if not styles:
        raise ModelError(f"checkpoint {src} lists no styles; it was not written by `dancemuse train`")
    if not isinstance(ckpt.get("feature_cfg"), dict):
        raise ModelError(f"checkpoint {src} has no feature settings (feature_cfg); calibrate a checkpoint "
                         "written by `dancemuse train`")
    before = ckpt.get("energy_calibration")
    # a recalibration keeps the floors and gains it was given before
    floors = _given(before, "groove_floor", groove_floor, styles, "--groove-floor", src)
    gains = _given(before, "style_gain", style_gain, styles, "--style-gain", src)
    others = {k: 1.0 for k, v in _given(before, "other_music", other_music, styles, "--other-music", src).items()
              if v}
    for st, dip in floors.items():
        if not (math.isfinite(dip) and 0.0 <= dip <= 1.0):
            raise ConfigError(f"--groove-floor {st}={dip:g}: the dip must lie in 0..1 (the default floor is "
                              f"{GROOVE_FLOOR_DIP:g})")
    for st, k in gains.items():
        if not (math.isfinite(k) and GAIN_RANGE[0] <= k <= GAIN_RANGE[1]):
            raise ConfigError(f"--style-gain {st}={k:g}: the factor must lie in {GAIN_RANGE[0]:g}..{GAIN_RANGE[1]:g} "
                              "(1 = the style at the user's strength)")
    if only:
        _check_only(before, only, styles, src, seconds=seconds, style_strength=style_strength, data=data,
                    live=cfg is not None)
    net = build(ckpt["config"])
    net.load_state_dict(ckpt["model"])
    net.eval()
    clips = load_folders(list(data), feature_cfg=ckpt["feature_cfg"], styles=styles)
    cal = calibrate(net, clips, styles=styles, seconds=seconds, per_style=per_style,
                    style_strength=style_strength, progress=progress, groove_floor=floors, style_gain=gains,
                    only=only)
    cal.data = [str(d) for d in data]
    cal.other_music = others
    if cfg is not None:
        _live_stage(ckpt, clips, cal, cfg, per_style=per_style, seconds=seconds, progress=progress)
    if only:
        _keep_others(cal, before, only, styles)
    ckpt["energy_calibration"] = cal.to_dict()
    save_checkpoint(out or src, ckpt)
    return cal


_PER_STYLE = {"scale": "scale", "ratios": "ratios", "clips": "clips", "smoothing": "smoothing", "fast": "fast_share",
              "groove": "groove_profile", "tempo": "style_tempo", "free_run_scale": "free_run_scale",
              "live_ratios": "live_ratios", "live_ratio": "live_ratio", "spread": "motion_spread"}
"""Calibration's per-style tables and their keys in the checkpoint."""


def _check_only(before: Any, only: Sequence[str], styles: Sequence[str], src: Path, *, seconds: float,
                style_strength: float, data: Sequence[str | Path], live: bool) -> None:
    """``--only``: the styles must be the checkpoint's, and its previous calibration made the way
    this one is (the style strength, the seconds per clip, the data, with or without the live
    stage), else the styles' figures would not compare. Raises ConfigError (one line)."""
    import os

    from model.errors import ConfigError

    unknown = sorted(set(only) - set(styles))
    if unknown:
        raise ConfigError(f"--only names {', '.join(unknown)}, which {src.name} does not dance; "
                          f"its styles: {', '.join(styles)}")
    fix = "calibrate every style (leave out --only)"
    if not isinstance(before, dict) or not isinstance(before.get("scale"), dict):
        raise ConfigError(f"--only keeps the other styles' calibration, but {src.name} has none; {fix}")
    was = (float(before.get("style_strength", math.nan)), float(before.get("seconds", math.nan)),
           [os.path.normpath(str(d)) for d in before.get("data") or []], bool(before.get("free_run_scale")))
    now = (float(style_strength), float(seconds), [os.path.normpath(str(d)) for d in data], live)
    if was != now:
        raise ConfigError(f"--only: {src.name} was calibrated at style strength {was[0]:g}, {was[1]:g} s per clip, "
                          f"on {' '.join(was[2]) or '?'}, {'with' if was[3] else 'without'} the live stage; this run "
                          f"would be at {now[0]:g}, {now[1]:g} s, on {' '.join(now[2])}, "
                          f"{'with' if now[3] else 'without'} it; calibrate the same way or {fix}")


def _keep_others(cal: Calibration, before: Any, only: Sequence[str], styles: Sequence[str]) -> None:
    """In place: every style not in ``only`` takes its figures from ``before`` (the checkpoint's
    previous calibration, a dict), in the model's style order."""
    for attr, key in _PER_STYLE.items():
        got = before.get(key) if isinstance(before, dict) else None
        old: dict[str, Any] = got if isinstance(got, dict) else {}
        new = getattr(cal, attr)
        setattr(cal, attr, {s: (new[s] if s in only else old[s]) for s in styles
                            if (s in new if s in only else s in old)})


def _given(before: Any, key: str, new: Mapping[str, float] | None, styles: Sequence[str], flag: str,
           src: Path) -> dict[str, float]:
    """A per-style setting of calibrate (``key`` in the checkpoint's previous calibration
    ``before``) updated with the ``new`` one. Raises ConfigError for a style the checkpoint does
    not dance."""
    from model.errors import ConfigError

    prior = before.get(key) if isinstance(before, dict) else None
    out = {str(k): float(v) for k, v in prior.items()} if isinstance(prior, dict) else {}
    out.update({str(k): float(v) for k, v in (new or {}).items()})
    unknown = sorted(set(out) - set(styles))
    if unknown:
        raise ConfigError(f"{flag} names {', '.join(unknown)}, which {src.name} does not dance; "
                          f"its styles: {', '.join(styles)}")
    return out


def scale_of(weights: np.ndarray, scales: np.ndarray) -> float:
    """The energy scale of a style mix: the geometric mean of the styles' scales weighted by
    the (non-negative, normalised) mix weights; 1 for an empty mix."""
    w = np.clip(np.asarray(weights, np.float64), 0.0, None)
    total = float(w.sum())
    if total <= 0 or len(w) != len(scales):
        return 1.0
    return float(math.exp(float(np.dot(w / total, np.log(np.asarray(scales, np.float64))))))


def energy_calibration(meta: Any, styles: Sequence[str]) -> tuple[np.ndarray | None, float]:
    """(per-style scales in ``styles`` order, ceiling) from a model's metadata; (None, inf)
    when the model has no calibration. Scales must be finite and > 0 (else ModelError)."""
    from model.errors import ModelError

    table = meta.get("energy_scale") if hasattr(meta, "get") else None
    if not isinstance(table, dict) or not table:
        return None, math.inf
    try:
        scales = np.array([float(table.get(s, 1.0)) for s in styles], np.float64)
        top = float(meta.get("energy_max", SCALE_RANGE[1]))
    except (TypeError, ValueError):
        raise ModelError("the model's energy_scale metadata is not a table of numbers; re-export it "
                         "with `dancemuse export`") from None
    if not np.all(np.isfinite(scales)) or np.any(scales <= 0) or not top > 0:
        raise ModelError("the model's energy_scale metadata holds a non-positive or non-finite scale; "
                         "re-run `dancemuse calibrate` and export again")
    return scales, top


def energy_ceilings(meta: Any, styles: Sequence[str]) -> np.ndarray | None:
    """Per style (``styles`` order) the highest energy the model is fed, from the metadata's
    ``energy_ceiling`` (measured by `dancemuse calibrate --ceiling`, model/energy_ceiling.py; a
    style not listed keeps ``energy_max``); None when the model has none. Raises ModelError (one
    line) for a ceiling that is not a finite number of at least 0.1."""
    from model.errors import ModelError

    table = meta.get("energy_ceiling") if hasattr(meta, "get") else None
    if not isinstance(table, dict) or not table:
        return None
    try:
        top = float(meta.get("energy_max", SCALE_RANGE[1]))
        f = np.array([float(table.get(s, top)) for s in styles], np.float64)
    except (TypeError, ValueError):
        raise ModelError("the model's energy_ceiling metadata is not a table of numbers; measure it again "
                         "with `dancemuse calibrate --ceiling MODEL.onnx --data DIR...`") from None
    if not np.all(np.isfinite(f)) or np.any(f < 0.1):
        raise ModelError("the model's energy_ceiling metadata holds a ceiling under 0.1 or not finite; measure "
                         "it again with `dancemuse calibrate --ceiling MODEL.onnx --data DIR...`")
    return f


def smoothing_calibration(meta: Any, styles: Sequence[str]) -> np.ndarray | None:
    """Per-style factors on the user's smoothing (``styles`` order) from a model's metadata
    (``smoothing_scale``); None when the model has none (calibrated before it, or never).
    Factors must be numbers in [0, 1] (else ModelError)."""
    from model.errors import ModelError

    table = meta.get("smoothing_scale") if hasattr(meta, "get") else None
    if not isinstance(table, dict) or not table:
        return None
    try:
        f = np.array([float(table.get(s, 1.0)) for s in styles], np.float64)
    except (TypeError, ValueError):
        raise ModelError("the model's smoothing_scale metadata is not a table of numbers; re-export it "
                         "with `dancemuse export`") from None
    if not np.all(np.isfinite(f)) or np.any(f < 0) or np.any(f > 1):
        raise ModelError("the model's smoothing_scale metadata holds a factor outside 0..1; re-run "
                         "`dancemuse calibrate` and export again")
    return f


def groove_profiles(meta: Any, styles: Sequence[str]) -> np.ndarray | None:
    """Per-style groove profiles [shape=(styles, 2 * GROOVE_HARMONICS)] (``styles`` order; the
    cosine for a style not listed) from the model's metadata (``groove_profile``); None when
    the model has none. Raises ModelError (one line) for a table that is not rows of
    2 * GROOVE_HARMONICS finite numbers within +-4."""
    from model.errors import ModelError

    table = meta.get("groove_profile") if hasattr(meta, "get") else None
    if not isinstance(table, dict) or not table:
        return None
    plain = [-GROOVE_DATA] + [0.0] * (2 * GROOVE_HARMONICS - 1)
    try:
        f = np.array([[float(x) for x in table.get(s, plain)] for s in styles], np.float64)
    except (TypeError, ValueError):
        raise ModelError("the model's groove_profile metadata is not a table of number lists; re-export it "
                         "with `dancemuse export`") from None
    if f.shape != (len(styles), 2 * GROOVE_HARMONICS) or not np.all(np.isfinite(f)) or np.any(np.abs(f) > 4):
        raise ModelError(f"the model's groove_profile metadata needs {2 * GROOVE_HARMONICS} finite numbers "
                         "within +-4 per style; re-run `dancemuse calibrate` and export again")
    return f


def style_tempi(meta: Any, styles: Sequence[str]) -> np.ndarray | None:
    """Per-style tempi (BPM, ``styles`` order; NaN for a style not listed) from a model's
    metadata (``style_tempo``); None when the model has none (calibrated before session 32).
    Raises ModelError (one line) for a table that is not numbers within 20..400."""
    return _style_table(meta, styles, "style_tempo", 20.0, 400.0, "tempi", "BPM")


def _mix(weights: np.ndarray, ok: np.ndarray) -> np.ndarray | None:
    """The (non-negative) mix weights of the styles where ``ok``, normalised; None when their
    lengths differ or no such style has weight."""
    w = np.clip(np.asarray(weights, np.float64), 0.0, None)
    if len(w) != len(ok):
        return None
    w = np.where(ok, w, 0.0)
    total = float(w.sum())
    return w / total if total > 0 else None


def tempo_of(weights: np.ndarray, tempi: np.ndarray) -> float:
    """The tempo of a style mix (BPM): the tempi's geometric mean weighted by the (non-negative,
    normalised) mix weights of the styles that have one; 0 when none has."""
    t = np.asarray(tempi, np.float64)
    ok = np.isfinite(t) & (t > 0)
    w = _mix(weights, ok)
    if w is None:
        return 0.0
    return float(math.exp(float(np.dot(w, np.log(np.where(ok, t, 1.0))))))


def motion_spreads(meta: Any, styles: Sequence[str]) -> np.ndarray | None:
    """Per-style spreads (m, ``styles`` order; NaN for a style not listed) from a model's metadata
    (``motion_spread``, the novelty guard's floor); None when the model has none (calibrated before
    session 37). Raises ModelError (one line) for a table that is not numbers within 0..5 m."""
    return _style_table(meta, styles, "motion_spread", 0.0, 5.0, "spreads", "m")


def footwork_table(meta: Any, styles: Sequence[str]) -> np.ndarray | None:
    """Per style how fast its training data moves a standing dancer's feet apart or together (m/s,
    ``styles`` order; NaN for a style not listed; ``model.metrics_dancer.feet_apart_speed``) from a
    model's metadata (``footwork``, `dancemuse calibrate --footwork`); None when the model has none.
    Raises ModelError (one line) for a table that is not numbers within 0..10 m/s."""
    return _style_table(meta, styles, "footwork", 0.0, 10.0, "footwork speeds", "m/s")


STEP_SPREAD_RANGE = (0.01, 0.5)
"""The per-style footwork step spreads a model's metadata may hold (m; ``step_spread``)."""


def step_spreads(meta: Any, styles: Sequence[str]) -> np.ndarray | None:
    """Per style the spread (m) at which the post-processing's footwork steps come (``styles``
    order; NaN for a style not listed; ``step_spread`` from `dancemuse calibrate --steps`,
    model/step_calib.py); None when the model has none. Raises ModelError (one line) for a table
    that is not numbers within ``STEP_SPREAD_RANGE``."""
    return _style_table(meta, styles, "step_spread", STEP_SPREAD_RANGE[0], STEP_SPREAD_RANGE[1], "spreads", "m")


def step_spread_of(weights: np.ndarray, table: np.ndarray) -> float:
    """The footwork step spread of a style mix (m): the table's mean weighted by the (non-negative,
    normalised) mix weights of the styles that have one; NaN when none has."""
    return _listed_mean(weights, table, float("nan"))


def footwork_of(weights: np.ndarray, table: np.ndarray) -> float:
    """The footwork of a style mix (m/s): the table's mean weighted by the (non-negative,
    normalised) mix weights of the styles that have one; NaN when none has."""
    return _listed_mean(weights, table, float("nan"))


def _style_table(meta: Any, styles: Sequence[str], key: str, lo: float, hi: float, what: str, unit: str
                 ) -> np.ndarray | None:
    """A per-style number table from a model's metadata (``styles`` order; NaN for a style not
    listed); None when the model has none. Raises ModelError (one line) for a table that is not
    numbers within lo..hi."""
    from model.errors import ModelError

    table = meta.get(key) if hasattr(meta, "get") else None
    if not isinstance(table, dict) or not table:
        return None
    try:
        f = np.array([float(table.get(s, float("nan"))) for s in styles], np.float64)
    except (TypeError, ValueError):
        raise ModelError(f"the model's {key} metadata is not a table of numbers; re-export it "
                         "with `dancemuse export`") from None
    ok = np.isfinite(f)
    if not ok.any() or np.any(f[ok] < lo) or np.any(f[ok] > hi):
        raise ModelError(f"the model's {key} metadata needs {what} within {lo:g}..{hi:g} {unit}; re-run "
                         "`dancemuse calibrate` and export again")
    return f


def style_gains(meta: Any, styles: Sequence[str]) -> np.ndarray | None:
    """Per-style factors on the user's style strength (``styles`` order; NaN for a style not
    listed, which keeps the user's) from a model's metadata (``style_gain``); None when the model
    has none. Raises ModelError (one line) for a table that is not numbers within GAIN_RANGE."""
    return _style_table(meta, styles, "style_gain", GAIN_RANGE[0], GAIN_RANGE[1], "factors",
                        "(times the style strength)")


def gain_of(weights: np.ndarray, gains: np.ndarray) -> float:
    """The factor on the style strength of a style mix: the factors' mean weighted by the
    (non-negative, normalised) mix weights, a style without one counting 1; 1 for an empty mix."""
    f = np.asarray(gains, np.float64)
    w = _mix(weights, np.ones(len(f), bool))
    return 1.0 if w is None else float(np.dot(w, np.where(np.isfinite(f), f, 1.0)))


def spread_of(weights: np.ndarray, spreads: np.ndarray) -> float:
    """The spread of a style mix (m): the spreads' mean weighted by the (non-negative,
    normalised) mix weights of the styles that have one; 0 when none has."""
    return _listed_mean(weights, spreads, 0.0)


def _listed_mean(weights: np.ndarray, table: np.ndarray, empty: float) -> float:
    """A per-style table's mean weighted by the (non-negative, normalised) mix weights of the styles
    it lists (finite); ``empty`` when no such style has weight."""
    f = np.asarray(table, np.float64)
    ok = np.isfinite(f)
    w = _mix(weights, ok)
    return empty if w is None else float(np.dot(w, np.where(ok, f, 0.0)))


def smoothing_of(weights: np.ndarray, factors: np.ndarray) -> float:
    """The smoothing factor of a style mix: the factors' mean weighted by the (non-negative,
    normalised) mix weights; 1 for an empty mix."""
    w = np.clip(np.asarray(weights, np.float64), 0.0, None)
    total = float(w.sum())
    if total <= 0 or len(w) != len(factors):
        return 1.0
    return float(np.dot(w / total, np.asarray(factors, np.float64)))
