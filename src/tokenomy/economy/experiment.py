"""The central-claim experiment: every configuration at every load on the same requests, scored paired.

``prepare`` composes the TEST workload (the first N trace arrivals paired with RouterBench test prompts
and held-out agent runs) and the TRAIN workload (the next N arrivals, train prompts, train runs) and
fits every layer on train (``training``). ``run_experiment`` then, per load, tunes the local serving
layer on the train workload at that load, runs each configuration on the test workload at that load
(same requests, same seeds), and returns welfare with bootstrap CIs, the paired shared − local
difference, each ablation's paired difference against ``shared`` (what is lost when that layer
stops reading the shared prices) and against ``local`` (what it gains over the local optimisers: with
``shared-no-refuse`` this splits shared − local into declining low-value work, shared −
shared-no-refuse, and choosing models for the work served, shared-no-refuse − local). No setting is
chosen on the test requests.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import Any, TypeVar

import numpy as np

from tokenomy.autonomy.trajectory import AgentTrajectory
from tokenomy.core.errors import ValidationError
from tokenomy.economy.configs import LOCAL, LOCAL_CONFIG, Config
from tokenomy.economy.evaluation import ConfigResult, DiffResult, paired_diff, summarise, utility
from tokenomy.economy.requests import ComposedWorkload, ValueSpec, compose
from tokenomy.economy.sizing import TARGET_UTILISATION, ClusterSizing, offered_utilisation, size_cluster
from tokenomy.economy.system import Outcomes
from tokenomy.economy.training import (
    SERVING_GRID,
    Fitted,
    ServingChoice,
    Split,
    fit_layers,
    pick_serving,
    run_config,
)
from tokenomy.routing.dataset import RoutingDataset
from tokenomy.serving.engine import Engine
from tokenomy.serving.entities import EngineConfig, Workload

__all__ = ["DEFAULT_AGENT_SHARE", "Experiment", "Prepared", "prepare", "run_experiment"]

DEFAULT_AGENT_SHARE = 0.10
"""Share of trace arrivals replayed as agent tasks (each a whole mini-swe-agent run)."""


@dataclass(frozen=True, slots=True)
class Prepared:
    """Test and train workloads and the train-fitted layers."""

    test: ComposedWorkload
    train: ComposedWorkload
    fitted: Fitted
    engine: Engine
    sizing: ClusterSizing | None = None


@dataclass(frozen=True, slots=True)
class Experiment:
    """Everything one experiment measured.

    Attributes:
        results: one row per (config, load).
        diffs: shared − local per load (empty when either was not run).
        ablations: each other config − shared per load.
        serving: per load, the local serving layer's train-tuned choice.
        outcomes: (config name, load) -> the run's outcomes (for the ledger and the report).
        synthetic: every synthetic ingredient, one line each.
        settings: what was learned on train; name -> value.
        models: the routed models (candidate names of the route decisions).
        against_local: each config other than local and shared − local per load (empty without local).
    """

    results: tuple[ConfigResult, ...]
    diffs: tuple[DiffResult, ...]
    ablations: tuple[DiffResult, ...]
    serving: tuple[tuple[float, ServingChoice], ...]
    outcomes: dict[tuple[str, float], Outcomes]
    synthetic: tuple[str, ...]
    settings: dict[str, float | str]
    models: tuple[str, ...] = ()
    against_local: tuple[DiffResult, ...] = ()


def prepare(
    trace: Workload,
    routing: RoutingDataset,
    trajectories: Sequence[AgentTrajectory],
    *,
    n_requests: int,
    seed: int = 0,
    agent_share: float = DEFAULT_AGENT_SHARE,
    spec: ValueSpec | None = None,
    engine: Engine | None = None,
    utilisation: float | None = TARGET_UTILISATION,
) -> Prepared:
    """Compose the test and train workloads and fit the layers on train.

    Args:
        trace: at least ``2·n_requests`` arrivals (the first half is test, the second train).
        routing: RouterBench with ``train`` and ``test`` splits.
        trajectories: mini-swe-agent runs (split in halves here).
        n_requests: test requests N.
        seed: seed of every pairing and synthetic draw.
        agent_share: share of arrivals that are agent tasks.
        spec: the synthetic value model.
        engine: the base cluster (default: BLIS llama-3.1-8b H100, price sample every second).
        utilisation: size the cluster on train to this offered utilisation at load 1 (``sizing``);
            ``None`` serves on ``engine`` as it is.

    Raises:
        ValidationError: N < 10, the trace has fewer than 2·N arrivals, or a bad ``utilisation``.
    """
    if n_requests < 10 or len(trace) < 2 * n_requests:
        raise ValidationError(
            f"--requests must be ≥ 10 and the trace needs 2·N arrivals (N test, N train); "
            f"got N={n_requests} with {len(trace)} arrivals"
        )
    spec = spec or ValueSpec()
    engine = engine or Engine(config=EngineConfig(price_sample_s=1.0))
    fitted = fit_layers(routing, trajectories, spec=spec, engine=engine, seed=seed)
    idx = np.arange(2 * n_requests)
    test = compose(
        trace.take(idx[:n_requests]),
        n_prompts=len(fitted.test.router.dq),
        n_trajectories=fitted.n_test_trajectories,
        agent_share=agent_share,
        spec=spec,
        seed=seed,
        name="test",
    )
    train = compose(
        trace.take(idx[n_requests:]),
        n_prompts=len(fitted.train.router.dq),
        n_trajectories=fitted.n_train_trajectories,
        agent_share=agent_share,
        spec=spec,
        seed=seed + 1,
        name="train",
    )
    if utilisation is None:
        return Prepared(test, train, fitted, engine)
    sizing = size_cluster(train, fitted.train, engine.step_model, target_utilisation=utilisation)
    sized = Engine(step_model=sizing.step_model, config=engine.config)

    def on(split: Split) -> Split:
        return replace(split, router=replace(split.router, step_model=sizing.step_model))

    fitted = replace(fitted, train=on(fitted.train), test=on(fitted.test))
    return Prepared(test, train, fitted, sized, sizing)


T = TypeVar("T")
R = TypeVar("R")
MapFn = Callable[[Callable[[Any], Any], list[Any]], list[Any]]
"""``map_fn(fn, items) -> [fn(x) for x in items]`` in input order (``interfaces.sweep.parallel_map``)."""


def _serial(fn: Callable[[T], R], items: list[T]) -> list[R]:
    return [fn(x) for x in items]


def _tune_point(prep: Prepared, seed: int, window_s: float, item: tuple[float, str, float]) -> float:
    """Train welfare of ``local`` at one (load, scheduler, wait cap) point."""
    load, sched, wait = item
    out = run_config(
        prep.train.scaled(load),
        LOCAL_CONFIG,
        prep.fitted.train,
        prep.engine,
        ServingChoice(sched, wait, float("nan")),
        seed=seed,
        window_s=window_s,
    )
    return float(utility(out).mean())


def _run_point(
    prep: Prepared,
    choices: dict[float, ServingChoice],
    seed: int,
    n_boot: int,
    window_s: float,
    item: tuple[Config, float],
) -> tuple[Outcomes, ConfigResult]:
    """One configuration at one load on the test workload, with its summary."""
    c, load = item
    out = run_config(
        prep.test.scaled(load),
        c,
        prep.fitted.test,
        prep.engine,
        choices.get(load),
        seed=seed,
        window_s=window_s,
    )
    return out, summarise(c.name, load, out, n_boot=n_boot, seed=seed)


def run_experiment(
    prep: Prepared,
    configs: Sequence[Config],
    loads: Sequence[float],
    *,
    seed: int = 0,
    n_boot: int = 2000,
    window_s: float = 0.5,
    progress: Callable[[str], None] | None = None,
    map_fn: MapFn | None = None,
) -> Experiment:
    """Run every configuration at every load (module docstring).

    Args:
        map_fn: runs the grid's independent points (train tuning points, then (config, load) runs),
            results in input order; ``None`` = a loop here (``interfaces`` injects Ray). Same results.

    Raises:
        ValidationError: a load is not a positive number or no configuration is given.
    """
    if not configs or any(not (np.isfinite(x) and x > 0) for x in loads):
        raise ValidationError(f"--load must be positive numbers and --configs non-empty; got {list(loads)}")
    names = {c.name for c in configs}

    def run_map(fn: Callable[[Any], Any], items: list[Any], label: Callable[[Any], str]) -> list[Any]:
        if map_fn is not None:
            return map_fn(fn, items)
        out = []
        for x in items:
            out.append(fn(x))
            if progress:
                progress(label(x))
        return out

    choices: dict[float, ServingChoice] = {}
    if any(c.serving == LOCAL for c in configs):
        points = [(load, sched, wait) for load in loads for sched, wait in SERVING_GRID]
        welfare = run_map(
            partial(_tune_point, prep, seed, window_s),
            points,
            lambda x: f"load {x[0]:g}: tune {x[1]} {x[2]:g}",
        )
        n = len(SERVING_GRID)
        for k, load in enumerate(loads):
            choices[load] = pick_serving(welfare[k * n : (k + 1) * n])
    grid = [(c, load) for load in loads for c in configs]
    runs = run_map(
        partial(_run_point, prep, choices, seed, n_boot, window_s),
        grid,
        lambda x: f"load {x[1]:g}: {x[0].name}",
    )
    outcomes: dict[tuple[str, float], Outcomes] = {}
    results: list[ConfigResult] = []
    for (c, load), (out, res) in zip(grid, runs, strict=True):
        outcomes[c.name, load] = out
        results.append(res)
    diffs: list[DiffResult] = []
    ablations: list[DiffResult] = []
    against_local: list[DiffResult] = []
    for load in loads:
        local = outcomes.get(("local", load))
        for c in configs:
            if local is not None and c.name not in ("local", "shared"):
                against_local.append(
                    paired_diff(
                        load, c.name, outcomes[c.name, load], "local", local, n_boot=n_boot, seed=seed
                    )
                )
        shared = outcomes.get(("shared", load))
        if shared is None:
            continue
        if "local" in names:
            diffs.append(
                paired_diff(
                    load, "shared", shared, "local", outcomes["local", load], n_boot=n_boot, seed=seed
                )
            )
        for c in configs:
            if c.name not in ("local", "shared"):
                ablations.append(
                    paired_diff(
                        load, c.name, outcomes[c.name, load], "shared", shared, n_boot=n_boot, seed=seed
                    )
                )
    serving = [(load, choices[load]) for load in loads if load in choices]
    f = prep.fitted
    settings: dict[str, float | str] = {
        "cost_min_tau": f.test.router.tau,
        "local_refusal_usd_per_quality": f.test.router.max_usd_per_quality,
        "agent_step_cap": float(f.test.agent.step_cap.max_steps_),
        "marginal_ridge": f.test.agent.marginal.ridge_,
        "marginal_z_se": f.test.agent.marginal.z_se_,
        "test_chat_requests": float(len(prep.test.chat)),
        "test_agent_tasks": float(len(prep.test.agents)),
        "window_s": window_s,
        "step_model": prep.engine.step_model.source if hasattr(prep.engine.step_model, "source") else "",
    }
    sz = prep.sizing
    if sz is not None:
        settings |= {
            "target_utilisation": sz.target_utilisation,
            "base_utilisation": sz.base_utilisation,
            "cluster_slowdown": sz.slowdown,
        }
        for load in loads:
            w, t = offered_utilisation(prep.train.scaled(load), f.train, sz.step_model)
            settings[f"offered_utilisation_train_x{load:g}"] = w / t
    synthetic = (
        prep.test.spec.note(),
        "modelling choice: the six open-weight RouterBench models share one simulated cluster (BLIS "
        "llama-3.1-8b H100 step model, scaled as below); the five API models do not queue",
        "modelling choice: agent calls (mini-swe-agent contexts and outputs) are served on the same cluster",
    ) + ((sz.note(),) if sz is not None else ())
    return Experiment(
        tuple(results),
        tuple(diffs),
        tuple(ablations),
        tuple(serving),
        outcomes,
        synthetic,
        settings,
        f.test.router.models,
        tuple(against_local),
    )
