"""Clearing a multi-tenant serving market: tâtonnement, the social optimum, flat prices, misreports.

Tenants (``tenants.TenantSet``) buy GPU-seconds at one uniform price p (USD per GPU-second); the
operator sells up to ``capacity`` at any price ≥ its reserve ``floor_usd`` (the GPU's cost, or 0).

**Tâtonnement** (``clear``): the dual-ascent step on the relative excess demand z = (D(p) − C)/C,

    p_{k+1} = max(floor, p_k + η_k · z_k),

with the step η_k chosen so the price clears within 100 steps whatever the scale of the demand
curve: (i) *expansion*: until z has changed sign, η doubles each step (η_0 = p_0), so the price
moves geometrically towards the clearing price; (ii) *secant*: once a price with z > 0 and one with
z < 0 bracket the root, η_k = −(p_k − p_{k−1})/(z_k − z_{k−1}) (the secant through the last two
prices), (iii) *safeguard*: when the secant step would leave the bracket, or the same end of the
bracket has been kept twice, the step lands on the bracket's geometric midpoint instead (a bisection
in log-price; from a zero reserve, to an eighth of the upper end). When the price must fall and no
price below it has shown z > 0, the demand at the reserve is queried once: a slack market there
clears at the reserve, otherwise the reserve is the lower end of the bracket (and the secant's
other point). D is continuous and strictly decreasing where positive, so the bracket always holds the
root and its log-width halves at least every third step. Stops when |z| ≤ ``tol`` or when the
price sits at the floor with z ≤ 0 (a slack market: complementary slackness, price = reserve).
Every price tried is published on a ``PriceBus`` under topic ``"market"`` as a GPU-second
``ResourcePrice``, so the price path is on the bus.

**Social optimum** (``social_optimum``): maximise Σ_t [G_t(x_t) − c·x_t] s.t. Σ x_t ≤ C, 0 ≤ x_t,
with G_t the tenant's concave value-of-capacity curve, by SLSQP (scipy) over x/C; cross-checked by
the exact 1-D dual: bisection for the μ ≥ c at which Σ D_t(μ) = C. Flat pricing, misreports and the
whole market run are in ``market``. Welfare is value − the operator's cost of the capacity used (payments are transfers).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from tokenomy.core.bus import PriceBus
from tokenomy.core.errors import ValidationError
from tokenomy.core.prices import GPU_SECOND, PriceSource, PriceVector, ResourcePrice
from tokenomy.economy.tenants import F64, Take, TenantSet

__all__ = [
    "MARKET_TOPIC",
    "Clearing",
    "Optimum",
    "TenantOutcome",
    "check_market",
    "clear",
    "dual_price",
    "outcomes",
    "social_optimum",
    "typical_price",
]

MARKET_TOPIC = "market"
"""The bus topic the clearing price path is published under."""


@dataclass(frozen=True, slots=True)
class TenantOutcome:
    """One tenant's result at a price (per second; rationing applied)."""

    name: str
    allocation_gpu_s_per_s: float
    value_usd_per_s: float
    payment_usd_per_s: float
    surplus_usd_per_s: float


@dataclass(frozen=True, slots=True)
class Clearing:
    """A tâtonnement run.

    Attributes:
        price_usd_per_gpu_s: the last price.
        iterations: price updates made (0 when the start price cleared).
        excess_demand_frac: (D − C)/C at the last price (negative when the market is slack).
        cleared: |excess| ≤ tol, or slack at the floor price.
        price_path_usd_per_gpu_s, excess_path_frac: every price tried and its excess, in order.
        tenants: per-tenant outcome at the last price (charged the price).
        welfare_usd_per_s: Σ value − cost·capacity used (rationed to capacity when excess > 0).
    """

    price_usd_per_gpu_s: float
    iterations: int
    excess_demand_frac: float
    cleared: bool
    price_path_usd_per_gpu_s: tuple[float, ...]
    excess_path_frac: tuple[float, ...]
    tenants: tuple[TenantOutcome, ...]
    welfare_usd_per_s: float


@dataclass(frozen=True, slots=True)
class Optimum:
    """The social optimum.

    Attributes:
        allocation_gpu_s_per_s: per tenant (SLSQP).
        welfare_usd_per_s: SLSQP's welfare.
        shadow_price_usd_per_gpu_s: the marginal value G_t'(x_t) = inverse demand, averaged over the
            tenants served (equal across them at an optimum).
        dual_price_usd_per_gpu_s, dual_welfare_usd_per_s: the exact 1-D dual's price and welfare.
        best_welfare_usd_per_s: the larger of the two (both allocations are feasible).
    """

    allocation_gpu_s_per_s: tuple[float, ...]
    welfare_usd_per_s: float
    shadow_price_usd_per_gpu_s: float
    dual_price_usd_per_gpu_s: float
    dual_welfare_usd_per_s: float
    best_welfare_usd_per_s: float


