"""Admission control as real deployments run it, for the baselines: refuse when the TTFT SLO is lost.

``SLOAdmission`` adds to any ordering rule the test a serving stack with a TTFT SLO applies (a
request timeout, a queue bound expressed in seconds): predict the request's time to first token
and refuse it when the prediction exceeds ``slo_ttft_s``,

    TTFT̂_i = waited_i + (tokens ahead of i + p_i) · s_tok,   s_tok = step_s(T, 0) / T,

s_tok the prefill seconds per token of a step that fills the token budget T (the server's prefill
throughput). At arrival the tokens ahead are the whole waiting queue's (exact for FCFS, an upper
bound under priority orders); when i reaches the head of the queue none are, and the time it waited
counts. It uses no value, no λ and no output length. Registered as ``fcfs+slo``, ``priority+slo``,
``spf+slo``, ``vtc+slo`` with a default SLO of 2 s (``metrics.summarize``'s goodput SLO);
``tune_slo`` picks the SLO on a training part of a trace (``benchmarks/bench_serve_admission.py``).

Optionally a per-tenant rate limit (an API gateway's requests-per-second quota) goes first: a token
bucket per tenant refilled at ``tenant_rate_per_s[t]`` requests per second, holding at most
``burst_s`` seconds of it (at least one request), starting full; a request finding its tenant's
bucket below one is refused, else it takes one. It is charged once per request, at its first
decision (at arrival, or at once at the head of an empty queue). The benchmark sets the rates to a
multiple of each tenant's rate on the training part, the multiple tuned there too.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from tokenomy.core.errors import ValidationError
from tokenomy.serving.entities import EngineConfig, Workload
from tokenomy.serving.schedulers.base import Admission, EngineState, Scheduler
from tokenomy.serving.schedulers.fcfs import FCFS
from tokenomy.serving.schedulers.priority import Priority
from tokenomy.serving.schedulers.spf import ShortestPredictedFirst
from tokenomy.serving.schedulers.vtc import VTC
from tokenomy.serving.steptime import StepTimeModel

__all__ = [
    "DEFAULT_SLO_TTFT_S",
    "RATE_GRID",
    "SLO_GRID_S",
    "FCFSWithSLO",
    "PriorityWithSLO",
    "SLOAdmission",
    "SPFWithSLO",
    "VTCWithSLO",
    "tune_slo",
]

DEFAULT_SLO_TTFT_S = 2.0
RATE_GRID = (0.5, 0.75, 1.0, 1.25, 1.5, 2.0, math.inf)  # multiples of a tenant's training rate
SLO_GRID_S = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, math.inf)


class SLOAdmission(Scheduler):
    """Mixin: the TTFT-SLO refusal (module docstring) on top of the next class's order.

    Args:
        slo_ttft_s: the TTFT SLO in seconds (> 0; ``inf`` admits everything).
        tenant_rate_per_s: requests per second each tenant code may send (``None``: no rate limit).
        burst_s: seconds of its rate a tenant's bucket holds.
    """

    decides = True

    def __init__(
        self,
        *,
        slo_ttft_s: float = DEFAULT_SLO_TTFT_S,
        tenant_rate_per_s: Sequence[float] | None = None,
        burst_s: float = 10.0,
    ) -> None:
        if not slo_ttft_s > 0:
            raise ValidationError(f"slo_ttft_s must be > 0 seconds, got {slo_ttft_s!r}")
        if tenant_rate_per_s is not None and not all(r > 0 for r in tenant_rate_per_s):
            raise ValidationError("tenant_rate_per_s must be > 0 requests per second for every tenant")
        if not burst_s > 0:
            raise ValidationError(f"burst_s must be > 0 seconds, got {burst_s!r}")
        self.slo_ttft_s = float(slo_ttft_s)
        self.s_per_token = 0.0
        self.rates = None if tenant_rate_per_s is None else [float(r) for r in tenant_rate_per_s]
        self.caps = None if self.rates is None else [max(1.0, r * burst_s) for r in self.rates]
        self.bucket = None if self.caps is None else list(self.caps)
        self.filled_s = [0.0] * (0 if self.rates is None else len(self.rates))
        self.charged: set[int] = set()

    def prepare(self, model: StepTimeModel, config: EngineConfig) -> None:
        super().prepare(model, config)
        budget = float(config.max_batched_tokens)
        self.s_per_token = model.step_s(budget, 0.0) / budget

    def predicted_ttft_s(self, i: int, wl: Workload, state: EngineState, waited_s: float) -> float:
        """waited + (tokens ahead + own prompt) × prefill seconds per token."""
        return waited_s + (state.waiting_tokens_ahead + float(wl.prompt_tokens[i])) * self.s_per_token

    def within_rate(self, i: int, wl: Workload, now_s: float) -> bool:
        """The tenant's token bucket at its first decision (module docstring); True without a limit."""
        if self.rates is None or self.bucket is None or self.caps is None or i in self.charged:
            return True
        self.charged.add(i)
        t = int(wl.tenant[i])
        if t >= len(self.rates):
            raise ValidationError(
                f"request {i} has tenant code {t}; tenant_rate_per_s covers {len(self.rates)}"
            )
        level = min(self.caps[t], self.bucket[t] + (now_s - self.filled_s[t]) * self.rates[t])
        self.filled_s[t] = now_s
        if level < 1.0:
            self.bucket[t] = level
            return False
        self.bucket[t] = level - 1.0
        return True

    def decide(self, i: int, wl: Workload, state: EngineState, *, waited_s: float) -> Admission:
        if not self.within_rate(i, wl, state.now_s):
            return Admission(False, dl_s=math.nan, surplus_usd=math.nan)
        ttft = self.predicted_ttft_s(i, wl, state, waited_s)
        return Admission(ttft <= self.slo_ttft_s, dl_s=ttft, surplus_usd=self.slo_ttft_s - ttft)


class FCFSWithSLO(SLOAdmission, FCFS):
    """FCFS order, TTFT-SLO admission."""

    name = "fcfs+slo"


class PriorityWithSLO(SLOAdmission, Priority):
    """Static λ priority, TTFT-SLO admission."""

    name = "priority+slo"


class SPFWithSLO(SLOAdmission, ShortestPredictedFirst):
    """Shortest predicted job first, TTFT-SLO admission."""

    name = "spf+slo"


class VTCWithSLO(SLOAdmission, VTC):
    """Virtual-token-counter fair share, TTFT-SLO admission."""

    name = "vtc+slo"


def tune_slo(
    welfare_at: Callable[[float], float], grid: Sequence[float] = SLO_GRID_S
) -> tuple[float, dict[float, float]]:
    """The SLO of ``grid`` with the highest ``welfare_at(slo)`` (ties: the larger SLO, which refuses
    less), and every value.

    ``welfare_at`` must run on training data only; the caller evaluates the choice elsewhere.
    """
    if not grid:
        raise ValidationError("tune_slo needs a non-empty grid")
    values = {float(s): float(welfare_at(float(s))) for s in grid}
    best = max(values, key=lambda s: (values[s], s))
    return best, values
