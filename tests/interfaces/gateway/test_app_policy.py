"""The routing contract: Eq. 1 surplus from the core rule, exact ε-greedy propensities, the registry."""

from __future__ import annotations

import numpy as np
import pytest

from tokenomy.core.errors import ValidationError
from tokenomy.core.prices import PriceVector
from tokenomy.core.rule import surplus
from tokenomy.core.uses import TokenUse
from tokenomy.interfaces.gateway.policy import (
    Candidate,
    FixedPolicy,
    PolicySpec,
    PriorPolicy,
    RouteContext,
    candidate_surplus,
    make_policy,
)

CANDS = (Candidate("cheap", 1.0, 0.0, 0.0), Candidate("strong", 5.0, 0.0, 0.0))
PRIOR = {"cheap": 0.7, "strong": 0.9}


def _ctx(v: float) -> RouteContext:
    return RouteContext("r1", "hi", PriceVector(v_usd=v), CANDS)


def test_prior_policy_reproduces_the_worked_example_crossover() -> None:
    pol = PriorPolicy(quality_prior=PRIOR, epsilon=0.0)
    rng = np.random.default_rng(0)
    low, high = pol.choose(_ctx(10.0), rng), pol.choose(_ctx(100.0), rng)
    assert low.ranking == ("cheap", "strong") and low.est_surplus_usd == pytest.approx((6.0, 4.0))
    assert high.ranking == ("strong", "cheap") and high.est_surplus_usd == pytest.approx((85.0, 69.0))
    assert low.propensity == 1.0 and not low.explored


def test_congestion_price_adds_to_the_request_latency_price() -> None:
    cand = Candidate("m", 0.5, 2.0, 0.25)
    prices = PriceVector(v_usd=10.0, lam_usd_per_s=0.5)
    want = surplus(TokenUse("m", dq=0.8, dc_usd=0.5, dl_s=2.0), prices.with_prices(lam_usd_per_s=0.75))
    assert candidate_surplus(cand, 0.8, prices) == pytest.approx(want)


def test_epsilon_greedy_propensity_matches_the_served_frequency() -> None:
    pol = PriorPolicy(quality_prior=PRIOR, epsilon=0.4)
    rng = np.random.default_rng(7)
    choices = [pol.choose(_ctx(100.0), rng) for _ in range(4000)]
    for name in ("strong", "cheap"):
        served = [c for c in choices if c.ranking[0] == name]
        assert len(served) / len(choices) == pytest.approx(served[0].propensity, abs=0.03)
    assert sorted({round(c.propensity, 9) for c in choices}) == [0.2, 0.8]
    assert all(c.explored == (c.ranking[0] == "cheap") for c in choices)


def test_feedback_moves_the_running_mean() -> None:
    pol = PriorPolicy(quality_prior=PRIOR, epsilon=0.0)
    pol.feedback("r", "strong", 0.0, 0.0)
    assert pol.q_hat("strong") == pytest.approx(0.45)


def test_registry_builds_named_policies_and_refuses_unknown_ones() -> None:
    spec = PolicySpec(quality_prior=PRIOR, epsilon=0.1)
    assert isinstance(make_policy("prior", spec), PriorPolicy)
    fixed = make_policy("fixed:strong", spec)
    assert isinstance(fixed, FixedPolicy)
    assert fixed.choose(_ctx(1.0), np.random.default_rng(0)).ranking[0] == "strong"
    with pytest.raises(ValidationError, match="unknown routing policy"):
        make_policy("nope", spec)
    with pytest.raises(ValidationError, match="names an upstream"):
        make_policy("fixed:ghost", spec)


def test_the_same_seed_gives_the_same_decisions() -> None:
    def run(seed: int) -> list[tuple[str, ...]]:
        pol, rng = PriorPolicy(quality_prior=PRIOR, epsilon=0.3), np.random.default_rng(seed)
        return [pol.choose(_ctx(100.0), rng).ranking for _ in range(200)]

    assert run(3) == run(3) and run(3) != run(4)
