"""The audit's HTML report and terminal summary (SPEC.md §5: the token-aware dashboard).

One self-contained page: headline realised totals (each with ``data-key`` = its JSON key), the prices
the requests carried and their sources, a welfare waterfall by failure mode, a per-request scatter of
value against cost, the regret CDF, cost per resolved task by group, the verification curve
(prediction 1, observational) and the stopping margin, then one section per failure mode with its
definition, threshold, count, impact and worst examples — or why it does not apply. Built on
``tokenomy.audit.html`` and ``tokenomy.audit.svg``; returns strings, writes nothing itself.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tokenomy.audit.engine import AuditResult
from tokenomy.audit.html import Report
from tokenomy.audit.report_views import add_views
from tokenomy.audit.svg import Series, bar_chart, cdf_chart, line_chart, scatter_chart

__all__ = ["HEADLINE", "build_report", "mode_rows", "unknown_models_text"]

# label -> JSON key under "totals"
HEADLINE = {
    "requests": "requests",
    "value V·Q (USD)": "value_usd",
    "cost ΔC (USD)": "cost_usd",
    "latency cost λ·L (USD)": "latency_cost_usd",
    "risk cost ρ·R (USD)": "risk_cost_usd",
    "net welfare (USD)": "welfare_usd",
    "regret (USD)": "regret_usd",
}


def mode_rows(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per failure mode for the terminal and HTML tables."""
    return [
        {
            "mode": m,
            "applicable": f["applicable"],
            "count": f["count"] if f["applicable"] else None,
            "unit": f["unit"],
            "impact_usd": f["impact_usd"] if f["applicable"] else None,
            "labels": ", ".join(f["labels"]),
            "threshold / reason": f["threshold"] if f["applicable"] else "not applicable: " + f["reason"],
        }
        for m, f in payload["failure_modes"].items()
    ]


def unknown_models_text(payload: dict[str, Any]) -> tuple[str, str]:
    """What happened to the models no price table knows, and the note kind ("warning" when some of
    their calls are left out of the cost totals)."""
    pricing, tot = payload["pricing"], payload["totals"]
    names = ", ".join(f"{m} ({n} calls)" for m, n in pricing["unknown_models"].items())
    if pricing["unknown_priced_zero"]:
        return f"Unknown models, priced 0 as asked (--unknown-zero): {names}", "info"
    if tot["unpriced_llm_calls"]:
        return (
            f"Unknown models: {names}. {tot['unpriced_llm_calls']} of their calls carry no reported cost and "
            "are left out of the cost totals: give their prices with --prices FILE, or --unknown-zero",
            "warning",
        )
    return f"Unknown models (no price table knows them; the cost the log reports is used): {names}", "info"


def _cost_bound_note(tot: dict[str, Any]) -> str:
    """Whether the recomputed cost is exact, an upper bound or a lower bound, and why ("" when exact)."""
    why = tot.get("cost_bound_reason") or ""
    if not why:
        return ""
    if tot.get("cost_is_upper_bound"):
        return f"The cost is an upper bound: {why}."
    if tot.get("cost_is_lower_bound"):
        return f"The cost is a lower bound: {why}."
    return f"The cost is an estimate: {why}."


def _default_note(payload: dict[str, Any]) -> str:
    parts = []
    for name, info in payload["prices"].items():
        n = info["sources"].get("default", 0)
        if n:
            parts.append(f"{name} = {info['median']:g} (default for {n} requests)")
    return (
        (
            "Prices not given by the log or a side file are explicit defaults: "
            + "; ".join(parts)
            + ". Set them with --v/--lam/--rho or --labels FILE."
        )
        if parts
        else ""
    )


