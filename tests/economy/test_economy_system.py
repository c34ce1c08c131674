"""The composed economy on a small synthetic world: determinism, every configuration, the rule's edges."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from tokenomy.autonomy.features import build_table
from tokenomy.autonomy.stopping import BestStepCap, MarginalStop
from tokenomy.autonomy.trajectory import AgentStep, AgentTrajectory
from tokenomy.core.errors import ValidationError
from tokenomy.core.prices import PriceSource, PriceVector
from tokenomy.economy.configs import CONFIGS, Config, parse_configs
from tokenomy.economy.evaluation import bootstrap_mean, paired_diff, summarise, utility
from tokenomy.economy.policies import SELF_HOSTED, AgentSide, RouterSide
from tokenomy.economy.report_view import verification_chain
from tokenomy.economy.requests import ValueSpec, compose
from tokenomy.economy.training import ServingChoice, Split, run_config, tune_refusal
from tokenomy.serving.engine import Engine
from tokenomy.serving.entities import EngineConfig
from tokenomy.serving.workloads import make_workload

MODELS = (*sorted(SELF_HOSTED), "api-small", "api-large")


def _trajectories(n: int, rng: np.random.Generator) -> list[AgentTrajectory]:
    out = []
    for t in range(n):
        k = int(rng.integers(3, 9))
        iid = f"repo__task-{t}"
        steps = tuple(
            AgentStep(
                instance_id=iid,
                step=s,
                action_class=("read", "edit", "test")[s % 3],
                autonomy_class="read",
                num_prompt_tokens=2000 + 1500 * s,
                num_completion_tokens=200,
                num_reasoning_tokens=0,
                num_cached_tokens=0,
                cost_usd=0.01 * (1 + s),
                returncode=int(rng.integers(0, 2)),
                obs_chars=500,
                obs_truncated=False,
                format_error=False,
                command="ls",
            )
            for s in range(k)
        )
        out.append(
            AgentTrajectory(
                iid, "repo", bool(rng.random() < 0.6), "Submitted", steps, sum(x.cost_usd for x in steps)
            )
        )
    return out


def _world(seed: int = 0) -> tuple[Split, Engine]:
    rng = np.random.default_rng(seed)
    p, m = 40, len(MODELS)
    dq = rng.uniform(0.3, 0.9, (p, m))
    dc = np.tile(np.linspace(1e-4, 5e-3, m), (p, 1))
    quality = (rng.random((p, m)) < dq).astype(float)
    engine = Engine(config=EngineConfig(price_sample_s=1.0))
    router = RouterSide.build(MODELS, dq, dc, quality, dc, tau=0.6, step_model=engine.step_model)
    trajs = _trajectories(24, rng)
    table = build_table(trajs)
    cap, marginal = BestStepCap().fit(table, 2.0), MarginalStop().fit(table, 2.0)
    prompt = np.array([s.num_prompt_tokens for t in trajs for s in t.steps], np.int64)
    out = np.array([s.num_completion_tokens for t in trajs for s in t.steps], np.int64)
    verify = np.array([s.action_class == "test" for t in trajs for s in t.steps], dtype=bool)
    agent = AgentSide(
        table, prompt, out, cap, marginal, float(table.cost_usd.mean()), float(out.mean()), verify
    )
    return Split(router, agent), engine


def _workload(n: int = 120, seed: int = 0, agent_share: float = 0.08):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed + 100)
    arrivals = np.cumsum(rng.exponential(0.2, n))
    trace = make_workload("t", arrivals, rng.integers(200, 3000, n), rng.integers(20, 400, n), seed=seed)
    return compose(
        trace, n_prompts=40, n_trajectories=24, agent_share=agent_share, spec=ValueSpec(), seed=seed
    )


CHOICE = ServingChoice("fcfs", 15.0, math.nan)


def test_same_seed_same_outcomes_for_every_configuration() -> None:
    split, engine = _world()
    wl = _workload()
    for config in CONFIGS.values():
        a = run_config(wl, config, split, engine, CHOICE, seed=3)
        b = run_config(wl, config, split, engine, CHOICE, seed=3)
        np.testing.assert_array_equal(utility(a), utility(b))
        np.testing.assert_array_equal(a.model, b.model)


def test_every_configuration_scores_every_request_with_finite_utility() -> None:
    split, engine = _world()
    wl = _workload().scaled(2.0)
    n = len(wl.chat) + len(wl.agents)
    assert len(wl.agents) > 0
    for config in CONFIGS.values():
        out = run_config(wl, config, split, engine, CHOICE)
        u = utility(out)
        assert u.shape == (n,) and np.all(np.isfinite(u)), config.name
        assert np.all(out.latency_s >= 0) and np.all(out.cost_usd >= 0)
        # an agent task is resolved only when every call of its real trajectory was served
        agents = out.kind == "agent"
        full = out.calls[agents] == split.agent.table.n_calls[wl.agents.traj]
        assert np.all(out.quality[agents][~full] == 0.0)


def test_shared_router_declines_when_no_model_pays_and_local_always_routes() -> None:
    split, engine = _world()
    wl = _workload(agent_share=0.0)
    from dataclasses import replace

    free = replace(wl, chat=replace(wl.chat, v_usd=np.zeros(len(wl.chat))))
    shared = run_config(free, CONFIGS["shared"], split, engine, CHOICE)
    local = run_config(free, CONFIGS["local"], split, engine, CHOICE)
    assert np.all(shared.model == -1) and np.all(utility(shared) == 0.0)
    assert np.all(local.model >= 0) and np.all(utility(local) <= 0.0)


def test_shared_router_matches_core_rule_on_one_request() -> None:
    split, _ = _world()
    r = split.router
    prices = PriceVector(
        v_usd=0.05, v_source=PriceSource.USER, lam_usd_per_s=1e-3, lam_source=PriceSource.SLA
    )
    m = r.shared(3, 500, 100, prices, PriceVector(), 0.0)
    dq, dc, dl = r.terms(3, 500, 100, PriceVector(), 0.0)
    s = 0.05 * dq - dc - 1e-3 * dl
    assert m == (int(np.argmax(s)) if s.max() > 0 else -1)


def test_mispriced_readers_see_scaled_prices_and_change_decisions() -> None:
    split, engine = _world()
    wl = _workload()
    base = run_config(wl, CONFIGS["shared"], split, engine, CHOICE)
    dear = run_config(wl, CONFIGS["misprice-10"], split, engine, CHOICE)
    assert not np.array_equal(base.model, dear.model)
    # ×10 prices can only make the null option more attractive to the router
    assert np.count_nonzero(dear.model == -1) >= np.count_nonzero(base.model == -1)


def test_bus_carries_supply_prices_over_time() -> None:
    split, engine = _world()
    out = run_config(_workload().scaled(4.0), CONFIGS["shared"], split, engine, CHOICE)
    assert out.prices.time_s.size > 5 and np.all(np.diff(out.prices.time_s) > 0)
    assert np.all(out.prices.lam_usd_per_s >= 0) and out.prices.lam_usd_per_s.max() > 0


def test_bootstrap_is_seeded_and_brackets_the_mean() -> None:
    x = np.random.default_rng(1).normal(1.0, 2.0, 300)
    m, lo, hi = bootstrap_mean(x, seed=7)
    assert (m, lo, hi) == bootstrap_mean(x, seed=7)
    assert lo < m < hi
    with pytest.raises(ValidationError, match="n_boot"):
        bootstrap_mean(x, n_boot=10)


def test_paired_difference_of_a_run_with_itself_is_zero() -> None:
    split, engine = _world()
    out = run_config(_workload(), CONFIGS["shared"], split, engine, CHOICE)
    d = paired_diff(1.0, "shared", out, "shared", out)
    assert d.diff == 0.0 and d.ci_low == 0.0 and not d.above_zero
    r = summarise("shared", 1.0, out)
    assert r.ci_low <= r.welfare_per_request <= r.ci_high


def test_parse_configs_orders_local_and_shared_first_and_names_bad_input() -> None:
    assert [c.name for c in parse_configs("stale,shared,local")] == ["local", "shared", "stale"]
    assert len(parse_configs("all")) == len(CONFIGS)
    with pytest.raises(ValidationError, match=r"--configs.*'nope'"):
        parse_configs("local,nope")
    with pytest.raises(ValidationError, match=r"Config\.router"):
        Config("x", router="global")


def test_verification_chain_counts_the_calls_and_splits_every_chat_request_on_the_cluster() -> None:
    split, engine = _world()
    out = run_config(_workload().scaled(3.0), CONFIGS["local"], split, engine, CHOICE)
    ch = verification_chain(out)
    assert ch is not None and out.trace.verify is not None
    steps = [(r, k) for r, k in out.trace.link_rows if k >= 0]
    assert ch.agent_calls == len(steps) and 0 < ch.verify_calls < ch.agent_calls
    # the synthetic runs verify at every third call (read, edit, test, ...)
    assert ch.verify_calls == sum(k % 3 == 2 for _, k in steps)
    assert ch.chat_with + ch.chat_without == len(out.trace.link_rows) - len(steps)
    assert 0 < ch.prompt_share < 1


def test_load_must_be_positive() -> None:
    with pytest.raises(ValidationError, match="load"):
        _workload().scaled(0.0)


def test_refusal_ablations_are_registered_and_deterministic() -> None:
    split, engine = _world()
    wl = _workload()
    for name in ("shared-no-refuse", "local-refuse"):
        a = run_config(wl, CONFIGS[name], split, engine, CHOICE, seed=5)
        b = run_config(wl, CONFIGS[name], split, engine, CHOICE, seed=5)
        np.testing.assert_array_equal(utility(a), utility(b))
        np.testing.assert_array_equal(a.model, b.model)
    assert [c.name for c in parse_configs("local-refuse,shared-no-refuse")] == [
        "local-refuse",
        "shared-no-refuse",
    ]
    assert not CONFIGS["shared-no-refuse"].router_refuses and CONFIGS["local-refuse"].router_refuses
    assert CONFIGS["shared"].router_refuses and not CONFIGS["local"].router_refuses


def test_shared_no_refuse_routes_every_chat_request_even_when_no_model_pays() -> None:
    from dataclasses import replace

    split, engine = _world()
    wl = _workload(agent_share=0.0)
    free = replace(wl, chat=replace(wl.chat, v_usd=np.zeros(len(wl.chat))))
    assert np.all(run_config(free, CONFIGS["shared"], split, engine, CHOICE).model == -1)
    for w in (free, _workload().scaled(2.0)):
        out = run_config(w, CONFIGS["shared-no-refuse"], split, engine, CHOICE)
        assert np.all(out.model[out.kind == "chat"] >= 0)


def test_router_without_null_option_takes_the_core_argmax_even_below_zero() -> None:
    split, _ = _world()
    r = split.router
    for v in (0.0, 1e-4, 0.05):
        prices = PriceVector(
            v_usd=v, v_source=PriceSource.USER, lam_usd_per_s=1e-3, lam_source=PriceSource.SLA
        )
        dq, dc, dl = r.terms(7, 800, 120, PriceVector(), 0.3)
        s = v * dq - dc - 1e-3 * dl
        assert r.shared(7, 800, 120, prices, PriceVector(), 0.3, refuse=False) == int(np.argmax(s))


def test_local_refuse_declines_exactly_the_prompts_above_the_bar() -> None:
    from dataclasses import replace

    split, engine = _world()
    wl = _workload(agent_share=0.0)
    # with no bar (inf) the refusal rule declines nothing: local-refuse is local
    a = run_config(wl, CONFIGS["local"], split, engine, CHOICE)
    b = run_config(wl, CONFIGS["local-refuse"], split, engine, CHOICE)
    np.testing.assert_array_equal(a.model, b.model)
    ratio = split.router.usd_per_quality()
    bar = float(np.median(ratio))
    barred = replace(split, router=replace(split.router, max_usd_per_quality=bar))
    out = run_config(wl, CONFIGS["local-refuse"], barred, engine, CHOICE)
    rows = wl.chat.prompt_row
    above = ratio[rows] > bar
    assert above.any() and (~above).any()
    assert np.all(out.model[above] == -1)
    np.testing.assert_array_equal(out.model[~above], split.router.local_choice[rows[~above]])


def test_refusal_bar_is_the_brute_force_best_on_train() -> None:
    split, _ = _world()
    r = split.router
    rows = np.arange(len(r.local_choice))
    ratio = r.usd_per_quality()
    for v in (1e-3, 4e-3, 1.0):
        w = v * r.quality[rows, r.local_choice] - r.cost_usd[rows, r.local_choice]

        def mean_at(bar: float, w: np.ndarray = w) -> float:
            return float(np.where(ratio > bar, 0.0, w).mean())

        best = max([math.inf, *np.unique(ratio).tolist()], key=mean_at)
        bar = tune_refusal(r, v)
        assert mean_at(bar) == pytest.approx(mean_at(best), abs=1e-12)
        assert bar == math.inf or mean_at(bar) > mean_at(math.inf)
    assert tune_refusal(r, 1.0) == math.inf  # every request pays at V = $1: decline nothing


def test_shared_agent_decisions_see_no_billed_cost_or_output_of_the_call_they_decide() -> None:
    """Inflating call k's billed cost and output tokens moves no ``shared`` decision at calls 0…k."""
    split, _ = _world()
    agent, supply, v = split.agent, PriceVector(), 5.0
    t = max(range(len(agent.table.n_calls)), key=agent.n_calls)
    k = agent.n_calls(t) - 1
    r = agent.row(t, k)
    before = [agent.shared(t, s, v, 0.0, supply, 1.0) for s in range(k + 1)]
    assert before[k], "call k must be one the rule makes, or the check proves nothing"
    cost, out = agent.table.cost_usd.copy(), agent.output_tokens.copy()
    cost[r], out[r] = cost[r] + 10 * v, out[r] * 1000
    # reading the billed cost of call k would refuse it: spent + billed exceeds the budget
    assert agent.table.spent_usd[r] + cost[r] > agent.marginal.budget_usd(v)
    altered = replace(agent, table=replace(agent.table, cost_usd=cost), output_tokens=out, _within_cache={})
    assert [altered.shared(t, s, v, 0.0, supply, 1.0) for s in range(k + 1)] == before
