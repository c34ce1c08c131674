"""Workspace trust, the other half: which calls end a session's trust (:func:`unclean_parts`).

A session stays clean for :mod:`tokenomy.autonomy.classify_workspace`'s vouching only while every call
it made either was read-only or vouched, set no variable, changed no file in a way the session state
does not follow, changed to no folder named by a variable, wrote no risky text, made no link and
named no path outside the workspace. The rules and what they assume are in that module's docstring.
Reads text only.
"""

from __future__ import annotations

import functools
import itertools
import re

from tokenomy.autonomy.classify_workspace import _ASSIGN, _CD, NO_RUN, risky_text
from tokenomy.autonomy.shell import SUBST, words

__all__ = ["unclean_parts"]
_OUTSIDE_WORD = re.compile(r"^(/|~|\.\./)|/\.\./|^[\w.-]+@?[\w.-]*:[^/]|\$")
_SETS_ENV = frozenset(
    [
        "export",
        "declare",
        "typeset",
        "readonly",
        "local",
        "source",
        ".",
        "setenv",
        "eval",
        "unset",
        "read",
        "mapfile",
        "readarray",
        "let",
        "alias",
        "unalias",
        "hash",
        "enable",
        "shopt",
        "trap",
    ]
)
_MOVES = frozenset(
    [
        "mv",
        "cp",
        "install",
        "rsync",
        "ln",
        "tar",
        "unzip",
        "gunzip",
        "bunzip2",
        "unxz",
        "7z",
        "patch",
        "xxd",
        "dd",
        "truncate",
        "split",
        "csplit",
        "rename",
    ]
)
_TOOL_SETTINGS = frozenset(
    ["npm", "yarn", "pnpm", "pip", "pip3", "poetry", "uv", "cargo", "go", "git", "rustup", "conda", "gem",
     "bundle", "composer", "corepack", "pyenv", "nvm", "volta", "deno", "bun"]
)  # fmt: skip
_SETTINGS = frozenset(
    ["config", "set", "pkg", "mod", "remote", "override", "default", "use", "local", "global", "link", "init"]
)
"""Subcommands that change what a later run or install does (``npm config set script-shell``, ``pip
config set global.index-url``, ``npm pkg set scripts.test=…``, ``go mod edit -replace``, ``go env
-w GOFLAGS=…``, ``git config core.fsmonitor``) without a file the session state follows."""
_GIT_WRITES = frozenset(
    [
        "checkout",
        "switch",
        "restore",
        "stash",
        "merge",
        "pull",
        "reset",
        "am",
        "cherry-pick",
        "rebase",
        "apply",
        "mv",
        "revert",
        "worktree",
        "submodule",
        "clone",
    ]
)


def _changes_files(ws: list[str]) -> str:
    """Why a command changes files in ways the session state does not follow ("" when it does not)."""
    prog = ws[0].rsplit("/", 1)[-1] if ws else ""
    args = ws[1:]
    if prog in _MOVES:
        return f"{prog} moves, unpacks or writes files"
    subs = [a for a in args if not a.startswith("-")][:2]
    if prog == "git" and subs[:1] == ["stash"] and subs[1:] in (["list"], ["show"]):
        return ""
    if prog == "git" and any(a in _GIT_WRITES for a in args[:3] if not a.startswith("-")):
        return "git changes the checked-out files"
    if prog == "sort" and any(a.startswith(("-o", "--output")) for a in args):
        return "sort -o writes a file"
    if prog in ("sed", "perl") and any(re.match(r"-[a-zA-Z]*i|--in-place", a) for a in args):
        return f"{prog} edits a file in place"
    if prog == "sed" and any(re.search(r"[wWe]\s*\S", a) for a in _sed_scripts(args)):
        return "sed may write a file"  # (a `w` command or flag; `s/a/b/w f`; a false alarm costs an ask)
    if prog == "uniq" and len([a for a in args if not a.startswith("-")]) > 1:
        return "uniq writes its second operand"
    if (prog in ("xargs", "parallel") and _xargs_program(args) not in _READERS) or (
        prog == "find" and {"-exec", "-execdir", "-ok", "-delete", "-fprint"} & set(args)
    ):
        return f"{prog} runs commands on names it reads"
    if prog in ("pip", "pip3") and args[:1] == ["download"]:
        return "pip download writes files"
    if prog in _TOOL_SETTINGS and (_SETTINGS.intersection(subs) or "-w" in args):
        return f"{prog} changes its settings or the project's manifest"
    return ""


