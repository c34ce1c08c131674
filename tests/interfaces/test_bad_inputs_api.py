"""Loader Python API given an argument of the wrong form: one ValidationError naming the argument."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tokenomy.core import SchemaError, ValidationError
from tokenomy.interfaces.loaders import (
    agent_data,
    agent_taubench,
    langfuse,
    litellm,
    otlp,
    pricefiles,
    routing,
    traces,
)

ONE_PATH: list[tuple[str, Callable[[Any], Any]]] = [
    ("load_trace", traces.load_trace),
    ("load_splitwise", traces.load_splitwise),
    ("load_routerbench", routing.load_routerbench),
    ("load_price_table", routing.load_price_table),
    ("load_schedule", agent_data.load_schedule),
    ("load_price_file", pricefiles.load_price_file),
    ("load_labels", pricefiles.load_labels),
    ("load_miniswe", agent_data.load_miniswe),
    ("load_taubench", agent_taubench.load_taubench),
]
MANY_PATHS: list[tuple[str, Callable[[Any], Any]]] = [
    ("load_litellm", litellm.load_litellm),
    ("load_langfuse", langfuse.load_langfuse),
    ("load_otlp", otlp.load_otlp),
]
OPTIONAL = {"load_price_table", "load_schedule"}  # None there means the packaged default


@pytest.mark.parametrize(("name", "fn"), ONE_PATH, ids=[n for n, _ in ONE_PATH])
@pytest.mark.parametrize("bad", [None, 5, b"x.csv", [], ""], ids=["None", "int", "bytes", "list", "empty"])
def test_one_path_loaders_refuse_an_argument_that_is_not_a_path(
    name: str, fn: Callable[[Any], Any], bad: object
) -> None:
    if bad is None and name in OPTIONAL:
        return
    with pytest.raises(ValidationError, match=rf"{name}: .*str or Path"):
        fn(bad)


@pytest.mark.parametrize(("name", "fn"), MANY_PATHS, ids=[n for n, _ in MANY_PATHS])
@pytest.mark.parametrize(
    "bad",
    [None, 5, b"x.csv", [], [None], ""],
    ids=["None", "int", "bytes", "empty-list", "list-None", "empty"],
)
def test_many_path_loaders_refuse_an_argument_that_is_not_paths(
    name: str, fn: Callable[[Any], Any], bad: object
) -> None:
    with pytest.raises(ValidationError, match=rf"{name}: .*non-empty list"):
        fn(bad)


def test_load_splitwise_accepts_a_str(tmp_path: Path) -> None:
    f = tmp_path / "perf.csv"
    f.write_text("model,hardware,prompt_size,batch_size,prompt_time,token_time,tensor_parallel\n")
    with pytest.raises(SchemaError, match=r"perf\.csv"):
        traces.load_splitwise(str(f))


def _otlp_span(path: Path, start: str, end: str) -> Path:
    span = {
        "traceId": "0123456789abcdef0123456789abcdef",
        "spanId": "0123456789abcdef",
        "name": "chat",
        "startTimeUnixNano": start,
        "endTimeUnixNano": end,
        "attributes": [
            {"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o"}},
            {"key": "gen_ai.usage.input_tokens", "value": {"intValue": 100}},
            {"key": "gen_ai.usage.output_tokens", "value": {"intValue": 10}},
        ],
    }
    path.write_text(json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}) + "\n")
    return path


@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        ("0", "99999999999999999999999", "endTimeUnixNano"),  # 1e23 ns: ~3 million years
        ("9300000000000000000", "9300000000000000000", "startTimeUnixNano"),  # past year 2262
        ("1000000000", str(1000000000 + 8 * 86400 * 10**9), "endTimeUnixNano"),  # an 8-day span
    ],
)
def test_otlp_time_out_of_range_is_refused_naming_line_and_field(
    tmp_path: Path, start: str, end: str, field: str, fast: bool
) -> None:
    p = _otlp_span(tmp_path / "t.jsonl", start, end)
    with pytest.raises(SchemaError, match=rf"t\.jsonl:1: .*{field}"):
        otlp.load_otlp(p, fast=fast)


def test_otlp_span_of_a_few_seconds_is_read(tmp_path: Path) -> None:
    p = _otlp_span(tmp_path / "t.jsonl", "1000000000", "3000000000")
    log, _ = otlp.load_otlp(p)
    assert len(log.steps) == 1


def test_label_file_with_an_unknown_column_is_refused_naming_it_and_the_valid_ones(tmp_path: Path) -> None:
    f = tmp_path / "lab.csv"
    f.write_text("request_id,qualty\nr1,0.5\n")
    with pytest.raises(SchemaError, match=r"lab\.csv:2: .*'qualty'.*quality"):
        pricefiles.load_labels(f)


def test_json_label_given_as_a_string_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "lab.json"
    f.write_text(json.dumps({"r1": {"v_usd": "5"}}))
    with pytest.raises(SchemaError, match="v_usd"):
        pricefiles.load_labels(f)


def test_label_files_with_known_columns_still_load(tmp_path: Path) -> None:
    f = tmp_path / "lab.csv"
    f.write_text("request_id,quality,v_usd,group,v_source\nr1,0.5,2,a,user\n")
    assert pricefiles.load_labels(f)["r1"]["v_usd"] == 2.0


@pytest.mark.parametrize("score", ["1", True])
def test_routerarena_score_that_is_not_a_json_number_is_refused(tmp_path: Path, score: object) -> None:
    rec = {
        "global_index": "AIME_1",
        "question": "q",
        "evaluation_result": {"score": score, "inference_cost": 0.001},
        "token_usage": {"input_tokens": 10, "output_tokens": 5},
    }
    (tmp_path / "m.jsonl").write_text(json.dumps(rec) + "\n")
    with pytest.raises(SchemaError, match=r"m\.jsonl: line 1: evaluation_result\.score"):
        routing.load_routerarena(tmp_path)
