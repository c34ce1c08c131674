"""Requests leaving the running set and coming back to the queue: a request ends (its KV to the
prefix cache or the pool, ``release``, ``complete``), decoding requests whose finish mark the shared
token counter G reached leave (``pop_finished``), and the lowest-priority running request is
preempted and requeued for recompute (``preempt``).

:class:`RequestExits` is a base class of ``iteration.Iteration`` (the engine loop's phases); it adds
these methods to ``state.RunState`` and no state of its own. It decides nothing about admission.
"""

from __future__ import annotations

import heapq

from tokenomy.serving.result import COMPLETED
from tokenomy.serving.state import RunState

__all__ = ["RequestExits"]

_EPS = 1e-9


class RequestExits(RunState):
    """Requests leaving and coming back (module docstring) over a ``state.RunState``."""

    __slots__ = ()

    # --- requests leaving and coming back ---------------------------------------------------------
    def release(self, i: int, h: int, blk: int) -> None:
        """Request ``i`` ends: its full prefix blocks go to the cache, the rest back to the pool."""
        hashes = self.requests.hashes
        if hashes is not None:
            hs = hashes[i]
            self.kv.donate(hs[h : self.requests.prompt[i] // self.requests.hash_block_tokens], blk)
            self.kv.unref(hs[:h])
        else:
            self.kv.release(blk)

    def complete(self, i: int) -> None:
        t = self.requests
        t.status[i], t.finish[i] = COMPLETED, self.clock
        self.queue.on_finish(i, t.out[i])
        if self.sched.decides:
            self.state.observe_output(t.out[i])  # its length is known now that it finished
        self.done += 1
        self.done_events.append(i)
        self.blocked = False  # its slot and KV blocks are free: the next step tries the queue again

    def pop_finished(self) -> None:
        """Decoding requests whose finish mark G reached leave."""
        heap, st = self.heap, self.state
        pos, d_fin, d_hits = st.pos, st.d_fin, st.d_hits
        while heap and heap[0][0] <= st.g + _EPS:
            _, i = heapq.heappop(heap)
            p = pos[i]
            if p < 0 or d_fin[p] > st.g + _EPS:
                continue  # stale entry (preempted)
            h = d_hits[p]
            self.release(i, h, st._drop_decode(p))
            self.complete(i)

    def preempt(self) -> None:
        """Preempt the lowest-priority running request and requeue it (recompute).

        A prefill preempted before computing a token was admitted at this clock; when that happens to
        the same request twice at one clock, the passes at this clock are a cycle (admit it, run out
        of KV for the decode step, preempt it), so admission waits until the clock moves (or nothing
        runs): each pass then runs the step or preempts, and the running set is finite.
        """
        t, st = self.requests, self.state
        i, h, blk, g_i, ran = st._pop_lowest(t.key)
        if g_i >= 0:
            t.gen[i] = g_i
        self.kv.release(blk)
        if h and t.hashes is not None:
            self.kv.unref(t.hashes[i][:h])
        t.preempt[i] += 1
        if not ran:
            if self.bounced_s != self.clock:
                self.bounced_s = self.clock
                self.bounced.clear()
            if i in self.bounced:
                self.held_s = self.clock
            self.bounced.add(i)
        self.queue.push(i)
        st.lam_waiting_usd_per_s += t.lam[i]
        st.waiting_tokens += t.prompt[i] + t.gen[i]
