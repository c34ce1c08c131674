"""Depreciation of a cached prefix block (SPEC Eq. 10): its reuse hazard by age, depth and past demand.

A *demand* for block h is a request whose prefix hashes contain h (Mooncake ``hash_ids``: 512-token
blocks). From a demand stream (arrival times, each request's hashes) ``reuse_events`` lists, for
every demand, the block's depth (its position in the request's hash list), its demand count so far
(this one included), the gap to the block's next demand (inf when none) and the time left in the
window (the censoring point). ``life_table`` turns these into events and exposure seconds per
(class, age bin): the empirical reuse hazard (reuses per block-second at age a since the last
demand), i.e. the life-table estimate of Eq. 10's depreciation. ``fit_depreciation`` fits

    h_k(a) = exp(α_k − δ·a)   (reuses per second, class k = depth bin × demand-count bin)

by Poisson maximum likelihood over the life table, one δ (δ_S, per second) shared by the classes:
the value of holding a block depreciates at rate δ while nobody asks for it. One δ keeps the
eviction order time-invariant (``policies``): log h_k(t − t_last) = α_k + δ·t_last − δ·t. The fit
profiles α_k out in closed form and maximises over δ on a log grid. ``by_group`` refits δ within
groups (depth bins, or the synthetic V class of the demander) for the report; ``summarize_reuse``
gives the tables ``serve reuse`` prints.

What it does not do: it reads no files (the interfaces load traces), and it does not model hits
(a demand is a request asking for the block, hit or miss).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from tokenomy.core._checks import real, whole
from tokenomy.core.errors import ValidationError

__all__ = [
    "AGE_EDGES_S",
    "COUNT_BIN_OF",
    "COUNT_CAP",
    "COUNT_EDGES",
    "DEPTH_BIN_OF",
    "DEPTH_CAP",
    "DEPTH_EDGES",
    "DepreciationFit",
    "LifeTable",
    "ReuseEvents",
    "ReuseSummary",
    "block_class",
    "by_group",
    "fit_depreciation",
    "life_table",
    "reuse_events",
    "summarize_reuse",
]

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]

DEPTH_EDGES = (0, 1, 2, 4, 8, 16)  # depth bin k covers [edge_k, edge_k+1)
COUNT_EDGES = (1, 2, 3, 5, 9)  # demands so far, this one included
AGE_EDGES_S = (0.0, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0, 3000.0, 10000.0, 100000.0)
N_CLASSES = len(DEPTH_EDGES) * len(COUNT_EDGES)


# lookup tables of ``block_class`` (class offset by capped depth; count bin by capped count)
DEPTH_BIN_OF = [
    sum(1 for e in DEPTH_EDGES[1:] if d >= e) * len(COUNT_EDGES) for d in range(DEPTH_EDGES[-1] + 1)
]
COUNT_BIN_OF = [sum(1 for e in COUNT_EDGES[1:] if c >= e) for c in range(COUNT_EDGES[-1] + 1)]
DEPTH_CAP, COUNT_CAP = DEPTH_EDGES[-1], COUNT_EDGES[-1]


def block_class(depth: int, count: int) -> int:
    """Class index of a block at ``depth`` with ``count`` demands so far (depth bin × count bin)."""
    return (
        DEPTH_BIN_OF[depth if depth < DEPTH_CAP else DEPTH_CAP]
        + COUNT_BIN_OF[count if count < COUNT_CAP else COUNT_CAP]
    )


@dataclass(frozen=True, slots=True)
class ReuseEvents:
    """One row per demand of a block (module docstring).

    Attributes:
        block: the block hash. time_s: the demand's arrival. depth: position in its request.
        count: demands of the block so far (this one included). gap_s: seconds to its next demand
        (inf: none in the window). left_s: seconds from the demand to the window's end.
        request: the demanding request's index.
    """

    block: I64
    time_s: F64
    depth: I64
    count: I64
    gap_s: F64
    left_s: F64
    request: I64

    def __len__(self) -> int:
        return int(self.block.shape[0])

    @property
    def klass(self) -> I64:
        """Class index per row (``block_class``), vectorised."""
        d = np.searchsorted(np.array(DEPTH_EDGES[1:]), self.depth, side="right")
        c = np.searchsorted(np.array(COUNT_EDGES[1:]), self.count, side="right")
        return np.asarray(d * len(COUNT_EDGES) + c, np.int64)


def reuse_events(
    arrival_s: F64, hash_ids: Sequence[NDArray[np.int64]], *, end_s: float | None = None
) -> ReuseEvents:
    """The demand rows of a request stream (arrivals sorted ascending).

    Args:
        arrival_s: request arrival times (s).
        hash_ids: per request its prefix block hashes.
        end_s: the window's end (default: the last arrival).

    Raises:
        ValidationError: lengths differ or arrivals are not sorted.
    """
    arr = np.asarray(arrival_s, np.float64)
    if arr.shape[0] != len(hash_ids):
        raise ValidationError(f"arrival_s has {arr.shape[0]} rows but hash_ids {len(hash_ids)}")
    if arr.size and np.any(np.diff(arr) < 0):
        raise ValidationError("arrival_s must be sorted ascending")
    lens = np.array([len(h) for h in hash_ids], np.int64)
    n = int(lens.sum())
    if n == 0:
        z = np.zeros(0, np.int64)
        return ReuseEvents(z, np.zeros(0), z, z, np.zeros(0), np.zeros(0), z)
    block = np.concatenate([np.asarray(h, np.int64) for h in hash_ids if len(h)])
    req = np.repeat(np.arange(arr.size, dtype=np.int64), lens)
    starts = np.cumsum(lens) - lens
    depth = np.arange(n, dtype=np.int64) - np.repeat(starts, lens)
    t = arr[req]
    o = np.lexsort((req, block))  # by block, then by request (= arrival order)
    b, ts = block[o], t[o]
    first = np.r_[True, b[1:] != b[:-1]]
    grp_start = np.maximum.accumulate(np.where(first, np.arange(n), 0))
    count = np.arange(n, dtype=np.int64) - grp_start + 1
    same_next = np.r_[b[1:] == b[:-1], False]
    gap = np.where(same_next, np.r_[ts[1:], 0.0] - ts, np.inf)
    end = float(arr[-1]) if end_s is None else float(end_s)
    return ReuseEvents(b, ts, depth[o], count, gap, np.maximum(end - ts, 0.0), req[o])


@dataclass(frozen=True, slots=True)
class LifeTable:
    """Reuse events and exposure seconds per (class, age bin); hazard = events / exposure.

    Attributes:
        events: shape (classes, bins). exposure_s: block-seconds at risk, same shape.
        age_s: exposure-weighted mean age per bin (s). edges_s: the age bin edges.
    """

    events: F64
    exposure_s: F64
    age_s: F64
    edges_s: F64

    @property
    def hazard_per_s(self) -> F64:
        """Reuses per block-second by (class, age bin); NaN where nothing was at risk."""
        return np.divide(
            self.events, self.exposure_s, out=np.full_like(self.events, np.nan), where=self.exposure_s > 0
        )


def life_table(ev: ReuseEvents, groups: I64 | None = None, n_groups: int | None = None) -> LifeTable:
    """Life table of ``ev`` by ``groups`` (default: ``ev.klass`` over every class) and age bin."""
    g = ev.klass if groups is None else np.asarray(groups, np.int64)
    k = N_CLASSES if n_groups is None else n_groups
    edges = np.array(AGE_EDGES_S)
    stop = np.minimum(ev.gap_s, ev.left_s)  # at risk until the reuse or the window's end
    reused = ev.gap_s <= ev.left_s
    nb = edges.size - 1
    events = np.zeros((k, nb))
    expo = np.zeros((k, nb))
    age_num = np.zeros(nb)
    for j in range(nb):
        lo, hi = edges[j], edges[j + 1]
        x = np.clip(stop - lo, 0.0, hi - lo)
        expo[:, j] = np.bincount(g, weights=x, minlength=k)[:k]
        hit = reused & (ev.gap_s >= lo) & (ev.gap_s < hi)
        events[:, j] = np.bincount(g[hit], minlength=k)[:k]
        age_num[j] = float((x * (lo + x / 2.0)).sum())
    tot = expo.sum(axis=0)
    mid = (edges[:-1] + edges[1:]) / 2.0
    age = np.divide(age_num, tot, out=mid.copy(), where=tot > 0)
    return LifeTable(events, expo, age, edges)


@dataclass(frozen=True, slots=True)
class DepreciationFit:
    """h_k(a) = exp(α_k − δ·a) (module docstring).

    Attributes:
        delta_per_s: δ_S, the depreciation rate of reuse value per second of age.
        alpha: log reuses/s at age 0 per class (a class never seen gets the pooled value).
        log_likelihood: the Poisson log-likelihood at the fit.
        demands: demand rows the fit saw.
    """

    delta_per_s: float
    alpha: tuple[float, ...]
    log_likelihood: float
    demands: int

    def __post_init__(self) -> None:
        """Raises ValidationError naming the field: δ not finite ≥ 0, α empty or not finite numbers,
        a NaN or non-numeric log-likelihood, demands not a whole number ≥ 0."""
        put = object.__setattr__
        put(self, "delta_per_s", real("DepreciationFit.delta_per_s", self.delta_per_s, low=0))
        alpha = self.alpha
        if isinstance(alpha, str | bytes) or not isinstance(alpha, Sequence | np.ndarray) or len(alpha) == 0:
            raise ValidationError(
                f"DepreciationFit.alpha must be a non-empty sequence of finite numbers, got {alpha!r:.80}"
            )
        put(self, "alpha", tuple(real(f"DepreciationFit.alpha[{i}]", a) for i, a in enumerate(alpha)))
        ll = self.log_likelihood
        if (
            isinstance(ll, bool | np.bool_)
            or not isinstance(ll, int | float | np.integer | np.floating)
            or math.isnan(ll)
        ):
            raise ValidationError(f"DepreciationFit.log_likelihood must be a number (not NaN), got {ll!r}")
        put(self, "log_likelihood", float(ll))
        put(self, "demands", whole("DepreciationFit.demands", self.demands))

    def hazard_per_s(self, klass: int, age_s: float) -> float:
        """Fitted reuses per second of a block of class ``klass`` at ``age_s`` since its last demand."""
        return float(np.exp(self.alpha[klass] - self.delta_per_s * age_s))

    def half_life_s(self) -> float:
        """ln 2 / δ: seconds for the reuse hazard to halve (inf when δ = 0)."""
        return float(np.log(2.0) / self.delta_per_s) if self.delta_per_s > 0 else float("inf")


def _profile(events: F64, expo: F64, age: F64, delta: float) -> tuple[float, F64]:
    """Log-likelihood with α profiled out at ``delta``, and the α per row (NaN where no events)."""
    w = expo * np.exp(-delta * age)[None, :]
    e_k, w_k = events.sum(axis=1), w.sum(axis=1)
    ok = (e_k > 0) & (w_k > 0)
    alpha = np.full(events.shape[0], np.nan)
    alpha[ok] = np.log(e_k[ok] / w_k[ok])
    mu = np.where(ok[:, None], w * np.exp(np.nan_to_num(alpha))[:, None], 0.0)
    ll = float((events * np.log(np.where(mu > 0, mu, 1.0))).sum() - mu.sum())
    return ll, alpha


_DELTAS = np.r_[0.0, np.logspace(-6, 0, 241)]


def fit_depreciation(table: LifeTable, demands: int = 0) -> DepreciationFit:
    """Fit α_k and one δ by Poisson maximum likelihood on ``table`` (grid over δ, α in closed form).

    Raises:
        ValidationError: ``table`` is not a ``LifeTable`` or holds no reuse at all (nothing to fit).
    """
    if not isinstance(table, LifeTable):
        raise ValidationError(
            f"fit_depreciation table must be a LifeTable (life_table(...)), got {table!r:.80}"
        )
    demands = whole("fit_depreciation demands", demands)
    if table.events.sum() <= 0:
        raise ValidationError("no block was demanded twice in the window: the reuse hazard cannot be fitted")
    lls = [_profile(table.events, table.exposure_s, table.age_s, float(d))[0] for d in _DELTAS]
    best = float(_DELTAS[int(np.argmax(lls))])
    ll, alpha = _profile(table.events, table.exposure_s, table.age_s, best)
    pooled = _profile(
        table.events.sum(axis=0, keepdims=True),
        table.exposure_s.sum(axis=0, keepdims=True),
        table.age_s,
        best,
    )[1][0]
    alpha = np.where(np.isnan(alpha), pooled, alpha)
    return DepreciationFit(best, tuple(float(a) for a in alpha), ll, demands)


def by_group(ev: ReuseEvents, groups: I64, n_groups: int) -> list[DepreciationFit | None]:
    """δ refitted within each group (one α per group); ``None`` for a group with no reuse."""
    out: list[DepreciationFit | None] = []
    g = np.asarray(groups, np.int64)
    for j in range(n_groups):
        m = g == j
        sub = ReuseEvents(*(getattr(ev, f)[m] for f in ReuseEvents.__slots__))
        t = life_table(sub, np.zeros(len(sub), np.int64), 1)
        out.append(fit_depreciation(t, len(sub)) if t.events.sum() > 0 else None)
    return out


@dataclass(frozen=True, slots=True)
class ReuseSummary:
    """Eq. 10 measured on a demand stream: the pooled fit and tables by depth and by demander group.

    Attributes:
        fit: the pooled fit (one δ, α per class).
        by_depth: per depth bin: demands, share reused within the window, hazard per age bin
            (reuses per block-second), δ refitted within the bin; JSON-ready rows.
        by_group: per demander group (e.g. a synthetic V or λ tercile, or a tenant): demands, share
            reused, δ and α refitted within it; JSON-ready rows.
    """

    fit: DepreciationFit
    by_depth: tuple[dict[str, float | int | str], ...]
    by_group: tuple[dict[str, float | int | str], ...]


def summarize_reuse(
    arrival_s: F64,
    hash_ids: Sequence[NDArray[np.int64]],
    *,
    groups: I64 | None = None,
    group_names: Sequence[str] = (),
) -> ReuseSummary:
    """The depreciation of a demand stream (module docstring), by depth and by request group.

    Args:
        arrival_s, hash_ids: the stream (arrivals sorted).
        groups: per request a group code (0 ..), e.g. a V tercile; ``None``: no group table.
        group_names: a name per group code.

    Raises:
        ValidationError: as ``reuse_events`` and ``fit_depreciation``.
    """
    ev = reuse_events(arrival_s, hash_ids)
    fit = fit_depreciation(life_table(ev), len(ev))
    dbin = np.searchsorted(np.array(DEPTH_EDGES[1:]), ev.depth, side="right").astype(np.int64)
    nd = len(DEPTH_EDGES)
    lt = life_table(ev, dbin, nd)
    reused = ev.gap_s <= ev.left_s
    rows: list[dict[str, float | int | str]] = []
    for d, f in enumerate(by_group(ev, dbin, nd)):
        m = dbin == d
        lo, hi = DEPTH_EDGES[d], (DEPTH_EDGES[d + 1] - 1 if d + 1 < nd else None)
        row: dict[str, float | int | str] = {
            "depth": f"{lo}+" if hi is None else (f"{lo}" if hi == lo else f"{lo}-{hi}"),
            "demands": int(m.sum()),
            "share_reused": float(reused[m].mean()) if m.any() else float("nan"),
        }
        for j in range(len(AGE_EDGES_S) - 2):
            row[f"hazard_age_lt_{AGE_EDGES_S[j + 1]:g}s"] = float(lt.hazard_per_s[d, j])
        row["delta_per_s"] = f.delta_per_s if f is not None else float("nan")
        rows.append(row)
    grows: list[dict[str, float | int | str]] = []
    if groups is not None:
        g = np.asarray(groups, np.int64)[ev.request]
        n_g = int(g.max()) + 1 if g.size else 0
        for j, f in enumerate(by_group(ev, g, n_g)):
            m = g == j
            grows.append(
                {
                    "group": group_names[j] if j < len(group_names) else str(j),
                    "demands": int(m.sum()),
                    "share_reused": float(reused[m].mean()) if m.any() else float("nan"),
                    "delta_per_s": f.delta_per_s if f is not None else float("nan"),
                    "alpha": f.alpha[0] if f is not None else float("nan"),
                }
            )
    return ReuseSummary(fit, tuple(rows), tuple(grows))
