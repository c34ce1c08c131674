"""The three layers' decision rules as the economy runs them: local optimisers and shared-price readers.

Demand (``RouterSide``): q̂ and ĉ come from the routing layer's ``Router`` fitted on the RouterBench
TRAIN split. The local router is the layer's ``CostMinimiser`` (the cheapest model whose q̂ clears a
bar τ tuned on train at the median train V; it reads no V, λ or queue). The shared router is Eq. 4
through the core ``choose_many``: V·q̂ − (ĉ + supply externality) − λ·l̂, with the null option, where
the externality of a self-hosted model is the supply layer's prefill and decode token prices times
the request's tokens and l̂ its observed queue wait plus its service time. Either router can be run
with or without refusal: the shared one without the null option (argmax over the models), the local
one with a value-blind decline (the cost-min model's ĉ/q̂ above ``max_usd_per_quality``, tuned on train).
Action (``AgentSide``): the local agent stops at the step cap with the best train welfare at the
median train V (``BestStepCap``); the shared agent is ``MarginalStop`` (p̂ and Ĉ fitted on the train
trajectories) with the task's own V, minus λ times the remaining latency it expects and the supply
prices of the tokens it still expects to send.
Supply: ``WaitCapFCFS`` / ``WaitCapPriority`` (the local admission rule: drop a request that waited
longer than a cap tuned on train) and the serving layer's ``CongestionPriced`` scheduler (shared).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from tokenomy.autonomy.features import TrajectoryTable
from tokenomy.autonomy.stopping import BestStepCap, MarginalStop
from tokenomy.core.prices import DECODE_TOKEN, PREFILL_TOKEN, PriceVector
from tokenomy.core.rule import choose_many, surplus_matrix
from tokenomy.routing.policies import CostMinimiser, Problem
from tokenomy.serving.congestion import service_s
from tokenomy.serving.entities import Workload
from tokenomy.serving.schedulers.base import Admission, EngineState, Scheduler
from tokenomy.serving.schedulers.fcfs import FCFS
from tokenomy.serving.schedulers.priority import Priority
from tokenomy.serving.steptime import StepTimeModel

__all__ = [
    "API_OUTPUT_TOKENS_PER_S",
    "API_TTFT_S",
    "SELF_HOSTED",
    "VERIFY_CLASSES",
    "AgentSide",
    "RouterSide",
    "WaitCapFCFS",
    "WaitCapPriority",
    "api_latency_s",
]

SELF_HOSTED = frozenset(
    {
        "WizardLM/WizardLM-13B-V1.2",
        "meta/code-llama-instruct-34b-chat",
        "meta/llama-2-70b-chat",
        "mistralai/mistral-7b-chat",
        "mistralai/mixtral-8x7b-chat",
        "zero-one-ai/Yi-34B-Chat",
    }
)
"""Open-weight RouterBench models served on the simulated cluster (a modelling choice); the rest are APIs."""

VERIFY_CLASSES = frozenset({"test", "run"})
"""Agent calls that verify (the mini-swe-agent action classes that run tests or a reproduction script)."""

API_TTFT_S = 0.5
"""SYNTHETIC: an API model's time to first token, seconds (no queue: the provider absorbs the load)."""
API_OUTPUT_TOKENS_PER_S = 50.0
"""SYNTHETIC: an API model's decode rate, tokens per second."""

_NOMINAL_BATCH = 16  # co-running requests assumed in a service-time estimate


def api_latency_s(output_tokens: NDArray[np.int64] | int) -> NDArray[np.float64]:
    """The SYNTHETIC latency of an API call: ``API_TTFT_S`` + output / ``API_OUTPUT_TOKENS_PER_S``."""
    return np.asarray(API_TTFT_S + np.asarray(output_tokens, np.float64) / API_OUTPUT_TOKENS_PER_S)


