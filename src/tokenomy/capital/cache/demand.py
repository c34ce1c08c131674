"""Who asked for each prefix block, and when: the demand index the cache policies read.

A demand for block h is a request whose prefix hashes contain h. ``DemandIndex.observe`` takes
requests as they become known (their arrival times, hash lists and latency prices λ); per block
it keeps the arrival times in order, the running sum of the demanders' λ and the block's depth
(its position in the first request that named it). ``past(h, now)`` reads only demands that
arrived at or before ``now`` (what an online policy may know); ``next_after(h, now)`` reads the
first one after (what only a clairvoyant reference may know). Lookups are a dict get plus a
bisection. No I/O, no simulation.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence

import numpy as np

__all__ = ["DemandIndex"]

_INF = float("inf")


class DemandIndex:
    """Per block: demand times, cumulative demander λ, depth (module docstring)."""

    __slots__ = ("cum", "depth_of", "lam_total", "n_demands", "times")

    def __init__(self) -> None:
        self.times: dict[int, list[float]] = {}  # block -> demand arrival times, ascending
        self.cum: dict[int, list[float]] = {}  # block -> running sum of the demanders' λ
        self.depth_of: dict[int, int] = {}  # block -> position in the first request naming it
        self.lam_total = 0.0  # Σ λ over observed requests (the population mean's numerator)
        self.n_demands = 0  # requests observed

    def observe(
        self, arrival_s: Sequence[float], hashes: Sequence[Sequence[int]], lam: Sequence[float]
    ) -> None:
        """Add requests (arrival order, each at or after those already observed); one numpy grouping
        by block, then one dict update per block."""
        lens = np.fromiter((len(h) for h in hashes), np.int64, len(hashes))
        lam_a = np.asarray(lam, np.float64)
        self.lam_total += float(lam_a.sum())
        self.n_demands += int(lens.size)
        n = int(lens.sum())
        if n == 0:
            return
        block = np.fromiter((x for hs in hashes for x in hs), np.int64, n)
        req = np.repeat(np.arange(lens.size), lens)
        pos = np.arange(n) - np.repeat(np.cumsum(lens) - lens, lens)
        o = np.argsort(block, kind="stable")  # rows are in arrival order already
        b, r = block[o], req[o]
        starts = np.flatnonzero(np.r_[True, b[1:] != b[:-1]])
        ends = np.r_[starts[1:], n]
        lam_r = lam_a[r]
        cum = np.cumsum(lam_r)
        cum -= np.repeat(cum[starts] - lam_r[starts], ends - starts)  # restart at each block
        ts = np.asarray(arrival_s, np.float64)[r].tolist()
        cl = cum.tolist()
        first_pos = pos[o][starts].tolist()
        times, cums, depth = self.times, self.cum, self.depth_of
        keys, a_l, e_l = b[starts].tolist(), starts.tolist(), ends.tolist()
        if not times:  # the first batch (a whole workload): build the dicts in one pass each
            times.update(zip(keys, [ts[a:e] for a, e in zip(a_l, e_l, strict=True)], strict=True))
            cums.update(zip(keys, [cl[a:e] for a, e in zip(a_l, e_l, strict=True)], strict=True))
            depth.update(zip(keys, first_pos, strict=True))
            return
        for h, a, e, d in zip(keys, a_l, e_l, first_pos, strict=True):
            old = times.get(h)
            if old is None:
                times[h] = ts[a:e]
                cums[h] = cl[a:e]
                depth[h] = d
            else:
                base = cums[h][-1]
                old.extend(ts[a:e])
                cums[h].extend([base + c for c in cl[a:e]])

    def past(self, h: int, now_s: float) -> tuple[int, float, float]:
        """(demands at or before ``now_s``, the last one's time, Σ their λ); (0, -inf, 0) if none."""
        ts = self.times.get(h)
        if ts is None:
            return 0, -_INF, 0.0
        n = bisect_right(ts, now_s)
        if n == 0:
            return 0, -_INF, 0.0
        return n, ts[n - 1], self.cum[h][n - 1]

    def next_after(self, h: int, now_s: float) -> float:
        """Arrival time of the first demand after ``now_s`` (inf: none)."""
        ts = self.times.get(h)
        if ts is None:
            return _INF
        n = bisect_right(ts, now_s)
        return ts[n] if n < len(ts) else _INF

    def depth(self, h: int) -> int:
        """The block's depth (0 when never observed)."""
        return self.depth_of.get(h, 0)

    @property
    def lam_mean(self) -> float:
        """Mean λ over observed requests (0 before any)."""
        return self.lam_total / self.n_demands if self.n_demands else 0.0
