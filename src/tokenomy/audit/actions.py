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

__all__ = ["LEVEL_RANK", "arguments_text", "classify_steps", "parse_arguments", "required_levels"]

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


def required_levels(classes: list[str], schedule: Schedule) -> list[int]:
    """Rank (:data:`LEVEL_RANK`) of the confirmation each autonomy class needs under ``schedule``: its
    level in force (``level_outside_sandbox`` when not sandboxed), ``unknown_level`` for a class it lacks."""
    return [LEVEL_RANK[schedule.level(c)] for c in classes]
