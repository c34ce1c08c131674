"""The Pigouvian charge: the delay one request imposes on the others, priced at their λ (Vickrey/Pigou).

Under the linear step model step_s = β0 + β1·P + β2·D, admitting request i (u_i uncached prompt
tokens, ô_i predicted output tokens) into a batch changes the others' latency in three ways:

1. Its prefill step is longer by β1·u_i for every co-running request j: in general by
   ``model.prefill_extra_s(u_i, n)`` = step_s(u_i, n) − step_s(0, n), which under the table model
   includes its fixed prefill cost and the mixed-step rule (on llama2-70b/H100 a least-squares
   β1 alone under-charges a 50-token prompt 8× beside 20 decodes, 14× alone), and under the linear model is β1·u_i (plus β0 when nothing else runs).
2. Each of its ô_i − 1 decode steps is longer by β2 for every j still running then; j has r_j
   decode steps left after i's prefill step, so j waits β2·min(ô_i − 1, r_j − 1) more.
3. When capacity binds (slots or KV blocks), the waiting queue behind i is pushed back: i occupies
   a share max(1/max_num_seqs, b_i/K) of the capacity for its lifetime S_i (b_i = its peak blocks,
   K = all blocks), and when the per-step token budget T binds, its prefill takes u_i/T of a step
   of length τ. The queue delay is D_q = max(S_i·share if capacity binds, τ·u_i/T, Δpf_i).

    external_usd = Σ_{j running} λ_j·[Δpf_i + β2·min(ô_i − 1, r_j − 1)] + Λ_wait·D_q   (Δpf_i = term 1)

with S_i = (β0 + β1·u_i + β2·n) + (ô_i − 1)·(β0 + β2·(n + 1)) for a batch of n others. Terms 1–2 are
exact for requests that run together from i's prefill step on (tested against simulating with and
without i); term 3 is exact for a serial server (max_num_seqs = 1) for every request waiting at the
decision, also with staggered arrivals, and a fluid approximation otherwise. Arrivals after i are
not charged (the state at the decision is all that is known): on a serial server each of them is
delayed by between 0 and S_i. With two slots, identical requests and a queue, the exact delay of
the k-th request behind i is the gap between consecutive start times (alternately ρ and S_i − ρ)
instead of the fluid S_i/2, and terms 1–2 are not incurred (the next waiting request would take
the slot); ``tests/serving/test_congestion_queue.py`` derives these bounds and checks them, and
docs/serving.md gives the measured gap. Λ_wait is the queue *behind* i (the engine leaves i's own λ
out at its head-of-queue decision).
The same quantities give the published shadow prices (see ``prices``).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from tokenomy.serving.steptime import StepTimeModel

__all__ = ["external_delay_usd", "own_latency_s", "service_s"]


def service_s(model: StepTimeModel, u_tokens: float, out_tokens: float, n_others: int) -> float:
    """Seconds request i stays in a batch of ``n_others``: its prefill step plus its decode steps."""
    pf = model.step_s(u_tokens, n_others)
    return pf + max(out_tokens - 1.0, 0.0) * model.step_s(0.0, n_others + 1)


def own_latency_s(model: StepTimeModel, u_tokens: float, out_tokens: float, n_others: int) -> float:
    """Predicted end-to-end seconds from admission for request i (same as ``service_s``)."""
    return service_s(model, u_tokens, out_tokens, n_others)


def external_delay_usd(
    model: StepTimeModel,
    *,
    u_tokens: float,
    out_tokens: float,
    lam_running: NDArray[np.float64],
    rem_running: NDArray[np.float64],
    lam_waiting_usd_per_s: float = 0.0,
    capacity_binds: bool = False,
    capacity_share: float = 0.0,
    token_budget: float = float("inf"),
) -> float:
    """The delay cost (USD) request i imposes on others (module docstring formula).

    Args:
        model: the step-time model (its β1, β2 are the marginal seconds per token).
        u_tokens: i's uncached prompt tokens; out_tokens: i's (predicted) output tokens.
        lam_running, rem_running: λ (USD/s) and remaining output tokens of each co-running request.
        lam_waiting_usd_per_s: Σ λ of the requests waiting behind i.
        capacity_binds: slots or KV blocks are the binding constraint for the queue.
        capacity_share: max(1/max_num_seqs, b_i/K).
        token_budget: per-step token budget T.

    Returns:
        external cost in USD (≥ 0).
    """
    b2 = model.beta2_s_per_decode_token
    n = int(lam_running.size)
    pf_s = model.prefill_extra_s(u_tokens, n)  # i's prefill step over the others' decode step
    cost = 0.0
    if n:
        dec = np.minimum(out_tokens - 1.0, rem_running - 1.0)
        cost = float(pf_s * lam_running.sum() + b2 * (lam_running @ np.maximum(dec, 0.0)))
    if lam_waiting_usd_per_s > 0.0:
        d_q = pf_s
        tau = model.step_s(0.0, n + 1)
        d_q = max(d_q, tau * u_tokens / token_budget)
        if capacity_binds:
            d_q = max(d_q, service_s(model, u_tokens, out_tokens, n) * capacity_share)
        cost += lam_waiting_usd_per_s * d_q
    return cost
