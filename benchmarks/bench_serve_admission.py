"""Fair baselines: ``priced`` against FCFS / priority / SPF / VTC that can also refuse work.

Each trace is split by arrival order: the first half trains, the second half tests (it replays from
an empty server). For every baseline order, the TTFT SLO of its admission rule
(``schedulers.admission``) is chosen on the training half alone (``tune_slo`` over ``SLO_GRID_S``,
highest welfare), then, with that SLO, its per-tenant rate limit (a multiple in ``RATE_GRID`` of each
tenant's request rate on the training half, the rates themselves from the training half too); the test half is then run once with every scheduler: the baselines without and
with their tuned admission, ``priced``, its ablations (``priced-order``: its order, no admission;
``priced-noext``: Eq. 1 on the request's own value, cost and latency; ``priced-noqueue``: plus the
charge on co-running requests; ``priced``: plus the queue term) and its oracle twin ``priced-true``.

Printed per (trace, rate scale): welfare on the test half (USD; V, λ and GPU price synthetic,
``workloads.SYNTHETIC_NOTE``), requests refused, TTFT p99, and priced − best admission baseline with
a 95% paired bootstrap interval over the test requests (their value − latency terms resampled; the
GPU cost is the runs' totals, held fixed). A difference whose interval spans 0 is a tie.

Run: ``.venv/bin/python benchmarks/bench_serve_admission.py`` (``--traces azure-conv,azure-code,mooncake
--scales 1,2,4 --json out.json``; ``--quick``: first 4,000 requests of azure-conv at ×1 and ×4).
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from _common import one_core, parser

CPUS = one_core()

import numpy as np  # noqa: E402

from tokenomy.interfaces.loaders.traces import load_trace, resolve_trace  # noqa: E402
from tokenomy.interfaces.outputs import write_json  # noqa: E402
from tokenomy.interfaces.table import format_table  # noqa: E402
from tokenomy.serving.engine import Engine  # noqa: E402
from tokenomy.serving.entities import Workload  # noqa: E402
from tokenomy.serving.metrics import summarize  # noqa: E402
from tokenomy.serving.result import COMPLETED, REJECTED, RunResult  # noqa: E402
from tokenomy.serving.schedulers import SCHEDULERS, make_scheduler  # noqa: E402
from tokenomy.serving.schedulers.admission import RATE_GRID, tune_slo  # noqa: E402
from tokenomy.serving.workloads import SYNTHETIC_NOTE, rate_scaled  # noqa: E402

BASES = ("fcfs", "priority", "spf", "vtc")
PRICED = ("priced-order", "priced-noext", "priced-noqueue", "priced", "priced-true")


def split(wl: Workload) -> tuple[Workload, Workload]:
    """First half (train) and second half (test) by arrival, the test half's clock starting at 0."""
    n = len(wl) // 2
    cols = (
        "arrival_s",
        "prompt_tokens",
        "output_tokens",
        "predicted_output_tokens",
        "v_usd",
        "lam_usd_per_s",
        "tenant",
    )
    head = {c: getattr(wl, c)[:n] for c in cols}
    tail = {c: getattr(wl, c)[n:] for c in cols}
    tail["arrival_s"] = tail["arrival_s"] - tail["arrival_s"][0]
    hs = wl.hash_ids
    train = replace(wl, name=f"{wl.name}/train", hash_ids=None if hs is None else hs[:n], **head)
    test = replace(wl, name=f"{wl.name}/test", hash_ids=None if hs is None else hs[n:], **tail)
    return train, test


def run(wl: Workload, name: str, slo: float | None = None, rates: list[float] | None = None) -> RunResult:
    if slo is None:
        return Engine().run(wl, make_scheduler(name))
    return Engine().run(wl, SCHEDULERS[name](slo_ttft_s=slo, tenant_rate_per_s=rates))  # type: ignore[call-arg]


def train_rates(wl: Workload, scale: float) -> list[float] | None:
    """``scale`` × each tenant's requests per second over ``wl`` (None: no limit)."""
    if scale == float("inf"):
        return None
    span = max(float(wl.arrival_s[-1] - wl.arrival_s[0]), 1e-9)
    counts = np.bincount(wl.tenant, minlength=len(wl.tenant_names))
    return [scale * max(int(c), 1) / span for c in counts]


def per_request(r: RunResult) -> np.ndarray[Any, Any]:
    """value − latency cost per request (USD): the part of welfare that is a sum over requests."""
    wl = r.workload
    ok = r.status == COMPLETED
    waited = ok | (r.status == REJECTED)
    lat = np.where(waited, np.nan_to_num(r.finish_s - wl.arrival_s), 0.0)
    return np.where(ok, wl.v_usd, 0.0) - wl.lam_usd_per_s * lat


