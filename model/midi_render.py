"""Render MIDI to audio with real instrument samples (Debian ``fluidsynth`` + a GM soundfont).

Offline and training-time only (never imported by ``live``). The renderer runs the
``fluidsynth`` command-line program in a temporary folder::

    fluidsynth -ni -q -g GAIN -r SR -F out.wav SOUNDFONT in.mid

so nothing is linked into Python and a missing program or soundfont is one clear line:
"install Debian fluidsynth and fluid-soundfont-gm".
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Union

import numpy as np
import soundfile as sf

from model.errors import AudioError

if TYPE_CHECKING:  # pretty_midi is a training-time dependency
    import pretty_midi

__all__ = ["DEFAULT_SOUNDFONTS", "RenderError", "find_soundfont", "have_fluidsynth", "render_midi"]

#: Soundfonts tried in order when none is given (Debian fluid-soundfont-gm first).
DEFAULT_SOUNDFONTS: tuple[str, ...] = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
    "/usr/share/soundfonts/FluidR3_GM.sf2",
    "/usr/share/soundfonts/default.sf2",
)

_INSTALL_HINT = "install Debian fluidsynth and fluid-soundfont-gm"

MidiLike = Union[str, Path, "pretty_midi.PrettyMIDI"]


class RenderError(AudioError):
    """fluidsynth or the soundfont is missing, or rendering failed."""


def have_fluidsynth() -> bool:
    """True when the ``fluidsynth`` program and a GM soundfont are both installed."""
    return shutil.which("fluidsynth") is not None and find_soundfont(None, required=False) != ""


def find_soundfont(soundfont: str | Path | None, *, required: bool = True) -> str:
    """The soundfont to use: ``soundfont`` if given (must exist), else the first installed
    default, else ``$DANCEMUSE_SOUNDFONT``. Returns "" when none and ``required`` is False."""
    if soundfont is not None:
        path = Path(soundfont).expanduser()
        if not path.is_file():
            raise RenderError(f"soundfont {path} not found: give an existing .sf2 file or "
                              f"{_INSTALL_HINT}")
        return str(path)
    env = os.environ.get("DANCEMUSE_SOUNDFONT", "")
    for cand in ((env,) if env else ()) + DEFAULT_SOUNDFONTS:
        if Path(cand).is_file():
            return cand
    if required:
        raise RenderError(f"no General MIDI soundfont found: {_INSTALL_HINT}")
    return ""


def render_midi(midi: MidiLike, *, sr: int, soundfont: str | Path | None = None,
                gain: float = 0.6, normalize: float | None = None,
                tail: float | None = None) -> np.ndarray:
    """Render a MIDI file (path or ``pretty_midi.PrettyMIDI``) to mono audio.

    Parameters
    ----------
    midi : path to a .mid file, or a PrettyMIDI object (written to a temp file).
    sr : output sample rate in Hz (fluidsynth renders at this rate directly).
    soundfont : .sf2 file; default: Debian's FluidR3_GM.
    gain : fluidsynth master gain (``-g``); 0.6 keeps dense GM arrangements unclipped.
    normalize : if given, scale so the peak is this value (e.g. 0.9); default leaves the
        level as rendered (clipped to [-1, 1]).
    tail : if given, trim/pad the output to exactly ``tail`` seconds (fluidsynth adds a
        release tail of its own length otherwise).

    Returns
    -------
    y : np.ndarray [shape=(n,), dtype=float32], time 0 = MIDI time 0.
    """
    if sr <= 0:
        raise RenderError(f"sample rate {sr} must be positive")
    exe = shutil.which("fluidsynth")
    if exe is None:
        raise RenderError(f"fluidsynth program not found: {_INSTALL_HINT}")
    sf2 = find_soundfont(soundfont)
    with tempfile.TemporaryDirectory(prefix="dm_render_") as tmp:
        if isinstance(midi, (str, Path)):
            mid_path = Path(midi)
            if not mid_path.is_file():
                raise RenderError(f"MIDI file {mid_path} not found: check the path")
        else:
            mid_path = Path(tmp) / "in.mid"
            midi.write(str(mid_path))
        out = Path(tmp) / "out.wav"
        cmd = [exe, "-ni", "-q", "-g", f"{gain:g}", "-r", str(int(sr)), "-F", str(out),
               sf2, str(mid_path)]
        proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=600, check=False)
        if proc.returncode != 0 or not out.is_file():
            msg = (proc.stderr or proc.stdout or "").strip().splitlines()
            last = msg[-1] if msg else f"exit status {proc.returncode}"
            raise RenderError(f"fluidsynth failed on {mid_path.name}: {last}")
        data, file_sr = sf.read(str(out), dtype="float32", always_2d=True)
    if file_sr != sr:  # fluidsynth honours -r; guard anyway
        import soxr

        data = soxr.resample(data, file_sr, sr).astype(np.float32)
    y = np.ascontiguousarray(data.mean(axis=1), dtype=np.float32)
    if tail is not None:
        n = int(round(tail * sr))
        y = y[:n] if y.size >= n else np.pad(y, (0, n - y.size))
    if normalize is not None:
        peak = float(np.max(np.abs(y))) if y.size else 0.0
        if peak > 0:
            y *= np.float32(normalize / peak)
    np.clip(y, -1.0, 1.0, out=y)
    return y
