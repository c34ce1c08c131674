"""Capital layer: caches and RL as investment (SPEC.md §3, Eq. 10–12). Imports only core and ledger records.

The public names load on first use (PEP 562): importing the package imports nothing else.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tokenomy.core.lazy import lazy_exports

if TYPE_CHECKING:
    from tokenomy.capital.cache import (
        BeladyEviction,
        CacheLog,
        DepreciationFit,
        ValueAwareEviction,
        fit_depreciation,
    )
    from tokenomy.capital.rl import RLConfig, TraceWorth, run_rl, trace_worth
    from tokenomy.capital.rl.allocators import ALLOCATORS, make_allocator

__all__ = [
    "ALLOCATORS",
    "BeladyEviction",
    "CacheLog",
    "DepreciationFit",
    "RLConfig",
    "TraceWorth",
    "ValueAwareEviction",
    "fit_depreciation",
    "make_allocator",
    "run_rl",
    "trace_worth",
]

_HOME = {  # public name -> defining module
    **dict.fromkeys(("RLConfig", "TraceWorth", "run_rl", "trace_worth"), "tokenomy.capital.rl"),
    **dict.fromkeys(("ALLOCATORS", "make_allocator"), "tokenomy.capital.rl.allocators"),
    **dict.fromkeys(
        ("BeladyEviction", "CacheLog", "DepreciationFit", "ValueAwareEviction", "fit_depreciation"),
        "tokenomy.capital.cache",
    ),
}
__getattr__, __dir__ = lazy_exports(__name__, _HOME)
