"""Congestion-priced scheduling: order by delay price per unit of server time, admit by Eq. 1 surplus.

Order (the cμ / WSPT rule, optimal for weighted delay on one server): key = −λ_i / ŝ_i with
ŝ_i = β1·p_i + (β2 + β0/max_num_seqs)·ô_i, the server-seconds i uses in a full batch.
Admission (at arrival, and again when i reaches the head of the queue):

    surplus_i = V_i·1 − ΔC_i − λ_i·ΔL_i − external_i        (Eq. 1, one option "serve" vs null)

ΔC_i = GPU price × (β1·u_i + β2·ô_i); ΔL_i = i's own remaining latency (``congestion.service_s``;
time already waited is sunk and not counted); external_i = ``congestion.external_delay_usd`` (the
Pigouvian charge). surplus ≤ 0 → reject (do not serve). ``priced`` uses the workload's noisy length
prediction for i and the engine's estimate of the running requests' remaining output
(``EngineState.slot_rem``: prediction, then the residual length of completed requests);
``priced-true`` is its oracle twin with true output lengths for both.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from tokenomy.serving.congestion import external_delay_usd, service_s
from tokenomy.serving.entities import EngineConfig, Workload
from tokenomy.serving.schedulers.base import Admission, EngineState, Scheduler
from tokenomy.serving.steptime import StepTimeModel

_NONE = np.zeros(0)

__all__ = [
    "CongestionPriced",
    "CongestionPricedNoExternal",
    "CongestionPricedNoQueue",
    "CongestionPricedOrder",
    "CongestionPricedTrue",
]


class CongestionPriced(Scheduler):
    """Pigouvian congestion pricing with Eq. 1 admission.

    Args:
        beta0_s, beta1_s, beta2_s: step-model coefficients used for the order key (defaults BLIS).
        max_num_seqs: batch size used in the order key.
    """

    name = "priced"
    decides = True
    uses_queue_lam = True
    charge_running = True  # Pigouvian terms 1–2 (the co-running requests)
    charge_queue = True  # term 3 (the queue behind)

    def __init__(
        self,
        *,
        beta0_s: float = 5.75e-3,
        beta1_s: float = 17.25e-6,
        beta2_s: float = 6.0e-6,
        max_num_seqs: int = 256,
    ) -> None:
        self.beta0_s = beta0_s
        self.beta1_s = beta1_s
        self.beta2_s = beta2_s
        self.max_num_seqs = max_num_seqs

    def prepare(self, model: StepTimeModel, config: EngineConfig) -> None:
        self.beta0_s = model.beta0_s
        self.beta1_s = model.beta1_s_per_prefill_token
        self.beta2_s = model.beta2_s_per_decode_token
        self.max_num_seqs = config.max_num_seqs

    def order_keys(self, wl: Workload, first: int = 0) -> NDArray[np.float64]:
        out = self.output_estimate(wl)
        s = self.beta1_s * wl.prompt_tokens + (self.beta2_s + self.beta0_s / self.max_num_seqs) * out
        return -wl.lam_usd_per_s / np.maximum(s, 1e-12)

    def decide(self, i: int, wl: Workload, state: EngineState, *, waited_s: float) -> Admission:
        model, cfg = state.step_model, state.config
        u = float(wl.prompt_tokens[i])
        o = max(float((wl.output_tokens if self.knows_true_lengths else wl.predicted_output_tokens)[i]), 1.0)
        n = state.n_running
        dc = cfg.gpu_usd_per_s * (model.beta1_s_per_prefill_token * u + model.beta2_s_per_decode_token * o)
        dl = service_s(model, u, o, n)
        blocks = (u + o) / cfg.block_tokens
        share = max(1.0 / cfg.max_num_seqs, blocks / cfg.kv_blocks)
        binds = n + 1 >= cfg.max_num_seqs or state.kv_available_blocks - blocks < 0.05 * cfg.kv_blocks
        ext = 0.0
        if self.charge_running or self.charge_queue:
            on = self.charge_running and n > 0
            ext = external_delay_usd(
                model,
                u_tokens=u,
                out_tokens=o,
                lam_running=state.slot_lam[:n] if on else _NONE,
                rem_running=(state.slot_rem_true if self.knows_true_lengths else state.slot_rem)[:n]
                if on
                else _NONE,
                lam_waiting_usd_per_s=state.lam_waiting_usd_per_s if self.charge_queue else 0.0,
                capacity_binds=binds,
                capacity_share=share,
                token_budget=float(cfg.max_batched_tokens),
            )
        s = float(wl.v_usd[i]) - dc - float(wl.lam_usd_per_s[i]) * dl - ext
        return Admission(s > 0.0, dc, dl, ext, s)


class CongestionPricedOrder(CongestionPriced):
    """Ablation: ``priced``'s order with no admission (it serves everything)."""

    name = "priced-order"
    decides = False
    uses_queue_lam = False
    ablation = True


class CongestionPricedNoExternal(CongestionPriced):
    """Ablation: Eq. 1 admission on the request's own value, cost and latency, no Pigouvian charge."""

    name = "priced-noext"
    uses_queue_lam = False
    charge_running = False
    charge_queue = False
    ablation = True


class CongestionPricedNoQueue(CongestionPriced):
    """Ablation: Eq. 1 with the charge on the co-running requests (terms 1–2), not the queue's (term 3)."""

    name = "priced-noqueue"
    uses_queue_lam = False
    charge_queue = False
    ablation = True


class CongestionPricedTrue(CongestionPriced):
    """The same rule with true output lengths (oracle; the yardstick for the 10% gap)."""

    name = "priced-true"
    knows_true_lengths = True
