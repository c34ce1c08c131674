"""The ``tokenomy`` command line: one sub-command per module listed in ``COMMANDS``.

Each command module defines ``register(subparsers)``, which adds its parser and sets ``func`` to a
``run(args) -> dict`` that returns JSON-ready results; this file adds ``--json PATH`` to every command
and writes those results there (its path checked before the command runs; a command that writes a
ledger writes the JSON itself, before the ledger), and ``--version`` to the top level. Errors from tokenomy's hierarchy,
and an output the disk refused, print as one line and exit 2.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from tokenomy import __version__
from tokenomy.interfaces.args import GIVEN, state_ranges

if TYPE_CHECKING:
    from tokenomy.interfaces.outputs import write_json

__all__ = ["COMMANDS", "build_parser", "main", "write_json"]

COMMANDS = (
    "tokenomy.interfaces.cmd_demo",
    "tokenomy.interfaces.cmd_ledger",
    "tokenomy.interfaces.cmd_route",
    "tokenomy.interfaces.cmd_serve",
    "tokenomy.interfaces.cmd_audit",
    "tokenomy.interfaces.cmd_agent",
    "tokenomy.interfaces.cmd_economy",
    "tokenomy.interfaces.cmd_gateway",
    "tokenomy.interfaces.cmd_rl",
)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line: what is wrong, and where the options are listed.

    argparse prints the whole usage block above the error; a newcomer then has to find the one line
    that matters. Sub-command parsers inherit this class (``add_subparsers`` uses the parent's type).
    """

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every available command registered."""
    parser = _Parser(
        prog="tokenomy",
        description="Spend each LLM token where it pays: value of the quality gained minus cost, latency "
        "and risk (V·ΔQ − ΔC − λ·ΔL − ρ·ΔR). Run `tokenomy COMMAND --help` for one command.",
    )
    parser.add_argument("--version", action="version", version=f"tokenomy {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        if importlib.util.find_spec(name) is None:
            continue
        module = importlib.import_module(name)
        before = set(sub.choices)
        module.register(sub)
        for cmd in set(sub.choices) - before:
            _add_json(sub.choices[cmd])
    _once_each(parser)
    state_ranges(parser)
    return parser


_ONCE_CLASSES: dict[type[argparse.Action], type[argparse.Action]] = {}
_MANY = (
    argparse._AppendAction,
    argparse._AppendConstAction,
    argparse._CountAction,
    argparse._ExtendAction,
    argparse._HelpAction,
    argparse._VersionAction,
    argparse._SubParsersAction,
)


def _once(cls: type[argparse.Action]) -> type[argparse.Action]:
    """``cls`` refusing a second use of its option in one command line (the last would silently win)."""
    if cls not in _ONCE_CLASSES:

        class Once(cls):  # type: ignore[valid-type,misc]
            def __call__(
                self,
                parser: argparse.ArgumentParser,
                namespace: argparse.Namespace,
                values: Any,
                option_string: str | None = None,
            ) -> None:
                seen = namespace.__dict__.setdefault(GIVEN, {})
                if self.dest in seen:
                    first = seen[self.dest]
                    what = option_string if first == option_string else f"{first} and {option_string}"
                    parser.error(f"{what}: given twice (the last would silently win); give it once")
                seen[self.dest] = option_string
                super().__call__(parser, namespace, values, option_string)

        Once.__name__ = f"Once{cls.__name__}"
        _ONCE_CLASSES[cls] = Once
    return _ONCE_CLASSES[cls]


def _once_each(parser: argparse.ArgumentParser) -> None:
    """Every single-valued option of ``parser`` and its sub-commands may be given once per command line."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in {id(c): c for c in action.choices.values()}.values():
                _once_each(child)
        elif action.option_strings and not isinstance(action, _MANY):
            action.__class__ = _once(type(action))


def _add_json(parser: argparse.ArgumentParser) -> None:
    if parser._subparsers is not None:  # a command group: every leaf gets --json, the group none
        for action in parser._subparsers._group_actions:
            for child in getattr(action, "choices", {}).values():
                _add_json(child)
        return
    if not any("--json" in a.option_strings for a in parser._actions):
        parser.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")


def _option_names(parser: argparse.ArgumentParser) -> dict[str, str]:
    """argparse dest -> the option that sets it (``--trace``), or the positional's name (``file``)."""
    names: dict[str, str] = {}
    for action in parser._actions:
        for child in getattr(action, "choices", None) or {}:
            sub = action.choices[child] if isinstance(action.choices, dict) else None
            if isinstance(sub, argparse.ArgumentParser):
                names.update(_option_names(sub))
        if action.dest not in names:
            names[action.dest] = (
                action.option_strings[-1] if action.option_strings else f"argument {action.dest}"
            )
    return names


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``tokenomy`` script; returns the exit status (130 after Ctrl-C)."""
    try:
        return _main(argv)
    except KeyboardInterrupt:  # outputs are atomic and ledger steps transactions: nothing half-written
        # (the ledger raises Ctrl-C during a DuckDB query as KeyboardInterrupt too: ledger.locking)
        print(
            "\ntokenomy: interrupted; unfinished outputs not written, the ledger as it was", file=sys.stderr
        )
        return 130


def __getattr__(name: str) -> Any:
    """``write_json`` is re-exported from ``outputs``, imported on first use (startup stays instant)."""
    if name == "write_json":
        from tokenomy.interfaces.outputs import write_json

        return write_json
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _main(argv: Sequence[str] | None) -> int:
    # imported here, not at the top: until main runs, Ctrl-C would print Python's own traceback
    from tokenomy.core.errors import TokenomyError
    from tokenomy.interfaces.outputs import (
        check_inputs_readable,
        check_ledger_arg,
        check_output_path,
        check_outputs_apart,
        write_json,
    )

    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 0 if args.command is None else 2
    try:
        names = _option_names(parser)
        check_inputs_readable(args, names)  # a FIFO or device input would block; '' would write nothing
        check_output_path(getattr(args, "json", None), "--json")
        check_outputs_apart(args, names)  # no output may overwrite an input or ledger
        check_ledger_arg(args)  # a damaged ledger is named before any output is written
        result = func(args)
        if getattr(args, "json", None) and not getattr(args, "json_written", False):
            write_json(args.json, result)
            print(f"wrote {args.json}")
    except TokenomyError as exc:
        print(f"tokenomy: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # stdout closed early (`| head`): stop quietly, nothing more to print
        _silence_stdout()
        if any(getattr(args, k, None) for k in ("json", "report", "out", "ledger")):
            print("tokenomy: stdout closed early; unfinished outputs not written", file=sys.stderr)
        return 141  # 128 + SIGPIPE, as a shell reports a pipe writer stopped by its reader
    except OSError as exc:  # the disk refused an output after the checks (full, removed meanwhile)
        print(f"tokenomy: error: cannot write {exc.filename!r}: {exc.strerror}", file=sys.stderr)
        return 2
    return 0


def _silence_stdout() -> None:
    """Point stdout at the null device, so the interpreter's final flush raises no second error."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout without a file descriptor (captured): nothing to flush
        pass


if __name__ == "__main__":
    raise SystemExit(main())
