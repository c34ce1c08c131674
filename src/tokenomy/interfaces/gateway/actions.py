"""Tool calls in chat-completion responses, judged by the action layer's gate before the client sees them.

:class:`ActionFilter` takes the JSON body of an OpenAI chat completion (non-stream; for a stream, the
``tool_calls`` assembled at its end, :mod:`.actions_stream`) and asks :class:`tokenomy.autonomy.gate.Gate` about every tool call
(``message.tool_calls[]`` and the legacy ``message.function_call``) for one session (Eq. 6–7 through the
gate's schedule):

* ``allow`` — the call is kept;
* ``ask`` — the call is kept and an approval token is attached in the extension field
  ``tokenomy.actions``: an HMAC-SHA256 (server secret) of the session, the call and an expiry. The client
  POSTs ``{"token": ...}`` to ``/v1/approvals`` (:meth:`ActionFilter.approval_endpoint`); a valid token
  records the approval in the gate (``Gate.approve``) and the allowed re-check, so the ledger shows
  ask → approve → allow for the call the client then runs;
* ``deny`` — the call is removed from the message, the explanation goes into ``tokenomy.actions`` and,
  when the message has no other content, into ``content`` (``finish_reason`` ``tool_calls`` becomes
  ``stop`` when no call is left).

Every verdict is recorded by the gate itself (its ledger sink; :class:`VerdictBuffer` is a sink that
never blocks an event loop: the gateway's record writer drains it into its ledger batches). Fail closed: a call that is not an object,
has no name, or whose arguments are not a JSON object is judged as a call of an unknown tool (the
schedule's ``unknown_level``; it is never allowed), and a tool no rule places is the gate's ``unknown``.

Tokens are stateless (any gateway process holding the secret verifies them); a token is bound to its
session, expires, and is used once per process (replays inside one process are refused; across processes
a replay only re-approves the same call in the same session). ``multi_party`` classes count distinct
``approver`` ids, which the gateway derives from the authenticated key, so one key cannot approve twice.
This module does no I/O.
"""

from __future__ import annotations

import copy
import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tokenomy.autonomy.gate import Call, Gate, GateContext, Verdict
from tokenomy.autonomy.schedule import VERDICT_RANK, level_verdict
from tokenomy.core.errors import ValidationError
from tokenomy.interfaces.gateway.approval_tokens import (
    ApprovalTokenError,
    ApprovalTokens,
    TokenClaims,
    session_id_for,
)
from tokenomy.interfaces.gateway.errors import GatewayHTTPError
from tokenomy.interfaces.gateway.guards import parse_json
from tokenomy.ledger.records import Decision

__all__ = [
    "ActionFilter",
    "ActionNote",
    "ApprovalResult",
    "ApprovalTokenError",
    "ApprovalTokens",
    "FilteredCalls",
    "TokenClaims",
    "VerdictBuffer",
    "session_id_for",
]

_MAX_RAW_CHARS = 2_000
_MALFORMED_PREFIX = "malformed-call:"


@dataclass(frozen=True, slots=True)
class ActionNote:
    """The gate's verdict on one tool call of a response, as shown in ``tokenomy.actions``."""

    choice_index: int
    tool_call_id: str
    tool: str
    decision: str
    reason: str
    action_class: str
    decision_id: str
    approval_token: str = ""
    expires_at_s: float = 0.0

    def as_json(self) -> dict[str, Any]:
        """The JSON object the client sees."""
        out: dict[str, Any] = {
            "choice_index": self.choice_index,
            "tool_call_id": self.tool_call_id,
            "tool": self.tool,
            "decision": self.decision,
            "reason": self.reason,
            "action_class": self.action_class,
            "decision_id": self.decision_id,
        }
        if self.approval_token:
            out["approval_token"] = self.approval_token
            out["expires_at_s"] = self.expires_at_s
            out["approve"] = {
                "method": "POST",
                "path": "/v1/approvals",
                "body": {"token": "<approval_token>"},
            }
        return out


@dataclass(frozen=True, slots=True)
class FilteredCalls:
    """Tool calls after the gate: those kept (allow and ask) and a note per call."""

    kept: tuple[dict[str, Any], ...]
    notes: tuple[ActionNote, ...]

    @property
    def denial_text(self) -> str:
        """One line per removed call (for a message that has no other content)."""
        return "\n".join(
            f"[tokenomy] tool call {n.tool!r} was not passed on: {n.reason}"
            for n in self.notes
            if n.decision == "deny"
        )


@dataclass(frozen=True, slots=True)
class ApprovalResult:
    """The answer to ``POST /v1/approvals``: the verdict the call now has."""

    approved: bool
    decision: str
    reason: str
    action_class: str
    decision_id: str
    approvals: int
    approvers_needed: int

    def as_json(self) -> dict[str, Any]:
        """The JSON body of the endpoint's answer."""
        return {
            "object": "tokenomy.approval",
            "approved": self.approved,
            "decision": self.decision,
            "reason": self.reason,
            "action_class": self.action_class,
            "decision_id": self.decision_id,
            "approvals": self.approvals,
            "approvers_needed": self.approvers_needed,
        }


