"""The audit's table of requests: one row per request (task, trace) with its Eq. 1 prices (V, λ, ρ,
ρ_irr) and the source of each price (SPEC.md §2), its outcome labels (quality, harm) and the labels
the views group by (group, session, user, tags).

``tokenomy.audit.log.AuditLog`` holds one beside its steps (and re-exports ``RequestTable``). This
module does no I/O and prices nothing: the importers fill it, the detectors and the report read it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tokenomy.core.errors import ValidationError

__all__ = ["RequestTable"]

F64 = NDArray[np.float64]
OBJ = NDArray[np.object_]


@dataclass(frozen=True, slots=True)
class RequestTable:
    """One row per request: its prices (with sources) and its outcome labels.

    Attributes:
        request_id: shape (R,), unique.
        v_usd, lam_usd_per_s, rho_usd, rho_irr_usd: the Eq. 1 prices of each request.
        quality: realised quality in [0, 1] (resolved, reward); NaN when the log carries no label.
        harm, harm_irr: realised harm units, total and its irreversible part, priced by core's rule
            (ρ·(harm − harm_irr) + ρ_irr·harm_irr); NaN when unknown.
        sources: per price name -> per-row source ("user", "default", ...), shape (R,) each.
        group: free label per request (repo, tenant, trial); "" when none.
        session: the session or conversation the request belongs to; "" when the log names none.
        user: the end user, API key or account that sent it; "" when none.
        tags: its tags (feature, team, route), comma-separated and sorted; "" when none.
    """

    request_id: OBJ
    v_usd: F64
    lam_usd_per_s: F64
    rho_usd: F64
    rho_irr_usd: F64
    quality: F64
    harm: F64
    harm_irr: F64
    sources: dict[str, OBJ]  # price name -> array of source labels
    group: OBJ
    session: OBJ = field(default_factory=lambda: np.zeros(0, dtype=object))
    user: OBJ = field(default_factory=lambda: np.zeros(0, dtype=object))
    tags: OBJ = field(default_factory=lambda: np.zeros(0, dtype=object))

    def __len__(self) -> int:
        return len(self.request_id)

    def __post_init__(self) -> None:
        n = len(self.request_id)
        for name in ("session", "user", "tags"):  # optional: absent means "" for every request
            if len(getattr(self, name)) == 0 and n:
                blank = np.empty(n, dtype=object)
                blank[:] = ""
                object.__setattr__(self, name, blank)
        for name in (
            "v_usd",
            "lam_usd_per_s",
            "rho_usd",
            "rho_irr_usd",
            "quality",
            "harm",
            "harm_irr",
            "group",
            "session",
            "user",
            "tags",
        ):
            if len(getattr(self, name)) != n:
                raise ValidationError(
                    f"RequestTable.{name} has {len(getattr(self, name))} rows; expected {n}"
                )
        if len(set(self.request_id.tolist())) != n:
            raise ValidationError("RequestTable.request_id must be unique")

    @classmethod
    def from_rows(cls, rows: Sequence[Mapping[str, Any]]) -> RequestTable:
        """Build from dicts with ``request_id`` and optional prices, ``*_source``, labels and ``group``."""

        def col(name: str, default: float) -> F64:
            return np.array(
                [float(r.get(name, default)) if r.get(name) is not None else default for r in rows],
                dtype=np.float64,
            )

        def obj(values: list[Any]) -> OBJ:
            arr = np.empty(len(values), dtype=object)
            arr[:] = values
            return arr

        rho = col("rho_usd", 0.0)
        rho_irr = np.maximum(col("rho_irr_usd", np.nan), rho)
        rho_irr = np.where(np.isnan(rho_irr), rho, rho_irr)
        return cls(
            request_id=obj([str(r["request_id"]) for r in rows]),
            v_usd=col("v_usd", 0.0),
            lam_usd_per_s=col("lam_usd_per_s", 0.0),
            rho_usd=rho,
            rho_irr_usd=rho_irr,
            quality=col("quality", np.nan),
            harm=col("harm", np.nan),
            harm_irr=col("harm_irr", np.nan),
            sources={
                p: obj([str(r.get(f"{p}_source", "default")) for r in rows])
                for p in ("v", "lam", "rho", "rho_irr")
            },
            group=obj([str(r.get("group", "")) for r in rows]),
            session=obj([_label(r.get("session")) for r in rows]),
            user=obj([_label(r.get("user")) for r in rows]),
            tags=obj([_tags(r.get("tags")) for r in rows]),
        )


def _label(value: Any) -> str:
    """A session or user id as text; absent (None, "") is ""."""
    return "" if value is None else str(value).strip()


def _tags(value: Any) -> str:
    """Tags as one sorted, comma-separated text: a list, a comma-separated string, or one tag."""
    if value is None or value == "":
        return ""
    items = value if isinstance(value, list | tuple | set) else str(value).split(",")
    return ",".join(sorted({str(t).strip() for t in items if str(t).strip()}))
