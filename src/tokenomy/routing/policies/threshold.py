"""RouteLLM-style threshold router: send a request to the strong model when P(strong beats weak) ≥ α.

P(strong beats weak | x) = q̂_s(x)·(1 − q̂_w(x)) from the shared quality estimates (RouteLLM trains a
win-probability model on preference data; routing data has both models' labels, so the marginals
give it). α is learned per V of ``V_GRID`` on the train problem's out-of-fold estimates to maximise
welfare; ``alpha`` fixes it instead (the APGR / CPT sweeps vary it).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from tokenomy.routing.policies.base import V_GRID, Policy, Problem, Routes, nearest_grid
from tokenomy.routing.policies.pair import choose_pair

__all__ = ["ThresholdRouter", "win_probability"]


def win_probability(problem: Problem, strong: int, weak: int) -> NDArray[np.float64]:
    """q̂_s·(1 − q̂_w) per request."""
    return np.asarray(problem.dq[:, strong] * (1.0 - problem.dq[:, weak]))


class ThresholdRouter(Policy):
    """Binary strong/weak router with a threshold on the win probability.

    Args:
        strong, weak: model names (default: ``choose_pair``'s rule on train).
        alpha: a fixed threshold; ``None`` learns one per V.
    """

    name = "threshold"

    def __init__(
        self, *, strong: str | None = None, weak: str | None = None, alpha: float | None = None
    ) -> None:
        self.strong = strong
        self.weak = weak
        self.alpha = alpha

    def fit(self, train: Problem) -> ThresholdRouter:
        self.pair_ = choose_pair(train, self.strong, self.weak)
        s, w = self.pair_
        score = win_probability(train, s, w)
        cands = np.unique(np.concatenate([np.quantile(score, np.linspace(0, 1, 41)), [np.inf]]))
        self.alphas_ = []
        for v in V_GRID:
            wel = train.at_v(v).realised_welfare()
            to_strong = score[:, None] >= cands[None, :]
            total = np.where(to_strong, wel[:, [s]], wel[:, [w]]).mean(axis=0)
            self.alphas_.append(float(cands[int(total.argmax())]))
        return self

    def decide(self, problem: Problem) -> Routes:
        s, w = self.pair_
        alpha = (
            np.full(len(problem), self.alpha)
            if self.alpha is not None
            else np.array(self.alphas_)[nearest_grid(problem.v_usd)]
        )
        return Routes(np.where(win_probability(problem, s, w) >= alpha, s, w).astype(np.int64))