class VerdictBuffer:
    """The gate's ledger sink for an event loop: ``append`` only buffers (no I/O, thread-safe); the
    gateway's record writer ``drain``s it and writes the verdicts in its own ledger transaction.

    Args:
        max_rows: verdicts held before new ones are dropped (counted in ``dropped``), so a writer
            that stopped draining cannot grow memory without bound.
    """

    def __init__(self, max_rows: int = 1_000_000) -> None:
        self.max_rows = max_rows
        self.dropped = 0
        self._rows: list[Decision] = []
        self._lock = threading.Lock()

    def append(self, decisions: Iterable[Decision]) -> int:
        """Buffer verdict rows (the gate calls this); return how many were kept."""
        rows = list(decisions)
        with self._lock:
            room = max(0, self.max_rows - len(self._rows))
            self._rows.extend(rows[:room])
            self.dropped += len(rows) - min(room, len(rows))
        return min(room, len(rows))

    def drain(self) -> list[Decision]:
        """Everything buffered, oldest first; the buffer is left empty."""
        with self._lock:
            rows, self._rows = self._rows, []
        return rows

    def __len__(self) -> int:
        return len(self._rows)


def _error(status: int, message: str, code: str) -> tuple[int, dict[str, Any]]:
    return status, {
        "error": {"message": message, "type": "invalid_request_error", "param": None, "code": code}
    }


