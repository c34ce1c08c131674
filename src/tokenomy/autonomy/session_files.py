"""The files a session wrote, and what running them runs: the file half of the gate's session state.

:class:`FileEffects` is mixed into :class:`tokenomy.autonomy.session_state.SessionState`: it records
what a command or a tool call writes into a file (an ``echo``/``printf``/heredoc/``tee`` text, a
``Write``/``Edit`` tool's content; ``cp``/``mv``/``ln`` carry it along, ``rm`` forgets it) and whether the
content is visible (a file written by a program — ``curl -o``, ``wget``, ``dd``, ``sed -i``, code that
names it — has ``unknown`` content), and judges a run of such a file (``bash f``, ``./f``, ``source f``,
``python f``, ``bash < f``, code fed to an interpreter on stdin) by its content. Bounded by
:class:`StateLimits`; reads text only, opens no file.
"""

from __future__ import annotations

import posixpath
import re
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tokenomy.autonomy.classify import _run_text, _strip_wrappers, classify_shell
from tokenomy.autonomy.classify_inline import inline_code_class
from tokenomy.autonomy.classify_workspace import ENTRY_POINTS, MANIFESTS, risky_text
from tokenomy.autonomy.schedule import UNKNOWN, Schedule
from tokenomy.autonomy.session_scan import terminator as _terminator
from tokenomy.autonomy.shell import REDIRECT_WORD, SHELLS, SUBST, redirects, words
from tokenomy.autonomy.verdict import Call

__all__ = ["FileEffects", "StateLimits", "TrackedFile"]

_INTERPRETERS = {"python": "-c", "python3": "-c", "python2": "-c", "node": "-e", "perl": "-e", "ruby": "-e"}
_WRITE_TOOLS = frozenset(
    (
        "write",
        "write_file",
        "create_file",
        "edit",
        "multiedit",
        "str_replace_editor",
        "notebookedit",
        "str_replace_based_edit_tool",
        "edit_file",
        "replace_in_file",
        "insert_text",
        "apply_edit",
    )
)
_SCAN_CHARS = 16_384
"""Written content longer than this is not read for the workspace rules (the session is unclean)."""
_PATH_ARGS = ("file_path", "path", "filename", "file", "notebook_path", "target_file")
_TEXT_ARGS = ("content", "file_text", "contents", "text", "new_string", "new_str", "new_source", "code")


@dataclass(frozen=True, slots=True)
class StateLimits:
    """How much one session's state may hold (oldest evicted first; then the state fails closed).

    Attributes:
        max_vars: shell variables remembered.
        max_names: aliases and functions remembered (together).
        max_files: files whose written content is remembered.
        max_file_chars: characters of written content kept per file (more: the content is unknown).
        max_dirs: ``pushd`` stack depth.
    """

    max_vars: int = 512
    max_names: int = 256
    max_files: int = 1024
    max_file_chars: int = 65_536
    max_dirs: int = 64


@dataclass(slots=True)
class TrackedFile:
    text: str = (
        ""  # the content the session is known to have written (pre-existing content is not the agent's)
    )
    unknown: bool = False  # some content came from a program whose output the gate cannot see
    secret: bool = False  # holds data read from a credential
    judged: dict[str | None, tuple[tuple[str, str, str], ...]] = field(default_factory=dict)  # cwd -> parts