def build_report(
    result: AuditResult, payload: dict[str, Any], *, title: str = "", subtitle: str = ""
) -> Report:
    """The HTML report of one audit (``payload`` = ``result.as_dict()`` plus CLI extras)."""
    tot = payload["totals"]
    r = Report(title or f"tokenomy audit: {result.log.source}", subtitle)
    # with no quality label anywhere, value (hence welfare and regret) is unknown, not zero
    unknown = {"value_usd", "welfare_usd", "regret_usd"} if not tot.get("labelled_requests") else set()
    r.metrics(
        {label: "unknown" if key in unknown else tot[key] for label, key in HEADLINE.items()},
        keys={label: f"totals.{key}" for label, key in HEADLINE.items() if key not in unknown},
    )
    if unknown:
        r.note(
            "No request carries a quality label, so value V·Q is unknown: welfare and regret are not "
            "shown (the JSON's figures count value as 0). Attach labels per request with --labels FILE.",
            kind="modelled",
        )
    if tot.get("reported_cost_usd") is not None:
        r.metrics(
            {
                "provider-reported cost (USD)": tot["reported_cost_usd"],
                "billing drift: recomputed − reported (USD)": tot["cost_usd"] - tot["reported_cost_usd"],
            },
            keys={"provider-reported cost (USD)": "totals.reported_cost_usd"},
        )
    bound = _cost_bound_note(tot)
    if bound:
        r.note(bound, kind="modelled")
    note = _default_note(payload)
    if note:
        r.note(note, kind="modelled")
    for n in payload["notes"]:
        r.note(n, kind="synthetic" if n.startswith("synthetic") else "info")
    if payload["pricing"]["unknown_models"]:
        text, kind = unknown_models_text(payload)
        r.note(text, kind)

    add_views(r, payload)

    r.heading("Failure modes: where the allocation rule was broken")
    rows = mode_rows(payload)
    r.table(rows, caption="count and welfare impact per mode; 'not applicable' says what the input lacks")
    applicable = [x for x in rows if x["applicable"]]
    if applicable:
        labels = ["realised welfare", *[x["mode"] for x in applicable]]
        values = [tot["welfare_usd"], *[x["impact_usd"] for x in applicable]]
        r.figure(
            bar_chart(
                labels,
                values,
                title="Welfare waterfall: realised + lost to each failure mode",
                y_label="USD",
                waterfall=True,
                total_label="without the failures",
            ),
            "Each bar adds the welfare a failure mode cost (modes overlap; observational where labelled).",
        )

    reqs = payload["requests"]
    q = np.array([np.nan if x["quality"] is None else x["quality"] for x in reqs], dtype=np.float64)
    value = np.array([x["value_usd"] for x in reqs])
    cost = np.array([x["cost_usd"] for x in reqs])
    r.heading("Per request")
    series = [
        Series(name, cost[m], value[m])
        for name, m in (("quality ≥ 0.5", q >= 0.5), ("quality < 0.5", q < 0.5), ("unlabelled", np.isnan(q)))
        if m.any()
    ]
    if series and not (cost > 0).any():
        r.note("The input carries no cost (ΔC = 0 throughout): the value-against-cost scatter is left out.")
    elif series:
        r.figure(
            scatter_chart(
                series,
                title="Value V·Q against cost ΔC per request",
                x_label="cost (USD)",
                y_label="value (USD)",
            ),
            "Points above the diagonal V·Q = ΔC paid for themselves.",
        )
    regret = np.array([x["regret_usd"] for x in reqs])
    if regret.size:
        r.figure(
            cdf_chart({"regret": regret}, title="Regret CDF", x_label="regret per request (USD)"),
            "Regret = ex-post best (this run or spending nothing) − realised utility.",
        )
    _cost_per_resolved(r, reqs, tot.get("cost_per_resolved_usd"))
    _curves(r, payload)
    r.heading("Failure modes in detail")
    for mode, f in payload["failure_modes"].items():
        if not f["applicable"]:
            continue
        tag = f" [{', '.join(f['labels'])}]" if f["labels"] else ""
        ci = f.get("impact_ci95")
        ci_text = f" (95% CI ${ci[0]:.3g} to ${ci[1]:.3g})" if ci else ""
        r.paragraph(
            f"{mode}{tag}: {f['definition']}. Threshold: {f['threshold']}. "
            f"{f['count']} {f['unit']}, impact ${f['impact_usd']:.4g}{ci_text}."
        )
        if f.get("action"):
            r.note(f"What to change: {f['action']} Expected recovery up to ${f['impact_usd']:.3g}{ci_text}.")
        details = {k: v for k, v in f["details"].items() if k != "groups"}
        if details:
            r.table([{"figure": k, "value": v} for k, v in details.items()], caption=f"{mode}: figures")
        if f["details"].get("groups"):
            r.table(
                _offpolicy_groups(f["details"]["groups"]), caption=f"{mode}: off-policy estimate per group"
            )
        if f["examples"]:
            r.table(f["examples"], caption=f"{mode}: worst examples")
    r.heading("Prices the requests carried")
    r.table(
        [
            {
                "price": k,
                "min": v["min"],
                "median": v["median"],
                "max": v["max"],
                "sources": ", ".join(f"{s}: {n}" for s, n in v["sources"].items()),
            }
            for k, v in payload["prices"].items()
        ]
    )
    layers = payload.get("prices_by_layer")
    if layers:
        r.table(
            [
                {
                    "layer": layer,
                    "decisions": row["decisions"],
                    **{f"{k} (median)": row[k]["median"] for k in ("v_usd", "lam_usd_per_s", "rho_usd")},
                    "sources": "; ".join(
                        f"{k}: " + ", ".join(f"{s}: {n}" for s, n in row[k]["sources"].items())
                        for k in ("v_usd", "lam_usd_per_s", "rho_usd")
                    ),
                }
                for layer, row in layers.items()
            ],
            caption="prices each layer's decisions saw (ledger input)",
        )
    cards = payload["pricing"]["rate_cards"]
    if cards:
        r.table(
            [
                {"model": k, **{kk: vv for kk, vv in v.items() if kk != "tiers"}, "tiers": str(v["tiers"])}
                for k, v in cards.items()
            ],
            caption="rate cards used (USD per million tokens)",
        )
    return r


