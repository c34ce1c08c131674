"""The shadow-price feed the supply layer publishes, as core ``PriceVector``s other layers can read.

From the congestion state sampled every ``EngineConfig.price_sample_s`` (``PriceSample``):

* prefill token price = GPU price·β1 + β1·(Λ_run + Λ_wait): a prompt token lengthens the current step
  by β1 for every request in the system, each delayed at its own λ (USD per token);
* decode token price = GPU price·β2 + β2·Λ_run (USD per token);
* KV block-second price = Λ_wait / K while the queue is blocked by KV, else 0 — complementary
  slackness (SPEC Eq. 3): a slack constraint has price 0.

Λ_run, Λ_wait are Σλ over running and waiting requests (USD/s; synthetic λ). The ``PriceVector``
carries λ = Λ_run + Λ_wait (the USD cost of one second of server delay, source ``discovered``), which a
router multiplies by the seconds a request adds. No I/O here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tokenomy.core.prices import PriceSource, PriceVector
from tokenomy.serving.entities import EngineConfig
from tokenomy.serving.result import PriceSample
from tokenomy.serving.steptime import StepTimeModel

__all__ = ["PriceFeed", "ShadowPrices", "sample_prices"]


def sample_prices(
    now_s: float,
    queue_len: int,
    running: int,
    kv_used_blocks: int,
    lam_running_usd_per_s: float,
    lam_waiting_usd_per_s: float,
    model: StepTimeModel,
    cfg: EngineConfig,
    *,
    kv_blocked: bool,
) -> PriceSample:
    """The congestion state and shadow prices (module docstring) at ``now_s``."""
    b1, b2 = model.beta1_s_per_prefill_token, model.beta2_s_per_decode_token
    lam_run, lw = lam_running_usd_per_s, lam_waiting_usd_per_s
    return PriceSample(
        now_s,
        queue_len,
        running,
        kv_used_blocks,
        lam_run,
        lw,
        cfg.gpu_usd_per_s * b1 + b1 * (lam_run + lw),
        cfg.gpu_usd_per_s * b2 + b2 * lam_run,
        lw / cfg.kv_blocks if kv_blocked else 0.0,
    )


@dataclass(frozen=True, slots=True)
class ShadowPrices:
    """Shadow prices at one time: per-token and per-block-second USD, and the core price vector."""

    time_s: float
    prefill_usd_per_token: float
    decode_usd_per_token: float
    kv_usd_per_block_s: float
    prices: PriceVector


class PriceFeed:
    """A time-indexed feed over a run's ``PriceSample``s; ``at(t)`` reads the latest at or before t.

    Args:
        samples: the run's samples, in time order.
    """

    def __init__(self, samples: Sequence[PriceSample]) -> None:
        self.samples = list(samples)
        self._t = np.array([s.time_s for s in self.samples])

    def __len__(self) -> int:
        return len(self.samples)

    def at(self, time_s: float) -> ShadowPrices:
        """The shadow prices in force at ``time_s`` (the first sample before the first time).

        Raises:
            IndexError: the feed is empty.
        """
        if not self.samples:
            raise IndexError("empty price feed")
        k = max(int(np.searchsorted(self._t, time_s, side="right")) - 1, 0)
        s = self.samples[k]
        lam = s.lam_running_usd_per_s + s.lam_waiting_usd_per_s
        return ShadowPrices(
            s.time_s,
            s.prefill_usd_per_token,
            s.decode_usd_per_token,
            s.kv_usd_per_block_s,
            PriceVector(lam_usd_per_s=lam, lam_source=PriceSource.DISCOVERED),
        )

    def columns(self) -> dict[str, np.ndarray[tuple[int], np.dtype[np.float64]]]:
        """The feed as columns (time_s, queue_len, running, prices ...); key -> array."""
        names = (
            "time_s",
            "queue_len",
            "running",
            "kv_used_blocks",
            "lam_running_usd_per_s",
            "lam_waiting_usd_per_s",
            "prefill_usd_per_token",
            "decode_usd_per_token",
            "kv_usd_per_block_s",
        )
        return {n: np.array([float(getattr(s, n)) for s in self.samples]) for n in names}