def check_market(tenants: TenantSet, capacity: float, floor_usd: float) -> None:
    """Raise ``ValidationError`` unless ``tenants`` is a TenantSet, capacity > 0 and the reserve ≥ 0."""
    if not isinstance(tenants, TenantSet):
        raise ValidationError(f"expected a TenantSet; got {type(tenants).__name__}")
    if not (np.isfinite(capacity) and capacity > 0):
        raise ValidationError(f"capacity (GPU-seconds per second) must be > 0; got {capacity!r}")
    if not (np.isfinite(floor_usd) and floor_usd >= 0):
        raise ValidationError(f"floor_usd (reserve price) must be ≥ 0; got {floor_usd!r}")


def outcomes(tenants: TenantSet, take: Take, served_frac: float = 1.0) -> tuple[TenantOutcome, ...]:
    """Per-tenant outcomes of a ``Take`` (charged the price), each scaled by ``served_frac``."""
    f = served_frac
    return tuple(
        TenantOutcome(
            t.name,
            float(f * take.demand_gpu_s_per_s[k]),
            float(f * take.value_usd_per_s[k]),
            float(f * take.charge_usd_per_s[k]),
            float(f * take.utility_usd_per_s[k]),
        )
        for k, t in enumerate(tenants.tenants)
    )


def _welfare(
    tenants: TenantSet, price: float | F64, cost: float, capacity: float, v_scale: F64 | float
) -> float:
    take = tenants.take(price, charge_usd_per_gpu_s=cost, v_scale=v_scale)
    d = float(take.demand_gpu_s_per_s.sum())
    return min(1.0, capacity / d if d > 0 else 1.0) * float(take.utility_usd_per_s.sum())


def typical_price(tenants: TenantSet) -> float:
    """The price at which the median tenant's median request of mean size has zero surplus."""
    mean_load = np.sum(tenants.weight * tenants.load_gpu_s, axis=1)
    return float(np.median(tenants.quality * np.exp(tenants.mu) / mean_load))


def clear(
    tenants: TenantSet,
    capacity_gpu_s_per_s: float,
    *,
    floor_usd: float = 0.0,
    cost_usd_per_gpu_s: float = 0.0,
    start_usd: float | None = None,
    tol: float = 1e-4,
    max_iter: int = 100,
    v_scale: F64 | float = 1.0,
    bus: PriceBus | None = None,
) -> Clearing:
    """Tâtonnement to the market-clearing price (module docstring for the step rule).

    Args:
        tenants: the tenants.
        capacity_gpu_s_per_s: GPU-seconds per second for sale, > 0.
        floor_usd: the reserve price (USD per GPU-second); the price never goes below it.
        cost_usd_per_gpu_s: the operator's cost, for welfare.
        start_usd: first price (default: ``max(floor, typical_price)``).
        tol: |excess demand| / capacity at which the market counts as cleared.
        max_iter: most price updates.
        v_scale: scales the V each tenant acts on (scalar or (K,)); 1 is truthful.
        bus: when given, every price tried is published on it (topic ``"market"``, time = step).

    Returns:
        ``Clearing`` (``cleared`` False when ``max_iter`` ran out: scarcity of steps is a value).

    Raises:
        ValidationError: capacity ≤ 0, a negative floor, tol ≤ 0 or max_iter < 0.
    """
    check_market(tenants, capacity_gpu_s_per_s, floor_usd)
    if not tol > 0 or max_iter < 0:
        raise ValidationError(f"clear needs tol > 0 and max_iter ≥ 0; got {tol!r}, {max_iter!r}")
    cap = float(capacity_gpu_s_per_s)

    def excess(p: float) -> float:
        return float(tenants.demand(p, v_scale).sum() - cap) / cap

    p = float(start_usd) if start_usd is not None else typical_price(tenants)
    p = max(floor_usd, p)
    if p <= 0:
        p = tenants.price_bracket()[0]
    prices, zs = [p], [excess(p)]
    lo: tuple[float, float] | None = None  # highest price seen with z > 0
    hi: tuple[float, float] | None = None  # lowest price seen with z < 0
    eta, side, same_side = p, 0, 0
    for _ in range(max_iter):
        z = zs[-1]
        if abs(z) <= tol or (z < 0 and p <= floor_usd):
            break
        anchor: tuple[float, float] | None = None  # the secant's other point when not the last price
        now = 1 if z > 0 else -1
        same_side = same_side + 1 if now == side else 0
        side = now
        if z > 0 and (lo is None or p > lo[0]):
            lo = (p, z)
        if z < 0 and (hi is None or p < hi[0]):
            hi = (p, z)
        if z < 0 and lo is None:  # falling with no lower bracket: is the market slack at the reserve?
            z_floor = excess(floor_usd)
            if z_floor <= 0:
                nxt = floor_usd
            else:
                lo = anchor = (floor_usd, z_floor)
        if lo is None or hi is None:  # expansion: the sign of z has not changed yet
            nxt = max(floor_usd, p + eta * z)
            eta *= 2.0
        else:
            p0, z0 = anchor if anchor is not None else (prices[-2], zs[-2])
            anchor = None
            nxt = p - z * (p - p0) / (z - z0) if z != z0 else float("nan")
            # Safeguard: a secant step outside the bracket, or the third step in a row on one side
            # of the root (the far end kept twice), lands on the log-midpoint instead.
            if not (lo[0] < nxt < hi[0]) or same_side >= 2:
                mid = np.sqrt(lo[0] * hi[0]) if lo[0] > 0 else hi[0] / 8  # log-midpoint; 0 has none
                nxt, same_side = float(mid), 0
        p = float(nxt)
        prices.append(p)
        zs.append(excess(p))
    if bus is not None:
        for k, price in enumerate(prices):
            res = ResourcePrice(GPU_SECOND, price, "s", PriceSource.DISCOVERED, time_s=float(k))
            bus.publish(MARKET_TOPIC, PriceVector(resources=(res,)), time_s=float(k))
    z = zs[-1]
    take = tenants.take(p, charge_usd_per_gpu_s=p, v_scale=v_scale)
    served = min(1.0, 1.0 / (1.0 + z)) if z > 0 else 1.0
    return Clearing(
        price_usd_per_gpu_s=p,
        iterations=len(prices) - 1,
        excess_demand_frac=z,
        cleared=abs(z) <= tol or (z < 0 and p <= floor_usd),
        price_path_usd_per_gpu_s=tuple(prices),
        excess_path_frac=tuple(zs),
        tenants=outcomes(tenants, take, served),
        welfare_usd_per_s=_welfare(tenants, p, cost_usd_per_gpu_s, cap, v_scale),
    )


