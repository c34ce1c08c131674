"""Conformance of the action layer to core's one rule: the stopping rule, the controller, the gate and
confirmation price every option by ``surplus_matrix`` / ``surplus`` on random inputs (rtol 1e-12)."""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from tokenomy.autonomy.confirm import harm_units
from tokenomy.autonomy.confirm_policies import ConfirmModel, TokenomyConfirm
from tokenomy.autonomy.controller import MarginalController, StepState
from tokenomy.autonomy.stopping import MarginalStop
from tokenomy.core.prices import PriceVector
from tokenomy.core.rule import surplus_matrix
from tokenomy.interfaces.loaders.agent_data import load_schedule

F = NDArray[np.float64]
RTOL = 1e-12
SEEDS = range(6)


def close(a: Any, b: Any) -> None:
    np.testing.assert_allclose(np.asarray(a, np.float64), np.asarray(b, np.float64), rtol=RTOL, atol=1e-12)


def prices(rng: np.random.Generator) -> tuple[float, float, float]:
    """(λ, ρ, ρ_irr) with ρ_irr strictly above ρ, so the irreversible part is priced differently."""
    rho = float(rng.uniform(0.5, 5.0))
    return float(rng.uniform(0.01, 2.0)), rho, rho * float(rng.uniform(1.5, 20.0))


# -- autonomy -----------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_stopping_surplus_is_core_surplus_matrix(seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, (400, 2))
    model = SimpleNamespace(success=lambda a: a[:, 0], remaining_usd=lambda a: 3.0 * a[:, 1])
    pol = MarginalStop()
    pol.model_ = model  # type: ignore[assignment]
    v = float(rng.lognormal(0, 1))
    want = surplus_matrix(v, x[:, :1], 3.0 * x[:, 1:])[:, 0]
    close(pol.surplus_usd(SimpleNamespace(x=x), v), want)  # type: ignore[arg-type]


def _eq1(
    v: float,
    lam: float,
    rho: float,
    rho_irr: float,
    dq: float,
    dc: float,
    dl: float = 0.0,
    r: float = 0.0,
    r_irr: float = 0.0,
) -> float:
    """Core's surplus of one use (harm r, of which r_irr irreversible) at (V, λ, ρ, ρ_irr)."""
    s = surplus_matrix(v, [dq], [dc], [dl], [r], [r_irr], lam_usd_per_s=lam, rho_usd=rho, rho_irr_usd=rho_irr)
    return float(s[0, 0])


def random_schedule(rng: np.random.Generator) -> Any:
    base = load_schedule()
    classes = {}
    for name, c in base.classes.items():
        _, rho, rho_irr = prices(rng)
        classes[name] = replace(
            c,
            rho_usd=rho,
            rho_irr_usd=rho_irr,
            p_harm=float(rng.uniform(0, 0.5)),
            severity=float(rng.uniform(0, 10)),
            irreversible=float(rng.uniform()),
            rare_severe=False,
        )
    return replace(base, classes=classes)


