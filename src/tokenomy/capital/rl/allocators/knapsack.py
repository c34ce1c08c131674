"""Knapsack allocation (the Knapsack-RL idea): group sizes that maximise expected gradient signal
per rollout token under the step's rollout-token budget.

Value of a group of n at the task's estimated pass rate p̂ is ``signal(p̂, n)`` (allocators.base);
its cost is n × the answer tokens × the rollout price. Sizes grow two at a time where Δvalue/Δcost is
highest until the budget (the uniform policy's expected rollout spend) is spent. It prices neither
verification nor update tokens and trains on every sampled group, as the published method does.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from tokenomy.capital.rl.allocators.base import (
    Allocator,
    Plan,
    StepView,
    greedy_groups,
    register_allocator,
    signal,
)

__all__ = ["KnapsackAllocation"]


@register_allocator
class KnapsackAllocation(Allocator):
    """p(1 − p)-signal per rollout token, greedy knapsack over the offered tasks."""

    name = "knapsack"

    def allocate(self, view: StepView, rng: np.random.Generator) -> Plan:
        """Sizes by Δsignal / Δrollout-cost within the rollout share of the budget."""
        del rng
        price = view.prices.rollout_usd_per_token * view.rollout_tokens.astype(np.float64)[:, None]
        mean_price = float(price.mean())
        budget = view.num_groups * view.group_size * mean_price

        def cost(n: NDArray[np.float64]) -> NDArray[np.float64]:
            return n * price

        n = greedy_groups(view.p_hat, signal, cost, budget, view.max_group_size, stop_at_zero_surplus=False)
        picks = np.flatnonzero(n > 0)
        return Plan(picks.astype(np.int64), n[picks])
