"""Classify one simple command by its program and arguments: the classifier's rule tables.

Split out of :mod:`tokenomy.autonomy.classify`, which strips wrappers, applies the floors every part
has (secrets, privilege, network, writes to system paths) and ranks the parts; :func:`by_program` is
the per-program step after that: delete and destroy rules, git and multi-command CLIs
(:mod:`classify_remote`), network fetches and uploads, package managers, programs that run code or
commands they are given (:mod:`classify_embedded`, :mod:`classify_inline`), then the plain
read/draft/execute tables. A program no rule places is ``"unknown"``. Text another program will run
is classified through the ``run_text`` callback the caller passes, so this module never imports
the classifier itself.
"""

from __future__ import annotations

import itertools
import re
import shlex

from tokenomy.autonomy import classify_embedded as emb
from tokenomy.autonomy import classify_inline as inl
from tokenomy.autonomy import classify_paths as pth
from tokenomy.autonomy.classify_embedded import Run
from tokenomy.autonomy.classify_remote import GLOBAL_VALUE_OPTS, cli_class, git_class
from tokenomy.autonomy.schedule import UNKNOWN
from tokenomy.autonomy.shell import REDIRECT_WORD

__all__ = ["NET_PROGS", "PRIV_PROGS", "by_program", "fork_bomb", "words_set", "write_targets"]


def words_set(text: str) -> frozenset[str]:
    return frozenset(text.split())


_READ = words_set(
    "ls cat head tail grep egrep fgrep rg ag nl wc diff cmp echo printf cd pwd which whereis type file "
    "stat tree less more sort uniq cut tr du df printenv whoami id uname date true false test [ [[ "
    "sleep basename dirname realpath readlink column jq yq hexdump xxd od strings md5sum sha256sum "
    "export set unset history locale hostname ps top free lsof : wait read shift local "
    "declare return break continue seq pushd popd dirs exit"
)
_EXEC = words_set(
    "python python2 python3 pytest py.test tox nox make cmake node npx ruby perl php java javac go cargo "
    "rustc gcc g++ clang bash sh zsh dash ksh sqlite3 psql mysql sphinx-build pylint flake8 mypy black "
    "ruff msgfmt antlr4 pyreverse sphinx-quickstart sphinx-apidoc dot kill pkill django-admin coverage "
    "ipython julia R Rscript gdb valgrind unzip tar gzip gunzip xz zip bzip2 jupyter nosetests trial "
    "runtests.py manage.py"
)
_DRAFT = words_set("tee touch mkdir cp mv ln patch ed install_file chmod chown")
_DELETE = words_set("rm rmdir unlink shred truncate")
_INSTALL_TOOLS = words_set("pip pip3 conda mamba apt apt-get yum dnf brew npm yarn pnpm gem cargo poetry uv")
_SQL_DROP = re.compile(r"\b(drop\s+(database|table|schema)|truncate\s+table)\b", re.IGNORECASE)
_FUNC_DEF = re.compile(r"(?:\bfunction\s+([\w:.-]+)\s*(?:\(\s*\))?|([\w:.-]+)\s*\(\s*\))\s*\{([^}]*)\}")


def fork_bomb(text: str) -> bool:
    """A function whose body pipes itself into itself (``:(){ :|:& };:``, ``bomb(){ bomb|bomb& }``)."""
    if "|" not in text or "{" not in text:
        return False
    for m in _FUNC_DEF.finditer(text):
        name = re.escape(m.group(1) or m.group(2))
        if re.search(name + r"\s*\|\s*" + name, m.group(3)):
            return True
    return False


_SYSTEM_BIN = ("/bin/", "/usr/bin/", "/usr/local/bin/", "/sbin/", "/usr/sbin/")
"""A program named by one of these paths is the system tool of that name (``/usr/bin/rm`` is rm)."""
PRIV_PROGS = words_set(
    "setcap usermod useradd userdel groupadd groupmod gpasswd passwd chpasswd visudo adduser"
)
NET_PROGS = words_set("nc ncat netcat socat telnet")
_WRITE_LAST = frozenset(("cp", "install", "ln", "rsync"))
_WRITE_ALL = words_set("mv tee touch truncate chmod chown chgrp mkdir shred vim vi nvim nano emacs ed")


def write_targets(prog: str, args: list[str]) -> list[str]:
    if prog not in _WRITE_LAST and prog not in _WRITE_ALL and prog not in ("sed", "perl"):
        return []
    operands = [a for a in args if not a.startswith("-") and not REDIRECT_WORD.match(a)]
    if prog in _WRITE_LAST:
        return operands[-1:] if len(operands) > 1 else []
    if prog in _WRITE_ALL or (prog in ("sed", "perl") and any(a.startswith(("-i", "-pi")) for a in args)):
        return operands[1:] if prog in ("chmod", "chown", "chgrp", "sed", "perl") else operands
    return []


_CLI_TOOLS = frozenset([*GLOBAL_VALUE_OPTS, "podman"]) - {"git"}
_AWK = frozenset(["awk", "gawk", "mawk", "nawk", "busybox-awk"])
_EDITORS = words_set("vim vi nvim ex view vimdiff gvim rvim nano emacs less more most man pg")
_CURL_WRITE = re.compile(
    r"^(-X|--request)=?(POST|PUT|PATCH)$|^(-d|--data\S*|-F|--form\S*|-T|--upload-file|--json)$"
)


def _flags(args: list[str]) -> set[str]:
    return {a for a in args if a.startswith("-")}


