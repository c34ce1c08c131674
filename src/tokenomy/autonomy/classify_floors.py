"""Floors: the classes a shell part or a file tool has at least, whatever its program (the classifier's
second look, after the per-program rules).

A write into a system path, a raw device, a file that runs later (shell rc, cron, hooks, PATH folders)
or a credential file; a read of credentials (paths, globs that name them, a whole home folder read
recursively, secrets-manager and cluster-secret commands); privilege (sudo, su, setuid, container
escapes); a network connection; code built at run time. Paths resolve against the working directory a
session knows (``CWD``). Used by :mod:`tokenomy.autonomy.classify`; text only, no I/O.
"""

from __future__ import annotations

import functools
import posixpath
import re
from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any

from tokenomy.autonomy import classify_paths as pth
from tokenomy.autonomy.classify_paths import is_dangerous, is_raw_device, is_system_file
from tokenomy.autonomy.classify_program import NET_PROGS, PRIV_PROGS, words_set
from tokenomy.autonomy.schedule import UNKNOWN
from tokenomy.autonomy.shell import SHELLS, SUBST

__all__ = ["CWD", "floors", "here", "read_floor", "tool_paths", "write_floor"]

MAX_PATCH_CHARS = 256_000


CWD: ContextVar[str | None] = ContextVar("tokenomy_classify_cwd", default=None)
"""The absolute working directory relative paths resolve against while one command is classified."""


def here(norm: str) -> str:
    """``norm`` resolved against the working directory when one is known (absolute) and it is relative."""
    cwd = CWD.get()
    if cwd is None or norm.startswith("/"):
        return norm
    return posixpath.normpath(posixpath.join(cwd, norm))


def write_floor(path: str, who: str) -> tuple[str, str] | None:
    """The class a write to ``path`` has at least (None: an ordinary file)."""
    if path.startswith(("/dev/tcp/", "/dev/udp/")):
        return "network_send", f"{who} to a network socket {path}"
    norm = pth.normalise(path)
    if norm is None:
        return UNKNOWN, f"{who} to a path computed at run time {path}"
    norm = here(norm)
    if is_raw_device(norm):
        return "destroy", f"{who} to raw device {path}"
    if is_dangerous(norm) or is_system_file(norm):
        return "destroy", f"{who} into a system path {path}"
    kind = pth.path_kind(norm) if pth.mentions_sensitive(norm) else None
    if kind is not None:
        return "persistence", f"{who} to {path} ({'runs later' if kind == 'persist' else 'credentials'})"
    return None


def read_floor(path: str, who: str) -> tuple[str, str] | None:
    if path.startswith(("/dev/tcp/", "/dev/udp/")):
        return "network_send", f"{who} from a network socket {path}"
    if not pth.mentions_sensitive(path):
        return None
    norm = pth.normalise(path.lstrip("@"))
    if norm is not None and pth.path_kind(here(norm)) == "secret":
        return "secret_read", f"{who} reads credentials {path}"
    return None


_SECRET_VAR = re.compile(r"\$\{?[A-Z0-9_]*(SECRET|TOKEN|PASSW|API_?KEY|ACCESS_KEY|PRIVATE|CREDENTIAL)")
_SAFE_ENV = words_set("PATH HOME PWD SHELL USER LANG TERM VIRTUAL_ENV PYTHONPATH CONDA_PREFIX")
PRIV_WRAPPERS = frozenset(("sudo", "doas", "pkexec", "run0"))
_SETUID = re.compile(r"^([ugoa]*[+=][rwxXt]*s|[2-7][0-7]{3})$")
_CODE_RUNNERS = frozenset(
    (*SHELLS, "source", ".", "python", "python3", "python2", "perl", "ruby", "node", "php")
)
_CODE_FLAGS = frozenset(("-c", "-e", "-E", "-r", "--eval", "-p", "--print"))


_SECRET_CLI = re.compile(
    r"\bkubectl\b.*\b(get|describe|edit)\s+(secrets?|secret/\S+)\b|\bsecretsmanager\s+get-secret-value\b"
    r"|\bssm\s+get-parameters?\b.*--with-decryption|\bgcloud\s+secrets\s+versions\s+access\b"
    r"|\bvault\s+(kv\s+)?(get|read)\b|\bop\s+(read|item\s+get)\b|\bsecurity\s+find-\w+-password\b"
    r"|\baz\s+keyvault\s+secret\s+show\b"
)
_SECRET_CLI_WORDS = ("kubectl", "secretsmanager", "ssm", "gcloud", "vault", "op", "security", "keyvault")
"""A literal each alternative of ``_SECRET_CLI`` contains (the expression is tried only when one is there)."""
_SECRET_CLI_WORD = re.compile("|".join(_SECRET_CLI_WORDS))  # any of them, in one pass
_RECURSIVE_FLAG = re.compile(r"-[a-zA-Z]*[rR][a-zA-Z]*|--recursive")
_RECURSIVE_READERS = words_set("grep egrep fgrep rg ag ack cp scp rsync tar zip 7z find du")


@functools.lru_cache(maxsize=1024)
def _home_root(arg: str) -> bool:
    """Whether ``arg`` is a whole home folder, the root, or a credential folder."""
    n = pth.normalise(arg)
    if n is None:
        return False
    n = n.rstrip("/") or "/"
    return n in ("/", pth.HOME, "/root", "/home") or (n.startswith("/home/") and n.count("/") == 2)


