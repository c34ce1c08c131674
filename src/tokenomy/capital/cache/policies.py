"""Prefix-cache eviction and admission priced by value, and a clairvoyant Belady-style reference.

Design: the policies live here, beside the valuation maths (``reuse``, ``value``), and import only
core. They satisfy the serving simulator's eviction-policy shape *structurally* (``add``,
``remove``, ``victim``, ``candidates``, ``__len__``, ``name``, ``fresh``), plus three optional hooks
the serving KV pool calls when a policy has them: ``bind(clock, prices, entry_blocks,
entry_tokens)`` once per run (the engine clock and the live shadow prices it publishes),
``observe(arrival_s, hashes, lam)`` as requests join the run, and ``admit(h)`` before a finished
request's block enters the cache. The interface layer registers them in the simulator's eviction
registry at start-up; serving never imports capital, capital never imports serving.

``ValueAwareEviction`` (Eq. 10): a block's reuse rate is r = exp(α_k − δ·(t − t_last))
(``reuse.DepreciationFit``, fitted on a train part of the trace only), its reusers' weight w
(``value.v_weight``); evicting the lowest value/holding ratio is evicting the lowest r·w, and since
one δ is shared, log(r·w) + δ·t = α_k + log w + δ·t_last does not change while the block waits:
a heap keyed once per release gives the exact order at any later time. Admission: a finished
request's block is cached only if it passes ``value.holding_test`` at the live KV price (slack
pool: price 0, every block passes). Only demands that arrived by the clock are read.

``BeladyEviction``: knows each block's next demand (the arrival of the next request naming it);
evicts the block demanded farthest in the future and refuses blocks never demanded again. It is
a reference, not a proven bound here: blocks are chained (a deep block helps only behind its
prefix), the waiting queue's head stands for "not yet served" (exact under FCFS), and timing feeds
back.

Decisions are logged, every ``log_every``-th of each action, into a shared ``CacheLog``:
``admit``/``refuse`` with the test's value and holding cost, and at each sampled eviction the
victim (``evict``) and the next candidates (``keep``).
"""

from __future__ import annotations

import heapq
import math
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from tokenomy.capital.cache.demand import DemandIndex
from tokenomy.capital.cache.reuse import (
    COUNT_BIN_OF,
    COUNT_CAP,
    DEPTH_BIN_OF,
    DEPTH_CAP,
    N_CLASSES,
    DepreciationFit,
    block_class,
)
from tokenomy.capital.cache.value import HoldingTest, holding_test, v_weight
from tokenomy.core._checks import flag, real, whole
from tokenomy.core.errors import ValidationError

__all__ = ["ACTIONS", "BeladyEviction", "CacheDecisions", "CacheLog", "ValueAwareEviction"]

ACTIONS = ("admit", "refuse", "evict", "keep")
Clock = Callable[[], float]
Prices = Callable[[], tuple[float, float]]  # () -> (KV USD per block-s, prefill USD per token)
_INF = math.inf


@dataclass(frozen=True, slots=True)
class CacheDecisions:
    """Sampled cache decisions as columns (``CacheLog.take``); ``action`` indexes ``ACTIONS``."""

    policy: str
    time_s: NDArray[np.float64]
    action: NDArray[np.int64]
    block: NDArray[np.int64]
    depth: NDArray[np.int64]
    demands: NDArray[np.int64]
    kv_usd_per_block_s: NDArray[np.float64]
    prefill_usd_per_token: NDArray[np.float64]
    reuse_per_s: NDArray[np.float64]
    value_usd: NDArray[np.float64]
    holding_usd: NDArray[np.float64]
    entry_blocks: int
    counts: dict[str, int] = field(default_factory=dict)  # action -> decisions taken (all, unsampled)

    def __len__(self) -> int:
        return int(self.time_s.shape[0])


