"""Demo section: the Eq. 4 router on the RouterBench slice (when the data folder is present).

Fits the router on the slice's train split, routes one test prompt and prints its candidate table
(dq, ĉ, SYNTHETIC l̂ and r̂, surplus), evaluates every policy on the test split at a few V, runs the
prediction-2 long-tail experiment, and writes the HTML report and a ledger of the decisions under
the demo's output folder. Without the data it says so and is skipped.
"""

from __future__ import annotations

from typing import Any

from tokenomy.core import PriceSource, PriceVector
from tokenomy.interfaces.cmd_demo import DemoContext
from tokenomy.interfaces.cmd_route import fit_and_evaluate
from tokenomy.interfaces.loaders.routing import load_routerbench
from tokenomy.interfaces.outputs import remove_stale
from tokenomy.interfaces.table import format_table
from tokenomy.ledger import Ledger
from tokenomy.routing.decision import RouteRequest
from tokenomy.routing.evaluation import anchor_rows
from tokenomy.routing.ledger_io import write_routes

__all__ = ["TITLE", "section"]

TITLE = "route: Eq. 4 on RouterBench (demand layer)"


def section(ctx: DemoContext) -> dict[str, Any]:
    folder = ctx.data_dir / "routing" / "routerbench_slice" if ctx.data_dir else None
    if folder is None or not folder.is_dir():
        ctx.echo("skipped: needs routing/routerbench_slice in the data folder")
        return {"skipped": "no routing/routerbench_slice in the data folder"}
    ds = load_routerbench(folder)
    v_grid = "0.001,0.01,0.1" if ctx.quick else "0.001,0.003,0.01,0.03,0.1,1"
    from tokenomy.interfaces.cli import build_parser  # in here: cli loads the commands, and demo loads this

    # route eval's own parser, so every option the demo does not set keeps route eval's default
    args = build_parser().parse_args(
        ["route", "eval", f"--V={v_grid}", f"--boot={200 if ctx.quick else 500}"]
    )
    out = fit_and_evaluate(args, ds)
    router, test = out.pop("_router"), out.pop("_test")
    out.pop("_prices")
    prices = PriceVector(
        v_usd=0.01, lam_usd_per_s=0.0005, rho_usd=0.001, v_source=PriceSource.USER, lam_source=PriceSource.SLA
    )
    d = router.route(
        RouteRequest(test.prompts[0], test.categories[0], request_id=str(test.prompt_ids[0])), prices
    )
    ctx.echo(
        format_table(
            [
                {
                    "model": c.model,
                    "dq": c.dq,
                    "dc_usd": c.dc_usd,
                    "dl_s": c.dl_s,
                    "dr": c.dr,
                    "surplus_usd": c.surplus_usd,
                }
                for c in d.candidates
            ],
            title=f"one test prompt ({test.categories[0]}) at V = $0.01, λ = $0.0005/s, ρ = $0.001 "
            "(dl_s and dr SYNTHETIC)",
            digits=5,
        )
    )
    ctx.echo(f"chosen: {d.chosen_model} ({d.mode})")
    rows = [
        r
        for r in out["results"]
        if r["policy"] in ("tokenomy", "best-fixed", "predictive", "threshold", "cascade", "oracle")
    ]
    ctx.echo(
        format_table(
            rows,
            [
                "V",
                "policy",
                "welfare_per_query",
                "accuracy",
                "cost_per_query_usd",
                "regret_mean",
                "gap_recovered",
            ],
            title="\nRouterBench test split: welfare per query (USD) and the best-fixed → oracle gap recovered",
            digits=5,
        )
    )
    if out["repairs"]:
        ctx.echo(
            "repairs while loading (counted): " + ", ".join(f"{k} {v}" for k, v in out["repairs"].items())
        )
    a = out["anchors"]
    ctx.echo(
        f"anchors on {a['pair']['strong']} / {a['pair']['weak']}: "
        + "; ".join(
            r["policy"] + " " + ", ".join(f"{c} {x:.3f}" for c, x in r.items() if c != "policy")
            for r in anchor_rows(a)
        )
        + "; AIQ "
        + ", ".join(f"{k} {v:.3f}" for k, v in a["aiq"].items())
    )
    lt = out["longtail"]
    ctx.echo(
        "prediction 2 (Pareto V per request): mean regret per unit V in the top V decile — "
        + ", ".join(f"{k} {v:.3f}" for k, v in lt["top_decile_regret_per_v"].items())
        + f"; the top decile holds {lt['top_decile_share_of_excess_regret']:.0%} of cost-min's excess regret"
    )
    report = ctx.out_dir / "route.html"
    from tokenomy.audit.report_route import build_report

    build_report(out, subtitle=f"demo: RouterBench slice at {folder}").write(report)
    ledger_path = ctx.out_dir / "route_ledger.duckdb"
    remove_stale(ledger_path, ledger_path.with_name(ledger_path.name + ".wal"))
    with Ledger(ledger_path) as ledger:
        n = write_routes(ledger, router, test, [0.01], PriceVector())
        regret = ledger.summary()["totals"]["regret_mean_usd"]
    ctx.echo(f"wrote {report} and {n} decisions to {ledger_path} (mean regret ${regret:.5f} at V = $0.01)")
    return {
        "report": str(report),
        "ledger": str(ledger_path),
        "results": out["results"],
        "anchors": out["anchors"],
        "longtail": lt,
        "example": {"chosen": d.chosen_model, "mode": d.mode},
        "repairs": out["repairs"],
        "labels": out["labels"],
        "synthetic": out["synthetic"],
    }
