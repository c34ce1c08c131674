"""Per-request speculation: where the Eq. 1 verdict switches drafting off, and what it is worth.

Each request decides at decode entry whether to speculate (``EngineConfig.spec_rule="request"``,
``serving.speculation``): its acceptance α_i falls with its context (halving every
``--halving`` tokens; an assumption, not measured here) and the verdict weighs its own latency gain
against the GPU cost and the delay its longer steps impose on everyone in the system. The baselines
use the same accounting with the verdict fixed: ``always`` and ``never``. The ``request`` rule
chooses the group of decoding requests that speculates at each decode entry (the draft model's
fixed step cost is shared, paid only when the group's gains cover it).

Prints, per trace × rate scale: welfare (USD, synthetic V and λ), TPOT mean, TTFT p50 and E2E p50 of
each rule, mean over ``--seeds`` draws of the synthetic V, λ and length predictions with a 95%
t-interval; the paired welfare differences request − always and request − never with their
intervals (an interval that holds 0 is reported as a tie); and the share of requests that
speculated (any verdict "on") by prompt length (where it switches off).

Setup: BLIS llama-3.1-8b/H100 step model (no attention term, so a long context costs through α),
draft length 4, α = 0.8 at empty context (assumed), a draft step 0.1 of a target step; the Azure 2023
conversation trace (short prompts) and the Mooncake trace (long prompts), first ``--limit``
requests, at ×1 and ×4 their rate. No timing here.

Run: ``.venv/bin/python benchmarks/bench_serve_spec.py --data ../shared/data --json out.json``
(``--quick``: 2,000 requests, 3 seeds).
"""

from __future__ import annotations

import math
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
import numpy as np

from _common import parser
from tokenomy.interfaces.loaders.traces import load_trace, resolve_trace
from tokenomy.interfaces.outputs import write_json
from tokenomy.interfaces.table import format_table
from tokenomy.serving.engine import Engine
from tokenomy.serving.entities import EngineConfig
from tokenomy.serving.metrics import summarize
from tokenomy.serving.schedulers import make_scheduler
from tokenomy.serving.workloads import SYNTHETIC_NOTE, rate_scaled

RULES = ("never", "always", "request")
BUCKETS = ((0, 1024), (1024, 4096), (4096, 16384), (16384, 10**9))
# two-sided 95% t quantiles by degrees of freedom
T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}


def ci(xs: list[float]) -> tuple[float, float, float]:
    """Mean and 95% t-interval."""
    m = statistics.fmean(xs)
    if len(xs) < 2:
        return m, math.nan, math.nan
    h = T975.get(len(xs) - 1, 1.96) * statistics.stdev(xs) / math.sqrt(len(xs))
    return m, m - h, m + h


