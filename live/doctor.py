"""Preflight checks for a show (`dancemuse doctor`): one line each, OK / WARN / FAIL + the fix.

Every check is a function ``(cfg, opts) -> list[Check]`` that never raises for a problem a
user can fix: it reports it. :func:`run_checks` runs them in order and shares what one
check learnt with the next (the loaded model for the timing check).

Checks: audio input (device present, level over a few seconds), model (loads, provider,
CUDA when onnxruntime-gpu and a GPU are there), timing (seconds of the demo song through
the real :class:`live.engine.Engine`, one hop per call: p99 against the frame budget),
ports (HTTP and OSC listen), OSC targets (resolvable), disk (space for the recording),
optional extras (train, video, sync).
"""

from __future__ import annotations

import importlib.util
import shutil
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from model.errors import AudioError

OK, WARN, FAIL = "OK", "WARN", "FAIL"

RECORD_BYTES_PER_S = 17 * 3 * 4 * 60
"""Upper bound of a recording's size per second (uncompressed float32 poses at 60 fps)."""
SHOW_HOURS = 4.0
"""Recording length the disk check wants room for."""


@dataclass
class Check:
    """One result line: ``name`` (what was checked), ``status`` (OK/WARN/FAIL), ``detail``
    (what was found) and ``fix`` (what to do; empty when OK)."""

    name: str
    status: str
    detail: str
    fix: str = ""

    def line(self) -> str:
        tail = f" -> {self.fix}" if self.fix and self.status != OK else ""
        return f"{self.status:<4}  {self.name:<12} {self.detail}{tail}"


@dataclass
class Options:
    """What the checks may take: seconds of audio level and of timing, and the checks to run."""

    audio_seconds: float = 5.0
    timing_seconds: float = 10.0
    skip: tuple[str, ...] = ()
    shared: dict[str, Any] = field(default_factory=dict)


# ----------------------------------------------------------------------------- audio


def check_audio(cfg: Mapping[str, Any], opts: Options) -> list[Check]:
    """The configured input: a file must decode; 'mic' needs a device and some sound."""
    src = str(cfg["audio"]["input"])
    if src == "demo":
        out = [Check("audio input", OK, "input is the built-in demo song")]
        out += _mic_presence(required=False)
        return out
    if src != "mic":
        p = Path(src)
        if not p.is_file():
            return [Check("audio input", FAIL, f"audio file {src} not found",
                          "fix audio.input (a path, 'mic' or 'demo')")]
        try:
            from live.generate import load_song

            a, sr, _ = load_song(p)
        except AudioError as e:  # our one line: what was found; what to do
            found, _, fix = str(e).partition("; ")
            return [Check("audio input", FAIL, found, fix or "convert it to WAV or FLAC")]
        except Exception as e:  # noqa: BLE001 - reported, not raised
            return [Check("audio input", FAIL, f"{src} cannot be read ({str(e)[:120]})", "convert it to WAV or FLAC")]
        return [Check("audio input", OK, f"file {p.name}: {len(a) / sr:.1f} s at {sr} Hz")]
    pres = _mic_presence(required=True)
    if pres[0].status != OK:
        return pres
    return pres + [_mic_level(cfg, opts.audio_seconds)]


def _mic_presence(*, required: bool) -> list[Check]:
    bad = FAIL if required else WARN
    try:
        from live.mic import input_devices

        devs = input_devices()
    except Exception as e:  # noqa: BLE001 - DeviceError and PortAudio's own
        return [Check("sound card", bad, f"no audio input available ({str(e)[:120]})",
                      "install PortAudio and connect an interface, or use --input demo / FILE")]
    if not devs:
        return [Check("sound card", bad, "no audio input device found (no sound card)",
                      "connect an audio interface, or use --input demo / FILE")]
    names = ", ".join(f"{i} '{n}'" for i, n, _, _ in devs[:3])
    return [Check("sound card", OK, f"{len(devs)} input device(s): {names}")]


