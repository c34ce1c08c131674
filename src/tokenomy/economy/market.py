"""The multi-tenant market's baselines and report: flat prices, misreports, one market run.

Beside the tâtonnement and the social optimum (``equilibrium``): **flat pricing** (``flat``) sets one
price = the GPU cost with no clearing; when demand exceeds capacity each request bought is served
with probability C/D (proportional rationing, value-blind like FCFS). **Misreport** (``misreport``):
one tenant acts on factor·V; the market clears on the reported demands; its surplus is judged by its
true V (the incentive check). ``run_market`` runs all of them on one tenant set (``MarketReport``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tokenomy.core._checks import real
from tokenomy.core.bus import PriceBus
from tokenomy.core.errors import ValidationError
from tokenomy.economy.equilibrium import (
    Clearing,
    Optimum,
    TenantOutcome,
    check_market,
    clear,
    outcomes,
    social_optimum,
)
from tokenomy.economy.tenants import TenantSet

__all__ = ["FlatOutcome", "MarketReport", "Misreport", "flat", "misreport", "run_market"]


@dataclass(frozen=True, slots=True)
class FlatOutcome:
    """Flat pricing: one cost price, proportional rationing when demand exceeds capacity."""

    price_usd_per_gpu_s: float
    served_frac: float
    tenants: tuple[TenantOutcome, ...]
    welfare_usd_per_s: float


@dataclass(frozen=True, slots=True)
class Misreport:
    """One tenant scaling its reported V by ``factor``: its true surplus against truthful reporting."""

    tenant: str
    factor: float
    price_usd_per_gpu_s: float
    true_surplus_usd_per_s: float
    truthful_surplus_usd_per_s: float

    @property
    def gain_usd_per_s(self) -> float:
        """Misreporting's gain in true surplus (negative: misreporting does not pay)."""
        return self.true_surplus_usd_per_s - self.truthful_surplus_usd_per_s


def flat(tenants: TenantSet, capacity_gpu_s_per_s: float, *, price_usd_per_gpu_s: float) -> FlatOutcome:
    """One price set from cost, no clearing; proportional rationing when demand exceeds capacity.

    Raises:
        ValidationError: capacity ≤ 0 or a negative price.
    """
    check_market(tenants, capacity_gpu_s_per_s, price_usd_per_gpu_s)
    p = float(price_usd_per_gpu_s)
    take = tenants.take(p, charge_usd_per_gpu_s=p)
    d = float(take.demand_gpu_s_per_s.sum())
    served = min(1.0, capacity_gpu_s_per_s / d) if d > 0 else 1.0
    return FlatOutcome(
        p, served, outcomes(tenants, take, served), served * float(take.utility_usd_per_s.sum())
    )


def misreport(
    tenants: TenantSet,
    capacity_gpu_s_per_s: float,
    truthful: Clearing,
    *,
    tenant: int,
    factor: float,
    floor_usd: float = 0.0,
    tol: float = 1e-4,
) -> Misreport:
    """Tenant ``tenant`` reports factor·V; the market clears on reports; its TRUE surplus there.

    Raises:
        ValidationError: an index out of range or a factor that is not positive.
    """
    if not 0 <= tenant < len(tenants):
        raise ValidationError(f"tenant index must be in [0, {len(tenants)}); got {tenant!r}")
    if not (np.isfinite(factor) and factor > 0):
        raise ValidationError(f"misreport factor must be > 0; got {factor!r}")
    scale = np.ones(len(tenants))
    scale[tenant] = factor
    out = clear(
        tenants,
        capacity_gpu_s_per_s,
        floor_usd=floor_usd,
        start_usd=truthful.price_usd_per_gpu_s,
        tol=tol,
        v_scale=scale,
    )
    return Misreport(
        tenants.tenants[tenant].name,
        float(factor),
        out.price_usd_per_gpu_s,
        out.tenants[tenant].surplus_usd_per_s,
        truthful.tenants[tenant].surplus_usd_per_s,
    )


@dataclass(frozen=True, slots=True)
class MarketReport:
    """One market: the tâtonnement, the optimum, the flat baseline and every misreport."""

    capacity_gpu_s_per_s: float
    cost_usd_per_gpu_s: float
    clearing: Clearing
    optimum: Optimum
    flat: FlatOutcome
    misreports: tuple[Misreport, ...]

    @property
    def efficiency(self) -> float:
        """Welfare at the equilibrium / optimal welfare."""
        return self.clearing.welfare_usd_per_s / self.optimum.best_welfare_usd_per_s

    @property
    def flat_efficiency(self) -> float:
        """Welfare under flat pricing / optimal welfare."""
        return self.flat.welfare_usd_per_s / self.optimum.best_welfare_usd_per_s


def run_market(
    tenants: TenantSet,
    capacity_gpu_s_per_s: float,
    *,
    cost_usd_per_gpu_s: float,
    bus: PriceBus | None = None,
    factors: tuple[float, ...] = (0.5, 2.0),
    tol: float = 1e-4,
) -> MarketReport:
    """Clear the market (reserve = cost), solve the optimum, price flat at cost, try every misreport.

    Args:
        tenants: the tenants.
        capacity_gpu_s_per_s: capacity for sale, > 0.
        cost_usd_per_gpu_s: the operator's cost: the reserve price, the flat price and welfare's cost.
        bus: receives the truthful clearing's price path (topic ``"market"``).
        factors: V scalings each tenant tries, one at a time.
        tol: the clearing tolerance on |excess demand| / capacity.

    Raises:
        ValidationError: capacity ≤ 0, a cost that is not a finite number ≥ 0, a non-positive factor.
    """
    c = real("run_market cost_usd_per_gpu_s", cost_usd_per_gpu_s, low=0)
    eq = clear(tenants, capacity_gpu_s_per_s, floor_usd=c, cost_usd_per_gpu_s=c, bus=bus, tol=tol)
    lies = tuple(
        misreport(tenants, capacity_gpu_s_per_s, eq, tenant=k, factor=f, floor_usd=c, tol=tol)
        for k in range(len(tenants))
        for f in factors
    )
    return MarketReport(
        float(capacity_gpu_s_per_s),
        c,
        eq,
        social_optimum(tenants, capacity_gpu_s_per_s, cost_usd_per_gpu_s=c),
        flat(tenants, capacity_gpu_s_per_s, price_usd_per_gpu_s=c),
        lies,
    )
