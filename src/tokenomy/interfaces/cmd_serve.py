"""``tokenomy serve``: replay serving traces under schedulers; the paper's prediction 3.

``serve simulate --trace NAME|PATH[,..] --scheduler a,b --rate-scale 1,2,4 [--report out.html]``
runs every (trace, rate, scheduler), prints a table and returns ``{"runs": [...], ...}`` (``--json``
is added by cli.py). Traces: ``azure-conv``, ``azure-code``, ``mooncake`` (under ``--data``) or a
file (Azure CSV, Mooncake JSONL, generic CSV/JSONL; see ``loaders.traces``). ``--backend ray`` (or
``auto`` with the ``ray`` extra installed) runs the grid's points as Ray tasks (``interfaces.sweep``);
the default ``serial`` runs them here, one after another. ``--ledger PATH`` writes
the supply layer's decisions: admissions (decision point ``admit``), speculation switches
(``speculate``), prefix-cache evictions (``evict``) and queue orderings (``order``), every
``--ledger-sample``-th of each (switches all), and one outcome per recorded admission (quality 1 if
the request completed, else 0; latency finish − arrival). Output paths are checked before the traces
load; the ledger rows are appended, then the report and JSON written whole, then the ledger committed,
in one step: a ledger already holding one of these runs is refused unchanged and no output is written. ``serve prediction3`` runs the long-context-tenant
experiment on a slice of the Azure conversation trace. The engine and trace options and what they
build (the engine, the workloads) live in ``cmd_serve_setup``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from tqdm import tqdm

from tokenomy.audit.report_serve import (
    P3_COLUMNS,
    RUN_COLUMNS,
    RunTrace,
    build_prediction3_report,
    build_report,
    headline,
    prediction3_headline,
    run_trace,
)
from tokenomy.core.errors import ValidationError
from tokenomy.interfaces.args import float_in, floats, int_in, items
from tokenomy.interfaces.cmd_serve_cache import (
    add_cache_arguments,
    cache_setup,
    row_decisions,
    run_reuse,
    undefined_note,
    undefined_shown,
)
from tokenomy.interfaces.cmd_serve_ledger import RunRows, outcome_count, row_counts, run_rows, write_runs
from tokenomy.interfaces.cmd_serve_setup import (
    _common,
    _engine,
    _load,
    check_eviction_acts,
    check_flags,
)
from tokenomy.interfaces.outputs import atomic_write, check_output_path, ledger_step, write_results_json
from tokenomy.interfaces.paths import resolve_data_dir
from tokenomy.interfaces.sweep import BACKENDS, parallel_map, resolve_backend
from tokenomy.interfaces.table import format_table
from tokenomy.ledger import Ledger
from tokenomy.serving.experiments import P3_UNDEFINED_WHY, LongTenant, prediction3, run_grid
from tokenomy.serving.metrics import UNDEFINED_WHY
from tokenomy.serving.recording import RecordSpec
from tokenomy.serving.result import RunResult
from tokenomy.serving.schedulers import SCHEDULERS, make_scheduler
from tokenomy.serving.workloads import SYNTHETIC_NOTE, rate_scaled

__all__ = ["register", "run_prediction3", "run_reuse_command", "run_simulate"]

T = TypeVar("T")
R = TypeVar("R")

MIN_RATE_SCALE, MAX_RATE_SCALE = 1e-6, 1e6
"""Bounds of a ``--rate-scale`` multiplier: beyond them arrival times lose their precision in float64."""
MAX_LONG_RPS = 100.0
"""Upper bound of a ``--long-rates`` entry (requests per second): the long tenant's requests are drawn up front."""


def _schedulers(text: str) -> list[str]:
    names = list(SCHEDULERS) if text == "all" else items(text, "--scheduler")
    for n in names:
        make_scheduler(n)  # raises with the valid names
    return names


_SERVE_TEXT = """\
Simulate LLM serving on real request traces under different schedulers.

Sub-commands:
  simulate     replay traces (azure-conv, azure-code, mooncake, servegen or your own
               file) under each scheduler and rate multiplier; prints latency, throughput
               and welfare
  prediction3  add one tenant that sends long contexts and measure the others'
               latency and welfare
  reuse        measure how fast cached prompt prefixes lose their reuse value
               (reuse hazard by depth and age, the depreciation rate)

Writes an HTML report (--report), JSON (--json) and, for simulate, a ledger (--ledger).

Example:
  tokenomy serve simulate --trace azure-conv --scheduler fcfs,priced --rate-scale 1,2
  tokenomy serve simulate --trace mooncake --eviction lru,lfu,value,belady --kv-blocks 32000,96000
"""


