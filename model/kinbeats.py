"""The dancer's own pulse: kinematic beats, tempo, phase and a beat grid that follows the
dancer (numpy only).

A take of motion capture comes without music. To give it music whose beats land on the
dance, ``find_pulse(poses, fps)`` reads the beat from the motion itself:

1. **Kinematic novelty.** Dancers mark beats by stopping or turning a movement: a beat is
   where a limb decelerates (local minima of joint speed, Kim et al. 2003) or a foot lands.
   The novelty curve sums each joint's deceleration (-d|v|/dt, positive part; positions
   relative to the root plus the root itself), the root's downward-to-upward turn (vertical
   oscillation) and foot landings (an ankle that was moving comes to rest near the floor).
   Its peaks are the *kinematic beats*; the landings alone are the *steps*.
2. **Tempo that may drift.** A windowed autocorrelation of the novelty (8 s windows, 1 s
   hop) scored over beat periods with a comb (the period, its double and its half) and a
   log-normal tempo prior; a Viterbi path through the windows lets the tempo drift slowly
   (a penalty on log-period change between windows).
3. **Beat grid.** Dynamic-programming beat tracking (Ellis 2007) with the local period
   places one beat per period on the novelty; then the beat times are refined by a
   smooth fit (least squares with a second-difference penalty) to the kinematic beats they
   caught, so the grid is a tempo map that follows the dancer without jitter. Beats run
   from the first to the last frame (pauses included: a salsa dancer does not step on
   counts 4 and 8, the grid still has those beats).
4. **Counts.** With ``beats_per_bar`` (4; salsa 8-count = two bars), the bar phase is the
   one whose first beat carries the most step energy and whose last beat the least (the
   salsa pause); ``Pulse.counts`` numbers each beat 1..8 (two bars).

``Pulse.fit`` is the share of kinematic beats within ``FIT_TOL_S`` (70 ms) of a grid beat.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from model.skeleton import JOINT_INDEX

__all__ = ["FIT_TOL_S", "Pulse", "beat_fit", "find_pulse", "kinematic_novelty", "step_times"]

FIT_TOL_S = 0.07
"""A kinematic beat counts as on the grid within this many seconds of a grid beat."""
_ANKLES = (JOINT_INDEX["left_ankle"], JOINT_INDEX["right_ankle"])
_HIPS = (JOINT_INDEX["left_hip"], JOINT_INDEX["right_hip"])


@dataclass
class Pulse:
    """The pulse of one take. Times in seconds from the first frame.

    novelty: [shape=(t,)] kinematic novelty per frame (0..1); kin_beats: its peaks;
    steps: foot landings with step_feet (0 left, 1 right); beats: the grid (every beat);
    tempo_bpm: median tempo; tempo_curve: bpm of each beat interval [shape=(len(beats)-1,)];
    counts: count of each beat 1..2*beats_per_bar; downbeats: beats counted 1 (and
    beats_per_bar + 1); fit: share of kin_beats within FIT_TOL_S of a beat; step_fit: same
    for the steps; steps_per_count: steps landing on each count (index 0 = count 1).
    """

    fps: float
    novelty: np.ndarray
    kin_beats: np.ndarray
    steps: np.ndarray
    step_feet: np.ndarray
    beats: np.ndarray
    tempo_bpm: float
    tempo_curve: np.ndarray
    counts: np.ndarray
    beats_per_bar: int
    fit: float
    step_fit: float
    steps_per_count: np.ndarray = field(default_factory=lambda: np.zeros(8))

    @property
    def downbeats(self) -> np.ndarray:
        return self.beats[(self.counts - 1) % self.beats_per_bar == 0]

    @property
    def coverage(self) -> float:
        """Share of grid beats with a kinematic beat within FIT_TOL_S (the other direction)."""
        return beat_fit(self.beats, self.kin_beats)

    @property
    def chance(self) -> float:
        """The fit a grid this dense would reach with kinematic beats at random times."""
        return min(1.0, 2.0 * FIT_TOL_S * self.tempo_bpm / 60.0)

    def summary(self) -> dict[str, object]:
        """A JSON-friendly summary: tempo (median, 5th and 95th percentile of the beat
        intervals), fits both ways, the chance level of the fit, steps per count."""
        tc = self.tempo_curve if self.tempo_curve.size else np.array([self.tempo_bpm])
        lo, hi = np.percentile(tc, [5, 95])
        return {"tempo_bpm": round(self.tempo_bpm, 2), "tempo_p5": round(float(lo), 2),
                "tempo_p95": round(float(hi), 2), "beats": int(len(self.beats)),
                "kin_beats": int(len(self.kin_beats)), "fit_70ms": round(self.fit, 3),
                "coverage_70ms": round(self.coverage, 3), "chance_70ms": round(self.chance, 3),
                "steps": int(len(self.steps)), "step_fit_70ms": round(self.step_fit, 3),
                "steps_per_count": [int(x) for x in self.steps_per_count]}


# ----------------------------------------------------------------------------- signals


def _smooth(x: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian smoothing along axis 0 (sigma in frames; edges reflected)."""
    if sigma <= 0:
        return np.asarray(x, dtype=np.float64)
    r = max(1, int(round(3 * sigma)))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    k /= k.sum()
    x = np.asarray(x, dtype=np.float64)
    pad = [(r, r)] + [(0, 0)] * (x.ndim - 1)
    xp = np.pad(x, pad, mode="reflect") if len(x) > r else np.pad(x, pad, mode="edge")
    flat = xp.reshape(len(xp), -1)
    out = np.stack([np.convolve(flat[:, c], k, mode="valid") for c in range(flat.shape[1])], axis=1)
    return out.reshape((len(x),) + x.shape[1:])


