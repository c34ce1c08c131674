"""How much a stopping rule could gain on recorded runs at most, and whether the data can show it.

Two bounds per V, both on held-out runs (the success model cross-fitted over instances):

* **clairvoyant stop** (not achievable): every run that will fail, or cost more than V, is stopped
  before its first call; the others run to the end. Its gain over running every task to the end
  (no cap) is the whole headroom of stopping: the cost of the failed runs.
* **best ex-post threshold on p̂** (not achievable, but closer): each run is stopped at its prefix of
  lowest cross-fitted p̂ when that p̂ is below a threshold t, and t is chosen *ex post* on the same
  runs to maximise the gain. Stopping a run there saves its remaining cost and loses V if it would
  have resolved, so the gain is mean over stopped runs of (remaining USD − V·resolved) × their share.
  A rule that must choose its threshold on train and stop without knowing which prefix is the lowest
  can do no better than this (up to noise), so when its 95% CI holds 0 the data cannot show a gain
  for any stopping rule built on this p̂.

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
        clairvoyant_gain / clairvoyant_ci95: gain of the clairvoyant stop over no cap.
        threshold_gain / threshold_ci95: gain of the best ex-post p̂ threshold, and its CI.
        threshold: that threshold (p̂), NaN when stopping nothing is best.
        stopped_share: share of runs the threshold stops.
        low_decile_success: realised success of the tenth of runs with the lowest min p̂.
        break_even_v: their mean remaining cost at that prefix / their success rate.
    """

    v_usd: float
    n_runs: int
    no_cap_welfare: float
    clairvoyant_gain: float
    clairvoyant_ci95: tuple[float, float]
    threshold_gain: float
    threshold_ci95: tuple[float, float]
    threshold: float
    stopped_share: float
    low_decile_success: float
    break_even_v: float


def crossfit_success(table: TrajectoryTable, *, folds: int = 5, seed: int = 0) -> NDArray[np.float64]:
    """float[N]: p̂ at every row from a prefix model fitted on the other folds' instances."""
    fold = split_folds(len(table.n_calls), folds, seed)
    p = np.zeros(len(table.step))
    row_fold = fold[table.traj]
    for f in range(folds):
        model = PrefixModel(features=SMALL_FEATURES).fit(table.subset(fold != f))
        rows = row_fold == f
        p[rows] = model.success(table.x[rows])
    return p


def _ci(values: NDArray[np.float64]) -> tuple[float, float]:
    m, half = float(values.mean()), 1.96 * float(values.std(ddof=1)) / math.sqrt(len(values))
    return (m - half, m + half)


def headroom(
    table: TrajectoryTable, v_values: Sequence[float], *, folds: int = 5, seed: int = 0
) -> list[Headroom]:
    """The bounds of the module docstring at each V."""
    p = crossfit_success(table, folds=folds, seed=seed)
    n = len(table.n_calls)
    starts = table.offsets[:-1]
    low_row = np.array([starts[t] + int(np.argmin(p[starts[t] : table.offsets[t + 1]])) for t in range(n)])
    min_p = p[low_row]
    saved = table.remaining_usd[low_row]  # calls from the lowest-p̂ prefix on are not made
    resolved = table.resolved.astype(np.float64)
    total = table.total_usd
    order = np.argsort(min_p, kind="mergesort")
    low = order[: max(1, n // 10)]
    low_success = float(resolved[low].mean())
    break_even = float(saved[low].mean() / low_success) if low_success > 0 else math.inf
    out = []
    for v in v_values:
        no_cap = v * resolved - total
        clair = np.where((resolved > 0) & (v > total), 0.0, -no_cap)  # stopped before call 0: welfare 0
        per_run = saved - v * resolved  # gain of stopping a run at its lowest-p̂ prefix
        best, best_t, best_k = 0.0, math.nan, 0
        cum = np.cumsum(per_run[order]) / n
        for k in range(1, n + 1):  # stop the k runs of lowest min p̂
            if cum[k - 1] > best + 1e-15:
                best, best_t, best_k = float(cum[k - 1]), float(min_p[order[k - 1]]), k
        gain = np.zeros(n)
        gain[order[:best_k]] = per_run[order[:best_k]]
        out.append(
            Headroom(
                v_usd=float(v),
                n_runs=n,
                no_cap_welfare=float(no_cap.mean()),
                clairvoyant_gain=float(clair.mean()),
                clairvoyant_ci95=_ci(clair),
                threshold_gain=best,
                threshold_ci95=_ci(gain),
                threshold=best_t,
                stopped_share=best_k / n,
                low_decile_success=low_success,
                break_even_v=break_even,
            )
        )
    return out
