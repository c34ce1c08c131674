"""The marginal controller: Eq. 1 over plan/act/verify/ask/defer/stop, cap, premiums, CVaR, Eq. 7 level."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from tokenomy.autonomy.controller import ACTIONS, MarginalController, SpendMeter, StepState, price_class
from tokenomy.autonomy.level import autonomy_level
from tokenomy.autonomy.schedule import parse_schedule
from tokenomy.core import PriceVector, ValidationError, choose, cvar, surplus
from tokenomy.interfaces.loaders.agent_data import load_schedule

SCHEDULE = replace(load_schedule(), sandboxed=True)  # a sandboxed run: execute is free


def _ctl(**kw: float) -> MarginalController:
    return MarginalController(SCHEDULE, **kw)  # type: ignore[arg-type]


def _state(**kw: object) -> StepState:
    base: dict[str, object] = {
        "v_usd": 2.0,
        "p_success": 0.6,
        "remaining_usd": 0.4,
        "next_call_usd": 0.02,
        "act_class": "execute",
    }
    base.update(kw)
    return StepState(**base)  # type: ignore[arg-type]


def test_stops_when_every_surplus_is_non_positive() -> None:
    # V·p̂ = 0.2 < Ĉ = 0.4: going on loses money, nothing to salvage or defer to
    a = _ctl().decide(_state(v_usd=0.5, p_success=0.4))
    assert a.kind == "stop" and a.surplus_usd == 0.0 and not a.salvage


def test_acts_when_continuing_pays_and_nothing_else_adds() -> None:
    a = _ctl().decide(_state())
    assert a.kind == "act" and a.surplus_usd == pytest.approx(2.0 * 0.6 - 0.4 - 0.001)


def test_verifies_when_value_of_information_beats_its_cost() -> None:
    ctl = _ctl()
    # VoI 0.05 × V 2 = 0.10 > verify cost 0.03 + the act's harm price 0.001 (postponed, not avoided)
    assert ctl.decide(_state(voi_verify=0.05, verify_usd=0.03)).kind == "verify"
    # VoI 0.01 × 2 = 0.02 < 0.03: not worth it
    assert ctl.decide(_state(voi_verify=0.01, verify_usd=0.03)).kind == "act"
    # the same VoI pays at a higher V: verification is bought in proportion to the stakes
    assert ctl.decide(_state(v_usd=20.0, voi_verify=0.01, verify_usd=0.03)).kind == "verify"


def test_verify_cost_defaults_to_the_next_call_which_grows_with_context() -> None:
    ctl = _ctl()
    early = _state(voi_verify=0.01, next_call_usd=0.005)  # step 0: ~1.6k prompt tokens
    late = _state(voi_verify=0.01, next_call_usd=0.05)  # step 60: ~32k prompt tokens
    assert ctl.decide(early).kind == "verify"
    assert ctl.decide(late).kind == "act"


def test_plans_when_a_plan_step_adds_more_than_a_call() -> None:
    assert _ctl().decide(_state(dp_plan=0.05)).kind == "plan"
    assert _ctl().decide(_state(dp_plan=0.005)).kind == "act"


def test_defers_when_a_human_is_worth_more_than_going_on() -> None:
    a = _ctl().decide(_state(p_success=0.2, p_defer=0.9, defer_usd=0.5))
    assert a.kind == "defer" and a.surplus_usd == pytest.approx(2.0 * 0.9 - 0.5)


def test_irreversible_premium_turns_act_into_ask() -> None:
    text = """
