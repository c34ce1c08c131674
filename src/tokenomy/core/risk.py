"""Risk measures that turn a harm distribution into the ΔR of Eq. 1 (SPEC.md §1 "Risk measure").

* ``expectation`` — the mean harm; the default for ordinary action classes.
* ``cvar`` — CVaR_α, the mean of the worst (1 − α) tail of harm, for classes marked rare-and-severe
  (the paper's Knightian case). With α = 0 it is the mean; as α → 1 it tends to the worst case.
* ``worst_case`` — the maximum expected harm over a finite ambiguity set of distributions.

Harm is "probability × severity": a distribution over severities (0 = no harm). Weights are
probabilities and must sum to 1 (within 1e-9). CVaR on a discrete distribution splits the atom at
the VaR so the tail mass is exactly 1 − α (Rockafellar–Uryasev), which is what brute force gives on
equally weighted samples when (1 − α)·n is a whole number.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from tokenomy.core._checks import check_finite_array, check_nonneg_array, check_prob
from tokenomy.core.errors import ValidationError
from tokenomy.core.uses import TokenUse

__all__ = ["CVaR", "Expectation", "RiskMeasure", "WorstCase", "cvar", "expectation", "worst_case"]


def _weights(values: NDArray[np.float64], probs: ArrayLike | None) -> NDArray[np.float64]:
    if values.ndim != 1 or values.size == 0:
        raise ValidationError(f"harm values must be a non-empty 1-D sequence, got shape {values.shape}")
    if probs is None:
        return np.full(values.size, 1.0 / values.size)
    p = check_nonneg_array("probs", probs)
    if p.shape != values.shape:
        raise ValidationError(f"probs must have the shape of values {values.shape}, got {p.shape}")
    total = float(p.sum())
    if abs(total - 1.0) > 1e-9:
        raise ValidationError(f"probs must sum to 1, got {total!r}")
    return p


def expectation(values: ArrayLike, probs: ArrayLike | None = None) -> float:
    """Mean harm of samples (equally weighted) or of a discrete distribution."""
    v = check_finite_array("harm values", values)
    return float(np.dot(v, _weights(v, probs)))


def cvar(values: ArrayLike, alpha: float, probs: ArrayLike | None = None) -> float:
    """CVaR_α of harm: the expected harm in the worst (1 − α) probability mass.

    Args:
        values: harm samples or support points.
        alpha: confidence level in [0, 1); 0.95 averages the worst 5%.
        probs: probabilities of ``values``; equal weights when ``None``.
    """
    a = check_prob("alpha", alpha)
    if a >= 1.0:
        raise ValidationError(f"alpha must be in [0, 1), got {alpha!r}; use worst_case for α = 1")
    v = check_finite_array("harm values", values)
    p = _weights(v, probs)
    order = np.argsort(-v, kind="stable")
    v, p = v[order], p[order]
    tail = 1.0 - a
    cum = np.cumsum(p)
    before = np.concatenate(([0.0], cum[:-1]))
    take = np.clip(tail - before, 0.0, p)
    return float(np.dot(v, take) / tail)


def worst_case(values: ArrayLike, probs_set: Sequence[ArrayLike]) -> float:
    """Maximum expected harm over a finite ambiguity set of distributions on ``values``."""
    v = check_finite_array("harm values", values)
    if not probs_set:
        raise ValidationError("the ambiguity set must hold at least one distribution")
    return max(float(np.dot(v, _weights(v, p))) for p in probs_set)


@dataclass(frozen=True, slots=True)
class Expectation:
    """Price harm at its mean."""

    name: str = "expectation"

    def measure(self, values: ArrayLike, probs: ArrayLike | None = None) -> float:
        """Return the mean harm."""
        return expectation(values, probs)


@dataclass(frozen=True, slots=True)
class CVaR:
    """Price harm at CVaR_α (for rare-and-severe, Knightian classes)."""

    alpha: float = 0.95
    name: str = "cvar"

    def __post_init__(self) -> None:
        if not 0.0 <= float(self.alpha) < 1.0:
            raise ValidationError(f"CVaR alpha must be in [0, 1), got {self.alpha!r}")

    def measure(self, values: ArrayLike, probs: ArrayLike | None = None) -> float:
        """Return CVaR_α of harm."""
        return cvar(values, self.alpha, probs)


@dataclass(frozen=True, slots=True)
class WorstCase:
    """Price harm at the worst expectation over an ambiguity set of distributions."""

    probs_set: tuple[tuple[float, ...], ...]
    name: str = "worst_case"

    def measure(self, values: ArrayLike, probs: ArrayLike | None = None) -> float:
        """Return the worst-case expected harm (``probs``, if given, joins the ambiguity set)."""
        dists: list[ArrayLike] = [np.asarray(p) for p in self.probs_set]
        if probs is not None:
            dists.append(probs)
        return worst_case(values, dists)


RiskMeasure = Expectation | CVaR | WorstCase


def priced_use(
    name: str,
    dq: float,
    harm_values: ArrayLike,
    *,
    measure: RiskMeasure | None = None,
    probs: ArrayLike | None = None,
    irreversible_share: float = 0.0,
    dc_usd: float = 0.0,
    dl_s: float = 0.0,
) -> TokenUse:
    """Build a ``TokenUse`` whose ΔR is a risk measure of a harm distribution.

    Args:
        irreversible_share: fraction of the measured harm that cannot be undone (sets ``dr_irr``).
    """
    m = measure or Expectation()
    dr = m.measure(harm_values, probs)
    share = check_prob("irreversible_share", irreversible_share)
    return TokenUse(name, dq, dc_usd, dl_s, dr, dr * share, risk_measure=m.name)


__all__ += ["priced_use"]