def main() -> int:
    p = parser(__doc__ or "")
    p.add_argument("--json", default=None, help="write the rows here")
    p.add_argument("--limit", type=int, default=10_000, help="first requests of each trace")
    p.add_argument("--seeds", default="0,1,2,3,4", help="synthetic draws, comma-separated")
    p.add_argument("--halving", type=float, default=8192.0, help="context tokens that halve α (assumed)")
    p.add_argument("--alpha", type=float, default=0.8, help="acceptance at empty context (assumed)")
    args = p.parse_args()
    data = Path(args.data)
    limit = 2000 if args.quick else args.limit
    seeds = [0, 1, 2] if args.quick else [int(s) for s in args.seeds.split(",")]
    rows: list[dict[str, Any]] = []
    diffs: list[dict[str, Any]] = []
    where: list[dict[str, Any]] = []
    for name in ("azure-conv", "mooncake"):
        for k in (1.0, 4.0):
            per: dict[str, dict[str, list[float]]] = {r: {} for r in RULES}
            on_by_bucket: list[list[float]] = [[] for _ in BUCKETS]
            for seed in seeds:
                wl = rate_scaled(
                    load_trace(resolve_trace(name, data), name=name, limit=limit, seed=seed).workload, k
                )
                for rule in RULES:
                    cfg = EngineConfig(
                        spec_k=4,
                        spec_alpha=args.alpha,
                        spec_rule=rule,
                        spec_alpha_halving_tokens=args.halving,
                    )
                    r = Engine(config=cfg).run(wl, make_scheduler("fcfs"))
                    m = summarize(r)
                    for key in ("welfare", "tpot_mean_s", "ttft_p50_s", "e2e_p50_s"):
                        per[rule].setdefault(key, []).append(float(m[key]))
                    # a request speculated if any of its verdicts (entry, or a group re-rating) was "on"
                    ever = np.zeros(len(wl), bool)
                    rows_ = r.spec_requests
                    ever[rows_[rows_[:, 2] == 1.0, 1].astype(np.int64)] = True
                    per[rule].setdefault("on_share", []).append(float(ever.mean()))
                    if rule == "request":
                        for b, (lo, hi) in enumerate(BUCKETS):
                            sel = (wl.prompt_tokens >= lo) & (wl.prompt_tokens < hi)
                            if sel.any():
                                on_by_bucket[b].append(float(ever[sel].mean()))
            for rule in RULES:
                row: dict[str, Any] = {"trace": name, "rate_scale": k, "rule": rule}
                for key, vals in per[rule].items():
                    mean, lo, hi = ci(vals)
                    row[key] = mean
                    if key == "welfare":
                        row["welfare_ci_lo"], row["welfare_ci_hi"] = lo, hi
                rows.append(row)
            for other in ("always", "never"):
                d = [a - b for a, b in zip(per["request"]["welfare"], per[other]["welfare"], strict=True)]
                mean, lo, hi = ci(d)
                verdict = "request better" if lo > 0 else ("request worse" if hi < 0 else "tie")
                diffs.append(
                    {
                        "trace": name,
                        "rate_scale": k,
                        "vs": other,
                        "diff_usd": mean,
                        "ci_lo": lo,
                        "ci_hi": hi,
                        "verdict": verdict,
                    }
                )
            wrow: dict[str, Any] = {"trace": name, "rate_scale": k}
            for (lo_t, hi_t), vals in zip(BUCKETS, on_by_bucket, strict=True):
                label = f"prompt {lo_t}-{hi_t if hi_t < 10**9 else 'inf'}"
                wrow[label] = statistics.fmean(vals) if vals else math.nan
            where.append(wrow)
            print(
                f"  {name} ×{k:g}: "
                + "; ".join(
                    f"{d['vs']}: {d['diff_usd']:+.3f} [{d['ci_lo']:+.3f}, {d['ci_hi']:+.3f}] {d['verdict']}"
                    for d in diffs[-2:]
                ),
                flush=True,
            )
    print(f"\nWelfare and latency by rule (mean over seeds {seeds}; welfare with its 95% t-interval)")
    cols = [
        "trace",
        "rate_scale",
        "rule",
        "welfare",
        "welfare_ci_lo",
        "welfare_ci_hi",
        "tpot_mean_s",
        "ttft_p50_s",
        "e2e_p50_s",
        "on_share",
    ]
    print(format_table(rows, cols, digits=4))
    print("\nPaired welfare difference, request − baseline (USD, synthetic), 95% t-interval over seeds")
    print(format_table(diffs, list(diffs[0]), digits=4))
    print("\nShare of requests the Eq. 1 verdict lets speculate, by prompt length (where it switches off)")
    print(format_table(where, list(where[0]), digits=4))
    print(
        f"note: acceptance α = {args.alpha} at empty context halving every {args.halving:g} tokens, draft length 4: "
        "assumed, not measured; " + SYNTHETIC_NOTE
    )
    if args.quick:
        print("(--quick: 2,000 requests and 3 seeds, a smoke run, not the quoted figures)")
    if args.json:
        write_json(
            args.json, {"rows": rows, "diffs": diffs, "where": where, "seeds": seeds, "note": SYNTHETIC_NOTE}
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
