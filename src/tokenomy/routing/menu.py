"""Incentive-compatible menus of (tier, price) options for users with hidden values V (SPEC.md §3, Eq. 5).

Screening à la Mussa–Rosen / Maskin–Riley with discrete types and discrete tiers. Types are sorted by
V; the designer gives each type a tier, monotone in quality, and prices it so that the lowest served
type's participation and every downward-adjacent incentive constraint bind:
p_first = V_first·q_first, p_j = p_{j−1} + V_j·(q_j − q_{j−1}). Monotone assignment plus these prices
give incentive compatibility for every pair of types (V_k q_k − p_k ≥ V_k q_k' − p_k', Eq. 5) and
participation (≥ 0). With those prices the provider's profit is Σ_j w_j (φ_j q_j − c_j) with the
virtual value φ_j = V_j − (V_{j+1} − V_j)·P(V > V_j)/w_j, so the revenue-maximising menu gives each
type argmax_k φ̄_j q_k − c_k (Eq. 1 at the *ironed* virtual value φ̄: the weighted isotonic
regression of φ, which pools types where φ falls). The welfare-maximising menu uses V itself: the
first-best assignment, priced as above (the most revenue that implements it).

``evaluate_menu`` verifies IC and participation for every type, reports each type's information
rent (its surplus V q − p, which a provider that knew V could take), the share of requests — and of
high-V requests — downgraded relative to silent routing (the provider routes each request by Eq. 1
knowing V, the first best), and compares welfare, revenue, profit and user surplus with silent
routing and with one flat price (the best single-option menu). Ties are resolved as the designer
intends (toward the higher-quality option, and buying over not buying); any ε > 0 discount makes
them strict. What it does not do: learn types from data, or price latency and risk (only V·q − c).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from tokenomy.core.errors import ValidationError
from tokenomy.core.rule import NULL, choose_many
from tokenomy.routing.menu_types import Tier, ValueTypes, check_tiers

__all__ = [
    "MENU_DESIGNERS",
    "Menu",
    "MenuDesigner",
    "MenuOption",
    "RevenueMenu",
    "WelfareMenu",
    "design_menu",
    "flat_menu",
    "ironed_virtual_values",
    "make_designer",
    "verify_menu",
    "virtual_values",
]

_TOL = 1e-12  # relative: far above rounding (1e-16), far below any economic difference


@dataclass(frozen=True, slots=True)
class MenuOption:
    """One line of a menu: a tier sold at a price (USD per query) and the share of requests buying it."""

    tier: str
    quality: float
    cost_usd: float
    price_usd: float
    share: float


@dataclass(frozen=True, slots=True)
class Menu:
    """A menu and the assignment it implements.

    Attributes:
        objective: the designer that built it (``revenue`` or ``welfare``).
        options: the options on offer, sorted by quality.
        tiers: every tier that could have been offered, sorted by (quality, cost).
        types: the value distribution it was designed for.
        choice: shape (K,), the option each type buys (index into ``options``; ``NULL`` = -1 buys none).
    """

    objective: str
    options: tuple[MenuOption, ...]
    tiers: tuple[Tier, ...]
    types: ValueTypes
    choice: NDArray[np.int64]

    def _arrays(self) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        q = np.array([o.quality for o in self.options], dtype=np.float64)
        c = np.array([o.cost_usd for o in self.options], dtype=np.float64)
        p = np.array([o.price_usd for o in self.options], dtype=np.float64)
        return q, c, p

    def per_type(self) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """(quality, cost_usd, price_usd) of what each type buys, zeros for types that buy nothing."""
        q, c, p = self._arrays()
        served = self.choice >= 0
        idx = np.where(served, self.choice, 0)
        if not self.options:
            z = np.zeros(len(self.types))
            return z, z.copy(), z.copy()
        return (np.where(served, q[idx], 0.0), np.where(served, c[idx], 0.0), np.where(served, p[idx], 0.0))

    def utilities(self, values_usd: NDArray[np.float64]) -> NDArray[np.float64]:
        """V·q − p of every option for each value, shape (N, options + 1); the last column is buying none."""
        q, _, p = self._arrays()
        v = np.asarray(values_usd, dtype=np.float64).reshape(-1, 1)
        return np.concatenate([v * q[None, :] - p[None, :], np.zeros((v.shape[0], 1))], axis=1)

    def _magnitudes(self, values_usd: NDArray[np.float64]) -> NDArray[np.float64]:
        """|V q| + |p| of every option (0 for none), shape as ``utilities``: scales relative tolerances."""
        q, _, p = self._arrays()
        v = np.abs(np.asarray(values_usd, dtype=np.float64).reshape(-1, 1))
        return np.concatenate(
            [v * np.abs(q)[None, :] + np.abs(p)[None, :], np.zeros((v.shape[0], 1))], axis=1
        )

    def _near_best(self, values_usd: NDArray[np.float64]) -> NDArray[np.bool_]:
        """Which options are within rounding of each value's best utility."""
        u, mag = self.utilities(values_usd), self._magnitudes(values_usd)
        top = np.argmax(u, axis=1)
        rows = np.arange(u.shape[0])
        tol = _TOL * np.maximum(mag, mag[rows, top][:, None])
        near: NDArray[np.bool_] = u >= u[rows, top][:, None] - tol
        return near

    def choose(self, values_usd: NDArray[np.float64]) -> NDArray[np.int64]:
        """What a user with value V buys: the best option, ties toward higher quality; ``NULL`` for none."""
        near = self._near_best(values_usd)
        n_opt = len(self.options)
        # prefer any option over none, then the highest-quality option among the (near-)ties
        order = np.concatenate([np.arange(n_opt), [-1]]).astype(np.int64)
        rank = np.where(near, order[None, :], -2)
        pick = rank.max(axis=1)
        return np.where(pick >= 0, pick, NULL).astype(np.int64)


