"""An ensemble: N dancers (1..8) from one audio stream, placed in a formation.

Sans-I/O like the engine: :class:`Ensemble` wraps a :class:`live.engine.Engine` (whose
frames are dancer 0) and hands back, for every frame, all dancers' poses
``[shape=(N, 17, 3)]`` (metres, stage space: each dancer at its formation position).

Modes (``ensemble.mode``):

- ``unison``: every dancer does dancer 0's move (one model step per frame).
- ``canon``: dancer i does what dancer i-1 did ``canon_beats`` beats earlier, exactly on
  the beat grid: in the beat interval that starts at beat b_j, dancer i replays dancer 0's
  frames from beat b_(j - i*k) on, at the same offset after the beat. The poses come from
  a ring buffer of dancer 0's poses (one model step per frame). Until a dancer's entry
  (the first i*k beats) it holds dancer 0's first pose.
- ``mirror``: pairs (0, 1), (2, 3), ...: odd dancers are the left/right mirror image of
  dancer 0, even ones do its move (one model step per frame).
- ``free``: every dancer has its own model state, seed (``model.seed + i``) and style
  (``ensemble.styles``, else the show's style): the generator is stepped once per dancer
  per frame, in a loop (:class:`FanOutGenerator`); batching them into one call is a later
  step.

Formations (``ensemble.formation``): ``line``, ``arc``, ``v``, ``grid``, ``ensemble.spacing``
metres apart, centred on the stage; +z toward the audience.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from live.phrase import REFRESH_KEEP, JumpFade
from live.post import steps_of
from model import skeleton as sk
from model.energy_calib import (
    energy_calibration,
    energy_ceilings,
    gain_of,
    scale_of,
    smoothing_of,
    style_gains,
)
from model.errors import ConfigError

MAX_DANCERS = 8
MODES = ("unison", "canon", "mirror", "free")
FORMATIONS = ("line", "arc", "v", "grid")
RING = 1024
"""Frames of all dancers' poses kept (consumers encode or copy a frame well within this)."""
COLORS = ("#ffffff", "#ff9a3c", "#46beff", "#8de36b", "#ff6b9a", "#c59bff", "#ffe35a", "#5ae3d2")
"""Each dancer's colour in the visualizer (dancer 0 first)."""


@dataclass(frozen=True)
class EnsembleSettings:
    """``ensemble.*``: dancers 1..8, mode, canon_beats (k), styles (one per dancer or
    empty), formation, spacing in metres."""

    dancers: int = 1
    mode: str = "unison"
    canon_beats: int = 1
    styles: tuple[str, ...] = ()
    formation: str = "line"
    spacing: float = 1.2

    def __post_init__(self) -> None:
        if not 1 <= self.dancers <= MAX_DANCERS:
            raise ConfigError(f"--dancers {self.dancers}: give 1..{MAX_DANCERS} dancers")
        if self.mode not in MODES:
            raise ConfigError(f"ensemble.mode {self.mode!r} must be one of {', '.join(MODES)}")
        if self.formation not in FORMATIONS:
            raise ConfigError(f"ensemble.formation {self.formation!r} must be one of {', '.join(FORMATIONS)}")
        if not 1 <= self.canon_beats <= 16:
            raise ConfigError(f"ensemble.canon_beats {self.canon_beats} must be 1..16 beats")
        if not 0.3 <= self.spacing <= 10.0:
            raise ConfigError(f"ensemble.spacing {self.spacing} must be 0.3..10 metres")
        if self.styles and len(self.styles) != self.dancers:
            raise ConfigError(f"--ensemble-styles names {len(self.styles)} styles for {self.dancers} dancers; "
                              "give one per dancer, comma-separated")

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> EnsembleSettings:
        e = dict(cfg.get("ensemble") or {})
        styles = e.get("styles") or ()
        if isinstance(styles, str):
            styles = [s for s in styles.split(",") if s.strip()]
        mode = str(e.get("mode", "unison"))
        if styles and mode == "unison":
            mode = "free"  # per-dancer styles need per-dancer model states
        return cls(dancers=int(e.get("dancers", 1)), mode=mode, canon_beats=int(e.get("canon_beats", 1)),
                   styles=tuple(str(s).strip() for s in styles), formation=str(e.get("formation", "line")),
                   spacing=float(e.get("spacing", 1.2)))


