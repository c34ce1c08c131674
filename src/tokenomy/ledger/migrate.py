"""Opening a ledger file at the right schema version: create, migrate version 1 to 2, or refuse.

``open_schema`` is what ``Ledger`` runs when it opens a database. A new database gets the version-2
tables. A version-1 file opened for writing is migrated in one transaction (nothing is half-migrated:
any error rolls it back and raises ``LedgerError``); read-only, it is refused with a message saying to
open it once for writing. A file written by a newer tokenomy, or with a version this code cannot read,
is refused with ``LedgerError``, never read.

The migration from version 1 (docs/ledger.md, Migration from version 1):

1. ``decisions`` gains ``kind`` (inferred from layer and decision point by ``kinds.infer_kind``, the
   rule new rows use; ``unknown`` where it cannot be inferred) and ``prices_time_s`` (NULL: version 1
   did not store it); the ``resource_prices`` table is created.
2. Serving eviction rows (layer supply, kind ``evict``, metadata holding ``kv_usd_per_block_s`` equal to
   ``v_usd`` and ``prefill_usd_per_token``) had the KV block-second price in ``v_usd``. It moves to a
   ``kv_block_second`` resource price (its source kept), the prefill price to a ``prefill_token`` one,
   both timed at the decision; ``v_usd`` becomes 0 (source ``default``: no quality is at stake). The
   candidates are restated as ``serving.decisions.eviction_decisions`` writes them: ΔQ = 0,
   ΔC = (best evict surplus) − (this candidate's evict surplus), surplus = −ΔC. The version-1 terms
   stay in the metadata: ``hold_cost_usd`` (p_kv·E·τ, the old V·ΔQ), ``reuse_value_usd`` (the old ΔC)
   and ``evict_surplus_usd`` (the old surplus).
3. Serving speculation rows (layer supply, kind ``speculate``, candidates ``plain`` and ``speculate``
   with ΔQ = 1) had the mean V per output token in ``v_usd``; the workload's V that version 2 records
   is not in a version-1 row, so the per-token value moves to metadata ``v_usd_per_token``, ``v_usd``
   becomes 0 (source ``default``), each candidate's ΔQ becomes 0 and its surplus −ΔC − λ·ΔL (Eq. 1
   at the restated prices; the old surplus is it plus ``v_usd_per_token``).
4. Any other supply row of kind ``evict`` or ``speculate`` (not of the shapes above) keeps its values
   and is flagged with metadata ``v1_v_usd_unverified: true``. Every restated or flagged row gets
   metadata ``migrated_from_version: 1``. Order and admission rows already held V and are unchanged.
5. ``meta`` gets ``schema_version = 2``, ``migrated_from_version = 1`` and ``migration_v1_to_v2``
   (JSON counts of what was inferred, moved and flagged).
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pyarrow as pa

from tokenomy.core.errors import LedgerError, ValidationError
from tokenomy.core.prices import KV_BLOCK_SECOND, PREFILL_TOKEN
from tokenomy.ledger import schema
from tokenomy.ledger.files import NOT_A_LEDGER, check_ledger_path
from tokenomy.ledger.kinds import UNKNOWN, infer_kind
from tokenomy.ledger.layers import as_layer
from tokenomy.ledger.locking import connect, interrupts
from tokenomy.ledger.records import SCHEMA_VERSION

__all__ = ["check_file", "check_is_ledger", "check_tables", "migrate_v1", "open_schema", "stored_version"]


def stored_version(con: duckdb.DuckDBPyConnection) -> str | None:
    """The ``schema_version`` stored in ``meta``, or None when the database has no ``meta`` table."""
    has_meta = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'meta'"
    ).fetchall()[0][0]
    if not has_meta:
        return None
    rows = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall()
    return str(rows[0][0]) if rows else None


def _table_count(con: duckdb.DuckDBPyConnection) -> int:
    return int(
        con.execute(
            "SELECT count(*) FROM information_schema.tables "
            "WHERE table_schema NOT IN ('information_schema', 'pg_catalog')"
        ).fetchall()[0][0]
    )


def check_is_ledger(con: duckdb.DuckDBPyConnection, path: str) -> None:
    """Refuse a database that holds tables but no tokenomy schema version (read only: changes nothing).

    An empty database passes: ``open_schema`` creates a ledger in it.

    Raises:
        LedgerError: the database has tables and no ``meta.schema_version`` (it is not a tokenomy ledger).
    """
    try:
        version = stored_version(con)
    except duckdb.Error:
        version = None  # a ``meta`` table of some other shape: not ours
    if version is None and _table_count(con):
        raise LedgerError(
            f"{path}: {NOT_A_LEDGER} (a DuckDB database with tables but no tokenomy schema version, "
            "meta.schema_version); it was left unmodified"
        )


_SCHEMAS = {
    "decisions": schema.DECISIONS,
    "candidates": schema.CANDIDATES,
    "outcomes": schema.OUTCOMES,
    "resource_prices": schema.RESOURCE_PRICES,
}


def check_tables(con: duckdb.DuckDBPyConnection, path: str) -> None:
    """Refuse a version-2 ledger that lacks a table or a column of the schema (a damaged file).

    Raises:
        LedgerError: naming the file and the first missing table or ``table.column``.
    """
    rows = con.execute(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_catalog = current_database() AND table_schema = 'main'"
    ).fetchall()
    have: dict[str, set[str]] = {}
    for table, column in rows:
        have.setdefault(str(table), set()).add(str(column))
    for table, columns in _SCHEMAS.items():
        if table not in have:
            raise LedgerError(
                f"ledger {path!r}: table {table} missing (schema version {SCHEMA_VERSION} expected); "
                "the file is damaged: restore it from a copy"
            )
        for field in columns:
            if field.name not in have[table]:
                raise LedgerError(
                    f"ledger {path!r}: column {table}.{field.name} missing (schema version "
                    f"{SCHEMA_VERSION} expected); the file is damaged: restore it from a copy"
                )


def check_file(path: str, *, lock_timeout_s: float = 30.0) -> None:
    """Look at a ledger file before a command's work, changing nothing: refuse what ``Ledger`` would.

    An absent or empty file passes (a ledger is created there); so does a version-1 file (migrated when
    opened for writing). Refused: a path that is not a regular file, a DuckDB file that is not a ledger,
    an unreadable or newer schema version, a version-2 file lacking a table or a column.

    Raises:
        LedgerError: naming the file and what is wrong.
        KeyboardInterrupt: Ctrl-C arrived during a query (DuckDB reports it as a RuntimeError).
    """
    check_ledger_path(path, read_only=False)
    file = Path(path)
    if not file.is_file() or file.stat().st_size == 0:
        return
    with interrupts():  # Ctrl-C during one of these queries is an interrupt, not DuckDB's RuntimeError
        con = connect(path, read_only=True, timeout_s=lock_timeout_s)
        try:
            check_is_ledger(con, path)
            version = stored_version(con)
            if version not in (None, "1", str(SCHEMA_VERSION)):
                raise LedgerError(
                    f"ledger {path!r} has schema version {version!r}; this tokenomy reads versions 1 to "
                    f"{SCHEMA_VERSION}"
                )
            if version == str(SCHEMA_VERSION):
                check_tables(con, path)
        finally:
            con.close()


def open_schema(con: duckdb.DuckDBPyConnection, path: str, *, read_only: bool) -> None:
    """Bring the database on ``con`` to ``SCHEMA_VERSION`` (create or migrate), or refuse it.

    Raises:
        LedgerError: the file holds a newer or unreadable version, is a version-1 file opened read-only,
            is not a ledger (tables but no schema version, or read-only and empty), lacks a table or
            a column (``check_tables``), or the migration failed (nothing was changed).
    """
    check_is_ledger(con, path)
    version = stored_version(con)
    if version is None:
        if read_only:
            raise LedgerError(f"{path}: {NOT_A_LEDGER} (a DuckDB database with no tokenomy tables)")
        for stmt in schema.DDL:
            con.execute(stmt)
        con.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)])
        return
    try:
        number = int(version)
    except ValueError:
        number = -1
    if number > SCHEMA_VERSION:
        raise LedgerError(
            f"ledger {path!r} has schema version {version}, written by a newer tokenomy; this tokenomy "
            f"reads versions 1 to {SCHEMA_VERSION}: upgrade tokenomy to read it"
        )
    if number not in (1, SCHEMA_VERSION):
        raise LedgerError(
            f"ledger {path!r} has schema version {version!r}; this tokenomy reads versions 1 to {SCHEMA_VERSION}"
        )
    if number == 1:
        if read_only:
            raise LedgerError(
                f"ledger {path!r} has schema version 1; open it once without read_only to migrate it "
                f"to version {SCHEMA_VERSION}"
            )
        migrate_v1(con, path)
    check_tables(con, path)


def _kind_table(con: duckdb.DuckDBPyConnection) -> pa.Table:
    pairs = con.execute("SELECT DISTINCT layer, decision_point FROM decisions").fetchall()
    kinds = []
    for layer, point in pairs:
        try:
            kinds.append(infer_kind(as_layer(layer), str(point)) or UNKNOWN)
        except ValidationError:
            kinds.append(UNKNOWN)
    return pa.table(
        {"layer": [p[0] for p in pairs], "decision_point": [p[1] for p in pairs], "kind": kinds},
        schema=pa.schema([("layer", pa.string()), ("decision_point", pa.string()), ("kind", pa.string())]),
    )


_EVICT = """
CREATE TEMP TABLE _evict AS
SELECT seq FROM decisions
WHERE layer = 'supply' AND kind = 'evict'
  AND json_extract_string(metadata, '$.prefill_usd_per_token') IS NOT NULL
  AND abs(v_usd - json_extract_string(metadata, '$.kv_usd_per_block_s')::DOUBLE)
      <= 1e-12 * greatest(1.0, abs(v_usd))
