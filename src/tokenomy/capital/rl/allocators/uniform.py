"""Uniform groups (GRPO's default): G rollouts for each of P tasks drawn at random; train on all.

Every group goes through the backward pass, all-correct and all-wrong ones included (their advantages
are zero, but a standard GRPO batch still carries their tokens through the update).
"""

from __future__ import annotations

import numpy as np

from tokenomy.capital.rl.allocators.base import Allocator, Plan, StepView, register_allocator

__all__ = ["UniformGroups"]


@register_allocator
class UniformGroups(Allocator):
    """P random tasks × G rollouts each."""

    name = "uniform"

    def allocate(self, view: StepView, rng: np.random.Generator) -> Plan:
        """The first ``num_groups`` candidates (offered in random order), ``group_size`` each."""
        del rng
        k = min(view.num_groups, view.tasks.size)
        return Plan(np.arange(k, dtype=np.int64), np.full(k, view.group_size, dtype=np.int64))