def formation_positions(n: int, formation: str, spacing: float = 1.2) -> np.ndarray:
    """Stage positions [shape=(n, 3)] (x, 0, z) in metres, centred on x = 0; +z toward
    the audience; dancer 0 in the middle or at the front where the formation has one."""
    pos = np.zeros((n, 3), np.float32)
    if n == 1:
        return pos
    if formation == "line":
        order = _centre_out(n)
        for slot, i in enumerate(order):
            pos[i, 0] = (slot - (n - 1) / 2.0) * spacing
    elif formation == "arc":
        radius = max(spacing * (n - 1) / np.pi * 1.2, spacing)
        ang = np.linspace(-np.pi / 3, np.pi / 3, n)
        for slot, i in enumerate(_centre_out(n)):
            pos[i, 0] = radius * np.sin(ang[slot])
            pos[i, 2] = radius * (np.cos(ang[slot]) - 1.0)
    elif formation == "v":
        for i in range(n):  # dancer 0 at the apex (front), then alternating left/right going back
            row, side = (i + 1) // 2, (1 if i % 2 else -1)
            pos[i, 0] = side * row * spacing * 0.5 if i else 0.0
            pos[i, 2] = -row * spacing * 0.8
    elif formation == "grid":
        cols = int(np.ceil(np.sqrt(n)))
        for i in range(n):
            r, c = divmod(i, cols)
            in_row = min(cols, n - r * cols)
            pos[i, 0] = (c - (in_row - 1) / 2.0) * spacing
            pos[i, 2] = -r * spacing
    else:
        raise ConfigError(f"formation {formation!r} must be one of {', '.join(FORMATIONS)}")
    pos[:, 0] -= pos[:, 0].mean()
    pos[:, 2] -= pos[:, 2].mean()
    return pos


def _centre_out(n: int) -> list[int]:
    """Dancer index for each slot left to right, dancer 0 in the middle slot."""
    slots: list[int | None] = [None] * n
    mid = (n - 1) // 2
    order = [mid]
    for d in range(1, n):
        for s in (mid - d, mid + d):
            if 0 <= s < n and s not in order:
                order.append(s)
    for i, s in enumerate(order[:n]):
        slots[s] = i
    return [int(x) for x in slots if x is not None]


_MIRROR = np.asarray(sk.MIRROR, np.intp)