def _cost_per_resolved(r: Report, reqs: list[dict[str, Any]], per_resolved: float | None) -> None:
    groups: dict[str, list[float]] = {}
    for x in reqs:
        if x["quality"] is None:
            continue
        g = groups.setdefault(x["group"] or "all", [0.0, 0.0])
        g[0] += x["cost_usd"]
        g[1] += x["quality"]
    rows: list[dict[str, Any]] = [
        {"group": k, "cost_usd": c, "resolved": s, "cost_per_resolved_usd": c / s if s else None}
        for k, (c, s) in sorted(groups.items(), key=lambda kv: -kv[1][0])
    ]
    if not rows or per_resolved is None:
        return  # nothing resolved, or nothing priced: no cost per resolved task to show
    r.heading("Cost per resolved task")
    r.metrics(
        {"cost per resolved task (USD)": per_resolved},
        keys={"cost per resolved task (USD)": "totals.cost_per_resolved_usd"},
    )
    shown = [x for x in rows if x["cost_per_resolved_usd"] is not None][:15]
    if len(shown) > 1:
        r.figure(
            bar_chart(
                [str(x["group"]) for x in shown],
                [float(x["cost_per_resolved_usd"] or 0.0) for x in shown],
                title="Cost per resolved task by group",
                y_label="USD",
            )
        )
    r.table(rows, caption="by group (repository, task ...)", max_rows=40)


