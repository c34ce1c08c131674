"""Replay of real mini-swe-agent runs: a Gymnasium-style environment and the cross-fitted evaluation.

Counterfactual rule: stopping before call k < n yields no submission — a failure — and the
real cost of the first k calls; continuing to the end yields the real outcome and cost. This makes
stopping rules and cost caps exactly comparable on the same runs.

* :class:`ReplayEnv` — ``reset(seed=, options={"index": t})`` / ``step(action)`` with action 1 =
  make the next call, 0 = stop; reward −cost per call and V·resolved at the end (no harm is observed
  in this data, so ρ·harm = 0). Used by the per-step controller (``tokenomy.autonomy.controller``).
* :func:`crossfit_stopping` — K-fold cross-fitting over instances: every policy is fitted on K−1 folds
  (models, best caps) and judged on the held-out fold, so every instance is held out exactly once;
  ``folds=1`` with ``train_frac`` gives a single train/held-out split instead. Welfare per task
  V·success − cost with a normal-approximation 95% confidence interval, and the paired difference
  against a reference policy.
* :func:`run_controller` — drive :class:`ReplayEnv` step by step with the per-step
  :class:`~tokenomy.autonomy.controller.MarginalController` (state from a fitted prefix model); it
  makes the same stops as the vectorised ``tokenomy`` policy (tested).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tokenomy.autonomy.controller import MarginalController, SpendMeter, StepState
from tokenomy.autonomy.features import TrajectoryTable
from tokenomy.autonomy.stopping import StoppingPolicy, stop_outcomes
from tokenomy.autonomy.success_model import PrefixModel
from tokenomy.autonomy.voi import VerifyValue
from tokenomy.core._checks import check_prob
from tokenomy.core.errors import ValidationError

__all__ = ["PolicyResult", "ReplayEnv", "crossfit_stopping", "run_controller", "split_folds"]


class ReplayEnv:
    """One recorded trajectory at a time, stepped call by call (Gymnasium-style API, no dependency).

    Args:
        table: the trajectories to replay.
        v_usd: value of a resolved task (USD), paid at the end of a completed resolved run.
    """

    def __init__(self, table: TrajectoryTable, v_usd: float) -> None:
        self.table = table
        self.v_usd = v_usd
        self._rng = np.random.default_rng()
        self._t = 0
        self._k = 0
        self._done = True

    def _obs(self) -> dict[str, Any]:
        row = int(self.table.offsets[self._t]) + self._k
        return {
            "instance_id": self.table.instance_ids[self._t],
            "step": self._k,
            "row": row,
            "features": self.table.x[row],
            "spent_usd": float(self.table.spent_usd[row]),
        }

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Start a trajectory: ``options["index"]`` or one drawn with ``seed``.

        Returns:
            (observation before call 0, info).
        """
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        n = len(self.table.n_calls)
        index = (options or {}).get("index")
        self._t = int(self._rng.integers(n)) if index is None else int(index)
        if n == 0:
            raise IndexError("ReplayEnv holds no trajectories")
        if not 0 <= self._t < n:
            raise IndexError(f"trajectory index {self._t} out of range 0..{n - 1}")
        self._k = 0
        self._done = False
        return self._obs(), {"n_calls": int(self.table.n_calls[self._t])}

    def step(self, action: int) -> tuple[dict[str, Any] | None, float, bool, bool, dict[str, Any]]:
        """Make the next call (1) or stop (0).

        Returns:
            (observation or None when done, reward USD, terminated, truncated, info with the call's
            billed ``cost_usd`` — known only now, after the call — and ``success`` at the end).
        """
        if self._done:
            raise RuntimeError("step() after the episode ended; call reset()")
        if action == 0:
            self._done = True
            return None, 0.0, True, False, {"success": False, "calls": self._k}
        row = int(self.table.offsets[self._t]) + self._k
        billed = float(self.table.cost_usd[row])
        self._k += 1
        if self._k == int(self.table.n_calls[self._t]):
            self._done = True
            success = bool(self.table.resolved[self._t])
            info = {"success": success, "calls": self._k, "cost_usd": billed}
            return None, self.v_usd * success - billed, True, False, info
        return self._obs(), -billed, False, False, {"cost_usd": billed}


