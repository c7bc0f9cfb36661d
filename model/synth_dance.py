"""The synthetic choreographer: a dancer for every training song.

No dance data can be downloaded here, so the shipped model trains on data made by this
package. Six styles (model/synth_styles.py), each with 10-11 moves (model/synth_vocab_a.py,
model/synth_vocab_b.py) and paired with fitting music.

How a dance is made (``render_dance``):

1. The song's beat grid gives every pose frame a fractional beat position; its
   downbeats give the bars, its per-beat energy (and sections, when it has them) the
   dynamics.
2. Phrase planning (model/synth_plan.py): 4- or 8-bar phrases of 8-count units in
   A A' B A'' form, calm moves in breaks, big moves (jumps, turns, kicks) in drops,
   fills before louder phrases, travel back toward the centre, a facing per phrase.
3. Key tracks (model/synth_track.py): the stance centre travels (never more than 1 m
   from the centre of the stage) and turns; feet are placed or held, and a held foot
   keeps its exact world position; keys are eased so the motion is slowest on them.
4. Accents per frame: a knee bounce and head nod on the beat (house, hip-hop, locking),
   the house torso jack, the popping hit (a fast tense-and-release on every beat).
5. Poses by IK with exact bone lengths (model/synth_body.py); the root is lowered
   until every foot on the floor is reached, so planted ankles do not move.

Usage::

    song = render_song(feel="waltz", bpm=96, seconds=60, seed=3)
    dance = render_dance(song, style="ballet", fps=30, seed=3)
    dance.poses  # float32 [shape=(t, 17, 3)], frame k at time k / fps
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from model.errors import ConfigError
from model.synth_body import build_poses, two_bone_ik
from model.synth_moves import UP
from model.synth_plan import amplitude, plan_dance
from model.synth_styles import STYLES, VOCABULARY, StyleSpec
from model.synth_track import body, lower_frames, solve_lower, upper_frames

__all__ = ["STYLES", "VOCABULARY", "Dance", "StyleSpec", "beat_position", "render_dance", "synthesize_dataset",
           "two_bone_ik"]


@dataclass
class Dance:
    """A rendered dance: poses [shape=(t, 17, 3)] float32 at ``fps``, frame k at k / fps,
    the phrase log (start time s, move name, mirrored) and, per frame, which ankles are
    planted (held on the floor) [shape=(t, 2)] bool."""

    poses: np.ndarray
    fps: int
    style: str
    phrases: list[tuple[float, str, bool]] = field(default_factory=list)
    planted: np.ndarray | None = None


def beat_position(t: np.ndarray, beats: np.ndarray) -> np.ndarray:
    """Fractional beat index at times ``t`` (s) on a beat grid (extrapolated at both ends)."""
    b = np.asarray(beats, dtype=np.float64)
    if len(b) < 2:
        raise ConfigError("a song needs at least two beats to dance to")
    d0, d1 = b[1] - b[0], b[-1] - b[-2]
    ext = np.concatenate([[b[0] - 64 * d0], b, [b[-1] + 4096 * d1]])
    idx = np.concatenate([[-64.0], np.arange(len(b), dtype=np.float64), [len(b) - 1 + 4096.0]])
    return np.interp(t, ext, idx)


def _pop(b: np.ndarray) -> np.ndarray:
    """The popping hit per frame, 0..1: the move stops on the beat, then the muscles
    tense fast (in a twelfth of a beat, from a sixth of a beat after it) and release
    (over a fifth), so the stillest moment stays on the beat."""
    d = b - np.floor(b)
    up = np.clip((d - 0.16) / 0.08, 0.0, 1.0)
    down = 1.0 - np.clip((d - 0.26) / 0.2, 0.0, 1.0)
    s = np.where(d < 0.24, up, down)
    return s * s * (3.0 - 2.0 * s)


def _song_fields(song: object) -> tuple[np.ndarray, np.ndarray, int, np.ndarray, float, np.ndarray | None]:
    try:
        beats = np.asarray(song.beats, dtype=np.float64)  # type: ignore[attr-defined]
        if hasattr(song, "seconds"):
            seconds = float(song.seconds)  # type: ignore[attr-defined]
        else:
            seconds = len(song.audio) / float(getattr(song, "sample_rate", None) or song.sr)  # type: ignore[attr-defined]
    except AttributeError as e:
        raise ConfigError(f"render_dance needs a song with beats and seconds ({e})") from None
    downbeats = np.asarray(getattr(song, "downbeats", beats[:1]), dtype=np.float64)
    bpb = int(getattr(song, "beats_per_bar", 4) or 4)
    energy = np.asarray(getattr(song, "energy", np.full(len(beats), 0.8)), dtype=np.float64)
    sections = getattr(song, "section_of_beat", None)
    if sections is None or len(sections) != len(beats):
        sections = getattr(song, "sections", None)
        if sections is None or len(sections) != len(beats):
            sections = None
    return beats, downbeats, bpb, energy, seconds, None if sections is None else np.asarray(sections)


def render_dance(song: object, *, style: str, fps: int, seed: int, variety: float = 0.0,
                 stance: bool = False, calm: float = 0.0, wider: int = 0) -> Dance:
    """Choreograph ``song`` (a model.synth_music.Song, a model.midi_music song, or
    anything with ``beats``, ``seconds`` and optionally ``downbeats``, ``beats_per_bar``,
    ``energy`` per beat 0..1 and ``sections`` per beat) in ``style`` at ``fps``. ``variety``,
    ``stance``, ``calm`` and ``wider``: the choreographer's (model/synth_plan.py)."""
    if style not in STYLES:
        raise ConfigError(f"unknown dance style {style!r}; use one of {', '.join(STYLES)}")
    spec = STYLES[style]
    beats, downbeats, bpb, energy, seconds, sections = _song_fields(song)
    accent_beats = beats
    half = False
    if len(beats) > 8 and bpb % 2 == 0 and np.median(np.diff(beats)) < 60.0 / (1.3 * spec.bpm[1]):
        # Far too fast for the style (trap's felt beat at 140): dance in half time.
        first = int(np.clip(np.searchsorted(beats, downbeats[0] - 1e-3), 0, 1)) if len(downbeats) else 0
        beats, bpb, half = beats[first::2], bpb // 2, True
        energy = energy[first::2] if len(energy) else energy
        sections = sections[first::2] if sections is not None and len(sections) else sections
    rng = np.random.default_rng(seed)
    n = int(np.floor(seconds * fps))
    if n == 0:
        return Dance(np.zeros((0, 17, 3), np.float32), fps, style, [], np.zeros((0, 2), bool))
    b = beat_position(np.arange(n) / fps, beats)
    d0 = int(np.clip(np.searchsorted(beats, downbeats[0] - 1e-3), 0, len(beats) - 1)) if len(downbeats) else 0
    n_beats = int(np.ceil(b[-1])) + 1
    plan = plan_dance(n_beats=n_beats, first_downbeat=d0, bpb=bpb, energy=energy, sections=sections,
                      style=style, rng=rng, variety=variety, stance=stance, calm=calm, wider=wider)
    if half:
        plan.le = [i + 4 for i in plan.le]
        plan.ue = [i + 4 for i in plan.ue]
    lk = solve_lower(np.asarray(plan.lt), np.stack(plan.lk), np.asarray(plan.le))
    amp = amplitude(np.interp(b, np.arange(len(energy)), energy)) if len(energy) else np.ones(n)
    ba = b if accent_beats is beats else beat_position(np.arange(n) / fps, accent_beats)
    pulse = 0.5 + 0.5 * np.cos(2.0 * np.pi * (ba - np.floor(ba)))
    extra_dy = -spec.bounce * amp * pulse
    up = upper_frames(np.asarray(plan.ut), np.stack(plan.uk), np.asarray(plan.ue), b)
    up[:, UP.HPITCH] += spec.nod * amp * pulse
    up[:, UP.PITCH] += spec.jack * amp * pulse
    if spec.pop:
        hit = _pop(ba) * amp
        up[:, UP.PITCH] -= spec.pop * hit
        up[:, UP.HPITCH] -= 0.5 * spec.pop * hit
        up[:, [UP.LELB, UP.RELB]] += 0.25 * hit[:, None]
        up[:, UP.LH.start + 1] += 0.05 * hit
        up[:, UP.RH.start + 1] += 0.05 * hit
        extra_dy -= 0.04 * hit
    low = lower_frames(lk, b, amp, extra_dy=extra_dy)
    if spec.pop:  # the knees pop too
        low["knees"] = low["knees"] + 0.5 * _pop(ba) * amp
    up[:, UP.PITCH] += 0.5 * low["depth"]  # lean into a knee bend to keep the balance
    poses = build_poses(body(low, up))
    log = [(float(np.interp(s, np.arange(len(beats)), beats)), name, mir) for s, name, mir in plan.log]
    return Dance(poses=poses, fps=fps, style=style, phrases=log, planted=low["planted"])


from model.synth_dataset import synthesize_dataset  # noqa: E402  (re-exported)
