"""Engine correctness: M/D/1, token conservation, KV bounds, preemption, determinism, too-large requests."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import LINEAR, roomy, small_mix

from tokenomy.serving.engine import Engine
from tokenomy.serving.entities import EngineConfig
from tokenomy.serving.metrics import latency_columns, summarize
from tokenomy.serving.result import COMPLETED, TOO_LARGE
from tokenomy.serving.schedulers import make_scheduler
from tokenomy.serving.steptime import LinearStepTime
from tokenomy.serving.workloads import make_workload


@pytest.mark.parametrize("rho", [0.5, 0.8])
def test_batch_one_fixed_step_matches_md1_mean_sojourn(rho: float) -> None:
    step = 0.01
    out = 5
    service = out * step  # prefill step emits the first token, then out - 1 decode steps
    rng = np.random.default_rng(7)
    n = 40000
    arr = np.cumsum(rng.exponential(service / rho, n))
    wl = make_workload("md1", arr, np.ones(n, np.int64), np.full(n, out), seed=1)
    r = Engine(step_model=LinearStepTime(step, 0.0, 0.0), config=roomy(max_num_seqs=1)).run(
        wl, make_scheduler("fcfs")
    )
    e2e = latency_columns(r)["e2e_s"]
    wq = rho * service / (2 * (1 - rho))  # Pollaczek–Khinchine for deterministic service
    assert np.mean(e2e) == pytest.approx(wq + service, rel=0.04)
    ttft = latency_columns(r)["ttft_s"]
    assert np.mean(ttft) == pytest.approx(wq + step, rel=0.05)


def test_tokens_are_conserved_without_preemption() -> None:
    wl = small_mix(seed=3)
    r = Engine(step_model=LINEAR, config=roomy(max_batched_tokens=512)).run(wl, make_scheduler("fcfs"))
    assert (r.status == COMPLETED).all()
    assert r.preemptions.sum() == 0
    assert r.decode_tokens == pytest.approx(float((wl.output_tokens - 1).sum()))
    assert r.prefill_tokens == int((wl.prompt_tokens - r.hit_tokens).sum())


def test_tight_kv_preempts_but_never_over_allocates_and_everyone_finishes() -> None:
    wl = small_mix(seed=4, rate=6.0)
    cfg = EngineConfig(kv_blocks=1200, max_batched_tokens=2048, prefix_cache=False)
    for name in ("fcfs", "spf", "vtc", "priority"):
        r = Engine(step_model=LINEAR, config=cfg).run(wl, make_scheduler(name))
        done = r.status == COMPLETED
        assert (done | (r.status == TOO_LARGE)).all()
        assert r.max_kv_used_blocks <= cfg.kv_blocks
        assert r.preemptions.sum() > 0
        ok = done & (wl.output_tokens > 1)
        assert (r.finish_s[ok] >= r.first_token_s[ok]).all()
        assert (r.first_token_s[done] >= wl.arrival_s[done]).all()


def test_request_larger_than_the_whole_kv_is_rejected_and_counted() -> None:
    wl = make_workload("big", [0.0, 0.1, 0.2], [100, 10_000, 50], [10, 10, 10])
    r = Engine(config=EngineConfig(kv_blocks=100, block_tokens=16)).run(wl, make_scheduler("fcfs"))
    assert r.status.tolist() == [COMPLETED, TOO_LARGE, COMPLETED]
    assert summarize(r)["rejected_too_large"] == 1


def test_same_seed_same_result_and_other_seed_differs() -> None:
    runs = [Engine(step_model=LINEAR).run(small_mix(seed=s), make_scheduler("priced")) for s in (5, 5, 6)]
    a, b, c = (summarize(x) for x in runs)
    assert np.array_equal(runs[0].finish_s, runs[1].finish_s, equal_nan=True)
    assert a["welfare"] == b["welfare"]
    assert a["welfare"] != c["welfare"]


def test_speculation_is_off_when_drafting_does_not_pay_and_on_when_it_does() -> None:
    wl = make_workload("one", [0.0], [100], [200])
    model = LinearStepTime(0.01, 1e-5, 1e-5)  # memory-bound: verifying 5 tokens costs about as much as 1
    never = Engine(step_model=model, config=EngineConfig(spec_k=4, spec_alpha=0.0)).run(
        wl, make_scheduler("fcfs")
    )
    good = Engine(step_model=model, config=EngineConfig(spec_k=4, spec_alpha=0.8)).run(
        wl, make_scheduler("fcfs")
    )
    plain = Engine(step_model=model).run(wl, make_scheduler("fcfs"))
    assert never.spec_steps == 0
    assert good.spec_steps > 0
    assert good.finish_s[0] < plain.finish_s[0]
    assert (good.status == COMPLETED).all()


def test_multi_step_jumps_give_the_same_result_as_stepping_one_at_a_time() -> None:
    wl = small_mix(seed=8, rate=6.0)
    for name in ("fcfs", "priced"):
        fast = Engine(step_model=LINEAR).run(wl, make_scheduler(name))
        slow = Engine(step_model=LINEAR, max_jump_steps=1).run(wl, make_scheduler(name))
        assert fast.jumps < slow.jumps
        assert np.allclose(fast.finish_s, slow.finish_s, rtol=1e-9, atol=1e-9, equal_nan=True)
        assert np.array_equal(fast.status, slow.status)
