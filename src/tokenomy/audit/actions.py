"""Action classes for tool calls found in logs, and the confirmation level each class requires.

SPEC.md §3 (action layer): read → free, draft → free, execute → free in a sandbox, commit → confirm,
deploy / transfer / delete-remote → multi-party; unknown → confirm. When the log names the class
(``tokenomy.autonomy_class`` attribute, a dataset label) that is used; otherwise the tool name is
classed by the keyword rules below — a heuristic, reported as such. This module does no I/O.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["LEVEL_RANK", "REQUIRED_CONFIRMATION", "classify_tool", "needs_confirmation", "required_levels"]

# confirmation level of the autonomy schedule -> rank (deny: the class must not run at all)
LEVEL_RANK = {"free": 0, "confirm": 1, "multi_party": 2, "deny": 3}

# autonomy class -> confirmation level the default schedule requires (0 none, 1 confirm, 2 multi-party);
# used when no ``Schedule`` is given (``tests/audit/test_detectors.py`` checks it against the packaged
# default_schedule.toml).
REQUIRED_CONFIRMATION: dict[str, int] = {
    "read": 0,
    "respond": 0,
    "compute": 0,
    "draft": 0,
    "execute": 0,
    "defer": 0,
    "commit": 1,
    "unknown": 1,
    "deploy": 2,
    "transfer": 2,
    "delete_remote": 2,
}

_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("defer", re.compile(r"transfer_to_human|handoff|escalat")),
    ("deploy", re.compile(r"deploy|release|publish")),
    ("transfer", re.compile(r"transfer_funds|pay|wire|send_money|refund")),
    ("delete_remote", re.compile(r"drop_|delete_remote|purge")),
    ("commit", re.compile(r"book|cancel|update|delete|create_order|send|submit|commit|write_db|modify")),
    ("read", re.compile(r"^(get|list|search|find|read|fetch|lookup|query|retrieve)|_details|status")),
    ("compute", re.compile(r"calc|compute|think|math")),
    ("draft", re.compile(r"draft|edit|write|create")),
    ("execute", re.compile(r"run|exec|shell|bash|test|python")),
)


def classify_tool(name: str) -> str:
    """The autonomy class of a tool by name (first matching rule; "unknown" when none matches)."""
    low = name.lower()
    for cls, pattern in _RULES:
        if pattern.search(low):
            return cls
    return "unknown"


def needs_confirmation(autonomy_class: str) -> int:
    """Confirmation level the schedule requires for the class (unknown classes need a confirmation)."""
    return REQUIRED_CONFIRMATION.get(autonomy_class, 1)


def required_levels(classes: list[str], schedule: Any | None = None) -> list[int]:
    """Rank of the confirmation each autonomy class needs: from ``schedule`` (an autonomy-layer
    ``Schedule``: its level in force, ``unknown_level`` for classes it lacks) or the default table."""
    if schedule is None:
        return [REQUIRED_CONFIRMATION.get(c, 1) for c in classes]
    cache: dict[str, int] = {}
    return [cache.setdefault(c, LEVEL_RANK[schedule.level(c)]) for c in classes]