def register(sub: Any) -> None:
    p = sub.add_parser(
        "serve",
        help="simulate LLM serving under real traces; congestion prices",
        description=_SERVE_TEXT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ss = p.add_subparsers(dest="serve_command", metavar="SUBCOMMAND", required=True)
    s = ss.add_parser("simulate", help="replay traces under schedulers and rate scales")
    s.add_argument(
        "--trace",
        required=True,
        help="azure-conv, azure-code, mooncake, servegen[:CATEGORY] or a file (comma list)",
    )
    s.add_argument(
        "--scheduler", default="fcfs,priced", help=f"comma list or 'all' ({', '.join(SCHEDULERS)})"
    )
    s.add_argument(
        "--rate-scale", default="1", help="comma list of rate multipliers in [1e-6, 1e6], e.g. 1,2,4"
    )
    s.add_argument("--limit", type=int_in(1), default=None, help="first N requests of each trace")
    s.add_argument(
        "--ledger", metavar="PATH", help="append admission, speculation, eviction and order decisions here"
    )
    s.add_argument(
        "--ledger-sample",
        type=int_in(1),
        default=10,
        help="--ledger: keep every k-th decision (default 10)",
    )
    add_cache_arguments(s)
    s.add_argument(
        "--backend",
        choices=BACKENDS,
        default="serial",
        help="run the grid here one run at a time (serial, default), as Ray tasks (ray; the ray "
        "extra), or on Ray when it is installed (auto)",
    )
    _common(s)
    s.set_defaults(func=run_simulate)
    u = ss.add_parser("reuse", help="measure how fast cached prefix blocks lose their reuse value (Eq. 10)")
    u.add_argument(
        "--trace", required=True, help="mooncake, a file with hash_ids, or azure-* with --prefixes synthetic"
    )
    u.add_argument("--limit", type=int_in(1), default=None, help="first N requests of each trace")
    u.add_argument("--prefixes", choices=("real", "synthetic"), default="real", help="as for simulate")
    u.add_argument(
        "--data", metavar="DIR", help="real data folder (default: $TOKENOMY_DATA or ../shared/data)"
    )
    u.add_argument("--seed", type=int_in(0), default=0, help="seed of the synthetic V, λ and prefix chains")
    u.set_defaults(func=run_reuse_command)
    q = ss.add_parser("prediction3", help="one tenant sends long contexts: others' latency and welfare")
    q.add_argument("--trace", default="azure-conv", help="base traffic (default azure-conv)")
    q.add_argument(
        "--window-s", type=float_in(0.0, above=True), default=1200.0, help="seconds of the base trace to use"
    )
    q.add_argument("--base-rate-scale", type=float_in(MIN_RATE_SCALE, MAX_RATE_SCALE), default=2.0)
    q.add_argument("--long-rates", default="0.25,0.5,1,1.5", help="long tenant's requests per second")
    q.add_argument("--long-prompt-median", type=float_in(1.0), default=16000.0)
    q.add_argument("--scheduler", default="fcfs,priced,spf,vtc", help="first one is the flat reference")
    _common(q)
    q.set_defaults(func=run_prediction3)


def _advance(bar: Any, base: int) -> Callable[[int, int], None]:
    """A progress callback that moves ``bar`` to ``base + done``."""

    def update(done: int, _total: int) -> None:
        bar.update(base + done - bar.n)

    return update


def run_simulate(args: argparse.Namespace) -> dict[str, Any]:
    """Run the grid; print a table; write the report and ledger when asked."""
    check_flags(args, "simulate")
    check_output_path(args.report, "--report")
    check_output_path(args.ledger, "--ledger")
    data = resolve_data_dir(args.data)
    engine, source = _engine(args, data)
    wls, notes = _load(args, data, args.limit)
    names = _schedulers(args.scheduler)
    rates = floats(args.rate_scale, "--rate-scale", lo=MIN_RATE_SCALE, hi=MAX_RATE_SCALE)
    wls, cache = cache_setup(args, wls, notes)
    check_eviction_acts(args, wls, "simulate")
    grid = cache is not None
    traces: list[RunTrace] = []
    record = RecordSpec(sample_every=args.ledger_sample) if args.ledger else None
    pending: list[RunRows] = []
    total = sum(len(w) for w in wls) * len(rates) * len(names) * (cache.runs_per_point if cache else 1)
    axes: dict[str, Any] = cache.axes() if cache else {}

    def on_run(r: RunResult, m: dict[str, Any]) -> None:
        traces.append(run_trace(r, m["trace"], m["rate_scale"]))
        cache_rows = row_decisions(m, f"{r.workload.name}/{r.scheduler}")
        if args.ledger:
            rows = run_rows(r, args.ledger_sample)
            if cache_rows:
                rows.records["cache"] = cache_rows
            pending.append(rows)

    if resolve_backend(args.backend) == "ray":
        runs = len(wls) * len(rates) * len(names)
        with tqdm(total=runs, unit="run", desc="simulating on ray") as bar:

            def on_ray(fn: Callable[[T], R], items: Sequence[T], /) -> list[R]:
                return parallel_map(fn, items, backend="ray", progress=lambda done, _n: bar.update(1))

            rows = run_grid(
                wls, names, rates, engine=engine, on_run=on_run, record=record, map_fn=on_ray, **axes
            )
    else:
        with tqdm(total=total, unit="req", desc="simulating") as bar:
            rows = run_grid(
                wls,
                names,
                rates,
                engine=engine,
                on_run=on_run,
                progress=lambda: _advance(bar, bar.n),
                record=record,
                **axes,
            )
    columns = [
        "trace",
        "rate_scale",
        "scheduler",
        *(("eviction", "kv_blocks", "prefix_hit_rate") if grid else ()),
        "completed",
        "rejected",
        "rejected_too_large",
        "ttft_p50_s",
        "ttft_p99_s",
        "tpot_mean_s",
        "welfare",
        "sim_requests_per_wall_s",
    ]
    undefined: dict[str, list[str]] = {}
    print(
        format_table(
            undefined_shown(rows, columns, UNDEFINED_WHY, undefined),
            columns,
            title=(
                f"serving runs (step model: {source}; welfare is synthetic)\n"
                "rejected = by the scheduler (Eq. 1 null option); rejected_too_large = needs more KV "
                "blocks than the whole cache, never admitted"
            ),
            digits=4,
        )
    )
    if note := undefined_note(undefined):
        print("note:", note)
    for n in notes:
        print("note:", n)
    out: dict[str, Any] = {
        "runs": [{k: m[k] for k in (*RUN_COLUMNS, *m.keys()) if k in m} for m in rows],
        "headline": headline(rows),
        "step_model": source,
        "synthetic": SYNTHETIC_NOTE,
        "notes": notes,
        "ledger": args.ledger,
        "ledger_rows": {},  # decision point -> rows
    }
    if cache is not None:
        out["cache"] = cache.info
    out["ledger_rows"], out["ledger_outcomes"] = row_counts(pending), outcome_count(pending)

    def write_outputs() -> None:
        if args.report:
            atomic_write(args.report, build_report(rows, traces, subtitle=f"step model: {source}").write)
            print(f"wrote {args.report}")
            out["report"] = args.report
        write_results_json(args, out)

    if not args.ledger:
        write_outputs()
        return out

    def write(ledger: Ledger) -> dict[str, int]:
        written = write_runs(ledger, pending)
        write_outputs()  # after the appends succeeded, before the commit: a refused run writes none
        return written

    # one step: a refused or failed append leaves the ledger as it was and writes no report or JSON
    written = ledger_step(args.ledger, write)
    print(f"wrote {sum(written.values())} rows to {args.ledger}: {written}")
    return out


def run_reuse_command(args: argparse.Namespace) -> dict[str, Any]:
    """``serve reuse``: load the traces and print their measured depreciation (``cmd_serve_cache``)."""
    for name in items(args.trace, "--trace"):
        if name == "servegen" or name.startswith("servegen:"):
            raise ValidationError(
                f"serve reuse measures recorded traces (mooncake, azure-*, a file); {name!r} is generated "
                "traffic without prefix hashes: use serve simulate --trace servegen"
            )
    data = resolve_data_dir(args.data)
    wls, notes = _load(args, data, args.limit)
    out = run_reuse(args, wls, notes)
    write_results_json(args, out)
    return out


def run_prediction3(args: argparse.Namespace) -> dict[str, Any]:
    """The long-context-tenant experiment; prints a table and writes the report when asked."""
    check_flags(args, "prediction3")
    check_output_path(args.report, "--report")
    rates = [0.0, *floats(args.long_rates, "--long-rates", hi=MAX_LONG_RPS)]  # flags before any work
    names = _schedulers(args.scheduler)
    data = resolve_data_dir(args.data)
    engine, source = _engine(args, data)
    wls, notes = _load(args, data, None)
    check_eviction_acts(args, wls, "prediction3")
    wl = wls[0]
    base = wl.take((wl.arrival_s < args.window_s).nonzero()[0], name=f"{wl.name}[0:{args.window_s:g}s]")
    base = rate_scaled(base, args.base_rate_scale)
    tenant = LongTenant(prompt_median=args.long_prompt_median)
    with tqdm(total=len(rates) * len(names), unit="run", desc="prediction 3") as bar:
        rows = prediction3(
            base,
            long_rates_rps=rates,
            tenant=tenant,
            schedulers=names,
            engine=engine,
            seed=args.seed,
            on_row=lambda _row: bar.update(1),
        )
    columns = [c for c in P3_COLUMNS if c not in ("long_welfare", "long_completed", "long_requests")]
    undefined: dict[str, list[str]] = {}
    print(
        format_table(
            undefined_shown(rows, columns, P3_UNDEFINED_WHY, undefined),
            columns,
            title="prediction 3: other tenants vs long-context volume (long tenant and welfare synthetic)",
            digits=4,
        )
    )
    if note := undefined_note(undefined):
        print("note:", note)
    print("synthetic:", tenant.note())
    for n in notes:
        print("note:", n)
    out: dict[str, Any] = {
        "rows": rows,
        "headline": prediction3_headline(rows),
        "long_tenant": tenant.describe(),
        "base": base.name,
        "step_model": source,
        "synthetic": SYNTHETIC_NOTE,
        "notes": notes,
    }
    if args.report:
        page = build_prediction3_report(
            rows,
            long_tenant_note=tenant.note(),
            subtitle=f"prediction 3 on {base.name}; step model: {source}",
        )
        atomic_write(args.report, page.write)
        print(f"wrote {args.report}")
        out["report"] = args.report
    return out
