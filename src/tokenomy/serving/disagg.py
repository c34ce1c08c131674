"""Prefill/decode disaggregation (Splitwise, DistServe): two pools joined by a KV transfer.

A request is prefilled in the *prefill pool* (an engine session that runs every request with one
output token: the prompt's KV and the first token, so TTFT is the prefill pool's), its KV is then
shipped to the *decode pool*, which generates the remaining tokens. The two pools run as one
co-simulation (``DisaggregatedEngine.run``): whichever session's clock is behind takes its next
pass, so every hand-off in either direction is seen at its own time.

* **Transfer time.** ``KVTransfer``: transfer_s = latency_s + prompt_tokens · bytes_per_token /
  bandwidth_bytes_per_s, bytes per token from the model's ``steptime.KVFootprint`` (default
  llama-3.1-8b in bf16, 131,072 bytes per token, over a 50 GB/s link with 0.1 ms latency).
  Transfers share the one link first come first served: a prompt finished at t_c lands at
  max(t_c, link free) + transfer_s, and joins the decode pool's queue then.
* **KV held until it lands.** The prefill pool keeps a finished prompt's KV blocks until the decode
  pool admits it (``Iteration.hold``/``release_held``), which is never before it lands: the KV lives
  on the prefill side until the decode side has pulled it and has room for it.
* **Recompute is charged.** The decode pool's first prefill of a request is its shipped KV and costs
  no step time (``Iteration.transferred``), so its join step costs a decode step; a request the
  decode pool preempts (out of KV) loses its KV and is re-prefilled there, prompt and generated
  tokens, at the step model's full prefill cost, and those tokens enter the decode pool's waiting
  tokens and its published prefill price like any recompute (``RunResult.prefill_tokens`` counts
  them; ``DisaggStats.recompute_tokens``).
* **Back-pressure.** Admission to the prefill pool closes while ``handoff_limit`` finished prompts
  wait for the decode pool (held, not yet admitted there; default: the decode pool's
  ``max_num_seqs``; ``None``: only the held KV pushes back, through the prefill pool's KV, and with
  it its KV shadow price). The published feed merges both pools (``_merge_prices``), so a full
  decode pool shows as a KV price there.

Scheduling: the scheduler under test orders and admits requests at the prefill pool (a deciding
scheduler sees that pool's congestion only); the decode pool serves in arrival order (FCFS), as
Splitwise and DistServe do. Each pool has its own configuration and KV capacity; the GPU cost
counts both pools' busy seconds. Not modelled: under back-pressure the transfer is taken as done by
the time the decode pool admits the request (its seconds overlap the wait); pool sizing (one GPU
per pool). No I/O here.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from tokenomy.core._checks import flag, whole
from tokenomy.core.errors import ValidationError
from tokenomy.serving.engine import Engine, Progress
from tokenomy.serving.entities import EngineConfig, ServeRequest, Workload
from tokenomy.serving.recording import RecordSpec
from tokenomy.serving.result import COMPLETED, TOO_LARGE, PriceSample, RunResult
from tokenomy.serving.schedulers import FCFS
from tokenomy.serving.schedulers.base import Scheduler
from tokenomy.serving.session import Session
from tokenomy.serving.steptime import BLIS_LLAMA31_8B_H100_TP1, KVFootprint, StepTimeModel

__all__ = ["LLAMA31_8B", "DisaggStats", "DisaggregatedEngine", "KVTransfer"]

# llama-3.1-8b: 32 layers, hidden 4096, 32 query heads over 8 KV heads, bf16, 16 GB of weights
LLAMA31_8B = KVFootprint("llama-3.1-8b", 32, 4096, 32, 8, 2, 16e9)
_INF = math.inf


@dataclass(frozen=True, slots=True)
class KVTransfer:
    """Cost of moving a prompt's KV from the prefill pool to the decode pool (module docstring).

    Raises:
        ValidationError: bytes_per_token < 0, bandwidth ≤ 0 or latency ≤ 0 (a link has latency;
            the co-simulation needs it to be positive).
    """

    bytes_per_token: float = LLAMA31_8B.bytes_per_token
    bandwidth_bytes_per_s: float = 50e9
    latency_s: float = 1e-4

    def __post_init__(self) -> None:
        if not (self.bytes_per_token >= 0 and self.bandwidth_bytes_per_s > 0 and self.latency_s > 0):
            raise ValidationError(
                "KVTransfer needs bytes_per_token ≥ 0, bandwidth_bytes_per_s > 0 and latency_s > 0; "
                f"got {self.bytes_per_token!r}, {self.bandwidth_bytes_per_s!r}, {self.latency_s!r}"
            )

    @classmethod
    def for_model(
        cls, footprint: KVFootprint, *, bandwidth_bytes_per_s: float = 50e9, latency_s: float = 1e-4
    ) -> KVTransfer:
        """The transfer of ``footprint``'s KV (its bytes per token, GQA aware) over a link."""
        return cls(footprint.bytes_per_token, bandwidth_bytes_per_s, latency_s)

    def seconds(self, prompt_tokens: NDArray[np.int64]) -> NDArray[np.float64]:
        """Transfer seconds per request, alone on the link."""
        per = self.bytes_per_token / self.bandwidth_bytes_per_s
        return np.asarray(self.latency_s + prompt_tokens * per, dtype=np.float64)


