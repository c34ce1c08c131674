"""A wrong flag or value is one line on stderr naming the command, the problem and where help is."""

from __future__ import annotations

import pytest

from tokenomy.interfaces.cli import main


@pytest.mark.parametrize(
    ("argv", "names"),
    [
        (
            ["serve", "simulate", "--trace", "x", "--limit", "abc"],
            ("tokenomy serve simulate", "--limit", "abc"),
        ),
        (["ledger", "summary"], ("tokenomy ledger summary", "file")),
        (["nosuch"], ("tokenomy", "nosuch")),
        (["route", "eval", "--bogus"], ("--bogus",)),
    ],
)
def test_a_bad_command_line_is_one_line_with_the_problem_and_the_help_to_read(
    argv: list[str], names: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert "usage:" not in err
    assert "--help" in err
    for name in names:
        assert name in err


def test_ctrl_c_is_one_line_and_status_130_and_other_errors_are_not_taken_for_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tokenomy.interfaces import cli

    def boom(_argv: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_main", boom)
    assert cli.main([]) == 130
    assert "interrupted" in capsys.readouterr().err
    monkeypatch.setattr(cli, "_main", lambda _argv: (_ for _ in ()).throw(RuntimeError("other")))
    with pytest.raises(RuntimeError, match="other"):
        cli.main([])  # any other error is not taken for an interrupt
