"""Bad inputs of route, agent, rl and economy: ignored flags, undefined figures, unbounded prices.

A flag that only acts with another one (or that another one overrides) is refused with one line
naming both, before any data is read; an undefined figure (gap recovered when the best fixed model
already matches the oracle) is "-" in the table with a note and null in JSON; USD price flags are
bounded so no figure overflows; tokens to target are shown as censored at the budget, never with a
negative CI bound; each range error states the range that is enforced.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

from tokenomy.core.errors import ValidationError
from tokenomy.interfaces.cli import main

NOPE = "/nonexistent/tokenomy-data"


def _err_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.startswith("tokenomy")]
    assert len(lines) == 1, err
    return lines[0]


def _exit_code(argv: list[str]) -> int:
    """``main``'s code, also when argparse refuses a flag (SystemExit)."""
    try:
        return main(argv)
    except SystemExit as exc:
        return int(str(exc.code))


# -- a flag that has no effect is refused, naming it and the flag it depends on ---------------------


@pytest.mark.parametrize(
    ("argv", "flag", "other"),
    [
        (["route", "eval", "--router", NOPE, "--estimator", "knn"], "--estimator", "--router"),
        (["route", "eval", "--router", NOPE, "--estimator", "neighbours"], "--estimator", "--router"),
        (["route", "eval", "--router", NOPE, "--prices", "none"], "--prices", "--router"),
        (["route", "eval", "--router", NOPE, "--encoder", "all-MiniLM-L6-v2"], "--encoder", "--router"),
        (["route", "eval", "--router", NOPE, "--encoder-backend", "numpy"], "--encoder-backend", "--router"),
        (["route", "eval", "--encoder-backend", "numpy"], "--encoder-backend", "--encoder"),
        (["route", "eval", "--cross-data", NOPE], "--cross-data", "--split cross"),
        (["route", "eval", "--split", "lobo", "--cross-data", NOPE], "--cross-data", "--split cross"),
        (["route", "eval", "--split", "lobo", "--no-longtail"], "--no-longtail", "--split"),
        (["route", "eval", "--split", "lobo", "--compare-estimators", "all"], "--compare-estimators", "--split"),
        (["route", "eval", "--split", "cross", "--cross-data", NOPE, "--prices", "packaged"], "--prices", "--split cross"),
        (["route", "eval", "--split", "cross", "--cross-data", NOPE, "--test-share", "0.5"], "--test-share", "--split cross"),
        (["route", "save", "--out", NOPE, "--encoder-backend", "numpy"], "--encoder-backend", "--encoder"),
        (["route", "menu", "--V-dist", "v.csv", "--samples", "10"], "--samples", "--V-dist"),
        (["route", "menu", "--V-dist", "v.csv", "--seed", "3"], "--seed", "--V-dist"),
    ],
)  # fmt: skip
def test_a_flag_without_effect_is_refused_before_the_data_is_read(
    capsys: pytest.CaptureFixture[str], argv: list[str], flag: str, other: str
) -> None:
    assert main([*argv, "--data", NOPE]) == 2
    line = _err_line(capsys)
    assert flag in line and other in line, line
    assert NOPE not in line, line  # refused before the data path was looked at
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    "argv",
    [
        ["route", "eval", "--router", NOPE],
        ["route", "eval", "--encoder", "all-MiniLM-L6-v2", "--encoder-backend", "numpy"],
        ["route", "eval", "--split", "cross", "--cross-data", NOPE],
        ["route", "menu", "--samples", "10", "--seed", "3"],
    ],
)
def test_flags_that_act_together_pass_the_check(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    assert main([*argv, "--data", NOPE]) == 2  # the data is missing: the flags themselves were accepted
    line = _err_line(capsys)
    assert "has no effect" not in line and "needs" not in line, line


def test_refuse_ignored_passes_flags_that_were_not_given() -> None:
    from tokenomy.interfaces.args import refuse_ignored

    refuse_ignored(("--a", None, "needs --b"), ("--c", False, "needs --d"))
    with pytest.raises(ValidationError, match=r"^--c needs --d$"):
        refuse_ignored(("--a", None, "needs --b"), ("--c", 0.0, "needs --d"))


# -- an undefined gap recovered is "-" with a note, null in JSON -------------------------------------


def test_gap_recovered_without_a_gap_is_a_dash_with_a_note(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], need_data: object
) -> None:
    data = need_data("routing", "routerbench_slice")  # type: ignore[operator]
    out = tmp_path / "r.json"
    argv = [
        "route", "eval", "--data", str(data), "--policies", "tokenomy", "--no-longtail", "--boot", "10",
        "--estimator", "prior", "--V", "1e-30", "--json", str(out),
    ]  # fmt: skip
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "nan" not in text.lower().replace("nanos", ""), text
    row = next(line for line in text.splitlines() if line.lstrip().startswith("1e-30"))
    assert row.split()[-1] == "-", row
    notes = [line for line in text.splitlines() if "gap_recovered" in line and line.startswith("note")]
    assert len(notes) == 1 and "oracle" in notes[0], text
    result = json.loads(out.read_text())["results"][0]
    assert result["gap_recovered"] is None


# -- USD prices are bounded: one line stating the range, no overflow at the bound ---------------------


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (["agent", "tau", "--folds", "2", "--rho", "1e308"], "--rho"),
        (["agent", "tau", "--folds", "2", "--rho", "1", "--V", "1e308"], "--V"),
        (["agent", "eval", "--folds", "2", "--V", "1e308"], "--V"),
        (["agent", "eval", "--folds", "2", "--rho", "1e308"], "--rho"),
        (["route", "eval", "--V", "1e308"], "--V"),
        (["route", "eval", "--lam", "1e308"], "--lam"),
        (["route", "eval", "--rho", "1e10"], "--rho"),
    ],
)
def test_a_usd_price_above_the_bound_is_one_line_stating_the_range(
    capsys: pytest.CaptureFixture[str], argv: list[str], flag: str
) -> None:
    assert _exit_code([*argv, "--data", NOPE]) == 2
    line = _err_line(capsys)
    assert flag in line and "1e+09" in line, line
    assert NOPE not in line, line


def test_agent_tau_at_the_price_bound_gives_finite_figures_without_warnings(
    capsys: pytest.CaptureFixture[str], need_data: object
) -> None:
    data = need_data("agent")  # type: ignore[operator]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a numpy overflow warning fails the test
        argv = ["agent", "tau", "--data", str(data.parent), "--folds", "2", "--rho", "1e9", "--V", "1e9"]
        assert main(argv) == 0
    text = capsys.readouterr().out
    words = text.lower().replace(",", " ").split()
    assert "nan" not in words and "inf" not in words and "-inf" not in words, text
