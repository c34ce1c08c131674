"""The drift rate δ: how fast a rollout's learning value depreciates per policy version, measured.

On a training seed, uniform GRPO runs without lag and keeps every parameter version θ_k. At evenly
spaced checkpoints k and for each age s, it compares the policy gradient at θ_k computed from rollouts
of the stale policy θ_{k−s} (g_s) with the one from fresh rollouts of θ_k (g_0), each on the same
training tasks (groups of G, group-relative advantages), and an independent fresh replicate g_0′:

    r_s = Σ_k ⟨g_s, g_0′⟩ / Σ_k ⟨g_0, g_0′⟩,

the share of a fresh rollout's gradient (projected on the fresh direction) that a rollout s versions
old still delivers; the replicate keeps sampling noise out of the ratio. δ is the least-squares fit of
log r_s = s·log(1 − δ) through the origin, clipped to [0, 0.5]. Only training tasks of training seeds
are read. No I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from tokenomy.capital.rl.allocators import make_allocator
from tokenomy.capital.rl.config import RLConfig, warm_start
from tokenomy.capital.rl.loop import run_rl
from tokenomy.capital.rl.policy import PolicyNet, policy_gradient, sample
from tokenomy.capital.rl.tasks import TaskSet, verify

__all__ = ["DriftEstimate", "accumulate", "fit_drift", "measure_drift"]


@dataclass(frozen=True, slots=True)
class DriftEstimate:
    """δ and the value ratios r_s it was fitted to."""

    drift_per_version: float
    ratios: tuple[tuple[int, float], ...]  # (age s, r_s)
    checkpoints: int


def _gradient(
    at: PolicyNet, source: PolicyNet, tasks: TaskSet, group: int, rng: np.random.Generator
) -> NDArray[np.float64]:
    sub = tasks.subset(np.repeat(np.arange(len(tasks)), group))
    y = sample(source, sub, rng)
    r = verify(sub, y)
    adv = r - np.repeat(r.reshape(-1, group).mean(axis=1), group)
    _, grads = policy_gradient(at, sub, y, adv / adv.size)
    return -np.concatenate([g.ravel() for g in grads])


def accumulate(
    versions: Sequence[PolicyNet],
    train: TaskSet,
    sums: dict[int, list[float]],
    rng: np.random.Generator,
    *,
    checkpoints: int = 8,
    tasks_per_check: int = 48,
    group: int = 16,
) -> int:
    """Add one run's ⟨g_s, g_0′⟩ and ⟨g_0, g_0′⟩ to ``sums`` (age -> [numerator, denominator]).

    ``versions`` are θ_0, θ_1, … of a run without lag; returns the checkpoints used.
    """
    top = max(sums)
    if len(versions) <= top:
        return 0
    used = 0
    for k in np.linspace(top, len(versions) - 1, checkpoints).astype(int).tolist():
        tasks = train.subset(rng.permutation(len(train))[:tasks_per_check])
        g0 = _gradient(versions[k], versions[k], tasks, group, rng)
        g0b = _gradient(versions[k], versions[k], tasks, group, rng)
        used += 1
        for s, acc in sums.items():
            gs = _gradient(versions[k], versions[k - s], tasks, group, rng)
            acc[0] += float(gs @ g0b)
            acc[1] += float(g0 @ g0b)
    return used


def fit_drift(sums: dict[int, list[float]], checkpoints: int) -> DriftEstimate:
    """δ from accumulated sums: least squares of log r_s = s·log(1 − δ), r_s clipped to (0, 1]."""
    ratios = tuple((s, num / den if den > 0 else 1.0) for s, (num, den) in sorted(sums.items()))
    logs = np.array([np.log(min(max(r, 1e-6), 1.0)) for _, r in ratios])
    ages = np.array([float(s) for s, _ in ratios])
    slope = float(ages @ logs / (ages @ ages))
    return DriftEstimate(float(np.clip(1.0 - np.exp(slope), 0.0, 0.5)), ratios, checkpoints)


def measure_drift(
    config: RLConfig, *, seeds: Sequence[int] = (1000, 1001), ages: Sequence[int] = (1, 2, 4, 8)
) -> DriftEstimate:
    """Measure δ on training seeds (module docstring)."""
    sums = {s: [0.0, 0.0] for s in ages}
    used = 0
    cfg = replace(config, prices=replace(config.prices, drift_per_version=0.0))
    for seed in seeds:
        start = warm_start(cfg, seed)
        versions: list[PolicyNet] = [start.net]
        run_rl(cfg, make_allocator("uniform"), start, seed=seed, on_version=versions.append)
        used += accumulate(versions, start.train, sums, np.random.default_rng([seed, 3]))
    return fit_drift(sums, used)
