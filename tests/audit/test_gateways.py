"""LiteLLM spend logs and Langfuse observations, written in the tests to their documented schemas."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import pytest
from genai_prices import Usage, calc_price

from tokenomy.audit.engine import run_audit
from tokenomy.audit.pricing import GenaiPricesTable
from tokenomy.core.errors import SchemaError
from tokenomy.interfaces.loaders.agent_data import load_schedule
from tokenomy.interfaces.loaders.langfuse import load_langfuse
from tokenomy.interfaces.loaders.litellm import load_litellm

SPEND_ROWS = [  # LiteLLM_SpendLogs columns
    {
        "request_id": "chatcmpl-1",
        "call_type": "acompletion",
        "api_key": "hashed",
        "spend": 0.0040,
        "total_tokens": 1300,
        "prompt_tokens": 1000,
        "completion_tokens": 300,
        "startTime": "2024-06-01T10:00:00Z",
        "endTime": "2024-06-01T10:00:02.5Z",
        "model": "gpt-4o",
        "model_group": "gpt-4o",
        "custom_llm_provider": "openai",
        "api_base": "https://api.openai.com",
        "user": "u1",
        "metadata": json.dumps(
            {
                "usage_object": {
                    "prompt_tokens": 1000,
                    "completion_tokens": 300,
                    "prompt_tokens_details": {"cached_tokens": 600},
                }
            }
        ),
        "cache_hit": "False",
        "cache_key": "",
        "request_tags": "[]",
        "team_id": "t",
        "end_user": "",
        "session_id": "sess-A",
        "status": "success",
    },
    {
        "request_id": "chatcmpl-2",
        "call_type": "acompletion",
        "spend": 0.0100,
        "total_tokens": 2100,
        "prompt_tokens": 2000,
        "completion_tokens": 100,
        "startTime": "2024-06-01T10:00:05Z",
        "endTime": "2024-06-01T10:00:06Z",
        "model": "gpt-4o",
        "custom_llm_provider": "openai",
        "metadata": "{}",
        "session_id": "sess-A",
        "status": "success",
    },
]


def test_spend_logs_json_keep_reported_cost_beside_recomputed(tmp_path: Path) -> None:
    path = tmp_path / "spend.json"
    path.write_text(json.dumps(SPEND_ROWS))
    log, bad = load_litellm([path])
    assert bad.count == 0 and len(log.steps) == 2 and set(log.steps.request_id) == {"sess-A"}
    assert log.steps.cache_read_tokens.tolist() == [600, 0]
    assert log.steps.latency_s[0] == pytest.approx(2.5)
    res = run_audit(log, GenaiPricesTable())
    assert res.pricing.unknown_models == {}
    # genai-prices 0.2.3 has one gpt-4o price for every date ($2.50 / $10 per MTok input / output, cached
    # input $1.25): the recomputed cost is genai-prices' own per-call figure at the call's date
    when = dt.datetime(2024, 6, 1, 10, tzinfo=dt.UTC)
    expect = [
        float(
            calc_price(
                Usage(input_tokens=i, output_tokens=o, cache_read_tokens=c),
                "gpt-4o",
                provider_id="openai",
                genai_request_timestamp=when,
            ).total_price
        )
        for i, o, c in ((1000, 300, 600), (2000, 100, 0))
    ]
    assert res.pricing.cost_usd.tolist() == pytest.approx(expect, rel=1e-9)
    assert res.totals()["reported_cost_usd"] == pytest.approx(0.014)


def test_spend_logs_are_priced_at_their_date(tmp_path: Path) -> None:
    """Time-versioned prices: genai-prices raises ministral-8b-latest (mistral) on 2025-12-02; the same
    call logged before and after is priced at the rates of its own date."""
    rows = [
        dict(
            SPEND_ROWS[1],
            request_id=f"c-{d}",
            session_id=f"s-{d}",
            model="ministral-8b-latest",
            custom_llm_provider="mistral",
            startTime=f"{d}T10:00:00Z",
            endTime=f"{d}T10:00:01Z",
        )
        for d in ("2025-11-01", "2026-01-01")
    ]
    path = tmp_path / "spend.json"
    path.write_text(json.dumps(rows))
    log, _ = load_litellm([path])
    res = run_audit(log, GenaiPricesTable())
    expect = [
        float(
            calc_price(
                Usage(input_tokens=2000, output_tokens=100),
                "ministral-8b-latest",
                provider_id="mistral",
                genai_request_timestamp=dt.datetime.fromisoformat(f"{d}T10:00:00+00:00"),
            ).total_price
        )
        for d in ("2025-11-01", "2026-01-01")
    ]
    assert expect[1] > expect[0]  # the data really changed the price between the two dates
    order = [log.steps.step_id.tolist().index(f"c-{d}") for d in ("2025-11-01", "2026-01-01")]
    assert res.pricing.cost_usd[order].tolist() == pytest.approx(expect, rel=1e-9)
    assert len(res.pricing.cards) == 2  # one rate card per date


def test_spend_logs_csv_and_standard_logging_payload_jsonl(tmp_path: Path) -> None:
    csv_path = tmp_path / "spend.csv"
    with csv_path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(SPEND_ROWS[0]))
        w.writeheader()
        w.writerow(SPEND_ROWS[0])
    log, _ = load_litellm([csv_path])
    assert log.steps.input_tokens.tolist() == [1000] and log.steps.reported_cost_usd[0] == pytest.approx(
        0.004
    )
    slp = {
        "id": "abc",
        "trace_id": "trace-9",
        "call_type": "completion",
        "response_cost": 0.002,
        "status": "success",
        "total_tokens": 150,
        "prompt_tokens": 100,
        "completion_tokens": 50,
        "startTime": 1717236000.0,
        "endTime": 1717236001.5,
        "model": "claude-3-5-sonnet-20240620",
        "custom_llm_provider": "anthropic",
        "metadata": {"usage_object": {"cache_read_input_tokens": 40, "cache_creation_input_tokens": 10}},
    }
    jl = tmp_path / "slp.jsonl"
    jl.write_text(json.dumps(slp) + "\n" + json.dumps(dict(slp, id="abd", status="failure")) + "\n")
    log, _ = load_litellm([jl])
    assert log.steps.request_id.tolist() == ["trace-9", "trace-9"]
    assert log.steps.cache_read_tokens.tolist() == [40, 40] and log.steps.cache_write_tokens.tolist() == [
        10,
        10,
    ]
    assert log.steps.error.tolist() == [False, True]
    assert log.steps.latency_s[0] == pytest.approx(1.5)


def test_litellm_bad_line_and_missing_field(tmp_path: Path) -> None:
    jl = tmp_path / "s.jsonl"
    jl.write_text(json.dumps(SPEND_ROWS[0]) + "\n" + json.dumps({"model": "gpt-4o"}) + "\n")
    with pytest.raises(SchemaError, match=r"s.jsonl:2: missing field 'request_id'"):
        load_litellm([jl])
    log, bad = load_litellm([jl], skip_bad=True)
    assert bad.count == 1 and len(log.steps) == 1


OBSERVATIONS = {
    "data": [  # Langfuse public API observations page
        {
            "id": "obs-1",
            "traceId": "tr-1",
            "type": "GENERATION",
            "name": "chat",
            "startTime": "2025-03-01T12:00:00.000Z",
            "endTime": "2025-03-01T12:00:03.000Z",
            "parentObservationId": "obs-0",
            "model": "gpt-4o-mini",
            "usageDetails": {"input": 800, "output": 200, "total": 1000, "input_cached_tokens": 200},
            "costDetails": {"input": 0.00015, "output": 0.00012, "total": 0.00027},
            "level": "DEFAULT",
            "metadata": {},
        },
        {
            "id": "obs-0",
            "traceId": "tr-1",
            "type": "AGENT",
            "name": "agent",
            "startTime": "2025-03-01T11:59:59Z",
            "endTime": "2025-03-01T12:00:10Z",
        },
        {
            "id": "obs-2",
            "traceId": "tr-1",
            "type": "TOOL",
            "name": "delete_record",
            "startTime": "2025-03-01T12:00:04Z",
            "endTime": "2025-03-01T12:00:05Z",
            "parentObservationId": "obs-0",
            "metadata": {"tokenomy.confirmed": False},
        },
    ],
    "meta": {"page": 1},
}


def test_langfuse_observations(tmp_path: Path) -> None:
    path = tmp_path / "obs.json"
    path.write_text(json.dumps(OBSERVATIONS))
    log, _ = load_langfuse([path])
    s = log.steps
    assert s.step_id.tolist() == ["obs-0", "obs-1", "obs-2"]  # ordered by start time
    gen = s.step_id == "obs-1"
    assert s.kind[gen][0] == "llm" and s.input_tokens[gen][0] == 1000 and s.cache_read_tokens[gen][0] == 200
    assert s.reported_cost_usd[gen][0] == pytest.approx(0.00027)
    tool = s.kind == "tool"
    assert s.autonomy_class[tool][0] == "" and s.confirmed[tool][0] == 0  # classed by the audit
    res = run_audit(log, GenaiPricesTable(), schedule=load_schedule())
    # no [tools] entry or pattern names delete_record: unknown, which the schedule makes "confirm"
    assert res.log.steps.autonomy_class[tool][0] == "unknown"
    assert {f.mode: f for f in res.findings}["over_delegation"].count == 1
    assert res.pricing.cost_usd[gen][0] > 0


def test_langfuse_missing_trace_id_names_the_record(tmp_path: Path) -> None:
    path = tmp_path / "obs.json"
    path.write_text(json.dumps([{"id": "x", "type": "GENERATION"}]))
    with pytest.raises(SchemaError, match=r"obs.json record 0: missing field 'traceId'"):
        load_langfuse([path])
