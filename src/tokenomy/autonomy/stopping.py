"""Stopping policies for replayed agent runs: the Eq. 1 marginal rule and the cap baselines.

One policy = one small class with one verb, ``decide(table, v_usd) -> bool[N]``: for every decision
point (row = "before billed call k") whether to make the call (True) or stop there (False). The run
stops at its first False row. ``fit(train, v_usd)`` learns what the policy needs from the train split
(a model, or the best cap on the train split) and stores it in attributes ending in ``_``.

* ``tokenomy`` (:class:`MarginalStop`): continue iff the Eq. 1 surplus of continuing,
  V·p̂(prefix) − Ĉ_remaining(prefix), is > 0 (stopping is the null option, surplus 0; sunk cost is
  ignored), switching state (start, stop) only when the surplus clears one standard error of p̂,
  and never spending above V on a task. p̂ and Ĉ are the GLMs of
  :mod:`tokenomy.autonomy.success_model`.
* ``tokenomy_plain``: :class:`MarginalStop` without margin and budget (the ablation in ``agent eval``).
* ``tokenomy_option`` (:class:`OptionStop`): the same rule with the continuation value re-estimated
  under the rule's own later stops (Longstaff–Schwartz regression), i.e. with the option to stop later.
* baselines: no cap, fixed cost caps and step caps (SWE-agent's $3 and 250 steps among them), the best
  cost / step cap chosen on the train split, never start, and an ex-post oracle (not achievable).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tokenomy.autonomy.features import TrajectoryTable
from tokenomy.autonomy.success_model import PrefixModel, _sigmoid, fit_glm
from tokenomy.core.errors import ValidationError
from tokenomy.core.rule import realised_utility, surplus_matrix

__all__ = [
    "SMALL_FEATURES",
    "STOPPING_POLICIES",
    "BestCostCap",
    "BestStepCap",
    "CostCap",
    "MarginalStop",
    "NeverStop",
    "OptionStop",
    "Oracle",
    "StepCap",
    "StoppingPolicy",
    "default_policies",
    "make_policy",
    "stop_outcomes",
]

SMALL_FEATURES = (
    "bias",
    "steps",
    "log_steps",
    "spent_usd",
    "context_ktok",
    "context_growth_ktok",
    "fail_rc_last5",
    "n_format_errors",
    "verified_after_edit",
)
"""Features of the marginal rule's models (chosen on the train split; see docs/autonomy.md)."""

_COST_CAP_GRID = tuple(round(0.05 * i, 2) for i in range(61))  # $0 … $3
_STEP_CAP_GRID = (*range(0, 101, 5), 120, 150, 200, 250)


def stop_outcomes(
    table: TrajectoryTable, keep_going: NDArray[np.bool_]
) -> tuple[NDArray[np.bool_], NDArray[np.float64], NDArray[np.int64]]:
    """Replay a stopping decision for every trajectory at once.

    Args:
        table: the trajectories.
        keep_going: bool[N], continue at each row; the run stops at its first False row.

    Returns:
        (success bool[T], cost_usd float[T], calls_made int[T]): a run that stops before its last call
        has no submission (failure) and pays its first k calls; a run continued to the end gets its
        real outcome and real cost.
    """
    n_traj = len(table.n_calls)
    big = np.iinfo(np.int64).max
    first = np.full(n_traj, big, dtype=np.int64)
    stops = np.flatnonzero(~keep_going)
    np.minimum.at(first, table.traj[stops], table.step[stops])
    finished = first == big
    calls = np.where(finished, table.n_calls, first)
    spent_at_stop = table.spent_usd[table.offsets[:-1] + np.where(finished, 0, first)]
    cost = np.where(finished, table.total_usd, spent_at_stop)
    return finished & table.resolved, cost, calls


