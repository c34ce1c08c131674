"""What a screening menu (Eq. 5) costs and who gains: rents, downgrades, and welfare against silent routing.

``evaluate_menu`` takes a ``Menu`` from ``tokenomy.routing.menu`` and reports, per type and in total
(per query, USD): the information rent (the type's surplus V q − p, which a provider that knew V could
have taken), whether the type is downgraded relative to *silent routing* — the provider routes each
request by Eq. 1 knowing V, the first best — and the verification of IC and participation for every
type. It compares four regimes on welfare Σ w (V q − c), provider revenue Σ w p, profit Σ w (p − c)
and user surplus: the menu; silent routing priced at cost (the user keeps the whole surplus); silent
routing with the price V·q (the provider knows V and takes it all: same welfare, no rent); and the
best single flat-priced option under the menu's objective. No latency or risk term enters (V·q − c).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from tokenomy.core.errors import ValidationError
from tokenomy.core.rule import choose_many
from tokenomy.routing.menu import Menu, flat_menu, verify_menu

__all__ = ["MenuReport", "MenuTotals", "RequestEval", "evaluate_menu", "evaluate_requests"]


@dataclass(frozen=True, slots=True)
class MenuTotals:
    """Per-query means (USD) of one pricing regime over the type distribution."""

    regime: str
    welfare_per_query_usd: float
    revenue_per_query_usd: float
    profit_per_query_usd: float
    user_surplus_per_query_usd: float
    served_share: float
    mean_quality: float


@dataclass(frozen=True, slots=True)
class MenuReport:
    """The evaluation of one menu.

    Attributes:
        menu, flat: the menu and the best one-option (flat price) menu under the same objective.
        silent_tier: shape (K,), the tier Eq. 1 picks for each type knowing V (index into
            ``menu.tiers``; ``NULL`` = none).
        rent_usd: shape (K,), each type's information rent V q − p under the menu.
        downgraded, excluded: shape (K,), the menu gives the type a lower quality than silent
            routing does (``excluded``: nothing at all, where silent routing serves it).
        totals: menu, silent (price = cost), silent (price = V·q), flat; in that order.
        information_rent_per_query_usd: Σ w·rent.
        downgraded_share, downgraded_share_high_v, upgraded_share, excluded_share: shares of
            requests (the ``high_v`` one among types above the ``high_v_quantile`` of V).
        verification: the output of ``verify_menu`` (slacks per type, ``ic_ok``, ``ir_ok``).
    """

    menu: Menu
    flat: Menu
    silent_tier: NDArray[np.int64]
    rent_usd: NDArray[np.float64]
    downgraded: NDArray[np.bool_]
    excluded: NDArray[np.bool_]
    totals: tuple[MenuTotals, ...]
    information_rent_per_query_usd: float
    downgraded_share: float
    downgraded_share_high_v: float
    upgraded_share: float
    excluded_share: float
    high_v_quantile: float
    verification: dict[str, Any]  # name -> slack array or flag

    @property
    def ic_ok(self) -> bool:
        """Eq. 5 holds for every pair of types."""
        return bool(self.verification["ic_ok"])

    @property
    def ir_ok(self) -> bool:
        """Every type's participation holds (V q − p ≥ 0)."""
        return bool(self.verification["ir_ok"])

    def total(self, regime: str) -> MenuTotals:
        """The totals of one regime (``menu``, ``silent_cost``, ``silent_extract``, ``flat``)."""
        for t in self.totals:
            if t.regime == regime:
                return t
        raise ValidationError(f"unknown regime {regime!r}; valid: {[t.regime for t in self.totals]}")

    def type_rows(self) -> list[dict[str, Any]]:
        """One row per type: V, share, the menu's tier and price, silent routing's tier, rent, flags."""
        m = self.menu
        names = [o.tier for o in m.options]
        q, _, p = m.per_type()
        ic = self.verification["ic_slack_usd"]
        rows = []
        for j, v in enumerate(m.types.values_usd.tolist()):
            st = int(self.silent_tier[j])
            rows.append(
                {
                    "type": j + 1,
                    "V_usd": v,
                    "share": float(m.types.weights[j]),
                    "menu_tier": names[m.choice[j]] if m.choice[j] >= 0 else "(none)",
                    "menu_quality": float(q[j]),
                    "price_usd": float(p[j]),
                    "silent_tier": m.tiers[st].name if st >= 0 else "(none)",
                    "silent_quality": m.tiers[st].quality if st >= 0 else 0.0,
                    "rent_usd": float(self.rent_usd[j]),
                    "ic_slack_usd": float(ic[j]),
                    "downgraded": bool(self.downgraded[j]),
                }
            )
        return rows

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary: options, totals, shares, verification flags and the per-type rows."""
        m = self.menu
        gap = self.total("silent_cost").welfare_per_query_usd - self.total("menu").welfare_per_query_usd
        base = self.total("silent_cost").welfare_per_query_usd
        return {
            "objective": m.objective,
            "types": len(m.types),
            "V_source": m.types.source,
            "V_synthetic": m.types.synthetic,
            "tiers": [asdict(t) for t in m.tiers],
            "options": [asdict(o) for o in m.options],
            "flat_option": [asdict(o) for o in self.flat.options],
            "totals": [asdict(t) for t in self.totals],
            "information_rent_per_query_usd": self.information_rent_per_query_usd,
            "downgraded_share": self.downgraded_share,
            "downgraded_share_high_v": self.downgraded_share_high_v,
            "high_v_quantile": self.high_v_quantile,
            "upgraded_share": self.upgraded_share,
            "excluded_share": self.excluded_share,
            "welfare_loss_vs_silent_per_query_usd": gap,
            "welfare_loss_vs_silent_share": gap / base if base > 0 else 0.0,
            "ic_ok": self.ic_ok,
            "ir_ok": self.ir_ok,
            "implements": bool(self.verification["implements"]),
            "min_ic_slack_usd": float(np.min(self.verification["ic_slack_usd"])),
            "min_ir_slack_usd": float(np.min(self.verification["ir_slack_usd"])),
            "per_type": self.type_rows(),
        }


def _totals(
    regime: str,
    w: NDArray[np.float64],
    v: NDArray[np.float64],
    q: NDArray[np.float64],
    c: NDArray[np.float64],
    p: NDArray[np.float64],
    served: NDArray[np.bool_],
) -> MenuTotals:
    return MenuTotals(
        regime,
        float((w * (v * q - c)).sum()),
        float((w * p).sum()),
        float((w * (p - c)).sum()),
        float((w * (v * q - p)).sum()),
        float(w[served].sum()),
        float((w * q).sum()),
    )


def _silent(
    menu: Menu, v: NDArray[np.float64]
) -> tuple[NDArray[np.int64], NDArray[np.bool_], NDArray[np.float64], NDArray[np.float64]]:
    """Silent routing of each V over ``menu.tiers`` (Eq. 1, no menu): the tier (−1: none), served,
    quality and cost (0 where unserved)."""
    tq = np.array([t.quality for t in menu.tiers])
    tc = np.array([t.cost_usd for t in menu.tiers])
    silent, _ = choose_many(v, tq, tc, validate=False)
    served = silent >= 0
    return (
        silent,
        served,
        np.where(served, tq[np.maximum(silent, 0)], 0.0),
        np.where(served, tc[np.maximum(silent, 0)], 0.0),
    )


def evaluate_menu(menu: Menu, *, high_v_quantile: float = 0.5) -> MenuReport:
    """Verify ``menu`` and compare it with silent routing and one flat price.

    Args:
        menu: from ``design_menu``.
        high_v_quantile: types whose whole mass lies above this quantile of V count as high-V.

    Raises:
        ValidationError: ``high_v_quantile`` outside [0, 1).
    """
    if not 0.0 <= high_v_quantile < 1.0:
        raise ValidationError(f"high_v_quantile must be in [0, 1), got {high_v_quantile!r}")
    types = menu.types
    v, w = types.values_usd, types.weights
    silent, s_served, sq, sc = _silent(menu, v)
    mq, mc, mp = menu.per_type()
    m_served = menu.choice >= 0
    check = verify_menu(menu)
    rent = v * mq - mp
    eps = 1e-12
    down = mq < sq - eps
    excluded = s_served & ~m_served
    high = (types.cum_weights - w) >= high_v_quantile - eps
    flat = flat_menu(menu.tiers, types, objective=menu.objective)
    fq, fc, fp = flat.per_type()
    totals = (
        _totals("menu", w, v, mq, mc, mp, m_served),
        _totals("silent_cost", w, v, sq, sc, sc, s_served),
        _totals("silent_extract", w, v, sq, sc, v * sq, s_served),
        _totals("flat", w, v, fq, fc, fp, flat.choice >= 0),
    )
    return MenuReport(
        menu=menu,
        flat=flat,
        silent_tier=silent,
        rent_usd=rent,
        downgraded=down,
        excluded=excluded,
        totals=totals,
        information_rent_per_query_usd=float((w * rent).sum()),
        downgraded_share=float(w[down].sum()),
        downgraded_share_high_v=float(w[down & high].sum() / w[high].sum()) if high.any() else 0.0,
        upgraded_share=float(w[mq > sq + eps].sum()),
        excluded_share=float(w[excluded].sum()),
        high_v_quantile=high_v_quantile,
        verification=check,
    )


@dataclass(frozen=True, slots=True)
class RequestEval:
    """A menu designed on K types, faced by the individual requests (each self-selects by its own V).

    Attributes:
        n: the number of requests.
        totals: menu, silent (price = cost), flat; per-query means over the requests.
        downgraded_share, downgraded_share_high_v, excluded_share: shares of requests whose menu
            quality is below silent routing's for their own V (high-V: above ``high_v_quantile``).
        deciles: per V decile: mean V, downgraded share, mean rent and mean welfare lost (USD).
    """

    n: int
    totals: tuple[MenuTotals, ...]
    downgraded_share: float
    downgraded_share_high_v: float
    excluded_share: float
    high_v_quantile: float
    deciles: tuple[dict[str, float], ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "n": self.n,
            "totals": [asdict(t) for t in self.totals],
            "downgraded_share": self.downgraded_share,
            "downgraded_share_high_v": self.downgraded_share_high_v,
            "excluded_share": self.excluded_share,
            "high_v_quantile": self.high_v_quantile,
            "deciles": list(self.deciles),
        }


def _bought(menu: Menu, v: NDArray[np.float64]) -> tuple[NDArray[np.float64], ...]:
    choice = menu.choose(v)
    q = np.array([o.quality for o in menu.options] + [0.0])
    c = np.array([o.cost_usd for o in menu.options] + [0.0])
    p = np.array([o.price_usd for o in menu.options] + [0.0])
    return q[choice], c[choice], p[choice], (choice >= 0).astype(np.float64)


def evaluate_requests(
    menu: Menu, values_usd: ArrayLike, weights: ArrayLike | None = None, *, high_v_quantile: float = 0.5
) -> RequestEval:
    """Let each request (value V_i, weight w_i) buy from ``menu`` and compare with silent routing.

    Raises:
        ValidationError: a V that is NaN, negative or infinite, a weight not > 0, mismatched
            lengths, or ``high_v_quantile`` outside [0, 1).
    """
    if not 0.0 <= high_v_quantile < 1.0:
        raise ValidationError(f"high_v_quantile must be in [0, 1), got {high_v_quantile!r}")
    v = np.asarray(values_usd, dtype=np.float64).ravel()
    if v.size == 0 or not (np.isfinite(v) & (v >= 0)).all():
        raise ValidationError("request values V must be a non-empty array of finite numbers ≥ 0 (USD)")
    w = np.ones_like(v) if weights is None else np.asarray(weights, dtype=np.float64).ravel()
    if w.shape != v.shape or not (np.isfinite(w) & (w > 0)).all():
        raise ValidationError(f"request weights must be {v.size} finite numbers > 0")
    order = np.argsort(v, kind="stable")
    v, w = v[order], w[order] / w.sum()
    _, served, sq, sc = _silent(menu, v)
    mq, mc, mp, m_served = _bought(menu, v)
    flat = flat_menu(menu.tiers, menu.types, objective=menu.objective)
    fq, fc, fp, f_served = _bought(flat, v)
    down = mq < sq - 1e-12
    pos = np.cumsum(w) - w  # mass below each request
    high = pos >= high_v_quantile - 1e-12
    rent = v * mq - mp
    lost = (v * sq - sc) - (v * mq - mc)
    deciles = []
    dec = np.minimum((pos * 10).astype(np.int64), 9)
    for d in range(10):
        m = dec == d
        if not m.any():
            continue
        wd = w[m] / w[m].sum()
        deciles.append(
            {
                "decile": d + 1,
                "mean_V_usd": float((wd * v[m]).sum()),
                "downgraded_share": float(wd[down[m]].sum()),
                "mean_rent_usd": float((wd * rent[m]).sum()),
                "mean_welfare_lost_usd": float((wd * lost[m]).sum()),
            }
        )
    return RequestEval(
        n=int(v.size),
        totals=(
            _totals("menu", w, v, mq, mc, mp, m_served > 0),
            _totals("silent_cost", w, v, sq, sc, sc, served),
            _totals("flat", w, v, fq, fc, fp, f_served > 0),
        ),
        downgraded_share=float(w[down].sum()),
        downgraded_share_high_v=float(w[down & high].sum() / w[high].sum()) if high.any() else 0.0,
        excluded_share=float(w[served & (m_served == 0)].sum()),
        high_v_quantile=high_v_quantile,
        deciles=tuple(deciles),
    )
