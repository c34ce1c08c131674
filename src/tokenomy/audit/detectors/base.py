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
    "CACHE_POINTS",
    "MODES",
    "REGISTRY",
    "AuditContext",
    "Detector",
    "Finding",
    "detect_all",
    "not_applicable",
    "reads_decision",
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
        action: the concrete change that recovers the impact, in words ("" when not applicable).
        impact_ci95: a 95% bootstrap interval of ``impact_usd`` over the violations (resampling them,
            seeded); ``None`` with fewer than two violations. It covers which violations occurred, not
            the uncertainty of a modelled per-violation impact (see ``labels``).
        request_ids: the requests the violations touch, worst first (at most ``MAX_REQUEST_IDS``).
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
    action: str = ""
    impact_ci95: tuple[float, float] | None = None
    request_ids: tuple[str, ...] = ()

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
            "action": self.action,
            "impact_ci95": None if self.impact_ci95 is None else [float(x) for x in self.impact_ci95],
            "request_ids": list(self.request_ids),
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
        """A Finding for an applicable mode, with examples sorted worst first and cut to ``max_examples``;
        its action, the bootstrap interval of the impact and the requests touched come from all of them."""
        ranked = sorted(examples, key=lambda e: -float(e.get("impact_usd", 0.0)))
        worst = ranked[: self.max_examples]
        impacts = np.array([float(e.get("impact_usd", 0.0)) for e in ranked], dtype=np.float64)
        ids = tuple(dict.fromkeys(str(e["request_id"]) for e in ranked if e.get("request_id") is not None))
        template = ACTIONS.get(self.mode, "")
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
            template.format(count=int(count), unit=self.unit, requests=len(ids)) if count else "",
            impact_interval(impacts, float(impact_usd)),
            ids[:MAX_REQUEST_IDS],
        )

    def not_applicable(self, reason: str) -> Finding:
        """A Finding saying the input cannot support this mode, and why."""
        return not_applicable(self.mode, reason, self.definition, self.unit)


def not_applicable(mode: str, reason: str, definition: str = "", unit: str = "") -> Finding:
    """A Finding for a mode the input cannot support."""
    return Finding(mode, False, reason, definition, "", unit)


MAX_REQUEST_IDS = 200
"""Request ids a finding lists (worst first); the count says how many there were in all."""

# mode -> the change that recovers a mode's impact; {count} {unit} {requests} are filled in.
ACTIONS: dict[str, str] = {
    "over_routing": "Route these {count} {unit} to the cheaper model that served them as well: "
    "a router on the request's V would have (see the examples).",
    "under_routing": "Route these {count} {unit} to the stronger model: at their V the quality it adds "
    "is worth more than its extra cost.",
    "over_delegation": "Require a confirmation before these {count} {unit} (the autonomy schedule asks "
    "for one at their class) or lower the agent's autonomy for that class.",
    "under_verification": "Add a test run after the last edit in these {count} {unit}: at their V a "
    "verify step pays for itself.",
    "serving_congestion": "Price or shed the load at these {count} {unit}: admit by surplus with the "
    "congestion price λ, or move the low-V requests off the peak.",
    "stale_rollouts": "Discount or drop these {count} stale {unit} (generated too many policy versions "
    "ago), or shorten the rollout-to-update lag.",
    "cache_misuse": "Keep the high-value prefixes cached and make prompt prefixes stable across "
    "calls: these {count} {unit} paid for input the cache could have served.",
    "waste": "Stop paying for unusable output: fix or stop retrying the {count} {unit} that failed or "
    "returned malformed replies (see the examples).",
}


def impact_interval(
    impacts: F64, total: float, draws: int = 1000, seed: int = 0
) -> tuple[float, float] | None:
    """95% percentile interval of the summed impact, resampling the violations (seeded).

    The per-violation impacts may not sum to ``total`` (a detector may add a modelled term): the
    interval is then scaled by ``total / sum`` so it brackets the reported figure.
    """
    n = impacts.size
    if n < 2:
        return None
    rng = np.random.default_rng(seed)
    sums = impacts[rng.integers(0, n, size=(draws, n))].sum(axis=1) if n <= 2_000 else None
    if sums is None:  # a large count: the normal approximation of the sum is accurate and cheap
        se = float(impacts.std(ddof=1)) * np.sqrt(n)
        lo, hi = float(impacts.sum()) - 1.96 * se, float(impacts.sum()) + 1.96 * se
    else:
        lo, hi = (float(x) for x in np.percentile(sums, [2.5, 97.5]))
    base = float(impacts.sum())
    scale = total / base if base > 0 else 1.0
    return (max(lo * scale, 0.0), max(hi * scale, 0.0))


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


CACHE_POINTS = ("cache-admit", "cache-refuse", "cache-keep", "cache-evict")
"""Decision points of the capital layer's cache decisions (read by cache_misuse)."""


def reads_decision(layer: str, decision_point: str, kind: str) -> bool:
    """Whether a detector reads ledger decisions of this layer, point and kind as records (routing:
    demand; serving: supply; cache_misuse: capital cache points; stale_rollouts: capital updates). A
    bulk reader builds only those; the rest reach the detectors as steps of the log."""
    if layer in ("demand", "supply"):
        return True
    return layer == "capital" and (
        decision_point in CACHE_POINTS or kind == "update" or decision_point.endswith("-use")
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