@dataclass(frozen=True, slots=True)
class DisaggStats:
    """What the hand-off between the pools did in one run.

    Attributes:
        landed_s: per request, when its KV landed at the decode pool (NaN: never shipped).
        handoff_wait_s: per request, decode-pool admission − landing (NaN: never shipped).
        held_peak_requests, held_peak_blocks: most prompts (and their KV blocks) the prefill pool
            held at once for the decode pool.
        gated_s: seconds the prefill pool's admission was closed by back-pressure.
        recompute_tokens: tokens the decode pool re-prefilled after preempting requests.
        prefill_private_blocks_end, decode_blocks_end, held_end: KV blocks still privately held in
            each pool and prompts still held after the run (all 0: nothing leaks).
    """

    landed_s: NDArray[np.float64]
    handoff_wait_s: NDArray[np.float64]
    held_peak_requests: int
    held_peak_blocks: int
    gated_s: float
    recompute_tokens: int
    prefill_private_blocks_end: int
    decode_blocks_end: int
    held_end: int


class DisaggregatedEngine:
    """Two pools (prefill, decode) and a KV transfer; ``run`` has ``Engine.run``'s contract.

    Args:
        step_model: the GPU's step-time model (both pools).
        prefill_config, decode_config: each pool's knobs (default ``EngineConfig()`` each).
        transfer: the KV transfer cost.
        eviction: prefix-cache eviction in the prefill pool.
        handoff_limit: close prefill admission while this many finished prompts wait for the decode
            pool (default: the decode pool's ``max_num_seqs``; ``None`` in ``no_gate``: never).
        no_gate: no admission gate (the held KV is the only back-pressure).

    Raises:
        ValidationError: naming the argument: a step model, config, transfer or eviction of the wrong
            kind, ``no_gate`` not a bool, ``handoff_limit`` not a whole number ≥ 1.
    """

    def __init__(
        self,
        *,
        step_model: StepTimeModel = BLIS_LLAMA31_8B_H100_TP1,
        prefill_config: EngineConfig | None = None,
        decode_config: EngineConfig | None = None,
        transfer: KVTransfer | None = None,
        eviction: str = "lru",
        handoff_limit: int | None = None,
        no_gate: bool = False,
    ) -> None:
        if not isinstance(step_model, StepTimeModel):
            raise ValidationError(
                f"DisaggregatedEngine step_model must be a StepTimeModel, got {step_model!r:.80}"
            )
        for name, cfg in (("prefill_config", prefill_config), ("decode_config", decode_config)):
            if cfg is not None and not isinstance(cfg, EngineConfig):
                raise ValidationError(
                    f"DisaggregatedEngine {name} must be an EngineConfig or None, got {cfg!r:.80}"
                )
        if transfer is not None and not isinstance(transfer, KVTransfer):
            raise ValidationError(
                f"DisaggregatedEngine transfer must be a KVTransfer or None, got {transfer!r:.80}"
            )
        if not isinstance(eviction, str):
            raise ValidationError(f"DisaggregatedEngine eviction must be a policy name, got {eviction!r:.80}")
        no_gate = flag("DisaggregatedEngine no_gate", no_gate)
        if handoff_limit is not None:
            handoff_limit = whole("DisaggregatedEngine handoff_limit", handoff_limit, low=1)
        self.step_model = step_model
        self.prefill_config = prefill_config or EngineConfig()
        dc = decode_config or EngineConfig()
        # the transferred KV lands in one step: no per-step token budget on it, no prefix cache
        self.decode_config = replace(dc, max_batched_tokens=10**12, prefix_cache=False)
        self.transfer = transfer or KVTransfer()
        self.eviction = eviction
        limit = dc.max_num_seqs if handoff_limit is None else handoff_limit
        if limit < 1:
            raise ValidationError(f"DisaggregatedEngine handoff_limit must be ≥ 1, got {handoff_limit!r}")
        self.handoff_limit = _INF if no_gate else float(limit)

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
        return self.run_with_stats(wl, scheduler, progress=progress, record=record)[0]

    def run_with_stats(
        self,
        wl: Workload,
        scheduler: Scheduler,
        *,
        progress: Progress | None = None,
        record: RecordSpec | None = None,
    ) -> tuple[RunResult, DisaggStats]:
        """``run``, and what the hand-off did (``DisaggStats``).

        Raises:
            ValidationError: ``wl`` is not a valid ``Workload`` (``Workload.validate``).
        """
        if not isinstance(wl, Workload):
            raise ValidationError(f"DisaggregatedEngine.run takes a Workload; got {type(wl).__name__}")
        wl.validate()
        n = len(wl)
        t_wall = time.perf_counter()
        pre = Engine(step_model=self.step_model, config=self.prefill_config, eviction=self.eviction).session(
            scheduler,
            record=record,
            progress=progress,
            name=wl.name,
            tenant_names=wl.tenant_names,
            hash_block_tokens=wl.hash_block_tokens,
        )
        pre.hold = (wl.output_tokens > 1).tolist()
        pre.add_workload(replace(wl, output_tokens=np.ones(n, np.int64)))
        dec = Engine(step_model=self.step_model, config=self.decode_config).session(
            FCFS(), name=f"{wl.name}/decode", tenant_names=wl.tenant_names
        )
        dec.transferred = True
        dec.admitted = []
        hand = _Handoff(wl, pre, dec, self.transfer, self.handoff_limit)
        hand.run()
        r1, r2 = pre.finish(), dec.finish()
        stats = hand.stats(r2)
        if progress is not None:
            progress(n, n)
        idx = np.array(hand.orig, np.int64)
        wall = time.perf_counter() - t_wall
        return _combine(wl, scheduler.name, self.prefill_config, r1, r2, idx, wall), stats


