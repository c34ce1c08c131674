"""The vectorised OTLP importer gives exactly the row importer's log, and hands over what it cannot map."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_otlp import write_agent_trace

from tokenomy.audit.importers.otlp import OtlpImporter
from tokenomy.audit.log import STEP_COLUMNS, AuditLog
from tokenomy.core.errors import SchemaError
from tokenomy.interfaces.loaders.otlp import _fast_file, load_otlp

TRACE = "5b8efff798038103d269b633813fc60c"


def av(v: Any) -> dict[str, Any]:
    if isinstance(v, bool):
        return {"boolValue": v}
    if isinstance(v, int):
        return {"intValue": str(v)}
    if isinstance(v, float):
        return {"doubleValue": v}
    return {"stringValue": v}


def span(trace: str, k: int, parent: str = "", **attrs: Any) -> dict[str, Any]:
    return {
        "traceId": trace,
        "spanId": f"{k + 1:016x}",
        "parentSpanId": parent,
        "name": f"span-{k}",
        "startTimeUnixNano": str(1_700_000_000_000_000_000 + (100 - k) * 10**6),
        "endTimeUnixNano": str(1_700_000_000_000_000_000 + (100 - k) * 10**6 + 5 * 10**8),
        "attributes": [{"key": key.replace("__", "."), "value": av(v)} for key, v in attrs.items()],
        "status": {"code": 2 if k == 3 else 0},
    }


def mixed_file(path: Path) -> Path:
    """Every mapping rule at once: ranks and aliases, OpenInference kinds, tools, labels on root and
    child spans over two export requests, a status error, duplicate keys, out-of-order start times."""
    other = "0af7651916cd43dd8448eb211c80319c"
    line1 = [
        span(TRACE, 0, gen_ai__operation__name="invoke_agent", tokenomy__v_usd=40.0, tokenomy__quality=1.0),
        span(
            TRACE,
            1,
            f"{1:016x}",
            gen_ai__operation__name="chat",
            gen_ai__system="openai",
            gen_ai__provider__name="azure.ai.openai",
            gen_ai__request__model="gpt-4o",
            gen_ai__response__model="gpt-4o-2024-08-06",
            gen_ai__usage__prompt_tokens=900,
            gen_ai__usage__input_tokens=1000,
            gen_ai__usage__output_tokens=200,
            gen_ai__usage__cache_read__input_tokens=600,
            gen_ai__usage__reasoning__output_tokens=50,
        ),
        span(
            TRACE,
            2,
            f"{1:016x}",
            openinference__span__kind="LLM",
            llm__model_name="my-private-model",
            llm__token_count__prompt=500,
            llm__token_count__completion=50,
            llm__cost__total=0.01,
            tokenomy__quality=0.0,
            input__value="the prompt, not a tool's arguments",
        ),
        span(
            TRACE,
            3,
            f"{1:016x}",
            gen_ai__operation__name="execute_tool",
            gen_ai__tool__name="cancel_reservation",
            tool__parameters='{"ranked": "below gen_ai"}',
            gen_ai__tool__call__arguments='{"reservation_id": "ZFA04Y"}',
            tokenomy__confirmed=False,
            tokenomy__correct=True,
        ),
        span(
            other,
            4,
            openinference__span__kind="TOOL",
            tool__name="read_file",
            tokenomy__autonomy_class="read",
            input__value='{"path": "a.txt"}',
        ),
        span(other, 5, gen_ai__usage__input_tokens=10, tokenomy__malformed=True, tokenomy__group="tenant-a"),
        span(other, 8, openinference__span__kind="LLM", llm__cost__prompt=0.002, llm__cost__completion=0.003),
    ]
    line1[1]["attributes"].append({"key": "gen_ai.request.model", "value": {"stringValue": "ignored"}})
    finish = {"arrayValue": {"values": [{"stringValue": "stop"}]}}  # an array attribute nobody reads
    line1[1]["attributes"].append({"key": "gen_ai.response.finish_reasons", "value": finish})
    line2 = [
        span(other, 6, tokenomy__v_usd=7.0, tokenomy__rho_usd=3),
        span(TRACE, 7, f"{1:016x}", tokenomy__v_usd=99.0, gen_ai__operation__name="embeddings"),
    ]
    with path.open("w") as f:
        for spans in (line1, line2):
            f.write(json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]}) + "\n")
        f.write("\n")
    return path


def assert_same(a: AuditLog, b: AuditLog) -> None:
    assert len(a.steps) == len(b.steps) > 0
    for name in (*STEP_COLUMNS, "cost_usd"):
        x, y = getattr(a.steps, name), getattr(b.steps, name)
        if x.dtype.kind == "f":
            np.testing.assert_array_equal(x, y, err_msg=name)
        else:
            assert x.tolist() == y.tolist(), name
    ra, rb = a.requests, b.requests
    assert ra.request_id.tolist() == rb.request_id.tolist()
    for name in ("v_usd", "lam_usd_per_s", "rho_usd", "rho_irr_usd", "quality", "harm", "harm_irr"):
        np.testing.assert_array_equal(getattr(ra, name), getattr(rb, name), err_msg=name)
    assert ra.group.tolist() == rb.group.tolist()
    assert {k: v.tolist() for k, v in ra.sources.items()} == {k: v.tolist() for k, v in rb.sources.items()}


def both(path: Path) -> tuple[AuditLog, AuditLog]:
    imp = OtlpImporter()
    assert _fast_file(imp, path, None), "the vectorised importer declined a clean file"
    fast, _ = imp.finish(), None
    slow, _ = load_otlp([path], fast=False)
    return fast, slow


def test_sdk_file_same_log_both_ways(tmp_path: Path) -> None:
    path = tmp_path / "sdk.jsonl"
    write_agent_trace(path)
    fast, slow = both(path)
    assert_same(fast, slow)


def test_every_mapping_rule_same_log_both_ways(tmp_path: Path) -> None:
    fast, slow = both(mixed_file(tmp_path / "mixed.jsonl"))
    assert_same(fast, slow)
    s = fast.steps
    i = s.step_id.tolist().index(f"{2:016x}")
    assert (s.model[i], s.provider[i], s.input_tokens[i]) == ("gpt-4o-2024-08-06", "azure.ai.openai", 1000)
    j = s.step_id.tolist().index(f"{9:016x}")
    assert s.reported_cost_usd[j] == pytest.approx(0.005)  # OpenInference cost parts, summed
    args = dict(zip(s.step_id.tolist(), s.tool_args.tolist(), strict=True))
    assert args[f"{4:016x}"] == '{"reservation_id": "ZFA04Y"}'  # GenAI's name outranks OpenInference's
    assert args[f"{5:016x}"] == '{"path": "a.txt"}' and args[f"{3:016x}"] == ""  # input.value: tools only
    rq = fast.requests
    k = rq.request_id.tolist().index(TRACE)
    assert rq.v_usd[k] == 40.0 and rq.quality[k] == 1.0  # the root span's labels win


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (lambda sp: sp.update(spanId="not-hex-at-all!!"), "spanId must be a 16-character hex string"),
        (
            lambda sp: sp["attributes"].append(
                {"key": "gen_ai.usage.input_tokens", "value": {"stringValue": "9"}}
            ),
            None,
        ),
        (
            lambda sp: sp["attributes"].append(
                {"key": "gen_ai.request.model", "value": {"arrayValue": {"values": []}}}
            ),
            None,
        ),
    ],
)
def test_what_it_cannot_map_goes_to_the_row_importer(tmp_path: Path, change: Any, error: str | None) -> None:
    sp = span(TRACE, 0, gen_ai__operation__name="chat")
    change(sp)
    path = tmp_path / "odd.jsonl"
    path.write_text(json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [sp]}]}]}) + "\n")
    assert not _fast_file(OtlpImporter(), path, None)
    if error:
        with pytest.raises(SchemaError, match=f"odd.jsonl:1: {error}"):
            load_otlp([path])
    else:
        log, _ = load_otlp([path])
        assert len(log.steps) == 1


def test_malformed_line_still_named_with_fast_path_on(tmp_path: Path) -> None:
    path = mixed_file(tmp_path / "m.jsonl")
    path.write_text(path.read_text() + "{oops\n")
    with pytest.raises(SchemaError, match=r"m\.jsonl:4: invalid JSON"):
        load_otlp([path])
    log, bad = load_otlp([path], skip_bad=True)
    assert bad.count == 1 and len(log.steps) == 9
