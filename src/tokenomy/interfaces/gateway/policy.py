"""The gateway's routing contract (Eq. 4 at request time) and two baseline policies.

A policy sees one request's ``RouteContext`` (its prompt, its price vector and every upstream as a
``Candidate`` with the estimated cost ΔC, latency ΔL and the upstream's congestion price λ_m now) and
returns a ``Choice``: the candidate names ranked best first (``ranking[0]`` is served; the rest is the
fallback / downgrade order), the probability that it serves ``ranking[0]`` in this context (the
propensity logged for off-policy evaluation), the estimated quality q̂ and Eq. 1 surplus of each, and
whether ``ranking[0]`` came from exploration. ``feedback`` receives the graded outcome of a served
request. A policy decides only: admission, budgets and retries are applied elsewhere (``admission``).

The surplus of a candidate is Eq. 1 from ``tokenomy.core.rule.surplus`` (never re-written here) with
ΔQ = q̂, ΔC = ``est_cost_usd``, ΔL = ``est_latency_s`` and the latency price λ + λ_m: the request's own
price of a second plus the upstream's congestion price (the shadow price of its latency SLA, which
the admission queue discovers), so a congested upstream is dearer by λ_m per second of expected wait.

Policies are made by name from the ``[routing] policy`` setting through ``make_policy``: ``prior``
(``PriorPolicy``), ``fixed:<upstream>`` (``FixedPolicy``) and any name added by ``register_policy``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from tokenomy.core.errors import ValidationError
from tokenomy.core.prices import PriceVector
from tokenomy.core.rule import surplus
from tokenomy.core.uses import TokenUse

__all__ = [
    "Candidate",
    "Choice",
    "FixedPolicy",
    "GatewayPolicy",
    "PolicySpec",
    "PriorPolicy",
    "RouteContext",
    "candidate_surplus",
    "make_policy",
    "policy_names",
    "register_policy",
    "with_congestion",
]


@dataclass(frozen=True, slots=True)
class Candidate:
    """One upstream a request could be served by, with its estimated marginal effects now.

    Attributes:
        name: the upstream's name in the config.
        est_cost_usd: expected ΔC of this request there (prompt tokens × input price + expected output
            tokens × output price), USD.
        est_latency_s: expected ΔL (admission-queue wait + service), seconds.
        lam_usd_per_s: the upstream's congestion price λ_m now (its queue's shadow price), USD/s.
    """

    name: str
    est_cost_usd: float
    est_latency_s: float
    lam_usd_per_s: float


@dataclass(frozen=True, slots=True)
class RouteContext:
    """What a policy sees of one request.

    Attributes:
        request_id: the gateway's id of the request (the ledger key).
        prompt: the request's message text (system and user turns) concatenated, for features.
        prices: the request's V, λ, ρ.
        candidates: every upstream the request may be served by, in config order.
    """

    request_id: str
    prompt: str
    prices: PriceVector
    candidates: tuple[Candidate, ...]


@dataclass(frozen=True, slots=True)
class Choice:
    """A policy's decision for one request.

    Attributes:
        ranking: candidate names, best first; ``ranking[0]`` is served, the rest is the fallback order.
        propensity: P(the policy serves ``ranking[0]`` | context), in (0, 1].
        est_surplus_usd: Eq. 1 estimated surplus per name, in ranking order, USD.
        est_quality: q̂ per name, in ranking order.
        explored: ``ranking[0]`` came from exploration rather than from the argmax.
    """

    ranking: tuple[str, ...]
    propensity: float
    est_surplus_usd: tuple[float, ...]
    est_quality: tuple[float, ...]
    explored: bool

    def __post_init__(self) -> None:
        n = len(self.ranking)
        if n == 0 or len(self.est_surplus_usd) != n or len(self.est_quality) != n:
            raise ValidationError(
                f"Choice needs ≥ 1 name and one surplus and quality per name; got {n} names, "
                f"{len(self.est_surplus_usd)} surpluses, {len(self.est_quality)} qualities"
            )
        if not (0.0 < self.propensity <= 1.0):
            raise ValidationError(f"Choice.propensity must be in (0, 1]; got {self.propensity!r}")


class GatewayPolicy(Protocol):
    """A routing policy: rank the candidates of one request, learn from graded outcomes."""

    name: str

    def choose(self, ctx: RouteContext, rng: np.random.Generator) -> Choice:
        """Rank ``ctx.candidates``; randomness only from ``rng``."""
        ...

    def feedback(self, request_id: str, model: str, quality: float, harm: float) -> None:
        """Learn from the graded outcome of ``request_id`` served by ``model``."""
        ...


def candidate_surplus(cand: Candidate, q_hat: float, prices: PriceVector) -> float:
    """Eq. 1 surplus of serving on ``cand`` with quality ``q_hat``: latency priced at λ + λ_m."""
    use = TokenUse(cand.name, dq=q_hat, dc_usd=cand.est_cost_usd, dl_s=cand.est_latency_s)
    return surplus(use, with_congestion(prices, cand.lam_usd_per_s))


_CONGESTED: dict[tuple[PriceVector, float], PriceVector] = {}  # (prices, λ_m) -> prices with λ + λ_m


def with_congestion(prices: PriceVector, lam_m_usd_per_s: float) -> PriceVector:
    """``prices`` with λ raised by the congestion price λ_m (memoised: a few distinct pairs recur)."""
    if not lam_m_usd_per_s:
        return prices
    key = (prices, lam_m_usd_per_s)
    out = _CONGESTED.get(key)
    if out is None:
        if len(_CONGESTED) >= 4096:
            _CONGESTED.clear()
        out = _CONGESTED[key] = prices.with_prices(lam_usd_per_s=prices.lam_usd_per_s + lam_m_usd_per_s)
    return out


@dataclass(frozen=True, slots=True)
class PolicySpec:
    """What the config gives a policy factory.

    Attributes:
        quality_prior: upstream name -> prior q̂ in [0, 1] (config order).
        epsilon: exploration probability in [0, 1].
        options: further ``[routing]`` settings as text; key -> value (e.g. a saved router's path).
    """

    quality_prior: Mapping[str, float]
    epsilon: float = 0.0
    options: Mapping[str, str] = field(default_factory=dict)


def _ranked(names: list[str], scores: list[float], first: int) -> list[int]:
    rest = sorted((i for i in range(len(names)) if i != first), key=lambda i: -scores[i])
    return [first, *rest]


@dataclass(slots=True)
class PriorPolicy:
    """ε-greedy on Eq. 1 with q̂ per upstream = a running mean of feedback started at the config prior.

    With probability 1 − ε it serves the argmax-surplus candidate; with probability ε one candidate
    drawn uniformly among those with positive surplus (all of them when none is positive), so the
    propensity of the served one is exact: (1 − ε)·[it is the argmax] + ε / K. The prior counts as
    ``prior_weight`` observations in the running mean.
    """

    quality_prior: Mapping[str, float]
    epsilon: float = 0.05
    prior_weight: float = 1.0
    name: str = "prior"
    q_sum_: dict[str, float] = field(init=False)  # model -> Σ quality (prior included)
    q_n_: dict[str, float] = field(init=False)  # model -> weight of observations (prior included)

    def __post_init__(self) -> None:
        if not (0.0 <= self.epsilon <= 1.0) or math.isnan(self.epsilon):
            raise ValidationError(f"PriorPolicy.epsilon must be in [0, 1]; got {self.epsilon!r}")
        self.q_sum_ = {m: float(q) * self.prior_weight for m, q in self.quality_prior.items()}
        self.q_n_ = dict.fromkeys(self.quality_prior, self.prior_weight)

    def q_hat(self, model: str) -> float:
        """The current quality estimate of ``model`` (0.5 for a model without prior or feedback)."""
        n = self.q_n_.get(model, 0.0)
        return self.q_sum_[model] / n if n > 0 else 0.5

    def choose(self, ctx: RouteContext, rng: np.random.Generator) -> Choice:
        cands = ctx.candidates
        if not cands:
            raise ValidationError("PriorPolicy.choose needs at least one candidate")
        names = [c.name for c in cands]
        qs = [self.q_hat(n) for n in names]
        ss = [candidate_surplus(c, q, ctx.prices) for c, q in zip(cands, qs, strict=True)]
        best = max(range(len(cands)), key=ss.__getitem__)
        pool = [i for i in range(len(cands)) if ss[i] > 0.0] or list(range(len(cands)))
        explored = self.epsilon > 0.0 and float(rng.random()) < self.epsilon
        served = pool[int(rng.integers(len(pool)))] if explored else best
        propensity = (1.0 - self.epsilon) * (served == best) + self.epsilon / len(pool)
        order = _ranked(names, ss, served)
        return Choice(
            ranking=tuple(names[i] for i in order),
            propensity=min(1.0, propensity),
            est_surplus_usd=tuple(ss[i] for i in order),
            est_quality=tuple(qs[i] for i in order),
            explored=explored and served != best,
        )

    def feedback(self, request_id: str, model: str, quality: float, harm: float) -> None:
        del request_id, harm
        self.q_sum_[model] = self.q_sum_.get(model, 0.0) + float(quality)
        self.q_n_[model] = self.q_n_.get(model, 0.0) + 1.0


@dataclass(slots=True)
class FixedPolicy:
    """Always serve ``model`` (propensity 1); the other candidates follow by prior surplus as fallback."""

    model: str
    quality_prior: Mapping[str, float] = field(default_factory=dict)
    name: str = ""

    def __post_init__(self) -> None:
        self.name = self.name or f"fixed:{self.model}"

    def choose(self, ctx: RouteContext, rng: np.random.Generator) -> Choice:
        del rng
        names = [c.name for c in ctx.candidates]
        if self.model not in names:
            raise ValidationError(f"FixedPolicy model {self.model!r} is not a candidate; candidates: {names}")
        qs = [float(self.quality_prior.get(n, 0.5)) for n in names]
        ss = [candidate_surplus(c, q, ctx.prices) for c, q in zip(ctx.candidates, qs, strict=True)]
        order = _ranked(names, ss, names.index(self.model))
        return Choice(
            ranking=tuple(names[i] for i in order),
            propensity=1.0,
            est_surplus_usd=tuple(ss[i] for i in order),
            est_quality=tuple(qs[i] for i in order),
            explored=False,
        )

    def feedback(self, request_id: str, model: str, quality: float, harm: float) -> None:
        del request_id, model, quality, harm


PolicyFactory = Callable[[PolicySpec, str], GatewayPolicy]
"""Builds a policy from the config's spec and the text after ``name:`` in the policy setting."""

_REGISTRY: dict[str, PolicyFactory] = {}  # policy name -> factory


def register_policy(name: str, factory: PolicyFactory) -> None:
    """Make ``[routing] policy = "<name>"`` (or ``"<name>:<arg>"``) build a policy with ``factory``."""
    if not name or ":" in name:
        raise ValidationError(f"a policy name is non-empty text without ':'; got {name!r}")
    _REGISTRY[name] = factory


def policy_names() -> tuple[str, ...]:
    """Every registered policy name."""
    return tuple(sorted(_REGISTRY))


def make_policy(setting: str, spec: PolicySpec) -> GatewayPolicy:
    """Build the policy named by ``setting`` (``prior``, ``fixed:<upstream>``, or a registered name).

    Raises:
        ValidationError: the name is not registered, or the factory refused its argument.
    """
    name, _, arg = setting.partition(":")
    factory = _REGISTRY.get(name)
    if factory is None:
        raise ValidationError(f"unknown routing policy {setting!r}; valid: {', '.join(policy_names())}")
    return factory(spec, arg)


def _prior(spec: PolicySpec, arg: str) -> GatewayPolicy:
    if arg:
        raise ValidationError(f"policy 'prior' takes no argument; got 'prior:{arg}'")
    return PriorPolicy(quality_prior=dict(spec.quality_prior), epsilon=spec.epsilon)


def _fixed(spec: PolicySpec, arg: str) -> GatewayPolicy:
    if arg not in spec.quality_prior:
        raise ValidationError(
            f"policy 'fixed:<upstream>' names an upstream; got {arg!r}, valid: {list(spec.quality_prior)}"
        )
    return FixedPolicy(model=arg, quality_prior=dict(spec.quality_prior))


register_policy("prior", _prior)
register_policy("fixed", _fixed)


def _learned(spec: PolicySpec, arg: str) -> GatewayPolicy:
    from tokenomy.interfaces.gateway.learned import make_learned  # the online router, loaded on demand

    return make_learned(spec, arg)


register_policy("learned", _learned)