class CacheLog:
    """Collects sampled decisions of the policies sharing it (``fresh`` copies share their log).

    Args:
        every: keep every k-th decision of each action (1 = all).
    """

    def __init__(self, every: int = 10) -> None:
        self.every = whole("CacheLog every", every, low=1)
        self.policy = ""
        self.entry_blocks = 0
        self.counts = dict.fromkeys(ACTIONS, 0)
        self._rows: list[tuple[float, int, int, int, int, float, float, float, float, float]] = []

    def due(self, action: int) -> bool:
        """Count one decision of ``action``; whether it is a sampled one."""
        name = ACTIONS[action]
        n = self.counts[name]
        self.counts[name] = n + 1
        return n % self.every == 0

    def add(self, row: tuple[float, int, int, int, int, float, float, float, float, float]) -> None:
        """(time, action, block, depth, demands, p_kv, p_pre, rate, value, holding)."""
        self._rows.append(row)

    def take(self) -> CacheDecisions:
        """The decisions so far as columns; the log starts empty again."""
        rows, counts = self._rows, {k: v for k, v in self.counts.items() if v}
        self._rows, self.counts = [], dict.fromkeys(ACTIONS, 0)
        cols = list(zip(*rows, strict=True)) if rows else [()] * 10
        f = [np.array(x, np.float64) for x in cols]
        i = [np.array(x, np.int64) for x in cols[:5]]
        return CacheDecisions(
            self.policy, f[0], i[1], i[2], i[3], i[4], f[5], f[6], f[7], f[8], f[9], self.entry_blocks, counts
        )


class _HeapPolicy:
    """A lazily-deleted min-heap of (key, seq, block) over the evictable blocks, plus the run hooks."""

    name = "base"

    def __init__(self, log: CacheLog | None) -> None:
        self.log = log
        self.index = DemandIndex()
        self._heap: list[tuple[float, int, int]] = []
        self._live: dict[int, int] = {}  # evictable block -> seq of its current heap entry
        self._seq = 0
        self._clock: Clock = lambda: 0.0
        self._prices: Prices = lambda: (0.0, 0.0)
        self._pending: Clock = self._clock
        self.entry_blocks, self.entry_tokens = 32, 512

    # --- run hooks ------------------------------------------------------------------------------
    def bind(
        self,
        clock: Clock,
        prices: Prices,
        entry_blocks: int,
        entry_tokens: int,
        pending_since: Clock | None = None,
    ) -> None:
        """The engine clock, the live prices, the size of one cache entry, and ``pending_since()``: the
        arrival time of the request at the head of the waiting queue (the clock when none waits), so
        demands of requests still waiting count as future (once per run)."""
        self._clock, self._prices = clock, prices
        self._pending = pending_since or clock
        self.entry_blocks, self.entry_tokens = entry_blocks, entry_tokens
        if self.log is not None:
            self.log.policy, self.log.entry_blocks = self.name, entry_blocks

    def observe(
        self, arrival_s: Sequence[float], hashes: Sequence[Sequence[int]], lam: Sequence[float]
    ) -> None:
        """Requests joined the run (``demand.DemandIndex.observe``)."""
        self.index.observe(arrival_s, hashes, lam)

    # --- the eviction-policy shape --------------------------------------------------------------
    def key(self, h: int, now_s: float) -> float:
        raise NotImplementedError

    def add(self, h: int) -> None:
        self._seq += 1
        self._live[h] = self._seq
        heapq.heappush(self._heap, (self.key(h, self._clock()), self._seq, h))

    def remove(self, h: int) -> None:
        del self._live[h]

    def victim(self) -> int | None:
        heap, live = self._heap, self._live
        log = self.log
        if log is not None and log.due(2):
            self._log_eviction(log)
        while heap:
            _, n, h = heapq.heappop(heap)
            if live.get(h) == n:
                del live[h]
                return h
        return None

    def candidates(self, k: int) -> list[int]:
        popped: list[tuple[float, int, int]] = []
        out: list[int] = []
        heap, live = self._heap, self._live
        while heap and len(out) < k:
            e = heapq.heappop(heap)
            popped.append(e)
            if live.get(e[2]) == e[1] and e[2] not in out:
                out.append(e[2])
        for e in popped:
            heapq.heappush(heap, e)
        return out

    def __len__(self) -> int:
        return len(self._live)

    # --- the ledger -----------------------------------------------------------------------------
    def test(self, h: int, now_s: float) -> HoldingTest:
        raise NotImplementedError

    def _log_eviction(self, log: CacheLog) -> None:
        now = self._clock()
        for j, h in enumerate(self.candidates(4)):
            self._log(log, 2 if j == 0 else 3, h, now)

    def _log(self, log: CacheLog, action: int, h: int, now: float) -> None:
        p_kv, p_pre = self._prices()
        t = self.test(h, now)
        n = self.index.past(h, now)[0]
        log.add(
            (now, action, h, self.index.depth(h), n, p_kv, p_pre, t.reuse_per_s, t.value_usd, t.holding_usd)
        )


