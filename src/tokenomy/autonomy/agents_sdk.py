"""OpenAI Agents SDK adapter: the gate in front of an agent's function tools.

:func:`gate_tool` returns a copy of an Agents SDK ``FunctionTool`` that the gate judges before every
call, using the SDK's own two hooks: a ``deny`` verdict becomes a tool input guardrail that rejects
the call (the function does not run; the model reads the verdict and its reason as the tool's
output), and an ``ask`` verdict turns on the tool's ``needs_approval`` (the run stops with an
interruption that the application approves or rejects through the SDK's ``RunState``). An ``allow``
runs the tool. Each call is checked once (the verdict is kept by the SDK's call id), in the gate
session given, so the session state follows the whole run. :func:`gate_tools` does the same for a
list. Needs the ``openai-agents`` package (imported when a tool is gated); this module does no I/O.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from tokenomy.autonomy.gate import Gate
from tokenomy.autonomy.verdict import Call, GateContext, Verdict
from tokenomy.core.errors import ValidationError

__all__ = ["gate_tool", "gate_tools"]

_KEEP = 4096  # verdicts remembered per tool, by call id (the oldest is dropped first)


def _sdk() -> Any:
    try:
        import agents
    except ImportError:
        raise ValidationError(
            "the OpenAI Agents SDK adapter needs the 'openai-agents' package: pip install openai-agents"
        ) from None
    return agents


def gate_tool(gate: Gate, tool: Any, *, session_id: str = "agents-sdk", sandboxed: bool | None = None) -> Any:
    """A copy of ``tool`` (an Agents SDK ``FunctionTool``) that ``gate`` judges before each call.

    Args:
        gate: the gate.
        tool: the ``agents.FunctionTool`` to guard (``@function_tool`` returns one).
        session_id: the gate session of the run.
        sandboxed: overrides the schedule's ``sandboxed``.

    Returns:
        The guarded ``FunctionTool`` (the original is unchanged).

    Raises:
        ValidationError: the SDK is not installed, or ``tool`` is not a ``FunctionTool``.
    """
    agents = _sdk()
    if not isinstance(tool, agents.FunctionTool):
        raise ValidationError(f"gate_tool needs an agents.FunctionTool, got {type(tool).__name__}")
    ctx = GateContext(session_id=session_id, sandboxed=sandboxed)
    seen: OrderedDict[str, Verdict] = OrderedDict()  # SDK call id -> the verdict of that call
    own_approval = tool.needs_approval

    def verdict(call_id: str, arguments: Any) -> Verdict:
        v = seen.get(call_id) if call_id else None
        if v is None:
            try:
                args = json.loads(arguments) if isinstance(arguments, str) else dict(arguments or {})
            except (ValueError, TypeError):
                args = {"unparsed_arguments": str(arguments)[:2000]}
            if not isinstance(args, dict):
                args = {"arguments": args}
            v = gate.check(Call(tool.name, args), ctx)
            if call_id:
                seen[call_id] = v
                while len(seen) > _KEEP:
                    seen.popitem(last=False)
        return v

    async def needs_approval(run_ctx: Any, arguments: dict[str, Any], call_id: str) -> bool:
        if verdict(call_id, arguments).decision == "ask":
            return True
        if callable(own_approval):
            return bool(await own_approval(run_ctx, arguments, call_id))
        return bool(own_approval)

    def check_input(data: Any) -> Any:
        c = data.context
        v = verdict(str(c.tool_call_id or ""), c.tool_arguments)
        if v.decision == "deny":
            return agents.ToolGuardrailFunctionOutput.reject_content(
                f"tokenomy gate denied this call: {v.reason}", output_info={"verdict": "deny"}
            )
        return agents.ToolGuardrailFunctionOutput.allow(output_info={"verdict": v.decision})

    guard = agents.ToolInputGuardrail(guardrail_function=check_input, name="tokenomy_gate")
    return replace(
        tool,
        needs_approval=needs_approval,
        tool_input_guardrails=[guard, *(tool.tool_input_guardrails or [])],
    )


def gate_tools(gate: Gate, tools: Sequence[Any], **kwargs: Any) -> list[Any]:
    """:func:`gate_tool` for each ``FunctionTool`` in ``tools`` (other tools are returned unchanged)."""
    agents = _sdk()
    return [gate_tool(gate, t, **kwargs) if isinstance(t, agents.FunctionTool) else t for t in tools]