def _mic_level(cfg: Mapping[str, Any], seconds: float) -> Check:
    """Record ``seconds`` from the configured device and report peak and RMS in dBFS."""
    from live.mic import _sounddevice, resolve_device

    a = cfg["audio"]
    try:
        sd = _sounddevice()
        sr = int(a["sample_rate"]) or None
        dev = resolve_device(str(a["device"]))
        rate = sr or int(sd.query_devices(dev, "input")["default_samplerate"])
        rec = sd.rec(int(seconds * rate), samplerate=rate, channels=int(a["channels"]), dtype="float32", device=dev)
        sd.wait()
    except Exception as e:  # noqa: BLE001
        return Check("audio level", FAIL, f"cannot record from device {a['device'] or 'default'} ({str(e)[:120]})",
                     "check `dancemuse devices` and audio.device")
    x = np.asarray(rec, np.float64).mean(axis=1) if np.ndim(rec) == 2 else np.asarray(rec, np.float64)
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    rms = float(np.sqrt(np.mean(x * x))) if x.size else 0.0
    db = 20 * np.log10(max(rms, 1e-10))
    pk = 20 * np.log10(max(peak, 1e-10))
    detail = f"{seconds:g} s: RMS {db:.1f} dBFS, peak {pk:.1f} dBFS"
    if peak >= 0.999:
        return Check("audio level", WARN, detail + " (clipping)", "turn the input gain down")
    if db < -60:
        return Check("audio level", WARN, detail + " (silence)", "play music into the input and raise its gain")
    return Check("audio level", OK, detail)


# ----------------------------------------------------------------------------- model


def gpu_present() -> bool:
    """Whether an NVIDIA GPU is visible (driver tool or device node)."""
    return bool(shutil.which("nvidia-smi")) or Path("/dev/nvidia0").exists()


def check_model(cfg: Mapping[str, Any], opts: Options) -> list[Check]:
    """Load the configured model; report its provider (CUDA expected when it can run)."""
    try:
        from live.runtime import load_generator

        gen = load_generator(cfg)
    except Exception as e:  # noqa: BLE001 - ModelError and friends: one line
        return [Check("model", FAIL, str(e).splitlines()[0][:200] if str(e) else type(e).__name__,
                      "set model.path to an exported .onnx (or run `make default-model`)")]
    opts.shared["generator"] = gen
    styles = ",".join(gen.style_names)
    out = [Check("model", OK, f"{gen.path.name}: {gen.fps} fps, styles {styles}")]
    import onnxruntime as ort

    cuda_ok = "CUDAExecutionProvider" in ort.get_available_providers()
    gpu = gpu_present()
    prov = gen.provider
    if prov == "CUDAExecutionProvider":
        out.append(Check("provider", OK, "CUDA (onnxruntime-gpu on the GPU)"))
    elif cuda_ok and gpu and cfg["model"].get("provider") != "cpu":
        out.append(Check("provider", WARN, f"{prov} although onnxruntime-gpu and a GPU are there",
                         "check the CUDA/cuDNN libraries onnxruntime-gpu needs"))
    elif gpu and not cuda_ok:
        out.append(Check("provider", WARN, f"{prov}; a GPU is there but onnxruntime has no CUDA provider",
                         'pip install "dancemuse[gpu]" (onnxruntime-gpu) for the GPU'))
    else:
        out.append(Check("provider", OK, f"{prov}" + ("" if gpu else " (no GPU here)")))
    return out


