"""`dancemuse devices`: list the audio input devices `--input mic --device D` can use."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("devices", help="list audio input devices (for `live --input mic --device D`)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, cfg: dict[str, Any]) -> int:
    from live.mic import input_devices

    devs = input_devices()
    if not devs:
        print("no audio input devices found (PortAudio lists none); use --input demo or --input FILE")
        return 1
    print(f"{'index':>5}  {'channels':>8}  {'rate':>7}  name")
    for i, name, ch, rate in devs:
        print(f"{i:>5}  {ch:>8}  {rate:>7.0f}  {name}")
    print("use: dancemuse live --input mic --device INDEX|NAME")
    return 0
