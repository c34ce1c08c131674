"""Tenants of a shared serving market: request rates and sizes from traces, values synthetic.

A tenant sends ``rate_rps`` requests per second; a request needs ``s`` GPU-seconds of serving
capacity (drawn from the tenant's size distribution: equally likely samples or weighted atoms) and,
served, delivers quality ``q`` worth ``V`` per unit of quality, V ~ LogNormal(ln median, σ).
At a price ``p`` (USD per GPU-second) the tenant buys a request when its Eq. 1 surplus
V·q − p·s is positive, i.e. when V > p·s/q, so

    demand(p) = rate · Σ_j w_j · s_j · P(V > p·s_j/q)             (GPU-seconds per second)
    gross(p)  = rate · Σ_j w_j · q · E[V · 1{V > p·s_j/q}]          (USD per second)

with the lognormal closed forms P(V > a) = Φ((μ − ln a)/σ) and E[V·1{V > a}] =
e^{μ+σ²/2}·Φ((μ + σ² − ln a)/σ). As a function of the capacity x = demand(p) it buys, gross is the
tenant's concave value-of-capacity curve: its slope is p (the marginal request bought is worth its
price), and p falls as x grows. Utility (value − charge) is computed by ``core.rule.utility_terms``
per size atom, over the mean admitted V of that atom.

Fitting (``tenants_from_servegen``, ``tenant_from_requests``): rates and token sizes come from the
traces (ServeGen per-client rates and length PMFs; Azure 2023 per-request rows); a request's
GPU-seconds are β1·prompt + β2·output tokens of the serving layer's step-time model (the marginal
seconds per token the congestion-priced scheduler also charges). The value distributions are NOT in
any trace: they are synthetic (``synthetic=True`` on every ``LogNormalValue`` made here). No I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import ndtr

from tokenomy.core._checks import flag, real, whole
from tokenomy.core.errors import ValidationError
from tokenomy.core.rule import utility_terms
from tokenomy.serving.servegen import WINDOW_S, ServeGenClient
from tokenomy.serving.steptime import BLIS_LLAMA31_8B_H100_TP1, StepTimeModel
from tokenomy.serving.workloads import ValueModel

__all__ = [
    "LogNormalValue",
    "Take",
    "Tenant",
    "TenantSet",
    "synthetic_values",
    "tenant_from_requests",
    "tenants_from_servegen",
]

F64 = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class LogNormalValue:
    """V ~ LogNormal(ln ``median_usd``, ``sigma``): USD per unit of quality of one request.

    Raises:
        ValidationError: the median is not a positive finite number, σ is not positive and finite, or
            ``synthetic`` is not a bool.
    """

    median_usd: float
    sigma: float
    synthetic: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "median_usd", real("LogNormalValue median_usd", self.median_usd, low=0, low_open=True)
        )
        object.__setattr__(self, "sigma", real("LogNormalValue sigma", self.sigma, low=0, low_open=True))
        object.__setattr__(self, "synthetic", flag("LogNormalValue synthetic", self.synthetic))

    def scaled(self, factor: float) -> LogNormalValue:
        """The distribution of factor·V (a misreport scales every V by ``factor``)."""
        return LogNormalValue(self.median_usd * factor, self.sigma, self.synthetic)

    def as_dict(self) -> dict[str, object]:
        """JSON-ready description, with its ``synthetic`` label."""
        return {
            "family": "lognormal",
            "median_usd": self.median_usd,
            "sigma": self.sigma,
            "synthetic": self.synthetic,
        }


@dataclass(frozen=True, slots=True)
class Tenant:
    """One tenant of the market.

    Args:
        name: label (a ServeGen client, an Azure trace).
        rate_rps: requests per second it would send at price 0.
        load_gpu_s: shape (J,), GPU-seconds per request of each size atom.
        value: its V distribution (synthetic when fitted from traces).
        quality: quality a served request delivers, in (0, 1].
        load_weight: shape (J,), probability of each atom (``None``: equally likely).
        mean_prompt_tokens, mean_output_tokens: the sizes the atoms came from (for display).

    Raises:
        ValidationError: a negative or non-finite rate, an empty or non-positive size, weights that do
            not match or do not sum to 1, or quality outside (0, 1].
    """

    name: str
    rate_rps: float
    load_gpu_s: F64
    value: LogNormalValue
    quality: float = 1.0
    load_weight: F64 | None = None
    mean_prompt_tokens: float = float("nan")
    mean_output_tokens: float = float("nan")

    def __post_init__(self) -> None:
        load = np.asarray(self.load_gpu_s, dtype=np.float64)
        if not (np.isfinite(self.rate_rps) and self.rate_rps >= 0):
            raise ValidationError(f"Tenant {self.name!r}: rate_rps must be ≥ 0; got {self.rate_rps!r}")
        if load.ndim != 1 or load.size == 0 or not np.all(np.isfinite(load) & (load > 0)):
            raise ValidationError(
                f"Tenant {self.name!r}: load_gpu_s must be a non-empty 1-D array of values > 0"
            )
        w = (
            np.full(load.size, 1.0 / load.size)
            if self.load_weight is None
            else np.asarray(self.load_weight, float)
        )
        if w.shape != load.shape or np.any(w < 0) or not np.isclose(w.sum(), 1.0):
            raise ValidationError(
                f"Tenant {self.name!r}: load_weight must match load_gpu_s, be ≥ 0 and sum to 1"
            )
        if not (0 < self.quality <= 1):
            raise ValidationError(f"Tenant {self.name!r}: quality must be in (0, 1]; got {self.quality!r}")
        object.__setattr__(self, "load_gpu_s", load)
        object.__setattr__(self, "load_weight", w)

    @property
    def peak_demand_gpu_s_per_s(self) -> float:
        """Demand at price 0: every request bought."""
        assert self.load_weight is not None
        return float(self.rate_rps * np.dot(self.load_weight, self.load_gpu_s))


@dataclass(frozen=True, slots=True)
class Take:
    """What each tenant buys at a price, per second (arrays of shape (K,)).

    Attributes:
        demand_gpu_s_per_s: capacity bought.
        value_usd_per_s: V·q summed over the requests bought, judged by the TRUE V.
        charge_usd_per_s: what those requests cost at the charging rate.
    """

    demand_gpu_s_per_s: F64
    value_usd_per_s: F64
    charge_usd_per_s: F64

    @property
    def utility_usd_per_s(self) -> F64:
        """value − charge: the tenant's surplus when charged the price, welfare when charged the cost."""
        out: F64 = self.value_usd_per_s - self.charge_usd_per_s
        return out


