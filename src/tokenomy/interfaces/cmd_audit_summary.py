"""``tokenomy audit``'s terminal summary of one audit payload: the realised totals, the notes, where
the money went (``views_summary``), a table per failure mode with its worst examples
(``summary``), prediction 1's verification curve (``verification_summary``) and the stopping margin
(``stopping_summary``).

It prints what the payload holds (``echo``, default ``print``); it computes no figure and writes no
file. The payload is ``cmd_audit.audit_inputs``'s.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tokenomy.audit.report_audit import mode_rows, unknown_models_text
from tokenomy.interfaces.table import format_table, printable

__all__ = ["stopping_summary", "summary", "verification_summary", "views_summary"]


def _escaping(echo: Callable[[str], None]) -> Callable[[str], None]:
    """``echo`` with control characters of user text (a model name's ESC ...) shown escaped, line by line
    (tables are escaped already; escaping is idempotent on printable text)."""

    def out(text: str) -> None:
        echo("\n".join(printable(line) for line in text.split("\n")))

    return out


def summary(payload: dict[str, Any], echo: Callable[[str], None] = print, *, examples: int = 5) -> None:
    """The terminal summary of one audit: realised totals, notes, a table per failure mode."""
    echo = _escaping(echo)
    tot = payload["totals"]
    if payload.get("skipped_lines", {}).get("count"):
        echo(
            f"skipped {payload['skipped_lines']['count']} malformed line(s); first: "
            f"{payload['skipped_lines']['first'][0]}"
        )
    echo(
        format_table(
            [
                {
                    k: tot[k]
                    for k in (
                        "value_usd",
                        "cost_usd",
                        "reported_cost_usd",
                        "latency_cost_usd",
                        "risk_cost_usd",
                        "welfare_usd",
                        "regret_usd",
                        "cost_per_resolved_usd",
                    )
                }
            ],
            title="realised totals (USD)",
            digits=2,
        )
    )
    for n in payload["notes"]:
        echo(f"note: {n}")
    views_summary(payload, echo)
    if payload["pricing"]["unknown_models"]:
        text, kind = unknown_models_text(payload)
        echo(f"{'warning' if kind == 'warning' else 'note'}: {text}")
    echo(
        format_table(
            mode_rows(payload),
            ["mode", "applicable", "count", "unit", "impact_usd", "labels"],
            title="\nfailure modes",
            digits=2,
        )
    )
    for mode, f in payload["failure_modes"].items():
        if not f["applicable"]:
            echo(f"{mode}: not applicable: {f['reason']}")
    verification_summary(payload, echo)
    stopping_summary(payload, echo)
    for mode, f in payload["failure_modes"].items():
        if not f["applicable"]:
            continue
        tag = f" [{', '.join(f['labels'])}]" if f["labels"] else ""
        ci = f.get("impact_ci95")
        ci_text = f" (95% CI ${ci[0]:,.2f} to ${ci[1]:,.2f})" if ci else ""
        echo(f"\n{mode}{tag}: {f['count']:,} {f['unit']}, impact ${f['impact_usd']:,.2f}{ci_text}")
        echo(f"  violated: {f['definition']}")
        echo(f"  threshold: {f['threshold']}")
        if f["details"].get("estimate"):
            echo(f"  estimate: {f['details']['estimate']}")
        for g in f["details"].get("groups", [])[:examples]:
            lo, hi = g["gain_ci95"]
            v_lo, v_hi = g["v_range_usd"]
            echo(f"  V in [{v_lo:g}, {v_hi:g}), favouring {g['favoured']} ({g['decisions']:,} decisions): serving {g['better']} "
                 f"${g['gain_usd']:+,.4g} (95% CI {lo:+,.4g} to {hi:+,.4g}): {g['verdict']}")  # fmt: skip
        if f.get("action"):
            echo(f"  what to change: {f['action']}")
        if f["examples"] and examples:
            cols = list(f["examples"][0].keys())
            echo(format_table(f["examples"][:examples], cols, title=f"{mode}: worst examples", digits=4))


def views_summary(payload: dict[str, Any], echo: Callable[[str], None] = print, *, top: int = 5) -> None:
    """Where the money went, in the terminal: the grouping, then the costliest models and groups."""
    echo = _escaping(echo)
    g, views = payload.get("grouping") or {}, payload.get("views") or {}
    if not views:
        return
    echo(
        f"{g.get('requests', 0):,} requests, {g.get('sessions', 0):,} sessions, {g.get('users', 0):,} users, "
        f"{g.get('tags', 0):,} tags (views in the JSON and the report)"
    )
    for by in dict.fromkeys(("model", g.get("unit", "request"))):
        view = views.get(by)
        if not view or by == "request":
            continue
        rows = [
            {by: r["key"], "requests": r["requests"], "cost_usd": r["cost_usd"], "share": r["cost_share"]}
            for r in view["rows"][:top]
        ]
        echo(format_table(rows, title=f"costliest {by}s (of {view['groups']:,})", digits=4))


def verification_summary(payload: dict[str, Any], echo: Callable[[str], None] = print) -> None:
    """Prediction 1 in the terminal: the bins, the concave fit and its k* (observational)."""
    echo = _escaping(echo)
    vc = payload.get("verification_curve")
    if not vc:
        return
    echo(
        format_table(
            vc["rows"],
            [
                "verify_steps_after_last_edit",
                "tasks",
                "resolved_rate",
                "realised_risk",
                "marginal_product",
                "value_of_mp_usd",
                "verify_step_cost_usd",
            ],
            title="\nprediction 1: resolved rate and realised risk by verify steps after the last edit",
            digits=3,
        )
    )
    stop = vc["first_k_where_mp_below_cost"]
    echo(
        f"one verify step costs ${vc['verify_step_cost_usd']:.4f}; at V = ${vc['v_usd']:g} the first bin whose "
        f"raw marginal product is worth less than that: {stop if stop is not None else 'none'} (bins are noisy)"
    )
    fit = vc.get("fit")
    if fit:
        lo, hi = fit["k_star_ci95"]
        echo(
            f"concave fit Q(k) = {fit['a']:.3f} − {fit['b']:.3f}·exp(−k/{fit['tau_steps']:.2f}): V·Q'(k) meets "
            f"the verify cost at k* = {fit['k_star']:.1f} verify steps (bootstrap 95% {lo:.1f}–{hi:.1f}; data "
            f"reach k = {fit['max_observed_k']}); k* by V: "
            + ", ".join(f"${v}: {x:.1f}" for v, x in fit["k_star_by_v"].items())
        )
    echo(f"note: {vc['label']}")


def stopping_summary(payload: dict[str, Any], echo: Callable[[str], None] = print) -> None:
    """The stopping margin in the terminal: a few steps of the curve and the margin (observational)."""
    echo = _escaping(echo)
    sm = payload.get("stopping_margin")
    if not sm or not sm["rows"]:
        return
    rows = sm["rows"]
    margin = sm["margin_step"]
    last = rows[-1]["step"]
    keep = {0, 1, 2, 5, 10, 20, 40, 60, 100, last} | ({margin - 1, margin} if margin is not None else set())
    echo(
        format_table(
            [dict(r, median_prompt_tokens=int(r["median_prompt_tokens"])) for r in rows if r["step"] in keep],
            ["step", "running", "mean_step_cost_usd", "median_prompt_tokens", "hazard", "value_of_step_usd"],
            title="\nstopping margin: marginal step cost against its marginal success gain (V × hazard)",
            digits=4,
        )
    )
    if margin is None:
        verdict = "no step's value V × hazard covers its mean cost"
    else:
        verdict = (
            f"after step {margin - 1} no step's value V × hazard covers its mean cost: margin = step {margin}"
        )
    echo(
        f"stopping margin at V = ${sm['v_usd']:g}: {verdict}; spend beyond it "
        f"${sm['cost_beyond_margin_usd']:,.2f} ({sm['share_of_cost_beyond_margin']:.1%} of cost)"
    )
    echo(f"note: {sm['label']}")
