"""Off-policy estimators: on-policy logs give the sample mean, a known synthetic bandit is recovered."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tokenomy.core.errors import ValidationError
from tokenomy.routing.offpolicy import effective_sample_size, estimate, importance_weights


@given(st.lists(st.floats(-5, 5), min_size=2, max_size=50))
def test_on_policy_log_gives_the_sample_mean_for_every_estimator(rewards: list[float]) -> None:
    n = len(rewards)
    p = np.full(n, 0.5)
    for name in ("ips", "snips"):
        est = estimate(name, rewards=rewards, logged_propensity=p, target_prob=p)
        assert est.value == pytest.approx(float(np.mean(rewards)), abs=1e-9)
        assert est.ess == pytest.approx(n)


def _bandit(n: int, seed: int) -> dict[str, np.ndarray]:
    """Two actions, a binary context; logging uniform-ish, target deterministic: truth computable."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 2, n)
    mean = np.array([[0.2, 0.7], [0.8, 0.3]])  # context -> action -> mean reward
    mu = np.where(x[:, None] == 0, [0.7, 0.3], [0.4, 0.6])  # logging probabilities
    a = (rng.random(n) < mu[:, 1]).astype(np.int64)
    r = rng.binomial(1, mean[x, a]).astype(float)
    pi_all = np.where(x[:, None] == 0, [0.0, 1.0], [1.0, 0.0])  # target: best action per context
    return {"x": x, "a": a, "r": r, "mu": mu[np.arange(n), a], "pi_all": pi_all, "mean": mean}


def test_ips_snips_dr_recover_a_known_bandits_value_within_their_intervals() -> None:
    d = _bandit(4000, seed=1)
    truth = 0.5 * 0.7 + 0.5 * 0.8
    n = len(d["r"])
    pi = d["pi_all"][np.arange(n), d["a"]]
    rm_bad = np.full((n, 2), 0.5)  # a wrong reward model: DR stays unbiased through the propensities
    for name in ("ips", "snips", "dr"):
        est = estimate(
            name,
            rewards=d["r"],
            logged_propensity=d["mu"],
            target_prob=pi,
            actions=d["a"],
            target_probs_all=d["pi_all"],
            reward_model=rm_bad,
        )
        assert est.covers(truth), (name, est)
        assert est.ci_high - est.ci_low < 0.1
    # the wrong policy value is far outside the intervals (the test can fail)
    est = estimate("ips", rewards=d["r"], logged_propensity=d["mu"], target_prob=pi)
    assert not est.covers(0.5)


def test_dr_with_the_true_reward_model_is_tighter_than_ips() -> None:
    d = _bandit(3000, seed=2)
    n = len(d["r"])
    pi = d["pi_all"][np.arange(n), d["a"]]
    rm = d["mean"][d["x"]]
    kw = {"rewards": d["r"], "logged_propensity": d["mu"], "target_prob": pi}
    ips = estimate("ips", **kw)
    dr = estimate("dr", actions=d["a"], target_probs_all=d["pi_all"], reward_model=rm, **kw)
    assert dr.ci_high - dr.ci_low < ips.ci_high - ips.ci_low


def test_bootstrap_interval_is_seeded_and_close_to_the_clt_one() -> None:
    d = _bandit(2000, seed=3)
    n = len(d["r"])
    pi = d["pi_all"][np.arange(n), d["a"]]
    kw = {"rewards": d["r"], "logged_propensity": d["mu"], "target_prob": pi}
    b1 = estimate("snips", ci_method="bootstrap", rng=np.random.default_rng(0), n_boot=500, **kw)
    b2 = estimate("snips", ci_method="bootstrap", rng=np.random.default_rng(0), n_boot=500, **kw)
    clt = estimate("snips", **kw)
    assert b1 == b2
    assert abs((b1.ci_high - b1.ci_low) - (clt.ci_high - clt.ci_low)) < 0.02


def test_effective_sample_size_and_weights() -> None:
    assert effective_sample_size([1.0, 1.0, 0.0, 0.0]) == pytest.approx(2.0)
    assert importance_weights([1.0, 0.0], [0.5, 0.25]).tolist() == [2.0, 0.0]


@pytest.mark.parametrize(
    "kw",
    [
        {"rewards": [1.0], "logged_propensity": [0.0], "target_prob": [1.0]},
        {"rewards": [1.0], "logged_propensity": [0.5], "target_prob": [1.5]},
        {"rewards": [1.0, 2.0], "logged_propensity": [0.5], "target_prob": [1.0]},
        {"rewards": [], "logged_propensity": [], "target_prob": []},
    ],
)
def test_bad_logs_raise_a_named_error(kw: dict[str, list[float]]) -> None:
    with pytest.raises(ValidationError):
        estimate("ips", **kw)  # type: ignore[arg-type]


def test_dr_without_a_reward_model_and_unknown_names_raise() -> None:
    with pytest.raises(ValidationError, match="dr estimator needs"):
        estimate("dr", rewards=[1.0], logged_propensity=[1.0], target_prob=[1.0])
    with pytest.raises(ValidationError, match="valid: ips, snips, dr"):
        estimate("magic", rewards=[1.0], logged_propensity=[1.0], target_prob=[1.0])
