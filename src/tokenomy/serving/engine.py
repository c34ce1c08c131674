"""The iteration-level serving engine (vLLM-style continuous batching), event-driven and O(batch).

Each iteration (step) the engine builds a batch: every running request in decode contributes one
token (k+1 when speculating), running prefills continue in chunks, then waiting requests are
admitted in the scheduler's order while a per-step token budget, a sequence limit and the KV pool
allow (chunked prefill). KV is paged (``kv.KVCache``): prompt blocks are allocated at admission,
decode blocks as tokens are written; when a decode step does not fit, the lowest-priority running
request is preempted and later recomputed. Prefix blocks (``hash_ids``) are reused across requests.

Speed: when no request is in prefill and the queue is empty or blocked, the batch composition
cannot change before the next arrival or completion, so the step time is constant and the engine
advances k steps in one go (k = steps to the next completion, the next arrival, or the KV limit).
Decoding requests share one virtual token counter G (a request holds c + G tokens and finishes when
G reaches its mark), so a k-step advance touches no per-request state: completions come off a heap
of finish marks, and the decode KV blocks Σ ceil((c + G)/block) are one numpy sum over the batch.
Per-step work is O(batch); the waiting queue is a heap (O(log queue)), never scanned.

The pieces live by noun: ``running.RunningSet`` (the decode columns, the prefill list, decode KV
accounting and the scheduler's ``EngineState`` view), ``speculation.SpeculativeStep`` (step time
and the per-step make-or-buy test, whose switches go to ``RunResult.spec_switches``),
``prices.sample_prices`` (the shadow-price feed), ``kv.KVCache`` (blocks and the prefix cache).
Not modelled here: CPU overheads, hits on blocks of still-running requests (prefill/decode
disaggregation is ``disagg.DisaggregatedEngine``).
"""

from __future__ import annotations

import heapq
import math
import time
from collections.abc import Callable

import numpy as np

from tokenomy.serving.entities import EngineConfig, Workload
from tokenomy.serving.kv import EvictionPolicy
from tokenomy.serving.prices import sample_prices
from tokenomy.serving.recording import DecisionRecorder, RecordSpec, kv_cache
from tokenomy.serving.result import COMPLETED, REJECTED, TOO_LARGE, AdmissionLog, PriceSample, RunResult
from tokenomy.serving.running import RunningSet
from tokenomy.serving.schedulers.base import Scheduler
from tokenomy.serving.speculation import SpeculativeStep
from tokenomy.serving.steptime import BLIS_LLAMA31_8B_H100_TP1, StepTimeModel

__all__ = ["Engine"]

Progress = Callable[[int, int], None]


class Engine:
    """A simulated LLM server.

    Args:
        step_model: iteration-time model (default: BLIS llama-3.1-8b, H100, TP1).
        config: engine knobs.
        eviction: prefix-cache eviction policy name or instance.
        max_jump_steps: cap on steps advanced at once (``None``: up to the next event; 1: step by
            step, the slow baseline the benchmark measures the jump against; results are identical).
    """

    def __init__(
        self,
        *,
        step_model: StepTimeModel = BLIS_LLAMA31_8B_H100_TP1,
        config: EngineConfig | None = None,
        eviction: str | EvictionPolicy = "lru",
        max_jump_steps: int | None = None,
    ) -> None:
        self.step_model = step_model
        self.config = config or EngineConfig()
        self.eviction = eviction
        self.max_jump_steps = max_jump_steps

    def run(
        self,
        wl: Workload,
        scheduler: Scheduler,
        *,
        progress: Progress | None = None,
        record: RecordSpec | None = None,
    ) -> RunResult:
        """Replay ``wl`` under ``scheduler`` until every request completed or was rejected.

        Args:
            wl: the workload (validated).
            scheduler: a fresh scheduler instance.
            progress: called as ``progress(done, total)`` now and then.
            record: also record sampled eviction and ordering decisions for the ledger
                (``recording``; same results, a little slower); ``None``: record nothing.

        Returns:
            the run's per-request columns, counters and price feed.
        """
        eviction = self.eviction if isinstance(self.eviction, str) else type(self.eviction)()
        run = _Run(self.step_model, self.config, eviction, wl, scheduler, progress, record)
        run.max_jump = self.max_jump_steps or 2**62
        return run.go()


