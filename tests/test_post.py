"""Post-processing: projection, one-euro smoothing, mirror, hold, root handling."""

from __future__ import annotations

import numpy as np
import pytest

from live import post as post_mod
from live.post import CENTER_SHIFT, GROOVE_MIN_SPEED, PostProcessor
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


def test_center_keeps_root_at_origin_and_height_follow_keeps_travel(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(post_mod, "PIN_S", 0.0)  # the rest pose's feet hover 4 cm: kept as drawn here
    post = PostProcessor(fps=30, smoothing=0.0, root="center")
    p = _pose((1.5, 1.0, -2.0))
    out = post.process(p)
    r = sk.root_of(out)
    assert abs(r[0]) < 1e-6 and abs(r[2]) < 1e-6
    assert r[1] == pytest.approx(1.0, abs=1e-6)  # height (floor contact) kept
    np.testing.assert_allclose(out[sk.FEET, 1], p[sk.FEET, 1], atol=1e-5)
    post.set_root("follow")  # the switch glides: travel continues from where the root is shown
    out = post.process(_pose((1.8, 1.0, -2.0)))
    np.testing.assert_allclose(sk.root_of(out), [0.3, 1.0, 0.0], atol=0.01)
    fresh = PostProcessor(fps=30, smoothing=0.0, root="follow", foot_lock=False)
    np.testing.assert_allclose(sk.root_of(fresh.process(_pose((0.4, 1.0, -0.2)))), [0.4, 1.0, -0.2], atol=0.01)
    with pytest.raises(ConfigError):
        post.set_root("orbit")


def _walk(n: int, velocity: tuple[float, float], fps: int = 30) -> np.ndarray:
    """n frames of the rest pose on the floor gliding at ``velocity`` (m/s along x, z)."""
    t = np.arange(n, dtype=np.float32)[:, None] / fps
    p = np.repeat(sk.rest_pose(on_floor=True)[None], n, axis=0)
    p[:, :, 0] += (velocity[0] * t)
    p[:, :, 2] += (velocity[1] * t)
    return p


def test_follow_stays_on_stage_over_ten_minutes_without_jumps() -> None:
    """A root that drifts 6.5 m (and then runs at 1 m/s) stays within the stage radius,
    moves smoothly at the edge and walks back toward the centre when travel stops."""
    fps = 30
    post = PostProcessor(fps=fps, smoothing=0.5, root="follow", stage_radius=1.5, foot_lock=False)
    slow = _walk(10 * 60 * fps, (6.5 / 600.0, 0.0))
    fast = _walk(20 * fps, (1.0, 0.6))
    fast[:, :, 0] += slow[-1, 0, 0] - fast[0, 0, 0]
    poses = np.concatenate([slow, fast, np.repeat(fast[-1:], 20 * fps, axis=0)])
    out = post.process_many(poses)
    root = sk.root_of(out)
    radius = np.hypot(root[:, 0], root[:, 2])
    assert radius.max() <= 1.5
    step = np.hypot(*np.diff(root[:, [0, 2]], axis=0).T)
    assert step.max() < 1.05 * np.hypot(1.0, 0.6) / fps  # never faster than the model's travel
    still = radius[-20 * fps:]
    assert still[-1] < 0.3 * still[0]  # back toward the centre once the travel stops
    moving = radius[len(slow): len(slow) + 2 * fps]
    assert moving[-1] - moving[0] > 0.3  # travel is kept, not centred away


def test_planted_feet_do_not_slide_and_release_smoothly() -> None:
    """The model's whole body slides 0.2 m/s with both feet on the floor: the shown feet stay
    put and bones stay exact; when the feet lift the body glides back without a jump."""
    fps = 30
    post = PostProcessor(fps=fps, smoothing=0.0, root="follow", foot_lock=True)
    slide = _walk(30, (0.2, 0.0))
    out = post.process_many(slide)
    feet = out[:, sk.FEET][:, :, [0, 2]]
    assert np.abs(feet - feet[0]).max() < 1e-4
    assert all(post.contact)
    assert sk.bone_length_error(out) < 1e-5
    lifted = slide[-1:].repeat(20, axis=0)
    lifted[:, :, 1] += 0.3  # a jump: feet off the floor, the body shift relaxes to zero
    shift0 = np.hypot(*post._shift)
    assert shift0 > 0.1
    up = post.process_many(lifted)
    assert not any(post.contact)
    assert np.hypot(*post._shift) < 0.2 * shift0
    step = np.abs(np.diff(np.concatenate([out[-1:], up])[:, :, [0, 2]], axis=0)).max()
    assert step < 0.02


@pytest.mark.parametrize("frame_by_frame", [True, False])
def test_feet_stay_planted_through_a_glide_of_four_tenths_of_a_metre(frame_by_frame: bool) -> None:
    """The model glides its whole body 0.4 m along the floor with both feet down (freestyle's
    and salsa's feet do; session 56): the shown feet stay where they touched down all the way
    (the body held back by up to ``MAX_SHIFT``; at 0.3 m they gave way), bones exact."""
    fps = 30
    post = PostProcessor(fps=fps, smoothing=0.0, root="follow", foot_lock=True)
    glide = _walk(60, (0.2, 0.0))  # 2 s at 0.2 m/s
    out = np.stack([post.process(p).copy() for p in glide]) if frame_by_frame else post.process_many(glide)
    feet = out[:, sk.FEET][:, :, [0, 2]]
    assert np.abs(feet - feet[0]).max() < 1e-3
    assert all(post.contact)
    assert np.hypot(*post._shift) > 0.32  # the hold went past the old 0.3 m (the follow drifts back some)
    assert sk.bone_length_error(out) < 1e-5


@pytest.mark.parametrize("frame_by_frame", [True, False])
@pytest.mark.parametrize("speed", [0.3, 0.5])
def test_a_standing_body_held_past_the_cap_steps_instead_of_skating(frame_by_frame: bool, speed: float,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The model glides its whole body along the floor for 4 s at 0.3 or 0.5 m/s, both feet down
    (what freestyle's and salsa's models do over longer stretches than the feet can hold): once
    the locks would hold the body past ``MAX_SHIFT`` the foot that lags most steps (lifted, and set
    down nearer the model's foot) instead of both locks skating along the floor, and the foot left
    standing holds the body meanwhile (up to ``STEP_HOLD`` past the cap). So no shown foot moves
    along the floor, the feet take turns, and the body travels; at 0.5 m/s the standing foot skates
    without ``STEP_HOLD``, and with steps off (``STEP_TAKE`` 0) both feet skate."""
    fps = 30
    glide = _walk(4 * fps, (speed, 0.0))

    def shown() -> np.ndarray:
        post = PostProcessor(fps=fps, smoothing=0.0, root="follow", stage_radius=3.0, foot_lock=True)
        return np.stack([post.process(q).copy() for q in glide]) if frame_by_frame else post.process_many(glide)

    out = shown()
    assert sk.bone_length_error(out) < 1e-5
    feet = out[:, sk.FEET]
    move = np.hypot(*np.diff(feet[:, :, [0, 2]], axis=0).transpose(2, 0, 1))  # [t - 1, 2] metres a frame
    low = np.minimum(feet[1:, :, 1], feet[:-1, :, 1]) < post_mod.FLOOR_Y + 0.01
    assert (move[low] < 0.004).all()  # on the floor a foot stays put (under 0.12 m/s)
    stepping = (move > 0.004) & ~low
    starts = stepping[1:] & ~stepping[:-1]
    order = [k for f in range(len(starts)) for k in (0, 1) if starts[f, k]]
    assert len(order) >= 3 and all(a != b for a, b in zip(order, order[1:], strict=False))  # the feet take turns
    assert (feet[:, :, 1].max(axis=0) > post_mod.FLOOR_Y + 0.8 * post_mod.STEP_H).all()  # lifted to step
    assert sk.root_of(out)[-1, 0] - sk.root_of(out)[0, 0] > 1.5 * speed  # and the body travels
    if speed > 0.4:
        monkeypatch.setattr(post_mod, "STEP_HOLD", 0.0)
        held = shown()[:, sk.FEET]
        move = np.hypot(*np.diff(held[:, :, [0, 2]], axis=0).transpose(2, 0, 1))
        low = np.minimum(held[1:, :, 1], held[:-1, :, 1]) < post_mod.FLOOR_Y + 0.01
        assert move[low].max() > 0.008  # the foot left standing gives way during a step
        monkeypatch.undo()
    monkeypatch.setattr(post_mod, "STEP_TAKE", 0.0)
    off = shown()[:, sk.FEET]
    move = np.hypot(*np.diff(off[:, :, [0, 2]], axis=0).transpose(2, 0, 1))
    low = np.minimum(off[1:, :, 1], off[:-1, :, 1]) < post_mod.FLOOR_Y + 0.01
    assert low.all() and (move[-30:] > 0.003).all()  # the locks give way: both feet skate to the end


@pytest.mark.parametrize("frame_by_frame", [True, False])
def test_a_planted_foot_the_model_slides_away_steps_there(frame_by_frame: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """The model slides its left foot 0.2 m out to the side along the floor over a second, the
    other foot and the body still (footwork the model draws as a skate: house, hip-hop and ballet
    did; session 64). The foot steps there: it is lifted off the floor and set down within a few
    centimetres of where the model puts it (the body's shift aside), bones exact. With
    ``STEP_SPREAD`` 0 (as before) its lock holds it where it touched down and the leg is bent to
    keep it there, far from the model's foot."""
    fps, n = 30, 60
    p = np.repeat(sk.rest_pose(on_floor=True)[None], n, axis=0)
    left = [sk.LEFT_FOOT, 13]  # the ankle and the knee (the knee half as far)
    out_x = np.minimum(np.arange(n, dtype=np.float32) / fps, 1.0) * 0.2 * np.sign(p[0, sk.LEFT_FOOT, 0] - p[0, sk.RIGHT_FOOT, 0])
    p[:, left[0], 0] += out_x
    p[:, left[1], 0] += 0.5 * out_x

    def shown() -> np.ndarray:
        post = PostProcessor(fps=fps, smoothing=0.0, root="follow", foot_lock=True)
        return np.stack([post.process(q).copy() for q in p]) if frame_by_frame else post.process_many(p)

    def miss(o: np.ndarray) -> float:  # the left ankle's distance from the model's, the body's shift aside
        shift = sk.root_of(o)[-1, [0, 2]] - sk.root_of(p)[-1, [0, 2]]
        return float(np.hypot(*(o[-1, sk.LEFT_FOOT, [0, 2]] - p[-1, sk.LEFT_FOOT, [0, 2]] - shift)))

    out = shown()
    monkeypatch.setattr(post_mod, "STEP_SPREAD", 0.0)
    held = shown()
    assert sk.bone_length_error(out) < 1e-5 and sk.bone_length_error(held) < 1e-5
    # lifted to step (the held foot rises a little too: the model's leg is longer than its bones)
    assert out[:, sk.LEFT_FOOT, 1].max() > held[:, sk.LEFT_FOOT, 1].max() + 0.4 * post_mod.STEP_H
    assert miss(out) < 0.05
    assert np.abs(held[:, sk.LEFT_FOOT, [0, 2]] - held[0, sk.LEFT_FOOT, [0, 2]]).max() < 1e-3  # kept on its lock
    assert miss(held) > 0.08


def test_a_footwork_step_lands_on_the_beat() -> None:
    """The model slides its left foot out as in the test above while the beat tracker gives a
    beat at 120 bpm: the step is set down on a beat as shown (the groove's phase, within a
    frame), whatever the beat's phase when it began, at least ``STEP_BEAT_MIN`` after it lifted;
    without a beat it stays in the air ``STEP_T``."""
    fps, n = 30, 60
    p = np.repeat(sk.rest_pose(on_floor=True)[None], n, axis=0)
    out_x = np.minimum(np.arange(n, dtype=np.float32) / fps, 1.0) * 0.2 * np.sign(p[0, sk.LEFT_FOOT, 0] - p[0, sk.RIGHT_FOOT, 0])
    p[:, sk.LEFT_FOOT, 0] += out_x
    p[:, 13, 0] += 0.5 * out_x

    def lift_and_land(phase0: float | None) -> tuple[int, int, float]:
        post = PostProcessor(fps=fps, smoothing=0.0, root="follow", foot_lock=True)
        contact = []
        for f, q in enumerate(p):
            if phase0 is not None:
                post.cue((phase0 + 2.0 * f / fps) % 1.0, 120.0, 0.1)
            post.process(q)
            contact.append(post.contact[0])
        up = contact.index(False)
        down = contact.index(True, up)
        shown = (phase0 or 0.0) + 2.0 * down / fps - (post.offset_ms * 1e-3 + 1.5 / fps) * 2.0
        return up, down, abs(shown - round(shown))

    for phase0 in (0.0, 0.3, 0.7):
        up, down, off = lift_and_land(phase0)
        assert off <= 2.0 / fps + 1e-6, (phase0, up, down, off)  # on a beat, within a frame
        assert down - up >= post_mod.STEP_BEAT_MIN * fps - 1
    up, down, _ = lift_and_land(None)
    assert abs((down - up) - post_mod.STEP_T * fps) <= 1


def _frames_and_speeds(post: PostProcessor, poses: np.ndarray, cues: np.ndarray) -> tuple[np.ndarray, list[float]]:
    """``poses`` through ``post`` frame by frame, each with its cue: (the shown poses, each frame's groove
    speed, the clock the post-processing's glides run on)."""
    out, speed = [], []
    for q, c in zip(poses, cues, strict=True):
        post.cue(*c)
        out.append(post.process(q).copy())
        speed.append(post._gspeed)
    return np.stack(out), speed


def test_the_feet_stages_glides_move_between_the_beats_and_settle_on_them(monkeypatch: pytest.MonkeyPatch) -> None:
    """The model slides its body 0.2 m/s with both feet planted (the locks hold it back), then jumps:
    the body glides back to the model's over ``RELEASE_S`` on the groove's clock (session 67), its
    share of the way per frame small on the beat and large between the beats, the same frame by
    frame and over the whole dance; without a beat, or with ``GLIDES_ON_GROOVE`` off, the glide
    takes the same share every frame whatever the beat (one exponential, as before)."""
    fps = 30
    slide = _walk(30, (0.2, 0.0))
    slide[:, :, 0] -= 0.2  # the slide ends at the centre (the follow's own drift back stays ~0)
    lifted = np.repeat(slide[-1:], 30, axis=0)
    lifted[:, :, 1] += 0.3  # both feet off the floor: the locks let go, the body glides back
    poses = np.concatenate([slide, lifted])

    def glide(tempo: float, frame_by_frame: bool = True) -> tuple[np.ndarray, np.ndarray, list[float]]:
        cues = np.array([[(0.1 + tempo / 60.0 * f / fps) % 1.0, tempo, 0.1] for f in range(len(poses))])
        post = PostProcessor(fps=fps, smoothing=0.0, root="follow", foot_lock=True, groove=0.8)
        if not frame_by_frame:
            return post.process_many(poses, cues), np.zeros(0), []
        shown, speed = _frames_and_speeds(post, poses, cues)
        hip = 0.5 * (shown[:, 11, 0] + shown[:, 12, 0])
        left = hip[30:45] - hip[-1]  # the glide's first half second: what is left of it each frame
        return shown, 1.0 - left[1:] / left[:-1], speed[31:45]

    shown, share, speed = glide(120.0)
    assert np.abs(glide(120.0, frame_by_frame=False)[0] - shown).max() < 1e-5
    assert abs(shown[30, 11, 0] - shown[29, 11, 0]) < 0.02  # no jump when the feet lift
    slow = [s for s, v in zip(share, speed, strict=True) if v < 0.3]  # on the beat
    fast = [s for s, v in zip(share, speed, strict=True) if v > 1.7]  # between the beats
    assert slow and fast and max(slow) < 0.35 * min(fast), (share, speed)
    for tempo, on in ((0.0, True), (120.0, False)):
        monkeypatch.setattr(post_mod, "GLIDES_ON_GROOVE", on)
        _, share, _ = glide(tempo)
        assert share[1:].max() < 1.15 * share[1:].min(), (tempo, on, share)


@pytest.mark.parametrize("frame_by_frame", [True, False])
def test_the_grooves_pull_toward_the_model_runs_on_its_clock(frame_by_frame: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """The model moves its left wrist 0.3 m between two frames and holds it there: the groove moves
    the shown wrist by that frame's speed times the jump, and its pull closes the rest; on the
    groove's clock (session 67) the share it closes per frame is ``1 - (1 - GROOVE_PULL) ** s``,
    small on the beat and large between, the same frame by frame and over the whole dance; with
    ``GLIDES_ON_GROOVE`` off it is ``GROOVE_PULL`` every frame."""
    fps, n = 30, 60
    poses = np.repeat(sk.rest_pose(on_floor=True)[None], n, axis=0)
    poses[20:, 9, 0] += 0.3
    cues = np.array([[(0.3 + 2.0 * f / fps) % 1.0, 120.0, 0.1] for f in range(n)])

    def pulled() -> tuple[np.ndarray, np.ndarray]:
        post = PostProcessor(fps=fps, smoothing=0.0, foot_lock=False, project_bones=False, groove=0.8)
        if frame_by_frame:
            shown, speed = _frames_and_speeds(post, poses, cues)
        else:
            shown = post.process_many(poses, cues)
            ph = cues[:, 0] - (1.5 / fps) * 2.0
            speed = [post._groove_speed(x) for x in ph]
        gap = poses[21:, 9, 0] - shown[21:, 9, 0]  # what is left to close after the jump's frame
        return 1.0 - gap[1:] / gap[:-1], np.asarray(speed[22:])

    share, speed = pulled()
    np.testing.assert_allclose(share, 1.0 - (1.0 - post_mod.GROOVE_PULL) ** speed, atol=1e-4)
    assert share[speed < 0.3].max() < 0.35 * share[speed > 1.7].min()
    monkeypatch.setattr(post_mod, "GLIDES_ON_GROOVE", False)
    share, _ = pulled()
    np.testing.assert_allclose(share, post_mod.GROOVE_PULL, atol=1e-4)


def test_a_quiet_passage_keeps_its_feet_planted(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two seconds of loud music, then a passage 30 dB quieter in which the model slides its left
    foot 0.3 m out over three seconds (slower than the dynamics' mean follows, so the drift is shown
    at full size): with the dynamics on the moves are a quarter of their size there and the foot
    stays on its lock; without them, or with the size not read (``STEP_SIZE_MIN`` 1), it steps."""
    fps, loud, n = 30, 60, 180
    p = np.repeat(sk.rest_pose(on_floor=True)[None], n, axis=0)
    out_x = np.clip((np.arange(n) - loud) / 90.0, 0.0, 1.0) * 0.3 * np.sign(p[0, sk.LEFT_FOOT, 0] - p[0, sk.RIGHT_FOOT, 0])
    p[:, sk.LEFT_FOOT, 0] += out_x
    p[:, 13, 0] += 0.5 * out_x
    rms = np.where(np.arange(n) < loud, 0.1, 0.1 * 10 ** (-30 / 20))

    def left_moved(dynamics: float) -> float:
        post = PostProcessor(fps=fps, smoothing=0.0, root="follow", foot_lock=True, dynamics=dynamics)
        xs = []
        for q, r in zip(p, rms, strict=True):
            post.cue(0.0, 0.0, float(r))
            xs.append(float(post.process(q)[sk.LEFT_FOOT, 0]))
        assert dynamics == 0.0 or post._size == pytest.approx(0.25)
        return abs(xs[-1] - xs[0])

    assert left_moved(1.0) < 1e-3
    assert left_moved(0.0) > 0.1
    monkeypatch.setattr(post_mod, "STEP_SIZE_MIN", 1.0)
    assert left_moved(1.0) > 0.1


def test_a_stepping_leg_keeps_its_knee_bent_to_the_front(monkeypatch: pytest.MonkeyPatch) -> None:
    """Knees bent 3 cm to the front and the body gliding forward over both feet, so they step
    (the ankle set down ahead of where the model draws it): the legs' IK keeps each knee on the side
    it is drawn on, in front of its hip-ankle line, and no knee jumps. Taking the bend plane from
    the knee as it stands instead (as before session 57) puts the knee behind the line, bent
    backward, and swings it there and back at 5-7 m/s (popping's stepping knees did)."""
    fps, n = 30, 150
    base = sk.rest_pose(on_floor=True).astype(np.float64)
    base[[13, 14], 2] += 0.03
    glide = np.repeat(base[None], n, axis=0)
    glide[:, :, 2] += 0.35 * np.arange(n)[:, None] / fps

    def knees() -> tuple[np.ndarray, np.ndarray]:
        """(each knee's offset across its hip-ankle line along the front, in m; knee speed, m/s)."""
        post = PostProcessor(fps=fps, smoothing=0.0, root="follow", stage_radius=3.0, foot_lock=True)
        out = post.process_many(glide.astype(np.float32)).astype(np.float64)
        side, speed = [], []
        for hip, knee, ankle in ((11, 13, 15), (12, 14, 16)):
            u = out[:, ankle] - out[:, hip]
            u /= np.linalg.norm(u, axis=1, keepdims=True)
            k = out[:, knee] - out[:, hip]
            side.append((k - np.einsum("tc,tc->t", k, u)[:, None] * u)[:, 2])
            speed.append(np.linalg.norm(np.diff(out[:, knee], axis=0), axis=1) * fps)
        return np.stack(side), np.stack(speed)

    side, speed = knees()
    assert side.min() > -0.005 and speed.max() < 3.0
    ik = post_mod._two_bone_ik
    monkeypatch.setattr(post_mod, "_two_bone_ik", lambda *a, **k: ik(*a[:10]))  # the plane as the knee stands
    side, speed = knees()
    assert side.min() < -0.05 and speed.max() > 4.0


def test_a_foot_lands_where_it_is_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    """The model drags its right foot 0.3 m out under a planted body (the stage holds it), lifts
    it for three frames and puts it down where it drew it: the shown foot glides out of its lock
    and lands where it is shown, with no jump at the landing (until session 57 it landed on the
    model's foot at once, 0.12 m off in a frame)."""
    monkeypatch.setattr(post_mod, "STEP_SPREAD", 0.0)  # the locks themselves (footwork steps: test_a_planted_foot_the_model_slides_away_steps_there)
    fps = 30
    n = 80
    poses = np.repeat(sk.rest_pose(on_floor=True)[None], n, axis=0).astype(np.float64)
    ra = sk.RIGHT_FOOT
    poses[20:, ra, 0] -= 0.3 * np.clip((np.arange(20, n) - 20) / 20.0, 0.0, 1.0)  # 0.45 m/s, planted
    poses[40:43, ra, 1] += 0.1  # lifted for three frames
    post = PostProcessor(fps=fps, smoothing=0.0, root="follow", foot_lock=True, project_bones=False)
    out = post.process_many(poses.astype(np.float32))
    right = out[:, ra, [0, 2]]
    step = np.hypot(*np.diff(right, axis=0).T)
    assert np.abs(right[:40] - right[0]).max() < 2e-3  # held while the model dragged it
    assert step.max() < 0.05  # no jump, at the landing (frame 43) or anywhere
    assert post.contact[1] and abs(right[43, 0] - right[0, 0]) < 0.2  # down, near where it was shown


@pytest.mark.parametrize("root", ["follow", "center"])
def test_the_feet_never_hold_the_hips_past_the_stage_radius(root: str) -> None:
    """A planted left foot and the body gliding away from it at 0.5 m/s for 4 s: the shift that
    keeps the foot would take the hips farther than the stage radius (0.8 m) allows; they stay
    inside it (a centred dancer within ``CENTER_SHIFT``), and the foot gives way there."""
    fps = 30
    n = 4 * fps
    poses = _walk(n, (0.5, 0.0))
    poses[:, :, 0] += 0.4 if root == "follow" else 0.0  # (the follow starts where the model stands)
    poses[:, sk.LEFT_FOOT, 0] = poses[0, sk.LEFT_FOOT, 0]  # the foot stays, the body moves on
    poses[:, sk.RIGHT_FOOT, 1] += 0.3  # the other foot in the air
    post = PostProcessor(fps=fps, smoothing=0.0, root=root, stage_radius=0.8, foot_lock=True)
    out = post.process_many(poses)
    reach = np.hypot(*sk.root_of(out)[:, [0, 2]].T)
    edge = CENTER_SHIFT if root == "center" else 0.8  # a centred dancer is held at most CENTER_SHIFT off
    assert reach.max() <= edge + 1e-4
    assert reach.max() > edge - 0.03  # held out to the edge: that bound is what stops them
    foot = out[:, sk.LEFT_FOOT, [0, 2]]
    assert np.abs(foot[:5] - foot[0]).max() < 2e-3  # planted at first


def test_one_foot_planted_while_the_other_steps_keeps_bones_and_the_planted_foot(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(post_mod, "STEP_SPREAD", 0.0)  # the locks themselves (footwork steps: test_a_planted_foot_the_model_slides_away_steps_there)
    fps = 30
    post = PostProcessor(fps=fps, smoothing=0.0, root="follow", foot_lock=True)
    base = sk.rest_pose(on_floor=True)
    poses = np.repeat(base[None], 40, axis=0)
    la = sk.LEFT_FOOT
    for i in range(40):  # the model slides the right foot out while the left one drags along
        poses[i, :, 0] += 0.004 * i
        poses[i, sk.RIGHT_FOOT, 0] -= 0.006 * i
    out = post.process_many(poses)
    left = out[:, la, [0, 2]]
    assert np.abs(left - left[0]).max() < 2e-3
    right = out[:, sk.RIGHT_FOOT, [0, 2]]
    assert np.abs(right - right[0]).max() < 2e-3  # both planted: each leg re-solved by IK
    assert sk.bone_length_error(out) < 1e-4


def test_mirror_swaps_sides_and_negates_x() -> None:
    post = PostProcessor(fps=30, smoothing=0.0, root="follow", project_bones=False, foot_lock=False)
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
    post = PostProcessor(fps=60, smoothing=0.6, project_bones=False, root="center", foot_lock=False)
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
    post = PostProcessor(fps=60, smoothing=0.6, project_bones=False, root="center", foot_lock=False)
    for _ in range(10):
        post.process(base)
    hit = base.copy()
    hit[9] += [0.0, 0.4, 0.0]
    y0 = base[9, 1]
    ys = [post.process(hit)[9, 1] - y0 for _ in range(3)]
    assert ys[1] > 0.8 * 0.4, ys
    # a plain exponential filter with the same jitter reduction would lag far more
    assert ys[0] > 0.3 * 0.4, ys


def test_an_empty_dance_passes_as_empty_and_changes_nothing() -> None:
    post = PostProcessor(fps=30, smoothing=0.5, root="follow", foot_lock=True)
    assert post.process_many(np.zeros((0, 17, 3), np.float32)).shape == (0, 17, 3)
    fresh = PostProcessor(fps=30, smoothing=0.5, root="follow", foot_lock=True)
    poses = _stepping(20, 30.0)
    np.testing.assert_array_equal(post.process_many(poses), fresh.process_many(poses))


def test_smoothing_zero_is_identity() -> None:
    post = PostProcessor(fps=30, smoothing=0.0, project_bones=False, root="center", foot_lock=False)
    rng = np.random.default_rng(5)
    for _ in range(5):
        p = _pose() + rng.normal(scale=0.1, size=(17, 3)).astype(np.float32)
        r = sk.root_of(p) * np.array([1.0, 0.0, 1.0], np.float32)
        np.testing.assert_allclose(post.process(p), p - r, atol=1e-6)


def test_process_returns_preallocated_buffer() -> None:
    post = PostProcessor(fps=30)
    a = post.process(_pose())
    b = post.process(_pose((0.1, 1.0, 0.0)))
    assert a is b and a.dtype == np.float32 and a.shape == (17, 3)


def test_process_into_a_callers_row_equals_the_internal_buffer_and_holds_the_last_output() -> None:
    """process(pose, out=row) (the engine writes straight into its joint ring) gives what
    process(pose) gives, frame by frame with the groove on; while held, every row gets the
    last output, also after a plain process call."""
    rng = np.random.default_rng(5)
    kw = dict(fps=30, smoothing=0.5, groove=0.8, dynamics=1.0)
    a, b = PostProcessor(**kw), PostProcessor(**kw)
    ring = np.zeros((40, 51), np.float32)
    for i in range(30):
        pose = _pose() + (rng.standard_normal((17, 3)) * 0.05).astype(np.float32)
        for post in (a, b):
            post.cue((i / 15) % 1.0, 120.0, 0.2)
        want = a.process(pose).copy()
        got = b.process(pose, out=ring[i])
        assert got is ring[i] or np.shares_memory(got, ring[i])
        np.testing.assert_array_equal(ring[i], want.reshape(-1))
    b.hold = True
    b.process(_pose((0.3, 1.0, 0.0)), out=ring[30])
    np.testing.assert_array_equal(ring[30], ring[29])
    np.testing.assert_array_equal(b.process(_pose()).reshape(-1), ring[29])  # into its own buffer
    b.process(_pose(), out=ring[31])
    np.testing.assert_array_equal(ring[31], ring[29])


def test_process_into_rows_of_any_layout_or_dtype_casts_as_numpy_does() -> None:
    """A float32 row is written straight (struct's float cast); a float64 row, a strided
    float32 row and a pose past float32's range go through numpy's cast: the same values
    either way (inf where float32 overflows)."""
    rng = np.random.default_rng(6)
    kw = dict(fps=30, smoothing=0.5, groove=0.8, dynamics=1.0, foot_lock=False, project_bones=False)
    posts = [PostProcessor(**kw) for _ in range(4)]
    f64 = np.zeros(51, np.float64)
    strided = np.zeros((51, 2), np.float32)[:, 0]
    for i in range(20):
        pose = _pose() + (rng.standard_normal((17, 3)) * 0.05).astype(np.float32)
        for post in posts:
            post.cue((i / 15) % 1.0, 120.0, 0.2)
        want = posts[0].process(pose).reshape(-1).copy()
        posts[1].process(pose, out=f64)
        posts[2].process(pose, out=strided)
        row = posts[3].process(pose, out=np.zeros(51, np.float32))
        np.testing.assert_array_equal(f64.astype(np.float32), want)
        np.testing.assert_array_equal(strided, want)
        np.testing.assert_array_equal(row, want)
    far = PostProcessor(fps=30, smoothing=0.0, foot_lock=False, project_bones=False)
    p64 = _pose().astype(np.float64)
    p64[0, 1] = 1e300  # beyond float32: the struct path overflows, numpy's cast gives inf
    with np.errstate(over="ignore"):
        out = far.process(p64, out=np.zeros(51, np.float32))
    assert out[1] == np.inf and np.isfinite(np.delete(out, 1)).all()


def _leg_share(p: np.ndarray) -> float:
    """The shortest thigh or shin of ``p`` as a share of its canonical length."""
    n = sk.bone_lengths(p) / sk.CANONICAL_BONE_LENGTHS
    return float(n[[13, 14, 15, 16]].min())


def test_bone_projector_matches_the_skeleton_reference() -> None:
    from live.post import LEG_FOLD_FROM, BoneProjector

    rng = np.random.default_rng(7)
    plain, folding = BoneProjector(fold_legs=False), BoneProjector()
    out = np.zeros((17, 3), np.float32)
    unfolded = 0
    for k in range(60):
        p = (_pose() + rng.normal(scale=0.1, size=(17, 3))).astype(np.float32)
        if k == 0:
            p[13] = p[11]  # a zero-length bone takes the rest direction
        ref = sk.project_to_lengths(p)
        np.testing.assert_allclose(plain(p, out), ref, atol=1e-5)
        if _leg_share(p) >= LEG_FOLD_FROM:  # legs the model did not fold: the same projection
            unfolded += 1
            np.testing.assert_allclose(folding(p, out), ref, atol=1e-5)
    assert unfolded > 10


def test_a_folded_leg_keeps_the_models_ankle_with_exact_bones() -> None:
    """A thigh drawn at a fifth of its length: the ankle stays where the model put it (from the
    hip), the knee bends to the side the model's points, bones exact; the old projection moved
    the ankle by tens of centimetres."""
    from live.post import BoneProjector

    p = sk.rest_pose(on_floor=True)
    p[15] = p[11] + np.array([0.05, -0.45, 0.35], np.float32)  # the foot forward and up: a folded leg
    p[13] = p[11] + 0.2 * 0.45 * np.array([0.0, -0.6, 0.8], np.float32)  # the short thigh points forward
    out, old = BoneProjector()(p, np.zeros((17, 3), np.float32)), BoneProjector(fold_legs=False)(p, np.zeros((17, 3), np.float32))
    np.testing.assert_allclose(sk.bone_lengths(out), sk.CANONICAL_BONE_LENGTHS, atol=1e-5)
    np.testing.assert_allclose(out[15] - out[11], p[15] - p[11], atol=1e-5)
    assert np.linalg.norm(old[15] - p[15]) > 0.2
    mid = 0.5 * (out[11] + out[15])
    assert out[13, 2] > mid[2] + 0.1  # the knee bent forward, as the model drew it
    np.testing.assert_allclose(out[[12, 14, 16]], old[[12, 14, 16]], atol=1e-6)  # the other leg as before


def test_folding_a_leg_is_continuous_and_the_batch_agrees() -> None:
    from live import post_many as pm
    from live.post import BoneProjector

    proj = BoneProjector()
    batch = pm.BatchProjector(proj.plan, legs=proj.legs, fold=(post_mod.LEG_FOLD_FROM, post_mod.LEG_FOLD_FULL, post_mod.KNEE_LEAN))
    base = sk.rest_pose().astype(np.float64)
    base[15] += [0.0, 0.25, 0.3]
    poses = np.repeat(base[None], 1401, axis=0)
    shrink = np.linspace(1.0, 0.3, len(poses))[:, None]
    poses[:, 13] = base[11] + (base[13] - base[11]) * shrink  # the thigh shrinks through the fold
    poses[700:720, 13] = 0.5 * (poses[700:720, 11] + poses[700:720, 15])  # the knee on the hip-ankle line
    got = batch(poses.copy())
    flat = np.stack([proj(p.astype(np.float32), np.zeros((17, 3), np.float32)) for p in poses])
    np.testing.assert_allclose(got, flat, atol=1e-5)
    np.testing.assert_allclose(sk.bone_lengths(got), np.broadcast_to(sk.CANONICAL_BONE_LENGTHS, (len(got), 17)), atol=1e-5)
    steps = np.abs(np.diff(got, axis=0)).max(axis=(1, 2))
    assert np.delete(steps, range(699, 720)).max() < 0.002  # 0.7 of a thigh in 1400 steps: no jump where the fold begins


def _knee_side(p: np.ndarray) -> np.ndarray:
    """The left knee's unit offset across its leg (the hip-ankle line) per pose [t, 3]."""
    u = p[:, 15] - p[:, 11]
    u /= np.linalg.norm(u, axis=-1, keepdims=True)
    k = p[:, 13] - p[:, 11]
    k -= np.einsum("tc,tc->t", k, u)[:, None] * u
    return k / np.linalg.norm(k, axis=-1, keepdims=True)


def test_a_folded_knee_the_model_flips_across_its_leg_turns_over_there_at_a_bounded_rate() -> None:
    """The model draws the left thigh at a fifth of its length (a folded leg, as breaking's floor
    work) with the knee just left of the hip-ankle line, and from frame 10 just right of it: the
    projected knee would swap sides in one frame (its direction is the short thigh's). With the
    turn limit (``KneeTurn``, KNEE_TURN_DEG_S) the shown knee turns about the leg by at most that
    rate, frame by frame and over the whole dance alike, reaches the new side, bones exact; the
    same projection without it swaps in one frame."""
    from live import post_many as pm
    from live.post import BoneProjector

    fps, n = 30, 40
    step = np.radians(post_mod.KNEE_TURN_DEG_S) / fps
    base = sk.rest_pose().astype(np.float64)
    base[15] = base[11] + [0.0, -0.3, 0.15]
    poses = np.repeat(base[None], n, axis=0)
    side = np.where(np.arange(n) < 10, 1.0, -1.0)
    poses[:, 13] = base[11] + 0.5 * (base[15] - base[11]) * 0.5 + side[:, None] * [0.05, 0.0, 0.0]
    fold = (post_mod.LEG_FOLD_FROM, post_mod.LEG_FOLD_FULL, post_mod.KNEE_LEAN)
    proj = BoneProjector(turn=pm.KneeTurn(step))
    flat = np.stack([proj(p.astype(np.float32), np.zeros((17, 3), np.float32)) for p in poses]).astype(np.float64)
    whole = pm.BatchProjector(proj.plan, legs=proj.legs, fold=fold, turn=pm.KneeTurn(step))(poses.copy())
    np.testing.assert_allclose(whole, flat, atol=1e-5)
    s = _knee_side(whole)
    turn = np.arccos(np.clip(np.einsum("tc,tc->t", s[1:], s[:-1]), -1.0, 1.0))
    assert turn.max() < step + 1e-3
    assert s[0, 0] > 0.9 and s[-1, 0] < -0.9  # from the one side to the other
    np.testing.assert_allclose(sk.bone_lengths(whole), np.broadcast_to(sk.CANONICAL_BONE_LENGTHS, (n, 17)), atol=1e-5)
    plain = pm.BatchProjector(proj.plan, legs=proj.legs, fold=fold)(poses.copy())
    s = _knee_side(plain)
    assert np.arccos(np.clip(s[10] @ s[9], -1.0, 1.0)) > np.radians(150)


def test_a_folded_knee_turns_about_its_leg_no_faster_than_the_speed_limit() -> None:
    """The model folds the left leg (its ankle 34 cm from the hip) and draws the thigh at 0.75 of
    its length, in the band where the turn limit is weak, then flips the knee to the leg's other
    side: the full-length knee the projection puts on it would swing round the leg 20 cm and more
    in a frame. With the speed limit (``KneeTurn.max_step``, KNEE_TURN_V) it turns about the leg by
    at most that much a frame, frame by frame and whole alike, reaches the other side, bones
    exact; without it, faster."""
    from live import post_many as pm
    from live.post import BoneProjector

    fps, n = 30, 40
    base = sk.rest_pose().astype(np.float64)
    base[15] = base[11] + [0.0, -0.3, 0.15]
    poses = np.repeat(base[None], n, axis=0)
    side = np.where(np.arange(n) < 10, 1.0, -1.0)
    thigh = float(np.linalg.norm(sk.rest_pose()[13] - sk.rest_pose()[11]))
    mid = base[11] + 0.5 * (base[15] - base[11]) + side[:, None] * [0.3, 0.0, 0.0]
    d = mid - base[11]
    poses[:, 13] = base[11] + 0.75 * thigh * d / np.linalg.norm(d, axis=1, keepdims=True)
    fold = (post_mod.LEG_FOLD_FROM, post_mod.LEG_FOLD_FULL, post_mod.KNEE_LEAN)
    turn, limit = np.radians(post_mod.KNEE_TURN_DEG_S) / fps, post_mod.KNEE_TURN_V / fps

    def across(p: np.ndarray) -> np.ndarray:  # how far the knee turns about its leg, frame to frame (m)
        u = p[:, 15] - p[:, 11]
        u /= np.linalg.norm(u, axis=-1, keepdims=True)
        k = p[:, 13] - p[:, 11]
        k -= np.einsum("tc,tc->t", k, u)[:, None] * u
        up = np.linalg.norm(k, axis=-1)
        s = k / up[:, None]
        last = s[:-1] - np.einsum("tc,tc->t", s[:-1], u[1:])[:, None] * u[1:]  # the last side across this leg
        last /= np.linalg.norm(last, axis=-1, keepdims=True)
        return np.arccos(np.clip(np.einsum("tc,tc->t", s[1:], last), -1.0, 1.0)) * up[1:]

    proj = BoneProjector(turn=pm.KneeTurn(turn, max_step=limit))
    flat = np.stack([proj(q.astype(np.float32), np.zeros((17, 3), np.float32)) for q in poses]).astype(np.float64)
    whole = pm.BatchProjector(proj.plan, legs=proj.legs, fold=fold, turn=pm.KneeTurn(turn, max_step=limit))(poses.copy())
    np.testing.assert_allclose(whole, flat, atol=1e-5)
    assert across(whole).max() < limit + 1e-4
    assert _knee_side(whole)[0, 0] > 0.9 and _knee_side(whole)[-1, 0] < -0.9  # from the one side to the other
    np.testing.assert_allclose(sk.bone_lengths(whole), np.broadcast_to(sk.CANONICAL_BONE_LENGTHS, (n, 17)), atol=1e-5)
    free = pm.BatchProjector(proj.plan, legs=proj.legs, fold=fold, turn=pm.KneeTurn(turn))(poses.copy())
    assert across(free).max() > 1.3 * limit


def _folding(n: int, fps: float) -> np.ndarray:
    """A dancer whose model draws the left thigh at 15-50 % of its length, its direction swinging
    +-70 deg at 3 Hz, while the ankle stays put (breaking's floor work as the model draws it)."""
    t = np.arange(n) / fps
    p = np.repeat(sk.rest_pose(on_floor=True)[None], n, axis=0).astype(np.float64)
    share = 0.15 + 0.35 * (0.5 + 0.5 * np.cos(2 * np.pi * 0.25 * t))
    ang = 1.2 * np.sin(2 * np.pi * 3.0 * t)
    p[:, 13] = p[:, 11] + (share * 0.45)[:, None] * np.stack([np.sin(ang), -np.cos(ang), 0.3 + 0 * ang], axis=1)
    p[:, 15] = p[:, 11] + np.array([0.05, -0.55, 0.3])
    return (p + np.random.default_rng(3).normal(scale=0.003, size=p.shape)).astype(np.float32)


def test_a_folded_leg_does_not_swing_the_foot_frame_by_frame_or_whole() -> None:
    fps, n = 30.0, 240
    poses = _folding(n, fps)

    def ankle_speed(fold: bool) -> float:
        post = PostProcessor(fps=fps, smoothing=0.0, root="center", foot_lock=False)
        post._project.fold_legs = fold
        out = np.stack([post.process(p).copy() for p in poses])
        return float(np.linalg.norm(np.diff(out[:, 15], axis=0), axis=-1).max() * fps)

    assert ankle_speed(True) < 0.1 * ankle_speed(False)
    kw = dict(fps=fps, smoothing=0.5, root="follow")
    live = PostProcessor(**kw)  # type: ignore[arg-type]
    frames = np.stack([live.process(p).copy() for p in poses])
    whole = PostProcessor(**kw).process_many(poses)  # type: ignore[arg-type]
    np.testing.assert_allclose(whole, frames, atol=1e-6)
    np.testing.assert_allclose(sk.bone_lengths(whole), np.broadcast_to(sk.CANONICAL_BONE_LENGTHS, (n, 17)), atol=1e-5)


def test_toggling_mirror_in_follow_flips_the_direction_not_the_place() -> None:
    fps = 30
    post = PostProcessor(fps=fps, smoothing=0.0, root="follow", foot_lock=False)
    walk = _walk(60, (0.5, 0.0))
    walk[:, :, 0] += 2.0  # the model's root is far from the origin
    a = post.process_many(walk[:30])
    post.mirror = True
    b = post.process_many(walk[30:])
    ra, rb = sk.root_of(a)[:, 0], sk.root_of(b)[:, 0]
    assert abs(rb[0] - ra[-1]) < 0.05  # no jump when the mirror switches
    assert rb[-1] < rb[0]  # the mirrored dancer travels the other way


def _arm_swing(n: int, fps: float, hz: float = 0.37) -> np.ndarray:
    """Wrists and elbows circling at ``hz`` (unrelated to any beat): constant speed."""
    t = np.arange(n) / fps
    poses = np.repeat(_pose()[None], n, axis=0).astype(np.float64)
    for j, sgn in ((9, 1.0), (10, -1.0), (7, 1.0), (8, -1.0)):
        r = 0.25 if j in (9, 10) else 0.12
        poses[:, j, 0] += sgn * r * np.cos(2 * np.pi * hz * t)
        poses[:, j, 1] += r * np.sin(2 * np.pi * hz * t)
    return poses.astype(np.float32)


def _cues(n: int, fps: float, bpm: float = 120.0, rms: np.ndarray | None = None) -> np.ndarray:
    t = np.arange(n) / fps
    phase = ((t + 1.0 / fps) * bpm / 60.0) % 1.0  # the tracker's phase is at the end of the hop
    return np.stack([phase, np.full(n, bpm), np.full(n, 0.1) if rms is None else rms], axis=1)


def test_groove_lands_the_motion_on_the_beat() -> None:
    """Motion unrelated to the beat gets its slowest moments on the beats (the beat-align
    score rises far above the half-beat-off score) and keeps its extent."""
    from model import metrics as mt
    from model import metrics_dancer as md

    fps, n = 30.0, 900
    poses, cues = _arm_swing(n, fps), _cues(n, fps)
    beats = np.arange(0.5, n / fps, 0.5)
    plain = PostProcessor(fps=fps, smoothing=0.0, foot_lock=False).process_many(poses, cues)
    groove = PostProcessor(fps=fps, smoothing=0.0, foot_lock=False, groove=0.8).process_many(poses, cues)
    on, off = mt.beat_align_score(groove, beats, fps=fps), mt.beat_align_score(groove, md.off_beats(beats), fps=fps)
    assert mt.beat_align_score(plain, beats, fps=fps) < 0.2  # a steady circle has no accents
    assert on > 0.6 and on - off > 0.5
    assert md.pose_spread(groove) == pytest.approx(md.pose_spread(plain), rel=0.1)
    late = PostProcessor(fps=fps, smoothing=0.0, foot_lock=False, groove=0.8, offset_ms=-125.0).process_many(poses, cues)
    assert mt.beat_align_score(late, beats, fps=fps) < on - 0.3  # a quarter beat early is off the beat


def test_a_groove_profile_shapes_the_speed_through_the_beat() -> None:
    """With a house-like profile (a second harmonic) the steady circle slows on the half beats
    as well as on the beats; with a flat profile it keeps its steady speed; the shape is what
    the profile asks (measured back with beat_profile)."""
    from model import metrics as mt
    from model import metrics_dancer as md

    fps, n = 30.0, 900
    poses, cues = _arm_swing(n, fps), _cues(n, fps)
    beats = np.arange(0.5, n / fps, 0.5)

    def run(profile: list[float] | None) -> np.ndarray:
        pp = PostProcessor(fps=fps, smoothing=0.0, foot_lock=False, groove=0.8)
        pp.set_groove_profile(profile)
        return pp.process_many(poses, cues)

    cosine, house, flat = run(None), run([0.0, 0.0, -1.0, 0.0]), run([0.0] * 6)
    off = md.off_beats(beats)
    assert mt.beat_align_score(cosine, off, fps=fps) < 0.3  # the cosine: slow on the beat only
    on, half = mt.beat_align_score(house, beats, fps=fps), mt.beat_align_score(house, off, fps=fps)
    assert on > 0.35 and half > 0.35 and abs(on - half) < 0.15, (on, half)  # stops on beats and half beats alike
    prof = md.beat_profile(house[30:], beats - 1.0, fps=fps)
    assert prof[2] < -0.4 and abs(prof[0]) < 0.15, prof  # the second harmonic, not the first
    assert np.abs(md.beat_profile(flat[30:], beats - 1.0, fps=fps)).max() < 0.1  # no accent at all
    pp = PostProcessor(fps=fps, groove=1.0)
    pp.set_groove_profile([-2.0, 0.0])
    assert pp._groove_speed(0.0) == GROOVE_MIN_SPEED and pp._groove_speed(-0.0) == GROOVE_MIN_SPEED
    assert pp._groove_speed(1.0 - 1e-17) == pytest.approx(GROOVE_MIN_SPEED)  # wraps, never past the table
    with pytest.raises(ConfigError, match="groove profile"):
        pp.set_groove_profile([0.1, 0.2, 0.3])


def test_dynamics_calm_a_quiet_passage_and_come_back() -> None:
    from model import metrics_dancer as md

    fps, n = 30.0, 900
    rms = np.full(n, 0.1)
    rms[300:600] = 0.1 * 10 ** (-30 / 20)  # 30 dB quieter
    poses, cues = _arm_swing(n, fps, hz=0.8), _cues(n, fps, rms=rms)
    out = PostProcessor(fps=fps, smoothing=0.0, foot_lock=False, dynamics=1.0).process_many(poses, cues)
    ratio = md.section_speed_ratio(out, fps=fps, section=(10.0, 20.0))
    assert ratio < 0.4
    off = PostProcessor(fps=fps, smoothing=0.0, foot_lock=False, dynamics=0.0).process_many(poses, cues)
    assert md.section_speed_ratio(off, fps=fps, section=(10.0, 20.0)) > 0.9
    s, s0 = (md.joint_speeds(x, fps=fps).mean(axis=1)[-150:].mean() for x in (out, off))
    assert s > 0.9 * s0  # loud again: full size
    assert sk.bone_length_error(out) < 1e-5


def test_low_energy_shrinks_the_moves_frame_by_frame_and_whole() -> None:
    from model import metrics_dancer as md

    fps, n = 30.0, 600
    poses, cues = _arm_swing(n, fps, hz=0.8), _cues(n, fps, rms=np.full(n, 0.1))

    def spread(energy: float, frames: bool = False) -> float:
        pp = PostProcessor(fps=fps, smoothing=0.0, foot_lock=False, dynamics=0.0, energy=energy)
        if frames:
            out = []
            for p, c in zip(poses, cues, strict=True):
                pp.cue(*c)
                out.append(pp.process(p).copy())
            return md.pose_spread(np.stack(out)[150:])
        return md.pose_spread(pp.process_many(poses, cues)[150:])

    full, low, high = spread(1.0), spread(0.3), spread(1.8)
    assert low / full == pytest.approx(np.sqrt(0.3), rel=0.1)  # sqrt(energy) of the size
    assert high == pytest.approx(full, rel=1e-6)  # above 1 the model alone sizes the moves
    assert spread(0.3, frames=True) == pytest.approx(low, rel=1e-4)
    pp = PostProcessor(fps=fps, energy=5.0)
    assert pp.energy == 2.0  # clamped to the control's range
    # energy turned down mid-dance: whole halves equal frame by frame, and nothing jumps at the switch
    kw = dict(fps=fps, smoothing=0.0, foot_lock=False, dynamics=1.0, groove=0.8)
    halves = PostProcessor(**kw)  # type: ignore[arg-type]
    a = halves.process_many(poses[:300], cues[:300])
    halves.energy = 0.3
    b = halves.process_many(poses[300:], cues[300:])
    frames = PostProcessor(**kw)  # type: ignore[arg-type]
    out = []
    for i, (p, c) in enumerate(zip(poses, cues, strict=True)):
        if i == 300:
            frames.energy = 0.3
        frames.cue(*c)
        out.append(frames.process(p).copy())
    np.testing.assert_allclose(np.concatenate([a, b]), np.stack(out), atol=1e-6)
    step = np.abs(np.diff(np.stack(out), axis=0)).max(axis=(1, 2))
    assert step[299] < 2.0 * step[250:299].max()
    assert md.pose_spread(np.stack(out)[450:]) < 0.8 * md.pose_spread(np.stack(out)[150:300])


@pytest.mark.parametrize("profile", [None, [-0.4, 0.1, -0.5, 0.0, 0.2, -0.1]])
def test_groove_and_dynamics_frame_by_frame_equal_the_whole_dance_and_need_a_cue(profile: list[float] | None) -> None:
    fps, n = 30.0, 200
    rng = np.random.default_rng(3)
    poses = _arm_swing(n, fps) + rng.normal(scale=0.01, size=(n, 17, 3)).astype(np.float32)
    cues = _cues(n, fps, rms=np.linspace(0.1, 0.002, n))
    kw = dict(fps=fps, smoothing=0.5, root="follow", groove=0.8, dynamics=1.0)
    batch = PostProcessor(**kw)  # type: ignore[arg-type]
    live = PostProcessor(**kw)  # type: ignore[arg-type]
    for post in (batch, live):
        post.set_groove_profile(profile)
    whole = batch.process_many(poses, cues)
    frames = []
    for p, c in zip(poses, cues, strict=True):
        live.cue(*c)
        frames.append(live.process(p).copy())
    np.testing.assert_allclose(np.stack(frames), whole, atol=1e-6)
    no_cue = PostProcessor(**kw).process_many(poses)  # type: ignore[arg-type]
    plain = PostProcessor(fps=fps, smoothing=0.5, root="follow").process_many(poses)
    np.testing.assert_allclose(no_cue, plain, atol=1e-6)
    assert np.abs(whole - plain).max() > 0.02


def _stepping(n: int, fps: float, seed: int = 1) -> np.ndarray:
    """n frames of a dancer on the floor swaying sideways, lifting one foot then the other
    (both feet planted part of the time), an arm swinging, with a little noise."""
    t = np.arange(n) / fps
    p = np.repeat(sk.rest_pose(on_floor=True)[None], n, axis=0).astype(np.float64)
    p[:, sk.LEFT_FOOT, 1] += np.maximum(0.0, np.sin(2 * np.pi * t)) * 0.15
    p[:, sk.RIGHT_FOOT, 1] += np.maximum(0.0, -np.sin(2 * np.pi * t)) * 0.15
    p[:, :, 0] += 0.4 * np.sin(0.5 * t)[:, None]
    p[:, 9] += 0.3 * np.sin(2 * np.pi * 0.7 * t)[:, None]
    return (p + np.random.default_rng(seed).normal(scale=0.01, size=p.shape)).astype(np.float32)


@pytest.mark.parametrize("mirror,root,smoothing", [(False, "center", 0.5), (True, "follow", 0.5),
                                                   (False, "follow", 0.0), (True, "center", 0.0)])
def test_whole_dance_in_pieces_equals_frame_by_frame_with_feet_planted(mirror: bool, root: str, smoothing: float) -> None:
    """process_many (stage by stage over all frames) gives what process gives frame by frame,
    over planted feet (both feet: leg IK), mirror, follow, groove and dynamics, in two pieces
    and when the stream then continues frame by frame."""
    fps, n = 30.0, 600
    poses = _stepping(n, fps)
    rms = np.where((np.arange(n) > 200) & (np.arange(n) < 400), 0.002, 0.1)
    cues = _cues(n, fps, rms=rms)
    cues[50, 0] = np.nan  # a frame without a beat phase
    kw = dict(fps=fps, smoothing=smoothing, mirror=mirror, root=root, groove=0.8, dynamics=1.0)
    live = PostProcessor(**kw)  # type: ignore[arg-type]
    frames, planted = [], 0
    for p, c in zip(poses, cues, strict=True):
        live.cue(*c)
        frames.append(live.process(p).copy())
        planted += all(live.contact)
    assert planted > 50  # the IK path is exercised
    whole = PostProcessor(**kw)  # type: ignore[arg-type]
    pieces = np.concatenate([whole.process_many(poses[:250], cues[:250]), whole.process_many(poses[250:], cues[250:])])
    np.testing.assert_allclose(pieces, np.stack(frames), atol=1e-6)
    for p in poses[:40]:  # the state carried on
        np.testing.assert_allclose(whole.process(p), live.process(p), atol=1e-6)


@pytest.mark.parametrize("frame_by_frame", [False, True])
def test_feet_dipping_under_the_floor_are_lifted_onto_it_rigidly_and_smoothly(
    frame_by_frame: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The model sinks the whole dancer up to 15 cm into the floor (breaking floor work) and
    back: the shown ankles never go under FLOOR_Y, bones stay exact, the lift moves the body
    no faster than the model moves it (no pop), and once the dip is over the body is back at
    the model's height."""
    monkeypatch.setattr(post_mod, "PIN_S", 0.0)  # the lift alone (its release leaves the feet a mm up)
    monkeypatch.setattr(post_mod, "SOFT_IK", 0.0)  # (soft knees bend the rest pose's straight legs)
    fps = 30
    post = PostProcessor(fps=fps, smoothing=0.0, root="center", foot_lock=True)
    n = 120
    depth = 0.15 * np.sin(np.pi * np.clip((np.arange(n) - 10) / 40.0, 0.0, 1.0))  # frames 10..50
    poses = np.repeat(sk.rest_pose(on_floor=True)[None], n, axis=0)
    poses[:, :, 1] -= depth[:, None].astype(np.float32)
    if frame_by_frame:
        out = np.stack([post.process(p).copy() for p in poses])
    else:
        out = post.process_many(poses)
    assert poses[:, sk.FEET, 1].min() < post_mod.FLOOR_Y - 0.14
    assert out[:, sk.FEET, 1].min() >= post_mod.FLOOR_Y - 1e-5
    assert sk.bone_length_error(out) < 1e-5
    model_step = np.abs(np.diff(poses[:, :, 1], axis=0)).max()
    assert np.abs(np.diff(out[:, :, 1], axis=0)).max() <= model_step + 1e-5
    # the body is lifted, not bent: every joint moves up by the same amount
    lift = out[:, :, 1] - poses[:, :, 1]
    assert np.ptp(lift, axis=1).max() < 1e-4
    assert lift[30].min() > 0.1
    assert np.abs(lift[-1]).max() < 1e-3  # back at the model's own height


def test_a_foot_the_model_shuffles_slowly_along_the_floor_stays_planted(monkeypatch: pytest.MonkeyPatch) -> None:
    """The model swings the left foot and puts it down still gliding along the floor at
    0.8 m/s while the right one stands (a shuffle where a dancer would step): from the
    touch-down both shown feet stay where they are, the dragged leg re-solved by IK, bones
    exact."""
    monkeypatch.setattr(post_mod, "STEP_SPREAD", 0.0)  # the locks themselves (footwork steps: test_a_planted_foot_the_model_slides_away_steps_there)
    fps = 30
    post = PostProcessor(fps=fps, smoothing=0.0, root="center", foot_lock=True)
    n, down = 15, 6
    t = np.arange(n) / fps
    poses = np.repeat(sk.rest_pose(on_floor=True)[None], n, axis=0)
    poses[:, sk.LEFT_FOOT, 0] += 0.8 * t
    poses[:, 13, 0] += 0.4 * t  # the knee follows half way
    poses[:down, sk.LEFT_FOOT, 1] += 0.2  # kicked back in the air until frame `down`
    poses[:down, sk.LEFT_FOOT, 2] -= 0.25
    out = post.process_many(poses)
    for foot in sk.FEET:
        xz = out[down + 1:, foot][:, [0, 2]]  # (the frame it lands on it comes down fast)
        assert np.abs(xz - xz[0]).max() < 2e-3
    assert all(post.contact)
    assert sk.bone_length_error(out) < 1e-4
    assert poses[-1, sk.LEFT_FOOT, 0] - poses[down + 1, sk.LEFT_FOOT, 0] > 0.15  # the model did slide it


def _jittered_stand(n: int) -> tuple[np.ndarray, np.ndarray]:
    """(poses, jitter): standing on the left foot, whose ankle the model jitters 1 cm to and fro
    along the floor from frame 10 on; the right foot kicked back in the air."""
    poses = np.repeat(sk.rest_pose(on_floor=True)[None], n, axis=0)
    jitter = 0.01 * np.where(np.arange(n) % 2, 1.0, -1.0) * (np.arange(n) >= 10)
    poses[:, sk.LEFT_FOOT, 0] += jitter
    poses[:, sk.RIGHT_FOOT, 1] += 0.2
    poses[:, sk.RIGHT_FOOT, 2] -= 0.25
    return poses, jitter


def _hip_shake(post: PostProcessor, poses: np.ndarray, frame_by_frame: bool) -> tuple[float, np.ndarray]:
    """(mean |third difference| of the shown mid-hip's x from frame 10, the shown poses)."""
    out = np.stack([post.process(p).copy() for p in poses]) if frame_by_frame else post.process_many(poses)
    hip_x = 0.5 * (out[:, 11, 0] + out[:, 12, 0])
    return float(np.abs(np.diff(hip_x[10:], n=3)).mean()), out


@pytest.mark.parametrize("frame_by_frame", [True, False])
def test_a_planted_foot_the_model_jitters_does_not_shake_the_body(frame_by_frame: bool,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The model stands on its left foot and jitters that ankle 1 cm to and fro: the lock holds
    the shown foot still, and the body, shifted by what the lock needs, shook with the jitter (its
    mid-hip jerk equal to the ankle's). At the default smoothing the shift is shown through
    SHIFT_SMOOTH_S's stages: the mid-hip shakes under half as much as without them, the planted
    foot stays within a millimetre of its lock (its leg IK'd), bones exact. At smoothing 0 (a
    style calibrated to it, popping) the body follows the lock exactly, as before the stages."""
    fps, n = 30, 90
    poses, jitter = _jittered_stand(n)
    shake_foot = float(np.abs(np.diff(jitter[10:], n=3)).mean())
    shake, out = _hip_shake(PostProcessor(fps=fps, smoothing=0.5, root="center", foot_lock=True), poses, frame_by_frame)
    foot = out[5:, sk.LEFT_FOOT, 0]
    assert np.abs(foot - foot[0]).max() < 1e-3
    assert sk.bone_length_error(out) < 1e-4
    monkeypatch.setattr(post_mod, "SHIFT_SMOOTH_S", 0.0)
    plain, _ = _hip_shake(PostProcessor(fps=fps, smoothing=0.5, root="center", foot_lock=True), poses, frame_by_frame)
    assert shake < 0.5 * plain
    monkeypatch.undo()
    still, _ = _hip_shake(PostProcessor(fps=fps, smoothing=0.0, root="center", foot_lock=True), poses, frame_by_frame)
    assert abs(still - shake_foot) < 0.05 * shake_foot


@pytest.mark.parametrize("frame_by_frame", [True, False])
def test_a_foot_the_model_skates_along_the_floor_steps_over_it(frame_by_frame: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """The model stands on its right foot and puts the left down skating along the floor at
    1.5 m/s (too fast to plant; a circle of 20 cm): the shown left ankle is held STEP_H over the
    floor while it skates (a step), reaching it over a few frames, and comes back down to where
    the model draws it when the foot stops; the right foot stays planted, bones exact. With soft
    knees the body sinks over the standing leg, and the left leg, stretched past its reach, holds
    its foot lower, still clear of the floor."""
    monkeypatch.setattr(post_mod, "SOFT_IK", 0.0)  # the step's clearance alone, the standing leg as drawn
    fps, n = 30, 60
    t = np.clip(np.arange(n) - 10, 0, 30) / fps  # skating from frame 10 to 40, then still
    circle = 0.2 * np.stack([np.cos(7.5 * t) - 1.0, np.zeros(n), np.sin(7.5 * t)], axis=1)  # 1.5 m/s
    poses = np.repeat(sk.rest_pose(on_floor=True)[None], n, axis=0)
    poses[:, sk.LEFT_FOOT] += circle
    poses[:, 13] += 0.5 * circle
    poses[:10, sk.LEFT_FOOT, 1] += 0.2  # kicked back in the air, down onto the floor skating
    poses[:10, sk.LEFT_FOOT, 2] -= 0.25
    post = PostProcessor(fps=fps, smoothing=0.0, root="center", foot_lock=True)
    out = np.stack([post.process(p).copy() for p in poses]) if frame_by_frame else post.process_many(poses)
    left = out[:, sk.LEFT_FOOT, 1] - post_mod.FLOOR_Y
    assert left[20:40].min() > 0.9 * post_mod.STEP_H  # skating: a step over the floor
    assert np.abs(np.diff(left[10:])).max() < 0.35 * post_mod.STEP_H  # reached and left over a few frames
    drawn = PostProcessor(fps=fps, smoothing=0.0, foot_lock=False).process(poses[-1])[sk.LEFT_FOOT, 1]
    assert abs(out[-1, sk.LEFT_FOOT, 1] - drawn) < 0.005  # down again (to where it is drawn) once still
    right = out[:, sk.RIGHT_FOOT]
    assert np.abs(right[:, [0, 2]] - right[0, [0, 2]]).max() < 2e-3 and right[:, 1].max() - post_mod.FLOOR_Y < 1e-3
    assert sk.bone_length_error(out) < 1e-4
    monkeypatch.undo()
    post = PostProcessor(fps=fps, smoothing=0.0, root="center", foot_lock=True)
    soft = np.stack([post.process(p).copy() for p in poses]) if frame_by_frame else post.process_many(poses)
    sink = out[20:40, 11, 1] - soft[20:40, 11, 1]
    assert 0.005 < sink.min() and sink.max() < post_mod.SOFT_IK  # the body a little lower over a softer knee
    assert (soft[20:40, sk.LEFT_FOOT, 1] - post_mod.FLOOR_Y > 0.6 * post_mod.STEP_H).all()  # still stepping over
    right = soft[:, sk.RIGHT_FOOT]
    assert np.abs(right[:, [0, 2]] - right[0, [0, 2]]).max() < 2e-3 and right[:, 1].max() - post_mod.FLOOR_Y < 1e-3
    assert sk.bone_length_error(soft) < 1e-4


@pytest.mark.parametrize("frame_by_frame", [True, False])
def test_a_planted_leg_near_full_length_bends_softly_instead_of_snapping(frame_by_frame: bool,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The model stands on the floor with its legs all but straight (the rest pose: 99.9 % of their
    length) and bobs 4 mm at 2 Hz; the feet stay planted on the floor, so the IK reaches for them
    across the legs' full length. Solved at full length (SOFT_IK 0) the knees snap between straight
    and bent at many times the hips' speed; with soft knees the legs stay under 99 % of their
    length, the knees move about as fast as the hips, the body sinks a little, the feet stay
    planted on the floor and the bones exact."""
    from model import metrics_dancer as md

    fps, n = 30, 120
    t = np.arange(n) / fps
    poses = np.repeat(sk.rest_pose(on_floor=True)[None], n, axis=0).astype(np.float64)
    poses[:, :, 1] += (0.004 * (1.0 - np.cos(2.0 * np.pi * 2.0 * t)) / 2.0)[:, None]
    poses = poses.astype(np.float32)

    def shown() -> np.ndarray:
        post = PostProcessor(fps=fps, smoothing=0.0, root="center", foot_lock=True)
        out = np.stack([post.process(p).copy() for p in poses]) if frame_by_frame else post.process_many(poses)
        assert all(post.contact)
        return out[30:].astype(np.float64)

    def speed(out: np.ndarray, j: int) -> float:
        return float(np.linalg.norm(np.diff(out[:, j], axis=0), axis=-1).max() * fps)

    shipped = post_mod.SOFT_IK
    soft = shown()
    assert md.straight_legs(soft) == 0.0 and md.straight_legs(poses) == 1.0
    assert speed(soft, 13) < 2.0 * speed(soft, 11) and speed(soft, 14) < 2.0 * speed(soft, 12)
    feet = soft[:, sk.FEET]
    assert np.abs(feet[:, :, [0, 2]] - feet[:1, :, [0, 2]]).max() < 1e-3  # planted
    assert (feet[:, :, 1] - post_mod.FLOOR_Y).max() < 0.005  # on the floor (the bob's lift on top)
    assert sk.bone_length_error(soft) < 1e-5
    monkeypatch.setattr(post_mod, "SOFT_IK", 0.0)
    hard = shown()
    assert md.straight_legs(hard) > 0.3  # locked straight ...
    assert speed(hard, 13) > 8.0 * speed(hard, 11)  # ... and the knee snapping
    sink = hard[:, 11, 1] - soft[:, 11, 1]
    assert 0.005 < sink.min() and sink.max() < shipped


def test_a_dragged_foot_that_lifts_glides_back_to_the_model_without_a_jump(monkeypatch: pytest.MonkeyPatch) -> None:
    """Both feet planted while the model drags the left one 0.4 m away; when it lifts, the
    foot and the body glide to where the model has them instead of jumping there."""
    monkeypatch.setattr(post_mod, "STEP_SPREAD", 0.0)  # the locks themselves (footwork steps: test_a_planted_foot_the_model_slides_away_steps_there)
    fps = 30
    post = PostProcessor(fps=fps, smoothing=0.0, root="center", foot_lock=True)
    n = 40
    t = np.minimum(np.arange(n), 23) / fps
    poses = np.repeat(sk.rest_pose(on_floor=True)[None], n, axis=0)
    poses[:, sk.LEFT_FOOT, 0] += 0.8 * t
    poses[:, 13, 0] += 0.4 * t
    poses[:8, [13, sk.LEFT_FOOT], 1] += 0.12
    contact = []
    out = np.stack([(post.process(p).copy(), contact.append(post.contact[0]))[0] for p in poses])
    assert contact[10] and not contact[-1]  # planted, then lifted (the stretched leg rises)
    step = np.abs(np.diff(out[:, :, [0, 2]], axis=0)).max()
    assert step < 0.07  # the model's own foot moves 0.027 m a frame; the old release jumped 0.38 m
    assert np.abs(out[-1, sk.LEFT_FOOT, 0] - post_mod.PostProcessor(fps=fps, smoothing=0.0, foot_lock=False).process(poses[-1])[sk.LEFT_FOOT, 0]) < 0.03
    assert sk.bone_length_error(out) < 1e-4


def test_a_foot_plunging_under_the_floor_in_one_frame_bends_its_leg_instead_of_popping_the_body() -> None:
    """The model drops the whole dancer 25 cm into the floor from one frame to the next: the
    body rises back no faster than LIFT_MAX_V, meanwhile the legs bend so the feet stand on
    the floor, bones stay exact."""
    fps = 30
    post = PostProcessor(fps=fps, smoothing=0.0, root="center", foot_lock=True)
    poses = np.repeat(sk.rest_pose(on_floor=True)[None], 20, axis=0)
    poses[10:, :, 1] -= 0.25
    out = np.stack([post.process(p).copy() for p in poses])
    assert out[:, sk.FEET, 1].min() >= post_mod.FLOOR_Y - 1e-5
    root_y = out[:, [11, 12], 1].mean(axis=1)
    assert np.abs(np.diff(root_y)[10:]).max() <= post_mod.LIFT_MAX_V / fps + 1e-5  # the model is still
    assert root_y[10] < root_y[0] - 0.1  # the drop is shown (the legs bend) ...
    assert root_y[-1] > root_y[10] + 0.1  # ... and the body rises back onto its feet after
    assert sk.bone_length_error(out) < 1e-5


@pytest.mark.parametrize("frame_by_frame", [False, True])
def test_a_hand_reaching_through_the_floor_lifts_the_body_smoothly(
    frame_by_frame: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Floor work: the feet on the floor and a hand the model pushes 15 cm under it. The body
    rises rigidly (at most LIFT_MAX_V) until the hand rests on the floor, and sinks back once
    the hand comes up; a knee likewise."""
    monkeypatch.setattr(post_mod, "PIN_S", 0.0)  # the lift alone (planted feet the lift holds up are pinned)
    monkeypatch.setattr(post_mod, "SOFT_IK", 0.0)  # (soft knees bend the rest pose's straight legs)
    fps, n = 30.0, 150
    poses = np.repeat(sk.rest_pose(on_floor=True)[None], n, axis=0).astype(np.float32)
    dip = np.clip(np.sin(np.pi * np.arange(n) / 90.0), 0.0, None)
    dip[90:] = 0.0
    poses[:, 9, 1] = 0.02 - 0.17 * dip  # the left wrist: down to 15 cm under the floor
    poses[90:, 9, 1] = 0.3  # then up again
    post = PostProcessor(fps=fps, smoothing=0.0, root="center", project_bones=False)
    out = post.process_many(poses) if not frame_by_frame else np.stack([post.process(p).copy() for p in poses])
    lift = out[:, 11, 1] - poses[:, 11, 1]
    np.testing.assert_allclose(out[:, :, 1] - poses[:, :, 1], np.repeat(lift[:, None], 17, axis=1), atol=1e-5)  # rigid
    assert out[:, 9, 1].min() > post_mod.LIMB_FLOOR_Y - 0.01  # the hand rests on the floor
    assert lift.max() > 0.15  # by lifting the body
    assert np.abs(np.diff(lift)).max() <= post_mod.LIFT_MAX_V / fps + 1e-6  # no jump
    assert lift[-1] < 0.02  # and it sank back
    knee = np.repeat(sk.rest_pose(on_floor=True)[None], n, axis=0).astype(np.float32)
    knee[40:60, 13, 1] = -0.05  # a knee through the floor
    out = PostProcessor(fps=fps, smoothing=0.0, root="center", project_bones=False).process_many(knee)
    assert out[45:60, 13, 1].min() > 0.0


def _long_legs(n: int, stretch: float, jump: np.ndarray) -> np.ndarray:
    """The rest pose on the floor with both shins drawn ``stretch`` times their length (the feet
    on the floor where the model puts them, the hips where they are), lifted by ``jump`` (m)."""
    p = np.repeat(sk.rest_pose(on_floor=True)[None], n, axis=0).astype(np.float64)
    for knee, ankle in ((13, 15), (14, 16)):
        p[:, ankle] = p[:, knee] + (p[:, ankle] - p[:, knee]) * stretch
    p[:, :, 1] += (stretch - 1.0) * sk.CANONICAL_BONE_LENGTHS[15]  # the long feet on the floor
    p[:, :, 1] += jump[:, None]
    return p.astype(np.float32)


@pytest.mark.parametrize("frame_by_frame", [True, False])
def test_legs_drawn_long_are_set_down_on_the_floor_and_a_jump_stays_in_the_air(
    frame_by_frame: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The model draws both shins 20 % too long with its feet on the floor, and jumps 25 cm at
    2 s: the projection gives the shins their length from the knee down, which alone would hold
    the feet 8.6 cm over the floor; the body is set down by that, so the shown feet stand on the
    floor (bones exact, the body lowered rigidly), and in the jump the feet are as high as the
    model drew them."""
    monkeypatch.setattr(post_mod, "SOFT_IK", 0.0)  # the set-down alone (soft knees would lower the body more)
    fps = 30
    n = 120
    jump = 0.25 * np.sin(np.pi * np.clip((np.arange(n) - 60) / 12.0, 0.0, 1.0))  # frames 60..72
    poses = _long_legs(n, 1.2, jump)
    raise_m = 0.2 * sk.CANONICAL_BONE_LENGTHS[15]
    post = PostProcessor(fps=fps, smoothing=0.0, root="center", foot_lock=True)
    out = np.stack([post.process(p).copy() for p in poses]) if frame_by_frame else post.process_many(poses)
    assert sk.bone_length_error(out) < 1e-5
    feet = out[:, sk.FEET, 1].min(axis=1)
    drawn = poses[:, sk.FEET, 1].min(axis=1)
    assert abs(drawn[30] - post_mod.FLOOR_Y) < 1e-3
    assert np.abs(feet[30:58] - post_mod.FLOOR_Y).max() < 0.005  # standing: on the floor
    assert feet.min() >= post_mod.FLOOR_Y - 1e-4
    assert feet[66] > post_mod.FLOOR_Y + 0.2 and abs(feet[66] - drawn[66]) < 0.02  # the jump kept
    assert np.abs(feet[100:] - post_mod.FLOOR_Y).max() < 0.005  # and down again
    shift = out[:, :, 1] - poses[:, :, 1]
    assert np.ptp(shift[40, :13]) < 1e-4  # the upper body lowered rigidly, by what the shins were too long
    assert shift[40, 0] == pytest.approx(-raise_m, abs=3e-3)
    # without the set-down (the old projection) the feet would hover by what it raised them
    hover = PostProcessor(fps=fps, smoothing=0.0, root="center", foot_lock=False)
    up = np.stack([hover.process(p).copy() for p in poses])
    assert up[40, sk.FEET, 1].min() - post_mod.FLOOR_Y == pytest.approx(raise_m, abs=1e-4)


@pytest.mark.parametrize("frame_by_frame", [True, False])
def test_floor_work_drawn_in_the_air_rests_on_the_floor_and_a_standing_jump_does_not(frame_by_frame: bool) -> None:
    """The model draws a crouch (hips 0.45 m up, thighs level, shins folded back) with no joint
    within 15 cm of the floor, then
    stands and jumps 25 cm (hips 0.9 m and more): the crouch is set down until a foot stands on
    the floor (bones exact, the body lowered rigidly); the jump stays in the air as drawn."""
    fps = 30
    n = 150
    crouch = sk.rest_pose(on_floor=True).astype(np.float64)
    crouch[:13, 1] -= 0.5 * (crouch[11, 1] + crouch[12, 1]) - 0.45  # the upper body down: hips 0.45 m up
    for hip, knee, ankle in ((11, 13, 15), (12, 14, 16)):  # thighs level to the front, shins back down
        crouch[knee] = crouch[hip] + sk.CANONICAL_BONE_LENGTHS[knee] * np.array([0.0, 0.0, 1.0])
        crouch[ankle] = crouch[knee] + sk.CANONICAL_BONE_LENGTHS[ankle] * np.array([0.0, -0.5, -1.0]) / np.sqrt(1.25)
    stand = sk.rest_pose(on_floor=True).astype(np.float64)
    poses = np.empty((n, 17, 3))
    poses[:60] = crouch
    poses[60:] = stand
    jump = 0.25 * np.sin(np.pi * np.clip((np.arange(n) - 110) / 12.0, 0.0, 1.0))
    poses[:, :, 1] += jump[:, None]
    poses = poses.astype(np.float32)
    post = PostProcessor(fps=fps, smoothing=0.0, root="center", foot_lock=True)
    out = np.stack([post.process(p).copy() for p in poses]) if frame_by_frame else post.process_many(poses)
    assert sk.bone_length_error(out) < 1e-5
    low_drawn, low_shown = poses[:, :, 1].min(axis=1), out[:, :, 1].min(axis=1)
    assert low_drawn[20:60].min() > post_mod.FLOOR_Y + 0.15 and 0.5 * (poses[30, 11, 1] + poses[30, 12, 1]) < post_mod.SUPPORT_FULL
    assert out[30:58, sk.FEET, 1].min(axis=1).max() < post_mod.FLOOR_Y + 0.01  # the crouch on its feet
    assert np.ptp(out[40, :, 1] - poses[40, :, 1]) < 1e-4  # lowered rigidly
    assert low_shown[116] > low_drawn[116] - 0.01 and low_shown[116] > 0.2  # the jump as drawn


def _tucked(lift: float) -> np.ndarray:
    """The rest pose on the floor with both shins swung back until the ankles are ``lift`` (m)
    higher, the hips where they were: both feet off the floor without a jump."""
    p = sk.rest_pose(on_floor=True).astype(np.float64)
    for knee, ankle in ((13, 15), (14, 16)):
        length = float(np.linalg.norm(p[ankle] - p[knee]))
        drop = p[knee, 1] - (p[ankle, 1] + lift)
        back = np.sqrt(length**2 - drop**2)
        p[ankle] = p[knee] + np.array([0.0, -drop, -back])
    return p


@pytest.mark.parametrize("frame_by_frame", [True, False])
def test_a_body_held_in_the_air_longer_than_a_jump_lasts_comes_down_and_a_jump_does_not(
    frame_by_frame: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The model stands, then rises 22 cm whole (hips and feet alike: the hop rule takes it for a
    jump) and stays up for a second and a half; later it jumps 30 cm for 0.45 s on a ballistic arc.
    A flight 22 cm high lasts 0.42 s: from about a second into the hover the body is on the floor again
    (lowered rigidly, bones exact), without a jolt when the model comes down; the real jump
    stays as drawn; with the rule out of reach the hover stays up."""
    monkeypatch.setattr(post_mod, "PIN_S", 0.0)  # the set-down alone (it passes through the pin's band)
    monkeypatch.setattr(post_mod, "SOFT_IK", 0.0)  # (soft knees bend the rest pose's straight legs)
    fps = 30
    n = 200
    stand = sk.rest_pose(on_floor=True).astype(np.float64)
    poses = np.repeat(stand[None], n, axis=0)
    up = 0.22 * np.clip(np.minimum(np.arange(n) - 30, 75 - np.arange(n)) / 3.0, 0.0, 1.0)  # 30..75, 0.1-s ramps
    t = (np.arange(n) - 140) / fps
    arc = np.where((t >= 0) & (t <= 0.45), 2.2 * t - 0.5 * 9.81 * t * t, 0.0)  # v0 2.2 m/s: 0.45 s, 0.25 m
    poses[:, :, 1] += (up + np.maximum(arc, 0.0))[:, None]
    poses = poses.astype(np.float32)

    def shown() -> np.ndarray:
        post = PostProcessor(fps=fps, smoothing=0.0, root="center", foot_lock=True)
        return np.stack([post.process(p).copy() for p in poses]) if frame_by_frame else post.process_many(poses)

    out = shown()
    assert sk.bone_length_error(out) < 1e-5
    feet_drawn, feet_shown = poses[:, sk.FEET, 1].min(axis=1), out[:, sk.FEET, 1].min(axis=1)
    assert feet_shown[45] > post_mod.FLOOR_Y + 0.2  # a half second up: could still be a jump
    assert feet_shown[60:74].max() < post_mod.FLOOR_Y + post_mod.GROUND_Y + 0.02  # then down (followed
    assert feet_shown[73] < post_mod.FLOOR_Y + post_mod.GROUND_Y + 0.003  # with HOP_DOWN_S) to GROUND_Y
    assert np.ptp(out[65, :, 1] - poses[65, :, 1]) < 1e-4  # rigidly
    land = slice(66, 84)  # the model comes down at 72-75: shown, the body (already down) lands softer
    assert np.abs(np.diff(out[land, 0, 1], n=2)).max() < 0.5 * np.abs(np.diff(poses[land, 0, 1], n=2)).max()
    assert np.abs(np.diff(out[40:66, 0, 1], n=2)).max() < 0.02  # and is set down without a jolt
    jump = slice(141, 153)
    assert np.abs(feet_shown[jump] - feet_drawn[jump]).max() < 2e-3 and feet_shown[147] > post_mod.FLOOR_Y + 0.2
    monkeypatch.setattr(post_mod, "FLIGHT_SLACK_S", 100.0)
    assert shown()[60:72, sk.FEET, 1].min(axis=1).min() > post_mod.FLOOR_Y + 0.2


@pytest.mark.parametrize("frame_by_frame", [True, False])
def test_both_feet_lifted_without_a_jump_are_set_down_and_a_tuck_jump_is_not(
    frame_by_frame: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The model stands, then draws both feet 15 cm up with the hips where they stood (a hover no
    dancer can hold) for a second and a half, stands again, then tucks its feet 20 cm up while its
    hips rise 10 cm (a tuck jump): the hover is set down until the lower foot stands on the floor
    (the body lowered rigidly, bones exact) within a few frames; the tuck jump stays as drawn; a
    body in the air from its first frame (no standing height known yet) is left as drawn."""
    monkeypatch.setattr(post_mod, "PIN_S", 0.0)  # the set-down alone (it passes through the pin's band)
    monkeypatch.setattr(post_mod, "SOFT_IK", 0.0)  # (soft knees bend the rest pose's straight legs)
    fps = 30
    n = 180
    stand = sk.rest_pose(on_floor=True).astype(np.float64)
    poses = np.repeat(stand[None], n, axis=0)
    poses[30:75] = _tucked(0.15)
    jump = 0.10 * np.sin(np.pi * np.clip((np.arange(n) - 120) / 12.0, 0.0, 1.0))  # frames 120..132
    tuck = _tucked(0.10)  # the feet 10 cm further up than the hips rise: 20 cm in all at the top
    for i in range(120, 133):
        w = jump[i] / 0.10
        poses[i] = (1 - w) * stand + w * tuck
        poses[i, :, 1] += jump[i]
    poses = poses.astype(np.float32)
    post = PostProcessor(fps=fps, smoothing=0.0, root="center", foot_lock=True)
    out = np.stack([post.process(p).copy() for p in poses]) if frame_by_frame else post.process_many(poses)
    assert sk.bone_length_error(out) < 1e-5
    feet_drawn, feet_shown = poses[:, sk.FEET, 1].min(axis=1), out[:, sk.FEET, 1].min(axis=1)
    assert feet_drawn[40] == pytest.approx(post_mod.FLOOR_Y + 0.15, abs=1e-3)
    assert feet_shown[45:75].max() < post_mod.FLOOR_Y + 0.01  # the hover on the floor within half a second
    # lowered rigidly, by the 15 cm (a foot lands where it is shown: its leg may keep the
    # millimetres its glide back from the lift had left)
    assert np.ptp(out[50, :, 1] - poses[50, :, 1]) < 2e-3
    assert out[50, 0, 1] - poses[50, 0, 1] == pytest.approx(-0.15, abs=0.01)
    assert np.abs(feet_shown[95:118] - post_mod.FLOOR_Y).max() < 0.005  # standing again
    assert feet_shown[126] > post_mod.FLOOR_Y + 0.18 and abs(feet_shown[126] - feet_drawn[126]) < 0.01  # the tuck jump
    # in the air from the first frame: nothing stood yet, nothing is set down by the rule
    fresh = PostProcessor(fps=fps, smoothing=0.0, root="center", foot_lock=True)
    up = np.stack([fresh.process(p).copy() for p in poses[30:60]])
    assert up[:, sk.FEET, 1].min(axis=1).min() > post_mod.FLOOR_Y + 0.14
    # and without the rule (its threshold out of reach, and the flight's) the hover stays in the air
    monkeypatch.setattr(post_mod, "HOP_FROM", 10.0)
    monkeypatch.setattr(post_mod, "HOP_FULL", 10.1)
    monkeypatch.setattr(post_mod, "FLIGHT_SLACK_S", 100.0)
    off = PostProcessor(fps=fps, smoothing=0.0, root="center", foot_lock=True)
    hov = np.stack([off.process(p).copy() for p in poses])
    assert hov[40:75, sk.FEET, 1].min(axis=1).min() > post_mod.FLOOR_Y + 0.14


def _plie(hover: float, heel: float = 0.0) -> np.ndarray:
    """The rest pose with the hips 12 cm down and the knees bent forward over the feet (a plié),
    then the whole body ``hover`` (m) over the floor; the left ankle ``heel`` (m) further up."""
    p = sk.rest_pose(on_floor=True).astype(np.float64)
    feet = p[list(sk.FEET)].copy()
    p[:, 1] -= 0.12
    o = p.reshape(-1).tolist()
    fx, fy, fz = post_mod._front(o)
    fn = float(np.sqrt(fx * fx + fy * fy + fz * fz))
    for (ankle, knee, hip), f, up in zip(((15, 13, 11), (16, 14, 12)), feet, (heel, 0.0), strict=True):
        post_mod._two_bone_ik(o, hip, knee, ankle, f[0], f[1] + up, f[2], 0.3 * fx / fn, 0.3 * fy / fn, 0.3 * fz / fn)
    q = np.asarray(o).reshape(17, 3)
    q[:, 1] += hover
    return q


@pytest.mark.parametrize("frame_by_frame", [True, False])
def test_planted_feet_the_model_draws_hovering_stand_on_the_floor_and_a_heel_lift_stays(
    frame_by_frame: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The model stands in a plié, then draws the same plié 3 cm over the floor (as its standing
    dancers hover), and lifts the left heel 4 cm for a third of a second on top of it: the planted
    feet are shown settling onto the floor (their lower envelope followed up over PIN_ENV_S, the
    pin over PIN_S), the legs reaching down by IK with the hips where the model put them (bones
    exact), and the heel lift shown as a lift; with the pin off the feet hover as drawn."""
    fps, n = 30, 120
    poses = np.repeat(_plie(0.0)[None], n, axis=0)
    poses[30:] = _plie(0.03)
    for i in range(70, 80):
        poses[i] = _plie(0.03, 0.04 * np.sin(np.pi * (i - 70) / 10))
    poses = poses.astype(np.float32)

    def shown() -> tuple[np.ndarray, PostProcessor]:
        post = PostProcessor(fps=fps, smoothing=0.0, root="center", foot_lock=True)
        out = np.stack([post.process(p).copy() for p in poses]) if frame_by_frame else post.process_many(poses)
        return out, post

    out, post = shown()
    feet = out[:, sk.FEET, 1] - post_mod.FLOOR_Y
    assert sk.bone_length_error(out) < 1e-5 and all(post.contact)
    np.testing.assert_allclose(out[:, [11, 12], 1], poses[:, [11, 12], 1], atol=1e-5)  # the hips as drawn
    assert np.abs(feet[:30]).max() < 1e-4  # standing on the floor: nothing to pin
    assert feet[31].min() > 0.02  # the hover is taken in over a second, not in a jump ...
    assert np.abs(np.diff(feet[30:70], axis=0)).max() < 0.005  # (the model rose in one frame)
    assert feet[60:70].max() < 0.005 and feet[100:].max() < 0.002  # ... then the feet stand on the floor
    assert feet[74, 0] > 0.025 and feet[74, 1] < 0.005  # the heel lift is shown, the other foot stays down
    assert poses[74, 15, 1] - poses[74, 16, 1] > 0.035
    monkeypatch.setattr(post_mod, "PIN_S", 0.0)
    off, _ = shown()
    np.testing.assert_allclose(off[60:70, sk.FEET, 1], poses[60:70, sk.FEET, 1], atol=1e-4)  # hovering as drawn
