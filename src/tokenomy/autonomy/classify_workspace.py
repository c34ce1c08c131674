"""Workspace trust: the project's own test, build and lint runs, artefact clean-ups and declared
installs that the gate lets an agent do outside a sandbox, in a session that changed nothing a run
could execute.

Outside a sandbox the default schedule asks before ``execute``, ``install`` and ``delete_local``. This
module says which parts of a call are such work (:func:`vouch_part`, :func:`vouch_call`) and which
calls end the session's trust (:func:`workspace_unclean.unclean_parts`, :data:`ENTRY_POINTS`,
:func:`risky_text`); the
gate then judges a vouched call at the schedule's sandboxed level. Narrow trust, not clever matching:
what is not listed fails closed (asked). A call is vouched only when all of these hold:

* ``workspace_trust`` is on and the gate follows the session's state;
* the working directory is inside the workspace (relative to where the session started, without
  ``..``, or under ``GateContext.workspace``) and not in a folder of installed third-party code
  (``node_modules``, ``vendor``, ``.venv``, ``site-packages``); any ``cd`` in the call itself, in a
  subshell or not, names a plain folder inside the workspace;
* the session is clean. Trust ends for the rest of the session when it
  - writes any file but a plain document or data file (``*.md``, ``*.rst``, ``*.csv``, not a
    dotfile, not ``*.txt``): code, configuration, requirement lists, dotfiles, ``__init__.py``,
    ``go.mod``, ``.cargo/config.toml``, ``jest.config.js`` … (edit-then-run is not trusted: a scan of
    written code cannot be complete, so a run after a code edit is asked outside a sandbox);
  - writes through a file tool (its path may sit under a key the state does not read);
  - sets any variable (``X=1``, ``export``, ``declare``, ``set -a``, ``source``, ``env X=1``): runners
    read ``PYTEST_ADDOPTS``, ``MAKEFLAGS``, ``GOFLAGS``, ``npm_config_*``, ``PYTHONWARNINGS`` …;
  - changes files in a way the state does not follow: ``mv``/``cp``/``rsync``/``ln``/``tar``/``unzip``/
    ``patch``/``xxd``/``dd``, ``sort -o``, ``sed -i``/``sed w``, ``perl -i``, ``pip download``, ``git``
    checkout/switch/restore/stash/merge/pull/reset/am/cherry-pick/rebase/apply/mv, a move or patch
    tool — so an artefact name that now holds source is never removed unasked;
  - changes to a folder named by a variable, runs anything unvouched, reads a credential, writes
    risky or invisible text, or overflows the state;
* every part is read-only or vouched: a listed runner (``pytest``/``python -m pytest``, ``make`` with
  no target or ``test|tests|check|build|all|lint``, ``npm test``/``npm run test|build|lint[:x]``,
  ``cargo test|build|check|clippy``, ``go test|build|vet ./…``, ``tox``, ``nox``, linters, ``jest``
  …) with only its listed options (no config file, plugin, temporary folder, wrapper or exec option;
  ``pytest -p`` only as ``-p no:NAME``), no variable before it, no program path, no project script
  (``python x.py``, ``manage.py``, ``setup.py`` may deploy, upload or flush a database); ``rm`` of build
  artefacts (``build``, ``dist``, ``__pycache__``, ``node_modules``, caches, ``*.pyc`` … not
  ``target``, which is also a source folder) by plain relative paths; an install naming no package,
  no URL, index, constraint or config, ``-r`` only of a requirements file (``requirements*.txt``,
  ``requirements/*.in``) inside the workspace, ``-e`` only of the project itself, in a session that
  wrote no manifest or ``.txt``/``.in`` file.

What it assumes: code and files that were in the workspace before the session started are the
principal's (running its test suite runs its ``conftest.py``, ``Makefile``, ``package.json``
scripts; ``npm install`` runs the declared dependencies' install scripts; a project test
configuration that executes documents, such as doctests of ``*.md``, runs what the session wrote
there, which is scanned by :func:`risky_text` only), and the workspace holds no symbolic link out of
it. A workspace that may hold hostile code (a freshly cloned third-party repository) needs
``workspace_trust = false`` or a real sandbox. Reads text only.

The table of vouched runners and their options lives in :mod:`tokenomy.autonomy.workspace_runners`,
the risky words and fragments (:func:`risky_text`, re-exported here) in
:mod:`tokenomy.autonomy.workspace_text`.
"""

from __future__ import annotations

import functools
import posixpath
import re

from tokenomy.autonomy.shell import SHELLS, SUBST, split_parts, words
from tokenomy.autonomy.workspace_runners import _FLAGS, _runner
from tokenomy.autonomy.workspace_text import risky_text

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