"""

_SPECULATE = """
CREATE TEMP TABLE _speculate AS
SELECT d.seq FROM decisions d JOIN candidates c ON c.decision_seq = d.seq
WHERE d.layer = 'supply' AND d.kind = 'speculate' AND d.n_candidates = 2
GROUP BY d.seq
HAVING count(*) = 2 AND bool_and(c.dq = 1.0) AND list_sort(list(c.name)) = ['plain', 'speculate']
"""

_MIGRATE_EVICT = [
    f"""INSERT INTO resource_prices
    SELECT seq, 0, decision_id, '{KV_BLOCK_SECOND}', v_usd, 'block·s', v_source, time_s
    FROM decisions WHERE seq IN (SELECT seq FROM _evict)""",
    f"""INSERT INTO resource_prices
    SELECT seq, 1, decision_id, '{PREFILL_TOKEN}',
           json_extract_string(metadata, '$.prefill_usd_per_token')::DOUBLE, 'token', 'discovered', time_s
    FROM decisions WHERE seq IN (SELECT seq FROM _evict)""",
    """UPDATE decisions SET metadata = json_merge_patch(metadata, json_object(
         'hold_cost_usd', to_json(x.hold), 'reuse_value_usd', to_json(x.reuse),
         'evict_surplus_usd', to_json(x.surplus), 'migrated_from_version', 1))
    FROM (SELECT c.decision_seq AS s, list(d.v_usd * c.dq ORDER BY c.idx) AS hold,
                 list(c.dc_usd ORDER BY c.idx) AS reuse, list(c.surplus_usd ORDER BY c.idx) AS surplus
          FROM candidates c JOIN decisions d ON d.seq = c.decision_seq
          WHERE c.decision_seq IN (SELECT seq FROM _evict) GROUP BY c.decision_seq) x
    WHERE decisions.seq = x.s""",
    """UPDATE candidates SET dq = 0.0, dc_usd = x.best - candidates.surplus_usd,
                             surplus_usd = candidates.surplus_usd - x.best
    FROM (SELECT decision_seq AS s, max(surplus_usd) AS best FROM candidates
          WHERE decision_seq IN (SELECT seq FROM _evict) GROUP BY decision_seq) x
    WHERE candidates.decision_seq = x.s""",
    "UPDATE decisions SET v_usd = 0.0, v_source = 'default' WHERE seq IN (SELECT seq FROM _evict)",
]

_MIGRATE_SPECULATE = [
    """UPDATE decisions SET metadata = json_merge_patch(metadata, json_object(
         'v_usd_per_token', v_usd, 'migrated_from_version', 1))
    WHERE seq IN (SELECT seq FROM _speculate)""",
    """UPDATE candidates SET dq = 0.0, surplus_usd = candidates.surplus_usd - x.v
    FROM (SELECT seq AS s, v_usd AS v FROM decisions WHERE seq IN (SELECT seq FROM _speculate)) x
    WHERE candidates.decision_seq = x.s""",
    "UPDATE decisions SET v_usd = 0.0, v_source = 'default' WHERE seq IN (SELECT seq FROM _speculate)",
]

_FLAG = """
UPDATE decisions SET metadata = json_merge_patch(metadata, json_object(
    'v1_v_usd_unverified', true, 'migrated_from_version', 1))
