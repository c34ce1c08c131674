"""Confirm-before-commit policies judged on recorded tau-bench trajectories: welfare at a grid of ρ.

Each episode is one airline task × trial with its commits (state-changing calls), whether the user
said an explicit "yes" before each, whether each matched a ground-truth action, and the reward. A
policy (:mod:`tokenomy.autonomy.confirm_policies`) decides, per commit, whether to ask first. Per
episode we then count

* cost = confirmations × ``ask_cost_usd`` (the schedule's price of one confirmation: the principal's
  attention), counting the agent's own recorded confirmations (they happen under every policy) and
  the gate's asks;
* harm = Σ over wrong commits that still execute of their harm units (``ConfirmModel.harm_units``);
* success = the recorded reward, unless every wrong commit was caught and the right ones cover the
  ground truth's commits, in which case ``q_fixed`` (the measured success of such episodes);

and welfare = V·success − cost − ρ·harm (core's ``realised_utility``), averaged over episodes with a 95% bootstrap interval that
resamples *tasks* (the four trials of a task move together).

What is observed and what is modelled. A commit the log shows confirmed keeps its recorded outcome
whatever the policy: the user's "yes" is observed, and a second ask right after it is modelled as
catching nothing (it only costs). A gate ask before a commit that was *not* confirmed in the log needs
the user's answer, which the log does not hold: a right commit is answered yes; a wrong one is caught
with probability ``p_catch`` (MODELLED, see :class:`ConfirmModel`). The harm of a wrong commit is
MODELLED from the schedule. Outcomes are
expectations over the modelled answers (no sampling). A row is ``modelled`` when any of its numbers
rests on a modelled term (ρ > 0, or a modelled answer changed something). Not modelled at all: a "no"
that the recorded agent received never produced a commit, so its effect is outside these logs.

Cross-fitting: tasks are split into ``folds``; each episode is judged once, held out, and everything
fitted from data — the policies' knowledge and the world model that turns answers into outcomes
(``p_catch``, ``q_fixed``; the harm units come from the schedule) — is fitted on the other folds
(:func:`fit_model` on training episodes only), the same for every policy. The model fitted on all
episodes is returned for reporting only; it judges nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from tokenomy.autonomy.confirm_policies import POLICIES, ConfirmModel, ConfirmPolicy
from tokenomy.autonomy.replay import split_folds
from tokenomy.autonomy.schedule import Schedule
from tokenomy.autonomy.trajectory import Episode, ToolCall
from tokenomy.core.errors import ValidationError
from tokenomy.core.rule import realised_utility, risk_cost

__all__ = [
    "BASELINE",
    "ConfirmResult",
    "EpisodeOutcome",
    "episode_outcome",
    "estimate_p_catch",
    "evaluate",
    "fit_model",
    "harm_units",
]


@dataclass(frozen=True, slots=True)
class EpisodeOutcome:
    """One episode under one policy (expectations over the modelled answers).

    Attributes:
        success: expected success in [0, 1].
        cost_usd: confirmation cost, USD.
        harm: expected harm units of wrong commits that executed.
        n_asks: confirmations the gate asked (the agent's own recorded ones not included).
        modelled: whether a modelled answer changed the outcome (an ask on an unconfirmed commit).
    """

    success: float
    cost_usd: float
    harm: float
    n_asks: int
    modelled: bool


BASELINE = "never_confirm"
"""The policy every other is compared with, paired per episode (``diff_vs_never_confirm``)."""


@dataclass(frozen=True, slots=True)
class ConfirmResult:
    """One (policy, V, ρ) cell: per-task means with 95% task-bootstrap intervals.

    ``diff_vs_never_confirm`` is the paired per-episode welfare difference to :data:`BASELINE`
    (its interval is much narrower than the two welfare intervals suggest: the episodes are shared).
    """

    policy: str
    v_usd: float
    rho_usd: float
    welfare_per_task: float
    welfare_ci_low: float
    welfare_ci_high: float
    diff_vs_never_confirm: float
    diff_ci_low: float
    diff_ci_high: float
    success_rate: float
    cost_per_task_usd: float
    harm_per_task: float
    asks_per_task: float
    n_episodes: int
    modelled: bool


def harm_units(schedule: Schedule, tools: Sequence[str]) -> dict[str, float]:
    """Harm of one wrong commit per tool in ρ-units: severity × ((1 − irr) + irr · ρ_irr/ρ) of its class."""
    out: dict[str, float] = {}
    for tool in tools:
        cls = schedule.classes.get(schedule.tool_class(tool))
        if cls is None or cls.severity == 0:
            out[tool] = 1.0
            continue
        ratio = cls.rho_irr_usd / cls.rho_usd if cls.rho_usd > 0 else 1.0
        # Core's risk cost of one wrong commit at ρ = 1 and ρ_irr = ρ_irr/ρ: harm in ρ-units.
        out[tool] = risk_cost(cls.severity, cls.severity * cls.irreversible, 1.0, ratio)
    return out


def _right(ep: Episode) -> int:
    return sum(1 for c in ep.commits if c.matches_gt_action)


def estimate_p_catch(commits: Sequence[ToolCall], *, seed: int = 0, draws: int = 4000) -> float:
    """P(a user asked about a wrong commit says no), MODELLED: the posterior mean of 1 − r_c/r_u.

    r_c and r_u are the wrong rates of commits with and without a preceding user "yes"; if asking
    caught nothing they would be equal (the agent errs as often whether or not it asks), if it caught
    everything r_c would be 0. Each rate gets a uniform Beta(1, 1) prior; draws of 1 − r_c/r_u are
    clipped to [0, 1] and averaged — an expectation over the parameter uncertainty rather than a
    clipped plug-in estimate (which is 0 whenever a small sample happens to have r_c ≥ r_u).
    """
    conf = [bool(c.matches_gt_action) for c in commits if c.confirmed_by_user]
    unconf = [bool(c.matches_gt_action) for c in commits if c.confirmed_by_user is False]
    if not conf or not unconf:
        return 0.0
    rng = np.random.default_rng(seed)
    wc, wu = sum(1 for ok in conf if not ok), sum(1 for ok in unconf if not ok)
    r_c = rng.beta(wc + 1, len(conf) - wc + 1, size=draws)
    r_u = rng.beta(wu + 1, len(unconf) - wu + 1, size=draws)
    return float(np.clip(1.0 - r_c / r_u, 0.0, 1.0).mean())


def fit_model(
    episodes: Sequence[Episode], schedule: Schedule, *, p_catch: float | None = None, seed: int = 0
) -> ConfirmModel:
    """Estimate a :class:`ConfirmModel` from recorded episodes.

    Args:
        episodes: the training episodes.
        schedule: gives the harm units per tool and the price of one confirmation.
        p_catch: override the modelled catch probability (None = :func:`estimate_p_catch`).
        seed: seeds the posterior draws of :func:`estimate_p_catch`.

    Raises:
        ValidationError: no episode has a commit, or ``p_catch`` is outside [0, 1].
    """
    commits = [c for ep in episodes for c in ep.commits]
    if not commits:
        raise ValidationError("fit_model needs episodes with at least one commit call; got none")
    tools = sorted({c.tool for c in commits})
    n_wrong = {t: sum(1 for c in commits if c.tool == t and not c.matches_gt_action) for t in tools}
    n_all = {t: sum(1 for c in commits if c.tool == t) for t in tools}
    p_wrong = {t: (n_wrong[t] + 1) / (n_all[t] + 2) for t in tools}
    prior = (sum(n_wrong.values()) + 1) / (len(commits) + 2)
    if p_catch is None:
        p_catch = estimate_p_catch(commits, seed=seed)
    elif not 0.0 <= p_catch <= 1.0:
        raise ValidationError(f"p_catch must be in [0, 1], got {p_catch!r}")
    clean = [ep for ep in episodes if ep.commits and _right(ep) == len(ep.commits)]
    clean = [ep for ep in clean if _right(ep) >= ep.n_gt_commit_actions]
    q_fixed = float(np.mean([ep.reward for ep in clean])) if clean else 1.0
    model = ConfirmModel(
        p_wrong=p_wrong,
        p_wrong_prior=prior,
        p_catch=p_catch,
        q_fixed=q_fixed,
        harm_units=harm_units(schedule, tools),
        ask_cost_usd=schedule.ask_cost_usd,
    )
    dq, dr_avoided = _marginal_value(episodes, model)
    return replace(model, dq=dq, dr_avoided=dr_avoided)


def _marginal_value(
    episodes: Sequence[Episode], model: ConfirmModel, shrink: float = 2.0
) -> tuple[dict[tuple[str, bool], float], dict[tuple[str, bool], float]]:
    """Per (tool, confirmed), the mean success gained and harm avoided by asking about one commit
    with every other commit asked, shrunk toward the pooled mean of the same ``confirmed`` flag."""
    gain: dict[tuple[str, bool], list[float]] = {}
    avoided: dict[tuple[str, bool], list[float]] = {}
    for ep in episodes:
        n = len(ep.commits)
        if not n:
            continue
        full = episode_outcome(ep, [True] * n, model)
        for i, call in enumerate(ep.commits):
            without = episode_outcome(ep, [j != i for j in range(n)], model)
            key = (call.tool, bool(call.confirmed_by_user))
            gain.setdefault(key, []).append(full.success - without.success)
            avoided.setdefault(key, []).append(without.harm - full.harm)

    def shrunk(values: dict[tuple[str, bool], list[float]]) -> dict[tuple[str, bool], float]:
        pooled = {
            flag: float(np.mean([x for (_, f), v in values.items() if f == flag for x in v]))
            for flag in {f for _, f in values}
        }
        return {k: (sum(v) + shrink * pooled[k[1]]) / (len(v) + shrink) for k, v in values.items()}

    return shrunk(gain), shrunk(avoided)


def episode_outcome(ep: Episode, asks: Sequence[bool], world: ConfirmModel) -> EpisodeOutcome:
    """Outcome of one episode when the commits flagged in ``asks`` are confirmed first.

    Args:
        ep: the recorded episode.
        asks: one flag per commit of ``ep.commits``, in order.
        world: supplies ``p_catch``, ``q_fixed``, the harm units and the price of one ask.

    Returns:
        Expected success, cost, harm and asks (see the module docstring).
    """
    commits = ep.commits
    if len(asks) != len(commits):
        raise ValidationError(
            f"asks has {len(asks)} flags for {len(commits)} commits of episode {ep.task_id}"
        )
    harm = 0.0
    p_all_caught = 1.0
    modelled = False
    for call, ask in zip(commits, asks, strict=True):
        if call.matches_gt_action:
            modelled |= bool(ask and not call.confirmed_by_user)  # a modelled "yes" (no change)
            continue
        catchable = ask and not call.confirmed_by_user  # a logged "yes" is observed: no catch
        p_caught = world.p_catch if catchable else 0.0
        modelled |= catchable and p_caught > 0
        harm += (1.0 - p_caught) * world.harm(call.tool)
        p_all_caught *= p_caught
    n_wrong = sum(1 for c in commits if not c.matches_gt_action)
    fixable = n_wrong > 0 and _right(ep) >= ep.n_gt_commit_actions
    fixed_success = max(ep.reward, world.q_fixed) if fixable else ep.reward
    success = p_all_caught * fixed_success + (1.0 - p_all_caught) * ep.reward if n_wrong else ep.reward
    n_asks = sum(1 for a in asks if a)
    n_own = sum(1 for c in commits if c.confirmed_by_user)
    return EpisodeOutcome(success, (n_asks + n_own) * world.ask_cost_usd, harm, n_asks, modelled)


def _folds(episodes: Sequence[Episode], folds: int, seed: int) -> list[int]:
    """Fold id per episode: the tasks (sorted) split by :func:`~tokenomy.autonomy.replay.split_folds`."""
    tasks = sorted({ep.task_id for ep in episodes})
    fold_of = dict(zip(tasks, split_folds(len(tasks), folds, seed).tolist(), strict=True))
    return [fold_of[ep.task_id] for ep in episodes]


def _bootstrap_ci(
    values: NDArray[np.float64], groups: NDArray[np.int64], rng: np.random.Generator, n_boot: int
) -> tuple[float, float]:
    uniq, inv = np.unique(groups, return_inverse=True)
    sums = np.bincount(inv, weights=values, minlength=uniq.size)
    counts = np.bincount(inv, minlength=uniq.size).astype(np.float64)
    draws = rng.integers(0, uniq.size, size=(n_boot, uniq.size))
    means = sums[draws].sum(axis=1) / counts[draws].sum(axis=1)
    lo, hi = np.quantile(means, [0.025, 0.975])
    return float(lo), float(hi)


def evaluate(
    episodes: Sequence[Episode],
    schedule: Schedule,
    rhos: Sequence[float],
    v_values: Sequence[float],
    *,
    policies: dict[str, ConfirmPolicy] | None = None,
    folds: int = 5,
    seed: int = 0,
    n_boot: int = 2000,
    p_catch: float | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[list[ConfirmResult], ConfirmModel]:
    """Welfare of every confirmation policy at every (V, ρ), each episode judged held out.

    Args:
        episodes: the recorded episodes (all tasks).
        schedule: the schedule in force (prices, harm units, the cost of one ask).
        rhos: the ρ grid, USD per harm unit.
        v_values: V, USD per successful task.
        policies: name -> policy (default: one of each registered class, default parameters).
        folds: task folds for cross-fitting the policies' knowledge (≥ 2).
        seed: seeds the fold split and the bootstrap.
        n_boot: bootstrap resamples for the intervals.
        p_catch: override the modelled catch probability everywhere (None = estimated).
        progress: called with (done, total) after each (V, ρ) cell.

    Returns:
        The result rows and the world model fitted on all episodes (for reporting: each episode was
        judged by the model fitted without its fold).

    Raises:
        ValidationError: no episodes, a negative price, or ``folds < 2``.
    """
    if not episodes:
        raise ValidationError("evaluate needs at least one episode")
    if folds < 2:
        raise ValidationError(f"folds must be ≥ 2 (policies are judged held out), got {folds}")
    if any(r < 0 for r in rhos) or any(v < 0 for v in v_values):
        raise ValidationError(f"ρ and V must be ≥ 0; got rhos={list(rhos)}, V={list(v_values)}")
    pols = policies if policies is not None else {name: cls() for name, cls in POLICIES.items()}
    world = fit_model(episodes, schedule, p_catch=p_catch, seed=seed)
    fold = _folds(episodes, folds, seed)
    known = [
        fit_model(
            [ep for ep, f in zip(episodes, fold, strict=True) if f != k], schedule, p_catch=p_catch, seed=seed
        )
        for k in range(folds)
    ]
    groups = np.array([ep.task_id for ep in episodes], dtype=np.int64)
    rng = np.random.default_rng(seed)
    rows: list[ConfirmResult] = []
    total, done = len(v_values) * len(rhos), 0
    for v in v_values:
        for rho in rhos:
            cell = {}
            for name, pol in pols.items():
                outs = [  # the fold's training model both informs the policy and judges the outcome
                    episode_outcome(
                        ep, [pol.confirm(c, known[f], schedule, v, rho) for c in ep.commits], known[f]
                    )
                    for ep, f in zip(episodes, fold, strict=True)
                ]
                cell[name] = outs
            base = _welfare(cell[BASELINE], v, rho) if BASELINE in cell else None
            for name, outs in cell.items():
                welfare = _welfare(outs, v, rho)
                lo, hi = _bootstrap_ci(welfare, groups, rng, n_boot)
                diff = welfare - base if base is not None else np.zeros_like(welfare)
                d_lo, d_hi = _bootstrap_ci(diff, groups, rng, n_boot)
                rows.append(
                    ConfirmResult(
                        policy=name,
                        v_usd=float(v),
                        rho_usd=float(rho),
                        welfare_per_task=float(welfare.mean()),
                        welfare_ci_low=lo,
                        welfare_ci_high=hi,
                        diff_vs_never_confirm=float(diff.mean()),
                        diff_ci_low=d_lo,
                        diff_ci_high=d_hi,
                        success_rate=float(np.mean([o.success for o in outs])),
                        cost_per_task_usd=float(np.mean([o.cost_usd for o in outs])),
                        harm_per_task=float(np.mean([o.harm for o in outs])),
                        asks_per_task=float(np.mean([o.n_asks for o in outs])),
                        n_episodes=len(outs),
                        modelled=bool(rho > 0 or any(o.modelled for o in outs)),
                    )
                )
            done += 1
            if progress is not None:
                progress(done, total)
    return rows, world


_TERMS = ("success", "cost_usd", "harm")


def _welfare(outs: Sequence[EpisodeOutcome], v: float, rho: float) -> NDArray[np.float64]:
    # Harm is in ρ-units (``harm_units`` priced its irreversible part), so it enters at ρ alone.
    success, cost, harm = (np.array([getattr(o, k) for o in outs], dtype=np.float64) for k in _TERMS)
    return realised_utility(v, success, cost, harm=harm, rho_usd=rho)
