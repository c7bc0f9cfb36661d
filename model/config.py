"""Configuration: a schema of every key, a TOML loader that validates it, CLI overrides.

The schema below is the single source of truth: `config.toml` at the repository root
documents every key with a comment, and a test checks that the two agree. Unknown keys
are refused with the file and line that holds them; types and ranges are checked.

Usage::

    cfg = load_config()                         # config.toml beside the package, or defaults
    cfg = load_config("show.toml", overrides={"osc.targets": ["10.0.0.5:7000"]})
    cfg["features"]["fps"]                       # plain nested dicts
"""

from __future__ import annotations

import builtins
import copy
import math
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from model.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG_PATH = REPO_ROOT / "config.toml"


@dataclass(frozen=True)
class Field:
    """One configuration key: its type, default, allowed range or choices, and help."""

    type: type
    default: Any
    help: str
    min: float | None = None
    max: float | None = None
    choices: tuple[Any, ...] | None = None
    item_type: builtins.type | None = None  # for lists


SCHEMA: dict[str, dict[str, Field]] = {
    "audio": {
        "input": Field(str, "demo", "'demo', 'mic', or a path to an audio file"),
        "device": Field(str, "", "input device name or index for 'mic' ('' = system default)"),
        "sample_rate": Field(int, 0, "device sample rate in Hz (0 = the device's default)", 0, 384000),
        "block_size": Field(int, 256, "samples per device callback block", 16, 65536),
        "channels": Field(int, 1, "input channels to open (mixed down to mono)", 1, 64),
        "loop": Field(bool, False, "replay a file input forever"),
        "fast": Field(bool, False, "replay a file as fast as possible instead of in real time"),
        "playback": Field(bool, False, "also play a file input to the default output device"),
        "ring_seconds": Field(float, 2.0, "capture ring buffer length in seconds", 0.1, 60.0),
    },
    "features": {
        "fps": Field(int, 30, "pose frames per second (30 or 60)", choices=(30, 60)),
        "n_mels": Field(int, 64, "mel bands", 16, 256),
        "n_fft": Field(int, 2048, "STFT window in samples at 24 kHz", 256, 8192),
        "fmin": Field(float, 30.0, "lowest mel frequency in Hz", 0.0, 2000.0),
        "fmax": Field(float, 11000.0, "highest mel frequency in Hz", 1000.0, 12000.0),
        "tuning": Field(float, 0.0, "fixed chroma tuning in fractions of a bin", -0.5, 0.5),
        "beats_per_bar": Field(int, 4, "beats per bar assumed by the beat tracker", 2, 12),
        "min_bpm": Field(float, 60.0, "slowest tempo the beat tracker considers", 30.0, 200.0),
        "max_bpm": Field(float, 190.0, "fastest tempo the beat tracker considers", 60.0, 300.0),
    },
    "model": {
        "path": Field(str, "models/default.onnx", "ONNX model to run (relative to the repo or absolute)"),
        "offline_path": Field(str, "", "block-N export of the same model for generate/upload ('' = <model>_b<N>.onnx beside it, if any)"),
        "provider": Field(str, "auto", "onnxruntime provider", choices=("auto", "cuda", "cpu")),
        "threads": Field(int, 1, "onnxruntime intra-op threads", 1, 64),
        "runtime": Field(str, "auto", "live step: auto = numpy step when <model>_offline.npz was exported with this exact .onnx, else onnxruntime; numpy; onnx",
                         choices=("auto", "numpy", "onnx")),
        "style": Field(str, "", "starting style name, or 'a:0.5,b:0.5' mix ('' = equal mix)"),
        "seed": Field(int, 0, "random seed for variation", 0, 2**31 - 1),
    },
    "live": {
        "energy": Field(float, 1.0, "movement amplitude control; each style grows only up to the model's measured ceiling (/status energy_reach)", 0.0, 2.0),
        "variation": Field(float, 0.5, "how much the dancer improvises", 0.0, 1.0),
        "style_strength": Field(float, 2.0, "how pronounced the style is: 1 = as the model learnt it, more moves its "
                                "style input further from the mix of all styles (lower it if a model of your own looks odd)",
                                0.0, 6.0),
        "smoothing": Field(float, 0.5, "one-euro smoothing strength (0 = off; times the model's per-style factor)", 0.0, 1.0),
        "mirror": Field(bool, False, "mirror the dancer left/right"),
        "root": Field(str, "center", "root handling", choices=("center", "follow")),
        "project_bones": Field(bool, True, "snap every pose onto canonical bone lengths"),
        "stage_radius": Field(float, 1.5, "metres the dancer may travel from the centre with root = follow", 0.5, 50.0),
        "root_return_s": Field(float, 6.0, "seconds for the travelling dancer to drift back toward the centre", 0.5, 600.0),
        "foot_lock": Field(bool, True, "plant feet that are low and slow (no foot sliding) and keep the feet on or above the floor"),
        "groove": Field(float, 0.8, "how strongly motion slows on the beat and hurries between beats (0 = off)", 0.0, 1.0),
        "dynamics": Field(float, 1.0, "how much quiet passages shrink the moves (0 = off)", 0.0, 1.0),
        "feel": Field(float, 1.0, "the beat the model hears: 0.5 = half time (every second beat), 1 = the music's, "
                      "2 = double time, 0 = auto (whichever brings the music nearest the style's own tempo); the "
                      "groove and the beats sent out stay the music's", choices=(0.0, 0.5, 1.0, 2.0)),
        "phrase_bars": Field(int, 2, "refresh the dancer's memory on the downbeat of every this many bars it hears, so "
                             "long dances stay in their style (0 = never; at least 3 s apart)", 0, 64),
        "novelty": Field(float, 0.35, "when the dancer's last second comes this near (a share of its moves' "
                         "spread) to something it danced in the last 90 s, it takes the move to the other side "
                         "(shown mirrored within 0.3 s, from a near-symmetric pose if one comes; 0 = off)", 0.0, 1.0),
        "repel": Field(float, 1.5, "where the dancer's last 1.5 s come near (under 0.45 of its moves' spread) "
                       "something it showed in the last 90 s, its pose is pushed away from the pose shown then, "
                       "by up to this many times their difference (full at 0.33; 0 = off)", 0.0, 4.0),
        "pick": Field(int, 8, "at each new move the dancer tries this many draws of its latent and takes the one "
                      "whose next two seconds differ most from what it danced in the last 90 s (1 = off)", 1, 32),
        "pick_look": Field(float, 0.0, "between new moves the pick also looks every this many seconds, and where the "
                           "dance's last two seconds come back it decides again (0 = off; 0.5: half as many "
                           "repeats, `generate` at under half its speed)", 0.0, 2.0),
        "beat_offset_ms": Field(float, 0.0, "shift the beat the dancer lands on (negative = earlier, for a late projector)", -500.0, 500.0),
        "record": Field(str, "", "record the show to this .npz/.bvh/.json path ('' = off)"),
        "status_interval": Field(float, 0.5, "seconds between console status refreshes", 0.05, 60.0),
    },
    "osc": {
        "enabled": Field(bool, True, "send poses over OSC"),
        "targets": Field(list, ["127.0.0.1:7000"], "HOST:PORT targets for OSC out", item_type=str),
        "listen": Field(str, "127.0.0.1:9000", "HOST:PORT for OSC control in ('' = off)"),
        "prefix": Field(str, "/dancemuse", "address prefix of every message"),
        "mode": Field(str, "bundle", "'bundle' (multi-float messages) or 'flat' (one float per address)", choices=("bundle", "flat")),
        "messages": Field(list, ["pose", "joints", "beat", "tempo", "frame"], "which messages to send", item_type=str),
        "max_datagram": Field(int, 1472, "largest UDP datagram sent, bytes", 256, 8192),
    },
    "websocket": {
        "enabled": Field(bool, True, "serve the visualizer, /status and /ws"),
        "host": Field(str, "127.0.0.1", "address to bind (anything but loopback requires a token)"),
        "port": Field(int, 8765, "TCP port", 0, 65535),
        "token": Field(str, "", "control token ('' = generated when binding beyond loopback)"),
        "max_clients": Field(int, 64, "most simultaneous WebSocket clients", 1, 1024),
        "queue": Field(int, 16, "frames queued for a client that is not reading (its socket backed up) before the oldest is dropped; a reading client may queue up to 2 s after a stall", 1, 1024),
        "stall_timeout": Field(float, 5.0, "seconds a client may stay stuck before it is closed", 0.5, 600.0),
        "max_message": Field(int, 65536, "largest message accepted from a client, bytes", 256, 16_777_216),
        "max_upload_mb": Field(float, 50.0, "largest song upload, MiB", 1.0, 2048.0),
        "origins": Field(list, [], "allowed Origin headers beyond the server's own ([] = same host only)", item_type=str),
    },
    "clock": {
        "link": Field(bool, False, "join the Ableton Link session on the local network (needs the sync extra)"),
        "link_lead": Field(bool, False, "propose the audio tracker's tempo to the Link session (else never change it)"),
        "midi": Field(str, "", "MIDI input port name to take MIDI clock from ('' = off)"),
        "priority": Field(list, ["link", "midi", "tap", "audio"], "beat clock sources, first answering wins", item_type=str),
        "tap_hold_s": Field(float, 30.0, "seconds tap tempo keeps driving after the last tap", 1.0, 3600.0),
    },
    "ensemble": {
        "dancers": Field(int, 1, "dancers driven by the one audio stream (1..8)", 1, 8),
        "mode": Field(str, "unison", "what the other dancers do", choices=("unison", "canon", "mirror", "free")),
        "canon_beats": Field(int, 1, "canon: beats each dancer follows the one before it", 1, 16),
        "styles": Field(list, [], "one style per dancer for mode free ([] = the show's style)", item_type=str),
        "formation": Field(str, "line", "stage formation", choices=("line", "arc", "v", "grid")),
        "spacing": Field(float, 1.2, "metres between neighbouring dancers", 0.3, 10.0),
    },
}


