"""One append as one transaction: sequence numbers from the database, checks, commit or roll back.

``write`` numbers the rows inside the write transaction (``max(seq) + 1`` of the table, read while this
process holds the file's write lock and ``locking.path_lock``), never from a counter cached in a
handle, so two handles on one file (or two processes taking turns) never hand out one number twice.
After the insert it checks that the new rows own their sequence range and runs the caller's checks;
any failure rolls the whole batch back and raises ``LedgerError`` (a ``TokenomyError`` from a check
or a table builder is raised as it is). An interrupt (``KeyboardInterrupt``, ``SystemExit``) also
rolls back and is re-raised unchanged: nothing is written and the file stays usable.

Uniqueness is kept by this protocol rather than by DuckDB unique indexes: an index on
``decisions.decision_id`` and ``(decision_seq, idx)`` slows the 1M-row bulk append by 35-90 %
(docs/ledger.md, Concurrency).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence

import duckdb
import pyarrow as pa

from tokenomy.core.errors import LedgerError, TokenomyError
from tokenomy.ledger.locking import is_interrupt

__all__ = ["decision_checks", "insert_tables", "next_seq", "outcome_checks", "write"]

Check = tuple[str, str]
"""A query that returns a row when the batch is bad, and the message (formatted with that row)."""


def next_seq(con: duckdb.DuckDBPyConnection, table: str) -> int:
    """The next free sequence number of ``table`` (``decisions`` or ``outcomes``), read in the transaction."""
    return int(con.execute(f"SELECT coalesce(max(seq) + 1, 0) FROM {table}").fetchall()[0][0])


def insert_tables(con: duckdb.DuckDBPyConnection, tables: dict[str, pa.Table]) -> None:
    """Insert each Arrow table into the ledger table of its name (inside the caller's transaction)."""
    for name, table in tables.items():
        con.register("_batch", table)
        try:
            con.execute(f"INSERT INTO {name} SELECT * FROM _batch")
        finally:
            con.unregister("_batch")


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    # a failed COMMIT has already ended the transaction; closing the connection discards any rest
    with contextlib.suppress(duckdb.Error):
        con.execute("ROLLBACK")


def write(
    con: duckdb.DuckDBPyConnection,
    path: str,
    table: str,
    build: Callable[[int], dict[str, pa.Table]],
    checks: Callable[[int], Sequence[Check]],
    *,
    outer: bool = False,
) -> int:
    """Append the tables ``build(first_seq)`` in one transaction; return ``first_seq``.

    Args:
        con: a writable connection held for this append only.
        path: the ledger, for messages.
        table: the table whose ``seq`` numbers the batch (``decisions`` or ``outcomes``).
        build: the Arrow tables to insert, table name -> rows, numbered from the given sequence number.
        checks: queries run after the insert, given the first sequence number (``Check``).
        outer: the append is part of a transaction the caller opened (``FileAccess.transaction``): it
            neither begins nor commits, and on failure leaves the rollback to that transaction.

    Raises:
        LedgerError: a check failed or the database refused the batch; nothing is written.
        TokenomyError: ``build`` or a check raised it; nothing is written.
        KeyboardInterrupt: an interrupt during the append; rolled back, nothing is written.
    """
    if not outer:
        con.execute("BEGIN TRANSACTION")
    try:
        first = next_seq(con, table)
        tables = build(first)
        insert_tables(con, tables)
        owned = con.execute(f"SELECT count(*) FROM {table} WHERE seq >= {first}").fetchall()[0][0]
        if owned != tables[table].num_rows:
            raise LedgerError(
                f"append to {path!r}: sequence numbers from {first} are taken by another writer; nothing written"
            )
        for sql, message in checks(first):
            bad = con.execute(sql).fetchall()
            if bad:
                raise LedgerError(message.format(*bad[0]))
        if not outer:
            con.execute("COMMIT")
    except BaseException as exc:
        if not outer:
            _rollback(con)
        if isinstance(exc, TokenomyError) or not isinstance(exc, Exception):
            raise  # our own errors and interrupts (KeyboardInterrupt, SystemExit) pass unchanged
        if is_interrupt(exc):
            raise KeyboardInterrupt from exc  # Ctrl-C during DuckDB's insert: rolled back, an interrupt
        raise LedgerError(f"append to {path!r} failed, nothing written: {exc}") from exc
    return first


def decision_checks(first: int) -> list[Check]:
    """The batch's decision ids are not already in the ledger (rows numbered from ``first`` are new)."""
    if first == 0:
        return []
    return [
        (
            f"SELECT decision_id FROM decisions WHERE seq < {first} AND decision_id IN "
            f"(SELECT decision_id FROM decisions WHERE seq >= {first}) LIMIT 1",
            "decision_id {!r} is already in the ledger; nothing written",
        )
    ]


def outcome_checks(first: int) -> list[Check]:
    """Every new outcome (numbered from ``first``) names a request, a decision and a candidate (of that
    request, and of that decision when named) the ledger holds."""
    new = f"(SELECT * FROM outcomes WHERE seq >= {first})"
    return [
        (
            f"SELECT request_id FROM {new} o WHERE NOT EXISTS "
            "(SELECT 1 FROM decisions d WHERE d.request_id = o.request_id) LIMIT 1",
            "outcome for request {!r}: no decision with that request_id is in the ledger; nothing written",
        ),
        (
            f"SELECT decision_id FROM {new} o WHERE o.decision_id <> '' AND NOT EXISTS "
            "(SELECT 1 FROM decisions d WHERE d.decision_id = o.decision_id) LIMIT 1",
            "outcome names decision_id {!r}, which is not in the ledger; nothing written",
        ),
        *(
            (
                f"SELECT o.candidate, o.request_id FROM {new} o WHERE o.candidate <> '' AND o.decision_id {op} '' "
                "AND NOT EXISTS (SELECT 1 FROM candidates c JOIN decisions d ON c.decision_seq = d.seq "
                f"WHERE d.{key} = o.{key} AND c.name = o.candidate) LIMIT 1",
                "outcome names candidate {!r}, which is not a candidate of request {!r}"
                + of
                + "; expected a candidate name the decision holds, or '' for the chosen one; nothing written",
            )
            for op, key, of in (("=", "request_id", ""), ("<>", "decision_id", " (of the decision it names)"))
        ),
    ]
