"""Gate benchmark: ``Gate.check`` per call on the real agent tool calls, next to bare classification.

Prints, each with its target and a baseline measured in the same run (one core):
  * median and p99 µs of ``classify_call`` (the baseline: what any gate must at least do) and of
    ``Gate.check`` without a ledger, on every mini-swe-agent bash command and tau-bench tool call;
    target: the gate adds ≤ 25 µs median over bare classification and stays < 1 ms p99 (a model call
    that produces a tool call takes seconds);
  * ``Gate.check`` with every verdict written to an in-memory DuckDB ledger, one append per verdict
    (``flush_every=1``) and buffered (``flush_every=1000``).
Run: ``.venv/bin/python benchmarks/bench_gate.py [--data DIR] [--quick]``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import one_core, parser, verdict

CPUS = one_core()

import numpy as np  # noqa: E402

from tokenomy.autonomy.classify import classify_call  # noqa: E402
from tokenomy.autonomy.gate import Gate, GateContext  # noqa: E402
from tokenomy.autonomy.verdict import Call  # noqa: E402
from tokenomy.interfaces.loaders.agent_data import load_miniswe, load_schedule, load_taubench  # noqa: E402
from tokenomy.ledger import Ledger  # noqa: E402


def _per_call_us(fn: Callable[[Call], object], calls: list[Call]) -> np.ndarray:
    out = np.empty(len(calls))
    for i, c in enumerate(calls):
        t0 = time.perf_counter_ns()
        fn(c)
        out[i] = (time.perf_counter_ns() - t0) / 1e3
    return out


def _line(name: str, us: np.ndarray) -> str:
    return f"  {name:<44s} median {np.median(us):8.1f} µs   p99 {np.percentile(us, 99):8.1f} µs   (n={us.size:,})"


def main() -> None:
    args = parser(__doc__ or "").parse_args()
    data = Path(args.data)
    schedule = load_schedule()
    swe = [
        Call("bash", {"command": s.command})
        for t in load_miniswe(data)
        for s in t.steps
        if s.command and not s.format_error
    ]
    tau = [Call(c.tool, c.arguments) for e in load_taubench(data, raw=True) for c in e.calls]
    calls = swe + tau
    if args.quick:
        calls = calls[:: max(1, len(calls) // 3000)]
    ctx = GateContext(session_id="bench")
    print(
        f"Gate.check on {len(calls):,} real tool calls ({len(swe):,} bash commands, {len(tau):,} JSON calls); one core"
    )
    bare = _per_call_us(lambda c: classify_call(c.tool, c.arguments, schedule), calls)
    gate = Gate(schedule)
    gated = _per_call_us(lambda c: gate.check(c, ctx), calls)
    print(_line("baseline: classify_call", bare))
    print(_line("Gate.check, no ledger", gated))
    overhead = float(np.median(gated) - np.median(bare))
    p99 = float(np.percentile(gated, 99))
    print(
        f"  gate overhead over classification: {overhead:.1f} µs median; target ≤ 25 µs: {verdict(overhead, 25.0)}"
    )
    print(f"  Gate.check p99 {p99:.0f} µs; target < 1000 µs: {verdict(p99, 1000.0)}")
    n_led = min(len(calls), 300 if args.quick else 2000)
    sample = calls[:: max(1, len(calls) // n_led)][:n_led]
    for flush in (1, 1000):
        ledger = Ledger(":memory:")
        g = Gate(schedule, ledger, flush_every=flush)
        t0 = time.perf_counter()
        for c in sample:
            g.check(c, ctx)
        g.flush()
        per = (time.perf_counter() - t0) / len(sample) * 1e6
        assert ledger.count() == len(sample)
        print(
            f"  Gate.check + ledger row, flush_every={flush:<5d}: {per:8.1f} µs per verdict (mean, n={len(sample):,})"
        )
    classes: dict[str, int] = {}
    for c in calls:
        cls = gate.check(c, ctx).decision
        classes[cls] = classes.get(cls, 0) + 1
    print("  verdicts on the real calls: " + ", ".join(f"{k} {v:,}" for k, v in sorted(classes.items())))


if __name__ == "__main__":
    main()
