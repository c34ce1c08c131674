"""``tokenomy economy equilibrium``: clear a multi-tenant serving market by tâtonnement.

``economy equilibrium [--trace servegen[:CATEGORY]|azure] [--tenants K] [--capacity-frac F] [--seed S]``
fits K tenants from a real trace (ServeGen: the K clients with most requests, their mean rates and
length distributions; ``azure``: the 2023 code and conversation traces as two tenants), gives each a
synthetic lognormal V (labelled ``synthetic``), sells ``F`` × peak demand (GPU-seconds per second at
price 0) at one price discovered by tâtonnement with the GPU cost ($2.5/h, assumed) as reserve, and
compares it with the convex social optimum and flat pricing at cost. Each tenant also tries
reporting its V ×0.5 and ×2. Prints a table; returns the JSON-ready results (``--json PATH``).
This module only parses, calls and prints: the market lives in ``tokenomy.economy``.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from tokenomy.core.bus import PriceBus
from tokenomy.core.errors import ValidationError
from tokenomy.core.prices import GPU_SECOND
from tokenomy.economy import (
    MARKET_TOPIC,
    MarketReport,
    Tenant,
    TenantSet,
    run_market,
    synthetic_values,
    tenant_from_requests,
    tenants_from_servegen,
)
from tokenomy.interfaces.args import int_in
from tokenomy.interfaces.loaders.servegen import SERVEGEN_FILE, load_servegen
from tokenomy.interfaces.loaders.traces import load_trace, resolve_trace
from tokenomy.interfaces.paths import resolve_data_dir
from tokenomy.interfaces.table import format_table
from tokenomy.serving.entities import EngineConfig

__all__ = ["register_equilibrium", "run_equilibrium"]

SYNTHETIC = [
    "V distributions: LogNormal per tenant, median $0.05·exp(z), z ~ N(0,1) per tenant (seed), σ 1 "
    "within a tenant; not in any trace",
    "GPU cost $2.5 per GPU-hour (assumed): the reserve price, the flat price and welfare's cost",
    "request GPU-seconds = β1·prompt + β2·output tokens of the BLIS llama-3.1-8B H100 step model",
]


_EQUILIBRIUM_TEXT = """\
Clear a multi-tenant serving market by adjusting prices until demand meets capacity,
and compare the result with the social optimum and one flat price.

Tenants come from a real trace (servegen categories, or the azure code and
conversation traces as two tenants); each gets a synthetic value V (labelled so).
Capacity is --capacity-frac times peak demand. Prints a table; --json writes the results.

Example:
  tokenomy economy equilibrium --trace servegen --tenants 8 --capacity-frac 0.5
"""


def register_equilibrium(subparsers: Any) -> None:
    """Add the ``equilibrium`` sub-command to the ``economy`` command's ``subparsers``."""
    p = subparsers.add_parser(
        "equilibrium",
        help="multi-tenant market: tâtonnement vs the social optimum and flat pricing",
        description=_EQUILIBRIUM_TEXT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--data", metavar="DIR", help="real data folder (default: $TOKENOMY_DATA or ../shared/data)"
    )
    p.add_argument(
        "--trace", default="servegen", help="servegen[:CATEGORY] (default language/m-large) or azure"
    )
    p.add_argument("--tenants", type=int, default=8, metavar="K", help="number of tenants, ≥ 2 (default 8)")
    p.add_argument("--seed", type=int_in(0), default=0, help="seed of the synthetic V and the size samples")
    p.add_argument(
        "--capacity-frac",
        type=float,
        default=0.5,
        metavar="F",
        help="capacity as a fraction of peak demand (demand at price 0), > 0 (default 0.5: the market binds)",
    )
    if not any("--json" in a.option_strings for a in p._actions):
        p.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    p.set_defaults(func=run_equilibrium)


