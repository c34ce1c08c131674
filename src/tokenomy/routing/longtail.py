"""The paper's prediction 2: a cost-minimising router shows systematic regret on long-tail high-V requests.

V is drawn per request from a Pareto (heavy-tailed) distribution, V = v_min·(1 − U)^(−1/α), seeded.
The cost-minimiser (``cost-min``: the cheapest model whose q̂ clears one quality bar, tuned on train at
the median V) and Eq. 4 (``tokenomy``, reading each request's V) route the same test requests; regret
against the ex-post oracle at each request's own V is reported by V decile. Prediction 2 holds when
the cost-minimiser's regret rises in the top deciles while Eq. 4's stays low; ``excess`` is the
cost-minimiser's regret minus Eq. 4's, and its share in the top V decile says where the loss sits.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from tokenomy.core.prices import PriceVector
from tokenomy.routing.dataset import RoutingDataset
from tokenomy.routing.evaluation import realised
from tokenomy.routing.policies import make_policy
from tokenomy.routing.router import Router

__all__ = ["draw_values", "longtail"]


def draw_values(n: int, *, v_min: float, alpha: float, seed: int) -> NDArray[np.float64]:
    """n Pareto(α) values with minimum ``v_min`` (USD per unit quality)."""
    u = np.random.default_rng(seed).random(n)
    return np.asarray(v_min * (1.0 - u) ** (-1.0 / alpha))


def longtail(
    router: Router,
    test: RoutingDataset,
    *,
    prices: PriceVector | None = None,
    v_min: float = 0.002,
    alpha: float = 1.1,
    seed: int = 0,
) -> dict[str, Any]:
    """Regret by V decile for cost-min and tokenomy (and best-fixed at the median V, V-blind)."""
    prices = prices or PriceVector()
    train = router.train_problem_
    v_train = draw_values(len(train), v_min=v_min, alpha=alpha, seed=seed + 1)
    cmin = make_policy("cost-min").fit(train.at_v(v_train))
    fixed = make_policy("best-fixed").fit(train)
    X = router.features(test.prompts, test.categories.tolist())
    v = draw_values(len(test), v_min=v_min, alpha=alpha, seed=seed)
    p = router.problem(X, v, prices, test)
    oracle = realised(p, make_policy("oracle").route(p)).welfare
    blind = p.at_v(float(np.median(v_train)))
    results = {
        "cost-min": realised(p, cmin.route(p)).welfare,
        "tokenomy": realised(p, router.policy_.route(p)).welfare,
        "best-fixed (median V)": realised(p, fixed.route(blind)).welfare,
    }
    edges = np.quantile(v, np.linspace(0, 1, 11))
    dec = np.clip(np.searchsorted(edges, v, side="right") - 1, 0, 9)
    rows = []
    for d in range(10):
        m = dec == d
        row: dict[str, Any] = {
            "decile": d + 1,
            "v_lo": float(edges[d]),
            "v_hi": float(edges[d + 1]),
            "n": int(m.sum()),
        }
        for name, w in results.items():
            row[f"regret_{name}"] = float((oracle[m] - w[m]).mean()) if m.any() else float("nan")
            # regret / V: the quality-equivalent loss, comparable across deciles
            row[f"regret_per_v_{name}"] = (
                float(((oracle[m] - w[m]) / v[m]).mean()) if m.any() else float("nan")
            )
        row["excess_regret_cost_min_usd"] = row["regret_cost-min"] - row["regret_tokenomy"]
        rows.append(row)
    excess = results["tokenomy"] - results["cost-min"]  # per request: what Eq. 4 gains over cost-min
    total = {name: float((oracle - w).sum()) for name, w in results.items()}
    top = dec == 9
    return {
        "v_distribution": {
            "kind": "pareto",
            "v_min": v_min,
            "alpha": alpha,
            "seed": seed,
            "median": float(np.median(v)),
        },
        "cost_min_tau": float(getattr(cmin, "tau_", float("nan"))),
        "by_decile": rows,
        "regret_mean": {name: float((oracle - w).mean()) for name, w in results.items()},
        "top_decile_regret_per_v": {
            name: float(((oracle[top] - w[top]) / v[top]).mean()) for name, w in results.items()
        },
        "top_decile_share_of_excess_regret": float(excess[top].sum() / excess.sum())
        if excess.sum() > 0
        else float("nan"),
        "top_decile_share_of_regret": {
            name: float((oracle[top] - w[top]).sum() / total[name]) if total[name] > 0 else float("nan")
            for name, w in results.items()
        },
    }