class _Handoff:
    """The co-simulation loop of the two sessions (module docstring)."""

    def __init__(self, wl: Workload, pre: Session, dec: Session, transfer: KVTransfer, limit: float) -> None:
        self.wl, self.pre, self.dec, self.limit = wl, pre, dec, limit
        self.xfer = transfer.seconds(wl.prompt_tokens).tolist()
        self.lat = transfer.latency_s
        self.orig: list[int] = []  # decode-pool request -> workload request
        self.link_free = 0.0
        self.landed = np.full(len(wl), np.nan)
        self.wait = np.full(len(wl), np.nan)
        self.peak_req = self.peak_blk = self.held_blk = 0
        self.gated_s, self.gate_t0 = 0.0, -1.0

    def run(self) -> None:
        pre, dec = self.pre, self.dec
        while True:
            p_live = pre.nxt < len(pre.arrival) or len(pre.queue) > 0 or pre.state.n_running > 0
            d_live = dec.nxt < len(dec.arrival) or len(dec.queue) > 0 or dec.state.n_running > 0
            if not (p_live or d_live):
                break
            if p_live and not d_live and not len(pre.queue) and not pre.state.n_running:
                t = pre.next_arrival  # both pools idle until the next arrival
                pre.clock = max(pre.clock, t)
                dec.clock = max(dec.clock, t)
            if d_live and (not p_live or dec.clock <= pre.clock):
                # decode arrivals still to come land after this: a prompt still to finish ends after
                # the prefill pool's clock, or after its next arrival when it has nothing to do
                idle = not len(pre.queue) and not pre.state.n_running
                lb = max(pre.clock, pre.next_arrival) if idle else pre.clock
                h = max(lb, self.link_free) + self.lat if p_live else _INF
                t_adm = dec.clock
                if not dec.iterate(h) and h < _INF:
                    dec.clock = max(dec.clock, h)
                self._after_decode(t_adm)
            else:
                self._gate()
                h = dec.clock if d_live else _INF  # releases come from decode passes at or after it
                if not pre.iterate(h) and h < _INF:
                    pre.clock = max(pre.clock, h)
                self._after_prefill()
        self._gate(force_open=True)

    def _gate(self, force_open: bool = False) -> None:
        pre = self.pre
        closed = not force_open and len(pre.held) >= self.limit
        if closed and not pre.gate_closed:
            self.gate_t0 = pre.clock
        elif pre.gate_closed and not closed:
            self.gated_s += pre.clock - self.gate_t0
        pre.gate_closed = closed

    def _after_prefill(self) -> None:
        """Ship the prompts the prefill pool finished (their KV stays held there)."""
        pre, dec, wl, t = self.pre, self.dec, self.wl, self.pre.requests
        for i in pre.done_events:
            if i not in pre.held:
                continue  # one output token, rejected or too large: nothing to ship
            land = max(t.finish[i], self.link_free) + self.xfer[i]
            self.link_free = land
            self.landed[i] = land
            self.orig.append(i)
            dec.add(
                ServeRequest(
                    arrival_s=land,
                    prompt_tokens=int(wl.prompt_tokens[i]),
                    output_tokens=int(wl.output_tokens[i]) - 1,
                    v_usd=float(wl.v_usd[i]),
                    lam_usd_per_s=float(wl.lam_usd_per_s[i]),
                    tenant=int(wl.tenant[i]),
                    predicted_output_tokens=max(float(wl.predicted_output_tokens[i]) - 1.0, 1.0),
                )
            )
            self.held_blk += pre.held[i][1]
        pre.done_events.clear()
        self.peak_req = max(self.peak_req, len(pre.held))
        self.peak_blk = max(self.peak_blk, self.held_blk)

    def _after_decode(self, t_adm: float) -> None:
        """The decode pool admitted (or refused) shipped prompts: the prefill pool frees their KV."""
        pre, dec = self.pre, self.dec
        assert dec.admitted is not None
        for j in dec.admitted:
            i = self.orig[j]
            if i in pre.held:  # its first admission (a recompute comes back without a hold)
                self.held_blk -= pre.held[i][1]
                pre.release_held(i)
                self.wait[i] = t_adm - self.landed[i]
        dec.admitted.clear()
        for j in dec.done_events:
            i = self.orig[j]
            if i in pre.held:  # refused at arrival (too large for the decode pool)
                self.held_blk -= pre.held[i][1]
                pre.release_held(i)
        dec.done_events.clear()

    def stats(self, r2: RunResult) -> DisaggStats:
        pre, dec = self.pre, self.dec
        cached = sum(1 for _ in pre.kv.refs) * pre.kv.entry_blocks
        return DisaggStats(
            self.landed,
            self.wait,
            self.peak_req,
            self.peak_blk,
            self.gated_s,
            int(r2.prefill_tokens),
            pre.kv.used - cached,
            dec.kv.used,
            len(pre.held),
        )


