"""The ledger store: decisions and outcomes in an embedded DuckDB file (``:memory:`` for tests).

Every append is one transaction: records are validated first, then written together, and any error
rolls the whole batch back (nothing half-written) and raises ``LedgerError``. Outcomes must refer to a
request (and, when given, a decision) already in the ledger. Parquet export writes one file per table.
Queries: ``regret()`` per decision and ``request_vectors()`` per request (see ``queries``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
from numpy.typing import ArrayLike, NDArray

from tokenomy.core._checks import check_finite_array, check_nonneg_array
from tokenomy.core.errors import LedgerError, TokenomyError, ValidationError
from tokenomy.core.prices import PriceVector
from tokenomy.ledger import queries, schema
from tokenomy.ledger.batch import DecisionBatch
from tokenomy.ledger.records import SCHEMA_VERSION, Candidate, Decision, Layer, Outcome

__all__ = ["Ledger"]


def _json(meta: Any, where: str) -> str:
    try:
        return json.dumps(dict(meta), sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"metadata of {where} must be JSON-serialisable: {exc}") from None


class Ledger:
    """One ledger: an embedded DuckDB database holding decisions, candidates and outcomes.

    Args:
        path: a database file (created if absent) or ``":memory:"``.
        read_only: open an existing file without the right to write.

    Raises:
        LedgerError: the file exists but holds another schema version, or cannot be opened.
    """

    def __init__(self, path: str | Path = ":memory:", *, read_only: bool = False) -> None:
        self.path = str(path)
        try:
            self._con = duckdb.connect(self.path, read_only=read_only)
        except duckdb.Error as exc:
            raise LedgerError(f"cannot open ledger {self.path!r}: {exc}") from None
        self._con.execute("SET enable_progress_bar = false")  # a library does not draw on the terminal
        if not read_only:
            for stmt in schema.DDL:
                self._con.execute(stmt)
            self._con.execute(
                "INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)]
            )
        version = self._scalar("SELECT value FROM meta WHERE key = 'schema_version'")
        if version != str(SCHEMA_VERSION):
            raise LedgerError(
                f"ledger {self.path!r} has schema version {version!r}; this tokenomy reads {SCHEMA_VERSION}"
            )
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
        prices = [d.prices for d in rows]
        dec = pa.table(
            {
                "seq": list(seqs),
                "decision_id": ids,
                "time_s": [d.time_s for d in rows],
                "request_id": [d.request_id for d in rows],
                "tenant": [d.tenant for d in rows],
                "layer": [d.layer.value for d in rows],
                "decision_point": [d.decision_point for d in rows],
                "chosen_index": [d.chosen for d in rows],
                "chosen_name": [d.chosen_name for d in rows],
                "n_candidates": [len(d.candidates) for d in rows],
                "propensity": [d.propensity for d in rows],
                "v_usd": [p.v_usd for p in prices],
                "lam_usd_per_s": [p.lam_usd_per_s for p in prices],
                "rho_usd": [p.rho_usd for p in prices],
                "rho_irr_usd": [p.rho_irr for p in prices],
                "v_source": [p.v_source.value for p in prices],
                "lam_source": [p.lam_source.value for p in prices],
                "rho_source": [p.rho_source.value for p in prices],
                "rho_irr_source": [p.rho_irr_source.value for p in prices],
                "metadata": [_json(d.metadata, f"decision {i}") for i, d in zip(ids, rows, strict=True)],
            },
            schema=schema.DECISIONS,
        )
        cands = [(s, j, c) for s, d in zip(seqs, rows, strict=True) for j, c in enumerate(d.candidates)]
        cand = pa.table(
            {
                "decision_seq": [s for s, _, _ in cands],
                "idx": [j for _, j, _ in cands],
                **{
                    f: [getattr(c, f) for _, _, c in cands]
                    for f in ("name", "dq", "dc_usd", "dl_s", "dr", "dr_irr", "surplus_usd")
                },
            },
            schema=schema.CANDIDATES,
        )
        self._write_decisions(dec, cand, first)
        self._next_seq = first + n
        return ids

    def append_batch(self, batch: DecisionBatch) -> range:
        """Append a columnar batch in one transaction; return the sequence numbers written."""
        batch.validate()
        first = self._next_seq
        dec, cand = batch.to_tables(first)
        self._write_decisions(dec, cand, first)
        self._next_seq = first + len(batch)
        return range(first, self._next_seq)

    def _write_decisions(self, dec: pa.Table, cand: pa.Table, first: int) -> None:
        check = (
            f"SELECT decision_id FROM decisions WHERE seq < {first} AND decision_id IN "
            f"(SELECT decision_id FROM decisions WHERE seq >= {first}) LIMIT 1",
            "decision_id {!r} is already in the ledger; nothing written",
        )
        self._transaction({"decisions": dec, "candidates": cand}, [check] if first > 0 else [])

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
        """Rows in ``decisions``, ``candidates`` or ``outcomes``."""
        if table not in ("decisions", "candidates", "outcomes"):
            raise ValidationError(f"table must be decisions, candidates or outcomes; got {table!r}")
        return int(self._scalar(f"SELECT count(*) FROM {table}"))

    def decisions(self, request_id: str | None = None) -> Iterator[Decision]:
        """The stored decisions (optionally of one request), in append order."""
        where, params = ("WHERE request_id = ?", [request_id]) if request_id is not None else ("", [])
        dec = self._con.sql(f"SELECT * FROM decisions {where} ORDER BY seq", params=params).to_arrow_table()
        cand = (
            self._con.sql(
                f"SELECT c.* FROM candidates c JOIN (SELECT seq FROM decisions {where}) d ON c.decision_seq = d.seq "
                "ORDER BY c.decision_seq, c.idx",
                params=params,
            )
            .to_arrow_table()
            .to_pylist()
        )
        by_seq: dict[int, list[Candidate]] = {}
        for c in cand:
            by_seq.setdefault(c["decision_seq"], []).append(
                Candidate(c["name"], c["dq"], c["dc_usd"], c["dl_s"], c["dr"], c["dr_irr"], c["surplus_usd"])
            )
        for r in dec.to_pylist():
            prices = PriceVector(
                r["v_usd"],
                r["lam_usd_per_s"],
                r["rho_usd"],
                r["rho_irr_usd"],
                r["v_source"],
                r["lam_source"],
                r["rho_source"],
                r["rho_irr_source"],
            )
            yield Decision(
                r["request_id"],
                Layer(r["layer"]),
                r["decision_point"],
                tuple(by_seq.get(r["seq"], ())),
                r["chosen_index"],
                prices,
                r["time_s"],
                r["tenant"],
                r["decision_id"],
                r["propensity"],
                json.loads(r["metadata"]),
            )

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
        """Per decision: realised and ex-post best utility (USD), the best candidate, regret (USD)."""
        return self._con.sql(queries.DECISION_REGRET).to_arrow_table()

    def request_vectors(self) -> pa.Table:
        """Per request: realised (V·Q, ΔC, λΔL, ρΔR) in USD, utility and summed regret."""
        return self._con.sql(queries.REQUEST_VECTORS).to_arrow_table()

    def summary(self) -> dict[str, Any]:
        """Counts and totals for ``tokenomy ledger summary``: rows, layers, welfare and regret."""
        con = self._con
        layers = dict(con.execute("SELECT layer, count(*) FROM decisions GROUP BY 1 ORDER BY 1").fetchall())
        tot = con.execute(
            "SELECT count(*), sum(value_usd), sum(cost_usd), sum(latency_cost_usd), sum(risk_cost_usd),"
            " sum(utility_usd), sum(regret_usd), avg(regret_usd) FROM (" + queries.REQUEST_VECTORS + ")"
        ).fetchall()[0]
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
            "decisions_by_layer": layers,
            "totals": totals,
        }

    def export_parquet(self, directory: str | Path) -> dict[str, Path]:
        """Write decisions, candidates and outcomes as Parquet files under ``directory``."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        paths = {}
        for table in ("decisions", "candidates", "outcomes"):
            p = out / f"{table}.parquet"
            self._con.execute(
                f"COPY (SELECT * FROM {table} ORDER BY seq) TO '{p}' (FORMAT PARQUET)"
                if table != "candidates"
                else f"COPY (SELECT * FROM candidates ORDER BY decision_seq, idx) TO '{p}' (FORMAT PARQUET)"
            )
            paths[table] = p
        return paths