def defaults() -> dict[str, dict[str, Any]]:
    """The default configuration as nested dicts."""
    return {s: {k: copy.deepcopy(f.default) for k, f in keys.items()} for s, keys in SCHEMA.items()}


def _line_of(text: str, section: str | None, key: str) -> int | None:
    """Best-effort line number of ``key`` (in ``[section]``) in TOML ``text``."""
    current: str | None = None
    for n, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        m = re.match(r"^\[([^\]]+)\]", s)
        if m:
            current = m.group(1).strip()
            if section is None and current == key:
                return n
            continue
        if (section is None or current == section) and re.match(rf"^{re.escape(key)}\s*=", s):
            return n
    return None


def _where(path: Path | None, text: str, section: str | None, key: str) -> str:
    if path is None:
        return ""
    line = _line_of(text, section, key)
    return f" ({path}:{line})" if line else f" ({path})"


def coerce(section: str, key: str, value: Any, *, where: str = "") -> Any:
    """Check ``value`` against the schema of ``section.key`` and return it (ints widen to floats)."""
    try:
        field = SCHEMA[section][key]
    except KeyError:
        raise ConfigError(f"unknown config key '{section}.{key}'{where}; see config.toml for the keys") from None
    name = f"{section}.{key}"
    ftype = field.type
    if ftype is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if ftype is int and isinstance(value, bool) or not isinstance(value, ftype):
        tname = ftype.__name__
        raise ConfigError(f"config key '{name}'{where} must be a {tname}, got {value!r}")
    if ftype is float and not math.isfinite(cast(float, value)):
        raise ConfigError(f"config key '{name}'{where} must be a finite number, got {value!r}")
    if ftype is list and field.item_type is not None:
        for item in cast(list, value):
            if not isinstance(item, field.item_type):
                raise ConfigError(
                    f"config key '{name}'{where} must be a list of {field.item_type.__name__}, got {item!r}"
                )
    if field.choices is not None and value not in field.choices:
        raise ConfigError(f"config key '{name}'{where} must be one of {list(field.choices)}, got {value!r}")
    if field.min is not None and float(cast(float, value)) < field.min:
        raise ConfigError(f"config key '{name}'{where} must be >= {field.min}, got {value!r}")
    if field.max is not None and float(cast(float, value)) > field.max:
        raise ConfigError(f"config key '{name}'{where} must be <= {field.max}, got {value!r}")
    return value


