"""OTLP import: files written by the real opentelemetry-sdk through a JSON-lines file exporter."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from otlp_export import FileSpanExporter

from tokenomy.audit.engine import run_audit
from tokenomy.audit.pricing import ChainedPriceTable, GenaiPricesTable, StaticPriceTable
from tokenomy.core.errors import SchemaError
from tokenomy.interfaces.loaders.agent_data import load_schedule
from tokenomy.interfaces.loaders.otlp import load_otlp


def write_agent_trace(path: Path) -> dict[str, str]:
    """One agent trace: an invoke_agent span, two chat calls (current and deprecated names, and one
    OpenInference span), one execute_tool commit without confirmation. Returns the ids the SDK chose."""
    provider = TracerProvider(resource=Resource.create({"service.name": "agent"}))
    provider.add_span_processor(SimpleSpanProcessor(FileSpanExporter(path)))
    tracer = provider.get_tracer("test")
    ids: dict[str, str] = {}
    with tracer.start_as_current_span(
        "invoke_agent",
        attributes={"gen_ai.operation.name": "invoke_agent", "tokenomy.v_usd": 50.0, "tokenomy.quality": 1.0},
    ) as root:
        ids["trace"] = f"{root.get_span_context().trace_id:032x}"
        ids["root"] = f"{root.get_span_context().span_id:016x}"
        with tracer.start_as_current_span(
            "chat gpt-4o",
            attributes={
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": "openai",
                "gen_ai.request.model": "gpt-4o",
                "gen_ai.response.model": "gpt-4o-2024-08-06",
                "gen_ai.usage.input_tokens": 1200,
                "gen_ai.usage.output_tokens": 300,
                "gen_ai.usage.cache_read.input_tokens": 1000,
            },
        ) as s1:
            ids["chat1"] = f"{s1.get_span_context().span_id:016x}"
        with tracer.start_as_current_span(
            "chat old",
            attributes={
                "gen_ai.operation.name": "chat",
                "gen_ai.system": "openai",
                "gen_ai.request.model": "gpt-4o",
                "gen_ai.usage.prompt_tokens": 2000,
                "gen_ai.usage.completion_tokens": 100,
            },
        ):
            pass
        with tracer.start_as_current_span(
            "llm",
            attributes={
                "openinference.span.kind": "LLM",
                "llm.model_name": "my-private-model",
                "llm.token_count.prompt": 500,
                "llm.token_count.completion": 50,
                "llm.cost.total": 0.01,
            },
        ):
            pass
        with tracer.start_as_current_span(
            "execute_tool cancel_reservation",
            attributes={
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": "cancel_reservation",
                "tokenomy.confirmed": False,
            },
        ):
            pass
    provider.shutdown()
    return ids


@pytest.fixture
def trace_file(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    path = tmp_path / "traces.jsonl"
    return path, write_agent_trace(path)


def test_sdk_file_is_one_export_request_per_line(trace_file: tuple[Path, dict[str, str]]) -> None:
    path, _ = trace_file
    lines = path.read_text().splitlines()
    assert len(lines) == 5  # SimpleSpanProcessor exports each span as it ends
    assert all("resourceSpans" in json.loads(x) for x in lines)


def test_ids_kept_exactly_and_mapping_table_applies_to_all_conventions(
    trace_file: tuple[Path, dict[str, str]],
) -> None:
    path, ids = trace_file
    log, bad = load_otlp([path])
    s = log.steps
    assert bad.count == 0 and len(s) == 5
    assert set(s.request_id.tolist()) == {ids["trace"]}
    assert ids["root"] in s.step_id.tolist() and ids["chat1"] in s.step_id.tolist()
    assert (s.parent_id[s.step_id != ids["root"]] == ids["root"]).all()
    chat1 = s.step_id == ids["chat1"]
    assert s.model[chat1][0] == "gpt-4o-2024-08-06"  # response model wins over request model
    assert s.cache_read_tokens[chat1][0] == 1000
    old = s.input_tokens == 2000
    assert s.output_tokens[old][0] == 100 and s.provider[old][0] == "openai"  # deprecated names
    oi = s.model == "my-private-model"
    assert s.kind[oi][0] == "llm" and s.reported_cost_usd[oi][0] == pytest.approx(0.01)
    tool = s.kind == "tool"
    assert s.tool[tool][0] == "cancel_reservation" and s.autonomy_class[tool][0] == ""  # classed later
    assert s.confirmed[tool][0] == 0
    assert list(s.index) == [0, 1, 2, 3, 4]  # ordered by start time within the trace
    assert log.requests.v_usd[0] == 50.0 and log.requests.sources["v"][0] == "user"
    assert log.requests.quality[0] == 1.0


def test_unknown_model_is_reported_not_priced_zero(trace_file: tuple[Path, dict[str, str]]) -> None:
    path, _ = trace_file
    log, _ = load_otlp([path])
    res = run_audit(log, GenaiPricesTable())
    assert res.pricing.unknown_models == {"my-private-model": 1}
    oi = log.steps.model == "my-private-model"
    assert res.pricing.cost_usd[oi][0] == pytest.approx(0.01)  # falls back to the reported cost, flagged
    zero = run_audit(log, GenaiPricesTable(), unknown_zero=True)
    assert zero.pricing.cost_usd[oi][0] == 0.0
    over = StaticPriceTable.from_override(
        {"models": {"my-private-model": {"input_usd_per_mtok": 1.0, "output_usd_per_mtok": 2.0}}}
    )
    priced = run_audit(log, ChainedPriceTable([over, GenaiPricesTable()]))
    assert priced.pricing.unknown_models == {}
    assert priced.pricing.cost_usd[oi][0] == pytest.approx((500 * 1.0 + 50 * 2.0) / 1e6)


def test_over_delegation_found_in_otlp(trace_file: tuple[Path, dict[str, str]]) -> None:
    path, ids = trace_file
    log, _ = load_otlp([path])
    res = run_audit(log, GenaiPricesTable(), schedule=load_schedule())
    tool = res.log.steps.kind == "tool"
    assert res.log.steps.autonomy_class[tool][0] == "commit"  # the schedule's [tools] entry
    f = {x.mode: x for x in res.findings}["over_delegation"]
    assert f.applicable and f.count == 1 and f.examples[0]["request_id"] == ids["trace"]


def test_malformed_line_stops_with_file_and_line(trace_file: tuple[Path, dict[str, str]]) -> None:
    path, _ = trace_file
    lines = path.read_text().splitlines()
    lines.insert(2, '{"resourceSpans": [ broken')
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(SchemaError, match=rf"{path.name}:3: invalid JSON"):
        load_otlp([path])
    log, bad = load_otlp([path], skip_bad=True)
    assert bad.count == 1 and len(log.steps) == 5


def test_bad_span_id_is_schema_error_and_skip_keeps_line_atomic(tmp_path: Path) -> None:
    good = {
        "traceId": "0af7651916cd43dd8448eb211c80319c",
        "spanId": "b7ad6b7169203331",
        "startTimeUnixNano": "1",
        "endTimeUnixNano": "2",
        "attributes": [],
    }
    bad_span = dict(good, spanId="AAECAwQFBgc=")  # base64, as generic protobuf JSON would write
    req = {"resourceSpans": [{"scopeSpans": [{"spans": [good, bad_span]}]}]}
    path = tmp_path / "x.jsonl"
    path.write_text(
        json.dumps(req) + "\n" + json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [good]}]}]}) + "\n"
    )
    with pytest.raises(SchemaError, match=r"x.jsonl:1: spanId must be a 16-character hex string"):
        load_otlp([path])
    log, bad = load_otlp([path], skip_bad=True)
    assert bad.count == 1 and len(log.steps) == 1  # the bad line added none of its spans


def test_whole_json_document(tmp_path: Path, trace_file: tuple[Path, dict[str, str]]) -> None:
    path, ids = trace_file
    doc = [json.loads(x) for x in path.read_text().splitlines()]
    whole = tmp_path / "all.json"
    whole.write_text(json.dumps(doc, indent=2))
    log, _ = load_otlp([whole])
    assert len(log.steps) == 5 and log.steps.request_id[0] == ids["trace"]
    assert np.isfinite(log.steps.latency_s).all()