_ASSIGN = re.compile(r"^[A-Za-z_]\w*=")
_PLAIN_WORD = re.compile(r"[^|;&$`<>(){}!~\\\n]*")

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
        "htmlcov",
        ".eggs",
        ".next",
        ".parcel-cache",
        ".gradle",
        "_build",
        ".hypothesis",
    ]
)
"""Regenerable artefact folders (not ``target``: it is also a common source folder; ``cargo clean``)."""
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
_INSTALL_FLAGS = frozenset(
    [
        "-q",
        "--quiet",
        "-v",
        "-U",
        "--upgrade",
        "--no-deps",
        "--require-hashes",
        "--no-cache-dir",
        "--disable-pip-version-check",
        "--no-input",
        "--no-audit",
        "--no-fund",
        "--prefer-offline",
        "--ignore-scripts",
        "--frozen-lockfile",
        "--immutable",
        "--frozen",
        "--locked",
        "--no-root",
        "--no-dev",
        "--all-extras",
        "--deployment",
        "--no-interaction",
        "-n",
    ]
)
_INSTALL_VALUES = frozenset(["--with", "--extras", "-E", "--extra", "--group", "--only", "--omit"])
_REQUIREMENTS = re.compile(
    r"([\w.-]*/)?(requirements|[\w-]*-requirements)[\w.-]*\.(txt|in)|requirements/[\w.-]+\.(txt|in)"
)
"""The relative paths ``pip install -r`` may name (a requirements file by its usual name)."""
MANIFESTS = re.compile(
    r"^(requirements[\w.-]*\.txt|constraints[\w.-]*\.txt|setup\.py|setup\.cfg|pyproject\.toml|package\.json|"
    r"package-lock\.json|npm-shrinkwrap\.json|yarn\.lock|pnpm-lock\.yaml|Pipfile(\.lock)?|poetry\.lock|uv\.lock|"
    r"Gemfile(\.lock)?|composer\.(json|lock)|\.npmrc|\.yarnrc(\.yml)?|pip\.conf|\.pypirc|.*\.(txt|in))$"
)
"""File names an install may read its package list or index from (any ``.txt``/``.in`` too): once
the session writes one, no install is vouched in that session."""
ENTRY_POINTS = re.compile(r"(?i)^(?![^.][^/]*\.(md|markdown|rst|csv|tsv|adoc|log)$)")
"""Written files that end workspace trust for the session: every name but a plain document or data
file (``*.md``, ``*.rst``, ``*.csv``, ``*.tsv``, ``*.adoc``, ``*.log``; not a dotfile; not ``*.txt``,
which a project's own Makefile or ``tox.ini`` may install from, ``-r deps.txt``). A runner
executes far more than a list of entry points can name (``.pytest.ini``, ``pytest.toml``,
``jest.config.js``, ``.cargo/config.toml``, ``go.mod``, ``__init__.py``, any module a test imports),
and a content scan of code cannot be complete, so a session that wrote code or configuration is not
vouched for: its runs are asked outside a sandbox."""


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


def _artefact(path: str, cwd: str | None) -> bool:
    parts = [p for p in posixpath.normpath(posixpath.join(cwd or ".", path)).split("/") if p not in ("", ".")]
    if not parts or "*" in "".join(parts[:-1]) or "?" in path or "[" in path:
        return False
    if parts[-1] == "*" and len(parts) >= 2:
        return any(p in _ARTEFACT_DIRS for p in parts[:-1])
    return any(p in _ARTEFACT_DIRS for p in parts) or _ARTEFACT_FILE.match(parts[-1]) is not None


def _install(prog: str, args: list[str], cwd: str | None, workspace: str | None) -> bool:
    """An install of what the project declares: no package named, no URL, no index, constraint or
    editable path but the project itself, ``-r`` only of a requirements file inside the workspace."""
    if prog.startswith("python") and args[:2] == ["-m", "pip"]:
        prog, args = "pip", args[2:]
    subs = _INSTALLERS.get(prog)
    if subs is None or any("://" in a or a.startswith("git+") or "@" in a for a in args):
        return False
    first = next((a for a in args if not a.startswith("-")), None)
    if prog == "yarn" and first is None:
        return all(a in _INSTALL_FLAGS or a in _FLAGS for a in args)  # bare `yarn` installs the lockfile
    if first not in subs:
        return False
    rest = args[args.index(first) + 1 :]
    i = 0
    while i < len(rest):
        a = rest[i]
        nxt = rest[i + 1] if i + 1 < len(rest) else ""
        if a in ("-r", "--requirement") and prog.startswith("pip"):
            if _REQUIREMENTS.fullmatch(nxt) is None or not inside(nxt, cwd, workspace):
                return False
            i += 1
        elif a in ("-e", "--editable") and prog.startswith("pip"):
            if not _project_dir(nxt):
                return False
            i += 1
        elif a.partition("=")[0] in _INSTALL_VALUES:
            i += 0 if "=" in a else 1
        elif a.startswith("-"):
            if a not in _INSTALL_FLAGS and a not in _FLAGS:
                return False  # an index, a constraint, a target, a config: not the project's declaration
        elif not (prog.startswith("pip") and _project_dir(a)):
            return False  # a package name
        i += 1
    return True


