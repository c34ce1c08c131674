"""Off-policy estimates of a target policy's mean reward from logs of another (logging) policy.

Input: N logged decisions, each with the action taken, the logging policy's propensity of that
action, the realised reward, and the target policy's probability of that same action (and, for the
doubly robust estimator, the target's probability of every action and a reward model's prediction
for every action). With importance weights w_i = π(a_i | x_i) / μ(a_i | x_i):

- IPS: (1/N) Σ w_i r_i — unbiased when μ > 0 wherever π > 0.
- SNIPS: Σ w_i r_i / Σ w_i — self-normalised, biased by O(1/N), lower variance.
- DR: (1/N) Σ [Σ_a π(a | x_i) r̂(x_i, a) + w_i (r_i − r̂(x_i, a_i))] — unbiased if either the
  propensities or the reward model are right.

Confidence intervals: normal (CLT) intervals over the per-decision terms for IPS and DR, the delta
method for SNIPS, or a percentile bootstrap (resampling decisions) for any of them. The effective
sample size (Σ w)² / Σ w² says how many on-policy samples the weighted log is worth. Pure numpy; the
reader that builds these arrays from a ledger lives in ``interfaces.gateway.learned``.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
from numpy.typing import ArrayLike, NDArray

from tokenomy.core.errors import ValidationError

__all__ = ["ESTIMATORS", "OffPolicyEstimate", "effective_sample_size", "estimate", "importance_weights"]

ESTIMATORS = ("ips", "snips", "dr")
_CI_METHODS = ("clt", "bootstrap")


@dataclass(frozen=True, slots=True)
class OffPolicyEstimate:
    """One estimate of a target policy's mean reward per decision.

    Attributes:
        estimator: ``ips``, ``snips`` or ``dr``.
        value: the point estimate (reward units per decision).
        ci_low, ci_high: the confidence interval at ``level``.
        level: the interval's coverage (e.g. 0.95).
        ci_method: ``clt`` (normal / delta method) or ``bootstrap`` (percentile).
        n: decisions in the log.
        ess: effective sample size of the importance weights.
    """

    estimator: str
    value: float
    ci_low: float
    ci_high: float
    level: float
    ci_method: str
    n: int
    ess: float

    def covers(self, truth: float) -> bool:
        """True when ``truth`` lies inside the interval (ends included)."""
        return self.ci_low <= truth <= self.ci_high


def _vec(name: str, value: ArrayLike, n: int | None = None) -> NDArray[np.float64]:
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim != 1 or (n is not None and arr.shape[0] != n):
        raise ValidationError(
            f"{name} must be a 1-d array{f' of length {n}' if n is not None else ''}; got shape {arr.shape}"
        )
    if not np.all(np.isfinite(arr)):
        raise ValidationError(f"{name} must be finite numbers")
    return arr


def importance_weights(target_prob: ArrayLike, logged_propensity: ArrayLike) -> NDArray[np.float64]:
    """w_i = π(a_i | x_i) / μ(a_i | x_i).

    Raises:
        ValidationError: a propensity outside (0, 1], a target probability outside [0, 1], or
            mismatched lengths.
    """
    mu = _vec("logged_propensity", logged_propensity)
    pi = _vec("target_prob", target_prob, mu.shape[0])
    if np.any(mu <= 0.0) or np.any(mu > 1.0):
        raise ValidationError("logged propensities must be in (0, 1]")
    if np.any(pi < 0.0) or np.any(pi > 1.0):
        raise ValidationError("target probabilities must be in [0, 1]")
    return np.asarray(pi / mu, dtype=np.float64)


def effective_sample_size(weights: ArrayLike) -> float:
    """(Σ w)² / Σ w² (0 when every weight is 0)."""
    w = _vec("weights", weights)
    s2 = float(w @ w)
    return float(w.sum()) ** 2 / s2 if s2 > 0 else 0.0


def _terms(
    estimator: str,
    w: NDArray[np.float64],
    r: NDArray[np.float64],
    dm: NDArray[np.float64] | None,
    r_hat_logged: NDArray[np.float64] | None,
) -> NDArray[np.float64]:
    if estimator == "dr":
        assert dm is not None and r_hat_logged is not None
        return np.asarray(dm + w * (r - r_hat_logged), dtype=np.float64)
    return np.asarray(w * r, dtype=np.float64)


def _point(estimator: str, terms: NDArray[np.float64], w: NDArray[np.float64]) -> float:
    if estimator == "snips":
        sw = float(w.sum())
        return float(terms.sum()) / sw if sw > 0 else 0.0
    return float(terms.mean())


def estimate(
    estimator: str,
    *,
    rewards: ArrayLike,
    logged_propensity: ArrayLike,
    target_prob: ArrayLike,
    actions: ArrayLike | None = None,
    target_probs_all: ArrayLike | None = None,
    reward_model: ArrayLike | None = None,
    level: float = 0.95,
    ci_method: str = "clt",
    n_boot: int = 2000,
    rng: np.random.Generator | None = None,
) -> OffPolicyEstimate:
    """Estimate the target policy's mean reward per decision from a log.

    Args:
        estimator: ``ips``, ``snips`` or ``dr``.
        rewards: (N,) realised rewards of the logged actions.
        logged_propensity: (N,) μ(a_i | x_i), in (0, 1].
        target_prob: (N,) π(a_i | x_i), in [0, 1].
        actions: (N,) logged action indices in 0..K-1 (``dr`` only).
        target_probs_all: (N, K) π(a | x_i) for every action (``dr`` only).
        reward_model: (N, K) r̂(x_i, a) for every action (``dr`` only).
        level: interval coverage in (0, 1).
        ci_method: ``clt`` or ``bootstrap``.
        n_boot: bootstrap resamples.
        rng: randomness for the bootstrap (required for ``bootstrap``).

    Returns:
        The point estimate, its interval and the effective sample size.

    Raises:
        ValidationError: an unknown estimator or CI method, inputs of the wrong shape or range, an
            empty log, or ``dr`` without its action-level inputs.
    """
    if estimator not in ESTIMATORS:
        raise ValidationError(f"unknown estimator {estimator!r}; valid: {', '.join(ESTIMATORS)}")
    if ci_method not in _CI_METHODS:
        raise ValidationError(f"unknown ci_method {ci_method!r}; valid: {', '.join(_CI_METHODS)}")
    if not (0.0 < level < 1.0):
        raise ValidationError(f"level must be in (0, 1); got {level!r}")
    r = _vec("rewards", rewards)
    n = r.shape[0]
    if n == 0:
        raise ValidationError("an off-policy estimate needs at least one logged decision")
    w = importance_weights(
        _vec("target_prob", target_prob, n), _vec("logged_propensity", logged_propensity, n)
    )
    dm: NDArray[np.float64] | None = None
    r_hat_logged: NDArray[np.float64] | None = None
    if estimator == "dr":
        if actions is None or target_probs_all is None or reward_model is None:
            raise ValidationError("the dr estimator needs actions, target_probs_all and reward_model")
        a = np.asarray(actions)
        pa = np.asarray(target_probs_all, dtype=np.float64)
        rm = np.asarray(reward_model, dtype=np.float64)
        if pa.ndim != 2 or pa.shape[0] != n or rm.shape != pa.shape or a.shape != (n,):
            raise ValidationError(
                f"dr needs actions (N,), target_probs_all and reward_model (N, K) with N = {n}; got "
                f"{a.shape}, {pa.shape}, {rm.shape}"
            )
        if not np.issubdtype(a.dtype, np.integer) or np.any(a < 0) or np.any(a >= pa.shape[1]):
            raise ValidationError(f"actions must be integers in 0..{pa.shape[1] - 1}")
        if not (np.all(np.isfinite(pa)) and np.all(np.isfinite(rm))):
            raise ValidationError("target_probs_all and reward_model must be finite numbers")
        dm = np.einsum("nk,nk->n", pa, rm)
        r_hat_logged = rm[np.arange(n), a]
    terms = _terms(estimator, w, r, dm, r_hat_logged)
    value = _point(estimator, terms, w)
    z = NormalDist().inv_cdf(0.5 + level / 2.0)
    if ci_method == "bootstrap":
        if rng is None:
            raise ValidationError("the bootstrap interval needs rng (a numpy Generator)")
        idx = rng.integers(0, n, size=(n_boot, n))
        if estimator == "snips":
            sw = w[idx].sum(axis=1)
            boots = np.where(sw > 0, terms[idx].sum(axis=1) / np.where(sw > 0, sw, 1.0), 0.0)
        else:
            boots = terms[idx].mean(axis=1)
        lo, hi = np.quantile(boots, [0.5 - level / 2.0, 0.5 + level / 2.0])
    else:
        if estimator == "snips":
            sw = float(w.mean())
            resid = w * (r - value) / sw if sw > 0 else np.zeros(n)
            se = float(resid.std(ddof=1)) / np.sqrt(n) if n > 1 else 0.0
        else:
            se = float(terms.std(ddof=1)) / np.sqrt(n) if n > 1 else 0.0
        lo, hi = value - z * se, value + z * se
    return OffPolicyEstimate(
        estimator=estimator,
        value=value,
        ci_low=float(lo),
        ci_high=float(hi),
        level=level,
        ci_method=ci_method,
        n=n,
        ess=effective_sample_size(w),
    )
