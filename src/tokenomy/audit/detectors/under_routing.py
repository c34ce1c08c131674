"""Under-routing: a cheaper model chosen where a dearer candidate had the higher utility (SPEC.md §4).

Violated condition: V·ΔQ_m ≫ ΔC_m for a dearer m that was not chosen: V·(q_m − q_chosen) > c_m − c_chosen.
Impact = utility lost = utility of the best dearer candidate − utility of the chosen one (realised where
the ledger observes both outcomes, else ex-ante surplus). Needs demand-layer decisions with candidates.
"""

from __future__ import annotations

from tokenomy.audit.detectors.base import AuditContext, Detector, Finding, register
from tokenomy.audit.detectors.over_routing import routing_finding

__all__ = ["UnderRouting"]


@register
class UnderRouting(Detector):
    """A cheaper model chosen although a dearer one had the higher utility."""

    mode = "under_routing"
    definition = "V·ΔQ_m ≫ ΔC_m ignored (a dearer candidate had the higher utility)"
    unit = "requests"

    def detect(self, ctx: AuditContext) -> Finding:
        return routing_finding(
            self,
            ctx,
            dearer=True,
            threshold="route up when V > Δc/Δq between a dearer model and the chosen one",
        )
