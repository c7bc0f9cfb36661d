"""`dancemuse live`: music in, a dancer out over OSC and WebSocket, in real time."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    from live.cli import finite_float

    p = sub.add_parser(
        "live",
        help="run the live show: audio in, dance out over OSC and WebSocket (default: the demo song)",
    )
    p.add_argument("--input", metavar="demo|mic|FILE", help="audio input (default: audio.input, 'demo')")
    p.add_argument("--device", metavar="NAME|INDEX", help="input device for --input mic (see `dancemuse devices`)")
    p.add_argument("--fast", action="store_true", default=None, help="replay a file as fast as possible (tests, offline)")
    p.add_argument("--loop", action="store_true", default=None, help="replay a file input forever")
    p.add_argument("--playback", action="store_true", default=None, help="also play a file input to the output device")
    p.add_argument("--osc-target", metavar="HOST:PORT", action="append", help="send OSC here (repeatable; replaces osc.targets)")
    p.add_argument("--no-osc", action="store_true", help="send no OSC")
    p.add_argument("--osc-listen", metavar="HOST:PORT", help="OSC control input address ('' = off)")
    p.add_argument("--host", help="address the web server binds (anything but loopback needs a token)")
    p.add_argument("--port", type=int, help="web server port (visualizer, /status, /ws)")
    p.add_argument("--no-web", action="store_true", help="no web server")
    p.add_argument("--token", help="control token (generated when binding beyond loopback)")
    p.add_argument("--model", metavar="M.onnx", help="model file (default: model.path)")
    p.add_argument("--provider", choices=["auto", "cuda", "cpu"], help="onnxruntime provider")
    p.add_argument("--style", help="starting style: 'house' or a mix 'house:0.7,ballet:0.3'")
    p.add_argument("--style-strength", type=finite_float, metavar="K", help="how pronounced the style is, 0..6 (1 = as the model learnt it; default live.style_strength, 2)")
    p.add_argument("--fps", type=int, choices=[30, 60], help="pose frames per second (must match the model)")
    p.add_argument("--record", metavar="OUT.npz|.bvh|.json", help="record the show to this file")
    p.add_argument("--duration", type=finite_float, metavar="S", help="stop after S seconds of audio")
    p.add_argument("--link", action="store_true", default=None, help="follow the Ableton Link session (clock.link)")
    p.add_argument("--link-lead", action="store_true", default=None,
                   help="also propose the heard tempo to the Link session (implies --link)")
    p.add_argument("--midi-clock", metavar="PORT", help="follow MIDI clock from this input port (clock.midi)")
    p.add_argument("--dancers", type=int, metavar="N", help="dancers from the one audio stream, 1..8 (ensemble.dancers)")
    p.add_argument("--ensemble-mode", choices=["unison", "canon", "mirror", "free"], help="what the other dancers do")
    p.add_argument("--canon-beats", type=int, metavar="K", help="canon: each dancer K beats behind the one before")
    p.add_argument("--ensemble-styles", metavar="S1,S2,...", help="one style per dancer (implies mode free)")
    p.add_argument("--formation", choices=["line", "arc", "v", "grid"], help="stage formation of the dancers")
    p.set_defaults(func=run)


def apply_args(args: argparse.Namespace, cfg: dict[str, Any]) -> None:
    """Fold the flags into the configuration (validated like config keys)."""
    from model.config import coerce

    def put(section: str, key: str, value: Any) -> None:
        if value is not None:
            cfg[section][key] = coerce(section, key, value, where=f" (--{key.replace('_', '-')})")

    put("audio", "input", args.input)
    put("audio", "device", args.device)
    put("audio", "fast", args.fast)
    put("audio", "loop", args.loop)
    put("audio", "playback", args.playback)
    put("osc", "targets", args.osc_target)
    put("osc", "listen", args.osc_listen)
    if args.no_osc:
        cfg["osc"]["enabled"] = False
    put("websocket", "host", args.host)
    put("websocket", "port", args.port)
    put("websocket", "token", args.token)
    if args.no_web:
        cfg["websocket"]["enabled"] = False
    put("model", "path", args.model)
    put("model", "provider", args.provider)
    put("model", "style", args.style)
    put("live", "style_strength", args.style_strength)
    put("features", "fps", args.fps)
    put("live", "record", args.record)
    put("clock", "link", True if args.link or args.link_lead else None)
    put("clock", "link_lead", args.link_lead)
    put("clock", "midi", args.midi_clock)
    put("ensemble", "dancers", args.dancers)
    put("ensemble", "mode", args.ensemble_mode)
    put("ensemble", "canon_beats", args.canon_beats)
    put("ensemble", "styles", [x.strip() for x in args.ensemble_styles.split(",")] if args.ensemble_styles else None)
    put("ensemble", "formation", args.formation)
    if args.osc_target:
        from live.osc_io import parse_hostport

        for t in args.osc_target:
            parse_hostport(t, what="--osc-target")


def run(args: argparse.Namespace, cfg: dict[str, Any]) -> int:
    import asyncio

    from live.app import serve
    from model.errors import ConfigError

    apply_args(args, cfg)
    if args.duration is not None and args.duration <= 0:
        raise ConfigError(f"--duration {args.duration} must be positive (seconds of audio)")
    rc = asyncio.run(serve(cfg, duration=args.duration, print_fn=lambda s: print(s, flush=True)))
    fast_exit(rc)
    return rc


def fast_exit(rc: int) -> None:
    """Leave at once once the show is closed and flushed.

    Python's own teardown takes 1-2 s on this machine after librosa's numba-compiled
    filters were used (measured: ``librosa.filters.mel`` then exit = 1.0-1.8 s), which
    would break "SIGTERM stops in under a second". Everything that matters (sockets,
    devices, the recording) is closed explicitly before this point. Skipped when running
    inside pytest or with DANCEMUSE_NO_FAST_EXIT=1.
    """
    import logging
    import os
    import sys

    if os.environ.get("DANCEMUSE_NO_FAST_EXIT") == "1" or "pytest" in sys.modules:
        return
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(rc)
