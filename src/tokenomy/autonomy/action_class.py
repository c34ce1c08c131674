"""One action class of an autonomy schedule (``schedule.Schedule.classes``): what it does and what
one call of it is priced at (Eq. 6–7). Each class is described by effect, reversibility and blast
radius, and carries

* a confirmation level — ``free`` (allow), ``confirm`` / ``multi_party`` (ask), ``deny`` — and the
  level in force outside a sandbox (``level_outside_sandbox``);
* an approval scope — ``once`` / ``session`` / ``persistent`` — and the approvers ``multi_party``
  needs;
* prices — ρ (USD per unit of recoverable harm), ρ_irr ≥ ρ (USD per unit of irreversible harm),
  a prior harm probability, severity and irreversible share, and ``rare_severe`` (price by CVaR_α,
  ``cvar_alpha``, instead of the expectation).

A value: it prices one call (core's ``risk_cost``) and says its level; it does not parse or
validate (``schedule.parse_schedule`` does) and decides nothing. Re-exported by ``schedule``.
"""

from __future__ import annotations

from dataclasses import dataclass

from tokenomy.core.prices import PriceSource, PriceVector
from tokenomy.core.rule import risk_cost

__all__ = ["ActionClass"]


@dataclass(frozen=True, slots=True)
class ActionClass:
    """One action class of the schedule (see the module docstring for the fields' meaning)."""

    name: str
    description: str
    effect: str
    reversibility: str
    blast_radius: str
    level: str
    level_outside_sandbox: str
    scope: str
    approvers: int
    rho_usd: float
    rho_irr_usd: float
    p_harm: float
    severity: float
    irreversible: float
    rare_severe: bool
    cvar_alpha: float

    def dr(self, p_harm: float | None = None) -> float:
        """Expected harm ΔR of one call (harm units): p·severity (``p_harm`` overrides the prior)."""
        return (self.p_harm if p_harm is None else p_harm) * self.severity

    def dr_irr(self, p_harm: float | None = None) -> float:
        """Its unrecoverable part ΔR_irr ⊆ ΔR (harm units): p·severity·irreversible."""
        return self.dr(p_harm) * self.irreversible

    def harm_price_usd(self, p_harm: float | None = None) -> float:
        """The price of one call's harm, USD: core's ``risk_cost``, ρ·(ΔR − ΔR_irr) + ρ_irr·ΔR_irr.

        The recoverable part is priced at ρ and the unrecoverable part at ρ_irr ≥ ρ (ρ_irr is the
        whole price of an irreversible harm unit, not a premium on top of ρ). Rare-and-severe classes
        replace the probability by its CVaR_α weight: for a Bernoulli harm of probability p and size
        s, CVaR_α = s·min(1, p/(1−α)), the mean of the worst (1−α) tail. ``p_harm`` overrides the
        class prior (e.g. a learned per-call estimate).
        """
        dr = self.dr_measured(p_harm)
        return risk_cost(dr, dr * self.irreversible, self.rho_usd, self.rho_irr_usd)

    def dr_measured(self, p_harm: float | None = None) -> float:
        """ΔR of one call under the class's risk measure (harm units): p·severity, or its CVaR_α weight
        s·min(1, p/(1−α)) for rare-and-severe classes; its irreversible part is ``irreversible`` of it."""
        p = self.p_harm if p_harm is None else p_harm
        weight = min(1.0, p / (1.0 - self.cvar_alpha)) if self.rare_severe else p
        return weight * self.severity

    def prices(self) -> PriceVector:
        """The class's ρ and ρ_irr as a core price vector (the safety policy's prices; V = λ = 0)."""
        return PriceVector(
            rho_usd=self.rho_usd,
            rho_irr_usd=self.rho_irr_usd,
            rho_source=PriceSource.SAFETY_POLICY,
            rho_irr_source=PriceSource.SAFETY_POLICY,
        )

    def effective_level(self, sandboxed: bool) -> str:
        """The level in force: ``level_outside_sandbox`` applies when not sandboxed."""
        return self.level if sandboxed else self.level_outside_sandbox