def mirror_pose(pose: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Left/right mirror image of a pose [17, 3] about x = 0 (joints swap sides); ``out``
    must not be ``pose``. Allocates nothing."""
    np.take(pose, _MIRROR, axis=0, out=out)
    out[:, 0] *= -1.0
    return out


class FanOutGenerator:
    """Looks like one generator to the Engine; steps dancer 0's generator (whose pose the
    engine gets) and every other dancer's generator on the same features, each with its own
    style vector and seed. Raw poses of all dancers go into a ring (``raw[step % RING]``)."""

    def __init__(self, generators: Sequence[Any], styles: Sequence[np.ndarray | None]) -> None:
        self.gens = list(generators)
        g0 = self.gens[0]
        self.fps = g0.fps
        self.style_names = tuple(g0.style_names)
        self.control_names = tuple(g0.control_names)
        self.meta = getattr(g0, "meta", {})
        self.path = getattr(g0, "path", None)
        self.provider = getattr(g0, "provider", "")
        self.styles = [None if s is None else np.asarray(s, np.float32) for s in styles]
        self.raw = np.zeros((RING, len(self.gens), sk.NUM_JOINTS, 3), np.float32)
        self.steps = 0
        # a calibrated model (`dancemuse calibrate`) is fed energy x the style's scale: the engine
        # does it for dancer 0's mix; a dancer with its own style gets its own style's scale
        scales, self._emax = energy_calibration(self.meta if isinstance(self.meta, Mapping) else {}, self.style_names)
        self._e = self.control_names.index("energy") if "energy" in self.control_names else -1
        self._own = [None if (st is None or scales is None or self._e < 0) else scale_of(st, scales)
                     for st in self.styles]
        ceilings = energy_ceilings(self.meta if isinstance(self.meta, Mapping) else {}, self.style_names)
        self._top = [self._emax if (st is None or ceilings is None) else scale_of(st, ceilings) for st in self.styles]
        """Per dancer the highest energy it is fed: its own style's measured ceiling
        (`calibrate --ceiling`) or the model's ``energy_max``."""
        self._ctl = [np.zeros(len(self.control_names), np.float32) for _ in self.gens]
        self._fades = [JumpFade(int(self.fps)) for _ in self.gens[1:]]
        """The other dancers' jump fades after a phrase refresh (dancer 0's is the engine's)."""
        self.user_energy: float | None = None
        """The user's energy (the Engine sets it on every control change)."""

    def reset(self, *, seed: int | None = None) -> None:
        for i, g in enumerate(self.gens):
            g.reset(seed=None if seed is None else seed + i)
        for f in self._fades:
            f.reset()
        self.steps = 0

    def set_pick(self, count: int, look: float = 0.0) -> None:
        """The latent pick (``live.pick``, ``live.pick_look``; live/pick.py) for every dancer whose
        runtime has one."""
        for g in self.gens:
            sp = getattr(g, "set_pick", None)
            if sp is not None:
                sp(count, look)

    def refresh(self, keep: float = REFRESH_KEEP) -> None:
        """A new phrase for every dancer (live/phrase.py): each generator redraws its own memory
        from its own seeded stream (``keep``: how hard, as the runtimes take it); what is left of
        the other dancers' jumps is faded out here as the engine fades dancer 0's."""
        for i, g in enumerate(self.gens):
            r = getattr(g, "refresh", None)
            if r is not None:
                r(keep=keep)
                if i:
                    self._fades[i - 1].arm()

    def step(self, features: np.ndarray, *, style: Any = None, controls: Any = None) -> np.ndarray:
        slot = self.raw[self.steps % RING]
        for i, g in enumerate(self.gens):
            st = self.styles[i]
            ctl = controls
            own = self._own[i]
            if own is not None and controls is not None and self.user_energy is not None:
                ctl = self._ctl[i]
                ctl[:] = controls
                ctl[self._e] = min(self.user_energy * own, self._top[i])
            slot[i] = g.step(features, style=style if st is None else st, controls=ctl)
            if i:
                self._fades[i - 1].apply(slot[i])
        self.steps += 1
        return slot[0]

    def describe(self) -> str:
        d = getattr(self.gens[0], "describe", None)
        return f"{len(self.gens)} x " + (d() if callable(d) else "generator")


