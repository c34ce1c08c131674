"""Stacked blend: per-model logistic regression on the base estimators' logits (+ category), cross-fitted.

The base estimators (category prior, text logistic, kNN by default) are fitted on K − 1 folds and
predict the held-out fold, giving out-of-fold q̂ for every training prompt; a small per-model
logistic regression on those logits and the category indicators learns how far to trust each base
(a calibration step too: Platt scaling when one base is given). The bases are then refitted on all
the training data. ``oof_`` keeps the blend's own out-of-fold q̂ (the blend refitted without each
fold), which is what policies must be tuned on: in-sample q̂ would be overconfident.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import NDArray

from tokenomy.core.errors import ValidationError
from tokenomy.routing.estimators.base import (
    ESTIMATORS,
    QualityEstimator,
    check_training,
    logit,
    sigmoid,
)
from tokenomy.routing.features import Features

__all__ = ["StackedBlend", "fold_ids", "out_of_fold"]


def fold_ids(n: int, folds: int, seed: int) -> NDArray[np.int64]:
    """A seeded assignment of n rows to ``folds`` folds of near-equal size."""
    rng = np.random.default_rng(seed)
    return np.asarray(rng.permutation(np.arange(n) % folds), dtype=np.int64)


def out_of_fold(
    make: Callable[[], QualityEstimator], X: Features, y: NDArray[np.float64], folds: NDArray[np.int64]
) -> NDArray[np.float64]:
    """Out-of-fold predictions of the estimator ``make()`` (one fit per fold)."""
    out = np.empty_like(y)
    for k in np.unique(folds):
        held = np.flatnonzero(folds == k)
        fit = np.flatnonzero(folds != k)
        out[held] = make().fit(X.rows(fit), y[fit]).predict(X.rows(held))
    return out


def _blend_inputs(
    base_preds: Sequence[NDArray[np.float64]], onehot: NDArray[np.float64], j: int
) -> NDArray[np.float64]:
    return np.hstack(
        [np.column_stack([logit(p[:, j]) for p in base_preds]), onehot, np.ones((onehot.shape[0], 1))]
    )


def _fit_blend(Z: NDArray[np.float64], y: NDArray[np.float64], l2: float) -> NDArray[np.float64]:
    """Newton's method for a small ridge-logistic regression with soft labels (exact, no library)."""
    w = np.zeros(Z.shape[1])
    reg = np.full(Z.shape[1], l2)
    reg[-1] = 1e-6
    for _ in range(50):
        p = sigmoid(Z @ w)
        g = Z.T @ (p - y) + reg * w
        H = (Z * (p * (1 - p))[:, None]).T @ Z + np.diag(reg)
        step = np.linalg.solve(H, g)
        w -= step
        if np.max(np.abs(step)) < 1e-8:
            break
    return w


class StackedBlend(QualityEstimator):
    """Cross-fitted stack of base estimators.

    Args:
        bases: registry names of the base estimators (default prior, logistic, knn).
        folds: K of the cross-fitting.
        l2: ridge penalty of the blend weights.
        seed: fold assignment seed.
    """

    name = "stacked"

    def __init__(
        self,
        *,
        bases: Sequence[str] = ("prior", "logistic", "knn"),
        folds: int = 5,
        l2: float = 1.0,
        seed: int = 0,
    ) -> None:
        self.bases = tuple(bases)
        self.folds = folds
        self.l2 = l2
        self.seed = seed

    def _make(self, name: str) -> Callable[[], QualityEstimator]:
        if name not in ESTIMATORS or name == self.name:
            raise ValidationError(
                f"unknown base estimator {name!r}; valid: {sorted(set(ESTIMATORS) - {self.name})}"
            )
        return ESTIMATORS[name]

    def fit(self, X: Features, quality: NDArray[np.float64]) -> StackedBlend:
        y = check_training(X, quality)
        n, m = y.shape
        folds = fold_ids(n, min(self.folds, n), self.seed)
        oof_base = [out_of_fold(self._make(b), X, y, folds) for b in self.bases]
        onehot = X.category_onehot()
        self.weights_ = np.stack(
            [_fit_blend(_blend_inputs(oof_base, onehot, j), y[:, j], self.l2) for j in range(m)], axis=1
        )
        oof = np.empty_like(y)
        for k in np.unique(folds):
            held, rest = folds == k, folds != k
            for j in range(m):
                w = _fit_blend(
                    _blend_inputs([p[rest] for p in oof_base], onehot[rest], j), y[rest, j], self.l2
                )
                oof[held, j] = sigmoid(_blend_inputs([p[held] for p in oof_base], onehot[held], j) @ w)
        self.oof_ = oof
        self.oof_bases_ = dict(zip(self.bases, oof_base, strict=True))  # name -> (N, M) out-of-fold q̂
        self.bases_ = [self._make(b)().fit(X, y) for b in self.bases]
        return self

    def predict(self, X: Features) -> NDArray[np.float64]:
        return self.predict_all(X)[0]

    def predict_all(self, X: Features) -> tuple[NDArray[np.float64], dict[str, NDArray[np.float64]]]:
        """The blend's q̂ and each base's (name -> (N, M)), from one pass over the bases."""
        preds = [b.predict(X) for b in self.bases_]
        onehot = X.category_onehot()
        blend = np.column_stack(
            [
                sigmoid(_blend_inputs(preds, onehot, j) @ self.weights_[:, j])
                for j in range(self.weights_.shape[1])
            ]
        )
        return blend, dict(zip(self.bases, preds, strict=True))