def dual_price(
    tenants: TenantSet, capacity_gpu_s_per_s: float, *, floor_usd: float = 0.0, iters: int = 200
) -> float:
    """The exact 1-D dual: the μ ≥ floor with Σ D_t(μ) = C (μ = floor when the market is slack).

    Bisection in log-price to float precision (``iters`` halvings of the bracket).
    """
    check_market(tenants, capacity_gpu_s_per_s, floor_usd)
    cap = float(capacity_gpu_s_per_s)
    lo, hi = tenants.price_bracket(floor_usd)
    if tenants.demand(lo).sum() <= cap:
        return lo if floor_usd > 0 else 0.0
    a, b = np.log(lo), np.log(hi)
    for _ in range(iters):
        m = (a + b) / 2
        if m in (a, b):
            break
        a, b = (m, b) if tenants.demand(np.exp(m)).sum() > cap else (a, m)
    return float(np.exp((a + b) / 2))


def social_optimum(
    tenants: TenantSet,
    capacity_gpu_s_per_s: float,
    *,
    cost_usd_per_gpu_s: float = 0.0,
) -> Optimum:
    """Maximise Σ_t G_t(x_t) − c·Σ x_t s.t. Σ x_t ≤ C by SLSQP, cross-checked by the 1-D dual.

    G_t(x) is tenant t's gross value when it buys its best x GPU-seconds per second (its requests in
    falling order of V·q/s, i.e. its demand at the price where it buys x); G_t'(x) is that price.

    Raises:
        ValidationError: capacity ≤ 0 or a negative cost.
    """
    check_market(tenants, capacity_gpu_s_per_s, cost_usd_per_gpu_s)
    cap, c = float(capacity_gpu_s_per_s), float(cost_usd_per_gpu_s)
    top = tenants.demand(tenants.price_bracket(c)[0]) / cap  # nobody buys more than at the floor
    _, p_hi = tenants.price_bracket(c)
    scale = max(float(tenants.take(0.0, charge_usd_per_gpu_s=0.0).value_usd_per_s.sum()), 1e-300)

    def value(y: F64) -> tuple[float, F64]:
        price = tenants.price_for(y * cap, floor_usd=c)
        take = tenants.take(price, charge_usd_per_gpu_s=c)
        grad = -(np.minimum(price, p_hi) - c) * cap / scale
        return -float(take.utility_usd_per_s.sum()) / scale, grad

    y0 = top / max(float(top.sum()), 1.0)
    res = minimize(
        value,
        y0,
        jac=True,
        method="SLSQP",
        bounds=list(zip(np.zeros(len(tenants)), top, strict=True)),
        constraints=[{"type": "ineq", "fun": lambda y: 1.0 - y.sum(), "jac": lambda y: -np.ones_like(y)}],
        options={"ftol": 1e-14, "maxiter": 500},
    )
    y = np.clip(np.asarray(res.x, dtype=np.float64), 0.0, top)
    y *= min(1.0, 1.0 / y.sum()) if y.sum() > 0 else 1.0  # feasible even if SLSQP ends a hair outside
    price = tenants.price_for(y * cap, floor_usd=c)
    welfare = float(tenants.take(price, charge_usd_per_gpu_s=c).utility_usd_per_s.sum())
    served = y > 1e-9 * max(float(y.max()), 1e-300)
    mu = dual_price(tenants, cap, floor_usd=c)
    dual_w = _welfare(tenants, mu, c, cap, 1.0)
    return Optimum(
        allocation_gpu_s_per_s=tuple(float(v) for v in y * cap),
        welfare_usd_per_s=welfare,
        shadow_price_usd_per_gpu_s=float(np.mean(price[served])) if served.any() else c,
        dual_price_usd_per_gpu_s=mu,
        dual_welfare_usd_per_s=dual_w,
        best_welfare_usd_per_s=max(welfare, dual_w),
    )
