"""VoI of a verify step estimated on train runs, the stop rule that uses it, and the headroom bounds."""

from __future__ import annotations

import numpy as np
import pytest

from tokenomy.autonomy.features import FEATURE_NAMES, TrajectoryTable, build_table
from tokenomy.autonomy.headroom import headroom
from tokenomy.autonomy.stopping import MarginalStop, stop_outcomes
from tokenomy.autonomy.trajectory import AgentStep, AgentTrajectory
from tokenomy.autonomy.voi import VerifyStop, fit_verify_value

_UNVERIFIED = FEATURE_NAMES.index("edited_unverified")


def _run(i: int, rng: np.random.Generator, verifies: bool) -> AgentTrajectory:
    """Synthetic: an edit, then a test (or another read) right after it in runs that verify; those
    resolve far more often."""
    n = int(rng.integers(6, 30))
    kinds = [str(rng.choice(["read", "search"])) for _ in range(n)]
    at = int(rng.integers(1, n - 2))
    kinds[at] = "edit"
    kinds[at + 1] = "test" if verifies else "read"
    kinds[-1] = "submit"
    steps = tuple(
        AgentStep(f"t{i}", k, c, "", 1500 + 400 * k, 80, 0, 0, 0.002 + 0.0004 * k, 0, 50, False, False, "")
        for k, c in enumerate(kinds)
    )
    resolved = bool(rng.uniform() < (0.85 if verifies else 0.35))
    return AgentTrajectory(f"t{i}", "r", resolved, "Submitted", steps, 0.0)


@pytest.fixture(scope="module")
def table() -> TrajectoryTable:
    rng = np.random.default_rng(2)
    return build_table([_run(i, rng, bool(rng.uniform() < 0.5)) for i in range(300)])


def test_voi_is_learned_where_an_edit_is_unverified_and_zero_elsewhere(table: TrajectoryTable) -> None:
    model = MarginalStop().fit(table, 1.0).model_
    assert model is not None
    vv = fit_verify_value(table, model)
    assert vv.b > 2 * vv.b_se > 0  # verifying after an edit goes with success in this synthetic set
    voi = vv.voi(table.x)
    unverified = table.x[:, _UNVERIFIED] > 0
    assert np.all(voi[~unverified] == 0) and np.all(voi[unverified] > 0)
    assert np.all(vv.voi(table.x, z_se=1.0) <= voi + 1e-12)  # the rule's lower end is smaller


def test_the_verify_option_only_adds_continuations(table: TrajectoryTable) -> None:
    v, inf = 0.1, float("inf")  # a V where the plain rule stops part of the runs
    plain = MarginalStop(z_grid=(0.0,), budget_share=inf).fit(table, v)
    withv = VerifyStop(z_grid=(0.0,), budget_share=inf, z_voi=0.0).fit(table, v)
    a, b = plain.decide(table, v), withv.decide(table, v)
    assert np.all(b[a])  # wherever the plain rule goes on, so does the rule with the verify option
    assert np.any(b & ~a)  # and it does go on somewhere the plain rule stops (at unverified edits)
    assert np.all(table.x[b & ~a, _UNVERIFIED] > 0)
    assert 0 < a.mean() < 1


def test_headroom_bounds_are_ordered_and_the_clairvoyant_gain_is_the_failed_runs_cost(
    table: TrajectoryTable,
) -> None:
    vs = (0.01, 0.05, 1.0)
    hr = headroom(table, vs, folds=4, seed=0)
    for h in hr:
        lo, hi = h.threshold_ci95
        assert h.clairvoyant_gain >= h.threshold_gain >= h.trivial_gain - 1e-12 >= -1e-12
        assert lo <= h.threshold_gain <= hi
    big = hr[-1]  # at V = 1 every resolved run is worth its cost: the clairvoyant stop saves the failed ones
    failed_cost = np.where(table.resolved, 0.0, table.total_usd).mean()
    assert big.clairvoyant_gain == pytest.approx(failed_cost)
    # the rule's realised gain over no cap cannot beat the clairvoyant one
    keep = MarginalStop().fit(table, 0.05).decide(table, 0.05)
    s, c, _ = stop_outcomes(table, keep)
    rule_gain = float(np.mean(0.05 * s - c) - np.mean(0.05 * table.resolved - table.total_usd))
    assert rule_gain <= hr[1].clairvoyant_gain + 1e-12


def test_the_step_controller_with_voi_makes_the_verify_rules_decisions(table: TrajectoryTable) -> None:
    from tokenomy.autonomy.controller import MarginalController, StepState
    from tokenomy.autonomy.replay import ReplayEnv, run_controller
    from tokenomy.interfaces.loaders.agent_data import load_schedule

    v, inf = 0.1, float("inf")
    pol = VerifyStop(z_grid=(0.0,), budget_share=inf, z_voi=0.0).fit(table, v)
    model, value = pol.model_, pol.value_
    assert model is not None and value is not None
    keep = pol.decide(table, v)
    plain = MarginalStop(z_grid=(0.0,), budget_share=inf).fit(table, v).decide(table, v)
    assert np.any(keep != plain)  # the VoI term changes decisions here: the comparison is not vacuous
    ctl = MarginalController(load_schedule())
    p, rem, nxt, voi = (
        model.success(table.x),
        model.remaining_usd(table.x),
        model.next_call_usd(table.x),
        value.voi(table.x, 0.0),
    )
    for r in range(len(table.step)):  # every decision point: the controller's verify option, priced at V
        state = StepState(
            v_usd=v,
            p_success=float(p[r]),
            remaining_usd=float(rem[r]),
            next_call_usd=float(nxt[r]),
            act_class="compute",
            voi_verify=float(voi[r]),
            verify_usd=float(nxt[r]),
        )
        assert (ctl.decide(state).kind != "stop") == bool(keep[r]), r
    _, _, calls = stop_outcomes(table, keep)
    env = ReplayEnv(table, v)
    for t in range(len(table.n_calls)):
        assert run_controller(env, ctl, model, t, verify_value=value, z_voi=0.0)["calls"] == calls[t]
