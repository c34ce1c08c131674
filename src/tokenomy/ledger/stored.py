"""What every stored ledger row holds: the columns that are never NULL and the range of each number.

``Ledger`` writes rows its record constructors checked; a file edited by hand or damaged on disk can
still hold a NULL where a value is required, a NaN or infinite number, or one beyond the records'
bounds (``records.MAX_HARM`` ...). ``damaged_row`` finds the first such row of a ledger with one SQL
query per table, so ``summary`` never shows an infinite welfare from a damaged file; the audit checks
the same columns over its Arrow copy (``audit.importers.ledger_checks``). Not checked here: cross-row
facts (the chosen index among the candidates, outcomes of known candidates).
"""

from __future__ import annotations

import duckdb

from tokenomy.ledger.records import (
    MAX_COST_USD,
    MAX_HARM,
    MAX_HARM_EVENTS,
    MAX_LATENCY_S,
    MAX_QUALITY,
    TIME_S_MAX,
    TIME_S_MIN,
)

__all__ = ["DAMAGED", "STORED_NUMBERS", "STORED_TEXT", "Bounds", "damaged_row", "expected"]

Bounds = tuple[float | None, float | None]
DAMAGED = "the ledger file is damaged"

# chosen_index / chosen_name are NULL for the null option; rho_irr_usd, its source and prices_time_s may
# be NULL in files of older versions: none of them is listed
STORED_TEXT: dict[str, tuple[str, ...]] = {
    "decisions": (
        "request_id",
        "decision_id",
        "tenant",
        "layer",
        "decision_point",
        "kind",
        "v_source",
        "lam_source",
        "rho_source",
        "metadata",
    ),
    "candidates": ("name",),
    "outcomes": ("request_id", "decision_id", "candidate", "metadata"),
}
STORED_NUMBERS: dict[str, dict[str, Bounds]] = {
    "decisions": {
        "seq": (None, None),
        "time_s": (TIME_S_MIN, TIME_S_MAX),
        "n_candidates": (0.0, None),
        "propensity": (None, 1.0),
        "v_usd": (0.0, None),
        "lam_usd_per_s": (0.0, None),
        "rho_usd": (0.0, None),
    },
    "candidates": {
        "decision_seq": (None, None),
        "idx": (0.0, None),
        "dq": (None, None),
        "dc_usd": (0.0, None),
        "dl_s": (0.0, None),
        "dr": (0.0, None),
        "dr_irr": (0.0, None),
        "surplus_usd": (None, None),
    },
    "outcomes": {
        "seq": (None, None),
        "time_s": (TIME_S_MIN, TIME_S_MAX),
        "quality": (-MAX_QUALITY, MAX_QUALITY),
        "cost_usd": (0.0, MAX_COST_USD),
        "latency_s": (0.0, MAX_LATENCY_S),
        "harm": (0.0, MAX_HARM),
        "harm_irr": (0.0, MAX_HARM),
        "harm_events": (0.0, float(MAX_HARM_EVENTS)),
    },
}
_KEY = {
    "decisions": ("seq", "decision_id"),
    "candidates": ("decision_seq", "idx"),
    "outcomes": ("seq", "request_id"),
}


def expected(low: float | None, high: float | None) -> str:
    """The expected form of a number in [low, high] (``None``: unbounded), for messages."""
    if low is None and high is None:
        return "a finite number"
    if high is None:
        return f"a finite number ≥ {low:g}"
    if low is None:
        return f"a finite number ≤ {high:g}"
    return f"a finite number in [{low:g}, {high:g}]"


def _bad_sql(name: str, low: float | None, high: float | None) -> str:
    conds = [f"{name} IS NULL", f"NOT isfinite({name}::DOUBLE)"]
    if low is not None:
        conds.append(f"{name} < {low!r}")
    if high is not None:
        conds.append(f"{name} > {high!r}")
    return " OR ".join(conds)


def row_name(table: str, key: tuple[object, object]) -> str:
    """How a message names one stored row: ``decision seq 3 (d3)``, ``outcome seq 0 (request 'r1')``."""
    a, b = key
    if table == "decisions":
        return f"decision seq {a} ({b})"
    if table == "candidates":
        return f"decision seq {a}: candidate {b}"
    return f"outcome seq {a} (request {b!r})"


def damaged_row(con: duckdb.DuckDBPyConnection) -> str | None:
    """The first stored row no ledger could have written, as ``<row>: <field> ...`` (None when none)."""
    for table, numbers in STORED_NUMBERS.items():
        text = STORED_TEXT[table]
        where = " OR ".join([*(f"{c} IS NULL" for c in text), *(_bad_sql(c, *b) for c, b in numbers.items())])
        cols = ", ".join((*_KEY[table], *text, *numbers))
        row = con.execute(f"SELECT {cols} FROM {table} WHERE {where} LIMIT 1").fetchone()
        if row is None:
            continue
        name = row_name(table, (row[0], row[1]))
        values = dict(zip((*text, *numbers), row[2:], strict=True))
        for c in text:
            if values[c] is None:
                return f"{name}: {c} is NULL"
        for c, (low, high) in numbers.items():
            v = values[c]
            if v is None:
                return f"{name}: {c} is NULL"
            x = float(v)
            if (
                not (x == x and abs(x) != float("inf"))
                or (low is not None and x < low)
                or (high is not None and x > high)
            ):
                return f"{name}: {c}={x!r}; expected {expected(low, high)}"
    return None
