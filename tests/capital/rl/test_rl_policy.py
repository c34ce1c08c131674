"""The numpy policy: its gradient matches finite differences, sampling is seeded, tasks verify exactly."""

from __future__ import annotations

import numpy as np
import pytest

from tokenomy.capital.rl.policy import (
    Adam,
    PolicyNet,
    correct_prob,
    policy_gradient,
    sample,
    sequence_logprob,
)
from tokenomy.capital.rl.tasks import TaskSet, make_split, verify
from tokenomy.core.errors import ValidationError


def _setup() -> tuple[PolicyNet, TaskSet]:
    rng = np.random.default_rng(3)
    train, _ = make_split(5, rng=rng)
    return PolicyNet.init(16, rng), train


def test_policy_gradient_matches_finite_differences() -> None:
    rng = np.random.default_rng(0)
    train, _ = make_split(4, rng=rng)
    net = PolicyNet.init(12, rng)
    y = sample(net, train, rng)
    w = rng.normal(size=len(train))
    loss, grads = policy_gradient(net, train, y, w)
    assert loss == pytest.approx(-float((w * sequence_logprob(net, train, y)).sum()))
    eps = 1e-6
    for k, arr in enumerate(net.arrays()):
        for _ in range(6):
            i = tuple(int(rng.integers(0, s)) for s in arr.shape)
            up = [a.copy() for a in net.arrays()]
            dn = [a.copy() for a in net.arrays()]
            up[k][i] += eps
            dn[k][i] -= eps
            numeric = (
                policy_gradient(PolicyNet(*up), train, y, w)[0]
                - policy_gradient(PolicyNet(*dn), train, y, w)[0]
            ) / (2 * eps)
            assert grads[k][i] == pytest.approx(numeric, rel=1e-5, abs=1e-7)


def test_sampling_is_deterministic_with_a_seed_and_answers_have_the_task_length() -> None:
    net, train = _setup()
    a = sample(net, train, np.random.default_rng(1))
    b = sample(net, train, np.random.default_rng(1))
    assert np.array_equal(a, b)
    past = np.arange(a.shape[1])[None, :] >= train.answer_tokens[:, None]
    assert np.all(a[past] == 0)


def test_verifier_checks_every_answer_digit_exactly() -> None:
    _, train = _setup()
    right = train.answer_digits.copy()
    assert np.all(verify(train, right) == 1.0)
    wrong = right.copy()
    wrong[:, 0] = (wrong[:, 0] + 1) % 10
    assert np.all(verify(train, wrong) == 0.0)
    a = train.a_digits @ (10 ** np.arange(4))
    b = train.b_digits @ (10 ** np.arange(4))
    assert np.array_equal(right @ (10 ** np.arange(5)), a + b)


def test_split_is_disjoint_and_refuses_too_many_tasks() -> None:
    train, held = make_split(40, rng=np.random.default_rng(0))

    def key(t: TaskSet) -> set[tuple[int, tuple[int, ...], tuple[int, ...]]]:
        rows = zip(t.n_digits.tolist(), t.a_digits.tolist(), t.b_digits.tolist(), strict=True)
        return {(n, tuple(x), tuple(y)) for n, x, y in rows}

    assert not key(train) & key(held)
    with pytest.raises(ValidationError, match="level 1"):
        make_split(60, rng=np.random.default_rng(0))


def test_maximum_likelihood_steps_raise_the_right_answers_probability() -> None:
    net, train = _setup()
    opt = Adam(lr=0.02)
    before = correct_prob(net, train).mean()
    for _ in range(30):
        _, g = policy_gradient(net, train, train.answer_digits, np.full(len(train), 1.0 / len(train)))
        net = opt.step(net, g)
    assert correct_prob(net, train).mean() > before + 0.05