def paired_ci(
    a: RunResult, b: RunResult, rng: np.random.Generator, draws: int = 1000
) -> tuple[float, float, float]:
    """welfare(a) − welfare(b) and its 95% bootstrap interval over requests (GPU cost fixed)."""
    d = per_request(a) - per_request(b)
    gpu = (a.busy_s - b.busy_s) * a.config.gpu_usd_per_s
    idx = rng.integers(0, d.size, size=(draws, d.size))
    sums = d[idx].sum(axis=1) - gpu
    return float(d.sum() - gpu), float(np.quantile(sums, 0.025)), float(np.quantile(sums, 0.975))


def main() -> int:
    p = parser(__doc__ or "")
    p.add_argument("--traces", default="azure-conv,azure-code,mooncake")
    p.add_argument("--scales", default="1,2,4")
    p.add_argument("--seed", type=int, default=0, help="seed of the synthetic V, λ and predictions")
    p.add_argument("--json", default=None, help="write the rows here")
    args = p.parse_args()
    data = Path(args.data)
    traces = ["azure-conv"] if args.quick else args.traces.split(",")
    scales = [1.0, 4.0] if args.quick else [float(x) for x in args.scales.split(",")]
    limit = 4000 if args.quick else None
    rng = np.random.default_rng(0)
    rows: list[dict[str, Any]] = []
    verdicts: list[dict[str, Any]] = []
    for name in traces:
        wl = load_trace(resolve_trace(name, data), name=name, limit=limit, seed=args.seed).workload
        for k in scales:
            train, test = split(rate_scaled(wl, k))
            tuned: dict[str, float] = {}
            limits: dict[str, float] = {}
            for base in BASES:
                slo, grid = tune_slo(
                    lambda s, b=base, w=train: float(summarize(run(w, f"{b}+slo", s))["welfare"])
                )
                tuned[base] = slo
                print(
                    f"{name} ×{k:g} {base}+slo: SLO {slo:g} s chosen on train ({', '.join(f'{s:g}:{w:.1f}' for s, w in grid.items())})",
                    flush=True,
                )
                limits[base], by_rate = tune_slo(
                    lambda m, b=base, w=train, s=slo: float(
                        summarize(run(w, f"{b}+slo", s, train_rates(w, m)))["welfare"]
                    ),
                    RATE_GRID,
                )
                print(
                    f"{name} ×{k:g} {base}+slo: rate limit {limits[base]:g} × training rate chosen on train "
                    f"({', '.join(f'{m:g}:{w:.1f}' for m, w in by_rate.items())})",
                    flush=True,
                )
            results: dict[str, RunResult] = {}
            for base in BASES:
                results[base] = run(test, base)
                results[f"{base}+slo"] = run(
                    test, f"{base}+slo", tuned[base], train_rates(train, limits[base])
                )
            for s in PRICED:
                results[s] = run(test, s)
            for s, r in results.items():
                m = summarize(r)
                rows.append(
                    {"trace": name, "rate_scale": k, "scheduler": s, "slo_s": tuned.get(s.removesuffix("+slo"), float("nan")) if s.endswith("+slo") else float("nan"), "rate_x": limits.get(s.removesuffix("+slo"), float("nan")) if s.endswith("+slo") else float("nan"),
                     "welfare_test": m["welfare"], "refused": int((r.status == REJECTED).sum()), "ttft_p99_s": m["ttft_p99_s"]}
                )  # fmt: skip
            adm = [f"{b}+slo" for b in BASES]
            best = max(adm, key=lambda s: float(summarize(results[s])["welfare"]))
            diff, lo, hi = paired_ci(results["priced"], results[best], rng)
            wt = float(summarize(results["priced-true"])["welfare"])
            gap = abs(wt - float(summarize(results["priced"])["welfare"])) / max(abs(wt), 1e-12)
            verdict = "priced higher" if lo > 0 else ("priced lower" if hi < 0 else "tie")
            verdicts.append(
                {"trace": name, "rate_scale": k, "best_admission_baseline": best, "priced_minus_best": diff,
                 "ci95_lo": lo, "ci95_hi": hi, "verdict": verdict, "gap_to_priced_true": gap}
            )  # fmt: skip
            print(
                f"  priced − {best}: {diff:+.2f} USD [{lo:+.2f}, {hi:+.2f}] → {verdict}; gap to priced-true {gap:.2%}",
                flush=True,
            )
    print()
    print(format_table(rows, list(rows[0]), digits=4))
    print()
    print(format_table(verdicts, list(verdicts[0]), digits=4))
    print("note:", SYNTHETIC_NOTE)
    print("SLOs chosen on each trace's first half only; every figure above is on the second half.")
    if args.json:
        write_json(
            args.json,
            {"rows": rows, "verdicts": verdicts, "schedulers": list(SCHEDULERS), "note": SYNTHETIC_NOTE},
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
