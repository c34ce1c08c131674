"""Small workloads and engines for the serving tests."""

from __future__ import annotations

import numpy as np

from tokenomy.serving.entities import EngineConfig, Workload
from tokenomy.serving.steptime import LinearStepTime
from tokenomy.serving.workloads import TenantSpec, make_workload, tenant_mix


def batch_at_zero(prompts: list[int], outs: list[int], lams: list[float], *, seed: int = 0) -> Workload:
    """Requests that all arrive at t = 0, with given λ."""
    n = len(prompts)
    wl = make_workload("batch", np.zeros(n), prompts, outs, seed=seed)
    wl.lam_usd_per_s[:] = lams
    return wl


def small_mix(seed: int = 0, duration_s: float = 60.0, rate: float = 3.0) -> Workload:
    """Two tenants, a minute of traffic."""
    return tenant_mix(
        [TenantSpec("a", rate, cv=1.5), TenantSpec("b", rate / 2, prompt_median=3000.0)],
        duration_s=duration_s,
        seed=seed,
    )


def roomy(**kw: object) -> EngineConfig:
    """A config with ample KV and a token budget that never binds."""
    base: dict[str, object] = {"max_batched_tokens": 10**7, "kv_blocks": 10**7, "prefix_cache": False}
    base.update(kw)
    return EngineConfig(**base)  # type: ignore[arg-type]


LINEAR = LinearStepTime(0.005, 2e-5, 1e-4)