@dataclass(frozen=True, slots=True)
class TenantSet:
    """K tenants stacked as (K, J) arrays (atoms padded with weight 0), evaluated together.

    Raises:
        ValidationError: fewer than one tenant.
    """

    tenants: tuple[Tenant, ...]
    rate_rps: F64 = field(init=False)
    load_gpu_s: F64 = field(init=False)
    weight: F64 = field(init=False)
    mu: F64 = field(init=False)
    sigma: F64 = field(init=False)
    quality: F64 = field(init=False)

    def __post_init__(self) -> None:
        ts = tuple(self.tenants)
        if not ts:
            raise ValidationError("TenantSet needs at least one tenant")
        j = max(t.load_gpu_s.size for t in ts)
        load, weight = np.ones((len(ts), j)), np.zeros((len(ts), j))
        for k, t in enumerate(ts):
            load[k, : t.load_gpu_s.size] = t.load_gpu_s
            assert t.load_weight is not None
            weight[k, : t.load_gpu_s.size] = t.load_weight
        set_ = object.__setattr__
        set_(self, "tenants", ts)
        set_(self, "rate_rps", np.array([t.rate_rps for t in ts]))
        set_(self, "load_gpu_s", load)
        set_(self, "weight", weight)
        set_(self, "mu", np.log([t.value.median_usd for t in ts]))
        set_(self, "sigma", np.array([t.value.sigma for t in ts]))
        set_(self, "quality", np.array([t.quality for t in ts]))

    def __len__(self) -> int:
        return len(self.tenants)

    @property
    def peak_demand_gpu_s_per_s(self) -> float:
        """Total demand at price 0."""
        return float(sum(t.peak_demand_gpu_s_per_s for t in self.tenants))

    def _z(self, price: ArrayLike, v_scale: ArrayLike) -> F64:
        """(μ + ln scale − ln a)/σ per atom, a = p·s/q the V at which Eq. 1 surplus V·q − p·s is 0."""
        p = np.asarray(price, dtype=np.float64)
        p = p[:, None] if p.ndim == 1 else p
        scale = np.asarray(v_scale, dtype=np.float64)
        scale = scale[:, None] if scale.ndim == 1 else scale
        with np.errstate(divide="ignore"):
            log_a = np.log(p * self.load_gpu_s / self.quality[:, None])
        z: F64 = (self.mu[:, None] + np.log(scale) - log_a) / self.sigma[:, None]
        return z

    def demand(self, price: ArrayLike, v_scale: ArrayLike = 1.0) -> F64:
        """GPU-seconds per second each tenant buys at ``price`` (scalar or (K,)), shape (K,).

        ``v_scale`` (scalar or (K,)) scales the V each tenant acts on (a misreport); 1 is truthful.
        """
        out: F64 = self.rate_rps * np.sum(
            self.weight * self.load_gpu_s * ndtr(self._z(price, v_scale)), axis=1
        )
        return out

    def take(self, price: ArrayLike, *, charge_usd_per_gpu_s: ArrayLike, v_scale: ArrayLike = 1.0) -> Take:
        """Demand, true value and charge of each tenant at ``price``.

        Args:
            price: USD per GPU-second the tenants decide at (scalar or (K,)).
            charge_usd_per_gpu_s: the rate their capacity is charged at (the price for tenant surplus,
                the operator's cost for welfare).
            v_scale: scales the V each tenant decides by (scalar or (K,)); value is judged by true V.

        Returns:
            ``Take`` with arrays of shape (K,).
        """
        z = self._z(price, v_scale)
        sig = self.sigma[:, None]
        prob = ndtr(z)
        # E[V·1{V > a}] / P(V > a): the mean true V of the requests an atom admits.
        tail_value = np.exp(self.mu[:, None] + sig**2 / 2) * ndtr(z + sig)
        mean_v = np.divide(tail_value, prob, out=np.zeros_like(prob), where=prob > 0)
        charge = np.asarray(charge_usd_per_gpu_s, dtype=np.float64)
        charge = charge[:, None] if charge.ndim == 1 else charge
        terms = utility_terms(mean_v, self.quality[:, None], cost_usd=charge * self.load_gpu_s)
        per_s = self.rate_rps[:, None] * self.weight * prob
        return Take(
            demand_gpu_s_per_s=np.sum(per_s * self.load_gpu_s, axis=1),
            value_usd_per_s=np.sum(per_s * terms.value_usd, axis=1),
            charge_usd_per_s=np.sum(per_s * terms.cost_usd, axis=1),
        )

    def price_for(self, demand_gpu_s_per_s: ArrayLike, *, floor_usd: float = 0.0, iters: int = 100) -> F64:
        """Per tenant, the price at which it buys ``demand`` (its inverse demand; ∞ for 0), shape (K,).

        Bisection on log-price, vectorised over tenants; demand above the demand at ``floor_usd``
        gets ``floor_usd``.
        """
        x = np.asarray(demand_gpu_s_per_s, dtype=np.float64)
        lo, hi = self.price_bracket(floor_usd)
        lo_k, hi_k = np.full(len(self), np.log(lo)), np.full(len(self), np.log(hi))
        for _ in range(iters):
            mid = (lo_k + hi_k) / 2
            above = self.demand(np.exp(mid)) > x
            lo_k, hi_k = np.where(above, mid, lo_k), np.where(above, hi_k, mid)
        p = np.exp((lo_k + hi_k) / 2)
        p = np.where(x >= self.demand(lo), lo if floor_usd > 0 else 0.0, p)
        out: F64 = np.where(x <= 0, np.inf, p)
        return out

    def price_bracket(self, floor_usd: float = 0.0) -> tuple[float, float]:
        """(lo, hi) > 0 with demand(hi) ≈ 0 and demand(lo) ≈ peak (lo = ``floor_usd`` when it is > 0)."""
        q = self.quality[:, None]
        hi = float(np.max(q * np.exp(self.mu[:, None] + 12 * self.sigma[:, None]) / self.load_gpu_s))
        lo = float(np.min(q * np.exp(self.mu[:, None] - 12 * self.sigma[:, None]) / self.load_gpu_s))
        return (floor_usd if floor_usd > 0 else lo), max(hi, 2 * floor_usd)


