"""Checks of the arguments of ``Ledger`` methods: each wrong form is one ValidationError naming the
argument (or column) and the form expected, raised before the file is touched.

``records`` (the records argument of the appends), ``request_filter`` (the request of a read),
``text_column`` (a text column of ``append_outcome_arrays``), ``check_quality`` (realised quality in
[0, 1]), ``check_times`` (times in ``records.TIME_S_MIN`` .. ``TIME_S_MAX``) and ``check_repeats`` (a
decision id twice in one batch). No I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from tokenomy.core.errors import LedgerError, ValidationError
from tokenomy.ledger.records import TIME_S_MAX, TIME_S_MIN, is_utf8

__all__ = [
    "check_quality",
    "check_repeats",
    "check_times",
    "is_column",
    "records",
    "request_filter",
    "text_column",
]


def check_repeats(ids: list[str]) -> None:
    """Refuse a batch naming one decision_id twice (LedgerError; nothing is written)."""
    seen: set[str] = set()
    for i in ids:
        if i in seen:
            raise LedgerError(f"decision_id {i!r} appears twice in the batch; nothing written")
        seen.add(i)


def records(name: str, items: object) -> list[Any]:
    """``items`` as a list, or a ValidationError naming the argument when it is not an iterable of records."""
    if items is None or isinstance(items, (str, bytes, Mapping)) or not isinstance(items, Iterable):
        raise ValidationError(f"{name} must be an iterable of records; got {type(items).__name__}")
    return list(items)


def request_filter(request_id: object) -> tuple[str, list[Any]]:
    """The WHERE clause and parameters of a read for one request (or every one when ``None``)."""
    if request_id is None:
        return "", []
    if not is_utf8(request_id):
        raise ValidationError(f"request_id must be a string (UTF-8 text) or None; got {request_id!r}")
    return "WHERE request_id = ?", [request_id]


def is_column(values: object) -> bool:
    """Whether ``values`` can be a column: a sequence, a NumPy or an Arrow array (not one string)."""
    return isinstance(values, (Sequence, np.ndarray, pa.Array)) and not isinstance(values, (str, bytes))


def text_column(label: str, values: object, n: int | None, *, ids: bool = False) -> pa.Array:
    """A column of strings (``n`` entries when given) as Arrow text; ``label`` names it in errors
    (``outcome column candidate``, ``DecisionBatch.request_ids``).

    Raises:
        ValidationError: naming the column, when it is not a sequence of UTF-8 strings of length ``n``,
            or (``ids``) an entry is empty or only spaces.
    """
    if isinstance(values, pa.Array):
        arr: Any = values
    else:
        arr = np.asarray(values, dtype=object) if is_column(values) else None
        if arr is None or arr.ndim != 1:
            raise ValidationError(f"{label} must be a list of strings; got {values!r}")
    if n is not None and len(arr) != n:
        raise ValidationError(f"{label} has {len(arr)} entries; expected {n} (one per row)")
    try:  # the type inferred, not imposed: bytes or numbers are refused, not converted
        out = arr if isinstance(arr, pa.Array) else pa.array(arr)
        if pa.types.is_large_string(out.type):
            out = out.cast(pa.string())
    except (pa.ArrowException, UnicodeError):
        out = None
    if out is not None and len(out) == 0:
        return pa.array([], pa.string())
    if out is None or out.null_count or not pa.types.is_string(out.type):
        raise ValidationError(f"{label} must hold strings of UTF-8 text; got {values!r}")
    if ids:
        blank = pc.or_(pc.equal(pc.utf8_length(out), 0), pc.utf8_is_space(out))
        if pc.any(blank).as_py():
            row = int(pc.index(blank, True).as_py())
            raise ValidationError(
                f"{label} must hold non-empty ids, not only spaces; row {row} is {out[row].as_py()!r}"
            )
    return out


def check_times(label: str, time_s: NDArray[np.float64]) -> None:
    """Every time (finite already) lies in [TIME_S_MIN, TIME_S_MAX]: a date can name it."""
    bad = np.flatnonzero((time_s < TIME_S_MIN) | (time_s > TIME_S_MAX))
    if bad.size:
        raise ValidationError(
            f"{label} must be times in [{TIME_S_MIN:.0f}, {TIME_S_MAX:.0f}] (Unix seconds of years 1 to "
            f"9999 UTC); row {int(bad[0])} is {float(time_s[bad[0]])!r}"
        )


def check_quality(quality: NDArray[np.float64]) -> None:
    """Realised quality lies in [0, 1] (the readers refuse other values, so none is written)."""
    bad = np.flatnonzero((quality < 0.0) | (quality > 1.0))
    if bad.size:
        raise ValidationError(
            f"outcome quality must be in [0, 1]; row {int(bad[0])} has {float(quality[bad[0]])!r}; "
            "nothing written"
        )