class FileEffects:
    """File tracking for :class:`~tokenomy.autonomy.session_state.SessionState` (a mixin: no state of its own)."""

    files: OrderedDict[str, TrackedFile]  # resolved path -> what the session wrote into it
    limits: StateLimits
    cwd: str | None
    lost: bool
    evicted: set[str]
    secret_files: bool
    unclean: str
    manifests: bool
    unscanned: list[tuple[str, str]]

    def scan_written(self) -> str:
        """Read what the session wrote since the last scan for risky capabilities; the reason the
        session is unclean ("" while it is clean)."""
        for key, text in self.unscanned:
            token = "" if self.unclean else risky_text(text)
            if token:
                self.unclean = f"wrote {key} (holds {token!r})"
        self.unscanned.clear()
        return self.unclean

    def _key(self, path: str) -> str | None:
        raise NotImplementedError

    def _reads_secret(self, ws: list[str]) -> bool:
        raise NotImplementedError

    def _file_ops(self, prog: str, ws: list[str], secret: bool) -> None:
        ops = _operands(ws[1:])
        if prog in ("cp", "mv", "install", "ln") and len(ops) >= 2:
            dst = self._key(ops[-1])
            for src in ops[:-1]:
                key = self._key(src)
                known = self.files.get(key) if key else None
                if prog == "mv" and key:
                    self.files.pop(key, None)
                src_secret = self._reads_secret([src])
                if dst is None:
                    continue
                target = dst + "/" + posixpath.basename(key or src) if ops[-1].endswith("/") else dst
                if src.startswith(("/dev/", "/proc/")) or src == "-":
                    self._put(target, TrackedFile("", True, src_secret))  # a stream: content not visible
                elif known is not None or src_secret:
                    base = known or TrackedFile()
                    self._put(target, TrackedFile(base.text, base.unknown, base.secret or src_secret))
                else:
                    self.files.pop(target, None)
        elif prog in ("rm", "unlink"):
            for a in ops:
                key = self._key(a)
                if key:
                    self.files.pop(key, None)
        elif prog in ("sed", "perl") and any(re.match(r"-[a-zA-Z]*i", a) for a in ws[1:]):
            # the text an in-place edit inserts is in its script: kept as written content (a script
            # read from a file, -f, is not visible: the file's content becomes unknown)
            scripts = [
                ws[i + 1] for i, a in enumerate(ws[:-1]) if re.fullmatch(r"-[a-zA-Z]*e|--expression", a)
            ]
            hidden = any(re.fullmatch(r"-[a-zA-Z]*f|--file", a) for a in ws[1:])
            targets = ops[1:] if not scripts and not hidden and ops else ops
            if not scripts and not hidden and ops:
                scripts = [ops[0]]
            for a in targets:
                key = self._key(a)
                known = self.files.get(key) if key else None
                if key is not None and known is not None:
                    inserted = [t for sc in scripts for t in _inserted_text(sc)]
                    text = "\n".join([known.text, *scripts, *inserted]).strip("\n")
                    self._put(key, TrackedFile(text, known.unknown or hidden, known.secret))
        elif (prog == "curl" and "-o" in ws) or (prog == "wget" and "-O" in ws):
            flag = "-o" if prog == "curl" else "-O"
            i = ws.index(flag)
            key = self._key(ws[i + 1]) if i + 1 < len(ws) else None
            if key:
                self._put(key, TrackedFile("", True, secret))
        elif prog in ("wget", "curl") and (prog == "wget" or "-O" in ws or "--remote-name" in ws):
            for url in (a for a in ops if "://" in a):  # saved under the URL's last segment
                key = self._key(posixpath.basename(url.split("?")[0]) or "index.html")
                if key:
                    self._put(key, TrackedFile("", True, secret))
        elif prog == "dd":
            for a in ws[1:]:
                key = self._key(a[3:]) if a.startswith("of=") else None
                if key:
                    self._put(key, TrackedFile("", True, secret))

    def _redirect(
        self,
        op: str,
        target: str,
        raw: list[str],
        ws: list[str],
        upstream: str | None,
        item: str,
        secret: bool,
    ) -> None:
        key = self._key(target)
        if key is None:
            return
        prog = ws[0].rsplit("/", 1)[-1] if ws else ""
        content: str | None = None
        if prog in ("echo", "printf") and SUBST not in " ".join(ws):
            content = " ".join(_operands(ws[1:]))
        elif prog in ("cat", "tee") and "<<" in item:
            content = _heredoc_body(item)
        elif prog == "tee" and upstream is not None:
            up = _strip_wrappers(words(upstream))
            if up[:1] in (["echo"], ["printf"]) and SUBST not in upstream:
                content = " ".join(a for a in up[1:] if not a.startswith("-"))
        old = self.files.get(key) if op == ">>" else None
        base = old or TrackedFile()
        if content is None:
            self._put(key, TrackedFile(base.text, True, base.secret or secret))
        else:
            self._put(
                key,
                TrackedFile((base.text + "\n" + content).strip("\n"), base.unknown, base.secret or secret),
            )

    def _tool_write(self, call: Call) -> None:
        if call.tool.lower() not in _WRITE_TOOLS:
            return
        args: Mapping[str, Any] = call.arguments
        path = next((args[k] for k in _PATH_ARGS if isinstance(args.get(k), str)), None)
        key = self._key(path) if path else None
        if key is None:
            return
        texts = [args[k] for k in _TEXT_ARGS if isinstance(args.get(k), str)]
        edits = args.get("edits")
        if isinstance(edits, list):
            texts += [e.get("new_string", "") for e in edits if isinstance(e, Mapping)]
        creates = (
            call.tool.lower() in ("write", "write_file", "create_file") or args.get("command") == "create"
        )
        base = TrackedFile() if creates else self.files.get(key, TrackedFile())
        text = "\n".join(str(t) for t in texts)
        self._put(key, TrackedFile((base.text + "\n" + text).strip("\n"), base.unknown, base.secret))

    def _put(self, key: str, f: TrackedFile) -> None:
        self.secret_files = self.secret_files or f.secret
        if not self.unclean:  # (the workspace rules vouch only while nothing written is risky or unseen)
            entry = ENTRY_POINTS.match(posixpath.basename(key)) is not None
            if f.unknown or f.secret or len(f.text) > _SCAN_CHARS or entry:
                why = "content not visible" if f.unknown else ("credential data" if f.secret else "too long")
                self.unclean = f"wrote {key} ({'a file runners execute' if entry else why})"
            elif f.text:
                self.unscanned.append((key, f.text))  # read when a vouch is asked for (scan_written)
                if len(self.unscanned) > 64:
                    self.scan_written()
        self.manifests = self.manifests or MANIFESTS.match(posixpath.basename(key)) is not None
        if len(f.text) > self.limits.max_file_chars:
            f = TrackedFile("", True, f.secret)
        self.files[key] = f
        self.files.move_to_end(key)
        while len(self.files) > self.limits.max_files:
            self.files.popitem(last=False)
            self.evicted.add("files")

    def _runs(
        self,
        prog: str,
        ws: list[str],
        simple: str,
        item: str,
        upstream: str | None,
        schedule: Schedule,
        extra: list[tuple[str, str, str]],
    ) -> None:
        """Add the parts of what this command runs: a written file's content, or code fed on stdin."""
        stdin = next((t for op, t in redirects(simple) if op == "<"), None) if "<" in simple else None
        operands = [a for a in _operands(ws[1:]) if a != stdin]
        if prog in SHELLS or prog in ("source", "."):
            if any(re.fullmatch(r"-[a-zA-Z]*c[a-zA-Z]*", a) for a in ws[1:]):
                return
            flag = ""
        elif prog in _INTERPRETERS or prog.startswith("python"):
            flag = _INTERPRETERS.get(prog, "-c")
            code = next((ws[i + 1] for i, a in enumerate(ws[:-1]) if a in (flag, "-e", "-E")), None)
            if code is not None:
                self._mark_named_files(code)
                return
            if "-m" in ws[1:]:
                return
            if (not operands or operands[0] == "-") and stdin is None:
                fed = _heredoc_body(item) if "<<" in item else _echoed(upstream)
                if fed:  # code on stdin: a heredoc or an echoed literal
                    self._mark_named_files(fed)
                    extra.extend(
                        (p, c, f"{prog} runs code fed on stdin: {r}")
                        for p, c, r in self._judge_content(prog, flag, fed, schedule)
                    )
                return
        elif "/" in ws[0] or (self.files and self._key(ws[0]) in self.files):
            operands, flag = [ws[0]], ""
        else:
            return
        script = stdin if stdin is not None and not operands else (operands[0] if operands else None)
        if script is None:
            return
        key = self._key(script)
        tracked = bool(self.files) or self.lost or "files" in self.evicted
        if key is None:
            if tracked:
                extra.append((script, UNKNOWN, f"runs {script}, a path computed at run time"))
            return
        found = self._lookup(key)
        if not found:
            if self.lost or "files" in self.evicted:
                extra.append((script, UNKNOWN, "runs a file the session may have written (state overflowed)"))
            return
        for known in found:
            if known.unknown:
                extra.append(
                    (script, UNKNOWN, f"runs {script}, written by a program whose output is not visible")
                )
            if known.text.strip():
                parts = known.judged.get(self.cwd)
                if parts is None:
                    parts = self._judge_content(prog if flag else "", flag, known.text, schedule)
                    known.judged.clear()  # one working directory remembered per file
                    known.judged[self.cwd] = parts
                    if flag:
                        self._mark_named_files(known.text)
                extra.extend((p, c, f"runs {script} written in this session: {r}") for p, c, r in parts)

    def _lookup(self, key: str) -> list[TrackedFile]:
        """The tracked files ``key`` may be: itself, or (where the start folder is unknown, so a relative
        and an absolute name may be one file) every tracked file with its name."""
        f = self.files.get(key)
        if f is not None:
            return [f]
        base = posixpath.basename(key)
        return [
            v
            for k, v in self.files.items()
            if posixpath.basename(k) == base and (k.startswith("/") != key.startswith("/"))
        ]

    def _mark_named_files(self, code: str) -> None:
        """Files whose names appear as string literals in code that runs may be written by it: unknown."""
        for m in _PATH_LITERAL.finditer(code):
            key = self._key(m.group(2))
            if key is not None:
                old = self.files.get(key, TrackedFile())
                self._put(key, TrackedFile(old.text, True, old.secret))

    def _judge_content(
        self, prog: str, flag: str, text: str, schedule: Schedule
    ) -> tuple[tuple[str, str, str], ...]:
        if not flag:
            return classify_shell(text, schedule, cwd=self.cwd).parts
        found = inline_code_class(prog, [flag, text], _run_text) or ("execute", f"{prog} script")
        return ((f"{prog} {text[:120]}", *found),)


