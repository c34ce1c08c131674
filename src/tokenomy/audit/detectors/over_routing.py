"""Over-routing: a dearer model chosen where a cheaper candidate had the higher utility (SPEC.md §4).

Violated condition: V·ΔQ_m < ΔC_m for the chosen m against a cheaper alternative m', i.e.
V·(q_m − q_m') < c_m − c_m'. Impact = $ wasted = utility of the best cheaper candidate − utility of the
chosen one, found three ways, each labelled in the finding:

* **ex post**, per decision, where the ledger holds each candidate's outcome (routing data observes
  every model);
* **off-policy**, where only the served model was graded and the router logged propensities (some < 1):
  per context group, the alternative's utility is estimated by DR from the logged decisions (IPS and
  SNIPS beside it) and a group counts only when its 95% interval lies above 0 (``_offpolicy``);
* **ex ante**, as a labelled fallback where no propensity was logged (a deterministic router): the
  alternative's recorded Eq. 1 surplus against the chosen one's realised utility.

Needs demand-layer decisions with candidate sets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from tokenomy.audit.detectors._decisions import Scored, score_decisions
from tokenomy.audit.detectors._offpolicy import HEADLINE, OffPolicyRouting, offpolicy_routing, usable
from tokenomy.audit.detectors.base import AuditContext, Detector, Finding, register
from tokenomy.ledger import Layer

__all__ = ["OverRouting", "routing_finding", "routing_gaps"]

MAX_GROUPS = 20
"""Off-policy groups listed in a finding's details (largest gain first); the counts cover all."""


def routing_scored(ctx: AuditContext) -> list[Scored]:
    """Demand decisions that chose one of several candidates, with each candidate's utility."""
    return [
        s
        for s in score_decisions(ctx.decisions, ctx.outcomes, Layer.DEMAND)
        if s.decision.chosen is not None and len(s.decision.candidates) > 1
    ]


def routing_gaps(scored: Sequence[Scored], dearer: bool) -> list[dict[str, Any]]:
    """Decisions where a cheaper (``dearer=False``: dearer) candidate beat the chosen one, per decision."""
    rows = []
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
                    "estimate": "ex post" if s.observed[j] and s.observed[d.chosen] else "ex ante",
                }
            )
    return rows


_NO_CANDIDATES = (
    "no routing decisions with a candidate set (logs record only the model used, not the alternatives "
    "and their quality)"
)


def routing_finding(det: Detector, ctx: AuditContext, *, dearer: bool, threshold: str) -> Finding:
    """The finding of over-routing (``dearer=False``) or under-routing (``dearer=True``)."""
    scored = routing_scored(ctx)
    if not scored:
        return det.not_applicable(_NO_CANDIDATES)
    off = offpolicy_routing(scored, dearer=dearer)
    if off is None:
        rows = routing_gaps(scored, dearer=dearer)
        ex_ante = sum(r["estimate"] == "ex ante" for r in rows)
        details: dict[str, Any] = {"routing_decisions": len(scored)}
        if ex_ante:
            details["estimate"] = (
                f"ex ante for {ex_ante} of {len(rows)} violations: the alternative's recorded Eq. 1 surplus "
                "against the served model's utility; no propensities were logged (every one is 1: a "
                "deterministic router), so its outcome cannot be estimated off-policy"
            )
        return det.found(
            len(rows),
            float(sum(r["impact_usd"] for r in rows)),
            rows,
            threshold=threshold,
            details=details,
            labels=("ex ante",) if ex_ante else (),
        )
    # off-policy for the graded decisions with propensities; ex post where every outcome was observed
    rest = routing_gaps([s for s in scored if not usable(s) and s.observed.all()], dearer=dearer)
    return _offpolicy_finding(det, off, rest, len(scored), threshold)


def _offpolicy_finding(
    det: Detector, off: OffPolicyRouting, rest: list[dict[str, Any]], n_scored: int, threshold: str
) -> Finding:
    sig = off.significant()
    rows = list(rest)
    for g in sig:
        share = g.gain_usd / max(len(g.touched), 1)
        rows += [
            {
                "request_id": rid,
                "decision_id": did,
                "impact_usd": share,
                "chosen": served,
                "better": g.better,
                "v_usd": v,
                "estimate": "off-policy (group gain shared equally)",
            }
            for rid, did, served, v in g.touched
        ]
    value, lo, hi = off.total()
    exact = float(sum(r["impact_usd"] for r in rest))
    verdicts = [g.verdict for g in off.groups]
    ranked = sorted(off.groups, key=lambda g: -g.gain_usd)
    details: dict[str, Any] = {
        "estimate": f"estimated off-policy from {off.logged} logged decisions with propensities "
        f"({HEADLINE.upper()}, 95% CLT interval; IPS and SNIPS per group beside it); a group counts "
        "when its interval lies above 0",
        "routing_decisions": n_scored,
        "offpolicy_decisions": off.logged,
        "groups_gain": verdicts.count("gain"),
        "groups_tie": verdicts.count("tie"),
        "groups_loss": verdicts.count("loss"),
        "groups_without_support": off.skipped_no_support,
        "groups": [g.as_dict() for g in ranked[:MAX_GROUPS]],
    }
    if rest:
        details["ex_post_violations"] = len(rest)
    found = det.found(
        len(rows),
        value + exact,
        rows,
        threshold=threshold,
        details=details,
        labels=("off-policy estimate",),
    )
    return replace(found, impact_ci95=(lo + exact, hi + exact) if sig else found.impact_ci95)


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