def check_timing(cfg: Mapping[str, Any], opts: Options) -> list[Check]:
    """Seconds of the demo song through the real Engine, one hop per call: p99 per frame
    (wall) against the frame budget 1/fps. WARN above half the budget, FAIL above it."""
    gen = opts.shared.get("generator")
    if gen is None:
        return [Check("timing", WARN, "skipped: the model did not load", "fix the model line first")]
    from live.engine import Engine
    from live.generate import load_song

    audio, sr, _ = load_song("demo", demo_seconds=max(2.0, opts.timing_seconds))
    from live.ensemble import maybe_build

    ens = maybe_build({**cfg, "live": {**cfg["live"], "record": ""}}, gen)  # --dancers N: time the ensemble
    engine = ens.engine if ens is not None else Engine(cfg, gen)
    process = ens.process if ens is not None else engine.process
    engine.prepare(sr=sr)
    hop = max(1, int(round(sr / engine.fps)))
    budget = 1000.0 / engine.fps
    n = len(audio) // hop
    wall = np.zeros(n, np.float64)
    cpu = np.zeros(n, np.float64)
    frames = 0
    for i in range(n):
        t0, c0 = time.perf_counter(), time.thread_time()
        frames += len(process(audio[i * hop:(i + 1) * hop], sr=sr))
        wall[i] = (time.perf_counter() - t0) * 1000.0
        cpu[i] = (time.thread_time() - c0) * 1000.0
    skip = 10 if n > 20 else 0  # the very first calls fill the feature window
    p50, p99 = float(np.percentile(wall[skip:], 50)), float(np.percentile(wall[skip:], 99))
    c99 = float(np.percentile(cpu[skip:], 99))
    gen.reset(seed=int(cfg["model"].get("seed", 0)))
    opts.shared["timing"] = {"p50": p50, "p99": p99, "cpu_p99": c99, "budget": budget, "frames": frames}
    who = f"{ens.n} dancers ({ens.s.mode}), " if ens is not None else ""
    detail = (f"{who}{frames} frames at {engine.fps} fps: p50 {p50:.1f} ms, p99 {p99:.1f} ms wall, p99 {c99:.1f} ms CPU "
              f"of a {budget:.1f} ms budget")
    fix = "use --set features.fps=30, model.threads=2 or a GPU, or a faster machine"
    if c99 > budget:
        return [Check("timing", FAIL, detail, fix)]
    if p99 > budget:
        return [Check("timing", WARN, detail + " (the CPU fits, the machine is busy)",
                      "close other programs before the show")]
    if p99 > 0.5 * budget:
        return [Check("timing", WARN, detail + " (under half the budget is safe)", fix)]
    return [Check("timing", OK, detail)]


# ----------------------------------------------------------------------------- network


def port_free(host: str, port: int, *, udp: bool = False) -> str | None:
    """None if ``host:port`` can be bound now, else the reason."""
    kind = socket.SOCK_DGRAM if udp else socket.SOCK_STREAM
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, kind)
    try:
        if not udp:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server does
        s.bind((host, port))
    except OSError as e:
        return e.strerror or str(e)
    finally:
        s.close()
    return None


def check_ports(cfg: Mapping[str, Any], opts: Options) -> list[Check]:
    """The HTTP/WebSocket port and the OSC control listen port can be bound."""
    out: list[Check] = []
    ws = cfg["websocket"]
    if ws.get("enabled", True):
        host, port = str(ws["host"]), int(ws["port"])
        err = port_free(host, port)
        if err:
            out.append(Check("http port", FAIL, f"{host}:{port} is taken ({err})",
                             f"stop the program using it or --set websocket.port={port + 1}"))
        else:
            out.append(Check("http port", OK, f"{host}:{port} is free"))
    listen = str(cfg["osc"].get("listen", ""))
    if cfg["osc"].get("enabled", True) and listen:
        from live.osc_io import parse_hostport

        try:
            host, port = parse_hostport(listen, what="osc.listen")
        except Exception as e:  # noqa: BLE001 - ConfigError
            return out + [Check("osc listen", FAIL, str(e), "fix osc.listen (HOST:PORT or '')")]
        err = port_free(host, port, udp=True)
        if err:
            out.append(Check("osc listen", FAIL, f"udp {host}:{port} is taken ({err})",
                             f"stop the program using it or --set osc.listen='{host}:{port + 1}'"))
        else:
            out.append(Check("osc listen", OK, f"udp {host}:{port} is free"))
    return out


