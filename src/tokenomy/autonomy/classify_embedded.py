"""Commands run from inside other programs: code that "read" tools, editors and transports execute.

A program that looks like a read can run anything: ``awk 'BEGIN{system("rm -rf /")}'``, GNU ``sed``'s
``e`` command and ``s///e`` flag (and ``w FILE`` writes), ``find -exec``/``-delete``, ``perl -e`` /
``python -c`` code that calls ``system``, ``vim -c '!…'``, ``less +'!…'``, ``git -c core.pager=…``,
``tar --to-command=…``, ``rsync -e …``, ``ssh host CMD``. Each function here extracts the embedded
command where it can be read off the text and classifies it with the ``run`` callback (the shell
classifier); where it cannot (a command computed at run time: ``awk '{system($0)}'``, a bare sed
``e``), the part is ``"unknown"`` so the schedule's ``unknown_level`` applies. Inline interpreter
code is ``execute`` at least. Nothing here ever returns ``read`` for code that runs a command.
A command run on another host (``ssh``, ``kubectl exec``, ``rsync --rsync-path``) is mapped by
:func:`remote`: local writes and runs become ``deploy``, local deletes ``delete_remote``.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable

from tokenomy.autonomy.classify_rules import SEVERITY
from tokenomy.autonomy.classify_rules import UNKNOWN_CLASS as UNKNOWN
from tokenomy.autonomy.shell import SHELLS

__all__ = [
    "COMMAND_ENV_VARS",
    "STRING_RE",
    "Run",
    "awk_class",
    "find_class",
    "find_roots",
    "remote",
    "rsync_class",
    "sed_class",
    "ssh_class",
    "string_literals",
    "worst",
    "write_class",
]

Run = Callable[[str], tuple[str, str]]
"""Classify a shell text (the most severe of its parts): (class, rule)."""

_ENV_VARS = (
    "PAGER GIT_PAGER MANPAGER GIT_SSH_COMMAND GIT_EDITOR EDITOR VISUAL LESSOPEN LESSCLOSE "
    "GIT_EXTERNAL_DIFF GIT_ASKPASS SSH_ASKPASS PROMPT_COMMAND BASH_ENV GIT_SEQUENCE_EDITOR"
)
COMMAND_ENV_VARS = frozenset(_ENV_VARS.split())
"""Environment variables whose value another program runs as a command."""

_REMOTE = {"draft": "deploy", "execute": "deploy", "install": "deploy", "delete_local": "delete_remote"}
STRING_RE = r"""(?:"((?:\\.|[^"\\])*)"|'((?:\\.|[^'\\])*)')"""


def worst(items: list[tuple[str, str]]) -> tuple[str, str]:
    """The most severe (class, rule) by :data:`SEVERITY` (unknown classes rank above all)."""
    return max(items, key=lambda cr: SEVERITY.index(cr[0]) if cr[0] in SEVERITY else len(SEVERITY))


def remote(item: tuple[str, str], where: str) -> tuple[str, str]:
    """The class of a command run on another host (a local write there is a deploy)."""
    cls, rule = item
    return _REMOTE.get(cls, cls), f"{rule} on {where}"


def write_class(path: str, run: Run, who: str) -> tuple[str, str]:
    """A program writes ``path``: classified like a shell redirect to it (system path: destroy)."""
    if path in ("/dev/stdout", "/dev/stderr", "/dev/null", "-"):
        return "read", who
    cls, rule = run(f"true > {shlex.quote(path)}")
    return cls, f"{who} writes {path} ({rule})"


def string_literals(text: str) -> list[str]:
    return [a if a or not b else b for a, b in re.findall(STRING_RE, text)]


# ---- ssh and remote transports -------------------------------------------------------------------

_SSH_VALUE = set("bcDEeFIiJLlmOopQRSWwB")
_SSH_CMD_OPT = re.compile(r"(?i)^(proxycommand|localcommand|knownhostscommand)\s*[= ]\s*(.+)$")


