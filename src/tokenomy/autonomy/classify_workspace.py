"""Workspace trust: the project's own test and build runs, artefact clean-ups and lockfile installs that
the gate lets an agent do outside a sandbox.

Outside a sandbox the default schedule asks before ``execute``, ``install`` and ``delete_local``. Most
such calls in everyday work are the project's own tools run on the project's own code (``pytest``,
``make test``, ``npm test``, ``cargo build``, ``python reproduce.py``), removing regenerable artefacts
(``rm -rf build``) or installing what the project declares (``pip install -e .``, ``npm ci``). This
module says which parts of a call are such work (:func:`vouch_part`); the gate then judges the call at
the schedule's sandboxed level, when every one of these holds:

* the schedule's ``workspace_trust`` is on and the gate follows the session's state;
* the working directory is inside the workspace: the folder the session started in (relative paths
  without ``..``), or under ``GateContext.workspace`` when given;
* the session is clean (:func:`risky_text`, checked by the state on everything the session wrote): no
  file the session wrote holds code with a capability a test run does not need (process spawning,
  network, deletion, credential or home paths, file writes, decoding or dynamic evaluation), no file
  was written by a program whose output is not visible (``curl -o``, ``wget``, ``dd``, code naming
  it), no credential was read, no symbolic link was made, nothing else was run that this module did
  not vouch for (an approved ``python -c``, an installed package), and the state has not overflowed;
* every part of the call is read-only or vouched: a known runner with a known subcommand, whose words
  are plain (no ``|;&$`<>(){}!~\\``, no ``..``, no absolute path outside the workspace, no risky
  token); ``rm`` of build artefacts only (``build``, ``dist``, ``__pycache__``, ``node_modules``,
  ``target``, caches, ``*.pyc``, ``*.o`` …) by plain relative paths; an install with no package named
  and no index or registry flag, from manifests the session did not write.

What it assumes: code and files that were in the workspace before the session started are the
principal's (as trusted as the project itself: running its test suite runs its ``conftest.py``, its
``Makefile``, its ``package.json`` scripts; ``npm install`` runs the declared dependencies' install
scripts), and the workspace holds no symbolic link out of it. A workspace that may hold hostile code
(a freshly cloned third-party repository) needs ``workspace_trust = false`` or a real sandbox. Reads
text only.
"""

from __future__ import annotations

import functools
import posixpath
import re

from tokenomy.autonomy.shell import SHELLS, SUBST, split_parts, words

__all__ = [
    "ENTRY_POINTS",
    "MANIFESTS",
    "NO_RUN",
    "VOUCHABLE",
    "cwd_inside",
    "inside",
    "risky_text",
    "vouch_part",
]

VOUCHABLE = frozenset(("execute", "install", "delete_local"))
"""Classes whose parts :func:`vouch_part` may vouch for."""
NO_RUN = frozenset(("read", "compute", "respond", "defer", "draft", "commit", "delete_local"))
"""Classes whose parts may run unvouched without making the session unclean (no code runs)."""

# What a written file, or a runner's argument, may not hold for the workspace rules to vouch: words
# (identifiers, matched whole on the lower-cased text) and fragments (matched anywhere). A word list
# and substring tests instead of one expression: one pass over a file, however long.
_RISKY_WORDS = frozenset(
    """system popen popen2 popen3 spawn spawnl spawnlp spawnv spawnvp execv execve execvp execl execlp
    execle execsync execfilesync spawnsync child_process shell_exec passthru proc_open eval exec
    __import__ importlib getattr setattr globals ctypes cffi marshal pickle dill socket urllib
    urllib2 urllib3 requests httpx aiohttp urlopen fetch xmlhttprequest websocket smtplib ftplib
    paramiko telnetlib pty curl wget rmtree shutil unlink unlinksync rmdir rmsync removedirs symlink
    environ getenv putenv expanduser base64 b64decode codecs fromhex zlib bz2 lzma rot13 chr
    bytearray sudo crontab setuid writelines write_text write_bytes writefile writefilesync
    credentials credential secret secrets password passwd id_rsa authorized_keys hookspath bashrc
    netrc home scp rsync sftp ftp ncat netcat socat telnet ssh gsutil kubectl docker mkfs shred
    pkill killall subprocess pexpect execa shelljs plumbum execfile spawnvpe posix_spawn""".split()  # noqa: SIM905
)
_RISKY_FRAGMENTS = (
    "os.remove", "os.rename", "os.replace", "os.kill", "os.chmod", "os.chown", "os.link", "os.fork",
    "os.startfile", ".write(", "fs.rm", "~", "/etc/", "/proc/", ".ssh", ".aws", ".env",
    ".git/hooks", "[::-1]", "\\x", "\\u00", "http.client", "process.env", "commands.", "rm -", "|sh",
    "| sh", "|bash", "| bash", "decode(", "$(", "new function", "/dev/tcp", "/dev/udp", "/dev/sd",
    "/dev/nvme", "/dev/mem",
)  # fmt: skip
_IDENT = re.compile(r"[a-z_][a-z0-9_]*")
_ASSIGN = re.compile(r"^[A-Za-z_]\w*=")
_PLAIN_WORD = re.compile(r"[^|;&$`<>(){}!~\\\n]*")

