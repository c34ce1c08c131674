"""The gateway's learned policy and the off-policy evaluation of other policies from its ledger.

``LearnedPolicy`` adapts ``tokenomy.routing.online.OnlineRouter`` (ε-greedy on Eq. 1 over per-model
online ridge estimates of quality from prompt features) to the gateway's ``GatewayPolicy`` contract:
``choose`` ranks the candidates and reports the exact propensity of the served one; ``feedback`` (a
graded outcome by request id) updates the served model's estimate. It is made by ``make_learned``
for ``[routing] policy = "learned"`` (ε from ``[routing] epsilon``, the config's quality priors as the
starting estimates).

Off-policy evaluation (the paper's open problem 1): ``steps_from_ledger`` turns the gateway's
decisions (candidates with q̂, ΔC, ΔL; the chosen one; its propensity; the price vector) and their
outcomes (quality, cost, latency) into ``LoggedStep`` rows whose reward is the realised welfare
V·quality − cost − λ·latency; ``offpolicy_welfare`` estimates another policy's mean welfare per
request (IPS, SNIPS, DR with CIs, ``tokenomy.routing.offpolicy``), the DR reward model being the
logged estimates V·q̂ − ΔC − λ·ΔL made before each outcome was seen. Target policies readable from
a decision alone: ``fixed_target`` (always one model) and ``greedy_target`` (the logger without
exploration).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from tokenomy.core.errors import ValidationError
from tokenomy.interfaces.gateway.policy import Choice, PolicySpec, RouteContext
from tokenomy.ledger.records import Decision, Outcome
from tokenomy.routing.features import feature_length, prompt_features
from tokenomy.routing.offpolicy import ESTIMATORS, OffPolicyEstimate, estimate
from tokenomy.routing.online import CandidateCost, OnlineRouter

__all__ = [
    "LearnedPolicy",
    "LoggedStep",
    "TargetPolicy",
    "fixed_target",
    "greedy_target",
    "make_learned",
    "offpolicy_welfare",
    "steps_from_ledger",
]

N_HASH = 32
"""Hashed word buckets in the learned policy's prompt features."""


@dataclass(slots=True)
class LearnedPolicy:
    """The online router behind the gateway; remembers the features of the last ``max_pending`` requests.

    Attributes:
        router: the online router (its models are the upstream names).
        n_hash: hashed word buckets of the prompt features.
        shapes: the features include the question's shape (``routing.features.prompt_features``).
        max_pending: how many unanswered requests' features are kept for feedback (oldest dropped).
    """

    router: OnlineRouter
    n_hash: int = N_HASH
    shapes: bool = True
    max_pending: int = 100_000
    name: str = "learned"
    pending_: OrderedDict[str, NDArray[np.float64]] = field(default_factory=OrderedDict)  # id -> x

    def features(self, prompt: str) -> NDArray[np.float64]:
        """The router's feature vector of one prompt."""
        return prompt_features(prompt, self.n_hash, self.shapes)

    def choose(self, ctx: RouteContext, rng: np.random.Generator) -> Choice:
        x = self.features(ctx.prompt)
        cands = [
            CandidateCost(c.name, c.est_cost_usd, c.est_latency_s, c.lam_usd_per_s) for c in ctx.candidates
        ]
        d = self.router.choose(x, cands, ctx.prices, rng)
        self.pending_[ctx.request_id] = x
        while len(self.pending_) > self.max_pending:
            self.pending_.popitem(last=False)
        return Choice(
            ranking=tuple(cands[i].name for i in d.order),
            propensity=d.propensity,
            est_surplus_usd=tuple(d.surplus_usd[i] for i in d.order),
            est_quality=tuple(d.q_hat[i] for i in d.order),
            explored=d.explored,
        )

    def feedback(self, request_id: str, model: str, quality: float, harm: float) -> None:
        """Update ``model``'s estimate; feedback for an unknown or forgotten request is ignored."""
        del harm
        x = self.pending_.pop(request_id, None)
        if x is not None and model in self.router.models:
            self.router.update(x, model, quality)


def _option(spec: PolicySpec, key: str) -> float | None:
    text = spec.options.get(key)
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        raise ValidationError(f"[routing] {key} must be a number; got {text!r}") from None


def make_learned(spec: PolicySpec, arg: str) -> LearnedPolicy:
    """The ``learned`` policy from the config: ε = ``[routing] epsilon``, priors = upstream quality priors.

    ``[routing] epsilon_min`` (optional) turns on per-context exploration (``OnlineRouter``): ε only
    where the argmax is unsure by ``[routing] explore_z`` standard errors (default 2), else ε_min.

    Raises:
        ValidationError: an argument was given (``learned`` takes none), ε is not in [0, 1), or
            ``epsilon_min`` / ``explore_z`` is not a number in range.
    """
    if arg:
        raise ValidationError(f"policy 'learned' takes no argument; got 'learned:{arg}'")
    z = _option(spec, "explore_z")
    router = OnlineRouter(
        models=tuple(spec.quality_prior),
        n_features=feature_length(N_HASH),
        epsilon=spec.epsilon,
        prior_quality=dict(spec.quality_prior),
        epsilon_min=_option(spec, "epsilon_min"),
        explore_z=2.0 if z is None else z,
    )
    return LearnedPolicy(router=router)


