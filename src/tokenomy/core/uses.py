"""A token use: one thing the system could spend on next, with its estimated marginal effects.

Fields follow SPEC.md §1: ``dq`` (quality gained, probability or score), ``dc_usd`` (USD),
``dl_s`` (seconds of added latency), ``dr`` (expected harm, probability × severity) and ``dr_irr``
(the unrecoverable part of ``dr``, so 0 ≤ dr_irr ≤ dr). ``risk_measure`` records which measure
produced ``dr`` (see ``risk``): Knightian action classes are priced by CVaR, not the mean.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from tokenomy.core._checks import check_finite, check_nonneg
from tokenomy.core.errors import ValidationError

__all__ = ["RISK_MEASURES", "TokenUse"]

RISK_MEASURES = ("expectation", "cvar", "worst_case")


@dataclass(frozen=True, slots=True)
class TokenUse:
    """One candidate use of tokens and its estimated marginal effects.

    Args:
        name: what the use is ("gpt-4", "verify", "prefill-chunk-3").
        dq: quality gained (may be negative: a use can hurt quality).
        dc_usd: compute cost, USD, ≥ 0.
        dl_s: added latency, seconds, ≥ 0.
        dr: expected harm in harm units, ≥ 0.
        dr_irr: the irreversible part of ``dr``, 0 ≤ dr_irr ≤ dr.
        risk_measure: which measure produced ``dr``: expectation, cvar or worst_case.
        metadata: free-form annotations; key -> value (never read by the rule).

    Raises:
        ValidationError: a field is NaN, infinite, a string, negative where it must not be, or
            inconsistent; ``metadata`` is not a mapping.
    """

    name: str
    dq: float
    dc_usd: float = 0.0
    dl_s: float = 0.0
    dr: float = 0.0
    dr_irr: float = 0.0
    risk_measure: str = "expectation"
    metadata: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        where = f"TokenUse {self.name!r}"
        if not isinstance(self.name, str) or not self.name:
            raise ValidationError(f"TokenUse name must be a non-empty string, got {self.name!r}")
        set_ = object.__setattr__
        set_(self, "dq", check_finite("dq", self.dq, where=where))
        set_(self, "dc_usd", check_nonneg("dc_usd", self.dc_usd, where=where))
        set_(self, "dl_s", check_nonneg("dl_s", self.dl_s, where=where))
        set_(self, "dr", check_nonneg("dr", self.dr, where=where))
        set_(self, "dr_irr", check_nonneg("dr_irr", self.dr_irr, where=where))
        if self.dr_irr > self.dr * (1 + 1e-12) + 1e-15:
            raise ValidationError(
                f"dr_irr in {where} is the irreversible part of dr, so it must be ≤ dr = {self.dr!r};"
                f" got {self.dr_irr!r}"
            )
        if self.risk_measure not in RISK_MEASURES:
            raise ValidationError(
                f"risk_measure in {where} must be one of {', '.join(RISK_MEASURES)}; got {self.risk_measure!r}"
            )
        if not isinstance(self.metadata, Mapping):
            raise ValidationError(
                f"metadata in {where} must be a mapping (key -> value), got {self.metadata!r:.80}"
            )
        set_(self, "metadata", MappingProxyType(dict(self.metadata)))
