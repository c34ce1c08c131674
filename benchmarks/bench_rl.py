"""RL token budgeting benchmark: tokens (and wall time) to a target held-out accuracy per allocation policy.

A real, small RL fine-tuning run per (policy, async lag, seed) (``tokenomy.capital.rl``: a numpy MLP
warm-started on 1-2 digit additions, fine-tuned by a group-relative policy gradient on 1-4 digit
additions with sampled rollouts and an exact verifier). First, on training seeds 1000-1001 only, it
fixes the target (each seed's starting held-out accuracy + 0.75 × uniform GRPO's gain on those seeds'
validation tasks over the token budget) and the drift δ, measured on the same runs: the share r_s of
a fresh rollout's policy gradient that a rollout s = 1, 2, 4, 8 versions old still delivers, fitted as
(1 − δ)^s (``capital.rl.drift``). Then evaluation seeds 0..N-1: policies uniform, dapo, knapsack, tokenomy and
tokenomy-nodiscount at lags 0, 1, 2, 4. It prints per (policy, lag) the mean tokens to target (rollout +
verification + update) with a Student-t 95% CI over seeds, wall seconds to target (provisional: shared
machine), final held-out accuracy, and the paired per-seed token ratios with their CIs and verdicts:
tokenomy ≤ 0.8 × uniform, ≤ DAPO, and with the staleness discount < without it at lag ≥ 2. A CI that
straddles the bar is reported as a tie. Tokens to target is censored at the budget for a run that never
reaches it (``reached`` counts those that do); uncensored beside it: the held-out accuracy gain after
half the budget and its paired difference from uniform. Token prices and V are assumed (synthetic).

Run: ``.venv/bin/python benchmarks/bench_rl.py [--seeds 5] [--lags 0,1,2,4] [--policies ...] [--json PATH]``
(the long-lag ablation: ``--lags 8,16 --policies uniform,tokenomy,tokenomy-nodiscount``; ``--quick``: 2 seeds,
lags 0 and 2, smaller budget). One core.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import one_core, parser

CPUS = one_core()

from tokenomy.capital.rl import RLConfig, calibrate, run_grid, summarise  # noqa: E402
from tokenomy.capital.rl.experiment import SUMMARY_COLUMNS, bar_checks  # noqa: E402
from tokenomy.interfaces.table import format_table  # noqa: E402

POLICIES = ("uniform", "dapo", "knapsack", "tokenomy", "tokenomy-nodiscount")


def main() -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=5, help="evaluation seeds 0..N-1 (default 5)")
    p.add_argument("--lags", default="0,1,2,4", help="comma list of async lags (default 0,1,2,4)")
    p.add_argument(
        "--policies", default=",".join(POLICIES), help="comma list of policies (default: all five)"
    )
    p.add_argument("--max-tokens", type=int, default=RLConfig().max_tokens, help="token budget of a run")
    p.add_argument("--json", metavar="PATH", help="write the figures as JSON here")
    args = p.parse_args()
    seeds = list(range(2 if args.quick else args.seeds))
    lags = [0, 2] if args.quick else [int(x) for x in args.lags.split(",")]
    policies = tuple(x.strip() for x in args.policies.split(",") if x.strip())
    config = RLConfig(max_tokens=150_000 if args.quick else args.max_tokens)
    t0 = time.perf_counter()
    cal = calibrate(config)
    t_cal = time.perf_counter() - t0
    print(
        f"calibration on training seeds ({t_cal:.0f} s): uniform training-task gain {cal.uniform_train_gain:.4f}, validation-task gain "
        f"{cal.uniform_validation_gain:.4f} → "
        f"target gain {cal.target_gain:.4f}; measured r_s {cal.drift_ratios} → δ = {cal.drift_per_version:.4f}"
    )
    config = replace(config, prices=replace(config.prices, drift_per_version=cal.drift_per_version))
    done = [0]
    total = len(seeds) * len(lags) * len(policies)

    def tick(policy: str, lag: int, seed: int, _tr: object) -> None:
        done[0] += 1
        print(f"  run {done[0]}/{total}: {policy} lag {lag} seed {seed}", file=sys.stderr, flush=True)

    t1 = time.perf_counter()
    runs = run_grid(config, policies, seeds, lags, target_gain=cal.target_gain, on_run=tick)
    t_grid = time.perf_counter() - t1
    rows = summarise(runs)
    checks = bar_checks(rows)
    cols = list(SUMMARY_COLUMNS)
    print(
        format_table(
            rows,
            cols,
            title=f"tokens to target, {len(seeds)} seeds, 95% CI (wall times provisional)",
            digits=4,
        )
    )
    for c in checks:
        print(
            f"lag {c['staleness']}: {c['claim']}: {c['ratio']:.3f} [{c['ci_low']:.3f}, {c['ci_high']:.3f}] → {c['verdict']}"
        )
    print(f"wall: calibration {t_cal:.0f} s, grid {t_grid:.0f} s ({len(runs)} runs), one core")
    print(
        "synthetic: token prices (1e-6 USD per token of each use) and V (1.5e-3 USD per unit of group signal)"
    )
    if args.json:
        payload = {
            "calibration": asdict(cal),
            "config": asdict(config),
            "seeds": seeds,
            "lags": lags,
            "results": rows,
            "checks": checks,
            "runs": [asdict(r) for r in runs],
            "wall_s": {"calibration": t_cal, "grid": t_grid},
            "cores": 1,
        }
        Path(args.json).write_text(json.dumps(payload, indent=2, default=float) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
