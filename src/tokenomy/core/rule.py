"""The allocation rule, Eq. 1: spend on argmax surplus, or on nothing when no surplus is positive.

surplus_i = V·ΔQ_i − ΔC_i − λ·ΔL_i − ρ·(ΔR_i − ΔR_i^irr) − ρ_irr·ΔR_i^irr

The reading of ρ_irr, settled once here for every layer: ΔR^irr is the unrecoverable *part* of ΔR
(0 ≤ ΔR^irr ≤ ΔR) and ρ_irr ≥ ρ is its *whole* price, so recoverable harm costs ρ per unit and
irreversible harm ρ_irr per unit. Written as the paper's Eq. 1, the additional term for the
unrecoverable component is the premium (ρ_irr − ρ)·ΔR^irr; with the default ρ_irr = ρ there is no
premium. This module is the only place the rule is written: ``surplus`` / ``surplus_matrix`` give the
estimated surplus of candidate uses, ``utility_terms`` / ``realised_utility`` the realised utility of
what happened (the same expression over realised quality, cost, latency and harm).

``choose`` decides one request over a handful of ``TokenUse`` objects; ``surplus_matrix`` and
``choose_many`` decide N requests × M uses at once with per-request V (and optionally per-request
λ, ρ, ρ_irr), as numpy arrays. The null option (spend nothing) has surplus 0 and is chosen when every
surplus is ≤ 0; ties between uses go to the lower index, ties with the null option go to the null
option (a use must *strictly* pay for itself).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from tokenomy.core._checks import as_float_array, check_finite_array, check_nonneg, check_nonneg_array
from tokenomy.core.errors import ValidationError
from tokenomy.core.prices import PriceVector
from tokenomy.core.uses import TokenUse

__all__ = [
    "NULL",
    "Choice",
    "UtilityTerms",
    "choose",
    "choose_many",
    "crossover_value",
    "realised_utility",
    "risk_cost",
    "surplus",
    "surplus_matrix",
    "utility_terms",
]

NULL = -1
"""Index returned by ``choose_many`` for the null option (spend nothing)."""


def surplus(use: TokenUse, prices: PriceVector) -> float:
    """Eq. 1 surplus of one use at one price vector, in USD.

    Raises:
        ValidationError: ``use`` is not a ``TokenUse``, ``prices`` not a ``PriceVector``, or the
            surplus overflows the float range (prices and effects each finite, their product not).
    """
    if not isinstance(use, TokenUse):
        raise ValidationError(f"surplus needs a TokenUse, got {use!r:.80}")
    if not isinstance(prices, PriceVector):
        raise ValidationError(f"surplus needs a PriceVector, got {prices!r:.80}")
    return _checked(_surplus(use, prices), use, prices)


def _surplus(use: TokenUse, prices: PriceVector) -> float:
    return (
        prices.v_usd * use.dq
        - use.dc_usd
        - prices.lam_usd_per_s * use.dl_s
        - (prices.rho_usd * use.dr + (prices.rho_irr - prices.rho_usd) * use.dr_irr)
    )


def _checked(s: float, use: TokenUse, prices: PriceVector) -> float:
    if math.isfinite(s):
        return s
    raise ValidationError(
        f"the surplus of TokenUse {use.name!r} overflows the float range ({s!r}): V·dq ="
        f" {prices.v_usd!r}·{use.dq!r}, dc_usd = {use.dc_usd!r}, λ·dl_s = {prices.lam_usd_per_s!r}·{use.dl_s!r},"
        f" ρ, ρ_irr = {prices.rho_usd!r}, {prices.rho_irr!r} on dr = {use.dr!r}; give prices and effects"
        " whose products stay below about 1e300"
    )


def risk_cost(dr: float, dr_irr: float, rho_usd: float, rho_irr_usd: float) -> float:
    """USD price of harm ``dr`` of which ``dr_irr`` is irreversible: ρ·(dr − dr_irr) + ρ_irr·dr_irr.

    Raises:
        ValidationError: a value is not a finite number ≥ 0, ``dr_irr`` > ``dr`` (it is a part of
            it), ρ_irr < ρ, or the cost overflows the float range.
    """
    try:
        ok = 0.0 <= dr_irr <= dr * (1 + 1e-12) + 1e-15 < math.inf and 0.0 <= rho_usd <= rho_irr_usd < math.inf
    except TypeError:
        ok = False
    if not ok:
        _refuse_risk(dr, dr_irr, rho_usd, rho_irr_usd)
    cost = rho_usd * dr + (rho_irr_usd - rho_usd) * dr_irr
    if not math.isfinite(cost):
        raise ValidationError(
            f"risk_cost overflows the float range: ρ = {rho_usd!r}, ρ_irr = {rho_irr_usd!r},"
            f" dr = {dr!r}, dr_irr = {dr_irr!r}"
        )
    return float(cost)


def _refuse_risk(dr: object, dr_irr: object, rho_usd: object, rho_irr_usd: object) -> None:
    where = "risk_cost"
    d = check_nonneg("dr", dr, where=where)  # type: ignore[arg-type]
    d_irr = check_nonneg("dr_irr", dr_irr, where=where)  # type: ignore[arg-type]
    rho = check_nonneg("ρ (rho_usd)", rho_usd, where=where)  # type: ignore[arg-type]
    rho_irr = check_nonneg("ρ_irr (rho_irr_usd)", rho_irr_usd, where=where)  # type: ignore[arg-type]
    if d_irr > d * (1 + 1e-12) + 1e-15:
        raise ValidationError(
            f"dr_irr in {where} is the irreversible part of dr, so it must be ≤ dr = {d!r}; got {d_irr!r}"
        )
    if rho_irr < rho:
        raise ValidationError(
            f"ρ_irr (rho_irr_usd) in {where} must be ≥ ρ (rho_usd) = {rho!r}; got {rho_irr!r}"
        )
    raise ValidationError(
        f"{where}: bad input dr={dr!r}, dr_irr={dr_irr!r}, ρ={rho_usd!r}, ρ_irr={rho_irr_usd!r}"
    )


@dataclass(frozen=True, slots=True)
class Choice:
    """The outcome of Eq. 1 for one request.

    Attributes:
        index: position of the chosen use in the candidates, or ``None`` for the null option.
        name: the chosen use's name, or ``None``.
        surplus_usd: the chosen use's surplus (0.0 for the null option).
        surpluses_usd: every candidate's surplus, in candidate order.
    """

    index: int | None
    name: str | None
    surplus_usd: float
    surpluses_usd: tuple[float, ...]

    @property
    def spends(self) -> bool:
        """True unless the null option was chosen."""
        return self.index is not None


def choose(uses: Sequence[TokenUse], prices: PriceVector) -> Choice:
    """Apply Eq. 1 to one request's candidate uses.

    Args:
        uses: the candidates (may be empty: then the null option is chosen).
        prices: the price vector in force.

    Returns:
        The chosen use, or the null option when every surplus is ≤ 0.

    Raises:
        ValidationError: ``uses`` is not a sequence of ``TokenUse``, ``prices`` is not a
            ``PriceVector``, or a surplus overflows the float range.
    """
    if isinstance(uses, (str, bytes)) or not isinstance(uses, Sequence):
        raise ValidationError(f"uses must be a sequence of TokenUse, got {uses!r:.80}")
    for u in uses:
        if not isinstance(u, TokenUse):
            raise ValidationError(f"uses must be a sequence of TokenUse; got an entry {u!r:.80}")
    if not isinstance(prices, PriceVector):
        raise ValidationError(f"choose needs a PriceVector, got {prices!r:.80}")
    surpluses = tuple(_checked(_surplus(u, prices), u, prices) for u in uses)
    best = max(range(len(uses)), key=surpluses.__getitem__, default=None)
    if best is None or surpluses[best] <= 0.0:
        return Choice(None, None, 0.0, surpluses)
    return Choice(best, uses[best].name, surpluses[best], surpluses)


def crossover_value(a: TokenUse, b: TokenUse, prices: PriceVector) -> float:
    """The value V* at which ``a`` and ``b`` have equal surplus under the other prices.

    Computed in decimal arithmetic on the shortest decimal form of each input, so inputs written in
    decimal (q = 0.7, 0.9) give the exact decimal answer (V* = 20, not 19.999999999999996).
    Returns ``inf`` when both have the same ``dq`` (V cannot separate them).

    Raises:
        ValidationError: ``a`` or ``b`` is not a ``TokenUse`` or ``prices`` not a ``PriceVector``.
    """

    for name, u in (("a", a), ("b", b)):
        if not isinstance(u, TokenUse):
            raise ValidationError(f"crossover_value {name} must be a TokenUse, got {u!r:.80}")
    if not isinstance(prices, PriceVector):
        raise ValidationError(f"crossover_value needs a PriceVector, got {prices!r:.80}")

    def d(x: float) -> Decimal:
        return Decimal(repr(float(x)))

    def cost(u: TokenUse) -> Decimal:
        return (
            d(u.dc_usd)
            + d(prices.lam_usd_per_s) * d(u.dl_s)
            + d(prices.rho_usd) * d(u.dr)
            + (d(prices.rho_irr) - d(prices.rho_usd)) * d(u.dr_irr)
        )

    if a.dq == b.dq:
        return float("inf")
    return float((cost(b) - cost(a)) / (d(b.dq) - d(a.dq)))


def _price_column(name: str, value: ArrayLike, n: int) -> NDArray[np.float64] | float:
    arr = check_nonneg_array(name, value)
    if arr.ndim == 0:
        return float(arr)
    if arr.shape != (n,):
        raise ValidationError(f"{name} must be a scalar or have shape ({n},), got shape {arr.shape}")
    return arr[:, None]


def surplus_matrix(
    v_usd: ArrayLike,
    dq: ArrayLike,
    dc_usd: ArrayLike = 0.0,
    dl_s: ArrayLike = 0.0,
    dr: ArrayLike = 0.0,
    dr_irr: ArrayLike = 0.0,
    *,
    lam_usd_per_s: ArrayLike = 0.0,
    rho_usd: ArrayLike = 0.0,
    rho_irr_usd: ArrayLike | None = None,
    validate: bool = True,
) -> NDArray[np.float64]:
    """Eq. 1 surpluses for N requests × M uses.

    Args:
        v_usd: V per request, shape (N,) (or a scalar, then N comes from ``dq``).
        dq: quality gains, shape (N, M) or (M,) when they do not depend on the request.
        dc_usd, dl_s, dr, dr_irr: broadcastable to (N, M); all ≥ 0 (``dr_irr`` is the irreversible
            part of ``dr``; it is not checked against ``dr`` here, ``TokenUse`` checks it).
        lam_usd_per_s, rho_usd, rho_irr_usd: scalars or shape (N,); ρ_irr defaults to ρ.
        validate: check every input for NaN, infinity and negative values, and the result for
            overflow (O(N·M)); without it a string is still refused but NaN and inf pass through.

    Returns:
        Array of shape (N, M), USD.

    Raises:
        ValidationError: a shape does not broadcast, a value is not a number, NaN, infinite or
            negative, or (validating) a surplus overflows the float range.
    """
    dq_arr = as_float_array("dq", dq)
    v_arr = as_float_array("V (v_usd)", v_usd)
    if dq_arr.ndim not in (1, 2):
        raise ValidationError(f"dq must have shape (N, M) or (M,), got shape {dq_arr.shape}")
    n = dq_arr.shape[0] if dq_arr.ndim == 2 else (v_arr.shape[0] if v_arr.ndim == 1 else 1)
    m = dq_arr.shape[-1]
    if validate:
        check_finite_array("dq", dq_arr)
        v_arr = check_nonneg_array("V (v_usd)", v_arr)
    if v_arr.ndim == 0:
        v_arr = np.full(n, float(v_arr))
    if v_arr.shape != (n,):
        raise ValidationError(f"V (v_usd) must have shape ({n},) to match dq, got shape {v_arr.shape}")
    lam = _price_column("λ (lam_usd_per_s)", lam_usd_per_s, n)
    rho = _price_column("ρ (rho_usd)", rho_usd, n)
    rho_irr = rho if rho_irr_usd is None else _price_column("ρ_irr (rho_irr_usd)", rho_irr_usd, n)
    terms = []
    for name, val in (("dc_usd", dc_usd), ("dl_s", dl_s), ("dr", dr), ("dr_irr", dr_irr)):
        arr = check_nonneg_array(name, val) if validate else as_float_array(name, val)
        try:
            np.broadcast_shapes(arr.shape, (n, m))
        except ValueError:
            raise ValidationError(f"{name} must broadcast to ({n}, {m}), got shape {arr.shape}") from None
        terms.append(arr)
    dc, dl, r, r_irr = terms
    # Non-V cost first: when every term is per-use (M,), this stays O(M) and the (N, M) work is one
    # multiply and one subtract, written in place.
    with np.errstate(over="ignore", invalid="ignore"):
        cost = dc + lam * dl + rho * r + (rho_irr - rho) * r_irr
        out = np.multiply(v_arr[:, None], dq_arr, out=np.empty((n, m)))
        out -= cost
        # a finite sum means every entry is finite (NaN and inf propagate): the exact test runs only if not
        finite = not validate or math.isfinite(float(out.sum())) or bool(np.isfinite(out).all())
    if not finite:
        i, j = (int(k) for k in np.argwhere(~np.isfinite(out))[0])
        raise ValidationError(
            f"the surplus of request {i}, use {j} overflows the float range ({float(out[i, j])!r});"
            " give prices and effects whose products stay below about 1e300"
        )
    return out


def choose_many(
    v_usd: ArrayLike,
    dq: ArrayLike,
    dc_usd: ArrayLike = 0.0,
    dl_s: ArrayLike = 0.0,
    dr: ArrayLike = 0.0,
    dr_irr: ArrayLike = 0.0,
    *,
    lam_usd_per_s: ArrayLike = 0.0,
    rho_usd: ArrayLike = 0.0,
    rho_irr_usd: ArrayLike | None = None,
    validate: bool = True,
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Eq. 1 choice for N requests × M uses (arguments as ``surplus_matrix``).

    Returns:
        ``(index, surplus_usd)``: the chosen use per request (``NULL`` = -1 for the null option)
        and its surplus (0.0 for the null option), each of shape (N,). With no uses (M = 0) every
        request gets the null option, as ``choose`` does for an empty candidate list.
    """
    s = surplus_matrix(
        v_usd,
        dq,
        dc_usd,
        dl_s,
        dr,
        dr_irr,
        lam_usd_per_s=lam_usd_per_s,
        rho_usd=rho_usd,
        rho_irr_usd=rho_irr_usd,
        validate=validate,
    )
    if s.shape[1] == 0:
        return np.full(s.shape[0], NULL, dtype=np.int64), np.zeros(s.shape[0])
    idx = np.argmax(s, axis=1)
    best = np.take_along_axis(s, idx[:, None], axis=1)[:, 0]
    spend = best > 0.0
    return np.where(spend, idx, NULL).astype(np.int64), np.where(spend, best, 0.0)


