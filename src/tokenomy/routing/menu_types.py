"""The two inputs of a screening menu (Eq. 5): the tiers on offer and the distribution of user values V.

A ``Tier`` is one thing a provider can sell per query: a model (or a fixed mix of models) with its
mean quality q_k (probability of success, or a score in [0, 1]) and its mean serving cost c_k in USD.
``ValueTypes`` is a discrete distribution of V (USD per unit of quality): K sorted, distinct values
with positive weights summing to 1, built from explicit (value, weight) pairs or by binning samples
into K equal-mass types (each type's V is the weighted mean of its bin). ``synthetic_values`` draws
seeded samples from a lognormal or Pareto law; whatever is built from them is flagged ``synthetic``.

This module reads no file; the CLI parses ``--V-dist`` and hands the numbers in. Bad input raises
``ValidationError`` naming the field, the bad entry and the valid form.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from tokenomy.core.errors import ValidationError
from tokenomy.routing.dataset import RoutingDataset

__all__ = ["DISTRIBUTIONS", "Tier", "ValueTypes", "check_tiers", "synthetic_values", "tiers_from_dataset"]

DISTRIBUTIONS = {"lognormal": ("mu", "sigma"), "pareto": ("alpha", "xm")}  # name -> parameter names


@dataclass(frozen=True, slots=True)
class Tier:
    """One tier a menu can offer: mean quality per query and mean serving cost per query (USD)."""

    name: str
    quality: float
    cost_usd: float


def check_tiers(tiers: Sequence[Tier]) -> tuple[Tier, ...]:
    """Validate tiers and return them sorted by (quality, cost) ascending.

    Raises:
        ValidationError: no tier, a repeated name, quality outside [0, 1] or a cost that is NaN,
            infinite or negative (names the tier and the value).
    """
    tiers = tuple(tiers)
    if not tiers:
        raise ValidationError("a menu needs at least one tier (got none)")
    names = [t.name for t in tiers]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise ValidationError(f"tier names must be unique; repeated: {dup}")
    for t in tiers:
        q, c = float(t.quality), float(t.cost_usd)
        if not (np.isfinite(q) and 0.0 <= q <= 1.0):
            raise ValidationError(f"tier {t.name!r}: quality must be in [0, 1], got {t.quality!r}")
        if not (np.isfinite(c) and c >= 0.0):
            raise ValidationError(
                f"tier {t.name!r}: cost_usd must be a finite number ≥ 0, got {t.cost_usd!r}"
            )
    return tuple(sorted(tiers, key=lambda t: (t.quality, t.cost_usd)))


def tiers_from_dataset(ds: RoutingDataset) -> tuple[Tier, ...]:
    """One tier per model of a routing dataset: its mean quality and mean cost per query."""
    q = ds.quality.mean(axis=0)
    c = ds.cost_usd.mean(axis=0)
    return tuple(Tier(m, float(q[j]), float(c[j])) for j, m in enumerate(ds.models))


@dataclass(frozen=True, slots=True)
class ValueTypes:
    """A discrete distribution of user values V (USD per unit of quality).

    Attributes:
        values_usd: shape (K,), strictly increasing, finite, ≥ 0.
        weights: shape (K,), > 0, summing to 1 (the share of requests of each type).
        source: where the values came from (a file, or the distribution and seed).
        synthetic: True when the values were drawn from an assumed law, not measured.
    """

    values_usd: NDArray[np.float64]
    weights: NDArray[np.float64]
    source: str = ""
    synthetic: bool = False

    def __post_init__(self) -> None:
        v, w = self.values_usd, self.weights
        if v.ndim != 1 or v.shape != w.shape or v.size == 0:
            raise ValidationError(
                f"values_usd and weights must be 1-D of one length ≥ 1, got {v.shape} and {w.shape}"
            )
        if v.size > 1 and not (np.diff(v) > 0).all():
            raise ValidationError("values_usd must be strictly increasing (use ValueTypes.from_samples)")
        if abs(float(w.sum()) - 1.0) > 1e-9:
            raise ValidationError(f"weights must sum to 1, got {float(w.sum())!r}")

    def __len__(self) -> int:
        return int(self.values_usd.size)

    @property
    def cum_weights(self) -> NDArray[np.float64]:
        """F_k: the share of requests with V ≤ values_usd[k]."""
        return np.cumsum(self.weights)

    @classmethod
    def from_samples(
        cls,
        samples: ArrayLike,
        weights: ArrayLike | None = None,
        *,
        k: int | None = None,
        source: str = "",
        synthetic: bool = False,
    ) -> ValueTypes:
        """Types from samples of V (optionally weighted), binned into ``k`` equal-mass types.

        Args:
            samples: V values, finite and ≥ 0.
            weights: one weight > 0 per sample (default: equal).
            k: the number of types; ``None`` keeps every distinct value as its own type. Bins are
                consecutive in V and hold about 1/k of the weight each; a type's V is its bin's
                weighted mean; equal values are merged.
            source, synthetic: carried into the result.

        Raises:
            ValidationError: no sample, a NaN / infinite / negative V, a weight that is not > 0,
                mismatched lengths, or k < 1 (names the entry).
        """
        v = np.asarray(samples, dtype=np.float64).ravel()
        if v.size == 0:
            raise ValidationError("V samples: need at least one value, got none")
        bad = ~np.isfinite(v) | (v < 0)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValidationError(f"V samples: entry {i} is {v[i]!r}; V must be a finite number ≥ 0 (USD)")
        if weights is None:
            w = np.ones_like(v)
        else:
            w = np.asarray(weights, dtype=np.float64).ravel()
            if w.shape != v.shape:
                raise ValidationError(f"V weights: need one per sample ({v.size}), got {w.size}")
            badw = ~np.isfinite(w) | (w <= 0)
            if badw.any():
                i = int(np.flatnonzero(badw)[0])
                raise ValidationError(
                    f"V weights: entry {i} is {w[i]!r}; a weight must be a finite number > 0"
                )
        if k is not None and k < 1:
            raise ValidationError(f"the number of types k must be ≥ 1, got {k!r}")
        order = np.argsort(v, kind="stable")
        v, w = v[order], w[order] / w.sum()
        uniq, inverse = np.unique(v, return_inverse=True)
        uw = np.bincount(inverse, weights=w)
        if k is None or k >= uniq.size:
            return cls(uniq, uw / uw.sum(), source, synthetic)
        mid = np.cumsum(uw) - uw / 2  # each distinct value's mass midpoint decides its bin
        bins = np.minimum((mid * k).astype(np.int64), k - 1)
        mass = np.bincount(bins, weights=uw, minlength=k)
        total = np.bincount(bins, weights=uw * uniq, minlength=k)
        keep = mass > 0
        vals = total[keep] / mass[keep]
        return cls.from_samples(vals, mass[keep], k=None, source=source, synthetic=synthetic)


def synthetic_values(dist: str, params: Sequence[float], *, n: int, seed: int = 0) -> NDArray[np.float64]:
    """``n`` seeded draws of V from a named law (values are synthetic: say so wherever shown).

    Args:
        dist: ``lognormal`` (params mu, sigma of log V; sigma > 0) or ``pareto`` (params alpha > 0,
            xm > 0: P(V > v) = (xm / v)^alpha for v ≥ xm).
        params: the two parameters, in that order.
        n: the number of draws (≥ 1).
        seed: seed of the ``numpy.random.Generator``.

    Raises:
        ValidationError: an unknown law, the wrong number of parameters or one out of its domain.
    """
    if dist not in DISTRIBUTIONS:
        raise ValidationError(f"unknown V distribution {dist!r}; valid: {sorted(DISTRIBUTIONS)}")
    names = DISTRIBUTIONS[dist]
    if len(params) != len(names) or not all(np.isfinite(p) for p in params):
        raise ValidationError(
            f"{dist} needs {len(names)} finite parameters ({', '.join(names)}), got {params!r}"
        )
    if n < 1:
        raise ValidationError(f"the number of V draws must be ≥ 1, got {n!r}")
    rng = np.random.default_rng(seed)
    a, b = float(params[0]), float(params[1])
    if dist == "lognormal":
        if b <= 0:
            raise ValidationError(f"lognormal sigma must be > 0, got {b!r}")
        return rng.lognormal(a, b, n)
    if a <= 0 or b <= 0:
        raise ValidationError(f"pareto alpha and xm must be > 0, got alpha={a!r}, xm={b!r}")
    return b * (1.0 + rng.pareto(a, n))  # numpy's pareto is Lomax; shift to classic Pareto(xm)
