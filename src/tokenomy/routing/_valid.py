"""Strict argument checks of the routing API: a number must be a number (never a str or bool to coerce).

The core checks (``tokenomy.core._checks``) accept anything ``float()`` takes; the routing entry
points refuse strings and booleans where a number is expected, then check finiteness and range. Each helper raises one ``ValidationError`` naming the argument and the expected form. Called
once per public call, never in a per-request loop.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from tokenomy.core._checks import real
from tokenomy.core.errors import ValidationError

__all__ = ["check_texts", "v_column"]


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
        return np.full(n, real("v_usd", v_usd, low=0.0, where="route"))
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
