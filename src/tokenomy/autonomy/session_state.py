"""What one agent session has done so far, as the gate needs it to judge the session's next call.

A call is not judged alone: ``cd /`` then ``rm -rf *``, ``X=/`` then ``rm -rf $X``, an alias or a
function defined in one call and used in the next, a script written (by a ``Write`` tool call, a
heredoc or a redirect) and then run (``bash it.sh``, ``./it.sh``, ``python it.py``, ``source it``),
or a credential read into a variable or a temp file and later sent over the network. A
:class:`SessionState` follows one session: the working directory (``cd``, ``cd -``, ``pushd`` /
``popd``; a subshell's or pipeline element's changes are dropped), variables and exports, aliases
and functions, the files the session wrote with what it wrote into them (a file moved or copied keeps
it), and which variables and files hold secret data. :meth:`SessionState.step` rewrites a call the
way the shell would see it (variables, aliases and functions expanded) and adds parts for what the
call really runs (the content of a written script) and for data flows; the gate classifies the
result. Running a written file is judged by its content (:mod:`~tokenomy.autonomy.session_files`); a
file written by a program whose output is not visible (``curl -o``, ``python gen.py > x.sh``) runs
``unknown`` content; git settings are followed by :mod:`~tokenomy.autonomy.session_git`. A secret read
(a ``secret_read`` part) followed, in the same session, by a ``network_send`` part is a data flow the
gate denies, whatever the destination (start a new session to send after reading credentials).

Not followed: files a program creates under names its text does not show (archives unpacked,
``git clone``, code that builds a file name) — running one is judged as an ordinary file (``execute``),
which a sandbox contains and which outside a sandbox asks; code whose command is not a literal
(``os.system(cmd)``) is ``execute``, as for a single call.

Every table is bounded (:class:`StateLimits`); the oldest entry is evicted first, and once a table
has evicted anything the state fails closed for what it can no longer tell: an untracked script run
is ``unknown``, every command name may be an evicted alias (``unknown``), a network command using an
untracked variable is ``unknown``. This module assumes every checked call runs (a refused call may
still be approved and run), and it reads text only: no file is opened.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import NamedTuple

from tokenomy.autonomy import classify_paths as pth
from tokenomy.autonomy.classify import (
    _SHELL_TOOLS,
    MAX_COMMAND_CHARS,
    _strip_wrappers,
)
from tokenomy.autonomy.classify_program import NET_PROGS
from tokenomy.autonomy.schedule import UNKNOWN, Schedule
from tokenomy.autonomy.session_files import FileEffects, StateLimits, TrackedFile, _operands
from tokenomy.autonomy.session_git import GitEffects
from tokenomy.autonomy.session_scan import (
    Segment,
    changes_state,
    copies_files,
    expand_vars,
    runs_git,
    segments,
    sends_network,
    state_or_file_word,
    strip_keywords,
    touches_files,
)
from tokenomy.autonomy.shell import SUBST, Part, redirects, split_parts, words
from tokenomy.autonomy.verdict import Call

__all__ = ["Prepared", "SessionState", "StateLimits"]

_SEND_PROGS = NET_PROGS | frozenset(
    ("curl", "wget", "scp", "sftp", "rsync", "ftp", "gh", "http", "https", "xh", "ssh", "aws", "gsutil")
)
_ASSIGN = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", re.DOTALL)
_FUNC = re.compile(r"^(?:function\s+)?([A-Za-z_][\w.:-]*)\s*(?:\(\s*\))?\s*\{\s(.*)\}$", re.DOTALL)
_DECLARE = frozenset(("export", "declare", "typeset", "local", "readonly"))
_PLAIN_CD = re.compile(r"cd\s+([\w./~+-]+)")
_PLAIN = re.compile(r"[^'\"`$()|<>{}\\#;&\n]*")  # one simple command with nothing for a shell to expand
_SECRET_VAR = re.compile(r"\$\{?[A-Z0-9_]*(SECRET|TOKEN|PASSW|API_?KEY|ACCESS_KEY|PRIVATE|CREDENTIAL)")


class Prepared(NamedTuple):
    """A call as the session state sees it, ready for the classifier.

    Attributes:
        call: the call with the session's variables, aliases and functions expanded.
        cwd: the session's working directory before the call (None: where the session started;
            relative: relative to that).
        extra: parts the state adds: (what, class, rule) — a written script's content, a data flow.
        flow: why secret data reaches the network in this call ("" when it does not).
    """

    call: Call
    cwd: str | None
    extra: tuple[tuple[str, str, str], ...] = ()
    flow: str = ""


@dataclass(slots=True)
class SessionState(FileEffects, GitEffects):
    """The state of one session (see the module docstring).

    Attributes:
        limits: the table sizes.
        lost: True for a session whose state was evicted earlier: nothing it wrote can be told apart.
    """

    limits: StateLimits = field(default_factory=StateLimits)
    lost: bool = False
    cwd: str | None = None
    prev_cwd: str | None = None
    dirs: list[str | None] = field(default_factory=list)
    vars: OrderedDict[str, str | None] = field(default_factory=OrderedDict)  # name -> value (None: unknown)
    secret_vars: set[str] = field(default_factory=set)
    names: OrderedDict[str, tuple[str, str]] = field(
        default_factory=OrderedDict
    )  # name -> (alias|function, text)
    files: OrderedDict[str, TrackedFile] = field(
        default_factory=OrderedDict
    )  # resolved path -> what was written
    secret_seen: bool = False
    secret_files: bool = False  # whether any file written in the session has held secret data
    git: OrderedDict[str, str] = field(default_factory=OrderedDict)  # git config key -> value set
    evicted: set[str] = field(default_factory=set)  # tables that have evicted: vars, names, files
    unclean: str = ""  # why project runs are no longer vouched for in this session ("" while clean)
    manifests: bool = False  # whether the session wrote a package manifest or lockfile
    unscanned: list[tuple[str, str]] = field(default_factory=list)  # (file, text) written, not yet read

    # -- the step ------------------------------------------------------------------------------------
    def step(self, call: Call, schedule: Schedule) -> Prepared:
        """Rewrite ``call`` as the shell would run it, add what the state knows, and apply its effects."""
        cwd = self.cwd
        command = call.arguments.get("command", call.arguments.get("cmd"))
        if isinstance(command, list) and all(isinstance(w, str) for w in command):
            command = shlex.join(command)
        if not isinstance(command, str) or call.tool.lower() not in _SHELL_TOOLS:
            self._tool_write(call)
            return Prepared(call, cwd)
        if len(command) > MAX_COMMAND_CHARS or not self._relevant(command):
            return Prepared(call, cwd)  # too big to read: the classifier fails closed on it
        extra: list[tuple[str, str, str]] = []
        flows: list[str] = []
        out: list[str] = []
        segs = segments(command)
        if len(segs) == 1 and segs[0].text == command.strip():
            segs = [Segment(command, segs[0].subshell)]  # the very text the classifier will split (cached)
        try:
            for seg in segs:
                out.append(self._segment(seg, schedule, extra, flows, seg.text is command))
        except RecursionError:
            unread = (command[:200], UNKNOWN, "nested too deep for the session state to read")
            return Prepared(call, cwd, (unread,))
        if "names" in self.evicted or self.lost:
            extra.append(
                (command[:200], UNKNOWN, "the alias/function table overflowed: a name may run anything")
            )
        rewritten = "".join(  # the list operators kept, so `case` arms and `&&` read as written
            o + (s.sep if s.sep in ("", "\n") else f" {s.sep}\n") for o, s in zip(out, segs, strict=True)
        )
        if all(o is s.text for o, s in zip(out, segs, strict=True)):
            rewritten = command
        new_call = (
            call
            if rewritten == command
            else Call(call.tool, {**call.arguments, "command": rewritten, "cmd": rewritten})
        )
        return Prepared(new_call, cwd, tuple(extra), "; ".join(flows))

    def unvouched(self) -> str:
        """Why the workspace rules vouch for nothing in this session any more ("" while they may)."""
        if self.unclean or (self.unscanned and self.scan_written()):
            return self.unclean
        if self.lost or "files" in self.evicted:
            return "the session's file table overflowed"
        if self.secret_seen or self.secret_files:
            return "the session read credentials"
        return ""

    def after(self, parts: tuple[tuple[str, str, str], ...]) -> str:
        """Note the call's classes; the reason a secret read earlier (or now) meets a network send."""
        if not self.secret_seen:
            self.secret_seen = any(c == "secret_read" for _, c, _ in parts)
        if self.secret_seen and any(c == "network_send" for _, c, _ in parts):
            return "a network send in a session that has read credentials"
        return ""

    def _relevant(self, command: str) -> bool:
        if self.names or self.lost or self.evicted or (self.vars and "$" in command):
            return True
        if self.files and self._runs_by_name(command):
            return True  # a written file run by its name (through PATH)
        if self.files:  # (both word tests in one pass)
            if state_or_file_word(command) or changes_state(command, words=False):
                return True
            if touches_files(command, words=False):
                return True
        elif changes_state(command):
            return True
        if (self.git or "config" in command) and runs_git(command):
            return True
        if (self.secret_vars or self.secret_files) and sends_network(command):
            return True
        # (a copy command word is a file command word: with files tracked, touches_files said no)
        return not self.files and copies_files(command) and pth.mentions_sensitive(command)

    def _runs_by_name(self, command: str) -> bool:
        first = command.split(None, 1)[0] if command.strip() else ""
        if "." not in first or "$" in first or first.startswith(("-", "/", "./", "~")):
            return False  # (paths and ./x are matched by touches_files; a PATH-found script has a name.ext)
        return first in self.files or (self.cwd is not None and posixpath.join(self.cwd, first) in self.files)

    # -- one list item -------------------------------------------------------------------------------
    def _segment(
        self,
        seg: Segment,
        schedule: Schedule,
        extra: list[tuple[str, str, str]],
        flows: list[str],
        checked: bool = False,
    ) -> str:
        """Apply one list item's effects; return it rewritten (``checked``: its text is the whole
        command, already found relevant in this state)."""
        text = strip_keywords(seg.text)
        cd = _PLAIN_CD.fullmatch(text)
        if cd is not None and not self.names:  # the commonest case, `cd /testbed`: no other effect
            if not seg.subshell:
                self._env("cd", ["cd", cd.group(1)], False)
            return seg.text
        if not (checked and text is seg.text) and not self._relevant(text):
            return seg.text
        func = _FUNC.match(text)
        if func:  # a function definition: its body is judged where it is defined and again where used
            if not seg.subshell:
                self._remember_name(func.group(1), "function", func.group(2).rstrip().rstrip(";"))
            return seg.text
        expanded = self._expand_names(expand_vars(text, self._var_value) if self.vars else text)
        if self.git:
            expanded = self._expand_git_aliases(expanded)
        text = expanded
        parts = [Part(text)] if _PLAIN.fullmatch(text) else split_parts(text)
        secret = any(  # heredoc bodies are data, not reads: only the commands' own words count
            (pth.mentions_sensitive(p.text) or (self.secret_vars and "$" in p.text) or self.secret_files)
            and self._reads_secret(words(p.text))
            for p in parts
        )
        for part in parts:
            self._simple(part.text, part.upstream, text, seg.subshell, secret, schedule, extra, flows)
        return text if text != strip_keywords(seg.text) else seg.text

    def _expand_names(self, text: str) -> str:
        if not self.names:
            return text
        pieces = re.split(r"(\|\|?|&&)", text)
        for k in range(0, len(pieces), 2):
            head = pieces[k].lstrip()
            name = head.split(None, 1)[0] if head else ""
            known = self.names.get(name)
            if known is not None:
                kind, body = known
                rest = head[len(name) :]
                pieces[k] = f" {body}{rest}" if kind == "alias" else f" {{ {body}; }}"
        return "".join(pieces)

    def _simple(
        self,
        simple: str,
        upstream: str | None,
        item: str,
        subshell: bool,
        secret: bool,
        schedule: Schedule,
        extra: list[tuple[str, str, str]],
        flows: list[str],
    ) -> None:
        raw = words(simple)
        ws = _strip_wrappers(raw)
        if ws:
            prog = ws[0].rsplit("/", 1)[-1]
            self._runs(prog, ws, simple, item, upstream, schedule, extra)
            if prog in _SEND_PROGS or "/dev/tcp/" in simple or "/dev/udp/" in simple:
                self._sends(simple, raw, upstream, flows, extra)
            if not subshell:
                self._env(prog, ws, secret)
            self._file_ops(prog, ws, secret)
            if prog == "git":
                self._git(ws, schedule, extra)
        elif not subshell:  # X=value only
            for w in raw:
                m = _ASSIGN.match(w)
                if m:
                    self._set_var(m.group(1), m.group(2), secret or _SECRET_VAR.search(simple) is not None)
        for op, target in redirects(simple):
            if op != "<":
                self._redirect(op, target, raw, ws, upstream, item, secret)
        if ws and ws[0].rsplit("/", 1)[-1] == "tee":
            op = ">>" if any(a in ("-a", "--append") for a in ws[1:]) else ">"
            for target in _operands(ws[1:]):
                self._redirect(op, target, raw, ws, upstream, item, secret)

    # -- effects -------------------------------------------------------------------------------------
    def _env(self, prog: str, ws: list[str], secret: bool) -> None:
        args = ws[1:]
        if prog in ("cd", "pushd"):
            target = next((a for a in args if not a.startswith("-") or a == "-"), "~")
            new = self.prev_cwd if target == "-" else self._resolve_dir(target)
            if prog == "pushd":
                self.dirs = [*self.dirs, self.cwd][-self.limits.max_dirs :]
            self.prev_cwd, self.cwd = self.cwd, new
        elif prog == "popd" and self.dirs:
            self.prev_cwd, self.cwd = self.cwd, self.dirs.pop()
        elif prog in _DECLARE:
            for a in args:
                m = _ASSIGN.match(a)
                if m:
                    self._set_var(m.group(1), m.group(2), secret or bool(_SECRET_VAR.search(a)))
        elif prog == "unset":
            for a in args:
                self.vars.pop(a, None)
                self.secret_vars.discard(a)
        elif prog == "alias":
            for a in args:
                name, eq, body = a.partition("=")
                if eq:
                    self._remember_name(name, "alias", body)
        elif prog == "unalias":
            for a in args:
                self.names.pop(a, None)
        elif prog == "read":
            for a in args:
                if not a.startswith("-"):
                    self._set_var(a, None, False)

    def _set_var(self, name: str, value: str | None, secret: bool) -> None:
        if value is not None:
            value = value.strip("'\"") if value[:1] in "'\"" else value
            if SUBST in value or "`" in value or "$(" in value:
                value = None
        self.vars[name] = value
        self.vars.move_to_end(name)
        if secret:
            self.secret_vars.add(name)
        else:
            self.secret_vars.discard(name)
        while len(self.vars) > self.limits.max_vars:
            old, _ = self.vars.popitem(last=False)
            self.secret_vars.discard(old)
            self.evicted.add("vars")

    def _remember_name(self, name: str, kind: str, text: str) -> None:
        self.names[name] = (kind, text.strip("'\""))
        self.names.move_to_end(name)
        while len(self.names) > self.limits.max_names:
            self.names.popitem(last=False)
            self.evicted.add("names")

    # -- what a part runs or sends ---------------------------------------------------------------------
    def _sends(
        self,
        simple: str,
        raw: list[str],
        upstream: str | None,
        flows: list[str],
        extra: list[tuple[str, str, str]],
    ) -> None:
        used = {m.group(1) or m.group(2) for m in re.finditer(r"\$\{(\w+)\}|\$(\w+)", simple)}
        tainted = sorted(used & self.secret_vars)
        if tainted:
            flows.append(f"sends ${tainted[0]}, which holds a credential read in this session")
        feed = [*raw, *(words(upstream) if upstream else [])]
        for w in feed:
            key = self._key(re.sub(r"^[\w-]*=?@|^<", "", w))
            f = self.files.get(key) if key else None
            if f is not None and f.secret:
                flows.append(f"sends {w}, which holds a credential copied in this session")
                break
        if "vars" in self.evicted and used - set(self.vars):
            extra.append(
                (simple[:200], UNKNOWN, "network command uses a variable the state no longer tracks")
            )

    def _reads_secret(self, ws: list[str]) -> bool:
        for w in ws:
            if (
                self.secret_vars
                and "$" in w
                and any(
                    (m.group(1) or m.group(2)) in self.secret_vars
                    for m in re.finditer(r"\$\{(\w+)\}|\$(\w+)", w)
                )
            ):
                return True
            bare = re.sub(r"^[\w-]*=?@|^<", "", w)
            if pth.mentions_sensitive(bare):
                n = pth.normalise(bare)
                if n is not None and pth.path_kind(n) == "secret":
                    return True
            key = self._key(bare) if self.secret_files else None
            f = self.files.get(key) if key else None
            if f is not None and f.secret:
                return True
        return False

    # -- paths and variables ---------------------------------------------------------------------------
    def _var_value(self, name: str) -> str | None:
        if "IFS" in self.vars:
            return None  # word splitting changed: an expansion's words cannot be read off the text
        value = self.vars.get(name)
        if value is None or any(c in value for c in "'\"\\$`\n"):
            return None
        return value

    def _key(self, path: str) -> str | None:
        """The file ``path`` names, resolved against the session's directory (None: hidden by a variable)."""
        if not path or SUBST in path:
            return None
        n = pth.normalise(path)
        if n is None:
            return None
        if not n.startswith("/") and self.cwd is not None:
            n = posixpath.normpath(posixpath.join(self.cwd, n))
        return posixpath.normpath(n)

    def _resolve_dir(self, target: str) -> str | None:
        key = self._key(target)
        return key if key not in (".", None) else (None if key == "." and self.cwd is None else key)
