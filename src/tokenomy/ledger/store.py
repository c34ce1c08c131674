"""The ledger store: decisions and outcomes in an embedded DuckDB file (``:memory:`` for tests).

Opening a file creates the schema, migrates a version-1 file to version 2 or refuses a newer one
(``migrate``). A decision spans three tables: its row, its candidates and its resource prices.

Every append is one transaction: records are validated first, then written together, and any error
rolls the whole batch back (nothing half-written) and raises ``LedgerError``. Outcomes must refer to a
request (and, when given, a decision) already in the ledger. Parquet export writes one file per table.
Queries: ``regret()`` per decision and ``request_vectors()`` per request (see ``queries``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
from numpy.typing import ArrayLike, NDArray

from tokenomy.core._checks import check_finite_array, check_nonneg_array
from tokenomy.core.errors import LedgerError, TokenomyError, ValidationError
from tokenomy.ledger import queries, schema
from tokenomy.ledger.batch import DecisionBatch
from tokenomy.ledger.migrate import open_schema
from tokenomy.ledger.records import SCHEMA_VERSION, Decision, Outcome
from tokenomy.ledger.tables import decision_tables, decisions_from_tables
from tokenomy.ledger.tables import metadata_json as _json

__all__ = ["Ledger"]


class Ledger:
    """One ledger: an embedded DuckDB database holding decisions, candidates and outcomes.

    Args:
        path: a database file (created if absent) or ``":memory:"``.
        read_only: open an existing file without the right to write.

    Attributes:
        COLUMN_UNITS: the unit of every priced or measured column; "table.column" -> unit.

    Raises:
        LedgerError: the file holds a newer or unreadable schema version, a version-1 file is opened
            read-only (open it once for writing to migrate it), or the file cannot be opened.
    """

    COLUMN_UNITS: Mapping[str, str] = schema.COLUMN_UNITS

    def __init__(self, path: str | Path = ":memory:", *, read_only: bool = False) -> None:
        self.path = str(path)
        try:
            self._con = duckdb.connect(self.path, read_only=read_only)
        except duckdb.Error as exc:
            raise LedgerError(f"cannot open ledger {self.path!r}: {exc}") from None
        self._con.execute("SET enable_progress_bar = false")  # a library does not draw on the terminal
        try:
            open_schema(self._con, self.path, read_only=read_only)
        except LedgerError:
            self._con.close()
            raise
        self._next_seq = int(self._scalar("SELECT coalesce(max(seq), -1) + 1 FROM decisions"))
        self._next_outcome = int(self._scalar("SELECT coalesce(max(seq), -1) + 1 FROM outcomes"))

    # -- context management -------------------------------------------------------------------
    def close(self) -> None:
        """Close the database (a file ledger is durable once closed)."""
        self._con.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _scalar(self, sql: str, params: list[Any] | None = None) -> Any:
        rows = self._con.execute(sql, params or []).fetchall()
        return rows[0][0] if rows else None

    # -- writes ---------------------------------------------------------------------------------
    def _transaction(self, tables: dict[str, pa.Table], checks: Iterable[tuple[str, str]] = ()) -> None:
        con = self._con
        con.execute("BEGIN TRANSACTION")
        try:
            for name, table in tables.items():
                con.register("_batch", table)
                con.execute(f"INSERT INTO {name} SELECT * FROM _batch")
                con.unregister("_batch")
            for sql, message in checks:
                bad = con.execute(sql).fetchall()
                if bad:
                    raise LedgerError(message.format(*bad[0]))
            con.execute("COMMIT")
        except BaseException as exc:
            con.execute("ROLLBACK")
            if isinstance(exc, TokenomyError):
                raise
            raise LedgerError(f"append to {self.path!r} failed, nothing written: {exc}") from exc

    def _check_ids(self, ids: list[str], first_seq: int) -> None:
        if len(set(ids)) != len(ids):
            seen: set[str] = set()
            dup = next(i for i in ids if i in seen or seen.add(i))  # type: ignore[func-returns-value]
            raise LedgerError(f"decision_id {dup!r} appears twice in the batch; nothing written")
        del first_seq

    def append(self, decisions: Iterable[Decision]) -> list[str]:
        """Append decisions in one transaction and return their decision ids.

        Raises:
            ValidationError: a record is not a Decision.
            LedgerError: a decision_id is already in the ledger or repeated; nothing is written.
        """
        rows = list(decisions)
        for i, d in enumerate(rows):
            if not isinstance(d, Decision):
                raise ValidationError(f"record {i} of the batch is a {type(d).__name__}, not a Decision")
        n = len(rows)
        if n == 0:
            return []
        first = self._next_seq
        seqs = range(first, first + n)
        ids = [d.decision_id or f"d{s}" for d, s in zip(rows, seqs, strict=True)]
        self._check_ids(ids, first)
        dec, cand, res = decision_tables(rows, ids, first)
        self._write_decisions(dec, cand, res, first)
        self._next_seq = first + n
        return ids

    def append_batch(self, batch: DecisionBatch) -> range:
        """Append a columnar batch in one transaction; return the sequence numbers written."""
        batch.validate()
        first = self._next_seq
        dec, cand, res = batch.to_tables(first)
        self._write_decisions(dec, cand, res, first)
        self._next_seq = first + len(batch)
        return range(first, self._next_seq)

    def _write_decisions(self, dec: pa.Table, cand: pa.Table, res: pa.Table, first: int) -> None:
        check = (
            f"SELECT decision_id FROM decisions WHERE seq < {first} AND decision_id IN "
            f"(SELECT decision_id FROM decisions WHERE seq >= {first}) LIMIT 1",
            "decision_id {!r} is already in the ledger; nothing written",
        )
        tables = {"decisions": dec, "candidates": cand}
        if res.num_rows:
            tables["resource_prices"] = res
        self._transaction(tables, [check] if first > 0 else [])

    def append_outcomes(self, outcomes: Iterable[Outcome]) -> int:
        """Append outcomes in one transaction; return how many were written.

        Raises:
            LedgerError: an outcome names a request or decision the ledger does not hold; nothing written.
        """
        rows = list(outcomes)
        for i, o in enumerate(rows):
            if not isinstance(o, Outcome):
                raise ValidationError(f"record {i} of the batch is a {type(o).__name__}, not an Outcome")
        if not rows:
            return 0
        first = self._next_outcome
        table = pa.table(
            {
                "seq": list(range(first, first + len(rows))),
                **{
                    f: [getattr(o, f) for o in rows]
                    for f in (
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
                },
                "metadata": [_json(o.metadata, f"outcome for {o.request_id!r}") for o in rows],
            },
            schema=schema.OUTCOMES,
        )
        self._transaction({"outcomes": table}, self._outcome_checks(first))
        self._next_outcome = first + len(rows)
        return len(rows)

    @staticmethod
    def _outcome_checks(first: int) -> list[tuple[str, str]]:
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
        ]

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
            LedgerError: an unknown request or decision; nothing written.
        """
        n = len(request_id)
        cols: dict[str, NDArray[np.float64]] = {}
        for name, val, check in (
            ("quality", quality, check_finite_array),
            ("cost_usd", cost_usd, check_nonneg_array),
            ("latency_s", latency_s, check_nonneg_array),
            ("harm", harm, check_nonneg_array),
            ("harm_irr", harm_irr, check_nonneg_array),
            ("time_s", time_s, check_finite_array),
        ):
            arr = np.broadcast_to(check(f"outcome column {name}", val), (n,))
            cols[name] = np.ascontiguousarray(arr, dtype=np.float64)
        if np.any(cols["harm_irr"] > cols["harm"] * (1 + 1e-12)):
            raise ValidationError("outcome column harm_irr must be ≤ harm in every row")
        ids = np.asarray(request_id, dtype=object)
        if any(not isinstance(x, str) or not x for x in ids):
            raise ValidationError("outcome column request_id must hold non-empty strings")
        first = self._next_outcome
        empty = pa.array(np.full(n, "", dtype=object), pa.string())
        for name, col in (("candidate", candidate), ("decision_id", decision_id)):
            if col is not None and len(col) != n:
                raise ValidationError(
                    f"outcome column {name} has {len(col)} entries; expected {n} (one per row)"
                )
        table = pa.table(
            {
                "seq": np.arange(first, first + n, dtype=np.int64),
                "request_id": pa.array(ids, pa.string()),
                "decision_id": empty
                if decision_id is None
                else pa.array(np.asarray(decision_id, dtype=object), pa.string()),
                "candidate": empty
                if candidate is None
                else pa.array(np.asarray(candidate, dtype=object), pa.string()),
                "time_s": cols["time_s"],
                "quality": cols["quality"],
                "cost_usd": cols["cost_usd"],
                "latency_s": cols["latency_s"],
                "harm": cols["harm"],
                "harm_irr": cols["harm_irr"],
                "harm_events": np.zeros(n, np.int32),
                "observed": np.full(n, observed),
                "metadata": pa.array(np.full(n, "{}", dtype=object), pa.string()),
            },
            schema=schema.OUTCOMES,
        )
        self._transaction({"outcomes": table}, self._outcome_checks(first))
        self._next_outcome = first + n
        return n

    # -- reads ----------------------------------------------------------------------------------
    def count(self, table: str = "decisions") -> int:
        """Rows in ``decisions``, ``candidates``, ``outcomes`` or ``resource_prices``."""
        if table not in schema.TABLES:
            raise ValidationError(f"table must be one of {', '.join(schema.TABLES)}; got {table!r}")
        return int(self._scalar(f"SELECT count(*) FROM {table}"))

    def decisions(self, request_id: str | None = None) -> Iterator[Decision]:
        """The stored decisions (optionally of one request), in append order."""
        where, params = ("WHERE request_id = ?", [request_id]) if request_id is not None else ("", [])
        dec = self._con.sql(f"SELECT * FROM decisions {where} ORDER BY seq", params=params).to_arrow_table()

        def rows(table: str, order: str) -> list[dict[str, Any]]:
            sql = (
                f"SELECT t.* FROM {table} t JOIN (SELECT seq FROM decisions {where}) d "
                f"ON t.decision_seq = d.seq ORDER BY t.decision_seq, t.{order}"
            )
            out: list[dict[str, Any]] = self._con.sql(sql, params=params).to_arrow_table().to_pylist()
            return out

        yield from decisions_from_tables(dec, rows("candidates", "idx"), rows("resource_prices", "idx"))

    def outcomes(self, request_id: str | None = None) -> Iterator[Outcome]:
        """The stored outcomes (optionally of one request), in append order."""
        where, params = ("WHERE request_id = ?", [request_id]) if request_id is not None else ("", [])
        for r in (
            self._con.sql(f"SELECT * FROM outcomes {where} ORDER BY seq", params=params)
            .to_arrow_table()
            .to_pylist()
        ):
            meta = json.loads(r.pop("metadata"))
            r.pop("seq")
            yield Outcome(**r, metadata=meta)

    def regret(self) -> pa.Table:
        """Per decision: realised and ex-post best utility (USD), the best candidate, regret (USD).

        Utilities are ``core.utility_terms`` of each outcome under the decision's prices (``queries``).
        """
        return queries.decision_regret(self._con)

    def request_vectors(self) -> pa.Table:
        """Per request: realised (V·Q, ΔC, λΔL, ρΔR) in USD, utility and summed regret."""
        return queries.request_vectors(self._con)

    def summary(self) -> dict[str, Any]:
        """Counts and totals for ``tokenomy ledger summary``: rows, layers, welfare and regret."""
        con = self._con
        layers = dict(con.execute("SELECT layer, count(*) FROM decisions GROUP BY 1 ORDER BY 1").fetchall())
        kinds = dict(con.execute("SELECT kind, count(*) FROM decisions GROUP BY 1 ORDER BY 1").fetchall())
        con.register("_vectors", self.request_vectors())
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
            "decisions": self.count("decisions"),
            "candidates": self.count("candidates"),
            "outcomes": self.count("outcomes"),
            "resource_prices": self.count("resource_prices"),
            "decisions_by_layer": layers,
            "decisions_by_kind": kinds,
            "totals": totals,
        }

    def export_parquet(self, directory: str | Path) -> dict[str, Path]:
        """Write decisions, candidates, outcomes and resource prices as Parquet files under ``directory``."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        paths = {}
        order = {"candidates": "decision_seq, idx", "resource_prices": "decision_seq, idx"}
        for table in schema.TABLES:
            p = out / f"{table}.parquet"
            self._con.execute(
                f"COPY (SELECT * FROM {table} ORDER BY {order.get(table, 'seq')}) TO '{p}' (FORMAT PARQUET)"
            )
            paths[table] = p
        return paths
