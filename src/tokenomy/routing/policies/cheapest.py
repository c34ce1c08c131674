"""Always the cheapest model (lowest mean train cost): the cost-minimising floor."""

from __future__ import annotations

import numpy as np

from tokenomy.routing.policies.base import Policy, Problem, Routes

__all__ = ["AlwaysCheapest"]


class AlwaysCheapest(Policy):
    """Every request to the model with the lowest mean train cost."""

    name = "always-cheapest"

    def fit(self, train: Problem) -> AlwaysCheapest:
        assert train.cost_usd is not None
        self.model_ = int(train.cost_usd.mean(axis=0).argmin())
        return self

    def decide(self, problem: Problem) -> Routes:
        return Routes(np.full(len(problem), self.model_, dtype=np.int64))
