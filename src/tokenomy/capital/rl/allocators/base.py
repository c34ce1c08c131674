"""The allocation contract for an RL step's rollout budget, the shared value model, and a registry.

An allocator sees a ``StepView`` (the candidate training tasks offered at one step, each with its
estimated pass rate p̂ and per-sample token counts) and returns a ``Plan``: how many rollouts (a
group) to sample for which tasks. After verification it says which groups go through the backward
pass (``train_on``) and how large a step to take on them (``step_scale``); ``refill`` lets a policy
ask for more groups after seeing the rewards (dynamic sampling); ``importance`` says whether and how
stale samples are reweighted (``capital.rl.staleness``; default: not at all, stale samples are used as
if fresh). Policies never touch the loop's state.

Gradient signal of a group of n rollouts at pass rate p (group-relative baseline, binary reward):
``signal(p, n) = p·(1 − p)·(1 − pⁿ − (1 − p)ⁿ)`` — the reward variance p(1 − p) times the probability that
the group is not all-correct or all-wrong (such groups have zero advantage and carry no gradient).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, TypeVar

import numpy as np
from numpy.typing import NDArray

from tokenomy.capital.rl.staleness import ImportanceCorrection
from tokenomy.core._checks import real
from tokenomy.core.errors import ValidationError

__all__ = [
    "ALLOCATORS",
    "Allocator",
    "GroupResults",
    "Plan",
    "RLPrices",
    "StepView",
    "greedy_groups",
    "make_allocator",
    "register_allocator",
    "signal",
]


@dataclass(frozen=True, slots=True)
class RLPrices:
    """Prices of the three token uses and the value of gradient signal (all synthetic, USD).

    Attributes:
        rollout_usd_per_token: one sampled answer token.
        verify_usd_per_token: one token the verifier reads (prompt and answer).
        update_usd_per_token: one token through the backward pass (prompt and answer).
        v_usd: value of one unit of group gradient signal (``signal``) to the target skill.
        drift_per_version: δ, the share of a rollout's learning value lost per policy version of staleness.
    """

    rollout_usd_per_token: float = 1e-6
    verify_usd_per_token: float = 1e-6
    update_usd_per_token: float = 1e-6
    v_usd: float = 1.5e-3
    drift_per_version: float = 0.0

    def __post_init__(self) -> None:
        """Raises ValidationError naming the field: a price not a finite number ≥ 0, δ not in [0, 1)."""
        for name in ("rollout_usd_per_token", "verify_usd_per_token", "update_usd_per_token", "v_usd"):
            object.__setattr__(self, name, real(f"RLPrices.{name}", getattr(self, name), low=0))
        drift = real("RLPrices.drift_per_version", self.drift_per_version, low=0, high=1, high_open=True)
        object.__setattr__(self, "drift_per_version", drift)

    def discount(self, staleness_versions: int) -> float:
        """(1 − δ)^s: the share of a fresh rollout's value left after ``staleness_versions`` versions."""
        return float((1.0 - self.drift_per_version) ** staleness_versions)


@dataclass(frozen=True, slots=True)
class StepView:
    """What an allocator sees at one training step.

    Attributes:
        tasks: shape (K,), training-task indices offered this step (candidates).
        p_hat: shape (K,), estimated pass rates.
        rollout_tokens, verify_tokens, update_tokens: shape (K,), tokens per sample of each use.
        budget_usd: the step's budget at ``prices`` (rollout + verification + expected update spend).
        group_size: the default group size G; max_group_size the largest group a policy may sample.
        num_groups: the default number of groups per step.
        staleness_versions: policy versions between the generating policy and the one trained.
        prices: token prices, V and δ.
        ess_share: the share of sample size that the allocator's importance correction kept on this
            run's recent steps (ESS / n, a running mean measured by the loop); 1 without lag or correction.
    """

    tasks: NDArray[np.int64]
    p_hat: NDArray[np.float64]
    rollout_tokens: NDArray[np.int64]
    verify_tokens: NDArray[np.int64]
    update_tokens: NDArray[np.int64]
    budget_usd: float
    group_size: int
    max_group_size: int
    num_groups: int
    staleness_versions: int
    prices: RLPrices
    ess_share: float = 1.0


@dataclass(frozen=True, slots=True)
class Plan:
    """Groups to sample: positions into ``StepView.tasks`` and their sizes (each ≥ 1)."""

    picks: NDArray[np.int64]
    group_sizes: NDArray[np.int64]

    def __post_init__(self) -> None:
        assert self.picks.shape == self.group_sizes.shape and np.all(self.group_sizes >= 1)


