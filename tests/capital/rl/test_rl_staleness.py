"""Importance correction of stale rollouts: ratio 1 without lag, an unbiased corrected gradient, ESS."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from numpy.typing import NDArray

from tokenomy.capital.rl.allocators import make_allocator
from tokenomy.capital.rl.config import RLConfig, warm_start
from tokenomy.capital.rl.loop import run_rl
from tokenomy.capital.rl.policy import PolicyNet, policy_gradient, sample, token_logprob, valid_tokens
from tokenomy.capital.rl.staleness import ImportanceCorrection, ess_share, group_ess_share
from tokenomy.capital.rl.tasks import MAX_DIGITS, TaskSet, make_split
from tokenomy.core.errors import ValidationError

SETTINGS = [ImportanceCorrection(level, c) for level in ("token", "sequence") for c in (1.0, 2.0, math.inf)]


def _flat(grads: tuple[NDArray[np.float64], ...]) -> NDArray[np.float64]:
    return np.concatenate([g.ravel() for g in grads])


@pytest.mark.parametrize("correction", SETTINGS, ids=lambda c: c.label)
def test_the_importance_ratio_is_one_at_lag_zero(correction: ImportanceCorrection) -> None:
    rng = np.random.default_rng(0)
    tasks, _ = make_split(6, rng=rng)
    net = PolicyNet.init(16, rng)
    y = sample(net, tasks, rng)
    valid = valid_tokens(tasks)
    w = correction.weights(token_logprob(net, tasks, y) - token_logprob(net, tasks, y), valid)
    assert np.array_equal(w, valid.astype(float))  # exactly 1 on every answer token, 0 past it
    assert ess_share(w, valid) == 1.0


def test_the_loop_without_lag_is_the_uncorrected_rule_exactly() -> None:
    cfg = RLConfig(max_tokens=30_000)
    start = warm_start(cfg, 4)
    a = run_rl(cfg, make_allocator("tokenomy"), start, seed=4, staleness_versions=0)
    b = run_rl(cfg, make_allocator("tokenomy-nodiscount"), start, seed=4, staleness_versions=0)
    assert np.array_equal(a.heldout_accuracy, b.heldout_accuracy) and np.array_equal(a.tokens, b.tokens)
    assert np.all(a.groups.ess_share == 1.0)


def test_with_lag_the_loop_measures_a_sample_size_loss() -> None:
    cfg = RLConfig(max_tokens=60_000)
    start = warm_start(cfg, 5)
    tr = run_rl(cfg, make_allocator("tokenomy"), start, seed=5, staleness_versions=4)
    late = tr.groups.ess_share[tr.groups.step > 4]
    assert late.size and np.all((late > 0.0) & (late <= 1.0)) and late.min() < 1.0


def _toy() -> tuple[PolicyNet, PolicyNet, TaskSet, NDArray[np.int64], NDArray[np.float64]]:
    """One 1-digit task (two answer tokens, 100 possible answers), a current policy and a stale one."""
    rng = np.random.default_rng(7)
    tasks, _ = make_split(1, levels=(1,), rng=rng)
    now = PolicyNet.init(8, rng)
    old = PolicyNet(*(a + rng.normal(0.0, 0.4, a.shape) for a in now.arrays()))
    every = tasks.subset(np.zeros(100, dtype=np.int64))
    y = np.zeros((100, MAX_DIGITS + 1), dtype=np.int64)
    y[:, 0], y[:, 1] = np.arange(100) % 10, np.arange(100) // 10
    advantage = (y[:, 0] + 2.0 * y[:, 1]) / 27.0 - 0.5  # any reward minus a constant baseline
    return now, old, every, y, advantage


def test_the_sequence_corrected_stale_gradient_is_unbiased_exactly() -> None:
    """E_{y∼π_old}[ρ·A·∇log π_now] = E_{y∼π_now}[A·∇log π_now], both summed over all 100 answers."""
    now, old, every, y, adv = _toy()
    valid = valid_tokens(every)
    p_now = np.exp(token_logprob(now, every, y).sum(axis=1))
    p_old = np.exp(token_logprob(old, every, y).sum(axis=1))
    assert p_now.sum() == pytest.approx(1.0) and p_old.sum() == pytest.approx(1.0)
    target = _flat(policy_gradient(now, every, y, p_now * adv)[1])
    log_ratio = token_logprob(now, every, y) - token_logprob(old, every, y)

    def expected_under_old(correction: ImportanceCorrection | None) -> NDArray[np.float64]:
        w = valid.astype(float) if correction is None else correction.weights(log_ratio, valid)
        return _flat(policy_gradient(now, every, y, (p_old * adv)[:, None] * w)[1])

    unbiased = expected_under_old(ImportanceCorrection("sequence", math.inf))
    np.testing.assert_allclose(unbiased, target, rtol=1e-9, atol=1e-12)
    scale = float(np.linalg.norm(target))
    # the test can fail: ignoring staleness, or truncating every ratio at 1, is biased on this toy
    assert np.linalg.norm(expected_under_old(None) - target) > 0.05 * scale
    assert np.linalg.norm(expected_under_old(ImportanceCorrection("sequence", 1.0)) - target) > 0.01 * scale


def test_the_sampled_corrected_gradient_converges_to_the_fresh_one() -> None:
    now, old, every, y, adv = _toy()
    target = _flat(policy_gradient(now, every, y, np.exp(token_logprob(now, every, y).sum(axis=1)) * adv)[1])
    n = 40_000
    rng = np.random.default_rng(11)
    tasks = every.subset(np.zeros(n, dtype=np.int64))
    ys = sample(old, tasks, rng)
    a = (ys[:, 0] + 2.0 * ys[:, 1]) / 27.0 - 0.5
    valid = valid_tokens(tasks)
    w = ImportanceCorrection("sequence", math.inf).weights(
        token_logprob(now, tasks, ys) - token_logprob(old, tasks, ys), valid
    )
    corrected = _flat(policy_gradient(now, tasks, ys, (a / n)[:, None] * w)[1])
    naive = _flat(policy_gradient(now, tasks, ys, a / n)[1])
    err, naive_err = np.linalg.norm(corrected - target), np.linalg.norm(naive - target)
    assert err < 0.1 * np.linalg.norm(target) and err < 0.5 * naive_err


def test_truncation_caps_every_weight_and_token_ratios_differ_from_sequence_ratios() -> None:
    valid = np.array([[True, True, False], [True, True, True]])
    log_ratio = np.log(np.array([[3.0, 0.5, 9.0], [1.5, 1.5, 0.25]]))
    tok = ImportanceCorrection("token", 2.0).weights(log_ratio, valid)
    np.testing.assert_allclose(tok, [[2.0, 0.5, 0.0], [1.5, 1.5, 0.25]])
    seq = ImportanceCorrection("sequence", math.inf).weights(log_ratio, valid)
    np.testing.assert_allclose(seq, [[1.5, 1.5, 0.0], [0.5625, 0.5625, 0.5625]])


def test_ess_share_is_one_for_equal_weights_and_about_one_over_n_for_one_dominant_weight() -> None:
    valid = np.ones((4, 2), dtype=bool)
    assert ess_share(np.full((4, 2), 0.3), valid) == pytest.approx(1.0)
    heavy = np.full((4, 2), 1e-9)
    heavy[0, 0] = 1.0
    assert ess_share(heavy, valid) == pytest.approx(1 / 8, rel=1e-6)
    groups = group_ess_share(
        np.r_[np.full((2, 2), 1.0), heavy[:2]], np.ones((4, 2), dtype=bool), np.array([2, 2])
    )
    np.testing.assert_allclose(groups, [1.0, 0.25], rtol=1e-6)
    assert ess_share(np.zeros((0, 2)), np.zeros((0, 2), dtype=bool)) == 1.0


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValidationError, match="level"):
        ImportanceCorrection("word", 2.0)
    with pytest.raises(ValidationError, match="truncate_at"):
        ImportanceCorrection("token", 0.5)
    with pytest.raises(ValidationError, match="staleness treatment"):
        make_allocator("tokenomy", staleness="ignore")
    assert replace(ImportanceCorrection(), truncate_at=math.inf).label == "token,c=inf"


def test_the_selection_scores_every_candidate_on_training_seeds_and_keeps_the_best() -> None:
    from tokenomy.capital.rl.experiment import select_importance

    cfg = RLConfig(max_tokens=20_000)
    candidates = (ImportanceCorrection("token", 2.0), ImportanceCorrection("sequence", 1.0))
    choice = select_importance(cfg, candidates=candidates, seeds=(1000,), lags=(2,))
    assert [k for k, _ in choice.scores] == ["token,c=2", "sequence,c=1"]
    best = max(range(2), key=lambda i: choice.scores[i][1])
    assert choice.chosen == candidates[best]
