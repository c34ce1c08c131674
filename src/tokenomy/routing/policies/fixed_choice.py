"""Shared helper of the fixed-model policies: per-model train means of quality, cost, latency, risk.

The best fixed model at a V is argmax_m V·Q̄_m − C̄_m − λ·L̄_m − ρ·R̄_m over the train means (linear in
V, so it is exact for every per-request V, no grid needed), or nothing when every mean is ≤ 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from tokenomy.core.rule import NULL
from tokenomy.routing.policies.base import Problem

__all__ = ["TrainMeans"]


@dataclass(frozen=True, slots=True)
class TrainMeans:
    """Mean realised quality, cost, latency and (SYNTHETIC) risk per model on train, (M,) each."""

    quality: NDArray[np.float64]
    cost_usd: NDArray[np.float64]
    latency_s: NDArray[np.float64]
    risk: NDArray[np.float64]

    @classmethod
    def of(cls, train: Problem) -> TrainMeans:
        """The means of a train problem (needs realised outcomes)."""
        assert train.quality is not None and train.cost_usd is not None
        lat = train.latency_s if train.latency_s is not None else train.dl_s
        cons = train.consequence[:, None] if train.consequence is not None else np.zeros((len(train), 1))
        return cls(
            train.quality.mean(axis=0),
            train.cost_usd.mean(axis=0),
            lat.mean(axis=0),
            ((1.0 - train.quality) * cons).mean(axis=0),
        )

    def best(self, v_usd: NDArray[np.float64], lam: float, rho: float) -> NDArray[np.int64]:
        """The best fixed model for each V (``NULL`` where no model has positive mean welfare)."""
        w = v_usd[:, None] * self.quality - self.cost_usd - lam * self.latency_s - rho * self.risk
        idx = w.argmax(axis=1)
        return np.where(w.max(axis=1) > 0.0, idx, NULL).astype(np.int64)
