"""RouterBench-style predictive router: argmax_m λ·P̂_m(x) − ĉ_m(x), with λ = V and no null option.

RouterBench (Hu et al. 2024) scores each model by a predicted performance P̂ (its kNN and MLP
predictors) traded against cost by a willingness-to-pay λ. Here P̂ is the kNN estimate of the shared
estimator family when present (RouterBench's predictor), else the main q̂; it ignores latency, risk
and the option of spending nothing, which is what separates it from Eq. 4.
"""

from __future__ import annotations

import numpy as np

from tokenomy.routing.policies.base import Policy, Problem, Routes, eq4

__all__ = ["PredictiveRouter"]


class PredictiveRouter(Policy):
    """argmax_m V·P̂_m − ĉ_m.

    Args:
        source: which quality estimate to use ("knn" by default; falls back to "main").
    """

    name = "predictive"

    def __init__(self, *, source: str = "knn") -> None:
        self.source = source

    def decide(self, problem: Problem) -> Routes:
        q = problem.dq_sources.get(self.source, problem.dq)
        return Routes(eq4(np.asarray(problem.v_usd[:, None] * q - problem.dc_usd), allow_null=False))
