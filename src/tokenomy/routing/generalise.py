"""Evaluation that predicts the field: the given split, leave-one-benchmark-out, and cross-dataset.

* ``random`` — the data's own train/test split (in distribution).
* ``lobo`` — for each category (RouterBench's benchmark): fit on the *other* categories' train rows,
  test on this category's test rows; the held-out rows of every fold are pooled, so the test rows
  are exactly those of ``random`` and the two are comparable row for row.
* ``cross`` — fit on every row of one dataset, test on every row of another, both restricted to the
  models they share (at least two are needed; otherwise the error says which models each has).

Each fold fits its own routers (one per estimator: the per-category ``prior`` is always one, so any
gain from text is the difference) on the fold's train rows only; every setting inside is chosen by
cross-validation on those rows. Gap recovered is pooled over the folds' held-out requests with a
paired bootstrap CI; RouteLLM's APGR / CPT are computed per fold (the strong/weak pair is chosen on
the fold's train rows) and averaged with weights n_fold, with a bootstrap CI stratified by fold.
Ties with the best fixed model are reported as ties (``compare_to_fixed``). Reads no file.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tokenomy.core.errors import ValidationError
from tokenomy.core.prices import PriceVector
from tokenomy.routing.dataset import RoutingDataset
from tokenomy.routing.evaluation import _fitted, compare_to_fixed, ranking_score, realised
from tokenomy.routing.metrics import bootstrap_means, gap_recovered, routellm_apgr
from tokenomy.routing.policies.pair import choose_pair
from tokenomy.routing.router import Router

__all__ = ["SPLITS", "Fold", "folds_for", "pooled_eval"]

SPLITS = ("random", "lobo", "cross")
BASELINES = ("best-fixed", "random", "predictive", "oracle")


@dataclass(frozen=True, slots=True)
class Fold:
    """One train/test pair of a split setting."""

    name: str
    train: RoutingDataset
    test: RoutingDataset


def folds_for(
    split: str,
    ds: RoutingDataset,
    other: RoutingDataset | None = None,
    *,
    test_share: float = 0.3,
    seed: int = 0,
) -> list[Fold]:
    """The folds of ``split`` (``random``, ``lobo`` or ``cross``) on ``ds`` (and ``other`` for cross).

    Raises:
        ValidationError: an unknown split; lobo with fewer than two categories; cross without a
            second dataset or with fewer than two shared models (names both model lists).
    """
    if split == "random":
        tr, te = ds.train_test(test_share=test_share, seed=seed)
        return [Fold("given split", tr, te)]
    if split == "lobo":
        tr, te = ds.train_test(test_share=test_share, seed=seed)
        cats = sorted(set(te.categories.tolist()))
        if len(cats) < 2 or cats == [""]:
            raise ValidationError(
                f"{ds.source}: leave-one-benchmark-out needs ≥ 2 categories (benchmarks), found {cats}"
            )
        return [
            Fold(f"held out {c}", tr.subset(tr.categories != c), te.subset(te.categories == c)) for c in cats
        ]
    if split == "cross":
        if other is None:
            raise ValidationError("the cross split needs a second dataset (--cross-data)")
        shared = [m for m in ds.models if m in other.models]
        if len(shared) < 2:
            raise ValidationError(
                f"cross-dataset evaluation needs ≥ 2 models in both datasets; {ds.source} has "
                f"{list(ds.models)}, {other.source} has {list(other.models)}; shared: {shared}"
            )
        a, b = ds.with_models(shared), other.with_models(shared)
        return [Fold(f"{a.source} → {b.source}", a, b), Fold(f"{b.source} → {a.source}", b, a)]
    raise ValidationError(f"unknown split {split!r}; valid: {', '.join(SPLITS)}")


def _ci(x: NDArray[np.float64]) -> list[float]:
    return [float(np.nanpercentile(x, 2.5)), float(np.nanpercentile(x, 97.5))]


def _apgr_boot(
    parts: list[tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]], n_boot: int, seed: int
) -> NDArray[np.float64]:
    """n-weighted mean over folds of RouteLLM's APGR, per bootstrap resample stratified by fold."""
    rng = np.random.default_rng(seed)
    total = sum(p[0].size for p in parts)
    out = np.zeros(n_boot)
    for b in range(n_boot):
        for score, qs, qw in parts:
            idx = rng.integers(0, score.size, score.size)
            out[b] += routellm_apgr(score[idx], qs[idx], qw[idx]) * score.size / total
    return out


