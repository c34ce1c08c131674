"""Prefill/decode disaggregation: hand computations (one request; KV held until the transfer lands),
recompute charged at the step model's prefill cost, conservation (no KV leaks), back-pressure under
overload, interference."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import LINEAR, roomy, small_mix

from tokenomy.core.errors import ValidationError
from tokenomy.serving.disagg import LLAMA31_8B, DisaggregatedEngine, DisaggStats, KVTransfer
from tokenomy.serving.engine import Engine
from tokenomy.serving.entities import EngineConfig, Workload
from tokenomy.serving.metrics import summarize
from tokenomy.serving.result import COMPLETED, RunResult
from tokenomy.serving.schedulers import make_scheduler
from tokenomy.serving.steptime import LLAMA2_70B
from tokenomy.serving.workloads import make_workload


def test_one_request_matches_the_closed_form_with_the_transfer_cost() -> None:
    p, o = 1000, 20
    wl = make_workload("one", [0.0], [p], [o])
    xfer = KVTransfer(bytes_per_token=1e6, bandwidth_bytes_per_s=1e9, latency_s=0.01)
    r = DisaggregatedEngine(
        step_model=LINEAR, prefill_config=roomy(), decode_config=roomy(), transfer=xfer
    ).run(wl, make_scheduler("fcfs"))
    b0, b1, b2 = LINEAR.beta0_s, LINEAR.beta1_s_per_prefill_token, LINEAR.beta2_s_per_decode_token
    ttft = b0 + b1 * p
    transfer = 0.01 + p * 1e6 / 1e9
    # the decode pool: one step to take the KV (emits token 2), then o − 2 decode steps alone
    assert r.first_token_s[0] == pytest.approx(ttft)
    assert r.finish_s[0] == pytest.approx(ttft + transfer + b0 + (o - 2) * (b0 + b2))
    assert r.decode_tokens == pytest.approx(o - 2)  # the join step emits token 2 without a decode slot


def test_every_request_finishes_once_and_tokens_are_conserved() -> None:
    wl = small_mix(seed=4, rate=4.0)
    r = DisaggregatedEngine(step_model=LINEAR, prefill_config=roomy(), decode_config=roomy()).run(
        wl, make_scheduler("fcfs")
    )
    assert (r.status == COMPLETED).all()
    assert np.all(r.finish_s >= r.first_token_s) and np.all(r.first_token_s > wl.arrival_s)
    assert r.prefill_tokens == int(wl.prompt_tokens.sum())
    multi = wl.output_tokens > 1
    # decode slots: every token after the first two of each multi-token request
    assert r.decode_tokens == pytest.approx(float((wl.output_tokens[multi] - 2).sum()))


def test_disaggregation_removes_prefill_interference_from_decode_steps() -> None:
    wl = small_mix(seed=5, duration_s=60.0, rate=8.0)
    colo = summarize(Engine(step_model=LINEAR).run(wl, make_scheduler("fcfs")))
    split = summarize(DisaggregatedEngine(step_model=LINEAR).run(wl, make_scheduler("fcfs")))
    assert split["itl_p99_s"] < colo["itl_p99_s"]
    assert split["completed"] == colo["completed"] == len(wl)


def test_bad_transfer_parameters_are_rejected() -> None:
    with pytest.raises(ValidationError, match="bandwidth_bytes_per_s > 0"):
        KVTransfer(bandwidth_bytes_per_s=0.0)
    with pytest.raises(ValidationError, match="latency_s > 0"):
        KVTransfer(latency_s=0.0)
    with pytest.raises(ValidationError, match="handoff_limit"):
        DisaggregatedEngine(handoff_limit=0)


def test_transfer_bytes_come_from_the_model_footprint() -> None:
    # llama-3.1-8b: 2 · 32 layers · 4096 · 8/32 KV heads · 2 bytes; llama2-70b: 2 · 80 · 8192 · 8/64 · 2
    assert KVTransfer().bytes_per_token == LLAMA31_8B.bytes_per_token == 131_072
    x = KVTransfer.for_model(LLAMA2_70B, bandwidth_bytes_per_s=25e9, latency_s=1e-3)
    assert x.bytes_per_token == 2 * 80 * 8192 * 8 / 64 * 2
    assert x.seconds(np.array([1000]))[0] == pytest.approx(1e-3 + 1000 * 327_680 / 25e9)


def test_hand_computation_ttft_is_the_prefill_and_the_decode_starts_when_the_kv_lands() -> None:
    p, o = 1000, 20
    wl = make_workload("one", [0.0], [p], [o])
    xfer = KVTransfer.for_model(LLAMA31_8B, bandwidth_bytes_per_s=1e9, latency_s=0.01)
    eng = DisaggregatedEngine(step_model=LINEAR, prefill_config=roomy(), decode_config=roomy(), transfer=xfer)
    r, st = eng.run_with_stats(wl, make_scheduler("fcfs"))
    b0, b1, b2 = LINEAR.beta0_s, LINEAR.beta1_s_per_prefill_token, LINEAR.beta2_s_per_decode_token
    prefill = b0 + b1 * p
    transfer = 0.01 + p * 131_072 / 1e9
    assert r.first_token_s[0] == pytest.approx(prefill)  # TTFT: the prefill pool emits token 1
    assert st.landed_s[0] == pytest.approx(prefill + transfer)
    assert st.handoff_wait_s[0] == pytest.approx(0.0)  # an idle decode pool admits it as it lands
    # token 2 in the join step (a decode step: the shipped KV costs no compute), then o − 2 decodes
    assert r.finish_s[0] == pytest.approx(prefill + transfer + b0 + (o - 2) * (b0 + b2))
    assert st.recompute_tokens == 0 and st.gated_s == 0.0


def test_the_prefill_pool_holds_the_kv_until_the_transfer_lands() -> None:
    # room in the prefill pool for one 1,000-token prompt (63 of 100 blocks): the second prompt can
    # only start when the first one's KV has landed in the decode pool and been freed
    p = 1000
    wl = make_workload("two", [0.0, 0.0], [p, p], [5, 5])
    xfer = KVTransfer(bytes_per_token=1e6, bandwidth_bytes_per_s=1e9, latency_s=0.01)  # 1.01 s
    pre = EngineConfig(kv_blocks=100, prefix_cache=False, max_batched_tokens=4096)
    r, st = DisaggregatedEngine(
        step_model=LINEAR, prefill_config=pre, decode_config=roomy(), transfer=xfer
    ).run_with_stats(wl, make_scheduler("fcfs"))
    b0, b1 = LINEAR.beta0_s, LINEAR.beta1_s_per_prefill_token
    prefill, transfer = b0 + b1 * p, 0.01 + p * 1e6 / 1e9
    assert r.first_token_s[0] == pytest.approx(prefill)
    land0 = prefill + transfer
    assert st.landed_s[0] == pytest.approx(land0)
    assert r.first_token_s[1] == pytest.approx(land0 + prefill)  # not prefill + prefill: KV was held
    # one link: the second transfer starts when its prompt is done (the link is free by then)
    assert st.landed_s[1] == pytest.approx(land0 + prefill + transfer)
    assert st.held_peak_requests == 1 and st.held_peak_blocks == 63


def test_a_decode_pool_preemption_pays_the_recompute_at_the_step_models_prefill_cost() -> None:
    wl = small_mix(seed=7, duration_s=30.0, rate=12.0)
    eng = DisaggregatedEngine(
        step_model=LINEAR,
        prefill_config=roomy(),
        decode_config=EngineConfig(kv_blocks=2000, max_num_seqs=64),
        transfer=KVTransfer(latency_s=1e-3),
    )
    r, st = eng.run_with_stats(wl, make_scheduler("fcfs"))
    assert (r.status == COMPLETED).all() and r.preemptions.sum() > 0
    assert st.recompute_tokens > 0
    assert r.prefill_tokens == int(wl.prompt_tokens.sum()) + st.recompute_tokens
    # every step of both pools costs β0 + β1·(charged prefill tokens) + β2·(decode tokens): the
    # recompute is in the prefill term (free, the busy time would be β1·recompute short)
    b0, b1, b2 = LINEAR.beta0_s, LINEAR.beta1_s_per_prefill_token, LINEAR.beta2_s_per_decode_token
    assert r.busy_s == pytest.approx(b0 * r.steps + b1 * r.prefill_tokens + b2 * r.decode_tokens, rel=1e-9)
    assert b1 * st.recompute_tokens > 1e-3 * r.busy_s  # and it is not a rounding matter


def _overload(no_gate: bool, seed: int = 7) -> tuple[tuple[RunResult, DisaggStats], Workload]:
    wl = small_mix(seed=seed, duration_s=60.0, rate=20.0)
    eng = DisaggregatedEngine(
        step_model=LINEAR,
        prefill_config=EngineConfig(kv_blocks=3000, prefix_cache=False),
        decode_config=EngineConfig(kv_blocks=2000, max_num_seqs=32),
        handoff_limit=8,
        no_gate=no_gate,
    )
    return eng.run_with_stats(wl, make_scheduler("fcfs")), wl


def test_conservation_every_request_once_and_no_kv_leaks_under_overload() -> None:
    for no_gate in (False, True):
        (r, st), wl = _overload(no_gate)
        assert (r.status == COMPLETED).all()
        assert np.all(r.finish_s >= r.first_token_s) and np.all(r.first_token_s > wl.arrival_s)
        shipped = wl.output_tokens > 1
        assert np.isfinite(st.landed_s[shipped]).all() and np.isnan(st.landed_s[~shipped]).all()
        assert np.all(st.handoff_wait_s[shipped] >= -1e-12)
        assert np.all(st.landed_s[shipped] >= r.first_token_s[shipped])
        assert st.held_end == 0 and st.prefill_private_blocks_end == 0 and st.decode_blocks_end == 0
        # tokens: every prompt once in the prefill pool, plus the decode pool's recomputes
        assert r.prefill_tokens == int(wl.prompt_tokens.sum()) + st.recompute_tokens


def test_back_pressure_is_visible_under_overload() -> None:
    (_, sg), _ = _overload(no_gate=False)
    (free, sf), _ = _overload(no_gate=True)
    # the decode pool (32 sequences) cannot keep up: the gate closes the prefill pool's admission ...
    assert sg.gated_s > 1.0 and sf.gated_s == 0.0
    # ... so at most one prefill step's prompts beyond the limit wait for it, against a prefill pool
    # filled to its KV capacity with prompts nobody can decode yet without the gate
    assert sg.held_peak_requests <= 8 + EngineConfig().max_num_seqs
    assert sf.held_peak_requests > 2 * sg.held_peak_requests
    assert sf.held_peak_blocks > 0.9 * 3000
    # and without the gate the full prefill pool is priced: the KV price is on while its head waits
    kv = np.array([s.kv_usd_per_block_s for s in free.prices])
    assert (kv > 0).mean() > 0.5
