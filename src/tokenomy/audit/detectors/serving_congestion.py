"""Serving congestion: a serving decision that only wins because λ·ΔL is left out of its cost (SPEC.md §4).

Violated condition: λΔL not priced in ΔC — the chosen candidate is the argmax of V·ΔQ − ΔC − ρΔR
(latency ignored) but not of the full Eq. 1 surplus (or the null option beats it). Impact = full surplus
of the Eq. 1 choice (≥ 0 for the null option) − full surplus of the chosen one; the delay imposed is
reported as Σ ΔL of those choices. Needs supply-layer decisions with candidates and λ > 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tokenomy.audit.detectors._decisions import score_decisions
from tokenomy.audit.detectors.base import AuditContext, Detector, Finding, register
from tokenomy.ledger import Layer

__all__ = ["ServingCongestion"]


@register
class ServingCongestion(Detector):
    """Serving choices explained only by ignoring the latency price."""

    mode = "serving_congestion"
    definition = "λΔL not priced in ΔC: the choice wins only when latency is free"
    unit = "requests"

    def detect(self, ctx: AuditContext) -> Finding:
        scored = [
            s
            for s in score_decisions(ctx.decisions, ctx.outcomes, Layer.SUPPLY)
            if s.decision.chosen is not None
        ]
        if not scored:
            return self.not_applicable(
                "no serving (supply-layer) decisions with candidates: logs hold latencies "
                "but not the admission / ordering alternatives"
            )
        rows: list[dict[str, Any]] = []
        delay = 0.0
        for s in scored:
            d = s.decision
            assert d.chosen is not None
            lam = d.prices.lam_usd_per_s
            dl = np.array([c.dl_s for c in d.candidates])
            full = s.utility_usd
            no_lat = full + lam * dl
            best_full = max(0.0, float(full.max()))
            if int(np.argmax(no_lat)) == d.chosen and full[d.chosen] < best_full and lam > 0:
                gap = best_full - float(full[d.chosen])
                delay += float(dl[d.chosen])
                rows.append(
                    {
                        "request_id": d.request_id,
                        "decision_id": d.decision_id,
                        "impact_usd": gap,
                        "chosen": d.chosen_name,
                        "latency_cost_usd": float(lam * dl[d.chosen]),
                    }
                )
        return self.found(
            len(rows),
            float(sum(r["impact_usd"] for r in rows)),
            rows,
            threshold="choice must stay the argmax with λ·ΔL included",
            details={"serving_decisions": len(scored), "delay_imposed_s": delay},
        )
