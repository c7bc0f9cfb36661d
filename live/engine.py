"""The live core with no I/O: audio blocks in, pose frames out.

``Engine(cfg, generator)`` wires streaming features (``model.features.StreamingFeatures``:
log-mel, onset, chroma, RMS and the online beat tracker) to the generator runtime
(``live.runtime.Generator`` or anything with the same ``step``/``reset`` interface) and
to post-processing (``live.post.PostProcessor``). ``process(samples, sr=...)`` takes a
block of any size and returns exactly one :class:`~live.frame.Frame` per completed hop.
``apply(control)`` changes the live controls and returns the new control state.

Until the beat tracker has found a pulse (its confidence reached ``model.beats.SURE_CONF`` once, a
tap, or an external clock), frames carry a tempo of 0 and the post-processing's groove is given
none: audio without a beat (a drone, an ambient intro) is not danced to a tempo the tracker
drifted to. The model hears its beat features as always.

Nothing here touches a socket, a device or an event loop: tests drive it with arrays.
The wall clock is injectable (``clock=``) so that tests can make it deterministic.
CPU per frame (``snapshot()["cpu_ms"]``) is thread CPU time (``time.thread_time``), so
other processes taking the core do not inflate it; latency is wall time.

Frames share a preallocated ring of joint buffers (``JOINT_RING`` frames long): a
frame's ``joints`` stay valid until ``JOINT_RING`` later frames were made. Consumers
(OSC/WebSocket encoders, the recorder) encode or copy well within that.
"""

from __future__ import annotations

import logging
import math
import os
import struct
import time
from collections.abc import Callable, Generator, Iterator, Mapping
from typing import Any

import numpy as np

from live.control import Control, applied_strength, parse_style, strengthen
from live.feel import TempoFeel
from live.frame import Frame
from live.phrase import PhraseRefresh
from live.post import PostProcessor, groove_table, steps_of
from model import skeleton as sk
from model.beats import SURE_CONF
from model.energy_calib import (
    GROOVE_DATA,
    energy_calibration,
    energy_ceilings,
    footwork_table,
    gain_of,
    groove_profiles,
    motion_spreads,
    scale_of,
    smoothing_calibration,
    smoothing_of,
    spread_of,
    step_spreads,
    style_gains,
    style_tempi,
    tempo_of,
)
from model.errors import ConfigError, ProtocolError

log = logging.getLogger("dancemuse.engine")
CEILING_SAID: set[tuple[float, ...]] = set()
"""The style mixes whose energy ceiling this process has told of (:meth:`Engine._note_ceiling`)."""

JOINT_RING = 1024
LATENCY_WINDOW = 1024
"""Frames kept for the latency percentiles of :meth:`Engine.snapshot`."""


TWO_PI = 2.0 * math.pi
FIRST_PUSH_S = 6.0
"""Seconds of audio in :meth:`Engine.render`'s first feature push (then ``push_seconds``):
enough for the generator's first call, so that with ``parallel`` it starts early."""
RENDER_INFO = ("tempo", "is_beat", "beat_in_bar", "bar", "confidence")
"""The per-frame beat information :meth:`Engine.render` returns beside the poses."""
UP_RING = 16
"""Model frames (and their interpolated output poses) kept for a 30 fps model at 60 fps."""


def output_fps(wanted: int, model_fps: int) -> int:
    """The frame rate the engine emits: ``wanted`` (``features.fps``) when it is a whole
    multiple of the model's rate (a 30 fps model serves 60 fps), else the model's rate."""
    if model_fps > 0 and wanted > model_fps and wanted % model_fps == 0:
        return wanted
    return model_fps


def _cue_columns(feature_cfg: Mapping[str, Any]) -> tuple[int, int, int, int] | None:
    """Feature columns of (sin beat phase, cos beat phase, tempo / 200, RMS) that the
    post-processor's groove and dynamics follow; None for a layout without them."""
    from model.features import FeatureSpec

    try:
        spec = FeatureSpec.from_config(feature_cfg)
        ph, tempo, rms = spec.slice("beat_phase"), spec.slice("tempo"), spec.slice("rms")
    except (KeyError, ValueError, TypeError):
        return None
    return ph.start, ph.start + 1, tempo.start, rms.start


_MISSING = object()
_PACK3D = struct.Struct("=3d").pack_into
"""Three float64 into a C-contiguous float64 buffer at a byte offset (a [n, 3] ring's row)."""


def _get(info: Any, key: str) -> Any:
    """``info[key]`` of a feature push's information (FrameInfo, a dict or another mapping),
    None where absent; attribute access first (FrameInfo, every live push: no ABC check)."""
    if info is None:
        return None
    if type(info) is dict:
        return info.get(key)
    v = getattr(info, key, _MISSING)
    if v is not _MISSING:
        return v
    return info.get(key) if isinstance(info, Mapping) else None


def _listed(info: Any, key: str) -> list[Any] | None:
    """:func:`_get` as a Python list (None where absent)."""
    v = _get(info, key)
    return None if v is None else np.asarray(v).tolist()


