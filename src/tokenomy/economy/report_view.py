"""The economy experiment as the report page's input (``audit.report_economy.EconomyPage``).

Builds the page's plain rows from an ``Experiment``: welfare and difference tables, the supply price
paths on the bus, and the running example: under ``local`` at the highest load, the chat request
that shared the cluster with the most agent-context tokens, read back from the ledger when one was
written (its decisions and outcome, and the step decisions of the agent task whose verification
calls overlapped it most), with what ``shared`` did with the same request. The chain verification
calls → cluster load → chat latency is counted over the whole run (``verification_chain``): how many
agent calls were verification calls (tests or a reproduction script run), the context tokens they put
on the cluster, and the latency of the chat requests that overlapped one against those that did not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tokenomy.audit.report_economy import EconomyPage, PricePathView
from tokenomy.economy.experiment import Experiment
from tokenomy.economy.ledger_io import request_ids
from tokenomy.economy.system import Outcomes
from tokenomy.ledger import Ledger

__all__ = ["VerificationChain", "economy_page", "running_example", "verification_chain"]


@dataclass(frozen=True, slots=True)
class VerificationChain:
    """Verification calls and the chat requests that shared the cluster with them, over one run.

    Attributes:
        agent_calls, verify_calls: agent calls served on the cluster, and how many were verification.
        verify_prompt_tokens: context tokens of the verification calls; prompt_share: their share of
            every prompt token the cluster was sent.
        chat_with, chat_without: chat requests on the cluster that overlapped ≥ 1 verification call / none.
        latency_with_s, latency_without_s: their median end-to-end latency on the cluster, seconds.
    """

    agent_calls: int
    verify_calls: int
    verify_prompt_tokens: int
    prompt_share: float
    chat_with: int
    chat_without: int
    latency_with_s: float
    latency_without_s: float


def verification_chain(out: Outcomes) -> VerificationChain | None:
    """The chain counted over one run (module docstring); ``None`` without served calls or labels."""
    served, verify = out.trace.served, out.trace.verify
    if served is None or verify is None or len(out.trace.link_rows) == 0:
        return None
    agent = np.array([step >= 0 for _, step in out.trace.link_rows], dtype=bool)
    arr, fin, tok = served.workload.arrival_s, served.finish_s, served.workload.prompt_tokens
    v_arr, v_fin = arr[verify], fin[verify]
    chat = np.flatnonzero(~agent)
    hit = np.array([bool(np.any((v_arr < fin[k]) & (v_fin > arr[k]))) for k in chat], dtype=bool)
    e2e = fin[chat] - arr[chat]

    def med(x: NDArray[np.float64]) -> float:
        x = x[np.isfinite(x)]
        return float(np.median(x)) if x.size else float("nan")

    return VerificationChain(
        int(agent.sum()),
        int(verify.sum()),
        int(tok[verify].sum()),
        float(tok[verify].sum() / max(int(tok.sum()), 1)),
        int(hit.sum()),
        int((~hit).sum()),
        med(e2e[hit]),
        med(e2e[~hit]),
    )


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


def _verifier_task(out: Outcomes, row: int) -> tuple[int, list[int]] | None:
    """The agent task whose verification calls overlapped chat ``row``'s stay most: (task row, its steps)."""
    served, verify = out.trace.served, out.trace.verify
    if served is None or verify is None:
        return None
    links = out.trace.link_rows
    k = next((j for j, (r, step) in enumerate(links) if r == row and step < 0), None)
    if k is None:
        return None
    arr, fin = served.workload.arrival_s, served.finish_s
    by_task: dict[int, list[int]] = {}
    for j in np.flatnonzero(verify & (arr < fin[k]) & (fin > arr[k])):
        by_task.setdefault(links[j][0], []).append(links[j][1])
    if not by_task:
        return None
    task = max(by_task, key=lambda t: (len(by_task[t]), -t))
    return task, sorted(by_task[task])


