"""Best fixed model: the one model with the highest mean train welfare at the request's V (RouterBench's anchor)."""

from __future__ import annotations

from tokenomy.routing.policies.base import Policy, Problem, Routes
from tokenomy.routing.policies.fixed_choice import TrainMeans

__all__ = ["BestFixed"]


class BestFixed(Policy):
    """argmax_m V·Q̄_m − C̄_m − λL̄_m − ρR̄_m over train means, per request V."""

    name = "best-fixed"

    def fit(self, train: Problem) -> BestFixed:
        self.means_ = TrainMeans.of(train)
        return self

    def decide(self, problem: Problem) -> Routes:
        return Routes(self.means_.best(problem.v_usd, problem))