def _ssh_options(args: list[str], run: Run) -> tuple[int, list[tuple[str, str]]]:
    """Index of the host word and the classes of commands given by ``-o ProxyCommand=…``."""
    found: list[tuple[str, str]] = []
    i = 0
    while i < len(args) and args[i].startswith("-"):
        a = args[i]
        i += 1
        if a == "--":
            break
        for k, ch in enumerate(a[1:]):
            if ch in _SSH_VALUE:
                val = a[k + 2 :]
                if not val and i < len(args):
                    val, i = args[i], i + 1
                m = _SSH_CMD_OPT.match(val) if ch == "o" else None
                if m:
                    found.append(run(m.group(2)))
                break
    return i, found


def ssh_class(args: list[str], run: Run) -> tuple[str, str]:
    """``ssh [opts] host [cmd…]``: the remote command mapped by :func:`remote`; no command: unknown."""
    i, found = _ssh_options(args, run)
    if i >= len(args):
        return worst([*found, (UNKNOWN, "ssh without a host")])
    host, cmd = args[i], args[i + 1 :]
    if not cmd:
        return worst([*found, (UNKNOWN, f"interactive remote shell on {host}")])
    return worst([*found, remote(run(" ".join(cmd)), host)])


def rsync_class(prog: str, args: list[str], run: Run) -> tuple[str, str]:
    """scp/rsync: to host:path deploys (rsync --delete there: delete_remote); local copies draft."""
    found: list[tuple[str, str]] = []
    operands: list[str] = []
    i = 0
    while i < len(args):
        a = args[i]
        i += 1
        for opt in ("-e", "--rsh", "--rsync-path"):
            if a == opt or a.startswith(opt + "=") or (opt == "-e" and a.startswith("-e") and len(a) > 2):
                val = a.split("=", 1)[1] if "=" in a else (a[2:] if a != opt else "")
                if not val and i < len(args):
                    val, i = args[i], i + 1
                words = val.split()
                if opt == "--rsync-path":
                    found.append(remote(run(val), "the remote host"))
                elif words and words[0].rsplit("/", 1)[-1] in ("ssh", "rsh"):
                    found += _ssh_options(words[1:], run)[1]  # the usual transport; only its -o commands
                else:
                    found.append(run(val))
                break
        else:
            if not a.startswith("-"):
                operands.append(a)
    to_remote = any(re.match(r"^([\w.-]+@)?[\w.-]+:", a) for a in operands[1:]) or any(
        a.startswith("rsync://") for a in operands[1:]
    )
    if prog == "rsync" and to_remote and any(a.startswith(("--delete", "--remove-source")) for a in args):
        found.append(("delete_remote", "rsync --delete to a remote host"))
    found.append(("deploy", f"{prog} to a remote host") if to_remote else ("draft", f"{prog} local copy"))
    return worst(found)


# ---- awk and sed -----------------------------------------------------------------------------------


def _strip_code(text: str) -> str:
    """Program text with string and /regex/ literal contents blanked, same length (| and > inert)."""
    out = list(text)
    i, n, prev = 0, len(text), ""
    while i < n:
        ch = text[i]
        if ch == '"' or (ch == "/" and prev in ("", "(", ",", "!", "~", "{", ";", "&", "|", "\n")):
            end = '"' if ch == '"' else "/"
            j = i + 1
            while j < n and text[j] != end and not (end == "/" and text[j] == "\n"):
                j += 2 if text[j] == "\\" else 1
            for k in range(i + 1, min(j, n)):
                out[k] = " "
            i, prev = j + 1, end
            continue
        if not ch.isspace():
            prev = ch
        i += 1
    return "".join(out)


