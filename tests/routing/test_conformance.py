"""One contract for every registered quality estimator and every registered routing policy."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pytest
from routing_data import BagEncoder

from tokenomy.core import PriceVector
from tokenomy.core.rule import NULL
from tokenomy.routing.dataset import RoutingDataset
from tokenomy.routing.estimators import ESTIMATORS
from tokenomy.routing.evaluation import realised
from tokenomy.routing.features import Features, TextFeaturizer
from tokenomy.routing.policies import POLICIES, Policy, Problem, Routes, make_policy
from tokenomy.routing.router import Router


def _embed(X: Features, prompts: Sequence[str], on: bool) -> Features:
    """``X`` with a test encoder's embeddings when ``on`` (the embedding estimators need them)."""
    return X.with_embedding(BagEncoder().encode(prompts)) if on else X


def _features(ds: RoutingDataset, embed: bool = False) -> tuple[object, object, object]:
    tr, te = ds.split("train"), ds.split("test")
    fz = TextFeaturizer(n_features=2**12).fit(tr.prompts, tr.categories.tolist())
    return (
        tr,
        _embed(fz.transform(tr.prompts, tr.categories.tolist()), tr.prompts, embed),
        _embed(fz.transform(te.prompts, te.categories.tolist()), te.prompts, embed),
    )


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_every_estimator_predicts_probabilities_deterministically_and_learns_the_signal(
    name: str, tiny: RoutingDataset
) -> None:
    tr, Xtr, Xte = _features(tiny, ESTIMATORS[name].needs_embedding)
    te = tiny.split("test")
    a = ESTIMATORS[name]().fit(Xtr, tr.quality).predict(Xte)
    b = ESTIMATORS[name]().fit(Xtr, tr.quality).predict(Xte)
    assert a.shape == (len(te), tiny.n_models)
    assert np.all((a >= 0) & (a <= 1)) and np.array_equal(a, b)
    # better than predicting each model's train mean (Brier), on held-out prompts
    base = np.broadcast_to(tr.quality.mean(axis=0), a.shape)
    assert np.mean((a - te.quality) ** 2) < np.mean((base - te.quality) ** 2)


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_every_estimator_handles_an_unseen_category_and_rejects_bad_labels(
    name: str, tiny: RoutingDataset
) -> None:
    need = ESTIMATORS[name].needs_embedding
    tr, Xtr, _ = _features(tiny, need)
    fz = TextFeaturizer(n_features=2**12).fit(tr.prompts, tr.categories.tolist())
    est = ESTIMATORS[name]().fit(Xtr, tr.quality)
    text = "a prompt from nowhere"
    one = est.predict(_embed(fz.transform_one(text, "astrology"), [text], need))
    assert one.shape == (1, tiny.n_models) and np.all((one >= 0) & (one <= 1))
    bad = tr.quality.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="quality"):
        ESTIMATORS[name]().fit(Xtr, bad)


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_every_policy_returns_valid_deterministic_routes(
    name: str, tiny: RoutingDataset, fitted: Router
) -> None:
    te = tiny.split("test")
    X = fitted.features(te.prompts, te.categories.tolist())
    pol = make_policy(name).fit(fitted.train_problem_.at_v(0.01))
    for v in (0.0005, 0.01, 1.0):
        p = fitted.problem(X, v, PriceVector(), te)
        r1, r2 = pol.decide(p), pol.decide(p)
        assert r1.chosen.shape == (len(te),) and r1.chosen.dtype == np.int64
        assert np.all((r1.chosen >= NULL) & (r1.chosen < tiny.n_models))
        assert np.array_equal(r1.chosen, r2.chosen)
        called = r1.called_matrix(tiny.n_models)
        answered = r1.chosen >= 0
        assert np.all(called[np.flatnonzero(answered), r1.chosen[answered]])  # the answer is paid for
        oracle = realised(p, make_policy("oracle").decide(p)).welfare
        assert np.all(realised(p, r1).welfare <= oracle + 1e-12)  # nobody beats the ex-post oracle
        if not pol.needs_outcomes:  # a router must not read the outcomes of the requests it routes
            blind = replace(p, quality=None, cost_usd=None, latency_s=None)
            assert np.array_equal(pol.decide(blind).chosen, r1.chosen)


def test_unknown_policy_and_estimator_names_list_the_valid_ones(tiny: RoutingDataset) -> None:
    with pytest.raises(ValueError, match=r"valid: .*tokenomy"):
        make_policy("gpt-router")
    with pytest.raises(ValueError, match=r"valid: .*stacked"):
        Router(estimator="nope").fit(tiny.split("train"))


@pytest.mark.parametrize("name", sorted(n for n, cls in POLICIES.items() if not cls.needs_outcomes))
def test_shuffling_the_test_labels_changes_no_decision_of_a_policy_that_does_not_read_outcomes(
    name: str, tiny: RoutingDataset, fitted: Router
) -> None:
    te = tiny.split("test")
    X = fitted.features(te.prompts, te.categories.tolist())
    perm = np.random.default_rng(1).permutation(len(te))
    shuffled = replace(te, quality=te.quality[perm], cost_usd=te.cost_usd[perm])
    pol = make_policy(name).fit(fitted.train_problem_)
    for v in (0.0005, 0.01, 1.0):
        p, q = fitted.problem(X, v, PriceVector(), te), fitted.problem(X, v, PriceVector(), shuffled)
        assert p.quality is not None and q.quality is not None
        assert not np.array_equal(p.quality, q.quality)
        for a, b in ((pol.decide(p), pol.decide(q)), (pol.route(p), pol.route(q))):
            assert np.array_equal(a.chosen, b.chosen)
            assert np.array_equal(a.called_matrix(tiny.n_models), b.called_matrix(tiny.n_models))


def test_a_policy_that_does_not_read_outcomes_is_routed_without_them(
    tiny: RoutingDataset, fitted: Router
) -> None:
    te = tiny.split("test")
    p = fitted.problem(fitted.features(te.prompts, te.categories.tolist()), 0.01, PriceVector(), te)
    seen: list[object] = []

    class Spy(Policy):  # no name: not registered
        def decide(self, problem: Problem) -> Routes:
            seen.append(problem.quality)
            return Routes(np.zeros(len(problem), dtype=np.int64))

    Spy().route(p)
    assert seen == [None] and p.quality is not None
    assert not POLICIES["cascade"].needs_outcomes and POLICIES["oracle"].needs_outcomes
