"""Stale RL rollouts: traces trained on after staleness ate their learning gain (SPEC.md §4).

A capital-layer decision whose chosen candidate is a rollout (decision point containing "rollout")
carries ΔQ = its learning gain when fresh and metadata ``staleness_versions`` (s) and
``drift_per_version`` (δ). Depreciated value V·ΔQ·(1 − δ)^s below its token cost ΔC means the trace
was not worth learning from: impact = ΔC − V·ΔQ·(1 − δ)^s, minus core's Eq. 1 surplus of the depreciated
gain; wasted tokens from metadata ``tokens``.
"""

from __future__ import annotations

import numpy as np

from tokenomy.audit.detectors.base import AuditContext, Detector, Finding, register
from tokenomy.core.rule import surplus_matrix
from tokenomy.ledger import Layer

__all__ = ["StaleRollouts"]


@register
class StaleRollouts(Detector):
    """Rollouts used although their depreciated learning gain was below their cost."""

    mode = "stale_rollouts"
    definition = "staleness depreciation exceeds the learning gain: V·ΔQ·(1−δ)^s < ΔC"
    unit = "traces"

    def detect(self, ctx: AuditContext) -> Finding:
        used = [
            d
            for d in ctx.decisions
            if d.layer == Layer.CAPITAL
            and "rollout" in d.decision_point
            and d.chosen is not None
            and "staleness_versions" in d.metadata
        ]
        n = len(used)
        rows = []
        tokens = 0
        if used:
            chosen = [d.candidates[d.chosen] for d in used if d.chosen is not None]
            stale = np.array([float(d.metadata["staleness_versions"]) for d in used])
            delta = np.array([float(d.metadata.get("drift_per_version", 0.0)) for d in used])
            # Core's rule on the depreciated learning gain against the token cost; this mode's
            # condition prices neither latency nor harm of training tokens (λ = ρ = 0).
            surplus = surplus_matrix(
                np.array([d.prices.v_usd for d in used]),
                (np.array([c.dq for c in chosen]) * (1.0 - delta) ** stale)[:, None],
                np.array([c.dc_usd for c in chosen])[:, None],
                validate=False,
            )[:, 0]
            for d, s, sur in zip(used, stale.tolist(), surplus.tolist(), strict=True):
                if sur < 0.0:
                    tokens += int(d.metadata.get("tokens", 0))
                    rows.append(
                        {
                            "request_id": d.request_id,
                            "decision_id": d.decision_id,
                            "impact_usd": -sur,
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
