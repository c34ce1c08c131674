"""KV shadow price against the constraint it prices: is it on exactly when the queue head does not fit?

Complementary slackness (SPEC Eq. 3): the published KV block-second price must be positive while the
KV pool binds (the head of the waiting queue does not fit in it) and 0 while it is slack. For every
price sample of a run this benchmark re-derives, at the moment of the sample, whether the head fits
from the pool's own state (free blocks, evictable prefix-cache entries, the blocks the head needs
beyond the prefix it would reuse and pin, the watermark while anything runs), and sets that against
the published price. It prints, per trace × rate scale × scheduler:

* ``blocked_samples``: samples where the head does not fit; ``share_priced``: of those, the share with
  a non-zero KV price (target ≥ 90%; Wilson 95% interval over samples, which are autocorrelated in
  time, so the interval is optimistic); ``n/a`` where the KV pool never binds;
* ``slack_priced``: samples where the head fits (or nothing waits) but the price is non-zero (should
  be 0).

Traces: the Azure 2023 conversation trace and the Mooncake trace (prefix hashes, so evictions), at
their real rate and 4×, default engine (BLIS llama-3.1-8b/H100) with its 29,205 KV blocks and with
an eighth of them (3,650: a pool that binds on the Azure trace too; ``--kv-blocks``), FCFS and
``priced`` (synthetic V and λ, ``workloads.SYNTHETIC_NOTE``). No timing here.

Run: ``.venv/bin/python benchmarks/bench_serve_prices.py --data ../shared/data --json out.json``
(``--quick``: first 3,000 requests per trace; ``--sample-s``: price sample period, default the
engine's 5 s). Exit status 1 when a cell with blocked samples misses the target or prices a slack pool.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from _common import parser
from tokenomy.interfaces.loaders.traces import load_trace, resolve_trace
from tokenomy.interfaces.outputs import write_json
from tokenomy.interfaces.table import format_table
from tokenomy.serving.engine import Engine
from tokenomy.serving.entities import EngineConfig, Workload
from tokenomy.serving.result import PriceSample
from tokenomy.serving.schedulers import make_scheduler
from tokenomy.serving.session import Session
from tokenomy.serving.workloads import SYNTHETIC_NOTE, rate_scaled

TARGET = 0.90


def head_does_not_fit(s: Session) -> bool:
    """The admission test for the queue head, re-derived from the KV pool's state now."""
    if not len(s.queue):
        return False
    t, kv = s.requests, s.kv
    i = s.queue.peek()
    tokens = t.prompt[i] + t.gen[i]
    pinned = 0
    if t.hashes is not None:
        hs = list(t.hashes[i])
        m = 0
        while m < len(hs) and hs[m] in kv.refs:
            m += 1
        if m * t.hash_block_tokens >= tokens:
            m -= 1  # the last token is always computed
        pinned = sum(kv.entry_blocks for h in hs[:m] if kv.refs[h] == 0)  # it would stop being evictable
        tokens -= m * t.hash_block_tokens
    need = -(-tokens // kv.block_tokens)
    evictable = kv.free + len(kv.policy) * kv.entry_blocks
    running = s.state.nd > 0 or len(s.state.pf) > 0
    return evictable - pinned - need < (s.watermark if running else 0)


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of a proportion k/n."""
    if n == 0:
        return math.nan, math.nan
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return c - h, c + h


def one_run(wl: Workload, scheduler: str, cfg: EngineConfig) -> dict[str, Any]:
    s = Engine(config=cfg).session(
        make_scheduler(scheduler),
        name=wl.name,
        tenant_names=wl.tenant_names,
        hash_block_tokens=wl.hash_block_tokens,
    )
    pairs: list[tuple[bool, bool]] = []

    def on_sample(sample: PriceSample) -> None:
        pairs.append((head_does_not_fit(s), sample.kv_usd_per_block_s > 0.0))

    s.on_sample = on_sample  # type: ignore[method-assign]
    s.add_workload(wl)
    s.finish()
    blocked = [p for b, p in pairs if b]
    k, n = sum(blocked), len(blocked)
    lo, hi = wilson(k, n)
    slack_priced = sum(1 for b, p in pairs if not b and p)
    share = k / n if n else math.nan
    ok = (n == 0 or share >= TARGET) and slack_priced == 0
    return {
        "trace": wl.name.split("@")[0],
        "samples": len(pairs),
        "blocked_samples": n,
        "share_priced": share,
        "ci_lo": lo,
        "ci_hi": hi,
        "slack_priced": slack_priced,
        "result": ("PASS" if ok else "FAIL") if n else ("PASS (n/a: KV never binds)" if ok else "FAIL"),
    }


def main() -> int:
    p = parser(__doc__ or "")
    p.add_argument("--json", default=None, help="write the rows here")
    p.add_argument("--kv-blocks", default="29205,3650", help="KV pool sizes, comma-separated")
    p.add_argument(
        "--sample-s", type=float, default=EngineConfig().price_sample_s, help="price sample period"
    )
    args = p.parse_args()
    data = Path(args.data)
    limit = 3000 if args.quick else None
    rows: list[dict[str, Any]] = []
    grid = [
        (name, kv, k, sched)
        for name in ("azure-conv", "mooncake")
        for kv in (int(x) for x in args.kv_blocks.split(","))
        for k in (1.0, 4.0)
        for sched in ("fcfs", "priced")
    ]
    loaded: dict[str, Workload] = {}
    for name, kv, k, sched in grid:
        if name not in loaded:
            loaded[name] = load_trace(resolve_trace(name, data), name=name, limit=limit, seed=0).workload
        cfg = EngineConfig(price_sample_s=args.sample_s, kv_blocks=kv)
        row = {
            "kv_blocks": kv,
            "rate_scale": k,
            "scheduler": sched,
            **one_run(rate_scaled(loaded[name], k), sched, cfg),
        }
        row["trace"] = name
        rows.append(row)
        print(
            f"  {name} {kv} blocks ×{k:g} {sched}: {row['blocked_samples']} of {row['samples']} samples blocked, "
            f"priced {row['share_priced']:.1%} [{row['ci_lo']:.1%}, {row['ci_hi']:.1%}], "
            f"slack but priced {row['slack_priced']} → {row['result']}",
            flush=True,
        )
    cols = [
        "trace",
        "kv_blocks",
        "rate_scale",
        "scheduler",
        "samples",
        "blocked_samples",
        "share_priced",
        "ci_lo",
        "ci_hi",
    ]
    print(format_table(rows, [*cols, "slack_priced", "result"], digits=4))
    print(f"target: share_priced ≥ {TARGET:.0%} where the head does not fit; slack_priced = 0 everywhere")
    print("note:", SYNTHETIC_NOTE)
    if args.quick:
        print("(--quick: the first 3,000 requests per trace, a smoke run, not the quoted figures)")
    ok = all(r["result"].startswith("PASS") for r in rows)
    if args.json:
        write_json(
            args.json, {"rows": rows, "target": TARGET, "sample_s": args.sample_s, "note": SYNTHETIC_NOTE}
        )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
