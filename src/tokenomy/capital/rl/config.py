"""Settings of one RL fine-tuning run and the warm start it begins from.

``RLConfig`` holds every knob (model size, learning rate, group size, groups per step, candidate
tasks offered per step, the token budget of a run, token prices). The defaults were set on training
tasks and training seeds only (the learning rate and warm start so that uniform GRPO improves training
accuracy steadily); nothing here is chosen by looking at held-out tasks. No I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tokenomy.capital.rl.allocators.base import RLPrices
from tokenomy.capital.rl.policy import Adam, PolicyNet, policy_gradient
from tokenomy.capital.rl.tasks import TaskSet, make_split
from tokenomy.core._checks import real, whole
from tokenomy.core.errors import ValidationError

__all__ = ["RLConfig", "WarmStart", "warm_start"]


@dataclass(frozen=True, slots=True)
class RLConfig:
    """One RL run's settings.

    Attributes:
        hidden: MLP width.
        learning_rate: Adam's step size.
        group_size: G, rollouts per task in a uniform group; max_group_size: the largest group any policy samples.
        num_groups: P, tasks per step for uniform groups (the step's budget is their expected spend).
        candidates_per_step: tasks offered per step (dynamic sampling refills and knapsack choices draw on them).
        tasks_per_level: training tasks per difficulty level (as many held-out ones, disjoint).
        pretrain_tasks_per_level, pretrain_steps: the supervised warm start (1- and 2-digit tasks only).
        max_tokens: a run's token budget (rollout + verification + update): it stops before a step that
            would exceed it, and refuses a budget below one step's spend.
        max_steps: a safety cap on steps.
        prices: token prices, V and the drift δ.
    """

    hidden: int = 64
    learning_rate: float = 0.01
    group_size: int = 8
    max_group_size: int = 16
    num_groups: int = 16
    candidates_per_step: int = 48
    tasks_per_level: int = 48
    pretrain_tasks_per_level: int = 30
    pretrain_steps: int = 150
    max_tokens: int = 600_000
    max_steps: int = 2000
    prices: RLPrices = field(default_factory=RLPrices)

    def __post_init__(self) -> None:
        """Raises ValidationError naming the field (a count not a whole number, a rate not finite, ...)."""
        put = object.__setattr__
        for name in (
            "hidden",
            "group_size",
            "max_group_size",
            "num_groups",
            "candidates_per_step",
            "tasks_per_level",
            "pretrain_tasks_per_level",
            "max_tokens",
            "max_steps",
        ):
            put(self, name, whole(f"RLConfig.{name}", getattr(self, name), low=1))
        put(self, "pretrain_steps", whole("RLConfig.pretrain_steps", self.pretrain_steps, low=0))
        put(self, "learning_rate", real("RLConfig.learning_rate", self.learning_rate, low=0, low_open=True))
        if not isinstance(self.prices, RLPrices):
            raise ValidationError(f"RLConfig.prices must be an RLPrices, got {self.prices!r:.80}")
        if self.group_size < 2 or self.max_group_size < self.group_size:
            raise ValidationError(
                f"RLConfig needs 2 ≤ group_size ≤ max_group_size, got {self.group_size}, {self.max_group_size}"
            )
        if self.candidates_per_step < self.num_groups:
            raise ValidationError("RLConfig.candidates_per_step must be ≥ num_groups")


@dataclass(frozen=True, slots=True)
class WarmStart:
    """The tasks and the supervised starting policy of one seed."""

    train: TaskSet
    heldout: TaskSet
    net: PolicyNet


def warm_start(config: RLConfig, seed: int) -> WarmStart:
    """Disjoint train / held-out tasks and a policy pre-trained by maximum likelihood on separate
    1- and 2-digit tasks (its own seed stream), so that RL starts from a policy with graded pass rates.

    Raises:
        ValidationError: ``config`` is not an ``RLConfig`` or ``seed`` not a whole number ≥ 0.
    """
    if not isinstance(config, RLConfig):
        raise ValidationError(f"warm_start config must be an RLConfig, got {config!r:.80}")
    seed = whole("warm_start seed", seed)
    rng = np.random.default_rng([seed, 0])
    train, heldout = make_split(config.tasks_per_level, rng=rng)
    pre, _ = make_split(config.pretrain_tasks_per_level, levels=(1, 2), rng=np.random.default_rng([seed, 1]))
    net = PolicyNet.init(config.hidden, rng)
    opt = Adam(lr=config.learning_rate)
    batch = 32
    for _ in range(config.pretrain_steps):
        sub = pre.subset(rng.integers(0, len(pre), batch))
        _, grads = policy_gradient(net, sub, sub.answer_digits, np.full(batch, 1.0 / batch))
        net = opt.step(net, grads)
    return WarmStart(train, heldout, net)
