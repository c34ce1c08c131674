"""The state of one engine run: its requests, KV pool, running set, waiting queue, clock and tallies.

``RunState`` holds what the loop phases (``iteration.Iteration``) read and write, on ``__slots__``
(the phases touch it at every step), and builds the run's ``RunResult`` from it (``result``). The
requests are a ``requests.RequestTable``, the requests on the GPU a ``running.RunningSet``, the KV
pool a ``kv.KVCache`` (``recording.kv_cache``), the waiting queue the scheduler's ``WaitQueue``.
It runs nothing.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

import numpy as np

from tokenomy.serving.entities import EngineConfig
from tokenomy.serving.kv import EvictionPolicy
from tokenomy.serving.recording import DecisionRecorder, RecordSpec, kv_cache
from tokenomy.serving.requests import RequestTable
from tokenomy.serving.result import AdmissionLog, PriceSample, RunResult
from tokenomy.serving.running import RunningSet
from tokenomy.serving.schedulers.base import Scheduler
from tokenomy.serving.speculation import SpeculativeStep
from tokenomy.serving.steptime import StepTimeModel

__all__ = ["Progress", "RunState"]

Progress = Callable[[int, int], None]
Observe = Callable[[Sequence[float], Sequence[Sequence[int]], Sequence[float]], None]
_INF = math.inf


class RunState:
    """The state of one engine run (module docstring); ``iteration.Iteration`` adds the loop.

    Args:
        model, cfg, eviction: the step model, the engine knobs and the prefix-cache eviction policy.
        sched: a fresh scheduler instance.
        record: record sampled decisions for the ledger (``None``: record nothing).
        progress: called as ``progress(done, total)`` now and then.
        name, tenant_names, hash_block_tokens: the requests' workload name, tenant names and prefix
            hash block size.
    """

    __slots__ = (
        "arrival", "block_tokens", "blocked", "bounced", "bounced_s", "busy", "clock", "config",
        "dec_total", "decode_s", "done", "done_events", "heap", "held_s", "itl_s", "itl_w", "jumps",
        "kv", "log", "max_jump", "max_tokens", "max_used", "next_arrival", "next_progress",
        "next_sample", "nxt", "observe", "pf_total", "prefill_tokens", "progress", "prompt_seen", "queue",
        "rec", "requests",
        "samples", "sched", "spec", "spec_steps", "state", "step_model", "step_time", "steps",
        "t_wall", "watermark",
    )  # fmt: skip

    def __init__(
        self,
        model: StepTimeModel,
        cfg: EngineConfig,
        eviction: str | EvictionPolicy,
        sched: Scheduler,
        record: RecordSpec | None,
        progress: Progress | None,
        *,
        name: str,
        tenant_names: Sequence[str],
        hash_block_tokens: int,
    ) -> None:
        self.t_wall = time.perf_counter()
        self.step_model, self.config, self.sched, self.progress = model, cfg, sched, progress
        self.requests = RequestTable(
            name=name,
            tenant_names=tenant_names,
            hash_block_tokens=hash_block_tokens,
            prefix_cache=cfg.prefix_cache,
        )
        self.arrival = self.requests.arrival  # the table's list (extended, never rebound)
        self.rec = None if record is None else DecisionRecorder(record, self.requests, sched, model, cfg)
        self.kv = kv_cache(cfg, hash_block_tokens, eviction, self.rec)
        self.state = RunningSet(model, cfg, self.kv, self.requests)
        if self.rec is not None:
            self.rec.state = self.state
            self.rec.ref_prompt = self.ref_prompt_tokens
        sched.prepare(model, cfg)
        self.queue = sched.make_queue(self.requests.workload)
        self.spec = SpeculativeStep(model, cfg)
        self.spec.rs = self.state
        self.step_time = self.spec.step
        self.watermark = max(1, cfg.kv_blocks // 100)
        self.block_tokens = cfg.block_tokens
        self.max_tokens = cfg.kv_blocks * cfg.block_tokens  # a request needing more never fits
        self.max_jump = 2**62
        self.clock = 0.0
        self.nxt = 0  # next request to arrive
        self.prompt_seen = (0, 0)  # (prompt tokens, requests) arrived and summed (the prefill price's ū)
        self.next_arrival = _INF  # its arrival time (inf: none known)
        # decode-only step seconds by batch size, when they depend on it alone (no speculation)
        self.decode_s: dict[int, float] | None = None if cfg.spec_k else {}
        self.done = 0
        self.done_events: list[int] = []  # requests that left since the driver last looked
        self.blocked = False  # the queue head could not be admitted; retried after any change
        self.held_s = -_INF  # no admission at this clock while anything runs (``preempt``)
        self.bounced: set[int] = set()  # preempted before computing a token at clock bounced_s
        self.bounced_s = -_INF
        self.heap: list[tuple[float, int]] = []  # (G at which it finishes, request)
        self.samples: list[PriceSample] = []
        self.log: list[tuple[int, float, bool, float, float, float, float]] = []
        self.itl_s: list[float] = []
        self.itl_w: list[float] = []
        self.pf_total, self.dec_total, self.busy = 0, 0.0, 0.0
        self.steps, self.jumps, self.spec_steps, self.max_used = 0, 0, 0, 0
        self.next_sample, self.next_progress = 0.0, 0
        self.prefill_tokens = 0.0  # prefill tokens of the step being scheduled
        self.observe = self._bind_policy(self.kv.policy)  # after ``samples``: it reads them

    def _bind_policy(self, policy: EvictionPolicy) -> Observe | None:
        """Hand a policy with a ``bind`` hook the clock, the live prices and the waiting head's arrival
        (``pending_since``); return its ``observe``.

        The prices are those of the latest price sample the run published (``RunResult.prices``, the
        bus): the KV block-second price is Λ_wait/K while the queue head is blocked by KV at that
        sample, else 0; before the first sample both are 0.
        """
        bind = getattr(policy, "bind", None)
        if bind is None:
            return None
        st, samples = self.state, self.samples

        def prices() -> tuple[float, float]:
            if not samples:
                return 0.0, 0.0
            s = samples[-1]
            return max(s.kv_usd_per_block_s, 0.0), max(s.prefill_usd_per_token, 0.0)

        queue, arrival = self.queue, self.requests.arrival

        def pending_since() -> float:
            return arrival[queue.peek()] if len(queue) else st.now_s

        bind(
            lambda: st.now_s,
            prices,
            self.kv.entry_blocks,
            self.kv.entry_blocks * self.kv.block_tokens,
            pending_since,
        )
        observe: Observe | None = getattr(policy, "observe", None)
        return observe

    def keys_joined(self, first: int) -> None:
        """Requests ``first`` .. end joined the table: give them order keys and tell the queue."""
        t = self.requests
        if self.observe is not None and t.hashes is not None:
            self.observe(t.arrival[first:], t.hashes[first:], t.lam[first:])
        rows = self.requests.rows(first)
        keys = self.sched.order_keys(rows, first)
        self.requests.key.extend(keys.tolist())
        self.queue.extend(rows, keys)
        if self.nxt < len(self.arrival):
            self.next_arrival = self.arrival[self.nxt]

    def ref_prompt_tokens(self) -> float:
        """The prompt the prefill price is quoted for: the mean of those arrived (``prices``)."""
        nxt = self.nxt
        if not nxt:
            return float(self.block_tokens)
        seen, upto = self.prompt_seen
        if upto < nxt:  # summed lazily here, off the arrival path
            seen += sum(self.requests.prompt[upto:nxt])
            self.prompt_seen = (seen, nxt)
        return seen / nxt

    def on_sample(self, sample: PriceSample) -> None:
        """Hook: a price sample was taken (the session publishes it)."""

    # --- the result -------------------------------------------------------------------------------
    def result(self) -> RunResult:
        """The run's ``RunResult`` from the state now."""
        if self.progress is not None:
            self.progress(self.done, len(self.requests))
        t, rec = self.requests, self.rec
        return RunResult(
            t.compact(),
            self.sched.name,
            self.config,
            np.array(t.status, np.int64),
            np.array(t.first),
            np.array(t.finish),
            np.array(t.preempt, np.int64),
            np.array(t.hit, np.int64),
            np.array(self.itl_s),
            np.array(self.itl_w),
            self.pf_total,
            self.dec_total,
            self.busy,
            self.steps,
            self.jumps,
            self.spec_steps,
            self.kv.evictions,
            self.max_used,
            self.samples,
            AdmissionLog.from_rows(self.log),
            time.perf_counter() - self.t_wall,
            np.array(self.spec.switches).reshape(-1, 5),
            None if rec is None else rec.eviction_log(self.kv),
            None if rec is None else rec.order_log(),
            np.array(self.spec.decisions).reshape(-1, 7),
        )
