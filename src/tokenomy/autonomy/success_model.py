"""Success-probability and remaining-cost models over trajectory prefixes (the estimators behind ΔQ, ΔC).

Two generalised linear models on the prefix features of :mod:`tokenomy.autonomy.features`, fitted by
iteratively reweighted least squares with a small ridge penalty, and one linear model (numpy only,
deterministic):

* ``p̂(x)``  = P(the run resolves the task if it is continued to its end | prefix x)   — logistic;
* ``Ĉ(x)``  = E[USD of the calls still to come if it is continued | prefix x]          — log link
  (quasi-Poisson), so the estimate stays positive and grows multiplicatively with context size;
* ``ĉ_next(x)`` = E[USD of call k | what is known before call k] — least squares on the context the call
  will be sent with (its prompt tokens, fixed before it is sent, and their growth over the last
  call: the part a provider cache cannot serve), the last reply's completion tokens
  and the last call's billed cost: the price of the next call as a controller can know it *before*
  making it (the billed cost of call k is only known after it, so no decision may use it).

Each row of p̂ and Ĉ is weighted 1/n_calls so that every training trajectory counts once, not once
per step. ``success_bounds`` gives p̂ at η̂ ∓ z·se(η̂), with se from the inverse of the penalised
IRLS Hessian (trajectory-weighted, so the information is counted in trajectories, not in their correlated rows):
the estimation error the stopping rule's confidence margin uses.
The models are fitted on a train split of instances and judged on held-out ones (``log_loss``,
``brier``, ``auc``). What they are not: a model of *which* action the agent takes next.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from tokenomy.autonomy.features import FEATURE_NAMES, TrajectoryTable

__all__ = ["NEXT_CALL_FEATURES", "PrefixModel", "auc", "fit_glm"]

NEXT_CALL_FEATURES = ("bias", "context_ktok", "context_growth_ktok", "last_completion_ktok", "last_cost_usd")
"""Features of the next call's predicted cost (all known before the call is made)."""


_NEXT_COLS = np.array([FEATURE_NAMES.index(f) for f in NEXT_CALL_FEATURES], dtype=np.int64)


def _sigmoid(eta: NDArray[np.float64], scale: float = 1.0) -> NDArray[np.float64]:
    """``scale``·σ(η) = scale / (1 + e^−η), η clipped to [−30, 30] (the one logistic of this package;
    ``scale`` lets callers get V·p̂ with the division they always used, bit for bit)."""
    return scale / (1.0 + np.exp(-np.clip(eta, -30, 30)))


