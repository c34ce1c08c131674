"""Calibration of every registered quality estimator on held-out prompts: Brier score and ECE per model.

Each estimator is fitted on the train prompts (with the router's fitted featurizer) and scored on the
test prompts; the rows say how well-calibrated each q̂_m is, next to the trivial baseline that
predicts each model's train mean (a calibrated estimator with no information about the prompt).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tokenomy.routing.dataset import RoutingDataset
from tokenomy.routing.estimators import ESTIMATORS
from tokenomy.routing.metrics import reliability
from tokenomy.routing.router import Router

__all__ = ["compare_estimators"]


def compare_estimators(
    router: Router, train: RoutingDataset, test: RoutingDataset, names: Sequence[str] | None = None
) -> dict[str, list[dict[str, Any]]]:
    """Brier and ECE per (estimator, model) on ``test``, and their means per estimator.

    Returns:
        ``{"per_model": [...], "summary": [...]}``; the summary includes ``train-mean`` (the
        per-model train accuracy as a constant prediction). The router's own estimator (default
        parameters) is reused rather than refitted when ``train`` is the split it was fitted on.
    """
    Xtr = router.features(train.prompts, train.categories.tolist())
    Xte = router.features(test.prompts, test.categories.tolist())
    fit_on = router.train_problem_
    fitted_here = (  # the router's own estimator is already fitted on this train split: reuse, don't refit
        not router.estimator_params
        and fit_on.quality is not None
        and fit_on.category_codes is not None
        and np.array_equal(train.quality, fit_on.quality)
        and np.array_equal(Xtr.category_codes, fit_on.category_codes)
    )
    preds = {"train-mean": np.broadcast_to(train.quality.mean(axis=0), test.quality.shape).copy()}
    usable = [n for n in sorted(ESTIMATORS) if Xtr.embedding is not None or not ESTIMATORS[n].needs_embedding]
    for name in names or usable:
        est = (
            router.estimator_
            if fitted_here and name == router.estimator
            else ESTIMATORS[name]().fit(Xtr, train.quality)
        )
        preds[name] = est.predict(Xte)
    per_model, summary = [], []
    for name, q in preds.items():
        rel = reliability(test.models, q, test.quality)
        per_model += [{"estimator": name, "model": r.model, "brier": r.brier, "ece": r.ece} for r in rel]
        summary.append(
            {
                "estimator": name,
                "brier_mean": float(np.mean([r.brier for r in rel])),
                "ece_mean": float(np.mean([r.ece for r in rel])),
            }
        )
    return {"per_model": per_model, "summary": summary}
