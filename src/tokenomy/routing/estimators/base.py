"""The quality-estimator contract: ``fit(features, quality)`` then ``predict(features) -> q̂ (N, M)``.

q̂_m(x) is the probability (or expected score) that model m answers prompt x well: the ΔQ of Eq. 4.
One estimator = one class with one verb (``predict``); ``ESTIMATORS`` maps registry names to classes.
Learned state ends in ``_``; constructors only store keyword parameters.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from tokenomy.core.errors import ValidationError
from tokenomy.routing.features import Features

__all__ = ["ESTIMATORS", "QualityEstimator", "check_training"]

ESTIMATORS: dict[str, type[QualityEstimator]] = {}


class QualityEstimator(ABC):
    """Estimates every model's quality on every prompt."""

    name: ClassVar[str] = ""
    needs_embedding: ClassVar[bool] = False
    """True when ``fit``/``predict`` read ``Features.embedding`` (the router needs an encoder)."""

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if cls.name:
            ESTIMATORS[cls.name] = cls

    @abstractmethod
    def fit(self, X: Features, quality: NDArray[np.float64]) -> QualityEstimator:
        """Learn from N prompts' features and their (N, M) realised quality."""

    @abstractmethod
    def predict(self, X: Features) -> NDArray[np.float64]:
        """q̂ of shape (N, M), each in [0, 1]."""


def check_training(X: Features, quality: NDArray[np.float64]) -> NDArray[np.float64]:
    """Validate a training pair and return quality as float64 (N, M).

    Raises:
        ValidationError: shapes disagree, or a quality is outside [0, 1] or NaN.
    """
    y = np.asarray(quality, dtype=np.float64)
    if y.ndim != 2 or y.shape[0] != len(X) or y.shape[0] == 0:
        raise ValidationError(f"quality must have shape ({len(X)}, M) with N ≥ 1, got {y.shape}")
    if not np.all((y >= 0) & (y <= 1)):
        raise ValidationError("quality must hold values in [0, 1] (no NaN)")
    return y


def clip_prob(p: NDArray[np.float64], eps: float = 1e-4) -> NDArray[np.float64]:
    """Probabilities kept away from 0 and 1 (for logits)."""
    return np.clip(p, eps, 1.0 - eps)


def logit(p: NDArray[np.float64]) -> NDArray[np.float64]:
    """log(p / (1 − p)) with p clipped to [1e-4, 1 − 1e-4]."""
    q = clip_prob(p)
    return np.asarray(np.log(q / (1.0 - q)))


def sigmoid(z: NDArray[np.float64]) -> NDArray[np.float64]:
    """1 / (1 + exp(−z)), overflow-safe."""
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * z)))
