"""The value of holding a cached prefix block against its holding cost at the KV price (SPEC Eq. 10).

For a resident block of class k (``reuse.block_class``) whose last demand was ``age_s`` ago:

* reuse rate r = h_k(age) = exp(α_k − δ·age) reuses per second (``reuse.DepreciationFit``), so the
  expected time to its next reuse is τ = 1/r;
* value of the next reuse V_b = w · H · p_pre: the H prompt tokens it saves at the live prefill-token
  price p_pre (USD/token: GPU time plus everyone's delay, ``serving.prices``), scaled by w, the
  relative latency price of the requests likely to reuse it (``v_weight``);
* holding cost C_b = p_kv · E · τ: E KV blocks held for τ seconds at the live KV block-second
  shadow price p_kv.

Keep (or admit) while V_b ≥ C_b, i.e. while r·w·H·p_pre ≥ p_kv·E: the expected saving per second
of holding covers the rent. When the KV constraint is slack, p_kv = 0 (complementary slackness) and
every block passes. Evicting the lowest V_b / C_b first is evicting the lowest r·w first, since H,
E, p_pre and p_kv are the same for every block at one moment. ``w`` here is the reusers' latency
price λ relative to the population mean, shrunk toward 1 by ``prior`` pseudo-demands: in the
simulator λ and V are SYNTHETIC draws, independent across requests, so w carries no information
about the next reuser there (a trace with tenants would). No I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from tokenomy.capital.cache.reuse import DepreciationFit

__all__ = ["HoldingTest", "holding_test", "v_weight"]


def v_weight(demands: int, lam_sum_usd_per_s: float, lam_mean_usd_per_s: float, prior: float) -> float:
    """(Σλ of past demanders + prior·λ̄) / ((demands + prior)·λ̄); 1 when λ̄ is 0."""
    if lam_mean_usd_per_s <= 0:
        return 1.0
    return (lam_sum_usd_per_s + prior * lam_mean_usd_per_s) / ((demands + prior) * lam_mean_usd_per_s)


@dataclass(frozen=True, slots=True)
class HoldingTest:
    """One block's keep test (module docstring); USD and seconds."""

    reuse_per_s: float
    value_usd: float
    holding_usd: float

    @property
    def keep(self) -> bool:
        """Whether the expected value of the next reuse covers holding the block until then."""
        return self.value_usd >= self.holding_usd

    @property
    def expected_wait_s(self) -> float:
        """τ = 1/r, seconds to the next reuse at the current rate (inf at rate 0)."""
        return 1.0 / self.reuse_per_s if self.reuse_per_s > 0 else math.inf


def holding_test(
    fit: DepreciationFit,
    klass: int,
    age_s: float,
    *,
    weight: float,
    tokens: int,
    blocks: int,
    prefill_usd_per_token: float,
    kv_usd_per_block_s: float,
) -> HoldingTest:
    """The keep test of a block of class ``klass`` at ``age_s`` since its last demand.

    Args:
        fit: the fitted reuse hazard.
        klass: the block's class.
        age_s: seconds since its last demand (≥ 0).
        weight: the reusers' relative latency price w (``v_weight``).
        tokens, blocks: prompt tokens it holds and KV blocks it occupies.
        prefill_usd_per_token, kv_usd_per_block_s: the live shadow prices.
    """
    r = fit.hazard_per_s(klass, max(age_s, 0.0))
    value = weight * tokens * prefill_usd_per_token
    rent = kv_usd_per_block_s * blocks
    hold = 0.0 if rent <= 0 else (rent / r if r > 0 else math.inf)
    return HoldingTest(r, value, hold)
