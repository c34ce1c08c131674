"""Quality estimators q̂_m(x); importing the package registers each in ``ESTIMATORS``.

prior (per-category), logistic (hashed TF-IDF text model), knn (nearest neighbours), stacked
(cross-fitted blend of the bases, calibrated), neighbours (the nearest
training prompt's outcomes for every model, with separate weights for a multiple-choice twin),
neighbours-text (the same without the twin flag); on sentence embeddings (the ``embeddings`` extra):
mf (matrix factorisation), logistic-embed (calibrated classifier head), knn-embed. See ``base`` for
the contract.
"""

from tokenomy.routing.estimators.base import ESTIMATORS, QualityEstimator
from tokenomy.routing.estimators.embedding import EmbeddingKNN, EmbeddingLogistic, MatrixFactorisation
from tokenomy.routing.estimators.knn import NearestNeighbours
from tokenomy.routing.estimators.logistic import TextLogistic
from tokenomy.routing.estimators.neighbour_labels import NeighbourLabels, TextNeighbours
from tokenomy.routing.estimators.prior import CategoryPrior
from tokenomy.routing.estimators.stacked import StackedBlend

__all__ = [
    "ESTIMATORS",
    "CategoryPrior",
    "EmbeddingKNN",
    "EmbeddingLogistic",
    "MatrixFactorisation",
    "NearestNeighbours",
    "NeighbourLabels",
    "QualityEstimator",
    "StackedBlend",
    "TextLogistic",
    "TextNeighbours",
]
