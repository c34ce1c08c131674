"""Where a path in a command really points, and what lives there: the classifier's path rules.

A path can hide its target: ``/tmp/../etc``, ``~root``, ``$HOME/.bashrc``, ``${TARGET}``, brace
expansion ``/{etc,usr}``, ``${IFS}`` for a space. :func:`normalise` resolves what can be read off the
text without running anything (``..`` segments, ``~``, ``~user``, ``$HOME``) and returns ``None`` for
a path that holds any other variable: the caller fails closed on it. :func:`expand_braces` expands
unquoted brace lists the way the shell would. :func:`path_kind` says whether a resolved path is a
credential (``secret``) or a file that makes code run later (``persist``: shell rc files,
``authorized_keys``, cron, systemd units, git hooks). This module knows paths only; the classes
they lead to are chosen in :mod:`tokenomy.autonomy.classify`. It does not follow symlinks or know
the working directory: a relative path that climbs three or more levels is read as from ``/``.
"""

from __future__ import annotations

import fnmatch
import functools
import posixpath
import re

__all__ = [
    "HOME",
    "UP_ONLY",
    "cwd_is_dangerous",
    "expand_braces",
    "expand_ifs",
    "is_dangerous",
    "is_raw_device",
    "is_system_file",
    "mentions_sensitive",
    "normalise",
    "path_kind",
]

HOME = "/home/~"
"""The agent's own home folder after normalisation (``~``, ``$HOME``, ``${HOME}``)."""

_VAR = re.compile(r"\$\{?[A-Za-z_@*#?!0-9-]")
_HOME_VAR = re.compile(r"\$\{HOME\}|\$HOME(?![A-Za-z0-9_])")
_IFS = re.compile(r"\$\{IFS\}|\$IFS(?![A-Za-z0-9_])")
_BRACE = re.compile(r"\{([^{}\s]*,[^{}\s]*)\}")
_SECRET = (
    "/home/*/.ssh/id_*", "/home/*/.ssh/*_key", "/home/*/.aws/credentials", "/home/*/.aws/config",
    "/home/*/.aws", "/home/*/.netrc", "/home/*/.git-credentials", "/home/*/.docker/config.json",
    "/home/*/.kube/config", "/home/*/.config/gh/hosts.yml", "/home/*/.pgpass", "/home/*/.gnupg*",
    "/home/*/.npmrc", "/home/*/.pypirc", "/home/*/.config/gcloud*", "/home/*/.azure*",
    "/run/secrets/*", "/var/run/secrets/*", "/etc/shadow", "/etc/gshadow", "/etc/sudoers",
    "/proc/*/environ", "/etc/ssh/ssh_host_*", "/home/*/.ssh", "/home/*/.mozilla/*logins.json",
    "*/key4.db", "*/Login Data", "/home/*/.password-store*", "/home/*/.vault-token",
    "*.pem", "*/id_rsa", "*/id_ed25519", "*/id_ecdsa",
)  # fmt: skip
_PERSIST = (
    "/home/*/.bashrc", "/home/*/.bash_profile", "/home/*/.bash_login", "/home/*/.bash_logout",
    "/home/*/.profile", "/home/*/.zshrc", "/home/*/.zprofile", "/home/*/.zshenv", "/home/*/.zlogin",
    "/home/*/.config/fish/*", "/home/*/.ssh/authorized_keys*", "/home/*/.ssh/config",
    "/home/*/.ssh/rc", "/home/*/.config/systemd/*", "/home/*/.config/autostart/*",
    "/home/*/.gitconfig", "/home/*/.config/git/*", "/etc/cron*", "/var/spool/cron*", "/etc/systemd/*",
    "/etc/profile*", "/etc/bash.bashrc", "/etc/rc.local", "/etc/init.d/*", "/etc/ld.so.preload",
    "/lib/systemd/*", "/usr/lib/systemd/*", "*/.git/hooks/*", ".git/hooks/*", "*/.git/config",
    ".git/config", "/home/*/.local/bin/*", "/etc/sudoers.d/*",
)  # fmt: skip
_ENV_FILE = re.compile(r"(^|/)\.env(\.[\w-]+)?$")
_ENV_SAFE = re.compile(r"\.env\.(example|sample|template|dist|defaults)$")
_HINT = re.compile(
    r"\.ssh|\.aws|\.netrc|credentials|\.env|shadow|sudoers|environ|\.kube|\.docker|\.gnupg|hosts\.yml|"
    r"secrets|\.pgpass|\.npmrc|\.pypirc|gcloud|\.azure|\.pem|id_rsa|id_ed25519|id_ecdsa|rc\b|profile|"
    r"authorized_keys|cron|systemd|autostart|hooks|ld\.so\.preload|init\.d|rc\.local|gitconfig|"
    r"\.zsh|\.bash|fish|\.config/git|ssh_host|\.git/config|\.local/bin|logins\.json|key4\.db|Login Data|"
    r"password-store|vault-token|sudoers"
)


