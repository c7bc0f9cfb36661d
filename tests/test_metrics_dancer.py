"""Dancer metrics (model/metrics_dancer.py) on constructed motions whose answers are known."""

from __future__ import annotations

import numpy as np
import pytest

from model import metrics
from model import metrics_dancer as md
from model.skeleton import JOINT_INDEX, rest_pose

FPS = 30


def _still(seconds: float) -> np.ndarray:
    return np.repeat(rest_pose(on_floor=True)[None], int(seconds * FPS), axis=0).astype(np.float64)


def _arms_and_legs(seconds: float, *, arm_amp: float, leg_amp: float, hz: float = 1.0) -> np.ndarray:
    p = _still(seconds)
    t = np.arange(len(p)) / FPS
    wave = np.sin(2 * np.pi * hz * t)
    p[:, list(md.ARMS), 0] += arm_amp * wave[:, None]
    p[:, list(md.LEGS), 2] += leg_amp * wave[:, None]
    return p


def _wander(seconds: float, seed: int) -> np.ndarray:
    """Smooth random motion of every joint that never comes back to the same path."""
    rng = np.random.default_rng(seed)
    p = _still(seconds)
    n = len(p)
    noise = rng.standard_normal((n, 17, 3))
    k = np.exp(-0.5 * (np.arange(-15, 16) / 5.0) ** 2)
    for j in range(17):
        for a in range(3):
            noise[:, j, a] = np.convolve(noise[:, j, a], k / k.sum(), mode="same")
    return p + 0.3 * noise


def test_a_motion_that_repeats_every_two_seconds_scores_near_zero_repetition() -> None:
    p = _still(30)
    t = np.arange(len(p)) / FPS
    p[:, 9, 0] += 0.3 * np.sin(2 * np.pi * t / 2.0) + 0.1 * np.sin(2 * np.pi * 2 * t / 2.0)
    p[:, 13, 2] += 0.2 * np.cos(2 * np.pi * t / 2.0)
    r = md.repetition(p, fps=FPS)
    assert len(r) > 20 and r.max() < 0.02


def test_motion_that_never_repeats_scores_high_repetition() -> None:
    r = md.repetition(_wander(30, seed=1), fps=FPS)
    assert r.min() > 0.5 and np.median(r) > 0.7


def test_windows_holding_silence_are_left_out_of_the_repetition() -> None:
    # wandering dance with a 6 s still pause in the middle: two still windows 2 s apart are
    # identical (ratio 0); where the music is silent there, those windows do not count
    p = _wander(30, seed=3)
    p[450:630] = p[450]
    music = np.ones(len(p), bool)
    assert md.repetition(p, fps=FPS).min() < 0.01
    music[450:630] = False
    r = md.repetition(p, fps=FPS, music=music)
    assert r.min() > 0.3
    assert len(r) == len(md.repetition(p, fps=FPS)) - 15  # windows starting 405..615 touch frames 450-629


def test_a_frozen_figure_is_frozen_all_the_time() -> None:
    assert metrics.freeze_ratio(_still(20), fps=FPS) == 1.0
    assert metrics.freeze_ratio(_wander(20, seed=2), fps=FPS) == 0.0


def test_a_planted_foot_sliding_at_half_a_metre_a_second_is_measured() -> None:
    p = _still(10)
    t = np.arange(len(p)) / FPS
    lift = np.clip(np.sin(2 * np.pi * 0.5 * t), 0, None) * 0.3  # right foot steps, left stays down
    p[:, JOINT_INDEX["right_ankle"], 1] += lift
    p[:, JOINT_INDEX["left_ankle"], 0] += 0.5 * t  # the planted left foot slides
    speed, share = md.foot_sliding(p, fps=FPS)
    # contact steps: all of the left foot's, none of the right's lifted steps (speed 0 when down)
    assert 0.25 < speed < 0.5 and share > 0.5
    p2 = _still(10)
    p2[:, JOINT_INDEX["right_ankle"], 1] += lift
    assert md.foot_sliding(p2, fps=FPS) == (0.0, 0.0)


