"""Classifier coverage on recorded agent runs: every call gets a class or an explicit, counted "unknown".

:func:`shell_coverage` runs the shell classifier over mini-swe-agent steps (a malformed reply ran no
command and is counted as such, not as classified); :func:`tool_coverage` runs the JSON-call
classifier over tau-bench tool calls. Both also cross-tabulate the dataset's own regex label against
the class found, so a disagreement is visible rather than hidden. Pure functions over records.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from tokenomy.autonomy.classify import classify_call, classify_shell
from tokenomy.autonomy.schedule import UNKNOWN, Schedule
from tokenomy.autonomy.trajectory import AgentTrajectory, Episode

__all__ = ["Coverage", "shell_coverage", "tool_coverage"]


@dataclass(frozen=True, slots=True)
class Coverage:
    """How the classifier placed every call of one dataset.

    Attributes:
        dataset: a name.
        n_calls: calls seen (including those that ran nothing).
        n_no_command: calls that ran nothing (a malformed model reply); not classified.
        n_unknown: calls placed in ``"unknown"`` (the schedule's ``unknown_level`` applies).
        by_class: class -> count over the classified calls.
        vs_label: (dataset label, class found) -> count.
        unknown_examples: up to 20 unknown calls, as text.
    """

    dataset: str
    n_calls: int
    n_no_command: int
    n_unknown: int
    by_class: dict[str, int] = field(default_factory=dict)
    vs_label: dict[tuple[str, str], int] = field(default_factory=dict)
    unknown_examples: tuple[str, ...] = ()

    @property
    def n_classified(self) -> int:
        """Calls that ran something and got a class other than ``"unknown"``."""
        return self.n_calls - self.n_no_command - self.n_unknown

    @property
    def unknown_share(self) -> float:
        """Share of the calls that ran something which the classifier left ``"unknown"``."""
        ran = self.n_calls - self.n_no_command
        return self.n_unknown / ran if ran else 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {
            "dataset": self.dataset,
            "n_calls": self.n_calls,
            "n_no_command": self.n_no_command,
            "n_classified": self.n_classified,
            "n_unknown": self.n_unknown,
            "unknown_share": self.unknown_share,
            "by_class": dict(sorted(self.by_class.items())),
            "vs_label": {f"{a}->{b}": n for (a, b), n in sorted(self.vs_label.items())},
            "unknown_examples": list(self.unknown_examples),
        }


def shell_coverage(
    trajectories: Iterable[AgentTrajectory], schedule: Schedule, dataset: str = "miniswe"
) -> Coverage:
    """Classify every command of every step; a step without a command counts as ``n_no_command``."""
    by_class: Counter[str] = Counter()
    vs: Counter[tuple[str, str]] = Counter()
    examples: list[str] = []
    n = no_cmd = 0
    for traj in trajectories:
        for step in traj.steps:
            n += 1
            if step.format_error or not step.command.strip():
                no_cmd += 1
                continue
            cls = classify_shell(step.command, schedule).action_class
            by_class[cls] += 1
            vs[(step.autonomy_class or "-", cls)] += 1
            if cls == UNKNOWN and len(examples) < 20:
                examples.append(step.command[:200])
    return Coverage(dataset, n, no_cmd, by_class[UNKNOWN], dict(by_class), dict(vs), tuple(examples))


def tool_coverage(episodes: Iterable[Episode], schedule: Schedule, dataset: str = "taubench") -> Coverage:
    """Classify every JSON tool call of every episode by the schedule's tool tables."""
    by_class: Counter[str] = Counter()
    vs: Counter[tuple[str, str]] = Counter()
    examples: list[str] = []
    n = 0
    for ep in episodes:
        for call in ep.calls:
            n += 1
            cls = classify_call(call.tool, call.arguments, schedule).action_class
            by_class[cls] += 1
            vs[(call.autonomy_class or "-", cls)] += 1
            if cls == UNKNOWN and len(examples) < 20:
                examples.append(call.tool)
    return Coverage(dataset, n, 0, by_class[UNKNOWN], dict(by_class), dict(vs), tuple(examples))
