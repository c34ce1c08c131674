"""Prefill/decode disaggregation (Splitwise, DistServe): two pools joined by a KV transfer.

A request is prefilled in the *prefill pool* (an ``Engine`` that runs every request with one output
token: the prompt's KV and the first token), its KV is then shipped to the *decode pool*, which
generates the remaining tokens. The transfer takes

    transfer_s = latency_s + prompt_tokens · bytes_per_token / bandwidth_bytes_per_s

(default: llama-3.1-8b in bf16, 2 (K, V) · 32 layers · 8 KV heads · 128 dims · 2 bytes = 131,072 bytes
per token, over an assumed 50 GB/s link with 0.1 ms latency; transfers do not contend with each
other). In the decode pool a transferred request arrives at ``first_token + transfer_s``, takes its
KV blocks at once (no prefill compute: the decode pool's step model charges no prefill tokens) and
decodes its other ``output − 1`` tokens. Each pool has its own configuration and KV capacity, and
the GPU cost counts both pools' busy seconds.

Scheduling: the scheduler under test orders and admits requests at the prefill pool (a deciding
scheduler sees that pool's congestion only); the decode pool serves in arrival order (FCFS), as
Splitwise and DistServe do. Not modelled: transfer contention, pool sizing (one GPU per pool).
No I/O here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from tokenomy.core.errors import ValidationError
from tokenomy.serving.engine import Engine, Progress
from tokenomy.serving.entities import EngineConfig, Workload
from tokenomy.serving.recording import RecordSpec
from tokenomy.serving.result import COMPLETED, TOO_LARGE, PriceSample, RunResult
from tokenomy.serving.schedulers import FCFS
from tokenomy.serving.schedulers.base import Scheduler
from tokenomy.serving.steptime import BLIS_LLAMA31_8B_H100_TP1, StepTimeModel

__all__ = ["DecodeOnlyStepTime", "DisaggregatedEngine", "KVTransfer"]


@dataclass(frozen=True, slots=True)
class KVTransfer:
    """Cost of moving a prompt's KV from the prefill pool to the decode pool (module docstring)."""

    bytes_per_token: float = 2 * 32 * 8 * 128 * 2.0
    bandwidth_bytes_per_s: float = 50e9
    latency_s: float = 1e-4

    def __post_init__(self) -> None:
        if not (self.bytes_per_token >= 0 and self.bandwidth_bytes_per_s > 0 and self.latency_s >= 0):
            raise ValidationError(
                "KVTransfer needs bytes_per_token ≥ 0, bandwidth_bytes_per_s > 0 and latency_s ≥ 0; "
                f"got {self.bytes_per_token!r}, {self.bandwidth_bytes_per_s!r}, {self.latency_s!r}"
            )

    def seconds(self, prompt_tokens: NDArray[np.int64]) -> NDArray[np.float64]:
        """Transfer seconds per request."""
        per = self.bytes_per_token / self.bandwidth_bytes_per_s
        return np.asarray(self.latency_s + prompt_tokens * per, dtype=np.float64)


@dataclass(frozen=True, slots=True)
class DecodeOnlyStepTime(StepTimeModel):
    """A step model for the decode pool: prefill tokens (transferred KV) cost no compute."""

    base: StepTimeModel
    beta0_s: float = 0.0
    beta1_s_per_prefill_token: float = 0.0
    beta2_s_per_decode_token: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "beta0_s", self.base.beta0_s)
        object.__setattr__(self, "beta2_s_per_decode_token", self.base.beta2_s_per_decode_token)

    def step_s(self, prefill_tokens: float, decode_tokens: float, context_pairs: float = 0.0) -> float:
        return self.base.step_s(0.0, decode_tokens)