class ActionFilter:
    """Judge a response's tool calls with ``gate`` and answer approval requests (thread-safe).

    Args:
        gate: the gate (its schedule and ledger sink; give it a non-blocking sink in an event loop).
        tokens: the approval token signer.
        clock: the time recorded with each verdict (s since epoch).
    """

    def __init__(self, gate: Gate, tokens: ApprovalTokens, *, clock: Callable[[], float] = time.time) -> None:
        self.gate = gate
        self.tokens = tokens
        self.clock = clock
        self._lock = threading.Lock()
        self._used: dict[tuple[str, str], float] = {}  # (nonce, approver) -> expiry

    # -- responses ---------------------------------------------------------------------------------
    def filter_response(
        self, body: Mapping[str, Any], *, session_id: str, request_id: str = "", tenant: str = ""
    ) -> dict[str, Any]:
        """A copy of a chat-completion body with denied calls removed and ``tokenomy.actions`` added.

        Args:
            body: the upstream's JSON response (not changed).
            session_id: the gate session (:func:`session_id_for`).
            request_id: the gateway's request id (the verdicts' ledger request id).
            tenant: who pays.

        Returns:
            The body to send; unchanged apart from a ``tokenomy`` field when it holds no tool call.
        """
        out = copy.deepcopy(dict(body))
        notes: list[ActionNote] = []
        choices = out.get("choices")
        for i, choice in enumerate(choices if isinstance(choices, list) else []):
            msg = choice.get("message") if isinstance(choice, dict) else None
            if not isinstance(msg, dict):
                continue
            legacy = msg.get("function_call")
            calls = msg.get("tool_calls")
            if calls is None and legacy is None:
                continue
            todo: list[Any] = list(calls) if isinstance(calls, list) else ([] if calls is None else [calls])
            if legacy is not None:
                todo.append({"id": "", "type": "function", "function": legacy, "_legacy": True})
            res = self.filter_tool_calls(
                todo, session_id=session_id, request_id=request_id, tenant=tenant, choice_index=i
            )
            notes.extend(res.notes)
            kept = [c for c in res.kept if not c.get("_legacy")]
            msg.pop("function_call", None)
            if any(c.get("_legacy") for c in res.kept):
                msg["function_call"] = legacy
            if kept:
                msg["tool_calls"] = kept
            else:
                msg.pop("tool_calls", None)
                if (
                    choice.get("finish_reason") in ("tool_calls", "function_call")
                    and "function_call" not in msg
                ):
                    choice["finish_reason"] = "stop"
            denial = res.denial_text
            if denial and not (isinstance(msg.get("content"), str) and msg["content"].strip()):
                msg["content"] = denial
        if notes:
            ext = out.get("tokenomy")
            ext = ext if isinstance(ext, dict) else {}
            ext["actions"] = [n.as_json() for n in notes]
            out["tokenomy"] = ext
        return out

    def filter_tool_calls(
        self,
        tool_calls: Sequence[Any],
        *,
        session_id: str,
        request_id: str = "",
        tenant: str = "",
        choice_index: int = 0,
    ) -> FilteredCalls:
        """Judge assembled tool calls (a stream's, at its end); return those to pass on and the notes."""
        ctx = GateContext(session_id=session_id, request_id=request_id, tenant=tenant, time_s=self.clock())
        kept: list[dict[str, Any]] = []
        notes: list[ActionNote] = []
        for n, raw in enumerate(tool_calls):
            call, malformed = _parse(raw)
            with self._lock:
                verdict = self.gate.check(call, ctx)
            decision, reason = verdict.decision, verdict.reason
            if malformed:
                # A malformed call is an unknown tool; a catch-all pattern that places the sentinel name
                # must not make it less strict than the schedule's unknown level.
                floor = level_verdict(self.gate.schedule.unknown_level)
                if VERDICT_RANK[decision] < VERDICT_RANK[floor]:
                    decision, reason = floor, f"{reason}; raised to unknown_level ({malformed})"
                else:
                    reason = f"{reason} ({malformed})"
            rid = raw.get("id") if isinstance(raw, dict) else None
            call_id = rid if isinstance(rid, str) else f"call-{n}"
            token, expires = ("", 0.0)
            if decision == "ask":
                token, expires = self.tokens.issue(session_id, call)
            if decision != "deny" and isinstance(raw, dict):
                kept.append(raw)
            notes.append(
                ActionNote(
                    choice_index,
                    call_id,
                    call.tool,
                    decision,
                    reason,
                    verdict.action_class,
                    verdict.decision_id,
                    token,
                    expires,
                )
            )
        return FilteredCalls(tuple(kept), tuple(notes))

    # -- approvals ---------------------------------------------------------------------------------
    def approve(
        self, token: object, *, session_id: str, approver: str, request_id: str = ""
    ) -> ApprovalResult:
        """Approve the call a token names, in the token's session, by ``approver``.

        Returns:
            The verdict the call now has (``approved`` when it is ``allow``; a ``multi_party`` class may
            still need other approvers).

        Raises:
            ApprovalTokenError: the token is not genuine, expired, of another session, or used by this
                approver already.
        """
        claims = self.tokens.verify(token, session_id)
        ctx = GateContext(session_id=session_id, request_id=request_id, time_s=self.clock())
        with self._lock:
            now = self.clock()
            for key in [k for k, exp in self._used.items() if exp < now]:
                del self._used[key]
            use = (claims.nonce, approver)
            if use in self._used:
                raise ApprovalTokenError("approval token was already used by this approver")
            self._used[use] = claims.expires_at_s
            v = self.gate.check(claims.call, ctx)
            if v.decision == "ask":
                v = self.gate.approve(v, approver=approver, context=ctx)
                if v.decision == "allow":
                    v = self.gate.check(
                        claims.call, ctx
                    )  # the call the client now runs (uses a once approval)
        return _result(v)

    def approval_endpoint(
        self, raw_body: bytes, *, session_id: str, approver: str, request_id: str = ""
    ) -> tuple[int, dict[str, Any]]:
        """``POST /v1/approvals``: the HTTP status and JSON body for a raw request body ``{"token": ...}``.

        200 with :meth:`ApprovalResult.as_json` (``approved`` false when the class denies the call or
        needs more approvers); 400 for a malformed body; 403 for a token that is forged, expired, of
        another session or already used.
        """
        try:  # the chat body's parser: also refuses a repeated "token" key, NaN, lone surrogates
            doc = parse_json(raw_body)
        except GatewayHTTPError as exc:
            return _error(
                400,
                f'request body must be JSON {{"token": "<approval_token>"}}: {exc.message}',
                "invalid_json",
            )
        if not isinstance(doc, dict) or not isinstance(doc.get("token"), str):
            return _error(400, 'request body must be {"token": "<approval_token>"}', "missing_token")
        try:
            res = self.approve(doc["token"], session_id=session_id, approver=approver, request_id=request_id)
        except ApprovalTokenError as exc:
            return _error(403, str(exc), "invalid_approval_token")
        return 200, res.as_json()


def _result(v: Verdict) -> ApprovalResult:
    return ApprovalResult(
        v.decision == "allow",
        v.decision,
        v.reason,
        v.action_class,
        v.decision_id,
        v.approvals,
        v.approvers_needed,
    )


def _parse(raw: object) -> tuple[Call, str]:
    """The call a tool-call object asks for, and why it is malformed ("" when it is well formed)."""
    fn = raw.get("function") if isinstance(raw, dict) else None
    name = fn.get("name") if isinstance(fn, dict) else None
    if not isinstance(name, str) or not name.strip():
        return _malformed("?", raw, "tool call without a function name")
    try:
        call = Call.of({"name": name, "arguments": fn.get("arguments", {})})  # type: ignore[union-attr]
    except ValidationError:
        return _malformed(name, fn.get("arguments"), "arguments are not a JSON object")  # type: ignore[union-attr]
    return call, ""


def _malformed(name: str, raw: object, why: str) -> tuple[Call, str]:
    text = raw if isinstance(raw, str) else json.dumps(raw, default=str)
    return Call(f"{_MALFORMED_PREFIX}{name[:200]}", {"raw": text[:_MAX_RAW_CHARS]}), why
