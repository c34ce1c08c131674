"""FrugalGPT-style cascade: call models cheapest first, stop when a scorer trusts the answer.

Stages are the train (cost, accuracy) Pareto front, cheapest first, at most ``max_stages``. The
score of stage k is the router's q̂ of that model for the prompt (learned on train only; out of fold
on the train problem). No answer judge: these data have no learned answer scorer, and a judge
simulated from the realised label (RouterBench's) would read the test outcomes, so this cascade
reads no outcome of the requests it routes (a weaker cascade than one that verifies answers). The
cascade stops at stage k when s ≥ τ_k; the last stage always answers. Every called model is paid for (and its latency added).
The thresholds are learned per V of ``V_GRID`` on train to maximise welfare subject to a mean cost
per query ≤ the budget (``budget_usd``; default: the best fixed model's mean train cost at that V).
"""

from __future__ import annotations

import itertools

import numpy as np
from numpy.typing import NDArray

from tokenomy.core.rule import realised_utility
from tokenomy.routing.metrics import pareto_front
from tokenomy.routing.policies.base import V_GRID, Policy, Problem, Routes, nearest_grid
from tokenomy.routing.policies.fixed_choice import TrainMeans

__all__ = ["Cascade"]

_TAUS = np.linspace(0.0, 1.0, 11)


def _front(acc: NDArray[np.float64], cost: NDArray[np.float64], k: int) -> list[int]:
    """The train cost–accuracy Pareto front, cheapest first, thinned evenly to at most ``k`` stages."""
    front = [int(j) for j in pareto_front(cost, acc)]
    if len(front) <= k:
        return front
    pick = np.unique(np.round(np.linspace(0, len(front) - 1, k)).astype(int))
    return [front[i] for i in pick]


class Cascade(Policy):
    """Cheapest-first cascade with learned per-stage thresholds.

    Args:
        max_stages: the longest chain.
        budget_usd: mean cost per query the thresholds must respect (``None``: best fixed's at each V).
    """

    name = "cascade"

    def __init__(
        self,
        *,
        max_stages: int = 3,
        budget_usd: float | None = None,
    ) -> None:
        self.max_stages = max_stages
        self.budget_usd = budget_usd

    def _scores(self, problem: Problem) -> NDArray[np.float64]:
        return np.asarray(problem.dq[:, self.stages_])

    @staticmethod
    def _stop(scores: NDArray[np.float64], taus: NDArray[np.float64]) -> NDArray[np.int64]:
        k = scores.shape[1]
        stop = np.full(scores.shape[0], k - 1)
        for j in range(k - 2, -1, -1):
            stop = np.where(scores[:, j] >= taus[j], j, stop)
        return stop.astype(np.int64)

    def fit(self, train: Problem) -> Cascade:
        means = TrainMeans.of(train)
        self.stages_ = _front(means.quality, means.cost_usd, self.max_stages)
        scores = self._scores(train)
        combos = [np.array(c) for c in itertools.product(_TAUS, repeat=len(self.stages_) - 1)] or [
            np.zeros(0)
        ]
        assert train.cost_usd is not None
        cost_cum = np.cumsum(train.cost_usd[:, self.stages_], axis=1)
        stops = [self._stop(scores, t) for t in combos]
        rows = np.arange(len(train))
        self.taus_: list[NDArray[np.float64]] = []
        for v in V_GRID:
            p = train.at_v(v)
            fixed = means.best(p.v_usd[:1], p)[0]
            budget = (
                self.budget_usd
                if self.budget_usd is not None
                else (means.cost_usd[fixed] if fixed >= 0 else 0.0)
            )
            costs = np.array([cost_cum[rows, stop].mean() for stop in stops])
            w = np.array([self.welfare(p, stop).mean() for stop in stops])
            feasible = costs <= budget * (1 + 1e-9)
            best = (
                combos[int(np.where(feasible, w, -np.inf).argmax())]
                if feasible.any()
                else combos[int(costs.argmin())]
            )
            self.taus_.append(best)
        return self

    def welfare(self, problem: Problem, stop: NDArray[np.int64]) -> NDArray[np.float64]:
        """Realised Eq. 1 utility per request (core's ``realised_utility``) when request i stops at stage
        ``stop[i]``: the quality and risk of that stage's answer, the cost and latency of every stage
        called up to it. Needs the realised outcomes (train problems)."""
        assert problem.quality is not None and problem.cost_usd is not None
        lat = problem.latency_s if problem.latency_s is not None else problem.dl_s
        rows = np.arange(len(problem))
        answer = np.asarray(self.stages_)[stop]
        quality = problem.quality[rows, answer]
        risk, risk_irr = problem.risk(quality)
        return realised_utility(
            problem.v_usd,
            quality,
            np.cumsum(problem.cost_usd[:, self.stages_], axis=1)[rows, stop],
            np.cumsum(lat[:, self.stages_], axis=1)[rows, stop],
            risk,
            risk_irr,
            lam_usd_per_s=problem.lam_usd_per_s,
            rho_usd=problem.rho_usd,
            rho_irr_usd=problem.rho_irr,
        )

    def decide(self, problem: Problem) -> Routes:
        scores = self._scores(problem)
        k = nearest_grid(problem.v_usd)
        stop = np.zeros(len(problem), dtype=np.int64)
        for g in np.unique(k):
            rows = np.flatnonzero(k == g)
            stop[rows] = self._stop(scores[rows], self.taus_[g])
        stages = np.array(self.stages_)
        called = np.zeros((len(problem), len(problem.models)), dtype=bool)
        for j, m in enumerate(stages):
            called[:, m] = stop >= j
        return Routes(stages[stop].astype(np.int64), called=called)
