"""Bar-pointer HMM forward pass on idealised activations (exact beats with noise)."""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest

from model.beat_hmm import BarPointerHMM

FPS = 30


def _grid(bpm: float, seconds: float, change: tuple[float, float] | None = None, t0: float = 0.3) -> np.ndarray:
    out, t = [], t0
    while t < seconds:
        out.append(t)
        t += 60.0 / (bpm if change is None or t < change[0] else change[1])
    return np.asarray(out)


def _activation(beats: np.ndarray, bpb: int, seconds: float, *, offbeat: float = 0.0,
                seed: int = 0) -> np.ndarray:
    """Probabilities (none, beat, downbeat) per 30 Hz frame: a peak on each beat's frame
    (downbeat class on every ``bpb``-th), optional off-beat peaks, some noise."""
    n = int(seconds * FPS)
    rng = np.random.default_rng(seed)
    p = np.zeros((n, 3))
    p[:, 0] = 1.0
    for k, t in enumerate(beats):
        i = int(math.floor(t * FPS))
        if i < n:
            p[i] = (0.2, 0.0, 0.8) if k % bpb == 0 else (0.2, 0.8, 0.0)
        if offbeat and k + 1 < len(beats):
            j = int(math.floor(0.5 * (t + beats[k + 1]) * FPS))
            if j < n:
                p[j] = (1.0 - offbeat, offbeat, 0.0)
    p[:, 1] += rng.uniform(0.0, 0.1, n)
    return p / p.sum(axis=1, keepdims=True)


def _run(h: BarPointerHMM, p: np.ndarray, weight: float = 1.0) -> list[int]:
    return [h.step(float(a), float(b), float(c), weight) for a, b, c in p]


def _bpm(h: BarPointerHMM, s: int) -> float:
    return 60.0 * h.ticks / float(h.period[s])


def _beat_frames(h: BarPointerHMM, states: list[int]) -> np.ndarray:
    """Frames in which the MAP state sits in a beat zone."""
    return np.array([i for i, s in enumerate(states) if h.within[s] < h.adv])


def test_finds_tempo_and_metre_of_a_four_four_pulse() -> None:
    h = BarPointerHMM()
    beats = _grid(124, 20)
    states = _run(h, _activation(beats, 4, 20))
    s = states[-1]
    assert abs(_bpm(h, s) - 124) / 124 < 0.02
    assert h.metres[h.metre_idx[s]] == 4
    conf, tempo = h.summary()
    assert conf > 0.5 and abs(tempo - 124) < 2


def test_infers_three_four_metre_even_when_four_is_preferred() -> None:
    h = BarPointerHMM(prefer=4)
    beats = _grid(100, 20)
    states = _run(h, _activation(beats, 3, 20))
    s = states[-1]
    assert h.metres[h.metre_idx[s]] == 3
    # the MAP downbeats fall on the downbeats
    down = [i for i, st in enumerate(states[300:], 300) if h.within[st] < h.adv and h.beat_idx[st] == 0]
    truth = np.floor(beats[::3] * FPS)
    assert all(np.min(np.abs(truth - i)) <= 1 for i in down)


def test_off_beat_peaks_do_not_pull_the_beat_off() -> None:
    h = BarPointerHMM()
    beats = _grid(120, 20)
    states = _run(h, _activation(beats, 4, 20, offbeat=0.6))
    frames = _beat_frames(h, states[150:]) + 150
    truth = np.floor(beats * FPS)
    on = np.mean([np.min(np.abs(truth - f)) <= 1 for f in frames])
    assert on > 0.95
    assert abs(_bpm(h, states[-1]) - 120) < 3  # not double tempo


def test_relocks_within_two_seconds_of_an_abrupt_tempo_change() -> None:
    h = BarPointerHMM()
    beats = _grid(100, 30, change=(15.0, 140.0))
    states = _run(h, _activation(beats, 4, 30))
    first_new = beats[beats >= 15.0][0]
    after = int((first_new + 2.0) * FPS)
    assert abs(_bpm(h, states[after]) - 140) / 140 < 0.03
    frames = _beat_frames(h, states[after:]) + after
    truth = np.floor(beats * FPS)
    assert np.mean([np.min(np.abs(truth - f)) <= 1 for f in frames]) > 0.95


def test_tempo_holds_without_evidence() -> None:
    h = BarPointerHMM()
    beats = _grid(128, 10)
    _run(h, _activation(beats, 4, 10))
    quiet = np.tile([1.0, 0.0, 0.0], (150, 1))
    states = _run(h, quiet, weight=0.0)
    assert all(abs(_bpm(h, s) - 128) < 4 for s in states)