_TEST_TOOLS = frozenset(
    [
        "pytest",
        "py.test",
        "tox",
        "nox",
        "mypy",
        "ruff",
        "flake8",
        "pylint",
        "black",
        "isort",
        "pyright",
        "unittest",
        "jest",
        "vitest",
        "mocha",
        "rspec",
        "phpunit",
        "ctest",
        "ninja",
    ]
)
_SUBCOMMANDS: dict[str, frozenset[str]] = {
    "make": frozenset(),  # any target of the project's Makefile
    "npm": frozenset(["test", "t", "run", "run-script", "build"]),
    "yarn": frozenset(["test", "run", "build"]),
    "pnpm": frozenset(["test", "run", "build"]),
    "cargo": frozenset(["build", "test", "check", "run", "bench", "clippy", "fmt", "doc"]),
    "go": frozenset(["test", "build", "vet", "run", "fmt"]),
    "mvn": frozenset(["test", "compile", "package", "verify"]),
    "gradle": frozenset(["test", "build", "check", "assemble", "compileJava"]),
    "gradlew": frozenset(["test", "build", "check", "assemble", "compileJava"]),
    "dotnet": frozenset(["build", "test"]),
    "swift": frozenset(["build", "test"]),
    "rake": frozenset(["test", "spec"]),
}
_PY_MODULES = frozenset(
    [
        "pytest",
        "unittest",
        "tox",
        "nox",
        "mypy",
        "ruff",
        "flake8",
        "pylint",
        "black",
        "isort",
        "doctest",
        "compileall",
    ]
)
_PY_FLAGS = frozenset(["-u", "-B", "-O", "-OO", "-q", "-s", "-b", "-bb"])
_SCRIPT_EXT = (".py", ".sh", ".js", ".mjs", ".cjs", ".ts", ".rb", ".pl")
_ARTEFACT_DIRS = frozenset(
    [
        "build",
        "dist",
        "__pycache__",
        ".pytest_cache",
        ".mypy_cache",
        ".ruff_cache",
        ".tox",
        ".nox",
        "node_modules",
        "target",
        "htmlcov",
        ".eggs",
        ".next",
        ".parcel-cache",
        ".gradle",
        "_build",
        ".hypothesis",
    ]
)
_ARTEFACT_FILE = re.compile(
    r"^(\*|[\w.-]*)\.(pyc|pyo|o|obj|class|egg-info)$|^\.coverage(\.[\w.-]+)?$|^coverage\.xml$"
)
_INSTALLERS: dict[str, frozenset[str]] = {
    "pip": frozenset(("install",)),
    "pip3": frozenset(("install",)),
    "npm": frozenset(["install", "i", "ci"]),
    "pnpm": frozenset(("install", "i")),
    "yarn": frozenset(("install",)),
    "poetry": frozenset(("install",)),
    "uv": frozenset(("sync",)),
    "pipenv": frozenset(("install", "sync")),
    "bundle": frozenset(("install",)),
    "composer": frozenset(("install",)),
}
_INDEX_FLAGS = re.compile(
    r"^--?(i|index|index-url|extra-index-url|find-links|f|registry|trusted-host|user|target|t|prefix|root|g|global|location)(=|$)"
)
MANIFESTS = re.compile(
    r"^(requirements[\w.-]*\.txt|constraints[\w.-]*\.txt|setup\.py|setup\.cfg|pyproject\.toml|package\.json|"
    r"package-lock\.json|npm-shrinkwrap\.json|yarn\.lock|pnpm-lock\.yaml|Pipfile(\.lock)?|poetry\.lock|uv\.lock|"
    r"Gemfile(\.lock)?|composer\.(json|lock)|\.npmrc|\.yarnrc(\.yml)?|pip\.conf|\.pypirc)$"
)
"""File names an install reads its package list or index from (an install is vouched only when the
session wrote none of them)."""
ENTRY_POINTS = re.compile(
    r"^(Makefile|GNUmakefile|makefile|[\w.-]+\.mk|Justfile|justfile|Rakefile|package\.json|tox\.ini|noxfile\.py|"
    r"setup\.py|setup\.cfg|pyproject\.toml|conftest\.py|pytest\.ini|sitecustomize\.py|usercustomize\.py|"
    r"[\w.-]+\.pth|build\.rs|Cargo\.toml|CMakeLists\.txt|build\.gradle(\.kts)?|pom\.xml|\.npmrc|\.envrc)$"
)
"""Files whose content a runner executes as commands or code before any test (a Makefile's recipes,
``package.json`` scripts, ``conftest.py``, a ``.pth`` file): once the session writes one, nothing
is vouched in that session."""


