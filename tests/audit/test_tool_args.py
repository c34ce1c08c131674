"""Tool calls in OTLP / LiteLLM / Langfuse logs are classed by the action layer on name + arguments."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from otlp_export import FileSpanExporter

from tokenomy.audit.actions import LEVEL_RANK, classify_steps, parse_arguments, required_levels
from tokenomy.audit.engine import run_audit
from tokenomy.audit.pricing import GenaiPricesTable
from tokenomy.interfaces.cli import main
from tokenomy.interfaces.loaders.agent_data import load_schedule
from tokenomy.interfaces.loaders.langfuse import load_langfuse
from tokenomy.interfaces.loaders.litellm import load_litellm
from tokenomy.interfaces.loaders.otlp import load_otlp

SCHEDULE = load_schedule()


def write_tool_spans(path: Path, tools: list[dict[str, Any]]) -> None:
    """One trace through the real SDK: a root agent span and one tool span per ``tools`` entry."""
    provider = TracerProvider(resource=Resource.create({"service.name": "agent"}))
    provider.add_span_processor(SimpleSpanProcessor(FileSpanExporter(path)))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("invoke_agent", attributes={"gen_ai.operation.name": "invoke_agent"}):
        for t in tools:
            name = t.pop("_name")
            with tracer.start_as_current_span(name, attributes=t):
                pass
    provider.shutdown()


def git_push(confirmed: bool | None = None) -> dict[str, Any]:
    attrs: dict[str, Any] = {
        "_name": "bash",
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.call.arguments": json.dumps({"command": "git push origin main"}),
    }
    if confirmed is not None:
        attrs["tokenomy.confirmed"] = confirmed
    return attrs


def classes(path: Path, fast: bool) -> list[str]:
    log, _ = load_otlp([path], fast=fast)
    res = run_audit(log, GenaiPricesTable(), schedule=SCHEDULE)
    s = res.log.steps
    return [str(c) for c in s.autonomy_class[s.kind == "tool"]]


def test_otlp_bash_span_is_classed_by_its_command_on_both_import_paths(tmp_path: Path) -> None:
    path = tmp_path / "spans.jsonl"
    write_tool_spans(
        path,
        [
            git_push(),
            {  # OpenInference: a TOOL span with tool.parameters
                "_name": "shell",
                "openinference.span.kind": "TOOL",
                "tool.name": "shell",
                "tool.parameters": json.dumps({"command": "ls -la"}),
            },
            {  # OpenInference: the input as a bare command string; span name "execute_tool <tool>"
                "_name": "execute_tool bash",
                "gen_ai.operation.name": "execute_tool",
                "input.value": "cd /tmp && rm -rf /",
            },
            {"_name": "bash", "gen_ai.operation.name": "execute_tool"},  # no arguments: a bare name
        ],
    )
    fast, rows = classes(path, fast=True), classes(path, fast=False)
    assert fast == rows
    assert sorted(fast) == sorted(["deploy", "read", "destroy", "unknown"])


def test_cli_reports_the_unconfirmed_push_and_says_why_when_nothing_is_recorded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    unknown = tmp_path / "spans.jsonl"
    write_tool_spans(unknown, [git_push()])
    out = tmp_path / "a.json"
    assert main(["audit", str(unknown), "--json", str(out)]) == 0
    od = json.loads(out.read_text())["failure_modes"]["over_delegation"]
    # the push needs a multi-party confirmation; the log cannot say whether it had one
    assert not od["applicable"] and "1 tool call (deploy [multi_party]: bash)" in od["reason"]
    assert "1 tool call (deploy [multi_party]: bash)" in capsys.readouterr().out

    unconfirmed = tmp_path / "spans2.jsonl"
    write_tool_spans(unconfirmed, [git_push(confirmed=False)])
    assert main(["audit", str(unconfirmed), "--json", str(out)]) == 0
    od = json.loads(out.read_text())["failure_modes"]["over_delegation"]
    assert od["applicable"] and od["count"] == 1 and od["examples"][0]["first_unconfirmed"] == "bash (deploy)"


def test_schedule_given_decides_class_and_level(tmp_path: Path) -> None:
    """A schedule naming ``bash`` in [tools] wins over the command; its levels set what needs asking."""
    path = tmp_path / "spans.jsonl"
    write_tool_spans(path, [git_push(confirmed=False)])
    text = load_schedule_text().replace("[tools]\n", '[tools]\nbash = "read"\n', 1)
    sched_file = tmp_path / "s.toml"
    sched_file.write_text(text)
    out = tmp_path / "a.json"
    assert main(["audit", str(path), "--schedule", str(sched_file), "--json", str(out)]) == 0
    od = json.loads(out.read_text())["failure_modes"]["over_delegation"]
    assert not od["applicable"]  # bash is "read" under this schedule: free
    assert required_levels(["deploy", "read", "no-such-class"], SCHEDULE) == [
        LEVEL_RANK["multi_party"],
        LEVEL_RANK["free"],
        LEVEL_RANK[SCHEDULE.unknown_level],
    ]


def load_schedule_text() -> str:
    from importlib import resources

    res = resources.files("tokenomy.interfaces") / "resources" / "default_schedule.toml"
    return res.read_text(encoding="utf-8")


def test_classify_steps_keeps_given_labels_and_caches() -> None:
    def obj(xs: list[str]) -> np.ndarray[Any, np.dtype[np.object_]]:
        a = np.empty(len(xs), dtype=object)
        a[:] = xs
        return a

    tool = obj(["bash", "bash", "bash", "", "cancel_reservation"])
    args = obj(['{"command": "git push"}', '{"command": "git push"}', '{"command": "ls"}', "", ""])
    given = obj(["", "commit", "", "none", ""])
    is_tool = np.array([True, True, True, False, True])
    got = classify_steps(tool, args, given, is_tool, SCHEDULE).tolist()
    assert got == ["deploy", "commit", "read", "none", "commit"]
    assert parse_arguments("git status") == {"command": "git status"}
    assert parse_arguments('"git status"') == {"command": "git status"}
    assert parse_arguments("[1, 2]") == {}


def test_litellm_response_tool_calls_become_classed_tool_steps(tmp_path: Path) -> None:
    row = {
        "id": "chatcmpl-9",
        "trace_id": "t-1",
        "call_type": "completion",
        "model": "gpt-4o",
        "custom_llm_provider": "openai",
        "prompt_tokens": 100,
        "completion_tokens": 20,
        "response_cost": 0.0005,
        "startTime": 1717236000.0,
        "endTime": 1717236001.0,
        "status": "success",
        "metadata": {},
        "response": {  # StandardLoggingPayload.response: the OpenAI-format completion
            "choices": [
                {
                    "message": {
                        "role": "assistant",
                        "tool_calls": [
                            {
                                "id": "call_1",
                                "type": "function",
                                "function": {
                                    "name": "run_command",
                                    "arguments": json.dumps({"command": "kubectl delete ns prod"}),
                                },
                            },
                            {
                                "id": "call_2",
                                "type": "function",
                                "function": {"name": "get_user_details", "arguments": '{"user_id": "u"}'},
                            },
                        ],
                    }
                }
            ]
        },
    }
    path = tmp_path / "payload.jsonl"
    path.write_text(json.dumps(row) + "\n")
    log, _ = load_litellm([path])
    s = log.steps
    assert s.kind.tolist() == ["llm", "tool", "tool"] and s.step_id.tolist()[1:] == ["call_1", "call_2"]
    res = run_audit(log, GenaiPricesTable(), schedule=SCHEDULE)
    assert res.log.steps.autonomy_class.tolist()[1:] == ["delete_remote", "read"]


def test_langfuse_tool_input_is_classed(tmp_path: Path) -> None:
    obs = [
        {
            "id": "o1",
            "traceId": "tr",
            "type": "TOOL",
            "name": "bash",
            "startTime": "2025-03-01T12:00:00Z",
            "endTime": "2025-03-01T12:00:01Z",
            "input": {"command": "pip install requests"},
            "metadata": {"tokenomy.confirmed": False},
        }
    ]
    path = tmp_path / "obs.json"
    path.write_text(json.dumps(obs))
    log, _ = load_langfuse([path])
    sandboxed = replace(SCHEDULE, sandboxed=True)  # install is free only in a sandbox (opt-in)
    res = run_audit(log, GenaiPricesTable(), schedule=sandboxed)
    assert res.log.steps.autonomy_class.tolist() == ["install"]
    assert not {f.mode: f for f in res.findings}["over_delegation"].applicable
