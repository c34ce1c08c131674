"""The marginal stopping rule's confidence margin, budget and nested selection."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from tokenomy.autonomy.features import TrajectoryTable, build_table
from tokenomy.autonomy.replay import crossfit_stopping, split_folds
from tokenomy.autonomy.stopping import BestCostCap, MarginalStop, stop_outcomes
from tokenomy.autonomy.success_model import PrefixModel
from tokenomy.autonomy.trajectory import AgentStep, AgentTrajectory
from tokenomy.core import ValidationError

_CLASSES = ("read", "edit", "test", "run", "search", "format_error")


def _traj(i: int, rng: np.random.Generator) -> AgentTrajectory:
    """Synthetic run (as in test_replay): context and cost grow per call; long runs mostly fail."""
    n = int(rng.integers(3, 40))
    steps = []
    for k in range(n):
        ac = "submit" if k == n - 1 else str(rng.choice(_CLASSES))
        rc = int(rng.integers(0, 2)) if ac not in ("format_error", "submit") else None
        steps.append(
            AgentStep(
                f"t{i}",
                k,
                ac,
                "",
                1600 + 500 * k,
                100,
                0,
                0,
                0.002 + 0.0005 * k,
                rc,
                100,
                False,
                ac == "format_error",
                "",
            )
        )
    resolved = bool(rng.uniform() < (0.9 if n < 20 else 0.3))
    return AgentTrajectory(f"t{i}", "repo", resolved, "Submitted", tuple(steps), 0.0)


@pytest.fixture(scope="module")
def table() -> TrajectoryTable:
    rng = np.random.default_rng(3)
    return build_table([_traj(i, rng) for i in range(120)])


def _permute_held_out_outcomes(table: TrajectoryTable, held: np.ndarray, seed: int) -> TrajectoryTable:
    resolved = table.resolved.copy()
    idx = np.flatnonzero(held)
    resolved[idx] = np.random.default_rng(seed).permutation(resolved[idx])
    resolved[idx[:3]] = ~resolved[idx[:3]]  # and flip a few, so the permutation is never a no-op
    return dataclasses.replace(table, resolved=resolved)


@pytest.mark.parametrize(
    "pol",
    [MarginalStop(), MarginalStop(z_grid=(0.0, 0.5, 1.0, 2.0), ridge_grid=(1e-2, 1e-1))],
    ids=["default", "nested-cv"],
)
def test_held_out_outcomes_never_reach_the_fitted_policy(table: TrajectoryTable, pol: MarginalStop) -> None:
    fold = split_folds(len(table.n_calls), 1, seed=0, train_frac=0.5)
    held = fold == 0
    other = _permute_held_out_outcomes(table, held, seed=1)
    assert not np.array_equal(other.resolved, table.resolved)
    for v in (0.2, 0.3):
        runs = []
        for tab in (table, other):
            p = dataclasses.replace(pol, _cache={})
            p.fit(tab.subset(fold == -1), v)
            assert p.model_ is not None
            keep = p.decide(tab.subset(held), v)
            runs.append((keep, p.z_se_, p.ridge_, p.model_.beta_success_, p.model_.beta_cost_))
        (k1, z1, r1, bs1, bc1), (k2, z2, r2, bs2, bc2) = runs
        assert np.array_equal(k1, k2) and (z1, r1) == (z2, r2)
        assert np.array_equal(bs1, bs2) and np.array_equal(bc1, bc2)
        # the same through the evaluation: held-out stops (calls, cost) are unchanged, only outcomes move
        a, b = (
            next(
                r
                for r in crossfit_stopping(tab, [p, BestCostCap(name="best_cost_cap_train")], [v], folds=1)
                if r.policy == "tokenomy"
            )
            for tab, p in (
                (table, dataclasses.replace(pol, _cache={})),
                (other, dataclasses.replace(pol, _cache={})),
            )
        )
        assert a.mean_calls == b.mean_calls and a.cost_per_task_usd == b.cost_per_task_usd


def test_zero_margin_and_no_budget_is_the_plain_eq1_rule(table: TrajectoryTable) -> None:
    pol = MarginalStop(z_grid=(0.0,), budget_share=float("inf")).fit(table, 0.3)
    assert np.array_equal(pol.decide(table, 0.3), pol.surplus_usd(table, 0.3) > 0)


def test_a_wider_margin_keeps_the_status_quo(table: TrajectoryTable) -> None:
    # a larger z starts no run the smaller one would not start, and stops no run it would not stop
    v = 0.3
    narrow = MarginalStop(z_grid=(0.5,), budget_share=float("inf")).fit(table, v).decide(table, v)
    wide = MarginalStop(z_grid=(2.0,), budget_share=float("inf")).fit(table, v).decide(table, v)
    start = table.step == 0
    assert np.all(wide[start] <= narrow[start]) and np.all(wide[~start] >= narrow[~start])
    assert np.any(wide != narrow)


def test_budget_caps_spend_at_its_share_of_v(table: TrajectoryTable) -> None:
    for share, v in ((1.0, 0.3), (0.5, 0.5), (0.25, 1.0)):
        pol = MarginalStop(budget_share=share).fit(table, v)
        _, cost, _ = stop_outcomes(table, pol.decide(table, v))
        assert float(cost.max()) <= share * v + 1e-12
    unbounded = MarginalStop(budget_share=float("inf")).fit(table, 0.5)
    _, cost, _ = stop_outcomes(table, unbounded.decide(table, 0.5))
    assert float(cost.max()) > 0.25  # without a budget the long runs spend more


def test_success_bounds_bracket_the_estimate_and_widen_with_z_and_less_data(table: TrajectoryTable) -> None:
    model = PrefixModel(features=MarginalStop().features).fit(table)
    p = model.success(table.x)
    lo0, hi0 = model.success_bounds(table.x, 0.0)
    assert np.allclose(lo0, p) and np.allclose(hi0, p)
    lo1, hi1 = model.success_bounds(table.x, 1.0)
    lo2, hi2 = model.success_bounds(table.x, 2.0)
    assert np.all(lo2 <= lo1 + 1e-12) and np.all(lo1 <= p + 1e-12) and np.all(p <= hi1 + 1e-12)
    assert np.all(hi1 <= hi2 + 1e-12) and np.all(hi2 - lo2 > 0)
    small = PrefixModel(features=MarginalStop().features).fit(table.subset(np.arange(120) < 30))
    lo_s, hi_s = small.success_bounds(table.x, 1.0)
    assert float(np.median(hi_s - lo_s)) > float(np.median(hi1 - lo1))


def test_nested_selection_picks_from_the_grid_and_rejects_negative_margins(table: TrajectoryTable) -> None:
    pol = MarginalStop(z_grid=(0.0, 1.0, 3.0), ridge_grid=(1e-2, 1.0)).fit(table, 0.3)
    assert pol.z_se_ in (0.0, 1.0, 3.0) and pol.ridge_ in (1e-2, 1.0)
    again = MarginalStop(z_grid=(0.0, 1.0, 3.0), ridge_grid=(1e-2, 1.0)).fit(table, 0.3)
    assert (again.z_se_, again.ridge_) == (pol.z_se_, pol.ridge_)
    with pytest.raises(ValidationError, match="z_grid"):
        MarginalStop(z_grid=(-1.0,)).fit(table, 0.3)


def test_decide_before_fit_raises(table: TrajectoryTable) -> None:
    with pytest.raises(RuntimeError, match="not fitted"):
        MarginalStop().decide(table, 1.0)


def test_loop_and_verify_features_count_only_the_prefix() -> None:
    from tokenomy.autonomy.features import FEATURE_NAMES

    cmds = [("ls", "search", 0), ("pytest", "test", 1), ("ls", "search", 0), ("", "format_error", None)]
    cmds += [("", "format_error", None), ("pytest", "test", 0), ("", "submit", None)]
    steps = tuple(
        AgentStep("a", k, ac, "", 1000 * (k + 1), 50, 0, 0, 0.01, rc, 10, False, ac == "format_error", c)
        for k, (c, ac, rc) in enumerate(cmds)
    )
    tab = build_table([AgentTrajectory("a", "r", True, "Submitted", steps, 0.07)])
    col = {f: tab.x[:, FEATURE_NAMES.index(f)] for f in FEATURE_NAMES}
    # row k sees calls 0 … k−1 only
    assert col["n_repeat_cmds"].tolist() == [0, 0, 0, 1, 1, 1, 2]
    assert col["last_verify_failed"].tolist() == [0, 0, 1, 1, 1, 1, 0]
    assert col["format_streak"].tolist() == [0, 0, 0, 0, 1, 2, 0]
    assert col["n_explore"].tolist() == [0, 1, 1, 2, 2, 2, 2]
    assert col["fail_share"][2] == pytest.approx(0.5)
