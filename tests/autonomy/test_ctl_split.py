"""Eq. 8's split: equal marginal products within bounds, the phase attribution, and the held-out check."""

from __future__ import annotations

import numpy as np
import pytest

from tokenomy.autonomy.split import (
    SplitModel,
    equal_marginal_split,
    evaluate_split,
    phase_tokens,
)
from tokenomy.autonomy.trajectory import AgentStep, AgentTrajectory
from tokenomy.core import ValidationError

_EPS = 0.01


def _objective(b: np.ndarray, s: np.ndarray) -> float:
    return float(np.sum(b * np.log(s + _EPS)))


@pytest.mark.parametrize("seed", range(5))
def test_the_split_equalises_marginal_products_and_beats_any_other_feasible_split(seed: int) -> None:
    rng = np.random.default_rng(seed)
    b = rng.normal(0.5, 0.6, size=4)
    lo, hi = np.full(4, 0.02), np.full(4, 0.7)
    s = equal_marginal_split(b, lo, hi)
    assert s.sum() == pytest.approx(1.0) and np.all(s >= lo - 1e-9) and np.all(s <= hi + 1e-9)
    interior = (s > lo + 1e-6) & (s < hi - 1e-6)
    mp = b / (s + _EPS)
    if interior.sum() >= 2:
        assert np.allclose(mp[interior], mp[interior][0], rtol=1e-6)
    assert np.all(s[b <= 0] == pytest.approx(lo[b <= 0]))
    for _ in range(200):  # no feasible split does better
        other = rng.dirichlet(np.ones(4))
        if np.all(other >= lo) and np.all(other <= hi):
            assert _objective(b, other) <= _objective(b, s) + 1e-9


def test_unconstrained_split_is_proportional_to_the_coefficients() -> None:
    s = equal_marginal_split(np.array([1.0, 2.0, 3.0, 4.0]))
    assert s == pytest.approx((np.array([1, 2, 3, 4]) / 10) * (1 + 4 * _EPS) - _EPS)
    with pytest.raises(ValidationError):
        equal_marginal_split(np.ones(4), np.full(4, 0.3), np.ones(4))


def _run(i: int, rng: np.random.Generator, verify_share: float) -> AgentTrajectory:
    n = int(rng.integers(10, 30))
    kinds = rng.choice(
        ["read", "edit", "test", "git"],
        size=n,
        p=[0.5 - verify_share / 2, 0.3, verify_share, 0.2 - verify_share / 2],
    )
    steps = tuple(
        AgentStep(f"t{i}", k, str(c), "", 1000 + 100 * k, 50, 0, 0, 0.01, 0, 10, False, False, "")
        for k, c in enumerate(kinds)
    )
    share = float(np.mean(kinds == "test"))
    resolved = bool(rng.uniform() < 0.2 + 2.0 * share)  # synthetic: verifying more resolves more
    return AgentTrajectory(f"t{i}", "r", resolved, "Submitted", steps, 0.0)


def test_phase_attribution_and_a_split_learned_from_synthetic_runs() -> None:
    rng = np.random.default_rng(0)
    runs = [_run(i, rng, float(rng.uniform(0.02, 0.35))) for i in range(400)]
    pt = phase_tokens(runs)
    billed = np.array([sum(s.num_prompt_tokens + s.num_completion_tokens for s in t.steps) for t in runs])
    assert np.allclose(pt.total + pt.other_tokens, billed)
    assert np.allclose(pt.tokens[:, 1], [sum(s.num_completion_tokens for s in t.steps) for t in runs])
    model = SplitModel().fit(pt)
    b = model.share_coefs
    assert b[3] > 0 and b[3] == max(b)  # verify carries the success in this synthetic set
    opt = model.optimal_shares()
    assert opt[3] > pt.shares[:, 3].mean() and opt[3] <= model.hi_[3] + 1e-9  # type: ignore[index]
    mp = model.marginal_products(pt, opt)
    interior = (opt > model.lo_ + 1e-6) & (opt < model.hi_ - 1e-6)  # type: ignore[operator]
    if interior.sum() >= 2:
        assert np.allclose(mp[:, interior], mp[:, interior][:, :1], rtol=1e-6)
    ev = evaluate_split(pt, folds=4, seed=1)
    assert ev.n_runs == 400 and ev.log_loss_split < ev.log_loss_total  # the split informs, held out
    lo, hi = ev.close_minus_far_ci95
    assert lo <= ev.close_success - ev.far_success <= hi


def test_unfitted_model_raises() -> None:
    with pytest.raises(RuntimeError):
        SplitModel().optimal_shares()
