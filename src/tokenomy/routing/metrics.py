"""Evaluation metrics: welfare, regret, gap recovered with bootstrap CIs; RouteLLM's APGR and CPT;
RouterBench's AIQ; calibration (Brier score, ECE, reliability curve) of the quality estimates.

Definitions (docs/routing.md has the worked numbers the tests check):

* gap recovered = (W_policy − W_best-fixed) / (W_oracle − W_best-fixed), W = mean welfare per query.
* PGR (RouteLLM) of a strong/weak router = (acc − acc_weak) / (acc_strong − acc_weak); plotted
  against the share of calls to the strong model, APGR = ∫ PGR d(share) over [0, 1] (trapezoids,
  with the end points (0, PGR of all-weak = 0) and (1, 1) added); CPT(x) = the smallest share of
  strong calls at which the curve reaches PGR ≥ x (linear interpolation; NaN when never).
* RouteLLM's own APGR (``routellm_apgr``): rank the requests by the router's score for the strong
  model (its win probability), call the strong model on the top share c; PGR(c) as above, with
  requests of equal score sharing the boundary (the expectation over tie orders, so a constant score
  gives PGR(c) = c); APGR = the trapezoid area of PGR at the deciles c = 0, 0.1, …, 1 (random: 0.5);
  ``routellm_cpt`` reads CPT(x) off the exact curve (every k/N). Not cost-aware: it sees accuracy only.
* AIQ (RouterBench) = 1/(c_max − c_min) ∫_{c_min}^{c_max} R̃(c) dc, R̃ the non-decreasing concave hull
  of a router's (cost, quality) points (0 below its cheapest point), [c_min, c_max] the fixed
  models' cost range.
* ECE = Σ_bins (n_b / N)·|mean q̂_b − mean q_b| over ``bins`` equal-width bins of q̂.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "Reliability",
    "aiq",
    "apgr",
    "bootstrap_means",
    "cpt",
    "gap_recovered",
    "pareto_front",
    "pgr_curve",
    "reliability",
    "routellm_apgr",
    "routellm_cpt",
    "upper_hull",
]


def pareto_front(cost: ArrayLike, quality: ArrayLike) -> NDArray[np.int64]:
    """Indices of the non-dominated points (no other point is as cheap and more accurate, or cheaper
    and as accurate), sorted by cost: the cost–quality Pareto front."""
    c, q = np.asarray(cost, np.float64), np.asarray(quality, np.float64)
    order = np.lexsort((-q, c))  # by cost, then the most accurate first among equal costs
    keep: list[int] = []
    best = -np.inf
    for i in order:
        if q[i] > best:
            keep.append(int(i))
            best = q[i]
    return np.asarray(keep, dtype=np.int64)


def gap_recovered(w: float, w_fixed: float, w_oracle: float) -> float:
    """Share of the best-fixed → oracle welfare gap recovered (NaN when the gap is 0)."""
    gap = w_oracle - w_fixed
    return float((w - w_fixed) / gap) if gap > 0 else float("nan")


def bootstrap_means(values: NDArray[np.float64], n_boot: int, seed: int) -> NDArray[np.float64]:
    """Bootstrap means of each row of ``values`` (K, N) over the same resampled requests: (K, n_boot).

    The same resample is used for every row, so differences and ratios between rows are paired.
    """
    n = values.shape[1]
    rng = np.random.default_rng(seed)
    counts = np.zeros((n_boot, n))
    for b in range(n_boot):
        counts[b] = np.bincount(rng.integers(0, n, n), minlength=n)
    return np.asarray(values @ counts.T / n)


def _curve(share: ArrayLike, pgr: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    x = np.concatenate([[0.0], np.asarray(share, np.float64), [1.0]])
    y = np.concatenate([[0.0], np.asarray(pgr, np.float64), [1.0]])
    order = np.lexsort((y, x))
    return x[order], y[order]


def apgr(share_strong: ArrayLike, pgr: ArrayLike) -> float:
    """Average performance gap recovered: area under PGR vs share of strong calls (RouteLLM)."""
    x, y = _curve(share_strong, pgr)
    return float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2.0))


def cpt(share_strong: ArrayLike, pgr: ArrayLike, target: float) -> float:
    """Call-performance threshold: the least share of strong calls reaching PGR ≥ ``target``."""
    x, y = _curve(share_strong, pgr)
    # the running maximum: a router can always be run at a higher share with the better PGR seen
    y = np.maximum.accumulate(y)
    hit = np.flatnonzero(y >= target)
    if hit.size == 0:
        return float("nan")
    k = int(hit[0])
    if k == 0 or y[k] == y[k - 1]:
        return float(x[k])
    return float(x[k - 1] + (target - y[k - 1]) * (x[k] - x[k - 1]) / (y[k] - y[k - 1]))


def pgr_curve(
    score: ArrayLike, q_strong: ArrayLike, q_weak: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """RouteLLM's PGR at every share k/N of strong calls (k = 0 … N), top scores first, ties shared.

    Returns ``(share, pgr)``, each (N + 1,); PGR is NaN when both models are equally accurate.
    """
    s, qs, qw = (np.asarray(a, np.float64).ravel() for a in (score, q_strong, q_weak))
    n = s.size
    order = np.argsort(-s, kind="stable")
    gain = np.concatenate([[0.0], np.cumsum((qs - qw)[order])])
    # group boundaries of equal scores: inside a tie group the gain grows linearly (expected value)
    ends = np.concatenate([[0], np.flatnonzero(np.diff(s[order]) != 0) + 1, [n]])
    k = np.arange(n + 1, dtype=np.float64)
    g = np.interp(k, ends.astype(np.float64), gain[ends])
    span = float(qs.mean() - qw.mean())
    pgr = g / n / span if span != 0 else np.full(n + 1, np.nan)
    return k / n, np.asarray(pgr)


def routellm_apgr(score: ArrayLike, q_strong: ArrayLike, q_weak: ArrayLike) -> float:
    """RouteLLM's APGR: trapezoid area of PGR at the call shares 0, 0.1, …, 1 (random routing: 0.5)."""
    share, pgr = pgr_curve(score, q_strong, q_weak)
    deciles = np.linspace(0.0, 1.0, 11)
    y = np.interp(deciles, share, pgr)
    return float(np.sum((y[1:] + y[:-1]) / 2.0) * 0.1)


