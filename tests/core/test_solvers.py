"""Equimarginal allocation (Eq. 2/3): budget met, KKT to 1e-6, Cobb–Douglas oracle, monotone in prices."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tokenomy.core import (
    CustomCurve,
    InfeasibleError,
    LogCurve,
    PowerCurve,
    SatExpCurve,
    ValidationError,
    allocate,
    cobb_douglas_allocation,
)


def _curve(kind: int, a: float, s: float) -> LogCurve | PowerCurve | SatExpCurve:
    if kind == 0:
        return LogCurve(scale=a, shift=s)
    if kind == 1:
        return PowerCurve(scale=a, exponent=min(0.9, max(0.1, s / 1000)))
    return SatExpCurve(scale=a, rate_tokens=s)


curve_params = st.lists(
    st.tuples(st.integers(0, 2), st.floats(0.05, 5.0), st.floats(1.0, 900.0), st.floats(1e-4, 1e-1)),
    min_size=1,
    max_size=6,
)


@settings(max_examples=80, deadline=None)
@given(curve_params, st.floats(0.01, 50.0), st.floats(1.0, 100.0))
def test_budgeted_allocation_meets_budget_and_kkt(
    params: list[tuple[int, float, float, float]], budget: float, v: float
) -> None:
    curves = [_curve(k, a, s) for k, a, s, _ in params]
    cost = np.array([c for *_, c in params])
    al = allocate(curves, cost, v_usd=v, budget_usd=budget)
    assert al.spend_usd <= budget * (1 + 1e-9)
    assert al.residuals.stationarity <= 1e-6
    assert al.residuals.primal <= 1e-9
    assert al.residuals.complementary <= 1e-6
    assert np.all(al.tokens >= 0)
    # Eq. 2: every funded use has V·Q'(t) equal to μ_C·p, every unfunded one V·Q'(0) ≤ μ_C·p
    for curve, t, p in zip(curves, al.tokens, cost, strict=True):
        if t > 0:
            assert v * curve.deriv(t) == pytest.approx(al.mu_c * p, rel=1e-6)
        else:
            assert v * curve.deriv(0.0) <= al.mu_c * p * (1 + 1e-9)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.floats(0.05, 3.0), st.floats(1e-3, 10.0)), min_size=1, max_size=8),
    st.floats(0.1, 1e4),
)
def test_allocation_matches_cobb_douglas_closed_form(terms: list[tuple[float, float]], budget: float) -> None:
    alpha = np.array([a for a, _ in terms])
    price = np.array([p for _, p in terms])
    al = allocate([LogCurve(scale=a, shift=0.0) for a in alpha], price, budget_usd=budget)
    np.testing.assert_allclose(al.tokens, cobb_douglas_allocation(alpha, price, budget), rtol=1e-9)


@settings(max_examples=60, deadline=None)
@given(curve_params, st.integers(0, 5), st.floats(1.01, 4.0), st.floats(0.5, 20.0))
def test_allocation_is_monotone_in_own_price(
    params: list[tuple[int, float, float, float]], which: int, factor: float, budget: float
) -> None:
    curves = [_curve(k, a, s) for k, a, s, _ in params]
    cost = np.array([c for *_, c in params])
    i = which % len(curves)
    dearer = cost.copy()
    dearer[i] *= factor
    for kw in ({"budget_usd": budget}, {}):
        base = allocate(curves, cost, v_usd=10.0, **kw).tokens[i]
        after = allocate(curves, dearer, v_usd=10.0, **kw).tokens[i]
        assert after <= base * (1 + 1e-9) + 1e-12


def test_priced_allocation_sets_marginal_value_equal_to_full_price() -> None:
    curves = [LogCurve(1.0, 100.0), SatExpCurve(2.0, 500.0), PowerCurve(0.5, 0.5)]
    c, l, r = np.array([1e-3, 2e-3, 1e-3]), np.array([0.01, 0.0, 0.02]), np.array([0.0, 1e-4, 0.0])
    al = allocate(
        curves, c, latency_s_per_token=l, risk_per_token=r, v_usd=5.0, lam_usd_per_s=0.1, rho_usd=2.0
    )
    p = c + 0.1 * l + 2.0 * r
    np.testing.assert_allclose(al.full_price_usd, p)
    for curve, t, price in zip(curves, al.tokens, p, strict=True):
        assert t == 0 or 5.0 * curve.deriv(t) == pytest.approx(price, rel=1e-9)
    assert al.mu_c == 1.0 and al.lam_usd_per_s == 0.1 and al.rho_usd == 2.0


@settings(max_examples=40, deadline=None)
@given(st.floats(0.02, 0.5), st.floats(0.5, 40.0), st.floats(1e-3, 0.05))
# budget and risk cap bind on the same funded use: the joint Newton step is singular there
@example(budget=0.033435635425716786, lat_cap=1.0, risk_cap=0.001)
def test_latency_and_risk_caps_give_multipliers_and_implied_prices(
    budget: float, lat_cap: float, risk_cap: float
) -> None:
    curves = [SatExpCurve(1.0, 100.0), LogCurve(2.0, 10.0), PowerCurve(1.0, 0.5)]
    c, l, r = [0.01, 0.02, 0.01], [0.001, 0.002, 0.0005], [1e-4, 0.0, 3e-4]
    al = allocate(
        curves,
        c,
        latency_s_per_token=l,
        risk_per_token=r,
        v_usd=5.0,
        budget_usd=budget,
        latency_cap_s=lat_cap,
        risk_cap=risk_cap,
    )
    assert al.residuals.max <= 1e-6
    assert al.spend_usd <= budget * (1 + 1e-9)
    assert al.latency_s <= lat_cap * (1 + 1e-9) and al.risk <= risk_cap * (1 + 1e-9)
    if al.mu_c > 0:
        assert al.lam_usd_per_s == pytest.approx(al.mu_l / al.mu_c)
        assert al.rho_usd == pytest.approx(al.mu_r / al.mu_c)
    # complementary slackness: a slack constraint has price 0
    if al.latency_s < lat_cap * (1 - 1e-6):
        assert al.mu_l == 0.0
    if al.risk < risk_cap * (1 - 1e-6):
        assert al.mu_r == 0.0


def test_custom_curve_agrees_with_closed_form() -> None:
    closed = allocate([LogCurve(2.0, 50.0), LogCurve(1.0, 10.0)], [0.01, 0.02], budget_usd=3.0)
    custom = allocate(
        [CustomCurve(lambda t: 2.0 / (50.0 + t)), CustomCurve(lambda t: 1.0 / (10.0 + t))],
        [0.01, 0.02],
        budget_usd=3.0,
    )
    np.testing.assert_allclose(custom.tokens, closed.tokens, rtol=1e-8)
    assert math.isnan(custom.value)


def test_bad_solver_inputs_raise_clear_errors() -> None:
    with pytest.raises(ValidationError, match="cost_usd_per_token"):
        allocate([LogCurve(1.0)], [-1.0], budget_usd=1.0)
    with pytest.raises(ValidationError, match="one entry per curve"):
        allocate([LogCurve(1.0), LogCurve(1.0)], [1.0, 1.0, 1.0], budget_usd=1.0)
    with pytest.raises(InfeasibleError, match="unbounded"):
        allocate([PowerCurve(1.0, 0.5)], [0.0])
    with pytest.raises(ValidationError, match="either"):
        allocate([LogCurve(1.0)], [1.0], latency_s_per_token=[1.0], latency_cap_s=1.0, lam_usd_per_s=0.1)
    with pytest.raises(ValidationError, match="exponent"):
        PowerCurve(1.0, 1.5)
    with pytest.raises(ValidationError, match="V"):
        allocate([LogCurve(1.0)], [1.0], v_usd=math.nan)


def test_degenerate_caps_on_one_funded_use_pick_the_binding_one() -> None:
    # Only the power curve is funded (Q'(0) = ∞); budget and latency both cap the same variable and only
    # the tighter one may bind (a joint Newton step is singular here; active-set enumeration is not).
    curves = [LogCurve(2.24, 857.65), PowerCurve(0.55, 0.853), SatExpCurve(4.3, 687.6)]
    al = allocate(
        curves,
        [0.0228, 0.0421, 0.0174],
        latency_s_per_token=[0.0029, 0.00954, 0.00145],
        v_usd=76.9,
        budget_usd=41.06,
        latency_cap_s=9.0,
    )
    assert al.residuals.max <= 1e-9
    assert al.latency_s == pytest.approx(9.0)
    assert al.spend_usd < 41.06 and al.mu_c == 0.0


def test_slack_budget_with_binding_latency_cap_prices_latency_at_infinity_and_slack_risk_at_zero() -> None:
    # a budget far above what the latency cap lets anyone spend: μ_C = 0, μ_L > 0, risk cap slack
    al = allocate(
        [LogCurve(1.0, 10.0), LogCurve(1.0, 10.0)],
        [1e-6, 1e-6],
        latency_s_per_token=[0.01, 0.02],
        risk_per_token=[1e-6, 1e-6],
        v_usd=10.0,
        budget_usd=1e6,
        latency_cap_s=1.0,
        risk_cap=1e3,
    )
    assert al.mu_c == 0.0 and al.mu_l > 0.0 and al.mu_r == 0.0
    assert al.lam_usd_per_s == math.inf
    assert al.rho_usd == 0.0  # a slack cap is free, even when money is too (not 0/0 → ∞)
    assert al.latency_s == pytest.approx(1.0, rel=1e-6)
