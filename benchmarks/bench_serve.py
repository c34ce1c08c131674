"""Serving benchmark: simulator speed on the Azure conversation trace, and scheduler welfare.

Speed (one core): simulated requests per wall-second with FCFS on the Azure 2023 conversation trace
at its real rate (target ≥ 20,000) and at 4× its rate (target ≥ 5,000). Baseline measured in the same
run: the same engine stepping one iteration at a time (``Engine(max_jump_steps=1)``: no multi-step
decode jumps; same steps and statuses, finish times equal to 1 µs, the column ``same_result``). Each figure is the best of ``--repeat`` runs. An extra row at
16× (informational, no target) shows the speed when the queue really grows. For scale, a published
Python simulator is quoted at about 1,400 requests/s (real rate) and 44 (overloaded); that
figure was not measured here.

Quality: on both Azure traces at rate scales 1, 2 and 4, the congestion-priced scheduler (``priced``,
noisy length predictions) must have the highest welfare of every scheduler that does not know true
output lengths, and be within 10% of its oracle twin ``priced-true``. Welfare is Σ V·completed −
λ·latency − GPU cost with synthetic V, λ and GPU price (``workloads.SYNTHETIC_NOTE``).

Decision recording (informational, no target): the speed of the ``--ledger`` path (sampled
eviction and ordering decisions recorded, ``recording.RecordSpec()``) against the plain run on the
Azure conversation trace and the Mooncake trace (the one with prefix hashes, so with evictions), at
×1 and ×4, FCFS and priced; the results must be the same (``same_result``; counted as a failure).

Run: ``.venv/bin/python benchmarks/bench_serve.py`` (``--quick``: first 3,000 requests per trace, a
smoke run, not the quoted figures; ``--seeds 0,1,2``: the quality grid for several draws of the
synthetic V, λ and length predictions). Exit status 1 when a target or a quality cell fails.
"""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import best_of, one_core, parser, verdict

CPUS = one_core()

import numpy as np  # noqa: E402

from tokenomy.interfaces.loaders.traces import load_trace, resolve_trace  # noqa: E402
from tokenomy.interfaces.table import format_table  # noqa: E402
from tokenomy.serving.engine import Engine  # noqa: E402
from tokenomy.serving.entities import Workload  # noqa: E402
from tokenomy.serving.metrics import summarize  # noqa: E402
from tokenomy.serving.recording import RecordSpec  # noqa: E402
from tokenomy.serving.result import RunResult  # noqa: E402
from tokenomy.serving.schedulers import SCHEDULERS, make_scheduler  # noqa: E402
from tokenomy.serving.workloads import SYNTHETIC_NOTE, rate_scaled  # noqa: E402

SPEED_TARGETS = ((1.0, 20_000.0), (4.0, 5_000.0))


def _load(name: str, data: Path, limit: int | None, seed: int = 0) -> Workload:
    return load_trace(resolve_trace(name, data), name=name, limit=limit, seed=seed).workload


def _rps(engine: Engine, wl: Workload, repeat: int) -> tuple[float, RunResult]:
    t, r = best_of(lambda: engine.run(wl, make_scheduler("fcfs")), repeat=repeat)
    return len(wl) / t, r


def bench_speed(wl: Workload, repeat: int) -> bool:
    print(f"Speed: FCFS on {wl.name} ({len(wl):,} requests), one core, best of {repeat}")
    ok = True
    rows = []
    for k, target in (*SPEED_TARGETS, (16.0, float("nan"))):
        scaled = rate_scaled(wl, k)
        fast, r = _rps(Engine(), scaled, repeat)
        slow, r1 = _rps(Engine(max_jump_steps=1), scaled, 1)
        m = summarize(r)
        same = (
            r.steps == r1.steps
            and bool(np.array_equal(r.status, r1.status))
            and bool(np.allclose(r.finish_s, r1.finish_s, rtol=0.0, atol=1e-6, equal_nan=True))
        )
        met = verdict(fast, target, lower_is_better=False) if target == target else "(no target)"
        ok &= met != "MISSES target" and same
        rows.append(
            {
                "rate_scale": k,
                "sim_requests_per_wall_s": fast,
                "target": target,
                "verdict": met,
                "baseline_step_by_step": slow,
                "speedup": fast / slow,
                "same_result": same,
                "steps": r.steps,
                "jumps": r.jumps,
                "ttft_p99_s": m["ttft_p99_s"],
                "max_queue": max((s.queue_len for s in r.prices), default=0),
            }
        )
    print(format_table(rows, list(rows[0]), digits=4))
    return ok


