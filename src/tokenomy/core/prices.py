"""The shared price vector (V, λ, ρ, ρ_irr, named resource prices) and where each price came from.

Units: ``v_usd`` is USD per unit of quality (a task worth $10 when it succeeds has V = 10);
``lam_usd_per_s`` is USD per second of added latency; ``rho_usd`` is USD per harm unit;
``rho_irr_usd`` is USD per unit of *irreversible* harm and must be ≥ ρ. Every price carries its
source (user, operator, SLA, safety policy, discovered by a controller, or a default) so a ledger
row says who set it. Beside the four prices of Eq. 1 a vector carries *resource* prices
(``ResourcePrice``): the shadow price of one unit of a named scarce resource (a prefill token, a decode
token, a KV block-second, a GPU-second, or any name a layer publishes), each with its unit, source and
time, so one vector is the whole price state a layer reads from the bus (SPEC.md §7). This module holds
values only: no I/O, no control logic (see ``control``) and no publishing (see ``bus``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from tokenomy.core._checks import check_finite, check_nonneg
from tokenomy.core.errors import ValidationError

__all__ = [
    "DECODE_TOKEN",
    "GPU_SECOND",
    "KV_BLOCK_SECOND",
    "MAX_PRICE_USD",
    "PREFILL_TOKEN",
    "PriceSource",
    "PriceVector",
    "ResourcePrice",
]

MAX_PRICE_USD = 1e9
"""Upper bound of a price a user or client gives (V per request or task, λ per second, ρ per harm unit),
USD. A billion dollars is far above any value of one model call or agent action, and keeps every product
formed from it (price × tokens × counts × bootstrap sums, at most ~1e30) far below float overflow (~1.8e308),
so no figure becomes inf or NaN. The command line, the gateway and the audit's labels apply it."""

