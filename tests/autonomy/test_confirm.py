"""Confirm-before-commit policies: outcomes on hand-built episodes, the Eq. 1 rule, and the real tau-bench run."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from tokenomy.autonomy.confirm import episode_outcome, estimate_p_catch, evaluate, fit_model, harm_units
from tokenomy.autonomy.confirm_policies import (
    POLICIES,
    AcceptEdits,
    AlwaysConfirm,
    ConfirmModel,
    ConfirmRisky,
    NeverConfirm,
    TokenomyConfirm,
)
from tokenomy.autonomy.schedule import Schedule
from tokenomy.autonomy.trajectory import Episode, ToolCall
from tokenomy.core.errors import ValidationError
from tokenomy.interfaces.loaders.agent_data import load_schedule

WORLD = ConfirmModel(
    p_wrong={}, p_wrong_prior=0.5, p_catch=0.5, q_fixed=0.8, harm_units={"t": 4.0}, ask_cost_usd=0.1
)


@pytest.fixture(scope="module")
def schedule() -> Schedule:
    return load_schedule()


def _call(tool: str = "t", *, confirmed: bool = False, right: bool = False, step: int = 1) -> ToolCall:
    return ToolCall(0, 0, step, tool, "commit", confirmed, right)


def _ep(
    *calls: ToolCall, reward: float = 0.0, n_gt_commits: int = 0, task: int = 0, trial: int = 0
) -> Episode:
    calls = tuple(replace(c, task_id=task, trial=trial, step=i) for i, c in enumerate(calls))
    return Episode(task, trial, reward, calls, 10, n_gt_commits, n_gt_commits, 0.0)


def test_asking_before_a_wrong_unconfirmed_commit_catches_it_with_p_catch() -> None:
    ep = _ep(_call())
    asked, not_asked = episode_outcome(ep, [True], WORLD), episode_outcome(ep, [False], WORLD)
    assert asked.harm == pytest.approx(0.5 * 4.0) and not_asked.harm == pytest.approx(4.0)
    assert asked.success == pytest.approx(0.5 * 0.8)  # caught → the episode is fixable → q_fixed
    assert not_asked.success == 0.0
    assert asked.cost_usd == pytest.approx(0.1) and not_asked.cost_usd == 0.0
    assert asked.modelled and not not_asked.modelled


def test_a_logged_yes_is_observed_so_a_second_ask_only_costs() -> None:
    ep = _ep(_call(confirmed=True))
    out = episode_outcome(ep, [True], WORLD)
    assert out.harm == pytest.approx(4.0) and out.success == 0.0
    assert out.cost_usd == pytest.approx(0.2)  # the agent's own confirmation + the gate's
    assert episode_outcome(ep, [False], WORLD).cost_usd == pytest.approx(0.1)


def test_right_commits_keep_the_recorded_reward_and_catching_needs_every_wrong_one() -> None:
    assert episode_outcome(_ep(_call(right=True), reward=1.0), [True], WORLD).success == 1.0
    two = _ep(_call(), _call())
    assert episode_outcome(two, [True, False], WORLD).success == 0.0  # one wrong commit still runs
    assert episode_outcome(two, [True, True], WORLD).success == pytest.approx(0.25 * 0.8)
    # not fixable when the right commits do not cover the ground truth's commits
    assert episode_outcome(_ep(_call(), n_gt_commits=1), [True], WORLD).success == 0.0
    with pytest.raises(ValidationError, match="asks has 2 flags for 1 commits"):
        episode_outcome(_ep(_call()), [True, True], WORLD)


def test_fixed_policies_decide_by_their_rule(schedule: Schedule) -> None:
    book, cancel, bags = (
        _call("book_reservation"),
        _call("cancel_reservation"),
        _call("update_reservation_baggages"),
    )
    args = (WORLD, schedule, 1.0, 1.0)
    assert all(AlwaysConfirm().confirm(c, *args) for c in (book, cancel, bags))
    assert not any(NeverConfirm().confirm(c, *args) for c in (book, cancel, bags))
    assert [AcceptEdits().confirm(c, *args) for c in (book, cancel, bags)] == [True, True, False]
    # transfer-class tools are priced far above $10 by the default schedule, cancel (commit) below
    assert [ConfirmRisky().confirm(c, *args) for c in (book, cancel, bags)] == [True, False, True]
    assert ConfirmRisky(threshold_usd=1.0).confirm(cancel, *args)
    assert set(POLICIES) == {"always_confirm", "never_confirm", "accept_edits", "confirm_risky", "tokenomy"}


def test_tokenomy_asks_iff_the_eq1_surplus_is_positive(schedule: Schedule) -> None:
    model = replace(
        WORLD, dq={("t", False): 0.02, ("t", True): 0.0}, dr_avoided={("t", False): 0.5, ("t", True): 0.0}
    )
    pol, unconfirmed, confirmed = TokenomyConfirm(), _call(), _call(confirmed=True)
    # surplus = V·0.02 + ρ·0.5 − 0.1
    assert pol.surplus_usd(unconfirmed, model, 1.0, 1.0) == pytest.approx(0.02 + 0.5 - 0.1)
    assert not pol.confirm(unconfirmed, model, schedule, 0.0, 0.19)  # 0.095 < 0.1
    assert pol.confirm(unconfirmed, model, schedule, 0.0, 0.21)
    assert pol.confirm(unconfirmed, model, schedule, 5.5, 0.0)  # V·ΔQ = 0.11 > 0.1
    assert not pol.confirm(unconfirmed, model, schedule, 4.5, 0.0)
    assert not pol.confirm(confirmed, model, schedule, 100.0, 100.0)  # the user just said yes


def test_p_catch_estimate_tracks_how_much_confirmation_lowers_the_error_rate() -> None:
    perfect = [_call(confirmed=True, right=True)] * 40 + [_call(confirmed=False, right=False)] * 40
    useless = [_call(confirmed=c, right=i % 2 == 0) for c in (True, False) for i in range(400)]
    assert estimate_p_catch(perfect) > 0.9
    assert estimate_p_catch(useless) < 0.1
    assert estimate_p_catch([_call(confirmed=True)]) == 0.0  # no unconfirmed commit: nothing to compare
    assert estimate_p_catch(perfect, seed=1) == pytest.approx(estimate_p_catch(perfect, seed=1))


def _synthetic(n_tasks: int = 20) -> list[Episode]:
    eps = []
    for task in range(n_tasks):
        for trial in range(2):
            if task % 2:
                eps.append(_ep(_call("book_reservation"), task=task, trial=trial))  # wrong, unconfirmed
            else:
                eps.append(
                    _ep(
                        _call("cancel_reservation", confirmed=True, right=True),
                        reward=1.0,
                        task=task,
                        trial=trial,
                    )
                )
    return eps


def test_evaluate_rows_satisfy_the_welfare_identity_and_are_deterministic(schedule: Schedule) -> None:
    eps = _synthetic()
    rows, world = evaluate(eps, schedule, [0.0, 10.0], [2.0], folds=4, seed=3, n_boot=200, p_catch=1.0)
    assert world.p_catch == 1.0
    assert len(rows) == 2 * len(POLICIES)
    for r in rows:
        assert r.welfare_per_task == pytest.approx(
            r.v_usd * r.success_rate - r.cost_per_task_usd - r.rho_usd * r.harm_per_task
        )
        assert r.welfare_ci_low - 1e-9 <= r.welfare_per_task <= r.welfare_ci_high + 1e-9
        assert r.n_episodes == len(eps)
    again, _ = evaluate(eps, schedule, [0.0, 10.0], [2.0], folds=4, seed=3, n_boot=200, p_catch=1.0)
    assert again == rows
    cell = {r.policy: r for r in rows if r.rho_usd == 10.0}
    # with a user who catches every wrong commit, asking before the wrong bookings removes their harm
    assert cell["always_confirm"].harm_per_task == 0.0
    assert cell["tokenomy"].welfare_per_task >= cell["always_confirm"].welfare_per_task - 1e-9
    assert cell["tokenomy"].welfare_per_task > cell["never_confirm"].welfare_per_task
    assert cell["tokenomy"].asks_per_task == pytest.approx(0.5)  # only the unconfirmed bookings
    zero = {r.policy: r for r in rows if r.rho_usd == 0.0}
    assert not zero["never_confirm"].modelled and all(r.modelled for r in rows if r.rho_usd > 0)


def test_evaluate_rejects_bad_input(schedule: Schedule) -> None:
    with pytest.raises(ValidationError, match="at least one episode"):
        evaluate([], schedule, [0.0], [1.0])
    with pytest.raises(ValidationError, match="folds must be ≥ 2"):
        evaluate(_synthetic(), schedule, [0.0], [1.0], folds=1)
    with pytest.raises(ValidationError, match="ρ and V must be ≥ 0"):
        evaluate(_synthetic(), schedule, [-1.0], [1.0])
    with pytest.raises(ValidationError, match="p_catch must be in"):
        fit_model(_synthetic(), schedule, p_catch=1.5)
    with pytest.raises(ValidationError, match="at least one commit"):
        fit_model([_ep()], schedule)


def test_harm_units_follow_the_schedule_prices(schedule: Schedule) -> None:
    units = harm_units(schedule, ["book_reservation", "cancel_reservation", "no_such_tool"])
    tr, cm = schedule.classes["transfer"], schedule.classes["commit"]
    assert units["book_reservation"] == pytest.approx(tr.severity * tr.rho_irr_usd / tr.rho_usd)
    assert units["cancel_reservation"] == pytest.approx(
        cm.severity * ((1 - cm.irreversible) + cm.irreversible * cm.rho_irr_usd / cm.rho_usd)
    )
    assert units["no_such_tool"] == 1.0


def test_real_taubench_run_labels_modelled_rows_and_tokenomy_is_never_worst(need_data: object) -> None:
    from tokenomy.interfaces.cmd_agent_tau import tau_results

    root: Path = need_data("agent", "taubench_gpt4o_airline")  # type: ignore[operator]
    rows, html = tau_results(root, [0.0, 1.0, 100.0], seed=0)
    assert len(rows) == 2 * 3 * len(POLICIES)
    keys = {
        "dataset",
        "V",
        "policy",
        "rho",
        "welfare_per_task",
        "success_rate",
        "cost_per_task_usd",
        "modelled",
    }
    assert all(keys <= set(r) and r["dataset"] == "taubench-airline" for r in rows)
    never0 = next(r for r in rows if r["policy"] == "never_confirm" and r["rho"] == 0.0 and r["V"] == 1.0)
    assert never0["success_rate"] == pytest.approx(0.42)  # the recorded mean reward, observed
    assert never0["modelled"] is False
    assert all(r["modelled"] for r in rows if r["rho"] > 0)
    for v in (1.0, 10.0):
        for rho in (0.0, 1.0, 100.0):
            cell = {r["policy"]: r["welfare_per_task"] for r in rows if r["V"] == v and r["rho"] == rho}
            assert cell["tokenomy"] > min(cell.values())
    assert html.count("<svg") == 4 and "modelled" in html and "p_catch" in html
    assert "Sensitivity to the modelled user" in html


def test_each_episode_is_judged_by_a_world_model_fitted_without_it(
    schedule: Schedule, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tokenomy.autonomy.confirm as confirm

    fitted_on: dict[int, frozenset[tuple[int, int]]] = {}
    real_fit, real_outcome = confirm.fit_model, confirm.episode_outcome

    def fit(eps: list[Episode], *a: object, **k: object) -> object:
        model = real_fit(eps, *a, **k)  # type: ignore[arg-type]
        fitted_on[id(model)] = frozenset((e.task_id, e.trial) for e in eps)
        return model

    judged: list[tuple[tuple[int, int], frozenset[tuple[int, int]]]] = []

    def outcome(ep: Episode, asks: list[bool], world: object) -> object:
        if id(world) in fitted_on:  # (fit_model itself replays episodes with a model still being built)
            judged.append(((ep.task_id, ep.trial), fitted_on[id(world)]))
        return real_outcome(ep, asks, world)  # type: ignore[arg-type]

    monkeypatch.setattr(confirm, "fit_model", fit)
    monkeypatch.setattr(confirm, "episode_outcome", outcome)
    confirm.evaluate(_synthetic(), schedule, [0.0, 10.0], [2.0], folds=4, seed=3, n_boot=50)
    assert judged and all(ep not in train for ep, train in judged)
