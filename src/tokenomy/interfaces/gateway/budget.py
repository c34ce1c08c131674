"""Per-key (tenant) USD caps: reserve a request's maximum cost before the call, settle to its real cost.

``reserve`` takes the request's maximum cost (an upper bound of its prompt tokens — one per byte —
× input price + max_tokens × output price) from the account's remaining budget, or refuses when it
does not fit; ``settle`` returns the reservation and charges the real cost. Spent + held never passes
the cap, so spend stays within the cap whenever each real cost is within its reservation (the
upstream honours max_tokens); an upstream that overruns max_tokens can overshoot by its overrun. ``BudgetStore`` is the interface a shared store implements (one per gateway
process: ``InMemoryBudgetStore``; several processes share one through a database store registered by
name with ``register_budget_store``). Over-budget is a return value (``None``), not an exception.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from tokenomy.core.errors import ValidationError

__all__ = [
    "BudgetStore",
    "InMemoryBudgetStore",
    "Reservation",
    "make_budget_store",
    "register_budget_store",
]

WARN_SHARE = 0.10
"""A response warns when less than this share of the account's cap is left."""


@dataclass(frozen=True, slots=True)
class Reservation:
    """A hold on ``amount_usd`` of ``account``'s budget until ``settle``."""

    account: str
    amount_usd: float
    cap_usd: float


class BudgetStore(Protocol):
    """Where spend per account is kept (in process, or shared between gateway processes)."""

    async def reserve(self, account: str, amount_usd: float, cap_usd: float) -> Reservation | None:
        """Hold ``amount_usd`` when spent + held + amount ≤ cap; ``None`` when it does not fit."""
        ...

    async def settle(self, reservation: Reservation, cost_usd: float) -> float:
        """Release the hold, charge ``cost_usd``; return the remaining budget (cap − spent − held)."""
        ...

    async def remaining(self, account: str, cap_usd: float) -> float:
        """cap − spent − held, USD."""
        ...


class InMemoryBudgetStore:
    """Spend and holds per account in this process (single event-loop thread; no lock needed)."""

    def __init__(self) -> None:
        self.spent_usd: dict[str, float] = {}  # account -> USD charged
        self.held_usd: dict[str, float] = {}  # account -> USD reserved, not yet settled

    async def reserve(self, account: str, amount_usd: float, cap_usd: float) -> Reservation | None:
        if not (math.isfinite(amount_usd) and amount_usd >= 0):
            raise ValidationError(f"a reservation must be a finite USD amount ≥ 0; got {amount_usd!r}")
        used = self.spent_usd.get(account, 0.0) + self.held_usd.get(account, 0.0)
        if used + amount_usd > cap_usd:
            return None
        self.held_usd[account] = self.held_usd.get(account, 0.0) + amount_usd
        return Reservation(account, amount_usd, cap_usd)

    async def settle(self, reservation: Reservation, cost_usd: float) -> float:
        a = reservation.account
        self.held_usd[a] = max(0.0, self.held_usd.get(a, 0.0) - reservation.amount_usd)
        self.spent_usd[a] = self.spent_usd.get(a, 0.0) + max(0.0, cost_usd)
        return await self.remaining(a, reservation.cap_usd)

    async def remaining(self, account: str, cap_usd: float) -> float:
        return cap_usd - self.spent_usd.get(account, 0.0) - self.held_usd.get(account, 0.0)


StoreFactory = Callable[[str], BudgetStore]
"""Builds a store from the ``[gateway] budget_dsn`` text."""

_STORES: dict[str, StoreFactory] = {"memory": lambda dsn: InMemoryBudgetStore()}  # name -> factory


def register_budget_store(name: str, factory: StoreFactory) -> None:
    """Make ``[gateway] budget_store = "<name>"`` build a store with ``factory(budget_dsn)``."""
    _STORES[name] = factory


def make_budget_store(name: str, dsn: str = "") -> BudgetStore:
    """The store named ``name``.

    Raises:
        ValidationError: no store of that name is registered.
    """
    if name not in _STORES:
        raise ValidationError(f"unknown budget_store {name!r}; valid: {', '.join(sorted(_STORES))}")
    return _STORES[name](dsn)
