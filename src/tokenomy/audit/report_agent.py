"""The action layer's evaluation report: welfare per stopping policy and V, stopping curves, tau-bench.

``agent_eval`` runs the cross-fitted held-out evaluation of the stopping policies on replayed
mini-swe-agent runs (:func:`tokenomy.autonomy.replay.crossfit_stopping`) and returns JSON-ready rows;
``stopping_curves`` computes what the figures need (the success–cost frontier of fixed caps on the
held-out runs next to the marginal rule's points, and p̂ by step for resolved and failed runs);
``build_report`` lays it all out as one self-contained HTML page, with the tau-bench fragment of the
confirmation-policy evaluation (built elsewhere) inserted as given. Welfare = V·success − cost − ρ·harm;
the SWE-bench run records no harm, so ρ·harm = 0 there (said on the page). Reads no file.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from tokenomy.audit.html import Report
from tokenomy.audit.svg import Series, line_chart, scatter_chart
from tokenomy.autonomy.features import TrajectoryTable
from tokenomy.autonomy.replay import PolicyResult, crossfit_stopping, split_folds
from tokenomy.autonomy.stopping import CostCap, MarginalStop, default_policies, stop_outcomes

__all__ = [
    "MINISWE_DATASET",
    "RESULT_COLUMNS",
    "agent_eval",
    "build_report",
    "quality_check",
    "stopping_curves",
]

MINISWE_DATASET = "miniswe-gemini3pro-swebv"
ONE_SPLIT_NOTE = (
    "The three illustrations below (stopping curve, p̂ by step, model scores) use one seeded half/half "
    "split of the instances: fitted on one half, shown on the other. The welfare figures and tables "
    "above and below use K-fold cross-fitting over instances (each instance held out exactly once, "
    "judged by a model fitted on the other K−1 folds)."
)
"""Says which figures come from a single split and which from the cross-fitted evaluation."""
RESULT_COLUMNS = (
    "dataset",
    "V",
    "policy",
    "welfare_per_task",
    "welfare_ci_low",
    "welfare_ci_high",
    "success_rate",
    "cost_per_task_usd",
    "mean_calls",
    "diff_vs_best_cost_cap",
    "diff_ci_low",
    "diff_ci_high",
)
_PLOTTED = (
    "tokenomy",
    "tokenomy_plain",
    "tokenomy_option",
    "no_cap",
    "best_cost_cap_train",
    "best_step_cap_train",
    "cost_cap_0.5usd",
    "step_cap_50",
    "oracle_ex_post",
)


def _row(r: PolicyResult) -> dict[str, Any]:
    return {
        "dataset": MINISWE_DATASET,
        "V": r.v_usd,
        "policy": r.policy,
        "rho": 0.0,
        "welfare_per_task": r.welfare_per_task,
        "welfare_ci_low": r.welfare_ci95[0],
        "welfare_ci_high": r.welfare_ci95[1],
        "success_rate": r.success_rate,
        "cost_per_task_usd": r.cost_per_task_usd,
        "mean_calls": r.mean_calls,
        "diff_vs_best_cost_cap": r.diff_vs_reference,
        "diff_ci_low": r.diff_ci95[0],
        "diff_ci_high": r.diff_ci95[1],
        "n_tasks": r.n_tasks,
        "label": r.label,
        "modelled": False,
    }


def agent_eval(
    table: TrajectoryTable,
    v_values: Sequence[float],
    *,
    folds: int = 5,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> list[dict[str, Any]]:
    """Held-out welfare of the 20 default stopping policies at each V (rows for ``results``)."""
    res = crossfit_stopping(table, default_policies(), v_values, folds=folds, seed=seed, progress=progress)
    return [_row(r) for r in res]


def quality_check(rows: Sequence[Mapping[str, Any]], tol: float = 1e-9) -> dict[str, Any]:
    """The must-show: tokenomy ≥ the best train cost cap at every V (a tie is a tie) and strictly
    better with the 95% CI of the paired difference above 0 at ≥ 2 of them."""
    by = {(r["V"], r["policy"]): r for r in rows if r["dataset"] == MINISWE_DATASET}
    vs = sorted({v for v, _ in by})
    per_v = [
        {
            "V": v,
            "tokenomy": by[v, "tokenomy"]["welfare_per_task"],
            "best_cost_cap_train": by[v, "best_cost_cap_train"]["welfare_per_task"],
            "diff": by[v, "tokenomy"]["welfare_per_task"] - by[v, "best_cost_cap_train"]["welfare_per_task"],
            "diff_ci_low": by[v, "tokenomy"]["diff_ci_low"],
            "diff_ci_high": by[v, "tokenomy"]["diff_ci_high"],
        }
        for v in vs
    ]
    at_least = all(p["diff"] >= -tol for p in per_v)
    strictly = sum(p["diff"] > tol for p in per_v)
    ci_above = sum(p["diff_ci_low"] > tol for p in per_v)
    return {
        "per_V": per_v,
        "at_least_at_every_V": at_least,
        "strictly_higher_at": strictly,
        "ci_above_zero_at": ci_above,
        "meets_target": bool(at_least and ci_above >= 2),
    }


def stopping_curves(table: TrajectoryTable, v_values: Sequence[float], *, seed: int = 0) -> dict[str, Any]:
    """Figure data on a single train/held-out split (half each, seeded).

    Returns:
        {"cap_frontier": [{cap_usd, success_rate, cost_per_task_usd}], "tokenomy_points": [{V, ...}],
         "p_hat_by_step": {"step": [...], "resolved": [...], "failed": [...]}, "model_scores": {...}}
    """
    fold = split_folds(len(table.n_calls), 1, seed, 0.5)
    train, test = table.subset(fold == -1), table.subset(fold == 0)
    frontier = []
    for cap in (*np.round(np.arange(0.05, 2.01, 0.05), 2), float("inf")):
        s, c, _ = stop_outcomes(test, CostCap(cap_usd=float(cap)).decide(test, 1.0))
        frontier.append(
            {"cap_usd": float(cap), "success_rate": float(s.mean()), "cost_per_task_usd": float(c.mean())}
        )
    rule = MarginalStop()  # one rule: its model cache fits p̂, Ĉ on train once for every V
    points = []
    for v in v_values:
        s, c, _ = stop_outcomes(test, rule.fit(train, v).decide(test, v))
        points.append({"V": v, "success_rate": float(s.mean()), "cost_per_task_usd": float(c.mean())})
    model = rule._model(train, rule.ridge_grid[0])  # the same fit as PrefixModel(ridge, features).fit(train)
    p = model.success(test.x)
    steps = np.arange(0, 81, 5)
    res_rows = test.resolved[test.traj]
    curve: dict[str, list[float]] = {"step": [float(k) for k in steps], "resolved": [], "failed": []}
    for k in steps:
        at = test.step == k
        curve["resolved"].append(float(p[at & res_rows].mean()) if np.any(at & res_rows) else float("nan"))
        curve["failed"].append(float(p[at & ~res_rows].mean()) if np.any(at & ~res_rows) else float("nan"))
    return {
        "cap_frontier": frontier,
        "tokenomy_points": points,
        "p_hat_by_step": curve,
        "model_scores": model.scores(test),
    }


def build_report(
    rows: Sequence[Mapping[str, Any]],
    curves: Mapping[str, Any],
    *,
    check: Mapping[str, Any],
    subtitle: str = "",
    tau_fragment: str = "",
    autonomy: Sequence[Mapping[str, Any]] = (),
    headroom: Sequence[Mapping[str, Any]] = (),
    token_split: Mapping[str, Any] | None = None,
) -> Report:
    """The agent evaluation page (call ``.write(path)`` on the result); ``headroom`` and ``token_split``
    are the rows of ``tokenomy.autonomy.headroom`` and the fields of ``split.SplitEvaluation``."""
    rep = Report("tokenomy agent eval: stopping, caps and confirmations priced by Eq. 1", subtitle)
    mini = [r for r in rows if r["dataset"] == MINISWE_DATASET]
    vs = sorted({r["V"] for r in mini})
    by = {(r["V"], r["policy"]): r for r in mini}
    rep.heading("mini-swe-agent + Gemini 3 Pro on SWE-bench Verified: when to stop")
    rep.paragraph(
        "Each real run is replayed call by call: stopping before call k yields no submission (a failure) "
        "and the real cost of the first k calls; continuing yields the recorded outcome. Every policy "
        "(the Eq. 1 marginal rule, fixed cost and step caps, the best caps chosen on the train split) is "
        "fitted on train instances and judged on held-out ones (cross-fitted: each instance held out once). "
        "The marginal rule (tokenomy) continues while V·p̂ − Ĉ > 0, changes state (starts, stops) only "
        "when that holds beyond one standard error of p̂, and never spends more than V on a task; "
        "tokenomy_plain is the same rule without the margin and the budget (an ablation)."
    )
    rep.note("This run records no harm events, so ρ·harm = 0 in its welfare.", kind="info")
    rep.metrics(
        {
            "tokenomy ≥ best train cost cap at every V": bool(check["at_least_at_every_V"]),
            "V where tokenomy is strictly higher": int(check["strictly_higher_at"]),
            "V where its CI is above 0": int(check["ci_above_zero_at"]),
        },
        keys={
            "tokenomy ≥ best train cost cap at every V": "quality_check.at_least_at_every_V",
            "V where tokenomy is strictly higher": "quality_check.strictly_higher_at",
            "V where its CI is above 0": "quality_check.ci_above_zero_at",
        },
    )
    series = [
        Series(p, vs, [by[v, p]["welfare_per_task"] for v in vs])
        for p in _PLOTTED
        if (vs and (vs[0], p) in by)
    ]
    rep.figure(
        line_chart(
            series,
            title="held-out welfare per task",
            x_label="V (USD per resolved task)",
            y_label="USD per task",
            log_x=True,
        ),
        "V·success − cost per held-out task; oracle_ex_post is not achievable (it knows the outcome).",
    )
    ref = [by[v, "best_cost_cap_train"]["welfare_per_task"] for v in vs]
    rel = [
        Series(p, vs, [by[v, p]["welfare_per_task"] - r for v, r in zip(vs, ref, strict=True)])
        for p in ("tokenomy", "tokenomy_plain", "tokenomy_option", "no_cap", "best_step_cap_train")
        if vs and (vs[0], p) in by
    ]
    if vs and (vs[0], "tokenomy") in by:
        rel += [
            Series("tokenomy 95% low", vs, [by[v, "tokenomy"]["diff_ci_low"] for v in vs]),
            Series("tokenomy 95% high", vs, [by[v, "tokenomy"]["diff_ci_high"] for v in vs]),
        ]
    rep.figure(
        line_chart(
            rel,
            title="welfare minus the best train cost cap",
            x_label="V (USD per resolved task)",
            y_label="USD per task",
            log_x=True,
        ),
        "Paired per held-out task; the two interval lines bound tokenomy's 95% interval.",
    )
    rep.table(check["per_V"], caption="quality target: tokenomy vs the best fixed cost cap chosen on train")
    if headroom:
        rep.paragraph(
            "How much could any stop gain? The clairvoyant stop (every failing run stopped before its first "
            "call) is the whole headroom; the best threshold on the cross-fitted p̂, chosen ex post on the "
            "held-out runs themselves, bounds what a threshold rule on p̂ can reach. Neither is achievable."
        )
        rep.table(
            [
                {
                    "V": h["v_usd"],
                    "clairvoyant gain (n/a)": h["clairvoyant_gain"],
                    "never start gain": h["trivial_gain"],
                    "best ex-post p̂ threshold gain (n/a)": h["threshold_gain"],
                    "its 95% CI": f"[{h['threshold_ci95'][0]:+.4f}, {h['threshold_ci95'][1]:+.4f}]",
                }
                for h in headroom
            ],
            caption="headroom of stopping over no cap, USD per task (held-out runs)",
        )
    if token_split:
        phases = token_split.get("phases", ["read", "plan", "edit", "verify"])
        rep.heading("Eq. 8: the token split across read / plan / edit / verify")
        rep.table(
            [
                {
                    "phase": ph,
                    "observed share": token_split["observed_shares"][i],
                    "prescribed share": token_split["optimal_shares"][i],
                    "b_j": token_split["share_coefs"][i],
                }
                for i, ph in enumerate(phases)
            ],
            caption="observed split vs the split with equal marginal products (fitted on all runs)",
        )
        lo, hi = token_split["close_minus_far_ci95"]
        rep.paragraph(
            f"Held out: log loss with the split {token_split['log_loss_split']:.4f} vs total tokens only "
            f"{token_split['log_loss_total']:.4f}; runs closest to the prescribed split resolve "
            f"{token_split['close_success']:.3f} vs {token_split['far_success']:.3f} for the farthest third "
            f"(difference CI [{lo:+.3f}, {hi:+.3f}]). The model's predicted gain of moving runs to the "
            f"prescribed split, {token_split['modelled_gain']:+.3f} success, is MODELLED (observational)."
        )
    fr = curves["cap_frontier"]
    pts = curves["tokenomy_points"]
    rep.note(ONE_SPLIT_NOTE, kind="info")
    rep.figure(
        scatter_chart(
            [
                Series(
                    "fixed cost caps $0.05…$2, none",
                    [f["cost_per_task_usd"] for f in fr],
                    [f["success_rate"] for f in fr],
                ),
                Series(
                    "tokenomy at V = " + ", ".join(f"{p['V']:g}" for p in pts),
                    [p["cost_per_task_usd"] for p in pts],
                    [p["success_rate"] for p in pts],
                ),
            ],
            title="stopping curve: success vs cost (half held out)",
            x_label="USD per task",
            y_label="success rate",
        ),
        "Each cap is one point of the frontier; the marginal rule moves along it as V changes.",
    )
    ph = curves["p_hat_by_step"]
    rep.figure(
        line_chart(
            [
                Series("resolved runs", ph["step"], ph["resolved"]),
                Series("failed runs", ph["step"], ph["failed"]),
            ],
            title="p̂(success | prefix) by step, held-out runs",
            x_label="step",
            y_label="mean p̂",
        ),
        "The success model over trajectory prefixes, fitted on one seeded half of the instances and "
        "averaged here over the other half (this figure only; the welfare tables use K-fold cross-fitting).",
    )
    rep.table(
        [{"metric": k, "value": v} for k, v in curves["model_scores"].items()],
        caption="prefix success / remaining-cost model, fitted on one half and scored on the other half",
    )
    cols = [*RESULT_COLUMNS[1:], "label"]  # the result columns less "dataset", plus the label
    rep.table(mini, columns=cols, caption="every policy at every V (held-out, 95% normal intervals)")
    if autonomy:
        rep.heading("autonomy level implied by the schedule's prices (Eq. 6–7)")
        rep.table(list(autonomy), caption="share of calls that may act without a confirmation")
    if tau_fragment:
        rep.raw(tau_fragment)
    return rep
