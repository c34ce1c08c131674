"""Shortest-predicted-first: order by predicted output length (learning-to-rank style) or the true one.

``spf`` reads the workload's noisy prediction (a stand-in for a learned length ranker);
``spf-true`` is the oracle with true output lengths (excluded from the fair comparison).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from tokenomy.serving.entities import Workload
from tokenomy.serving.schedulers.base import Scheduler

__all__ = ["ShortestPredictedFirst", "ShortestTrueFirst"]


class ShortestPredictedFirst(Scheduler):
    """Order by predicted output tokens (ties by arrival)."""

    name = "spf"

    def order_keys(self, wl: Workload, first: int = 0) -> NDArray[np.float64]:
        return self.output_estimate(wl) + np.arange(first, first + len(wl)) * 1e-9


class ShortestTrueFirst(ShortestPredictedFirst):
    """Order by the true output tokens (oracle)."""

    name = "spf-true"
    knows_true_lengths = True
