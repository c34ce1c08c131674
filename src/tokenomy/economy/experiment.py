"""The central-claim experiment: every configuration at every load on the same requests, scored paired.

``prepare`` composes the TEST workload (the first N trace arrivals paired with RouterBench test prompts
and held-out agent runs) and the TRAIN workload (the next N arrivals, train prompts, train runs) and
fits every layer on train (``training``). ``run_experiment`` then, per load, tunes the local serving
layer on the train workload at that load, runs each configuration on the test workload at that load
(same requests, same seeds), and returns welfare with bootstrap CIs, the paired shared − local
difference, and each ablation's paired difference against ``shared`` (what is lost when that layer
stops reading the shared prices). No setting is chosen on the test requests.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from tokenomy.autonomy.trajectory import AgentTrajectory
from tokenomy.core.errors import ValidationError
from tokenomy.economy.configs import Config
from tokenomy.economy.evaluation import ConfigResult, DiffResult, paired_diff, summarise
from tokenomy.economy.requests import ComposedWorkload, ValueSpec, compose
from tokenomy.economy.system import Outcomes
from tokenomy.economy.training import Fitted, ServingChoice, fit_layers, run_config, tune_serving
from tokenomy.routing.dataset import RoutingDataset
from tokenomy.serving.engine import Engine
from tokenomy.serving.entities import EngineConfig, Workload

__all__ = ["DEFAULT_AGENT_SHARE", "Experiment", "Prepared", "prepare", "run_experiment"]

DEFAULT_AGENT_SHARE = 0.01
"""Share of trace arrivals replayed as agent tasks (each a whole mini-swe-agent run)."""


@dataclass(frozen=True, slots=True)
class Prepared:
    """Test and train workloads and the train-fitted layers."""

    test: ComposedWorkload
    train: ComposedWorkload
    fitted: Fitted
    engine: Engine


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
    """

    results: tuple[ConfigResult, ...]
    diffs: tuple[DiffResult, ...]
    ablations: tuple[DiffResult, ...]
    serving: tuple[tuple[float, ServingChoice], ...]
    outcomes: dict[tuple[str, float], Outcomes]
    synthetic: tuple[str, ...]
    settings: dict[str, float | str]
    models: tuple[str, ...] = ()


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
        engine: the simulated cluster (default: BLIS llama-3.1-8b H100, price sample every second).

    Raises:
        ValidationError: N < 10 or the trace has fewer than 2·N arrivals.
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
    return Prepared(test, train, fitted, engine)


def run_experiment(
    prep: Prepared,
    configs: Sequence[Config],
    loads: Sequence[float],
    *,
    seed: int = 0,
    n_boot: int = 2000,
    window_s: float = 0.5,
    progress: Callable[[str], None] | None = None,
) -> Experiment:
    """Run every configuration at every load (module docstring).

    Raises:
        ValidationError: a load is not a positive number or no configuration is given.
    """
    if not configs or any(not (np.isfinite(x) and x > 0) for x in loads):
        raise ValidationError(f"--load must be positive numbers and --configs non-empty; got {list(loads)}")
    results: list[ConfigResult] = []
    diffs: list[DiffResult] = []
    ablations: list[DiffResult] = []
    serving: list[tuple[float, ServingChoice]] = []
    outcomes: dict[tuple[str, float], Outcomes] = {}
    for load in loads:
        choice = None
        if any(c.serving == "local" for c in configs):
            choice = tune_serving(
                prep.train.scaled(load), prep.fitted.train, prep.engine, seed=seed, window_s=window_s
            )
            serving.append((load, choice))
            if progress:
                progress(f"load {load:g}: tuned local serving on train")
        wl = prep.test.scaled(load)
        for c in configs:
            out = run_config(wl, c, prep.fitted.test, prep.engine, choice, seed=seed, window_s=window_s)
            outcomes[c.name, load] = out
            results.append(summarise(c.name, load, out, n_boot=n_boot, seed=seed))
            if progress:
                progress(f"load {load:g}: {c.name}")
        names = {c.name for c in configs}
        if {"local", "shared"} <= names:
            diffs.append(
                paired_diff(
                    load,
                    "shared",
                    outcomes["shared", load],
                    "local",
                    outcomes["local", load],
                    n_boot=n_boot,
                    seed=seed,
                )
            )
        if "shared" in names:
            for c in configs:
                if c.name not in ("local", "shared"):
                    ablations.append(
                        paired_diff(
                            load,
                            c.name,
                            outcomes[c.name, load],
                            "shared",
                            outcomes["shared", load],
                            n_boot=n_boot,
                            seed=seed,
                        )
                    )
    f = prep.fitted
    settings: dict[str, float | str] = {
        "cost_min_tau": f.test.router.tau,
        "agent_step_cap": float(f.test.agent.step_cap.max_steps_),
        "marginal_ridge": f.test.agent.marginal.ridge_,
        "marginal_z_se": f.test.agent.marginal.z_se_,
        "test_chat_requests": float(len(prep.test.chat)),
        "test_agent_tasks": float(len(prep.test.agents)),
        "window_s": window_s,
    }
    synthetic = (
        prep.test.spec.note(),
        "modelling choice: the six open-weight RouterBench models share one simulated cluster (BLIS "
        "llama-3.1-8b H100 step model); the five API models do not queue",
        "modelling choice: agent calls (mini-swe-agent contexts and outputs) are served on the same cluster",
    )
    return Experiment(
        tuple(results),
        tuple(diffs),
        tuple(ablations),
        tuple(serving),
        outcomes,
        synthetic,
        settings,
        f.test.router.models,
    )
