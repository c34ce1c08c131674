"""Eq. 8: the split of a task's tokens across read / plan / edit / verify with equal marginal products.

Tokens of a run are attributed to four phases: **plan** = the completion tokens of every call (the
model's thought and command, reasoning included: in mini-swe-agent each reply is a THOUGHT then one
command), **read**, **edit**, **verify** = the prompt tokens of the calls whose command
reads/searches, edits/creates a file, or runs tests/scripts (``features.phase_of``);
calls of any other class (git, install, submit, malformed replies, ...) are left out of the split
and their share is reported.

Marginal products are measured from the trajectories with a concave form (fitted on train runs only):

    logit P(resolved) = a + β·log(T_ktok) + γ·log(problem_ktok) + Σ_j b_j·log(s_j + ε),   ε = 0.01,

where T is the run's split tokens and s_j the phase shares (Σ s_j = 1). At fixed T the marginal
product of phase j's share is ∂p/∂s_j = p(1 − p)·b_j/(s_j + ε); Eq. 8 sets them equal across the
phases whose share is not at a bound (water-filling: s_j = clip(b_j/μ − ε, lo_j, hi_j) with μ such
that Σ s_j = 1). The bounds [lo_j, hi_j] are the 5% and 95% quantiles of the train runs' shares: the
model is not asked about splits no run used (a phase with b_j ≤ 0 gets its lower bound). The phases
are complements in this form (the log of a share: starving any one costs more the smaller it is).

What this is not: a causal estimate. The fit is observational (hard tasks draw long runs with
another mix), so ``evaluate_split`` judges it on held-out runs only: whether the split carries
information beyond the total (held-out log loss against a total-only model), and whether held-out
runs whose observed split is closer to the prescribed one succeed more often (closest vs farthest
third, with a bootstrap CI). The predicted gain of moving each held-out run to the prescribed split
is MODELLED (the model's own extrapolation) and labelled so. No file reading here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from tokenomy.autonomy.features import phase_of
from tokenomy.autonomy.replay import split_folds
from tokenomy.autonomy.success_model import _sigmoid, fit_glm
from tokenomy.autonomy.trajectory import AgentTrajectory
from tokenomy.core.errors import ValidationError

__all__ = [
    "SPLIT_PHASES",
    "PhaseTokens",
    "SplitEvaluation",
    "SplitModel",
    "equal_marginal_split",
    "phase_tokens",
]

SPLIT_PHASES = ("read", "plan", "edit", "verify")
"""The phases of Eq. 8's split, in column order."""

_EPS = 0.01


@dataclass(frozen=True, slots=True)
class PhaseTokens:
    """Tokens per phase of each run (rows = runs, columns = :data:`SPLIT_PHASES`).

    Attributes:
        tokens: float[T, 4], tokens of each phase.
        other_tokens: float[T], billed tokens of calls outside the four phases.
        problem_ktok: float[T], the first prompt's size in thousands of tokens (a difficulty control).
        resolved: bool[T].
    """

    tokens: NDArray[np.float64]
    other_tokens: NDArray[np.float64]
    problem_ktok: NDArray[np.float64]
    resolved: NDArray[np.bool_]

    @property
    def total(self) -> NDArray[np.float64]:
        """float[T], the split tokens of each run."""
        return np.asarray(self.tokens.sum(axis=1), dtype=np.float64)

    @property
    def shares(self) -> NDArray[np.float64]:
        """float[T, 4], each phase's share of the split tokens."""
        return self.tokens / np.maximum(self.total, 1.0)[:, None]

    def subset(self, mask: NDArray[np.bool_]) -> PhaseTokens:
        """The runs where ``mask`` is True."""
        return PhaseTokens(
            self.tokens[mask], self.other_tokens[mask], self.problem_ktok[mask], self.resolved[mask]
        )


def phase_tokens(trajectories: Sequence[AgentTrajectory]) -> PhaseTokens:
    """Attribute every run's billed tokens to read / plan / edit / verify (and other)."""
    tok = np.zeros((len(trajectories), 4))
    other = np.zeros(len(trajectories))
    for i, t in enumerate(trajectories):
        for s in t.steps:
            tok[i, 1] += s.num_completion_tokens
            ph = phase_of(s.action_class)
            if ph == 3:
                other[i] += s.num_prompt_tokens
            else:
                tok[i, (0, 2, 3)[ph]] += s.num_prompt_tokens
    prob = np.array([t.steps[0].num_prompt_tokens / 1e3 if t.steps else 1.0 for t in trajectories])
    res = np.array([t.resolved for t in trajectories], dtype=bool)
    return PhaseTokens(tok, other, prob, res)


