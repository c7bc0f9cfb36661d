"""The synthetic choreographer: exact bones, feet on the floor, on the beat, varied,
planted feet still, bounded travel, legs as busy as arms, calm in breaks, turns and jumps."""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from model import metrics
from model import metrics_dancer as md
from model.dataset import check_dataset, clip_records, load_poses
from model.errors import ConfigError
from model.skeleton import ANKLE_HEIGHT, bone_length_error, root_of
from model.synth_dance import STYLES, VOCABULARY, render_dance, synthesize_dataset, two_bone_ik
from model.synth_music import render_song

FPS = 30


def _dance(style: str, *, seconds: float = 60.0, seed: int = 3, **song_kw: object):
    spec = STYLES[style]
    bpm = float(np.mean(spec.bpm))
    song = render_song(feel=spec.feel, bpm=bpm, seconds=seconds, seed=seed, **song_kw)  # type: ignore[arg-type]
    return song, render_dance(song, style=style, fps=FPS, seed=seed)


@pytest.mark.parametrize("style", list(STYLES))
def test_every_style_is_exact_grounded_and_on_the_beat(style: str) -> None:
    song, dance = _dance(style)
    p = dance.poses
    assert p.dtype == np.float32 and p.shape == (int(song.seconds * FPS), 17, 3)
    assert np.isfinite(p).all()
    assert bone_length_error(p) < 1e-4
    lowest = p[:, 15:17, 1].min(axis=1)
    assert lowest.min() > ANKLE_HEIGHT - 2e-3  # never through the floor
    # Standing on a foot most of the time (ballet's arabesques and house's spin hops less).
    assert np.mean(lowest < ANKLE_HEIGHT + 0.02) > 0.6
    assert metrics.beat_align_score(p, song.beats, fps=FPS) > 0.65
    assert abs(metrics.motion_beat_lag_ms(p, song.beats, fps=FPS)) < 30.0
    assert metrics.freeze_ratio(p, fps=FPS) == 0.0
    assert metrics.foot_skating(p, fps=FPS) < 0.1
    assert len({m for _, m, _ in dance.phrases}) >= 2


def test_same_seed_same_dance_other_seed_other_dance() -> None:
    song = render_song(feel="house", bpm=124.0, seconds=20.0, seed=1)
    a = render_dance(song, style="house", fps=FPS, seed=5).poses
    b = render_dance(song, style="house", fps=FPS, seed=5).poses
    c = render_dance(song, style="house", fps=FPS, seed=6).poses
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).mean() > 0.01


def test_a_dance_is_not_one_loop() -> None:
    song, dance = _dance("hiphop", seconds=120.0)
    p = dance.poses
    bar = int(round(4 * 60.0 / song.bpm * FPS))
    # Compare every 4-bar window with every later one: none repeats (an exact loop would
    # differ by < 0.001 m; the same move in the same phrase differs by its per-cycle jitter).
    w = 4 * bar
    wins = [p[i : i + w] - p[i : i + w, 11:13].mean(axis=(0, 1)) for i in range(0, len(p) - w, w)]
    d = [np.abs(wins[i] - wins[j]).mean() for i in range(len(wins)) for j in range(i + 1, len(wins))]
    assert min(d) > 0.01
    assert np.median(d) > 0.04
    assert {m for _, _, m in dance.phrases} == {True, False}  # both sides


@pytest.mark.parametrize("style", ["house", "popping"])
def test_the_dancer_calms_down_in_a_break(style: str) -> None:
    song, dance = _dance(style, seconds=60.0, break_at=(30.0, 8.0))
    speed = metrics.joint_speed(dance.poses, fps=FPS)
    t = np.arange(len(speed)) / FPS
    in_break = speed[(t > 31) & (t < 37)].mean()
    loud = speed[(t > 20) & (t < 29)].mean()
    assert in_break < 0.5 * loud


