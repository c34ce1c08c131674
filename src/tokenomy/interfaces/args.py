"""Parsing of command-line values shared by the commands: comma lists and range-checked numbers.

``items`` is the one comma-list parser: every command that takes a comma list splits it here, so an
empty list, an empty item (``0.01,,0.1``, ``,fcfs``) or a repeated item is a one-line error everywhere
instead of being dropped or run twice; ``floats`` is ``items`` read as numbers.

The ``int_in`` / ``float_in`` factories build ``type=`` callables for ``add_argument``: a value outside
its range (0 where a count ≥ 1 is needed, a negative limit, NaN or an infinite price) is refused by
argparse with a one-line error naming the option's expected form, instead of silently meaning a
default or running nothing.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Sequence

from tokenomy.core.errors import ValidationError

__all__ = ["MAX_DRAWS", "MAX_FOLDS", "MAX_RESAMPLES", "float_in", "floats", "int_in", "items", "v_values"]

MAX_RESAMPLES = 1_000_000
"""Upper bound of a bootstrap-resample count flag (``--boot``): memory grows with it."""
MAX_FOLDS = 10_000
"""Upper bound of a cross-fitting fold count (``--folds``); a command also caps it by its data."""
MAX_DRAWS = 100_000_000
"""Upper bound of a synthetic-draw count (``--samples``): 800 MB of float64 draws."""


def items(text: str, what: str, *, distinct: bool = True) -> list[str]:
    """The stripped items of the comma list ``text``: at least one, none empty, none repeated.

    Raises:
        ValidationError: naming the option ``what`` and the text, for an empty list, an empty item or
            (with ``distinct``) an item given twice.
    """
    if not text.strip():
        raise ValidationError(f"{what}: empty list; expected a comma list of one or more items, got {text!r}")
    parts = [x.strip() for x in text.split(",")]
    for i, part in enumerate(parts, 1):
        if not part:
            raise ValidationError(
                f"{what}: item {i} of {text!r} is empty; expected a comma list without empty items"
            )
    if distinct and (rep := _first_repeat(parts)) is not None:
        raise ValidationError(f"{what}: {parts[rep]!r} appears twice in {text!r}; expected distinct items")
    return parts


def _first_repeat(values: Sequence[object]) -> int | None:
    """The index of the first value equal to an earlier one, or ``None``."""
    return next((i for i, v in enumerate(values) if v in values[:i]), None)


def floats(
    text: str,
    what: str,
    *,
    allow_zero: bool = False,
    distinct: bool = True,
    lo: float | None = None,
    hi: float | None = None,
) -> list[float]:
    """A comma list (``items``) of finite numbers, each > 0 (≥ 0 with ``allow_zero``) and in [lo, hi].

    With ``distinct`` two entries of the same value (``0.01,0.010``) are refused.

    Raises:
        ValidationError: naming the option ``what`` and the text, when an entry is not a number, is NaN
            or infinite, or is out of range, repeated or empty, or the list is empty.
    """
    parts = items(text, what, distinct=distinct)
    try:
        vals = [float(x) for x in parts]
    except ValueError:
        raise ValidationError(f"{what} must be comma-separated numbers, got {text!r}") from None
    if any(not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero) for v in vals):
        kind = "finite numbers ≥ 0" if allow_zero else "positive finite numbers"
        raise ValidationError(f"{what} must be {kind}, got {text!r}")
    if any((lo is not None and v < lo) or (hi is not None and v > hi) for v in vals):
        low = "" if lo is None else f" ≥ {lo:g}"
        high = "" if hi is None else f" ≤ {hi:g}"
        raise ValidationError(
            f"{what} must be numbers{low}{' and' if low and high else ''}{high}, got {text!r}"
        )
    if distinct and (rep := _first_repeat(vals)) is not None:
        raise ValidationError(f"{what}: {vals[rep]:g} appears twice in {text!r}; expected distinct values")
    return vals


def v_values(text: str, what: str = "--V") -> list[float]:
    """A comma list of values of quality V in USD, each > 0 and a normal float (not 0, -0 or 1e-320).

    Raises:
        ValidationError: one line naming the option and the value: "V must be > 0 USD; got …".
    """
    for part in items(text, what, distinct=False):
        try:
            v = float(part)
        except ValueError:
            continue  # floats() names the entry that is not a number
        if v < sys.float_info.min:  # a negative V gets the same message as 0
            raise ValidationError(f"{what}: V must be > 0 USD (at least {sys.float_info.min:g}); got {v!r}")
    vals = floats(text, what, allow_zero=True)
    for v in vals:
        if v < sys.float_info.min:  # 0, -0 and subnormals: every V-weighted quantity degenerates
            raise ValidationError(f"{what}: V must be > 0 USD (at least {sys.float_info.min:g}); got {v!r}")
    return vals


def int_in(lo: int, hi: int | None = None) -> Callable[[str], int]:
    """A ``type=`` parser of a whole number in ``[lo, hi]`` (no upper bound when ``hi`` is None).

    The parser raises ``argparse.ArgumentTypeError`` (argparse prints it as one line) for text that is
    not a whole number or is out of range.
    """
    want = f"a whole number ≥ {lo}" if hi is None else f"a whole number in [{lo}, {hi}]"

    def parse(text: str) -> int:
        try:
            x = int(text.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {want}, got {text!r}") from None
        if x < lo or (hi is not None and x > hi):
            raise argparse.ArgumentTypeError(f"expected {want}, got {text!r}")
        return x

    parse.__name__ = f"int_in({lo}, {hi})"
    return parse


def float_in(lo: float, hi: float | None = None, *, above: bool = False) -> Callable[[str], float]:
    """A ``type=`` parser of a finite number ≥ ``lo`` (> ``lo`` with ``above``) and ≤ ``hi``.

    NaN and ±inf are refused (``argparse.ArgumentTypeError``, printed by argparse as one line).
    """
    low = f"> {lo:g}" if above else f"≥ {lo:g}"
    want = f"a finite number {low}" + ("" if hi is None else f" and ≤ {hi:g}")

    def parse(text: str) -> float:
        try:
            x = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {want}, got {text!r}") from None
        bad_low = x <= lo if above else x < lo
        if not math.isfinite(x) or bad_low or (hi is not None and x > hi):
            raise argparse.ArgumentTypeError(f"expected {want}, got {text!r}")
        return x

    parse.__name__ = f"float_in({lo}, {hi})"
    return parse
