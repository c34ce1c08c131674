"""Strict argument checks of the routing API: a number must be a number (never a str or bool to coerce).

The core checks (``tokenomy.core._checks``) accept anything ``float()`` takes; the routing entry
points refuse strings and booleans where a number is expected, then reuse those checks for the
range. Each helper raises one ``ValidationError`` naming the argument and the expected form. Called
once per public call, never in a per-request loop.
"""

from __future__ import annotations

import numbers
from typing import Any

from tokenomy.core._checks import check_finite
from tokenomy.core.errors import ValidationError

__all__ = ["real", "text", "whole"]


def real(
    name: str, value: Any, *, lo: float | None = None, hi: float | None = None, where: str = ""
) -> float:
    """``value`` as a finite float within [lo, hi]; a str, bool or other non-number is refused."""
    at = f"{where}: " if where else ""
    span = f" in [{lo}, {hi}]" if lo is not None and hi is not None else f" ≥ {lo}" if lo is not None else ""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValidationError(f"{at}{name} must be a finite number{span}, got {value!r:.80}")
    try:
        x = check_finite(name, float(value), where=where)
    except OverflowError:
        raise ValidationError(f"{at}{name} must be a finite number{span}, got an integer too large") from None
    if (lo is not None and x < lo) or (hi is not None and x > hi):
        raise ValidationError(f"{at}{name} must be a finite number{span}, got {x!r}")
    return x


def whole(name: str, value: Any, *, lo: int, hi: int | None = None, where: str = "") -> int:
    """``value`` as an int within [lo, hi]; floats, strs and bools are refused."""
    at = f"{where}: " if where else ""
    span = f" in [{lo}, {hi}]" if hi is not None else f" ≥ {lo}"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValidationError(f"{at}{name} must be a whole number{span}, got {value!r:.80}")
    n = int(value)
    if n < lo or (hi is not None and n > hi):
        raise ValidationError(f"{at}{name} must be a whole number{span}, got {n}")
    return n


def text(name: str, value: Any, *, where: str = "", blank: bool = True) -> str:
    """``value`` if it is a str that encodes as UTF-8 (no lone surrogate); ``blank=False`` refuses ''."""
    at = f"{where}: " if where else ""
    if not isinstance(value, str):
        raise ValidationError(f"{at}{name} must be text (str), got {type(value).__name__}")
    if not blank and not value.strip():
        raise ValidationError(f"{at}{name} must be non-blank text, got {value!r}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValidationError(
            f"{at}{name} is not valid Unicode text: character {exc.start} is a lone surrogate "
            f"{value[exc.start]!r}; expected UTF-8 encodable text"
        ) from None
    return value
