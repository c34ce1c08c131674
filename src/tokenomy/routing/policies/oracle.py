"""The ex-post oracle: for each request the model with the best *realised* welfare, or nothing.

Not a router (it reads the outcomes of the requests it routes); it is the upper bound that regret
and the gap recovered are measured against.
"""

from __future__ import annotations

from tokenomy.core.errors import ValidationError
from tokenomy.routing.policies.base import Policy, Problem, Routes, eq4

__all__ = ["Oracle"]


class Oracle(Policy):
    """argmax_m of realised V·q − c − λ·l − ρ·r per request; nothing when every one is ≤ 0."""

    name = "oracle"
    needs_outcomes = True

    def decide(self, problem: Problem) -> Routes:
        if problem.quality is None:
            raise ValidationError("the oracle needs the realised outcomes of the requests it routes")
        return Routes(eq4(problem.realised_welfare()))
