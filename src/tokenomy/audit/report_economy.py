"""The HTML page of ``tokenomy economy run``: welfare per configuration and load, prices on the bus, advice.

Sections: the paired shared − local difference per load (headline), welfare of every configuration
with its bootstrap CI (in the chart's caption too), the ablations against ``shared`` and against
``local`` (where the gain comes from: declining low-value work or the rest), the supply
layer's price path on the bus (λ discovered from the live queue and the KV block-second price), one
request traced through the ledger (the running example), and what to do. Synthetic ingredients are
labelled. The input is an ``EconomyPage`` of plain rows (``tokenomy.economy.report_view`` builds it:
audit does not import economy); this module builds a ``Report`` and the CLI writes it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tokenomy.audit.html import Report
from tokenomy.audit.svg import Series, line_chart

__all__ = ["EconomyPage", "PricePathView", "advice", "build_report", "gain_sources"]


@dataclass(frozen=True, slots=True)
class PricePathView:
    """One run's supply quotes on the bus over time (s, USD/s, USD per block·s)."""

    label: str
    time_s: NDArray[np.float64]
    lam_usd_per_s: NDArray[np.float64]
    kv_usd_per_block_s: NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class EconomyPage:
    """What the page shows.

    Attributes:
        results: one row per (config, load); column -> value.
        diffs: shared − local per load: load, diff, ci_low, ci_high, above_zero.
        ablations: each config − shared per load: config, load, diff, ci_low, ci_high.
        prices_config: the configuration whose price paths are shown; price_paths: one per load.
        example_text, example_decisions, example_outcomes: the traced request (rows: column -> value).
        synthetic: the synthetic and modelled ingredients, one line each.
        against_local: each config other than local and shared − local per load: config, load, diff,
            ci_low, ci_high.
    """

    results: Sequence[Mapping[str, Any]]
    diffs: Sequence[Mapping[str, Any]]
    ablations: Sequence[Mapping[str, Any]]
    prices_config: str
    price_paths: Sequence[PricePathView]
    example_text: str
    example_decisions: Sequence[Mapping[str, Any]]
    example_outcomes: Sequence[Mapping[str, Any]]
    synthetic: Sequence[str]
    against_local: Sequence[Mapping[str, Any]] = ()


_AGAINST_LOCAL_ONLY = frozenset({"local-refuse"})
"""Configurations that depart from shared in every layer: read against local (``gain_sources``), not as
one reading to fix."""


def _ci(d: Mapping[str, Any], sign: float = 1.0) -> str:
    """``$+x [lo, hi] (CI above 0 | below 0 | spans 0)`` of a difference row, optionally negated."""
    x, lo, hi = sign * d["diff"], *sorted((sign * d["ci_low"], sign * d["ci_high"]))
    where = "above 0" if lo > 0 else "below 0" if hi < 0 else "spans 0"
    return f"${x:+.4f} [{lo:+.4f}, {hi:+.4f}] (CI {where})"


def gain_sources(page: EconomyPage) -> list[str]:
    """Per load, shared − local split into declining low-value work and the rest, with CIs.

    Declining = shared − shared-no-refuse (the ablation row negated); the rest (the router's model
    choice for the work served, and the agent's stopping) = shared-no-refuse − local; a value-blind
    refusal on the local router = local-refuse − local. Lines only for the loads where the rows exist.
    """
    out = []
    for d in page.diffs:
        load = d["load"]
        no_refuse = [a for a in page.ablations if a["load"] == load and a["config"] == "shared-no-refuse"]
        rest = [a for a in page.against_local if a["load"] == load and a["config"] == "shared-no-refuse"]
        blind = [a for a in page.against_local if a["load"] == load and a["config"] == "local-refuse"]
        if no_refuse:
            refusal = -no_refuse[0]["diff"]
            share = f" ({round(100 * refusal / d['diff']):d}% of it)" if d["diff"] > 0 else ""
            line = (
                f"Load {load:g}: of the shared − local gain of ${d['diff']:+.4f} per request, declining "
                f"low-value requests (shared − shared-no-refuse) is {_ci(no_refuse[0], -1.0)}{share}"
            )
            if rest:
                line += (
                    "; serving every request at the shared prices (shared-no-refuse − local: the router's "
                    f"model choice for the work served and the agent's stopping) is {_ci(rest[0])}. "
                )
                if refusal >= rest[0]["diff"]:
                    line += (
                        "The gain is mostly refusing low-value work: a router that must serve every "
                        "request keeps only the smaller part"
                    )
                else:
                    line += (
                        "The gain is mostly not the refusals: it survives a router that serves every request"
                    )
            out.append(line.rstrip(". ") + ".")
        if blind:
            b = blind[0]
            verdict = (
                "a refusal rule that cannot read V recovers part of the gain"
                if b["ci_low"] > 0
                else "a refusal rule that cannot read V does not add welfare here"
            )
            out.append(
                f"Load {load:g}: the local router with a value-blind refusal (local-refuse − local) changes "
                f"welfare by {_ci(b)}: {verdict}."
            )
    return out


