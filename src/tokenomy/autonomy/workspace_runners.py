"""Workspace runners: the test, build and lint runs :mod:`tokenomy.autonomy.classify_workspace`
vouches for outside a sandbox, with the only options each may take (:func:`_runner`).

A table of programs and their listed flags, options and targets, not a parser of each tool's
options: an option that is not listed (a config file, a plugin, a temporary folder, a wrapper, a
deploy target) fails closed, and the call is asked. It does not judge paths, variables or the
session's state; :func:`tokenomy.autonomy.classify_workspace.vouch_part` does. Reads text only.
"""

from __future__ import annotations

import re

__all__: list[str] = []

_FLAGS = frozenset(["-q", "-qq", "-v", "-vv", "-vvv", "--quiet", "--verbose"])
"""Options every vouched runner may take (no value, no path)."""
_RUNNERS: dict[str, tuple[frozenset[str], frozenset[str], frozenset[str]]] = {
    # program: (subcommands or targets, flags, options taking a value); an empty first set: none needed
    "pytest": (
        frozenset(),
        frozenset(
            ["-x", "-s", "-l", "-ra", "-rA", "-rf", "-rs", "-rx", "-rfE", "--lf", "--ff", "--nf", "--sw", "--co", "--collect-only", "--exitfirst", "--last-failed", "--failed-first", "--new-first", "--no-header", "--disable-warnings", "--strict-markers", "--showlocals", "--no-cov"]
        ),
        frozenset(["-k", "-m", "-n", "--maxfail", "--tb", "--durations", "--timeout", "-p"]),
    ),
    "tox": (frozenset(), frozenset(("-r", "--recreate", "-p", "--parallel")), frozenset(("-e",))),
    "nox": (frozenset(), frozenset(("-r", "-R", "--reuse-existing-virtualenvs")), frozenset(("-s", "-k"))),
    "mypy": (frozenset(), frozenset(("--strict", "--no-incremental")), frozenset()),
    "ruff": (frozenset(("check", "format")), frozenset(("--fix", "--diff", "--check", "--no-fix")), frozenset()),
    "flake8": (frozenset(), frozenset(), frozenset()),
    "pylint": (frozenset(), frozenset(), frozenset()),
    "black": (frozenset(), frozenset(("--check", "--diff")), frozenset()),
    "isort": (frozenset(), frozenset(("--check", "--check-only", "--diff")), frozenset()),
    "pyright": (frozenset(), frozenset(), frozenset()),
    "unittest": (frozenset(), frozenset(("-f", "-b", "-c", "discover")), frozenset(("-k",))),
    "jest": (frozenset(), frozenset(("--ci", "--coverage", "--runInBand", "-i")), frozenset(("-t",))),
    "vitest": (frozenset(), frozenset(("--run", "--coverage")), frozenset(("-t",))),
    "mocha": (frozenset(), frozenset(), frozenset()),
    "make": (frozenset(("", "test", "tests", "check", "build", "all", "lint")), frozenset(("-k", "-s", "--silent")), frozenset(("-j",))),
    "npm": (frozenset(("test", "t", "run", "run-script")), frozenset(("-s", "--silent", "--if-present")), frozenset()),
    "yarn": (frozenset(("test", "run", "build", "lint")), frozenset(("-s", "--silent")), frozenset()),
    "pnpm": (frozenset(("test", "run", "build", "lint")), frozenset(("-s", "--silent")), frozenset()),
    "cargo": (
        frozenset(("test", "build", "check", "clippy")),
        frozenset(
            ["--release", "--all", "--workspace", "--lib", "--bins", "--tests", "--all-targets", "--all-features", "--no-default-features", "--offline", "--locked", "--frozen", "--no-fail-fast", "--doc"]
        ),
        frozenset(["-p", "--package", "--features", "-F", "-j", "--jobs", "--test", "--bin", "--example"]),
    ),
    "go": (
        frozenset(("test", "build", "vet")),
        frozenset(["-race", "-short", "-cover", "-failfast"]),
        frozenset(["-run", "-count", "-timeout", "-p"]),
    ),
    "ctest": (frozenset(), frozenset(("--output-on-failure",)), frozenset(("-j", "-R"))),
    "rspec": (frozenset(), frozenset(), frozenset()),
    "phpunit": (frozenset(), frozenset(), frozenset()),
}  # fmt: skip
"""The test, build and lint runs vouched for, with the only options they may take: anything else (an
option that names a config file, a plugin, a temporary folder, a wrapper; a deploy or install target)
is asked. A dict of option lists instead of a parser of each tool's options: what is not listed fails
closed."""
_SCRIPT_NAME = re.compile(r"(test|build|lint|check)([:._-][\w:.-]*)?")
"""The ``npm run``/``yarn``/``pnpm`` script names vouched for."""
_AFTER_DASHES = frozenset(
    [
        "--nocapture",
        "--ignored",
        "--include-ignored",
        "--exact",
        "--show-output",
        "--test-threads=1",
        "-q",
        "--quiet",
    ]
)
_PY_MODULES = frozenset(
    ["pytest", "unittest", "tox", "nox", "mypy", "ruff", "flake8", "pylint", "black", "isort"]
)
_PY_FLAGS = frozenset(["-u", "-B", "-O", "-OO", "-q", "-b", "-bb"])


