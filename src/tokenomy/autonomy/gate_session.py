"""``with gate.session("s1") as s: s.check("ls")`` — a :class:`~tokenomy.autonomy.gate.Gate` bound to one
session's context; on exit the session's grants and state end and the ledger buffer flushes."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from tokenomy.autonomy.trajectory import ToolCall
from tokenomy.autonomy.verdict import Call, GateContext, Verdict

if TYPE_CHECKING:
    from tokenomy.autonomy.gate import Approver, Gate

__all__ = ["GateSession"]

F = TypeVar("F", bound=Callable[..., Any])


class GateSession:
    """``with gate.session("s1") as s: s.check("ls")`` — the gate with a fixed context."""

    def __init__(self, gate: Gate, context: GateContext) -> None:
        self.gate = gate
        self.context = context

    def __enter__(self) -> GateSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.gate.end_session(self.context.session_id)

    def check(self, call: Call | ToolCall | str | Mapping[str, Any]) -> Verdict:
        """:meth:`Gate.check` in this session."""
        return self.gate.check(call, self.context)

    def approve(
        self, verdict: Verdict, *, approver: str = "user", scope: str | None = None, whole_class: bool = False
    ) -> Verdict:
        """:meth:`Gate.approve` in this session."""
        return self.gate.approve(
            verdict, approver=approver, scope=scope, context=self.context, whole_class=whole_class
        )

    def require(
        self,
        call: Call | ToolCall | str | Mapping[str, Any],
        *,
        approver: Callable[[Verdict], Iterable[str]] | None = None,
    ) -> Verdict:
        """:meth:`Gate.require` in this session."""
        return self.gate.require(call, self.context, approver=approver)

    def guard(self, tool: str | None = None, *, approver: Approver | None = None) -> Callable[[F], F]:
        """:meth:`Gate.guard` in this session."""
        return self.gate.guard(tool, approver=approver, context=self.context)