def test_step_allocates_no_state_sized_arrays() -> None:
    # numpy's own small buffers (index/ufunc buffering) are allowed; a copy of the
    # posterior is not
    h = BarPointerHMM()
    p = _activation(_grid(120, 5), 4, 5)
    _run(h, p[:30])
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    _run(h, p[30:])
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak - before < 0.3 * h.alpha.nbytes


def test_nudge_shift_moves_positions_by_a_fraction_of_the_period() -> None:
    h = BarPointerHMM()
    _run(h, _activation(_grid(120, 10), 4, 10))
    s0 = h.map_state
    h.shift(0.5)
    s1 = h.map_state
    per = int(h.period[s0])
    assert h.period[s1] == per
    assert (h.pos[s1] - h.pos[s0]) % (per * h.metres[h.metre_idx[s0]]) == per // 2


def _dense_step(h: BarPointerHMM, alpha: np.ndarray, p: tuple[float, float, float]) -> np.ndarray:
    """The forward step written out plainly from the model's definition: every state moves
    ADV ticks; one crossing a beat boundary may change tempo (and metre at the bar)."""
    index = {(int(h.metre_idx[i]), int(h.period[i]), int(h.pos[i])): i for i in range(h.n_states)}
    periods = [int(t) for t in h.periods]
    nt = len(periods)
    a = np.exp(-h.lam_tempo * np.abs(np.asarray(periods)[None, :] / np.asarray(periods)[:, None] - 1.0))
    a /= a.sum(axis=1, keepdims=True)
    o0 = max(p[0], 1e-6) / (h.lam_obs - 1.0)
    o1 = max(p[1] + h.g_cross * p[2], h.zone_floor * o0)
    o2 = max(p[2] + h.g_cross * p[1], h.zone_floor * o0)
    new = np.zeros(h.n_states)
    for i in range(h.n_states):
        mi, t, pos = int(h.metre_idx[i]), int(h.period[i]), int(h.pos[i])
        m = h.metres[mi]
        w = pos % t + h.adv
        if w < t:
            new[index[(mi, t, pos + h.adv)]] += alpha[i] * o0
            continue
        beat, over = (pos // t + 1) % m, w - t
        for ti2, t2 in enumerate(periods):
            pt = (1.0 - h.jump) * a[periods.index(t), ti2] + h.jump / nt
            for mi2 in range(len(h.metres)):
                if beat != 0 and mi2 != mi:
                    continue
                pm = 1.0 if beat != 0 else (1.0 - h.switch_metre if mi2 == mi else h.switch_metre)
                obs = o2 if beat == 0 else o1
                new[index[(mi2, t2, beat * t2 + over)]] += alpha[i] * pt * pm * obs
    return new / new.sum()


@pytest.mark.parametrize("switch_metre", [None, 0.05])
def test_step_equals_the_plainly_written_forward_pass(switch_metre: float | None) -> None:
    h = BarPointerHMM(min_bpm=110, max_bpm=130)
    if switch_metre is not None:  # rebuild() must carry a new metre switching into the step
        h.switch_metre = switch_metre
        h.rebuild()
    rng = np.random.default_rng(3)
    alpha = rng.uniform(0.0, 1.0, h.n_states)
    alpha /= alpha.sum()
    h.alpha[:] = alpha
    checked = 0
    for k in range(600):  # past a wrap of the ring buffer
        x = rng.dirichlet([4.0, 1.0, 0.5])
        p = (float(x[0]), float(x[1]), float(x[2]))
        before = h.alpha.copy() if k % 60 == 0 or k > 596 else None
        s = h.step(*p)
        if before is not None:
            want = _dense_step(h, before, p)
            np.testing.assert_allclose(h.alpha, want, rtol=1e-9, atol=1e-15)
            assert s == int(np.argmax(want))
            checked += 1
    assert checked == 13


def test_map_state_is_the_argmax_of_the_posterior_at_every_step() -> None:
    # the step finds the MAP state among the crossing states while the last one does not
    # cross; it must still be the posterior's argmax, through changes, breaks and a shift
    h = BarPointerHMM()
    beats = _grid(100, 30, change=(12.0, 137.0))
    p = _activation(beats, 4, 30, offbeat=0.4, seed=5)
    rng = np.random.default_rng(2)
    crossed = 0
    for k, (a, b, c) in enumerate(p):
        w = 0.0 if 450 <= k < 500 else float(rng.uniform(0.3, 1.0))
        if k == 600:
            h.shift(0.25)
        crossed += bool(h.within[h.map_state] >= h.period[h.map_state] - h.adv)
        s = h.step(float(a), float(b), float(c), w)
        assert s == int(np.argmax(h.posterior())), k
    assert 30 < crossed < 300  # the fast path ran on most steps, the full argmax on some