def test_six_styles_with_turns_jumps_kicks_and_calm_moves() -> None:
    assert {"house", "hiphop", "ballet", "popping", "locking", "contemporary"} <= set(STYLES)
    for style, vocab in VOCABULARY.items():
        assert len(vocab) >= 8, style
        assert len({m.name for m in vocab}) == len(vocab)
        assert any(m.level == 0 for m in vocab) and any(m.level == 2 for m in vocab), style
        tags = set().union(*(m.tags for m in vocab))
        assert "turn" in tags, style
    assert sum("jump" in m.tags for v in VOCABULARY.values() for m in v) >= 5


def _facing_speed(p: np.ndarray) -> np.ndarray:
    d = p[:, 11] - p[:, 12]
    return np.abs(np.diff(np.unwrap(np.arctan2(-d[:, 2], d[:, 0])))) * FPS


@pytest.mark.parametrize("style", list(STYLES))
def test_planted_feet_stay_still_travel_stays_on_stage_and_legs_work(style: str) -> None:
    song, dance = _dance(style, seconds=150.0, seed=11)
    p = dance.poses.astype(np.float64)
    planted = dance.planted
    assert planted is not None and planted.mean() > 0.3
    both = planted[1:] & planted[:-1]
    step = np.linalg.norm(np.diff(p[:, 15:17], axis=0), axis=-1)
    assert step[both].max() < 1e-5  # a planted ankle does not move at all
    r = root_of(p)
    assert np.hypot(r[:, 0], r[:, 2]).max() < 1.5
    s = np.linalg.norm(np.diff(p, axis=0), axis=-1)
    assert s[:, 13:17].mean() >= 0.4 * s[:, 7:11].mean()  # legs move about half as fast as arms or more
    assert _facing_speed(p).max() > 3.0  # it turns (a half turn in a beat or faster)


def test_a_long_dance_travels_turns_and_jumps_and_comes_back() -> None:
    song = render_song(feel="house", bpm=124.0, seconds=240.0, seed=4)
    p = render_dance(song, style="house", fps=FPS, seed=4).poses.astype(np.float64)
    r = root_of(p)
    dist = np.hypot(r[:, 0], r[:, 2])
    assert dist.max() > 0.3 and dist.max() < 1.5
    assert np.mean(dist < 0.3) > 0.2  # back near the centre a good share of the time
    assert np.mean(_facing_speed(p) > 1.5) > 0.01
    air = (p[:, 15, 1] > ANKLE_HEIGHT + 0.03) & (p[:, 16, 1] > ANKLE_HEIGHT + 0.03)
    assert air.mean() > 0.005
    assert r[:, 1].min() < r[:, 1].max() - 0.2  # level changes


def test_moves_change_on_eight_count_boundaries_and_phrases_repeat_mirrored() -> None:
    song, dance = _dance("hiphop", seconds=120.0, seed=5)
    unit = 8 * 60.0 / song.bpm
    starts = np.array([t for t, _, _ in dance.phrases if t < song.beats[-1] - 1.0])
    assert np.allclose(np.round(starts / unit) * unit, starts, atol=1e-6)
    names = [m for _, m, _ in dance.phrases]
    pairs = [(names[i], dance.phrases[i][2], dance.phrases[i + 1][2]) for i in range(len(names) - 1)
             if names[i] == names[i + 1]]
    assert pairs and any(a != b for _, a, b in pairs)  # A then A' on the other side