_FOLLOWED = frozenset(("echo", "printf", "cat", "tee", "mkdir", "touch", "chmod", "true", ":"))


def _followed_write(ws: list[str]) -> bool:
    """Whether a write (a ``draft`` part) is one the session state follows: ``echo``/``printf``/
    ``cat``/``tee`` text, ``mkdir``, ``touch``, ``chmod``, ``git add``/``commit``/``tag``; any other
    writer (``awk`` printing to a file, an editor, ``xargs``, ``uniq IN OUT``) ends trust."""
    prog = ws[0].rsplit("/", 1)[-1]
    if prog == "git":
        subs = [a for a in ws[1:] if not a.startswith("-")][:2]
        return subs[:1] in (["add"], ["commit"], ["tag"], ["branch"]) or subs in (
            ["stash", "list"],
            ["stash", "show"],
        )
    return prog in _FOLLOWED


_READERS = frozenset(("grep", "egrep", "fgrep", "rg", "cat", "head", "tail", "wc", "ls", "file", "stat"))


def _sed_scripts(args: list[str]) -> list[str]:
    """A ``sed`` call's scripts: each ``-e`` value, else its first operand (``-f``: one that writes)."""
    if any(a in ("-f", "--file") or a.startswith("--file=") for a in args):
        return ["w (a script read from a file is not seen)"]
    scripts = [b for a, b in itertools.pairwise(args) if a in ("-e", "--expression")]
    return scripts or [a for a in args if not a.startswith("-")][:1]


def _xargs_program(args: list[str]) -> str:
    """The program ``xargs`` runs (its first word after the options and their values)."""
    i = 0
    while i < len(args) and args[i].startswith("-"):
        i += 2 if args[i] in ("-I", "-n", "-a", "-d", "-P", "-L", "-s", "-E") else 1
    return args[i].rsplit("/", 1)[-1] if i < len(args) else ""


def _sets_env(ws: list[str]) -> bool:
    prog = ws[0] if ws else ""
    if _ASSIGN.match(prog) or prog in _SETS_ENV:
        return True
    if prog == "set" and any((a.startswith("-") and "a" in a) or a in ("allexport", "-k") for a in ws[1:]):
        return True
    if prog == "printf" and any(a.startswith("-v") for a in ws[1:]):
        return True
    return prog == "env" and any(_ASSIGN.match(a) for a in ws[1:])


@functools.lru_cache(maxsize=1024)
def unclean_parts(parts: tuple[tuple[str, str, str], ...], vouched: bool) -> str:
    """Why a call makes its session unclean for later vouching ("" when it does not): it runs
    something unvouched, sets a variable (any: a runner reads ``PYTEST_ADDOPTS``, ``MAKEFLAGS``,
    ``GOFLAGS``, ``npm_config_*``, ``PYTHONWARNINGS`` …), changes files in a way the state does not
    follow (moves, copies, archives, patches, in-place edits, git checkouts), changes to a folder
    named by a variable, writes risky text, makes a link, or brings files in from outside."""
    for text, cls, _ in parts:
        if cls not in NO_RUN and not vouched:
            return f"ran {text[:80]!r} ({cls}) without a vouch"
        if cls == "draft" and " " not in text.strip():
            return f"the {text[:40]!r} tool changed files (a tool's arguments are not all followed)"
        ws = words(text)
        if _sets_env(ws):
            return f"set an environment variable: {text[:80]!r}"
        why = _changes_files(ws)
        if why:
            return f"{why}: {text[:80]!r}"
        if ws[:1] and ws[0] in _CD and any("$" in w or "`" in w or SUBST in w for w in ws[1:]):
            return f"changed to a folder named by a variable: {text[:80]!r}"
        if cls == "draft" and ws[:1] and not _followed_write(ws):
            return f"a write the state does not follow: {text[:80]!r}"
        if cls == "draft":
            token = risky_text(text)
            if token:
                return f"wrote text with {token!r}: {text[:80]!r}"
            prog = ws[0].rsplit("/", 1)[-1] if ws else ""
            if prog == "ln":
                return f"made a link: {text[:80]!r}"
            if any(_OUTSIDE_WORD.search(w) for w in ws[1:] if w not in ("/dev/null", "-")):
                return f"names a path outside the workspace: {text[:80]!r}"
    return ""
