"""The engine loop, one iteration at a time, in named phases (vLLM-style continuous batching).

``Iteration.iterate`` is one pass of the engine at its clock, ``run_to`` passes until a time (one
loop for ``Session.run_until`` and ``finish``, phases called only when due): take the arrivals due (``arrive``:
too-large requests and the scheduler's rejections leave, the rest join the waiting queue), sample
the shadow prices when due (``sample``), then one of

* ``idle``: nothing runs or waits, so the clock moves to the next known arrival;
* ``jump``: no request is in prefill and the queue is empty or blocked, so the batch cannot change
  before the next arrival or completion and the step time is constant: k decode steps at once
  (k = steps to the next completion, the next known arrival, the horizon, or the KV limit);
* ``step``: a general step. ``schedule`` gives running prefills their chunks and admits waiting
  requests in the scheduler's order while the token budget, the sequence limit and the KV pool
  allow (chunked prefill; with ``EngineConfig.chunked_prefill`` off, SplitwiseSim's rule: whole
  prompts first, the decodes sitting out a step whose prompts leave them no room); ``advance`` runs the step (decode KV, preempting the lowest-priority
  request when a decode step does not fit), then ``pop_finished`` and ``finish_prefills`` move
  requests on (to decode, or out). A request preempted before computing a token twice at one clock
  holds admission until the clock moves (``preempt``), so the clock always advances.

Decoding requests share one virtual token counter G (``running.RunningSet``), so a jump touches no
per-request state: completions come off a heap of finish marks, decode KV is one numpy sum over the
batch. Per-step work is O(batch); the waiting queue is a heap, never scanned. The KV shadow price is
sampled from whether the head of the queue fits in the pool at the sample time
(``head_blocked_by_kv``), not from the admission pass's flags. ``session.Session`` drives this loop
(online or to the end); not modelled: CPU overheads, hits on blocks of still-running requests.
The ``jump`` phase lives in ``decode_jump.DecodeJump``; ``release``, ``complete``, ``pop_finished`` and
``preempt`` (requests leaving and coming back) in ``request_exits.RequestExits``: base classes of
``Iteration``.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from typing import Any

from tokenomy.serving.decode_jump import DecodeJump
from tokenomy.serving.prices import sample_prices
from tokenomy.serving.request_exits import _EPS
from tokenomy.serving.result import REJECTED, TOO_LARGE, PriceSample
from tokenomy.serving.running import Prefill
from tokenomy.serving.schedulers.base import Admission
from tokenomy.serving.state import Progress

__all__ = ["Iteration", "Progress"]

_INF = math.inf


class Iteration(DecodeJump):
    """The engine loop's phases (module docstring) over a ``state.RunState``; ``session.Session`` is
    the driver."""

    __slots__ = ("admitted", "attn", "context_pairs", "gate_closed", "held", "hold", "transferred")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.attn = self.step_model.attn_s_per_token_pair > 0  # chunks attend to earlier tokens
        self.context_pairs = 0.0  # Σ chunk × tokens already in KV, of the step being scheduled
        # pool hand-off hooks (``disagg``); all off in a colocated engine
        self.hold: Sequence[bool] | None = None  # keep request i's KV after it completes while hold[i]
        self.held: dict[int, tuple[int, int]] = {}  # request -> (prefix hash blocks, private blocks) kept
        self.gate_closed = False  # admission closed from outside (back-pressure)
        self.transferred = False  # a first prefill is KV shipped in: only recomputes cost step time
        self.admitted: list[int] | None = None  # requests admitted, for a driver that reads them

    # --- the loop ---------------------------------------------------------------------------------
    def iterate(self, horizon: float) -> bool:
        """One pass at the clock; False when nothing can happen by ``horizon`` without new requests."""
        return self.run_to(horizon, _INF, once=True)

    def run_to(self, horizon: float, until: float, once: bool = False) -> bool:
        """Passes while the clock is before ``until`` (``once``: a single pass): the arrivals due, a
        price sample when due, then ``jump``, ``schedule`` + ``advance``, or ``idle``. False when the
        last pass found nothing that can happen by ``horizon`` without new requests."""
        st, queue, progress = self.state, self.queue, self.progress
        jump, schedule, advance = self.jump, self.schedule, self.advance
        while self.clock < until:
            now = self.clock
            st.now_s = now  # the clock the recorder (and deciding schedulers) read
            if self.next_arrival <= now:
                self.arrive(now)
            if now >= self.next_sample:
                self.sample(now)
            if progress is not None and self.done >= self.next_progress:
                progress(self.done, len(self.arrival))
                self.next_progress = self.done + 1000
            if st.nd and not st.pf and (self.blocked or not len(queue)):
                jump(horizon)
            elif (st.nd or st.pf or len(queue)) and not schedule(now):
                advance(now)
            elif not self.idle(horizon):
                return False
            if once:
                break
        return True

    def idle(self, horizon: float) -> bool:
        """Move the clock to the next known arrival if it is not after ``horizon``."""
        t = self.next_arrival
        if t > horizon or t == _INF:
            return False
        self.clock = max(self.clock, t)
        return True

    def arrive(self, now: float) -> None:
        """Take the arrivals due: too large for the pool, rejected at arrival, or queued."""
        t, sched, queue, st = self.requests, self.sched, self.queue, self.state
        arr, prompt, out, lam = t.arrival, t.prompt, t.out, t.lam
        n, nxt, max_tokens = len(arr), self.nxt, self.max_tokens
        while nxt < n and arr[nxt] <= now:
            i = nxt
            nxt += 1
            if prompt[i] + out[i] - 1 > max_tokens:  # its last token would not fit in the pool
                t.status[i], t.finish[i] = TOO_LARGE, now
                self.done += 1
                self.done_events.append(i)
                continue
            if sched.decides and len(queue):  # with an empty queue the head check comes at once
                st.now_s = now
                a = self.decide_on_arrival(i)
                if not a.admit:
                    t.status[i], t.finish[i] = REJECTED, now
                    self.log.append((i, now, False, a.dc_usd, a.dl_s, a.external_usd, a.surplus_usd))
                    self.done += 1
                    self.done_events.append(i)
                    continue
            queue.push(i)
            st.lam_waiting_usd_per_s += lam[i]
            st.waiting_tokens += prompt[i]
            self.blocked = False
        self.nxt = nxt
        self.next_arrival = arr[nxt] if nxt < n else _INF

    def decide_on_arrival(self, i: int) -> Admission:
        """The scheduler's verdict on arriving request ``i``: the waiting requests it would be served
        before are the queue behind it (their λ, when the queue can tell, else the whole queue's),
        the rest are ahead of it (their prompt tokens, when the queue can tell, else all)."""
        st, t, queue = self.state, self.requests, self.queue
        lam_all = st.lam_waiting_usd_per_s
        behind = queue.sum_behind(i, t.lam) if self.sched.uses_queue_lam else None
        if behind is not None:
            st.lam_waiting_usd_per_s = behind
        st.waiting_tokens_ahead = float(st.waiting_tokens)
        try:
            return self.sched.decide(i, t.workload, st, waited_s=0.0)
        finally:
            st.lam_waiting_usd_per_s = lam_all

    def sample(self, now: float) -> None:
        """Take a price sample (``RunResult.prices``) and hand it to ``on_sample``."""
        s = self.sample_now(now)
        self.samples.append(s)
        self.next_sample = now + self.config.price_sample_s
        self.on_sample(s)

    def sample_now(self, now: float) -> PriceSample:
        """The congestion state and shadow prices of the current state, stamped ``now``."""
        st = self.state
        return sample_prices(
            now,
            len(self.queue),
            st.n_running,
            self.kv.used,
            float(st.slot_lam.sum()),
            st.lam_waiting_usd_per_s,
            self.step_model,
            self.config,
            kv_blocked=self.head_blocked_by_kv(),
            decoding=st.nd,
            ref_prompt_tokens=self.ref_prompt_tokens(),
        )

    def head_blocked_by_kv(self) -> bool:
        """Whether the head of the waiting queue would not fit in the KV pool now (the admission
        test, read-only: with the prefix it would pin)."""
        if not len(self.queue):
            return False
        t, st, kv, HB = self.requests, self.state, self.kv, self.requests.hash_block_tokens
        i = self.queue.peek()
        h = pinned = 0
        if t.hashes is not None:
            hs = t.hashes[i]
            h = kv.match(hs)
            if h * HB >= t.prompt[i] + t.gen[i]:
                h -= 1
            pinned = sum(1 for x in hs[:h] if kv.refs[x] == 0) * kv.entry_blocks
        need = -(-(t.prompt[i] + t.gen[i] - h * HB) // self.block_tokens)
        return kv.available - pinned - need < (self.watermark if (st.nd or st.pf) else 0)

    def release_held(self, i: int) -> None:
        """Free the KV kept for completed request ``i`` (``hold``): its transfer has landed."""
        h, blk = self.held.pop(i)
        self.release(i, h, blk)
        self.blocked = False

    # --- a general step ---------------------------------------------------------------------------
    def schedule(self, now: float) -> bool:
        """Give running prefills their chunks and admit from the queue; True when nothing runs after.

        With ``config.chunked_prefill`` off (SplitwiseSim's rule) prompts get the whole token budget
        ahead of the decodes and run whole: the first of a step even past the budget."""
        st, queue, rec = self.state, self.queue, self.rec
        pf = st.pf
        whole = not self.config.chunked_prefill
        budget = start = float(self.config.max_batched_tokens - (0 if whole else st.nd))
        for p in pf:
            c = (p.todo if whole or p.todo <= budget else budget) if budget > 0 or whole else 0.0
            p.chunk = c
            budget -= c
        self.blocked = False
        if len(queue) and budget > 0 and not self.gate_closed and (now != self.held_s or not (pf or st.nd)):
            if rec is not None and len(queue) > 1:
                top, n_pf = rec.order_top(queue), len(pf)
                budget = self.admit(now, budget)
                if top is not None:
                    rec.record_order(top, [p.req for p in pf[n_pf:]], self.requests.status)
            else:
                budget = self.admit(now, budget)
        # chunks are whole token counts, so this is their sum exactly
        self.prefill_tokens = start - budget
        if self.transferred and pf:  # shipped KV costs no compute; a recompute after preemption does
            pre = self.requests.preempt
            self.prefill_tokens = float(sum(p.chunk for p in pf if pre[p.req]))
        if self.attn and pf:  # chunks attend to the tokens already in KV (``steptime``)
            self.context_pairs = sum(p.chunk * p.tokens for p in pf)
        return not pf and not st.nd

    def admit(self, now: float, budget: float) -> float:
        """Admit waiting requests in the scheduler's order while budget, slots and KV allow; return
        the token budget left."""
        t, st, kv, sched, queue = self.requests, self.state, self.kv, self.sched, self.queue
        prompt, gen, hashes, pf, nd = t.prompt, t.gen, t.hashes, st.pf, st.nd
        B, M, HB = self.block_tokens, self.config.max_num_seqs, t.hash_block_tokens
        whole = not self.config.chunked_prefill
        while len(queue) and budget > 0:
            if nd + len(pf) >= M:
                self.blocked = True
                break
            i = queue.peek()
            if whole and pf and prompt[i] + gen[i] > budget:
                break  # a whole prompt that does not fit waits for the next step
            h = 0
            if hashes is not None:
                h = kv.match(hashes[i])
                if h * HB >= prompt[i] + gen[i]:
                    h -= 1
                if h:
                    kv.acquire(hashes[i][:h])  # pin the prefix before anything is evicted
            todo = prompt[i] + gen[i] - h * HB
            need = -(-todo // B)
            wm = self.watermark if (nd or pf) else 0
            if kv.available - need < wm:  # (the decode set holds exactly its blocks: nothing to drop)
                if h and hashes is not None:
                    kv.unref(hashes[i][:h])
                self.blocked = True
                break
            if sched.decides and not t.decided[i]:
                st.now_s = now
                a = st.decide_behind(sched, i, t.workload, waited_s=now - t.arrival[i])
                t.decided[i] = True
                self.log.append((i, now, a.admit, a.dc_usd, a.dl_s, a.external_usd, a.surplus_usd))
                if not a.admit:
                    if h and hashes is not None:
                        kv.unref(hashes[i][:h])
                    queue.pop()
                    st.lam_waiting_usd_per_s -= t.lam[i]
                    st.waiting_tokens -= prompt[i] + gen[i]
                    t.status[i], t.finish[i] = REJECTED, now
                    self.done += 1
                    self.done_events.append(i)
                    continue
            queue.pop()
            st.lam_waiting_usd_per_s -= t.lam[i]
            st.waiting_tokens -= prompt[i] + gen[i]
            ok = kv.allocate(need)
            assert ok
            if self.admitted is not None:
                self.admitted.append(i)
            if t.preempt[i] == 0:
                t.hit[i] = h * HB
            c = todo if whole else min(todo, budget)
            pf.append(Prefill(i, h * HB, h * HB, todo, need, h, c))
            budget -= c
        return budget

    def advance(self, now: float) -> None:
        """Run the scheduled step: decode KV (or preempt), the clock, counters, then who moves on."""
        st, kv = self.state, self.kv
        nd, pf, pfc = st.nd, st.pf, self.prefill_tokens
        if nd and pfc and not self.config.chunked_prefill and pfc + nd > self.config.max_batched_tokens:
            nd = 0  # SplitwiseSim's rule: whole prompts fill the budget, the decodes sit this step out
        t, e = self.step_time(pfc, nd, now, self.context_pairs)
        self.context_pairs = 0.0
        if nd:
            need = st.res[int(st.g) % self.block_tokens] if st.integral else st.grow_blocks(e)  # exact
            if need <= kv.free:
                kv.free -= need
                st.u_dec += need
            elif need > kv.available:
                self.preempt()
                return
            else:
                st._resync(need)
        else:
            e = 0.0
        g = st.g = st.g + e
        now += t
        self.clock = st.now_s = now
        self.busy += t
        self.steps += 1
        if pfc:
            self.pf_total += int(pfc)
        if nd and st.rated:
            self.spec_steps += self.spec.tally(1, t, self.itl_s, self.itl_w)
            self.dec_total += st.r_sum
        elif nd:
            if e > 1.0:
                self.spec_steps += 1
            w = nd * e
            self.dec_total += w
            self.itl_s.append(t / e)
            self.itl_w.append(w)
        used = kv.num_blocks - kv.free
        if used > self.max_used:
            self.max_used = used
        heap = self.heap
        if heap and heap[0][0] <= g + _EPS:
            self.pop_finished()
        if pf:
            self.finish_prefills()

    def finish_prefills(self) -> None:
        """Prefills that computed their last chunk emit their first token and decode (or leave)."""
        t, st = self.requests, self.state
        still: list[Prefill] = []
        for p in st.pf:
            i = p.req
            p.todo -= p.chunk
            p.tokens += p.chunk
            if p.todo > 0:
                still.append(p)
                continue
            if math.isnan(t.first[i]):
                t.first[i] = self.clock
            t.gen[i] += 1
            rem = t.out[i] - t.gen[i]
            if rem <= 0:
                if self.hold is not None and self.hold[i]:
                    self.held[i] = (p.hits, p.blocks)  # its KV stays until ``release_held``
                else:
                    self.release(i, p.hits, p.blocks)
                self.complete(i)
                continue
            if st.rated and self.config.spec_rule == "request":  # joins plain; the group is chosen again
                st._push_decode(i, p.tokens - p.shared - st.g, st.g + rem, t.key[i], p.hits, p.blocks)
                heapq.heappush(self.heap, (st.g + rem, i))
                self.spec.join(i, self.clock, t, self.heap)
                continue
            if st.rated:  # a fixed per-request rule: its verdict, then it runs at its rate
                r, ctx_s = self.spec.enter(i, self.clock, t)
                fin = st.g + rem / r
                st._push_decode(i, p.tokens - p.shared - r * st.g, fin, t.key[i], p.hits, p.blocks, r, ctx_s)
                heapq.heappush(self.heap, (fin, i))
                continue
            st._push_decode(i, p.tokens - p.shared - st.g, st.g + rem, t.key[i], p.hits, p.blocks)
            heapq.heappush(self.heap, (st.g + rem, i))
        st.pf[:] = still
