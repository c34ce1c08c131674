"""The online router: exact propensities, Eq. 1 choice, learning from feedback, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from tokenomy.core.errors import ValidationError
from tokenomy.core.prices import PriceVector
from tokenomy.core.rule import surplus
from tokenomy.core.uses import TokenUse
from tokenomy.routing.online import CandidateCost, OnlineRouter, final_question, prompt_features

CANDS = (CandidateCost("cheap", dc_usd=1.0, dl_s=0.0), CandidateCost("strong", dc_usd=3.0, dl_s=0.0))


def _router(eps: float = 0.1) -> OnlineRouter:
    return OnlineRouter(
        models=("cheap", "strong"),
        n_features=len(prompt_features("x")),
        epsilon=eps,
        prior_quality={"cheap": 0.5, "strong": 0.5},
    )


def test_propensities_are_exact_and_match_the_empirical_frequencies() -> None:
    r = _router(0.2)
    x = prompt_features("What is 2 + 2?")
    prices = PriceVector(v_usd=10.0)
    probs = r.action_probs(x, CANDS, prices)
    assert probs.sum() == pytest.approx(1.0)
    assert probs.tolist() == pytest.approx([0.9, 0.1])  # equal q̂: the cheap one is the argmax
    rng = np.random.default_rng(0)
    picks = [r.choose(x, CANDS, prices, rng) for _ in range(4000)]
    share = np.mean([d.index for d in picks])
    assert share == pytest.approx(0.1, abs=0.02)
    assert all(d.propensity == pytest.approx(probs[d.index]) for d in picks)
    assert all(d.explored == (d.index == 1) for d in picks)


def test_surplus_is_the_core_rule_of_the_estimated_quality() -> None:
    r = _router(0.0)
    x = prompt_features("Look up pear in the table")
    d = r.choose(x, CANDS, PriceVector(v_usd=4.0, lam_usd_per_s=0.5), np.random.default_rng(0))
    for c, q, s in zip(CANDS, d.q_hat, d.surplus_usd, strict=True):
        assert s == pytest.approx(
            surplus(
                TokenUse(c.name, dq=q, dc_usd=c.dc_usd, dl_s=c.dl_s),
                PriceVector(v_usd=4.0, lam_usd_per_s=0.5),
            )
        )


def test_feedback_teaches_which_model_is_better_per_context() -> None:
    r = _router(0.0)
    easy, hard = "What is 2 + 3?", "What is 48213 * 9127 minus 5531?"
    for _ in range(30):
        r.update(prompt_features(easy), "cheap", 1.0)
        r.update(prompt_features(easy), "strong", 1.0)
        r.update(prompt_features(hard), "cheap", 0.0)
        r.update(prompt_features(hard), "strong", 1.0)
    prices = PriceVector(v_usd=10.0)
    rng = np.random.default_rng(0)
    assert r.choose(prompt_features(easy), CANDS, prices, rng).index == 0
    assert r.choose(prompt_features(hard), CANDS, prices, rng).index == 1
    q = r.predict(prompt_features(hard))
    assert q[1] - q[0] > 0.5


def test_same_seed_same_decisions_and_warm_start_equals_updates() -> None:
    xs = [prompt_features(f"What is {i} + {i * 7}?") for i in range(20)]
    a, b = _router(0.3), _router(0.3)
    log = [(x, "strong" if i % 3 else "cheap", float(i % 2)) for i, x in enumerate(xs)]
    for x, m, q in log:
        a.update(x, m, q)
    b.warm_start(log)
    np.testing.assert_allclose(a.predict(xs[0]), b.predict(xs[0]))
    ra, rb = np.random.default_rng(5), np.random.default_rng(5)
    pa = [a.choose(x, CANDS, PriceVector(v_usd=5.0), ra).index for x in xs]
    pb = [b.choose(x, CANDS, PriceVector(v_usd=5.0), rb).index for x in xs]
    assert pa == pb


def test_bad_inputs_raise_named_errors() -> None:
    r = _router()
    with pytest.raises(ValidationError, match="unknown model"):
        r.update(prompt_features("x"), "nope", 1.0)
    with pytest.raises(ValidationError, match="features must be"):
        r.predict(np.zeros(3))
    with pytest.raises(ValidationError, match="epsilon"):
        OnlineRouter(models=("a",), n_features=3, epsilon=1.0)
    with pytest.raises(ValidationError, match="at least one candidate"):
        r.choose(prompt_features("x"), (), PriceVector(v_usd=1.0), np.random.default_rng(0))


def test_features_describe_the_final_question_not_the_shared_examples() -> None:
    shots = "Answer with the number only.\nQ: What is 3 + 4?\nA: 7\nQ: Which is larger, 15 or 82?\nA: 82\n"
    a, b = shots + "Q: What is 2 + 2?\nA:", "Q: What is 2 + 2?\nA:"
    np.testing.assert_allclose(prompt_features(a), prompt_features(b))
    assert not np.allclose(prompt_features(a), prompt_features(shots + "Q: What is 41 * 9?\nA:"))
    assert final_question("intro\n\nWhat now?") == "What now?"


def _learned_router(eps_min: float | None, z: float = 2.0) -> OnlineRouter:
    """A router taught that the cheap model is always right on an easy prompt (many outcomes)."""
    r = OnlineRouter(
        models=("cheap", "strong"),
        n_features=len(prompt_features("x")),
        epsilon=0.2,
        epsilon_min=eps_min,
        explore_z=z,
    )
    for _ in range(200):
        r.update(prompt_features("What is 2 + 3?"), "cheap", 1.0)
        r.update(prompt_features("What is 2 + 3?"), "strong", 1.0)
    return r


def test_per_context_exploration_is_small_where_the_argmax_is_sure_and_full_where_not() -> None:
    prices = PriceVector(v_usd=10.0)
    sure, unsure = (
        prompt_features("What is 2 + 3?"),
        prompt_features("Table: plum 7; which fruit is dearest?"),
    )
    flat = _learned_router(None)
    assert flat.action_probs(sure, CANDS, prices).tolist() == pytest.approx([0.9, 0.1])  # the default: flat ε
    r = _learned_router(0.02)
    # many outcomes for the easy prompt: q̂ equal, cheap wins by ΔC = 2 USD ≫ z standard errors of V·Δq̂
    assert r.action_probs(sure, CANDS, prices).tolist() == pytest.approx([0.99, 0.01])
    # an unseen prompt: the surplus difference is within z standard errors, so ε = 0.2 applies
    assert r.action_probs(unsure, CANDS, PriceVector(v_usd=50.0)).min() == pytest.approx(0.1)
    # z = 0: never unsure, ε_min everywhere; the served model's propensity is the logged one
    r0 = _learned_router(0.02, z=0.0)
    rng = np.random.default_rng(3)
    picks = [r0.choose(unsure, CANDS, PriceVector(v_usd=50.0), rng) for _ in range(3000)]
    assert all(min(d.probs) == pytest.approx(0.01) for d in picks)
    assert all(d.propensity == pytest.approx(d.probs[d.index]) for d in picks)
    assert np.mean([d.explored for d in picks]) == pytest.approx(0.01, abs=0.006)


def test_per_context_exploration_settings_are_checked() -> None:
    with pytest.raises(ValidationError, match="epsilon_min"):
        OnlineRouter(models=("a",), n_features=3, epsilon=0.1, epsilon_min=0.2)
    with pytest.raises(ValidationError, match="explore_z"):
        OnlineRouter(models=("a",), n_features=3, epsilon=0.1, epsilon_min=0.0, explore_z=-1.0)