def pooled_eval(
    folds: Sequence[Fold],
    make_router: Callable[[str], Router],
    *,
    estimators: Sequence[str],
    v_grid: Sequence[float],
    prices: PriceVector | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Fit routers per fold and estimator, route each fold's test rows, pool, summarise.

    Args:
        make_router: estimator name -> an unfitted router.
        estimators: one ``tokenomy`` row per estimator (``prior`` is added when absent).

    Returns:
        ``{"rows": [...], "folds": [...]}``; a row per (V, policy, estimator) with ``welfare_per_query``,
        ``gap_recovered`` and CI, ``beats_best_fixed``, ``tie_with_best_fixed``, RouteLLM's ``apgr``
        and CI (V-independent), ``n``; baselines (best-fixed, random, predictive, oracle) come from
        the first estimator's router.
    """
    prices = prices or PriceVector()
    ests = list(dict.fromkeys([*estimators, "prior"]))
    keys = [("tokenomy", e) for e in ests] + [(b, "") for b in BASELINES]
    welfare: dict[tuple[str, str], dict[float, list[NDArray[np.float64]]]] = {
        k: {v: [] for v in v_grid} for k in keys
    }
    apgr_parts: dict[
        tuple[str, str], list[tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]]
    ] = {k: [] for k in keys}
    fold_rows = []
    for fold in folds:
        for i, est in enumerate(ests):
            if progress:
                progress(f"{fold.name}: {est}")
            router = make_router(est).fit(fold.train, prices)
            names = ["tokenomy", *BASELINES] if i == 0 else ["tokenomy"]
            fitted = _fitted(names, router, seed)
            X = router.features(fold.test.prompts, fold.test.categories.tolist())
            base = router.problem(X, 0.0, prices, fold.test, baselines=i == 0)
            assert base.quality is not None
            s, w = choose_pair(router.train_problem_)
            for n in names:
                key = (n, est if n == "tokenomy" else "")
                for v in v_grid:
                    p = base.at_v(float(v))
                    welfare[key][v].append(realised(p, fitted[n].route(p)).welfare)
                score = ranking_score(n, base, s, w, seed)
                apgr_parts[key].append((score, base.quality[:, s], base.quality[:, w]))
                if n == "tokenomy":
                    fold_rows.append(
                        {
                            "fold": fold.name,
                            "estimator": est,
                            "n_train": len(fold.train),
                            "n_test": len(fold.test),
                            "apgr": routellm_apgr(score, base.quality[:, s], base.quality[:, w]),
                            "routellm_pair": f"{base.models[s]} / {base.models[w]}",
                        }
                    )
    rows: list[dict[str, Any]] = []
    apgr_b = {k: _apgr_boot(apgr_parts[k], max(50, n_boot // 5), seed) for k in keys}
    apgr_pt = {
        k: float(
            sum(routellm_apgr(*p) * p[0].size for p in apgr_parts[k]) / sum(p[0].size for p in apgr_parts[k])
        )
        for k in keys
    }
    for v in v_grid:
        stack = np.stack([np.concatenate(welfare[k][v]) for k in keys])
        boot = bootstrap_means(stack, n_boot, seed)
        i_fix, i_or = keys.index(("best-fixed", "")), keys.index(("oracle", ""))
        w_fix, w_or = float(stack[i_fix].mean()), float(stack[i_or].mean())
        for i, (pol, est) in enumerate(keys):
            wel = float(stack[i].mean())
            diff_b = boot[i] - boot[i_fix]  # paired: the same resampled requests
            with np.errstate(divide="ignore", invalid="ignore"):
                gap_b = diff_b / (boot[i_or] - boot[i_fix])
            beats, tie = compare_to_fixed(wel, w_fix, diff_b)
            rows.append(
                {
                    "V": float(v),
                    "policy": pol,
                    "estimator": est,
                    "n": int(stack.shape[1]),
                    "welfare_per_query": wel,
                    "welfare_ci95": _ci(boot[i]),
                    "gap_recovered": gap_recovered(wel, w_fix, w_or),
                    "gap_recovered_ci95": _ci(gap_b),
                    "beats_best_fixed": beats,
                    "tie_with_best_fixed": tie,
                    "apgr": apgr_pt[(pol, est)],
                    "apgr_ci95": _ci(apgr_b[(pol, est)]),
                }
            )
    return {"rows": rows, "folds": fold_rows}