class DisaggregatedEngine:
    """Two pools (prefill, decode) and a KV transfer; ``run`` has ``Engine.run``'s contract.

    Args:
        step_model: the GPU's step-time model (both pools).
        prefill_config, decode_config: each pool's knobs (default ``EngineConfig()`` each).
        transfer: the KV transfer cost.
        eviction: prefix-cache eviction in the prefill pool.
    """

    def __init__(
        self,
        *,
        step_model: StepTimeModel = BLIS_LLAMA31_8B_H100_TP1,
        prefill_config: EngineConfig | None = None,
        decode_config: EngineConfig | None = None,
        transfer: KVTransfer | None = None,
        eviction: str = "lru",
    ) -> None:
        self.step_model = step_model
        self.prefill_config = prefill_config or EngineConfig()
        dc = decode_config or EngineConfig()
        # the transferred KV lands in one step: no per-step token budget on it, no prefix cache
        self.decode_config = replace(dc, max_batched_tokens=10**12, prefix_cache=False)
        self.transfer = transfer or KVTransfer()
        self.eviction = eviction

    def run(
        self,
        wl: Workload,
        scheduler: Scheduler,
        *,
        progress: Progress | None = None,
        record: RecordSpec | None = None,
    ) -> RunResult:
        """Prefill pool under ``scheduler``, KV transfer, decode pool FCFS; one combined result.

        ``record`` records the prefill pool's eviction and ordering decisions (where the scheduler
        under test and the prefix cache are).
        """
        n = len(wl)
        one = np.ones(n, np.int64)
        stage1 = Engine(step_model=self.step_model, config=self.prefill_config, eviction=self.eviction).run(
            replace(wl, output_tokens=one), scheduler, progress=progress, record=record
        )
        first = np.where(stage1.status == COMPLETED, stage1.finish_s, np.nan)
        go = np.flatnonzero((stage1.status == COMPLETED) & (wl.output_tokens > 1))
        t_dec = first[go] + self.transfer.seconds(wl.prompt_tokens[go])
        order = np.argsort(t_dec, kind="stable")
        idx = go[order]
        status = stage1.status.copy()
        finish = first.copy()
        finish[stage1.status != COMPLETED] = stage1.finish_s[stage1.status != COMPLETED]
        pre = stage1.preemptions.copy()
        parts = [stage1]
        if idx.size:
            wl2 = Workload(
                f"{wl.name}/decode",
                t_dec[order],
                wl.prompt_tokens[idx],
                wl.output_tokens[idx] - 1,
                wl.tenant[idx],
                wl.tenant_names,
                wl.v_usd[idx],
                wl.lam_usd_per_s[idx],
                np.maximum(wl.predicted_output_tokens[idx] - 1, 1.0),
                synthetic=wl.synthetic,
            ).validate()
            stage2 = Engine(step_model=DecodeOnlyStepTime(self.step_model), config=self.decode_config).run(
                wl2, FCFS()
            )
            parts.append(stage2)
            finish[idx] = stage2.finish_s
            status[idx] = np.where(stage2.status == COMPLETED, COMPLETED, TOO_LARGE)
            first[idx[stage2.status != COMPLETED]] = np.nan
            pre[idx] += stage2.preemptions
        last = parts[-1]
        if progress is not None:
            progress(n, n)
        return RunResult(
            wl,
            scheduler.name,
            self.prefill_config,
            status,
            first,
            finish,
            pre,
            stage1.hit_tokens,
            last.itl_s if len(parts) > 1 else np.zeros(0),
            last.itl_weight if len(parts) > 1 else np.zeros(0),
            stage1.prefill_tokens,
            sum(p.decode_tokens for p in parts),
            sum(p.busy_s for p in parts),
            sum(p.steps for p in parts),
            sum(p.jumps for p in parts),
            last.spec_steps if len(parts) > 1 else 0,
            stage1.evictions,
            stage1.max_kv_used_blocks,
            _merge_prices(stage1.prices, last.prices if len(parts) > 1 else []),
            stage1.admissions,
            sum(p.wall_s for p in parts),
            last.spec_switches if len(parts) > 1 else np.zeros((0, 5)),
            stage1.eviction_log,
            stage1.order_log,
        )


def _merge_prices(pre: list[PriceSample], dec: list[PriceSample]) -> list[PriceSample]:
    """The prefill pool's feed with the decode pool's decode price and load at each sample time."""
    if not dec:
        return list(pre)
    t = np.array([s.time_s for s in dec])
    out = []
    for s in pre:
        k = int(np.searchsorted(t, s.time_s, side="right")) - 1
        d = dec[k] if k >= 0 else None
        out.append(
            replace(
                s,
                running=s.running + (d.running if d else 0),
                lam_running_usd_per_s=s.lam_running_usd_per_s + (d.lam_running_usd_per_s if d else 0.0),
                decode_usd_per_token=d.decode_usd_per_token if d else 0.0,
                kv_usd_per_block_s=max(s.kv_usd_per_block_s, d.kv_usd_per_block_s if d else 0.0),
            )
        )
    return out
