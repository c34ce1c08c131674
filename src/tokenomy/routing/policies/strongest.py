"""Always the strongest model (highest mean train quality): the quality ceiling of fixed routing."""

from __future__ import annotations

import numpy as np

from tokenomy.routing.policies.base import Policy, Problem, Routes

__all__ = ["AlwaysStrongest"]


class AlwaysStrongest(Policy):
    """Every request to the model with the highest mean train quality."""

    name = "always-strongest"

    def fit(self, train: Problem) -> AlwaysStrongest:
        assert train.quality is not None
        self.model_ = int(train.quality.mean(axis=0).argmax())
        return self

    def decide(self, problem: Problem) -> Routes:
        return Routes(np.full(len(problem), self.model_, dtype=np.int64))
