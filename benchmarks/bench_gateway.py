"""Gateway overhead, throughput, a bounded load test and a fault run, all on loopback, in one run.

Processes: fake OpenAI-compatible upstreams (``tokenomy.interfaces.gateway.fakeupstream``, answering at
once) and the gateway (``tokenomy gateway serve``, uvicorn + httptools + uvloop, one process = one
event loop, pinned to CPU 0); this driver and the fakes are pinned to the other CPU(s).

1. Overhead at 100 concurrent streams: 100 streaming requests are held open through the gateway to a
   ``drip`` upstream (one SSE chunk every 100 ms for 2 s each; a finished stream is reopened at once, so
   100 stay open and the gateway relays ~1,000 chunks/s meanwhile). While they are open, single probe
   requests (non-stream, pinned to an immediate upstream) are sent one at a time, alternating direct to
   that upstream and through the gateway, each on its own keep-alive connection. Added latency =
   quantile(through gateway) − quantile(direct) at p50 and p99, with 95 % bootstrap intervals.
2. Throughput and the bounded load test: N requests (``tokenomy-auto``, routed by Eq. 1), C concurrent
   closed-loop connections, through the one-core gateway (with its CPU time per request, read from
   /proc: a figure other load on the machine does not inflate), then through ``--workers`` gateway
   processes on every CPU; the same load direct to the upstream as the baseline.
3. After SIGTERM (drain, then the ledger's last flush): ``lost_ledger_rows`` = requests the gateway
   answered − decisions in its ledger; ``gateway_5xx`` = 5xx answers.
4. Fault run (``--fault``, on by default): a second gateway over two upstreams; V makes ``strong`` the
   choice; that upstream's process is killed a third of the way through N requests. Every request must
   complete (on ``cheap``) or get a clean OpenAI-style error, and the ledger must hold one decision per
   request.
The client-library comparison (``--clients``) times this gateway's upstream client against aiohttp and
httpx on the same load (the reason ``upstream.py`` is its own small client).
Timings on a busy shared machine are provisional. Run:
``.venv/bin/python benchmarks/bench_gateway.py [--quick] [--json PATH]``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
import numpy as np

from _common import parser, verdict
from tokenomy.interfaces.gateway.upstream import UpstreamClient
from tokenomy.ledger import Ledger

CPUS = sorted(os.sched_getaffinity(0))
GW_CPU = {CPUS[0]}
REST_CPUS = set(CPUS[1:]) or GW_CPU
PY = sys.executable
BODY = {"messages": [{"role": "user", "content": "What is 17 + 25?"}], "max_tokens": 16}


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


RT = {"on": False}  # --rt: every process of the run at SCHED_FIFO priority (see main)


def _pin(cpus: set[int]) -> Any:
    def pin() -> None:
        os.sched_setaffinity(0, cpus)
        if RT["on"]:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))

    return pin


def fake(mode: str = "ok", delay_s: float = 0.0) -> tuple[subprocess.Popen[str], str]:
    p = subprocess.Popen(
        [PY, "-m", "tokenomy.interfaces.gateway.fakeupstream", "--mode", mode, "--delay-s", str(delay_s)],
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=_pin(REST_CPUS),
    )
    assert p.stdout is not None
    return p, f"http://127.0.0.1:{p.stdout.readline().split()[1]}"


def gateway(
    tmp: Path,
    name: str,
    ups: list[tuple[str, str, float, float, float]],
    cpus: set[int] = GW_CPU,
    **server: Any,
) -> tuple[subprocess.Popen[str], str, Path]:
    port, ledger = _port(), tmp / f"{name}.duckdb"
    server.setdefault("ledger", f'"{ledger}"')
    lines = [
        "[defaults]",
        "v_usd = 1.0",
        "[routing]",
        "epsilon = 0.0",
        "[gateway]",
        f"port = {port}",
        *(f"{k} = {v}" for k, v in server.items()),
    ]
    for n, url, q, pin, pout in ups:
        lines += [
            "[[upstreams]]",
            f'name = "{n}"',
            f'base_url = "{url}"',
            f"quality_prior = {q}",
            f"input_usd_per_mtok = {pin}",
            f"output_usd_per_mtok = {pout}",
            "max_concurrency = 1024",
            "max_queue = 100000",
            "timeout_s = 5.0",
        ]
    cfg = tmp / f"{name}.toml"
    cfg.write_text("\n".join(lines) + "\n")
    p = subprocess.Popen(
        [
            PY,
            "-c",
            "from tokenomy.interfaces.cli import main; raise SystemExit(main())",
            "gateway",
            "serve",
            "--config",
            str(cfg),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_pin(cpus),
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(400):
        with contextlib.suppress(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return p, url, ledger
        time.sleep(0.05)
    raise RuntimeError(f"gateway did not start: {p.stderr.read() if p.stderr else ''}")


def cpu_s(pids: list[int]) -> float:
    """User + system CPU seconds of these processes and their children so far (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            total += cpu_s([int(k) for k in kids])
    return total


def _ledger(a: Any) -> dict[str, Any]:
    return {} if a.ledger == "file" else {"ledger": '"none"'}


def _decisions(path: Path, expected: int, a: Any) -> int:
    if a.ledger == "none":
        return expected  # no ledger kept: nothing to count (lost rows not measured)
    with Ledger(path, read_only=True) as led:
        return int(led.count("decisions"))


def stop(p: subprocess.Popen[str]) -> None:
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(60)
    except subprocess.TimeoutExpired:
        p.kill()


def _body(model: str, **extra: Any) -> bytes:
    return json.dumps({**BODY, "model": model, **extra}).encode()


async def overhead(direct: str, gw: str, samples: int, streams: int) -> dict[str, Any]:
    drip_client = UpstreamClient("gw-streams", gw, timeout_s=30, max_idle=streams + 8)
    held = {"open": 0, "chunks": 0, "errors": 0, "started": 0}
    stop_ev = asyncio.Event()

    async def hold() -> None:
        while not stop_ev.is_set():
            held["started"] += 1
            try:
                async with drip_client.stream("POST", "/v1/chat/completions", _body("drip", stream=True)) as (
                    st,
                    _,
                    it,
                ):
                    held["open"] += 1
                    async for _ in it:
                        held["chunks"] += 1
                    held["open"] -= 1
                    held["errors"] += st != 200
            except Exception:
                held["errors"] += 1

    tasks = [asyncio.create_task(hold()) for _ in range(streams)]
    while held["open"] < streams:
        await asyncio.sleep(0.05)
    d_cli, g_cli = UpstreamClient("direct", direct, max_idle=1), UpstreamClient("gw", gw, max_idle=1)
    lat: dict[str, list[float]] = {"direct": [], "gateway": []}
    open_seen = []
    t_start, chunks0 = time.perf_counter(), held["chunks"]
    for i in range(samples * 2):
        which, cli, model = ("direct", d_cli, "fake") if i % 2 == 0 else ("gateway", g_cli, "fast")
        t = time.perf_counter()
        r = await cli.request("POST", "/v1/chat/completions", _body(model))
        lat[which].append((time.perf_counter() - t) * 1e3)
        assert r.status == 200, r.body[:200]
        open_seen.append(held["open"])
    chunk_rate = (held["chunks"] - chunks0) / (time.perf_counter() - t_start)
    stop_ev.set()
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    d, g = np.array(lat["direct"]), np.array(lat["gateway"])
    rng = np.random.default_rng(0)
    boots = {50: [], 99: []}
    for _ in range(1000):
        db, gb = rng.choice(d, d.size), rng.choice(g, g.size)
        for q in boots:
            boots[q].append(np.percentile(gb, q) - np.percentile(db, q))
    out = {}
    for q in (50, 99):
        out[f"overhead_p{q}_ms"] = float(np.percentile(g, q) - np.percentile(d, q))
        lo, hi = np.percentile(boots[q], [2.5, 97.5])
        out[f"overhead_p{q}_ms_ci95"] = [float(lo), float(hi)]
        out[f"direct_p{q}_ms"], out[f"gateway_p{q}_ms"] = (
            float(np.percentile(d, q)),
            float(np.percentile(g, q)),
        )
    out.update(
        samples=samples,
        streams_held_open_min=int(min(open_seen)),
        streams_held_open_median=float(np.median(open_seen)),
        relayed_chunks_per_s=chunk_rate,
        held_stream_errors=held["errors"],
        streams_started=held["started"],
    )
    return out


async def load(url: str, model: str, n: int, conc: int) -> dict[str, Any]:
    cli = UpstreamClient("load", url, timeout_s=30, max_idle=conc)
    statuses: dict[int, int] = {}
    lat: list[float] = []
    bad_bodies = 0
    it = iter(range(n))

    async def worker() -> None:
        nonlocal bad_bodies
        for _ in it:
            t = time.perf_counter()
            try:
                r = await cli.request("POST", "/v1/chat/completions", _body(model))
                status = r.status
                if status != 200:
                    err = json.loads(r.body).get("error", {})
                    bad_bodies += not {"message", "type", "param", "code"} <= set(err)
            except Exception:
                status = 0
            statuses[status] = statuses.get(status, 0) + 1
            lat.append(time.perf_counter() - t)

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(conc)))
    dt = time.perf_counter() - t0
    a = np.array(lat) * 1e3
    return {
        "requests": n,
        "concurrency": conc,
        "seconds": dt,
        "requests_per_s": n / dt,
        "p50_ms": float(np.percentile(a, 50)),
        "p99_ms": float(np.percentile(a, 99)),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "error_bodies_not_openai_style": bad_bodies,
    }


