"""``tokenomy rl run``: tokens to a target held-out accuracy per RL allocation policy and async lag.

``rl run [--policy uniform,dapo,knapsack,tokenomy] [--seeds 5] [--staleness 0,1,2,4] [--target ACC]
[--drift δ|calibrate] [--max-tokens N] --json PATH [--report HTML] [--ledger L]`` fine-tunes a small
numpy policy on generated additions (``tokenomy.capital.rl``) once per (policy, lag, seed), prints a
table of tokens to target with 95% CIs over seeds and the paired comparisons, and writes the JSON
(``{"results": [{"policy", "staleness", "tokens_to_target", "ci_low", "ci_high", "final_accuracy",
...}], ...}``), an HTML report and a ledger of every rollout, verification and update decision.
Without ``--target`` / ``--drift`` both are fixed first on training tasks of training seeds. This
module only parses, calls and prints.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import asdict, replace
from typing import Any

from tqdm import tqdm

from tokenomy.audit.report_rl import build_report
from tokenomy.capital.rl import ALLOCATORS, RLConfig, RunTrace, calibrate, run_batches, run_grid, summarise
from tokenomy.capital.rl.experiment import SUMMARY_COLUMNS, Calibration, bar_checks, calibration_runs
from tokenomy.core.errors import ValidationError
from tokenomy.interfaces.args import float_in, int_in, items
from tokenomy.interfaces.outputs import (
    atomic_write,
    check_output_path,
    ledger_step,
    refuse_recorded,
    write_results_json,
)
from tokenomy.interfaces.table import format_table
from tokenomy.ledger import DecisionBatch, Ledger

__all__ = ["register", "run", "shown_rows"]

SYNTHETIC = [
    "token prices (USD 1e-6 per rollout, verifier and update token) and V (USD per unit of gradient signal) are "
    "assumed; they set where the tokenomy rule stops buying and what the ledger's surpluses read",
]
WHAT = (
    "A real, small RL fine-tuning run: a two-layer tanh MLP (numpy, manual backprop) warm-started by "
    "maximum likelihood on 1-2 digit additions, then trained by a group-relative policy gradient (reward − "
    "group mean, Adam) on 192 generated additions of 1-4 digits (answers sampled digit by digit, exact-check "
    "verifier); held-out accuracy = exact expected pass rate on 192 disjoint additions."
)

_TEXT = """\
Measure how many tokens (rollout + verification + update) each allocation policy
needs to lift held-out accuracy to a target, over seeds, with and without async lag.

Policies: uniform (GRPO groups), dapo (dynamic sampling), knapsack (p(1-p) per
token), tokenomy (Eq. 11-12: all three token uses priced, stale rollouts
importance-corrected and valued by their effective sample size), and two
staleness ablations: tokenomy-decay (fixed (1-δ)^s discount, the earlier
treatment) and tokenomy-nodiscount (staleness ignored).

Example:
  tokenomy rl run --seeds 5 --staleness 0,1,2,4 --json rl.json --report rl.html --ledger rl.duckdb
