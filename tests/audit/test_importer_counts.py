"""Token counts a bill could be lowered by (negative, fractional, absurd) are rejected with the place and
the field in every importer; and the costs of cache hits, reasoning tokens, embedding spans and logs
that lack a count pricing needs are what the log supports, with the bound said when not exact."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from importer_files import jsonl, langfuse_obs, litellm_row, miniswe_folder, miniswe_step, otlp_file, span

from tokenomy.audit.engine import run_audit
from tokenomy.audit.log import MAX_TOKENS_PER_CALL
from tokenomy.audit.pricing import StaticPriceTable
from tokenomy.core.errors import SchemaError
from tokenomy.interfaces.loaders.agent_data import load_miniswe
from tokenomy.interfaces.loaders.langfuse import load_langfuse
from tokenomy.interfaces.loaders.litellm import load_litellm
from tokenomy.interfaces.loaders.otlp import load_otlp

# $2.50 / $10 per M, cache reads $1.25; cache writes at the input rate (OpenAI), or $3.75 (a premium,
# as Anthropic's)
TABLE = StaticPriceTable.from_override(
    {
        "models": {
            m: {
                "input_usd_per_mtok": 2.5,
                "output_usd_per_mtok": 10.0,
                "cache_read_usd_per_mtok": 1.25,
                "cache_write_usd_per_mtok": 3.75 if m.startswith("claude") else 2.5,
            }
            for m in ("gpt-4o", "text-embedding-3-small", "claude-sonnet-4")
        }
    }
)
ABSURD = MAX_TOKENS_PER_CALL + 1


def test_sanity_bound_is_documented() -> None:
    assert MAX_TOKENS_PER_CALL == 10**9
    assert "10^9" in (Path(__file__).parents[2] / "docs" / "audit.md").read_text()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("prompt_tokens", -500),
        ("completion_tokens", 2.5),
        ("prompt_tokens", ABSURD),
        ("completion_tokens", "x"),
    ],
)
def test_litellm_bad_count_names_line_and_field(tmp_path: Path, field: str, value: object) -> None:
    path = jsonl(tmp_path / "s.jsonl", [litellm_row("r1"), litellm_row("r2", **{field: value})])
    with pytest.raises(SchemaError, match=rf"s\.jsonl:2\b.*{field}"):
        load_litellm([path])
    log, bad = load_litellm([path], skip_bad=True)
    assert bad.count == 1 and len(log.steps) == 1
    assert int(log.steps.input_tokens.min()) >= 0


def test_litellm_negative_cached_count_is_rejected(tmp_path: Path) -> None:
    meta = json.dumps({"usage_object": {"prompt_tokens_details": {"cached_tokens": -900}}})
    path = jsonl(tmp_path / "s.jsonl", [litellm_row("r1", metadata=meta)])
    with pytest.raises(SchemaError, match=r"s\.jsonl:1\b.*cached_tokens"):
        load_litellm([path])


@pytest.mark.parametrize(
    "usage",
    [
        {"input": -1000, "output": 300},
        {"input": 1000, "output": 0.5},
        {"input": 1000, "output": ABSURD},
        {"input": 1000, "output": 300, "input_cached_tokens": -400},
    ],
)
def test_langfuse_bad_count_names_line_and_field(tmp_path: Path, usage: dict[str, object]) -> None:
    path = jsonl(tmp_path / "o.jsonl", [langfuse_obs("o1"), langfuse_obs("o2", usageDetails=usage)])
    with pytest.raises(SchemaError, match=r"o\.jsonl:2\b.*usageDetails\.(input|output)"):
        load_langfuse([path])
    log, bad = load_langfuse([path], skip_bad=True)
    assert bad.count == 1 and len(log.steps) == 1


@pytest.mark.parametrize("fast", [True, False])
def test_otlp_absurd_count_names_attribute(tmp_path: Path, fast: bool) -> None:
    s = span(
        "00f067aa0ba902b7", tokens={"gen_ai.usage.input_tokens": ABSURD, "gen_ai.usage.output_tokens": 1}
    )
    path = otlp_file(tmp_path / "t.jsonl", [[s]])
    with pytest.raises(SchemaError, match=r"t\.jsonl:1\b.*gen_ai\.usage\.input_tokens"):
        load_otlp([path], fast=fast)


@pytest.mark.parametrize(("field", "value"), [("prompt_tokens", -1000), ("cached_tokens", ABSURD)])
def test_miniswe_bad_count_names_line_and_field(tmp_path: Path, field: str, value: int) -> None:
    rows = [miniswe_step("a__a-1", 0), miniswe_step("a__a-1", 1, **{field: value})]
    with pytest.raises(SchemaError, match=rf"steps\.csv\.gz: line 3\b.*{field}"):
        load_miniswe(miniswe_folder(tmp_path, rows, {"a__a-1": 2}))


def test_litellm_cache_hit_costs_what_the_log_reports(tmp_path: Path) -> None:
    rows = [litellm_row("r1"), litellm_row("r2", cache_hit="True", spend=0.0)]
    log, _ = load_litellm([jsonl(tmp_path / "s.jsonl", rows)])
    res = run_audit(log, TABLE)
    by_id = dict(zip(res.log.steps.step_id.tolist(), res.pricing.cost_usd.tolist(), strict=True))
    assert by_id["r2"] == 0.0
    assert by_id["r1"] == pytest.approx((1000 * 2.5 + 300 * 10.0) / 1e6)
    drift = {r["request_id"]: r["cost_usd"] - r["reported_cost_usd"] for r in res.requests()}
    assert drift["r2"] == 0.0


def test_litellm_payload_cache_hit_bool(tmp_path: Path) -> None:
    rec = {k: v for k, v in litellm_row("").items() if k != "request_id"} | {
        "id": "p1",
        "cache_hit": True,
        "response_cost": 0.0,
    }
    log, _ = load_litellm([jsonl(tmp_path / "s.jsonl", [rec])])
    assert run_audit(log, TABLE).pricing.cost_usd.tolist() == [0.0]


def test_langfuse_reasoning_tokens_priced_as_output(tmp_path: Path) -> None:
    usage = {"input": 1000, "output": 200, "output_reasoning_tokens": 700}
    log, _ = load_langfuse([jsonl(tmp_path / "o.jsonl", [langfuse_obs("o1", usageDetails=usage)])])
    assert log.steps.output_tokens.tolist() == [900]
    assert log.steps.reasoning_tokens.tolist() == [700]
    cost = run_audit(log, TABLE).pricing.cost_usd
    assert cost.tolist() == [pytest.approx((1000 * 2.5 + 900 * 10.0) / 1e6)]


@pytest.mark.parametrize("fast", [True, False])
def test_openinference_embedding_model_name_is_read(tmp_path: Path, fast: bool) -> None:
    s = span("00f067aa0ba902b7", op="embeddings", model="")
    s["attributes"] = [
        {"key": "openinference.span.kind", "value": {"stringValue": "EMBEDDING"}},
        {"key": "embedding.model_name", "value": {"stringValue": "text-embedding-3-small"}},
        {"key": "llm.token_count.prompt", "value": {"intValue": "400"}},
    ]
    log, _ = load_otlp([otlp_file(tmp_path / "t.jsonl", [[s]])], fast=fast)
    assert log.steps.model.tolist() == ["text-embedding-3-small"]
    res = run_audit(log, TABLE)
    assert not res.pricing.unknown_models
    assert res.totals()["cost_is_upper_bound"] is False


@pytest.mark.parametrize("fast", [True, False])
def test_otel_chat_without_cached_count_is_an_upper_bound(tmp_path: Path, fast: bool) -> None:
    no_cache = span(
        "00f067aa0ba902b7", tokens={"gen_ai.usage.input_tokens": 1000, "gen_ai.usage.output_tokens": 10}
    )
    path = otlp_file(tmp_path / "t.jsonl", [[no_cache]])
    res = run_audit(load_otlp([path], fast=fast)[0], TABLE)
    tot = res.totals()
    assert tot["cost_is_upper_bound"] is True and tot["cost_is_lower_bound"] is False
    assert "cached" in tot["cost_bound_reason"]
    (req,) = res.requests()
    assert req["cost_is_upper_bound"] is True
    payload = res.as_dict()
    assert payload["totals"]["cost_is_upper_bound"] is True


@pytest.mark.parametrize("fast", [True, False])
def test_otel_chat_with_cached_counts_is_exact(tmp_path: Path, fast: bool) -> None:
    tok = {
        "gen_ai.usage.input_tokens": 1000,
        "gen_ai.usage.output_tokens": 10,
        "gen_ai.usage.cache_read.input_tokens": 600,
        "gen_ai.usage.cache_creation.input_tokens": 0,
    }
    path = otlp_file(tmp_path / "t.jsonl", [[span("00f067aa0ba902b7", tokens=tok)]])
    res = run_audit(load_otlp([path], fast=fast)[0], TABLE)
    tot = res.totals()
    assert tot["cost_is_upper_bound"] is False and tot["cost_is_lower_bound"] is False
    assert tot["cost_bound_reason"] == ""
    assert res.requests()[0]["cost_is_upper_bound"] is False


@pytest.mark.parametrize("fast", [True, False])
def test_cache_writes_unknown_at_a_premium_is_a_lower_bound(tmp_path: Path, fast: bool) -> None:
    tok = {
        "gen_ai.usage.input_tokens": 1000,
        "gen_ai.usage.output_tokens": 10,
        "gen_ai.usage.cache_read.input_tokens": 0,
    }
    path = otlp_file(tmp_path / "t.jsonl", [[span("00f067aa0ba902b7", model="claude-sonnet-4", tokens=tok)]])
    tot = run_audit(load_otlp([path], fast=fast)[0], TABLE).totals()
    assert tot["cost_is_lower_bound"] is True and tot["cost_is_upper_bound"] is False
    assert "cache-write" in tot["cost_bound_reason"]


def test_cost_bound_shown_in_report_cost_section(tmp_path: Path) -> None:
    from tokenomy.audit.report_audit import build_report

    tok = {"gen_ai.usage.input_tokens": 1000, "gen_ai.usage.output_tokens": 10}
    no_cache = span("00f067aa0ba902b7", tokens=tok)
    res = run_audit(load_otlp([otlp_file(tmp_path / "t.jsonl", [[no_cache]])])[0], TABLE)
    payload = res.as_dict()
    html = build_report(res, payload).render()
    assert "The cost is an upper bound" in html
    assert "at most this" in html
    assert np.isfinite(payload["totals"]["cost_usd"])
