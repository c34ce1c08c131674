"""The audit report's "where the money went" section: cost by model, session, user, tag and day.

Reads the ``views`` and ``grouping`` of an audit payload (``tokenomy.audit.views``) and adds to a
``Report``: one sentence on how requests group, then per view a bar chart of the costliest groups
(left out when there is a single group: a one-bar chart says nothing) and a table with calls, tokens,
cost share, cache savings and welfare — "unknown" where none of a group's requests is labelled.
Spend over time is a line when the log spans several days. Returns nothing; writes nothing.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tokenomy.audit.html import Report
from tokenomy.audit.svg import Series, bar_chart, line_chart

__all__ = ["add_views"]

_TITLES = {
    "model": "Cost by model",
    "session": "Costliest sessions",
    "user": "Cost by user",
    "tag": "Cost by tag (feature, team, route)",
    "request": "Costliest requests",
}
_BARS = 12


def _short(key: str) -> str:
    """A bar label: long ids (trace ids are 32 hex digits) as their first and last characters."""
    return key if len(key) <= 14 else f"{key[:6]}…{key[-4:]}"


def _row(r: dict[str, Any]) -> dict[str, Any]:
    welfare = r["welfare_usd"]
    return {
        r.get("by_label", "group"): r["key"],
        "requests": r["requests"],
        "LLM calls": r["llm_calls"],
        "input tokens": r["input_tokens"],
        "output tokens": r["output_tokens"],
        "cost (USD)": r["cost_usd"],
        "share": f"{100 * r['cost_share']:.1f}%",
        "cache savings (USD)": r["cache_savings_usd"],
        "welfare (USD)": "unknown (unlabelled)" if welfare is None else welfare,
    }


def add_views(r: Report, payload: dict[str, Any]) -> None:
    """Add the cost views of ``payload`` (an audit's ``as_dict()``) to ``r``."""
    views = payload.get("views") or {}
    if not views:
        return
    g = payload.get("grouping") or {}
    r.heading("Where the money went")
    parts = [f"{g.get('requests', 0)} requests"]
    if g.get("sessions"):
        parts.append(f"in {g['sessions']} sessions")
    if g.get("users"):
        parts.append(f"from {g['users']} users")
    if g.get("tags"):
        parts.append(f"with {g['tags']} distinct tags")
    r.paragraph(
        " ".join(parts) + ". Welfare is shown only for groups whose requests carry quality labels; "
        "elsewhere the value is unknown, not zero (attach labels with --labels)."
    )
    unit = g.get("unit", "request")
    order = ["model", unit, *(k for k in ("session", "user", "tag") if k != unit), "request"]
    for by in dict.fromkeys(order):
        view = views.get(by)
        if not view or by == "day":
            continue
        rows = view["rows"]
        if len(rows) >= 2:
            top = rows[:_BARS]
            r.figure(
                bar_chart(
                    [x["key"] for x in top], [x["cost_usd"] for x in top], title=_TITLES[by], y_label="USD"
                ),
                f"{len(top)} costliest of {view['groups']} {by} groups by recomputed cost."
                + (f" {view['note']}." if view.get("note") else ""),
            )
        table = [_row({**x, "by_label": by}) for x in rows]
        r.table(table, caption=f"{_TITLES[by]}: top {len(rows)} of {view['groups']}", max_rows=20)
    days = (views.get("day") or {}).get("rows") or []
    dated = sorted((x for x in days if x["key"] != "unknown"), key=lambda x: x["key"])
    if len(dated) >= 2:
        x = np.arange(len(dated), dtype=np.float64)
        r.figure(
            line_chart(
                [Series("cost", x, np.array([d["cost_usd"] for d in dated]))],
                title="Spend per day",
                x_label=f"day ({dated[0]['key']} … {dated[-1]['key']})",
                y_label="USD",
            ),
            "Recomputed cost per calendar day (UTC) of the calls' start times.",
        )