def _surplus(v_usd: float, p: NDArray[np.float64], remaining_usd: NDArray[np.float64]) -> NDArray[np.float64]:
    """Core's Eq. 1 surplus of continuing at each row, V·p̂ − Ĉ_remaining (one use per row)."""
    return surplus_matrix(v_usd, p[:, None], remaining_usd[:, None], validate=False)[:, 0]


def _welfare(table: TrajectoryTable, keep: NDArray[np.bool_], v_usd: float) -> float:
    success, cost, _ = stop_outcomes(table, keep)
    return float(np.mean(realised_utility(v_usd, success, cost)))


@dataclass
class StoppingPolicy:
    """Base: continue everywhere. Subclasses override ``decide`` (and ``fit`` when they learn)."""

    name: str = "no_cap"
    label: str = ""

    def fit(self, train: TrajectoryTable, v_usd: float) -> StoppingPolicy:
        """Learn from the train split at value ``v_usd`` (no-op by default). Returns self."""
        return self

    def decide(self, table: TrajectoryTable, v_usd: float) -> NDArray[np.bool_]:
        """bool[N]: make call k at each row (True) or stop (False)."""
        return np.ones(len(table.step), dtype=bool)


@dataclass
class NeverStop(StoppingPolicy):
    """Run every trajectory to its end (no cap)."""


@dataclass
class CostCap(StoppingPolicy):
    """A harness cost limit: make a call only while the spend so far is below ``cap_usd`` (0 = never start).

    This is the check agent harnesses make before each call (mini-swe-agent's ``cost_limit``): it uses
    only what is billed so far, so the call that crosses the cap is still made and the spend may pass
    the cap by one call. (A cap on spent + *this* call's billed cost would use a figure known only
    after the call: no policy here may.)
    """

    cap_usd: float = 3.0

    def decide(self, table: TrajectoryTable, v_usd: float) -> NDArray[np.bool_]:
        """Continue while spent so far < cap."""
        return np.asarray(table.spent_usd < self.cap_usd - 1e-12, dtype=bool)


@dataclass
class StepCap(StoppingPolicy):
    """Stop after ``max_steps`` billed calls."""

    max_steps: int = 250

    def decide(self, table: TrajectoryTable, v_usd: float) -> NDArray[np.bool_]:
        """Continue while fewer than ``max_steps`` calls were made."""
        return table.step < self.max_steps


@dataclass
class BestCostCap(StoppingPolicy):
    """The fixed cost cap with the highest welfare on the train split at this V (grid $0 … $3, or none)."""

    grid_usd: tuple[float, ...] = _COST_CAP_GRID
    cap_usd_: float = float("inf")

    def fit(self, train: TrajectoryTable, v_usd: float) -> BestCostCap:
        """Pick the cap maximising train welfare (ties → the larger cap)."""
        caps = (*self.grid_usd, float("inf"))
        scores = [_welfare(train, CostCap(cap_usd=c).decide(train, v_usd), v_usd) for c in caps]
        best = max(scores)
        self.cap_usd_ = max(c for c, s in zip(caps, scores, strict=True) if s >= best - 1e-12)
        return self

    def decide(self, table: TrajectoryTable, v_usd: float) -> NDArray[np.bool_]:
        """Apply the chosen cap."""
        return CostCap(cap_usd=self.cap_usd_).decide(table, v_usd)


@dataclass
class BestStepCap(StoppingPolicy):
    """The fixed step cap with the highest welfare on the train split at this V."""

    grid: tuple[int, ...] = _STEP_CAP_GRID
    max_steps_: int = 10**9

    def fit(self, train: TrajectoryTable, v_usd: float) -> BestStepCap:
        """Pick the step cap maximising train welfare (ties → the larger cap)."""
        caps = (*self.grid, 10**9)
        scores = [_welfare(train, train.step < c, v_usd) for c in caps]
        best = max(scores)
        self.max_steps_ = max(c for c, s in zip(caps, scores, strict=True) if s >= best - 1e-12)
        return self

    def decide(self, table: TrajectoryTable, v_usd: float) -> NDArray[np.bool_]:
        """Apply the chosen step cap."""
        return table.step < self.max_steps_


