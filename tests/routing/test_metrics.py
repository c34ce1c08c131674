"""The evaluation's metrics against values computed by hand on tiny inputs (APGR, CPT, AIQ included)."""

from __future__ import annotations

import numpy as np
import pytest

from tokenomy.routing.dataset import RoutingDataset
from tokenomy.routing.evaluation import compare_to_fixed, evaluate, realised
from tokenomy.routing.metrics import aiq, apgr, bootstrap_means, cpt, gap_recovered, reliability, upper_hull
from tokenomy.routing.policies import Problem, Routes, make_policy
from tokenomy.routing.router import Router

# 4 prompts × 2 models at V = 1: A is cheap ($0.1), B dear ($0.5)
QA, QB = [1.0, 0.0, 1.0, 0.0], [1.0, 1.0, 0.0, 0.0]


def _problem(v: float = 1.0) -> Problem:
    q = np.column_stack([QA, QB])
    c = np.column_stack([[0.1] * 4, [0.5] * 4])
    z = np.zeros((4, 2))
    return Problem(("A", "B"), q, c, z, z, np.full(4, v), quality=q, cost_usd=c)


def test_welfare_regret_and_gap_match_hand_computation() -> None:
    p = _problem()
    # welfare A = [.9, −.1, .9, −.1], B = [.5, .5, −.5, −.5]; oracle = max(0, A, B) = [.9, .5, .9, 0]
    oracle = realised(p, make_policy("oracle").decide(p))
    assert oracle.welfare.tolist() == pytest.approx([0.9, 0.5, 0.9, 0.0])
    assert oracle.null.tolist() == [False, False, False, True]
    fixed = make_policy("best-fixed").fit(p).decide(p)  # mean welfare A 0.4 > B 0.0
    assert fixed.chosen.tolist() == [0, 0, 0, 0]
    mine = realised(p, Routes(np.array([0, 1, 0, 0])))
    assert mine.welfare.mean() == pytest.approx(0.55)
    regret = oracle.welfare - mine.welfare
    assert regret.mean() == pytest.approx(0.025) and np.percentile(regret, 95) == pytest.approx(0.085)
    assert gap_recovered(0.55, 0.4, 0.575) == pytest.approx(0.15 / 0.175)
    # a cascade that calls A then B pays both and answers with B
    both = realised(p, Routes(np.array([1, 1, 1, 1]), called=np.ones((4, 2), dtype=bool)))
    assert both.cost_usd.tolist() == pytest.approx([0.6] * 4) and both.quality.tolist() == QB


def test_apgr_and_cpt_match_the_trapezoid_by_hand() -> None:
    # curve (0, 0) → (0.5, 0.75) → (1, 1): area 0.1875 + 0.4375
    assert apgr([0.5], [0.75]) == pytest.approx(0.625)
    assert cpt([0.5], [0.75], 0.5) == pytest.approx(1 / 3)
    assert cpt([0.5], [0.75], 0.8) == pytest.approx(0.6)
    assert apgr(np.linspace(0, 1, 11), np.linspace(0, 1, 11)) == pytest.approx(0.5)  # random mixing
    assert np.isnan(cpt([0.5], [0.75], 1.5))


def test_aiq_is_the_mean_of_the_concave_hull_over_the_cost_range() -> None:
    # (2, 0.6) lies under the chord from (1, 0.5) to (3, 0.9): the hull is that chord, mean 0.7
    hx, hy = upper_hull([1.0, 3.0, 2.0, 4.0], [0.5, 0.9, 0.6, 0.8])
    assert hx.tolist() == [1.0, 3.0] and hy.tolist() == [0.5, 0.9]
    assert aiq([1.0, 3.0, 2.0], [0.5, 0.9, 0.6], 1.0, 3.0) == pytest.approx(0.7)
    # below the cheapest point the router has no quality: 1.4 / 3
    assert aiq([1.0, 3.0], [0.5, 0.9], 0.0, 3.0) == pytest.approx(1.4 / 3, abs=1e-3)