def equal_marginal_split(
    b: NDArray[np.float64],
    lo: NDArray[np.float64] | None = None,
    hi: NDArray[np.float64] | None = None,
    eps: float = _EPS,
) -> NDArray[np.float64]:
    """Shares maximising Σ b_j·log(s_j + ε) with lo ≤ s ≤ hi, Σ s = 1 (default bounds [0, 1]).

    Interior phases get equal marginal products b_j/(s_j + ε) = μ; the others sit at a bound (a phase
    with b_j ≤ 0 at its lower one). μ is found by bisection (Σ s_j(μ) decreases in μ).

    Raises:
        ValidationError: the bounds admit no split (Σ lo > 1 or Σ hi < 1).
    """
    b = np.asarray(b, dtype=np.float64)
    lo = np.zeros(len(b)) if lo is None else np.asarray(lo, dtype=np.float64)
    hi = np.ones(len(b)) if hi is None else np.asarray(hi, dtype=np.float64)
    if lo.sum() > 1 + 1e-9 or hi.sum() < 1 - 1e-9:
        raise ValidationError(f"share bounds admit no split: Σ lo = {lo.sum():.3g}, Σ hi = {hi.sum():.3g}")
    pos = b > 0

    def shares(mu: float) -> NDArray[np.float64]:
        return np.where(pos, np.clip(b / mu - eps, lo, hi), lo)

    if shares(1e-12).sum() < 1.0:  # even the largest interior shares fall short: fill up to hi in order
        out = shares(1e-12)
        for j in np.argsort(-b, kind="mergesort"):
            out[j] = min(hi[j], out[j] + 1.0 - out.sum())
        return out
    a, z = 1e-12, float(b[pos].max() / max(eps, 1e-12)) + 1.0 if pos.any() else 1.0
    for _ in range(200):
        mid = 0.5 * (a + z)
        a, z = (mid, z) if shares(mid).sum() > 1.0 else (a, mid)
    return shares(z)


def _design(pt: PhaseTokens, shares: NDArray[np.float64] | None = None) -> NDArray[np.float64]:
    sh = pt.shares if shares is None else shares
    return np.column_stack(
        [
            np.ones(len(pt.resolved)),
            np.log(np.maximum(pt.total, 1.0) / 1e3),
            np.log(np.maximum(pt.problem_ktok, 1e-3)),
            np.log(sh + _EPS),
        ]
    )


