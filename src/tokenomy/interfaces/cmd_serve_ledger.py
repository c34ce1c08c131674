"""``serve simulate --ledger``: a run's supply decisions and outcomes, held until the grid ends.

Decisions come from ``serving.decisions`` (admissions, speculation switches, evictions, orderings). One
outcome per request with a recorded admission: quality 1 if it completed, else 0 (served or not is what
the admission decides); latency finish − arrival (a rejected request's: until its rejection); cost the
GPU cost the scheduler priced at admission for a served request (the engine keeps no per-request bill),
0 for a rejected one. ``write_runs`` refuses a ledger that already records one of the runs (request ids
are ``<workload×rate>/<scheduler>/<i>``, so a rerun collides) before appending anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from tokenomy.interfaces.outputs import refuse_recorded
from tokenomy.ledger import Decision, DecisionBatch, Ledger
from tokenomy.serving.decisions import (
    admission_batch,
    eviction_decisions,
    order_decisions,
    speculation_batch,
)
from tokenomy.serving.result import COMPLETED, RunResult

__all__ = ["RunRows", "outcome_count", "row_counts", "run_rows", "write_runs"]


@dataclass(frozen=True, slots=True)
class RunRows:
    """One run's ledger rows, kept until the whole grid succeeded (then written in one step)."""

    name: str  # "<workload×rate>/<scheduler>", the prefix of its request ids
    batches: list[DecisionBatch]
    records: dict[str, list[Decision]]  # decision point -> records
    outcomes: dict[str, Any]  # Ledger.append_outcome_arrays keyword -> column


def _outcome_columns(r: RunResult, sample_every: int) -> dict[str, Any] | None:
    """One outcome per request with a recorded admission: quality 1 if it completed else 0.

    Latency is finish − arrival (a rejected request's: until its rejection); cost is the GPU cost the
    scheduler priced at admission for a served request (the engine keeps no per-request bill), 0 for a
    rejected one.
    """
    log = r.admissions
    if log is None or log.request.size == 0:
        return None
    k = np.arange(0, log.request.size, sample_every)
    req, first = np.unique(log.request[k], return_index=True)
    done = r.status[req] == COMPLETED
    latency = np.nan_to_num(r.finish_s[req] - r.workload.arrival_s[req], nan=0.0).clip(min=0.0)
    return {
        "request_id": [f"{r.workload.name}/{r.scheduler}/{i}" for i in req.tolist()],
        "quality": done.astype(np.float64),
        "cost_usd": np.where(done, log.dc_usd[k][first], 0.0).clip(min=0.0),
        "latency_s": latency,
        "time_s": np.nan_to_num(r.finish_s[req], nan=0.0),
    }


def run_rows(r: RunResult, sample_every: int) -> RunRows:
    """The ledger rows of one run: sampled admissions, speculation switches, evictions, orderings, outcomes."""
    batches = [b for b in (admission_batch(r, sample_every=sample_every), speculation_batch(r)) if b]
    records = {"evict": eviction_decisions(r), "order": order_decisions(r)}
    outcomes = _outcome_columns(r, sample_every) or {}
    return RunRows(f"{r.workload.name}/{r.scheduler}", batches, records, outcomes)


def _first_request(run: RunRows) -> str | None:
    for b in run.batches:
        return str(b.request_ids[0])
    for recs in run.records.values():
        for d in recs:
            return d.request_id
    return None


def write_runs(ledger: Ledger, runs: list[RunRows]) -> dict[str, int]:
    """Append every run's decisions, then their outcomes; return rows per decision point (and outcomes).

    Raises:
        LedgerError: the ledger already records one of these runs; nothing of them is kept.
    """
    written: dict[str, int] = {}
    with ledger.hold():
        for run in runs:
            first = _first_request(run)
            if first is not None:
                refuse_recorded(ledger, first, f"serve simulate {run.name}")
        for run in runs:
            for batch in run.batches:
                ledger.append_batch(batch)
                written[batch.decision_point] = written.get(batch.decision_point, 0) + len(batch)
            for point, recs in run.records.items():
                ledger.append(recs)
                written[point] = written.get(point, 0) + len(recs)
        for run in runs:
            if run.outcomes:
                n = ledger.append_outcome_arrays(**run.outcomes)
                written["outcomes"] = written.get("outcomes", 0) + n
    return written


def row_counts(runs: list[RunRows]) -> dict[str, int]:
    """Decisions the runs will write, per decision point (outcomes: ``outcome_count``)."""
    counts: dict[str, int] = {}
    for run in runs:
        for b in run.batches:
            counts[b.decision_point] = counts.get(b.decision_point, 0) + len(b)
        for point, recs in run.records.items():
            counts[point] = counts.get(point, 0) + len(recs)
    return counts


def outcome_count(runs: list[RunRows]) -> int:
    """Outcomes the runs will write."""
    return sum(len(run.outcomes.get("request_id", ())) for run in runs)
