"""The gate's vocabulary: a tool call, its context, an approval grant, a verdict, and the refusals.

Plain values for :mod:`tokenomy.autonomy.gate` (which holds the logic). ``GateRefusedError`` and its
two subclasses join tokenomy's one exception tree (under ``TokenomyError``): the decorator and
``Gate.require`` raise them when a guarded call may not run; ``Gate.check`` never raises for a refusal
(a refusal is a returned verdict).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from tokenomy.autonomy.classify import Classification
from tokenomy.autonomy.trajectory import ToolCall
from tokenomy.core._checks import real
from tokenomy.core.errors import TokenomyError, ValidationError
from tokenomy.ledger.records import Decision

__all__ = [
    "MAX_ARGUMENT_DEPTH",
    "ActionDeniedError",
    "ApprovalRequiredError",
    "Call",
    "DecisionSink",
    "GateContext",
    "GateRefusedError",
    "Grant",
    "Verdict",
]


class GateRefusedError(TokenomyError):
    """A guarded call was not allowed; ``verdict`` says why."""

    def __init__(self, verdict: Verdict) -> None:
        super().__init__(f"{verdict.decision}: {verdict.reason}")
        self.verdict = verdict


class ActionDeniedError(GateRefusedError):
    """The schedule denies the call's class: it is never executed."""


class ApprovalRequiredError(GateRefusedError):
    """The call needs an approval that was not given."""


class DecisionSink(Protocol):
    """Where verdicts go: a :class:`tokenomy.ledger.Ledger` or anything with the same ``append``."""

    def append(self, decisions: Iterable[Decision]) -> Any: ...


MAX_ARGUMENT_DEPTH = 100
"""Deepest nesting of a call's arguments (objects and arrays) the gate parses; deeper is refused."""


_NESTED = (dict, list, Mapping, tuple)
_SCALARS = frozenset({str, int, float, bool, type(None)})  # skipped without the Mapping ABC check


def _too_deep(args: Mapping[str, Any]) -> bool:
    """True when ``args`` nest more than ``MAX_ARGUMENT_DEPTH`` levels (iterative: no recursion)."""
    stack: list[tuple[Any, int]] = [(args, 1)]
    while stack:
        obj, depth = stack.pop()
        if depth > MAX_ARGUMENT_DEPTH:
            return True
        for child in obj.values() if isinstance(obj, Mapping) else obj:
            if isinstance(child, (Mapping, list, tuple)):
                stack.append((child, depth + 1))
    return False


@dataclass(frozen=True, slots=True)
class Call:
    """One concrete tool call.

    Attributes:
        tool: the function name; ``"bash"`` for a shell command.
        arguments: the call's arguments. # argument name -> JSON value

    Raises:
        ValidationError: ``tool`` is not a string (an empty name is judged ``unknown``, fail closed),
            ``arguments`` is not a mapping, or it
            nests deeper than ``MAX_ARGUMENT_DEPTH`` (a call the gate cannot judge is refused).
    """

    tool: str
    arguments: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.tool, str):
            raise ValidationError(f"a call's tool must be a string, got {self.tool!r:.80}")
        args = self.arguments
        if type(args) is not dict and not isinstance(args, Mapping):
            raise ValidationError(f"arguments of tool call {self.tool!r} must be an object, got {args!r:.80}")
        for v in args.values():
            if type(v) not in _SCALARS and isinstance(v, _NESTED):
                if _too_deep(args):
                    raise ValidationError(
                        f"arguments of tool call {self.tool!r} are nested too deeply (more than"
                        f" {MAX_ARGUMENT_DEPTH} levels); the call is refused"
                    )
                break

    @classmethod
    def of(cls, call: Call | ToolCall | str | Mapping[str, Any]) -> Call:
        """Coerce a shell command, a JSON function call or a Call.

        Accepts ``{"name"|"tool": ..., "arguments": {...} | "<json>"}``, the OpenAI form
        ``{"function": {"name": ..., "arguments": "<json>"}}`` and a recorded
        :class:`~tokenomy.autonomy.trajectory.ToolCall`.

        Raises:
            ValidationError: the value is none of these, or its arguments are not a JSON object or
                nest deeper than ``MAX_ARGUMENT_DEPTH``.
        """
        if isinstance(call, Call):
            return call
        if isinstance(call, ToolCall):
            return cls(call.tool, dict(call.arguments))
        if isinstance(call, str):
            return cls("bash", {"command": call})
        if isinstance(call, Mapping):
            body = call.get("function", call)
            name = body.get("name", body.get("tool")) if isinstance(body, Mapping) else None
            if isinstance(name, str) and name:
                args = body.get("arguments", {})
                if isinstance(args, str):
                    try:
                        args = json.loads(args or "{}")
                    except json.JSONDecodeError as exc:
                        raise ValidationError(
                            f"arguments of tool call {name!r} are not JSON: {exc}"
                        ) from None
                    except RecursionError:
                        raise ValidationError(
                            f"arguments of tool call {name!r} are nested too deeply (more than"
                            f" {MAX_ARGUMENT_DEPTH} levels); the call is refused"
                        ) from None
                if not isinstance(args, Mapping):
                    raise ValidationError(f"arguments of tool call {name!r} must be an object, got {args!r}")
                return cls(name, dict(args))
        raise ValidationError(
            "a call must be a shell command string, a Call, or a mapping with 'name' (or 'tool') and "
            f"'arguments'; got {call!r}"
        )

    @property
    def text(self) -> str:
        """A short human-readable form (the command for a shell call)."""
        cmd = self.arguments.get("command", self.arguments.get("cmd"))
        if isinstance(cmd, str):
            return cmd
        return f"{self.tool}({json.dumps(dict(self.arguments), sort_keys=True, default=str)})"