def _operands(args: list[str]) -> list[str]:
    """``echo``'s words without its flags and redirections (``> file`` or ``>file``)."""
    out: list[str] = []
    skip = False
    for a in args:
        if skip:
            skip = False
        elif a in ("<<<", "<<", "<<-"):
            skip = True  # a here-string or heredoc operator and its word
        elif a.startswith("<<"):
            continue  # <<EOF, <<<word: one word
        elif REDIRECT_WORD.match(a):
            skip = not re.search(r"&\d+$", a)
        elif not a.startswith("-") and not _REDIR_ATTACHED.match(a):
            out.append(a)
    return out


_REDIR_ATTACHED = re.compile(r"^\d*(>>?|<|&>)\S+$")


_PATH_LITERAL = re.compile(
    r"""(['"])([\w.~/-]*\w\.(?:sh|bash|py|pl|rb|js|mjs|php|zsh|ps1)|[\w.~-]*/[\w./~-]+)\1"""
)


def _inserted_text(script: str) -> list[str]:
    """The text a sed/perl edit script puts into a file: each ``s`` replacement, each ``a``/``i``/``c`` text."""
    out: list[str] = []
    for piece in re.split(r"[;\n]", script):
        piece = piece.strip()
        m = re.match(r"^[\d,$/^.*\\]*\s*([aic])\\?\s*(.*)$", piece)
        if piece[:1] == "s" and len(piece) > 2:
            fields = piece[2:].split(piece[1])
            if len(fields) >= 2:
                out.append(fields[1])
        elif m is not None and m.group(2):
            out.append(m.group(2))
    return out


def _echoed(upstream: str | None) -> str:
    """The literal an ``echo``/``printf`` upstream feeds into a pipe ("" for anything else)."""
    if upstream is None or SUBST in upstream:
        return ""
    up = _strip_wrappers(words(upstream))
    return " ".join(_operands(up[1:])) if up[:1] in (["echo"], ["printf"]) else ""


_HEREDOC_TAG = re.compile(r"<<-?\s*(['\"]?)([A-Za-z_]\w*)\1")


def _heredoc_body(item: str) -> str:
    """The lines after the first line up to the first line that is the first line's heredoc tag
    (blanks around it allowed), or to the end."""
    first = item.find("\n")
    m = _HEREDOC_TAG.search(item, 0, first if first >= 0 else len(item))
    if m is None or first < 0:
        return ""
    end = _terminator(m.group(2)).search(item, first + 1)
    if end is None:
        return item[first + 1 :]
    return item[first + 1 : end.start() - 1] if end.start() > first + 1 else ""
