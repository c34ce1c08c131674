"""Approvals of a gate's ``ask`` verdicts: one-time approvals and session or persistent grants
(:meth:`GateApprovals.approve`, :meth:`~GateApprovals.revoke`, :meth:`~GateApprovals.grants`), and the
checks that ask a human approver and raise on a refusal (:meth:`~GateApprovals.require`).

:class:`GateApprovals` is the part of :class:`tokenomy.autonomy.gate.Gate` that records approvals; the
gate owns the grant tables, the judging of a call against them and the ledger (Eq. 6–7 live there).
It does no I/O: grants are values the caller may store and restore.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from tokenomy.autonomy.classify import Classification
from tokenomy.autonomy.schedule import SCOPES
from tokenomy.autonomy.trajectory import ToolCall
from tokenomy.autonomy.verdict import (
    ActionDeniedError,
    ApprovalRequiredError,
    Call,
    GateContext,
    Grant,
    Verdict,
)
from tokenomy.core.errors import ValidationError

__all__ = ["GateApprovals"]

_SCOPE_RANK = {s: i for i, s in enumerate(SCOPES)}


class GateApprovals:
    """The approval methods of :class:`tokenomy.autonomy.gate.Gate` (a base class it inherits from)."""

    if TYPE_CHECKING:  # (set by Gate.__init__; defined by Gate)
        _grants: dict[tuple[str, str, str], Grant]
        _pending_once: dict[tuple[str, str, str], frozenset[str]]

        def check(
            self, call: Call | ToolCall | str | Mapping[str, Any], context: GateContext | None = None
        ) -> Verdict: ...

        def _judge(
            self, call: Call, res: Classification, ctx: GateContext, *, consume: bool, vouch: str = ""
        ) -> Verdict: ...

        def _record(self, v: Verdict, ctx: GateContext, point: str, **extra: Any) -> Verdict: ...

    # -- approvals ---------------------------------------------------------------------------------
    def approve(
        self,
        verdict: Verdict,
        *,
        approver: str = "user",
        scope: str | None = None,
        context: GateContext | None = None,
        whole_class: bool = False,
    ) -> Verdict:
        """Record one approver's yes to an ``ask`` verdict; return the verdict the call now gets.

        The approval holds for ``scope`` (default: the class's scope), never wider than the class's
        scope; a ``once`` approval is used up by the next check of the same call in the session. A
        ``session`` or ``persistent`` approval covers that exact call only (approving ``rm -rf build``
        does not approve ``rm -rf ~/work``) unless ``whole_class`` is set.

        Args:
            verdict: the ``ask`` verdict being answered.
            approver: who says yes (distinct ids count toward ``multi_party``).
            scope: once / session / persistent, at most the class's scope.
            context: the session the call belongs to (default: session "default").

        Raises:
            ActionDeniedError: the verdict is ``deny`` (a denied class cannot be approved).
            ValidationError: an unknown scope.
        """
        ctx = GateContext.of(context)
        if verdict.decision == "deny":
            raise ActionDeniedError(verdict)
        want = verdict.scope if scope is None else scope
        if want not in SCOPES:
            raise ValidationError(f"approval scope must be one of {list(SCOPES)}, got {want!r}")
        if _SCOPE_RANK[want] > _SCOPE_RANK[verdict.scope]:
            raise ValidationError(
                f"class {verdict.action_class!r} allows approvals of scope {verdict.scope!r} at most; "
                f"got scope={want!r}"
            )
        name, call = verdict.action_class, verdict.call
        if want == "once":
            key = (ctx.session_id, name, call.text)
            self._pending_once[key] = self._pending_once.get(key, frozenset()) | {approver}
        else:
            gkey = (name, ctx.session_id if want == "session" else "", "" if whole_class else call.text)
            old = self._grants.get(gkey)
            who = (old.approvers if old is not None else frozenset()) | {approver}
            self._grants[gkey] = Grant(name, want, gkey[1], who, gkey[2])
        out = self._judge(call, verdict.classification, ctx, consume=False)
        return self._record(out, ctx, "approve", approver=approver, approval_scope=want)

    def revoke(self, action_class: str, session_id: str | None = None) -> bool:
        """Withdraw the class's persistent grants (``session_id=None``) or its grants in a session,
        for single calls and the whole class alike; True if one existed."""
        keys = [k for k in self._grants if k[0] == action_class and k[1] == (session_id or "")]
        for k in keys:
            del self._grants[k]
        return bool(keys)

    def grants(self) -> tuple[Grant, ...]:
        """The session and persistent grants in force (to store and pass back as ``grants=``)."""
        return tuple(self._grants.values())

    def approve_all(self, verdict: Verdict, approvers: Iterable[str], context: GateContext) -> Verdict:
        """Record each id in ``approvers`` as a ``once`` approval of ``verdict``; the verdict it now gets
        (judged on the same classification: the session state has already taken the call)."""
        for who in approvers:
            self.approve(verdict, approver=who, scope="once", context=context)
        return self._record(
            self._judge(verdict.call, verdict.classification, context, consume=True), context, "check"
        )

    def require(
        self,
        call: Call | ToolCall | str | Mapping[str, Any],
        context: GateContext | None = None,
        *,
        approver: Callable[[Verdict], Iterable[str]] | None = None,
    ) -> Verdict:
        """Check ``call`` and return its ``allow`` verdict, asking ``approver`` on ``ask``.

        Args:
            call: the call.
            context: the session (default "default").
            approver: asks the humans; returns the ids of those who said yes (empty = refused).
                Each yes is a ``once`` approval of this call; ``multi_party`` needs enough distinct ids.

        Raises:
            ActionDeniedError: the class is denied.
            ApprovalRequiredError: ``ask`` and no approver, or too few approvers said yes.
        """
        ctx = GateContext.of(context)
        v = self.check(call, ctx)
        if v.decision == "ask" and approver is not None:
            v = self.approve_all(v, approver(v), ctx)
        if v.decision == "deny":
            raise ActionDeniedError(v)
        if v.decision == "ask":
            raise ApprovalRequiredError(v)
        return v
