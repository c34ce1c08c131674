"""Action-layer benchmark: quality of the marginal stopping rule on held-out runs, and speed.

Quality: on the mini-swe-agent + Gemini 3 Pro SWE-bench Verified runs, every stopping policy is fitted
on train instances and judged on held-out ones (5-fold cross-fitting, seed 0; ``--seeds N`` repeats
the split N times). Target: the marginal rule (``tokenomy``) has welfare ≥ the best fixed cost cap
chosen on train at every V in {0.5, 1, 2, 5, 10}, strictly higher at three of them. Baselines in the
same run: the best train cost cap, no cap, SWE-agent's $3 / 250-step caps.
Speed: ``MarginalController.decide`` median (target < 50 µs; baseline: ``tokenomy.core.choose`` on the
same options as TokenUse values), and replaying all 500 trajectories under the 20 policies (fitted)
(target < 10 s; baseline: the step-by-step ``ReplayEnv`` loop for the same replays).

    .venv/bin/python benchmarks/bench_agent.py [--quick] [--data DIR] [--seeds N] [--first-seed S]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import median_of, one_core, parser, verdict

V_VALUES = (0.5, 1.0, 2.0, 5.0, 10.0)


def main() -> int:
    p = parser(__doc__ or "")
    p.add_argument("--seeds", type=int, default=1, help="repeat the quality check over this many splits")
    p.add_argument("--first-seed", type=int, default=0, help="seed of the first split (default 0)")
    args = p.parse_args()
    one_core()
    import numpy as np

    from tokenomy.audit.report_agent import agent_eval, quality_check
    from tokenomy.autonomy.controller import MarginalController, StepState
    from tokenomy.autonomy.features import build_table
    from tokenomy.autonomy.replay import ReplayEnv
    from tokenomy.autonomy.stopping import default_policies, stop_outcomes
    from tokenomy.core import choose
    from tokenomy.interfaces.loaders.agent_data import load_miniswe, load_schedule
    from tokenomy.interfaces.table import format_table

    data = Path(args.data)
    table = build_table(load_miniswe(data))
    print(f"data: {data} — {len(table.n_calls)} trajectories, {len(table.step)} billed calls")

    # --- quality -------------------------------------------------------------------------------
    seeds = range(args.first_seed, args.first_seed + (1 if args.quick else args.seeds))
    met = 0
    worst: dict[float, list[float]] = {v: [] for v in V_VALUES}
    plain_met = 0
    for seed in seeds:
        rows = agent_eval(table, V_VALUES, folds=5, seed=seed)
        check = quality_check(rows)
        met += bool(check["meets_target"])
        by = {(r["V"], r["policy"]): r for r in rows}
        for v in V_VALUES:
            worst[v].append(by[v, "tokenomy"]["diff_vs_best_cost_cap"])
        plain = [by[v, "tokenomy_plain"]["diff_vs_best_cost_cap"] for v in V_VALUES]
        plain_met += bool(min(plain) >= -1e-9 and sum(d > 1e-9 for d in plain) >= 3)
        tab = [
            {
                "V": v,
                "tokenomy": by[v, "tokenomy"]["welfare_per_task"],
                "best_cost_cap_train": by[v, "best_cost_cap_train"]["welfare_per_task"],
                "diff": by[v, "tokenomy"]["diff_vs_best_cost_cap"],
                "diff_ci95": f"[{by[v, 'tokenomy']['diff_ci_low']:+.4f}, {by[v, 'tokenomy']['diff_ci_high']:+.4f}]",
                "plain_rule_diff": by[v, "tokenomy_plain"]["diff_vs_best_cost_cap"],
                "no_cap": by[v, "no_cap"]["welfare_per_task"],
                "swe_agent_3usd": by[v, "swe_agent_cost_cap_3usd"]["welfare_per_task"],
                "swe_agent_250": by[v, "swe_agent_step_cap_250"]["welfare_per_task"],
                "oracle(n/a)": by[v, "oracle_ex_post"]["welfare_per_task"],
            }
            for v in V_VALUES
        ]
        print(
            format_table(tab, title=f"\nheld-out welfare per task, USD (5-fold cross-fitting, seed {seed})")
        )
        print(
            f"target: ≥ best train cost cap at every V and > at ≥ 3 → ≥ at every V: "
            f"{check['at_least_at_every_V']}, strictly higher at {check['strictly_higher_at']} — "
            f"{'meets target' if check['meets_target'] else 'MISSES target'}"
        )
    if len(seeds) > 1:
        print(
            f"quality target met on {met} of {len(seeds)} splits (seeds {seeds.start}–{seeds.stop - 1}); "
            f"baseline in the same run, the plain rule (no margin, no budget): {plain_met} of {len(seeds)}"
        )
        print(
            "tokenomy − best train cost cap over the splits, USD per task: "
            + "; ".join(
                f"V={v:g}: min {min(d):+.4f}, mean {sum(d) / len(d):+.4f}, < 0 on {sum(x < -1e-9 for x in d)}"
                for v, d in worst.items()
            )
        )

    # --- speed: decide() -----------------------------------------------------------------------
    ctl = MarginalController(load_schedule())
    rng = np.random.default_rng(0)
    states = [
        StepState(
            v_usd=float(rng.choice(V_VALUES)),
            p_success=float(rng.uniform()),
            remaining_usd=float(rng.uniform(0, 2)),
            next_call_usd=float(rng.uniform(0.002, 0.05)),
            act_class=str(rng.choice(["read", "draft", "execute", "commit", "transfer"])),
            voi_verify=float(rng.uniform(0, 0.05)),
            spent_usd=float(rng.uniform(0, 3)),
            cap_usd=3.0,
        )
        for _ in range(1000)
    ]
    n = 2000 if args.quick else 20000

    def decide_all() -> None:
        for s in states:
            ctl.decide(s)

    def choose_all() -> None:
        for s in states:
            choose(ctl.candidates(s), ctl.step_prices(s))

    reps = max(1, n // len(states))
    t_decide = median_of(decide_all, reps) / len(states)
    t_choose = median_of(choose_all, max(1, reps // 4)) / len(states)
    print(
        f"\ndecide(): median {t_decide * 1e6:.2f} µs per call (target < 50 µs) — {verdict(t_decide, 50e-6)}; "
        f"baseline core.choose on TokenUse candidates: {t_choose * 1e6:.2f} µs"
    )

    # --- speed: replay of 500 trajectories under 20 policies -----------------------------------
    t0 = time.perf_counter()
    pols = [p.fit(table, 2.0) for p in default_policies()]
    t_fit = time.perf_counter() - t0
    t0 = time.perf_counter()
    keeps = []
    for pol in pols:
        keep = pol.decide(table, 2.0)
        stop_outcomes(table, keep)
        keeps.append(keep)
    t_vec = time.perf_counter() - t0
    env = ReplayEnv(table, 2.0)
    sub = pols if not args.quick else pols[:3]
    t0 = time.perf_counter()
    for keep in keeps[: len(sub)]:
        for t in range(len(table.n_calls)):
            obs, _ = env.reset(options={"index": t})
            done = False
            while not done:
                obs, _, done, _, _ = env.step(int(keep[obs["row"]]) if obs is not None else 0)
    t_env = (time.perf_counter() - t0) * len(pols) / len(sub)
    print(
        f"replay 500 trajectories × {len(pols)} policies: {t_vec:.3f} s (target < 10 s) — {verdict(t_vec, 10.0)}; "
        f"baseline step-by-step ReplayEnv loop: {t_env:.2f} s{' (extrapolated from 3 policies)' if args.quick else ''}"
    )
    print(
        f"  with fitting the 20 policies on all 500 first: {t_fit + t_vec:.3f} s (target < 10 s) — {verdict(t_fit + t_vec, 10.0)}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
