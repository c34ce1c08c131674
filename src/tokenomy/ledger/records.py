"""Ledger records: one ``Decision`` row per decision any layer makes, ``Outcome`` rows that arrive later.

SPEC.md §2: a decision holds time, request id, tenant, layer (demand | action | supply | capital),
decision point, kind (what sort of decision, from the layer's vocabulary in ``kinds``), the
candidate uses with their (ΔQ, ΔC, ΔL, ΔR, surplus), the one chosen (or the null option) and the price vector at decision time with each price's source. An outcome holds the realised
quality, cost, latency and harm of one candidate of one request: of the chosen candidate
(``candidate=""``) or, where counterfactuals are observed (routing data has every model's outcome), of
another candidate by name. The schema is documented in docs/ledger.md (version ``SCHEMA_VERSION``).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, TypeGuard

from tokenomy.core._checks import check_finite, check_nonneg, check_prob
from tokenomy.core.errors import SchemaError, ValidationError
from tokenomy.core.prices import PriceVector
from tokenomy.core.rule import choose, surplus
from tokenomy.core.uses import TokenUse
from tokenomy.ledger.kinds import validate_kind
from tokenomy.ledger.layers import Layer
from tokenomy.ledger.layers import as_layer as _layer
from tokenomy.ledger.metadata import check_metadata

__all__ = [
    "MAX_COST_USD",
    "MAX_HARM",
    "MAX_HARM_EVENTS",
    "MAX_LATENCY_S",
    "MAX_QUALITY",
    "SCHEMA_VERSION",
    "TIME_S_MAX",
    "TIME_S_MIN",
    "Candidate",
    "Decision",
    "Layer",
    "Outcome",
    "check_time_s",
    "is_utf8",
]

SCHEMA_VERSION = 2

TIME_S_MIN = -62_135_596_800.0
"""Earliest accepted ``time_s``: 0001-01-01T00:00:00 UTC in Unix seconds (the first instant a calendar
date can name). Any clock a layer keeps (Unix time, seconds since a simulation start) lies inside."""
TIME_S_MAX = 253_402_300_799.0
"""Latest accepted ``time_s``: 9999-12-31T23:59:59 UTC in Unix seconds (the last instant a calendar
date can name), so every stored time can be read back as a date (the audit prices calls by date)."""
MAX_HARM_EVENTS = 2**31 - 1
"""Largest harm-event count one outcome can hold (the column is a 32-bit integer)."""
MAX_HARM = 1e9
"""Largest ``harm`` (and ``harm_irr``) one outcome can hold, harm units. Prices are at most 1e9 USD per
unit (the CLI's ``MAX_USD``), so ρ·harm ≤ 1e18 USD and a sum over even 1e280 outcomes stays far below
the float range (≈1.8e308): welfare, regret and chart axes stay finite. A harm above 1e9 units (a
billion of the worst events) is a unit mistake, not a measurement."""
MAX_COST_USD = 1e9
"""Largest realised ``cost_usd`` of one outcome: a billion USD for one call is a mistake, not a bill."""
MAX_LATENCY_S = 1e9
"""Largest realised ``latency_s`` of one outcome (about 32 years), so λ·latency ≤ 1e18 USD."""
MAX_QUALITY = 1e9
"""Largest ``|quality|`` of one outcome, quality units (success in {0, 1} or a score; a layer may use
its own unit, as eviction's V̄-relative units do), so V·quality ≤ 1e18 USD for V ≤ 1e9."""

_OUTCOME_BOUNDS = (
    ("cost_usd", MAX_COST_USD),
    ("latency_s", MAX_LATENCY_S),
    ("harm", MAX_HARM),
    ("harm_irr", MAX_HARM),
)
_TIME_RANGE = f"[{TIME_S_MIN:.0f}, {TIME_S_MAX:.0f}] (Unix seconds of years 1 to 9999 UTC)"


def is_utf8(value: object) -> TypeGuard[str]:
    """Whether ``value`` is a str UTF-8 can encode (no lone surrogate): text the ledger file can hold."""
    if not isinstance(value, str):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_time_s(name: str, value: object, where: str) -> float:
    """``value`` as a float, or a ValidationError unless it is a number in [TIME_S_MIN, TIME_S_MAX]."""
    x = _number(name, value, where)
    if not TIME_S_MIN <= x <= TIME_S_MAX:
        raise ValidationError(f"{name} in {where} must be a time in {_TIME_RANGE}, got {x!r}")
    return x


def _number(name: str, value: object, where: str) -> float:
    """A finite number; a bool or a string is refused, not read as 1, 0 or its digits."""
    if isinstance(value, (bool, str, bytes)):
        raise ValidationError(f"{name} in {where} must be a finite number, got {value!r}")
    return check_finite(name, value, where=where)  # type: ignore[arg-type]


def _text(name: str, value: object, where: str, *, allow_empty: bool = False) -> str:
    """UTF-8 text; empty only with ``allow_empty``, and never only spaces (an id nobody can tell apart)."""
    if not is_utf8(value) or (not value and not allow_empty) or (value and not value.strip()):
        blank = "" if allow_empty else "non-empty "
        raise ValidationError(
            f"{name} in {where} must be a {blank}string of UTF-8 text, not only spaces, got {value!r}"
        )
    return value


def _metadata(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ValidationError(f"metadata in {where} must be a mapping (key -> value), got {value!r}")
    check_metadata(value, where)
    return MappingProxyType(dict(value))


@dataclass(frozen=True, slots=True)
class Candidate:
    """One candidate use as the decision saw it: estimated effects and Eq. 1 surplus (USD)."""

    name: str
    dq: float
    dc_usd: float = 0.0
    dl_s: float = 0.0
    dr: float = 0.0
    dr_irr: float = 0.0
    surplus_usd: float = 0.0

    def __post_init__(self) -> None:
        _text("name", self.name, "Candidate")
        use = TokenUse(self.name, self.dq, self.dc_usd, self.dl_s, self.dr, self.dr_irr)  # validates
        del use
        object.__setattr__(
            self,
            "surplus_usd",
            check_finite("surplus_usd", self.surplus_usd, where=f"Candidate {self.name!r}"),
        )

    @classmethod
    def from_use(cls, use: TokenUse, prices: PriceVector) -> Candidate:
        """The candidate for ``use`` with its surplus at ``prices``."""
        return cls(use.name, use.dq, use.dc_usd, use.dl_s, use.dr, use.dr_irr, surplus(use, prices))


@dataclass(frozen=True, slots=True)
class Decision:
    """One decision of one layer for one request.

    Args:
        request_id: the request (or task, or trace) the decision belongs to.
        layer: demand, action, supply or capital.
        decision_point: where in the layer ("route", "step-12", "admit", "cache-write").
        candidates: the uses considered, in order.
        chosen: index of the chosen candidate, or ``None`` for the null option (spend nothing).
        prices: the price vector at decision time (with each price's source).
        time_s: decision time, seconds (any epoch; the layer's clock), in [``TIME_S_MIN``,
            ``TIME_S_MAX``]: the Unix seconds of years 1 to 9999 UTC, so a date can name it.
        tenant: who pays ("" when unknown).
        decision_id: unique id; the ledger assigns ``d<seq>`` when empty.
        propensity: probability that the policy chose ``chosen`` (1.0 for a deterministic policy);
            kept for off-policy estimates.
        metadata: free-form annotations JSON holds faithfully (string keys; no NaN, inf, bytes, sets
            or objects; at most ``metadata.MAX_DEPTH`` levels); key -> value.
        kind: what sort of decision (``route``, ``step``, ``evict``, ...: ``kinds.KINDS``); "" infers
            it from ``decision_point``.

    Raises:
        ValidationError: a field is missing, out of range, ``chosen`` is not a candidate index, or
            the kind is not valid for the layer (or cannot be inferred).
    """

    request_id: str
    layer: Layer
    decision_point: str
    candidates: tuple[Candidate, ...]
    chosen: int | None
    prices: PriceVector
    time_s: float = 0.0
    tenant: str = ""
    decision_id: str = ""
    propensity: float = 1.0
    metadata: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)
    kind: str = ""

    def __post_init__(self) -> None:
        where = f"Decision for request {self.request_id!r}"
        _text("request_id", self.request_id, where)
        object.__setattr__(self, "layer", _layer(self.layer))
        _text("decision_point", self.decision_point, where)
        _text("kind", self.kind, where, allow_empty=True)
        object.__setattr__(self, "kind", validate_kind(self.kind, self.layer, self.decision_point, where))
        _text("tenant", self.tenant, where, allow_empty=True)
        _text("decision_id", self.decision_id, where, allow_empty=True)
        if not isinstance(self.prices, PriceVector):
            raise ValidationError(
                f"prices in {where} must be a PriceVector, got {type(self.prices).__name__}"
            )
        if isinstance(self.candidates, (str, bytes, Mapping)) or not isinstance(self.candidates, Sequence):
            raise ValidationError(
                f"candidates in {where} must be a tuple of Candidate records, got {self.candidates!r}"
            )
        cands = tuple(self.candidates)
        if not all(isinstance(c, Candidate) for c in cands):
            raise ValidationError(f"candidates in {where} must be Candidate records")
        names = [c.name for c in cands]
        if len(set(names)) != len(names):
            raise ValidationError(f"candidate names in {where} must be unique, got {names}")
        object.__setattr__(self, "candidates", cands)
        index = isinstance(self.chosen, int) and not isinstance(self.chosen, bool)
        if self.chosen is not None and not (index and 0 <= self.chosen < len(cands)):
            raise ValidationError(
                f"chosen in {where} must be None (the null option) or an index in [0, {len(cands)}), "
                f"got {self.chosen!r}"
            )
        object.__setattr__(self, "time_s", check_time_s("time_s", self.time_s, where))
        object.__setattr__(self, "propensity", check_prob("propensity", self.propensity, where=where))
        if self.propensity == 0.0:
            raise ValidationError(f"propensity in {where} must be in (0, 1], got 0.0")
        object.__setattr__(self, "metadata", _metadata(self.metadata, where))

    @property
    def chosen_name(self) -> str | None:
        """Name of the chosen candidate, ``None`` for the null option."""
        return None if self.chosen is None else self.candidates[self.chosen].name

    @classmethod
    def from_uses(
        cls,
        request_id: str,
        layer: Layer | str,
        decision_point: str,
        uses: Sequence[TokenUse],
        prices: PriceVector,
        *,
        chosen: int | str | None = "eq1",
        **kwargs: Any,
    ) -> Decision:
        """Record a decision over ``uses``; by default the one Eq. 1 chooses (``chosen="eq1"``).

        Raises:
            ValidationError: ``uses`` is not a sequence of TokenUse, or a field of the decision is bad.
        """
        if isinstance(uses, (str, bytes, Mapping)) or not isinstance(uses, Sequence):
            raise ValidationError(
                f"uses of request {request_id!r} must be a list of TokenUse; got {type(uses).__name__}"
            )
        bad = next((u for u in uses if not isinstance(u, TokenUse)), None)
        if bad is not None:
            raise ValidationError(
                f"uses of request {request_id!r} must be TokenUse records; got a {type(bad).__name__}"
            )
        if not isinstance(prices, PriceVector):
            raise ValidationError(
                f"prices of request {request_id!r} must be a PriceVector; got {type(prices).__name__}"
            )
        idx = choose(uses, prices).index if chosen == "eq1" else chosen
        if isinstance(idx, str):
            raise ValidationError(f"chosen must be 'eq1', None or an index; got {chosen!r}")
        return cls(
            request_id,
            _layer(layer),
            decision_point,
            tuple(Candidate.from_use(u, prices) for u in uses),
            idx,
            prices,
            **kwargs,
        )


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened: realised quality, cost, latency and harm of one candidate of one request.

    Args:
        request_id: the request the outcome belongs to.
        quality: realised quality (task success in {0, 1}, or a score in [0, 1]).
        cost_usd: realised cost, USD.
        latency_s: realised latency, seconds.
        harm: realised harm, harm units (probability × severity, or a severity for an event).
        harm_irr: the irreversible part of ``harm``.
        harm_events: count of harm events observed, a whole number in [0, ``MAX_HARM_EVENTS``].
        candidate: "" for the chosen candidate; the name of one of the decision's candidates for a
            counterfactual outcome (the ledger refuses a name no decision of the request holds).
        decision_id: the decision it belongs to; "" joins it to every decision of the request.
        time_s: when it was observed, in [``TIME_S_MIN``, ``TIME_S_MAX``] as for ``Decision``.
        observed: False when the outcome is an estimate (a model, not a measurement).
        metadata: free-form annotations, as for ``Decision``; key -> value.

    Raises:
        ValidationError: a field is missing, of the wrong type or out of range (the message names it).
    """

    request_id: str
    quality: float
    cost_usd: float
    latency_s: float = 0.0
    harm: float = 0.0
    harm_irr: float = 0.0
    harm_events: int = 0
    candidate: str = ""
    decision_id: str = ""
    time_s: float = 0.0
    observed: bool = True
    metadata: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        where = f"Outcome for request {self.request_id!r}"
        _text("request_id", self.request_id, where)
        _text("candidate", self.candidate, where, allow_empty=True)
        _text("decision_id", self.decision_id, where, allow_empty=True)
        set_ = object.__setattr__
        q = _number("quality", self.quality, where)
        if abs(q) > MAX_QUALITY:
            raise ValidationError(
                f"quality in {where} must be in [-{MAX_QUALITY:g}, {MAX_QUALITY:g}], got {q!r}"
            )
        set_(self, "quality", q)
        for name, top in _OUTCOME_BOUNDS:
            x = check_nonneg(name, _number(name, getattr(self, name), where), where=where)
            if x > top:
                raise ValidationError(f"{name} in {where} must be in [0, {top:g}], got {x!r}")
            set_(self, name, x)
        if self.harm_irr > self.harm * (1 + 1e-12):
            raise ValidationError(
                f"harm_irr in {where} must be ≤ harm = {self.harm!r}, got {self.harm_irr!r}"
            )
        events = self.harm_events
        if (
            not isinstance(events, numbers.Integral)
            or isinstance(events, bool)
            or not 0 <= int(events) <= MAX_HARM_EVENTS
        ):
            raise ValidationError(
                f"harm_events in {where} must be a whole number in [0, {MAX_HARM_EVENTS}], got {events!r}"
            )
        set_(self, "harm_events", int(events))
        set_(self, "time_s", check_time_s("time_s", self.time_s, where))
        if not isinstance(self.observed, bool):
            raise ValidationError(f"observed in {where} must be True or False, got {self.observed!r}")
        set_(self, "metadata", _metadata(self.metadata, where))


def require(record: Mapping[str, Any], key: str, where: str) -> Any:
    """``record[key]`` or a SchemaError naming where and which field is missing."""
    if (
        key not in record
        or record[key] is None
        or (isinstance(record[key], float) and math.isnan(record[key]))
    ):
        raise SchemaError(f"{where}: missing field {key!r}")
    return record[key]