@pytest.mark.parametrize("style", ["locking", "hiphop"])
def test_with_stance_a_break_keeps_the_style_s_knees_without_it_the_dancer_straightens(style: str) -> None:
    spec = STYLES[style]
    song = render_song(feel=spec.feel, bpm=float(np.mean(spec.bpm)), seconds=60.0, seed=3, break_at=(30.0, 8.0))
    t = np.arange(int(song.seconds * FPS)) / FPS
    brk, loud = (t > 31) & (t < 37), (t > 5) & (t < 29)

    def hip(p: np.ndarray) -> np.ndarray:  # mid-hip over the lower ankle (m)
        return p[:, 11:13, 1].mean(axis=1) - p[:, 15:17, 1].min(axis=1)

    old = render_dance(song, style=style, fps=FPS, seed=3, variety=1.0)
    new = render_dance(song, style=style, fps=FPS, seed=3, variety=1.0, stance=True)
    assert old.phrases == new.phrases  # the same plan: stance draws nothing
    h0, h1 = hip(old.poses), hip(new.poses)
    assert h0[brk].mean() > h0[loud].mean() + 0.02  # the older choreographer stands up in the break
    assert h1[brk].mean() < h0[brk].mean() - 0.03  # with stance the knees stay bent
    assert abs(h1[brk].mean() - h1[loud].mean()) < 0.6 * abs(h0[brk].mean() - h0[loud].mean())
    speed = metrics.joint_speed(new.poses, fps=FPS)
    assert speed[brk[1:]].mean() < 0.5 * speed[loud[1:]].mean()  # still calm
    p = new.poses
    assert bone_length_error(p) < 1e-4 and p[:, 15:17, 1].min() > ANKLE_HEIGHT - 2e-3
    assert metrics.foot_skating(p, fps=FPS) < 0.1


def test_variety_varies_the_eight_counts_and_zero_plans_as_before() -> None:
    # variety 0 is the choreographer data sets were made with before it: this seed's moves,
    # recorded then, stay the same (no extra draws, no new moves)
    spec = STYLES["house"]
    song = render_song(feel=spec.feel, bpm=float(np.mean(spec.bpm)), seconds=90.0, seed=3)
    plain = render_dance(song, style="house", fps=FPS, seed=3)
    assert [m for _, m, _ in plain.phrases][:8] == ["side_shuffle", "side_shuffle", "cross_walk", "spin", "spin",
                                                    "spin", "jack", "jumping_jack"]
    varied = render_dance(song, style="house", fps=FPS, seed=3, variety=1.0)
    p = varied.poses
    assert bone_length_error(p) < 1e-4 and p[:, 15:17, 1].min() > ANKLE_HEIGHT - 2e-3
    assert metrics.beat_align_score(p, song.beats, fps=FPS) > 0.65
    assert metrics.foot_skating(p, fps=FPS) < 0.1
    # the same first move (the variation draws more after it, so later picks differ), but far
    # fewer 2-second windows that nearly repeat one 2 s or more away
    assert varied.phrases[0][1] == "side_shuffle"
    rep0, rep1 = (md.repetition(d.poses, fps=FPS) for d in (plain, varied))
    assert np.mean(rep0 < 0.3) > 0.25 and np.mean(rep1 < 0.3) < 0.5 * np.mean(rep0 < 0.3)


def test_too_fast_music_is_danced_in_half_time() -> None:
    song = render_song(feel="hiphop", bpm=150.0, seconds=30.0, seed=2)
    p = render_dance(song, style="hiphop", fps=FPS, seed=2).poses
    assert metrics.beat_align_score(p, song.beats, fps=FPS) > 0.6


def test_two_bone_ik_keeps_lengths_and_reaches() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(0, 0.1, (200, 3))
    target = a + rng.normal(0, 0.4, (200, 3))
    pole = rng.normal(0, 1, (200, 3))
    mid, end = two_bone_ik(a, target, 0.3, 0.25, pole)
    np.testing.assert_allclose(np.linalg.norm(mid - a, axis=1), 0.3, atol=1e-9)
    np.testing.assert_allclose(np.linalg.norm(end - mid, axis=1), 0.25, atol=1e-9)
    reachable = np.linalg.norm(target - a, axis=1) < 0.54
    np.testing.assert_allclose(end[reachable], target[reachable], atol=1e-9)


