"""Prediction 1's verification curve: bins with Wilson intervals, the concave fit and its k*, known answers."""

from __future__ import annotations

import numpy as np
import pytest

from tokenomy.audit.curves import _TAUS, fit_saturating, k_star, wilson
from tokenomy.audit.engine import run_audit
from tokenomy.audit.importers.ledger import from_records
from tokenomy.audit.pricing import StaticPriceTable
from tokenomy.core import PriceVector, TokenUse
from tokenomy.ledger import Decision, Outcome


def test_wilson_interval_matches_the_closed_form() -> None:
    lo, hi = wilson(8, 10)
    # z = 1.96: centre (0.8 + 0.19208) / 1.38416, half-width 1.96·sqrt(0.016 + 0.009604)/1.38416
    assert lo == pytest.approx(0.4902, abs=1e-4) and hi == pytest.approx(0.9433, abs=1e-4)
    assert all(np.isnan(wilson(0, 0)))


def test_fit_recovers_a_known_saturating_curve_and_k_star_meets_the_cost() -> None:
    a, b, tau = 0.8, 0.3, float(_TAUS[20])
    k = np.repeat(np.arange(0, 12), 40).astype(float)
    q = a - b * np.exp(-k / tau)  # expected resolved rate per task: an exact curve on the grid
    fa, fb, ft = fit_saturating(k, q)
    assert (fa, fb, ft) == pytest.approx((a, b, tau), rel=1e-9)
    v, c_v = 10.0, 0.01
    ks = k_star(fb, ft, v, c_v)
    assert v * fb / ft * np.exp(-ks / ft) == pytest.approx(c_v)  # V·Q'(k*) = c_v
    assert k_star(fb, ft, 0.01, c_v) == 0.0  # even the first verify is not worth its cost at V = 0.01
    assert k_star(fb, ft, 100.0, c_v) > ks  # a higher V buys more verification


def test_flat_response_gets_no_verification() -> None:
    k = np.arange(0, 10, dtype=float)
    q = np.full(10, 0.6)
    a, b, _ = fit_saturating(k, q)
    assert b == 0.0 and a == pytest.approx(0.6)
    assert k_star(b, 1.0, 100.0, 0.01) == 0.0


def step(rid: str, k: int, cls: str) -> Decision:
    return Decision.from_uses(
        rid,
        "action",
        f"step-{k}",
        [TokenUse("call", 0.0, 0.02)],
        PriceVector(v_usd=10.0, v_source="user"),
        chosen=0,
        metadata={"action_class": cls, "kind": "tool"},
    )


def test_verification_curve_on_a_hand_built_log() -> None:
    # 3 tasks with 0 verifies after the last edit (1 resolved), 3 with 1 (2 resolved), 3 with 2 (3).
    decisions, outcomes = [], []
    for n_verify, resolved in ((0, [1, 0, 0]), (1, [1, 1, 0]), (2, [1, 1, 1])):
        for j, r in enumerate(resolved):
            rid = f"v{n_verify}-{j}"
            plan = ["read", "edit", *(["test"] * n_verify)]
            decisions += [step(rid, k, c) for k, c in enumerate(plan)]
            outcomes.append(Outcome(rid, float(r), 0.0))
    res = run_audit(from_records(decisions, outcomes), StaticPriceTable())
    vc = res.verification
    assert vc is not None and "observational" in vc["label"]
    rates = [r["resolved_rate"] for r in vc["rows"]]
    assert rates == pytest.approx([1 / 3, 2 / 3, 1.0])
    assert [r["marginal_product"] for r in vc["rows"][1:]] == pytest.approx([1 / 3, 1 / 3])
    assert vc["verify_step_cost_usd"] == pytest.approx(0.02)
    assert vc["rows"][0]["resolved_rate_ci95"] == pytest.approx(list(wilson(1, 3)))
    fit = vc["fit"]
    assert fit["b"] > 0 and fit["k_star"] > 0 and fit["k_star_ci95"][0] <= fit["k_star_ci95"][1]
    again = run_audit(from_records(decisions, outcomes), StaticPriceTable()).verification
    assert again is not None and again["fit"] == fit  # the bootstrap is seeded
