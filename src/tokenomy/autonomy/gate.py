"""The tool-call gate: ask it before executing a tool call; it answers allow / ask / deny (Eq. 6–7).

Any agent loop can call :meth:`Gate.check` with a concrete call (a shell command string, a
``{"name": ..., "arguments": ...}`` JSON function call, or a :class:`Call`) and a :class:`GateContext`
(session, request, sandbox, an optional per-call harm estimate). The gate classifies the call
(:mod:`tokenomy.autonomy.classify`), looks the class up in the :class:`Schedule` and returns a
:class:`Verdict` with the decision, the reason, the class, and the price that decided it: the class's
priced harm ρ·ΔR + ρ_irr·ΔR_irr (CVaR for rare-and-severe classes) against the cost of one
confirmation. Two modes:

* ``mode="schedule"`` (default): the published schedule's level decides (free → allow,
  confirm / multi_party → ask, deny → deny); prices are reported, not used.
* ``mode="prices"``: the level the prices imply (:meth:`Schedule.implied_level`, with the context's
  per-call harm estimate when given) decides — act without asking iff the priced harm is at most the
  cost of asking; ``deny`` classes stay denied.

In both modes an unknown class is never allowed (the schedule's ``unknown_level``; fail closed), and
precedence between a call's parts is deny > ask > allow. Approvals (:meth:`Gate.approve`) turn an
``ask`` into ``allow`` for the class's scope: ``once`` (that one call), ``session`` (that call again,
until the session ends) or ``persistent`` (that call, until revoked; grants are values the caller may
store and restore — this module does no I/O); ``whole_class=True`` widens a session or persistent
approval to every call of the class. The gate keeps each session's state
(:class:`~tokenomy.autonomy.session_state.SessionState`: working directory, variables, aliases and
functions, files written, secrets read), so a call is judged with what the session did before it; a
secret read followed by a network send in the same session is denied. Outside a sandbox, the
schedule's ``workspace_trust`` lets the state vouch for the project's own test/build runs, artefact
clean-ups and manifest installs in a clean session (:mod:`tokenomy.autonomy.classify_workspace`;
judged at the sandboxed level, the reason says ``workspace: …``). Shell-command classifications are
memoised per gate (:mod:`tokenomy.autonomy.classify_cache`; the state-dependent work runs on every
call). ``multi_party`` classes need ``approvers`` distinct approvers.
Every verdict and every approval is written to the ledger (in batches for a database ledger) as a
:class:`~tokenomy.ledger.Decision`
(layer ``action``): candidates ``act`` (its harm, surplus −priced harm) and ``ask`` (its cost), chosen
``act`` / ``ask``, or the null option for ``deny``. The decorator (:meth:`Gate.guard`) and the context
manager (:meth:`Gate.session`) wrap the same check for code that wants an exception instead.
The approval methods (:meth:`Gate.approve`, :meth:`Gate.revoke`, :meth:`Gate.grants`,
:meth:`Gate.approve_all`, :meth:`Gate.require`) live in :mod:`tokenomy.autonomy.gate_approvals`
(:class:`~tokenomy.autonomy.gate_approvals.GateApprovals`, a base class of :class:`Gate`).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any, TypeVar

from tokenomy.autonomy.classify import _SHELL_TOOLS, Classification, _severity_key, classify_call
from tokenomy.autonomy.classify_cache import ClassifyCache
from tokenomy.autonomy.classify_workspace import VOUCHABLE, risky_text, vouch_call
from tokenomy.autonomy.gate_approvals import GateApprovals
from tokenomy.autonomy.gate_ledger import verdict_decision
from tokenomy.autonomy.gate_session import GateSession
from tokenomy.autonomy.gate_terms import Terms, class_terms
from tokenomy.autonomy.schedule import Schedule, level_verdict
from tokenomy.autonomy.session_state import Prepared, SessionState, StateLimits
from tokenomy.autonomy.trajectory import ToolCall
from tokenomy.autonomy.verdict import (
    ActionDeniedError,
    ApprovalRequiredError,
    Call,
    DecisionSink,
    GateContext,
    GateRefusedError,
    Grant,
    Verdict,
)
from tokenomy.autonomy.workspace_unclean import unclean_parts
from tokenomy.core.errors import ValidationError
from tokenomy.ledger import Ledger
from tokenomy.ledger.records import Decision

__all__ = [
    "ActionDeniedError",
    "ApprovalRequiredError",
    "Call",
    "DecisionSink",
    "Gate",
    "GateContext",
    "GateRefusedError",
    "GateSession",
    "Grant",
    "Verdict",
]


F = TypeVar("F", bound=Callable[..., Any])
Approver = Callable[[Verdict], Iterable[str] | Awaitable[Iterable[str]]]


class Gate(GateApprovals):
    """Check tool calls against an autonomy schedule and write every verdict to the ledger.

    Args:
        schedule: the schedule in force (``tokenomy.interfaces.loaders.agent_data.load_schedule``).
        ledger: where verdicts go (a :class:`tokenomy.ledger.Ledger`); None keeps none.
        mode: ``"schedule"`` (the published levels decide) or ``"prices"`` (the implied levels decide).
        grants: persistent or session grants to start from (as returned by :meth:`grants`).
        flush_every: verdicts buffered before one ledger append (1 = each verdict at once). Default:
            256 for a :class:`~tokenomy.ledger.Ledger` (one database transaction per verdict costs
            milliseconds), 1 for any other sink (it is taken to buffer in memory itself).
        flush_after_s: a buffered verdict older than this is written at the next check at the latest
            (with ``flush_every``, this bounds what a crash can lose; :meth:`flush`,
            :meth:`end_session` and leaving :meth:`session` write at once).
        memo_entries: shell-command classifications kept for identical commands
            (:class:`~tokenomy.autonomy.classify_cache.ClassifyCache`; 0: none).
        session_state: follow each session's state across calls (False: judge every call alone).
        state_limits: the size of one session's state tables.
        max_sessions: sessions whose state is kept; the least recently used is evicted first, and a
            session that comes back after eviction is judged as one whose past is unknown (fail closed).

    Raises:
        ValidationError: ``schedule`` is not a Schedule, ``ledger`` has no ``append`` (a path is
            not a ledger: open one with ``Ledger(path)``), ``grants`` is not an iterable of Grant, an
            unknown mode, a grant of an unknown scope, ``flush_every < 1``, ``flush_after_s < 0``,
            ``memo_entries < 0`` or ``max_sessions < 1``.
    """

    def __init__(
        self,
        schedule: Schedule,
        ledger: DecisionSink | None = None,
        *,
        mode: str = "schedule",
        grants: Iterable[Grant] = (),
        flush_every: int | None = None,
        flush_after_s: float = 1.0,
        session_state: bool = True,
        state_limits: StateLimits | None = None,
        max_sessions: int = 4096,
        memo_entries: int = 2048,
    ) -> None:
        if not isinstance(schedule, Schedule):
            raise ValidationError(
                f"schedule must be a Schedule (parse_schedule or load_schedule), got {schedule!r:.80}"
            )
        if ledger is not None and not callable(getattr(ledger, "append", None)):
            raise ValidationError(
                f"ledger must be a Ledger (or any sink with append(decisions)) or None, got {ledger!r:.80}"
            )
        if isinstance(grants, (str, bytes, Mapping)) or not isinstance(grants, Iterable):
            raise ValidationError(f"grants must be an iterable of Grant, got {grants!r:.80}")
        grants = tuple(grants)
        bad = next((g for g in grants if not isinstance(g, Grant)), None)
        if bad is not None:
            raise ValidationError(f"grants must hold Grant values; got an entry {bad!r:.80}")
        if isinstance(max_sessions, bool) or not isinstance(max_sessions, int) or max_sessions < 1:
            raise ValidationError(f"max_sessions must be an integer ≥ 1, got {max_sessions!r}")
        if mode not in ("schedule", "prices"):
            raise ValidationError(f"Gate mode must be 'schedule' or 'prices', got {mode!r}")
        if flush_every is None:
            flush_every = 256 if isinstance(ledger, Ledger) else 1
        if isinstance(flush_every, bool) or not isinstance(flush_every, int) or flush_every < 1:
            raise ValidationError(f"flush_every must be an integer ≥ 1, got {flush_every!r}")
        if not isinstance(flush_after_s, (int, float)) or not flush_after_s >= 0:
            raise ValidationError(f"flush_after_s must be a number of seconds ≥ 0, got {flush_after_s!r}")
        if isinstance(memo_entries, bool) or not isinstance(memo_entries, int) or memo_entries < 0:
            raise ValidationError(f"memo_entries must be an integer ≥ 0, got {memo_entries!r}")
        self.schedule = schedule
        self.ledger = ledger
        self.mode = mode
        self.flush_every = flush_every
        self.flush_after_s = flush_after_s
        self._oldest_s = 0.0  # monotonic time of the oldest buffered verdict
        self.memo = ClassifyCache(max_entries=memo_entries)
        self._terms_memo: dict[tuple[str, bool | None, float | None], tuple[Terms, str, str]] = {}
        self._terms_schedule: Schedule | None = None
        self._terms_mode = mode
        self._grants: dict[tuple[str, str, str], Grant] = {}  # (class, session or "", call or "")
        for g in grants:
            if g.scope not in ("session", "persistent"):
                raise ValidationError(f"a grant's scope must be session or persistent, got {g.scope!r}")
            self._grants[(g.action_class, g.session_id if g.scope == "session" else "", g.call_text)] = g
        self._pending_once: dict[tuple[str, str, str], frozenset[str]] = {}
        self._buffer: list[Decision] = []
        self._seq = 0
        self.session_state = session_state
        self.state_limits = state_limits or StateLimits()
        self.max_sessions = max_sessions
        self._states: OrderedDict[str, SessionState] = OrderedDict()  # session id -> its state
        self._evicted: OrderedDict[str, None] = OrderedDict()  # session ids whose state was evicted

    def state(self, session_id: str) -> SessionState:
        """The state the gate keeps for ``session_id`` (created on first use)."""
        st = self._states.get(session_id)
        if st is None:
            lost = session_id in self._evicted
            st = self._states[session_id] = SessionState(self.state_limits, lost=lost)
            while len(self._states) > self.max_sessions:
                old, _ = self._states.popitem(last=False)
                self._evicted[old] = None
                while len(self._evicted) > 16 * self.max_sessions:
                    self._evicted.popitem(last=False)
        else:
            self._states.move_to_end(session_id)
        return st

    # -- the check --------------------------------------------------------------------------------
    def classify(self, call: Call | ToolCall | str | Mapping[str, Any]) -> Classification:
        """The classification of ``call`` under this gate's schedule."""
        c = Call.of(call)
        return classify_call(c.tool, c.arguments, self.schedule)

    def check(
        self, call: Call | ToolCall | str | Mapping[str, Any], context: GateContext | None = None
    ) -> Verdict:
        """Judge one call before it runs; the verdict is written to the ledger.

        Args:
            call: a shell command, a JSON function call, or a :class:`Call`.
            context: session, sandbox and harm estimate (defaults: session "default").

        Returns:
            The verdict (allow / ask / deny) with its reason and price.
        """
        ctx = GateContext.of(context)
        c = Call.of(call)
        flow = ""
        if self.session_state:
            st = self.state(ctx.session_id)
            prep = st.step(c, self.schedule)
            cls_res = base = self.memo.classify(prep.call.tool, prep.call.arguments, self.schedule, prep.cwd)
            if prep.extra:
                parts = (*cls_res.parts, *prep.extra)
                worst = max(parts, key=lambda p: _severity_key(p[1], self.schedule))
                cls_res = Classification(worst[1], parts)
            flow = st.after(cls_res.parts)
            flow = prep.flow or flow
            vouch = self._vouch(st, cls_res, base, prep, ctx)
        else:
            cls_res = self.memo.classify(c.tool, c.arguments, self.schedule, None)
            vouch = ""
        verdict = self._judge(c, cls_res, ctx, consume=True, vouch=vouch)
        if flow:
            verdict = replace(
                verdict,
                decision="deny",
                level="deny",
                action_class="network_send",
                reason=f"network_send: secret data flow ({flow}); denied; was {verdict.reason}",
            )
        return self._record(verdict, ctx, "check")

    def _vouch(
        self, st: SessionState, res: Classification, base: Classification, prep: Prepared, ctx: GateContext
    ) -> str:
        """Why the workspace rules judge this call at the sandboxed level ("" when they do not); notes
        in the state what makes the session unclean for later calls."""
        why = ""
        sandboxed = self.schedule.sandboxed if ctx.sandboxed is None else ctx.sandboxed
        if (
            self.schedule.workspace_trust
            and not sandboxed
            and res.action_class in VOUCHABLE
            and not st.unvouched()
        ):
            why = vouch_call(
                base.parts, prep.cwd, ctx.workspace, installs=not st.manifests, written=prep.extra
            )
        if not st.unclean:
            st.unclean = unclean_parts(res.parts, bool(why))
        if not st.unclean and prep.call.tool.lower() not in _SHELL_TOOLS:  # a file tool's text
            token = risky_text(" ".join(str(v) for v in prep.call.arguments.values()))
            st.unclean = f"{prep.call.tool} call holds {token!r}" if token else ""
        return why

    def _terms(self, name: str, ctx: GateContext, sandboxed: bool | None) -> tuple[Terms, str, str]:
        """The class's verdict terms in ``ctx`` (``sandboxed`` in place of the context's), the verdict
        its level gives and the reason's opening words, kept per schedule and mode
        (:func:`~tokenomy.autonomy.gate_terms.class_terms`)."""
        if self._terms_schedule is not self.schedule or self._terms_mode != self.mode:
            self._terms_memo.clear()
            self._terms_schedule, self._terms_mode = self.schedule, self.mode
        key = (name, sandboxed, ctx.p_harm)
        found = self._terms_memo.get(key)
        if found is None:
            terms = class_terms(self.schedule, self.mode, name, sandboxed, ctx.p_harm)
            found = (terms, level_verdict(terms[0]), f"{name}: {terms[1]}; {terms[5]}; rule: ")
            if len(self._terms_memo) < 4096:
                self._terms_memo[key] = found
        return found

    def _judge(
        self, call: Call, res: Classification, ctx: GateContext, *, consume: bool, vouch: str = ""
    ) -> Verdict:
        name = res.action_class
        terms, decision, head = self._terms(name, ctx, True if vouch else ctx.sandboxed)
        level, _, price, scope, needed, _ = terms
        ask_cost = self.schedule.ask_cost_usd
        parts = res.parts
        if len(parts) == 1:  # (the common case: the rule of the part that set the class)
            rule = parts[0][2] if parts[0][1] == name else ""
        else:
            rule = next((r for _, c, r in parts if c == name), "")
        reason = head + rule + (f"; workspace: {vouch}" if vouch else "")
        approvals = 0
        if decision == "ask":
            text = call.text
            once_key = (ctx.session_id, name, text)
            once = self._pending_once.get(once_key, frozenset())
            grant = (
                next(
                    (
                        g
                        for key in (
                            (name, "", text),
                            (name, ctx.session_id, text),
                            (name, "", ""),
                            (name, ctx.session_id, ""),
                        )
                        if (g := self._grants.get(key)) is not None
                    ),
                    None,
                )
                if self._grants
                else None
            )
            approvals = len(once | (grant.approvers if grant is not None else frozenset()))
            if approvals >= needed:
                decision = "allow"
                held = grant.scope if grant is not None and len(grant.approvers) >= needed else "once"
                reason += f"; approved ({approvals}/{needed}, scope {held})"
                if consume and held == "once":
                    self._pending_once.pop(once_key, None)
            else:
                reason += f"; {approvals}/{needed} approvals"
        return Verdict(decision, reason, name, level, price, ask_cost, scope, needed, approvals, call, res)

    # -- sessions (approvals: gate_approvals.GateApprovals) -----------------------------------------
    def end_session(self, session_id: str) -> None:
        """Forget the session's grants, pending one-time approvals and state; flush the ledger buffer."""
        self._states.pop(session_id, None)
        for key in [
            k for k, g in self._grants.items() if g.scope == "session" and g.session_id == session_id
        ]:
            del self._grants[key]
        for once in [k for k in self._pending_once if k[0] == session_id]:
            del self._pending_once[once]
        self.flush()

    # -- ledger ------------------------------------------------------------------------------------
    def _record(self, v: Verdict, ctx: GateContext, point: str, **extra: Any) -> Verdict:
        if self.ledger is None:
            return v
        self._seq += 1
        decision_id = f"gate-{id(self):x}-{self._seq}"
        if not self._buffer:
            self._oldest_s = time.monotonic()
        self._buffer.append(verdict_decision(v, ctx, self.schedule, self.mode, point, decision_id, extra))
        if len(self._buffer) >= self.flush_every or (
            self.flush_every > 1 and time.monotonic() - self._oldest_s >= self.flush_after_s
        ):
            self.flush()
        return replace(v, decision_id=decision_id)

    def flush(self) -> int:
        """Write buffered verdicts to the ledger; return how many were written."""
        if self.ledger is None or not self._buffer:
            return 0
        rows, self._buffer = self._buffer, []
        self.ledger.append(rows)
        return len(rows)

    # -- decorator and context manager --------------------------------------------------------------
    def guard(
        self,
        tool: str | None = None,
        *,
        approver: Approver | None = None,
        context: GateContext | None = None,
    ) -> Callable[[F], F]:
        """Decorate a tool function so every call is checked first (:func:`tokenomy.autonomy.guard.guard`).

        The call judged is ``Call(tool or fn.__name__, arguments bound by the signature)``; a positional
        first string that binds to no named parameter is taken as ``command``. An ``async def`` tool
        stays async; on ``ask`` the ``approver`` (sync, or async for async tools) is asked, and each yes
        approves the call once.

        Raises (from the wrapped function):
            ActionDeniedError: the class is denied.
            ApprovalRequiredError: ``ask`` and no approver, or the approver said no.
        """
        from tokenomy.autonomy.guard import guard

        return guard(self, tool, approver=approver, context=context)

    def session(self, session_id: str, **context: Any) -> GateSession:
        """A context manager bound to one session; on exit its session grants end and the ledger flushes."""
        return GateSession(self, GateContext(session_id=session_id, **context))
