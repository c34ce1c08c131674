"""The ledger's storage schema (version 1), as DuckDB DDL and Arrow schemas. Documented in docs/ledger.md."""

from __future__ import annotations

import pyarrow as pa

from tokenomy.ledger.records import SCHEMA_VERSION

__all__ = ["CANDIDATES", "DDL", "DECISIONS", "OUTCOMES", "SCHEMA_VERSION"]

DECISIONS = pa.schema(
    [
        ("seq", pa.int64()),
        ("decision_id", pa.string()),
        ("time_s", pa.float64()),
        ("request_id", pa.string()),
        ("tenant", pa.string()),
        ("layer", pa.string()),
        ("decision_point", pa.string()),
        ("chosen_index", pa.int32()),
        ("chosen_name", pa.string()),
        ("n_candidates", pa.int32()),
        ("propensity", pa.float64()),
        ("v_usd", pa.float64()),
        ("lam_usd_per_s", pa.float64()),
        ("rho_usd", pa.float64()),
        ("rho_irr_usd", pa.float64()),
        ("v_source", pa.string()),
        ("lam_source", pa.string()),
        ("rho_source", pa.string()),
        ("rho_irr_source", pa.string()),
        ("metadata", pa.string()),
    ]
)

CANDIDATES = pa.schema(
    [
        ("decision_seq", pa.int64()),
        ("idx", pa.int32()),
        ("name", pa.string()),
        ("dq", pa.float64()),
        ("dc_usd", pa.float64()),
        ("dl_s", pa.float64()),
        ("dr", pa.float64()),
        ("dr_irr", pa.float64()),
        ("surplus_usd", pa.float64()),
    ]
)

OUTCOMES = pa.schema(
    [
        ("seq", pa.int64()),
        ("request_id", pa.string()),
        ("decision_id", pa.string()),
        ("candidate", pa.string()),
        ("time_s", pa.float64()),
        ("quality", pa.float64()),
        ("cost_usd", pa.float64()),
        ("latency_s", pa.float64()),
        ("harm", pa.float64()),
        ("harm_irr", pa.float64()),
        ("harm_events", pa.int32()),
        ("observed", pa.bool_()),
        ("metadata", pa.string()),
    ]
)

_DUCK = {
    pa.int64(): "BIGINT",
    pa.int32(): "INTEGER",
    pa.float64(): "DOUBLE",
    pa.string(): "VARCHAR",
    pa.bool_(): "BOOLEAN",
}


def _ddl(name: str, schema: pa.Schema) -> str:
    cols = ",\n  ".join(f"{f.name} {_DUCK[f.type]}" for f in schema)
    return f"CREATE TABLE IF NOT EXISTS {name} (\n  {cols}\n)"


DDL = [
    "CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)",
    _ddl("decisions", DECISIONS),
    _ddl("candidates", CANDIDATES),
    _ddl("outcomes", OUTCOMES),
]
