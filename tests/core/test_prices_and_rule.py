"""Prices, token uses and the Eq. 1 rule: the worked example exactly, validation, vectorised = scalar."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tokenomy.core import (
    NULL,
    PriceSource,
    PriceVector,
    TokenUse,
    ValidationError,
    choose,
    choose_many,
    crossover_value,
    surplus,
    surplus_matrix,
)

CHEAP, FRONTIER = TokenUse("cheap", 0.7, 1.0), TokenUse("frontier", 0.9, 5.0)


@pytest.mark.parametrize(
    ("v", "cheap", "frontier", "winner"), [(10, 6.0, 4.0, "cheap"), (100, 69.0, 85.0, "frontier")]
)
def test_worked_example_surpluses_and_choice_are_exact(
    v: float, cheap: float, frontier: float, winner: str
) -> None:
    c = choose([CHEAP, FRONTIER], PriceVector(v_usd=v))
    assert c.surpluses_usd == (cheap, frontier)
    assert c.name == winner


def test_worked_example_crossover_is_20_and_moves_to_10_with_priced_risk() -> None:
    assert crossover_value(CHEAP, FRONTIER, PriceVector()) == 20.0
    risky = TokenUse("cheap", 0.7, 1.0, dr=0.05), TokenUse("frontier", 0.9, 5.0, dr=0.01)
    prices = PriceVector(rho_usd=50.0)
    assert crossover_value(*risky, prices) == 10.0
    plain = choose([CHEAP, FRONTIER], PriceVector(v_usd=10)).surpluses_usd
    priced = choose(list(risky), prices.with_prices(v_usd=10)).surpluses_usd
    assert (plain[0] - plain[1]) - (priced[0] - priced[1]) == pytest.approx(2.0, abs=1e-12)


def test_null_option_chosen_when_no_surplus_is_positive() -> None:
    c = choose([CHEAP, FRONTIER], PriceVector(v_usd=1.0))
    assert c.index is None and not c.spends and c.surplus_usd == 0.0
    assert choose([], PriceVector(v_usd=5)).index is None
    # a tie with the null option goes to the null option: a use must strictly pay for itself
    assert choose([TokenUse("x", 0.5, 1.0)], PriceVector(v_usd=2.0)).index is None


def test_irreversible_harm_is_priced_at_rho_irr_in_total_and_the_rest_at_rho() -> None:
    # dr = 0.1 of which 0.04 irreversible: 0.06 at ρ = 10 and 0.04 at ρ_irr = 40
    use = TokenUse("deploy", 1.0, 0.0, dr=0.1, dr_irr=0.04)
    p = PriceVector(v_usd=10, rho_usd=10, rho_irr_usd=40)
    assert surplus(use, p) == pytest.approx(10 - 0.6 - 1.6)
    # the default ρ_irr = ρ adds no premium: irreversible harm then costs what any harm costs
    assert surplus(use, PriceVector(v_usd=10, rho_usd=10)) == pytest.approx(10 - 1.0)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -1.0, "x"])
@pytest.mark.parametrize("field", ["v_usd", "lam_usd_per_s", "rho_usd", "rho_irr_usd"])
def test_price_vector_rejects_nan_infinite_and_negative(field: str, bad: object) -> None:
    with pytest.raises(ValidationError, match=field):
        PriceVector(**{field: bad})  # type: ignore[arg-type]


def test_price_vector_defaults_rho_irr_to_rho_and_rejects_less() -> None:
    assert PriceVector(rho_usd=3).rho_irr == 3
    with pytest.raises(ValidationError, match="ρ_irr"):
        PriceVector(rho_usd=3, rho_irr_usd=2)
    with pytest.raises(ValidationError, match="v_source"):
        PriceVector(v_source="guess")  # type: ignore[arg-type]
    p = PriceVector(v_usd=1).with_prices(PriceSource.DISCOVERED, lam_usd_per_s=0.5)
    assert p.lam_source is PriceSource.DISCOVERED and p.v_source is PriceSource.DEFAULT


@pytest.mark.parametrize("field", ["dc_usd", "dl_s", "dr", "dr_irr"])
@pytest.mark.parametrize("bad", [math.nan, -0.1, math.inf])
def test_token_use_rejects_bad_costs(field: str, bad: float) -> None:
    with pytest.raises(ValidationError, match=field):
        TokenUse("u", 0.5, **{field: bad})


def test_token_use_rejects_irreversible_part_larger_than_risk_and_nan_quality() -> None:
    with pytest.raises(ValidationError, match="dr_irr"):
        TokenUse("u", 0.5, dr=0.1, dr_irr=0.2)
    with pytest.raises(ValidationError, match="dq"):
        TokenUse("u", math.nan)
    with pytest.raises(ValidationError, match="risk_measure"):
        TokenUse("u", 0.1, risk_measure="vibes")


finite = st.floats(0, 100, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 8), st.integers(1, 6), st.integers(0, 10_000), st.floats(0, 1), st.floats(0, 5))
def test_vectorised_choice_equals_scalar_choice(n: int, m: int, seed: int, lam: float, rho: float) -> None:
    rng = np.random.default_rng(seed)
    v = rng.exponential(10, n)
    dq, dc, dl, dr = rng.random((n, m)), rng.random((n, m)) * 3, rng.random(m), rng.random((n, m)) * 0.1
    idx, best = choose_many(v, dq, dc, dl, dr, lam_usd_per_s=lam, rho_usd=rho)
    for i in range(n):
        uses = [TokenUse(f"u{j}", dq[i, j], dc[i, j], dl[j], dr[i, j]) for j in range(m)]
        c = choose(uses, PriceVector(v_usd=v[i], lam_usd_per_s=lam, rho_usd=rho))
        assert (NULL if c.index is None else c.index) == idx[i]
        assert best[i] == pytest.approx(c.surplus_usd, rel=1e-12, abs=1e-12)


def test_vectorised_rule_validates_inputs_with_clear_errors() -> None:
    with pytest.raises(ValidationError, match="dc_usd"):
        choose_many([1.0, 2.0], np.ones((2, 3)), dc_usd=[0.1, -0.2, 0.3])
    with pytest.raises(ValidationError, match="dq"):
        surplus_matrix([1.0], [[math.nan, 1.0]])
    with pytest.raises(ValidationError, match="shape"):
        surplus_matrix([1.0, 2.0, 3.0], np.ones((2, 3)))
    with pytest.raises(ValidationError, match="λ"):
        surplus_matrix([1.0], np.ones((1, 2)), lam_usd_per_s=-1)


def test_per_request_v_and_per_request_prices_broadcast() -> None:
    dq = np.array([0.7, 0.9])
    dc = np.array([1.0, 5.0])
    idx, best = choose_many([1.0, 10.0, 100.0], dq, dc)
    assert idx.tolist() == [NULL, 0, 1]
    assert best.tolist() == [0.0, 6.0, 85.0]
    idx, _ = choose_many([100.0, 100.0], dq, dc, dr=np.array([0.05, 0.01]), rho_usd=np.array([0.0, 2000.0]))
    assert idx.tolist() == [1, 1]