def risky_text(text: str) -> str:
    """A word or fragment of ``text`` naming a capability a project test run does not need ("" if none):
    process spawning, network, deletion, file writes, credential or home paths, decoding or dynamic
    evaluation (see ``_RISKY_WORDS`` and ``_RISKY_FRAGMENTS``); matched on the lower-cased text."""
    low = text.lower()
    for frag in _RISKY_FRAGMENTS:
        if frag in low:
            return frag
    hit = _RISKY_WORDS.intersection(_IDENT.findall(low))
    return min(hit) if hit else ""


def cwd_inside(cwd: str | None, workspace: str | None) -> bool:
    """Whether the working directory (None: where the session started) is inside the workspace."""
    if cwd is None:
        return True
    if cwd.startswith("/"):
        root = posixpath.normpath(workspace) if workspace else None
        full = posixpath.normpath(cwd)
        return root is not None and (full == root or full.startswith(root.rstrip("/") + "/"))
    return ".." not in cwd.split("/")


def inside(path: str, cwd: str | None, workspace: str | None) -> bool:
    """Whether ``path`` (a word as written; relative to ``cwd``) stays inside the workspace."""
    if not path or "~" in path or "$" in path or SUBST in path or "`" in path:
        return False
    if path.startswith("/"):
        return cwd_inside(path, workspace)
    return ".." not in path.split("/") and cwd_inside(cwd, workspace)


_RISKY_ENV = re.compile(
    r"^(LD_\w*|\w*PRELOAD\w*|NODE_OPTIONS|NODE_PATH|PYTHONSTARTUP|PYTHONHOME|PYTHONINSPECT|PYTHONUSERBASE|"
    r"BASH_ENV|ENV|PATH|PERL5OPT|PERL5LIB|RUBYOPT|RUBYLIB|GIT_\w*|PAGER|EDITOR|VISUAL|SHELL|HOME|IFS|PS4|"
    r"PROMPT_COMMAND|DYLD_\w*)$"
)


def env_risk(word: str, cwd: str | None, workspace: str | None) -> bool:
    """Whether the assignment ``word`` (``NAME=value``) changes what later programs load or run from
    outside the workspace (a preload, a startup file, ``PATH``, a value naming an outside path)."""
    name, _, value = word.partition("=")
    if _RISKY_ENV.match(name) is not None:
        return True
    return any(
        ("/" in v or v.startswith("~") or "$" in v) and not inside(v, cwd, workspace)
        for v in value.split(":")
    )


def _plain(ws: list[str], cwd: str | None, workspace: str | None) -> bool:
    for w in ws:
        bare = w[:-4] if w.endswith("/...") else w  # (Go's ./... names the local packages)
        if _PLAIN_WORD.fullmatch(w) is None or ".." in bare or risky_text(w):
            return False
        if w.startswith("-") and "/" in w and "=" not in w:
            return False  # a path glued to an option (-c/tmp/x.ini, -f../Makefile): not read, refused
        path = w.split("=", 1)[1] if w.startswith("-") and "=" in w else w
        if "/" in path and not inside(path, cwd, workspace):
            return False
    return True


