"""Waste: billed replies that produced nothing usable (malformed output, failed calls).

Not one of the seven modes of SPEC.md §4 but the plainest violation of Eq. 1: ΔC > 0 with ΔQ = 0.
Count = malformed or failed LLM calls; impact = their recomputed cost.
"""

from __future__ import annotations

import numpy as np

from tokenomy.audit.detectors.base import AuditContext, Detector, Finding, register

__all__ = ["Waste"]


@register
class Waste(Detector):
    """Malformed or failed LLM calls: cost without output."""

    mode = "waste"
    definition = "ΔC > 0 with ΔQ = 0: malformed reply or failed call"
    unit = "calls"

    def detect(self, ctx: AuditContext) -> Finding:
        caps = ctx.log.extra.get("capabilities", ())
        if "malformed" not in caps and "errors" not in caps:
            return self.not_applicable("the log records neither format errors nor call failures")
        s = ctx.log.steps
        bad = (s.malformed | s.error) & s.is_llm
        cost = np.nan_to_num(s.cost_usd)
        per_req = np.zeros(len(ctx.log.requests))
        np.add.at(per_req, ctx.req[bad & (ctx.req >= 0)], cost[bad & (ctx.req >= 0)])
        ids = ctx.log.requests.request_id
        examples = [
            {"request_id": str(ids[i]), "impact_usd": float(per_req[i])} for i in np.flatnonzero(per_req > 0)
        ]
        total = float(cost[bad].sum())
        all_cost = float(cost[s.is_llm].sum())
        return self.found(
            int(bad.sum()),
            total,
            examples,
            threshold="any cost with no usable output",
            details={
                "share_of_cost": total / all_cost if all_cost else 0.0,
                "malformed": int((s.malformed & s.is_llm).sum()),
                "failed": int((s.error & s.is_llm).sum()),
            },
        )
