"""The marginal controller of one agent step: plan / act / verify / ask / defer / stop by Eq. 1.

At each step of an agent loop, :meth:`MarginalController.decide` takes the :class:`StepState` (the
estimated success probability if the run goes on, the USD still to be spent, the cost of the next
call — which grows with the context: ~1.6k → ~32k prompt tokens by step 60 in the real mini-swe-agent
run —, the value of information of a verify step, the class of the pending act) and returns the
:class:`Action` with the highest surplus, Eq. 1:

    continue base  B        = V·p̂ − Ĉ_remaining − λ·ℓ_next                 (the run goes on as it would)
    act                     = B + V·Δp_act − (ρ·(ΔR − ΔR_irr) + ρ_irr·ΔR_irr)(class)  (acts without asking)
    ask                     = B + V·(Δp_act + Δp_ask) − H_ask·approvers − (1 − catch)·harm   (confirm, then act)
    plan                    = B + V·Δp_plan − c_next − g                     (one extra call, act later)
    verify                  = B + V·VoI_verify − c_verify − g                (VoI as success gained)
    defer                   = V·p_defer − c_defer                            (hand the task to a human)
    stop                    = V·p_salvage                                   (submit the best so far; 0 if none)

Δp_ask is the success a confirmation adds (a wrong act caught before it runs: estimated on tau-bench
training episodes as ``ConfirmModel.dq``), priced at the step's real V. g = the cheaper of the act's two gate prices (harm if free, confirmation if asked): planning or
verifying first postpones the pending act, it does not avoid it (g = 0 when the act is denied: the
plan replaces it).

Sunk cost is ignored: only what is still to come is priced. The harm of an act is priced with the
class's ρ and ρ_irr from the autonomy schedule (the safety policy's prices; λ comes from the
controller's ``PriceVector``, V from the step); classes marked rare-and-severe are measured by CVaR_α
(``tokenomy.core.risk.cvar``) of their harm distribution instead of its mean. A class the schedule
sets to ``deny`` can be neither acted nor asked; one set to ``confirm``/``multi_party`` cannot be acted
without asking (the schedule is the contract; the prices only decide within it). Unknown classes get
the schedule's fail-closed ``unknown_level``.

Spend cap: every billed call counts (malformed replies too — 7% of cost in the real run); when the
next call would take spend above ``warn_share``·cap the action carries a warning, and when it would
cross the cap the controller salvages (stops and submits the best so far) whatever the surpluses say.

:meth:`MarginalController.candidates` returns the options as :class:`tokenomy.core.TokenUse` values
and :meth:`MarginalController.step_prices` the step's price vector; every surplus is core's
``surplus`` of one at the other (the one rule), also in ``decide`` (< 50 µs median,
benchmarks/bench_agent.py).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from tokenomy.autonomy.schedule import ActionClass, Schedule
from tokenomy.core.errors import ValidationError
from tokenomy.core.prices import PriceSource, PriceVector
from tokenomy.core.risk import cvar, expectation
from tokenomy.core.rule import risk_cost, surplus
from tokenomy.core.uses import TokenUse
from tokenomy.ledger.records import Candidate, Decision, Layer

__all__ = ["ACTIONS", "Action", "ClassPrice", "MarginalController", "SpendMeter", "StepState", "price_class"]

_UNPRICED = PriceVector(rho_source=PriceSource.SAFETY_POLICY, rho_irr_source=PriceSource.SAFETY_POLICY)
"""The prices of a class the schedule does not price (it carries no harm)."""

ACTIONS = ("stop", "act", "plan", "verify", "ask", "defer")
"""The options, in tie-break order: a tie goes to the earlier one (stop wins ties: a step must pay)."""


@dataclass(frozen=True, slots=True)
class StepState:
    """What the controller knows before the next step (all USD amounts are still to be spent).

    Attributes:
        v_usd: value of a resolved task (V).
        p_success: estimated probability the run succeeds if it goes on as it would.
        remaining_usd: estimated USD of the calls still to come if it goes on (next call included).
        next_call_usd: USD of the next call alone (its prompt holds the whole context so far).
        spent_usd: USD billed so far (every call, malformed replies included; sunk, not priced).
        num_tokens_spent: tokens billed so far (prompt + completion).
        act_class: schedule class of the pending act (from ``tokenomy.autonomy.classify``).
        dp_act: success probability the pending act adds over going on as estimated (usually 0).
        dp_plan: success probability one extra planning call adds.
        dp_ask: success probability a confirmation adds over acting unasked (a wrong act caught).
        voi_verify: value of information of a verify step, as success probability gained (catching a
            wrong edit before it is submitted × the chance of repairing it).
        verify_usd: USD of a verify step (NaN: the next call's cost).
        p_salvage: success probability of submitting the best so far now (0: nothing to submit).
        p_defer: success probability if the task is handed to a human now.
        defer_usd: what the hand-off costs (the human's time), USD.
        next_call_s: latency the next call adds, seconds (priced by λ).
        cap_usd: the spend cap (inf: none).
    """

    v_usd: float
    p_success: float
    remaining_usd: float
    next_call_usd: float
    spent_usd: float = 0.0
    num_tokens_spent: int = 0
    act_class: str = "execute"
    dp_act: float = 0.0
    dp_plan: float = 0.0
    dp_ask: float = 0.0
    voi_verify: float = 0.0
    verify_usd: float = math.nan
    p_salvage: float = 0.0
    p_defer: float = 0.0
    defer_usd: float = 0.0
    next_call_s: float = 0.0
    cap_usd: float = math.inf


@dataclass(frozen=True, slots=True)
class Action:
    """The controller's decision for one step, returned as data (the agent loop applies it).

    Attributes:
        kind: one of :data:`ACTIONS`.
        surplus_usd: Eq. 1 surplus of the chosen option (stop: the salvage value).
        runner_up: the best other option.
        margin_usd: surplus of ``kind`` minus that of ``runner_up`` (≥ 0 unless the cap forced a stop).
        salvage: the cap was reached: stop and submit the best so far.
        warn: the next call takes spend past the warning share of the cap.
        reason: one line for logs and the ledger.
    """

    kind: str
    surplus_usd: float
    runner_up: str
    margin_usd: float
    salvage: bool = False
    warn: bool = False
    reason: str = ""


@dataclass(frozen=True, slots=True)
class ClassPrice:
    """A schedule class reduced to what one step needs: the verdict in force and the priced harm.

    Attributes:
        name: class name.
        verdict: allow / ask / deny (the schedule's level in force; unknown → its fail-closed level).
        dr: ΔR of one act, harm units (CVaR_α for rare-and-severe classes).
        dr_irr: its irreversible part, harm units.
        prices: the class's ρ and ρ_irr (the safety policy's prices, from the schedule).
        approvers: confirmations an ask needs (multi-party > 1).
        risk_measure: "expectation" or "cvar".
    """

    name: str
    verdict: str
    dr: float
    dr_irr: float
    prices: PriceVector
    approvers: int
    risk_measure: str

    @property
    def harm_usd(self) -> float:
        """The USD price of one act's harm, core's ``risk_cost``: ρ·(ΔR − ΔR_irr) + ρ_irr·ΔR_irr."""
        return risk_cost(self.dr, self.dr_irr, self.prices.rho_usd, self.prices.rho_irr)


def price_class(cls: ActionClass | None, verdict: str, name: str) -> ClassPrice:
    """Price one act of ``cls`` (None: an unknown class, priced at 0 harm but fail-closed by verdict).

    The harm of one act is a two-point distribution: 0 with probability 1 − p, ``severity`` with
    probability p; ΔR is its mean (CVaR_α for rare-and-severe classes, by ``tokenomy.core.risk``), its
    irreversible part the class's ``irreversible`` share of it, priced at the schedule's ρ and ρ_irr
    (as :meth:`ActionClass.harm_price_usd` prices it, so the two agree).
    """
    if cls is None:
        return ClassPrice(name, verdict, 0.0, 0.0, _UNPRICED, 1, "expectation")
    support, probs = (0.0, cls.severity), (1.0 - cls.p_harm, cls.p_harm)
    if cls.rare_severe:
        dr_total, measure = cvar(support, cls.cvar_alpha, probs), "cvar"
    else:
        dr_total, measure = expectation(support, probs), "expectation"
    return ClassPrice(
        name, verdict, dr_total, dr_total * cls.irreversible, cls.prices(), max(1, cls.approvers), measure
    )


class MarginalController:
    """Eq. 1 over plan / act / verify / ask / defer / stop, inside the autonomy schedule.

    Args:
        schedule: the autonomy schedule in force (verdicts, per-class ρ and ρ_irr, CVaR classes, ask cost).
        prices: the price vector in force: its λ prices latency (V comes with each step's state; ρ and
            ρ_irr are the pending act's class's, from the schedule); ``None``: all zero.
        ask_cost_usd: H, the principal's cost of one confirmation (None: the schedule's).
        catch_share: share of an act's harm a confirmation averts.
        warn_share: warn once spend plus the next call passes this share of the cap.
    """

    def __init__(
        self,
        schedule: Schedule,
        *,
        prices: PriceVector | None = None,
        ask_cost_usd: float | None = None,
        catch_share: float = 1.0,
        warn_share: float = 0.8,
    ) -> None:
        if not 0.0 <= catch_share <= 1.0:
            raise ValidationError(f"catch_share must be in [0, 1], got {catch_share!r}")
        if not 0.0 < warn_share <= 1.0:
            raise ValidationError(f"warn_share must be in (0, 1], got {warn_share!r}")
        self.schedule = schedule
        self.prices = PriceVector() if prices is None else prices
        self._step_prices: dict[tuple[str, float], PriceVector] = {}  # (class, V) -> step prices
        self.ask_cost_usd = schedule.ask_cost_usd if ask_cost_usd is None else ask_cost_usd
        self.catch_share = catch_share
        self.warn_share = warn_share
        self._prices: dict[str, ClassPrice] = {
            name: price_class(c, schedule.verdict(name), name) for name, c in schedule.classes.items()
        }

    def class_price(self, name: str) -> ClassPrice:
        """The price of one act of class ``name`` (unknown classes: the fail-closed verdict)."""
        got = self._prices.get(name)
        if got is None:
            got = price_class(None, self.schedule.verdict(name), name)
            self._prices[name] = got
        return got

    def surpluses(self, state: StepState) -> dict[str, float]:
        """Eq. 1 surplus of every option allowed by the schedule (USD), by core's rule. # option -> surplus"""
        prices = self.step_prices(state)
        return {u.name: surplus(u, prices) for u in self.candidates(state)}

    def step_prices(self, state: StepState) -> PriceVector:
        """The price vector of one step: V of the state, λ of the controller's vector, ρ and ρ_irr of the
        pending act's class (the controller's own ρ, ρ_irr for a class the schedule does not price)."""
        key = (state.act_class, state.v_usd)
        got = self._step_prices.get(key)
        if got is not None:
            return got
        if len(self._step_prices) >= 4096:  # V is usually fixed per task: a small cache suffices
            self._step_prices.clear()
        p = self.prices
        cp = self.class_price(state.act_class)
        rho = cp.prices if cp.prices is not _UNPRICED else p
        got = self._step_prices[key] = PriceVector(
            v_usd=state.v_usd,
            lam_usd_per_s=p.lam_usd_per_s,
            rho_usd=rho.rho_usd,
            rho_irr_usd=rho.rho_irr_usd,
            v_source=PriceSource.USER,
            lam_source=p.lam_source,
            rho_source=rho.rho_source,
            rho_irr_source=rho.rho_irr_source,
        )
        return got

    def _ask_usd(self, cp: ClassPrice) -> float:
        return self.ask_cost_usd * cp.approvers + (1.0 - self.catch_share) * cp.harm_usd

    def _gate(self, cp: ClassPrice) -> tuple[float, float, float]:
        """(ΔC, ΔR, ΔR_irr) of the pending act's gate g: its harm if acting free is cheaper, else the
        confirmation (ask cost and the harm a confirmation does not catch); nothing when denied."""
        if cp.verdict == "deny":
            return 0.0, 0.0, 0.0
        if cp.verdict == "allow" and cp.harm_usd <= self._ask_usd(cp):
            return 0.0, cp.dr, cp.dr_irr
        miss = 1.0 - self.catch_share
        return self.ask_cost_usd * cp.approvers, miss * cp.dr, miss * cp.dr_irr

    def decide(self, state: StepState) -> Action:
        """The option with the highest surplus; stop (with salvage) when the cap would be crossed.

        Args:
            state: the step's state.

        Returns:
            The :class:`Action`; ties go to the earlier option in :data:`ACTIONS`.
        """
        sur = self.surpluses(state)
        best, best_val, second, second_val = "stop", sur["stop"], "", -math.inf
        for name in ACTIONS[1:]:
            val = sur.get(name)
            if val is None:
                continue
            if val > best_val:
                best, best_val, second, second_val = name, val, best, best_val
            elif val > second_val:
                second, second_val = name, val
        after = state.spent_usd + state.next_call_usd
        if after > state.cap_usd and best != "stop":
            return Action(
                "stop",
                sur["stop"],
                best,
                sur["stop"] - best_val,
                salvage=True,
                warn=True,
                reason=f"spend cap ${state.cap_usd:g} reached: salvage (submit the best so far)",
            )
        warn = after > self.warn_share * state.cap_usd
        reason = f"{best}: surplus ${best_val:.4g} vs {second} ${second_val:.4g}"
        return Action(best, best_val, second, best_val - second_val, warn=warn, reason=reason)

    def candidates(self, state: StepState) -> tuple[TokenUse, ...]:
        """The allowed options as ``TokenUse`` values; core's ``surplus`` at :meth:`step_prices` gives
        :meth:`surpluses`. Harm enters in harm units (ΔR, ΔR_irr of the class, CVaR for rare-and-severe
        classes), priced by the class's ρ and ρ_irr; the gate g of plan / verify enters the same way."""
        s = state
        cp = self.class_price(s.act_class)
        verify_usd = s.next_call_usd if s.verify_usd != s.verify_usd else s.verify_usd
        dl = s.next_call_s
        g_dc, g_dr, g_irr = self._gate(cp)
        rem = s.remaining_usd
        uses = [
            TokenUse("stop", s.p_salvage),
            TokenUse("plan", s.p_success + s.dp_plan, rem + s.next_call_usd + g_dc, dl, g_dr, g_irr),
            TokenUse("verify", s.p_success + s.voi_verify, rem + verify_usd + g_dc, dl, g_dr, g_irr),
            TokenUse("defer", s.p_defer, s.defer_usd),
        ]
        if cp.verdict != "deny":
            p_act = s.p_success + s.dp_act
            miss = 1.0 - self.catch_share
            ask_usd = rem + self.ask_cost_usd * cp.approvers
            m = cp.risk_measure
            p_ask = p_act + s.dp_ask
            uses.append(TokenUse("ask", p_ask, ask_usd, dl, miss * cp.dr, miss * cp.dr_irr, risk_measure=m))
            if cp.verdict == "allow":
                uses.append(TokenUse("act", p_act, rem, dl, cp.dr, cp.dr_irr, risk_measure=m))
        return tuple(uses)

    def to_decision(
        self,
        state: StepState,
        action: Action,
        *,
        request_id: str,
        step: int,
        time_s: float = 0.0,
        tenant: str = "",
    ) -> Decision:
        """The step as a ledger :class:`~tokenomy.ledger.Decision` (layer ``action``, point ``step-<k>``).

        Candidates are :meth:`candidates` with their surpluses; ``chosen`` is the chosen option's index,
        or None when the controller stopped with nothing to salvage (the null option).
        """
        prices = self.step_prices(state)
        uses = self.candidates(state)
        cands = tuple(Candidate.from_use(u, prices) for u in uses)
        names = [u.name for u in uses]
        chosen = None if action.kind == "stop" and state.p_salvage == 0 else names.index(action.kind)
        meta = {
            "act_class": state.act_class,
            "spent_usd": state.spent_usd,
            "cap_usd": None if math.isinf(state.cap_usd) else state.cap_usd,
            "warn": action.warn,
            "salvage": action.salvage,
            "reason": action.reason,
            "harm_pricing": "dr in harm units, priced at the class's rho/rho_irr (schedule); CVaR for rare_severe",
        }
        return Decision(
            request_id,
            Layer.ACTION,
            f"step-{step}",
            cands,
            chosen,
            prices,
            time_s=time_s,
            tenant=tenant,
            metadata=meta,
        )

    def class_prices(self) -> Mapping[str, ClassPrice]:
        """Every schedule class's price. # class name -> ClassPrice"""
        return dict(self._prices)


class SpendMeter:
    """Counts every billed call against a cap: malformed replies are billed and counted too.

    Args:
        cap_usd: the cap (inf: none).
    """

    def __init__(self, cap_usd: float = math.inf) -> None:
        if not cap_usd > 0:
            raise ValidationError(f"cap_usd must be > 0, got {cap_usd!r}")
        self.cap_usd = cap_usd
        self.spent_usd = 0.0
        self.malformed_usd = 0.0
        self.n_calls = 0
        self.n_malformed = 0
        self.num_tokens = 0

    def bill(self, cost_usd: float, *, num_tokens: int = 0, malformed: bool = False) -> None:
        """Record one billed call (a malformed reply is a billed call that ran nothing)."""
        if not cost_usd >= 0:
            raise ValidationError(f"cost_usd of a billed call must be ≥ 0, got {cost_usd!r}")
        self.spent_usd += cost_usd
        self.n_calls += 1
        self.num_tokens += num_tokens
        if malformed:
            self.malformed_usd += cost_usd
            self.n_malformed += 1

    @property
    def malformed_share(self) -> float:
        """Share of spend that went to malformed replies."""
        return self.malformed_usd / self.spent_usd if self.spent_usd > 0 else 0.0
