"""Strict argument checks of the routing API: a number must be a number (never a str or bool to coerce).

The core checks (``tokenomy.core._checks``) accept anything ``float()`` takes; the routing entry
points refuse strings and booleans where a number is expected, then check finiteness and range. Each helper raises one ``ValidationError`` naming the argument and the expected form. Called
once per public call, never in a per-request loop.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from tokenomy.core.errors import ValidationError

__all__ = ["check_texts", "real", "text", "v_column", "whole"]


def real(
    name: str,
    value: Any,
    *,
    lo: float | None = None,
    hi: float | None = None,
    where: str = "",
    form: str = "",
) -> float:
    """``value`` as a finite float within [lo, hi]; a str, bool or other non-number is refused.

    ``form`` replaces the stated range in the message (e.g. "in [0, 1)" where the caller then
    refuses an end point itself).
    """
    at = f"{where}: " if where else ""
    if not form:
        form = (
            f"in [{lo:g}, {hi:g}]"
            if lo is not None and hi is not None
            else f"≥ {lo:g}"
            if lo is not None
            else f"≤ {hi:g}"
            if hi is not None
            else ""
        )
    want = f"{at}{name} must be a finite number {form}".rstrip()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValidationError(f"{want}, got {value!r:.80}")
    try:
        x = float(value)
    except OverflowError:
        raise ValidationError(f"{want}, got an integer too large") from None
    if not math.isfinite(x) or (lo is not None and x < lo) or (hi is not None and x > hi):
        raise ValidationError(f"{want}, got {x!r}")
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


def check_texts(name: str, values: Any) -> None:
    """A list (or tuple, array) of str; a bare str, bytes or a non-sequence is refused."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence | np.ndarray):
        raise ValidationError(
            f"route: {name} must be a list of str, got {type(values).__name__} {values!r:.60}"
        )
    for i, v in enumerate(values):
        if not isinstance(v, str):
            raise ValidationError(f"route: {name} entry {i} must be text (str), got {type(v).__name__}")


def v_column(v_usd: ArrayLike, n: int) -> NDArray[np.float64]:
    """V per request: a scalar or shape (N,), numbers (not str or bool), finite and ≥ 0."""
    if isinstance(v_usd, numbers.Real) and not isinstance(v_usd, bool):
        return np.full(n, real("v_usd", v_usd, lo=0.0, where="route"))
    arr = np.asarray(v_usd)
    if arr.dtype.kind not in "iuf":
        raise ValidationError(f"route: v_usd must be numbers ≥ 0, got {arr.dtype} values {v_usd!r:.60}")
    if arr.shape not in ((), (n,)):
        raise ValidationError(f"route: v_usd must be a scalar or have shape ({n},), got shape {arr.shape}")
    v = np.broadcast_to(arr.astype(np.float64), (n,)).copy()
    bad = ~(np.isfinite(v) & (v >= 0))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValidationError(f"route: v_usd must be finite and ≥ 0 for every request; entry {i} is {v[i]!r}")
    return v
