"""Dances for the evaluation, made with an exported (.onnx) model through the live path.

:class:`Dancer` runs the same ``live.engine.Engine`` the server runs (generator step +
post-processing ``live.post``; its batched offline ``render`` when it has one, as
``live.generate`` does), but computes each song's features once (the engine's own
streaming extractor over the whole song, ``model.features.extract_features``) and replays
them for every style, seed and control setting: the music side is shared, only the model
runs per dance. The raw generator output (before post-processing) is kept beside the
post-processed poses.

Post-processing: ``post="on"`` keeps the configuration's ``[live]`` settings except the
root, which is ``root`` (default "follow": travel kept, so the root radius means
something); ``post="off"`` turns smoothing and bone projection off and follows the raw root.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from model.errors import ConfigError

POST_MODES = ("on", "off")
CHUNK = 256
"""Frames per engine call (well under the engine's ring of joint buffers)."""


@dataclass
class Generated:
    """One generated dance: ``poses`` post-processed [t, 17, 3], ``raw`` the generator's
    own output [t, 17, 3], ``beats`` the online tracker's beat times (s); ``novel``: the
    novelty guard's mirror flips in it (live/novelty.py, live/phrase.py; 0 with ``live.novelty`` 0)."""

    poses: np.ndarray = field(repr=False)
    raw: np.ndarray = field(repr=False)
    beats: np.ndarray
    novel: int = 0


class _Replay:
    """A feature source for the Engine that replays precomputed features: each ``push``
    hands out as many frames as it was given samples (the caller pushes frame counts)."""

    def __init__(self, feats: np.ndarray, info: Any) -> None:
        self.feats, self.full, self.pos = feats, info, 0
        self.info: Any = info
        self.tracker = None

    def push(self, samples: Any) -> np.ndarray:
        a, b = self.pos, min(len(self.feats), self.pos + len(samples))
        self.pos = b
        names = getattr(type(self.full), "__dataclass_fields__", {})
        self.info = type(self.full)(**{k: getattr(self.full, k)[a:b] for k in names}) if names else self.full
        return self.feats[a:b]


class _Tap:
    """Wraps a Generator and keeps a copy of every raw pose it returns."""

    def __init__(self, gen: Any, n: int) -> None:
        self._gen = gen
        self.raw = np.zeros((n, 17, 3), np.float32)
        self.n = 0
        if hasattr(gen, "step_frames"):  # the engine's batched path looks for it
            self.step_frames = self._step_frames

    def _step_frames(self, features: np.ndarray, **kw: Any) -> np.ndarray:
        poses = self._gen.step_frames(features, **kw)
        self._keep(poses)
        return poses

    def __getattr__(self, name: str) -> Any:
        return getattr(self._gen, name)

    def _keep(self, poses: np.ndarray) -> None:
        k = min(len(poses), len(self.raw) - self.n)
        self.raw[self.n : self.n + k] = poses[:k]
        self.n += k

    def step(self, features: np.ndarray, **kw: Any) -> np.ndarray:
        pose = self._gen.step(features, **kw)
        self._keep(pose[None])
        return pose

    def step_block(self, features: np.ndarray, **kw: Any) -> np.ndarray:
        poses = self._gen.step_block(features, **kw)
        self._keep(poses)
        return poses


class Dancer:
    """An exported model ready to dance test songs; see the module docstring."""

    def __init__(self, model_path: str, cfg: Mapping[str, Any], *, post: str = "on", root: str = "follow") -> None:
        from live.runtime import load_generator

        if post not in POST_MODES:
            raise ConfigError(f"--post {post!r} must be one of {', '.join(POST_MODES)}")
        base = copy.deepcopy(dict(cfg))
        base["model"] = dict(base["model"], path=str(model_path))
        base["live"] = dict(base["live"], root=root, mirror=False)
        if post == "off":
            base["live"].update({"project_bones": False, "smoothing": 0.0, "root": "follow", "groove": 0.0,
                                 "dynamics": 0.0, "repel": 0.0})
        self.cfg = base
        self.path = str(model_path)
        self.energy_top: float | None = None
        """When set, every dance feeds the model energies up to this, whatever the model's calibrated
        ceiling (model/energy_ceiling.py measures the model there)."""
        self.step_spread: float | None = None
        """When set, every dance's planted feet step at this spread (m) in the styles that step,
        whatever the model's measured ``step_spread`` (model/step_calib.py measures it)."""
        self.post = post
        try:  # the block-N export beside the model (<stem>_b<N>.onnx) when there is one, as generate uses
            self.generator = load_generator(base, path=model_path, offline=True)
        except TypeError:  # a runtime without offline exports
            self.generator = load_generator(base, path=model_path)
        self.block = int(getattr(self.generator, "block", 1) or 1)
        self.styles: list[str] = list(self.generator.style_names)
        self.fps = int(self.generator.fps)
        self.feature_cfg = dict(base["features"], fps=self.fps)
        self._features: dict[int, tuple[Any, np.ndarray, Any]] = {}
        self.frames = 0
        lv = base["live"]
        self.post_stages = (f"smoothing {lv['smoothing']:g}, groove {lv.get('groove', 0.0):g}, "
                            f"dynamics {lv.get('dynamics', 0.0):g}, repel {lv.get('repel', 0.0):g}, "
                            f"foot lock {'on' if lv.get('foot_lock', True) else 'off'}"
                            if post == "on" else "none")
        if float(lv.get("feel", 1.0)) != 1.0:  # half or double time (live/feel.py)
            self.post_stages += f"; feel {float(lv['feel']):g}"
        from model.energy_calib import style_gains

        gains = style_gains(getattr(self.generator, "meta", None) or {}, self.styles)
        own = [] if gains is None else [f"{s} x{k:g}" for s, k in zip(self.styles, gains) if np.isfinite(k) and k != 1]
        self.strength = f"style strength {float(lv.get('style_strength', 1.0)):g}" + (f" ({', '.join(own)})" if own else "")
        """The style strength the dances are fed, with the model's per-style factors (``style_gain``)."""

    def features(self, song: Any) -> tuple[np.ndarray, Any]:
        """(features [t, F], FrameInfo) of a TestSong, computed once per song object."""
        key = id(song)
        if key not in self._features or self._features[key][0] is not song:
            from live.generate import one_blas_thread
            from model.features import extract_features

            with one_blas_thread():  # as generate computes them (more BLAS threads round differently)
                feats, info = extract_features(song.audio, sr=song.sr, cfg=self.feature_cfg)
            self._features[key] = (song, feats, info)  # the song is kept, so its id stays its own
        return self._features[key][1], self._features[key][2]

    def forget(self, song: Any) -> None:
        self._features.pop(id(song), None)

    def tracked_beats(self, song: Any) -> np.ndarray:
        """The online beat tracker's beats for a song (s): exact predicted times where given."""
        _, info = self.features(song)
        is_beat = np.asarray(info.is_beat, bool)
        idx = np.nonzero(is_beat)[0]
        bt = np.asarray(info.beat_time, np.float64)[idx]
        frame_t = idx / float(self.fps)
        return np.where(np.isfinite(bt), bt, frame_t)

    def dance(self, song: Any, *, style: str | None, seed: int = 0, energy: float | None = None,
              variation: float | None = None, schedule: Sequence[tuple[float, str]] = ()) -> Generated:
        """Dance ``song`` in ``style`` (a style name, a mix "a:0.5,b:0.5", or None = equal
        mix); ``energy`` and ``variation`` None: the config's (``live.energy``, ``live.variation``:
        1 and 0.5 unless set). ``schedule``: (time s, style name) switches during the song, sent to the
        engine as live style controls (the dancer carries on, as in a show). Runs with numpy's
        BLAS on one thread, as `generate` does, so the dance is generate's to the bit."""
        from live.generate import one_blas_thread

        with one_blas_thread():
            return self._dance(song, style=style, seed=seed, energy=energy, variation=variation, schedule=schedule)

    def _dance(self, song: Any, *, style: str | None, seed: int, energy: float | None, variation: float | None,
               schedule: Sequence[tuple[float, str]]) -> Generated:
        from live.control import Control
        from live.engine import Engine
        from live.generate import apply_options

        feats, info = self.features(song)
        c = apply_options(self.cfg, style=style or "", seed=seed, energy=energy, variation=variation)
        tap = _Tap(self.generator, len(feats))
        eng = Engine(c, tap, features_factory=lambda fc, sr: _Replay(feats, info), energy_top=self.energy_top,
                     step_spread=self.step_spread)
        eng.prepare(sr=song.sr, warmup=False)
        out = np.zeros((len(feats), 17, 3), np.float32)
        b = self.block  # a block-N model switches style on block boundaries (a partial block ends the stream)
        cuts = sorted((int(round(t * self.fps / b)) * b, s) for t, s in schedule)
        edges = [0] + [min(len(feats), max(0, i)) for i, _ in cuts] + [len(feats)]
        n = 0
        for k in range(len(edges) - 1):
            if k > 0:
                name = cuts[k - 1][1]
                if name not in self.styles:
                    raise ConfigError(f"style {name!r} is not in the model; use one of {', '.join(self.styles)}")
                eng.apply(Control("styles", [1.0 if s == name else 0.0 for s in self.styles]))
            if hasattr(eng, "render") and edges[k + 1] > edges[k]:  # the batched offline path
                p, _ = eng.render(np.zeros(edges[k + 1] - edges[k], np.float32), sr=song.sr)
                out[n : n + len(p)] = p
                n += len(p)
                continue
            for c0 in range(edges[k], edges[k + 1], CHUNK):  # frames live in the engine's ring: copy them in time
                for fr in eng.process(np.zeros(min(CHUNK, edges[k + 1] - c0), np.float32), sr=song.sr):
                    out[n] = fr.joints
                    n += 1
        self.frames += n
        return Generated(poses=out[:n], raw=tap.raw[: tap.n].copy(), beats=self.tracked_beats(song),
                         novel=eng.phrase.flip.count)
