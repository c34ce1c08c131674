"""Every importer drops repeated records (retries, overlapping exports) once, counts them, and keeps
the later export when the same id comes with different content."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from importer_files import (
    TRACE,
    jsonl,
    langfuse_obs,
    litellm_row,
    miniswe_folder,
    miniswe_step,
    otlp_file,
    span,
)

from tokenomy.audit.importers.agent_data import from_miniswe
from tokenomy.audit.log import AuditLog
from tokenomy.interfaces.loaders.agent_data import load_miniswe
from tokenomy.interfaces.loaders.langfuse import load_langfuse
from tokenomy.interfaces.loaders.litellm import load_litellm
from tokenomy.interfaces.loaders.otlp import load_otlp

TOK = {"gen_ai.usage.input_tokens": 1000, "gen_ai.usage.output_tokens": 300}


def _note(log: AuditLog, pattern: str) -> bool:
    return any(re.search(pattern, n) for n in log.notes)


@pytest.mark.parametrize("fast", [True, False])
def test_otlp_same_span_twice_counts_once(tmp_path: Path, fast: bool) -> None:
    a, b = span("00f067aa0ba902b7", tokens=TOK), span("00f067aa0ba902b8", tokens=TOK)
    path = otlp_file(tmp_path / "t.jsonl", [[a, b], [a], [a]])  # one span exported three times
    log, _ = load_otlp([path], fast=fast)
    assert len(log.steps) == 2
    assert int(log.steps.input_tokens.sum()) == 2000
    assert _note(log, r"\b2 duplicate spans? dropped")
    assert log.extra["duplicates_dropped"] == 2 and log.extra["duplicate_conflicts"] == 0


@pytest.mark.parametrize("fast", [True, False])
def test_otlp_same_span_other_content_keeps_later_export(tmp_path: Path, fast: bool) -> None:
    first = span("00f067aa0ba902b7", tokens=TOK)
    later = span("00f067aa0ba902b7", tokens={**TOK, "gen_ai.usage.output_tokens": 500})
    path = otlp_file(tmp_path / "t.jsonl", [[first], [later]])
    log, _ = load_otlp([path], fast=fast)
    assert len(log.steps) == 1
    assert log.steps.output_tokens.tolist() == [500]
    assert _note(log, r"\b1 conflicting span")
    assert log.extra["duplicate_conflicts"] == 1


def test_otlp_same_span_id_in_other_trace_is_not_a_duplicate(tmp_path: Path) -> None:
    a = span("00f067aa0ba902b7", tokens=TOK)
    b = span("00f067aa0ba902b7", tokens=TOK, trace=TRACE[:-1] + "d")
    log, _ = load_otlp([otlp_file(tmp_path / "t.jsonl", [[a, b]])])
    assert len(log.steps) == 2
    assert log.extra["duplicates_dropped"] == 0


def test_otlp_duplicates_across_files(tmp_path: Path) -> None:
    a = span("00f067aa0ba902b7", tokens=TOK)
    p1 = otlp_file(tmp_path / "a.jsonl", [[a]])
    p2 = otlp_file(tmp_path / "b.jsonl", [[a]])
    log, _ = load_otlp([p1, p2])
    assert len(log.steps) == 1 and log.extra["duplicates_dropped"] == 1


def test_litellm_same_request_id_twice_counts_once(tmp_path: Path) -> None:
    rows = [litellm_row("chatcmpl-1"), litellm_row("chatcmpl-2"), litellm_row("chatcmpl-1")]
    log, _ = load_litellm([jsonl(tmp_path / "s.jsonl", rows)])
    assert len(log.steps) == 2
    assert abs(float(log.steps.reported_cost_usd.sum()) - 0.011) < 1e-12
    assert _note(log, r"\b1 duplicate record dropped")
    assert log.extra["duplicates_dropped"] == 1


def test_litellm_payload_id_conflict_keeps_later(tmp_path: Path) -> None:
    first = {k: v for k, v in litellm_row("").items() if k != "request_id"} | {"id": "x-1"}
    later = first | {"completion_tokens": 500, "spend": 0.0075}
    log, _ = load_litellm([jsonl(tmp_path / "s.jsonl", [first, later])])
    assert len(log.steps) == 1
    assert log.steps.output_tokens.tolist() == [500]
    assert log.extra["duplicate_conflicts"] == 1
    assert _note(log, r"\b1 conflicting record")


def test_langfuse_same_observation_twice_counts_once(tmp_path: Path) -> None:
    recs = [langfuse_obs("obs-1"), langfuse_obs("obs-2"), langfuse_obs("obs-1")]
    log, _ = load_langfuse([jsonl(tmp_path / "o.jsonl", recs)])
    assert len(log.steps) == 2
    assert log.extra["duplicates_dropped"] == 1


def test_langfuse_observation_conflict_keeps_later(tmp_path: Path) -> None:
    recs = [langfuse_obs("obs-1"), langfuse_obs("obs-1", usageDetails={"input": 1000, "output": 700})]
    log, _ = load_langfuse([jsonl(tmp_path / "o.jsonl", recs)])
    assert log.steps.output_tokens.tolist() == [700]
    assert log.extra["duplicate_conflicts"] == 1


def test_miniswe_repeated_step_row_counts_once(tmp_path: Path) -> None:
    rows = [miniswe_step("a__a-1", 0), miniswe_step("a__a-1", 1), miniswe_step("a__a-1", 1)]
    root = miniswe_folder(tmp_path, rows, {"a__a-1": 2})
    log = from_miniswe(load_miniswe(root))
    assert len(log.steps) == 2
    assert log.steps.index.tolist() == [0, 1]
    assert log.extra["duplicates_dropped"] == 1
    assert _note(log, r"\b1 duplicate step")


def test_miniswe_step_conflict_keeps_later_row(tmp_path: Path) -> None:
    rows = [miniswe_step("a__a-1", 0), miniswe_step("a__a-1", 0, completion_tokens=900)]
    log = from_miniswe(load_miniswe(miniswe_folder(tmp_path, rows, {"a__a-1": 1})))
    assert log.steps.output_tokens.tolist() == [900]
    assert log.extra["duplicate_conflicts"] == 1
