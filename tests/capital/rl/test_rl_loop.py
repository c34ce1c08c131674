"""The RL loop: it learns, it is deterministic, its async lag really samples from old parameters."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from tokenomy.capital.rl import loop as loop_module
from tokenomy.capital.rl.allocators import make_allocator
from tokenomy.capital.rl.config import RLConfig, warm_start
from tokenomy.capital.rl.loop import run_rl
from tokenomy.capital.rl.policy import PolicyNet
from tokenomy.capital.rl.tasks import TaskSet

SMALL = RLConfig(max_tokens=40_000)


def test_the_loop_learns_above_its_start_and_far_above_chance() -> None:
    start = warm_start(SMALL, 0)
    tr = run_rl(replace(SMALL, max_tokens=200_000), make_allocator("uniform"), start, seed=0)
    chance = float(np.mean(10.0 ** -(start.heldout.n_digits + 1.0)))
    assert tr.heldout_accuracy[0] > 10 * chance
    assert tr.heldout_accuracy[-1] > tr.heldout_accuracy[0] + 0.04
    assert tr.train_accuracy[-1] > tr.train_accuracy[0] + 0.04


def test_same_seed_same_run_and_a_new_seed_differs() -> None:
    start = warm_start(SMALL, 1)
    a = run_rl(SMALL, make_allocator("tokenomy"), start, seed=1, staleness_versions=2)
    b = run_rl(SMALL, make_allocator("tokenomy"), warm_start(SMALL, 1), seed=1, staleness_versions=2)
    c = run_rl(SMALL, make_allocator("tokenomy"), start, seed=2, staleness_versions=2)
    assert np.array_equal(a.tokens, b.tokens) and np.array_equal(a.heldout_accuracy, b.heldout_accuracy)
    assert not np.array_equal(a.heldout_accuracy, c.heldout_accuracy)


@pytest.mark.parametrize("lag", [0, 1, 3])
def test_rollouts_of_step_t_come_from_the_policy_of_step_t_minus_lag(
    monkeypatch: pytest.MonkeyPatch, lag: int
) -> None:
    start = warm_start(SMALL, 2)
    evaluated: list[PolicyNet] = []  # the parameters after each step (held-out evaluation), from θ_0
    sampled_with: list[PolicyNet] = []
    real_prob, real_sample = loop_module.correct_prob, loop_module.sample

    def correct_prob(net: PolicyNet, tasks: TaskSet) -> np.ndarray:
        if tasks is start.heldout:
            evaluated.append(net)
        return real_prob(net, tasks)

    def sample(net: PolicyNet, tasks: TaskSet, rng: np.random.Generator) -> np.ndarray:
        sampled_with.append(net)
        return real_sample(net, tasks, rng)

    monkeypatch.setattr(loop_module, "correct_prob", correct_prob)
    monkeypatch.setattr(loop_module, "sample", sample)
    tr = run_rl(
        replace(SMALL, max_tokens=30_000), make_allocator("uniform"), start, seed=2, staleness_versions=lag
    )
    # uniform: one sampling call per step, and one for the step the budget stopped (sampled, not taken)
    assert len(sampled_with) - 1 == len(tr.tokens) > lag + 2
    assert len({id(n) for n in evaluated}) > lag + 2  # the parameters really change
    for t, net in enumerate(sampled_with):
        assert net is evaluated[max(0, t - lag)]
    assert np.array_equal(tr.groups.version, np.maximum(tr.groups.step - 1 - lag, 0))


def test_a_run_stops_once_its_token_budget_is_spent() -> None:
    cfg = replace(SMALL, max_tokens=20_000)
    tr = run_rl(cfg, make_allocator("dapo"), warm_start(cfg, 0), seed=0)
    assert len(tr.tokens) >= 2 and tr.tokens[-1] <= cfg.max_tokens  # it stops before exceeding it
    assert np.array_equal(tr.tokens, tr.rollout_tokens + tr.verify_tokens + tr.update_tokens)