def by_program(
    prog: str, raw_prog: str, args: list[str], simple: str, cwd_danger: bool, run_text: Run
) -> tuple[str, str]:
    if "/" in raw_prog and not raw_prog.startswith(_SYSTEM_BIN):
        return "execute", f"program by path {raw_prog}"  # bin/test is a project script, not test(1)
    if prog in NET_PROGS:
        return "network_send", f"{prog} opens a network connection"
    if prog in PRIV_PROGS:
        return "privilege", f"{prog} changes users, passwords or capabilities"
    if prog in _DELETE:
        flags = _flags(args)
        recursive = any(f in flags for f in ("-r", "-R", "-rf", "-fr", "-Rf", "-fR", "--recursive"))
        targets = [a for a in args if not a.startswith("-")]
        if "--no-preserve-root" in flags or any(pth.is_dangerous(t) for t in targets):
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
    written = write_targets(prog, args) if prog in ("cp", "mv", "ln", "install") else args
    if prog in ("tee", "cp", "mv", "ln", "install", "dd") and any(
        pth.is_raw_device(a.removeprefix("of=")) or pth.is_system_file(a.removeprefix("of=")) for a in written
    ):
        return "destroy", f"{prog} into a system path or raw device"
    if (
        prog in ("chmod", "chown")
        and _flags(args) & {"-R", "--recursive"}
        and any(pth.is_dangerous(a) for a in args)
    ):
        return "destroy", f"{prog} -R on a system path"
    if prog == "git":
        return emb.worst(
            [git_class(args), *inl.git_config_commands(args, run_text), *inl.git_config_set(args, run_text)]
        )
    if prog in ("crontab", "at", "batch"):
        if args[:1] == ["-l"] or args[:1] == ["-r"]:
            return ("read", f"{prog} -l") if args[0] == "-l" else ("delete_local", f"{prog} -r")
        return "persistence", f"{prog} schedules commands"
    if prog == "kubectl" and "exec" in args[:4] and "--" in args:
        return emb.remote(run_text(shlex.join(args[args.index("--") + 1 :])), "a cluster pod")
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
        return emb.ssh_class(args, run_text)
    if prog in ("scp", "rsync"):
        return emb.rsync_class(prog, args, run_text)
    if prog in ("curl", "wget", "http"):
        if any(re.fullmatch(r"(-X|--request)=?DELETE", a) for a in args) or "DELETE" in args:
            return "delete_remote", f"{prog} DELETE"
        if (
            any(a.startswith(("--post-file", "--body-file")) for a in args)
            or any((a.startswith("@") or "=@" in a) and len(a) > 1 for a in args)
            or _flags(args) & {"-T", "--upload-file"}
        ):
            return "network_send", f"{prog} uploads a local file"
        methods = {b.upper() for a, b in itertools.pairwise(args) if a in ("-X", "--request")}
        if methods & {"POST", "PUT", "PATCH"} or any(
            _CURL_WRITE.match(a) or a.startswith("--post-") for a in args
        ):
            return "commit", f"{prog} write to a remote API"
        return "install", f"{prog} network fetch"
    if prog in _PACKAGE_MANAGERS and args:
        return _package_manager_class(prog, args)
    if prog in ("python", "python3", "python2") and args[:2] in (["-m", "pip"],) and "install" in args:
        return "install", "python -m pip install"
    if prog in ("psql", "mysql", "sqlite3") and _SQL_DROP.search(simple):
        return "delete_remote" if prog != "sqlite3" else "delete_local", f"{prog} DROP"
    if fork_bomb(simple):
        return "destroy", "fork bomb"
    embedded = _embedded(prog, args, run_text)
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


_PACKAGE_MANAGERS = frozenset(
    ("pip", "pip3", "conda", "mamba", "apt", "apt-get", "yum", "dnf", "brew", "gem", "uv")
)
_PACKAGE_INSTALL = frozenset(
    ("install", "add", "i", "update", "upgrade", "sync", "uninstall", "remove", "purge", "lock", "compile")
)
# subcommands that only report: anything else a package manager is asked to do is not known to be harmless
_PACKAGE_READ = frozenset(
    (
        "list",
        "show",
        "freeze",
        "check",
        "search",
        "info",
        "help",
        "--help",
        "-h",
        "--version",
        "-V",
        "version",
    )
)
_PACKAGE_RUN = frozenset(("run", "exec", "x", "uvx"))


def _package_manager_class(prog: str, args: list[str]) -> tuple[str, str]:
    """pip/uv/conda/brew/...: installs, runs (``uv run``, ``uv tool run``, ``conda run``), reports; else unknown.

    ``uv pip X`` and ``uv tool X`` are judged by X. A subcommand on none of the lists is unknown (fail
    closed): a reading of a new subcommand as harmless is a guess.
    """
    sub, rest = args[0], args[1:]
    if prog == "uv" and sub in ("pip", "tool") and rest:
        sub = rest[0]
    if sub in _PACKAGE_RUN:
        return "execute", f"{prog} {sub}"
    if sub in _PACKAGE_INSTALL:
        return "install", f"{prog} {sub}"
    if sub in _PACKAGE_READ:
        return "read", f"{prog} {sub}"
    return UNKNOWN, f"no rule for {prog} {sub!r}"


def _embedded(prog: str, args: list[str], run_text: Run) -> tuple[str, str] | None:
    """Programs that run code or commands they are given (see :mod:`classify_embedded`)."""
    if prog == "find":
        return emb.find_class(args, run_text)
    if prog in _AWK:
        return emb.awk_class(args, run_text)
    if prog in ("sed", "gsed"):
        return emb.sed_class(args, run_text)
    if prog in _EDITORS:
        return inl.editor_class(prog, args, run_text)
    if prog in ("tar", "gtar", "bsdtar"):
        return inl.tar_class(args, run_text)
    return inl.inline_code_class(prog, args, run_text)
