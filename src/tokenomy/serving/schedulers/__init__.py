"""Schedulers, one class per file, and the registry name -> class.

Baselines with admission control (``admission``: TTFT-SLO refusal) are ``fcfs+slo``,
``priority+slo``, ``spf+slo``, ``vtc+slo``; ``priced``'s ablations (``ablation = True``, parts of it,
not competitors) are ``priced-order`` (its order, no admission), ``priced-noext`` (Eq. 1 without
the Pigouvian charge) and ``priced-noqueue`` (the charge on co-running requests only).
"""

from __future__ import annotations

from tokenomy.core.errors import ValidationError
from tokenomy.serving.schedulers.admission import FCFSWithSLO, PriorityWithSLO, SPFWithSLO, VTCWithSLO
from tokenomy.serving.schedulers.base import Admission, EngineState, KeyedQueue, Scheduler, WaitQueue
from tokenomy.serving.schedulers.fcfs import FCFS
from tokenomy.serving.schedulers.priced import (
    CongestionPriced,
    CongestionPricedNoExternal,
    CongestionPricedNoQueue,
    CongestionPricedOrder,
    CongestionPricedTrue,
)
from tokenomy.serving.schedulers.priority import Priority
from tokenomy.serving.schedulers.spf import ShortestPredictedFirst, ShortestTrueFirst
from tokenomy.serving.schedulers.vtc import VTC, VTCQueue

__all__ = [
    "FCFS",
    "SCHEDULERS",
    "VTC",
    "Admission",
    "CongestionPriced",
    "CongestionPricedNoExternal",
    "CongestionPricedNoQueue",
    "CongestionPricedOrder",
    "CongestionPricedTrue",
    "EngineState",
    "FCFSWithSLO",
    "KeyedQueue",
    "Priority",
    "PriorityWithSLO",
    "SPFWithSLO",
    "Scheduler",
    "ShortestPredictedFirst",
    "ShortestTrueFirst",
    "VTCQueue",
    "VTCWithSLO",
    "WaitQueue",
    "make_scheduler",
]

SCHEDULERS: dict[str, type[Scheduler]] = {
    cls.name: cls
    for cls in (
        FCFS,
        Priority,
        ShortestPredictedFirst,
        ShortestTrueFirst,
        VTC,
        CongestionPriced,
        CongestionPricedTrue,
        FCFSWithSLO,
        PriorityWithSLO,
        SPFWithSLO,
        VTCWithSLO,
        CongestionPricedOrder,
        CongestionPricedNoExternal,
        CongestionPricedNoQueue,
    )
}


def make_scheduler(name: str) -> Scheduler:
    """A fresh scheduler by registry name.

    Raises:
        ValidationError: unknown name (the message lists the valid ones).
    """
    if name not in SCHEDULERS:
        raise ValidationError(f"unknown scheduler {name!r}; valid: {', '.join(SCHEDULERS)}")
    return SCHEDULERS[name]()
