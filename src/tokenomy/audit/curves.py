"""Two observational curves of agent runs: verification (the paper's prediction 1) and the stopping margin.

Prediction 1: raising the verifier budget lowers realised risk until its marginal product meets its
marginal cost. On a log we can only *observe* it: tasks binned by the number of verify steps (test /
run) after their last edit, with each bin's resolved rate, realised risk (share of tasks that ended
unresolved) and the mean cost of one verify step; the marginal product of the k-th verify is the
resolved-rate difference between bins k and k−1, and verification "should" stop at the first k where
V·MP_k < c_v. Bins are noisy (a few dozen tasks each), so each carries a Wilson 95% interval, and a
concave response Q(k) = a − b·exp(−k/τ) is fitted to the tasks themselves (least squares; τ on a
grid, a and b closed form): its marginal product b/τ·exp(−k/τ) meets the verify step's cost c_v at
k* = τ·ln(V·b / (τ·c_v)) (0 when even the first verify is worth less than it costs), with a seeded
bootstrap interval over tasks. Selection is not controlled (hard tasks get more verification), so
every output says "observational".

Stopping margin: for each step index k, the marginal success gain of taking step k is the share of
tasks still running at k that end resolved right after it (the resolution hazard), against the mean
cost of step k as the context grows; the margin is the step after the last k where V·hazard ≥ cost
(the hazard smoothed over a window). No I/O.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tokenomy.audit.detectors._agent import verification_stats
from tokenomy.audit.detectors.base import AuditContext

__all__ = ["stopping_margin", "verification_curve"]

LABEL = "observational: tasks were not assigned verify budgets at random"
_TAUS = np.geomspace(0.25, 40.0, 48)  # grid of the fit's scale τ, verify steps


def wilson(successes: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion (95% by default)."""
    if n == 0:
        return (float("nan"), float("nan"))
    p = successes / n
    den = 1.0 + z * z / n
    mid = (p + z * z / (2 * n)) / den
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return (float(mid - half), float(mid + half))


def fit_saturating(k: np.ndarray[Any, Any], q: np.ndarray[Any, Any]) -> tuple[float, float, float]:
    """Least-squares fit of q ≈ a − b·exp(−k/τ) with b ≥ 0; returns (a, b, τ).

    For each τ on a grid the model is linear in (a, b): solved in closed form; the best τ wins. When no
    τ gives b > 0 (no rising response), returns b = 0 and a = mean(q).
    """
    k = np.asarray(k, np.float64)
    q = np.asarray(q, np.float64)
    x = np.exp(-k[None, :] / _TAUS[:, None])  # (T, N)
    xm, qm = x.mean(axis=1), q.mean()
    var = ((x - xm[:, None]) ** 2).mean(axis=1)
    cov = ((x - xm[:, None]) * (q - qm)[None, :]).mean(axis=1)
    slope = np.where(var > 1e-12, cov / np.where(var > 1e-12, var, 1.0), 0.0)  # q = c + slope·x
    b = np.maximum(-slope, 0.0)
    a = qm + b * xm
    sse = ((q[None, :] - (a[:, None] - b[:, None] * x)) ** 2).sum(axis=1)
    i = int(np.argmin(sse))
    if b[i] <= 1e-12:  # no rising response (round-off aside)
        return float(qm), 0.0, float(_TAUS[i])
    return float(a[i]), float(b[i]), float(_TAUS[i])


def k_star(b: float, tau: float, v_usd: float, c_v: float) -> float:
    """Verify steps where V·Q'(k) = c_v for Q = a − b·exp(−k/τ); 0 when V·Q'(0) ≤ c_v."""
    if b <= 0 or v_usd <= 0:
        return 0.0
    if c_v <= 0:
        return float("inf")
    ratio = v_usd * b / (tau * c_v)
    return float(tau * np.log(ratio)) if ratio > 1 else 0.0