def _combine(
    wl: Workload,
    name: str,
    cfg: EngineConfig,
    r1: RunResult,
    r2: RunResult,
    idx: NDArray[np.int64],
    wall_s: float,
) -> RunResult:
    """One result: the prefill pool's statuses and first tokens, the decode pool's finishes."""
    status = r1.status.copy()
    first = np.where(r1.status == COMPLETED, r1.first_token_s, np.nan)
    finish = r1.finish_s.copy()
    pre = r1.preemptions.copy()
    if idx.size:
        finish[idx] = r2.finish_s
        status[idx] = np.where(r2.status == COMPLETED, COMPLETED, TOO_LARGE)
        first[idx[r2.status != COMPLETED]] = np.nan
        pre[idx] += r2.preemptions
    two = idx.size > 0
    return RunResult(
        wl,
        name,
        cfg,
        status,
        first,
        finish,
        pre,
        r1.hit_tokens,
        r2.itl_s if two else np.zeros(0),
        r2.itl_weight if two else np.zeros(0),
        r1.prefill_tokens + r2.prefill_tokens,
        r1.decode_tokens + r2.decode_tokens,
        r1.busy_s + r2.busy_s,
        r1.steps + r2.steps,
        r1.jumps + r2.jumps,
        r2.spec_steps if two else 0,
        r1.evictions,
        r1.max_kv_used_blocks,
        _merge_prices(r1.prices, r2.prices if two else []),
        r1.admissions,
        wall_s,
        r2.spec_switches if two else np.zeros((0, 5)),
        r1.eviction_log,
        r1.order_log,
        _remap(r2.spec_requests, idx),
    )


def _remap(rows: NDArray[np.float64], idx: NDArray[np.int64]) -> NDArray[np.float64]:
    """Speculation rows of the decode pool with its request column in workload indices."""
    out = rows.copy()
    if out.shape[0]:
        out[:, 1] = idx[out[:, 1].astype(np.int64)]
    return out


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