@dataclass(frozen=True, slots=True)
class LoggedStep:
    """One served request as the ledger holds it, for off-policy evaluation.

    Attributes:
        request_id: the request.
        names: candidate names, in decision order.
        served: index of the served candidate.
        propensity: the logging policy's probability of serving it.
        reward_usd: realised welfare V·quality − cost − λ·latency, USD.
        est_reward_usd: per candidate, V·q̂ − ΔC − λ·ΔL from the decision's estimates, USD.
        decision: the ledger decision (for target policies that read it).
    """

    request_id: str
    names: tuple[str, ...]
    served: int
    propensity: float
    reward_usd: float
    est_reward_usd: tuple[float, ...]
    decision: Decision


def steps_from_ledger(decisions: Iterable[Decision], outcomes: Iterable[Outcome]) -> list[LoggedStep]:
    """Join route decisions with the outcome rows of their served candidate.

    A request's rows for its served model (``candidate`` equal to it, or "") are summed, as the ledger
    sums a candidate's rows into its utility: the serve-time row carries cost and latency, a feedback
    row the quality. A request with no graded row (``metadata["graded"]`` false on every row: the
    grade never came) or no served model is skipped. The reward is the realised welfare
    V·quality − cost − λ·latency at the decision's own V and λ.
    """
    rows: dict[tuple[str, str], list[Outcome]] = {}  # (request id, candidate) -> its outcome rows
    for out in outcomes:
        rows.setdefault((out.request_id, out.candidate), []).append(out)
    steps = []
    for d in decisions:
        if d.chosen is None or not d.candidates:
            continue
        name = d.candidates[d.chosen].name
        mine = rows.get((d.request_id, name), []) + rows.get((d.request_id, ""), [])
        if not any(o.metadata.get("graded", True) for o in mine):
            continue
        quality = sum(o.quality for o in mine)
        cost = sum(o.cost_usd for o in mine)
        latency = sum(o.latency_s for o in mine)
        v, lam = d.prices.v_usd, d.prices.lam_usd_per_s
        steps.append(
            LoggedStep(
                request_id=d.request_id,
                names=tuple(c.name for c in d.candidates),
                served=d.chosen,
                propensity=d.propensity,
                reward_usd=v * quality - cost - lam * latency,
                est_reward_usd=tuple(v * c.dq - c.dc_usd - lam * c.dl_s for c in d.candidates),
                decision=d,
            )
        )
    return steps


TargetPolicy = Callable[[LoggedStep], NDArray[np.float64]]
"""A target policy: the probability of serving each candidate of a logged step (decision order)."""


def fixed_target(model: str) -> TargetPolicy:
    """Always serve ``model`` (probability 0 for the others; a step without it is an error)."""

    def probs(step: LoggedStep) -> NDArray[np.float64]:
        if model not in step.names:
            raise ValidationError(
                f"target model {model!r} is not a candidate of {step.request_id!r}: {step.names}"
            )
        out = np.zeros(len(step.names))
        out[step.names.index(model)] = 1.0
        return out

    return probs


def greedy_target() -> TargetPolicy:
    """Serve the candidate with the highest logged Eq. 1 surplus (the logger without exploration)."""

    def probs(step: LoggedStep) -> NDArray[np.float64]:
        ss = [c.surplus_usd for c in step.decision.candidates]
        out = np.zeros(len(ss))
        out[max(range(len(ss)), key=ss.__getitem__)] = 1.0
        return out

    return probs


def offpolicy_welfare(
    steps: Sequence[LoggedStep],
    target: TargetPolicy | Sequence[NDArray[np.float64]],
    *,
    level: float = 0.95,
    estimators: Sequence[str] = ESTIMATORS,
) -> dict[str, OffPolicyEstimate]:
    """Estimate a target policy's mean welfare per request (USD) from logged steps.

    Args:
        steps: the logged steps (``steps_from_ledger``, or built by a benchmark from its own log).
        target: a ``TargetPolicy``, or its probabilities per step given directly (one array per step).
        level: CI coverage.
        estimators: which of ``ips``, ``snips``, ``dr``.

    Returns:
        estimator name -> estimate (CLT / delta-method intervals).

    Raises:
        ValidationError: no steps, steps with different candidate counts, or bad probabilities.
    """
    if not steps:
        raise ValidationError("off-policy evaluation needs at least one logged step with an outcome")
    k = len(steps[0].names)
    if any(len(s.names) != k for s in steps):
        raise ValidationError("every logged step must have the same number of candidates")
    probs = [
        np.asarray(target(s) if callable(target) else target[i], dtype=np.float64)
        for i, s in enumerate(steps)
    ]
    pa = np.vstack(probs)
    if pa.shape != (len(steps), k):
        raise ValidationError(f"target probabilities must have shape ({len(steps)}, {k}); got {pa.shape}")
    a = np.array([s.served for s in steps], dtype=np.int64)
    rewards = np.array([s.reward_usd for s in steps])
    mu = np.array([s.propensity for s in steps])
    r_hat = np.array([s.est_reward_usd for s in steps])
    pi = pa[np.arange(len(steps)), a]
    return {
        name: estimate(
            name,
            rewards=rewards,
            logged_propensity=mu,
            target_prob=pi,
            actions=a,
            target_probs_all=pa,
            reward_model=r_hat,
            level=level,
        )
        for name in estimators
    }