def verification_curve(ctx: AuditContext, max_bin: int = 5) -> dict[str, Any] | None:
    """Resolved rate and realised risk by verify steps after the last edit (None when not applicable)."""
    if "action_classes" not in ctx.log.extra.get("capabilities", ()):
        return None
    q = ctx.log.requests.quality
    st = verification_stats(ctx)
    edited = (st["n_edit"] > 0) & ~np.isnan(q)
    if edited.sum() < 2:
        return None
    s = ctx.log.steps
    vmask = np.isin(s.action_class, ["test", "run"])
    c_v = float(np.nanmean(s.cost_usd[vmask])) if vmask.any() else 0.0
    k = np.minimum(st["n_verify_after"], max_bin)
    harm = ctx.log.requests.harm
    risk = np.where(np.isnan(harm), 1.0 - q, harm)
    v = float(np.median(ctx.log.requests.v_usd[edited]))
    rows: list[dict[str, Any]] = []
    prev: float | None = None
    for b in range(max_bin + 1):
        m = edited & (k == b)
        if not m.any():
            continue
        rate = float(q[m].mean())
        mp: float | None = None if prev is None else rate - prev
        lo, hi = wilson(float(q[m].sum()), int(m.sum()))
        rows.append(
            {
                "verify_steps_after_last_edit": f"{b}+" if b == max_bin else str(b),
                "k": b,
                "tasks": int(m.sum()),
                "resolved_rate": rate,
                "resolved_rate_ci95": [lo, hi],
                "realised_risk": float(risk[m].mean()),
                "mean_cost_usd": float(ctx.cost_usd[m].mean()),
                "marginal_product": mp,
                "value_of_mp_usd": None if mp is None else v * mp,
                "verify_step_cost_usd": c_v,
            }
        )
        prev = rate
    stop = next(
        (r["k"] for r in rows if r["value_of_mp_usd"] is not None and r["value_of_mp_usd"] < c_v), None
    )
    return {
        "rows": rows,
        "v_usd": v,
        "verify_step_cost_usd": c_v,
        "first_k_where_mp_below_cost": stop,
        "fit": _fit(st["n_verify_after"][edited], q[edited], v, c_v, max_bin),
        "label": LABEL,
    }


def _fit(
    k: np.ndarray[Any, Any], q: np.ndarray[Any, Any], v: float, c_v: float, max_bin: int, boot: int = 200
) -> dict[str, Any]:
    """The concave fit, its k*, a bootstrap interval of k* (seeded), and k* at other values of V."""
    a, b, tau = fit_saturating(k, q)
    ks = k_star(b, tau, v, c_v)
    rng = np.random.default_rng(0)
    n = len(k)
    draws = []
    for _ in range(boot):
        i = rng.integers(0, n, n)
        _, bb, tt = fit_saturating(k[i], q[i])
        draws.append(k_star(bb, tt, v, c_v))
    # an observed draw at each end (no interpolation): a resample with no finite k* has k* = inf, and
    # interpolating between two infinite draws is inf − inf
    lo, hi = (
        (float(x) for x in np.percentile(draws, [2.5, 97.5], method="inverted_cdf"))
        if draws
        else (float("nan"),) * 2
    )
    grid = np.arange(0, max(int(k.max()) if n else 0, max_bin) + 1, dtype=np.float64)
    return {
        "model": "Q(k) = a − b·exp(−k/τ), least squares over tasks",
        "a": a,
        "b": b,
        "tau_steps": tau,
        "k_star": ks,
        "k_star_ci95": [lo, hi],
        "k_star_by_v": {f"{vv:g}": k_star(b, tau, vv, c_v) for vv in (1.0, v, 100.0, 1000.0)},
        "curve": [{"k": float(x), "q": a - b * float(np.exp(-x / tau))} for x in grid],
        "marginal_value_at_k_star_usd": v * b / tau * float(np.exp(-ks / tau)) if b > 0 else 0.0,
        "bootstrap_draws": boot,
        "max_observed_k": int(k.max()) if n else 0,
    }


