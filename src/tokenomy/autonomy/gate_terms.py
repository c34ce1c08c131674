"""The terms a gate verdict is built from for one action class: level, why, price, scope, approvers.

:func:`class_terms` is the part of :meth:`tokenomy.autonomy.gate.Gate.check` that depends only on the
class, the schedule, the gate's mode, the sandbox flag and the harm estimate (Eq. 6–7's comparison of
the class's priced harm ρ·ΔR + ρ_irr·ΔR_irr with the cost of one confirmation), so the gate can keep
it per class instead of recomputing it on every call. Builds values only.
"""

from __future__ import annotations

from tokenomy.autonomy.schedule import ActionClass, Schedule

__all__ = ["Terms", "class_level", "class_terms"]

Terms = tuple[str, str, float, str, int, str]
"""(level, why, priced harm USD, approval scope, approvers needed, the price comparison as text)."""


def class_level(
    schedule: Schedule, mode: str, name: str, in_sandbox: bool | None, p_harm: float | None
) -> tuple[str, str]:
    """The level in force for class ``name`` and why: the published level (``mode="schedule"``, and
    ``deny`` always), else the level the prices imply, never freer than published outside a sandbox;
    an unknown class gets ``unknown_level`` (fail closed)."""
    cls = schedule.classes.get(name)
    if cls is None:
        return schedule.unknown_level, f"class {name!r} has no rule: unknown_level (fail closed)"
    sandboxed = schedule.sandboxed if in_sandbox is None else in_sandbox
    published = cls.effective_level(sandboxed)
    if mode == "schedule" or published == "deny":
        where = "" if cls.level == published else (" (outside the sandbox)" if not sandboxed else "")
        return published, f"schedule level {published}{where}"
    price = cls.harm_price_usd(p_harm)
    implied = (
        "free" if price <= schedule.ask_cost_usd else ("multi_party" if cls.approvers > 1 else "confirm")
    )
    if implied == "free" and not sandboxed and published != "free":
        return published, f"implied free but outside the sandbox: schedule level {published}"
    return implied, f"implied level {implied} (priced harm vs ask cost)"


def class_terms(
    schedule: Schedule, mode: str, name: str, in_sandbox: bool | None, p_harm: float | None
) -> Terms:
    """The verdict terms of class ``name`` (see :data:`Terms`)."""
    cls: ActionClass | None = schedule.classes.get(name)
    level, why = class_level(schedule, mode, name, in_sandbox, p_harm)
    price = cls.harm_price_usd(p_harm) if cls is not None else float("inf")
    ask_cost = schedule.ask_cost_usd
    scope = cls.scope if cls is not None else "once"
    needed = cls.approvers if cls is not None and level == "multi_party" else 1
    cmp = (
        "unpriced"
        if cls is None
        else f"priced harm ${price:.4g} {'>' if price > ask_cost else '≤'} ask ${ask_cost:.4g}"
    )
    return level, why, price, scope, needed, cmp
