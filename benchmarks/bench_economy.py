"""Benchmark of the central claim: shared − local welfare per request at loads 1, 2, 4, and each ablation.

Runs ``tokenomy economy run``'s experiment on the real data (RouterBench, the Azure conversation trace,
mini-swe-agent runs) with every configuration and prints, per load: shared − local welfare per request
with its paired bootstrap CI and whether the CI is above 0 (computed), each ablation's paired
difference against ``shared``, shared − local split into declining low-value work (shared −
shared-no-refuse) and choosing models for the work served (shared-no-refuse − local), and the wall
time of each configuration. The cluster is sized on TRAIN
to offered utilisation 0.6 at load 1 (``economy.sizing``); the bench prints the sizing, the offered
utilisation at each load and the busy share each run measured. V and SLA λ are synthetic.

    .venv/bin/python benchmarks/bench_economy.py [--data DIR] [--requests N] [--seed S] [--trace NAME]
        [--loads 1,2,4] [--utilisation 0.6]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from tokenomy.economy.configs import CONFIGS
from tokenomy.economy.evaluation import bootstrap_mean, utility
from tokenomy.economy.experiment import prepare, run_experiment
from tokenomy.economy.sizing import TARGET_UTILISATION
from tokenomy.interfaces.cmd_economy import DEFAULT_REQUESTS, load_inputs


def main() -> None:
    """Run the benchmark and print its figures."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=None)
    ap.add_argument("--requests", type=int, default=DEFAULT_REQUESTS)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--trace", default="azure-conv")
    ap.add_argument("--loads", default="1,2,4")
    ap.add_argument("--utilisation", type=float, default=TARGET_UTILISATION)
    args = ap.parse_args()
    loads = [float(x) for x in args.loads.split(",")]
    t0 = time.perf_counter()
    trace, routing, trajs = load_inputs(args.data, args.trace, args.requests, args.seed)
    prep = prepare(
        trace, routing, trajs, n_requests=args.requests, seed=args.seed, utilisation=args.utilisation
    )
    t_prep = time.perf_counter() - t0
    exp = run_experiment(prep, list(CONFIGS.values()), loads, seed=args.seed)
    print(
        f"economy bench: {args.trace}, N={args.requests} test requests "
        f"({len(prep.test.chat)} chat, {len(prep.test.agents)} agent tasks), seed {args.seed}; "
        f"load + fit on train {t_prep:.1f} s"
    )
    st = exp.settings
    print(
        f"  cluster sized on train: base utilisation {st['base_utilisation']:.3f} at load 1 -> step times "
        f"×{st['cluster_slowdown']:.4f} ({st['step_model']}); offered utilisation on train "
        + ", ".join(f"×{x:g}: {st[f'offered_utilisation_train_x{x:g}']:.3f}" for x in loads)
    )
    for load, choice in exp.serving:
        print(
            f"  load {load:g}: local serving tuned on train = {choice.scheduler}, max wait {choice.max_wait_s:g} s"
        )
    print("\nshared − local welfare per request (USD), paired bootstrap 95% CI")
    for d in exp.diffs:
        print(
            f"  load {d.load:g}: {d.diff:+.5f} [{d.ci_low:+.5f}, {d.ci_high:+.5f}]  CI above 0: {d.above_zero}"
        )
    print("\neach configuration − shared (USD per request; negative = what that departure loses)")
    for a in exp.ablations:
        print(f"  load {a.load:g} {a.config:<16} {a.diff:+.5f} [{a.ci_low:+.5f}, {a.ci_high:+.5f}]")
    print(
        "\nwhere shared − local comes from (USD per request, paired bootstrap 95% CI): declining low-value "
        "requests, or the rest (the router's model choice for the work served and the agent's marginal stop)"
    )
    print(
        f"  local refusal bar tuned on train: ĉ/q̂ > {st['local_refusal_usd_per_quality']:g} USD per unit quality"
    )
    no_refuse = {a.load: a for a in exp.ablations if a.config == "shared-no-refuse"}
    vs_local = {(a.config, a.load): a for a in exp.against_local}
    for d in exp.diffs:
        nr, m = no_refuse.get(d.load), vs_local.get(("shared-no-refuse", d.load))
        if nr is None or m is None:
            continue
        share = round(-100 * nr.diff / d.diff) if d.diff != 0 else 0
        print(
            f"  load {d.load:g}: declining (shared − shared-no-refuse) {-nr.diff:+.5f} [{-nr.ci_high:+.5f}, "
            f"{-nr.ci_low:+.5f}] = {share:d}% of the gain; serving every request (shared-no-refuse − local) "
            f"{m.diff:+.5f} [{m.ci_low:+.5f}, {m.ci_high:+.5f}]"
        )
        routed = {
            c: float((o.model[o.kind == "chat"] >= 0).mean())
            for (c, x), o in exp.outcomes.items()
            if x == d.load and c in ("local", "shared", "shared-no-refuse", "local-refuse")
        }
        print("           chat requests routed: " + ", ".join(f"{c} {v:.3f}" for c, v in routed.items()))
        out, base = exp.outcomes["shared-no-refuse", d.load], exp.outcomes["local", d.load]
        gain = utility(out) - utility(base)
        agent = out.kind == "agent"
        unstarted = agent & (out.calls == 0)
        parts = []
        for label, mask in (
            ("chat rows (model choice)", ~agent),
            (f"agent tasks never started ({int(unstarted.sum())} of {int(agent.sum())})", unstarted),
            ("other agent tasks", agent & ~unstarted),
        ):
            x, lo, hi = bootstrap_mean(np.where(mask, gain, 0.0), seed=args.seed)
            parts.append(f"{label} {x:+.5f} [{lo:+.5f}, {hi:+.5f}]")
        print("           shared-no-refuse − local by rows: " + "; ".join(parts))
        b = vs_local.get(("local-refuse", d.load))
        if b is not None:
            print(
                f"           value-blind refusal (local-refuse − local) {b.diff:+.5f} [{b.ci_low:+.5f}, {b.ci_high:+.5f}]"
            )
    print("\nwelfare, cost and time per configuration")
    for r in exp.results:
        print(
            f"  load {r.load:g} {r.config:<16} welfare {r.welfare_per_request:+.5f} "
            f"[{r.ci_low:+.5f}, {r.ci_high:+.5f}]  cost {r.cost_per_request_usd:.5f}  "
            f"chat p99 {r.latency_p99_s:6.1f} s  served {r.served_share:.3f}  on cluster {r.hosted_share:.3f}  "
            f"agent success {r.agent_success:.2f}  {r.wall_s:.2f} s"
        )
    print("\nmeasured on the test runs: cluster busy share (GPU stepping / makespan), chat queue wait p99")
    for (name, load), out in exp.outcomes.items():
        if name in ("local", "shared") and out.trace.served is not None:
            run = out.trace.served
            span = float(np.nanmax(run.finish_s)) if len(run.finish_s) else float("nan")
            chat = np.array([step < 0 for _, step in out.trace.link_rows], dtype=bool)
            wait = (run.first_token_s - run.workload.arrival_s)[chat]
            p99 = float(np.nanpercentile(wait, 99)) if np.isfinite(wait).any() else float("nan")
            print(
                f"  load {load:g} {name:<7} busy {run.busy_s / span:.3f}  chat time-to-first-token p99 {p99:.2f} s"
            )
    for note in exp.synthetic:
        print(note)


if __name__ == "__main__":
    main()
