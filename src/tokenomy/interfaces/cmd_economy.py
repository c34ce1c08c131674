"""``tokenomy economy``: the four layers composed on one price bus (the central claim), and markets.

``economy run [--data DIR] [--trace azure-conv|mooncake] [--load 1,2,4] [--configs local,shared,...]
[--requests N] [--seed S] [--agent-share X] [--utilisation U] [--backend auto|serial|ray] [--json PATH]
[--report HTML] [--ledger PATH]`` replays the first N arrivals
of a real trace through router → served cluster → agent controller under each configuration
(``economy.configs``) and prints welfare per request with bootstrap CIs and the paired shared − local
difference per load. Settings are learned on TRAIN only (the next N arrivals, RouterBench train
prompts, half the mini-swe-agent runs); the cluster is sized on train to offered utilisation U (0.6) at
load 1 (``economy.sizing``). V and the SLA λ are synthetic (labelled in every output).
Output paths are checked, and a ledger already holding one of these runs refused, before the data
loads; nothing is written unless the whole run succeeds, and the ledger is written last, in one step. ``economy equilibrium`` clears a multi-tenant market.
"""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path
from typing import Any

from tqdm import tqdm

from tokenomy.core.errors import ValidationError
from tokenomy.economy.configs import CONFIGS, parse_configs
from tokenomy.economy.experiment import DEFAULT_AGENT_SHARE, Experiment, prepare, run_experiment
from tokenomy.economy.sizing import TARGET_UTILISATION
from tokenomy.economy.training import SERVING_GRID
from tokenomy.interfaces.args import floats, int_in, items
from tokenomy.interfaces.cmd_economy_equilibrium import register_equilibrium
from tokenomy.interfaces.loaders.agent_data import load_miniswe
from tokenomy.interfaces.loaders.routing import load_routerbench
from tokenomy.interfaces.loaders.traces import load_trace, resolve_trace
from tokenomy.interfaces.outputs import (
    atomic_write,
    check_output_path,
    ledger_step,
    refuse_recorded,
    write_results_json,
)
from tokenomy.interfaces.paths import resolve_data_dir
from tokenomy.interfaces.sweep import BACKENDS, parallel_map, resolve_backend
from tokenomy.interfaces.table import format_table
from tokenomy.ledger import Ledger

__all__ = ["DEFAULT_REQUESTS", "check_inputs", "experiment_json", "load_inputs", "register", "run_economy"]

DEFAULT_REQUESTS = 500
TRACES = ("azure-conv", "mooncake")


_ECONOMY_TEXT = """\
Run all layers together on one set of prices, and clear multi-tenant markets.

Sub-commands:
  run          replay real arrivals with each layer optimising on its own prices versus
               one shared price vector; prints welfare per request with confidence intervals
  equilibrium  clear a multi-tenant serving market and compare it with the social
               optimum and one flat price

V and the latency price are synthetic and labelled so in every output.

Example:
  tokenomy economy run --data ../shared/data --load 1,2 --report economy.html
"""


