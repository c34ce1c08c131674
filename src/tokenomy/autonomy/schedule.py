"""The autonomy schedule: action classes → confirmation levels, approval scopes and prices (Eq. 6–7).

A schedule is a published TOML artifact (the default lives in
``tokenomy/interfaces/resources/default_schedule.toml``; ``tokenomy agent schedule`` prints it). Each
action class is described by effect, reversibility and blast radius, and carries

* a confirmation level — ``free`` (allow), ``confirm`` / ``multi_party`` (ask), ``deny``;
* an approval scope — ``once`` / ``session`` / ``persistent``;
* prices — ρ (USD per unit of recoverable harm), ρ_irr ≥ ρ (USD per unit of irreversible harm),
  a prior harm probability,
  severity and irreversible share, and ``rare_severe`` (price by CVaR_α instead of the expectation).

Precedence between several verdicts is deny > ask > allow; an unknown class gets ``unknown_level``
(fail closed: never ``free``). ``parse_schedule`` takes the TOML *text* (the caller opens files) and
raises :class:`~tokenomy.core.errors.SchemaError` naming the line and the problem. The autonomy level
``a`` of Eq. 6–7 that the prices imply is :meth:`Schedule.implied_level`: act without asking iff the
priced harm of a call is below the cost of asking.

Outside a sandbox (the default, ``sandboxed = false``) ``execute``, ``install`` and ``delete_local``
are asked, except where ``workspace_trust`` (default true) applies: a gate that follows the session's
state judges the project's own test/build runs, removals of build artefacts inside the workspace and
installs from the project's own manifests at the sandboxed level, provided the session is clean (it
wrote no code or configuration, set no variable, moved, patched or checked out no file, read no
credential and ran nothing unvouched) — see :mod:`tokenomy.autonomy.classify_workspace` for the rules and what they
assume (the code already in the workspace is the principal's). One class's fields and prices
(:class:`ActionClass`, re-exported here) live in :mod:`tokenomy.autonomy.action_class`.
"""

from __future__ import annotations

import fnmatch
import math
import re
import tomllib
from dataclasses import dataclass
from typing import Any

from tokenomy.autonomy.action_class import ActionClass
from tokenomy.core.errors import SchemaError

__all__ = [
    "LEVELS",
    "SCOPES",
    "UNKNOWN",
    "VERDICT_RANK",
    "ActionClass",
    "Schedule",
    "level_verdict",
    "parse_schedule",
]

LEVELS = ("free", "confirm", "multi_party", "deny")
SCOPES = ("once", "session", "persistent")
UNKNOWN = "unknown"
SCHEDULE_VERSION = 1
"""The schedule format this code reads (the TOML's ``version``; absent means 1)."""
VERDICT_RANK = {"allow": 0, "ask": 1, "deny": 2}
"""Precedence of verdicts: the larger rank wins (deny > ask > allow)."""

_FLOAT_FIELDS = ("rho_usd", "rho_irr_usd", "p_harm", "severity", "irreversible")
_TEXT_FIELDS = ("description", "effect", "reversibility", "blast_radius")
_CLASS_KEYS = frozenset(
    (
        *_FLOAT_FIELDS,
        *_TEXT_FIELDS,
        "level",
        "level_outside_sandbox",
        "scope",
        "approvers",
        "rare_severe",
        "cvar_alpha",
    )
)
_TOP_KEYS = frozenset(
    (
        "version",
        "unknown_level",
        "sandboxed",
        "workspace_trust",
        "ask_cost_usd",
        "classes",
        "tools",
        "tool_patterns",
    )
)