def test_contact_steps_tell_the_planted_sliding_foot_from_the_stepping_one_and_the_sheet_draws_them(
        tmp_path) -> None:
    """The same dance: the left foot down all the time and sliding 0.5 m/s, the right one stepping
    (down half the time, still while down). ``contact_steps`` marks every left step and only the
    right's down steps, with their speeds, and ``write_feet`` draws that view from above."""
    from model.contact_sheet import write_feet, write_sheets
    from model.skeleton import FEET

    p = _still(10)
    t = np.arange(len(p)) / FPS
    lift = np.clip(np.sin(2 * np.pi * 0.5 * t), 0, None) * 0.3
    p[:, JOINT_INDEX["right_ankle"], 1] += lift
    p[:, JOINT_INDEX["left_ankle"], 0] += 0.5 * t
    contact, speed, floor = md.contact_steps(p, FPS)
    left, right = FEET.index(JOINT_INDEX["left_ankle"]), FEET.index(JOINT_INDEX["right_ankle"])
    assert contact.shape == speed.shape == (len(p) - 1, 2)
    assert contact[:, left].all() and np.allclose(speed[:, left], 0.5)
    down = (lift[1:] == 0) & (lift[:-1] == 0)
    up = (lift[1:] > md.FOOT_MARGIN) | (lift[:-1] > md.FOOT_MARGIN)
    assert contact[down, right].all() and not contact[up, right].any()
    assert 0.3 < contact[:, right].mean() < 0.7 and np.allclose(speed[:, right], 0.0)
    assert floor == pytest.approx(float(p[0, FEET, 1].min()))
    path = write_feet(p, tmp_path / "feet.png", fps=FPS, title="slide")
    from PIL import Image

    with Image.open(path) as im:
        assert im.size[0] > 200 and im.size[1] > 200
    assert [q.name for q in write_sheets(p, tmp_path / "d", fps=FPS, title="d")] == ["d_front.png", "d_side.png",
                                                                                     "d_feet.png"]
    with pytest.raises(ValueError, match="fewer than two poses"):
        write_feet(p[:1], tmp_path / "none.png", fps=FPS, title="none")


def test_a_lifted_foot_moving_fast_is_not_sliding() -> None:
    p = _still(10)
    t = np.arange(len(p)) / FPS
    p[:, JOINT_INDEX["left_ankle"], 1] += 0.3 + 0.1 * np.sin(t)  # always in the air
    p[:, JOINT_INDEX["left_ankle"], 0] += 0.8 * t
    speed, _ = md.foot_sliding(p, fps=FPS)
    assert speed == pytest.approx(0.0)


def test_identical_dances_agree_every_second_and_distant_ones_never() -> None:
    a = _wander(12, seed=3)
    assert md.seed_agreement(a, a.copy(), fps=FPS) == 1.0
    b = a.copy()
    b[:, 9, 0] += 17 * 0.05  # one joint 85 cm off -> mean over 17 joints 5 cm
    assert md.seed_agreement(a, b, fps=FPS) == 0.0
    c = a.copy()
    c[: 6 * FPS, 9, 0] += 17 * 0.05  # differ for the first half only
    assert md.seed_agreement(a, c, fps=FPS) == pytest.approx(0.5)


def test_agreement_ignores_where_on_stage_the_dancer_is() -> None:
    a = _wander(5, seed=4)
    assert md.seed_agreement(a, a + np.array([1.0, 0.0, 0.5]), fps=FPS) == 1.0


def test_legs_at_half_the_arm_amplitude_give_half_the_speed() -> None:
    p = _arms_and_legs(10, arm_amp=0.2, leg_amp=0.1)
    assert md.limb_speed_ratio(p, fps=FPS) == pytest.approx(0.5, rel=1e-6)
    assert np.isnan(md.limb_speed_ratio(_still(3), fps=FPS))


