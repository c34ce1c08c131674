"""Ledger concurrency benchmark: several writer processes, two handles each, appending to one file.

Every process opens two ``Ledger`` handles on the same DuckDB file and appends small tagged batches
through them in turn (10,000 batches in all; ``--quick``: 400). Each batch lands whole or is refused
with ``LedgerError`` (another process held the file past ``lock_timeout_s``). Prints the batches landed
and refused, the wall time, and the damage count of the final file (repeated sequence numbers or ids,
candidates without or joined to the wrong decision, partial batches), which must be 0.
"""

from __future__ import annotations

import multiprocessing
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import duckdb
import numpy as np

from _common import parser
from tokenomy.core import LedgerError
from tokenomy.ledger import DecisionBatch, Layer, Ledger

ROWS, NAMES = 3, ("a", "b", "c")


def tagged_batch(tag: int) -> DecisionBatch:
    """``ROWS`` decisions whose ``time_s`` encode the batch and candidate j's ΔQ is ``time_s + j``."""
    time_s = np.arange(ROWS, dtype=np.float64) + tag * 1000.0
    dq = time_s[:, None] + np.arange(len(NAMES), dtype=np.float64)[None, :]
    z = np.zeros_like(dq)
    zn = np.zeros(ROWS)
    chosen = np.zeros(ROWS, np.int64)
    return DecisionBatch(
        [f"r{tag}-{i}" for i in range(ROWS)], Layer.DEMAND, "route", NAMES, dq, z + 0.1, z, z, z, chosen,
        np.ones(ROWS), zn, zn, zn, time_s,
    )  # fmt: skip


def writer(path: str, worker: int, batches: int, lock_timeout_s: float) -> tuple[int, int, float, str]:
    """Append ``batches`` batches through two handles in turn; (landed, refused, seconds, first error)."""
    t0 = time.perf_counter()
    handles = [Ledger(path, lock_timeout_s=lock_timeout_s) for _ in range(2)]
    landed = refused = 0
    first_error = ""
    for k in range(batches):
        try:
            handles[k % 2].append_batch(tagged_batch(worker * 100_000 + k))
            landed += 1
        except LedgerError as exc:
            refused += 1
            first_error = first_error or str(exc)
    return landed, refused, time.perf_counter() - t0, first_error


DAMAGE = {
    "repeated seq": "SELECT count(*) - count(DISTINCT seq) FROM decisions",
    "repeated decision_id": "SELECT count(*) - count(DISTINCT decision_id) FROM decisions",
    "orphan candidates": "SELECT count(*) FROM candidates c "
    "WHERE NOT EXISTS (SELECT 1 FROM decisions d WHERE d.seq = c.decision_seq)",
    "candidates on the wrong decision": "SELECT count(*) FROM candidates c "
    "JOIN decisions d ON d.seq = c.decision_seq WHERE c.dq <> d.time_s + c.idx",
    "partial batches": f"SELECT count(*) FROM (SELECT floor(time_s / 1000) FROM decisions "
    f"GROUP BY 1 HAVING count(*) <> {ROWS})",
}


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--processes", type=int, default=4)
    p.add_argument("--lock-timeout-s", type=float, default=30.0)
    args = p.parse_args()
    total = 400 if args.quick else 10_000
    per = total // args.processes
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "concurrent.duckdb")
        Ledger(path).close()
        t0 = time.perf_counter()
        with multiprocessing.get_context("spawn").Pool(args.processes) as pool:
            results = pool.starmap(
                writer, [(path, w, per, args.lock_timeout_s) for w in range(args.processes)]
            )
        wall = time.perf_counter() - t0
        landed = sum(r[0] for r in results)
        refused = sum(r[1] for r in results)
        rows = Ledger(path, read_only=True).count()
        con = duckdb.connect(path, read_only=True)
        damage = {k: int(con.execute(sql).fetchall()[0][0]) for k, sql in DAMAGE.items()}
        con.close()
    print(
        f"ledger concurrency: {args.processes} processes × 2 handles, {per * args.processes:,} batches of {ROWS}"
    )
    print(f"  landed {landed:,}, refused {refused:,} (lock_timeout_s = {args.lock_timeout_s:g})")
    print(
        f"  wall {wall:.1f} s, {landed / wall:,.0f} batches/s landed; per process {[round(r[2], 1) for r in results]} s"
    )
    print(
        f"  rows in the file {rows:,} (landed × {ROWS} = {landed * ROWS:,}): {'equal' if rows == landed * ROWS else 'DIFFERENT'}"
    )
    print(f"  damage: {damage} -> {'none' if not any(damage.values()) else 'CORRUPT'}")
    errors = {r[3] for r in results if r[3]}
    if errors:
        print(f"  a refusal reads: {sorted(errors)[0]}")


if __name__ == "__main__":
    main()
