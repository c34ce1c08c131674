"""Tokenomy's Eq. 11–12 rule: equal marginal gradient value per token across rollout, verification and
update, with stale rollouts corrected and valued by the sample size the correction leaves.

A group of n rollouts of a task with estimated pass rate p̂, used s policy versions after it was
generated, is worth V·signal(p̂, n)·k_s (allocators.base), where k_s is the share of a fresh group's value
a stale one keeps. It costs n × (answer tokens × the rollout price + verifier tokens × the verification
price) plus the *expected* update spend: the group goes through the backward pass only if it turns out
informative, which happens with probability 1 − p̂ⁿ − (1 − p̂)ⁿ. Sizes grow two at a time where
Δvalue/Δcost is highest — the integer form of equalising marginal value per token (Eq. 2) — while the
increment pays for itself (Eq. 1: V·ΔQ > ΔC) and the step's budget (the uniform policy's full expected
spend) lasts. After verification a group is trained on only while V·p̂_g(1 − p̂_g)·k > its update cost,
decided by core's Eq. 1 rule (``choose_many``).

Staleness treatments (``staleness``):

* ``"importance"`` (the rule, name ``tokenomy``): stale samples are reweighted by truncated importance
  ratios π_t / π_{t−s} (``capital.rl.staleness``), and k is the *measured* effective-sample-size share
  ESS / n: the loop's running mean for planning, each group's own for the train decision.
* ``"decay"`` (ablation ``tokenomy-decay``, the earlier treatment): no correction; k = (1 − δ)^s with δ
  fitted beforehand (``capital.rl.drift``), and the optimiser's step scaled by (1 − δ)^s.
* ``"none"`` (ablation ``tokenomy-nodiscount``): every rollout treated as fresh, k = 1.

The importance settings (level, truncation) are chosen on training seeds' validation tasks by
``experiment.select_importance``; the defaults here are that choice.
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
from tokenomy.capital.rl.staleness import ImportanceCorrection
from tokenomy.core.errors import ValidationError
from tokenomy.core.rule import NULL, choose_many

__all__ = ["STALENESS_TREATMENTS", "TokenomyRule", "TokenomyRuleDecay", "TokenomyRuleNoDiscount"]

STALENESS_TREATMENTS = ("importance", "decay", "none")
DEFAULT_IMPORTANCE = ImportanceCorrection(level="sequence", truncate_at=1.0)
"""The importance setting ``experiment.select_importance`` chose on training seeds 1000–1003 (validation
tasks, lags 2/4/16): sequence-level ratios truncated at 1 (a stale answer the current policy now finds
less likely is down-weighted; none is up-weighted). The candidates scored within noise of each other."""


@register_allocator
class TokenomyRule(Allocator):
    """Equimarginal, fully priced allocation of RL tokens with importance-corrected stale rollouts."""

    name = "tokenomy"

    def __init__(
        self, *, staleness: str = "importance", correction: ImportanceCorrection | None = None
    ) -> None:
        if staleness not in STALENESS_TREATMENTS:
            raise ValidationError(
                f"staleness treatment must be one of {', '.join(STALENESS_TREATMENTS)}, got {staleness!r}"
            )
        self.staleness = staleness
        self.correction = correction or DEFAULT_IMPORTANCE

    def _discount(self, view: StepView) -> float:
        """k: the share of a fresh group's value a group of this step's staleness keeps (planning)."""
        if self.staleness == "decay":
            return view.prices.discount(view.staleness_versions)
        if self.staleness == "importance" and view.staleness_versions > 0:
            return view.ess_share
        return 1.0

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
        """Eq. 1 on each group: train while V·p̂_g(1 − p̂_g)·k exceeds its update cost (k: the group's
        measured ESS share with importance correction, (1 − δ)^s with decay, 1 with none)."""
        cost = view.prices.update_usd_per_token * results.update_tokens.astype(np.float64)
        keep = results.kept if self.staleness == "importance" else np.full(cost.size, self._discount(view))
        chosen, _ = choose_many(
            np.full(cost.size, view.prices.v_usd),
            (results.signal * keep)[:, None],
            cost[:, None],
        )
        return np.asarray(chosen != NULL)

    def step_scale(self, view: StepView) -> float:
        """(1 − δ)^s with decay; 1 otherwise (importance weights already scale stale gradients)."""
        return view.prices.discount(view.staleness_versions) if self.staleness == "decay" else 1.0

    def importance(self, view: StepView) -> ImportanceCorrection | None:
        """The truncated importance correction with the ``importance`` treatment, at lag ≥ 1."""
        return self.correction if self.staleness == "importance" and view.staleness_versions > 0 else None


@register_allocator
class TokenomyRuleDecay(TokenomyRule):
    """The same rule with the earlier staleness treatment, a fixed decay (1 − δ)^s (an ablation)."""

    name = "tokenomy-decay"

    def __init__(self) -> None:
        super().__init__(staleness="decay")


@register_allocator
class TokenomyRuleNoDiscount(TokenomyRule):
    """The same rule treating every rollout as fresh (the staleness ablation)."""

    name = "tokenomy-nodiscount"

    def __init__(self) -> None:
        super().__init__(staleness="none")
