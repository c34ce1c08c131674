"""Common agent tool names get their action class, so the detectors apply to real agent logs.

A coding agent instrumented with the real OpenTelemetry SDK (GenAI attributes): chat calls with cache
reads, ``edit_file`` / ``read_file`` / ``grep`` tools and a ``bash`` tool that sometimes runs the tests,
quality labels on the task's root span. Under-verification, cache misuse, waste and over-delegation
must all apply to it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from otlp_export import FileSpanExporter

from tokenomy.audit.actions import canonical_actions
from tokenomy.interfaces.cli import main


def _obj(*values: str) -> Any:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


@pytest.mark.parametrize(
    ("tool", "args", "expect"),
    [
        ("Edit", "{}", "edit"),
        ("str_replace_editor", json.dumps({"command": "view", "path": "a.py"}), "read"),
        ("str_replace_editor", json.dumps({"command": "str_replace"}), "edit"),
        ("read_file", "{}", "read"),
        ("Grep", "{}", "search"),
        ("bash", json.dumps({"command": "cd repo && python -m pytest -q tests/"}), "test"),
        ("bash", json.dumps({"command": "npm run test -- --watch=false"}), "test"),
        ("run_command", json.dumps({"command": "FOO=1 tox -e py311"}), "test"),
        ("bash", json.dumps({"command": "ls -la"}), "run"),
        ("bash", "make test", "test"),
        ("submit", "{}", "submit"),
        ("issue_refund", "{}", "issue_refund"),  # not a coding tool: keeps its own label
    ],
)
def test_common_agent_tools_get_their_action_class(tool: str, args: str, expect: str) -> None:
    out = canonical_actions(_obj(tool), _obj(args), _obj(tool), np.array([True]))
    assert out[0] == expect


def test_a_label_the_log_gave_is_kept() -> None:
    out = canonical_actions(_obj("bash"), _obj('{"command": "pytest"}'), _obj("deploy"), np.array([True]))
    assert out[0] == "deploy"


def _task(tracer: Any, k: int, verified: bool) -> None:
    quality = 1.0 if verified or k % 4 == 1 else 0.0
    root = {"gen_ai.operation.name": "invoke_agent", "tokenomy.quality": quality, "session.id": f"s{k % 3}"}
    with tracer.start_as_current_span("invoke_agent", attributes=root):
        for j, (inp, read) in enumerate(((4000, 0), (6000, 3900), (9000, 1000))):  # the 3rd lost its prefix
            attrs = {
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": "gpt-4o",
                "gen_ai.provider.name": "openai",
                "gen_ai.usage.input_tokens": inp,
                "gen_ai.usage.output_tokens": 200,
                "gen_ai.usage.cache_read.input_tokens": read,
            }
            if k == 0 and j == 2:
                attrs["tokenomy.malformed"] = True
            with tracer.start_as_current_span("chat gpt-4o", attributes=attrs):
                pass
        tools = [("read_file", {"path": "a.py"}), ("edit_file", {"path": "a.py", "diff": "..."})]
        if verified:
            tools.append(("bash", {"command": "python -m pytest -q"}))
        if k == 2:
            tools.append(("bash", {"command": "git push --force origin main"}))
        for name, args in tools:
            attrs = {
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": name,
                "gen_ai.tool.call.arguments": json.dumps(args),
            }
            if name == "bash" and "push" in args["command"]:
                attrs["tokenomy.confirmed"] = False
            with tracer.start_as_current_span(f"execute_tool {name}", attributes=attrs):
                pass


def test_an_instrumented_coding_agent_log_makes_four_detectors_apply(tmp_path: Path) -> None:
    path = tmp_path / "agent.jsonl"
    provider = TracerProvider(resource=Resource.create({"service.name": "coder"}))
    provider.add_span_processor(SimpleSpanProcessor(FileSpanExporter(path)))
    tracer = provider.get_tracer("agent")
    for k in range(24):
        _task(tracer, k, verified=k % 2 == 0)
    provider.shutdown()
    out = tmp_path / "a.json"
    assert main(["audit", str(path), "--json", str(out), "--v", "5"]) == 0
    modes = json.loads(out.read_text())["failure_modes"]
    for mode in ("under_verification", "cache_misuse", "waste", "over_delegation"):
        assert modes[mode]["applicable"], (mode, modes[mode]["reason"])
        assert modes[mode]["count"] > 0 and modes[mode]["action"], mode
    assert modes["under_verification"]["count"] == 12  # the odd tasks edited and never ran the tests
