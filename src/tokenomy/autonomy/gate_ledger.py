"""A gate verdict as a ledger :class:`~tokenomy.ledger.Decision` (layer ``action``, Eq. 6–7's two options).

Candidates ``act`` (its harm under the class's risk measure, so core's surplus of acting is minus the
price the verdict compared) and ``ask`` (the cost of one confirmation); chosen ``act`` for allow, ``ask``
for ask, none for deny. An unknown class is unpriced (no harm recorded). Used by
:class:`tokenomy.autonomy.gate.Gate`; builds values only, writes nothing.
"""

from __future__ import annotations

from typing import Any

from tokenomy.autonomy.schedule import Schedule
from tokenomy.autonomy.verdict import GateContext, Verdict
from tokenomy.core.prices import PriceSource, PriceVector
from tokenomy.core.uses import TokenUse
from tokenomy.ledger.records import Candidate, Decision, Layer

__all__ = ["verdict_decision"]

_UNPRICED = PriceVector(rho_source=PriceSource.SAFETY_POLICY, rho_irr_source=PriceSource.SAFETY_POLICY)
"""The price vector recorded for a class the schedule does not price (ρ = ρ_irr = 0)."""


def verdict_decision(
    v: Verdict,
    ctx: GateContext,
    schedule: Schedule,
    mode: str,
    point: str,
    decision_id: str,
    extra: dict[str, Any],
) -> Decision:
    """The ledger row of one verdict (``point``: check or approve; ``extra``: approval details)."""
    cls = schedule.classes.get(v.action_class)
    dr = cls.dr_measured(ctx.p_harm) if cls is not None else 0.0
    dr_irr = dr * cls.irreversible if cls is not None else 0.0
    prices = cls.prices() if cls is not None else _UNPRICED
    cands = (
        Candidate.from_use(TokenUse("act", 0.0, dr=dr, dr_irr=dr_irr), prices),
        Candidate.from_use(TokenUse("ask", 0.0, v.ask_cost_usd), prices),
    )
    chosen = {"allow": 0, "ask": 1, "deny": None}[v.decision]
    meta = {
        "verdict": v.decision,
        "reason": v.reason,
        "action_class": v.action_class,
        "level": v.level,
        "scope": v.scope,
        "price_usd": None if v.price_usd == float("inf") else v.price_usd,
        "approvals": v.approvals,
        "approvers_needed": v.approvers_needed,
        "tool": v.call.tool,
        "call": v.call.text[:500],
        "parts": [[p[:200], c, r] for p, c, r in v.classification.parts[:20]],
        "session_id": ctx.session_id,
        "mode": mode,
        "harm_pricing": "act surplus = -(rho*(dr-dr_irr) + rho_irr*dr_irr), dr by CVaR weight if rare_severe",
        **extra,
    }
    return Decision(
        ctx.request_id or ctx.session_id,
        Layer.ACTION,
        f"gate-{point}",
        cands,
        chosen,
        prices,
        time_s=ctx.time_s,
        tenant=ctx.tenant,
        decision_id=decision_id,
        metadata=meta,
    )
