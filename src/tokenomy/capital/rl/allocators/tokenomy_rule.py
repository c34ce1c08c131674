"""Tokenomy's Eq. 11–12 rule: equal marginal gradient value per token across rollout, verification and
update, with stale rollouts discounted at the drift rate.

A group of n rollouts of a task with estimated pass rate p̂, used s policy versions after it was
generated, is worth V·signal(p̂, n)·(1 − δ)^s (allocators.base). It costs n × (answer tokens × the rollout
price + verifier tokens × the verification price) plus the *expected* update spend: the group goes
through the backward pass only if it turns out informative, which happens with probability
1 − p̂ⁿ − (1 − p̂)ⁿ. Sizes grow two at a time where Δvalue/Δcost is highest — the integer form of
equalising marginal value per token (Eq. 2) — while the increment pays for itself (Eq. 1: V·ΔQ > ΔC)
and the step's budget (the uniform policy's full expected spend) lasts.

After verification a group is trained on only while V·p̂_g(1 − p̂_g)·(1 − δ)^s > its update cost — the
condition the stale_rollouts audit checks — decided by core's Eq. 1 rule (``choose_many``); and the
optimiser's step on stale gradients is scaled by (1 − δ)^s. With ``discount_staleness=False`` the same
rule runs as if every rollout were fresh (the ablation).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from tokenomy.capital.rl.allocators.base import (
    Allocator,
    GroupResults,
    Plan,
    StepView,
    greedy_groups,
    register_allocator,
    signal,
)
from tokenomy.core.rule import NULL, choose_many

__all__ = ["TokenomyRule", "TokenomyRuleNoDiscount"]


@register_allocator
class TokenomyRule(Allocator):
    """Equimarginal, fully priced, staleness-discounted allocation of RL tokens."""

    name = "tokenomy"

    def __init__(self, *, discount_staleness: bool = True) -> None:
        self.discount_staleness = discount_staleness

    def _discount(self, view: StepView) -> float:
        return view.prices.discount(view.staleness_versions) if self.discount_staleness else 1.0

    def allocate(self, view: StepView, rng: np.random.Generator) -> Plan:
        """Sizes by Δ(discounted value) / Δ(full expected cost) while it pays, within the budget."""
        del rng
        pr = view.prices
        per_sample = (
            pr.rollout_usd_per_token * view.rollout_tokens + pr.verify_usd_per_token * view.verify_tokens
        ).astype(np.float64)
        upd = (pr.update_usd_per_token * view.update_tokens).astype(np.float64)[:, None]
        per_sample = per_sample[:, None]
        p = view.p_hat[:, None]
        worth = pr.v_usd * self._discount(view)

        def value(p_: NDArray[np.float64], n: NDArray[np.float64]) -> NDArray[np.float64]:
            return worth * signal(p_, n)

        def cost(n: NDArray[np.float64]) -> NDArray[np.float64]:
            informative = 1.0 - p**n - (1.0 - p) ** n
            return n * per_sample + n * upd * np.where(n > 0, informative, 0.0)

        n = greedy_groups(
            view.p_hat, value, cost, view.budget_usd, view.max_group_size, stop_at_zero_surplus=True
        )
        picks = np.flatnonzero(n > 0)
        return Plan(picks.astype(np.int64), n[picks])

    def train_on(self, view: StepView, results: GroupResults) -> NDArray[np.bool_]:
        """Eq. 1 on each group: train while V·p̂_g(1 − p̂_g)·(1 − δ)^s exceeds its update cost."""
        cost = view.prices.update_usd_per_token * results.update_tokens.astype(np.float64)
        chosen, _ = choose_many(
            np.full(cost.size, view.prices.v_usd),
            (results.signal * self._discount(view))[:, None],
            cost[:, None],
        )
        return np.asarray(chosen != NULL)

    def step_scale(self, view: StepView) -> float:
        """(1 − δ)^s with the discount on; 1 without."""
        return self._discount(view)


@register_allocator
class TokenomyRuleNoDiscount(TokenomyRule):
    """The same rule treating every rollout as fresh (the staleness ablation)."""

    name = "tokenomy-nodiscount"

    def __init__(self) -> None:
        super().__init__(discount_staleness=False)
