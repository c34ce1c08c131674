"""The Router: Eq. 4 candidate tables, the null option, route vs route_many, the fall-back, the ledger."""

from __future__ import annotations

import numpy as np
import pytest
from routing_data import synthetic_rows

from tokenomy.core import PriceSource, PriceVector
from tokenomy.ledger import Ledger
from tokenomy.routing.dataset import RoutingDataset
from tokenomy.routing.decision import RouteRequest
from tokenomy.routing.evaluation import evaluate
from tokenomy.routing.ledger_io import write_routes
from tokenomy.routing.policies import TokenomyPolicy
from tokenomy.routing.router import Router

PRICES = PriceVector(lam_usd_per_s=0.001, rho_usd=0.002, lam_source=PriceSource.SLA)


def test_candidate_table_holds_eq4_surplus_and_the_choice_is_its_argmax(tiny: RoutingDataset) -> None:
    r = Router(n_features=2**12, policy=TokenomyPolicy(fallback=False)).fit(tiny.split("train"))
    d = r.route(RouteRequest("question 9: tricky alpha beta", "math", v_usd=0.01, request_id="q9"), PRICES)
    assert [c.model for c in d.candidates] == list(tiny.models)
    for c in d.candidates:
        assert c.surplus_usd == pytest.approx(0.01 * c.dq - c.dc_usd - 0.001 * c.dl_s - 0.002 * c.dr)
        assert 0 <= c.dq <= 1 and c.dc_usd > 0 and c.dl_s > 0 and c.dr == pytest.approx(1 - c.dq)
    best = int(np.argmax([c.surplus_usd for c in d.candidates]))
    assert d.chosen == best and d.mode == "eq4:main" and d.prices.v_usd == 0.01
    assert d.prices.lam_source == PriceSource.SLA


def test_nothing_is_spent_when_no_model_pays_for_itself(fitted: Router) -> None:
    d = fitted.route(RouteRequest("question 1: alpha", "code", v_usd=0.0), PriceVector())
    assert d.chosen is None and d.chosen_model is None
    batch = fitted.route_many(["a", "b"], PriceVector(), v_usd=0.0)
    assert batch.chosen.tolist() == [-1, -1]


def test_route_many_agrees_with_route_one_by_one(tiny: RoutingDataset, fitted: Router) -> None:
    te = tiny.split("test")
    v = np.geomspace(1e-4, 1.0, len(te))
    batch = fitted.route_many(list(te.prompts), PRICES, v_usd=v, categories=te.categories.tolist())
    for i in range(0, len(te), 5):
        one = fitted.route(RouteRequest(te.prompts[i], te.categories[i], float(v[i])), PRICES)
        assert (one.chosen if one.chosen is not None else -1) == batch.chosen[i]
        assert [c.dq for c in one.candidates] == pytest.approx(batch.dq[i].tolist())


def test_same_seed_same_router(tiny: RoutingDataset, fitted: Router) -> None:
    again = Router(n_features=2**12).fit(tiny.split("train"))
    te = tiny.split("test")
    a = fitted.route_many(list(te.prompts), PRICES, 0.01, te.categories.tolist())
    b = again.route_many(list(te.prompts), PRICES, 0.01, te.categories.tolist())
    assert np.array_equal(a.chosen, b.chosen) and np.array_equal(a.dq, b.dq)


def test_fallback_uses_the_best_fixed_model_where_eq4_does_not_validate() -> None:
    # labels independent of the prompt: no estimator can beat the best fixed model out of fold
    rng = np.random.default_rng(3)
    rows = synthetic_rows(240, seed=3)
    rate = {"small": 0.5, "medium": 0.7, "large": 0.9}
    for row in rows:
        row["quality"] = float(rng.random() < rate[row["model"]])
    ds = RoutingDataset.from_long(rows, source="noise")
    r = Router(n_features=2**12, estimator="prior").fit(ds.split("train"))
    modes = [v["mode"] for v in r.policy_.validation_]
    assert modes.count("fixed") >= len(modes) - 2
    never = Router(n_features=2**12, estimator="prior", policy=TokenomyPolicy(margin_se=np.inf)).fit(
        ds.split("train")
    )
    res = evaluate(
        never, ds.split("test"), v_grid=[0.001, 0.01], n_boot=20, policies=("tokenomy", "best-fixed")
    )
    w = {(x["V"], x["policy"]): x["welfare_per_query"] for x in res.rows}
    assert (
        w[(0.001, "tokenomy")] == w[(0.001, "best-fixed")]
        and w[(0.01, "tokenomy")] == w[(0.01, "best-fixed")]
    )


def test_decisions_and_outcomes_in_the_ledger_give_the_evaluation_regret(
    tiny: RoutingDataset, fitted: Router
) -> None:
    te = tiny.split("test")
    grid = [0.00015, 0.05]  # at V = 0.00015 some requests get nothing
    with Ledger() as ledger:
        n = write_routes(ledger, fitted, te, grid, PriceVector())
        assert n == 2 * len(te) and ledger.count("decisions") == 2 * len(te)
        table = ledger.regret()
        reg = np.asarray(table.column("regret_usd").to_numpy(zero_copy_only=False), dtype=float)
        v = np.asarray(table.column("v_usd").to_numpy(zero_copy_only=False))
        nulls = int(np.sum(table.column("chosen_name").is_null().to_numpy(zero_copy_only=False)))
        assert ledger.count("outcomes") == 2 * len(te) * te.n_models + nulls
        one = fitted.route(RouteRequest(te.prompts[0], te.categories[0], 0.05, "x"), PriceVector())
        ids = ledger.append([one.to_decision(tenant="t")])
        assert next(ledger.decisions("x")).metadata["synthetic"] == ["dl_s", "dr"] and ids
    assert nulls > 0 and not np.isnan(reg).any()
    res = evaluate(fitted, te, v_grid=grid, n_boot=20, policies=("tokenomy",))
    for row in res.rows:
        assert float(np.mean(reg[v == row["V"]])) == pytest.approx(row["regret_mean"], rel=1e-9, abs=1e-12)


def test_a_model_missing_from_the_price_table_is_named(tiny: RoutingDataset) -> None:
    from tokenomy.routing.prices import PriceTable

    table = PriceTable({"small": (1.0, 2.0), "medium": (2.0, 4.0)}, date="2024-01-01", source="t.toml")
    with pytest.raises(ValueError, match=r"\['large'\] absent from the price table t.toml"):
        Router(n_features=2**12, prices=table).fit(tiny.split("train"))


def test_requests_built_without_an_id_get_distinct_ids_and_keep_a_given_one() -> None:
    ids = {RouteRequest("same prompt").request_id for _ in range(100)}
    assert len(ids) == 100 and all(i.startswith("req-") for i in ids)
    assert RouteRequest("p", request_id="q9").request_id == "q9"
