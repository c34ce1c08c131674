"""k-nearest neighbours on TF-IDF cosine similarity, restricted to the prompt's category when known.

q̂_m(x) = (Σ_k s_k·y_km + a·prior_m(cat)) / (Σ_k s_k + a): a similarity-weighted vote of the k most
similar training prompts, shrunk towards the category prior with ``shrink`` pseudo-weight.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from tokenomy.routing.estimators.base import QualityEstimator, check_training
from tokenomy.routing.estimators.prior import CategoryPrior
from tokenomy.routing.features import Features

__all__ = ["NearestNeighbours"]


class NearestNeighbours(QualityEstimator):
    """Similarity-weighted kNN vote.

    Args:
        k: neighbours.
        shrink: pseudo-weight of the category prior.
        same_category: only neighbours of the same category count (when the category is known).
    """

    name = "knn"

    def __init__(self, *, k: int = 20, shrink: float = 2.0, same_category: bool = True) -> None:
        self.k = k
        self.shrink = shrink
        self.same_category = same_category

    def fit(self, X: Features, quality: NDArray[np.float64]) -> NearestNeighbours:
        self.y_ = check_training(X, quality)
        self.text_t_ = X.text.T.tocsr()
        self.codes_ = X.category_codes
        self.prior_ = CategoryPrior().fit(X, self.y_)
        return self

    def predict(self, X: Features) -> NDArray[np.float64]:
        # in blocks of rows: the similarity block is dense (rows × training prompts)
        out = np.empty((len(X), self.y_.shape[1]))
        for start in range(0, len(X), 2048):
            idx = np.arange(start, min(start + 2048, len(X)))
            out[idx] = self._predict_block(X.rows(idx))
        return out

    def _predict_block(self, X: Features) -> NDArray[np.float64]:
        sims = (X.text @ self.text_t_).toarray()
        if self.same_category:
            known = X.category_codes[:, None] >= 0
            other = X.category_codes[:, None] != self.codes_[None, :]
            sims[known & other] = -1.0
        k = min(self.k, sims.shape[1])
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        w = np.clip(np.take_along_axis(sims, top, axis=1), 0.0, None)
        votes = np.einsum("nk,nkm->nm", w, self.y_[top])
        prior = self.prior_.predict(X)
        return np.asarray((votes + self.shrink * prior) / (w.sum(axis=1, keepdims=True) + self.shrink))