"""


MAX_LAG = 64
"""The largest async lag (``--staleness``) in policy versions."""


def register(sub: Any) -> None:
    """Add the ``rl`` command group (``rl run``)."""
    group = sub.add_parser("rl", help="RL token budgeting: a small real RL run per allocation policy")
    runs = group.add_subparsers(dest="rl_command", metavar="SUBCOMMAND")
    p = runs.add_parser(
        "run",
        help="tokens to a target held-out accuracy per policy and async lag, CIs over seeds",
        description=_TEXT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--policy",
        default="uniform,dapo,knapsack,tokenomy",
        help="comma list of policies (default: the four)",
    )
    p.add_argument(
        "--seeds", type=int_in(2, 50), default=5, help="evaluation seeds 0..N-1, N ≥ 2 (default 5)"
    )
    p.add_argument(
        "--staleness",
        default="0,1,2,4",
        help=f"comma list of async lags in policy versions, each in [0, {MAX_LAG}]",
    )
    p.add_argument(
        "--target",
        type=float_in(0.0, 1.0, above=True),
        help="absolute held-out accuracy to reach (default: each seed's start + a gain fixed on training seeds)",
    )
    p.add_argument(
        "--drift",
        default="calibrate",
        help="δ per policy version in [0, 1), or 'calibrate' (default: measured on training seeds)",
    )
    p.add_argument(
        "--max-tokens",
        type=int_in(1000),
        default=RLConfig().max_tokens,
        help="token budget of a run: it stops before a step that would exceed it; a budget below one "
        "step's spend is refused, stating the minimum",
    )
    p.add_argument("--report", metavar="HTML", help="write the HTML report here")
    p.add_argument(
        "--ledger", metavar="PATH", help="append every rollout, verification and update decision here"
    )
    if not any("--json" in a.option_strings for a in p._actions):
        p.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    p.set_defaults(func=run)


def _parse(args: argparse.Namespace) -> tuple[list[str], list[int], float | None]:
    policies = items(args.policy, "--policy")
    bad = [x for x in policies if x not in ALLOCATORS]
    if not policies or bad:
        raise ValidationError(
            f"--policy must be a comma list of {', '.join(sorted(ALLOCATORS))}; got {args.policy!r}"
        )
    want = f"--staleness must be whole numbers in [0, {MAX_LAG}], e.g. 0,1,2,4; got {args.staleness!r}"
    try:
        lags = sorted(int(x) for x in items(args.staleness, "--staleness"))
    except ValueError:
        raise ValidationError(want) from None
    if not lags or lags[0] < 0 or lags[-1] > MAX_LAG:
        raise ValidationError(want)
    drift: float | None = None
    if args.drift != "calibrate":
        try:
            drift = float(args.drift)
        except ValueError:
            drift = -1.0
        if not 0.0 <= drift < 1.0:
            raise ValidationError(f"--drift must be a number in [0, 1) or 'calibrate'; got {args.drift!r}")
    return policies, lags, drift


def shown_rows(
    rows: Sequence[dict[str, object]], *, max_tokens: int
) -> tuple[list[dict[str, object]], list[str]]:
    """The table's rows: tokens to target censored at the budget shown as a bound, without a CI.

    A row where no seed reached the target reads "> BUDGET (reached in 0 of n seeds)"; one where some
    did not reads "≥ MEAN (reached in k of n seeds)" (the censored seeds count the tokens they spent, so
    the mean is a lower bound). Their CI cells are empty ("-"): a t-interval of censored figures is not
    an interval for the true mean. Returns the rows and the one note that explains the bounds (none when
    every run reached the target). The JSON keeps the numbers (with ``reached`` and ``censored``).
    """
    shown: list[dict[str, object]] = []
    for r in rows:
        k, n = int(str(r["reached"])), int(str(r["seeds"]))
        if k == n:
            shown.append(dict(r))
            continue
        bound = f"> {max_tokens:,}" if k == 0 else f"≥ {float(str(r['tokens_to_target'])):,.0f}"
        shown.append(
            {
                **r,
                "tokens_to_target": f"{bound} (reached in {k} of {n} seeds)",
                "ci_low": None,
                "ci_high": None,
            }
        )
    notes = []
    if any(r["reached"] != r["seeds"] for r in rows):
        notes.append(
            f"tokens_to_target is censored at the budget of {max_tokens:,} tokens: '>' means no seed reached "
            "the target; '≥' means some did not, and their spent tokens make the mean a lower bound (so are "
            "wall_s_to_target and the token ratios of those rows); no CI is shown for them, and a token ratio "
            "against such a row is no measurement either (its check reads 'not comparable')"
        )
    return shown, notes


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Calibrate (unless given), run the grid, print, write JSON, report and ledger; return the JSON dict.

    Raises:
        ValidationError: an unknown policy, bad lags or δ (each names the option and the expected form).
    """
    check_output_path(args.report, "--report")
    check_output_path(args.ledger, "--ledger")
    policies, lags, drift = _parse(args)
    config = RLConfig(max_tokens=args.max_tokens)
    cal: Calibration | None = None
    if drift is None or args.target is None:
        with tqdm(total=calibration_runs(), unit="run", desc="calibrating on training seeds") as bar:
            cal = calibrate(config, on_run=lambda: bar.update(1))
        drift = cal.drift_per_version if drift is None else drift
    config = replace(config, prices=replace(config.prices, drift_per_version=drift))
    batches: list[DecisionBatch] = []

    def on_run(policy: str, lag: int, seed: int, tr: RunTrace) -> None:
        if args.ledger:
            run_id = f"rl/{policy}/lag{lag}/seed{seed}"
            batches.extend(
                run_batches(
                    run_id, tr.groups, config.prices, policy=policy, seed=seed, staleness_versions=lag
                )
            )
        bar.update(1)

    seeds = list(range(args.seeds))
    with tqdm(total=len(seeds) * len(lags) * len(policies), unit="run", desc="RL runs") as bar:
        runs = run_grid(
            config,
            policies,
            seeds,
            lags,
            target=args.target,
            target_gain=None if args.target is not None else (cal.target_gain if cal else 0.0),
            on_run=on_run,
        )
    rows = summarise(runs)
    checks = bar_checks(rows)
    shown, notes = shown_rows(rows, max_tokens=config.max_tokens)
    print(
        format_table(
            shown,
            list(SUMMARY_COLUMNS),
            title=f"tokens to target held-out accuracy, {len(seeds)} seeds (95% CI; wall times provisional)",
            digits=4,
        )
    )
    for note in notes:
        print("note:", note)
    for c in checks:
        print(
            f"lag {c['staleness']}: {c['claim']}: {float(str(c['value'])):.3f} "
            f"[{float(str(c['ci_low'])):.3f}, {float(str(c['ci_high'])):.3f}] → {c['verdict']}"
        )
    for s in SYNTHETIC:
        print("synthetic:", s)
    out: dict[str, Any] = {
        "what": WHAT,
        "results": rows,
        "checks": checks,
        "runs": [asdict(r) for r in runs],
        "calibration": None if cal is None else asdict(cal),
        "drift_per_version": drift,
        "target": args.target,
        "config": asdict(config),
        "seeds": seeds,
        "synthetic": SYNTHETIC,
    }

    def write_outputs() -> None:
        if args.report:
            page = build_report(
                runs, what=WHAT, drift_per_version=drift, calibration=cal, synthetic=SYNTHETIC
            )
            atomic_write(args.report, page.write)
            print(f"wrote {args.report}")
            out["report"] = str(args.report)
        write_results_json(args, out)

    if not args.ledger:
        write_outputs()
        return out

    def write(ledger: Ledger) -> int:
        if batches:
            refuse_recorded(ledger, str(batches[0].request_ids[0]), "rl run")
        for b in batches:
            ledger.append_batch(b)
        write_outputs()  # after the appends succeeded, before the commit: a refused run writes none
        return sum(len(b) for b in batches)

    n = ledger_step(args.ledger, write)
    print(f"wrote {n} decisions to {args.ledger} (audit it: tokenomy audit {args.ledger})")
    return out
