"""Stale RL rollouts: traces trained on after staleness ate their learning gain (SPEC.md §4).

The rows read are capital-layer decisions to train on a group of rollouts: kind ``update`` or a decision
point ending in ``-use`` (``rollout-use``, as ``tokenomy.capital.rl`` writes them), with the group
trained on (chosen), ΔQ = its learning gain when fresh (the realised signal), ΔC = its update-token
cost, and metadata ``staleness_versions`` (s) and ``drift_per_version`` (δ). A trained group is
**stale** when its fresh gain paid for itself (V·ΔQ ≥ ΔC) but its depreciated gain did not:
V·ΔQ·(1 − δ)^s < ΔC. Impact = ΔC − V·ΔQ·(1 − δ)^s (minus core's Eq. 1 surplus of the depreciated
gain); wasted tokens from metadata ``tokens``. Trained groups that did not pay even when fresh (ΔQ = 0,
an all-right or all-wrong group, or too little signal for their tokens) are counted in the details as
``never_paid``, not as stale.
"""

from __future__ import annotations

import numpy as np

from tokenomy.audit.detectors.base import AuditContext, Detector, Finding, register
from tokenomy.core.rule import surplus_matrix
from tokenomy.ledger import Decision, Layer

__all__ = ["StaleRollouts"]


def _is_use(d: Decision) -> bool:
    return d.layer == Layer.CAPITAL and (d.kind == "update" or d.decision_point.endswith("-use"))


@register
class StaleRollouts(Detector):
    """Rollouts used although their depreciated learning gain was below their cost."""

    mode = "stale_rollouts"
    definition = "staleness depreciation exceeds the learning gain: V·ΔQ ≥ ΔC fresh but V·ΔQ·(1−δ)^s < ΔC"
    unit = "traces"

    def detect(self, ctx: AuditContext) -> Finding:
        rows_in = [d for d in ctx.decisions if _is_use(d) and "staleness_versions" in d.metadata]
        used = [d for d in rows_in if d.chosen is not None]
        if not rows_in:
            return self.not_applicable(
                "no RL rollout-use decisions (capital layer, with staleness) in the input"
            )
        rows = []
        tokens = 0
        never_paid = never_paid_tokens = 0
        if used:
            chosen = [d.candidates[d.chosen] for d in used if d.chosen is not None]
            stale = np.array([float(d.metadata["staleness_versions"]) for d in used])
            delta = np.array([float(d.metadata.get("drift_per_version", 0.0)) for d in used])
            v = np.array([d.prices.v_usd for d in used])
            dq = np.array([c.dq for c in chosen])
            dc = np.array([c.dc_usd for c in chosen])
            # Core's rule on the fresh and on the depreciated learning gain against the token cost; this
            # mode's condition prices neither latency nor harm of training tokens (λ = ρ = 0).
            fresh = surplus_matrix(v, dq[:, None], dc[:, None], validate=False)[:, 0]
            surplus = surplus_matrix(v, (dq * (1.0 - delta) ** stale)[:, None], dc[:, None], validate=False)[
                :, 0
            ]
            for d, s, f, sur in zip(used, stale.tolist(), fresh.tolist(), surplus.tolist(), strict=True):
                if f < 0.0:
                    never_paid += 1
                    never_paid_tokens += int(d.metadata.get("tokens", 0))
                elif sur < 0.0:
                    tokens += int(d.metadata.get("tokens", 0))
                    rows.append(
                        {
                            "request_id": d.request_id,
                            "decision_id": d.decision_id,
                            "impact_usd": -sur,
                            "staleness_versions": s,
                        }
                    )
        return self.found(
            len(rows),
            sum(float(r["impact_usd"]) for r in rows),
            rows,
            threshold="use a trace only while V·ΔQ·(1−δ)^s ≥ ΔC",
            details={
                "rollout_decisions": len(rows_in),
                "trained": len(used),
                "wasted_tokens": tokens,
                "never_paid": never_paid,
                "never_paid_tokens": never_paid_tokens,
            },
        )
