"""The HTML page of ``tokenomy economy run``: welfare per configuration and load, prices on the bus, advice.

Sections: the paired shared − local difference per load (headline), welfare of every configuration
with its bootstrap CI, the ablations against ``shared`` (where the gain comes from), the supply
layer's price path on the bus (λ discovered from the live queue and the KV block-second price), one
request traced through the ledger (the running example: a route to the cluster that queued behind
agent contexts), and what to do. Synthetic ingredients are labelled. Builds a ``Report``; the CLI writes it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from tokenomy.audit.html import Report
from tokenomy.audit.svg import Series, line_chart
from tokenomy.economy.experiment import Experiment
from tokenomy.economy.ledger_io import request_ids
from tokenomy.economy.system import Outcomes

__all__ = ["build_report", "running_example"]


def _agent_overlap(out: Outcomes) -> dict[int, tuple[int, int]]:
    """Per chat row on the cluster: (agent calls in the system during its stay, their prompt tokens)."""
    served = out.trace.served
    if served is None:
        return {}
    rows = out.trace.link_rows
    arr, fin = served.workload.arrival_s, served.finish_s
    agent = np.array([step >= 0 for _, step in rows], dtype=bool)
    a_arr, a_fin, a_tok = arr[agent], fin[agent], served.workload.prompt_tokens[agent]
    overlap = {}
    for k, (row, step) in enumerate(rows):
        if step < 0:
            live = (a_arr < fin[k]) & (a_fin > arr[k])
            overlap[row] = (int(live.sum()), int(a_tok[live].sum()))
    return overlap


def running_example(exp: Experiment) -> tuple[str, float, int, int, int] | None:
    """The request the report traces: under ``local`` at the highest load, the chat request on the cluster
    that shared it with the most agent-context tokens (calls of agent runs in the system during its stay).

    Returns:
        (config, load, chat row, agent calls overlapping it, their prompt tokens), or ``None``.
    """
    loads = sorted({load for (c, load) in exp.outcomes if c == "local"})
    if not loads:
        return None
    load = loads[-1]
    overlap = _agent_overlap(exp.outcomes["local", load])
    if not overlap:
        return None
    row = max(overlap, key=lambda r: (overlap[r][1], -r))
    return "local", load, row, *overlap[row]


def _example(rep: Report, exp: Experiment, ledger: str | None) -> None:
    pick = running_example(exp)
    if pick is None:
        rep.paragraph("No request of the local configuration was served on the cluster; nothing to trace.")
        return
    config, load, row, n_calls, n_tokens = pick
    rid = request_ids(config, load, exp.outcomes[config, load])[row]
    rows: list[dict[str, Any]] = []
    if ledger and Path(ledger).exists():
        from tokenomy.ledger import Ledger

        with Ledger(ledger, read_only=True) as led:
            for d in led.decisions(rid):
                for k, c in enumerate(d.candidates):
                    if k == d.chosen or d.layer.value == "supply":
                        rows.append(
                            {
                                "layer": d.layer.value,
                                "point": d.decision_point,
                                "time s": d.time_s,
                                "chosen": c.name if k == d.chosen else "(none)",
                                "ΔQ": c.dq,
                                "ΔC $": c.dc_usd,
                                "ΔL s": c.dl_s,
                                "V $": d.prices.v_usd,
                                "λ $/s": d.prices.lam_usd_per_s,
                            }
                        )
            outs = list(led.outcomes(rid))
        source = f"read back from the ledger {ledger}"
    else:
        outs = []
        source = "from the run (pass --ledger to trace it through the ledger)"
    out = exp.outcomes[config, load]
    shared = exp.outcomes.get(("shared", load))
    rep.paragraph(
        f"Request {rid} ({source}): the cost-min router sent it to "
        f"{exp.models[int(out.model[row])] if out.model[row] >= 0 else 'nothing'}, a self-hosted model, "
        f"where it shared the cluster with {n_calls} agent call(s) carrying {n_tokens:,} context tokens "
        f"(mini-swe-agent contexts; the local router does not see them); "
        f"realised latency {out.latency_s[row]:.1f} s, quality {out.quality[row]:g}, cost ${out.cost_usd[row]:.5f}."
        + (
            f" Under shared prices the same request went to "
            f"{exp.models[int(shared.model[row])] if shared.model[row] >= 0 else 'nothing (null option)'} with "
            f"latency {shared.latency_s[row]:.1f} s, quality {shared.quality[row]:g}."
            if shared is not None
            else ""
        )
    )
    if rows:
        rep.table(
            rows, caption="its decisions in the ledger (the chosen candidate; supply rows are admission)"
        )
    if outs:
        rep.table(
            [{"quality": o.quality, "cost $": o.cost_usd, "latency s": o.latency_s} for o in outs],
            caption="its outcome in the ledger",
        )


def _advice(exp: Experiment) -> list[str]:
    out = []
    for d in exp.diffs:
        if d.above_zero:
            out.append(
                f"At load {d.load:g} the shared price vector beats the local optimisers by ${d.diff:.4f} per request (CI above 0): share the prices."
            )
        elif d.ci_high < 0:
            out.append(
                f"At load {d.load:g} the local optimisers do better (CI below 0): do not switch at this load without finding why."
            )
        else:
            out.append(
                f"At load {d.load:g} the difference is a tie (CI spans 0): the data cannot show a gain here."
            )
    for load in sorted({a.load for a in exp.ablations}):
        lost = [a for a in exp.ablations if a.load == load and a.ci_high < 0]
        if lost:
            worst = min(lost, key=lambda a: a.diff)
            out.append(
                f"Load {load:g}: {', '.join(a.config for a in lost)} lose welfare against shared (CI below 0); "
                f"the largest loss is {worst.config} (${worst.diff:+.4f} per request): fix that reading first."
            )
        else:
            out.append(f"Load {load:g}: no single departure from shared loses welfare with a CI below 0.")
    return out


def build_report(exp: Experiment, ledger: str | None = None) -> Report:
    """The economy page (module docstring)."""
    rep = Report(
        "tokenomy economy: local optimisers vs one shared price vector",
        "router → served cluster → agent controller on real traces, RouterBench and mini-swe-agent runs",
    )
    rep.metrics({f"shared − local at ×{d.load:g} ($/req)": d.diff for d in exp.diffs})
    for note in exp.synthetic:
        rep.note(note, kind="synthetic" if note.startswith("synthetic") else "modelled")
    rep.note(
        "Step times of the cluster are modelled (BLIS coefficients), not measured on a GPU.", kind="modelled"
    )
    rep.heading("Shared − local, paired over the same requests")
    rep.table(
        [
            {
                "load": d.load,
                "shared − local $/req": d.diff,
                "CI low": d.ci_low,
                "CI high": d.ci_high,
                "CI above 0": d.above_zero,
            }
            for d in exp.diffs
        ],
        caption="percentile bootstrap over requests (95%)",
    )
    rep.heading("Welfare of each configuration")
    rep.table(
        [
            {
                "config": r.config,
                "load": r.load,
                "welfare $/req": r.welfare_per_request,
                "CI low": r.ci_low,
                "CI high": r.ci_high,
                "cost $/req": r.cost_per_request_usd,
                "p99 latency s": r.latency_p99_s,
                "served": r.served_share,
                "on cluster": r.hosted_share,
                "agent success": r.agent_success,
            }
            for r in exp.results
        ]
    )
    names = list(dict.fromkeys(r.config for r in exp.results))
    series = [
        Series(
            n,
            [r.load for r in exp.results if r.config == n],
            [r.welfare_per_request for r in exp.results if r.config == n],
        )
        for n in names
    ]
    rep.figure(line_chart(series, title="welfare per request", x_label="load ×", y_label="USD per request"))
    if exp.ablations:
        rep.heading("Ablations: each configuration − shared (where the gain comes from)")
        rep.table(
            [
                {
                    "config": a.config,
                    "load": a.load,
                    "− shared $/req": a.diff,
                    "CI low": a.ci_low,
                    "CI high": a.ci_high,
                }
                for a in exp.ablations
            ]
        )
    rep.heading("Prices on the bus")
    for name in ("shared", "local"):
        runs = sorted((load, o) for (c, load), o in exp.outcomes.items() if c == name)
        if not runs:
            continue
        lam = [Series(f"×{load:g}", o.prices.time_s, o.prices.lam_usd_per_s) for load, o in runs]
        kv = [Series(f"×{load:g}", o.prices.time_s, o.prices.kv_usd_per_block_s) for load, o in runs]
        rep.figure(
            line_chart(
                lam, title=f"λ discovered from the live queue ({name})", x_label="time s", y_label="USD/s"
            )
        )
        rep.figure(
            line_chart(
                kv, title=f"KV block-second price ({name})", x_label="time s", y_label="USD per block·s"
            )
        )
        break
    rep.heading("One request through the ledger (the running example)")
    _example(rep, exp, ledger)
    rep.heading("What to do")
    for line in _advice(exp):
        rep.paragraph(line)
    return rep
