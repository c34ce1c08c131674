"""Replay environment semantics, stopping-policy conformance, cross-fitted evaluation, controller replay."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tokenomy.autonomy.controller import MarginalController
from tokenomy.autonomy.features import TrajectoryTable, build_table
from tokenomy.autonomy.replay import ReplayEnv, crossfit_stopping, run_controller, split_folds
from tokenomy.autonomy.stopping import (
    STOPPING_POLICIES,
    BestCostCap,
    CostCap,
    MarginalStop,
    StepCap,
    default_policies,
    make_policy,
    stop_outcomes,
)
from tokenomy.autonomy.trajectory import AgentStep, AgentTrajectory
from tokenomy.core import ValidationError
from tokenomy.interfaces.loaders.agent_data import load_miniswe, load_schedule

_CLASSES = ("read", "edit", "test", "run", "search", "format_error")


def _traj(i: int, rng: np.random.Generator) -> AgentTrajectory:
    n = int(rng.integers(3, 40))
    steps = []
    for k in range(n):
        ac = "submit" if k == n - 1 else str(rng.choice(_CLASSES))
        steps.append(
            AgentStep(
                instance_id=f"t{i}",
                step=k,
                action_class=ac,
                autonomy_class="",
                num_prompt_tokens=1600 + 500 * k,
                num_completion_tokens=100,
                num_reasoning_tokens=0,
                num_cached_tokens=0,
                cost_usd=0.002 + 0.0005 * k,
                returncode=int(rng.integers(0, 2)) if ac not in ("format_error", "submit") else None,
                obs_chars=100,
                obs_truncated=False,
                format_error=ac == "format_error",
                command="",
            )
        )
    resolved = bool(rng.uniform() < (0.9 if n < 20 else 0.3))  # long runs mostly fail
    return AgentTrajectory(f"t{i}", "repo", resolved, "Submitted", tuple(steps), 0.0)


@pytest.fixture(scope="module")
def table() -> TrajectoryTable:
    rng = np.random.default_rng(3)
    return build_table([_traj(i, rng) for i in range(120)])


def test_stop_at_k_is_failure_and_pays_the_first_k_real_calls(table: TrajectoryTable) -> None:
    env = ReplayEnv(table, v_usd=2.0)
    t = int(np.argmax(table.resolved & (table.n_calls > 5)))
    obs, info = env.reset(options={"index": t})
    assert obs["step"] == 0 and info["n_calls"] == table.n_calls[t]
    k, paid = 4, 0.0
    for _ in range(k):
        obs, r, term, trunc, _ = env.step(1)
        paid -= r
        assert not term and not trunc
    _, r, term, _, info = env.step(0)
    real = table.cost_usd[table.offsets[t] : table.offsets[t] + k].sum()
    assert term and r == 0.0 and info == {"success": False, "calls": k}
    assert paid == pytest.approx(real)


def test_continuing_to_the_end_gets_the_real_outcome_and_cost(table: TrajectoryTable) -> None:
    env = ReplayEnv(table, v_usd=2.0)
    for t in range(len(table.n_calls)):
        env.reset(options={"index": t})
        total, done = 0.0, False
        while not done:
            _, r, done, _, info = env.step(1)
            total += r
        assert info["success"] == table.resolved[t] and info["calls"] == table.n_calls[t]
        assert total == pytest.approx(2.0 * table.resolved[t] - table.total_usd[t])


def test_env_gymnasium_contract(table: TrajectoryTable) -> None:
    env = ReplayEnv(table, v_usd=1.0)
    a, _ = env.reset(seed=11)
    b, _ = ReplayEnv(table, v_usd=1.0).reset(seed=11)
    assert a["instance_id"] == b["instance_id"]  # same seed, same draw
    env.reset(options={"index": 0})
    env.step(0)
    with pytest.raises(RuntimeError, match="reset"):
        env.step(1)
    with pytest.raises(IndexError, match="out of range"):
        env.reset(options={"index": len(table.n_calls)})


def test_vectorised_replay_equals_the_step_by_step_env(table: TrajectoryTable) -> None:
    rng = np.random.default_rng(5)
    keep = rng.uniform(size=len(table.step)) > 0.03
    success, cost, calls = stop_outcomes(table, keep)
    env = ReplayEnv(table, v_usd=0.0)
    for t in range(len(table.n_calls)):
        obs, _ = env.reset(options={"index": t})
        spent, done, info = 0.0, False, {}
        while not done:
            a = int(keep[obs["row"]])
            assert "next_call_usd" not in obs  # the billed cost of call k is not known before it
            obs, _, done, _, info = env.step(a)
            spent += info.get("cost_usd", 0.0)
        assert info["success"] == success[t] and info["calls"] == calls[t]
        assert spent == pytest.approx(cost[t])


@pytest.mark.parametrize("kind", sorted(STOPPING_POLICIES))
def test_every_registered_policy_conforms(kind: str, table: TrajectoryTable) -> None:
    train = table.subset(np.arange(len(table.n_calls)) % 2 == 0)
    test = table.subset(np.arange(len(table.n_calls)) % 2 == 1)
    before = test.x.copy()
    pol = make_policy(kind)
    assert pol.name == kind
    keep = pol.fit(train, 1.0).decide(test, 1.0)
    assert keep.dtype == np.bool_ and keep.shape == test.step.shape
    assert np.array_equal(keep, make_policy(kind).fit(train, 1.0).decide(test, 1.0))  # deterministic
    np.testing.assert_array_equal(test.x, before)  # a policy never mutates the data
    success, cost, calls = stop_outcomes(test, keep)
    assert np.all(cost <= test.total_usd + 1e-12) and np.all(calls <= test.n_calls)
    assert np.all(success <= test.resolved)  # stopping never creates a success
    assert np.all(~success | (calls == test.n_calls))


def test_unknown_policy_names_the_valid_ones() -> None:
    with pytest.raises(ValidationError, match="tokenomy"):
        make_policy("nope")


def test_caps_stop_where_they_say(table: TrajectoryTable) -> None:
    _, cost, calls = stop_outcomes(table, CostCap(cap_usd=0.02).decide(table, 1.0))
    # a harness cap checks the spend so far before each call: it passes the cap by at most one call
    last = table.cost_usd[table.offsets[:-1] + np.maximum(calls - 1, 0)]
    assert np.all(cost - last < 0.02) and np.any(cost > 0.02)
    _, _, calls = stop_outcomes(table, StepCap(max_steps=7).decide(table, 1.0))
    assert np.all(calls <= 7)
    assert default_policies()[0].name == "tokenomy"
    assert len(default_policies()) == 20 and len({p.name for p in default_policies()}) == 20


def test_best_cost_cap_is_the_best_on_train(table: TrajectoryTable) -> None:
    pol = BestCostCap(grid_usd=(0.0, 0.01, 0.02, 0.05)).fit(table, 1.0)
    welfare = {}
    for c in (0.0, 0.01, 0.02, 0.05, float("inf")):
        s, cost, _ = stop_outcomes(table, CostCap(cap_usd=c).decide(table, 1.0))
        welfare[c] = float(np.mean(1.0 * s - cost))
    assert welfare[pol.cap_usd_] == pytest.approx(max(welfare.values()))


def test_crossfit_holds_every_instance_out_once_and_is_deterministic(table: TrajectoryTable) -> None:
    fold = split_folds(len(table.n_calls), 5, seed=1)
    assert sorted(np.bincount(fold)) == [24] * 5
    pols = [MarginalStop(), BestCostCap(name="best_cost_cap_train")]
    a = crossfit_stopping(table, pols, [1.0, 5.0], folds=5, seed=1)
    b = crossfit_stopping(
        table, [MarginalStop(), BestCostCap(name="best_cost_cap_train")], [1.0, 5.0], seed=1
    )
    assert a == b and all(r.n_tasks == 120 for r in a)
    single = crossfit_stopping(table, pols, [1.0], folds=1, seed=1, train_frac=0.5)
    assert single[0].n_tasks == 60
    ref = next(r for r in a if r.policy == "best_cost_cap_train")
    assert ref.diff_vs_reference == 0.0
    lo, hi = a[0].welfare_ci95
    assert lo <= a[0].welfare_per_task <= hi


def test_marginal_rule_learns_to_stop_runs_that_go_long(table: TrajectoryTable) -> None:
    # in the synthetic set long runs fail 70% of the time: stopping them pays at a low V
    res = crossfit_stopping(
        table, [MarginalStop(), make_policy("no_cap")], [0.02], folds=4, seed=0, reference="no_cap"
    )
    tok = next(r for r in res if r.policy == "tokenomy")
    assert tok.diff_vs_reference > 0
    assert tok.cost_per_task_usd < next(r for r in res if r.policy == "no_cap").cost_per_task_usd


def test_model_cache_is_keyed_by_contents_not_identity(table: TrajectoryTable) -> None:
    pol = MarginalStop()
    half_a = table.subset(np.arange(len(table.n_calls)) < 60)
    half_b = table.subset(np.arange(len(table.n_calls)) >= 60)
    pol.fit(half_a, 1.0)
    beta_a = pol.model_.beta_success_.copy()  # type: ignore[union-attr]
    pol.fit(half_b, 1.0)
    assert not np.allclose(beta_a, pol.model_.beta_success_)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("v_usd", "pol"),
    [
        (0.2, MarginalStop(z_grid=(0.0,), budget_share=float("inf"))),  # the plain rule
        (0.3, MarginalStop()),  # margin and budget (the default)
        (0.5, MarginalStop(budget_share=0.5)),  # here only the budget stops runs mid-way
    ],
)
def test_controller_replay_makes_the_vectorised_rules_stops(
    table: TrajectoryTable, v_usd: float, pol: MarginalStop
) -> None:
    pol.fit(table, v_usd)
    assert pol.model_ is not None
    keep = pol.decide(table, v_usd)
    success, cost, calls = stop_outcomes(table, keep)
    stopped_mid_run = (calls > 0) & (calls < table.n_calls)
    assert stopped_mid_run.any() and (calls == table.n_calls).any()  # the check is not vacuous
    env = ReplayEnv(table, v_usd=v_usd)
    ctl = MarginalController(load_schedule())
    for t in range(len(table.n_calls)):
        out = run_controller(env, ctl, pol.model_, t, cap_usd=pol.budget_usd(v_usd), z_se=pol.z_se_)
        assert out["calls"] == calls[t] and out["success"] == success[t]
        assert out["cost_usd"] == pytest.approx(cost[t])


def test_controller_replay_salvages_at_the_cap(table: TrajectoryTable) -> None:
    pol = MarginalStop().fit(table, 100.0)
    assert pol.model_ is not None
    env = ReplayEnv(table, v_usd=100.0)
    out = run_controller(env, MarginalController(load_schedule()), pol.model_, 0, cap_usd=0.01)
    assert out["salvaged"] and out["warned"] and out["cost_usd"] <= 0.01


def test_real_replay_reproduces_the_recorded_run(need_data: object) -> None:
    data: Path = need_data("agent")  # type: ignore[operator]
    tab = build_table(load_miniswe(data))
    success, cost, calls = stop_outcomes(tab, np.ones(len(tab.step), dtype=bool))
    assert int(success.sum()) == 371 and int(calls.sum()) == 20_163
    assert float(cost.sum()) == pytest.approx(229.98, abs=0.01)
    # the swe-agent $3 cap never binds on this run; a 25-step cap stops most runs before their end
    s3, _, _ = stop_outcomes(tab, CostCap(cap_usd=3.0).decide(tab, 1.0))
    assert int(s3.sum()) == 371
    s25, _, _ = stop_outcomes(tab, StepCap(max_steps=25).decide(tab, 1.0))
    assert int(s25.sum()) < 371 / 2