ask_cost_usd = 0.05
[classes.push]
description = "x"
effect = "e"
reversibility = "r"
blast_radius = "b"
level = "free"
rho_usd = 1.0
rho_irr_usd = {rho_irr}
p_harm = 0.01
severity = 1.0
irreversible = 1.0
"""
    cheap = MarginalController(parse_schedule(text.format(rho_irr=1.0)))
    dear = MarginalController(parse_schedule(text.format(rho_irr=50.0)))
    st = _state(act_class="push")
    # ρ_irr = 1: harm ≈ 0.01 ≤ ask 0.05 → act; ρ_irr = 50: harm ≥ 0.5 > 0.05 → ask first
    assert cheap.decide(st).kind == "act"
    assert dear.decide(st).kind == "ask"
    assert dear.class_price("push").harm_usd >= 0.5


def test_cvar_prices_rare_and_severe_classes_above_their_mean() -> None:
    cls = SCHEDULE.classes["transfer"]
    assert cls.rare_severe
    cp = price_class(cls, "ask", "transfer")
    support, probs = (0.0, cls.severity), (1 - cls.p_harm, cls.p_harm)
    expected_dr = cvar(support, cls.cvar_alpha, probs)
    assert cp.risk_measure == "cvar"
    unit_usd = cls.harm_price_usd(p_harm=1.0) / cls.severity  # USD per harm unit, schedule's convention
    assert cp.harm_usd == pytest.approx(expected_dr * unit_usd)
    mean_price = cls.p_harm * cls.severity * unit_usd
    assert cp.harm_usd > 10 * mean_price  # p = 0.05 at α = 0.95: the whole tail is the harm
    assert cp.harm_usd == pytest.approx(cls.harm_price_usd())  # agrees with the schedule's closed form


def test_schedule_is_the_contract_deny_and_confirm_classes() -> None:
    ctl = _ctl()
    sur_deny = ctl.surpluses(_state(act_class="destroy"))
    assert "act" not in sur_deny and "ask" not in sur_deny
    sur_commit = ctl.surpluses(_state(act_class="commit"))
    assert "act" not in sur_commit and "ask" in sur_commit
    # unknown classes are never acted without a confirmation (fail closed)
    sur_unknown = ctl.surpluses(_state(act_class="no-such-class"))
    assert "act" not in sur_unknown and "ask" in sur_unknown
    # multi-party: two approvals cost twice
    sur_transfer = ctl.surpluses(_state(act_class="transfer"))
    assert sur_commit["ask"] - sur_transfer["ask"] == pytest.approx(SCHEDULE.ask_cost_usd)


def test_spend_cap_warns_before_and_salvages_at_the_cap() -> None:
    ctl = _ctl()
    ok = ctl.decide(_state(spent_usd=1.0, cap_usd=3.0))
    assert ok.kind == "act" and not ok.warn
    warn = ctl.decide(_state(spent_usd=2.5, cap_usd=3.0))
    assert warn.kind == "act" and warn.warn and not warn.salvage
    at = ctl.decide(_state(spent_usd=2.99, cap_usd=3.0, p_salvage=0.3))
    assert at.kind == "stop" and at.salvage and at.runner_up == "act"
    assert at.surplus_usd == pytest.approx(2.0 * 0.3)
    assert "cap" in at.reason


def test_spend_meter_counts_malformed_replies() -> None:
    meter = SpendMeter(cap_usd=1.0)
    meter.bill(0.10, num_tokens=2000)
    meter.bill(0.02, num_tokens=900, malformed=True)
    assert meter.n_calls == 2 and meter.n_malformed == 1 and meter.num_tokens == 2900
    assert meter.spent_usd == pytest.approx(0.12)
    assert meter.malformed_share == pytest.approx(0.02 / 0.12)
    with pytest.raises(ValidationError, match="cost_usd"):
        meter.bill(-1.0)


def test_spend_meter_on_real_run_counts_the_malformed_share(need_data: object) -> None:
    from tokenomy.interfaces.loaders.agent_data import load_miniswe

    trajs = load_miniswe(need_data("agent"))  # type: ignore[operator]
    meter = SpendMeter()
    for t in trajs:
        for s in t.steps:
            meter.bill(s.cost_usd, num_tokens=s.num_prompt_tokens, malformed=s.format_error)
    assert meter.n_calls == 20_163
    assert meter.spent_usd == pytest.approx(229.98, abs=0.01)
    assert meter.malformed_share == pytest.approx(0.070, abs=0.002)  # README: 7.0% of cost


def test_decide_agrees_with_core_choose_on_random_states() -> None:
    ctl = _ctl()
    rng = np.random.default_rng(7)
    classes = [*SCHEDULE.classes, "unknown"]
    for _ in range(400):
        st = StepState(
            v_usd=float(rng.choice([0.5, 1, 2, 5, 10, 100])),
            p_success=float(rng.uniform()),
            remaining_usd=float(rng.uniform(0, 2)),
            next_call_usd=float(rng.uniform(0, 0.1)),
            act_class=str(rng.choice(classes)),
            dp_plan=float(rng.uniform(0, 0.05)),
            voi_verify=float(rng.uniform(0, 0.1)),
            p_salvage=float(rng.uniform(0, 0.3)),
            p_defer=float(rng.uniform(0, 0.5)),
            defer_usd=float(rng.uniform(0, 2)),
        )
        action = ctl.decide(st)
        uses = ctl.candidates(st)
        # harm is in harm units, priced at the class's own ρ and ρ_irr (the schedule's safety prices)
        cls = SCHEDULE.classes.get(st.act_class)
        prices = PriceVector(
            v_usd=st.v_usd,
            rho_usd=cls.rho_usd if cls else 0.0,
            rho_irr_usd=cls.rho_irr_usd if cls else 0.0,
        )
        sur = ctl.surpluses(st)
        for u in uses:
            assert surplus(u, prices) == pytest.approx(sur[u.name], abs=1e-9)
        if cls is not None and "act" in sur:
            act = next(u for u in uses if u.name == "act")
            harm_usd = -(surplus(act, prices.with_prices(v_usd=0.0)) + act.dc_usd)  # λ = 0 here
            assert harm_usd == pytest.approx(cls.harm_price_usd(), abs=1e-9)
        best = max(sur.values())
        assert action.surplus_usd == pytest.approx(best)
        assert action.kind in ACTIONS
        # core's rule (null option = stop at 0) picks an option with the same surplus
        c = choose(uses, prices)
        assert (c.name if c.spends else "stop") in sur
        assert max(best, 0.0) == pytest.approx(max(max(c.surpluses_usd), 0.0))


def test_decide_is_deterministic() -> None:
    st = _state(voi_verify=0.03, dp_plan=0.01)
    assert _ctl().decide(st) == _ctl().decide(st)


def test_bad_controller_parameters_raise() -> None:
    with pytest.raises(ValidationError, match="catch_share"):
        MarginalController(SCHEDULE, catch_share=1.5)
    with pytest.raises(ValidationError, match="warn_share"):
        MarginalController(SCHEDULE, warn_share=0.0)


def test_autonomy_level_follows_the_prices() -> None:
    mix = {"read": 100, "draft": 50, "execute": 40, "commit": 8, "transfer": 2}
    lvl = autonomy_level(SCHEDULE, mix)
    assert lvl.a == pytest.approx(190 / 200)
    assert lvl.a_schedule == pytest.approx(190 / 200) and lvl.disagreements == ()
    # Eq. 7: when a confirmation costs more than a commit's priced harm (2.2 USD), commits go free
    dear_attention = autonomy_level(SCHEDULE, mix, ask_cost_usd=3.0)
    assert dear_attention.a == pytest.approx(198 / 200)
    assert dear_attention.disagreements == ("commit",)
    # ... and the success lost by waiting counts on the same side (V·∂p/∂a)
    waiting = autonomy_level(SCHEDULE, mix, v_usd=100.0, dp_wait=0.03)
    assert waiting.a == pytest.approx(198 / 200)
    # the break-even V·Δp_wait frees the class exactly there, and not a cent below
    commit = next(c for c in lvl.classes if c.name == "commit")
    assert commit.breakeven_v_dp_usd == pytest.approx(commit.harm_usd - SCHEDULE.ask_cost_usd * 1)
    at = commit.breakeven_v_dp_usd
    assert next(
        c for c in autonomy_level(SCHEDULE, mix, v_usd=at, dp_wait=1.0).classes if c.name == "commit"
    ).implied_free
    below = autonomy_level(SCHEDULE, mix, v_usd=at * 0.99, dp_wait=1.0)
    assert not next(c for c in below.classes if c.name == "commit").implied_free
    assert next(c for c in lvl.classes if c.name == "read").breakeven_v_dp_usd == 0.0
    # unknown classes are never autonomous
    assert autonomy_level(SCHEDULE, {"unknown": 5, "read": 5}, ask_cost_usd=1e9).a == pytest.approx(0.5)
    assert math.isinf(autonomy_level(SCHEDULE, {"unknown": 5}).classes[0].breakeven_v_dp_usd)
    with pytest.raises(ValidationError, match="mix"):
        autonomy_level(SCHEDULE, {})


def test_cap_of_infinity_never_warns() -> None:
    a = _ctl().decide(_state(spent_usd=1e6))
    assert not a.warn and not a.salvage and math.isinf(_state().cap_usd)


def test_step_decision_goes_to_the_ledger(tmp_path: object) -> None:
    from tokenomy.ledger import Ledger

    ctl = _ctl()
    st = _state(voi_verify=0.05, verify_usd=0.03, spent_usd=2.5, cap_usd=3.0)
    action = ctl.decide(st)
    d = ctl.to_decision(st, action, request_id="task-1", step=7)
    assert d.layer.value == "action" and d.decision_point == "step-7"
    assert d.chosen is not None and d.candidates[d.chosen].name == "verify"
    assert d.candidates[d.chosen].surplus_usd == pytest.approx(action.surplus_usd)
    assert d.metadata["warn"] is True
    stop = ctl.decide(_state(v_usd=0.1))
    assert ctl.to_decision(_state(v_usd=0.1), stop, request_id="task-1", step=8).chosen is None
    ledger = Ledger(str(tmp_path) + "/l.duckdb")
    ledger.append([d])
    assert [x.decision_point for x in ledger.decisions()] == ["step-7"]
