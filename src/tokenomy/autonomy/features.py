"""Columnar view of agent trajectories and the features a trajectory *prefix* carries.

A decision point is "before billed call k" of a trajectory (k = 0 … n−1). What is known there: the
calls 0 … k−1 and their observations, and the context that call k will be sent with (its prompt
tokens are fixed before it is sent). From that prefix the features below are built, vectorised over
every decision point of every trajectory at once (20,163 rows for the full mini-swe-agent run):

    steps so far, log-steps, USD spent so far, the next call's context size (prompt tokens, in
    thousands) and its growth over the last call, the last call's cost, edits / tests / runs so far,
    whether a test or run followed the last edit, failing return codes among the last 5 commands,
    malformed replies so far, truncated observations so far, the problem statement's size;
    and (added as candidates; selecting among them by inner-CV log loss did not help, so
    the default rule does not use them, docs/agent.md) commands that
    repeat an earlier command of the run (so far, and among the last 5 — an agent looping), whether
    the last test/run failed, calls since the last edit, the share of failing commands so far, the
    current streak of malformed replies, read/search calls so far, the last reply's completion
    tokens (thousands), log(1 + the last observation's characters) and log(1 + context size).

No outcome and nothing after call k−1 enters the features (tested in tests/autonomy). This module
reads no file; it turns :class:`~tokenomy.autonomy.trajectory.AgentTrajectory` records into arrays.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from tokenomy.autonomy.trajectory import AgentTrajectory

__all__ = ["FEATURE_NAMES", "PHASES", "TrajectoryTable", "build_table", "phase_of"]

PHASES = ("read", "edit", "verify", "other")
"""Phases of a call by its command's action class (plan is the model's reasoning, see ``split``)."""

FEATURE_NAMES: tuple[str, ...] = (
    "bias",
    "steps",
    "log_steps",
    "spent_usd",
    "context_ktok",
    "context_growth_ktok",
    "last_cost_usd",
    "n_edits",
    "n_tests",
    "verified_after_edit",
    "edited_unverified",
    "fail_rc_last5",
    "n_format_errors",
    "n_truncated",
    "problem_ktok",
    "n_repeat_cmds",
    "repeat_last5",
    "last_verify_failed",
    "steps_since_edit",
    "fail_share",
    "format_streak",
    "n_explore",
    "last_completion_ktok",
    "log_last_obs_chars",
    "log_context_ktok",
)

_EDIT = frozenset({"edit", "create_script"})
_VERIFY = frozenset({"test", "run"})
_EXPLORE = frozenset({"read", "search"})


def phase_of(action_class: str) -> int:
    """Index in :data:`PHASES` of a dataset action class: read/search → read, edit/create_script → edit,
    test/run → verify, anything else (git, fs, install, submit, malformed, ...) → other."""
    if action_class in _EXPLORE:
        return 0
    if action_class in _EDIT:
        return 1
    if action_class in _VERIFY:
        return 2
    return 3


@dataclass(frozen=True, slots=True)
class TrajectoryTable:
    """Every decision point of a set of trajectories as flat arrays (row = before call k).

    Attributes:
        instance_ids: one per trajectory.
        resolved: bool[T], the real outcome when the trajectory runs to its end.
        n_calls: int[T], billed calls of each trajectory.
        offsets: int[T+1], rows of trajectory t are ``offsets[t]:offsets[t+1]``.
        traj: int[N], trajectory index of each row.
        step: int[N], k of each row.
        cost_usd: float[N], the real cost of call k (billed when the policy continues at row k).
        spent_usd: float[N], cost of calls 0 … k−1 (what stopping at row k costs in total).
        remaining_usd: float[N], cost of calls k … n−1 (known ex post; a training target only).
        x: float[N, F], prefix features in :data:`FEATURE_NAMES` order.
        phase: int8[N], the phase of call k's own command (:data:`PHASES` index: read, edit, verify,
            other) — known only once call k's reply arrives: a training label, never a decision input.
    """

    instance_ids: tuple[str, ...]
    resolved: NDArray[np.bool_]
    n_calls: NDArray[np.int64]
    offsets: NDArray[np.int64]
    traj: NDArray[np.int64]
    step: NDArray[np.int64]
    cost_usd: NDArray[np.float64]
    spent_usd: NDArray[np.float64]
    remaining_usd: NDArray[np.float64]
    x: NDArray[np.float64]
    phase: NDArray[np.int8]

    @property
    def total_usd(self) -> NDArray[np.float64]:
        """float[T], the real total cost of each trajectory."""
        return np.add.reduceat(self.cost_usd, self.offsets[:-1]) if len(self.cost_usd) else np.zeros(0)

    def subset(self, mask: NDArray[np.bool_]) -> TrajectoryTable:
        """The table restricted to the trajectories where ``mask`` (bool[T]) is True."""
        keep = np.flatnonzero(mask)
        pieces = [np.arange(self.offsets[t], self.offsets[t + 1], dtype=np.int64) for t in keep]
        rows = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int64)
        n_calls = self.n_calls[keep]
        remap = np.full(len(self.n_calls), -1, dtype=np.int64)
        remap[keep] = np.arange(len(keep))
        return TrajectoryTable(
            instance_ids=tuple(self.instance_ids[t] for t in keep),
            resolved=self.resolved[keep],
            n_calls=n_calls,
            offsets=np.concatenate([[0], np.cumsum(n_calls)]).astype(np.int64),
            traj=remap[self.traj[rows]],
            step=self.step[rows],
            cost_usd=self.cost_usd[rows],
            spent_usd=self.spent_usd[rows],
            remaining_usd=self.remaining_usd[rows],
            x=self.x[rows],
            phase=self.phase[rows],
        )


def build_table(trajectories: Sequence[AgentTrajectory]) -> TrajectoryTable:
    """Build the decision-point table of ``trajectories``.

    Args:
        trajectories: loaded runs (each with at least one call).

    Returns:
        The columnar table; rows are in trajectory order, then step order.
    """
    n_calls = np.array([t.n_steps for t in trajectories], dtype=np.int64)
    n = int(n_calls.sum())
    x = np.zeros((n, len(FEATURE_NAMES)), dtype=np.float64)
    cost = np.zeros(n)
    spent = np.zeros(n)
    remaining = np.zeros(n)
    traj = np.repeat(np.arange(len(trajectories), dtype=np.int64), n_calls)
    step = np.zeros(n, dtype=np.int64)
    phase = np.zeros(n, dtype=np.int8)
    row = 0
    for t in trajectories:
        steps = t.steps
        costs = [s.cost_usd for s in steps]
        total = sum(costs)
        problem_ktok = steps[0].num_prompt_tokens / 1e3 if steps else 0.0
        spent_so_far = 0.0
        edits = tests = fmt = trunc = 0
        last_edit = -1
        last_verify = -1
        last_cost = 0.0
        prev_ctx = steps[0].num_prompt_tokens / 1e3 if steps else 0.0
        recent_fail: list[int] = []
        seen: set[str] = set()
        recent_rep: list[int] = []
        n_rep = n_rc = n_fail = fmt_streak = explore = 0
        last_verify_failed = 0.0
        last_completion_ktok = log_obs = 0.0
        for k, s in enumerate(steps):
            ctx = s.num_prompt_tokens / 1e3
            x[row] = (
                1.0,
                k,
                np.log1p(k),
                spent_so_far,
                ctx,
                ctx - prev_ctx,
                last_cost,
                edits,
                tests,
                1.0 if last_edit >= 0 and last_verify > last_edit else 0.0,
                1.0 if last_edit >= 0 and last_verify < last_edit else 0.0,
                sum(recent_fail[-5:]),
                fmt,
                trunc,
                problem_ktok,
                n_rep,
                sum(recent_rep[-5:]),
                last_verify_failed,
                k - last_edit if last_edit >= 0 else k + 1,
                n_fail / n_rc if n_rc else 0.0,
                fmt_streak,
                explore,
                last_completion_ktok,
                log_obs,
                np.log1p(ctx),
            )
            step[row] = k
            phase[row] = phase_of(s.action_class)
            cost[row] = s.cost_usd
            spent[row] = spent_so_far
            remaining[row] = total - spent_so_far
            # update the prefix with call k's outcome (visible from row k+1 on)
            spent_so_far += s.cost_usd
            last_cost = s.cost_usd
            prev_ctx = ctx
            if s.action_class in _EDIT:
                edits += 1
                last_edit = k
            if s.action_class in _VERIFY:
                last_verify = k
                tests += s.action_class == "test"
            fmt += s.format_error
            trunc += s.obs_truncated
            if s.returncode is not None:
                recent_fail.append(1 if s.returncode != 0 else 0)
                n_rc += 1
                n_fail += s.returncode != 0
                if s.action_class in _VERIFY:
                    last_verify_failed = 1.0 if s.returncode != 0 else 0.0
            cmd = s.command.strip()
            if cmd:
                rep = cmd in seen
                n_rep += rep
                recent_rep.append(int(rep))
                seen.add(cmd)
            fmt_streak = fmt_streak + 1 if s.format_error else 0
            explore += s.action_class in _EXPLORE
            last_completion_ktok = s.num_completion_tokens / 1e3
            log_obs = float(np.log1p(s.obs_chars))
            row += 1
    return TrajectoryTable(
        instance_ids=tuple(t.instance_id for t in trajectories),
        resolved=np.array([t.resolved for t in trajectories], dtype=bool),
        n_calls=n_calls,
        offsets=np.concatenate([[0], np.cumsum(n_calls)]).astype(np.int64),
        traj=traj,
        step=step,
        cost_usd=cost,
        spent_usd=spent,
        remaining_usd=np.maximum(remaining, 0.0),
        x=x,
        phase=phase,
    )
