"""Parsing of command-line values shared by the commands: comma lists and range-checked numbers.

``items`` is the one comma-list parser: every command that takes a comma list splits it here, so an
empty list, an empty item (``0.01,,0.1``, ``,fcfs``) or a repeated item is a one-line error everywhere
instead of being dropped or run twice; ``floats`` is ``items`` read as numbers.

The ``int_in`` / ``float_in`` factories build ``type=`` callables for ``add_argument``: a value outside
its range (0 where a count ≥ 1 is needed, a negative limit, NaN or an infinite price) is refused by
argparse with a one-line error naming the option's expected form, instead of silently meaning a
default or running nothing. A list's error states its whole range once (``in (0, 1e+09]``), whichever
end the value broke.

USD price flags (V, λ, ρ) are bounded by ``MAX_USD`` (``usd_price``, ``usd_prices``, ``v_values``) so
no product a command forms with them can overflow to inf or NaN. ``refuse_ignored`` refuses a flag that
only acts with another one (or is overridden by another one) instead of silently ignoring it.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Sequence
from typing import Any

from tokenomy.core.errors import ValidationError
from tokenomy.core.prices import MAX_PRICE_USD

__all__ = [
    "GIVEN",
    "MAX_DRAWS",
    "MAX_FOLDS",
    "MAX_RESAMPLES",
    "MAX_USD",
    "MIN_RESAMPLES",
    "float_in",
    "floats",
    "given",
    "int_in",
    "items",
    "refuse_ignored",
    "state_ranges",
    "usd_price",
    "usd_prices",
    "v_values",
]

GIVEN = "options_given"
"""Namespace attribute: dest → the option string typed, for every option on the command line (``cli``)."""


def given(args: Any, dest: str) -> bool:
    """True when the option setting ``dest`` was typed (even restating its default)."""
    return dest in getattr(args, GIVEN, {})


MAX_RESAMPLES = 1_000_000
"""Upper bound of a bootstrap-resample count flag (``--boot``): memory grows with it."""
MIN_RESAMPLES = 40
"""Lower bound of ``--boot``: a 95% percentile interval needs ≥ 1/0.025 resamples to place its ends."""
MAX_FOLDS = 10_000
"""Upper bound of a cross-fitting fold count (``--folds``); a command also caps it by its data."""
MAX_DRAWS = 100_000_000
"""Upper bound of a synthetic-draw count (``--samples``): 800 MB of float64 draws."""
MAX_USD = MAX_PRICE_USD
"""Upper bound of a USD price flag (``tokenomy.core.prices.MAX_PRICE_USD``)."""


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
    floor = 0.0 if lo is None else max(lo, 0.0)
    open_floor = floor == 0.0 and not allow_zero
    if any(
        not math.isfinite(v) or v < floor or (open_floor and v == 0) or (hi is not None and v > hi)
        for v in vals
    ):
        raise ValidationError(f"{what} must be {_range_text(floor, hi, open_floor)}, got {text!r}")
    if distinct and (rep := _first_repeat(vals)) is not None:
        raise ValidationError(f"{what}: {vals[rep]:g} appears twice in {text!r}; expected distinct values")
    return vals


def _range_text(floor: float, hi: float | None, open_floor: bool) -> str:
    """The one stated range of a number list: "finite numbers in (0, 1e+09]", "… ≥ 0", "… > 0"."""
    if hi is None:
        return f"finite numbers {'>' if open_floor else '≥'} {floor:g}"
    return f"finite numbers in {'(' if open_floor else '['}{floor:g}, {hi:g}]"


def usd_prices(text: str, what: str, *, allow_zero: bool = True) -> list[float]:
    """A comma list (``floats``) of USD prices (ρ, λ, or V where 0 is meaningful), each ≤ ``MAX_USD``.

    Raises:
        ValidationError: one line stating the range, e.g. "--rho must be finite numbers in [0, 1e+09]".
    """
    return floats(text, what, allow_zero=allow_zero, hi=MAX_USD)


def usd_price(*, above_zero: bool = False) -> Callable[[str], float]:
    """A ``type=`` parser of one USD price flag (λ, ρ, V): a finite number in [0, ``MAX_USD``]."""
    return float_in(0.0, MAX_USD, above=above_zero)


def v_values(text: str, what: str = "--V") -> list[float]:
    """A comma list of values of quality V in USD, each a normal float > 0 (not 0, -0 or 1e-320) and
    ≤ ``MAX_USD``.

    Raises:
        ValidationError: one line naming the option, the stated range and the value:
            "--V: V must be > 0 USD and ≤ 1e+09 USD (at least 2.22507e-308); got …".
    """
    for part in items(text, what, distinct=False):
        try:
            v = float(part)
        except ValueError:
            continue  # floats() names the entry that is not a number
        # 0, -0 and subnormals: every V-weighted quantity degenerates; above MAX_USD products overflow
        if not sys.float_info.min <= v <= MAX_USD:  # NaN fails both comparisons
            raise ValidationError(
                f"{what}: V must be > 0 USD and ≤ {MAX_USD:g} USD (at least {sys.float_info.min:g}); "
                f"got {part.strip()!r}"
            )
    return floats(text, what, allow_zero=True)


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
    parse.range_text = f"≥ {lo}" if hi is None else f"{lo} to {hi:,}"  # type: ignore[attr-defined]
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
    parse.range_text = low if hi is None else f"{low}, ≤ {hi:g}"  # type: ignore[attr-defined]
    return parse


def state_ranges(parser: argparse.ArgumentParser) -> None:
    """Add each bounded option's range (``int_in`` / ``float_in``) to its ``--help`` line where the help
    does not state it already, so the bounds a value is checked against are visible before an error."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in {id(c): c for c in action.choices.values()}.values():
                state_ranges(child)
            continue
        text = getattr(action.type, "range_text", None)
        if not text or action.help == argparse.SUPPRESS:
            continue
        help_ = action.help or ""
        bounds = [b for b in text.replace(",", " ").split() if any(ch.isdigit() for ch in b)]
        if not all(b in help_.replace(",", "") for b in (x.replace(",", "") for x in bounds)):
            action.help = f"{help_} [{text}]" if help_ else f"[{text}]"


def refuse_ignored(*checks: tuple[str, object, str]) -> None:
    """Refuse a flag that was given but would have no effect (silently ignored otherwise).

    Each check is ``(flag, value, why)``: ``value`` is the flag's parsed value, ``None`` (or ``False``
    for a switch) when it was not given; ``why`` completes the line, e.g. "needs --spec-k" or "has no
    effect with --router (the saved router's estimator is used)". Call it before any work.

    Raises:
        ValidationError: "--estimator has no effect with --router …" for the first given flag.
    """
    for flag, value, why in checks:
        if value is not None and value is not False:
            raise ValidationError(f"{flag} {why}")
