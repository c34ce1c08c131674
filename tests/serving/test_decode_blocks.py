"""Decode KV accounting is exact: multi-step jumps hold the blocks exact stepping would, no more.

A decode jump of k steps used to reserve an upper bound (k/block + 1 blocks per sequence) and keep
the surplus, so the reported peak and ``kv_used_blocks`` counted blocks no request held and a
deciding scheduler saw a pool binding that was not. These tests compare jumps with one-step
stepping, and both with block counts worked out by hand.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import small_mix

from tokenomy.serving.engine import Engine
from tokenomy.serving.entities import EngineConfig
from tokenomy.serving.result import COMPLETED
from tokenomy.serving.running import RunningSet
from tokenomy.serving.schedulers import make_scheduler
from tokenomy.serving.workloads import make_workload


def _blocks(prompts: list[int], outs: list[int], b: int = 16) -> int:
    # the last output token is emitted, never written to KV
    return sum(-(-(p + o - 1) // b) for p, o in zip(prompts, outs, strict=True))


@pytest.mark.parametrize("jump", [None, 1])
def test_peak_is_the_blocks_the_requests_hold(jump: int | None) -> None:
    prompts, outs = [17, 100, 300, 16], [16, 16, 16, 16]
    wl = make_workload("t", np.zeros(4), prompts, outs, seed=0)
    cfg = EngineConfig(kv_blocks=10_000, prefix_cache=False)
    r = Engine(config=cfg, max_jump_steps=jump).run(wl, make_scheduler("fcfs"))
    assert (r.status == COMPLETED).all()
    assert r.max_kv_used_blocks == _blocks(prompts, outs)  # 2 + 8 + 20 + 2 = 32


@pytest.mark.parametrize("kv_blocks", [60, 400, 10_000])
@pytest.mark.parametrize("scheduler", ["fcfs", "priced"])
def test_jumps_hold_what_exact_stepping_holds(kv_blocks: int, scheduler: str) -> None:
    wl = small_mix(seed=3, duration_s=30.0, rate=4.0)
    cfg = EngineConfig(kv_blocks=kv_blocks, prefix_cache=False, price_sample_s=0.5)
    a = Engine(config=cfg).run(wl, make_scheduler(scheduler))
    b = Engine(config=cfg, max_jump_steps=1).run(wl, make_scheduler(scheduler))
    assert a.jumps < b.jumps or a.steps == a.jumps
    assert (a.status == b.status).all()
    assert a.max_kv_used_blocks == b.max_kv_used_blocks <= kv_blocks
    # the samples fall at step boundaries that differ between the two, so compare the peaks they see
    assert max(s.kv_used_blocks for s in a.prices) <= a.max_kv_used_blocks
    np.testing.assert_allclose(a.finish_s, b.finish_s, atol=1e-6)


def test_the_decode_set_holds_exactly_its_blocks_at_every_pass() -> None:
    wl = small_mix(seed=1, duration_s=20.0, rate=5.0)
    s = Engine(config=EngineConfig(kv_blocks=300, prefix_cache=False)).session(make_scheduler("fcfs"))
    s.add_workload(wl)
    st: RunningSet = s.state
    checked = 0
    for _ in range(200_000):
        step = s.step()
        exact = st._decode_blocks(st.g)
        assert st.u_dec == exact
        assert sum(st.res) == st.nd
        checked += 1
        if step.idle and not st.nd and not st.pf and not s.queue_len:
            break
    assert checked > 50
    r = s.finish()
    assert r.max_kv_used_blocks <= 300


def test_speculation_falls_back_to_the_exact_sum() -> None:
    wl = small_mix(seed=2, duration_s=20.0, rate=3.0)
    cfg = EngineConfig(kv_blocks=500, prefix_cache=False, spec_k=3, spec_alpha=0.7)
    a = Engine(config=cfg).run(wl, make_scheduler("fcfs"))
    b = Engine(config=cfg, max_jump_steps=1).run(wl, make_scheduler("fcfs"))
    assert a.max_kv_used_blocks == b.max_kv_used_blocks <= 500
    assert (a.status == b.status).all()
