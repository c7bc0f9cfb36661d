"""The post-processing pass of ``live.post`` over a whole dance at once (offline generation).

Each stage of :class:`live.post.PostProcessor` depends only on its own state and on the
stage before it, so the whole dance can go through one stage after the other: mirror,
centring and bone projection are plain array maths over all frames; the linear recursions
(the dynamics' mean pose, the groove's re-timed pose, whose pull toward the model's runs on the
groove's clock) run in blocks of frames as one small matrix product each; what is non-linear in time (the one-euro filter, the bounded root
follow, the loudness follower) keeps a tight loop over frames, on numpy rows
of 17 joints or on a few Python floats. No compiler, same numbers as frame by frame to
about 1e-12 m (a test holds the float32 outputs within 1e-6).

The functions here are pure: state goes in and comes back; ``PostProcessor.process_many``
owns it.
"""

from __future__ import annotations

import math

import numpy as np

from model import skeleton as sk

BLOCK = 64
"""Frames per block of the linear recursions (a [BLOCK, BLOCK] lower-triangular product)."""


def linear_recursion(u: np.ndarray, a: float, y0: np.ndarray) -> np.ndarray:
    """``y[i] = a * y[i-1] + u[i]`` with ``y[-1] = y0``: u [shape=(t, n)] -> y [shape=(t, n)]."""
    t = len(u)
    y = np.empty_like(u)
    if t == 0:
        return y
    n = min(BLOCK, t)
    k = np.arange(n)
    lag = k[:, None] - k[None, :]
    m = np.where(lag >= 0, a ** np.maximum(lag, 0).astype(np.float64), 0.0)
    pw = a ** (k + 1).astype(np.float64)
    prev = np.asarray(y0, np.float64)
    for s in range(0, t, n):
        e = min(t, s + n)
        w = e - s
        np.matmul(m[:w, :w], u[s:e], out=y[s:e])
        y[s:e] += pw[:w, None] * prev
        prev = y[e - 1]
    return y


def varying_recursion(u: np.ndarray, a: np.ndarray, y0: np.ndarray) -> np.ndarray:
    """``y[i] = a[i] * y[i-1] + u[i]`` with ``y[-1] = y0`` and a per-frame ``a`` in (0, 1]: u
    [shape=(t, n)], a [shape=(t,)] -> y [shape=(t, n)]. Per block the products of ``a`` between two
    frames come from one cumulative sum of its logarithms (``a`` far from 0, as the groove's pull
    keeps it, so nothing underflows within a block)."""
    t = len(u)
    y = np.empty_like(u)
    prev = np.asarray(y0, np.float64)
    la = np.log(np.asarray(a, np.float64))
    for s in range(0, t, BLOCK):
        e = min(t, s + BLOCK)
        c = np.cumsum(la[s:e])
        m = np.tril(np.exp(c[:, None] - c[None, :]))  # a[k+1] ... a[j] for k <= j
        np.matmul(m, u[s:e], out=y[s:e])
        y[s:e] += np.exp(c)[:, None] * prev
        prev = y[e - 1]
    return y