PREFILL_TOKEN = "prefill_token"
"""Resource name: one prompt token processed (unit ``token``)."""
DECODE_TOKEN = "decode_token"
"""Resource name: one output token generated (unit ``token``)."""
KV_BLOCK_SECOND = "kv_block_second"
"""Resource name: one KV-cache block held for one second (unit ``block·s``)."""
GPU_SECOND = "gpu_second"
"""Resource name: one GPU busy for one second (unit ``s``)."""


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
class ResourcePrice:
    """The shadow price of one unit of a named resource.

    Args:
        resource: the resource's name (``PREFILL_TOKEN``, ``KV_BLOCK_SECOND``, or any other name).
        usd_per_unit: USD per one ``unit`` of the resource, ≥ 0 (0 while the resource is slack).
        unit: what one unit is (``token``, ``block·s``, ``s``).
        source: who set the price (``discovered`` for a congestion price measured by a layer).
        time_s: when it was set, on the publisher's clock (``None`` when it is not timed).

    Raises:
        ValidationError: the name or unit is empty, the price is NaN, infinite or negative, or the
            source is unknown.
    """

    resource: str
    usd_per_unit: float
    unit: str
    source: PriceSource = PriceSource.DISCOVERED
    time_s: float | None = None

    def __post_init__(self) -> None:
        for name in ("resource", "unit"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise ValidationError(f"ResourcePrice.{name} must be a non-empty string; got {value!r}")
        where = f"ResourcePrice {self.resource!r}"
        object.__setattr__(self, "usd_per_unit", check_nonneg("usd_per_unit", self.usd_per_unit, where=where))
        object.__setattr__(self, "source", _source("source", self.source))
        if self.time_s is not None:
            object.__setattr__(self, "time_s", check_finite("time_s", self.time_s, where=where))

    def as_dict(self) -> dict[str, float | str | None]:
        """Flat, JSON-ready mapping."""
        return {
            "resource": self.resource,
            "usd_per_unit": self.usd_per_unit,
            "unit": self.unit,
            "source": self.source.value,
            "time_s": self.time_s,
        }


@dataclass(frozen=True, slots=True)
class PriceVector:
    """Prices of Eq. 1 at one decision time, each with its source.

    Args:
        v_usd: value of one unit of quality, USD (per request; set by the user or tenant).
        lam_usd_per_s: price of one second of latency, USD/s (set by the SLA).
        rho_usd: price of one unit of expected harm, USD (set by the safety policy).
        rho_irr_usd: the whole price of one unit of irreversible harm, USD (≥ ρ; ``None`` means
            equal to ρ, no premium for irreversibility; see ``rule`` for the one reading).
        resources: named resource prices (``ResourcePrice``), at most one per resource name.
        time_s: when the vector was set, on the publisher's clock (``None`` when not timed).

    Raises:
        ValidationError: a price is NaN, infinite or negative, ρ_irr < ρ, a source is unknown, or a
            resource is named twice.
    """

    v_usd: float = 0.0
    lam_usd_per_s: float = 0.0
    rho_usd: float = 0.0
    rho_irr_usd: float | None = None
    v_source: PriceSource = PriceSource.DEFAULT
    lam_source: PriceSource = PriceSource.DEFAULT
    rho_source: PriceSource = PriceSource.DEFAULT
    rho_irr_source: PriceSource = PriceSource.DEFAULT
    resources: tuple[ResourcePrice, ...] = ()
    time_s: float | None = None

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
        if not isinstance(self.resources, (tuple, list)):
            raise ValidationError(
                f"PriceVector.resources must be a tuple of ResourcePrice values; got {self.resources!r:.80}"
            )
        resources = tuple(self.resources)
        for r in resources:
            if not isinstance(r, ResourcePrice):
                raise ValidationError(f"PriceVector.resources must hold ResourcePrice values; got {r!r}")
        names = [r.resource for r in resources]
        if len(set(names)) != len(names):
            dup = sorted({n for n in names if names.count(n) > 1})
            raise ValidationError(f"PriceVector.resources names each resource once; {dup} appear twice")
        set_(self, "resources", resources)
        if self.time_s is not None:
            set_(self, "time_s", check_finite("time_s", self.time_s, where="PriceVector"))

    def resource(self, name: str) -> ResourcePrice | None:
        """The price of resource ``name``, or ``None`` when this vector does not carry it."""
        return next((r for r in self.resources if r.resource == name), None)

    def resource_usd(self, name: str, default: float = 0.0) -> float:
        """USD per unit of resource ``name``, or ``default`` when this vector does not carry it."""
        r = self.resource(name)
        return default if r is None else r.usd_per_unit

    def with_resources(self, *prices: ResourcePrice) -> PriceVector:
        """Return a copy where ``prices`` replace the resource prices of the same names."""
        new = {p.resource: p for p in prices}
        kept = tuple(r for r in self.resources if r.resource not in new)
        return replace(self, resources=kept + tuple(prices))

    @property
    def rho_irr(self) -> float:
        """ρ_irr as a float (never ``None`` after construction)."""
        assert self.rho_irr_usd is not None
        return self.rho_irr_usd

    def with_prices(self, source: PriceSource | str | None = None, **prices: float) -> PriceVector:
        """Return a copy with some prices replaced, optionally stamping their new source.

        ρ_irr and a new ρ: while ρ_irr = ρ (no premium for irreversibility, the ``None`` default) a new
        ρ alone moves ρ_irr with it up to the new ρ (a lower ρ keeps ρ_irr); while ρ_irr > ρ (a premium
        was set) a new ρ above ρ_irr is refused rather than silently raising ρ_irr: give both.

        Args:
            source: the source of every price replaced (kept unchanged when ``None``).
            **prices: any of ``v_usd``, ``lam_usd_per_s``, ``rho_usd``, ``rho_irr_usd``.

        Raises:
            ValidationError: an unknown price name, a bad value, or ρ above a set ρ_irr premium.
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
            changes.update({fields[k]: _source("source", source) for k in prices})
        if "rho_usd" in prices and "rho_irr_usd" not in prices:
            rho = check_nonneg("ρ (rho_usd)", prices["rho_usd"], where="PriceVector.with_prices")
            if self.rho_irr < rho:
                if self.rho_irr > self.rho_usd:
                    raise ValidationError(
                        f"ρ (rho_usd) = {rho!r} is above this vector's ρ_irr (rho_irr_usd) ="
                        f" {self.rho_irr!r}, a premium set over ρ = {self.rho_usd!r}; give rho_irr_usd too"
                    )
                changes["rho_irr_usd"] = rho
        return replace(self, **changes)

    def as_dict(self) -> dict[str, float | str]:
        """Flat, JSON-ready mapping of the four Eq. 1 prices and their sources (see ``resources``)."""
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
