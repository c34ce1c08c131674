"""``bench_audit.py --ledger-decisions N``: an RL-style ledger audited by the bulk reader and, in the same
run, by the record-by-record path it replaced.

The ledger: N capital-layer decisions, one group of rollouts per three rows (``rollout-sample`` /
``verify`` / ``rollout-use``), batched by token count with the metadata ``capital.rl`` writes
(policy, seed, staleness, drift, tokens, the synthetic-prices label); 30% of groups dropped (null option).
Prices and signal values are synthetic (seeded); only the audit's speed is measured.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np


def write_rl_ledger(path: Path, n_decisions: int, seed: int = 0) -> int:
    """Write the ledger; return the decisions written."""
    from tokenomy.core.prices import PriceSource
    from tokenomy.ledger import DecisionBatch, Layer, Ledger

    rng = np.random.default_rng(seed)
    g = max(n_decisions // 3, 1)
    step = np.arange(g) // 32
    ids = np.array(
        [f"bench/v{max(s - 2, 0)}/s{s}/g{k % 32}" for k, s in enumerate(step.tolist())], dtype=object
    )
    meta = {"policy": "tokenomy", "seed": seed, "staleness_versions": 2, "drift_per_version": 0.05,
            "synthetic": "token prices and V are assumed"}  # fmt: skip
    p_hat = rng.uniform(0, 1, g)
    rows = (
        ("rollout-sample", "rollout", "sample", 8 * p_hat * (1 - p_hat), np.zeros(g, np.int64)),
        ("verify", "verify", "check", 8 * p_hat * (1 - p_hat), np.zeros(g, np.int64)),
        ("rollout-use", "update", "train", rng.integers(0, 9, g) / 8 * (1 - rng.integers(0, 9, g) / 8),
         np.where(rng.uniform(size=g) < 0.7, 0, -1).astype(np.int64)),
    )  # fmt: skip
    written = 0
    with Ledger(path) as ledger:
        for point, kind, name, dq, chosen in rows:
            tokens = rng.integers(4, 60, g)
            for count in np.unique(tokens).tolist():
                at = tokens == count
                n = int(at.sum())
                zeros = np.zeros((n, 1))
                ledger.append_batch(
                    DecisionBatch(
                        request_ids=ids[at],
                        layer=Layer.CAPITAL,
                        decision_point=point,
                        names=(name,),
                        dq=dq[at][:, None],
                        dc_usd=np.full((n, 1), 1e-6 * count),
                        dl_s=zeros,
                        dr=zeros,
                        dr_irr=zeros,
                        chosen=chosen[at],
                        v_usd=np.full(n, 1.5e-3),
                        lam_usd_per_s=np.zeros(n),
                        rho_usd=np.zeros(n),
                        rho_irr_usd=np.zeros(n),
                        time_s=step[at].astype(np.float64),
                        sources={"v_source": PriceSource.OPERATOR},
                        kind=kind,
                        metadata={**meta, "tokens": int(count)},
                    )
                )
                written += n
    return written


def record_by_record(path: Path) -> dict[str, Any]:
    """The path the bulk reader replaced: every record built and checked, vectors recomputed in memory."""
    from tokenomy.audit.engine import run_audit
    from tokenomy.audit.importers.ledger import from_records
    from tokenomy.audit.pricing import GenaiPricesTable
    from tokenomy.interfaces.loaders.agent_data import load_schedule
    from tokenomy.ledger import Ledger

    with Ledger(path, read_only=True) as ledger:
        decisions, outcomes = list(ledger.decisions()), list(ledger.outcomes())
    res = run_audit(
        from_records(decisions, outcomes),
        GenaiPricesTable(),
        decisions=decisions,
        outcomes=outcomes,
        schedule=load_schedule(),
        schedule_source="default_schedule.toml (packaged)",
    )
    return res.as_dict()


def bench_ledger(n_decisions: int) -> dict[str, Any]:
    """Print and return the figures."""
    import json

    from tokenomy.interfaces.cmd_audit import audit_inputs

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rl.duckdb"
        tw = time.perf_counter()
        n = write_rl_ledger(path, n_decisions)
        print(f"\nledger: wrote {n:,} RL-style decisions ({path.stat().st_size / 1e6:.0f} MB) in "
              f"{time.perf_counter() - tw:.1f} s")  # fmt: skip
        t0, c0 = time.perf_counter(), time.process_time()
        _, fast = audit_inputs([str(path)], "ledger")
        t_fast, c_fast = time.perf_counter() - t0, time.process_time() - c0
        t1, c1 = time.perf_counter(), time.process_time()
        slow = record_by_record(path)
        t_slow, c_slow = time.perf_counter() - t1, time.process_time() - c1
    keys = ("totals", "failure_modes", "views", "prices_by_layer")
    same = all(json.dumps(fast[k], sort_keys=True) == json.dumps(slow[k], sort_keys=True) for k in keys)
    print(f"  tokenomy audit of the ledger (bulk reader, JSON payload built): {t_fast:.1f} s wall, "
          f"{c_fast:.1f} s CPU")  # fmt: skip
    print(f"  baseline record-by-record path, same run: {t_slow:.1f} s wall, {c_slow:.1f} s CPU → speed-up "
          f"×{t_slow / t_fast:.1f} wall, ×{c_slow / c_fast:.1f} CPU (CPU time, all threads, is the steadier "
          f"figure on a shared machine); same totals, findings, views and prices: {same}")  # fmt: skip
    stale = fast["failure_modes"]["stale_rollouts"]
    print(f"  stale_rollouts: {stale['count']:,} of {stale['details'].get('rollout_decisions', 0):,} rollout-use "
          f"decisions (synthetic prices)")  # fmt: skip
    return {
        "decisions": n,
        "bulk_s": t_fast,
        "record_by_record_s": t_slow,
        "speedup": t_slow / t_fast,
        "bulk_cpu_s": c_fast,
        "record_by_record_cpu_s": c_slow,
        "speedup_cpu": c_slow / c_fast,
        "same": same,
    }
