"""Disaggregated prefill/decode on real traces: the hand-off, back-pressure and recompute, against colocated.

For the Azure 2023 conversation trace and the Mooncake trace (first ``--limit`` requests) at ×1 and
×4 their rate, FCFS: one colocated GPU, and two pools of one GPU each (``DisaggregatedEngine``) with
the admission gate (``handoff_limit`` = the decode pool's 256 sequences) and without it (only the
held KV pushes back), with equal pools and with a decode pool of an eighth of the KV
(``--small-decode-kv-blocks``, 3,650), where the decode pool is the bottleneck and back-pressure
shows. Prints TTFT p50/p99, TPOT mean, E2E p50, completed, and from
``DisaggStats``: the hand-off wait p99 (decode admission − landing), the peak of prompts (and KV
blocks) the prefill pool held for the decode pool, the seconds its admission was gated, the decode
pool's recompute tokens, and the blocks left held at the end (must be 0: a leak fails the run).
Wall seconds per run are printed for information (provisional on a shared machine; no target).

Setup: BLIS llama-3.1-8b/H100, 29,205 KV blocks per pool (``--kv-blocks`` sets both pools'), KV of
llama-3.1-8b over a 50 GB/s link with 0.1 ms latency (assumed). Welfare is not compared: the two
set-ups use different numbers of GPUs.

Run: ``.venv/bin/python benchmarks/bench_serve_disagg.py --data ../shared/data --json out.json``
(``--quick``: 2,000 requests).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
import numpy as np

from _common import parser
from tokenomy.interfaces.loaders.traces import load_trace, resolve_trace
from tokenomy.interfaces.outputs import write_json
from tokenomy.interfaces.table import format_table
from tokenomy.serving.disagg import DisaggregatedEngine
from tokenomy.serving.engine import Engine
from tokenomy.serving.entities import EngineConfig
from tokenomy.serving.metrics import summarize
from tokenomy.serving.result import RunResult
from tokenomy.serving.schedulers import make_scheduler
from tokenomy.serving.workloads import rate_scaled


def _latency(r: RunResult) -> dict[str, float]:
    m = summarize(r)
    return {k: float(m[k]) for k in ("completed", "ttft_p50_s", "ttft_p99_s", "tpot_mean_s", "e2e_p50_s")}


def main() -> int:
    p = parser(__doc__ or "")
    p.add_argument("--json", default=None, help="write the rows here")
    p.add_argument("--limit", type=int, default=10_000, help="first requests of each trace")
    p.add_argument("--kv-blocks", type=int, default=29_205, help="KV blocks of each pool")
    p.add_argument(
        "--small-decode-kv-blocks", type=int, default=3_650, help="the decode pool of the decode-bound rows"
    )
    args = p.parse_args()
    data = Path(args.data)
    limit = 2000 if args.quick else args.limit
    cfg = EngineConfig(kv_blocks=args.kv_blocks)
    rows: list[dict[str, Any]] = []
    ok = True
    for name in ("azure-conv", "mooncake"):
        wl0 = load_trace(resolve_trace(name, data), name=name, limit=limit, seed=0).workload
        for k in (1.0, 4.0):
            wl = rate_scaled(wl0, k)
            t0 = time.perf_counter()
            colo = Engine(config=cfg).run(wl, make_scheduler("fcfs"))
            rows.append(
                {"trace": name, "rate_scale": k, "setup": "colocated (1 GPU)", **_latency(colo)}
                | {"wall_s": time.perf_counter() - t0}
            )
            for small, gate in ((False, True), (False, False), (True, True), (True, False)):
                dcfg = EngineConfig(kv_blocks=args.small_decode_kv_blocks) if small else cfg
                eng = DisaggregatedEngine(prefill_config=cfg, decode_config=dcfg, no_gate=not gate)
                t0 = time.perf_counter()
                r, st = eng.run_with_stats(wl, make_scheduler("fcfs"))
                wall = time.perf_counter() - t0
                leak = st.held_end + st.prefill_private_blocks_end + st.decode_blocks_end
                ok &= leak == 0
                wait = st.handoff_wait_s[np.isfinite(st.handoff_wait_s)]
                rows.append(
                    {
                        "trace": name,
                        "rate_scale": k,
                        "setup": f"disagg, decode KV {dcfg.kv_blocks}, {'gate' if gate else 'no gate'}",
                        **_latency(r),
                        "handoff_wait_p99_s": float(np.percentile(wait, 99)) if wait.size else 0.0,
                        "held_peak": st.held_peak_requests,
                        "held_peak_blocks": st.held_peak_blocks,
                        "gated_s": st.gated_s,
                        "recompute_tokens": st.recompute_tokens,
                        "leaked_blocks": leak,
                        "wall_s": wall,
                    }
                )
            print(f"  {name} ×{k:g} done", flush=True)
    cols = [
        "trace",
        "rate_scale",
        "setup",
        "completed",
        "ttft_p50_s",
        "ttft_p99_s",
        "tpot_mean_s",
        "e2e_p50_s",
        "handoff_wait_p99_s",
        "held_peak",
        "held_peak_blocks",
        "gated_s",
        "recompute_tokens",
        "leaked_blocks",
        "wall_s",
    ]
    print(format_table(rows, cols, digits=4))
    print("KV transfer: llama-3.1-8b, 131,072 B/token, 50 GB/s, 0.1 ms (assumed); wall_s provisional")
    if args.quick:
        print("(--quick: the first 2,000 requests, a smoke run, not the quoted figures)")
    print(f"no KV leaks: {'PASS' if ok else 'FAIL'}")
    if args.json:
        write_json(args.json, {"rows": rows, "no_leaks": ok})
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
