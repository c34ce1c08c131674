"""The value of asking in the step controller: Δp_ask priced at the real V, and the controller's ask/act
choice equal to the evaluated Eq. 1 confirmation policy (synthetic and on the real tau-bench episodes)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tokenomy.autonomy.confirm import fit_model
from tokenomy.autonomy.confirm_policies import ConfirmModel, ControllerConfirm, TokenomyConfirm
from tokenomy.autonomy.controller import MarginalController, StepState
from tokenomy.autonomy.trajectory import ToolCall
from tokenomy.interfaces.loaders.agent_data import load_schedule, load_taubench

SCHEDULE = load_schedule()


def test_dp_ask_raises_only_the_ask_option_by_v_times_dp() -> None:
    ctl = MarginalController(SCHEDULE)
    base = StepState(v_usd=10.0, p_success=0.5, remaining_usd=0.1, next_call_usd=0.01, act_class="commit")
    more = StepState(**{**{f: getattr(base, f) for f in base.__slots__}, "dp_ask": 0.03})
    a, b = ctl.surpluses(base), ctl.surpluses(more)
    assert b["ask"] - a["ask"] == pytest.approx(10.0 * 0.03)
    assert all(b[k] == a[k] for k in a if k != "ask")


def _model(dq: float, dr: float) -> ConfirmModel:
    key = ("book_reservation", False)
    return ConfirmModel(
        {"book_reservation": 0.2}, 0.2, 0.5, 0.9, {"book_reservation": 1.0}, {key: dq}, {key: dr}, 0.05
    )


@pytest.mark.parametrize(
    ("v", "rho", "dq", "dr", "asks"),
    [
        (1.0, 0.0, 0.02, 0.0, False),  # V·ΔQ = 0.02 < c_ask 0.05
        (10.0, 0.0, 0.02, 0.0, True),  # the same ΔQ pays at a higher V: the real V enters
        (1.0, 1.0, 0.0, 0.04, False),  # ρ·ΔR = 0.04 < 0.05
        (1.0, 2.0, 0.0, 0.04, True),
    ],
)
def test_controller_asks_when_v_dq_plus_rho_dr_beats_the_ask_cost(
    v: float, rho: float, dq: float, dr: float, asks: bool
) -> None:
    call = ToolCall(1, 0, 3, "book_reservation", "commit", False, None)
    model = _model(dq, dr)
    assert ControllerConfirm().confirm(call, model, SCHEDULE, v, rho) is asks
    assert TokenomyConfirm().confirm(call, model, SCHEDULE, v, rho) is asks


def test_on_real_episodes_the_controller_makes_the_evaluated_policys_decisions(need_data: object) -> None:
    data: Path = need_data("agent")  # type: ignore[operator]
    episodes = load_taubench(data)
    train = [ep for ep in episodes if ep.task_id % 5 != 0]  # a training fold: tasks 1-4, 6-9, ...
    model = fit_model(train, SCHEDULE)
    commits = [c for ep in episodes if ep.task_id % 5 == 0 for c in ep.commits]
    assert commits
    n_ask = 0
    for v in (0.5, 1.0, 10.0, 100.0):
        for rho in (0.0, 1.0, 10.0, 200.0):
            for c in commits:
                a = ControllerConfirm().confirm(c, model, SCHEDULE, v, rho)
                assert a == TokenomyConfirm().confirm(c, model, SCHEDULE, v, rho), (c.tool, v, rho)
                n_ask += a
    assert 0 < n_ask < 16 * len(commits)  # both answers occur: the comparison is not vacuous
