"""Shared helpers for the benchmarks: timing, one-core pinning, argument parsing."""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from typing import Any


def one_core() -> set[int]:
    """Pin this process to one CPU and numeric libraries to one thread; return the CPUs it had before.

    Call before importing numpy-heavy code; ``all_cores(previous)`` undoes the pinning.
    """
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    try:
        before = set(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {min(before)})
        return before
    except (AttributeError, OSError):
        return set()


def all_cores(cpus: set[int]) -> int:
    """Give the process back the CPUs ``one_core`` took away; return how many it now has."""
    try:
        if cpus:
            os.sched_setaffinity(0, cpus)
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument(
        "--data", default=os.environ.get("TOKENOMY_DATA", "../shared/data"), help="real data folder"
    )
    p.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run, not the quoted figures)")
    return p


def best_of(fn: Callable[[], Any], repeat: int = 3) -> tuple[float, Any]:
    """Best wall time of ``repeat`` runs (seconds) and the last result."""
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), result


def median_of(fn: Callable[[], Any], repeat: int) -> float:
    """Median wall time of ``repeat`` calls (seconds)."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def verdict(value: float, target: float, lower_is_better: bool = True) -> str:
    ok = value <= target if lower_is_better else value >= target
    return "meets target" if ok else "MISSES target"
