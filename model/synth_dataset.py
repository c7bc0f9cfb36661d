"""``synthesize_dataset``: songs and their synthetic dances into a data set folder.

Music (``music=``):

* ``"midi"``: real-instrument songs from model/midi_music.py (fluidsynth + General MIDI
  soundfont), each style paired with fitting genres (STYLE_GENRES), a share of the clips
  passed through model/audio_augment.py (EQ, reverb, compression, noise, gain, small
  tempo and pitch shifts; the beats move with the tempo shift).
* ``"synth"``: the small numpy synthesiser of model/synth_music.py (fast, no fluidsynth).

Style against music (``styles_per_song=``): with 1 (the default) every song is danced in
the style its genre was picked for, so style and genre always come together and a model
may learn the dance from the music alone and ignore its style input. With K > 1 every song
is also danced in K - 1 other styles (distinct, chosen at random; extra clips
``<style>_s<seed>_<n>x<j>`` with ``"music_for"`` naming the song's own style): the same
music, different dances, so only the style input tells them apart ("what would a ballet
look like to this song?"). The extra clips add (K - 1) x ``minutes`` of dance.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from model.constants import SAMPLE_RATE
from model.errors import ConfigError
from model.synth_styles import STYLES

STYLE_GENRES: dict[str, tuple[str, ...]] = {s: spec.genres for s, spec in STYLES.items()}
"""model.midi_music genres danced by each style (a clip picks one at random)."""
MUSIC = ("midi", "synth")
AUGMENT_SHARE = 0.4
"""Share of MIDI clips whose audio is augmented."""


@dataclass
class _Track:
    """A song as the choreographer sees it."""

    audio: np.ndarray
    sample_rate: int
    beats: np.ndarray
    downbeats: np.ndarray
    beats_per_bar: int
    energy: np.ndarray
    section_of_beat: list[str] | None
    info: dict[str, Any]

    @property
    def seconds(self) -> float:
        return len(self.audio) / self.sample_rate


def _synth_track(style: str, seconds: float, crng: np.random.Generator, sample_rate: int) -> _Track:
    from model.synth_music import render_song

    spec = STYLES[style]
    bpm = round(float(crng.uniform(*spec.bpm)), 1)
    change = brk = None
    if seconds > 30 and crng.random() < 0.15:
        new = float(np.clip(bpm + crng.choice([-1, 1]) * crng.uniform(4, 10), *spec.bpm))
        change = (round(float(crng.uniform(0.4, 0.7) * seconds), 2), round(new, 1))
    if seconds > 30 and crng.random() < 0.25:
        brk = (round(float(crng.uniform(0.3, 0.6) * seconds), 2), round(float(crng.uniform(4.0, 8.0)), 2))
    song_seed = int(crng.integers(2**31 - 1))
    song = render_song(feel=spec.feel, bpm=bpm, seconds=seconds, seed=song_seed, sample_rate=sample_rate,
                       tempo_change=change, break_at=brk)
    return _Track(song.audio, song.sample_rate, song.beats, song.downbeats, song.beats_per_bar, song.energy, None,
                  {"music": "synth", "feel": spec.feel, "bpm": bpm, "song_seed": song_seed, "tempo_change": change,
                   "break_at": brk})


def _midi_track(style: str, seconds: float, crng: np.random.Generator, sample_rate: int, augment_share: float) -> _Track:
    from model.midi_music import GENRES, make_song

    genre = str(crng.choice(STYLE_GENRES[style]))
    lo, hi = GENRES[genre]
    bpm = round(float(crng.uniform(lo, hi)), 1)
    song_seed = int(crng.integers(2**30))  # evaluation songs use 900000-900999; stay clear of them
    if 900000 <= song_seed <= 900999:
        song_seed += 1000
    song = make_song(genre, bpm=bpm, seconds=seconds, seed=song_seed, sr=sample_rate)
    audio, beats, downbeats = song.audio, song.beats, song.downbeats
    info: dict[str, Any] = {"music": "midi", "genre": genre, "meter": song.meter_name, "bpm": bpm,
                            "song_seed": song_seed, "augment": None}
    if crng.random() < augment_share:
        from model.audio_augment import augment

        aug = augment(audio, sr=sample_rate, beats=beats, downbeats=downbeats, seed=int(crng.integers(2**31 - 1)),
                      strength=float(crng.uniform(0.3, 1.0)), pitch=bool(crng.random() < 0.5))
        audio, beats, downbeats = aug.audio, aug.beats, aug.downbeats
        info["augment"] = aug.ops
    n = min(len(beats), len(song.energy))
    return _Track(audio, sample_rate, beats[:n], downbeats, song.meter, np.asarray(song.energy[:n]),
                  list(song.section_of_beat[:n]), info)


def synthesize_dataset(
    out: str | Path,
    *,
    minutes: float,
    styles: Sequence[str] = tuple(STYLES),
    seed: int = 0,
    fps: int = 30,
    sample_rate: int = SAMPLE_RATE,
    clip_seconds: tuple[float, float] = (40.0, 80.0),
    music: str = "synth",
    augment_share: float = AUGMENT_SHARE,
    styles_per_song: int = 1,
    variety: float = 0.0,
    stance: bool = False,
    calm: float = 0.0,
    wider: int = 0,
    progress: Callable[[int, int, float], None] | None = None,
) -> list[dict[str, Any]]:
    """Render ``minutes`` of songs and dances, split evenly over ``styles``, into the
    dataset folder ``out`` (model/dataset.py format; appends when it exists).

    Each clip: a song fitting the style (``music``: "midi" or "synth", see the module
    docstring), 40-80 s, its dance and the ground-truth beats. Clip ids are
    ``<style>_s<seed>_<n>``. ``progress(done_s, total_s, elapsed_s)`` is called after
    every clip. ``styles_per_song``: see the module docstring. ``variety``: the choreographer's
    chance per 8-count unit of varying its second half (model/synth_plan.py; 0 = every unit
    one move cycle repeated, as data sets made before it). ``stance``: smaller moves keep the
    style's level and arms (model/synth_plan.py; False: they straighten up toward the neutral
    pose, as data sets made before it). ``calm``: the weight of the half-time versions of the
    style's normal moves in calm passages (model/synth_plan.py; 0 = calm moves only, as data
    sets made before it). ``wider``: how many variants of each normal and big move of a style
    join its vocabulary (model/synth_wider.py; 0 = none, as data sets made before it). Returns
    the new manifest entries.
    """
    from model.dataset import DatasetWriter
    from model.synth_dance import render_dance

    for s in styles:
        if s not in STYLES:
            raise ConfigError(f"unknown dance style {s!r}; use some of {', '.join(STYLES)}")
    if minutes <= 0:
        raise ConfigError(f"--minutes must be positive, got {minutes:g}")
    if not 1 <= int(styles_per_song) <= len(STYLES):
        raise ConfigError(f"--styles-per-song {styles_per_song} must be between 1 and {len(STYLES)} (the number of styles)")
    if not 0.0 <= float(variety) <= 1.0:
        raise ConfigError(f"--variety {variety:g} must be between 0 and 1")
    if not 0.0 <= float(calm) <= 4.0:
        raise ConfigError(f"--calm {calm:g} must be between 0 and 4 (1: a half-time move as likely as a calm move)")
    if not 0 <= int(wider) <= 8:
        raise ConfigError(f"--wider {wider} must be between 0 and 8 (variants of each move)")
    if music not in MUSIC:
        raise ConfigError(f"--music {music!r}: use one of {', '.join(MUSIC)}")
    if music == "midi":
        from model.midi_render import find_soundfont, have_fluidsynth

        if not have_fluidsynth():
            raise ConfigError("--music midi needs the fluidsynth program; install Debian fluidsynth "
                              "and fluid-soundfont-gm, or use --music synth")
        find_soundfont(None)
    total = minutes * 60.0
    per_style = total / len(styles)
    plan: list[tuple[str, float]] = []
    rng = np.random.default_rng(seed)
    for s in styles:
        left = per_style
        while left > 1e-6:
            length = float(rng.uniform(*clip_seconds))
            if left - length < clip_seconds[0] * 0.5:
                length = left if left < clip_seconds[1] * 1.5 else length
            length = min(length, left)
            plan.append((s, length))
            left -= length
    order = rng.permutation(len(plan))
    vary: dict[str, Any] = {"variety": float(variety)} if variety > 0 else {}
    if stance:
        vary["stance"] = True
    if calm > 0:
        vary["calm"] = float(calm)
    if wider > 0:
        vary["wider"] = int(wider)
    entries: list[dict[str, Any]] = []
    done = 0.0
    t0 = time.perf_counter()
    with DatasetWriter(out) as w:
        for n, k in enumerate(order):
            style, seconds = plan[int(k)]
            crng = np.random.default_rng([seed, n])
            if music == "midi":
                track = _midi_track(style, seconds, crng, sample_rate, augment_share)
            else:
                track = _synth_track(style, seconds, crng, sample_rate)
            dance = render_dance(track, style=style, fps=fps, seed=int(crng.integers(2**31 - 1)), variety=variety,
                                 stance=stance, calm=calm, wider=wider)
            entry = w.add_clip(
                id=f"{style}_s{seed}_{n:04d}", poses=dance.poses, fps=fps, style=style,
                source="synthetic:model.synth_dance", licence="CC0: generated by DanceMuse",
                audio=track.audio, sample_rate=track.sample_rate, beats=track.beats, downbeats=track.downbeats,
                extra={**track.info, **vary, "moves": [m for _, m, _ in dance.phrases]},
            )
            entries.append(entry)
            if styles_per_song > 1:  # the same song in other styles: its own generator, so K = 1 is unchanged
                xrng = np.random.default_rng([seed, n, 1])
                others = [o for o in STYLES if o != style]
                for j, other in enumerate(xrng.choice(others, size=styles_per_song - 1, replace=False)):
                    other = str(other)
                    dance = render_dance(track, style=other, fps=fps, seed=int(xrng.integers(2**31 - 1)),
                                         variety=variety, stance=stance, calm=calm, wider=wider)
                    entries.append(w.add_clip(
                        id=f"{other}_s{seed}_{n:04d}x{j + 1}", poses=dance.poses, fps=fps, style=other,
                        source="synthetic:model.synth_dance", licence="CC0: generated by DanceMuse",
                        audio=track.audio, sample_rate=track.sample_rate, beats=track.beats,
                        downbeats=track.downbeats,
                        extra={**track.info, **vary, "music_for": style, "moves": [m for _, m, _ in dance.phrases]},
                    ))
            done += seconds
            if progress is not None:
                progress(int(done), int(total), time.perf_counter() - t0)
    return entries
