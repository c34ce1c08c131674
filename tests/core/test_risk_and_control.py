"""Risk measures against brute force; the price controller's complementary slackness and determinism."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tokenomy.core import (
    CVaR,
    PriceController,
    PriceSource,
    PriceVector,
    ValidationError,
    cvar,
    expectation,
    priced_use,
    worst_case,
)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(0, 100, allow_nan=False), min_size=1, max_size=60), st.integers(1, 60))
def test_cvar_equals_brute_force_mean_of_worst_tail(values: list[float], k: int) -> None:
    n = len(values)
    k = min(k, n)
    alpha = 1 - k / n
    brute = float(np.mean(sorted(values, reverse=True)[:k]))
    assert cvar(values, alpha) == pytest.approx(brute, rel=1e-9, abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 10), st.integers(1, 5)), min_size=1, max_size=10), st.floats(0, 0.95))
def test_cvar_of_discrete_distribution_equals_cvar_of_expanded_samples(
    atoms: list[tuple[float, int]], alpha: float
) -> None:
    values = np.array([v for v, _ in atoms])
    counts = np.array([c for _, c in atoms])
    expanded = np.repeat(values, counts)
    probs = counts / counts.sum()
    assert cvar(values, alpha, probs) == pytest.approx(cvar(expanded, alpha), rel=1e-9, abs=1e-12)


def test_cvar_limits_and_worst_case() -> None:
    v = [0.0, 0.0, 0.0, 10.0]
    assert cvar(v, 0.0) == pytest.approx(expectation(v)) == pytest.approx(2.5)
    assert cvar(v, 0.75) == pytest.approx(10.0)
    assert worst_case([0.0, 10.0], [[0.9, 0.1], [0.5, 0.5]]) == pytest.approx(5.0)
    with pytest.raises(ValidationError, match="alpha"):
        cvar(v, 1.0)
    with pytest.raises(ValidationError, match="sum to 1"):
        expectation([1.0, 2.0], [0.5, 0.6])
    use = priced_use("delete-remote", 0.2, [0.0, 0.0, 0.0, 100.0], measure=CVaR(0.9), irreversible_share=1.0)
    assert use.dr == pytest.approx(100.0) and use.dr_irr == use.dr and use.risk_measure == "cvar"


def test_controller_price_rises_while_binding_and_decays_to_zero_when_slack() -> None:
    ctl = PriceController(sla_p95_s=2.0, risk_envelope=0.01, eta_lam=0.05, eta_rho=10.0)
    for _ in range(5):
        ctl.update(observed_p95_s=3.0, observed_risk=0.02)
    path = [u.lam_usd_per_s for u in ctl.history_]
    assert path == sorted(path) and path[-1] == pytest.approx(0.25)
    assert ctl.rho_usd_ == pytest.approx(0.5)
    for _ in range(100):
        ctl.update(observed_p95_s=1.0, observed_risk=0.0)
    assert ctl.lam_usd_per_s_ == 0.0 and ctl.rho_usd_ == 0.0  # complementary slackness: slack ⇒ price 0
    zero_at = next(u.step for u in ctl.history_ if u.step > 5 and u.lam_usd_per_s == 0.0)
    assert all(u.lam_usd_per_s == 0.0 for u in ctl.history_ if u.step >= zero_at)
    prices = ctl.prices(PriceVector(v_usd=3.0, v_source=PriceSource.USER))
    assert prices.lam_source is PriceSource.DISCOVERED and prices.v_source is PriceSource.USER


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(0, 10), min_size=1, max_size=30), st.booleans())
def test_controller_is_deterministic(observations: list[float], diminishing: bool) -> None:
    def run() -> list[float]:
        ctl = PriceController(sla_p95_s=2.0, eta_lam=0.1, diminishing=diminishing)
        return [ctl.update(o).lam_usd_per_s for o in observations]

    a, b = run(), run()
    assert a == b and all(x >= 0 for x in a)


def test_controller_rejects_bad_observations() -> None:
    ctl = PriceController(sla_p95_s=1.0)
    with pytest.raises(ValidationError, match="observed_p95_s"):
        ctl.update(math.nan)
    with pytest.raises(ValidationError, match="eta_lam"):
        PriceController(sla_p95_s=1.0, eta_lam=-1.0)
