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
Not modelled: per-tenant rate limits.
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
    "SLO_GRID_S",
    "FCFSWithSLO",
    "PriorityWithSLO",
    "SLOAdmission",
    "SPFWithSLO",
    "VTCWithSLO",
    "tune_slo",
]

DEFAULT_SLO_TTFT_S = 2.0
SLO_GRID_S = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, math.inf)


class SLOAdmission(Scheduler):
    """Mixin: the TTFT-SLO refusal (module docstring) on top of the next class's order.

    Args:
        slo_ttft_s: the TTFT SLO in seconds (> 0; ``inf`` admits everything).
    """

    decides = True

    def __init__(self, *, slo_ttft_s: float = DEFAULT_SLO_TTFT_S) -> None:
        if not slo_ttft_s > 0:
            raise ValidationError(f"slo_ttft_s must be > 0 seconds, got {slo_ttft_s!r}")
        self.slo_ttft_s = float(slo_ttft_s)
        self.s_per_token = 0.0

    def prepare(self, model: StepTimeModel, config: EngineConfig) -> None:
        super().prepare(model, config)
        budget = float(config.max_batched_tokens)
        self.s_per_token = model.step_s(budget, 0.0) / budget

    def predicted_ttft_s(self, i: int, wl: Workload, state: EngineState, waited_s: float) -> float:
        """waited + (tokens ahead + own prompt) × prefill seconds per token."""
        return waited_s + (state.waiting_tokens_ahead + float(wl.prompt_tokens[i])) * self.s_per_token

    def decide(self, i: int, wl: Workload, state: EngineState, *, waited_s: float) -> Admission:
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
