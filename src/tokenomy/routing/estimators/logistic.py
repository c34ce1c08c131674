"""Text model: L2-regularised logistic regression per model on hashed TF-IDF + category + length.

Fitted with scikit-learn's liblinear solver (imported inside ``fit``), one binary problem per model;
a fractional quality score q enters as two weighted rows (label 1 with weight q, label 0 with weight
1 − q), so scores in [0, 1] are fitted exactly. Prediction is done by hand from the fitted weights
(one sparse-dense product and a sigmoid), so routing one request costs microseconds, not
scikit-learn's per-call overhead.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from tokenomy.routing.estimators.base import QualityEstimator, check_training, logit, sigmoid
from tokenomy.routing.features import Features

__all__ = ["TextLogistic", "design_matrix"]


def design_matrix(X: Features, category_weight: float) -> sp.csr_matrix:
    """[text | category one-hot × weight | standardised log length] as one CSR matrix."""
    extra = np.hstack([X.category_onehot() * category_weight, ((X.log_chars - 6.0) / 2.0)[:, None]])
    return sp.csr_matrix(sp.hstack([X.text, sp.csr_matrix(extra)], format="csr"))


class TextLogistic(QualityEstimator):
    """Logistic regression on prompt text, one output per model.

    Args:
        c: inverse L2 strength (scikit-learn's ``C``).
        category_weight: scale of the category indicator columns (larger = weaker penalty on them).
    """

    name = "logistic"

    def __init__(self, *, c: float = 0.3, category_weight: float = 3.0) -> None:
        self.c = c
        self.category_weight = category_weight

    def fit(self, X: Features, quality: NDArray[np.float64]) -> TextLogistic:
        from sklearn.linear_model import LogisticRegression

        y = check_training(X, quality)
        A = design_matrix(X, self.category_weight)
        m = y.shape[1]
        self.coef_ = np.zeros((A.shape[1], m))
        self.intercept_ = np.zeros(m)
        for j in range(m):
            col = y[:, j]
            frac = np.flatnonzero((col > 0) & (col < 1))
            rows = np.concatenate([np.arange(len(col)), frac])
            labels = np.concatenate([(col >= 0.5).astype(np.int64), 1 - (col[frac] >= 0.5).astype(np.int64)])
            weights = np.concatenate(
                [np.where(col >= 0.5, col, 1.0 - col), np.where(col[frac] >= 0.5, 1.0 - col[frac], col[frac])]
            )
            weights[: len(col)][(col > 0) & (col < 1)] = np.where(
                col[frac] >= 0.5, col[frac], 1.0 - col[frac]
            )
            if np.unique(labels).size < 2:  # every prompt right (or wrong): a constant model
                self.intercept_[j] = float(logit(np.array([col.mean()]))[0])
                continue
            lr = LogisticRegression(C=self.c, solver="liblinear")
            lr.fit(A[rows], labels, sample_weight=weights)
            self.coef_[:, j] = lr.coef_[0]
            self.intercept_[j] = float(lr.intercept_[0])
        return self

    def predict(self, X: Features) -> NDArray[np.float64]:
        z = np.asarray(design_matrix(X, self.category_weight) @ self.coef_) + self.intercept_
        return sigmoid(z)
