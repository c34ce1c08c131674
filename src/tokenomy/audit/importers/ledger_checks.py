"""Record-by-record checks of a stored ledger's Arrow tables, in bulk, before the audit reads them.

The columns and ranges are the ledger's own (``ledger.stored``: never-NULL text, the range of each
number); a file edited by hand or damaged on disk is named as ``<where>: decision seq N (its id):
<field> ...; the ledger file is damaged`` (or ``outcome seq N``), one vectorised pass per column. The
cross-row checks (chosen index among the candidates, known layer, propensity) stay in ``ledger_tables``.
No I/O.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from tokenomy.core.errors import SchemaError
from tokenomy.ledger.stored import DAMAGED, STORED_NUMBERS, STORED_TEXT, expected, row_name

__all__ = ["check_stored"]

# decision columns ``ledger_tables`` checks itself, with its own messages (finite prices, propensity,
# times a date can name)
_OWN_CHECKS = {"decisions": ("time_s", "propensity", "v_usd", "lam_usd_per_s", "rho_usd")}

_KEY = {
    "decisions": ("seq", "decision_id"),
    "candidates": ("decision_seq", "idx"),
    "outcomes": ("seq", "request_id"),
}


def _check_table(t: pa.Table, table: str, where: str) -> None:
    """Raise on the first NULL text, or NULL, NaN, infinite or out-of-range number, of ``t``."""
    key_cols = _KEY[table]

    def name(row: int) -> str:
        key = (t.column(key_cols[0])[row].as_py(), t.column(key_cols[1])[row].as_py())
        return f"{where}: {row_name(table, key)}"

    numbers = {c: b for c, b in STORED_NUMBERS[table].items() if c not in _OWN_CHECKS.get(table, ())}
    for col in (*STORED_TEXT[table], *numbers):
        if col in t.column_names and t.column(col).null_count:
            row = int(np.flatnonzero(~np.asarray(t.column(col).is_valid(), dtype=bool))[0])
            raise SchemaError(f"{name(row)}: {col} is NULL; {DAMAGED}")
    for col, (low, high) in numbers.items():
        if col not in t.column_names:
            continue
        values = np.asarray(t.column(col), dtype=np.float64)
        with np.errstate(invalid="ignore"):
            bad = ~np.isfinite(values)
            if low is not None:
                bad |= values < low
            if high is not None:
                bad |= values > high
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise SchemaError(
                f"{name(row)}: {col}={float(values[row])!r}; expected {expected(low, high)}; {DAMAGED}"
            )


def check_stored(
    decisions: pa.Table, candidates: pa.Table, outcomes: pa.Table, where: str = "ledger"
) -> None:
    """Refuse the first stored row no ledger could have written, naming the record and the field.

    Raises:
        SchemaError: a NULL where a value is required, or a NaN, infinite or out-of-range number.
    """
    for table, t in (("decisions", decisions), ("candidates", candidates), ("outcomes", outcomes)):
        _check_table(t, table, where)