async def fault_load(
    url: str, n: int, conc: int, kill_after: int, victim: subprocess.Popen[str]
) -> dict[str, Any]:
    cli = UpstreamClient("fault", url, timeout_s=30, max_idle=conc)
    served: dict[str, int] = {}
    statuses: dict[int, int] = {}
    done, killed_at = 0, None
    unclean = 0
    it = iter(range(n))

    async def worker() -> None:
        nonlocal done, killed_at, unclean
        for _ in it:
            try:
                r = await cli.request(
                    "POST", "/v1/chat/completions", _body("tokenomy-auto"), {"x-tokenomy-v": "1000"}
                )
            except Exception:
                statuses[0] = statuses.get(0, 0) + 1
                unclean += 1
                continue
            statuses[r.status] = statuses.get(r.status, 0) + 1
            if r.status == 200:
                m = json.loads(r.body)["tokenomy"]["model"]
                served[m] = served.get(m, 0) + 1
            else:
                err = json.loads(r.body).get("error", {})
                unclean += not {"message", "type", "param", "code"} <= set(err)
            done += 1
            if done == kill_after:
                victim.kill()
                killed_at = done

    await asyncio.gather(*(worker() for _ in range(conc)))
    return {
        "requests": n,
        "killed_after": killed_at,
        "served_by": served,
        "statuses": {str(k): v for k, v in statuses.items()},
        "unclean_answers": unclean,
    }