def synthetic_values(
    k: int, *, seed: int, median_usd: float | None = None, sigma: float | None = None, spread: float = 1.0
) -> list[LogNormalValue]:
    """K synthetic V distributions: tenant t has median ``median_usd``·exp(spread·z_t), z_t ~ N(0, 1).

    Defaults are the serving layer's synthetic ``ValueModel`` (median $0.05, σ 1), so the market and
    the simulator value requests alike. Every distribution is labelled ``synthetic``.

    Raises:
        ValidationError: naming the argument: ``k`` or ``seed`` not a whole number ≥ 0, a median or σ
            not a finite number > 0, a spread not a finite number ≥ 0.
    """
    k = whole("synthetic_values k", k)
    seed = whole("synthetic_values seed", seed)
    base = ValueModel()
    med = real(
        "synthetic_values median_usd",
        base.v_median_usd if median_usd is None else median_usd,
        low=0,
        low_open=True,
    )
    sig = real("synthetic_values sigma", base.v_sigma if sigma is None else sigma, low=0, low_open=True)
    spread = real("synthetic_values spread", spread, low=0)
    z = np.random.default_rng(seed).standard_normal(k)
    return [LogNormalValue(float(med * np.exp(spread * zt)), float(sig)) for zt in z]


def _gpu_s(prompt: ArrayLike, output: ArrayLike, step: StepTimeModel) -> F64:
    p, o = np.asarray(prompt, np.float64), np.asarray(output, np.float64)
    out: F64 = step.beta1_s_per_prefill_token * p + step.beta2_s_per_decode_token * o
    return out