WHERE layer = 'supply' AND kind IN ('evict', 'speculate')
  AND seq NOT IN (SELECT seq FROM _evict) AND seq NOT IN (SELECT seq FROM _speculate)
"""


def migrate_v1(con: duckdb.DuckDBPyConnection, path: str) -> dict[str, int]:
    """Migrate a version-1 ledger on ``con`` to version 2 in one transaction (module docstring).

    Returns:
        Counts of what the migration did; key -> count (also stored in ``meta.migration_v1_to_v2``).

    Raises:
        LedgerError: any step failed; the transaction is rolled back and the file is unchanged.
    """

    def count(sql: str) -> int:
        return int(con.execute(sql).fetchall()[0][0])

    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("ALTER TABLE decisions ADD COLUMN kind VARCHAR")
        con.execute("ALTER TABLE decisions ADD COLUMN prices_time_s DOUBLE")
        for stmt in schema.DDL:
            con.execute(stmt)  # creates resource_prices; the other tables exist
        con.register("_kinds", _kind_table(con))
        con.execute(
            "UPDATE decisions SET kind = k.kind FROM _kinds k "
            "WHERE decisions.layer = k.layer AND decisions.decision_point = k.decision_point"
        )
        con.unregister("_kinds")
        con.execute("UPDATE decisions SET kind = ? WHERE kind IS NULL", [UNKNOWN])
        con.execute(_EVICT)
        con.execute(_SPECULATE)
        for stmt in _MIGRATE_EVICT + _MIGRATE_SPECULATE:
            con.execute(stmt)
        report = {
            "decisions": count("SELECT count(*) FROM decisions"),
            "kind_unknown": count(f"SELECT count(*) FROM decisions WHERE kind = '{UNKNOWN}'"),
            "evict_restated": count("SELECT count(*) FROM _evict"),
            "speculate_restated": count("SELECT count(*) FROM _speculate"),
            "resource_prices_written": count("SELECT count(*) FROM resource_prices"),
        }
        con.execute(_FLAG)
        report["flagged_unverified"] = count(
            "SELECT count(*) FROM decisions WHERE json_extract(metadata, '$.v1_v_usd_unverified') IS NOT NULL"
        )
        con.execute("DROP TABLE _evict")
        con.execute("DROP TABLE _speculate")
        con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", [str(SCHEMA_VERSION)])
        con.execute("INSERT OR REPLACE INTO meta VALUES ('migrated_from_version', '1')")
        con.execute(
            "INSERT OR REPLACE INTO meta VALUES ('migration_v1_to_v2', ?)",
            [json.dumps(report, sort_keys=True)],
        )
        con.execute("COMMIT")
    except (duckdb.Error, ValidationError) as exc:
        con.execute("ROLLBACK")
        raise LedgerError(
            f"migrating ledger {path!r} from schema version 1 failed, nothing changed: {exc}"
        ) from exc
    return report
