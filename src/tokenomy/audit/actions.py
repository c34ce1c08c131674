"""Action classes of the tool calls found in logs, by the action layer's classifier and schedule.

A tool step keeps the class the log names (``tokenomy.autonomy_class`` attribute, a dataset label).
Any other tool step is classed by :func:`tokenomy.autonomy.classify.classify_call` on its tool name and
arguments under the autonomy schedule: the schedule's ``[tools]`` / ``[tool_patterns]`` tables, and a
shell tool (``bash``, ``shell``, ``run_command`` ... with a ``command`` argument) by its command, split
and matched by :func:`~tokenomy.autonomy.classify.classify_shell`. A name no table places is
``"unknown"``, which the schedule's ``unknown_level`` governs (fail closed). The confirmation each class
needs is the schedule's level in force (:meth:`~tokenomy.autonomy.schedule.Schedule.level`); this module
keeps no table of its own. Classification is cached by (tool, arguments): a million spans with a few
thousand distinct calls cost a few thousand classifications. No I/O.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tokenomy.autonomy.classify import classify_call
from tokenomy.autonomy.schedule import LEVELS, Schedule

__all__ = [
    "LEVEL_RANK",
    "arguments_text",
    "canonical_actions",
    "classify_steps",
    "parse_arguments",
    "required_levels",
]

LEVEL_RANK = {level: rank for rank, level in enumerate(LEVELS)}
"""Confirmation level of the schedule -> rank: free 0, confirm 1, multi_party 2, deny 3 (must not run)."""


def arguments_text(value: Any) -> str:
    """A tool call's arguments as text: a string as written, a mapping or list as sorted JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, sort_keys=True, default=str)
    except (TypeError, ValueError):
        return str(value)


