"""Demo section: the paper's worked example, an equimarginal allocation, price discovery, a ledger.

Needs no data. The worked example (SPEC.md §1): cheap q = 0.7, c = 1; frontier q = 0.9, c = 5. At
V = 10 the cheap model wins (6 vs 4), at V = 100 the frontier (69 vs 85), crossover V* = 20; with
wrong-action probabilities 0.05 vs 0.01 priced at ρ = 50 the gap shrinks by 2 and V* moves to 10.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tokenomy.core import (
    Curve,
    LogCurve,
    PowerCurve,
    PriceController,
    PriceSource,
    PriceVector,
    SatExpCurve,
    TokenUse,
    allocate,
    choose,
    crossover_value,
)
from tokenomy.interfaces.cmd_demo import DemoContext
from tokenomy.interfaces.outputs import remove_stale
from tokenomy.interfaces.table import format_table
from tokenomy.ledger import Decision, Ledger, Outcome

__all__ = ["TITLE", "section"]

TITLE = "core: the allocation rule, its prices and the ledger"


def worked_example() -> dict[str, Any]:
    """The paper's two-model example with and without priced risk."""
    cheap, frontier = TokenUse("cheap", 0.7, 1.0), TokenUse("frontier", 0.9, 5.0)
    rows = []
    for v in (10.0, 100.0):
        p = PriceVector(v_usd=v, v_source=PriceSource.USER)
        c = choose([cheap, frontier], p)
        rows.append(
            {
                "V": v,
                "surplus_cheap": c.surpluses_usd[0],
                "surplus_frontier": c.surpluses_usd[1],
                "choice": c.name,
            }
        )
    v_star = crossover_value(cheap, frontier, PriceVector())
    risky = [TokenUse("cheap", 0.7, 1.0, dr=0.05), TokenUse("frontier", 0.9, 5.0, dr=0.01)]
    priced = PriceVector(rho_usd=50.0, rho_source=PriceSource.SAFETY_POLICY)
    v_star_risk = crossover_value(risky[0], risky[1], priced)
    gap = [
        (
            choose(risky, priced.with_prices(v_usd=v)).surpluses_usd,
            choose([cheap, frontier], PriceVector(v_usd=v)).surpluses_usd,
        )
        for v in (10.0,)
    ]
    shrink = (gap[0][1][0] - gap[0][1][1]) - (gap[0][0][0] - gap[0][0][1])
    return {"table": rows, "v_star": v_star, "v_star_with_risk": v_star_risk, "gap_shrinks_by": shrink}


def small_allocation() -> dict[str, Any]:
    """Three uses (read, plan, verify) sharing a $0.10 budget and a 30 s latency cap."""
    names = ["read", "plan", "verify"]
    curves: list[Curve] = [
        LogCurve(scale=0.30, shift=2000.0),
        PowerCurve(scale=0.002, exponent=0.5),
        SatExpCurve(scale=0.25, rate_tokens=3000.0),
    ]
    cost = np.array([1.25e-6, 10e-6, 10e-6])  # USD per token (input vs output prices)
    latency = np.array([0.0002, 0.01, 0.01])  # seconds per token
    alloc = allocate(
        curves, cost, latency_s_per_token=latency, v_usd=10.0, budget_usd=0.10, latency_cap_s=30.0
    )
    rows = [
        {
            "use": n,
            "tokens": float(t),
            "spend_usd": float(c * t),
            "latency_s": float(l * t),
            "full_price_usd_per_tok": float(p),
        }
        for n, t, c, l, p in zip(names, alloc.tokens, cost, latency, alloc.full_price_usd, strict=True)
    ]
    return {
        "rows": rows,
        "mu_c": alloc.mu_c,
        "mu_l": alloc.mu_l,
        "implied_lam_usd_per_s": alloc.lam_usd_per_s,
        "spend_usd": alloc.spend_usd,
        "latency_s": alloc.latency_s,
        "kkt_max_residual": alloc.residuals.max,
    }


