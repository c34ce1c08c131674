"""Bad input to the core's public API gets one ValidationError naming the field, never a raw error,
a NaN/inf result or a silent coercion (third bad-input hunt: B1, C1, C8)."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from tokenomy.core import (
    LogCurve,
    PowerCurve,
    PriceBus,
    PriceController,
    PriceVector,
    SatExpCurve,
    TokenUse,
    allocate,
    choose,
    choose_many,
    crossover_value,
    risk_cost,
    surplus,
    surplus_matrix,
)
from tokenomy.core.errors import InfeasibleError, ValidationError

P = PriceVector(v_usd=1.0)

BAD_CALLS: dict[str, tuple[Callable[[], Any], str]] = {
    "tokenuse_metadata_none": (lambda: TokenUse("x", 0.1, metadata=None), "metadata"),
    "tokenuse_metadata_list": (lambda: TokenUse("x", 0.1, metadata=[1, 2]), "metadata"),
    "tokenuse_dq_str": (lambda: TokenUse("x", "0.1"), "dq"),
    "pricevector_resources_none": (lambda: PriceVector(v_usd=1, resources=None), "resources"),
    "pricevector_v_str": (lambda: PriceVector(v_usd="1"), "v_usd"),
    "surplus_none_use": (lambda: surplus(None, P), "TokenUse"),
    "surplus_none_prices": (lambda: surplus(TokenUse("x", 0.1), None), "PriceVector"),
    "choose_none": (lambda: choose(None, P), "uses"),
    "choose_str": (lambda: choose("abc", P), "uses"),
    "choose_none_prices": (lambda: choose([TokenUse("x", 0.1)], None), "PriceVector"),
    "surplus_matrix_str_dq": (lambda: surplus_matrix(1.0, "abc"), "dq"),
    "surplus_matrix_str_v": (lambda: surplus_matrix("1", [0.5]), "v_usd"),
    "surplus_matrix_str_dq_unvalidated": (lambda: surplus_matrix(1.0, ["a"], validate=False), "dq"),
    "surplus_matrix_str_cost": (lambda: surplus_matrix(1.0, [0.5], dc_usd="x"), "dc_usd"),
    "logcurve_value_negative": (lambda: LogCurve(1.0).value(-1), "tokens"),
    "logcurve0_value_negative": (lambda: LogCurve(1.0, 0.0).value(-1), "tokens"),
    "powercurve_value_negative": (lambda: PowerCurve(1.0, 0.5).value(-1), "tokens"),
    "satexp_value_nan": (lambda: SatExpCurve(1.0, 10.0).value(math.nan), "tokens"),
    "allocate_none": (lambda: allocate(None, [1]), "curves"),
    "allocate_none_curve": (lambda: allocate([None], [1]), "curves"),
    "allocate_str": (lambda: allocate("ab", [1]), "curves"),
    "controller_sla_str": (lambda: PriceController(sla_p95_s="1"), "sla_p95_s"),
    "controller_eta_str": (lambda: PriceController(sla_p95_s=1.0, eta_lam="0.1"), "eta_lam"),
    "controller_diminishing_str": (lambda: PriceController(sla_p95_s=1.0, diminishing="no"), "diminishing"),
    "controller_envelope_nan": (
        lambda: PriceController(sla_p95_s=1.0, risk_envelope=math.nan),
        "risk_envelope",
    ),
    "bus_subscribe_int": (lambda: PriceBus().subscribe(5), "callback"),
    "bus_subscribe_topic_int": (lambda: PriceBus().subscribe(lambda q: None, topic=5), "topic"),
    "risk_cost_nan": (lambda: risk_cost(math.nan, 0.0, 1.0, 1.0), "dr"),
    "risk_cost_str": (lambda: risk_cost("1", 0.0, 1.0, 1.0), "dr"),
    "risk_cost_irr_above_dr": (lambda: risk_cost(0.1, 5.0, 1.0, 1.0), "dr_irr"),
    "risk_cost_negative_dr": (lambda: risk_cost(-1.0, 0.0, 1.0, 1.0), "dr"),
    "risk_cost_rho_irr_below_rho": (lambda: risk_cost(1.0, 0.5, 2.0, 1.0), "ρ_irr"),
    "risk_cost_rho_inf": (lambda: risk_cost(1.0, 0.5, math.inf, math.inf), "ρ"),
}


@pytest.mark.parametrize("case", sorted(BAD_CALLS))
def test_bad_core_input_is_one_validation_error(case: str) -> None:
    fn, field = BAD_CALLS[case]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValidationError) as err:
            fn()
    assert field in str(err.value)


def test_controller_refuses_str_before_update() -> None:
    with pytest.raises(ValidationError, match="sla_p95_s"):
        PriceController(sla_p95_s="1").update(2.0)


def test_bus_with_bad_subscriber_refused_keeps_publishing() -> None:
    bus = PriceBus()
    with pytest.raises(ValidationError):
        bus.subscribe(5)
    seen: list[object] = []
    bus.subscribe(seen.append)
    bus.publish("t", P, time_s=1.0)
    assert len(seen) == 1


def test_choose_many_without_uses_chooses_null_like_choose() -> None:
    idx, s = choose_many(1.0, np.zeros((3, 0)))
    assert idx.tolist() == [-1, -1, -1]
    assert s.tolist() == [0.0, 0.0, 0.0]
    assert choose([], P).index is None


def test_good_inputs_still_work() -> None:
    u = TokenUse("x", 0.5, dc_usd=0.1, dr=0.2, dr_irr=0.1, metadata={"a": 1})
    p = PriceVector(v_usd=2.0, rho_usd=1.0, rho_irr_usd=3.0)
    assert surplus(u, p) == pytest.approx(1.0 - 0.1 - 0.1 - 0.3)
    assert risk_cost(0.2, 0.1, 1.0, 3.0) == pytest.approx(0.4)
    assert risk_cost(1, 1, 0, 0) == 0.0
    assert choose((u,), p).index == 0
    assert LogCurve(1.0).value(0) == 0.0
    assert PriceController(sla_p95_s=1).update(2.0).lam_usd_per_s == pytest.approx(0.01)


# -- C1: overflow of a product of finite inputs -----------------------------------------------------

OVERFLOWS: dict[str, Callable[[], Any]] = {
    "surplus_inf": lambda: surplus(TokenUse("x", 1e300), PriceVector(v_usd=1e300)),
    "surplus_nan": lambda: surplus(
        TokenUse("x", 1e300, dc_usd=1e308, dl_s=1e308), PriceVector(v_usd=1e300, lam_usd_per_s=1e300)
    ),
    "choose": lambda: choose(
        [TokenUse("a", 1e300), TokenUse("b", 1e300, dc_usd=1)], PriceVector(v_usd=1e300)
    ),
    "surplus_matrix": lambda: surplus_matrix(1e300, [1e300]),
    "surplus_matrix_cost": lambda: surplus_matrix(1.0, [0.5], dl_s=1e300, lam_usd_per_s=1e300),
    "choose_many": lambda: choose_many([1e300, 1.0], [[1e300], [0.5]]),
    "allocate": lambda: allocate([LogCurve(1.0)], [0.01], v_usd=1e308),
    "risk_cost": lambda: risk_cost(1e300, 0.0, 1e300, 1e300),
}


@pytest.mark.parametrize("case", sorted(OVERFLOWS))
def test_overflow_is_a_validation_error_not_inf_or_nan(case: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValidationError, match="overflow"):
            OVERFLOWS[case]()


def test_allocate_free_use_still_reports_unbounded() -> None:
    with pytest.raises(InfeasibleError, match="unbounded"):
        allocate([LogCurve(1.0)], [0.0])


# -- C8: with_prices and ρ_irr ------------------------------------------------------------------------


def test_with_prices_refuses_rho_above_explicit_rho_irr() -> None:
    p = PriceVector(v_usd=1, rho_usd=2, rho_irr_usd=3)
    with pytest.raises(ValidationError, match="rho_irr_usd"):
        p.with_prices(rho_usd=5)
    assert p.with_prices(rho_usd=5, rho_irr_usd=6).rho_irr == 6.0
    assert p.with_prices(rho_usd=2.5).rho_irr == 3.0


def test_with_prices_keeps_default_rho_irr_equal_to_rho() -> None:
    # ρ_irr = None means "equal to ρ" (no premium): raising ρ keeps that reading, as documented.
    p = PriceVector(v_usd=1, rho_usd=2)
    q = p.with_prices(rho_usd=5)
    assert q.rho_usd == 5.0 and q.rho_irr == 5.0


def test_with_prices_refuses_str_price() -> None:
    with pytest.raises(ValidationError, match="v_usd"):
        P.with_prices(v_usd="2")


@pytest.mark.parametrize(
    "fn",
    [
        lambda: LogCurve("1"),
        lambda: LogCurve(1.0, "1"),
        lambda: PowerCurve(1.0, "0.5"),
        lambda: SatExpCurve(1.0, "10"),
        lambda: crossover_value(None, TokenUse("a", 1.0), P),
        lambda: crossover_value(TokenUse("a", 1.0), TokenUse("b", 0.5), None),
    ],
)
def test_curve_parameters_and_crossover_refuse_wrong_types(fn: Callable[[], Any]) -> None:
    with pytest.raises(ValidationError):
        fn()


def test_large_finite_surpluses_whose_sum_overflows_are_kept() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = surplus_matrix([1e200, 1e200], [[1e108], [1e108]])
    assert s.tolist() == [[1e308], [1e308]]