def test_synthesized_dataset_checks_clean(tmp_path: Path) -> None:
    out = tmp_path / "synth"
    seen: list[tuple[int, int]] = []
    entries = synthesize_dataset(out, minutes=0.5, styles=["ballet", "popping"], seed=2,
                                 clip_seconds=(6.0, 10.0), progress=lambda d, t, e: seen.append((d, t)))
    assert check_dataset(out) == []
    recs = clip_records(out)
    assert len(recs) == len(entries) >= 4
    assert {r.style for r in recs} == {"ballet", "popping"}
    assert sum(r.entry["seconds"] for r in recs) == pytest.approx(30.0, abs=0.2)
    z = load_poses(recs[0].poses)
    assert len(z["beats"]) > 5 and float(z["fps"]) == FPS
    assert seen[-1] == (30, 30)


def test_unknown_style_is_refused() -> None:
    song = render_song(feel="house", bpm=120.0, seconds=5.0, seed=0)
    with pytest.raises(ConfigError, match="unknown dance style 'tango'"):
        render_dance(song, style="tango", fps=FPS, seed=0)


@pytest.mark.slow
def test_thirty_minutes_render_in_under_five_minutes(tmp_path: Path) -> None:
    t0 = time.perf_counter()
    synthesize_dataset(tmp_path / "big", minutes=30.0, seed=0)
    assert time.perf_counter() - t0 < 300.0
    assert check_dataset(tmp_path / "big") == []


def test_midi_songs_pair_each_style_with_its_genres(tmp_path: Path) -> None:
    from model.midi_render import have_fluidsynth
    from model.synth_dataset import STYLE_GENRES

    if not have_fluidsynth():
        pytest.skip("fluidsynth is not installed: apt-get install fluidsynth fluid-soundfont-gm")
    out = tmp_path / "midi"
    entries = synthesize_dataset(out, minutes=0.3, styles=["locking", "ballet"], seed=3, music="midi",
                                 augment_share=0.5, clip_seconds=(8.0, 10.0))
    assert check_dataset(out) == []
    for e in entries:
        assert e["music"] == "midi" and e["genre"] in STYLE_GENRES[e["style"]]
        z = load_poses(out / e["poses"])
        assert metrics.beat_align_score(z["poses"], z["beats"], fps=FPS) > 0.5
    with pytest.raises(ConfigError, match="--music"):
        synthesize_dataset(out, minutes=0.1, music="mp3")


def test_styles_per_song_dances_one_song_in_several_styles(tmp_path: Path) -> None:
    plain = synthesize_dataset(tmp_path / "one", minutes=0.4, styles=["house", "ballet"], seed=4, music="synth",
                               clip_seconds=(6.0, 8.0))
    out = tmp_path / "cross"
    entries = synthesize_dataset(out, minutes=0.4, styles=["house", "ballet"], seed=4, music="synth",
                                 clip_seconds=(6.0, 8.0), styles_per_song=3)
    assert check_dataset(out) == []
    own = [e for e in entries if "music_for" not in e]
    extra = [e for e in entries if "music_for" in e]
    # K = 1 clips are unchanged by the option (same songs, same dances); each song got 2 more styles
    assert [e["id"] for e in own] == [e["id"] for e in plain]
    assert len(extra) == 2 * len(own)
    by_song: dict[str, list[dict]] = {}
    for e in entries:
        by_song.setdefault(e["id"].split("x")[0].split("_", 1)[1], []).append(e)
    for clips in by_song.values():
        assert len({c["style"] for c in clips}) == 3  # three different styles ...
        audio = {np.asarray(load_poses(out / c["poses"])["beats"]).tobytes() for c in clips}
        assert len(audio) == 1  # ... on the same music (same beats)
        a, b = (np.asarray(load_poses(out / c["poses"])["poses"]) for c in clips[:2])
        assert np.abs(a - b).mean() > 0.02  # and different dances
    np.testing.assert_array_equal(load_poses(out / own[0]["poses"])["poses"],
                                  load_poses(tmp_path / "one" / plain[0]["poses"])["poses"])
    with pytest.raises(ConfigError, match="--styles-per-song"):
        synthesize_dataset(out, minutes=0.1, styles_per_song=0)


