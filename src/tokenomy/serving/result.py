"""What one simulation run returns: per-request columns, counters and the shadow-price feed.

Plain data (numpy columns), no metrics: ``metrics.summarize`` turns a ``RunResult`` into numbers.
Status codes: 1 completed, 2 rejected by the scheduler (Eq. 1 null option), 3 rejected because the
request alone needs more KV blocks than the whole cache (never admitted, counted).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from tokenomy.serving.entities import EngineConfig, Workload

__all__ = [
    "COMPLETED",
    "REJECTED",
    "TOO_LARGE",
    "AdmissionLog",
    "EvictionLog",
    "OrderLog",
    "PriceSample",
    "RunResult",
]

COMPLETED, REJECTED, TOO_LARGE = 1, 2, 3


@dataclass(frozen=True, slots=True)
class PriceSample:
    """Congestion state and shadow prices at one time (USD per token / per block-second)."""

    time_s: float
    queue_len: int
    running: int
    kv_used_blocks: int
    lam_running_usd_per_s: float
    lam_waiting_usd_per_s: float
    prefill_usd_per_token: float
    decode_usd_per_token: float
    kv_usd_per_block_s: float


@dataclass(frozen=True, slots=True)
class AdmissionLog:
    """Admission decisions taken by a deciding scheduler, columnar (for the ledger)."""

    request: NDArray[np.int64]
    time_s: NDArray[np.float64]
    admit: NDArray[np.bool_]
    dc_usd: NDArray[np.float64]
    dl_s: NDArray[np.float64]
    external_usd: NDArray[np.float64]
    surplus_usd: NDArray[np.float64]

    @classmethod
    def from_rows(
        cls, rows: list[tuple[int, float, bool, float, float, float, float]]
    ) -> AdmissionLog | None:
        """Columns from (request, time, admit, ΔC, ΔL, external, surplus) rows; ``None`` when empty."""
        if not rows:
            return None
        c = list(zip(*rows, strict=True))
        return cls(
            np.array(c[0], np.int64),
            np.array(c[1]),
            np.array(c[2], bool),
            np.array(c[3]),
            np.array(c[4]),
            np.array(c[5]),
            np.array(c[6]),
        )


@dataclass(frozen=True, slots=True)
class EvictionLog:
    """Sampled prefix-cache evictions (``recording``), columnar; candidates are ragged rows.

    Attributes:
        policy: the eviction policy's registry name (lru, fifo, lfu).
        blocks_per_entry, tokens_per_entry: size of one cache entry (one prefix hash block).
        time_s, kv_usd_per_block_s, prefill_usd_per_token, evictable: shape (n,), per eviction: when,
            the KV block-second and prefill-token shadow prices then, entries that were evictable.
        start: shape (n + 1,); eviction e's candidates are rows ``start[e]:start[e + 1]``, the
            policy's next victims in its order (the first one is the entry it evicted).
        hash, age_s, reuses: per candidate: its prefix hash, seconds since it entered the cache, and
            the times a request reused it since.
    """

    policy: str
    blocks_per_entry: int
    tokens_per_entry: int
    time_s: NDArray[np.float64]
    kv_usd_per_block_s: NDArray[np.float64]
    prefill_usd_per_token: NDArray[np.float64]
    evictable: NDArray[np.int64]
    start: NDArray[np.int64]
    hash: NDArray[np.int64]
    age_s: NDArray[np.float64]
    reuses: NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class OrderLog:
    """Sampled ordering decisions (``recording``): the queue's top candidates at a scheduling step.

    Attributes:
        rule: the priced rule whose Eq. 1 terms are recorded (``priced`` or ``priced-true``).
        time_s, queue_len, admitted_total: shape (n,), per step: when, requests waiting, and
            requests admitted in the step (also those beyond the recorded top).
        start: shape (n + 1,); step s's candidates are rows ``start[s]:start[s + 1]`` in serve order.
        request, priority: per candidate: request index and the scheduler's priority (lower first).
        dc_usd, dl_s, external_usd, surplus_usd: the congestion-priced rule's Eq. 1 terms for the
            candidate at that state (``schedulers.priced``; USD, s).
        admitted, rejected: whether the step admitted it, or the scheduler rejected it (Eq. 1 null).
    """

    rule: str
    time_s: NDArray[np.float64]
    queue_len: NDArray[np.int64]
    admitted_total: NDArray[np.int64]
    start: NDArray[np.int64]
    request: NDArray[np.int64]
    priority: NDArray[np.float64]
    dc_usd: NDArray[np.float64]
    dl_s: NDArray[np.float64]
    external_usd: NDArray[np.float64]
    surplus_usd: NDArray[np.float64]
    admitted: NDArray[np.bool_]
    rejected: NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class RunResult:
    """One run of one workload under one scheduler.

    Attributes:
        status: per request, COMPLETED / REJECTED / TOO_LARGE.
        first_token_s, finish_s: absolute times (NaN where never reached); finish_s of a rejected
            request is the time it was rejected.
        preemptions, hit_tokens: per request.
        itl_s, itl_weight: inter-token gaps (step seconds per emitted token) and their token counts.
        prefill_tokens, decode_tokens: tokens the GPU computed (prefill includes recompute).
        busy_s: seconds the GPU was stepping; steps: iterations simulated; jumps: multi-step advances.
        spec_steps: steps run with speculative decoding on; evictions: prefix-cache evictions.
        max_kv_used_blocks: the most blocks ever in use (never above ``config.kv_blocks``).
        prices: the shadow-price feed.
        admissions: the deciding scheduler's verdicts (``None`` for a non-deciding scheduler).
        spec_switches: shape (k, 5), one row per change of the speculation make-or-buy verdict:
            time_s, on (1/0), decode batch size, seconds per token plain, seconds per token speculating.
        spec_requests: shape (m, 7), per-request speculation (``EngineConfig.spec_rule``): one
            row per verdict at decode entry (time, request, on, ΔC plain, ΔC speculating in USD per
            token, ΔL plain, ΔL speculating in seconds per token; ``speculation``).
        eviction_log, order_log: sampled eviction and ordering decisions, only when the run was
            asked to record them (``Engine.run(record=...)``), else ``None``.
    """

    workload: Workload
    scheduler: str
    config: EngineConfig
    status: NDArray[np.int64]
    first_token_s: NDArray[np.float64]
    finish_s: NDArray[np.float64]
    preemptions: NDArray[np.int64]
    hit_tokens: NDArray[np.int64]
    itl_s: NDArray[np.float64]
    itl_weight: NDArray[np.float64]
    prefill_tokens: int
    decode_tokens: float
    busy_s: float
    steps: int
    jumps: int
    spec_steps: int
    evictions: int
    max_kv_used_blocks: int
    prices: list[PriceSample] = field(default_factory=list)
    admissions: AdmissionLog | None = None
    wall_s: float = 0.0
    spec_switches: NDArray[np.float64] = field(default_factory=lambda: np.zeros((0, 5)))
    eviction_log: EvictionLog | None = None
    order_log: OrderLog | None = None
    spec_requests: NDArray[np.float64] = field(default_factory=lambda: np.zeros((0, 7)))
