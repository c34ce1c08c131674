"""The detector contract: one failure mode of SPEC.md §4 = one small class with one verb, ``detect``.

A detector reads an ``AuditContext`` (the priced log, per-request realised vectors, and, for ledger
inputs, the decisions with their candidate sets) and returns a ``Finding``: whether the input can
support the mode at all (and why not), its definition, the threshold derived from the prices, the
count, the welfare impact in USD and the worst examples by request id. ``REGISTRY`` maps mode names to
classes; ``detect_all`` runs them in the table's order. No I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from tokenomy.audit.log import AuditLog
from tokenomy.ledger import Decision, Outcome

__all__ = [
    "MODES",
    "REGISTRY",
    "AuditContext",
    "Detector",
    "Finding",
    "detect_all",
    "not_applicable",
    "register",
]

F64 = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class AuditContext:
    """Everything a detector may read.

    Attributes:
        log: the imported log, with ``steps.cost_usd`` priced.
        req: per step, the row of its request in ``log.requests``.
        cost_usd, value_usd, latency_cost_usd, risk_cost_usd, welfare_usd: per request (R,), USD.
        decisions, outcomes: ledger records when the input was a ledger (empty otherwise).
    """

    log: AuditLog
    req: NDArray[np.int64]
    cost_usd: F64
    value_usd: F64
    latency_cost_usd: F64
    risk_cost_usd: F64
    welfare_usd: F64
    decisions: Sequence[Decision] = ()
    outcomes: Sequence[Outcome] = ()


@dataclass(frozen=True, slots=True)
class Finding:
    """What one detector found.

    Attributes:
        mode: failure-mode name (registry key).
        applicable: whether the input can support the mode; ``reason`` says why not.
        definition: the violated condition, in words and symbols.
        threshold: the threshold as derived from the prices (text), e.g. "V·ΔQ_v = $1.2 > c_v = $0.04".
        unit: what ``count`` counts (requests, actions, tasks, entries).
        count: how many violations.
        impact_usd: welfare impact of the violations, USD (≥ 0; the welfare the mode cost).
        examples: worst violations first; each has ``request_id`` and ``impact_usd``.
        details: mode-specific figures; key -> JSON value.
        labels: "observational", "synthetic", "heuristic" ... each shown wherever the finding is.
    """

    mode: str
    applicable: bool
    reason: str = ""
    definition: str = ""
    threshold: str = ""
    unit: str = ""
    count: int = 0
    impact_usd: float = 0.0
    examples: tuple[Mapping[str, Any], ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)  # name -> figure
    labels: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "mode": self.mode,
            "applicable": self.applicable,
            "reason": self.reason,
            "definition": self.definition,
            "threshold": self.threshold,
            "unit": self.unit,
            "count": int(self.count),
            "impact_usd": float(self.impact_usd),
            "examples": [dict(e) for e in self.examples],
            "details": dict(self.details),
            "labels": list(self.labels),
        }


class Detector:
    """Base class: subclasses set ``mode``, ``definition``, ``unit`` and implement ``detect``."""

    mode: ClassVar[str] = ""
    definition: ClassVar[str] = ""
    unit: ClassVar[str] = ""

    def __init__(self, *, max_examples: int = 10) -> None:
        self.max_examples = max_examples

    def detect(self, ctx: AuditContext) -> Finding:
        """Run the detector on one audit context."""
        raise NotImplementedError

    def found(
        self,
        count: int,
        impact_usd: float,
        examples: list[dict[str, Any]],
        *,
        threshold: str = "",
        details: Mapping[str, Any] | None = None,
        labels: tuple[str, ...] = (),
    ) -> Finding:
        """A Finding for an applicable mode, with examples sorted worst first and cut to ``max_examples``."""
        worst = sorted(examples, key=lambda e: -float(e.get("impact_usd", 0.0)))[: self.max_examples]
        return Finding(
            self.mode,
            True,
            "",
            self.definition,
            threshold,
            self.unit,
            int(count),
            float(impact_usd),
            tuple(worst),
            dict(details or {}),
            labels,
        )

    def not_applicable(self, reason: str) -> Finding:
        """A Finding saying the input cannot support this mode, and why."""
        return not_applicable(self.mode, reason, self.definition, self.unit)


def not_applicable(mode: str, reason: str, definition: str = "", unit: str = "") -> Finding:
    """A Finding for a mode the input cannot support."""
    return Finding(mode, False, reason, definition, "", unit)


REGISTRY: dict[str, type[Detector]] = {}
# the paper's Table 2 order, then the extra "waste" mode
MODES = (
    "over_routing",
    "under_routing",
    "over_delegation",
    "under_verification",
    "serving_congestion",
    "stale_rollouts",
    "cache_misuse",
    "waste",
)


def register(cls: type[Detector]) -> type[Detector]:
    """Class decorator: add a detector to ``REGISTRY`` under its ``mode``."""
    assert cls.mode and cls.mode not in REGISTRY, cls.mode
    REGISTRY[cls.mode] = cls
    return cls


def detect_all(ctx: AuditContext, modes: Sequence[str] | None = None) -> list[Finding]:
    """Run every registered detector (or those named) in registry order."""
    import tokenomy.audit.detectors  # noqa: F401  (fills the registry)

    return [REGISTRY[m]().detect(ctx) for m in (modes or [m for m in MODES if m in REGISTRY])]
