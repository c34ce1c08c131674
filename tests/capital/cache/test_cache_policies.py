"""Value-aware and Belady policies: order by their keys, admission at the live price, conformance with
the serving KV pool, determinism, and Belady at least as good as LRU on a small chained workload."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tokenomy.capital.cache.policies import BeladyEviction, CacheLog, ValueAwareEviction
from tokenomy.capital.cache.reuse import DepreciationFit, block_class
from tokenomy.capital.cache.value import holding_test, v_weight
from tokenomy.serving.engine import Engine
from tokenomy.serving.entities import EngineConfig
from tokenomy.serving.kv import EvictionPolicy, KVCache
from tokenomy.serving.metrics import summarize
from tokenomy.serving.schedulers import make_scheduler
from tokenomy.serving.workloads import make_workload

FLAT = DepreciationFit(0.01, (math.log(0.01),) * 30, 0.0, 0)


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def _bound(policy: ValueAwareEviction | BeladyEviction, p_kv: float = 0.0, p_pre: float = 1e-6) -> Clock:
    clock = Clock()
    policy.bind(clock, lambda: (p_kv, p_pre), 32, 512)
    return clock


def test_value_policy_with_one_class_and_no_weight_evicts_the_least_recently_demanded() -> None:
    pol = ValueAwareEviction(FLAT, weight_by_value=False)
    clock = _bound(pol)
    pol.observe([0.0, 1.0, 2.0], [[10], [11], [12]], [1.0, 1.0, 1.0])
    clock.t = 3.0
    for h in (12, 10, 11):  # released in another order than demanded
        pol.add(h)
    assert pol.candidates(3) == [10, 11, 12]
    assert [pol.victim(), pol.victim(), pol.victim(), pol.victim()] == [10, 11, 12, None]


def test_value_policy_keeps_a_frequently_demanded_block_over_a_newer_one_time_cannot_reorder() -> None:
    alpha = [math.log(0.001)] * 30
    alpha[block_class(0, 5)] = math.log(0.1)  # blocks demanded 5+ times are reused 100x faster
    fit = DepreciationFit(0.001, tuple(alpha), 0.0, 0)
    pol = ValueAwareEviction(fit, weight_by_value=False)
    clock = _bound(pol)
    pol.observe([0.0, 1.0, 2.0, 3.0, 4.0, 50.0], [[1], [1], [1], [1], [1], [2]], [1.0] * 6)
    clock.t = 60.0
    pol.add(1)
    pol.add(2)
    assert pol.candidates(2) == [2, 1]
    clock.t = 1000.0  # the order is fixed once keyed: one δ shifts every key alike
    assert pol.victim() == 2


def test_value_policy_reads_only_demands_that_arrived_by_the_clock() -> None:
    pol = ValueAwareEviction(FLAT, weight_by_value=False)
    clock = _bound(pol)
    pol.observe([0.0, 100.0], [[1], [1]], [1.0, 1.0])
    clock.t = 10.0
    pol.add(1)
    k_now = pol.key(1, 10.0)
    assert k_now == pytest.approx(FLAT.alpha[block_class(0, 1)] + 0.0)  # the t = 100 demand is unseen
    assert pol.key(1, 200.0) > k_now


def test_admission_refuses_a_block_whose_rent_exceeds_its_value_and_logs_it() -> None:
    log = CacheLog(every=1)
    pol = ValueAwareEviction(FLAT, weight_by_value=False, log=log)
    clock = _bound(pol, p_kv=1.0, p_pre=1e-6)  # dear memory, cheap prefill
    pol.observe([0.0], [[7]], [1.0])
    clock.t = 1.0
    assert not pol.admit(7)
    pol2 = ValueAwareEviction(FLAT, weight_by_value=False)
    clock2 = _bound(pol2, p_kv=0.0)
    pol2.observe([0.0], [[7]], [1.0])
    clock2.t = 1.0
    assert pol2.admit(7)  # slack pool: price 0, every block passes
    d = log.take()
    assert d.counts == {"refuse": 1} and len(d) == 1 and d.holding_usd[0] > d.value_usd[0]


def test_holding_test_is_value_of_next_reuse_against_rent_until_then() -> None:
    t = holding_test(FLAT, 0, 0.0, weight=2.0, tokens=512, blocks=32, prefill_usd_per_token=1e-5,
                     kv_usd_per_block_s=1e-6)  # fmt: skip
    assert t.reuse_per_s == pytest.approx(0.01)
    assert t.value_usd == pytest.approx(2.0 * 512 * 1e-5)
    assert t.holding_usd == pytest.approx(1e-6 * 32 * 100.0)
    assert t.keep == (t.value_usd >= t.holding_usd)
    assert v_weight(2, 4.0, 1.0, 2.0) == pytest.approx(1.5)
    assert v_weight(0, 0.0, 0.0, 2.0) == 1.0


def test_belady_evicts_the_block_demanded_farthest_ahead_and_refuses_dead_blocks() -> None:
    pol = BeladyEviction()
    clock = _bound(pol)
    pol.observe([0.0, 10.0, 20.0, 30.0], [[1, 2, 3], [2], [1], [4]], [1.0] * 4)
    clock.t = 5.0
    for h in (1, 2, 3):
        pol.add(h)
    assert pol.victim() == 3  # never demanded again
    assert pol.victim() == 1  # next demand at 20 > 10
    assert not pol.admit(3) and pol.admit(2)


@pytest.mark.parametrize("make", [lambda: ValueAwareEviction(FLAT), BeladyEviction])
def test_capital_policies_fit_the_serving_pool_and_fresh_gives_an_empty_copy(make) -> None:  # type: ignore[no-untyped-def]
    pol: EvictionPolicy = make()
    kv = KVCache(num_blocks=100, block_tokens=16, hash_block_tokens=512, eviction=pol)
    assert kv.allocate(70)
    kv.donate([1, 2], 70)
    assert len(pol) <= 2 and kv.free == 100 - 32 * len(pol)
    assert kv.allocate(90) and len(pol) == 0  # evicted what it held
    new = pol.fresh()
    assert type(new) is type(pol) and len(new) == 0


def _chained_workload(seed: int = 0) -> tuple[object, object]:
    rng = np.random.default_rng(seed)
    n = 400
    arr = np.cumsum(rng.exponential(0.5, n))
    convs = rng.integers(0, 30, n)
    hashes: list[np.ndarray] = []
    prompts: list[int] = []
    depth: dict[int, int] = {}
    for c in convs.tolist():
        d = depth.get(c, 0) + 1
        depth[c] = d
        hashes.append(np.array([c * 1000 + j for j in range(min(d, 6))], np.int64))
        prompts.append(512 * len(hashes[-1]) + 100)
    return make_workload("chains", arr, prompts, [20] * n, hash_ids=hashes, seed=seed), None


def test_engine_runs_are_deterministic_and_belady_hits_at_least_lru() -> None:
    wl, _ = _chained_workload()
    cfg = EngineConfig(kv_blocks=900)
    hit = {}
    for name, pol in (("lru", "lru"), ("value", ValueAwareEviction(FLAT)), ("belady", BeladyEviction())):
        a = summarize(Engine(config=cfg, eviction=pol).run(wl, make_scheduler("fcfs")))  # type: ignore[arg-type]
        b = summarize(Engine(config=cfg, eviction=pol).run(wl, make_scheduler("fcfs")))  # type: ignore[arg-type]
        assert a["welfare"] == b["welfare"] and a["prefix_hit_rate"] == b["prefix_hit_rate"]
        hit[name] = a["prefix_hit_rate"]
    assert hit["belady"] >= hit["lru"] > 0
