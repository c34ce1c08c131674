"""Neighbour-label model: every model's outcome on the most similar training prompt predicts model j's.

Near-duplicate prompts carry information a per-model vote misses: a Winogrande twin (the same
sentence with one trigger word swapped, so the other answer) is answered *wrongly* by a model biased
towards one option exactly when the twin was answered rightly. So for model j,

    logit q̂_j(x) = a_j·logit prior_j(cat) + Σ_c 1[cat = c]·Σ_m w_{c,j,m}·s·(y_nn,m − prior_m(cat))

with nn the nearest training prompt of the same category (cosine similarity s of hashed TF-IDF),
y_nn its realised outcomes for all M models, fitted by ridge-logistic regression (Newton) per model on
leave-one-out neighbours of the training prompts. Cross-model weights let it learn anti-correlation.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from tokenomy.routing.estimators.base import QualityEstimator, check_training, logit, sigmoid
from tokenomy.routing.estimators.prior import CategoryPrior
from tokenomy.routing.estimators.stacked import _fit_blend
from tokenomy.routing.features import Features

__all__ = ["NeighbourLabels"]


class NeighbourLabels(QualityEstimator):
    """Logistic model on the nearest training neighbour's outcomes for every model.

    Args:
        l2: ridge penalty of the weights.
        min_similarity: neighbours less similar than this contribute nothing.
    """

    name = "neighbours"

    def __init__(
        self,
        *,
        l2: float = 3.0,
        min_similarity: float = 0.3,
        difficulty: bool = True,
        folds: int = 5,
        seed: int = 0,
    ) -> None:
        self.l2 = l2
        self.min_similarity = min_similarity
        self.difficulty = difficulty
        self.folds = folds
        self.seed = seed

    def _neighbour(self, X: Features, exclude_self: bool) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        idx = np.zeros(len(X), dtype=np.int64)
        sim = np.zeros(len(X))
        for start in range(0, len(X), 2048):
            rows = np.arange(start, min(start + 2048, len(X)))
            s = (X.text[rows] @ self.text_t_).toarray()
            s[X.category_codes[rows, None] != self.codes_[None, :]] = -1.0
            if exclude_self:
                s[np.arange(rows.size), rows] = -1.0
            idx[rows] = s.argmax(axis=1)
            sim[rows] = s[np.arange(rows.size), idx[rows]]
        return idx, np.where(sim >= self.min_similarity, sim, 0.0)

    def _design(
        self, X: Features, idx: NDArray[np.int64], sim: NDArray[np.float64], diff: NDArray[np.float64], j: int
    ) -> NDArray[np.float64]:
        dev = sim[:, None] * (self.y_[idx] - self.prior_train_[idx])
        onehot = X.category_onehot()
        parts = [dev * onehot[:, [c]] for c in range(onehot.shape[1])]
        base = logit(self.prior_.predict(X)[:, [j]])
        return np.hstack([base, *parts, diff[:, None] * onehot, onehot, np.ones((len(X), 1))])

    def _difficulty_fit(self, X: Features) -> NDArray[np.float64]:
        """Ridge regression of the share of models right on the text; out-of-fold values for training."""
        from sklearn.linear_model import Ridge

        from tokenomy.routing.estimators.logistic import design_matrix
        from tokenomy.routing.estimators.stacked import fold_ids

        if not self.difficulty:
            self.ridge_ = None
            return np.zeros(len(X))
        A = design_matrix(X, 3.0)
        target = self.y_.mean(axis=1)
        folds = fold_ids(len(X), min(self.folds, len(X)), self.seed)
        oof = np.zeros(len(X))
        for k in np.unique(folds):
            fit, held = folds != k, folds == k
            oof[held] = Ridge(alpha=1.0).fit(A[fit], target[fit]).predict(A[held]) - target[fit].mean()
        model = Ridge(alpha=1.0).fit(A, target)
        self.ridge_ = (np.asarray(model.coef_, np.float64), float(model.intercept_) - float(target.mean()))
        return oof

    def _difficulty(self, X: Features) -> NDArray[np.float64]:
        if self.ridge_ is None:
            return np.zeros(len(X))
        from tokenomy.routing.estimators.logistic import design_matrix

        coef, icpt = self.ridge_
        return np.asarray(design_matrix(X, 3.0) @ coef + icpt)

    def fit(self, X: Features, quality: NDArray[np.float64]) -> NeighbourLabels:
        self.y_ = check_training(X, quality)
        self.text_t_ = X.text.T.tocsr()
        self.codes_ = X.category_codes
        self.prior_ = CategoryPrior().fit(X, self.y_)
        self.prior_train_ = self.prior_.predict(X)
        idx, sim = self._neighbour(X, exclude_self=True)
        diff = self._difficulty_fit(X)
        self.weights_ = np.stack(
            [
                _fit_blend(self._design(X, idx, sim, diff, j), self.y_[:, j], self.l2)
                for j in range(self.y_.shape[1])
            ],
            axis=1,
        )
        return self

    def predict(self, X: Features) -> NDArray[np.float64]:
        idx, sim = self._neighbour(X, exclude_self=False)
        diff = self._difficulty(X)
        return np.column_stack(
            [
                sigmoid(self._design(X, idx, sim, diff, j) @ self.weights_[:, j])
                for j in range(self.weights_.shape[1])
            ]
        )
