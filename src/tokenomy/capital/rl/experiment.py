"""Tokens to a target held-out accuracy, per allocation policy and async lag, over seeds, with CIs.

``calibrate`` fixes the two settings a comparison needs on training seeds only (seeds from 1000, never
an evaluation seed, so never an evaluation seed's held-out tasks): the target gain in held-out accuracy,
``target_share`` × uniform GRPO's mean gain at lag 0 over its token budget on the *validation* tasks of
those seeds (their own held-out split: different tasks from the evaluation seeds'), and the drift δ,
measured on the same runs (``drift``: how much of a fresh rollout's gradient a rollout s versions old
still delivers, fitted as (1 − δ)^s). The training-task gain is reported beside it: it overstates the
held-out gain (a generalisation gap), and a target set from it (0.75 × 0.249) was out of reach for
most evaluation runs in this package's first benchmark, which is why the validation gain is used.

``select_importance`` picks the tokenomy rule's importance correction (ratio level and truncation,
``capital.rl.staleness``) on the same training seeds' validation tasks: the candidate with the largest
mean held-out gain after half the token budget over lags 2, 4 and 16 (uncensored, so no target enters).

``run_grid`` runs every (policy, lag, seed); a run's tokens to target are the cumulative tokens
(rollout + verification + update) after the first step whose held-out accuracy reaches its seed's
starting accuracy + target gain (or an absolute ``target``). A run that never reaches it is censored at
the tokens it spent (counted in ``reached`` and ``censored``; a row with a censored run has
``tokens_to_target_lower_bound``: its mean is a lower bound). CIs of quantities that cannot be negative
(tokens, seconds, ratios) are cut at 0, accuracy's at [0, 1]. Uncensored beside it: the
held-out accuracy gain after half the token budget, with its paired difference from uniform. ``summarise`` gives per (policy, lag) the mean with a Student-t
95% CI over seeds, and per-seed paired ratios against uniform and DAPO (same seed, same lag), and for
the two staleness treatments (``tokenomy``: importance-corrected, ``tokenomy-decay``: the fixed decay
ablation) against ``tokenomy-nodiscount`` (staleness ignored), censored and uncensored.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy import stats

from tokenomy.capital.rl.allocators import make_allocator
from tokenomy.capital.rl.config import RLConfig, warm_start
from tokenomy.capital.rl.drift import accumulate, fit_drift
from tokenomy.capital.rl.loop import RunTrace, run_rl
from tokenomy.capital.rl.policy import PolicyNet
from tokenomy.capital.rl.staleness import LEVELS, ImportanceCorrection

__all__ = [
    "SUMMARY_COLUMNS",
    "Calibration",
    "RunSummary",
    "bar_checks",
    "calibrate",
    "calibration_runs",
    "mean_ci",
    "run_grid",
    "select_importance",
    "summarise",
]

CALIBRATION_SEEDS = (1000, 1001)
DRIFT_AGES = (1, 2, 4, 8)
SELECTION_SEEDS = (1000, 1001, 1002, 1003)
SELECTION_LAGS = (2, 4, 16)
IMPORTANCE_CANDIDATES = tuple(
    ImportanceCorrection(level, c) for level in LEVELS for c in (1.0, 2.0, math.inf)
)
STALENESS_BASELINE = "tokenomy-nodiscount"
STALENESS_TREATED = ("tokenomy", "tokenomy-decay")


@dataclass(frozen=True, slots=True)
class Calibration:
    """Settings fixed on training seeds: the held-out accuracy gain to reach and the measured δ."""

    target_gain: float
    drift_per_version: float
    uniform_train_gain: float
    uniform_validation_gain: float
    drift_ratios: tuple[tuple[int, float], ...]  # (age s in versions, measured value ratio r_s)


@dataclass(frozen=True, slots=True)
class RunSummary:
    """One run's result."""

    policy: str
    staleness: int
    seed: int
    start_accuracy: float
    target_accuracy: float
    reached: bool
    tokens_to_target: int
    rollout_tokens_to_target: int
    verify_tokens_to_target: int
    update_tokens_to_target: int
    steps_to_target: int
    wall_s_to_target: float
    final_accuracy: float
    gain_at_half_budget: float
    tokens_total: int
    steps_total: int
    wall_s_total: float
    ess_share: float  # mean ESS / n of its groups' importance weights (1: no correction); δ_s = 1 − this


def mean_ci(x: Sequence[float], level: float = 0.95) -> tuple[float, float, float]:
    """Mean and Student-t CI over ``x`` (a single value gives a zero-width interval)."""
    a = np.asarray(x, dtype=np.float64)
    m = float(a.mean())
    if a.size < 2:
        return m, m, m
    half = float(stats.t.ppf(0.5 + level / 2, a.size - 1) * a.std(ddof=1) / math.sqrt(a.size))
    return m, m - half, m + half


