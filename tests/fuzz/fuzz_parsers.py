"""Mutation fuzzer for the two parsers that face the network: OSC control datagrams
(live/osc.py ``parse_datagram`` + live/control.py ``from_osc``) and WebSocket control
messages (live/wsproto.py ``parse_client`` + live/control.py ``from_json``).

The only acceptable outcomes are a result or ProtocolError: any other exception is a bug.
Run longer by hand::

    python -m tests.fuzz.fuzz_parsers --seconds 60 --seed 1
"""

from __future__ import annotations

import argparse
import json
import random
import struct
import sys
import time
from typing import Any

from live.control import NAMES, from_json, from_osc
from live.osc import encode_bundle, encode_message, osc_string, parse_datagram
from live.wsproto import parse_client
from model.errors import ProtocolError

STYLES = ("house", "hiphop", "ballet", "popping")
PREFIX = "/dancemuse"


def _random_arg(rng: random.Random) -> Any:
    return rng.choice([
        rng.randint(-(2**31), 2**31 - 1),
        rng.uniform(-3, 3),
        float("nan"),
        float("inf"),
        True,
        False,
        None,
        rng.choice(STYLES + ("salsa", "", "center", "follow")),
        bytes(rng.randrange(256) for _ in range(rng.randrange(6))),
    ])


def osc_seed(rng: random.Random) -> bytes:
    """A plausible control datagram: one message or a (nested) bundle of a few."""
    def message() -> bytes:
        name = rng.choice(NAMES + ("jump", "style/x"))
        args = [_random_arg(rng) for _ in range(rng.randrange(6))]
        return encode_message(f"{PREFIX}/control/{name}", args)

    if rng.random() < 0.5:
        return message()
    elements = [message() for _ in range(rng.randrange(1, 4))]
    if rng.random() < 0.3:
        elements.append(encode_bundle((0, 1), [message()]))
    return encode_bundle((rng.randrange(2**32), rng.randrange(2**32)), elements)


def mutate(data: bytes, rng: random.Random) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randrange(1, 5)):
        op = rng.randrange(7)
        if op == 0 and b:  # flip a bit
            i = rng.randrange(len(b))
            b[i] ^= 1 << rng.randrange(8)
        elif op == 1 and b:  # truncate
            del b[rng.randrange(len(b)):]
        elif op == 2:  # insert random bytes
            i = rng.randrange(len(b) + 1)
            b[i:i] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 9)))
        elif op == 3 and len(b) >= 4:  # overwrite a word with an extreme int32 (sizes!)
            i = rng.randrange(0, len(b) - 3) // 4 * 4
            b[i:i + 4] = struct.pack(">i", rng.choice([0, -1, -4, 4, 2**31 - 1, -(2**31), len(b), len(b) + 4]))
        elif op == 4 and b:  # duplicate a slice
            i = rng.randrange(len(b))
            j = rng.randrange(i, len(b) + 1)
            b[j:j] = b[i:j]
        elif op == 5:  # splice a type-tag string in
            i = rng.randrange(len(b) + 1) // 4 * 4
            b[i:i] = osc_string("," + "".join(rng.choice("ifsbhdTFNx[]") for _ in range(rng.randrange(8))))
        elif op == 6 and b:  # zero a run
            i = rng.randrange(len(b))
            b[i:i + rng.randrange(1, 8)] = b"\x00" * len(b[i:i + 8][: rng.randrange(1, 8)])
    return bytes(b)


def check_osc(data: bytes) -> None:
    try:
        messages = parse_datagram(data)
    except ProtocolError:
        return
    for address, args in messages:
        try:
            from_osc(address, args, prefix=PREFIX, styles=STYLES)
        except ProtocolError:
            pass


def _random_json(rng: random.Random, depth: int = 0) -> Any:
    kinds = ["int", "float", "str", "bool", "null"] + (["list", "dict"] if depth < 3 else [])
    k = rng.choice(kinds)
    if k == "int":
        return rng.choice([0, 1, -1, 2, 10**30, rng.randint(-5, 5)])
    if k == "float":
        return rng.choice([0.5, -0.5, 1.5, 2.0001, 1e308, -0.0, rng.uniform(-3, 3)])
    if k == "str":
        return rng.choice(list(NAMES) + list(STYLES) + ["", "center", "follow", "x" * 50, "\u00e9\u2603"])
    if k == "bool":
        return rng.random() < 0.5
    if k == "null":
        return None
    if k == "list":
        return [_random_json(rng, depth + 1) for _ in range(rng.randrange(5))]
    return {rng.choice(["type", "name", "value", "id", "x"]): _random_json(rng, depth + 1) for _ in range(rng.randrange(4))}


def json_seed(rng: random.Random) -> str:
    obj: dict[str, Any] = {"type": rng.choice(["control", "control", "ping", "hello", 3]),
                           "id": _random_json(rng), "name": rng.choice(NAMES + ("fly",))}
    if rng.random() < 0.9:
        obj["value"] = _random_json(rng)
    text = json.dumps(obj)
    if rng.random() < 0.3:  # mutate the text itself
        b = mutate(text.encode(), rng)
        text = b.decode("utf-8", "replace")
    return text


def check_json(text: str) -> None:
    try:
        obj = parse_client(text, max_size=65536)
        if obj.get("type") == "control":
            from_json(obj, styles=STYLES)
    except ProtocolError:
        pass


def run(*, seconds: float = 0.0, iterations: int = 0, seed: int = 0) -> dict[str, int]:
    """Fuzz both parsers for ``iterations`` cases each (or until ``seconds`` pass)."""
    rng = random.Random(seed)
    counts = {"osc": 0, "json": 0}
    deadline = time.monotonic() + seconds if seconds else None
    while True:
        if deadline is not None and time.monotonic() >= deadline:
            break
        if deadline is None and counts["osc"] >= iterations:
            break
        d = osc_seed(rng)
        check_osc(d if rng.random() < 0.1 else mutate(d, rng))
        check_osc(bytes(rng.randrange(256) for _ in range(rng.randrange(0, 64))))
        check_json(json_seed(rng))
        counts["osc"] += 1
        counts["json"] += 1
    return counts


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=30.0)
    p.add_argument("--seed", type=int, default=int(time.time()))
    args = p.parse_args(argv)
    counts = run(seconds=args.seconds, seed=args.seed)
    print(f"seed {args.seed}: {counts['osc']} OSC and {counts['json']} JSON cases, no crash")
    return 0


if __name__ == "__main__":
    sys.exit(main())