def _breaks_song(seed: int, seconds: float = 60.0) -> SimpleNamespace:
    """A song given as beats and energy per beat: 16-beat sections, a fifth of them calm (0.25)."""
    rng = np.random.default_rng(seed)
    beats = np.arange(0.3, seconds, 60.0 / rng.uniform(95.0, 130.0))
    sec = np.arange(len(beats)) // 16
    energy = rng.choice([0.25, 0.6, 0.85, 0.95], p=[0.2, 0.3, 0.3, 0.2], size=sec[-1] + 1)[sec]
    return SimpleNamespace(beats=beats, downbeats=beats[::4], beats_per_bar=4, energy=energy, seconds=seconds,
                           sections=sec)


@pytest.mark.parametrize(("style", "fewer"), [("ballet", 0.75), ("house", 0.5)])
def test_calm_variety_dances_half_time_moves_in_the_breaks_only_and_they_repeat_less(style: str, fewer: float) -> None:
    calm_windows = {0.0: [], 1.0: []}  # type: dict[float, list[float]]
    for seed in range(6):
        song = _breaks_song(seed)
        t_beat = np.interp(np.arange(int(song.seconds * FPS)) / FPS, song.beats, np.arange(len(song.beats)))
        for calm in (0.0, 1.0):
            d = render_dance(song, style=style, fps=FPS, seed=seed, variety=1.0, calm=calm)
            p = d.poses
            assert bone_length_error(p) < 1e-4 and p[:, 15:17, 1].min() > ANKLE_HEIGHT - 2e-3
            e = song.energy[np.clip(t_beat.astype(int), 0, len(song.energy) - 1)]
            speed = metrics.joint_speed(p, fps=FPS)
            assert speed[e[1:] < 0.4].mean() < 0.5 * speed[e[1:] > 0.8].mean()  # a break stays calm
            for t, name, _ in d.phrases:  # a half-time move only where the music is calm
                if name.endswith("_slow"):
                    assert calm > 0 and e[min(int(t * FPS) + FPS, len(e) - 1)] < 0.4, (name, t)
            r = md.repetition(p, fps=FPS)
            mid = np.arange(len(r)) * 15 + FPS  # each 2-s window's middle frame (0.5-s hop)
            calm_windows[calm] += list(r[e[np.minimum(mid, len(e) - 1)] < 0.4])
        assert any(n.endswith("_slow") for _, n, _ in d.phrases)
    before, after = (np.mean(np.asarray(calm_windows[c]) < 0.3) for c in (0.0, 1.0))
    assert before > 0.3 and after < fewer * before, (before, after)


def test_variety_is_recorded_in_the_manifest_and_checked(tmp_path: Path) -> None:
    out = tmp_path / "varied"
    entries = synthesize_dataset(out, minutes=0.2, styles=["locking"], seed=2, music="synth",
                                 clip_seconds=(10.0, 12.0), variety=0.5)
    assert check_dataset(out) == [] and all(e["variety"] == 0.5 for e in entries)
    plain = synthesize_dataset(tmp_path / "plain", minutes=0.2, styles=["locking"], seed=2, music="synth",
                               clip_seconds=(10.0, 12.0))
    assert all("variety" not in e for e in plain)
    with pytest.raises(ConfigError, match="--variety"):
        synthesize_dataset(out, minutes=0.1, variety=1.5)
    # the stance (session 34) is recorded too; the same songs, the same plan, other calm poses
    kept = synthesize_dataset(tmp_path / "stance", minutes=0.2, styles=["locking"], seed=2, music="synth",
                              clip_seconds=(10.0, 12.0), stance=True)
    assert check_dataset(tmp_path / "stance") == [] and all(e["stance"] is True for e in kept)
    assert [e["moves"] for e in kept] == [e["moves"] for e in plain] and all("stance" not in e for e in plain)
    # and the calm variety (session 54)
    calm = synthesize_dataset(tmp_path / "calm", minutes=0.2, styles=["locking"], seed=2, music="synth",
                              clip_seconds=(10.0, 12.0), calm=1.0)
    assert check_dataset(tmp_path / "calm") == [] and all(e["calm"] == 1.0 for e in calm)
    assert all("calm" not in e for e in plain)
    with pytest.raises(ConfigError, match="--calm"):
        synthesize_dataset(out, minutes=0.1, calm=-1.0)