def _awk_program(args: list[str]) -> tuple[str | None, bool, bool]:
    """(program text, program from a file, in-place edit) of an awk command line."""
    i, text, from_file, inplace = 0, None, False, False
    while i < len(args):
        a = args[i]
        if a in ("-f", "--file") or a.startswith("--file="):
            from_file, i = True, i + (1 if "=" in a else 2)
        elif a in ("-e", "--source") or a.startswith("--source="):
            text = a.split("=", 1)[1] if "=" in a else (args[i + 1] if i + 1 < len(args) else "")
            i += 1 if "=" in a else 2
        elif a in ("-i", "--include") and args[i + 1 : i + 2] == ["inplace"]:
            inplace, i = True, i + 2
        elif a in ("-F", "-v", "-i", "-l", "--include", "--load", "--assign", "--field-separator"):
            i += 2
        elif a == "--":
            text = text if text is not None or from_file else (args[i + 1] if i + 1 < len(args) else "")
            break
        elif a.startswith("-") and a != "-":
            i += 1
        else:
            text = text if text is not None or from_file else a
            break
    return text, from_file, inplace


def awk_class(args: list[str], run: Run) -> tuple[str, str]:
    """awk: ``system("…")`` and ``| "…"`` / ``"…" | getline`` commands classified; ``> "file"`` draft."""
    text, from_file, inplace = _awk_program(args)
    found: list[tuple[str, str]] = [("read", "awk")]
    if from_file:
        found.append(("execute", "awk program from a file"))
    if inplace:
        found.append(("draft", "awk -i inplace"))
    if not text:
        return worst(found)
    for m in re.finditer(r"\bsystem\s*\(", text):
        lit = re.match(r"\s*" + STRING_RE + r"\s*\)", text[m.end() :])
        if lit:
            found.append(run(lit.group(1) if lit.group(1) is not None else lit.group(2)))
        else:
            found.append((UNKNOWN, "awk system() of a command computed at run time"))
            head = re.match(r"\s*" + STRING_RE, text[m.end() :])
            if head:
                found.append(run(head.group(1) or head.group(2) or ""))
    code = _strip_code(text)
    for m in re.finditer(r"(?<!\|)\|&?(?!\|)", code):
        after = code[m.end() :].lstrip()
        if after.startswith("getline"):
            lit = re.search(STRING_RE + r"\s*$", text[: m.start()])
            found.append(run(lit.group(1) or lit.group(2) or "") if lit else (UNKNOWN, "awk cmd | getline"))
        else:
            lit = re.match(r"\s*" + STRING_RE, text[m.end() :])
            cmd = (lit.group(1) or lit.group(2) or "") if lit else ""
            if cmd.split()[:1] and cmd.split()[0].rsplit("/", 1)[-1] in SHELLS:
                found.append((UNKNOWN, "awk pipes its output into a shell (commands not visible)"))
            found.append(run(cmd) if lit else (UNKNOWN, "awk print | cmd"))
    for m in re.finditer(r"\bprintf?\b[^;{}]*?>>?\s*" + STRING_RE, text):
        found.append(write_class(m.group(1) if m.group(1) is not None else m.group(2) or "", run, "awk"))
    return worst(found)


def _delimited(s: str, i: int, d: str) -> int:
    """Index just past the delimiter ``d`` that ends the field starting at ``i`` (escapes honoured)."""
    while i < len(s) and s[i] != d:
        i += 2 if s[i] == "\\" else 1
    return i + 1


def _to_eol(s: str, i: int) -> tuple[str, int]:
    j = s.find("\n", i)
    j = len(s) if j < 0 else j
    return s[i:j].strip(), j + 1


def _sed_script(s: str) -> list[tuple[str, str]]:
    """The ``e`` commands (text, "" = pattern space) and ``w`` files of a sed script: [(kind, arg)]."""
    out: list[tuple[str, str]] = []
    i, n = 0, len(s)
    while i < n:
        c = s[i]
        if c in " \t\n;{}!,$~+0123456789":
            i += 1
        elif c == "/":
            i = _delimited(s, i + 1, "/")
        elif c == "\\" and i + 1 < n:
            i = _delimited(s, i + 2, s[i + 1])
        elif c in "#:btTv":
            i = n if c == "#" and s.find("\n", i) < 0 else i + 1
            while i < n and s[i] not in ";\n" and c != "#":
                i += 1
            if c == "#":
                i = _to_eol(s, i)[1]
        elif c in "sy" and i + 1 < n:
            d = s[i + 1]
            j = _delimited(s, i + 2, d)
            k = _delimited(s, j, d)
            repl = s[j : k - 1].replace("\\" + d, d)
            i = k
            while c == "s" and i < n and s[i] in "gpiImMe0123456789w":
                if s[i] == "e":
                    out.append(("s_e", repl))
                if s[i] == "w":
                    name, i = _to_eol(s, i + 1)
                    out.append(("w", name))
                    break
                i += 1
        elif c in "ewWrRaic":
            arg, i = _to_eol(s, i + 1)
            while c in "aic" and s[:i].rstrip("\n").endswith("\\") and i < n:
                _, i = _to_eol(s, i)  # a\ text lines continue while they end in a backslash
            if c == "e":
                out.append(("e", arg))
            elif c in "wW":
                out.append(("w", arg))
        else:
            i += 1
    return out