def _project_dir(a: str) -> bool:
    return re.fullmatch(r"\.(/)?(\[[\w,-]+\])?", a) is not None


_WRAPPERS = frozenset(("timeout", "nohup", "time", "nice", "env"))
_NULL_REDIRECT = re.compile(r"\d?>&\d|&?\d?>>?/dev/null")


def _drop_null_redirects(ws: list[str]) -> list[str]:
    """``ws`` without output thrown away or joined (``> /dev/null``, ``2>&1``); other redirects stay."""
    out: list[str] = []
    skip = False
    for i, w in enumerate(ws):
        if skip:
            skip = False
        elif re.fullmatch(r"&?\d?>>?", w) and ws[i + 1 : i + 2] == ["/dev/null"]:
            skip = True
        elif _NULL_REDIRECT.fullmatch(w) is None:
            out.append(w)
    return out


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
    ws = _drop_null_redirects(words(text))
    if any(_ASSIGN.match(w) for w in ws[:1]):
        return ""  # a variable for the run (PYTEST_ADDOPTS, MAKEFLAGS, GOFLAGS, npm_config_*): asked
    while ws and ws[0] in _WRAPPERS:
        prog = ws[0]
        ws = ws[2:] if prog == "timeout" and len(ws) > 1 and not ws[1].startswith("-") else ws[1:]
        while ws and ws[0].startswith("-"):
            if prog == "env" and ws[0] not in ("-i", "--ignore-environment"):
                return ""  # env -S, -u, -C: a changed environment or folder
            ws = ws[1:]
        if ws and _ASSIGN.match(ws[0]):
            return ""
    if not ws:
        return ""
    prog, args = ws[0].rsplit("/", 1)[-1], ws[1:]
    if "/" in ws[0] and not ws[0].startswith(("/usr/bin/", "/usr/local/bin/", "/bin/")):
        return ""  # a program by path (./pytest, bin/run): not a known runner
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


_CD = frozenset(("cd", "pushd", "popd", "chdir"))
_THIRD_PARTY = frozenset(
    ("node_modules", "vendor", "site-packages", "dist-packages", ".venv", "venv", ".tox")
)


def _plain_cd(text: str, cwd: str | None, workspace: str | None) -> bool:
    """Whether a ``cd`` stays in a folder named by a plain path inside the workspace."""
    if SUBST in text:
        return False
    ws = words(text)
    target = ws[1:]
    return (
        len(target) == 1
        and not target[0].startswith("-")
        and inside(target[0], cwd, workspace)
        and not _THIRD_PARTY.intersection(target[0].split("/"))
    )


def vouch_call(
    parts: tuple[tuple[str, str, str], ...],
    cwd: str | None,
    workspace: str | None,
    *,
    installs: bool,
    written: tuple[tuple[str, str, str], ...] = (),
) -> str:
    """Why every part of a call is read-only or vouched project work ("" when one is not).

    ``written`` are the parts the session state adds for the content of a file the session wrote and
    the call runs: none is vouched for (a session that wrote code is unclean before it gets here).
    A ``cd`` in the call (in a subshell or not) must name a plain folder inside the workspace.
    """
    if not cwd_inside(cwd, workspace) or written or _THIRD_PARTY.intersection((cwd or "").split("/")):
        return ""  # (a folder of installed third-party code is not the project's)
    reasons = []
    for text, cls, _ in parts:
        prog = text.split(None, 1)[0] if text.strip() else ""
        if prog in _CD and not _plain_cd(text, cwd, workspace):
            return ""
        if cls in VOUCHABLE:
            why = vouch_part(text, cls, cwd, workspace, installs=installs)
            if not why:
                return ""
            reasons.append(why)
        elif cls not in _READ_ONLY:
            return ""
    return "; ".join(dict.fromkeys(reasons))


_READ_ONLY = frozenset(("read", "compute", "respond", "defer", "draft"))