@pytest.mark.parametrize("seed", SEEDS)
def test_controller_surpluses_are_core_surplus_matrix(seed: int) -> None:
    rng = np.random.default_rng(seed)
    schedule = random_schedule(rng)
    lam = float(rng.uniform(0.01, 1.0))
    catch = float(rng.uniform())
    ctl = MarginalController(schedule, prices=PriceVector(lam_usd_per_s=lam), catch_share=catch)
    h = schedule.ask_cost_usd
    names = sorted(schedule.classes)
    checked = set()
    for _ in range(300):
        st = StepState(
            v_usd=float(rng.lognormal(0, 1)),
            p_success=float(rng.uniform()),
            remaining_usd=float(rng.uniform(0, 2)),
            next_call_usd=float(rng.uniform(0, 0.1)),
            act_class=str(rng.choice(names)),
            dp_act=float(rng.uniform(0, 0.05)),
            dp_plan=float(rng.uniform(0, 0.05)),
            voi_verify=float(rng.uniform(0, 0.1)),
            p_salvage=float(rng.uniform(0, 0.3)),
            p_defer=float(rng.uniform(0, 0.5)),
            defer_usd=float(rng.uniform(0, 2)),
            next_call_s=float(rng.uniform(0, 10)),
        )
        cls = schedule.classes[st.act_class]
        dr = cls.p_harm * cls.severity
        dr_irr = dr * cls.irreversible
        verdict = schedule.verdict(st.act_class)
        a = max(1, cls.approvers)
        miss = 1.0 - catch

        eq1 = partial(_eq1, st.v_usd, lam, cls.rho_usd, cls.rho_irr_usd)
        harm_usd = -eq1(0.0, 0.0, 0.0, dr, dr_irr)
        rem, dl, p_act = st.remaining_usd, st.next_call_s, st.p_success + st.dp_act
        want = {
            "stop": eq1(st.p_salvage, 0.0),
            "defer": eq1(st.p_defer, st.defer_usd),
        }
        if verdict != "deny":
            want["ask"] = eq1(p_act, rem + h * a, dl, miss * dr, miss * dr_irr)
            if verdict == "allow":
                want["act"] = eq1(p_act, rem, dl, dr, dr_irr)
        ask_usd = h * a + miss * harm_usd
        gate = 0.0 if verdict == "deny" else (min(harm_usd, ask_usd) if verdict == "allow" else ask_usd)
        want["plan"] = eq1(st.p_success + st.dp_plan, rem + st.next_call_usd, dl) - gate
        want["verify"] = eq1(st.p_success + st.voi_verify, rem + st.next_call_usd, dl) - gate
        got = ctl.surpluses(st)
        assert set(got) == set(want)
        close([got[k] for k in sorted(want)], [want[k] for k in sorted(want)])
        checked.add(verdict)
    assert {"allow", "ask"} <= checked


@pytest.mark.parametrize("seed", SEEDS)
def test_gate_price_is_minus_core_surplus_of_acting(seed: int) -> None:
    rng = np.random.default_rng(seed)
    schedule = random_schedule(rng)
    for name, cls in schedule.classes.items():
        for p in rng.uniform(0, 1, 20):
            for rare in (False, True):
                c = replace(cls, rare_severe=rare, cvar_alpha=0.9)
                weight = min(1.0, p / (1.0 - 0.9)) if rare else p
                dr = weight * c.severity
                act = surplus_matrix(
                    0.0,
                    [0.0],
                    0.0,
                    0.0,
                    [dr],
                    [dr * c.irreversible],
                    rho_usd=c.rho_usd,
                    rho_irr_usd=c.rho_irr_usd,
                )
                close(c.harm_price_usd(float(p)), -act[0, 0])
        assert name


@pytest.mark.parametrize("seed", SEEDS)
def test_confirm_surplus_is_core_surplus_of_asking_over_acting(seed: int) -> None:
    rng = np.random.default_rng(seed)
    schedule = random_schedule(rng)
    tools = list(schedule.tools)[:20] or ["book_reservation"]
    units = harm_units(schedule, tools)
    for tool in tools:
        cls = schedule.classes.get(schedule.tool_class(tool))
        if cls is None or cls.severity == 0:
            continue
        # harm units are ρ-units: the risk cost of one wrong commit divided by ρ
        sev = cls.severity
        want = surplus_matrix(
            0.0,
            [0.0],
            0.0,
            0.0,
            [sev],
            [sev * cls.irreversible],
            rho_usd=cls.rho_usd,
            rho_irr_usd=cls.rho_irr_usd,
        )
        close(units[tool] * cls.rho_usd, -want[0, 0])
    policy = TokenomyConfirm()
    for _ in range(300):
        dq, dr = float(rng.uniform(0, 0.2)), float(rng.uniform(0, 3))
        model = ConfirmModel(
            {},
            0.1,
            0.5,
            0.5,
            dq={("t", False): dq},
            dr_avoided={("t", False): dr},
            ask_cost_usd=float(rng.uniform(0, 1)),
        )
        v, rho = float(rng.lognormal(0, 1)), float(rng.uniform(0, 5))
        s = surplus_matrix(v, [dq, 0.0], [model.ask_cost_usd, 0.0], 0.0, [0.0, dr], rho_usd=rho)[0]
        call = SimpleNamespace(tool="t", confirmed_by_user=False)
        close(policy.surplus_usd(call, model, v, rho), s[0] - s[1])  # type: ignore[arg-type]
