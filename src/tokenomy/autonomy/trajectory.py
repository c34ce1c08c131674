"""Typed, frozen, in-memory records of real agent runs (the action layer's vocabulary for data).

Two datasets (see ``../shared/data/agent/README``):

* mini-swe-agent + Gemini 3 Pro on SWE-bench Verified: one :class:`AgentTrajectory` per instance, one
  :class:`AgentStep` per billed model call (assistant turn), with its tokens, USD cost, the bash
  command it issued and the observation's return code.
* tau-bench airline (gpt-4o, 50 tasks × 4 trials): one :class:`Episode` per (task, trial), one
  :class:`ToolCall` per JSON function call, with its autonomy class, whether the user said an explicit
  "yes" before it (commits only), whether it matched a ground-truth action, and the episode's reward.

These are plain values: no file reading here (that is ``tokenomy.interfaces.loaders.agent_data``) and
no policy. ``action_class`` / ``autonomy_class`` are the dataset's regex labels, kept as recorded; the
layer's own classifier (``tokenomy.autonomy.classify``) re-derives classes from ``command``/``tool``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["AgentStep", "AgentTrajectory", "Episode", "GroundTruthAction", "ToolCall"]


@dataclass(frozen=True, slots=True)
class AgentStep:
    """One billed model call of mini-swe-agent (one assistant turn).

    Attributes:
        instance_id: SWE-bench instance, e.g. ``"astropy__astropy-12907"``.
        step: 0-based index of the call within the trajectory.
        action_class: dataset label of the command (submit, create_script, edit, test, run, git, search,
            read, install, delete, fs, other, format_error).
        autonomy_class: dataset label read | draft | execute | commit ("" for a malformed reply).
        num_prompt_tokens: input tokens billed for the call (the whole context so far).
        num_completion_tokens: output tokens.
        num_reasoning_tokens: reasoning tokens reported by the provider (part of the output).
        num_cached_tokens: prompt tokens served from the provider's cache.
        cost_usd: the provider-reported USD cost of this call.
        returncode: exit status of the bash command, ``None`` when no command ran (malformed reply, submit).
        obs_chars: characters of the observation returned to the model.
        obs_truncated: whether the observation was truncated by the harness.
        format_error: the reply did not hold exactly one bash block (the call was billed, nothing ran).
        command: the bash command text ("" when none; the CSV cuts it at 2,000 characters, the raw read
            gives it verbatim).
        cost_imputed: ``cost_usd`` was not recorded for this call and was computed from its tokens at
            the per-token prices the other calls reveal (see the loader); 16 instances in the real data.
    """

    instance_id: str
    step: int
    action_class: str
    autonomy_class: str
    num_prompt_tokens: int
    num_completion_tokens: int
    num_reasoning_tokens: int
    num_cached_tokens: int
    cost_usd: float
    returncode: int | None
    obs_chars: int
    obs_truncated: bool
    format_error: bool
    command: str
    cost_imputed: bool = False


@dataclass(frozen=True, slots=True)
class AgentTrajectory:
    """One mini-swe-agent run on one SWE-bench Verified instance.

    Attributes:
        instance_id: SWE-bench instance id.
        repo: repository short name (e.g. ``"django"``).
        resolved: whether the submitted patch resolved the instance (SWE-bench report).
        exit_status: harness exit status (``"Submitted"``, ``"LimitsExceeded"``, ...).
        steps: the billed calls in order.
        instance_cost_usd: total cost reported by the harness for the instance.
        submission: the submitted patch text; only filled when the raw trajectories were read ("" else).
    """

    instance_id: str
    repo: str
    resolved: bool
    exit_status: str
    steps: tuple[AgentStep, ...]
    instance_cost_usd: float
    submission: str = ""

    @property
    def n_steps(self) -> int:
        """Number of billed calls."""
        return len(self.steps)

    @property
    def total_cost_usd(self) -> float:
        """Sum of the per-call costs (equals ``instance_cost_usd`` up to rounding)."""
        return sum(s.cost_usd for s in self.steps)


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One JSON function call of the tau-bench airline agent.

    Attributes:
        task_id: tau-bench task (0..49).
        trial: trial index (0..3).
        step: index of the message in the conversation (system prompt excluded).
        tool: function name, e.g. ``"book_reservation"``.
        autonomy_class: dataset label read | compute | defer | commit.
        confirmed_by_user: for commits, whether the previous user message was an explicit "yes"
            (the airline policy requires one); ``None`` for non-commits.
        matches_gt_action: for commits, whether the call equals a ground-truth action; ``None`` otherwise.
        arguments: the call's arguments (only when the raw trajectories were read; empty otherwise).
            # argument name -> JSON value
        prev_user_message: the last user message before the call (raw read only; "" otherwise).
    """

    task_id: int
    trial: int
    step: int
    tool: str
    autonomy_class: str
    confirmed_by_user: bool | None
    matches_gt_action: bool | None
    arguments: dict[str, Any] = field(default_factory=dict, compare=False)
    prev_user_message: str = ""


@dataclass(frozen=True, slots=True)
class GroundTruthAction:
    """One action of a tau-bench task's ground truth (raw read only).

    Attributes:
        tool: function name.
        arguments: keyword arguments. # argument name -> JSON value
    """

    tool: str
    arguments: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True, slots=True)
class Episode:
    """One tau-bench airline episode (task × trial).

    Attributes:
        task_id: tau-bench task.
        trial: trial index.
        reward: the episode's reward in {0, 1} (1 = database end state and outputs match ground truth).
        calls: the agent's tool calls in order.
        n_messages: messages in the conversation, system prompt included (as episodes.csv records it).
        n_gt_actions: actions in the ground truth.
        n_gt_commit_actions: state-changing actions in the ground truth.
        user_sim_cost_usd: cost of the simulated user (not the agent).
        gt_actions: the ground-truth actions (raw read only; empty otherwise).
    """

    task_id: int
    trial: int
    reward: float
    calls: tuple[ToolCall, ...]
    n_messages: int
    n_gt_actions: int
    n_gt_commit_actions: int
    user_sim_cost_usd: float
    gt_actions: tuple[GroundTruthAction, ...] = ()

    @property
    def commits(self) -> tuple[ToolCall, ...]:
        """The state-changing calls."""
        return tuple(c for c in self.calls if c.autonomy_class == "commit")

    @property
    def n_unconfirmed_commits(self) -> int:
        """Commits without a preceding explicit user "yes"."""
        return sum(1 for c in self.calls if c.autonomy_class == "commit" and c.confirmed_by_user is False)