@dataclass(frozen=True, slots=True)
class UtilityTerms:
    """Realised Eq. 1 utility split into its terms, USD (each an array of the broadcast shape).

    Attributes:
        value_usd: V·Q.
        cost_usd: C.
        latency_cost_usd: λ·L.
        risk_cost_usd: ρ·(R − R_irr) + ρ_irr·R_irr.
    """

    value_usd: NDArray[np.float64]
    cost_usd: NDArray[np.float64]
    latency_cost_usd: NDArray[np.float64]
    risk_cost_usd: NDArray[np.float64]

    @property
    def utility_usd(self) -> NDArray[np.float64]:
        """value − cost − latency cost − risk cost.

        Raises:
            ValidationError: the difference of finite terms overflows the float range.
        """
        with np.errstate(over="ignore", invalid="ignore"):
            out: NDArray[np.float64] = (
                self.value_usd - self.cost_usd - self.latency_cost_usd - self.risk_cost_usd
            )
        _refuse_overflow(
            "realised utility",
            out,
            (self.value_usd, self.cost_usd, self.latency_cost_usd, self.risk_cost_usd),
        )
        return out


def _refuse_overflow(what: str, out: NDArray[np.float64], inputs: Sequence[NDArray[np.float64]]) -> None:
    """A ValidationError where ``out`` is infinite or NaN though every input there is finite.

    One vectorised pass over ``out`` when nothing overflowed; unknown inputs (NaN) still propagate.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        if math.isfinite(float(np.sum(out))):  # NaN and inf propagate into the sum
            return
    bad = ~np.isfinite(out)
    for arr in inputs:
        bad &= np.broadcast_to(np.isfinite(arr), out.shape)
    if bad.any():
        at = tuple(int(k) for k in np.argwhere(bad)[0])
        where = f" at index {at[0] if len(at) == 1 else at}" if at else ""
        raise ValidationError(
            f"the {what}{where} overflows the float range ({float(out[at])!r}) although its inputs are"
            " finite; give prices and outcomes whose products stay below about 1e300"
        )


def utility_terms(
    v_usd: ArrayLike,
    quality: ArrayLike,
    cost_usd: ArrayLike = 0.0,
    latency_s: ArrayLike = 0.0,
    harm: ArrayLike = 0.0,
    harm_irr: ArrayLike = 0.0,
    *,
    lam_usd_per_s: ArrayLike = 0.0,
    rho_usd: ArrayLike = 0.0,
    rho_irr_usd: ArrayLike | None = None,
) -> UtilityTerms:
    """The terms of realised utility, elementwise over broadcastable arrays (unknown values, NaN, stay NaN).

    The same expression as ``surplus_matrix``, read over what happened instead of what was estimated:
    realised quality, cost, latency and harm events (``harm_irr`` the irreversible part of ``harm``).
    Unknown values (NaN) propagate; a caller that treats unknown as zero says so where it does it.

    Args:
        v_usd, lam_usd_per_s, rho_usd, rho_irr_usd: prices; ρ_irr defaults to ρ.
        quality, cost_usd, latency_s, harm, harm_irr: realised outcome.

    Returns:
        ``UtilityTerms`` whose ``utility_usd`` is the realised Eq. 1 utility.

    Raises:
        ValidationError: a product of finite inputs overflows the float range.
    """
    f = np.float64
    rho = np.asarray(rho_usd, dtype=f)
    rho_irr = rho if rho_irr_usd is None else np.asarray(rho_irr_usd, dtype=f)
    harm_arr = np.asarray(harm, dtype=f)
    harm_irr_arr = np.asarray(harm_irr, dtype=f)
    v_arr, q_arr = np.asarray(v_usd, dtype=f), np.asarray(quality, dtype=f)
    lam_arr, lat_arr = np.asarray(lam_usd_per_s, dtype=f), np.asarray(latency_s, dtype=f)
    with np.errstate(over="ignore", invalid="ignore"):
        value = np.asarray(v_arr * q_arr, dtype=f)
        latency_cost = np.asarray(lam_arr * lat_arr, dtype=f)
        risk = np.asarray(rho * harm_arr + (rho_irr - rho) * harm_irr_arr, dtype=f)
    _refuse_overflow("value V·quality", value, (v_arr, q_arr))
    _refuse_overflow("latency cost λ·latency", latency_cost, (lam_arr, lat_arr))
    _refuse_overflow("risk cost ρ·harm", risk, (rho, rho_irr, harm_arr, harm_irr_arr))
    return UtilityTerms(
        value_usd=value,
        cost_usd=np.asarray(cost_usd, dtype=f),
        latency_cost_usd=latency_cost,
        risk_cost_usd=risk,
    )


def realised_utility(
    v_usd: ArrayLike,
    quality: ArrayLike,
    cost_usd: ArrayLike = 0.0,
    latency_s: ArrayLike = 0.0,
    harm: ArrayLike = 0.0,
    harm_irr: ArrayLike = 0.0,
    *,
    lam_usd_per_s: ArrayLike = 0.0,
    rho_usd: ArrayLike = 0.0,
    rho_irr_usd: ArrayLike | None = None,
) -> NDArray[np.float64]:
    """Realised Eq. 1 utility V·Q − C − λ·L − ρ·(R − R_irr) − ρ_irr·R_irr, elementwise (see ``utility_terms``)."""
    return utility_terms(
        v_usd,
        quality,
        cost_usd,
        latency_s,
        harm,
        harm_irr,
        lam_usd_per_s=lam_usd_per_s,
        rho_usd=rho_usd,
        rho_irr_usd=rho_irr_usd,
    ).utility_usd