def calibration_runs(seeds: Sequence[int] = CALIBRATION_SEEDS) -> int:
    """How many runs ``calibrate`` makes."""
    return len(seeds)


def calibrate(
    config: RLConfig,
    *,
    target_share: float = 0.75,
    seeds: Sequence[int] = CALIBRATION_SEEDS,
    on_run: Callable[[], None] | None = None,
) -> Calibration:
    """Target gain and measured δ from training tasks of training seeds (module docstring)."""
    cfg = replace(config, prices=replace(config.prices, drift_per_version=0.0))
    gains, val_gains = [], []
    sums = {s: [0.0, 0.0] for s in DRIFT_AGES}
    used = 0
    for seed in seeds:
        start = warm_start(cfg, seed)
        versions: list[PolicyNet] = [start.net]
        tr = run_rl(cfg, make_allocator("uniform"), start, seed=seed, on_version=versions.append)
        gains.append(float(tr.train_accuracy[-1] - tr.train_accuracy[0]))
        val_gains.append(float(tr.heldout_accuracy[-1] - tr.heldout_accuracy[0]))
        used += accumulate(versions, start.train, sums, np.random.default_rng([seed, 3]))
        if on_run is not None:
            on_run()
    drift = fit_drift(sums, used)
    uniform_gain, val_gain = float(np.mean(gains)), float(np.mean(val_gains))
    return Calibration(
        target_share * max(val_gain, 0.0), drift.drift_per_version, uniform_gain, val_gain, drift.ratios
    )


@dataclass(frozen=True, slots=True)
class ImportanceChoice:
    """The chosen correction and each candidate's mean validation gain at half budget (training seeds)."""

    chosen: ImportanceCorrection
    scores: tuple[tuple[str, float], ...]  # (candidate label, mean gain over seeds and lags)


def _half_gain(tr: RunTrace, budget: int) -> float:
    half = int(np.searchsorted(tr.tokens, budget / 2, side="right"))  # steps done within half the budget
    return float(tr.heldout_accuracy[half] - tr.heldout_accuracy[0])


def select_importance(
    config: RLConfig,
    *,
    candidates: Sequence[ImportanceCorrection] = IMPORTANCE_CANDIDATES,
    seeds: Sequence[int] = SELECTION_SEEDS,
    lags: Sequence[int] = SELECTION_LAGS,
    on_run: Callable[[], None] | None = None,
) -> ImportanceChoice:
    """The tokenomy rule's importance correction, chosen on training seeds' validation tasks (module
    docstring); ties keep the earlier candidate."""
    scores = []
    for c in candidates:
        gains = []
        for seed in seeds:
            start = warm_start(config, seed)
            for lag in lags:
                tr = run_rl(
                    config, make_allocator("tokenomy", correction=c), start, seed=seed, staleness_versions=lag
                )
                gains.append(_half_gain(tr, config.max_tokens))
                if on_run is not None:
                    on_run()
        scores.append((c.label, float(np.mean(gains))))
    best = int(np.argmax([v for _, v in scores]))
    return ImportanceChoice(candidates[best], tuple(scores))


def _summary(policy: str, lag: int, seed: int, tr: RunTrace, target: float, budget: int) -> RunSummary:
    i = tr.first_reaching(target)
    last = len(tr.tokens) - 1
    at = last if i is None else i
    return RunSummary(
        policy=policy,
        staleness=lag,
        seed=seed,
        start_accuracy=float(tr.heldout_accuracy[0]),
        target_accuracy=target,
        reached=i is not None,
        tokens_to_target=int(tr.tokens[at]),
        rollout_tokens_to_target=int(tr.rollout_tokens[at]),
        verify_tokens_to_target=int(tr.verify_tokens[at]),
        update_tokens_to_target=int(tr.update_tokens[at]),
        steps_to_target=at + 1,
        wall_s_to_target=float(tr.wall_s[at]),
        final_accuracy=float(tr.heldout_accuracy[-1]),
        gain_at_half_budget=_half_gain(tr, budget),
        tokens_total=int(tr.tokens[-1]),
        steps_total=len(tr.tokens),
        wall_s_total=float(tr.wall_s[-1]),
        ess_share=float(tr.groups.ess_share.mean()) if tr.groups.ess_share.size else 1.0,
    )