def _speed(p: np.ndarray, fps: float) -> np.ndarray:
    """|velocity| [shape=(t, ...)] of positions [shape=(t, ..., 3)] by central differences."""
    v = np.gradient(p, axis=0) * fps
    return np.linalg.norm(v, axis=-1)


def _peaks(x: np.ndarray, *, min_gap: int, rel: float = 0.1) -> np.ndarray:
    """Indices of local maxima of ``x`` above ``rel`` x its 95th percentile, at least
    ``min_gap`` frames apart (the larger wins)."""
    if len(x) < 3:
        return np.zeros(0, dtype=int)
    thr = rel * float(np.percentile(x, 95))
    cand = np.flatnonzero((x[1:-1] > x[:-2]) & (x[1:-1] >= x[2:]) & (x[1:-1] > thr)) + 1
    keep: list[int] = []
    for i in cand[np.argsort(-x[cand])]:
        if all(abs(int(i) - k) >= min_gap for k in keep):
            keep.append(int(i))
    return np.array(sorted(keep), dtype=int)


def step_times(poses: np.ndarray, fps: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Foot landings: an ankle that was off the floor or moving (for at least 0.1 s) comes
    to rest near its low level (contact: speed under 0.4 m/s and height within 6 cm of
    the take's low ankle level, with hysteresis).

    Returns (times s, foot 0/1, landing strength [shape=(t,)]: a 60 ms bump at each
    landing scaled by the speed the foot came in with)."""
    p = np.asarray(poses, dtype=np.float64)
    ank = _smooth(p[:, list(_ANKLES)], 0.02 * fps)
    speed = _speed(ank, fps)  # (t, 2)
    height = ank[..., 1]
    low = np.percentile(height, 5, axis=0)
    strength = np.zeros(len(p))
    times: list[float] = []
    feet: list[int] = []
    away_min = max(1, int(0.1 * fps))
    look = max(1, int(0.15 * fps))
    for f in range(2):
        h = height[:, f] - low[f]
        on = (speed[:, f] < 0.4) & (h < 0.06)
        off = (speed[:, f] > 0.6) | (h > 0.09)
        state, away = True, 0
        for i in range(len(p)):
            if state and off[i]:
                state, away = False, 0
            elif not state:
                away += 1
                if on[i]:
                    state = True
                    if away >= away_min:
                        times.append(i / fps)
                        feet.append(f)
                        strength[i] += float(speed[max(0, i - look):i + 1, f].max())
    strength = _smooth(strength, 0.03 * fps).ravel()
    order = np.argsort(times, kind="stable")
    return np.asarray(times)[order], np.asarray(feet, dtype=int)[order], strength


def kinematic_novelty(poses: np.ndarray, fps: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame kinematic novelty (0..1) and the step-landing strength [shape=(t,)]."""
    p = np.asarray(poses, dtype=np.float64)
    root = p[:, list(_HIPS)].mean(axis=1)
    rel = p - root[:, None]
    sm = 0.03 * fps
    body = np.concatenate([_smooth(rel, sm), _smooth(root, sm)[:, None]], axis=1)
    speed = _speed(body, fps)  # (t, 18)
    decel = np.maximum(-np.gradient(speed, axis=0) * fps, 0.0)
    # normalise each joint so quiet joints count, loud ones do not swamp
    scale = np.percentile(decel, 95, axis=0) + 1e-6
    nov = (decel / scale).mean(axis=1)
    # the root's vertical turn from going down to going up (weight landing)
    vy = np.gradient(_smooth(root[:, 1], 0.04 * fps)) * fps
    turn = np.maximum(np.gradient(vy) * fps, 0.0)
    turn /= np.percentile(turn, 95) + 1e-6
    _, _, land = step_times(p, fps)
    land = land / (np.percentile(land, 95) + 1e-6)
    total = _smooth(nov + 0.5 * turn + land, 0.02 * fps).ravel()
    total -= _smooth(total, 0.5 * fps).ravel()  # remove the slow trend
    total = np.maximum(total, 0.0)
    peak = float(np.percentile(total, 99)) + 1e-9
    return np.clip(total / peak, 0.0, 1.0), land


# ----------------------------------------------------------------------------- tempo


def _autocorr(x: np.ndarray, max_lag: int) -> np.ndarray:
    x = x - x.mean()
    n = len(x)
    f = np.fft.rfft(x, 2 * n)
    ac = np.fft.irfft(f * np.conj(f))[: max_lag + 1]
    ac /= np.arange(n, n - max_lag - 1, -1).clip(1)  # unbiased
    return ac / (ac[0] + 1e-12)


def _comb_scores(nov: np.ndarray, lags: np.ndarray, fps: float, prior_bpm: float,
                 cycle: int) -> np.ndarray:
    """Score of each candidate beat period (frames, fractional) for one window of novelty.

    ``cycle`` beats make one repeating figure (1: every beat alike; salsa: 4, three steps
    and a pause): the comb looks at the period, the figure and twice the figure."""
    max_lag = int(np.ceil(lags.max() * max(4, 2 * cycle))) + 2
    ac = _autocorr(nov, min(max_lag, len(nov) - 1))
    grid = np.arange(len(ac))

    def at(lag: np.ndarray) -> np.ndarray:
        return np.interp(lag, grid, ac, right=0.0)

    if cycle == 1:
        score = at(lags) + 0.5 * at(2 * lags) + 0.25 * at(0.5 * lags) + 0.25 * at(4 * lags)
    else:
        score = at(cycle * lags) + 0.5 * at(2 * cycle * lags) + 0.3 * at(lags)
    bpm = 60.0 * fps / lags
    prior = np.exp(-0.5 * (np.log2(bpm / prior_bpm) / 0.6) ** 2)
    return np.maximum(score, 0.0) * prior


def _tempo_path(nov: np.ndarray, fps: float, bpm_range: tuple[float, float], prior_bpm: float,
                cycle: int, win_s: float = 8.0, hop_s: float = 1.0,
                drift: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
    """Viterbi path of the beat period through sliding windows. Returns (window centres in
    frames, period in frames per window)."""
    lo, hi = bpm_range
    lags = 60.0 * fps / np.geomspace(hi, lo, 160)  # ascending periods
    win = int(min(len(nov), win_s * fps))
    hop = max(1, int(hop_s * fps))
    starts = list(range(0, max(1, len(nov) - win + 1), hop)) or [0]
    obs = np.stack([_comb_scores(nov[s:s + win], lags, fps, prior_bpm, cycle) for s in starts])
    obs = obs / (obs.max(axis=1, keepdims=True) + 1e-12)
    logp = np.log(obs + 1e-3)
    step = np.log(lags)[:, None] - np.log(lags)[None, :]
    trans = -0.5 * (step / drift) ** 2
    score = logp[0].copy()
    back = np.zeros((len(starts), len(lags)), dtype=int)
    for w in range(1, len(starts)):
        cand = score[None, :] + trans  # [to, from]
        back[w] = np.argmax(cand, axis=1)
        score = cand[np.arange(len(lags)), back[w]] + logp[w]
    path = np.zeros(len(starts), dtype=int)
    path[-1] = int(np.argmax(score))
    for w in range(len(starts) - 1, 0, -1):
        path[w - 1] = back[w, path[w]]
    centres = np.asarray(starts, dtype=np.float64) + win / 2.0
    return centres, lags[path]


# ----------------------------------------------------------------------------- beat grid


def _phase_grid(nov: np.ndarray, period: np.ndarray, pattern: tuple[float, ...]) -> tuple[np.ndarray, int]:
    """Beat frames following the per-frame ``period`` with the phase that best lines the
    ``pattern`` (weight per beat of the figure) up with the novelty; and the index of the
    first beat that is the figure's first beat."""
    cyc = len(pattern)
    phase = np.concatenate([[0.0], np.cumsum(1.0 / period[:-1])])  # beats since frame 0
    w = np.asarray(pattern, dtype=np.float64)
    best, best_off = -np.inf, 0.0
    for off in np.arange(0.0, cyc, 0.02):
        x = phase + off
        k = np.round(x)
        near = np.exp(-0.5 * ((x - k) / 0.08) ** 2)
        score = float(np.sum(nov * near * w[k.astype(int) % cyc]))
        if score > best:
            best, best_off = score, float(off)
    x = phase + best_off
    first = int(np.ceil(x[0]))
    ks = np.arange(first, int(np.floor(x[-1])) + 1)
    frames = np.interp(ks, x, np.arange(len(x), dtype=np.float64))
    start = int((-first) % cyc)  # grid index of the first beat with k % cyc == 0
    return frames, start


def _smooth_grid(beats: np.ndarray, targets: np.ndarray, weights: np.ndarray, lam: float) -> np.ndarray:
    """Beat times minimising sum w (b - target)^2 + lam * sum (second difference of b)^2."""
    n = len(beats)
    if n < 3:
        return beats
    d2 = np.zeros((n - 2, n))
    idx = np.arange(n - 2)
    d2[idx, idx], d2[idx, idx + 1], d2[idx, idx + 2] = 1.0, -2.0, 1.0
    eps = 1e-3  # unmatched beats stay near where the tracker put them
    a = np.diag(weights + eps) + lam * d2.T @ d2
    rhs = weights * targets + eps * beats
    return np.asarray(np.linalg.solve(a, rhs))


def _extend(beats: np.ndarray, end: float) -> tuple[np.ndarray, int]:
    """Extend a beat list (s) with its edge periods to cover [0, end]; also returns how
    many beats were put in front."""
    b = list(beats)
    if len(b) < 2:
        return np.asarray(b), 0
    p0, p1 = b[1] - b[0], b[-1] - b[-2]
    front = 0
    while b[0] - p0 >= 0:
        b.insert(0, b[0] - p0)
        front += 1
    while b[-1] + p1 <= end:
        b.append(b[-1] + p1)
    return np.asarray(b), front


def beat_fit(events: np.ndarray, beats: np.ndarray, tol: float = FIT_TOL_S) -> float:
    """Share of ``events`` (s) within ``tol`` of some beat."""
    e = np.asarray(events, dtype=np.float64)
    b = np.asarray(beats, dtype=np.float64)
    if e.size == 0 or b.size == 0:
        return 0.0
    k = np.clip(np.searchsorted(b, e), 1, len(b) - 1) if len(b) > 1 else np.zeros(len(e), dtype=int)
    d = np.minimum(np.abs(e - b[k]), np.abs(e - b[np.maximum(k - 1, 0)]))
    return float(np.mean(d <= tol))


def find_pulse(poses: np.ndarray | list[np.ndarray], fps: float, *,
               bpm_range: tuple[float, float] = (60.0, 200.0), prior_bpm: float = 110.0,
               pattern: tuple[float, ...] = (1.0,), beats_per_bar: int = 4, drift: float = 0.01,
               lam: float = 2.0) -> Pulse:
    """The dancer's pulse in ``poses`` [shape=(t, 17, 3)] metres y up at ``fps`` (or a list of
    such arrays of equal length: partners dancing to the same music, read together).

    bpm_range bounds the beat tempo; prior_bpm centres a (0.6-octave) prior; pattern weights
    the beats of the repeating figure (salsa (1, 1, 1, 0): steps on 1-2-3, pause on 4);
    drift is the allowed change of log-period per second of the tempo path; lam the
    stiffness of the grid against the kinematic beats (larger: steadier tempo).

    With a figure that has pauses, three readings of the tempo are tried (the path, 4/3 and
    3/4 of it: three even steps per figure read as beats is the usual confusion) and the one
    whose grid puts the steps on the figure's beats and not on its pauses wins."""
    takes = [np.asarray(p, dtype=np.float64) for p in (poses if isinstance(poses, list) else [poses])]
    sigs = [kinematic_novelty(p, fps) for p in takes]
    nov = np.mean([s[0] for s in sigs], axis=0)
    land = np.sum([s[1] for s in sigs], axis=0)
    kin = _peaks(nov, min_gap=max(1, int(0.12 * fps)), rel=0.2) / fps
    all_steps = [step_times(p, fps) for p in takes]
    steps = np.concatenate([s[0] for s in all_steps])
    feet = np.concatenate([s[1] for s in all_steps])
    order = np.argsort(steps, kind="stable")
    steps, feet = steps[order], feet[order]
    centres, periods = _tempo_path(nov, fps, bpm_range, prior_bpm, len(pattern), drift=drift)
    frames = np.arange(len(nov))
    period = np.interp(frames, centres, periods)
    factors = (1.0, 0.75, 4.0 / 3.0) if min(pattern) <= 0 else (1.0,)
    best: tuple[float, Pulse] | None = None
    for f in factors:
        bpm = 60.0 * fps / (period * f)
        if f != 1.0 and not (bpm_range[0] <= float(np.median(bpm)) <= bpm_range[1]):
            continue
        pulse = _pulse_on(nov, land, kin, steps, feet, period * f, fps, pattern, beats_per_bar, lam)
        spc = pulse.steps_per_count
        rest = [c for c in range(len(spc)) if pattern[c % len(pattern)] <= 0]
        share = float(spc[rest].sum()) / max(1, int(spc.sum()))
        contrast = 1.0 - share * len(spc) / max(1, len(rest))  # 1: no step on a pause, 0: even
        # fits above what a grid this dense would catch by chance
        chance = pulse.chance
        above = max(0.0, (pulse.step_fit - chance) / max(1e-6, 1.0 - chance))
        score = above * max(contrast, 0.0)
        if best is None or score > best[0] + 1e-9:
            best = (score, pulse)
    assert best is not None
    return best[1]


def _pulse_on(nov: np.ndarray, land: np.ndarray, kin: np.ndarray, steps: np.ndarray, feet: np.ndarray,
              period: np.ndarray, fps: float, pattern: tuple[float, ...], beats_per_bar: int,
              lam: float) -> Pulse:
    """The grid for one per-frame beat period: phase fit, pulled to the kinematic beats."""
    frames = np.arange(len(nov))
    raw_frames, first = _phase_grid(nov, period, pattern)
    raw = raw_frames / fps
    targets = raw.copy()
    weights = np.zeros(len(raw))
    per_s = np.interp(raw * fps, frames, period) / fps
    w_pat = np.asarray(pattern, dtype=np.float64)
    for i, t in enumerate(raw):
        if w_pat[(i - first) % len(pattern)] <= 0:
            continue  # a pause: no movement expected there
        near = kin[np.abs(kin - t) <= per_s[i] / 3.0]
        if near.size:
            strength = nov[np.clip(np.round(near * fps).astype(int), 0, len(nov) - 1)]
            targets[i] = near[int(np.argmax(strength))]
            weights[i] = 1.0
    grid = _smooth_grid(raw, targets, weights, lam)
    grid, _ = _extend(grid, (len(nov) - 1) / fps)
    tempo_curve = 60.0 / np.diff(grid) if len(grid) > 1 else np.zeros(0)
    tempo = float(np.median(tempo_curve)) if tempo_curve.size else 0.0
    counts, per_count = _counts(grid, steps, land, fps, beats_per_bar, pattern)
    return Pulse(fps=fps, novelty=nov.astype(np.float32), kin_beats=kin, steps=steps, step_feet=feet,
                 beats=grid, tempo_bpm=tempo, tempo_curve=tempo_curve, counts=counts,
                 beats_per_bar=beats_per_bar, fit=beat_fit(kin, grid), step_fit=beat_fit(steps, grid),
                 steps_per_count=per_count)


def _counts(grid: np.ndarray, steps: np.ndarray, land: np.ndarray, fps: float,
            beats_per_bar: int, pattern: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Count (1..2*beats_per_bar) of each grid beat and the steps landing on each count.

    A figure with pauses (salsa (1, 1, 1, 0)) is turned so its pauses sit on the beats with
    the fewest steps (count 1 follows a pause); otherwise count 1 is the beat of the bar
    with the most step energy against the beat before it."""
    n = len(grid)
    cycle = 2 * beats_per_bar
    if n == 0:
        return np.zeros(0, dtype=int), np.zeros(cycle, dtype=int)
    on_beat = np.zeros(0, dtype=int)
    if steps.size:
        k = np.abs(steps[:, None] - grid[None, :]).argmin(axis=1)
        on_beat = k[np.abs(steps - grid[k]) <= FIT_TOL_S]
    cyc = len(pattern)
    if min(pattern) <= 0 and beats_per_bar % cyc == 0:
        per_phase = np.bincount(on_beat % cyc, minlength=cyc).astype(np.float64)
        w = np.asarray(pattern, dtype=np.float64)
        best = int(np.argmax([np.sum(w[(np.arange(cyc) - r) % cyc] * per_phase) for r in range(cyc)]))
    else:
        idx = np.clip(np.round(grid * fps).astype(int), 0, len(land) - 1)
        half = max(1, int(0.05 * fps))
        energy = np.array([land[max(0, i - half):i + half + 1].max() for i in idx])
        per_bar = np.array([energy[k::beats_per_bar].mean() if energy[k::beats_per_bar].size else 0.0
                            for k in range(beats_per_bar)])
        best = int(np.argmax([per_bar[k] - per_bar[(k - 1) % beats_per_bar] for k in range(beats_per_bar)]))
    counts = ((np.arange(n) - best) % cycle) + 1
    per_count = np.bincount(counts[on_beat] - 1, minlength=cycle).astype(int) if on_beat.size \
        else np.zeros(cycle, dtype=int)
    return counts.astype(int), per_count