@dataclass
class SplitModel:
    """The concave success model of the module docstring, fitted on train runs (``*_`` after fit).

    Args:
        ridge: L2 penalty of the logistic fit (non-bias coefficients).
        use_split: False fits the total-only baseline (no share terms).
    """

    ridge: float = 1e-2
    use_split: bool = True
    beta_: NDArray[np.float64] | None = None
    mu_: NDArray[np.float64] | None = None
    sd_: NDArray[np.float64] | None = None
    lo_: NDArray[np.float64] | None = None
    hi_: NDArray[np.float64] | None = None

    def _z(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        if self.mu_ is None or self.sd_ is None:
            raise RuntimeError("SplitModel is not fitted; call fit(train) first")
        x = x if self.use_split else x[:, :3]
        return (x - self.mu_) / self.sd_

    def fit(self, train: PhaseTokens) -> SplitModel:
        """Fit on the train runs (each run counts once)."""
        if len(train.resolved) < 10:
            raise ValidationError(f"SplitModel needs at least 10 train runs, got {len(train.resolved)}")
        x = _design(train)
        x = x if self.use_split else x[:, :3]
        self.mu_, self.sd_ = x.mean(axis=0), x.std(axis=0)
        self.mu_[0], self.sd_[0] = 0.0, 1.0
        self.sd_[self.sd_ == 0] = 1.0
        z = (x - self.mu_) / self.sd_
        y = train.resolved.astype(np.float64)
        self.lo_, self.hi_ = np.quantile(train.shares, [0.05, 0.95], axis=0)
        self.beta_ = fit_glm(z, y, np.ones(len(y)), link="logit", ridge=self.ridge)
        return self

    @property
    def share_coefs(self) -> NDArray[np.float64]:
        """b_j on the raw log(s_j + ε) scale, one per phase."""
        if self.beta_ is None or self.sd_ is None or not self.use_split:
            raise RuntimeError("share_coefs needs a fitted split model")
        return np.asarray(self.beta_[3:] / self.sd_[3:], dtype=np.float64)

    def success(self, pt: PhaseTokens, shares: NDArray[np.float64] | None = None) -> NDArray[np.float64]:
        """p̂ of each run at its observed shares (or at ``shares``, float[T, 4] or float[4]), same total."""
        if self.beta_ is None:
            raise RuntimeError("SplitModel is not fitted; call fit(train) first")
        sh = None if shares is None else np.broadcast_to(shares, (len(pt.resolved), 4))
        return _sigmoid(self._z(_design(pt, sh)) @ self.beta_)

    def optimal_shares(self) -> NDArray[np.float64]:
        """Eq. 8's split: equal marginal products within the train runs' share range."""
        return equal_marginal_split(self.share_coefs, self.lo_, self.hi_)

    def marginal_products(self, pt: PhaseTokens, shares: NDArray[np.float64]) -> NDArray[np.float64]:
        """float[T, 4]: ∂p̂/∂s_j at ``shares`` for each run (equal across active phases at the optimum)."""
        p = self.success(pt, shares)
        return (p * (1 - p))[:, None] * self.share_coefs[None, :] / (np.asarray(shares)[None, :] + _EPS)


@dataclass(frozen=True, slots=True)
class SplitEvaluation:
    """Eq. 8 judged on held-out runs (cross-fitted over runs; every number from models fitted without them).

    Attributes:
        optimal_shares: the prescribed split fitted on all runs (for reporting; judges nothing).
        observed_shares: the mean observed split.
        share_coefs: b_j fitted on all runs.
        log_loss_split / log_loss_total: held-out log loss with and without the share terms.
        log_loss_diff_ci95: bootstrap 95% CI of (split − total) per-run log loss (< 0: the split informs).
        close_success / far_success: held-out success of the third of runs closest to / farthest from
            the prescribed split (L1 distance of shares, each run against its own fold's split).
        close_minus_far_ci95: bootstrap 95% CI of that difference.
        modelled_gain: mean p̂(prescribed split) − p̂(observed split) at the run's own total (MODELLED).
        other_share: mean share of billed tokens outside the four phases.
        n_runs: runs judged.
    """

    optimal_shares: tuple[float, ...]
    observed_shares: tuple[float, ...]
    share_coefs: tuple[float, ...]
    log_loss_split: float
    log_loss_total: float
    log_loss_diff_ci95: tuple[float, float]
    close_success: float
    far_success: float
    close_minus_far_ci95: tuple[float, float]
    modelled_gain: float
    other_share: float
    n_runs: int


def _ll(p: NDArray[np.float64], y: NDArray[np.bool_]) -> NDArray[np.float64]:
    p = np.clip(p, 1e-9, 1 - 1e-9)
    return np.asarray(-np.where(y, np.log(p), np.log(1 - p)), dtype=np.float64)


def _boot(values: NDArray[np.float64], rng: np.random.Generator, n_boot: int = 2000) -> tuple[float, float]:
    draws = rng.integers(0, len(values), size=(n_boot, len(values)))
    lo, hi = np.quantile(values[draws].mean(axis=1), [0.025, 0.975])
    return float(lo), float(hi)


def evaluate_split(pt: PhaseTokens, *, folds: int = 5, seed: int = 0) -> SplitEvaluation:
    """Cross-fit the split model over runs and judge Eq. 8 on the held-out ones (see the docstring)."""
    n = len(pt.resolved)
    fold = split_folds(n, folds, seed)
    p_split, p_total, p_opt, dist = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
    for f in range(folds):
        held = fold == f
        train, test = pt.subset(~held), pt.subset(held)
        m = SplitModel().fit(train)
        opt = m.optimal_shares()
        p_split[held] = m.success(test)
        p_total[held] = SplitModel(use_split=False).fit(train).success(test)
        p_opt[held] = m.success(test, opt)
        dist[held] = np.abs(test.shares - opt[None, :]).sum(axis=1)
    rng = np.random.default_rng(seed)
    d_ll = _ll(p_split, pt.resolved) - _ll(p_total, pt.resolved)
    order = np.argsort(dist, kind="mergesort")
    third = n // 3
    close, far = pt.resolved[order[:third]].astype(float), pt.resolved[order[n - third :]].astype(float)
    diffs = [
        float(close[rng.integers(0, third, third)].mean() - far[rng.integers(0, third, third)].mean())
        for _ in range(2000)
    ]
    full = SplitModel().fit(pt)
    total = pt.total + pt.other_tokens
    return SplitEvaluation(
        optimal_shares=tuple(float(v) for v in full.optimal_shares()),
        observed_shares=tuple(float(v) for v in pt.shares.mean(axis=0)),
        share_coefs=tuple(float(v) for v in full.share_coefs),
        log_loss_split=float(_ll(p_split, pt.resolved).mean()),
        log_loss_total=float(_ll(p_total, pt.resolved).mean()),
        log_loss_diff_ci95=_boot(d_ll, rng),
        close_success=float(close.mean()),
        far_success=float(far.mean()),
        close_minus_far_ci95=(float(np.quantile(diffs, 0.025)), float(np.quantile(diffs, 0.975))),
        modelled_gain=float((p_opt - p_split).mean()),
        other_share=float((pt.other_tokens / np.maximum(total, 1.0)).mean()),
        n_runs=n,
    )