def discovery() -> dict[str, Any]:
    """λ discovered against a 2 s p95 SLA: rises while violated, decays to 0 once slack."""
    ctl = PriceController(sla_p95_s=2.0, eta_lam=0.01)
    observed = [3.0, 3.0, 2.5, 2.2, 1.5, 1.0, 1.0, 1.0]
    path = [ctl.update(p).lam_usd_per_s for p in observed]
    return {"observed_p95_s": observed, "lam_path_usd_per_s": path}


def ledger_demo(path: str) -> list[dict[str, Any]]:
    """Write three routed requests with every model's outcome and return the per-request vectors."""
    uses = [TokenUse("cheap", 0.7, 1.0, dl_s=0.5, dr=0.05), TokenUse("frontier", 0.9, 5.0, dl_s=2.0, dr=0.01)]
    truth = {"r-low": (0.0, 1.0), "r-mid": (1.0, 1.0), "r-high": (0.0, 1.0)}
    remove_stale(path, path + ".wal")  # the demo writes a fresh ledger each run
    with Ledger(path) as ledger:
        decisions = []
        for k, (rid, v) in enumerate((("r-low", 10.0), ("r-mid", 30.0), ("r-high", 100.0))):
            prices = PriceVector(
                v,
                0.1,
                50.0,
                v_source=PriceSource.USER,
                lam_source=PriceSource.SLA,
                rho_source=PriceSource.SAFETY_POLICY,
            )
            decisions.append(
                Decision.from_uses(rid, "demand", "route", uses, prices, tenant="demo", time_s=float(k))
            )
        ledger.append(decisions)
        ledger.append_outcomes(
            Outcome(d.request_id, q, c.dc_usd, latency_s=c.dl_s, candidate=c.name)
            for d in decisions
            for c, q in zip(d.candidates, truth[d.request_id], strict=True)
        )
        vectors: list[dict[str, Any]] = ledger.request_vectors().to_pylist()
        return vectors


def section(ctx: DemoContext) -> dict[str, Any]:
    ex = worked_example()
    ctx.echo(format_table(ex["table"], title="worked example: surplus V·q − c (USD)", digits=2))
    ctx.echo(
        f"crossover V* = {ex['v_star']:g}; with wrong-action risk priced at ρ = 50: "
        f"gap at V = 10 shrinks by {ex['gap_shrinks_by']:g}, V* = {ex['v_star_with_risk']:g}"
    )
    al = small_allocation()
    ctx.echo(
        format_table(al["rows"], title="\nequimarginal allocation: V = $10, budget $0.10, latency cap 30 s")
    )
    ctx.echo(
        f"shadow prices: μ_C = {al['mu_c']:.4g} (value per budget dollar), μ_L = {al['mu_l']:.4g}, "
        f"implied λ = μ_L/μ_C = {al['implied_lam_usd_per_s']:.4g} USD/s; max KKT residual {al['kkt_max_residual']:.1e}"
    )
    disc = discovery()
    ctx.echo(
        "\nprice discovery (SLA p95 2 s): observed p95 "
        + ", ".join(f"{x:g}" for x in disc["observed_p95_s"])
        + "\n  λ path: "
        + ", ".join(f"{x:.3f}" for x in disc["lam_path_usd_per_s"])
    )
    path = ctx.out_dir / "ledger.duckdb"
    vectors = ledger_demo(str(path))
    ctx.echo(
        format_table(
            vectors,
            [
                "request_id",
                "v_price_usd",
                "value_usd",
                "cost_usd",
                "latency_cost_usd",
                "risk_cost_usd",
                "utility_usd",
                "regret_usd",
            ],
            title=f"\nledger {path}: per-request realised vector (USD)",
            digits=3,
        )
    )
    return {
        "worked_example": ex,
        "allocation": al,
        "discovery": disc,
        "ledger": str(path),
        "request_vectors": vectors,
    }