def _options_ok(
    args: list[str], flags: frozenset[str], values: frozenset[str], prog: str
) -> list[str] | None:
    """The positional words of ``args`` when every option is a listed flag or a listed option with
    its value (None when one is not)."""
    out: list[str] = []
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--":
            rest = args[i + 1 :]
            if prog not in ("cargo", "npm", "yarn", "pnpm") or any(
                r.startswith("-") and r not in _AFTER_DASHES for r in rest
            ):
                return None
            return out + [r for r in rest if not r.startswith("-")]
        if a.startswith(("@", "+")):
            return None  # options read from a file (pytest @args), a toolchain override (cargo +nightly)
        if not a.startswith("-") or a == "-":
            out.append(a)
        elif a in flags or a in _FLAGS or (re.fullmatch(r"-j\d+", a) and "-j" in values):
            pass
        else:
            name, eq, value = a.partition("=")
            if name not in values:
                return None
            if not eq:
                i += 1
                value = args[i] if i < len(args) else ""
            if name == "-p" and prog == "pytest" and not value.startswith("no:"):
                return None  # a plugin: only switching one off
            if not value or value.startswith("-"):
                return None
        i += 1
    return out


def _runner(prog: str, args: list[str]) -> bool:
    """Whether ``prog args`` is a test, build or lint run with only listed options and targets."""
    if args in (["--version"], ["-V"]) or (prog == "go" and args == ["version"]):
        return prog.startswith("python") or prog in ("node", "npm", "cargo", "rustc", "go", "make", "pip")
    if prog.startswith("python"):
        i = 0
        while i < len(args) and args[i] in _PY_FLAGS:
            i += 1
        if args[i : i + 1] != ["-m"] or len(args) < i + 2 or args[i + 1] not in _PY_MODULES:
            return False  # a script: it may do anything (deploy, flush a database, upload)
        prog, args = args[i + 1], args[i + 2 :]
    if prog == "py.test":
        prog = "pytest"
    spec = _RUNNERS.get(prog)
    if spec is None:
        return False
    subs, flags, values = spec
    pos = _options_ok(args, flags, values, prog)
    if pos is None:
        return False
    if prog == "make":
        return all(p in subs for p in pos) and all("=" not in p for p in pos)
    if prog in ("npm", "yarn", "pnpm"):
        first, rest = (pos[0], pos[1:]) if pos else ("", [])
        if first in ("run", "run-script"):
            return bool(rest) and _SCRIPT_NAME.fullmatch(rest[0]) is not None
        return first in subs or (prog != "npm" and _SCRIPT_NAME.fullmatch(first) is not None)
    if prog in ("cargo", "go"):
        if not pos or pos[0] not in subs:
            return False
        return prog != "go" or all(p.startswith(".") for p in pos[1:])  # only local packages
    return not subs or (bool(pos) and pos[0] in subs)
