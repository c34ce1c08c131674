"""Equimarginal allocation (Eq. 2) and its prices as Lagrange multipliers (Eq. 3).

Problem: choose tokens t_i ≥ 0 for uses i with concave curves Q_i to

    maximise  V·Σ Q_i(t_i) − Σ π_i t_i   subject to   A t ≤ b,

where each resource (compute C, latency L, risk R) is either *priced* (its given price enters the
linear cost π: money at face value, λ for latency, ρ for risk) or *capped* (a row of A with cap b and
an unknown multiplier μ). With a budget, the compute row is the full price
p_i = c_i + λ·l_i + ρ·r_i and π = 0 for it (the budget of Eq. 2's Cobb–Douglas oracle).

KKT: V·Q_i'(t_i) = π_i + Σ_k μ_k A_ki for t_i > 0 (≤ for t_i = 0), μ ≥ 0, A t ≤ b, μ·(b − A t) = 0.
Eq. 3's implied prices are (1, λ, ρ) = (μ_C, μ_L, μ_R)/μ_C (with μ_C = 1 when money is priced).

Method: for fixed μ the allocation is closed-form, t_i = (Q_i')⁻¹((π_i + μ·A_i)/V), so stationarity
holds by construction. One capped resource: μ by Brent's method on the monotone excess A t(μ) − b.
Several: projected Newton on the active set of the dual (Jacobian from Q''), which converges
quadratically from the single-constraint solutions. Residuals of every KKT condition are returned.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import brentq

from tokenomy.core._checks import check_nonneg, check_nonneg_array
from tokenomy.core.curves import Curve, CustomCurve, LogCurve, PowerCurve, SatExpCurve
from tokenomy.core.errors import InfeasibleError, ValidationError

__all__ = ["Allocation", "KKTResiduals", "allocate", "cobb_douglas_allocation"]


@dataclass(frozen=True, slots=True)
class KKTResiduals:
    """Relative residuals of the KKT conditions (0 at an exact optimum)."""

    stationarity: float
    primal: float
    complementary: float
    dual: float

    @property
    def max(self) -> float:
        return max(self.stationarity, self.primal, self.complementary, self.dual)


@dataclass(frozen=True, slots=True)
class Allocation:
    """The solution of ``allocate``.

    Attributes:
        tokens: t_i per use.
        mu_c, mu_l, mu_r: multipliers of the budget, latency and risk constraints (μ_C = 1 when money
            is priced rather than capped; μ_L, μ_R = 0 for a priced or slack resource).
        lam_usd_per_s, rho_usd: the implied prices μ_L/μ_C, μ_R/μ_C (or the given ones). A slack cap
            has price 0. When the budget is slack (μ_C = 0) while a latency or risk cap binds, money is
            worth nothing at the margin and no finite USD price expresses the cap: the price is
            ``math.inf`` (read μ_L, μ_R directly then).
        full_price_usd: p_i = c_i + λ·l_i + ρ·r_i per token.
        spend_usd, latency_s, risk: Σ c_i t_i, Σ l_i t_i, Σ r_i t_i.
        value: V·Σ Q_i(t_i) (NaN when a custom curve has no value function).
        residuals: KKT residuals.
    """

    tokens: NDArray[np.float64]
    mu_c: float
    mu_l: float
    mu_r: float
    lam_usd_per_s: float
    rho_usd: float
    full_price_usd: NDArray[np.float64]
    spend_usd: float
    latency_s: float
    risk: float
    value: float
    residuals: KKTResiduals


def _vec(name: str, x: ArrayLike | None, n: int) -> NDArray[np.float64]:
    if x is None:
        return np.zeros(n)
    arr = check_nonneg_array(name, x)
    arr = np.broadcast_to(arr, (n,)).astype(np.float64) if arr.ndim == 0 else arr
    if arr.shape != (n,):
        raise ValidationError(f"{name} must have one entry per curve ({n}), got shape {arr.shape}")
    return arr


_NONE = object()
_CURVES = (LogCurve, PowerCurve, SatExpCurve, CustomCurve)


class _Problem:
    def __init__(
        self,
        curves: Sequence[Curve],
        v: float,
        pi: NDArray[np.float64],
        rows: NDArray[np.float64],
        caps: NDArray[np.float64],
    ) -> None:
        self.curves, self.v, self.pi, self.rows, self.caps = curves, v, pi, rows, caps

    def tokens(self, mu: NDArray[np.float64]) -> NDArray[np.float64]:
        price = self.pi + mu @ self.rows
        return np.array([c.inv_deriv(p / self.v) for c, p in zip(self.curves, price, strict=True)])

    def excess(self, mu: NDArray[np.float64]) -> NDArray[np.float64]:
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            t = self.tokens(mu)
            return (self.rows @ t - self.caps) / self.caps

    def jacobian(self, mu: NDArray[np.float64], active: NDArray[np.bool_]) -> NDArray[np.float64]:
        t = self.tokens(mu)
        pos = t > 0
        d = np.zeros(len(t))
        d[pos] = [1.0 / (self.v * self.curves[int(i)].deriv2(t[i])) for i in np.flatnonzero(pos)]
        rows = self.rows[active] / self.caps[active, None]
        return np.asarray((rows * d) @ self.rows[active].T)


def _solve_one(p: _Problem, k: int, mu: NDArray[np.float64], inner: tuple[int, ...] = ()) -> float:
    """μ_k ≥ 0 that zeroes the excess of constraint k with the other μ fixed (0 if slack at μ_k=0).

    With ``inner`` the multipliers on those constraints are re-solved (nested) for every trial μ_k,
    so the root is that of the partially minimised dual, which is convex in μ_k: its derivative,
    the excess of k, is monotone even where the joint Jacobian is singular.
    """

    def f(x: float) -> float:
        m = mu.copy()
        m[k] = x
        if inner:
            try:
                m = _solve_nested(p, inner, m)
            except InfeasibleError:
                return 1e300  # the inner caps cannot bound the allocation at this μ_k: raise it
        e = p.excess(m)[k]
        return 1e300 if math.isnan(e) else float(e)

    if f(0.0) <= 0:
        return 0.0
    hi = 1.0
    while f(hi) > 0:
        hi *= 4.0
        if hi > 1e300:
            raise InfeasibleError(f"constraint {k} cannot be met by any price (is its cap > 0?)")
    lo = hi / 4.0
    while lo > 1e-300 and f(lo) <= 0:
        lo /= 4.0
    if f(lo) <= 0:
        return lo
    return float(brentq(f, lo, hi, xtol=1e-300, rtol=1e-15, maxiter=1000))


def _solve_nested(p: _Problem, active: tuple[int, ...], mu: NDArray[np.float64]) -> NDArray[np.float64]:
    """Multipliers on ``active`` by nested one-dimensional roots (slow, exact; at most 3 levels)."""
    mu = mu.copy()
    k, rest = active[0], active[1:]
    mu[k] = _solve_one(p, k, mu, rest)
    return _solve_nested(p, rest, mu) if rest else mu


def _solve_subset(p: _Problem, active: tuple[int, ...]) -> NDArray[np.float64]:
    """Multipliers with μ_k = 0 off ``active`` and the ``active`` constraints made tight where possible."""
    mu = np.zeros(len(p.caps))
    if not active:
        return mu
    # Block-coordinate passes give a feasible, near-optimal start; Newton on the tight set polishes.
    for _ in range(200 if len(active) > 1 else 1):
        old = mu.copy()
        for k in active:
            mu[k] = _solve_one(p, k, mu)
        if np.allclose(mu, old, rtol=1e-10, atol=0):
            break
    if len(active) == 1:
        return mu  # Brent's method already made the one constraint tight to machine precision
    for _ in range(50):
        tight = np.zeros(len(mu), dtype=bool)
        tight[list(active)] = True
        tight &= mu > 0
        e = p.excess(mu)
        if not tight.any() or np.max(np.abs(e[tight])) < 1e-13:
            break
        jac = p.jacobian(mu, tight)
        if not (np.all(np.isfinite(jac)) and np.all(np.isfinite(e[tight]))):
            break
        step = np.linalg.lstsq(jac, -e[tight], rcond=None)[0]
        base = float(np.max(np.abs(e[tight])))
        scale = 1.0
        while scale > 1e-6:
            trial = mu.copy()
            trial[tight] = np.maximum(mu[tight] + scale * step, 0.0)
            if np.max(np.abs(p.excess(trial)[tight])) < base:
                mu = trial
                break
            scale /= 2
        else:
            break
    return mu


def _is_kkt(p: _Problem, mu: NDArray[np.float64], tol: float = 1e-10) -> bool:
    e = p.excess(mu)
    if not np.all(np.isfinite(e)):
        return False
    return bool(np.all(e <= tol) and np.all(np.abs(e[mu > 0]) <= tol))


def _solve(p: _Problem) -> NDArray[np.float64]:
    """KKT multipliers by active-set enumeration (at most 3 constraints, so at most 8 sets).

    For a given set S the multipliers off S are 0 and those on S make S's constraints tight; the first
    set (smallest first) whose solution is primal feasible with μ ≥ 0 satisfies every KKT condition,
    which for this concave program is optimal. Enumeration also handles degenerate cases (two caps on
    the same funded use) where a joint Newton step is singular.
    """
    k_n = len(p.caps)
    if k_n == 1:
        return _solve_subset(p, (0,))
    best: NDArray[np.float64] | None = None
    best_err = math.inf
    for size in range(k_n + 1):
        for subset in itertools.combinations(range(k_n), size):
            with np.errstate(all="ignore"):
                try:
                    mu = _solve_subset(p, subset)
                except InfeasibleError:
                    continue  # these constraints alone cannot bound the allocation; a larger set may
                if _is_kkt(p, mu):
                    return mu
                e = p.excess(mu)
            err = (
                float(np.max(np.abs(np.where(mu > 0, e, np.maximum(e, 0.0)))))
                if np.all(np.isfinite(e))
                else math.inf
            )
            if err < best_err:
                best, best_err = mu, err
    # Degenerate sets (two caps that bind on the same funded use, a use at its corner) can leave the
    # joint Newton step singular; the nested roots are exact there. Tried only when the fast path fails.
    for size in range(2, k_n + 1):
        for subset in itertools.combinations(range(k_n), size):
            with np.errstate(all="ignore"):
                try:
                    mu = _solve_nested(p, subset, np.zeros(k_n))
                except InfeasibleError:
                    continue
                if _is_kkt(p, mu):
                    return mu
    if best is None:
        raise InfeasibleError("no set of binding constraints bounds the allocation")
    return best


def allocate(
    curves: Sequence[Curve],
    cost_usd_per_token: ArrayLike,
    *,
    latency_s_per_token: ArrayLike | None = None,
    risk_per_token: ArrayLike | None = None,
    v_usd: float = 1.0,
    budget_usd: float | None = None,
    latency_cap_s: float | None = None,
    risk_cap: float | None = None,
    lam_usd_per_s: float = 0.0,
    rho_usd: float = 0.0,
) -> Allocation:
    """Equimarginal allocation of tokens over concave uses (Eq. 2) with its multipliers (Eq. 3).

    Args:
        curves: one concave response curve per use.
        cost_usd_per_token: c_i.
        latency_s_per_token, risk_per_token: l_i and r_i (zeros when omitted).
        v_usd: V, USD per unit of quality.
        budget_usd: cap on Σ (c_i + λ·l_i + ρ·r_i)·t_i over the *priced* resources; ``None`` prices
            money at face value instead.
        latency_cap_s, risk_cap: caps on Σ l_i t_i and Σ r_i t_i; ``None`` prices the resource at
            ``lam_usd_per_s`` or ``rho_usd`` instead.

    Returns:
        The allocation, its multipliers, the implied (λ, ρ) and the KKT residuals.

    Raises:
        ValidationError: a bad input (NaN, negative, a price given for a capped resource).
        InfeasibleError: the objective is unbounded (a use costs nothing and has no cap).
    """
    if isinstance(curves, (str, bytes)) or not isinstance(curves, Sequence):
        raise ValidationError(f"curves must be a sequence of response curves, got {curves!r:.80}")
    bad = next((cv for cv in curves if not isinstance(cv, _CURVES)), _NONE)
    if bad is not _NONE:
        raise ValidationError(
            "curves must hold LogCurve, PowerCurve, SatExpCurve or CustomCurve values;"
            f" got an entry {bad!r:.80}"
        )
    n = len(curves)
    if n == 0:
        raise ValidationError("allocate needs at least one curve")
    v = check_nonneg("V (v_usd)", v_usd)
    if v == 0:
        raise ValidationError("V (v_usd) must be > 0 for an allocation (at V = 0 nothing is bought)")
    c = _vec("cost_usd_per_token", cost_usd_per_token, n)
    l_ = _vec("latency_s_per_token", latency_s_per_token, n)
    r = _vec("risk_per_token", risk_per_token, n)
    lam = check_nonneg("λ (lam_usd_per_s)", lam_usd_per_s)
    rho = check_nonneg("ρ (rho_usd)", rho_usd)
    if latency_cap_s is not None and lam > 0:
        raise ValidationError("give either latency_cap_s (λ is then discovered) or lam_usd_per_s, not both")
    if risk_cap is not None and rho > 0:
        raise ValidationError("give either risk_cap (ρ is then discovered) or rho_usd, not both")
    priced = c + lam * l_ + rho * r
    rows, caps = [], []
    if budget_usd is not None:
        rows.append(priced)
        caps.append(check_nonneg("budget_usd", budget_usd))
        pi = np.zeros(n)
    else:
        pi = priced
    for cap, row, name in ((latency_cap_s, l_, "latency_cap_s"), (risk_cap, r, "risk_cap")):
        if cap is not None:
            rows.append(row)
            caps.append(check_nonneg(name, cap))
    a = np.array(rows).reshape(len(rows), n)
    b = np.array(caps, dtype=np.float64)
    if np.any(b == 0):
        raise InfeasibleError("a cap of 0 admits only the empty allocation; give a cap > 0")
    unpriced = (pi + a.sum(axis=0)) == 0
    if unpriced.any():
        raise InfeasibleError(
            f"use {int(np.flatnonzero(unpriced)[0])} costs nothing and is capped by nothing: "
            "the allocation is unbounded"
        )
    _check_scale(v, pi, a)
    prob = _Problem(curves, v, pi, a, b)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        mu = _solve(prob)
        t = prob.tokens(mu)
    if not np.all(np.isfinite(t)):
        raise InfeasibleError(
            "the allocation is unbounded at the solved prices: a curve's marginal value V·Q'(t) never"
            " falls to its price"
        )
    k = 0
    mu_c = 1.0
    if budget_usd is not None:
        mu_c, k = float(mu[0]), 1
    mu_l = mu_r = 0.0
    if latency_cap_s is not None:
        mu_l, k = float(mu[k]), k + 1
    if risk_cap is not None:
        mu_r = float(mu[k])
    lam_out = lam if latency_cap_s is None else _implied(mu_l, mu_c)
    rho_out = rho if risk_cap is None else _implied(mu_r, mu_c)
    full = c + lam_out * l_ + rho_out * r if math.isfinite(lam_out + rho_out) else priced
    return Allocation(
        tokens=t,
        mu_c=mu_c,
        mu_l=mu_l,
        mu_r=mu_r,
        lam_usd_per_s=lam_out,
        rho_usd=rho_out,
        full_price_usd=full,
        spend_usd=float(c @ t),
        latency_s=float(l_ @ t),
        risk=float(r @ t),
        value=v * float(sum(cv.value(x) for cv, x in zip(curves, t, strict=True))),
        residuals=_residuals(prob, mu, t),
    )


def _check_scale(v: float, pi: NDArray[np.float64], a: NDArray[np.float64]) -> None:
    """Refuse V and prices whose ratio overflows the float range (the tokens would be inf or NaN)."""
    price = pi + a.sum(axis=0)
    low = float(price[price > 0].min(initial=math.inf))
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        ratio = v / low
    if not (math.isfinite(ratio) and ratio < 1e290 and float(price.max(initial=0.0)) < 1e290):
        raise ValidationError(
            f"V (v_usd) = {v!r} over the smallest per-token price {low!r} overflows the float range"
            " (V/price must stay below about 1e290); rescale V and the prices"
        )


def _implied(mu: float, mu_c: float) -> float:
    """Eq. 3: the USD price μ/μ_C of a capped resource; 0 when its cap is slack, ∞ when only money is."""
    if mu <= 0.0:
        return 0.0
    return mu / mu_c if mu_c > 0 else math.inf


def _residuals(p: _Problem, mu: NDArray[np.float64], t: NDArray[np.float64]) -> KKTResiduals:
    price = p.pi + mu @ p.rows
    marginal = np.array([p.v * c.deriv(x) for c, x in zip(p.curves, t, strict=True)])
    scale = np.maximum(price, 1e-300)
    pos = t > 0
    stat = np.zeros(len(t))
    stat[pos] = np.abs(marginal[pos] - price[pos]) / scale[pos]
    stat[~pos] = np.maximum(marginal[~pos] - price[~pos], 0.0) / scale[~pos]
    used = p.rows @ t
    primal = np.maximum(used - p.caps, 0.0) / p.caps
    # Complementary slackness in objective units: μ_k·(b_k − A_k t) against the larger of μ_k·b_k and the
    # objective V·ΣQ, so a multiplier that underflows (a saturated curve) does not read as a violation.
    value = p.v * sum(c.value(x) for c, x in zip(p.curves, t, strict=True))
    scale = np.maximum(np.abs(mu * p.caps), abs(value) if math.isfinite(value) else 0.0)
    slack = np.abs(mu * (p.caps - used)) / np.maximum(scale, 1e-300)
    return KKTResiduals(
        stationarity=float(stat.max(initial=0.0)),
        primal=float(primal.max(initial=0.0)),
        complementary=float(np.where(mu > 0, slack, 0.0).max(initial=0.0)),
        dual=float(np.maximum(-mu, 0.0).max(initial=0.0)),
    )


def cobb_douglas_allocation(alpha: ArrayLike, price_usd: ArrayLike, budget_usd: float) -> NDArray[np.float64]:
    """Closed form for Q = A·Π t_i^α_i under Σ p_i t_i ≤ B: t_i* = (α_i/Σα_j)·B/p_i (the oracle)."""
    a = check_nonneg_array("alpha", alpha)
    p = check_nonneg_array("price_usd", price_usd)
    if np.any(p == 0) or a.sum() == 0:
        raise ValidationError("Cobb–Douglas needs every price > 0 and some alpha > 0")
    return np.asarray(a / a.sum() * check_nonneg("budget_usd", budget_usd) / p)
