"""Two observational curves of agent runs: verification (the paper's prediction 1) and the stopping margin.

Prediction 1: raising the verifier budget lowers realised risk until its marginal product meets its
marginal cost. On a log we can only *observe* it: tasks binned by the number of verify steps (test /
run) after their last edit, with each bin's resolved rate, realised risk (share of tasks that ended
unresolved) and the mean cost of one verify step; the marginal product of the k-th verify is the
resolved-rate difference between bins k and k−1, and verification "should" stop at the first k where
V·MP_k < c_v. Selection is not controlled (hard tasks get more verification), so every output says
"observational".

Stopping margin: for each step index k, the marginal success gain of taking step k is the share of
tasks still running at k that end resolved right after it (the resolution hazard), against the mean
cost of step k as the context grows; the margin is the step after the last k where V·hazard ≥ cost
(the hazard smoothed over a window). No I/O.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tokenomy.audit.detectors._agent import verification_stats
from tokenomy.audit.detectors.base import AuditContext

__all__ = ["stopping_margin", "verification_curve"]

LABEL = "observational: tasks were not assigned verify budgets at random"


def verification_curve(ctx: AuditContext, max_bin: int = 5) -> dict[str, Any] | None:
    """Resolved rate and realised risk by verify steps after the last edit (None when not applicable)."""
    if "action_classes" not in ctx.log.extra.get("capabilities", ()):
        return None
    q = ctx.log.requests.quality
    st = verification_stats(ctx)
    edited = (st["n_edit"] > 0) & ~np.isnan(q)
    if edited.sum() < 2:
        return None
    s = ctx.log.steps
    vmask = np.isin(s.action_class, ["test", "run"])
    c_v = float(np.nanmean(s.cost_usd[vmask])) if vmask.any() else 0.0
    k = np.minimum(st["n_verify_after"], max_bin)
    harm = ctx.log.requests.harm
    risk = np.where(np.isnan(harm), 1.0 - q, harm)
    v = float(np.median(ctx.log.requests.v_usd[edited]))
    rows: list[dict[str, Any]] = []
    prev: float | None = None
    for b in range(max_bin + 1):
        m = edited & (k == b)
        if not m.any():
            continue
        rate = float(q[m].mean())
        mp: float | None = None if prev is None else rate - prev
        rows.append(
            {
                "verify_steps_after_last_edit": f"{b}+" if b == max_bin else str(b),
                "k": b,
                "tasks": int(m.sum()),
                "resolved_rate": rate,
                "realised_risk": float(risk[m].mean()),
                "mean_cost_usd": float(ctx.cost_usd[m].mean()),
                "marginal_product": mp,
                "value_of_mp_usd": None if mp is None else v * mp,
                "verify_step_cost_usd": c_v,
            }
        )
        prev = rate
    stop = next(
        (r["k"] for r in rows if r["value_of_mp_usd"] is not None and r["value_of_mp_usd"] < c_v), None
    )
    return {
        "rows": rows,
        "v_usd": v,
        "verify_step_cost_usd": c_v,
        "first_k_where_mp_below_cost": stop,
        "label": LABEL,
    }


def _window_sum(x: np.ndarray[Any, Any], width: int) -> np.ndarray[Any, np.dtype[np.float64]]:
    """Centred moving sum (truncated at the ends), same length as ``x``."""
    n = len(x)
    c = np.concatenate([[0.0], np.cumsum(np.asarray(x, np.float64))])
    i = np.arange(n)
    return np.asarray(c[np.clip(i + width - width // 2, 0, n)] - c[np.clip(i - width // 2, 0, n)])


def stopping_margin(ctx: AuditContext, window: int = 5, max_step: int = 150) -> dict[str, Any] | None:
    """Marginal step cost vs marginal success gain by step index (None when not applicable)."""
    q = ctx.log.requests.quality
    s = ctx.log.steps
    llm = s.is_llm & (ctx.req >= 0)
    if not llm.any() or np.isnan(q).all():
        return None
    r = len(q)
    n_steps = np.zeros(r, np.int64)
    np.add.at(n_steps, ctx.req[llm], 1)
    labelled = ~np.isnan(q)
    idx = s.index[llm]
    top = int(min(n_steps.max(), max_step))
    cost_k = np.bincount(np.minimum(idx, top), weights=np.nan_to_num(s.cost_usd[llm]), minlength=top + 1)[
        : top + 1
    ]
    calls_k = np.bincount(np.minimum(idx, top), minlength=top + 1)[: top + 1]
    prompt_k = np.bincount(np.minimum(idx, top), weights=s.input_tokens[llm], minlength=top + 1)[: top + 1]
    running = np.array([(labelled & (n_steps > k)).sum() for k in range(top + 1)], np.float64)
    ended_ok = np.bincount(
        np.minimum(n_steps[labelled & (q > 0)] - 1, top), weights=q[labelled & (q > 0)], minlength=top + 1
    )[: top + 1]
    hazard = _window_sum(ended_ok, window) / np.maximum(_window_sum(running, window), 1)
    mean_cost = cost_k / np.maximum(calls_k, 1)
    v = float(np.median(ctx.log.requests.v_usd[labelled]))
    gain = v * hazard
    above = np.flatnonzero((gain >= mean_cost) & (calls_k > 0))
    margin = int(above[-1]) + 1 if above.size else None  # after it, no step's value covers its cost
    beyond = float(cost_k[margin:].sum()) if margin is not None else 0.0
    rows = [
        {
            "step": k,
            "running": int(running[k]),
            "mean_step_cost_usd": float(mean_cost[k]),
            "mean_prompt_tokens": float(prompt_k[k] / max(calls_k[k], 1)),
            "hazard": float(hazard[k]),
            "value_of_step_usd": float(gain[k]),
        }
        for k in range(top + 1)
        if calls_k[k] > 0
    ]
    return {
        "rows": rows,
        "v_usd": v,
        "margin_step": margin,
        "cost_beyond_margin_usd": beyond,
        "share_of_cost_beyond_margin": beyond / float(cost_k.sum()) if cost_k.sum() else 0.0,
        "label": "observational: the resolution hazard of tasks still running at step k",
    }
