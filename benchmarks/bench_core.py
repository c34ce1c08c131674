"""Core benchmark: Eq. 1 over 1,000,000 requests × 16 uses, and the ledger at 1,000,000 rows.

Prints, each with its target and a baseline measured in the same run:
  * Eq. 1 choice, 1M × 16 with per-request V (target < 0.5 s, one core); baseline: the per-request
    ``choose()`` loop, timed on 20,000 requests and scaled.
  * ledger append of 1M decision rows with 4 candidates each (target < 10 s); baseline: the
    object path ``Ledger.append(list[Decision])`` timed on 20,000 rows and scaled.
  * the regret query over those 1M decisions with 4M counterfactual outcomes (target < 5 s).
The Eq. 1 figures are taken pinned to one core; the ledger figures on the whole machine (2 cores here).
Run: ``.venv/bin/python benchmarks/bench_core.py`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import all_cores, best_of, one_core, parser, verdict

CPUS = one_core()

import numpy as np  # noqa: E402

from tokenomy.core import PriceVector, TokenUse, choose, choose_many  # noqa: E402
from tokenomy.ledger import Candidate, Decision, DecisionBatch, Layer, Ledger  # noqa: E402


def bench_rule(n: int, m: int) -> None:
    rng = np.random.default_rng(0)
    v = rng.lognormal(0.0, 2.0, n)
    dq = rng.random((n, m))
    dc, dl, dr = rng.random(m) * 0.01, rng.random(m), rng.random(m) * 0.01
    t_vec, (idx, _) = best_of(lambda: choose_many(v, dq, dc, dl, dr, lam_usd_per_s=0.01, rho_usd=1.0))
    t_nov, _ = best_of(
        lambda: choose_many(v, dq, dc, dl, dr, lam_usd_per_s=0.01, rho_usd=1.0, validate=False)
    )
    k = 20_000
    uses_cost = [(dc[j], dl[j], dr[j]) for j in range(m)]

    def loop() -> None:
        for i in range(k):
            uses = [TokenUse(f"u{j}", dq[i, j], *uses_cost[j]) for j in range(m)]
            choose(uses, PriceVector(v_usd=v[i], lam_usd_per_s=0.01, rho_usd=1.0))

    t_loop, _ = best_of(loop, repeat=1)
    loop_scaled = t_loop * n / k
    print(f"Eq. 1 choice, {n:,} requests × {m} uses (one core)")
    print(
        f"  vectorised, validated : {t_vec:.3f} s  ({n / t_vec / 1e6:.1f} M requests/s)  target < 0.5 s: "
        f"{verdict(t_vec, 0.5)}"
    )
    print(f"  vectorised, unchecked : {t_nov:.3f} s")
    print(
        f"  baseline per-request choose() loop: {loop_scaled:.1f} s (scaled from {k:,})  → speed-up ×{loop_scaled / t_vec:,.0f}"
    )
    print(f"  null option chosen for {np.mean(idx < 0):.1%} of requests")


def make_batch(n: int, m: int, offset: int) -> DecisionBatch:
    rng = np.random.default_rng(offset)
    v = rng.lognormal(0.0, 2.0, n)
    dq, dc = rng.random((n, m)), rng.random((n, m)) * 0.01
    z = np.zeros((n, m))
    idx, _ = choose_many(v, dq, dc, validate=False)
    return DecisionBatch(
        np.char.add("r", np.arange(offset, offset + n).astype(str)).astype(object),
        Layer.DEMAND,
        "route",
        tuple(f"m{j}" for j in range(m)),
        dq,
        dc,
        z,
        z,
        z,
        idx,
        v,
        np.zeros(n),
        np.zeros(n),
        np.zeros(n),
        np.arange(n, dtype=float),
    )


def bench_ledger(n: int, m: int, tmp: Path) -> None:
    batch = make_batch(n, m, 0)
    path = tmp / "bench.duckdb"
    with Ledger(path) as ledger:
        t0 = time.perf_counter()
        ledger.append_batch(batch)
        t_append = time.perf_counter() - t0
        k = 20_000
        small = make_batch(k, m, n)
        decisions = [
            Decision(
                str(small.request_ids[i]),
                Layer.DEMAND,
                "route",
                tuple(Candidate(small.names[j], small.dq[i, j], small.dc_usd[i, j]) for j in range(m)),
                None if small.chosen[i] < 0 else int(small.chosen[i]),
                PriceVector(v_usd=small.v_usd[i]),
            )
            for i in range(k)
        ]
        t0 = time.perf_counter()
        ledger.append(decisions)
        t_obj = (time.perf_counter() - t0) * n / k
        # every model's outcome is observed (as in the routing data): N × M counterfactual outcomes
        rng = np.random.default_rng(1)
        ids = np.repeat(np.asarray(batch.request_ids, dtype=object), m)
        names = np.tile(np.array(batch.names, dtype=object), n)
        t0 = time.perf_counter()
        ledger.append_outcome_arrays(
            ids, (rng.random(n * m) < batch.dq.ravel()).astype(float), batch.dc_usd.ravel(), candidate=names
        )
        t_out = time.perf_counter() - t0
        t0 = time.perf_counter()
        regret = ledger.regret()
        t_regret = time.perf_counter() - t0
        t0 = time.perf_counter()
        vectors = ledger.request_vectors()
        t_vec = time.perf_counter() - t0
    size_mb = path.stat().st_size / 1e6
    r = regret.column("regret_usd").to_numpy(zero_copy_only=False)
    print(f"\nledger, DuckDB file ({size_mb:.0f} MB)")
    print(
        f"  append {n:,} decision rows × {m} candidates (columnar batch): {t_append:.2f} s  target < 10 s: "
        f"{verdict(t_append, 10.0)}"
    )
    print(
        f"  baseline object path append(list[Decision]): {t_obj:.1f} s (scaled from 20,000)  → ×{t_obj / t_append:.1f}"
    )
    print(f"  append {n * m:,} counterfactual outcomes (columnar): {t_out:.2f} s")
    print(
        f"  regret query over {regret.num_rows:,} decisions: {t_regret:.2f} s  target < 5 s: {verdict(t_regret, 5.0)}"
    )
    print(f"  per-request vector query: {t_vec:.2f} s ({vectors.num_rows:,} requests)")
    print(
        f"  mean regret {np.nanmean(r):.4f} USD; decisions with regret > 0: {np.mean(r[~np.isnan(r)] > 1e-12):.1%}"
    )


def main() -> None:
    args = parser(__doc__ or "").parse_args()
    n = 100_000 if args.quick else 1_000_000
    bench_rule(n, 16)
    cores = all_cores(CPUS)  # DuckDB is measured on the whole machine, as a user runs it
    print(f"\n(ledger figures use all {cores} cores of this machine; DuckDB's default thread count)")
    with tempfile.TemporaryDirectory() as tmp:
        bench_ledger(n, 4, Path(tmp))


if __name__ == "__main__":
    main()
