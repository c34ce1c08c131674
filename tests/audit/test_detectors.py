"""Detectors on small hand-built ledgers with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from tokenomy.audit.engine import run_audit
from tokenomy.audit.importers.ledger import from_records, to_records
from tokenomy.audit.pricing import StaticPriceTable
from tokenomy.core import PriceVector, TokenUse
from tokenomy.interfaces.loaders.agent_data import load_schedule
from tokenomy.ledger import Decision, Ledger, Outcome

SCHEDULE = load_schedule()
PRICES = StaticPriceTable.from_override(
    {"models": {"m": {"input_usd_per_mtok": 1.0, "output_usd_per_mtok": 2.0}}}
)


def audit(decisions: list[Decision], outcomes: list[Outcome]):  # type: ignore[no-untyped-def]
    log = from_records(decisions, outcomes)
    res = run_audit(log, PRICES, decisions=decisions, outcomes=outcomes, schedule=SCHEDULE)
    return res, {f.mode: f for f in res.findings}


def routed(rid: str, v: float, chosen: int) -> Decision:
    uses = [TokenUse("cheap", 0.7, 1.0), TokenUse("frontier", 0.9, 5.0)]
    return Decision.from_uses(
        rid, "demand", "route", uses, PriceVector(v_usd=v, v_source="user"), chosen=chosen
    )


def test_paper_worked_example_gives_over_and_under_routing() -> None:
    # V = 10: cheap is right (6 vs 4) -> choosing frontier over-routes by $2.
    # V = 100: frontier is right (85 vs 69) -> choosing cheap under-routes by $16.
    decisions = [routed("low", 10.0, 1), routed("high", 100.0, 0), routed("ok", 100.0, 1)]
    _, f = audit(decisions, [])
    assert f["over_routing"].count == 1 and f["over_routing"].impact_usd == pytest.approx(2.0)
    assert f["over_routing"].examples[0]["request_id"] == "low"
    assert f["under_routing"].count == 1 and f["under_routing"].impact_usd == pytest.approx(16.0)
    assert f["under_routing"].examples[0]["request_id"] == "high"


def test_routing_uses_observed_counterfactuals_when_present() -> None:
    d = routed("r", 10.0, 1)  # ex ante frontier loses by 2; ex post cheap was wrong and frontier right
    outcomes = [Outcome("r", 0.0, 1.0, candidate="cheap"), Outcome("r", 1.0, 5.0, candidate="frontier")]
    _, f = audit([d], outcomes)
    assert f["over_routing"].count == 0
    assert f["under_routing"].count == 0  # frontier was chosen and won: 10 - 5 = 5 > 0 - 1


def action(rid: str, k: int, cls: str, confirmed: int, correct: int = -1) -> Decision:
    meta = {"action_class": cls, "autonomy_class": cls, "confirmed": confirmed, "correct": correct}
    return Decision.from_uses(
        rid,
        "action",
        f"step-{k}",
        [TokenUse("act", 0.0, 0.0)],
        PriceVector(v_usd=10.0, rho_usd=20.0, rho_irr_usd=40.0),
        chosen=0,
        metadata=meta,
    )


def test_over_delegation_counts_unconfirmed_commits_and_prices_exposure() -> None:
    decisions = [
        action("a", 0, "read", -1),
        action("a", 1, "commit", 0, correct=0),
        action("b", 0, "commit", 1, correct=1),
        action("c", 0, "commit", 0, correct=1),
    ]
    outcomes = [Outcome("a", 0.0, 0.0), Outcome("b", 1.0, 0.0), Outcome("c", 1.0, 0.0)]
    _, f = audit(decisions, outcomes)
    od = f["over_delegation"]
    assert od.applicable and od.count == 2
    # p_wrong among unconfirmed = 1/2; exposure = 2 actions * ρ_irr 40 * 0.5
    assert od.details["p_wrong_given_unconfirmed"] == pytest.approx(0.5)
    assert od.impact_usd == pytest.approx(40.0)
    assert od.details["reward_gap"] == pytest.approx(1.0 - 0.5)


def test_over_delegation_not_applicable_without_confirmations() -> None:
    _, f = audit([action("a", 0, "commit", -1)], [Outcome("a", 1.0, 0.0)])
    assert not f["over_delegation"].applicable and "confirmation" in f["over_delegation"].reason


def step(rid: str, k: int, cls: str, cost: float) -> Decision:
    return Decision.from_uses(
        rid,
        "action",
        f"step-{k}",
        [TokenUse("call", 0.0, cost)],
        PriceVector(v_usd=10.0),
        chosen=0,
        metadata={"action_class": cls, "kind": "tool"},
    )


def test_under_verification_gap_threshold_and_impact() -> None:
    # t1, t2 verify after the last edit (resolved 1, 1); t3, t4 do not (resolved 1, 0): ΔQ_v = 0.5.
    plan = {"t1": ["edit", "test"], "t2": ["edit", "run"], "t3": ["test", "edit"], "t4": ["edit"]}
    quality = {"t1": 1.0, "t2": 1.0, "t3": 1.0, "t4": 0.0}
    decisions = [
        step(r, k, c, 0.5 if c in ("test", "run") else 0.1)
        for r, cs in plan.items()
        for k, c in enumerate(cs)
    ]
    outcomes = [Outcome(r, q, 0.0) for r, q in quality.items()]
    _, f = audit(decisions, outcomes)
    uv = f["under_verification"]
    assert uv.details["success_gap"] == pytest.approx(0.5)
    assert uv.details["verify_step_cost_usd"] == pytest.approx(0.5)
    assert uv.count == 2  # V·ΔQ_v − c_v = 10·0.5 − 0.5 = 4.5 > 0 for t3 and t4
    assert uv.impact_usd == pytest.approx(9.0)
    assert {e["request_id"] for e in uv.examples} == {"t3", "t4"}


def test_serving_congestion_and_stale_rollouts() -> None:
    p = PriceVector(v_usd=1.0, lam_usd_per_s=1.0)
    uses = [TokenUse("admit-now", 0.5, 0.1, dl_s=2.0), TokenUse("defer", 0.45, 0.1, dl_s=0.0)]
    d = Decision.from_uses("s1", "supply", "admit", uses, p, chosen=0)  # wins only with latency free
    ok = Decision.from_uses("s2", "supply", "admit", uses, p, chosen=1)
    roll = Decision.from_uses(
        "g1",
        "capital",
        "rollout-use",
        [TokenUse("train", 0.5, 0.3)],
        PriceVector(v_usd=1.0),
        chosen=0,
        metadata={"staleness_versions": 4, "drift_per_version": 0.2, "tokens": 900},
    )
    fresh = Decision.from_uses(
        "g2",
        "capital",
        "rollout-use",
        [TokenUse("train", 0.5, 0.3)],
        PriceVector(v_usd=1.0),
        chosen=0,
        metadata={"staleness_versions": 0, "drift_per_version": 0.2, "tokens": 900},
    )
    _, f = audit([d, ok, roll, fresh], [])
    sc = f["serving_congestion"]
    assert sc.count == 1 and sc.impact_usd == pytest.approx((0.45 - 0.1) - (0.5 - 0.1 - 2.0))
    st = f["stale_rollouts"]
    assert st.count == 1 and st.impact_usd == pytest.approx(0.3 - 0.5 * 0.8**4)
    assert st.details["wasted_tokens"] == 900


def test_modes_not_supported_say_why() -> None:
    _, f = audit([routed("x", 10.0, 0)], [])
    for mode in (
        "serving_congestion",
        "stale_rollouts",
        "over_delegation",
        "under_verification",
        "cache_misuse",
    ):
        assert not f[mode].applicable and f[mode].reason


def test_audit_vectors_equal_the_ledger_query() -> None:
    decisions = [step(r, 0, "edit", c) for r, c in (("a", 1.0), ("b", 3.0), ("c", 0.5))]
    outcomes = [
        Outcome("a", 1.0, 0.0),
        Outcome("b", 0.0, 0.0),
        Outcome("c", 1.0, 0.0, harm=0.5, harm_irr=0.2),
    ]
    log = from_records(decisions, outcomes)
    res = run_audit(log, PRICES)  # computed by the audit itself (no ledger records passed)
    decs, outs = to_records(res.log, res.context.cost_usd)
    with Ledger(":memory:") as ledger:
        ledger.append(decs)
        ledger.append_outcomes(outs)
        vec = {r["request_id"]: r for r in ledger.request_vectors().to_pylist()}
    for r in res.requests():
        v = vec[r["request_id"]]
        for key in ("value_usd", "cost_usd", "risk_cost_usd", "regret_usd"):
            assert r[key] == pytest.approx(v[key]), key
        assert r["welfare_usd"] == pytest.approx(v["utility_usd"])
    assert np.isclose(res.totals()["welfare_usd"], sum(v["utility_usd"] for v in vec.values()))


def test_over_delegation_needs_a_schedule() -> None:
    decisions = [action("a", 0, "commit", 0, correct=0)]
    log = from_records(decisions, [Outcome("a", 0.0, 0.0)])
    od = {f.mode: f for f in run_audit(log, PRICES).findings}["over_delegation"]
    assert not od.applicable and "no autonomy schedule" in od.reason


def test_over_delegation_reads_the_levels_of_the_schedule_given() -> None:
    from importlib import resources

    from tokenomy.autonomy.schedule import parse_schedule

    res_dir = resources.files("tokenomy.interfaces") / "resources"
    base = (res_dir / "default_schedule.toml").read_text(encoding="utf-8")
    lenient = base.replace("[classes.commit]\n", '[classes.commit]\nlevel = "free"\n', 1)
    strict = base.replace("[classes.read]\n", '[classes.read]\nlevel = "deny"\n', 1)

    decisions = [
        action("a", 0, "read", -1),
        action("a", 1, "commit", 0, correct=0),
        action("b", 0, "commit", 1, correct=1),
    ]
    outcomes = [Outcome("a", 0.0, 0.0), Outcome("b", 1.0, 0.0)]
    log = from_records(decisions, outcomes)

    def od(schedule_text: str):  # type: ignore[no-untyped-def]
        sched = parse_schedule(_drop_dupes(schedule_text), source="test.toml")
        res = run_audit(
            log, PRICES, decisions=decisions, outcomes=outcomes, schedule=sched, schedule_source="t"
        )
        return {f.mode: f for f in res.findings}["over_delegation"]

    assert od(base).count == 1  # commit needs confirm: a's unconfirmed commit
    assert not od(lenient).applicable  # commit is free: nothing needs a confirmation
    denied = od(strict)
    assert denied.count == 2 and denied.details["denied_actions_run"] == 1  # the read ran although denied


def _drop_dupes(text: str) -> str:
    """Keep the first ``level =`` line of each TOML table (the tests prepend an override)."""
    out, seen, table = [], set(), ""
    for line in text.splitlines():
        if line.startswith("["):
            table = line
        key = line.split("=", 1)[0].strip()
        if key == "level" and (table, key) in seen:
            continue
        if key == "level":
            seen.add((table, key))
        out.append(line)
    return "\n".join(out) + "\n"


def test_realised_quality_of_a_ledger_with_counterfactuals_is_the_chosen_candidates() -> None:
    d = routed("r", 10.0, 1)  # frontier chosen; the ledger holds both candidates' outcomes
    outcomes = [Outcome("r", 0.0, 1.0, candidate="cheap"), Outcome("r", 1.0, 5.0, candidate="frontier")]
    res, _ = audit([d], outcomes)
    (row,) = res.requests()
    assert row["quality"] == 1.0 and row["value_usd"] == pytest.approx(10.0)
    assert res.totals()["cost_per_resolved_usd"] == pytest.approx(5.0)


def test_prices_each_layer_saw_with_sources() -> None:
    decisions = [routed("r1", 10.0, 0), routed("r2", 30.0, 1), action("r1", 1, "commit", 1)]
    res, _ = audit(decisions, [Outcome("r1", 1.0, 0.0), Outcome("r2", 1.0, 0.0)])
    layers = res.as_dict()["prices_by_layer"]
    assert set(layers) == {"demand", "action"}
    assert layers["demand"]["decisions"] == 2 and layers["demand"]["v_usd"]["median"] == pytest.approx(20.0)
    assert layers["demand"]["v_usd"]["sources"] == {"user": 2}
    assert layers["action"]["decisions"] == 1
    assert run_audit(from_records(decisions, []), PRICES).as_dict()["prices_by_layer"] is None  # not a ledger