@dataclass
class Oracle(StoppingPolicy):
    """Ex post (not achievable): run a task only if it resolves and V exceeds its real cost."""

    def decide(self, table: TrajectoryTable, v_usd: float) -> NDArray[np.bool_]:
        """Continue everywhere on worthwhile resolved runs; stop at once elsewhere."""
        worth = table.resolved & (realised_utility(v_usd, 1.0, table.total_usd) > 0.0)
        return np.asarray(worth[table.traj], dtype=bool)


def _fingerprint(table: TrajectoryTable) -> tuple[int, int]:
    """Identity of a table's contents (instances and rows), safe to cache on (unlike ``id``)."""
    return (hash(table.instance_ids), len(table.step))


@dataclass
class MarginalStop(StoppingPolicy):
    """Eq. 1 with a confidence margin and a budget: continue iff V·p̂ − Ĉ > 0, switching only when sure.

    * Confidence margin (``z_se``, default 1 standard error): the run keeps its current state unless
      the estimate says otherwise with confidence. Before call 0 (starting) the rule starts only if
      V·p̂_low − Ĉ > 0; once running it stops only if V·p̂_high − Ĉ ≤ 0, where p̂_low/high are p̂ at
      η̂ ∓ z·se(η̂) (:meth:`PrefixModel.success_bounds`). Where the estimator cannot tell, the status
      quo stands: it does not start a task it cannot show to pay, nor stop one it cannot show to lose.
      ``z_se = 0`` is the plain rule (surplus > 0 everywhere).
    * Budget (``budget_share``, default 1): never make a call whose cost, as predicted before it
      (ĉ_next of :class:`PrefixModel`), would take spend above ``budget_share``·V — an agent does not
      spend more on a task than the task is worth (the same stop as the controller's spend cap set at
      V; ``inf`` turns it off). The billed cost of a call is known only after it: it is never used.

    With several values in ``ridge_grid`` or ``z_grid`` the ridge penalty and the margin are chosen
    on the train split only, by the rule's welfare at this V under ``inner_folds``-fold
    cross-validation over train instances (ties → the larger value). Defaults are one value each: on
    the real run inner selection did not raise held-out welfare (docs/agent.md), so it is off.
    """

    name: str = "tokenomy"
    features: tuple[str, ...] = SMALL_FEATURES
    ridge_grid: tuple[float, ...] = (1e-2,)
    z_grid: tuple[float, ...] = (1.0,)
    budget_share: float = 1.0
    inner_folds: int = 4
    seed: int = 0
    ridge_: float = float("nan")
    z_se_: float = float("nan")
    model_: PrefixModel | None = field(default=None, repr=False)
    _cache: dict[tuple[tuple[int, int], float], PrefixModel] = field(default_factory=dict, repr=False)

    def _model(self, train: TrajectoryTable, ridge: float) -> PrefixModel:
        key = (_fingerprint(train), ridge)
        got = self._cache.get(key)
        if got is None:
            got = PrefixModel(ridge=ridge, features=self.features).fit(train)
            self._cache[key] = got
        return got

    def budget_usd(self, v_usd: float) -> float:
        """The spend budget at value ``v_usd``: ``budget_share``·V (inf when off)."""
        return self.budget_share * v_usd

    def _keep(
        self, model: PrefixModel, table: TrajectoryTable, v_usd: float, z_se: float
    ) -> NDArray[np.bool_]:
        lo, hi = model.success_bounds(table.x, z_se)
        p = np.where(table.step == 0, lo, hi)
        surplus = _surplus(v_usd, p, model.remaining_usd(table.x))
        return np.asarray((surplus > 0.0) & self.within_budget(model, table, v_usd), dtype=bool)

    def within_budget(self, model: PrefixModel, table: TrajectoryTable, v_usd: float) -> NDArray[np.bool_]:
        """bool[N]: spent so far + the next call's cost *predicted before it* (ĉ_next) ≤ the budget."""
        if math.isinf(self.budget_usd(v_usd)):
            return np.ones(len(table.step), dtype=bool)
        nxt = model.next_call_usd(table.x)
        return np.asarray(table.spent_usd + nxt <= self.budget_usd(v_usd) + 1e-12, dtype=bool)

    def fit(self, train: TrajectoryTable, v_usd: float) -> MarginalStop:
        """Choose ridge and margin on train by inner cross-validated welfare, then fit p̂, Ĉ on all of train."""
        ridge, z_se = self.ridge_grid[0], self.z_grid[0]
        if any(z < 0 for z in self.z_grid):
            raise ValidationError(f"z_grid must hold values >= 0, got {self.z_grid!r}")
        if len(self.ridge_grid) > 1 or len(self.z_grid) > 1:
            n = len(train.n_calls)
            fold = np.random.default_rng(self.seed).permutation(n) % self.inner_folds
            scores: dict[tuple[float, float], float] = {}
            for f in range(self.inner_folds):
                inner, held = train.subset(fold != f), train.subset(fold == f)
                for r in self.ridge_grid:
                    model = self._model(inner, r)
                    for z in self.z_grid:
                        w = _welfare(held, self._keep(model, held, v_usd, z), v_usd) * len(held.n_calls)
                        scores[r, z] = scores.get((r, z), 0.0) + w / n
            best = max(scores.values())
            ridge, z_se = max(k for k, sc in scores.items() if sc >= best - 1e-12)
        self.ridge_, self.z_se_ = ridge, z_se
        self.model_ = self._model(train, ridge)
        return self

    def surplus_usd(self, table: TrajectoryTable, v_usd: float) -> NDArray[np.float64]:
        """float[N]: the point-estimate Eq. 1 surplus of continuing, V·p̂ − Ĉ, at each row (stop = 0)."""
        if self.model_ is None:
            raise RuntimeError("MarginalStop is not fitted; call fit(train, v_usd) first")
        return _surplus(v_usd, self.model_.success(table.x), self.model_.remaining_usd(table.x))

    def decide(self, table: TrajectoryTable, v_usd: float) -> NDArray[np.bool_]:
        """Continue where the margin-adjusted surplus is > 0 and the next call stays within budget."""
        if self.model_ is None:
            raise RuntimeError("MarginalStop is not fitted; call fit(train, v_usd) first")
        return self._keep(self.model_, table, v_usd, self.z_se_)


