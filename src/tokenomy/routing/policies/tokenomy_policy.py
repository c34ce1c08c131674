"""The main policy, ``tokenomy``: Eq. 4 with per-request V and the null option, and a learned fall-back.

m*(x) = argmax_m V(x)·q̂_m(x) − ĉ_m(x) − λ·l̂_m(x) − ρ·r̂_m(x) (core's ``surplus_matrix``, ρ_irr on the
irreversible part of r̂), nothing when every surplus is ≤ 0.

Where q̂ is too weak to beat one fixed model, routing on it loses welfare (published routers often
fail to beat the best single model on RouterBench). So ``fit`` validates, for each V of ``V_GRID``,
on the train problem's *out-of-fold* estimates: Eq. 4 on each quality source of the estimator
family (the blend and its bases) against the best fixed model. A source is kept only when its mean
out-of-fold welfare beats the best fixed model's by more than ``margin_se`` paired standard errors;
otherwise that V falls back to the best fixed model. A request's V uses the nearest grid value's mode.

A request whose category was not seen in training (code −1: a new benchmark, or none given) gets its
own modes when ``fit_unseen`` was called: the same validation on estimates made *as if* each
training category were unseen (fitted on the other categories, category withheld), so routing on
q̂ is trusted for a new kind of prompt only where it beat the fixed model across categories in train.
"""

from __future__ import annotations

import numpy as np

from tokenomy.routing.policies.base import V_GRID, Policy, Problem, Routes, eq4, nearest_grid
from tokenomy.routing.policies.fixed_choice import TrainMeans

__all__ = ["TokenomyPolicy"]

FIXED = "fixed"


class TokenomyPolicy(Policy):
    """Eq. 4 over the estimated effects, with the per-V validated fall-back to the best fixed model.

    Args:
        fallback: validate per V and fall back to the best fixed model (False: always Eq. 4 on ``main``).
        margin_se: paired standard errors by which Eq. 4 must beat the best fixed model out of fold.
        sources: quality sources to validate ("main" = the blend; None = main and every base).
    """

    name = "tokenomy"

    def __init__(
        self, *, fallback: bool = True, margin_se: float = 1.0, sources: tuple[str, ...] | None = None
    ) -> None:
        self.fallback = fallback
        self.margin_se = margin_se
        self.sources = sources

    def fit(self, train: Problem) -> TokenomyPolicy:
        self.means_ = TrainMeans.of(train)
        names = self.sources or ("main", *sorted(train.dq_sources))
        # per grid V: the mode, and the out-of-fold welfare of each mode
        self.modes_, self.validation_ = self._validate(train, names)
        self.unseen_modes_: list[str] | None = None
        self.unseen_validation_: list[dict[str, float | str]] = []
        return self

    def fit_unseen(self, train: Problem) -> TokenomyPolicy:
        """Validate Eq. 4 for requests of an unseen category, on ``train`` holding estimates made with
        each training category held out and withheld (after ``fit``; only the ``main`` source)."""
        self.unseen_modes_, self.unseen_validation_ = self._validate(train, ("main",))
        return self

    def _validate(
        self, train: Problem, names: tuple[str, ...]
    ) -> tuple[list[str], list[dict[str, float | str]]]:
        modes: list[str] = []
        validation: list[dict[str, float | str]] = []
        n = len(train)
        rows = np.arange(n)
        for v in V_GRID:
            p = train.at_v(v)
            w = np.concatenate([p.realised_welfare(), np.zeros((n, 1))], axis=1)  # last column: null
            fixed = self.means_.best(p.v_usd, p)
            w_fixed = w[rows, fixed]
            record: dict[str, float | str] = {"V": v, FIXED: float(w_fixed.mean())}
            best, best_gain = FIXED, 0.0
            for s in names:
                w_s = w[rows, eq4(p.estimated_surplus(p.source(s)))]
                diff = w_s - w_fixed
                gain = float(diff.mean())
                se = float(diff.std(ddof=1) / np.sqrt(n)) if n > 1 else np.inf
                record[s] = float(w_s.mean())
                if not self.fallback:
                    best, best_gain = "main", np.inf
                elif gain > self.margin_se * se and gain > best_gain:
                    best, best_gain = s, gain
            record["mode"] = best
            modes.append(best)
            validation.append(record)
        return modes, validation

    def decide(self, problem: Problem) -> Routes:
        k = nearest_grid(problem.v_usd)
        modes = np.array(self.modes_, dtype=object)[k]
        unseen_modes = getattr(self, "unseen_modes_", None)
        if unseen_modes is not None and problem.category_codes is not None:
            unseen = problem.category_codes < 0
            modes = np.where(unseen, np.array(unseen_modes, dtype=object)[k], modes)
        chosen = self.means_.best(problem.v_usd, problem)
        for s in set(modes.tolist()) - {FIXED}:
            rows = np.flatnonzero(modes == s)
            chosen[rows] = eq4(problem.estimated_surplus(None if s == "main" else problem.source(s))[rows])
        labels = np.where(modes == FIXED, FIXED, np.char.add("eq4:", modes.astype(str))).astype(object)
        return Routes(chosen, mode=labels)
