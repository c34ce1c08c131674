"""No decision uses the future: altering call k's billed cost and everything after it changes no
decision before call k (every achievable stopping policy, and the per-step controller replay)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from tokenomy.autonomy.controller import MarginalController
from tokenomy.autonomy.features import TrajectoryTable, build_table
from tokenomy.autonomy.replay import ReplayEnv, run_controller
from tokenomy.autonomy.stopping import MarginalStop, StoppingPolicy, default_policies
from tokenomy.autonomy.trajectory import AgentStep, AgentTrajectory
from tokenomy.autonomy.voi import VerifyStop
from tokenomy.interfaces.loaders.agent_data import load_schedule

_CLASSES = ("read", "edit", "test", "run", "search", "format_error")


def _traj(i: int, rng: np.random.Generator) -> AgentTrajectory:
    n = int(rng.integers(3, 40))
    steps = []
    for k in range(n):
        ac = "submit" if k == n - 1 else str(rng.choice(_CLASSES))
        steps.append(
            AgentStep(
                f"t{i}",
                k,
                ac,
                "",
                1600 + 500 * k + int(rng.integers(0, 400)),
                int(rng.integers(50, 300)),
                0,
                0,
                float(0.002 + 0.0005 * k + rng.uniform(0, 0.004)),
                int(rng.integers(0, 2)) if ac not in ("format_error", "submit") else None,
                int(rng.integers(10, 5000)),
                False,
                ac == "format_error",
                f"cmd {int(rng.integers(0, 30))}",
            )
        )
    resolved = bool(rng.uniform() < (0.9 if n < 20 else 0.3))
    return AgentTrajectory(f"t{i}", "repo", resolved, "Submitted", tuple(steps), 0.0)


def _alter_future(t: AgentTrajectory, k: int, rng: np.random.Generator) -> AgentTrajectory:
    """Call k's billed cost, reply and outcome, and every later call, changed; call k's prompt (fixed
    before it is sent) kept. The run's outcome is flipped too."""
    steps = list(t.steps[:k])
    for j, s in enumerate(t.steps[k:], start=k):
        steps.append(
            replace(
                s,
                action_class=str(rng.choice(_CLASSES)),
                num_prompt_tokens=s.num_prompt_tokens if j == k else int(rng.integers(1000, 90000)),
                num_completion_tokens=int(rng.integers(1, 5000)),
                cost_usd=float(rng.uniform(0.0, 2.0)),
                returncode=int(rng.integers(0, 3)),
                obs_chars=int(rng.integers(0, 100000)),
                obs_truncated=bool(rng.integers(0, 2)),
                command=f"future {int(rng.integers(0, 5))}",
            )
        )
    extra = [replace(steps[-1], step=len(steps) + i, cost_usd=float(rng.uniform(0, 1))) for i in range(3)]
    return replace(t, steps=tuple(steps + extra), resolved=not t.resolved)


@pytest.fixture(scope="module")
def tables() -> tuple[TrajectoryTable, TrajectoryTable, TrajectoryTable, np.ndarray]:
    rng = np.random.default_rng(7)
    train = build_table([_traj(i, rng) for i in range(150)])
    held = [_traj(1000 + i, rng) for i in range(60)]
    cut = np.array([int(rng.integers(0, t.n_steps)) for t in held])
    altered = [_alter_future(t, int(k), rng) for t, k in zip(held, cut, strict=True)]
    return train, build_table(held), build_table(altered), cut


def _policies() -> list[StoppingPolicy]:
    pols = [p for p in default_policies() if p.name != "oracle_ex_post"]  # ex post by design
    return [*pols, VerifyStop(), MarginalStop(name="nested", z_grid=(0.0, 1.0), ridge_grid=(1e-2, 1e-1))]


@pytest.mark.parametrize("v_usd", [0.05, 0.3, 2.0])
def test_no_policy_decision_before_k_sees_call_k_or_later(
    tables: tuple[TrajectoryTable, TrajectoryTable, TrajectoryTable, np.ndarray], v_usd: float
) -> None:
    train, held, altered, cut = tables
    n_later_differ = 0
    for pol in _policies():
        pol.fit(train, v_usd)
        a, b = pol.decide(held, v_usd), pol.decide(altered, v_usd)
        for t, k in enumerate(cut):
            oa, ob = int(held.offsets[t]), int(altered.offsets[t])
            assert np.array_equal(a[oa : oa + k + 1], b[ob : ob + k + 1]), (pol.name, t, int(k))  # rows 0..k
            n = min(int(held.n_calls[t]), int(altered.n_calls[t]))
            n_later_differ += int(np.any(a[oa + k + 1 : oa + n] != b[ob + k + 1 : ob + n]))
    assert n_later_differ > 0  # not vacuous: later decisions do react to the altered calls


def test_controller_replay_decisions_before_k_ignore_the_future(
    tables: tuple[TrajectoryTable, TrajectoryTable, TrajectoryTable, np.ndarray],
) -> None:
    train, held, altered, cut = tables
    pol = MarginalStop().fit(train, 0.3)
    assert pol.model_ is not None
    ctl = MarginalController(load_schedule())
    changed = 0
    for t, k in enumerate(cut):
        a = run_controller(ReplayEnv(held, 0.3), ctl, pol.model_, t, cap_usd=0.3, z_se=1.0)
        b = run_controller(ReplayEnv(altered, 0.3), ctl, pol.model_, t, cap_usd=0.3, z_se=1.0)
        assert a["actions"][: k + 1] == b["actions"][: k + 1]
        changed += a["actions"] != b["actions"]
    assert changed > 0  # later decisions do react to the altered calls: the test can fail


def test_the_next_call_cost_is_predicted_from_the_prompt_not_billed(
    tables: tuple[TrajectoryTable, TrajectoryTable, TrajectoryTable, np.ndarray],
) -> None:
    train, held, _, _ = tables
    model = MarginalStop().fit(train, 1.0).model_
    assert model is not None
    pred = model.next_call_usd(held.x)
    assert np.all(pred >= 0) and not np.allclose(pred, held.cost_usd)
    assert np.corrcoef(pred, held.cost_usd)[0, 1] > 0.5  # informative: grows with the context


def test_on_the_real_runs_no_decision_before_k_sees_call_k_or_later(need_data: object) -> None:
    from tokenomy.interfaces.loaders.agent_data import load_miniswe

    runs = load_miniswe(need_data("agent"))  # type: ignore[operator]
    rng = np.random.default_rng(11)
    train = build_table(runs[:400])
    held_runs = runs[400:]
    cut = np.array([int(rng.integers(0, t.n_steps)) for t in held_runs])
    held = build_table(held_runs)
    altered = build_table([_alter_future(t, int(k), rng) for t, k in zip(held_runs, cut, strict=True)])
    for v_usd in (1.0, 5.0):
        for pol in _policies():
            pol.fit(train, v_usd)
            a, b = pol.decide(held, v_usd), pol.decide(altered, v_usd)
            for t, k in enumerate(cut):
                oa, ob = int(held.offsets[t]), int(altered.offsets[t])
                assert np.array_equal(a[oa : oa + k + 1], b[ob : ob + k + 1]), (pol.name, v_usd, t, int(k))
