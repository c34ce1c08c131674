"""Every gateway decision and outcome to the ledger, buffered in memory and written by a background thread.

One request gives one ``Decision`` row (layer demand, point ``route``): the candidates with q̂, ΔC,
ΔL and the Eq. 1 surplus the policy estimated, the model that served it (``None`` when refused),
the policy's propensity and exploration flag, the request's prices; metadata holds the policy's own
pick, why another model served (``downgrade`` for want of capacity, ``fallback`` after a failure),
each candidate's congestion price and the failed attempts. Its outcome rows: one for the served
model (cost, latency, quality 0: the grade is not known yet), one per failed attempt (that
upstream, quality 0, cost 0, the time lost, the error in metadata), and one per ``/v1/feedback``
(quality and harm, cost 0). The ledger sums a candidate's outcome rows into its utility, so the
serve-time row and the feedback row together give V·q − C − λL − ρR once.

Rows go to an in-memory list on the event loop (an append, no I/O); a daemon thread writes them in
one ledger transaction every ``flush_ms`` or as soon as ``flush_rows`` are waiting, and once more on
``close``. A crash (the process killed) loses at most the rows buffered since the last flush: at most
``flush_ms`` of traffic or ``flush_rows`` requests, whichever comes first, plus any batch being
written at that moment (a transaction: all or nothing). DuckDB never runs on the event loop.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

from tokenomy.core.errors import TokenomyError
from tokenomy.core.prices import PriceVector
from tokenomy.ledger.records import Candidate as LedgerCandidate
from tokenomy.ledger.records import Decision, Layer, Outcome

__all__ = ["Attempt", "FeedbackRecord", "LedgerLike", "RecordSink", "RequestRecord"]


class LedgerLike(Protocol):
    """What the sink needs of a ledger: the DuckDB ``Ledger`` or a shared PostgreSQL one."""

    def transaction(self) -> AbstractContextManager[None]: ...
    def append(self, decisions: Iterable[Decision]) -> list[str]: ...
    def append_outcomes(self, outcomes: Iterable[Outcome]) -> int: ...
    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Attempt:
    """A failed call to one upstream: which, how it failed, the seconds it took."""

    upstream: str
    error: str
    latency_s: float


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """What the gateway decided for one request and what happened."""

    request_id: str
    tenant: str
    time_s: float
    prices: PriceVector
    names: tuple[str, ...]  # candidate names, in config order
    est_quality: tuple[float, ...]
    est_cost_usd: tuple[float, ...]
    est_latency_s: tuple[float, ...]
    est_surplus_usd: tuple[float, ...]
    lam_usd_per_s: tuple[float, ...]  # congestion price per candidate
    served: str | None
    policy: str
    policy_pick: str
    propensity: float
    explored: bool
    reason: str  # policy | downgrade | fallback | refused | error | disconnected | pinned
    status: int
    cost_usd: float = 0.0
    latency_s: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    stream: bool = False
    attempts: tuple[Attempt, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)  # key -> JSON value (tool-call verdicts, …)


@dataclass(frozen=True, slots=True)
class FeedbackRecord:
    """A graded outcome of a served request."""

    request_id: str
    model: str
    quality: float
    harm: float
    time_s: float


def _decision(r: RequestRecord) -> Decision:
    cands = tuple(
        LedgerCandidate(n, q, c, lat, 0.0, 0.0, s)
        for n, q, c, lat, s in zip(
            r.names, r.est_quality, r.est_cost_usd, r.est_latency_s, r.est_surplus_usd, strict=True
        )
    )
    meta: dict[str, Any] = {
        "source": "gateway",
        "policy": r.policy,
        "policy_pick": r.policy_pick,
        "explored": r.explored,
        "reason": r.reason,
        "status": r.status,
        "stream": r.stream,
        "congestion_lam_usd_per_s": dict(zip(r.names, r.lam_usd_per_s, strict=True)),
        "attempts": [
            {"upstream": a.upstream, "error": a.error, "latency_s": a.latency_s} for a in r.attempts
        ],
        **r.extra,
    }
    return Decision(
        request_id=r.request_id,
        layer=Layer.DEMAND,
        decision_point="route",
        candidates=cands,
        chosen=None if r.served is None else r.names.index(r.served),
        prices=r.prices,
        time_s=r.time_s,
        tenant=r.tenant,
        propensity=r.propensity,
        metadata=meta,
    )


def _outcomes(r: RequestRecord) -> list[Outcome]:
    t = r.time_s + r.latency_s
    rows = [
        Outcome(
            r.request_id,
            0.0,
            0.0,
            latency_s=a.latency_s,
            candidate=a.upstream,
            time_s=t,
            metadata={"error": a.error, "graded": False},
        )
        for a in r.attempts
    ]
    meta = {
        "graded": False,
        "prompt_tokens": r.prompt_tokens,
        "completion_tokens": r.completion_tokens,
        "status": r.status,
        "reason": r.reason,
    }
    rows.append(
        Outcome(
            r.request_id,
            0.0,
            r.cost_usd,
            latency_s=r.latency_s,
            candidate=r.served or "",
            time_s=t,
            metadata=meta,
        )
    )
    return rows


class RecordSink:
    """Buffered writer of gateway records to a ``Ledger`` (``None``: count only, write nothing).

    Args:
        ledger: the ledger written to.
        flush_ms: the longest a record waits in memory, milliseconds.
        flush_rows: a flush starts as soon as this many requests wait.
    """

    def __init__(self, ledger: LedgerLike | None, *, flush_ms: float = 200.0, flush_rows: int = 1000) -> None:
        self.ledger, self.flush_s, self.flush_rows = ledger, flush_ms / 1000.0, flush_rows
        self._requests: list[RequestRecord] = []
        self._feedback: list[FeedbackRecord] = []
        self._swap = threading.Lock()
        self._write = threading.Lock()
        self._wake = threading.Event()
        self._stop = False
        self.written_decisions = self.written_outcomes = self.lost_rows = self.flushes = 0
        self.last_error = ""
        # more decision rows to write with each flush (e.g. the gate's verdicts): each call drains one
        self.sources: list[Callable[[], list[Decision]]] = []
        self._thread = threading.Thread(target=self._run, name="tokenomy-ledger-flush", daemon=True)
        self._thread.start()

    def add(self, record: RequestRecord) -> None:
        """Buffer one request's decision and outcome (called on the event loop; no I/O)."""
        with self._swap:  # held only for an append or a swap, never during a write
            self._requests.append(record)
            n = len(self._requests)
        if n >= self.flush_rows:
            self._wake.set()

    def add_feedback(self, record: FeedbackRecord) -> None:
        """Buffer one graded outcome."""
        with self._swap:
            self._feedback.append(record)

    @property
    def pending(self) -> int:
        """Requests and feedback waiting to be written."""
        return len(self._requests) + len(self._feedback)

    def _run(self) -> None:
        while not self._stop:
            self._wake.wait(self.flush_s)
            self._wake.clear()
            self.flush()

    def flush(self) -> None:
        """Write everything buffered now, in one transaction (called by the thread and by ``close``)."""
        with self._write:
            with self._swap:
                reqs, self._requests = self._requests, []
                fbs, self._feedback = self._feedback, []
            extra = [d for source in self.sources for d in source()]
            if not reqs and not fbs and not extra:
                return
            decisions: list[Decision] = list(extra)
            outcomes: list[Outcome] = []
            for r in reqs:  # a record that does not validate is lost alone, not with its batch
                try:
                    decisions.append(_decision(r))
                    outcomes += _outcomes(r)
                except TokenomyError as exc:
                    self.lost_rows += 1
                    self.last_error = str(exc)
                    if decisions and decisions[-1].request_id == r.request_id:
                        decisions.pop()
            try:
                outcomes += [
                    Outcome(
                        f.request_id,
                        f.quality,
                        0.0,
                        harm=f.harm,
                        candidate=f.model,
                        time_s=f.time_s,
                        metadata={"graded": True},
                    )
                    for f in fbs
                ]
                if self.ledger is not None:
                    with self.ledger.transaction():
                        self.ledger.append(decisions)
                        self.ledger.append_outcomes(outcomes)
                self.written_decisions += len(decisions)
                self.written_outcomes += len(outcomes)
                self.flushes += 1
            except (TokenomyError, OSError) as exc:
                self.lost_rows += len(decisions) + len(fbs)
                self.last_error = str(exc)

    def close(self, timeout_s: float = 30.0) -> None:
        """Stop the thread and write what is left."""
        self._stop = True
        self._wake.set()
        self._thread.join(timeout_s)
        self.flush()
        if self.ledger is not None:
            self.ledger.close()

    def stats(self) -> dict[str, float | int | str]:
        """Counters for /healthz and benchmarks."""
        return {
            "written_decisions": self.written_decisions,
            "written_outcomes": self.written_outcomes,
            "pending": self.pending,
            "lost_rows": self.lost_rows,
            "flushes": self.flushes,
            "last_error": self.last_error,
            "time_s": time.time(),
        }
