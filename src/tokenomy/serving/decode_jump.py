"""The decode-only stretch of the engine loop: with no request in prefill and the queue empty or
blocked, the batch cannot change before the next arrival or completion, so k decode steps run at
once (``jump``; k = steps to the next completion, the next known arrival, the horizon, or the KV
limit), or the lowest-priority request is preempted when not one step fits.

:class:`DecodeJump` is a base class of ``iteration.Iteration``; it adds the phase to
``request_exits.RequestExits`` and no state of its own. O(1) per jump on the shared token counter G
(``running.RunningSet``); not modelled: CPU overheads.
"""

from __future__ import annotations

import heapq
import math

from tokenomy.serving.request_exits import _EPS, RequestExits

__all__ = ["DecodeJump"]

_INF = math.inf


class DecodeJump(RequestExits):
    """The decode-only jump (module docstring) over a ``state.RunState``."""

    __slots__ = ()

    # --- decode-only stretch ----------------------------------------------------------------------
    def jump(self, horizon: float) -> None:
        """Advance k decode steps at once (module docstring), or preempt when not one step fits."""
        st, kv, now = self.state, self.kv, self.clock
        nd, g, cache = st.nd, st.g, self.decode_s
        if cache is None:
            t, e = self.step_time(0.0, nd, now)
        else:
            t, e = cache.get(nd, 0.0), 1.0
            if not t:
                t = cache[nd] = self.step_model.step_s(0.0, nd)
        heap, pos = self.heap, st.pos
        while heap and pos[heap[0][1]] < 0:
            heapq.heappop(heap)
        k = max(1, math.ceil((heap[0][0] - g) / e - _EPS))
        if self.next_arrival < _INF:
            k = min(k, max(1, math.ceil((self.next_arrival - now) / t - _EPS)))
        if horizon < _INF:
            k = min(k, max(1, math.ceil((horizon - now) / t - _EPS)))
        if k > self.max_jump:
            k = self.max_jump
        need = st.grow_blocks(k * e)  # exact: the blocks the k steps fill
        if need <= kv.free:  # ``kv.allocate`` without its eviction path: the free blocks suffice
            kv.free -= need
            st.u_dec += need
        else:
            if need > kv.available:
                k = st._fit_k(k, e)
                if k == 0:
                    self.preempt()
                    self.blocked = False
                    return
                need = st.grow_blocks(k * e)
            st._resync(need)
        g = st.g = g + k * e
        kt = k * t
        now += kt
        self.clock = st.now_s = now
        self.busy += kt
        self.steps += k
        self.jumps += 1
        if st.rated:
            self.spec_steps += self.spec.tally(k, t, self.itl_s, self.itl_w)
            self.dec_total += k * st.r_sum
        else:
            if e > 1.0:
                self.spec_steps += k
            w = k * nd * e
            self.dec_total += w
            self.itl_s.append(t / e)
            self.itl_w.append(w)
        used = kv.num_blocks - kv.free
        if used > self.max_used:
            self.max_used = used
        if heap and heap[0][0] <= g + _EPS:
            self.pop_finished()
        if self.blocked:
            self.blocked = len(self.queue) > 0