@dataclass(frozen=True, slots=True)
class GroupResults:
    """Verified groups: pass rate of each group, its update tokens (all samples) and, when the allocator
    corrects staleness, the share of its sample size the importance weights keep (ESS / n; else ``None``)."""

    pass_rate: NDArray[np.float64]
    update_tokens: NDArray[np.int64]
    group_sizes: NDArray[np.int64]
    ess_share: NDArray[np.float64] | None = None

    @property
    def kept(self) -> NDArray[np.float64]:
        """ESS / n of each group (ones when no correction was made)."""
        return np.ones(self.pass_rate.shape) if self.ess_share is None else self.ess_share

    @property
    def informative(self) -> NDArray[np.bool_]:
        """Groups with both a right and a wrong answer (non-zero advantages)."""
        return (self.pass_rate > 0.0) & (self.pass_rate < 1.0)

    @property
    def signal(self) -> NDArray[np.float64]:
        """Realised reward variance p̂(1 − p̂) of each group (0 for an all-right or all-wrong group)."""
        return self.pass_rate * (1.0 - self.pass_rate)


def signal(p: NDArray[np.float64], n: NDArray[np.float64]) -> NDArray[np.float64]:
    """Expected gradient signal of a group of ``n`` rollouts at pass rate ``p`` (module docstring)."""
    return p * (1.0 - p) * (1.0 - p**n - (1.0 - p) ** n)


class Allocator(ABC):
    """One way of spending an RL step's rollout budget; subclasses implement ``allocate``."""

    name: ClassVar[str]

    @abstractmethod
    def allocate(self, view: StepView, rng: np.random.Generator) -> Plan:
        """The groups to sample at this step."""

    def refill(
        self, view: StepView, results: GroupResults, round_: int, rng: np.random.Generator
    ) -> Plan | None:
        """More groups to sample after verification (``None``: done). Default: none."""
        del view, results, round_, rng
        return None

    def train_on(self, view: StepView, results: GroupResults) -> NDArray[np.bool_]:
        """Which verified groups go through the backward pass. Default: every group."""
        del view
        return np.ones(results.pass_rate.shape, dtype=bool)

    def step_scale(self, view: StepView) -> float:
        """Multiplier of the optimiser's step for this update. Default: 1."""
        del view
        return 1.0

    def importance(self, view: StepView) -> ImportanceCorrection | None:
        """How stale samples are reweighted (``None``: used as if fresh, the default)."""
        del view
        return None


ALLOCATORS: dict[str, type[Allocator]] = {}  # name -> allocator class
_A = TypeVar("_A", bound=type[Allocator])


def register_allocator(cls: _A) -> _A:
    """Class decorator: add an allocator to ``ALLOCATORS`` under its ``name``."""
    ALLOCATORS[cls.name] = cls
    return cls


def make_allocator(name: str, **kwargs: object) -> Allocator:
    """An allocator by registered name.

    Raises:
        ValidationError: the name is not registered (the message lists the valid ones).
    """
    factory: Callable[..., Allocator] | None = ALLOCATORS.get(name)
    if factory is None:
        raise ValidationError(
            f"unknown RL allocation policy {name!r}; valid: {', '.join(sorted(ALLOCATORS))}"
        )
    return factory(**kwargs)


def greedy_groups(
    p_hat: NDArray[np.float64],
    value: Callable[[NDArray[np.float64], NDArray[np.float64]], NDArray[np.float64]],
    cost_usd: Callable[[NDArray[np.float64]], NDArray[np.float64]],
    budget_usd: float,
    max_group_size: int,
    *,
    stop_at_zero_surplus: bool,
) -> NDArray[np.int64]:
    """Group sizes by the equimarginal rule: add two rollouts at a time where Δvalue/Δcost is highest.

    ``value(p, n)`` and ``cost_usd(n)`` give every candidate's group value and cost at sizes n, shape
    (K, S) for sizes of shape (1, S) (vectorised; tabulated once). Stops when the budget is spent, no
    increment fits, or (with ``stop_at_zero_surplus``) the best increment's value is below its cost
    (Eq. 1's null option). Returns sizes (0 = not sampled), shape (K,).
    """
    k = p_hat.size
    grid = np.unique(np.r_[np.arange(0, max_group_size + 1, 2), max_group_size]).astype(np.float64)[None, :]
    dv = np.diff(value(p_hat[:, None], grid), axis=1)
    dc = np.diff(cost_usd(grid), axis=1)
    if dc.shape[0] != k:
        dc = np.broadcast_to(dc, dv.shape)
    level = np.zeros(k, dtype=np.int64)
    steps = dv.shape[1]
    rows = np.arange(k)
    spent = 0.0
    while True:
        live = level < steps
        at = np.minimum(level, steps - 1)
        gain, price = dv[rows, at], dc[rows, at]
        ok = live & (price > 0) & (spent + price <= budget_usd + 1e-15)
        if stop_at_zero_surplus:
            ok &= gain > price
        if not ok.any():
            break
        ratio = np.where(ok, gain / np.where(price > 0, price, 1.0), -np.inf)
        best = int(np.argmax(ratio))
        spent += float(price[best])
        level[best] += 1
    sizes: NDArray[np.int64] = grid[0, level].astype(np.int64)
    return sizes