def test_a_section_at_a_third_of_the_speed_scores_a_third() -> None:
    p = _still(30)
    t = np.arange(len(p)) / FPS
    amp = np.where((t >= 10) & (t < 20), 0.1, 0.3)
    p[:, :, 0] += (amp * np.sin(2 * np.pi * t))[:, None]
    r = md.section_speed_ratio(p, fps=FPS, section=(10.0, 20.0), settle_s=1.0)
    assert r == pytest.approx(1 / 3, abs=0.03)


def test_pose_spread_doubles_with_double_amplitude_and_ignores_travel() -> None:
    small = _arms_and_legs(8, arm_amp=0.1, leg_amp=0.05)
    big = _arms_and_legs(8, arm_amp=0.2, leg_amp=0.1)
    assert md.pose_spread(big) / md.pose_spread(small) == pytest.approx(2.0, rel=1e-3)
    travel = small.copy()
    travel[:, :, 0] += np.linspace(0, 3, len(small))[:, None]
    assert md.pose_spread(travel) == pytest.approx(md.pose_spread(small))
    assert md.pose_spread(_still(2)) == pytest.approx(0.0)


def test_off_beats_are_the_midpoints_and_a_dance_on_the_beat_scores_low_against_them() -> None:
    beats = np.arange(1, 20) * 0.5
    assert np.allclose(md.off_beats(beats), np.arange(1, 19) * 0.5 + 0.25)
    t = np.arange(10 * FPS) / FPS
    p = _still(10)
    p[:, :, 0] += (0.2 * np.cos(np.pi * t / 0.5))[:, None]  # still on every beat
    on = metrics.beat_align_score(p, beats, fps=FPS)
    off = metrics.beat_align_score(p, md.off_beats(beats), fps=FPS)
    assert on > 0.95 and off < 0.05


def test_root_radius_is_the_distance_from_the_stage_centre() -> None:
    p = _still(4)
    p[:, :, 0] += np.linspace(0, 3, len(p))[:, None]
    p[:, :, 2] += np.linspace(0, 4, len(p))[:, None]
    mx, p95 = md.root_radius(p)
    assert mx == pytest.approx(5.0, rel=1e-6) and 4.5 < p95 < 5.0


def test_beat_dip_of_a_dancer_still_on_every_beat_is_two_thirds_and_half_a_beat_late_negative() -> None:
    """Displacement cos(pi t / beat): speed |sin(pi phase)|, slowest on the beat; its fit
    s ~ 1 - g cos(2 pi phase) gives g = 2/3 exactly. Half a beat late: -2/3. Even speed: 0."""
    beats = np.arange(0, 11) * 0.5
    t = np.arange(5 * FPS + 1) / FPS
    on, late, even = _still(len(t) / FPS), _still(len(t) / FPS), _still(len(t) / FPS)
    on[:, 9, 0] += 0.2 * np.cos(np.pi * t / 0.5)
    late[:, 9, 0] += 0.2 * np.sin(np.pi * t / 0.5)
    even[:, 9, 0] += 0.5 * t  # a hand moving at one speed
    assert md.beat_dip(on, beats, fps=FPS) == pytest.approx(2 / 3, abs=0.01)
    assert md.beat_dip(late, beats, fps=FPS) == pytest.approx(-2 / 3, abs=0.01)
    assert md.beat_dip(even, beats, fps=FPS) == pytest.approx(0.0, abs=1e-6)
    assert np.isnan(md.beat_dip(on, beats[:1], fps=FPS)) and np.isnan(md.beat_dip(_still(5), beats, fps=FPS))


