"""Shared helper of the fixed-model policies: per-model train means of quality, cost, latency, risk.

The best fixed model at a V is core's Eq. 1 choice over the train means, argmax_m V·Q̄_m − C̄_m − λ·L̄_m
− ρ·(R̄_m − R̄irr_m) − ρ_irr·R̄irr_m (linear in V, so it is exact for every per-request V, no grid
needed), or nothing when every mean is ≤ 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from tokenomy.core.rule import choose_many
from tokenomy.routing.policies.base import Problem

__all__ = ["TrainMeans"]


@dataclass(frozen=True, slots=True)
class TrainMeans:
    """Mean realised quality, cost, latency, (SYNTHETIC) risk and its irreversible part per model, (M,) each."""

    quality: NDArray[np.float64]
    cost_usd: NDArray[np.float64]
    latency_s: NDArray[np.float64]
    risk: NDArray[np.float64]
    risk_irr: NDArray[np.float64]

    @classmethod
    def of(cls, train: Problem) -> TrainMeans:
        """The means of a train problem (needs realised outcomes)."""
        assert train.quality is not None and train.cost_usd is not None
        lat = train.latency_s if train.latency_s is not None else train.dl_s
        risk, risk_irr = train.risk(train.quality)
        return cls(
            train.quality.mean(axis=0),
            train.cost_usd.mean(axis=0),
            lat.mean(axis=0),
            risk.mean(axis=0),
            np.broadcast_to(risk_irr, train.quality.shape).mean(axis=0),
        )

    def best(self, v_usd: NDArray[np.float64], prices: Problem) -> NDArray[np.int64]:
        """The best fixed model for each V (``NULL`` where no model has positive mean welfare).

        Args:
            v_usd: V per request, (N,).
            prices: the problem whose λ, ρ, ρ_irr are in force.
        """
        chosen, _ = choose_many(
            v_usd,
            self.quality,
            self.cost_usd,
            self.latency_s,
            self.risk,
            self.risk_irr,
            lam_usd_per_s=prices.lam_usd_per_s,
            rho_usd=prices.rho_usd,
            rho_irr_usd=prices.rho_irr,
            validate=False,
        )
        return chosen
