"""Menu benchmark: incentive-compatible menus on the RouterBench slice's 11 tiers.

Prints, for several V laws (all synthetic: RouterBench has no per-request value) and K types, the
revenue-maximising menu against silent routing (Eq. 1 knowing V) and one flat price: options, welfare,
profit, information rent, the share of requests and of high-V requests (V above its median)
downgraded, per type and per request. Then the speed and the exactness of the closed-form design
(ironed virtual values + binding downward IC) against a baseline measured in the same run: an LP
brute force over every assignment of K = 3 types to the 11 tiers or none (12³ LPs); both must find
the same profit. No speed target is set for menus; the figures are for scale.
Run: ``.venv/bin/python benchmarks/bench_menu.py [--quick] [--data DIR]``.
"""

from __future__ import annotations

import itertools
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import best_of, one_core, parser

one_core()

import numpy as np  # noqa: E402

from tokenomy.interfaces.loaders.routing import load_routerbench  # noqa: E402
from tokenomy.routing.menu import design_menu  # noqa: E402
from tokenomy.routing.menu_eval import evaluate_menu, evaluate_requests  # noqa: E402
from tokenomy.routing.menu_types import Tier, ValueTypes, synthetic_values, tiers_from_dataset  # noqa: E402

LAWS = (
    ("lognormal", (-4.6, 0.5)),
    ("lognormal", (-4.6, 1.0)),
    ("lognormal", (-4.6, 1.5)),
    ("pareto", (2.5, 0.002)),
    ("pareto", (1.5, 0.002)),
)


def quality_table(tiers: tuple[Tier, ...], n: int, ks: tuple[int, ...]) -> None:
    print(f"revenue-maximising menus, {len(tiers)} RouterBench tiers, V synthetic ({n:,} seeded draws)")
    print(
        f"{'V law':<20}{'K':>6}  {'options (tier @ price USD)':<84}{'π design':>9}{'W menu':>8}{'W silent':>9}"
        f"{'W flat':>8}{'π menu':>8}{'π flat':>8}{'rent':>8}{'down':>6}{'hiV':>6}{'IC':>4}"
    )
    for dist, params in LAWS:
        draws = synthetic_values(dist, params, n=n, seed=0)
        for k in ks:
            types = ValueTypes.from_samples(draws, k=k, synthetic=True)
            menu = design_menu(tiers, types, objective="revenue")
            rep = evaluate_menu(menu)
            req = evaluate_requests(menu, draws)
            t = {x.regime: x for x in req.totals}
            opts = ", ".join(f"{o.tier.split('/')[-1][:9]}@{o.price_usd:.4f}" for o in menu.options)
            print(
                f"{dist + ':' + ','.join(f'{p:g}' for p in params):<20}{k:>6}  {opts[:83]:<84}"
                f"{rep.total('menu').profit_per_query_usd * 1e3:>9.3f}"
                f"{t['menu'].welfare_per_query_usd * 1e3:>8.3f}{t['silent_cost'].welfare_per_query_usd * 1e3:>9.3f}"
                f"{t['flat'].welfare_per_query_usd * 1e3:>8.3f}{t['menu'].profit_per_query_usd * 1e3:>8.3f}"
                f"{t['flat'].profit_per_query_usd * 1e3:>8.3f}{t['menu'].user_surplus_per_query_usd * 1e3:>8.3f}"
                f"{req.downgraded_share:>6.0%}{req.downgraded_share_high_v:>6.0%}"
                f"{'ok' if rep.ic_ok and rep.ir_ok else 'NO':>4}"
            )
    print("  π design: the profit the K-type model promises; every other column is per request (each of the")
    print(
        "  draws buys the option best for its own V): W welfare, π provider profit, rent the users' information"
    )
    print(
        "  rent, all 1e-3 USD per query; down / hiV: share of all / above-median-V requests served below the"
    )
    print(
        "  tier silent routing (Eq. 1 knowing V) gives them; IC: Eq. 5 and participation hold for every type."
    )


def speed(tiers: tuple[Tier, ...], quick: bool) -> None:
    from scipy.optimize import linprog

    draws = synthetic_values("lognormal", (-4.6, 1.0), n=200_000, seed=1)
    print("\nclosed-form design + IC/IR verification (one core)")
    for k in (10, 100, 1000) if quick else (10, 100, 1000, 10_000):
        types = ValueTypes.from_samples(draws, k=k, synthetic=True)
        t, rep = best_of(lambda types=types: evaluate_menu(design_menu(tiers, types)))
        print(f"  K = {k:>6,} types: {t * 1e3:8.2f} ms   IC {rep.ic_ok}, participation {rep.ir_ok}")
    n_types = 3
    v = np.array([0.003, 0.01, 0.05])
    w = np.array([0.5, 0.3, 0.2])
    types = ValueTypes.from_samples(v, w)
    q = np.array([t.quality for t in tiers])
    c = np.array([t.cost_usd for t in tiers])
    t0 = time.perf_counter()
    best = -np.inf
    for assign in itertools.product(range(-1, len(tiers)), repeat=n_types):
        qa = np.array([q[a] if a >= 0 else 0.0 for a in assign])
        ca = np.array([c[a] if a >= 0 else 0.0 for a in assign])
        a_ub, b_ub = [], []
        for j in range(n_types):
            a_ub.append(np.eye(n_types)[j])
            b_ub.append(v[j] * qa[j])
            for i in range(n_types):
                if i != j:
                    a_ub.append(np.eye(n_types)[j] - np.eye(n_types)[i])
                    b_ub.append(v[j] * (qa[j] - qa[i]))
        bounds = [(0.0, 0.0) if a < 0 else (None, None) for a in assign]
        res = linprog(-w, A_ub=np.array(a_ub), b_ub=np.array(b_ub), bounds=bounds, method="highs")
        if res.status == 0:
            best = max(best, float(-res.fun - (w * ca).sum()))
    t_lp = time.perf_counter() - t0
    t_cf, rep = best_of(lambda: evaluate_menu(design_menu(tiers, types)))
    profit = rep.total("menu").profit_per_query_usd
    print(
        f"  K = 3 types × {len(tiers)} tiers: closed form {t_cf * 1e3:.2f} ms, profit {profit:.9f} USD/query; "
        f"baseline LP brute force ({(len(tiers) + 1) ** n_types:,} LPs) {t_lp:.2f} s, profit {best:.9f} "
        f"→ {'same optimum' if abs(profit - best) <= 1e-12 else 'DIFFERENT optimum'}"
    )


def main() -> None:
    args = parser(__doc__ or "").parse_args()
    folder = Path(args.data) / "routing" / "routerbench_slice"
    if not folder.is_dir():
        print(f"skipped: RouterBench slice not found at {folder} (pass --data DIR)")
        return
    tiers = tiers_from_dataset(load_routerbench(folder))
    quality_table(tiers, 20_000 if args.quick else 200_000, (10, 1000) if args.quick else (10, 100, 1000))
    speed(tiers, args.quick)


if __name__ == "__main__":
    main()