_MUTATING_WORDS = (
    "delete del remove rm drop destroy purge erase wipe truncate kill terminate cancel revoke update "
    "upsert set put patch post create insert add write edit modify replace rename move change reset "
    "send transfer pay refund charge book exec execute run eval apply deploy publish push upload "
    "grant approve disable enable merge"
)
_MUTATING = frozenset(_MUTATING_WORDS.split())
KNOWN_TOOLS: dict[str, str] = {  # lower-case tool name -> class, for names the schedule's [tools] lacks
    # MCP filesystem server
    **dict.fromkeys(
        (
            "read_file",
            "read_text_file",
            "read_media_file",
            "read_multiple_files",
            "list_directory",
            "list_directory_with_sizes",
            "directory_tree",
            "search_files",
            "get_file_info",
            "list_allowed_directories",
        ),
        "read",
    ),
    **dict.fromkeys(("write_file", "edit_file", "create_directory", "move_file"), "draft"),
    # Claude Code, Codex, Gemini CLI, OpenHands, OpenAI Agents SDK hosted tools
    **dict.fromkeys(("bashoutput", "view_image", "glob", "search_file_content", "read_many_files"), "read"),
    **dict.fromkeys(("file_search", "web_search", "google_web_search", "web_search_preview"), "read"),
    **dict.fromkeys(("apply_patch", "replace", "str_replace_based_edit_tool", "save_memory"), "draft"),
    **dict.fromkeys(("update_plan", "todowrite", "think", "task"), "compute"),
    **dict.fromkeys(("web_fetch", "webfetch", "browser"), "install"),
    **dict.fromkeys(("code_interpreter", "killshell", "ipython"), "execute"),
    "finish": "respond",
}
"""Tool names of common agent harnesses and MCP servers, used when the schedule does not name them."""
"""Words that make a tool name a change, whatever glob its prefix matches."""
_NAME_WORDS = re.compile(r"[^a-z0-9]+")