class Engine:
    """Audio blocks -> features -> generator step -> post-processing -> frames.

    Parameters
    ----------
    cfg : the configuration (``model.config.load_config()``); uses ``features``,
        ``model`` and ``live``.
    generator : ``live.runtime.Generator`` or an object with ``fps``, ``style_names``,
        ``control_names``, ``reset(seed=...)`` and
        ``step(features[F], *, style[S], controls[C]) -> [17, 3]``.
    features_factory : ``(feature_cfg, input_sr) -> StreamingFeatures``-like object with
        ``push(samples) -> [n, F]``, ``info`` and ``tracker``; default
        ``model.features.StreamingFeatures``.
    clock : wall clock in seconds (default ``time.time``).
    """

    def __init__(
        self,
        cfg: Mapping[str, Any],
        generator: Any,
        *,
        features_factory: Callable[[dict[str, Any], int], Any] | None = None,
        clock: Callable[[], float] = time.time,
        energy_top: float | None = None,
        step_spread: float | None = None,
    ) -> None:
        """``energy_top``: feed the model energies up to this for every style mix, whatever its
        calibrated ceiling (`dancemuse calibrate --ceiling` measures the model there).
        ``step_spread``: the feet step at this spread (m) in every style that steps, whatever the
        model's ``step_spread`` table (`dancemuse calibrate --steps` measures the model there)."""
        self.cfg = cfg
        self.generator = generator
        self.model_fps = int(getattr(generator, "fps", cfg["features"]["fps"]))
        self.fps = output_fps(int(cfg["features"].get("fps", self.model_fps)), self.model_fps)
        self.upsample = self.fps // self.model_fps
        """Output frames per model frame: 1, or 2 when a 30 fps model serves 60 fps (see
        :meth:`process`)."""
        self.feature_cfg = dict(cfg["features"])
        self.feature_cfg["fps"] = self.model_fps
        self._factory = features_factory or _default_features
        self._clock = clock
        self.features: Any = None
        self._sr: int | None = None
        self.style_names: tuple[str, ...] = tuple(generator.style_names)
        self.control_names: tuple[str, ...] = tuple(generator.control_names)
        live = cfg["live"]
        self.seed = int(cfg["model"].get("seed", 0))
        self._style_raw = parse_style(str(cfg["model"].get("style", "")), self.style_names, normalize=False)
        self._style = np.zeros(len(self.style_names), np.float32)
        self._ctrl = np.zeros(len(self.control_names), np.float32)
        meta = getattr(generator, "meta", None)
        self._energy_scale, self._energy_max = energy_calibration(meta if isinstance(meta, Mapping) else {},
                                                                  self.style_names)
        """Per style the factor on the energy fed to the model and its ceiling (the model's
        ``energy_scale`` / ``energy_max`` from `dancemuse calibrate`; None: fed as given)."""
        self._energy_ceil = energy_ceilings(meta if isinstance(meta, Mapping) else {}, self.style_names)
        """Per style the highest energy the model is fed, measured (``energy_ceiling`` from
        `dancemuse calibrate --ceiling`; a mix takes the weighted geometric mean); None: ``energy_max``
        for every style."""
        if energy_top is not None:
            self._energy_max, self._energy_ceil = float(energy_top), None
        self.smooth_scale = smoothing_calibration(meta if isinstance(meta, Mapping) else {}, self.style_names)
        """Per style the factor on the user's smoothing (``smoothing_scale``; None: as given; an
        ensemble's free dancers with a style of their own read it too)."""
        profiles = groove_profiles(meta if isinstance(meta, Mapping) else {}, self.style_names)
        self.groove_tables = (None if profiles is None else
                               np.stack([groove_table(row / GROOVE_DATA) for row in profiles]))
        """Per style the groove's shape through the beat, tabulated [shape=(styles, GROOVE_BINS + 1)]
        (``groove_profile``; None: the cosine; an ensemble's free dancers read it too)."""
        self._groove_mix = np.zeros(len(self.style_names))
        self.controls: dict[str, Any] = {
            "styles": [float(x) for x in self._style_raw],
            "energy": float(live["energy"]),
            "variation": float(live["variation"]),
            "style_strength": float(live.get("style_strength", 1.0)),
            "smoothing": float(live["smoothing"]),
            "mirror": bool(live["mirror"]),
            "hold": False,
            "root": str(live["root"]),
            "groove": float(live.get("groove", 0.0)),
            "dynamics": float(live.get("dynamics", 0.0)),
            "novelty": float(live.get("novelty", 0.35)),
        }
        self.post = PostProcessor(
            fps=self.fps,
            smoothing=self.controls["smoothing"],
            mirror=self.controls["mirror"],
            root=self.controls["root"],
            project_bones=bool(live.get("project_bones", True)),
            stage_radius=float(live.get("stage_radius", 1.5)),
            return_s=float(live.get("root_return_s", 6.0)),
            foot_lock=bool(live.get("foot_lock", True)),
            groove=self.controls["groove"],
            dynamics=self.controls["dynamics"],
            energy=self.controls["energy"],
            offset_ms=float(live.get("beat_offset_ms", 0.0)),
            repel=float(live.get("repel", 1.5)),
        )
        self._cue_cols = _cue_columns(self.feature_cfg)
        self.feel = TempoFeel(self.feature_cfg, float(live.get("feel", 1.0)))
        """Half or double time: the beat the model hears (live/feel.py); the groove and the
        frames keep the music's beat."""
        self.style_tempi = style_tempi(meta if isinstance(meta, Mapping) else {}, self.style_names)
        """Per style its own tempo (BPM; ``style_tempo`` from `dancemuse calibrate`; None: the model
        has none, and feel auto keeps the music's beat): the tempo feel auto aims at."""
        if self.feel.auto and self.style_tempi is None:
            log.warning("feel auto: this model has no tempo per style (calibrated before session 32), so it "
                        "dances to the music's beat; re-run `dancemuse calibrate` and export it again")
        self.controls["feel"] = self.feel.mode
        self.pick = int(live.get("pick", 1))
        """The latent pick's draws per redraw (``live.pick``; live/pick.py)."""
        self.pick_look = float(live.get("pick_look", 0.0))
        """Seconds between the pick's looks between redraws (``live.pick_look``; 0 = never)."""
        if hasattr(generator, "set_pick"):
            generator.set_pick(self.pick, self.pick_look)
        elif self.pick > 1:
            log.info("live.pick: the ONNX runtime rolls out no draws, so the dancer takes its first draw "
                     "(the numpy runtimes pick; model.runtime auto)")
        self.phrase = PhraseRefresh(generator, at=self.feel.at, bars=int(live.get("phrase_bars", 0)),
                                    fps=self.model_fps, novelty=self.controls["novelty"])
        """The decoder's memory refreshed every ``live.phrase_bars`` bars heard; the dance shown
        mirrored when it repeats itself (``live.novelty``; live/phrase.py, live/novelty.py)."""
        self.footwork = footwork_table(meta if isinstance(meta, Mapping) else {}, self.style_names)
        """Per style how fast its training data moves a standing dancer's feet apart or together (m/s;
        ``footwork`` from `dancemuse calibrate --footwork`; None: the model has none, and every style
        may step): a mix under ``live.post.FOOTWORK_MIN`` keeps its feet planted."""
        self.step_spreads = step_spreads(meta if isinstance(meta, Mapping) else {}, self.style_names)
        """Per style the spread (m) at which its planted feet step (``step_spread`` from `dancemuse
        calibrate --steps`; None: the model has none, and every style that steps does so at
        ``live.post.STEP_SPREAD``)."""
        if step_spread is not None:
            self.step_spreads = np.full(len(self.style_names), float(step_spread))
        self.spreads = motion_spreads(meta if isinstance(meta, Mapping) else {}, self.style_names)
        """Per style the spread of the model's dances (m; ``motion_spread`` from `dancemuse
        calibrate`; None: the model has none, and the novelty guard uses the spread it has seen)."""
        self.style_gains = style_gains(meta if isinstance(meta, Mapping) else {}, self.style_names)
        """Per style the factor on the user's style strength (``style_gain`` from `dancemuse
        calibrate --style-gain`; NaN: 1; None: the model has none)."""
        self.strength_applied = 1.0
        """The style strength fed to the model: the user's times the style mix's factor."""
        self.energy_reach: float | None = None
        """The user energy at which the style mix reaches the model's ceiling (None: the model is
        fed the energy as given); more moves no bigger (/status ``energy_reach``)."""
        from model.features import FrameInfo

        self._info_type = FrameInfo
        self.cues = np.zeros((JOINT_RING, 3), np.float64)
        """Per frame (ring, like the joints): the (beat phase, tempo, RMS) cue given to post."""
        self._sync_vectors()
        self._ring = np.zeros((JOINT_RING, sk.NUM_JOINTS, 3), np.float32)
        self._ring_flat = self._ring.reshape(JOINT_RING, sk.NUM_JOINTS * 3)
        self._slots = list(self._ring)  # per ring row its [17, 3] and [51] views, made once
        self._rows = list(self._ring_flat)
        self._lat = np.zeros(LATENCY_WINDOW, np.float64)
        self._cpu = np.zeros(LATENCY_WINDOW, np.float64)
        self.frames = 0
        self.samples_in = 0
        self.tempo = 0.0
        self.confidence = 0.0
        self._pulse = False  # the beat tracker found a pulse (SURE_CONF): groove and tempo out from then on
        self._last_arrival = 0.0
        self._audio_time_at_arrival = 0.0
        self.clock: Any = None  # live.clock.ClockMixer: an external beat clock (use_clock)
        self._rig: Any = None  # model.rotations.RigSolver when rotations are wanted
        self._rot_ring: np.ndarray | None = None
        # a 30 fps model at 60 fps: per model frame its pose and beat information, and the
        # interpolated poses (one per output frame) waiting for their hop
        self._mframes = 0
        self._elem = np.zeros((UP_RING * self.upsample, sk.NUM_JOINTS, 3), np.float32)
        self._minfo = np.zeros((UP_RING, 9), np.float64)  # tempo beat bib bar conf beat_wall phase tempo rms
        self._msteps = np.full(UP_RING, -1, np.int64)  # generator step of each model frame (-1: none)
        self._cpu_carry = 0.0
        self.src = np.zeros((JOINT_RING, 3), np.float64)
        """Per frame (ring, like the joints): the generator steps its pose came from (a, b)
        and the weight w of b (pose = (1 - w) step a + w step b), counted since the
        generator's last reset; the ensemble's free dancers take their own poses the same way."""
        self._gsteps = 0
        self._step_out: np.ndarray | None = None
        """A preallocated pose passed as ``out=`` to a generator whose ``step`` takes one (the
        numpy and ONNX steps): no pose array allocated per frame."""
        try:
            import inspect

            if "out" in inspect.signature(generator.step).parameters:
                self._step_out = np.zeros((sk.NUM_JOINTS, 3), np.float32)
        except (TypeError, ValueError):  # pragma: no cover - a step without a signature
            pass
        generator.reset(seed=self.seed)

    # -- audio in, frames out -------------------------------------------------------
    def prepare(self, *, sr: int, warmup: bool = True) -> None:
        """Build the feature extractor for input rate ``sr`` ahead of the first block and,
        with ``warmup``, run a throwaway one over a second of silence, one hop per push (the
        live path: a one-second push would take the batch path, which loads the beat net's
        sequence copy in onnxruntime, never used live), so that lazy set-up (resampler, FFT
        plan, first calls) does not land on the first live frame."""
        if warmup:
            tmp = self._factory(self.feature_cfg, int(sr))
            hop = max(1, int(sr) // max(self.model_fps, 1))
            silence = np.zeros(hop, np.float32)
            for _ in range(max(1, self.model_fps)):
                tmp.push(silence)
        self.features = self._factory(self.feature_cfg, int(sr))
        self._sr = int(sr)
        self._pulse = False
        self._wrap_tracker()

    def use_clock(self, mixer: Any) -> None:
        """Let external beat clocks (``live.clock.ClockMixer``: Link, MIDI clock, tap) drive
        the beat features and beat events by priority; the audio tracker keeps running."""
        self.clock = mixer
        self._wrap_tracker()

    def enable_rotations(self) -> None:
        """Compute per-bone rig rotations for every frame (``Frame.rot``; OSC ``rot``,
        WebSocket rotations). Off by default: it costs a few hundred microseconds a frame."""
        from model.rotations import NUM_BONES, RigSolver

        if self._rig is None:
            self._rig = RigSolver()
            self._rot_ring = np.zeros((JOINT_RING, NUM_BONES, 4), np.float32)

    def _wrap_tracker(self) -> None:
        if self.clock is not None and self.features is not None:
            from live.clock import ClockedTracker

            if not isinstance(self.features.tracker, ClockedTracker):
                self.features.tracker = ClockedTracker(self.features.tracker, self.clock, fps=self.model_fps)

    def process(
        self, samples: np.ndarray, *, sr: int, arrival: float | None = None, hold: bool = False
    ) -> list[Frame]:
        """Push a block of audio; return one frame per hop completed by it.

        samples: [shape=(n,)] or [shape=(n, channels)] float or int16 at ``sr`` Hz.
        arrival: wall time when the block's last sample arrived (default now).
        hold: freeze the pose for these frames (used while a device is lost).
        """
        if arrival is None:
            arrival = self._clock()
        if self.features is None or sr != self._sr:
            self.features = self._factory(self.feature_cfg, int(sr))
            self._sr = int(sr)
            self._pulse = False
            self._wrap_tracker()
        t0 = time.thread_time()
        clocked = self.clock is not None
        if clocked:  # frame audio time -> wall time, for the external clocks
            self.features.tracker.wall_offset = arrival - (self.samples_in + len(samples)) / float(sr)
        feats = self.features.push(samples)
        n = 0 if feats is None else len(feats)
        self.samples_in += len(samples)
        self._last_arrival = arrival
        self._audio_time_at_arrival = self.samples_in / float(sr)
        if self.upsample > 1:
            return self._process_up(feats, n, arrival=arrival, hold=hold, t0=t0)
        if n == 0:
            return []
        features = self.features
        info = features.info
        if n == 1:  # the usual push: the frame's CPU time runs from t0 (no second reading)
            t1, feat_cpu = t0, 0.0
        else:
            t1 = time.thread_time()
            feat_cpu = (t1 - t0) / n
        # the push's per-frame beat information as Python lists (FrameInfo: attributes, no
        # lookup by name per frame)
        if type(info) is self._info_type:
            tempo, is_beat, beat_in_bar, bar, conf = (info.tempo.tolist(), info.is_beat.tolist(),
                                                      info.beat_in_bar.tolist(), info.bar.tolist(),
                                                      info.confidence.tolist())
        else:
            tempo, is_beat, beat_in_bar, bar, conf = (_listed(info, k) for k in (
                "tempo", "is_beat", "beat_in_bar", "bar", "confidence"))
        beat_t = _listed(info, "beat_time") if clocked and features.tracker.source != "audio" else None
        out: list[Frame] = []
        cue = self._cue_cols is not None and feats.shape[1] > self._cue_cols[3]
        si, ci, ti, ri = self._cue_cols if cue else (0, 0, 0, 0)  # type: ignore[misc]
        step, style, ctl, pose_out = self.generator.step, self._style, self._ctrl, self._step_out
        post = self.post
        own_post = type(post) is PostProcessor
        held = post.hold
        if hold:
            post.hold = True
        try:
            feel = self.feel
            phrase = self.phrase if self.phrase.on else None
            for k in range(n):
                row = feats[k]
                heard = feel.row(row) if feel.active else row  # half or double time (live/feel.py)
                if phrase is not None:  # a new phrase: the model's memory refreshed (live/phrase.py)
                    phrase.before(heard)
                if pose_out is None:
                    pose = step(heard, style=style, controls=ctl)
                else:
                    pose = step(heard, style=style, controls=ctl, out=pose_out)
                if phrase is not None:
                    phrase.after(pose)
                i = self.frames % JOINT_RING
                gs = self._gsteps
                _PACK3D(self.src, 24 * i, gs, gs, 0.0)  # type: ignore[arg-type]  # src[i] = (gs, gs, 0)
                self._gsteps = gs + 1
                if not self._pulse and (conf is None or conf[k] >= SURE_CONF):
                    self._pulse = True  # the tracker found a pulse (SURE_CONF): groove and tempo from now on
                if cue:
                    ph = (math.atan2(row.item(si), row.item(ci)) / TWO_PI) % 1.0
                    bpm = row.item(ti) * 200.0 if self._pulse else 0.0  # no groove before a pulse
                    rms = row.item(ri)
                    _PACK3D(self.cues, 24 * i, ph, bpm, rms)  # type: ignore[arg-type]  # an ndarray is a buffer
                    post.cue(ph, bpm, rms)
                slot = self._slots[i]
                if own_post:  # straight into the ring
                    post.process(pose, out=self._rows[i])
                else:  # a stand-in post-processor (tests, benchmarks)
                    slot[...] = post.process(pose)
                self.tempo = float(tempo[k]) if tempo is not None and self._pulse else 0.0
                self.confidence = float(conf[k]) if conf is not None else 0.0
                beat = bool(is_beat[k]) if is_beat is not None else False
                t1 = self._emit(out, slot, arrival, feat_cpu, t1, beat,
                                int(beat_in_bar[k]) if beat_in_bar is not None else 0,
                                int(bar[k]) if bar is not None else 0,
                                (float(beat_t[k]) + features.tracker.wall_offset
                                 if beat_t is not None and beat else 0.0))
        finally:
            post.hold = held
        return out

    @property
    def delay_ms(self) -> float:
        """Pose delay the interpolation adds when a model serves a higher rate: a frame shows
        the pose between two model frames, so it goes out ``upsample - 1`` hops after its
        time (16.7 ms for a 30 fps model at 60 fps); beat events are not delayed."""
        return (self.upsample - 1) * 1000.0 / self.fps

    def _elements_due(self) -> int:
        """Output frames due: one per output hop of model-rate audio the features consumed,
        less the ``upsample - 1`` hops each frame waits for the next model frame."""
        r, f = self.upsample, self.features
        done = r * self._mframes
        samples = getattr(f, "samples", None)  # StreamingFeatures: model-rate samples taken in
        if samples is None or not hasattr(f, "hop"):
            return done
        return max(0, min(done, int(samples) // (int(f.hop) // r) - (r - 1)))

    def _process_up(self, feats: np.ndarray, n: int, *, arrival: float, hold: bool, t0: float) -> list[Frame]:
        """A model at 1/r of the output rate (r = ``upsample``): each model frame k gives r
        output poses, P(k-1) + (P(k) - P(k-1)) j / r for j = 1..r, each sent on its own
        output hop once it is due (:attr:`delay_ms`). The beat of model frame k rides on its
        first output frame (sent on the hop that completes model frame k: no delay); the
        post-processing cue advances the beat phase per output frame."""
        r = self.upsample
        ring = len(self._elem)
        if n:
            info = self.features.info
            tempo = _get(info, "tempo")
            is_beat = _get(info, "is_beat")
            beat_in_bar = _get(info, "beat_in_bar")
            bar = _get(info, "bar")
            conf = _get(info, "confidence")
            clocked = self.clock is not None
            beat_t = _get(info, "beat_time") if clocked and self.features.tracker.source != "audio" else None
            cue = self._cue_cols is not None and feats.shape[1] > self._cue_cols[3]
            for k in range(n):
                row = feats[k]
                m = self._mframes
                heard = self.feel.row(row) if self.feel.active else row
                if self.phrase.on:
                    self.phrase.before(heard)
                if self._step_out is None:
                    pose = self.generator.step(heard, style=self._style, controls=self._ctrl)
                else:
                    pose = self.generator.step(heard, style=self._style, controls=self._ctrl, out=self._step_out)
                if self.phrase.on:
                    self.phrase.after(pose)
                self._msteps[m % UP_RING] = self._gsteps
                self._gsteps += 1
                prev = self._elem[(r * m - 1) % ring] if m else pose
                for j in range(1, r):
                    e = self._elem[(r * m + j - 1) % ring]
                    np.subtract(pose, prev, out=e)
                    e *= j / r
                    e += prev
                self._elem[(r * m + r - 1) % ring] = pose
                mi = self._minfo[m % UP_RING]
                if not self._pulse and (conf is None or conf[k] >= SURE_CONF):
                    self._pulse = True  # as in process
                mi[0] = float(tempo[k]) if tempo is not None and self._pulse else 0.0
                mi[1] = 1.0 if is_beat is not None and is_beat[k] else 0.0
                mi[2] = int(beat_in_bar[k]) if beat_in_bar is not None else 0
                mi[3] = int(bar[k]) if bar is not None else 0
                mi[4] = float(conf[k]) if conf is not None else 0.0
                mi[5] = (float(beat_t[k]) + self.features.tracker.wall_offset
                         if beat_t is not None and is_beat is not None and is_beat[k] else 0.0)
                mi[6] = -1.0
                if cue:
                    si, ci, ti, ri = self._cue_cols  # type: ignore[misc]
                    mi[6] = (math.atan2(row[si], row[ci]) / TWO_PI) % 1.0
                    mi[7] = float(row[ti]) * 200.0 if self._pulse else 0.0  # no groove before a pulse
                    mi[8] = float(row[ri])
                self._mframes += 1
        due = self._elements_due()
        out: list[Frame] = []
        if due <= self.frames:
            self._cpu_carry += time.thread_time() - t0
            return out
        cpu = (self._cpu_carry + time.thread_time() - t0) / (due - self.frames)
        self._cpu_carry = 0.0
        held = self.post.hold
        if hold:
            self.post.hold = True
        try:
            while self.frames < due:
                t1 = time.thread_time()
                i = self.frames
                k, j = divmod(i, r)
                mi = self._minfo[k % UP_RING]
                if mi[6] >= 0.0:
                    cr = self.cues[i % JOINT_RING]
                    cr[0] = (mi[6] - (r - 1 - j) * mi[7] / (60.0 * self.fps)) % 1.0
                    cr[1] = mi[7]
                    cr[2] = mi[8]
                    self.post.cue(float(cr[0]), float(cr[1]), float(cr[2]))
                b = int(self._msteps[k % UP_RING])
                a = int(self._msteps[(k - 1) % UP_RING]) if k else b
                sr_ = self.src[i % JOINT_RING]
                sr_[0], sr_[1], sr_[2] = (a, b, (j + 1) / r) if 0 <= a < b else (b, b, 0.0)
                slot = self._ring[i % JOINT_RING]
                if type(self.post) is PostProcessor:  # straight into the ring
                    self.post.process(self._elem[i % ring], out=self._ring_flat[i % JOINT_RING])
                else:  # a stand-in post-processor (tests, benchmarks)
                    slot[...] = self.post.process(self._elem[i % ring])
                self.tempo = float(mi[0])
                self.confidence = float(mi[4])
                first = j == 0
                self._emit(out, slot, arrival, cpu, t1, bool(mi[1]) and first, int(mi[2]), int(mi[3]),
                           float(mi[5]) if first else 0.0)
        finally:
            self.post.hold = held
        return out

    def _emit(self, out: list[Frame], slot: np.ndarray, arrival: float, cpu: float, t1: float, beat: bool,
              beat_in_bar: int, bar: int, beat_wall: float) -> float:
        """Frame ``self.frames`` (its post-processed joints already in ``slot``): the rig's
        rotations, the Frame with wall time and latency, the latency/CPU windows. Returns the
        thread CPU time read at the end (where the next frame's own time starts)."""
        i = self.frames
        rot = None
        if self._rot_ring is not None:
            rot = self._rot_ring[i % JOINT_RING]
            rot[...] = self._rig.solve(slot)
        wall = self._clock()
        lat = max(0.0, (wall - arrival) * 1000.0)
        out.append(Frame(index=i, t=(i + 1) / self.fps, wall=wall, joints=slot, beat=beat,
                         beat_in_bar=beat_in_bar, bar=bar, tempo=self.tempo, confidence=self.confidence,
                         latency_ms=lat, beat_wall=beat_wall, rot=rot))
        self._lat[i % LATENCY_WINDOW] = lat
        t2 = time.thread_time()
        self._cpu[i % LATENCY_WINDOW] = cpu + t2 - t1
        self.frames += 1
        return t2

    def render(
        self, samples: np.ndarray, *, sr: int, progress: Callable[[float], None] | None = None,
        push_seconds: float = 20.0, model_frames: int = 600, parallel: bool = False,
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Offline: the poses :meth:`process` makes for the whole input, batched.

        Features go in pushes (the first of ``FIRST_PUSH_S``, then ``push_seconds``; each
        batched inside), the generator gets its frames in calls of its ``step_frames``
        (the first of ``model_frames // 4`` frames, then ``model_frames``; blocks of frames
        per model run where the model allows it; else ``step`` per frame), post-processing
        runs over the whole dance. Same numbers as the live path (a test holds them within
        1e-4 m).

        parallel: the features (with the beat tracker) run in a forked child process
        (:func:`forked`) and reach this one push by push while the generator works on the
        frames already there: the same dance bit for bit, about the features' time less
        wall clock on a machine with a second core, the same CPU in all. This engine's own
        feature stream is not advanced by it (the next :meth:`process` starts a new one).
        ``render_stats`` then holds the child's CPU seconds (``producer_cpu``). Where
        :func:`can_fork` says a fork is not safe here (not Linux, one CPU, or another thread
        running, as inside the server), it renders in this process instead (same dance).

        Returns poses [shape=(t, 17, 3)] float32 and per-frame arrays ``tempo``,
        ``is_beat``, ``beat_in_bar``, ``bar``, ``confidence`` [shape=(t,)].
        """
        if self.features is None or sr != self._sr:
            self.features = self._factory(self.feature_cfg, int(sr))
            self._sr = int(sr)
            self._pulse = False
        report = progress or (lambda _f: None)
        x = np.asarray(samples)
        gen = self.generator
        block = int(getattr(gen, "block", 1) or 1)
        size = max(block, (max(1, model_frames) // block) * block)
        first = max(block, (size // 4 // block) * block)
        expect = max(1.0, len(x) * self.model_fps / float(sr))  # frames, about
        pushes = self._feature_pushes(x, int(sr), push_seconds)
        self.render_stats: dict[str, float] = {"producer_cpu": 0.0}
        if parallel and can_fork():
            pushes = forked(pushes, stats=self.render_stats)
            self.features = None
        cols: dict[str, list[np.ndarray]] = {k: [] for k in RENDER_INFO}
        parts: list[np.ndarray] = []  # feature pushes not yet given to the generator
        done: list[np.ndarray] = []  # poses made so far, per generator call
        feat_done: list[np.ndarray] = []
        try:
            self._render_loop(pushes, parts, cols, done, feat_done, first, size, expect, report)
        finally:
            pushes.close()  # a forked producer is stopped and reaped here, also on an error
        self.samples_in += len(x)
        dim = feat_done[0].shape[1] if feat_done else 0
        feats = np.concatenate(feat_done) if feat_done else np.zeros((0, dim), np.float32)
        poses = np.concatenate(done) if done else np.empty((0, sk.NUM_JOINTS, 3), np.float32)
        n = len(poses)
        cues = None
        if self._cue_cols is not None and n and feats.shape[1] > self._cue_cols[3]:
            si, ci, ti, ri = self._cue_cols
            f64 = feats.astype(np.float64)
            cues = np.stack([(np.arctan2(f64[:, si], f64[:, ci]) / TWO_PI) % 1.0, f64[:, ti] * 200.0, f64[:, ri]], axis=1)
        info_out = {k: (np.concatenate(v) if v else np.zeros(0)) for k, v in cols.items()}
        if len(info_out["confidence"]) == n and n:
            # no groove and no tempo until the tracker has found a pulse (as process does frame by frame)
            pulse = np.logical_or.accumulate(info_out["confidence"] >= SURE_CONF) | self._pulse
            info_out["tempo"] = np.where(pulse, info_out["tempo"], 0.0).astype(info_out["tempo"].dtype)
            if cues is not None:
                cues[~pulse, 1] = 0.0
            self._pulse = bool(pulse[-1])
        if self.upsample > 1:
            poses, cues, info_out = self._upsample_all(poses, cues, info_out)
            n = len(poses)
        out = self.post.process_many(poses, cues)
        report(1.0)
        self.frames += n
        if n:
            self.tempo = float(info_out["tempo"][-1])
            self.confidence = float(info_out["confidence"][-1])
        return out, info_out

    def _render_loop(self, pushes: Iterator[Any], parts: list[np.ndarray], cols: dict[str, list[np.ndarray]],
                     done: list[np.ndarray], feat_done: list[np.ndarray], first: int, size: int, expect: float,
                     report: Callable[[float], None]) -> None:
        """:meth:`render`'s consumer: feature pushes in, generator calls of ``first`` then
        ``size`` frames (the features as they came into ``feat_done``, poses into ``done``)."""
        keys = tuple(cols)
        have = made = 0
        end = False
        while not end:
            item = next(pushes, None)
            if item is None:
                end = True
            else:
                f, info, frac = item
                feat_done.append(f)  # the music's beat: the post-processing's cues
                parts.append(self.feel.rows(f))  # the beat the model hears (live/feel.py)
                have += len(f)
                for k in keys:
                    cols[k].append(info[k])
                report(0.3 * frac)
            want = first if made == 0 else size
            while have >= want or (end and have):
                feats = np.concatenate(parts) if len(parts) > 1 else parts[0]
                take = min(want, have)
                chunk, rest = feats[:take], feats[take:]
                parts[:] = [rest] if len(rest) else []
                have -= take
                done.append(self._model_frames(chunk))
                made += take
                want = size
                report(0.3 + 0.6 * min(1.0, made / expect))

    def _feature_pushes(self, x: np.ndarray, sr: int, push_seconds: float
                        ) -> Generator[tuple[np.ndarray, dict[str, np.ndarray], float], None, None]:
        """:meth:`render`'s features: per push that made frames, (features [shape=(n, F)],
        the per-frame ``tempo``/``is_beat``/``beat_in_bar``/``bar``/``confidence``, the
        share of the input consumed). The feature extractor is bound now (a lazy iterator
        that may run in another process)."""
        feat = self.features
        step = max(1, int(push_seconds * sr))
        first = min(step, max(1, int(FIRST_PUSH_S * sr)))

        def pushes() -> Generator[tuple[np.ndarray, dict[str, np.ndarray], float], None, None]:
            i, total = 0, len(x)
            while i < total:
                j = min(total, i + (first if i == 0 else step))
                f = feat.push(x[i:j])
                i = j
                if f is not None and len(f):
                    info = feat.info
                    cols = {}
                    for k in RENDER_INFO:
                        v = _get(info, k)
                        if v is None:  # a feature source without a tracker: a sure tempo (the groove as given)
                            v = np.ones(len(f)) if k == "confidence" else np.zeros(len(f))
                        cols[k] = np.asarray(v)
                    yield f, cols, i / max(total, 1)

        return pushes()

    def _model_frames(self, feats: np.ndarray) -> np.ndarray:
        """Poses of the next frames [shape=(n, 17, 3)] from the generator (its
        ``step_frames`` when it has one, else ``step`` frame by frame), with the phrase
        refreshes the live loop makes (live/phrase.py)."""
        if self.phrase.on:
            return self.phrase.frames(feats, self._generator_frames)
        return self._generator_frames(feats)

    def _generator_frames(self, feats: np.ndarray) -> np.ndarray:
        gen = self.generator
        if hasattr(gen, "step_frames"):
            return np.asarray(gen.step_frames(feats, style=self._style, controls=self._ctrl), np.float32)
        out = np.empty((len(feats), sk.NUM_JOINTS, 3), np.float32)
        for j in range(len(feats)):
            out[j] = gen.step(feats[j], style=self._style, controls=self._ctrl)
        return out

    def _upsample_all(self, poses: np.ndarray, cues: np.ndarray | None, info: dict[str, np.ndarray]
                      ) -> tuple[np.ndarray, np.ndarray | None, dict[str, np.ndarray]]:
        """:meth:`render`'s side of :meth:`_process_up`: n model poses -> r n output poses
        (the same interpolation), cues and per-frame information."""
        r, n = self.upsample, len(poses)
        prev = np.concatenate([poses[:1], poses[:-1]]) if n else poses
        w = (np.arange(1, r + 1, dtype=np.float32) / r)[None, :, None, None]
        up = (prev[:, None] + (poses - prev)[:, None] * w).reshape(n * r, *poses.shape[1:])
        up[r - 1:: r] = poses
        up = up.astype(np.float32)
        lag = np.tile(np.arange(r - 1, -1, -1, dtype=np.float64), n)  # output hops before the model frame
        if cues is not None:
            c = np.repeat(cues, r, axis=0)
            c[:, 0] = (c[:, 0] - lag * c[:, 1] / (60.0 * self.fps)) % 1.0
            cues = c
        out = {}
        for key, v in info.items():
            rep = np.repeat(v, r)
            if key == "is_beat":
                rep = np.zeros_like(rep)
                rep[::r] = v
            out[key] = rep
        return up, cues, out

    # -- controls -------------------------------------------------------------------
    def apply(self, control: Control) -> dict[str, Any]:
        """Apply a validated control (see live/control.py); return the new control state.

        Raises ProtocolError for values that only the model can judge (an unknown style
        name, a styles list of the wrong length).
        """
        name, v = control.name, control.value
        c = self.controls
        if name == "style":
            style, weight = v
            if style not in self.style_names:
                raise ProtocolError(f"style {style!r} is not in the model; use one of {list(self.style_names)}")
            self._style_raw[self.style_names.index(style)] = float(weight)
            c["styles"] = [float(x) for x in self._style_raw]
        elif name == "styles":
            if len(v) != len(self.style_names):
                raise ProtocolError(
                    f"styles needs {len(self.style_names)} weights ({', '.join(self.style_names)}), got {len(v)}"
                )
            self._style_raw[:] = np.asarray(v, np.float32)
            c["styles"] = [float(x) for x in self._style_raw]
        elif name in ("variation", "style_strength"):
            c[name] = float(v)
        elif name == "energy":
            c[name] = float(v)
            self.post.energy = float(v)
        elif name == "smoothing":
            c[name] = float(v)  # the post-processor gets it times the style mix's factor (_sync_vectors)
        elif name == "novelty":  # the novelty guard's threshold (live/novelty.py), 0 = off
            c[name] = float(v)
            self.phrase.set_novelty(float(v))
        elif name in ("groove", "dynamics"):
            c[name] = float(v)
            setattr(self.post, name, float(v))
        elif name == "mirror":
            c[name] = bool(v)
            self.post.mirror = bool(v)
        elif name == "hold":
            c[name] = bool(v)
            self.post.hold = bool(v)
        elif name == "root":
            self.post.set_root(str(v))
            c[name] = str(v)
        elif name == "reset":
            self.generator.reset(seed=self.seed)
            self.phrase.reset()
            self._gsteps = 0
            self._msteps[:] = -1
            self.post.reset()
            c["hold"] = False
        elif name == "tempo/tap":
            if self.features is not None:
                self.features.tracker.tap(self.audio_now())
        elif name == "tempo/nudge":
            if self.features is not None:
                self.features.tracker.nudge(float(v))
        elif name == "tempo/feel":
            try:
                self.feel.set(float(v))
            except ConfigError as e:
                raise ProtocolError(str(e)) from None
            c["feel"] = self.feel.mode
        else:
            raise ProtocolError(f"unknown control {name!r}")
        self._sync_vectors()
        return dict(c)

    def audio_now(self) -> float:
        """Audio time (s since the stream started) that corresponds to the wall clock now."""
        return self._audio_time_at_arrival + max(0.0, self._clock() - self._last_arrival)

    def energy_top(self, mix: np.ndarray) -> float:
        """The highest energy the model is fed for a style mix: its styles' measured ceilings
        (weighted geometric mean) or the model's ``energy_max``."""
        if self._energy_ceil is None:
            return self._energy_max
        return scale_of(mix, self._energy_ceil)

    def _note_ceiling(self, energy: float, scale: float, mix: np.ndarray, top: float) -> None:
        """One log line when the user's energy asks the model for more than its ceiling ``top``
        (``energy_max``, or the styles' measured ``energy_ceiling``): the dance does not get bigger
        past energy ``top / scale`` (session 52: ballet and hip-hop reached the 2.5 cap at energy 1).
        Once per style mix and process (``CEILING_SAID``), so a fader swept on a controller, or
        `evaluate`'s many dances, do not flood the log."""
        if not energy * scale > top * (1.0 + 1e-6):
            return
        key = tuple(np.round(np.asarray(mix, np.float64) / max(float(np.sum(mix)), 1e-9), 3))
        if key in CEILING_SAID:
            return
        CEILING_SAID.add(key)
        on = [self.style_names[i] for i in np.nonzero(np.asarray(mix) > 0)[0]]
        who = on[0] if len(on) == 1 else "this style mix"
        log.warning("energy %g: %s already moves as big as this model can at energy %.2g (its calibrated "
                    "ceiling); higher energy will not make the moves bigger", energy, who,
                    top / max(scale, 1e-9))

    def _sync_vectors(self) -> None:
        raw = self._style_raw
        total = float(raw.sum())
        if total > 0:
            np.divide(raw, total, out=self._style)
        elif len(raw):
            self._style[:] = 1.0 / len(raw)
        mix = raw if total > 0 else np.ones(len(raw))  # no style asked for: the equal mix
        strength = float(self.controls.get("style_strength", 1.0))
        if self.style_gains is not None:  # some styles fed more (or less) strongly (model/energy_calib.py)
            strength = applied_strength(strength, gain_of(mix, self.style_gains))
        self.strength_applied = strength
        strengthen(self._style, strength, out=self._style)
        for j, cname in enumerate(self.control_names):
            val = self.controls.get(cname, 0.0)
            user = float(val) if isinstance(val, int | float) else 0.0
            self._ctrl[j] = user
            if cname == "energy" and self._energy_scale is not None:  # the model's calibration (post keeps the user's)
                scale = scale_of(mix, self._energy_scale)
                top = self.energy_top(mix)
                self.energy_reach = top / max(scale, 1e-9)
                self._ctrl[j] = min(self._ctrl[j] * scale, top)  # as fed before: float32 x scale
                self._note_ceiling(user, scale, mix, top)
        smooth = float(self.controls["smoothing"])
        if self.smooth_scale is not None:  # a style made of hits is smoothed less (model/energy_calib.py)
            smooth *= smoothing_of(mix, self.smooth_scale)
        self.post.smoothing = smooth
        self.post.step_spread = steps_of(mix, self.footwork, self.step_spreads)
        if self.groove_tables is not None:  # each style's speed through the beat (model/energy_calib.py)
            w = self._groove_mix
            if total > 0:
                np.clip(raw, 0.0, None, out=w)
            else:
                w.fill(1.0)
            w /= max(float(w.sum()), 1e-9)
            self.post.set_groove_table(w @ self.groove_tables)
        if self.style_tempi is not None:  # the tempo feel auto aims at (live/feel.py)
            self.feel.centre = tempo_of(mix, self.style_tempi)
        guard = self.phrase.guard
        if self.spreads is not None:  # the novelty guard's least spread (live/novelty.py)
            e = min(1.0, max(0.0, float(self.controls["energy"])))
            guard.floor = spread_of(mix, self.spreads) * math.sqrt(e)
            self.post.repel.guard.floor = guard.floor
        if hasattr(self.generator, "user_energy"):  # an ensemble's dancers with their own style scale it themselves
            self.generator.user_energy = float(self.controls["energy"])

    # -- observability ----------------------------------------------------------------
    def latency_percentiles(self) -> tuple[float, float]:
        n = min(self.frames, LATENCY_WINDOW)
        if n == 0:
            return 0.0, 0.0
        p50, p99 = np.percentile(self._lat[:n], [50, 99])
        return float(p50), float(p99)

    def snapshot(self) -> dict[str, Any]:
        """Controls, tempo and stats as plain JSON-able values."""
        p50, p99 = self.latency_percentiles()
        n = min(self.frames, LATENCY_WINDOW)
        cpu = float(np.median(self._cpu[:n]) * 1000.0) if n else 0.0
        return {
            "fps": self.fps,
            "model_fps": self.model_fps,
            "delay_ms": round(self.delay_ms, 2),
            "frames": self.frames,
            "audio_s": round(self.samples_in / self._sr, 3) if self._sr else 0.0,
            "latency_ms": {"p50": round(p50, 3), "p99": round(p99, 3)},
            "cpu_ms": round(cpu, 4),
            "tempo": round(self.tempo, 2),
            "confidence": round(self.confidence, 3),
            "controls": dict(self.controls),
            "smoothing_applied": round(float(self.post.smoothing), 4),  # the user's times the style's factor
            "style_strength_applied": round(self.strength_applied, 4),  # the user's times the style's factor
            # the user energy past which this style mix moves no bigger (the model's ceiling; None: none)
            "energy_reach": None if self.energy_reach is None else round(self.energy_reach, 4),
            "feel_now": self.feel.feel,  # the feel danced now (auto's choice; a change waits for its beat)
            "styles": list(self.style_names),
        }


def _default_features(feature_cfg: dict[str, Any], input_sr: int) -> Any:
    from model.features import StreamingFeatures

    return StreamingFeatures(feature_cfg, input_sr=input_sr)


def can_fork() -> bool:
    """Whether :func:`forked` may run a producer in a child process here: Linux (fork
    without exec is unsafe with macOS system libraries), a second CPU for it, and no other
    thread in this process but the log writer of ``live.logq`` (a fork copies only the
    calling thread, so a lock another thread held would stay held in the child; the log
    writer only waits on its queue, and the child logs straight to stderr instead)."""
    import sys
    import threading

    from live.logq import WRITER_THREAD

    if not sys.platform.startswith("linux"):
        return False
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cpus = os.cpu_count() or 1
    others = [t for t in threading.enumerate() if t is not threading.main_thread()]
    alone = threading.current_thread() is threading.main_thread() and all(
        t.name == WRITER_THREAD and t.daemon for t in others)
    return hasattr(os, "fork") and cpus >= 2 and alone


def _child_logging() -> None:
    """In a forked child: log records go straight to stderr (the parent's queue handler has
    no writer thread here), in the format the parent used."""
    import logging
    import sys

    root = logging.getLogger()
    fmt = None
    for h in root.handlers:
        fmt = h.formatter or getattr(getattr(h, "target", None), "formatter", None)
        if fmt is not None:
            break
    plain = logging.StreamHandler(sys.stderr)
    if fmt is not None:
        plain.setFormatter(fmt)
    root.handlers = [plain]


def forked(items: Iterator[Any], *, stats: dict[str, float] | None = None) -> Generator[Any, None, None]:
    """Iterate ``items`` in a forked child process and yield what it yields, in order, as
    it comes (pickled through a pipe): the child works ahead while the caller uses the
    items already there. An exception in the child is raised here (with its type when it
    pickles); the child is killed if the caller stops early. ``stats["producer_cpu"]``
    gets the child's CPU seconds (user + system)."""
    import pickle
    import signal

    if not hasattr(os, "fork"):
        raise RuntimeError("a forked producer needs os.fork (Linux or another POSIX system); "
                           "render without parallel here")
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: produce, then leave without running the parent's exit code
        code = 0
        try:
            os.close(rfd)
            _child_logging()
            with os.fdopen(wfd, "wb", buffering=1 << 20) as w:
                try:
                    for item in items:
                        pickle.dump(("item", item), w, protocol=pickle.HIGHEST_PROTOCOL)
                        w.flush()
                    t = os.times()
                    pickle.dump(("end", t.user + t.system), w)
                except BaseException as e:  # noqa: BLE001 - handed to the parent
                    try:
                        pickle.dump(("error", e), w)
                    except Exception:  # noqa: BLE001 - an exception that does not pickle
                        pickle.dump(("error", RuntimeError(f"{type(e).__name__}: {e}")), w)
        except BaseException:  # noqa: BLE001 - the parent went away (broken pipe)
            code = 1
        finally:
            os._exit(code)
    os.close(wfd)
    finished = False
    try:
        with os.fdopen(rfd, "rb", buffering=1 << 20) as r:
            while True:
                try:
                    kind, value = pickle.load(r)
                except EOFError:
                    raise RuntimeError("the feature process ended without a result (killed?); "
                                       "run again, or without parallel") from None
                if kind == "item":
                    yield value
                elif kind == "end":
                    if stats is not None:
                        stats["producer_cpu"] = float(value)
                    finished = True
                    return
                else:
                    finished = True
                    raise value
    finally:
        if not finished:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        os.waitpid(pid, 0)