def _standardise(x: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    mu = x.mean(axis=0)
    sd = x.std(axis=0)
    mu[0], sd[0] = 0.0, 1.0  # the bias column stays 1
    sd[sd == 0] = 1.0
    return mu, sd


def fit_glm(
    x: NDArray[np.float64],
    y: NDArray[np.float64],
    w: NDArray[np.float64],
    *,
    link: str,
    ridge: float = 1e-3,
    n_iter: int = 50,
) -> NDArray[np.float64]:
    """Fit a logistic (``link="logit"``) or log-link (``link="log"``) GLM by weighted IRLS.

    Args:
        x: float[N, F] design (first column the bias, not penalised).
        y: float[N] targets (in [0, 1] for logit, ≥ 0 for log).
        w: float[N] row weights.
        link: "logit" or "log".
        ridge: L2 penalty on the non-bias coefficients (per unit of total weight).
        n_iter: at most this many Newton steps.

    Returns:
        float[F] coefficients.
    """
    n_feat = x.shape[1]
    beta = np.zeros(n_feat)
    if link == "log":
        beta[0] = np.log(max(float(np.average(y, weights=w)), 1e-9))
    pen = np.full(n_feat, ridge * float(w.sum()))
    pen[0] = 0.0
    for _ in range(n_iter):
        eta = np.clip(x @ beta, -30, 30)
        if link == "logit":
            mu = _sigmoid(eta)
            var = np.maximum(mu * (1 - mu), 1e-9)
        else:
            mu = np.exp(eta)
            var = np.maximum(mu, 1e-9)
        grad = x.T @ (w * (y - mu)) - pen * beta
        hess = (x * (w * var)[:, None]).T @ x + np.diag(pen)
        step = np.linalg.solve(hess, grad)
        beta = beta + step
        if float(np.max(np.abs(step))) < 1e-8:
            break
    return beta


def auc(score: NDArray[np.float64], label: NDArray[np.bool_]) -> float:
    """Area under the ROC curve (Mann–Whitney), ties counted half; NaN when one class is absent."""
    pos, neg = score[label], score[~label]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    order = np.argsort(np.concatenate([pos, neg]), kind="mergesort")
    ranks = np.empty(len(order))
    allv = np.concatenate([pos, neg])[order]
    # average ranks for ties
    _, start, counts = np.unique(allv, return_index=True, return_counts=True)
    avg = start + (counts - 1) / 2.0 + 1.0
    ranks[order] = np.repeat(avg, counts)
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


@dataclass
class PrefixModel:
    """p̂(success | prefix) and Ĉ(remaining USD | prefix), fitted on a train split.

    Args:
        ridge: L2 penalty of both GLMs.
        clip_quantile: features are clipped to the [q, 1−q] quantiles of the train rows (no extrapolation).
        features: names of the features used (a subset of :data:`FEATURE_NAMES`; default all).
    """

    ridge: float = 1e-2
    clip_quantile: float = 0.005
    row_weighting: str = "trajectory"
    features: tuple[str, ...] = FEATURE_NAMES
    cols_: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64), repr=False)
    mu_: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0), repr=False)
    sd_: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0), repr=False)
    beta_success_: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0), repr=False)
    beta_cost_: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0), repr=False)
    lo_: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0), repr=False)
    hi_: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0), repr=False)
    cov_success_: NDArray[np.float64] = field(default_factory=lambda: np.zeros((0, 0)), repr=False)
    beta_next_: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0), repr=False)

    def fit(self, table: TrajectoryTable) -> PrefixModel:
        """Fit both models on every decision point of ``table`` (the train split).

        Returns:
            self, with the learned ``*_`` attributes set.
        """
        self.cols_ = np.array([FEATURE_NAMES.index(f) for f in self.features], dtype=np.int64)
        x = table.x[:, self.cols_]
        # a GLM extrapolates without bound; features are clipped to the train range seen per trajectory
        self.lo_, self.hi_ = (
            np.quantile(x, self.clip_quantile, axis=0),
            np.quantile(x, 1 - self.clip_quantile, axis=0),
        )
        x = np.clip(x, self.lo_, self.hi_)
        self.mu_, self.sd_ = _standardise(x)
        z = (x - self.mu_) / self.sd_
        w = (
            np.ones(len(table.traj))
            if self.row_weighting == "row"
            else 1.0 / table.n_calls[table.traj].astype(np.float64)
        )
        y = table.resolved[table.traj].astype(np.float64)
        self.beta_success_ = fit_glm(z, y, w, link="logit", ridge=self.ridge)
        p = _sigmoid(z @ self.beta_success_)
        pen = np.full(z.shape[1], self.ridge * float(w.sum()))
        pen[0] = 0.0
        hess = (z * (w * p * (1 - p))[:, None]).T @ z + np.diag(pen)
        self.cov_success_ = np.asarray(np.linalg.pinv(hess), dtype=np.float64)
        self.beta_cost_ = fit_glm(z, table.remaining_usd, w, link="log", ridge=self.ridge)
        xn = table.x[:, _NEXT_COLS]
        self.beta_next_ = np.asarray(np.linalg.lstsq(xn, table.cost_usd, rcond=None)[0], dtype=np.float64)
        return self

    def next_call_usd(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        """ĉ_next: USD of the next call predicted before it is made (≥ 0), for each row of ``x``."""
        if len(self.beta_next_) == 0:
            raise RuntimeError("PrefixModel is not fitted; call fit(table) first")
        return np.maximum(x[:, _NEXT_COLS] @ self.beta_next_, 0.0)

    def _z(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        if len(self.beta_success_) == 0:
            raise RuntimeError("PrefixModel is not fitted; call fit(table) first")
        return (np.clip(x[:, self.cols_], self.lo_, self.hi_) - self.mu_) / self.sd_

    def success(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        """p̂ for each row of the full feature matrix ``x`` (float[N, len(FEATURE_NAMES)])."""
        return _sigmoid(self._z(x) @ self.beta_success_)

    def success_bounds(
        self, x: NDArray[np.float64], z_se: float
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """(low, high): p̂ at η̂ − z·se(η̂) and η̂ + z·se(η̂) for each row of ``x`` (z ≥ 0)."""
        zx = self._z(x)
        eta = zx @ self.beta_success_
        half = z_se * np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", zx, self.cov_success_, zx), 0.0))
        return _sigmoid(eta - half), _sigmoid(eta + half)

    def remaining_usd(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        """Ĉ (USD still to be spent if continued to the end) for each row of ``x``."""
        return np.exp(np.clip(self._z(x) @ self.beta_cost_, -30, 30))

    def scores(self, table: TrajectoryTable) -> dict[str, float]:
        """Held-out quality of p̂ and Ĉ on ``table``: log loss, Brier, AUC (trajectory-weighted), cost MAE."""
        p = np.clip(self.success(table.x), 1e-9, 1 - 1e-9)
        y = table.resolved[table.traj]
        w = 1.0 / table.n_calls[table.traj].astype(np.float64)
        ll = -np.average(np.where(y, np.log(p), np.log(1 - p)), weights=w)
        brier = np.average((p - y) ** 2, weights=w)
        first = table.offsets[:-1]
        c_hat = self.remaining_usd(table.x)
        return {
            "log_loss": float(ll),
            "brier": float(brier),
            "auc_all_prefixes": auc(p, y),
            "auc_at_step10": auc(p[first + np.minimum(10, table.n_calls - 1)], table.resolved),
            "remaining_cost_mae_usd": float(np.average(np.abs(c_hat - table.remaining_usd), weights=w)),
        }
