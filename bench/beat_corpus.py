"""Build the exact-truth real-instrument beat corpus (never committed: it lands in data/).

MIDI songs from ``model.midi_music.make_song`` (club grooves written here, mma's library for
rock, jazz, latin, waltzes, 6/8), rendered by fluidsynth with the FluidR3 GM soundfont at
24 kHz, beats and downbeats from the exact tempo-map grid.

    data/beat_corpus/test/NNN_GENRE_BPM.wav + .json   ~62 one-minute songs, fixed list
    data/beat_corpus/train/NNNNN_GENRE_BPM[_aK].wav + .json   disjoint seeds; K = augmented
    data/beat_corpus/README.txt                          the layout and JSON fields

Idempotent: a track whose .json exists is skipped, so a run can be stopped and resumed and
``--train-minutes`` can grow the train set later without changing what is there.

Run: ``nice -n 10 python bench/beat_corpus.py [--quick] [--test-only] [--train-minutes 150]``
(or ``dancemuse bench beat_corpus``). Needs Debian fluidsynth, fluid-soundfont-gm and mma.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402

from model.midi_music import GENRE_GROUPS, GENRES, TempoMap, make_song  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "data" / "beat_corpus"
SR = 24_000
TEST_SEED0 = 100_000  # test seeds are 100000+; train seeds below

# (genre, bpm, tempo map or None): club styles first.
_TEST: list[tuple[str, float, TempoMap | None]] = [
    ("house", 118, None), ("house", 124, None), ("house", 128, None),
    ("techno", 126, None), ("techno", 132, None), ("techno", 138, None),
    ("trance", 134, None), ("trance", 140, None),
    ("dnb", 166, None), ("dnb", 172, None), ("dnb", 176, None),
    ("hiphop", 84, None), ("hiphop", 90, None), ("hiphop", 96, None),
    ("trap", 136, None), ("trap", 145, None),
    ("funk", 100, None), ("funk", 112, None),
    ("disco", 114, None), ("disco", 122, None),
    ("dancepop", 104, None), ("dancepop", 120, None),
    ("reggaeton", 92, None), ("reggaeton", 98, None), ("ukgarage", 132, None),
    ("boneym", 126, None), ("bvfunk", 104, None),
    ("metal", 150, None), ("metal", 180, None), ("8beat", 120, None), ("50srock", 160, None),
    ("softrock", 96, None), ("popballad", 72, None), ("rb", 90, None), ("ska", 156, None),
    ("blues", 100, None), ("folkrock", 124, None), ("countryswing", 170, None), ("march", 116, None),
    ("swing", 150, None), ("bigband", 180, None), ("bossanova", 132, None), ("salsa", 180, None),
    ("mambo", 190, None), ("chacha", 120, None), ("samba", 100, None), ("merengue", 140, None),
    ("tango", 122, None),
    ("waltz", 90, None), ("jazzwaltz", 140, None), ("countrywaltz", 110, None),
    ("vienesewaltz", 174, None), ("68march", 112, None), ("68swing", 72, None),
    ("ballad68", 70, None), ("arpeggio68", 66, None),
    ("techno", 100, TempoMap.step(100, 140, 30)), ("house", 128, TempoMap.step(128, 100, 30)),
    ("funk", 96, TempoMap.step(96, 120, 30)), ("disco", 110, TempoMap.ramp_between(110, 135, 20, 40)),
    ("8beat", 150, TempoMap.ramp_between(150, 118, 20, 40)),
    ("dancepop", 120, TempoMap.step(120, 150, 30)),
]


def _name(idx: int, genre: str, bpm: float, suffix: str = "", width: int = 3) -> str:
    return f"{idx:0{width}d}_{genre}_{int(round(bpm))}{suffix}"


def _write(folder: Path, name: str, audio: np.ndarray, meta: dict[str, Any]) -> None:
    """wav then json, each atomically (temp + rename); the json marks the track done."""
    folder.mkdir(parents=True, exist_ok=True)
    wav, js = folder / f"{name}.wav", folder / f"{name}.json"
    tmp = folder / f".{name}.tmp.wav"
    sf.write(str(tmp), audio, SR, subtype="PCM_16")
    os.replace(tmp, wav)
    tmpj = folder / f".{name}.tmp.json"
    tmpj.write_text(json.dumps(meta, separators=(",", ":")))
    os.replace(tmpj, js)


def _meta(song: Any, source_name: str, **extra: Any) -> dict[str, Any]:
    meta = song.truth()
    meta.update({"file": source_name + ".wav", "source": "midi/fluidsynth FluidR3_GM"}, **extra)
    return meta


def build_test(out: Path, *, quick: bool, seconds: float) -> tuple[int, float]:
    items = _TEST[::8] if quick else _TEST
    made, audio_s = 0, 0.0
    for i, (genre, bpm, tmap) in enumerate(items):
        name = _name(i, genre, bpm, "_" + tmap.describe()["kind"] if tmap else "")
        if (out / "test" / f"{name}.json").exists():
            continue
        t0 = time.perf_counter()
        song = make_song(genre, bpm=bpm, seconds=seconds, seed=TEST_SEED0 + i, tempo_map=tmap,
                         sr=SR)
        _write(out / "test", name, song.audio, _meta(song, name, split="test"))
        made += 1
        audio_s += seconds
        print(f"test {i + 1}/{len(items)} {name}: {time.perf_counter() - t0:.1f} s", flush=True)
    return made, audio_s


def train_spec(i: int) -> dict[str, Any]:
    """Deterministic spec of train song i (same i, same song, whatever the run)."""
    rng = np.random.default_rng([7, i])
    club = GENRE_GROUPS["club"]
    others = [g for g in GENRES if g not in club]
    genre = str(rng.choice(club) if rng.random() < 0.5 else rng.choice(others))
    lo, hi = GENRES[genre]
    bpm = float(rng.uniform(lo * 0.95, hi * 1.05))
    seconds = float(rng.choice([45.0, 60.0, 90.0]))
    r = rng.random()
    tmap: TempoMap | None = None
    if r < 0.12:
        bpm1 = float(np.clip(bpm * rng.uniform(0.7, 1.4), 60, 200))
        tmap = TempoMap.step(bpm, bpm1, float(rng.uniform(12, seconds - 12)))
    elif r < 0.22:
        bpm1 = float(np.clip(bpm * rng.uniform(0.8, 1.25), 60, 200))
        t0 = float(rng.uniform(5, seconds / 2))
        tmap = TempoMap.ramp_between(bpm, bpm1, t0, t0 + float(rng.uniform(5, 20)))
    return {"genre": genre, "bpm": bpm, "seconds": seconds, "tempo_map": tmap,
            "breaks": bool(rng.random() < 0.8), "n_aug": int(rng.integers(1, 3)), "seed": i}


def build_train(out: Path, *, minutes: float, quick: bool) -> tuple[int, float]:
    from model.audio_augment import augment

    folder = out / "train"
    total_s, made, i = 0.0, 0, 0
    target = minutes * 60.0
    while total_s < target:
        spec = train_spec(i)
        base = _name(i, spec["genre"], spec["bpm"], width=5)
        names = [base] + [f"{base}_a{k + 1}" for k in range(spec["n_aug"])]
        done = [(folder / f"{n}.json").exists() for n in names]
        dur = spec["seconds"]
        if all(done):
            total_s += dur * len(names)
            i += 1
            continue
        t0 = time.perf_counter()
        song = make_song(spec["genre"], bpm=spec["bpm"], seconds=dur, seed=spec["seed"],
                         tempo_map=spec["tempo_map"], sr=SR, breaks=spec["breaks"])
        if not done[0]:
            _write(folder, base, song.audio, _meta(song, base, split="train", augment=[]))
            made += 1
        for k, n in enumerate(names[1:], start=1):
            if done[k]:
                continue
            aug = augment(song.audio, sr=SR, beats=song.beats, downbeats=song.downbeats,
                          seed=1000 * i + k, pitch=not quick)
            meta = _meta(song, n, split="train", augment=aug.ops)
            meta["beats"] = [round(float(b), 6) for b in aug.beats]
            meta["downbeats"] = [round(float(b), 6) for b in aug.downbeats]
            meta["seconds"] = round(len(aug.audio) / SR, 4)
            if aug.tempo_factor != 1.0:
                meta["bpm"] = song.bpm * aug.tempo_factor
                meta["sections"] = [[round(a / aug.tempo_factor, 4), round(b / aug.tempo_factor, 4),
                                     lab] for a, b, lab in song.sections]
                meta["tempo_map"] = dict(meta["tempo_map"], scaled_by=aug.tempo_factor)
            _write(folder, n, aug.audio, meta)
            made += 1
        total_s += dur * len(names)
        print(f"train {i} {base} (+{len(names) - 1} aug): {time.perf_counter() - t0:.1f} s, "
              f"{total_s / 60:.1f}/{minutes:g} min", flush=True)
        i += 1
    return made, total_s


TUNE_SEED0 = 70_000  # tune seeds: below the test seeds, far from train (0+) and the net's extra songs (1000+)
VAL_SEED0 = 90_000  # held-out validation seeds (90000+, 91000+): no train, tune or test song has them
TUNE_GENRES = ("house", "techno", "funk", "disco", "dancepop", "trance", "hiphop", "ukgarage")


def tune_spec(i: int) -> tuple[str, float, float, float, float] | None:
    """(genre, bpm before, bpm after, step time s, song s) of tune song i: a club groove whose
    tempo steps inside a break (drums out), like the hardest test cases; None when no
    step bar of the seeded arrangement falls in a break."""
    from model.midi_music import beats_per_bar, make_score

    rng = np.random.default_rng([13, i])
    genre = TUNE_GENRES[i % len(TUNE_GENRES)]
    lo, hi = GENRES[genre]
    bpm0 = float(rng.uniform(lo * 0.95, hi * 1.05))
    bpm1 = float(np.clip(bpm0 * rng.choice([rng.uniform(0.72, 0.9), rng.uniform(1.12, 1.35)]), 62, 190))
    seconds = 60.0
    bpb = beats_per_bar(genre)
    for k in rng.permutation(np.arange(6, int(seconds * bpm0 / 60 / bpb) - 4)):
        t_step = float(k * bpb * 60.0 / bpm0)
        if not 15.0 <= t_step <= seconds - 20.0:
            continue
        grid = TempoMap.step(bpm0, bpm1, t_step).beat_times(seconds + 2.0)
        n_bars = int(np.ceil((len(grid) - 1) / bpb))
        sc = make_score(genre, n_bars, TUNE_SEED0 + i, breaks=True)
        for b0, b1, lab in sc.sections:
            if lab == "break" and b0 < k <= b1 - 2:
                return genre, bpm0, bpm1, t_step, seconds
    return None


def val_spec(k: int) -> tuple[str, float, TempoMap | None, int, str]:
    """Held-out validation song k (0 <= k < 2 x len(_TEST)): the test list's genre and tempo
    map with another seed (VAL_SEED0 + 1000 rep + i); the second pass moves a fixed tempo by
    0.94-1.06x. Returns (genre, bpm, tempo map, seed, name)."""
    rep, i = divmod(k, len(_TEST))
    genre, bpm, tmap = _TEST[i]
    seed = VAL_SEED0 + 1000 * rep + i
    if rep and tmap is None:
        bpm *= float(np.random.default_rng(seed).uniform(0.94, 1.06))
    return genre, bpm, tmap, seed, _name(seed, genre, bpm, "_" + tmap.describe()["kind"] if tmap else "", width=5)


def build_val(out: Path, *, count: int) -> tuple[int, float]:
    """``count`` (at most 2 x the test list) held-out validation songs, data/beat_corpus/val:
    the test list's genres and tempo maps with seeds no training song and no test song has,
    for choosing a net or a tracker setting without touching the test split."""
    made, audio_s = 0, 0.0
    for k in range(min(count, 2 * len(_TEST))):
        genre, bpm, tmap, seed, name = val_spec(k)
        if (out / "val" / f"{name}.json").exists():
            made += 1
            continue
        t0 = time.perf_counter()
        song = make_song(genre, bpm=bpm, seconds=60.0, seed=seed, tempo_map=tmap, sr=SR)
        _write(out / "val", name, song.audio, _meta(song, name, split="val"))
        made += 1
        audio_s += 60.0
        print(f"val {made}/{count} {name}: {time.perf_counter() - t0:.1f} s", flush=True)
    return made, audio_s


def build_tune(out: Path, *, count: int) -> tuple[int, float]:
    """``count`` songs whose tempo steps inside a break (seeds TUNE_SEED0 + i), for choosing
    the tracker's parameters on data that is neither the test split nor the net's training
    data: data/beat_corpus/tune/NNNNN_GENRE_BPM_step.wav + .json."""
    made, audio_s, i = 0, 0.0, 0
    while made < count and i < 20 * count:
        spec = tune_spec(i)
        i += 1
        if spec is None:
            continue
        genre, bpm0, bpm1, t_step, seconds = spec
        name = _name(TUNE_SEED0 + i - 1, genre, bpm0, "_step", width=5)
        if (out / "tune" / f"{name}.json").exists():
            made += 1
            continue
        t0 = time.perf_counter()
        song = make_song(genre, seconds=seconds, seed=TUNE_SEED0 + i - 1,
                         tempo_map=TempoMap.step(bpm0, bpm1, t_step), sr=SR, breaks=True)
        _write(out / "tune", name, song.audio, _meta(song, name, split="tune"))
        made += 1
        audio_s += seconds
        print(f"tune {made}/{count} {name} -> {bpm1:.0f} BPM at {t_step:.1f} s: "
              f"{time.perf_counter() - t0:.1f} s", flush=True)
    return made, audio_s


README = """Beat corpus: MIDI rendered with real instrument samples, exact beat truth.
Built by bench/beat_corpus.py (never committed). Audio: mono 16-bit WAV at 24000 Hz.

