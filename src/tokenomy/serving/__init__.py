"""Supply layer: serving as production (SPEC.md §3, Eq. 9). Imports only core and ledger records.

``Engine().run(workload, scheduler)`` replays a trace; ``Engine().session(scheduler, bus=...)`` is the
online interface (``add`` / ``run_until`` / ``step`` / ``prices`` / ``finish``) that publishes the
shadow prices on a core ``PriceBus``. The public names load on first use (PEP 562): importing the
package imports nothing else.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tokenomy.core.lazy import lazy_exports

if TYPE_CHECKING:
    from tokenomy.serving.engine import Engine, Progress
    from tokenomy.serving.entities import Completion, EngineConfig, ServeRequest, Workload
    from tokenomy.serving.prices import PriceFeed, price_vector
    from tokenomy.serving.recording import RecordSpec
    from tokenomy.serving.result import COMPLETED, REJECTED, TOO_LARGE, PriceSample, RunResult
    from tokenomy.serving.schedulers import SCHEDULERS, Scheduler, make_scheduler
    from tokenomy.serving.session import Session, Step

__all__ = [
    "COMPLETED",
    "REJECTED",
    "SCHEDULERS",
    "TOO_LARGE",
    "Completion",
    "Engine",
    "EngineConfig",
    "PriceFeed",
    "PriceSample",
    "Progress",
    "RecordSpec",
    "RunResult",
    "Scheduler",
    "ServeRequest",
    "Session",
    "Step",
    "Workload",
    "make_scheduler",
    "price_vector",
]

_HOME = {  # public name -> the module that defines it, imported on first use
    "Engine": "tokenomy.serving.engine",
    "Progress": "tokenomy.serving.engine",
    "Session": "tokenomy.serving.session",
    "Step": "tokenomy.serving.session",
    "Completion": "tokenomy.serving.entities",
    "EngineConfig": "tokenomy.serving.entities",
    "ServeRequest": "tokenomy.serving.entities",
    "Workload": "tokenomy.serving.entities",
    "COMPLETED": "tokenomy.serving.result",
    "REJECTED": "tokenomy.serving.result",
    "TOO_LARGE": "tokenomy.serving.result",
    "PriceSample": "tokenomy.serving.result",
    "RunResult": "tokenomy.serving.result",
    "PriceFeed": "tokenomy.serving.prices",
    "price_vector": "tokenomy.serving.prices",
    "RecordSpec": "tokenomy.serving.recording",
    "SCHEDULERS": "tokenomy.serving.schedulers",
    "Scheduler": "tokenomy.serving.schedulers",
    "make_scheduler": "tokenomy.serving.schedulers",
}


__getattr__, __dir__ = lazy_exports(__name__, _HOME)
