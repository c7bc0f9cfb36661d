"""Post-processing: projection, one-euro smoothing, mirror, hold, root handling."""

from __future__ import annotations

import numpy as np
import pytest

from live.post import PostProcessor
from model import skeleton as sk
from model.errors import ConfigError


def _pose(offset: tuple[float, float, float] = (0.0, 1.0, 0.0)) -> np.ndarray:
    return sk.rest_pose() + np.asarray(offset, np.float32)


def test_projection_restores_bone_lengths() -> None:
    rng = np.random.default_rng(0)
    post = PostProcessor(fps=30, smoothing=0.0)
    noisy = _pose() + rng.normal(scale=0.05, size=(17, 3)).astype(np.float32)
    assert sk.bone_length_error(noisy) > 0.05
    out = post.process(noisy)
    assert sk.bone_length_error(out) < 1e-5
    post.project_bones = False
    out = post.process(noisy)
    assert sk.bone_length_error(out) > 0.05


def test_center_keeps_root_at_origin_and_height_follow_keeps_trajectory() -> None:
    post = PostProcessor(fps=30, smoothing=0.0, root="center")
    p = _pose((1.5, 1.0, -2.0))
    out = post.process(p)
    r = sk.root_of(out)
    assert abs(r[0]) < 1e-6 and abs(r[2]) < 1e-6
    assert r[1] == pytest.approx(1.0, abs=1e-6)  # height (floor contact) kept
    np.testing.assert_allclose(out[sk.FEET, 1], p[sk.FEET, 1], atol=1e-5)
    post.set_root("follow")
    out = post.process(p)
    np.testing.assert_allclose(sk.root_of(out), [1.5, 1.0, -2.0], atol=1e-5)
    with pytest.raises(ConfigError):
        post.set_root("orbit")


def test_mirror_swaps_sides_and_negates_x() -> None:
    post = PostProcessor(fps=30, smoothing=0.0, root="follow", project_bones=False)
    p = _pose()
    p[sk.JOINT_INDEX["left_wrist"]] += [0.3, 0.5, 0.0]  # raise the left hand
    post.mirror = True
    out = post.process(p).copy()
    np.testing.assert_allclose(out, sk.mirror(p), atol=1e-6)
    rw = sk.JOINT_INDEX["right_wrist"]
    assert out[rw, 1] == pytest.approx(p[sk.JOINT_INDEX["left_wrist"], 1])


def test_hold_freezes_and_release_continues() -> None:
    post = PostProcessor(fps=30, smoothing=0.0)
    a = post.process(_pose()).copy()
    post.hold = True
    b = _pose()
    b[9] += [0.0, 0.6, 0.0]
    np.testing.assert_array_equal(post.process(b), a)
    np.testing.assert_array_equal(post.process(b), a)
    post.hold = False
    assert not np.allclose(post.process(b), a)


def test_one_euro_smooths_jitter_but_follows_fast_hits() -> None:
    rng = np.random.default_rng(3)
    base = _pose()
    # small jitter around a still pose is reduced a lot
    post = PostProcessor(fps=60, smoothing=0.6, project_bones=False, root="follow")
    post.process(base)
    raw, smooth = [], []
    for _ in range(120):
        p = base + rng.normal(scale=0.005, size=(17, 3)).astype(np.float32)
        raw.append(p[9].copy())
        smooth.append(post.process(p)[9].copy())
    jitter_raw = np.std(np.diff(np.asarray(raw), axis=0))
    jitter_out = np.std(np.diff(np.asarray(smooth), axis=0))
    assert jitter_out < 0.5 * jitter_raw
    # a fast hit (a 40 cm arm swing within one frame) is followed within two frames
    post = PostProcessor(fps=60, smoothing=0.6, project_bones=False, root="follow")
    for _ in range(10):
        post.process(base)
    hit = base.copy()
    hit[9] += [0.0, 0.4, 0.0]
    y0 = base[9, 1]
    ys = [post.process(hit)[9, 1] - y0 for _ in range(3)]
    assert ys[1] > 0.8 * 0.4, ys
    # a plain exponential filter with the same jitter reduction would lag far more
    assert ys[0] > 0.3 * 0.4, ys


def test_smoothing_zero_is_identity() -> None:
    post = PostProcessor(fps=30, smoothing=0.0, project_bones=False, root="follow")
    rng = np.random.default_rng(5)
    for _ in range(5):
        p = _pose() + rng.normal(scale=0.1, size=(17, 3)).astype(np.float32)
        np.testing.assert_allclose(post.process(p), p, atol=1e-6)


def test_process_returns_preallocated_buffer() -> None:
    post = PostProcessor(fps=30)
    a = post.process(_pose())
    b = post.process(_pose((0.1, 1.0, 0.0)))
    assert a is b and a.dtype == np.float32 and a.shape == (17, 3)


def test_bone_projector_matches_the_skeleton_reference() -> None:
    from live.post import BoneProjector

    rng = np.random.default_rng(7)
    proj = BoneProjector()
    out = np.zeros((17, 3), np.float32)
    for k in range(30):
        p = (_pose() + rng.normal(scale=0.1, size=(17, 3))).astype(np.float32)
        if k == 0:
            p[13] = p[11]  # a zero-length bone takes the rest direction
        np.testing.assert_allclose(proj(p, out), sk.project_to_lengths(p), atol=1e-5)
