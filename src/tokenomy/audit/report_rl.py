"""The HTML report of ``tokenomy rl run``: tokens to a target held-out accuracy per allocation policy.

One self-contained page (``tokenomy.audit.html.Report``, inline SVG from ``tokenomy.audit.svg``) from
the runs of an RL experiment (``tokenomy.capital.rl.experiment``): what was run, the settings fixed on
training seeds, the per-(policy, lag) table with 95% CIs, the paired comparisons with their verdicts
(ties shown as ties), the sample size the importance correction keeps per lag, tokens to target by
lag, and the split of tokens into rollout, verification and
update. Assumed prices are labelled synthetic at the top. No evaluation happens here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict

import numpy as np

from tokenomy.audit.html import Report
from tokenomy.audit.svg import Series, bar_chart, line_chart
from tokenomy.capital.rl.experiment import SUMMARY_COLUMNS, Calibration, RunSummary, bar_checks, summarise

__all__ = ["build_report"]

_COLUMNS = SUMMARY_COLUMNS


def build_report(
    runs: Sequence[RunSummary],
    *,
    what: str,
    drift_per_version: float,
    calibration: Calibration | None,
    synthetic: Sequence[str],
) -> Report:
    """The report page for one ``rl run`` (call ``.write(path)`` on the result)."""
    rows = summarise(runs)
    checks = bar_checks(rows)
    seeds = sorted({r.seed for r in runs})
    page = Report("RL token budgeting: tokens to a target held-out accuracy", f"{len(seeds)} seeds · {what}")
    for s in synthetic:
        page.note(f"Synthetic: {s}.", kind="synthetic")
    page.note(
        "Tokens are real counts of this run: sampled answer tokens (rollout), prompt + answer tokens the "
        "verifier reads (verification), prompt + answer tokens of every sample through the backward pass "
        "(update). Wall times are from a shared machine and provisional."
    )
    cal = (
        f"δ = {drift_per_version:g} per policy version"
        + (
            f"; target gain {calibration.target_gain:.3f} over each seed's start "
            f"(0.75 × uniform's validation-task gain {calibration.uniform_validation_gain:.3f}; its training-task "
            f"gain {calibration.uniform_train_gain:.3f})"
            if calibration is not None
            else ""
        )
        + (
            " — both fixed on training seeds 1000–1001 (their training and validation tasks)."
            if calibration is not None
            else "."
        )
    )
    page.paragraph(cal)
    if calibration is not None:
        ages = [s for s, _ in calibration.drift_ratios]
        page.figure(
            line_chart(
                [
                    Series("measured r_s", ages, [r for _, r in calibration.drift_ratios]),
                    Series(
                        f"fit (1 − δ)^s, δ = {calibration.drift_per_version:.3f}",
                        ages,
                        [(1 - calibration.drift_per_version) ** s for s in ages],
                    ),
                ],
                title="a stale rollout's share of a fresh one's gradient",
                x_label="staleness s, policy versions",
                y_label="r_s",
            ),
            "Measured on training seeds: ⟨g from rollouts s versions old, fresh g⟩ / ⟨fresh g, fresh g⟩ at the "
            "same parameters and tasks (an independent fresh replicate in each inner product).",
        )
    page.heading("Verdicts (paired over seeds; a CI that straddles the bar is a tie)")
    page.table(
        checks,
        caption="value: a paired ratio of tokens to target (censored at the budget), or a paired "
        "difference of held-out gain at half budget (uncensored), same seed and lag",
    )
    ess = [
        {
            "staleness": r["staleness"],
            "ess_share": r["ess_share"],
            "measured_delta": 1.0 - float(str(r["ess_share"])),
        }
        for r in rows
        if r["policy"] == "tokenomy"
    ]
    if ess:
        page.table(
            ess,
            caption="tokenomy's staleness treatment: stale samples reweighted by truncated importance ratios "
            "π_t / π_(t−s); ess_share = Kish ESS / n of those weights (mean over groups and seeds), "
            "measured_delta = 1 − ess_share, the sample size staleness cost",
        )
    page.heading("Tokens to target, per policy and lag")
    page.table([{k: r.get(k) for k in _COLUMNS} for r in rows], caption="means over seeds, 95% Student-t CIs")
    policies = sorted({r.policy for r in runs})
    lags = sorted({r.staleness for r in runs})
    mean = {(str(r["policy"]), int(str(r["staleness"]))): float(str(r["tokens_to_target"])) for r in rows}
    if len(lags) > 1:
        page.figure(
            line_chart(
                [Series(p, lags, [mean[(p, s)] for s in lags]) for p in policies],
                title="tokens to target vs async lag",
                x_label="staleness, policy versions",
                y_label="tokens (rollout + verification + update)",
            ),
            "Mean over seeds; the table above gives the CIs.",
        )
    first = lags[0]
    page.figure(
        bar_chart(
            policies,
            [mean[(p, first)] for p in policies],
            title=f"tokens to target at lag {first}",
            y_label="tokens",
        ),
        "Mean over seeds.",
    )
    split = []
    for p in policies:
        sel = [r for r in runs if r.policy == p and r.staleness == first]
        split.append(
            {
                "policy": p,
                "rollout": float(np.mean([r.rollout_tokens_to_target for r in sel])),
                "verification": float(np.mean([r.verify_tokens_to_target for r in sel])),
                "update": float(np.mean([r.update_tokens_to_target for r in sel])),
                "steps": float(np.mean([r.steps_to_target for r in sel])),
            }
        )
    page.table(split, caption=f"where the tokens to target went at lag {first} (means over seeds)")
    page.heading("Every run")
    page.table([asdict(r) for r in runs], caption="one row per (policy, lag, seed)")
    return page
