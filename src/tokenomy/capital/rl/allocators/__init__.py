"""Allocation policies for an RL step's rollout budget, one per file, registered by name."""

from tokenomy.capital.rl.allocators import dapo, knapsack, tokenomy_rule, uniform
from tokenomy.capital.rl.allocators.base import (
    ALLOCATORS,
    Allocator,
    GroupResults,
    Plan,
    RLPrices,
    StepView,
    greedy_groups,
    make_allocator,
    register_allocator,
    signal,
)
from tokenomy.capital.rl.allocators.dapo import DynamicSampling
from tokenomy.capital.rl.allocators.knapsack import KnapsackAllocation
from tokenomy.capital.rl.allocators.tokenomy_rule import (
    TokenomyRule,
    TokenomyRuleDecay,
    TokenomyRuleNoDiscount,
)
from tokenomy.capital.rl.allocators.uniform import UniformGroups

__all__ = [
    "ALLOCATORS",
    "Allocator",
    "DynamicSampling",
    "GroupResults",
    "KnapsackAllocation",
    "Plan",
    "RLPrices",
    "StepView",
    "TokenomyRule",
    "TokenomyRuleDecay",
    "TokenomyRuleNoDiscount",
    "UniformGroups",
    "greedy_groups",
    "make_allocator",
    "register_allocator",
    "signal",
]

del dapo, knapsack, tokenomy_rule, uniform