@dataclass(frozen=True, slots=True)
class GateContext:
    """What the gate knows about where a call happens.

    Attributes:
        session_id: the agent session (session-scoped approvals live and die with it).
        request_id: the ledger request id ("" = the session id).
        tenant: who pays.
        sandboxed: overrides the schedule's ``sandboxed`` (None = the schedule's).
        p_harm: a per-call harm probability (None = the class prior); used by ``mode="prices"``.
        time_s: the caller's clock.
        workspace: the project's root folder, absolute (None: the folder the session started in, with
            only relative paths known to be inside it); see the schedule's ``workspace_trust``.

    Raises:
        ValidationError: a field has the wrong type (``sandboxed`` must be a real bool or None: the
            string "no" is refused, never read as truthy), ``time_s`` or ``p_harm`` is not a finite
            number, ``p_harm`` is outside [0, 1], or ``workspace`` is not absolute.
    """

    session_id: str = "default"
    request_id: str = ""
    tenant: str = ""
    sandboxed: bool | None = None
    p_harm: float | None = None
    time_s: float = 0.0
    workspace: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.session_id, str) or not self.session_id:
            raise ValidationError(
                f"GateContext.session_id must be a non-empty string, got {self.session_id!r}"
            )
        for name in ("request_id", "tenant"):
            if not isinstance(getattr(self, name), str):
                raise ValidationError(f"GateContext.{name} must be a string, got {getattr(self, name)!r:.80}")
        if self.sandboxed is not None and type(self.sandboxed) is not bool:
            # a string such as "no" is truthy: coercing it would weaken the level outside the sandbox
            raise ValidationError(
                f"GateContext.sandboxed must be True, False or None, got {self.sandboxed!r:.80}"
            )
        t = self.time_s
        if type(t) is not float or t - t != 0.0:  # a finite float passes at once (the gate's hot path)
            object.__setattr__(self, "time_s", real("GateContext.time_s", t))
        if self.p_harm is not None:
            object.__setattr__(self, "p_harm", real("GateContext.p_harm", self.p_harm))
        if self.workspace is not None and (
            not isinstance(self.workspace, str) or not self.workspace.startswith("/")
        ):
            raise ValidationError(
                f"GateContext.workspace must be an absolute path or None, got {self.workspace!r}"
            )
        if self.p_harm is not None and not 0.0 <= self.p_harm <= 1.0:
            raise ValidationError(f"GateContext.p_harm must be in [0, 1] or None, got {self.p_harm!r}")

    @classmethod
    def of(cls, context: GateContext | None) -> GateContext:
        """``context``, or the default context for ``None``; anything else is refused.

        Raises:
            ValidationError: ``context`` is not a ``GateContext`` (a dict is not read as one).
        """
        if context is None:
            return cls()
        if type(context) is cls or isinstance(context, cls):
            return context
        raise ValidationError(
            f"context must be a GateContext or None, got {context!r:.80}; build one with GateContext(...)"
        )


@dataclass(frozen=True, slots=True)
class Grant:
    """An approval that holds beyond one call: a command (or a whole class) approved for a session or
    persistently.

    Attributes:
        action_class: the class approved.
        scope: ``session`` or ``persistent``.
        session_id: the session (for ``session`` grants; "" for persistent ones).
        approvers: who approved (distinct ids).
        call_text: the exact call approved (:attr:`Call.text`); "" approves every call of the class,
            which only ``Gate.approve(..., whole_class=True)`` grants.
    """

    action_class: str
    scope: str
    session_id: str
    approvers: frozenset[str]
    call_text: str = ""


@dataclass(frozen=True, slots=True)
class Verdict:
    """The gate's answer for one call.

    Attributes:
        decision: ``allow``, ``ask`` or ``deny``.
        reason: why, in words (class, level, rule, the price comparison, any grant used).
        action_class: the class the call was placed in (``"unknown"`` when no rule placed it).
        level: the confirmation level that applied (free, confirm, multi_party, deny).
        price_usd: the priced harm of the call, ρ·ΔR + ρ_irr·ΔR_irr (CVaR for rare-and-severe
            classes), USD — the price compared with ``ask_cost_usd``.
        ask_cost_usd: the cost of one confirmation.
        scope: how long an approval of this call holds (once / session / persistent).
        approvers_needed: distinct approvals an ``ask`` needs.
        approvals: distinct approvals given so far for this call.
        call: the call judged.
        classification: how the classifier reached the class.
        decision_id: the ledger id of the verdict ("" when no ledger is attached).
    """

    decision: str
    reason: str
    action_class: str
    level: str
    price_usd: float
    ask_cost_usd: float
    scope: str
    approvers_needed: int
    approvals: int
    call: Call
    classification: Classification
    decision_id: str = ""

    @property
    def allowed(self) -> bool:
        """Whether the call may run now."""
        return self.decision == "allow"