def virtual_values(types: ValueTypes) -> NDArray[np.float64]:
    """φ_j = V_j − (V_{j+1} − V_j)·P(V > V_j) / w_j for discrete types (φ_K = V_K)."""
    v, w = types.values_usd, types.weights
    above = 1.0 - types.cum_weights
    gap = np.append(np.diff(v), 0.0)
    return v - gap * np.maximum(above, 0.0) / w


def ironed_virtual_values(types: ValueTypes) -> NDArray[np.float64]:
    """φ̄: the weighted isotonic (non-decreasing) regression of φ — the slopes of the convex hull
    of the cumulative virtual surplus (Myerson's ironing), by pool-adjacent-violators."""
    phi, w = virtual_values(types), types.weights
    blocks: list[list[float]] = []  # [weight, weight·φ, count]
    for x, wt in zip(phi.tolist(), w.tolist(), strict=True):
        blocks.append([wt, wt * x, 1.0])
        while len(blocks) > 1 and blocks[-2][1] / blocks[-2][0] > blocks[-1][1] / blocks[-1][0]:
            tail = blocks.pop()
            blocks[-1] = [blocks[-1][0] + tail[0], blocks[-1][1] + tail[1], blocks[-1][2] + tail[2]]
    return np.concatenate([np.full(int(b[2]), b[1] / b[0]) for b in blocks])


class MenuDesigner:
    """Template: score each type, give it argmax_k score·q_k − c_k (Eq. 1), price by binding constraints.

    Subclasses define ``score`` (the per-type value the assignment maximises) and ``flat`` (the best
    single option under the same objective); ``design`` is the one verb.
    """

    name: ClassVar[str] = ""

    def score(self, types: ValueTypes) -> NDArray[np.float64]:
        """The per-type value that multiplies quality in the assignment; must be non-decreasing."""
        raise NotImplementedError

    def flat(self, tiers: tuple[Tier, ...], types: ValueTypes) -> tuple[int, float]:
        """(tier index or ``NULL``, price) of the best one-option menu under this objective."""
        raise NotImplementedError

    def design(self, tiers: tuple[Tier, ...] | list[Tier], types: ValueTypes) -> Menu:
        """Build the menu for ``types`` from ``tiers``.

        Raises:
            ValidationError: bad tiers (see ``check_tiers``).
        """
        ts = check_tiers(tiers)
        q = np.array([t.quality for t in ts])
        c = np.array([t.cost_usd for t in ts])
        s = np.maximum(self.score(types), 0.0)  # a non-positive score buys nothing anyway (c ≥ 0)
        assert (np.diff(s) >= -1e-12 * np.maximum(1.0, np.abs(s[1:]))).all(), "score must be monotone"
        tier_of, _ = choose_many(s, q, c, validate=False)  # ties → lower index: lower quality, then cost
        return _priced(self.name, ts, types, tier_of)


def _priced(objective: str, ts: tuple[Tier, ...], types: ValueTypes, tier_of: NDArray[np.int64]) -> Menu:
    q = np.array([t.quality for t in ts])
    qa = np.where(tier_of >= 0, q[np.maximum(tier_of, 0)], 0.0)
    assert (np.diff(qa) >= 0).all(), "assignment must be monotone in quality"
    prices = np.zeros(len(types))
    prev_q = prev_p = 0.0
    for j, v in enumerate(types.values_usd.tolist()):
        if tier_of[j] < 0:
            continue
        if qa[j] != prev_q:  # downward-adjacent IC (or the first served type's participation) binds
            prev_p, prev_q = prev_p + v * (qa[j] - prev_q), float(qa[j])
        prices[j] = prev_p
    used = sorted({int(t) for t in tier_of if t >= 0})
    options, pos = [], {}
    for i, t in enumerate(used):
        mask = tier_of == t
        pos[t] = i
        tier = ts[t]
        p = float(prices[mask][0])
        options.append(
            MenuOption(tier.name, tier.quality, tier.cost_usd, p, float(types.weights[mask].sum()))
        )
    choice = np.array([pos[int(t)] if t >= 0 else NULL for t in tier_of], dtype=np.int64)
    return Menu(objective, tuple(options), ts, types, choice)