@dataclass(frozen=True, slots=True)
class PolicyResult:
    """One policy at one V on the held-out instances.

    Attributes:
        policy: registry name.
        v_usd: value of a resolved task.
        welfare_per_task: mean of V·success − cost, USD.
        welfare_ci95: (low, high) normal-approximation 95% interval of that mean.
        success_rate: share of held-out tasks resolved under the policy.
        cost_per_task_usd: mean USD billed per task.
        mean_calls: mean billed calls per task.
        diff_vs_reference: welfare minus the reference policy's, paired per task.
        diff_ci95: 95% interval of that paired difference.
        n_tasks: held-out tasks.
        label: "" or a caveat (e.g. "not achievable").
    """

    policy: str
    v_usd: float
    welfare_per_task: float
    welfare_ci95: tuple[float, float]
    success_rate: float
    cost_per_task_usd: float
    mean_calls: float
    diff_vs_reference: float
    diff_ci95: tuple[float, float]
    n_tasks: int
    label: str = ""


def split_folds(n: int, folds: int, seed: int, train_frac: float = 0.5) -> NDArray[np.int64]:
    """Fold id per instance (seeded permutation). ``folds == 1``: 0 = held-out, −1 = train.

    Raises:
        ValidationError: ``n`` is not an integer ≥ 0, ``folds`` not an integer in [1, n] (a fold
            would be empty), ``seed`` not an integer ≥ 0, or ``train_frac`` not a number in (0, 1).
    """
    for name, value, low in (("n", n, 0), ("folds", folds, 1), ("seed", seed, 0)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ValidationError(f"split_folds {name} must be an integer ≥ {low}, got {value!r:.80}")
    if n > 0 and folds > n:
        raise ValidationError(
            f"split_folds folds = {folds} is more than the n = {n} instances: a fold would be empty"
        )
    frac = check_prob("train_frac", train_frac, where="split_folds")
    if not 0.0 < frac < 1.0:
        raise ValidationError(f"train_frac in split_folds must be in (0, 1), got {frac!r}")
    perm = np.random.default_rng(seed).permutation(n)
    fold = np.empty(n, dtype=np.int64)
    if folds == 1:
        n_train = round(train_frac * n)
        fold[perm[:n_train]] = -1
        fold[perm[n_train:]] = 0
    else:
        fold[perm] = np.arange(n) % folds
    return fold


def _ci(values: NDArray[np.float64]) -> tuple[float, float]:
    m = float(values.mean())
    half = 1.96 * float(values.std(ddof=1)) / math.sqrt(len(values)) if len(values) > 1 else float("nan")
    return (m - half, m + half)


def crossfit_stopping(
    table: TrajectoryTable,
    policies: Sequence[StoppingPolicy],
    v_values: Sequence[float],
    *,
    folds: int = 5,
    seed: int = 0,
    train_frac: float = 0.5,
    reference: str = "best_cost_cap_train",
    progress: Callable[[int, int], None] | None = None,
) -> list[PolicyResult]:
    """Fit every policy on the train folds and judge it on the held-out fold, for every V.

    Args:
        table: all trajectories.
        policies: policy instances (refitted per fold and V; names must be unique).
        v_values: values of a resolved task (USD).
        folds: K of K-fold cross-fitting (1 = a single split with ``train_frac`` for training).
        seed: seeds the split.
        train_frac: train share when ``folds == 1``.
        reference: policy the paired differences are taken against (must be among ``policies``).
        progress: called with (done, total) after each fold × V.

    Returns:
        One :class:`PolicyResult` per (V, policy), V-major, in the given policy order.
    """
    pols = list(policies)
    fold = split_folds(len(table.n_calls), folds, seed, train_frac)
    held_folds = [0] if folds == 1 else list(range(folds))
    held_mask = fold >= 0
    n_held = int(held_mask.sum())
    succ = {(v, p.name): np.zeros(len(fold), dtype=bool) for v in v_values for p in pols}
    cost = {(v, p.name): np.zeros(len(fold)) for v in v_values for p in pols}
    calls = {(v, p.name): np.zeros(len(fold)) for v in v_values for p in pols}
    total = len(held_folds) * len(v_values)
    done = 0
    for f in held_folds:
        test_idx = np.flatnonzero(fold == f)
        train = table.subset(fold != f if folds > 1 else fold == -1)
        test = table.subset(fold == f)
        for v in v_values:
            for p in pols:
                keep = p.fit(train, v).decide(test, v)
                s, c, k = stop_outcomes(test, keep)
                succ[v, p.name][test_idx], cost[v, p.name][test_idx], calls[v, p.name][test_idx] = s, c, k
            done += 1
            if progress is not None:
                progress(done, total)
    names = [p.name for p in pols]
    if reference not in names:
        raise ValueError(f"reference policy {reference!r} is not among {names}")
    out: list[PolicyResult] = []
    for v in v_values:
        ref = v * succ[v, reference][held_mask] - cost[v, reference][held_mask]
        for p in pols:
            w = v * succ[v, p.name][held_mask] - cost[v, p.name][held_mask]
            out.append(
                PolicyResult(
                    policy=p.name,
                    v_usd=v,
                    welfare_per_task=float(w.mean()),
                    welfare_ci95=_ci(w),
                    success_rate=float(succ[v, p.name][held_mask].mean()),
                    cost_per_task_usd=float(cost[v, p.name][held_mask].mean()),
                    mean_calls=float(calls[v, p.name][held_mask].mean()),
                    diff_vs_reference=float((w - ref).mean()),
                    diff_ci95=_ci(w - ref),
                    n_tasks=n_held,
                    label=p.label,
                )
            )
    return out


def run_controller(
    env: ReplayEnv,
    controller: MarginalController,
    model: PrefixModel,
    index: int,
    *,
    cap_usd: float = math.inf,
    z_se: float = 0.0,
    verify_value: VerifyValue | None = None,
    z_voi: float = 1.0,
) -> dict[str, Any]:
    """Replay trajectory ``index`` with the per-step controller deciding before every billed call.

    The state at each call holds only what is known before it: p̂ and Ĉ from ``model`` on the prefix
    features, the next call's cost *predicted* from its context (``model.next_call_usd``; its billed
    cost arrives in the step's info, after the call, and only the meter sees it), the spend metered so
    far (every billed call counts). The pending act is the model call
    itself (class ``compute``: its command is gated separately, after it is known). Any option but
    ``stop`` makes the call (in this data a plan, verify or act is one more call of the same run).
    With ``z_se > 0`` the state carries the confidence-bounded p̂ of the ``tokenomy`` rule (the lower
    bound before call 0, the upper bound after; :class:`~tokenomy.autonomy.stopping.MarginalStop`),
    and with ``cap_usd`` = its budget (V) the controller's spend cap makes the rule's budget stops.
    With ``verify_value`` the state carries VoI_verify (its lower end at ``z_voi``; priced by the
    controller at the step's real V) and a verify step's cost ĉ_next: the stops of
    :class:`~tokenomy.autonomy.voi.VerifyStop`.

    Returns:
        {"success", "cost_usd", "calls", "reward_usd", "actions", "warned", "salvaged"}.
    """
    first, _ = env.reset(options={"index": index})
    obs: dict[str, Any] | None = first
    meter = SpendMeter(cap_usd=cap_usd)
    actions: list[str] = []
    reward = 0.0
    warned = salvaged = False
    info: dict[str, Any] = {"success": False, "calls": 0}
    while obs is not None:
        x = obs["features"][None, :]
        lo, hi = model.success_bounds(x, z_se)
        next_usd = float(model.next_call_usd(x)[0])
        voi = 0.0 if verify_value is None else float(verify_value.voi(x, z_voi)[0])
        state = StepState(
            v_usd=env.v_usd,
            p_success=float(lo[0] if obs["step"] == 0 else hi[0]),
            remaining_usd=float(model.remaining_usd(x)[0]),
            next_call_usd=next_usd,
            voi_verify=voi,
            verify_usd=next_usd,
            spent_usd=meter.spent_usd,
            act_class="compute",
            cap_usd=cap_usd,
        )
        action = controller.decide(state)
        actions.append(action.kind)
        warned |= action.warn
        salvaged |= action.salvage
        if action.kind == "stop":
            _, r, _, _, info = env.step(0)
            reward += r
            break
        obs, r, _, _, info = env.step(1)
        meter.bill(float(info["cost_usd"]))
        reward += r
    return {
        "success": bool(info.get("success", False)),
        "cost_usd": meter.spent_usd,
        "calls": meter.n_calls,
        "reward_usd": reward,
        "actions": actions,
        "warned": warned,
        "salvaged": salvaged,
    }