def one_euro(
    x: np.ndarray, f: np.ndarray, v: np.ndarray, *, fps: float, alpha_d: float, min_cutoff: float, beta: float
) -> np.ndarray:
    """The one-euro filter over frames: x [shape=(t, 17, 3)] -> filtered [shape=(t, 17, 3)].

    ``f`` (last filtered pose) and ``v`` (filtered velocity, m/s) [shape=(17, 3)] are the
    state, updated in place. Per joint: ``v = (1 - ad) v + ad (x - f) fps``, cut-off
    ``min_cutoff + beta |v|``, ``f += (x - f) / (1 + fps / (2 pi cutoff))`` (beta > 0)."""
    out = np.empty_like(x)
    bd = 1.0 - alpha_d
    adf = alpha_d * fps
    kk = fps / (2.0 * math.pi)
    # With w = v / (ad fps): w = (1 - ad) w + (x - f), and the step toward the input
    # a = 1 / (1 + kk / (min_cutoff + beta ad fps |w|)) = 1 - k1 / (k2 + |w|), so the new
    # f = f + a (x - f) = x - (x - f) k1 / (k2 + |w|): ten numpy calls a frame.
    k2 = (min_cutoff + kk) / (beta * adf)
    k1 = kk / (beta * adf)
    w = v / adf
    d = np.empty_like(f)
    tmp = np.empty_like(f)
    s = np.empty(len(f))
    s_col = s[:, None]
    add, sub, mul, div, sqrt = np.add, np.subtract, np.multiply, np.divide, np.sqrt
    reduce = np.add.reduce
    prev = f
    for i in range(len(x)):
        xi = x[i]
        sub(xi, prev, out=d)
        mul(w, bd, out=w)
        add(w, d, out=w)
        mul(w, w, out=tmp)
        reduce(tmp, axis=1, out=s)
        sqrt(s, out=s)
        add(s, k2, out=s)
        div(k1, s, out=s)  # 1 - a
        mul(d, s_col, out=d)
        sub(xi, d, out=out[i])
        prev = out[i]
    np.multiply(w, adf, out=v)
    f[...] = prev
    return out


def follow_root(
    rx: list[float], rz: list[float], *, mirror: bool, stage: list[float], raw: tuple[float, float] | None,
    radius: float, return_s: float, fps: float,
) -> tuple[list[float], list[float], tuple[float, float] | None]:
    """The bounded root follow over frames (``PostProcessor._root`` in ``follow``): the
    model's root per frame (after mirroring) -> the shown root (x, z) per frame. ``stage``
    is updated in place; returns (tx, tz, raw root of the last frame)."""
    tx, tz = [0.0] * len(rx), [0.0] * len(rx)
    st0, st1 = stage
    r = radius
    knee = 0.5 * r
    span = r - knee
    rr = r * r
    rf = return_s * fps
    tanh, sqrt = math.tanh, math.sqrt
    for i, (x, z) in enumerate(zip(rx, rz)):
        sx = -x if mirror else x
        if raw is None:
            st0, st1 = x, z
        else:
            dx = sx - raw[0]
            st0 += -dx if mirror else dx
            st1 += z - raw[1]
        raw = (sx, z)
        d2 = (st0 * st0 + st1 * st1) / rr
        k = min(1.0, (1.0 + 4.0 * d2) / rf)
        st0 -= k * st0
        st1 -= k * st1
        d = sqrt(st0 * st0 + st1 * st1)
        g = (knee + span * tanh((d - knee) / span)) / d if d > knee else 1.0
        tx[i], tz[i] = st0 * g, st1 * g
    stage[0], stage[1] = st0, st1
    return tx, tz, raw


def loudness(
    rms: list[float], *, fps: float, level: float, ref: float, free_db: float, floor_db: float, ref_s: float,
    dynamics: float,
) -> tuple[list[float], float, float]:
    """The dynamics' loudness follower over frames (primed: ``level`` is a number): the
    size of the moves per frame, and the follower's last (level, reference)."""
    size = [1.0] * len(rms)
    up, down = min(1.0, 10.0 / fps), min(1.0, 1.5 / fps)
    kr = ref_s * fps
    span = floor_db - free_db
    lv = level
    log10 = math.log10
    for i, r in enumerate(rms):
        db = 20.0 * log10(r + 1e-6) if r == r and r >= 0.0 else -120.0
        lv += (up if db > lv else down) * (db - lv)
        ref = lv if lv > ref else ref + (lv - ref) / kr
        depth = (ref - lv - free_db) / span
        size[i] = 1.0 - 0.75 * dynamics * min(1.0, max(0.0, depth))
    return size, lv, ref