def advice(page: EconomyPage) -> list[str]:
    """What to do, one line per finding, from the CIs only."""
    out = []
    for d in page.diffs:
        if d["above_zero"]:
            out.append(
                f"At load {d['load']:g} the shared price vector beats the local optimisers by "
                f"${d['diff']:.4f} per request (CI above 0): share the prices."
            )
        elif d["ci_high"] < 0:
            out.append(
                f"At load {d['load']:g} the local optimisers do better (CI below 0): do not switch at this load without finding why."
            )
        else:
            out.append(
                f"At load {d['load']:g} the difference is a tie (CI spans 0): the data cannot show a gain here."
            )
    for load in sorted({a["load"] for a in page.ablations}):
        lost = [
            a
            for a in page.ablations
            if a["load"] == load and a["ci_high"] < 0 and a["config"] not in _AGAINST_LOCAL_ONLY
        ]
        if lost:
            worst = min(lost, key=lambda a: a["diff"])
            out.append(
                f"Load {load:g}: {', '.join(a['config'] for a in lost)} lose welfare against shared (CI below 0); "
                f"the largest loss is {worst['config']} (${worst['diff']:+.4f} per request): fix that reading first."
            )
        else:
            out.append(f"Load {load:g}: no single departure from shared loses welfare with a CI below 0.")
    return out + gain_sources(page)


def build_report(page: EconomyPage) -> Report:
    """The economy page (module docstring)."""
    rep = Report(
        "tokenomy economy: local optimisers vs one shared price vector",
        "router → served cluster → agent controller on real traces, RouterBench and mini-swe-agent runs",
    )
    rep.metrics({f"shared − local at ×{d['load']:g} ($/req)": d["diff"] for d in page.diffs})
    for note in page.synthetic:
        rep.note(note, kind="synthetic" if note.startswith("synthetic") else "modelled")
    rep.note(
        "Step times of the cluster are modelled (BLIS coefficients), not measured on a GPU.", kind="modelled"
    )
    rep.heading("Shared − local, paired over the same requests")
    rep.table(
        [
            {
                "load": d["load"],
                "shared − local $/req": d["diff"],
                "CI low": d["ci_low"],
                "CI high": d["ci_high"],
                "CI above 0": d["above_zero"],
            }
            for d in page.diffs
        ],
        caption="percentile bootstrap over requests (95%)",
    )
    rep.heading("Welfare of each configuration")
    rep.table(list(page.results))
    names = list(dict.fromkeys(str(r["config"]) for r in page.results))
    series = [
        Series(
            n,
            [r["load"] for r in page.results if r["config"] == n],
            [r["welfare $/req"] for r in page.results if r["config"] == n],
        )
        for n in names
    ]
    cis = "; ".join(
        f"{n} "
        + ", ".join(
            f"×{r['load']:g} [{r['CI low']:+.4f}, {r['CI high']:+.4f}]"
            for r in page.results
            if r["config"] == n
        )
        for n in names
    )
    rep.figure(
        line_chart(series, title="welfare per request", x_label="load ×", y_label="USD per request"),
        caption=f"95% bootstrap CI of welfare per request ($): {cis}",
    )
    if page.ablations:
        rep.heading("Ablations: each configuration − shared (where the gain comes from)")
        rep.table(
            [
                {
                    "config": a["config"],
                    "load": a["load"],
                    "− shared $/req": a["diff"],
                    "CI low": a["ci_low"],
                    "CI high": a["ci_high"],
                }
                for a in page.ablations
            ]
        )
    if page.against_local:
        rep.heading("Each configuration − local")
        rep.table(
            [
                {
                    "config": a["config"],
                    "load": a["load"],
                    "− local $/req": a["diff"],
                    "CI low": a["ci_low"],
                    "CI high": a["ci_high"],
                }
                for a in page.against_local
            ],
            caption="shared-no-refuse − local: the gain without declining any request; "
            "local-refuse − local: a value-blind refusal rule without shared prices",
        )
    rep.heading("Prices on the bus")
    if page.price_paths:
        lam = [Series(p.label, p.time_s, p.lam_usd_per_s) for p in page.price_paths]
        kv = [Series(p.label, p.time_s, p.kv_usd_per_block_s) for p in page.price_paths]
        c = page.prices_config
        rep.figure(
            line_chart(
                lam, title=f"λ discovered from the live queue ({c})", x_label="time s", y_label="USD/s"
            )
        )
        rep.figure(
            line_chart(kv, title=f"KV block-second price ({c})", x_label="time s", y_label="USD per block·s")
        )
    rep.heading("One request through the ledger (the running example)")
    rep.paragraph(page.example_text)
    if page.example_decisions:
        rep.table(
            list(page.example_decisions),
            caption="decisions in the ledger: the request's (chosen candidate; supply rows are admission) and the "
            "overlapping agent task's step decisions at its verification calls",
        )
    if page.example_outcomes:
        rep.table(list(page.example_outcomes), caption="its outcome in the ledger")
    rep.heading("What to do")
    for line in advice(page):
        rep.paragraph(line)
    return rep