def test_a_wider_vocabulary_varies_every_normal_move_alike_in_every_clip_and_keeps_the_dance_sound(tmp_path: Path) -> None:
    from model.synth_wider import widen

    for style, vocab in VOCABULARY.items():
        extra = widen(style, vocab, 2)
        normal = [m for m in vocab if m.level > 0]
        assert [m.name for m in extra] == [f"{m.name}~{i}" for m in normal for i in (1, 2)], style
        assert widen(style, vocab, 0) == ()
        again = widen(style, vocab, 2)  # the same variants every time: a style's vocabulary, not a clip's
        assert all(np.array_equal(a.upper[0][1], b.upper[0][1]) for a, b in zip(extra, again))
        for m, v in zip([m for m in normal for _ in (1, 2)], extra):
            # the move's rhythm, footwork pattern, turns, travel and jumps kept; its shapes not
            assert v.beats == m.beats and v.level == m.level and "wider" in v.tags
            assert [t for t, _ in v.lower] == [t for t, _ in m.lower]
            lo_m, lo_v = np.stack([k for _, k in m.lower]), np.stack([k for _, k in v.lower])
            assert np.array_equal(np.isnan(lo_m), np.isnan(lo_v))  # a held foot stays held
            assert np.array_equal(lo_m[:, 10:14], lo_v[:, 10:14])  # travel, turn, air
            up_m, up_v = np.stack([k for _, k in m.upper]), np.stack([k for _, k in v.upper])
            assert np.sqrt(((up_m[:, 6:12] - up_v[:, 6:12]) ** 2).mean()) > 0.02, (style, v.name)
    # danced: a normal move's variants appear, the dance stays exact, grounded and on the beat
    song = render_song(feel="house", bpm=124.0, seconds=90.0, seed=4)
    plain = render_dance(song, style="house", fps=FPS, seed=4, variety=1.0)
    wide = render_dance(song, style="house", fps=FPS, seed=4, variety=1.0, wider=3)
    again = render_dance(song, style="house", fps=FPS, seed=4, variety=1.0, wider=0)
    np.testing.assert_array_equal(plain.poses, again.poses)  # 0: the plan as before it
    names = [n for _, n, _ in wide.phrases]
    assert any("~" in n for n in names) and all("~" not in n for _, n, _ in plain.phrases)
    p = wide.poses
    assert bone_length_error(p) < 1e-4 and p[:, 15:17, 1].min() > ANKLE_HEIGHT - 2e-3
    assert metrics.beat_align_score(p, song.beats, fps=FPS) > 0.65
    assert metrics.foot_skating(p, fps=FPS) < 0.1
    # recorded in the manifest; out of range refused with the flag's name
    got = synthesize_dataset(tmp_path / "wide", minutes=0.2, styles=["locking"], seed=2, music="synth",
                             clip_seconds=(10.0, 12.0), wider=2)
    assert check_dataset(tmp_path / "wide") == [] and all(e["wider"] == 2 for e in got)
    with pytest.raises(ConfigError, match="--wider"):
        synthesize_dataset(tmp_path / "bad", minutes=0.1, wider=9)
