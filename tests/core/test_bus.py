"""The price bus, resource prices and the one realised-utility function of core."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tokenomy.core import (
    KV_BLOCK_SECOND,
    PREFILL_TOKEN,
    PriceBus,
    PriceSource,
    PriceVector,
    ResourcePrice,
    TokenUse,
    ValidationError,
    realised_utility,
    surplus,
    surplus_matrix,
    utility_terms,
)


def _supply(lam: float, kv: float) -> PriceVector:
    return PriceVector(lam_usd_per_s=lam, lam_source=PriceSource.DISCOVERED).with_resources(
        ResourcePrice(KV_BLOCK_SECOND, kv, "block·s")
    )


def test_resource_prices_carry_unit_source_time_and_are_looked_up_by_name() -> None:
    p = _supply(0.1, 2e-6)
    kv = p.resource(KV_BLOCK_SECOND)
    assert kv is not None and kv.unit == "block·s" and kv.source is PriceSource.DISCOVERED
    assert p.resource(PREFILL_TOKEN) is None and p.resource_usd(PREFILL_TOKEN, 7.0) == 7.0
    # replacing a resource keeps one price per name
    q = p.with_resources(ResourcePrice(KV_BLOCK_SECOND, 5e-6, "block·s"))
    assert len(q.resources) == 1 and q.resource_usd(KV_BLOCK_SECOND) == 5e-6


@pytest.mark.parametrize(
    "kwargs",
    [
        {"resource": "", "usd_per_unit": 1.0, "unit": "token"},
        {"resource": "x", "usd_per_unit": -1.0, "unit": "token"},
        {"resource": "x", "usd_per_unit": math.nan, "unit": "token"},
        {"resource": "x", "usd_per_unit": 1.0, "unit": " "},
        {"resource": "x", "usd_per_unit": 1.0, "unit": "token", "source": "nobody"},
        {"resource": "x", "usd_per_unit": 1.0, "unit": "token", "time_s": math.inf},
    ],
)
def test_resource_price_rejects_bad_values_naming_the_field(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValidationError, match=r"ResourcePrice|usd_per_unit|source|time_s"):
        ResourcePrice(**kwargs)  # type: ignore[arg-type]


def test_price_vector_refuses_a_resource_named_twice() -> None:
    r = ResourcePrice("x", 1.0, "token")
    with pytest.raises(ValidationError, match="twice"):
        PriceVector(resources=(r, r))


def test_bus_keeps_history_and_answers_what_was_in_force_at_a_time() -> None:
    bus = PriceBus()
    for t, lam in [(0.0, 0.1), (5.0, 0.2), (10.0, 0.3)]:
        bus.publish("supply", _supply(lam, 0.0), time_s=t)
    assert [q.prices.lam_usd_per_s for q in bus.history("supply")] == [0.1, 0.2, 0.3]
    at = bus.at("supply", 7.5)
    assert at is not None and at.prices.lam_usd_per_s == 0.2 and at.prices.time_s == 5.0
    assert bus.at("supply", -1.0) is None and bus.at("nobody", 3.0) is None
    latest = bus.latest("supply")
    assert latest is not None and latest.seq == 2


def test_bus_history_is_bounded() -> None:
    bus = PriceBus(history=3)
    for t in range(10):
        bus.publish("supply", _supply(0.1, 0.0), time_s=float(t))
    assert [q.time_s for q in bus.history("supply")] == [7.0, 8.0, 9.0]


def test_bus_subscribers_get_their_topic_until_they_cancel() -> None:
    bus = PriceBus()
    seen: list[float] = []
    everything: list[str] = []
    sub = bus.subscribe(lambda q: seen.append(q.prices.lam_usd_per_s), topic="supply")
    bus.subscribe(lambda q: everything.append(q.topic))
    bus.publish("supply", _supply(0.1, 0.0), time_s=0.0)
    bus.publish("tenant/a", PriceVector(v_usd=3.0, v_source=PriceSource.USER), time_s=0.0)
    sub.cancel()
    bus.publish("supply", _supply(0.2, 0.0), time_s=1.0)
    assert seen == [0.1] and everything == ["supply", "tenant/a", "supply"]


def test_view_overlays_fresh_quotes_and_drops_stale_ones() -> None:
    bus = PriceBus(max_age_s=10.0)
    base = PriceVector(v_usd=1.0, rho_usd=2.0)
    bus.publish("tenant/a", PriceVector(v_usd=30.0, v_source=PriceSource.USER), time_s=0.0)
    bus.publish("supply", _supply(0.5, 1e-6), time_s=8.0)
    fresh = bus.view(base, now_s=9.0)
    # the tenant sets V, supply sets λ and the KV price, ρ stays the base's
    assert (fresh.v_usd, fresh.lam_usd_per_s, fresh.rho_usd) == (30.0, 0.5, 2.0)
    assert fresh.resource_usd(KV_BLOCK_SECOND) == 1e-6 and fresh.time_s == 8.0
    later = bus.view(base, now_s=15.0)  # the tenant quote is 15 s old: stale, dropped
    assert later.v_usd == 1.0 and later.lam_usd_per_s == 0.5
    # a lagged reader sees the bus as it was
    lagged = bus.view(base, now_s=9.0, lag_s=5.0)
    assert lagged.v_usd == 30.0 and lagged.lam_usd_per_s == 0.0


@pytest.mark.parametrize("bad", [{"topic": ""}, {"time_s": math.nan}, {"prices": "x"}])
def test_bus_rejects_bad_publications(bad: dict[str, object]) -> None:
    args: dict[str, object] = {"topic": "supply", "prices": PriceVector(), "time_s": 0.0} | bad
    with pytest.raises(ValidationError):
        PriceBus().publish(args["topic"], args["prices"], time_s=args["time_s"])  # type: ignore[arg-type]


def test_bus_refuses_a_topic_clock_that_runs_back() -> None:
    bus = PriceBus()
    bus.publish("supply", PriceVector(), time_s=5.0)
    with pytest.raises(ValidationError, match="earlier"):
        bus.publish("supply", PriceVector(), time_s=4.0)


def test_realised_utility_is_the_estimated_surplus_read_over_outcomes() -> None:
    rng = np.random.default_rng(3)
    n = 200
    v, q, c, lat = rng.uniform(0, 10, n), rng.uniform(0, 1, n), rng.uniform(0, 1, n), rng.uniform(0, 5, n)
    harm = rng.uniform(0, 1, n)
    harm_irr = harm * rng.uniform(0, 1, n)
    lam, rho = rng.uniform(0, 1, n), rng.uniform(0, 3, n)
    rho_irr = rho + rng.uniform(0, 3, n)
    got = realised_utility(v, q, c, lat, harm, harm_irr, lam_usd_per_s=lam, rho_usd=rho, rho_irr_usd=rho_irr)
    mat = surplus_matrix(
        v, q[:, None], c[:, None], lat[:, None], harm[:, None], harm_irr[:, None],
        lam_usd_per_s=lam, rho_usd=rho, rho_irr_usd=rho_irr,
    )[:, 0]  # fmt: skip
    one = [
        surplus(
            TokenUse("u", q[i], c[i], lat[i], harm[i], harm_irr[i]),
            PriceVector(v_usd=v[i], lam_usd_per_s=lam[i], rho_usd=rho[i], rho_irr_usd=rho_irr[i]),
        )
        for i in range(n)
    ]
    np.testing.assert_allclose(got, mat, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got, one, rtol=1e-12, atol=1e-12)
    terms = utility_terms(v, q, c, lat, harm, harm_irr, lam_usd_per_s=lam, rho_usd=rho, rho_irr_usd=rho_irr)
    np.testing.assert_allclose(terms.risk_cost_usd, rho * (harm - harm_irr) + rho_irr * harm_irr, rtol=1e-12)
