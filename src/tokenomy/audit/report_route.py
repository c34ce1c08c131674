"""The routing HTML report: the cost–quality Pareto front with every policy, regret and gap recovered
against V, calibration curves of q̂, the anchors' metrics (APGR, CPT, AIQ) and prediction 2.

Built from the JSON payload of ``tokenomy route eval`` (``results``, ``anchors``, ``calibration``,
``fixed_models``, ``sweeps``, ``longtail``, ``synthetic``). Headline numbers carry ``data-key`` =
their JSON path. Each of latency and risk is labelled real or SYNTHETIC by what the data has (on
the bundled data both are synthetic); the page says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tokenomy.audit.html import Report
from tokenomy.audit.svg import Series, line_chart, scatter_chart
from tokenomy.routing.evaluation import SUMMARY_COLUMNS, anchor_rows
from tokenomy.routing.metrics import pareto_front

__all__ = ["build_report"]

_COLS = (*SUMMARY_COLUMNS, "null_share")


def _by_policy(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        out.setdefault(r["policy"], []).append(r)
    return out


def build_report(payload: Mapping[str, Any], *, subtitle: str = "") -> Report:
    """The report page for one ``route eval`` payload."""
    rows = list(payload["results"])
    rep = Report("tokenomy route eval: Eq. 4 against the baselines and the ex-post oracle", subtitle)
    synthetic = set(payload.get("synthetic", []))
    for note in payload.get("notes") or payload.get("synthetic", []):
        rep.note(note, kind="synthetic" if note in synthetic else "info")
    tok = [r for r in rows if r["policy"] == "tokenomy"]
    head: dict[str, Any] = {"test prompts": payload.get("n_test"), "models": len(payload.get("models", []))}
    keys = {"test prompts": "n_test"}
    for r in tok:
        label = f"tokenomy gap recovered at V={r['V']:g}"
        head[label] = r["gap_recovered"]
        keys[label] = f"results[policy=tokenomy,V={r['V']:g}].gap_recovered"
    rep.metrics(head, keys)
    by = _by_policy(rows)
    rep.heading("Cost–quality Pareto front")
    fixed = payload.get("fixed_models", [])
    points = [
        {"policy": p, "V": r["V"], "cost_per_query_usd": r["cost_per_query_usd"], "accuracy": r["accuracy"]}
        for p, rs in by.items()
        for r in rs
    ] + [
        {"policy": f"model {f['model']}", "V": None, **{k: f[k] for k in ("cost_per_query_usd", "accuracy")}}
        for f in fixed
    ]
    # the front of what a router can reach: the ex-post oracle (it reads the outcomes) is a point only
    reach = [p for p in points if p["policy"] != "oracle"]
    front = [
        reach[i]
        for i in pareto_front([p["cost_per_query_usd"] for p in reach], [p["accuracy"] for p in reach])
    ]
    series = [
        Series("Pareto front", [p["cost_per_query_usd"] for p in front], [p["accuracy"] for p in front])
    ]
    series += [
        Series(f"{p} (V grid)", [r["cost_per_query_usd"] for r in rs], [r["accuracy"] for r in rs])
        for p, rs in by.items()
    ]
    series.append(
        Series("single models", [f["cost_per_query_usd"] for f in fixed], [f["accuracy"] for f in fixed])
    )
    rep.figure(
        scatter_chart(
            series,
            title="accuracy vs cost per query",
            x_label="USD per query (log)",
            y_label="accuracy",
            log_x=True,
            front=True,
        ),
        "Every policy at every V of the grid and every single model as a point; the line joins the "
        "non-dominated points (no other point is as cheap and more accurate): the Pareto front of the "
        "routers and models. The ex-post oracle reads the outcomes, so it is shown but not on the front.",
    )
    rep.table(
        front,
        ["policy", "V", "cost_per_query_usd", "accuracy"],
        caption="the points on the Pareto front (oracle excluded), cheapest first",
    )
    rep.table(fixed, ["model", "accuracy", "cost_per_query_usd"], caption="single models on the test split")
    rep.heading("Regret and gap recovered against V")
    rep.figure(
        line_chart(
            [
                Series(p, [r["V"] for r in rs], [max(r["regret_mean"], 1e-9) for r in rs])
                for p, rs in by.items()
                if p != "oracle"
            ],
            title="mean regret vs the ex-post oracle",
            x_label="V (USD per unit quality, log)",
            y_label="USD per query (log)",
            log_x=True,
            log_y=True,
        ),
        "Regret = oracle welfare − the policy's welfare, per query, averaged.",
    )
    rep.figure(
        line_chart(
            [
                Series(p, [r["V"] for r in rs], [r["gap_recovered"] for r in rs])
                for p, rs in by.items()
                if p not in ("oracle", "always-strongest", "always-cheapest", "random")
            ],
            title="share of the best-fixed → oracle gap recovered",
            x_label="V (log)",
            y_label="gap recovered",
            log_x=True,
        ),
        "0 = the best fixed model (chosen on train for each V), 1 = the ex-post oracle.",
    )
    rep.table(rows, _COLS, caption="every policy at every V (95% bootstrap CIs in the JSON)")
    a = payload.get("anchors") or {}
    if a:
        rep.heading("Anchors: RouteLLM's APGR / CPT and RouterBench's AIQ")
        pair = a["pair"]
        rep.paragraph(
            f"Strong/weak pair: {pair['strong']} ({pair['accuracy_strong']:.3f}) / {pair['weak']} "
            f"({pair['accuracy_weak']:.3f}). {a.get('note', '')}"
        )
        rep.table(
            anchor_rows(a),
            caption="on the pair (share of calls to the strong model)",
        )
        rep.table(
            [{"policy": k, "AIQ": v} for k, v in a["aiq"].items()],
            caption="AIQ over the single models' cost range",
        )
    first = [r for r in payload.get("results", []) if "apgr" in r and r["V"] == payload["results"][0]["V"]]
    if first:
        rep.table(
            [
                {"policy": r["policy"], "APGR": r["apgr"], "CPT(50%)": r["cpt50"], "CPT(80%)": r["cpt80"]}
                for r in first
            ],
            caption=f"RouteLLM's own APGR / CPT (rank by the strong model's win probability, decile call "
            f"shares; accuracy only, V-free) on {first[0].get('routellm_pair', 'the pair')}",
        )
    cal = payload.get("calibration", [])
    if cal:
        rep.heading("Calibration of q̂ (test split)")
        curves = [Series("perfect", [0.0, 1.0], [0.0, 1.0])]
        curves += [
            Series(c["model"], [b["pred"] for b in c["curve"]], [b["obs"] for b in c["curve"]]) for c in cal
        ]
        rep.figure(
            line_chart(
                curves,
                title="reliability: observed vs predicted quality",
                x_label="mean q̂ in bin",
                y_label="observed accuracy",
            ),
            "Ten equal-width bins of q̂ per model.",
        )
        rep.table(
            [{"model": c["model"], "brier": c["brier"], "ece": c["ece"]} for c in cal],
            caption="Brier score and ECE per model",
        )
    est = payload.get("estimators")
    if est:
        rep.table(
            est["summary"], caption="every estimator fitted on train: mean Brier and ECE over models on test"
        )
    lt = payload.get("longtail")
    if lt:
        rep.heading("Prediction 2: regret of a cost-minimising router on long-tail V")
        d = lt["v_distribution"]
        rep.paragraph(
            f"V per request ~ Pareto(α={d['alpha']}, min {d['v_min']}), median {d['median']:.4g}. cost-min = the cheapest "
            f"model with q̂ ≥ τ={lt['cost_min_tau']:.2f} (tuned at the median train V); tokenomy reads each request's V."
        )
        names = [k.removeprefix("regret_") for k in lt["by_decile"][0] if k.startswith("regret_")]
        rep.figure(
            line_chart(
                [
                    Series(
                        n, [r["decile"] for r in lt["by_decile"]], [r[f"regret_{n}"] for r in lt["by_decile"]]
                    )
                    for n in names
                ],
                title="mean regret by V decile",
                x_label="V decile (1 = lowest)",
                y_label="USD per query",
            ),
            "Regret against the ex-post oracle at each request's own V.",
        )
        rep.table(lt["by_decile"], caption="regret by V decile (USD per query)")
    val = payload.get("validation", [])
    if val:
        rep.heading("tokenomy's validated fall-back (out-of-fold, on train)")
        rep.table(val, caption="mean out-of-fold welfare per quality source; mode = what each V uses")
    if payload.get("repairs"):
        rep.note(f"repairs while loading: {dict(payload['repairs'])}", kind="info")
    return rep