def _runner(prog: str, args: list[str]) -> bool:
    """Whether ``prog args`` is a known project runner with a known subcommand."""
    if prog in _TEST_TOOLS:
        return True
    if prog == "coverage":
        return args[:1] in (["run"], ["report"], ["html"], ["xml"], ["combine"])
    subs = _SUBCOMMANDS.get(prog)
    if prog == "go" and any(not a.startswith((".", "-")) for a in args[1:]):
        return False  # a package path that is not local may be fetched and run
    if subs is not None:
        first = next((a for a in args if not a.startswith("-")), None)
        return (
            not subs
            or first in subs
            or (
                prog in ("yarn", "pnpm")
                and first is not None
                and first not in ("add", "dlx", "exec", "create", "global", "link", "publish")
            )
        )
    if prog == "bundle":
        return args[:2] in (["exec", "rake"], ["exec", "rspec"])
    if prog.startswith("python") or prog in ("node", "ruby", "perl") or prog in SHELLS:
        i = 0
        while i < len(args) and args[i] in _PY_FLAGS:
            i += 1
        rest = args[i:]
        if prog.startswith("python") and rest[:1] == ["-m"]:
            return len(rest) > 1 and rest[1] in _PY_MODULES
        return bool(rest) and not rest[0].startswith("-") and rest[0].endswith(_SCRIPT_EXT)
    return False


def _artefact(path: str, cwd: str | None) -> bool:
    parts = [p for p in posixpath.normpath(posixpath.join(cwd or ".", path)).split("/") if p not in ("", ".")]
    if not parts or "*" in "".join(parts[:-1]) or "?" in path or "[" in path:
        return False
    if parts[-1] == "*" and len(parts) >= 2:
        return any(p in _ARTEFACT_DIRS for p in parts[:-1])
    return any(p in _ARTEFACT_DIRS for p in parts) or _ARTEFACT_FILE.match(parts[-1]) is not None


def _install(prog: str, args: list[str], cwd: str | None, workspace: str | None) -> bool:
    if prog.startswith("python") and args[:2] == ["-m", "pip"]:
        prog, args = "pip", args[2:]
    subs = _INSTALLERS.get(prog)
    if subs is None:
        return False
    first = next((a for a in args if not a.startswith("-")), None)
    if prog == "yarn" and first is None:
        return True  # bare `yarn` installs the lockfile
    if first not in subs:
        return False
    rest = args[args.index(first) + 1 :]
    skip = False
    for i, a in enumerate(rest):
        if skip:
            skip = False
            continue
        if _INDEX_FLAGS.match(a):
            return False
        if a in ("-r", "--requirement", "-c", "--constraint", "-e", "--editable"):
            nxt = rest[i + 1] if i + 1 < len(rest) else ""
            if not inside(nxt, cwd, workspace) or (a in ("-e", "--editable") and not _project_dir(nxt)):
                return False
            skip = True
        elif a.startswith("-"):
            continue
        elif not (prog.startswith("pip") and _project_dir(a)):
            return False  # a package name: not the project's own declaration
    return True


def _project_dir(a: str) -> bool:
    return re.fullmatch(r"\.(/)?(\[[\w,-]+\])?", a) is not None


