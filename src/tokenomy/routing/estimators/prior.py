"""Per-category prior: q̂_m(x) = smoothed mean quality of model m on x's category in training.

Beta-smoothed towards the model's overall mean with ``strength`` pseudo-observations; an unseen
category gets the overall mean. Ignores the prompt text.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from tokenomy.routing.estimators.base import QualityEstimator, check_training
from tokenomy.routing.features import Features

__all__ = ["CategoryPrior"]


class CategoryPrior(QualityEstimator):
    """Smoothed per-(category, model) mean quality.

    Args:
        strength: pseudo-count of the overall mean in each category's estimate.
    """

    name = "prior"

    def __init__(self, *, strength: float = 5.0) -> None:
        self.strength = strength

    def fit(self, X: Features, quality: NDArray[np.float64]) -> CategoryPrior:
        y = check_training(X, quality)
        self.overall_ = y.mean(axis=0)
        onehot = X.category_onehot()
        n = onehot.sum(axis=0)[:, None]
        self.table_ = (onehot.T @ y + self.strength * self.overall_) / (n + self.strength)
        return self

    def predict(self, X: Features) -> NDArray[np.float64]:
        out = np.broadcast_to(self.overall_, (len(X), self.overall_.size)).copy()
        seen = X.category_codes >= 0
        out[seen] = self.table_[X.category_codes[seen]]
        return out
