"""Gateway parts benchmark: the per-request cost of metrics, telemetry and tool-call gating (one core).

Prints ns per call (median over repeats of a tight loop) for:
  * metrics: ``Counter.inc``, ``Histogram.observe``, ``Gauge.set`` and ``GatewayMetrics.request_done``
    (the whole per-request update: 1 counter, 1-2 histograms, up to 3 token/cost counters); target:
    < 5 µs per observation; also 4 threads observing at once (µs per observation, wall / total);
    ``render()`` of 100 models' series;
  * a baseline in the same run: a bare ``with lock: d[key] += 1`` (the floor for any thread-safe counter);
  * telemetry: ``Telemetry.record`` on the request's thread (ids drawn, request queued; export deferred),
    the export cost per span paid later on the background thread (OTLP/JSON file here), and record with
    the export running on the same core; beside the bare SDK ``start_span`` / ``end`` (no attributes,
    no processor) in the same run;
  * actions: ``ActionFilter.filter_response`` on a response with no tool call and with one allowed
    tool call (``ls``), and ``ApprovalTokens.verify``;
  * with ``--pg CONNINFO`` (a running PostgreSQL; tables get a fresh prefix): the shared budget store's
    reserve + settle round trip and the PostgreSQL ledger's append cost per request.
Timings on a busy shared machine are provisional. Run:
``.venv/bin/python benchmarks/bench_gateway_parts.py [--quick] [--json PATH] [--pg CONNINFO]``.
"""

from __future__ import annotations

import json
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import one_core, parser, verdict

CPUS = one_core()

from tokenomy.autonomy.gate import Gate  # noqa: E402
from tokenomy.interfaces.gateway.actions import ActionFilter, ApprovalTokens, session_id_for  # noqa: E402
from tokenomy.interfaces.gateway.metrics import GatewayMetrics  # noqa: E402
from tokenomy.interfaces.gateway.telemetry import RequestSpan, Telemetry  # noqa: E402
from tokenomy.interfaces.loaders.agent_data import load_schedule  # noqa: E402


