"""A cost-minimising router (the paper's prediction 2): the cheapest model whose q̂ clears a quality bar.

This is how most deployed routers are tuned: meet a quality target at the least cost. The bar τ is
set once on train (the one that maximises welfare at a reference V, the median of the V it is tuned
for), so it does not read the request's V: a request worth 100× the typical one gets the same model.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from tokenomy.routing.policies.base import Policy, Problem, Routes

__all__ = ["CostMinimiser"]


def _route(dq: NDArray[np.float64], dc: NDArray[np.float64], tau: float) -> NDArray[np.int64]:
    ok = dq >= tau
    cost = np.where(ok, dc, np.inf)
    pick = cost.argmin(axis=1)
    return np.asarray(np.where(ok.any(axis=1), pick, dq.argmax(axis=1)), dtype=np.int64)


class CostMinimiser(Policy):
    """argmin_m ĉ_m subject to q̂_m ≥ τ (the most likely model when none clears τ).

    Args:
        reference_v_usd: the V at which τ is tuned on train (``None``: the median train V).
        tau: a fixed bar instead of a tuned one.
    """

    name = "cost-min"

    def __init__(self, *, reference_v_usd: float | None = None, tau: float | None = None) -> None:
        self.reference_v_usd = reference_v_usd
        self.tau = tau

    def fit(self, train: Problem) -> CostMinimiser:
        if self.tau is not None:
            self.tau_ = float(self.tau)
            return self
        v = self.reference_v_usd if self.reference_v_usd is not None else float(np.median(train.v_usd))
        wel = train.at_v(v).realised_welfare()
        rows = np.arange(len(train))
        taus = np.linspace(0.0, 0.99, 100)
        totals = [wel[rows, _route(train.dq, train.dc_usd, t)].mean() for t in taus]
        self.tau_ = float(taus[int(np.argmax(totals))])
        return self

    def decide(self, problem: Problem) -> Routes:
        return Routes(_route(problem.dq, problem.dc_usd, self.tau_))
