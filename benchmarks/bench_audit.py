"""Audit speed: the full mini-swe-agent set (500 trajectories, 20,163 calls) and 1,000,000 OTLP spans.

Prints wall times and, as a baseline measured in the same run, the time of the naive per-call
``genai_prices.calc_price`` pricing that the vectorised rate cards replace (on a sample, scaled), and
of plain ``json.loads`` over the same OTLP file (the floor any importer pays). Targets (issue 5):
mini-swe-agent audited in < 10 s; 1,000,000 OTLP spans imported in < 60 s.

    .venv/bin/python benchmarks/bench_audit.py [--data DIR] [--spans N] [--skip-otlp]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path


def write_spans(path: Path, n_spans: int, per_line: int = 1000, seed: int = 0) -> None:
    """A fast OTLP JSONL writer (string templates, not the SDK): chat spans in traces of 20."""
    rng = random.Random(seed)
    models = ["gpt-4o", "gpt-4o-mini", "claude-3-5-sonnet-20241022", "gemini-2.0-flash"]
    tmpl = (
        '{{"traceId":"{t:032x}","spanId":"{s:016x}","parentSpanId":"","name":"chat","kind":3,'
        '"startTimeUnixNano":"{st}","endTimeUnixNano":"{en}","attributes":['
        '{{"key":"gen_ai.operation.name","value":{{"stringValue":"chat"}}}},'
        '{{"key":"gen_ai.request.model","value":{{"stringValue":"{m}"}}}},'
        '{{"key":"gen_ai.usage.input_tokens","value":{{"intValue":"{i}"}}}},'
        '{{"key":"gen_ai.usage.output_tokens","value":{{"intValue":"{o}"}}}},'
        '{{"key":"gen_ai.usage.cache_read.input_tokens","value":{{"intValue":"{c}"}}}}],"status":{{}}}}'
    )
    t0 = 1_730_000_000 * 10**9
    with path.open("w") as f:
        for start in range(0, n_spans, per_line):
            spans = []
            for k in range(start, min(start + per_line, n_spans)):
                i = rng.randint(200, 20000)
                st = t0 + k * 10**8
                spans.append(
                    tmpl.format(
                        t=k // 20 + 1,
                        s=k + 1,
                        st=st,
                        en=st + rng.randint(10**8, 5 * 10**9),
                        m=models[k % 4],
                        i=i,
                        o=rng.randint(10, 800),
                        c=i // 2,
                    )
                )
            f.write(
                '{"resourceSpans":[{"resource":{"attributes":[]},"scopeSpans":[{"scope":{"name":"bench"},'
                '"spans":[' + ",".join(spans) + "]}]}]}\n"
            )


def bench_miniswe(data: Path) -> None:
    from genai_prices import Usage, calc_price

    from tokenomy.audit.engine import run_audit
    from tokenomy.audit.importers.agent_data import MINISWE_MODEL, from_miniswe
    from tokenomy.audit.pricing import GenaiPricesTable
    from tokenomy.interfaces.loaders.agent_data import load_miniswe

    t0 = time.perf_counter()
    trajs = load_miniswe(data / "agent")
    t1 = time.perf_counter()
    log = from_miniswe(trajs)
    res = run_audit(log, GenaiPricesTable())
    t2 = time.perf_counter()
    tot = res.totals()
    print(
        f"mini-swe-agent: {tot['requests']} trajectories, {tot['llm_calls']:,} calls: load {t1 - t0:.2f} s, "
        f"import+price+detect {t2 - t1:.2f} s, total {t2 - t0:.2f} s (target < 10 s)"
    )
    sample = 500
    s = log.steps
    tb = time.perf_counter()
    for k in range(sample):
        calc_price(
            Usage(
                input_tokens=int(s.input_tokens[k]),
                output_tokens=int(s.output_tokens[k]),
                cache_read_tokens=int(s.cache_read_tokens[k]),
            ),
            MINISWE_MODEL[0],
            provider_id=MINISWE_MODEL[1],
        )
    per = (time.perf_counter() - tb) / sample
    print(
        f"  baseline: per-call genai_prices.calc_price {per * 1e6:.0f} µs/call -> {per * len(s):.2f} s for all "
        f"calls; vectorised pricing+audit is {per * len(s) / (t2 - t1):.1f}x that pricing step alone"
    )
    print(
        f"  recomputed cost ${tot['cost_usd']:.2f} vs provider-reported ${tot['reported_cost_usd']:.2f}; "
        f"welfare ${tot['welfare_usd']:.2f} at default V"
    )


def bench_otlp(n: int) -> None:
    from tokenomy.interfaces.loaders.otlp import load_otlp

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "spans.jsonl"
        tw = time.perf_counter()
        write_spans(path, n)
        size = path.stat().st_size
        print(f"OTLP: wrote {n:,} spans ({size / 1e6:.0f} MB) in {time.perf_counter() - tw:.1f} s")
        tj = time.perf_counter()
        with path.open() as f:
            for line in f:
                json.loads(line)
        floor = time.perf_counter() - tj
        t0 = time.perf_counter()
        log, bad = load_otlp([path])
        t1 = time.perf_counter()
        assert len(log.steps) == n and bad.count == 0
        print(
            f"  import {n:,} spans: {t1 - t0:.1f} s (target < 60 s); json.loads alone {floor:.1f} s "
            f"(importer = {(t1 - t0) / floor:.1f}x the parse floor); {n / (t1 - t0):,.0f} spans/s"
        )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=os.environ.get("TOKENOMY_DATA", "../shared/data"))
    ap.add_argument("--spans", type=int, default=1_000_000)
    ap.add_argument("--skip-otlp", action="store_true")
    args = ap.parse_args()
    data = Path(args.data)
    if (data / "agent" / "miniswe_gemini3pro_swebv").is_dir():
        bench_miniswe(data)
    else:
        print(f"mini-swe-agent: skipped, no data at {data}/agent", file=sys.stderr)
    if not args.skip_otlp:
        bench_otlp(args.spans)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
