"""The predictive baseline's own kNN q̂ (never the main one, never silently), l̂'s queue read per call,
and ledger outcomes that name their decision (a rerun refused)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from tokenomy.core import PriceVector
from tokenomy.core.errors import LedgerError, ValidationError
from tokenomy.ledger import Ledger
from tokenomy.routing.dataset import RoutingDataset
from tokenomy.routing.decision import RouteRequest
from tokenomy.routing.estimators import ESTIMATORS
from tokenomy.routing.evaluation import evaluate
from tokenomy.routing.ledger_io import write_routes
from tokenomy.routing.policies import PredictiveRouter
from tokenomy.routing.policies.base import eq4
from tokenomy.routing.router import Router


def test_predictive_reads_its_own_knn_estimate_not_the_main_one(tiny: RoutingDataset, fitted: Router) -> None:
    te = tiny.split("test")
    X = fitted.features(te.prompts, te.categories.tolist())
    p = fitted.problem(X, 0.01, PriceVector(), te)
    own = ESTIMATORS["knn"]().fit(
        fitted.features(tiny.split("train").prompts, tiny.split("train").categories.tolist()),
        tiny.split("train").quality,
    )
    assert np.allclose(p.baseline_dq["knn"], own.predict(X))
    assert not np.allclose(p.baseline_dq["knn"], p.dq)  # a different estimator from the main q̂
    chosen = PredictiveRouter().decide(p).chosen
    assert np.array_equal(chosen, eq4(0.01 * p.baseline_dq["knn"] - p.dc_usd, allow_null=False))
    # and the train problem carries its out-of-fold twin, so the policy runs there too
    assert fitted.train_problem_.baseline_dq["knn"].shape == fitted.train_problem_.dq.shape


def test_predictive_without_its_estimate_is_an_error_not_a_substitution(fitted: Router) -> None:
    X = fitted.features(["a question"], [""])
    p = fitted.problem(X, 0.01, PriceVector(), baselines=False)
    with pytest.raises(ValidationError, match=r"predictive router needs its own quality estimate"):
        PredictiveRouter().decide(p)
    with pytest.raises(ValidationError, match=r"baseline_dq\['mlp'\]"):
        PredictiveRouter(source="mlp").decide(replace(p, baseline_dq={"knn": p.dq}))


def test_predictive_differs_from_tokenomy_in_the_evaluation(tiny: RoutingDataset, fitted: Router) -> None:
    res = evaluate(
        fitted, tiny.split("test"), v_grid=[0.003, 0.01, 0.03], policies=["tokenomy", "predictive"], n_boot=20
    )
    by = {(r["V"], r["policy"]): r["welfare_per_query"] for r in res.rows}
    assert any(by[(v, "predictive")] != by[(v, "tokenomy")] for v in (0.003, 0.01, 0.03))


def test_unknown_baseline_estimator_is_named(tiny: RoutingDataset) -> None:
    with pytest.raises(ValidationError, match=r"unknown baseline_estimator 'mlp'; valid: .*knn"):
        Router(n_features=2**10, baseline_estimator="mlp").fit(tiny.split("train"))


def test_queue_delay_is_read_at_route_time(fitted: Router) -> None:
    m = fitted.models_
    lam = PriceVector(v_usd=0.01, lam_usd_per_s=0.01)
    req = RouteRequest("question 9: tricky alpha beta", "math", v_usd=0.01)
    base = fitted.route(req, lam)
    jammed = fitted.route(req, lam, queue_s={m[0]: 30.0})
    assert jammed.candidates[0].dl_s == pytest.approx(base.candidates[0].dl_s + 30.0)
    assert [c.dl_s for c in jammed.candidates[1:]] == pytest.approx([c.dl_s for c in base.candidates[1:]])
    assert jammed.candidates[0].surplus_usd == pytest.approx(base.candidates[0].surplus_usd - 0.01 * 30.0)
    batch = fitted.route_many(["q1", "q2"], lam, queue_s={m[1]: 5.0})
    again = fitted.route_many(["q1", "q2"], lam)
    assert np.allclose(batch.dl_s[:, 1] - again.dl_s[:, 1], 5.0)


def test_a_bad_queue_names_the_model_or_the_value(fitted: Router) -> None:
    with pytest.raises(ValidationError, match=r"queue_s names unknown model\(s\) \['nope'\]"):
        fitted.route_many(["q"], PriceVector(), queue_s={"nope": 1.0})
    with pytest.raises(ValidationError, match=r"finite seconds ≥ 0"):
        fitted.route_many(["q"], PriceVector(), queue_s={fitted.models_[0]: -1.0})


def test_every_outcome_names_its_decision_and_a_rerun_is_refused(
    tiny: RoutingDataset, fitted: Router
) -> None:
    te = tiny.split("test")
    with Ledger() as ledger:
        write_routes(ledger, fitted, te, [0.00015, 0.05], PriceVector())
        dids = {d.decision_id for d in ledger.decisions()}
        outs = list(ledger.outcomes())
        assert outs and all(o.decision_id in dids for o in outs)
        by_request = {d.request_id: d.decision_id for d in ledger.decisions()}
        assert all(by_request[o.request_id] == o.decision_id for o in outs)
        n_dec, n_out = ledger.count("decisions"), ledger.count("outcomes")
        with pytest.raises(LedgerError, match=r"already holds route decisions for request '.*@V=0.00015'"):
            write_routes(ledger, fitted, te, [0.00015], PriceVector())
        with pytest.raises(LedgerError, match=r"@V=0.05"):
            write_routes(ledger, fitted, te, [0.01, 0.05], PriceVector())
        assert (ledger.count("decisions"), ledger.count("outcomes")) == (n_dec, n_out)  # nothing written
        write_routes(ledger, fitted, te, [0.01], PriceVector())  # a new V is new requests
        assert ledger.count("decisions") == n_dec + len(te)