def check_osc_targets(cfg: Mapping[str, Any], opts: Options) -> list[Check]:
    """Every OSC target resolves to an address."""
    if not cfg["osc"].get("enabled", True):
        return [Check("osc targets", OK, "OSC output is off")]
    from live.osc_io import resolve_target

    out = []
    for t in cfg["osc"].get("targets", []):
        try:
            host, port = resolve_target(str(t))
        except Exception as e:  # noqa: BLE001 - ConfigError
            out.append(Check("osc target", FAIL, str(e), "fix osc.targets (HOST:PORT, a name DNS knows)"))
        else:
            out.append(Check("osc target", OK, f"{t} -> {host}:{port}"))
    return out or [Check("osc targets", WARN, "no OSC targets", "add one to osc.targets or disable osc")]


# ----------------------------------------------------------------------------- disk, extras


def check_disk(cfg: Mapping[str, Any], opts: Options) -> list[Check]:
    """Free space where the recording goes (live.record's folder, else the current one)."""
    rec = str(cfg["live"].get("record", ""))
    folder = Path(rec).parent if rec else Path(".")
    where = folder if str(folder) else Path(".")
    if not where.is_dir():
        return [Check("disk", FAIL, f"recording folder {where} does not exist", "create it or change live.record")]
    free = shutil.disk_usage(where).free
    need = RECORD_BYTES_PER_S * 3600 * SHOW_HOURS
    detail = f"{free / 2**30:.1f} GiB free in {where.resolve()}"
    if free < need / 4:
        return [Check("disk", FAIL, detail, "free some space or point live.record elsewhere")]
    if free < 4 * need:
        return [Check("disk", WARN, detail + f" (a {SHOW_HOURS:g} h recording needs {need / 2**20:.0f} MiB)",
                      "free some space before a long recording")]
    return [Check("disk", OK, detail + (f" for {rec}" if rec else " (recording off)"))]


EXTRA_MODULES: dict[str, tuple[str, ...]] = {
    "train": ("torch", "onnx", "pretty_midi"),
    "video": ("matplotlib", "imageio_ffmpeg"),
    "sync": ("aalink", "mido", "rtmidi"),
}


def _has(mod: str) -> bool:
    try:
        return importlib.util.find_spec(mod) is not None
    except (ImportError, ValueError):
        return False


def check_extras(cfg: Mapping[str, Any], opts: Options) -> list[Check]:
    """Optional extras present (WARN names what a missing one costs and how to add it)."""
    what = {"train": "training and export", "video": "MP4 video and pictures", "sync": "Ableton Link and MIDI clock"}
    out = []
    for extra, mods in EXTRA_MODULES.items():
        missing = [m for m in mods if not _has(m)]
        if extra == "video" and missing == ["imageio_ffmpeg"] and shutil.which("ffmpeg"):
            missing = []
        if missing:
            out.append(Check(f"extra {extra}", WARN, f"missing {', '.join(missing)} (optional: {what[extra]})",
                             f'pip install "dancemuse[{extra}]"'))
        else:
            out.append(Check(f"extra {extra}", OK, f"present ({what[extra]})"))
    return out


CHECKS: dict[str, Callable[[Mapping[str, Any], Options], list[Check]]] = {
    "audio": check_audio,
    "model": check_model,
    "timing": check_timing,
    "ports": check_ports,
    "osc": check_osc_targets,
    "disk": check_disk,
    "extras": check_extras,
}


def run_checks(cfg: Mapping[str, Any], opts: Options | None = None,
               report: Callable[[Check], None] | None = None) -> list[Check]:
    """Run every check not in ``opts.skip``, in order; ``report`` sees each line as it comes."""
    opts = opts or Options()
    out: list[Check] = []
    for name, fn in CHECKS.items():
        if name in opts.skip:
            continue
        try:
            res = fn(cfg, opts)
        except Exception as e:  # noqa: BLE001 - a check's own bug must not hide the others
            res = [Check(name, FAIL, f"check failed: {type(e).__name__}: {str(e)[:160]}", "run with --debug")]
        for c in res:
            out.append(c)
            if report is not None:
                report(c)
    return out