class _Run(RunningSet):
    """State of one run (the running set, ``running.RunningSet``, plus the replay loop)."""

    def __init__(
        self,
        model: StepTimeModel,
        cfg: EngineConfig,
        eviction: str | EvictionPolicy,
        wl: Workload,
        sched: Scheduler,
        progress: Progress | None,
        record: RecordSpec | None,
    ) -> None:
        self.rec = None if record is None else DecisionRecorder(record, wl, sched, model, cfg)
        super().__init__(model, cfg, kv_cache(cfg, wl.hash_block_tokens, eviction, self.rec), wl)
        if self.rec is not None:
            self.rec.state = self
        self.wl, self.sched, self.progress = wl, sched, progress
        self.max_jump = 2**62

    def go(self) -> RunResult:
        t_wall = time.perf_counter()
        wl, cfg, model, kv, sched = self.wl, self.config, self.step_model, self.kv, self.sched
        N = len(wl)
        B, T, M, HB = cfg.block_tokens, cfg.max_batched_tokens, cfg.max_num_seqs, wl.hash_block_tokens
        arr = wl.arrival_s.tolist()
        prompt = wl.prompt_tokens.tolist()
        out, lam = self.out, self.lam
        sched.prepare(model, cfg)
        keys = sched.order_keys(wl).tolist()
        queue = sched.make_queue(wl)
        hashes = (
            [list(map(int, h)) for h in wl.hash_ids]
            if (cfg.prefix_cache and wl.hash_ids is not None)
            else None
        )
        watermark = max(1, cfg.kv_blocks // 100)
        status = [0] * N
        first = [math.nan] * N
        finish = [math.nan] * N
        preempt = [0] * N
        hit_tok = [0] * N
        gen = [0] * N  # tokens generated before a preemption (recomputed at readmission)
        decided = [False] * N
        log: list[tuple[int, float, bool, float, float, float, float]] = []
        itl_s: list[float] = []
        itl_w: list[float] = []
        prices: list[PriceSample] = []
        heap: list[tuple[float, int]] = []
        d_fin, d_hits, pos = self.d_fin, self.d_hits, self.pos
        pf = self.pf
        now, nxt, done = 0.0, 0, 0
        blocked, blocked_kv = False, False
        pf_total, dec_total, busy, steps, jumps, spec_steps, max_used = 0, 0.0, 0.0, 0, 0, 0, 0
        next_sample, next_progress = 0.0, 0
        eps = 1e-9

        spec = SpeculativeStep(model, cfg)
        step_time = spec.step

        def release(i: int, h: int, blk: int) -> None:
            if hashes is not None:
                hs = hashes[i]
                kv.donate(hs[h : prompt[i] // HB], blk)
                kv.unref(hs[:h])
            else:
                kv.release(blk)

        def complete(i: int) -> None:
            nonlocal done, blocked
            status[i], finish[i] = COMPLETED, now
            queue.on_finish(i, out[i])
            done += 1
            blocked = False  # its slot and KV blocks are free: the next step tries the queue again

        def pop_finished() -> None:
            while heap and heap[0][0] <= self.g + eps:
                _, i = heapq.heappop(heap)
                p = int(pos[i])
                if p < 0 or d_fin[p] > self.g + eps:
                    continue  # stale entry (preempted)
                h = d_hits[p]
                release(i, h, self._drop_decode(p))
                complete(i)

        def preempt_one() -> None:
            """Preempt the lowest-priority running request and requeue it (recompute)."""
            i, h, blk, g_i = self._pop_lowest(keys)
            if g_i >= 0:
                gen[i] = g_i
            kv.release(blk)
            if h and hashes is not None:
                kv.unref(hashes[i][:h])
            preempt[i] += 1
            queue.push(i)
            self.lam_waiting_usd_per_s += lam[i]

        rec = self.rec
        while True:
            self.now_s = now  # the clock the recorder (and deciding schedulers) read
            # 1. arrivals up to now
            while nxt < N and arr[nxt] <= now:
                i = nxt
                nxt += 1
                if -(-(prompt[i] + out[i] - 1) // B) > cfg.kv_blocks:
                    status[i], finish[i] = TOO_LARGE, now
                    done += 1
                    continue
                if sched.decides and len(queue):  # with an empty queue the head check comes at once
                    self.now_s = now
                    a = sched.decide(i, wl, self, waited_s=0.0)
                    if not a.admit:
                        status[i], finish[i] = REJECTED, now
                        log.append((i, now, False, a.dc_usd, a.dl_s, a.external_usd, a.surplus_usd))
                        done += 1
                        continue
                queue.push(i)
                self.lam_waiting_usd_per_s += lam[i]
                blocked = False
            nd = self.nd
            if now >= next_sample:
                prices.append(
                    sample_prices(
                        now,
                        len(queue),
                        self.n_running,
                        kv.used,
                        float(self.slot_lam.sum()),
                        self.lam_waiting_usd_per_s,
                        model,
                        cfg,
                        kv_blocked=blocked and blocked_kv,
                    )
                )
                next_sample = now + cfg.price_sample_s
            if self.progress is not None and done >= next_progress:
                self.progress(done, N)
                next_progress = done + 1000
            nq = len(queue)
            if nd == 0 and not pf and not nq:
                if nxt >= N:
                    break
                now = max(now, arr[nxt])
                continue
            # 2. decode-only stretch: advance k steps at once
            if not pf and nd and (blocked or not nq):
                t, e = step_time(0.0, nd, now)
                while heap and pos[heap[0][1]] < 0:
                    heapq.heappop(heap)
                k = max(1, math.ceil((heap[0][0] - self.g) / e - eps))
                if nxt < N:
                    k = min(k, max(1, math.ceil((arr[nxt] - now) / t - eps)))
                k = min(k, self.max_jump)
                bound = nd * (math.ceil(k * e / B) + 1)
                if kv.free >= bound:  # cheap reservation (an upper bound); exact sync happens later
                    kv.allocate(bound)
                    self.u_dec += bound
                else:
                    need = self._decode_blocks(self.g + k * e) - self.u_dec
                    if need > kv.available:
                        k = self._fit_k(k, e)
                        if k == 0:
                            preempt_one()
                            blocked = False
                            continue
                        need = self._decode_blocks(self.g + k * e) - self.u_dec
                    self._resync(need)
                self.g += k * e
                now += k * t
                self.now_s = now
                busy += k * t
                steps += k
                jumps += 1
                spec_steps += k if e > 1.0 else 0
                dec_total += k * nd * e
                itl_s.append(t / e)
                itl_w.append(k * nd * e)
                max_used = max(max_used, kv.used)
                pop_finished()
                blocked = blocked and len(queue) > 0
                continue
            # 3. a general step: decode tokens, prefill chunks, admissions
            budget: float = float(T - nd)
            for entry in pf:
                c = min(entry[3], budget) if budget > 0 else 0.0
                entry[6] = c
                budget -= c
            blocked = False
            top = rec.order_top(queue) if rec is not None and budget > 0 and len(queue) > 1 else None
            n_pf = len(pf)
            while len(queue) and budget > 0:
                if nd + len(pf) >= M:
                    blocked, blocked_kv = True, False
                    break
                i = queue.peek()
                h = 0
                if hashes is not None:
                    h = kv.match(hashes[i])
                    if h * HB >= prompt[i] + gen[i]:
                        h -= 1
                    if h:
                        kv.acquire(hashes[i][:h])  # pin the prefix before anything is evicted
                todo = prompt[i] + gen[i] - h * HB
                need = -(-todo // B)
                if kv.available - need < (watermark if (nd or pf) else 0):
                    self._resync(self._decode_blocks(self.g) - self.u_dec)  # drop over-reservation
                    if kv.available - need < (watermark if (nd or pf) else 0):
                        if h and hashes is not None:
                            kv.unref(hashes[i][:h])
                        blocked, blocked_kv = True, True
                        break
                if sched.decides and not decided[i]:
                    self.now_s = now
                    a = self.decide_behind(sched, i, wl, waited_s=now - arr[i])
                    decided[i] = True
                    log.append((i, now, a.admit, a.dc_usd, a.dl_s, a.external_usd, a.surplus_usd))
                    if not a.admit:
                        if h and hashes is not None:
                            kv.unref(hashes[i][:h])
                        queue.pop()
                        self.lam_waiting_usd_per_s -= lam[i]
                        status[i], finish[i] = REJECTED, now
                        done += 1
                        continue
                queue.pop()
                self.lam_waiting_usd_per_s -= lam[i]
                ok = kv.allocate(need)
                assert ok
                if preempt[i] == 0:
                    hit_tok[i] = h * HB
                c = min(todo, budget)
                pf.append([i, h * HB, h * HB, todo, need, h, c])
                budget -= c
            if top is not None and rec is not None:
                rec.record_order(top, [int(x[0]) for x in pf[n_pf:]], status)
            if not pf and not nd:
                now = max(now, arr[nxt]) if nxt < N else now
                continue
            pfc = float(sum(entry[6] for entry in pf))
            t, e = step_time(pfc, nd, now)
            if nd and kv.free >= nd * (math.ceil(e / B) + 1):
                kv.allocate(nd * (math.ceil(e / B) + 1))
                self.u_dec += nd * (math.ceil(e / B) + 1)
            elif nd:
                need = self._decode_blocks(self.g + e) - self.u_dec
                if need > kv.available:
                    preempt_one()
                    continue
                self._resync(need)
            self.g += e
            now += t
            self.now_s = now
            busy += t
            steps += 1
            spec_steps += 1 if e > 1.0 else 0
            pf_total += int(pfc)
            dec_total += nd * e
            if nd:
                itl_s.append(t / e)
                itl_w.append(nd * e)
            max_used = max(max_used, kv.used)
            pop_finished()
            still: list[list[float]] = []
            for entry in pf:
                i = int(entry[0])
                entry[3] -= entry[6]
                entry[1] += entry[6]
                if entry[3] > 0:
                    still.append(entry)
                    continue
                if math.isnan(first[i]):
                    first[i] = now
                gen[i] += 1
                rem = out[i] - gen[i]
                blk, h = int(entry[4]), int(entry[5])
                if rem <= 0:
                    release(i, h, blk)
                    complete(i)
                    continue
                self._push_decode(i, entry[1] - entry[2] - self.g, self.g + rem, keys[i], h, blk)
                heapq.heappush(heap, (self.g + rem, i))
            pf[:] = still
        if self.progress is not None:
            self.progress(done, N)
        return RunResult(
            wl,
            sched.name,
            cfg,
            np.array(status, np.int64),
            np.array(first),
            np.array(finish),
            np.array(preempt, np.int64),
            np.array(hit_tok, np.int64),
            np.array(itl_s),
            np.array(itl_w),
            pf_total,
            dec_total,
            busy,
            steps,
            jumps,
            spec_steps,
            kv.evictions,
            max_used,
            prices,
            AdmissionLog.from_rows(log),
            time.perf_counter() - t_wall,
            np.array(spec.switches).reshape(-1, 5),
            None if rec is None else rec.eviction_log(kv),
            None if rec is None else rec.order_log(),
        )
