"""Test music for `dancemuse evaluate`: held-out real-instrument songs with exact beats,
real recordings, and the derived test pieces (a passage 30 dB quieter, 10 minutes of music).

``midi:N`` builds N songs with ``model.midi_music.make_song`` (MIDI rendered by fluidsynth
with real instrument samples; beats exact from the MIDI tempo map) at seeds
``EVAL_SEED_BASE + i``, a range no training data uses (posted on the team board), and
caches them under ``data/eval_songs/`` (never committed). Audio files and folders are
real recordings: their beats come from our online beat tracker. A folder holding
``song.ogg`` (Frets on Fire layout, e.g. Debian ``fretsonfire-songs-muldjord``) is one
song, its stems (song, guitar, rhythm) mixed. A dataset folder (manifest.json) gives its
clips' audio with their exact beats.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from model.errors import DatasetError

EVAL_SEED_BASE = 900_000
"""Seeds 900000-900999 are reserved for evaluation songs; training data never uses them."""
SONG_SECONDS = 30.0
CACHE_DIR = Path("data/eval_songs")
AUDIO_EXT = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif")
FOF_DIR = Path("/usr/share/games/fretsonfire/data/songs")
"""Debian fretsonfire-songs-* packages: real recorded songs (used when installed)."""
FOF_STEMS = ("song.ogg", "guitar.ogg", "rhythm.ogg", "drums.ogg")
QUIET_DB = -30.0


@dataclass
class TestSong:
    """One piece of test music: mono float32 ``audio`` at ``sr``; ``beats`` in seconds
    (exact for MIDI songs and dataset clips, None for recordings); ``kind`` is "midi",
    "recording" or "dataset"."""

    name: str
    audio: np.ndarray = field(repr=False)
    sr: int
    kind: str
    beats: np.ndarray | None = None

    @property
    def seconds(self) -> float:
        return len(self.audio) / float(self.sr)


EVAL_GENRES = ("house", "8beat", "funk", "swing", "hiphop", "softrock", "disco", "bossanova",
               "techno", "waltz", "metal", "samba")
"""Genres of the test songs, in order (club, rock/pop, jazz/latin and triple metre mixed)."""


def _genres() -> dict[str, tuple[float, float]]:
    """Genre -> tempo range of the test songs (EVAL_GENRES that midi_music knows)."""
    import model.midi_music as mm

    known = dict(getattr(mm, "GENRES", {}))
    out = {g: tuple(known[g]) for g in EVAL_GENRES if g in known}
    return out or {g: (90.0, 140.0) for g in sorted(known)[:8]}  # type: ignore[misc]


def _with(stem: Path, ext: str) -> Path:
    return stem.with_name(stem.name + ext)  # not with_suffix: names hold dots ("121.1bpm")


def _read_cached(stem: Path) -> TestSong | None:
    wav, meta = _with(stem, ".wav"), _with(stem, ".json")
    if not (wav.is_file() and meta.is_file()):
        return None
    import soundfile as sf

    audio, sr = sf.read(str(wav), dtype="float32", always_2d=False)
    doc = json.loads(meta.read_text(encoding="utf-8"))
    return TestSong(name=stem.name, audio=np.asarray(audio, np.float32), sr=int(sr), kind="midi",
                    beats=np.asarray(doc["beats"], np.float64))


def _write_cached(stem: Path, song: TestSong) -> None:
    import soundfile as sf

    stem.parent.mkdir(parents=True, exist_ok=True)
    tmp = stem.with_name(stem.name + f".tmp{os.getpid()}.wav")
    sf.write(str(tmp), song.audio, song.sr, subtype="FLOAT")
    os.replace(tmp, _with(stem, ".wav"))
    tmpj = stem.with_name(stem.name + f".tmp{os.getpid()}.json")
    tmpj.write_text(json.dumps({"beats": [float(b) for b in np.asarray(song.beats)]}), encoding="utf-8")
    os.replace(tmpj, _with(stem, ".json"))


def _song_fields(obj: object) -> tuple[np.ndarray, int, np.ndarray]:
    """(audio, sr, beats) of whatever make_song returns (attributes or a mapping)."""
    def get(*names: str) -> object:
        for n in names:
            if isinstance(obj, dict) and n in obj:
                return obj[n]
            if hasattr(obj, n):
                return getattr(obj, n)
        raise DatasetError(f"model.midi_music.make_song returned no {'/'.join(names)}; evaluate cannot read it")

    audio = np.asarray(get("audio", "samples"), np.float32)
    if audio.ndim == 2:
        audio = audio.mean(axis=1 if audio.shape[1] <= 2 else 0)
    return audio, int(get("sr", "sample_rate")), np.asarray(get("beats", "beat_times"), np.float64)  # type: ignore[call-overload]


def midi_songs(n: int, *, seconds: float = SONG_SECONDS, cache: str | Path = CACHE_DIR,
               progress: bool = False) -> list[TestSong]:
    """``n`` held-out real-instrument songs (EVAL_GENRES in turn, tempi spread over each genre's range),
    rendered once and cached. Raises DatasetError when fluidsynth or midi_music is missing."""
    if n < 1:
        raise DatasetError(f"midi:{n} asks for no songs; pass midi:N with N >= 1")
    try:
        import model.midi_music as mm
    except ImportError as e:
        raise DatasetError(f"model.midi_music is not available ({e}); pass audio files with --songs instead") from None
    genres = _genres()
    names = list(genres)
    out = []
    for i in range(n):
        seed = EVAL_SEED_BASE + i
        genre = names[i % len(names)]
        lo, hi = genres[genre]
        bpm = round(float(lo + ((0.37 * i + 0.2) % 1.0) * (hi - lo)), 1)
        stem = Path(cache) / f"midi_{seed}_{genre}_{bpm:g}bpm_{seconds:g}s"
        song = _read_cached(stem)
        if song is None:
            if progress:
                print(f"rendering test song {i + 1}/{n}: {genre} {bpm:g} BPM (seed {seed})", flush=True)
            try:
                made = mm.make_song(genre, bpm=bpm, seconds=seconds, seed=seed)
            except TypeError:  # a genre with its own tempo range
                made = mm.make_song(genre, seconds=seconds, seed=seed)
            audio, sr, beats = _song_fields(made)
            song = TestSong(name=stem.name, audio=audio, sr=sr, kind="midi", beats=beats)
            _write_cached(stem, song)
        out.append(song)
    return out


def _load(path: Path) -> tuple[np.ndarray, int]:
    from model.features import load_audio

    audio, sr = load_audio(path)
    return np.asarray(audio, np.float32), int(sr)


def _mix_stems(folder: Path) -> TestSong:
    parts = [_load(folder / s) for s in FOF_STEMS if (folder / s).is_file()]
    sr = parts[0][1]
    n = max(len(a) for a, r in parts if r == sr)
    mix = np.zeros(n, np.float32)
    for a, r in parts:
        if r == sr:
            mix[: len(a)] += a
    peak = float(np.abs(mix).max()) or 1.0
    return TestSong(name=folder.name, audio=mix * min(1.0, 0.9 / peak), sr=sr, kind="recording")


def recordings(root: str | Path = FOF_DIR) -> list[TestSong]:
    """Real recordings under ``root`` (song folders with stems, or audio files); [] when absent."""
    root = Path(root)
    if not root.is_dir():
        return []
    return find_songs([root])


def find_songs(items: Sequence[str | Path], *, seconds: float = SONG_SECONDS,
               cache: str | Path = CACHE_DIR, progress: bool = False) -> list[TestSong]:
    """Test songs from ``midi:N``, audio files, folders (searched recursively for song
    folders and audio files) and dataset folders. Raises DatasetError."""
    out: list[TestSong] = []
    for it in items:
        s = str(it)
        if s.startswith("midi:"):
            try:
                n = int(s[5:])
            except ValueError:
                raise DatasetError(f"--songs {s}: write midi:N with a whole number N, e.g. midi:8") from None
            out += midi_songs(n, seconds=seconds, cache=cache, progress=progress)
            continue
        p = Path(s)
        if p.is_dir() and (p / "manifest.json").is_file():
            from model.dataset import clip_records, load_poses

            for r in clip_records(p):
                arr = load_poses(r.poses)
                audio, sr = _load(Path(r.audio))
                beats = np.asarray(arr["beats"], np.float64) if "beats" in arr else None
                out.append(TestSong(name=r.id, audio=audio, sr=sr, kind="dataset", beats=beats))
        elif p.is_dir():
            if (p / "song.ogg").is_file():
                out.append(_mix_stems(p))
                continue
            found = False
            for q in sorted(p.iterdir()):
                if q.is_dir() or q.suffix.lower() in AUDIO_EXT:
                    sub = find_songs([q]) if q.is_dir() else [TestSong(q.stem, *_load(q), kind="recording")]
                    out += sub
                    found = found or bool(sub)
            if not found:
                raise DatasetError(f"--songs {p}: no audio files or song folders in it; pass audio files")
        elif p.is_file() and p.suffix.lower() in AUDIO_EXT:
            out.append(TestSong(p.stem, *_load(p), kind="recording"))
        elif p.is_file():
            raise DatasetError(f"--songs {p}: not an audio file ({', '.join(AUDIO_EXT)}); pass audio or midi:N")
        else:
            raise DatasetError(f"--songs {p} does not exist; pass audio files, folders or midi:N")
    return out


def with_quiet_section(song: TestSong, section: tuple[float, float], *, db: float = QUIET_DB) -> TestSong:
    """A copy of ``song`` whose ``section`` (t0, t1) s is ``db`` quieter (50 ms ramps)."""
    a = song.audio.copy()
    i0, i1 = (int(round(t * song.sr)) for t in section)
    i1 = min(i1, len(a))
    gain = np.ones(len(a), np.float32)
    gain[i0:i1] = 10.0 ** (db / 20.0)
    ramp = max(1, int(0.05 * song.sr))
    for edge, sign in ((i0, 1), (i1, -1)):
        lo, hi = max(0, edge - ramp // 2), min(len(a), edge + ramp // 2)
        if hi > lo:
            x = np.linspace(0.0, 1.0, hi - lo, dtype=np.float32)
            q = np.float32(10.0 ** (db / 20.0))
            gain[lo:hi] = 1.0 + (q - 1.0) * (x if sign > 0 else 1.0 - x)
    return TestSong(name=f"{song.name}+quiet", audio=a * gain, sr=song.sr, kind=song.kind, beats=song.beats)


def long_music(songs: Sequence[TestSong], *, minutes: float) -> TestSong:
    """``minutes`` of music: the songs one after another (cycled if too short), resampled
    to the first one's rate; beats concatenated when every song has them."""
    if not songs:
        raise DatasetError("no songs to build the long test piece from")
    sr = songs[0].sr
    need = int(minutes * 60.0 * sr)
    parts, beats, t, i = [], [], 0.0, 0
    total = 0
    while total < need:
        s = songs[i % len(songs)]
        a = s.audio
        if s.sr != sr:
            import librosa

            a = librosa.resample(a, orig_sr=s.sr, target_sr=sr).astype(np.float32)
        a = a[: need - total]
        parts.append(a)
        if s.beats is not None:
            b = np.asarray(s.beats)
            beats.append(b[b < len(a) / sr] + t)
        total += len(a)
        t = total / sr
        i += 1
    has_beats = all(s.beats is not None for s in songs)
    return TestSong(name=f"{minutes:g}min", audio=np.concatenate(parts), sr=sr,
                    kind=songs[0].kind, beats=np.concatenate(beats) if has_beats and beats else None)
