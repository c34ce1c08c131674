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

import itertools
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tokenomy.autonomy import classify_embedded as emb
from tokenomy.autonomy import classify_inline as inl
from tokenomy.autonomy import classify_paths as pth
from tokenomy.autonomy.classify_remote import GLOBAL_VALUE_OPTS, cli_class, git_class
from tokenomy.autonomy.classify_rules import RULES_DOC, SEVERITY
from tokenomy.autonomy.schedule import UNKNOWN, VERDICT_RANK, Schedule
from tokenomy.autonomy.shell import SHELLS, SUBST, split_parts, split_shell

__all__ = ["RULES_DOC", "SEVERITY", "Classification", "classify_call", "classify_shell", "split_shell"]


def _words_set(text: str) -> frozenset[str]:
    return frozenset(text.split())


_READ = _words_set(
    "ls cat head tail grep egrep fgrep rg ag nl wc diff cmp echo printf cd pwd which whereis type file "
    "stat tree less more sort uniq cut tr du df printenv whoami id uname date true false test [ [[ "
    "sleep basename dirname realpath readlink column jq yq hexdump xxd od strings md5sum sha256sum "
    "export set unset history locale hostname ps top free lsof : wait read shift local "
    "declare return break continue seq"
)
_EXEC = _words_set(
    "python python2 python3 pytest py.test tox nox make cmake node npx ruby perl php java javac go cargo "
    "rustc gcc g++ clang bash sh zsh dash ksh sqlite3 psql mysql sphinx-build pylint flake8 mypy black "
    "ruff msgfmt antlr4 pyreverse sphinx-quickstart sphinx-apidoc dot kill pkill django-admin coverage "
    "ipython julia R Rscript gdb valgrind unzip tar gzip gunzip xz zip bzip2 jupyter nosetests trial "
    "runtests.py manage.py"
)
_DRAFT = _words_set("tee touch mkdir cp mv ln patch ed install_file chmod chown")
_DELETE = _words_set("rm rmdir unlink shred truncate")
_INSTALL_TOOLS = _words_set("pip pip3 conda mamba apt apt-get yum dnf brew npm yarn pnpm gem cargo poetry uv")
_WRAPPERS = _words_set("sudo doas env nohup time nice ionice command exec stdbuf builtin strace ltrace")
_WRAPPER_ARG_FLAGS = _words_set("-u -g -n -c -C -p -o -e -s -I -L -P -d -a -E --arg-file")
_ASSIGN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_REDIRECT_WORD = re.compile(r"^\d*(>>?|<|&>)(&?\d+)?$")
_REDIRECT_ATTACHED = re.compile(r"^\d*(>>?|<|&>)\S+$")
_SQL_DROP = re.compile(r"\b(drop\s+(database|table|schema)|truncate\s+table)\b", re.IGNORECASE)
_DANGEROUS_TARGETS = frozenset({"/", "~", "$HOME", "${HOME}", "/*", "~/*", "$HOME/*", "${HOME}/*"})
_UP_ONLY = re.compile(r"^\.\.(/\.\.)*(/\*?)?$")
"""A path made only of ``..`` segments (``..``, ``../..``, ``../../*``): it climbs out of the work."""
_CD = re.compile(r"(^|\s)(cd|pushd)(\s|$)")
_FUNC_DEF = re.compile(r"(?:\bfunction\s+([\w:.-]+)\s*(?:\(\s*\))?|([\w:.-]+)\s*\(\s*\))\s*\{([^}]*)\}")


def _fork_bomb(text: str) -> bool:
    """A function whose body pipes itself into itself (``:(){ :|:& };:``, ``bomb(){ bomb|bomb& }``)."""
    if "|" not in text or "{" not in text:
        return False
    for m in _FUNC_DEF.finditer(text):
        name = re.escape(m.group(1) or m.group(2))
        if re.search(name + r"\s*\|\s*" + name, m.group(3)):
            return True
    return False


