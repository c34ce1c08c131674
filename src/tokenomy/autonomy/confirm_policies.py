"""Confirm-before-commit policies: for each state-changing tool call, ask the user first or not.

One policy = one class with one verb, :meth:`ConfirmPolicy.confirm`, judged by
:mod:`tokenomy.autonomy.confirm` on recorded tau-bench trajectories. A policy is a gate in front of
the agent: it sees what a gate would see at that moment — the call (tool and arguments), whether the
user's last message was an explicit "yes" (``confirmed_by_user``: the agent may already have asked),
the schedule, the prices (V, ρ) and the :class:`ConfirmModel` estimated on *training* episodes — never
the call's ground-truth match or the episode's reward. Registry: :data:`POLICIES`.

* ``always_confirm``: the gate asks before every commit (even one the user has just said yes to).
* ``never_confirm``: the gate never asks — the recorded run, where only the agent's own
  confirmations happen.
* ``accept_edits``: like an editor's accept-edits mode — edits of an existing record
  (``update_*`` tools) go through unasked; creating (``book_*``), cancelling and transferring value ask.
* ``confirm_risky``: ask iff the schedule's priced harm of the call's class exceeds ``threshold_usd``.
* ``tokenomy``: Eq. 1 — ask iff the surplus of confirming is positive:
  V·ΔQ + ρ·ΔR avoided − c_ask > 0, with ΔQ and ΔR avoided per tool learned on the training
  episodes (``ConfirmModel.dq`` / ``dr_avoided``: ≈ p̂_wrong · p_catch · harm units) and c_ask the
  schedule's price of one confirmation.
* :class:`ControllerConfirm` (not in the registry: the same rule run through the step controller):
  :class:`~tokenomy.autonomy.controller.MarginalController` compares its ask and act options for the
  pending commit with ΔQ as the state's ``dp_ask`` at the real V and ΔR avoided as the act's harm at ρ
  — the controller an agent loop runs makes the evaluated policy's decisions (tested).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from tokenomy.autonomy.controller import MarginalController, StepState
from tokenomy.autonomy.schedule import Schedule
from tokenomy.autonomy.trajectory import ToolCall
from tokenomy.core.rule import surplus_matrix

__all__ = [
    "POLICIES",
    "AcceptEdits",
    "AlwaysConfirm",
    "ConfirmModel",
    "ConfirmPolicy",
    "ConfirmRisky",
    "ControllerConfirm",
    "NeverConfirm",
    "TokenomyConfirm",
    "ask_terms",
]


@dataclass(frozen=True, slots=True)
class ConfirmModel:
    """What confirming is worth, estimated from recorded episodes (see ``confirm.fit_model``).

    Attributes:
        p_wrong: tool -> probability that a commit of this tool does not match the ground truth
            (Laplace-smoothed rate on the training episodes; measured).
        p_wrong_prior: the rate over all tools, for tools not seen in training.
        p_catch: probability that a user asked about a wrong commit says no (MODELLED: the posterior
            mean of 1 − the wrong rate of confirmed commits over that of unconfirmed ones, which
            assumes the agent errs as often whether or not it asks; ``confirm.estimate_p_catch``).
        dq: (tool, already confirmed by the user) -> expected success gained by the gate asking before
            one such commit (training episodes replayed through the world model with every other
            commit asked, shrunk toward the pooled mean; MODELLED).
        dr_avoided: same key -> expected harm units that ask avoids (same replay; MODELLED).
        q_fixed: success rate of episodes whose executed commits were all right and covered the
            ground truth's commits (measured on the training episodes).
        harm_units: tool -> harm of one wrong commit in ρ-units (MODELLED: the schedule's severity of
            the tool's class × (recoverable share + irreversible share × ρ_irr/ρ)).
        ask_cost_usd: the price of one confirmation (the schedule's ``ask_cost_usd``).
    """

    p_wrong: dict[str, float]
    p_wrong_prior: float
    p_catch: float
    q_fixed: float
    harm_units: dict[str, float] = field(default_factory=dict)
    dq: dict[tuple[str, bool], float] = field(default_factory=dict)
    dr_avoided: dict[tuple[str, bool], float] = field(default_factory=dict)
    ask_cost_usd: float = 0.05

    def wrong(self, tool: str) -> float:
        """p̂_wrong of one tool (the prior for an unseen one)."""
        return self.p_wrong.get(tool, self.p_wrong_prior)

    def harm(self, tool: str) -> float:
        """Harm units of a wrong commit of ``tool`` (1 for a tool the schedule does not price)."""
        return self.harm_units.get(tool, 1.0)


class ConfirmPolicy:
    """Base class: one verb, :meth:`confirm`. Constructors store keyword parameters only."""

    name = "base"

    def confirm(
        self, call: ToolCall, model: ConfirmModel, schedule: Schedule, v_usd: float, rho_usd: float
    ) -> bool:
        """Whether to ask the user before executing ``call`` (a state-changing call)."""
        raise NotImplementedError


class _FixedAnswer(ConfirmPolicy):
    """A policy that gives the same answer for every call (its class attribute ``answer``)."""

    answer = False

    def confirm(
        self, call: ToolCall, model: ConfirmModel, schedule: Schedule, v_usd: float, rho_usd: float
    ) -> bool:
        return self.answer


class AlwaysConfirm(_FixedAnswer):
    """Ask before every commit."""

    name = "always_confirm"
    answer = True


class NeverConfirm(_FixedAnswer):
    """Never ask."""

    name = "never_confirm"
    answer = False


class AcceptEdits(ConfirmPolicy):
    """Edits of an existing record pass unasked; anything that creates, cancels or pays asks."""

    name = "accept_edits"

    def __init__(self, *, edit_prefixes: tuple[str, ...] = ("update_",)) -> None:
        self.edit_prefixes = edit_prefixes

    def confirm(
        self, call: ToolCall, model: ConfirmModel, schedule: Schedule, v_usd: float, rho_usd: float
    ) -> bool:
        return not call.tool.startswith(self.edit_prefixes)


class ConfirmRisky(ConfirmPolicy):
    """Ask iff the schedule prices the call's class above ``threshold_usd`` (a fixed risk threshold)."""

    name = "confirm_risky"

    def __init__(self, *, threshold_usd: float = 10.0) -> None:
        self.threshold_usd = threshold_usd

    def confirm(
        self, call: ToolCall, model: ConfirmModel, schedule: Schedule, v_usd: float, rho_usd: float
    ) -> bool:
        cls = schedule.classes.get(schedule.tool_class(call.tool))
        return cls is None or cls.harm_price_usd() > self.threshold_usd


class TokenomyConfirm(ConfirmPolicy):
    """Eq. 1: ask iff V·ΔQ + ρ·ΔR avoided − c_ask > 0 (see the module docstring)."""

    name = "tokenomy"

    def surplus_usd(self, call: ToolCall, model: ConfirmModel, v_usd: float, rho_usd: float) -> float:
        """The Eq. 1 surplus of asking before ``call``, USD: V·ΔQ + ρ·ΔR avoided − c_ask."""
        dq, dr = ask_terms(call, model)
        # Core's rule on the two options: ask (ΔQ gained, pays c_ask) against act unasked (bears the
        # harm ΔR that asking avoids, in ρ-units: its irreversible part is already priced into them).
        ask, act = surplus_matrix(
            v_usd, [dq, 0.0], [model.ask_cost_usd, 0.0], 0.0, [0.0, dr], rho_usd=rho_usd, validate=False
        )[0]
        return float(ask - act)

    def confirm(
        self, call: ToolCall, model: ConfirmModel, schedule: Schedule, v_usd: float, rho_usd: float
    ) -> bool:
        return self.surplus_usd(call, model, v_usd, rho_usd) > 0


def ask_terms(call: ToolCall, model: ConfirmModel) -> tuple[float, float]:
    """(ΔQ, ΔR avoided) of asking before ``call``: learned per (tool, confirmed) on training episodes;
    for a key unseen in training, p̂_wrong prior × p_catch × its harm units and no ΔQ credit."""
    key = (call.tool, bool(call.confirmed_by_user))
    if key in model.dr_avoided:
        return model.dq.get(key, 0.0), model.dr_avoided[key]
    return 0.0, model.wrong(call.tool) * model.p_catch * model.harm(call.tool)


_PRICED = "priced_commit"


class ControllerConfirm(ConfirmPolicy):
    """The step controller decides ask vs act: Δp_ask = ΔQ at the real V, the act's harm = ΔR avoided at ρ.

    The pending commit becomes one class the prices decide (free to act unasked, harm ΔR avoided in
    recoverable units at ρ; a confirmation catches it), so the controller's ask − act surplus is
    V·ΔQ + ρ·ΔR avoided − c_ask, the :class:`TokenomyConfirm` rule. The published schedule asks
    before every commit; this policy evaluates the prices where the schedule lets them decide.
    """

    name = "tokenomy_controller"

    def confirm(
        self, call: ToolCall, model: ConfirmModel, schedule: Schedule, v_usd: float, rho_usd: float
    ) -> bool:
        dq, dr = ask_terms(call, model)
        base = schedule.classes.get(schedule.tool_class(call.tool)) or next(iter(schedule.classes.values()))
        cls = replace(
            base,
            name=_PRICED,
            level="free",
            level_outside_sandbox="free",
            approvers=1,
            rho_usd=rho_usd,
            rho_irr_usd=rho_usd,
            p_harm=1.0,
            severity=dr,
            irreversible=0.0,
            rare_severe=False,
        )
        ctl = MarginalController(
            replace(schedule, classes={_PRICED: cls}), ask_cost_usd=model.ask_cost_usd, catch_share=1.0
        )
        state = StepState(v_usd, 0.5, 0.0, 0.0, act_class=_PRICED, dp_ask=dq)
        sur = ctl.surpluses(state)
        return sur["ask"] > sur["act"]


POLICIES: dict[str, type[ConfirmPolicy]] = {
    p.name: p for p in (AlwaysConfirm, NeverConfirm, AcceptEdits, ConfirmRisky, TokenomyConfirm)
}
"""Policy name -> class (every class constructs with its defaults)."""
