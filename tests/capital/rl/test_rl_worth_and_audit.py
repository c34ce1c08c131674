"""Ledger rows of real runs: the stale_rollouts audit finds exactly the stale trained groups; trace worth."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from tokenomy.audit.engine import run_audit
from tokenomy.audit.importers.ledger import from_records
from tokenomy.audit.pricing import StaticPriceTable
from tokenomy.capital.rl import (
    RLConfig,
    RLPrices,
    make_allocator,
    run_batches,
    run_rl,
    trace_worth,
    warm_start,
)
from tokenomy.capital.rl.loop import RunTrace
from tokenomy.core import PriceVector, TokenUse
from tokenomy.ledger import Decision, Ledger

PRICES = StaticPriceTable.from_override(
    {"models": {"m": {"input_usd_per_mtok": 1.0, "output_usd_per_mtok": 2.0}}}
)
CONFIG = RLConfig(max_tokens=30_000, prices=RLPrices(drift_per_version=0.15))


def _run(policy: str, lag: int) -> RunTrace:
    return run_rl(CONFIG, make_allocator(policy), warm_start(CONFIG, 0), seed=0, staleness_versions=lag)


def _ledger_decisions(policy: str, lag: int, tr: RunTrace) -> list[Decision]:
    with Ledger(":memory:") as ledger:
        for b in run_batches(
            f"rl/{policy}", tr.groups, CONFIG.prices, policy=policy, seed=0, staleness_versions=lag
        ):
            ledger.append_batch(b)
        return list(ledger.decisions())


def _ledger_ids(tr: RunTrace) -> list[str]:
    from tokenomy.capital.rl.ledger_io import group_ids

    return group_ids("rl/tokenomy", tr.groups)


def _expected_stale(tr: RunTrace, lag: int) -> int:
    g, pr = tr.groups, CONFIG.prices
    value = pr.v_usd * g.pass_rate * (1 - g.pass_rate)
    cost = pr.update_usd_per_token * g.update_tokens
    behind = np.maximum(g.step - 1 - g.version, 0)  # versions behind when used (< lag in the first steps)
    kept = np.array([pr.discount(int(s)) for s in behind])
    corrected = g.corrected & (behind > 0)  # importance-weighted groups: each its own measured loss
    kept[corrected] = g.ess_share[corrected]
    return int(np.sum(g.trained & (value >= cost) & (value * kept < cost * (1 - 1e-9))))


@pytest.mark.parametrize(
    ("policy", "lag"),
    [("uniform", 4), ("knapsack", 2), ("tokenomy-decay", 4), ("tokenomy", 4), ("uniform", 0)],
)
def test_the_audit_finds_exactly_the_stale_trained_groups(policy: str, lag: int) -> None:
    tr = _run(policy, lag)
    decisions = _ledger_decisions(policy, lag, tr)
    n = tr.groups.step.size
    assert len(decisions) == 3 * n
    assert {d.kind for d in decisions} == {"rollout", "verify", "update"}
    res = run_audit(from_records(decisions, []), PRICES, decisions=decisions, outcomes=[])
    found = {f.mode: f for f in res.findings}["stale_rollouts"]
    assert found.applicable and found.details["trained"] == int(tr.groups.trained.sum())
    want = _expected_stale(tr, lag)
    assert found.count == want
    if policy == "uniform" and lag == 4:
        assert want > 0  # ignoring staleness trains on stale groups
    if policy in ("tokenomy-decay", "tokenomy") or lag == 0:
        assert want == 0  # neither rule does (each by its own discount); nothing is stale without lag


def test_every_ledger_row_carries_its_price_version_and_staleness() -> None:
    tr = _run("dapo", 2)
    decisions = _ledger_decisions("dapo", 2, tr)
    for d in decisions:
        assert d.metadata["run_staleness"] == 2 and d.metadata["drift_per_version"] == 0.15
        assert d.candidates[0].dc_usd == pytest.approx(1e-6 * d.metadata["tokens"])
        version, step = (int(p[1:]) for p in d.request_id.split("/")[2:4])
        assert version == max(step - 3, 0) and d.time_s == step
        assert d.metadata["staleness_versions"] == min(step - 1, 2)  # versions behind when used
    used = [d for d in decisions if d.kind == "update"]
    assert sum(d.chosen is not None for d in used) == int(tr.groups.trained.sum())


def _use_row(rid: str, signal: float, tokens: int, staleness: int) -> Decision:
    return Decision.from_uses(
        rid,
        "capital",
        "rollout-use",
        [TokenUse("train", signal, 1e-6 * tokens)],
        PriceVector(v_usd=1e-3),
        chosen=0,
        kind="update",
        metadata={"staleness_versions": staleness, "drift_per_version": 0.2, "tokens": tokens},
    )


def test_trace_worth_is_discounted_value_net_of_update_cost() -> None:
    rows = [_use_row("fresh", 0.25, 100, 0), _use_row("stale", 0.25, 100, 3), _use_row("flat", 0.0, 100, 0)]
    w = {t.request_id: t for t in trace_worth(rows)}
    assert w["fresh"].worth_usd == pytest.approx(1e-3 * 0.25 - 1e-4)
    assert w["stale"].worth_usd == pytest.approx(1e-3 * 0.25 * 0.8**3 - 1e-4)
    assert w["flat"].worth_usd == pytest.approx(-1e-4) and w["flat"].signal_per_token == 0.0
    assert w["stale"].signal_per_token == pytest.approx(0.25 * 0.8**3 / 100)
    later = {t.request_id: t for t in trace_worth(rows, age_versions=5)}
    assert later["fresh"].worth_usd == pytest.approx(1e-3 * 0.25 * 0.8**5 - 1e-4)
    assert later["fresh"].worth_usd < w["fresh"].worth_usd


def test_trace_worth_of_a_real_run_is_positive_exactly_where_the_discounted_rule_trains() -> None:
    cfg = replace(CONFIG, prices=replace(CONFIG.prices, drift_per_version=0.15))
    tr = run_rl(cfg, make_allocator("tokenomy"), warm_start(cfg, 1), seed=1, staleness_versions=2)
    worth = trace_worth(_ledger_decisions("tokenomy", 2, tr))
    assert len(worth) == tr.groups.step.size
    assert all((t.worth_usd > 0) == t.trained for t in worth)


def test_a_corrected_run_writes_each_groups_measured_staleness_loss() -> None:
    tr = _run("tokenomy", 4)
    g = tr.groups
    assert g.corrected.any()
    ess = dict(zip(_ledger_ids(tr), g.ess_share.tolist(), strict=True))
    kinds = dict(zip(_ledger_ids(tr), g.corrected.tolist(), strict=True))
    seen = set()
    for d in _ledger_decisions("tokenomy", 4, tr):
        s = d.metadata["staleness_versions"]
        if kinds[d.request_id] and s > 0:
            assert d.metadata["drift_source"].startswith("measured")
            assert (1 - d.metadata["drift_per_version"]) ** s == pytest.approx(ess[d.request_id], rel=1e-9)
            seen.add(round(ess[d.request_id], 12))
        else:
            assert d.metadata["drift_source"].startswith("fitted")
    assert len(seen) > 1  # groups differ: each row has its own loss, not the run's mean
    assert all(
        d.metadata["drift_source"].startswith("fitted")
        for d in _ledger_decisions("uniform", 4, _run("uniform", 4))
    )
