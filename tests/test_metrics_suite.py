"""The dancer evaluation suite (model/metrics_suite.py) and its test music (model/metrics_songs.py),
with a stand-in dancer whose answers are known."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from model import metrics_suite as mu
from model.errors import DatasetError
from model.metrics_gen import Generated
from model.metrics_songs import TestSong as Song
from model.metrics_songs import find_songs, long_music, with_quiet_section
from model.skeleton import JOINT_INDEX, rest_pose

FPS = 30
SR = 16000


def _song(seconds: float, bpm: float, name: str = "s") -> Song:
    beats = np.arange(0.0, seconds, 60.0 / bpm)
    t = np.arange(int(seconds * SR)) / SR
    audio = 0.05 * np.sin(2 * np.pi * 220 * t).astype(np.float32)
    for b in beats:
        i = int(b * SR)
        audio[i : i + 800] += np.float32(0.5) * np.exp(-np.arange(len(audio[i : i + 800])) / 200.0).astype(np.float32)
    return Song(name=name, audio=audio.astype(np.float32), sr=SR, kind="midi", beats=beats)


def _moves(style: str, n: int, seed: int, amp: np.ndarray, beats: np.ndarray) -> np.ndarray:
    t = np.arange(n) / FPS
    p = np.repeat(rest_pose(on_floor=True)[None], n, axis=0).astype(np.float64)
    period = float(np.median(np.diff(beats))) if len(beats) > 1 else 0.5
    w = amp * np.cos(np.pi * t / period + np.pi * seed)  # still on every beat; seed 1 = mirror phase
    rng = np.random.default_rng(seed)
    drift = np.cumsum(rng.normal(0, 0.02, n)) * amp  # never repeats exactly
    if style == "a":
        p[:, [9, 10], 1] += 0.3 * w[:, None]
        p[:, [JOINT_INDEX["left_knee"], JOINT_INDEX["right_knee"]], 2] += 0.2 * w[:, None]
    else:
        p[:, :, 0] += 0.15 * w[:, None]
        p[:, [13, 14, 15, 16], 2] += 0.1 * w[:, None]
    p[:, [7, 8], 0] += drift[:, None]
    return p


class StandIn:
    """A dancer that moves on the beat, as loud as the music, energy scaling its size."""

    styles = ["a", "b"]
    fps = FPS
    path = "stand-in"
    post = "on"

    def dance(self, song: Song, *, style: str | None, seed: int = 0, energy: float = 1.0,
              variation: float = 0.5, schedule: Any = ()) -> Generated:
        n = int(song.seconds * FPS)
        rms = np.array([np.sqrt(np.mean(song.audio[int(i * SR / FPS) : int((i + 1) * SR / FPS)] ** 2) + 1e-12)
                        for i in range(n)])
        rms = np.convolve(rms, np.ones(15) / 15, mode="same")  # loudness over half a second
        amp = energy * rms / np.percentile(rms, 90)
        beats = song.beats if song.beats is not None else np.arange(0, song.seconds, 0.5)
        p = np.zeros((n, 17, 3))
        cuts = [0] + [int(t * FPS) for t, _ in schedule] + [n]
        names = [style or "a"] + [s for _, s in schedule]
        for k, s in enumerate(names):
            p[cuts[k] : cuts[k + 1]] = _moves(s, n, seed, amp, beats)[cuts[k] : cuts[k + 1]]
        return Generated(poses=p, raw=p.copy(), beats=beats)


def _train() -> mu.TrainData:
    dances: dict[str, list[tuple[np.ndarray, np.ndarray | None]]] = {}
    for s in ("a", "b"):
        for i in range(4):
            beats = np.arange(0.0, 12.0, 60.0 / (100 + 10 * i))
            n = int(12.0 * FPS)
            dances.setdefault(s, []).append((_moves(s, n, 10 + i, np.ones(n), beats), beats))
    return mu.TrainData(path="train", fps=FPS, dances=dances)


def test_the_beat_align_score_per_style_shows_the_style_that_misses_the_beat() -> None:
    beats = np.arange(0.0, 12.0, 0.5)
    n = int(12.0 * FPS)
    on = _moves("a", n, 0, np.ones(n), beats)
    off = np.roll(_moves("b", n, 0, np.ones(n), beats), 8, axis=0)  # still half a beat after every beat
    dyn = mu.style_dynamics({"a": [(on, beats)], "b": [(off, beats), (off, None)]}, fps=FPS)
    assert dyn["align"]["a"] > 0.9 and dyn["align"]["b"] < 0.1  # a dance without beats is left out
    assert dyn["align"]["b"] == pytest.approx(mu.metrics.beat_align_score(off, beats, fps=FPS))


def test_repetition_per_style_tells_a_looping_style_from_a_wandering_one() -> None:
    n = int(20.0 * FPS)
    t = np.arange(n) / FPS
    loop = np.repeat(rest_pose(on_floor=True)[None], n, axis=0).astype(np.float64)
    loop[:, [9, 10], 1] += 0.3 * np.sin(2 * np.pi * t / 2.0)[:, None]  # the same 2-s move again and again
    wander = loop.copy()
    walk = np.cumsum(np.random.default_rng(3).normal(0, 0.03, (n, 2)), axis=0)
    wander[:, [9, 10], 0] += walk[:, :1]
    wander[:, [9, 10], 2] += walk[:, 1:]  # the hands go somewhere new
    dyn = mu.style_dynamics({"loop": [(loop, None)], "wander": [(wander, None)]}, fps=FPS)
    assert dyn["rep_low"]["loop"] == 1.0 and dyn["rep_min"]["loop"] < 0.05
    assert dyn["rep_low"]["wander"] < 0.5 and dyn["rep_min"]["wander"] > dyn["rep_min"]["loop"] + 0.1
    assert dyn["rep_min"]["wander"] == pytest.approx(float(mu.md.repetition(wander, fps=FPS).min()))


class StandsStillWithSeed1(StandIn):
    """The stand-in, but its long dance (the one with a schedule) stands still with seed 1."""

    def __init__(self) -> None:
        self.long_seeds: list[int] = []

    def dance(self, song: Song, *, style: str | None, seed: int = 0, energy: float = 1.0,
              variation: float = 0.5, schedule: Any = ()) -> Generated:
        g = super().dance(song, style=style, seed=seed, energy=energy, variation=variation, schedule=schedule)
        if schedule:
            self.long_seeds.append(seed)
            if seed == 1:
                still = np.repeat(g.poses[:1], len(g.poses), axis=0)
                return Generated(poses=still, raw=still.copy(), beats=g.beats)
        return g


def test_the_long_music_is_danced_with_every_long_seed_and_the_worst_seed_counts() -> None:
    """long_seeds 2: the long music is danced with seeds 0 and 1; seed 1's stillness shows in
    the freeze ratio (the worst seed's), in the pooled style figure and in the worst single
    seed's; with one seed it is never danced."""
    songs = [_song(12.0, 120, "x")]
    base = dict(pair_songs=0, quiet_songs=0, long_minutes=0.4, style_every_song=False)
    one, two = StandsStillWithSeed1(), StandsStillWithSeed1()
    r1 = mu.run_suite(one, songs, train=_train(), cfg=mu.SuiteConfig(**base, long_seeds=1))
    r2 = mu.run_suite(two, songs, train=_train(), cfg=mu.SuiteConfig(**base, long_seeds=2))
    assert one.long_seeds == [0] and two.long_seeds == [0, 1]
    f1, f2 = r1["figures"], r2["figures"]
    assert f1["freeze_long"] == 0.0 and f2["freeze_long"] > 0.9
    assert "style_real_seed_min" not in f1 and f2["style_real_seed_min"] < f2["style_real_min"]
    assert min(r1["style"]["long"].values()) == 1.0 and min(r2["style"]["long"].values()) < 1.0
    assert [r["seeds"] for r in r2["songs"] if r["style"] == "all (switched live)"] == [2]
    assert "worst single seed" in mu.format_columns({"two": r2}, None)


def test_the_suite_reports_the_known_answers_of_a_stand_in_dancer() -> None:
    songs = [_song(20.0, 120, "x"), _song(20.0, 100, "y")]
    cfg = mu.SuiteConfig(pair_songs=1, quiet_songs=1, long_minutes=0.5)
    rep = mu.run_suite(StandIn(), songs, train=_train(), cfg=cfg)
    f = rep["figures"]
    assert f["bas"] > 0.9 and f["bas_gain"] > 0.5  # still on every beat, moving between
    assert f["quiet_speed_ratio"] < 0.1  # moves as loud as the music
    assert f["spread_ratio"] == pytest.approx(6.0, rel=0.05)  # energy 1.8 / 0.3
    assert rep["spread_up"] == {"a": pytest.approx(2.0, rel=0.05), "b": pytest.approx(2.0, rel=0.05)}  # energy 2 / 1
    assert f["spread_up_min"] == pytest.approx(min(rep["spread_up"].values()))
    assert f["seed_agree"] == 0.0
    assert f["freeze_long"] == 0.0 and f["root_max"] < 0.5
    # the same move on every beat (with a slow drift): most windows repeat one 2 s away
    assert f["repetition_min"] < 0.3 and 0.5 < f["repetition_low"] < 1.0
    assert min(rep["style"]["test"].values()) == 1.0 and min(rep["style"]["long"].values()) == 1.0
    assert rep["dynamics"]["dip"]["a"] > 0.4  # still on every beat (2/3 without the drift and loudness)
    assert min(rep["dynamics"]["align"].values()) > 0.9  # both styles land on the beat
    assert set(rep["dynamics"]["sharp"]) == {"a", "b"}
    fig, cv = mu.train_figures(_train())
    assert fig["dip_b"] > 0.3 and fig["sharp_a"] > 0
    text = mu.format_columns({"stand-in": rep}, fig, cv)
    assert "PASS" in text and "beat-align score, exact beats" in text and "style a (test music)" in text
    assert "dip on the beat a (test music)" in text and "accent sharpness b (test music)" in text
    assert "dip on the half beat a (test music)" in text and abs(rep["dynamics"]["half"]["a"]) < 0.3
    assert "beat-align score b (test music)" in text and fig["align_a"] > 0.9
    assert "hip over lower ankle a (test music)" in text and "nose over hips b (test music)" in text
    assert set(rep["dynamics"]["hip"]) == {"a", "b"} and 0.5 < fig["hip_a"] < 1.0 and 0.3 < fig["head_b"] < 0.8
    assert "share of windows under 0.3" in text
    # repetition per style: the test songs' dances and the long dance's pieces, the data's beside
    assert set(rep["dynamics"]["rep_low"]) == set(rep["dynamics_long"]["rep_min"]) == {"a", "b"}
    # the headline's windows (the round-robin dances and the pieces) are among the per-style ones
    lowest = min(min(rep["dynamics"]["rep_min"].values()), min(rep["dynamics_long"]["rep_min"].values()))
    assert lowest <= f["repetition_min"] and "rep_low_a" in fig
    assert "repetition under 0.3 a (test music)" in text and "repetition ratio, min b (long music)" in text
    assert "foot sliding in contact b (test music)" in text and "slide_b" in fig
    assert rep["dynamics"]["slide"]["a"] < 0.01 < rep["dynamics"]["slide"]["b"]  # b swings its feet along the floor
    assert "foot sliding in contact a (long music)" not in text  # the long pieces carry repetition only
    # the classifier fitted without tempo copies (sessions 13-32) reported beside, both sets
    assert set(rep["style_plain"]["test"]) == set(rep["style_plain"]["long"]) == {"a", "b"}
    assert f["style_plain_min"] == min(rep["style_plain"]["test"].values())
    assert "classifier w/o tempo copies: test, min" in text and "data at 85-140 bpm (CV), min" in text


class CappedB(StandIn):
    """The stand-in, but style b stops growing at energy 1 (a style at its ceiling)."""

    def dance(self, song: Song, *, style: str | None, seed: int = 0, energy: float = 1.0, **kw: Any) -> Generated:
        return super().dance(song, style=style, seed=seed, energy=min(energy, 1.0) if style == "b" else energy, **kw)


def test_the_suite_shows_the_style_whose_energy_stops_at_1() -> None:
    songs = [_song(12.0, 120, "x")]
    cfg = mu.SuiteConfig(pair_songs=1, quiet_songs=0, long_minutes=0, style_seeds=1)
    rep = mu.run_suite(CappedB(), songs, train=_train(), cfg=cfg)
    f = rep["figures"]
    assert rep["spread_up"]["a"] == pytest.approx(2.0, rel=0.05) and rep["spread_up"]["b"] == pytest.approx(1.0)
    assert f["spread_up_min"] == pytest.approx(1.0) and f["spread_up_mean"] == pytest.approx(1.5, rel=0.05)
    assert "pose spread energy 2 / 1, lowest style" in mu.format_columns({"capped": rep}, None)


class Counting(StandIn):
    """The stand-in, remembering every (song, style, seed) it danced."""

    def __init__(self) -> None:
        self.danced: list[tuple[str, str | None, int]] = []

    def dance(self, song: Song, *, style: str | None, seed: int = 0, **kw: Any) -> Generated:
        self.danced.append((song.name, style, seed))
        return super().dance(song, style=style, seed=seed, **kw)


def test_every_style_is_danced_on_every_test_song_for_style_recognition() -> None:
    songs = [_song(12.0, 120, "x"), _song(12.0, 100, "y")]
    few = mu.SuiteConfig(styles_per_song=1, pair_songs=0, quiet_songs=0, long_minutes=0, style_every_song=False,
                         style_seeds=1)
    assert mu.run_suite(StandIn(), songs, train=_train(), cfg=few)["style_dances"] == {"a": 1, "b": 1}
    every = mu.SuiteConfig(styles_per_song=1, pair_songs=0, quiet_songs=0, long_minutes=0, style_seeds=1)
    rep = mu.run_suite(StandIn(), songs, train=_train(), cfg=every)
    assert rep["style_dances"] == {"a": 2, "b": 2} and len(rep["songs"]) == 2  # the extra dances only count for style


def test_style_recognition_counts_every_seed_and_dances_each_once() -> None:
    """With style_seeds 3 every style is recognised on every song with seeds 0, 1 and 2; the
    seed-1 dance the seed agreement already made is counted, not danced again."""
    songs = [_song(12.0, 120, "x"), _song(12.0, 100, "y")]
    cfg = mu.SuiteConfig(styles_per_song=1, pair_songs=0, quiet_songs=0, long_minutes=0, style_seeds=3)
    d = Counting()
    rep = mu.run_suite(d, songs, train=_train(), cfg=cfg)
    assert rep["style_dances"] == {"a": 6, "b": 6}  # 2 songs x 3 seeds
    assert sorted(d.danced) == sorted((s.name, st, k) for s in songs for st in "ab" for k in range(3))
    assert len(rep["songs"]) == 2 and set(rep["dynamics"]["hip"]) == {"a", "b"}
    default = Counting()
    mu.run_suite(default, songs, train=_train(), cfg=mu.SuiteConfig(styles_per_song=1, pair_songs=0, quiet_songs=0,
                                                                     long_minutes=0))
    assert {k for _, _, k in default.danced} == {0, 1, 2, 3} and len(default.danced) == 16  # four seeds by default


def test_the_training_data_column_measures_the_data_itself() -> None:
    fig, cv = mu.train_figures(_train())
    assert fig["bas"] > 0.9 and fig["bas_off"] < 0.2
    assert set(cv) == {"a", "b"} and fig["style_min"] == min(cv.values())
    # and each held-out dance played at 85-140 bpm, with and without tempo copies in the fit
    for key in ("style_tempi_min", "style_plain_min", "style_plain_tempi_min"):
        assert 0.0 <= fig[key] <= 1.0, key


def test_a_quiet_section_is_thirty_db_down_and_the_rest_untouched() -> None:
    s = _song(10.0, 120)
    q = with_quiet_section(s, (4.0, 7.0))

    def rms(a: np.ndarray) -> float:
        return float(np.sqrt(np.mean(a**2)))

    inside = slice(int(4.2 * SR), int(6.8 * SR))
    assert 20 * np.log10(rms(q.audio[inside]) / rms(s.audio[inside])) == pytest.approx(-30.0, abs=0.01)
    assert np.array_equal(q.audio[: int(3.9 * SR)], s.audio[: int(3.9 * SR)])
    assert np.array_equal(q.audio[int(7.1 * SR) :], s.audio[int(7.1 * SR) :])


def test_long_music_cycles_the_songs_and_carries_their_beats() -> None:
    a, b = _song(10.0, 120, "a"), _song(8.0, 100, "b")
    long = long_music([a, b], minutes=0.5)
    assert long.seconds == pytest.approx(30.0)
    assert long.beats is not None and np.all(np.diff(long.beats) > 0)
    assert np.any(np.isclose(long.beats, 10.0 + 0.6))  # b's second beat after a


def test_bad_song_arguments_say_what_to_pass(tmp_path: Any) -> None:
    with pytest.raises(DatasetError, match="midi:N"):
        find_songs(["midi:x"])
    with pytest.raises(DatasetError, match="does not exist"):
        find_songs([tmp_path / "nope.wav"])
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(DatasetError, match="not an audio file"):
        find_songs([tmp_path / "notes.txt"])
    with pytest.raises(DatasetError, match="no audio files"):
        find_songs([tmp_path])


def test_cached_test_songs_with_dots_in_their_names_do_not_collide(tmp_path: Any) -> None:
    from model.metrics_songs import _read_cached, _write_cached

    a, b = _song(3.0, 121.1, "a"), _song(4.0, 121.1, "b")
    _write_cached(tmp_path / "midi_1_8beat_121.1bpm_30s", a)
    _write_cached(tmp_path / "midi_1_8beat_121.1bpm_40s", b)
    ra, rb = _read_cached(tmp_path / "midi_1_8beat_121.1bpm_30s"), _read_cached(tmp_path / "midi_1_8beat_121.1bpm_40s")
    assert ra is not None and rb is not None
    assert ra.seconds == pytest.approx(3.0) and rb.seconds == pytest.approx(4.0)
    assert np.allclose(ra.beats, a.beats) and _read_cached(tmp_path / "midi_2") is None


def test_training_data_from_several_folders_is_pooled_by_style(tmp_path: Any) -> None:
    from model.dataset import DatasetWriter

    for name, style in (("one", "a"), ("two", "b")):
        with DatasetWriter(tmp_path / name) as w:
            n = 90
            w.add_clip(id=f"{name}0", poses=np.repeat(rest_pose(on_floor=True)[None], n, 0), fps=FPS, style=style,
                       source="test", licence="test", audio=np.zeros(SR * 3, np.float32), sample_rate=SR,
                       beats=np.arange(0.5, 3.0, 0.5))
    t = mu.load_train([tmp_path / "one", tmp_path / "two"], fps=FPS)
    assert sorted(t.dances) == ["a", "b"] and len(t.dances["a"]) == 1 and t.dances["b"][0][1] is not None
    with pytest.raises(DatasetError, match="runs at 60"):
        mu.load_train(tmp_path / "one", fps=60)
    with pytest.raises(DatasetError, match="not a dataset folder"):
        mu.load_train([tmp_path / "one", tmp_path], fps=FPS)


SECTION_S = 4.0


def _sections(n: int, order: str) -> np.ndarray:
    """Which section (a letter of ``order``, repeated) each of ``n`` frames is in."""
    k = (np.arange(n) / FPS // SECTION_S).astype(int) % len(order)
    return np.array([ord(order[i]) - ord("A") for i in k])


class Listening(StandIn):
    """A stand-in whose music comes in 4-s sections A B C A B C ... (its features play each
    section's own tune in the 64 mel columns) and who dances one move per section: to ``by_music`` the
    section's own move, otherwise moves in the order A B A B ... whatever the music."""

    def __init__(self, by_music: bool) -> None:
        self.by_music = by_music

    def features(self, song: Song) -> tuple[np.ndarray, None]:
        n = int(song.seconds * FPS)
        f = np.random.default_rng(0).normal(0.0, 0.05, (n, 66))
        sec = _sections(n, "ABC")
        step = (np.arange(n) / FPS % SECTION_S * 4).astype(int)  # a tune: a band a quarter second
        f[np.arange(n), 3 * sec + step] += 1.0  # each section's own, note by note
        return f, None

    def dance(self, song: Song, *, style: str | None, seed: int = 0, energy: float = 1.0,
              variation: float = 0.5, schedule: Any = ()) -> Generated:
        n = int(song.seconds * FPS)
        sec = _sections(n, "ABC" if self.by_music else "AB")
        t = np.arange(n) / FPS
        p = np.repeat(rest_pose(on_floor=True)[None], n, axis=0).astype(np.float64)
        for k in range(3):  # each section's move: the wrists along their own paths
            on = sec == k
            p[on, 9, k % 3] += 0.4 * np.sin(2 * np.pi * (0.5 + 0.2 * k) * (t[on] % SECTION_S))
            p[on, 10, (k + 1) % 3] += 0.4 * np.cos(2 * np.pi * (0.3 + 0.3 * k) * (t[on] % SECTION_S))
        p[:, [7, 8], 0] += 0.002 * t[:, None] * (1 + seed)  # a slow drift: no two windows the same
        return Generated(poses=p, raw=p.copy(), beats=np.arange(0.0, song.seconds, 0.5))


def test_the_music_rank_tells_a_dancer_that_repeats_with_the_music_from_one_that_repeats_anyway() -> None:
    """Both stand-ins dance a move again every few seconds (windows under the repetition line);
    the one that dances each music section's own move has its repeats' music nearest of all
    (rank ~0), the one that cycles moves whatever the music does not (~0.5)."""
    songs = [_song(36.0, 120, "x")]
    cfg = mu.SuiteConfig(styles_per_song=2, pair_songs=0, quiet_songs=0, long_minutes=1.2, style_seeds=1)
    rep_t = mu.run_suite(Listening(True), songs, train=_train(), cfg=cfg, recordings=[_song(80.0, 100, "r")])
    tied = rep_t["figures"]
    deaf = mu.run_suite(Listening(False), songs, train=_train(), cfg=cfg, recordings=[_song(80.0, 100, "r")])["figures"]
    assert tied["repetition_low"] > 0.2 and deaf["repetition_low"] > 0.2  # both repeat themselves
    assert tied["music_tie"] < 0.1 < 0.3 < deaf["music_tie"]
    assert set(rep_t["dynamics"]["tie"]) == set(rep_t["dynamics_long"]["tie"]) == {"a", "b"}  # per style
    assert max(rep_t["dynamics_long"]["tie"].values()) < 0.1
    # per style on the test songs: every song's seed-0 dance of the style, as the other per-style rows
    one = mu.SuiteConfig(styles_per_song=1, pair_songs=0, quiet_songs=0, long_minutes=0, style_seeds=1)
    per = mu.run_suite(Listening(True), songs, train=_train(), cfg=one)["dynamics"]
    assert set(per["tie"]) == set(per["dip"]) == {"a", "b"}  # b only danced for style recognition
    assert "music_tie" not in mu.run_suite(StandIn(), songs, train=_train(), cfg=cfg)["figures"]  # no features: no row
    text = mu.format_columns({"tied": rep_t}, {"music_tie": 0.4, "tie_a": 0.3}, {})
    assert "nearest's music rank (0 same, 0.5 any)" in text
    row = next(ln for ln in text.splitlines() if ln.startswith("  nearest's music rank a (test music)"))
    assert row.split()[-1] == "0.3"  # the data's figure beside the model's
    assert "nearest's music rank b (long music)" in text


def test_the_training_data_music_rank_hears_each_clip_through_the_model_features(tmp_path: Any) -> None:
    """Two clips, each the same move over the same music twice: rank 0 through features that hear
    the music; a clip too short for two windows 2 s apart adds nothing."""
    from model.dataset import DatasetWriter

    d = Listening(True)
    with DatasetWriter(tmp_path / "d") as w:
        for i, seconds in enumerate((24.0, 24.0, 3.0)):
            song = _song(seconds, 120)
            g = d.dance(song, style="a")
            w.add_clip(id=f"c{i}", poses=g.poses.astype(np.float32), fps=FPS, style="a", source="test",
                       licence="test", audio=song.audio, sample_rate=SR, beats=song.beats)
    heard: list[int] = []

    def feats(song: Any) -> np.ndarray:
        heard.append(len(song.audio))
        return d.features(Song("c", song.audio, song.sr, "file", None))[0]

    got = mu.train_music_tie([tmp_path / "d"], feats, fps=FPS)
    assert got["music_tie"] < 0.1 and got["tie_a"] == got["music_tie"] and len(got) == 2
    assert len(heard) == 3
    assert np.isnan(mu.train_music_tie([tmp_path / "d"], feats, fps=60)["music_tie"])  # no clip at that rate