_HINT_LITERALS = tuple(
    alt.replace("\\.", ".") for alt in _HINT.pattern.split("|") if alt != r"rc\b"
)  # every alternative of _HINT but one is a literal
_HINT_LITERAL = re.compile(
    "|".join(map(re.escape, _HINT_LITERALS))
)  # one pass over the text (a substring test each)
_RC_WORD = re.compile(r"rc\b")


@functools.lru_cache(maxsize=1024)
def mentions_sensitive(text: str) -> bool:
    """A cheap pre-check: whether ``text`` may name a secret or persistence path at all (``_HINT``
    matches; the last 1,024 answers are kept: the session state and the classifier ask about the
    same parts)."""
    if _HINT_LITERAL.search(text) is not None:
        return True
    return "rc" in text and _RC_WORD.search(text) is not None


def expand_ifs(text: str) -> str:
    """``${IFS}`` / ``$IFS`` read as the space they stand for."""
    return _IFS.sub(" ", text) if "IFS" in text else text


def expand_braces(words: list[str]) -> list[str]:
    """Unquoted brace lists expanded (``/{etc,usr}`` -> ``/etc /usr``; ``{rm,-rf,/}`` -> three words)."""
    out: list[str] = []
    for w in words:
        todo = [w]
        while todo:
            cur = todo.pop(0)
            m = _BRACE.search(cur) if "{" in cur else None
            if m is None or len(out) + len(todo) > 256:
                out.append(cur)
                continue
            todo[:0] = [cur[: m.start()] + alt + cur[m.end() :] for alt in m.group(1).split(",")]
    return out


@functools.lru_cache(maxsize=2048)
def normalise(word: str) -> str | None:
    """The path ``word`` names, resolved as far as the text allows; None when a variable hides it.

    ``~`` and ``$HOME`` become :data:`HOME`, ``~user`` ``/home/user`` (``~root`` ``/root``), ``..`` segments
    are folded, a relative path that climbs three or more levels is read from ``/``.
    """
    w = word.strip("'\"")
    if "$" in w:
        w = _HOME_VAR.sub("~", w)
        if _VAR.search(w):
            return None
    if w.startswith("~"):
        user, _, rest = w[1:].partition("/")
        base = HOME if not user else ("/root" if user == "root" else f"/home/{user}")
        w = base + ("/" + rest if rest else "")
    if w.startswith("/"):
        return "/" + posixpath.normpath(w).lstrip("/") if w not in ("/", "/*") else w
    if ".." in w:
        n = posixpath.normpath(w)
        ups = 0
        while n == ".." or n.startswith("../"):
            n, ups = n[3:], ups + 1
        return "/" + n if ups >= 3 else posixpath.normpath(w)
    return w


