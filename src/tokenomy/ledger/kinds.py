"""Decision kinds: the short controlled vocabulary that says what sort of decision a ledger row is.

A decision's ``layer`` says who decided and its ``decision_point`` where (free text: ``step-12``,
``gate-check``); its ``kind`` says what was decided, from a fixed list per layer (docs/ledger.md), so a
report can group rows without parsing decision points. ``Decision`` and ``DecisionBatch`` infer the
kind from the decision point when it is not given (``route`` → route, ``step-7`` → step,
``gate-approve`` → confirm, ``rollout-use`` → rollout); a kind that is not in the layer's list raises
``ValidationError`` naming the valid ones. ``register_kind`` adds a kind to a layer for a user whose
decisions fit none of them. ``UNKNOWN`` marks rows migrated from schema version 1 whose kind could not
be inferred; new rows should not use it. No I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from tokenomy.core.errors import ValidationError
from tokenomy.ledger.layers import Layer, as_layer

__all__ = ["KINDS", "UNKNOWN", "infer_kind", "kinds_of", "register_kind", "validate_kind"]

UNKNOWN = "unknown"
"""Kind of a migrated version-1 row whose kind could not be inferred from its decision point."""

KINDS: Mapping[Layer, tuple[str, ...]] = MappingProxyType(
    {
        Layer.DEMAND: ("route", "run"),
        Layer.ACTION: ("step", "gate", "confirm", "run"),
        Layer.SUPPLY: ("admit", "order", "evict", "speculate", "run"),
        Layer.CAPITAL: ("rollout", "verify", "update", "cache-write", "run"),
    }
)
"""The built-in kinds of each layer; layer -> kinds (docs/ledger.md, Kinds)."""

_ALIASES: Mapping[str, str] = MappingProxyType({"gate-approve": "confirm"})
"""Decision points whose kind is not their own name or prefix; decision point -> kind."""

_REGISTERED: dict[Layer, list[str]] = {layer: [] for layer in Layer}  # layer -> kinds added by users


def kinds_of(layer: Layer) -> tuple[str, ...]:
    """The kinds valid for ``layer``: built-in, then registered, then ``UNKNOWN``.

    Raises:
        ValidationError: ``layer`` names no layer.
    """
    lay = as_layer(layer)
    return KINDS[lay] + tuple(_REGISTERED[lay]) + (UNKNOWN,)


def register_kind(layer: Layer | str, kind: str) -> None:
    """Add ``kind`` to ``layer``'s vocabulary (idempotent).

    Raises:
        ValidationError: the layer is unknown, or the kind is not a short lower-case name
            (letters, digits, ``-`` and ``_``, at most 32 characters).
    """
    lay = as_layer(layer)
    ok = isinstance(kind, str) and 0 < len(kind) <= 32 and kind == kind.lower()
    if not ok or not kind.replace("-", "").replace("_", "").isalnum():
        raise ValidationError(
            f"kind must be a short lower-case name (letters, digits, '-', '_'; ≤ 32 characters); got {kind!r}"
        )
    if kind not in kinds_of(lay):
        _REGISTERED[lay].append(kind)


def infer_kind(layer: Layer, decision_point: str) -> str | None:
    """The kind a decision point names in ``layer`` (itself, an alias, or its prefix before ``-``), or None."""
    valid = kinds_of(layer)
    for guess in (_ALIASES.get(decision_point), decision_point, decision_point.split("-", 1)[0]):
        if guess is not None and guess in valid and guess != UNKNOWN:
            return guess
    return None


def validate_kind(kind: str, layer: Layer, decision_point: str, where: str) -> str:
    """``kind`` checked against ``layer``'s vocabulary, or inferred from ``decision_point`` when empty.

    Raises:
        ValidationError: the kind is not valid for the layer, or it is empty and cannot be inferred.
    """
    valid = kinds_of(layer)
    if kind == "":
        inferred = infer_kind(layer, decision_point)
        if inferred is not None:
            return inferred
        raise ValidationError(
            f"kind of {where} cannot be inferred from decision point {decision_point!r}; pass kind= one of "
            f"{', '.join(valid[:-1])} (layer {layer.value}) or add one with tokenomy.ledger.register_kind"
        )
    if not isinstance(kind, str) or kind not in valid:
        raise ValidationError(
            f"kind of {where} must be one of {', '.join(valid)} for layer {layer.value} "
            f"(or one added with tokenomy.ledger.register_kind); got {kind!r}"
        )
    return kind
