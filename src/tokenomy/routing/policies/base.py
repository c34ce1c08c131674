"""The routing-policy contract: ``fit(train)`` once, then ``decide(problem) -> Routes`` per batch.

A ``Problem`` is what a router sees for N requests over M models: the estimated effects of Eq. 4
(dq, dc_usd, dl_s, dr, each (N, M)), the per-request V and the shared λ, ρ, ρ_irr; at fit time (and for the
ex-post oracle only) it also carries the realised quality and cost. ``dq_sources`` holds every
quality estimate the estimator family produced (name -> (N, M)), so baselines built on a different
predictor (RouterBench used kNN) share one fitted family. Train problems carry *out-of-fold*
estimates: tuning a threshold on in-sample q̂ would overfit.

``Routes`` is the decision as data: the model that answers each request (``NULL`` = -1, nothing
spent) and, for a cascade, every model that was called (all are paid for). One policy = one class
with one verb (``decide``); ``POLICIES`` maps names to classes (RouteLLM's ``routers.py`` pattern).
Estimated surplus and realised welfare are core's one rule (``surplus_matrix``, ``realised_utility``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from tokenomy.core.errors import ValidationError
from tokenomy.core.rule import NULL, realised_utility, surplus_matrix

__all__ = ["POLICIES", "V_GRID", "Policy", "Problem", "Routes", "make_policy", "nearest_grid"]

POLICIES: dict[str, type[Policy]] = {}

V_GRID = tuple(float(f"{m}e{k}") for k in range(-4, 2) for m in (1, 3))
"""Values of V (USD per unit quality) at which learned policies tune themselves: 1e-4 … 30."""


@dataclass(frozen=True, slots=True)
class Problem:
    """N requests × M models as a policy sees them.

    Attributes:
        models: the M model names.
        dq, dc_usd, dl_s, dr: estimated effects, (N, M) each (dl_s and dr SYNTHETIC on these data).
        v_usd: V per request, (N,).
        lam_usd_per_s, rho_usd: λ and ρ in force (scalars).
        rho_irr_usd: ρ_irr in force, the whole price of irreversible harm (``None``: equal to ρ).
        category_codes: (N,) category code per request (-1 unknown).
        dq_sources: estimator name -> (N, M) q̂ (always includes "main", which is ``dq``).
        quality, cost_usd: realised (N, M) outcomes, present only on train problems and for the oracle.
        latency_s: realised latency (N, M) when the data has it, else ``None`` (then dl_s stands in).
        consequence: (N,) harm units of a wrong answer per request (SYNTHETIC).
        consequence_irr: (N,) the irreversible part of ``consequence`` (≤ it; ``None``: none), so the
            risk of a model is r = (1 − q)·consequence of which (1 − q)·consequence_irr is irreversible.
        baseline_dq: estimator name -> (N, M) q̂ fitted separately for the baselines (the
            predictive router's own kNN); never read by ``tokenomy``'s validated fall-back.
    """

    models: tuple[str, ...]
    dq: NDArray[np.float64]
    dc_usd: NDArray[np.float64]
    dl_s: NDArray[np.float64]
    dr: NDArray[np.float64]
    v_usd: NDArray[np.float64]
    lam_usd_per_s: float = 0.0
    rho_usd: float = 0.0
    category_codes: NDArray[np.int64] | None = None
    dq_sources: Mapping[str, NDArray[np.float64]] = field(default_factory=dict)
    quality: NDArray[np.float64] | None = None
    cost_usd: NDArray[np.float64] | None = None
    latency_s: NDArray[np.float64] | None = None
    consequence: NDArray[np.float64] | None = None
    baseline_dq: Mapping[str, NDArray[np.float64]] = field(default_factory=dict)
    rho_irr_usd: float | None = None
    consequence_irr: NDArray[np.float64] | None = None

    def __len__(self) -> int:
        return int(self.dq.shape[0])

    def without_outcomes(self) -> Problem:
        """The same requests with the realised outcomes (quality, cost, latency) removed."""
        return replace(self, quality=None, cost_usd=None, latency_s=None)

    def at_v(self, v_usd: float | NDArray[np.float64]) -> Problem:
        """The same requests at another V (a scalar or one per request)."""
        return replace(self, v_usd=np.broadcast_to(np.asarray(v_usd, np.float64), (len(self),)).copy())

    def source(self, name: str) -> NDArray[np.float64]:
        """q̂ from estimator ``name`` (``main`` = ``dq``)."""
        if name == "main":
            return self.dq
        if name not in self.dq_sources:
            raise ValidationError(f"no quality source {name!r}; have main, {sorted(self.dq_sources)}")
        return self.dq_sources[name]

    @property
    def rho_irr(self) -> float:
        """ρ_irr as a float (ρ when not set)."""
        return self.rho_usd if self.rho_irr_usd is None else self.rho_irr_usd

    def risk(self, quality: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64] | float]:
        """(r, r_irr) of answers of ``quality`` (N, M) or (N,): (1 − q)·consequence and its irreversible part."""
        per_row = (-1, 1) if quality.ndim == 2 else (-1,)
        cons = 0.0 if self.consequence is None else self.consequence.reshape(per_row)
        irr = 0.0 if self.consequence_irr is None else (1.0 - quality) * self.consequence_irr.reshape(per_row)
        return np.asarray((1.0 - quality) * cons), irr

    def estimated_surplus(self, dq: NDArray[np.float64] | None = None) -> NDArray[np.float64]:
        """Eq. 4 surplus per (request, model) with the estimated effects, (N, M) USD (core's rule)."""
        q = self.dq if dq is None else dq
        if dq is None or self.consequence is None:
            dr: NDArray[np.float64] = self.dr
            dr_irr = 0.0 if self.consequence_irr is None else self.risk(q)[1]
        else:
            dr, dr_irr = self.risk(q)
        # Internal estimates, checked where they were made: skip the O(N·M) validation (hot path).
        return surplus_matrix(
            self.v_usd,
            q,
            self.dc_usd,
            self.dl_s,
            dr,
            dr_irr,
            lam_usd_per_s=self.lam_usd_per_s,
            rho_usd=self.rho_usd,
            rho_irr_usd=self.rho_irr,
            validate=False,
        )

    def realised_welfare(self) -> NDArray[np.float64]:
        """Realised Eq. 1 utility V·q − c − λ·l − ρ·(r − r_irr) − ρ_irr·r_irr per (request, model), (N, M).

        Needs the realised outcomes. Latency is the data's when present, else the (SYNTHETIC) estimate;
        risk is SYNTHETIC: (1 − q) × consequence (see ``risk``).
        """
        if self.quality is None or self.cost_usd is None:
            raise ValidationError("this problem has no realised outcomes (only train problems do)")
        lat = self.latency_s if self.latency_s is not None else self.dl_s
        risk, risk_irr = self.risk(self.quality)
        return realised_utility(
            self.v_usd[:, None],
            self.quality,
            self.cost_usd,
            lat,
            risk,
            risk_irr,
            lam_usd_per_s=self.lam_usd_per_s,
            rho_usd=self.rho_usd,
            rho_irr_usd=self.rho_irr,
        )


@dataclass(frozen=True, slots=True)
class Routes:
    """A policy's decisions for N requests.

    Attributes:
        chosen: (N,) index of the model whose answer is used, ``NULL`` (-1) for nothing.
        called: (N, M) bool, every model called (and paid for); ``None`` = only ``chosen``.
        mode: (N,) what drove each decision (policy-specific, e.g. "eq4:stacked" or "fixed"), or None.
    """

    chosen: NDArray[np.int64]
    called: NDArray[np.bool_] | None = None
    mode: NDArray[np.object_] | None = None

    def called_matrix(self, m: int) -> NDArray[np.bool_]:
        """(N, M) bool of the models paid for."""
        if self.called is not None:
            return self.called
        out = np.zeros((self.chosen.size, m), dtype=bool)
        ok = self.chosen >= 0
        out[np.flatnonzero(ok), self.chosen[ok]] = True
        return out


def nearest_grid(v_usd: NDArray[np.float64], grid: tuple[float, ...] = V_GRID) -> NDArray[np.int64]:
    """Index of the grid value nearest each V in log space (V ≤ 0 maps to the smallest)."""
    g = np.log(np.asarray(grid))
    lv = np.log(np.maximum(np.asarray(v_usd, np.float64), grid[0] * 1e-3))
    return np.asarray(np.abs(lv[:, None] - g[None, :]).argmin(axis=1), dtype=np.int64)


def eq4(surplus: NDArray[np.float64], allow_null: bool = True) -> NDArray[np.int64]:
    """argmax over models; ``NULL`` when the best surplus is ≤ 0 (if ``allow_null``)."""
    idx = surplus.argmax(axis=1)
    if not allow_null:
        return np.asarray(idx, dtype=np.int64)
    best = np.take_along_axis(surplus, idx[:, None], axis=1)[:, 0]
    return np.asarray(np.where(best > 0.0, idx, NULL), dtype=np.int64)


class Policy(ABC):
    """A routing policy: learns on a train problem, decides on new ones."""

    name: ClassVar[str] = ""
    needs_outcomes: ClassVar[bool] = False
    """True only for the ex-post oracle: it reads the realised outcomes of the requests it routes."""

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if cls.name:
            POLICIES[cls.name] = cls

    def fit(self, train: Problem) -> Policy:
        """Learn from a train problem with out-of-fold estimates and realised outcomes (default: nothing)."""
        return self

    def route(self, problem: Problem) -> Routes:
        """Route every request of ``problem`` as this policy may see it: a policy that does not declare
        ``needs_outcomes`` gets the problem without its realised outcomes (the template callers use)."""
        return self.decide(problem if self.needs_outcomes else problem.without_outcomes())

    @abstractmethod
    def decide(self, problem: Problem) -> Routes:
        """Route every request of ``problem``."""


def make_policy(name: str, **params: object) -> Policy:
    """An instance of the registered policy ``name``.

    Raises:
        ValidationError: unknown name (lists the valid ones).
    """
    if name not in POLICIES:
        raise ValidationError(f"unknown routing policy {name!r}; valid: {', '.join(sorted(POLICIES))}")
    return POLICIES[name](**params)
