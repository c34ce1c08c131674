"""The economy experiment as the report page's input (``audit.report_economy.EconomyPage``).

Builds the page's plain rows from an ``Experiment``: welfare and difference tables, the supply price
paths on the bus, and the running example: under ``local`` at the highest load, the chat request
that shared the cluster with the most agent-context tokens, read back from the ledger when one was
written (its decisions and outcome), with what ``shared`` did with the same request.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from tokenomy.audit.report_economy import EconomyPage, PricePathView
from tokenomy.economy.experiment import Experiment
from tokenomy.economy.ledger_io import request_ids
from tokenomy.economy.system import Outcomes
from tokenomy.ledger import Ledger

__all__ = ["economy_page", "running_example"]


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


def _example(exp: Experiment, ledger: str | None) -> tuple[str, list[dict[str, Any]], list[dict[str, Any]]]:
    pick = running_example(exp)
    if pick is None:
        return "No request of the local configuration was served on the cluster; nothing to trace.", [], []
    config, load, row, n_calls, n_tokens = pick
    rid = request_ids(config, load, exp.outcomes[config, load])[row]
    rows: list[dict[str, Any]] = []
    outs: list[dict[str, Any]] = []
    if ledger and Path(ledger).exists():
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
            outs = [
                {"quality": o.quality, "cost $": o.cost_usd, "latency s": o.latency_s}
                for o in led.outcomes(rid)
            ]
        source = f"read back from the ledger {ledger}"
    else:
        source = "from the run (pass --ledger to trace it through the ledger)"
    out = exp.outcomes[config, load]
    shared = exp.outcomes.get(("shared", load))

    def name(o: Outcomes) -> str:
        return exp.models[int(o.model[row])] if o.model[row] >= 0 else "nothing (null option)"

    text = (
        f"Request {rid} ({source}): the cost-min router sent it to {name(out)}, a self-hosted model, "
        f"where it shared the cluster with {n_calls} agent call(s) carrying {n_tokens:,} context tokens "
        f"(mini-swe-agent contexts; the local router does not see them); realised latency "
        f"{out.latency_s[row]:.1f} s, quality {out.quality[row]:g}, cost ${out.cost_usd[row]:.5f}."
    )
    if shared is not None:
        text += (
            f" Under shared prices the same request went to {name(shared)} with latency "
            f"{shared.latency_s[row]:.1f} s, quality {shared.quality[row]:g}."
        )
    return text, rows, outs


def economy_page(exp: Experiment, ledger: str | None = None) -> EconomyPage:
    """The report page's input for ``exp`` (``ledger``: the ledger it was written to, if any)."""
    text, rows, outs = _example(exp, ledger)
    name = "shared" if any(c == "shared" for c, _ in exp.outcomes) else "local"
    runs = sorted((load, o) for (c, load), o in exp.outcomes.items() if c == name)
    return EconomyPage(
        results=[
            {
                "config": r.config,
                "load": r.load,
                "welfare $/req": r.welfare_per_request,
                "CI low": r.ci_low,
                "CI high": r.ci_high,
                "cost $/req": r.cost_per_request_usd,
                "chat p99 latency s": r.latency_p99_s,
                "served": r.served_share,
                "on cluster": r.hosted_share,
                "agent success": r.agent_success,
            }
            for r in exp.results
        ],
        diffs=[
            {
                "load": d.load,
                "diff": d.diff,
                "ci_low": d.ci_low,
                "ci_high": d.ci_high,
                "above_zero": d.above_zero,
            }
            for d in exp.diffs
        ],
        ablations=[
            {"config": a.config, "load": a.load, "diff": a.diff, "ci_low": a.ci_low, "ci_high": a.ci_high}
            for a in exp.ablations
        ],
        prices_config=name,
        price_paths=[
            PricePathView(f"×{load:g}", o.prices.time_s, o.prices.lam_usd_per_s, o.prices.kv_usd_per_block_s)
            for load, o in runs
        ],
        example_text=text,
        example_decisions=rows,
        example_outcomes=outs,
        synthetic=list(exp.synthetic),
    )
