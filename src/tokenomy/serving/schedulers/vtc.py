"""Virtual Token Counter fair share (Sheng et al., OSDI'24 "Fairness in Serving LLMs").

Each tenant has a counter of service received (w_in·input + w_out·output tokens, w = 1, 2 as in the
paper). The queue serves the backlogged tenant with the smallest counter, FCFS within a tenant; a
tenant that becomes backlogged is lifted to the smallest counter among backlogged tenants so it
cannot bank idle time. Input tokens are charged at admission, output tokens when the request ends
(the counter never sees a length before it is generated). O(tenants) per pop, not O(queue).
"""

from __future__ import annotations

from collections import deque

import numpy as np
from numpy.typing import NDArray

from tokenomy.serving.entities import Workload
from tokenomy.serving.schedulers.base import Scheduler, WaitQueue

__all__ = ["VTC", "VTCQueue"]


class VTCQueue(WaitQueue):
    """Per-tenant FIFOs chosen by the smallest virtual counter."""

    def __init__(self, wl: Workload, *, w_in: float = 1.0, w_out: float = 2.0) -> None:
        self._tenant: list[int] = wl.tenant.tolist()
        self._prompt: list[int] = wl.prompt_tokens.tolist()
        self._w_in, self._w_out = w_in, w_out
        self._q: dict[int, deque[int]] = {}
        self._c: dict[int, float] = {}  # tenant -> virtual counter
        self._n = 0

    def extend(self, wl: Workload, keys: NDArray[np.float64]) -> None:
        self._tenant.extend(wl.tenant.tolist())
        self._prompt.extend(wl.prompt_tokens.tolist())

    def _best(self) -> int:
        return min((c, t) for t, c in self._c.items() if self._q.get(t))[1]

    def push(self, i: int) -> None:
        t = self._tenant[i]
        q = self._q.setdefault(t, deque())
        if not q:
            active = [self._c[u] for u, qq in self._q.items() if qq]
            self._c[t] = max(self._c.get(t, 0.0), min(active) if active else 0.0)
        q.append(i)
        self._n += 1

    def peek(self) -> int:
        return self._q[self._best()][0]

    def pop(self) -> int:
        t = self._best()
        i = self._q[t].popleft()
        self._c[t] += self._w_in * self._prompt[i]
        self._n -= 1
        return i

    def __len__(self) -> int:
        return self._n

    def top(self, k: int) -> list[tuple[int, float]]:
        """The next k pops (priority = the tenant's virtual counter then), simulated on copies."""
        c = dict(self._c)
        off: dict[int, int] = {}
        out: list[tuple[int, float]] = []
        while len(out) < k:
            left = [(c[t], t) for t, q in self._q.items() if len(q) > off.get(t, 0)]
            if not left:
                break
            ct, t = min(left)
            i = self._q[t][off.get(t, 0)]
            out.append((i, ct))
            c[t] += self._w_in * self._prompt[i]
            off[t] = off.get(t, 0) + 1
        return out

    def on_finish(self, i: int, output_tokens: int) -> None:
        t = self._tenant[i]
        self._c[t] = self._c.get(t, 0.0) + self._w_out * output_tokens


class VTC(Scheduler):
    """Fair share across tenants by virtual token counters."""

    name = "vtc"

    def make_queue(self, wl: Workload) -> WaitQueue:
        return VTCQueue(wl)
