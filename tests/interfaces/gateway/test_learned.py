"""The learned gateway policy (registry, contract, feedback) and off-policy welfare from ledger rows."""

from __future__ import annotations

import numpy as np
import pytest

from tokenomy.core.errors import ValidationError
from tokenomy.core.prices import PriceVector
from tokenomy.interfaces.gateway.learned import (
    LearnedPolicy,
    fixed_target,
    greedy_target,
    offpolicy_welfare,
    steps_from_ledger,
)
from tokenomy.interfaces.gateway.policy import Candidate, PolicySpec, RouteContext, make_policy
from tokenomy.ledger.layers import Layer
from tokenomy.ledger.records import Candidate as LedgerCandidate
from tokenomy.ledger.records import Decision, Outcome

CANDS = (Candidate("cheap", 1e-6, 0.1, 0.0), Candidate("strong", 3e-6, 0.2, 0.0))
SPEC = PolicySpec(quality_prior={"cheap": 0.5, "strong": 0.5}, epsilon=0.2)
EASY, HARD = "Answer with the number only.\nWhat is 2 + 3?", "Answer with the number only.\nWhat is 84 * 97?"


def _truth(prompt: str, model: str) -> float:
    return 1.0 if (prompt == EASY or model == "strong") else 0.0


def test_learned_is_registered_and_learns_which_model_to_serve() -> None:
    policy = make_policy("learned", SPEC)
    assert isinstance(policy, LearnedPolicy)
    rng = np.random.default_rng(0)
    prices = PriceVector(v_usd=2e-5)  # the strong model pays off where it is > 0.1 better
    for i in range(200):
        prompt = EASY if i % 2 else HARD
        ch = policy.choose(RouteContext(f"r{i}", prompt, prices, CANDS), rng)
        assert set(ch.ranking) == {"cheap", "strong"} and 0 < ch.propensity <= 1
        policy.feedback(f"r{i}", ch.ranking[0], _truth(prompt, ch.ranking[0]), 0.0)
    greedy = LearnedPolicy(router=policy.router)  # same estimates
    greedy.router.epsilon = 0.0
    assert greedy.choose(RouteContext("e", EASY, prices, CANDS), rng).ranking[0] == "cheap"
    assert greedy.choose(RouteContext("h", HARD, prices, CANDS), rng).ranking[0] == "strong"
    with pytest.raises(ValidationError, match="takes no argument"):
        make_policy("learned:x", SPEC)


def test_feedback_for_an_unknown_request_is_ignored() -> None:
    policy = make_policy("learned", SPEC)
    assert isinstance(policy, LearnedPolicy)
    before = policy.router.b_.copy()
    policy.feedback("never-seen", "cheap", 1.0, 0.0)
    np.testing.assert_array_equal(before, policy.router.b_)


def _ledger(n: int, seed: int) -> tuple[list[Decision], list[Outcome]]:
    policy = make_policy("learned", SPEC)
    rng = np.random.default_rng(seed)
    prices = PriceVector(v_usd=1e-4, lam_usd_per_s=1e-6)
    decisions, outcomes = [], []
    for i in range(n):
        prompt = EASY if rng.random() < 0.5 else HARD
        ctx = RouteContext(f"r{i}", prompt, prices, CANDS)
        ch = policy.choose(ctx, rng)
        order = [c.name for c in CANDS]
        cands = tuple(
            LedgerCandidate(
                c.name,
                dq=ch.est_quality[ch.ranking.index(c.name)],
                dc_usd=c.est_cost_usd,
                dl_s=c.est_latency_s,
                surplus_usd=ch.est_surplus_usd[ch.ranking.index(c.name)],
            )
            for c in CANDS
        )
        served = ch.ranking[0]
        decisions.append(
            Decision(
                f"r{i}", Layer.DEMAND, "route", cands, order.index(served), prices, propensity=ch.propensity
            )
        )
        q = _truth(prompt, served)
        cand = CANDS[order.index(served)]
        outcomes.append(Outcome(f"r{i}", q, cand.est_cost_usd, cand.est_latency_s))
        policy.feedback(f"r{i}", served, q, 0.0)
    return decisions, outcomes


