"""Validation helpers shared by the core value types: finite, non-negative, in range.

Each raises :class:`ValidationError` naming the field, the bad value and the expected form. A string
(or bytes) where a number is expected is refused, never parsed: "1" is not the number 1.
"""

from __future__ import annotations

import math

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
