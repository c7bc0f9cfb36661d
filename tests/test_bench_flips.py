"""bench/flips.py's greedy bound: a move danced again on the same side is shown on the other one,
which lifts its repetition ratio; a move that is its own mirror cannot be lifted."""

from __future__ import annotations

import numpy as np

from bench.flips import greedy_sides
from model import metrics_dancer as md
from model import skeleton as sk

FPS = 30


def _dance(move_a: np.ndarray, move_b: np.ndarray) -> np.ndarray:
    """A for 3 s, B for 3 s, A again for 3 s: [270, 17, 3] (root at the origin)."""
    return np.concatenate([move_a, move_b, move_a])


def _move(joint_offsets: dict[int, np.ndarray], seed: int) -> np.ndarray:
    """3 s of the rest pose with the given joints swinging (each its own phase and size)."""
    rng = np.random.default_rng(seed)
    t = np.arange(3 * FPS) / FPS
    p = np.repeat(sk.rest_pose()[None], len(t), axis=0)
    for j, off in joint_offsets.items():
        p[:, j] += np.sin(2 * np.pi * (0.7 + rng.random()) * t + rng.random() * 6)[:, None] * off
    return p


def test_the_greedy_bound_shows_a_one_sided_repeat_on_the_other_side() -> None:
    lw, rw = sk.JOINT_INDEX["left_wrist"], sk.JOINT_INDEX["right_wrist"]
    le = sk.JOINT_INDEX["left_elbow"]
    a = _move({lw: np.array([0.5, 0.4, 0.1]), le: np.array([0.2, 0.2, 0.0])}, seed=1)  # the left arm alone
    b = _move({rw: np.array([0.1, -0.3, 0.4]), lw: np.array([0.0, 0.0, 0.3])}, seed=2)
    p = _dance(a, b)
    before = md.repetition(p, fps=FPS).min()
    shown, sides = greedy_sides(p, fps=FPS)
    after = md.repetition(shown, fps=FPS).min()
    assert before < 0.05 and after > 0.3, (before, after)
    assert sides[0] == 0 and sides[-1] == 1  # the repeat at the end is the one shown mirrored
    assert np.allclose(sk.root_of(shown), sk.root_of(p)) and sk.bone_length_error(shown) < 1e-9 + sk.bone_length_error(p)
    # a move that is its own mirror (both arms alike) stays a repeat on either side
    t = np.arange(3 * FPS) / FPS
    sym = np.repeat(sk.rest_pose()[None], len(t), axis=0)
    swing = np.sin(2 * np.pi * 0.9 * t)[:, None]
    sym[:, lw] += swing * np.array([0.3, 0.3, 0.0])
    sym[:, rw] += swing * np.array([-0.3, 0.3, 0.0])
    assert np.allclose(sk.mirror(sym), sym)
    q = _dance(sym, b)
    assert md.repetition(greedy_sides(q, fps=FPS)[0], fps=FPS).min() < 0.05
