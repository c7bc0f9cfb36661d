"""The style classifier (model/style_classifier.py) on a synthetic data set of known styles."""

from __future__ import annotations

import numpy as np
import pytest

from model import style_classifier as sc
from model.skeleton import JOINT_INDEX, mirror, rest_pose

FPS = 30


def _dance(style: str, seconds: float, seed: int) -> np.ndarray:
    """Three toy styles: arm waves, knee bends, hip sways; tempo, amplitude and noise vary."""
    rng = np.random.default_rng(seed)
    n = int(seconds * FPS)
    t = np.arange(n) / FPS
    hz = rng.uniform(0.8, 1.4)
    amp = rng.uniform(0.7, 1.3)
    p = np.repeat(rest_pose(on_floor=True)[None], n, axis=0).astype(np.float64)
    w = np.sin(2 * np.pi * hz * t + rng.uniform(0, 6))
    if style == "waves":
        p[:, JOINT_INDEX["left_wrist"], 1] += 0.3 * amp * w
        p[:, JOINT_INDEX["left_elbow"], 1] += 0.15 * amp * w
    elif style == "bends":
        p[:, :13, 1] -= 0.08 * amp * (1 + w)[:, None]
        p[:, [13, 14], 2] += 0.1 * amp * (1 + w)[:, None]
    else:
        p[:, :, 0] += 0.12 * amp * w[:, None]
        p[:, :5, 0] += 0.05 * amp * w[:, None]
    p += rng.normal(0, 0.005, p.shape)
    return mirror(p) if seed % 2 else p


STYLES = ("waves", "bends", "sways")


def _set(seeds: range, seconds: float = 20.0) -> dict[str, list[np.ndarray]]:
    return {s: [_dance(s, seconds, 100 * k + i) for i in seeds] for k, s in enumerate(STYLES)}


@pytest.mark.parametrize("kind", ["logreg", "knn"])
def test_the_classifier_recognises_the_styles_of_unseen_dances(kind: str) -> None:
    clf = sc.fit(_set(range(0, 4)), fps=FPS, kind=kind)
    acc = clf.accuracy(_set(range(10, 13)))
    assert set(acc) == set(STYLES) and min(acc.values()) >= 0.9, acc


def test_a_dance_of_one_style_is_not_recognised_as_another() -> None:
    clf = sc.fit(_set(range(0, 4)), fps=FPS)
    waves = _set(range(20, 22))["waves"]
    assert clf.accuracy({"bends": waves})["bends"] < 0.1
    assert clf.accuracy({"unknown": waves})["unknown"] == 0.0


def test_features_are_left_right_symmetric() -> None:
    d = _dance("waves", 8, 1)
    assert np.allclose(sc.window_features(d, fps=FPS), sc.window_features(mirror(d), fps=FPS))


def test_cross_validation_on_separable_styles_is_high() -> None:
    cv = sc.cross_validated(_set(range(0, 4), seconds=12.0), fps=FPS)
    assert min(cv.values()) >= 0.9


def test_fit_needs_two_styles_and_a_known_kind() -> None:
    with pytest.raises(ValueError, match="two styles"):
        sc.fit({"waves": [_dance("waves", 8, 0)]}, fps=FPS)
    with pytest.raises(ValueError, match="logreg"):
        sc.fit(_set(range(2)), fps=FPS, kind="svm")


def _coupled(in_phase: bool, seconds: float, seed: int) -> np.ndarray:
    """Wrist and knee swinging together or against each other: every joint's own mean,
    spread and kinetic energy are the same in both styles, only which poses co-occur differs."""
    rng = np.random.default_rng(seed)
    n = int(seconds * FPS)
    t = np.arange(n) / FPS
    w = np.sin(2 * np.pi * rng.uniform(0.8, 1.2) * t + rng.uniform(0, 6))
    p = np.repeat(rest_pose(on_floor=True)[None], n, axis=0).astype(np.float64)
    p[:, JOINT_INDEX["left_wrist"], 1] += 0.25 * w
    p[:, JOINT_INDEX["left_knee"], 2] += 0.15 * (w if in_phase else -w)
    return p + rng.normal(0, 0.003, p.shape)


def test_the_bag_of_poses_sees_which_joints_move_together() -> None:
    def dances(seeds: range) -> dict[str, list[np.ndarray]]:
        return {"together": [_coupled(True, 16, s) for s in seeds], "against": [_coupled(False, 16, s) for s in seeds]}

    summary_only = sc.fit(dances(range(4)), fps=FPS, codebook=0).accuracy(dances(range(10, 13)))
    with_bag = sc.fit(dances(range(4)), fps=FPS, codebook=16).accuracy(dances(range(10, 13)))
    assert min(with_bag.values()) >= 0.9, with_bag
    assert min(summary_only.values()) < 0.8, summary_only  # the summary features cannot tell them apart
    book = sc.fit_codebook(dances(range(2))["together"], fps=FPS, k=8)
    d = _coupled(False, 6, 3)
    np.testing.assert_allclose(book.bag(d, fps=FPS), book.bag(mirror(d), fps=FPS), atol=1e-9)


