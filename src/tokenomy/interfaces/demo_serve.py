"""Demo section: one serving trace under flat (FCFS) and congestion-priced scheduling.

Replays the Azure 2023 code trace at 4× its rate (bursty, the queue builds) through the simulated
vLLM engine (BLIS llama-3.1-8b / H100 step times) under ``fcfs`` and ``priced``, prints latency,
rejections and welfare side by side, reads the published shadow prices at the busiest moment, and
writes an HTML report (latency CDFs, price paths, queue length). Without the data folder it runs
on a generated two-tenant mix instead (arrivals and lengths synthetic, and labelled so). V, λ and
the GPU price are synthetic in both cases. A few seconds on one core.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tokenomy.audit.report_serve import build_report, run_trace
from tokenomy.core.errors import ValidationError
from tokenomy.interfaces.cmd_demo import DemoContext
from tokenomy.interfaces.loaders.traces import load_trace, resolve_trace
from tokenomy.interfaces.table import format_table
from tokenomy.serving.entities import Workload
from tokenomy.serving.experiments import run_grid
from tokenomy.serving.prices import PriceFeed
from tokenomy.serving.result import RunResult
from tokenomy.serving.workloads import SYNTHETIC_NOTE, TenantSpec, tenant_mix

__all__ = ["TITLE", "section"]

TITLE = "serve: one trace under flat and congestion pricing"

RATE_SCALE = 4.0
COLUMNS = [
    "scheduler",
    "completed",
    "rejected",
    "ttft_p50_s",
    "ttft_p99_s",
    "e2e_p99_s",
    "goodput_rps",
    "welfare",
    "sim_requests_per_wall_s",
]


def _workload(ctx: DemoContext) -> tuple[Workload, str]:
    if ctx.data_dir is not None:
        try:
            path = resolve_trace("azure-code", ctx.data_dir)
        except ValidationError:
            path = None
        if path is not None:
            limit = 3000 if ctx.quick else None
            return load_trace(path, name="azure-code", limit=limit).workload, "real arrivals and lengths"
    mix = tenant_mix(
        [
            TenantSpec("chat", 4.0, cv=2.0, prompt_median=1000.0, output_median=200.0),
            TenantSpec("code", 2.0, cv=3.0, prompt_median=2000.0, output_median=30.0),
        ],
        duration_s=300.0 if ctx.quick else 900.0,
        seed=0,
    )
    return mix, "synthetic arrivals and lengths (no data folder)"


def section(ctx: DemoContext) -> dict[str, Any]:
    wl, origin = _workload(ctx)
    traces, feeds = [], {}

    def on_run(r: RunResult, m: dict[str, Any]) -> None:
        traces.append(run_trace(r, wl.name, RATE_SCALE))
        feeds[m["scheduler"]] = PriceFeed(r.prices)

    rows = run_grid([wl], ("fcfs", "priced"), [RATE_SCALE], on_run=on_run)
    ctx.echo(
        format_table(
            rows,
            COLUMNS,
            title=f"{wl.name} ({len(wl):,} requests, {origin}) at ×{RATE_SCALE:g} its rate",
            digits=3,
        )
    )
    fcfs, priced = rows
    gain = priced["welfare"] - fcfs["welfare"]
    ctx.echo(
        f"congestion pricing: welfare {fcfs['welfare']:.2f} → {priced['welfare']:.2f} USD "
        f"({gain:+.2f}); p99 TTFT {fcfs['ttft_p99_s']:.2f} → {priced['ttft_p99_s']:.2f} s; "
        f"{priced['rejected']:,} requests declined because serving them was worth less than the delay "
        "they cost"
    )
    cols = feeds["fcfs"].columns()
    busiest = float(cols["time_s"][int(np.argmax(cols["queue_len"]))]) if len(feeds["fcfs"]) else 0.0
    sp = {n: f.at(busiest) for n, f in feeds.items()}
    ctx.echo(
        f"shadow prices at t = {busiest:.0f} s (longest FCFS queue): prefill token "
        + ", ".join(f"{n} {s.prefill_usd_per_token:.3g}" for n, s in sp.items())
        + " USD; decode token "
        + ", ".join(f"{n} {s.decode_usd_per_token:.3g}" for n, s in sp.items())
        + " USD; KV block-second "
        + ", ".join(f"{n} {s.kv_usd_per_block_s:.3g}" for n, s in sp.items())
        + " USD"
    )
    ctx.echo("note: " + SYNTHETIC_NOTE)
    path = ctx.out_dir / "serve.html"
    build_report(rows, traces, subtitle=f"demo: {wl.name} ×{RATE_SCALE:g}, fcfs vs priced").write(path)
    ctx.echo(f"wrote {path}")
    return {
        "trace": wl.name,
        "origin": origin,
        "rate_scale": RATE_SCALE,
        "runs": [{k: m[k] for k in ("scheduler", *COLUMNS[1:], "trace")} for m in rows],
        "welfare_gain_usd": gain,
        "shadow_prices_at_s": busiest,
        "shadow_prices": {
            n: {
                "prefill_usd_per_token": s.prefill_usd_per_token,
                "decode_usd_per_token": s.decode_usd_per_token,
                "kv_usd_per_block_s": s.kv_usd_per_block_s,
            }
            for n, s in sp.items()
        },
        "report": str(path),
        "synthetic": SYNTHETIC_NOTE,
    }
