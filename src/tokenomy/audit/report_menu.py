"""The HTML report of ``tokenomy route menu``: the menu (price against quality), rents, downgrades, regimes.

Builds one self-contained page (``tokenomy.audit.html.Report``, inline SVG from ``tokenomy.audit.svg``)
from a ``MenuReport``: the options next to every tier's serving cost and the flat option, the
quality each type gets under the menu and under silent routing (Eq. 1 knowing V), each type's
information rent, the regime comparison (welfare, revenue, profit, user surplus) and the per-type
IC / participation slacks. A synthetic V distribution is labelled as such at the top.
"""

from __future__ import annotations

from dataclasses import asdict

import numpy as np

from tokenomy.audit.html import Report
from tokenomy.audit.svg import Series, bar_chart, line_chart, scatter_chart
from tokenomy.routing.menu_eval import MenuReport, RequestEval

__all__ = ["build_report"]

_REGIME = {
    "menu": "menu (users self-select)",
    "silent_cost": "silent routing, price = cost",
    "silent_extract": "silent routing, price = V·q",
    "flat": "one flat price",
}


def build_report(report: MenuReport, requests: RequestEval | None = None, *, subtitle: str = "") -> Report:
    """The report page for one evaluated menu (call ``.write(path)`` on the result)."""
    d = report.to_dict()
    m = report.menu
    page = Report(f"Incentive-compatible menu (Eq. 5), {m.objective}-maximising", subtitle)
    if m.types.synthetic:
        page.note(
            f"User values V are synthetic: {m.types.source}. Tier qualities and costs are measured "
            "(each model's mean correctness and mean cost per query); the menu, rents and welfare "
            "depend on the assumed V law.",
            kind="synthetic",
        )
    else:
        page.note(f"User values V from {m.types.source} ({len(m.types)} types).")
    menu_t, silent_t = report.total("menu"), report.total("silent_cost")
    page.metrics(
        {
            "IC holds for every type": report.ic_ok,
            "participation holds": report.ir_ok,
            "information rent, USD/query": report.information_rent_per_query_usd,
            "downgraded share": report.downgraded_share,
            "high-V downgraded share": report.downgraded_share_high_v,
            "menu welfare, USD/query": menu_t.welfare_per_query_usd,
            "silent-routing welfare, USD/query": silent_t.welfare_per_query_usd,
        },
        keys={
            "IC holds for every type": "ic_ok",
            "participation holds": "ir_ok",
            "information rent, USD/query": "information_rent_per_query_usd",
            "downgraded share": "downgraded_share",
            "high-V downgraded share": "downgraded_share_high_v",
        },
    )
    page.heading("The menu")
    page.table(d["options"], caption="options on offer (price and cost in USD per query; share of requests)")
    tiers = m.tiers
    series = [
        Series("menu price", [o.quality for o in m.options], [o.price_usd for o in m.options]),
        Series("serving cost, every tier", [t.quality for t in tiers], [t.cost_usd for t in tiers]),
        Series(
            "flat option",
            [o.quality for o in report.flat.options],
            [o.price_usd for o in report.flat.options],
        ),
    ]
    page.figure(
        scatter_chart(
            series, title="price vs quality", x_label="quality q (mean)", y_label="USD per query", log_y=True
        ),
        "Each option's price against its tier's quality, next to every tier's serving cost and the flat option.",
    )
    v = m.types.values_usd
    mq, _, _ = m.per_type()
    sq = np.array([tiers[t].quality if t >= 0 else 0.0 for t in report.silent_tier])
    page.figure(
        line_chart(
            [Series("menu", v, mq), Series("silent routing (Eq. 1 knowing V)", v, sq)],
            title="quality each type gets",
            x_label="V, USD per unit quality",
            y_label="quality q",
            log_x=True,
        ),
        "Below the silent-routing line: downgraded (0 = excluded) on purpose; the rent is the price of IC.",
    )
    rent_chart = (
        bar_chart(
            [f"V={x:.3g}" for x in v],
            report.rent_usd,
            title="information rent per type",
            y_label="USD per query",
        )
        if len(v) <= 40
        else line_chart(
            [Series("rent V·q − p", v, report.rent_usd)],
            title="information rent per type",
            x_label="V, USD per unit quality",
            y_label="USD per query",
            log_x=True,
        )
    )
    page.figure(rent_chart, "V·q − p: what each type keeps because the provider cannot see its V.")
    page.heading("Against silent routing and one flat price")
    rows = [
        {"regime": _REGIME.get(t["regime"], t["regime"]), **{k: x for k, x in t.items() if k != "regime"}}
        for t in d["totals"]
    ]
    page.table(rows, caption="per query, USD; welfare = profit + user surplus")
    page.paragraph(
        f"The menu loses {d['welfare_loss_vs_silent_share']:.1%} of silent routing's welfare; it downgrades "
        f"{report.downgraded_share:.1%} of requests ({report.downgraded_share_high_v:.1%} of those with V above "
        f"its {report.high_v_quantile:g} quantile) and excludes {report.excluded_share:.1%}."
    )
    if requests is not None:
        page.heading(f"{requests.n:,} requests, each buying by its own V")
        page.paragraph(
            "The menu is designed on the types (bin means); here every request picks its best option for its "
            f"own V. Downgraded: {requests.downgraded_share:.1%} of requests, {requests.downgraded_share_high_v:.1%} "
            f"of those above the {requests.high_v_quantile:g} quantile of V; excluded {requests.excluded_share:.1%}."
        )
        dec = list(requests.deciles)
        page.figure(
            bar_chart(
                [f"D{int(r['decile'])}" for r in dec],
                [r["downgraded_share"] for r in dec],
                title="share downgraded vs silent routing, by V decile",
                y_label="share of requests",
            ),
            "Per V decile: the share of requests the menu serves below the tier Eq. 1 picks knowing V.",
        )
        page.table(dec, caption="by V decile (USD per query)")
        rows = [
            {
                "regime": _REGIME.get(t.regime, t.regime),
                **{k: x for k, x in asdict(t).items() if k != "regime"},
            }
            for t in requests.totals
        ]
        page.table(rows, caption="per request, USD per query")
    page.heading("Every type: assignment, rent and incentive constraints")
    page.table(
        d["per_type"], caption="IC slack = own utility minus the best other option's (≥ 0 ⇔ Eq. 5 holds)"
    )
    return page
