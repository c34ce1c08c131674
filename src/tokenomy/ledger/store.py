"""The ledger store: decisions and outcomes in an embedded DuckDB file (``:memory:`` for tests).

Opening a file creates the schema, migrates a version-1 file to version 2, or refuses a newer one or a
DuckDB file that is not a ledger (``migrate``). A decision spans three tables: its row, its candidates
and its resource prices. A file is opened for each operation and closed after it, waiting for another
process's lock (``locking``), so several handles and processes can append to one file.

Every append is one transaction (``writer``): records are validated first, numbered from the database
inside the transaction, then written together; any error rolls the whole batch back (nothing
half-written) and raises ``LedgerError``; an interrupt is rolled back and re-raised. Outcomes must
refer to a request (and, when given, a decision and a candidate of it) already in the ledger. Parquet export writes one file per table.
Queries: ``regret()`` per decision and ``request_vectors()`` per request (see ``queries``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import duckdb
import numpy as np
import pyarrow as pa
from numpy.typing import ArrayLike, NDArray

from tokenomy.core._checks import check_finite_array, check_nonneg_array
from tokenomy.core.errors import LedgerError, ValidationError
from tokenomy.ledger import queries, schema, writer
from tokenomy.ledger.arguments import check_quality as _check_quality
from tokenomy.ledger.arguments import check_repeats as _check_repeats
from tokenomy.ledger.arguments import check_times as _check_times
from tokenomy.ledger.arguments import records as _records
from tokenomy.ledger.arguments import request_filter as _request_filter
from tokenomy.ledger.arguments import text_column as _text_column
from tokenomy.ledger.batch import DecisionBatch
from tokenomy.ledger.files import check_ledger_path, path_problem, path_text_problem
from tokenomy.ledger.locking import MEMORY, FileAccess, path_lock
from tokenomy.ledger.metadata import metadata_json as _json
from tokenomy.ledger.migrate import check_is_ledger, open_schema
from tokenomy.ledger.records import SCHEMA_VERSION, Decision, Outcome
from tokenomy.ledger.stored import DAMAGED, damaged_row
from tokenomy.ledger.tables import decision_tables, decisions_from_tables
from tokenomy.ledger.writer import Check

__all__ = ["Ledger"]

_R = TypeVar("_R", Decision, Outcome)

_OUTCOME_FIELDS = (
    "request_id",
    "decision_id",
    "candidate",
    "time_s",
    "quality",
    "cost_usd",
    "latency_s",
    "harm",
    "harm_irr",
    "harm_events",
    "observed",
)


def _decision_tables(dec: pa.Table, cand: pa.Table, res: pa.Table) -> dict[str, pa.Table]:
    tables = {"decisions": dec, "candidates": cand}
    if res.num_rows:
        tables["resource_prices"] = res
    return tables


class Ledger:
    """One ledger: an embedded DuckDB database holding decisions, candidates and outcomes.

    A file ledger is opened for each operation and closed after it (``locking``), so several handles and
    several processes can append to one file; each waits up to ``lock_timeout_s`` for another process's
    write lock. ``:memory:`` keeps one connection.

    Args:
        path: a database file (created if absent or empty) or ``":memory:"``.
        read_only: open an existing file without the right to write.
        lock_timeout_s: how long an operation waits while another process holds the file, seconds.

    Attributes:
        COLUMN_UNITS: the unit of every priced or measured column; "table.column" -> unit.

    Raises:
        LedgerError: the path is not a regular file (a folder, a device, a FIFO, a symbolic link loop:
            refused before opening), is absent or empty when opened read-only, is not a tokenomy
            DuckDB ledger (a text, CSV or Parquet file: ``files.check_ledger_path``, before DuckDB
            opens it; a DuckDB file with other tables: refused and left unmodified), holds a newer or unreadable schema version, is a version-1 file opened read-only
            (open it once for writing to migrate it), stays locked past ``lock_timeout_s``, or cannot be
            opened.
        ValidationError: ``lock_timeout_s`` is negative or not finite.
    """

    COLUMN_UNITS: Mapping[str, str] = schema.COLUMN_UNITS

    def __init__(
        self, path: str | Path = ":memory:", *, read_only: bool = False, lock_timeout_s: float = 30.0
    ) -> None:
        if isinstance(lock_timeout_s, bool) or not (
            isinstance(lock_timeout_s, (int, float)) and 0 <= lock_timeout_s < math.inf
        ):
            raise ValidationError(
                f"lock_timeout_s must be a finite number of seconds ≥ 0; got {lock_timeout_s!r}"
            )
        if not isinstance(path, (str, Path)) or str(path) == "" or path_text_problem(path):
            raise ValidationError(
                f"ledger path must be a non-empty str or Path (a file, or ':memory:'); got {path!r}"
            )
        if not isinstance(read_only, bool):
            raise ValidationError(f"read_only must be True or False; got {read_only!r}")
        self.path = str(path)
        if self.path != MEMORY:
            check_ledger_path(self.path, read_only=read_only)
        self.read_only = read_only
        self.lock_timeout_s = float(lock_timeout_s)
        self._db = FileAccess(self.path, read_only=read_only, lock_timeout_s=self.lock_timeout_s)
        try:
            self._open()
        except BaseException:
            self._db.close()
            raise

    def _open(self) -> None:
        file = Path(self.path)
        size = file.stat().st_size if self.path != MEMORY and file.is_file() else None
        if size == 0 and not self.read_only:
            with path_lock(self.path):  # DuckDB refuses a 0-byte file; a fresh one takes its place
                if file.stat().st_size == 0:
                    file.unlink()
        elif size and not self.read_only:
            with self._db.connection(read_only=True) as con:  # look before writing: refuse a foreign file
                check_is_ledger(con, self.path)
        with self._db.connection() as con:
            open_schema(con, self.path, read_only=self.read_only)

    # -- context management -------------------------------------------------------------------
    def close(self) -> None:
        """Close the database (a file ledger is closed after every operation, so it is durable already)."""
        self._db.close()

    def hold(self) -> AbstractContextManager[None]:
        """Keep the file open for a block of operations (each pays no open); others wait meanwhile.

        Inside ``with ledger.hold():`` this handle keeps one connection and the file's lock, so many
        small appends or queries cost one open; other processes wait (up to their ``lock_timeout_s``)
        until the block ends. A no-op for ``:memory:``.
        """
        return self._db.hold()

    def transaction(self) -> AbstractContextManager[None]:
        """Make every append of the block one transaction: all of them land, or none does.

        ``with ledger.transaction(): ledger.append(...); ledger.append_outcomes(...)`` holds the file
        (as ``hold``) and commits at the end of the block; an error or an interrupt inside rolls back
        every append of the block. Transactions do not nest.

        Raises:
            LedgerError: a transaction is already open on this handle.
        """
        return self._db.transaction()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _scalar(self, sql: str, params: list[Any] | None = None) -> Any:
        with self._db.connection() as con:
            rows = con.execute(sql, params or []).fetchall()
        return rows[0][0] if rows else None

    # -- writes ---------------------------------------------------------------------------------
    def _write(
        self, table: str, build: Callable[[int], dict[str, pa.Table]], checks: Callable[[int], list[Check]]
    ) -> int:
        with self._db.connection() as con:
            return writer.write(con, self.path, table, build, checks, outer=self._db.in_transaction)

    def append(self, decisions: Iterable[Decision]) -> list[str]:
        """Append decisions in one transaction and return their decision ids.

        Raises:
            ValidationError: a record is not a Decision.
            LedgerError: a decision_id is already in the ledger or repeated; nothing is written.
        """
        rows = _records("decisions", decisions)
        for i, d in enumerate(rows):
            if not isinstance(d, Decision):
                raise ValidationError(f"record {i} of the batch is a {type(d).__name__}, not a Decision")
        if not rows:
            return []
        ids: list[str] = []

        def build(first: int) -> dict[str, pa.Table]:
            ids[:] = [d.decision_id or f"d{s}" for s, d in enumerate(rows, first)]
            _check_repeats(ids)
            return _decision_tables(*decision_tables(rows, ids, first))

        self._write("decisions", build, writer.decision_checks)
        return ids

    def append_batch(self, batch: DecisionBatch) -> range:
        """Append a columnar batch in one transaction; return the sequence numbers written.

        Raises:
            ValidationError: ``batch`` is not a DecisionBatch, or a field of it is bad; nothing written.
        """
        if not isinstance(batch, DecisionBatch):
            raise ValidationError(f"batch must be a DecisionBatch; got {type(batch).__name__}")
        batch.validate()
        first = self._write(
            "decisions", lambda s: _decision_tables(*batch.to_tables(s)), writer.decision_checks
        )
        return range(first, first + len(batch))

    def append_outcomes(self, outcomes: Iterable[Outcome]) -> int:
        """Append outcomes in one transaction; return how many were written.

        Raises:
            LedgerError: an outcome names a request, a decision or a candidate (of that request) the
                ledger does not hold; nothing written.
        """
        rows = _records("outcomes", outcomes)
        for i, o in enumerate(rows):
            if not isinstance(o, Outcome):
                raise ValidationError(f"record {i} of the batch is a {type(o).__name__}, not an Outcome")
        if not rows:
            return 0
        _check_quality(np.array([o.quality for o in rows], dtype=np.float64))
        columns = {f: [getattr(o, f) for o in rows] for f in _OUTCOME_FIELDS}
        columns["metadata"] = [_json(o.metadata, f"Outcome for request {o.request_id!r}") for o in rows]

        def build(first: int) -> dict[str, pa.Table]:
            seq = {"seq": list(range(first, first + len(rows)))}
            return {"outcomes": pa.table({**seq, **columns}, schema=schema.OUTCOMES)}

        self._write("outcomes", build, writer.outcome_checks)
        return len(rows)

    def append_outcome_arrays(
        self,
        request_id: Sequence[str],
        quality: ArrayLike,
        cost_usd: ArrayLike,
        *,
        latency_s: ArrayLike = 0.0,
        harm: ArrayLike = 0.0,
        harm_irr: ArrayLike = 0.0,
        candidate: Sequence[str] | None = None,
        decision_id: Sequence[str] | None = None,
        time_s: ArrayLike = 0.0,
        observed: bool = True,
    ) -> int:
        """Columnar fast path of ``append_outcomes`` (same checks, same atomicity): one row per entry.

        Numeric columns are arrays of length N or scalars; ``candidate`` is None for "the chosen one";
        ``decision_id`` is None for "every decision of the request" (name it where you can:
        docs/ledger.md, Writing).

        Raises:
            ValidationError: a bad value or a column of the wrong length; nothing written.
            LedgerError: an unknown request, decision or candidate; nothing written.
        """
        ids = _text_column("outcome column request_id", request_id, None, ids=True)
        n = len(ids)
        cols: dict[str, NDArray[np.float64]] = {}
        for name, val, check in (
            ("quality", quality, check_finite_array),
            ("cost_usd", cost_usd, check_nonneg_array),
            ("latency_s", latency_s, check_nonneg_array),
            ("harm", harm, check_nonneg_array),
            ("harm_irr", harm_irr, check_nonneg_array),
            ("time_s", time_s, check_finite_array),
        ):
            arr = check(f"outcome column {name}", val)
            if np.shape(arr) not in ((), (1,), (n,)):
                raise ValidationError(
                    f"outcome column {name} has shape {np.shape(arr)}; expected a number or {n} values "
                    "(one per row)"
                )
            cols[name] = np.ascontiguousarray(np.broadcast_to(arr, (n,)), dtype=np.float64)
        _check_quality(cols["quality"])
        _check_times("outcome column time_s", cols["time_s"])
        if np.any(cols["harm_irr"] > cols["harm"] * (1 + 1e-12)):
            raise ValidationError("outcome column harm_irr must be ≤ harm in every row")
        if not isinstance(observed, (bool, np.bool_)):
            raise ValidationError(f"observed must be True or False; got {observed!r}")
        empty = pa.array(np.full(n, "", dtype=object), pa.string())
        columns = {
            "request_id": ids,
            "decision_id": empty
            if decision_id is None
            else _text_column("outcome column decision_id", decision_id, n),
            "candidate": empty
            if candidate is None
            else _text_column("outcome column candidate", candidate, n),
            "time_s": cols["time_s"],
            "quality": cols["quality"],
            "cost_usd": cols["cost_usd"],
            "latency_s": cols["latency_s"],
            "harm": cols["harm"],
            "harm_irr": cols["harm_irr"],
            "harm_events": np.zeros(n, np.int32),
            "observed": np.full(n, bool(observed)),
            "metadata": pa.array(np.full(n, "{}", dtype=object), pa.string()),
        }

        def build(first: int) -> dict[str, pa.Table]:
            seq = {"seq": np.arange(first, first + n, dtype=np.int64)}
            return {"outcomes": pa.table({**seq, **columns}, schema=schema.OUTCOMES)}

        self._write("outcomes", build, writer.outcome_checks)
        return n

    # -- reads ----------------------------------------------------------------------------------
    def count(self, table: str = "decisions") -> int:
        """Rows in ``decisions``, ``candidates``, ``outcomes`` or ``resource_prices``."""
        if table not in schema.TABLES:
            raise ValidationError(f"table must be one of {', '.join(schema.TABLES)}; got {table!r}")
        return int(self._scalar(f"SELECT count(*) FROM {table}"))

    def decisions(self, request_id: str | None = None) -> Iterator[Decision]:
        """The stored decisions (optionally of one request), in append order."""
        where, params = _request_filter(request_id)

        def rows(con: duckdb.DuckDBPyConnection, table: str) -> list[dict[str, Any]]:
            sql = (
                f"SELECT t.* FROM {table} t JOIN (SELECT seq FROM decisions {where}) d "
                f"ON t.decision_seq = d.seq ORDER BY t.decision_seq, t.idx"
            )
            out: list[dict[str, Any]] = con.sql(sql, params=params).to_arrow_table().to_pylist()
            return out

        with self._db.connection() as con:  # read everything, release the file, then build records
            dec = con.sql(f"SELECT * FROM decisions {where} ORDER BY seq", params=params).to_arrow_table()
            cand, res = rows(con, "candidates"), rows(con, "resource_prices")
        yield from self._stored(decisions_from_tables(dec, cand, res))

    def outcomes(self, request_id: str | None = None) -> Iterator[Outcome]:
        """The stored outcomes (optionally of one request), in append order."""
        where, params = _request_filter(request_id)
        with self._db.connection() as con:
            sql = f"SELECT * FROM outcomes {where} ORDER BY seq"
            rows = con.sql(sql, params=params).to_arrow_table().to_pylist()

        def records() -> Iterator[Outcome]:
            for r in rows:
                meta = json.loads(r.pop("metadata"))
                r.pop("seq")
                yield Outcome(**r, metadata=meta)

        yield from self._stored(records())

    def _stored(self, records: Iterator[_R]) -> Iterator[_R]:
        """``records`` as read; a stored one the record checks refuse (a file written by an older
        tokenomy, or edited) is a LedgerError naming the file and what is wrong."""
        try:
            yield from records
        except ValidationError as exc:
            raise LedgerError(f"ledger {self.path!r} holds a record this tokenomy refuses: {exc}") from None

    def regret(self) -> pa.Table:
        """Per decision: realised and ex-post best utility (USD), the best candidate, regret (USD).

        Utilities are ``core.utility_terms`` of each outcome under the decision's prices (``queries``).
        """
        with self._db.connection() as con:
            return queries.decision_regret(con)

    def request_vectors(self) -> pa.Table:
        """Per request: realised (V·Q, ΔC, λΔL, ρΔR) in USD, utility and summed regret."""
        with self._db.connection() as con:
            return queries.request_vectors(con)

    def summary(self) -> dict[str, Any]:
        """Counts and totals for ``tokenomy ledger summary``: rows, layers, welfare and regret."""
        with self._db.connection() as con:
            return self._summary(con)

    def _summary(self, con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
        damaged = damaged_row(con)
        if damaged is not None:
            raise LedgerError(f"ledger {self.path!r}: {damaged}; {DAMAGED}: restore it from a copy")
        layers = dict(con.execute("SELECT layer, count(*) FROM decisions GROUP BY 1 ORDER BY 1").fetchall())
        kinds = dict(con.execute("SELECT kind, count(*) FROM decisions GROUP BY 1 ORDER BY 1").fetchall())
        con.register("_vectors", queries.request_vectors(con))
        try:
            tot = con.execute(
                "SELECT count(*), sum(value_usd), sum(cost_usd), sum(latency_cost_usd), sum(risk_cost_usd),"
                " sum(utility_usd), sum(regret_usd), avg(regret_usd) FROM _vectors"
            ).fetchall()[0]
        finally:
            con.unregister("_vectors")
        keys = (
            "requests",
            "value_usd",
            "cost_usd",
            "latency_cost_usd",
            "risk_cost_usd",
            "welfare_usd",
            "regret_usd",
            "regret_mean_usd",
        )
        totals = {
            k: (float(v) if v is not None and k != "requests" else v) for k, v in zip(keys, tot, strict=True)
        }
        return {
            "path": self.path,
            "schema_version": SCHEMA_VERSION,
            **{t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in schema.TABLES},
            "decisions_by_layer": layers,
            "decisions_by_kind": kinds,
            "totals": totals,
        }

    def export_parquet(self, directory: str | Path) -> dict[str, Path]:
        """Write decisions, candidates, outcomes and resource prices as Parquet files under ``directory``."""
        if not isinstance(directory, (str, Path)) or str(directory) == "" or path_text_problem(directory):
            raise ValidationError(f"export directory must be a non-empty str or Path; got {directory!r}")
        problem = path_problem(directory, "dir")
        if problem:
            raise LedgerError(f"export directory {str(directory)!r} {problem}; give a folder (or a new one)")
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        paths = {}
        order = {"candidates": "decision_seq, idx", "resource_prices": "decision_seq, idx"}
        with self._db.connection() as con:
            for table in schema.TABLES:
                p = out / f"{table}.parquet"
                target = str(p).replace("'", "''")  # a quote in a folder name is a quote, not SQL
                con.execute(
                    f"COPY (SELECT * FROM {table} ORDER BY {order.get(table, 'seq')}) TO '{target}' "
                    "(FORMAT PARQUET)"
                )
                paths[table] = p
        return paths
