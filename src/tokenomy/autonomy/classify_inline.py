"""Inline interpreter code, editors and pagers, tar and git config: the commands they are told to run.

The second half of :mod:`tokenomy.autonomy.classify_embedded` (same contract: each function takes
the program's arguments and a ``run`` callback that classifies a shell text). ``perl -e`` /
``python -c`` / ``node -e`` code is ``execute`` at least, and a string literal it passes to
``system``/``exec``/``popen``/``subprocess`` (or a ``rmtree``/``unlink`` path) is classified as a
command; ``vim -c '!…'``, ``less +!…``, ``man -P …`` run shell commands; ``tar --to-command``,
``-I``, ``--checkpoint-action=exec=`` run commands; ``git -c core.pager=…``, ``alias.x=!…`` and the
other command-valued git settings do too. A command that cannot be read off the text is ``"unknown"``.
"""

from __future__ import annotations

import re
import shlex

from tokenomy.autonomy.classify_embedded import STRING_RE, Run, string_literals, worst, write_class
from tokenomy.autonomy.classify_rules import UNKNOWN_CLASS as UNKNOWN

__all__ = ["editor_class", "git_config_commands", "git_config_set", "inline_code_class", "tar_class"]

# ---- inline interpreter code ----------------------------------------------------------------------

_CODE_FLAGS = {
    "perl": ("-e", "-E"),
    "ruby": ("-e",),
    "node": ("-e", "-p", "--eval", "--print"),
    "php": ("-r",),
    "python": ("-c",),
}
_CALL = re.compile(
    r"\b(system|exec[lv]?p?e?|popen[23]?|spawn\w*|check_output|check_call|call|run|Popen|getoutput|"
    r"getstatusoutput|execSync|execFileSync|shell_exec|passthru|qx)\s*\(\s*(\[)?"
)
_DELETE_CALL = re.compile(r"\b(rmtree|remove|unlink|rmdir|removedirs|rmSync|rmdirSync|unlinkSync)\s*\(\s*")
_STRING = re.compile(STRING_RE)
_FORK_BOMB = re.compile(
    r"\bfork\b\s*(while|until)\s*\bfork\b|while\s*\(?\s*(1|true|True)\s*\)?\s*[:{]?\s*\S*fork"
)  # (both alternatives hold the word fork: tried only where it is)


def _code_commands(code: str, run: Run, backticks: bool) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for m in _CALL.finditer(code) if "(" in code else ():
        if m.group(2):  # list form: ["rm", "-rf", "/"]
            end = code.find("]", m.end())
            words = string_literals(code[m.end() : end if end >= 0 else len(code)])
            if words:
                found.append(run(" ".join(shlex.quote(w) for w in words)))
        else:
            lit = _STRING.match(code, m.end())
            if lit:
                found.append(run(lit.group(1) if lit.group(1) is not None else lit.group(2) or ""))
    for m in re.finditer(r"`([^`]*)`|\bqx\s*[{(/]([^})/]*)[})/]|%x\(([^)]*)\)", code if backticks else ""):
        found.append(run(next(g for g in m.groups() if g is not None)))
    deletes = "(" in code and ("rm" in code or "remove" in code or "unlink" in code)
    for m in _DELETE_CALL.finditer(code) if deletes else ():
        lit = _STRING.match(code, m.end())
        if lit:
            path = lit.group(1) if lit.group(1) is not None else lit.group(2) or ""
            found.append(run("rm -r " + shlex.quote(path)))
    if "fork" in code and _FORK_BOMB.search(code):
        found.append(("destroy", "fork bomb"))
    return found


def inline_code_class(prog: str, args: list[str], run: Run) -> tuple[str, str] | None:
    """Interpreter with inline code (``perl -e``, ``python -c``, ``node -e``…): execute at least."""
    family = "python" if prog.startswith("python") else prog
    flags = _CODE_FLAGS.get(family)
    if flags is None:
        return None
    codes = []
    for i, a in enumerate(args):
        if a in flags and i + 1 < len(args):
            codes.append(args[i + 1])
        elif family in ("perl", "ruby") and re.fullmatch(r"-[a-zA-Z]*[eE]", a) and i + 1 < len(args):
            codes.append(args[i + 1])  # perl -pie / -ne clusters
    if not codes:
        return None
    found = [("execute", f"{prog} inline code")]
    for c in codes:
        found += _code_commands(c, run, family in ("perl", "ruby", "php"))
    return worst(found)


# ---- editors, pagers, tar, git config ----------------------------------------------------------


def _ex_command(cmd: str, run: Run) -> tuple[str, str]:
    c = re.sub(r"^[:\s]*(silent!?\s*)?", "", cmd)
    m = re.match(r"^([\d.,$%'<>]*|r(ead)?\s*|w(rite)?\s*|\d*)!(.*)$", c)
    if m:
        return run(m.group(4))
    m = re.match(r"^(term(inal)?|call\s+system|.*\bsystem)\s*\(?\s*" + STRING_RE, c)
    if m:
        return run(m.group(3) if m.group(3) is not None else m.group(4) or "")
    if re.match(r"^(term(inal)?)\s+(.+)$", c):
        return run(c.split(None, 1)[1])
    if re.search(r"\b(system|systemlist|jobstart|termopen|shell-command|call-process)\b", c):
        lits = string_literals(c)
        return run(lits[0]) if lits else (UNKNOWN, "editor runs a command computed at run time")
    return "draft", "editor command"


