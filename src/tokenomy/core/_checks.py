"""Validation helpers shared by the core value types: finite, non-negative, in range.

Each raises :class:`ValidationError` naming the field, the bad value and the expected form. A string
(or bytes) where a number is expected is refused, never parsed: "1" is not the number 1.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from tokenomy.core.errors import ValidationError

__all__ = [
    "as_float_array",
    "check_finite",
    "check_finite_array",
    "check_nonneg",
    "check_nonneg_array",
    "check_prob",
    "flag",
    "real",
    "text",
    "whole",
]


def check_finite(name: str, value: float, *, where: str = "") -> float:
    """Return ``float(value)`` or raise if it is NaN, infinite or not a number."""
    at = f" in {where}" if where else ""
    if isinstance(value, (str, bytes)):
        raise ValidationError(f"{name}{at} must be a finite number, got the string {value!r:.80}")
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValidationError(f"{name}{at} must be a finite number, got {value!r}") from None
    if not math.isfinite(x):
        raise ValidationError(f"{name}{at} must be a finite number, got {x!r}")
    return x


def check_nonneg(name: str, value: float, *, where: str = "") -> float:
    """Return ``float(value)`` or raise if it is not finite or is negative."""
    x = check_finite(name, value, where=where)
    if x < 0:
        at = f" in {where}" if where else ""
        raise ValidationError(f"{name}{at} must be ≥ 0, got {x!r}")
    return x


def check_prob(name: str, value: float, *, where: str = "") -> float:
    """Return ``float(value)`` or raise if it is not in [0, 1]."""
    x = check_finite(name, value, where=where)
    if not 0.0 <= x <= 1.0:
        at = f" in {where}" if where else ""
        raise ValidationError(f"{name}{at} must be in [0, 1], got {x!r}")
    return x


def _where(arr: NDArray[np.float64], mask: NDArray[np.bool_]) -> str:
    if arr.ndim == 0:
        return f"it is {float(arr)!r}"
    idx = tuple(int(i) for i in np.argwhere(mask)[0])
    return f"entry {idx if len(idx) > 1 else idx[0]} is {float(arr[idx])!r}"


def as_float_array(name: str, values: ArrayLike) -> NDArray[np.float64]:
    """Return ``values`` as a float64 array (NaN kept) or raise if they are not numbers (strings refused)."""
    if isinstance(values, np.ndarray) and values.dtype.kind in "fiub":
        return np.asarray(values, dtype=np.float64)
    try:
        raw = np.asarray(values)
        if raw.dtype.kind in "USO" and not _numeric_objects(raw):
            raise TypeError
        return np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValidationError(f"{name} must be numbers, got {values!r:.80}") from None


def _numeric_objects(raw: NDArray[np.generic]) -> bool:
    """True when an object array holds only numbers (no strings, bytes or None)."""
    if raw.dtype.kind != "O":
        return False
    return all(isinstance(x, (int, float, np.number)) and not isinstance(x, (str, bytes)) for x in raw.flat)


def check_finite_array(name: str, values: ArrayLike) -> NDArray[np.float64]:
    """Return ``values`` as a float64 array or raise naming the first non-finite entry."""
    arr = as_float_array(name, values)
    bad = ~np.isfinite(arr)
    if bad.any():
        raise ValidationError(f"{name} must hold finite numbers; {_where(arr, bad)}")
    return arr


def check_nonneg_array(name: str, values: ArrayLike) -> NDArray[np.float64]:
    """Return ``values`` as a float64 array or raise naming the first negative or non-finite entry."""
    arr = check_finite_array(name, values)
    neg = arr < 0
    if neg.any():
        raise ValidationError(f"{name} must be ≥ 0; {_where(arr, neg)}")
    return arr


# Strict field checks, once per construction or public call (never in a per-request loop): a str or a
# bool is never taken for a number, a number never for a bool, a float never for a whole number. numpy
# scalars are accepted and returned as plain Python values. ``where`` prefixes the message ("RouteRequest").


def _at(where: str) -> str:
    return f"{where}: " if where else ""


def _range(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    if low is not None and high is not None:
        return f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    if low is not None:
        return f"{'>' if low_open else '≥'} {low:g}"
    if high is not None:
        return f"{'<' if high_open else '≤'} {high:g}"
    return ""


def real(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    where: str = "",
    form: str = "",
) -> float:
    """``value`` as a finite ``float`` in the stated range; a str, bool or other non-number is refused.

    ``form`` replaces the stated range in the message (e.g. "in [0, 1)" where the caller refuses an
    end point itself).
    """
    want = f"{_at(where)}{name} must be a finite number {form or _range(low, high, low_open, high_open)}".rstrip()
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | float | np.integer | np.floating):
        raise ValidationError(f"{want}, got {value!r:.80}")
    try:
        x = float(value)
    except OverflowError:
        raise ValidationError(f"{want}, got an integer too large") from None
    ok = math.isfinite(x)
    if ok and low is not None:
        ok = x > low if low_open else x >= low
    if ok and high is not None:
        ok = x < high if high_open else x <= high
    if not ok:
        raise ValidationError(f"{want}, got {x!r}")
    return x


def whole(name: str, value: Any, *, low: int | None = 0, high: int | None = None, where: str = "") -> int:
    """``value`` as an ``int`` in [low, high] (``None``: unbounded); floats, strs and bools are refused."""
    span = "" if low is None and high is None else " " + _range(low, high, False, False)
    want = f"{_at(where)}{name} must be a whole number{span}"
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | np.integer):
        raise ValidationError(f"{want}, got {value!r:.80}")
    n = int(value)
    if (low is not None and n < low) or (high is not None and n > high):
        raise ValidationError(f"{want}, got {n}")
    return n


def flag(name: str, value: Any, *, where: str = "") -> bool:
    """``value`` as a ``bool``; anything but ``True`` or ``False`` (a string such as 'no') is refused."""
    if not isinstance(value, bool | np.bool_):
        raise ValidationError(f"{_at(where)}{name} must be True or False, got {value!r:.80}")
    return bool(value)


def text(name: str, value: Any, *, where: str = "", blank: bool = True) -> str:
    """``value`` if it is a str that encodes as UTF-8 (no lone surrogate); ``blank=False`` refuses ''."""
    if not isinstance(value, str):
        raise ValidationError(f"{_at(where)}{name} must be text (str), got {type(value).__name__}")
    if not blank and not value.strip():
        raise ValidationError(f"{_at(where)}{name} must be non-blank text, got {value!r}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValidationError(
            f"{_at(where)}{name} is not valid Unicode text: character {exc.start} is a lone surrogate "
            f"{value[exc.start]!r}; expected UTF-8 encodable text"
        ) from None
    return value