def parse_value(section: str, key: str, text: str) -> Any:
    """Parse a command-line ``--set section.key=VALUE`` string by the key's type."""
    if section not in SCHEMA or key not in SCHEMA[section]:
        raise ConfigError(f"unknown config key '{section}.{key}' in --set; see config.toml for the keys")
    ftype = SCHEMA[section][key].type
    if ftype is str:
        return text
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        if ftype is list:
            return [t.strip() for t in text.split(",") if t.strip()]
        raise ConfigError(f"cannot read {text!r} as a value for '{section}.{key}'; "
                          f"give {_expected(SCHEMA[section][key])}, e.g. --set {section}.{key}="
                          f"{_example(SCHEMA[section][key])}") from None


def _expected(field: Field) -> str:
    """What a key takes, in words (for the --set error line)."""
    if field.choices is not None:
        return "one of " + ", ".join(map(str, field.choices))
    if field.type is bool:
        return "true or false"
    if field.type in (int, float):
        kind = "a whole number" if field.type is int else "a number"
        if field.min is not None and field.max is not None:
            return f"{kind} from {field.min:g} to {field.max:g}"
        if field.min is not None:
            return f"{kind} of at least {field.min:g}"
        return kind
    return f"a {field.type.__name__}"


def _example(field: Field) -> str:
    """The key's default as --set writes it."""
    d = field.default
    if isinstance(d, bool):
        return "true" if d else "false"
    if isinstance(d, str):
        return f'"{d}"'
    return str(d)


