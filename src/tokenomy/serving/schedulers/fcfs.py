"""First come, first served: vLLM's default order (arrival index as the key)."""

from __future__ import annotations

from tokenomy.serving.schedulers.base import Scheduler

__all__ = ["FCFS"]


class FCFS(Scheduler):
    """Serve in arrival order; admit everything that fits."""

    name = "fcfs"
