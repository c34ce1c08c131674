"""Parsing of command-line values shared by the commands (comma lists of numbers)."""

from __future__ import annotations

import math

from tokenomy.core.errors import ValidationError

__all__ = ["floats"]


def floats(text: str, what: str, *, allow_zero: bool = False) -> list[float]:
    """A comma list of finite numbers, each > 0 (≥ 0 with ``allow_zero``).

    Raises:
        ValidationError: naming the option ``what`` and the text, when an entry is not a number, is NaN
            or infinite, or is out of range, or the list is empty.
    """
    try:
        vals = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ValidationError(f"{what} must be comma-separated numbers, got {text!r}") from None
    if not vals or any(not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero) for v in vals):
        kind = "finite numbers ≥ 0" if allow_zero else "positive finite numbers"
        raise ValidationError(f"{what} must be {kind}, got {text!r}")
    return vals
