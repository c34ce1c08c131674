"""The KV pool's policy protocol: ``fresh``, ``register_eviction``, the admission hook, and the run
hooks the engine hands a policy (clock, live published prices, the waiting head, joined requests)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from tokenomy.core.errors import ValidationError
from tokenomy.serving.engine import Engine
from tokenomy.serving.entities import EngineConfig
from tokenomy.serving.kv import EVICTION_POLICIES, KVCache, LFUEviction, LRUEviction, register_eviction
from tokenomy.serving.schedulers import make_scheduler
from tokenomy.serving.workloads import make_workload


class Spy(LRUEviction):
    """LRU that refuses odd blocks and records what the engine hands it."""

    name = "spy"
    seen: list[tuple[float, float, float, float]]

    def __init__(self) -> None:
        super().__init__()
        self.seen = []
        self.joined = 0

    def fresh(self) -> Spy:
        return Spy()

    def bind(self, clock, prices, entry_blocks: int, entry_tokens: int, pending_since) -> None:  # type: ignore[no-untyped-def]
        self.clock, self.prices, self.pending = clock, prices, pending_since
        assert (entry_blocks, entry_tokens) == (32, 512)

    def observe(
        self, arrival_s: Sequence[float], hashes: Sequence[Sequence[int]], lam: Sequence[float]
    ) -> None:
        self.joined += len(arrival_s)

    def admit(self, h: int) -> bool:
        kv, pre = self.prices()
        self.seen.append((self.clock(), kv, pre, self.pending()))
        return h % 2 == 0


def test_builtin_policies_have_fresh_copies_and_the_registry_takes_new_ones() -> None:
    assert type(LFUEviction().fresh()) is LFUEviction
    register_eviction("spy-test", Spy)
    try:
        assert KVCache(num_blocks=64, eviction="spy-test").policy.name == "spy"
    finally:
        del EVICTION_POLICIES["spy-test"]
    with pytest.raises(ValidationError, match="non-empty"):
        register_eviction("", Spy)


def test_a_refused_entry_is_freed_and_never_matched() -> None:
    kv = KVCache(num_blocks=200, eviction=Spy())
    kv.policy.bind(lambda: 0.0, lambda: (0.0, 0.0), 32, 512, lambda: 0.0)  # type: ignore[attr-defined]
    assert kv.allocate(100)
    kv.donate([2, 3, 4], 100)
    assert kv.refused == 1 and kv.match([2]) == 1 and kv.match([3]) == 0
    assert kv.free == 200 - 2 * 32


def test_engine_binds_clock_and_published_prices_and_reports_joined_requests() -> None:
    n = 60
    hs = [np.array([i % 5, 100 + i], np.int64) for i in range(n)]
    wl = make_workload("w", np.arange(n) * 0.05, [1100] * n, [30] * n, hash_ids=hs, seed=1)
    spy = Spy()
    eng = Engine(config=EngineConfig(kv_blocks=400, price_sample_s=0.1), eviction=spy)
    s = eng.session(make_scheduler("fcfs"))
    s.add_workload(wl)
    run_policy = s.kv.policy
    r = s.finish()
    assert isinstance(run_policy, Spy) and run_policy is not spy  # a fresh copy per run
    assert run_policy.joined == n
    assert run_policy.seen and all(t >= p - 1e-9 for t, _, _, p in run_policy.seen)  # head arrived before now
    times = np.array([x.time_s for x in r.prices])
    for t, kv_price, pre, _ in run_policy.seen:
        # the latest sample published when it asked: at its clock a sample may come before or after it
        lo, hi = int(np.searchsorted(times, t, side="left")), int(np.searchsorted(times, t, side="right"))
        published = {
            (max(x.kv_usd_per_block_s, 0.0), max(x.prefill_usd_per_token, 0.0))
            for x in r.prices[max(lo - 1, 0) : hi]
        }
        assert (kv_price, pre) in published