def editor_class(prog: str, args: list[str], run: Run) -> tuple[str, str]:
    """vim/emacs/nano (draft) and less/more/man (read) with the shell commands they are told to run."""
    pager = prog in ("less", "more", "most", "man", "pg")
    found: list[tuple[str, str]] = [("read", prog) if pager else ("draft", f"{prog} (editor)")]
    i = 0
    while i < len(args):
        a = args[i]
        i += 1
        if a in ("-c", "--cmd", "--eval", "-e") and i < len(args) and not pager:
            found.append(_ex_command(args[i], run))
            i += 1
        elif a.startswith("+") and len(a) > 1:
            cmd = a[1:]
            if pager:
                bang = cmd.find("!")
                found.append(run(cmd[bang + 1 :]) if bang >= 0 else ("read", f"{prog} {a}"))
            else:
                found.append(_ex_command(cmd, run))
        elif a in ("-S", "-s", "-u", "--script") and not pager:
            found.append(("execute", f"{prog} {a} runs a script file"))
            i += 1
        elif pager and (a in ("-P", "--pager") or a.startswith("--pager=")):
            val = a.split("=", 1)[1] if "=" in a else (args[i] if i < len(args) else "")
            i += 0 if "=" in a else 1
            found.append(run(val))
        elif pager and a in ("-o", "-O", "--log-file", "--LOG-FILE") and i < len(args):
            found.append(write_class(args[i], run, prog))
            i += 1
    return worst(found)


_TAR_CMD_OPTS = (
    "--to-command", "--use-compress-program", "--info-script", "--new-volume-script",
    "--rsh-command", "--rmt-command", "-I", "-F",
)  # fmt: skip


def tar_class(args: list[str], run: Run) -> tuple[str, str]:
    """tar: commands given by --to-command, -I, --checkpoint-action=exec=, -F, --rsh-command run."""
    found: list[tuple[str, str]] = [("execute", "tar")]
    i = 0
    while i < len(args):
        a = args[i]
        i += 1
        if a.startswith("--checkpoint-action=exec="):
            found.append(run(a.split("=", 2)[2]))
        for opt in _TAR_CMD_OPTS:
            if a == opt and i < len(args):
                found.append(run(args[i]))
                i += 1
            elif a.startswith(opt + "="):
                found.append(run(a.split("=", 1)[1]))
    return worst(found)


_GIT_CMD_KEY = re.compile(
    r"(?i)^(core\.(pager|editor|sshcommand|fsmonitor|askpass|gitproxy)|pager\..+|sequence\.editor|"
    r"diff\.external|diff\..+\.(textconv|command)|merge\..+\.driver|filter\..+\.(clean|smudge|process)|"
    r"alias\..+|credential(\..+)?\.helper|gpg(\..+)?\.program|uploadpack\.packobjectshook|"
    r"sendemail\..*cmd|(browser|man|difftool|mergetool)\..+\.(cmd|path)|remote\..+\.(receivepack|uploadpack))$"
)


def git_config_commands(args: list[str], run: Run) -> list[tuple[str, str]]:
    """Commands that ``git -c key=value`` / ``--exec-path`` / ``--config-env`` make git run."""
    found: list[tuple[str, str]] = []
    i = 0
    while i < len(args) and args[i].startswith("-"):
        a = args[i]
        i += 1
        if a == "-c" and i < len(args):
            key, _, val = args[i].partition("=")
            i += 1
            if key.lower() == "core.hookspath":
                found.append(("execute", "git runs hooks from a configured folder"))
            elif _GIT_CMD_KEY.match(key):
                cmd = val[1:] if val.startswith("!") else val
                if key.lower().startswith("alias.") and not val.startswith("!"):
                    cmd = "git " + val
                cls, rule = run(cmd) if cmd.strip() else ("read", "empty")
                found.append((cls, f"git -c {key}: {rule}"))
        elif a.startswith(("--config-env", "--exec-path=")):
            found.append((UNKNOWN, f"git {a.split('=', 1)[0]} (commands from the environment or a folder)"))
            i += 0 if "=" in a else 1
        elif a in ("-C", "--git-dir", "--work-tree", "--namespace", "--super-prefix"):
            i += 1
    return found


def git_config_set(args: list[str], run: Run) -> list[tuple[str, str]]:
    """``git config KEY VALUE`` of a command-valued key: the value runs later (persistence at least)."""
    i = 0
    while i < len(args) and args[i].startswith("-"):
        i += 2 if args[i] in ("-C", "-c", "--git-dir", "--work-tree") else 1
    if args[i : i + 1] != ["config"]:
        return []
    words = [a for a in args[i + 1 :] if not a.startswith("-")]
    if len(words) < 2:
        return []
    key, val = words[0], " ".join(words[1:])
    if key.lower() in ("core.hookspath", "init.templatedir"):
        return [("persistence", f"git config {key} (hooks run later)")]
    if not _GIT_CMD_KEY.match(key):
        return []
    cmd = val[1:] if val.startswith("!") else val
    if key.lower().startswith("alias.") and not val.startswith("!"):
        cmd = "git " + val
    cls, rule = run(cmd) if cmd.strip() else ("read", "empty")
    return [worst([(cls, f"git config {key}: {rule}"), ("persistence", f"git config {key} (runs later)")])]
