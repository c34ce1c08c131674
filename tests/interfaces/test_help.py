"""Every command's --help is written for users: no markup or references to the source."""

from __future__ import annotations

import subprocess
import sys

from tokenomy.interfaces.cli import build_parser

_FORBIDDEN = ("``", ".py", "issue", "TODO")


def _commands(parser: object, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = [prefix]
    subs = getattr(parser, "_subparsers", None)
    if subs is not None:
        for action in subs._group_actions:
            for name, child in getattr(action, "choices", {}).items():
                out += _commands(child, (*prefix, name))
    return out


def test_every_help_page_is_plain_user_text() -> None:
    commands = _commands(build_parser())
    assert ("audit",) in commands and ("agent", "tau") in commands
    bad: list[str] = []
    for cmd in commands:
        res = subprocess.run(
            [sys.executable, "-m", "tokenomy.interfaces.cli", *cmd, "--help"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert res.returncode == 0, (cmd, res.stderr)
        text = res.stdout
        bad += [f"{' '.join(cmd) or 'tokenomy'}: {w!r}" for w in _FORBIDDEN if w.lower() in text.lower()]
    assert not bad, bad


def test_command_groups_describe_themselves() -> None:
    for cmd in ("audit", "agent", "route", "serve", "economy", "ledger", "demo"):
        res = subprocess.run(
            [sys.executable, "-m", "tokenomy.interfaces.cli", cmd, "--help"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert "Example" in res.stdout, cmd
