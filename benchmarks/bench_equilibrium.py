"""Multi-tenant market benchmark: tâtonnement clearing against the convex optimum and flat pricing.

Tenants are the K ServeGen (language/m-large) clients with most requests: real mean rates and length
distributions; synthetic lognormal V (``economy.tenants.synthetic_values``: median $0.05·exp(z), σ 1)
and an assumed GPU cost of $2.5/h (the reserve price, the flat price and welfare's cost). For every
K in 2, 4, 8, 16, seed and capacity fraction (capacity = fraction × demand at price 0) it prints:
iterations to clear (target ≤ 100), |excess demand| / capacity at the last price (target ≤ 1%),
efficiency = equilibrium welfare / optimal welfare (target ≥ 0.99; the optimum is the better of
SLSQP and the exact 1-D dual, ``slsqp_gap`` their relative difference), flat-price efficiency beside
it (no target), the time per clearing (median of ``--repeat``) and per SLSQP solve, and for how many
tenants a ×0.5 or ×2 misreport of V raises their true surplus. Targets are computed per row; the
summary line says whether every row met them.

Run: ``.venv/bin/python benchmarks/bench_equilibrium.py`` (``--quick``: K 2 and 4, one seed, one
fraction). One core. Exit status 1 when a target is missed.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import median_of, one_core, parser, verdict

CPUS = one_core()

from tokenomy.core.bus import PriceBus  # noqa: E402
from tokenomy.economy import TenantSet, clear, run_market, tenants_from_servegen  # noqa: E402
from tokenomy.interfaces.loaders.servegen import SERVEGEN_FILE, load_servegen  # noqa: E402
from tokenomy.interfaces.table import format_table  # noqa: E402
from tokenomy.serving.entities import EngineConfig  # noqa: E402

MAX_ITER, MAX_EXCESS, MIN_EFFICIENCY = 100, 0.01, 0.99


def row(clients: list, k: int, seed: int, frac: float, repeat: int) -> dict[str, object]:  # type: ignore[type-arg]
    ts = TenantSet(tuple(tenants_from_servegen(clients[:k], seed=seed)))
    cost = EngineConfig().gpu_usd_per_s
    cap = frac * ts.peak_demand_gpu_s_per_s
    t0 = time.perf_counter()
    rep = run_market(ts, cap, cost_usd_per_gpu_s=cost, bus=PriceBus())
    t_all = time.perf_counter() - t0
    t_clear = median_of(lambda: clear(ts, cap, floor_usd=cost, cost_usd_per_gpu_s=cost), repeat)
    eq, opt = rep.clearing, rep.optimum
    ok_iter = eq.cleared and eq.iterations <= MAX_ITER
    ok_excess = abs(eq.excess_demand_frac) <= MAX_EXCESS or (
        eq.price_usd_per_gpu_s <= cost and eq.excess_demand_frac <= 0
    )
    pays = {f: sum(m.gain_usd_per_s > 0 for m in rep.misreports if m.factor == f) for f in (0.5, 2.0)}
    return {
        "K": k,
        "seed": seed,
        "cap_frac": frac,
        "iterations": eq.iterations,
        "excess_demand": eq.excess_demand_frac,
        "efficiency": rep.efficiency,
        "flat_efficiency": rep.flat_efficiency,
        "price_usd_per_gpu_s": eq.price_usd_per_gpu_s,
        "slsqp_gap": abs(opt.welfare_usd_per_s - opt.dual_welfare_usd_per_s) / opt.best_welfare_usd_per_s,
        "clear_ms": 1e3 * t_clear,
        "market_s": t_all,
        "x0.5_pays": f"{pays[0.5]}/{k}",
        "x2_pays": f"{pays[2.0]}/{k}",
        "targets": "met" if ok_iter and ok_excess and rep.efficiency >= MIN_EFFICIENCY else "NOT MET",
    }


def main() -> int:
    p = parser(__doc__ or "")
    p.add_argument("--seeds", default="0,1,2", help="comma list of seeds (synthetic V and size samples)")
    p.add_argument("--fracs", default="0.25,0.5,0.75", help="capacity as fractions of peak demand")
    p.add_argument("--repeat", type=int, default=5, help="timing repeats per clearing (median)")
    args = p.parse_args()
    ks = (2, 4) if args.quick else (2, 4, 8, 16)
    seeds = [0] if args.quick else [int(s) for s in args.seeds.split(",")]
    fracs = [0.5] if args.quick else [float(f) for f in args.fracs.split(",")]
    archive = Path(args.data) / SERVEGEN_FILE
    if not archive.is_file():
        print(f"no ServeGen archive at {archive} (--data DIR or TOKENOMY_DATA)")
        return 1
    clients, _ = load_servegen(archive, top=max(ks))
    rows = [row(clients, k, s, f, args.repeat) for k in ks for s in seeds for f in fracs]
    print(
        format_table(
            rows,
            title=(
                f"multi-tenant market on ServeGen language/m-large (one core; V synthetic; GPU cost assumed)\n"
                f"targets per row: iterations ≤ {MAX_ITER}, |excess demand| ≤ {MAX_EXCESS:.0%} of capacity, "
                f"efficiency ≥ {MIN_EFFICIENCY}"
            ),
            digits=6,
        )
    )
    worst_iter = max(int(r["iterations"]) for r in rows)  # type: ignore[call-overload]
    worst_excess = max(abs(float(r["excess_demand"])) for r in rows)  # type: ignore[arg-type]
    worst_eff = min(float(r["efficiency"]) for r in rows)  # type: ignore[arg-type]
    best_flat = max(float(r["flat_efficiency"]) for r in rows)  # type: ignore[arg-type]
    print(
        f"worst iterations {worst_iter} (≤ {MAX_ITER}: {verdict(worst_iter, MAX_ITER)}); "
        f"worst |excess| {worst_excess:.2e} (≤ {MAX_EXCESS}: {verdict(worst_excess, MAX_EXCESS)}); "
        f"worst efficiency {worst_eff:.6f} (≥ {MIN_EFFICIENCY}: "
        f"{verdict(worst_eff, MIN_EFFICIENCY, lower_is_better=False)}); best flat efficiency {best_flat:.4f}"
    )
    missed = [r for r in rows if r["targets"] != "met"]
    print(f"rows meeting every target: {len(rows) - len(missed)}/{len(rows)}")
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
