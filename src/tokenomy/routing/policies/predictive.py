"""RouterBench-style predictive router: argmax_m λ·P̂_m(x) − ĉ_m(x), with λ = V and no null option.

RouterBench (Hu et al. 2024) scores each model by a predicted performance P̂ from its own predictor
(kNN or an MLP, fitted for the router) traded against cost by a willingness-to-pay λ. Here P̂ is a
kNN estimator the ``Router`` fits separately for this baseline (``Router(baseline_estimator=...)``,
out of fold on train), carried in ``Problem.baseline_dq``; it is never the main q̂, and a problem
without it is an error, not a silent substitution. It ignores latency, risk and the option of
spending nothing, which is what separates it from Eq. 4.
"""

from __future__ import annotations

from tokenomy.core.errors import ValidationError
from tokenomy.core.rule import surplus_matrix
from tokenomy.routing.policies.base import Policy, Problem, Routes, eq4

__all__ = ["PredictiveRouter"]


class PredictiveRouter(Policy):
    """argmax_m V·P̂_m − ĉ_m with its own P̂.

    Args:
        source: the key of ``Problem.baseline_dq`` to read ("knn", RouterBench's predictor).
    """

    name = "predictive"

    def __init__(self, *, source: str = "knn") -> None:
        self.source = source

    def decide(self, problem: Problem) -> Routes:
        """Route by V·P̂ − ĉ.

        Raises:
            ValidationError: the problem carries no ``baseline_dq[source]``.
        """
        if self.source not in problem.baseline_dq:
            raise ValidationError(
                f"the predictive router needs its own quality estimate baseline_dq[{self.source!r}] "
                f"(have {sorted(problem.baseline_dq)}); build the problem with Router.problem(..., "
                "baselines=True) from a Router fitted with that baseline_estimator"
            )
        q = problem.baseline_dq[self.source]
        # The baseline as published prices quality and cost only: core's rule with λ = ρ = 0.
        return Routes(eq4(surplus_matrix(problem.v_usd, q, problem.dc_usd, validate=False), allow_null=False))
