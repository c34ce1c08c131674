"""Classify concrete tool calls (shell commands, JSON function calls) into the schedule's action classes.

Shell commands are first split into their simple commands (:mod:`tokenomy.autonomy.shell`: compound
operators, substitutions, subshells, control keywords, heredocs), because prefix matching alone is
escapable (``cd x && rm -rf /``). Each simple command is stripped of wrappers (``sudo``, ``env``,
``FOO=1`` prefixes, ``timeout``, ``nohup``, ``time``, ``nice``, ``xargs``, ``watch``, ``command``,
``exec``, leading redirections; by name or by path such as ``/usr/bin/env``) and matched by program
and arguments (rules in :data:`RULES_DOC`). Text another shell will run is classified too:
``bash -c "…"``, ``su -c``, ``eval``, ``alias x='…'``, here-strings ``sh <<< '…'``, shell heredocs,
and a literal piped into a shell (``echo 'rm -rf /' | sh``). A shell fed through a pipe by anything
else (``curl … | sh``, ``base64 -d | bash``) runs text nobody can see: ``"unknown"``. ``cd`` to ``/``,
``~`` or a system folder makes a later relative ``rm -r`` a ``destroy``.
A compound command's class is the most severe of its parts under the schedule (deny > ask > allow,
then multi_party > confirm, then the fixed order in :data:`SEVERITY`). A part no rule places is
``"unknown"`` — never silently free: the schedule's ``unknown_level`` applies (fail closed). Code run
by an interpreter (``python -c``, ``python script.py``) is ``execute``; a command such code, or a
"read" tool (awk ``system()``, sed ``e``, ``find -exec``, ``vim -c '!…'``, ``less +!…``, ``git -c
core.pager=…``, ``tar --to-command``, ``rsync -e``, ``ssh host CMD``), is told to run is extracted
and classified too (:mod:`tokenomy.autonomy.classify_embedded` and ``classify_inline``), or
``"unknown"`` when it cannot be read off the text. Multi-command CLIs have their global options
skipped before the subcommand is read (``kubectl -n prod delete``; ``classify_remote``).
The per-program rules live in :mod:`tokenomy.autonomy.classify_program`, the path checks in
``classify_paths``.

The rules, with tested examples and whether each is generic or was added after reading the agent
datasets, are :data:`tokenomy.autonomy.classify_rules.RULES` (rendered as :data:`RULES_DOC`). Zero
unknowns on the datasets partly reflects the dataset-derived rules; the tests' held-out lists of
commands written without the datasets measure generality (58 fresh commands: 49 right, 0.845;
57 of 58 at least as strict as expected).

JSON function calls are classified by the schedule's ``[tools]`` / ``[tool_patterns]`` tables; a
shell-running tool (``bash``, ``shell``, ``run_command``, … with a ``command``/``cmd`` argument) is
classified by its command.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tokenomy.autonomy import classify_embedded as emb
from tokenomy.autonomy import classify_paths as pth
from tokenomy.autonomy.classify_floors import CWD, PRIV_WRAPPERS, floors, read_floor, tool_paths, write_floor
from tokenomy.autonomy.classify_paths import UP_ONLY, is_dangerous
from tokenomy.autonomy.classify_program import (
    by_program,
    fork_bomb,
    words_set,
    write_targets,
)
from tokenomy.autonomy.classify_rules import RULES_DOC, SEVERITY
from tokenomy.autonomy.schedule import UNKNOWN, VERDICT_RANK, Schedule
from tokenomy.autonomy.shell import REDIRECT_WORD, SHELLS, SUBST, redirects, split_parts, split_shell
from tokenomy.autonomy.shell import words as _words
from tokenomy.core.errors import ValidationError

__all__ = [
    "RULES_DOC",
    "SEVERITY",
    "Classification",
    "classify_call",
    "classify_command",
    "classify_shell",
    "split_shell",
]


_WRAPPERS = words_set("sudo doas env nohup time nice ionice command exec stdbuf builtin strace ltrace")
_WRAPPER_ARG_FLAGS = words_set("-u -g -n -c -C -p -o -e -s -I -L -P -d -a -E --arg-file")
_ASSIGN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_REDIRECT_ATTACHED = re.compile(r"^\d*(>>?|<|&>)\S+$")
_CD = re.compile(r"(^|\s)(cd|pushd)(\s|$)")

_SUBMIT = "COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT"
_SHELL_TOOLS = frozenset(
    {"bash", "shell", "sh", "run_command", "execute_bash", "terminal", "run_shell", "exec"}
    | {"execute_command", "run_shell_command", "run_terminal_cmd", "run_in_terminal", "local_shell"}
)


@dataclass(frozen=True, slots=True)
class Classification:
    """The class of one call and how it was reached.

    Attributes:
        action_class: the most severe part's class (``"unknown"`` when some part could not be placed
            and nothing more severe was found).
        parts: (simple command or tool, its class, the rule that placed it) for every part.
    """

    action_class: str
    parts: tuple[tuple[str, str, str], ...]

    @property
    def has_unknown(self) -> bool:
        """Whether any part was left unknown."""
        return any(cls == UNKNOWN for _, cls, _ in self.parts)


def _strip_wrappers(words: list[str]) -> list[str]:
    i = 0
    while i < len(words):
        w = words[i]
        base = w.rsplit("/", 1)[-1]
        if _ASSIGN.match(w) or _REDIRECT_ATTACHED.match(w):
            i += 1
        elif REDIRECT_WORD.match(w):
            i += 1 if re.search(r"&\d+$", w) else 2
        elif base == "env" and i + 1 < len(words) and words[i + 1].startswith(("-S", "--split-string")):
            flag = words[i + 1]
            packed = (
                flag.split("=", 1)[1]
                if "=" in flag
                else (flag[2:] or (words[i + 2] if i + 2 < len(words) else ""))
            )
            skip = 2 if "=" in flag or flag[2:] else 3
            words = [*words[:i], "env", *_words(packed), *words[i + skip :]]  # env -S 'cmd args': split
            i += 1
        elif base in _WRAPPERS or base in ("xargs", "watch"):
            i += 1
            while i < len(words) and words[i].startswith("-"):
                i += 1 + (words[i] in _WRAPPER_ARG_FLAGS)
        elif base == "timeout":
            i += 1
            while i < len(words) and (words[i].startswith("-") or words[i][:1].isdigit()):
                i += 1
        else:
            break
    return words[i:]


def _script_text(text: str) -> list[tuple[str, str]]:
    """Classify text that a shell will run (a ``-c`` string, an ``eval``, a fed literal)."""
    return [_classify_simple(p.text, p.upstream) for p in split_parts(text)]


def _run_text(text: str) -> tuple[str, str]:
    """The most severe (class, rule) of a command text another program runs (empty: read)."""
    if fork_bomb(text):
        return "destroy", "fork bomb"
    return emb.worst(_script_text(text) or [("read", "empty command")])


def _classify_simple(simple: str, upstream: str | None = None, cwd_danger: bool = False) -> tuple[str, str]:
    """(class, rule) of one simple command; ``upstream`` is the part piped into it."""
    if _SUBMIT in simple:
        return "commit", "harness submit"
    simple = pth.expand_ifs(simple)
    found: list[tuple[str, str]] = []
    wrote = False
    for op, path in redirects(simple):
        floor = read_floor(path, "redirect <") if op == "<" else write_floor(path, f"redirect {op}")
        wrote = wrote or op != "<"
        if floor is not None:
            found.append(floor)
    raw = _words(simple)
    if "{" in simple:
        raw = pth.expand_braces(raw)
    words = _strip_wrappers(raw)
    lead = raw[: len(raw) - len(words)]
    if lead:  # PAGER=… GIT_SSH_COMMAND=… LESSOPEN='|…': a command another program will run
        found += [
            _run_text(w.split("=", 1)[1].lstrip("|").replace("%s", "f"))
            for w in lead
            if _ASSIGN.match(w) and w.split("=", 1)[0] in emb.COMMAND_ENV_VARS
        ]
    if words and upstream and lead and any(w.rsplit("/", 1)[-1] == "xargs" for w in lead):
        up = _strip_wrappers(_words(upstream))
        if up[:1] == ["find"]:  # find ROOT | xargs rm: xargs runs on what find lists under ROOT
            words = [*words, *emb.find_roots(up[1:])]
    if not words:
        if raw[:1] and raw[0].rsplit("/", 1)[-1] == "env" and not any(REDIRECT_WORD.match(w) for w in raw):
            found.append(("secret_read", "env prints the environment"))
        if any(w.rsplit("/", 1)[-1] in PRIV_WRAPPERS for w in raw):
            found.append(("privilege", "sudo"))
        found.append(("draft", "bare redirect") if wrote else ("read", "assignment or redirect only"))
        return emb.worst(found)
    prog = words[0].rsplit("/", 1)[-1]
    args = words[1:]
    if SUBST in words[0]:
        return UNKNOWN, "program name computed at run time"
    found += floors(prog, raw, words, simple)
    for t in write_targets(prog, args):
        floor = write_floor(t, prog)
        if floor is not None:
            found.append(floor)
    if prog in SHELLS or prog == "su":
        cls, rule = _shell(prog, args, upstream)
    elif prog == "eval":
        cls, rule = _run_text(" ".join(args))
    elif prog in ("source", "."):
        bad = not args or SUBST in args[0] or args[0].startswith("/dev/")
        cls, rule = (UNKNOWN, f"{prog} of text not visible") if bad else ("execute", f"{prog} {args[0]}")
    elif prog == "alias" and any("=" in a for a in args):
        cls, rule = emb.worst([("read", "alias"), *(_run_text(a.split("=", 1)[1]) for a in args if "=" in a)])
    else:
        cls, rule = by_program(prog, words[0], args, simple, cwd_danger, _run_text)
    if wrote and SEVERITY.index(cls) < SEVERITY.index("draft"):
        cls, rule = "draft", "redirect to a file"
    return emb.worst([*found, (cls, rule)])


def _shell(prog: str, args: list[str], upstream: str | None) -> tuple[str, str]:
    """A shell: classify what it runs (``-c`` string, here-string, piped literal), else its file."""
    c_flag = next((i for i, a in enumerate(args) if re.fullmatch(r"-[a-zA-Z]*c[a-zA-Z]*", a)), None)
    if c_flag is not None:
        inner = args[c_flag + 1] if c_flag + 1 < len(args) else ""
        return emb.worst(_script_text(inner) or [("execute", f"{prog} -c")])
    if "<<<" in args:
        i = args.index("<<<")
        return _run_text(args[i + 1] if i + 1 < len(args) else "")
    if prog == "su":
        return UNKNOWN, "su without -c (an interactive root shell)"
    operands = [a for a in args if not a.startswith("-") and not REDIRECT_WORD.match(a)]
    if upstream is not None and not operands:
        feed = _strip_wrappers(_words(upstream))
        if feed and feed[0] in ("echo", "printf") and SUBST not in upstream:
            return _run_text(" ".join(a for a in feed[1:] if not a.startswith("-")))
        return UNKNOWN, f"{prog} runs a script piped from {upstream[:40]!r} (content not visible)"
    if not operands:
        return UNKNOWN, f"{prog} reads its commands from stdin (not visible)"
    return "execute", prog


def _severity_key(cls: str, schedule: Schedule | None) -> tuple[int, int, int]:
    if schedule is None:
        return (0, 0, SEVERITY.index(cls) if cls in SEVERITY else len(SEVERITY))
    found = _SEVERITY_KEYS.get((cls, id(schedule)))
    if found is not None and found[0] is schedule:
        return found[1]
    order = SEVERITY.index(cls) if cls in SEVERITY else len(SEVERITY)
    level = schedule.level(cls)
    key = (VERDICT_RANK[schedule.verdict(cls)], {"multi_party": 1}.get(level, 0), order)
    if len(_SEVERITY_KEYS) > 4096:
        _SEVERITY_KEYS.clear()
    _SEVERITY_KEYS[(cls, id(schedule))] = (schedule, key)  # (the schedule is held: its id stays its own)
    return key


_SEVERITY_KEYS: dict[tuple[str, int], tuple[Schedule, tuple[int, int, int]]] = {}


_MEMO_CHARS = 2_000
"""Longer simple commands are not kept in a ``memo``."""
MAX_COMMAND_CHARS = 256_000
"""Longer commands are not read (unknown: the schedule's unknown_level applies)."""
MAX_NESTING = 24
"""Deeper ``$(…)`` / ``<(…)`` / backtick nesting is not read (unknown)."""
MAX_PARTS = 2_000
"""More simple commands than this are not read (unknown)."""


def _too_big(command: str) -> str:
    """Why ``command`` is beyond what the classifier reads ("" when it is not): fail closed, never raise."""
    if len(command) > MAX_COMMAND_CHARS:
        return f"command of {len(command):,} characters (limit {MAX_COMMAND_CHARS:,})"
    if command.count("(") + command.count("`") > MAX_NESTING:
        depth = top = 0
        tick = False
        for m in re.finditer(r"\(|`|\)", command):
            tok = m.group()
            if tok == "`":
                tick = not tick
                depth += 1 if tick else -1
            else:
                depth += 1 if tok == "(" else -1 if depth else 0
            top = max(top, depth)
        if top > MAX_NESTING:
            return f"substitutions nested {top} deep (limit {MAX_NESTING})"
    if len(command) > 2 * MAX_PARTS and (
        command.count(";") + command.count("&") + command.count("|") + command.count("\n") > 2 * MAX_PARTS
    ):
        return f"more than {MAX_PARTS:,} simple commands"
    return ""


def classify_shell(
    command: str,
    schedule: Schedule | None = None,
    *,
    cwd: str | None = None,
    memo: dict[tuple[str, str | None, bool, str | None], tuple[str, str]] | None = None,
) -> Classification:
    """Classify a shell command: split it, classify every part, keep the most severe.

    Args:
        command: the command text.
        schedule: ranks the parts by verdict and level; without one, by :data:`SEVERITY` only.
        cwd: the directory the command starts in, when a session knows it (absolute, or relative to
            where the session started); None: unknown, read as the project folder.
        memo: (simple command, its upstream, whether the directory is dangerous, the directory) ->
            its (class, rule), filled and read here (a simple command's class is a function of these
            alone); the caller bounds it. None: none kept.

    Returns:
        The classification; an empty command is ``read`` (nothing runs).

    Raises:
        ValidationError: ``command`` is not a string (bytes are refused: decode them first) or
            ``schedule`` is neither a Schedule nor None.
    """
    if not isinstance(command, str):
        raise ValidationError(f"command must be a string (the shell command text), got {command!r:.80}")
    if schedule is not None and not isinstance(schedule, Schedule):
        raise ValidationError(f"schedule must be a Schedule or None, got {schedule!r:.80}")
    too_big = _too_big(command)
    if too_big:
        return Classification(UNKNOWN, ((command[:200], UNKNOWN, too_big),))
    parts: list[tuple[str, str, str]] = []
    here = pth.normalise(cwd) if cwd is not None else None
    cwd_danger = here is not None and pth.cwd_is_dangerous(here)
    token = CWD.set(here if here is not None and here.startswith("/") else None)
    try:
        if fork_bomb(command):
            parts.append((command, "destroy", "fork bomb"))
        for part in split_parts(command):
            key = (part.text, part.upstream, cwd_danger, CWD.get())
            found = memo.get(key) if memo is not None else None
            if found is None:
                found = _classify_simple(part.text, part.upstream, cwd_danger)
                if memo is not None and len(part.text) <= _MEMO_CHARS:
                    memo[key] = found
            cls, rule = found
            parts.append((part.text, cls, rule))
            t = part.text
            words = _strip_wrappers(_words(t)) if ("cd" in t or "pushd" in t) and _CD.search(t) else []
            if words[:1] in (["cd"], ["pushd"]):
                cwd_danger = len(words) == 1 or (is_dangerous(words[1]) and not UP_ONLY.match(words[1]))
                to = pth.normalise(words[1] if len(words) > 1 else "~")
                here = None if to is None else _join(here, to)
                CWD.set(here if here is not None and here.startswith("/") else None)
                if here is not None and here.startswith("/"):
                    cwd_danger = pth.cwd_is_dangerous(here)
    finally:
        CWD.reset(token)
    if not parts:
        return Classification("read", ((command, "read", "empty command"),))
    worst = parts[0] if len(parts) == 1 else max(parts, key=lambda p: _severity_key(p[1], schedule))
    return Classification(worst[1], tuple(parts))


def _join(here: str | None, to: str) -> str | None:
    if to.startswith("/"):
        return to
    return None if here is None else posixpath.normpath(posixpath.join(here, to))


def classify_command(
    command: str,
    schedule: Schedule,
    cwd: str | None,
    memo: dict[tuple[str, str | None, bool, str | None], tuple[str, str]] | None,
) -> Classification:
    """A shell tool's command classified (:func:`classify_shell`); nesting too deep to read is unknown."""
    try:
        return classify_shell(command, schedule, cwd=cwd, memo=memo)
    except RecursionError:
        return Classification(UNKNOWN, ((command[:200], UNKNOWN, "nested too deep to read"),))


def classify_call(
    tool: str,
    arguments: Mapping[str, Any],
    schedule: Schedule,
    *,
    cwd: str | None = None,
    memo: dict[tuple[str, str | None, bool, str | None], tuple[str, str]] | None = None,
) -> Classification:
    """Classify a JSON function call by the schedule's tool tables (shell tools by their command).

    Args:
        tool: the function name.
        arguments: its arguments. # argument name -> JSON value
        schedule: supplies ``[tools]`` and ``[tool_patterns]``.
        cwd: the session's working directory (see :func:`classify_shell`).
        memo: simple-command classes kept between calls (see :func:`classify_shell`).

    Returns:
        The classification (``"unknown"`` for a name no table places).

    Raises:
        ValidationError: ``tool`` is not a string ("" is classified ``unknown``), ``arguments`` not a
            mapping, or
            ``schedule`` not a Schedule.
    """
    if not isinstance(tool, str):
        raise ValidationError(f"tool must be a string (the function name), got {tool!r:.80}")
    if type(arguments) is not dict and not isinstance(arguments, Mapping):
        raise ValidationError(f"arguments of tool {tool!r} must be a mapping, got {arguments!r:.80}")
    if not isinstance(schedule, Schedule):
        raise ValidationError(f"schedule must be a Schedule, got {schedule!r:.80}")
    command = arguments.get("command", arguments.get("cmd"))
    if isinstance(command, list) and all(isinstance(w, str) for w in command):
        command = shlex.join(command)  # Codex's shell tool: ["bash", "-lc", "…"]
    if tool.lower() in _SHELL_TOOLS and isinstance(command, str) and tool not in schedule.tools:
        return classify_command(command, schedule, cwd, memo)
    cls = schedule.tool_class(tool)
    rule = (
        f"[tools] {tool}"
        if cls != UNKNOWN and not _pattern_only(tool, schedule)
        else ("pattern" if cls != UNKNOWN else "no tool rule")
    )
    parts = [(tool, cls, rule)]
    if cls in ("read", "draft"):
        for path in tool_paths(arguments):
            floor = read_floor(path, tool) if cls == "read" else write_floor(path, tool)
            if cls == "draft" and floor is None:
                floor = read_floor(path, tool)  # moving or copying credentials reads them
            if floor is not None:
                parts.append((path, *floor))
    worst = max(parts, key=lambda p: _severity_key(p[1], schedule))
    return Classification(worst[1], tuple(parts))


def _pattern_only(tool: str, schedule: Schedule) -> bool:
    return tool not in schedule.tools and all(t.lower() != tool.lower() for t in schedule.tools)
