"""RouteLLM's APGR by hand, the embedding estimators, lobo / cross folds, dev splits, encoder persistence."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray
from routing_data import BagEncoder, synthetic_rows

from tokenomy.core.errors import ValidationError
from tokenomy.core.prices import PriceVector
from tokenomy.routing.dataset import RoutingDataset
from tokenomy.routing.encoder import MiniLMEncoder
from tokenomy.routing.estimators import ESTIMATORS
from tokenomy.routing.generalise import folds_for, pooled_eval
from tokenomy.routing.metrics import pgr_curve, routellm_apgr, routellm_cpt
from tokenomy.routing.router import Router


def test_routellm_apgr_and_cpt_match_the_hand_computation() -> None:
    # ranked by score: rows 0 (gain 1), 1 (gain 0), 3 (gain 1), 2 (gain 0); acc_s 0.75, acc_w 0.25
    score, qs, qw = [0.9, 0.8, 0.1, 0.5], [1, 1, 0, 1], [0, 1, 0, 0]
    share, pgr = pgr_curve(score, qs, qw)
    assert share.tolist() == [0, 0.25, 0.5, 0.75, 1.0]
    assert pgr.tolist() == [0, 0.5, 0.5, 1.0, 1.0]
    # PGR at the deciles 0, 0.1, …, 1: 0 .2 .4 .5 .5 .5 .7 .9 1 1 1 → trapezoid area 0.62
    assert routellm_apgr(score, qs, qw) == pytest.approx(0.62)
    assert routellm_cpt(score, qs, qw, 0.5) == pytest.approx(0.25)
    assert routellm_cpt(score, qs, qw, 0.8) == pytest.approx(0.65)


def test_routellm_apgr_of_a_constant_score_is_one_half_and_of_the_truth_is_higher() -> None:
    rng = np.random.default_rng(0)
    qs, qw = (rng.random(400) < 0.8).astype(float), (rng.random(400) < 0.4).astype(float)
    assert routellm_apgr(np.zeros(400), qs, qw) == pytest.approx(0.5)  # ties: expected over orders
    assert routellm_apgr(qs - qw, qs, qw) > 0.7
    assert np.isnan(routellm_apgr(np.zeros(3), [1, 0, 1], [1, 0, 1]))  # no gap to recover


@pytest.mark.parametrize("name", ["mf", "logistic-embed", "knn-embed"])
def test_embedding_estimators_learn_the_hard_word_and_stay_in_0_1(name: str, tiny: RoutingDataset) -> None:
    tr, te = tiny.split("train"), tiny.split("test")
    router = Router(n_features=2**10, estimator=name, encoder=BagEncoder(), baseline_estimator=None, folds=3)
    router.fit(tr)
    q = router.estimate(router.features(te.prompts, te.categories.tolist())).dq
    assert q.shape == te.quality.shape and np.all((q >= 0) & (q <= 1))
    hard = np.array(["tricky" in p for p in te.prompts])
    small = list(te.models).index("small")
    assert q[hard, small].mean() < q[~hard, small].mean() - 0.1  # "tricky" defeats the small model
    train_mean = np.broadcast_to(tr.quality.mean(axis=0), te.quality.shape)
    assert np.mean((q - te.quality) ** 2) < np.mean((train_mean - te.quality) ** 2)


def test_an_embedding_estimator_without_an_encoder_names_the_extra(tiny: RoutingDataset) -> None:
    assert ESTIMATORS["mf"].needs_embedding and not ESTIMATORS["prior"].needs_embedding
    with pytest.raises(ValidationError, match="embeddings extra"):
        Router(n_features=2**10, estimator="mf").fit(tiny.split("train"))


def test_a_router_saved_with_an_encoder_records_it_and_needs_it_back(
    tiny: RoutingDataset, tmp_path: Path
) -> None:
    tr, te = tiny.split("train"), tiny.split("test")
    router = Router(n_features=2**10, estimator="knn-embed", encoder=BagEncoder(), folds=3).fit(tr)
    router.save(tmp_path / "r")
    assert "bag-of-words@test" in (tmp_path / "r" / "router.json").read_text()
    loaded = Router.load(tmp_path / "r")
    assert loaded.encoder is None and loaded.embedding_model_ == "bag-of-words@test"
    with pytest.raises(ValidationError, match="attach"):
        loaded.features(te.prompts)
    other = BagEncoder()
    other.model_id = "another@1"
    with pytest.raises(ValidationError, match="fitted with the encoder"):
        loaded.attach_encoder(other)
    loaded.attach_encoder(BagEncoder())
    prices = PriceVector(v_usd=0.01)
    a = router.route_many(list(te.prompts), prices, categories=te.categories.tolist())
    b = loaded.route_many(list(te.prompts), prices, categories=te.categories.tolist())
    assert np.array_equal(a.chosen, b.chosen)


def test_lobo_folds_hold_out_each_category_and_pool_to_the_test_split(tiny: RoutingDataset) -> None:
    folds = folds_for("lobo", tiny)
    assert [f.name for f in folds] == ["held out code", "held out math", "held out trivia"]
    for f in folds:
        held = set(f.test.categories.tolist())
        assert len(held) == 1 and held.isdisjoint(f.train.categories.tolist())
        assert set(f.train.splits.tolist()) == {"train"} and set(f.test.splits.tolist()) == {"test"}
    pooled = sorted(pid for f in folds for pid in f.test.prompt_ids.tolist())
    assert pooled == sorted(tiny.split("test").prompt_ids.tolist())


def test_cross_needs_two_shared_models_and_says_which_each_has(tiny: RoutingDataset) -> None:
    other = tiny.with_models(["large", "small"])
    folds = folds_for("cross", tiny, other)
    assert len(folds) == 2 and folds[0].train.models == ("small", "large")
    assert all(set(f.train.models) == {"small", "large"} for f in folds)
    with pytest.raises(ValidationError, match="shared"):
        folds_for("cross", tiny, tiny.with_models(["large"]))
    with pytest.raises(ValidationError, match="second dataset"):
        folds_for("cross", tiny)
    with pytest.raises(ValidationError, match="unknown split"):
        folds_for("sideways", tiny)


def test_pooled_eval_reports_ties_apgr_and_the_prior_baseline(tiny: RoutingDataset) -> None:
    folds = folds_for("lobo", tiny)
    out = pooled_eval(
        folds,
        lambda est: Router(n_features=2**10, estimator=est, folds=3),
        estimators=["logistic"],
        v_grid=[0.001, 0.1],
        n_boot=50,
    )
    rows = {(r["V"], r["policy"], r["estimator"]): r for r in out["rows"]}
    assert (0.1, "tokenomy", "prior") in rows  # the text-free baseline is always shown
    fixed = rows[(0.1, "best-fixed", "")]
    assert fixed["tie_with_best_fixed"] and not fixed["beats_best_fixed"] and fixed["gap_recovered"] == 0
    assert rows[(0.1, "oracle", "")]["gap_recovered"] == pytest.approx(1.0)
    assert rows[(0.1, "best-fixed", "")]["apgr"] == pytest.approx(0.5)
    assert all(r["n"] == len(tiny.split("test")) for r in out["rows"])
    lo, hi = rows[(0.1, "tokenomy", "logistic")]["gap_recovered_ci95"]
    assert lo <= rows[(0.1, "tokenomy", "logistic")]["gap_recovered"] <= hi
    assert len(out["folds"]) == 3 * 2


def test_splits_other_than_train_test_are_explicit() -> None:
    rows = synthetic_rows(60)
    for i, r in enumerate(rows):
        if r["split"] == "train" and (i // 3) % 5 == 0:
            r["split"] = "dev"
    ds = RoutingDataset.from_long(rows, source="dev-data")
    tr, te = ds.train_test()
    assert len(tr) + len(te) == len(ds)  # dev rows go to train (selection is cross-validated there)
    assert "dev" in set(tr.splits.tolist()) and set(te.splits.tolist()) == {"test"}
    only_train = RoutingDataset.from_long(
        [{**r, "split": "train"} for r in synthetic_rows(30)], source="train-only"
    )
    with pytest.raises(ValidationError, match=r"train-only: split values \['train'\]"):
        only_train.train_test()
    unsplit = RoutingDataset.from_long(synthetic_rows(30, split=False), source="none")
    a, b = unsplit.train_test(test_share=0.3, seed=1)
    assert len(a) + len(b) == len(unsplit)


def test_the_numpy_bert_encoder_pools_over_real_tokens_only() -> None:
    rng = np.random.default_rng(0)
    d, v = 8, 20
    w: dict[str, NDArray[np.float32]] = {
        "embeddings.word_embeddings.weight": rng.normal(size=(v, d)).astype(np.float32),
        "embeddings.position_embeddings.weight": rng.normal(size=(16, d)).astype(np.float32),
        "embeddings.token_type_embeddings.weight": rng.normal(size=(2, d)).astype(np.float32),
        "embeddings.LayerNorm.weight": np.ones(d, np.float32),
        "embeddings.LayerNorm.bias": np.zeros(d, np.float32),
    }
    p = "encoder.layer.0."
    for name, shape in [
        ("attention.self.query", (d, d)),
        ("attention.self.key", (d, d)),
        ("attention.self.value", (d, d)),
        ("attention.output.dense", (d, d)),
        ("intermediate.dense", (4 * d, d)),
        ("output.dense", (d, 4 * d)),
    ]:
        w[p + name + ".weight"] = rng.normal(size=shape).astype(np.float32) * 0.3
        w[p + name + ".bias"] = np.zeros(shape[0], np.float32)
    for ln in ("attention.output.LayerNorm", "output.LayerNorm"):
        w[p + ln + ".weight"], w[p + ln + ".bias"] = np.ones(d, np.float32), np.zeros(d, np.float32)

    def tok(texts: Sequence[str]) -> list[list[int]]:
        return [[1, *[2 + len(x) % 17 for x in t.split()], 19] for t in texts]

    enc = MiniLMEncoder(w, tok, model_id="tiny@0", heads=2, max_tokens=6, batch=2)
    texts = ["a bb ccc", "a bb ccc dddd eeeee ffffff ggggggg", "x"]
    alone = np.vstack([enc.encode([t]) for t in texts])
    together = enc.encode(texts)  # padded batches: padding must not change a vector
    assert np.allclose(alone, together, atol=1e-5)
    assert np.allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    # truncated to max_tokens: the tail beyond 6 word pieces does not matter
    assert np.allclose(
        enc.encode(["a bb ccc dddd eeeee"])[0], enc.encode(["a bb ccc dddd zzzzz qq"])[0], atol=1e-5
    )
    with pytest.raises(ValidationError, match="BERT"):
        MiniLMEncoder({}, tok, model_id="empty")


def test_requests_of_an_unseen_category_use_the_modes_validated_across_categories(fitted: Router) -> None:
    from tokenomy.routing.policies import V_GRID, TokenomyPolicy

    pol = fitted.policy_
    assert isinstance(pol, TokenomyPolicy) and pol.unseen_modes_ is not None
    assert [r["V"] for r in pol.unseen_validation_] == list(V_GRID)
    prompts = ["question 900: tricky alpha beta", "question 901: gamma delta omega"]
    saved = list(pol.unseen_modes_)
    try:
        pol.unseen_modes_ = ["fixed"] * len(V_GRID)
        new = fitted.route_many(prompts, PriceVector(), 0.01, categories=["astrology", ""])
        seen = fitted.route_many(prompts, PriceVector(), 0.01, categories=["math", "code"])
        assert list(new.mode) == ["fixed", "fixed"] and new.chosen[0] == new.chosen[1]
        expected = "fixed" if pol.modes_[V_GRID.index(0.01)] == "fixed" else "eq4:"
        assert all(str(m).startswith(expected) for m in seen.mode)  # seen categories: the usual modes
    finally:
        pol.unseen_modes_ = saved


def test_the_unseen_category_fallback_can_be_switched_off(tiny: RoutingDataset) -> None:
    router = Router(n_features=2**10, estimator="prior", unseen_fallback=False, folds=3).fit(
        tiny.split("train")
    )
    assert router.policy_.unseen_modes_ is None  # type: ignore[attr-defined]
    one_category = RoutingDataset.from_long(
        [{**r, "category": "all"} for r in synthetic_rows(60)], source="one category"
    )
    fitted_one = Router(n_features=2**10, estimator="prior", folds=3).fit(one_category.split("train"))
    assert fitted_one.policy_.unseen_modes_ is None  # type: ignore[attr-defined]  # nothing to hold out
