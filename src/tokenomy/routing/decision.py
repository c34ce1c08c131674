"""What the router returns: ``RouteDecision`` for one request, ``RouteBatch`` for many (vLLM's decision-as-data).

A decision holds the candidate table, one row per model with the estimated dq, dc_usd, dl_s, dr and
the Eq. 4 surplus at the request's prices, the chosen model (or ``None``: the null option) and what
drove the choice (``mode``: Eq. 4 on a quality source, or the validated fall-back to the best fixed
model). ``to_decision`` / ``to_batch`` turn them into ledger records; latency and risk are SYNTHETIC
on the bundled data and the records say so in their metadata.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from tokenomy.core._checks import real, text
from tokenomy.core.prices import PriceVector
from tokenomy.core.rule import NULL
from tokenomy.ledger import Candidate, Decision, DecisionBatch, Layer

__all__ = ["CandidateRow", "RouteBatch", "RouteDecision", "RouteRequest"]


@dataclass(frozen=True, slots=True)
class RouteRequest:
    """One request to route: raw prompt text, optional category, V (USD per unit quality) and id.

    ``v_usd=None`` uses the V of the price vector passed to ``Router.route``; else a finite number ≥ 0
    (a str or bool is refused). The prompt must be UTF-8 encodable text. ``request_id`` (non-blank) defaults
    to a fresh ``req-<uuid4 hex>``, so decisions of requests built without one never share a ledger
    key (a uuid, not a counter: ledgers outlive the process and are appended to by many).
    """

    prompt: str
    category: str = ""
    v_usd: float | None = None
    request_id: str = field(default_factory=lambda: f"req-{uuid.uuid4().hex}")

    def __post_init__(self) -> None:
        text("prompt", self.prompt, where="RouteRequest")
        text("category", self.category, where="RouteRequest")
        if self.v_usd is not None:
            real("v_usd", self.v_usd, low=0.0, where="RouteRequest")
        text("request_id", self.request_id, where="RouteRequest", blank=False)


@dataclass(frozen=True, slots=True)
class CandidateRow:
    """One model as the router saw it (USD, seconds, harm units)."""

    model: str
    dq: float
    dc_usd: float
    dl_s: float
    dr: float
    surplus_usd: float


@dataclass(frozen=True, slots=True)
class RouteDecision:
    """The router's decision for one request.

    Attributes:
        request_id: the request.
        candidates: one row per model, in the router's model order.
        chosen: index of the chosen model, ``None`` for the null option.
        mode: "eq4:<quality source>" or "fixed" (the validated fall-back).
        prices: the price vector in force, with the request's V.
    """

    request_id: str
    candidates: tuple[CandidateRow, ...]
    chosen: int | None
    mode: str
    prices: PriceVector

    @property
    def chosen_model(self) -> str | None:
        """The chosen model's name, ``None`` when nothing is spent."""
        return None if self.chosen is None else self.candidates[self.chosen].model

    def to_decision(self, *, tenant: str = "", time_s: float = 0.0) -> Decision:
        """The ledger record of this decision (layer demand, decision point "route")."""
        return Decision(
            self.request_id,
            Layer.DEMAND,
            "route",
            tuple(
                Candidate(c.model, c.dq, c.dc_usd, c.dl_s, c.dr, 0.0, c.surplus_usd) for c in self.candidates
            ),
            self.chosen,
            self.prices,
            time_s=time_s,
            tenant=tenant,
            metadata={"mode": self.mode, "synthetic": ["dl_s", "dr"]},
        )


@dataclass(frozen=True, slots=True)
class RouteBatch:
    """Decisions for N requests over M models (arrays).

    Attributes:
        models: the M model names.
        chosen: (N,) model index, ``NULL`` (-1) for the null option.
        dq, dc_usd, dl_s, dr, surplus_usd: (N, M) estimated effects and Eq. 4 surplus.
        v_usd: (N,) V per request.
        mode: (N,) what drove each decision.
    """

    models: tuple[str, ...]
    chosen: NDArray[np.int64]
    dq: NDArray[np.float64]
    dc_usd: NDArray[np.float64]
    dl_s: NDArray[np.float64]
    dr: NDArray[np.float64]
    surplus_usd: NDArray[np.float64]
    v_usd: NDArray[np.float64]
    mode: NDArray[np.object_]

    def __len__(self) -> int:
        return int(self.chosen.size)

    def decision(self, i: int, request_id: str, prices: PriceVector) -> RouteDecision:
        """Row ``i`` as a ``RouteDecision``."""
        rows = tuple(
            CandidateRow(
                m,
                float(self.dq[i, j]),
                float(self.dc_usd[i, j]),
                float(self.dl_s[i, j]),
                float(self.dr[i, j]),
                float(self.surplus_usd[i, j]),
            )
            for j, m in enumerate(self.models)
        )
        c = int(self.chosen[i])
        return RouteDecision(
            request_id,
            rows,
            None if c == NULL else c,
            str(self.mode[i]),
            prices.with_prices(v_usd=float(self.v_usd[i])),
        )

    def to_batch(
        self, request_ids: Sequence[str], prices: PriceVector, *, time_s: float = 0.0
    ) -> DecisionBatch:
        """The columnar ledger batch of these decisions (V per request, λ and ρ from ``prices``)."""
        n = len(self)
        return DecisionBatch(
            np.asarray(request_ids, dtype=object),
            Layer.DEMAND,
            "route",
            self.models,
            self.dq,
            self.dc_usd,
            self.dl_s,
            self.dr,
            np.zeros_like(self.dr),
            self.chosen,
            self.v_usd,
            np.full(n, prices.lam_usd_per_s),
            np.full(n, prices.rho_usd),
            np.full(n, prices.rho_irr),
            np.full(n, float(time_s)),
            sources={
                "v_source": prices.v_source,
                "lam_source": prices.lam_source,
                "rho_source": prices.rho_source,
                "rho_irr_source": prices.rho_irr_source,
            },
        )
