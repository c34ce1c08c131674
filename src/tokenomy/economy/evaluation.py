"""Welfare of a composed run, bootstrap confidence intervals, and the paired shared − local difference.

Welfare per request is the core ``realised_utility`` (V·Q − C − λ·L with the request's true V and SLA
λ; no harm is modelled here, so ρ·R = 0), averaged over every chat request and agent task. CIs are
percentile bootstraps over requests (seeded, ``n_boot`` ≥ 1000 resamples, one vectorised draw of
indices). Two configurations run on the same requests, so their difference is paired: the bootstrap
resamples requests and takes the mean of the per-request differences. Results are frozen dataclasses;
``interfaces`` serialises them once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from tokenomy.core._checks import real, whole
from tokenomy.core.errors import ValidationError
from tokenomy.core.rule import realised_utility
from tokenomy.economy.system import Outcomes

__all__ = ["ConfigResult", "DiffResult", "bootstrap_mean", "paired_diff", "summarise", "utility"]


@dataclass(frozen=True, slots=True)
class ConfigResult:
    """One configuration at one load (USD per request, seconds)."""

    config: str
    load: float
    welfare_per_request: float
    ci_low: float
    ci_high: float
    cost_per_request_usd: float
    latency_p99_s: float  # over the chat requests served
    served_share: float
    hosted_share: float
    agent_success: float
    wall_s: float


@dataclass(frozen=True, slots=True)
class DiffResult:
    """Paired welfare difference ``config`` − ``baseline`` at one load (USD per request)."""

    load: float
    config: str
    baseline: str
    diff: float
    ci_low: float
    ci_high: float

    @property
    def above_zero(self) -> bool:
        """True when the whole CI is above 0 (a gain the resampling cannot explain away)."""
        return self.ci_low > 0.0


def utility(out: Outcomes) -> NDArray[np.float64]:
    """Realised utility of every request of a run (USD), by the core rule."""
    return realised_utility(
        out.v_usd, out.quality, out.cost_usd, out.latency_s, lam_usd_per_s=out.lam_usd_per_s
    )


def bootstrap_mean(
    x: ArrayLike, *, n_boot: int = 2000, seed: int = 0, level: float = 0.95
) -> tuple[float, float, float]:
    """(mean, low, high): percentile bootstrap CI of the mean of ``x`` (a 1-D sample of finite numbers).

    Raises:
        ValidationError: naming the argument: ``x`` with fewer than 2 values, not 1-D or holding a non-finite entry, fewer
            than 1000 resamples, a seed that is not a whole number ≥ 0, a level outside (0, 1).
    """
    n_boot = whole("bootstrap_mean n_boot", n_boot, low=1000)
    seed = whole("bootstrap_mean seed", seed)
    level = real("bootstrap_mean level", level, low=0, high=1, low_open=True, high_open=True)
    try:
        x = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValidationError(f"bootstrap_mean x must be a 1-D sample of numbers, got {x!r:.80}") from None
    if x.ndim != 1 or x.size < 2:  # one value has no sampling spread: its "interval" would be a point
        raise ValidationError(f"bootstrap_mean x must be a 1-D sample of ≥ 2 values, got shape {x.shape}")
    bad = np.flatnonzero(~np.isfinite(x))
    if bad.size:
        raise ValidationError(
            f"bootstrap_mean x must hold finite numbers; entry {int(bad[0])} is {float(x[bad[0]])!r}"
        )
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, x.size, size=(n_boot, x.size))
    means = x[idx].mean(axis=1)
    a = (1 - level) / 2
    lo, hi = np.quantile(means, [a, 1 - a])
    return float(x.mean()), float(lo), float(hi)


def summarise(config: str, load: float, out: Outcomes, *, n_boot: int = 2000, seed: int = 0) -> ConfigResult:
    """Welfare (with CI), cost, p99 latency and shares of one run."""
    u = utility(out)
    w, lo, hi = bootstrap_mean(u, n_boot=n_boot, seed=seed)
    agents = out.kind == "agent"
    served = out.admitted & ~agents
    return ConfigResult(
        config,
        load,
        w,
        lo,
        hi,
        float(out.cost_usd.mean()),
        float(np.percentile(out.latency_s[served], 99)) if served.any() else float("nan"),
        float(out.admitted.mean()),
        float(out.hosted[out.kind == "chat"].mean()) if (~agents).any() else float("nan"),
        float(out.quality[agents].mean()) if agents.any() else float("nan"),
        out.wall_s,
    )


def paired_diff(
    load: float,
    config: str,
    out: Outcomes,
    baseline: str,
    base: Outcomes,
    *,
    n_boot: int = 2000,
    seed: int = 0,
) -> DiffResult:
    """Paired bootstrap of mean(utility(out) − utility(base)) over the same requests.

    Raises:
        ValidationError: the runs are not over the same requests.
    """
    if out.v_usd.shape != base.v_usd.shape or not np.array_equal(out.v_usd, base.v_usd):
        raise ValidationError(f"paired difference needs the same requests for {config!r} and {baseline!r}")
    d, lo, hi = bootstrap_mean(utility(out) - utility(base), n_boot=n_boot, seed=seed)
    return DiffResult(load, config, baseline, d, lo, hi)
