"""The shared price vector (V, λ, ρ, ρ_irr) and where each price came from (SPEC.md §1).

Units: ``v_usd`` is USD per unit of quality (a task worth $10 when it succeeds has V = 10);
``lam_usd_per_s`` is USD per second of added latency; ``rho_usd`` is USD per harm unit;
``rho_irr_usd`` is USD per unit of *irreversible* harm and must be ≥ ρ. Every price carries its
source (user, operator, SLA, safety policy, discovered by a controller, or a default) so a ledger
row says who set it. This module holds values only: no I/O, no control logic (see ``control``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from tokenomy.core._checks import check_nonneg
from tokenomy.core.errors import ValidationError

__all__ = ["PriceSource", "PriceVector"]


class PriceSource(StrEnum):
    """Who set a price."""

    USER = "user"
    OPERATOR = "operator"
    SLA = "sla"
    SAFETY_POLICY = "safety_policy"
    DISCOVERED = "discovered"
    DEFAULT = "default"


def _source(name: str, value: object) -> PriceSource:
    try:
        return PriceSource(str(value))
    except ValueError:
        valid = ", ".join(s.value for s in PriceSource)
        raise ValidationError(f"{name} must be one of {valid}; got {value!r}") from None


@dataclass(frozen=True, slots=True)
class PriceVector:
    """Prices of Eq. 1 at one decision time, each with its source.

    Args:
        v_usd: value of one unit of quality, USD (per request; set by the user or tenant).
        lam_usd_per_s: price of one second of latency, USD/s (set by the SLA).
        rho_usd: price of one unit of expected harm, USD (set by the safety policy).
        rho_irr_usd: price of one unit of irreversible harm, USD; ``None`` means equal to ρ.

    Raises:
        ValidationError: a price is NaN, infinite or negative, ρ_irr < ρ, or a source is unknown.
    """

    v_usd: float = 0.0
    lam_usd_per_s: float = 0.0
    rho_usd: float = 0.0
    rho_irr_usd: float | None = None
    v_source: PriceSource = PriceSource.DEFAULT
    lam_source: PriceSource = PriceSource.DEFAULT
    rho_source: PriceSource = PriceSource.DEFAULT
    rho_irr_source: PriceSource = PriceSource.DEFAULT

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "v_usd", check_nonneg("V (v_usd)", self.v_usd, where="PriceVector"))
        set_(
            self, "lam_usd_per_s", check_nonneg("λ (lam_usd_per_s)", self.lam_usd_per_s, where="PriceVector")
        )
        set_(self, "rho_usd", check_nonneg("ρ (rho_usd)", self.rho_usd, where="PriceVector"))
        rho_irr = self.rho_usd if self.rho_irr_usd is None else self.rho_irr_usd
        rho_irr = check_nonneg("ρ_irr (rho_irr_usd)", rho_irr, where="PriceVector")
        if rho_irr < self.rho_usd:
            raise ValidationError(
                f"ρ_irr (rho_irr_usd) must be ≥ ρ (rho_usd) = {self.rho_usd!r}; got {rho_irr!r}"
            )
        set_(self, "rho_irr_usd", rho_irr)
        for name in ("v_source", "lam_source", "rho_source", "rho_irr_source"):
            set_(self, name, _source(name, getattr(self, name)))

    @property
    def rho_irr(self) -> float:
        """ρ_irr as a float (never ``None`` after construction)."""
        assert self.rho_irr_usd is not None
        return self.rho_irr_usd

    def with_prices(self, source: PriceSource | str | None = None, **prices: float) -> PriceVector:
        """Return a copy with some prices replaced, optionally stamping their new source.

        Args:
            source: the source of every price replaced (kept unchanged when ``None``).
            **prices: any of ``v_usd``, ``lam_usd_per_s``, ``rho_usd``, ``rho_irr_usd``.
        """
        fields = {
            "v_usd": "v_source",
            "lam_usd_per_s": "lam_source",
            "rho_usd": "rho_source",
            "rho_irr_usd": "rho_irr_source",
        }
        unknown = set(prices) - set(fields)
        if unknown:
            raise ValidationError(f"unknown price {sorted(unknown)}; valid: {sorted(fields)}")
        changes: dict[str, Any] = dict(prices)
        if source is not None:
            changes.update({fields[k]: PriceSource(source) for k in prices})
        if "rho_usd" in prices and "rho_irr_usd" not in prices and self.rho_irr < prices["rho_usd"]:
            changes["rho_irr_usd"] = prices["rho_usd"]
        return replace(self, **changes)

    def as_dict(self) -> dict[str, float | str]:
        """Flat, JSON-ready mapping of prices and sources."""
        return {
            "v_usd": self.v_usd,
            "lam_usd_per_s": self.lam_usd_per_s,
            "rho_usd": self.rho_usd,
            "rho_irr_usd": self.rho_irr,
            "v_source": self.v_source.value,
            "lam_source": self.lam_source.value,
            "rho_source": self.rho_source.value,
            "rho_irr_source": self.rho_irr_source.value,
        }
