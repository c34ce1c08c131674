"""Everything the configurations learn, learned on TRAIN only: estimators, caps, bars and the wait cap.

* Routing: the routing layer's ``Router`` (q̂ ``ESTIMATOR``, ĉ from tokens) is fitted on the
  RouterBench ``train`` split; the cost-min bar τ is tuned on its out-of-fold train estimates at the
  median V of the (synthetic) chat value distribution; ``test`` prompts get the fitted estimates.
  The local router's value-blind refusal bar (``tune_refusal``: decline when the cost-min model's
  ĉ / q̂ is above it) is tuned on the same train estimates at the same median V. A quality floor
  (decline when no model reaches τ) is not used: τ is the bar of a cost rule, not a floor, and on
  RouterBench it would decline ~40% of requests whose chosen model is right ~80% of the time.
* Agent: mini-swe-agent instances are split in two halves (``split_folds``, seeded); the best step
  cap and the marginal rule's p̂ / Ĉ are fitted on the train half at the median agent V.
* Serving (local only): the scheduler (FCFS or priority) and the queue-wait cap are chosen by running
  the whole ``local`` configuration on a TRAIN workload (a later slice of the trace paired with
  train prompts and train trajectories) at the same load, maximising its welfare.
The shared configuration learns nothing beyond the estimators: its prices come from the bus.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from tokenomy.autonomy.features import build_table
from tokenomy.autonomy.replay import split_folds
from tokenomy.autonomy.stopping import BestStepCap, MarginalStop
from tokenomy.autonomy.trajectory import AgentTrajectory
from tokenomy.core.bus import PriceBus
from tokenomy.core.rule import realised_utility
from tokenomy.economy.configs import LOCAL, Config
from tokenomy.economy.evaluation import utility
from tokenomy.economy.policies import VERIFY_CLASSES, AgentSide, RouterSide, WaitCapFCFS, WaitCapPriority
from tokenomy.economy.requests import ComposedWorkload, ValueSpec
from tokenomy.economy.system import Outcomes, run_system
from tokenomy.routing.dataset import RoutingDataset
from tokenomy.routing.policies import CostMinimiser
from tokenomy.routing.router import Router
from tokenomy.serving.engine import Engine
from tokenomy.serving.schedulers import CongestionPriced
from tokenomy.serving.schedulers.base import Scheduler

__all__ = [
    "ESTIMATOR",
    "SERVING_GRID",
    "WAIT_GRID_S",
    "Fitted",
    "ServingChoice",
    "Split",
    "fit_layers",
    "make_scheduler",
    "pick_serving",
    "run_config",
    "tune_refusal",
    "tune_serving",
]

ESTIMATOR = "neighbours-text"
"""q̂ of the router: the nearest-neighbour blend without the answer-option twin weights (fits in ~2 s
on the RouterBench train split; the routing default ``neighbours`` takes ~15 s, too slow for a CLI run
and its tests). Fixed in advance, never compared on test."""

WAIT_GRID_S = (5.0, 15.0, 45.0, float("inf"))
"""Queue-wait caps the local serving layer chooses among on train (inf = no admission control)."""

SERVING_GRID = tuple((sched, wait) for sched in ("fcfs", "priority") for wait in WAIT_GRID_S)
"""(scheduler, wait cap) points the local serving layer is tuned over, in tie-break order."""


@dataclass(frozen=True, slots=True)
class Split:
    """The fitted rules for one split (train or test)."""

    router: RouterSide
    agent: AgentSide


@dataclass(frozen=True, slots=True)
class Fitted:
    """Train-fitted rules applied to the train and the test split."""

    train: Split
    test: Split
    n_train_trajectories: int
    n_test_trajectories: int


@dataclass(frozen=True, slots=True)
class ServingChoice:
    """The local serving layer's train-tuned scheduler and wait cap (``welfare_usd`` on train)."""

    scheduler: str
    max_wait_s: float
    welfare_usd: float


def _agent_side(
    trajs: Sequence[AgentTrajectory],
    step_cap: BestStepCap,
    marginal: MarginalStop,
    usd_per_call: float,
    out_tokens_per_call: float,
) -> AgentSide:
    table = build_table(trajs)
    prompt = np.array([s.num_prompt_tokens for t in trajs for s in t.steps], np.int64)
    out = np.array([max(1, s.num_completion_tokens) for t in trajs for s in t.steps], np.int64)
    verify = np.array([s.action_class in VERIFY_CLASSES for t in trajs for s in t.steps], dtype=bool)
    return AgentSide(
        table, np.maximum(prompt, 1), out, step_cap, marginal, usd_per_call, out_tokens_per_call, verify
    )