def _camel(name: str) -> str:
    """``getAndDeleteUser`` -> ``get and delete user``."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name).lower()


def level_verdict(level: str) -> str:
    """Verdict a confirmation level gives: free → allow, confirm/multi_party → ask, deny → deny."""
    return {"free": "allow", "confirm": "ask", "multi_party": "ask", "deny": "deny"}[level]


@dataclass(frozen=True, slots=True)
class Schedule:
    """A parsed autonomy schedule.

    Attributes:
        classes: the action classes. # class name -> ActionClass
        unknown_level: level for calls the classifier cannot place (never "free").
        sandboxed: the caller asserts that every call runs in a disposable sandbox (no credentials, no
            host mounts, no network it can harm), so ``level`` rather than ``level_outside_sandbox``
            applies; nothing checks this. Default False (opt-in).
        ask_cost_usd: default price of one confirmation (the principal's attention).
        tools: JSON function name -> class name.
        tool_patterns: (glob, class name) in order, tried after ``tools``.
        version: schema version of the file.
        workspace_trust: outside a sandbox, judge the project's own test and build runs, removals of
            build artefacts and installs from the project's manifests at the sandboxed ``level`` when a
            gate following the session's state vouches for them
            (:mod:`tokenomy.autonomy.classify_workspace`: the session wrote no code or
            configuration, set no variable, moved or checked out no file, read no credential and ran
            nothing unvouched; runners take listed options only; paths stay in the workspace). It assumes the code already in the workspace is the principal's. Default true
            (``workspace_trust = false`` in the file: every such call is asked outside a sandbox).
    """

    classes: dict[str, ActionClass]
    unknown_level: str
    sandboxed: bool
    ask_cost_usd: float
    tools: dict[str, str]
    tool_patterns: tuple[tuple[str, str], ...]
    version: int = 1
    workspace_trust: bool = True

    def level(self, class_name: str) -> str:
        """Confirmation level in force for ``class_name`` (``unknown_level`` for unknown classes)."""
        cls = self.classes.get(class_name)
        return self.unknown_level if cls is None else cls.effective_level(self.sandboxed)

    def verdict(self, class_name: str) -> str:
        """allow / ask / deny for one class (fail closed for unknown classes)."""
        return level_verdict(self.level(class_name))

    def tool_class(self, tool: str) -> str:
        """Class of a JSON function name: exact entry, else the entry that matches ignoring case, else
        the first matching glob, else ``"unknown"``. A name holding a mutating word (``delete``,
        ``update``, ``create``, ...) matches no glob: ``get_and_delete_user`` is not a ``get_*`` read."""
        if tool in self.tools:
            return self.tools[tool]
        low = tool.lower()
        for name, cls in self.tools.items():
            if name.lower() == low:
                return cls
        if low in KNOWN_TOOLS:
            return KNOWN_TOOLS[low]
        if _MUTATING & frozenset(_NAME_WORDS.split(tool.lower() if "_" in tool else _camel(tool))):
            return UNKNOWN
        for pattern, cls in self.tool_patterns:
            if fnmatch.fnmatchcase(tool, pattern):
                return cls
        return UNKNOWN

    def implied_level(self, class_name: str, ask_cost_usd: float | None = None) -> str:
        """The level the prices imply (Eq. 6–7): free iff priced harm ≤ the cost of one confirmation.

        ``deny`` classes stay ``deny`` (a constraint, not a price); unknown classes give ``unknown_level``.
        """
        cls = self.classes.get(class_name)
        if cls is None:
            return self.unknown_level
        if cls.level == "deny":
            return "deny"
        cost = self.ask_cost_usd if ask_cost_usd is None else ask_cost_usd
        return "free" if cls.harm_price_usd() <= cost else ("multi_party" if cls.approvers > 1 else "confirm")

    def as_rows(self) -> list[dict[str, Any]]:
        """One plain dict per class, for tables and JSON."""
        return [
            {
                "class": c.name,
                "level": c.effective_level(self.sandboxed),
                "verdict": level_verdict(c.effective_level(self.sandboxed)),
                "scope": c.scope,
                "approvers": c.approvers if c.effective_level(self.sandboxed) == "multi_party" else 1,
                "effect": c.effect,
                "reversibility": c.reversibility,
                "blast_radius": c.blast_radius,
                "rho_usd": c.rho_usd,
                "rho_irr_usd": c.rho_irr_usd,
                "harm_price_usd": round(c.harm_price_usd(), 6),
                "implied_level": self.implied_level(c.name),
                "risk_measure": f"CVaR_{c.cvar_alpha}" if c.rare_severe else "expectation",
            }
            for c in self.classes.values()
        ]


def _line_of(text: str, section: str | None, key: str | None) -> int:
    """1-based line of ``key`` inside ``[section]`` (or of the header when key is None); 0 if not found."""
    header = re.compile(r"^\s*\[\s*(.+?)\s*\]\s*(#.*)?$")
    current: str | None = None
    for i, line in enumerate(text.splitlines(), start=1):
        m = header.match(line)
        if m:
            current = m.group(1).replace('"', "").replace(" ", "")
            if key is None and current == section:
                return i
            continue
        if key is not None and current == section:
            k = line.split("=", 1)[0].strip().strip('"')
            if "=" in line and k == key:
                return i
    return 0


def parse_schedule(text: str, source: str = "<schedule>") -> Schedule:
    """Parse and validate a schedule from TOML text.

    Args:
        text: the TOML document.
        source: a name for messages (usually the file path).

    Returns:
        The validated schedule.

    Raises:
        SchemaError: syntax errors (with tomllib's line/column) and semantic errors (unknown level or
            scope, ρ_irr < ρ, a probability outside [0, 1], a tool mapped to an undefined class, ...),
            each naming ``source``, the line and the problem; ``text`` that is not a string (bytes:
            decode them first).
    """
    if not isinstance(text, str):
        kind = "bytes: decode them first" if isinstance(text, (bytes, bytearray)) else repr(text)[:80]
        raise SchemaError(f"{source}: the schedule text must be a string of TOML, got {kind}")
    try:
        doc = tomllib.loads(text.removeprefix("\ufeff"))  # a byte-order mark is not part of the TOML
    except tomllib.TOMLDecodeError as exc:
        raise SchemaError(f"{source}: TOML syntax error: {exc}") from None
    except RecursionError:
        raise SchemaError(f"{source}: TOML nested too deeply; expected a schedule's flat tables") from None

    def fail(section: str | None, key: str | None, problem: str) -> SchemaError:
        line = _line_of(text, section, key) or _line_of(text, section, None)
        where = f"line {line}" if line else "(line unknown)"
        return SchemaError(f"{source}: {where}: {problem}")

    for key in doc:
        if key not in _TOP_KEYS:
            raise fail(None, key, f"unknown top-level key {key!r}; expected one of {sorted(_TOP_KEYS)}")
    version = doc.get("version", SCHEDULE_VERSION)
    if type(version) is not int or version != SCHEDULE_VERSION:
        raise fail(
            None,
            "version",
            f"version={version!r}; this tokenomy reads schedule version {SCHEDULE_VERSION} only",
        )
    unknown_level = doc.get("unknown_level", "confirm")
    if unknown_level not in LEVELS or unknown_level == "free":
        raise fail(
            None, "unknown_level", f"unknown_level={unknown_level!r} must be confirm, multi_party or deny"
        )
    raw_classes = doc.get("classes")
    if not isinstance(raw_classes, dict) or not raw_classes:
        raise fail(None, None, "no [classes.<name>] tables: a schedule needs at least one action class")
    classes = {name: _parse_class(name, body, fail) for name, body in raw_classes.items()}
    if UNKNOWN in classes:
        raise fail(f"classes.{UNKNOWN}", None, f"class name {UNKNOWN!r} is reserved (use unknown_level)")
    tools: dict[str, str] = {}
    for tool, cls in (doc.get("tools") or {}).items():
        if cls not in classes:
            raise fail(
                "tools", tool, f"tool {tool!r} maps to undefined class {cls!r}; defined: {sorted(classes)}"
            )
        tools[tool] = cls
    patterns: list[tuple[str, str]] = []
    for pattern, cls in (doc.get("tool_patterns") or {}).items():
        if cls not in classes:
            raise fail("tool_patterns", pattern, f"pattern {pattern!r} maps to undefined class {cls!r}")
        patterns.append((pattern, cls))
    ask_cost = doc.get("ask_cost_usd", 0.05)
    if not _finite_non_negative(ask_cost):
        raise fail(None, "ask_cost_usd", f"ask_cost_usd={ask_cost!r} must be a finite number ≥ 0")
    sandboxed = doc.get("sandboxed", False)
    if not isinstance(sandboxed, bool):
        raise fail(None, "sandboxed", f"sandboxed={sandboxed!r} must be true or false")
    trust = doc.get("workspace_trust", True)
    if not isinstance(trust, bool):
        raise fail(None, "workspace_trust", f"workspace_trust={trust!r} must be true or false")
    return Schedule(
        classes=classes,
        unknown_level=unknown_level,
        sandboxed=sandboxed,
        ask_cost_usd=float(ask_cost),
        tools=tools,
        tool_patterns=tuple(patterns),
        version=version,
        workspace_trust=trust,
    )


def _finite_non_negative(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) and v >= 0


def _parse_class(name: str, body: object, fail: Any) -> ActionClass:
    section = f"classes.{name}"
    if not isinstance(body, dict):
        raise fail(section, None, f"classes.{name} must be a table")
    for key in body:
        if key not in _CLASS_KEYS:
            raise fail(
                section, key, f"unknown key {key!r} in [{section}]; expected one of {sorted(_CLASS_KEYS)}"
            )
    for key in ("level", *_TEXT_FIELDS):
        if not isinstance(body.get(key), str) or not body.get(key):
            raise fail(section, key if key in body else None, f"[{section}] needs a non-empty string {key!r}")
    level = str(body["level"])
    outside = str(body.get("level_outside_sandbox", level))
    for key, value in (("level", level), ("level_outside_sandbox", outside)):
        if value not in LEVELS:
            raise fail(section, key, f"{key}={value!r} in [{section}]; expected one of {list(LEVELS)}")
    scope = body.get("scope", "once")
    if scope not in SCOPES:
        raise fail(section, "scope", f"scope={scope!r} in [{section}]; expected one of {list(SCOPES)}")
    values: dict[str, float] = {}
    for key in _FLOAT_FIELDS:
        v = body.get(key, 0.0)
        if not _finite_non_negative(v):
            raise fail(section, key, f"{key}={v!r} in [{section}] must be a finite number ≥ 0")
        values[key] = float(v)
    for key in ("p_harm", "irreversible"):
        if values[key] > 1:
            raise fail(
                section, key, f"{key}={values[key]} in [{section}] is a probability/share: must be in [0, 1]"
            )
    if values["rho_irr_usd"] < values["rho_usd"]:
        raise fail(
            section,
            "rho_irr_usd",
            f"rho_irr_usd={values['rho_irr_usd']} < rho_usd={values['rho_usd']} in [{section}]; need ρ_irr ≥ ρ",
        )
    approvers = body.get("approvers", 2 if level == "multi_party" else 1)
    if not isinstance(approvers, int) or isinstance(approvers, bool) or approvers < 1:
        raise fail(section, "approvers", f"approvers={approvers!r} in [{section}] must be an integer ≥ 1")
    alpha = body.get("cvar_alpha", 0.95)
    if not isinstance(alpha, int | float) or not 0 <= alpha < 1:
        raise fail(section, "cvar_alpha", f"cvar_alpha={alpha!r} in [{section}] must be in [0, 1)")
    rare = body.get("rare_severe", False)
    if not isinstance(rare, bool):
        raise fail(section, "rare_severe", f"rare_severe={rare!r} in [{section}] must be true or false")
    return ActionClass(
        name=name,
        description=body["description"],
        effect=body["effect"],
        reversibility=body["reversibility"],
        blast_radius=body["blast_radius"],
        level=level,
        level_outside_sandbox=outside,
        scope=scope,
        approvers=approvers,
        rare_severe=rare,
        cvar_alpha=float(alpha),
        **values,
    )