def _rows(led: Ledger, rid: str, steps: list[int] | None = None) -> list[dict[str, Any]]:
    """The chosen candidate of each decision of ``rid`` (all supply rows); ``steps``: only these calls."""
    rows = []
    decisions = list(led.decisions(rid))
    if steps is not None:
        decisions = [d for k, d in enumerate(decisions) if k in steps]
    for d in decisions:
        for k, c in enumerate(d.candidates):
            if k == d.chosen or d.layer.value == "supply" or d.decision_point == "step":
                rows.append(
                    {
                        "request": rid,
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
    return rows


def chain_text(config: str, load: float, ch: VerificationChain | None) -> str:
    """One sentence with the chain's numbers for one run."""
    if ch is None:
        return ""
    return (
        f" Over the whole {config} run at ×{load:g}: {ch.verify_calls} of {ch.agent_calls} agent calls on the "
        f"cluster were verification calls (tests or a reproduction script run), carrying "
        f"{ch.verify_prompt_tokens:,} context tokens ({ch.prompt_share:.0%} of the prompt tokens the cluster "
        f"was sent); the {ch.chat_with} chat requests on the cluster that overlapped one had median latency "
        f"{_median_s(ch.chat_with, ch.latency_with_s)}, the {ch.chat_without} that did not "
        f"{_median_s(ch.chat_without, ch.latency_without_s)} (an association: a longer stay overlaps more calls)."
    )


def _median_s(n: int, latency_s: float) -> str:
    """A median latency in seconds, or a dash with the reason when there is no request to take it over."""
    return f"{latency_s:.2f} s" if n > 0 and math.isfinite(latency_s) else "— (no such request)"


def _example(exp: Experiment, ledger: str | None) -> tuple[str, list[dict[str, Any]], list[dict[str, Any]]]:
    pick = running_example(exp)
    if pick is None:
        return "No request of the local configuration was served on the cluster; nothing to trace.", [], []
    config, load, row, n_calls, n_tokens = pick
    out = exp.outcomes[config, load]
    ids = request_ids(config, load, out)
    rid = ids[row]
    task = _verifier_task(out, row)
    rows: list[dict[str, Any]] = []
    outs: list[dict[str, Any]] = []
    if ledger and Path(ledger).exists():
        with Ledger(ledger, read_only=True) as led:
            rows = _rows(led, rid)
            if task is not None:
                rows += _rows(led, ids[task[0]], task[1])
            outs = [
                {"request": r, "quality": o.quality, "cost $": o.cost_usd, "latency s": o.latency_s}
                for r in ([rid] + ([ids[task[0]]] if task else []))
                for o in led.outcomes(r)
            ]
        source = f"read back from the ledger {ledger}"
    else:
        source = "from the run (pass --ledger to trace it through the ledger)"
    shared = exp.outcomes.get(("shared", load))

    def name(o: Outcomes) -> str:
        return exp.models[int(o.model[row])] if o.model[row] >= 0 else "nothing (null option)"

    text = (
        f"Request {rid} ({source}): the cost-min router sent it to {name(out)}, a self-hosted model, "
        f"where it shared the cluster with {n_calls} agent call(s) carrying {n_tokens:,} context tokens "
        f"(mini-swe-agent contexts; the local router does not see them); realised latency "
        f"{out.latency_s[row]:.1f} s, quality {out.quality[row]:g}, cost ${out.cost_usd[row]:.5f}."
    )
    if task is not None:
        text += (
            f" {len(task[1])} of those call(s) were verification calls of agent task {ids[task[0]]} "
            f"(its step decisions for calls {', '.join(map(str, task[1]))} are in the table below)."
        )
    if shared is not None:
        text += (
            f" Under shared prices the same request went to {name(shared)} with latency "
            f"{shared.latency_s[row]:.1f} s, quality {shared.quality[row]:g}."
        )
    text += chain_text(config, load, verification_chain(out))
    if shared is not None:
        text += chain_text("shared", load, verification_chain(shared))
    text += (
        " Not observed: whether a cheaper model for the agent's own steps would add verification calls "
        "(the agent runs are one model's; the economy does not route agent steps)."
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
        against_local=[
            {"config": a.config, "load": a.load, "diff": a.diff, "ci_low": a.ci_low, "ci_high": a.ci_high}
            for a in exp.against_local
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
