"""Small hand-written logs, one writer per format, for the importer tests (duplicates, bad counts, costs)."""

from __future__ import annotations

import csv
import gzip
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

TRACE = "0af7651916cd43dd8448eb211c80319c"
T0_NS = 1_730_000_000 * 10**9


def span(
    span_id: str,
    *,
    trace: str = TRACE,
    model: str = "gpt-4o",
    op: str = "chat",
    tokens: Mapping[str, int] | None = None,
    extra: Mapping[str, Any] | None = None,
    start_ns: int = T0_NS,
) -> dict[str, Any]:
    """One OTLP span; ``tokens`` maps attribute names to intValues, ``extra`` to stringValues."""
    attrs: list[dict[str, Any]] = [
        {"key": "gen_ai.operation.name", "value": {"stringValue": op}},
        {"key": "gen_ai.request.model", "value": {"stringValue": model}},
        {"key": "gen_ai.provider.name", "value": {"stringValue": "openai"}},
    ]
    attrs += [{"key": k, "value": {"intValue": str(v)}} for k, v in (tokens or {}).items()]
    attrs += [{"key": k, "value": {"stringValue": v}} for k, v in (extra or {}).items()]
    return {
        "traceId": trace,
        "spanId": span_id,
        "parentSpanId": "",
        "name": op,
        "kind": 3,
        "startTimeUnixNano": str(start_ns),
        "endTimeUnixNano": str(start_ns + 10**9),
        "attributes": attrs,
        "status": {},
    }


def otlp_file(path: Path, exports: Sequence[Sequence[dict[str, Any]]]) -> Path:
    """JSON Lines, one ExportTraceServiceRequest per line holding the given spans."""
    lines = [
        json.dumps({"resourceSpans": [{"resource": {}, "scopeSpans": [{"scope": {}, "spans": list(s)}]}]})
        for s in exports
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def litellm_row(request_id: str, **over: Any) -> dict[str, Any]:
    """A LiteLLM_SpendLogs row (gpt-4o, 1000 in / 300 out)."""
    row: dict[str, Any] = {
        "request_id": request_id,
        "call_type": "acompletion",
        "spend": 0.0055,
        "prompt_tokens": 1000,
        "completion_tokens": 300,
        "startTime": "2024-06-01T10:00:00Z",
        "endTime": "2024-06-01T10:00:02Z",
        "model": "gpt-4o",
        "custom_llm_provider": "openai",
        "metadata": json.dumps({"usage_object": {"prompt_tokens": 1000, "completion_tokens": 300}}),
        "cache_hit": "False",
        "status": "success",
    }
    row.update(over)
    return row


def langfuse_obs(obs_id: str, **over: Any) -> dict[str, Any]:
    """A Langfuse GENERATION observation (gpt-4o, 1000 in / 300 out)."""
    obs: dict[str, Any] = {
        "id": obs_id,
        "traceId": "trace-1",
        "type": "GENERATION",
        "name": "chat",
        "startTime": "2024-06-01T10:00:00Z",
        "endTime": "2024-06-01T10:00:02Z",
        "model": "gpt-4o",
        "usageDetails": {"input": 1000, "output": 300},
        "costDetails": {"total": 0.0055},
        "level": "DEFAULT",
    }
    obs.update(over)
    return obs


def jsonl(path: Path, records: Sequence[Mapping[str, Any]]) -> Path:
    """One JSON object per line."""
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


STEP_FIELDS = (
    "instance_id",
    "step",
    "action_class",
    "autonomy_class",
    "prompt_tokens",
    "completion_tokens",
    "reasoning_tokens",
    "cached_tokens",
    "cost_usd",
    "returncode",
    "obs_chars",
    "obs_truncated",
    "format_error",
    "command",
)


def miniswe_step(iid: str, step: int, **over: Any) -> dict[str, Any]:
    """One row of mini-swe-agent's steps.csv.gz."""
    row: dict[str, Any] = {
        "instance_id": iid,
        "step": step,
        "action_class": "read",
        "autonomy_class": "read",
        "prompt_tokens": 1000,
        "completion_tokens": 100,
        "reasoning_tokens": 0,
        "cached_tokens": 0,
        "cost_usd": 0.0032,
        "returncode": 0,
        "obs_chars": 10,
        "obs_truncated": 0,
        "format_error": 0,
        "command": "ls",
    }
    row.update(over)
    return row


def miniswe_folder(root: Path, steps: Sequence[Mapping[str, Any]], n_steps: Mapping[str, int]) -> Path:
    """A ``miniswe_gemini3pro_swebv`` folder with the given step rows and one instance per key."""
    d = root / "agent" / "miniswe_gemini3pro_swebv"
    d.mkdir(parents=True)
    with gzip.open(d / "steps.csv.gz", "wt", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=STEP_FIELDS)
        w.writeheader()
        w.writerows(steps)
    with (d / "instances.csv").open("w", newline="") as fh:
        w = csv.DictWriter(
            fh, fieldnames=["instance_id", "repo", "resolved", "exit_status", "instance_cost_usd", "n_steps"]
        )
        w.writeheader()
        for iid, k in n_steps.items():
            w.writerow(
                {
                    "instance_id": iid,
                    "repo": "r",
                    "resolved": 1,
                    "exit_status": "Submitted",
                    "instance_cost_usd": 0.0032 * k,
                    "n_steps": k,
                }
            )
    return root
