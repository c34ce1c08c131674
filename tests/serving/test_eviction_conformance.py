"""Every registered eviction policy (built-in and the capital layer's) keeps the pool's contract:
``candidates(k)`` are the next k victims in order and reading them changes nothing, a removed entry
is never a victim, ``len`` counts the evictable entries, ``victim`` is None when empty, ``fresh`` is
empty. Random operation sequences, checked against a set model."""

from __future__ import annotations

import random

import pytest

from tokenomy.interfaces.cmd_serve_cache import register_cache_policies
from tokenomy.serving.kv import EVICTION_POLICIES, EvictionPolicy

register_cache_policies()
NAMES = sorted(EVICTION_POLICIES)


def _bound(p: EvictionPolicy, clock: list[float]) -> EvictionPolicy:
    bind = getattr(p, "bind", None)
    if bind is not None:
        bind(lambda: clock[0], lambda: (0.0, 1e-6), 32, 512, lambda: clock[0])
        p.observe([0.0, 5.0, 9.0], [[1, 2, 3], [1, 4], [2, 5, 6]], [0.01, 0.02, 0.03])  # type: ignore[attr-defined]
    return p


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("seed", range(6))
def test_policy_keeps_the_eviction_contract(name: str, seed: int) -> None:
    rng = random.Random(seed)
    clock = [0.0]
    p = _bound(EVICTION_POLICIES[name](), clock)
    live: set[int] = set()
    for _ in range(300):
        clock[0] += rng.random()
        op = rng.random()
        if op < 0.45:
            h = rng.randrange(12)
            if h not in live:
                p.add(h)
                live.add(h)
        elif op < 0.65 and live:
            r = rng.choice(sorted(live))
            p.remove(r)
            live.discard(r)
        else:
            k = rng.randrange(1, 5)
            cands = p.candidates(k)
            assert len(cands) == min(k, len(live)) and set(cands) <= live and len(set(cands)) == len(cands)
            got = [p.victim() for _ in range(len(cands))]
            assert got == cands
            live.difference_update(got)
        assert len(p) == len(live)
    while live:
        v = p.victim()
        assert v is not None and v in live
        live.discard(v)
    assert p.victim() is None and len(p) == 0
    assert len(p.fresh()) == 0 and type(p.fresh()) is type(p)
