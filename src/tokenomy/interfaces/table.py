"""Plain-text tables for the terminal (no dependency): right-aligned numbers, fixed precision."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["dash_undefined", "format_table", "printable"]


def _cell(v: Any, digits: int) -> str:
    if isinstance(v, bool) or v is None:
        return "-" if v is None else str(v)
    if isinstance(v, float):
        if v != v:
            return "nan"
        if v != 0 and (abs(v) < 10**-digits or abs(v) >= 1e7):
            return f"{v:.{digits}g}"
        return f"{v:,.{digits}f}"
    return _printable(str(v))


def _printable(text: str) -> str:
    """``text`` with each non-printable character (ESC, NUL, newline …) shown as its escape (``\\x1b``).

    Names and ids in a table come from user data: a raw escape sequence would drive the terminal and a
    newline would break the table's rows.
    """
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


printable = _printable  # the one escaping of user text for the terminal (notes and warnings too)


def format_table(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str] | None = None,
    *,
    digits: int = 4,
    title: str = "",
) -> str:
    """Render ``rows`` (dicts) as an aligned text table with a header line."""
    if not rows:
        return f"{title}\n(no rows)" if title else "(no rows)"
    cols = list(columns or rows[0].keys())
    cells = [[_cell(r.get(c), digits) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]

    def number(v: Any) -> bool:
        return isinstance(v, int | float) and not isinstance(v, bool)

    # a column of numbers stays right-aligned where some cells are undefined ("-")
    numeric = [
        all(number(r.get(c)) or r.get(c) is None for r in rows) and any(number(r.get(c)) for r in rows)
        for c in cols
    ]

    def line(vals: Sequence[str]) -> str:
        return "  ".join(
            v.rjust(w) if num else v.ljust(w) for v, w, num in zip(vals, widths, numeric, strict=True)
        )

    out = [title] if title else []
    out += [line(cols), "  ".join("-" * w for w in widths), *(line(r) for r in cells)]
    return "\n".join(out)


def dash_undefined(
    rows: Sequence[Mapping[str, Any]], columns: Sequence[str]
) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    """Copies of ``rows`` with each NaN or infinite value of ``columns`` as ``None`` (shown as "-"), and,
    per column that had any, the copied rows where it did (for the command's one note saying why)."""
    shown = [dict(r) for r in rows]
    found: dict[str, list[dict[str, Any]]] = {}
    for c in columns:
        bad = [r for r in shown if isinstance(r.get(c), float) and not math.isfinite(r[c])]
        for r in bad:
            r[c] = None
        if bad:
            found[c] = bad
    return shown, found