async def compare_clients(url: str, n: int, conc: int) -> dict[str, float]:
    body = _body("fake")
    out: dict[str, float] = {}

    async def drive(name: str, call: Any) -> None:
        sem = asyncio.Semaphore(conc)

        async def one() -> None:
            async with sem:
                await call()

        t0 = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(n)))
        out[f"{name}_requests_per_s"] = n / (time.perf_counter() - t0)

    mine = UpstreamClient("f", url, max_idle=conc)
    await drive("tokenomy_upstream", lambda: mine.request("POST", "/v1/chat/completions", body))
    with contextlib.suppress(ImportError):
        import aiohttp

        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=conc)) as s:

            async def aio() -> None:
                async with s.post(url + "/v1/chat/completions", data=body) as r:
                    await r.read()

            await drive("aiohttp", aio)
    with contextlib.suppress(ImportError):
        import httpx2 as httpx

        async with httpx.AsyncClient(limits=httpx.Limits(max_connections=conc)) as hx:
            await drive("httpx", lambda: hx.post(url + "/v1/chat/completions", content=body))
    return out


def _run(coro: Any) -> Any:
    try:
        import uvloop

        return uvloop.run(coro)
    except ImportError:
        return asyncio.run(coro)


def main() -> None:
    p = parser(__doc__.split("\n")[0])
    p.add_argument("--json", metavar="PATH")
    p.add_argument("--requests", type=int, default=10_000)
    p.add_argument("--concurrency", type=int, default=200)
    p.add_argument("--samples", type=int, default=1000, help="overhead probes per side")
    p.add_argument("--streams", type=int, default=100, help="streams held open while probing")
    p.add_argument("--no-fault", action="store_true")
    p.add_argument("--clients", action="store_true", help="also compare HTTP client libraries")
    p.add_argument(
        "--workers", type=int, default=2, help="gateway processes for the whole-machine throughput run"
    )
    p.add_argument("--ledger", choices=("file", "none"), default="file", help="the gateway's ledger")
    p.add_argument("--flush-ms", type=float, default=200.0)
    p.add_argument(
        "--rt",
        action="store_true",
        help="run every process of the benchmark at real-time priority (SCHED_FIFO, needs root) so other "
        "work on a shared machine does not queue ahead of it; the kernel keeps 5%% of each CPU for others",
    )
    a = p.parse_args()
    if a.quick:
        a.requests, a.concurrency, a.samples, a.streams = 2000, 200, 300, 100
    os.sched_setaffinity(0, REST_CPUS)
    if a.rt:
        RT["on"] = True
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))
    res: dict[str, Any] = {
        "cpus": len(CPUS),
        "gateway_cpu": sorted(GW_CPU),
        "driver_cpus": sorted(REST_CPUS),
        "provisional": "timed on a shared, busy machine",
        "upstreams": "synthetic: fake OpenAI-compatible servers on loopback answering at once (fixed text, "
        "synthetic token counts)",
        "realtime_priority": a.rt,
    }
    procs: list[subprocess.Popen[str]] = []
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        try:
            f_fast, u_fast = fake()
            f_drip, u_drip = fake("drip", 2.0)
            procs += [f_fast, f_drip]
            ups = [("fast", u_fast, 0.9, 1.0, 2.0), ("drip", u_drip, 0.5, 1.0, 2.0)]
            gw, u_gw, ledger = gateway(tmp, "main", ups, flush_ms=a.flush_ms, **_ledger(a))
            procs.append(gw)
            if a.clients:
                res["clients"] = _run(compare_clients(u_fast, a.requests, 100))
                print("client libraries (req/s, 100 concurrent):", json.dumps(res["clients"]))
            ov = _run(overhead(u_fast, u_gw, a.samples, a.streams))
            res["overhead"] = ov
            res["direct"] = _run(load(u_fast, "fake", a.requests, a.concurrency))
            c0 = cpu_s([gw.pid])
            res["through_gateway_one_core"] = _run(load(u_gw, "tokenomy-auto", a.requests, a.concurrency))
            # CPU time the gateway process spent per request: robust to other load on the machine
            res["gateway_cpu_us_per_request"] = (cpu_s([gw.pid]) - c0) / a.requests * 1e6
            stop(gw)
            expected = a.requests + a.samples + ov["streams_started"]  # every one reached the policy
            decisions = _decisions(ledger, expected, a)
            gwn, u_gwn, ledger_n = gateway(
                tmp, "workers", ups, flush_ms=a.flush_ms, cpus=set(CPUS), workers=a.workers, **_ledger(a)
            )
            procs.append(gwn)
            res["through_gateway"] = _run(load(u_gwn, "tokenomy-auto", a.requests, a.concurrency))
            res["through_gateway"]["workers"] = a.workers
            stop(gwn)
            decisions += _decisions(ledger_n, a.requests, a)
            expected += a.requests
            res["ledger_decisions"], res["expected_decisions"] = decisions, expected
            if a.no_fault:
                res["fault"] = None
            else:
                f_a, u_a = fake()
                f_b, u_b = fake()
                procs += [f_a, f_b]
                gw2, u_gw2, ledger2 = gateway(
                    tmp, "fault", [("cheap", u_a, 0.6, 1.0, 2.0), ("strong", u_b, 0.9, 10.0, 30.0)]
                )
                procs.append(gw2)
                n_fault = max(1000, a.requests // 3)
                res["fault"] = _run(fault_load(u_gw2, n_fault, min(100, a.concurrency), n_fault // 3, f_b))
                stop(gw2)
                with Ledger(ledger2, read_only=True) as led:
                    res["fault"]["ledger_decisions"] = led.count("decisions")
                    res["fault"]["ledger_requests"] = led._scalar(
                        "SELECT count(DISTINCT request_id) FROM decisions"
                    )
        finally:
            for pr in procs:
                with contextlib.suppress(ProcessLookupError):
                    pr.kill()
    gw_5xx = sum(
        v
        for part in ("through_gateway", "through_gateway_one_core")
        for k, v in res[part]["statuses"].items()
        if k.startswith("5") or k == "0"
    )
    summary = {
        "overhead_p50_ms": ov["overhead_p50_ms"],
        "overhead_p99_ms": ov["overhead_p99_ms"],
        "requests_per_s": res["through_gateway"]["requests_per_s"],
        "requests_per_s_one_core": res["through_gateway_one_core"]["requests_per_s"],
        "workers": a.workers,
        "concurrency": a.concurrency,
        "lost_ledger_rows": expected - decisions,
        "gateway_5xx": gw_5xx,
        "direct_requests_per_s": res["direct"]["requests_per_s"],
        "gateway_cpu_us_per_request": res["gateway_cpu_us_per_request"],
        "streams_held_open": a.streams,
    }
    res = {**summary, **res}
    print(json.dumps(res, indent=2))
    print(
        f"overhead p50 {ov['overhead_p50_ms']:.3f} ms (95% CI {ov['overhead_p50_ms_ci95'][0]:.3f}..{ov['overhead_p50_ms_ci95'][1]:.3f}) "
        f"{verdict(ov['overhead_p50_ms'], 1.0)} (≤ 1 ms)"
    )
    print(
        f"overhead p99 {ov['overhead_p99_ms']:.3f} ms (95% CI {ov['overhead_p99_ms_ci95'][0]:.3f}..{ov['overhead_p99_ms_ci95'][1]:.3f}) "
        f"{verdict(ov['overhead_p99_ms'], 5.0)} (≤ 5 ms)"
    )
    print(
        f"throughput {summary['requests_per_s']:.0f} req/s through {a.workers} gateway worker(s) "
        f"({summary['requests_per_s_one_core']:.0f} with one worker on one core) vs {summary['direct_requests_per_s']:.0f} direct; "
        f"{verdict(summary['requests_per_s'], 2000, lower_is_better=False)} (≥ 2,000)"
    )
    print(
        f"gateway CPU per request {summary['gateway_cpu_us_per_request']:.0f} µs "
        f"(one core's capacity ≈ {1e6 / summary['gateway_cpu_us_per_request']:.0f} req/s)"
    )
    print(f"lost ledger rows {summary['lost_ledger_rows']}, gateway 5xx {gw_5xx}")
    if a.json:
        Path(a.json).write_text(json.dumps(res, indent=2))
        print(f"wrote {a.json}")


if __name__ == "__main__":
    main()
