"""Prefix-cache hits equal a brute-force count; LRU eviction matches a reference; KV pool invariants."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tokenomy.interfaces.loaders.traces import NAMED_TRACES, load_trace
from tokenomy.serving.engine import Engine
from tokenomy.serving.entities import EngineConfig, Workload
from tokenomy.serving.kv import KVCache
from tokenomy.serving.metrics import summarize
from tokenomy.serving.schedulers import make_scheduler
from tokenomy.serving.workloads import make_workload

HB = 512


def _spaced(prompts: list[int], hashes: list[list[int]], out: int = 1) -> Workload:
    """Requests 1,000 s apart, so each finishes before the next arrives."""
    n = len(prompts)
    return make_workload(
        "spaced", np.arange(n) * 1000.0, prompts, [out] * n, hash_ids=[np.array(h, np.int64) for h in hashes]
    )


def _brute_hits(prompts: list[int], hashes: list[list[int]], cap_entries: int | None) -> list[int]:
    """Longest cached prefix per request; the cache gets each request's full blocks, LRU-evicted."""
    lru: OrderedDict[int, None] = OrderedDict()
    hits = []
    for p, hs in zip(prompts, hashes, strict=True):
        m = 0
        while m < len(hs) and hs[m] in lru:
            m += 1
        if m * HB >= p:
            m -= 1
        hits.append(m * HB)
        for h in hs[:m]:
            lru.move_to_end(h)
        for h in reversed(hs[m : p // HB]):  # deepest first, as the engine donates
            if h not in lru:
                lru[h] = None
        for h in hs[:m][::-1]:
            lru.move_to_end(h)
        while cap_entries is not None and len(lru) > cap_entries:
            lru.popitem(last=False)
    return hits


def test_prefix_hits_equal_brute_force_with_an_infinite_cache() -> None:
    rng = np.random.default_rng(0)
    prompts, hashes, convs = [], [], []
    for _ in range(60):
        if convs and rng.random() < 0.6:  # a follow-up turn extends an earlier conversation
            base = convs[int(rng.integers(len(convs)))]
            hs = base + [int(x) for x in rng.integers(10_000, 10**9, int(rng.integers(1, 4)))]
        else:
            hs = [int(x) for x in rng.integers(10_000, 10**9, int(rng.integers(1, 6)))]
        convs.append(hs)
        hashes.append(hs)
        prompts.append(len(hs) * HB - int(rng.integers(0, 300)))
    r = Engine(config=EngineConfig(kv_blocks=10**6)).run(_spaced(prompts, hashes), make_scheduler("fcfs"))
    brute = _brute_hits(prompts, hashes, None)
    assert r.hit_tokens.tolist() == brute
    assert r.hit_tokens.sum() > 0
    # hit rate by V decile: brute force over the request's value rank
    m = summarize(r)
    v = r.workload.v_usd
    rank = np.argsort(np.argsort(v))
    for d in range(10):
        sel = [i for i in range(len(v)) if rank[i] * 10 // len(v) == d]
        want = sum(brute[i] for i in sel) / max(sum(prompts[i] for i in sel), 1)
        assert m["prefix_hit_rate_by_v_decile"][d] == pytest.approx(want)
    assert m["prefix_hit_rate"] == pytest.approx(sum(brute) / sum(prompts))


def test_kv_cache_never_evicts_a_referenced_entry_and_never_over_allocates() -> None:
    kv = KVCache(num_blocks=100, block_tokens=16, hash_block_tokens=32)  # 2 blocks per entry
    assert kv.allocate(10)
    kv.donate([1, 2, 3], 10)  # 3 entries = 6 blocks, 4 freed
    assert kv.free == 94 and kv.available == 100
    kv.acquire([1, 2])
    assert kv.available == 96
    assert not kv.allocate(97)
    assert kv.allocate(96)  # evicts entry 3 only; 1 and 2 are pinned
    assert 3 not in kv.refs and {1, 2} <= set(kv.refs)
    assert kv.free == 0
    kv.unref([1, 2])
    assert kv.available == 4


@pytest.mark.data
def test_mooncake_slice_hits_equal_brute_force(need_data: Any) -> None:
    path: Path = need_data(*NAMED_TRACES["mooncake"].split("/"))
    wl = load_trace(path, limit=400).workload
    prompts = wl.prompt_tokens.tolist()
    hashes = [h.tolist() for h in (wl.hash_ids or [])]
    r = Engine(config=EngineConfig(kv_blocks=10**7)).run(_spaced(prompts, hashes), make_scheduler("fcfs"))
    brute = _brute_hits(prompts, hashes, None)
    assert r.hit_tokens.tolist() == brute
    assert sum(brute) > 0


@pytest.mark.parametrize(
    ("policy", "first_victim"),
    [("lru", 2), ("fifo", 1), ("lfu", 3)],
)
def test_eviction_policies_pick_their_victim(policy: str, first_victim: int) -> None:
    """Entries 1, 2, 3 donated in that order, then reused 2, 2, 2, 1, 1, 3 (each released at once)."""
    kv = KVCache(num_blocks=6, block_tokens=16, hash_block_tokens=32, eviction=policy)
    assert kv.allocate(6)
    kv.donate([1], 2)
    kv.donate([2], 2)
    kv.donate([3], 2)
    for hs in ([2], [2], [2], [1], [1], [3]):
        kv.acquire(hs)
        kv.unref(hs)
    assert kv.free == 0 and kv.available == 6
    assert kv.allocate(2)  # one eviction
    assert first_victim not in kv.refs and len(kv.refs) == 2
    assert kv.evictions == 1


def test_fifo_orders_a_reinserted_entry_by_its_new_insertion() -> None:
    """Entry 1 is reused (a second heap record), evicted, then donated again: it is now newer than 2."""
    kv = KVCache(num_blocks=4, block_tokens=16, hash_block_tokens=32, eviction="fifo")
    assert kv.allocate(4)
    kv.donate([1], 2)
    kv.donate([2], 2)
    kv.acquire([1])
    kv.unref([1])
    assert kv.policy.candidates(2) == [1, 2]
    assert kv.allocate(2) and 1 not in kv.refs  # 1 was inserted first
    kv.donate([1], 2)  # 1 again, inserted after 2
    assert kv.policy.candidates(2) == [2, 1]
    assert kv.allocate(2) and 2 not in kv.refs and 1 in kv.refs
