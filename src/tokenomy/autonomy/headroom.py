"""How much a stopping rule could gain on recorded runs at most, and whether the data can show it.

Two bounds per V, both on held-out runs (the success model cross-fitted over instances):

* **clairvoyant stop** (not achievable): every run that will fail, or cost more than V, is stopped
  before its first call; the others run to the end. Its gain over running every task to the end
  (no cap) is the whole headroom of stopping: the cost of the failed runs.
* **best ex-post threshold on p̂** (not achievable, but closer): a run is stopped at its first
  prefix whose cross-fitted p̂ is below a threshold t, and t is chosen *ex post* on the same runs to
  maximise the gain (from 200 quantiles of p̂, and ∞: never start). Stopping a run there saves its remaining cost and
  loses V if it would have resolved. A threshold rule on p̂ whose t is chosen on train can do no
  better than this up to noise, so when even this gain is 0 (or its 95% CI holds 0) the data cannot
  show a gain for any such rule built on this p̂ (the Eq. 1 rule V·p̂ − Ĉ > 0 is one with a
  threshold Ĉ/V that moves with Ĉ).

Also: the realised success of the tenth of runs with the lowest p̂, and the break-even V* = their
remaining cost / their success rate (stopping them pays only at V < V*). No file reading here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from tokenomy.autonomy.features import TrajectoryTable
from tokenomy.autonomy.replay import split_folds
from tokenomy.autonomy.stopping import SMALL_FEATURES
from tokenomy.autonomy.success_model import PrefixModel

__all__ = ["Headroom", "crossfit_success", "headroom"]


@dataclass(frozen=True, slots=True)
class Headroom:
    """One V's bounds (USD per task, paired per run against no cap; 95% normal CIs).

    Attributes:
        v_usd: value of a resolved task.
        n_runs: held-out runs.
        no_cap_welfare: mean V·resolved − cost with every run to its end.
        trivial_gain: gain of the better of never starting and no cap over no cap (max(0, −no cap)):
            what a rule gets without any p̂; a gain beyond it is what p̂ adds.
        clairvoyant_gain / clairvoyant_ci95: gain of the clairvoyant stop over no cap.
        threshold_gain / threshold_ci95: gain of the best ex-post p̂ threshold, and its CI.
        threshold: that threshold (p̂), NaN when stopping nothing is best.
        stopped_share: share of runs the threshold stops.
        low_decile_success: realised success of the tenth of runs with the lowest min p̂.
        break_even_v: their mean remaining cost at their lowest-p̂ prefix / their success rate.
    """

    v_usd: float
    n_runs: int
    no_cap_welfare: float
    trivial_gain: float
    clairvoyant_gain: float
    clairvoyant_ci95: tuple[float, float]
    threshold_gain: float
    threshold_ci95: tuple[float, float]
    threshold: float
    stopped_share: float
    low_decile_success: float
    break_even_v: float


def crossfit_success(
    table: TrajectoryTable, *, folds: int = 5, seed: int = 0, features: tuple[str, ...] = SMALL_FEATURES
) -> NDArray[np.float64]:
    """float[N]: p̂ at every row from a prefix model (on ``features``) fitted on the other folds' instances."""
    fold = split_folds(len(table.n_calls), folds, seed)
    p = np.zeros(len(table.step))
    row_fold = fold[table.traj]
    for f in range(folds):
        model = PrefixModel(features=features).fit(table.subset(fold != f))
        rows = row_fold == f
        p[rows] = model.success(table.x[rows])
    return p


def _ci(values: NDArray[np.float64]) -> tuple[float, float]:
    m, half = float(values.mean()), 1.96 * float(values.std(ddof=1)) / math.sqrt(len(values))
    return (m - half, m + half)


def headroom(
    table: TrajectoryTable,
    v_values: Sequence[float],
    *,
    folds: int = 5,
    seed: int = 0,
    features: tuple[str, ...] = SMALL_FEATURES,
) -> list[Headroom]:
    """The bounds of the module docstring at each V (p̂ on ``features``: the rule's by default)."""
    p = crossfit_success(table, folds=folds, seed=seed, features=features)
    n = len(table.n_calls)
    starts = table.offsets[:-1]
    low_row = np.array([starts[t] + int(np.argmin(p[starts[t] : table.offsets[t + 1]])) for t in range(n)])
    min_p = p[low_row]
    resolved = table.resolved.astype(np.float64)
    total = table.total_usd
    low = np.argsort(min_p, kind="mergesort")[: max(1, n // 10)]
    low_success = float(resolved[low].mean())
    saved_low = table.remaining_usd[low_row[low]].mean()
    break_even = float(saved_low / low_success) if low_success > 0 else math.inf
    thresholds = np.append(np.unique(np.quantile(p, np.linspace(0.0, 1.0, 201))), np.inf)  # inf: never start
    big = np.iinfo(np.int64).max
    rows = np.arange(len(p), dtype=np.int64)
    stop_rows = []  # per threshold: the first row of each run with p̂ < t (big: never)
    for t in thresholds:
        first = np.full(n, big, dtype=np.int64)
        below = p < t
        np.minimum.at(first, table.traj[below], rows[below])
        stop_rows.append(first)
    out = []
    for v in v_values:
        no_cap = v * resolved - total
        clair = np.where((resolved > 0) & (v > total), 0.0, -no_cap)  # stopped before call 0: welfare 0
        best, best_t, gain = 0.0, math.nan, np.zeros(n)
        for t, first in zip(thresholds, stop_rows, strict=True):
            stopped = first != big
            g = np.where(stopped, table.remaining_usd[np.where(stopped, first, 0)] - v * resolved, 0.0)
            if float(g.mean()) > best + 1e-15:
                best, best_t, gain = float(g.mean()), float(t), g
        out.append(
            Headroom(
                v_usd=float(v),
                n_runs=n,
                no_cap_welfare=float(no_cap.mean()),
                trivial_gain=max(0.0, -float(no_cap.mean())),
                clairvoyant_gain=float(clair.mean()),
                clairvoyant_ci95=_ci(clair),
                threshold_gain=best,
                threshold_ci95=_ci(gain),
                threshold=best_t,
                stopped_share=float(np.mean(gain != 0.0)),
                low_decile_success=low_success,
                break_even_v=break_even,
            )
        )
    return out
