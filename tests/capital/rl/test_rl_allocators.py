"""Every registered allocation policy: plans within the offer and the budget, and each policy's own rule."""

from __future__ import annotations

import numpy as np
import pytest

from tokenomy.capital.rl.allocators import (
    ALLOCATORS,
    GroupResults,
    RLPrices,
    StepView,
    make_allocator,
)
from tokenomy.core.errors import ValidationError


def _view(seed: int = 0, *, lag: int = 0, drift: float = 0.0, k: int = 48, ess: float = 1.0) -> StepView:
    rng = np.random.default_rng(seed)
    level = rng.integers(1, 5, k)
    return StepView(
        tasks=rng.permutation(200)[:k].astype(np.int64),
        p_hat=rng.uniform(0.0, 1.0, k),
        rollout_tokens=level + 1,
        verify_tokens=4 * level + 3,
        update_tokens=3 * level + 3,
        budget_usd=16 * 8 * 25e-6,
        group_size=8,
        max_group_size=16,
        num_groups=16,
        staleness_versions=lag,
        prices=RLPrices(drift_per_version=drift),
        ess_share=ess,
    )


@pytest.mark.parametrize("name", sorted(ALLOCATORS))
@pytest.mark.parametrize("seed", range(5))
def test_every_policy_plans_distinct_offered_tasks_within_group_limits(name: str, seed: int) -> None:
    view = _view(seed)
    plan = make_allocator(name).allocate(view, np.random.default_rng(seed))
    assert plan.picks.size == np.unique(plan.picks).size > 0
    assert np.all((plan.picks >= 0) & (plan.picks < view.tasks.size))
    assert np.all((plan.group_sizes >= 1) & (plan.group_sizes <= view.max_group_size))


def test_uniform_and_dapo_sample_p_groups_of_g() -> None:
    view = _view()
    for name in ("uniform", "dapo"):
        plan = make_allocator(name).allocate(view, np.random.default_rng(0))
        assert plan.picks.size == view.num_groups and set(plan.group_sizes.tolist()) == {view.group_size}


@pytest.mark.parametrize("seed", range(8))
def test_knapsack_spends_at_most_the_uniform_rollout_budget(seed: int) -> None:
    view = _view(seed)
    plan = make_allocator("knapsack").allocate(view, np.random.default_rng(0))
    price = view.prices.rollout_usd_per_token * view.rollout_tokens
    spent = float((price[plan.picks] * plan.group_sizes).sum())
    assert spent <= view.num_groups * view.group_size * float(price.mean()) + 1e-12
    assert spent > 0.5 * view.num_groups * view.group_size * float(price.mean())  # it does spend


@pytest.mark.parametrize("seed", range(8))
def test_tokenomy_keeps_its_full_expected_spend_within_the_budget(seed: int) -> None:
    view = _view(seed)
    pr = view.prices
    plan = make_allocator("tokenomy").allocate(view, np.random.default_rng(0))
    p, n = view.p_hat[plan.picks], plan.group_sizes.astype(float)
    informative = 1 - p**n - (1 - p) ** n
    per = pr.rollout_usd_per_token * view.rollout_tokens + pr.verify_usd_per_token * view.verify_tokens
    spend = n * per[plan.picks] + n * pr.update_usd_per_token * view.update_tokens[plan.picks] * informative
    assert float(spend.sum()) <= view.budget_usd + 1e-12


def test_the_decay_ablation_buys_less_and_trains_on_fewer_groups_when_rollouts_are_stale() -> None:
    fresh, stale = _view(3), _view(3, lag=4, drift=0.2)
    tok = make_allocator("tokenomy-decay")
    n_fresh = tok.allocate(fresh, np.random.default_rng(0)).group_sizes.sum()
    n_stale = tok.allocate(stale, np.random.default_rng(0)).group_sizes.sum()
    assert n_stale < n_fresh
    results = GroupResults(np.array([0.0, 1.0, 1 / 8, 0.5]), np.full(4, 8 * 15), np.full(4, 8))
    assert tok.train_on(fresh, results).tolist() == [False, False, True, True]
    assert tok.train_on(stale, results).tolist() == [False, False, False, True]
    assert make_allocator("tokenomy-nodiscount").train_on(stale, results).tolist() == [
        False,
        False,
        True,
        True,
    ]
    assert tok.step_scale(stale) == pytest.approx(0.8**4)
    assert make_allocator("tokenomy-nodiscount").step_scale(stale) == 1.0
    assert tok.importance(stale) is None and make_allocator("tokenomy-nodiscount").importance(stale) is None


def test_the_importance_treatment_values_stale_rollouts_by_their_measured_sample_size() -> None:
    tok = make_allocator("tokenomy")
    fresh, lossy, drifted = _view(3), _view(3, lag=4, ess=0.2), _view(3, lag=4, drift=0.5)
    n_fresh = tok.allocate(fresh, np.random.default_rng(0)).group_sizes.sum()
    assert tok.allocate(lossy, np.random.default_rng(0)).group_sizes.sum() < n_fresh
    # δ of the decay ablation plays no part: only the measured ESS share does
    assert tok.allocate(drifted, np.random.default_rng(0)).group_sizes.sum() == n_fresh
    assert tok.importance(fresh) is None  # nothing to correct without lag
    assert tok.importance(lossy) is not None and tok.step_scale(lossy) == 1.0
    pass_rate, upd, sizes = np.array([1 / 8, 1 / 8, 0.5, 0.5]), np.full(4, 8 * 15), np.full(4, 8)
    kept = GroupResults(pass_rate, upd, sizes)
    lost = GroupResults(pass_rate, upd, sizes, ess_share=np.array([1.0, 0.3, 1.0, 0.5]))
    assert tok.train_on(lossy, kept).tolist() == [True, True, True, True]
    assert tok.train_on(lossy, lost).tolist() == [True, False, True, True]


def test_dapo_trains_on_informative_groups_and_refills_only_untried_tasks() -> None:
    view = _view()
    dapo = make_allocator("dapo")
    results = GroupResults(np.r_[np.zeros(6), np.full(10, 0.5)], np.full(16, 80), np.full(16, 8))
    assert dapo.train_on(view, results).sum() == 10
    more = dapo.refill(view, results, 1, np.random.default_rng(0))
    assert more is not None and more.picks.tolist() == list(range(16, 22))
    assert dapo.refill(view, results, 3, np.random.default_rng(0)) is None  # round cap
    full = GroupResults(np.full(16, 0.5), np.full(16, 80), np.full(16, 8))
    assert dapo.refill(view, full, 1, np.random.default_rng(0)) is None


def test_uniform_and_knapsack_train_on_every_group() -> None:
    results = GroupResults(np.array([0.0, 1.0, 0.5]), np.full(3, 10), np.full(3, 2))
    for name in ("uniform", "knapsack"):
        assert make_allocator(name).train_on(_view(), results).all()


def test_an_unknown_policy_names_the_valid_ones() -> None:
    with pytest.raises(ValidationError, match="dapo, knapsack, tokenomy"):
        make_allocator("ppo")
