"""Random routing: each request goes to a model drawn uniformly (seeded); the floor every router must beat."""

from __future__ import annotations

import numpy as np

from tokenomy.routing.policies.base import Policy, Problem, Routes

__all__ = ["RandomPolicy"]


class RandomPolicy(Policy):
    """Uniformly random model per request.

    Args:
        seed: seed of the draw (the same seed gives the same routes).
    """

    name = "random"

    def __init__(self, *, seed: int = 0) -> None:
        self.seed = seed

    def decide(self, problem: Problem) -> Routes:
        rng = np.random.default_rng(self.seed)
        return Routes(rng.integers(0, len(problem.models), len(problem)).astype(np.int64))