def _window_sum(x: np.ndarray[Any, Any], width: int) -> np.ndarray[Any, np.dtype[np.float64]]:
    """Centred moving sum (truncated at the ends), same length as ``x``."""
    n = len(x)
    c = np.concatenate([[0.0], np.cumsum(np.asarray(x, np.float64))])
    i = np.arange(n)
    return np.asarray(c[np.clip(i + width - width // 2, 0, n)] - c[np.clip(i - width // 2, 0, n)])


def _median_by(group: np.ndarray[Any, Any], x: np.ndarray[Any, Any], n: int) -> np.ndarray[Any, Any]:
    """Median of ``x`` within each group 0..n−1 (NaN for an empty group), by one sort."""
    order = np.lexsort((x, group))
    g, v = group[order], x[order]
    starts = np.searchsorted(g, np.arange(n), side="left")
    ends = np.searchsorted(g, np.arange(n), side="right")
    out = np.full(n, np.nan)
    has = ends > starts
    lo = (starts + ends - 1) // 2
    hi = (starts + ends) // 2
    out[has] = (v[lo[has]] + v[hi[has]]) / 2.0
    return out


def stopping_margin(ctx: AuditContext, window: int = 5, max_step: int = 150) -> dict[str, Any] | None:
    """Marginal step cost vs marginal success gain by step index (None when not applicable)."""
    q = ctx.log.requests.quality
    s = ctx.log.steps
    llm = s.is_llm & (ctx.req >= 0)
    if not llm.any() or np.isnan(q).all():
        return None
    r = len(q)
    n_steps = np.zeros(r, np.int64)
    np.add.at(n_steps, ctx.req[llm], 1)
    labelled = ~np.isnan(q)
    idx = s.index[llm]
    top = int(min(n_steps.max(), max_step))
    cost_k = np.bincount(np.minimum(idx, top), weights=np.nan_to_num(s.cost_usd[llm]), minlength=top + 1)[
        : top + 1
    ]
    calls_k = np.bincount(np.minimum(idx, top), minlength=top + 1)[: top + 1]
    prompt_k = np.bincount(np.minimum(idx, top), weights=s.input_tokens[llm], minlength=top + 1)[: top + 1]
    median_k = _median_by(np.minimum(idx, top), s.input_tokens[llm].astype(np.float64), top + 1)
    running = np.array([(labelled & (n_steps > k)).sum() for k in range(top + 1)], np.float64)
    ended = labelled & (q > 0) & (n_steps > 0)  # a request with no LLM call never ran a step
    ended_ok = np.bincount(np.minimum(n_steps[ended] - 1, top), weights=q[ended], minlength=top + 1)[
        : top + 1
    ]
    hazard = _window_sum(ended_ok, window) / np.maximum(_window_sum(running, window), 1)
    mean_cost = cost_k / np.maximum(calls_k, 1)
    v = float(np.median(ctx.log.requests.v_usd[labelled]))
    gain = v * hazard
    above = np.flatnonzero((gain >= mean_cost) & (calls_k > 0))
    margin = int(above[-1]) + 1 if above.size else None  # after it, no step's value covers its cost
    beyond = float(cost_k[margin:].sum()) if margin is not None else 0.0
    rows = [
        {
            "step": k,
            "running": int(running[k]),
            "mean_step_cost_usd": float(mean_cost[k]),
            "mean_prompt_tokens": float(prompt_k[k] / max(calls_k[k], 1)),
            "median_prompt_tokens": float(median_k[k]),
            "hazard": float(hazard[k]),
            "value_of_step_usd": float(gain[k]),
        }
        for k in range(top + 1)
        if calls_k[k] > 0
    ]
    return {
        "rows": rows,
        "v_usd": v,
        "margin_step": margin,
        "cost_beyond_margin_usd": beyond,
        "share_of_cost_beyond_margin": beyond / float(cost_k.sum()) if cost_k.sum() else 0.0,
        "label": "observational: the resolution hazard of tasks still running at step k",
    }
