"""RL token budgeting benchmark: tokens (and wall time) to a target held-out accuracy per allocation policy.

A real, small RL fine-tuning run per (policy, async lag, seed) (``tokenomy.capital.rl``: a numpy MLP
warm-started on 1-2 digit additions, fine-tuned by a group-relative policy gradient on 1-4 digit
additions with sampled rollouts and an exact verifier). First, on training seeds 1000-1001 only, it
fixes the target (each seed's starting held-out accuracy + 0.75 × uniform GRPO's gain on those seeds'
validation tasks over the token budget) and the drift δ, measured on the same runs: the share r_s of
a fresh rollout's policy gradient that a rollout s = 1, 2, 4, 8 versions old still delivers, fitted as
(1 − δ)^s (``capital.rl.drift``), used by the fixed-decay ablation. Then, on training seeds 1000-1003 (their
validation tasks), it chooses the tokenomy rule's importance correction of stale rollouts (ratio level
token / sequence, truncation 1, 2, ∞) by the mean held-out gain at half budget over lags 2, 4, 16
(``experiment.select_importance``). Then evaluation seeds S..S+N-1: policies uniform, dapo, knapsack,
tokenomy (importance-corrected staleness), tokenomy-decay (the earlier fixed (1 − δ)^s discount, an
ablation) and tokenomy-nodiscount (staleness ignored) at lags 0, 1, 2, 4, 16. It prints per (policy, lag) the mean tokens to target (rollout +
verification + update) with a Student-t 95% CI over seeds, wall seconds to target (provisional: shared
machine), final held-out accuracy, and the paired per-seed token ratios with their CIs and verdicts:
tokenomy ≤ 0.8 × uniform, ≤ DAPO, and each staleness treatment < ignoring staleness at lag ≥ 2, plus the
uncensored paired differences of held-out gain at half budget, and the measured ESS share (1 − δ_s)
of the importance weights per lag. A CI that
straddles the bar is reported as a tie. Tokens to target is censored at the budget for a run that never
reaches it (``reached`` counts those that do); uncensored beside it: the held-out accuracy gain after
half the budget and its paired difference from uniform. Token prices and V are assumed (synthetic).

Run: ``.venv/bin/python benchmarks/bench_rl.py [--seeds 5] [--seed-start 0] [--lags 0,1,2,4,16]
[--policies ...] [--learning-rate LR] [--json PATH]`` (``--quick``: 2 seeds, lags 0 and 2, smaller budget, no selection). One core.
Seeds can be split over processes (``--seed-start``) and their JSON files combined by ``--merge A.json,B.json
--json ALL.json`` (the calibration and the chosen correction must agree; the runs are re-summarised).
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from _common import one_core, parser

CPUS = one_core()

from tokenomy.capital.rl import RLConfig, RunSummary, calibrate, run_grid, summarise  # noqa: E402
from tokenomy.capital.rl.experiment import SUMMARY_COLUMNS, bar_checks, select_importance  # noqa: E402
from tokenomy.capital.rl.staleness import ImportanceCorrection  # noqa: E402
from tokenomy.core.errors import ValidationError  # noqa: E402
from tokenomy.interfaces.table import format_table  # noqa: E402

POLICIES = ("uniform", "dapo", "knapsack", "tokenomy", "tokenomy-decay", "tokenomy-nodiscount")


def parse_importance(label: str) -> ImportanceCorrection:
    """``token,c=2`` / ``sequence,c=inf`` → the correction (exits with a one-line error otherwise)."""
    level, _, c = label.partition(",c=")
    try:
        return ImportanceCorrection(level, float(c))
    except (ValueError, ValidationError) as exc:
        raise SystemExit(
            f"bench_rl --importance: expected LEVEL,c=C (e.g. sequence,c=1), got {label!r}: {exc}"
        ) from None


def show(runs: list[RunSummary], payload: dict[str, Any], json_path: str | None) -> None:
    """Print the table, the verdicts and the measured ESS shares; write the JSON."""
    rows = summarise(runs)
    checks = bar_checks(rows)
    seeds = sorted({r.seed for r in runs})
    print(
        format_table(
            rows,
            list(SUMMARY_COLUMNS),
            title=f"tokens to target, {len(seeds)} seeds, 95% CI (wall times provisional)",
            digits=4,
        )
    )
    for c in checks:
        print(
            f"lag {c['staleness']}: {c['claim']}: {c['value']:.4f} [{c['ci_low']:.4f}, {c['ci_high']:.4f}] → {c['verdict']}"
        )
    for r in rows:
        if r["policy"] == "tokenomy":
            print(
                f"lag {r['staleness']}: tokenomy's importance weights keep ESS/n = {r['ess_share']:.4f} "
                f"(measured staleness loss δ_s = {1 - float(str(r['ess_share'])):.4f})"
            )
    print(
        "synthetic: token prices (1e-6 USD per token of each use) and V (1.5e-3 USD per unit of group signal)"
    )
    if json_path:
        out = {
            **payload,
            "seeds": seeds,
            "results": rows,
            "checks": checks,
            "runs": [asdict(r) for r in runs],
        }
        Path(json_path).write_text(json.dumps(out, indent=2, default=float) + "\n")
        print(f"wrote {json_path}")


def merge(paths: list[str], json_path: str | None) -> int:
    """Combine saved runs of disjoint seeds measured with the same calibration and correction."""
    parts = [json.loads(Path(x).read_text()) for x in paths]
    for key in ("calibration", "importance", "config", "lags"):
        if any(part.get(key) != parts[0].get(key) for part in parts):
            raise SystemExit(f"bench_rl --merge: the files disagree on {key!r}")
    runs = [RunSummary(**r) for part in parts for r in part["runs"]]
    if len({(r.policy, r.staleness, r.seed) for r in runs}) != len(runs):
        raise SystemExit("bench_rl --merge: the files share a (policy, lag, seed) run")
    wall = {k: sum(float(part["wall_s"][k]) for part in parts) for k in ("grid",)}
    payload = {k: parts[0][k] for k in ("calibration", "importance", "config", "lags", "cores")}
    show(runs, {**payload, "merged_from": paths, "wall_s": wall}, json_path)
    print(f"merged {len(paths)} files, {len(runs)} runs; grid wall {wall['grid']:.0f} s in all (provisional)")
    return 0


def main() -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=5, help="evaluation seeds S..S+N-1 (default 5)")
    p.add_argument("--seed-start", type=int, default=0, help="first evaluation seed S (default 0)")
    p.add_argument("--lags", default="0,1,2,4,16", help="comma list of async lags (default 0,1,2,4,16)")
    p.add_argument("--policies", default=",".join(POLICIES), help="comma list of policies (default: all six)")
    p.add_argument("--max-tokens", type=int, default=RLConfig().max_tokens, help="token budget of a run")
    p.add_argument("--merge", metavar="A.json,B.json", help="combine saved runs instead of running")
    p.add_argument(
        "--importance",
        metavar="LEVEL,c=C",
        help="skip the selection and use this correction (a label an earlier selection printed, e.g. sequence,c=1)",
    )
    p.add_argument(
        "--learning-rate",
        type=float,
        default=RLConfig().learning_rate,
        help="Adam step size of every run (default: the config's; a sensitivity probe, not the quoted setup)",
    )
    p.add_argument("--json", metavar="PATH", help="write the figures as JSON here")
    args = p.parse_args()
    if args.merge:
        return merge([x for x in args.merge.split(",") if x], args.json)
    seeds = list(range(args.seed_start, args.seed_start + (2 if args.quick else args.seeds)))
    lags = [0, 2] if args.quick else [int(x) for x in args.lags.split(",")]
    policies = tuple(x.strip() for x in args.policies.split(",") if x.strip())
    if not 0.0 < args.learning_rate < 1.0:  # (also refuses nan)
        p.error(f"--learning-rate: expected a step size in (0, 1), got {args.learning_rate!r}")
    config = RLConfig(max_tokens=150_000 if args.quick else args.max_tokens, learning_rate=args.learning_rate)
    t0 = time.perf_counter()
    cal = calibrate(config)
    t_cal = time.perf_counter() - t0
    print(
        f"calibration on training seeds ({t_cal:.0f} s): uniform training-task gain {cal.uniform_train_gain:.4f}, "
        f"validation-task gain {cal.uniform_validation_gain:.4f} → target gain {cal.target_gain:.4f}; "
        f"measured r_s {cal.drift_ratios} → δ = {cal.drift_per_version:.4f} (the decay ablation's)"
    )
    config = replace(config, prices=replace(config.prices, drift_per_version=cal.drift_per_version))
    t2 = time.perf_counter()
    given = None if args.importance is None else parse_importance(args.importance)
    choice = None if args.quick or given is not None else select_importance(config)
    t_sel = time.perf_counter() - t2
    if given is not None:
        print(f"importance correction given (selection not re-run here): {given.label}")
    if choice is not None:
        scores = ", ".join(f"{k} {v:.4f}" for k, v in choice.scores)
        print(
            f"importance correction chosen on training seeds ({t_sel:.0f} s): {choice.chosen.label} "
            f"(mean validation gain at half budget, lags 2/4/16: {scores})"
        )
    done = [0]
    total = len(seeds) * len(lags) * len(policies)

    def tick(policy: str, lag: int, seed: int, _tr: object) -> None:
        done[0] += 1
        print(f"  run {done[0]}/{total}: {policy} lag {lag} seed {seed}", file=sys.stderr, flush=True)

    t1 = time.perf_counter()
    runs = run_grid(
        config,
        policies,
        seeds,
        lags,
        target_gain=cal.target_gain,
        importance=given if choice is None else choice.chosen,
        on_run=tick,
    )
    t_grid = time.perf_counter() - t1
    payload = {
        "calibration": asdict(cal),
        "importance": None
        if choice is None
        else {"chosen": choice.chosen.label, "scores": dict(choice.scores)},
        "config": asdict(config),
        "lags": lags,
        "wall_s": {"calibration": t_cal, "selection": t_sel, "grid": t_grid},
        "cores": 1,
    }
    show(runs, payload, args.json)
    print(
        f"wall: calibration {t_cal:.0f} s, selection {t_sel:.0f} s, grid {t_grid:.0f} s ({len(runs)} runs), "
        "one core, shared machine (provisional)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
