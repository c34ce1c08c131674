"""Bad inputs to the routing API (Router, RouteRequest, RoutingDataset, OnlineRouter): one ValidationError.

Each case names the argument in the message; no raw TypeError/IndexError/MemoryError, no silent guess
(a string where a number is expected is refused, not coerced), and an online router's state never
becomes non-finite.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from tokenomy.core.errors import TokenomyError, ValidationError
from tokenomy.core.prices import PriceVector
from tokenomy.routing.dataset import RoutingDataset
from tokenomy.routing.decision import RouteRequest
from tokenomy.routing.online import CandidateCost, OnlineRouter, prompt_features
from tokenomy.routing.router import Router

P = PriceVector(v_usd=1.0)
NAN = math.nan
INF = math.inf


def _raises(fn: Callable[[], Any], *words: str) -> None:
    with pytest.raises(ValidationError) as exc:
        fn()
    msg = str(exc.value)
    assert "\n" not in msg
    for w in words:
        assert w in msg, msg


def _rows(n: int = 40) -> list[dict[str, Any]]:
    return [
        {
            "prompt_id": f"p{i}",
            "prompt": f"what is {i} plus 1?",
            "model": m,
            "quality": float((i + j) % 2),
            "cost_usd": 0.001 * (j + 1),
        }
        for i in range(n)
        for j, m in enumerate(("a", "b"))
    ]


@pytest.fixture(scope="module")
def ds() -> RoutingDataset:
    return RoutingDataset.from_long(_rows())


@pytest.fixture(scope="module")
def router(ds: RoutingDataset) -> Router:
    return Router(folds=2, estimator="prior", n_features=2**10).fit(ds)


def _online() -> OnlineRouter:
    return OnlineRouter(models=["a", "b"], n_features=4)


CANDS = [CandidateCost("a", 0.01, 1.0), CandidateCost("b", 0.02, 1.0)]


# ---------------------------------------------------------------- A3: online state stays finite


@pytest.mark.parametrize("x", [[1e200, 1, 1, 1], [1, 1e7, 1, 1], [1, -1e7, 1, 1], [NAN, 1, 1, 1]])
def test_update_refuses_absurd_features_and_keeps_the_router_usable(x: list[float]) -> None:
    o = _online()
    before = o.predict(np.ones(4))
    _raises(lambda: o.update(np.array(x), "b", 1.0), "features")
    np.testing.assert_array_equal(o.predict(np.ones(4)), before)
    assert o.n_updates_.tolist() == [0, 0]
    d = o.choose(np.ones(4), CANDS, P, np.random.default_rng(0))
    assert all(math.isfinite(s) for s in d.surplus_usd)


@pytest.mark.parametrize("x", [[1e200, 1, 1, 1], [INF, 1, 1, 1]])
def test_choose_and_predict_refuse_absurd_features(x: list[float]) -> None:
    o = _online()
    _raises(lambda: o.choose(np.array(x), CANDS, P, np.random.default_rng(0)), "features")
    _raises(lambda: o.predict(np.array(x)), "features")


def test_many_large_but_allowed_updates_keep_the_state_finite() -> None:
    o = OnlineRouter(models=["a", "b"], n_features=4, ridge=1e-3)
    rng = np.random.default_rng(0)
    for _ in range(200):
        x = rng.uniform(-1e6, 1e6, 4)
        with contextlib.suppress(ValidationError):  # refusing is allowed; corrupting the state is not
            o.update(x, "a", float(rng.integers(2)))
    assert np.isfinite(o.a_inv_).all() and np.isfinite(o.b_).all()
    assert np.isfinite(o.predict(np.ones(4))).all()


@pytest.mark.parametrize(
    ("kw", "word"),
    [
        ({"prior_weight": INF}, "prior_weight"),
        ({"prior_weight": NAN}, "prior_weight"),
        ({"prior_weight": 1e300}, "prior_weight"),
        ({"prior_weight": "2"}, "prior_weight"),
        ({"prior_quality": {"a": NAN}}, "prior_quality"),
        ({"prior_quality": {"a": 5.0}}, "prior_quality"),
        ({"prior_quality": {"a": -0.1}}, "prior_quality"),
        ({"prior_quality": {"a": "0.5"}}, "prior_quality"),
        ({"prior_quality": {"zz": 0.1}}, "zz"),
        ({"prior_quality": [("a", 0.5)]}, "prior_quality"),
    ],
)
def test_online_router_refuses_bad_priors(kw: dict[str, Any], word: str) -> None:
    _raises(lambda: OnlineRouter(models=["a", "b"], n_features=4, **kw), word)


# ---------------------------------------------------------------- B2 / C5: OnlineRouter arguments


@pytest.mark.parametrize(
    ("kw", "word"),
    [
        ({"models": "ab"}, "models"),
        ({"models": [None, 1]}, "models"),
        ({"models": ["a", ""]}, "models"),
        ({"models": ["a", "a"]}, "models"),
        ({"models": None}, "models"),
        ({"n_features": 2.5}, "n_features"),
        ({"n_features": "4"}, "n_features"),
        ({"n_features": True}, "n_features"),
        ({"n_features": 10**6}, "n_features"),
        ({"n_features": 0}, "n_features"),
        ({"epsilon": "0.1"}, "epsilon"),
        ({"epsilon": NAN}, "epsilon"),
        ({"ridge": "0.1"}, "ridge"),
        ({"ridge": INF}, "ridge"),
        ({"epsilon_min": "0"}, "epsilon_min"),
        ({"explore_z": "2"}, "explore_z"),
        ({"explore_z": INF}, "explore_z"),
    ],
)
def test_online_router_refuses_bad_arguments(kw: dict[str, Any], word: str) -> None:
    args: dict[str, Any] = {"models": ["a", "b"], "n_features": 4, **kw}
    _raises(lambda: OnlineRouter(**args), word)


@pytest.mark.parametrize(
    ("quality", "word"),
    [
        ("0.5", "quality"),
        (5.0, "quality"),
        (-3.0, "quality"),
        (NAN, "quality"),
        (True, "quality"),
        (None, "quality"),
    ],
)
def test_update_refuses_bad_quality(quality: Any, word: str) -> None:
    o = _online()
    _raises(lambda: o.update(np.ones(4), "a", quality), word)
    assert o.n_updates_.tolist() == [0, 0]


def test_update_refuses_bad_model_name() -> None:
    _raises(lambda: _online().update(np.ones(4), None, 0.5), "model")  # type: ignore[arg-type]
    _raises(lambda: _online().update(np.ones(4), "zz", 0.5), "zz")


@pytest.mark.parametrize(
    ("call", "word"),
    [
        (lambda o: o.choose(np.ones(4), CANDS, None, np.random.default_rng(0)), "prices"),
        (lambda o: o.choose(np.ones(4), CANDS, P, None), "rng"),
        (lambda o: o.choose(np.ones(4), [CANDS[0], CANDS[0]], P, np.random.default_rng(0)), "duplicate"),
        (lambda o: o.choose(np.ones(4), [("a", 1, 1)], P, np.random.default_rng(0)), "CandidateCost"),
        (lambda o: o.choose(np.ones(4), CANDS[0], P, np.random.default_rng(0)), "candidates"),
        (lambda o: o.action_probs(np.ones(4), CANDS, 5), "prices"),
        (lambda o: o.choose(np.ones(3), CANDS, P, np.random.default_rng(0)), "features"),
        (lambda o: o.warm_start([(1, 2)]), "warm_start"),
        (lambda o: o.warm_start(None), "warm_start"),
        (lambda o: o.warm_start([(np.ones(4), "a", "1")]), "quality"),
    ],
)
def test_online_router_calls_refuse_bad_arguments(call: Callable[[OnlineRouter], Any], word: str) -> None:
    o = _online()
    _raises(lambda: call(o), word)


@pytest.mark.parametrize(
    ("kw", "word"),
    [
        ({"name": None}, "name"),
        ({"name": ""}, "name"),
        ({"dc_usd": NAN}, "dc_usd"),
        ({"dc_usd": "0.1"}, "dc_usd"),
        ({"dl_s": -1.0}, "dl_s"),
        ({"extra_lam_usd_per_s": INF}, "extra_lam_usd_per_s"),
    ],
)
def test_candidate_cost_refuses_bad_fields(kw: dict[str, Any], word: str) -> None:
    args: dict[str, Any] = {"name": "a", "dc_usd": 0.01, "dl_s": 1.0, **kw}
    _raises(lambda: CandidateCost(**args), word)


@pytest.mark.parametrize(
    ("args", "word"),
    [
        ((None,), "prompt"),
        ((b"abc",), "prompt"),
        (("x", 2.5), "n_hash"),
        (("x", "4"), "n_hash"),
        (("x", 10**9), "n_hash"),
    ],
)
def test_prompt_features_refuses_bad_arguments(args: tuple[Any, ...], word: str) -> None:
    _raises(lambda: prompt_features(*args), word)


def test_prompt_features_stay_within_the_router_bound() -> None:
    x = prompt_features("Q: " + "9" * 100_000)
    o = OnlineRouter(models=["a"], n_features=x.size)
    o.update(x, "a", 1.0)
    assert np.isfinite(o.predict(x)).all()


# ---------------------------------------------------------------- B2 / C3: Router and RouteRequest


@pytest.mark.parametrize(
    ("call", "word"),
    [
        (lambda r: r.route_many(["a", "b"], P, v_usd=[1, 2, 3]), "v_usd"),
        (lambda r: r.route_many(["a", "b"], P, v_usd=[[1, 2]]), "v_usd"),
        (lambda r: r.route_many(["a", "b"], P, v_usd=["1", "2"]), "v_usd"),
        (lambda r: r.route_many(["a", "b"], P, categories=["x"]), "categories"),
        (lambda r: r.route_many(["a", "b"], P, categories="xy"), "categories"),
        (lambda r: r.route_many(["a", "b"], P, categories=[1, 2]), "categories"),
        (lambda r: r.route_many([1, 2], P), "prompts"),
        (lambda r: r.route_many("abc", P), "prompts"),
        (lambda r: r.route_many(None, P), "prompts"),
        (lambda r: r.route_many(["ok", "\ud800 hi"], P), "prompt 1"),
        (lambda r: r.route(RouteRequest("\ud800 hi"), P), "prompt"),
        (lambda r: r.route(RouteRequest("hi"), P, queue_s=["a"]), "queue_s"),
        (lambda r: r.route(RouteRequest("hi"), P, queue_s={"a": "1"}), "queue_s"),
        (lambda r: r.route(RouteRequest("hi"), P, queue_s={"a": True}), "queue_s"),
        (lambda r: r.features("abc"), "prompts"),
    ],
)
def test_router_calls_refuse_bad_arguments(router: Router, call: Callable[[Router], Any], word: str) -> None:
    _raises(lambda: call(router), word)


def test_router_route_many_still_routes_good_input(router: Router) -> None:
    b = router.route_many(["a", "b"], P, v_usd=[1.0, 2.0], categories=["", ""])
    assert len(b) == 2
    assert len(router.route_many(("a", "b"), P, v_usd=3.0)) == 2
    assert len(router.route_many(["a"], P, v_usd=np.array([1.0]))) == 1


@pytest.mark.parametrize(
    ("make", "word"),
    [
        (lambda ds: Router(estimator="prior", folds=2, estimator_params={"bogus": 1}), "estimator_params"),
        (lambda ds: Router(estimator="prior", folds=2, estimator_params=5), "estimator_params"),
        (lambda ds: Router(estimator="prior", folds=2).fit(ds, prices=5), "prices"),
        (lambda ds: Router(estimator="prior", folds=2).fit(None), "RoutingDataset"),
    ],
)
def test_router_construction_and_fit_refuse_bad_arguments(
    ds: RoutingDataset, make: Callable[[RoutingDataset], Any], word: str
) -> None:
    _raises(lambda: make(ds), word)


@pytest.mark.parametrize(
    ("kw", "word"),
    [
        ({"v_usd": "1"}, "v_usd"),
        ({"v_usd": True}, "v_usd"),
        ({"v_usd": NAN}, "v_usd"),
        ({"v_usd": -1.0}, "v_usd"),
        ({"request_id": None}, "request_id"),
        ({"request_id": 7}, "request_id"),
        ({"request_id": "  "}, "request_id"),
        ({"prompt": "\ud800"}, "prompt"),
    ],
)
def test_route_request_refuses_bad_fields(kw: dict[str, Any], word: str) -> None:
    args: dict[str, Any] = {"prompt": "hi", **kw}
    _raises(lambda: RouteRequest(**args), word)


def test_route_request_keeps_good_values() -> None:
    r = RouteRequest("hi", v_usd=2, request_id="r1")
    assert r.v_usd == 2 and r.request_id == "r1"
    assert RouteRequest("hi").request_id.startswith("req-")


# ---------------------------------------------------------------- B2 / C4: RoutingDataset


@pytest.mark.parametrize(
    ("call", "word"),
    [
        (lambda d: d.subset(np.array([999])), "999"),
        (lambda d: d.subset(np.array([-41])), "-41"),
        (lambda d: d.subset(np.array([True, False])), "mask"),
        (lambda d: d.subset(np.array([0.5, 1.0])), "subset"),
        (lambda d: d.subset("ab"), "subset"),
        (lambda d: d.train_test(test_share=NAN), "test_share"),
        (lambda d: d.train_test(test_share=2), "test_share"),
        (lambda d: d.train_test(test_share=-0.5), "test_share"),
        (lambda d: d.train_test(test_share="0.3"), "test_share"),
        (lambda d: d.train_test(seed=-1), "seed"),
        (lambda d: d.train_test(seed=1.5), "seed"),
        (lambda d: d.with_models(["a", "a"]), "a"),
        (lambda d: d.with_models([]), "models"),
        (lambda d: d.with_models("ab"), "models"),
        (lambda d: d.split(None), "split"),
    ],
)
def test_dataset_methods_refuse_bad_arguments(
    ds: RoutingDataset, call: Callable[[RoutingDataset], Any], word: str
) -> None:
    _raises(lambda: call(ds), word)


def test_dataset_subset_keeps_good_selections(ds: RoutingDataset) -> None:
    mask = np.zeros(len(ds), dtype=bool)
    mask[:3] = True
    assert len(ds.subset(mask)) == 3
    assert len(ds.subset(np.array([0, 5, -1]))) == 3
    assert len(ds.subset(np.array([], dtype=np.int64))) == 0
    assert len(ds.subset([1, 2])) == 2
    tr, te = ds.train_test(test_share=0.25, seed=3)
    assert len(tr) + len(te) == len(ds)


@pytest.mark.parametrize("rows", [None, 5, [1, 2], ["abc"], [None]])
def test_from_long_refuses_rows_that_are_not_mappings(rows: Any) -> None:
    with pytest.raises(TokenomyError) as exc:
        RoutingDataset.from_long(rows)
    assert "row" in str(exc.value)


def test_from_long_refuses_a_bytes_prompt() -> None:
    row = {"prompt_id": "p", "prompt": b"x", "model": "a", "quality": 1, "cost_usd": 0}
    with pytest.raises(TokenomyError, match="prompt must be text"):
        RoutingDataset.from_long([row])


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda: OnlineRouter(models=["a"], n_features=4, epsilon=1.0), ("epsilon", "[0, 1)")),
        (lambda: RoutingDataset.from_long(_rows()).train_test(test_share=NAN), ("test_share", "(0, 1)")),
        (lambda: RoutingDataset.from_long(_rows()).train_test(test_share=0.0), ("test_share", "(0, 1)")),
        (lambda: RoutingDataset.from_long(_rows()).train_test(test_share=1.0), ("test_share", "(0, 1)")),
    ],
)
def test_messages_state_the_open_ranges(call: Callable[[], Any], words: tuple[str, ...]) -> None:
    _raises(call, *words)
