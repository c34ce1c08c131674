"""Schedulers, one class per file, and the registry name -> class."""

from __future__ import annotations

from tokenomy.core.errors import ValidationError
from tokenomy.serving.schedulers.base import Admission, EngineState, KeyedQueue, Scheduler, WaitQueue
from tokenomy.serving.schedulers.fcfs import FCFS
from tokenomy.serving.schedulers.priced import CongestionPriced, CongestionPricedTrue
from tokenomy.serving.schedulers.priority import Priority
from tokenomy.serving.schedulers.spf import ShortestPredictedFirst, ShortestTrueFirst
from tokenomy.serving.schedulers.vtc import VTC, VTCQueue

__all__ = [
    "FCFS",
    "SCHEDULERS",
    "VTC",
    "Admission",
    "CongestionPriced",
    "CongestionPricedTrue",
    "EngineState",
    "KeyedQueue",
    "Priority",
    "Scheduler",
    "ShortestPredictedFirst",
    "ShortestTrueFirst",
    "VTCQueue",
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
