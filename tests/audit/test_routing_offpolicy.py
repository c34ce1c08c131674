"""Over- and under-routing on a gateway-style ledger where only the served model is graded.

The synthetic ledger's truth is known: each request is easy or hard (hidden from the router), each model
has a true success rate per kind, and the logging router serves the cheap model far more often on easy
requests, with its propensity logged exactly. The recorded q̂ (the router's belief) is wrong, so the
ex-ante surpluses mislead. The detectors must estimate the alternative's utility off-policy: the 95%
interval covers the true gain, and the same ledger with its propensities replaced by one constant does
not (so a detector that ignored them would fail here).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from tokenomy.audit.detectors import AuditContext, detect_all
from tokenomy.audit.engine import run_audit
from tokenomy.audit.importers.ledger import from_records
from tokenomy.audit.pricing import StaticPriceTable
from tokenomy.core import PriceVector
from tokenomy.ledger import Candidate, Decision, Layer, Outcome

V = 1.0
COST = {"cheap": 0.01, "strong": 0.20}
Q_HAT = {"cheap": 0.5, "strong": 0.9}  # the router's belief: strong is favoured everywhere
TRUE_Q = {
    ("easy", "cheap"): 0.95,
    ("easy", "strong"): 0.97,
    ("hard", "cheap"): 0.70,
    ("hard", "strong"): 0.75,
}
P_CHEAP = {"easy": 0.5, "hard": 0.05}  # the logging router explores the cheap model mostly on easy requests


def ledger(
    n: int,
    seed: int,
    *,
    true_q: dict[tuple[str, str], float] = TRUE_Q,
    q_hat: dict[str, float] = Q_HAT,
    cost: dict[str, float] = COST,
    propensity: float | None = None,
    v: float = V,
    prefix: str = "r",
) -> tuple[list[Decision], list[Outcome], float]:
    """Decisions and graded outcomes of ``n`` requests; and the true over-routing gain of serving cheap
    everywhere (expected utility of cheap minus the realised utility of what was served)."""
    rng = np.random.default_rng(seed)
    prices = PriceVector(v)
    decisions, outcomes = [], []
    truth = 0.0
    for i in range(n):
        kind = "easy" if rng.random() < 0.5 else "hard"
        p = P_CHEAP[kind]
        served = "cheap" if rng.random() < p else "strong"
        mu = p if served == "cheap" else 1.0 - p
        cands = tuple(
            Candidate(m, q_hat[m], cost[m], 0.0, 0.0, 0.0, v * q_hat[m] - cost[m])
            for m in ("cheap", "strong")
        )
        rid = f"{prefix}{i}"
        decisions.append(
            Decision(
                rid,
                Layer.DEMAND,
                "route",
                cands,
                0 if served == "cheap" else 1,
                prices,
                decision_id=f"{prefix}d{i}",
                propensity=mu if propensity is None else propensity,
                metadata={"policy_pick": served},
            )
        )
        q = float(rng.random() < true_q[kind, served])
        outcomes.append(Outcome(rid, 0.0, cost[served], candidate=served, metadata={"graded": False}))
        outcomes.append(Outcome(rid, q, 0.0, candidate=served, metadata={"graded": True}))
        truth += (v * true_q[kind, "cheap"] - cost["cheap"]) - (v * q - cost[served])
    return decisions, outcomes, truth


def findings(decisions: list[Decision], outcomes: list[Outcome]) -> dict[str, Any]:
    log = from_records(decisions, outcomes)
    res = run_audit(log, StaticPriceTable({}), decisions=decisions, outcomes=outcomes)
    return {f.mode: f for f in res.findings}


def test_the_offpolicy_interval_covers_the_true_gain_of_routing_down() -> None:
    d, o, truth = ledger(4000, seed=0)
    f = findings(d, o)["over_routing"]
    assert f.applicable and f.labels == ("off-policy estimate",)
    assert "estimated off-policy from 4000 logged decisions with propensities" in f.details["estimate"]
    assert f.count > 0 and f.impact_ci95 is not None
    lo, hi = f.impact_ci95
    assert 0 < lo <= truth <= hi, (lo, truth, hi)
    assert lo <= f.impact_usd <= hi
    (g,) = f.details["groups"]
    assert g["favoured"] == "strong" and g["better"] == "cheap" and g["verdict"] == "gain"
    assert set(g["estimates_per_decision"]) == {"ips", "snips", "dr"}
    # the requests touched are the ones the strong model served, each with the off-policy label
    assert f.count == sum(x.chosen_name == "strong" for x in d)
    assert all(e["estimate"].startswith("off-policy") for e in f.examples)


def test_the_interval_covers_the_truth_across_seeds() -> None:
    covered = 0
    for seed in range(20):
        d, o, truth = ledger(800, seed=100 + seed)
        off = findings(d, o)["over_routing"].details["groups"][0]
        lo, hi = off["gain_ci95"]
        covered += lo <= truth <= hi
    assert covered >= 16, covered  # 95% nominal; 16 of 20 leaves room for chance (P(<16) < 2%)


def test_ignoring_the_propensities_misses_the_truth() -> None:
    d, o, truth = ledger(4000, seed=0)
    marginal = float(np.mean([x.chosen_name == "cheap" for x in d]))
    flat = [
        dataclasses.replace(x, propensity=marginal if x.chosen_name == "cheap" else 1 - marginal) for x in d
    ]
    lo, hi = findings(flat, o)["over_routing"].details["groups"][0]["gain_ci95"]
    assert not lo <= truth <= hi, (lo, truth, hi)


def test_under_routing_is_estimated_the_same_way() -> None:
    # strong truly much better, and the router's belief favours cheap: under-routing
    true_q = {
        ("easy", "cheap"): 0.5,
        ("easy", "strong"): 0.95,
        ("hard", "cheap"): 0.1,
        ("hard", "strong"): 0.9,
    }
    d, o, _ = ledger(4000, seed=1, true_q=true_q, q_hat={"cheap": 0.9, "strong": 0.5})
    f = findings(d, o)
    under = f["under_routing"]
    assert under.applicable and under.labels == ("off-policy estimate",)
    (g,) = under.details["groups"]
    assert g["favoured"] == "cheap" and g["better"] == "strong" and g["verdict"] == "gain"
    assert under.count == sum(x.chosen_name == "cheap" for x in d)
    # nothing is cheaper than the favoured cheap model: no over-routing group, no finding
    assert f["over_routing"].count == 0 and f["over_routing"].details["groups"] == []


def test_a_gain_whose_interval_holds_zero_is_a_tie_and_not_counted() -> None:
    same = dict.fromkeys(TRUE_Q, 0.8)
    d, o, _ = ledger(2000, seed=2, true_q=same, cost={"cheap": 0.099, "strong": 0.1})
    over = findings(d, o)["over_routing"]
    assert over.details["groups_tie"] == 1 and over.details["groups"][0]["verdict"] == "tie"
    assert over.count == 0 and over.impact_usd == 0.0 and not over.action


def test_no_propensities_falls_back_to_ex_ante_with_a_label() -> None:
    d, o, _ = ledger(500, seed=3, propensity=1.0)
    f = findings(d, o)
    for mode in ("over_routing", "under_routing"):
        assert f[mode].applicable
        if f[mode].count:
            assert f[mode].labels == ("ex ante",)
            assert "no propensities were logged" in f[mode].details["estimate"]
    ctx = AuditContext(from_records(d, o), np.zeros(0, np.int64), *(np.zeros(0),) * 5, tuple(d), tuple(o))
    assert {x.mode for x in detect_all(ctx, ["over_routing"])} == {"over_routing"}


def test_the_report_shows_each_group_as_a_table_row() -> None:
    from tokenomy.audit.report_audit import build_report

    d, o, _ = ledger(1000, seed=4)
    res = run_audit(from_records(d, o), StaticPriceTable({}), decisions=d, outcomes=o)
    page = build_report(res, res.as_dict()).render()
    assert "over_routing: off-policy estimate per group" in page
    assert "estimated off-policy from 1000 logged decisions with propensities" in page
    assert "estimates_per_decision" not in page  # the groups are a table, not a raw JSON list


def test_a_group_logged_by_a_deterministic_router_has_no_support() -> None:
    d, o, _ = ledger(1000, seed=5)
    d2, o2, _ = ledger(300, seed=6, propensity=1.0, v=20.0, prefix="fixed")
    over = findings(d + d2, o + o2)["over_routing"]
    assert over.labels == ("off-policy estimate",)
    assert over.details["groups_without_support"] == 1
    assert [g["v_range_usd"] for g in over.details["groups"]] == [[1.0, 10.0]]
    assert not any(e["request_id"].startswith("fixed") for e in over.examples)


def test_tokenomy_audit_on_the_ledger_file_reports_the_estimate_with_its_interval(tmp_path: Any) -> None:
    import json

    from tokenomy.interfaces.cli import main
    from tokenomy.ledger import Ledger

    d, o, truth = ledger(3000, seed=7)
    path, out = tmp_path / "gw.duckdb", tmp_path / "a.json"
    with Ledger(path) as led:
        led.append(d)
        led.append_outcomes(o)
    assert main(["audit", str(path), "--json", str(out)]) == 0
    f = json.loads(out.read_text())["failure_modes"]["over_routing"]
    assert f["labels"] == ["off-policy estimate"] and f["count"] > 0 and f["action"]
    lo, hi = f["impact_ci95"]
    assert 0 < lo <= truth <= hi
