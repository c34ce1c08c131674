"""PostgreSQL for several gateway processes: one shared budget store and one shared ledger.

* :class:`PgBudgetStore` is a :class:`~tokenomy.interfaces.gateway.budget.BudgetStore` (async, the same
  ``reserve`` / ``settle`` / ``remaining`` as the in-process store). ``reserve`` is ONE statement: an
  ``INSERT ... ON CONFLICT DO UPDATE ... WHERE spent + held + amount ≤ cap RETURNING``. PostgreSQL takes
  the account's row lock and re-checks the ``WHERE`` on the newest row version, so of many processes
  reserving at once each sees every hold committed before it: spent + held never passes the cap at any
  reservation, and the spend passes it only by what requests cost above their reservation (never
  more than one request's maximum cost when each reservation is its request's maximum cost). Amounts
  are ``numeric`` (no float drift in the running sums). Holds of a process that dies before settling
  stay held (the store fails closed: that budget is unavailable until an operator clears ``held_usd``).
* :class:`PgLedger` takes the gateway's decisions and outcomes (the same ``append`` /
  ``append_outcomes`` / ``transaction`` / ``close`` that the gateway's record writer calls on a DuckDB
  :class:`~tokenomy.ledger.Ledger`) into tables with the ledger's columns (``tokenomy.ledger.schema``),
  one transaction per batch, sequence numbers from a counter row locked for that transaction (unique
  across processes), decision ids unique by constraint, every outcome's request (and decision) checked
  in the same transaction. :func:`export_to_ledger` copies the tables into a DuckDB ledger file, which
  ``tokenomy ledger summary`` and ``tokenomy audit`` read.

Driver: psycopg 3 (the ``gateway`` extra), imported when a store is built. Table names share a prefix
(default ``tokenomy_``) so the tables can live in an application's database.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from tokenomy.core.errors import LedgerError, ValidationError
from tokenomy.interfaces.gateway.budget import Reservation, register_budget_store
from tokenomy.ledger import schema
from tokenomy.ledger.records import Decision, Outcome
from tokenomy.ledger.tables import decision_tables, decisions_from_tables, metadata_json

if TYPE_CHECKING:
    import psycopg

    from tokenomy.ledger import Ledger

__all__ = ["PgBudgetStore", "PgLedger", "export_to_ledger", "register"]

_EXTRA = "install the gateway extra: pip install 'tokenomy[gateway]' (psycopg[binary])"
_PG_TYPES = {
    pa.int64(): "bigint",
    pa.int32(): "integer",
    pa.float64(): "double precision",
    pa.string(): "text",
    pa.bool_(): "boolean",
}
_KEYS = {
    "decisions": "PRIMARY KEY (seq), UNIQUE (decision_id)",
    "candidates": "PRIMARY KEY (decision_seq, idx)",
    "resource_prices": "PRIMARY KEY (decision_seq, idx)",
    "outcomes": "PRIMARY KEY (seq)",
}
_SCHEMAS = {
    "decisions": schema.DECISIONS,
    "candidates": schema.CANDIDATES,
    "resource_prices": schema.RESOURCE_PRICES,
    "outcomes": schema.OUTCOMES,
}
_OUTCOME_FIELDS = [f.name for f in schema.OUTCOMES if f.name not in ("seq", "metadata")]


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError:
        raise ValidationError(f"the PostgreSQL store needs psycopg 3; {_EXTRA}") from None
    return psycopg


def _prefix(prefix: str) -> str:
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,40}", prefix):
        raise ValidationError(f"table prefix must match [a-z_][a-z0-9_]*, got {prefix!r}")
    return prefix


def budget_ddl(prefix: str = "tokenomy_") -> list[str]:
    """The statement that creates the budget table (idempotent)."""
    p = _prefix(prefix)
    return [
        f"CREATE TABLE IF NOT EXISTS {p}budgets (account text PRIMARY KEY, "
        "spent_usd numeric NOT NULL DEFAULT 0, held_usd numeric NOT NULL DEFAULT 0)"
    ]


def ledger_ddl(prefix: str = "tokenomy_") -> list[str]:
    """The statements that create the ledger tables (idempotent; the last one creates the marker)."""
    p = _prefix(prefix)
    out = [
        f"CREATE TABLE IF NOT EXISTS {p}counters (name text PRIMARY KEY, next_seq bigint NOT NULL)",
        f"INSERT INTO {p}counters VALUES ('decisions', 1), ('outcomes', 1) ON CONFLICT DO NOTHING",
    ]
    for name, sch in _SCHEMAS.items():
        cols = ", ".join(f"{f.name} {_PG_TYPES[f.type]}" for f in sch)
        out.append(f"CREATE TABLE IF NOT EXISTS {p}{name} ({cols}, {_KEYS[name]})")
    out.append(f"CREATE INDEX IF NOT EXISTS {p}decisions_request ON {p}decisions (request_id)")
    out.append(f"CREATE INDEX IF NOT EXISTS {p}outcomes_request ON {p}outcomes (request_id)")
    return out


# DDL runs only when its last object is missing, under an advisory lock: CREATE INDEX IF NOT EXISTS
# takes a SHARE lock on its table even when the index exists, which would queue every writer behind it.
_MARKER_SQL = "SELECT to_regclass(%s) IS NOT NULL"
_LOCK_SQL = "SELECT pg_advisory_xact_lock(hashtext(%s))"


def _create(con: psycopg.Connection[Any], stmts: Sequence[str], marker: str) -> None:
    row = con.execute(_MARKER_SQL, (marker,)).fetchone()
    if row is not None and row[0]:
        return
    with con.transaction(), con.cursor() as cur:
        cur.execute(_LOCK_SQL, (marker,))  # one creator at a time; the others find the marker after it
        row = cur.execute(_MARKER_SQL, (marker,)).fetchone()
        for stmt in stmts if row is None or not row[0] else ():
            cur.execute(stmt)


# -- budgets --------------------------------------------------------------------------------------
class PgBudgetStore:
    """Budgets shared by gateway processes through PostgreSQL (see the module docstring).

    Args:
        conninfo: a libpq connection string or URI (``postgresql://user@host:5432/db``).
        prefix: the table name prefix.
        pool_size: connections this process opens at most (one statement per reserve or settle).
    """

    def __init__(self, conninfo: str, *, prefix: str = "tokenomy_", pool_size: int = 4) -> None:
        if pool_size < 1:
            raise ValidationError(f"pool_size must be ≥ 1, got {pool_size!r}")
        self.conninfo = conninfo
        self.prefix = _prefix(prefix)
        self.pool_size = pool_size
        self._idle: list[psycopg.AsyncConnection[Any]] = []
        self._opened = 0
        self._ready: asyncio.Condition | None = None
        self._schema_done = False
        p = self.prefix
        self._reserve_sql = (
            f"INSERT INTO {p}budgets AS b (account, held_usd) "
            "SELECT %(a)s, %(amt)s::numeric WHERE %(amt)s::numeric <= %(cap)s::numeric "
            "ON CONFLICT (account) DO UPDATE SET held_usd = b.held_usd + EXCLUDED.held_usd "
            "WHERE b.spent_usd + b.held_usd + EXCLUDED.held_usd <= %(cap)s::numeric "
            "RETURNING b.spent_usd + b.held_usd"
        )
        self._settle_sql = (
            f"UPDATE {p}budgets SET held_usd = GREATEST(held_usd - %(amt)s::numeric, 0), "
            "spent_usd = spent_usd + %(cost)s::numeric WHERE account = %(a)s RETURNING spent_usd + held_usd"
        )
        self._used_sql = f"SELECT spent_usd + held_usd FROM {p}budgets WHERE account = %(a)s"

    async def _get(self) -> psycopg.AsyncConnection[Any]:
        if self._ready is None:
            self._ready = asyncio.Condition()
        async with self._ready:
            while not self._idle and self._opened >= self.pool_size:
                await self._ready.wait()
            if self._idle:
                return self._idle.pop()
            self._opened += 1
        pg = _psycopg()
        try:
            con: psycopg.AsyncConnection[Any] = await pg.AsyncConnection.connect(
                self.conninfo, autocommit=True
            )
            if not self._schema_done:
                marker = f"{self.prefix}budgets"
                row = await (await con.execute(_MARKER_SQL, (marker,))).fetchone()
                if row is None or not row[0]:
                    async with con.transaction():
                        await con.execute(_LOCK_SQL, (marker,))
                        row = await (await con.execute(_MARKER_SQL, (marker,))).fetchone()
                        for stmt in budget_ddl(self.prefix) if row is None or not row[0] else ():
                            await con.execute(stmt)
                self._schema_done = True
        except BaseException:
            async with self._ready:
                self._opened -= 1
                self._ready.notify()
            raise
        return con

    async def _put(self, con: psycopg.AsyncConnection[Any]) -> None:
        assert self._ready is not None
        async with self._ready:
            if con.closed:
                self._opened -= 1
            else:
                self._idle.append(con)
            self._ready.notify()

    async def _one(self, sql: str, params: dict[str, Any]) -> Any:
        con = await self._get()
        try:
            cur = await con.execute(sql, params)
            row = await cur.fetchone()
        except BaseException:
            await con.close()
            raise
        finally:
            await self._put(con)
        return None if row is None else row[0]

    async def reserve(self, account: str, amount_usd: float, cap_usd: float) -> Reservation | None:
        """Hold ``amount_usd`` when spent + held + amount ≤ cap (atomically across processes)."""
        if not (isinstance(amount_usd, int | float) and 0 <= amount_usd < float("inf")):
            raise ValidationError(f"a reservation must be a finite USD amount ≥ 0; got {amount_usd!r}")
        used = await self._one(
            self._reserve_sql, {"a": account, "amt": _dec(amount_usd), "cap": _dec(cap_usd)}
        )
        return None if used is None else Reservation(account, float(amount_usd), float(cap_usd))

    async def settle(self, reservation: Reservation, cost_usd: float) -> float:
        """Release the hold, charge ``cost_usd``; return cap − spent − held."""
        used = await self._one(
            self._settle_sql,
            {"a": reservation.account, "amt": _dec(reservation.amount_usd), "cost": _dec(max(0.0, cost_usd))},
        )
        return float(reservation.cap_usd) - float(used or 0)

    async def remaining(self, account: str, cap_usd: float) -> float:
        """cap − spent − held, USD."""
        used = await self._one(self._used_sql, {"a": account})
        return float(cap_usd) - float(used or 0)

    async def close(self) -> None:
        """Close the idle connections."""
        while self._idle:
            await self._idle.pop().close()
            self._opened -= 1


def _dec(x: float) -> Decimal:
    return Decimal(repr(float(x)))


# -- ledger ---------------------------------------------------------------------------------------
class PgLedger:
    """Decisions and outcomes in PostgreSQL tables with the ledger's columns (thread-safe, synchronous).

    Args:
        conninfo: a libpq connection string or URI.
        prefix: the table name prefix.

    Raises:
        ValidationError: psycopg is missing or the prefix is not a plain name.
    """

    def __init__(self, conninfo: str, *, prefix: str = "tokenomy_") -> None:
        self.prefix = _prefix(prefix)
        pg = _psycopg()
        self._pg = pg
        self._con: psycopg.Connection[Any] = pg.Connection.connect(conninfo, autocommit=True)
        _create(self._con, ledger_ddl(self.prefix), f"{self.prefix}outcomes_request")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group several appends into one transaction (all or nothing)."""
        try:
            with self._con.transaction():
                yield
        except self._pg.Error as exc:
            raise LedgerError(f"PostgreSQL ledger transaction failed, nothing written: {exc}") from None

    def _seqs(self, cur: psycopg.Cursor[Any], table: str, n: int) -> int:
        cur.execute(
            f"UPDATE {self.prefix}counters SET next_seq = next_seq + %s WHERE name = %s RETURNING next_seq - %s",
            (n, table, n),
        )
        row = cur.fetchone()
        assert row is not None
        return int(row[0])

    def _copy(self, cur: psycopg.Cursor[Any], name: str, table: pa.Table) -> None:
        if not table.num_rows:
            return
        cols = table.column_names
        data = [table.column(c).to_pylist() for c in cols]
        with cur.copy(f"COPY {self.prefix}{name} ({', '.join(cols)}) FROM STDIN") as cp:
            for row in zip(*data, strict=True):
                cp.write_row(row)

    def append(self, decisions: Iterable[Decision]) -> list[str]:
        """Append decisions in one transaction; return their decision ids.

        Raises:
            ValidationError: a record is not a Decision.
            LedgerError: a decision id is already stored or repeated; nothing is written.
        """
        rows = list(decisions)
        for i, d in enumerate(rows):
            if not isinstance(d, Decision):
                raise ValidationError(f"record {i} of the batch is a {type(d).__name__}, not a Decision")
        if not rows:
            return []
        try:
            with self._con.transaction(), self._con.cursor() as cur:
                first = self._seqs(cur, "decisions", len(rows))
                ids = [d.decision_id or f"d{s}" for s, d in enumerate(rows, first)]
                if len(set(ids)) < len(ids):
                    raise LedgerError("a decision_id is repeated within the batch; nothing written")
                for name, table in zip(
                    ("decisions", "candidates", "resource_prices"),
                    decision_tables(rows, ids, first),
                    strict=True,
                ):
                    self._copy(cur, name, table)
        except self._pg.errors.UniqueViolation:
            raise LedgerError(
                "a decision_id of the batch is already in the ledger; nothing written"
            ) from None
        except self._pg.Error as exc:
            raise LedgerError(f"PostgreSQL append failed, nothing written: {exc}") from None
        return ids

    def append_outcomes(self, outcomes: Iterable[Outcome]) -> int:
        """Append outcomes in one transaction; return how many.

        Raises:
            LedgerError: an outcome names a request or decision not stored; nothing is written.
        """
        rows = list(outcomes)
        for i, o in enumerate(rows):
            if not isinstance(o, Outcome):
                raise ValidationError(f"record {i} of the batch is a {type(o).__name__}, not an Outcome")
        if not rows:
            return 0
        p = self.prefix
        try:
            with self._con.transaction(), self._con.cursor() as cur:
                first = self._seqs(cur, "outcomes", len(rows))
                cols = {f: [getattr(o, f) for o in rows] for f in _OUTCOME_FIELDS}
                cols["metadata"] = [metadata_json(o.metadata, f"outcome for {o.request_id!r}") for o in rows]
                table = pa.table(
                    {"seq": list(range(first, first + len(rows))), **cols}, schema=schema.OUTCOMES
                )
                self._copy(cur, "outcomes", table)
                cur.execute(
                    f"SELECT o.request_id, o.decision_id FROM {p}outcomes o WHERE o.seq >= %s AND o.seq < %s AND ("
                    f"NOT EXISTS (SELECT 1 FROM {p}decisions d WHERE d.request_id = o.request_id) OR "
                    f"(o.decision_id <> '' AND NOT EXISTS (SELECT 1 FROM {p}decisions d "
                    "WHERE d.decision_id = o.decision_id))) LIMIT 1",
                    (first, first + len(rows)),
                )
                bad = cur.fetchone()
                if bad is not None:
                    raise LedgerError(
                        f"outcome for request {bad[0]!r} (decision {bad[1]!r}): no such decision is in the "
                        "ledger; nothing written"
                    )
        except self._pg.Error as exc:
            raise LedgerError(f"PostgreSQL append failed, nothing written: {exc}") from None
        return len(rows)

    def count(self, table: str = "decisions") -> int:
        """Rows in ``decisions``, ``candidates``, ``outcomes`` or ``resource_prices``."""
        if table not in _SCHEMAS:
            raise ValidationError(f"table must be one of {', '.join(_SCHEMAS)}; got {table!r}")
        row = self._con.execute(f"SELECT count(*) FROM {self.prefix}{table}").fetchone()
        return int(row[0]) if row else 0

    def _table(self, name: str) -> pa.Table:
        sch = _SCHEMAS[name]
        order = "seq" if "seq" in sch.names else "decision_seq, idx"
        cur = self._con.execute(f"SELECT {', '.join(sch.names)} FROM {self.prefix}{name} ORDER BY {order}")
        rows = cur.fetchall()
        return pa.table({n: [r[i] for r in rows] for i, n in enumerate(sch.names)}, schema=sch)

    def decisions(self) -> Iterator[Decision]:
        """Every stored decision, in sequence order."""
        dec = self._table("decisions")
        yield from decisions_from_tables(
            dec, self._table("candidates").to_pylist(), self._table("resource_prices").to_pylist()
        )

    def outcomes(self) -> Iterator[Outcome]:
        """Every stored outcome, in sequence order."""
        import json

        for r in self._table("outcomes").to_pylist():
            meta = json.loads(r.pop("metadata"))
            r.pop("seq")
            yield Outcome(**r, metadata=meta)

    def close(self) -> None:
        """Close the connection."""
        self._con.close()


def export_to_ledger(source: PgLedger, ledger: Ledger) -> tuple[int, int]:
    """Copy every decision and outcome of ``source`` into a DuckDB ``ledger`` in one transaction.

    Give a fresh (or different) ledger file: decision ids already there make the copy fail whole.

    Returns:
        (decisions, outcomes) copied.

    Raises:
        LedgerError: the ledger already holds one of the decision ids; nothing is written.
    """
    decisions: Sequence[Decision] = list(source.decisions())
    outcomes: Sequence[Outcome] = list(source.outcomes())
    with ledger.transaction():
        ledger.append(decisions)
        ledger.append_outcomes(outcomes)
    return len(decisions), len(outcomes)


def register() -> None:
    """Make ``budget_store = "postgres"`` (with ``budget_dsn``) build a :class:`PgBudgetStore`."""
    register_budget_store("postgres", lambda dsn: PgBudgetStore(dsn))
