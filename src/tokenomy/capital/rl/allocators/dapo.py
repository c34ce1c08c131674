"""Dynamic sampling (DAPO): drop all-correct / all-wrong groups after the fact and resample to fill.

P tasks × G rollouts; after verification the groups with zero reward variance are dropped and fresh
tasks (G rollouts each) are sampled until P informative groups are in hand or ``max_rounds`` refills
have run. Only informative groups are trained on. Every sampled and verified token counts.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from tokenomy.capital.rl.allocators.base import Allocator, GroupResults, Plan, StepView, register_allocator

__all__ = ["DynamicSampling"]


@register_allocator
class DynamicSampling(Allocator):
    """DAPO's dynamic sampling over uniform groups."""

    name = "dapo"

    def __init__(self, *, max_rounds: int = 3) -> None:
        self.max_rounds = max_rounds

    def allocate(self, view: StepView, rng: np.random.Generator) -> Plan:
        """The first ``num_groups`` candidates, ``group_size`` each."""
        del rng
        k = min(view.num_groups, view.tasks.size)
        return Plan(np.arange(k, dtype=np.int64), np.full(k, view.group_size, dtype=np.int64))

    def refill(
        self, view: StepView, results: GroupResults, round_: int, rng: np.random.Generator
    ) -> Plan | None:
        """The next untried candidates, enough to replace the dropped groups (``None`` when full)."""
        del rng
        missing = view.num_groups - int(results.informative.sum())
        tried = results.pass_rate.size
        if missing <= 0 or round_ >= self.max_rounds or tried >= view.tasks.size:
            return None
        k = min(missing, view.tasks.size - tried)
        return Plan(np.arange(tried, tried + k, dtype=np.int64), np.full(k, view.group_size, dtype=np.int64))

    def train_on(self, view: StepView, results: GroupResults) -> NDArray[np.bool_]:
        """Informative groups only."""
        del view
        return results.informative