class RevenueMenu(MenuDesigner):
    """Maximise the provider's profit Σ w (p − c): assign at the ironed virtual value."""

    name = "revenue"

    def score(self, types: ValueTypes) -> NDArray[np.float64]:
        return ironed_virtual_values(types)

    def flat(self, tiers: tuple[Tier, ...], types: ValueTypes) -> tuple[int, float]:
        v = types.values_usd
        above_or_at = np.cumsum(types.weights[::-1])[::-1]  # P(V ≥ V_j)
        best, pick = 0.0, (NULL, 0.0)
        for k, t in enumerate(tiers):
            profit = above_or_at * (v * t.quality - t.cost_usd)  # price V_j·q_k sells to types ≥ j
            j = int(np.argmax(profit))
            if profit[j] > best + _TOL * max(1.0, best):
                best, pick = float(profit[j]), (k, float(v[j] * t.quality))
        return pick


class WelfareMenu(MenuDesigner):
    """Maximise welfare Σ w (V q − c): the first-best assignment, priced for the most revenue."""

    name = "welfare"

    def score(self, types: ValueTypes) -> NDArray[np.float64]:
        return types.values_usd.copy()

    def flat(self, tiers: tuple[Tier, ...], types: ValueTypes) -> tuple[int, float]:
        v, w = types.values_usd, types.weights
        best, pick = 0.0, (NULL, 0.0)
        for k, t in enumerate(tiers):
            gain = v * t.quality - t.cost_usd
            welfare = float((w * np.maximum(gain, 0.0)).sum())  # priced at cost: those who gain buy
            if welfare > best + _TOL * max(1.0, best):
                best, pick = welfare, (k, t.cost_usd)
        return pick


MENU_DESIGNERS: dict[str, type[MenuDesigner]] = {"revenue": RevenueMenu, "welfare": WelfareMenu}


def make_designer(objective: str) -> MenuDesigner:
    """The designer registered under ``objective``.

    Raises:
        ValidationError: unknown objective (names the valid ones).
    """
    try:
        return MENU_DESIGNERS[objective]()
    except KeyError:
        raise ValidationError(
            f"unknown menu objective {objective!r}; valid: {sorted(MENU_DESIGNERS)}"
        ) from None


def design_menu(
    tiers: tuple[Tier, ...] | list[Tier], types: ValueTypes, *, objective: str = "revenue"
) -> Menu:
    """The revenue- or welfare-maximising incentive-compatible menu (see the module docstring)."""
    return make_designer(objective).design(tiers, types)


def flat_menu(tiers: tuple[Tier, ...] | list[Tier], types: ValueTypes, *, objective: str = "revenue") -> Menu:
    """The best one-option menu (one tier at one flat price) under ``objective``."""
    ts = check_tiers(tiers)
    k, price = make_designer(objective).flat(ts, types)
    if k == NULL:
        return Menu(objective, (), ts, types, np.full(len(types), NULL, dtype=np.int64))
    t = ts[k]
    one = Menu(
        objective, (MenuOption(t.name, t.quality, t.cost_usd, price, 0.0),), ts, types, np.zeros(0, np.int64)
    )
    choice = one.choose(types.values_usd)
    share = float(types.weights[choice >= 0].sum())
    opt = MenuOption(t.name, t.quality, t.cost_usd, price, share)
    return Menu(objective, (opt,), ts, types, choice)


def verify_menu(menu: Menu) -> dict[str, Any]:
    """Check Eq. 5 and participation for every type of ``menu.types``.

    Returns:
        ``ic_slack_usd`` (K,): V q_k − p_k minus the best other option's V q − p (≥ 0 ⇔ IC holds);
        ``ir_slack_usd`` (K,): V q_k − p_k (≥ 0 ⇔ participation holds; 0 for types buying none,
        whose IC slack then compares with every option); ``ic_ok``, ``ir_ok``: every slack ≥ −tol;
        ``implements``: ``Menu.choose`` returns the designed choice for every type.
    """
    v = menu.types.values_usd
    u, mag = menu.utilities(v), menu._magnitudes(v)
    rows, k = np.arange(len(v)), len(menu.options)
    col = np.where(menu.choice >= 0, menu.choice, k)
    own = u[rows, col]
    gap = own[:, None] - u  # own utility minus each alternative's
    gap[rows, col] = np.inf
    ic = gap.min(axis=1)
    tol = _TOL * np.maximum(mag, mag[rows, col][:, None])
    ic_ok = bool((gap >= -tol).all())
    ir_ok = bool((own >= -_TOL * mag[rows, col]).all())
    return {
        "ic_slack_usd": ic,
        "ir_slack_usd": own,
        "ic_ok": ic_ok,
        "ir_ok": ir_ok,
        "implements": bool((menu.choose(v) == menu.choice).all()),
    }