class BatchProjector:
    """``BoneProjector`` for many poses at once: each bone's direction from the input,
    its canonical length, and the joints placed as the root plus a sum of bones down the
    tree (one [17, 17] product); then the folded ``legs`` (``BoneProjector.legs``: joints
    and lengths; empty: none) keep their ankles (:func:`fold_legs`, with ``fold``:
    live.post's LEG_FOLD_FROM, LEG_FOLD_FULL and KNEE_LEAN)."""

    def __init__(self, plan: list[tuple[int, int, float, float, float, float]],
                 legs: tuple[tuple[int, int, int, float, float], ...] = (),
                 fold: tuple[float, float, float] = (0.0, 0.0, 0.0), turn: KneeTurn | None = None) -> None:
        self.legs = legs
        self.fold = fold
        self.turn = turn
        """The folded knees' turn limit and last sides (shared with the frame-by-frame projector), or None."""
        nj = sk.NUM_JOINTS
        self.par = np.zeros(nj, np.intp)
        self.length = np.zeros(nj)
        self.unit = np.zeros((nj, 3))
        anc = np.zeros((nj, nj))
        for j, p, length, ux, uy, uz in plan:  # parents first
            self.par[j] = nj if p == sk.ROOT else nj + 1 if p == sk.NECK else p
            self.length[j] = length
            self.unit[j] = (ux, uy, uz)
            if p == sk.NECK:
                anc[j] = 0.5 * (anc[5] + anc[6])
            elif p != sk.ROOT:
                anc[j] = anc[p]
            anc[j, j] = 1.0
        self.anc = anc

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """x [shape=(t, 17, 3)] float64 -> projected [shape=(t, 17, 3)]."""
        t, nj = len(x), sk.NUM_JOINTS
        ext = np.empty((t, nj + 2, 3))
        ext[:, :nj] = x
        np.add(x[:, 11], x[:, 12], out=ext[:, nj])
        ext[:, nj] *= 0.5
        np.add(x[:, 5], x[:, 6], out=ext[:, nj + 1])
        ext[:, nj + 1] *= 0.5
        d = x - ext[:, self.par]
        n = np.sqrt(np.einsum("tjc,tjc->tj", d, d))
        ok = n > 1e-8
        s = np.divide(self.length, n, out=np.zeros_like(n), where=ok)
        b = d * s[..., None]
        if not ok.all():
            b[~ok] = (self.unit * self.length[:, None])[np.nonzero(~ok)[1]]
        out = np.matmul(self.anc, b)
        out += ext[:, nj, None, :]
        for leg in self.legs:
            fold_legs(x, out, *leg, *self.fold)
        if self.turn is not None and self.legs:
            self.turn.many(x, out, self.legs)
        return out


