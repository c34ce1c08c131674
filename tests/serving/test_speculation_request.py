"""Per-request speculation: the per-slot rates reproduce the batch mechanism, the Eq. 1 verdict turns
speculation off for a long context, every verdict is a ledger decision, and nothing leaks under
preemption."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import small_mix

from tokenomy.core.errors import ValidationError
from tokenomy.core.rule import surplus_matrix
from tokenomy.ledger import Ledger
from tokenomy.serving.decisions import speculation_batch
from tokenomy.serving.engine import Engine
from tokenomy.serving.entities import EngineConfig, Workload
from tokenomy.serving.result import COMPLETED, RunResult
from tokenomy.serving.schedulers import make_scheduler
from tokenomy.serving.speculation import acceptance, tokens_per_step
from tokenomy.serving.steptime import LinearStepTime
from tokenomy.serving.workloads import make_workload

MODEL = LinearStepTime(0.01, 1e-6, 1e-4)


def test_always_speculating_requests_advance_like_the_batch_rule_by_hand() -> None:
    # alone, a 100-token output at α = 0.8, k = 4: E = 3.3616 tokens a step, ceil(99 / E) = 30 steps
    wl = make_workload("one", [0.0], [100], [100])
    b = Engine(step_model=MODEL, config=EngineConfig(spec_k=4, spec_alpha=0.8)).run(
        wl, make_scheduler("fcfs")
    )
    cfg = EngineConfig(spec_k=4, spec_alpha=0.8, spec_rule="always")
    r = Engine(step_model=MODEL, config=cfg).run(wl, make_scheduler("fcfs"))
    e = tokens_per_step(0.8, 4)
    assert e == pytest.approx(3.3616)
    prefill = 0.01 + 1e-6 * 100
    step = 0.01 + 1e-4 * 5 + 0.1 * 4 * (0.01 + 1e-4)  # verify 5 tokens + 4 draft steps
    assert r.finish_s[0] == pytest.approx(prefill + np.ceil(99 / e) * step)
    assert r.finish_s[0] == pytest.approx(b.finish_s[0]) and r.steps == b.steps
    assert r.spec_requests.shape == (1, 7) and r.spec_requests[0, 2] == 1.0


def test_acceptance_falls_with_context_and_differs_by_class() -> None:
    cfg = EngineConfig(
        spec_k=4, spec_alpha=0.8, spec_alpha_by_tenant=(0.9, 0.5), spec_alpha_halving_tokens=1000
    )
    assert acceptance(cfg, 0, 0.0) == 0.9 and acceptance(cfg, 1, 0.0) == 0.5
    assert acceptance(cfg, 0, 1000.0) == pytest.approx(0.45) and acceptance(cfg, 2, 2000.0) == pytest.approx(
        0.2
    )
    with pytest.raises(ValidationError, match="spec_rule"):
        EngineConfig(spec_rule="sometimes")
    with pytest.raises(ValidationError, match="spec_alpha_by_tenant"):
        EngineConfig(spec_alpha_by_tenant=(1.0,))


def test_the_eq1_verdict_switches_off_for_a_long_context_and_the_ledger_agrees() -> None:
    # same output, same λ; one short prompt, one long: the long context halves α three times over
    # and its verification attends 12,000 tokens, so drafting costs more than it gains
    model = LinearStepTime(0.01, 1e-6, 1e-4, attn_s_per_token_pair=5e-9)
    wl = make_workload("two", [0.0, 5.0], [200, 12_000], [300, 300])
    wl.lam_usd_per_s[:] = 0.01
    cfg = EngineConfig(spec_k=4, spec_alpha=0.8, spec_rule="request", spec_alpha_halving_tokens=4000)
    r = Engine(step_model=model, config=cfg).run(wl, make_scheduler("fcfs"))
    assert (r.status == COMPLETED).all()
    rows = r.spec_requests
    assert rows[:, 1].tolist() == [0.0, 1.0] and rows[:, 2].tolist() == [1.0, 0.0]
    # the short one ran at its rate, the long one a token a step (alone, plain: β0 + β2 per token)
    tpot = (r.finish_s - r.first_token_s) / (wl.output_tokens - 1)
    assert tpot[1] == pytest.approx(0.01 + 1e-4) and tpot[0] < 0.5 * tpot[1]
    batch = speculation_batch(r)
    assert batch is not None and len(batch) == 2 and batch.kind == "speculate"
    s = surplus_matrix(batch.v_usd, batch.dq, batch.dc_usd, batch.dl_s, lam_usd_per_s=batch.lam_usd_per_s)
    assert np.array_equal(np.argmax(s, axis=1), batch.chosen)
    with Ledger(":memory:") as led:
        led.append_batch(batch)
        assert led.count("decisions") == 2


@pytest.mark.parametrize("rule", ["request", "always", "never"])
def test_rates_under_preemption_complete_everything_and_free_all_kv(rule: str) -> None:
    wl = small_mix(seed=3, duration_s=40.0, rate=6.0)
    cfg = EngineConfig(kv_blocks=2500, prefix_cache=False, spec_k=4, spec_alpha=0.7, spec_rule=rule)
    s = Engine(step_model=MODEL, config=cfg).session(make_scheduler("fcfs"), tenant_names=wl.tenant_names)
    s.add_workload(wl)
    r = s.finish()
    assert (r.status == COMPLETED).all() and r.preemptions.sum() > 0
    assert s.kv.used == 0 and s.state.nd == 0 and s.state.n_spec == 0
    assert s.state.r_sum == pytest.approx(0.0, abs=1e-9) and s.state.spec_ctx_s == 0.0
    # each completion emitted its tokens: Σ(out − 1) decode tokens, less the token each readmission's
    # recompute emits, plus at most a step's rate of overshoot per request (fractional rates)
    need, pre = float((wl.output_tokens - 1).sum()), int(r.preemptions.sum())
    assert need - pre <= r.decode_tokens <= need + len(wl) * tokens_per_step(0.7, 4)
    assert (r.spec_requests[:, 2] == (1.0 if rule == "always" else 0.0)).all() or rule == "request"


def test_the_draft_models_fixed_cost_is_paid_by_a_group_that_gains_enough() -> None:
    # λ = 1e-4 USD/s: one request alone gains less from speculating than the draft model's fixed
    # step cost (0.1 · 4 · β0 a step, delaying nobody else but costing GPU time); five decoding
    # together share it, so the rule turns speculation on for the group and re-rates the earlier ones
    def run(n: int) -> tuple[RunResult, Workload]:
        wl = make_workload("g", [0.0] * n, [100] * n, [200] * n)
        wl.lam_usd_per_s[:] = 1e-4
        wl.predicted_output_tokens[:] = 200.0
        cfg = EngineConfig(spec_k=4, spec_alpha=0.8, spec_rule="request")
        return Engine(step_model=MODEL, config=cfg).run(wl, make_scheduler("fcfs")), wl

    alone, _ = run(1)
    assert alone.spec_steps == 0 and alone.spec_requests[:, 2].tolist() == [0.0]
    group, wl = run(5)
    rows = group.spec_requests
    assert group.spec_steps > 0 and (group.status == COMPLETED).all()
    last = {int(q): on for q, on in zip(rows[:, 1], rows[:, 2], strict=True)}
    assert sorted(last) == [0, 1, 2, 3, 4] and all(v == 1.0 for v in last.values())  # all speculate
    assert rows[0, 2] == 0.0  # the first one alone did not
    # faster than never speculating, and each row is an Eq. 1 choice (the fixed cost shared by gain)
    cfg = EngineConfig(spec_k=4, spec_alpha=0.8, spec_rule="never")
    never = Engine(step_model=MODEL, config=cfg).run(wl, make_scheduler("fcfs"))
    assert group.finish_s.max() < 0.5 * never.finish_s.max()
    batch = speculation_batch(group)
    assert batch is not None
    s = surplus_matrix(batch.v_usd, batch.dq, batch.dc_usd, batch.dl_s, lam_usd_per_s=batch.lam_usd_per_s)
    assert np.array_equal(np.argmax(s, axis=1), batch.chosen)
