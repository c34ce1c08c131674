"""Serving simulator against its peer, SplitwiseSim, on the same trace and configuration.

Both simulators replay the first N requests of the Azure 2023 conversation trace (and, with
``--full``, the whole trace at each rate of ``--full-scales``, default the real rate) on SplitwiseSim's own setup: one DGX-H100,
llama2-70b at TP8, its ``perf_model.csv`` read as SplitwiseSim reads it (``steptime.TableStepTime``),
13,165 KV blocks of 16 tokens (``steptime.SPLITWISE_DGX_H100_KV_BLOCKS``), at most 512 sequences and
2,048 batched tokens, prompts whole and first (``EngineConfig(chunked_prefill=False)``), FCFS, no
prefix cache: ``loaders.traces.splitwise_sim_setup``, what ``serve simulate --like splitwise-sim`` runs. SplitwiseSim runs in its own Python (``--peer-python``) from a temporary copy of
``--peer`` whose ``config.yaml`` drops the Ray launcher; arrivals are shifted by +1 ms for it (an
arrival at 0 precedes its cluster), which moves no latency.

Printed per (requests, rate scale): TTFT p50/p99, TPOT mean and p50, E2E p50/p99 for both, with the
relative difference (ours − peer)/peer and the issue's tolerance (TTFT p50, TPOT mean, E2E p50
within 15%; TTFT p99 within 25%). TPOT is SplitwiseSim's definition on both sides: (E2E − TTFT) /
output tokens. Speed: simulated requests per wall-second of each simulator's own loop (ours: best
of ``--repeat`` ``Engine.run``; SplitwiseSim: from its "TraceSimulator initialized" to "completed"
log lines, so its Hydra start-up is not counted) and their ratio (targets ≥ 300× at ×1 and ≥ 500×
at ×4 on the 2,000-request prefix). The machine may be busy: speed figures are provisional.

Run: ``.venv/bin/python benchmarks/bench_serve_peer.py --peer-python /path/to/venv/bin/python``
(``--n 2000 --scales 1,4 --full --full-scales 1,4 --json out.json``; the whole trace at ×4 takes
SplitwiseSim hours, so raise ``--peer-timeout-s``). Without a working SplitwiseSim it prints ours
alone and exits 2.
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from _common import best_of, one_core, parser

CPUS = one_core()

import numpy as np  # noqa: E402

from tokenomy.interfaces.loaders.traces import load_trace, resolve_trace, splitwise_sim_setup  # noqa: E402
from tokenomy.interfaces.outputs import write_json  # noqa: E402
from tokenomy.interfaces.table import format_table  # noqa: E402
from tokenomy.serving.engine import Engine  # noqa: E402
from tokenomy.serving.entities import EngineConfig, Workload  # noqa: E402
from tokenomy.serving.result import COMPLETED  # noqa: E402
from tokenomy.serving.schedulers import make_scheduler  # noqa: E402
from tokenomy.serving.workloads import rate_scaled  # noqa: E402

TOLERANCE = {"ttft_p50_s": 0.15, "ttft_p99_s": 0.25, "tpot_mean_s": 0.15, "e2e_p50_s": 0.15}
SPEED_TARGET = {1.0: 300.0, 4.0: 500.0}
SHIFT_S = 1e-3
_STAMP = re.compile(r"\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\]")


def latency(
    ttft: np.ndarray[Any, Any], e2e: np.ndarray[Any, Any], out: np.ndarray[Any, Any]
) -> dict[str, float]:
    """The compared figures from per-request TTFT, E2E (s) and output tokens (completed requests)."""
    tpot = (e2e - ttft) / out
    return {
        "completed": float(ttft.size),
        "ttft_p50_s": float(np.quantile(ttft, 0.5)),
        "ttft_p99_s": float(np.quantile(ttft, 0.99)),
        "tpot_mean_s": float(tpot.mean()),
        "tpot_p50_s": float(np.quantile(tpot, 0.5)),
        "e2e_p50_s": float(np.quantile(e2e, 0.5)),
        "e2e_p99_s": float(np.quantile(e2e, 0.99)),
    }


def run_ours(wl: Workload, model: Any, cfg: EngineConfig, repeat: int) -> tuple[dict[str, float], float]:
    engine = Engine(step_model=model, config=cfg)
    wall, r = best_of(lambda: engine.run(wl, make_scheduler("fcfs")), repeat=repeat)
    ok = r.status == COMPLETED
    ttft = (r.first_token_s - wl.arrival_s)[ok]
    e2e = (r.finish_s - wl.arrival_s)[ok]
    return latency(ttft, e2e, wl.output_tokens[ok]), wall


def prepare_peer(src: Path, work: Path) -> Path:
    """A copy of SplitwiseSim whose config runs locally (no Ray launcher, no cluster address)."""
    dst = work / "splitwise-sim"
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("results", "traces", "notebooks", ".git"))
    cfg = dst / "configs" / "config.yaml"
    text = cfg.read_text().replace("  - override hydra/launcher: ray\n", "")
    text = re.sub(r"  launcher:\n    ray:\n      init:\n        address: .*\n", "", text)
    cfg.write_text(text)
    (dst / "traces").mkdir()
    return dst


def run_peer(
    peer: Path, python: str, wl: Workload, tag: str, timeout_s: float
) -> tuple[dict[str, float], float, float]:
    """(figures, loop seconds, process seconds) of SplitwiseSim on ``wl``."""
    with (peer / "traces" / f"{tag}.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(
            [
                "request_id",
                "request_type",
                "application_id",
                "arrival_timestamp",
                "batch_size",
                "prompt_size",
                "token_size",
            ]
        )
        for i in range(len(wl)):
            w.writerow(
                [
                    i,
                    2,
                    0,
                    repr(float(wl.arrival_s[i]) + SHIFT_S),
                    1,
                    int(wl.prompt_tokens[i]),
                    int(wl.output_tokens[i]),
                ]
            )
    cmd = [
        python, "run.py", "applications.0.scheduler=token_jsq", "applications.0.model_architecture=llama2-70b",
        "applications.0.model_size=llama2-70b-fp16", "cluster=half_half", "cluster.servers.0.count=0",
        "cluster.servers.1.count=1", "start_state=baseline", "performance_model=db", f"trace.filename={tag}", "seed=0",
    ]  # fmt: skip
    t0 = time.perf_counter()
    p = subprocess.run(cmd, cwd=peer, capture_output=True, text=True, timeout=timeout_s, check=False)
    proc_s = time.perf_counter() - t0
    log = p.stdout + p.stderr
    if p.returncode != 0:
        raise RuntimeError(f"SplitwiseSim exited {p.returncode}: {log.strip().splitlines()[-1:]}")
    stamps = {}
    for line in log.splitlines():
        m = _STAMP.search(line)
        if m and ("TraceSimulator initialized" in line or "TraceSimulator completed" in line):
            stamps["start" if "initialized" in line else "end"] = datetime.strptime(
                m.group(1), "%Y-%m-%d %H:%M:%S,%f"
            )
    loop_s = (stamps["end"] - stamps["start"]).total_seconds() if len(stamps) == 2 else proc_s
    found = list((peer / "results").rglob(f"{tag}/**/detailed/0.csv"))
    if not found:
        raise RuntimeError("SplitwiseSim wrote no detailed/0.csv")
    with found[0].open() as f:
        rows = list(csv.DictReader(f))
    col = {k: np.array([float(r[k]) for r in rows]) for k in ("ttft_times", "response_times", "token_sizes")}
    shutil.rmtree(found[0].parent.parent)
    return latency(col["ttft_times"], col["response_times"], col["token_sizes"]), loop_s, proc_s


def _scales(p: argparse.ArgumentParser, text: str, flag: str) -> list[float]:
    """A comma list of positive, finite rate scales (one-line usage error otherwise)."""
    try:
        out = [float(k) for k in text.split(",")]
    except ValueError:
        out = []
    if not out or not all(math.isfinite(k) and k > 0 for k in out):
        p.error(f"{flag}: expected a comma list of positive rate scales (e.g. 1,4), got {text!r}")
    return out


def main() -> int:
    p = parser(__doc__ or "")
    p.add_argument("--peer", default=os.environ.get("SPLITWISE_SIM", "../shared/peers/splitwise-sim"))
    p.add_argument("--peer-python", default=os.environ.get("SPLITWISE_PYTHON", sys.executable))
    p.add_argument("--n", type=int, default=2000, help="first N requests of the trace")
    p.add_argument("--scales", default="1,4", help="rate scales for the N-request prefix")
    p.add_argument("--full", action="store_true", help="also the whole trace (at --full-scales)")
    p.add_argument("--full-scales", default="1", help="rate scales for the whole trace (with --full)")
    p.add_argument("--repeat", type=int, default=3, help="runs of ours per figure (best kept)")
    p.add_argument("--peer-timeout-s", type=float, default=1800.0, help="per SplitwiseSim run")
    p.add_argument("--json", default=None, help="write the rows here")
    args = p.parse_args()
    data = Path(args.data)
    model, cfg = splitwise_sim_setup(data)  # what ``serve simulate --like splitwise-sim`` runs
    trace = resolve_trace("azure-conv", data)
    n = 300 if args.quick else args.n
    scales, full_scales = _scales(p, args.scales, "--scales"), _scales(p, args.full_scales, "--full-scales")
    cells = [(n, k) for k in scales]
    if args.full and not args.quick:
        whole = len(load_trace(trace).workload)
        cells += [(whole, k) for k in full_scales]
    rows: list[dict[str, Any]] = []
    ok, peer_ok = True, True
    with tempfile.TemporaryDirectory() as tmp:
        try:
            peer = prepare_peer(Path(args.peer), Path(tmp))
        except OSError as exc:
            print(f"SplitwiseSim not found at {args.peer} ({exc}); ours only")
            peer_ok = False
        for n_req, k in cells:
            wl = rate_scaled(load_trace(trace, limit=n_req, name="azure-conv").workload, k)
            wl = replace(wl, name=f"azure-conv[:{n_req}]×{k:g}")
            ours, wall = run_ours(wl, model, cfg, 1 if args.quick else args.repeat)
            theirs: dict[str, float] = {}
            peer_loop = peer_proc = float("nan")
            if peer_ok:
                try:
                    theirs, peer_loop, peer_proc = run_peer(
                        peer, args.peer_python, wl, f"n{n_req}x{k:g}", args.peer_timeout_s
                    )
                except (RuntimeError, OSError, subprocess.TimeoutExpired, KeyError) as exc:
                    print(f"SplitwiseSim failed on {wl.name}: {exc}")
                    peer_ok = False
            ratio = peer_loop / wall if theirs else float("nan")
            target = SPEED_TARGET.get(k) if n_req <= 2000 else None
            print(
                f"\n{wl.name}: ours {len(wl) / wall:,.0f} req/s ({wall:.3f} s); SplitwiseSim "
                f"{len(wl) / peer_loop:,.1f} req/s ({peer_loop:.1f} s loop, {peer_proc:.1f} s process); "
                f"ratio {ratio:,.0f}×" + (f" (target ≥ {target:g}×)" if target else ""),
                flush=True,
            )
            if target and theirs and ratio < target:
                ok = False
            for key in (
                "completed",
                "ttft_p50_s",
                "ttft_p99_s",
                "tpot_mean_s",
                "tpot_p50_s",
                "e2e_p50_s",
                "e2e_p99_s",
            ):
                a, b = ours[key], theirs.get(key, float("nan"))
                rel = (a - b) / b if theirs else float("nan")
                tol = TOLERANCE.get(key)
                verdict = "" if tol is None or not theirs else ("within" if abs(rel) <= tol else "OUTSIDE")
                if verdict == "OUTSIDE":
                    ok = False
                rows.append(
                    {"trace": wl.name, "metric": key, "tokenomy": a, "splitwise_sim": b, "rel_diff": rel,
                     "tolerance": tol if tol is not None else float("nan"), "verdict": verdict}
                )  # fmt: skip
            rows.append(
                {"trace": wl.name, "metric": "speed_ratio", "tokenomy": len(wl) / wall,
                 "splitwise_sim": len(wl) / peer_loop, "rel_diff": ratio,
                 "tolerance": target or float("nan"), "verdict": "" if not (target and theirs) else ("meets" if ratio >= target else "MISSES")}
            )  # fmt: skip
    print()
    print(format_table(rows, list(rows[0]), digits=4))
    print(
        "TPOT = (E2E − TTFT)/output tokens on both sides; speed ratio = peer loop seconds / our seconds (provisional: shared machine)"
    )
    if args.json:
        write_json(
            args.json,
            {"config": "SplitwiseSim baseline, DGX-H100, llama2-70b TP8", "rows": rows, "peer_ran": peer_ok},
        )
    if not peer_ok:
        return 2
    print(f"\nagreement and speed: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