class Ensemble:
    """Dancer 0 from ``engine``; the others by ``settings.mode``; all placed in formation.

    ``process(samples, sr=...)`` returns the engine's frames (dancer 0's ``joints`` are its
    placed pose) and :meth:`dancers` gives all placed poses of a frame [N, 17, 3].
    For mode ``free`` the engine must run a :class:`FanOutGenerator` (see :func:`build`).
    """

    def __init__(self, engine: Any, settings: EnsembleSettings, *, min_bpm: float = 60.0) -> None:
        self.engine = engine
        self.s = settings
        n = settings.dancers
        self.n = n
        self.positions = formation_positions(n, settings.formation, settings.spacing)
        self.fps = int(engine.fps)
        self.ring = np.zeros((RING, n, sk.NUM_JOINTS, 3), np.float32)
        max_lag_beats = settings.canon_beats * max(0, n - 1)
        self.hist_len = int(np.ceil(max_lag_beats * 60.0 * self.fps / min_bpm)) + 2 * self.fps + 1
        self.hist = np.zeros((self.hist_len, sk.NUM_JOINTS, 3), np.float32)  # dancer 0, unplaced
        self.beat_frames = np.full(max(1, max_lag_beats + 1), -1, np.int64)  # ring of the last beats
        self.n_beats = 0
        self.first = np.zeros((sk.NUM_JOINTS, 3), np.float32)
        self._raw_buf = np.zeros((sk.NUM_JOINTS, 3), np.float32)  # a free dancer's interpolated raw pose
        self._tmp = np.zeros((sk.NUM_JOINTS, 3), np.float32)
        self.posts: list[Any] = []
        self.recorder: EnsembleRecorder | None = None
        if settings.mode == "free":
            if not isinstance(engine.generator, FanOutGenerator):
                raise ConfigError("ensemble mode 'free' needs a FanOutGenerator in the engine; use ensemble.build()")
            self.posts = [_post_like(engine) for _ in range(n - 1)]
        self._own_smooth: list[float | None] = [None] * len(self.posts)
        """Per free dancer with a style of its own: the model's smoothing factor of that style
        (times the user's smoothing each frame); None: the lead's smoothing."""
        self._own_steps: list[float | None] = [None] * len(self.posts)
        """Per free dancer with a style of its own: its ``step_spread`` (the engine's ``steps_of`` its
        style); None: the lead's."""
        self._own_groove = [False] * len(self.posts)
        """Per free dancer: whether it has its own style's groove profile (else the lead's)."""
        if self.posts:
            self._own_post_settings(engine.generator)

    def _own_post_settings(self, fan: FanOutGenerator) -> None:
        """A free dancer with a style of its own is smoothed and grooved as that style (the
        engine's per-style smoothing factors and groove tables, from the model), as the engine
        does for the lead."""
        smooth, tables = self.engine.smooth_scale, self.engine.groove_tables
        for i, post in enumerate(self.posts):
            st = fan.styles[i + 1]
            w = None if st is None else np.clip(np.asarray(st, np.float64), 0.0, None)  # strengthened: back to a mix
            if w is None or float(w.sum()) <= 0:
                continue
            w /= float(w.sum())
            if smooth is not None:
                self._own_smooth[i] = smoothing_of(w, smooth)
            self._own_steps[i] = steps_of(w, self.engine.footwork, self.engine.step_spreads)
            if tables is not None:
                post.set_groove_table(w @ tables)
                self._own_groove[i] = True

    def dancers(self, frame_index: int) -> np.ndarray:
        """All dancers' placed poses of frame ``frame_index`` [N, 17, 3] (a ring view)."""
        return self.ring[frame_index % RING]

    def process(self, samples: np.ndarray, *, sr: int, arrival: float | None = None, hold: bool = False) -> list[Any]:
        """Push audio through the engine; fill every frame's dancers; return the frames."""
        frames = self.engine.process(samples, sr=sr, arrival=arrival, hold=hold)
        for f in frames:
            self._frame(f)
        return list(frames)

    def _frame(self, f: Any) -> None:
        t = int(f.index)
        pose0 = f.joints
        self.hist[t % self.hist_len] = pose0
        if t == 0:
            self.first[...] = pose0
        if f.beat:
            self.beat_frames[self.n_beats % len(self.beat_frames)] = t
            self.n_beats += 1
        out = self.ring[t % RING]
        mode = self.s.mode
        for i in range(self.n):
            dst = out[i]
            if i == 0 or mode == "unison":
                dst[...] = pose0
            elif mode == "mirror":
                if i % 2:
                    mirror_pose(pose0, dst)
                else:
                    dst[...] = pose0
            elif mode == "canon":
                dst[...] = self._canon_source(t, i * self.s.canon_beats)
            else:  # free
                raw = self._raw_of(t, i)
                post, src = self.posts[i - 1], self.engine.post
                own = self._own_smooth[i - 1]
                post.smoothing = src.smoothing if own is None else own * float(self.engine.controls["smoothing"])
                post.groove, post.dynamics, post.energy = src.groove, src.dynamics, src.energy
                steps = self._own_steps[i - 1]
                post.step_spread = src.step_spread if steps is None else steps
                if not self._own_groove[i - 1]:
                    post.share_groove_profile(src)
                cue = self.engine.cues[t % len(self.engine.cues)]
                post.cue(float(cue[0]), float(cue[1]), float(cue[2]))
                dst[...] = post.process(raw)
            dst += self.positions[i]
        f.joints = out[0]
        f.dancers = out
        if self.recorder is not None:
            self.recorder.add(f)

    def _raw_of(self, t: int, i: int) -> np.ndarray:
        """Dancer i's raw pose for frame t: from the generator step(s) the engine made that
        frame from (``engine.src``: a 30 fps model at 60 fps interpolates between two)."""
        gen = self.engine.generator
        src = getattr(self.engine, "src", None)
        if src is None:  # an engine without per-frame sources: the newest step
            return gen.raw[(gen.steps - 1) % RING, i]
        a, b, w = src[t % len(src)]
        pb = gen.raw[int(b) % RING, i]
        if w == 0.0 or a == b:
            return pb
        pa = gen.raw[int(a) % RING, i]
        out = self._raw_buf
        np.subtract(pb, pa, out=out)
        out *= w
        out += pa
        return out

    def _canon_source(self, t: int, lag: int) -> np.ndarray:
        """Dancer 0's pose ``lag`` beats back on the beat grid (see the module docstring)."""
        j = self.n_beats - 1
        if j - lag < 0:
            return self.first
        m = len(self.beat_frames)
        b_j = int(self.beat_frames[j % m])
        b_src = int(self.beat_frames[(j - lag) % m])
        src = b_src + (t - b_j)
        src = max(src, t - self.hist_len + 1)
        return self.hist[src % self.hist_len]

    def status(self) -> dict[str, Any]:
        """For /status and the WebSocket hello."""
        return {"dancers": self.n, "mode": self.s.mode, "formation": self.s.formation,
                "canon_beats": self.s.canon_beats, "styles": list(self.s.styles),
                "positions": np.round(self.positions, 4).tolist(), "colors": list(COLORS[: self.n])}