@dataclass(frozen=True, slots=True)
class RouterSide:
    """Routing estimates for one split's prompts and the two routing rules.

    Attributes:
        models: the M model names; hosted: (M,) bool, served on the cluster.
        dq, dc_usd: (P, M) q̂ and ĉ of every prompt of the split (from the train-fitted router).
        quality, cost_usd: (P, M) the real outcomes (read only after a decision, to score it).
        tau: the cost-min bar tuned on train.
        local_choice: (P,) the cost-min model of every prompt at ``tau``.
        step_model: the cluster's step-time model (service-time estimate of a hosted model).
        max_usd_per_quality: the local refusal bar: decline when the cost-min model's ĉ / q̂ exceeds
            it (USD per unit of expected quality; inf = never; tuned on train).
    """

    models: tuple[str, ...]
    hosted: NDArray[np.bool_]
    dq: NDArray[np.float64]
    dc_usd: NDArray[np.float64]
    quality: NDArray[np.float64]
    cost_usd: NDArray[np.float64]
    tau: float
    local_choice: NDArray[np.int64]
    step_model: StepTimeModel
    max_usd_per_quality: float = float("inf")

    @classmethod
    def build(
        cls,
        models: tuple[str, ...],
        dq: NDArray[np.float64],
        dc_usd: NDArray[np.float64],
        quality: NDArray[np.float64],
        cost_usd: NDArray[np.float64],
        *,
        tau: float,
        step_model: StepTimeModel,
        max_usd_per_quality: float = float("inf"),
    ) -> RouterSide:
        """The rules for one split, with the cost-min choice of every prompt at bar ``tau``."""
        zeros = np.zeros_like(dq)
        problem = Problem(models, dq, dc_usd, zeros, zeros, np.zeros(len(dq)))
        local = CostMinimiser(tau=tau).fit(problem).decide(problem).chosen
        hosted = np.array([m in SELF_HOSTED for m in models], dtype=bool)
        return cls(
            models,
            hosted,
            dq,
            dc_usd,
            quality,
            cost_usd,
            tau,
            np.asarray(local, np.int64),
            step_model,
            max_usd_per_quality,
        )

    def usd_per_quality(self) -> NDArray[np.float64]:
        """(P,) ĉ / q̂ of every prompt's cost-min model (what the local refusal bar is compared with)."""
        rows = np.arange(len(self.local_choice))
        m = self.local_choice
        return np.asarray(self.dc_usd[rows, m] / np.maximum(self.dq[rows, m], 1e-9))

    def local(self, row: int, *, refuse: bool = False) -> int:
        """The cost-min model of prompt ``row``; with ``refuse``, -1 when its ĉ / q̂ is above the bar."""
        m = int(self.local_choice[row])
        if refuse and self.dc_usd[row, m] > self.max_usd_per_quality * max(float(self.dq[row, m]), 1e-9):
            return -1
        return m

    def terms(
        self, row: int, prompt_tokens: int, output_tokens: int, supply: PriceVector, wait_s: float
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """Eq. 4 inputs (ΔQ, ΔC, ΔL) of every model for one request at the supply prices read."""
        ext = (
            supply.resource_usd(PREFILL_TOKEN) * prompt_tokens
            + supply.resource_usd(DECODE_TOKEN) * output_tokens
        )
        dc = self.dc_usd[row] + np.where(self.hosted, ext, 0.0)
        own = wait_s + service_s(self.step_model, float(prompt_tokens), float(output_tokens), _NOMINAL_BATCH)
        dl = np.where(self.hosted, own, api_latency_s(output_tokens))
        return self.dq[row], dc, dl

    def shared(
        self,
        row: int,
        prompt_tokens: int,
        output_tokens: int,
        prices: PriceVector,
        supply: PriceVector,
        wait_s: float,
        *,
        refuse: bool = True,
    ) -> int:
        """Eq. 4 with the request's V and λ (``prices``) and the supply prices; -1 = do not serve.

        With ``refuse=False`` the null option is removed: the model with the highest surplus is chosen
        even when that surplus is ≤ 0.
        """
        dq, dc, dl = self.terms(row, prompt_tokens, output_tokens, supply, wait_s)
        if not refuse:
            s = surplus_matrix(
                prices.v_usd,
                dq[None, :],
                dc[None, :],
                dl[None, :],
                lam_usd_per_s=prices.lam_usd_per_s,
                validate=False,
            )
            return int(np.argmax(s[0]))
        idx, _ = choose_many(
            prices.v_usd,
            dq[None, :],
            dc[None, :],
            dl[None, :],
            lam_usd_per_s=prices.lam_usd_per_s,
            validate=False,
        )
        return int(idx[0])


@dataclass
class AgentSide:
    """Stopping rules over one split's trajectories (``table`` rows = before call k).

    Attributes:
        table: the split's decision points; prompt_tokens, output_tokens: (N,) tokens of call k.
        step_cap: the local cap (``BestStepCap`` on train); marginal: the fitted ``MarginalStop``.
        usd_per_call: mean USD per call on train (turns Ĉ into expected remaining calls).
        out_tokens_per_call: mean output tokens per call on train (what a call still to come is
            expected to generate; call k's own output is not known before it is made).
        verify: (N,) call k is a verification call (``VERIFY_CLASSES``); ``None`` = not known.
    """

    table: TrajectoryTable
    prompt_tokens: NDArray[np.int64]
    output_tokens: NDArray[np.int64]
    step_cap: BestStepCap
    marginal: MarginalStop
    usd_per_call: float
    out_tokens_per_call: float
    verify: NDArray[np.bool_] | None = None
    _within_cache: dict[float, NDArray[np.bool_]] = field(default_factory=dict, repr=False, compare=False)

    def row(self, traj: int, step: int) -> int:
        """Table row of call ``step`` of trajectory ``traj``."""
        return int(self.table.offsets[traj] + step)

    def n_calls(self, traj: int) -> int:
        """Calls the trajectory made in the data."""
        return int(self.table.n_calls[traj])

    def local(self, traj: int, step: int) -> bool:
        """Make call ``step`` under the train-tuned step cap."""
        return step < self.step_cap.max_steps_

    def terms(self, traj: int, step: int, supply: PriceVector, call_s: float) -> tuple[float, float, float]:
        """Eq. 1 terms of continuing at call ``step``: (ΔQ = p̂, ΔC = Ĉ + supply price of the tokens, ΔL).

        p̂ is taken at the lower (before call 0) or upper (later) one-standard-error bound, as
        ``MarginalStop`` does, so the agent changes state only when the estimate is clear. The calls
        still to come are Ĉ / (mean USD per call on train); each is priced at the supply layer's token
        prices for the current context and output, and takes ``call_s`` seconds (observed).
        """
        model = self.marginal.model_
        assert model is not None
        r = self.row(traj, step)
        x = self.table.x[r : r + 1]
        lo, hi = model.success_bounds(x, self.marginal.z_se_)
        p = float(lo[0] if step == 0 else hi[0])
        c_rem = float(model.remaining_usd(x)[0])
        calls = max(1.0, c_rem / self.usd_per_call)
        ext = calls * (
            supply.resource_usd(PREFILL_TOKEN) * float(self.prompt_tokens[r])
            + supply.resource_usd(DECODE_TOKEN) * self.out_tokens_per_call
        )
        return p, c_rem + ext, calls * call_s

    def shared(
        self, traj: int, step: int, v_usd: float, lam_usd_per_s: float, supply: PriceVector, call_s: float
    ) -> bool:
        """Make call ``step`` when its surplus is > 0 and the spend stays within V (``MarginalStop``'s budget).

        The budget test uses the spend so far and the call's cost predicted before it is made
        (``MarginalStop.within_budget``), never call ``step``'s billed cost.
        """
        r = self.row(traj, step)
        within = self._within_cache.get(v_usd)
        if within is None:
            model = self.marginal.model_
            assert model is not None
            within = self._within_cache[v_usd] = self.marginal.within_budget(model, self.table, v_usd)
        dq, dc, dl = self.terms(traj, step, supply, call_s)
        surplus = surplus_matrix(v_usd, np.array([[dq]]), dc, dl, lam_usd_per_s=lam_usd_per_s, validate=False)
        return bool(within[r] and surplus[0, 0] > 0.0)


class _WaitCap(Scheduler):
    """Mixin: admit at the head of the queue only requests that waited at most ``max_wait_s``."""

    decides = True
    max_wait_s: float = float("inf")

    def decide(self, i: int, wl: Workload, state: EngineState, *, waited_s: float) -> Admission:
        return Admission(waited_s <= self.max_wait_s)


class WaitCapFCFS(_WaitCap, FCFS):
    """FCFS with a maximum queue wait (the local serving layer's admission control).

    Args:
        max_wait_s: seconds a request may wait before it is dropped (inf = never).
    """

    name = "fcfs-waitcap"

    def __init__(self, *, max_wait_s: float = float("inf")) -> None:
        self.max_wait_s = max_wait_s


class WaitCapPriority(_WaitCap, Priority):
    """Priority by SLA λ with a maximum queue wait.

    Args:
        max_wait_s: seconds a request may wait before it is dropped (inf = never).
    """

    name = "priority-waitcap"

    def __init__(self, *, max_wait_s: float = float("inf")) -> None:
        self.max_wait_s = max_wait_s
