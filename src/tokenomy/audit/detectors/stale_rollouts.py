"""Stale RL rollouts: traces trained on after staleness ate their learning gain (SPEC.md §4).

A capital-layer decision whose chosen candidate is a rollout (decision point containing "rollout")
carries ΔQ = its learning gain when fresh and metadata ``staleness_versions`` (s) and
``drift_per_version`` (δ). Depreciated value V·ΔQ·(1 − δ)^s below its token cost ΔC means the trace
was not worth learning from: impact = ΔC − V·ΔQ·(1 − δ)^s; wasted tokens from metadata ``tokens``.
"""

from __future__ import annotations

from tokenomy.audit.detectors.base import AuditContext, Detector, Finding, register
from tokenomy.ledger import Layer

__all__ = ["StaleRollouts"]


@register
class StaleRollouts(Detector):
    """Rollouts used although their depreciated learning gain was below their cost."""

    mode = "stale_rollouts"
    definition = "staleness depreciation exceeds the learning gain: V·ΔQ·(1−δ)^s < ΔC"
    unit = "traces"

    def detect(self, ctx: AuditContext) -> Finding:
        rows = []
        tokens = 0
        n = 0
        for d in ctx.decisions:
            if d.layer != Layer.CAPITAL or "rollout" not in d.decision_point or d.chosen is None:
                continue
            if "staleness_versions" not in d.metadata:
                continue
            n += 1
            c = d.candidates[d.chosen]
            s = float(d.metadata["staleness_versions"])
            delta = float(d.metadata.get("drift_per_version", 0.0))
            value = d.prices.v_usd * c.dq * (1.0 - delta) ** s
            if value < c.dc_usd:
                tokens += int(d.metadata.get("tokens", 0))
                rows.append(
                    {
                        "request_id": d.request_id,
                        "decision_id": d.decision_id,
                        "impact_usd": c.dc_usd - value,
                        "staleness_versions": s,
                    }
                )
        if n == 0:
            return self.not_applicable("no RL rollout decisions (capital layer, with staleness) in the input")
        return self.found(
            len(rows),
            sum(float(r["impact_usd"]) for r in rows),
            rows,
            threshold="use a trace only while V·ΔQ·(1−δ)^s ≥ ΔC",
            details={"rollout_decisions": n, "wasted_tokens": tokens},
        )
