"""An online router: per-model quality from prompt features, learned request by request, chosen by Eq. 1.

Each model has a ridge regression of graded quality on a small prompt feature vector
(``prompt_features``: bias, length, digit counts, hashed words), updated after every graded outcome
by a rank-one (Sherman–Morrison) step, so one update costs O(d²) and no history is kept. A request is
served by the argmax of the Eq. 1 surplus ``tokenomy.core.rule.surplus`` with ΔQ = q̂ (clipped to
[0, 1]); exploration is explicit ε-greedy: with probability ε the served model is drawn uniformly
among all candidates, so the probability of serving each model is known exactly
(``action_probs``) and logged as the propensity for off-policy evaluation (``routing.offpolicy``).
Ties in surplus go to the lower index, as in the rule.

Exploration can also be per context (``epsilon_min`` set): ε applies only where the router is unsure
which model is best, i.e. the surplus margin of the best over the runner-up is at most
``explore_z`` standard errors of V·(q̂_best − q̂_runner-up) (ridge posterior, a quality noise sd of 0.5,
the largest a 0/1 grade has); elsewhere the exploration probability is ``epsilon_min``. Either way
the served model's probability is known exactly and logged, and every model keeps a probability
≥ ``epsilon_min``/k, so off-policy estimates of any other policy stay defined. Flat ε spends
exploration where the answer is already known (on a cheap model that is always right, every
explored request to a dearer one is a loss); per-context ε spends it where it can change a decision.

A prior quality per model enters as pseudo-observations on the bias feature (``prior_weight`` of
them), so an untrained router starts from the prior. ``warm_start`` replays logged outcomes
(features, model, quality) from a training split. This module does not call models, read files or
grade answers (``interfaces.gateway`` does), and it never chooses the null option: a gateway serves
every admitted request, so refusal is the admission queue's decision, not the router's.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from tokenomy.core._checks import real, text, whole
from tokenomy.core.errors import ValidationError
from tokenomy.core.prices import PriceVector
from tokenomy.core.rule import surplus
from tokenomy.core.uses import TokenUse
from tokenomy.routing.features import (
    FEATURE_BOUND,
    MAX_FEATURES,
    N_DENSE,
    feature_length,
    final_question,
    prompt_features,
)

__all__ = [
    "FEATURE_BOUND",
    "MAX_FEATURES",
    "N_DENSE",
    "CandidateCost",
    "OnlineDecision",
    "OnlineRouter",
    "feature_length",
    "final_question",
    "prompt_features",
]

RIDGE_RANGE = (1e-6, 1e6)
"""The ridge penalties accepted: with |x| ≤ ``FEATURE_BOUND`` and d ≤ ``MAX_FEATURES`` every step stays finite."""
MAX_PRIOR_WEIGHT = 1e6
"""Most pseudo-observations a prior may count as."""


@dataclass(frozen=True, slots=True)
class CandidateCost:
    """A model's estimated cost of one request.

    Attributes:
        name: the model's name (one of the router's models).
        dc_usd: expected ΔC, USD.
        dl_s: expected ΔL, seconds.
        extra_lam_usd_per_s: a congestion price added to the request's λ for this model, USD/s.
    """

    name: str
    dc_usd: float
    dl_s: float
    extra_lam_usd_per_s: float = 0.0

    def __post_init__(self) -> None:
        text("name", self.name, where="CandidateCost", blank=False)
        for f in ("dc_usd", "dl_s", "extra_lam_usd_per_s"):
            real(f, getattr(self, f), low=0.0, where=f"CandidateCost {self.name!r}")


@dataclass(frozen=True, slots=True)
class OnlineDecision:
    """One routing decision.

    Attributes:
        index: position (in the candidates) of the served model.
        order: candidate positions, served first, then the rest by estimated surplus.
        probs: probability of serving each candidate under this policy, in candidate order.
        q_hat: estimated quality per candidate.
        surplus_usd: Eq. 1 estimated surplus per candidate, USD.
        explored: the served model came from exploration and is not the argmax.
    """

    index: int
    order: tuple[int, ...]
    probs: tuple[float, ...]
    q_hat: tuple[float, ...]
    surplus_usd: tuple[float, ...]
    explored: bool

    @property
    def propensity(self) -> float:
        """P(serve the served model | context)."""
        return self.probs[self.index]


def _model_names(models: Sequence[str]) -> tuple[str, ...]:
    if isinstance(models, (str, bytes)) or not isinstance(models, Sequence | Iterable):
        raise ValidationError(
            f"OnlineRouter: models must be a list of model names, got {type(models).__name__} {models!r:.80}"
        )
    names = tuple(models)
    for m in names:
        text("models entry", m, where="OnlineRouter", blank=False)
    if len(names) == 0 or len(set(names)) != len(names):
        raise ValidationError(f"OnlineRouter: models must be ≥ 1 distinct names; got {list(names)}")
    return names


class OnlineRouter:
    """ε-greedy on Eq. 1 with per-model online ridge regressions of quality on prompt features.

    Args:
        models: the model names (distinct, non-blank str), in a fixed order.
        n_features: length of the feature vectors passed in, a whole number in [1, ``MAX_FEATURES``].
        epsilon: exploration probability in [0, 1).
        ridge: the ridge penalty (prior precision on every weight), in ``RIDGE_RANGE``.
        prior_quality: model -> prior q̂ in [0, 1] (0.5 for a model not given); every key a model.
        prior_weight: how many pseudo-observations the prior counts as, in [0, ``MAX_PRIOR_WEIGHT``].
        epsilon_min: exploration probability where the argmax is confident (per-context ε);
            ``None`` (default) for flat ε everywhere. In [0, epsilon].
        explore_z: standard errors of the surplus difference within which the argmax counts as
            unsure (with ``epsilon_min``), a finite number ≥ 0.

    Every number must be a real number (a str or bool is refused, never coerced); features must be
    ``n_features`` finite numbers with |x| ≤ ``FEATURE_BOUND``; an outcome whose step would leave a
    non-finite estimate is refused and the router is unchanged.

    Raises:
        ValidationError: any argument outside the form above, naming it.
    """

    def __init__(
        self,
        *,
        models: Sequence[str],
        n_features: int,
        epsilon: float = 0.1,
        ridge: float = 0.1,
        prior_quality: Mapping[str, float] | None = None,
        prior_weight: float = 2.0,
        epsilon_min: float | None = None,
        explore_z: float = 2.0,
    ) -> None:
        self.models = _model_names(models)
        self.n_features = whole("n_features", n_features, low=1, high=MAX_FEATURES, where="OnlineRouter")
        self.epsilon = real("epsilon", epsilon, low=0.0, high=1.0, where="OnlineRouter", form="in [0, 1)")
        if self.epsilon >= 1.0:
            raise ValidationError(f"OnlineRouter: epsilon must be a finite number in [0, 1), got {epsilon!r}")
        self.ridge = real("ridge", ridge, low=RIDGE_RANGE[0], high=RIDGE_RANGE[1], where="OnlineRouter")
        self.prior_quality = self._priors(prior_quality)
        self.prior_weight = real(
            "prior_weight", prior_weight, low=0.0, high=MAX_PRIOR_WEIGHT, where="OnlineRouter"
        )
        self.epsilon_min = (
            None
            if epsilon_min is None
            else real(
                "epsilon_min", epsilon_min, low=0.0, high=self.epsilon, where="OnlineRouter (≤ epsilon)"
            )
        )
        self.explore_z = real("explore_z", explore_z, low=0.0, where="OnlineRouter")
        d, k = self.n_features, len(self.models)
        self.a_inv_ = np.repeat((np.eye(d) / self.ridge)[None], k, axis=0)  # per model (XᵀX + ridge·I)⁻¹
        self.b_ = np.zeros((k, d))  # per model Xᵀy
        self.n_updates_ = np.zeros(k, dtype=np.int64)
        bias = np.zeros(d)
        bias[0] = 1.0
        for i, m in enumerate(self.models):
            q0 = float(self.prior_quality.get(m, 0.5))
            if self.prior_weight > 0:
                self._observe(i, bias, q0, self.prior_weight)

    def _priors(self, prior_quality: Mapping[str, float] | None) -> dict[str, float]:
        if prior_quality is None:
            return {}
        if not isinstance(prior_quality, Mapping):
            raise ValidationError(
                f"OnlineRouter: prior_quality must map model names to q in [0, 1], got {type(prior_quality).__name__}"
            )
        unknown = [m for m in prior_quality if m not in self.models]
        if unknown:
            raise ValidationError(
                f"OnlineRouter: prior_quality names unknown model(s) {unknown}; models: {list(self.models)}"
            )
        return {
            m: real(f"prior_quality[{m!r}]", q, low=0.0, high=1.0, where="OnlineRouter")
            for m, q in prior_quality.items()
        }

    def _observe(self, i: int, x: NDArray[np.float64], y: float, weight: float = 1.0) -> None:
        """One rank-one step; refused (state unchanged) when it would leave a non-finite estimate."""
        a_inv = self.a_inv_[i]
        ax = a_inv @ x
        with np.errstate(all="ignore"):
            new_a = a_inv - weight * np.outer(ax, ax) / (1.0 + weight * float(x @ ax))
            new_b = self.b_[i] + weight * y * x
            ok = np.isfinite(new_a).all() and np.isfinite(new_b).all() and np.isfinite(new_a @ new_b).all()
        if not ok:
            raise ValidationError(
                f"this outcome would make model {self.models[i]!r}'s quality estimate non-finite "
                f"(features of norm {float(np.linalg.norm(x)):.3g}); the router is unchanged"
            )
        self.a_inv_[i] = new_a
        self.b_[i] = new_b

    def _check_x(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        want = f"{self.n_features} finite numbers with |x| ≤ {FEATURE_BOUND:g}"
        try:
            arr = np.asarray(x, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValidationError(f"features must be {want}; got {x!r:.80}") from None
        if arr.shape != (self.n_features,):
            raise ValidationError(f"features must be {want}; got shape {arr.shape}")
        bad = ~(np.abs(arr) <= FEATURE_BOUND)
        if bad.any():
            j = int(np.flatnonzero(bad)[0])
            raise ValidationError(f"features must be {want}; entry {j} is {float(arr[j])!r}")
        return arr

    def _index(self, model: str) -> int:
        try:
            return self.models.index(model)
        except ValueError:
            raise ValidationError(f"unknown model {model!r}; models: {list(self.models)}") from None

    def _check_call(self, cands: Sequence[CandidateCost], prices: PriceVector) -> None:
        if not isinstance(prices, PriceVector):
            raise ValidationError(f"routing: prices must be a PriceVector, got {type(prices).__name__}")
        if isinstance(cands, (str, bytes)) or not isinstance(cands, Sequence):
            raise ValidationError(
                f"routing: candidates must be a list of CandidateCost, got {type(cands).__name__}"
            )
        if not cands:
            raise ValidationError("routing needs at least one candidate")
        for j, c in enumerate(cands):
            if not isinstance(c, CandidateCost):
                raise ValidationError(
                    f"routing: candidate {j} must be a CandidateCost, got {type(c).__name__}"
                )
        names = [c.name for c in cands]
        if len(set(names)) != len(names):
            dup = sorted({n for n in names if names.count(n) > 1})
            raise ValidationError(f"routing: duplicate candidate(s) {dup}; each model may be offered once")

    def predict(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        """q̂ per model (router order), clipped to [0, 1]."""
        arr = self._check_x(x)
        w = np.einsum("kij,kj->ki", self.a_inv_, self.b_)
        return np.asarray(np.clip(w @ arr, 0.0, 1.0), dtype=np.float64)

    def _scores(
        self, x: NDArray[np.float64], cands: Sequence[CandidateCost], prices: PriceVector
    ) -> tuple[list[float], list[float]]:
        self._check_call(cands, prices)
        q_all = self.predict(x)
        qs = [float(q_all[self._index(c.name)]) for c in cands]
        ss = []
        for c, q in zip(cands, qs, strict=True):
            p = prices.with_prices(lam_usd_per_s=prices.lam_usd_per_s + c.extra_lam_usd_per_s)
            ss.append(surplus(TokenUse(c.name, dq=q, dc_usd=c.dc_usd, dl_s=c.dl_s), p))
        return qs, ss

    def _epsilon_here(
        self, x: NDArray[np.float64], cands: Sequence[CandidateCost], ss: Sequence[float], v_usd: float
    ) -> float:
        """ε in this context: flat, or ``epsilon_min`` where the best model wins by > z standard errors."""
        if self.epsilon_min is None or len(ss) < 2:
            return self.epsilon
        order = sorted(range(len(ss)), key=lambda i: (-ss[i], i))
        b, r = order[0], order[1]
        arr = self._check_x(x)
        var = sum(float(arr @ self.a_inv_[self._index(cands[i].name)] @ arr) for i in (b, r))
        se_usd = abs(v_usd) * 0.5 * math.sqrt(max(var, 0.0))
        return self.epsilon if ss[b] - ss[r] <= self.explore_z * se_usd else self.epsilon_min

    def _probs(self, ss: Sequence[float], eps: float) -> tuple[int, list[float]]:
        best = max(range(len(ss)), key=ss.__getitem__)
        k = len(ss)
        probs = [eps / k] * k
        probs[best] += 1.0 - eps
        return best, probs

    def action_probs(
        self, x: NDArray[np.float64], cands: Sequence[CandidateCost], prices: PriceVector
    ) -> NDArray[np.float64]:
        """The probability that this router serves each candidate in this context (no learning)."""
        _, ss = self._scores(x, cands, prices)
        eps = self._epsilon_here(x, cands, ss, prices.v_usd)
        return np.asarray(self._probs(ss, eps)[1], dtype=np.float64)

    def choose(
        self,
        x: NDArray[np.float64],
        cands: Sequence[CandidateCost],
        prices: PriceVector,
        rng: np.random.Generator,
    ) -> OnlineDecision:
        """Decide one request: the argmax of Eq. 1 with probability 1 − ε, else a uniform draw
        (ε flat, or per context with ``epsilon_min``).

        Raises:
            ValidationError: no candidates, a duplicate or unknown model, features of the wrong shape
                or beyond ``FEATURE_BOUND``, prices not a ``PriceVector``, rng not a Generator.
        """
        if not isinstance(rng, np.random.Generator):
            raise ValidationError(f"choose: rng must be a numpy Generator, got {type(rng).__name__}")
        qs, ss = self._scores(x, cands, prices)
        eps = self._epsilon_here(x, cands, ss, prices.v_usd)
        best, probs = self._probs(ss, eps)
        served = best
        if eps > 0.0 and float(rng.random()) < eps:
            served = int(rng.integers(len(cands)))
        rest = sorted((i for i in range(len(cands)) if i != served), key=lambda i: (-ss[i], i))
        return OnlineDecision(
            index=served,
            order=(served, *rest),
            probs=tuple(probs),
            q_hat=tuple(qs),
            surplus_usd=tuple(ss),
            explored=served != best,
        )

    def update(self, x: NDArray[np.float64], model: str, quality: float) -> None:
        """Learn from one graded outcome of ``model`` on a prompt with features ``x``.

        Raises:
            ValidationError: unknown model, bad features, quality not a number in [0, 1], or an
                outcome that would make the estimate non-finite (the router is then unchanged).
        """
        i, arr, q = self._outcome(x, model, quality)
        self._observe(i, arr, q)
        self.n_updates_[i] += 1

    def _outcome(
        self, x: NDArray[np.float64], model: str, quality: float
    ) -> tuple[int, NDArray[np.float64], float]:
        q = real("quality", quality, low=0.0, high=1.0, where="OnlineRouter.update")
        return self._index(model), self._check_x(x), q

    def warm_start(self, outcomes: Iterable[tuple[NDArray[np.float64], str, float]]) -> OnlineRouter:
        """Replay logged (features, model, quality) outcomes, e.g. from a training split; returns self.

        Every outcome is checked before any is applied, so a malformed one changes nothing.

        Raises:
            ValidationError: ``outcomes`` is not an iterable of (features, model, quality) triples,
                or one of them is bad (as in ``update``), naming its position.
        """
        if isinstance(outcomes, (str, bytes, Mapping)) or not isinstance(outcomes, Iterable):
            raise ValidationError(
                f"warm_start: outcomes must be (features, model, quality) triples, got {type(outcomes).__name__}"
            )
        checked = []
        for k, item in enumerate(outcomes):
            if not isinstance(item, (tuple, list)) or len(item) != 3:
                raise ValidationError(
                    f"warm_start: outcome {k} must be a (features, model, quality) triple, got {item!r:.80}"
                )
            try:
                checked.append(self._outcome(*item))
            except ValidationError as exc:
                raise ValidationError(f"warm_start: outcome {k}: {exc}") from None
        for i, arr, q in checked:
            self._observe(i, arr, q)
            self.n_updates_[i] += 1
        return self
