"""The Agents SDK adapter run by the SDK's own Runner (only the model is scripted: no network).

Skips without ``openai-agents``; fails under CI=true.
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

import pytest

from tokenomy.autonomy.gate import Gate
from tokenomy.interfaces.loaders.agent_data import load_schedule

try:
    import agents
    from agents.models.interface import Model
    from openai.types.responses import ResponseFunctionToolCall, ResponseOutputMessage, ResponseOutputText
except ImportError:  # pragma: no cover - depends on the environment
    reason = "openai-agents not installed (pip install openai-agents==0.24.0)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason + " — CI=true requires it", pytrace=False)
    pytest.skip(reason, allow_module_level=True)

from tokenomy.autonomy.agents_sdk import gate_tool


class ScriptedModel(Model):
    """Calls ``tool`` once with ``arguments``, then answers "done"."""

    def __init__(self, tool: str, arguments: dict[str, Any]) -> None:
        self.tool, self.arguments, self.turn = tool, arguments, 0

    async def get_response(self, *args: Any, **kwargs: Any) -> agents.ModelResponse:
        self.turn += 1
        if self.turn == 1:
            item: Any = ResponseFunctionToolCall(
                arguments=json.dumps(self.arguments),
                call_id="c1",
                name=self.tool,
                type="function_call",
                id="f1",
                status="completed",
            )
        else:
            text = ResponseOutputText(annotations=[], text="done", type="output_text")
            item = ResponseOutputMessage(
                id="m1", content=[text], role="assistant", status="completed", type="message"
            )
        return agents.ModelResponse(output=[item], usage=agents.Usage(), response_id=None)

    def stream_response(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError


def _setup(command: str, sandboxed: bool | None = None) -> tuple[Any, list[str]]:
    ran: list[str] = []

    @agents.function_tool
    def bash(command: str) -> str:
        """Run a shell command."""
        ran.append(command)
        return "ran " + command

    gate = Gate(load_schedule())
    tool = gate_tool(gate, bash, sandboxed=sandboxed)
    return agents.Agent(name="a", model=ScriptedModel("bash", {"command": command}), tools=[tool]), ran


CONFIG = agents.RunConfig(tracing_disabled=True)


def _run(command: str, sandboxed: bool | None = None) -> tuple[Any, list[str]]:
    agent, ran = _setup(command, sandboxed)
    return asyncio.run(agents.Runner.run(agent, "go", run_config=CONFIG)), ran


def _tool_outputs(result: Any) -> list[str]:
    return [str(i.output) for i in result.new_items if isinstance(i, agents.ToolCallOutputItem)]


def test_an_allowed_call_runs() -> None:
    result, ran = _run("ls -la")
    assert ran == ["ls -la"] and _tool_outputs(result) == ["ran ls -la"]


def test_a_denied_call_never_runs_and_the_model_reads_why() -> None:
    result, ran = _run("rm -rf /")
    assert ran == []
    (out,) = _tool_outputs(result)
    assert out.startswith("tokenomy gate denied this call") and "destroy" in out


def test_an_ask_stops_the_run_until_the_application_approves() -> None:
    agent, ran = _setup("cat ~/.aws/credentials")
    result = asyncio.run(agents.Runner.run(agent, "go", run_config=CONFIG))
    assert ran == [] and [i.name for i in result.interruptions] == ["bash"]
    state = result.to_state()
    state.approve(result.interruptions[0])
    resumed = asyncio.run(agents.Runner.run(agent, state, run_config=CONFIG))
    assert ran == ["cat ~/.aws/credentials"] and _tool_outputs(resumed) == ["ran cat ~/.aws/credentials"]


def test_code_runs_freely_in_a_sandbox_but_asks_outside() -> None:
    _, ran_inside = _run("python -m app", sandboxed=True)
    outside, ran_outside = _run("python -m app")
    assert ran_inside == ["python -m app"] and ran_outside == [] and outside.interruptions