def _hits(sharp: bool, seconds: float, seed: int) -> np.ndarray:
    """The wrist goes between the same two heights once a beat: smoothly (a sine) or as a hit
    (a quick snap, then a hold). The same poses and the same distance per beat."""
    rng = np.random.default_rng(seed)
    n = int(seconds * FPS)
    ph = (np.arange(n) / FPS) * rng.uniform(1.6, 2.2) + rng.uniform(0, 1)
    if sharp:
        frac = np.clip((ph % 1.0) / 0.15, 0.0, 1.0)  # 15 % of the beat moving, then still
        level = (np.floor(ph) % 2 + frac * np.where(np.floor(ph) % 2 == 0, 1, -1))
    else:
        level = 0.5 - 0.5 * np.cos(np.pi * ph)
    p = np.repeat(rest_pose(on_floor=True)[None], n, axis=0).astype(np.float64)
    p[:, JOINT_INDEX["right_wrist"], 1] += 0.35 * level
    p += rng.normal(0, 0.0002, p.shape)
    return p


def test_timing_features_tell_hits_from_flow() -> None:
    hit, flow = (sc.timing_features(_hits(s, 4.0, 3), fps=FPS) for s in (True, False))
    n = 6 + len(sc.TIMING_LAGS)
    arm_hit, arm_flow = hit[2 * n: 3 * n], flow[2 * n: 3 * n]  # the arms' values
    assert arm_hit[4] > arm_flow[4] + 0.3  # still share: holds
    assert arm_hit[3] > arm_flow[3]  # 90 % quantile over the mean: the snaps
    assert hit.shape == (sc.N_TIMING,) and np.isfinite(hit).all()
    clf = sc.fit({"hits": [_hits(True, 12.0, i) for i in range(3)],
                  "flow": [_hits(False, 12.0, 10 + i) for i in range(3)]}, fps=FPS)
    acc = clf.accuracy({"hits": [_hits(True, 12.0, 50)], "flow": [_hits(False, 12.0, 60)]})
    assert min(acc.values()) >= 0.9, acc


def test_stretch_plays_a_dance_faster_or_slower() -> None:
    d = _coupled(True, 4.0, 1)
    assert np.array_equal(sc.stretch(d, 1.0), d.astype(np.float32))
    fast, slow = sc.stretch(d, 2.0), sc.stretch(d, 0.5)
    assert len(fast) == 61 and len(slow) == 239
    np.testing.assert_allclose(fast[:60], d[::2].astype(np.float32), atol=1e-6)  # every second frame
    np.testing.assert_allclose(fast[-1], d[-1], atol=1e-6)  # up to the last
    np.testing.assert_allclose(slow[::2], d.astype(np.float32), atol=1e-6)  # the frames, with midpoints between
    np.testing.assert_allclose(slow[1], 0.5 * (d[0] + d[1]), atol=1e-6)


def _paced(in_phase: bool, hz: float, seed: int) -> np.ndarray:
    """``_coupled`` with a weak coupling (the knee 5 cm) at ``hz`` (within 3 %)."""
    rng = np.random.default_rng(seed)
    t = np.arange(16 * FPS) / FPS
    w = np.sin(2 * np.pi * hz * rng.uniform(0.97, 1.03) * t + rng.uniform(0, 6))
    p = np.repeat(rest_pose(on_floor=True)[None], len(t), axis=0).astype(np.float64)
    p[:, JOINT_INDEX["left_wrist"], 1] += 0.25 * w
    p[:, JOINT_INDEX["left_knee"], 2] += 0.05 * (w if in_phase else -w)
    return p + rng.normal(0, 0.003, p.shape)


def test_tempo_copies_make_the_classifier_read_the_moves_not_the_tempo() -> None:
    # the training data ties each style to a tempo (as synth_v5 does: contemporary's songs are
    # 67-75 bpm, locking's 110-131); danced at each other's tempo, the styles are told apart by
    # the moves only when the classifier also saw the dances played faster and slower
    train = {"together": [_paced(True, 0.8, s) for s in range(4)], "against": [_paced(False, 1.2, 10 + s) for s in range(4)]}
    swapped = {"together": [_paced(True, 1.1, 20 + s) for s in range(3)],
               "against": [_paced(False, 0.9, 30 + s) for s in range(3)]}
    plain = sc.fit(train, fps=FPS, tempo_stretch=()).accuracy(swapped)
    copies = sc.fit(train, fps=FPS).accuracy(swapped)
    assert min(plain.values()) < 0.5, plain  # it reads the tempo
    assert min(copies.values()) >= 0.9, copies
    own, moved = sc.cross_validated_tempi({**train, "sways": _set(range(4), seconds=16.0)["sways"]}, fps=FPS,
                                          tempi={"together": [48.0] * 4, "against": [72.0] * 4}, at_bpm=(60.0,))
    assert set(own) == set(moved) == {"together", "against", "sways"}
    assert np.isnan(moved["sways"]) and 0.0 <= moved["together"] <= 1.0  # no tempo: not played at others