def tenant_from_requests(
    name: str,
    arrival_s: ArrayLike,
    prompt_tokens: ArrayLike,
    output_tokens: ArrayLike,
    value: LogNormalValue,
    *,
    atoms: int = 256,
    seed: int = 0,
    step: StepTimeModel = BLIS_LLAMA31_8B_H100_TP1,
) -> Tenant:
    """A tenant from per-request rows (e.g. one Azure 2023 trace): rate = requests / span.

    The size atoms are ``atoms`` requests sampled (with ``seed``) from the rows.

    Raises:
        ValidationError: fewer than two requests, a zero time span, a non-finite arrival, a value
            that is not a ``LogNormalValue``, a seed or ``atoms`` that is not a whole number.
    """
    if not isinstance(value, LogNormalValue):
        raise ValidationError(f"tenant_from_requests value must be a LogNormalValue, got {value!r:.80}")
    seed = whole("tenant_from_requests seed", seed)
    atoms = whole("tenant_from_requests atoms", atoms, low=1)
    try:
        t = np.asarray(arrival_s, np.float64)
    except (TypeError, ValueError):
        raise ValidationError(
            f"tenant_from_requests arrival_s must be numbers, got {arrival_s!r:.80}"
        ) from None
    if t.ndim != 1 or not np.isfinite(t).all():
        raise ValidationError(f"tenant {name!r}: arrival_s must be a 1-D array of finite seconds")
    if t.size < 2 or not t.max() > t.min():
        raise ValidationError(f"tenant {name!r}: needs ≥ 2 requests over a positive time span")
    rng = np.random.default_rng(seed)
    pick = rng.choice(t.size, size=min(atoms, t.size), replace=False)
    p, o = np.asarray(prompt_tokens)[pick], np.asarray(output_tokens)[pick]
    rate = (t.size - 1) / float(t.max() - t.min())
    return Tenant(
        name,
        rate,
        _gpu_s(p, o, step),
        value,
        mean_prompt_tokens=float(np.mean(p)),
        mean_output_tokens=float(np.mean(o)),
    )