def test_beat_profile_finds_the_half_beat_and_agrees_with_the_dip() -> None:
    """Still on every beat: speed |sin(pi phase)| over its mean 2/pi is 1 - 2 sum_k cos(2 pi k
    phase) / (4k^2 - 1), so (a1, a2, a3) = (-2/3, -2/15, -2/35); still on every half beat:
    only even harmonics, a2 = -2/3. No sine terms either way; a1 is minus the dip."""
    beats = np.arange(0, 11) * 0.5
    t = np.arange(5 * FPS + 1) / FPS
    on, half = _still(len(t) / FPS), _still(len(t) / FPS)
    on[:, 9, 0] += 0.2 * np.cos(np.pi * t / 0.5)
    half[:, 9, 0] += 0.2 * np.cos(2 * np.pi * t / 0.5)
    np.testing.assert_allclose(md.beat_profile(on, beats, fps=FPS), [-2 / 3, 0, -2 / 15, 0, -2 / 35, 0], atol=0.02)
    np.testing.assert_allclose(md.beat_profile(half, beats, fps=FPS), [0, 0, -2 / 3, 0, 0, 0], atol=0.03)
    assert md.beat_profile(on, beats, fps=FPS)[0] == pytest.approx(-md.beat_dip(on, beats, fps=FPS), abs=1e-12)
    assert md.beat_profile(on, beats, fps=FPS, harmonics=1).shape == (2,)
    assert np.isnan(md.beat_profile(on, beats[:1], fps=FPS)).all()


def test_hits_are_sharper_accents_than_the_same_path_danced_smoothly() -> None:
    """The same hand path twice: as a smooth sway, and as hits (moving at once to the next
    point, then holding)."""
    t = np.arange(8 * FPS) / FPS
    smooth, hits = _still(8), _still(8)
    smooth[:, 9, 1] += 0.3 * np.sin(np.pi * t)
    held = 0.3 * np.sin(np.pi * (np.floor(t * 4) / 4))  # a new point every quarter second, held
    hits[:, 9, 1] += held
    s, h = md.accent_sharpness(smooth, fps=FPS), md.accent_sharpness(hits, fps=FPS)
    assert h > 3 * s
    assert np.isnan(md.accent_sharpness(_still(8), fps=FPS))
    twice = smooth.copy()
    twice[:, 9, 1] = rest_pose(on_floor=True)[9, 1] + 0.6 * np.sin(np.pi * t)
    assert md.accent_sharpness(twice, fps=FPS) == pytest.approx(s, rel=1e-6)  # size does not count, only shape


def test_stance_tells_bent_knees_from_a_bent_torso() -> None:
    """Standing, a 15 cm knee bend (the body lowered over planted ankles) and a nod (the head
    lowered 20 cm over straight legs): each height moves alone, by its amount."""
    stand = _still(2)
    hip, head = md.stance(stand)
    assert 0.6 < hip < 1.0 and 0.3 < head < 0.8
    knees = stand.copy()
    body = [j for j in range(17) if j not in (*md.LEGS, JOINT_INDEX["left_knee"], JOINT_INDEX["right_knee"])]
    knees[:, body, 1] -= 0.15
    k_hip, k_head = md.stance(knees)
    assert k_hip == pytest.approx(hip - 0.15, abs=1e-9) and k_head == pytest.approx(head, abs=1e-9)
    bow = stand.copy()
    upper = [JOINT_INDEX[n] for n in ("nose", "left_eye", "right_eye", "left_ear", "right_ear")]
    bow[:, upper, 1] -= 0.2
    b_hip, b_head = md.stance(bow)
    assert b_hip == pytest.approx(hip, abs=1e-9) and b_head == pytest.approx(head - 0.2, abs=1e-9)
    one_foot = stand.copy()
    one_foot[:, JOINT_INDEX["left_ankle"], 1] += 0.3  # a raised foot: the standing one counts
    assert md.stance(one_foot)[0] == pytest.approx(hip, abs=1e-9)
    assert all(np.isnan(md.stance(stand[:0])))