def _fresh(wl: Workload, scheduler: str, record: RecordSpec | None) -> RunResult:
    return Engine().run(wl, make_scheduler(scheduler), record=record)


def bench_recording(wls: list[Workload], repeat: int) -> bool:
    """The ``--ledger`` path: the same runs with eviction and ordering decisions recorded."""
    print(
        "\nDecision recording (serve simulate --ledger; RecordSpec(): every 10th eviction and ordering"
        f" step), best of {repeat}; informational, no target"
    )
    rows, ok = [], True
    for wl, k, name in [(w, k, n) for w in wls for k in (1.0, 4.0) for n in ("fcfs", "priced")]:
        scaled = rate_scaled(wl, k)
        t_off, off = best_of(partial(_fresh, scaled, name, None), repeat=repeat)
        t_on, on = best_of(partial(_fresh, scaled, name, RecordSpec()), repeat=repeat)
        same = (
            off.steps == on.steps
            and off.evictions == on.evictions
            and bool(np.array_equal(off.status, on.status))
            and bool(np.array_equal(off.finish_s, on.finish_s, equal_nan=True))
        )
        ok &= same
        rows.append(
            {
                "trace": wl.name,
                "rate_scale": k,
                "scheduler": name,
                "requests_per_wall_s": len(scaled) / t_off,
                "recording_requests_per_wall_s": len(scaled) / t_on,
                "slowdown": t_on / t_off,
                "same_result": same,
                "evictions": off.evictions,
                "evict_rows": 0 if on.eviction_log is None else on.eviction_log.time_s.size,
                "order_rows": 0 if on.order_log is None else on.order_log.time_s.size,
            }
        )
    print(format_table(rows, list(rows[0]), digits=4))
    return ok


def bench_quality(wls: list[Workload], rates: tuple[float, ...]) -> bool:
    names = list(SCHEDULERS)
    fair = [n for n in names if not SCHEDULERS[n].knows_true_lengths and not SCHEDULERS[n].ablation]
    print(f"\nQuality: welfare (USD, synthetic) of every scheduler; fair set = {', '.join(fair)}")
    rows, ok = [], True
    for wl in wls:
        for k in rates:
            scaled = rate_scaled(wl, k)
            w = {n: float(summarize(Engine().run(scaled, make_scheduler(n)))["welfare"]) for n in names}
            best_other = max((n for n in fair if n != "priced"), key=lambda n: w[n])
            highest = w["priced"] >= w[best_other]
            gap = abs(w["priced-true"] - w["priced"]) / max(abs(w["priced-true"]), 1e-12)
            cell = highest and gap <= 0.10
            ok &= cell
            rows.append(
                {
                    "trace": wl.name,
                    "rate_scale": k,
                    **{n: w[n] for n in names},
                    "best_other": best_other,
                    "gap_to_true": gap,
                    "result": "PASS" if cell else "FAIL",
                }
            )
            print(
                f"  {wl.name} ×{k:g}: priced {w['priced']:.2f} vs best other ({best_other}) "
                f"{w[best_other]:.2f}, gap to priced-true {gap:.2%} → {'PASS' if cell else 'FAIL'}",
                flush=True,
            )
    print(format_table(rows, list(rows[0]), digits=4))
    print("note:", SYNTHETIC_NOTE)
    return ok


def main() -> int:
    p = parser(__doc__ or "")
    p.add_argument("--repeat", type=int, default=3, help="speed runs per figure (best is kept)")
    p.add_argument(
        "--seeds", default="0", help="seeds of the synthetic draws for the quality grid, e.g. 0,1,2"
    )
    args = p.parse_args()
    data = Path(args.data)
    limit = 3000 if args.quick else None
    conv = _load("azure-conv", data, limit)
    code = _load("azure-code", data, limit)
    ok_speed = bench_speed(conv, 1 if args.quick else args.repeat)
    ok_speed &= bench_recording([conv, _load("mooncake", data, limit)], 1 if args.quick else args.repeat)
    ok_quality = True
    for seed in [int(x) for x in args.seeds.split(",")]:
        if seed:
            conv, code = _load("azure-conv", data, limit, seed), _load("azure-code", data, limit, seed)
        print(f"\n[synthetic V, λ, length predictions drawn with seed {seed}]")
        ok_quality &= bench_quality([conv, code], (1.0, 2.0, 4.0))
    print(
        f"\nspeed targets: {'PASS' if ok_speed else 'FAIL'}; quality cells: {'PASS' if ok_quality else 'FAIL'}"
    )
    if args.quick:
        print("(--quick: a smoke run on the first 3,000 requests, not the quoted figures)")
    return 0 if ok_speed and ok_quality else 1


if __name__ == "__main__":
    raise SystemExit(main())
