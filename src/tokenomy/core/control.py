"""Price discovery: λ and ρ moved by projected subgradient steps on observed violations (Eq. 3).

    λ_{k+1} = max(0, λ_k + η_λ · (observed_p95_s − sla_p95_s))
    ρ_{k+1} = max(0, ρ_k + η_ρ · (observed_risk − risk_envelope))

The step sizes η are in price units per unit of violation (USD/s per second for λ; USD per harm unit
per harm unit for ρ). A constant step gives the textbook behaviour the tests check: while a constraint
binds (observed > target) its price rises by η·violation per update; while it is slack the price
falls by η·slack per update and reaches exactly 0 in finitely many updates, where the projection holds
it (complementary slackness). With a diminishing schedule η_k = η/√k (``diminishing=True``) the
averaged prices converge to the dual optimum for convex problems. The controller is deterministic:
the same observations give the same price path; it keeps that path in ``history_``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from tokenomy.core._checks import check_finite, check_nonneg
from tokenomy.core.errors import ValidationError
from tokenomy.core.prices import PriceSource, PriceVector

__all__ = ["PriceController", "PriceUpdate"]


@dataclass(frozen=True, slots=True)
class PriceUpdate:
    """One step of the controller: what it saw and what it set."""

    step: int
    observed_p95_s: float
    observed_risk: float
    lam_usd_per_s: float
    rho_usd: float


@dataclass(slots=True)
class PriceController:
    """Projected-subgradient controller for λ (latency SLA) and ρ (risk envelope).

    Args:
        sla_p95_s: the latency target, seconds at the 95th percentile.
        risk_envelope: the allowed expected harm per period (harm units).
        eta_lam: step for λ, (USD/s) per second of p95 violation.
        eta_rho: step for ρ, USD per harm unit of violation.
        lam0_usd_per_s, rho0_usd: starting prices.
        diminishing: use η/√k instead of a constant step.

    Raises:
        ValidationError: a target, step or price is not a finite number ≥ 0 (a string is refused;
            ``risk_envelope`` may be ``inf``: no envelope), or ``diminishing`` is not a bool.
    """

    sla_p95_s: float
    risk_envelope: float = math.inf
    eta_lam: float = 0.01
    eta_rho: float = 1.0
    lam0_usd_per_s: float = 0.0
    rho0_usd: float = 0.0
    diminishing: bool = False
    lam_usd_per_s_: float = field(init=False)
    rho_usd_: float = field(init=False)
    history_: list[PriceUpdate] = field(init=False)

    def __post_init__(self) -> None:
        where = "PriceController"
        self.sla_p95_s = check_nonneg("sla_p95_s", self.sla_p95_s, where=where)
        if isinstance(self.risk_envelope, (int, float)) and self.risk_envelope == math.inf:
            self.risk_envelope = math.inf
        else:
            self.risk_envelope = check_nonneg("risk_envelope", self.risk_envelope, where=where)
        self.eta_lam = check_nonneg("eta_lam", self.eta_lam, where=where)
        self.eta_rho = check_nonneg("eta_rho", self.eta_rho, where=where)
        if not isinstance(self.diminishing, bool):
            raise ValidationError(f"diminishing in {where} must be True or False, got {self.diminishing!r}")
        self.lam_usd_per_s_ = check_nonneg("lam0_usd_per_s", self.lam0_usd_per_s, where="PriceController")
        self.rho_usd_ = check_nonneg("rho0_usd", self.rho0_usd, where="PriceController")
        self.history_ = []

    def update(self, observed_p95_s: float, observed_risk: float = 0.0) -> PriceUpdate:
        """Take one step on the observed violations and return the new prices."""
        p95 = check_finite("observed_p95_s", observed_p95_s, where="PriceController.update")
        risk = check_finite("observed_risk", observed_risk, where="PriceController.update")
        k = len(self.history_) + 1
        scale = 1.0 / math.sqrt(k) if self.diminishing else 1.0
        self.lam_usd_per_s_ = max(0.0, self.lam_usd_per_s_ + scale * self.eta_lam * (p95 - self.sla_p95_s))
        if math.isfinite(self.risk_envelope):
            self.rho_usd_ = max(0.0, self.rho_usd_ + scale * self.eta_rho * (risk - self.risk_envelope))
        upd = PriceUpdate(k, p95, risk, self.lam_usd_per_s_, self.rho_usd_)
        self.history_.append(upd)
        return upd

    def prices(self, base: PriceVector) -> PriceVector:
        """``base`` with λ and ρ replaced by the discovered prices (source: discovered)."""
        rho_irr = max(base.rho_irr, self.rho_usd_)
        return base.with_prices(
            PriceSource.DISCOVERED,
            lam_usd_per_s=self.lam_usd_per_s_,
            rho_usd=self.rho_usd_,
            rho_irr_usd=rho_irr,
        )
