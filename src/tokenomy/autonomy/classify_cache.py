"""A bounded memo of shell-command classifications, so an agent that repeats a command pays once.

:func:`~tokenomy.autonomy.classify.classify_call` of a shell tool is a pure function of the tool
name, the command text, the working directory the session state reports and the schedule: nothing
else is read. :class:`ClassifyCache` keeps the last ``max_entries`` such results (least recently
used evicted first) for one schedule, and is emptied when it is asked under another schedule
object. Only the classification is memoised: everything that depends on what the session did before
(the state's rewrite of the call, the parts it adds for written scripts, data flows, approvals) is
still computed on every call by the gate. A command seen for the first time is classified with a
second memo, of its simple commands' classes (keyed by the simple command, what is piped into it and
the working directory, which is all a simple command's class depends on), so ``cd /testbed && pytest``
after ``cd /testbed && ls`` classifies only ``pytest``. Commands longer than ``max_chars`` and calls of tools other than the
shell tools (whose class depends on all their arguments) are classified afresh each time. Does no I/O.
"""

from __future__ import annotations

import shlex
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tokenomy.autonomy.classify import _SHELL_TOOLS, Classification, classify_call, classify_command
from tokenomy.autonomy.schedule import Schedule

__all__ = ["ClassifyCache"]


@dataclass(slots=True)
class ClassifyCache:
    """Memoised :func:`classify_call` for shell commands (see the module docstring).

    Attributes:
        max_entries: results kept (0 turns the memo off).
        max_chars: longer commands are not memoised.
        hits: lookups answered from the memo.
        misses: lookups classified afresh.
    """

    max_entries: int = 2048
    max_chars: int = 4096
    hits: int = 0
    misses: int = 0
    _schedule: Schedule | None = None
    _memo: OrderedDict[tuple[str, str, str | None], Classification] = field(default_factory=OrderedDict)
    _parts: OrderedDict[tuple[str, str | None, bool, str | None], tuple[str, str]] = field(
        default_factory=OrderedDict
    )  # (an OrderedDict: evicting a plain dict's oldest key scans the slots its earlier deletions left)

    def classify(
        self, tool: str, arguments: Mapping[str, Any], schedule: Schedule, cwd: str | None
    ) -> Classification:
        """:func:`classify_call` ``(tool, arguments, schedule, cwd=cwd)``, from the memo when possible."""
        command = arguments.get("command", arguments.get("cmd"))
        if isinstance(command, list) and all(isinstance(w, str) for w in command):
            command = shlex.join(command)
        if (
            not isinstance(command, str)
            or len(command) > self.max_chars
            or self.max_entries <= 0
            or tool.lower() not in _SHELL_TOOLS
            or tool in schedule.tools
        ):  # (only a shell tool's class is a function of its command alone)
            return classify_call(tool, arguments, schedule, cwd=cwd)
        if schedule is not self._schedule:
            self._memo.clear()
            self._parts.clear()
            self._schedule = schedule
        key = (tool, command, cwd)
        found = self._memo.get(key)
        if found is not None:
            self.hits += 1
            self._memo.move_to_end(key)
            return found
        self.misses += 1
        found = self._memo[key] = classify_command(
            command, schedule, cwd, self._parts
        )  # (classify_call's path)
        while len(self._memo) > self.max_entries:
            self._memo.popitem(last=False)
        while len(self._parts) > 2 * self.max_entries:  # oldest first (insertion order)
            self._parts.popitem(last=False)
        return found