def _check_args(args: argparse.Namespace) -> None:
    if not isinstance(args.tenants, int) or args.tenants < 2:
        raise ValidationError(
            f"--tenants must be an integer ≥ 2 (K tenants share the market); got {args.tenants!r}"
        )
    f = args.capacity_frac
    if not (isinstance(f, int | float) and math.isfinite(f) and 0.01 <= f <= 100):
        raise ValidationError(
            "--capacity-frac must be a number in [0.01, 100] (capacity as a fraction of peak demand, "
            f"e.g. 0.5); got {f!r}"
        )
    if not (args.trace == "servegen" or args.trace.startswith("servegen:") or args.trace == "azure"):
        raise ValidationError(f"--trace must be servegen, servegen:CATEGORY or azure; got {args.trace!r}")
    if args.trace == "azure" and args.tenants != 2:
        raise ValidationError(
            f"--trace azure has exactly 2 tenants (code, conversation): use --tenants 2; got {args.tenants}"
        )


def _data(args: argparse.Namespace) -> Path:
    data = resolve_data_dir(args.data)
    if data is None:
        where = f"no folder {args.data!r}" if args.data else "no $TOKENOMY_DATA or ../shared/data folder"
        raise ValidationError(f"--data: {where}; expected the real data folder (DIR holding serving/)")
    return data


def _tenants(args: argparse.Namespace, data: Path) -> tuple[list[Tenant], list[str]]:
    k, seed = args.tenants, args.seed
    if args.trace == "azure":
        vals = synthetic_values(2, seed=seed)
        out = []
        for name, v in zip(("azure-code", "azure-conv"), vals, strict=True):
            wl = load_trace(resolve_trace(name, data), seed=seed, name=name).workload
            out.append(
                tenant_from_requests(name, wl.arrival_s, wl.prompt_tokens, wl.output_tokens, v, seed=seed)
            )
        return out, ["azure: one tenant per 2023 trace (code, conversation); rate = requests / span"]
    archive = data / SERVEGEN_FILE
    if not archive.is_file():
        raise ValidationError(f"--data: {data} has no {SERVEGEN_FILE}; expected the real data folder")
    category = args.trace.partition(":")[2] or "language/m-large"
    clients, notes = load_servegen(archive, category=category, top=k)
    if len(clients) < k:
        raise ValidationError(f"--tenants {k}: ServeGen {category} has only {len(clients)} usable clients")
    note = f"servegen:{category}: the {k} clients with most requests; mean rate over the calendar"
    return tenants_from_servegen(clients, seed=seed), [note, *notes[:3]]


def _rows(ts: TenantSet, rep: MarketReport) -> list[dict[str, Any]]:
    rows = []
    cap = rep.capacity_gpu_s_per_s
    for k, t in enumerate(ts.tenants):
        eq, opt, fl = rep.clearing.tenants[k], rep.optimum.allocation_gpu_s_per_s[k], rep.flat.tenants[k]
        lies = [m for m in rep.misreports if m.tenant == t.name]
        rows.append(
            {
                "name": t.name,
                "rate_rps": t.rate_rps,
                "mean_prompt_tokens": t.mean_prompt_tokens,
                "mean_output_tokens": t.mean_output_tokens,
                "peak_demand_gpu_s_per_s": t.peak_demand_gpu_s_per_s,
                "v_distribution": t.value.as_dict(),
                "allocation_gpu_s_per_s": eq.allocation_gpu_s_per_s,
                "share": eq.allocation_gpu_s_per_s / cap,
                "optimum_allocation_gpu_s_per_s": opt,
                "value_usd_per_s": eq.value_usd_per_s,
                "payment_usd_per_s": eq.payment_usd_per_s,
                "surplus_usd_per_s": eq.surplus_usd_per_s,
                "flat_allocation_gpu_s_per_s": fl.allocation_gpu_s_per_s,
                "flat_surplus_usd_per_s": fl.surplus_usd_per_s,
                "misreport": [
                    {
                        "factor": m.factor,
                        "price_usd_per_gpu_s": m.price_usd_per_gpu_s,
                        "true_surplus_usd_per_s": m.true_surplus_usd_per_s,
                        "truthful_surplus_usd_per_s": m.truthful_surplus_usd_per_s,
                        "gain_usd_per_s": m.gain_usd_per_s,
                        "pays": m.gain_usd_per_s > 1e-9 * abs(m.truthful_surplus_usd_per_s),
                    }
                    for m in lies
                ],
            }
        )
    return rows


