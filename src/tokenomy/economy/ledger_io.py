"""Every decision and outcome of an economy experiment, written to one ledger.

Request ids are ``<config>/x<load>/chat/<i>`` and ``<config>/x<load>/agent/<k>``. Per run:

* demand ``route`` decisions (kind ``route``): every model with its (ΔQ = q̂, ΔC = ĉ + supply
  externality, ΔL = l̂), the chosen one or the null option, the request's V and SLA λ, and the
  supply resource prices the router read (one batch per supply quote read, as its rows share it);
* action ``step`` decisions (kind ``step``): "continue" with (p̂, Ĉ + supply price, expected
  remaining seconds), chosen or not (stop); a task's k-th ``step`` row in time order is its call k;
* supply ``admit`` decisions (kind ``admit``) where the scheduler decides (congestion-priced,
  wait cap): "serve" with the scheduler's ΔC, ΔL and the Pigouvian charge;
* one outcome per request: realised quality, USD cost and latency.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tokenomy.core.prices import PriceSource, PriceVector
from tokenomy.economy.experiment import Experiment
from tokenomy.economy.system import Outcomes
from tokenomy.ledger import DecisionBatch, Layer, Ledger

__all__ = ["request_ids", "write_ledger", "write_run"]


def request_ids(config: str, load: float, out: Outcomes) -> list[str]:
    """The ledger id of every request of a run (chat rows first, then agent tasks)."""
    nc = int(np.count_nonzero(out.kind == "chat"))
    return [f"{config}/x{load:g}/chat/{i}" for i in range(nc)] + [
        f"{config}/x{load:g}/agent/{k}" for k in range(len(out.kind) - nc)
    ]


def _quote_key(p: PriceVector) -> float:
    """Decisions that read the same supply quote share its resource prices (one batch each)."""
    return -1.0 if not p.resources or p.resources[0].time_s is None else float(p.resources[0].time_s)


def _by_quote(rows: Sequence[Any], price_at: int) -> Iterator[tuple[list[Any], dict[str, Any]]]:
    """Trace rows grouped by the supply quote they read (row[price_at] is the PriceVector read), in
    order, each group with the price fields its ``DecisionBatch`` takes."""
    groups: dict[float, list[Any]] = defaultdict(list)
    for row in rows:
        groups[_quote_key(row[price_at])].append(row)
    for group in groups.values():
        read = [r[price_at] for r in group]
        n = len(group)
        yield (
            group,
            {
                "v_usd": np.array([p.v_usd for p in read]),
                "lam_usd_per_s": np.array([p.lam_usd_per_s for p in read]),
                "rho_usd": np.zeros(n),
                "rho_irr_usd": np.zeros(n),
                "sources": {"v_source": PriceSource.USER, "lam_source": read[0].lam_source},
                "resources": read[0].resources,
            },
        )


def _route_batches(ids: list[str], out: Outcomes, models: tuple[str, ...]) -> list[DecisionBatch]:
    m = len(models)
    return [
        DecisionBatch(
            request_ids=[ids[r[0]] for r in rows],
            layer=Layer.DEMAND,
            decision_point="route",
            names=models,
            dq=np.stack([r[3] for r in rows]),
            dc_usd=np.stack([r[4] for r in rows]),
            dl_s=np.stack([r[5] for r in rows]),
            dr=np.zeros((len(rows), m)),
            dr_irr=np.zeros((len(rows), m)),
            chosen=np.array([r[2] for r in rows], np.int64),
            time_s=np.array([r[1] for r in rows]),
            kind="route",
            **prices,
        )
        for rows, prices in _by_quote(out.trace.route, 6)
    ]


def _agent_batches(ids: list[str], out: Outcomes, nc: int) -> list[DecisionBatch]:
    return [
        DecisionBatch(
            request_ids=[ids[nc + r[0]] for r in rows],
            layer=Layer.ACTION,
            decision_point="step",
            names=("continue",),
            dq=np.array([[r[4]] for r in rows]),
            dc_usd=np.array([[r[5]] for r in rows]),
            dl_s=np.array([[r[6]] for r in rows]),
            dr=np.zeros((len(rows), 1)),
            dr_irr=np.zeros((len(rows), 1)),
            chosen=np.array([0 if r[3] else -1 for r in rows], np.int64),
            time_s=np.array([r[2] for r in rows]),
            kind="step",
            **prices,
        )
        for rows, prices in _by_quote(out.trace.agent, 7)
    ]


def _admission_batch(ids: list[str], out: Outcomes) -> DecisionBatch | None:
    served = out.trace.served
    if served is None or served.admissions is None:
        return None
    log = served.admissions
    rows = [out.trace.link_rows[int(k)][0] for k in log.request]
    wl = served.workload
    n = len(rows)
    return DecisionBatch(
        request_ids=[ids[r] for r in rows],
        layer=Layer.SUPPLY,
        decision_point="admit",
        names=("serve",),
        dq=(wl.v_usd[log.request] / np.maximum(out.v_usd[rows], 1e-12))[:, None],
        dc_usd=(log.dc_usd + log.external_usd)[:, None],
        dl_s=log.dl_s[:, None],
        dr=np.zeros((n, 1)),
        dr_irr=np.zeros((n, 1)),
        chosen=np.where(log.admit, 0, -1).astype(np.int64),
        v_usd=out.v_usd[rows],
        lam_usd_per_s=wl.lam_usd_per_s[log.request],
        rho_usd=np.zeros(n),
        rho_irr_usd=np.zeros(n),
        time_s=log.time_s,
        sources={"v_source": PriceSource.USER, "lam_source": PriceSource.SLA},
        kind="admit",
    )


def write_run(ledger: Ledger, config: str, load: float, out: Outcomes, models: tuple[str, ...]) -> int:
    """Append one run's decisions and outcomes; returns the decisions written."""
    ids = request_ids(config, load, out)
    nc = int(np.count_nonzero(out.kind == "chat"))
    written = 0
    batches = _route_batches(ids, out, models) + _agent_batches(ids, out, nc)
    admit = _admission_batch(ids, out)
    if admit is not None:
        batches.append(admit)
    # one open of the file for the run: its decisions come as many small batches (one per quote)
    with ledger.hold():
        for b in batches:
            written += len(ledger.append_batch(b))
        decided = {ids[r[0]] for r in out.trace.route} | {ids[nc + r[0]] for r in out.trace.agent}
        keep = [i for i, x in enumerate(ids) if x in decided]
        ledger.append_outcome_arrays(
            [ids[i] for i in keep],
            out.quality[keep],
            out.cost_usd[keep],
            latency_s=np.maximum(out.latency_s[keep], 0.0),
        )
    return written


def write_ledger(path: str | Path, exp: Experiment) -> int:
    """Write every run of ``exp`` to a new ledger at ``path``; returns the decisions written."""
    with Ledger(path) as ledger, ledger.hold():
        total = 0
        for (config, load), out in exp.outcomes.items():
            total += write_run(ledger, config, load, out, exp.models)
    return total