def routellm_cpt(score: ArrayLike, q_strong: ArrayLike, q_weak: ArrayLike, target: float) -> float:
    """RouteLLM's CPT(target): the least share of strong calls whose PGR reaches ``target`` (interpolated)."""
    share, pgr = pgr_curve(score, q_strong, q_weak)
    hit = np.flatnonzero(pgr >= target - 1e-12)
    if hit.size == 0:
        return float("nan")
    k = int(hit[0])
    if k == 0:
        return 0.0
    lo, hi = pgr[k - 1], pgr[k]
    return float(share[k - 1] + (target - lo) / (hi - lo) * (share[k] - share[k - 1]))


def upper_hull(cost: ArrayLike, quality: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The non-decreasing concave hull of (cost, quality) points, as its vertices by cost."""
    c, q = np.asarray(cost, np.float64), np.asarray(quality, np.float64)
    order = np.lexsort((-q, c))
    pts: list[tuple[float, float]] = []
    for x, y in zip(c[order], q[order], strict=True):
        if pts and y <= pts[-1][1]:
            continue  # dominated: costs more, no better
        while len(pts) >= 2:
            (x1, y1), (x2, y2) = pts[-2], pts[-1]
            if (y2 - y1) * (x - x1) <= (y - y1) * (x2 - x1):  # the middle point is under the chord
                pts.pop()
            else:
                break
        pts.append((float(x), float(y)))
    arr = np.array(pts)
    return arr[:, 0], arr[:, 1]


def aiq(cost: ArrayLike, quality: ArrayLike, c_min: float, c_max: float, grid: int = 2001) -> float:
    """Average improvement in quality (RouterBench): mean of the hull over [c_min, c_max]."""
    hx, hy = upper_hull(cost, quality)
    xs = np.linspace(c_min, c_max, grid)
    ys = np.interp(xs, hx, hy, left=0.0, right=float(hy[-1]))
    ys[xs < hx[0]] = 0.0
    return float(np.trapezoid(ys, xs) / (c_max - c_min)) if c_max > c_min else float(hy.max())


@dataclass(frozen=True, slots=True)
class Reliability:
    """Calibration of one model's q̂: Brier score, ECE and the reliability curve (per bin)."""

    model: str
    brier: float
    ece: float
    bin_mean_pred: tuple[float, ...]
    bin_mean_obs: tuple[float, ...]
    bin_count: tuple[int, ...]


def reliability(
    models: Sequence[str], pred: NDArray[np.float64], obs: NDArray[np.float64], bins: int = 10
) -> list[Reliability]:
    """Brier, ECE and reliability curve of every model's q̂ against realised quality (N, M)."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    out = []
    for j, m in enumerate(models):
        p, y = pred[:, j], obs[:, j]
        b = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
        cnt = np.bincount(b, minlength=bins)
        sp = np.bincount(b, weights=p, minlength=bins)
        sy = np.bincount(b, weights=y, minlength=bins)
        ok = cnt > 0
        ece = float(np.sum(np.abs(sp[ok] - sy[ok])) / max(p.size, 1))
        out.append(
            Reliability(
                m,
                float(np.mean((p - y) ** 2)),
                ece,
                tuple(float(x) for x in sp[ok] / cnt[ok]),
                tuple(float(x) for x in sy[ok] / cnt[ok]),
                tuple(int(x) for x in cnt[ok]),
            )
        )
    return out