class ValueAwareEviction(_HeapPolicy):
    """Evict the lowest value/holding ratio; admit by the same test (module docstring).

    Args:
        fit: the reuse hazard fitted on a train part (``reuse.fit_depreciation``); ``None``: a
            flat prior (every class α = log(1/600 s), δ = 1/600 per s), for a quick run only.
        weight_by_value: scale by the reusers' relative latency price (``value.v_weight``).
        prior_demands: pseudo-demands at the mean λ that shrink w toward 1.
        admission: test blocks before caching them (else every finished block is cached).
        log: where sampled decisions go (``None``: nowhere).

    Raises:
        ValidationError: naming the argument: ``fit`` not a ``DepreciationFit`` of every block class,
            ``prior_demands`` not a finite number ≥ 0, a flag that is not a bool, ``log`` not a ``CacheLog``.
    """

    name = "value"

    def __init__(
        self,
        fit: DepreciationFit | None = None,
        *,
        weight_by_value: bool = True,
        prior_demands: float = 2.0,
        admission: bool = True,
        log: CacheLog | None = None,
    ) -> None:
        if fit is not None and not (isinstance(fit, DepreciationFit) and len(fit.alpha) == N_CLASSES):
            got = f"{len(fit.alpha)} classes" if isinstance(fit, DepreciationFit) else repr(fit)
            raise ValidationError(
                f"ValueAwareEviction.fit must be None or a DepreciationFit with {N_CLASSES} classes "
                f"(reuse.fit_depreciation); got {got:.80}"
            )
        if log is not None and not isinstance(log, CacheLog):
            raise ValidationError(f"ValueAwareEviction.log must be None or a CacheLog, got {log!r:.80}")
        super().__init__(log)
        self.fit = (
            fit if fit is not None else DepreciationFit(1 / 600, (math.log(1 / 600),) * N_CLASSES, 0.0, 0)
        )
        self._alpha, self._delta = list(self.fit.alpha), self.fit.delta_per_s
        self.weight_by_value = flag("ValueAwareEviction.weight_by_value", weight_by_value)
        self.prior_demands = real("ValueAwareEviction.prior_demands", prior_demands, low=0)
        self.admission = flag("ValueAwareEviction.admission", admission)

    def fresh(self) -> ValueAwareEviction:
        """A new, empty policy with the same parameters and log (one per run)."""
        return ValueAwareEviction(
            self.fit,
            weight_by_value=self.weight_by_value,
            prior_demands=self.prior_demands,
            admission=self.admission,
            log=self.log,
        )

    def _state(self, h: int, now_s: float) -> tuple[int, float, float]:
        """(class, last demand time, w) of block ``h`` from the demands known at ``now_s``."""
        ix = self.index
        n, t_last, lam_sum = ix.past(h, now_s)
        if n == 0:  # not demanded yet by anything known: treat as demanded now, once
            n, t_last = 1, now_s
        w = v_weight(n, lam_sum, ix.lam_mean, self.prior_demands) if self.weight_by_value else 1.0
        return block_class(ix.depth(h), n), t_last, w

    def key(self, h: int, now_s: float) -> float:
        k, t_last, w = self._state(h, now_s)
        lw = math.log(w) if w > 0 else -_INF
        return self.fit.alpha[k] + lw + self.fit.delta_per_s * t_last

    def add(self, h: int) -> None:
        """``key`` inlined: this runs once per released block, the policy's hot path."""
        now = self._clock()
        ix = self.index
        ts = ix.times.get(h)
        n = 0 if ts is None else bisect_right(ts, now)
        if n == 0 or ts is None:
            n, t_last, lw = 1, now, 0.0
        else:
            t_last, lw = ts[n - 1], 0.0
            if self.weight_by_value:
                w = v_weight(n, ix.cum[h][n - 1], ix.lam_mean, self.prior_demands)
                lw = math.log(w) if w > 0 else -_INF
        d = ix.depth_of.get(h, 0)
        k = DEPTH_BIN_OF[d if d < DEPTH_CAP else DEPTH_CAP] + COUNT_BIN_OF[n if n < COUNT_CAP else COUNT_CAP]
        self._seq = seq = self._seq + 1
        self._live[h] = seq
        heapq.heappush(self._heap, (self._alpha[k] + lw + self._delta * t_last, seq, h))

    def test(self, h: int, now_s: float) -> HoldingTest:
        """The holding test of ``h`` now at the live prices (``value.holding_test``)."""
        k, t_last, w = self._state(h, now_s)
        p_kv, p_pre = self._prices()
        return holding_test(
            self.fit,
            k,
            now_s - t_last,
            weight=w,
            tokens=self.entry_tokens,
            blocks=self.entry_blocks,
            prefill_usd_per_token=p_pre,
            kv_usd_per_block_s=p_kv,
        )

    def admit(self, h: int) -> bool:
        """Whether a finished request's block ``h`` enters the cache (the holding test)."""
        if not self.admission:
            return True
        log = self.log
        if self._prices()[0] <= 0:  # a slack pool: rent 0, every block passes
            if log is not None and log.due(0):
                self._log(log, 0, h, self._clock())
            return True
        now = self._clock()
        ok = self.test(h, now).keep
        if log is not None and log.due(0 if ok else 1):
            self._log(log, 0 if ok else 1, h, now)
        return ok


