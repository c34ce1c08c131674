"""Size the served cluster a priori, from the TRAIN workload only, to a stated utilisation at load 1.

The congestion channel (a cheap route → more calls on the cluster → queueing for everyone) can carry
a gain only where the cluster queues. How big the cluster is must therefore be fixed before any test
run, from train alone, by a rule written down in advance: the cluster's capacity is chosen so that
the TRAIN workload at load 1 offers ``TARGET_UTILISATION`` (0.6) of it; loads 2 and 4 then offer
more than the cluster can serve while the arrivals last.

Offered utilisation (closed form, no simulation, no outcome read):

    ρ = W / T
    W = Σ GPU-seconds of the work the deployment's default rules send to the cluster: every chat request
        the local (cost-min) router sends to a self-hosted model, every agent call up to the local step
        cap; one request's GPU-seconds = β1·prompt + output·(β2 + β0/B) in a batch of B = 16
    T = the window in which that work would arrive on an infinitely fast cluster: the last chat arrival,
        or an agent task's arrival + its calls × the tool time between calls, whichever is later.

The step model's coefficients are all multiplied by ``slowdown`` = ρ_target / ρ(base) (ρ is linear
in them), i.e. the cluster has 1/``slowdown`` of the base cluster's throughput (the base: one H100
serving the BLIS llama-3.1-8b step model; the six self-hosted RouterBench models are 7B–70B, so a
slower cluster is the more faithful one). A MODELLING choice, labelled in every output.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from tokenomy.core.errors import ValidationError
from tokenomy.economy.requests import ComposedWorkload
from tokenomy.economy.training import Split
from tokenomy.serving.steptime import LinearStepTime, StepTimeModel

__all__ = ["NOMINAL_BATCH", "TARGET_UTILISATION", "ClusterSizing", "offered_utilisation", "size_cluster"]

TARGET_UTILISATION = 0.6
"""Offered utilisation of the cluster by the TRAIN workload at load 1 (fixed before any result was seen)."""

NOMINAL_BATCH = 16
"""Requests sharing one step's fixed cost β0 in the GPU-seconds of a request."""


@dataclass(frozen=True, slots=True)
class ClusterSizing:
    """The cluster chosen on train.

    Attributes:
        target_utilisation: ρ at load 1 on train that the cluster is sized to.
        base_utilisation: ρ the base step model would have at load 1 on train.
        slowdown: the base step model's coefficients are multiplied by this.
        work_gpu_s: W on the base step model (GPU-seconds); window_s: T at load 1 (seconds).
        step_model: the sized step model the cluster runs.
    """

    target_utilisation: float
    base_utilisation: float
    slowdown: float
    work_gpu_s: float
    window_s: float
    step_model: LinearStepTime

    def note(self) -> str:
        """One line for every output (a modelling choice)."""
        return (
            f"modelling choice: cluster sized on TRAIN to offered utilisation {self.target_utilisation:g} at "
            f"load 1 (base {self.step_model.source.split(' ×')[0]} would be {self.base_utilisation:.3f}): "
            f"step times ×{self.slowdown:.3f}, i.e. {1 / self.slowdown:.3f} of the base cluster's throughput"
        )


def _gpu_s(model: StepTimeModel, prompt: np.ndarray, output: np.ndarray) -> float:
    per_token = model.beta2_s_per_decode_token + model.beta0_s / NOMINAL_BATCH
    return float(np.sum(model.beta1_s_per_prefill_token * prompt + per_token * output))


def offered_utilisation(wl: ComposedWorkload, split: Split, model: StepTimeModel) -> tuple[float, float]:
    """(W GPU-seconds, T seconds) of ``wl`` under the deployment's default rules (module docstring).

    Raises:
        ValidationError: the workload offers no work to the cluster.
    """
    ch, ag, r = wl.chat, wl.agents, split.router
    on = r.hosted[r.local_choice[ch.prompt_row]]
    work = _gpu_s(model, ch.prompt_tokens[on].astype(np.float64), ch.output_tokens[on].astype(np.float64))
    ends = [float(ch.arrival_s.max())] if len(ch) else [0.0]
    cap = int(split.agent.step_cap.max_steps_)
    for a in range(len(ag)):
        traj = int(ag.traj[a])
        k = min(split.agent.n_calls(traj), cap)
        lo = split.agent.row(traj, 0)
        rows = slice(lo, lo + k)
        work += _gpu_s(
            model,
            split.agent.prompt_tokens[rows].astype(np.float64),
            split.agent.output_tokens[rows].astype(np.float64),
        )
        ends.append(float(ag.arrival_s[a]) + k * wl.spec.tool_s)
    if work <= 0:
        raise ValidationError("cluster sizing: the train workload sends no work to the cluster")
    return work, max(max(ends), 1e-9)


def size_cluster(
    train: ComposedWorkload,
    split: Split,
    base: StepTimeModel,
    *,
    target_utilisation: float = TARGET_UTILISATION,
) -> ClusterSizing:
    """The step model that makes ``train`` at load 1 offer ``target_utilisation`` of the cluster.

    Raises:
        ValidationError: the target is not in (0, 10], or ``base`` is not a linear (BLIS) step model.
    """
    if not 0 < target_utilisation <= 10:
        raise ValidationError(f"--utilisation must be in (0, 10]; got {target_utilisation!r}")
    if not isinstance(base, LinearStepTime):
        raise ValidationError(f"cluster sizing scales a LinearStepTime; got {type(base).__name__}")
    work, window = offered_utilisation(train, split, base)
    rho = work / window
    k = target_utilisation / rho
    sized = replace(
        base,
        beta0_s=base.beta0_s * k,
        beta1_s_per_prefill_token=base.beta1_s_per_prefill_token * k,
        beta2_s_per_decode_token=base.beta2_s_per_decode_token * k,
        source=f"{base.source} ×{k:.3f}",
    )
    return ClusterSizing(target_utilisation, rho, k, work, window, sized)