def ns_per_call(fn: Callable[[int], object], n: int, repeat: int = 5) -> float:
    """Median over ``repeat`` runs of (wall time of ``n`` calls) / n, in ns."""
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter_ns()
        for i in range(n):
            fn(i)
        runs.append((time.perf_counter_ns() - t0) / n)
    return sorted(runs)[len(runs) // 2]


def threaded_ns(fn: Callable[[int], object], n: int, threads: int) -> float:
    """Wall ns per observation with ``threads`` threads each making ``n`` calls."""

    def work() -> None:
        for i in range(n):
            fn(i)

    ts = [threading.Thread(target=work) for _ in range(threads)]
    t0 = time.perf_counter_ns()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return (time.perf_counter_ns() - t0) / (n * threads)


def _pg(conninfo: str, n: int) -> dict[str, float]:
    """PostgreSQL store figures: reserve + settle round trips (µs, p50 / p99, 16 concurrent tasks, one
    process, a budget that never runs out) and ledger append (µs per request: 1 decision with 2
    candidates and 1 outcome, batches of 200, one transaction each)."""
    import asyncio
    import uuid

    import numpy as np

    from tokenomy.core.prices import PriceVector
    from tokenomy.interfaces.gateway.pgstore import PgBudgetStore, PgLedger
    from tokenomy.ledger.records import Candidate, Decision, Layer, Outcome

    prefix = "bench_" + uuid.uuid4().hex[:8] + "_"
    store = PgBudgetStore(conninfo, prefix=prefix, pool_size=16)
    lat: list[float] = []

    async def task(k: int) -> None:
        for _ in range(n // 16):
            t0 = time.perf_counter_ns()
            r = await store.reserve(f"acct-{k % 4}", 0.01, 1e12)
            assert r is not None
            await store.settle(r, 0.005)
            lat.append((time.perf_counter_ns() - t0) / 1e3)

    async def run() -> float:
        t0 = time.perf_counter()
        await asyncio.gather(*(task(k) for k in range(16)))
        wall = time.perf_counter() - t0
        await store.close()
        return wall

    wall = asyncio.run(run())
    a = np.asarray(lat)
    led = PgLedger(conninfo, prefix=prefix)
    prices = PriceVector(v_usd=1.0)
    rows = [
        Decision(
            f"r{i}", Layer.DEMAND, "route", (Candidate("a", 0.5, 0.01), Candidate("b", 0.8, 0.02)), 0, prices
        )
        for i in range(n)
    ]
    t0 = time.perf_counter()
    for i in range(0, n, 200):
        with led.transaction():
            led.append(rows[i : i + 200])
            led.append_outcomes([Outcome(d.request_id, 1.0, 0.01) for d in rows[i : i + 200]])
    per_req = (time.perf_counter() - t0) / n * 1e6
    led.close()
    return {
        "pg_reserve_settle_p50_us": float(np.median(a)),
        "pg_reserve_settle_p99_us": float(np.percentile(a, 99)),
        "pg_reserve_settle_pairs_per_s": len(a) / wall,
        "pg_ledger_per_request_us": per_req,
    }


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--json", default=None, help="write the figures to this JSON file")
    p.add_argument(
        "--pg", default=None, help="a PostgreSQL conninfo: also time the shared budget store and ledger"
    )
    args = p.parse_args()
    n = 20_000 if args.quick else 200_000
    out: dict[str, float] = {}

    lock, floor = threading.Lock(), {("m", "200"): 0.0}

    def bare(i: int) -> None:
        with lock:
            floor[("m", "200")] += 1.0

    out["baseline_lock_dict_add_ns"] = ns_per_call(bare, n)
    m = GatewayMetrics()
    out["counter_inc_ns"] = ns_per_call(lambda i: m.requests.inc(("m", "200")), n)
    out["histogram_observe_ns"] = ns_per_call(lambda i: m.latency.observe(i * 1e-6, ("m",)), n)
    out["gauge_set_ns"] = ns_per_call(lambda i: m.lam.set(i, ("m",)), n)
    out["request_done_ns"] = ns_per_call(
        lambda i: m.request_done(
            "m",
            200,
            latency_s=0.002,
            upstream="m",
            upstream_latency_s=0.001,
            input_tokens=10,
            output_tokens=5,
            cost_usd=1e-6,
        ),
        n,
    )
    out["request_done_4_threads_ns_per_obs"] = threaded_ns(
        lambda i: m.request_done("m", 200, latency_s=0.002, input_tokens=10), n // 4, 4
    )
    for k in range(100):
        m.request_done(
            f"model-{k}", 200, latency_s=0.01, upstream_latency_s=0.005, input_tokens=3, output_tokens=2
        )
    out["render_100_models_us"] = ns_per_call(lambda i: m.render(), 50 if args.quick else 200) / 1e3

    from opentelemetry.sdk.trace import TracerProvider

    bare = TracerProvider(shutdown_on_exit=False).get_tracer("bare")

    def bare_span(i: int) -> None:
        bare.start_span("chat m", start_time=1).end(end_time=2)

    out["sdk_bare_span_ns"] = ns_per_call(bare_span, n // 10)
    with tempfile.TemporaryDirectory() as tmp:
        tel = Telemetry(json_path=Path(tmp) / "spans.jsonl", max_queue_size=1 << 20)
        span = RequestSpan(
            "req-1",
            "auto",
            "m",
            1,
            2,
            100,
            20,
            v_usd=0.1,
            lam_usd_per_s=0.01,
            rho_usd=1,
            surplus_usd=0.05,
            propensity=0.9,
            cost_usd=1e-5,
        )
        out["telemetry_record_with_export_ns"] = ns_per_call(lambda i: tel.record(span), n // 10)
        tel.close()
        quiet = Telemetry(
            json_path=Path(tmp) / "q.jsonl",
            max_queue_size=1 << 22,
            schedule_delay_ms=3.6e6,
            max_batch=1 << 22,
        )
        out["telemetry_record_enqueue_only_ns"] = ns_per_call(lambda i: quiet.record(span), n // 10, repeat=3)
        t0 = time.perf_counter_ns()
        queued = len(quiet._queue)
        quiet.close()
        out["telemetry_export_per_span_ns"] = (time.perf_counter_ns() - t0) / max(queued, 1)

    gate = Gate(load_schedule())
    filt = ActionFilter(gate, ApprovalTokens(b"k" * 32))
    sess = session_id_for("sk-bench")
    plain = {
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "4"}, "finish_reason": "stop"}]
    }
    tool = {
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "c",
                            "type": "function",
                            "function": {"name": "bash", "arguments": '{"command": "ls"}'},
                        }
                    ],
                },
                "finish_reason": "tool_calls",
            }
        ]
    }
    out["actions_no_tool_call_ns"] = ns_per_call(
        lambda i: filt.filter_response(plain, session_id=sess), n // 10
    )
    out["actions_one_allowed_call_ns"] = ns_per_call(
        lambda i: filt.filter_response(tool, session_id=sess), n // 20
    )
    token, _ = filt.tokens.issue(sess, gate.check("cat ~/.ssh/id_rsa").call)
    out["approval_verify_ns"] = ns_per_call(lambda i: filt.tokens.verify(token, sess), n // 10)

    if args.pg:
        out.update(_pg(args.pg, 500 if args.quick else 5000))

    print("gateway parts, one core (provisional: shared busy machine)")
    for k, v in out.items():
        unit = "µs" if k.endswith("_us") else ("/s" if k.endswith("_per_s") else "ns")
        print(f"  {k:<40s} {v:12.0f} {unit}")
    per_obs = out["request_done_ns"] / 6  # 1 request counter, 2 histograms, 2 token counters, 1 cost counter
    out["request_done_ns_per_observation"] = per_obs
    print(f"  request_done per observation (6 updates)   {per_obs:12.0f} ns")
    print(f"  metrics per observation ≤ 2 µs: {verdict(per_obs / 1e3, 2.0)}")
    print(
        f"  counter inc / bare lock+dict add (same run): ×{out['counter_inc_ns'] / out['baseline_lock_dict_add_ns']:.2f}"
    )
    ratio = out["telemetry_record_enqueue_only_ns"] / out["sdk_bare_span_ns"]
    print(f"  telemetry record on the request's thread / bare SDK span (same run): ×{ratio:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
