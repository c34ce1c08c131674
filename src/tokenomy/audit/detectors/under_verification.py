"""Under-verification: a task ends with an edit that no test or run checked (SPEC.md §4).

Violated condition: V·ΔQ_v − c_v > 0 (risk-free verify) but no verify step after the last edit.
ΔQ_v is estimated from the log itself as the resolved-rate gap between tasks that verified after
their last edit and those that did not — an observational estimate (selection is not controlled),
labelled so. c_v is the mean cost of a verify step in the log. A task counts when its own V makes
the missing verify worth buying; the impact is Σ (V·ΔQ_v − c_v) over those tasks.
"""

from __future__ import annotations

import numpy as np

from tokenomy.audit.detectors._agent import verification_stats
from tokenomy.audit.detectors.base import AuditContext, Detector, Finding, register
from tokenomy.core.rule import surplus_matrix

__all__ = ["UnderVerification"]


@register
class UnderVerification(Detector):
    """Tasks whose last edit was never verified although a verify step was worth its cost."""

    mode = "under_verification"
    definition = "V·ΔQ_v − c_v > 0 but no test/run after the last edit"
    unit = "tasks"

    def detect(self, ctx: AuditContext) -> Finding:
        caps = ctx.log.extra.get("capabilities", ())
        if "action_classes" not in caps:
            return self.not_applicable("the log has no action classes (edit / test / run) for tool steps")
        q = ctx.log.requests.quality
        st = verification_stats(ctx)
        edited = (st["n_edit"] > 0) & ~np.isnan(q)
        if not edited.any():
            return self.not_applicable("no labelled task contains an edit")
        verified = edited & (st["n_verify_after"] > 0)
        unverified = edited & (st["n_verify_after"] == 0)
        if not verified.any() or not unverified.any():
            return self.not_applicable(
                "every edited task is on one side (all verified or none): no gap to estimate"
            )
        dq = float(q[verified].mean() - q[unverified].mean())
        s = ctx.log.steps
        vmask = np.isin(s.action_class, ["test", "run"])
        c_v = float(np.nanmean(s.cost_usd[vmask])) if vmask.any() else 0.0
        v = ctx.log.requests.v_usd
        # Eq. 1 surplus of one verify step: ΔQ_v at V against its cost (no latency or harm priced here).
        gain = surplus_matrix(v, np.array([dq]), c_v, validate=False)[:, 0]
        hit = unverified & (gain > 0)
        ids = ctx.log.requests.request_id
        examples = [
            {
                "request_id": str(ids[i]),
                "impact_usd": float(gain[i]),
                "quality": float(q[i]),
                "n_edit": int(st["n_edit"][i]),
            }
            for i in np.flatnonzero(hit)
        ]
        v_star = c_v / dq if dq > 0 else float("inf")
        threshold = (
            f"ΔQ_v = {dq:.3f} (resolved-rate gap), c_v = ${c_v:.4f} per verify step: "
            f"verify pays when V > c_v/ΔQ_v = ${v_star:.3g}"
        )
        details = {
            "tasks_edited": int(edited.sum()),
            "tasks_unverified": int(unverified.sum()),
            "resolved_rate_verified": float(q[verified].mean()),
            "resolved_rate_unverified": float(q[unverified].mean()),
            "success_gap": dq,
            "verify_step_cost_usd": c_v,
            "v_star_usd": v_star,
            "missing_verify_cost_usd": float(c_v * unverified.sum()),
        }
        return self.found(
            int(hit.sum()),
            float(gain[hit].sum()),
            examples,
            threshold=threshold,
            details=details,
            labels=("observational",),
        )
