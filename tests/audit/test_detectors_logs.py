"""Log-level detectors (cache misuse, waste) and the stopping margin on hand-built logs with known answers."""

from __future__ import annotations

from typing import Any

import pytest

from tokenomy.audit.engine import run_audit
from tokenomy.audit.importers.common import build_requests
from tokenomy.audit.log import AuditLog, StepBuilder
from tokenomy.audit.pricing import StaticPriceTable

# $1 / M input, $2 / M output, $0.10 / M cache read, $1.25 / M cache write
TABLE = StaticPriceTable.from_override(
    {
        "models": {
            "m": {
                "input_usd_per_mtok": 1.0,
                "output_usd_per_mtok": 2.0,
                "cache_read_usd_per_mtok": 0.1,
                "cache_write_usd_per_mtok": 1.25,
            }
        }
    }
)


def log_of(calls: list[dict[str, Any]], quality: dict[str, float] | None = None) -> AuditLog:
    b = StepBuilder()
    index: dict[str, int] = {}
    for c in calls:
        rid = c["request_id"]
        k = index.get(rid, 0)
        index[rid] = k + 1
        b.add(step_id=f"{rid}:{k}", index=k, model="m", **c)
    steps = b.build()
    known = {r: {"quality": q} for r, q in (quality or {}).items()}
    caps = ("cache_tokens", "malformed", "errors", *(("outcomes",) if quality else ()))
    return AuditLog(
        "test", steps, build_requests(steps.request_id.tolist(), known), (), {"capabilities": caps}
    )


def findings(log: AuditLog):  # type: ignore[no-untyped-def]
    res = run_audit(log, TABLE)
    return res, {f.mode: f for f in res.findings}


def test_lost_prefix_is_priced_at_the_cache_read_discount() -> None:
    calls = [
        {"request_id": "a", "input_tokens": 1000, "output_tokens": 10},
        {"request_id": "a", "input_tokens": 2000, "output_tokens": 10, "cache_read_tokens": 900},  # kept
        {"request_id": "a", "input_tokens": 3000, "output_tokens": 10},  # lost the 2,000-token prefix
        {"request_id": "b", "input_tokens": 500, "output_tokens": 10},  # a new request: nothing to lose
    ]
    _, f = findings(log_of(calls))
    cm = f["cache_misuse"]
    assert cm.details["lost_prefix_calls"] == 1
    assert cm.details["lost_prefix_usd"] == pytest.approx(2000 * (1.0 - 0.1) / 1e6)
    assert cm.details["cache_read_share_overall"] == pytest.approx(900 / 6500)
    assert [e["request_id"] for e in cm.examples] == ["a"]


def test_cache_write_that_is_never_read_does_not_pay_back() -> None:
    calls = [
        {"request_id": "w", "input_tokens": 1000, "output_tokens": 0, "cache_write_tokens": 1000},
        {"request_id": "w", "input_tokens": 100, "output_tokens": 0},  # shrank: no lost prefix either
    ]
    _, f = findings(log_of(calls))
    cm = f["cache_misuse"]
    assert cm.details["unpaid_write_requests"] == 1
    assert cm.details["unpaid_writes_usd"] == pytest.approx(1000 * (1.25 - 1.0) / 1e6)
    read_back = [
        *calls,
        {"request_id": "w", "input_tokens": 1000, "output_tokens": 0, "cache_read_tokens": 1000},
    ]
    assert findings(log_of(read_back))[1]["cache_misuse"].details["unpaid_write_requests"] == 0


def test_waste_is_the_cost_of_malformed_and_failed_calls() -> None:
    calls = [
        {"request_id": "a", "input_tokens": 1000, "output_tokens": 100},
        {"request_id": "a", "input_tokens": 1000, "output_tokens": 100, "malformed": True},
        {"request_id": "b", "input_tokens": 2000, "output_tokens": 0, "error": True},
    ]
    res, f = findings(log_of(calls))
    w = f["waste"]
    assert w.count == 2 and w.details["malformed"] == 1 and w.details["failed"] == 1
    assert w.impact_usd == pytest.approx((1000 * 1 + 100 * 2) / 1e6 + 2000 / 1e6)
    assert w.details["share_of_cost"] == pytest.approx(w.impact_usd / res.totals()["cost_usd"])


def test_stopping_margin_is_after_the_last_step_worth_its_cost() -> None:
    # 4 tasks; each step costs $0.0012 (1000 in, 100 out). Tasks resolve after 1, 2, 2 steps; one
    # fails after 6. The resolution hazard, summed over a centred window of 5 steps, is 2/7 at step 3
    # (resolutions at steps 1 over running 3+1+1+1+1) and 0 from step 4 on: the margin is step 4, and
    # the failing task's steps 4 and 5 are spent beyond it.
    calls, quality = [], {}
    for rid, n, q in (("t1", 1, 1.0), ("t2", 2, 1.0), ("t3", 2, 1.0), ("t4", 6, 0.0)):
        calls += [{"request_id": rid, "input_tokens": 1000, "output_tokens": 100} for _ in range(n)]
        quality[rid] = q
    res, _ = findings(log_of(calls, quality))
    sm = res.stopping
    assert sm is not None and "observational" in sm["label"]
    rows = {r["step"]: r for r in sm["rows"]}
    assert rows[0]["mean_step_cost_usd"] == pytest.approx(0.0012)
    assert rows[0]["running"] == 4 and rows[2]["running"] == 1
    assert rows[3]["hazard"] == pytest.approx(2 / 7) and rows[4]["hazard"] == 0.0
    assert sm["margin_step"] == 4
    assert sm["cost_beyond_margin_usd"] == pytest.approx(2 * 0.0012)