def parse_arguments(text: str) -> Mapping[str, Any]:
    """The arguments as a mapping. A JSON object is itself; any other text (a bare command string, a
    JSON string) is taken as ``{"command": text}``, which only a shell tool reads."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        return {"command": text}
    if isinstance(value, Mapping):
        return value
    return {"command": value} if isinstance(value, str) else {}


def classify_steps(
    tool: NDArray[np.object_],
    tool_args: NDArray[np.object_],
    given: NDArray[np.object_],
    is_tool: NDArray[np.bool_],
    schedule: Schedule,
) -> NDArray[np.object_]:
    """The autonomy class of every step: ``given`` where the log named one, else (tool steps) the
    action layer's class of (tool, arguments) under ``schedule``; non-tool steps keep ``given``.

    Only tool steps without a class are looked at, each distinct (tool, arguments) pair once.
    """
    out = np.array(given, dtype=object, copy=True)
    todo = np.flatnonzero(is_tool & (given == ""))
    if not todo.size:
        return out
    cache: dict[tuple[str, str], str] = {}
    classes = []
    for name, args in zip(tool[todo].tolist(), tool_args[todo].tolist(), strict=True):
        key = (str(name), str(args))
        cls = cache.get(key)
        if cls is None:
            cls = cache[key] = classify_call(key[0], parse_arguments(key[1]), schedule).action_class
        classes.append(cls)
    out[todo] = classes
    return out


# What a coding agent's tool does, by the names common agent frameworks give it (Claude Code, OpenHands /
# SWE-agent's str_replace_editor, Aider, Cline, Cursor, mini-swe-agent, OpenAI Agents): the detailed
# action class the verification and delegation detectors read (edit, read, search, test, run, submit).
# Names are compared lowercased with "-" and " " as "_". A name not listed keeps its label.
_TOOL_ACTIONS: dict[str, str] = {
    **dict.fromkeys(
        (
            "edit",
            "edit_file",
            "str_replace",
            "str_replace_based_edit_tool",
            "apply_patch",
            "write",
            "write_file",
            "create_file",
            "write_to_file",
            "multiedit",
            "multi_edit",
            "replace_in_file",
            "search_replace",
            "insert",
            "notebookedit",
            "notebook_edit",
            "patch",
            "edit_notebook",
        ),
        "edit",
    ),
    **dict.fromkeys(
        (
            "read",
            "read_file",
            "view",
            "view_file",
            "open_file",
            "get_file",
            "read_many_files",
            "list_dir",
            "list_files",
            "list_directory",
            "ls",
        ),
        "read",
    ),
    **dict.fromkeys(
        (
            "grep",
            "glob",
            "search",
            "search_files",
            "find_files",
            "file_search",
            "codebase_search",
            "search_code",
            "ripgrep",
            "web_search",
            "websearch",
            "webfetch",
            "web_fetch",
        ),
        "search",
    ),
    **dict.fromkeys(("pytest", "run_tests", "run_test", "test", "run_unit_tests"), "test"),
    **dict.fromkeys(("submit", "finish", "attempt_completion", "task_complete", "complete_task"), "submit"),
}
_SHELL_TOOLS = frozenset(
    (
        "bash",
        "shell",
        "sh",
        "terminal",
        "run_command",
        "execute_command",
        "run_terminal_cmd",
        "run_shell_command",
        "execute_bash",
        "exec",
        "command",
        "cmd",
        "powershell",
    )
)
_EDITOR_COMMANDS = {
    "view": "read",
    "create": "edit",
    "str_replace": "edit",
    "insert": "edit",
    "undo_edit": "edit",
}
_TEST_RUNNERS = frozenset(
    ("pytest", "py.test", "tox", "nox", "jest", "vitest", "mocha", "rspec", "phpunit", "bats", "ctest")
)
_TEST_SUBCOMMANDS = frozenset(("test", "tests", "check"))


def _shell_action(command: str) -> str:
    """``test`` when a shell command runs a test suite (its first program, or a build tool's ``test``
    sub-command), else ``run``."""
    words = command.replace("&&", " ; ").replace("||", " ; ").replace("|", " ; ").split()
    starts = [0] + [i + 1 for i, w in enumerate(words) if w == ";"]
    for i in starts:
        head = words[i : i + 4]
        while head and ("=" in head[0] or head[0] in ("cd", "sudo", "env", "time", "timeout")):
            head = head[2:] if head[0] in ("cd", "timeout") else head[1:]
        if not head:
            continue
        prog = head[0].rsplit("/", 1)[-1]
        if prog in _TEST_RUNNERS:
            return "test"
        if prog.startswith("python") and head[1:3] in (["-m", "pytest"], ["-m", "unittest"]):
            return "test"
        builds = ("npm", "yarn", "pnpm", "go", "cargo", "make", "mvn", "gradle", "gradlew", "dotnet")
        sub = head[1:3]
        if prog in builds and sub and (sub[0] in _TEST_SUBCOMMANDS or sub == ["run", "test"]):
            return "test"
    return "run"


def _tool_action(name: str, args_text: str) -> str | None:
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    if key in _SHELL_TOOLS:
        command = parse_arguments(args_text).get("command")
        return _shell_action(command) if isinstance(command, str) else "run"
    if key in ("str_replace_editor", "str_replace_based_edit_tool", "text_editor"):
        command = parse_arguments(args_text).get("command")
        return _EDITOR_COMMANDS.get(str(command), "edit")
    return _TOOL_ACTIONS.get(key)


def canonical_actions(
    tool: NDArray[np.object_],
    tool_args: NDArray[np.object_],
    action_class: NDArray[np.object_],
    is_tool: NDArray[np.bool_],
) -> NDArray[np.object_]:
    """The detailed action class of every step: a tool step the log did not label (its class is ""
    or its own tool name, as importers leave it) gets the class its name and arguments say for common
    agent tools (edit, read, search, test, run, submit); labelled steps and unknown names keep theirs.

    Each distinct (tool, arguments) pair is looked at once.
    """
    out = np.array(action_class, dtype=object, copy=True)
    todo = np.flatnonzero(is_tool & ((action_class == "") | (action_class == tool)))
    cache: dict[tuple[str, str], str | None] = {}
    for i in todo.tolist():
        key = (str(tool[i]), str(tool_args[i]))
        if key not in cache:
            cache[key] = _tool_action(*key)
        if cache[key] is not None:
            out[i] = cache[key]
    return out


def required_levels(classes: list[str], schedule: Schedule) -> list[int]:
    """Rank (:data:`LEVEL_RANK`) of the confirmation each autonomy class needs under ``schedule``: its
    level in force (``level_outside_sandbox`` when not sandboxed), ``unknown_level`` for a class it lacks."""
    return [LEVEL_RANK[schedule.level(c)] for c in classes]
