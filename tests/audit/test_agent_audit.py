"""The audit on the real agent datasets (small slices in the tests; the benchmark runs everything)."""

from __future__ import annotations

import csv
import gzip
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tokenomy.audit.engine import run_audit
from tokenomy.audit.importers.agent_data import from_miniswe, from_taubench
from tokenomy.audit.pricing import GenaiPricesTable
from tokenomy.interfaces.cli import main
from tokenomy.interfaces.loaders.agent_data import load_miniswe, load_schedule, load_taubench

pytestmark = pytest.mark.data


@pytest.fixture
def miniswe(need_data: Callable[..., Path]):  # type: ignore[no-untyped-def]
    return load_miniswe(need_data("agent", "miniswe_gemini3pro_swebv"))


def test_miniswe_full_audit_matches_dataset_facts(miniswe) -> None:  # type: ignore[no-untyped-def]
    log = from_miniswe(miniswe)
    assert len(log.steps) == 20163 and len(log.requests) == 500
    res = run_audit(log, GenaiPricesTable(), schedule=load_schedule())
    tot = res.totals()
    assert tot["resolved_or_quality_sum"] == 371
    f = {x.mode: x for x in res.findings}
    assert f["waste"].details["share_of_cost"] == pytest.approx(0.070, abs=0.002)  # README: 7.0%
    assert f["cache_misuse"].details["cache_read_share_overall"] == pytest.approx(0.838, abs=0.001)  # 83.8%
    assert not f["over_delegation"].applicable and "confirmation" in f["over_delegation"].reason
    assert f["under_verification"].applicable and f["under_verification"].labels == ("observational",)
    # recomputed from tokens at Gemini 3 Pro's list price vs the provider-reported cost: within 5 %
    assert tot["cost_usd"] == pytest.approx(tot["reported_cost_usd"], rel=0.05)
    assert tot["reported_cost_usd"] == pytest.approx(229.98, abs=0.005)  # README: $229.98 total
    assert tot["cost_per_resolved_usd"] == pytest.approx(0.62, abs=0.005)  # README: $0.62 per resolved
    vc = res.verification
    assert (
        vc is not None
        and sum(r["tasks"] for r in vc["rows"]) == f["under_verification"].details["tasks_edited"]
    )
    assert "observational" in vc["label"]
    rows = {r["step"]: r for r in res.stopping["rows"]} if res.stopping else {}
    # README: median prompt tokens grow 1,647 (step 0) -> 14,176 (step 20) -> 32,281 (step 60)
    assert [rows[k]["median_prompt_tokens"] for k in (0, 20, 60)] == [1647, 14176, 32281]


def test_taubench_over_delegation_reward_gap(need_data: Callable[..., Path]) -> None:
    eps = load_taubench(need_data("agent", "taubench_gpt4o_airline"))
    res = run_audit(from_taubench(eps), GenaiPricesTable(), schedule=load_schedule())
    od = {x.mode: x for x in res.findings}["over_delegation"]
    assert od.details["actions_needing_confirmation"] == 250 and od.count == 55  # README facts
    assert od.details["quality_with_unconfirmed"] == pytest.approx(0.15, abs=0.01)
    assert od.details["quality_all_confirmed"] == pytest.approx(0.29, abs=0.01)
    folder = need_data("agent", "taubench_gpt4o_airline")
    with gzip.open(folder / "steps.csv.gz", "rt", newline="") as f:
        defer = sum(r["autonomy_class"] == "defer" for r in csv.DictReader(f))
    assert od.details["handoffs"] == defer > 0  # transfer_to_human_agents calls, from the derived CSV
    assert res.totals()["cost_per_resolved_usd"] is None  # the agent's token costs are not in the data


def test_side_file_prices_override_defaults(miniswe, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from tokenomy.interfaces.loaders.pricefiles import load_labels

    some = miniswe[:5]
    side = tmp_path / "labels.csv"
    side.write_text("request_id,v_usd,quality\n" + f"{some[0].instance_id},250,0\n")
    log = from_miniswe(some, side=load_labels(side))
    rq = log.requests
    assert rq.v_usd[0] == 250.0 and rq.sources["v"][0] == "user" and rq.quality[0] == 0.0
    assert np.all(rq.v_usd[1:] == 10.0) and set(rq.sources["v"][1:]) == {"default"}


def test_cli_writes_report_and_json(need_data: Callable[..., Path], tmp_path: Path) -> None:
    folder = need_data("agent", "taubench_gpt4o_airline")
    out = tmp_path / "a.json"
    rc = main(["audit", str(folder), "--report", str(tmp_path / "a.html"), "--json", str(out), "--v", "20"])
    assert rc == 0
    payload = json.loads(out.read_text())
    assert {"requests", "totals", "failure_modes"} <= set(payload)
    for k in ("value_usd", "cost_usd", "latency_cost_usd", "risk_cost_usd", "welfare_usd"):
        assert k in payload["totals"]
    assert all({"applicable", "count", "impact_usd"} <= set(m) for m in payload["failure_modes"].values())
    assert payload["prices"]["v_usd"]["sources"] == {"user": 200}
    html = (tmp_path / "a.html").read_text()
    assert html.count("<svg") >= 2 and "The input carries no cost" in html  # no cost in tau-bench: no scatter
