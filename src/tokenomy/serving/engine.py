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

Speculative decoding is modelled in expectation: with draft length k and acceptance α a step
emits (1 − α^{k+1})/(1 − α) tokens per sequence; it is switched on per step only when that beats
plain decoding in tokens per second (the make-or-buy test); each change of that verdict is kept
in ``RunResult.spec_switches`` for the ledger. Not modelled here: CPU overheads, hits on blocks of
still-running requests (prefill/decode disaggregation is ``disagg.DisaggregatedEngine``).
"""

from __future__ import annotations

import heapq
import math
import time
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from tokenomy.serving.entities import EngineConfig, Workload
from tokenomy.serving.kv import EvictionPolicy, KVCache
from tokenomy.serving.result import COMPLETED, REJECTED, TOO_LARGE, AdmissionLog, PriceSample, RunResult
from tokenomy.serving.schedulers.base import Scheduler
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

    def run(self, wl: Workload, scheduler: Scheduler, *, progress: Progress | None = None) -> RunResult:
        """Replay ``wl`` under ``scheduler`` until every request completed or was rejected.

        Args:
            wl: the workload (validated).
            scheduler: a fresh scheduler instance.
            progress: called as ``progress(done, total)`` now and then.

        Returns:
            the run's per-request columns, counters and price feed.
        """
        eviction = self.eviction if isinstance(self.eviction, str) else type(self.eviction)()
        run = _Run(self.step_model, self.config, eviction, wl, scheduler, progress)
        run.max_jump = self.max_jump_steps or 2**62
        return run.go()


class _Run:
    """State of one run; attributes named in ``EngineState`` are read by deciding schedulers.

    Decode set: numpy columns ``d_*`` over ``nd`` requests (tokens in KV = d_c + G, finishes at G =
    d_fin). Prefill set: a short Python list of ``[req, tok, sh, pre, blk, hits, chunk]``.
    """

    def __init__(
        self,
        model: StepTimeModel,
        cfg: EngineConfig,
        eviction: str | EvictionPolicy,
        wl: Workload,
        sched: Scheduler,
        progress: Progress | None,
    ) -> None:
        self.step_model, self.config, self.wl, self.sched, self.progress = model, cfg, wl, sched, progress
        m = cfg.max_num_seqs
        self.kv = KVCache(
            num_blocks=cfg.kv_blocks,
            block_tokens=cfg.block_tokens,
            hash_block_tokens=wl.hash_block_tokens,
            eviction=eviction,
        )
        self.d_req = np.zeros(m, np.int64)
        self.d_c = np.zeros(m)
        self.d_fin = np.zeros(m)
        self.d_lam = np.zeros(m)
        self.d_key = np.zeros(m)
        self.d_hits = [0] * m
        self.nd = 0
        self.pf: list[list[float]] = []
        self.g = 0.0
        self.u_dec = 0  # blocks allocated to the decode set (= Σ ceil((d_c + G)/B) at sync)
        self.pos = np.full(len(wl), -1, np.int64)
        self.now_s = 0.0
        self.lam_waiting_usd_per_s = 0.0
        self.lam = wl.lam_usd_per_s.tolist()
        self.out = wl.output_tokens.tolist()
        self.max_jump = 2**62

    # --- EngineState view -------------------------------------------------------------------------
    @property
    def n_running(self) -> int:
        return self.nd + len(self.pf)

    @property
    def slot_lam(self) -> NDArray[np.float64]:
        extra = [self.lam[int(p[0])] for p in self.pf]
        return np.concatenate([self.d_lam[: self.nd], extra]) if extra else self.d_lam[: self.nd]

    @property
    def slot_rem(self) -> NDArray[np.float64]:
        extra = [float(self.out[int(p[0])]) for p in self.pf]
        rem = self.d_fin[: self.nd] - self.g
        return np.concatenate([rem, extra]) if extra else rem

    @property
    def kv_available_blocks(self) -> int:
        return self.kv.available

    # --- decode-set bookkeeping -----------------------------------------------------------------------
    def _decode_blocks(self, g: float) -> int:
        nd = self.nd
        return int(np.ceil((self.d_c[:nd] + g) / self.config.block_tokens).sum()) if nd else 0

    def _drop_decode(self, p: int) -> int:
        """Remove decode entry ``p``; return the private blocks it held."""
        blk = math.ceil(float(self.d_c[p] + self.g) / self.config.block_tokens)
        self.u_dec -= blk
        last = self.nd - 1
        self.pos[self.d_req[p]] = -1
        if p != last:
            for a in (self.d_req, self.d_c, self.d_fin, self.d_lam, self.d_key):
                a[p] = a[last]
            self.d_hits[p] = self.d_hits[last]
            self.pos[self.d_req[p]] = p
        self.nd = last
        return blk

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
        b1, b2 = model.beta1_s_per_prefill_token, model.beta2_s_per_decode_token
        spec_e = (1 - cfg.spec_alpha ** (cfg.spec_k + 1)) / (1 - cfg.spec_alpha) if cfg.spec_k else 1.0
        d_req, d_c, d_fin, d_lam, d_key, d_hits, pos = (
            self.d_req,
            self.d_c,
            self.d_fin,
            self.d_lam,
            self.d_key,
            self.d_hits,
            self.pos,
        )
        pf = self.pf
        now, nxt, done = 0.0, 0, 0
        blocked, blocked_kv = False, False
        pf_total, dec_total, busy, steps, jumps, spec_steps, max_used = 0, 0.0, 0.0, 0, 0, 0, 0
        next_sample, next_progress = 0.0, 0
        eps = 1e-9

        spec_on = [False]
        spec_log: list[tuple[float, float, float, float, float]] = []

        def step_time(p: float, d: int) -> tuple[float, float]:
            t = model.step_s(p, d)
            if cfg.spec_k and d:
                ts = model.step_s(p, d * (cfg.spec_k + 1)) + cfg.spec_draft_frac * cfg.spec_k * model.step_s(
                    0, d
                )
                on = spec_e / ts > 1.0 / t
                if on != spec_on[0]:  # the make-or-buy verdict changed: a decision for the ledger
                    spec_on[0] = on
                    spec_log.append((now, float(on), float(d), t, ts / spec_e))
                if on:
                    return ts, spec_e
            return t, 1.0

        def release(i: int, h: int, blk: int) -> None:
            if hashes is not None:
                hs = hashes[i]
                kv.donate(hs[h : prompt[i] // HB], blk)
                kv.unref(hs[:h])
            else:
                kv.release(blk)

        def complete(i: int) -> None:
            nonlocal done
            status[i], finish[i] = COMPLETED, now
            queue.on_finish(i, out[i])
            done += 1

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
            """Evict the lowest-priority running request (largest key) and requeue it (recompute)."""
            best_key, where = -math.inf, -1
            if self.nd:
                p = int(np.argmax(d_key[: self.nd]))
                best_key, where = d_key[p], p
            for j, e in enumerate(pf):
                if keys[int(e[0])] > best_key:
                    best_key, where = keys[int(e[0])], M + j
            if where >= M:
                i, _, _, _, blk, h, _ = pf.pop(where - M)
                i, h = int(i), int(h)
                kv.release(int(blk))
            else:
                i, h = int(d_req[where]), d_hits[where]
                gen[i] = out[i] - math.ceil(d_fin[where] - self.g - eps)
                kv.release(self._drop_decode(where))
            if h and hashes is not None:
                kv.unref(hashes[i][:h])
            preempt[i] += 1
            queue.push(i)
            self.lam_waiting_usd_per_s += lam[i]

        while True:
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
                lam_run = float(self.slot_lam.sum())
                lw = self.lam_waiting_usd_per_s
                prices.append(
                    PriceSample(
                        now,
                        len(queue),
                        self.n_running,
                        kv.used,
                        lam_run,
                        lw,
                        cfg.gpu_usd_per_s * b1 + b1 * (lam_run + lw),
                        cfg.gpu_usd_per_s * b2 + b2 * lam_run,
                        lw / cfg.kv_blocks if (blocked and blocked_kv) else 0.0,
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
                t, e = step_time(0.0, nd)
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
                    a = sched.decide(i, wl, self, waited_s=now - arr[i])
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
            if not pf and not nd:
                now = max(now, arr[nxt]) if nxt < N else now
                continue
            pfc = float(sum(entry[6] for entry in pf))
            t, e = step_time(pfc, nd)
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
                p = self.nd
                self.nd += 1
                d_req[p], d_c[p], d_fin[p], d_lam[p], d_key[p], d_hits[p] = (
                    i,
                    entry[1] - entry[2] - self.g,
                    self.g + rem,
                    lam[i],
                    keys[i],
                    h,
                )
                pos[i] = p
                self.u_dec += blk
                heapq.heappush(heap, (self.g + rem, i))
            pf[:] = still
        if self.progress is not None:
            self.progress(done, N)
        adm = None
        if log:
            cols = list(zip(*log, strict=True))
            adm = AdmissionLog(
                np.array(cols[0], np.int64),
                np.array(cols[1]),
                np.array(cols[2], bool),
                np.array(cols[3]),
                np.array(cols[4]),
                np.array(cols[5]),
                np.array(cols[6]),
            )
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
            adm,
            time.perf_counter() - t_wall,
            np.array(spec_log).reshape(-1, 5),
        )

    def _resync(self, need: int) -> None:
        """Set the decode reservation to exact usage plus ``need`` (which may be negative)."""
        if need >= 0:
            ok = self.kv.allocate(need)
            assert ok
        else:
            self.kv.release(-need)
        self.u_dec += need

    def _fit_k(self, k: int, e: float) -> int:
        """Largest k' ≤ k whose decode blocks fit in the pool (0 when not even one step fits)."""
        lo, hi = 0, k
        avail = self.kv.available
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self._decode_blocks(self.g + mid * e) - self.u_dec <= avail:
                lo = mid
            else:
                hi = mid - 1
        return lo