def _post_like(engine: Any) -> Any:
    """A fresh PostProcessor with the engine's live settings (for a free dancer)."""
    from live.post import PostProcessor

    live = engine.cfg["live"]
    c = engine.controls
    return PostProcessor(fps=engine.fps, smoothing=c["smoothing"], mirror=c["mirror"], root=c["root"],
                         project_bones=bool(live.get("project_bones", True)),
                         stage_radius=float(live.get("stage_radius", 1.5)),
                         return_s=float(live.get("root_return_s", 6.0)), foot_lock=bool(live.get("foot_lock", True)))


def build(cfg: Mapping[str, Any], generator: Any, *, settings: EnsembleSettings | None = None,
          load_more: Any = None) -> Ensemble:
    """An Engine (with a FanOutGenerator for mode 'free') wrapped in an Ensemble.

    generator: dancer 0's generator; load_more: ``() -> Generator`` for each other dancer
    in mode 'free' (default ``live.runtime.load_generator(cfg)``)."""
    from live.control import applied_strength, parse_style, strengthen
    from live.engine import Engine

    s = settings or EnsembleSettings.from_config(cfg)
    gen = generator
    if s.mode == "free" and s.dancers > 1:
        if load_more is None:
            from live.runtime import load_generator

            def load_more() -> Any:
                return load_generator(cfg)

        gens = [generator] + [load_more() for _ in range(s.dancers - 1)]
        styles: list[np.ndarray | None] = [None] * s.dancers
        names = tuple(generator.style_names)
        meta = getattr(generator, "meta", None)
        gains = style_gains(meta if isinstance(meta, Mapping) else {}, names)
        for i, text in enumerate(s.styles):
            if text:
                mix = parse_style(text, names)
                k = float(cfg["live"].get("style_strength", 1.0))
                styles[i] = strengthen(mix, k if gains is None else applied_strength(k, gain_of(mix, gains)))
        if styles[0] is not None:  # dancer 0's style is the show's style
            cfg = {**cfg, "model": {**cfg["model"], "style": s.styles[0]}}
            styles[0] = None
        gen = FanOutGenerator(gens, styles)
    engine = Engine(cfg, gen)
    return Ensemble(engine, s, min_bpm=float(cfg["features"].get("min_bpm", 60.0)))


