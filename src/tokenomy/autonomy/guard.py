"""Guarding tool functions: the call a Python function makes, as the gate judges it, sync or async.

:func:`guard` wraps a tool function (the shape every agent framework registers: an OpenAI Agents SDK
``function_tool``, a LangChain tool, a plain function-calling loop) so each call is checked by the
gate before the function runs. The call's arguments are bound by the function's signature (positional
arguments get their parameter names, ``**kwargs`` are merged), so the gate sees ``{"path": …}`` whether
the agent passed it by position or by name; an ``async def`` tool stays a coroutine function, and the
approver asked on ``ask`` (a human in the loop) may be ``async`` too — awaited in async tools; a sync
tool with an async approver is refused with an error saying so. The judging is
:meth:`tokenomy.autonomy.gate.Gate.check`; this module only binds, awaits and raises.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from tokenomy.autonomy.verdict import (
    ActionDeniedError,
    ApprovalRequiredError,
    Call,
    GateContext,
    Verdict,
)
from tokenomy.core.errors import ValidationError

if TYPE_CHECKING:
    from tokenomy.autonomy.gate import Gate

__all__ = ["Approver", "bind_arguments", "guard", "require_async"]

Approver = Callable[[Verdict], Iterable[str] | Awaitable[Iterable[str]]]
"""Asked on ``ask``: returns (or, if async, resolves to) the ids of the people who said yes."""
F = TypeVar("F", bound=Callable[..., Any])


def bind_arguments(
    fn: Callable[..., Any], args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> dict[str, Any]:
    """The call's arguments by parameter name (``**kwargs`` merged, ``*args`` as a list).

    A call that does not bind (wrong arity) keeps its keywords, and a first positional string is taken
    as ``command`` (so ``run_bash("ls")`` is judged as that shell command) — the function will raise
    its own TypeError once allowed.
    """
    try:
        bound = inspect.signature(fn).bind_partial(*args, **kwargs)
    except (TypeError, ValueError):
        out = dict(kwargs)
        if args and isinstance(args[0], str) and "command" not in out:
            out["command"] = args[0]
        return out
    out = {}
    for name, value in bound.arguments.items():
        kind = bound.signature.parameters[name].kind
        if kind is inspect.Parameter.VAR_KEYWORD:
            out.update(value)
        elif kind is inspect.Parameter.VAR_POSITIONAL:
            out[name] = list(value)
        else:
            out[name] = value
    if args and isinstance(args[0], str) and not {"command", "cmd"} & out.keys():
        first = next(iter(bound.arguments), "")
        if (
            first in ("", "args")
            or bound.signature.parameters[first].kind is inspect.Parameter.VAR_POSITIONAL
        ):
            out["command"] = args[0]
    return out


def _settle(v: Verdict) -> Verdict:
    if v.decision == "deny":
        raise ActionDeniedError(v)
    if v.decision == "ask":
        raise ApprovalRequiredError(v)
    return v


async def require_async(
    gate: Gate, call: Call, context: GateContext | None = None, *, approver: Approver | None = None
) -> Verdict:
    """:meth:`Gate.require` for async code: the approver may be async (it is awaited)."""
    ctx = GateContext.of(context)
    v = gate.check(call, ctx)
    if v.decision == "ask" and approver is not None:
        answer = approver(v)
        yes = await answer if inspect.isawaitable(answer) else answer
        v = gate.approve_all(v, yes, ctx)
    return _settle(v)


def require_sync(
    gate: Gate, call: Call, context: GateContext | None = None, *, approver: Approver | None = None
) -> Verdict:
    """:meth:`Gate.require` with an approver that must answer synchronously."""
    ctx = GateContext.of(context)
    v = gate.check(call, ctx)
    if v.decision == "ask" and approver is not None:
        answer = approver(v)
        if inspect.isawaitable(answer):
            close = getattr(answer, "close", None)
            if close is not None:
                close()  # never awaited: close it so Python does not warn
            raise ValidationError(
                f"the approver of {call.tool!r} is async but the tool is sync: make the tool async "
                "(async def) or give a sync approver"
            )
        v = gate.approve_all(v, answer, ctx)
    return _settle(v)


def guard(
    gate: Gate,
    tool: str | None = None,
    *,
    approver: Approver | None = None,
    context: GateContext | None = None,
) -> Callable[[F], F]:
    """Decorate a tool function so every call is judged first (see the module docstring).

    Raises (from the wrapped function):
        ActionDeniedError: the class is denied.
        ApprovalRequiredError: ``ask`` and no approver, or too few said yes.
        ValidationError: a sync tool with an async approver.
    """

    def wrap(fn: F) -> F:
        name = tool or fn.__name__
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def ainner(*args: Any, **kwargs: Any) -> Any:
                await require_async(
                    gate, Call(name, bind_arguments(fn, args, kwargs)), context, approver=approver
                )
                return await fn(*args, **kwargs)

            return cast(F, ainner)

        @functools.wraps(fn)
        def inner(*args: Any, **kwargs: Any) -> Any:
            require_sync(gate, Call(name, bind_arguments(fn, args, kwargs)), context, approver=approver)
            return fn(*args, **kwargs)

        return cast(F, inner)

    return wrap