test/NNN_GENRE_BPM[_step|_ramp].wav   fixed list of ~62 one-minute songs (club styles first,
                                     rock/pop, jazz/latin, 3/4 and 6/8, tempo steps/ramps)
train/NNNNN_GENRE_BPM.wav            disjoint seeds (train < 100000 <= test), 45-90 s
tune/NNNNN_GENRE_BPM_step.wav         club songs whose tempo steps inside a break (seeds 70000+),
                                     for choosing tracker parameters (--tune N)
val/NNNNN_GENRE_BPM[_step|_ramp].wav  the test list's genres and tempo maps with seeds 90000+ and
                                     91000+ (the second pass 0.94-1.06x the tempo), held out from
                                     every net, for choosing nets and settings (--val N, up to 124)
train/NNNNN_GENRE_BPM_aK.wav         the same song augmented (EQ, reverb, compression,
                                     noise, gain, varispeed tempo +-6 %, pitch +-2 st);
                                     its json holds the beats moved with the audio
Every WAV has a JSON beside it (same stem) with:
  beats, downbeats   seconds (exact grid of the tempo map; 6/8 beats are dotted quarters)
  genre, group       group in: club, rock/pop, jazz/latin, triple metre, tempo change
  meter              beats per bar; meter_name "4/4" | "3/4" | "6/8" | "12/8"
  bpm                first tempo of the map (felt beat); tempo_map {kind, points [[t, bpm]]}
  energy             per beat 0..1 (break 0.15, intro 0.35, groove 0.65, build 0.4-0.85,
                     drop 1.0); sections [[start_s, end_s, label]]
  seed, sr, seconds, split, augment (list of ops applied, train only), file