class EnsembleRecorder:
    """Keeps every frame's dancers and writes an .npz: ``poses`` [t, N, 17, 3], ``positions``
    [N, 3], ``beats`` (frame indices), ``fps``, ``mode``; atomic (temp file + rename)."""

    def __init__(self, path: str | Path, ensemble: Ensemble, *, chunk: int = 4096) -> None:
        self.path = Path(path)
        self.e = ensemble
        self._buf = np.zeros((chunk, ensemble.n, sk.NUM_JOINTS, 3), np.float32)
        self.count = 0
        self.flushed = 0
        self.beats: list[int] = []

    def add(self, frame: Any) -> None:
        if self.count >= len(self._buf):
            self._buf = np.concatenate([self._buf, np.zeros_like(self._buf)])
        self._buf[self.count] = self.e.dancers(frame.index)
        if frame.beat:
            self.beats.append(self.count)
        self.count += 1

    def flush(self) -> int:
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            with open(tmp, "wb") as fh:
                np.savez_compressed(fh, poses=self._buf[: self.count], positions=self.e.positions,
                                    beats=np.asarray(self.beats, np.int64), fps=np.int32(self.e.fps),
                                    mode=np.array(self.e.s.mode), canon_beats=np.int32(self.e.s.canon_beats))
            os.replace(tmp, self.path)
        finally:
            tmp.unlink(missing_ok=True)
        self.flushed = self.count
        return self.count


def maybe_build(cfg: Mapping[str, Any], generator: Any) -> Ensemble | None:
    """The show's Ensemble when ``ensemble.dancers`` > 1, else None (a solo show runs the
    Engine as before). With ``live.record`` set, all dancers also go to
    ``<record stem>.ensemble.npz`` (dancer 0 alone to the usual recording)."""
    s = EnsembleSettings.from_config(cfg)
    if s.dancers <= 1:
        return None
    ens = build(cfg, generator, settings=s)
    rec = str(cfg["live"].get("record", ""))
    if rec:
        p = Path(rec)
        ens.recorder = EnsembleRecorder(p.with_name(p.stem + ".ensemble.npz"), ens)
    return ens


class EnsembleOscEncoder:
    """Stands in for an OscOutput's FrameEncoder: dancer 0 exactly as before (same
    addresses), then dancers 1..N-1's ``pose``/``joints`` (not rot, and not beat/tempo/frame,
    which are shared) under ``<prefix>/<i>/...``, in bundles with the frame's timetag,
    split across datagrams by whole messages."""

    def __init__(self, base: Any, ensemble: Ensemble) -> None:
        from live.frame import Frame
        from live.osc import FrameEncoder

        self.base = base
        self.e = ensemble
        own = tuple(m for m in base.messages if m in ("pose", "joints"))
        self.extra = [FrameEncoder(prefix=f"{base.prefix.rstrip('/')}/{i}", mode=base.mode, messages=own,
                                   max_datagram=base.max_datagram) for i in range(1, ensemble.n)] if own else []
        self._frame = Frame(index=0, t=0.0, wall=0.0, joints=np.zeros((sk.NUM_JOINTS, 3), np.float32))
        self.prefix, self.mode, self.messages = base.prefix, base.mode, base.messages

    def addresses(self, *, beat: bool = True) -> list[str]:
        return self.base.addresses(beat=beat) + [a for enc in self.extra for a in enc.addresses(beat=False)]

    def encode(self, frame: Any) -> list[memoryview]:
        out = list(self.base.encode(frame))
        if not self.extra:
            return out
        dancers = frame.dancers if frame.dancers is not None else self.e.dancers(frame.index)
        g = self._frame
        g.index, g.t, g.wall, g.tempo, g.confidence = frame.index, frame.t, frame.wall, frame.tempo, frame.confidence
        for i, enc in enumerate(self.extra, start=1):
            g.joints = dancers[i]
            out.extend(enc.encode(g))
        return out