class KneeTurn:
    """How fast a folded knee may turn about its leg (the hip-ankle line), frame to frame: the
    state both projectors share (``BoneProjector`` frame by frame, ``BatchProjector`` over many).

    Where the model folds a leg, the thigh or shin it draws is short and its direction, which
    sets the side the knee bends to, turns with the model's frame-to-frame noise: on the test
    songs breaking's shown knees turned 43 deg about the leg in a frame (the median at the frames
    where a knee moved over 6 m/s and 2.5x as fast as the model drew it, 6.3 % of breaking's
    frames). So in a folded leg the knee turns about the leg by at most ``max_turn`` (rad per
    frame) divided by the fold's weight (the smoothstep of the thigh's or shin's share of its
    length over ``band``, live.post's LEG_FOLD_FROM .. FULL, so no limit where the fold begins),
    from the side shown the frame before; a rotation about the hip-ankle line, so both bones keep
    their lengths. ``max_turn`` 0: off. And ``max_step`` (m per frame; 0: off) bounds how far the
    knee moves across the leg by that turn in any frame, folded or not (session 57): a tightly
    folded leg's ankle circling near the hip swung the full-length knee round faster than the
    model drew it, in the band where ``max_turn`` is weak."""

    def __init__(self, max_turn: float, band: tuple[float, float] = (0.85, 0.55), max_step: float = 0.0) -> None:
        self.max_turn = float(max_turn)
        self.band = band
        """The thigh or shin share (of its length) where the limit begins and where it is whole."""
        self.max_step = float(max_step)
        """Farthest (m) the knee may move across its leg in a frame by turning about it, folded or
        not: a turn of ``max_step / up``, with ``up`` the knee's distance from the hip-ankle line
        (0: no such limit)."""
        self.side = [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]
        """Each leg's (left, right) last shown side: the unit knee offset across its leg."""
        self.have = [False, False]

    def reset(self) -> None:
        self.have = [False, False]

    def apply(self, leg: int, hx: float, hy: float, hz: float, kx: float, ky: float, kz: float,
              ax: float, ay: float, az: float, r: float) -> tuple[float, float, float] | None:
        """The knee (kx, ky, kz) of ``leg`` in a pose with hip (h) and ankle (a), whose shorter
        bone the model drew at ``r`` of its length (folded under ``band[0]``): the knee turned
        back toward the last side where it turned too far (None: keep it); the side shown is
        remembered."""
        sqrt = math.sqrt
        ux, uy, uz = ax - hx, ay - hy, az - hz
        d = sqrt(ux * ux + uy * uy + uz * uz)
        if d < 1e-9:
            return None
        ux, uy, uz = ux / d, uy / d, uz / d
        vx, vy, vz = kx - hx, ky - hy, kz - hz
        al = vx * ux + vy * uy + vz * uz
        px, py, pz = vx - al * ux, vy - al * uy, vz - al * uz
        up = sqrt(px * px + py * py + pz * pz)
        if up < 1e-9:
            return None
        sx, sy, sz = px / up, py / up, pz / up
        last = self.side[leg]
        out = None
        f = (self.band[0] - r) / (self.band[0] - self.band[1])
        turn = math.pi
        if f > 0.0 and self.max_turn > 0.0:
            w = 1.0 if f >= 1.0 else f * f * (3.0 - 2.0 * f)
            turn = self.max_turn / w
        if self.max_step > 0.0 and self.max_step < turn * up:
            turn = self.max_step / up
        if self.have[leg] and turn < math.pi:
            lx, ly, lz = last
            lu = lx * ux + ly * uy + lz * uz
            lx, ly, lz = lx - lu * ux, ly - lu * uy, lz - lu * uz  # the last side across this frame's leg
            ln = sqrt(lx * lx + ly * ly + lz * lz)
            if ln > 1e-6:
                lx, ly, lz = lx / ln, ly / ln, lz / ln
                c = sx * lx + sy * ly + sz * lz
                if c < math.cos(turn):  # turned too far: only ``turn`` of the way, toward the new side
                    tx, ty, tz = sx - c * lx, sy - c * ly, sz - c * lz
                    tn = sqrt(tx * tx + ty * ty + tz * tz)
                    if tn < 1e-9:  # straight across: either way round (about the leg)
                        tx, ty, tz = uy * lz - uz * ly, uz * lx - ux * lz, ux * ly - uy * lx
                        tn = sqrt(tx * tx + ty * ty + tz * tz)
                    cs, sn = math.cos(turn), math.sin(turn) / tn
                    sx, sy, sz = lx * cs + tx * sn, ly * cs + ty * sn, lz * cs + tz * sn
                    out = (hx + al * ux + up * sx, hy + al * uy + up * sy, hz + al * uz + up * sz)
        last[0], last[1], last[2] = sx, sy, sz
        self.have[leg] = True
        return out

    def many(self, x: np.ndarray, out: np.ndarray, legs: tuple[tuple[int, int, int, float, float], ...]) -> None:
        """:meth:`apply` over many poses in order (``x`` the poses before the projection, for the
        fold's weight; ``out`` the projected ones, knees rewritten in place)."""
        if len(out) == 0:
            return
        for leg, (a, b, c, l1, l2) in enumerate(legs):
            r = np.minimum(np.linalg.norm(x[:, b] - x[:, a], axis=-1) / l1, np.linalg.norm(x[:, c] - x[:, b], axis=-1) / l2)
            # only the folded frames, the frame before each and the last one (the side it leaves) need a look
            # (with a speed limit every frame: it holds folded or not)
            need = r < self.band[0] if self.max_step <= 0.0 else np.ones(len(r), bool)
            need[:-1] |= need[1:]
            need[-1] = True
            rows = np.nonzero(need)[0]
            share = r[rows].tolist()
            hip, knee, ankle = out[rows, a].tolist(), out[rows, b].tolist(), out[rows, c].tolist()
            apply = self.apply
            for n, i in enumerate(rows.tolist()):
                h, k, an = hip[n], knee[n], ankle[n]
                new = apply(leg, h[0], h[1], h[2], k[0], k[1], k[2], an[0], an[1], an[2], share[n])
                if new is not None:
                    out[i, b] = new


