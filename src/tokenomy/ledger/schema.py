"""The ledger's storage schema (version 2), as DuckDB DDL and Arrow schemas, and each column's unit.

Documented in docs/ledger.md. Version 2 added ``decisions.kind``, ``decisions.prices_time_s`` (at the end
of the table, where a migrated version-1 table gets them) and the ``resource_prices`` table; ``migrate``
turns a version-1 file into this one. ``COLUMN_UNITS`` gives every priced or measured column one unit,
the same in every row; a resource price's unit is its row's ``unit``.
"""

from __future__ import annotations

import pyarrow as pa

from tokenomy.ledger.records import SCHEMA_VERSION

__all__ = [
    "CANDIDATES",
    "COLUMN_UNITS",
    "DDL",
    "DECISIONS",
    "OUTCOMES",
    "RESOURCE_PRICES",
    "SCHEMA_VERSION",
    "TABLES",
]

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
        ("kind", pa.string()),
        ("prices_time_s", pa.float64()),
    ]
)

RESOURCE_PRICES = pa.schema(
    [
        ("decision_seq", pa.int64()),
        ("idx", pa.int32()),
        ("decision_id", pa.string()),
        ("resource", pa.string()),
        ("usd_per_unit", pa.float64()),
        ("unit", pa.string()),
        ("source", pa.string()),
        ("time_s", pa.float64()),
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
    _ddl("resource_prices", RESOURCE_PRICES),
]

TABLES = ("decisions", "candidates", "outcomes", "resource_prices")
"""The ledger's data tables (``meta`` aside), in export order."""

COLUMN_UNITS: dict[str, str] = {
    "decisions.time_s": "s (the deciding layer's clock)",
    "decisions.propensity": "probability",
    "decisions.v_usd": "USD per unit of quality (V)",
    "decisions.lam_usd_per_s": "USD per second of latency (λ)",
    "decisions.rho_usd": "USD per harm unit (ρ)",
    "decisions.rho_irr_usd": "USD per irreversible harm unit (ρ_irr, the whole price, ≥ ρ)",
    "decisions.prices_time_s": "s (when the price vector was set, publisher's clock; NULL = untimed)",
    "candidates.dq": "quality units (the unit V prices)",
    "candidates.dc_usd": "USD",
    "candidates.dl_s": "s",
    "candidates.dr": "harm units",
    "candidates.dr_irr": "harm units (the irreversible part of dr)",
    "candidates.surplus_usd": "USD (Eq. 1 at the decision's prices)",
    "outcomes.time_s": "s",
    "outcomes.quality": "quality units",
    "outcomes.cost_usd": "USD",
    "outcomes.latency_s": "s",
    "outcomes.harm": "harm units",
    "outcomes.harm_irr": "harm units (the irreversible part of harm)",
    "outcomes.harm_events": "count",
    "resource_prices.usd_per_unit": "USD per one `unit` of the resource (the row's unit column)",
    "resource_prices.time_s": "s (when the price was set, publisher's clock; NULL = untimed)",
}
"""Unit of every priced or measured column; "table.column" -> unit (docs/ledger.md, Units)."""