class BeladyEviction(_HeapPolicy):
    """Clairvoyant reference: evict the block whose next demand is farthest (module docstring).

    Args:
        log: where sampled decisions go (``None``: nowhere).
    """

    name = "belady"

    def __init__(self, log: CacheLog | None = None) -> None:
        super().__init__(log)

    def fresh(self) -> BeladyEviction:
        """A new, empty policy with the same log (one per run)."""
        return BeladyEviction(self.log)

    def key(self, h: int, now_s: float) -> float:
        return -self._next(h, now_s)

    def _next(self, h: int, now_s: float) -> float:
        """The next demand not yet served: after the waiting head's arrival (or now, with no queue)."""
        return self.index.next_after(h, min(now_s, self._pending()) - 1e-9)

    def test(self, h: int, now_s: float) -> HoldingTest:
        """Value and holding cost with the true wait to the next demand (rate 1/wait)."""
        wait = max(self._next(h, now_s) - now_s, 0.0)
        p_kv, p_pre = self._prices()
        r = 1.0 / wait if 0 < wait < _INF else (0.0 if wait == _INF else _INF)
        hold = p_kv * self.entry_blocks * wait if p_kv > 0 else 0.0
        return HoldingTest(r, self.entry_tokens * p_pre if wait < _INF else 0.0, hold)

    def admit(self, h: int) -> bool:
        """Cache ``h`` only if some request will demand it again."""
        now = self._clock()
        ok = self._next(h, now) < _INF
        log = self.log
        if log is not None and log.due(0 if ok else 1):
            self._log(log, 0 if ok else 1, h, now)
        return ok