def test_off_floor_counts_frames_with_the_whole_body_in_the_air() -> None:
    """Standing counts 0; one foot raised 40 cm still stands; the whole body 20 cm up for a
    quarter of the frames (a jump, or hovering feet) counts that quarter; 10 cm up does not."""
    stand = _still(4)
    assert md.off_floor(stand) == 0.0
    one_foot = stand.copy()
    one_foot[:, JOINT_INDEX["left_ankle"], 1] += 0.4
    assert md.off_floor(one_foot) == 0.0
    jump = stand.copy()
    jump[: len(jump) // 4, :, 1] += 0.2
    assert md.off_floor(jump) == pytest.approx(0.25)
    low = stand.copy()
    low[:, :, 1] += 0.1  # under OFF_FLOOR_M (0.12)
    assert md.off_floor(low) == 0.0
    assert np.isnan(md.off_floor(stand[:0]))


def test_straight_legs_reads_the_share_of_leg_frames_at_full_length() -> None:
    stand = np.repeat(rest_pose(on_floor=True)[None], 10, axis=0).astype(np.float64)  # legs at 99.9 %
    assert md.straight_legs(stand) == 1.0
    bent = stand.copy()
    bent[:, 13, 2] += 0.1  # the left knee forward: that leg at about 98 % of its length
    bent[5:, 14, 2] += 0.1  # the right one too, from the sixth frame
    assert md.straight_legs(bent) == pytest.approx(0.25)
    assert md.straight_legs(bent, at=0.95) == 1.0
    assert np.isnan(md.straight_legs(stand[:0]))


def test_floor_gap_reads_how_high_a_standing_dancer_hovers_over_the_floor() -> None:
    """Standing on the floor reads 0, the whole body 3 cm up reads 0.03; one foot raised reads
    the other; a jump (20 cm up for a quarter of the frames) is left out; a crouch never stands."""
    stand = _still(4)
    assert md.floor_gap(stand) == pytest.approx(0.0, abs=1e-6)
    hover = stand.copy()
    hover[:, :, 1] += 0.03
    assert md.floor_gap(hover) == pytest.approx(0.03, abs=1e-6)
    one_foot = hover.copy()
    one_foot[:, JOINT_INDEX["left_ankle"], 1] += 0.3
    assert md.floor_gap(one_foot) == pytest.approx(0.03, abs=1e-6)
    jump = hover.copy()
    jump[: len(jump) // 4, :, 1] += 0.2
    assert md.floor_gap(jump) == pytest.approx(0.03, abs=1e-6)
    low = stand.copy()
    low[:, [JOINT_INDEX["left_hip"], JOINT_INDEX["right_hip"]], 1] = 0.5
    assert np.isnan(md.floor_gap(low)) and np.isnan(md.floor_gap(stand[:0]))


def test_under_floor_counts_frames_with_a_joint_through_the_floor() -> None:
    stand = _still(4)
    assert md.under_floor(stand) == 0.0
    hand = stand.copy()
    hand[: len(hand) // 2, JOINT_INDEX["right_wrist"], 1] = -0.02
    assert md.under_floor(hand) == pytest.approx(0.5)


def test_skating_counts_a_foot_moving_fast_on_the_floor_not_a_slow_or_raised_one() -> None:
    """The left foot glides along the floor at 0.8 m/s (skating), then at 0.3 m/s (a slow slide,
    not skating), then 3 cm up at 0.8 m/s (in contact by the sliding figure, a step by this one);
    the right stands: a third of the left foot's contact steps skate, a sixth of both feet's."""
    p = _still(9)
    n = len(p)
    third = n // 3
    v = np.r_[np.full(third, 0.8), np.full(third, 0.3), np.full(n - 2 * third, 0.8)]
    p[:, JOINT_INDEX["left_ankle"], 0] += np.cumsum(v) / FPS
    p[2 * third:, JOINT_INDEX["left_ankle"], 1] += 0.03
    assert md.skating(p, fps=FPS) == pytest.approx(1 / 6, abs=0.01)
    assert md.skating(_still(4), fps=FPS) == 0.0
    assert np.isnan(md.skating(_still(4)[:1], fps=FPS))


def test_made_pops_counts_jumps_the_raw_dance_did_not_have() -> None:
    """A knee moved 30 cm in one frame of ten where the raw dance moved it 1 cm counts that frame
    step; the same jump drawn by the model (raw as shown) does not."""
    raw = _still(1)[:11].astype(np.float64)
    shown = raw.copy()
    shown[5:, JOINT_INDEX["left_knee"], 0] += 0.3
    raw[5:, JOINT_INDEX["left_knee"], 0] += 0.01
    assert md.made_pops(shown, raw, fps=FPS) == pytest.approx(0.1)
    assert md.made_pops(shown, shown, fps=FPS) == 0.0