Readers: glob train/*.json, load the wav named in "file" from the same folder.
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="corpus folder")
    ap.add_argument("--quick", action="store_true", help="8 test songs and 5 train minutes")
    ap.add_argument("--test-only", action="store_true", help="build only the test set")
    ap.add_argument("--train-minutes", type=float, default=150.0,
                    help="audio minutes of train (originals + augmented; default 150)")
    ap.add_argument("--seconds", type=float, default=60.0, help="test song length (default 60)")
    ap.add_argument("--tune", type=int, default=0, metavar="N",
                    help="only build N tune songs (tempo steps inside breaks, for choosing the "
                         "tracker's parameters; never the test split)")
    ap.add_argument("--val", type=int, default=0, metavar="N",
                    help="only build N held-out validation songs (the test list's genres and tempo maps "
                         "with other seeds; up to 124)")
    args = ap.parse_args(argv)
    from model.midi_render import have_fluidsynth

    if not have_fluidsynth():
        print("error: fluidsynth or the GM soundfont is missing: install Debian fluidsynth and "
              "fluid-soundfont-gm (and mma)", file=sys.stderr)
        return 2
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    (out / "README.txt").write_text(README)
    t0 = time.perf_counter()
    if args.val:
        n, secs = build_val(out, count=args.val)
        print(f"val: {n} tracks ({secs / 60:.1f} min of new audio) in {time.perf_counter() - t0:.0f} s")
        return 0
    if args.tune:
        n, secs = build_tune(out, count=args.tune)
        print(f"tune: {n} tracks ({secs / 60:.1f} min of new audio) in {time.perf_counter() - t0:.0f} s")
        return 0
    n, secs = build_test(out, quick=args.quick, seconds=args.seconds)
    t1 = time.perf_counter()
    print(f"test: {n} new tracks ({secs / 60:.1f} min of audio) in {t1 - t0:.0f} s")
    if not args.test_only:
        minutes = 5.0 if args.quick else args.train_minutes
        n, secs = build_train(out, minutes=minutes, quick=args.quick)
        print(f"train: {n} new tracks, {secs / 60:.1f} min in the set, "
              f"{time.perf_counter() - t1:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
