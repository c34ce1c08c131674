"""Over-routing: a dearer model chosen where a cheaper candidate had the higher utility (SPEC.md §4).

Violated condition: V·ΔQ_m < ΔC_m for the chosen m against a cheaper alternative m', i.e.
V·(q_m − q_m') < c_m − c_m'. Utilities are realised where the ledger holds each candidate's outcome
(routing data observes every model), else the ex-ante Eq. 1 surplus. Impact = $ wasted = utility of the
best cheaper candidate − utility of the chosen one. Needs demand-layer decisions with candidate sets.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tokenomy.audit.detectors._decisions import score_decisions
from tokenomy.audit.detectors.base import AuditContext, Detector, Finding, register
from tokenomy.ledger import Layer

__all__ = ["OverRouting", "routing_finding", "routing_gaps"]


def routing_gaps(ctx: AuditContext, dearer: bool) -> tuple[list[dict[str, Any]], int]:
    """Decisions where a cheaper (``dearer=False``: dearer) candidate beat the chosen one; and how many scored."""
    rows = []
    scored = [
        s
        for s in score_decisions(ctx.decisions, ctx.outcomes, Layer.DEMAND)
        if s.decision.chosen is not None and len(s.decision.candidates) > 1
    ]
    for s in scored:
        d = s.decision
        assert d.chosen is not None
        cost = np.array([c.dc_usd for c in d.candidates])
        alt = cost > cost[d.chosen] if dearer else cost < cost[d.chosen]
        if not alt.any():
            continue
        j = int(np.flatnonzero(alt)[np.argmax(s.utility_usd[alt])])
        gap = float(s.utility_usd[j] - s.utility_usd[d.chosen])
        if gap > 0:
            rows.append(
                {
                    "request_id": d.request_id,
                    "decision_id": d.decision_id,
                    "impact_usd": gap,
                    "chosen": d.chosen_name,
                    "better": d.candidates[j].name,
                    "v_usd": d.prices.v_usd,
                    "ex_post": bool(s.observed[j] and s.observed[d.chosen]),
                }
            )
    return rows, len(scored)


_NO_CANDIDATES = (
    "no routing decisions with a candidate set (logs record only the model used, not the alternatives "
    "and their quality)"
)


def routing_finding(det: Detector, ctx: AuditContext, *, dearer: bool, threshold: str) -> Finding:
    """The finding of over-routing (``dearer=False``) or under-routing (``dearer=True``)."""
    rows, n = routing_gaps(ctx, dearer=dearer)
    if n == 0:
        return det.not_applicable(_NO_CANDIDATES)
    return det.found(
        len(rows),
        float(sum(r["impact_usd"] for r in rows)),
        rows,
        threshold=threshold,
        details={"routing_decisions": n},
    )


@register
class OverRouting(Detector):
    """A dearer model chosen although a cheaper one had the higher utility."""

    mode = "over_routing"
    definition = "V·ΔQ_m < ΔC_m for the chosen m (a cheaper candidate had the higher utility)"
    unit = "requests"

    def detect(self, ctx: AuditContext) -> Finding:
        return routing_finding(
            self,
            ctx,
            dearer=False,
            threshold="route down when V < Δc/Δq between the chosen and a cheaper model",
        )
