"""The shadow prices the supply layer publishes, as core ``PriceVector``s with ``ResourcePrice`` entries.

From the congestion state sampled every ``EngineConfig.price_sample_s`` (``PriceSample``, kept in
``RunResult.prices``), ``price_vector`` builds the vector a session publishes on a ``PriceBus``
(``Session(bus=...)``, topic ``"supply"``) and returns from ``Session.prices()``:

* λ = Λ_run + Λ_wait (USD/s, source ``discovered``): the USD cost of one second of server delay, which
  a router multiplies by the seconds a request adds;
* ``PREFILL_TOKEN`` = (GPU price + Λ_run + Λ_wait)·s_pf USD per token, with s_pf the step model's own
  marginal seconds per prompt token in the current batch: ``model.prefill_extra_s(ū, D)/ū`` for D
  decoding requests and ū the mean prompt of the requests arrived so far (``cfg.block_tokens``
  before any arrived). It is what ``priced`` charges for a prefill (``congestion``): the fixed cost
  of a prefill step (β0 when nothing decodes) and the table model's mixed-step rule included, where
  a least-squares β1 under-charges a short prompt many times over;
* ``DECODE_TOKEN`` = (GPU price + Λ_run)·s_dec USD per token, s_dec = step_s(0, D + 1) − step_s(0, D)
  (the whole step when nothing decodes): one more decode token in the current batch;
* ``KV_BLOCK_SECOND`` = Λ_wait / K USD per block·s while the head of the waiting queue does not fit in
  the KV pool (it is blocked by KV at the sample time), else 0 — complementary slackness (SPEC Eq. 3):
  a slack constraint has price 0;
* ``GPU_SECOND`` = GPU price + Λ_run + Λ_wait USD per s: a second of step time costs the GPU and
  delays everyone in the system (so the prefill-token price is s_pf GPU-seconds).

Λ_run, Λ_wait are Σλ over running and waiting requests (USD/s; synthetic λ). ``PriceFeed`` reads a
finished run's samples back as vectors at any time. No I/O here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tokenomy.core.prices import (
    DECODE_TOKEN,
    GPU_SECOND,
    KV_BLOCK_SECOND,
    PREFILL_TOKEN,
    PriceSource,
    PriceVector,
    ResourcePrice,
)
from tokenomy.serving.entities import EngineConfig
from tokenomy.serving.result import PriceSample
from tokenomy.serving.steptime import StepTimeModel

__all__ = ["PriceFeed", "ShadowPrices", "marginal_s", "price_vector", "sample_prices"]


def marginal_s(model: StepTimeModel, decoding: int, ref_prompt_tokens: float) -> tuple[float, float]:
    """(s_pf, s_dec): the step model's marginal seconds per prompt token (a prompt of
    ``ref_prompt_tokens`` beside ``decoding`` decodes) and per decode token (module docstring)."""
    u = max(float(ref_prompt_tokens), 1.0)
    s_pf = model.prefill_extra_s(u, float(decoding)) / u
    s_dec = model.step_s(0.0, decoding + 1.0) - (model.step_s(0.0, float(decoding)) if decoding else 0.0)
    return max(s_pf, 0.0), max(s_dec, 0.0)


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
    decoding: int,
    ref_prompt_tokens: float,
) -> PriceSample:
    """The congestion state and shadow prices (module docstring) at ``now_s``; ``kv_blocked``: the
    head of the waiting queue does not fit in the KV pool; ``decoding``: requests in decode now;
    ``ref_prompt_tokens``: the prompt the prefill price is quoted for (ū)."""
    s_pf, s_dec = marginal_s(model, decoding, ref_prompt_tokens)
    lam_run, lw = lam_running_usd_per_s, lam_waiting_usd_per_s
    return PriceSample(
        now_s,
        queue_len,
        running,
        kv_used_blocks,
        lam_run,
        lw,
        (cfg.gpu_usd_per_s + lam_run + lw) * s_pf,
        (cfg.gpu_usd_per_s + lam_run) * s_dec,
        lw / cfg.kv_blocks if kv_blocked else 0.0,
    )


def price_vector(sample: PriceSample, cfg: EngineConfig) -> PriceVector:
    """The core price vector of one sample: λ and the four resource prices, stamped with its time.

    Λ_wait is a running sum: rounding can leave it at −1e-21 for an empty queue, so the prices are
    clipped at 0 (a ``ResourcePrice`` is never negative).
    """
    t = sample.time_s
    lam = max(sample.lam_running_usd_per_s + sample.lam_waiting_usd_per_s, 0.0)
    return PriceVector(
        lam_usd_per_s=lam,
        lam_source=PriceSource.DISCOVERED,
        resources=(
            ResourcePrice(PREFILL_TOKEN, max(sample.prefill_usd_per_token, 0.0), "token", time_s=t),
            ResourcePrice(DECODE_TOKEN, max(sample.decode_usd_per_token, 0.0), "token", time_s=t),
            ResourcePrice(KV_BLOCK_SECOND, max(sample.kv_usd_per_block_s, 0.0), "block·s", time_s=t),
            ResourcePrice(GPU_SECOND, cfg.gpu_usd_per_s + lam, "s", time_s=t),
        ),
        time_s=t,
    )


@dataclass(frozen=True, slots=True)
class ShadowPrices:
    """Compatibility view of a price vector for readers of the former ``PriceFeed.at`` record
    (``interfaces/demo_serve``): new code reads ``PriceFeed.vector`` and its resource prices."""

    prices: PriceVector

    @property
    def time_s(self) -> float:
        assert self.prices.time_s is not None
        return self.prices.time_s

    @property
    def prefill_usd_per_token(self) -> float:
        return self.prices.resource_usd(PREFILL_TOKEN)

    @property
    def decode_usd_per_token(self) -> float:
        return self.prices.resource_usd(DECODE_TOKEN)

    @property
    def kv_usd_per_block_s(self) -> float:
        return self.prices.resource_usd(KV_BLOCK_SECOND)


class PriceFeed:
    """A time-indexed feed over a run's ``PriceSample``s; ``vector(t)`` reads the latest at or before t.

    Args:
        samples: the run's samples, in time order.
        config: the run's configuration (its GPU price; default ``EngineConfig()``).
    """

    def __init__(self, samples: Sequence[PriceSample], config: EngineConfig | None = None) -> None:
        self.samples = list(samples)
        self.config = config or EngineConfig()
        self._t = np.array([s.time_s for s in self.samples])

    def __len__(self) -> int:
        return len(self.samples)

    def vector(self, time_s: float) -> PriceVector:
        """The price vector in force at ``time_s`` (the first sample's before the first time).

        Raises:
            IndexError: the feed is empty.
        """
        if not self.samples:
            raise IndexError("empty price feed")
        k = max(int(np.searchsorted(self._t, time_s, side="right")) - 1, 0)
        return price_vector(self.samples[k], self.config)

    def at(self, time_s: float) -> ShadowPrices:
        """``vector(time_s)`` in the former record's shape (compatibility; see ``ShadowPrices``)."""
        return ShadowPrices(self.vector(time_s))

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