def run_equilibrium(args: argparse.Namespace) -> dict[str, Any]:
    """Fit the tenants, run the market, print the table; return the JSON-ready results.

    Raises:
        ValidationError: ``--tenants`` < 2, ``--capacity-frac`` ≤ 0, an unknown ``--trace``, or no
            data folder (each message names the option and the expected form).
    """
    _check_args(args)
    tenants, notes = _tenants(args, _data(args))
    ts = TenantSet(tuple(tenants))
    capacity = args.capacity_frac * ts.peak_demand_gpu_s_per_s
    bus = PriceBus()
    rep = run_market(ts, capacity, cost_usd_per_gpu_s=EngineConfig().gpu_usd_per_s, bus=bus)
    eq = rep.clearing
    rows = _rows(ts, rep)
    print(
        format_table(
            [
                {
                    **r,
                    "misreport_x0.5_gain": r["misreport"][0]["gain_usd_per_s"],
                    "misreport_x2_gain": r["misreport"][1]["gain_usd_per_s"],
                }
                for r in rows
            ],
            [
                "name",
                "rate_rps",
                "share",
                "surplus_usd_per_s",
                "flat_surplus_usd_per_s",
                "misreport_x0.5_gain",
                "misreport_x2_gain",
            ],
            title=f"multi-tenant market, {args.trace}, K={len(ts)} (V synthetic; USD per second)",
            digits=4,
        )
    )
    print(
        f"clearing price ${eq.price_usd_per_gpu_s:.4g}/GPU-s after {eq.iterations} iterations "
        f"(excess demand {eq.excess_demand_frac:+.2e} of capacity; dual price "
        f"${rep.optimum.dual_price_usd_per_gpu_s:.4g}); efficiency {rep.efficiency:.6f}; "
        f"flat at cost ${rep.cost_usd_per_gpu_s:.3g}/GPU-s: efficiency {rep.flat_efficiency:.4f} "
        f"(serves {rep.flat.served_frac:.1%} of demand)"
    )
    paying = [
        f"{r['name']} ×{m['factor']:g} (share {r['share']:.1%})"
        for r in rows
        for m in r["misreport"]
        if m["pays"]
    ]
    print(
        "misreporting V pays for: "
        + (", ".join(paying) if paying else "no tenant (each is a price-taker here)")
    )
    for s in SYNTHETIC:
        print("synthetic:", s)
    for n in notes:
        print("note:", n)
    return {
        "iterations": eq.iterations,
        "excess_demand": eq.excess_demand_frac,
        "cleared": eq.cleared,
        "efficiency": rep.efficiency,
        "flat_efficiency": rep.flat_efficiency,
        "price_usd_per_gpu_s": eq.price_usd_per_gpu_s,
        "dual_price_usd_per_gpu_s": rep.optimum.dual_price_usd_per_gpu_s,
        "optimum_welfare_usd_per_s": rep.optimum.best_welfare_usd_per_s,
        "welfare_usd_per_s": eq.welfare_usd_per_s,
        "flat_welfare_usd_per_s": rep.flat.welfare_usd_per_s,
        "flat_served_frac": rep.flat.served_frac,
        "capacity_gpu_s_per_s": capacity,
        "capacity_frac": args.capacity_frac,
        "cost_usd_per_gpu_s": rep.cost_usd_per_gpu_s,
        "trace": args.trace,
        "seed": args.seed,
        "tenants": rows,
        "price_path": [
            {
                "step": int(q.time_s),
                "usd_per_gpu_s": q.prices.resource_usd(GPU_SECOND),
                "excess_demand": eq.excess_path_frac[i],
            }
            for i, q in enumerate(bus.history(MARKET_TOPIC))
        ],
        "synthetic": SYNTHETIC,
        "notes": notes,
    }
