"""Neighbour-label model: every model's outcome on the most similar training prompt predicts model j's.

Near-duplicate prompts carry information a per-model vote misses: a Winogrande twin (the same
sentence with one trigger word swapped, so the other answer) is answered *wrongly* by a model biased
towards one option exactly when the twin was answered rightly. So for model j,

    logit q̂_j(x) = a_j·logit prior_j(cat) + Σ_c 1[cat = c]·(Σ_m w_{c,j,m}·s·(y_nn,m − prior_m) + b_{c,j}·d̂(x))

with nn the nearest training prompt of the same category, s its similarity, y_nn its realised
outcomes for all M models, and d̂(x) a ridge regression of the share of models that got x right on
its text (out-of-fold for the training rows). Fitted per model by ridge-logistic regression (Newton)
on leave-one-out neighbours; cross-model weights let it learn anti-correlation.

Twins (``twins=True``, the default): a neighbour with the same answer-option signature as x (see
``features.option_signature``: the same options of a multiple-choice item) is flagged, and its
deviations get their own weights w^twin_{c,j,m} and intercept; a merely similar prompt keeps w. On
RouterBench's Winogrande a twin's outcomes are strongly (anti-)correlated with x's (an option-biased
model is right on exactly one of the two) while a look-alike sentence's are nearly noise; one
shared weight diluted the first with the second. The flag reads only the prompt texts.

Speed: the similarity uses only *rare* features (document frequency ≤ ``max_df_share`` of the
training prompts; near-duplicates share their rare words), searched per category in a sparse
inverted index, so routing 100,000 requests does not touch a dense 100,000 × N_train matrix.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.linalg import cho_factor, cho_solve

from tokenomy.routing.estimators.base import QualityEstimator, check_training, logit, sigmoid
from tokenomy.routing.estimators.prior import CategoryPrior
from tokenomy.routing.estimators.stacked import _fit_blend, fold_ids
from tokenomy.routing.features import Features

__all__ = ["NeighbourLabels", "TextNeighbours"]


def _row_argmax(s: sp.csr_matrix, floor: float) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Per row of a non-negative CSR matrix: the column of its largest entry ≥ ``floor`` and that entry
    (0 and 0.0 where no entry reaches ``floor``). Vectorised over the entries that reach the floor."""
    n = s.shape[0]
    best, top = np.zeros(n, dtype=np.int64), np.zeros(n)
    pos = np.flatnonzero(s.data >= floor)
    if pos.size == 0:
        return best, top
    row = np.searchsorted(s.indptr, pos, side="right") - 1
    vals = s.data[pos]
    order = np.lexsort((-vals, row))  # by row, largest first
    first = order[np.r_[True, row[order][1:] != row[order][:-1]]]
    best[row[first]] = s.indices[pos[first]]
    top[row[first]] = vals[first]
    return best, top


