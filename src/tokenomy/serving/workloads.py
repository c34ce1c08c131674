"""Workloads: build one from columns, scale its rate, mix tenants, and draw the synthetic V and λ.

Traces carry arrival times and token counts but no value or latency price, so V and λ per request
are SYNTHETIC draws (labelled so in every output), from documented distributions:

* V (USD per completed request) ~ LogNormal(median ``v_median_usd`` = $0.05, σ = 1.0);
* λ (USD per second of end-to-end latency) ~ LogNormal(median ``lam_median_usd_per_s`` = $0.005/s, σ = 1.0);
  independent of V and of the lengths, so every scheduler faces the same mix of urgent and patient users.
* a predicted output length ô = o·exp(σ_p·Z), Z ~ N(0, 1), σ_p = 0.5 (a learned length ranker's error;
  ``noise_sigma=0`` is an oracle).

Rate scaling ×k divides arrival times by k (same requests, k times the rate).
The ServeGen-style generator samples per-tenant Gamma inter-arrivals and log-normal lengths from
per-tenant statistics handed in by the loader. No file I/O here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from tokenomy.core._checks import real, whole
from tokenomy.core.errors import ValidationError
from tokenomy.serving.entities import Workload

__all__ = [
    "SYNTHETIC_NOTE",
    "TenantSpec",
    "ValueModel",
    "concat",
    "make_workload",
    "rate_scaled",
    "tenant_mix",
]

SYNTHETIC_NOTE = (
    "synthetic: V ~ LogNormal(median $0.05, σ 1) per request and λ ~ LogNormal(median "
    "$0.005/s, σ 1); predicted lengths = true × LogNormal(0, 0.5); GPU price $2.5/h (assumed)"
)


@dataclass(frozen=True, slots=True)
class ValueModel:
    """The synthetic value and latency-price distributions (module docstring)."""

    v_median_usd: float = 0.05
    v_sigma: float = 1.0
    lam_median_usd_per_s: float = 0.005
    lam_sigma: float = 1.0
    noise_sigma: float = 0.5

    def __post_init__(self) -> None:
        """Raises ValidationError naming the field: a median not finite > 0, a σ not finite ≥ 0."""
        for name in ("v_median_usd", "lam_median_usd_per_s"):
            object.__setattr__(
                self, name, real(f"ValueModel.{name}", getattr(self, name), low=0, low_open=True)
            )
        for name in ("v_sigma", "lam_sigma", "noise_sigma"):
            object.__setattr__(self, name, real(f"ValueModel.{name}", getattr(self, name), low=0))

    def draw(
        self, out_tokens: NDArray[np.int64], rng: np.random.Generator
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """(V, λ, predicted output) for requests with these true output lengths."""
        n = out_tokens.shape[0]
        v = self.v_median_usd * np.exp(self.v_sigma * rng.standard_normal(n))
        lam = self.lam_median_usd_per_s * np.exp(self.lam_sigma * rng.standard_normal(n))
        pred = np.maximum(1.0, out_tokens * np.exp(self.noise_sigma * rng.standard_normal(n)))
        return v, lam, pred


def _whole_column(name: str, values: ArrayLike) -> NDArray[np.int64]:
    """``values`` as int64, or raise unless every entry is a whole number (10.0 passes, 1.5 does not)."""
    try:
        raw = np.asarray(values)
        if raw.dtype.kind in "iu":
            return raw.astype(np.int64)
        x = raw.astype(np.float64)
    except (TypeError, ValueError, OverflowError):
        raise ValidationError(f"{name} must be whole numbers, got {values!r:.80}") from None
    bad = np.flatnonzero(~np.isfinite(x) | (x != np.round(x)) | (raw.dtype.kind == "b"))
    if bad.size:
        raise ValidationError(f"{name} must be whole numbers; entry {int(bad[0])} is {x.flat[bad[0]]!r}")
    return x.astype(np.int64)


def make_workload(
    name: str,
    arrival_s: ArrayLike,
    prompt_tokens: ArrayLike,
    output_tokens: ArrayLike,
    *,
    tenant: ArrayLike | None = None,
    tenant_names: Sequence[str] = ("default",),
    hash_ids: Sequence[NDArray[np.int64]] | None = None,
    hash_block_tokens: int = 512,
    values: ValueModel | None = None,
    seed: int = 0,
) -> Workload:
    """A validated workload with synthetic V, λ and predicted lengths drawn with ``seed``.

    Raises:
        ValidationError: bad shapes, lengths or tenant codes that are not whole numbers, non-positive
            lengths, negative, non-finite or unsorted times, a negative seed.
    """
    try:
        arr = np.asarray(arrival_s, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValidationError(f"make_workload arrival_s must be numbers, got {arrival_s!r:.80}") from None
    p = _whole_column("make_workload prompt_tokens", prompt_tokens)
    o = _whole_column("make_workload output_tokens", output_tokens)
    seed = whole("make_workload seed", seed)
    if arr.shape != p.shape or arr.shape != o.shape or arr.ndim != 1:
        raise ValidationError(
            f"arrival_s, prompt_tokens, output_tokens must be 1-D of one length; "
            f"got {arr.shape}, {p.shape}, {o.shape}"
        )
    t = np.zeros(arr.shape[0], np.int64) if tenant is None else _whole_column("make_workload tenant", tenant)
    v, lam, pred = (values or ValueModel()).draw(np.maximum(o, 1), np.random.default_rng(seed))
    return Workload(
        name,
        arr - (arr[0] if arr.size else 0.0),
        p,
        o,
        t,
        tuple(tenant_names),
        v,
        lam,
        pred,
        hash_ids=hash_ids,
        hash_block_tokens=hash_block_tokens,
        synthetic=("v_usd", "lam_usd_per_s", "predicted_output_tokens"),
    ).validate()


def rate_scaled(wl: Workload, k: float) -> Workload:
    """The same requests arriving k times as fast (arrival times divided by k).

    Raises:
        ValidationError: k is not a finite number > 0, or so small that arrival times overflow.
    """
    if (
        isinstance(k, bool | np.bool_)
        or not isinstance(k, int | float | np.number)
        or not (math.isfinite(k) and k > 0)
    ):
        raise ValidationError(f"rate scale must be > 0 (a finite number), got {k!r}")
    with np.errstate(over="ignore"):
        arrival = wl.arrival_s / k
    if not np.isfinite(arrival).all():
        raise ValidationError(f"rate scale {k!r} pushes arrival times past the float range")
    return replace(wl, name=f"{wl.name}×{k:g}", arrival_s=arrival)


def concat(parts: Sequence[Workload], name: str) -> Workload:
    """Merge workloads (each becomes a tenant) into one, sorted by arrival.

    Raises:
        ValidationError: no workloads, or an entry that is not a ``Workload``.
    """
    if isinstance(parts, str | bytes) or not all(isinstance(w, Workload) for w in parts):
        raise ValidationError(f"concat takes a sequence of Workloads, got {parts!r:.80}")
    if not parts:
        raise ValidationError("concat needs at least one workload")
    order = np.argsort(np.concatenate([w.arrival_s for w in parts]), kind="stable")

    def cat(f: str) -> NDArray[Any]:
        return np.concatenate([getattr(w, f) for w in parts])[order]

    tenant = np.concatenate([np.full(len(w), k, np.int64) for k, w in enumerate(parts)])[order]
    hashes = None
    if all(w.hash_ids is not None for w in parts):
        flat = [h for w in parts for h in (w.hash_ids or [])]
        hashes = [flat[int(i)] for i in order]
    return Workload(
        name,
        cat("arrival_s"),
        cat("prompt_tokens"),
        cat("output_tokens"),
        tenant,
        tuple(w.name for w in parts),
        cat("v_usd"),
        cat("lam_usd_per_s"),
        cat("predicted_output_tokens"),
        hash_ids=hashes,
        synthetic=parts[0].synthetic,
    ).validate()


@dataclass(frozen=True, slots=True)
class TenantSpec:
    """One tenant of a generated mix: Gamma inter-arrivals and log-normal lengths.

    Attributes:
        name: tenant name; rate_rps: mean requests per second; cv: inter-arrival coefficient of variation.
        prompt_median, prompt_sigma, output_median, output_sigma: log-normal length parameters (tokens).
    """

    name: str
    rate_rps: float
    cv: float = 1.0
    prompt_median: float = 1000.0
    prompt_sigma: float = 0.8
    output_median: float = 200.0
    output_sigma: float = 0.8

    def __post_init__(self) -> None:
        """Raises ValidationError naming the field: a rate, cv or median not finite > 0, a σ not finite ≥ 0."""
        if not isinstance(self.name, str):
            raise ValidationError(f"TenantSpec.name must be a string, got {self.name!r:.80}")
        for name in ("rate_rps", "cv", "prompt_median", "output_median"):
            object.__setattr__(
                self, name, real(f"TenantSpec.{name}", getattr(self, name), low=0, low_open=True)
            )
        for name in ("prompt_sigma", "output_sigma"):
            object.__setattr__(self, name, real(f"TenantSpec.{name}", getattr(self, name), low=0))


def tenant_mix(
    tenants: Sequence[TenantSpec],
    *,
    duration_s: float,
    seed: int = 0,
    values: ValueModel | None = None,
    max_tokens: int = 32768,
) -> Workload:
    """A multi-tenant workload sampled from per-tenant statistics (ServeGen-style).

    Raises:
        ValidationError: naming the argument: the duration not a finite number > 0, a seed or
            ``max_tokens`` not a whole number, a tenant that is not a ``TenantSpec``.
    """
    duration_s = real("tenant_mix duration_s", duration_s, low=0, low_open=True)
    seed = whole("tenant_mix seed", seed)
    max_tokens = whole("tenant_mix max_tokens", max_tokens, low=1)
    if any(not isinstance(t, TenantSpec) for t in tenants):
        raise ValidationError(f"tenant_mix tenants must be TenantSpec instances, got {tenants!r:.80}")
    rng = np.random.default_rng(seed)
    parts = []
    for k, t in enumerate(tenants):
        shape = 1.0 / t.cv**2
        n_max = int(t.rate_rps * duration_s * 2 + 20)
        gaps = rng.gamma(shape, 1.0 / (shape * t.rate_rps), n_max)
        arr = np.cumsum(gaps)
        arr = arr[arr < duration_s]
        n = arr.shape[0]
        p = np.clip(
            np.round(t.prompt_median * np.exp(t.prompt_sigma * rng.standard_normal(n))), 1, max_tokens
        )
        o = np.clip(
            np.round(t.output_median * np.exp(t.output_sigma * rng.standard_normal(n))), 1, max_tokens
        )
        v, lam, pred = (values or ValueModel()).draw(
            o.astype(np.int64), np.random.default_rng(seed * 1000 + k)
        )
        parts.append(
            Workload(
                t.name,
                arr,
                p.astype(np.int64),
                o.astype(np.int64),
                np.zeros(n, np.int64),
                (t.name,),
                v,
                lam,
                pred,
                synthetic=("v_usd", "lam_usd_per_s", "predicted_output_tokens", "arrivals", "lengths"),
            )
        )
    return concat(parts, "tenant-mix")