_SYSTEM_DIRS = ("/etc", "/usr", "/bin", "/sbin", "/boot", "/lib", "/lib64", "/sys", "/proc", "/dev")
"""Deleting anything under these is ``destroy``; /home, /root, /var, /opt only as a whole."""
_TOP_DIRS = ("/home", "/root", "/var", "/opt")
_SYSTEM_BIN = ("/bin/", "/usr/bin/", "/usr/local/bin/", "/sbin/", "/usr/sbin/")
"""A program named by one of these paths is the system tool of that name (``/usr/bin/rm`` is rm)."""
_SUBMIT = "COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT"
_SHELL_TOOLS = frozenset(
    {"bash", "shell", "sh", "run_command", "execute_bash", "terminal", "run_shell", "exec"}
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


_NEEDS_SHLEX = re.compile(r"['\"\\]")


_TOKEN = re.compile(r"""(?:[^\s'"\\]+|'[^']*'|"(?:\\.|[^"\\])*"|\\.)+|(\S)""", re.DOTALL)
_PIECE = re.compile(r"""'([^']*)'|"((?:\\.|[^"\\])*)"|\\(.)|([^'"\\]+)""", re.DOTALL)
_DQ_ESCAPE = re.compile(r"\\([\"\\])")  # as shlex: in "…" only \" and \\ are escapes


def _unquote(token: str) -> str:
    out = []
    for m in _PIECE.finditer(token):
        sq, dq, esc, bare = m.groups()
        if sq is not None:
            out.append(sq)
        elif dq is not None:
            out.append(_DQ_ESCAPE.sub(r"\1", dq) if "\\" in dq else dq)
        elif esc is not None:
            out.append(esc)
        else:
            out.append(bare)
    return "".join(out)


def _words(simple: str) -> list[str]:
    """POSIX word splitting and quote removal (shlex's result, faster); shlex on unbalanced quotes."""
    if _NEEDS_SHLEX.search(simple) is None:
        return simple.split()  # no quotes or escapes: shlex would split on whitespace alone
    words = []
    for m in _TOKEN.finditer(simple):
        if m.group(1) is not None:  # a stray quote: let shlex decide
            break
        words.append(_unquote(m.group()))
    else:
        return words
    try:
        return shlex.split(simple, comments=False, posix=True)
    except ValueError:
        return simple.split()


def _strip_wrappers(words: list[str]) -> list[str]:
    i = 0
    while i < len(words):
        w = words[i]
        base = w.rsplit("/", 1)[-1]
        if _ASSIGN.match(w) or _REDIRECT_ATTACHED.match(w):
            i += 1
        elif _REDIRECT_WORD.match(w):
            i += 1 if re.search(r"&\d+$", w) else 2
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


_REDIR = re.compile(r"(?<![<>])(>>|>\||<>|>|<(?!<))&?\s*([^\s;|<>()&]+)")
_SINKS = frozenset({"/dev/null", "/dev/stdout", "/dev/stderr", "/dev/stdin", "-"})


def _redirects(simple: str) -> list[tuple[str, str]]:
    """Every (operator, file) an unquoted redirection names (``>``, ``>>``, ``<``, ``<>``; not ``&N``)."""
    if "<" not in simple and ">" not in simple:
        return []
    out = []
    for m in _REDIR.finditer(_unquoted(simple)):
        target = m.group(2).strip("'\"")
        if target and not target.isdigit() and target not in _SINKS:
            out.append((m.group(1), target))
    return out


def _unquoted(s: str) -> str:
    """Quoted spans kept as one word with their operators and spaces made inert (targets stay readable)."""
    return re.sub(
        r"'[^']*'|\"(?:\\.|[^\"\\])*\"", lambda m: re.sub(r"[\s<>;|&()]", "_", m.group()[1:-1]) or "''", s
    )


def _write_floor(path: str, who: str) -> tuple[str, str] | None:
    """The class a write to ``path`` has at least (None: an ordinary file)."""
    if path.startswith(("/dev/tcp/", "/dev/udp/")):
        return "network_send", f"{who} to a network socket {path}"
    norm = pth.normalise(path)
    if norm is None:
        return UNKNOWN, f"{who} to a path computed at run time {path}"
    if _is_raw_device(norm):
        return "destroy", f"{who} to raw device {path}"
    if _is_dangerous(norm) or _is_system_file(norm):
        return "destroy", f"{who} into a system path {path}"
    kind = pth.path_kind(norm) if pth.mentions_sensitive(norm) else None
    if kind is not None:
        return "persistence", f"{who} to {path} ({'runs later' if kind == 'persist' else 'credentials'})"
    return None


def _read_floor(path: str, who: str) -> tuple[str, str] | None:
    if path.startswith(("/dev/tcp/", "/dev/udp/")):
        return "network_send", f"{who} from a network socket {path}"
    if not pth.mentions_sensitive(path):
        return None
    norm = pth.normalise(path.lstrip("@"))
    if norm is not None and pth.path_kind(norm) == "secret":
        return "secret_read", f"{who} reads credentials {path}"
    return None


def _norm_path(target: str) -> str:
    t = target.strip("'\"")
    return t if t in ("/", "/*") else t.rstrip("/") or "/"


def _is_dangerous(target: str) -> bool:
    t = _norm_path(target)
    if t in _DANGEROUS_TARGETS or _UP_ONLY.match(t) or any(t in (d, d + "/*") for d in _TOP_DIRS):
        return True
    if t[:1] in ("~", "$") or "/.." in t or t.startswith("../"):
        n = pth.normalise(t)
        if n is None or n == t:
            return False
        return _is_dangerous(n) if n != t else False
    if t.startswith("/home/") and t.rstrip("*").rstrip("/").count("/") == 2:
        return True  # a whole home folder
    if t.startswith("/usr/src/") and t.count("/") >= 4:
        return False  # /usr/src/app/build: a container's project folder, not the system
    return any(t == d or t.startswith(d + "/") or t == d + "/*" for d in _SYSTEM_DIRS)


def _is_system_file(path: str) -> bool:
    """Under a system folder other than /dev (where /dev/null, /dev/stdout are harmless sinks)."""
    t = _norm_path(path)
    return any(t.startswith(d + "/") for d in _SYSTEM_DIRS if d not in ("/dev", "/proc"))


def _is_raw_device(path: str) -> bool:
    return re.match(r"/dev/(sd|nvme|hd|disk|mem|xvd|vd)", path) is not None


def _script_text(text: str) -> list[tuple[str, str]]:
    """Classify text that a shell will run (a ``-c`` string, an ``eval``, a fed literal)."""
    return [_classify_simple(p.text, p.upstream) for p in split_parts(text)]


def _run_text(text: str) -> tuple[str, str]:
    """The most severe (class, rule) of a command text another program runs (empty: read)."""
    if _fork_bomb(text):
        return "destroy", "fork bomb"
    return emb.worst(_script_text(text) or [("read", "empty command")])


_SECRET_VAR = re.compile(r"\$\{?[A-Z0-9_]*(SECRET|TOKEN|PASSW|API_?KEY|ACCESS_KEY|PRIVATE|CREDENTIAL)")
_SAFE_ENV = _words_set("PATH HOME PWD SHELL USER LANG TERM VIRTUAL_ENV PYTHONPATH CONDA_PREFIX")
_PRIV_WRAPPERS = frozenset(("sudo", "doas", "pkexec", "run0"))
_PRIV_PROGS = _words_set(
    "setcap usermod useradd userdel groupadd groupmod gpasswd passwd chpasswd visudo adduser"
)
_NET_PROGS = _words_set("nc ncat netcat socat telnet")
_SETUID = re.compile(r"^([ugoa]*[+=][rwxXt]*s|[2-7][0-7]{3})$")
_CODE_RUNNERS = frozenset(
    (*SHELLS, "source", ".", "python", "python3", "python2", "perl", "ruby", "node", "php")
)
_CODE_FLAGS = frozenset(("-c", "-e", "-E", "-r", "--eval", "-p", "--print"))
_WRITE_LAST = frozenset(("cp", "install", "ln", "rsync"))
_WRITE_ALL = _words_set("mv tee touch truncate chmod chown chgrp mkdir shred vim vi nvim nano emacs ed")


def _floors(prog: str, raw: list[str], words: list[str], simple: str) -> list[tuple[str, str]]:
    """Classes a part has at least whatever its program: secrets, privilege, persistence, network."""
    found: list[tuple[str, str]] = []
    args = words[1:]
    if any(w.rsplit("/", 1)[-1] in _PRIV_WRAPPERS for w in raw[: len(raw) - len(words) + 1]):
        found.append(("privilege", "runs as another user (sudo/doas)"))
    if prog in _PRIV_PROGS or (prog in ("chmod",) and any(_SETUID.match(a) for a in args)):
        found.append(("privilege", f"{prog} changes users or sets setuid/capabilities"))
    if prog in ("chown", "chgrp") and any(a.split(":")[0] in ("root", "0") for a in args[:2]):
        found.append(("privilege", f"{prog} to root"))
    if prog in _NET_PROGS or "/dev/tcp/" in simple or "/dev/udp/" in simple:
        found.append(("network_send", f"{prog} opens a network connection"))
    if "$" in simple and _SECRET_VAR.search(simple):
        found.append(("secret_read", "expands a secret-named variable"))
    if prog in ("printenv", "compgen") and not (set(args) <= _SAFE_ENV and args):
        found.append(("secret_read", f"{prog} prints the environment"))
    if prog in ("export", "declare", "typeset", "set") and (not args or args[0] in ("-p", "-x", "-px")):
        found.append(("secret_read", f"{prog} prints the environment"))
    if pth.mentions_sensitive(simple):
        for prev, a in zip(["", *args], args, strict=False):
            if prog in ("ssh", "scp", "sftp", "rsync") and (prev == "-i" or a.startswith("-i")):
                continue  # authenticating with a key does not read it out
            floor = _read_floor(a.rsplit("=", 1)[-1], prog)
            if floor is not None:
                found.append(floor)
    if prog in _CODE_RUNNERS and SUBST in simple:
        prev = ""
        for a in args:
            if SUBST in a and (prev in _CODE_FLAGS or not prev.startswith("-")):
                found.append((UNKNOWN, f"{prog} runs code built at run time"))
                break
            prev = a if a.startswith("-") else "x"
    return found


def _write_targets(prog: str, args: list[str]) -> list[str]:
    operands = [a for a in args if not a.startswith("-") and not _REDIRECT_WORD.match(a)]
    if prog in _WRITE_LAST:
        return operands[-1:] if len(operands) > 1 else []
    if prog in _WRITE_ALL or (prog in ("sed", "perl") and any(a.startswith(("-i", "-pi")) for a in args)):
        return operands[1:] if prog in ("chmod", "chown", "chgrp", "sed", "perl") else operands
    return []


def _classify_simple(simple: str, upstream: str | None = None, cwd_danger: bool = False) -> tuple[str, str]:
    """(class, rule) of one simple command; ``upstream`` is the part piped into it."""
    if _SUBMIT in simple:
        return "commit", "harness submit"
    simple = pth.expand_ifs(simple)
    found: list[tuple[str, str]] = []
    wrote = False
    for op, path in _redirects(simple):
        floor = _read_floor(path, "redirect <") if op == "<" else _write_floor(path, f"redirect {op}")
        wrote = wrote or op != "<"
        if floor is not None:
            found.append(floor)
    raw = _words(simple)
    if "{" in simple:
        raw = pth.expand_braces(raw)
    words = _strip_wrappers(raw)
    lead = raw[: len(raw) - len(words)]
    found += [  # PAGER=… GIT_SSH_COMMAND=… LESSOPEN='|…': a command another program will run
        _run_text(w.split("=", 1)[1].lstrip("|").replace("%s", "f"))
        for w in lead
        if _ASSIGN.match(w) and w.split("=", 1)[0] in emb.COMMAND_ENV_VARS
    ]
    if words and upstream and any(w.rsplit("/", 1)[-1] == "xargs" for w in lead):
        up = _strip_wrappers(_words(upstream))
        if up[:1] == ["find"]:  # find ROOT | xargs rm: xargs runs on what find lists under ROOT
            words = [*words, *emb.find_roots(up[1:])]
    if not words:
        if raw[:1] and raw[0].rsplit("/", 1)[-1] == "env" and not any(_REDIRECT_WORD.match(w) for w in raw):
            found.append(("secret_read", "env prints the environment"))
        if any(w.rsplit("/", 1)[-1] in _PRIV_WRAPPERS for w in raw):
            found.append(("privilege", "sudo"))
        found.append(("draft", "bare redirect") if wrote else ("read", "assignment or redirect only"))
        return emb.worst(found)
    prog = words[0].rsplit("/", 1)[-1]
    args = words[1:]
    if SUBST in words[0]:
        return UNKNOWN, "program name computed at run time"
    found += _floors(prog, raw, words, simple)
    for t in _write_targets(prog, args):
        floor = _write_floor(t, prog)
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
        cls, rule = _by_program(prog, words[0], args, simple, cwd_danger)
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
    operands = [a for a in args if not a.startswith("-") and not _REDIRECT_WORD.match(a)]
    if upstream is not None and not operands:
        feed = _strip_wrappers(_words(upstream))
        if feed and feed[0] in ("echo", "printf") and SUBST not in upstream:
            return _run_text(" ".join(a for a in feed[1:] if not a.startswith("-")))
        return UNKNOWN, f"{prog} runs a script piped from {upstream[:40]!r} (content not visible)"
    return "execute", prog


_CLI_TOOLS = frozenset([*GLOBAL_VALUE_OPTS, "podman"]) - {"git"}
_AWK = frozenset(["awk", "gawk", "mawk", "nawk", "busybox-awk"])
_EDITORS = _words_set("vim vi nvim ex view vimdiff gvim rvim nano emacs less more most man pg")
_CURL_WRITE = re.compile(
    r"^(-X|--request)=?(POST|PUT|PATCH)$|^(-d|--data\S*|-F|--form\S*|-T|--upload-file|--json)$"
)


def _by_program(prog: str, raw_prog: str, args: list[str], simple: str, cwd_danger: bool) -> tuple[str, str]:
    flags = {a for a in args if a.startswith("-")}
    if "/" in raw_prog and not raw_prog.startswith(_SYSTEM_BIN):
        return "execute", f"program by path {raw_prog}"  # bin/test is a project script, not test(1)
    if prog in _NET_PROGS:
        return "network_send", f"{prog} opens a network connection"
    if prog in _PRIV_PROGS:
        return "privilege", f"{prog} changes users, passwords or capabilities"
    if prog in _DELETE:
        recursive = any(f in flags for f in ("-r", "-R", "-rf", "-fr", "-Rf", "-fR", "--recursive"))
        targets = [a for a in args if not a.startswith("-")]
        if "--no-preserve-root" in flags or any(_is_dangerous(t) for t in targets):
            return "destroy", f"{prog} of a system path {targets}"
        if any("$" in t and pth.normalise(t) is None for t in targets):
            return UNKNOWN, f"{prog} of a path computed at run time {targets}"
        if cwd_danger and recursive and any(not t.startswith("/") for t in targets):
            return "destroy", f"{prog} -r of relative paths after cd to a system path"
        return "delete_local", f"{prog}{' -r' if recursive else ''}"
    if prog.startswith("mkfs") or prog in ("shutdown", "reboot", "halt", "poweroff", "wipefs", "fdisk"):
        return "destroy", prog
    if prog == "dd" and any(a.startswith("of=/dev/") for a in args):
        return "destroy", "dd to a device"
    written = _write_targets(prog, args) if prog in ("cp", "mv", "ln", "install") else args
    if prog in ("tee", "cp", "mv", "ln", "install", "dd") and any(
        _is_raw_device(a.removeprefix("of=")) or _is_system_file(a.removeprefix("of=")) for a in written
    ):
        return "destroy", f"{prog} into a system path or raw device"
    if prog in ("chmod", "chown") and flags & {"-R", "--recursive"} and any(_is_dangerous(a) for a in args):
        return "destroy", f"{prog} -R on a system path"
    if prog == "git":
        return emb.worst(
            [git_class(args), *inl.git_config_commands(args, _run_text), *inl.git_config_set(args, _run_text)]
        )
    if prog in ("crontab", "at", "batch"):
        if args[:1] == ["-l"] or args[:1] == ["-r"]:
            return ("read", f"{prog} -l") if args[0] == "-l" else ("delete_local", f"{prog} -r")
        return "persistence", f"{prog} schedules commands"
    if prog == "kubectl" and "exec" in args[:4] and "--" in args:
        return emb.remote(_run_text(shlex.join(args[args.index("--") + 1 :])), "a cluster pod")
    if prog in _CLI_TOOLS:
        return cli_class(prog, args)
    if prog == "service" and len(args) >= 2:
        return ("read", "service status") if args[1] == "status" else ("deploy", f"service {args[1]}")
    if prog in ("ansible-playbook", "ansible", "pulumi", "serverless", "sls", "flyctl", "heroku", "vercel"):
        return "deploy", f"{prog} (changes remote hosts)"
    if prog in ("journalctl", "dmesg", "uptime", "w", "who", "last"):
        return "read", prog
    if prog == "poetry" and args[:1] == ["publish"]:
        return "deploy", f"{prog} publish"
    if prog == "twine" and args[:1] == ["upload"]:
        return "deploy", "twine upload"
    if prog in ("ssh", "mosh", "rsh"):
        return emb.ssh_class(args, _run_text)
    if prog in ("scp", "rsync"):
        return emb.rsync_class(prog, args, _run_text)
    if prog in ("curl", "wget", "http"):
        if any(re.fullmatch(r"(-X|--request)=?DELETE", a) for a in args) or "DELETE" in args:
            return "delete_remote", f"{prog} DELETE"
        if (
            any(a.startswith(("--post-file", "--body-file")) for a in args)
            or any((a.startswith("@") or "=@" in a) and len(a) > 1 for a in args)
            or flags & {"-T", "--upload-file"}
        ):
            return "network_send", f"{prog} uploads a local file"
        methods = {b.upper() for a, b in itertools.pairwise(args) if a in ("-X", "--request")}
        if methods & {"POST", "PUT", "PATCH"} or any(
            _CURL_WRITE.match(a) or a.startswith("--post-") for a in args
        ):
            return "commit", f"{prog} write to a remote API"
        return "install", f"{prog} network fetch"
    if (
        prog in ("pip", "pip3", "conda", "mamba", "apt", "apt-get", "yum", "dnf", "brew", "gem", "uv")
        and args
    ):
        if args[0] in ("install", "add", "i", "update", "upgrade", "sync", "uninstall", "remove", "purge"):
            return "install", f"{prog} {args[0]}"
        return "read", f"{prog} {args[0]}"
    if prog in ("python", "python3", "python2") and args[:2] in (["-m", "pip"],) and "install" in args:
        return "install", "python -m pip install"
    if prog in ("psql", "mysql", "sqlite3") and _SQL_DROP.search(simple):
        return "delete_remote" if prog != "sqlite3" else "delete_local", f"{prog} DROP"
    if _fork_bomb(simple):
        return "destroy", "fork bomb"
    embedded = _embedded(prog, args)
    if embedded is not None:
        return embedded
    if prog in ("sed", "perl") and any(a.startswith(("-i", "-pi")) for a in args):
        return "draft", f"{prog} -i"
    if prog in _READ:
        return "read", prog
    if prog in _DRAFT:
        return "draft", prog
    if prog in _EXEC or prog.endswith((".py", ".sh")):
        return "execute", prog
    return UNKNOWN, f"no rule for {prog!r}"


def _embedded(prog: str, args: list[str]) -> tuple[str, str] | None:
    """Programs that run code or commands they are given (see :mod:`classify_embedded`)."""
    if prog == "find":
        return emb.find_class(args, _run_text)
    if prog in _AWK:
        return emb.awk_class(args, _run_text)
    if prog in ("sed", "gsed"):
        return emb.sed_class(args, _run_text)
    if prog in _EDITORS:
        return inl.editor_class(prog, args, _run_text)
    if prog in ("tar", "gtar", "bsdtar"):
        return inl.tar_class(args, _run_text)
    return inl.inline_code_class(prog, args, _run_text)


def _severity_key(cls: str, schedule: Schedule | None) -> tuple[int, int, int]:
    order = SEVERITY.index(cls) if cls in SEVERITY else len(SEVERITY)
    if schedule is None:
        return (0, 0, order)
    level = schedule.level(cls)
    return (VERDICT_RANK[schedule.verdict(cls)], {"multi_party": 1}.get(level, 0), order)


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
    if sum(command.count(c) for c in ";&|\n") > 2 * MAX_PARTS:
        return f"more than {MAX_PARTS:,} simple commands"
    return ""


def classify_shell(command: str, schedule: Schedule | None = None) -> Classification:
    """Classify a shell command: split it, classify every part, keep the most severe.

    Args:
        command: the command text.
        schedule: ranks the parts by verdict and level; without one, by :data:`SEVERITY` only.

    Returns:
        The classification; an empty command is ``read`` (nothing runs).
    """
    too_big = _too_big(command)
    if too_big:
        return Classification(UNKNOWN, ((command[:200], UNKNOWN, too_big),))
    parts: list[tuple[str, str, str]] = []
    cwd_danger = False
    if _fork_bomb(command):
        parts.append((command, "destroy", "fork bomb"))
    for part in split_parts(command):
        cls, rule = _classify_simple(part.text, part.upstream, cwd_danger)
        parts.append((part.text, cls, rule))
        words = _strip_wrappers(_words(part.text)) if _CD.search(part.text) else []
        if words[:1] in (["cd"], ["pushd"]):
            cwd_danger = len(words) == 1 or (_is_dangerous(words[1]) and not _UP_ONLY.match(words[1]))
    if not parts:
        return Classification("read", ((command, "read", "empty command"),))
    worst = max(parts, key=lambda p: _severity_key(p[1], schedule))
    return Classification(worst[1], tuple(parts))


def classify_call(tool: str, arguments: Mapping[str, Any], schedule: Schedule) -> Classification:
    """Classify a JSON function call by the schedule's tool tables (shell tools by their command).

    Args:
        tool: the function name.
        arguments: its arguments. # argument name -> JSON value
        schedule: supplies ``[tools]`` and ``[tool_patterns]``.

    Returns:
        The classification (``"unknown"`` for a name no table places).
    """
    command = arguments.get("command", arguments.get("cmd"))
    if isinstance(command, list) and all(isinstance(w, str) for w in command):
        command = shlex.join(command)  # Codex's shell tool: ["bash", "-lc", "…"]
    if tool.lower() in _SHELL_TOOLS and isinstance(command, str) and tool not in schedule.tools:
        try:
            return classify_shell(command, schedule)
        except RecursionError:
            return Classification(UNKNOWN, ((command[:200], UNKNOWN, "nested too deep to read"),))
    cls = schedule.tool_class(tool)
    rule = (
        f"[tools] {tool}"
        if cls != UNKNOWN and not _pattern_only(tool, schedule)
        else ("pattern" if cls != UNKNOWN else "no tool rule")
    )
    parts = [(tool, cls, rule)]
    path = next((arguments[k] for k in _PATH_ARGS if isinstance(arguments.get(k), str)), None)
    if path is not None and cls in ("read", "draft"):
        floor = _read_floor(path, tool) if cls == "read" else _write_floor(path, tool)
        if floor is not None:
            parts.append((path, *floor))
    worst = max(parts, key=lambda p: _severity_key(p[1], schedule))
    return Classification(worst[1], tuple(parts))


_PATH_ARGS = ("file_path", "path", "notebook_path", "filename", "file")


def _pattern_only(tool: str, schedule: Schedule) -> bool:
    return tool not in schedule.tools and all(t.lower() != tool.lower() for t in schedule.tools)