def _curves(r: Report, payload: dict[str, Any]) -> None:
    vc = payload.get("verification_curve")
    if vc:
        rows = vc["rows"]
        k = [x["k"] for x in rows]
        r.heading("Prediction 1: the verification curve (observational)")
        r.note(vc["label"] + ". Bins: verify steps (test/run) after the last edit.", kind="modelled")
        fit = vc.get("fit") or {}
        series = [
            Series("resolved rate", k, [x["resolved_rate"] for x in rows]),
            Series("realised risk (unresolved)", k, [x["realised_risk"] for x in rows]),
        ]
        caption = ""
        if fit.get("curve"):
            pts = [p for p in fit["curve"] if p["k"] <= max(k)]
            series.append(Series("fit a − b·exp(−k/τ)", [p["k"] for p in pts], [p["q"] for p in pts]))
            lo, hi = fit["k_star_ci95"]
            caption = (
                f"Fit over tasks: a = {fit['a']:.3f}, b = {fit['b']:.3f}, τ = {fit['tau_steps']:.2f} steps. "
                f"Marginal value V·Q'(k) meets the verify cost ${vc['verify_step_cost_usd']:.4f} at "
                f"k* = {fit['k_star']:.1f} verify steps (bootstrap 95% interval {lo:.1f} to {hi:.1f}; the "
                f"data reach k = {fit['max_observed_k']}). k* by V: "
                + ", ".join(f"V = ${v}: {x:.1f}" for v, x in fit["k_star_by_v"].items())
                + ". Observational."
            )
        r.figure(
            line_chart(
                series,
                title="Resolved rate and realised risk by verify steps after the last edit",
                x_label="verify steps after last edit (last bin: or more)",
                y_label="share of tasks",
            ),
            caption,
        )
        mp = [(x["k"], x["value_of_mp_usd"]) for x in rows if x["value_of_mp_usd"] is not None]
        if mp:
            r.figure(
                line_chart(
                    [
                        Series("V × marginal product", [a for a, _ in mp], [b for _, b in mp]),
                        Series(
                            "cost of one verify step",
                            [a for a, _ in mp],
                            [vc["verify_step_cost_usd"]] * len(mp),
                        ),
                    ],
                    title="Marginal value of the k-th verify vs its marginal cost",
                    x_label="k",
                    y_label="USD",
                ),
                f"V = ${vc['v_usd']:g}; first k where V·MP < c_v: {vc['first_k_where_mp_below_cost']}.",
            )
        r.table(rows, caption="verification curve")
    sm = payload.get("stopping_margin")
    if sm and sm["rows"]:
        rows = sm["rows"]
        r.heading("Stopping margin (observational)")
        r.note(sm["label"], kind="modelled")
        r.figure(
            line_chart(
                [
                    Series(
                        "mean cost of step k",
                        [x["step"] for x in rows],
                        [x["mean_step_cost_usd"] for x in rows],
                    ),
                    Series(
                        "V × resolution hazard at k",
                        [x["step"] for x in rows],
                        [x["value_of_step_usd"] for x in rows],
                    ),
                ],
                title="Marginal step cost against its marginal success gain",
                x_label="step",
                y_label="USD",
                log_y=True,
            ),
            f"Margin (after the last step whose value covers its cost): step {sm['margin_step']}; "
            f"spend beyond it ${sm['cost_beyond_margin_usd']:.4g} "
            f"({sm['share_of_cost_beyond_margin']:.1%} of cost).",
        )


def _offpolicy_groups(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per context group of an off-policy routing estimate: the gain of serving the alternative,
    its 95% interval and verdict, and the per-decision value each estimator gives it."""
    rows = []
    for g in groups:
        lo, hi = g["gain_ci95"]
        est = g["estimates_per_decision"]
        rows.append(
            {
                "V from (USD)": g["v_range_usd"][0],
                "favoured": g["favoured"],
                "alternative": g["better"],
                "decisions": g["decisions"],
                "served it": g["served_better"],
                "gain_usd": g["gain_usd"],
                "95% CI": f"{lo:.3g} to {hi:.3g}",
                "verdict": g["verdict"],
                **{f"{k.upper()} per decision": est[k]["value"] for k in ("dr", "ips", "snips") if k in est},
                "ESS": est["dr"]["ess"] if "dr" in est else None,
            }
        )
    return rows