@functools.lru_cache(maxsize=1024)
def vouch_part(
    text: str, cls: str, cwd: str | None, workspace: str | None, *, installs: bool = True, depth: int = 0
) -> str:
    """Why the simple command ``text`` (class ``cls``) is everyday project work ("" when it is not).

    Args:
        text: one simple command, as the classifier split it.
        cls: its class (only :data:`VOUCHABLE` classes can be vouched).
        cwd: the session's working directory (None: where it started).
        workspace: the workspace root, absolute (None: only relative paths are inside).
        installs: whether installs may be vouched (False once the session wrote a manifest).
    """
    if cls not in VOUCHABLE or depth > 2 or SUBST in text or "\n" in text:
        return ""
    ws = words(text)
    if any(_ASSIGN.match(w) and env_risk(w, cwd, workspace) for w in ws):
        return ""
    while ws and (
        ("=" in ws[0] and not ws[0].startswith("-")) or ws[0] in ("timeout", "nohup", "env", "time", "nice")
    ):
        ws = ws[1:] if not (ws[0] == "timeout" and len(ws) > 1) else ws[2:]
        while ws and ws[0].startswith("-"):
            ws = ws[1:]
    if not ws:
        return ""
    prog, args = ws[0].rsplit("/", 1)[-1], ws[1:]
    if "/" in ws[0] and not ws[0].startswith(("/usr/bin/", "/usr/local/bin/", "/bin/")):
        if not (
            inside(ws[0], cwd, workspace) and ws[0].endswith(_SCRIPT_EXT) and _plain(args, cwd, workspace)
        ):
            return ""
        return f"runs the project's script {ws[0]}"
    if prog in SHELLS and args[:1] and re.fullmatch(r"-[a-z]*c[a-z]*", args[0]) and len(args) == 2:
        inner = split_parts(args[1])
        reasons = [vouch_part(p.text, cls, cwd, workspace, installs=installs, depth=depth + 1) for p in inner]
        return reasons[0] if len(inner) == 1 and reasons[0] else ""
    if not _plain(args, cwd, workspace):
        return ""
    if cls == "execute" and _runner(prog, args):
        return f"the project's own {prog} run"
    if cls == "install" and installs and _install(prog, args, cwd, workspace):
        return f"{prog} installs what the project declares"
    if cls == "delete_local" and prog in ("rm", "rmdir", "unlink"):
        ops = [a for a in args if not a.startswith("-")]
        flags_ok = all(
            re.fullmatch(r"-[rRfvd]+|--recursive|--force|--verbose|--", a) for a in args if a.startswith("-")
        )
        if (
            ops
            and flags_ok
            and all(inside(o, cwd, workspace) and not o.startswith("/") and _artefact(o, cwd) for o in ops)
        ):
            return "removes build artefacts inside the workspace"
    return ""


def vouch_call(
    parts: tuple[tuple[str, str, str], ...],
    cwd: str | None,
    workspace: str | None,
    *,
    installs: bool,
    written: tuple[tuple[str, str, str], ...] = (),
) -> str:
    """Why every part of a call is read-only or vouched project work ("" when one is not).

    ``written`` are the parts the session state adds for the content of a script the session wrote
    and the call runs: ``execute`` content is accepted (the state has found nothing risky in what the
    session wrote, or the gate would not ask), anything more severe is not.
    """
    if not cwd_inside(cwd, workspace) or any(cls not in _READ_ONLY | {"execute"} for _, cls, _ in written):
        return ""
    reasons = []
    for text, cls, _ in parts:
        if cls in VOUCHABLE:
            why = vouch_part(text, cls, cwd, workspace, installs=installs)
            if not why:
                return ""
            reasons.append(why)
        elif cls not in _READ_ONLY:
            return ""
    return "; ".join(dict.fromkeys(reasons))


_READ_ONLY = frozenset(("read", "compute", "respond", "defer", "draft"))
_OUTSIDE_WORD = re.compile(r"^(/|~|\.\./)|/\.\./|^[\w.-]+@?[\w.-]*:[^/]|\$")


@functools.lru_cache(maxsize=1024)
def unclean_parts(parts: tuple[tuple[str, str, str], ...], vouched: bool) -> str:
    """Why a call makes its session unclean for later vouching ("" when it does not): it runs
    something unvouched, writes risky text, makes a link, or brings files in from outside."""
    for text, cls, _ in parts:
        if cls not in NO_RUN and not vouched:
            return f"ran {text[:80]!r} ({cls}) without a vouch"
        if "=" in text and any(
            _ASSIGN.match(w) and env_risk(w, None, None) for w in (words(text) if SUBST not in text else [])
        ):
            return f"set an environment variable that changes what programs load: {text[:80]!r}"
        if cls == "draft":
            token = risky_text(text)
            if token:
                return f"wrote text with {token!r}: {text[:80]!r}"
            ws = words(text) if SUBST not in text else ["$"]
            prog = ws[0].rsplit("/", 1)[-1] if ws else ""
            if prog == "ln":
                return f"made a link: {text[:80]!r}"
            if any(_OUTSIDE_WORD.search(w) for w in ws[1:] if w not in ("/dev/null", "-")):
                return f"names a path outside the workspace: {text[:80]!r}"
    return ""