def _servegen_sizes(
    c: ServeGenClient, atoms: int, rng: np.random.Generator
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """``atoms`` (prompt, output) draws: a 6-h window by its share of requests, then its PMFs."""
    have = [
        w for w in range(c.length_window_s.size) if c.input_pmf[w] is not None and c.output_pmf[w] is not None
    ]
    if not have:
        raise ValidationError(f"ServeGen client {c.name}: no window with both length distributions")
    ends = np.append(c.length_window_s[1:], np.inf)
    mass = np.array(
        [
            c.rate_rps[(c.window_start_s >= c.length_window_s[w]) & (c.window_start_s < ends[w])].sum()
            for w in have
        ]
    )
    mass = mass / mass.sum() if mass.sum() > 0 else np.full(len(have), 1.0 / len(have))
    counts = rng.multinomial(atoms, mass)
    ins, outs = [], []
    for w, n in zip(have, counts, strict=True):
        pi, po = c.input_pmf[w], c.output_pmf[w]
        assert pi is not None and po is not None
        ins.append(rng.choice(pi.tokens, size=n, p=pi.prob / pi.prob.sum()))
        outs.append(rng.choice(po.tokens, size=n, p=po.prob / po.prob.sum()))
    return np.concatenate(ins), np.concatenate(outs)


def tenants_from_servegen(
    clients: Sequence[ServeGenClient],
    *,
    seed: int = 0,
    atoms: int = 256,
    values: Sequence[LogNormalValue] | None = None,
    step: StepTimeModel = BLIS_LLAMA31_8B_H100_TP1,
) -> list[Tenant]:
    """One tenant per ServeGen client: its mean rate over the calendar and its length PMFs.

    Args:
        clients: the clients (``interfaces.loaders.servegen.load_servegen``).
        seed: seed of the size draws and (when ``values`` is None) the synthetic V distributions.
        atoms: size atoms per tenant (requests drawn from the PMFs, windows weighted by traffic).
        values: V distribution per client (default ``synthetic_values(len(clients), seed=seed)``).
        step: the step-time model that turns tokens into GPU-seconds.

    Raises:
        ValidationError: no clients, a length mismatch, a client with no rate or no lengths.
    """
    if not clients:
        raise ValidationError("tenants_from_servegen needs at least one client")
    vals = list(values) if values is not None else synthetic_values(len(clients), seed=seed)
    if len(vals) != len(clients):
        raise ValidationError(
            f"tenants_from_servegen: {len(vals)} value distributions for {len(clients)} clients"
        )
    rng = np.random.default_rng([seed, 1])
    out = []
    for c, v in zip(clients, vals, strict=True):
        span_s = (
            float(c.window_start_s.max() - c.window_start_s.min() + WINDOW_S)
            if c.window_start_s.size
            else 0.0
        )
        if span_s <= 0 or c.expected_requests <= 0:
            raise ValidationError(f"ServeGen client {c.name}: no requests")
        p, o = _servegen_sizes(c, atoms, rng)
        rate = c.expected_requests / span_s
        out.append(
            Tenant(
                c.name,
                rate,
                _gpu_s(p, o, step),
                v,
                mean_prompt_tokens=float(p.mean()),
                mean_output_tokens=float(o.mean()),
            )
        )
    return out
