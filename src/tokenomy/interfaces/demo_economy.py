"""Demo section: the layers composed on one price bus — local optimisers vs shared prices, on real data.

Runs ``economy run`` small: 200 Azure conversation arrivals (100 with ``--quick``; 3% agent tasks) paired with
RouterBench test prompts and held-out mini-swe-agent runs, at loads 1 and 8, under ``local`` and
``shared``; prints welfare per request with bootstrap CIs and the paired shared − local difference,
and writes the HTML report (with one request traced through a ledger). The cluster is sized on the
train slice to offered utilisation 0.6 at load 1 (``economy.sizing``). V and the SLA λ are
synthetic (labelled). Skipped without the data folder. About ten seconds on one core.
"""

from __future__ import annotations

from typing import Any

from tokenomy.audit.report_economy import build_report
from tokenomy.economy.configs import parse_configs
from tokenomy.economy.experiment import prepare, run_experiment
from tokenomy.economy.ledger_io import write_ledger
from tokenomy.economy.report_view import economy_page
from tokenomy.interfaces.cmd_demo import DemoContext
from tokenomy.interfaces.cmd_economy import experiment_json, load_inputs
from tokenomy.interfaces.outputs import remove_stale

__all__ = ["TITLE", "section"]

TITLE = "economy: local optimisers vs one shared price vector"

LOADS = (1.0, 8.0)


def section(ctx: DemoContext) -> dict[str, Any]:
    """Run the small experiment, print its table and write ``economy.html`` and ``economy.duckdb``."""
    if ctx.data_dir is None:
        ctx.echo("skipped: needs the real data (RouterBench, Azure trace, mini-swe-agent runs)")
        return {"skipped": "no data folder"}
    n = 100 if ctx.quick else 200
    trace, routing, trajs = load_inputs(str(ctx.data_dir), "azure-conv", n, 0)
    prep = prepare(trace, routing, trajs, n_requests=n, seed=0, agent_share=0.03)
    exp = run_experiment(prep, parse_configs("local,shared"), LOADS, seed=0)
    for r in exp.results:
        ctx.echo(
            f"  {r.config:<7} load {r.load:g}: welfare ${r.welfare_per_request:.4f}/req "
            f"[{r.ci_low:.4f}, {r.ci_high:.4f}], cost ${r.cost_per_request_usd:.4f}/req, served {r.served_share:.2f}"
        )
    for d in exp.diffs:
        verdict = "CI above 0" if d.above_zero else ("CI below 0" if d.ci_high < 0 else "tie")
        ctx.echo(
            f"  load {d.load:g}: shared − local = {d.diff:+.4f} [{d.ci_low:+.4f}, {d.ci_high:+.4f}] ({verdict})"
        )
    ctx.echo(f"  {exp.synthetic[0]}")
    ctx.echo(f"  {exp.synthetic[-1]}")
    ledger = ctx.out_dir / "economy.duckdb"
    remove_stale(ledger)
    write_ledger(ledger, exp)
    html = build_report(economy_page(exp, str(ledger))).write(ctx.out_dir / "economy.html")
    ctx.echo(f"  wrote {html} and {ledger}")
    return experiment_json(exp) | {"report": str(html), "ledger": str(ledger)}
