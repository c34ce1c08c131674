"""Static priority: the request with the highest latency price λ (its SLA tier) first, FCFS within ties."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from tokenomy.serving.entities import Workload
from tokenomy.serving.schedulers.base import Scheduler

__all__ = ["Priority"]


class Priority(Scheduler):
    """Order by −λ (USD/s): premium requests jump the queue; no admission control."""

    name = "priority"

    def order_keys(self, wl: Workload, first: int = 0) -> NDArray[np.float64]:
        return -wl.lam_usd_per_s.astype(np.float64)
