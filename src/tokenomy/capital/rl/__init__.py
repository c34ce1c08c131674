"""RL token budgeting (SPEC.md §9, Eq. 11–12): a real, small RL fine-tuning run and who gets its tokens.

The policy is a two-layer MLP in numpy (``policy``) fine-tuned by a group-relative policy gradient on
generated multi-digit additions of graded difficulty (``tasks``), with sampled rollouts, an exact
verifier and asynchronous generation lag (``loop``). Allocation policies (``allocators``) decide where a
step's rollout, verification and update tokens go; ``experiment`` measures tokens to a target held-out
accuracy over seeds; ``ledger_io`` writes every decision to the ledger; ``worth`` values logged traces.
Names load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tokenomy.core.lazy import lazy_exports

if TYPE_CHECKING:
    from tokenomy.capital.rl.allocators import ALLOCATORS, Allocator, RLPrices, make_allocator
    from tokenomy.capital.rl.config import RLConfig, WarmStart, warm_start
    from tokenomy.capital.rl.experiment import Calibration, RunSummary, calibrate, run_grid, summarise
    from tokenomy.capital.rl.ledger_io import run_batches
    from tokenomy.capital.rl.loop import RunTrace, run_rl
    from tokenomy.capital.rl.worth import TraceWorth, trace_worth

__all__ = [
    "ALLOCATORS",
    "Allocator",
    "Calibration",
    "RLConfig",
    "RLPrices",
    "RunSummary",
    "RunTrace",
    "TraceWorth",
    "WarmStart",
    "calibrate",
    "make_allocator",
    "run_batches",
    "run_grid",
    "run_rl",
    "summarise",
    "trace_worth",
    "warm_start",
]

_HOME = {
    **dict.fromkeys(
        ("ALLOCATORS", "Allocator", "RLPrices", "make_allocator"), "tokenomy.capital.rl.allocators"
    ),
    **dict.fromkeys(("RLConfig", "WarmStart", "warm_start"), "tokenomy.capital.rl.config"),
    **dict.fromkeys(
        ("Calibration", "RunSummary", "calibrate", "run_grid", "summarise"), "tokenomy.capital.rl.experiment"
    ),
    "run_batches": "tokenomy.capital.rl.ledger_io",
    **dict.fromkeys(("RunTrace", "run_rl"), "tokenomy.capital.rl.loop"),
    **dict.fromkeys(("TraceWorth", "trace_worth"), "tokenomy.capital.rl.worth"),
}
__getattr__, __dir__ = lazy_exports(__name__, _HOME)