def run_grid(
    config: RLConfig,
    policies: Sequence[str],
    seeds: Sequence[int],
    lags: Sequence[int],
    *,
    target_gain: float | None = None,
    target: float | None = None,
    importance: ImportanceCorrection | None = None,
    on_run: Callable[[str, int, int, RunTrace], None] | None = None,
) -> list[RunSummary]:
    """Every (policy, lag, seed) run's summary; ``on_run`` sees each finished run (progress, ledger).

    ``importance`` overrides the tokenomy rule's default correction (``select_importance``). Exactly one of ``target_gain`` (over each seed's starting held-out accuracy) and ``target``
    (absolute) must be given.
    """
    assert (target_gain is None) != (target is None)
    out = []
    for seed in seeds:
        start = warm_start(config, seed)
        for lag in lags:
            for policy in policies:
                options = {"correction": importance} if policy == "tokenomy" and importance else {}
                tr = run_rl(
                    config, make_allocator(policy, **options), start, seed=seed, staleness_versions=lag
                )
                goal = (
                    target
                    if target is not None
                    else float(tr.heldout_accuracy[0]) + float(target_gain or 0.0)
                )
                out.append(_summary(policy, lag, seed, tr, goal, config.max_tokens))
                if on_run is not None:
                    on_run(policy, lag, seed, tr)
    return out


def _paired(
    runs: Sequence[RunSummary], policy: str, lag: int, other: str
) -> tuple[float, float, float] | None:
    mine = {r.seed: r.tokens_to_target for r in runs if r.policy == policy and r.staleness == lag}
    base = {r.seed: r.tokens_to_target for r in runs if r.policy == other and r.staleness == lag}
    seeds = sorted(set(mine) & set(base))
    if not seeds or policy == other:
        return None
    return mean_ci([mine[s] / base[s] for s in seeds])


SUMMARY_COLUMNS = (
    "policy",
    "staleness",
    "reached",
    "tokens_to_target",
    "ci_low",
    "ci_high",
    "ratio_vs_uniform",
    "ratio_vs_dapo",
    "gain_at_half_budget",
    "half_budget_gain_minus_uniform",
    "final_accuracy",
    "wall_s_to_target",
)
"""The columns of a ``summarise`` row that tables and reports show, in order."""


def summarise(runs: Sequence[RunSummary]) -> list[dict[str, object]]:
    """One row per (policy, lag): tokens / wall time to target and final accuracy with 95% CIs, the
    reached count, and paired token ratios and half-budget gain differences against uniform and DAPO
    (and, for the two staleness treatments, against the rule that ignores staleness)."""
    rows: list[dict[str, object]] = []
    keys = sorted({(r.policy, r.staleness) for r in runs}, key=lambda k: (k[1], k[0]))
    for policy, lag in keys:
        sel = [r for r in runs if r.policy == policy and r.staleness == lag]
        t, lo, hi = _at_least(0.0, mean_ci([r.tokens_to_target for r in sel]))
        fa, fa_lo, fa_hi = _at_least(0.0, mean_ci([r.final_accuracy for r in sel]), hi=1.0)
        hg, hg_lo, hg_hi = mean_ci([r.gain_at_half_budget for r in sel])
        w, w_lo, w_hi = _at_least(0.0, mean_ci([r.wall_s_to_target for r in sel]))
        reached = sum(r.reached for r in sel)
        row: dict[str, object] = {
            "policy": policy,
            "staleness": lag,
            "seeds": len(sel),
            "reached": reached,
            "censored": len(sel) - reached,
            "tokens_to_target_lower_bound": reached < len(sel),
            "tokens_to_target": t,
            "ci_low": lo,
            "ci_high": hi,
            "rollout_tokens_to_target": float(np.mean([r.rollout_tokens_to_target for r in sel])),
            "verify_tokens_to_target": float(np.mean([r.verify_tokens_to_target for r in sel])),
            "update_tokens_to_target": float(np.mean([r.update_tokens_to_target for r in sel])),
            "steps_to_target": float(np.mean([r.steps_to_target for r in sel])),
            "wall_s_to_target": w,
            "wall_s_ci_low": w_lo,
            "wall_s_ci_high": w_hi,
            "final_accuracy": fa,
            "final_accuracy_ci_low": fa_lo,
            "final_accuracy_ci_high": fa_hi,
            "gain_at_half_budget": hg,
            "gain_at_half_budget_ci_low": hg_lo,
            "gain_at_half_budget_ci_high": hg_hi,
            "target_accuracy_mean": float(np.mean([r.target_accuracy for r in sel])),
            "ess_share": float(np.mean([r.ess_share for r in sel])),
        }
        others = ["uniform", "dapo"] + ([STALENESS_BASELINE] if policy in STALENESS_TREATED else [])
        for other in others:
            ratio = _paired(runs, policy, lag, other)
            if ratio is None:
                continue
            row[f"ratio_vs_{other}"], row[f"ratio_vs_{other}_ci_low"], row[f"ratio_vs_{other}_ci_high"] = (
                _at_least(0.0, ratio)
            )
            base = {r.seed: r.gain_at_half_budget for r in runs if r.policy == other and r.staleness == lag}
            d = mean_ci([r.gain_at_half_budget - base[r.seed] for r in sel if r.seed in base])
            key = f"half_budget_gain_minus_{other}"
            row[key], row[f"{key}_ci_low"], row[f"{key}_ci_high"] = d
        rows.append(row)
    return rows


