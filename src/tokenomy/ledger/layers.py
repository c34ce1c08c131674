"""The four layers of SPEC.md §3, as the ledger names them (``Decision.layer``). No I/O."""

from __future__ import annotations

from enum import StrEnum

from tokenomy.core.errors import ValidationError

__all__ = ["Layer", "as_layer"]


class Layer(StrEnum):
    """The four layers of SPEC.md §3."""

    DEMAND = "demand"
    ACTION = "action"
    SUPPLY = "supply"
    CAPITAL = "capital"


def as_layer(value: object) -> Layer:
    """``value`` as a ``Layer``.

    Raises:
        ValidationError: ``value`` names no layer (the message lists the four).
    """
    try:
        return Layer(str(value))
    except ValueError:
        raise ValidationError(
            f"layer must be one of {', '.join(x.value for x in Layer)}; got {value!r}"
        ) from None
