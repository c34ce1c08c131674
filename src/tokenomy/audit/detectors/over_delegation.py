"""Over-delegation: the agent acts without the confirmation its action class requires (SPEC.md §4).

Violated condition: ∂R/∂a > V·∂p/∂a — in log terms, a tool call whose class the autonomy schedule
puts at "confirm" or above (commit, unknown, deploy/transfer/delete-remote) ran without a recorded
human confirmation. Harm exposure of each such action = ρ_irr · p̂_wrong (core's risk cost of p̂_wrong
wholly irreversible harm units), with p̂_wrong the observed
share of unconfirmed actions that did not match the reference (1 when the log has no reference
labels: worst case). The reward gap between requests with and without an unconfirmed action is
reported beside it — observational, labelled so.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tokenomy.audit.actions import required_levels
from tokenomy.audit.detectors.base import AuditContext, Detector, Finding, register
from tokenomy.core.rule import utility_terms

__all__ = ["OverDelegation"]


@register
class OverDelegation(Detector):
    """Actions at confirm level or above taken without a confirmation."""

    mode = "over_delegation"
    definition = "∂R/∂a > V·∂p/∂a: an action needing confirmation taken without one"
    unit = "actions"

    def detect(self, ctx: AuditContext) -> Finding:
        s = ctx.log.steps
        tool = (s.kind == "tool") & (ctx.req >= 0)
        schedule = ctx.log.extra.get("schedule")
        if schedule is None:
            return self.not_applicable(
                "no autonomy schedule was given, so no confirmation level is known (tokenomy audit uses "
                "the packaged default unless --schedule names one)"
            )
        level = np.zeros(len(s), np.int64)
        level[np.flatnonzero(tool)] = required_levels(s.autonomy_class[tool].tolist(), schedule)
        needs = tool & (level >= 1)
        denied = tool & (level >= 3)  # a class the schedule denies ran at all
        observed = needs & ((s.confirmed >= 0) | denied)
        if not needs.any():
            return self.not_applicable(
                "no tool call in the log needs a confirmation under the autonomy schedule"
            )
        if not observed.any():
            return self.not_applicable(
                f"{_needing(s, needs, level)} under the schedule, but the log records "
                "no confirmation for them (e.g. a sandboxed benchmark with no human in the loop; on spans "
                "set tokenomy.confirmed); cannot tell delegated from confirmed"
            )
        bad = (observed & (s.confirmed == 0)) | denied
        labelled = bad & (s.correct >= 0)
        p_wrong = float((s.correct[labelled] == 0).mean()) if labelled.any() else 1.0
        rq = ctx.log.requests
        # Each unconfirmed action risks p̂_wrong harm units, all of them irreversible (no confirmation
        # stood between the act and its effect): core's risk cost, which is ρ_irr·p̂_wrong.
        rows = ctx.req[bad]
        exposure = utility_terms(
            0.0,
            0.0,
            harm=p_wrong,
            harm_irr=p_wrong,
            rho_usd=rq.rho_usd[rows],
            rho_irr_usd=rq.rho_irr_usd[rows],
        ).risk_cost_usd
        per_req = np.zeros(len(rq))
        np.add.at(per_req, ctx.req[bad], exposure)
        n_bad_req = np.zeros(len(rq), np.int64)
        np.add.at(n_bad_req, ctx.req[bad], 1)
        has_obs = np.zeros(len(rq), bool)
        has_obs[ctx.req[observed]] = True
        with_bad = has_obs & (n_bad_req > 0) & ~np.isnan(rq.quality)
        all_ok = has_obs & (n_bad_req == 0) & ~np.isnan(rq.quality)
        gap = (
            float(rq.quality[all_ok].mean() - rq.quality[with_bad].mean())
            if with_bad.any() and all_ok.any()
            else float("nan")
        )
        first: dict[int, str] = {}  # request row -> its first unconfirmed action, "tool (class)"
        for i, t, c in zip(ctx.req[bad], s.tool[bad], s.autonomy_class[bad], strict=True):
            first.setdefault(int(i), f"{t} ({c})")
        examples = [
            {
                "request_id": str(rq.request_id[i]),
                "impact_usd": float(per_req[i]),
                "unconfirmed_actions": int(n_bad_req[i]),
                "first_unconfirmed": first[int(i)],
                "quality": float(rq.quality[i]),
            }
            for i in np.flatnonzero(n_bad_req)
        ]
        details = {
            "actions_needing_confirmation": int(observed.sum()),
            "unconfirmed": int(bad.sum()),
            "p_wrong_given_unconfirmed": p_wrong,
            "p_wrong_given_confirmed": float(
                (s.correct[observed & (s.confirmed == 1) & (s.correct >= 0)] == 0).mean()
            )
            if (observed & (s.confirmed == 1) & (s.correct >= 0)).any()
            else float("nan"),
            "requests_with_unconfirmed": int(with_bad.sum()),
            "requests_all_confirmed": int(all_ok.sum()),
            "quality_all_confirmed": float(rq.quality[all_ok].mean()) if all_ok.any() else float("nan"),
            "quality_with_unconfirmed": float(rq.quality[with_bad].mean())
            if with_bad.any()
            else float("nan"),
            "reward_gap": gap,
            "value_gap_usd": float(np.nansum(rq.v_usd[with_bad]) * gap) if gap == gap else float("nan"),
            "denied_actions_run": int(denied.sum()),
            # one observed "yes" is counted as the approval; multi-party classes need more approvers
            "multi_party_actions_confirmed_once": int((observed & (level == 2) & (s.confirmed == 1)).sum()),
            **_handoffs(ctx, tool),
        }
        src = str(ctx.log.extra.get("schedule_source", "")) or "the given schedule"
        threshold = (
            f"the class's level in {src} is confirm or above (deny: must not run); exposure "
            f"ρ_irr·p̂_wrong with p̂_wrong = {p_wrong:.3f}"
        )
        return self.found(
            int(bad.sum()),
            float(exposure.sum()),
            examples,
            threshold=threshold,
            details=details,
            labels=("observational",),
        )


def _needing(s: Any, needs: np.ndarray[Any, np.dtype[np.bool_]], level: np.ndarray[Any, Any]) -> str:
    """ "3 tool calls (deploy ×2: bash; commit: cancel_reservation)": the calls that need a confirmation."""
    names = {1: "confirm", 2: "multi_party", 3: "deny"}
    by: dict[str, list[str]] = {}
    for cls, tool, lv in zip(s.autonomy_class[needs], s.tool[needs], level[needs], strict=True):
        by.setdefault(f"{cls} [{names[int(lv)]}]", []).append(str(tool))
    parts = [
        f"{cls} ×{len(tools)}: {', '.join(sorted(set(tools))[:3])}"
        if len(tools) > 1
        else f"{cls}: {tools[0]}"
        for cls, tools in sorted(by.items(), key=lambda kv: -len(kv[1]))[:4]
    ]
    n = int(needs.sum())
    return f"{n} tool call{'s' if n != 1 else ''} ({'; '.join(parts)}) need{'s' if n == 1 else ''} a confirmation"


def _handoffs(ctx: AuditContext, tool: np.ndarray[Any, np.dtype[np.bool_]]) -> dict[str, Any]:
    """Hand-offs to a human (autonomy class ``defer``): how many, and the quality of requests with one."""
    s, rq = ctx.log.steps, ctx.log.requests
    defer = tool & (s.autonomy_class == "defer")
    if not defer.any():
        return {}
    has = np.zeros(len(rq), bool)
    has[ctx.req[defer]] = True
    lab = ~np.isnan(rq.quality)
    return {
        "handoffs": int(defer.sum()),
        "requests_with_handoff": int(has.sum()),
        "quality_with_handoff": float(rq.quality[has & lab].mean()) if (has & lab).any() else float("nan"),
        "quality_without_handoff": float(rq.quality[~has & lab].mean())
        if (~has & lab).any()
        else float("nan"),
    }