def _at_least(
    lo_bound: float, ci: tuple[float, float, float], hi: float | None = None
) -> tuple[float, float, float]:
    """A mean and CI of a quantity that cannot be below ``lo_bound`` (or above ``hi``): the Student-t
    interval cut at the bound (it can only lose impossible values; few seeds otherwise give a negative
    token count as the lower end)."""
    m, lo, up = ci
    lo, up = max(lo, lo_bound), max(up, lo_bound)
    if hi is not None:
        lo, up = min(lo, hi), min(up, hi)
    return m, lo, up


def _verdict(mean: float, lo: float, hi: float, bar: float, *, strict: bool = False) -> str:
    """ "meets" when the whole CI is at or below ``bar`` (strictly below with ``strict``), "fails" when it is
    above it (at or above with ``strict``), a tie otherwise; identical runs at the bar are a tie."""
    if lo == hi == mean == bar:
        return "tie (identical runs)"
    if (hi < bar) if strict else (hi <= bar):
        return "meets"
    if (lo >= bar) if strict else (lo > bar):
        return "fails"
    return "tie (CI straddles the bar)"


def _gain_verdict(lo: float, hi: float) -> str:
    if lo == hi == 0.0:
        return "tie (identical runs)"
    return "better" if lo > 0.0 else "worse" if hi < 0.0 else "tie (CI straddles 0)"


def _censored(rows: Sequence[dict[str, object]], policies: Sequence[str], lag: int) -> str:
    """'not comparable: …' when a policy's tokens to target are censored in some seed (a ratio against a
    run that never reached the target is a bound, not a measurement), else ""."""
    why = [
        f"{r['policy']} did not reach the target in {int(str(r['censored']))} of {int(str(r['seeds']))} seeds"
        for name in policies
        for r in rows
        if r["policy"] == name and r["staleness"] == lag and int(str(r["censored"])) > 0
    ]
    return f"not comparable: {'; '.join(why)}" if why else ""


def bar_checks(rows: Sequence[dict[str, object]]) -> list[dict[str, object]]:
    """The comparisons the capital layer is judged on, each with its paired figure, CI and verdict:
    tokenomy ≤ 0.8 × uniform's tokens and ≤ DAPO's; at lag ≥ 2 each staleness treatment (tokenomy:
    importance correction; tokenomy-decay: the fixed-decay ablation) against ignoring staleness, as a
    token ratio < 1 and, uncensored, as the held-out gain at half budget (difference > 0). A token ratio
    where either policy missed the target in some seed gets no verdict ("not comparable: …")."""
    out: list[dict[str, object]] = []
    for r in rows:
        if r["policy"] not in STALENESS_TREATED:
            continue
        policy, lag = str(r["policy"]), int(str(r["staleness"]))
        tests = [("uniform", 0.8, "≤"), ("dapo", 1.0, "≤")] if policy == "tokenomy" else []
        if lag >= 2:
            tests.append((STALENESS_BASELINE, 1.0, "<"))
        for other, bar, op in tests:
            key = f"ratio_vs_{other}"
            if key not in r:
                continue
            m, lo, hi = (float(str(r[k])) for k in (key, f"{key}_ci_low", f"{key}_ci_high"))
            censored = _censored(rows, (policy, other), lag)
            out.append(
                {
                    "staleness": lag,
                    "claim": f"{policy} tokens / {other} tokens {op} {bar:g}",
                    "measure": "paired token-to-target ratio (censored at the budget)",
                    "value": m,
                    "ci_low": lo,
                    "ci_high": hi,
                    "verdict": censored or _verdict(m, lo, hi, bar, strict=op == "<"),
                }
            )
            key = f"half_budget_gain_minus_{other}"
            if key in r:
                m, lo, hi = (float(str(r[k])) for k in (key, f"{key}_ci_low", f"{key}_ci_high"))
                out.append(
                    {
                        "staleness": lag,
                        "claim": f"{policy} − {other}: held-out gain at half budget > 0",
                        "measure": "paired difference of held-out accuracy gain at half budget (uncensored)",
                        "value": m,
                        "ci_low": lo,
                        "ci_high": hi,
                        "verdict": _gain_verdict(lo, hi),
                    }
                )
    return out