def fold_legs(x: np.ndarray, out: np.ndarray, a: int, b: int, c: int, l1: float, l2: float,
              fold_from: float, fold_full: float, lean_m: float) -> None:
    """``live.post._fold_leg`` over many poses: x [shape=(t, 17, 3)] the poses before the
    projection, out the projected ones (rewritten in place where the model folds the leg with
    hip ``a``, knee ``b``, ankle ``c``, thigh ``l1`` and shin ``l2``: shorter than
    ``fold_from`` of its length, fully at ``fold_full``; the knee leaning ``lean_m`` to the front)."""
    r = np.minimum(np.linalg.norm(x[:, b] - x[:, a], axis=-1) / l1, np.linalg.norm(x[:, c] - x[:, b], axis=-1) / l2)
    i = np.nonzero(r < fold_from)[0]
    if len(i) == 0:
        return
    f = np.minimum(1.0, (fold_from - r[i]) / (fold_from - fold_full))[:, None]
    w = f * f * (3.0 - 2.0 * f)
    p, oc = out[i, a], out[i, c]
    v = oc + w * (p + x[i, c] - x[i, a] - oc) - p
    d = np.sqrt(np.einsum("tc,tc->t", v, v))
    ok = d >= 1e-9
    i, p, v, d = i[ok], p[ok], v[ok], d[ok]
    if len(i) == 0:
        return
    u = v / d[:, None]
    d = np.minimum(np.maximum(d, abs(l1 - l2) + 1e-6), l1 + l2 - 1e-6)
    o = out[i]
    front = np.cross(o[:, 11] - o[:, 12], 0.5 * (o[:, 5] + o[:, 6] - o[:, 11] - o[:, 12]))
    front -= np.einsum("tc,tc->t", front, u)[:, None] * u
    fn = np.sqrt(np.einsum("tc,tc->t", front, front))
    lean = np.divide(w[ok, 0] * lean_m, fn, out=np.zeros_like(fn), where=fn > 1e-9)
    k = out[i, b] - p
    wv = k - np.einsum("tc,tc->t", k, u)[:, None] * u + lean[:, None] * front
    wn = np.sqrt(np.einsum("tc,tc->t", wv, wv))
    no_side = wn < 1e-9  # no side at all: forward (+z), as live.post._two_bone_ik
    wv[no_side] = (0.0, 0.0, 1.0)
    wn[no_side] = 1.0
    along = (l1 * l1 - l2 * l2 + d * d) / (2.0 * d)
    h = np.sqrt(np.maximum(l1 * l1 - along * along, 0.0)) / wn
    out[i, b] = p + along[:, None] * u + h[:, None] * wv
    out[i, c] = p + d[:, None] * u