def _future_under(table: TrajectoryTable, keep: NDArray[np.bool_]) -> tuple[NDArray[np.float64], ...]:
    """(success, cost) realised from each row when call k is made and ``keep`` is followed after it."""
    n = len(table.step)
    big = np.iinfo(np.int64).max
    idx = np.where(keep, big, np.arange(n, dtype=np.int64))
    next_stop = np.minimum.accumulate(idx[::-1])[::-1]
    after = np.append(next_stop[1:], big)
    end = table.offsets[1:][table.traj]
    stop_at = np.minimum(after, end)
    cum = np.concatenate([[0.0], np.cumsum(table.cost_usd)])
    cost = cum[stop_at] - cum[np.arange(n)]
    success = np.where(after >= end, table.resolved[table.traj], False).astype(np.float64)
    return success, cost


@dataclass
class OptionStop(MarginalStop):
    """Eq. 1 with the option to stop later: p̂, Ĉ regressed on outcomes under the rule's own stops."""

    name: str = "tokenomy_option"
    ridge_grid: tuple[float, ...] = (1e-2,)
    z_grid: tuple[float, ...] = (0.0,)
    budget_share: float = math.inf
    n_iter: int = 3
    beta_: tuple[NDArray[np.float64], NDArray[np.float64]] | None = field(default=None, repr=False)

    def fit(self, train: TrajectoryTable, v_usd: float) -> OptionStop:
        """Longstaff–Schwartz: refit both GLMs on realised futures under the current rule, ``n_iter`` times."""
        super().fit(train, v_usd)
        assert self.model_ is not None
        z = self.model_._z(train.x)
        w = 1.0 / train.n_calls[train.traj].astype(np.float64)
        keep = np.ones(len(train.step), dtype=bool)
        bs, bc = self.model_.beta_success_, self.model_.beta_cost_
        for _ in range(self.n_iter):
            success, cost = _future_under(train, keep)
            bs = fit_glm(z, success, w, link="logit", ridge=self.ridge_)
            bc = fit_glm(z, cost, w, link="log", ridge=self.ridge_)
            keep = _surplus(v_usd, _sigmoid(z @ bs), np.exp(np.clip(z @ bc, -30, 30))) > 0
        self.beta_ = (bs, bc)
        return self

    def surplus_usd(self, table: TrajectoryTable, v_usd: float) -> NDArray[np.float64]:
        """float[N]: V·p̂_π − Ĉ_π under the rule's own later stops."""
        if self.model_ is None or self.beta_ is None:
            raise RuntimeError("OptionStop is not fitted; call fit(train, v_usd) first")
        z = self.model_._z(table.x)
        bs, bc = self.beta_
        return _surplus(v_usd, _sigmoid(z @ bs), np.exp(np.clip(z @ bc, -30, 30)))

    def decide(self, table: TrajectoryTable, v_usd: float) -> NDArray[np.bool_]:
        """Continue where the option-adjusted surplus is > 0 (no margin, no budget)."""
        return self.surplus_usd(table, v_usd) > 0.0