def tune_refusal(router: RouterSide, v_usd: float) -> float:
    """The local refusal bar with the best mean train welfare at one V (``v_usd``, the same for all).

    The cost-min router declines prompt p when ĉ/q̂ of its cost-min model exceeds the bar. Candidates
    are every distinct ĉ/q̂ of ``router``'s prompts (decline the k < P dearest per unit quality) and inf
    (decline nothing); ties go to the bar that declines fewer. Scored by the core ``realised_utility``
    (V·Q − C of the cost-min model, the real outcome on the train prompt).

    Returns:
        The bar, USD per unit of expected quality (inf = never decline).
    """
    rows = np.arange(len(router.local_choice))
    m = router.local_choice
    welfare: NDArray[np.float64] = realised_utility(v_usd, router.quality[rows, m], router.cost_usd[rows, m])
    ratio = router.usd_per_quality()
    order = np.argsort(-ratio, kind="stable")
    dear, lost = ratio[order], np.cumsum(welfare[order])
    # declining the k dearest is a bar at dear[k] only where dear[k] < dear[k - 1] (no tie split)
    k = np.arange(1, len(dear))
    valid = k[dear[k] < dear[k - 1]]
    gain = np.concatenate([[0.0], -lost[valid - 1]])
    best = int(np.argmax(gain))
    return float("inf") if best == 0 or gain[best] <= 1e-12 else float(dear[valid[best - 1]])


def fit_layers(
    routing: RoutingDataset,
    trajectories: Sequence[AgentTrajectory],
    *,
    spec: ValueSpec,
    engine: Engine,
    seed: int = 0,
) -> Fitted:
    """Fit router, cost-min bar, step cap and marginal stopping on train (module docstring).

    Raises:
        ValidationError: the routing data has no ``train`` or ``test`` split.
    """
    train, test = routing.split("train"), routing.split("test")
    router = Router(estimator=ESTIMATOR, baseline_estimator=None, folds=2, seed=seed).fit(train)
    tp = router.train_problem_
    tau = CostMinimiser(reference_v_usd=spec.chat_v_median_usd).fit(tp).tau_
    est = router.estimate(router.features(test.prompts, test.categories.tolist()))
    model = engine.step_model
    r_train = RouterSide.build(
        train.models, tp.dq, tp.dc_usd, train.quality, train.cost_usd, tau=tau, step_model=model
    )
    r_test = RouterSide.build(
        test.models, est.dq, est.dc_usd, test.quality, test.cost_usd, tau=tau, step_model=model
    )
    bar = tune_refusal(r_train, spec.chat_v_median_usd)
    r_train = replace(r_train, max_usd_per_quality=bar)
    r_test = replace(r_test, max_usd_per_quality=bar)
    fold = split_folds(len(trajectories), 1, seed)
    tr = [t for t, f in zip(trajectories, fold, strict=True) if f < 0]
    te = [t for t, f in zip(trajectories, fold, strict=True) if f >= 0]
    table = build_table(tr)
    v_ref = spec.agent_v_median_usd
    cap = BestStepCap().fit(table, v_ref)
    marginal = MarginalStop().fit(table, v_ref)
    usd_per_call = float(table.cost_usd.mean())
    out_per_call = float(np.mean([max(1, s.num_completion_tokens) for t in tr for s in t.steps]))
    return Fitted(
        Split(r_train, _agent_side(tr, cap, marginal, usd_per_call, out_per_call)),
        Split(r_test, _agent_side(te, cap, marginal, usd_per_call, out_per_call)),
        len(tr),
        len(te),
    )


def make_scheduler(config: Config, choice: ServingChoice | None) -> Scheduler:
    """A fresh scheduler for the config's serving layer (the local one needs its train-tuned ``choice``)."""
    if config.serving == LOCAL:
        assert choice is not None, "a local serving layer needs its train-tuned choice"
        cls = WaitCapPriority if choice.scheduler == "priority" else WaitCapFCFS
        return cls(max_wait_s=choice.max_wait_s)
    return CongestionPriced()


def run_config(
    wl: ComposedWorkload,
    config: Config,
    split: Split,
    engine: Engine,
    choice: ServingChoice | None,
    *,
    seed: int = 0,
    window_s: float = 0.5,
    bus: PriceBus | None = None,
) -> Outcomes:
    """Run one configuration on ``wl`` with a fresh session and bus."""
    sched = make_scheduler(config, choice)
    return run_system(
        wl, config, split.router, split.agent, engine, sched, window_s=window_s, seed=seed, bus=bus
    )


def pick_serving(welfare_usd: Sequence[float]) -> ServingChoice:
    """The first ``SERVING_GRID`` point with the highest train welfare (one per point, in grid order)."""
    best: ServingChoice | None = None
    for (sched, wait), w in zip(SERVING_GRID, welfare_usd, strict=True):
        if best is None or w > best.welfare_usd + 1e-12:
            best = ServingChoice(sched, wait, w)
    assert best is not None
    return best


def tune_serving(
    train_wl: ComposedWorkload, split: Split, engine: Engine, *, seed: int = 0, window_s: float = 0.5
) -> ServingChoice:
    """The local serving layer's scheduler and wait cap with the best welfare of ``local`` on train."""
    local = Config("local", LOCAL, LOCAL, LOCAL)
    welfare = []
    for sched, wait in SERVING_GRID:
        choice = ServingChoice(sched, wait, float("nan"))
        out = run_config(train_wl, local, split, engine, choice, seed=seed, window_s=window_s)
        welfare.append(float(utility(out).mean()))
    return pick_serving(welfare)