def sed_class(args: list[str], run: Run) -> tuple[str, str]:
    """sed: ``e CMD`` / ``s///e`` run commands, ``w FILE`` writes; ``-i`` edits in place (draft)."""
    scripts, from_file, inplace, sandbox, operands = [], False, False, False, []
    i = 0
    while i < len(args):
        a = args[i]
        i += 1
        if a in ("-e", "--expression") or a.startswith("--expression="):
            scripts.append(a.split("=", 1)[1] if "=" in a else (args[i] if i < len(args) else ""))
            i += 0 if "=" in a else 1
        elif a in ("-f", "--file") or a.startswith("--file="):
            from_file, i = True, i + (0 if "=" in a else 1)
        elif a.startswith(("-i", "--in-place")) or (
            a.startswith("-") and not a.startswith("--") and "i" in a
        ):
            inplace = True
        elif a == "--sandbox":
            sandbox = True
        elif a in ("-l", "--line-length"):
            i += 1
        elif not a.startswith("-") or a == "-":
            operands.append(a)
    if not scripts and not from_file and operands:
        scripts.append(operands[0])
    found: list[tuple[str, str]] = [("draft", "sed -i") if inplace else ("read", "sed")]
    if from_file:
        found.append(("execute", "sed script from a file"))
    for kind, arg in (x for s in scripts for x in _sed_script(s)) if not sandbox else ():
        if kind == "w":
            found.append(write_class(arg, run, "sed w"))
        elif kind == "e" and arg:
            found.append(run(arg))
        else:
            found.append((UNKNOWN, "sed executes the pattern space as a command"))
            if arg and not re.search(r"\\[0-9]|&", arg):
                found.append(run(arg))
    return worst(found)


# ---- find ------------------------------------------------------------------------------------------


def find_roots(args: list[str]) -> list[str]:
    """The starting points of ``find <args>`` (default ``.``)."""
    i = 0
    while i < len(args) and (args[i] in ("-H", "-L", "-P", "-D") or args[i].startswith("-O")):
        i += 2 if args[i] == "-D" else 1
    roots = []
    while i < len(args) and not args[i].startswith(("-", "(", "!", "\\(")):
        roots.append(args[i])
        i += 1
    return roots or ["."]


def find_class(args: list[str], run: Run) -> tuple[str, str]:
    """find: ``-delete`` and ``-exec`` run on the roots (``{}`` stands for them); ``-fprint`` writes."""
    roots = find_roots(args)
    found: list[tuple[str, str]] = [("read", "find")]
    i = 0
    while i < len(args):
        a = args[i]
        i += 1
        if a == "-delete":
            cls, _ = run("rm -r " + " ".join(shlex.quote(r) for r in roots))
            found.append((cls, f"find -delete under {roots}"))
        elif a in ("-exec", "-execdir", "-ok", "-okdir"):
            j = i
            while j < len(args) and args[j] not in (";", "\\;", "+"):
                j += 1
            words = args[i:j]
            i = j + 1
            for root in roots:
                cmd = " ".join(shlex.quote(w.replace("{}", root)) for w in words)
                cls, rule = run(cmd)
                found.append((cls, f"find {a} {rule}"))
        elif a in ("-fprint", "-fprint0", "-fprintf", "-fls") and i < len(args):
            found.append(write_class(args[i], run, f"find {a}"))
            i += 1
    return worst(found)