def test_offpolicy_welfare_of_a_fixed_model_covers_its_true_welfare() -> None:
    decisions, outcomes = _ledger(1500, seed=1)
    steps = steps_from_ledger(decisions, outcomes)
    assert len(steps) == len(decisions)
    v, lam = 1e-4, 1e-6
    truth = {
        "strong": v * 1.0 - 3e-6 - lam * 0.2,
        "cheap": v * 0.5 - 1e-6 - lam * 0.1,
    }
    for model, value in truth.items():
        est = offpolicy_welfare(steps, fixed_target(model))
        assert set(est) == {"ips", "snips", "dr"}
        for e in est.values():
            assert e.ci_low - 1e-12 <= value <= e.ci_high + 1e-12, (model, e)
    # the two fixed policies are told apart (the estimate can fail)
    assert not offpolicy_welfare(steps, fixed_target("cheap"))["dr"].covers(truth["strong"])
    greedy = offpolicy_welfare(steps, greedy_target())["dr"]
    assert greedy.value > truth["cheap"]


def test_steps_skip_decisions_without_an_outcome_and_bad_targets_raise() -> None:
    decisions, outcomes = _ledger(20, seed=2)
    steps = steps_from_ledger(decisions, outcomes[:10])
    assert len(steps) == 10
    with pytest.raises(ValidationError, match="not a candidate"):
        offpolicy_welfare(steps, fixed_target("nope"))
    with pytest.raises(ValidationError, match="at least one"):
        offpolicy_welfare([], fixed_target("cheap"))


def test_steps_sum_the_gateways_serve_and_feedback_rows_and_skip_ungraded_requests() -> None:
    prices = PriceVector(v_usd=2.0, lam_usd_per_s=0.5)
    cands = (LedgerCandidate("cheap", 0.5, 0.1, 1.0), LedgerCandidate("strong", 0.8, 0.3, 2.0))
    decisions = [Decision(r, Layer.DEMAND, "route", cands, 1, prices, propensity=0.9) for r in ("a", "b")]
    outcomes = [
        Outcome("a", 0.0, 0.25, latency_s=1.5, candidate="strong", metadata={"graded": False}),
        Outcome("a", 1.0, 0.0, candidate="strong", metadata={"graded": True}),
        Outcome("b", 0.0, 0.25, latency_s=1.5, candidate="strong", metadata={"graded": False}),
    ]
    steps = steps_from_ledger(decisions, outcomes)
    assert [s.request_id for s in steps] == ["a"]
    assert steps[0].reward_usd == pytest.approx(2.0 * 1.0 - 0.25 - 0.5 * 1.5)
    assert steps[0].est_reward_usd == pytest.approx((2 * 0.5 - 0.1 - 0.5, 2 * 0.8 - 0.3 - 1.0))


def test_learned_takes_per_context_exploration_from_routing_options() -> None:
    spec = PolicySpec(
        quality_prior={"cheap": 0.5, "strong": 0.5},
        epsilon=0.2,
        options={"epsilon_min": "0.02", "explore_z": "3"},
    )
    policy = make_policy("learned", spec)
    assert isinstance(policy, LearnedPolicy)
    assert policy.router.epsilon_min == 0.02 and policy.router.explore_z == 3.0
    assert make_policy("learned", SPEC).router.epsilon_min is None  # type: ignore[attr-defined]
    bad = PolicySpec(quality_prior={"cheap": 0.5}, epsilon=0.2, options={"epsilon_min": "lots"})
    with pytest.raises(ValidationError, match="epsilon_min must be a number"):
        make_policy("learned", bad)
    with pytest.raises(ValidationError, match="epsilon_min"):
        make_policy(
            "learned", PolicySpec(quality_prior={"a": 0.5}, epsilon=0.1, options={"epsilon_min": "0.5"})
        )
