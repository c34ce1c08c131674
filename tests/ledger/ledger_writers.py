"""Writer processes for the ledger concurrency tests, and the integrity check they are judged by.

Each batch is tagged: decision ``time_s`` is the batch tag times 1000 plus the row, and candidate
``j`` of a decision has ``dq = time_s + j``, so a candidate joined to the wrong decision is visible.
"""

from __future__ import annotations

import multiprocessing.synchronize
from pathlib import Path

import duckdb
import numpy as np

from tokenomy.core.errors import LedgerError
from tokenomy.ledger import DecisionBatch, Layer, Ledger

ROWS = 3
NAMES = ("a", "b", "c")


def tagged_batch(tag: int, rows: int = ROWS) -> DecisionBatch:
    """``rows`` decisions over ``NAMES`` whose times and candidate ΔQ encode ``tag``."""
    time_s = np.arange(rows, dtype=np.float64) + tag * 1000.0
    dq = time_s[:, None] + np.arange(len(NAMES), dtype=np.float64)[None, :]
    z = np.zeros_like(dq)
    return DecisionBatch(
        [f"r{tag}-{i}" for i in range(rows)],
        Layer.DEMAND,
        "route",
        NAMES,
        dq,
        z + 0.1,
        z,
        z,
        z,
        np.zeros(rows, np.int64),
        np.ones(rows),
        np.zeros(rows),
        np.zeros(rows),
        np.zeros(rows),
        time_s,
    )


def append_batches(
    path: str, worker: int, batches: int, handles: int, lock_timeout_s: float
) -> tuple[int, int, list[str]]:
    """Append ``batches`` tagged batches through ``handles`` handles in turn; (landed, refused, errors)."""
    ledgers = [Ledger(path, lock_timeout_s=lock_timeout_s) for _ in range(handles)]
    landed = refused = 0
    errors: list[str] = []
    for k in range(batches):
        try:
            ledgers[k % handles].append_batch(tagged_batch(worker * 100_000 + k))
            landed += 1
        except LedgerError as exc:
            refused += 1
            errors.append(str(exc))
    return landed, refused, errors[:3]


def append_forever(path: str, started: multiprocessing.synchronize.Event) -> None:
    """Append tagged batches until killed; set ``started`` after the first one lands."""
    ledger = Ledger(path)
    for k in range(10**9):
        ledger.append_batch(tagged_batch(k))
        started.set()


def hold_lock(
    path: str, held: multiprocessing.synchronize.Event, release: multiprocessing.synchronize.Event
) -> None:
    """Hold the file's write lock (a plain DuckDB connection) until ``release`` is set."""
    con = duckdb.connect(path)
    held.set()
    release.wait(60)
    con.close()


def corruption(path: str | Path) -> dict[str, int]:
    """Counts of every kind of damage in a ledger of tagged batches; all 0 when it is whole."""
    con = duckdb.connect(str(path), read_only=True)
    queries = {
        "repeated_seq": "SELECT count(*) - count(DISTINCT seq) FROM decisions",
        "repeated_decision_id": "SELECT count(*) - count(DISTINCT decision_id) FROM decisions",
        "repeated_candidate_key": "SELECT count(*) - count(DISTINCT (decision_seq, idx)) FROM candidates",
        "orphan_candidates": "SELECT count(*) FROM candidates c "
        "WHERE NOT EXISTS (SELECT 1 FROM decisions d WHERE d.seq = c.decision_seq)",
        "wrong_join": "SELECT count(*) FROM candidates c JOIN decisions d ON d.seq = c.decision_seq "
        "WHERE c.dq <> d.time_s + c.idx",
        "short_decisions": "SELECT count(*) FROM decisions d WHERE n_candidates <> "
        "(SELECT count(*) FROM candidates c WHERE c.decision_seq = d.seq)",
        "partial_batches": f"SELECT count(*) FROM (SELECT floor(time_s / 1000) FROM decisions "
        f"GROUP BY 1 HAVING count(*) <> {ROWS})",
    }
    try:
        return {k: int(con.execute(sql).fetchall()[0][0]) for k, sql in queries.items()}
    finally:
        con.close()