_CONTAINER_CLIS = frozenset(("docker", "podman", "nerdctl", "ctr"))
_HOST_FLAG = re.compile(
    r"^--(privileged|(pid|ipc|userns|uts|cgroupns)=host|cap-add=?(SYS_ADMIN|ALL|SYS_PTRACE|SYS_MODULE|DAC_READ_SEARCH)"
    r"|security-opt=?(apparmor|seccomp|label)[=:](unconfined|disable)|device=?/dev/)",
    re.IGNORECASE,
)
_ESCAPE_PROGS = words_set("nsenter chroot unshare mount insmod modprobe rmmod pivot_root")


def _escape(prog: str, args: list[str]) -> tuple[str, str] | None:
    """A container started with the host's powers (or a namespace/mount escape): privilege."""
    if prog in _ESCAPE_PROGS:
        return "privilege", f"{prog} leaves the sandbox's namespaces or mounts"
    if prog not in _CONTAINER_CLIS or not {"run", "create", "exec"} & set(args[:4]):
        return None
    for prev, a in zip(["", *args], args, strict=False):
        if _HOST_FLAG.match(a) or (prev in ("--cap-add", "--device") and a.upper() in ("SYS_ADMIN", "ALL")):
            return "privilege", f"container with host powers ({a})"
        vol = a.split("=", 1)[1] if a.startswith(("--volume=", "-v=", "--mount=")) else a
        if prev in ("-v", "--volume", "--mount") or vol is not a:
            src = vol.split(":")[0] if "source=" not in vol else vol.split("source=")[1].split(",")[0]
            n = pth.normalise(src)
            if (
                n is None
                or n in ("/", pth.HOME)
                or is_dangerous(n)
                or n.endswith("docker.sock")
                or (n.startswith("/home/") and n.count("/") <= 2)
            ):
                return "privilege", f"container mounts the host's {src}"
    return None


def floors(prog: str, raw: list[str], words: list[str], simple: str) -> list[tuple[str, str]]:
    """Classes a part has at least whatever its program: secrets, privilege, persistence, network."""
    found: list[tuple[str, str]] = []
    args = words[1:]
    escape = _escape(prog, args) if prog in _CONTAINER_CLIS or prog in _ESCAPE_PROGS else None
    if escape is not None:
        found.append(escape)
    if prog == "su":
        found.append(("privilege", "su runs as another user"))
    joined = " ".join([prog, *args])
    if _SECRET_CLI_WORD.search(joined) is not None and _SECRET_CLI.search(joined):  # after quotes, escapes
        found.append(("secret_read", "a secrets manager or cluster secret is read"))
    if (
        prog in _RECURSIVE_READERS
        and (
            prog in ("rg", "ag", "find", "tar", "zip", "7z", "rsync", "du")
            or any(a.startswith("-") and _RECURSIVE_FLAG.fullmatch(a) for a in args)
        )
        and any(_home_root(a) for a in args)
    ):
        found.append(("secret_read", f"{prog} reads a whole home folder (its credentials included)"))
    if prog == "tar" and any(is_raw_device(a.split("=", 1)[-1]) for a in args):
        found.append(("destroy", "tar writes an archive onto a raw device"))
    if prog in ("kill", "killall5") and (prog == "killall5" or (len(args) >= 2 and args[-1] in ("-1", "1"))):
        found.append(("destroy", f"{prog} signals every process (or init)"))
    if (
        raw[0].rsplit("/", 1)[-1] in PRIV_WRAPPERS  # (no wrapper words: only the program itself)
        if len(raw) == len(words)
        else any(w.rsplit("/", 1)[-1] in PRIV_WRAPPERS for w in raw[: len(raw) - len(words) + 1])
    ):
        found.append(("privilege", "runs as another user (sudo/doas)"))
    if prog in PRIV_PROGS or (prog in ("chmod",) and any(_SETUID.match(a) for a in args)):
        found.append(("privilege", f"{prog} changes users or sets setuid/capabilities"))
    if prog in ("chown", "chgrp") and any(a.split(":")[0] in ("root", "0") for a in args[:2]):
        found.append(("privilege", f"{prog} to root"))
    if prog in NET_PROGS or "/dev/tcp/" in simple or "/dev/udp/" in simple:
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
            floor = read_floor(a.rsplit("=", 1)[-1], prog)
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


_PATH_ARGS = ("file_path", "path", "notebook_path", "filename", "file")
_MORE_PATH_ARGS = (
    "source",
    "destination",
    "dest",
    "target",
    "src",
    "dst",
    "new_path",
    "old_path",
    "target_file",
)
_PATCH_PATH = re.compile(r"^\*\*\* (?:Add|Update|Delete) File: (.+)$|^\*\*\* Move to: (.+)$", re.MULTILINE)


def tool_paths(arguments: Mapping[str, Any]) -> list[str]:
    """Every path a file tool's arguments name: path keys, lists of paths, and an apply_patch text's files."""
    out = [v for k in (*_PATH_ARGS, *_MORE_PATH_ARGS) if isinstance(v := arguments.get(k), str)]
    for k in ("paths", "files", "file_paths"):
        v = arguments.get(k)
        if isinstance(v, list):
            out += [x for x in v[:1000] if isinstance(x, str)]
    for k in ("input", "patch", "diff"):
        v = arguments.get(k)
        if isinstance(v, str) and "*** " in v:
            out += [(m.group(1) or m.group(2)).strip() for m in _PATCH_PATH.finditer(v[:MAX_PATCH_CHARS])]
    return out
