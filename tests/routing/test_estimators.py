"""Estimator internals: the neighbour model's fast path equals its design matrix, and it finds twins."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from tokenomy.routing.dataset import RoutingDataset
from tokenomy.routing.estimators import NeighbourLabels
from tokenomy.routing.estimators.neighbour_labels import _row_argmax
from tokenomy.routing.features import TextFeaturizer


def test_vectorised_logits_equal_the_per_model_design_matrix(tiny: RoutingDataset) -> None:
    tr, te = tiny.split("train"), tiny.split("test")
    fz = TextFeaturizer(n_features=2**12).fit(tr.prompts, tr.categories.tolist())
    Xtr, Xte = (
        fz.transform(tr.prompts, tr.categories.tolist()),
        fz.transform(te.prompts, te.categories.tolist()),
    )
    est = NeighbourLabels(difficulty=True, folds=3).fit(Xtr, tr.quality)
    idx, sim = est._neighbour(Xte, exclude_self=False)
    diff, prior = est._difficulty(Xte), est.prior_.predict(Xte)
    fast = est._logits(Xte, idx, sim, diff, prior)
    for j in range(tiny.n_models):
        slow = est._design(Xte, idx, sim, diff, prior, j) @ est.weights_[:, j]
        assert np.allclose(fast[:, j], slow)


def test_row_argmax_matches_dense_argmax_above_the_floor() -> None:
    rng = np.random.default_rng(0)
    dense = rng.random((50, 30)) * (rng.random((50, 30)) < 0.2)
    s = sp.csr_matrix(dense)
    best, top = _row_argmax(s, 0.5)
    for i in range(50):
        row = np.where(dense[i] >= 0.5, dense[i], 0.0)
        assert top[i] == row.max()
        if row.max() > 0:
            assert best[i] == row.argmax()


def test_a_twin_in_training_is_found_and_anti_correlation_is_learned() -> None:
    # model "biased" answers every prompt with option A: right on a twin exactly when wrong on the other
    rows = []
    rng = np.random.default_rng(1)
    for i in range(120):
        name = f"zq{i}x"
        right_first = rng.random() < 0.5
        for k, text in enumerate(
            (f"{name} likes rain because _ is wet", f"{name} likes rain because _ is dry")
        ):
            a_right = right_first if k == 0 else not right_first
            for m, q in (("biased", float(a_right)), ("steady", 1.0 if rng.random() < 0.7 else 0.0)):
                rows.append(
                    {
                        "prompt_id": f"t{i}-{k}",
                        "prompt": text,
                        "model": m,
                        "quality": q,
                        "cost_usd": 0.001,
                        "category": "wino",
                        "split": "test" if (k == 1 and i % 4 == 0) else "train",
                    }
                )
    ds = RoutingDataset.from_long(rows)
    tr, te = ds.split("train"), ds.split("test")
    fz = TextFeaturizer(n_features=2**14).fit(tr.prompts, tr.categories.tolist())
    est = NeighbourLabels().fit(fz.transform(tr.prompts, tr.categories.tolist()), tr.quality)
    q = est.predict(fz.transform(te.prompts, te.categories.tolist()))[:, 0]
    y = te.quality[:, 0]
    assert q[y == 1].min() > 0.5 > q[y == 0].max()  # the twin's outcome, flipped


def test_compare_estimators_scores_every_registered_one_against_the_train_mean(tiny: RoutingDataset) -> None:
    from tokenomy.routing.estimators import ESTIMATORS
    from tokenomy.routing.reliability import compare_estimators
    from tokenomy.routing.router import Router

    tr, te = tiny.split("train"), tiny.split("test")
    router = Router(n_features=2**12, estimator="prior").fit(tr)
    out = compare_estimators(router, tr, te)
    names = [r["estimator"] for r in out["summary"]]
    text_only = sorted(n for n, cls in ESTIMATORS.items() if not cls.needs_embedding)
    assert names == ["train-mean", *text_only]  # no encoder: the embedding estimators are left out
    assert len(out["per_model"]) == len(names) * tiny.n_models
    brier = {r["estimator"]: r["brier_mean"] for r in out["summary"]}
    assert brier["prior"] < brier["train-mean"]  # the category carries signal in this data
    assert all(0 <= r["ece"] <= 1 for r in out["per_model"])


def test_option_signature_identifies_the_options_of_the_final_block() -> None:
    from tokenomy.routing.features import option_signature

    shot = "Example?\nA) cat\nB) dog\nAnswer: A\n\n"
    a = option_signature(shot + "Tom is taller than _.\nA) Tom\nB) Ann\nPrint A or B.")
    b = option_signature("Ann is taller than _.\nA) Tom\nB) Ann\nAnswer:")  # its twin: same options
    c = option_signature(shot + "Tom is taller than _.\nA) Tom\nB) Bob\nAnswer:")
    assert a == b != 0 and c not in (0, a)
    assert option_signature("(a) one\n(b) two") == option_signature("A. one\nB. two") != 0
    assert option_signature("no options here\nA) only one") == 0  # fewer than two options
    assert option_signature(shot + "Write a function.") == 0  # options only in a few-shot block


def test_the_twin_flag_weights_a_same_options_neighbour_apart_from_look_alikes() -> None:
    # "biased" always answers A: right on a twin exactly when wrong on the other (same options);
    # look-alikes share the rare words but not the options, and their outcomes are independent
    rng = np.random.default_rng(2)
    rows = []
    for i in range(150):
        right_first = bool(rng.random() < 0.5)
        texts = [
            (f"zq{i}x likes rain because _ is wet\nA) zq{i}x\nB) rain", "a", right_first),
            (f"zq{i}x likes rain because _ is dry\nA) zq{i}x\nB) rain", "b", not right_first),
            (f"zq{i}x likes rain because _ is cold\nA) snow\nB) hail", "c", bool(rng.random() < 0.5)),
        ]
        for text, k, a_right in texts:
            for m, q in (("biased", float(a_right)), ("steady", 1.0 if rng.random() < 0.7 else 0.0)):
                split = "test" if (k == "b" and i % 3 == 0) else "train"
                rows.append(
                    {
                        "prompt_id": f"t{i}-{k}",
                        "prompt": text,
                        "model": m,
                        "quality": q,
                        "cost_usd": 0.001,
                        "category": "wino",
                        "split": split,
                    }
                )
    ds = RoutingDataset.from_long(rows)
    tr, te = ds.split("train"), ds.split("test")
    fz = TextFeaturizer(n_features=2**14).fit(tr.prompts, tr.categories.tolist())
    Xtr, Xte = (
        fz.transform(tr.prompts, tr.categories.tolist()),
        fz.transform(te.prompts, te.categories.tolist()),
    )
    assert np.array_equal(Xtr.rows(np.array([1, 0])).signatures(), Xtr.signatures()[[1, 0]])
    y = te.quality[:, 0]

    def log_loss(est: NeighbourLabels) -> float:
        q = np.clip(est.fit(Xtr, tr.quality).predict(Xte)[:, 0], 1e-6, 1 - 1e-6)
        return float(-np.mean(y * np.log(q) + (1 - y) * np.log(1 - q)))

    with_twins, without = log_loss(NeighbourLabels()), log_loss(NeighbourLabels(twins=False))
    assert with_twins < 0.5 * without  # the look-alikes diluted the twins' signal
