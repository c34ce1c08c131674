"""The autonomy level a of Eq. 6–7, derived from the schedule's prices and a mix of actions.

Eq. 6: U(a, t) = V·p(a, t) − C(t) − R(a, t) − H(a); Eq. 7 (interior optimum): V·∂p/∂a = ∂R/∂a + ∂H/∂a.
With discrete action classes, raising a means letting one more class act without a confirmation:
that adds the class's priced harm ρ·ΔR + ρ_irr·ΔR_irr (CVaR for rare-and-severe classes) to R, saves
its oversight cost H (ask cost × approvers), and adds V·Δp_wait (the success a confirmation loses:
the user who does not answer, the deadline missed). A class is free iff

    harm_usd ≤ H_ask·approvers + V·Δp_wait,

and a = the share of calls of the mix that the prices let act unasked (denied classes count as asked:
a denied call is not autonomous). :func:`autonomy_level` also reports where the published schedule's
level differs from the one its own prices imply. No file reading here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from tokenomy.autonomy.controller import price_class
from tokenomy.autonomy.schedule import UNKNOWN, Schedule
from tokenomy.core._checks import check_nonneg, check_prob
from tokenomy.core.errors import ValidationError

__all__ = ["AutonomyLevel", "ClassAutonomy", "autonomy_level"]


@dataclass(frozen=True, slots=True)
class ClassAutonomy:
    """One class of the mix under Eq. 7.

    Attributes:
        name: class name.
        n_calls: calls of the class in the mix.
        harm_usd: priced harm of one unasked act.
        oversight_usd: what one confirmation costs (H × approvers) plus V·Δp_wait.
        implied_free: the prices let it act unasked.
        schedule_verdict: the verdict the published schedule gives (allow / ask / deny).
        breakeven_v_dp_usd: the V·Δp_wait at which the prices free the class, harm − H·approvers
            (0: free whatever V; inf: never, an unknown or denied class).
    """

    name: str
    n_calls: float
    harm_usd: float
    oversight_usd: float
    implied_free: bool
    schedule_verdict: str
    breakeven_v_dp_usd: float = 0.0


@dataclass(frozen=True, slots=True)
class AutonomyLevel:
    """The autonomy level the prices imply for a mix of calls.

    Attributes:
        a: share of calls acted without a confirmation under the prices (Eq. 7), in [0, 1].
        a_schedule: the same share under the published schedule's verdicts.
        harm_usd: R at a — priced harm of the calls acted unasked, USD per mix.
        oversight_usd: H at a — confirmation cost of the calls asked, USD per mix.
        classes: per class detail, in decreasing call count.
        disagreements: classes whose published verdict differs from the implied one.
    """

    a: float
    a_schedule: float
    harm_usd: float
    oversight_usd: float
    classes: tuple[ClassAutonomy, ...]
    disagreements: tuple[str, ...]


def autonomy_level(
    schedule: Schedule,
    mix: Mapping[str, float],
    *,
    v_usd: float = 0.0,
    dp_wait: float = 0.0,
    ask_cost_usd: float | None = None,
) -> AutonomyLevel:
    """Apply Eq. 7 class by class to ``mix``.

    Args:
        schedule: prices (ρ, ρ_irr, CVaR classes, approvers, ask cost) and published verdicts.
        mix: calls per class (e.g. counted by the classifier on a dataset). # class name -> calls
        v_usd: value of the task (prices the success a confirmation loses).
        dp_wait: success probability lost by waiting for a confirmation.
        ask_cost_usd: H of one confirmation (None: the schedule's ``ask_cost_usd``).

    Returns:
        The :class:`AutonomyLevel`.

    Raises:
        ValidationError: ``schedule`` is not a Schedule; ``mix`` is not a mapping of class names to
            finite counts ≥ 0 with a positive total, or names a class the schedule does not define
            (``unknown``, the classifier's name for an unplaced call, is accepted); ``v_usd`` or
            ``ask_cost_usd`` is not a finite number ≥ 0; ``dp_wait`` is not a probability in [0, 1].
    """
    if not isinstance(schedule, Schedule):
        raise ValidationError(f"schedule must be a Schedule, got {schedule!r:.80}")
    if not isinstance(mix, Mapping):
        raise ValidationError(f"mix must be a mapping of class name -> call count, got {mix!r:.80}")
    bad = next(((k, n) for k, n in mix.items() if not isinstance(k, str) or isinstance(n, bool)), None)
    if bad is not None:
        raise ValidationError(f"mix must map class names (strings) to call counts (numbers); got {bad!r:.80}")
    counts = {k: check_nonneg(f"mix[{k!r}]", n) for k, n in mix.items()}
    total = float(sum(counts.values()))
    if total <= 0:
        raise ValidationError(f"mix must hold non-negative call counts with a positive total, got {mix!r}")
    unknown = sorted(k for k in counts if k not in schedule.classes and k != UNKNOWN)
    if unknown:
        raise ValidationError(
            f"mix names classes the schedule does not define: {', '.join(unknown)}; known:"
            f" {', '.join(sorted(schedule.classes))} (or {UNKNOWN})"
        )
    v_usd = check_nonneg("v_usd", v_usd)
    dp_wait = check_prob("dp_wait", dp_wait)
    h = schedule.ask_cost_usd if ask_cost_usd is None else check_nonneg("ask_cost_usd", ask_cost_usd)
    rows = []
    free = free_sched = harm = oversight = 0.0
    for name, n in sorted(counts.items(), key=lambda kv: -kv[1]):
        verdict = schedule.verdict(name)
        cp = price_class(schedule.classes.get(name), verdict, name)
        over = h * cp.approvers + v_usd * dp_wait
        # unknown and denied classes are never autonomous (fail closed), whatever the prices say
        known = name in schedule.classes and schedule.classes[name].level != "deny"
        implied = known and cp.harm_usd <= over
        breakeven = max(cp.harm_usd - h * cp.approvers, 0.0) if known else float("inf")
        rows.append(ClassAutonomy(name, float(n), cp.harm_usd, over, implied, verdict, breakeven))
        if implied:
            free += n
            harm += n * cp.harm_usd
        elif verdict != "deny":
            oversight += n * over
        free_sched += n if verdict == "allow" else 0.0
    disagree = tuple(
        r.name
        for r in rows
        if r.schedule_verdict != "deny" and (r.schedule_verdict == "allow") != r.implied_free
    )
    return AutonomyLevel(free / total, free_sched / total, harm, oversight, tuple(rows), disagree)