def register(sub: Any) -> None:
    p = sub.add_parser(
        "economy",
        help="the layers composed on one price bus (local vs shared prices); multi-tenant markets",
        description=_ECONOMY_TEXT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    es = p.add_subparsers(dest="economy_command", metavar="SUBCOMMAND", required=True)
    r = es.add_parser("run", help="local optimisers vs one shared price vector, on real data")
    r.add_argument(
        "--data", metavar="DIR", help="real data folder (default: $TOKENOMY_DATA or ../shared/data)"
    )
    r.add_argument("--trace", default="azure-conv", help=f"arrivals and lengths: {' or '.join(TRACES)}")
    r.add_argument("--load", default="1,2,4", help="comma list of load factors (inter-arrival times ÷ x)")
    r.add_argument("--configs", default="local,shared", help=f"comma list or 'all' ({', '.join(CONFIGS)})")
    r.add_argument(
        "--requests",
        type=int,
        default=DEFAULT_REQUESTS,
        help="test requests N ≥ 10 (first N arrivals)",
    )
    r.add_argument("--seed", type=int_in(0), default=0, help="seed of the pairing, synthetic V and bootstrap")
    r.add_argument(
        "--agent-share",
        type=float,
        default=DEFAULT_AGENT_SHARE,
        help="share of arrivals that are agent tasks",
    )
    r.add_argument(
        "--utilisation",
        type=float,
        default=TARGET_UTILISATION,
        help="size the cluster on TRAIN to this offered utilisation at load 1 (default 0.6)",
    )
    r.add_argument(
        "--backend",
        choices=BACKENDS,
        default="serial",
        help="run the grid here (serial, default), as Ray tasks (ray; the ray extra), or on Ray when installed (auto)",
    )
    r.add_argument("--report", metavar="HTML", help="write the HTML report here")
    r.add_argument(
        "--ledger", metavar="PATH", help="write every decision and outcome to this ledger (DuckDB)"
    )
    r.set_defaults(func=run_economy)
    register_equilibrium(es)


def check_inputs(trace: str, n_requests: int) -> None:
    """Refuse an unknown trace name or N < 10 (before any file is read).

    Raises:
        ValidationError: naming ``--trace`` or ``--requests`` and the expected form.
    """
    if trace not in TRACES:
        raise ValidationError(f"--trace must be one of {', '.join(TRACES)}; got {trace!r}")
    if n_requests < 10:
        raise ValidationError(f"--requests must be an integer ≥ 10; got {n_requests!r}")


def load_inputs(data_arg: str | None, trace: str, n_requests: int, seed: int) -> tuple[Any, Any, Any]:
    """The trace (2·N arrivals), RouterBench and the mini-swe-agent runs from the data folder.

    Raises:
        ValidationError: no data folder, an unknown trace name, or N < 10.
    """
    check_inputs(trace, n_requests)
    data = resolve_data_dir(data_arg)
    if data is None:
        where = data_arg or os.environ.get("TOKENOMY_DATA") or "../shared/data"
        raise ValidationError(
            f"--data: no data folder at {where!r}; expected a folder holding routing/, serving/ and agent/"
        )
    wl = load_trace(resolve_trace(trace, data), seed=seed, limit=2 * n_requests).workload
    return wl, load_routerbench(data / "routing" / "routerbench_slice"), load_miniswe(data / "agent")


def experiment_json(exp: Experiment) -> dict[str, Any]:
    """The JSON payload of an experiment (the one serialisation of its dataclasses)."""
    return {
        "results": [
            {
                "config": r.config,
                "load": r.load,
                "welfare_per_request": r.welfare_per_request,
                "ci_low": r.ci_low,
                "ci_high": r.ci_high,
                "cost_per_request_usd": r.cost_per_request_usd,
                "latency_p99_s": r.latency_p99_s,
                "served_share": r.served_share,
                "hosted_share": r.hosted_share,
                "agent_success": r.agent_success,
                "wall_s": r.wall_s,
            }
            for r in exp.results
        ],
        "diff": [
            {
                "load": d.load,
                "shared_minus_local": d.diff,
                "ci_low": d.ci_low,
                "ci_high": d.ci_high,
                "above_zero": d.above_zero,
            }
            for d in exp.diffs
        ],
        "ablations": [
            {
                "load": d.load,
                "config": d.config,
                "minus_shared": d.diff,
                "ci_low": d.ci_low,
                "ci_high": d.ci_high,
            }
            for d in exp.ablations
        ],
        "against_local": [
            {
                "load": d.load,
                "config": d.config,
                "minus_local": d.diff,
                "ci_low": d.ci_low,
                "ci_high": d.ci_high,
            }
            for d in exp.against_local
        ],
        "local_serving": [
            {
                "load": load,
                "scheduler": c.scheduler,
                "max_wait_s": c.max_wait_s,
                "train_welfare": c.welfare_usd,
            }
            for load, c in exp.serving
        ],
        "settings": dict(exp.settings),
        "synthetic": list(exp.synthetic),
    }


def _refuse_recorded_runs(path: str, configs: list[str], loads: list[float]) -> None:
    """Refuse, before the work, a ledger that already holds one of these (configuration, load) runs."""
    if not Path(path).is_file():
        return
    with Ledger(path, read_only=True) as ledger:
        for config in configs:
            for load in loads:
                for kind in ("chat", "agent"):
                    refuse_recorded(ledger, f"{config}/x{load:g}/{kind}/0", f"economy run {config} x{load:g}")


def _write_runs(ledger: Ledger, exp: Experiment) -> int:
    """Every run of ``exp`` into ``ledger`` (refused, nothing appended, if one is recorded already)."""
    from tokenomy.economy.ledger_io import request_ids, write_run

    for (config, load), out in exp.outcomes.items():
        ids = request_ids(config, load, out)
        if ids:
            refuse_recorded(ledger, ids[0], f"economy run {config} x{load:g}")
    return sum(write_run(ledger, c, load, out, exp.models) for (c, load), out in exp.outcomes.items())


def run_economy(args: argparse.Namespace) -> dict[str, Any]:
    """Parse, run, print; write the report and the ledger only once everything succeeded."""
    if args.configs.strip() != "all":
        items(args.configs, "--configs")  # an empty or repeated entry is refused, not dropped
    configs = parse_configs(args.configs)
    loads = floats(args.load, "--load (a comma list of load factors, e.g. 1,2,4)", lo=0.01, hi=100.0)
    if not 0.0 <= args.agent_share < 1.0:
        raise ValidationError(f"--agent-share must be in [0, 1); got {args.agent_share!r}")
    if not 0.0 < args.utilisation <= 10.0:
        raise ValidationError(f"--utilisation must be in (0, 10]; got {args.utilisation!r}")
    check_inputs(args.trace, args.requests)
    check_output_path(args.report, "--report")
    check_output_path(args.ledger, "--ledger")
    if args.ledger:
        _refuse_recorded_runs(args.ledger, [c.name for c in configs], loads)
    backend = resolve_backend(args.backend)
    trace, routing, trajs = load_inputs(args.data, args.trace, args.requests, args.seed)
    prep = prepare(
        trace,
        routing,
        trajs,
        n_requests=args.requests,
        seed=args.seed,
        agent_share=args.agent_share,
        utilisation=args.utilisation,
    )
    steps = len(loads) * (len(configs) + len(SERVING_GRID) * int(any(c.serving == "local" for c in configs)))
    with tqdm(total=steps, unit="run", desc=f"economy ({backend})") as bar:

        def tick(label: str) -> None:
            bar.set_postfix_str(label)
            bar.update(1)

        def on_ray(fn: Any, items: list[Any]) -> list[Any]:
            return parallel_map(fn, items, backend="ray", progress=lambda _d, _n: bar.update(1))

        mapper = on_ray if backend == "ray" else None
        exp = run_experiment(prep, configs, loads, seed=args.seed, progress=tick, map_fn=mapper)
    payload = experiment_json(exp)
    rows = [
        {
            "config": r.config,
            "load": r.load,
            "welfare $/req": r.welfare_per_request,
            "95% CI": f"[{r.ci_low:.4f}, {r.ci_high:.4f}]",
            "cost $/req": r.cost_per_request_usd,
            "p99 latency s": r.latency_p99_s if math.isfinite(r.latency_p99_s) else "—",
            "served": r.served_share,
        }
        for r in exp.results
    ]
    print(format_table(rows))
    if any(not math.isfinite(r.latency_p99_s) for r in exp.results):
        print(
            "note: p99 latency '—': no chat request was served in that run (the column is over chat requests)"
        )
    for d in exp.diffs:
        verdict = "above 0" if d.above_zero else ("below 0" if d.ci_high < 0 else "a tie (CI spans 0)")
        print(
            f"load {d.load:g}: shared − local = {d.diff:+.4f} $/req [{d.ci_low:+.4f}, {d.ci_high:+.4f}] — {verdict}"
        )
    for note in exp.synthetic:
        print(note)
    if args.report:
        from tokenomy.audit.report_economy import build_report
        from tokenomy.economy.report_view import economy_page

        atomic_write(args.report, build_report(economy_page(exp, args.ledger)).write)
        print(f"wrote {args.report}")
    write_results_json(args, payload)
    if args.ledger:  # last, in one step: a failure above leaves no ledger, one here leaves it as it was
        n = ledger_step(args.ledger, lambda ledger: _write_runs(ledger, exp))
        print(f"wrote {n} decisions to {args.ledger}")
    return payload