_SECRET_EXAMPLES = (
    "/home/~/.ssh/id_rsa", "/home/~/.ssh/id_ed25519", "/home/~/.aws/credentials", "/home/~/.netrc",
    "/home/~/.git-credentials", "/home/~/.docker/config.json", "/home/~/.kube/config", "/etc/shadow",
    "/etc/ssh/ssh_host_rsa_key", "/run/secrets/token", "/home/~/.config/gh/hosts.yml", "/proc/self/environ",
    "/home/~/.pgpass", "/home/~/.npmrc", "/home/~/.pypirc",
)  # fmt: skip
"""Credential files a glob may name (``cat ~/.ssh/*``): a glob that matches one reads credentials."""


def path_kind(path: str) -> str | None:
    """``"secret"`` (credentials), ``"persist"`` (runs code later) or None, for a normalised path."""
    p = "/home/root" + path[5:] if path.startswith("/root/") else path
    if any(c in p for c in "*?[") and any(fnmatch.fnmatchcase(x, p) for x in _SECRET_EXAMPLES):
        return "secret"
    if any(fnmatch.fnmatchcase(p, pat) for pat in _PERSIST):
        return "persist"
    if any(fnmatch.fnmatchcase(p, pat) for pat in _SECRET):
        return "secret"
    if _ENV_FILE.search(p) and not _ENV_SAFE.search(p):
        return "secret"
    return None


_DANGEROUS_TARGETS = frozenset({"/", "~", "$HOME", "${HOME}", "/*", "~/*", "$HOME/*", "${HOME}/*"})
UP_ONLY = re.compile(r"^\.\.(/\.\.)*(/\*?)?$")
"""A path made only of ``..`` segments (``..``, ``../..``, ``../../*``): it climbs out of the work."""
_SYSTEM_DIRS = ("/etc", "/usr", "/bin", "/sbin", "/boot", "/lib", "/lib64", "/sys", "/proc", "/dev")
"""Deleting anything under these is ``destroy``; /home, /root, /var, /opt only as a whole."""
_TOP_DIRS = ("/home", "/root", "/var", "/opt")


def _norm_path(target: str) -> str:
    t = target.strip("'\"")
    if t.startswith("/") and ("/." in t or "//" in t):
        t = "/" + posixpath.normpath(t).lstrip("/") + ("/*" if t.endswith("/*") else "")
    return t if t in ("/", "/*") else t.rstrip("/") or "/"


def is_dangerous(target: str) -> bool:
    t = _norm_path(target)
    if t in _DANGEROUS_TARGETS or UP_ONLY.match(t) or any(t in (d, d + "/*") for d in _TOP_DIRS):
        return True
    if t[:1] in ("~", "$") or "/.." in t or t.startswith("../"):
        n = normalise(t)
        if n is None or n == t:
            return False
        return is_dangerous(n) if n != t else False
    if t.startswith("/home/") and t.rstrip("*").rstrip("/").count("/") == 2:
        return True  # a whole home folder
    if t.startswith("/usr/src/") and t.count("/") >= 4:
        return False  # /usr/src/app/build: a container's project folder, not the system
    return any(t == d or t.startswith(d + "/") or t == d + "/*" for d in _SYSTEM_DIRS)


def cwd_is_dangerous(cwd: str) -> bool:
    """Whether a relative recursive delete run in ``cwd`` (normalised) reaches the system or a whole home."""
    if UP_ONLY.match(cwd):
        return False  # ``..`` of the project: the classifier reads it as the project's parent
    if cwd.startswith("/usr/src/") and cwd.rstrip("/").count("/") >= 3:
        return False  # /usr/src/app: a container's project folder
    return is_dangerous(cwd)


def is_system_file(path: str) -> bool:
    """Under a system folder other than /dev (where /dev/null, /dev/stdout are harmless sinks)."""
    t = _norm_path(path)
    if t.startswith("/usr/src/") and t.count("/") >= 4:
        return False  # /usr/src/app/out.txt: a container's project folder, not the system
    return any(t.startswith(d + "/") for d in _SYSTEM_DIRS if d not in ("/dev", "/proc"))


def is_raw_device(path: str) -> bool:
    return re.match(r"/dev/(sd|nvme|hd|disk|mem|xvd|vd)", path) is not None