STOPPING_POLICIES: dict[str, type[StoppingPolicy]] = {
    "tokenomy": MarginalStop,
    "tokenomy_option": OptionStop,
    "no_cap": NeverStop,
    "cost_cap": CostCap,
    "step_cap": StepCap,
    "best_cost_cap_train": BestCostCap,
    "best_step_cap_train": BestStepCap,
    "oracle_ex_post": Oracle,
}
"""Registry of stopping policy classes. # name -> class"""


def make_policy(kind: str, **params: Any) -> StoppingPolicy:
    """A fresh policy of registry class ``kind`` (``name`` defaults to ``kind``).

    Raises:
        ValidationError: ``kind`` is not registered (the message lists the valid names).
    """
    cls = STOPPING_POLICIES.get(kind)
    if cls is None:
        raise ValidationError(
            f"unknown stopping policy {kind!r}; expected one of {sorted(STOPPING_POLICIES)}"
        )
    params.setdefault("name", kind)
    return cls(**params)


def default_policies() -> list[StoppingPolicy]:
    """The 20 policies of ``tokenomy agent eval`` (fresh instances), main policy first."""
    out: list[StoppingPolicy] = [
        MarginalStop(),
        MarginalStop(
            name="tokenomy_plain",
            z_grid=(0.0,),
            budget_share=math.inf,
            label="ablation: no margin, no budget",
        ),
        OptionStop(),
        NeverStop(name="no_cap"),
        BestCostCap(name="best_cost_cap_train"),
        BestStepCap(name="best_step_cap_train"),
        CostCap(name="swe_agent_cost_cap_3usd", cap_usd=3.0),
        StepCap(name="swe_agent_step_cap_250", max_steps=250),
    ]
    out += [CostCap(name=f"cost_cap_{c:g}usd", cap_usd=c) for c in (0.25, 0.5, 1.0, 1.5, 2.0)]
    out += [StepCap(name=f"step_cap_{s}", max_steps=s) for s in (25, 50, 75, 100, 150)]
    out += [CostCap(name="never_start", cap_usd=0.0), Oracle(name="oracle_ex_post", label="not achievable")]
    return out