def merge(cfg: dict[str, dict[str, Any]], data: Mapping[str, Any], *, path: Path | None = None, text: str = "") -> None:
    """Validate ``data`` (nested dicts) and merge it into ``cfg`` in place."""
    for section, keys in data.items():
        if section not in SCHEMA:
            raise ConfigError(
                f"unknown config section '[{section}]'{_where(path, text, None, section)}; "
                f"known sections: {', '.join(SCHEMA)}"
            )
        if not isinstance(keys, Mapping):
            raise ConfigError(f"'{section}'{_where(path, text, None, section)} must be a [section] table")
        for key, value in keys.items():
            where = _where(path, text, section, key)
            cfg[section][key] = coerce(section, key, value, where=where)


def config_file(path: str | Path | None = None) -> Path | None:
    """The file ``load_config(path)`` reads: ``path``, else the shipped config.toml if
    present, else None (the built-in defaults, which equal config.toml)."""
    if path is not None:
        return Path(path)
    return DEFAULT_CONFIG_PATH if DEFAULT_CONFIG_PATH.exists() else None


def load_config(
    path: str | Path | None = None, *, overrides: Mapping[str, Any] | None = None
) -> dict[str, dict[str, Any]]:
    """Defaults, then the TOML file (``path``, else the repo's config.toml if present),
    then ``overrides`` given as ``{"section.key": value}``. Raises ConfigError."""
    cfg = defaults()
    file = config_file(path)
    if file is not None:
        try:
            text = file.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(f"config file {file} not found; pass an existing --config file") from None
        except OSError as e:
            raise ConfigError(f"cannot read config file {file}: {e.strerror}") from None
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"config file {file} is not valid TOML: {e}") from None
        merge(cfg, data, path=file, text=text)
    for dotted, value in (overrides or {}).items():
        section, _, key = dotted.partition(".")
        cfg.setdefault(section, {})
        if section not in SCHEMA:
            raise ConfigError(f"unknown config section '{section}' in override '{dotted}'")
        cfg[section][key] = coerce(section, key, value, where=" (command line)")
    return cfg


def to_toml(cfg: Mapping[str, Mapping[str, Any]], *, comments: bool = True) -> str:
    """Render a configuration as TOML, each key with its help as a comment."""
    lines: list[str] = []
    for section, keys in cfg.items():
        lines.append(f"[{section}]")
        for key, value in keys.items():
            if comments and key in SCHEMA.get(section, {}):
                lines.append(f"# {SCHEMA[section][key].help}")
            lines.append(f"{key} = {_toml_value(value)}")
        lines.append("")
    return "\n".join(lines)


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return repr(v)


CONFIG_HEADER = """# DanceMuse default configuration.
# Every key is listed with its default. Copy this file, edit it, and pass it with
# `dancemuse --config my.toml live`; any key can also be set for one run with
# `--set section.key=value` (for example `--set osc.targets=["127.0.0.1:7001"]`).
# `dancemuse config show` prints the configuration in effect.

"""


def write_default_config(path: Path = DEFAULT_CONFIG_PATH) -> None:
    """Regenerate config.toml from SCHEMA (run ``python -m model.config`` after adding a key)."""
    path.write_text(CONFIG_HEADER + to_toml(defaults()), encoding="utf-8")


if __name__ == "__main__":  # pragma: no cover
    write_default_config()
