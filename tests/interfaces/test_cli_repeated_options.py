"""A single-valued option given twice is refused before anything runs (argparse lets the last one win)."""

from __future__ import annotations

import argparse

import pytest

from tokenomy.interfaces.cli import build_parser, main


@pytest.mark.parametrize(
    "argv",
    [
        ["route", "eval", "--V", "0.01", "--V", "0.02"],
        ["route", "eval", "--V=0.01", "--V", "0.02"],
        ["route", "eval", "--json", "a.json", "--json", "b.json"],
        ["serve", "simulate", "--trace", "azure-conv", "--trace", "azure-code"],
        ["rl", "run", "--seeds", "2", "--seeds", "3"],
        ["ledger", "summary", "x.duckdb", "--json", "a.json", "--json", "b.json"],
    ],
)
def test_an_option_given_twice_is_refused(
    argv: list[str],
    capsys: pytest.CaptureFixture[str],
    tmp_path: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)  # type: ignore[arg-type]
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "given twice" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not list(tmp_path.iterdir())  # type: ignore[attr-defined]


def test_once_each_option_still_parses() -> None:
    args = build_parser().parse_args(["route", "eval", "--V", "0.01,0.02", "--boot", "1000"])
    assert vars(args)["options_given"] == {"v": "--V", "boot": "--boot"}


def _leaves(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    out = [parser]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in {id(c): c for c in action.choices.values()}.values():
                out += _leaves(child)
    return out


def test_every_bounded_option_states_its_range_in_help() -> None:
    checked = 0
    for parser in _leaves(build_parser()):
        for action in parser._actions:
            text = getattr(action.type, "range_text", None)
            if text and action.help != argparse.SUPPRESS:
                numbers = [
                    b.replace(",", "") for b in text.replace(",", " ").split() if any(c.isdigit() for c in b)
                ]
                assert all(n in (action.help or "").replace(",", "") for n in numbers), (
                    action.dest,
                    action.help,
                )
                checked += 1
    assert checked > 50
