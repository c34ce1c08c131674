"""Strict field checks for the capital layer's settings (RL runs, cache policies), once at construction.

Stricter than ``core._checks``: a string or a bool is never taken for a number, a number never for a
bool; numpy scalars are accepted and returned as plain Python values. Each raises
:class:`ValidationError` naming the field, the bad value and the expected form. Not for hot loops.
(The serving layer has its own copy: capital and serving never import each other.)
"""

from __future__ import annotations

import math

import numpy as np

from tokenomy.core.errors import ValidationError

__all__ = ["flag", "real", "whole"]


def whole(name: str, value: object, *, low: int | None = 0) -> int:
    """``value`` as an ``int`` or raise unless it is an integer (not a bool) ≥ ``low`` (any: ``None``)."""
    if (
        isinstance(value, bool | np.bool_)
        or not isinstance(value, int | np.integer)
        or (low is not None and value < low)
    ):
        form = "a whole number" + ("" if low is None else f" ≥ {low}")
        raise ValidationError(f"{name} must be {form}, got {value!r:.80}")
    return int(value)


def real(
    name: str,
    value: object,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """``value`` as a finite ``float`` in the stated range, or raise naming the range."""
    lo = "" if low is None else f"{'>' if low_open else '≥'} {low:g}"
    hi = "" if high is None else f"{'<' if high_open else '≤'} {high:g}"
    form = (
        "a finite number"
        + (f" {lo}" if lo else "")
        + (" and" if lo and hi else "")
        + (f" {hi}" if hi else "")
    )
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | float | np.integer | np.floating):
        raise ValidationError(f"{name} must be {form}, got {value!r}")
    x = float(value)
    ok = math.isfinite(x)
    if ok and low is not None:
        ok = x > low if low_open else x >= low
    if ok and high is not None:
        ok = x < high if high_open else x <= high
    if not ok:
        raise ValidationError(f"{name} must be {form}, got {x!r}")
    return x


def flag(name: str, value: object) -> bool:
    """``value`` as a ``bool`` or raise unless it is ``True`` or ``False`` (a string is refused)."""
    if not isinstance(value, bool | np.bool_):
        raise ValidationError(f"{name} must be True or False, got {value!r}")
    return bool(value)
