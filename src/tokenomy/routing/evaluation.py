"""Evaluate routing policies on a held-out dataset in the long format, against the ex-post oracle.

For every policy and V: welfare per query (core's realised Eq. 1 utility, V·quality − cost − λ·latency
− ρ·risk, with ρ_irr on the irreversible part of the risk), accuracy, cost,
regret against the ex-post oracle (mean, p95) and the share of the best-fixed → oracle gap recovered,
with paired bootstrap confidence intervals; next to the anchors' own metrics (``anchors``): RouteLLM's
APGR and CPT(50%), CPT(80%) for a strong/weak pair and RouterBench's AIQ. Calibration (Brier, ECE,
reliability curves) of the router's q̂. Latency is labelled by what the data has (``labels``: real
when it has ``latency_s``, SYNTHETIC otherwise); risk is SYNTHETIC.
The long-tail experiment (the paper's prediction 2) lives in ``longtail``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tokenomy.core.errors import ValidationError
from tokenomy.core.prices import PriceVector
from tokenomy.core.rule import realised_utility, surplus_matrix
from tokenomy.routing.dataset import RoutingDataset
from tokenomy.routing.effects import SYNTHETIC_RISK, latency_note
from tokenomy.routing.metrics import (
    aiq,
    apgr,
    bootstrap_means,
    cpt,
    gap_recovered,
    reliability,
    routellm_apgr,
    routellm_cpt,
)
from tokenomy.routing.policies import Policy, Problem, Routes, make_policy
from tokenomy.routing.policies.base import eq4
from tokenomy.routing.policies.pair import choose_pair
from tokenomy.routing.policies.threshold import win_probability
from tokenomy.routing.router import Router

__all__ = [
    "DEFAULT_POLICIES",
    "SUMMARY_COLUMNS",
    "EvalResult",
    "Realised",
    "anchor_rows",
    "compare_to_fixed",
    "evaluate",
    "ranking_score",
    "realised",
    "require_two_models",
    "routellm_scores",
]

DEFAULT_POLICIES = (
    "tokenomy",
    "random",
    "best-fixed",
    "always-cheapest",
    "always-strongest",
    "threshold",
    "predictive",
    "cascade",
    "oracle",
)
SUMMARY_COLUMNS = (
    "V",
    "policy",
    "welfare_per_query",
    "accuracy",
    "cost_per_query_usd",
    "regret_mean",
    "regret_p95",
    "gap_recovered",
)
"""The columns of a result row (one per V × policy) that the CLI table and the HTML report show."""
SWEEP_V = tuple(float(v) for v in np.geomspace(1e-5, 10.0, 49))
TIE_RTOL = 1e-9
"""Relative tolerance of a tie with the best fixed model: mean welfares within
``TIE_RTOL · max(|w_fixed|, 1e-12)`` USD per query are equal (a fall-back to the fixed model earns
exactly its welfare up to rounding). Beyond it, the paired bootstrap interval of the difference
decides (:func:`compare_to_fixed`)."""


def compare_to_fixed(
    w_policy: float, w_fixed: float, diff_boot: NDArray[np.float64] | None = None
) -> tuple[bool, bool]:
    """(beats, ties) against the best fixed model, never both; neither: below it.

    Mean welfares within ``TIE_RTOL`` are a tie (a fall-back earns the fixed model's welfare). Given
    ``diff_boot``, the paired bootstrap means of policy − best fixed (the same resampled requests for
    both), a difference whose 95% interval holds 0 is a tie too: ``beats`` needs the whole interval
    above 0, ``below`` the whole interval under it. Without it, the means decide.
    """
    tol = TIE_RTOL * max(abs(w_fixed), 1e-12)
    if abs(w_policy - w_fixed) <= tol:
        return False, True
    if diff_boot is not None and diff_boot.size:
        lo, hi = _ci(diff_boot)
        if lo <= 0.0 <= hi:
            return False, True
    return w_policy > w_fixed, False


@dataclass(frozen=True, slots=True)
class Realised:
    """Per-request realised outcome of one policy's routes: (N,) arrays."""

    quality: NDArray[np.float64]
    cost_usd: NDArray[np.float64]
    latency_s: NDArray[np.float64]
    risk: NDArray[np.float64]
    welfare: NDArray[np.float64]
    null: NDArray[np.bool_]


def realised(p: Problem, routes: Routes) -> Realised:
    """What the routes earned: quality of the answering model, cost and latency of every model called."""
    assert p.quality is not None and p.cost_usd is not None
    n, m = p.quality.shape
    called = routes.called_matrix(m)
    ok = routes.chosen >= 0
    q = np.where(ok, p.quality[np.arange(n), np.maximum(routes.chosen, 0)], 0.0)
    lat_m = p.latency_s if p.latency_s is not None else p.dl_s
    cost = (called * p.cost_usd).sum(axis=1)
    lat = (called * lat_m).sum(axis=1)
    harm, harm_irr = p.risk(q)
    # The null option answers nothing, so it risks nothing (its quality 0 is not a wrong answer).
    risk = np.where(ok, harm, 0.0)
    risk_irr = np.where(ok, harm_irr, 0.0)
    w = realised_utility(
        p.v_usd,
        q,
        cost,
        lat,
        risk,
        risk_irr,
        lam_usd_per_s=p.lam_usd_per_s,
        rho_usd=p.rho_usd,
        rho_irr_usd=p.rho_irr,
    )
    return Realised(q, cost, lat, risk, w, ~ok)


@dataclass(frozen=True, slots=True)
class EvalResult:
    """Everything ``tokenomy route eval`` reports (JSON-ready lists of dicts)."""

    rows: list[dict[str, Any]]
    anchors: dict[str, Any]
    calibration: list[dict[str, Any]]
    fixed_models: list[dict[str, Any]]
    sweeps: dict[str, list[dict[str, float]]]
    validation: list[dict[str, Any]]
    labels: dict[str, str] = field(default_factory=dict)  # term ("latency", "risk") -> "real" | "synthetic"
    notes: list[str] = field(default_factory=list)  # one note per term, in the order of ``labels``

    @property
    def synthetic(self) -> list[str]:
        """The notes of the SYNTHETIC terms only."""
        return [n for n, k in zip(self.notes, self.labels.values(), strict=True) if k == "synthetic"]


def _ci(samples: NDArray[np.float64]) -> list[float]:
    if np.isnan(samples).all():  # undefined everywhere (a gap of 0 at a tiny V): no interval, no warning
        return [math.nan, math.nan]
    with np.errstate(invalid="ignore"):  # ±inf samples (x / 0) give a NaN bound, shown as "-", silently
        return [float(np.nanpercentile(samples, 2.5)), float(np.nanpercentile(samples, 97.5))]


def _fitted(names: Sequence[str], router: Router, seed: int) -> dict[str, Policy]:
    out: dict[str, Policy] = {}
    for name in names:
        if name == "tokenomy":
            out[name] = router.policy_
            continue
        params: dict[str, object] = {"seed": seed} if name == "random" else {}
        out[name] = make_policy(name, **params).fit(router.train_problem_)
    return out


def require_two_models(ds: RoutingDataset) -> None:
    """Raise unless ``ds`` has at least two models (there is nothing to route between otherwise).

    Raises:
        ValidationError: naming the source, the field and the models found.
    """
    if ds.n_models < 2:
        raise ValidationError(
            f"{ds.source or 'dataset'}: routing needs at least two models (values of the 'model' "
            f"field, or model columns), found {list(ds.models)}"
        )


def evaluate(
    router: Router,
    test: RoutingDataset,
    *,
    v_grid: Sequence[float],
    prices: PriceVector | None = None,
    policies: Sequence[str] = DEFAULT_POLICIES,
    n_boot: int = 1000,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> EvalResult:
    """Evaluate ``policies`` (fitted on the router's train problem) on ``test`` at every V of ``v_grid``.

    Raises:
        ValidationError: the data has fewer than two models (names the source and its models).
    """
    require_two_models(test)
    prices = prices or PriceVector()
    names = list(dict.fromkeys([*policies, "best-fixed", "oracle"]))
    fitted = _fitted(names, router, seed)
    X = router.features(test.prompts, test.categories.tolist())
    base = router.problem(X, 0.0, prices, test)
    ranks = routellm_scores(names, router, base, seed)
    rows: list[dict[str, Any]] = []
    for v in v_grid:
        if progress:
            progress(f"V={v:g}")
        p = base.at_v(float(v))
        res = {n: realised(p, pol.route(p)) for n, pol in fitted.items()}
        w_or = res["oracle"].welfare
        stack = np.stack([res[n].welfare for n in names])
        boot = bootstrap_means(stack, n_boot, seed)
        b_fixed, b_or = boot[names.index("best-fixed")], boot[names.index("oracle")]
        w_fixed, w_orm = float(res["best-fixed"].welfare.mean()), float(w_or.mean())
        for k, n in enumerate(names):
            if n not in policies:
                continue
            r = res[n]
            regret = w_or - r.welfare
            diff_b = boot[k] - b_fixed  # paired: the same resampled requests
            with np.errstate(divide="ignore", invalid="ignore"):
                gap_b = diff_b / (b_or - b_fixed)
            beats, tie = compare_to_fixed(float(r.welfare.mean()), w_fixed, diff_b)
            rows.append(
                {
                    "V": float(v),
                    "policy": n,
                    "welfare_per_query": float(r.welfare.mean()),
                    "welfare_ci95": _ci(boot[k]),
                    "accuracy": float(r.quality.mean()),
                    "cost_per_query_usd": float(r.cost_usd.mean()),
                    "latency_per_query_s": float(r.latency_s.mean()),
                    "risk_per_query": float(r.risk.mean()),
                    "null_share": float(r.null.mean()),
                    "regret_mean": float(regret.mean()),
                    "regret_ci95": _ci(b_or - boot[k]),
                    "regret_p95": float(np.percentile(regret, 95)),
                    "gap_recovered": gap_recovered(float(r.welfare.mean()), w_fixed, w_orm),
                    "gap_recovered_ci95": _ci(gap_b),
                    "beats_best_fixed": beats,
                    "tie_with_best_fixed": tie,
                    **ranks[n],
                }
            )
    fixed = [
        {
            "model": m,
            "accuracy": float(test.quality[:, j].mean()),
            "cost_per_query_usd": float(test.cost_usd[:, j].mean()),
        }
        for j, m in enumerate(test.models)
    ]
    sweeps = _sweeps(fitted, base)
    anchors = _anchors(router, base, fixed, sweeps)
    cal = [
        {
            "model": c.model,
            "brier": c.brier,
            "ece": c.ece,
            "curve": [
                {"pred": a, "obs": b, "n": k}
                for a, b, k in zip(c.bin_mean_pred, c.bin_mean_obs, c.bin_count, strict=True)
            ],
        }
        for c in reliability(test.models, base.dq, test.quality)
    ]
    lat_kind, lat_note = latency_note(
        data_has_latency=test.latency_s is not None, synthetic_throughput=router.throughput is None
    )
    labels = {"latency": lat_kind, "risk": "synthetic"}
    return EvalResult(
        rows,
        anchors,
        cal,
        fixed,
        sweeps,
        list(router.policy_.validation_),
        labels,
        [lat_note, SYNTHETIC_RISK],
    )


def ranking_score(name: str, base: Problem, strong: int, weak: int, seed: int) -> NDArray[np.float64]:
    """The per-request score RouteLLM's APGR ranks by, for policy ``name`` (see ``routellm_scores``)."""
    if name in ("tokenomy", "threshold", "cascade"):
        return win_probability(base, strong, weak)
    if name == "predictive" and base.baseline_dq:
        dq = next(iter(base.baseline_dq.values()))
        return np.asarray(dq[:, strong] * (1.0 - dq[:, weak]))
    if name == "oracle":
        assert base.quality is not None
        return np.asarray(base.quality[:, strong] - base.quality[:, weak])
    if name == "random":
        return np.random.default_rng(seed).random(len(base))
    return np.zeros(len(base))


def routellm_scores(
    names: Sequence[str], router: Router, base: Problem, seed: int
) -> dict[str, dict[str, Any]]:
    """Per policy: RouteLLM's ``apgr``, ``cpt50``, ``cpt80`` on the strong/weak pair chosen on train.

    The ranking score is the policy's estimate that the strong model wins, q̂_s·(1 − q̂_w): the
    router's q̂ for tokenomy, threshold and cascade, the predictive baseline's own q̂ for predictive,
    the realised outcome difference for the oracle, a seeded random score for random; a policy
    without a per-request score (a fixed model) ranks every request equally (APGR 0.5). Accuracy
    only, V-independent: the same figures stand on every V row. Also ``routellm_pair``.
    """
    assert base.quality is not None
    s, w = choose_pair(router.train_problem_)
    qs, qw = base.quality[:, s], base.quality[:, w]
    pair = f"{base.models[s]} / {base.models[w]}"
    out: dict[str, dict[str, Any]] = {}
    for n in names:
        score = ranking_score(n, base, s, w, seed)
        out[n] = {
            "apgr": routellm_apgr(score, qs, qw),
            "cpt50": routellm_cpt(score, qs, qw, 0.5),
            "cpt80": routellm_cpt(score, qs, qw, 0.8),
            "routellm_pair": pair,
        }
    return out


def _sweeps(fitted: dict[str, Policy], base: Problem) -> dict[str, list[dict[str, float]]]:
    """(cost, accuracy) of each V-driven policy over a fine V sweep (for AIQ and the Pareto plot)."""
    out: dict[str, list[dict[str, float]]] = {}
    for n in ("tokenomy", "predictive", "cascade", "oracle", "best-fixed"):
        if n not in fitted:
            continue
        pts = []
        for v in SWEEP_V:
            p = base.at_v(v)
            r = realised(p, fitted[n].route(p))
            pts.append(
                {"V": v, "cost_per_query_usd": float(r.cost_usd.mean()), "accuracy": float(r.quality.mean())}
            )
        out[n] = pts
    return out


def anchor_rows(anchors: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per policy of an ``anchors`` payload: ``policy``, ``APGR``, ``CPT(50%)``, ``CPT(80%)``."""
    return [
        {"policy": k, "APGR": v, "CPT(50%)": anchors["cpt50"][k], "CPT(80%)": anchors["cpt80"][k]}
        for k, v in anchors["apgr"].items()
    ]


def _anchors(
    router: Router, base: Problem, fixed: list[dict[str, Any]], sweeps: dict[str, list[dict[str, float]]]
) -> dict[str, Any]:
    """APGR / CPT on the strong/weak pair and AIQ over the fixed models' cost range."""
    assert base.quality is not None and base.cost_usd is not None
    s, w = choose_pair(router.train_problem_)
    acc_s, acc_w = base.quality[:, s].mean(), base.quality[:, w].mean()
    span = acc_s - acc_w

    qual = base.quality

    def pgr(to_strong: NDArray[np.bool_]) -> tuple[float, float]:
        acc = np.where(to_strong, qual[:, s], qual[:, w]).mean()
        return float(to_strong.mean()), float((acc - acc_w) / span) if span else float("nan")

    score = win_probability(base, s, w)
    thr = [pgr(score >= a) for a in np.unique(np.quantile(score, np.linspace(0, 1, 41)))]
    q2 = base.dq[:, [s, w]]
    c2 = base.dc_usd[:, [s, w]]
    # The anchors' curves trade accuracy against cost only: Eq. 4 on the pair with λ = ρ = 0.
    eq = [pgr(eq4(surplus_matrix(v, q2, c2, validate=False), allow_null=False) == 0) for v in SWEEP_V]
    mix = [(float(a), float(a)) for a in np.linspace(0, 1, 11)]  # random mixing: PGR = share exactly
    curves = {"threshold": thr, "tokenomy": eq, "random": mix}
    pair = {
        "strong": base.models[s],
        "weak": base.models[w],
        "accuracy_strong": float(acc_s),
        "accuracy_weak": float(acc_w),
    }
    out: dict[str, Any] = {"pair": pair, "apgr": {}, "cpt50": {}, "cpt80": {}, "aiq": {}}
    for n, curve in curves.items():
        x, y = [a for a, _ in curve], [b for _, b in curve]
        out["apgr"][n], out["cpt50"][n], out["cpt80"][n] = apgr(x, y), cpt(x, y, 0.5), cpt(x, y, 0.8)
    costs = [f["cost_per_query_usd"] for f in fixed]
    c_min, c_max = min(costs), max(costs)
    out["aiq"]["fixed-models-hull"] = aiq(costs, [f["accuracy"] for f in fixed], c_min, c_max)
    for n, pts in sweeps.items():
        if n == "best-fixed":
            continue
        out["aiq"][n] = aiq(
            [p["cost_per_query_usd"] for p in pts], [p["accuracy"] for p in pts], c_min, c_max
        )
    out["aiq_cost_range_usd"] = [c_min, c_max]
    out["note"] = (
        "APGR/CPT: the threshold router sweeps α; tokenomy sweeps V with Eq. 4 restricted to the pair; "
        "random mixing gives APGR 0.5. AIQ uses the hull of each policy's (cost, accuracy) points over a V sweep."
    )
    return out
