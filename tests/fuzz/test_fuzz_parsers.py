"""A short run of the parser fuzzer in the default tests (a longer one: see fuzz_parsers.py)."""

from __future__ import annotations

import random

import pytest

from live.osc import parse_datagram
from model.errors import ProtocolError
from tests.fuzz.fuzz_parsers import check_osc, mutate, osc_seed, run


@pytest.mark.parametrize("seed", [0, 1])
def test_parsers_survive_mutated_input(seed: int) -> None:
    counts = run(iterations=1000, seed=seed)
    assert counts == {"osc": 1000, "json": 1000}


def test_fuzzer_reaches_both_outcomes() -> None:
    # the fuzzer is useless if everything is refused (or everything accepted); about 4 % of
    # its mutated datagrams still parse, so 1000 of them (500 gave 16-24 over seeds 0-7, the
    # line of 20 in the middle: a new control name shifted the draws under it)
    rng = random.Random(5)
    ok = bad = 0
    for _ in range(1000):
        d = mutate(osc_seed(rng), rng)
        try:
            parse_datagram(d)
            ok += 1
        except ProtocolError:
            bad += 1
        check_osc(d)
    assert ok > 20 and bad > 100