def test_brier_and_ece_by_hand() -> None:
    (r,) = reliability(["m"], np.array([[0.1], [0.1], [0.9], [0.9]]), np.array([[0.0], [1.0], [1.0], [1.0]]))
    assert r.brier == pytest.approx(0.21)
    assert r.ece == pytest.approx(0.5 * 0.4 + 0.5 * 0.1)
    assert r.bin_count == (2, 2) and r.bin_mean_obs == pytest.approx((0.5, 1.0))


def test_bootstrap_is_paired_and_centred() -> None:
    rng = np.random.default_rng(0)
    x = rng.random(500)
    b = bootstrap_means(np.stack([x, x, np.full(500, 2.0)]), 300, seed=1)
    assert b.shape == (3, 300)
    assert np.array_equal(b[0], b[1]) and np.allclose(b[2], 2.0)
    assert abs(b[0].mean() - x.mean()) < 0.01 and b[0].std() > 0


def test_evaluate_rows_agree_with_a_direct_computation(tiny: RoutingDataset, fitted: Router) -> None:
    te = tiny.split("test")
    res = evaluate(fitted, te, v_grid=[0.002, 0.05], n_boot=50)
    rows = {(r["V"], r["policy"]): r for r in res.rows}
    for v in (0.002, 0.05):
        w = v * te.quality - te.cost_usd
        oracle = np.maximum(w.max(axis=1), 0.0).mean()
        assert rows[(v, "oracle")]["welfare_per_query"] == pytest.approx(oracle)
        assert rows[(v, "oracle")]["regret_mean"] == pytest.approx(0.0, abs=1e-15)
        assert rows[(v, "best-fixed")]["gap_recovered"] == pytest.approx(0.0)
        tr = tiny.split("train")
        j = int((v * tr.quality - tr.cost_usd).mean(axis=0).argmax())
        assert rows[(v, "best-fixed")]["welfare_per_query"] == pytest.approx(w[:, j].mean())
        lo, hi = rows[(v, "tokenomy")]["welfare_ci95"]
        assert lo <= rows[(v, "tokenomy")]["welfare_per_query"] <= hi
    for key in (
        "V",
        "policy",
        "welfare_per_query",
        "accuracy",
        "cost_per_query_usd",
        "regret_mean",
        "gap_recovered",
    ):
        assert all(key in r for r in res.rows)
    assert set(res.anchors["apgr"]) == {"threshold", "tokenomy", "random"}
    assert res.anchors["apgr"]["random"] == pytest.approx(0.5)
    assert len(res.calibration) == tiny.n_models
    assert any("SYNTHETIC" in s for s in res.synthetic)


def test_a_policy_equal_to_the_best_fixed_model_ties_and_does_not_beat_it(
    tiny: RoutingDataset, fitted: Router
) -> None:
    assert compare_to_fixed(0.5, 0.5) == (False, True)
    assert compare_to_fixed(0.5 + 1e-13, 0.5) == (False, True)
    assert compare_to_fixed(0.5001, 0.5) == (True, False)
    assert compare_to_fixed(0.4999, 0.5) == (False, False)
    out = evaluate(fitted, tiny.split("test"), v_grid=[0.01], policies=("best-fixed", "oracle"), n_boot=20)
    row = next(r for r in out.rows if r["policy"] == "best-fixed")
    assert row["tie_with_best_fixed"] and not row["beats_best_fixed"]
    assert all(not (r["tie_with_best_fixed"] and r["beats_best_fixed"]) for r in out.rows)


def test_a_difference_whose_paired_interval_holds_zero_is_a_tie_either_way() -> None:
    spread = np.linspace(
        -0.01, 0.03, 1001
    )  # paired bootstrap differences, 95% interval about [-0.008, 0.028]
    assert compare_to_fixed(0.51, 0.5, spread) == (False, True)  # a higher mean, not a win
    assert compare_to_fixed(0.49, 0.5, spread - 0.02) == (False, True)  # a lower mean, not a loss
    assert compare_to_fixed(0.52, 0.5, spread + 0.02) == (True, False)  # the whole interval above 0
    assert compare_to_fixed(0.47, 0.5, spread - 0.04) == (False, False)  # the whole interval below 0
    assert compare_to_fixed(0.5, 0.5, spread + 1.0) == (False, True)  # equal means tie whatever the draws