class NeighbourLabels(QualityEstimator):
    """Logistic model on the nearest training neighbour's outcomes for every model.

    The defaults were chosen on the RouterBench *train* split only, by out-of-fold welfare (10
    folds; the mean gap recovered at V = 0.003, 0.01, 0.03 of Eq. 4 on the out-of-fold q̂) over
    twins ∈ {False, True} × l2 ∈ {1, 3, 10} × min_similarity ∈ {0.1, 0.2, 0.3} × max_df_share ∈
    {0.01, 0.02, 0.05}: twins on, l2 1, min_similarity 0.3, max_df_share 0.05 (out-of-fold 0.218 /
    0.283 / 0.305; without twins the best was 0.127 / 0.152 / 0.196). Reproduce with
    ``benchmarks/bench_route.py --select``.

    Args:
        l2: ridge penalty of the weights.
        min_similarity: neighbours less similar than this contribute nothing.
        max_df_share: features in more than this share of training prompts are ignored by the search.
        difficulty: include the text difficulty regression d̂.
        ridge_alpha: L2 strength of that regression.
        folds, seed: cross-fitting of d̂ on the training rows.
        twins: separate weights for a neighbour with the same answer-option signature.
    """

    name = "neighbours"

    def __init__(
        self,
        *,
        l2: float = 1.0,
        min_similarity: float = 0.3,
        max_df_share: float = 0.05,
        difficulty: bool = False,
        twins: bool = True,
        ridge_alpha: float = 1.0,
        folds: int = 5,
        seed: int = 0,
    ) -> None:
        self.l2 = l2
        self.min_similarity = min_similarity
        self.max_df_share = max_df_share
        self.difficulty = difficulty
        self.twins = twins
        self.ridge_alpha = ridge_alpha
        self.folds = folds
        self.seed = seed

    # -- neighbour search ----------------------------------------------------------------------
    def _index(self, X: Features) -> None:
        df = np.bincount(X.text.indices, minlength=X.text.shape[1])
        common = df > max(2.0, self.max_df_share * len(X))
        keep = sp.diags((~common).astype(np.float64))
        text_t = sp.csr_matrix((X.text @ keep).T)
        text_t.eliminate_zeros()
        self.members_: dict[int, NDArray[np.int64]] = {}
        self.index_: dict[int, sp.csr_matrix] = {}
        for c in [*range(X.n_categories), -1]:
            rows = np.flatnonzero(X.category_codes == c) if c >= 0 else np.arange(len(X))
            self.members_[c] = rows
            self.index_[c] = sp.csr_matrix(text_t[:, rows], dtype=np.float32)

    def _neighbour(self, X: Features, exclude_self: bool) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        idx = np.zeros(len(X), dtype=np.int64)
        sim = np.zeros(len(X))
        codes = np.where(np.isin(X.category_codes, list(self.members_)), X.category_codes, -1)
        for c in np.unique(codes):
            rows = np.flatnonzero(codes == c)
            members = self.members_[int(c)]
            if members.size == 0:
                continue
            s = sp.csr_matrix(X.text[rows].astype(np.float32) @ self.index_[int(c)])
            if exclude_self:  # training rows: a prompt is not its own neighbour
                pos = np.searchsorted(members, rows)
                s = s.tolil()
                s[np.arange(rows.size), pos] = 0.0
                s = s.tocsr()
            best, top = _row_argmax(s, max(self.min_similarity, 1e-12))
            idx[rows] = members[best]
            sim[rows] = top
        return idx, np.where(sim >= self.min_similarity, sim, 0.0)

    # -- difficulty ----------------------------------------------------------------------------
    def _extras(self, X: Features) -> NDArray[np.float64]:
        return np.hstack([X.category_onehot() * 3.0, ((X.log_chars - 6.0) / 2.0)[:, None]])

    def _difficulty_fit(self, X: Features) -> NDArray[np.float64]:
        """Ridge regression (dual form: N ≪ features) of the share of models right on the text.

        Returns out-of-fold values for the training rows; stores the primal weights for prediction.
        """
        self.ridge_: tuple[NDArray[np.float64], NDArray[np.float64], float] | None = None
        if not self.difficulty:
            return np.zeros(len(X))
        extras = self._extras(X)
        K = np.asarray((X.text @ X.text.T).toarray()) + extras @ extras.T
        target = self.y_.mean(axis=1)
        folds = fold_ids(len(X), min(self.folds, len(X)), self.seed)
        oof = np.zeros(len(X))
        for k in np.unique(folds):
            fit, held = np.flatnonzero(folds != k), np.flatnonzero(folds == k)
            mu = float(target[fit].mean())
            a = cho_solve(
                cho_factor(K[np.ix_(fit, fit)] + self.ridge_alpha * np.eye(fit.size)), target[fit] - mu
            )
            oof[held] = K[np.ix_(held, fit)] @ a
        mu = float(target.mean())
        a = cho_solve(cho_factor(K + self.ridge_alpha * np.eye(len(X))), target - mu)
        self.ridge_ = (np.asarray(X.text.T @ a).ravel(), extras.T @ a, 0.0)
        return oof

    def _difficulty(self, X: Features) -> NDArray[np.float64]:
        if self.ridge_ is None:
            return np.zeros(len(X))
        w_text, w_extra, icpt = self.ridge_
        return np.asarray(X.text @ w_text + self._extras(X) @ w_extra + icpt)

    # -- the model -----------------------------------------------------------------------------
    def _twin(self, X: Features, idx: NDArray[np.int64], sim: NDArray[np.float64]) -> NDArray[np.float64]:
        """1.0 where the neighbour has x's (non-zero) answer-option signature, else 0.0; (N,)."""
        if not self.twins:
            return np.zeros(len(X))
        sig = X.signatures()
        return np.asarray((sig != 0) & (sig == self.sig_train_[idx]) & (sim > 0), dtype=np.float64)

    def _design(
        self,
        X: Features,
        idx: NDArray[np.int64],
        sim: NDArray[np.float64],
        diff: NDArray[np.float64],
        prior: NDArray[np.float64],
        j: int,
    ) -> NDArray[np.float64]:
        """Inputs of model j's regression (fit time): [logit prior_j, dev × 1[cat] per category
        (× 1[not twin] and × 1[twin] when ``twins``), d̂ × 1[cat], (1[twin] × 1[cat]), 1[cat], 1]."""
        dev = sim[:, None] * (self.y_[idx] - self.prior_train_[idx])
        onehot = X.category_onehot()
        parts = [dev * onehot[:, [c]] for c in range(onehot.shape[1])]
        extra: list[NDArray[np.float64]] = []
        if self.twins:
            tw = self._twin(X, idx, sim)[:, None]
            parts = [a * (1.0 - tw) for a in parts] + [a * tw for a in parts]
            extra = [tw * onehot]
        return np.hstack(
            [logit(prior[:, [j]]), *parts, diff[:, None] * onehot, *extra, onehot, np.ones((len(X), 1))]
        )

    def _logits(
        self,
        X: Features,
        idx: NDArray[np.int64],
        sim: NDArray[np.float64],
        diff: NDArray[np.float64],
        prior: NDArray[np.float64],
    ) -> NDArray[np.float64]:
        """The same linear predictor for every model at once, one (M × M) product per category."""
        w = self.weights_  # rows: 1 + C·M·(1 or 2) + C + (C) + C + 1, columns: models
        m, c_n = self.y_.shape[1], X.n_categories
        dev = sim[:, None] * (self.y_[idx] - self.prior_train_[idx])
        tw = self._twin(X, idx, sim)
        blocks = 2 if self.twins else 1
        tail = 1 + blocks * c_n * m  # first row after the deviation blocks
        z = logit(prior) * w[0] + w[-1]
        codes = X.category_codes
        for c in range(c_n):
            rows = np.flatnonzero(codes == c)
            if rows.size == 0:
                continue
            plain = w[1 + c * m : 1 + (c + 1) * m]
            z[rows] += dev[rows] @ plain + diff[rows, None] * w[tail + c] + w[tail + (blocks + 0) * c_n + c]
            if self.twins:
                t = rows[tw[rows] > 0]
                twin = w[1 + (c_n + c) * m : 1 + (c_n + c + 1) * m]
                z[t] += dev[t] @ (twin - plain) + w[tail + c_n + c]
        return np.asarray(z)

    def fit(self, X: Features, quality: NDArray[np.float64]) -> NeighbourLabels:
        self.y_ = check_training(X, quality)
        self._index(X)
        self.sig_train_: NDArray[np.int64] = X.signatures()
        self.prior_ = CategoryPrior().fit(X, self.y_)
        self.prior_train_ = self.prior_.predict(X)
        idx, sim = self._neighbour(X, exclude_self=True)
        diff = self._difficulty_fit(X)
        self.weights_ = np.stack(
            [
                _fit_blend(self._design(X, idx, sim, diff, self.prior_train_, j), self.y_[:, j], self.l2)
                for j in range(self.y_.shape[1])
            ],
            axis=1,
        )
        return self

    def predict(self, X: Features) -> NDArray[np.float64]:
        idx, sim = self._neighbour(X, exclude_self=False)
        return sigmoid(self._logits(X, idx, sim, self._difficulty(X), self.prior_.predict(X)))


class TextNeighbours(NeighbourLabels):
    """The neighbour model without the twin flag (every neighbour shares one set of weights).

    Kept for comparison (``--compare-estimators``) and for data without multiple-choice structure;
    takes ``NeighbourLabels``' keyword parameters. Its defaults (min_similarity 0.1, max_df_share
    0.02) are the best twin-less setting of the same train-only out-of-fold selection.
    """

    name = "neighbours-text"

    def __init__(self, **params: float | int | bool) -> None:
        params.setdefault("twins", False)
        params.setdefault("min_similarity", 0.1)
        params.setdefault("max_df_share", 0.02)
        super().__init__(**params)  # type: ignore[arg-type]
